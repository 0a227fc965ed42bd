"""The validated, frozen configuration of one experiment."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from robustlib.training.loop import TrainSettings

# Methods whose drop rate is the expected noise rate. Unless set explicitly it follows the
# experiment's noise rate, as in the original study (so it is 0 on clean data).
EPSILON_METHODS = ("spl", "prl", "coteaching")


class ConfigError(ValueError):
    """An experiment configuration with a missing, unknown or invalid value."""


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(sorted((mapping or {}).items())))


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines one experiment's numbers.

    Build it with ``ExperimentConfig.from_dict`` (or keyword arguments): it validates every
    value and fills the defaults, so the stored configuration is the resolved one.

    Attributes:
        dataset: A built-in dataset name (``robustlib.data.DATASETS``).
        dataset_options: Options of the loader, e.g. ``{"level": "cluster"}`` for PriceRunner.
        max_per_class: Keep at most this many examples of each class before splitting (the
            first ones by id); None keeps all.
        split: Train, validation and test fractions, summing to 1.
        split_seed: Seed of the stratified split. Fixed across the study's seeds so that
            seeds vary the noise, initialisation and batch order, not the test set.
        noise: A noise kind (``robustlib.noise.NOISE_KINDS``); applied to training and
            validation labels, never to test labels.
        noise_rate: Share of labels to corrupt, in [0, 1). Must be 0 for ``noise="none"``;
            ignored by ``"real"``.
        method: A method name (``robustlib.methods.METHODS``).
        method_params: The method's hyperparameters. For spl, prl and co-teaching a missing
            ``noise_rate`` (their expected noise rate ε) is set to the experiment's ``noise_rate``.
        model: A model name (``robustlib.models.MODELS``).
        model_params: Options of the model.
        train: Optimisation settings.
        seed: Seeds the noise, the initialisation, the batch order and the method's draws,
            each through its own stream.
        num_threads: torch CPU threads; None leaves PyTorch's default.
    """

    dataset: str = "clinc150"
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    max_per_class: int | None = None
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    noise: str = "symmetric"
    noise_rate: float = 0.2
    method: str = "ce"
    method_params: Mapping[str, Any] = field(default_factory=dict)
    model: str = "fasttext"
    model_params: Mapping[str, Any] = field(default_factory=dict)
    train: TrainSettings = field(default_factory=TrainSettings)
    seed: int = 0
    num_threads: int | None = None

    def __post_init__(self) -> None:
        from robustlib.data import DATASETS
        from robustlib.methods import METHODS, build_method
        from robustlib.models import MODELS
        from robustlib.noise import NOISE_KINDS

        set_ = object.__setattr__
        set_(self, "dataset_options", _frozen(self.dataset_options))
        set_(self, "model_params", _frozen(self.model_params))
        set_(self, "split", tuple(float(x) for x in self.split))
        if isinstance(self.train, Mapping):
            set_(self, "train", _train_settings(self.train))

        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("noise", self.noise, NOISE_KINDS)
        _check_choice("method", self.method, METHODS)
        _check_choice("model", self.model, MODELS)
        if len(self.split) != 3 or any(not 0 < x < 1 for x in self.split) or abs(sum(self.split) - 1) > 1e-9:
            raise ConfigError(
                f"split must be three fractions in (0, 1) summing to 1 (train, validation, test), got {self.split}"
            )
        if not isinstance(self.noise_rate, (int, float)) or isinstance(self.noise_rate, bool):
            raise ConfigError(f"noise_rate must be a number in [0, 1), got {self.noise_rate!r}")
        for name in ("max_per_class", "num_threads"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{name} must be an integer or None, got {value!r}")
        if not 0 <= self.noise_rate < 1:
            raise ConfigError(f"noise_rate must be in [0, 1), got {self.noise_rate}")
        if self.noise == "none" and self.noise_rate != 0:
            raise ConfigError(f"noise 'none' needs noise_rate 0, got {self.noise_rate}; pick a noise kind")
        if self.max_per_class is not None and self.max_per_class < 3:
            raise ConfigError(f"max_per_class must be at least 3 (one example per split) or None, got {self.max_per_class}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be at least 1 or None, got {self.num_threads}")
        for name in ("seed", "split_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")

        params = dict(self.method_params)
        if self.method in EPSILON_METHODS and "noise_rate" not in params:
            params["noise_rate"] = self.noise_rate
        set_(self, "method_params", _frozen(params))
        try:
            build_method(self.method, **params)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid method_params for {self.method!r}: {error}") from error

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ExperimentConfig":
        """Build a configuration from plain values (a JSON object or notebook parameters).

        Raises:
            ConfigError: for an unknown key or an invalid value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown configuration key(s) {unknown}; allowed keys are {sorted(known)}")
        values = dict(values)
        if "split" in values:
            values["split"] = tuple(values["split"])
        try:
            return cls(**values)
        except TypeError as error:
            raise ConfigError(str(error)) from error

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved configuration as JSON-ready plain values."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("dataset_options", "method_params", "model_params"):
            values[name] = dict(values[name])
        values["split"] = list(values["split"])
        values["train"] = dataclasses.asdict(self.train)
        return values

    def to_parameters(self) -> dict[str, Any]:
        """Return the configuration as flat notebook parameters (training settings at top level)."""
        values = self.to_dict()
        train = values.pop("train")
        return {**values, **train}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> "ExperimentConfig":
        """Inverse of ``to_parameters``: training settings may be given at top level."""
        train_names = {f.name for f in dataclasses.fields(TrainSettings)}
        config_names = {f.name for f in dataclasses.fields(cls)} - {"train"}
        unknown = sorted(set(parameters) - train_names - config_names)
        if unknown:
            raise ConfigError(
                f"unknown parameter(s) {unknown}; configuration keys are {sorted(config_names)} "
                f"and training settings are {sorted(train_names)}"
            )
        values = {k: v for k, v in parameters.items() if k not in train_names}
        train = {k: v for k, v in parameters.items() if k in train_names}
        return cls.from_dict({**values, "train": train})

    def key(self) -> str:
        """Return a 12-character digest of the resolved configuration; equal configs give equal keys."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def run_name(self) -> str:
        """Return a readable, unique folder name: dataset, method, noise, seed and the key."""
        rate = f"{round(self.noise_rate * 100):02d}" if self.noise != "none" else "00"
        return f"{self.dataset}-{self.method}-{self.noise}{rate}-seed{self.seed}-{self.key()}"


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")


def _train_settings(values: Mapping[str, Any]) -> TrainSettings:
    known = {f.name for f in dataclasses.fields(TrainSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown training setting(s) {unknown}; allowed settings are {sorted(known)}")
    try:
        return TrainSettings(**values)
    except ValueError as error:
        raise ConfigError(f"invalid training setting: {error}") from error
