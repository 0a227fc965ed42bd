"""Time one training step of each method relative to cross-entropy.

A step is the method's forward pass, the backward pass and the optimizer steps of every
network, on the fastText model with 150 classes and batches of 64 short random texts. The
optimizers are the study's default profile's: SGD with momentum for the head and plain SGD
for the embedding. Methods are timed in
interleaved rounds (every method once per round, in a random order) so that drifts of the
machine's speed hit all of them alike. The script writes ``benchmarks/results/methods.json`` (raw times, ratios,
machine) and ``benchmarks/results/methods.md`` (a table).

Run: ``python benchmarks/bench_methods.py [--threads 1] [--rounds 40]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from robustlib.experiment.provenance import cpu_model
from robustlib.methods import build_method
from robustlib.models import build_model
from robustlib.study.profiles import get_profile
from robustlib.training import TrainSettings
from robustlib.training.loop import build_optimizers

logger = logging.getLogger("bench_methods")

RESULTS = Path(__file__).resolve().parent / "results"
NUM_CLASSES = 150
BATCH_SIZE = 64
NUM_TEXTS = 2048
# "study": the default profile's optimizers (SGD on the sparse embedding, SGD with momentum on
# the head), so the ratios describe the study's own training steps. "adam": the training loop's
# defaults (SparseAdam and Adam, lr 1e-3), whose optimizer step alone takes about 1.5 ms.
OPTIMIZER_SETTINGS = {
    "study": TrainSettings(**get_profile("default").train),
    "adam": TrainSettings(),
}

# (label, registry name, hyperparameters, target ratio to ce or None). The targets are the
# project's performance goals; a second network doubles co-teaching's work.
CASES = [
    ("ce", "ce", {}, None),
    ("spl", "spl", {}, 1.10),
    ("prl", "prl", {}, 1.10),
    ("cce", "cce", {}, 1.10),
    ("elr", "elr", {}, 1.10),
    ("jsd", "jsd", {}, 1.10),
    ("coteaching", "coteaching", {}, 2.10),
    ("mixup", "mixup", {}, 1.10),
    ("mixup (logits)", "mixup", {"mode": "logits"}, None),
    ("jsd (1 view)", "jsd", {"num_views": 1}, None),
]


def random_texts(count: int, *, seed: int) -> list[str]:
    """Return ``count`` texts of 3 to 12 words drawn from a random 5,000-word vocabulary."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = ["".join(rng.choice(letters, size=rng.integers(3, 9))) for _ in range(5000)]
    return [" ".join(rng.choice(vocabulary, size=rng.integers(3, 13))) for _ in range(count)]


