"""The training loop: one method, its network(s), an encoded split, per-epoch metrics."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from robustlib.methods.base import Method
from robustlib.models.base import TextClassifier
from robustlib.training import metrics
from robustlib.training.seeding import torch_generator

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")


@dataclass(frozen=True)
class TrainSettings:
    """How to optimise.

    Attributes:
        epochs: Passes over the training set, at least 1.
        batch_size: Examples per step, at least 1. The last, smaller batch is kept.
        lr: Learning rate of the dense parameters (the head, a transformer's encoder).
        sparse_lr: Learning rate of sparse-gradient parameters (fastText's embedding bag);
            None means ``lr``.
        optimizer: ``"adam"`` (Adam for dense, SparseAdam for sparse parameters), ``"adamw"``
            (AdamW for dense, SparseAdam for sparse) or ``"sgd"`` (SGD with momentum 0.9 for
            dense, plain SGD for sparse).
        weight_decay: L2 penalty of the dense optimizer (sparse parameters get none).
        schedule: Learning-rate schedule over all steps: ``"constant"``, ``"linear"`` decay
            to 0, or ``"cosine"`` decay to 0, each after ``warmup_steps`` of linear warm-up.
        warmup_steps: Steps of linear warm-up from 0, at least 0.
        grad_clip: Maximum L2 norm of each network's dense gradients; None disables clipping.
            Sparse gradients are not clipped.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        eval_batch_size: Examples per forward pass when evaluating.
    """

    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    sparse_lr: float | None = None
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    grad_clip: float | None = None
    device: str = "auto"
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        self._check_types()
        self._check_ranges()

    def _check_types(self) -> None:
        for name in ("epochs", "batch_size", "warmup_steps", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for name in ("lr", "sparse_lr", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            optional = name in ("sparse_lr", "grad_clip")
            if (value is None and optional) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                continue
            raise ValueError(f"{name} must be a number{' or None' if optional else ''}, got {value!r}")
        for name in ("optimizer", "schedule", "device"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")

    def _check_ranges(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.sparse_lr is not None and not self.sparse_lr > 0:
            raise ValueError(f"sparse_lr must be positive or None, got {self.sparse_lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; expected one of {SCHEDULES}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be at least 0, got {self.weight_decay}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be at least 0, got {self.warmup_steps}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}")
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be at least 1, got {self.eval_batch_size}")
        if self.device != "auto" and not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"unknown device {self.device!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")


@dataclass
class SplitData:
    """One encoded split with its labels.

    Attributes:
        encoded: What the model's ``encode`` returned for the split's texts.
        labels: ``(N,)`` int64 labels the method trains on or the validation set scores
            against (noisy where noise was applied).
        clean_labels: ``(N,)`` int64 true labels.
    """

    encoded: object
    labels: Tensor
    clean_labels: Tensor

    def __post_init__(self) -> None:
        self.labels = torch.as_tensor(np.asarray(self.labels), dtype=torch.int64)
        self.clean_labels = torch.as_tensor(np.asarray(self.clean_labels), dtype=torch.int64)
        if self.labels.shape != self.clean_labels.shape or self.labels.ndim != 1:
            raise ValueError(
                f"labels {tuple(self.labels.shape)} and clean_labels "
                f"{tuple(self.clean_labels.shape)} must be 1-D and of equal length"
            )

    @property
    def corrupted(self) -> Tensor:
        """``(N,)`` bool, True where the label differs from the true label."""
        return self.labels != self.clean_labels

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FitResult:
    """Result of ``fit``: the per-epoch history and the test accuracies.

    Attributes:
        history: One dict per epoch (see ``fit`` for the keys).
        final_test_accuracy: Test accuracy of the model after the last epoch.
        best_epoch: Epoch (from 1) with the highest accuracy on the noisy validation set;
            the first one on ties.
        best_test_accuracy: Test accuracy after that epoch (early stopping on noisy
            validation accuracy, with no clean label involved).
        seconds: Wall time of the whole fit.
        device: The device the networks ran on.
    """

    history: list[dict] = field(default_factory=list)
    final_test_accuracy: float = math.nan
    best_epoch: int = 0
    best_test_accuracy: float = math.nan
    seconds: float = 0.0
    device: str = "cpu"


def resolve_device(name: str) -> torch.device:
    """Return the device for ``name``; ``"auto"`` picks CUDA when PyTorch can see a GPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but PyTorch sees no CUDA device; use 'cpu' or 'auto'")
    return device


def build_optimizers(model: TextClassifier, settings: TrainSettings) -> list[torch.optim.Optimizer]:
    """Build the optimizers of one network: one for its dense and one for its sparse parameters."""
    sparse, dense = model.param_groups()
    sparse_lr = settings.sparse_lr if settings.sparse_lr is not None else settings.lr
    optimizers: list[torch.optim.Optimizer] = []
    if dense:
        if settings.optimizer == "adam":
            optimizers.append(torch.optim.Adam(dense, lr=settings.lr, weight_decay=settings.weight_decay))
        elif settings.optimizer == "adamw":
            optimizers.append(torch.optim.AdamW(dense, lr=settings.lr, weight_decay=settings.weight_decay))
        else:
            optimizers.append(
                torch.optim.SGD(dense, lr=settings.lr, momentum=0.9, weight_decay=settings.weight_decay)
            )
    if sparse:
        if settings.optimizer == "sgd":
            optimizers.append(torch.optim.SGD(sparse, lr=sparse_lr))
        else:
            optimizers.append(torch.optim.SparseAdam(sparse, lr=sparse_lr))
    return optimizers


def _lr_factor(step: int, total: int, settings: TrainSettings) -> float:
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    if settings.schedule == "constant":
        return 1.0
    fraction = (step - settings.warmup_steps) / max(1, total - settings.warmup_steps)
    if settings.schedule == "linear":
        return max(0.0, 1.0 - fraction)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, fraction)))


