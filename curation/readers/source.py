"""An input, cut into units that can be read apart (by one process, or by Ray tasks), in input order.

A unit is a byte range of a JSONL file (cut at a line end), a range of row groups of a Parquet file (all of a
compressed one, ``.parquet.gz`` and the like, decompressed to a temporary file), or a slice of records loaded whole (a
``.json`` array, a ``save_to_disk`` folder, a hub dataset). Every record gets ``_pos = (unit number << 32) +
its index in the unit``, so positions grow in input order whichever process reads the unit, and everything
downstream can be put back in input order by ``_pos``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa

from curation.contract import orjson_dumps, record_id
from curation.readers.errors import InputError, misnamed
from curation.readers.filesystems import fingerprint_files
from curation.readers.labels import named_labels, parquet_labels
from curation.readers.raw import as_typed, raw_batch, with_leaves
from curation.sources import BOM, CR_HEAD, CR_LINES, bom_encoding, classify, lone_cr_lines
from tomecraft.errors import error_line

UNIT_SHIFT = 32


@dataclass(frozen=True)
class UnreadableRow:
    """A record of a loaded ``.json`` document that cannot be taken as a row (it names a key twice; or the rest of
    a document that breaks part-way, as text): it ends in quarantine with ``error``, ``value`` (as ``json`` read
    it) as its raw record, and ``id`` as its id (None: the id of ``value``, as a row's is)."""

    value: Any
    error: str
    id: str | None = None


class _PickledRows:
    """A loaded ``.json`` document's rows, pickled with room for the recursion their nesting needs: ``json``
    reads values about as deep as Python's recursion limit, and the pickler takes more than one call a level (a
    row nested 500 objects deep, which the local engine quarantines, ended a Ray run in "Could not pickle object
    as excessively deep recursion required"). A row deeper than the pickler reaches even so (Python 3.12 bounds
    it by a C limit that the recursion limit does not raise) travels flat (:mod:`curation.readers.deep_values`).
    Unpickling does not recurse."""

    def __init__(self, rows: list) -> None:
        import pickle
        import sys

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(4 * limit)
        try:
            try:
                self.data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
            except RecursionError:
                self.data = pickle.dumps([_pickleable(row) for row in rows], protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            sys.setrecursionlimit(limit)

    def rows(self) -> list:
        import pickle

        return pickle.loads(self.data)


def _pickleable(row: Any) -> Any:
    """``row``, or, when the pickler cannot reach its depth, the same row flat (an unreadable one's value flat)."""
    import dataclasses
    import pickle

    from curation.readers.deep_values import Flat

    try:
        pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)
        return row
    except RecursionError:
        if isinstance(row, UnreadableRow):
            return dataclasses.replace(row, value=Flat(row.value))
        return Flat(row)


@dataclass(frozen=True)
class Unit:
    """One independently readable piece of the input."""

    index: int
    kind: str  # jsonl | parquet | records
    path: str = ""
    file: str = ""  # the name positions and the manifest use
    start: int = 0  # jsonl: first byte; parquet: first row group; records: first record
    end: int = 0  # exclusive
    first_line: int = 1  # jsonl: line number of the unit's first line
    first_row: int = 0  # parquet / records: row number of the unit's first row within its file
    compression: str | None = None  # gzip | bz2 | xz | zstd (the unit is the whole file); jsonl: also utf-16 | utf-32 | cr
    input: str = ""  # the input it belongs to, when a run has several (curation.inputs)
    part: bool = False  # jsonl: one of several byte ranges of its file (the file was checked whole when cut)

    @property
    def first_pos(self) -> int:
        return self.index << UNIT_SHIFT


@dataclass
class InputSource:
    """What ``--input`` named, as units. ``read_unit`` yields raw batches (:mod:`curation.readers.raw`)."""

    spec: str
    kind: str  # sample | jsonl | parquet | json | disk | hub
    filesystem: Any = None
    files: list[str] = field(default_factory=list)
    records: list[tuple[str, Any]] = field(default_factory=list)  # loaded inputs: (file label, pa.Table | list)
    # of ``files``, the JSON documents loaded whole among shards read as they stream (a folder or glob of .json
    # documents beside .jsonl and .parquet shards): their rows are in ``records``, under their :meth:`label`
    documents: list[str] = field(default_factory=list)
    fingerprint_value: str | None = None

    # -- what the manifest says -----------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        hashing = self.__dict__.pop("_hashing", None)
        if hashing is not None:  # started by hash_in_background
            self.fingerprint_value = hashing.result()
        if self.fingerprint_value is None:
            self.fingerprint_value = fingerprint_files(self.filesystem, self.files)
        return self.fingerprint_value

    def hash_in_background(self) -> None:
        """Start hashing the input's files for :attr:`fingerprint` on a thread (hashing releases the GIL), so
        the rest of a run's start overlaps it; :attr:`fingerprint` then waits for it."""
        if self.fingerprint_value is None and self.files and "_hashing" not in self.__dict__:
            from concurrent.futures import Future
            import threading

            future: Future = Future()

            def run() -> None:
                try:
                    future.set_result(fingerprint_files(self.filesystem, self.files))
                except BaseException as exc:  # noqa: BLE001 - raised again where the fingerprint is asked for
                    future.set_exception(exc)

            threading.Thread(target=run, name="tome-fingerprint", daemon=True).start()
            self.__dict__["_hashing"] = future

    def __getstate__(self) -> dict[str, Any]:
        """What travels to another process (a Ray worker): the first records read to detect the format stay here
        (the driver's; a value nested hundreds of levels deep among them broke the pickling of the whole
        source), and a loaded document's rows travel as :class:`_PickledRows`."""
        if "_hashing" in self.__dict__:
            self.fingerprint  # noqa: B018 - a thread's result does not travel: wait for it
        state = {k: v for k, v in self.__dict__.items() if k != "_first_records"}
        state["records"] = [(label, _PickledRows(data) if isinstance(data, list) else data)
                            for label, data in self.records]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["records"] = [(label, data.rows() if isinstance(data, _PickledRows) else data)
                            for label, data in state["records"]]
        self.__dict__.update(state)

    def describe(self, rows: int) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "fingerprint": self.fingerprint, "rows": rows}

    # -- units ----------------------------------------------------------------------------------------
    def units(self, unit_bytes: int | None = None, unit_records: int = 200_000) -> list[Unit]:
        """The input's units; ``unit_bytes`` None: one unit per file (the local engine reads it streaming). Listed
        once per run and kept (a folder of thousands of shards is classified and its files' heads read once, not
        once per pass over it)."""
        cache = self.__dict__.setdefault("_units", {})
        key = (unit_bytes, unit_records)
        if key not in cache:
            cache[key] = self._list_units(unit_bytes, unit_records)
        return list(cache[key])

    def _list_units(self, unit_bytes: int | None, unit_records: int) -> list[Unit]:
        units: list[Unit] = []
        if self.kind in ("jsonl", "sample", "parquet", "files") or self.documents:
            documents = set(self.documents)
            loaded = dict(self.records) if documents else {}
            for path in self.files:
                found = classify(path)
                if path in documents:  # loaded whole: its rows, as a document given alone is read
                    label = self.label(path)
                    units.extend(_record_units(label, len(loaded[label]), unit_bytes, unit_records, len(units)))
                elif found is not None and found.kind == "parquet" and found.compression:  # read whole: one unit
                    name = self.label(path)
                    units.append(Unit(len(units), "parquet", path, name, compression=found.compression))
                elif found is not None and found.kind == "parquet":
                    units.extend(self._parquet_units(path, unit_bytes, len(units)))
                elif found is not None and found.compression:
                    name = self.label(path)
                    units.append(Unit(len(units), "jsonl", path, name, 0, 0, 1, compression=found.compression))
                elif (text := self._plain_text(path)) is not None:  # read as a stream (one unit)
                    units.append(Unit(len(units), "jsonl", path, self.label(path), 0, 0, 1, compression=text))
                else:
                    units.extend(self._jsonl_units(path, unit_bytes, len(units)))
        elif self.kind == "stream":
            units.append(Unit(len(units), "stream", file=self.records[0][0]))
        else:
            for label, table in self.records:
                units.extend(_record_units(label, len(table), unit_bytes, unit_records, len(units)))
        return units

    def label(self, path: str) -> str:
        """How positions name one of the input's files: its path below the folder all of them share (its name
        alone when they lie in one folder), so that two shards of one name in two folders stay apart."""
        labels = self.__dict__.get("_labels")
        if labels is None:
            parents = sorted({str(PurePosixPath(f).parent) for f in self.files})
            try:
                common = PurePosixPath(os.path.commonpath(parents)) if parents else None
            except ValueError:  # (paths under no one root: a relative and an absolute one)
                common = None
            labels = {}
            for f in self.files:
                below = PurePosixPath(f).relative_to(common) if common is not None else PurePosixPath(PurePosixPath(f).name)
                labels[f] = below.as_posix()
            self.__dict__["_labels"] = labels
        return labels.get(path) or PurePosixPath(path).name

    def _plain_text(self, path: str) -> str | None:
        """:data:`curation.sources.UTF16` (``UTF32``) for a text file in UTF-16 (UTF-32; its byte-order mark;
        transcoded as it is read, :class:`curation.sources.Utf16AsUtf8`), :data:`CR_LINES` for one whose lines end in a lone CR (the line
        cutter reads each CR as a line end), else None (read in byte ranges)."""
        try:
            with self.filesystem.open_input_file(path) as fh:
                head = fh.read(CR_HEAD + len(BOM))
                if (encoding := bom_encoding(head)) is not None:
                    return encoding
                return CR_LINES if lone_cr_lines(fh.read, head[len(BOM):] if head.startswith(BOM) else head) else None
        except OSError:
            return None  # the plain reader says what is wrong with the file

    def _jsonl_units(self, path: str, unit_bytes: int | None, first_index: int) -> list[Unit]:
        fs = self.filesystem
        name = self.label(path)
        size = fs.get_file_info(path).size
        if not unit_bytes or size <= unit_bytes:
            return [Unit(first_index, "jsonl", path, name, 0, size, 1)]
        from curation.readers.jsonl import check_json_lines

        try:
            check_json_lines(fs, path, name, size)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc}") from None
        units: list[Unit] = []
        with fs.open_input_file(path) as fh:
            start, line = 0, 1
            while start < size:
                cut = min(size, start + unit_bytes)
                fh.seek(start)
                lines = fh.read(cut - start).count(b"\n")
                end = cut
                if cut < size:  # extend to the next line end (counted, not kept: a line may be hundreds of MB)
                    while more := fh.read(1 << 20):
                        nl = more.find(b"\n")
                        if nl >= 0:
                            end, lines = end + nl + 1, lines + 1
                            break
                        end += len(more)
                units.append(Unit(first_index + len(units), "jsonl", path, name, start, end, line, part=True))
                line += lines
                start = end
        return units

    def _parquet_units(self, path: str, unit_bytes: int | None, first_index: int) -> list[Unit]:
        import pyarrow.parquet as pq

        name = self.label(path)
        try:
            meta = pq.ParquetFile(self.filesystem.open_input_file(path)).metadata
        except (pa.ArrowInvalid, OSError) as exc:
            head = self._head(path)
            wrong = misnamed(path, head, "parquet")  # a compressed Parquet file under a plain name
            if wrong is not None:
                raise wrong from None
            if head.startswith(PARQUET_MAGIC) or self._empty(path):
                # a Parquet file whose footer cannot be read (truncated, corrupt): one unit, which reads as one
                # quarantined record (:meth:`_read_parquet`); a file of no bytes: one that reads as no rows
                return [Unit(first_index, "parquet", path, name, 0, 0, first_row=0)]
            raise not_parquet(path, exc) from None
        _unique_columns(meta.schema.to_arrow_schema(), path)
        groups = meta.num_row_groups
        if not unit_bytes or groups <= 1:
            return [Unit(first_index, "parquet", path, name, 0, groups, first_row=0)]
        units, row = [], 0
        for g in range(groups):
            units.append(Unit(first_index + len(units), "parquet", path, name, g, g + 1, first_row=row))
            row += meta.row_group(g).num_rows
        return units

    def _head(self, path: str) -> bytes:
        """A file's first bytes (what its magic bytes tell), or none when it cannot be opened."""
        try:
            with self.filesystem.open_input_file(path) as fh:
                return fh.read(8)
        except OSError:
            return b""

    def _empty(self, path: str) -> bool:
        """Whether the file is there and holds no bytes."""
        try:
            return self.filesystem.get_file_info(path).size == 0
        except OSError:
            return False

    # -- reading --------------------------------------------------------------------------------------
    def read_unit(self, unit: Unit, batch_rows: int = 16_384, block_bytes: int = 8 << 20) -> Iterator[pa.RecordBatch]:
        """The unit's raw batches of at most ``batch_rows`` rows; JSON Lines is read ``block_bytes`` at a time."""
        if unit.kind == "jsonl" and unit.compression:
            from curation.readers.jsonl import read_jsonl_stream

            for batch, _ in read_jsonl_stream(self.filesystem, unit.path, unit.file, unit.compression, unit.first_pos,
                                              block_bytes=block_bytes):
                yield from _rebatch(batch, batch_rows)
        elif unit.kind == "jsonl":
            from curation.readers.jsonl import read_jsonl

            try:
                for batch, _ in read_jsonl(self.filesystem, unit.path, unit.file, unit.start, unit.end,
                                           unit.first_line, unit.first_pos, block_bytes=block_bytes, check=not unit.part):
                    yield from _rebatch(batch, batch_rows)
            except OSError as exc:
                raise InputError(f"{unit.path}: cannot read: {exc}") from None
        elif unit.kind == "parquet":
            yield from self._read_parquet(unit, batch_rows)
        elif unit.kind == "stream":
            yield from _stream_batches(self.records[0][1], unit, batch_rows)
        else:
            label, data = next((lbl, d) for lbl, d in self.records if lbl == unit.file)
            yield from _table_batches(data, unit, batch_rows)

    def _read_parquet(self, unit: Unit, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The unit's row groups, one after another (:func:`_row_group_batches`): a row group that cannot be read
        (a corrupt page, a column chunk cut short) loses the rows from where it breaks, as one quarantined
        record, and the next row group is read on. A Parquet file whose footer cannot be read (it starts with
        ``PAR1`` but is truncated or its footer corrupt; a compressed one whose stream breaks off) is one
        quarantined record (:func:`footer_lost`): which rows it held is not known, and the run goes on. A file
        of no bytes holds no rows, as an empty JSON Lines shard; one that does not start as Parquet is an
        :class:`InputError`."""
        import pyarrow.parquet as pq

        source = self._parquet_file(unit)
        if isinstance(source, str):  # a compressed file whose stream breaks off
            yield footer_lost(unit, source)
            return
        try:
            pf = pq.ParquetFile(source)
        except (pa.ArrowInvalid, OSError) as exc:
            try:
                source.seek(0)
                head = bytes(source.read(8))
                empty = source.size() == 0
            except (pa.ArrowException, OSError, ValueError):
                head, empty = b"", False
            if empty:
                return
            if head.startswith(PARQUET_MAGIC):
                yield footer_lost(unit, _one_line(exc))
                return
            raise (misnamed(unit.path, head, "parquet") or not_parquet(unit.path, exc)) from None
        groups = range(unit.start, unit.end) if not unit.compression else range(pf.num_row_groups)
        row, done = unit.first_row, 0
        labels = parquet_labels(pf.schema_arrow)  # a file datasets wrote: its ClassLabel columns read as names
        try:
            for group in groups:
                for batch in joined(_row_group_batches(pf, group, unit, row, done, labels), batch_rows):
                    yield from _rebatch(batch, batch_rows)
                    done += batch.num_rows
                row += pf.metadata.row_group(group).num_rows
        except (pa.ArrowInvalid, OSError) as exc:  # rows read that cannot be taken as a table's rows
            raise InputError(f"{unit.path}: not a readable Parquet file (truncated or corrupt?): "
                             f"{_one_line(exc)}") from None

    def _parquet_file(self, unit: Unit):
        """The unit's Parquet file, to open: a compressed one (``.parquet.gz``, ...) decompressed as it streams
        into a temporary file (under ``TMPDIR``), memory-mapped and unlinked at once (Parquet is read from its
        footer back, so it cannot be read as it streams; held in memory, a large one would take all of it). A
        compressed file that starts as its codec's do but whose stream breaks off: why, as a string (the partial
        file is removed); one that does not is an :class:`InputError`."""
        if not unit.compression:
            try:
                return self.filesystem.open_input_file(unit.path)
            except OSError as exc:
                raise InputError(f"{unit.path}: cannot read: {_one_line(exc)}") from None
        import shutil
        import tempfile

        from curation.sources import READ_ERRORS, DataFile, compressed_as, open_binary

        tmp = tempfile.NamedTemporaryFile(prefix="tome-", suffix=".parquet", delete=False)
        try:
            with tmp, open_binary(DataFile(PurePosixPath(unit.path), "parquet", unit.compression)) as fh:
                shutil.copyfileobj(fh, tmp, 1 << 20)
            return pa.memory_map(tmp.name)
        except READ_ERRORS as exc:  # a truncated or corrupt stream (or no room for the decompressed file)
            if isinstance(exc, OSError) and exc.errno is not None:  # no room, no access: not the file's fault
                raise InputError(f"{unit.path}: cannot decompress: {error_line(exc)}") from None
            if compressed_as(self._head(unit.path)) != unit.compression:  # not this codec's file at all
                raise InputError(f"{unit.path}: cannot decompress: {error_line(exc)}") from None
            return f"cannot decompress it: {_one_line(exc)}"
        finally:
            try:
                os.unlink(tmp.name)  # the mapping keeps the data while it is read
            except OSError:
                pass

    def batches(self, batch_rows: int = 16_384, block_bytes: int = 8 << 20) -> Iterator[pa.RecordBatch]:
        """Every raw batch of the input, in input order (one process). Consecutive batches with the same columns
        are joined up to ``batch_rows`` rows: a folder of many small shards would otherwise be as many small
        batches, each paying every stage's cost per batch in every pass (what comes out does not depend on how
        the rows are cut into batches)."""
        units = self.units()
        yield from joined((batch for unit in units for batch in self.read_unit(unit, batch_rows, block_bytes)),
                          batch_rows)


def joined(batches: Iterable[pa.RecordBatch], batch_rows: int = 16_384) -> Iterator[pa.RecordBatch]:
    """``batches`` in order, consecutive ones with the same columns joined up to ``batch_rows`` rows."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if pending and (rows + batch.num_rows > batch_rows
                        or not batch.schema.equals(pending[0].schema, check_metadata=True)):
            yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
            pending, rows = [], 0
        pending.append(batch)
        rows += batch.num_rows
    if pending:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


