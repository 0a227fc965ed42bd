"""Pair-flip noise: labels of class ``k`` move to class ``(k + 1) mod C``."""

from __future__ import annotations

import numpy as np

from robustlib.noise.base import NoiseResult, check_labels, check_rate, exact_count


def pairflip(labels: np.ndarray, rate: float, *, num_classes: int, seed: int) -> NoiseResult:
    """Move exactly ``round(rate * n_k)`` examples of each class ``k`` to class ``(k + 1) mod C``.

    The examples of each class are drawn uniformly without replacement, class by class in
    index order from one ``numpy.random.Generator``. Halves round up. Because the count is
    rounded per class, the realised rate can differ slightly from ``rate`` overall.

    Args:
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        rate: Share of each class to move, in ``[0, 1)``.
        num_classes: ``C``, at least 2.
        seed: Seed of a ``numpy.random.Generator``.

    Returns:
        A NoiseResult; row ``k`` of its transition matrix is non-zero only at ``k`` and ``k + 1``.

    Raises:
        DataError: On invalid labels or rate.
    """
    labels = check_labels(labels, num_classes)
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)

    noisy = labels.copy()
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=num_classes))])
    for k in range(num_classes):
        members = order[starts[k]:starts[k + 1]]
        chosen = rng.choice(members, size=exact_count(rate, members.size), replace=False)
        noisy[chosen] = (k + 1) % num_classes
    return NoiseResult.from_labels(labels, noisy, num_classes)
