"""Cross-entropy, the baseline every robust method is compared with.

The reduction helpers here are shared by the other methods, so that a selecting method that
keeps every example reduces exactly as the baseline does and matches it bit for bit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustlib.methods.base import Method, StepOutput

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    """Raise ValueError unless ``reduction`` is one of ``"mean"``, ``"sum"``, ``"none"``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; use one of {', '.join(REDUCTIONS)}")


def per_example_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Return the ``(B,)`` cross-entropy of each example.

    Half-precision logits are upcast to float32 for a stable log-softmax. Float32 and float64
    logits keep their dtype, so tests can compare float64 results with hand-computed values.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` int64 class indices in ``[0, C)``.
    """
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    return F.cross_entropy(logits, targets, reduction="none")


def reduce_kept(values: Tensor, reduction: str, kept: Tensor | None = None) -> Tensor:
    """Reduce ``(B,)`` per-example losses over the kept examples.

    Args:
        values: ``(B,)`` per-example losses.
        reduction: ``"mean"``: mean over the kept examples (``values.mean()`` when all are
            kept, the baseline's reduction). ``"sum"``: sum over the kept examples.
            ``"none"``: the ``(B,)`` losses with dropped examples set to 0.
        kept: ``(K,)`` int64 positions of the kept examples; None keeps all.
    """
    check_reduction(reduction)
    if kept is None:
        return reduce(values, reduction)
    if reduction == "none":
        return torch.zeros_like(values).index_copy(0, kept, values[kept])
    return reduce(values[kept], reduction)


def reduce(values: Tensor, reduction: str) -> Tensor:
    """Return ``values.mean()``, ``values.sum()`` or ``values`` for ``"mean"``, ``"sum"``, ``"none"``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def cross_entropy(logits: Tensor, targets: Tensor, *, reduction: str = "mean") -> Tensor:
    """Return the cross-entropy of ``(B, C)`` logits against ``(B,)`` int64 targets.

    ``reduction`` is ``"mean"`` (a scalar, the baseline's loss), ``"sum"`` or ``"none"``
    (the ``(B,)`` per-example values).
    """
    return reduce_kept(per_example_cross_entropy(logits, targets), reduction)


class CrossEntropy(Method):
    """The baseline: mean cross-entropy over the batch. It takes no hyperparameters."""

    name = "ce"

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
        loss = cross_entropy(logits, targets)
        return StepOutput(loss=loss, logits=logits.detach(), selected=None)