# the rows of a row group read at a time: a constant (not the engine's batch size), so that where a corrupt row
# group breaks off, and so which of its rows are kept, is the same whatever the engine's batch size, engine or
# workers (a page is read when the first piece that needs it is)
PARQUET_READ_ROWS = 16_384


def _row_group_batches(pf, group: int, unit: Unit, first_row: int, done: int,
                       labels: dict[str, list[str]] | None = None) -> Iterator[pa.RecordBatch]:
    """Raw batches of row ``group`` of an open Parquet file whose first row is row ``first_row`` of the file and
    the unit's record ``done``, read :data:`PARQUET_READ_ROWS` rows at a time. Where the group cannot be read
    on (a corrupt page or column chunk: Parquet keeps every row group apart, so the file's other groups read
    as they are), the pieces read before the break are kept and each row of the rest is a quarantined record
    (the footer says how many rows the group holds, so every row of the file is still counted once): its
    position is its row of the file, its raw value null, its error names the row group and the rows lost with
    it (which rows of the file to recover), and its id hashes the file's name, the row and that error.
    ``labels``: the file's ``ClassLabel`` columns (:func:`curation.readers.labels.parquet_labels`), read as names."""
    from curation.contract import line_id

    rows = pf.metadata.row_group(group).num_rows
    got, reason = 0, None
    pieces = pf.iter_batches(batch_size=PARQUET_READ_ROWS, row_groups=[group])
    while True:
        try:  # (only the reading: what the rows read become is the caller's to refuse)
            piece = next(pieces)
        except StopIteration:
            break
        except (pa.ArrowException, OSError) as exc:  # (ArrowInvalid, an IO or decompression error, thrift's)
            reason = _one_line(exc)
            break
        table = named_labels(pa.Table.from_batches([piece]), labels or {})
        yield _typed_batch(table, unit, first_row + got, done + got)
        got += piece.num_rows
    if reason is None and got >= rows:
        return
    reason = reason or f"it ended after {got:,} of its {rows:,} rows"
    first, last = first_row + got, first_row + rows - 1
    lost = f"rows {first:,}-{last:,} of the file" if last > first else f"row {first:,} of the file"
    error = f"row group {group} cannot be read from here ({lost}, {rows - got:,} rows, are lost): {reason}"
    for start in range(got, rows, PARQUET_READ_ROWS):
        k = np.arange(start, min(rows, start + PARQUET_READ_ROWS))
        yield raw_batch(None, pos=unit.first_pos + done + k, ids=[line_id(f"{unit.file}\nrow {first_row + i}\n{error}".encode())
                                                                  for i in k.tolist()],
                        file=unit.file, rows=first_row + k, raw=[b"null"] * len(k), error=[error] * len(k))


