"""Instance-dependent noise: the labels a classifier finds most confusable are the ones corrupted.

The procedure follows Chen, Ye, Chen, Zhao and Heng, "Beyond Class-Conditional Assumption: A
Primary Attempt to Combat Instance-Dependent Label Noise", AAAI 2021, and the generator scripts
in their repository (chenpf1025/IDN):

1. Train a classifier on the clean labels and average its softmax output on every training
   example over all epochs (``confusion_scores``). Averaging over epochs keeps the confusion
   the classifier shows early on, before it fits every training label.
2. For each example, find the wrong class with the highest averaged probability and that
   probability, its mislabelling score.
3. Corrupt the ``round(rate * N)`` examples with the highest scores, each to its own most
   probable wrong class (``instance``).

The authors trained a CNN on images. For text, ``confusion_scores`` trains a small multinomial
logistic regression on hashed word unigrams and bigrams, on the CPU.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from robustlib.data.errors import DataError
from robustlib.noise.base import NoiseResult, check_labels, check_rate, exact_count

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+")
_SCORE_BATCH = 4096


def instance(labels: np.ndarray, rate: float, *, scores: np.ndarray, seed: int) -> NoiseResult:
    """Corrupt the ``round(rate * N)`` most confusable examples to their most probable wrong class.

    For example ``i`` with label ``y_i``, the candidate class is ``argmax_{c != y_i} scores[i, c]``
    (the lowest index on ties) and the mislabelling score is that maximum. The examples are
    ranked by decreasing score, equal scores in a random order drawn from ``seed``, and the
    first ``round(rate * N)`` of them (halves round up) take their candidate class. Every
    corrupted label therefore differs from the clean one.

    Args:
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        rate: Share of examples to corrupt, in ``[0, 1)``.
        scores: ``(N, C)`` class probabilities per example, for example from
            ``confusion_scores``. Any finite scores work; only their order within a row and
            across rows matters.
        seed: Seed of the tie-break between equal scores.

    Returns:
        A NoiseResult whose ``realised_rate`` is ``round(rate * N) / N``.

    Raises:
        DataError: On invalid labels, rate or scores.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise DataError(f"scores must have shape (N, C) with C >= 2, got {scores.shape}")
    if not np.isfinite(scores).all():
        raise DataError("scores contain NaN or infinite values; recompute them")
    num_classes = scores.shape[1]
    labels = check_labels(labels, num_classes)
    if scores.shape[0] != labels.size:
        raise DataError(f"scores have {scores.shape[0]} rows but there are {labels.size} labels")
    rate = check_rate(rate)
    rng = np.random.default_rng(seed)

    rows = np.arange(labels.size)
    wrong = scores.copy()
    wrong[rows, labels] = -np.inf
    candidates = wrong.argmax(axis=1)
    strength = wrong[rows, candidates]

    # np.lexsort sorts by its last key first: by decreasing strength, then by a random tie-break.
    ranking = np.lexsort((rng.permutation(labels.size), -strength))
    chosen = ranking[: exact_count(rate, labels.size)]
    noisy = labels.copy()
    noisy[chosen] = candidates[chosen]
    return NoiseResult.from_labels(labels, noisy, num_classes)


