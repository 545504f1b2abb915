"""The curation output contract: what `tome curate` writes and every later stage reads.

An output folder (``--out``, default ``out/``) holds:

``train.parquet``, ``validation.parquet``, ``test.parquet``
    The kept rows. Columns: ``id`` (string, stable, derived from the row's content: see "Ids" below), ``conversations``
    (list of ``{from, value}``, normalized), ``source``, ``score``, every extra input column unchanged (redacted
    where the PII stage is on; one named like a column tome writes, or one TRL's ``SFTTrainer`` reads such as
    ``prompt`` or ``input_ids``, is kept as ``input_<name>``), and the provenance columns ``original_conversations`` (the pre-normalization turns, null where
    normalization changed nothing), ``cluster_id`` (near-duplicate cluster, null for singletons),
    ``origin_id`` and ``augmentation`` (set on augmented rows only; ``augmentation`` is a JSON string
    with the method and its parameters). Later stages may add columns (review adds ``quality`` and
    ``review_*``). Each loads with ``datasets.load_dataset("parquet", data_files=...)``.
``removed.parquet``
    Every row a stage dropped: ``id``, ``stage``, ``reason``, ``duplicate_of`` (the kept row's id, for
    duplicates), ``cluster_id``, ``details`` (JSON string: the measurement that fired), and the row's
    columns as they were when it was removed.
``quarantine.jsonl``
    One JSON object per input row that broke the schema or could not be parsed: ``id``, ``position``
    (``{"file": ..., "line": n}`` for text files, counted from 1 as editors count lines; ``{"file": ...,
    "row": n}`` for tables, counted from 0 as ``dataset[n]`` and pandas index rows), ``raw`` (the raw line as a
    string, or the row as parsed), ``error``.
``train/``, ``validation/``, ``test/``, ``removed/`` (``tome curate --engine ray``)
    The same files as folders of ``part-*.parquet`` shards sharing one schema, in row order by name;
    :meth:`OutputPaths.split` / :attr:`OutputPaths.removed` name the folder then, and the readers here read it.
``manifest.json``
    Input fingerprint, the full resolved config, per stage rows in / kept / removed by reason / seconds,
    the accounting (every input row lands in exactly one place), output files with row counts and
    SHA-256, and package versions. Only the keys named in ``VOLATILE_MANIFEST_KEYS`` change between two
    runs of the same input and config; everything else, and every data file, is byte-identical.

Ids: a JSON Lines row's id hashes its line's bytes (:func:`line_id`; the line end, LF or CRLF, left out); a row of
a table or a JSON array hashes its JSON with sorted keys (:func:`record_id`, :func:`canonical_json`). Compression,
shards, globs, batch sizes, workers and the engine do not change an id; re-serializing the file (other spacing or
key order) or converting it to another container does, and with the ids the split a row lands in, the mix and
balance draws, and which of two duplicates equal in score and length is kept.

Readers should use :func:`read_split` / :func:`read_manifest` rather than open files by hand: a damaged file
(bad JSON or UTF-8, a Parquet file that does not open, a split without ``id``) is then one
:class:`OutputFolderError` naming the folder and the file (and line), which the commands print as their one
error line. :func:`make_output_folder` creates an output folder with the same kind of error for a path that is
a file, lies under one or cannot be created.
"""

from __future__ import annotations

import functools
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tomecraft.errors import error_line

SPLITS = ("train", "validation", "test")
REMOVED_FILE = "removed.parquet"
QUARANTINE_FILE = "quarantine.jsonl"
MANIFEST_FILE = "manifest.json"
CHECKPOINT_DIR = ".checkpoints"
CACHE_DIR = ".cache"

# Columns every kept row carries, in output order (extra input columns follow ``score``).
CORE_COLUMNS = ("id", "conversations", "source", "score")
PROVENANCE_COLUMNS = ("original_conversations", "cluster_id", "origin_id", "augmentation")
REMOVED_COLUMNS = ("stage", "reason", "duplicate_of", "details")

# Manifest keys whose values depend on the clock or the machine, not on input and config.
# (and, in a stage's stats, what a cache held from an earlier run: whether --against's index was built or found,
# the judge scores found cached and the requests made for the others; and how token_lengths counted, fast or
# exact, which follows how the rows were cut into batches, while the counts do not)
VOLATILE_MANIFEST_KEYS = ("seconds", "rows_per_s", "created_at", "packages", "resumed_stages", "index", "cached",
                          "requests", "request_seconds", "counted")

