"""The output folder of a run, written the same way by every engine (:mod:`curation.contract`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from curation.contract import CORE_COLUMNS, PROVENANCE_COLUMNS, REMOVED_COLUMNS, SPLITS, OutputFolderError, OutputPaths
from curation.contract import make_output_folder
from curation.core.stage import POS, SPLIT
from curation.engines.routing import quarantine_records
from curation.writer import ParquetStream, output_schema, sha256_file, write_jsonl


def forget_run(paths: OutputPaths) -> None:
    """Remove what describes an earlier run of the folder (its manifest, dataset card, ``messages/`` config and
    report) before its data files are rewritten: until this run's manifest is written, the folder claims no
    run, and a run stopped part-way (Ctrl-C, a crash) leaves no card or report describing files that are gone.
    (A folder holding splits but no manifest is then an interrupted run's, which a new run may take over.)"""
    import shutil

    from curation.card import CARD_FILE, MESSAGES_DIR
    from curation.report import REPORT_HTML, REPORT_MD

    for name in (CARD_FILE, REPORT_HTML, REPORT_MD):
        (paths.root / name).unlink(missing_ok=True)
    shutil.rmtree(paths.root / MESSAGES_DIR, ignore_errors=True)
    paths.manifest.unlink(missing_ok=True)


NEVER_SET = 2**62  # the first position of an extra column no row has given a value yet


def input_extras(batch: pa.RecordBatch) -> dict[str, list[int]]:
    """The batch's extra input columns (what validation carried beside the core ones), each as ``[position,
    place]``: the input position (``_pos``) of its first row that holds a value in it (:data:`NEVER_SET` when none
    does), and its place among the batch's columns (the input's own order, for columns first set in one row)."""
    skip = set(CORE_COLUMNS) | set(PROVENANCE_COLUMNS) | set(REMOVED_COLUMNS)
    positions = batch.column(POS) if POS in batch.schema.names else None
    out: dict[str, list[int]] = {}
    for place, name in enumerate(batch.schema.names):
        if name in skip or name.startswith("_"):
            continue
        first = None
        if positions is not None:
            first = pc.min(positions.filter(batch.column(name).is_valid())).as_py()
        out[name] = [NEVER_SET if first is None else first, place]
    return out


def add_extras(run: dict[str, list[int]], batch: dict[str, list[int]]) -> None:
    """Fold a batch's :func:`input_extras` into the run's (the earliest first row of each column wins)."""
    for name, first in batch.items():
        run[name] = min(list(first), run.get(name, [NEVER_SET + 1, 0]))


def extra_names(run: dict[str, list[int]]) -> list[str]:
    """The run's extra columns in output order: by the first row holding a value in each, columns first set in
    the same row in the input's order, then by name; columns that hold only nulls (a typed input's column of
    nulls) last, by name. The order depends on the rows, not on how the input was cut into batches nor on which
    rows went the record-by-record way through validation: a column's place among a batch's columns does (a
    batch of rows read record by record lacks the columns their records fold into the turns), and it orders
    only columns first set in one row."""
    return sorted(run, key=lambda name: (run[name][0], run[name][1] if run[name][0] < NEVER_SET else 0, name))


class SplitWriter:
    """Kept rows to ``train/validation/test.parquet`` by their ``_split``, in the order they come."""

    def __init__(self, paths: OutputPaths, schema: pa.Schema) -> None:
        paths.remove_shards()  # a folder an earlier sharded run wrote gets single files again
        self.paths = paths
        self.schema = schema
        self.streams = {s: ParquetStream(paths.root / f"{s}.parquet", schema) for s in SPLITS}

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        splits = batch.column(SPLIT)
        for name, stream in self.streams.items():
            mask = pc.equal(splits, name).fill_null(False)
            if pc.any(mask).as_py():
                stream.write(batch.filter(mask))

    def close(self) -> dict[str, Any]:
        outputs = {}
        for name, stream in self.streams.items():
            rows = stream.close()
            outputs[name] = {"path": stream.path.name, "rows": rows, "sha256": sha256_file(stream.path)}
        return outputs


def schemas_for(row_schemas: Sequence[pa.Schema], removed_schemas: Sequence[pa.Schema], extras: Sequence[str]):
    """(split file schema, removed file schema): one type per column over every row of the folder."""
    everything = list(row_schemas) + list(removed_schemas)
    rows = output_schema(everything, extras, removed=False)
    removed = output_schema(everything, extras, removed=True)
    return rows, removed


def write_removed(paths: OutputPaths, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> dict[str, Any]:
    stream = ParquetStream(paths.root / "removed.parquet", schema)
    for batch in batches:
        stream.write(batch)
    rows = stream.close()
    return {"path": stream.path.name, "rows": rows, "sha256": sha256_file(stream.path)}


def write_quarantine(paths: OutputPaths, tables: list[pa.Table], scrub=None) -> dict[str, Any]:
    records = quarantine_records(tables, scrub)
    write_jsonl(records, paths.quarantine)
    return {"path": paths.quarantine.name, "rows": len(records), "sha256": sha256_file(paths.quarantine)}


# a URI's scheme (two characters or more: ``C:/`` is a drive); ``Path`` keeps one slash of ``s3://``
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):/")


def local_out(out_dir: str | Path) -> tuple[str, str | None]:
    """``(--out as a local path, the URI it names or None)``. ``file://`` is stripped; any other URI is given back
    as written, for the engine to refuse (both write with local file I/O): ``tome curate`` hands ``--out`` over
    as a ``Path``, so ``s3://b/x`` arrives as ``s3:/b/x`` and would become a local folder named ``s3:``. A
    relative path whose first name holds a colon (``run:1``) is made absolute, or Arrow would take
    ``run:1/train.parquet`` for a URI. A leading ``~`` is expanded (the API as the command line); ``~user`` of no
    user is an :class:`~curation.readers.errors.InputError`, where a folder named ``~user`` was made."""
    from tomecraft.files import expand_output

    out = str(out_dir)
    scheme = _URI.match(out)
    if scheme is not None and scheme.group(1).lower() != "file":
        given = out if out.startswith(f"{scheme.group(1)}://") else f"{scheme.group(1)}:/{out[scheme.end() - 1:]}"
        return out, given
    if scheme is not None:
        out = out[len("file://"):] if out.startswith("file://") else out[len("file:"):]
    if out.startswith("~"):  # the home folder, as on the command line; an unknown ~user is no folder to make
        try:
            out = str(expand_output(out))
        except ValueError as exc:
            from curation.readers.errors import InputError

            raise InputError(str(exc)) from None
    path = Path(out)
    if not path.is_absolute() and path.parts and ":" in path.parts[0]:
        out = str(path.absolute())
    return out, None


def empty_outputs_folder(root: Path) -> OutputPaths:
    """The ``--out`` folder, created; a path that is a file, lies under one or cannot be created is an
    :class:`InputError` saying so (one line, like every problem the command line reports)."""
    from curation.readers.errors import InputError

    paths = OutputPaths(Path(root))
    try:
        make_output_folder(paths.root)
        make_output_folder(paths.cache)  # a folder that exists but cannot be written fails here
    except OutputFolderError as exc:
        raise InputError(str(exc)) from None
    return paths
