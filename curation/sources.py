"""Where input rows come from: files, globs, folders of shards, compressed or not, streamed in blocks.

``expand(spec)`` turns one input spec into the data files behind it, in a fixed order:

* a file (``rows.jsonl``, ``rows.json``, ``rows.parquet``, each optionally ``.gz``, ``.bz2``, ``.xz`` or ``.zst``);
* a glob (``shards/*.jsonl.zst``, ``data/**/*.parquet``), its matches sorted by path, each file once (``**``
  goes into linked folders too, each folder once, as a folder walk does); a spec that names an existing file or
  folder is that file or folder, even when its name holds ``[``, ``*`` or ``?``;
* a folder: every data file under it (in linked folders too, each folder once), sorted by path (hidden files
  and folders skipped, and the metadata files tools write beside shards, :data:`METADATA_FILES`); a ``tome
  curate`` output folder (it holds ``manifest.json``) gives its splits only, never ``removed.parquet``. A
  folder that cannot be listed (no permission) is an error naming it, never skipped, and so is a
  ``datasets.save_to_disk`` folder among the shards (its rows are read only as an input of its own), and a file
  whose name shows rows in a form not read (a CSV file, an archive, another codec), in a folder or a glob's matches.

A data file that is a broken link, or no regular file (a named pipe, a device), is an error naming it: its rows
would be lost unseen, and a pipe is read twice (the input's fingerprint, then its rows), so it would hang.

``open_binary(path)`` opens a file for streaming, decompressing on the fly (ISA-L's gzip decoder from
``isal``, ``indexed_bzip2``'s parallel decoder for bz2 (:mod:`curation.readers.bzip2`), Arrow's codec for zstd,
the standard library's ``lzma`` for xz, a file's blocks side by side where it has several:
:mod:`curation.readers.xz_blocks`), and ``iter_line_blocks`` cuts a stream into blocks of whole lines for a
columnar JSON reader, dropping a byte-order mark at the start of the file.
"""

from __future__ import annotations

import bz2
import glob as _glob
import io
import lzma
import os
import queue
import re
import stat
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

import pyarrow as pa

from tomecraft.errors import error_line
from tomecraft.files import expand_user

try:  # ISA-L's gzip decoder: about 2.5x zlib's speed (benchmarks/bench_inputs.py)
    from isal import igzip as _isal_gzip
    from isal.igzip_lib import IsalError as _IsalError  # what it raises on a corrupt deflate stream (no OSError)
except ImportError:  # pragma: no cover - isal is a dependency; Arrow's zlib codec is the fallback
    _isal_gzip = None
    _IsalError = zlib.error

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}
# each codec's magic bytes (what its files start with) and the suffix that names it: to say what a file under
# a plain name holds
CODEC_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))
CODEC_SUFFIX = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "zstd": ".zst"}
UTF16 = "utf-16"  # not a codec of the file's name: a text file that starts with a UTF-16 byte-order mark
UTF32 = "utf-32"  # nor this: one that starts with a UTF-32 byte-order mark
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")  # the first before UTF-16's: it starts like its LE mark
UTF_BOMS = (UTF16, UTF32)  # the text encodings read by their byte-order mark (transcoded to UTF-8 as read)
HEAD_BYTES = 66  # a file's first bytes that tell its text encoding: a UTF-16 mark and the 64 bytes after it
CR_LINES = "cr"  # nor this: a text file whose lines end in a lone carriage return (classic Mac OS), read as a stream
CR_HEAD = 1 << 16  # the bytes after a file's first line end that tell whether its lines end in a lone CR
CR_SCAN = 1 << 23  # how far into a file its first line end is looked for (a longer first line: not lone-CR text)
_CR_TO_LF = bytes.maketrans(b"\r", b"\n")
KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
BOM = b"\xef\xbb\xbf"
CURATED_SPLITS = ("train", "validation", "test")
# JSON files that describe the shards beside them (datasets' save_to_disk and push_to_hub, Spark, tome's own
# manifest): not rows, so a folder walk passes them by (named on their own, or matched by a glob, they are read)
METADATA_FILES = frozenset({"dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json",
                            "metadata.json", "manifest.json"})
# the files only datasets' save_to_disk writes (its dataset_info.json also sits beside a hub download's shards)
SAVED_DATASET_FILES = ("dataset_dict.json", "state.json")
# what a path that is neither a file nor a folder is, by its stat mode
NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"))


# the characters a name (or a library's message) may hold that would not print as one line of text: C0 controls
# (a newline, a carriage return, a tab, an escape that starts a terminal sequence), DEL and the C1 controls
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with each control character written as a Python string literal writes it (``\\n``, ``\\r``, ``\\t``,
    ``\\x1b``), so that a message naming a file whose name holds one (a newline, say) is still one line, and a
    terminal shows the name rather than obeying it; ``text`` as it is when it holds none. Every message of
    :class:`SourceError` and :class:`curation.readers.InputError` is made so: the names they quote
    (paths, globs, dataset ids) and the library messages they quote, wherever they are raised."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