ROLES = ("system", "human", "gpt")

Row = dict[str, Any]  # one row as Python data (``pyarrow.Table.to_pylist`` gives these)


def _row_schema():
    import pyarrow as pa

    turns = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
    return pa.schema(
        [("_pos", pa.int64()), ("id", pa.string()), ("conversations", turns), ("source", pa.string()),
         ("score", pa.float64()), ("original_conversations", turns), ("cluster_id", pa.string()),
         ("origin_id", pa.string()), ("augmentation", pa.string())]
    )


def __getattr__(name: str) -> Any:
    if name == "ROW_SCHEMA":  # the columns every row in flight has (built on first use: pyarrow loads lazily)
        return _row_schema()
    raise AttributeError(f"module 'curation.contract' has no attribute {name!r}")


def line_id(line: bytes | memoryview) -> str:
    """The id of a record read from a text line: the first 64 bits (hex) of xxh3-128 of the line's bytes
    (without its newline)."""
    import xxhash

    return xxhash.xxh3_128_hexdigest(line)[:16]


def line_ids(buffer: bytes | memoryview, starts: Any, ends: Any) -> Any:
    """:func:`line_id` of each line ``buffer[starts[i]:ends[i]]``, as an Arrow string array: the digests are
    taken line by line, their hex spelled for all of them at once."""
    import numpy as np
    import pyarrow as pa
    import xxhash

    digest = xxhash.xxh3_128_digest  # the big-endian bytes whose hex is the hexdigest
    mv = memoryview(buffer)
    n = len(starts)
    digests = np.frombuffer(b"".join([digest(mv[s:e]) for s, e in zip(starts.tolist(), ends.tolist())]), np.uint8)
    first = digests.reshape(n, 16)[:, :8]  # the first 16 hex digits
    text = _hex_digits()[first].reshape(-1)
    offsets = np.arange(0, 16 * (n + 1), 16, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))


@functools.lru_cache(maxsize=1)
def _hex_digits():
    """``table[b]``: the two ASCII hex digits of byte ``b``."""
    import numpy as np

    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    table = np.empty((256, 2), np.uint8)
    table[:, 0], table[:, 1] = digits[np.arange(256) >> 4], digits[np.arange(256) & 15]
    return table


def record_id(record: Any) -> str:
    """The id of a record read from a table (or a JSON array): :func:`line_id` of its canonical JSON
    (:func:`canonical_json`)."""
    return line_id(canonical_json(record))


def canonical_json(record: Any) -> bytes:
    """A record's JSON with sorted keys, as UTF-8: ``orjson``'s compact form (3-5x faster than ``json``'s, which was
    a third of reading a Parquet file), or where that would not tell the record apart or cannot be written
    (:func:`orjson_dumps`), Python's ``json.dumps(sort_keys=True, ensure_ascii=False)`` (its lone surrogates
    kept as such). The same record gives the same bytes whichever reader holds it."""
    data = orjson_dumps(record, sort_keys=True)
    if data is None:
        return json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    return data


