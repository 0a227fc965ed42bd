"""Co-teaching: two networks pick each other's training examples.

Han, Yao, Yu, Niu, Xu, Hu, Tsang and Sugiyama, "Co-teaching: Robust Training of Deep Neural
Networks with Extremely Noisy Labels", NeurIPS 2018 (reference code:
github.com/bhanML/Co-teaching). Two networks with different initialisations each rank their
own per-example cross-entropy and keep the ``B - floor(r·B)`` lowest. Each network is then
updated on the set its PEER kept, so that neither confirms its own mistakes. The forget
rate ``r(e) = ε·min(1, e / T_k)`` grows from 0 to ``ε`` over the first ``T_k`` epochs, because
networks fit clean examples before noisy ones.

The reference code divides the already averaged loss by the kept count a second time, which
scales the learning rate by ``1 / kept``; here the loss is averaged once.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from robustlib.methods.base import StepOutput
from robustlib.methods.ce import per_example_cross_entropy, reduce_kept
from robustlib.methods.spl import ScheduledDropRate, check_noise_rate, kept_mask, lowest_indices, num_kept


def co_teaching_losses(
    logits_first: Tensor,
    logits_second: Tensor,
    targets: Tensor,
    *,
    forget_rate: float,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Return each network's loss on the examples its peer kept, and the two selections.

    Args:
        logits_first: ``(B, C)`` logits of the first network.
        logits_second: ``(B, C)`` logits of the second network on the same batch.
        targets: ``(B,)`` int64 labels, possibly noisy.
        forget_rate: ``r`` in ``[0, 1)``; each network keeps its ``B - floor(r·B)`` examples
            with the lowest cross-entropy. 0 keeps all, so each loss is plain cross-entropy,
            bit for bit.
        reduction: ``"mean"`` over the kept examples (averaged once), ``"sum"``, or ``"none"``
            (``(B,)`` losses with the examples the peer dropped set to 0).

    Returns:
        ``(loss_first, loss_second, kept_by_first, kept_by_second)``: the first network's loss
        on the examples the second kept, the second network's loss on those the first kept,
        and the two ``(B,)`` bool selections. Each loss depends only on its own network's
        parameters; the selections carry no gradient.
    """
    check_noise_rate(forget_rate)
    loss_first, loss_second, kept_by_first, kept_by_second = _exchange(
        logits_first, logits_second, targets, forget_rate, reduction
    )
    size, device = targets.numel(), logits_first.device
    return loss_first, loss_second, kept_mask(kept_by_first, size, device), kept_mask(kept_by_second, size, device)


def _exchange(
    logits_first: Tensor, logits_second: Tensor, targets: Tensor, forget_rate: float, reduction: str
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Return both losses and the positions each network kept (None: all)."""
    losses_first = per_example_cross_entropy(logits_first, targets)
    losses_second = per_example_cross_entropy(logits_second, targets)

    count = num_kept(targets.numel(), forget_rate)
    kept_by_first = lowest_indices(losses_first, count)
    kept_by_second = lowest_indices(losses_second, count)

    loss_first = reduce_kept(losses_first, reduction, kept_by_second)
    loss_second = reduce_kept(losses_second, reduction, kept_by_first)
    return loss_first, loss_second, kept_by_first, kept_by_second


class CoTeaching(ScheduledDropRate):
    """Co-teaching (Han et al., NeurIPS 2018) with two networks.

    Args:
        noise_rate: ``ε``, the final forget rate, in ``[0, 1)``; set it to the expected noise
            rate (0 on clean data, where each network trains as the baseline, bit for bit).
        ramp_epochs: ``T_k``, epochs over which the forget rate grows from 0 to ``ε``:
            ``r(e) = ε·min(1, e / T_k)``. Default 10 (the reference code); the marketplace used
            1; 0 forgets ``ε`` from the first step.

    The loss is ``loss_first + loss_second``; the gradient of each term reaches only its own
    network, so one backward pass trains both. ``logits`` are the first network's.
    ``selected`` is the set the first network trains on, that is, the second network's
    selection.
    """

    name = "coteaching"
    num_networks = 2

    def __init__(self, *, noise_rate: float = 0.2, ramp_epochs: int = 10) -> None:
        # NOTE: the reference code's schedule, np.linspace(0, ε, T_k) over epochs 0 to T_k - 1,
        # reaches ε at epoch T_k - 1; ε·min(1, e / T_k) reaches it one epoch later.
        super().__init__(noise_rate=noise_rate, ramp_epochs=ramp_epochs)

    @property
    def forget_rate(self) -> float:
        """The paper's name for the current drop rate ``r(e)``."""
        return self.drop_rate

    def step(
        self,
        models: list[nn.Module],
        inputs: dict[str, Tensor],
        targets: Tensor,
        index: Tensor,
        *,
        generator: torch.Generator,
    ) -> StepOutput:
        if len(models) != 2:
            raise ValueError(f"co-teaching needs 2 networks, got {len(models)}")
        logits_first = models[0](**inputs)
        logits_second = models[1](**inputs)
        loss_first, loss_second, _, kept_by_second = _exchange(
            logits_first, logits_second, targets, self.forget_rate, "mean"
        )
        selected = kept_mask(kept_by_second, targets.numel(), logits_first.device)
        return StepOutput(loss=loss_first + loss_second, logits=logits_first.detach(), selected=selected)

