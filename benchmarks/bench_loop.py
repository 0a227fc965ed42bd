"""Time the training loop against a bare PyTorch loop, and one default CLINC150 run.

Part 1 trains the fastText model with cross-entropy on CLINC150 with 20% symmetric noise and
the default profile's optimizer settings, twice: through ``robustlib.training.fit``, and through
a plain loop written here. The plain loop does the same work (same batches, same optimizers,
the same per-epoch predictions on the validation, test and corrupted training examples) without
the library's bookkeeping. The runs alternate, and the ratio of the medians is the loop's
overhead.

Part 2 times ``run_experiment`` on the default profile's baseline configuration (ce, 20%
noise, seed 0), data loading and encoding included.

Writes ``benchmarks/results/loop.json`` and ``benchmarks/results/loop.md``.

Run: ``python benchmarks/bench_loop.py [--repeats 3] [--epochs 5]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from robustlib.data import load_dataset, split_dataset
from robustlib.experiment import run_experiment
from robustlib.experiment.provenance import cpu_model
from robustlib.methods import build_method
from robustlib.models import build_model
from robustlib.noise import apply_noise
from robustlib.study.profiles import get_profile
from robustlib.training import SplitData, TrainSettings, fit, predict
from robustlib.training.seeding import torch_generator

logger = logging.getLogger("bench_loop")
RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 1.05


def prepare(settings: TrainSettings):
    """Load CLINC150 and return the encoded splits with 20% symmetric noise."""
    dataset = load_dataset("clinc150")
    splits = split_dataset(dataset, fractions=(0.8, 0.1, 0.1), seed=0)
    train_noise = apply_noise("symmetric", splits.train.labels, 0.2, num_classes=dataset.num_classes, seed=1)
    val_noise = apply_noise("symmetric", splits.val.labels, 0.2, num_classes=dataset.num_classes, seed=2)
    encoder = build_model("fasttext", num_classes=dataset.num_classes, seed=0)
    return (
        SplitData(encoder.encode(splits.train.texts), train_noise.noisy_labels, splits.train.labels),
        SplitData(encoder.encode(splits.val.texts), val_noise.noisy_labels, splits.val.labels),
        SplitData(encoder.encode(splits.test.texts), splits.test.labels, splits.test.labels),
        dataset.num_classes,
    )


def time_library(train, val, test, num_classes, settings) -> float:
    model = build_model("fasttext", num_classes=num_classes, seed=0)
    started = time.perf_counter()
    fit(build_method("ce"), [model], train, val, test, settings=settings, seed=0, progress=False)
    return time.perf_counter() - started


def time_bare(train, val, test, num_classes, settings) -> float:
    """Time the same training and evaluation as ``fit`` does for ce, written as a plain loop."""
    model = build_model("fasttext", num_classes=num_classes, seed=0)
    sparse, dense = model.param_groups()
    optimizers = [
        torch.optim.SGD(dense, lr=settings.lr, momentum=0.9),
        torch.optim.SGD(sparse, lr=settings.sparse_lr),
    ]
    generator = torch_generator(0, "shuffle")
    corrupted_index = torch.nonzero(train.corrupted).flatten()
    device = torch.device("cpu")
    started = time.perf_counter()
    for _ in range(settings.epochs):
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), settings.batch_size):
            index = order[start : start + settings.batch_size]
            logits = model(**model.collate(train.encoded, index))
            loss = F.cross_entropy(logits, train.labels[index])
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            loss.item()
        for split, indices in ((val, None), (test, None), (train, corrupted_index)):
            predict(model, split.encoded, len(split), device=device, indices=indices)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each loop")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per timed run")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)

    profile = get_profile("default")
    settings = dataclasses.replace(TrainSettings(**profile.train), epochs=args.epochs)
    train, val, test, num_classes = prepare(settings)

    library, bare = [], []
    for repeat in range(args.repeats):
        bare.append(time_bare(train, val, test, num_classes, settings))
        library.append(time_library(train, val, test, num_classes, settings))
        logger.info("repeat %d: bare %.2f s, library %.2f s", repeat + 1, bare[-1], library[-1])
    ratio = statistics.median(library) / statistics.median(bare)

    config = profile.config("ce", profile.main_rate, 0)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        metrics = run_experiment(config, folder, progress=False)
        run_seconds = time.perf_counter() - started

    record = {
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "threads": args.threads,
        "torch": torch.__version__,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "bare_seconds": bare,
        "library_seconds": library,
        "overhead_ratio": ratio,
        "target": TARGET,
        "default_run": {
            "config": config.run_name(),
            "epochs": config.train.epochs,
            "seconds": run_seconds,
            "fit_seconds": metrics["fit_seconds"],
            "final_test_accuracy": metrics["final_test_accuracy"],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loop.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "loop.md").write_text(
        f"""# Training-loop overhead and one default run

Measured {record['measured']} by `benchmarks/bench_loop.py` on {record['cpu']}, {args.threads} torch
thread(s), torch {record['torch']}. fastText model, CLINC150 with 20% symmetric noise, the
default profile's optimizer settings, {args.epochs} epochs, median of {args.repeats} runs each.

| loop | median wall time [s] | runs [s] |
|---|---:|---|
| plain PyTorch loop, same work | {statistics.median(bare):.2f} | {', '.join(f'{x:.2f}' for x in bare)} |
| `robustlib.training.fit` | {statistics.median(library):.2f} | {', '.join(f'{x:.2f}' for x in library)} |

Overhead ratio: **{ratio:.3f}** (target ≤ {TARGET:.2f}: {'met' if ratio <= TARGET else 'not met'}).

One default-profile run (`{config.run_name()}`, {config.train.epochs} epochs, data loading and
encoding included, outside papermill): {run_seconds:.1f} s, of which training and evaluation
{metrics['fit_seconds']:.1f} s.
"""
    )
    logger.info("overhead ratio %.3f; default run %.1f s", ratio, run_seconds)


if __name__ == "__main__":
    main()
