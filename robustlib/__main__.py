"""Command line: ``python -m robustlib {data,run,grid,results,book} ...``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

logger = logging.getLogger("robustlib")


def _parse_value(text: str):
    """Parse a ``--set`` value: JSON when it parses (numbers, null, lists, objects), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _command_data(args: argparse.Namespace) -> int:
    from robustlib.data import prepare_dataset

    path = prepare_dataset(args.name, data_home=args.data_home)
    print(path)
    return 0


def _command_run(args: argparse.Namespace) -> int:
    from robustlib.experiment import ConfigError, ExperimentConfig, run_experiment

    values: dict = {}
    if args.config:
        values.update(json.loads(Path(args.config).read_text()))
    for item in args.set or []:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, text = item.split("=", 1)
        values[key] = _parse_value(text)
    if args.profile:
        values = _with_profile(args.profile, values)
    config = ExperimentConfig.from_parameters(values)
    metrics = run_experiment(
        config, args.out, data_home=args.data_home, progress=not args.no_progress, overwrite=args.overwrite
    )
    print(json.dumps(metrics, indent=2))
    return 0


def _with_profile(name: str, values: dict) -> dict:
    """Fill every value not given in ``values`` from a study profile's cell for the same run."""
    from robustlib.study.profiles import get_profile

    profile = get_profile(name)
    method = values.get("method", "ce")
    rate = values.get("noise_rate", profile.main_rate)
    base = profile.config(method, rate, values.get("seed", 0)).to_parameters()
    if "method_params" not in values and method in profile.method_params:
        values = {**values, "method_params": dict(profile.method_params[method])}
    if "method_params" in values:
        base.pop("method_params")
    return {**base, **values}


def _command_grid(args: argparse.Namespace) -> int:
    from robustlib.study.grid import run_grid
    from robustlib.study.profiles import get_profile

    profile = get_profile(args.profile)
    summary = run_grid(profile.configs(), args.out, workers=args.workers, data_home=args.data_home)
    print(
        f"grid '{profile.name}': {len(summary.done)} run, {len(summary.skipped)} already complete, "
        f"{len(summary.failed)} failed, {summary.seconds:.0f} s"
    )
    for name, error in summary.failed.items():
        print(f"FAILED {name}: {error.splitlines()[-1] if error else ''}", file=sys.stderr)
    return 1 if summary.failed else 0


def _command_results(args: argparse.Namespace) -> int:
    from robustlib.study.report import execute_results_notebook

    path = execute_results_notebook(profile=args.profile, runs_dir=args.runs, book_build=args.book_build)
    print(path)
    return 0


def _command_book(args: argparse.Namespace) -> int:
    from robustlib.study.book import build_book
    from robustlib.study.profiles import get_profile

    profile = get_profile(args.profile)
    book_build = Path(args.book_build)
    index = build_book(
        profile=profile.name,
        runs_dir=Path(args.runs),
        book_build=book_build,
        results_notebook=book_build / "results.ipynb",
        profile_settings=profile.describe(),
    )
    print(f"book: {index}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m robustlib", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING)")
    parser.add_argument("--data-home", default=None, help="dataset folder(s), separated by the OS path separator")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="download or locate a dataset and verify its checksum")
    data.add_argument("name", help="dataset name (clinc150, pricerunner, allenoise)")
    data.set_defaults(handler=_command_data)

    run = commands.add_parser("run", help="run one experiment")
    run.add_argument("--config", help="JSON file with configuration values")
    run.add_argument("--profile", help="start from a study profile's settings (default, smoke); "
                     "--set and --config values replace them")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="set one configuration key or training setting, e.g. --set method=elr "
                     "--set noise_rate=0.4 --set epochs=10; values are parsed as JSON when they parse")
    run.add_argument("--out", required=True, help="results folder")
    run.add_argument("--overwrite", action="store_true", help="rerun even if the folder contains a complete result")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.set_defaults(handler=_command_run)

    grid = commands.add_parser("grid", help="run a profile's experiment grid, skipping complete runs")
    grid.add_argument("--profile", default="default", help="profile name (default, smoke)")
    grid.add_argument("--out", required=True, help="folder of the run folders")
    grid.add_argument("--workers", type=int, default=None, help="parallel experiments (default: one per core)")
    grid.set_defaults(handler=_command_grid)

    results = commands.add_parser("results", help="execute the results notebook over a grid's runs")
    results.add_argument("--profile", default="default")
    results.add_argument("--runs", required=True, help="folder of the run folders")
    results.add_argument("--book-build", required=True, help="book build folder; results.ipynb is written there")
    results.set_defaults(handler=_command_results)

    book = commands.add_parser("book", help="build the Jupyter Book from executed notebooks")
    book.add_argument("--profile", default="default")
    book.add_argument("--runs", required=True)
    book.add_argument("--book-build", required=True)
    book.set_defaults(handler=_command_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Like ROBUSTLIB_DATA_HOME, the option may list several folders.
    args.data_home = args.data_home.split(os.pathsep) if args.data_home else None
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished experiments are kept and a rerun resumes from them", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
