"""The Ray engine: the same passes as the local engine, as Ray Data operations on a local or remote cluster.

Pass 0 reads the input's units (JSONL byte ranges, Parquet row groups, slices of a loaded dataset) with
``map_batches`` and runs the first stages on them; every later pass is one ``map_batches`` of
:func:`curation.engines.passes.run_pass_on_batch` over the blocks the pass before left in the object store.
Blocks may be done in any order: rows keep their input position ``_pos`` inside them, and everything a
block hands back is named or sorted by position. What a batch hands back beside its rows (the
next global stage's keys, removal records, quarantine entries, counts) goes to files under ``.work/ray/`` in
the output folder, named by the batch's first input position, so a retried task rewrites the same file.
Between passes the driver reads the keys, runs the global stage's ``decide`` and puts the decisions in the
object store for the next pass. The last pass writes each block's rows as Parquet shards
(``train/part-<first position>.parquet``, ...; names sort in input order) with the folder's one schema.

Nothing here knows a stage by name; ids, removals, clusters and splits are the local engine's.
``pip install 'tomecraft[ray]'``; without ``--ray-address`` a local cluster is started and stopped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from curation.contract import SPLITS, OutputPaths
from curation.core.bookkeeping import RunLedger, build_manifest
from curation.core.columns import concat_unified
from curation.core.stage import POS, SPLIT, Decisions, ReduceContext, no_progress
from curation.engines.local import CurationResult
from curation.parallel import resolve_workers
from curation.engines.output import empty_outputs_folder, extra_names, forget_run, local_out, schemas_for, write_quarantine
from curation.engines.passes import count_into, run_pass_on_batch, summarize
from curation.engines.plan import Pass, PlannedStage, build_plan, cut_passes
from curation.engines.routing import scrub_error_kinds, scrubber
from curation.readers import InputSource
from curation.writer import ParquetStream, sha256_file


class EngineError(RuntimeError):
    """The Ray engine cannot run here (Ray missing, cluster unreachable); the message says what to do."""


@dataclass
class RayOptions:
    """How the work is cut; results never depend on these."""

    address: str | None = None  # None: start a local cluster; "auto" / "ray://host:10001": join one
    num_cpus: int | None = None  # CPUs of a local cluster (None: all)
    object_store_memory: int | None = None  # bytes, local cluster only
    unit_bytes: int = 32 << 20  # JSONL bytes per read task
    unit_records: int = 100_000  # records per read task of a loaded input


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise EngineError("--engine ray needs Ray Data: pip install 'tomecraft[ray]'") from None
    return ray


def _connect(ray, options: RayOptions) -> bool:
    """Join or start a cluster; True when this call started it (and should stop it)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    try:
        if options.address:
            ray.init(address=options.address, **kwargs)
        else:
            ray.init(num_cpus=options.num_cpus or resolve_workers(0), object_store_memory=options.object_store_memory,
                     **kwargs)
    except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError ... for a bad address
        where = options.address or "a local cluster"
        raise EngineError(f"cannot start or join Ray ({where}): {str(exc).splitlines()[0]}") from None
    return True


def _local_out(out_dir: str | Path) -> str:
    """``--out`` as a local path (:func:`curation.engines.output.local_out`); any URI but ``file://`` is an
    :class:`EngineError`: the shards are written with local file I/O."""
    out, uri = local_out(out_dir)
    if uri is not None:
        raise EngineError(f"{uri}: --out must be a folder every Ray node can write (a local or shared path, "
                          "or file://)")
    return out


