"""Taxonomy-nested noise: a corrupted label moves to a sibling class under the same parent.

This models the mistakes people make in a category tree, where a wrong category is usually a
near neighbour of the right one.
"""

from __future__ import annotations

import numpy as np

from robustlib.data.dataset import Taxonomy
from robustlib.data.errors import DataError
from robustlib.noise.base import NoiseResult, check_labels, check_rate, exact_count


def nested(labels: np.ndarray, rate: float, *, num_classes: int, taxonomy: Taxonomy, seed: int) -> NoiseResult:
    """Move exactly ``round(rate * N)`` labels, each to a sibling class chosen uniformly.

    A sibling of class ``k`` is another class with the same parent (``taxonomy.parents``).
    Classes without a sibling are never corrupted, so the ``round(rate * N)`` examples are
    drawn uniformly without replacement from the examples whose class has a sibling, and
    those classes are corrupted more often than ``rate`` to reach the overall count. Halves
    round up.

    Args:
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        rate: Share of all examples to corrupt, in ``[0, 1)``.
        num_classes: ``C``, at least 2; the taxonomy must have exactly ``C`` paths.
        taxonomy: Path of each class.
        seed: Seed of a ``numpy.random.Generator``.

    Returns:
        A NoiseResult whose ``realised_rate`` is ``round(rate * N) / N``.

    Raises:
        DataError: On invalid labels or rate, a taxonomy that does not have one path per
            class, or when fewer than ``round(rate * N)`` examples have a class with a sibling.
    """
    labels = check_labels(labels, num_classes)
    rate = check_rate(rate)
    siblings = _siblings(taxonomy, num_classes)
    rng = np.random.default_rng(seed)

    has_sibling = np.array([len(group) > 0 for group in siblings])
    eligible = np.flatnonzero(has_sibling[labels])
    count = exact_count(rate, labels.size)
    if count > eligible.size:
        raise DataError(
            f"nested noise at rate {rate} needs {count} examples whose class has a sibling in the taxonomy, "
            f"but only {eligible.size} of {labels.size} have one; lower the rate or use a deeper taxonomy"
        )

    chosen = rng.choice(eligible, size=count, replace=False)
    # Group the chosen examples by class, so each class draws from its own siblings at once.
    chosen = chosen[np.lexsort((chosen, labels[chosen]))]
    classes, starts, sizes = np.unique(labels[chosen], return_index=True, return_counts=True)
    noisy = labels.copy()
    for k, start, size in zip(classes, starts, sizes):
        draws = rng.integers(0, siblings[k].size, size=size)
        noisy[chosen[start:start + size]] = siblings[k][draws]
    return NoiseResult.from_labels(labels, noisy, num_classes)


def _siblings(taxonomy: Taxonomy | None, num_classes: int) -> list[np.ndarray]:
    if taxonomy is None:
        raise DataError("nested noise needs a taxonomy, but the dataset has none; load one or pick another noise")
    if len(taxonomy.paths) != num_classes:
        detail = (
            f"classes {len(taxonomy.paths)} to {num_classes - 1} have no path"
            if len(taxonomy.paths) < num_classes
            else f"it has {len(taxonomy.paths) - num_classes} paths too many"
        )
        raise DataError(
            f"the taxonomy does not cover every class: it has {len(taxonomy.paths)} paths for {num_classes} "
            f"classes ({detail}); give one path per class, in label order"
        )

    members: dict[str, list[int]] = {}
    for k, parent in enumerate(taxonomy.parents):
        members.setdefault(parent, []).append(k)
    return [
        np.array([other for other in members[parent] if other != k], dtype=np.int64)
        for k, parent in enumerate(taxonomy.parents)
    ]
