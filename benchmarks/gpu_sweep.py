"""The model-centric vs data-centric sweep on SmolLM2-135M-Instruct on a CUDA GPU (`configs/sweep_smollm2_gpu.yaml`):
data {raw, curated, curated + augmented} x learning rate {1e-4, 2e-4} x 3 seeds, plus a batch-size axis {2, 8, 32},
all at the same number of training tokens, once on the shared alpaca rows plus the embedded sample and once on the
shared rows alone.

    # on a CPU machine: curate, build the raw side, augment, decontaminate (both inputs)
    python benchmarks/gpu_sweep.py prepare --shared ../shared/data/instructions/alpaca_en_demo.finetome.jsonl --work W
    # on the GPU: probe the step rate, size the token budget to the time given, run both sweeps
    python benchmarks/gpu_sweep.py run --work W --seconds 420 --results OUT

``run`` first trains two probe cells (curated, lr 2e-4, batch 8; a small budget) to measure tokens/s and the
per-cell overhead (model load, tokenization, evaluation), then picks the largest equal token budget with which
every planned cell fits in ``--seconds`` (batch 2 assumed 3x slower per token than batch 8), and runs the sweeps
with `tome sweep`'s runner (``stop_after`` as a guard: cells that would end late are not started, and reported).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CONFIG = REPO / "configs" / "sweep_smollm2_gpu.yaml"
SWEEPS = {"alpaca_sample": "alpaca_sample.jsonl", "alpaca": "alpaca.jsonl"}
PROBE_TOKENS = 16_000
SLOWER = {2: 3.0}  # tokens/s of a batch size relative to batch 8 (assumed before measuring: small batches are launch-bound)


EXTRA: dict = {}  # --set overrides, on every sweep (the probe included)


def _cfg(work: Path, sweep: str, overrides: dict | None = None):
    from sweep.config import load_sweep_config
    from tomecraft.config_files import deep_merge

    base = {"name": f"smollm2-{sweep.replace('_', '-')}", "input": str(work / "inputs" / SWEEPS[sweep])}
    return load_sweep_config(CONFIG, deep_merge(deep_merge(base, EXTRA), overrides or {}))


def prepare(opts: argparse.Namespace) -> None:
    from sweep.variants import prepare_variants

    work = Path(opts.work)
    (work / "inputs").mkdir(parents=True, exist_ok=True)
    shared = Path(opts.shared).read_text(encoding="utf-8")
    from tomecraft.resources import ensure_sample

    sample = ensure_sample().read_text(encoding="utf-8")
    (work / "inputs" / "alpaca.jsonl").write_text(shared, encoding="utf-8")
    (work / "inputs" / "alpaca_sample.jsonl").write_text(shared.rstrip("\n") + "\n" + sample, encoding="utf-8")
    for sweep in SWEEPS:
        started = time.perf_counter()
        prepared = prepare_variants(_cfg(work, sweep), work / "sweeps" / sweep, log=lambda m: print(f"[{sweep}] {m}", flush=True))
        print(f"[{sweep}] prepared in {time.perf_counter() - started:.0f}s: " + ", ".join(
            f"{n} {v.train_rows:,} rows" for n, v in prepared.items()), flush=True)


def _planned_cost(cfg, overhead: float, tps8: float, tokens: int) -> float:
    from sweep.plan import plan_cells

    total = 0.0
    for cell in plan_cells(cfg):
        batch = cell.axes.get("training.per_device_batch_size", 8)
        tps = tps8 / SLOWER.get(batch, 1.0)
        total += overhead + tokens / tps
    return total


def run(opts: argparse.Namespace) -> None:
    from sweep.runner import run_sweep

    started = time.perf_counter()
    deadline = started + opts.seconds
    work = Path(opts.work)
    results = Path(opts.results)
    results.mkdir(parents=True, exist_ok=True)
    log_lines: list[str] = []

    def log(message: str) -> None:
        line = f"[{time.perf_counter() - started:6.1f}s] {message}"
        log_lines.append(line)
        print(line, flush=True)

    # 1. probe: two cells of batch 8 (the second one's overhead is the steady state)
    probe_cfg = _cfg(work, "alpaca_sample", {
        "grid": {"data": ["curated"], "training.learning_rate": [2e-4], "training.per_device_batch_size": [8]},
        "cells": [], "seeds": [1000, 1001], "budget": {"tokens": opts.probe_tokens}, "eval": {"checks": True}})
    probe = run_sweep(probe_cfg, work / "sweeps" / "alpaca_sample", log=log)
    cells = [c for c in probe.results["cells"] if c.get("tokens_per_second")]
    tps8 = min(c["tokens_per_second"] for c in cells)
    overhead = max(0.0, cells[-1]["total_seconds"] - cells[-1]["train_seconds"])
    log(f"probe: {tps8:,.0f} tokens/s at batch 8, {overhead:.1f}s per cell besides the optimizer steps")
    shutil.copy(work / "sweeps" / "alpaca_sample" / "results.json", results / "probe_results.json")

    # 2. the largest equal budget with which every planned cell fits in the time left
    left = deadline - time.perf_counter() - opts.reserve
    cfgs = {s: _cfg(work, s) for s in SWEEPS}
    tokens = opts.max_tokens
    while tokens > opts.min_tokens and sum(_planned_cost(c, overhead, tps8, tokens) for c in cfgs.values()) > left:
        tokens = int(tokens * 0.9)
    tokens = max(tokens, opts.min_tokens)
    tokens = tokens // 1000 * 1000 if tokens >= 10_000 else tokens
    planned = sum(_planned_cost(c, overhead, tps8, tokens) for c in cfgs.values())
    log(f"budget: {tokens:,} training tokens per cell (planned {planned:.0f}s of {left:.0f}s left)")

    # 3. the sweeps, in order; stop_after keeps each inside the time given
    summary = {"probe": {"tokens_per_second_batch8": tps8, "overhead_seconds": overhead}, "budget_tokens": tokens, "sweeps": {}}
    for sweep, cfg in cfgs.items():
        cfg = cfg.model_copy(update={"budget": cfg.budget.model_copy(update={"tokens": tokens})})
        remaining = deadline - time.perf_counter() - opts.reserve
        if remaining <= overhead:
            log(f"{sweep}: no time left; not started")
            summary["sweeps"][sweep] = {"not_started": "all"}
            continue
        outcome = run_sweep(cfg, work / "sweeps" / sweep, stop_after=remaining, tokens_per_s=tps8, log=log)
        summary["sweeps"][sweep] = {"ran": outcome.ran, "not_started": outcome.not_started,
                                    "finished": outcome.results["finished"], "planned": outcome.results["planned"]}
        shutil.copy(work / "sweeps" / sweep / "results.md", results / f"{sweep}_results.md")
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (work / "sweeps" / "gpu_sweep_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (work / "sweeps" / "gpu_sweep.log").write_text("\n".join(log_lines) + "\n")
    pack(work / "sweeps", results, opts.adapters.split(",") if opts.adapters else [])
    log(f"done in {summary['seconds']}s")


RUN_FILES = ("config.yaml", "data_manifest.json", "summary.json", "metrics.jsonl", "skipped_rows.jsonl",
             "sweep_cell.json", "sweep_eval.json", "sweep_export.json")


def pack(sweeps: Path, results: Path, adapters: list[str]) -> None:
    """Everything but weights, data and checkpoints as one archive; the named cells' adapters in bfloat16."""
    import tarfile

    with tarfile.open(results / "sweeps.tar.gz", "w:gz") as tar:
        for path in sorted(sweeps.rglob("*")):
            rel = path.relative_to(sweeps)
            parts = rel.parts
            keep = path.is_file() and (
                (len(parts) == 1)
                or (len(parts) == 2 and path.suffix in (".json", ".md", ".html", ".yaml"))
                or (len(parts) == 3 and parts[1] == "decontamination" and path.name == "summary.json")
                or (len(parts) == 4 and parts[1] == "data" and path.name in ("manifest.json", "variant.json"))
                or (len(parts) == 4 and parts[1] == "cells" and path.name in RUN_FILES))
            if keep:
                tar.add(path, arcname=str(rel))
    for cell in adapters:
        sweep, name = cell.split("/", 1)
        adapter = sweeps / sweep / "cells" / name / "adapter"
        if not (adapter / "adapter_model.safetensors").exists():
            print(f"no adapter for {cell}", flush=True)
            continue
        from safetensors.torch import load_file, save_file

        staging = results / f"adapter-{name}"
        shutil.copytree(adapter, staging, ignore=shutil.ignore_patterns("adapter_model.safetensors", "README.md"))
        tensors = {k: v.to(dtype=__import__("torch").bfloat16) for k, v in load_file(adapter / "adapter_model.safetensors").items()}
        save_file(tensors, staging / "adapter_model.safetensors")
        with tarfile.open(results / f"adapter-{sweep}-{name}.tar", "w") as tar:
            tar.add(staging, arcname="adapter")
        shutil.rmtree(staging)


