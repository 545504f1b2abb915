"""`tome curate --engine ray`: the curation stages as Ray Data operations, on a local or remote Ray cluster.

The result is the local engine's (:func:`curation.pipeline.run_curation`): the same rows kept, with the
same ids, ``duplicate_of``, clusters and splits, the same removals with the same reasons, the same
quarantine; written as shards (:mod:`curation.engines.ray_output`) with the same manifest layout. Row-level
work calls the local stages' own code on each block; the global steps are shuffles whose result equals the
local one:

===============  =============================================================================================
step             on Ray
===============  =============================================================================================
load             input units (JSONL byte ranges / Parquet row groups) read by tasks; ``pos`` = global position
validate         ``validate_record`` per record (map, fused with reading)
normalize        ``Normalize.run`` per block (map)
ids + exact      shuffle by exact key; ``IdAssigner`` ids by ``pos``; ``ExactDedup.run`` per partition
near_dedup       signatures (map, fast kernels) -> buckets (shuffle by band key) -> pair checks (two joins
                 with the texts) -> connected components (large/small-star shuffles) -> keep policy
                 (``resolve_clusters`` per component, shuffle by label)
filters          ``Filters.run`` per block (map)
balance          per-source counts (map) -> exact cut of each over-cap source's ranking -> map
split            exact cuts of the group ranking -> map
write            shuffle by (split, shard) -> one Parquet file per shard, rows in input order
===============  =============================================================================================

Ray is imported only here (``pip install tomecraft[ray]``). Without an address a local cluster is started
(and stopped at the end); ``address="auto"`` or ``"ray://host:10001"`` joins an existing one, whose nodes
need tomecraft installed and must see the input and ``--out`` (a shared folder or an object-store URI).
Semantic dedup and augmentation run only on the local engine for now.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from curation.config import ConfigError, CurationConfig
from curation.contract import MANIFEST_FILE, QUARANTINE_FILE, SPLITS, OutputPaths
from curation.engines import ray_dedup, ray_ops, ray_select
from curation.engines import ray_records as rec
from curation.engines.ray_input import (
    InputPlan,
    ReadSettings,
    fingerprint_files,
    merge_types,
    plan_input,
    read_validate_normalize,
)
from curation.engines.ray_output import (
    REMOVED_DIR,
    Sink,
    folder_outputs,
    json_bytes,
    jsonl_bytes,
    key_for_write,
    write_empty,
    write_shard,
)
from curation.engines.ray_records import UNIT_SHIFT, Kind
from curation.load import InputError
from curation.pipeline import (
    AccountingError,
    CurationResult,
    StageReport,
    _error_kinds,
    _jsonable,
    _package_versions,
    _version,
)
from curation.validate import Quarantined

log = logging.getLogger(__name__)

STAGE_ORDER = ("normalize", "exact_dedup", "near_dedup", "semantic_dedup", "filters", "balance", "augment", "split")


class EngineError(RuntimeError):
    """The Ray engine cannot run here (Ray missing, cluster unreachable); the message says what to do."""


@dataclass
class RayEngineOptions:
    """How the work is cut. Results never depend on these; speed and memory per task do."""

    address: str | None = None  # None: start a local cluster; "auto" / "ray://host:10001": join one
    num_cpus: int | None = None  # CPUs of a local cluster (None: all)
    object_store_memory: int | None = None  # bytes, local cluster only (None: Ray's default, 30% of RAM)
    unit_bytes: int = 32 << 20  # JSONL bytes per read task
    partition_rows: int = 50_000  # full rows per shuffle partition (rows of one partition sit in one task)
    light_partition_rows: int = 2_000_000  # small records (band keys, pairs, edges, keys) per partition
    shard_rows: int = 250_000  # input rows per output shard (about)
    max_partitions: int = 4096
    max_component_rounds: int = 200


def check_supported(config: CurationConfig) -> None:
    s = config.stages
    off = [name for name, on in (("semantic_dedup", s.semantic_dedup.enabled), ("augment", s.augment.enabled)) if on]
    if off:
        raise ConfigError(
            f"stages.{off[0]}: not available on --engine ray yet; set stages.{off[0]}.enabled=false or use --engine local"
        )


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise EngineError("--engine ray needs Ray Data: pip install 'tomecraft[ray]'") from None
    return ray


def _connect(ray, options: RayEngineOptions) -> bool:
    """Join or start a cluster; True when this call started it (and should stop it)."""
    started = False
    if not ray.is_initialized():
        common = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                      configure_logging=True)
        try:
            if options.address:
                ray.init(address=options.address, **common)
            else:
                ray.init(num_cpus=options.num_cpus, object_store_memory=options.object_store_memory, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = options.address or "a local cluster"
            raise EngineError(f"cannot start or join Ray at {where}: {str(exc).splitlines()[0]}") from None
        started = True
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    try:  # Ray >= 2.45: task-based sort shuffle; actor-based hash shuffles cost seconds per operation on small clusters
        from ray.data.context import ShuffleStrategy

        ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    except ImportError:
        pass
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return started


def _user_error(exc: BaseException) -> BaseException | None:
    """The InputError / ConfigError a Ray task raised (Ray wraps it; ``cause`` is the original), if any."""
    seen = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if type(e) in (InputError, ConfigError):
            return e
        todo.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
    return None


def run_curation_ray(
    input_spec: str | None,
    out_dir: str | Path,
    config: CurationConfig | None = None,
    options: RayEngineOptions | None = None,
    progress: Callable | None = None,
    on_stage: Callable[[StageReport], None] | None = None,
) -> CurationResult:
    """Curate ``input_spec`` (None = the embedded sample) into ``out_dir`` on Ray; see the module docstring."""
    config = config or CurationConfig()
    options = options or RayEngineOptions()
    check_supported(config)
    ray = _import_ray()
    started = _connect(ray, options)
    try:
        return _Run(ray, config, options, Sink.for_spec(out_dir), progress, on_stage).run(input_spec)
    except (InputError, ConfigError, AccountingError, EngineError):
        raise
    except Exception as exc:
        cause = _user_error(exc)
        if cause is not None:
            raise cause from None
        raise
    finally:
        if started:
            ray.shutdown()


def _merge_sizes(stats: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    sizes: dict[int, int] = {}
    clusters = 0
    for s in stats:
        clusters += s.get("clusters", 0)
        for k, v in s.get("cluster_sizes", {}).items():
            sizes[int(k)] = sizes.get(int(k), 0) + v
    return clusters, {str(k): v for k, v in sorted(sizes.items())}


def _sum(stats: list[dict[str, Any]], key: str) -> int:
    return sum(s.get(key, 0) for s in stats)


class _Run:
    def __init__(self, ray, config: CurationConfig, options: RayEngineOptions, sink: Sink,
                 progress: Callable | None, on_stage: Callable[[StageReport], None] | None) -> None:
        self.ray = ray
        self.config = config
        self.options = options
        self.sink = sink
        self.progress = progress
        self.on_stage = on_stage
        self.reports: list[StageReport] = []
        self.removed_sets: list[Any] = []
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))

    # -- helpers -------------------------------------------------------------------------------------------

    def parts(self, rows: int, per_partition: int) -> int:
        return int(min(self.options.max_partitions, max(self.cpus, math.ceil(max(rows, 1) / per_partition))))

    @contextmanager
    def bar(self, description: str, rows: int) -> Iterator[None]:
        """A progress bar that completes (with rows/s) when the block finishes."""
        if self.progress is None:
            yield
            return
        items = iter(self.progress([range(rows)] if rows else [None], rows, f"{description} (ray)"))
        next(items, None)
        yield
        for _ in items:
            pass

    def report(self, report: StageReport) -> None:
        removed = sum(report.removed.values())
        if report.enabled and report.name != "validate" and report.rows_in != report.kept + removed:
            raise AccountingError(
                f"step {report.name!r} returned {report.kept + removed} rows for {report.rows_in} in; "
                "every row must be kept or removed exactly once"
            )
        self.reports.append(report)
        if self.on_stage:
            self.on_stage(report)

    def stage_index(self, name: str) -> int:
        return STAGE_ORDER.index(name)

    # -- the run -----------------------------------------------------------------------------------------

    def run(self, input_spec: str | None) -> CurationResult:
        cfg = self.config
        t0 = time.perf_counter()
        plan = plan_input(input_spec, self.options.unit_bytes)
        fingerprint_ref = None
        if plan.fingerprint is None:  # overlaps with the run: one sequential read, as the local engine hashes
            fingerprint_ref = self.ray.remote(num_cpus=0)(fingerprint_files).remote(plan.filesystem, plan.files)

        rows, facts = self.read_validate(plan, t0)
        rows, quarantined = self.ids_and_exact(rows, facts)
        rows, n = self.near_dedup(rows, facts["rows_after_exact"])
        self.report(StageReport("semantic_dedup", False, rows_in=n, kept=n))
        rows, n = self.filters(rows, n)
        rows, n = self.balance(rows, n)
        self.report(StageReport("augment", False, rows_in=n, kept=n))
        rows, n = self.split(rows, n)

        files, quarantine_info = self.write(rows, n, facts, quarantined)
        fingerprint = plan.fingerprint if fingerprint_ref is None else self.ray.get(fingerprint_ref)
        plan.fingerprint = fingerprint
        manifest = self.manifest(plan, facts, files, quarantine_info, len(quarantined))
        if cfg.report and self.sink.local:
            from curation.pipeline import _write_report

            _write_report(OutputPaths(Path(self.sink.root)))
        return CurationResult(OutputPaths(Path(self.sink.root)), manifest, self.reports)

    # -- load + validate + normalize -------------------------------------------------------------------

    def read_validate(self, plan: InputPlan, t0: float):
        ray, cfg = self.ray, self.config
        row_parts = self.parts(plan.estimated_rows, self.options.partition_rows)
        t = time.perf_counter()
        with self.bar("read + validate + normalize", plan.estimated_rows if plan.kind == "parquet" else 0):
            units = ray.data.from_items(plan.units, override_num_blocks=len(plan.units))
            settings = ReadSettings(cfg, plan.filesystem, row_parts)
            records = ray_ops.map_records(units, read_validate_normalize, settings=settings).materialize()
            metas = sorted(ray_ops.collect(records, Kind.META), key=lambda m: m["unit"])
        seconds = time.perf_counter() - t
        facts = self.input_facts(plan, metas)
        facts["row_parts"] = row_parts
        facts["read_seconds"] = seconds + (t - t0)
        return records, facts

    def input_facts(self, plan: InputPlan, metas: list[dict[str, Any]]) -> dict[str, Any]:
        files: dict[int, dict[str, Any]] = {}
        line_offset: dict[int, int] = {}
        extras: dict[str, None] = {}
        types: dict[str, Any] = {}
        for m in metas:
            f = files.setdefault(m["file"], {"records": 0, "parsed": 0, "first_bad": None, "lines": 0})
            line_offset[m["unit"]] = f["lines"]
            if m["records"] and f["records"] == 0 and m["first_bad"] is not None:
                f["first_bad"] = (f["lines"] + m["first_bad"][0] + 1, m["first_bad"][1])
            f["lines"] += m["lines"]
            f["records"] += m["records"]
            f["parsed"] += m["parsed"]
            for k in m["extras"]:
                extras.setdefault(k, None)
            merge_types(types, m["types"])
        if plan.kind in ("jsonl", "sample"):
            for index, f in sorted(files.items()):
                if f["records"] and f["parsed"] == 0:
                    line, error = f["first_bad"]
                    raise InputError(f"{plan.files[index]}: line {line}: not JSON Lines ({error})")
        return {
            "records": sum(m["records"] for m in metas),
            "validated": sum(m["validated"] for m in metas),
            "normalized_changed": sum(m["normalized_changed"] for m in metas),
            "line_offset": line_offset,
            "extras": list(extras),
            "types": types,
            "units": len(plan.units),
            "estimated_rows": plan.estimated_rows,
            "text_input": plan.kind in ("jsonl", "sample"),
        }

    # -- ids + exact dedup -------------------------------------------------------------------------------

    def ids_and_exact(self, records, facts: dict[str, Any]):
        cfg = self.config
        validated = facts["validated"]
        t = time.perf_counter()
        with self.bar("ids + exact dedup", validated):
            grouped = ray_ops.shuffle_apply(
                ray_ops.select(records, Kind.ROW, Kind.QUARANTINE), ray_dedup.assign_ids_and_exact,
                facts["row_parts"], config=cfg, stage_index=self.stage_index("exact_dedup"),
            ).materialize()
            small = ray_ops.collect_records(grouped, Kind.STAT, Kind.QUARANTINE)
            stats = [rec.loads(d) for d in rec.payloads(rec.of_kind(small, Kind.STAT))]
            q_records = rec.of_kind(small, Kind.QUARANTINE)
        seconds = time.perf_counter() - t
        quarantined = self.quarantine_entries(q_records, facts)
        bad = [Quarantined(q["id"], q["position"], q["raw"], q["error"]) for q in quarantined]
        self.report(StageReport("validate", True, rows_in=facts["records"], kept=validated, quarantined=len(bad),
                                seconds=facts["read_seconds"], stats={"errors": _error_kinds(bad)}))
        if cfg.stages.normalize.enabled:
            self.report(StageReport("normalize", True, rows_in=validated, kept=validated,
                                    stats={"rows_changed": facts["normalized_changed"]}))
        else:
            self.report(StageReport("normalize", False, rows_in=validated, kept=validated))
        kept = validated
        if cfg.stages.exact_dedup.enabled:
            removed = _sum([s.get("removed", {}) for s in stats], "exact_duplicate")
            kept = validated - removed
            clusters, sizes = _merge_sizes(stats)
            self.report(StageReport("exact_dedup", True, rows_in=validated, kept=kept,
                                    removed={"exact_duplicate": removed} if removed else {},
                                    stats=_jsonable({"clusters": clusters, "cluster_sizes": sizes}), seconds=seconds))
            self.removed_sets.append(ray_ops.select(grouped, Kind.REMOVED).materialize())
        else:
            self.report(StageReport("exact_dedup", False, rows_in=validated, kept=validated))
        facts["rows_after_exact"] = kept
        return ray_ops.select(grouped, Kind.ROW), quarantined

    def quarantine_entries(self, q_records, facts: dict[str, Any]) -> list[dict[str, Any]]:
        import numpy as np

        if q_records.num_rows == 0:
            return []
        pos = rec.column(q_records, "pos")
        line = rec.column(q_records, "a")
        data = rec.payloads(q_records)
        out = []
        for i in np.argsort(pos, kind="stable"):
            entry = rec.loads(data[i])
            if facts["text_input"] and entry["position"].get("line", 0) is None:
                unit = int(pos[i]) >> UNIT_SHIFT
                entry["position"] = {**entry["position"], "line": facts["line_offset"][unit] + int(line[i]) + 1}
            out.append(entry)
        return out

    # -- near dedup ------------------------------------------------------------------------------------

    def near_dedup(self, rows, n: int):
        cfg = self.config.stages.near_dedup
        if not cfg.enabled:
            self.report(StageReport("near_dedup", False, rows_in=n, kept=n))
            return rows, n
        params = ray_dedup.NearParams.from_config(cfg)
        row_parts = self.parts(n, self.options.partition_rows)
        band_parts = self.parts(n * params.bands, self.options.light_partition_rows)
        light_parts = self.parts(n, self.options.light_partition_rows)
        stage = self.stage_index("near_dedup")
        t = time.perf_counter()
        with self.bar("near dedup", n):
            bands = ray_ops.map_records(rows, ray_dedup.band_records, params=params, parts=band_parts)
            candidates = ray_ops.shuffle_apply(bands, _forward_stats(ray_dedup.bucket_candidates), band_parts,
                                               cap=params.bucket_cap, parts=light_parts)
            texts = ray_ops.map_records(rows, ray_dedup.text_records, params=params, parts=light_parts).materialize()
            halves = ray_ops.shuffle_apply(ray_ops.select(candidates, Kind.CANDIDATE, Kind.STAT).union(texts),
                                           _forward_stats(ray_dedup.attach_lo_text), light_parts, parts=light_parts)
            verified = ray_ops.shuffle_apply(ray_ops.select(halves, Kind.HALF, Kind.STAT).union(texts),
                                             _forward_stats(ray_dedup.verify_pairs), light_parts, params=params).materialize()
            pair_stats = ray_ops.collect(verified, Kind.STAT)
            verified_pairs = _sum(pair_stats, "verified_pairs")
            rounds = 0
            removed = 0
            cluster_stats: list[dict[str, Any]] = []
            if verified_pairs:
                labels, rounds = self.components(ray_ops.select(verified, Kind.EDGE), light_parts, row_parts)
                joined = ray_ops.shuffle_apply(
                    ray_ops.rekey(rows, "pos", row_parts, kinds=(Kind.ROW,)).union(
                        labels, ray_ops.rekey(verified, "pos", row_parts, kinds=(Kind.EDGE,))),
                    ray_dedup.attach_labels, row_parts, parts=row_parts,
                ).materialize()
                resolved = ray_ops.shuffle_apply(ray_ops.select(joined, Kind.MEMBER, Kind.EDGE),
                                                 ray_dedup.resolve_components, row_parts, stage_index=stage).materialize()
                cluster_stats = ray_ops.collect(resolved, Kind.STAT)
                removed = _sum(cluster_stats, "removed")
                rows = ray_ops.select(joined, Kind.ROW).union(ray_ops.select(resolved, Kind.ROW))
                self.removed_sets.append(ray_ops.select(resolved, Kind.REMOVED).materialize())
        clusters, sizes = _merge_sizes(cluster_stats)
        stats = {
            "clusters": clusters,
            "cluster_sizes": sizes,
            "backend": cfg.backend,
            "candidate_pairs": _sum(pair_stats, "candidate_pairs"),
            "verified_pairs": verified_pairs,
            "bands": params.bands,
            "rows_per_band": params.rows_per_band,
            "rows_without_shingles": _sum(pair_stats, "rows_without_shingles"),
            "capped_buckets": _sum(pair_stats, "capped_buckets"),
            "component_rounds": rounds,
        }
        if cfg.backend == "fast":
            stats["bucket_cap"] = cfg.bucket_cap
        kept = n - removed
        self.report(StageReport("near_dedup", True, rows_in=n, kept=kept,
                                removed={"near_duplicate": removed} if removed else {},
                                stats=_jsonable(stats), seconds=time.perf_counter() - t))
        return rows, kept

    def components(self, edges, parts: int, row_parts: int):
        """Connected components of the verified pairs: LABEL records (node -> smallest node of its component)."""
        for rounds in range(1, self.options.max_component_rounds + 1):
            large = ray_ops.shuffle_apply(ray_ops.map_records(edges, ray_dedup.large_star_map, parts=parts),
                                          ray_dedup.large_star_reduce, parts)
            small = ray_ops.shuffle_apply(
                ray_ops.map_records(large, _forward_stats(ray_dedup.small_star_map), parts=parts),
                _forward_stats(ray_dedup.small_star_reduce), parts).materialize()
            changed = _sum(ray_ops.collect(small, Kind.STAT), "changed")
            edges = ray_ops.select(small, Kind.EDGE)
            if changed == 0:
                return ray_ops.map_records(edges, ray_dedup.star_labels, parts=row_parts), rounds
        raise RuntimeError(f"connected components did not converge in {self.options.max_component_rounds} rounds")

    # -- filters / balance / split ------------------------------------------------------------------------

    def filters(self, rows, n: int):
        cfg = self.config.stages.filters
        if not cfg.enabled:
            self.report(StageReport("filters", False, rows_in=n, kept=n))
            return rows, n
        t = time.perf_counter()
        with self.bar("filters", n):
            out = ray_ops.map_records(rows, _filter_rows, config=self.config,
                                      stage_index=self.stage_index("filters")).materialize()
            stats = ray_ops.collect(out, Kind.STAT)
        removed: dict[str, int] = {}
        for s in stats:
            for reason, c in s["removed"].items():
                removed[reason] = removed.get(reason, 0) + c
        kept = _sum(stats, "kept")
        self.report(StageReport("filters", True, rows_in=n, kept=kept, removed=dict(sorted(removed.items())),
                                stats={}, seconds=time.perf_counter() - t))
        self.removed_sets.append(ray_ops.select(out, Kind.REMOVED).materialize())
        return ray_ops.select(out, Kind.ROW), kept

    def balance(self, rows, n: int):
        from curation.balance import Balance

        cfg = self.config.stages.balance
        if not cfg.enabled:
            self.report(StageReport("balance", False, rows_in=n, kept=n))
            return rows, n
        t = time.perf_counter()
        step = Balance(cfg)
        with self.bar("balance", n):
            counts: dict[Any, int] = {}
            first: dict[Any, int] = {}
            for s in ray_ops.collect(ray_ops.map_records(rows, ray_select.source_counts), Kind.STAT):
                for source, c in s["counts"].items():
                    counts[source] = counts.get(source, 0) + c
                    first[source] = min(first.get(source, s["first"][source]), s["first"][source])
            over = {source: step.cap_for(source) for source in counts
                    if step.cap_for(source) is not None and counts[source] > step.cap_for(source)}
            removed_by_source: dict[Any, int] = {}
            if over:
                groups = {source: i for i, source in enumerate(sorted(over, key=lambda s: first[s]))}
                keys = ray_ops.map_records(rows, ray_select.balance_keys, groups=groups, seed=cfg.seed).materialize()
                wanted = [(groups[s], cap - 1) for s, cap in over.items() if cap > 0]
                found = dict(zip([g for g, _ in wanted], ray_select.kth_smallest(keys, wanted)))
                cuts = {s: found.get(groups[s]) for s in over}
                out = ray_ops.map_records(rows, ray_select.balance_apply, cfg=cfg, cuts=cuts,
                                          stage_index=self.stage_index("balance")).materialize()
                for s in ray_ops.collect(out, Kind.STAT):
                    for source, c in s["removed"].items():
                        removed_by_source[source] = removed_by_source.get(source, 0) + c
                self.removed_sets.append(ray_ops.select(out, Kind.REMOVED).materialize())
                rows = ray_ops.select(out, Kind.ROW)
        removed = sum(removed_by_source.values())
        self.report(StageReport("balance", True, rows_in=n, kept=n - removed,
                                removed={"balance:source_cap": removed} if removed else {},
                                stats=_jsonable(ray_select.balance_stats(counts, first, removed_by_source)),
                                seconds=time.perf_counter() - t))
        return rows, n - removed

    def split(self, rows, n: int):
        cfg = self.config.stages.split
        t = time.perf_counter()
        with self.bar("split", n):
            keys = ray_ops.map_records(rows, ray_select.split_keys, seed=cfg.seed).materialize()
            cuts = ray_select.split_cuts(keys, n, cfg) if n else ray_select.SplitCuts(True, True, None, True, None, True)
            summaries = ray_ops.collect(ray_ops.map_records(keys, ray_select.split_summary, cuts=cuts), Kind.STAT)
            cuts = ray_select.fix_small_splits(cuts, summaries, cfg)
            groups = n
            if _sum(summaries, "shared"):  # some rows share a group: count the groups (else each row is its own)
                light = self.parts(n, self.options.light_partition_rows)
                groups = _sum(ray_ops.collect(ray_ops.shuffle_apply(ray_ops.rekey(keys, "h", light),
                                                                    ray_select.distinct_groups, light), Kind.STAT), "groups")
            out = ray_ops.map_records(rows, ray_select.split_apply, cuts=cuts, seed=cfg.seed).materialize()
            counts = {s: 0 for s in SPLITS}
            for s in ray_ops.collect(out, Kind.STAT):
                for k, v in s["rows"].items():
                    counts[k] += v
        self.report(StageReport("split", True, rows_in=n, kept=n, stats=_jsonable({"rows": counts, "groups": groups}),
                                seconds=time.perf_counter() - t))
        return ray_ops.select(out, Kind.ROW), n

    # -- output ------------------------------------------------------------------------------------------

    def write(self, rows, n: int, facts: dict[str, Any], quarantined: list[dict[str, Any]]):
        extras, types = facts["extras"], facts["types"]
        per_unit = max(1.0, facts["estimated_rows"] / max(1, facts["units"]))
        units_per_shard = max(1, round(self.options.shard_rows / per_unit))
        self.sink.makedirs()
        self.sink.clear_previous()
        every = rows.union(*self.removed_sets) if self.removed_sets else rows
        total = n + sum(sum(r.removed.values()) for r in self.reports)
        with self.bar("write shards", total):
            keyed = ray_ops.map_records(every, key_for_write, units_per_shard=units_per_shard)
            parts = self.parts(total, self.options.partition_rows)
            files = ray_ops.collect(ray_ops.shuffle_apply(keyed, write_shard, parts, sink=self.sink, extras=extras,
                                                          types=types), Kind.STAT)
        targets = {f["target"] for f in files}
        for target in range(len(SPLITS)):
            if target not in targets:
                files.append(write_empty(self.sink, target, extras, types))
        if not any(f["target"] >= len(SPLITS) for f in files):
            files.append(write_empty(self.sink, len(SPLITS), extras, types))
        digest = self.sink.write_bytes(QUARANTINE_FILE, jsonl_bytes(quarantined))
        return files, {"path": QUARANTINE_FILE, "rows": len(quarantined), "sha256": digest}

    def manifest(self, plan: InputPlan, facts: dict[str, Any], files: list[dict[str, Any]],
                 quarantine_info: dict[str, Any], quarantined: int) -> dict[str, Any]:
        outputs = folder_outputs(files)
        outputs["quarantine"] = quarantine_info
        in_splits = sum(outputs[s]["rows"] for s in SPLITS)
        removed_rows = outputs[REMOVED_DIR]["rows"]
        accounting = {
            "input_rows": facts["records"],
            "added_rows": 0,
            "in_splits": in_splits,
            "removed": removed_rows,
            "quarantined": quarantined,
        }
        accounting["balanced"] = accounting["input_rows"] == in_splits + removed_rows + quarantined
        if not accounting["balanced"]:
            raise AccountingError(f"rows were lost or duplicated: {accounting}")
        removed_by_reason: dict[str, int] = {}
        for r in self.reports:
            for reason, c in r.removed.items():
                removed_by_reason[reason] = removed_by_reason.get(reason, 0) + c
        packages = _package_versions()
        packages["ray"] = self.ray.__version__
        manifest = {
            "tomecraft_version": _version(),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "engine": "ray",
            "input": plan.describe(facts["records"]),
            "config": self.config.resolved(),
            "stages": [r.as_dict() for r in self.reports],
            "removed_by_reason": dict(sorted(removed_by_reason.items())),
            "accounting": accounting,
            "outputs": outputs,
            "extra_columns": facts["extras"],
            "resumed_stages": [],
            "packages": packages,
        }
        self.sink.write_bytes(MANIFEST_FILE, json_bytes(manifest))
        return manifest


def _forward_stats(fn):
    """``fn`` over a partition, with the STAT records that rode along passed through untouched."""
    return _ForwardStats(fn)


class _ForwardStats:
    def __init__(self, fn) -> None:
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "step")

    def __call__(self, t, **kwargs):
        return rec.concat([self.fn(t, **kwargs), rec.of_kind(t, Kind.STAT)])


def _filter_rows(t, config: CurationConfig, stage_index: int):
    """Map: :meth:`Filters.run` on the block's rows (input order); kept rows and removals."""
    from pathlib import Path as _Path

    from curation.filters import Filters
    from curation.stage import StageContext

    t = rec.of_kind(t, Kind.ROW)
    rows = [rec.loads(d) for d in rec.payloads(t)]
    pos = rec.column(t, "pos").tolist()
    pos_of = {row["id"]: p for row, p in zip(rows, pos)}
    result = Filters(config.stages.filters).run(rows, StageContext(config=config, cache_dir=_Path(".")))
    out = rec.Builder()
    for row in result.kept:
        out.add(Kind.ROW, 0, pos_of[row["id"]], data=rec.dumps(row))
    for removal in result.removed:
        out.add(Kind.REMOVED, 0, pos_of[removal.row["id"]], a=stage_index, data=rec.dumps(removal.as_record("filters")))
    out.stat({"kept": len(result.kept), "removed": result.removed_by_reason()})
    return out.build()