def confusion_scores(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    num_classes: int,
    seed: int,
    epochs: int = 5,
    num_buckets: int = 2**16,
    batch_size: int = 256,
    learning_rate: float = 0.1,
) -> np.ndarray:
    """Average the softmax output of a classifier trained on the clean labels over its epochs.

    The classifier is a multinomial logistic regression on the mean of hashed word unigrams
    and bigrams (lower-cased ``\\w+`` tokens, crc32 modulo ``num_buckets``), with zero initial
    weights, trained with Adam on shuffled mini-batches on the CPU. After each epoch it scores
    every example; the scores are averaged over the epochs.

    Args:
        texts: ``N`` texts.
        labels: ``(N,)`` int64 clean labels in ``[0, C)``.
        num_classes: ``C``.
        seed: Seeds the batch order through a ``torch.Generator``; the global random state is
            not touched.
        epochs: Training epochs, at least 1.
        num_buckets: Size of the hashed feature space. The weight matrix has
            ``num_buckets * C`` float32 entries, and Adam keeps two more matrices of that size
            (about 120 MB in all for the default and 150 classes).
        batch_size: Examples per optimisation step.
        learning_rate: Adam step size.

    Returns:
        ``(N, C)`` float64 averaged class probabilities; each row sums to 1.

    Raises:
        DataError: On invalid labels, mismatched lengths or settings below 1.
    """
    labels = check_labels(labels, num_classes)
    if len(texts) != labels.size:
        raise DataError(f"got {len(texts)} texts but {labels.size} labels")
    for setting, value in (("epochs", epochs), ("num_buckets", num_buckets), ("batch_size", batch_size)):
        if value < 1:
            raise DataError(f"{setting} must be at least 1, got {value}")

    token_ids, offsets = _hash_features(texts, num_buckets)
    targets = torch.from_numpy(labels)
    generator = torch.Generator().manual_seed(int(seed))

    weight = torch.zeros(num_buckets, num_classes, requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    # Sparse gradients: a batch touches a few hundred of the hashed rows.
    optimizers = [
        torch.optim.SparseAdam([weight], lr=learning_rate),
        torch.optim.Adam([bias], lr=learning_rate),
    ]

    average = torch.zeros(labels.size, num_classes, dtype=torch.float64)
    for epoch in range(epochs):
        order = torch.randperm(labels.size, generator=generator)
        for start in range(0, labels.size, batch_size):
            batch = order[start:start + batch_size]
            logits = _logits(weight, bias, token_ids, offsets, batch)
            loss = F.cross_entropy(logits, targets[batch])
            for optimizer in optimizers:
                optimizer.zero_grad()
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()

        with torch.no_grad():
            for start in range(0, labels.size, _SCORE_BATCH):
                batch = torch.arange(start, min(start + _SCORE_BATCH, labels.size))
                probabilities = _logits(weight, bias, token_ids, offsets, batch).softmax(dim=1)
                average[batch] += probabilities.double()
        logger.debug("confusion scores: epoch %d of %d, last batch loss %.4f", epoch + 1, epochs, loss.item())

    return (average / epochs).numpy()


def _hash_features(texts: Sequence[str], num_buckets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat bucket ids of every text's unigrams and bigrams, and where each text starts."""
    token_ids: list[int] = []
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    for i, text in enumerate(texts):
        words = _TOKEN.findall(text.lower())
        features = words + [f"{first} {second}" for first, second in zip(words, words[1:])]
        # crc32 rather than hash(): Python salts str hashes per process, crc32 is stable.
        token_ids.extend(zlib.crc32(feature.encode("utf-8")) % num_buckets for feature in features)
        starts[i + 1] = len(token_ids)
    return torch.tensor(token_ids, dtype=torch.int64), torch.from_numpy(starts)


def _logits(
    weight: torch.Tensor, bias: torch.Tensor, token_ids: torch.Tensor, starts: torch.Tensor, batch: torch.Tensor
) -> torch.Tensor:
    """``(B, C)`` logits of the texts at ``batch``: mean of their feature rows plus the bias."""
    lengths = starts[batch + 1] - starts[batch]
    bag_offsets = torch.cumsum(lengths, dim=0) - lengths
    # Position j of the batch's flat feature list maps to starts[text] + (j - bag_offset[text]).
    flat = token_ids[torch.arange(int(lengths.sum())) + torch.repeat_interleave(starts[batch] - bag_offsets, lengths)]
    # A text without any word token has an empty bag, whose mean is the zero vector.
    pooled = F.embedding_bag(flat, weight, bag_offsets, mode="mean", sparse=True)
    return pooled + bias
