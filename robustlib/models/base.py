"""The interface every text classifier implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn


class TextClassifier(nn.Module):
    """A text classifier split into an encoder and a head.

    Texts are encoded once per split (``encode``); the training loop then builds batches from
    the encoded split with ``collate``. The representation before the head is exposed so that
    mixup can mix it.

    Subclasses set ``num_classes`` and ``feature_dim`` and implement the four methods below.
    """

    num_classes: int
    feature_dim: int

    def encode(self, texts: Sequence[str]) -> Any:
        """Turn a split's texts into whatever ``collate`` indexes (token ids, cached vectors)."""
        raise NotImplementedError

    def collate(self, encoded: Any, indices: Tensor) -> dict[str, Tensor]:
        """Build the model inputs for the examples at ``indices`` (``(B,)`` int64) of a split."""
        raise NotImplementedError

    def forward_features(self, **inputs: Tensor) -> Tensor:
        """``(B, feature_dim)`` representation before the head."""
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        """``(B, num_classes)`` logits from the representation."""
        raise NotImplementedError

    def augment(self, inputs: dict[str, Tensor], *, generator: torch.Generator) -> dict[str, Tensor]:
        """Return a randomly perturbed copy of a batch (an augmented view, for JSD's views).

        Models that cannot perturb their inputs raise NotImplementedError.
        """
        raise NotImplementedError(f"{type(self).__name__} has no input augmentation")

    def forward(self, **inputs: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(**inputs))

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """Split the trainable parameters into (sparse-gradient, dense-gradient) lists.

        The training loop gives the first list to an optimizer that accepts sparse gradients.
        """
        params = [p for p in self.parameters() if p.requires_grad]
        return [], params
