"""Training: the loop, its settings, the per-epoch metrics and seeded random streams."""

from robustlib.training.loop import FitResult, SplitData, TrainSettings, fit, predict, resolve_device
from robustlib.training.seeding import derive_seed, torch_generator

__all__ = [
    "FitResult",
    "SplitData",
    "TrainSettings",
    "derive_seed",
    "fit",
    "predict",
    "resolve_device",
    "torch_generator",
]
