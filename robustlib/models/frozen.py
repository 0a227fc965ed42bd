"""A frozen pre-trained encoder whose sentence vectors feed a trained MLP head.

The encoder runs once per split, without gradients, and its vectors are cached on disk under
a content hash, so repeated runs on the same texts skip it. Only the MLP head trains, which
makes this model usable on a CPU where fine-tuning a transformer is too slow.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from robustlib.data.home import data_home
from robustlib.models.base import TextClassifier
from robustlib.models.transformer import (
    POOLINGS,
    check_choice,
    load_pretrained,
    pad_batch,
    pool,
    resolve_model_source,
)

logger = logging.getLogger(__name__)

VECTOR_AUGMENTATIONS = ("dropout", "noise")

# Bumped when the cached vectors' meaning changes, so stale files are never read.
_CACHE_FORMAT = "robustlib-frozen-vectors-v1"


def default_cache_dir() -> Path:
    """Return ``embeddings/`` under the first folder of the data home (``robustlib.data.home``).

    That folder is the first entry of ``ROBUSTLIB_DATA_HOME`` when set, else
    ``$XDG_CACHE_HOME/robustlib`` (``~/.cache/robustlib`` without XDG_CACHE_HOME).
    """
    return data_home()[0] / "embeddings"


def fingerprint_files(folder: Path) -> str:
    """Return the sha256 of every file's relative path and bytes under a model folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def fingerprint_loaded(tokenizer: object, encoder: nn.Module) -> str:
    """Return the sha256 of a loaded encoder's config, tokenizer vocabulary and weights."""
    digest = hashlib.sha256()
    digest.update(encoder.config.to_json_string().encode("utf-8"))
    digest.update(repr(sorted(tokenizer.get_vocab().items())).encode("utf-8"))
    for name, tensor in sorted(encoder.state_dict().items()):
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode("utf-8"))
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_atomically(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as ``.npy`` to a temporary file in the same folder, then rename it.

    ``os.replace`` is atomic on one file system, so a reader sees either no file or the whole
    file, even when several processes encode the same texts at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, array)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FrozenEncoderClassifier(TextClassifier):
    """Cached sentence vectors of a frozen encoder, then an MLP head.

    Inputs built by ``collate``: ``vectors`` ``(B, H)`` float32. ``forward_features`` returns
    these sentence vectors unchanged, so mixup mixes sentence vectors before the MLP (the
    encoder's output is the only continuous input this model has). ``forward_head`` is
    Linear(H, hidden_dim), ReLU, dropout, Linear(hidden_dim, C).

    The encoder is not a submodule: it has no trainable parameters, ``state_dict`` and
    ``param_groups`` leave it out, and ``model.to`` does not move it. It loads on the first
    ``encode`` that misses the cache and runs on the device of the head's parameters.

    Args:
        num_classes: Number of classes ``C``, at least 2.
        seed: Seed of the ``torch.Generator`` that draws the head's initial weights.
        model_name_or_path: A local folder with ``config.json`` or a Hugging Face hub name.
            None means the packaged all-MiniLM-L6-v2.
        max_length: Texts are truncated to this many tokens, special tokens included.
        pooling: ``"mean"`` over the attention mask, or ``"cls"``.
        normalize: Whether to scale each sentence vector to unit L2 norm.
        hidden_dim: Width of the MLP's hidden layer.
        dropout: Dropout probability after the ReLU. It draws from torch's global random
            stream, so the training loop must seed it.
        cache_dir: Folder of the cached vectors; None means ``default_cache_dir()``.
        batch_size: Texts per encoder call in ``encode``.
        progress: Whether ``encode`` shows a tqdm progress bar.
        augment_mode: ``"dropout"`` zeroes each coordinate of the vector with probability
            ``augment_strength`` and rescales the rest by ``1 / (1 - augment_strength)``.
            ``"noise"`` adds Gaussian noise whose standard deviation is ``augment_strength``
            times the vector's root mean square.
        augment_strength: Dropout probability in ``[0, 1)`` or relative noise scale ``>= 0``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        seed: int,
        model_name_or_path: str | os.PathLike | None = None,
        max_length: int = 64,
        pooling: str = "mean",
        normalize: bool = True,
        hidden_dim: int = 256,
        dropout: float = 0.1,
        cache_dir: str | os.PathLike | None = None,
        batch_size: int = 128,
        progress: bool = True,
        augment_mode: str = "dropout",
        augment_strength: float = 0.1,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        check_choice("pooling", pooling, POOLINGS)
        check_choice("augment_mode", augment_mode, VECTOR_AUGMENTATIONS)
        if max_length < 2:
            raise ValueError(f"max_length must be at least 2 (room for the special tokens), got {max_length}")
        if hidden_dim < 1 or batch_size < 1:
            raise ValueError(f"hidden_dim and batch_size must be positive, got {hidden_dim} and {batch_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if augment_mode == "dropout" and not 0.0 <= augment_strength < 1.0:
            raise ValueError(
                f"augment_strength is a dropout probability with augment_mode='dropout' and must be in [0, 1), "
                f"got {augment_strength}"
            )
        if augment_mode == "noise" and augment_strength < 0.0:
            raise ValueError(
                f"augment_strength is a noise scale with augment_mode='noise' and must be non-negative, "
                f"got {augment_strength}"
            )

        from transformers import AutoConfig

        self.source = resolve_model_source(model_name_or_path)
        config = AutoConfig.from_pretrained(self.source)
        self.num_classes = num_classes
        self.feature_dim = int(config.hidden_size)
        self.max_length = max_length
        self.pooling = pooling
        self.normalize = normalize
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.batch_size = batch_size
        self.progress = progress
        self.augment_mode = augment_mode
        self.augment_strength = augment_strength

        # A plain list keeps the encoder out of the module's submodules, parameters and state_dict.
        self._pretrained: list = []
        self._fingerprint: str | None = None

        # skip_init leaves torch's global random stream alone; the weights are drawn below.
        self.head = nn.Sequential(
            nn.utils.skip_init(nn.Linear, self.feature_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.utils.skip_init(nn.Linear, hidden_dim, num_classes),
        )
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in self.head:
                if isinstance(layer, nn.Linear):
                    # The same ranges as nn.Linear's default, drawn from the model's own generator.
                    bound = layer.in_features**-0.5
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)

    def extra_repr(self) -> str:
        return f"source={self.source!r}, pooling={self.pooling!r}, normalize={self.normalize}"

    @property
    def tokenizer(self) -> object:
        """The encoder's tokenizer, loaded on first use."""
        return self._load()[0]

    @property
    def encoder(self) -> nn.Module:
        """The frozen encoder, in eval mode, loaded on first use."""
        return self._load()[1]

    def _load(self) -> tuple[object, nn.Module]:
        if not self._pretrained:
            tokenizer, encoder = load_pretrained(self.source)
            encoder.requires_grad_(False)
            self._pretrained.extend([tokenizer, encoder])
        return self._pretrained[0], self._pretrained[1]

    def fingerprint(self) -> str:
        """Return the sha256 that identifies the encoder's files (or, for a hub name, its loaded weights)."""
        if self._fingerprint is None:
            folder = Path(self.source)
            if folder.is_dir():
                # A local folder is hashed from disk, so a cache hit never loads the encoder.
                self._fingerprint = fingerprint_files(folder)
            else:
                self._fingerprint = fingerprint_loaded(*self._load())
        return self._fingerprint

    def cache_key(self, texts: Sequence[str], device: torch.device) -> str:
        """Return the sha256 of the encoder, the pooling options, the device type and all texts.

        The device type is part of the key because CPU and CUDA kernels round differently.
        """
        digest = hashlib.sha256()
        header = (
            f"{_CACHE_FORMAT}\n{self.source}\n{self.fingerprint()}\n"
            f"pooling={self.pooling} normalize={self.normalize} max_length={self.max_length} "
            f"device={device.type}\n"
        )
        digest.update(header.encode("utf-8"))
        for text in texts:
            # A length prefix keeps ["ab", "c"] and ["a", "bc"] apart.
            data = text.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
        return digest.hexdigest()

    def encode(self, texts: Sequence[str]) -> Tensor:
        """Return ``(N, H)`` float32 sentence vectors, from the cache when present.

        Vectors are computed in batches of ``batch_size`` under ``torch.no_grad`` on the device
        of the head's parameters, then written to ``cache_dir/<sha256>.npy``.
        """
        texts = list(texts)
        device = self.head[0].weight.device
        path = self.cache_dir / f"{self.cache_key(texts, device)}.npy"
        if path.is_file():
            logger.info("loaded %d sentence vectors from %s", len(texts), path)
            return torch.from_numpy(np.load(path))

        vectors = self._compute(texts, device)
        save_atomically(path, vectors.numpy())
        logger.info("cached %d sentence vectors in %s", len(texts), path)
        return vectors

    def _compute(self, texts: list[str], device: torch.device) -> Tensor:
        tokenizer, encoder = self._load()
        encoder.to(device)
        tokens = tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        chunks = []
        starts = range(0, len(texts), self.batch_size)
        with torch.no_grad():
            for start in tqdm(starts, desc="encoding", unit="batch", disable=not self.progress):
                sequences = [torch.tensor(ids, dtype=torch.int64) for ids in tokens[start : start + self.batch_size]]
                batch = {name: tensor.to(device) for name, tensor in pad_batch(sequences, pad_id).items()}
                hidden = encoder(**batch).last_hidden_state
                vectors = pool(hidden, batch["attention_mask"], self.pooling)
                if self.normalize:
                    vectors = F.normalize(vectors, p=2.0, dim=1)
                chunks.append(vectors.cpu())
        if not chunks:
            return torch.zeros(0, self.feature_dim)
        return torch.cat(chunks)

    def collate(self, encoded: Tensor, indices: Tensor) -> dict[str, Tensor]:
        """Build ``{"vectors": (B, H)}`` for the examples at ``indices``."""
        return {"vectors": encoded[indices.to(torch.int64).cpu()]}

    def forward_features(self, *, vectors: Tensor) -> Tensor:
        return vectors

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(features)

    def augment(self, inputs: dict[str, Tensor], *, generator: torch.Generator) -> dict[str, Tensor]:
        """Perturb the sentence vectors with feature dropout or Gaussian noise (see ``augment_mode``).

        The draw uses ``generator`` alone, on the generator's device.
        """
        vectors = inputs["vectors"]
        if self.augment_mode == "dropout":
            draws = torch.rand(vectors.shape, generator=generator, device=generator.device).to(vectors.device)
            keep = draws >= self.augment_strength
            perturbed = vectors * keep / (1.0 - self.augment_strength)
        else:
            draws = torch.randn(vectors.shape, generator=generator, device=generator.device).to(vectors.device)
            rms = vectors.pow(2).mean(dim=1, keepdim=True).sqrt()
            perturbed = vectors + self.augment_strength * rms * draws
        return {**inputs, "vectors": perturbed}
