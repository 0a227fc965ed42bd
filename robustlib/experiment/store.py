"""Atomic writes and the completeness test of a results folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

# Written last, so a folder that contains it contains a complete result.
METRICS_FILE = "metrics.json"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A reader sees either the old file or the whole new one, never a partial write, because
    ``os.replace`` within one folder is atomic on POSIX and Windows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically. NaN is written as ``NaN`` (Python's JSON)."""
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_complete(folder: Path) -> bool:
    """Return True when ``folder`` contains a finished experiment (its metrics file exists)."""
    return (Path(folder) / METRICS_FILE).is_file()
