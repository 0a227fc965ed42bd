"""Early-learning regularisation (ELR).

Liu, Niles-Weed, Razavian and Fernandez-Granda, "Early-Learning Regularization Prevents
Memorization of Noisy Labels", NeurIPS 2020. Early in training a network fits the clean labels
first. ELR keeps a running average ``t`` of each training example's past predictions and adds
``λ·log(1 - ⟨t, q⟩)`` to the cross-entropy, which rewards agreeing with those early predictions
and so slows the memorisation of wrong labels.

Defaults follow the authors' 10-class setting (``β = 0.7``, ``λ = 3``); their 100-class setting
is ``β = 0.9``, ``λ = 7``.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustlib.methods.base import Method, StepOutput
from robustlib.methods.ce import check_reduction, per_example_cross_entropy, reduce

logger = logging.getLogger(__name__)

# The authors clamp the predicted probabilities into [1e-4, 1 - 1e-4], so that the
# regulariser's log stays finite and confident predictions stop receiving its gradient.
PROBABILITY_CLAMP = 1e-4


def check_beta(beta: float) -> None:
    """Raise ValueError unless ``0 <= beta < 1``."""
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}; it is the memory's momentum")


def check_lam(lam: float) -> None:
    """Raise ValueError unless ``lam >= 0``."""
    if not lam >= 0.0:
        raise ValueError(f"lam must be >= 0, got {lam}; it weighs the ELR regulariser")


def clamped_probabilities(logits: Tensor) -> Tensor:
    """Return ``q = clamp(softmax(z), 1e-4, 1 - 1e-4)``, ``(B, C)``, differentiable.

    Entries at the bounds get zero gradient. ``hardtanh`` is that clamp with a cheaper
    backward pass than ``torch.clamp``; the two differ only for an entry exactly at a bound.
    """
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    return F.hardtanh(torch.softmax(logits, dim=1), PROBABILITY_CLAMP, 1.0 - PROBABILITY_CLAMP)


def update_targets(memory: Tensor, index: Tensor, probabilities: Tensor, *, beta: float) -> Tensor:
    """Update the memory rows of a batch in place and return them.

    ``t[index] ← β·t[index] + (1 - β)·q̂ / Σq̂``, with ``q̂`` the detached clamped probabilities.

    Args:
        memory: ``(N, C)`` running targets of the whole training set.
        index: ``(B,)`` int64 rows of the batch's examples (their positions in the training set).
        probabilities: ``(B, C)`` clamped probabilities ``q`` of the batch.
        beta: Momentum ``β`` in ``[0, 1)``.

    Returns:
        The ``(B, C)`` updated rows, a copy that later updates of ``memory`` do not change.
    """
    with torch.no_grad():
        detached = probabilities.detach()
        if detached.dtype != memory.dtype:
            detached = detached.to(memory.dtype)
        # β·t + (1 - β)·q̂ / Σq̂ in two in-place steps.
        rows = memory.index_select(0, index).mul_(beta)
        rows.addcdiv_(detached, detached.sum(dim=1, keepdim=True), value=1.0 - beta)
        memory.index_copy_(0, index, rows)
    return rows


def elr_loss(
    logits: Tensor,
    targets: Tensor,
    ensemble_targets: Tensor,
    *,
    lam: float = 3.0,
    reduction: str = "mean",
) -> Tensor:
    """Return the ELR loss ``CE + λ·log(1 - ⟨t, q⟩)``.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` int64 labels, possibly noisy.
        ensemble_targets: ``(B, C)`` the batch's rows ``t`` of the target memory, already
            updated with this batch (see ``update_targets``); no gradient flows into them.
        lam: ``λ >= 0``. 0 gives plain cross-entropy, bit for bit.
        reduction: ``"mean"``: ``mean(CE + λ·log(1 - ⟨t, q⟩))``, which equals the authors'
            ``mean(CE) + λ·mean(log(1 - ⟨t, q⟩))`` up to rounding. ``"sum"``: the same with a
            sum. ``"none"``: the ``(B,)`` per-example values.

    The regulariser is finite: each row of ``t`` sums to at most 1 and each ``q_k`` is at most
    ``1 - 1e-4``, so ``⟨t, q⟩ <= 1 - 1e-4``.
    """
    check_lam(lam)
    check_reduction(reduction)
    losses = per_example_cross_entropy(logits, targets)
    return _add_regulariser(losses, clamped_probabilities(logits), ensemble_targets, lam, reduction)


def _add_regulariser(
    losses: Tensor, probabilities: Tensor, ensemble_targets: Tensor, lam: float, reduction: str
) -> Tensor:
    """Reduce ``CE_i + λ·log(1 - ⟨t_i, q_i⟩)`` over the batch."""
    ensemble_targets = ensemble_targets.detach()
    if ensemble_targets.dtype != probabilities.dtype:
        ensemble_targets = ensemble_targets.to(probabilities.dtype)
    agreement = torch.linalg.vecdot(ensemble_targets, probabilities)
    # mean(CE + λ·r) equals mean(CE) + λ·mean(r), and with λ = 0 it is mean(CE) bit for bit.
    return reduce(torch.add(losses, torch.log1p(-agreement), alpha=lam), reduction)


class EarlyLearningRegularization(Method):
    """ELR (Liu et al., NeurIPS 2020) with a per-example target memory.

    Args:
        beta: Momentum ``β`` of the target memory, in ``[0, 1)``. Default 0.7 (the authors'
            10-class setting); they use 0.9 with 100 classes.
        lam: Weight ``λ >= 0`` of the regulariser. Default 3 (10 classes); they use 7 with
            100 classes.

    ``setup`` allocates the ``(N, C)`` float32 memory, zero-initialised. A row is addressed by
    the example's position in the training set (``index`` in ``step``), so the same example
    updates the same row in every epoch whatever the shuffling. ``selected`` is None.
    """

    name = "elr"

    def __init__(self, *, beta: float = 0.7, lam: float = 3.0) -> None:
        check_beta(beta)
        check_lam(lam)
        self.beta = beta
        self.lam = lam
        self.memory: Tensor | None = None

    def setup(self, *, num_train: int, num_classes: int, num_epochs: int) -> None:
        self.memory = torch.zeros(num_train, num_classes, dtype=torch.float32)
        logger.debug("ELR target memory: %d x %d", num_train, num_classes)

    def step(
        self,
        models: list[nn.Module],
        inputs: dict[str, Tensor],
        targets: Tensor,
        index: Tensor,
        *,
        generator: torch.Generator,
    ) -> StepOutput:
        if self.memory is None:
            raise RuntimeError("ELR's target memory is missing: call setup() before step()")
        logits = models[0](**inputs)
        if self.memory.device != logits.device:
            self.memory = self.memory.to(logits.device)

        losses = per_example_cross_entropy(logits, targets)
        probabilities = clamped_probabilities(logits)
        rows = update_targets(self.memory, index, probabilities, beta=self.beta)
        loss = _add_regulariser(losses, probabilities, rows, self.lam, "mean")
        return StepOutput(loss=loss, logits=logits.detach(), selected=None)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, lam={self.lam}"
