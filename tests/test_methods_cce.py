"""Tests of clipped cross-entropy."""

import math

import pytest
import torch

from _toy import ToyClassifier, gradients, hand_batch, run_step, toy_inputs
from robustlib.methods.cce import ClippedCrossEntropy, clipped_cross_entropy
from robustlib.methods.ce import CrossEntropy, cross_entropy


def test_cce_hand_value():
    logits, targets = hand_batch()
    # min(CE, 1.2) = (log 3, log 2, 1.2, 1.2), because log 4 = 1.386 and log(10/3) = 1.204 exceed 1.2.
    # mean = (log 6 + 2.4) / 4 = 1.0479398
    loss = clipped_cross_entropy(logits, targets, threshold=1.2)
    assert loss.item() == pytest.approx((math.log(6) + 2.4) / 4, rel=1e-12)


def test_cce_reduction_none():
    logits, targets = hand_batch()
    values = clipped_cross_entropy(logits, targets, threshold=1.2, reduction="none")
    assert values.tolist() == pytest.approx([math.log(3), math.log(2), 1.2, 1.2], rel=1e-12)


def test_cce_clipped_get_no_gradient():
    logits, targets = hand_batch(requires_grad=True)
    clipped_cross_entropy(logits, targets, threshold=1.2).backward()
    assert torch.equal(logits.grad[2:], torch.zeros(2, 3, dtype=torch.float64))
    assert logits.grad[:2].abs().sum() > 0


def test_cce_infinite_threshold_equals_ce():
    logits, targets = hand_batch(requires_grad=True)
    clipped = clipped_cross_entropy(logits, targets, threshold=math.inf)
    clipped.backward()
    clipped_gradient = logits.grad.clone()
    logits.grad = None
    baseline = cross_entropy(logits, targets)
    baseline.backward()
    assert torch.equal(clipped, baseline)
    assert torch.equal(clipped_gradient, logits.grad)


def test_cce_warmup_equals_ce():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    baseline = run_step(CrossEntropy(), [model], inputs, targets)
    baseline_gradients = gradients(model)
    method = ClippedCrossEntropy(threshold=0.01, warmup_epochs=1)
    method.start_epoch(0)
    output = run_step(method, [model], inputs, targets)
    assert torch.equal(output.loss, baseline.loss)
    for gradient, expected in zip(gradients(model), baseline_gradients):
        assert torch.equal(gradient, expected)
    # During the warm-up every example receives its full gradient.
    assert output.selected.all()


def test_cce_clips_after_warmup():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    method = ClippedCrossEntropy(threshold=1.0, warmup_epochs=1)
    method.start_epoch(1)
    output = run_step(method, [model], inputs, targets)
    losses = torch.nn.functional.cross_entropy(output.logits, targets, reduction="none")
    assert torch.equal(output.selected, losses < 1.0)
    expected = torch.clamp(losses, max=1.0).mean()
    torch.testing.assert_close(output.loss.detach(), expected)


def test_cce_all_clipped():
    model = ToyClassifier()
    inputs, targets = toy_inputs(6)
    method = ClippedCrossEntropy(threshold=1e-6, warmup_epochs=0)
    output = run_step(method, [model], inputs, targets)
    # Every CE exceeds 1e-6, so the loss is the constant τ and no example is trusted.
    assert output.loss.item() == pytest.approx(1e-6)
    assert not output.selected.any()
    for gradient in gradients(model):
        assert torch.equal(gradient, torch.zeros_like(gradient))


def test_cce_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    output = run_step(ClippedCrossEntropy(warmup_epochs=0), [model], inputs, targets)
    assert output.selected.shape == (1,)
    assert torch.isfinite(output.loss)


def test_cce_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 1])
    loss = clipped_cross_entropy(logits, targets)
    loss.backward()
    # Example 0 has CE = 2e4, clipped to 4; example 1 has CE = 0.
    assert loss.item() == pytest.approx(2.0)
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_cce_rejects_threshold(threshold):
    with pytest.raises(ValueError, match=r"threshold must be > 0 \(math.inf disables clipping\), got"):
        ClippedCrossEntropy(threshold=threshold)


def test_cce_rejects_warmup_epochs():
    with pytest.raises(ValueError, match="warmup_epochs must be an int >= 0, got -2"):
        ClippedCrossEntropy(warmup_epochs=-2)
