"""The local engine: batches stream through the stages on this machine, in bounded memory.

Each pass (:mod:`curation.engines.plan`) reads the rows once, in input order: the batches of the pass run
through its stages on a pool of threads (stage code is Arrow compute and compiled kernels that release the
GIL), several batches at a time, and their results are taken back in order. Rows waiting for the next pass
stay in memory up to ``engine.memory_mb`` and spill to Arrow IPC files past it. Between passes the global
stage's ``decide`` runs on the keys the pass gathered. With ``checkpoint`` on, a global stage whose rows
spilled to disk (an input larger than ``engine.memory_mb``) leaves its decisions and those rows under
``.checkpoints/`` (the spill files are linked, not copied); ``--resume`` starts after the last one whose
input, version and config are unchanged. A pass that fits in memory is quicker to redo than to save.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.ipc as ipc

from curation.contract import OutputPaths
from curation.core import warm
from curation.core.bookkeeping import RunLedger, StageReport, build_manifest
from curation.core.columns import concat_unified
from curation.core.stage import Decisions, ReduceContext, no_progress
from curation.engines.output import SplitWriter, empty_outputs_folder, forget_run, extra_names, schemas_for, write_quarantine, write_removed
from curation.engines.plan import PlannedStage, build_plan, cut_passes
from curation.engines.routing import scrub_error_kinds, scrubbed_raw, scrubber
from curation.engines.passes import count_into, run_pass_on_batch, summarize
from curation.engines.store import BatchStore, MemoryBudget
from curation.parallel import ordered_map, resolve_workers
from curation.readers import InputSource


@dataclass
class CurationResult:
    out: OutputPaths
    manifest: dict[str, Any]
    stages: list[StageReport]


class Checkpoints:
    """``.checkpoints/NN-<stage>/``: the rows a global stage saw, its decisions and the run so far."""

    def __init__(self, root: Path, enabled: bool, scrub: Callable[[str], str] | None = None) -> None:
        self.root = root
        self.enabled = enabled
        self.scrub = scrub  # the privacy stages' redaction: quarantined raw records are kept scrubbed
        self.saved_removed: set[str] = set()
        self.saved_quarantine = False

    def folder(self, planned: PlannedStage) -> Path:
        return self.root / f"{planned.index:02d}-{planned.name}"

    def save(self, planned: PlannedStage, pass_index: int, rows: BatchStore, decisions: Decisions,
             reports: dict[str, Any], removed: dict[str, BatchStore], quarantine: list[pa.Table], input_rows: int,
             extras: dict[str, list[int]]) -> None:
        folder = self.folder(planned)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        rows.persist(folder / "rows")
        _write_table(decisions.table, folder / "decisions.arrow")
        if decisions.added is not None:
            _write_table(decisions.added, folder / "added.arrow")
        for name, store in removed.items():
            if name not in self.saved_removed:
                store.persist(self.root / "removed" / name)
                self.saved_removed.add(name)
        if not self.saved_quarantine:
            table = concat_unified([t for t in quarantine if t is not None]) if quarantine else None
            if table is not None and self.scrub is not None:  # (a raw line holds what the privacy stages redact)
                table = scrubbed_raw(table, self.scrub)
            _write_table(table, self.root / "quarantine.arrow")
            self.saved_quarantine = True
        state = {
            "fingerprint": planned.fingerprint,
            "pass": pass_index,
            "stats": decisions.stats,
            "reports": reports,
            "removed": sorted(removed),
            "input_rows": input_rows,
            "extras": extras,
        }
        # written last, and whole or not at all (a kill mid-write must not leave a state that cannot be read)
        tmp = folder / "state.json.tmp"
        tmp.write_text(json.dumps(state, default=str))
        os.replace(tmp, folder / "state.json")

    def keep_only(self, restored: tuple[PlannedStage, dict[str, Any]] | None) -> None:
        """Remove what this run will not resume from: every checkpoint (a fresh run), or those after the one it
        resumes and the removed rows that one does not list. The removed rows and quarantine are shared by the
        checkpoints of one run; left beside another run's checkpoints, a later --resume would mix them in."""
        if restored is None:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        planned, state = restored
        for folder in self.root.glob("[0-9][0-9]-*"):
            if folder.is_dir() and int(folder.name.split("-", 1)[0]) > planned.index:
                shutil.rmtree(folder)
        for folder in (self.root / "removed").glob("*"):
            if folder.name not in state["removed"]:
                shutil.rmtree(folder) if folder.is_dir() else folder.unlink()

    def latest(self, plan: list[PlannedStage]) -> tuple[PlannedStage, dict[str, Any]] | None:
        if not self.enabled:
            return None
        for planned in reversed(plan):
            if not (planned.enabled and planned.is_global):
                continue
            state_path = self.folder(planned) / "state.json"
            if not state_path.exists():
                continue
            try:
                state = json.loads(state_path.read_text())
            except (OSError, ValueError):  # written by an older version without the atomic rename, cut short
                continue
            if isinstance(state, dict) and state.get("fingerprint") == planned.fingerprint:
                return planned, state
        return None


