"""Small file helpers every stage uses: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable



def expand_user(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` or ``~user`` made the home folder, as ``Path.expanduser`` does, but left as it
    is where the home cannot be told (a user that does not exist, no ``HOME``): ``Path.expanduser`` raises a bare
    ``RuntimeError`` there, where the path is simply not found."""
    return Path(os.path.expanduser(os.fspath(path)))


def unknown_home(path: str | os.PathLike) -> str | None:
    """Why the leading ``~`` or ``~user`` of ``path`` names no folder here (``~nosuchuser/out``: no such user),
    else None (no leading ``~``, or one that expands). :func:`expand_user` leaves such a path as it is: an input
    is then not found, but a folder a command writes would be made under the working folder, named ``~user``."""
    text = os.fspath(path)
    if not text.startswith("~") or os.path.expanduser(text) != text:
        return None
    user = re.split("|".join(re.escape(sep) for sep in (os.sep, os.altsep) if sep), text[1:], maxsplit=1)[0]
    if not user:
        return "the home folder is not known here (HOME is not set)"
    return f"no such user {user!r} (a leading ~NAME is the home folder of the user NAME)"


def expand_output(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` or ``~user`` made the home folder, for a file or folder a command writes:
    a ``~user`` that names no home folder here is a :class:`ValueError` (``PATH: no such user 'user' ...``),
    not a folder named ``~user`` made in the working folder."""
    problem = unknown_home(path)
    if problem is not None:
        raise ValueError(f"{os.fspath(path)}: {problem}")
    return expand_user(path)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


MAX_NAME_BYTES = 255  # one path component on ext4, APFS, NTFS: a longer name is ENAMETOOLONG
MAX_PATH_BYTES = 4095  # a whole path on Linux (PATH_MAX, 4096 with its closing NUL): a longer one is ENAMETOOLONG


def too_long(path: str | os.PathLike) -> str | None:
    """Why ``path`` is longer than a file system allows (``a name in this path is 300 bytes, more than a file system
    allows (255)``; or the whole path, from the root, more than ``MAX_PATH_BYTES``), else None. Bytes are counted,
    as a file system does (``é`` is two). The first ``stat``, ``mkdir`` or ``open`` of such a path fails with
    ENAMETOOLONG, after whatever work came before it: a command checks a path it is given before that work."""
    size = max((len(os.fsencode(part)) for part in Path(path).parts), default=0)
    if size > MAX_NAME_BYTES:
        return f"a name in this path is {size} bytes, more than a file system allows ({MAX_NAME_BYTES})"
    try:
        whole = len(os.fsencode(os.path.abspath(path)))
    except OSError:  # (a working folder since removed: the path is looked at as given)
        whole = len(os.fsencode(path))
    if whole > MAX_PATH_BYTES:
        return f"this path is {whole} bytes in full, more than a file system allows ({MAX_PATH_BYTES})"
    return None


def link_loop(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be resolved (a symbolic link in it that points, through others or straight, back at
    itself), else None: ``Path.resolve`` raises ``RuntimeError: Symlink loop`` for it (``OSError`` from Python 3.13),
    a traceback wherever a command resolves a path it is given."""
    try:
        Path(path).resolve()
    except RuntimeError:
        return "a symbolic link in this path points back at itself"
    except OSError as exc:
        return f"cannot be resolved ({exc.strerror or exc})"
    return None


LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a code point no UTF-8 holds (a "\\ud800" escape read alone)


def dumps_utf8(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, **kwargs)`` that UTF-8 can always hold: a lone surrogate in a string (a
    ``"\\ud800"`` escape read from the input) is written as that escape again, every other character as itself; the
    text reads back as the same value (but for a high and a low surrogate side by side, which read back as the
    one character they pair to)."""
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def write_json(obj: Any, path: str | Path) -> None:
    """Indented JSON, written atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps_utf8(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> int:
    """One JSON object per line (keys sorted), written atomically; returns the number of lines."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(dumps_utf8(record, sort_keys=True) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def move_folder_into_place(staging: Path, target: Path, marker: str) -> None:
    """``staging`` renamed to ``target`` (atomic: a half-written folder is never taken for a finished one), under a
    lock beside it (``<target>.lock``) that every process moving one there takes. Where another process finished
    the same folder first (``marker`` there), its folder is kept and ``staging`` left to the caller to remove: the
    other process, or a third one, may be reading it. A folder without the marker (left by an interrupted older
    version) is replaced."""
    from filelock import FileLock

    with FileLock(str(target.with_name(target.name + ".lock"))):
        if (target / marker).exists():
            return
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
