"""The result type every label-noise generator returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