def _record_units(label: str, n: int, unit_bytes: int | None, unit_records: int, first_index: int) -> list[Unit]:
    """The units of ``n`` loaded records under ``label``: one (``unit_bytes`` None: the local engine), else
    ``unit_records`` records each; one unit of no records where there are none (the input is still listed)."""
    step = max(1, unit_records) if unit_bytes else max(1, n)
    return [Unit(first_index + k, "records", file=label, start=a, end=min(n, a + step), first_row=a)
            for k, a in enumerate(range(0, max(n, 1), step))]


PARQUET_MAGIC = b"PAR1"  # what a Parquet file starts (and ends) with


def footer_lost(unit: Unit, reason: str) -> pa.RecordBatch:
    """The one quarantined record of a Parquet file whose footer cannot be read (``reason``: why, one line):
    the footer says which rows the file holds, so which are lost is not known. Its position is the unit's
    first, its row and raw value null, its id hashes the file's name and the error."""
    from curation.contract import line_id

    error = f"the file's footer cannot be read, so the rows it held are not known (none is read): {reason}"
    return raw_batch(None, pos=[unit.first_pos], ids=[line_id(f"{unit.file}\n{error}".encode())], file=unit.file,
                     rows=[None], raw=[b"null"], error=[error])


def not_parquet(path: str, exc: BaseException) -> InputError:
    """The error for a file read as Parquet that does not start as one (another format under a .parquet name)."""
    return InputError(f"{path}: not a readable Parquet file (it does not start with Parquet's magic bytes "
                      f"{PARQUET_MAGIC.decode()}): {_one_line(exc)}")


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line of printable text: Arrow's Parquet errors span several ("Couldn't
    deserialize thrift: ...", then "Deserializing page header failed.") and may quote the corrupt bytes."""
    text = "".join(c if c.isprintable() else " " for c in str(exc))
    return " ".join(text.split()) or type(exc).__name__


