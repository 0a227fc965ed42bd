"""Datasets of labelled texts: the named datasets of the study, tables of your own, splitting.

The data home (where files are searched for and downloads cached) is described in
``robustlib.data.home``; the named datasets and their sources in ``robustlib.data.builtin``.
"""

from robustlib.data.builtin import DATASETS, load_dataset, prepare_dataset
from robustlib.data.dataset import Taxonomy, TextDataset
from robustlib.data.errors import DataError
from robustlib.data.files import load_table
from robustlib.data.home import data_home
from robustlib.data.split import Splits, split_dataset

__all__ = [
    "DATASETS",
    "DataError",
    "Splits",
    "Taxonomy",
    "TextDataset",
    "data_home",
    "load_dataset",
    "load_table",
    "prepare_dataset",
    "split_dataset",
]
