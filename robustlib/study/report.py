"""Execute the results notebook over a grid's runs."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from robustlib.study.grid import REPO_ROOT

logger = logging.getLogger(__name__)

RESULTS_NOTEBOOK = REPO_ROOT / "notebooks" / "results.ipynb"


def _hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected parameters cell ``remove-cell`` so the book does not show it."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(notebook, path)


def execute_results_notebook(
    *,
    profile: str,
    runs_dir: str | Path,
    book_build: str | Path,
    notebook: str | Path = RESULTS_NOTEBOOK,
    kernel_name: str = "python3",
) -> Path:
    """Execute the results notebook with papermill and return the executed copy's path.

    The executed notebook is ``book_build/results.ipynb``. It is written under a temporary
    name and renamed when execution succeeded, so a failed or killed execution never leaves a
    notebook that looks current. A failing claim in its last cell fails this call.
    """
    import papermill

    from robustlib.study.kernels import IPCKernelManager

    runs_dir = Path(runs_dir).resolve()
    book_build = Path(book_build)
    book_build.mkdir(parents=True, exist_ok=True)
    target = book_build / "results.ipynb"
    partial = book_build / f".results-{os.getpid()}.ipynb"
    logger.info("executing %s over %s", notebook, runs_dir)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(partial),
            parameters={"runs_dir": str(runs_dir), "profile_name": profile},
            kernel_name=kernel_name,
            kernel_manager_class=IPCKernelManager,
            progress_bar=False,
            cwd=str(book_build),
        )
        _hide_injected_parameters(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