def _rebatch(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def _typed_batch(table: pa.Table, unit: Unit, first_row: int, done: int) -> pa.RecordBatch:
    """A raw batch over rows of a typed table (ids from each row's canonical JSON; text stored as binary read as
    text, :func:`curation.readers.raw.binary_as_text`; turns stored as maps as structs,
    :func:`~curation.readers.raw.turn_maps_as_structs`; decimals of a negative scale, which Parquet cannot
    store, as :func:`parquet_writable` says). A row with a string that is not UTF-8, or with a value Python's
    types cannot hold, is marked so (:func:`without_unreadable_values`), one whose turn maps name a key twice is
    marked so; a column name given twice is an :class:`InputError`."""
    from curation.core.temporal import rows_as_python
    from curation.readers.raw import binary_as_text, turn_maps_as_structs

    _unique_columns(table.schema, unit.path or unit.file)
    table, refused, given = turn_maps_as_structs(binary_as_text(parquet_writable(table)))
    n = table.num_rows
    raw = error = None
    try:
        rows = rows_as_python(table)  # (times Arrow will not convert, nanoseconds: curation.core.temporal)
    except NOT_PYTHON:  # Parquet writers need not check their strings, nor Arrow its dates: those rows alone
        table, rows, raw, error = without_unreadable_values(table)
    if refused:  # turns stored as maps that name a key twice
        error = error or [None] * n
        for i, why in refused.items():
            error[i] = error[i] or why
    if given:  # each row's turns as its maps hold them, not with the keys other maps of its batch hold (as nulls)
        raw = list(raw or [None] * n)
        for name, turns in given.items():
            for i, (record, own) in enumerate(zip(rows, turns)):
                if record[name] != own:
                    record[name] = own
                    raw[i] = raw[i] or json.dumps(record, default=str)  # (read so by validation, quarantined so)
    ids = [record_id(row) for row in rows]
    return as_typed(raw_batch(
        table,
        pos=np.arange(unit.first_pos + done, unit.first_pos + done + n, dtype=np.int64),
        ids=ids,
        file=unit.file,
        rows=np.arange(first_row, first_row + n, dtype=np.int64),
        raw=raw,
        error=error,
    ))


def _unique_columns(schema: pa.Schema, where: str) -> None:
    """An :class:`InputError` naming the file and the column when a table (Arrow and Parquet allow it) has two
    columns of one name, or a column whose structs (turns, at any depth) name a field twice: which one a row's
    value comes from would be a guess (and such a struct cannot be turned into Python objects)."""
    seen: set[str] = set()
    for field in schema:
        if field.name in seen:
            raise InputError(f"{where}: the column {field.name!r} appears more than once; rename or drop the copies "
                             "(each column of an input needs its own name)")
        seen.add(field.name)
        twice = _field_named_twice(field.type)
        if twice is not None:
            raise InputError(f"{where}: the column {field.name!r} holds the field {twice!r} more than once in one "
                             "struct; rename or drop the copies")


def _field_named_twice(kind: pa.DataType) -> str | None:
    """The first field name a struct inside ``kind`` gives twice (lists, maps and dictionaries looked into)."""
    from curation.core.columns import nested_types

    for inner in nested_types(kind):
        if pa.types.is_struct(inner):
            names = [inner.field(i).name for i in range(inner.num_fields)]
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:
                return twice
    return None


# what making Python values of a typed column raises where a value cannot be one: a string that is not UTF-8
# (UnicodeDecodeError, a ValueError), a date or time Python's types cannot hold (a year past 9999, a duration of
# more than 999,999,999 days: OverflowError), a value Arrow will not convert (ArrowInvalid, a ValueError;
# ArrowNotImplementedError)
NOT_PYTHON = (ValueError, OverflowError, pa.ArrowException)
OUT_OF_RANGE = ("value out of Python's range (a date or timestamp before year 1 or after 9999, a duration of more than "
                "999,999,999 days)")


def without_unreadable_values(table: pa.Table) -> tuple[pa.Table, list[dict], list[str | None], list[str | None]]:
    """``(table, rows, raw, error)`` for a table with values that cannot be made Python values (:data:`NOT_PYTHON`;
    :mod:`curation.core.temporal` makes those it can): each row that holds one is null in ``table`` (no stage
    meets the value again) and quarantined, with ``error`` "not UTF-8: <why> (column '<name>')", "value out of
    Python's range (...) (column '<name>', <type>)" or "value not representable in Python: <why> (column
    '<name>')" and, as its row in ``rows`` and its JSON in ``raw``, its values as :func:`_stored_value` gives them
    (what quarantine shows and the id hashes: from the row alone, whatever batch it is read in); the other rows
    as they are."""
    from curation.core.temporal import column_values, rows_as_python

    n = table.num_rows
    bad: dict[int, str] = {}
    for name, column in zip(table.column_names, table.columns):
        try:
            column_values(column)
            continue
        except NOT_PYTHON:
            pass
        for i in range(n):
            if i not in bad:
                try:
                    column_values(column.slice(i, 1))
                except UnicodeDecodeError as exc:
                    bad[i] = f"not UTF-8: {exc.reason} (column {name!r})"
                except OverflowError:  # (Python's own message names the value, or a C int)
                    bad[i] = f"{OUT_OF_RANGE} (column {name!r}, {column.type})"
                except NOT_PYTHON as exc:
                    bad[i] = f"value not representable in Python: {_one_line(exc)} (column {name!r})"
    clean = table.take(pa.array([None if i in bad else i for i in range(n)], type=pa.int64()))
    rows = rows_as_python(clean)
    raw: list[str | None] = [None] * n
    error: list[str | None] = [None] * n
    for i, reason in bad.items():
        rows[i] = {name: _replaced(_stored_value(column.slice(i, 1))) for name, column in
                   zip(table.column_names, table.columns)}
        raw[i] = json.dumps(rows[i], ensure_ascii=False, default=str)
        error[i] = reason
    return clean, rows, raw, error


def _stored_value(column: pa.ChunkedArray) -> Any:
    """The one value of a one-row column, its strings as bytes (they need not be UTF-8); where a date, time,
    timestamp or duration in it is one Python's types cannot hold, those as the integers they are stored as (days,
    or counts of the type's unit since 1970-01-01 or midnight: every value is one, however far out; what it
    counts is in the input's schema)."""
    from curation.core.temporal import column_values

    for leaf in (_bytes_leaf, _stored_leaf):
        try:
            return column_values(column.cast(with_leaves(column.type, leaf)))[0]
        except NOT_PYTHON:
            continue
    return None


_BYTES_OF = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary(), pa.string_view(): pa.binary_view()}