class _OffConsole(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL


@contextmanager
def _ray_data_off_console():
    """Ray Data's console lines stay off stderr while the run is on: its notes (progress bars off, no free CPU
    while a pass waits for the one before) and its own ERROR report of a task that raised, which came before the
    one ``error:`` line of an input or stage error. Its log file in the session folder still gets every record,
    and any other error is raised with its traceback."""
    consoles = [h for h in logging.getLogger("ray.data").handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    quiet = _OffConsole()
    for handler in consoles:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in consoles:
            handler.removeFilter(quiet)


# -------------------------------------------------------------------------------------- work on the workers


def _side_path(work: str, pass_index: int, first_pos: int) -> Path:
    return Path(work) / f"pass-{pass_index:02d}" / f"{first_pos:020d}"


def _write_ipc(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with ipc.new_file(str(tmp), table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def _read_ipc(path: Path) -> pa.Table:
    with pa.OSFile(str(path)) as fh:
        return ipc.open_file(fh).read_all()


def _ipc_schemas(files: dict[str, list[Path]]) -> list[pa.Schema]:
    """The schema of every file (read from its footer): removed rows of each block may bring their own columns
    and types, and the removed file's schema must hold them all."""
    schemas: list[pa.Schema] = []
    for paths in files.values():
        for path in paths:
            with pa.OSFile(str(path)) as fh:
                schema = ipc.open_file(fh).schema
            if not any(schema.equals(seen, check_metadata=True) for seen in schemas):
                schemas.append(schema)
    return schemas


_DECISIONS: dict[str, Any] = {}


def _one_thread_per_task() -> None:
    """Ray runs one task per CPU: Arrow's own thread pool in each task would only compete with the others."""
    if pa.cpu_count() != 1:
        pa.set_cpu_count(1)


def _in_driver_folder(folder: str) -> None:
    """Work in the driver's folder, as the local engine does: a relative path in the config (an eval file, a
    tokenizer folder) then names the same file on a worker. A worker starts in the folder its cluster started
    in; on a node without the driver's folder it stays there."""
    try:
        here = os.getcwd()
    except OSError:  # the folder it started in is gone
        here = None
    if here != folder and os.path.isdir(folder):
        os.chdir(folder)


def _decisions(ref) -> pa.Table | None:
    """The decisions table of a pass, fetched once per worker process."""
    if ref is None:
        return None
    import ray

    key = ref.hex()
    if key not in _DECISIONS:
        _DECISIONS.clear()
        _DECISIONS[key] = ray.get(ref)
    return _DECISIONS[key]


class _PassOnBlocks:
    """A pass over blocks: rows out, everything else to the block's side folder."""

    def __init__(self, p: Pass, pass_index: int, decisions_ref, work: str, out_schemas=None, out_root=None):
        self.p = p
        self.pass_index = pass_index
        self.decisions_ref = decisions_ref
        self.work = work
        self.out_schemas = out_schemas  # last pass: (split schema, removed schema) -> write shards
        self.out_root = out_root
        self.folder = os.getcwd()  # (built on the driver)

    def run(self, batches, first_pos: int) -> pa.Table:
        _one_thread_per_task()
        _in_driver_folder(self.folder)
        decisions = _decisions(self.decisions_ref)
        kept, keys = [], []
        removed: dict[str, list[pa.RecordBatch]] = {}
        quarantine = []
        summaries = []
        for batch in batches:
            if batch.num_rows == 0:
                continue
            result = run_pass_on_batch(self.p, decisions, batch)
            summaries.append(summarize(result))
            for planned, routed, _ in result.routed:
                if routed.removed is not None:
                    removed.setdefault(planned.name, []).append(routed.removed)
                if routed.quarantine is not None:
                    quarantine.append(routed.quarantine)
            if result.kept.num_rows:
                kept.append(result.kept)
            if result.keys is not None:
                keys.append(result.keys)
        side = _side_path(self.work, self.pass_index, first_pos)
        side.mkdir(parents=True, exist_ok=True)
        for name, parts in removed.items():
            _write_ipc(side / f"removed-{name}.arrow", concat_unified([pa.Table.from_batches([b]) for b in parts]))
        if quarantine:
            _write_ipc(side / "quarantine.arrow", concat_unified(quarantine))
        if keys:
            _write_ipc(side / "keys.arrow", concat_unified([pa.Table.from_batches([k]) for k in keys]))
        rows = concat_unified([pa.Table.from_batches([b]) for b in kept]) if kept else None
        schemas = [rows.schema.serialize().to_pybytes().hex()] if rows is not None else []
        if self.out_schemas is not None and rows is not None:
            write_block_shards(rows, first_pos, self.out_schemas[0], self.out_root)
            rows = None
        (side / "summary.json").write_text(json.dumps({"summaries": summaries, "schemas": schemas}, default=str))
        if rows is None:
            return pa.table({POS: pa.array([], pa.int64())})
        return rows


def write_block_shards(rows: pa.Table, first_pos: int, split_schema: pa.Schema, root: str) -> None:
    """A block's rows into ``<split>/part-<first position>.parquet`` (names sort in input order)."""
    splits = rows.column(SPLIT)
    for name in SPLITS:
        part = rows.filter(pc.equal(splits, name).fill_null(False))
        if part.num_rows:
            folder = Path(root) / name
            folder.mkdir(parents=True, exist_ok=True)
            stream = ParquetStream(folder / f"part-{first_pos:020d}.parquet", split_schema)
            stream.write(part)
            stream.close()


class _WriteShards:
    def __init__(self, split_schema: pa.Schema, root: str):
        self.split_schema, self.root = split_schema, root

    def __call__(self, table: pa.Table) -> pa.Table:
        if table.num_rows:
            table = table.combine_chunks()
            write_block_shards(table, int(table.column(POS)[0].as_py()), self.split_schema, self.root)
        return pa.table({POS: pa.array([], pa.int64())})


class _ReadPass(_PassOnBlocks):
    def __init__(self, source: InputSource, batch_rows: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        self.batch_rows = batch_rows

    def __call__(self, units: dict[str, np.ndarray]) -> pa.Table:
        out = []
        from curation.readers import Unit

        _in_driver_folder(self.folder)
        for payload in units["unit"]:
            unit = Unit(**json.loads(payload))
            out.append(self.run(self.source.read_unit(unit, self.batch_rows), unit.first_pos))
        return concat_unified(out)


class _BlockPass(_PassOnBlocks):
    def __call__(self, table: pa.Table) -> pa.Table:
        if table.num_rows == 0:
            return table
        table = table.combine_chunks()
        first = int(table.column(POS)[0].as_py())
        return self.run(table.to_batches(), first)


# ------------------------------------------------------------------------------------------------ the driver


def _sides(work: Path, pass_index: int) -> list[Path]:
    folder = work / f"pass-{pass_index:02d}"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def run_curation_ray(
    input_spec: str | list[str] | None,
    out_dir: str | Path,
    config,
    options: RayOptions | None = None,
    progress: Callable | None = None,
    output_format: str | None = None,
) -> CurationResult:
    """Curate ``input_spec`` (as :func:`curation.pipeline.run_curation` takes it) into ``out_dir`` (a path every
    node can reach) on a Ray cluster."""
    from curation.pipeline import check_out_dir, finish_outputs, open_source
    from curation.readers.kept_decoders import keeping

    options = options or RayOptions()
    output_format = output_format or config.format  # (--format, else the config's format:)
    out = _local_out(out_dir)
    check_out_dir(out, config, output_format, shards=True)
    ray = _import_ray()
    with keeping():  # the driver's looks at a bz2 or xz input's head (format, first records) decode it once
        source, config = open_source(input_spec, config, out)
    plan = build_plan(config, source.fingerprint)  # a stage's settings refused here leave no folder, start no Ray
    paths = empty_outputs_folder(Path(out))
    track = progress or no_progress
    started = _connect(ray, options)
    try:
        with _ray_data_off_console():
            result = _run(ray, source, plan, paths, config, options, track)
    finally:
        if started:
            ray.shutdown()
    result.manifest = finish_outputs(paths.root, source, config, output_format)
    if config.report:
        from curation.pipeline import write_report

        write_report(paths.root)
    return result


def _run(ray, source: InputSource, plan: list[PlannedStage], paths: OutputPaths, config, options: RayOptions,
         track) -> CurationResult:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # (blocks may finish in any order: everything they hand back is keyed by position)
    # Each pass is one map over blocks already in the object store: the per-operator reservation would keep
    # it to one task at a time until Ray Data has measured its outputs (a 2-CPU cluster ran passes serially).
    ctx.op_resource_reservation_enabled = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    passes = cut_passes(plan)
    signals: dict[str, Any] = {}  # what linked stages hand on (ReduceContext.signals)
    ledger = RunLedger([(p.name, p.enabled, p.spec.hidden) for p in plan])
    work = paths.root / ".work" / "ray"
    # what the workers write to, as absolute paths: a worker's folder is the one its cluster started in
    worker_work, worker_root = str(work.absolute()), str(paths.root.absolute())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    batch_rows = config.engine.batch_rows
    units = source.units(unit_bytes=options.unit_bytes, unit_records=options.unit_records)
    items = [{"unit": json.dumps(u.__dict__)} for u in units]
    input_rows = 0
    extras: dict[str, list[int]] = {}  # extra input column -> its first row holding a value (output.extra_names)
    quarantine: list[pa.Table] = []
    removed_files: dict[str, list[Path]] = {}
    row_schemas: list[pa.Schema] = []
    decisions: Decisions | None = None
    ds = None
    for pi, p in enumerate(passes):
        last = p.collect is None
        if last:  # the output files are rewritten from here: until this run's manifest, the folder claims no run
            _forget_outputs(paths)
        t0 = time.perf_counter()
        decisions_ref = ray.put(decisions.table) if decisions is not None else None
        out_schemas = None
        if last and not p.rows:  # the rows keep the columns they came with: each block writes its shards
            removed_schemas = _ipc_schemas(removed_files)
            out_schemas = schemas_for(row_schemas, removed_schemas, extra_names(extras))
        args = (p, pi, decisions_ref, worker_work, out_schemas, worker_root)
        if pi == 0:
            ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
            ds = ds.map_batches(_ReadPass(source, batch_rows, *args), batch_size=1, batch_format="numpy")
        else:
            if decisions is not None and decisions.added is not None:
                ledger.add_rows(p.apply.name, decisions.added.num_rows)  # type: ignore[union-attr]
                ds = ds.union(ray.data.from_arrow(decisions.added))
            ds = ds.map_batches(_BlockPass(*args), batch_size=None, batch_format="pyarrow")
        ds = _materialize(ds)
        # -- what the blocks handed back --------------------------------------------------------------------
        row_schemas = []
        keys_parts = []
        for side in track(_sides(work, pi), None, p.describe()):
            summary = json.loads((side / "summary.json").read_text())
            for s in summary["summaries"]:
                input_rows += count_into(ledger, s, extras)
                if p.collect is not None:
                    ledger.report(p.collect.name).seconds += s["keys_seconds"]
            row_schemas += [pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(h))) for h in summary["schemas"]]
            for f in sorted(side.glob("removed-*.arrow")):
                removed_files.setdefault(f.stem[len("removed-"):], []).append(f)
            if (side / "quarantine.arrow").exists():
                quarantine.append(_read_ipc(side / "quarantine.arrow"))
            if (side / "keys.arrow").exists():
                keys_parts.append(_read_ipc(side / "keys.arrow"))
        if last:
            if out_schemas is None:  # row stages after the split may add columns: write once all are known
                removed_schemas = _ipc_schemas(removed_files)
                out_schemas = schemas_for(row_schemas, removed_schemas, extra_names(extras))
                _materialize(ds.map_batches(_WriteShards(out_schemas[0], worker_root), batch_size=None,
                                            batch_format="pyarrow"))
            break
        g = p.collect
        t = time.perf_counter()
        keys = concat_unified(keys_parts) if keys_parts else None
        if keys is not None:
            keys = keys.take(pc.sort_indices(keys.column(POS)))
        else:
            from curation.engines.local import _empty_like
            from curation.engines.store import BatchStore, MemoryBudget

            keys = pa.Table.from_batches([g.stage.keys(_empty_like(BatchStore(work, MemoryBudget(0))))])
        reduce = ReduceContext(config=config, cache_dir=paths.cache, fetch=_fetcher(ray, ds), progress=track,
                               workers=resolve_workers(0), signals=signals)
        decisions = g.stage.decide(keys, reduce)
        report = ledger.report(g.name)
        report.seconds += time.perf_counter() - t
        if not ledger.hidden(g.name) and decisions.stats:
            report.stats = decisions.stats

    # -- the rest of the output folder ------------------------------------------------------------------------
    split_schema, removed_schema = out_schemas  # type: ignore[misc]
    order = [pl.name for pl in plan if pl.name in removed_files]
    written = _shard_outputs(paths, split_schema, removed_schema, [f for name in order for f in removed_files[name]])
    written["quarantine"] = write_quarantine(paths, quarantine, scrubber(plan))
    ledger.fill_switched_off()
    in_splits = sum(written[s]["rows"] for s in SPLITS)
    accounting = ledger.check(input_rows, in_splits, written["removed"]["rows"], written["quarantine"]["rows"])
    manifest = build_manifest(source.describe(input_rows), config.resolved(), ledger, accounting, written, extra_names(extras),
                              [], engine="ray")
    scrub_error_kinds(manifest["stages"], scrubber(plan))
    from tomecraft.files import write_json

    write_json(manifest, paths.manifest)
    shutil.rmtree(paths.root / ".work", ignore_errors=True)
    return CurationResult(paths, manifest, ledger.stages())


def _forget_outputs(paths: OutputPaths) -> None:
    """Remove an earlier run's description (:func:`curation.engines.output.forget_run`) and its data files, as the
    last pass starts (its blocks write their shards): as on the local engine, a run that ends before it (Ctrl-C, an
    input or stage error) leaves the earlier run's folder as it was."""
    forget_run(paths)
    for name in (*SPLITS, "removed"):
        shutil.rmtree(paths.root / name, ignore_errors=True)
    for name in (*(f"{s}.parquet" for s in SPLITS), "removed.parquet"):
        (paths.root / name).unlink(missing_ok=True)


def _materialize(ds):
    """Run the pass; an input or stage error raised on a worker comes back as itself (one line, no remote
    traceback)."""
    try:
        return ds.materialize()
    except Exception as exc:  # Ray wraps what the task raised, keeping its text
        one_line = _user_error(exc)
        if one_line is not None:
            raise one_line from None
        os_error = _os_error(exc)
        if os_error is not None:  # a full disk, a file that cannot be written: one line naming it (tome curate)
            raise os_error from None
        raise


def _user_error(exc: BaseException) -> Exception | None:
    """The InputError / StageError (or subclass) a remote task raised, rebuilt from what Ray kept of it."""
    from curation.core.stage import StageError
    from curation.readers import InputError

    kinds: dict[str, type] = {}
    todo: list[type] = [InputError, StageError]
    while todo:
        cls = todo.pop()
        kinds[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    for cause in _causes(exc):
        if isinstance(cause, tuple(kinds.values())):
            return type(cause)(str(cause))
        found = re.findall(r"(\w+): (.+)", str(cause))
        for name, message in reversed(found):
            if name in kinds:
                return kinds[name](message.strip())
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it, each once (Ray's ``cause``, then Python's ``__cause__``)."""
    seen, cause = set(), exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = getattr(cause, "cause", None) or cause.__cause__


_OS_ERRORS = ("OSError", "PermissionError", "FileNotFoundError", "FileExistsError", "IsADirectoryError",
              "NotADirectoryError")


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError a remote task raised (a full disk, an output file that cannot be written), rebuilt from what Ray
    kept of it (the remote traceback's text): its errno, its reason and the files it names."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno:
            return OSError(cause.errno, os.strerror(cause.errno), cause.filename, None, cause.filename2)
        for name, message in reversed(re.findall(r"(\w+): (.+)", str(cause))):
            if name not in _OS_ERRORS:
                continue
            code = re.search(r"\[[Ee]rrno (\d+)\]", message)
            if code is None:
                return OSError(message.strip())
            files = re.findall(r"'([^'\n]+)'", message[code.end():])
            return OSError(int(code.group(1)), os.strerror(int(code.group(1))), files[0] if files else None, None,
                           files[1] if len(files) > 1 else None)
    return None


def _fetcher(ray, ds):
    """``ReduceContext.fetch`` over a materialized dataset: the chosen rows, gathered on the driver."""

    def fetch(positions: np.ndarray, columns):
        wanted = ray.put(np.unique(np.asarray(positions, dtype=np.int64)))

        def pick(table: pa.Table) -> pa.Table:
            chosen = ray.get(wanted)
            hit = np.isin(table.column(POS).to_numpy(), chosen, assume_unique=True)
            table = table.filter(pa.array(hit))
            return table if columns is None else table.select([POS, *[c for c in columns if c != POS]])

        parts = [t for t in ray.get(ds.map_batches(pick, batch_size=None, batch_format="pyarrow").to_arrow_refs())
                 if t.num_rows]
        if not parts:
            return pa.table({POS: pa.array([], pa.int64())})
        table = concat_unified(parts)
        return table.take(pc.sort_indices(table.column(POS)))

    return fetch


def _shard_outputs(paths: OutputPaths, split_schema: pa.Schema, removed_schema: pa.Schema,
                   removed_files: list[Path], shard_rows: int = 250_000) -> dict[str, Any]:
    """The outputs section of the manifest for the shard folders; the removed rows written as shards."""
    written: dict[str, Any] = {}
    for name in SPLITS:
        folder = paths.root / name
        folder.mkdir(exist_ok=True)
        files = sorted(folder.glob("part-*.parquet"))
        if not files:  # an empty split is still one (empty) file with the folder's schema
            files = [folder / f"part-{0:020d}.parquet"]
            ParquetStream(files[0], split_schema).close()
        written[name] = _folder_entry(name, files)
    folder = paths.root / "removed"
    folder.mkdir(exist_ok=True)
    stream, shard, rows = None, 0, 0
    for f in removed_files:
        table = _read_ipc(f)
        if stream is None:
            stream, rows = ParquetStream(folder / f"part-{shard:020d}.parquet", removed_schema), 0
        stream.write(table)
        rows += table.num_rows
        if rows >= shard_rows:
            stream.close()
            stream, shard = None, shard + 1
    if stream is not None:
        stream.close()
    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        files = [folder / f"part-{0:020d}.parquet"]
        ParquetStream(files[0], removed_schema).close()
    written["removed"] = _folder_entry("removed", files)
    return written


def _folder_entry(name: str, files: list[Path]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return {"path": f"{name}/", "rows": rows, "files": [f.name for f in files],
            "sha256": [sha256_file(f) for f in files]}
