"""A fastText-style classifier: hashed word unigrams and bigrams, mean-pooled, linear head.

Joulin, Grave, Bojanowski and Mikolov, "Bag of Tricks for Efficient Text Classification",
EACL 2017. Every word and every pair of adjacent words is hashed into one of ``num_buckets``
rows of an embedding table. A text is represented by the mean of its rows, and a linear layer
maps that mean to logits. Unlike the reference tool, unigrams are hashed too (no vocabulary), so the model
needs no pass over the corpus before training.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from robustlib.models.base import TextClassifier

# A word is a run of letters, digits or underscores, in any script; punctuation separates words.
_WORD = re.compile(r"\w+")

# Texts with no word still need one id, because an empty bag would have no mean.
_EMPTY_TOKEN = "<empty>"


def tokenize(text: str) -> list[str]:
    """Split a text into lower-cased words (``\\w+`` runs)."""
    return _WORD.findall(text.lower())


def hash_token(token: str, num_buckets: int) -> int:
    """Return the bucket of a unigram or bigram: ``crc32(utf-8 bytes) mod num_buckets``.

    CRC-32 (``zlib.crc32``) gives the same value in every process and on every platform,
    unlike Python's ``hash``, which is salted per process.
    """
    return zlib.crc32(token.encode("utf-8")) % num_buckets


def text_features(text: str) -> list[str]:
    """Return the unigrams and space-joined bigrams of a text, in order.

    A text without words yields the single feature ``"<empty>"``.
    """
    words = tokenize(text)
    if not words:
        return [_EMPTY_TOKEN]
    bigrams = [f"{first} {second}" for first, second in zip(words, words[1:])]
    return words + bigrams


@dataclass(frozen=True)
class RaggedIds:
    """The hashed ids of a split, stored flat.

    Attributes:
        ids: ``(T,)`` int64 bucket ids of all examples, one after another.
        offsets: ``(N + 1,)`` int64; the ids of example ``i`` are ``ids[offsets[i]:offsets[i + 1]]``.
            Every example has at least one id.
    """

    ids: Tensor
    offsets: Tensor

    def __len__(self) -> int:
        return self.offsets.numel() - 1

    def example(self, index: int) -> Tensor:
        """Return the ids of example ``index``."""
        return self.ids[self.offsets[index] : self.offsets[index + 1]]


def gather_bags(ids: Tensor, offsets: Tensor, indices: Tensor) -> tuple[Tensor, Tensor]:
    """Select the bags at ``indices`` from flat ``ids`` with ``(N + 1,)`` ``offsets``.

    Returns:
        ``(flat_ids, bag_offsets)``: the selected bags' ids one after another, and ``(B,)``
        int64 start of each bag in ``flat_ids`` (the ``nn.EmbeddingBag`` convention).
    """
    starts = offsets[indices]
    lengths = offsets[indices + 1] - starts
    bag_offsets = torch.zeros_like(lengths)
    torch.cumsum(lengths[:-1], dim=0, out=bag_offsets[1:])

    # Position k of the output reads ids[start of its bag + (k - bag's first output position)].
    total = int(lengths.sum())
    bag_of_position = torch.repeat_interleave(torch.arange(lengths.numel()), lengths, output_size=total)
    positions = torch.arange(total) - bag_offsets[bag_of_position] + starts[bag_of_position]
    return ids[positions], bag_offsets


class FastTextClassifier(TextClassifier):
    """Mean of hashed unigram and bigram embeddings, then a linear (or one-hidden-layer) head.

    Inputs built by ``collate``: ``ids`` ``(T,)`` int64 bucket ids of the whole batch and
    ``offsets`` ``(B,)`` int64 start of each example in ``ids``. ``forward_features`` returns the
    ``(B, embedding_dim)`` mean embedding, which is what mixup mixes.

    The embedding has sparse gradients: ``param_groups`` returns it as the sparse list, for
    ``torch.optim.SparseAdam`` or ``torch.optim.SGD``. The head is dense.

    Args:
        num_classes: Number of classes ``C``, at least 2.
        seed: Seed of the ``torch.Generator`` that draws the initial weights.
        embedding_dim: Size of each bucket's vector.
        num_buckets: Rows of the hashed embedding table.
        bigrams: Whether to add the bigrams of adjacent words to the unigrams.
        init_scale: Embedding rows start uniform in ``[-init_scale, init_scale]``; None means
            ``1 / embedding_dim``, as in the fastText tool.
        dropout: Dropout probability on the mean embedding before the head. Dropout draws from
            torch's global random stream, so the training loop must seed it; 0 draws nothing.
        hidden_dim: Width of an optional ReLU hidden layer in the head; None for a linear head.
        drop_probability: Default share of ids that ``augment`` drops.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        seed: int,
        embedding_dim: int = 64,
        num_buckets: int = 2**18,
        bigrams: bool = True,
        init_scale: float | None = None,
        dropout: float = 0.0,
        hidden_dim: int | None = None,
        drop_probability: float = 0.1,
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if embedding_dim < 1 or num_buckets < 1:
            raise ValueError(
                f"embedding_dim and num_buckets must be positive, got {embedding_dim} and {num_buckets}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= drop_probability < 1.0:
            raise ValueError(f"drop_probability must be in [0, 1), got {drop_probability}")
        if hidden_dim is not None and hidden_dim < 1:
            raise ValueError(f"hidden_dim must be positive or None, got {hidden_dim}")

        self.num_classes = num_classes
        self.feature_dim = embedding_dim
        self.num_buckets = num_buckets
        self.bigrams = bigrams
        self.drop_probability = drop_probability

        # skip_init allocates the layers without their default initialisation, which would
        # draw from torch's global random stream; the weights are drawn below instead.
        self.embedding = nn.utils.skip_init(nn.EmbeddingBag, num_buckets, embedding_dim, mode="mean", sparse=True)
        self.dropout = nn.Dropout(dropout)
        if hidden_dim is None:
            self.head = nn.utils.skip_init(nn.Linear, embedding_dim, num_classes)
        else:
            self.head = nn.Sequential(
                nn.utils.skip_init(nn.Linear, embedding_dim, hidden_dim),
                nn.ReLU(),
                nn.utils.skip_init(nn.Linear, hidden_dim, num_classes),
            )

        generator = torch.Generator().manual_seed(seed)
        scale = 1.0 / embedding_dim if init_scale is None else init_scale
        with torch.no_grad():
            self.embedding.weight.uniform_(-scale, scale, generator=generator)
            for layer in self.head.modules():
                if isinstance(layer, nn.Linear):
                    # The same ranges as nn.Linear's default, drawn from the model's own generator.
                    bound = layer.in_features**-0.5
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)

    def extra_repr(self) -> str:
        return f"bigrams={self.bigrams}"

    def encode(self, texts: Sequence[str]) -> RaggedIds:
        """Hash every text's unigrams (and bigrams) into bucket ids."""
        ids: list[int] = []
        offsets = [0]
        for text in texts:
            features = text_features(text) if self.bigrams else (tokenize(text) or [_EMPTY_TOKEN])
            ids.extend(hash_token(feature, self.num_buckets) for feature in features)
            offsets.append(len(ids))
        return RaggedIds(torch.tensor(ids, dtype=torch.int64), torch.tensor(offsets, dtype=torch.int64))

    def collate(self, encoded: RaggedIds, indices: Tensor) -> dict[str, Tensor]:
        """Build ``{"ids": (T,), "offsets": (B,)}`` for the examples at ``indices``."""
        ids, offsets = gather_bags(encoded.ids, encoded.offsets, indices.to(torch.int64).cpu())
        return {"ids": ids, "offsets": offsets}

    def forward_features(self, *, ids: Tensor, offsets: Tensor) -> Tensor:
        return self.embedding(ids, offsets)

    def forward_head(self, features: Tensor) -> Tensor:
        return self.head(self.dropout(features))

    def augment(
        self,
        inputs: dict[str, Tensor],
        *,
        generator: torch.Generator,
        drop_probability: float | None = None,
    ) -> dict[str, Tensor]:
        """Drop each id with probability ``drop_probability`` (default: the model's option).

        An example whose ids would all be dropped keeps its first id, so every bag stays
        non-empty. The draw uses ``generator`` alone, on the generator's device.
        """
        probability = self.drop_probability if drop_probability is None else drop_probability
        ids, offsets = inputs["ids"], inputs["offsets"]
        num_ids = ids.numel()
        keep = torch.rand(num_ids, generator=generator, device=generator.device).to(ids.device) >= probability

        # Keep the first id of each bag that lost all of its ids.
        bag_of_id = torch.bucketize(torch.arange(num_ids, device=ids.device), offsets, right=True) - 1
        kept_per_bag = torch.zeros_like(offsets).index_add_(0, bag_of_id, keep.to(offsets.dtype))
        keep[offsets[kept_per_bag == 0]] = True

        kept_per_bag = torch.zeros_like(offsets).index_add_(0, bag_of_id, keep.to(offsets.dtype))
        new_offsets = torch.zeros_like(offsets)
        torch.cumsum(kept_per_bag[:-1], dim=0, out=new_offsets[1:])
        return {**inputs, "ids": ids[keep], "offsets": new_offsets}

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """Return ``([embedding weight], head parameters)``."""
        dense = [p for p in self.head.parameters() if p.requires_grad]
        return [self.embedding.weight], dense
