"""Batches waiting between passes: in memory up to a shared budget, the rest in Arrow IPC files on disk.

A :class:`BatchStore` keeps batches in the order they were added. While the shared :class:`MemoryBudget`
allows, batches stay in memory; past it, they are appended to IPC stream files (a new file whenever the
schema changes). :meth:`BatchStore.persist` writes the in-memory part too (a checkpoint), and
:meth:`BatchStore.open` reads such a folder back.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from curation.core.stage import POS


class MemoryBudget:
    """Bytes of batches all stores may hold in memory together."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self.used = 0
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> bool:
        with self._lock:
            if self.used + nbytes > self.limit:
                return False
            self.used += nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self.used -= nbytes


class BatchStore:
    def __init__(self, folder: Path, budget: MemoryBudget) -> None:
        self.folder = Path(folder)
        self.budget = budget
        self._items: list[tuple[str, object]] = []  # ("mem", batch) or ("file", index into files)
        self._files: list[tuple[Path, int]] = []  # (path, batches)
        self._writer = None
        self._writer_schema: pa.Schema | None = None
        self._held = 0
        self.rows = 0
        self.schemas: list[pa.Schema] = []

    # -- writing ------------------------------------------------------------------------------------
    def append(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        if not any(s.equals(batch.schema, check_metadata=True) for s in self.schemas):  # a JSON text mark counts
            self.schemas.append(batch.schema)
        size = batch.get_total_buffer_size()  # what the batch keeps alive (slices hold their whole buffers)
        if not self._files and self.budget.take(size):
            self._items.append(("mem", batch))
            self._held += size
            return
        self._spill(batch)

    def _spill(self, batch: pa.RecordBatch) -> None:
        if self._writer is None or not self._writer_schema.equals(batch.schema, check_metadata=True):
            self._close_writer()
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"part-{len(self._files):05d}.arrow"
            self._writer = ipc.new_stream(str(path), batch.schema)
            self._writer_schema = batch.schema
            self._files.append((path, 0))
        self._writer.write_batch(batch)
        path, n = self._files[-1]
        self._files[-1] = (path, n + 1)
        self._items.append(("file", len(self._files) - 1))

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @property
    def spilled(self) -> bool:
        """Did some batches go to disk (the store outgrew its share of the memory budget)?"""
        return bool(self._files)

    def finish(self) -> "BatchStore":
        self._close_writer()
        return self

    # -- reading ------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[pa.RecordBatch]:
        self._close_writer()
        readers: dict[int, Iterator[pa.RecordBatch]] = {}
        for kind, item in self._items:
            if kind == "mem":
                yield item  # type: ignore[misc]
            else:
                k = int(item)  # type: ignore[arg-type]
                if k not in readers:
                    readers[k] = iter(ipc.open_stream(pa.OSFile(str(self._files[k][0]))))
                yield next(readers[k])

    def fetch(self, positions: np.ndarray, columns: Sequence[str] | None) -> pa.Table:
        """The rows at ``positions`` (sorted), ``columns`` of them (None: all), in ``_pos`` order."""
        wanted = np.unique(np.asarray(positions, dtype=np.int64))
        parts = []
        for batch in self:
            pos = batch.column(POS).to_numpy()
            hit = np.isin(pos, wanted, assume_unique=True)
            if hit.any():
                picked = batch.filter(pa.array(hit))
                if columns is not None:
                    picked = picked.select([POS, *[c for c in columns if c != POS]])
                parts.append(pa.Table.from_batches([picked]))
        if not parts:
            return pa.table({POS: pa.array([], pa.int64())})
        from curation.core.columns import concat_unified

        return concat_unified(parts)

    # -- checkpoints --------------------------------------------------------------------------------
    def persist(self, folder: Path) -> None:
        """Keep every batch, in order, in IPC files under ``folder`` (with an index), as a checkpoint: the
        in-memory ones are written, the spilled ones hard-linked (once spilling starts, every later batch
        spills, so the order is memory first, then files)."""
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        files: list[list] = []
        writer, schema = None, None
        for kind, item in list(self._items):
            if kind != "mem":
                break
            batch = item
            if writer is None or not schema.equals(batch.schema, check_metadata=True):
                if writer is not None:
                    writer.close()
                path = tmp / f"part-{len(files):05d}.arrow"
                writer, schema = ipc.new_stream(str(path), batch.schema), batch.schema
                files.append([path.name, 0])
            writer.write_batch(batch)
            files[-1][1] += 1
        if writer is not None:
            writer.close()
        self._close_writer()
        for path, n in self._files:
            name = f"part-{len(files):05d}.arrow"
            try:
                os.link(path, tmp / name)
            except OSError:
                shutil.copyfile(path, tmp / name)
            files.append([name, n])
        (tmp / "index.json").write_text(json.dumps({"files": files, "rows": self.rows}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)

    @staticmethod
    def open(folder: Path, budget: MemoryBudget) -> "BatchStore":
        """A store over a folder :meth:`persist` wrote (batches stay on disk)."""
        folder = Path(folder)
        index = json.loads((folder / "index.json").read_text())
        store = BatchStore(folder, budget)
        for k, (name, n) in enumerate(index["files"]):
            store._files.append((folder / name, n))
            store._items.extend(("file", k) for _ in range(n))
            with ipc.open_stream(pa.OSFile(str(folder / name))) as reader:
                if not any(s.equals(reader.schema, check_metadata=True) for s in store.schemas):
                    store.schemas.append(reader.schema)
        store.rows = index["rows"]
        return store

    # -- the end ------------------------------------------------------------------------------------
    def release(self) -> None:
        """Forget the batches (memory back to the budget, spill files deleted)."""
        self._close_writer()
        self._items = []
        self.budget.give(self._held)
        self._held = 0
        for path, _ in self._files:
            if path.parent == self.folder and path.exists() and not (self.folder / "index.json").exists():
                path.unlink()  # a spill file (a checkpoint's files stay)
        self._files = []
