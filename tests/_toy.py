"""A tiny text classifier and a hand-computable batch for the method tests."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from robustlib.models.base import TextClassifier

# The hand batch: logits are logs of unnormalised probabilities, so softmax gives simple
# fractions and every loss below can be worked out by hand.
#   example 0: softmax = (1/3, 1/3, 1/3),    label 0, CE = log 3      = 1.0986123
#   example 1: softmax = (1/2, 1/4, 1/4),    label 0, CE = log 2      = 0.6931472
#   example 2: softmax = (3/8, 1/4, 3/8),    label 1, CE = log 4      = 1.3862944
#   example 3: softmax = (0.6, 0.1, 0.3),    label 2, CE = log(10/3)  = 1.2039728
# mean CE = log(3·2·4·10/3) / 4 = log(80) / 4 = 1.0955067
HAND_WEIGHTS = [[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [3.0, 2.0, 3.0], [6.0, 1.0, 3.0]]
HAND_TARGETS = [0, 0, 1, 2]
HAND_CE = [math.log(3), math.log(2), math.log(4), math.log(10 / 3)]


def hand_batch(dtype: torch.dtype = torch.float64, *, requires_grad: bool = False) -> tuple[Tensor, Tensor]:
    """Return the hand batch: ``(4, 3)`` logits and ``(4,)`` int64 targets."""
    logits = torch.tensor(HAND_WEIGHTS, dtype=torch.float64).log().to(dtype)
    logits.requires_grad_(requires_grad)
    return logits, torch.tensor(HAND_TARGETS, dtype=torch.int64)


class ToyClassifier(TextClassifier):
    """A two-layer network over given float vectors: ``tanh(W₁x + b₁)`` then a linear head.

    Inputs: ``{"x": (B, input_dim)}``. ``augment`` adds Gaussian noise drawn from the generator.
    """

    def __init__(
        self,
        *,
        num_classes: int = 3,
        input_dim: int = 5,
        feature_dim: int = 4,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        noise_scale: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.noise_scale = noise_scale
        self.encoder = nn.Linear(input_dim, feature_dim, dtype=dtype)
        self.head = nn.Linear(feature_dim, num_classes, dtype=dtype)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-1.0, 1.0, generator=generator)

    def forward_features(self, *, x: Tensor) -> Tensor:
        return torch.tanh(self.encoder(x))

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(features)

    def augment(self, inputs: dict[str, Tensor], *, generator: torch.Generator) -> dict[str, Tensor]:
        x = inputs["x"]
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return {**inputs, "x": x + self.noise_scale * noise}


def toy_inputs(
    batch_size: int, *, input_dim: int = 5, num_classes: int = 3, seed: int = 1, dtype: torch.dtype = torch.float64
) -> tuple[dict[str, Tensor], Tensor]:
    """Return a random batch for ``ToyClassifier``: ``({"x": (B, input_dim)}, (B,) targets)``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, input_dim, generator=generator, dtype=dtype)
    targets = torch.randint(0, num_classes, (batch_size,), generator=generator)
    return {"x": x}, targets


def gradients(model: nn.Module) -> list[Tensor]:
    """Return copies of a model's parameter gradients, in parameter order."""
    return [parameter.grad.clone() for parameter in model.parameters()]


def run_step(method, models, inputs, targets, *, index=None, seed: int = 0):
    """Zero the gradients, run one method step and its backward pass; return the StepOutput."""
    for model in models:
        model.zero_grad(set_to_none=True)
    if index is None:
        index = torch.arange(targets.numel())
    generator = torch.Generator().manual_seed(seed)
    output = method.step(models, inputs, targets, index, generator=generator)
    output.loss.backward()
    return output
