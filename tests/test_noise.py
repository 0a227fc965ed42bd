"""Property tests of the label-noise generators and of apply_noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robustlib.data import DataError, Taxonomy
from robustlib.noise import (
    NOISE_KINDS,
    NoiseResult,
    apply_noise,
    confusion_scores,
    instance,
    nested,
    pairflip,
    real,
    symmetric,
    symmetric_uniform,
)

NUM_CLASSES = 6
# 1,000 examples of 6 classes, class k has 100 + 20k examples: 100, 120, ..., 200 (sum 900),
# padded with 100 more of class 0 to reach 1,000.
LABELS = np.concatenate(
    [np.full(100 + 20 * k, k) for k in range(NUM_CLASSES)] + [np.zeros(100, dtype=np.int64)]
).astype(np.int64)

# Classes 0-2 under "home > kitchen", 3-4 under "home > garden", 5 alone under "media".
TAXONOMY = Taxonomy(
    paths=(
        ("home", "kitchen", "kettles"),
        ("home", "kitchen", "toasters"),
        ("home", "kitchen", "blenders"),
        ("home", "garden", "hoses"),
        ("home", "garden", "mowers"),
        ("media", "films"),
    )
)


def random_scores(seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(LABELS.size, NUM_CLASSES))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def generate(kind: str, rate: float, seed: int) -> NoiseResult:
    """Run one synthetic kind through apply_noise with every input it may need."""
    return apply_noise(
        kind, LABELS, rate, num_classes=NUM_CLASSES, seed=seed, taxonomy=TAXONOMY, scores=random_scores()
    )


SYNTHETIC = ("symmetric", "symmetric_uniform", "pairflip", "nested", "instance")
EXACT = ("symmetric", "nested", "instance")


# Properties every generator shares


@pytest.mark.parametrize("kind", SYNTHETIC)
def test_rate_zero_changes_nothing(kind):
    result = generate(kind, 0.0, seed=1)

    assert result.noisy_labels.tolist() == LABELS.tolist()
    assert not result.changed.any()
    assert result.realised_rate == 0.0


@pytest.mark.parametrize("kind", SYNTHETIC)
def test_same_seed_same_noise(kind):
    first = generate(kind, 0.3, seed=5)
    second = generate(kind, 0.3, seed=5)

    assert first.noisy_labels.tolist() == second.noisy_labels.tolist()


@pytest.mark.parametrize("kind", SYNTHETIC)
def test_other_seed_other_noise(kind):
    first = generate(kind, 0.3, seed=5)
    second = generate(kind, 0.3, seed=6)

    # For instance noise the seed only breaks ties; continuous random scores have none.
    if kind == "instance":
        assert first.noisy_labels.tolist() == second.noisy_labels.tolist()
    else:
        assert first.noisy_labels.tolist() != second.noisy_labels.tolist()


@pytest.mark.parametrize("kind", SYNTHETIC)
def test_realised_rate_is_changed_mean(kind):
    result = generate(kind, 0.3, seed=2)

    assert result.realised_rate == float(result.changed.mean())
    assert result.changed.tolist() == (result.noisy_labels != LABELS).tolist()


@pytest.mark.parametrize("kind", SYNTHETIC)
def test_transition_rows_sum_to_one(kind):
    result = generate(kind, 0.3, seed=2)

    assert result.transition.shape == (NUM_CLASSES, NUM_CLASSES)
    np.testing.assert_allclose(result.transition.sum(axis=1), np.ones(NUM_CLASSES), rtol=0, atol=1e-12)


def test_transition_absent_class_row_zero():
    labels = np.array([0, 0, 1, 1, 1], dtype=np.int64)

    result = symmetric(labels, 0.4, num_classes=3, seed=0)

    assert result.transition[2].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("kind", EXACT)
def test_exact_rate(kind):
    result = generate(kind, 0.2, seed=3)

    # round(0.2 * 1000) = 200 examples change.
    assert int(result.changed.sum()) == 200
    assert result.realised_rate == 0.2


def test_exact_rate_rounds_half_up():
    labels = np.arange(25, dtype=np.int64) % 5

    result = symmetric(labels, 0.1, num_classes=5, seed=0)

    # 0.1 * 25 = 2.5 rounds up to 3 (Python's round would give 2).
    assert int(result.changed.sum()) == 3


@pytest.mark.parametrize("kind", SYNTHETIC)
@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, math.nan])
def test_rate_outside_range(kind, rate):
    with pytest.raises(DataError, match=r"noise rate must lie in \[0, 1\)"):
        generate(kind, rate, seed=0)


@pytest.mark.parametrize("kind", SYNTHETIC)
def test_label_out_of_range(kind):
    labels = LABELS.copy()
    labels[3] = NUM_CLASSES

    with pytest.raises(DataError, match=r"labels must lie in \[0, 6\), got values from 0 to 6"):
        apply_noise(kind, labels, 0.2, num_classes=NUM_CLASSES, seed=0, taxonomy=TAXONOMY, scores=random_scores())


def test_labels_must_be_integers():
    with pytest.raises(DataError, match="labels must be integer class indices, got dtype float64"):
        symmetric(LABELS.astype(float), 0.2, num_classes=NUM_CLASSES, seed=0)


def test_empty_labels():
    with pytest.raises(DataError, match="labels is empty"):
        symmetric(np.array([], dtype=np.int64), 0.2, num_classes=NUM_CLASSES, seed=0)


# symmetric and symmetric_uniform


def test_symmetric_never_keeps_class():
    result = symmetric(LABELS, 0.5, num_classes=NUM_CLASSES, seed=4)

    # round(0.5 * 1000) = 500 examples are drawn and every one of them changes class.
    assert int(result.changed.sum()) == 500
    assert np.all(np.diag(result.transition) < 1)


def test_symmetric_reaches_every_other_class():
    result = symmetric(LABELS, 0.5, num_classes=NUM_CLASSES, seed=4)

    off_diagonal = result.transition[~np.eye(NUM_CLASSES, dtype=bool)]
    assert np.all(off_diagonal > 0)


def test_symmetric_uniform_rate_within_bound():
    labels = np.arange(20_000, dtype=np.int64) % 10

    result = symmetric_uniform(labels, 0.3, num_classes=10, seed=0)

    # Each label changes with probability p = 0.3 * 9 / 10 = 0.27, so the realised rate has
    # standard deviation sqrt(0.27 * 0.73 / 20000) = 0.00314; allow 5 of them (0.0157).
    expected = 0.3 * 9 / 10
    tolerance = 5 * math.sqrt(expected * (1 - expected) / labels.size)
    assert abs(result.realised_rate - expected) < tolerance


def test_symmetric_uniform_may_keep_class():
    labels = np.arange(20_000, dtype=np.int64) % 10
    rng = np.random.default_rng(0)

    result = symmetric_uniform(labels, 0.3, num_classes=10, seed=0)

    # Replays the generator's draws: some redrawn labels land on their own class.
    redrawn = rng.random(labels.size) < 0.3
    assert int(redrawn.sum()) > int(result.changed.sum())


# pairflip


def test_pairflip_goes_to_next_class():
    result = pairflip(LABELS, 0.3, num_classes=NUM_CLASSES, seed=0)

    moved_from = LABELS[result.changed]
    assert result.noisy_labels[result.changed].tolist() == ((moved_from + 1) % NUM_CLASSES).tolist()


def test_pairflip_exact_per_class():
    result = pairflip(LABELS, 0.3, num_classes=NUM_CLASSES, seed=0)

    # Class k has n_k = 200, 120, 140, 160, 180, 200 examples; round(0.3 * n_k) move:
    # 60, 36, 42, 48, 54, 60.
    moved = np.bincount(LABELS[result.changed], minlength=NUM_CLASSES).tolist()
    assert moved == [60, 36, 42, 48, 54, 60]


def test_pairflip_wraps_last_class():
    result = pairflip(LABELS, 0.3, num_classes=NUM_CLASSES, seed=0)

    assert result.transition[5, 0] == pytest.approx(60 / 200)


# nested


def test_nested_stays_within_parent():
    result = nested(LABELS, 0.3, num_classes=NUM_CLASSES, taxonomy=TAXONOMY, seed=0)

    parents = np.array(TAXONOMY.parents)
    changed = result.changed
    assert parents[result.noisy_labels[changed]].tolist() == parents[LABELS[changed]].tolist()


def test_nested_skips_classes_without_siblings():
    result = nested(LABELS, 0.3, num_classes=NUM_CLASSES, taxonomy=TAXONOMY, seed=0)

    # Class 5 ("films") is alone under "media", so none of its 200 examples changes.
    assert not result.changed[LABELS == 5].any()
    assert int(result.changed.sum()) == 300


def test_nested_rate_too_high():
    # Only classes 0-4 have siblings: 800 of 1,000 examples. round(0.85 * 1000) = 850 > 800.
    with pytest.raises(DataError, match="needs 850 examples whose class has a sibling .* only 800 of 1000"):
        nested(LABELS, 0.85, num_classes=NUM_CLASSES, taxonomy=TAXONOMY, seed=0)


def test_nested_taxonomy_missing_classes():
    short = Taxonomy(paths=TAXONOMY.paths[:4])

    with pytest.raises(DataError) as error:
        nested(LABELS, 0.2, num_classes=NUM_CLASSES, taxonomy=short, seed=0)

    assert "the taxonomy does not cover every class" in str(error.value)
    assert "classes 4 to 5 have no path" in str(error.value)


def test_nested_needs_taxonomy():
    with pytest.raises(DataError, match="nested noise needs a taxonomy"):
        apply_noise("nested", LABELS, 0.2, num_classes=NUM_CLASSES, seed=0)


# instance


def test_instance_by_hand():
    labels = np.array([0, 1, 2, 0], dtype=np.int64)
    scores = np.array(
        [
            [0.5, 0.4, 0.1],  # best wrong class 1, score 0.4
            [0.1, 0.8, 0.1],  # best wrong class 0 (tie with 2, lowest index), score 0.1
            [0.2, 0.7, 0.1],  # best wrong class 1, score 0.7
            [0.9, 0.05, 0.05],  # best wrong class 1, score 0.05
        ]
    )

    result = instance(labels, 0.5, scores=scores, seed=0)

    # round(0.5 * 4) = 2: the two highest scores, 0.7 (row 2) and 0.4 (row 0), flip.
    assert result.noisy_labels.tolist() == [1, 1, 1, 0]


def test_instance_ties_follow_seed():
    labels = np.zeros(10, dtype=np.int64)
    scores = np.tile([0.5, 0.5], (10, 1))

    chosen = {tuple(instance(labels, 0.3, scores=scores, seed=seed).changed) for seed in range(5)}

    # All ten scores tie, so the seed picks which three flip.
    assert len(chosen) > 1


def test_instance_never_keeps_class():
    result = instance(LABELS, 0.4, scores=random_scores(), seed=0)

    assert int(result.changed.sum()) == 400


def test_instance_needs_scores():
    with pytest.raises(DataError, match="needs scores: compute them with robustlib.noise.confusion_scores"):
        apply_noise("instance", LABELS, 0.2, num_classes=NUM_CLASSES, seed=0)


def test_instance_scores_shape():
    with pytest.raises(DataError, match="scores have 999 rows but there are 1000 labels"):
        instance(LABELS, 0.2, scores=random_scores()[1:], seed=0)


def test_confusion_scores_learn_toy_task():
    # Class 0 texts mention fruit, class 1 vehicles, class 2 both: class 2 is confusable.
    texts = ["apple pear"] * 30 + ["car truck"] * 30 + ["apple truck"] * 30
    labels = np.repeat(np.arange(3), 30).astype(np.int64)

    scores = confusion_scores(texts, labels, num_classes=3, seed=0, epochs=3, num_buckets=1024)

    assert scores.shape == (90, 3)
    np.testing.assert_allclose(scores.sum(axis=1), np.ones(90), rtol=0, atol=1e-6)
    assert (scores.argmax(axis=1) == labels).mean() == 1.0


def test_confusion_scores_deterministic():
    texts = [f"word{i % 7} other{i % 3}" for i in range(60)]
    labels = (np.arange(60) % 3).astype(np.int64)

    first = confusion_scores(texts, labels, num_classes=3, seed=1, epochs=2, num_buckets=512)
    second = confusion_scores(texts, labels, num_classes=3, seed=1, epochs=2, num_buckets=512)

    assert np.array_equal(first, second)


def test_confusion_scores_length_mismatch():
    with pytest.raises(DataError, match="got 2 texts but 3 labels"):
        confusion_scores(["a", "b"], np.array([0, 1, 0]), num_classes=2, seed=0)


# real and none


def test_real_uses_dataset_noise():
    noisy = LABELS.copy()
    noisy[:50] = 3

    result = apply_noise("real", LABELS, 0.9, num_classes=NUM_CLASSES, seed=0, noisy_labels=noisy)

    # The first 50 labels are class 0 and become 3; the rate argument is ignored.
    assert result.noisy_labels.tolist() == noisy.tolist()
    assert result.realised_rate == 0.05


def test_real_needs_noisy_labels():
    with pytest.raises(DataError, match="real noise needs the dataset's noisy labels"):
        real(LABELS, None, num_classes=NUM_CLASSES)


def test_none_returns_labels():
    result = apply_noise("none", LABELS, 0.0, num_classes=NUM_CLASSES, seed=0)

    assert result.noisy_labels.tolist() == LABELS.tolist()
    assert result.transition.tolist() == np.eye(NUM_CLASSES).tolist()


def test_none_rejects_rate():
    with pytest.raises(DataError, match="noise kind 'none' takes rate 0 or None, got 0.2"):
        apply_noise("none", LABELS, 0.2, num_classes=NUM_CLASSES, seed=0)


def test_unknown_kind_lists_allowed():
    with pytest.raises(DataError) as error:
        apply_noise("asymmetric", LABELS, 0.2, num_classes=NUM_CLASSES, seed=0)

    assert "unknown noise kind 'asymmetric'" in str(error.value)
    assert "allowed kinds: none, symmetric, symmetric_uniform, pairflip, nested, instance, real" in str(error.value)


def test_noise_kinds():
    assert NOISE_KINDS == ("none", "symmetric", "symmetric_uniform", "pairflip", "nested", "instance", "real")
