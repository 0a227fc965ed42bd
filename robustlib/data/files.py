"""Load a table of labelled texts (csv, tsv, parquet or jsonl) into a TextDataset.

Label values become class names (strings). Classes are numbered in sorted order: numerically
when every name is an integer literal, otherwise in string order, so the same file always gives
the same label indices.
"""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import lzma
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from robustlib.data.dataset import Taxonomy, TextDataset
from robustlib.data.errors import DataError
from robustlib.data.home import sha256_file

logger = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "parquet", "jsonl")

# File suffixes that name each format. A compression suffix may follow a text format. For csv
# and tsv, pandas reads .gz, .bz2, .xz, .zst and .zip. For jsonl, .gz, .bz2 and .xz work.
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
             ".jsonl": "jsonl", ".ndjson": "jsonl"}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")

# Separator between the levels of a taxonomy path, as in "Electronics > Phones > Smartphones".
PATH_SEPARATOR = " > "

_INTEGER = re.compile(r"-?\d+")
_MAX_LISTED = 10


def load_table(
    path: str | os.PathLike,
    *,
    text_column: str,
    label_column: str,
    parent_column: str | None = None,
    noisy_label_column: str | None = None,
    name: str | None = None,
    format: str | None = None,
) -> TextDataset:
    """Load a table with one labelled text per row.

    Args:
        path: The file to read.
        text_column: Column with the texts. Every text must be non-empty.
        label_column: Column with the (clean) class of each text; its values become the class
            names.
        parent_column: Optional column with each class's parent in a taxonomy: either the
            parent's name or a full path such as ``"Home > Kitchen > Kettles"`` (levels
            separated by ``>``, spaces around it ignored). A path that already ends with the
            row's class name is taken as the class's path, any other value as the path above
            the class. All rows of a class must agree.
        noisy_label_column: Optional column with a second, noisy label per row (for example the
            label a seller chose). Its values join the class list.
        name: Dataset name; defaults to the file name without its suffixes.
        format: One of ``FORMATS``; None picks it from the file suffix (``.csv``, ``.tsv``,
            ``.parquet``, ``.jsonl``, optionally followed by a compression suffix such as ``.gz``
            for the text formats).

    Returns:
        A TextDataset with ids ``0..N-1`` in row order, the file's sha256 as ``checksum`` and
        ``extra["sha256"] = {file name: sha256}``.

    Raises:
        DataError: If the file is missing, empty or in an unknown format, a column is missing,
            a text or label is empty or missing, or a class has no or conflicting parents.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    format = _resolve_format(path, format)

    frame = _read_frame(path, format)
    checksum = sha256_file(path)
    dataset = dataset_from_frame(
        frame,
        text_column=text_column,
        label_column=label_column,
        parent_column=parent_column,
        noisy_label_column=noisy_label_column,
        name=name or path.name.split(".")[0],
        source=str(path),
        checksum=checksum,
    )
    dataset.extra["sha256"] = {path.name: checksum}
    return dataset


def dataset_from_frame(
    frame: pd.DataFrame,
    *,
    text_column: str,
    label_column: str,
    parent_column: str | None = None,
    noisy_label_column: str | None = None,
    name: str,
    source: str,
    checksum: str | None = None,
    ids: np.ndarray | None = None,
) -> TextDataset:
    """Build a TextDataset from a table already in memory; the checks of ``load_table``.

    Args:
        frame: One example per row.
        text_column, label_column, parent_column, noisy_label_column: As in ``load_table``.
        name: Dataset name.
        source: Where the table came from (a file path), for error messages.
        checksum: Recorded as the dataset's checksum.
        ids: ``(N,)`` int64 stable ids; None numbers the rows ``0..N-1``.

    Raises:
        DataError: As ``load_table``.
    """
    requested = [text_column, label_column, parent_column, noisy_label_column]
    _check_columns(frame, [column for column in requested if column is not None], source)
    if len(frame) == 0:
        raise DataError(f"{source} has a header but no data rows; add at least one labelled text")

    texts = _texts(frame[text_column], text_column, source)
    labels_text = _label_strings(frame[label_column], label_column, source)
    noisy_text = None
    if noisy_label_column is not None:
        noisy_text = _label_strings(frame[noisy_label_column], noisy_label_column, source)

    class_names = sorted_class_names(set(labels_text) | set(noisy_text or ()))
    index_of = {class_name: index for index, class_name in enumerate(class_names)}
    labels = np.array([index_of[value] for value in labels_text], dtype=np.int64)
    noisy_labels = None
    if noisy_text is not None:
        noisy_labels = np.array([index_of[value] for value in noisy_text], dtype=np.int64)

    taxonomy = None
    if parent_column is not None:
        parents = _label_strings(frame[parent_column], parent_column, source)
        taxonomy = _taxonomy_from_parent_column(class_names, labels_text, parents, parent_column, source)

    if ids is None:
        ids = np.arange(len(frame), dtype=np.int64)
    logger.info("loaded %s: %d texts, %d classes", source, len(texts), len(class_names))
    return TextDataset(
        name=name,
        texts=texts,
        labels=labels,
        ids=np.asarray(ids, dtype=np.int64),
        class_names=tuple(class_names),
        taxonomy=taxonomy,
        noisy_labels=noisy_labels,
        checksum=checksum,
    )


def sorted_class_names(names: set[str]) -> list[str]:
    """Sort class names numerically when all are integer literals, otherwise as strings."""
    if all(_INTEGER.fullmatch(class_name) for class_name in names):
        return sorted(names, key=int)
    return sorted(names)


def split_path(path: str) -> list[str]:
    """Split a taxonomy path such as ``"Home > Kitchen > Kettles"`` into its levels."""
    return [level.strip() for level in path.split(PATH_SEPARATOR.strip())]


def taxonomy_from_parents(
    class_names: Sequence[str], parent_of: Mapping[str, Sequence[str]], *, source: str
) -> Taxonomy:
    """Build a Taxonomy from the path above each class.

    Args:
        class_names: The dataset's classes, in label order.
        parent_of: For each class name, the path from the root to its parent (at least one
            level), for example ``("banking",)``.
        source: Where the mapping came from, for the error message.

    Raises:
        DataError: If a class has no entry in ``parent_of``; the message names the missing
            classes.
    """
    missing = [class_name for class_name in class_names if not parent_of.get(class_name)]
    if missing:
        raise DataError(
            f"the taxonomy from {source} does not cover every class: {len(missing)} of "
            f"{len(class_names)} classes have no parent ({_listing(missing)}); add them to the taxonomy"
        )
    return Taxonomy(paths=tuple((*parent_of[class_name], class_name) for class_name in class_names))


def _resolve_format(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in FORMATS:
            raise DataError(f"unknown table format {format!r}; allowed formats: {', '.join(FORMATS)}")
        return format

    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise DataError(
        f"cannot tell the format of {path} from its suffix; pass format= with one of: {', '.join(FORMATS)}"
    )


def _read_frame(path: Path, format: str) -> pd.DataFrame:
    if format == "jsonl":
        return _read_jsonl(path)

    if format == "parquet":
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as error:
            raise DataError(f"{path} is not a valid parquet file: {error}") from error

    # Every cell is read as a string and nothing becomes NaN, so "NA" or "null" stay texts.
    separator = "," if format == "csv" else "\t"
    try:
        return pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path} is empty; expected a header row and at least one data row") from error
    except pd.errors.ParserError as error:
        raise DataError(f"{path} is not a valid {format} file: {error}") from error


def _read_jsonl(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in _COMPRESSION_SUFFIXES and suffix not in _JSONL_OPENERS:
        raise DataError(f"cannot read {path}: jsonl files may be compressed with {', '.join(_JSONL_OPENERS)} only")

    records = []
    opener = _JSONL_OPENERS.get(suffix, open)
    with opener(path, "rt", encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}, line {line_number}: invalid JSON ({error})") from error
            if not isinstance(record, dict):
                raise DataError(f"{path}, line {line_number}: expected a JSON object, got {type(record).__name__}")
            records.append(record)

    if not records:
        raise DataError(f"{path} is empty; expected one JSON object per line")
    return pd.DataFrame.from_records(records)


_JSONL_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _check_columns(frame: pd.DataFrame, requested: list[str], source: str) -> None:
    missing = [column for column in requested if column not in frame.columns]
    if missing:
        available = ", ".join(repr(str(column)) for column in frame.columns)
        names = ", ".join(repr(column) for column in missing)
        raise DataError(f"column {names} not found in {source}; available columns: {available}")


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _texts(column: pd.Series, column_name: str, source: str) -> list[str]:
    values = column.tolist()
    _raise_for_missing(values, f"empty or missing text in column {column_name!r}", source)
    return [value if isinstance(value, str) else str(value) for value in values]


def _label_strings(column: pd.Series, column_name: str, source: str) -> list[str]:
    values = column.tolist()
    _raise_for_missing(values, f"missing value in column {column_name!r}", source)
    return [_label_string(value) for value in values]


def _label_string(value: object) -> str:
    # Integer columns with gaps come back as floats (3.0); name the class "3", as in the file.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value).strip()


def _raise_for_missing(values: list, what: str, source: str) -> None:
    rows = [row for row, value in enumerate(values, start=1) if _is_missing(value)]
    if rows:
        shown = ", ".join(str(row) for row in rows[:_MAX_LISTED])
        more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
        raise DataError(
            f"{what} in {source} at data row {shown}{more} (rows counted from 1, header not counted); "
            "fill in or drop these rows"
        )


def _taxonomy_from_parent_column(
    class_names: Sequence[str], labels: list[str], parents: list[str], column_name: str, source: str
) -> Taxonomy:
    seen: dict[str, set[str]] = {}
    for class_name, parent in zip(labels, parents):
        seen.setdefault(class_name, set()).add(parent)

    parent_of = {}
    for class_name, values in seen.items():
        if len(values) > 1:
            raise DataError(
                f"class {class_name!r} has {len(values)} different parents in column {column_name!r} of "
                f"{source} ({_listing(sorted(values))}); every row of a class needs the same parent"
            )
        levels = split_path(next(iter(values)))
        if len(levels) >= 2 and levels[-1] == class_name:
            levels = levels[:-1]
        parent_of[class_name] = tuple(levels)

    return taxonomy_from_parents(class_names, parent_of, source=f"column {column_name!r} of {source}")


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f" and {len(names) - _MAX_LISTED} more"
    return shown