def _bytes_leaf(t: pa.DataType) -> pa.DataType:
    """A string type as its binary type, else ``t``."""
    return _BYTES_OF.get(t, t)


def _stored_leaf(t: pa.DataType) -> pa.DataType:
    """A string type as its binary type, a temporal one (intervals aside) as the integers it holds, else ``t``."""
    if pa.types.is_temporal(t) and not pa.types.is_interval(t):
        return pa.int32() if t.bit_width == 32 else pa.int64()
    return _bytes_leaf(t)


# the most digits each decimal type holds, smallest first
DECIMAL_DIGITS = ((38, pa.decimal128), (76, pa.decimal256))


def _writable_leaf(t: pa.DataType) -> pa.DataType:
    """A decimal of a negative scale (Arrow allows one: ``decimal128(5, -3)`` holds 99,999,000) as the decimal of
    scale 0 that holds each of its values exactly, or as text where none does; else ``t``."""
    if not pa.types.is_decimal(t) or t.scale >= 0:
        return t
    digits = t.precision - t.scale
    return next((make(digits, 0) for most, make in DECIMAL_DIGITS if digits <= most), pa.string())


def parquet_writable(table: pa.Table) -> pa.Table:
    """A typed table with each type (at any depth) that the output's Parquet cannot store cast to one that holds
    each value exactly (:func:`_writable_leaf`; chosen by the type alone, so every batch of a column gets the same
    one): a loaded dataset with such a column ended the run as its splits were written."""
    columns, changed = [], False
    for column in table.columns:
        target = with_leaves(column.type, _writable_leaf)
        if target != column.type:
            column, changed = column.cast(target), True
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names) if changed else table