def collect(opts: argparse.Namespace) -> None:
    """Unpack what came back from the GPU into ``--into``; export the returned adapters to GGUF on this CPU
    (q8_0, q4_k_m, q5_k_m: size and decode tokens/s) into ``exports.json``."""
    import os
    import tarfile

    from sweep.config import ExportSpec
    from sweep.measure import export_cell

    came = Path(opts.came_back)
    into = Path(opts.into)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(came / "sweeps.tar.gz") as tar:
        tar.extractall(into / "sweeps", filter="data")
    exports = {}
    for archive in sorted(came.glob("adapter-*.tar")):
        sweep, name = archive.stem[len("adapter-"):].split("-", 1)
        run = into / "sweeps" / sweep / "cells" / name
        with tarfile.open(archive) as tar:
            tar.extractall(run, filter="data")
        load = os.getloadavg()
        started = time.perf_counter()
        measured = export_cell(run, ExportSpec(quants=["q8_0", "q4_k_m", "q5_k_m"], cells="all", cpu_tokens=opts.cpu_tokens),
                               say=lambda m: print(f"  {name}: {m}", flush=True))
        measured["load_average_before"] = [round(x, 2) for x in load]
        measured["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        measured["seconds"] = round(time.perf_counter() - started, 1)
        exports[f"{sweep}/{name}"] = measured
        print(json.dumps({q: {k: v for k, v in m.items() if k != "path"} for q, m in measured["quants"].items()}), flush=True)
    (into / "exports.json").write_text(json.dumps(exports, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--shared", required=True, help="the shared real rows (alpaca, FineTome schema)")
    p.add_argument("--work", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", required=True)
    r.add_argument("--seconds", type=float, required=True, help="wall time for probe + both sweeps")
    r.add_argument("--results", required=True, help="folder for the results files")
    r.add_argument("--reserve", type=float, default=15.0, help="seconds kept for writing results")
    r.add_argument("--probe-tokens", type=int, default=PROBE_TOKENS)
    r.add_argument("--min-tokens", type=int, default=40_000)
    r.add_argument("--max-tokens", type=int, default=600_000)
    r.add_argument("--adapters", default="", help="SWEEP/CELL,...: cells whose adapters come back (bf16) for a CPU export")
    c = sub.add_parser("collect")
    c.add_argument("--came-back", required=True, help="the files the GPU run wrote (sweeps.tar.gz, adapter-*.tar)")
    c.add_argument("--into", required=True)
    c.add_argument("--cpu-tokens", type=int, default=64)
    for p_ in (p, r):
        p_.add_argument("--set", dest="sets", action="append", default=[], help="sweep config override (tome sweep --set)")
    opts = parser.parse_args()
    from sweep.config import parse_sweep_override
    from tomecraft.config_files import deep_merge

    for item in getattr(opts, "sets", []):
        EXTRA.update(deep_merge(EXTRA, parse_sweep_override(item)))
    {"prepare": prepare, "run": run, "collect": collect}[opts.command](opts)


if __name__ == "__main__":
    main()
