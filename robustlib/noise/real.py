"""Real label noise: the noisy labels a dataset ships with, such as AlleNoise's seller categories."""

from __future__ import annotations

import numpy as np

from robustlib.data.errors import DataError
from robustlib.noise.base import NoiseResult, check_labels


def real(labels: np.ndarray, noisy_labels: np.ndarray | None, *, num_classes: int) -> NoiseResult:
    """Report the dataset's own noisy labels as a NoiseResult.

    There is no rate to set: the realised rate is whatever share of the dataset's labels is
    wrong (about 15% for AlleNoise).

    Args:
        labels: ``(N,)`` int64 clean (verified) labels in ``[0, C)``.
        noisy_labels: ``(N,)`` int64 labels with the dataset's real noise, in ``[0, C)``.
        num_classes: ``C``.

    Returns:
        A NoiseResult with ``noisy_labels`` as given.

    Raises:
        DataError: If ``noisy_labels`` is None or does not match ``labels`` in length.
    """
    labels = check_labels(labels, num_classes)
    if noisy_labels is None:
        raise DataError("real noise needs the dataset's noisy labels, but it has none; load a dataset with noisy labels")
    noisy_labels = check_labels(noisy_labels, num_classes, name="noisy_labels")
    if noisy_labels.size != labels.size:
        raise DataError(f"got {labels.size} labels but {noisy_labels.size} noisy labels")
    return NoiseResult.from_labels(labels, noisy_labels, num_classes)
