"""Tests of PRL-L (drop the examples with the largest logit-gradient norm)."""

import math

import pytest
import torch

from _toy import ToyClassifier, gradients, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import CrossEntropy
from robustlib.methods.prl import ProvablyRobustLearning, logit_gradient_norm, prl_cross_entropy
from robustlib.methods.spl import self_paced_cross_entropy


def test_gradient_norm_hand_values():
    logits, targets = hand_batch()
    # ‖p - onehot(y)‖² per example:
    #   0: (-2/3, 1/3, 1/3)       → 4/9 + 1/9 + 1/9     = 2/3
    #   1: (-1/2, 1/4, 1/4)       → 1/4 + 1/16 + 1/16   = 3/8
    #   2: (3/8, -3/4, 3/8)       → 9/64 + 36/64 + 9/64 = 27/32
    #   3: (0.6, 0.1, -0.7)       → 0.36 + 0.01 + 0.49  = 0.86
    expected = [math.sqrt(2 / 3), math.sqrt(3 / 8), math.sqrt(27 / 32), math.sqrt(0.86)]
    assert logit_gradient_norm(logits, targets).tolist() == pytest.approx(expected, rel=1e-12)


def test_gradient_norm_equals_autograd():
    logits, targets = hand_batch(requires_grad=True)
    # The gradient of the summed CE with respect to each row of logits is that row's p - onehot(y).
    torch.nn.functional.cross_entropy(logits, targets, reduction="sum").backward()
    expected = torch.linalg.vector_norm(logits.grad, dim=1)
    torch.testing.assert_close(logit_gradient_norm(logits, targets), expected)


def test_gradient_norm_detached():
    logits, targets = hand_batch(requires_grad=True)
    assert not logit_gradient_norm(logits, targets).requires_grad


def test_prl_hand_value():
    logits, targets = hand_batch()
    # drop floor(0.25·4) = 1: the largest norm, √0.86 (example 3), although its CE is not the largest.
    # mean of the rest: (log 3 + log 2 + log 4) / 3 = log(24) / 3 = 1.0593513
    loss = prl_cross_entropy(logits, targets, drop_rate=0.25)
    assert loss.item() == pytest.approx(math.log(24) / 3, rel=1e-12)


def test_prl_differs_from_spl():
    logits, targets = hand_batch()
    # SPL drops example 2 (largest CE), PRL example 3 (largest norm): log(20)/3 against log(24)/3.
    spl = self_paced_cross_entropy(logits, targets, drop_rate=0.25)
    prl = prl_cross_entropy(logits, targets, drop_rate=0.25)
    assert spl.item() != pytest.approx(prl.item())


def test_prl_reduction_none():
    logits, targets = hand_batch()
    per_example = prl_cross_entropy(logits, targets, drop_rate=0.25, reduction="none")
    assert per_example.tolist() == pytest.approx([math.log(3), math.log(2), math.log(4), 0.0], rel=1e-12)


def test_prl_selected_drops_largest_norm():
    model = ToyClassifier()
    inputs, targets = toy_inputs(10)
    output = run_step(ProvablyRobustLearning(noise_rate=0.3), [model], inputs, targets)
    norms = logit_gradient_norm(output.logits, targets)
    # floor(0.3·10) = 3 dropped.
    assert output.selected.sum().item() == 7
    assert norms[~output.selected].min() >= norms[output.selected].max()


def test_prl_zero_rate_equals_ce():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    baseline = run_step(CrossEntropy(), [model], inputs, targets)
    baseline_gradients = gradients(model)
    output = run_step(ProvablyRobustLearning(noise_rate=0.0), [model], inputs, targets)
    assert torch.equal(output.loss, baseline.loss)
    for gradient, expected in zip(gradients(model), baseline_gradients):
        assert torch.equal(gradient, expected)


def test_prl_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    output = run_step(ProvablyRobustLearning(noise_rate=0.9), [model], inputs, targets)
    assert output.selected.tolist() == [True]
    assert torch.isfinite(output.loss)


def test_prl_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [0.0, 0.0, 1e4]], requires_grad=True)
    targets = torch.tensor([1, 1, 0])
    loss = prl_cross_entropy(logits, targets, drop_rate=0.4)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


def test_prl_ramp_follows_epochs():
    method = ProvablyRobustLearning(noise_rate=0.3, ramp_epochs=3)
    method.start_epoch(1)
    assert method.drop_rate == pytest.approx(0.1)


@pytest.mark.parametrize("noise_rate", [-0.01, 1.0])
def test_prl_rejects_noise_rate(noise_rate):
    with pytest.raises(ValueError, match=r"noise_rate must be in \[0, 1\), got"):
        ProvablyRobustLearning(noise_rate=noise_rate)


def test_prl_function_rejects_drop_rate():
    logits, targets = hand_batch()
    with pytest.raises(ValueError, match=r"must be in \[0, 1\), got 1.0"):
        prl_cross_entropy(logits, targets, drop_rate=1.0)
