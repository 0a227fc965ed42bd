"""Tests of the stratified train/validation/test split."""

from __future__ import annotations

import numpy as np
import pytest

from robustlib.data import DataError, Splits, TextDataset, split_dataset


def make_dataset(counts: list[int]) -> TextDataset:
    """A dataset with ``counts[k]`` examples of class ``k``, classes interleaved, ids 1000 + row."""
    labels = np.concatenate([np.full(count, k) for k, count in enumerate(counts)]).astype(np.int64)
    labels = labels[np.random.default_rng(0).permutation(labels.size)]
    return TextDataset(
        name="toy",
        texts=[f"text {row}" for row in range(labels.size)],
        labels=labels,
        ids=1000 + np.arange(labels.size, dtype=np.int64),
        class_names=tuple(f"class{k}" for k in range(len(counts))),
    )


def class_counts(dataset: TextDataset, num_classes: int) -> list[int]:
    return np.bincount(dataset.labels, minlength=num_classes).tolist()


def test_split_sizes_per_class():
    splits = split_dataset(make_dataset([150, 150, 150]))

    # 150 per class at (0.8, 0.1, 0.1): 120 / 15 / 15.
    assert isinstance(splits, Splits)
    assert class_counts(splits.train, 3) == [120, 120, 120]
    assert class_counts(splits.val, 3) == [15, 15, 15]
    assert class_counts(splits.test, 3) == [15, 15, 15]


def test_split_remainders():
    splits = split_dataset(make_dataset([5, 7]))

    # 5 examples: floors 4/0/0, the spare one to val (remainders .5, .5, tie to the earlier
    # part), then test takes one from train: 3/1/1.
    # 7 examples: targets 5.6/0.7/0.7, floors 5/0/0, the two spare to val and test: 5/1/1.
    assert class_counts(splits.train, 2) == [3, 5]
    assert class_counts(splits.val, 2) == [1, 1]
    assert class_counts(splits.test, 2) == [1, 1]


def test_split_partitions_ids():
    dataset = make_dataset([20, 30, 10])
    splits = split_dataset(dataset, seed=3)

    ids = np.concatenate([part.ids for part in splits])
    assert sorted(ids.tolist()) == dataset.ids.tolist()
    assert len(set(ids.tolist())) == len(dataset)


def test_split_ids_keep_examples():
    dataset = make_dataset([20, 30, 10])
    splits = split_dataset(dataset, seed=3)

    for part in splits:
        rows = part.ids - 1000
        assert part.texts == [dataset.texts[row] for row in rows]
        assert part.labels.tolist() == dataset.labels[rows].tolist()


def test_split_keeps_row_order():
    splits = split_dataset(make_dataset([20, 30, 10]), seed=3)

    for part in splits:
        assert np.all(np.diff(part.ids) > 0)


def test_split_same_seed_same_split():
    dataset = make_dataset([40, 40])

    first = split_dataset(dataset, seed=7)
    second = split_dataset(dataset, seed=7)

    for part_a, part_b in zip(first, second):
        assert part_a.ids.tolist() == part_b.ids.tolist()


def test_split_other_seed_other_split():
    dataset = make_dataset([40, 40])

    first = split_dataset(dataset, seed=7)
    second = split_dataset(dataset, seed=8)

    assert first.test.ids.tolist() != second.test.ids.tolist()


def test_split_fractions_configurable():
    splits = split_dataset(make_dataset([100, 100]), fractions=(0.6, 0.3, 0.1))

    assert [len(part) for part in splits] == [120, 60, 20]


def test_split_zero_test_fraction():
    splits = split_dataset(make_dataset([10, 10]), fractions=(0.9, 0.1, 0.0))

    assert [len(part) for part in splits] == [18, 2, 0]


def test_split_keeps_noisy_labels():
    dataset = make_dataset([20, 20])
    noisy = (dataset.labels + 1) % 2
    dataset = TextDataset(
        name=dataset.name, texts=dataset.texts, labels=dataset.labels, ids=dataset.ids,
        class_names=dataset.class_names, noisy_labels=noisy,
    )

    splits = split_dataset(dataset)

    assert splits.train.noisy_labels.tolist() == ((splits.train.labels + 1) % 2).tolist()


def test_split_class_too_small():
    dataset = make_dataset([50, 2, 50, 1])

    with pytest.raises(DataError) as error:
        split_dataset(dataset)

    assert "2 classes have too few examples" in str(error.value)
    assert "needs at least 3 examples per class" in str(error.value)
    assert "'class1' (2), 'class3' (1)" in str(error.value)


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ((0.8, 0.1, 0.2), r"fractions must sum to 1, got \(0.8, 0.1, 0.2\)"),
        ((0.9, 0.0, 0.1), "the train and val fractions must be greater than 0"),
        ((0.8, 0.2), "fractions must have 3 entries"),
        ((1.2, 0.1, -0.3), "fractions must be finite and non-negative"),
    ],
)
def test_split_invalid_fractions(fractions, message):
    with pytest.raises(DataError, match=message):
        split_dataset(make_dataset([10, 10]), fractions=fractions)
