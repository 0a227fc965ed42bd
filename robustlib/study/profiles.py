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
    sweep over ``sweep_rates`` × ``sweep_seeds`` for every method, plus the ablations at
    ``main_rate`` × ``seeds``. Runs present in two parts (the 0 and ``main_rate`` points of the
    sweep) are one run.

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
        ablations: Variants run beside the table: ``(label, method, hyperparameters)``, the
            hyperparameters replacing the method's entry in ``method_params``.
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
    ablations: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    num_threads: int = 1
    strict_claims: bool = True

    def config(self, method: str, rate: float, seed: int, params: dict[str, Any] | None = None) -> ExperimentConfig:
        """Build the configuration of one cell; ``params`` replaces the method's hyperparameters."""
        return ExperimentConfig.from_dict(
            {
                "dataset": self.dataset,
                "max_per_class": self.max_per_class,
                "noise": self.noise,
                "noise_rate": rate,
                "method": method,
                "method_params": self.method_params.get(method, {}) if params is None else params,
                "model": self.model,
                "model_params": self.model_params,
                # Resolved: the library's defaults filled in, so the page shows every setting used.
            "train": dataclasses.asdict(TrainSettings(**self.train)),
                "seed": seed,
                "num_threads": self.num_threads,
            }
        )

    def study_configs(self) -> list[ExperimentConfig]:
        """Build the runs of Table 1 and of the noise sweep, each once, Table 1's first."""
        cells = [(m, r, s) for r in (0.0, self.main_rate) for m in self.methods for s in self.seeds]
        cells += [(m, r, s) for r in self.sweep_rates for m in self.methods for s in self.sweep_seeds]
        unique: dict[str, ExperimentConfig] = {}
        for method, rate, seed in cells:
            config = self.config(method, rate, seed)
            unique.setdefault(config.key(), config)
        return list(unique.values())

    def ablation_configs(self) -> list[tuple[str, ExperimentConfig]]:
        """Build ``(label, configuration)`` for every ablation run."""
        return [
            (label, self.config(method, self.main_rate, seed, params))
            for label, method, params in self.ablations
            for seed in self.seeds
        ]

    def configs(self) -> list[ExperimentConfig]:
        """Build every experiment of the grid, each once: the study's, then the ablations."""
        unique = {config.key(): config for config in self.study_configs()}
        for _, config in self.ablation_configs():
            unique.setdefault(config.key(), config)
        return list(unique.values())

    def describe(self) -> dict[str, Any]:
        """Return the profile as plain values, for the reproducibility page."""
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
            "ablations": [f"{label}: {method} {params}" for label, method, params in self.ablations],
            "experiments": len(self.configs()),
        }


# Hyperparameters of the study, shared by both profiles. spl, prl and co-teaching take their
# drop rate from the noise rate (see ExperimentConfig). ELR uses its authors' 100-class setting,
# the nearest to CLINC150's 150 classes; the others keep their references' defaults.
#
# CCE clips from epoch 5 on (warmup_epochs=4), not after the first epoch as in the reference:
# after one epoch this model gets only about 16% of validation examples right, so with the
# threshold 4.0 most examples would be clipped and never learned (an ablation keeps the reference
# setting). 4 had the best noisy-validation accuracy among 1 to 4 in a pilot run with seed 0.
_METHOD_PARAMS: dict[str, dict[str, Any]] = {
    "cce": {"threshold": 4.0, "warmup_epochs": 4},
    "elr": {"beta": 0.9, "lam": 7.0},
}

# Settings of the reference code or of the marketplace that the table does not use.
_ABLATIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("cce, clipping after epoch 1 (reference)", "cce", {"threshold": 4.0, "warmup_epochs": 1}),
    ("mixup of logits with 20% extra mixed examples (marketplace)", "mixup", {"mode": "logits"}),
    ("co-teaching with T_k = 1 epoch (marketplace)", "coteaching", {"ramp_epochs": 1}),
)

# fastText-style model: plain SGD on the sparse embedding (lr 10) and SGD with momentum on the
# head (lr 1). Tuned on CLINC150 validation accuracy: the clean run reaches about 93% and under
# 20% noise the accuracy on uncorrupted validation examples peaks near epoch 6, then declines.
_TRAIN: dict[str, Any] = {
    "epochs": 15,
    "batch_size": 64,
    "optimizer": "sgd",
    "lr": 1.0,
    "sparse_lr": 10.0,
    "device": "cpu",
}

PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default",
        description="CLINC150, all eight methods, clean and 20% symmetric noise, 5 seeds, noise sweep",
        train=_TRAIN,
        method_params=_METHOD_PARAMS,
        ablations=_ABLATIONS,
    ),
    "smoke": Profile(
        name="smoke",
        description="CI check of the pipeline: 40 examples per class, 3 epochs, 2 seeds",
        max_per_class=40,
        seeds=(0, 1),
        sweep_rates=(0.4,),
        train={**_TRAIN, "epochs": 3},
        method_params=_METHOD_PARAMS,
        ablations=_ABLATIONS,
        strict_claims=False,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``; raise ValueError listing the profiles otherwise."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]