def orjson_dumps(record: Any, sort_keys: bool = False) -> bytes | None:
    """``orjson.dumps(record)``, its keys sorted where ``sort_keys`` (values of other types written as ``str``
    makes them, dates and times in ``orjson``'s own form), or None where Python's ``json`` must write it: where
    ``orjson`` would lose something (a float that is NaN or infinite, which it writes as ``null``) or cannot (a
    string with a lone surrogate, an integer past 64 bits, a key that is no string, nesting past its limit)."""
    import orjson

    try:
        data = orjson.dumps(record, default=str, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:  # (orjson.JSONEncodeError is one)
        return None
    if b"null" in data and _holds_nonfinite(record):
        return None
    return data


def _holds_nonfinite(value: Any) -> bool:
    """Whether a float that is NaN or infinite lies anywhere in ``value`` (dicts' values and lists' items)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, float):
            if v != v or v in (math.inf, -math.inf):
                return True
        elif isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
    return False


def suffix_duplicate_ids(ids: list[str]) -> list[str]:
    """Ids in input order with repeats made unique: the k-th copy of an id (k >= 2) gets ``-k`` appended."""
    seen: dict[str, int] = {}
    out = []
    for base in ids:
        count = seen.get(base, 0) + 1
        seen[base] = count
        out.append(base if count == 1 else f"{base}-{count}")
    return out


@dataclass(frozen=True)
class OutputPaths:
    """Where each file of a curation output folder lives."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def removed(self) -> Path:
        return self._file_or_shards(REMOVED_FILE)

    @property
    def quarantine(self) -> Path:
        return self.root / QUARANTINE_FILE

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINT_DIR

    @property
    def cache(self) -> Path:
        return self.root / CACHE_DIR

    def split(self, name: str) -> Path:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return self._file_or_shards(f"{name}.parquet")

    def _file_or_shards(self, file_name: str) -> Path:
        """``train.parquet``, or the folder ``train/`` of ``part-*.parquet`` shards that ``tome curate --engine ray``
        writes instead (``pyarrow.parquet.read_table`` reads either; shards in name order = row order)."""
        single = self.root / file_name
        folder = self.root / Path(file_name).stem
        return folder if not single.exists() and folder.is_dir() else single

    def files(self, path: Path) -> list[Path]:
        """The Parquet file(s) behind :meth:`split` / :attr:`removed`, in row order (for ``data_files=``)."""
        return sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]

    def remove_shards(self) -> None:
        """Remove the shard folders of an earlier sharded run, before single files are written in their place."""
        for name in (*SPLITS, Path(REMOVED_FILE).stem):
            folder = self.root / name
            if folder.is_dir():
                for f in folder.glob("part-*.parquet*"):
                    f.unlink()
                if not any(folder.iterdir()):
                    folder.rmdir()

    def data_files(self) -> dict[str, Path]:
        """Every data file of the folder by name (splits, removed, quarantine)."""
        files = {name: self.split(name) for name in SPLITS}
        files["removed"] = self.removed
        files["quarantine"] = self.quarantine
        return files


def output_paths(root: str | Path) -> OutputPaths:
    return OutputPaths(Path(root))


def require_output_folder(root: str | Path) -> OutputPaths:
    """Check that ``root`` is a curation output folder; raise ``FileNotFoundError`` naming what is missing (or that
    its name is longer than a file system allows, which no folder has)."""
    from tomecraft.files import too_long

    paths = output_paths(root)
    problem = too_long(paths.root)
    if problem is not None:
        raise FileNotFoundError(f"{paths.root}: not a folder: {problem}")
    if not paths.root.is_dir():
        hint = " (a data file: run `tome curate -i FILE -o OUT` first)" if paths.root.is_file() else ""
        raise FileNotFoundError(f"{paths.root}: not a folder (expected the --out folder of `tome curate`){hint}")
    # a split is one file, or a folder of shards (--engine ray): a missing one is named both ways
    missing = ([paths.manifest.name] if not paths.manifest.exists() else []) + [
        f"{s}.parquet (or {s}/)" for s in SPLITS if not paths.split(s).exists()]
    if missing:
        raise FileNotFoundError(
            f"{paths.root}: not a complete curation output folder, missing {', '.join(missing)} "
            "(run `tome curate --out` on it first)"
        )
    return paths


class OutputFolderError(ValueError):
    """An output folder that cannot be read (bad JSON, a damaged Parquet file, a split without ``id``) or
    written (the path is a file, lies under one, cannot be created). The message is one line: the folder,
    then the file (and line) and what is wrong with it; commands print it as it is."""


def unreadable_file(root: str | Path, path: Path, problem: str) -> OutputFolderError:
    """The error for ``path``, a file of the folder ``root``, that holds something it should not."""
    return OutputFolderError(f"{root}: cannot read the curation output folder: {path}: {problem}")


@contextmanager
def reading(root: str | Path, path: Path) -> Iterator[None]:
    """Turn what reading ``path`` (a file of the folder ``root``) can raise into an :class:`OutputFolderError`
    naming it: a damaged Parquet file, bad UTF-8 or JSON, a file that cannot be opened."""
    import pyarrow as pa

    try:
        yield
    except OutputFolderError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:  # ArrowInvalid, JSONDecodeError, UnicodeDecodeError
        raise unreadable_file(root, path, error_line(exc)) from None


