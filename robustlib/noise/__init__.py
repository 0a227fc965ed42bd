"""Label-noise generators: clean labels in, noisy labels and a record of the noise out.

Each generator is a plain function of the clean labels, a rate, a seed and, where needed, a
taxonomy or classifier scores. ``apply_noise`` picks one by name. Noise belongs on the training
and validation labels only, so that the test set measures accuracy against the truth: the
caller applies it to those two splits and leaves the test split clean.

Kinds (``NOISE_KINDS``):

- ``none``: labels unchanged. The rate must be 0 or None, because a non-zero rate with no
  noise is a configuration mistake.
- ``symmetric`` and ``symmetric_uniform``: see ``robustlib.noise.symmetric``.
- ``pairflip``: class ``k`` to ``k + 1``.
- ``nested``: to a sibling class in the taxonomy.
- ``instance``: to the wrong class a classifier finds most probable; needs ``scores``.
- ``real``: the dataset's own noisy labels; the rate is ignored.
"""

from __future__ import annotations

import logging

import numpy as np

from robustlib.data.dataset import Taxonomy
from robustlib.data.errors import DataError
from robustlib.noise.base import NoiseResult, check_labels
from robustlib.noise.instance import confusion_scores, instance
from robustlib.noise.nested import nested
from robustlib.noise.pairflip import pairflip
from robustlib.noise.real import real
from robustlib.noise.symmetric import symmetric, symmetric_uniform

logger = logging.getLogger(__name__)

NOISE_KINDS = ("none", "symmetric", "symmetric_uniform", "pairflip", "nested", "instance", "real")


def apply_noise(
    kind: str,
    labels: np.ndarray,
    rate: float | None,
    *,
    num_classes: int,
    seed: int,
    taxonomy: Taxonomy | None = None,
    scores: np.ndarray | None = None,
    noisy_labels: np.ndarray | None = None,
) -> NoiseResult:
    """Apply the noise ``kind`` to ``labels``.

    Args:
        kind: One of ``NOISE_KINDS``.
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        rate: Share of labels to corrupt, in ``[0, 1)``. Must be 0 or None for ``none``;
            ignored (may be None) for ``real``.
        num_classes: ``C``.
        seed: Seed of the generator's ``numpy.random.Generator``.
        taxonomy: Class paths, for ``nested``.
        scores: ``(N, C)`` class probabilities, for ``instance`` (see ``confusion_scores``).
        noisy_labels: ``(N,)`` the dataset's noisy labels, for ``real``.

    Returns:
        The generator's NoiseResult.

    Raises:
        DataError: If ``kind`` is unknown (the message lists the allowed kinds), an input the
            kind needs is missing, or an input is invalid.
    """
    if kind not in NOISE_KINDS:
        raise DataError(f"unknown noise kind {kind!r}; allowed kinds: {', '.join(NOISE_KINDS)}")

    if kind == "none":
        if rate not in (None, 0):
            raise DataError(f"noise kind 'none' takes rate 0 or None, got {rate!r}; pick a noise kind or set rate to 0")
        labels = check_labels(labels, num_classes)
        return NoiseResult.from_labels(labels, labels.copy(), num_classes)
    if kind == "real":
        result = real(labels, noisy_labels, num_classes=num_classes)
        if rate is not None:
            logger.info("real noise ignores rate %s; the dataset's realised rate is %.4f", rate, result.realised_rate)
        return result

    if rate is None:
        raise DataError(f"noise kind {kind!r} needs a rate in [0, 1), got None")
    if kind == "symmetric":
        return symmetric(labels, rate, num_classes=num_classes, seed=seed)
    if kind == "symmetric_uniform":
        return symmetric_uniform(labels, rate, num_classes=num_classes, seed=seed)
    if kind == "pairflip":
        return pairflip(labels, rate, num_classes=num_classes, seed=seed)
    if kind == "nested":
        return nested(labels, rate, num_classes=num_classes, taxonomy=taxonomy, seed=seed)

    if scores is None:
        raise DataError("noise kind 'instance' needs scores: compute them with robustlib.noise.confusion_scores")
    if np.shape(scores)[-1] != num_classes:
        raise DataError(f"scores have {np.shape(scores)[-1]} columns but num_classes is {num_classes}")
    return instance(labels, rate, scores=scores, seed=seed)


__all__ = [
    "NOISE_KINDS",
    "NoiseResult",
    "apply_noise",
    "confusion_scores",
    "instance",
    "nested",
    "pairflip",
    "real",
    "symmetric",
    "symmetric_uniform",
]