def _to_device(inputs: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {key: value.to(device, non_blocking=True) for key, value in inputs.items()}


@torch.no_grad()
def predict(
    model: TextClassifier,
    encoded: object,
    num_examples: int,
    *,
    device: torch.device,
    batch_size: int = 1024,
    indices: Tensor | None = None,
) -> Tensor:
    """Predict the ``(M,)`` int64 classes of the examples at ``indices`` (default: all ``num_examples``)."""
    was_training = model.training
    model.eval()
    if indices is None:
        indices = torch.arange(num_examples)
    predictions = []
    for start in range(0, len(indices), batch_size):
        batch = _to_device(model.collate(encoded, indices[start : start + batch_size]), device)
        predictions.append(model(**batch).argmax(dim=1).cpu())
    model.train(was_training)
    if not predictions:
        return torch.empty(0, dtype=torch.int64)
    return torch.cat(predictions)


def fit(
    method: Method,
    models: list[TextClassifier],
    train: SplitData,
    val: SplitData,
    test: SplitData,
    *,
    settings: TrainSettings,
    seed: int,
    progress: bool = True,
) -> FitResult:
    """Train ``models`` with ``method`` and record per-epoch metrics.

    Every epoch appends a dict to ``history`` with:

    - ``epoch`` (from 1), ``train_loss`` (mean of the method's loss over the epoch's examples),
      ``lr``, ``seconds``;
    - ``val_accuracy``: accuracy against the validation labels as given (noisy);
    - ``val_clean_subset_accuracy``: accuracy on the validation examples whose label was not
      corrupted (the study's validation curve);
    - ``val_corrupted_true_share`` / ``val_corrupted_noisy_share``: on corrupted validation
      examples, the share predicted as their true and as their noisy label;
    - ``train_corrupted_true_share`` / ``train_corrupted_noisy_share``: the same on the
      corrupted training examples (memorisation);
    - ``test_accuracy``: accuracy on the clean test set (reported, never used for selection);
    - ``selection_precision`` / ``selection_recall``: for methods that report a selection,
      precision and recall of the examples they dropped or clipped against the true noise
      mask, over the epoch's steps (``nan`` for the others).

    Only network 1 is evaluated (co-teaching trains two; the first is its reported model).

    Args:
        method: The training method; ``len(models)`` must equal ``method.num_networks``.
        models: The networks, freshly initialised.
        train, val, test: Encoded splits. ``test.labels`` must be clean.
        settings: Optimisation settings.
        seed: Seeds the batch order (and the global torch RNG, for layers such as dropout
            that draw from it). The method's own draws use a separate stream.
        progress: Show a tqdm bar per epoch.
    """
    if len(models) != method.num_networks:
        raise ValueError(f"method {method.name!r} trains {method.num_networks} network(s), got {len(models)}")
    if len(train) == 0:
        raise ValueError("the training split is empty")

    start_time = time.perf_counter()
    device = resolve_device(settings.device)
    torch.manual_seed(seed)
    shuffle_generator = torch_generator(seed, "shuffle")
    method_generator = torch_generator(seed, "method")

    for model in models:
        model.to(device)
        model.train()
    optimizers = [build_optimizers(model, settings) for model in models]
    steps_per_epoch = math.ceil(len(train) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    schedulers = [
        torch.optim.lr_scheduler.LambdaLR(opt, lambda step: _lr_factor(step, total_steps, settings))
        for network_optimizers in optimizers
        for opt in network_optimizers
    ]
    method.setup(num_train=len(train), num_classes=models[0].num_classes, num_epochs=settings.epochs)

    train_corrupted = train.corrupted
    train_corrupted_index = torch.nonzero(train_corrupted).flatten()
    result = FitResult(device=str(device))

    for epoch in range(settings.epochs):
        epoch_start = time.perf_counter()
        method.start_epoch(epoch)
        order = torch.randperm(len(train), generator=shuffle_generator)
        loss_sum = 0.0
        flagged = flagged_corrupted = seen_corrupted = 0
        reports_selection = False

        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{settings.epochs}",
            disable=not progress,
            leave=False,
        )
        for step in bar:
            index = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            inputs = _to_device(models[0].collate(train.encoded, index), device)
            targets = train.labels[index].to(device)

            for network_optimizers in optimizers:
                for opt in network_optimizers:
                    opt.zero_grad(set_to_none=True)
            out = method.step(models, inputs, targets, index.to(device), generator=method_generator)
            if not torch.isfinite(out.loss):
                raise FloatingPointError(
                    f"{method.name}: loss is {out.loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                    "lower the learning rate or enable grad_clip"
                )
            out.loss.backward()

            if settings.grad_clip is not None:
                for model in models:
                    dense = [p for p in model.param_groups()[1] if p.grad is not None]
                    torch.nn.utils.clip_grad_norm_(dense, settings.grad_clip)
            for network_optimizers in optimizers:
                for opt in network_optimizers:
                    opt.step()
            for scheduler in schedulers:
                scheduler.step()

            # The loss is a mean over the batch; weight by its size for the epoch mean.
            loss_sum += out.loss.item() * len(index)
            if out.selected is not None:
                reports_selection = True
                dropped = ~out.selected.cpu()
                batch_corrupted = train_corrupted[index]
                flagged += int(dropped.sum())
                flagged_corrupted += int((dropped & batch_corrupted).sum())
                seen_corrupted += int(batch_corrupted.sum())

        record = _evaluate(models[0], train, val, test, train_corrupted_index, device, settings)
        precision, recall = (
            metrics.detection_scores(flagged_corrupted, flagged, seen_corrupted)
            if reports_selection
            else (math.nan, math.nan)
        )
        record = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / len(train),
            "lr": schedulers[0].get_last_lr()[0] if schedulers else settings.lr,
            **record,
            "selection_precision": precision,
            "selection_recall": recall,
            "seconds": time.perf_counter() - epoch_start,
        }
        result.history.append(record)
        logger.info(
            "%s epoch %d/%d: loss %.4f, val %.4f, val (uncorrupted) %.4f, test %.4f",
            method.name,
            epoch + 1,
            settings.epochs,
            record["train_loss"],
            record["val_accuracy"],
            record["val_clean_subset_accuracy"],
            record["test_accuracy"],
        )

    result.final_test_accuracy = result.history[-1]["test_accuracy"]
    best = metrics.best_epoch([row["val_accuracy"] for row in result.history])
    result.best_epoch = best + 1
    result.best_test_accuracy = result.history[best]["test_accuracy"]
    result.seconds = time.perf_counter() - start_time
    return result


