"""Symmetric label noise: a corrupted label moves to another class chosen uniformly.

Two variants exist in the literature and give different real flip rates for the same ``rate``:

- ``symmetric`` (the study's default, as in the marketplace's experiment): exactly
  ``round(rate * N)`` examples are corrupted, and each gets a class other than its own.
- ``symmetric_uniform`` (as in much reference code): each example is corrupted with probability
  ``rate`` and gets a class drawn uniformly from all ``C``, its own included, so the expected
  share of changed labels is ``rate * (C - 1) / C``.
"""

from __future__ import annotations

import numpy as np

from robustlib.noise.base import NoiseResult, check_labels, check_rate, exact_count


def symmetric(labels: np.ndarray, rate: float, *, num_classes: int, seed: int) -> NoiseResult:
    """Move exactly ``round(rate * N)`` labels, each to a different class chosen uniformly.

    The examples are drawn uniformly without replacement; each one's new class is drawn
    uniformly from the ``C - 1`` other classes. Halves round up.

    Args:
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        rate: Share of examples to corrupt, in ``[0, 1)``.
        num_classes: ``C``, at least 2.
        seed: Seed of a ``numpy.random.Generator``.

    Returns:
        A NoiseResult whose ``realised_rate`` is ``round(rate * N) / N``.

    Raises:
        DataError: On invalid labels or rate.
    """
    labels = check_labels(labels, num_classes)
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)

    chosen = rng.choice(labels.size, size=exact_count(rate, labels.size), replace=False)
    # An offset in [1, C) added modulo C reaches each of the other C - 1 classes once.
    offsets = rng.integers(1, num_classes, size=chosen.size)
    noisy = labels.copy()
    noisy[chosen] = (labels[chosen] + offsets) % num_classes
    return NoiseResult.from_labels(labels, noisy, num_classes)


def symmetric_uniform(labels: np.ndarray, rate: float, *, num_classes: int, seed: int) -> NoiseResult:
    """Redraw each label with probability ``rate`` uniformly from all classes, its own included.

    Args:
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        rate: Probability of redrawing a label, in ``[0, 1)``.
        num_classes: ``C``, at least 2.
        seed: Seed of a ``numpy.random.Generator``.

    Returns:
        A NoiseResult; ``realised_rate`` is random with mean ``rate * (C - 1) / C``.

    Raises:
        DataError: On invalid labels or rate.
    """
    labels = check_labels(labels, num_classes)
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)

    redrawn = rng.random(labels.size) < rate
    noisy = labels.copy()
    noisy[redrawn] = rng.integers(0, num_classes, size=int(redrawn.sum()))
    return NoiseResult.from_labels(labels, noisy, num_classes)
