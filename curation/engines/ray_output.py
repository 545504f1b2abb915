"""Writing the output contract of :mod:`curation.contract` as shards, from Ray tasks.

Layout (``--out`` on local disk or behind a pyarrow/fsspec URI)::

    train/part-00000.parquet ...        kept rows of each split, shard by shard
    validation/part-00000.parquet ...
    test/part-00000.parquet ...
    removed/part-SS-00000.parquet ...   removed rows; SS = the stage's index, so name order = the local order
    quarantine.jsonl                    (one file, as the local engine writes it)
    manifest.json

A row's shard is a function of its input position (``input unit // units per shard``), so the same input
and config give the same files with the same bytes, however the cluster ran the work. Inside a shard rows
are in input order; reading a folder's files in name order gives the local engine's row order. Every file of
a folder shares one schema (columns and types are fixed on the driver before writing:
:func:`curation.writer.rows_to_table` with the types of all rows), so ``pyarrow.parquet.read_table(folder)``,
:func:`curation.contract.read_split` and ``datasets.load_dataset("parquet", data_files="out/train/*.parquet")``
all read them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa

from curation.contract import MANIFEST_FILE, QUARANTINE_FILE, REMOVED_FILE, SPLITS
from curation.engines import ray_records as rec
from curation.engines.ray_records import Kind, UNIT_SHIFT
from curation.writer import rows_to_table, sha256_file

SHARD_SPACE = 1 << 24  # part = target * SHARD_SPACE + shard; targets: 0..2 splits, 3 + stage index removed
REMOVED_DIR = PurePosixPath(REMOVED_FILE).stem  # "removed"
ROW_GROUP_ROWS = 20_000  # rows converted and written at a time (bounds a write task's memory)


@dataclass
class Sink:
    """Where the output folder lives: a local folder, or a folder of a pyarrow filesystem."""

    root: str
    filesystem: Any = None  # None: local disk

    @staticmethod
    def for_spec(spec: str | Path) -> "Sink":
        text = str(spec)
        if "://" not in text:
            return Sink(str(Path(text).expanduser().absolute()))
        from curation.engines.ray_input import resolve_filesystem

        fs, path = resolve_filesystem(text)
        return Sink(path, fs)

    @property
    def local(self) -> bool:
        return self.filesystem is None

    def path(self, rel: str) -> str:
        return str(Path(self.root) / rel) if self.local else f"{self.root.rstrip('/')}/{rel}"

    def makedirs(self, rel: str = "") -> None:
        if self.local:
            Path(self.path(rel) if rel else self.root).mkdir(parents=True, exist_ok=True)
        else:
            self.filesystem.create_dir(self.path(rel) if rel else self.root, recursive=True)

    def write_table(self, rel: str, table: pa.Table) -> str:
        """Write ``table`` as the Parquet file ``rel`` (:func:`curation.writer.write_parquet`); its SHA-256."""
        return self.write_tables(rel, table.schema, [table])

    def write_tables(self, rel: str, schema: pa.Schema, tables) -> str:
        """Write ``tables`` (same ``schema``) as one Parquet file, a row group each, with the options of
        :func:`curation.writer.write_parquet` (no tables: a file with no row group, which ``datasets`` reads);
        its SHA-256. Only one table is in memory at a time."""
        if self.local:
            path = Path(self.path(rel))
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_row_groups(path, schema, tables)
            return sha256_file(path)
        with tempfile.TemporaryDirectory(prefix="tomecraft-shard-") as tmp:
            local = Path(tmp) / "shard.parquet"
            _write_row_groups(local, schema, tables)
            return self.write_bytes(rel, local.read_bytes())

    def write_bytes(self, rel: str, data: bytes) -> str:
        if self.local:
            path = Path(self.path(rel))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        else:
            parent = str(PurePosixPath(self.path(rel)).parent)
            self.filesystem.create_dir(parent, recursive=True)  # no-op on object stores
            with self.filesystem.open_output_stream(self.path(rel)) as fh:
                fh.write(data)
        return hashlib.sha256(data).hexdigest()

    def clear_previous(self) -> None:
        """Remove data files of an earlier run (either layout) so that no stale file shadows or joins the new ones."""
        singles = [f"{s}.parquet" for s in SPLITS] + [REMOVED_FILE, QUARANTINE_FILE, MANIFEST_FILE]
        folders = list(SPLITS) + [REMOVED_DIR]
        if self.local:
            for name in singles:
                Path(self.path(name)).unlink(missing_ok=True)
            for name in folders:
                folder = Path(self.path(name))
                if folder.is_dir():
                    for f in folder.glob("part-*.parquet*"):
                        f.unlink()
                    if not any(folder.iterdir()):
                        folder.rmdir()
            return
        from pyarrow import fs as pafs

        for name in singles:
            if self.filesystem.get_file_info(self.path(name)).type == pafs.FileType.File:
                self.filesystem.delete_file(self.path(name))
        for name in folders:
            if self.filesystem.get_file_info(self.path(name)).type == pafs.FileType.Directory:
                for info in self.filesystem.get_file_info(pafs.FileSelector(self.path(name))):
                    if PurePosixPath(info.path).name.startswith("part-"):
                        self.filesystem.delete_file(info.path)


def _write_row_groups(path: Path, schema: pa.Schema, tables) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, schema, compression="zstd", compression_level=3, write_statistics=True) as writer:
        for t in tables:
            if t.num_rows:
                writer.write_table(t.select(schema.names).cast(schema))
    os.replace(tmp, path)


def shard_file(target: int, shard: int) -> str:
    if target < len(SPLITS):
        return f"{SPLITS[target]}/part-{shard:05d}.parquet"
    return f"{REMOVED_DIR}/part-{target - len(SPLITS):02d}-{shard:05d}.parquet"


def key_for_write(t: pa.Table, units_per_shard: int) -> pa.Table:
    """Map: ``part`` = (target file set, shard) of each kept (``a`` = split) or removed (``a`` = stage) row."""
    t = rec.of_kind(t, Kind.ROW, Kind.REMOVED)
    if t.num_rows == 0:
        return t
    shard = (rec.column(t, "pos") >> UNIT_SHIFT) // units_per_shard
    target = rec.column(t, "a") + np.where(rec.column(t, "kind") == Kind.REMOVED, len(SPLITS), 0)
    return t.set_column(0, "part", pa.array(target * SHARD_SPACE + shard, pa.int64()))


def write_shard(t: pa.Table, sink: Sink, extras: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    """One (target, shard) partition: its rows in input order, written as one Parquet file in row groups of
    ``ROW_GROUP_ROWS`` rows (:func:`curation.writer.rows_to_table` on each, with the folder's types)."""
    t = rec.of_kind(t, Kind.ROW, Kind.REMOVED)
    part = int(t.column("part")[0].as_py())
    target, shard = divmod(part, SHARD_SPACE)
    removed = target >= len(SPLITS)
    order = np.argsort(rec.column(t, "pos"), kind="stable")
    data = t.column("data")

    def chunks():
        for start in range(0, len(order), ROW_GROUP_ROWS):
            idx = pa.array(order[start : start + ROW_GROUP_ROWS])
            rows = [rec.loads(d) for d in data.take(idx).to_pylist()]
            yield rows_to_table(rows, extras, removed=removed, types=types)

    tables = chunks()
    first = next(tables)
    rel = shard_file(target, shard)
    digest = sink.write_tables(rel, first.schema, _chain(first, tables))
    b = rec.Builder()
    b.stat({"file": rel, "target": target, "shard": shard, "rows": int(t.num_rows), "sha256": digest})
    return b.build()


def _chain(first, rest):
    yield first
    yield from rest


def write_empty(sink: Sink, target: int, extras: list[str], types: dict[str, pa.DataType]) -> dict[str, Any]:
    """A file with the folder's schema and no rows, for a split (or removed) that got no rows at all."""
    rel = shard_file(target, 0)
    digest = sink.write_table(rel, rows_to_table([], extras, removed=target >= len(SPLITS), types=types))
    return {"file": rel, "target": target, "shard": 0, "rows": 0, "sha256": digest}


def folder_outputs(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Manifest ``outputs`` entries of the sharded folders: rows, files, and one SHA-256 over the listing."""
    outputs: dict[str, Any] = {}
    names = list(SPLITS) + [REMOVED_DIR]
    for target_name in names:
        mine = sorted((f for f in files if _folder_of(f) == target_name), key=lambda f: f["file"])
        listing = "".join(f"{f['file']} {f['sha256']}\n" for f in mine)
        outputs[target_name] = {
            "path": f"{target_name}/",
            "rows": sum(f["rows"] for f in mine),
            "sha256": hashlib.sha256(listing.encode()).hexdigest(),
            "files": [{"path": f["file"], "rows": f["rows"], "sha256": f["sha256"]} for f in mine],
        }
    return outputs


def _folder_of(f: dict[str, Any]) -> str:
    return SPLITS[f["target"]] if f["target"] < len(SPLITS) else REMOVED_DIR


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    """The bytes :func:`curation.writer.write_jsonl` writes for ``records``."""
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode("utf-8")


def json_bytes(obj: Any) -> bytes:
    """The bytes :func:`curation.writer.write_json` writes for ``obj``."""
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")

