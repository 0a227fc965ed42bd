"""PRL-L: drop the examples whose loss gradient is largest.

Liu, Zhu, Zhang and Zhou, "Learning Deep Neural Networks under Agnostic Corrupted
Supervision", ICML 2021. The variant PRL-L ranks the examples of a batch by the norm of the
cross-entropy gradient with respect to the logits (the last layer's input), drops the
``floor(ε·B)`` with the largest norm and averages the cross-entropy over the rest. That gradient
is ``softmax(z) - onehot(y)``, so the norm needs no backward pass.
"""

from __future__ import annotations

import torch
from torch import Tensor

from robustlib.methods.ce import per_example_cross_entropy, reduce_kept
from robustlib.methods.spl import TrimmedLossMethod, check_noise_rate, lowest_indices, num_kept


def logit_gradient_norm(logits: Tensor, targets: Tensor) -> Tensor:
    """Return ``‖softmax(z) - onehot(y)‖₂`` per example, a detached ``(B,)`` tensor.

    This is the norm of the gradient of the cross-entropy with respect to the logits.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` int64 labels.
    """
    with torch.no_grad():
        dtype = logits.dtype if logits.dtype in (torch.float32, torch.float64) else torch.float32
        gradient = torch.softmax(logits.to(dtype), dim=1)
        # Subtracting 1 at each label is the one-hot difference, without building one-hot rows.
        gradient.scatter_add_(1, targets.unsqueeze(1), gradient.new_full((targets.numel(), 1), -1.0))
        return torch.linalg.vector_norm(gradient, dim=1)


def prl_cross_entropy(
    logits: Tensor, targets: Tensor, *, drop_rate: float, reduction: str = "mean"
) -> Tensor:
    """Return the cross-entropy over the examples with the smallest logit-gradient norm.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` int64 labels, possibly noisy.
        drop_rate: Share of the batch to drop, in ``[0, 1)``: the ``floor(drop_rate·B)``
            examples with the largest ``‖softmax(z) - onehot(y)‖₂`` are dropped. 0 gives plain
            cross-entropy, bit for bit.
        reduction: ``"mean"`` over the kept examples, ``"sum"`` over them, or ``"none"``: the
            ``(B,)`` losses with the dropped examples set to 0.
    """
    check_noise_rate(drop_rate)
    losses = per_example_cross_entropy(logits, targets)
    kept = _kept_by_norm(logits, targets, drop_rate)
    return reduce_kept(losses, reduction, kept)


def _kept_by_norm(logits: Tensor, targets: Tensor, drop_rate: float) -> Tensor | None:
    count = num_kept(targets.numel(), drop_rate)
    if count >= targets.numel():
        # Nothing to drop, so the norms are not needed.
        return None
    return lowest_indices(logit_gradient_norm(logits, targets), count)


class ProvablyRobustLearning(TrimmedLossMethod):
    """PRL-L (Liu et al., ICML 2021): drop the largest-gradient examples of each batch.

    Args:
        noise_rate: ``ε``, the share of each batch to drop, in ``[0, 1)``; set it to the
            expected noise rate (0 on clean data, where the method is the baseline bit for bit).
        ramp_epochs: ``T_k``. 0 (the default, the marketplace's choice) drops ``ε`` from the
            first step; a positive value ramps the rate as ``ε·min(1, e / T_k)``.

    ``selected`` marks the kept examples.
    """

    name = "prl"

    def kept_indices(self, logits: Tensor, targets: Tensor, losses: Tensor) -> Tensor | None:
        return _kept_by_norm(logits, targets, self.drop_rate)
