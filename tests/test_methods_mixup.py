"""Tests of mixup (representation mixing and the marketplace's logit mixing)."""

import math

import numpy as np
import pytest
import torch

from _toy import ToyClassifier, gradients, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import CrossEntropy, cross_entropy
from robustlib.methods.mixup import (
    Mixup,
    mixed_logits_cross_entropy,
    mixup_cross_entropy,
    sample_mixing,
)


def _fixed_mixing(lam, permutation):
    return lambda batch_size, generator: (lam, torch.tensor(permutation))


def test_mixup_hand_value():
    logits, targets = hand_batch()
    permutation = torch.tensor([1, 0, 3, 2])
    # Partner labels y[permutation] = (0, 0, 2, 1): CE = log 3, log 2, log(8/3), log 10; mean = log(160) / 4.
    # loss = 0.25·log(80)/4 + 0.75·log(160)/4 = 1.2254718
    loss = mixup_cross_entropy(logits, targets, permutation, 0.25)
    assert loss.item() == pytest.approx((0.25 * math.log(80) + 0.75 * math.log(160)) / 4, rel=1e-12)


def test_mixup_identity_permutation_is_ce():
    logits, targets = hand_batch()
    loss = mixup_cross_entropy(logits, targets, torch.arange(4), 0.3)
    assert loss.item() == pytest.approx(math.log(80) / 4, rel=1e-12)


def test_mixed_logits_hand_value():
    logits, targets = hand_batch()
    # One extra row mixes examples 0 and 1 with λ = 0.5: logits 0.5·log(2, 1, 1) = log(√2, 1, 1),
    # both labels 0, CE = log((2 + √2) / √2) = log(1 + √2) = 0.8813736.
    # mean over 5 rows: (log 80 + log(1 + √2)) / 5 = 1.0526800
    loss = mixed_logits_cross_entropy(logits, targets, torch.tensor([0]), torch.tensor([1]), 0.5)
    assert loss.item() == pytest.approx((math.log(80) + math.log(1 + math.sqrt(2))) / 5, rel=1e-12)


def test_mixed_logits_reduction_none():
    logits, targets = hand_batch()
    values = mixed_logits_cross_entropy(
        logits, targets, torch.tensor([0]), torch.tensor([1]), 0.5, reduction="none"
    )
    assert values.shape == (5,)
    assert values[4].item() == pytest.approx(math.log(1 + math.sqrt(2)), rel=1e-12)


def test_mixup_lambda_one_equals_ce():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    baseline = run_step(CrossEntropy(), [model], inputs, targets)
    baseline_gradients = gradients(model)
    method = Mixup()
    method.sample_mixing = _fixed_mixing(1.0, [7, 6, 5, 4, 3, 2, 1, 0])
    output = run_step(method, [model], inputs, targets)
    assert torch.equal(output.loss, baseline.loss)
    for gradient, expected in zip(gradients(model), baseline_gradients):
        assert torch.equal(gradient, expected)


def test_mixup_features_linear_head_mixes_logits():
    model = ToyClassifier()
    inputs, targets = toy_inputs(6)
    permutation = [2, 0, 1, 5, 3, 4]
    method = Mixup()
    method.sample_mixing = _fixed_mixing(0.3, permutation)
    output = run_step(method, [model], inputs, targets)
    # The head is affine, so mixing features equals mixing logits.
    logits = model(**inputs)
    mixed = 0.3 * logits + 0.7 * logits[permutation]
    expected = mixup_cross_entropy(mixed, targets, torch.tensor(permutation), 0.3)
    torch.testing.assert_close(output.loss.detach(), expected.detach())
    torch.testing.assert_close(output.logits, logits.detach())


def test_mixup_logits_mode_hand_value():
    logits, targets = hand_batch()

    class _Fixed(torch.nn.Module):
        def forward(self, **inputs):
            return logits

    method = Mixup(mode="logits", fraction=0.25)
    method.sample_mixing = _fixed_mixing(0.5, [0, 1, 2, 3])
    output = method.step([_Fixed()], {}, targets, torch.arange(4), generator=None)
    # floor(0.25·4) = 1 extra row, mixing examples 0 and 1: the hand value of test_mixed_logits_hand_value.
    assert output.loss.item() == pytest.approx((math.log(80) + math.log(1 + math.sqrt(2))) / 5, rel=1e-12)
    assert torch.equal(output.logits, logits)


