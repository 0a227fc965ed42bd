"""Tests of self-paced learning and the shared selection helpers."""

import math

import pytest
import torch

from _toy import ToyClassifier, gradients, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import CrossEntropy
from robustlib.methods.spl import (
    SelfPacedLearning,
    drop_rate_at,
    kept_mask,
    lowest_indices,
    num_kept,
    self_paced_cross_entropy,
)


def test_spl_hand_value():
    logits, targets = hand_batch()
    # drop floor(0.25·4) = 1: the largest CE, log 4 (example 2).
    # mean of the rest: (log 3 + log 2 + log(10/3)) / 3 = log(20) / 3 = 0.9985774
    loss = self_paced_cross_entropy(logits, targets, drop_rate=0.25)
    assert loss.item() == pytest.approx(math.log(20) / 3, rel=1e-12)


def test_spl_hand_value_half_dropped():
    logits, targets = hand_batch()
    # drop floor(0.5·4) = 2: log 4 and log(10/3); mean of log 3 and log 2 = log(6) / 2
    loss = self_paced_cross_entropy(logits, targets, drop_rate=0.5)
    assert loss.item() == pytest.approx(math.log(6) / 2, rel=1e-12)


def test_spl_reductions():
    logits, targets = hand_batch()
    per_example = self_paced_cross_entropy(logits, targets, drop_rate=0.25, reduction="none")
    assert per_example.tolist() == pytest.approx([math.log(3), math.log(2), 0.0, math.log(10 / 3)], rel=1e-12)
    total = self_paced_cross_entropy(logits, targets, drop_rate=0.25, reduction="sum")
    assert total.item() == pytest.approx(math.log(20), rel=1e-12)


def test_spl_selected_marks_kept():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    output = run_step(SelfPacedLearning(noise_rate=0.25), [model], inputs, targets)
    losses = torch.nn.functional.cross_entropy(output.logits, targets, reduction="none")
    # floor(0.25·8) = 2 dropped: the two largest losses.
    assert output.selected.sum().item() == 6
    assert losses[~output.selected].min() >= losses[output.selected].max()


def test_spl_zero_rate_equals_ce():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    baseline = run_step(CrossEntropy(), [model], inputs, targets)
    baseline_gradients = gradients(model)
    output = run_step(SelfPacedLearning(noise_rate=0.0), [model], inputs, targets)
    assert torch.equal(output.loss, baseline.loss)
    for gradient, expected in zip(gradients(model), baseline_gradients):
        assert torch.equal(gradient, expected)
    assert output.selected.all()


def test_num_kept_rounding():
    # floor(0.2·32) = 6 dropped; 0.29·100 = 28.999999999999996 in floating point, still 29 dropped.
    assert num_kept(32, 0.2) == 26
    assert num_kept(100, 0.29) == 71
    assert num_kept(4, 0.0) == 4


def test_num_kept_keeps_one():
    # floor(0.99·1) = 0 dropped: a batch of one is always kept.
    assert num_kept(1, 0.99) == 1
    assert num_kept(10, 0.99) == 1


def test_spl_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    output = run_step(SelfPacedLearning(noise_rate=0.9), [model], inputs, targets)
    assert output.selected.tolist() == [True]
    assert torch.isfinite(output.loss)


def test_spl_drops_all_but_one():
    logits, targets = hand_batch()
    # floor(0.9·4) = 3 dropped; the lowest CE is log 2.
    loss = self_paced_cross_entropy(logits, targets, drop_rate=0.9)
    assert loss.item() == pytest.approx(math.log(2), rel=1e-12)


def test_lowest_indices_breaks_ties_by_position():
    scores = torch.tensor([1.0, 0.5, 1.0, 1.0])
    assert lowest_indices(scores, 2).tolist() == [1, 0]


def test_lowest_indices_keep_all():
    assert lowest_indices(torch.tensor([3.0, 1.0]), 2) is None


def test_kept_mask():
    assert kept_mask(torch.tensor([3, 0]), 4, torch.device("cpu")).tolist() == [True, False, False, True]
    assert kept_mask(None, 2, torch.device("cpu")).tolist() == [True, True]


def test_spl_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], requires_grad=True)
    targets = torch.tensor([1, 1, 0])
    loss = self_paced_cross_entropy(logits, targets, drop_rate=0.4)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


def test_drop_rate_ramp():
    # ε·min(1, e / T_k) with ε = 0.4, T_k = 4.
    rates = [drop_rate_at(epoch, noise_rate=0.4, ramp_epochs=4) for epoch in range(6)]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.4])


def test_drop_rate_constant():
    assert drop_rate_at(0, noise_rate=0.4, ramp_epochs=0) == 0.4


def test_spl_ramp_follows_epochs():
    method = SelfPacedLearning(noise_rate=0.4, ramp_epochs=2)
    assert method.drop_rate == 0.0
    method.start_epoch(1)
    assert method.drop_rate == pytest.approx(0.2)
    method.start_epoch(5)
    assert method.drop_rate == pytest.approx(0.4)


def test_spl_leaves_generator_alone():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    SelfPacedLearning().step([model], inputs, targets, torch.arange(8), generator=generator)
    assert torch.equal(generator.get_state(), state)


@pytest.mark.parametrize("noise_rate", [-0.1, 1.0, 1.5, float("nan")])
def test_spl_rejects_noise_rate(noise_rate):
    with pytest.raises(ValueError, match=r"noise_rate must be in \[0, 1\), got"):
        SelfPacedLearning(noise_rate=noise_rate)


def test_spl_rejects_ramp_epochs():
    with pytest.raises(ValueError, match=r"ramp_epochs must be an int >= 0 \(0: no ramp\), got -1"):
        SelfPacedLearning(ramp_epochs=-1)
