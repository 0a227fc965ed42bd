"""The (generalised) Jensen-Shannon divergence loss.

Englesson and Azizpour, "Generalized Jensen-Shannon Divergence Loss for Learning with Noisy
Labels", NeurIPS 2021 (reference code: github.com/ErikEnglesson/GJS). The loss is the weighted
Jensen-Shannon divergence between the one-hot label and the predicted distribution(s),
scaled so that it interpolates between two known losses:

    m    = π₁·onehot(y) + Σⱼ πⱼ·pⱼ                       (the weights sum to 1)
    JS   = π₁·KL(onehot(y) ‖ m) + Σⱼ πⱼ·KL(pⱼ ‖ m)
    loss = JS / Z,  Z = -(1 - π₁)·log(1 - π₁)

With one prediction (``num_views = 0``) this is JS; with augmented views it is GJS, whose
prediction terms also pull the views towards each other (a consistency term).

Limits in π₁, worked out from the formula and checked numerically in the tests:

- π₁ → 0: ``loss → CE = -log p_y``, because ``JS ≈ π₁·(-log p_y)`` and ``Z ≈ π₁``.
- π₁ → 1: ``loss → 1 - p_y = ½‖onehot(y) - p‖₁``, the MAE loss up to a factor ½. The
  approach is slow: with ``δ = 1 - π₁``, ``loss ≈ (1 - p_y) + ((1 - p_y) + p_y·log p_y) / (-log δ)``.
  With augmented views it also stops once ``δ·p_k`` falls below the clamp of ``m`` at
  ``1e-7``. The single-prediction form needs no clamp and keeps approaching.

So small π₁ behaves like cross-entropy (fits fast, memorises noise) and large π₁ like MAE
(robust, but slow to fit with many classes).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robustlib.methods.base import Method, StepOutput
from robustlib.methods.ce import check_reduction, reduce

# The reference code clamps the mixture at 1e-7 before its log.
MIXTURE_CLAMP = 1e-7

# The paper's value for 20% symmetric noise on CIFAR-100 (its configuration js-20 for
# CIFAR-100). The study's default dataset has 150 classes, closer to CIFAR-100 than to
# CIFAR-10, whose value is 0.7.
DEFAULT_PI1 = 0.1


def check_pi1(pi1: float) -> None:
    """Raise ValueError unless ``0 < pi1 < 1``."""
    if not 0.0 < pi1 < 1.0:
        raise ValueError(f"pi1 must be in (0, 1), got {pi1}; it is the weight of the label distribution")


def _as_views(logits: Tensor) -> Tensor:
    """Return logits as ``(V, B, C)``: a ``(B, C)`` tensor becomes one view."""
    if logits.dim() == 2:
        return logits.unsqueeze(0)
    if logits.dim() != 3:
        raise ValueError(f"logits must be (B, C) or (V, B, C), got shape {tuple(logits.shape)}")
    return logits


def js_mixture(logits: Tensor, targets: Tensor, *, pi1: float) -> Tensor:
    """Return the ``(B, C)`` mixture ``m = π₁·onehot(y) + (1 - π₁)/V·Σⱼ softmax(zⱼ)``.

    Each row sums to 1 (up to rounding), because the weights ``π₁`` and ``V`` times
    ``(1 - π₁)/V`` sum to 1 and so does every distribution.

    Args:
        logits: ``(B, C)`` or ``(V, B, C)`` for ``V`` predictions of the same batch.
        targets: ``(B,)`` int64 labels.
        pi1: Weight of the label distribution, in ``(0, 1)``.
    """
    check_pi1(pi1)
    views = _as_views(logits)
    dtype = views.dtype if views.dtype in (torch.float32, torch.float64) else torch.float32
    return _mixture(torch.softmax(views.to(dtype), dim=2), targets, pi1)


def _mixture(probabilities: Tensor, targets: Tensor, pi1: float) -> Tensor:
    """Mix ``(V, B, C)`` predictions with the one-hot labels (see ``js_mixture``)."""
    predictions = probabilities[0] if probabilities.shape[0] == 1 else probabilities.mean(dim=0)
    mixture = predictions * (1.0 - pi1)
    label_weight = torch.full((targets.numel(), 1), pi1, dtype=mixture.dtype, device=mixture.device)
    return mixture.scatter_add_(1, targets.unsqueeze(1), label_weight)


def js_scale(pi1: float) -> float:
    """Return ``Z = -(1 - π₁)·log(1 - π₁)``, the divisor that gives the CE and MAE limits."""
    check_pi1(pi1)
    return -(1.0 - pi1) * math.log1p(-pi1)


def jensen_shannon_loss(
    logits: Tensor, targets: Tensor, *, pi1: float = DEFAULT_PI1, reduction: str = "mean"
) -> Tensor:
    """Return the scaled (generalised) Jensen-Shannon loss.

    Args:
        logits: ``(B, C)`` logits (JS), or ``(V, B, C)`` logits of ``V`` predictions of the
            same batch, such as the plain inputs and augmented views (GJS). The predictions
            share the weight ``1 - π₁`` equally.
        targets: ``(B,)`` int64 labels, possibly noisy.
        pi1: Weight ``π₁`` of the label distribution, in ``(0, 1)``. Default 0.1.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the ``(B,)`` per-example losses).

    With one prediction the loss has a closed form in ``p_y`` alone (see
    ``_single_prediction_loss``), which needs no clamp. With several, the mixture is clamped
    at ``1e-7`` inside the logs, as in the reference code. Terms where a distribution is 0
    count as 0 (``0·log 0 = 0``). For the label this is explicit. For the predictions it holds
    because their logs come from ``log_softmax``, which is finite for finite logits (even
    ``±1e4``), so a probability that underflows to 0 multiplies a finite log.
    """
    check_pi1(pi1)
    check_reduction(reduction)
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    if logits.dim() == 2:
        return reduce(_single_prediction_loss(logits, targets, pi1), reduction)
    views = _as_views(logits)
    num_views = views.shape[0]

    # (V, B, C) predictions and their logs.
    log_probabilities = torch.log_softmax(views, dim=2)
    probabilities = log_probabilities.exp()
    log_mixture = _mixture(probabilities, targets, pi1).clamp_min(MIXTURE_CLAMP).log()

    # KL(onehot(y) ‖ m) = -log m_y, because the label's other terms are 0·log 0 = 0.
    log_mixture_at_label = log_mixture.gather(1, targets.unsqueeze(1)).squeeze(1)

    # Σⱼ KL(p_j ‖ m), summed over the views.
    prediction_terms = (probabilities * (log_probabilities - log_mixture)).sum(dim=(0, 2))

    # (π₁·KL(onehot ‖ m) + (1 - π₁)/V·Σⱼ KL(p_j ‖ m)) / Z, with the constants folded.
    scale = js_scale(pi1)
    label_part = log_mixture_at_label * (-pi1 / scale)
    losses = torch.add(label_part, prediction_terms, alpha=(1.0 - pi1) / (num_views * scale))
    return reduce(losses, reduction)


def _single_prediction_loss(logits: Tensor, targets: Tensor, pi1: float) -> Tensor:
    """Return the ``(B,)`` scaled JS loss of one prediction, from ``p_y`` alone.

    For ``k ≠ y`` the mixture is ``m_k = (1 - π₁)·p_k``, so ``log(p_k / m_k) = -log(1 - π₁)``
    whatever ``p_k``, and only the label's entry ``m_y = π₁ + (1 - π₁)·p_y`` is free:

        JS = Z - m_y·log m_y + (1 - π₁)·p_y·(log p_y + log(1 - π₁))

    This is the definition summed in closed form, without the reference's clamp of ``m`` at
    ``1e-7``. The clamp would change a class's term only where ``(1 - π₁)·p_k < 1e-7``, and
    then by less than ``1e-7 / e`` (the maximum of ``x·log(1e-7 / x)``).
    """
    log_p_label = torch.log_softmax(logits, dim=1).gather(1, targets.unsqueeze(1)).squeeze(1)
    p_label = log_p_label.exp()
    mixture_label = p_label * (1.0 - pi1) + pi1
    # JS - Z = -m_y·log m_y + (1 - π₁)·p_y·(log p_y + log(1 - π₁)); then loss = JS / Z.
    log_complement = math.log1p(-pi1)
    # m_y >= π₁ > 0, so its log is finite.
    divergence_minus_scale = torch.addcmul(
        -mixture_label * mixture_label.log(), p_label, log_p_label + log_complement, value=1.0 - pi1
    )
    return divergence_minus_scale / js_scale(pi1) + 1.0


class JensenShannonDivergence(Method):
    """JS (``num_views = 0``) or GJS (``num_views >= 1``) loss.

    Args:
        pi1: Weight ``π₁`` of the label distribution, in ``(0, 1)``. Default 0.1, the paper's
            value for JS with 20% symmetric noise on CIFAR-100; its value for CIFAR-10 (10
            classes) is 0.7. Smaller values behave more like cross-entropy.
        num_views: Augmented views added to the prediction on the plain inputs, each drawn with
            ``model.augment(inputs, generator=generator)``. 0 (the default) draws nothing.

    Unlike the paper, whose predictions all come from augmented inputs, the first prediction
    here is on the plain batch; the returned ``logits`` are that prediction. ``selected`` is
    None.
    """

    name = "jsd"

    def __init__(self, *, pi1: float = DEFAULT_PI1, num_views: int = 0) -> None:
        check_pi1(pi1)
        if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 0:
            raise ValueError(f"num_views must be an int >= 0, got {num_views!r}")
        self.pi1 = pi1
        self.num_views = num_views

    def step(
        self,
        models: list[nn.Module],
        inputs: dict[str, Tensor],
        targets: Tensor,
        index: Tensor,
        *,
        generator: torch.Generator,
    ) -> StepOutput:
        model = models[0]
        logits = model(**inputs)
        views = [logits]
        for _ in range(self.num_views):
            views.append(model(**model.augment(inputs, generator=generator)))

        stacked = logits if self.num_views == 0 else torch.stack(views)
        loss = jensen_shannon_loss(stacked, targets, pi1=self.pi1)
        return StepOutput(loss=loss, logits=logits.detach(), selected=None)

    def extra_repr(self) -> str:
        return f"pi1={self.pi1}, num_views={self.num_views}"