def _replaced(value: Any) -> Any:
    """``value`` with its bytes (at any depth) decoded as UTF-8, replacement characters for what is not (a map's
    key/value pairs too, as the lists JSON writes them as)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _replaced(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replaced(v) for v in value]
    return value


_RAW_JSON = json.JSONEncoder(default=str)  # json.dumps(r, default=str), without making an encoder for each row


def _table_batches(data: Any, unit: Unit, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Raw batches of a loaded input: a ``pa.Table`` (typed) or a list of parsed JSON values (a ``.json`` array)."""
    for a in range(unit.start, unit.end, batch_rows):
        b = min(unit.end, a + batch_rows)
        done = a - unit.start
        if isinstance(data, pa.Table):
            yield _typed_batch(data.slice(a, b - a), unit, a, done)
            continue
        rows = data[a:b]
        error = [r.error if isinstance(r, UnreadableRow) else None for r in rows]
        ids = [r.id if isinstance(r, UnreadableRow) and r.id is not None else None for r in rows]
        if any(error):
            rows = [r.value if isinstance(r, UnreadableRow) else r for r in rows]
        table = _rows_as_table(rows) if not any(error) and all(isinstance(r, dict) for r in rows) else None
        n = len(rows)
        # each row's own JSON: where validation reads a row record by record it reads it as given (``{}`` is missing
        # 'conversations', a turn without 'from' is missing it), not as its table row, which holds a null for each
        # key (at any depth) that other rows of its batch hold, so what it said would depend on the batch
        raw = [orjson_dumps(r) or _RAW_JSON.encode(r) for r in rows]
        yield raw_batch(
            table,
            pos=np.arange(unit.first_pos + done, unit.first_pos + done + n, dtype=np.int64),
            ids=[given or record_id(r) for given, r in zip(ids, rows)],
            file=unit.file,
            rows=np.arange(a, b, dtype=np.int64),
            raw=raw,
            error=error,
            slow=[table is None] * n,
        )


