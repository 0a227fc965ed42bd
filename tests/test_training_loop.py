"""The training loop: determinism, exact reductions to the baseline, recorded metrics."""

import math

import numpy as np
import pytest
import torch

from robustlib.methods import build_method
from robustlib.methods.base import Method, StepOutput
from robustlib.methods.ce import per_example_cross_entropy, reduce_kept
from robustlib.models import build_model
from robustlib.noise import apply_noise
from robustlib.training import SplitData, TrainSettings, fit

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
NUM_CLASSES = len(WORDS)


def make_texts(count: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts whose class is given by a keyword among random filler words."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=count)
    filler = [f"w{i}" for i in range(40)]
    texts = [" ".join([WORDS[y], *rng.choice(filler, size=4)]) for y in labels]
    return texts, labels


@pytest.fixture(scope="module")
def splits():
    train_texts, train_clean = make_texts(240, seed=1)
    val_texts, val_clean = make_texts(60, seed=2)
    test_texts, test_clean = make_texts(60, seed=3)
    train_noise = apply_noise("symmetric", train_clean, 0.25, num_classes=NUM_CLASSES, seed=4)
    val_noise = apply_noise("symmetric", val_clean, 0.25, num_classes=NUM_CLASSES, seed=5)
    return {
        "texts": (train_texts, val_texts, test_texts),
        "labels": (train_noise.noisy_labels, val_noise.noisy_labels, test_clean),
        "clean": (train_clean, val_clean, test_clean),
    }


SETTINGS = TrainSettings(epochs=3, batch_size=16, lr=0.01, device="cpu")


def run(method: Method, splits, settings=SETTINGS, seed=0):
    models = [build_model("fasttext", num_classes=NUM_CLASSES, seed=100 + k) for k in range(method.num_networks)]
    data = [
        SplitData(models[0].encode(texts), labels, clean)
        for texts, labels, clean in zip(splits["texts"], splits["labels"], splits["clean"])
    ]
    result = fit(method, models, *data, settings=settings, seed=seed, progress=False)
    return result, models


def without_timing(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def assert_same_numbers(first, second):
    """Equal histories, treating nan == nan."""
    assert len(first) == len(second)
    for row_a, row_b in zip(first, second):
        assert row_a.keys() == row_b.keys()
        for key in row_a:
            a, b = row_a[key], row_b[key]
            assert (a == b) or (math.isnan(a) and math.isnan(b)), f"{key}: {a} != {b}"


def test_same_seed_identical_history(splits):
    first, _ = run(build_method("ce"), splits)
    second, _ = run(build_method("ce"), splits)
    assert_same_numbers(without_timing(first.history), without_timing(second.history))


def test_other_seed_other_history(splits):
    first, _ = run(build_method("ce"), splits, seed=0)
    second, _ = run(build_method("ce"), splits, seed=1)
    assert [r["train_loss"] for r in first.history] != [r["train_loss"] for r in second.history]


def test_history_records_every_metric(splits):
    result, _ = run(build_method("ce"), splits)
    expected = {
        "epoch", "train_loss", "lr", "val_accuracy", "val_clean_subset_accuracy",
        "val_corrupted_true_share", "val_corrupted_noisy_share", "train_corrupted_true_share",
        "train_corrupted_noisy_share", "test_accuracy", "selection_precision", "selection_recall", "seconds",
    }
    assert set(result.history[0]) == expected
    assert [row["epoch"] for row in result.history] == [1, 2, 3]


def test_best_epoch_follows_noisy_validation(splits):
    result, _ = run(build_method("ce"), splits)
    val = [row["val_accuracy"] for row in result.history]
    assert result.best_epoch == int(np.argmax(val)) + 1
    assert result.best_test_accuracy == result.history[result.best_epoch - 1]["test_accuracy"]
    assert result.final_test_accuracy == result.history[-1]["test_accuracy"]


@pytest.mark.parametrize("name", ["spl", "prl"])
def test_zero_epsilon_is_the_baseline_bit_for_bit(splits, name):
    base, base_models = run(build_method("ce"), splits)
    other, other_models = run(build_method(name, noise_rate=0.0), splits)
    for key in ("train_loss", "val_accuracy", "test_accuracy"):
        assert [r[key] for r in base.history] == [r[key] for r in other.history], key
    for a, b in zip(base_models[0].parameters(), other_models[0].parameters()):
        assert torch.equal(a, b)


def test_coteaching_zero_epsilon_first_network_is_the_baseline(splits):
    base, base_models = run(build_method("ce"), splits)
    other, other_models = run(build_method("coteaching", noise_rate=0.0), splits)
    for key in ("val_accuracy", "val_clean_subset_accuracy", "test_accuracy", "train_corrupted_noisy_share"):
        assert [r[key] for r in base.history] == [r[key] for r in other.history], key
    for a, b in zip(base_models[0].parameters(), other_models[0].parameters()):
        assert torch.equal(a, b)
    # The second network starts elsewhere, so it ends elsewhere.
    assert not torch.equal(next(other_models[0].parameters()), next(other_models[1].parameters()))


class OracleDrop(Method):
    """Drops exactly the corrupted examples: a perfect noise detector."""

    name = "oracle"

    def __init__(self, corrupted: torch.Tensor):
        self.corrupted = corrupted

    def step(self, models, inputs, targets, index, *, generator):
        logits = models[0](**inputs)
        keep = ~self.corrupted[index]
        loss = reduce_kept(per_example_cross_entropy(logits, targets), "mean", torch.nonzero(keep).flatten())
        return StepOutput(loss, logits.detach(), keep)


def test_detection_of_a_perfect_detector(splits):
    corrupted = torch.as_tensor(splits["labels"][0] != splits["clean"][0])
    result, _ = run(OracleDrop(corrupted), splits)
    assert result.history[0]["selection_precision"] == 1.0
    assert result.history[0]["selection_recall"] == 1.0


def test_detection_is_nan_for_non_selecting_methods(splits):
    result, _ = run(build_method("ce"), splits)
    assert math.isnan(result.history[0]["selection_precision"])
    assert math.isnan(result.history[0]["selection_recall"])


def test_memorisation_shares_are_complementary_bounds(splits):
    result, _ = run(build_method("ce"), splits)
    for row in result.history:
        # A prediction cannot equal both the clean and the (different) noisy label.
        assert row["train_corrupted_true_share"] + row["train_corrupted_noisy_share"] <= 1.0


def test_wrong_number_of_networks(splits):
    with pytest.raises(ValueError, match="trains 2 network"):
        models = [build_model("fasttext", num_classes=NUM_CLASSES, seed=0)]
        data = [SplitData(models[0].encode(t), y, c) for t, y, c in zip(splits["texts"], splits["labels"], splits["clean"])]
        fit(build_method("coteaching", noise_rate=0.2), models, *data, settings=SETTINGS, seed=0, progress=False)


@pytest.mark.parametrize(
    "option, message",
    [
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"lr": 0}, "lr must be positive"),
        ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
        ({"schedule": "step"}, "unknown schedule 'step'"),
        ({"grad_clip": -1.0}, "grad_clip must be positive"),
        ({"device": "tpu"}, "unknown device 'tpu'"),
    ],
)
def test_bad_settings_rejected(option, message):
    with pytest.raises(ValueError, match=message):
        TrainSettings(**option)
