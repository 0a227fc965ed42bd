"""Text classifiers and the registry that builds them by name.

``"fasttext"``: hashed unigram and bigram embeddings, mean-pooled, linear head (the CPU default).
``"transformer"``: a pre-trained Hugging Face encoder fine-tuned with a linear head.
``"frozen"``: cached sentence vectors of a frozen encoder, then a trained MLP head.
"""

from __future__ import annotations

import inspect
from typing import Any

from robustlib.models.base import TextClassifier
from robustlib.models.fasttext import FastTextClassifier
from robustlib.models.frozen import FrozenEncoderClassifier
from robustlib.models.transformer import TransformerClassifier

MODELS = ("fasttext", "transformer", "frozen")

_CLASSES: dict[str, type[TextClassifier]] = {
    "fasttext": FastTextClassifier,
    "transformer": TransformerClassifier,
    "frozen": FrozenEncoderClassifier,
}


def model_options(name: str) -> tuple[str, ...]:
    """Return the option names that ``build_model(name, ...)`` accepts besides num_classes and seed."""
    model_class = _model_class(name)
    parameters = inspect.signature(model_class.__init__).parameters
    return tuple(p for p in parameters if p not in ("self", "num_classes", "seed"))


def build_model(name: str, *, num_classes: int, seed: int, **options: Any) -> TextClassifier:
    """Build the classifier registered as ``name``.

    Args:
        name: One of ``MODELS``.
        num_classes: Number of classes, at least 2.
        seed: Seed of the generator that draws the initial weights; the same seed gives
            bit-identical parameters.
        **options: The model's keyword options (see each class's docstring).

    Raises:
        ValueError: Unknown ``name``, ``num_classes`` below 2, or an invalid option value.
        TypeError: An option that the model does not have; the message lists the valid ones.
        FileNotFoundError: A local model path that does not exist.
    """
    model_class = _model_class(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer of at least 2, got {num_classes!r}")

    allowed = model_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for model {name!r}; "
            f"valid options: {', '.join(allowed)}"
        )
    return model_class(num_classes=num_classes, seed=seed, **options)


def _model_class(name: str) -> type[TextClassifier]:
    if name not in _CLASSES:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(map(repr, MODELS))}")
    return _CLASSES[name]


__all__ = [
    "MODELS",
    "FastTextClassifier",
    "FrozenEncoderClassifier",
    "TextClassifier",
    "TransformerClassifier",
    "build_model",
    "model_options",
]
