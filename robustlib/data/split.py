"""A deterministic split into training, validation and test sets, stratified by class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from robustlib.data.dataset import TextDataset
from robustlib.data.errors import DataError

_MAX_LISTED = 10


class Splits(NamedTuple):
    """The three parts of a dataset; each keeps the dataset's ids, classes and taxonomy."""

    train: TextDataset
    val: TextDataset
    test: TextDataset


def split_dataset(dataset: TextDataset, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Splits:
    """Split a dataset into training, validation and test sets, stratified by clean label.

    Each class is split on its own. Its ``n`` examples are shuffled with a
    ``numpy.random.Generator`` seeded by ``seed``, and part ``j`` gets ``floor(f_j * n)`` of them.
    The examples left over go one each to the parts with the largest fractional remainders,
    ties to the earlier part. A part with a non-zero fraction that got no example then takes one
    from the largest part, so every class appears in every such part. For example, 150 examples
    with fractions (0.8, 0.1, 0.1) give 120/15/15, and 5 examples give 3/1/1.

    Within each part the examples keep their order in ``dataset``. The same dataset, fractions
    and seed give the same split on every machine.

    Args:
        dataset: The dataset to split; labels are the clean labels.
        fractions: Shares of (train, val, test). They must sum to 1; train and val must be
            greater than 0, test may be 0 (the test set is then empty).
        seed: Seed of the shuffle.

    Returns:
        ``Splits(train, val, test)``.

    Raises:
        DataError: If the fractions are invalid, or a class has fewer examples than there are
            parts with a non-zero fraction. The message names each such class and its count.
    """
    shares = _check_fractions(fractions)
    parts = [part for part, share in enumerate(shares) if share > 0]

    counts = np.bincount(dataset.labels, minlength=dataset.num_classes)
    too_small = [(dataset.class_names[k], int(count)) for k, count in enumerate(counts) if 0 < count < len(parts)]
    if too_small:
        listed = ", ".join(f"{name!r} ({count})" for name, count in too_small[:_MAX_LISTED])
        more = f" and {len(too_small) - _MAX_LISTED} more" if len(too_small) > _MAX_LISTED else ""
        raise DataError(
            f"{len(too_small)} classes have too few examples for a split with fractions {tuple(shares)}, which "
            f"needs at least {len(parts)} examples per class (one per part): {listed}{more}. "
            "Drop or merge these classes, or set a fraction to 0"
        )

    rng = np.random.default_rng(seed)
    order = np.argsort(dataset.labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    chosen: list[list[np.ndarray]] = [[], [], []]
    for k in range(dataset.num_classes):
        members = rng.permutation(order[starts[k]:starts[k + 1]])
        sizes = _part_sizes(len(members), shares)
        bounds = np.cumsum([0, *sizes])
        for part in range(3):
            chosen[part].append(members[bounds[part]:bounds[part + 1]])

    train, val, test = (
        dataset.subset(np.sort(np.concatenate(pieces)).astype(np.int64)) for pieces in chosen
    )
    return Splits(train=train, val=val, test=test)


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    shares = [float(share) for share in fractions]
    if len(shares) != 3:
        raise DataError(f"fractions must have 3 entries (train, val, test), got {len(shares)}: {tuple(fractions)}")
    if not all(math.isfinite(share) and share >= 0 for share in shares):
        raise DataError(f"fractions must be finite and non-negative, got {tuple(fractions)}")
    if shares[0] == 0 or shares[1] == 0:
        raise DataError(f"the train and val fractions must be greater than 0, got {tuple(fractions)}")
    if not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
        raise DataError(f"fractions must sum to 1, got {tuple(fractions)} (sum {sum(shares)})")
    return shares


def _part_sizes(n: int, shares: list[float]) -> list[int]:
    targets = [share * n for share in shares]
    sizes = [math.floor(target) for target in targets]

    # Largest remainder first; sorted() is stable, so ties go to the earlier part.
    by_remainder = sorted(range(3), key=lambda part: targets[part] - sizes[part], reverse=True)
    for part in by_remainder[: n - sum(sizes)]:
        sizes[part] += 1

    for part in range(3):
        if shares[part] > 0 and sizes[part] == 0:
            largest = max(range(3), key=lambda other: sizes[other])
            sizes[largest] -= 1
            sizes[part] += 1
    return sizes