def _evaluate(
    model: TextClassifier,
    train: SplitData,
    val: SplitData,
    test: SplitData,
    train_corrupted_index: Tensor,
    device: torch.device,
    settings: TrainSettings,
) -> dict[str, float]:
    val_pred = predict(model, val.encoded, len(val), device=device, batch_size=settings.eval_batch_size)
    test_pred = predict(model, test.encoded, len(test), device=device, batch_size=settings.eval_batch_size)
    # Memorisation is measured on the corrupted training examples only: cheaper than the whole set.
    train_pred = predict(
        model,
        train.encoded,
        len(train),
        device=device,
        batch_size=settings.eval_batch_size,
        indices=train_corrupted_index,
    )
    val_corrupted = val.corrupted
    val_true, val_noisy = metrics.corrupted_shares(val_pred, val.clean_labels, val.labels, val_corrupted)
    train_true = metrics.accuracy(train_pred, train.clean_labels[train_corrupted_index])
    train_noisy = metrics.accuracy(train_pred, train.labels[train_corrupted_index])
    return {
        "val_accuracy": metrics.accuracy(val_pred, val.labels),
        "val_clean_subset_accuracy": metrics.accuracy(val_pred, val.labels, ~val_corrupted),
        "val_corrupted_true_share": val_true,
        "val_corrupted_noisy_share": val_noisy,
        "train_corrupted_true_share": train_true,
        "train_corrupted_noisy_share": train_noisy,
        "test_accuracy": metrics.accuracy(test_pred, test.clean_labels),
    }


def settings_dict(settings: TrainSettings) -> dict:
    """Return the settings as a JSON-ready dict."""
    return asdict(settings)
