"""The data home: where dataset files are searched for and where downloads are cached.

The search path is, in order of precedence:

1. the ``data_home=`` argument (one folder or a list of folders);
2. the environment variable ``ROBUSTLIB_DATA_HOME``, an ``os.pathsep``-separated list of folders;
3. ``$XDG_CACHE_HOME/robustlib``, or ``~/.cache/robustlib`` when ``XDG_CACHE_HOME`` is unset.

Every folder is searched for local copies. Downloads go to the first folder, which is created
when the first download needs it. Inside a folder each dataset has its own subfolder, for
example ``clinc150/``, ``pricerunner/pricerunner_aggregate.csv`` and
``allenoise/full_dataset.csv``.

Every file is checked against its pinned sha256 each time it is loaded. A cached file that no
longer matches raises DataError and is never replaced silently: the user deletes it and the
next load downloads it again (files that users place by hand are fetched by hand).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from robustlib.data.errors import DataError

logger = logging.getLogger(__name__)

ENV_VAR = "ROBUSTLIB_DATA_HOME"

_CHUNK_BYTES = 1 << 20


def data_home(data_home: str | os.PathLike | Sequence[str | os.PathLike] | None = None) -> list[Path]:
    """Resolve the data-home search path.

    Args:
        data_home: A folder or a list of folders that overrides the environment variable and
            the default. None uses ``ROBUSTLIB_DATA_HOME`` when set, else the user cache folder.

    Returns:
        The folders to search, in order, with ``~`` expanded and empty entries dropped. The
        first one is where downloads are cached. The folders are not created here.

    Raises:
        DataError: If the argument is an empty list.
    """
    if data_home is not None:
        entries = [data_home] if isinstance(data_home, (str, os.PathLike)) else list(data_home)
        source = "the data_home argument"
    elif os.environ.get(ENV_VAR):
        entries = os.environ[ENV_VAR].split(os.pathsep)
        source = f"the environment variable {ENV_VAR}"
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        entries = [os.path.join(cache, "robustlib")]
        source = "the default"

    folders = [Path(os.fspath(entry)).expanduser() for entry in entries if os.fspath(entry)]
    if not folders:
        raise DataError(f"no data-home folder given in {source}; pass at least one folder")
    return folders


def find_file(relative: str | os.PathLike, folders: Sequence[Path]) -> Path | None:
    """Return the first existing ``folder / relative`` among ``folders``, or None."""
    for folder in folders:
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    return None


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex sha256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


_CORRUPTED_ADVICE = "The file is corrupted or a different version: delete it and fetch it again."


def verify_sha256(path: Path, expected: str, *, advice: str = _CORRUPTED_ADVICE) -> str:
    """Check a file against its pinned sha256 digest.

    Args:
        path: The file to check.
        expected: Pinned hex sha256 digest.
        advice: Sentence appended to the error message: what the user should do next.

    Returns:
        The digest, equal to ``expected``.

    Raises:
        DataError: If the digests differ. The message gives both digests and ``advice``.
    """
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(f"checksum mismatch for {path}: expected sha256 {expected}, actual {actual}. {advice}")
    return actual


def download_atomic(destination: Path, expected_sha256: str, fetch: Callable[[Path], Path]) -> Path:
    """Download a file into ``destination`` so that a failure leaves nothing behind.

    ``fetch`` writes the file into a temporary folder created next to ``destination`` (on the
    same file system, so the final ``os.replace`` is atomic) and returns its path. The file is
    verified against ``expected_sha256`` before it is moved into place. The temporary folder
    is removed whether the download succeeds or fails.

    Args:
        destination: Final path of the file. Its parent folders are created if needed.
        expected_sha256: Pinned hex sha256 digest of the file.
        fetch: Called with the temporary folder; returns the path of the downloaded file
            inside it. Raises on failure.

    Returns:
        ``destination``.

    Raises:
        DataError: If the downloaded file does not match ``expected_sha256``.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent))
    try:
        downloaded = fetch(temporary)
        verify_sha256(
            downloaded,
            expected_sha256,
            advice="The download was deleted and nothing was cached; check the pinned version and retry.",
        )
        os.replace(downloaded, destination)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)

    logger.info("downloaded %s (sha256 %s)", destination, expected_sha256)
    return destination
