"""Training methods under label noise: the cross-entropy baseline and seven robust methods.

``build_method(name, **hparams)`` builds a method by its registry name; ``METHODS`` lists the
names. Each method's module also exposes its loss as a plain function on logits and targets.
"""

from __future__ import annotations

import inspect
from typing import Any

from robustlib.methods.base import Method, StepOutput
from robustlib.methods.cce import ClippedCrossEntropy
from robustlib.methods.ce import CrossEntropy
from robustlib.methods.coteaching import CoTeaching
from robustlib.methods.elr import EarlyLearningRegularization
from robustlib.methods.jsd import JensenShannonDivergence
from robustlib.methods.mixup import Mixup
from robustlib.methods.prl import ProvablyRobustLearning
from robustlib.methods.spl import SelfPacedLearning

_CLASSES: dict[str, type[Method]] = {
    cls.name: cls
    for cls in (
        CrossEntropy,
        SelfPacedLearning,
        ProvablyRobustLearning,
        ClippedCrossEntropy,
        EarlyLearningRegularization,
        JensenShannonDivergence,
        CoTeaching,
        Mixup,
    )
}

METHODS: tuple[str, ...] = tuple(_CLASSES)


def method_hyperparameters(name: str) -> dict[str, Any]:
    """Return the hyperparameters of method ``name`` with their default values."""
    cls = _method_class(name)
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def build_method(name: str, **hparams: Any) -> Method:
    """Build the method registered as ``name`` with the given hyperparameters.

    Raises:
        ValueError: ``name`` is not in ``METHODS``, or a hyperparameter is out of its range.
        TypeError: a hyperparameter that the method does not take; the message names it and
            lists the ones it takes.
    """
    cls = _method_class(name)
    accepted = method_hyperparameters(name)
    unknown = sorted(set(hparams) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "none"
        raise TypeError(f"method {name!r} does not take {', '.join(unknown)}; its hyperparameters: {takes}")
    return cls(**hparams)


def _method_class(name: str) -> type[Method]:
    if name not in _CLASSES:
        raise ValueError(f"unknown method {name!r}; use one of {', '.join(METHODS)}")
    return _CLASSES[name]


__all__ = [
    "METHODS",
    "ClippedCrossEntropy",
    "CoTeaching",
    "CrossEntropy",
    "EarlyLearningRegularization",
    "JensenShannonDivergence",
    "Method",
    "Mixup",
    "ProvablyRobustLearning",
    "SelfPacedLearning",
    "StepOutput",
    "build_method",
    "method_hyperparameters",
]