def check_output_path(path: str | Path) -> Path:
    """Refuse, without creating anything, an output folder path that is a file or lies under one
    (:class:`OutputFolderError`); what only creating it shows (no permission, /proc) :func:`make_output_folder`
    names."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"{path}: cannot write the output folder here (it is a file)")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OutputFolderError(f"{path}: cannot write the output folder here ({blocking} is a file)")
    return path


def make_output_folder(path: str | Path) -> Path:
    """Create the folder ``path`` (and its parents) for a command to write into; a path that is a file, lies
    under a file or cannot be created raises :class:`OutputFolderError` saying so, naming it."""
    path = check_output_path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = (exc.strerror or error_line(exc)).lower()
        raise OutputFolderError(f"{path}: cannot write the output folder here ({reason})") from None
    return path


def check_output_folder(root: str | Path) -> OutputPaths:
    """:func:`require_output_folder`, then every file read as far as the readers here check it (the manifest, the
    Parquet footers and their ``id`` column, each quarantine line): :class:`OutputFolderError` naming the first
    that is damaged. For commands that hand the folder on whole (publish, ``--against``)."""
    paths = require_output_folder(root)
    check_manifest_counts(root, read_manifest(root))
    for name in (*SPLITS, *(["removed"] if paths.removed.exists() else [])):
        split_columns(root, name)
    read_quarantine(root)
    return paths


#: The row counts of a manifest's ``accounting``: what came in (``input_rows``, ``added_rows``: augmentation's) and
#: where each row went; they add up (``balanced``).
ROW_COUNT_KEYS = ("input_rows", "added_rows", "in_splits", "removed", "quarantined")


def is_row_count(value: Any) -> bool:
    """A count of rows as `tome curate` writes one: a whole number, 0 or more (not ``true``, ``1.5``, ``-5``)."""
    return type(value) is int and value >= 0


def check_manifest_counts(root: str | Path, manifest: dict[str, Any]) -> None:
    """:class:`OutputFolderError` naming ``manifest.json`` and the key when a row count it holds (``accounting``, each
    output's ``rows``) is no count of rows, or ``accounting`` does not add up or says it does not (``balanced``
    other than true): the report and the dataset card
    would otherwise show ``-5 input rows`` or ``1.5`` rows as facts, or break on a string."""
    path = output_paths(root).manifest
    accounting = manifest.get("accounting")
    if accounting is not None and not isinstance(accounting, dict):
        raise unreadable_file(root, path, "'accounting' is not a JSON object")
    for key in ROW_COUNT_KEYS:
        if accounting and key in accounting and not is_row_count(accounting[key]):
            raise unreadable_file(root, path, f"accounting.{key} is {shown_json(accounting[key])}, not a count of rows")
    if accounting and all(key in accounting for key in ROW_COUNT_KEYS):
        came = accounting["input_rows"] + accounting["added_rows"]
        went = accounting["in_splits"] + accounting["removed"] + accounting["quarantined"]
        if came != went:
            raise unreadable_file(root, path, f"'accounting' does not add up: input_rows + added_rows = {came:,}, "
                                              f"in_splits + removed + quarantined = {went:,}")
    if accounting and "balanced" in accounting and accounting["balanced"] is not True:
        # (a run whose rows do not add up stops with AccountingError and writes no manifest: this one was edited)
        raise unreadable_file(root, path, f"accounting.balanced is {shown_json(accounting['balanced'])}: the run's "
                                          "rows did not add up")
    outputs = manifest.get("outputs")
    if outputs is not None and not isinstance(outputs, dict):
        raise unreadable_file(root, path, "'outputs' is not a JSON object")
    for name, entry in (outputs or {}).items():
        if not isinstance(entry, dict):
            raise unreadable_file(root, path, f"outputs.{name} is not a JSON object")
        if "rows" in entry and not is_row_count(entry["rows"]):
            raise unreadable_file(root, path, f"outputs.{name}.rows is {shown_json(entry['rows'])}, not a count of rows")


def shown_json(value: Any, limit: int = 40) -> str:
    """``value`` as its JSON, cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_row_counts(root: str | Path, manifest: dict[str, Any]) -> None:
    """Each data file the manifest lists (``outputs``: the splits, ``removed``, ``quarantine``) holds the rows it
    says, by the Parquet footers and the quarantine's lines: :class:`OutputFolderError` naming the first that does
    not (emptied, replaced, deleted after the run), where an account of the folder would otherwise add rows up
    that are not there. A file listed with no rows may be missing (a folder of an older version)."""
    import pyarrow.parquet as pq

    paths = output_paths(root)
    outputs = manifest.get("outputs")
    for name, entry in (outputs.items() if isinstance(outputs, dict) else ()):
        expected = entry.get("rows") if isinstance(entry, dict) else None
        if name not in (*SPLITS, "removed", "quarantine") or not isinstance(expected, int):
            continue
        path = paths.quarantine if name == "quarantine" else paths.removed if name == "removed" else paths.split(name)
        if not path.exists():
            if expected:
                raise unreadable_file(root, path, f"missing; the manifest lists it with {expected:,} rows (was it "
                                      "deleted after the run? run tome curate again)")
            continue
        with reading(root, path):
            if name == "quarantine":
                with path.open("rb") as fh:
                    held = sum(1 for line in fh if line.strip())
            else:
                held = sum(pq.ParquetFile(f).metadata.num_rows for f in paths.files(path))
        if held != expected:
            raise unreadable_file(root, path, f"holds {held:,} rows, the manifest says {expected:,} (changed after "
                                  "the run? run tome curate again)")


