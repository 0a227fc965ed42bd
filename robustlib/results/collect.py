"""Read a folder of finished experiments into tables."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from robustlib.experiment import store

logger = logging.getLogger(__name__)


def collect_runs(runs_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load every complete run under ``runs_dir``.

    Returns:
        ``(runs, history)``. ``runs`` has one row per run: ``run`` (folder name), the main
        configuration fields (dataset, method, noise, noise_rate, seed, model, epochs) and
        every value of ``metrics.json``. ``history`` has one row per run and epoch: ``run``,
        ``method``, ``noise_rate``, ``seed`` and every per-epoch value.

    Raises:
        FileNotFoundError: when ``runs_dir`` contains no complete run.
    """
    runs_dir = Path(runs_dir)
    rows, epochs = [], []
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not store.is_complete(folder):
            logger.warning("skipping incomplete run %s", folder)
            continue
        config = store.read_json(folder / "config.json")
        keys = {
            "run": folder.name,
            "dataset": config["dataset"],
            "method": config["method"],
            "noise": config["noise"],
            "noise_rate": config["noise_rate"],
            "seed": config["seed"],
            "model": config["model"],
            "epochs": config["train"]["epochs"],
        }
        rows.append({**keys, **store.read_json(folder / store.METRICS_FILE)})
        for record in store.read_json(folder / "history.json"):
            epochs.append({**{k: keys[k] for k in ("run", "method", "noise_rate", "seed")}, **record})
    if not rows:
        raise FileNotFoundError(f"no complete run found in {runs_dir}; run the grid first (make book)")
    return pd.DataFrame(rows), pd.DataFrame(epochs)
