"""Tests of the table loader and of the data home (search path, checksums, atomic downloads)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robustlib.data import DataError, data_home, load_table
from robustlib.data.home import download_atomic, find_file, verify_sha256

ROWS = [
    {"text": "reset my pin", "intent": "pin_change", "domain": "banking", "seller": "pin_change"},
    {"text": "how much is in checking", "intent": "balance", "domain": "banking", "seller": "pin_change"},
    {"text": "play some jazz", "intent": "play_music", "domain": "media", "seller": "play_music"},
    {"text": "what is my balance", "intent": "balance", "domain": "banking", "seller": "balance"},
]


def write_table(path: Path, rows: list[dict], format: str) -> Path:
    """Write ``rows`` to ``path`` in ``format`` the way other tools write such files."""
    frame = pd.DataFrame(rows)
    if format == "csv":
        frame.to_csv(path, index=False)
    elif format == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif format == "parquet":
        frame.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# load_table: the four formats


@pytest.mark.parametrize("format", ["csv", "tsv", "parquet", "jsonl"])
def test_load_table_formats(tmp_path, format):
    path = write_table(tmp_path / f"intents.{format}", ROWS, format)

    dataset = load_table(path, text_column="text", label_column="intent")

    assert dataset.name == "intents"
    assert dataset.texts == [row["text"] for row in ROWS]
    # Classes in sorted order: balance = 0, pin_change = 1, play_music = 2.
    assert dataset.class_names == ("balance", "pin_change", "play_music")
    assert dataset.labels.tolist() == [1, 0, 2, 0]
    assert dataset.labels.dtype == np.int64
    assert dataset.ids.tolist() == [0, 1, 2, 3]
    assert dataset.taxonomy is None
    assert dataset.noisy_labels is None
    assert dataset.checksum == hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_table_parent_names(tmp_path):
    path = write_table(tmp_path / "intents.csv", ROWS, "csv")

    dataset = load_table(path, text_column="text", label_column="intent", parent_column="domain")

    assert dataset.taxonomy.paths == (
        ("banking", "balance"),
        ("banking", "pin_change"),
        ("media", "play_music"),
    )


def test_load_table_parent_paths(tmp_path):
    rows = [
        {"text": "steel kettle", "label": "Kettles", "path": "Home > Kitchen > Kettles"},
        {"text": "oak table", "label": "Tables", "path": "Home > Furniture"},
    ]
    path = write_table(tmp_path / "offers.jsonl", rows, "jsonl")

    dataset = load_table(path, text_column="text", label_column="label", parent_column="path")

    # A path ending with the class name is the class's path, any other is the path above it.
    assert dataset.taxonomy.paths == (("Home", "Kitchen", "Kettles"), ("Home", "Furniture", "Tables"))
    assert dataset.taxonomy.parents == ("Home > Kitchen", "Home > Furniture")


def test_load_table_noisy_labels(tmp_path):
    path = write_table(tmp_path / "intents.tsv", ROWS, "tsv")

    dataset = load_table(path, text_column="text", label_column="intent", noisy_label_column="seller")

    assert dataset.labels.tolist() == [1, 0, 2, 0]
    assert dataset.noisy_labels.tolist() == [1, 1, 2, 0]


def test_load_table_numeric_labels_sorted(tmp_path):
    rows = [{"text": "a", "label": 10}, {"text": "b", "label": 2}, {"text": "c", "label": 1}]
    path = write_table(tmp_path / "numbers.parquet", rows, "parquet")

    dataset = load_table(path, text_column="text", label_column="label")

    # Numeric order 1 < 2 < 10, not string order "1" < "10" < "2".
    assert dataset.class_names == ("1", "2", "10")
    assert dataset.labels.tolist() == [2, 1, 0]


def test_load_table_texts_stay_verbatim(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text('text,label\nNA,a\nnull,b\n"say ""hi""",a\n', encoding="utf-8")

    dataset = load_table(path, text_column="text", label_column="label")

    assert dataset.texts == ["NA", "null", 'say "hi"']


