"""Metric definitions checked on a hand-built case."""

import math

import numpy as np
import pytest

from robustlib.training import metrics

# Six validation examples. Examples 2, 3 and 5 are corrupted (noisy label != clean label).
CLEAN = np.array([0, 1, 2, 0, 1, 2])
NOISY = np.array([0, 1, 0, 2, 1, 1])
PRED = np.array([0, 2, 2, 2, 1, 1])


def test_accuracy_all():
    # PRED == NOISY at positions 0, 3, 4, 5: 4 of 6.
    assert metrics.accuracy(PRED, NOISY) == pytest.approx(4 / 6)


def test_accuracy_on_uncorrupted_subset():
    # Uncorrupted positions 0, 1, 4; PRED right at 0 and 4: 2 of 3.
    uncorrupted = NOISY == CLEAN
    assert metrics.accuracy(PRED, NOISY, uncorrupted) == pytest.approx(2 / 3)


def test_corrupted_shares():
    # Corrupted positions 2, 3, 5. Predicted clean label: position 2 only (2 == 2) -> 1/3.
    # Predicted noisy label: position 3 (2 == 2) and 5 (1 == 1) -> 2/3.
    true_share, noisy_share = metrics.corrupted_shares(PRED, CLEAN, NOISY, NOISY != CLEAN)
    assert true_share == pytest.approx(1 / 3)
    assert noisy_share == pytest.approx(2 / 3)


def test_corrupted_shares_without_noise_are_nan():
    true_share, noisy_share = metrics.corrupted_shares(PRED, CLEAN, CLEAN, np.zeros(6, dtype=bool))
    assert math.isnan(true_share)
    assert math.isnan(noisy_share)


def test_detection_scores():
    # 5 examples flagged, 3 of them corrupted, 4 corrupted in all: precision 3/5, recall 3/4.
    precision, recall = metrics.detection_scores(3, 5, 4)
    assert precision == pytest.approx(0.6)
    assert recall == pytest.approx(0.75)


def test_detection_scores_undefined():
    precision, recall = metrics.detection_scores(0, 0, 0)
    assert math.isnan(precision)
    assert math.isnan(recall)


def test_best_epoch_first_maximum_ignoring_nan():
    assert metrics.best_epoch([0.5, float("nan"), 0.7, 0.7, 0.6]) == 2


def test_best_epoch_rejects_all_nan():
    with pytest.raises(ValueError, match="not nan"):
        metrics.best_epoch([float("nan")])
