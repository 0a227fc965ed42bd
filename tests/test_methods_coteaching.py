"""Tests of co-teaching."""

import math

import pytest
import torch

from _toy import ToyClassifier, gradients, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import CrossEntropy
from robustlib.methods.coteaching import CoTeaching, co_teaching_losses


def _second_logits():
    # Like the hand batch except example 1, whose label now has probability 1/8 (CE = log 8).
    # Second network's CE: log 3, log 8, log 4, log(10/3).
    weights = [[1.0, 1.0, 1.0], [1.0, 1.0, 6.0], [3.0, 2.0, 3.0], [6.0, 1.0, 3.0]]
    return torch.tensor(weights, dtype=torch.float64).log()


def test_coteaching_hand_values():
    first, targets = hand_batch()
    loss_first, loss_second, kept_by_first, kept_by_second = co_teaching_losses(
        first, _second_logits(), targets, forget_rate=0.25
    )
    # Each keeps 4 - floor(0.25·4) = 3. The first drops example 2 (log 4), the second example 1 (log 8).
    assert kept_by_first.tolist() == [True, True, False, True]
    assert kept_by_second.tolist() == [True, False, True, True]
    # First network on the second's set {0, 2, 3}: (log 3 + log 4 + log(10/3)) / 3 = log(40) / 3 = 1.2296264
    assert loss_first.item() == pytest.approx(math.log(40) / 3, rel=1e-12)
    # Second network on the first's set {0, 1, 3}: (log 3 + log 8 + log(10/3)) / 3 = log(80) / 3 = 1.4606755
    assert loss_second.item() == pytest.approx(math.log(80) / 3, rel=1e-12)


def test_coteaching_averages_once():
    first, targets = hand_batch()
    loss_first, _, _, _ = co_teaching_losses(first, _second_logits(), targets, forget_rate=0.25)
    # The reference code's second division by the kept count would give log(40) / 9 = 0.4098755.
    assert loss_first.item() != pytest.approx(math.log(40) / 9)


def test_coteaching_reduction_sum():
    first, targets = hand_batch()
    loss_first, loss_second, _, _ = co_teaching_losses(
        first, _second_logits(), targets, forget_rate=0.25, reduction="sum"
    )
    assert loss_first.item() == pytest.approx(math.log(40), rel=1e-12)
    assert loss_second.item() == pytest.approx(math.log(80), rel=1e-12)


def test_coteaching_step_hand_value():
    first, targets = hand_batch()

    class _Fixed(torch.nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.logits = logits

        def forward(self, **inputs):
            return self.logits

    method = CoTeaching(noise_rate=0.25, ramp_epochs=0)
    output = method.step([_Fixed(first), _Fixed(_second_logits())], {}, targets, torch.arange(4), generator=None)
    # log(40)/3 + log(80)/3 = log(3200)/3 = 2.6903019
    assert output.loss.item() == pytest.approx(math.log(3200) / 3, rel=1e-12)
    # selected is what the first network trains on: the second network's selection.
    assert output.selected.tolist() == [True, False, True, True]
    assert torch.equal(output.logits, first)


def test_coteaching_zero_rate_equals_ce():
    first = ToyClassifier(seed=0)
    second = ToyClassifier(seed=1)
    inputs, targets = toy_inputs(8)
    baseline = run_step(CrossEntropy(), [first], inputs, targets)
    baseline_gradients = gradients(first)
    loss_first, _, _, _ = co_teaching_losses(first(**inputs), second(**inputs), targets, forget_rate=0.0)
    assert torch.equal(loss_first, baseline.loss)
    run_step(CoTeaching(noise_rate=0.0), [first, second], inputs, targets)
    for gradient, expected in zip(gradients(first), baseline_gradients):
        assert torch.equal(gradient, expected)


def test_coteaching_peer_init_irrelevant_at_zero_rate():
    first = ToyClassifier(seed=0)
    inputs, targets = toy_inputs(8)
    run_step(CoTeaching(noise_rate=0.0), [first, ToyClassifier(seed=1)], inputs, targets)
    with_one = gradients(first)
    run_step(CoTeaching(noise_rate=0.0), [first, ToyClassifier(seed=2)], inputs, targets)
    for gradient, expected in zip(gradients(first), with_one):
        assert torch.equal(gradient, expected)


def test_coteaching_networks_get_own_gradient():
    first, second = ToyClassifier(seed=0), ToyClassifier(seed=1)
    inputs, targets = toy_inputs(10)
    method = CoTeaching(noise_rate=0.3, ramp_epochs=0)
    output = run_step(method, [first, second], inputs, targets)
    # The first network's gradient is that of CE over the set the second network kept.
    summed = gradients(first)
    first.zero_grad(set_to_none=True)
    losses = torch.nn.functional.cross_entropy(first(**inputs), targets, reduction="none")
    losses[output.selected].mean().backward()
    for gradient, expected in zip(summed, gradients(first)):
        torch.testing.assert_close(gradient, expected)


def test_coteaching_schedule():
    method = CoTeaching(noise_rate=0.2)
    # r(e) = 0.2·min(1, e / 10) with the default T_k = 10.
    assert method.forget_rate == 0.0
    method.start_epoch(5)
    assert method.forget_rate == pytest.approx(0.1)
    method.start_epoch(12)
    assert method.forget_rate == pytest.approx(0.2)


def test_coteaching_marketplace_ramp():
    method = CoTeaching(noise_rate=0.2, ramp_epochs=1)
    method.start_epoch(1)
    assert method.forget_rate == pytest.approx(0.2)


def test_coteaching_batch_of_one():
    inputs, targets = toy_inputs(1)
    method = CoTeaching(noise_rate=0.9, ramp_epochs=0)
    output = run_step(method, [ToyClassifier(seed=0), ToyClassifier(seed=1)], inputs, targets)
    assert output.selected.tolist() == [True]
    assert torch.isfinite(output.loss)


def test_coteaching_extreme_logits_finite():
    first = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], requires_grad=True)
    second = torch.tensor([[-1e4, 1e4, 0.0], [1e4, -1e4, 0.0], [0.0, 1e4, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 1, 0])
    loss_first, loss_second, _, _ = co_teaching_losses(first, second, targets, forget_rate=0.4)
    (loss_first + loss_second).backward()
    assert torch.isfinite(loss_first + loss_second)
    assert torch.isfinite(first.grad).all()
    assert torch.isfinite(second.grad).all()


def test_coteaching_needs_two_networks():
    inputs, targets = toy_inputs(2)
    with pytest.raises(ValueError, match="co-teaching needs 2 networks, got 1"):
        CoTeaching().step([ToyClassifier()], inputs, targets, torch.arange(2), generator=None)


@pytest.mark.parametrize("noise_rate", [-0.2, 1.0])
def test_coteaching_rejects_noise_rate(noise_rate):
    with pytest.raises(ValueError, match=r"noise_rate must be in \[0, 1\), got"):
        CoTeaching(noise_rate=noise_rate)


def test_coteaching_rejects_ramp_epochs():
    with pytest.raises(ValueError, match="ramp_epochs must be an int >= 0"):
        CoTeaching(ramp_epochs=2.5)
