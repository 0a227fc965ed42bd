"""Run one experiment from a configuration and record it in a results folder."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from robustlib.data import load_dataset, split_dataset
from robustlib.data.dataset import TextDataset
from robustlib.experiment import store
from robustlib.experiment import provenance as provenance_module
from robustlib.experiment.config import ConfigError, ExperimentConfig
from robustlib.methods import build_method
from robustlib.models import build_model
from robustlib.noise import NoiseResult, apply_noise, confusion_scores
from robustlib.training import SplitData, fit
from robustlib.training.seeding import derive_seed

logger = logging.getLogger(__name__)


def limit_per_class(dataset: TextDataset, max_per_class: int) -> TextDataset:
    """Keep the first ``max_per_class`` examples (by id) of every class."""
    order = np.argsort(dataset.ids, kind="stable")
    kept: list[int] = []
    counts = np.zeros(dataset.num_classes, dtype=np.int64)
    for position in order:
        label = dataset.labels[position]
        if counts[label] < max_per_class:
            kept.append(position)
            counts[label] += 1
    return dataset.subset(np.sort(np.asarray(kept, dtype=np.int64)))


def corrupt(config: ExperimentConfig, split: TextDataset, offset: int) -> NoiseResult:
    """Apply the configured noise to one split; ``offset`` gives each split its own stream."""
    scores = None
    if config.noise == "instance":
        scores = confusion_scores(
            split.texts, split.labels, num_classes=split.num_classes, seed=derive_seed(config.seed, "noise", 10)
        )
    return apply_noise(
        config.noise,
        split.labels,
        config.noise_rate,
        num_classes=split.num_classes,
        seed=derive_seed(config.seed, "noise", offset),
        taxonomy=split.taxonomy,
        scores=scores,
        noisy_labels=split.noisy_labels,
    )


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    data_home=None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Train and evaluate one configuration and write its results into ``out_dir``.

    Files written, each atomically and in this order: ``config.json`` (the resolved
    configuration), ``provenance.json`` (versions, commit, device, dataset checksum, realised
    noise rates), ``history.json`` (one record per epoch, see ``robustlib.training.fit``) and
    last ``metrics.json``. A run killed before the end leaves no ``metrics.json``, so it never
    looks complete; a rerun overwrites what it left.

    Args:
        config: The experiment.
        out_dir: The results folder; created if missing.
        data_home: Where datasets are found or cached (see ``robustlib.data.data_home``).
        progress: Show tqdm bars.
        overwrite: Rerun even when ``out_dir`` contains a complete result of the same
            configuration. A complete result of another configuration always raises.

    Returns:
        The final metrics (the content of ``metrics.json``).
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}; use ExperimentConfig.from_dict")
    out_dir = Path(out_dir)
    if store.is_complete(out_dir):
        stored = store.read_json(out_dir / "config.json")
        if stored != json.loads(json.dumps(config.to_dict())):
            raise ConfigError(
                f"{out_dir} already contains a complete result of another configuration; choose another folder"
            )
        if not overwrite:
            logger.info("%s is complete; skipping (pass overwrite=True to rerun)", out_dir)
            return store.read_json(out_dir / store.METRICS_FILE)
    (out_dir / store.METRICS_FILE).unlink(missing_ok=True)
    started = time.perf_counter()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    store.write_json(out_dir / "config.json", config.to_dict())

    # Data: load, optionally shrink, split, then corrupt training and validation labels.
    dataset = load_dataset(config.dataset, data_home=data_home, **dict(config.dataset_options))
    if config.max_per_class is not None:
        dataset = limit_per_class(dataset, config.max_per_class)
    splits = split_dataset(dataset, fractions=config.split, seed=config.split_seed)
    train_noise = corrupt(config, splits.train, offset=0)
    val_noise = corrupt(config, splits.val, offset=1)
    logger.info(
        "%s: %d train / %d val / %d test, %s noise: realised rate %.4f (train), %.4f (val)",
        dataset.name,
        len(splits.train),
        len(splits.val),
        len(splits.test),
        config.noise,
        train_noise.realised_rate,
        val_noise.realised_rate,
    )

    # Networks: each from its own seed, so a second network leaves the first unchanged.
    method = build_method(config.method, **dict(config.method_params))
    models = [
        build_model(
            config.model,
            num_classes=dataset.num_classes,
            seed=derive_seed(config.seed, "network", k),
            **dict(config.model_params),
        )
        for k in range(method.num_networks)
    ]
    train = SplitData(models[0].encode(splits.train.texts), train_noise.noisy_labels, splits.train.labels)
    val = SplitData(models[0].encode(splits.val.texts), val_noise.noisy_labels, splits.val.labels)
    test = SplitData(models[0].encode(splits.test.texts), splits.test.labels, splits.test.labels)

    result = fit(method, models, train, val, test, settings=config.train, seed=config.seed, progress=progress)

    record = provenance_module.collect(result.device)
    record["dataset"] = {"name": dataset.name, "checksum": dataset.checksum, "num_classes": dataset.num_classes}
    record["realised_noise_rate"] = {"train": train_noise.realised_rate, "val": val_noise.realised_rate}
    store.write_json(out_dir / "provenance.json", record)
    store.write_json(out_dir / "history.json", result.history)
    final = {
        "final_test_accuracy": result.final_test_accuracy,
        "best_epoch": result.best_epoch,
        "best_test_accuracy": result.best_test_accuracy,
        "final_val_clean_subset_accuracy": result.history[-1]["val_clean_subset_accuracy"],
        "realised_train_noise_rate": train_noise.realised_rate,
        "realised_val_noise_rate": val_noise.realised_rate,
        "num_train": len(train),
        "num_val": len(val),
        "num_test": len(test),
        "num_classes": dataset.num_classes,
        "fit_seconds": result.seconds,
        "total_seconds": time.perf_counter() - started,
        "device": result.device,
    }
    store.write_json(out_dir / store.METRICS_FILE, final)
    logger.info(
        "%s done in %.1f s: test accuracy %.4f (final), %.4f (best epoch %d)",
        config.run_name(),
        final["total_seconds"],
        final["final_test_accuracy"],
        final["best_test_accuracy"],
        final["best_epoch"],
    )
    return final
