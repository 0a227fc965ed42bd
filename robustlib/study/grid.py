"""Run a grid of experiments as papermill notebooks, in parallel, resuming where it stopped."""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from robustlib.experiment import store
from robustlib.experiment.config import ExperimentConfig

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT_NOTEBOOK = REPO_ROOT / "notebooks" / "experiment.ipynb"
EXECUTED_NOTEBOOK = "experiment.ipynb"
# Unfinished runs live here until they succeed, then move to their final folder in one rename.
PARTIAL_DIR = ".partial"
# A failed run's folder, executed notebook included, is kept here for inspection.
FAILED_DIR = ".failed"
FAILURES_FILE = "failures.json"


@dataclass
class GridSummary:
    """Outcome of a grid run.

    Attributes:
        done: Run folder names executed now.
        skipped: Run folder names whose complete results already existed.
        failed: Run folder name → the error's last lines.
        seconds: Wall time.
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def is_run_complete(folder: Path) -> bool:
    """Return True when ``folder`` contains a finished experiment and its executed notebook."""
    return store.is_complete(folder) and (folder / EXECUTED_NOTEBOOK).is_file()


def execute_one(
    parameters: dict,
    run_dir: str,
    notebook: str,
    data_home: list[str] | None,
    kernel_name: str,
) -> float:
    """Execute the experiment notebook for one configuration; return its wall time.

    Runs in a worker process. papermill writes the executed notebook and the notebook writes
    the results into a private partial folder, which is renamed to ``run_dir`` only when
    everything succeeded, so ``run_dir`` never contains a partial result. A failed run's folder
    moves to ``.failed/<run name>/`` beside it, where its executed notebook shows the error.
    """
    import papermill

    from robustlib.study.kernels import IPCKernelManager

    started = time.perf_counter()
    final = Path(run_dir)
    partial = final.parent / PARTIAL_DIR / f"{final.name}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        papermill.execute_notebook(
            notebook,
            str(partial / EXECUTED_NOTEBOOK),
            parameters={**parameters, "out_dir": str(partial), "data_home": data_home, "progress": False},
            kernel_name=kernel_name,
            kernel_manager_class=IPCKernelManager,
            progress_bar=False,
            cwd=str(partial),
        )
        if not store.is_complete(partial):
            raise RuntimeError(f"the notebook finished but wrote no {store.METRICS_FILE}")
        _set_title(partial / EXECUTED_NOTEBOOK, parameters)
    except BaseException:
        failed = final.parent / FAILED_DIR / final.name
        shutil.rmtree(failed, ignore_errors=True)
        failed.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, failed)
        raise
    if final.exists():
        # An older incomplete copy: the complete one replaces it.
        shutil.rmtree(final)
    os.replace(partial, final)
    return time.perf_counter() - started


def _as_list(data_home: str | Path | list) -> list:
    return list(data_home) if isinstance(data_home, (list, tuple)) else [data_home]


def _set_title(path: Path, parameters: dict) -> None:
    """Title an executed notebook after its run, so that the book's appendix pages have distinct titles."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        return
    params = ", ".join(f"{key}={value}" for key, value in sorted(parameters["method_params"].items()))
    title = (
        f"# {parameters['method']} ({params or 'defaults'}), {parameters['noise']} "
        f"{parameters['noise_rate']:.0%}, seed {parameters['seed']}"
    )
    first.source = "\n".join([title, *first.source.splitlines()[1:]])
    nbformat.write(notebook, path)


def _as_completed_or_interrupted(futures: dict):
    """Yield futures as they complete; on Ctrl-C, cancel the pending ones and re-raise."""
    try:
        yield from concurrent.futures.as_completed(futures)
    except KeyboardInterrupt:
        running = sum(1 for future in futures if future.running())
        for future in futures:
            future.cancel()
        logger.warning(
            "interrupted: waiting for %d running experiment(s) to finish; finished ones are kept "
            "and a rerun resumes from them",
            running,
        )
        raise


def default_workers() -> int:
    """Return one worker per CPU core available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_grid(
    configs: list[ExperimentConfig],
    runs_dir: str | Path,
    *,
    workers: int | None = None,
    notebook: str | Path = EXPERIMENT_NOTEBOOK,
    data_home: str | Path | list | None = None,
    executor: concurrent.futures.Executor | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
) -> GridSummary:
    """Execute every configuration whose complete results are not yet in ``runs_dir``.

    Each experiment becomes ``runs_dir/<config.run_name()>/`` holding the executed notebook
    and the results files. The run name ends with a digest of the resolved configuration, so
    a changed setting is a new run and an unchanged one is skipped. Failures are recorded in
    ``runs_dir/failures.json`` (run name → error) and do not stop the other runs.

    Args:
        configs: The experiments.
        runs_dir: Folder of the run folders; created if missing.
        workers: Parallel worker processes; None means one per CPU core. Ignored when
            ``executor`` is given.
        notebook: The parameterised experiment notebook.
        data_home: Passed to each run (see ``robustlib.data.data_home``).
        executor: Any ``concurrent.futures.Executor`` (for instance one backed by a cluster);
            by default a ``ProcessPoolExecutor`` with ``workers`` processes.
        kernel_name: Jupyter kernel that executes the notebooks.
        progress: Show an overall tqdm bar.
    """
    started = time.perf_counter()
    # Absolute, because each notebook runs with its own run folder as working directory.
    runs_dir = Path(runs_dir).resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"experiment notebook {notebook} not found; pass notebook= with its path")
    shutil.rmtree(runs_dir / PARTIAL_DIR, ignore_errors=True)

    summary = GridSummary()
    pending: list[ExperimentConfig] = []
    for config in configs:
        if is_run_complete(runs_dir / config.run_name()):
            summary.skipped.append(config.run_name())
        else:
            pending.append(config)
    logger.info(
        "%d experiments: %d already complete, %d to run", len(configs), len(summary.skipped), len(pending)
    )

    own_executor = executor is None
    if own_executor:
        workers = workers or default_workers()
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
    try:
        futures = {
            executor.submit(
                execute_one,
                config.to_parameters(),
                str(runs_dir / config.run_name()),
                str(notebook),
                None if data_home is None else [str(folder) for folder in _as_list(data_home)],
                kernel_name,
            ): config.run_name()
            for config in pending
        }
        bar = tqdm(total=len(futures), desc="experiments", disable=not progress, unit="run")
        for future in _as_completed_or_interrupted(futures):
            name = futures[future]
            try:
                seconds = future.result()
            except Exception as error:  # noqa: BLE001 - every failure is recorded, the grid goes on
                message = "".join(traceback.format_exception_only(type(error), error)).strip()
                summary.failed[name] = message[-2000:]
                logger.error("experiment %s failed: %s", name, message[-500:])
            else:
                summary.done.append(name)
                logger.debug("experiment %s finished in %.1f s", name, seconds)
            bar.update(1)
            bar.set_postfix(failed=len(summary.failed))
        bar.close()
    finally:
        if own_executor:
            executor.shutdown(wait=True, cancel_futures=True)

    store.write_json(runs_dir / FAILURES_FILE, summary.failed)
    summary.seconds = time.perf_counter() - started
    logger.info(
        "grid finished in %.0f s: %d run, %d skipped, %d failed",
        summary.seconds,
        len(summary.done),
        len(summary.skipped),
        len(summary.failed),
    )
    return summary
