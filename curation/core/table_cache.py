"""Code point tables kept on disk between runs, as numba keeps the kernels.

A table over every code point (which ones ``\\w`` matches, what ``str.lower`` makes of each) takes Python
40 ms to build, with the interpreter held, while a run's kernels load beside its first pass. Kept as a
``.npy`` file, it is read back in under a millisecond. The file is named by the table, the Python version and
its Unicode data, and the size and time of the source file that defines the table: a table is built again
whenever any of them changes, as numba's cache is. It lives in ``__pycache__`` beside that source file, or,
where that cannot be written (a package installed read-only), in ``$NUMBA_CACHE_DIR`` or the user's cache
folder (``$XDG_CACHE_HOME/tomecraft``, else ``~/.cache/tomecraft``), as numba's own cache does; where none can
be written, the table is built each time. A file that cannot be read back as the table (cut short, another
shape) is built again and replaced; writing a table removes the files of its older builds.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Callable

import numpy as np


def cached_table(name: str, source: str, build: Callable[[], np.ndarray], shape: tuple[int, ...],
                 dtype: np.dtype | type) -> np.ndarray:
    """``build()`` (a read-only array of ``shape`` and ``dtype``), from the cache when it holds it; ``source``:
    the file of the code that builds it."""
    try:
        stat = os.stat(source)
        stem = f"{name}-py{sys.version_info[0]}{sys.version_info[1]}-unicode{unicodedata.unidata_version}"
        key = f"{stem}-{stat.st_size}-{stat.st_mtime_ns}.npy"
    except OSError:
        return _read_only(build())
    folders = _folders(Path(source).parent)
    for folder in folders:
        table = _load(folder / key, shape, np.dtype(dtype))
        if table is not None:
            return table
    table = _read_only(build())
    for folder in folders:
        if _save(folder, key, table, stem):
            break
    return table


def _folders(beside: Path) -> list[Path]:
    folders = [beside / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]) / "tomecraft")
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folders.append(Path(home) / "tomecraft")
    return folders


def _load(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    try:
        table = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if table.shape != shape or table.dtype != dtype:
        return None
    return _read_only(table)


def _save(folder: Path, name: str, table: np.ndarray, stem: str) -> bool:
    """Write ``table`` as ``folder/name`` whole or not at all (a file beside it, then renamed over it), and remove
    the other files of ``stem`` there (older builds for this Python)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=name, suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, table, allow_pickle=False)
        os.replace(tmp, folder / name)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    for old in folder.glob(f"{stem}-*.npy"):
        if old.name != name:
            try:
                old.unlink()
            except OSError:
                pass
    return True


def _read_only(table: np.ndarray) -> np.ndarray:
    table.flags.writeable = False
    return table
