"""Reading the input: a hub dataset id, a JSONL/JSON/Parquet file or URI, a folder of shards, a
``datasets.save_to_disk`` folder, or the embedded sample (no ``--input``).

:func:`open_input` resolves the spec to an :class:`InputSource`; its units are read into raw batches
(:mod:`curation.readers.raw`). An input that cannot be read at all raises :class:`InputError`, whose message
is one line naming the file; a record that cannot be read is marked in its batch and ends in quarantine, and so
does the rest of a ``.json`` document that breaks part-way, after the rows read whole before the break
(:func:`_json_rows`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import Any

from curation.readers.errors import (NOT_UTF8_HINT, DuplicateKey, InputError, json_int, misnamed, unique_keys,
                                     unmarked_encoding_error, unread_data, unreadable_json, unsupported_file,
                                     wrong_codec)
from curation.readers.filesystems import file_kind, list_folder, open_remote_stream, remote_kind, resolve_filesystem
from curation.readers.labels import label_names
from curation.readers.not_utf8 import ESCAPED_BYTE, decoded_with_escapes, only_not_utf8, quarantine_not_utf8
from curation.readers.source import InputSource, Unit, UnreadableRow
from curation.sources import SAVED_DATASET_FILES
from tomecraft.errors import error_line
from tomecraft.files import expand_user
from tomecraft.hub import offline_while as _offline_while  # (the module's names: tests replace them here)
from tomecraft.hub import retries_quiet as _hub_retries_quiet
from tomecraft.hub import unreachable as _hub_unreachable
from tomecraft.resources import ensure_sample, sample_path

DEFAULT_HUB_DATASET = "mlabonne/FineTome-100k"
SAMPLE_PATH = sample_path()
SAVED_DATASET_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
TEXT_SUFFIXES = (".jsonl",)
TABLE_SUFFIXES = (".parquet",)

__all__ = ["InputError", "InputSource", "Unit", "open_input", "DEFAULT_HUB_DATASET", "SAMPLE_PATH"]


# what a hub dataset of several configurations loaded without one is told (--against names its own place for it)
SUBSET_HINT = "give this input a `subset:` in the config's inputs list"


def open_input(spec: str | None, streaming: bool = False, subset: str | None = None) -> InputSource:
    """Resolve ``spec`` (None = the embedded sample); reads nothing but file listings and footers.

    Local paths may be globs, folders of shards (nested ones too) and compressed files (``.gz``, ``.bz2``,
    ``.xz``, ``.zst``; :mod:`curation.sources`). ``streaming``: a hub dataset is streamed, not downloaded first.
    ``subset``: a hub dataset's configuration (``datasets.load_dataset``'s ``name``: ``all`` of
    ``HuggingFaceTB/smoltalk``); only a hub dataset has one. ``PATH:SPLIT`` reads one split, of a hub dataset,
    of a local ``datasets.save_to_disk`` folder or of a local folder laid out as a hub dataset repository
    (:func:`_split_folder`; a path that exists as written, colon and all, is that path).
    """
    if subset is not None:
        local = spec is None or "://" in spec or looks_like_path(spec) or expand_user(spec.partition(":")[0]).exists()
        if local:
            raise InputError(f"{spec or 'sample'}: subset {subset!r} is given, but only a hub dataset has subsets "
                             "(a local file or folder is read as it is)")
        return _hub(spec, streaming, subset)
    if spec is None:
        try:
            ensure_sample(SAMPLE_PATH)
        except OSError as exc:
            raise InputError(f"{SAMPLE_PATH}: cannot write the embedded sample: {exc}") from None
        fs, path = resolve_filesystem(str(SAMPLE_PATH))
        return InputSource("sample", "sample", fs, [path])
    if not spec.strip():
        raise InputError("an input path is empty: give a file, glob, folder or dataset id")
    if spec == "-" and not Path("-").exists():  # (a file named "-" is read as any file is)
        raise InputError("-: standard input is not read: the input is read twice (its fingerprint, then its rows), "
                         "so write it to a file first and give that file")
    local = "://" not in spec
    if local and (split_folder := _split_folder(spec)) is not None:
        return split_folder
    if local and (split_of := _local_split(spec)) is not None:
        return _saved_dataset(*split_of)
    if local:
        found = _local_files(spec)
        if found is not None:
            return found
    fs, path = resolve_filesystem(spec)
    kind = file_kind(fs, path) if local else remote_kind(fs, path, spec)
    if not local and kind == "missing" and any(c in PurePosixPath(path).name for c in "*?["):  # a pattern of names
        return _remote_shards(fs, str(PurePosixPath(path).parent), spec, PurePosixPath(path).name)
    shown = str(expand_user(spec)) if local else spec
    if kind == "dir":
        names = list_folder(fs, path)
        if is_saved_dataset(names):
            if not local:
                raise InputError(f"{spec}: a save_to_disk folder must be a local path")
            _no_shards_beside(names, shown)
            return _saved_dataset(Path(path), spec)
        if not local:
            return _remote_shards(fs, path, spec)
        for suffix, source_kind in ((".parquet", "parquet"), (".jsonl", "jsonl")):
            shards = [str(PurePosixPath(path) / n) for n in names if n.endswith(suffix)]
            if shards:
                return InputSource(spec, source_kind, fs, shards)
        raise InputError(f"{spec}: folder holds no dataset (expected a datasets.save_to_disk folder, *.parquet or *.jsonl)")
    if kind == "file":
        suffix = PurePosixPath(path).suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            document = _document_under_lines_name(_plain_head(fs, path),
                                                  lambda salvage: _json_array(fs, path, shown, salvage))
            return document or InputSource(shown, "jsonl", fs, [path])
        if suffix == ".parquet":
            return InputSource(shown, "parquet", fs, [path])
        if suffix == ".json":
            return _json_array(fs, path, shown)
        if not local:  # (a local compressed file is read by _local_files)
            from curation.sources import classify

            found = classify(PurePosixPath(path).name)
            if found is not None and found.compression and found.kind == "jsonl":
                return InputSource(shown, "jsonl", fs, [path])  # decompressed as it streams
            if found is not None and found.compression and found.kind == "json":
                return _json_array(fs, path, shown, compression=found.compression)
            if found is not None and found.compression:
                raise InputError(f"{shown}: {_PACKED_PARQUET}")
        raise InputError(unsupported_file(shown, PurePosixPath(path).name))
    if not local or looks_like_path(spec):
        raise InputError(f"{spec}: file not found")
    return _hub(spec, streaming)


# (read whole through a temporary local file, by its path)
_PACKED_PARQUET = ("a compressed Parquet file is read from a local path only: download it, or give it uncompressed "
                   "(Parquet compresses its own columns)")


def _remote_shards(fs, folder: str, spec: str, pattern: str | None = None) -> InputSource:
    """The data files directly in a folder behind a URI (those whose names match ``pattern``, a glob of one
    name: ``s3://bucket/shards/*.jsonl.gz``), by path: JSON Lines (compressed too, decompressed as they stream) and
    Parquet, side by side. A ``.json`` document or a compressed Parquet file among them is one error line, as is a
    folder or pattern that finds none: rows are never left out unseen."""
    from fnmatch import fnmatchcase

    from curation.sources import METADATA_FILES, classify

    if pattern is not None and any(c in folder for c in "*?["):
        raise InputError(f"{spec}: a pattern in a remote path matches names in one folder only (its last part)")
    kind = remote_kind(fs, folder, spec)
    if kind != "dir":
        raise InputError(f"{spec}: {'folder not found' if kind == 'missing' else 'the pattern is not in a folder'}")
    names = [n for n in list_folder(fs, folder) if pattern is None or fnmatchcase(n, pattern)]
    files = {n: f for n in names if n not in METADATA_FILES and (f := classify(n)) is not None}
    for name, found in files.items():
        if found.kind == "json":
            raise InputError(f"{spec}: {name} is a .json document, read from a URI only when given alone; give the "
                             "other files by a pattern that leaves it out, or download the folder")
        if found.kind == "parquet" and found.compression:
            raise InputError(f"{spec}: {name}: {_PACKED_PARQUET}")
    if not files:
        looked = f"no file matches {pattern!r}" if pattern is not None else "the folder holds no .jsonl or .parquet file"
        hub = re.match(r"hf://datasets/([^/@]+/[^/@]+)", spec)  # (a hub dataset's files lie in folders: data/...)
        hint = (f"; give the dataset's id, {hub.group(1)}, or a pattern such as {hub.group(0)}/data/*.parquet"
                if hub and pattern is None else "")
        raise InputError(f"{spec}: {looked} (compressed JSON Lines too){hint}")
    kinds = {f.kind for f in files.values()}
    paths = [str(PurePosixPath(folder) / n) for n in sorted(files)]
    return InputSource(spec, kinds.pop() if len(kinds) == 1 else "files", fs, paths)


def _no_shards_beside(names: list[str], shown: str) -> None:
    """Refuse a ``save_to_disk`` folder (by the ``names`` of its files) that also holds data files: loading it
    reads its Arrow files only, so theirs would be lost unseen."""
    from curation.sources import METADATA_FILES, classify

    beside = [n for n in names if n not in METADATA_FILES and classify(n) is not None]
    if beside and any(m in names for m in SAVED_DATASET_FILES):
        shown_names = ", ".join(beside[:3]) + (f" and {len(beside) - 3} more" if len(beside) > 3 else "")
        raise InputError(f"{shown}: a datasets.save_to_disk folder that also holds {shown_names}: loading it would "
                         "leave those out; move them to a folder of their own and give each as an input")


# a split's name as datasets allows it (datasets.naming._split_re), and the rule as the errors say it
SPLIT_NAME = re.compile(r"\w+(\.\w+)*")
SPLIT_NAME_RULE = "a split is named with letters, digits and _ (parts joined by '.'), as datasets names them"


def named_split(spec: str) -> tuple[Path, str] | None:
    """``(folder, split)`` when ``spec`` reads as ``FOLDER:SPLIT`` (a split name after the last colon, no slash in
    it) and does not name an existing path as a whole; None otherwise. Whether the folder has that split is for
    its reader to say. After a local folder, a "split" with a slash is an :class:`InputError` (no path, and no
    name :data:`SPLIT_NAME` allows): read as a hub id, datasets loaded the folder whole before refusing it."""
    from curation.sources import exists

    head, colon, split = spec.rpartition(":")
    if not colon or not head or not split or exists(expand_user(spec)):
        return None
    if "/" in split:  # a path with a colon in it; or, after a local folder, a split datasets would refuse
        if exists(expand_user(head)) and expand_user(head).is_dir():  # (after loading each of its splits)
            raise InputError(f"{spec}: {split!r} is no split name (nor is {spec} a path): {SPLIT_NAME_RULE} (e.g. test)")
        return None
    return expand_user(head), split


def _local_split(spec: str) -> tuple[Path, str, str] | None:
    """``(folder, spec, split)`` for ``FOLDER:SPLIT`` where the folder is a local ``save_to_disk`` folder and the
    whole spec names nothing; None for any other spec. A split of another local path is an error: only datasets
    have splits."""
    from curation.sources import exists

    named = named_split(spec)
    if named is None:
        return None
    path, split = named
    if not exists(path):
        return None
    if path.is_dir() and is_saved_dataset([e.name for e in path.iterdir() if e.is_file()]):
        return path, spec, split
    nor = ", nor a folder whose files are named by split" if path.is_dir() else ""
    raise InputError(f"{spec}: {path} is not a datasets.save_to_disk folder{nor}, so it has no split {split!r} (splits "
                     "are read from hub datasets, save_to_disk folders and folders whose files are named by split, as "
                     "datasets.load_dataset names them)")


def _split_folder(spec: str) -> InputSource | None:
    """A local folder laid out as a Hugging Face dataset repository (``data/train-00000-of-00001.parquet`` beside
    ``data/test-...``; ``train.jsonl`` beside ``test.jsonl``; ``data/train/`` beside ``data/test/``; a README.md
    whose ``configs`` name each split's files: :func:`curation.sources.split_layout`), as one split: ``FOLDER``
    reads ``train``, as a hub dataset does (read whole, the dataset's own test split would be trained on),
    ``FOLDER:SPLIT`` another. None for any other spec, and for ``FOLDER`` whose files name no split but
    ``train`` (all its rows are train's: read as any folder is, :func:`_local_files`). An unknown split, and
    files of no split beside the splits' (which would be lost unseen), are one :class:`InputError`."""
    from curation.sources import exists, is_curated_folder, split_layout

    path = expand_user(spec)
    split = None
    if not exists(path):
        named = named_split(spec)
        if named is None:
            return None
        path, split = named
    try:
        if not path.is_dir() or is_saved_dataset([e.name for e in path.iterdir() if e.is_file()]):
            return None
    except OSError:  # a folder that cannot be listed: the folder rules below name it in their one line
        return None
    if split is not None and is_curated_folder(path):
        return _curated_split(path, spec, split)
    layout = split_layout(path)
    if layout is None or (split is None and list(layout.splits) == ["train"]):
        return None
    read = split or "train"
    names = ", ".join(layout.splits)
    if read not in layout.splits:
        how = f"; give {path}:SPLIT to read one" if split is None else ""
        raise InputError(f"{spec}: no split {read!r} among its files (its splits, named as datasets.load_dataset "
                         f"names them: {names}){how}")
    if layout.rest:
        rest = [str(f.path.relative_to(path)) for f in layout.rest]
        shown = ", ".join(rest[:3]) + (f" and {len(rest) - 3} more" if len(rest) > 3 else "")
        raise InputError(f"{spec}: its files are named by split ({names}), but not {shown}, which would be left out "
                         "unseen: move them to a folder of their own and give each as an input")
    files = layout.splits[read]
    # one file is read as that file given alone is (a .jsonl file that holds a JSON document, say)
    source = open_input(str(files[0].path)) if len(files) == 1 else _source_of_files(files, spec, spec)
    given = {f.name: getattr(source, f.name) for f in fields(source)}
    return SplitSource(**{**given, "spec": str(path) if split is None else spec}, split=read)


def _curated_split(path: Path, spec: str, split: str) -> InputSource:
    """``OUT:SPLIT``: one split of a ``tome curate`` output folder (``OUT`` alone reads its three splits)."""
    from curation.sources import CURATED_SPLITS, curated_split

    if split not in CURATED_SPLITS:
        raise InputError(f"{spec}: no split {split!r} in this tome curate output (its splits: "
                         f"{', '.join(CURATED_SPLITS)}; {path} alone reads all three)")
    files = curated_split(path, split)
    if not files:
        raise InputError(f"{spec}: this tome curate output holds no {split} split file ({path / split}.parquet, or "
                         f"{path / split}/part-*.parquet); is the folder damaged?")
    source = open_input(str(files[0].path)) if len(files) == 1 else _source_of_files(files, spec, spec)
    given = {f.name: getattr(source, f.name) for f in fields(source)}
    return SplitSource(**{**given, "spec": spec}, split=split)


@dataclass
class SplitSource(InputSource):
    """An input that is one split of a hub dataset, or of a local folder laid out as a hub dataset repository:
    the manifest's input record says which (``split``)."""

    split: str | None = None

    def describe(self, rows: int) -> dict[str, Any]:
        return {**super().describe(rows), "split": self.split}


def is_saved_dataset(names: list[str]) -> bool:
    """Do the names of the files in a folder show a ``datasets.save_to_disk`` folder: its state or its splits'
    list, or its ``dataset_info.json`` with no data file beside it? (``dataset_info.json`` beside shards of
    JSON Lines or Parquet is their description, left out as the folder's shards are read.)"""
    from curation.sources import METADATA_FILES, classify

    if any(m in names for m in SAVED_DATASET_FILES):
        return True
    return any(m in names for m in SAVED_DATASET_MARKERS) and not any(
        n not in METADATA_FILES and classify(n) is not None for n in names)


def _local_files(spec: str) -> InputSource | None:
    """A glob, a folder of (nested or compressed) shards or a compressed file, as an input; None for anything
    the plain rules above read (a plain file, a flat folder, a save_to_disk folder, a hub id)."""
    from curation.sources import SourceError, check_regular, expand, is_glob

    path = expand_user(spec)
    try:
        if not is_glob(spec):
            check_regular(path)  # a broken link, a pipe (it would hang), a device: say which, not "not found"
        plain = _plain_local(spec, path)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    except PermissionError as exc:  # a folder that cannot be listed or searched, or a file in one
        raise InputError(f"{exc.filename or path}: cannot read: {exc.strerror or exc}") from None
    if plain:
        return None
    try:
        files = expand(spec)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    return _source_of_files(files, spec, str(path) if not is_glob(spec) else spec)


def _source_of_files(files: list, spec: str, shown: str) -> InputSource:
    """The input of the (compressed or not) data files ``files`` that ``spec`` names (shown as ``shown``)."""
    from curation.sources import DataFile

    if len(files) == 1 and files[0].kind == "json":
        return _json_array_file(files[0], spec)
    # .json files that hold JSON Lines (Spark's ``df.write.json`` writes its part files so, empty ones too) are read
    # as JSON Lines beside the others; a JSON document is read whole, as it is given alone (its rows held, as
    # units of records, between the shards before and after it by path: ``datasets.load_dataset("json",
    # data_files=...)`` reads such files side by side too), and it is named in what refuses it
    files = [DataFile(f.path, "jsonl", f.compression) if f.kind == "json" and _holds_json_lines(f) else f
             for f in files]
    documents: dict[str, list] = {}
    for at, file in enumerate(files):
        if file.kind == "json":
            loaded = _json_array_file(file, str(file.path))
            if loaded.kind == "json":
                documents[str(file.path.absolute())] = loaded.records[0][1]
            else:  # JSON Lines after all (past the first MB that told it)
                files[at] = DataFile(file.path, "jsonl", file.compression)
    kinds = {f.kind for f in files}
    fs, _ = resolve_filesystem(str(files[0].path))
    if len(files) == 1 and files[0].compression:
        document = _document_under_lines_name(_compressed_head(files[0]),
                                              lambda salvage: _json_array_file(files[0], spec, salvage))
        if document is not None:
            return document
    # described by the one kind of its files, as a plain file or flat folder of them is; "files" when mixed
    kind = kinds.pop() if len(kinds) == 1 else "files"
    source = InputSource(shown, kind, fs, [str(f.path.absolute()) for f in files], documents=list(documents))
    source.records = [(source.label(path), rows) for path, rows in documents.items()]
    return source


def _plain_local(spec: str, path: Path) -> bool:
    """Does ``spec`` name what the plain rules of :func:`open_input` read: a plain file, a flat folder of one kind
    of shards, a save_to_disk folder, or nothing local (a hub id)?"""
    from curation.sources import METADATA_FILES, classify, is_curated_folder, is_glob

    if is_glob(spec):
        return False
    if path.is_file():
        found = classify(path)
        return found is None or found.compression is None
    if not path.is_dir():
        return True
    entries = [e for e in path.iterdir() if not e.name.startswith(".")]
    if is_saved_dataset([e.name for e in entries if e.is_file()]):
        return True
    data = [e for e in entries if e.name not in METADATA_FILES]
    if any(unread_data(e.name) for e in data):  # the folder walk names what it would leave out
        return False
    found = [classify(e) for e in data if e.is_file()]
    suffixes = {f.path.suffix for f in found if f is not None}
    # one plain kind only (the folder rule below reads *.parquet or else *.jsonl, never both)
    plain = all(e.is_file() for e in data) and (suffixes <= {".jsonl"} or suffixes == {".parquet"})
    return plain and not is_curated_folder(path)


def _json_array_file(file, spec: str, salvage: bool = True) -> InputSource:
    """A (compressed) JSON document file: a large one that is one array of rows in UTF-8 parsed a batch of rows at
    a time (:func:`_array_rows`), any other loaded whole. A stream that breaks off (truncated, corrupt) keeps the
    rows read whole before the break, the rest of the file one quarantined record (:func:`_json_rows`; ``salvage``
    False: one :class:`InputError`, for a JSON Lines name to be read line by line instead)."""
    from curation.sources import READ_ERRORS, read_whole

    try:
        data, reason = read_whole(file)
    except READ_ERRORS as exc:  # cannot be opened
        raise _not_its_codec(spec, file, error_line(exc)) or InputError(f"{spec}: cannot read: {error_line(exc)}") \
            from None
    if not data and reason is not None:  # not one byte decoded: another codec's file, or text?
        wrong = _not_its_codec(spec, file, reason)
        if wrong is not None:
            raise wrong
    text, cut, escaped = _decoded(data, spec)
    fs, path = resolve_filesystem(str(file.path))
    broken = ("decompress", reason) if reason is not None else cut
    try:
        rows = _rows_of_document(data, text, spec, broken, salvage, escaped)
    except _JsonLines:  # JSON Lines under a .json name: streamed as such
        return InputSource(spec, "files", fs, [path])
    return InputSource(spec, "json", fs, [path], records=[(file.path.name, rows)])


def _rows_of_document(data: bytes, text: str, shown: str, broken: tuple[str, str] | None, salvage: bool,
                      escaped: bool) -> Any:
    """The rows of a JSON document file, its bytes ``data`` decoded as ``text``: parsed a batch at a time where
    :func:`_array_rows` can, else read whole (:func:`_document_rows_of`)."""
    rows = _array_rows(data, broken, escaped)
    return rows if rows is not None else _document_rows_of(text, shown, data[:8], broken, salvage, escaped)


def _array_rows(data: bytes, broken: tuple[str, str] | None, escaped: bool) -> Any:
    """The rows of a whole, valid UTF-8 document of :data:`~curation.readers.json_array.STREAM_BYTES` or more that
    is one array, parsed a batch at a time as the run reads them (:mod:`curation.readers.json_array`); None for any
    other document, which is read whole (:func:`_json_rows`)."""
    from curation.readers.json_array import STREAM_BYTES, array_elements
    from curation.sources import bom_encoding

    if broken is not None or escaped or len(data) < STREAM_BYTES or bom_encoding(data) is not None:
        return None
    return array_elements(data, _KeyCheck, _marked)


def _not_its_codec(spec: str, file, reason: str) -> InputError | None:
    """The error for a compressed file whose bytes are another codec's or text (:func:`wrong_codec`), or that does
    not start as its codec's files do (its decoder's ``reason`` alone, "ended before the end-of-stream marker" for
    five bytes of text, said a file of the codec was cut short); None for a file that starts as its codec's."""
    from curation.sources import compressed_as

    if not file.compression:
        return None
    head = _plain_head(*resolve_filesystem(str(file.path))) or b""
    if compressed_as(head) == file.compression:
        return None
    return wrong_codec(spec, head, file.compression, "json") or InputError(
        f"{spec}: cannot read: {reason} (its first bytes are not a {file.compression} file's: is it another kind of "
        "file?)")


class _JsonLines(Exception):
    """A .json file that holds one JSON value a line: the JSON Lines reader reads it."""


def _document_under_lines_name(head: bytes | None, read_whole) -> InputSource | None:
    """A JSON Lines file (by its name) that starts like a JSON document (:func:`_pretty_head`), read whole by
    ``read_whole(salvage)``; None to read it line by line, as its name says: a file that starts otherwise, and one
    that does not parse as one document while its first lines hold JSON Lines (:func:`_json_lines`: a bad first
    line is one quarantined record). A document that breaks part-way, whose lines are no rows (pretty-printed, or
    one array cut short: its first line no whole value), is salvaged as under a ``.json`` name: the rows before
    the break kept, the rest one quarantined record (line by line, every line of it would be refused as "not JSON
    Lines"); one with nothing whole to keep is read line by line."""
    if head is None or not _pretty_head(head):
        return None
    try:
        return read_whole(False)
    except InputError:
        text = head.decode("utf-8", "replace").lstrip("\ufeff").lstrip()
        if _whole_value(re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]) or _json_lines(text):
            return None
    try:
        return read_whole(True)
    except InputError:  # nothing whole to keep: line by line, its error names the line as for any JSON Lines file
        return None


def _whole_value(line: str) -> bool:
    """Is ``line`` one whole JSON value (a line of JSON Lines), not the start of a document (``[``, ``{``, an array
    cut short)?"""
    import json

    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _plain_head(fs, path: str) -> bytes | None:
    """The first MB of an uncompressed file (None when it cannot be read: the reader says why)."""
    try:
        with fs.open_input_file(path) as fh:
            return fh.read(1 << 20)
    except OSError:
        return None


def _compressed_head(file) -> bytes | None:
    """The first MB of a (compressed) file's text (None when it cannot be read: the reader says why)."""
    from curation.sources import READ_ERRORS, open_binary

    try:
        with open_binary(file) as fh:
            return fh.read(1 << 20)
    except READ_ERRORS:
        return None


def _holds_json_lines(file) -> bool:
    """Does a (compressed) ``.json`` file hold JSON Lines, or nothing (a part file of an empty partition), by its
    first MB: not one JSON value whole, no JSON document's start (:func:`_pretty_head`) and JSON objects a line
    (:func:`_json_lines`)?"""
    from curation.sources import READ_ERRORS, open_binary

    try:
        with open_binary(file) as fh:
            head = fh.read(1 << 20)
    except READ_ERRORS:
        return False  # read whole, it says what is wrong with it
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    if not text.strip():
        return True
    if len(head) < 1 << 20 and _whole_value(text):  # the whole file one JSON value: a document, read whole as it is
        return False  # alone (``{"data": [...]}`` on one line is rows, not one row that lacks its turns)
    return not _pretty_head(head) and _json_lines(text)


def _pretty_head(head: bytes) -> bool:
    first = re.split(rb"\r\n|\r|\n", head.lstrip(b"\xef\xbb\xbf").lstrip(), maxsplit=1)[0].strip()
    return first.startswith(b"[") or first == b"{"


def _json_lines(text: str, look: int = 8) -> bool:
    """Does a text that is not one JSON value hold JSON Lines: its first line a JSON object, or two of its first
    ``look`` lines (a broken first line is one bad record, not a bad file)? A pretty-printed document's lines
    are parts of values (``{``, ``"key": value,``), not objects."""
    import json

    # (lines end as the line reader ends them: LF, CRLF or a lone CR, as classic Mac OS text has them)
    lines = [line for line in re.split(r"\r\n|\r|\n", text.lstrip(), maxsplit=look)[:look] if line.strip()]
    objects = []
    for line in lines:
        try:
            objects.append(isinstance(json.loads(line), dict))
        except (ValueError, RecursionError):
            objects.append(False)
    return bool(objects) and (objects[0] or sum(objects) >= 2)


def _document_rows_of(text: str, shown: str, head: bytes, broken: tuple[str, str] | None, salvage: bool,
                      escaped: bool = True) -> list:
    """:func:`_json_rows`, each row that holds bytes that are no UTF-8 (escaped by :func:`_decoded`) quarantined
    saying so. A file none of whose rows is UTF-8, or whose JSON does not read because of such bytes (one
    outside a string, where JSON allows none), is text in another encoding: one :class:`InputError` that says how
    to convert it. A document refused for a reason of its own (an object holding several arrays, JSON nested too
    deeply, a stream that breaks off) is refused for that reason, whatever bytes it also holds: it was said to
    be in another encoding, and converted it would be refused all the same. ``escaped`` False: :func:`_decoded`
    escaped no byte (UTF-8 decodes to no such character), and the text is not searched for them."""
    if not escaped or not ESCAPED_BYTE.search(text):
        return _json_rows(text, shown, broken, salvage)
    try:
        rows = quarantine_not_utf8(_json_rows(text, shown, broken, salvage))
    except InputError as exc:
        try:  # the same document with a space for each such byte (one character each: lines and columns hold)
            _json_rows(ESCAPED_BYTE.sub(" ", text), shown, broken, salvage)
        except InputError:  # refused without those bytes too
            raise InputError(ESCAPED_BYTE.sub("\ufffd", str(exc))) from None
        except _JsonLines:
            pass
        raise _not_text(shown, head) from None
    if only_not_utf8(rows):
        raise _not_text(shown, head)
    return rows


def _json_rows(text: str, shown: str, broken: tuple[str, str] | None = None, salvage: bool = True) -> list:
    """The rows of a JSON file's text: an array of rows, an object holding one array (``{"data": [...]}``), an
    object of rows keyed by id, or holding one such (``{"id1": row, ...}``: :func:`_keyed_rows`), or one row (an
    object whose keys show a chat format: ``{"conversations": [...]}`` is a row, not a wrapper; an object that
    holds no array at all, ``{}`` say, is one row too), or several such values one after another.
    A row with an object that names a key twice is an :class:`UnreadableRow` (quarantined alone). A raw control
    character inside a string (a tab) is read, as in a JSON Lines line, and repaired by validation. Raises
    :class:`_JsonLines` for JSON Lines (one value a line).

    A file whose JSON holds no row is read as a JSON Lines file of its one line is, never refused whole: an
    array's elements that are no row (``[1, "x", {}]``) each go to quarantine with their reason, as such lines
    of JSON Lines do (``{}`` lacks 'conversations', ``1`` is no object); ``[]`` holds no row, as an empty file
    does; and a file whose whole JSON is a number, a string, true, false or null is one
    :class:`UnreadableRow` saying so (its value the raw record), as the one line of a JSON Lines file that
    holds it is one quarantined record: the run goes on, and the manifest counts it.

    A document that breaks part-way, cut short or not valid JSON from some point on (a stray character, a comma
    before a closing bracket, a comment), is read as a compressed stream that breaks off is: the rows read whole
    before the break are rows, and the rest of the file, from the row the break is in (or from the break, where
    it falls between rows), is one :class:`UnreadableRow` (:func:`_rest_of_file`): the run goes on and the
    manifest counts it. The document is read again up to the break value by value
    (:mod:`curation.readers.broken_json`), in time linear in its size; the rows read so have the ids they have
    in the whole file. ``broken``: ``(what stopped, why)``, ``("decompress", "Compressed file ended ...")``: the
    text is what was read of the file before that stopped, so the rest is quarantined even where the text reads
    whole. ``salvage`` False: a document that breaks is one :class:`InputError` (a JSON document under a JSON
    Lines name, which is then read line by line, as its name says, each line its own record: the same records
    whichever line ends the file has, LF or a lone CR, which a document read whole cannot give).

    Only what cannot be told apart into rows ends the run as one line naming the file (and the line and column
    where its JSON breaks): a document that breaks before its first row is read whole (nothing is read to keep,
    and it is as likely no JSON at all, JSON5 with its comments or a Python repr, as JSON cut short:
    quarantined whole it would be an empty run that looks fine), or that starts as no array or object; one whose
    break lies in an object that is a row (its keys show a chat format: its one row cut short), or in an object
    holding several arrays or none (which holds the rows is not known; but of rows keyed by id, alone or as the one
    object of rows a wrapper holds, those read whole are kept); an object holding several arrays, rows beside its
    one array (:func:`_no_rows_beside`), or naming its one array's key twice (which holds the rows would be a
    guess); and JSON nested too deeply for Python where its rows cannot be told apart (:func:`_deep_rows`: a row
    so deep is otherwise quarantined alone). An integer of more digits than Python converts is the infinite float Arrow's reader makes of it in
    JSON Lines (:func:`~curation.readers.errors.json_int`): a score so is not finite, its row kept."""
    import json

    text = text.lstrip("\ufeff")
    if not text.strip():  # an empty file holds no rows, as an empty JSON Lines file does
        if broken is not None:  # not one byte read: not this codec's file, or broken from its start
            raise InputError(f"{shown}: cannot read: {broken[1]}")
        return []
    hook = _KeyCheck()
    try:
        try:
            data = json.loads(text, object_pairs_hook=hook, strict=False, parse_int=json_int)
        except json.JSONDecodeError as exc:
            if _json_lines(text):  # one object a line
                raise _JsonLines() from None
            return _salvaged(text, shown, exc, hook, broken, salvage)
    except RecursionError:
        return _deep_rows(text, shown, hook, broken, salvage)
    except ValueError as exc:  # valid JSON json.loads will not convert
        raise InputError(f"{shown}: {unreadable_json(exc)}") from None
    rows = _document_rows(data, shown, hook)
    if broken is not None and not salvage:
        raise InputError(f"{shown}: cannot {broken[0]}: {broken[1]}")
    return rows if broken is None else rows + [_rest_of_file(text, len(text), None, broken)]


def _deep_rows(text: str, shown: str, hook: _KeyCheck, broken: tuple[str, str] | None, salvage: bool) -> list:
    """The rows of a JSON document that ``json.loads`` found nested too deeply (:func:`_json_rows`), read again a
    row at a time (:func:`~curation.readers.broken_json.read_prefix`): a row too deep for ``json`` (or holding a
    value that is) is quarantined alone, as such a line of JSON Lines is, and the others are read as they would be
    in the document read whole; one that also breaks, as a broken document is (:func:`_salvaged`). Where the rows
    cannot be told apart so (a document too deep in its values one after another, or too deep to find where its
    deep value ends), one :class:`InputError`, as before."""
    import json

    from curation.readers.broken_json import read_prefix

    too_deep = InputError(f"{shown}: not readable JSON: nested too deeply")
    decoder = json.JSONDecoder(object_pairs_hook=hook, strict=False, parse_int=json_int)
    first = json.JSONDecodeError("nested too deeply", text, 0)
    try:
        try:
            prefix = read_prefix(text, decoder, first)
        except RecursionError:
            raise too_deep from None
        hook.seen = True  # (the rows are searched for what is too deep: _marked)
        if prefix is None or prefix.shape == "values":
            raise too_deep
        whole = not text[prefix.rest:].strip() and (
            prefix.error is None if prefix.shape == "array"
            else prefix.error is not None and prefix.error.msg == "Extra data" and prefix.object_key is None)
        if not whole:
            return _salvaged(text, shown, prefix.error or first, hook, broken, salvage)
        data = prefix.values if prefix.shape == "array" else hook(prefix.members)
        rows = _document_rows(data, shown, hook)
    except RecursionError:
        raise too_deep from None
    except InputError:
        raise
    except ValueError as exc:  # valid JSON json will not convert
        raise InputError(f"{shown}: {unreadable_json(exc)}") from None
    if broken is not None and not salvage:
        raise InputError(f"{shown}: cannot {broken[0]}: {broken[1]}")
    return rows if broken is None else rows + [_rest_of_file(text, len(text), None, broken)]


def _document_rows(data: Any, shown: str, hook: _KeyCheck) -> list:
    """The rows of a JSON document read whole (:func:`_json_rows`)."""
    from curation.formats import detect_format

    if isinstance(data, dict):
        if detect_format(data) is not None:
            columns = _columns_as_rows(data)
            return _marked([data] if columns is None else columns, hook)
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if not lists:  # no array: rows keyed by id, or the object is the one row it is (``{}`` lacks its turns)
            return _marked(_keyed_rows(data, shown), hook)
        if isinstance(data, _KeysTwice):  # {"data": [...], "data": [...]}: which array holds the rows is a guess
            raise InputError(f"{shown}: {DuplicateKey(data.key)}")
        if len(lists) > 1:  # splits by name, say ({"train": [...], "test": [...]}): which holds the rows is a guess
            raise InputError(f"{shown}: an object holding {len(lists)} arrays ({', '.join(map(repr, lists[:8]))}), "
                             "not one array of rows: give each as a file of its own (jq '.KEY' FILE, say)")
        _no_rows_beside(data, lists[0], shown)
        data = data[lists[0]]
    if not isinstance(data, list):  # a scalar: the file's one record, quarantined saying what it holds
        what = _JSON_TYPES.get(type(data), type(data).__name__)
        return [UnreadableRow(data, f"the file's JSON is {what}, not rows (expected an array of rows, an object "
                                    "holding one array, or one row)")]
    return _marked(data, hook)


def _no_rows_beside(data: dict, array: str, shown: str) -> None:
    """Refuse an object that holds one array (key ``array``) and, beside it, rows: objects that are rows by their
    keys, or objects of rows keyed by id (:func:`_is_keyed`). Read as the wrapper of its one array, those rows were
    lost unseen (``{"a": row, "b": [], "c": row}`` read as no rows at all); which of them are the rows, the array's
    or the others, is a guess."""
    from curation.formats import detect_format

    beside = [k for k, v in data.items() if isinstance(v, dict) and (detect_format(v) is not None or _is_keyed(v))]
    if beside:
        shown_keys = ", ".join(map(repr, beside[:8])) + (f" and {len(beside) - 8} more" if len(beside) > 8 else "")
        raise InputError(f"{shown}: an object holding an array ({array!r}) and, beside it, rows ({shown_keys}): "
                         "which are the rows is a guess: give each as a file of its own (jq '.KEY' FILE, say)")


def _keyed_rows(data: dict, shown: str) -> list:
    """The rows of an object that holds them keyed by id rather than listed: ``{"id1": row, "id2": row}`` (pandas'
    ``to_json(orient="index")``, ShareGPT dumps keyed by conversation id), or such an object as the one value of
    a wrapper, ``{"data": {"id1": row, ...}}``, read as ``{"data": [row, ...]}`` is (the one array of an object
    that is no row). Keyed: every value an object and one of them a row by its keys (:func:`_is_keyed`); the rest
    then go to validation as rows, each quarantined alone when it is none, as an array's elements are. Each key is
    its row's ``id`` where the row has none, or a null one (kept, as any input ``id`` is, as ``input_id``: the id is no less the
    row's for being written outside it); a row's own ``id`` stays. ``[data]``, the one row, for any other object.
    ``datasets.load_dataset("json")`` reads such a file as one row whose columns are the ids; no chat format
    shows in those, so the run ended on "cannot tell the chat format from its columns (id1, id2, ...)"."""
    keyed = data if _is_keyed(data) else None
    if keyed is None:
        inside = [k for k, v in data.items() if isinstance(v, dict) and _is_keyed(v)]
        if len(inside) > 1:  # splits by name ({"train": {...}, "test": {...}}): which holds the rows is a guess
            raise InputError(f"{shown}: an object holding {len(inside)} objects of rows keyed by id "
                             f"({', '.join(map(repr, inside[:8]))}), not one: give each as a file of its own "
                             "(jq '.KEY' FILE, say)")
        if not inside:
            return [data]
        if isinstance(data, _KeysTwice):  # {"data": {...}, "data": {...}}: json keeps the last, the first's rows lost
            raise InputError(f"{shown}: {DuplicateKey(data.key)}")
        keyed = data[inside[0]]
    if isinstance(keyed, _KeysTwice):  # {"id1": row, "id1": row}: json keeps the last, the first would be lost
        raise InputError(f"{shown}: its rows are keyed by id, and {DuplicateKey(keyed.key)}")
    return [row if not isinstance(row, dict) or row.get("id") is not None or isinstance(row, _KeysTwice)
            else {"id": key, **{k: v for k, v in row.items() if k != "id"}} for key, row in keyed.items()]


def _is_keyed(data: dict) -> bool:
    """Does ``data`` hold rows keyed by id: is every value an object, and one of them a row by its keys (a chat
    format's columns, :func:`curation.formats.detect_format`), while ``data``'s own keys show none? An object of
    column values by row index (``{"instruction": {"0": ...}}``) has a format in its own keys, not its values'."""
    from curation.formats import detect_format
    from curation.readers.broken_json import TooDeep

    values = list(data.values())
    return (bool(values) and detect_format(data) is None and all(isinstance(v, (dict, TooDeep)) for v in values)
            and any(isinstance(v, dict) and detect_format(v) is not None for v in values))


def _columns_as_rows(data: dict) -> list | None:
    """The rows of a column-oriented document, or None where ``data`` is one row. Column-oriented: every value of
    the object a list of the same length (``{"instruction": [...], "output": [...]}``, as ``json.dump`` of
    ``Dataset.to_dict()`` or pandas' ``to_dict("list")`` writes it) or an object of the same keys, one value per
    row index (``{"instruction": {"0": ..., "1": ...}}``, pandas' ``to_json()`` by default), and the format's own
    column not what one row holds there: a conversation per element (a list of turns) where a row has turns, a
    list or an object where a row has text. ``{"conversations": [turn, turn]}`` stays the one row it is."""
    from curation.formats import detect_format

    values = list(data.values())
    if isinstance(data, _KeysTwice) or not values:
        return None
    if all(isinstance(v, list) for v in values):
        rows = len(values[0])
        if not rows or any(len(v) != rows for v in values):
            return None
        columns = data
    elif all(isinstance(v, dict) for v in values):
        index = list(values[0])
        if not index or any(v.keys() != values[0].keys() for v in values):
            return None
        columns = {name: [v[i] for i in index] for name, v in data.items()}
    else:
        return None
    fmt = detect_format(data)
    if fmt in ("conversations", "messages") and isinstance(data[fmt], list):
        cells = [c for c in columns[fmt] if c is not None]
        if not cells or not all(isinstance(c, list) for c in cells):  # a row's turns, not a column of conversations
            return None
    names = list(columns)
    return [dict(zip(names, cells)) for cells in zip(*columns.values())]


def _salvaged(text: str, shown: str, first, hook: _KeyCheck, broken: tuple[str, str] | None,
              salvage: bool = True) -> list:
    """The rows of a document that ``json.loads`` refused with ``first``, read up to the break, and the rest of
    the file as one :class:`UnreadableRow`; :class:`InputError` where nothing was read whole, or where which
    part holds the rows is not known, or where the document breaks and ``salvage`` is False (:func:`_json_rows`:
    values one after another, every one whole, are read)."""
    import json

    from curation.formats import detect_format
    from curation.readers.broken_json import hint, read_prefix

    prefix = read_prefix(text, json.JSONDecoder(object_pairs_hook=hook, strict=False, parse_int=json_int), first)
    rows = None
    rest = prefix.rest if prefix is not None else 0
    if prefix is not None and prefix.shape == "array":
        rows = _marked(prefix.values, hook)
    elif prefix is not None and prefix.shape == "values":
        # one value and what cannot be read after it: that value is the document (an array, a wrapper, a row);
        # several are each a row, as values one after another read whole are
        rows = _marked(prefix.values, hook) if len(prefix.values) != 1 or prefix.error is None \
            else _document_rows(prefix.values[0], shown, hook)
    elif prefix is not None:  # an object: the rows are the elements of the one array it holds, when it is no row
        keys = [k for k, _ in prefix.members] + ([prefix.array_key] if prefix.array_key is not None else [])
        arrays = [v for _, v in prefix.members if isinstance(v, list)]
        arrays += [prefix.values] if prefix.array_key is not None else []
        # (rows beside its one array: which are the rows is a guess, :func:`_no_rows_beside`)
        beside = any(isinstance(v, dict) and (detect_format(v) is not None or _is_keyed(v)) for _, v in prefix.members)
        whole = dict(prefix.members)
        if detect_format(keys) is None and len(arrays) == 1 and not beside:
            rows = _marked(arrays[0], hook)
        elif not arrays and len(whole) == len(prefix.members) and _is_keyed(whole):  # rows keyed by id (each once)
            rows = _marked(_keyed_rows(whole, shown), hook)
        elif (wrapped := _wrapped_keyed(prefix, arrays)) is not None:
            # rows keyed by id under a wrapper ({"data": {"id1": row, ...}}): those read whole before the break
            keyed, broken_among_them = wrapped
            rows = _marked(_keyed_rows(keyed, shown), hook)
            if broken_among_them:
                rest = prefix.object_rest  # (the rest of the file from the row the break is in)
    if not rows or not salvage and (prefix.error is not None or broken is not None):
        if broken is not None and broken[0] == "decompress":  # (what a stream gave is no JSON's start to name)
            raise InputError(f"{shown}: cannot read: {broken[1]}")
        error = prefix.error if prefix is not None and prefix.error is not None else first
        raise InputError(f"{shown}: line {error.lineno}: not valid JSON: {error.msg} (column {error.colno})"
                         f"{hint(text, error.pos)}")
    if prefix.error is None and broken is None:  # values one after another, every one read whole
        return rows
    return rows + [_rest_of_file(text, rest, prefix.error, broken)]


def _wrapped_keyed(prefix, arrays: list) -> tuple[dict, bool] | None:
    """The rows keyed by id under a wrapper (``{"data": {"id1": row, ...}}``, as :func:`_keyed_rows` reads a
    document read whole) of a document read up to its break (:func:`~curation.readers.broken_json.read_prefix`),
    and whether the break is among them: those of the object the break is in, read whole before it (True), or of
    one read whole before the break (False); None where the document's object holds an array, a row, or more than
    one such object, names a key twice, or is a row by its keys."""
    from curation.formats import detect_format

    members = prefix.members
    keys = [k for k, _ in members] + ([prefix.object_key] if prefix.object_key is not None else [])
    if arrays or detect_format(keys) is not None or len(set(keys)) != len(keys):
        return None
    if any(isinstance(v, dict) and detect_format(v) is not None for _, v in members):
        return None
    found = [(v, False) for _, v in members if isinstance(v, dict) and not isinstance(v, _KeysTwice) and _is_keyed(v)]
    if prefix.object_key is not None:
        inner = dict(prefix.object_members)
        if len(inner) == len(prefix.object_members) and _is_keyed(inner):
            found.append((inner, True))
    return found[0] if len(found) == 1 else None


# the characters of the unreadable rest of a JSON document that its quarantined record holds (the rest of a
# large file may be most of it: its start says where and what it is, the record's error says where it lies)
REST_SHOWN = 1 << 16


def _rest_of_file(text: str, at: int, error, broken: tuple[str, str] | None) -> UnreadableRow:
    """The rest of a JSON document's text from character ``at`` as one quarantined record: its value (the raw
    record) the rest as text, or its first :data:`REST_SHOWN` characters; its id the hash of the rest's bytes,
    as a line's id is (:func:`curation.contract.line_id`); its error what broke and where (``error``, the
    ``json.JSONDecodeError``; ``broken``, what stopped reading the file, and why), and the line the rest starts
    on."""
    from curation.contract import line_id
    from curation.readers.broken_json import cut_short, hint

    rest = text[at:]
    said = []
    if broken is not None:
        last_line = text.count("\n") + 1
        said.append(f"cannot {broken[0]} past line {last_line}: {broken[1]}")
    if error is not None:
        said.append(f"at line {error.lineno}, column {error.colno}: {error.msg}{hint(text, error.pos)}")
    first_line = text.count("\n", 0, at) + 1
    said.append(f"this record is the rest of the file, from line {first_line}")
    if len(rest) > REST_SHOWN:
        said.append(f"its first {REST_SHOWN:,} of {len(rest):,} characters are its raw value")
    head = "the file breaks off here, the rest is unreadable" if error is None or cut_short(text, error) \
        else "not valid JSON here, the rest is unreadable"
    return UnreadableRow(rest[:REST_SHOWN], f"{head} ({'; '.join(said)})",
                         line_id(rest.encode("utf-8", "surrogatepass")))


# what a top-level JSON value that is no row is, by its Python type (bool before int: a bool is an int)
_JSON_TYPES = {bool: "a boolean", int: "a number", float: "a number", str: "a string", type(None): "null"}


class _KeysTwice(dict):
    """A JSON object of a ``.json`` file that names a key twice (its last value kept, as ``json`` keeps it), so that
    its row can be quarantined alone (:func:`_marked`) rather than the whole file refused."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


class _KeyCheck:
    """``object_pairs_hook`` for reading a ``.json`` document: each object as a dict, one that names a key twice
    as a :class:`_KeysTwice`; ``seen`` says whether there was one (only then are the rows searched)."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict:
        try:
            return unique_keys(pairs)
        except DuplicateKey as exc:
            self.seen = True
            return _KeysTwice(pairs, exc.key)


def _marked(rows: list, hook: _KeyCheck) -> list:
    """``rows`` with each row that holds an object naming a key twice (at any depth) as an :class:`UnreadableRow`
    saying so, and each row too deep for ``json``, or holding a value that is
    (:class:`~curation.readers.broken_json.TooDeep`), as one whose raw record is its text (that value's text in
    its place)."""
    from curation.readers.broken_json import TooDeep

    if not hook.seen:
        return rows
    marked = []
    for row in rows:
        todo, key, deep = [row], None, False
        while todo and key is None:
            value = todo.pop()
            if isinstance(value, _KeysTwice):
                key = value.key
            elif isinstance(value, TooDeep):
                deep = True
            elif isinstance(value, dict):
                todo.extend(value.values())
            elif isinstance(value, list):
                todo.extend(value)
        if key is not None:
            row = UnreadableRow(row, str(DuplicateKey(key)))
        elif deep:
            row = UnreadableRow(_with_text(row), "not readable JSON: nested too deeply")
        marked.append(row)
    return marked


def _with_text(value: Any, levels: int = 4) -> Any:
    """``value`` with each :class:`~curation.readers.broken_json.TooDeep` in it as its text: they lie in a row's
    first levels (where a document read a row at a time found them), no deeper."""
    from curation.readers.broken_json import TooDeep

    if isinstance(value, TooDeep):
        return value.text
    if levels and isinstance(value, dict) and not isinstance(value, _KeysTwice):
        return {k: _with_text(v, levels - 1) for k, v in value.items()}
    if levels and isinstance(value, list):
        return [_with_text(v, levels - 1) for v in value]
    return value


def looks_like_path(spec: str) -> bool:
    return (
        spec.startswith((".", "/", "~"))
        or spec.count("/") != 1
        or spec.lower().endswith((".jsonl", ".json", ".parquet"))
    )


def _json_array(fs, path: str, shown: str, salvage: bool = True, compression: str | None = None) -> InputSource:
    """A JSON document file, loaded whole (:func:`_json_rows`; ``salvage`` False: a document that breaks is one
    :class:`InputError`). ``compression``: a remote file's codec, decompressed as it is read (one that does not
    decompress is one :class:`InputError`)."""
    name = PurePosixPath(path).name
    try:
        with open_remote_stream(fs, path, compression) as fh:
            data = fh.read()
    except OSError as exc:
        if compression is None:
            raise
        raise InputError(f"{shown}: cannot read it as {compression}: {error_line(exc)}") from None
    text, cut, escaped = _decoded(data, shown)
    try:
        rows = _rows_of_document(data, text, shown, cut, salvage, escaped)
    except _JsonLines:  # JSON Lines under a .json name: streamed as such
        return InputSource(shown, "jsonl", fs, [path])
    return InputSource(shown, "json", fs, [path], records=[(name, rows)])


def _decoded(data: bytes, shown: str) -> tuple[str, tuple[str, str] | None, bool]:
    """``(text, None, False)``: a JSON file's text (:func:`curation.sources.decode_text`); ``(text, ("decode",
    why), False)`` for a file that ends inside a character (cut short in the middle of a multi-byte one): the text
    before it, the rest being unreadable (:func:`_json_rows`). A UTF-8 file with bytes that are no UTF-8
    elsewhere is read with those bytes escaped (:mod:`curation.readers.not_utf8`; :func:`_document_rows_of`
    quarantines their rows): ``(text, None, True)``. :class:`InputError` for a file that is not text: a
    compressed file or Parquet so named, UTF-16 or UTF-32 without a byte-order mark, another encoding."""
    from curation.sources import bom_encoding, decode_text

    if (unmarked := unmarked_encoding_error(shown, data)) is not None:
        raise unmarked
    try:
        return decode_text(data), None, False
    except UnicodeDecodeError as exc:
        if exc.end < len(data) or exc.reason not in ("unexpected end of data", "truncated data"):
            if bom_encoding(data) is None and misnamed(shown, data[:8], "json") is None:
                return decoded_with_escapes(data), None, True  # the rows that hold such bytes: _document_rows_of
            raise _not_text(shown, data[:8]) from None
        cut = exc.start
    encoding = (bom_encoding(data) or "utf-8").upper()
    try:
        text = decode_text(data[:cut])
    except UnicodeDecodeError:
        raise _not_text(shown, data[:8]) from None
    return text, ("decode", f"the file ends in the middle of a {encoding} character"), False


def _not_text(shown: str, head: bytes) -> InputError:
    """The error for a JSON file that is not text: a compressed file (or Parquet) under a plain name, by what its
    first bytes ``head`` show, or a text in another encoding."""
    return misnamed(shown, head, "json") or InputError(f"{shown}: not UTF-8 (or UTF-16, UTF-32) text: "
                                                        f"{NOT_UTF8_HINT}")


def _saved_dataset(path: Path, spec: str, split: str | None = None) -> InputSource:
    """A ``datasets.save_to_disk`` folder, loaded: one split of a ``DatasetDict``, ``split`` or else ``train``
    (as a hub dataset is read; its only split when it has one). A ``ClassLabel`` column reads as its label names (:func:`curation.readers.labels.label_names`)."""
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises several types for a bad folder
        empty = _empty_saved_dataset(path, spec, split)
        if empty is not None:
            return empty
        raise InputError(f"{path}: not a readable datasets.save_to_disk folder: {error_line(exc)}") from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None and len(ds) > 1:  # as a hub dataset and a folder of split files: train, never its test rows
            if "train" not in ds:
                raise InputError(f"{path}: a DatasetDict of splits {', '.join(ds)} and no 'train': give {path}:SPLIT "
                                 "to read one")
            split = "train"
        if split is not None and split not in ds:
            raise InputError(f"{path}: no split {split!r} in this DatasetDict (its splits: {', '.join(ds) or 'none'})")
        parts = [(name, ds[name]) for name in ds if split is None or name == split]
    else:
        if split is not None and split != (str(ds.split) if ds.split is not None else None):
            held = f" (of split {str(ds.split)!r})" if ds.split is not None else ""
            raise InputError(f"{path}: holds one dataset{held}, not a DatasetDict of splits: no split {split!r}")
        parts = [("", ds)]
    records = [(f"{path.name}/{name}" if name else path.name, label_names(part.data.table, part.features))
               for name, part in parts]
    fingerprint = "datasets:" + hashlib.sha256("|".join(p._fingerprint for _, p in parts).encode()).hexdigest()
    if isinstance(ds, datasets.DatasetDict) and split is not None:  # the manifest and the summary say which
        return SplitSource(spec, "disk", records=records, fingerprint_value=fingerprint, split=split)
    return InputSource(spec, "disk", records=records, fingerprint_value=fingerprint)


def _empty_saved_dataset(path: Path, spec: str, split: str | None) -> InputSource | None:
    """A ``save_to_disk`` folder of a dataset with no rows (it holds no data file, which ``load_from_disk``
    cannot load) as an input of no rows; None for any other folder."""
    import json

    import datasets
    import pyarrow as pa

    try:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        if state.get("_data_files") != []:
            return None
        features = datasets.DatasetInfo.from_directory(str(path)).features
        held = state.get("_split")
    except Exception:  # noqa: BLE001 - not such a folder: the caller names what load_from_disk said
        return None
    if split is not None and split != held:
        raise InputError(f"{path}: holds one dataset (empty), not a DatasetDict of splits: no split {split!r}")
    table = features.arrow_schema.empty_table() if features is not None else pa.table({})
    fingerprint = "datasets:" + str(state.get("_fingerprint", ""))
    return InputSource(spec, "disk", records=[(path.name, table)], fingerprint_value=fingerprint)


def is_hub_id(spec: str) -> bool:
    """Whether ``open_input`` reads ``spec`` as a hub dataset id (``ORG/NAME``, ``ORG/NAME:SPLIT``): no local path
    of that name, no scheme, and not written as a path."""
    if "://" in spec or looks_like_path(spec):
        return False
    return not expand_user(spec).exists() and not expand_user(spec.partition(":")[0]).exists()


def hub_split_names(spec: str, subset: str | None = None) -> list[str] | None:
    """The splits of the hub dataset ``spec`` (``datasets.get_dataset_split_names``: the hub's listing, or the
    local cache where the hub cannot be reached); None when they cannot be listed (the dataset's load then says
    why, on one line)."""
    import datasets

    unreachable = _hub_unreachable()
    try:
        with _hub_retries_quiet(), _offline_while(unreachable is not None):
            names = datasets.get_dataset_split_names(spec, config_name=subset)
    except Exception:  # noqa: BLE001 - not listed: the load that follows names the cause
        return None
    return [str(n) for n in names] or None


def _hub(spec: str, streaming: bool = False, subset: str | None = None) -> InputSource:
    import datasets

    name, _, split = spec.partition(":")
    split = split or "train"
    label = f"{name}:{subset}:{split}" if subset is not None else f"{name}:{split}"  # (rows' positions name it)
    subset_arg = {"name": subset} if subset is not None else {}  # (load_dataset's `name`: the configuration)
    unreachable = _hub_unreachable()
    try:
        with _hub_retries_quiet(), _offline_while(unreachable is not None):
            if streaming:
                ds = datasets.load_dataset(name, split=split, streaming=True, **subset_arg)
                return SplitSource(spec, "stream", records=[(label, ds)],
                                   fingerprint_value=f"hub-stream:{label}:{getattr(ds, '_fingerprint', '')}",
                                   split=split)
            ds = datasets.load_dataset(name, split=split, **subset_arg)
    except Exception as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
        if unreachable is not None and isinstance(exc, ConnectionError):  # (offline mode's error: not in the cache)
            raise InputError(f"{spec}: cannot load from the Hugging Face hub: it cannot be reached ({unreachable}) "
                             "and the dataset is not in the local cache") from None
        if unreachable is not None:
            hint = f" (the hub cannot be reached: {unreachable}; only datasets in the local cache load)"
        else:
            hint = " (HF_HUB_OFFLINE=1 is set: only cached datasets load)" if offline else ""
        if subset is None and "config name is missing" in str(exc).lower():
            hint += f" ({SUBSET_HINT})"
        raise InputError(f"{spec}: cannot load from the Hugging Face hub{hint}: {error_line(exc)}") from None
    return SplitSource(spec, "hub", records=[(label, label_names(ds.data.table, ds.features))],
                       fingerprint_value=f"hub:{label}:{ds._fingerprint}", split=split)
