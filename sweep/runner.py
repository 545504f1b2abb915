"""Running a sweep: prepare the data variants, then train, evaluate (and export) each cell in turn, then write the
results. Everything lands in the ``--out`` folder::

    sweep.yaml               the resolved sweep config (as last run)
    plan.json                the cells in run order, with their `tome train` commands
    sources/<variant>/       curated / raw folders the sweep built
    decontamination/         the dedup run that found training rows duplicating held-out rows
    data/<variant>/          what each variant's cells train on (decontaminated train; the shared held-out splits)
    cells/<cell>/            a `tome train` run folder per cell, plus sweep_cell.json (the cell, its command,
                             timings), sweep_eval.json (held-out loss, checks) and sweep_export.json (GGUF per quant)
    results.json, results.md, results.html

A killed sweep resumes where it stopped when run again: finished cells are skipped, an interrupted one resumes
from its newest checkpoint (`tome train --resume`), an evaluation or export that did not finish is redone. A cell
folder that holds a run of another config or other data stops the sweep with its name (another --out, or delete
the folder). ``stop_after`` (seconds) starts no cell that the measured rates say would end past it.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sweep.config import SweepConfig, SweepConfigError
from sweep.plan import Cell, cell_overrides, plan_cells, train_command

CELL_FILE = "sweep_cell.json"
EVAL_FILE = "sweep_eval.json"
EXPORT_FILE = "sweep_export.json"


class SweepError(RuntimeError):
    """The sweep cannot go on; the message names the cell or folder in the way."""


@dataclass
class CellStatus:
    cell: Cell
    run_dir: Path
    data_dir: Path
    command: str
    state: str  # new | unfinished | trained | done
    estimate_seconds: float | None = None
    estimate_basis: str = ""


@dataclass
class SweepOutcome:
    out: Path
    cells: list[CellStatus] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)  # stopped by stop_after
    results: dict[str, Any] | None = None


def base_config_path(cfg: SweepConfig) -> Path:
    from training.config import default_config_path

    return Path(cfg.train_config) if cfg.train_config else default_config_path()


def _read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, cut short (a killed write) or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def run_state(run_dir: Path, data_dir: Path, train_cfg) -> str:
    """``new``, ``unfinished`` (config written, no readable summary: resumed) or ``trained`` for this config on these
    split files; :class:`SweepError` when the folder holds a run of another config or other data, or its record of
    them is damaged."""
    from tomecraft.config_files import ConfigError
    from training.run import checkpoints, run_paths, sha256_file

    paths = run_paths(run_dir)
    if not paths.config.exists():
        return "new"
    advice = "choose another --out or delete this cell's folder"
    try:
        same_config = paths.config.read_text(encoding="utf-8") == train_cfg.to_yaml()
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"{paths.config}: cannot be read ({exc.__class__.__name__}); {advice}") from None
    manifest = _read_json(paths.data_manifest)
    trained = _read_json(paths.summary) is not None  # a summary cut short by a kill: resumed, which rewrites it
    if manifest is None:
        if same_config and not trained and not checkpoints(paths.checkpoints) and not paths.summary.exists():
            return "new"  # killed between config.yaml and data_manifest.json: nothing trained, `tome train` starts over
        raise SweepError(f"{paths.data_manifest}: missing or damaged, so the data this run trained on is unknown; {advice}")
    stored = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    same_data = bool(stored) and all(
        isinstance(f, dict) and (data_dir / f"{name}.parquet").is_file()
        and f.get("sha256") == sha256_file(data_dir / f"{name}.parquet") for name, f in stored.items())
    if not (same_config and same_data):
        from training.config import config_differences, load_config

        if same_config:
            why = "other data"
        else:
            try:
                why = "another config (" + "; ".join(
                    config_differences(load_config(paths.config).resolved(), train_cfg.resolved())[:3]) + ")"
            except ConfigError as exc:
                why = f"a config that no longer loads ({str(exc).splitlines()[0]})"
        raise SweepError(f"{run_dir}: holds a run of {why}; {advice}")
    return "trained" if trained else "unfinished"


def _cell_state(status_dir: Path, train_state: str, eval_key: dict[str, Any], export_wanted: bool,
                export_key: dict[str, Any]) -> str:
    if train_state != "trained":
        return train_state
    ev = _read_json(status_dir / EVAL_FILE)
    if not ev or ev.get("spec") != eval_key:
        return "trained"
    if export_wanted:
        ex = _read_json(status_dir / EXPORT_FILE)
        if not ex or ex.get("spec") != export_key:
            return "trained"
    return "done"


def _export_wanted(cfg: SweepConfig, cell: Cell) -> bool:
    if cfg.export.cells == "none":
        return False
    return cfg.export.cells == "all" or cell.seed == cfg.seeds[0]


class Estimator:
    """Seconds a cell will take, from what finished cells measured (or a given tokens/s)."""

    def __init__(self, tokens_per_s: float | None = None) -> None:
        self.given = tokens_per_s
        self.done: list[dict[str, Any]] = []  # {model, batch, seq, variant, tps, overhead, mean_row}

    def add(self, record: dict[str, Any]) -> None:
        self.done.append(record)

    def estimate(self, train_cfg, variant: str) -> tuple[float | None, str]:
        t = train_cfg.training
        tokens, basis = None, ""
        if t.max_tokens:
            tokens = float(t.max_tokens)
        elif t.max_steps:
            means = [d["mean_row"] for d in self.done if d["variant"] == variant and d.get("mean_row")]
            if means:
                tokens = t.max_steps * t.per_device_batch_size * t.gradient_accumulation_steps * statistics.median(means)
        if tokens is None:
            return None, "budget in tokens unknown (no finished cell of this variant)"
        key = (train_cfg.model.name, t.per_device_batch_size, train_cfg.model.max_seq_length)
        same = [d["tps"] for d in self.done if (d["model"], d["batch"], d["seq"]) == key and d.get("tps")]
        model = [d["tps"] for d in self.done if d["model"] == key[0] and d.get("tps")]
        if same:
            tps, basis = statistics.median(same), f"{len(same)} finished cell(s) of this model and batch"
        elif model:
            tps, basis = statistics.median(model), f"{len(model)} finished cell(s) of this model"
        elif self.given:
            tps, basis = self.given, "--tokens-per-s"
        else:
            return None, "no measured tokens/s yet (run a cell, or pass --tokens-per-s)"
        overheads = [d["overhead"] for d in self.done if d.get("overhead") is not None]
        overhead = statistics.median(overheads) if overheads else 0.0
        return tokens / tps + overhead, basis + ("" if overheads else "; load/eval time not yet measured")


def _estimator_record(run_dir: Path, train_cfg, variant: str) -> dict[str, Any] | None:
    summary = _read_json(run_dir / "summary.json")
    if not summary:
        return None
    cell = _read_json(run_dir / CELL_FILE) or {}
    total = (cell.get("timing") or {}).get("total_seconds")
    train_s = summary.get("train_seconds") or 0.0
    budget = (summary.get("data") or {}).get("budget") or {}
    mean_row = budget.get("mean_tokens_per_row")
    if mean_row is None and summary.get("global_step"):
        t = train_cfg.training
        mean_row = summary["tokens_seen"] / (summary["global_step"] * t.per_device_batch_size * t.gradient_accumulation_steps)
    return {"model": train_cfg.model.name, "batch": train_cfg.training.per_device_batch_size,
            "seq": train_cfg.model.max_seq_length, "variant": variant, "tps": summary.get("tokens_per_second"),
            "overhead": max(0.0, total - train_s) if total is not None else None, "mean_row": mean_row}


def check_sweep(cfg: SweepConfig) -> None:
    """What can be checked before anything is curated or trained (a dry run checks it too): every cell's `tome
    train` config, each ``folder`` variant, each ``curate`` variant's curation config, the prompt set.
    :class:`SweepConfigError` names the sweep key (the CLI adds the sweep file)."""
    from curation.config import config_model
    from curation.contract import require_output_folder
    from evaluation.prompt_sets import PromptSetError, load_prompt_set
    from tomecraft.config_files import ConfigError, load_model_config
    from training.config import load_config

    base = base_config_path(cfg)
    if not base.is_file():
        raise SweepConfigError(f"train_config: {base}: config file not found")
    try:  # errors name the base config file, `train` or the cell (the grid's values are in its name)
        base_train = load_config(base, cfg.train or None, overrides_label="train").resolved()
        for cell in plan_cells(cfg, base_train):
            load_config(base, cell_overrides(cfg, cell), overrides_label=f"cell {cell.group}")
    except ConfigError as exc:
        raise SweepConfigError(str(exc)) from None
    _check_input("input", cfg.input)
    for name, spec in cfg.data.items():
        if spec.kind() == "curate":
            _check_input(f"data.{name}.input", spec.input)
        try:
            if spec.kind() == "folder":
                require_output_folder(spec.folder)
            elif spec.kind() == "curate":
                load_model_config(config_model(), spec.curate, {"report": False, **spec.set},
                                  overrides_label=f"data.{name}.set")
        except (ConfigError, FileNotFoundError) as exc:
            message = str(exc)
            key = f"data.{name}.{spec.kind()}"
            raise SweepConfigError(message if message.startswith(f"data.{name}.") else f"{key}: {message}") from None
    if cfg.eval.checks:
        try:
            load_prompt_set(cfg.eval.prompts)
        except PromptSetError as exc:
            raise SweepConfigError(f"eval.prompts: {exc}") from None


def check_sweep_folder(out: Path) -> None:
    """Refuse a ``--out`` that is a `tome curate` output folder (``manifest.json`` beside its splits): the sweep
    would write ``sweep.yaml``, ``data/``, ``cells/`` and its results among the splits, as `tome train --run` and
    `tome export --out` would (both refuse it too). The dry run checks it as well, so its plan is of a sweep that
    can run."""
    from curation.sources import is_curated_folder

    if is_curated_folder(out):
        raise SweepError(f"{out}: a `tome curate` output folder (manifest.json); the sweep would write its files among "
                         "the splits; choose another --out")


def check_rows(cfg: SweepConfig, out: Path, prepared: dict[str, Any]) -> None:
    """Rows for every cell to train on and for the held-out loss, checked once the data is built and before any
    cell trains (the evaluation of the first trained cell would otherwise be the first to find an empty split)."""
    import pyarrow.parquet as pq

    split = cfg.eval.loss_split
    held = out / "data" / cfg.heldout_variant() / f"{split}.parquet"
    if pq.read_metadata(held).num_rows == 0:
        raise SweepError(f"{held}: no row to score the held-out loss on (the {cfg.heldout_variant()!r} variant has an "
                         f"empty {split} split); give it more input rows, or another `heldout` or `eval.loss_split`")
    for name in dict.fromkeys(cell.data for cell in plan_cells(cfg)):
        variant = prepared[name]
        if variant.train_rows == 0:
            left_out = sum(variant.decontaminated.values())
            raise SweepError(f"data {name}: no training row ({variant.source_train_rows:,} in its source, "
                             f"{left_out:,} left out as duplicates of held-out rows); give it more rows")


def _check_input(key: str, spec: str | None) -> None:
    """A local input (a path, a glob, a file name) that matches nothing; a hub dataset id is left to the run
    (a dry run works offline)."""
    if spec is None:
        return
    from curation.readers import looks_like_path
    from curation.sources import SourceError, expand

    if not looks_like_path(spec):
        return
    try:
        expand(spec)
    except SourceError as exc:
        raise SweepConfigError(f"{key}: {exc}") from None


def plan(cfg: SweepConfig, out: str | Path, tokens_per_s: float | None = None) -> list[CellStatus]:
    """The cells, their state in ``out`` and the estimated seconds of each one still to run."""
    from training.config import load_config

    out = Path(out)
    base = base_config_path(cfg)
    base_train = load_config(base, cfg.train or None).resolved()
    estimator = Estimator(tokens_per_s)
    statuses = []
    for cell in plan_cells(cfg, base_train):
        run_dir = out / "cells" / cell.id
        data_dir = out / "data" / cell.data
        train_cfg = load_config(base, cell_overrides(cfg, cell))
        command = train_command(cfg, cell, data_dir, run_dir, base)
        state = "new"
        if (run_dir / "config.yaml").exists() and (data_dir / "train.parquet").exists():
            state = run_state(run_dir, data_dir, train_cfg)
            if state == "trained":
                state = _cell_state(run_dir, state, _eval_key(cfg), _export_wanted(cfg, cell), _export_key(cfg))
        statuses.append(CellStatus(cell, run_dir, data_dir, command, state))
        record = _estimator_record(run_dir, train_cfg, cell.data)
        if record:
            estimator.add(record)
    for status in statuses:
        if status.state != "done":
            train_cfg = load_config(base, cell_overrides(cfg, status.cell))
            status.estimate_seconds, status.estimate_basis = estimator.estimate(train_cfg, status.cell.data)
    return statuses


def _eval_key(cfg: SweepConfig) -> dict[str, Any]:
    return {"eval": cfg.eval.model_dump(mode="json"), "heldout": cfg.heldout_variant()}


def _export_key(cfg: SweepConfig) -> dict[str, Any]:
    return {"quants": cfg.export.quants, "cpu_tokens": cfg.export.cpu_tokens}


def run_sweep(cfg: SweepConfig, out: str | Path, *, stop_after: float | None = None,
              tokens_per_s: float | None = None, log: Callable[[str], None] = lambda m: None,
              progress: Any | None = None, train_fn: Callable | None = None, evaluate_fn: Callable | None = None,
              export_fn: Callable | None = None) -> SweepOutcome:
    """Run (or resume) the sweep into ``out``; returns what ran and the results (also written to ``out``).

    ``train_fn(data_dir, train_cfg, run_dir, resume=..., progress=...)``, ``evaluate_fn(run_dir, heldout_dir,
    eval_spec, max_seq_length, progress=...)`` and ``export_fn(run_dir, export_spec, say=...)`` default to
    `tome train`, :func:`sweep.measure.evaluate_cell` and :func:`sweep.measure.export_cell`.
    """
    from sweep.variants import prepare_variants

    started = time.perf_counter()
    out = Path(out)
    check_sweep_folder(out)  # before sweep.yaml is written into it
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    if train_fn is None:
        from training.run import train as train_fn  # type: ignore[no-redef]
    if evaluate_fn is None:
        from sweep.measure import evaluate_cell as evaluate_fn  # type: ignore[no-redef]
    if export_fn is None:
        from sweep.measure import export_cell as export_fn  # type: ignore[no-redef]

    check_sweep(cfg)  # before minutes of curation: a bad cell or folder stops the sweep now
    track = _tracker(progress)
    prepared = prepare_variants(cfg, out, log, track)
    check_rows(cfg, out, prepared)  # before the first cell trains: an empty split would stop the sweep after it
    from training.data import tokenization_cache

    with tokenization_cache():  # cells of one variant share their tokenized splits
        return _run_cells(cfg, out, prepared, started, stop_after, tokens_per_s, log, progress, track,
                          train_fn, evaluate_fn, export_fn)


def _run_cells(cfg, out, prepared, started, stop_after, tokens_per_s, log, progress, track,  # noqa: ANN001, PLR0913
               train_fn, evaluate_fn, export_fn) -> SweepOutcome:
    from sweep.results import write_results
    from training.config import load_config

    statuses = plan(cfg, out, tokens_per_s)
    _write_json(out / "plan.json", {"cells": [dict(s.cell.as_dict(), command=s.command) for s in statuses]})
    base = base_config_path(cfg)
    heldout_dir = out / "data" / cfg.heldout_variant()
    base_seq = cfg.eval.loss_max_seq_length or load_config(base, cfg.train or None).model.max_seq_length
    outcome = SweepOutcome(out=out, cells=statuses)
    estimator = Estimator(tokens_per_s)
    for status in statuses:
        rec = _estimator_record(status.run_dir, load_config(base, cell_overrides(cfg, status.cell)), status.cell.data)
        if rec:
            estimator.add(rec)
    todo = [s for s in statuses if s.state != "done"]
    log(f"{len(statuses)} cell(s): {len(statuses) - len(todo)} done, {len(todo)} to run")
    for n, status in enumerate(todo, 1):
        cell = status.cell
        train_cfg = load_config(base, cell_overrides(cfg, cell))
        if stop_after is not None:
            estimate, _ = estimator.estimate(train_cfg, cell.data)
            if time.perf_counter() - started + (estimate or 0.0) > stop_after:
                outcome.not_started = [s.cell.id for s in todo[n - 1:]]
                log(f"stop-after {stop_after:g}s: {len(outcome.not_started)} cell(s) not started (run again to go on)")
                break
        cell_started = time.perf_counter()
        status.run_dir.mkdir(parents=True, exist_ok=True)
        cell_record = _read_json(status.run_dir / CELL_FILE) or {}
        timing = dict(cell_record.get("timing") or {})
        _write_json(status.run_dir / CELL_FILE, {"cell": cell.as_dict(), "command": status.command, "timing": timing})
        state = run_state(status.run_dir, status.data_dir, train_cfg)
        if state != "trained":
            log(f"[{n}/{len(todo)}] {cell.id}: training" + (" (resuming)" if state == "unfinished" else ""))
            t0 = time.perf_counter()
            train_fn(status.data_dir, train_cfg, status.run_dir, resume=state == "unfinished", progress=progress)
            timing["train_wall_seconds"] = round(time.perf_counter() - t0, 3)
        ev = _read_json(status.run_dir / EVAL_FILE)
        if not ev or ev.get("spec") != _eval_key(cfg):
            log(f"[{n}/{len(todo)}] {cell.id}: held-out loss" + (" and checks" if cfg.eval.checks else ""))
            t0 = time.perf_counter()
            measured = evaluate_fn(status.run_dir, heldout_dir, cfg.eval, base_seq, progress=track)
            _write_json(status.run_dir / EVAL_FILE, {"spec": _eval_key(cfg), **measured})
            timing["eval_seconds"] = round(time.perf_counter() - t0, 3)
        if _export_wanted(cfg, cell):
            ex = _read_json(status.run_dir / EXPORT_FILE)
            if not ex or ex.get("spec") != _export_key(cfg):
                log(f"[{n}/{len(todo)}] {cell.id}: export {', '.join(cfg.export.quants)}")
                t0 = time.perf_counter()
                exported = export_fn(status.run_dir, cfg.export, say=lambda m: log(f"    {m}"))
                _write_json(status.run_dir / EXPORT_FILE, {"spec": _export_key(cfg), **exported})
                timing["export_seconds"] = round(time.perf_counter() - t0, 3)
        timing["total_seconds"] = round(sum(v for k, v in timing.items() if k != "total_seconds"), 3)
        _write_json(status.run_dir / CELL_FILE, {"cell": cell.as_dict(), "command": status.command, "timing": timing})
        status.state = "done"
        outcome.ran.append(cell.id)
        from sweep.measure import free_memory

        free_memory()  # the trainer and model of this cell are gone; give their memory back before the next
        rec = _estimator_record(status.run_dir, train_cfg, cell.data)
        if rec:
            estimator.add(rec)
        log(f"[{n}/{len(todo)}] {cell.id}: done in {time.perf_counter() - cell_started:.0f}s")
    outcome.results = write_results(cfg, out, statuses, prepared)
    return outcome


def _tracker(progress: Any | None):
    if progress is None:
        return None

    def track(items, total, description):  # noqa: ANN001
        task = progress.add_task(description, total=total or None)
        for item in items:
            yield item
            progress.advance(task)
        progress.remove_task(task)

    return track
