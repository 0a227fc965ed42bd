"""The result type every label-noise generator returns, and the input checks they share."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robustlib.data.errors import DataError


@dataclass(frozen=True, eq=False)
class NoiseResult:
    """Noisy labels and what the noise did.

    Attributes:
        noisy_labels: ``(N,)`` int64 labels after the noise.
        changed: ``(N,)`` bool, True where the noisy label differs from the clean one.
        realised_rate: Share of examples whose label changed, ``changed.mean()``.
        transition: ``(C, C)`` float64 empirical transition matrix: row ``i`` is the
            distribution of noisy labels among examples whose clean label is ``i``. Rows of
            classes absent from the input are all zero; every other row sums to 1.
    """

    noisy_labels: np.ndarray
    changed: np.ndarray
    realised_rate: float
    transition: np.ndarray

    @classmethod
    def from_labels(cls, labels: np.ndarray, noisy_labels: np.ndarray, num_classes: int) -> "NoiseResult":
        """Build the result from ``(N,)`` clean and noisy labels in ``[0, num_classes)``."""
        noisy_labels = np.asarray(noisy_labels, dtype=np.int64)
        changed = noisy_labels != labels

        counts = np.zeros((num_classes, num_classes), dtype=np.float64)
        np.add.at(counts, (labels, noisy_labels), 1.0)
        totals = counts.sum(axis=1, keepdims=True)
        transition = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

        return cls(
            noisy_labels=noisy_labels,
            changed=changed,
            realised_rate=float(changed.mean()),
            transition=transition,
        )


def check_labels(labels: np.ndarray, num_classes: int, *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a ``(N,)`` int64 array after checking it.

    Raises:
        DataError: If ``num_classes < 2``, or the labels are empty, not one-dimensional, not
            integers, or outside ``[0, num_classes)``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise DataError(f"num_classes must be an integer of at least 2, got {num_classes!r}")

    array = np.asarray(labels)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise DataError(f"{name} is empty; noise needs at least one example")
    if not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{name} must be integer class indices, got dtype {array.dtype}")

    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= num_classes:
        raise DataError(f"{name} must lie in [0, {num_classes}), got values from {low} to {high}")
    return array.astype(np.int64)


def check_rate(rate: float) -> float:
    """Return ``rate`` as a float after checking that it lies in ``[0, 1)``.

    Raises:
        DataError: If the rate is not a real number in ``[0, 1)``.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise DataError(f"noise rate must be a number in [0, 1), got {rate!r}")
    rate = float(rate)
    if not (math.isfinite(rate) and 0.0 <= rate < 1.0):
        raise DataError(f"noise rate must lie in [0, 1), got {rate}")
    return rate


def exact_count(rate: float, n: int) -> int:
    """``round(rate * n)`` with halves rounded up (Python's ``round`` rounds halves to even)."""
    # The 1e-9 absorbs float error, so that 0.7 * 5 = 3.4999999999999996 counts as the half it is.
    return int(math.floor(rate * n + 0.5 + 1e-9))
