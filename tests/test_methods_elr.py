"""Tests of early-learning regularisation (ELR) and its target memory."""

import math

import pytest
import torch

from _toy import ToyClassifier, gradients, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import CrossEntropy
from robustlib.methods.elr import (
    EarlyLearningRegularization,
    clamped_probabilities,
    elr_loss,
    update_targets,
)

# Σ_k p_k² of the hand batch's softmax rows: 1/3, 3/8, 22/64 = 0.34375, 0.46 (0.36 + 0.01 + 0.09).
HAND_SQUARED_NORMS = [1 / 3, 3 / 8, 22 / 64, 0.46]


def _first_step_value(beta, lam):
    # First visit: t = (1 - β)·p, because the memory starts at 0 and no probability is clamped
    # (all lie in [0.1, 0.6]). So ⟨t, q⟩ = (1 - β)·Σp²; for β = 0.7 that is
    # 0.1, 0.1125, 0.103125, 0.138, and the loss is log(80)/4 + λ·mean(log(1 - ⟨t, q⟩))
    # = 1.0955067 + 3·(-0.1205117) = 0.7339715.
    regulariser = sum(math.log(1 - (1 - beta) * s) for s in HAND_SQUARED_NORMS) / 4
    return math.log(80) / 4 + lam * regulariser


def _hand_method():
    method = EarlyLearningRegularization(beta=0.7, lam=3.0)
    method.setup(num_train=4, num_classes=3, num_epochs=1)
    return method


class _FixedLogits(torch.nn.Module):
    """A 'model' whose output is the hand batch's logits, for hand-checked steps."""

    def forward(self, *, x):
        return x


def test_elr_hand_value_first_step():
    logits, targets = hand_batch()
    output = _hand_method().step([_FixedLogits()], {"x": logits}, targets, torch.arange(4), generator=None)
    assert output.loss.item() == pytest.approx(_first_step_value(0.7, 3.0), rel=1e-6)
    assert output.loss.item() == pytest.approx(0.7339715, abs=1e-6)


def test_elr_hand_value_second_step():
    logits, targets = hand_batch()
    method = _hand_method()
    for _ in range(2):
        output = method.step([_FixedLogits()], {"x": logits}, targets, torch.arange(4), generator=None)
    # Second visit: t = 0.7·0.3·p + 0.3·p = 0.51·p, so ⟨t, q⟩ = 0.51·Σp².
    regulariser = sum(math.log(1 - 0.51 * s) for s in HAND_SQUARED_NORMS) / 4
    assert output.loss.item() == pytest.approx(math.log(80) / 4 + 3.0 * regulariser, rel=1e-6)


def test_elr_memory_rows_sum():
    logits, targets = hand_batch()
    method = _hand_method()
    method.step([_FixedLogits()], {"x": logits}, targets, torch.arange(4), generator=None)
    # Each row is (1 - β)·q̂/Σq̂, which sums to 1 - β = 0.3.
    assert method.memory.sum(dim=1).tolist() == pytest.approx([0.3] * 4, rel=1e-6)


def test_elr_function_matches_method():
    logits, targets = hand_batch()
    memory = torch.zeros(4, 3, dtype=torch.float64)
    rows = update_targets(memory, torch.arange(4), clamped_probabilities(logits), beta=0.7)
    loss = elr_loss(logits, targets, rows, lam=3.0)
    assert loss.item() == pytest.approx(_first_step_value(0.7, 3.0), rel=1e-12)


def test_elr_reduction_none():
    logits, targets = hand_batch()
    rows = 0.3 * torch.softmax(logits, dim=1)
    values = elr_loss(logits, targets, rows, lam=3.0, reduction="none")
    expected = [
        -math.log(p) + 3.0 * math.log(1 - 0.3 * s)
        for p, s in zip([1 / 3, 1 / 2, 1 / 4, 0.3], HAND_SQUARED_NORMS)
    ]
    assert values.tolist() == pytest.approx(expected, rel=1e-12)


def test_elr_zero_lam_equals_ce():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    baseline = run_step(CrossEntropy(), [model], inputs, targets)
    baseline_gradients = gradients(model)
    method = EarlyLearningRegularization(lam=0.0)
    method.setup(num_train=8, num_classes=3, num_epochs=1)
    output = run_step(method, [model], inputs, targets)
    assert torch.equal(output.loss, baseline.loss)
    for gradient, expected in zip(gradients(model), baseline_gradients):
        assert torch.equal(gradient, expected)


def test_elr_memory_follows_examples_across_shuffles():
    num_train = 6
    inputs, targets = toy_inputs(num_train)
    model = ToyClassifier()
    method = EarlyLearningRegularization(beta=0.7, lam=3.0)
    method.setup(num_train=num_train, num_classes=3, num_epochs=2)

    def run_epoch(order):
        for batch in order.split(3):
            method.step([model], {"x": inputs["x"][batch]}, targets[batch], batch, generator=None)

    def normalised_probabilities():
        with torch.no_grad():
            q = clamped_probabilities(model(**inputs))
        return q / q.sum(dim=1, keepdim=True)

    # Epoch 0 with the initial model, epoch 1 in another order with a changed head, so each
    # example's two predictions differ and a row updated by the wrong example would show.
    run_epoch(torch.tensor([4, 1, 5, 0, 3, 2]))
    first = normalised_probabilities()
    with torch.no_grad():
        model.head.weight.mul_(2.0)
    run_epoch(torch.tensor([2, 5, 0, 3, 1, 4]))
    second = normalised_probabilities()

    # Row i = β·(1 - β)·q̂ᵢ(epoch 0) + (1 - β)·q̂ᵢ(epoch 1).
    expected = 0.7 * 0.3 * first + 0.3 * second
    torch.testing.assert_close(method.memory, expected.float())


def test_elr_requires_setup():
    model = ToyClassifier()
    inputs, targets = toy_inputs(2)
    with pytest.raises(RuntimeError, match=r"call setup\(\) before step\(\)"):
        EarlyLearningRegularization().step([model], inputs, targets, torch.arange(2), generator=None)


def test_elr_memory_shape():
    method = EarlyLearningRegularization()
    method.setup(num_train=10, num_classes=4, num_epochs=3)
    assert method.memory.shape == (10, 4)
    assert not method.memory.any()


def test_elr_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 1])
    method = EarlyLearningRegularization()
    method.setup(num_train=2, num_classes=3, num_epochs=1)
    for _ in range(3):
        logits.grad = None
        output = method.step([_FixedLogits()], {"x": logits}, targets, torch.arange(2), generator=None)
        output.loss.backward()
        assert torch.isfinite(output.loss)
        assert torch.isfinite(logits.grad).all()


def test_elr_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    method = EarlyLearningRegularization()
    method.setup(num_train=5, num_classes=3, num_epochs=1)
    output = run_step(method, [model], inputs, targets, index=torch.tensor([3]))
    assert torch.isfinite(output.loss)
    assert method.memory[[0, 1, 2, 4]].abs().sum().item() == 0.0
    assert method.memory[3].sum().item() == pytest.approx(0.3, rel=1e-6)


@pytest.mark.parametrize("beta", [-0.1, 1.0])
def test_elr_rejects_beta(beta):
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\), got"):
        EarlyLearningRegularization(beta=beta)


def test_elr_rejects_lam():
    with pytest.raises(ValueError, match="lam must be >= 0, got -1.0"):
        EarlyLearningRegularization(lam=-1.0)