def _rows_as_table(rows: list[dict]) -> pa.Table | None:
    """Parsed JSON objects as one table, a column for every key any of them holds (in the order the keys are
    first seen; null where a row lacks one), as Arrow's JSON reader types JSON Lines; None when their values
    share no type (the rows are then read record by record). Not ``pa.Table.from_pylist``: it takes its columns
    from the first row alone, so a key only later rows hold (``score``, even ``conversations``) would be
    dropped unseen. A bool beside a number under one key is no shared type (:func:`typed_array`)."""
    from curation.core.columns import typed_array

    try:
        array = typed_array(rows)
    except UnicodeEncodeError:
        return None
    return None if array is None else pa.Table.from_struct_array(array)


def _stream_batches(dataset: Any, unit: Unit, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Raw batches of a streamed hub dataset (``datasets.IterableDataset``), as they arrive; ``ClassLabel``
    columns as their label names, as when the dataset is downloaded."""
    from curation.readers.labels import label_names

    done = 0
    features = getattr(dataset, "features", None)
    for table in dataset.with_format("arrow").iter(batch_size=batch_rows):
        if not isinstance(table, pa.Table):
            table = pa.table(table)
        table = label_names(table, features)
        yield _typed_batch(table, unit, done, done)
        done += table.num_rows
