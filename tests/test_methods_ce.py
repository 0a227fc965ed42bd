"""Tests of the cross-entropy baseline and the shared reduction helper."""

import math

import pytest
import torch
import torch.nn.functional as F

from _toy import HAND_CE, ToyClassifier, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import CrossEntropy, cross_entropy, reduce_kept


def test_ce_hand_value():
    logits, targets = hand_batch()
    # (log 3 + log 2 + log 4 + log(10/3)) / 4 = log(80) / 4
    assert cross_entropy(logits, targets).item() == pytest.approx(math.log(80) / 4, rel=1e-12)


def test_ce_reductions():
    logits, targets = hand_batch()
    per_example = cross_entropy(logits, targets, reduction="none")
    assert per_example.tolist() == pytest.approx(HAND_CE, rel=1e-12)
    # log 3 + log 2 + log 4 + log(10/3) = log 80
    assert cross_entropy(logits, targets, reduction="sum").item() == pytest.approx(math.log(80), rel=1e-12)


def test_ce_keeps_float64():
    logits, targets = hand_batch(torch.float64)
    assert cross_entropy(logits, targets).dtype == torch.float64


def test_ce_upcasts_half():
    logits, targets = hand_batch(torch.bfloat16)
    assert cross_entropy(logits, targets).dtype == torch.float32


def test_ce_matches_torch():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(16, 7, generator=generator)
    targets = torch.randint(0, 7, (16,), generator=generator)
    # Close, not bit-equal: torch's fused mean reduction may sum in another order.
    torch.testing.assert_close(cross_entropy(logits, targets), F.cross_entropy(logits, targets))


def test_ce_unknown_reduction():
    logits, targets = hand_batch()
    with pytest.raises(ValueError, match="unknown reduction 'avg'; use one of mean, sum, none"):
        cross_entropy(logits, targets, reduction="avg")


def test_reduce_kept_zeroes_dropped():
    values = torch.tensor([1.0, 2.0, 3.0])
    kept = torch.tensor([2, 0])
    assert reduce_kept(values, "none", kept).tolist() == [1.0, 0.0, 3.0]
    assert reduce_kept(values, "sum", kept).item() == 4.0
    assert reduce_kept(values, "mean", kept).item() == 2.0


def test_reduce_kept_all_is_mean():
    values = torch.tensor([1.0, 2.0, 4.0])
    assert torch.equal(reduce_kept(values, "mean", None), values.mean())


def test_ce_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 1])
    loss = cross_entropy(logits, targets)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


def test_ce_step_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    output = run_step(CrossEntropy(), [model], inputs, targets)
    assert output.logits.shape == (1, 3)
    assert output.selected is None
    assert torch.isfinite(output.loss)


def test_ce_step_equals_function():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    output = run_step(CrossEntropy(), [model], inputs, targets)
    assert torch.equal(output.loss.detach(), cross_entropy(model(**inputs), targets).detach())
