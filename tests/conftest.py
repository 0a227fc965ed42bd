"""Shared fixtures: the data home that tests of real datasets search and cache into."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robustlib.data import data_home
from robustlib.data.home import ENV_VAR


@pytest.fixture(scope="session")
def data_folders(tmp_path_factory) -> list[Path]:
    """The data-home search path for tests that need real dataset files.

    With ``ROBUSTLIB_DATA_HOME`` set it is that list, so downloads land in its first (writable)
    folder and are reused across test runs. Without it, a fresh folder for this test session,
    so a test run never writes into the user's cache.
    """
    if os.environ.get(ENV_VAR):
        return data_home()
    return [tmp_path_factory.mktemp("data_home")]