def test_mixup_logits_mode_pairs_distinct():
    model = ToyClassifier()
    inputs, targets = toy_inputs(10)
    method = Mixup(mode="logits", fraction=0.5)
    generator = torch.Generator().manual_seed(0)
    lam, permutation = sample_mixing(10, alpha=0.2, generator=torch.Generator().manual_seed(0))
    output = method.step([model], inputs, targets, torch.arange(10), generator=generator)
    # floor(0.5·10) = 5 rows pair the 10 examples, each used once.
    logits = model(**inputs)
    expected = mixed_logits_cross_entropy(logits, targets, permutation[:5], permutation[5:], lam)
    torch.testing.assert_close(output.loss.detach(), expected.detach())


def test_mixup_logits_mode_small_batch_is_ce():
    model = ToyClassifier()
    inputs, targets = toy_inputs(4)
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    # floor(0.2·4) = 0 extra rows: plain cross-entropy, and nothing is drawn.
    output = Mixup(mode="logits").step([model], inputs, targets, torch.arange(4), generator=generator)
    assert torch.equal(output.loss.detach(), cross_entropy(model(**inputs), targets).detach())
    assert torch.equal(generator.get_state(), state)


def test_sample_mixing_range():
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        lam, permutation = sample_mixing(7, alpha=0.2, generator=generator)
        assert 0.0 <= lam <= 1.0
        assert sorted(permutation.tolist()) == list(range(7))


def test_sample_mixing_small_alpha_finite():
    generator = torch.Generator().manual_seed(0)
    # Beta(1e-3, 1e-3) puts almost all mass next to 0 and 1; the draw must stay a number.
    draws = [sample_mixing(3, alpha=1e-3, generator=generator)[0] for _ in range(200)]
    assert all(math.isfinite(lam) for lam in draws)


def test_sample_mixing_moments():
    generator = torch.Generator().manual_seed(0)
    draws = np.array([sample_mixing(2, alpha=0.2, generator=generator)[0] for _ in range(4000)])
    # Beta(0.2, 0.2): mean 1/2, variance 1 / (4·(2α + 1)) = 1 / 5.6 = 0.1786.
    assert abs(draws.mean() - 0.5) < 0.03
    assert abs(draws.var() - 1 / 5.6) < 0.02


def test_sample_mixing_deterministic():
    first = sample_mixing(9, alpha=0.4, generator=torch.Generator().manual_seed(11))
    second = sample_mixing(9, alpha=0.4, generator=torch.Generator().manual_seed(11))
    assert first[0] == second[0]
    assert torch.equal(first[1], second[1])


def test_mixup_leaves_global_random_state():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    run_step(Mixup(), [model], inputs, targets, seed=2)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)


def test_mixup_step_deterministic():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    first = run_step(Mixup(alpha=1.0), [model], inputs, targets, seed=3).loss
    second = run_step(Mixup(alpha=1.0), [model], inputs, targets, seed=3).loss
    third = run_step(Mixup(alpha=1.0), [model], inputs, targets, seed=4).loss
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_mixup_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    for mode in ("features", "logits"):
        output = run_step(Mixup(mode=mode), [model], inputs, targets)
        assert torch.isfinite(output.loss)
        assert output.logits.shape == (1, 3)


def test_mixup_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 0])
    loss = mixup_cross_entropy(logits, targets, torch.tensor([1, 0]), 0.5) + mixed_logits_cross_entropy(
        logits, targets, torch.tensor([0]), torch.tensor([1]), 0.5
    )
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_mixup_rejects_alpha(alpha):
    with pytest.raises(ValueError, match=r"alpha must be > 0, got"):
        Mixup(alpha=alpha)


def test_mixup_rejects_mode():
    with pytest.raises(ValueError, match="unknown mixup mode 'inputs'; use one of features, logits"):
        Mixup(mode="inputs")


def test_mixup_rejects_fraction():
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 0.5\], got 0.6"):
        Mixup(fraction=0.6)
