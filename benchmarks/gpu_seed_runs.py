"""The seed's two training runs, measured with `tome train`'s stack on a CUDA GPU, against ours at the largest batch
that fits in 15 GB: tokens/s, peak memory, and what that makes of the seed's 3,684-step run.

The seed trained Llama 3.2 1B at batch 2 and Llama 3.2 3B at batch 4, each with 4 gradient-accumulation steps, in
4-bit QLoRA (Unsloth's notebook recipe: `configs/train.yaml`, `configs/train_3b.yaml`). Here each runs as
`benchmarks/gpu_train_bench.py`'s ``ours`` worker (exactly what `tome train` runs) on a model of that exact shape
with random weights (speed and memory do not depend on the values), on full-length rows of ``--seq`` tokens;
one micro-batch per optimizer step (accumulation changes neither tokens/s nor memory much: the optimizer step is
a small part of a step), tokens/s over the steps after ``--warmup``.

    python benchmarks/gpu_seed_runs.py --out benchmarks/results/gpu_seed_runs-h200.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.gpu_train_bench import LLAMA_32_1B  # noqa: E402

LLAMA_32_3B = dict(LLAMA_32_1B, hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
                   num_key_value_heads=8, head_dim=128)  # meta-llama/Llama-3.2-3B-Instruct config.json
SEED_STEPS = 3684
SEED_ACCUMULATION = 4


def make_model(path: Path, shape: dict, tokenizer_dir: str) -> Path:
    """A Llama-shaped checkpoint with random bf16 weights and a tokenizer (ids only matter)."""
    if (path / "config.json").exists():
        return path
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(LlamaConfig(**shape, dtype="bfloat16")).to(torch.bfloat16)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    del model
    torch.cuda.empty_cache()
    return path


def run_worker(name: str, model_dir: Path, batches: list[int], opts: argparse.Namespace, log_dir: Path,
               budget_gb: float | None) -> dict:
    args = [sys.executable, str(REPO / "benchmarks" / "gpu_train_bench.py"), "--worker", "ours", "--model-dir",
            str(model_dir), "--workdir", opts.workdir, "--seq", str(opts.seq), "--steps", str(opts.steps),
            "--warmup", str(opts.warmup), "--batches", ",".join(map(str, batches))]
    if budget_gb:
        args += ["--budget-gb", str(budget_gb)]
    started = time.perf_counter()
    log = log_dir / f"{name}.log"
    with log.open("w") as fh:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=fh, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return {"arm": name, "error": f"exit {proc.returncode}: " + " | ".join(tail)}
    result = json.loads(line[len("RESULT "):])
    result.update(arm=name, seconds=round(time.perf_counter() - started, 1))
    return result


def seed_run_hours(tokens_per_s: float, batch: int, seq: int) -> float:
    """Hours for the seed's 3,684 optimizer steps of ``batch`` x 4 accumulation rows of ``seq`` tokens."""
    return SEED_STEPS * SEED_ACCUMULATION * batch * seq / tokens_per_s / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--largest", default="48", help="batch(es) tried for ours under the 15 GB budget, largest first")
    parser.add_argument("--budget-gb", type=float, default=15.0)
    parser.add_argument("--tokenizer-dir", default=None, help="default: the offline SmolLM2's (converted from its GGUF)")
    parser.add_argument("--workdir", default="/tmp/gpu_seed_runs")
    parser.add_argument("--out", default=None)
    parser.add_argument("--log-dir", default=None)
    opts = parser.parse_args()
    tokenizer_dir = opts.tokenizer_dir
    if tokenizer_dir is None:
        from training.models import ensure_offline_smollm2

        tokenizer_dir = str(ensure_offline_smollm2())
    work = Path(opts.workdir)
    log_dir = Path(opts.log_dir or (Path(opts.out).parent if opts.out else work))
    log_dir.mkdir(parents=True, exist_ok=True)
    import torch

    device = torch.cuda.get_device_name(0)
    t0 = time.perf_counter()
    one_b = make_model(work / "llama-3.2-1b-shape", LLAMA_32_1B, tokenizer_dir)
    print(f"1B-shaped model ready ({time.perf_counter() - t0:.0f}s)", flush=True)
    largest = [int(b) for b in opts.largest.split(",")]
    # one process: ours at the largest batches tried under the budget, then the seed's batch 2
    ours_1b = run_worker("1b_largest_then_seed_b2", one_b, largest + [2], opts, log_dir, opts.budget_gb)
    print(json.dumps(ours_1b)[:600], flush=True)
    t0 = time.perf_counter()
    three_b = make_model(work / "llama-3.2-3b-shape", LLAMA_32_3B, tokenizer_dir)
    print(f"3B-shaped model ready ({time.perf_counter() - t0:.0f}s)", flush=True)
    seed_3b = run_worker("3b_seed_b4", three_b, [4], opts, log_dir, None)
    print(json.dumps(seed_3b)[:600], flush=True)

    rows = []
    for arm, label, shape in ((ours_1b, "1B", "1B"), (seed_3b, "3B", "3B")):
        for m in arm.get("results", []):
            if not m.get("fits"):
                rows.append({"model": shape, "batch": m["batch"], "fits": False})
                continue
            role = "seed" if (shape, m["batch"]) in (("1B", 2), ("3B", 4)) else f"ours (largest batch in {opts.budget_gb:g} GB)"
            rows.append({"model": shape, "batch": m["batch"], "fits": True, "role": role,
                         "tokens_per_s": round(m["tokens_per_s"], 1), "step_s_median": round(m["step_s_median"], 4),
                         "peak_allocated_gb": round(m["peak_allocated_gb"], 2), "peak_reserved_gb": round(m["peak_reserved_gb"], 2)})
    seed_tokens = {shape: SEED_STEPS * SEED_ACCUMULATION * b * opts.seq for shape, b in (("1B", 2), ("3B", 4))}
    for r in rows:
        if r.get("fits"):  # the seed's run of this model size (its tokens), at this row's rate
            r["seed_run_hours"] = round(seed_tokens[r["model"]] / r["tokens_per_s"] / 3600, 2)
    print(f"\nThe seed's runs vs ours on {device} (4-bit QLoRA, LoRA r=16 on 7 modules, rows of {opts.seq} tokens)")
    print(f"{'model':<5} {'batch':>5} {'role':<34} {'tokens/s':>10} {'peak resv GB':>12} {'hours for the seed run':>23}")
    for r in rows:
        if not r.get("fits"):
            print(f"{r['model']:<5} {r['batch']:>5} does not fit")
            continue
        print(f"{r['model']:<5} {r['batch']:>5} {r['role']:<34} {r['tokens_per_s']:>10,.0f} {r['peak_reserved_gb']:>12.2f} "
              f"{r['seed_run_hours']:>23.2f}")
    print(f"(the seed's 1B run: {SEED_STEPS:,} steps x batch 2 x {SEED_ACCUMULATION} accumulation x {opts.seq} tokens = "
          f"{seed_tokens['1B']:,} tokens at most; its 3B run at batch 4: {seed_tokens['3B']:,})")
    if opts.out:
        Path(opts.out).write_text(json.dumps({"device": device, "seq": opts.seq, "steps": opts.steps, "warmup": opts.warmup,
                                              "budget_gb": opts.budget_gb, "seed_steps": SEED_STEPS,
                                              "seed_accumulation": SEED_ACCUMULATION, "seed_tokens": seed_tokens,
                                              "rows": rows, "raw": [ours_1b, seed_3b]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
