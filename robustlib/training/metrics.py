"""Metrics of a run under label noise.

All functions take NumPy arrays or tensors of equal length ``N`` and return Python floats.
A share over an empty set is ``nan``: the quantity is undefined (for instance the memorisation
of a run without noise), and ``nan`` keeps it out of means instead of counting it as zero.
"""

from __future__ import annotations

import math

import numpy as np


def _as_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def accuracy(predictions, labels, mask=None) -> float:
    """Return the share of ``predictions`` equal to ``labels`` where ``mask`` is True."""
    predictions, labels = _as_numpy(predictions), _as_numpy(labels)
    if mask is not None:
        mask = _as_numpy(mask).astype(bool)
        predictions, labels = predictions[mask], labels[mask]
    if predictions.size == 0:
        return math.nan
    return float((predictions == labels).mean())


def corrupted_shares(predictions, clean_labels, noisy_labels, corrupted) -> tuple[float, float]:
    """Measure where the predictions on corrupted examples go.

    Returns:
        ``(true_share, noisy_share)``: among examples with ``corrupted`` True, the share predicted
        as their clean label and the share predicted as their noisy label. On training examples
        a rising ``noisy_share`` is memorisation of the wrong labels (Arpit et al., 2017).
    """
    corrupted = _as_numpy(corrupted).astype(bool)
    return (
        accuracy(predictions, clean_labels, corrupted),
        accuracy(predictions, noisy_labels, corrupted),
    )


def detection_scores(dropped_and_corrupted: int, dropped: int, corrupted: int) -> tuple[float, float]:
    """Score a method's selection as a noise detector: precision and recall.

    An example the method dropped, clipped or down-weighted counts as "flagged as noisy".

    Args:
        dropped_and_corrupted: Flagged examples whose label really was corrupted.
        dropped: All flagged examples.
        corrupted: All corrupted examples the method saw.

    Returns:
        ``(precision, recall)``; precision is ``nan`` when nothing was flagged and recall is
        ``nan`` when nothing was corrupted.
    """
    precision = dropped_and_corrupted / dropped if dropped else math.nan
    recall = dropped_and_corrupted / corrupted if corrupted else math.nan
    return precision, recall


def best_epoch(values) -> int:
    """Return the index of the first maximum of ``values``, ignoring ``nan``."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        raise ValueError("best_epoch needs at least one recorded value that is not nan")
    return int(np.nanargmax(values))
