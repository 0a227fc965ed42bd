"""Clipped cross-entropy: each example's loss is capped at a threshold.

The marketplace's method, with no paper behind it: the loss of an example is
``min(CE_i, τ)``. An example whose cross-entropy reaches ``τ`` contributes the constant ``τ``
and no gradient, so the clip acts as a loss-threshold filter. Unlike SPL it drops no fixed
share of the batch, so it needs no estimate of the noise rate.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustlib.methods.base import Method, StepOutput
from robustlib.methods.ce import check_reduction, per_example_cross_entropy, reduce

DEFAULT_THRESHOLD = 4.0


def check_threshold(threshold: float) -> None:
    """Raise ValueError unless ``threshold > 0`` (``math.inf`` is allowed)."""
    if not threshold > 0.0:
        raise ValueError(f"threshold must be > 0 (math.inf disables clipping), got {threshold}")


def clipped_cross_entropy(
    logits: Tensor,
    targets: Tensor,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    reduction: str = "mean",
) -> Tensor:
    """Return ``min(CE_i, threshold)`` per example, reduced over the whole batch.

    Clipped examples still count in the mean's denominator, with the value ``threshold``.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` int64 labels, possibly noisy.
        threshold: ``τ > 0``; an example with ``CE_i >= τ`` gets the value ``τ`` and zero
            gradient. ``math.inf`` gives plain cross-entropy, bit for bit.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the ``(B,)`` clipped values).
    """
    check_threshold(threshold)
    check_reduction(reduction)
    losses = per_example_cross_entropy(logits, targets)
    clipped = torch.where(losses.detach() < threshold, losses, threshold)
    return reduce(clipped, reduction)


class ClippedCrossEntropy(Method):
    """Clipped cross-entropy with a warm-up of plain cross-entropy.

    Args:
        threshold: ``τ > 0``, the cap on each example's cross-entropy. Default 4.0, the
            marketplace's value (``CE = 4`` is a predicted probability of ``e⁻⁴ ≈ 0.018`` for
            the label).
        warmup_epochs: Epochs ``e < warmup_epochs`` train with plain cross-entropy; the
            default 1 (the marketplace's choice) clips from the second epoch on.

    ``selected`` marks the examples with ``CE_i < τ``, which receive a gradient. During the
    warm-up every example receives its full gradient, so ``selected`` is all True.
    """

    name = "cce"

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD, warmup_epochs: int = 1) -> None:
        check_threshold(threshold)
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an int >= 0, got {warmup_epochs!r}")
        self.threshold = threshold
        self.warmup_epochs = warmup_epochs
        self.epoch = 0

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def step(
        self,
        models: list[nn.Module],
        inputs: dict[str, Tensor],
        targets: Tensor,
        index: Tensor,
        *,
        generator: torch.Generator,
    ) -> StepOutput:
        logits = models[0](**inputs)
        losses = per_example_cross_entropy(logits, targets)
        if self.epoch < self.warmup_epochs:
            selected = torch.ones(losses.shape, dtype=torch.bool, device=losses.device)
            return StepOutput(loss=losses.mean(), logits=logits.detach(), selected=selected)

        selected = losses.detach() < self.threshold
        loss = torch.where(selected, losses, self.threshold).mean()
        return StepOutput(loss=loss, logits=logits.detach(), selected=selected)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, warmup_epochs={self.warmup_epochs}"
