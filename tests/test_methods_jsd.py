"""Tests of the (generalised) Jensen-Shannon divergence loss."""

import math

import pytest
import torch

from _toy import ToyClassifier, hand_batch, run_step, toy_inputs
from robustlib.methods.ce import cross_entropy
from robustlib.methods.jsd import (
    JensenShannonDivergence,
    jensen_shannon_loss,
    js_mixture,
    js_scale,
)


def _brute_force(logits, targets, pi1):
    """Scaled JS of (V, B, C) logits by loops over examples and classes, in Python floats."""
    views = logits if logits.dim() == 3 else logits.unsqueeze(0)
    num_views, batch_size, num_classes = views.shape
    weights = [pi1] + [(1 - pi1) / num_views] * num_views
    scale = -(1 - pi1) * math.log(1 - pi1)
    losses = []
    for i in range(batch_size):
        label = [1.0 if k == int(targets[i]) else 0.0 for k in range(num_classes)]
        predictions = [torch.softmax(views[j, i], dim=0).tolist() for j in range(num_views)]
        distributions = [label] + predictions
        mixture = [sum(w * d[k] for w, d in zip(weights, distributions)) for k in range(num_classes)]
        divergence = 0.0
        for w, d in zip(weights, distributions):
            divergence += w * sum(d[k] * math.log(d[k] / mixture[k]) for k in range(num_classes) if d[k] > 0)
        losses.append(divergence / scale)
    return losses


def test_jsd_hand_values():
    logits, targets = hand_batch()
    values = jensen_shannon_loss(logits, targets, pi1=0.5, reduction="none")
    # Z = -0.5·log 0.5 = 0.5·log 2.
    # Example 0: p = (1/3, 1/3, 1/3), m = (2/3, 1/6, 1/6).
    #   KL(e₀ ‖ m) = log 1.5; KL(p ‖ m) = (1/3)·(log(1/2) + 2·log 2) = (1/3)·log 2.
    #   loss = (0.5·log 1.5 + (1/6)·log 2) / (0.5·log 2) = log 1.5 / log 2 + 1/3 = 0.9182958
    assert values[0].item() == pytest.approx(math.log(1.5) / math.log(2) + 1 / 3, rel=1e-12)
    # Example 1: p = (1/2, 1/4, 1/4), m = (3/4, 1/8, 1/8).
    #   KL(e₀ ‖ m) = log(4/3); KL(p ‖ m) = 0.5·log(2/3) + 0.5·log 2 = 0.5·log(4/3).
    #   loss = 0.75·log(4/3) / (0.5·log 2) = 1.5·log(4/3) / log 2 = 0.6225562
    assert values[1].item() == pytest.approx(1.5 * math.log(4 / 3) / math.log(2), rel=1e-12)


@pytest.mark.parametrize("pi1", [0.1, 0.5, 0.7])
def test_jsd_matches_brute_force(pi1):
    logits, targets = hand_batch()
    values = jensen_shannon_loss(logits, targets, pi1=pi1, reduction="none")
    assert values.tolist() == pytest.approx(_brute_force(logits, targets, pi1), rel=1e-10)


def test_gjs_matches_brute_force():
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 5, 4, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, 4, (5,), generator=generator)
    values = jensen_shannon_loss(logits, targets, pi1=0.3, reduction="none")
    assert values.tolist() == pytest.approx(_brute_force(logits, targets, 0.3), rel=1e-10)


