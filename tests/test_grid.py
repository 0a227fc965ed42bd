"""The grid runner with real papermill executions of the experiment notebook."""

import json

import nbformat

import pytest

from robustlib.experiment import ExperimentConfig
from robustlib.study.grid import FAILED_DIR, FAILURES_FILE, PARTIAL_DIR, is_run_complete, run_grid
from robustlib.study.profiles import PROFILES, STUDY_METHODS, get_profile

pytestmark = [pytest.mark.network, pytest.mark.slow]

TINY = {"max_per_class": 4, "epochs": 1, "batch_size": 32, "device": "cpu", "num_threads": 1}


def test_grid_runs_resumes_and_records_failures(tmp_path):
    good = ExperimentConfig.from_parameters(TINY)
    # An option the model does not take passes config validation and fails inside the run.
    bad = ExperimentConfig.from_parameters({**TINY, "model_params": {"no_such_option": 1}})

    first = run_grid([good, bad], tmp_path, workers=2, progress=False)
    assert first.done == [good.run_name()]
    assert list(first.failed) == [bad.run_name()]
    assert "no_such_option" in first.failed[bad.run_name()]
    assert is_run_complete(tmp_path / good.run_name())
    executed = nbformat.read(tmp_path / good.run_name() / "experiment.ipynb", as_version=4)
    assert executed.cells[0].source.startswith("# ce (defaults), symmetric 20%, seed 0\n")
    assert not (tmp_path / bad.run_name()).exists()
    assert not any((tmp_path / PARTIAL_DIR).glob("*"))
    assert (tmp_path / FAILED_DIR / bad.run_name() / "experiment.ipynb").is_file()
    assert json.loads((tmp_path / FAILURES_FILE).read_text()) == first.failed

    second = run_grid([good, bad], tmp_path, workers=2, progress=False)
    assert second.skipped == [good.run_name()]
    assert second.done == []
    assert list(second.failed) == [bad.run_name()]


def test_profiles_cover_the_study_grid():
    default = get_profile("default")
    configs = default.configs()
    keys = {(c.method, c.noise_rate, c.seed) for c in configs}
    for method in STUDY_METHODS:
        for rate in (0.0, 0.2):
            for seed in range(5):
                assert (method, rate, seed) in keys
        for rate in (0.1, 0.4, 0.6):
            assert (method, rate, 0) in keys
    # 8 methods x 2 conditions x 5 seeds + 8 methods x 3 extra rates x 1 seed, each once.
    assert len(default.study_configs()) == 80 + 24
    # Plus 3 ablations x 5 seeds at the main rate.
    assert len(configs) == 80 + 24 + 15


def test_ablations_replace_the_method_params():
    labels = {label: config for label, config in get_profile("default").ablation_configs()}
    reference_cce = labels["cce, clipping after epoch 1 (reference)"]
    assert reference_cce.method == "cce"
    assert reference_cce.method_params["warmup_epochs"] == 1
    assert reference_cce.noise_rate == 0.2


def test_unknown_profile_rejected():
    with pytest.raises(ValueError, match="unknown profile 'huge'; expected one of default, smoke"):
        get_profile("huge")


def test_smoke_profile_is_small():
    assert len(PROFILES["smoke"].configs()) < len(PROFILES["default"].configs())
