"""Tests of the method registry and of the contract every method keeps."""

import pytest
import torch

from _toy import ToyClassifier, run_step, toy_inputs
from robustlib.methods import METHODS, Method, build_method, method_hyperparameters
from robustlib.methods.cce import clipped_cross_entropy
from robustlib.methods.ce import cross_entropy
from robustlib.methods.jsd import jensen_shannon_loss
from robustlib.methods.mixup import mixup_cross_entropy
from robustlib.methods.prl import prl_cross_entropy
from robustlib.methods.spl import self_paced_cross_entropy

# Methods whose default settings draw from the generator. JSD draws only with augmented views,
# which are off by default.
DRAWING = {"mixup"}


def _models(method):
    return [ToyClassifier(seed=seed) for seed in range(method.num_networks)]


def test_registry_names():
    assert METHODS == ("ce", "spl", "prl", "cce", "elr", "jsd", "coteaching", "mixup")


@pytest.mark.parametrize("name", METHODS)
def test_build_method_name(name):
    method = build_method(name)
    assert isinstance(method, Method)
    assert method.name == name


def test_build_method_unknown_name():
    with pytest.raises(ValueError, match="unknown method 'gce'; use one of ce, spl, prl, cce, elr, jsd"):
        build_method("gce")


def test_build_method_unknown_hyperparameter():
    with pytest.raises(TypeError, match="method 'spl' does not take tau; its hyperparameters: noise_rate, ramp_epochs"):
        build_method("spl", tau=2.0)


def test_build_method_ce_takes_none():
    with pytest.raises(TypeError, match="method 'ce' does not take noise_rate; its hyperparameters: none"):
        build_method("ce", noise_rate=0.2)


def test_build_method_passes_hyperparameters():
    method = build_method("elr", beta=0.9, lam=7.0)
    assert (method.beta, method.lam) == (0.9, 7.0)


def test_build_method_range_error():
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\), got 1.2"):
        build_method("elr", beta=1.2)


def test_method_hyperparameters_defaults():
    assert method_hyperparameters("cce") == {"threshold": 4.0, "warmup_epochs": 1}
    assert method_hyperparameters("coteaching") == {"noise_rate": 0.2, "ramp_epochs": 10}
    assert method_hyperparameters("ce") == {}


@pytest.mark.parametrize("name", METHODS)
def test_step_output_contract(name):
    method = build_method(name)
    method.setup(num_train=16, num_classes=3, num_epochs=3)
    method.start_epoch(2)
    inputs, targets = toy_inputs(16)
    output = run_step(method, _models(method), inputs, targets)
    assert output.loss.dim() == 0
    assert torch.isfinite(output.loss)
    assert output.logits.shape == (16, 3)
    assert not output.logits.requires_grad
    if output.selected is not None:
        assert output.selected.dtype == torch.bool
        assert output.selected.shape == (16,)


@pytest.mark.parametrize("name", METHODS)
def test_step_deterministic(name):
    inputs, targets = toy_inputs(16)
    losses = []
    for _ in range(2):
        method = build_method(name)
        method.setup(num_train=16, num_classes=3, num_epochs=1)
        losses.append(run_step(method, _models(method), inputs, targets, seed=7).loss)
    assert torch.equal(losses[0], losses[1])


@pytest.mark.parametrize("name", sorted(set(METHODS) - DRAWING))
def test_step_leaves_generator(name):
    method = build_method(name)
    method.setup(num_train=8, num_classes=3, num_epochs=1)
    inputs, targets = toy_inputs(8)
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    method.step(_models(method), inputs, targets, torch.arange(8), generator=generator)
    assert torch.equal(generator.get_state(), state)


@pytest.mark.parametrize("name", METHODS)
def test_step_leaves_global_random_state(name):
    method = build_method(name)
    method.setup(num_train=8, num_classes=3, num_epochs=1)
    inputs, targets = toy_inputs(8)
    models = _models(method)
    state = torch.get_rng_state()
    run_step(method, models, inputs, targets)
    assert torch.equal(torch.get_rng_state(), state)


LOSSES = {
    "ce": lambda z, y: cross_entropy(z, y),
    "spl": lambda z, y: self_paced_cross_entropy(z, y, drop_rate=0.3),
    "prl": lambda z, y: prl_cross_entropy(z, y, drop_rate=0.3),
    "cce": lambda z, y: clipped_cross_entropy(z, y, threshold=1.5),
    "jsd": lambda z, y: jensen_shannon_loss(z, y, pi1=0.3),
    "mixup": lambda z, y: mixup_cross_entropy(z, y, torch.arange(y.numel()).flip(0), 0.3),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_float32_matches_float64(name, seed):
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(12, 5, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, 5, (12,), generator=generator)
    single = LOSSES[name](logits.float(), targets)
    double = LOSSES[name](logits, targets)
    assert single.dtype == torch.float32
    assert double.dtype == torch.float64
    torch.testing.assert_close(single.double(), double, rtol=1e-5, atol=1e-6)
