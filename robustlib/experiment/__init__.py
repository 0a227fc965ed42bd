"""One experiment: a frozen configuration in, a results folder out."""

from robustlib.experiment.config import ConfigError, ExperimentConfig
from robustlib.experiment.run import run_experiment
from robustlib.experiment.store import is_complete

__all__ = ["ConfigError", "ExperimentConfig", "is_complete", "run_experiment"]