def read_manifest(root: str | Path) -> dict[str, Any]:
    """``manifest.json`` of the folder; :class:`OutputFolderError` when it is not a JSON object, also for one nested
    too deep for Python's JSON reader or holding a number of thousands of digits (a traceback in whatever read it:
    the report, `--against`, training, review)."""
    path = output_paths(root).manifest
    with reading(root, path):
        text = path.read_text(encoding="utf-8")
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise unreadable_file(root, path, f"not valid JSON ({exc})") from None
    except (RecursionError, ValueError) as exc:  # (the ValueError json raises past sys.get_int_max_str_digits)
        problem = "nested too deeply" if isinstance(exc, RecursionError) else "a number of too many digits"
        raise unreadable_file(root, path, f"not valid JSON ({problem})") from None
    if not isinstance(manifest, dict):
        raise unreadable_file(root, path, f"expected a JSON object, found {type(manifest).__name__}")
    return manifest


def split_columns(root: str | Path, name: str) -> list[str]:
    """The column names of a split (``train``, ``validation``, ``test``) or of ``removed``, from the Parquet
    footer; :class:`OutputFolderError` when the file is damaged or has no ``id`` column."""
    import pyarrow.parquet as pq

    paths = output_paths(root)
    path = paths.removed if name == "removed" else paths.split(name)
    files = paths.files(path)
    names: list[str] = []
    for file in files:
        with reading(root, file):
            names = names or pq.read_schema(file).names
    if files and "id" not in names:
        raise unreadable_file(root, files[0], "no 'id' column (not a split written by `tome curate`)")
    return names


def read_split(root: str | Path, name: str):
    """The split as a ``pyarrow.Table``; :class:`OutputFolderError` when it is damaged or has no ``id``."""
    import pyarrow.parquet as pq

    split_columns(root, name)
    path = output_paths(root).split(name)
    with reading(root, path):
        return pq.read_table(path)


def read_removed(root: str | Path):
    """``removed.parquet`` as a ``pyarrow.Table``; :class:`OutputFolderError` when it is damaged or has no ``id``."""
    import pyarrow.parquet as pq

    split_columns(root, "removed")
    path = output_paths(root).removed
    with reading(root, path):
        return pq.read_table(path)


def read_quarantine(root: str | Path) -> list[dict[str, Any]]:
    """The records of ``quarantine.jsonl`` ([] without one); :class:`OutputFolderError` naming the first line
    that is not a JSON object."""
    path = output_paths(root).quarantine
    if not path.exists():
        return []
    records = []
    with reading(root, path), path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise unreadable_file(root, path, f"line {number}: not valid JSON ({exc})") from None
            if not isinstance(record, dict):
                found = type(record).__name__
                raise unreadable_file(root, path, f"line {number}: expected a JSON object, found {found}")
            records.append(record)
    return records


def strip_volatile(manifest: Any) -> Any:
    """The manifest without the keys that change between identical runs (for comparisons)."""
    if isinstance(manifest, dict):
        return {k: strip_volatile(v) for k, v in manifest.items() if k not in VOLATILE_MANIFEST_KEYS}
    if isinstance(manifest, list):
        return [strip_volatile(v) for v in manifest]
    return manifest