def _write_table(table: pa.Table | None, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if table is None:
        if path.exists():
            path.unlink()
        return
    tmp = path.with_name(path.name + ".tmp")
    with ipc.new_file(str(tmp), table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def _read_table(path: Path) -> pa.Table | None:
    if not path.exists():
        return None
    with pa.OSFile(str(path)) as fh:
        return ipc.open_file(fh).read_all()


def _batches(table: pa.Table, rows: int) -> Iterator[pa.RecordBatch]:
    for batch in table.combine_chunks().to_batches(max_chunksize=rows):
        yield batch


def run_local(
    source: InputSource,
    out_dir: str | Path,
    config,
    resume: bool = False,
    progress: Callable | None = None,
) -> CurationResult:
    plan = build_plan(config, source.fingerprint)  # a stage's settings refused here leave no output folder behind
    paths = empty_outputs_folder(Path(out_dir))
    eng = config.engine
    workers = resolve_workers(eng.workers)
    budget = MemoryBudget(eng.memory_mb << 20)
    track = progress or no_progress
    warm.start(p.stage for p in plan if p.enabled)  # kernels load while the first pass reads
    passes = cut_passes(plan)
    ledger = RunLedger([(p.name, p.enabled, p.spec.hidden) for p in plan])
    checkpoints = Checkpoints(paths.checkpoints, config.checkpoint, scrubber(plan))
    work = paths.root / ".work"
    removed: dict[str, BatchStore] = {}
    quarantine: list[pa.Table] = []
    input_rows = 0
    extras: dict[str, list[int]] = {}  # extra input column -> its first row holding a value (output.extra_names)
    resumed: list[str] = []
    store: BatchStore | None = None
    decisions: Decisions | None = None
    first_pass = 0
    signals: dict[str, Any] = {}  # what linked stages hand on (ReduceContext.signals)

    restored = checkpoints.latest(plan) if resume else None
    checkpoints.keep_only(restored)
    if restored is not None:
        planned, state = restored
        first_pass = state["pass"] + 1
        store = BatchStore.open(checkpoints.folder(planned) / "rows", budget)
        decisions = Decisions(_read_table(checkpoints.folder(planned) / "decisions.arrow"), state["stats"],
                              _read_table(checkpoints.folder(planned) / "added.arrow"))
        done = {p.name for p in plan if p.index <= planned.index}
        for name, report in state["reports"].items():
            if name in done:  # a stage after the checkpoint runs again, under this run's config (switched on or off)
                ledger.reports[name] = StageReport.from_dict(report)
        for name in state["removed"]:
            removed[name] = BatchStore.open(checkpoints.root / "removed" / name, budget)
        checkpoints.saved_removed = set(removed)
        q = _read_table(checkpoints.root / "quarantine.arrow")
        quarantine = [q] if q is not None else []
        checkpoints.saved_quarantine = True
        input_rows, extras = state["input_rows"], state["extras"]
        if isinstance(extras, list):  # a checkpoint written before extras carried their first rows
            extras = {name: [0, i] for i, name in enumerate(extras)}
        for p in plan:
            if p.enabled and not p.spec.hidden and p.index <= planned.index:
                ledger.reports[p.name].resumed = True
                resumed.append(p.name)

    saver = ThreadPoolExecutor(max_workers=1)  # checkpoints are written while the next reduce runs
    saving: Future | None = None
    closing: Future | None = None  # the split files being closed
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for pi in range(first_pass, len(passes)):
            p = passes[pi]
            last = p.collect is None
            if last:  # the output files are rewritten from here: until this run's manifest, the folder claims no run
                forget_run(paths)
            table = decisions.table if decisions is not None else None
            # -- where this pass reads from ------------------------------------------------------------
            if pi == 0:
                reader_seconds = [0.0]
                items: Iterable[pa.RecordBatch] = _timed(source.batches(eng.batch_rows), reader_seconds)
                total = None
            else:
                items = store  # type: ignore[assignment]
                total = store.rows  # type: ignore[union-attr]
            jobs: Iterable[pa.RecordBatch] = items
            if decisions is not None and decisions.added is not None:
                added = decisions.added
                ledger.add_rows(p.apply.name, added.num_rows)  # type: ignore[union-attr]
                jobs = _chain(jobs, _batches(added, eng.batch_rows))
                total = (total or 0) + added.num_rows
            jobs = track(jobs, total, p.describe())
            # -- where it writes to: the next pass's store, or the split files -----------------------------
            # (straight to the files when the last pass has no row stage: its rows keep the columns of the
            # rows it reads; otherwise to a store first, as row stages after the split may add columns)
            direct = last and not p.rows
            out_store = None if direct else BatchStore(work / f"pass-{pi:02d}", budget)
            writer = None
            if direct:
                row_schemas = list(store.schemas) if store is not None else []  # type: ignore[union-attr]
                split_schema, _ = schemas_for(row_schemas, [s for st in removed.values() for s in st.schemas], extra_names(extras))
            keys_parts: list[pa.RecordBatch] = []
            keys_seconds = 0.0
            apply_seconds = 0.0

            def work_on(batch, p=p, table=table):
                return run_pass_on_batch(p, table, batch)

            for result in ordered_map(pool, work_on, jobs, 2 * workers):
                input_rows += count_into(ledger, summarize(result), extras)
                for planned, routed, _ in result.routed:
                    if routed.removed is not None:
                        removed.setdefault(planned.name, BatchStore(work / "removed" / planned.name, budget)).append(routed.removed)
                    if routed.quarantine is not None:
                        quarantine.append(routed.quarantine)
                keys_seconds += result.keys_seconds
                if result.keys is not None:
                    keys_parts.append(result.keys)
                if direct:
                    if writer is None:
                        writer = SplitWriter(paths, split_schema)
                    writer.write(result.kept)
                else:
                    out_store.append(result.kept)  # type: ignore[union-attr]
            if pi == 0:
                ledger.report("validate").seconds += reader_seconds[0]
            if decisions is not None:
                # the rows of the store and the decisions are spent; the checkpoint keeps them when on
                if saving is not None:
                    saving.result()
                    saving = None
                if store is not None:
                    store.release()
            if last:
                if not direct:
                    out_store.finish()  # type: ignore[union-attr]
                    split_schema, _ = schemas_for(out_store.schemas, [s for st in removed.values() for s in st.schemas], extra_names(extras))  # type: ignore[union-attr]
                    writer = SplitWriter(paths, split_schema)
                    for batch in out_store:  # type: ignore[union-attr]
                        writer.write(batch)
                    out_store.release()  # type: ignore[union-attr]
                if writer is None:
                    writer = SplitWriter(paths, split_schema)
                closing = saver.submit(writer.close)  # the splits' last row groups, while removed.parquet is written
                row_schemas = [writer.schema]
                break
            out_store.finish()  # type: ignore[union-attr]
            # -- the global stage decides ---------------------------------------------------------------
            g = p.collect
            t = time.perf_counter()
            keys = concat_unified([pa.Table.from_batches([k]) for k in keys_parts]) if keys_parts else None
            keys_parts = []
            if keys is None:  # no row reached this stage: it decides over none
                keys = pa.Table.from_batches([g.stage.keys(_empty_like(out_store))])
            ctx = ReduceContext(config=config, cache_dir=paths.cache, fetch=out_store.fetch, progress=track, workers=workers,
                                signals=signals)
            decisions = g.stage.decide(keys, ctx)
            del keys
            report = ledger.report(g.name)
            report.seconds += time.perf_counter() - t + keys_seconds
            if not ledger.hidden(g.name) and decisions.stats:
                report.stats = decisions.stats
            store = out_store
            if checkpoints.enabled and store.spilled and not _scrubbed_later(plan, g):
                reports = {name: r.as_dict() for name, r in ledger.reports.items()}
                saving = saver.submit(checkpoints.save, g, pi, store, decisions, reports, dict(removed), list(quarantine),
                                      input_rows, dict(extras))

    # -- the rest of the output folder ---------------------------------------------------------------------
    _, removed_schema = schemas_for(row_schemas, [s for st in removed.values() for s in st.schemas], extra_names(extras))
    removed_order = [p.name for p in plan if p.name in removed]
    removed_written = write_removed(paths, removed_schema, (b for name in removed_order for b in removed[name]))
    quarantine_written = write_quarantine(paths, quarantine, scrubber(plan))
    written = {**closing.result(), "removed": removed_written, "quarantine": quarantine_written}  # type: ignore[union-attr]
    saver.shutdown(wait=True)
    for st in removed.values():
        st.release()
    ledger.fill_switched_off()
    in_splits = sum(written[s]["rows"] for s in ("train", "validation", "test"))
    accounting = ledger.check(input_rows, in_splits, written["removed"]["rows"], written["quarantine"]["rows"])
    manifest = build_manifest(source.describe(input_rows), config.resolved(), ledger, accounting, written, extra_names(extras),
                              resumed, engine="local")
    scrub_error_kinds(manifest["stages"], scrubber(plan))
    from tomecraft.files import write_json

    write_json(manifest, paths.manifest)
    shutil.rmtree(work, ignore_errors=True)
    return CurationResult(paths, manifest, ledger.stages())


def _timed(items: Iterable[pa.RecordBatch], seconds: list[float]) -> Iterator[pa.RecordBatch]:
    it = iter(items)
    while True:
        t = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            seconds[0] += time.perf_counter() - t
            return
        seconds[0] += time.perf_counter() - t
        yield item


def _chain(*iterables: Iterable[Any]) -> Iterator[Any]:
    for it in iterables:
        yield from it


def _scrubbed_later(plan: list[PlannedStage], g: PlannedStage) -> bool:
    """Does an enabled privacy stage come after ``g``? Then the rows ``g`` saw are not kept on disk."""
    return any(p.enabled and p.spec.scrub is not None and p.spec.order > g.spec.order for p in plan)


def _empty_like(store: BatchStore) -> pa.RecordBatch:
    from curation.contract import ROW_SCHEMA

    return pa.RecordBatch.from_pylist([], schema=store.schemas[0] if store.schemas else ROW_SCHEMA)