def test_load_table_gzip_jsonl(tmp_path):
    path = tmp_path / "intents.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write("".join(json.dumps(row) + "\n" for row in ROWS))

    dataset = load_table(path, text_column="text", label_column="intent")

    assert len(dataset) == 4


def test_load_table_explicit_format(tmp_path):
    path = write_table(tmp_path / "intents.txt", ROWS, "tsv")

    dataset = load_table(path, text_column="text", label_column="intent", format="tsv")

    assert len(dataset) == 4


# load_table: bad input


def test_missing_column_lists_available(tmp_path):
    path = write_table(tmp_path / "intents.csv", ROWS, "csv")

    with pytest.raises(DataError) as error:
        load_table(path, text_column="utterance", label_column="intent")

    assert "column 'utterance' not found" in str(error.value)
    assert "available columns: 'text', 'intent', 'domain', 'seller'" in str(error.value)


@pytest.mark.parametrize("suffix", ["csv", "tsv", "jsonl"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty.{suffix}"
    path.write_bytes(b"")

    with pytest.raises(DataError, match="is empty"):
        load_table(path, text_column="text", label_column="label")


def test_header_only_file(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("text,label\n", encoding="utf-8")

    with pytest.raises(DataError, match="has a header but no data rows"):
        load_table(path, text_column="text", label_column="label")


def test_invalid_parquet_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")

    with pytest.raises(DataError, match="is not a valid parquet file"):
        load_table(path, text_column="text", label_column="label")


def test_empty_text_gives_row(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("text,label\nfine,a\n   ,b\nalso fine,a\n,a\n", encoding="utf-8")

    with pytest.raises(DataError) as error:
        load_table(path, text_column="text", label_column="label")

    # Data rows 2 (only spaces) and 4 (empty), counted from 1 below the header.
    assert "empty or missing text in column 'text'" in str(error.value)
    assert "at data row 2, 4" in str(error.value)


def test_missing_text_in_jsonl(tmp_path):
    rows = [{"text": "fine", "label": "a"}, {"label": "b"}, {"text": None, "label": "a"}]
    path = write_table(tmp_path / "gaps.jsonl", rows, "jsonl")

    with pytest.raises(DataError, match=r"empty or missing text .* at data row 2, 3 "):
        load_table(path, text_column="text", label_column="label")


def test_missing_label_gives_row(tmp_path):
    rows = [{"text": "fine", "label": "a"}, {"text": "no label", "label": None}]
    path = write_table(tmp_path / "gaps.parquet", rows, "parquet")

    with pytest.raises(DataError, match=r"missing value in column 'label' .* at data row 2 "):
        load_table(path, text_column="text", label_column="label")


def test_unknown_suffix(tmp_path):
    path = write_table(tmp_path / "intents.xlsx", ROWS, "csv")

    with pytest.raises(DataError, match="pass format= with one of: csv, tsv, parquet, jsonl"):
        load_table(path, text_column="text", label_column="intent")


def test_unknown_format_option(tmp_path):
    path = write_table(tmp_path / "intents.csv", ROWS, "csv")

    with pytest.raises(DataError, match="unknown table format 'xml'; allowed formats: csv, tsv, parquet, jsonl"):
        load_table(path, text_column="text", label_column="intent", format="xml")


def test_file_not_found(tmp_path):
    with pytest.raises(DataError, match="file not found: .*absent.csv"):
        load_table(tmp_path / "absent.csv", text_column="text", label_column="label")


def test_invalid_jsonl_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": \n', encoding="utf-8")

    with pytest.raises(DataError, match="line 2: invalid JSON"):
        load_table(path, text_column="text", label_column="label")


def test_conflicting_parents(tmp_path):
    rows = [dict(ROWS[0]), dict(ROWS[1]), dict(ROWS[3], domain="accounts")]
    path = write_table(tmp_path / "intents.csv", rows, "csv")

    with pytest.raises(DataError, match="class 'balance' has 2 different parents"):
        load_table(path, text_column="text", label_column="intent", parent_column="domain")


def test_taxonomy_missing_class_named(tmp_path):
    # "refund" occurs only as a noisy label, so no row gives it a parent.
    rows = [dict(ROWS[0]), dict(ROWS[1], seller="refund")]
    path = write_table(tmp_path / "intents.csv", rows, "csv")

    with pytest.raises(DataError) as error:
        load_table(
            path, text_column="text", label_column="intent", parent_column="domain", noisy_label_column="seller"
        )

    assert "does not cover every class" in str(error.value)
    assert "1 of 3 classes have no parent ('refund')" in str(error.value)


# The data home


def test_data_home_argument_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBUSTLIB_DATA_HOME", str(tmp_path / "from_env"))

    assert data_home(tmp_path / "given") == [tmp_path / "given"]
    assert data_home([tmp_path / "a", str(tmp_path / "b")]) == [tmp_path / "a", tmp_path / "b"]


def test_data_home_env_list(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBUSTLIB_DATA_HOME", f"{tmp_path / 'cache'}:{tmp_path / 'shared'}:")

    assert data_home() == [tmp_path / "cache", tmp_path / "shared"]


def test_data_home_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ROBUSTLIB_DATA_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    assert data_home() == [tmp_path / "xdg" / "robustlib"]


def test_data_home_default_without_xdg(monkeypatch):
    monkeypatch.delenv("ROBUSTLIB_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    assert data_home() == [Path("~/.cache/robustlib").expanduser()]


def test_data_home_empty_list():
    with pytest.raises(DataError, match="no data-home folder given in the data_home argument"):
        data_home([])


def test_find_file_first_folder_wins(tmp_path):
    for folder in ("first", "second"):
        (tmp_path / folder / "set").mkdir(parents=True)
        (tmp_path / folder / "set" / "file.csv").write_text(folder)
    folders = [tmp_path / "missing", tmp_path / "first", tmp_path / "second"]

    assert find_file("set/file.csv", folders) == tmp_path / "first" / "set" / "file.csv"
    assert find_file("set/other.csv", folders) is None


def test_checksum_mismatch_message(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"abc")
    # sha256("abc"), a published test vector of FIPS 180-2.
    actual = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    with pytest.raises(DataError) as error:
        verify_sha256(path, "0" * 64)

    assert f"expected sha256 {'0' * 64}, actual {actual}" in str(error.value)
    assert "delete it and fetch it again" in str(error.value)


def test_download_atomic_success(tmp_path):
    def fetch(folder: Path) -> Path:
        (folder / "part.bin").write_bytes(b"abc")
        return folder / "part.bin"

    destination = tmp_path / "cache" / "set" / "file.bin"
    expected = hashlib.sha256(b"abc").hexdigest()

    assert download_atomic(destination, expected, fetch) == destination
    assert destination.read_bytes() == b"abc"
    assert sorted(path.name for path in destination.parent.iterdir()) == ["file.bin"]


def test_download_failure_leaves_nothing(tmp_path):
    def fetch(folder: Path) -> Path:
        (folder / "part.bin").write_bytes(b"half a fi")
        raise ConnectionError("connection reset")

    destination = tmp_path / "cache" / "file.bin"

    with pytest.raises(ConnectionError):
        download_atomic(destination, "0" * 64, fetch)

    assert list(destination.parent.iterdir()) == []


def test_download_mismatch_leaves_nothing(tmp_path):
    def fetch(folder: Path) -> Path:
        (folder / "part.bin").write_bytes(b"abc")
        return folder / "part.bin"

    destination = tmp_path / "cache" / "file.bin"

    with pytest.raises(DataError) as error:
        download_atomic(destination, "0" * 64, fetch)

    assert f"expected sha256 {'0' * 64}, actual {hashlib.sha256(b'abc').hexdigest()}" in str(error.value)
    assert "nothing was cached" in str(error.value)
    assert list(destination.parent.iterdir()) == []
