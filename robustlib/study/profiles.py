"""The study's experiment grids ("profiles"): which runs, with which settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from robustlib.experiment.config import ExperimentConfig
from robustlib.training.loop import TrainSettings

# The order of Table 1 in the original study.
STUDY_METHODS = ("ce", "spl", "prl", "cce", "elr", "jsd", "coteaching", "mixup")


@dataclass(frozen=True)
class Profile:
    """One grid of experiments.

    The grid is: every method × {clean, ``main_rate`` noise} × ``seeds``, plus a noise-rate
    sweep over ``sweep_rates`` × ``sweep_seeds`` for every method. Runs present in both parts
    (the 0 and ``main_rate`` points of the sweep) are one run.

    Attributes:
        name: Profile name (``make book PROFILE=name``).
        description: One line for logs and the reproducibility page.
        dataset: Built-in dataset name.
        max_per_class: Shrink the dataset to this many examples per class (None: all).
        methods: Method names, in table order.
        noise: Noise kind of the noisy condition and of the sweep.
        main_rate: Noise rate of Table 1's noisy column.
        seeds: Seeds of Table 1's cells.
        sweep_rates: Noise rates of the sweep, besides 0 and ``main_rate``.
        sweep_seeds: Seeds of the extra sweep rates.
        model: Model name; ``model_params`` its options.
        train: Training settings (``TrainSettings`` fields).
        method_params: Hyperparameters per method name.
        num_threads: torch threads per experiment.
        strict_claims: True when the results notebook asserts the prose's claims about the
            numbers; False for profiles too small for those claims to be meaningful.
    """

    name: str
    description: str
    dataset: str = "clinc150"
    max_per_class: int | None = None
    methods: tuple[str, ...] = STUDY_METHODS
    noise: str = "symmetric"
    main_rate: float = 0.2
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    sweep_rates: tuple[float, ...] = (0.1, 0.4, 0.6)
    sweep_seeds: tuple[int, ...] = (0,)
    model: str = "fasttext"
    model_params: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    num_threads: int = 1
    strict_claims: bool = True

    def config(self, method: str, rate: float, seed: int) -> ExperimentConfig:
        """The configuration of one cell of the grid."""
        return ExperimentConfig.from_dict(
            {
                "dataset": self.dataset,
                "max_per_class": self.max_per_class,
                "noise": self.noise,
                "noise_rate": rate,
                "method": method,
                "method_params": self.method_params.get(method, {}),
                "model": self.model,
                "model_params": self.model_params,
                # Resolved: the library's defaults filled in, so the page shows every setting used.
            "train": dataclasses.asdict(TrainSettings(**self.train)),
                "seed": seed,
                "num_threads": self.num_threads,
            }
        )

    def configs(self) -> list[ExperimentConfig]:
        """Every experiment of the grid, each once, Table 1's runs first."""
        cells = [(m, r, s) for r in (0.0, self.main_rate) for m in self.methods for s in self.seeds]
        cells += [(m, r, s) for r in self.sweep_rates for m in self.methods for s in self.sweep_seeds]
        unique: dict[str, ExperimentConfig] = {}
        for method, rate, seed in cells:
            config = self.config(method, rate, seed)
            unique.setdefault(config.key(), config)
        return list(unique.values())

    def describe(self) -> dict[str, Any]:
        """The profile as plain values, for the reproducibility page."""
        return {
            "name": self.name,
            "description": self.description,
            "dataset": self.dataset,
            "max_per_class": self.max_per_class,
            "methods": list(self.methods),
            "noise": self.noise,
            "main_rate": self.main_rate,
            "seeds": list(self.seeds),
            "sweep_rates": sorted({0.0, self.main_rate, *self.sweep_rates}),
            "sweep_seeds": list(self.sweep_seeds),
            "model": self.model,
            "model_params": self.model_params,
            # Resolved: the library's defaults filled in, so the page shows every setting used.
            "train": dataclasses.asdict(TrainSettings(**self.train)),
            "method_params": self.method_params,
            "experiments": len(self.configs()),
        }


# Hyperparameters of the study, shared by both profiles. spl, prl and co-teaching take their
# drop rate from the noise rate (see ExperimentConfig).
_METHOD_PARAMS: dict[str, dict[str, Any]] = {}

_TRAIN: dict[str, Any] = {}

PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default",
        description="CLINC150, all eight methods, clean and 20% symmetric noise, 5 seeds, noise sweep",
        train=_TRAIN,
        method_params=_METHOD_PARAMS,
    ),
    "smoke": Profile(
        name="smoke",
        description="CI check of the pipeline: 40 examples per class, 3 epochs, 2 seeds",
        max_per_class=40,
        seeds=(0, 1),
        sweep_rates=(0.4,),
        train={**_TRAIN, "epochs": 3},
        method_params=_METHOD_PARAMS,
        strict_claims=False,
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; raises ValueError listing the profiles otherwise."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]
