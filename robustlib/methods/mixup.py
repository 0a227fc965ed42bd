"""Mixup on a continuous representation of text.

Zhang, Cisse, Dauphin and Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
Mixup trains on convex combinations of pairs of examples and of their labels:
``x̃ = λ·x_i + (1 - λ)·x_j`` with the loss ``λ·CE(f(x̃), y_i) + (1 - λ)·CE(f(x̃), y_j)`` and
``λ ~ Beta(α, α)``. Text has no continuous input, so two variants mix something else:

- ``"features"`` (the default): mix the representation before the head
  (``model.forward_features``) of the batch with a random permutation of itself. The head
  (``model.forward_head``) then scores the mix. One ``λ`` is drawn per batch, and every
  example of the batch is mixed.
- ``"logits"``: the marketplace's variant. The plain batch is kept, and
  ``floor(fraction·B)`` extra rows are appended: each mixes the logits of two distinct
  examples of the batch (all ``2·floor(fraction·B)`` examples distinct, one ``λ`` per batch)
  and is scored against the same mix of the two one-hot labels. The loss is the mean
  cross-entropy over the ``B + floor(fraction·B)`` rows.

When the head is affine (a linear layer, with no dropout active), mixing the features equals
mixing the logits, so on such a model the two variants differ only in that ``"logits"`` keeps
the unmixed batch and adds a few mixed rows, while ``"features"`` replaces the batch by its
mix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from robustlib.methods.base import Method, StepOutput
from robustlib.methods.ce import check_reduction, per_example_cross_entropy, reduce

MODES = ("features", "logits")


def check_alpha(alpha: float) -> None:
    """Raise ValueError unless ``alpha > 0``."""
    if not alpha > 0.0:
        raise ValueError(f"alpha must be > 0, got {alpha}; λ is drawn from Beta(alpha, alpha)")


def sample_beta(alpha: float, *, generator: torch.Generator) -> float:
    """Draw ``λ ~ Beta(α, α)`` from ``generator`` alone.

    ``λ = G₁ / (G₁ + G₂)`` with ``Gᵢ ~ Gamma(α)``, computed in log space: for small ``α`` a
    Gamma draw can underflow to 0 in float64 (and ``0 / 0`` is NaN). Each ``log Gᵢ`` is
    ``log Gamma(α + 1) + log(U) / α`` with ``U`` uniform on ``(0, 1]``, the standard boost
    that makes a ``Gamma(α)`` draw from a ``Gamma(α + 1)`` one.
    """
    check_alpha(alpha)
    device = generator.device
    # NOTE: torch._standard_gamma is the private sampler behind torch.distributions.Gamma; it
    # is used because it is the one Gamma sampler in torch 2.13 that takes a generator.
    shapes = torch.full((2,), alpha + 1.0, dtype=torch.float64, device=device)
    gammas = torch._standard_gamma(shapes, generator=generator).tolist()
    uniforms = torch.rand(2, dtype=torch.float64, device=device, generator=generator).tolist()
    # log Gᵢ, with 1 - U in (0, 1] so that the log is finite.
    first, second = (math.log(g) + math.log1p(-u) / alpha for g, u in zip(gammas, uniforms))
    # G₁ / (G₁ + G₂) = sigmoid(log G₁ - log G₂); the cap keeps exp finite.
    return 1.0 / (1.0 + math.exp(min(second - first, 700.0)))


def sample_mixing(batch_size: int, *, alpha: float, generator: torch.Generator) -> tuple[float, Tensor]:
    """Draw ``λ ~ Beta(α, α)`` and a ``(B,)`` int64 random permutation, from ``generator`` alone.

    The permutation is on the generator's device.
    """
    lam = sample_beta(alpha, generator=generator)
    permutation = torch.randperm(batch_size, generator=generator, device=generator.device)
    return lam, permutation


def mixup_cross_entropy(
    logits: Tensor,
    targets: Tensor,
    permutation: Tensor,
    lam: float,
    *,
    reduction: str = "mean",
) -> Tensor:
    """Return ``λ·CE(z, y) + (1 - λ)·CE(z, y[permutation])`` for logits ``z`` of a mixed batch.

    Args:
        logits: ``(B, C)`` logits of the mixed batch (example ``i`` mixes ``i`` with
            ``permutation[i]``).
        targets: ``(B,)`` int64 labels of the unmixed batch.
        permutation: ``(B,)`` int64 partner of each example.
        lam: Mixing weight ``λ`` in ``[0, 1]``; 1 gives plain cross-entropy on ``logits``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(B,)`` values).
    """
    check_reduction(reduction)
    return reduce(_mixed_label_losses(logits, targets, targets[permutation], lam), reduction)


def _mixed_label_losses(logits: Tensor, first: Tensor, second: Tensor, lam: float) -> Tensor:
    """Return ``λ·CE(z, first) + (1 - λ)·CE(z, second)`` per example, with one log-softmax."""
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    log_probabilities = torch.log_softmax(logits, dim=1)
    # With λ = 1 this is exactly the cross-entropy: 1·a + 0·b = a in floating point.
    return torch.add(
        F.nll_loss(log_probabilities, first, reduction="none") * lam,
        F.nll_loss(log_probabilities, second, reduction="none"),
        alpha=1.0 - lam,
    )


def mixed_logits_cross_entropy(
    logits: Tensor,
    targets: Tensor,
    first: Tensor,
    second: Tensor,
    lam: float,
    *,
    reduction: str = "mean",
) -> Tensor:
    """Return the cross-entropy of a batch with mixed-logit rows appended (the ``"logits"`` mode).

    Row ``k`` of the ``K`` extra rows has logits ``λ·z[first[k]] + (1 - λ)·z[second[k]]`` and
    the soft label ``λ·onehot(y[first[k]]) + (1 - λ)·onehot(y[second[k]])``, whose
    cross-entropy is ``λ·CE(·, y[first[k]]) + (1 - λ)·CE(·, y[second[k]])``.

    Args:
        logits: ``(B, C)`` logits of the plain batch.
        targets: ``(B,)`` int64 labels.
        first: ``(K,)`` int64 positions of the first example of each mixed row.
        second: ``(K,)`` int64 positions of the second example.
        lam: Mixing weight ``λ`` in ``[0, 1]``.
        reduction: ``"mean"`` over the ``B + K`` rows, ``"sum"``, or ``"none"`` (``(B + K,)``).
    """
    check_reduction(reduction)
    mixed = torch.add(logits[first] * lam, logits[second], alpha=1.0 - lam)
    mixed_losses = _mixed_label_losses(mixed, targets[first], targets[second], lam)
    losses = torch.cat([per_example_cross_entropy(logits, targets), mixed_losses])
    return reduce(losses, reduction)


class Mixup(Method):
    """Mixup of the sentence representation (default) or the marketplace's logit mixup.

    Args:
        alpha: ``α > 0`` of ``Beta(α, α)``. Default 0.2, the marketplace's value, so that the
            two modes differ only in what they mix. The authors' CIFAR-10 code
            (github.com/facebookresearch/mixup-cifar10) defaults to ``α = 1``.
        mode: ``"features"`` or ``"logits"`` (see the module docstring).
        fraction: Only for ``"logits"``: extra mixed rows as a share of the batch, in
            ``[0, 0.5]``; default 0.2, the marketplace's value. ``floor(fraction·B)`` rows are
            added; a batch too small for one row is plain cross-entropy and draws nothing.

    ``logits`` are the model's logits on the unmixed batch. In ``"features"`` mode they cost
    one extra call of the head, without gradient. ``selected`` is None.
    """

    name = "mixup"

    def __init__(self, *, alpha: float = 0.2, mode: str = "features", fraction: float = 0.2) -> None:
        check_alpha(alpha)
        if mode not in MODES:
            raise ValueError(f"unknown mixup mode {mode!r}; use one of {', '.join(MODES)}")
        if not 0.0 <= fraction <= 0.5:
            raise ValueError(f"fraction must be in [0, 0.5], got {fraction}; it is the share of extra mixed rows")
        self.alpha = alpha
        self.mode = mode
        self.fraction = fraction

    def sample_mixing(self, batch_size: int, generator: torch.Generator) -> tuple[float, Tensor]:
        """Draw ``λ`` and a permutation of the batch (tests replace this to fix ``λ``)."""
        return sample_mixing(batch_size, alpha=self.alpha, generator=generator)

    def step(
        self,
        models: list[nn.Module],
        inputs: dict[str, Tensor],
        targets: Tensor,
        index: Tensor,
        *,
        generator: torch.Generator,
    ) -> StepOutput:
        if self.mode == "features":
            return self._step_features(models[0], inputs, targets, generator)
        return self._step_logits(models[0], inputs, targets, generator)

    def _step_features(
        self, model: nn.Module, inputs: dict[str, Tensor], targets: Tensor, generator: torch.Generator
    ) -> StepOutput:
        features = model.forward_features(**inputs)
        lam, permutation = self.sample_mixing(targets.numel(), generator)
        permutation = permutation.to(features.device)

        # λ·f + (1 - λ)·f[permutation]; with λ = 1 this is f exactly.
        mixed = torch.add(features * lam, features.index_select(0, permutation), alpha=1.0 - lam)
        loss = mixup_cross_entropy(model.forward_head(mixed), targets, permutation, lam)

        with torch.no_grad():
            logits = model.forward_head(features)
        return StepOutput(loss=loss, logits=logits.detach(), selected=None)

    def _step_logits(
        self, model: nn.Module, inputs: dict[str, Tensor], targets: Tensor, generator: torch.Generator
    ) -> StepOutput:
        logits = model(**inputs)
        batch_size = targets.numel()
        # floor in exact arithmetic, as in spl.num_kept.
        num_mixed = math.floor(self.fraction * batch_size + 1e-9)
        if num_mixed == 0:
            loss = per_example_cross_entropy(logits, targets).mean()
            return StepOutput(loss=loss, logits=logits.detach(), selected=None)

        # The first 2K positions of a permutation give K pairs of distinct examples.
        lam, permutation = self.sample_mixing(batch_size, generator)
        permutation = permutation.to(logits.device)
        first, second = permutation[:num_mixed], permutation[num_mixed : 2 * num_mixed]
        loss = mixed_logits_cross_entropy(logits, targets, first, second, lam)
        return StepOutput(loss=loss, logits=logits.detach(), selected=None)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, mode={self.mode!r}, fraction={self.fraction}"
