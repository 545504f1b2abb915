"""Input of the Ray engine: plan the input as units, then read, hash, validate and normalize each unit.

The input (the same specs as ``tome curate``: a JSONL or Parquet file, a folder of ``*.parquet`` or
``*.jsonl`` shards, on local disk or behind any pyarrow/fsspec URI such as ``s3://bucket/prefix/``) is cut
on the driver into *units*: byte ranges of JSONL files aligned to line ends, or Parquet row groups. Only
file footers and a few bytes around each cut are read there. Each unit is then read by a Ray task.

Every record gets its global input position ``pos = unit << 32 | line (or row) index in the unit`` before
anything is distributed, so input order, and with it the ids of
:class:`curation.validate.IdAssigner` (content hash + occurrence number), can be rebuilt exactly after any
shuffle. Inputs that are not files (a hub dataset, a ``save_to_disk`` folder, a ``.json`` array) are read on
the driver with :func:`curation.load.load_input` and handed out in chunks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import xxhash

from curation.config import CurationConfig
from curation.engines import ray_records as rec
from curation.engines.ray_records import Kind, UNIT_SHIFT
from curation.load import SAMPLE_PATH, InputError, LoadedInput, RawRecord, _looks_like_path, load_input
from curation.normalize import Normalize
from curation.stage import StageContext
from curation.text_keys import text_for
from curation.validate import _CORE_KEYS, RowError, content_hash, validate_record
from curation.writer import infer_types

SAVED_DATASET_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")
RECORDS_PER_UNIT = 20_000  # driver-loaded inputs are handed out in chunks of this many records
CHUNK_RECORDS = 10_000  # records per output block of a read task (bounds a read task's memory)
JSONL_BYTES_PER_ROW = 1_500  # for sizing partitions before the rows are counted
_EMPTY_UNIT = {"unit": 0, "kind": "records", "file": 0, "path": "", "name": "", "start": 0, "end": 0,
               "records": rec.dumps([])}


@dataclass
class InputPlan:
    spec: str  # as the manifest names it (same as the local engine)
    kind: str  # sample | jsonl | parquet | json | disk | hub
    filesystem: Any  # pyarrow.fs.FileSystem of the files (None for driver-loaded inputs)
    files: list[str]  # paths within the filesystem, in input order
    units: list[dict[str, Any]]
    fingerprint: str | None = None  # known up front for driver-loaded inputs, else computed by a task
    loaded_rows: int | None = None  # record count of driver-loaded inputs
    names: list[str] = field(default_factory=list)
    estimated_rows: int = 0  # exact for Parquet and driver-loaded inputs, from the size for JSONL

    def describe(self, rows: int) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "fingerprint": self.fingerprint, "rows": rows}


# --------------------------------------------------------------------------------------------- filesystems


def resolve_filesystem(spec: str):
    """``(filesystem, path)`` for a local path or a URI (pyarrow's own schemes first, then fsspec's)."""
    from pyarrow import fs as pafs

    if "://" not in spec:
        return pafs.LocalFileSystem(), str(Path(spec).expanduser().absolute())
    try:
        return pafs.FileSystem.from_uri(spec)
    except ValueError:  # pyarrow.ArrowInvalid: a scheme pyarrow does not know; fsspec may
        pass
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{spec}: unknown filesystem scheme (install fsspec and its backend for it)") from None
    fs, path = fsspec.core.url_to_fs(spec)
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def _info(fs, path: str):
    from pyarrow import fs as pafs

    info = fs.get_file_info(path)
    return info, info.type == pafs.FileType.Directory, info.type == pafs.FileType.File


def fingerprint_files(fs, paths: list[str]) -> str:
    """:func:`curation.load.file_fingerprint` over a pyarrow filesystem (same value for the same files)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(PurePosixPath(path).name.encode())
        with fs.open_input_stream(path) as fh:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


# ----------------------------------------------------------------------------------------------- planning


