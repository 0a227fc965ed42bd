"""The interface every training method implements, and helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class StepOutput:
    """Result of one training step of a method, as the training loop receives it.

    Attributes:
        loss: Scalar to back-propagate. For methods with several networks it is the sum of
            their losses; each network's loss depends only on its own parameters.
        logits: ``(B, C)`` logits of the first network on the (unmixed) batch, detached.
        selected: ``(B,)`` bool, True where the method trusted the example (kept it, did not
            clip it). ``None`` for methods that weight every example alike (ce, elr, jsd, mixup).
    """

    loss: Tensor
    logits: Tensor
    selected: Tensor | None = None


class Method:
    """A training method: turns a batch and the network(s) into a loss.

    The training loop calls ``setup`` once, ``start_epoch`` before each epoch (epochs count
    from 0) and ``step`` for each batch. A method never draws from the global random state:
    the loop passes a ``torch.Generator`` that belongs to the method alone, so a method that
    draws nothing leaves every other random stream as the baseline would.

    Attributes:
        name: The registry name (``"ce"``, ``"spl"``, ...).
        num_networks: How many networks the loop must build and optimise (2 for co-teaching).
    """

    name: str = "method"
    num_networks: int = 1

    def setup(self, *, num_train: int, num_classes: int, num_epochs: int) -> None:
        """Allocate per-run state (ELR's target memory). The default keeps none."""

    def start_epoch(self, epoch: int) -> None:
        """Update schedules that change per epoch (co-teaching's forget rate)."""

    def step(
        self,
        models: list[nn.Module],
        inputs: dict[str, Tensor],
        targets: Tensor,
        index: Tensor,
        *,
        generator: torch.Generator,
    ) -> StepOutput:
        """Compute the training loss of one batch.

        Args:
            models: ``num_networks`` classifiers (see ``robustlib.models.TextClassifier``).
            inputs: The batch as the models' ``collate`` built it.
            targets: ``(B,)`` int64 labels, possibly noisy.
            index: ``(B,)`` int64 position of each example in the training set, the same in
                every epoch whatever the shuffling (ELR's memory rows).
            generator: The method's own random stream (mixup's λ and permutation).
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