def test_jsd_reductions():
    logits, targets = hand_batch()
    values = jensen_shannon_loss(logits, targets, pi1=0.5, reduction="none")
    assert jensen_shannon_loss(logits, targets, pi1=0.5).item() == pytest.approx(values.mean().item(), rel=1e-12)
    assert jensen_shannon_loss(logits, targets, pi1=0.5, reduction="sum").item() == pytest.approx(
        values.sum().item(), rel=1e-12
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("num_views", [1, 3])
def test_mixture_sums_to_one(seed, num_views):
    generator = torch.Generator().manual_seed(seed)
    logits = 5 * torch.randn(num_views, 6, 10, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, 10, (6,), generator=generator)
    mixture = js_mixture(logits, targets, pi1=0.3)
    torch.testing.assert_close(mixture.sum(dim=1), torch.ones(6, dtype=torch.float64))


def test_mixture_label_weight():
    logits, targets = hand_batch()
    mixture = js_mixture(logits, targets, pi1=0.5)
    # Example 0: 0.5·e₀ + 0.5·(1/3, 1/3, 1/3) = (2/3, 1/6, 1/6).
    assert mixture[0].tolist() == pytest.approx([2 / 3, 1 / 6, 1 / 6], rel=1e-12)


def test_js_scale():
    # Z = -(1 - π₁)·log(1 - π₁): at π₁ = 0.5, 0.5·log 2; at π₁ = 0.9, -0.1·log 0.1 = 0.1·log 10.
    assert js_scale(0.5) == pytest.approx(0.5 * math.log(2), rel=1e-12)
    assert js_scale(0.9) == pytest.approx(0.1 * math.log(10), rel=1e-12)


def test_jsd_scaled_by_z():
    logits, targets = hand_batch()
    for pi1 in (0.2, 0.6):
        scaled = jensen_shannon_loss(logits, targets, pi1=pi1, reduction="none")
        unscaled = torch.tensor(_brute_force(logits, targets, pi1), dtype=torch.float64) * js_scale(pi1)
        torch.testing.assert_close(scaled * js_scale(pi1), unscaled)


def test_jsd_small_pi1_approaches_ce():
    # Loose comparison: JS/Z = CE + O(π₁), so at π₁ = 1e-6 value and gradient agree to about 1e-6.
    logits, targets = hand_batch(requires_grad=True)
    jsd = jensen_shannon_loss(logits, targets, pi1=1e-6)
    jsd.backward()
    jsd_gradient = logits.grad.clone()
    logits.grad = None
    ce = cross_entropy(logits, targets)
    ce.backward()
    assert jsd.item() == pytest.approx(ce.item(), rel=1e-5)
    torch.testing.assert_close(jsd_gradient, logits.grad, rtol=0, atol=1e-5)


def test_jsd_large_pi1_approaches_mae():
    logits, targets = hand_batch()
    p_label = torch.softmax(logits, dim=1).gather(1, targets.unsqueeze(1)).squeeze(1)
    for delta in (1e-4, 1e-5):
        values = jensen_shannon_loss(logits, targets, pi1=1 - delta, reduction="none")
        # loss ≈ (1 - p_y) + ((1 - p_y) + p_y·log p_y) / (-log δ), the expansion in δ = 1 - π₁.
        expansion = (1 - p_label) + ((1 - p_label) + p_label * p_label.log()) / -math.log(delta)
        torch.testing.assert_close(values, expansion, rtol=0, atol=1e-5)
        # So the loss tends to 1 - p_y (MAE / 2), but only as 1 / log(1/δ).
        assert (values - (1 - p_label)).abs().max().item() < 1 / -math.log(delta)


def test_jsd_extreme_logits_finite():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], requires_grad=True)
    targets = torch.tensor([1, 1])
    loss = jensen_shannon_loss(logits, targets, pi1=0.5)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


def test_jsd_extreme_logits_views_finite():
    logits = torch.tensor([[[1e4, -1e4, 0.0]], [[-1e4, 1e4, 0.0]]], requires_grad=True)
    loss = jensen_shannon_loss(logits, torch.tensor([2]), pi1=0.1)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


def test_jsd_step_without_views():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    output = JensenShannonDivergence(pi1=0.3).step([model], inputs, targets, torch.arange(8), generator=generator)
    expected = jensen_shannon_loss(model(**inputs), targets, pi1=0.3)
    assert torch.equal(output.loss.detach(), expected.detach())
    assert torch.equal(generator.get_state(), state)


def test_jsd_step_with_views():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    output = run_step(JensenShannonDivergence(pi1=0.3, num_views=2), [model], inputs, targets, seed=5)
    # The same two views, drawn again from a generator with the same seed.
    generator = torch.Generator().manual_seed(5)
    views = [model(**inputs)] + [model(**model.augment(inputs, generator=generator)) for _ in range(2)]
    expected = jensen_shannon_loss(torch.stack(views), targets, pi1=0.3)
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.equal(output.logits, views[0].detach())


def test_jsd_views_deterministic():
    model = ToyClassifier()
    inputs, targets = toy_inputs(8)
    method = JensenShannonDivergence(num_views=1)
    first = run_step(method, [model], inputs, targets, seed=3).loss
    second = run_step(method, [model], inputs, targets, seed=3).loss
    third = run_step(method, [model], inputs, targets, seed=4).loss
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


def test_jsd_batch_of_one():
    model = ToyClassifier()
    inputs, targets = toy_inputs(1)
    output = run_step(JensenShannonDivergence(num_views=1), [model], inputs, targets)
    assert torch.isfinite(output.loss)
    assert output.selected is None


@pytest.mark.parametrize("pi1", [0.0, 1.0, -0.5, 1.5])
def test_jsd_rejects_pi1(pi1):
    with pytest.raises(ValueError, match=r"pi1 must be in \(0, 1\), got"):
        JensenShannonDivergence(pi1=pi1)


def test_jsd_rejects_num_views():
    with pytest.raises(ValueError, match="num_views must be an int >= 0, got -1"):
        JensenShannonDivergence(num_views=-1)


def test_jsd_rejects_logit_shape():
    with pytest.raises(ValueError, match=r"logits must be \(B, C\) or \(V, B, C\), got shape \(3,\)"):
        jensen_shannon_loss(torch.zeros(3), torch.tensor([0, 0, 0]))


def test_jsd_closed_form_matches_views():
    # Two identical views give the same mixture and the same JS as one prediction, through
    # the general (clamped) path instead of the single-prediction closed form.
    generator = torch.Generator().manual_seed(9)
    single = (3 * torch.randn(6, 5, generator=generator, dtype=torch.float64)).requires_grad_(True)
    targets = torch.randint(0, 5, (6,), generator=generator)
    closed = jensen_shannon_loss(single, targets, pi1=0.4)
    closed.backward()
    closed_gradient = single.grad.clone()
    single.grad = None
    general = jensen_shannon_loss(torch.stack([single, single]), targets, pi1=0.4)
    general.backward()
    torch.testing.assert_close(closed, general)
    torch.testing.assert_close(closed_gradient, single.grad)
