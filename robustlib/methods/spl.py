"""Self-paced learning (the trimmed loss): train on the lowest-loss part of each batch.

Self-paced learning as Liu et al. (ICML 2021, the PRL paper) run it as a baseline, also called
the trimmed loss: in each batch, drop the ``floor(ε·B)`` examples with the largest
cross-entropy and average the cross-entropy over the rest. ``ε`` is the expected noise rate.

The selection helpers here (``drop_rate_at``, ``num_kept``, ``lowest_indices``, ``kept_mask``)
are shared with PRL and co-teaching, which drop the same number of examples but rank them
differently.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robustlib.methods.base import Method, StepOutput
from robustlib.methods.ce import per_example_cross_entropy, reduce_kept

# floor(ε·B) in exact arithmetic: ε·B computed in floating point can land just below an
# integer (0.29 · 100 = 28.999999999999996), and floor would then drop one example too few.
_FLOOR_TOLERANCE = 1e-9


def check_noise_rate(noise_rate: float) -> None:
    """Raise ValueError unless ``0 <= noise_rate < 1``."""
    if not 0.0 <= noise_rate < 1.0:
        raise ValueError(
            f"noise_rate must be in [0, 1), got {noise_rate}; it is the share of each batch to drop"
        )


def check_ramp_epochs(ramp_epochs: int) -> None:
    """Raise ValueError unless ``ramp_epochs`` is a non-negative int."""
    if isinstance(ramp_epochs, bool) or not isinstance(ramp_epochs, int) or ramp_epochs < 0:
        raise ValueError(f"ramp_epochs must be an int >= 0 (0: no ramp), got {ramp_epochs!r}")


def drop_rate_at(epoch: int, *, noise_rate: float, ramp_epochs: int) -> float:
    """Return the share of a batch to drop at ``epoch``: ``ε·min(1, epoch / ramp_epochs)``.

    The rate grows linearly from 0 at epoch 0 to ``noise_rate`` at epoch ``ramp_epochs``
    (co-teaching's schedule, with epochs counted from 0). ``ramp_epochs = 0`` means no ramp:
    ``noise_rate`` from the first step.
    """
    if ramp_epochs == 0:
        return noise_rate
    return noise_rate * min(1.0, epoch / ramp_epochs)


def num_kept(batch_size: int, drop_rate: float) -> int:
    """Return how many examples of a batch to keep: ``B - floor(drop_rate·B)``.

    With ``0 <= drop_rate < 1`` at least one example of a non-empty batch is kept, because
    ``floor(drop_rate·B) <= drop_rate·B < B``.
    """
    return batch_size - math.floor(drop_rate * batch_size + _FLOOR_TOLERANCE)


def lowest_indices(scores: Tensor, count: int) -> Tensor | None:
    """Return the ``(count,)`` int64 positions of the lowest ``scores``, or None to keep all.

    None stands for "every example" when ``count >= B``, so that the caller can reduce with
    ``values.mean()``, the baseline's reduction. Ties are broken by position (a stable sort),
    so the selection is deterministic.
    """
    if count >= scores.numel():
        return None
    return torch.argsort(scores.detach(), stable=True)[:count]


def kept_mask(kept: Tensor | None, size: int, device: torch.device) -> Tensor:
    """Return the ``(size,)`` bool mask of the positions in ``kept`` (all True for None)."""
    if kept is None:
        return torch.ones(size, dtype=torch.bool, device=device)
    return torch.zeros(size, dtype=torch.bool, device=device).index_fill_(0, kept, True)


def self_paced_cross_entropy(
    logits: Tensor, targets: Tensor, *, drop_rate: float, reduction: str = "mean"
) -> Tensor:
    """Return the cross-entropy over the ``B - floor(drop_rate·B)`` lowest-loss examples.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` int64 labels, possibly noisy.
        drop_rate: Share of the batch to drop, in ``[0, 1)``. 0 gives plain cross-entropy, bit
            for bit.
        reduction: ``"mean"`` over the kept examples, ``"sum"`` over them, or ``"none"``: the
            ``(B,)`` losses with the dropped examples set to 0.
    """
    check_noise_rate(drop_rate)
    losses = per_example_cross_entropy(logits, targets)
    kept = lowest_indices(losses, num_kept(losses.numel(), drop_rate))
    return reduce_kept(losses, reduction, kept)


class ScheduledDropRate(Method):
    """A method that drops a share ``drop_rate`` of each batch, following ``drop_rate_at``.

    Subclasses declare their own keyword defaults in ``__init__`` (the registry reads them) and
    pass them on.
    """

    def __init__(self, *, noise_rate: float, ramp_epochs: int) -> None:
        check_noise_rate(noise_rate)
        check_ramp_epochs(ramp_epochs)
        self.noise_rate = noise_rate
        self.ramp_epochs = ramp_epochs
        self.drop_rate = drop_rate_at(0, noise_rate=noise_rate, ramp_epochs=ramp_epochs)

    def start_epoch(self, epoch: int) -> None:
        self.drop_rate = drop_rate_at(epoch, noise_rate=self.noise_rate, ramp_epochs=self.ramp_epochs)

    def extra_repr(self) -> str:
        return f"noise_rate={self.noise_rate}, ramp_epochs={self.ramp_epochs}"


class TrimmedLossMethod(ScheduledDropRate):
    """A method that averages cross-entropy over the part of each batch it keeps.

    Subclasses choose which ``B - floor(r·B)`` examples to keep (``kept_indices``), where the
    drop rate ``r`` follows ``drop_rate_at``. ``selected`` marks the kept examples.
    """

    def __init__(self, *, noise_rate: float = 0.2, ramp_epochs: int = 0) -> None:
        super().__init__(noise_rate=noise_rate, ramp_epochs=ramp_epochs)

    def kept_indices(self, logits: Tensor, targets: Tensor, losses: Tensor) -> Tensor | None:
        """Return the positions to keep, or None to keep the whole batch."""
        raise NotImplementedError

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
        kept = self.kept_indices(logits, targets, losses)
        loss = reduce_kept(losses, "mean", kept)
        selected = kept_mask(kept, losses.numel(), losses.device)
        return StepOutput(loss=loss, logits=logits.detach(), selected=selected)



class SelfPacedLearning(TrimmedLossMethod):
    """Self-paced learning: mean cross-entropy over the lowest-loss examples of each batch.

    Args:
        noise_rate: ``ε``, the share of each batch to drop, in ``[0, 1)``; set it to the
            expected noise rate (0 on clean data, where the method is the baseline bit for bit).
        ramp_epochs: ``T_k``. 0 (the default, the marketplace's choice) drops ``ε`` from the
            first step. A positive value ramps the rate as ``ε·min(1, e / T_k)``, as the PRL
            authors' code does.

    ``selected`` marks the kept examples.
    """

    name = "spl"

    def kept_indices(self, logits: Tensor, targets: Tensor, losses: Tensor) -> Tensor | None:
        return lowest_indices(losses, num_kept(losses.numel(), self.drop_rate))