def plan_input(spec: str | None, unit_bytes: int) -> InputPlan:
    """Cut the input into units (reads footers and a few bytes per cut; never the data)."""
    if spec is None:
        if not SAMPLE_PATH.exists():
            raise InputError(f"{SAMPLE_PATH}: embedded sample not found (regenerate it: python data/make_sample.py)")
        plan = _plan_files(*resolve_filesystem(str(SAMPLE_PATH)), "jsonl", unit_bytes)
        plan.spec, plan.kind = "sample", "sample"
        return plan
    fs, path = resolve_filesystem(spec)
    info, is_dir, is_file = _info(fs, path)
    local = "://" not in spec
    if is_dir:
        from pyarrow import fs as pafs

        entries = fs.get_file_info(pafs.FileSelector(path, recursive=False))
        names = {PurePosixPath(e.path).name for e in entries}
        if any(m in names for m in SAVED_DATASET_MARKERS):
            return _plan_loaded(spec)
        for suffix, kind in ((".parquet", "parquet"), (".jsonl", "jsonl")):
            shards = sorted(e.path for e in entries if e.type == pafs.FileType.File and e.path.endswith(suffix))
            if shards:
                plan = _plan_files(fs, shards, kind, unit_bytes)
                plan.spec = spec
                return plan
        raise InputError(f"{spec}: folder holds no dataset (expected a datasets.save_to_disk folder, *.parquet or *.jsonl)")
    if is_file:
        suffix = PurePosixPath(path).suffix.lower()
        shown = str(Path(spec).expanduser()) if local else spec
        if suffix in (".jsonl", ".parquet"):
            plan = _plan_files(fs, path, suffix[1:], unit_bytes)
            plan.spec = shown
            return plan
        if suffix == ".json":
            if not local:
                raise InputError(f"{spec}: a .json array is read whole on the driver; give a local path, or convert it to JSONL / Parquet shards")
            return _plan_loaded(spec)
        raise InputError(f"{shown}: unsupported file type {suffix or '(none)'!r}; expected .jsonl, .json or .parquet")
    if not local or _looks_like_path(spec):
        raise InputError(f"{spec}: file not found")
    return _plan_loaded(spec)  # a hub dataset id


def _plan_files(fs, paths: str | list[str], kind: str, unit_bytes: int) -> InputPlan:
    paths = [paths] if isinstance(paths, str) else list(paths)
    units: list[dict[str, Any]] = []
    estimated = 0
    for file_index, path in enumerate(paths):
        name = PurePosixPath(path).name
        if kind == "jsonl":
            spans = _jsonl_spans(fs, path, unit_bytes)
            if file_index == 0:
                per_row = _bytes_per_line(fs, path)
            estimated += spans[-1][1] // per_row + 1
        else:
            spans, rows = _parquet_row_groups(fs, path)
            estimated += rows
        for start, end in spans:
            units.append({"unit": len(units), "kind": kind, "file": file_index, "path": path, "name": name,
                          "start": start, "end": end, "records": b""})
    if not units:  # Parquet files without row groups
        units.append(dict(_EMPTY_UNIT))
    if len(units) >= 1 << (63 - UNIT_SHIFT):
        raise InputError(f"{paths[0]}: too many input units ({len(units)}); raise the unit size")
    return InputPlan(spec=paths[0], kind=kind, filesystem=fs, files=paths, units=units,
                     names=[PurePosixPath(p).name for p in paths], estimated_rows=estimated)