class SourceError(ValueError):
    """An input spec that names no readable data; the message is one line naming it (:func:`printable`)."""

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(printable(str(message)), *args)


@dataclass(frozen=True)
class DataFile:
    path: Path
    kind: str  # jsonl | json | parquet
    compression: str | None  # gzip | bz2 | xz | zstd | None

    @property
    def name(self) -> str:
        return self.path.name


def classify(path: str | Path) -> DataFile | None:
    """The kind and compression a file's name shows, or None if it is not a data file."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    kind = KINDS.get(suffixes[-1]) if suffixes else None
    return DataFile(path, kind, compression) if kind else None


def is_glob(spec: str) -> bool:
    """Is ``spec`` a pattern: it holds ``*``, ``?`` or ``[`` and names no existing file or folder as written?"""
    return any(c in spec for c in "*?[") and not exists(expand_user(spec))


def exists(path: Path) -> bool:
    """Is there a file or folder at ``path``? False, not an error, where the folder it is in cannot be searched."""
    try:
        return path.exists()
    except OSError:  # a name too long, or in a folder that cannot be searched: not a file to read as written
        return False


def is_curated_folder(path: Path) -> bool:
    """Does ``path`` hold a ``tome curate`` output (``manifest.json`` beside its splits)? False for a folder that
    cannot be searched (no permission): reading it then says so, naming it."""
    try:
        return (path / "manifest.json").is_file() and any(
            (path / f"{s}.parquet").exists() or (path / s).is_dir() for s in CURATED_SPLITS)
    except PermissionError:
        return False


def expand(spec: str | Path) -> list[DataFile]:
    """The data files behind one input spec (file, glob or folder), in a fixed order, each file once however many
    names reach it (two links in a folder to one file: read twice, its rows were all removed as exact duplicates, or
    with dedup off put in train and test alike); :class:`SourceError` if none, or if a file's name is not UTF-8
    (Arrow, which reads them, takes UTF-8 names only)."""
    files = _expand(spec)
    if len(files) > 1:
        once: dict[str, DataFile] = {}
        for file in files:
            once.setdefault(os.path.realpath(file.path), file)
        files = list(once.values())
    for file in files:
        try:
            os.fsdecode(file.path).encode("utf-8")
        except UnicodeError:  # bytes that are not UTF-8, held by Python as lone surrogates
            from curation.readers.filesystems import not_utf8_name

            raise SourceError(not_utf8_name(str(file.path))) from None
    return files


def _expand(spec: str | Path) -> list[DataFile]:
    text = str(spec)
    if not text.strip():
        raise SourceError("an input path is empty: give a file, glob, folder or dataset id")
    if is_glob(text):
        from curation.readers.errors import unread_data

        matches = sorted(Path(p) for p in glob_files(os.path.expanduser(text)))
        files = [f for f in map(classify, matches) if f is not None and not f.path.is_dir()]
        for file in files:
            check_regular(file.path)
        unread = [m for m in matches if classify(m) is None and unread_data(m.name) and not m.is_dir()]
        if unread:
            raise SourceError(_unread_files(text, unread, bool(files)))
        if not files:
            raise SourceError(f"{text}: the pattern matches no .jsonl, .json or .parquet file (compressed or not)")
        return files
    path = expand_user(text)
    if path.is_dir():
        return _folder(path)
    if path.is_file():
        found = classify(path)
        if found is None:
            from curation.readers.errors import unsupported_file

            raise SourceError(unsupported_file(str(path), path.name))
        return [found]
    check_regular(path)  # a broken link, a pipe, a device: say which
    raise SourceError(f"{text}: file not found")


def check_regular(path: Path) -> None:
    """Raise :class:`SourceError` naming ``path`` when it is a broken link or no regular file (a named pipe, a
    socket, a device); nothing for a regular file, a folder, or no file at all."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise SourceError(f"{path}: a broken link (to {os.readlink(path)}, which does not exist)") from None
        return
    except OSError as exc:  # a link loop, a name too long: what the system says
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    what = next((name for test, name in NOT_REGULAR if test(mode)), None)
    if what is not None:
        raise SourceError(f"{path}: {what}, not a regular file: the input is read twice (its fingerprint, then its "
                          "rows), so write it to a file first")


def glob_files(pattern: str) -> list[str]:
    """The paths ``pattern`` matches, as ``glob.glob(pattern, recursive=True)`` gives them but each once: a ``**``
    part stands for each folder under where it starts once (linked folders followed, as a folder walk follows
    them, hidden ones skipped, as glob skips them), where glob's own ``**`` follows a link back up the tree for
    ever and gives a file once for each ``**`` that reaches it (``data/**/**/*.jsonl``)."""
    parts = pattern.split("/")
    if "**" not in parts:
        return _glob.glob(pattern)
    found = ["/" if pattern.startswith("/") else ""]
    parts = [p for p in parts if p]
    for at, part in enumerate(parts):
        last = at == len(parts) - 1
        if part == "**":
            found = _every_folder(found, with_files=last)
        elif _glob.has_magic(part):
            found = [m for base in found for m in _glob.glob(os.path.join(_glob.escape(base), part))
                     if last or os.path.isdir(m)]
        else:
            found = [os.path.join(base, part) for base in found if os.path.lexists(os.path.join(base, part))]
    unique: dict[tuple[str, str], str] = {}  # each file once: by the folder it is in and its name
    for match in sorted(found):
        head, name = os.path.split(match.rstrip("/") or match)
        unique.setdefault((os.path.realpath(head or os.curdir), name), match)
    return list(unique.values())


def _every_folder(bases: list[str], with_files: bool) -> list[str]:
    """Each of ``bases`` and every folder under them, each once however it is reached (by its real path), hidden
    ones skipped; ``with_files``: the (not hidden) files in them too."""
    seen: set[str] = set()
    out = []
    for base in bases:
        start = base or os.curdir
        for root, dirs, names in os.walk(start, followlinks=True):
            real = os.path.realpath(root)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            under = os.path.relpath(root, start)
            shown = base if under == os.curdir else os.path.join(base, under)  # as glob names it: from the pattern
            out.append(shown)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if with_files:
                out += [os.path.join(shown, n) for n in sorted(names) if not n.startswith(".")]
    return out


def _unread_files(where: str | Path, unread: list[Path], beside: bool) -> str:
    """The one line for data files of a form tome does not read (a CSV file, an archive, another codec:
    :func:`curation.readers.errors.unread_data`) in a folder or among a glob's matches, ``beside`` the files it
    reads or not: read past, their rows would be lost unseen (``datasets.load_dataset`` of such a folder reads one
    format and leaves the others out too). What each is and what to do, for the first of them."""
    from curation.readers.errors import unsupported_file

    first = unread[0]
    named = ", ".join(p.name for p in unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
    what = unsupported_file(str(first), first.name)
    if not beside:
        return what if len(unread) == 1 else f"{where}: {named}: {what.removeprefix(f'{first}: ')}"
    it, verb = ("it", "is") if len(unread) == 1 else ("them", "are")
    return (f"{where}: {named} {verb} not read, beside the files that are (rows would be left out unseen): "
            f"{what.removeprefix(f'{first}: ')}; or move {it} out, or give a glob that leaves {it} out")


def _curated_splits(path: Path, splits: tuple[str, ...] = CURATED_SPLITS) -> list[DataFile]:
    """The split files of a curated folder (its rows; ``splits``: of these alone): never its ``removed.parquet``,
    ``messages/`` copies or quarantine, which read as rows would bring removed rows back and every kept row twice."""
    files = []
    for split in splits:
        single, shards = path / f"{split}.parquet", path / split
        if single.exists():
            files.append(DataFile(single, "parquet", None))
        elif shards.is_dir():
            files += [DataFile(p, "parquet", None) for p in sorted(shards.glob("part-*.parquet"))]
    return files


def curated_split(path: Path, split: str) -> list[DataFile]:
    """The files of one split of a ``tome curate`` output folder (``[]`` where the run wrote none)."""
    return _curated_splits(path, (split,))


# what `tome curate` writes in its output folder beside the splits (the card, reports, removed rows, quarantine, the
# messages copies): the rest of a curated folder's files are no part of its output
CURATED_OWN_FILES = frozenset({"manifest.json", "README.md", "report.html", "report.md", "removed.parquet", "removed",
                               "quarantine.jsonl", "messages"})


def curated_strays(path: Path) -> list[Path]:
    """The data files in a ``tome curate`` output folder that are none of its own (a run written into its input's
    folder leaves the input there; a file copied in after the run): read as the folder, they would be left out
    unseen, since a curated folder's rows are its splits. Hidden entries (its cache, checkpoints) are its own."""
    from curation.readers.errors import unread_data

    own = CURATED_OWN_FILES | {f"{s}.parquet" for s in CURATED_SPLITS} | set(CURATED_SPLITS)
    strays = []
    for root, dirs, names in os.walk(path):
        if root == str(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in own)
            names = [n for n in names if n not in own]
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        strays += [Path(root) / n for n in sorted(names)
                   if not n.startswith(".") and (classify(Path(root) / n) is not None or unread_data(n))]
    return sorted(strays, key=lambda p: p.relative_to(path).as_posix())


def _curated_input(path: Path) -> list[DataFile]:
    """A curated folder given as an input: its splits, unless data files of no part of its output sit in it (one
    line naming them: their rows would be left out unseen)."""
    strays = curated_strays(path)
    if strays:
        named = ", ".join(p.relative_to(path).as_posix() for p in strays[:3]) + (
            f" and {len(strays) - 3} more" if len(strays) > 3 else "")
        one = len(strays) == 1
        it, verb, input_ = ("it", "is", "an input of its own") if one else ("them", "are", "inputs of their own")
        raise SourceError(f"{path}: a tome curate output folder (its rows are its splits) also holds {named}, which "
                          f"{verb} no part of its output and would be left out unseen: move {it} out of the folder and "
                          f"give {it} as {input_} (--input FILE)")
    return _curated_splits(path)


def _folder(path: Path) -> list[DataFile]:
    if is_curated_folder(path):
        return _curated_input(path)
    from curation.readers.errors import unread_data

    files, unread = [], []

    def unreadable(exc: OSError) -> None:  # os.walk would skip the folder, and its rows with it
        raise SourceError(f"{exc.filename or path}: cannot read the folder: {exc.strerror or exc}")

    # a linked folder is followed (shards are often linked in), each folder read once however it is reached (a link
    # back up the tree would loop)
    seen: set[str] = set()
    for root, dirs, names in os.walk(path, onerror=unreadable, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        if root != str(path) and is_curated_folder(Path(root)):  # a curated folder among the shards: its splits
            files += _curated_input(Path(root))
            dirs[:] = []
            continue
        if any(n in SAVED_DATASET_FILES for n in names):  # its rows are Arrow files a walk passes by: not lost unseen
            inside = f" inside {path}" if root != str(path) else ""
            raise SourceError(f"{root}: a datasets.save_to_disk folder{inside}: give it as an input of its own "
                              f"(--input {root}), and the other files apart")
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and name not in METADATA_FILES:
                found = classify(Path(root) / name)
                if found is not None:
                    check_regular(found.path)
                    files.append(found)
                elif unread_data(name):
                    unread.append(Path(root) / name)
    if unread:
        raise SourceError(_unread_files(path, unread, bool(files)))
    if not files:
        raise SourceError(f"{path}: folder holds no .jsonl, .json or .parquet file (compressed or not)")
    return sorted(files, key=lambda f: f.path.as_posix())


@dataclass(frozen=True)
class SplitLayout:
    """A folder's data files by the split their names (or its README's ``configs``) give them, as
    ``datasets.load_dataset(folder)`` tells them (:func:`split_layout`): ``splits`` maps each split, in the
    library's order (train, validation, test, then the others by name), to its files; ``rest`` holds the data
    files of no split."""

    splits: dict[str, list[DataFile]]
    rest: list[DataFile]


def split_layout(folder: Path) -> SplitLayout | None:
    """The splits of a folder laid out as a Hugging Face dataset repository (what ``snapshot_download`` gives:
    ``data/train-00000-of-00001.parquet``, ``train.jsonl`` beside ``test.jsonl``, ``data/train/*.parquet``, or
    a README.md whose ``configs`` name each split's files), told by the ``datasets`` library's own rules
    (:func:`datasets.data_files.get_data_patterns`; the README's default config first, as ``load_dataset``
    reads it); None when its files name no split (``part-*.parquet`` shards, one file of any name), for a
    ``tome curate`` output folder, and for a folder :func:`expand` cannot read (it says why). The files are
    :func:`expand`'s (hidden files, metadata files and files of no data kind left out), so a split's files are
    read as the folder's would be."""
    if is_curated_folder(path := Path(folder)):
        return None
    try:
        files = _folder(path)
    except (SourceError, OSError, ValueError):  # read as a folder, its error says what is wrong
        return None
    if _holds_curated_folder(path, files):  # its splits are tome's, read as any folder's files are
        return None
    configured, named = _readme_names_configs(path), _may_name_splits(path, files)
    if not configured and not named:
        return None  # (without importing datasets, a second of a run's start-up)
    from datasets.data_files import DEFAULT_PATTERNS_ALL, EmptyDatasetError, get_data_patterns, resolve_pattern

    try:
        patterns = _readme_patterns(path) if configured else None
        if patterns is None and named:
            patterns = get_data_patterns(str(path))
    except (SourceError, EmptyDatasetError, OSError, ValueError):  # read as a folder, its error says what is wrong
        return None
    if patterns is None:
        return None
    patterns = {str(split): list(p) for split, p in patterns.items()}
    if patterns == {str(split): list(p) for split, p in DEFAULT_PATTERNS_ALL.items()}:  # every file, one split
        return None
    by_path = {os.path.realpath(f.path): f for f in files}
    splits: dict[str, list[DataFile]] = {}
    for split, split_patterns in patterns.items():
        matched: set[str] = set()
        for pattern in split_patterns:
            try:
                matched.update(os.path.realpath(m) for m in resolve_pattern(pattern, str(path)))
            except FileNotFoundError:  # (a pattern of the split that matches nothing)
                continue
        splits[split] = [f for f in files if os.path.realpath(f.path) in matched]
    splits = {split: found for split, found in splits.items() if found}
    if not splits:
        return None
    assigned = {os.path.realpath(f.path) for found in splits.values() for f in found}
    return SplitLayout(splits, [f for key, f in by_path.items() if key not in assigned])


def _holds_curated_folder(folder: Path, files: list[DataFile]) -> bool:
    """Does a ``tome curate`` output folder below ``folder`` hold one of ``files`` (its ``train.parquet`` or
    ``train/part-*.parquet``)?"""
    below = {parent for f in files for parent in f.path.parents if folder in parent.parents}
    return any(is_curated_folder(parent) for parent in below)


# a part of every split keyword of ``datasets.data_files.SPLIT_KEYWORDS`` (train/training, validation/valid/val/dev,
# test/testing/eval/evaluation: tests/curation/test_hub_layout_splits.py holds them to the library's), so that a
# folder whose paths hold none is told apart without importing datasets (most of a second of a run's start-up)
SPLIT_WORD_PARTS = ("train", "val", "dev", "test", "eval")


def _may_name_splits(folder: Path, files: list[DataFile]) -> bool:
    """Can ``get_data_patterns`` find a split among ``files`` (under ``folder``): does a path below it hold a part
    of a split's keyword (:data:`SPLIT_WORD_PARTS`) or lie in ``data/`` (its ``data/{split}-00000-of-00001``
    shards)? Every pattern of the library's holds one or the other, so a folder without either is told apart
    here, not by its globs, which walk the whole folder once a pattern (seconds for thousands of shards)."""
    for file in files:
        below = file.path.relative_to(folder).as_posix().lower()
        if below.startswith("data/") or any(k in below for k in SPLIT_WORD_PARTS):
            return True
    return False


def _readme_names_configs(folder: Path) -> bool:
    """Does the folder's README.md hold a ``configs`` key (a plain text look, before :func:`_readme_patterns` loads
    the card with ``datasets``): a folder of shards with a README of prose is told apart without that import."""
    try:
        with open(folder / "README.md", "rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return False
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"---") and b"configs:" in head


def _readme_patterns(folder: Path) -> dict[str, list[str]] | None:
    """The data files' patterns by split of the default config in the folder's README.md (its YAML
    ``configs: [{config_name, data_files: [{split, path}]}]``), as ``load_dataset`` reads them; None without
    a README, configs or a default config."""
    readme = folder / "README.md"
    if not readme.is_file():
        return None
    from datasets.data_files import sanitize_patterns
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    try:
        configs = MetadataConfigs.from_dataset_card_data(DatasetCard.load(readme).data)
        name = configs.get_default_config_name()
    except Exception:  # noqa: BLE001 - a README whose YAML cannot be read: the files' names tell the splits
        return None
    config = configs.get(name) if name is not None else None
    if not config or not config.get("data_files"):
        return None
    data_dir = config.get("data_dir")
    return {split: [f"{data_dir.strip('/')}/{p}" if data_dir else p for p in found]
            for split, found in sanitize_patterns(config["data_files"]).items()}


def open_binary(file: DataFile | str | Path, buffer_size: int = 1 << 20) -> BinaryIO:
    """A binary stream of the file's bytes, decompressed on the fly (``compression`` :data:`UTF16` or
    :data:`UTF32`: its text as UTF-8; so is a compressed file's text that starts with their byte-order mark: a
    :class:`Utf16AsUtf8`). A compressed file of no bytes holds no lines."""
    if not isinstance(file, DataFile):
        file = classify(file) or DataFile(Path(file), "jsonl", None)
    stream = _open_decompressed(file, buffer_size)
    if file.compression not in CODEC_SUFFIX:
        return stream
    try:  # (a compressed file of UTF-16 or UTF-32 text, as Windows tools write it, compressed after)
        head = _head(stream, file)
    except READ_ERRORS:  # a file that breaks at once: read from the start, the reader says where it breaks
        stream.close()
        return _open_decompressed(file, buffer_size)
    encoding = bom_encoding(head)
    return stream if encoding is None else Utf16AsUtf8(stream, encoding)


def _head(stream: BinaryIO, file: DataFile) -> bytes:
    """The first decompressed bytes of ``file`` (:data:`HEAD_BYTES` of them: a byte-order mark and what follows
    it, as :func:`bom_encoding` reads them), left in ``stream`` (peeked, as much as it holds; a stream that cannot peek,
    Arrow's, leaves them: they are read from a second one)."""
    if hasattr(stream, "peek"):
        return bytes(stream.peek(HEAD_BYTES)[:HEAD_BYTES])
    with pa.input_stream(str(file.path), compression=file.compression) as probe:
        return probe.read(HEAD_BYTES)


def _open_decompressed(file: DataFile, buffer_size: int) -> BinaryIO:
    try:
        if file.compression and os.stat(file.path).st_size == 0:  # an empty shard: no bytes (xz, bz2 would say truncated)
            return io.BytesIO(b"")
        if file.compression in UTF_BOMS:
            return Utf16AsUtf8(open(file.path, "rb"), file.compression)
        if file.compression == CR_LINES:  # plain bytes: the line cutter reads a lone CR as a line end
            return open(file.path, "rb", buffering=buffer_size)
        if file.compression in ("xz", "bz2"):  # slow codecs: a run's looks at the head and its read share one decoder
            from curation.readers.kept_decoders import open_kept

            return open_kept(Path(file.path), file.compression, lambda: _open_slow(file, buffer_size), buffer_size)
        if file.compression == "gzip" and _isal_gzip is not None:
            return _isal_gzip.open(file.path, "rb")
        return pa.input_stream(str(file.path), compression=file.compression, buffer_size=buffer_size)
    except (OSError, pa.ArrowException) as exc:
        raise SourceError(f"{file.path}: cannot open: {exc}") from None


def _open_slow(file: DataFile, buffer_size: int) -> BinaryIO:
    if file.compression == "xz":  # every stream, padding skipped, as the xz tool reads it (lzma.open stops at
        from curation.readers.xz_blocks import open_xz  # padding); a file of several blocks on several cores

        return open_xz(Path(file.path), buffer_size)
    from curation.readers.bzip2 import open_bz2  # decoded on several cores; a truncated file streams up to the break

    return open_bz2(Path(file.path), buffer_size)  # (Arrow's reader fails at once)


class Utf16AsUtf8(io.RawIOBase):
    """A UTF-16 byte stream (byte-order mark first, as Windows tools write text) read as UTF-8; ``encoding``
    :data:`UTF32`: a UTF-32 one. Code units that pair into no character (lone surrogates) come out as their
    UTF-8-style bytes, which are not UTF-8: the reader quarantines those lines as "not UTF-8", as it does any
    other line that is not."""

    def __init__(self, raw: BinaryIO, encoding: str = UTF16, piece: int = 1 << 20) -> None:
        import codecs

        self._raw = raw
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="surrogatepass")
        self._piece = piece
        self._out = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, view) -> int:
        while not self._out and not self._done:
            data = self._raw.read(self._piece)
            self._done = not data
            # the end is decoded on its own: a dangling odd byte raises only after every whole character is out
            self._out = self._decoder.decode(data, final=self._done).encode("utf-8", "surrogatepass")
        n = min(len(view), len(self._out))
        view[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def cr_line_ends(head: bytes | bytearray | memoryview, complete: bool = False) -> bool | None:
    """Do the lines of a text that starts with ``head`` end in a lone carriage return, as classic Mac OS wrote
    text? Judged on its first line and the :data:`CR_HEAD` bytes after it: its first line end (found within
    :data:`CR_SCAN` bytes) is a CR, and no LF follows in those bytes (a JSON Lines file of LF or CRLF line ends has
    one there; JSON itself may hold a CR only as whitespace, or escaped). A first line longer than ``CR_HEAD`` is
    judged by its end, as a short one is (a file of long rows with lone CR line ends was read as one line). None
    when ``head`` is too short to tell and more follows (``complete`` False): read on."""
    view, size = memoryview(head), 2 * CR_HEAD
    while True:  # (a first read of 8 MB is looked at in growing pieces, not copied whole)
        part = bytes(view[: min(size, CR_SCAN + CR_HEAD)])
        whole = len(part) == len(view)
        verdict = _cr_verdict(part, complete and whole)
        if verdict is not None or whole or len(part) == CR_SCAN + CR_HEAD:
            return verdict
        size *= 4


def _cr_verdict(head: bytes, complete: bool) -> bool | None:
    """:func:`cr_line_ends` of the bytes ``head`` (a text's first ones, all of it when ``complete``)."""
    ends = [i for i in (head.find(b"\r"), head.find(b"\n")) if i >= 0]
    if not ends:
        return False if complete or len(head) >= CR_SCAN else None
    first = min(ends)
    if first >= CR_SCAN:
        return False
    span = head[: first + 1 + CR_HEAD]
    if b"\n" in span:
        return False
    return True if complete or len(span) == first + 1 + CR_HEAD else None


def lone_cr_lines(read: Callable[[int], bytes], head: bytes) -> bool:
    """:func:`cr_line_ends` of a file that starts with ``head``, read on with ``read`` as far as it needs."""
    while (verdict := cr_line_ends(head)) is None:
        more = read(1 << 20)
        if not more:
            return bool(cr_line_ends(head, complete=True))
        head += more
    return verdict


def bom_encoding(head: bytes) -> str | None:
    """:data:`UTF32` or :data:`UTF16` for a file that starts with ``head`` and that encoding's byte-order mark;
    None for any other (UTF-8, with its mark or without). A UTF-16 mark with no NUL byte after it (up to
    :data:`HEAD_BYTES`) is no mark: JSON's syntax is ASCII, a zero byte in each of its UTF-16 code units (a first
    line of garbage that happens to start with ``FF FE`` made the whole file one quarantined record of mojibake)."""
    if head[:4] in UTF32_BOMS:
        return UTF32
    if head[:2] not in UTF16_BOMS:
        return None
    after = head[2:HEAD_BYTES]
    return UTF16 if len(after) < 2 or b"\0" in after else None


def compressed_as(head: bytes) -> str | None:
    """The codec whose magic bytes ``head`` (a file's first bytes) starts with, or None."""
    return next((codec for magic, codec in CODEC_MAGIC if head.startswith(magic)), None)


def decode_text(data: bytes) -> str:
    """A whole file's text: UTF-16 or UTF-32 after its byte-order mark, else UTF-8 (raises ``UnicodeDecodeError``)."""
    return data.decode(bom_encoding(data) or "utf-8")


class BrokenStream(SourceError):
    """A (compressed) stream that breaks off (truncated, corrupt): raised by :func:`iter_line_blocks` after the
    whole lines read before the break. ``offset``: where the line not read whole starts in the decompressed
    bytes (what the blocks before it add up to); ``rest``: the bytes read of it (the start of a line, or
    nothing); ``reason``: what the stream said. A reader that counts lines names the line instead
    (:func:`curation.readers.jsonl.read_jsonl_stream`)."""

    def __init__(self, name: str, offset: int, rest: bytes, reason: str) -> None:
        super().__init__(f"{name}: cannot read past byte {offset:,} of its decompressed text: {reason}")
        self.offset = offset
        self.rest = rest
        self.reason = reason


# what reading a (compressed) stream raises when the file is truncated or corrupt
READ_ERRORS = (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error, _IsalError, pa.ArrowException)


def _read_into(stream: BinaryIO, view: memoryview, piece: int = 1 << 20) -> tuple[int, Exception | None]:
    """Fill ``view`` from the stream, ``piece`` bytes at a time so that a stream that breaks loses at most a
    piece: ``(bytes read, the error or None)``; fewer bytes than asked only at the end of the stream."""
    got = 0
    while got < len(view):
        try:
            n = stream.readinto(view[got : got + piece])
        except READ_ERRORS as exc:
            return got, exc
        if not n:
            break
        got += n
    return got, None


def iter_line_blocks(stream: BinaryIO, block_bytes: int = 1 << 24, name: str = "input") -> Iterator[memoryview]:
    """The stream cut into blocks of whole lines (each ending in a newline, except perhaps the last), about
    ``block_bytes`` each. A block is a view of the buffer the stream was read into (the decompressor writes
    into it: no copy is made); the unfinished line at its end starts the next one. A line longer than
    ``block_bytes`` comes whole in a larger block. A byte-order mark at the very start is dropped. A stream whose
    head says its lines end in a lone CR (:func:`cr_line_ends`) has each CR read as a newline. A stream
    that breaks off (a truncated or corrupt compressed file) yields the whole lines read before the break,
    then raises :class:`BrokenStream`. Lines are not counted here (a parser finds every line end anyway, and
    counting them again would hold the GIL on the read-ahead thread for a pass over every byte).
    """
    offset = 0  # decompressed bytes yielded so far
    carry = b""  # the start of a line not yet ended
    size = max(block_bytes, CR_HEAD + len(BOM))  # the first read holds a byte-order mark and the head after it
    first, cr = True, None  # cr: do lines end in a lone CR (None: not known yet, the head is read on whole)
    while True:
        buffer = bytearray(len(carry) + size)
        buffer[: len(carry)] = carry
        got, broken = _read_into(stream, memoryview(buffer)[len(carry) :])
        end = len(carry) + got
        start = 0
        if first and buffer.startswith(BOM):  # the first read fills its buffer unless the stream ends
            start = offset = len(BOM)
        first = False
        if cr is None:
            cr = cr_line_ends(memoryview(buffer)[start:end], complete=got < size or broken is not None)
            if cr is None:  # a first line longer than the head: read on before cutting
                carry, size = bytes(buffer[start:end]), size * 2
                continue
            if cr:  # each CR is a line end (the bytes keep their count)
                buffer[start:end] = buffer[start:end].translate(_CR_TO_LF)
        elif cr:
            buffer[len(carry) : end] = buffer[len(carry) : end].translate(_CR_TO_LF)
        cut = buffer.rfind(b"\n", start, end) + 1
        if broken is not None:
            if cut > start:
                yield memoryview(buffer)[start:cut]
                offset += cut - start
            raise BrokenStream(name, offset, bytes(buffer[max(cut, start) : end]), error_line(broken))
        if got == 0:  # the end of the stream
            if end > start:
                yield memoryview(buffer)[start:end]
            return
        if cut <= start:  # no line ends yet: read on, in a larger block
            carry, size = bytes(buffer[start:end]), size * 2
            continue
        yield memoryview(buffer)[start:cut]
        offset += cut - start
        carry, size = bytes(buffer[cut:end]), block_bytes


# incremental decoders that hand out every byte they can decode before a stream breaks off (a buffered
# reader's read of a large piece drops what it decoded of that piece when it then fails)
_DECODERS = {"gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16), "bz2": bz2.BZ2Decompressor}


def salvage_transcoded(file: DataFile, start: int, encoding: str) -> bytes:
    """:func:`salvage` of a compressed file of UTF-16 or UTF-32 text (``encoding``), as :class:`Utf16AsUtf8` gives
    it: its UTF-8 bytes from byte ``start`` of them up to the break (a character cut in two by it left out)."""
    import codecs

    text = codecs.getincrementaldecoder(encoding)(errors="surrogatepass").decode(salvage(file, 0))
    return text.encode("utf-8", "surrogatepass")[start:]


def salvage(file: DataFile, start: int, piece: int = 1 << 16) -> bytes:
    """The decompressed bytes of a file that breaks off, from byte ``start`` up to the break: read again with a
    decoder that gives what it decoded before failing (zstd: Arrow's, ``piece`` bytes at a time). A gzip piece
    that fails is decoded again from a copy of the decoder, a few bytes at a time, so that what it held before
    the break is kept too (a small file is one piece: its lines before a corrupt spot, or all of them when only
    its checksum is wrong)."""
    out, pos = bytearray(), 0

    def take(data: bytes) -> None:
        nonlocal pos
        if pos + len(data) > start:
            out.extend(data[max(0, start - pos) :])
        pos += len(data)

    if file.compression == "xz":  # its streams one after another, as open_binary reads them
        from curation.readers.xz import salvage_xz

        return salvage_xz(file.path, start)
    make = _DECODERS.get(file.compression)
    try:
        if make is None:
            with pa.input_stream(str(file.path), compression=file.compression) as stream:
                while data := stream.read(piece):
                    take(data)
            return bytes(out)
        with open(file.path, "rb") as fh:
            decoder, data = make(), b""
            while True:
                data = data or fh.read(piece)
                if not data:
                    break
                before = decoder.copy() if hasattr(decoder, "copy") else None
                try:
                    take(decoder.decompress(data))
                except (*READ_ERRORS, zlib.error):
                    if before is not None:  # raises at the break, after taking what came before it
                        for at in range(0, len(data), 64):
                            take(before.decompress(data[at : at + 64]))
                    raise
                data = decoder.unused_data if decoder.eof else b""
                if decoder.eof:  # the next member (gzip) or stream (xz, bz2) of a concatenated file
                    decoder = make()
    except (*READ_ERRORS, zlib.error):
        pass
    return bytes(out)


def read_whole(file: DataFile, piece: int = 1 << 20) -> tuple[bytes, str | None]:
    """``(bytes, None)``: a file's whole (decompressed) bytes, read ``piece`` bytes at a time; or, for a stream that
    breaks off (truncated, corrupt), ``(the bytes decoded before the break, why it broke)``, what the reader
    dropped of its last piece decoded again (:func:`salvage`), as the JSON Lines reader keeps them. A file that
    cannot be opened raises :class:`SourceError`."""
    chunks: list[bytes] = []
    with open_binary(file) as fh:
        while True:
            try:
                data = fh.read(piece)
            except READ_ERRORS as exc:
                got = sum(map(len, chunks))
                more = salvage(file, got) if file.compression not in (None, *UTF_BOMS, CR_LINES) else b""
                return b"".join(chunks) + more, error_line(exc)
            if not data:
                return b"".join(chunks), None
            chunks.append(data)


def readahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced on a background thread up to ``depth`` ahead, so that decompressing the next block
    (zlib, bz2, lzma and Arrow's codecs release the GIL) overlaps with parsing this one. Errors are re-raised
    here, in order; closing the generator early stops the thread."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put((done, exc))

    thread = threading.Thread(target=produce, name="readahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(0.05)