class Case:
    """One method with its networks, optimizers, random stream and batch cycle."""

    def __init__(self, name: str, hparams: dict, batches: list, num_train: int, settings: TrainSettings) -> None:
        self.method = build_method(name, **hparams)
        self.method.setup(num_train=num_train, num_classes=NUM_CLASSES, num_epochs=20)
        # Epoch 10: co-teaching's forget rate has finished its ramp and CCE clips.
        self.method.start_epoch(10)
        self.models = [
            build_model("fasttext", num_classes=NUM_CLASSES, seed=seed) for seed in range(self.method.num_networks)
        ]
        self.optimizers = []
        for model in self.models:
            self.optimizers += build_optimizers(model, settings)
        self.generator = torch.Generator().manual_seed(0)
        self.batches = batches
        self.position = 0

    def step(self) -> None:
        inputs, targets, index = self.batches[self.position % len(self.batches)]
        self.position += 1
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        output = self.method.step(self.models, inputs, targets, index, generator=self.generator)
        output.loss.backward()
        for optimizer in self.optimizers:
            optimizer.step()

    def time_steps(self, count: int) -> float:
        """Run ``count`` steps and return the mean seconds per step."""
        start = time.perf_counter()
        for _ in range(count):
            self.step()
        return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds per method (default 40)")
    parser.add_argument("--steps", type=int, default=10, help="steps per round (default 10)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed steps per method first (default 30)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZER_SETTINGS), default="study",
                        help="optimizers of the timed step (default: the study's); 'adam' writes methods-adam.*")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)

    # Encode the texts once and cut them into fixed batches, shared by every method.
    encoder = build_model("fasttext", num_classes=NUM_CLASSES, seed=0)
    encoded = encoder.encode(random_texts(NUM_TEXTS, seed=0))
    label_rng = torch.Generator().manual_seed(1)
    labels = torch.randint(0, NUM_CLASSES, (NUM_TEXTS,), generator=label_rng)
    order = torch.randperm(NUM_TEXTS, generator=label_rng)
    batches = []
    for index in order.split(BATCH_SIZE):
        batches.append((encoder.collate(encoded, index), labels[index], index))

    settings = OPTIMIZER_SETTINGS[args.optimizer]
    cases = {label: Case(name, hparams, batches, NUM_TEXTS, settings) for label, name, hparams, _ in CASES}
    for label, case in cases.items():
        case.time_steps(args.warmup)

    # Each round runs the methods in a new random order, so that no method always runs
    # first (on a warm cache) or right after the slowest one.
    per_round: dict[str, list[float]] = {label: [] for label in cases}
    order_rng = np.random.default_rng(2)
    labels_in_order = list(cases)
    for round_index in range(args.rounds):
        for position in order_rng.permutation(len(labels_in_order)):
            label = labels_in_order[position]
            per_round[label].append(cases[label].time_steps(args.steps))
        logger.info("round %d/%d done", round_index + 1, args.rounds)

    baseline = per_round["ce"]
    rows = []
    for label, name, hparams, target in CASES:
        times = per_round[label]
        # Three estimates of the ratio. The median of per-round ratios (paired) is the one
        # compared with the target, because it is the least sensitive to slow phases of a
        # shared machine. The ratio of fastest rounds shows the cost without interference.
        paired = [t / b for t, b in zip(times, baseline)]
        rows.append(
            {
                "label": label,
                "method": name,
                "hparams": hparams,
                "median_ms": 1e3 * statistics.median(times),
                "min_ms": 1e3 * min(times),
                "ratio": statistics.median(times) / statistics.median(baseline),
                "paired_ratio": statistics.median(paired),
                "min_ratio": min(times) / min(baseline),
                "target": target,
                "meets_target": None if target is None else statistics.median(paired) <= target,
            }
        )

    record = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "setup": {
            "model": "fasttext",
            "num_classes": NUM_CLASSES,
            "batch_size": BATCH_SIZE,
            "texts": NUM_TEXTS,
            "optimizer": f"{args.optimizer} ({settings.optimizer}): lr {settings.lr} (dense), "
            f"{settings.sparse_lr or settings.lr} (sparse), per network",
            "warmup_steps": args.warmup,
            "rounds": args.rounds,
            "steps_per_round": args.steps,
            "statistic": "median over rounds of the mean step time within a round",
        },
        "results": rows,
    }
    stem = "methods" if args.optimizer == "study" else f"methods-{args.optimizer}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown_table(record))
    logger.info("wrote %s and %s", args.out / f"{stem}.json", args.out / f"{stem}.md")


def markdown_table(record: dict) -> str:
    """Return the results as a markdown page: a table and the machine it ran on."""
    machine = record["machine"]
    lines = [
        f"# Training-step time of each method, relative to cross-entropy ({record['setup']['optimizer'].split(' ')[0]} optimizers)",
        "",
        f"Optimizers: {record['setup']['optimizer']}.",
        "",
        f"Measured {record['date']} by `benchmarks/bench_methods.py` on {machine['cpu']} "
        f"({machine['cores']} cores, {machine['torch_threads']} torch thread(s)), torch {machine['torch']}. "
        f"fastText model, {record['setup']['num_classes']} classes, batches of {record['setup']['batch_size']}; "
        f"{record['setup']['statistic']} ({record['setup']['rounds']} rounds of "
        f"{record['setup']['steps_per_round']} steps).",
        "",
        "The paired ratio (median over rounds of the round's time divided by ce's time in the same",
        "round) is the one compared with the target; the fastest-round ratio divides the fastest",
        "rounds.",
        "",
        "| method | median step [ms] | fastest step [ms] | paired ratio | fastest-round ratio | target | met |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in record["results"]:
        target = "" if row["target"] is None else f"≤ {row['target']:.2f}"
        met = ""
        if row["meets_target"] is not None:
            met = "yes" if row["meets_target"] else "no"
        lines.append(
            f"| {row['label']} | {row['median_ms']:.2f} | {row['min_ms']:.2f} | {row['paired_ratio']:.3f} "
            f"| {row['min_ratio']:.3f} | {target} | {met} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