def _jsonl_spans(fs, path: str, unit_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about ``unit_bytes``, each ending just after a newline (or at the end of the file)."""
    size = fs.get_file_info(path).size
    try:
        fh = fs.open_input_file(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    bounds = [0]
    with fh:
        cut = unit_bytes
        while cut < size:
            fh.seek(cut - 1)
            offset = cut - 1
            end = size
            while offset < size:
                chunk = fh.read(1 << 16)
                if not chunk:
                    break
                nl = chunk.find(b"\n")
                if nl >= 0:
                    end = offset + nl + 1
                    break
                offset += len(chunk)
            if end > bounds[-1]:
                bounds.append(end)
            cut = max(cut + unit_bytes, end + 1)
    if bounds[-1] < size:
        bounds.append(size)
    spans = [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    return spans or [(0, 0)]  # an empty file is one empty unit (it still counts as read)


def _bytes_per_line(fs, path: str, probe: int = 1 << 20) -> int:
    """Average line length of the first MB of a JSONL file (to size partitions before rows are counted)."""
    with fs.open_input_file(path) as fh:
        head = fh.read(probe)
    return max(1, len(head) // max(1, head.count(b"\n"))) if head else JSONL_BYTES_PER_ROW


def _parquet_row_groups(fs, path: str) -> tuple[list[tuple[int, int]], int]:
    """(row group, row offset of the group in its file) per row group, and the file's rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input_file(path) as fh:
            meta = pq.ParquetFile(fh).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file (truncated or corrupt?): {exc}") from None
    spans = []
    offset = 0
    for g in range(meta.num_row_groups):
        spans.append((g, offset))
        offset += meta.row_group(g).num_rows
    return spans, offset


def _plan_loaded(spec: str) -> InputPlan:
    loaded: LoadedInput = load_input(spec)
    units = []
    for start in range(0, len(loaded.records), RECORDS_PER_UNIT):
        chunk = loaded.records[start : start + RECORDS_PER_UNIT]
        units.append({"unit": len(units), "kind": "records", "file": 0, "path": "", "name": "",
                      "start": start, "end": start + len(chunk), "records": rec.dumps(chunk)})
    return InputPlan(spec=loaded.spec, kind=loaded.kind, filesystem=None, files=[], units=units or [_EMPTY_UNIT],
                     fingerprint=loaded.fingerprint, loaded_rows=len(loaded.records),
                     estimated_rows=len(loaded.records))


# ------------------------------------------------------------------------------------------------ reading


def unit_records(unit: dict[str, Any], fs) -> tuple[Iterator[tuple[int, RawRecord]], dict[str, int]]:
    """``(index in unit, RawRecord)`` of one unit, in input order, and the unit's line count (text units)."""
    kind = unit["kind"]
    if kind == "records":
        records = rec.loads(unit["records"])
        return iter(enumerate(records)), {"lines": 0}
    if kind == "parquet":
        return _parquet_records(unit, fs), {"lines": 0}
    try:
        with fs.open_input_file(unit["path"]) as fh:
            fh.seek(unit["start"])
            data = fh.read(unit["end"] - unit["start"])
    except OSError as exc:
        raise InputError(f"{unit['path']}: cannot read: {exc}") from None
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    return _jsonl_records(pieces, data.endswith(b"\n"), unit["name"]), {"lines": len(pieces)}


def _jsonl_records(pieces: list[bytes], ends_with_newline: bool, name: str) -> Iterator[tuple[int, RawRecord]]:
    """The loop body of :func:`curation.load._load_jsonl`, over the lines of one unit.

    ``position["line"]`` is filled on the driver (the unit's first line number is known only there).
    """
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        line_bytes = piece + b"\n" if (i < last or ends_with_newline) else piece
        pos = {"file": name, "line": None}
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield i, RawRecord(pos, raw=line_bytes.decode("utf-8", "replace"), error=f"not UTF-8: {exc.reason}")
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield i, RawRecord(pos, raw=line.rstrip("\n"), error=f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield i, RawRecord(pos, data=data, raw=line.rstrip("\n"))


def _parquet_records(unit: dict[str, Any], fs) -> Iterator[tuple[int, RawRecord]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with fs.open_input_file(unit["path"]) as fh:
            rows = pq.ParquetFile(fh).read_row_group(unit["start"]).to_pylist()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{unit['path']}: not a readable Parquet file (truncated or corrupt?): {exc}") from None
    offset = unit["end"]
    for i, row in enumerate(rows):
        yield i, RawRecord({"file": unit["name"], "row": offset + i}, data=row)


# ------------------------------------------------------------------------------- read + validate + normalize


@dataclass
class ReadSettings:
    config: CurationConfig
    filesystem: Any
    row_parts: int  # partitions of the id / exact-dedup shuffle


def merge_types(acc: dict[str, Any], more: dict[str, Any]) -> None:
    """Fold inferred column types into ``acc`` (in input order), as one inference over all the rows would:
    null gives way, ints widen to floats, structs merge their fields; types that do not unify become
    string (the local writer stores such a column as JSON text)."""
    import pyarrow as pa

    for name, t in more.items():
        old = acc.get(name)
        if old is None or pa.types.is_null(old):
            acc[name] = t
        elif pa.types.is_null(t) or old == t:
            continue
        else:
            try:
                acc[name] = pa.unify_schemas([pa.schema([("x", old)]), pa.schema([("x", t)])],
                                             promote_options="permissive").field("x").type
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError):
                acc[name] = pa.string()


def read_validate_normalize(batch, settings: ReadSettings):
    """Ray map_batches (a generator): units in, records out, ``CHUNK_RECORDS`` records at a time: rows,
    quarantine stubs, and one META record per unit.

    Row-level work is the local engine's own: :func:`validate_record`, :class:`Normalize`; the content hash
    is :func:`content_hash` (ids get their occurrence number after the shuffle by content).
    """
    for unit in batch.to_pylist():
        yield from _unit_tables(unit, settings)


class _UnitState:
    def __init__(self) -> None:
        self.records = 0
        self.parsed = 0
        self.validated = 0
        self.changed = 0
        self.first_bad: tuple[int, str] | None = None
        self.extras: dict[str, None] = {}
        self.types: dict[str, Any] = {}


def _unit_tables(unit: dict[str, Any], settings: ReadSettings):
    cfg = settings.config
    base_pos = unit["unit"] << UNIT_SHIFT
    records, counts = unit_records(unit, settings.filesystem)
    state = _UnitState()
    out = rec.Builder()
    rows: list[tuple[int, int, dict]] = []
    for i, raw in records:
        state.records += 1
        if state.records == 1 and raw.error is not None:
            state.first_bad = (i, raw.error)
        content = raw.raw if raw.raw is not None else raw.data
        h = int(content_hash(content), 16)
        pos = base_pos | i
        if raw.error is not None:
            entry = {"position": raw.position, "raw": raw.raw, "error": raw.error}
            out.add(Kind.QUARANTINE, int(rec.partition_of([h], settings.row_parts)[0]), pos, a=i, h=h, data=rec.dumps(entry))
        else:
            state.parsed += 1
            try:
                row = validate_record(raw.data, cfg.stages.validate_)
            except RowError as exc:
                bad = raw.raw if raw.raw is not None else json.loads(json.dumps(raw.data, default=str))
                entry = {"position": raw.position, "raw": bad, "error": str(exc)}
                out.add(Kind.QUARANTINE, int(rec.partition_of([h], settings.row_parts)[0]), pos, a=i, h=h, data=rec.dumps(entry))
            else:
                rows.append((pos, h, row))
        if len(rows) + len(out) >= CHUNK_RECORDS:
            _flush(rows, out, state, settings)
            yield out.build()
            rows, out = [], rec.Builder()
    _flush(rows, out, state, settings)
    meta = {"unit": unit["unit"], "file": unit["file"], "lines": counts["lines"], "records": state.records,
            "parsed": state.parsed, "first_bad": state.first_bad, "validated": state.validated,
            "normalized_changed": state.changed, "extras": list(state.extras), "types": state.types}
    out.add(Kind.META, 0, base_pos, data=rec.dumps(meta))
    yield out.build()


def _flush(rows: list[tuple[int, int, dict]], out: rec.Builder, state: _UnitState, settings: ReadSettings) -> None:
    """Normalize a chunk of validated rows and add them as ROW records keyed for the id / exact-dedup shuffle."""
    if not rows:
        return
    cfg = settings.config
    batch = [row for _, _, row in rows]
    chunk_extras: dict[str, None] = {}
    for row in batch:
        for k in row:
            if k not in _CORE_KEYS:
                chunk_extras.setdefault(k, None)
                state.extras.setdefault(k, None)
    merge_types(state.types, infer_types([batch], list(chunk_extras)))
    state.validated += len(batch)
    if cfg.stages.normalize.enabled:
        result = Normalize(cfg.stages.normalize).run(batch, StageContext(config=cfg, cache_dir=Path(".")))
        batch = result.kept
        state.changed += result.stats["rows_changed"]
    exact = cfg.stages.exact_dedup
    if exact.enabled:
        keys = []
        for row in batch:
            text = text_for(row, exact.text_key)
            if not exact.case_sensitive:
                text = text.casefold()
            keys.append(xxhash.xxh3_64_intdigest(text.encode("utf-8")))
    else:
        keys = [h for _, h, _ in rows]
    parts = rec.partition_of(keys, settings.row_parts)
    for (pos, h, _), row, part in zip(rows, batch, parts):
        out.add(Kind.ROW, int(part), pos, h=h, data=rec.dumps(row))
