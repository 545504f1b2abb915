"""Does packing change what a fine-tune learns? SmolLM2-135M-Instruct, packing on and off, same rows, same tokens.

Each arm is ``tome train`` (:func:`training.run.train`) with ``configs/train_smollm2_gpu.yaml`` (4-bit QLoRA, LoRA
r=16, lr 2e-4 linear, 1 epoch, max_seq_length 1024) on the train split of a curation output, for several seeds
(the seed sets LoRA init and data order). Unpacked runs take ``--batch`` rows per step; packed runs take as many
packed sequences per step as come closest to the same number of steps, so both see the same tokens in about the same
number of optimizer steps. Held-out loss: the validation split, unpacked, the same rows in the same eval batches
(``--batch`` rows) for every run. All runs go at once (a 135M model leaves the GPU mostly idle), each in its own
process.

    python benchmarks/gpu_packing_convergence.py --data out/ --out results/convergence.json

Prints one row per run, then per arm the mean and spread of the final held-out loss, and whether the two arms'
means differ by at most two seed standard deviations (the larger arm's).

The two arms' step counts can differ by a step or two: unpacked steps = ceil(rows / --batch), the packed batch is
the packed sequence count divided by those steps and rounded, and packed steps = ceil(sequences / packed batch).
On the shared alpaca rows, 640 rows at --batch 16 give 40 steps against 42 packed (126 sequences, 3 a step).
Held-out loss falls by about 0.002 a step there, so a step or two of difference shows as a loss difference of that
size in favour of the arm with more steps. To bring them together, read the line the script prints before any run
starts ("train split: ...": the packed sequence count and ``unpacked_steps``), then choose --max-rows and --batch
so that ceil(rows / batch) and ceil(sequences / packed batch) agree; the sequence count moves with --max-rows (630
rows: 123 sequences, 42 steps unpacked at --batch 15 against 41 packed), so try a few. Exactly equal counts may
not exist for a given split. --batch also sets the eval batches, and the held-out loss is a mean of batch means: on
those rows, 48 validation rows in batches of 15 (15 + 15 + 15 + 3) read 0.009 lower at step 0 than in batches of
16, so compare runs made with different --batch by their drop from step 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tomecraft.config_files import deep_merge  # noqa: E402
from training.config import CONFIG_DIR, load_config  # noqa: E402

CONFIG = CONFIG_DIR / "train_smollm2_gpu.yaml"


def packed_batch(data: Path, batch: int, max_rows: int | None, override: dict) -> tuple[int, dict]:
    """Packed sequences per step that give the unpacked run's number of steps, and the split's numbers."""
    from training.models import ensure_offline_smollm2, import_unsloth

    import_unsloth()
    from transformers import AutoTokenizer

    from training.data import prepare_split, read_rows, response_masker, template_parts
    from training.packing import pack_rows

    cfg = load_config(CONFIG, override)
    tok = AutoTokenizer.from_pretrained(ensure_offline_smollm2())  # the tokenizer of the offline model
    instruction, response = template_parts(tok, None, None, None)
    split = prepare_split(read_rows(data, "train", max_rows), "train", tok, response_masker(tok, instruction, response),
                          cfg.model.max_seq_length, response)
    packed = pack_rows(split.input_ids, split.labels, cfg.model.max_seq_length)
    steps = math.ceil(len(split.input_ids) / batch)
    return max(1, round(len(packed.input_ids) / steps)), {**split.stats(), "packing": packed.stats(), "unpacked_steps": steps}


def one(opts: argparse.Namespace) -> None:
    from training.run import train

    overrides = {
        "data": {"max_train_rows": opts.max_rows, "max_eval_rows": None},
        "training": {"packing": opts.packing == "on", "seed": opts.seed, "per_device_batch_size": opts.batch,
                     "eval_batch_size": opts.eval_batch,
                     "eval_steps": opts.eval_steps, "save_steps": 100_000, "save_total_limit": 1},
    }
    summary = train(opts.data, load_config(CONFIG, deep_merge(overrides, json.loads(opts.override))), opts.run)
    print("SUMMARY " + json.dumps(summary.to_dict()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a tome curate output folder")
    parser.add_argument("--out", required=True, help="results JSON (logs and run folders beside it)")
    parser.add_argument("--seeds", default="3407,3408,3409")
    parser.add_argument("--batch", type=int, default=16,
                        help="rows per step, unpacked; also both arms' eval batch (with --max-rows, sets the step counts: see above)")
    parser.add_argument("--max-rows", type=int, default=None, help="use the first N train rows (moves the packed sequence count)")
    parser.add_argument("--eval-steps", type=int, default=10)
    parser.add_argument("--eval-batch", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--runs-dir", default=None, help="where the run folders go (default: beside --out)")
    parser.add_argument("--override", default="{}", help="JSON merged into every run's config (e.g. a smaller model to try the script)")
    # one run (a child process)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--packing", default="off", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=3407, help=argparse.SUPPRESS)
    parser.add_argument("--run", default=None, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.one:
        one(opts)
        return

    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(opts.runs_dir or out.parent / "convergence-runs")
    runs_dir.mkdir(parents=True, exist_ok=True)
    batch_packed, split = packed_batch(Path(opts.data), opts.batch, opts.max_rows, json.loads(opts.override))
    print(f"train split: {json.dumps(split)}; unpacked batch {opts.batch} rows, packed batch {batch_packed} sequences", flush=True)
    procs = []
    for packing, batch in (("off", opts.batch), ("on", batch_packed)):
        for seed in [int(s) for s in opts.seeds.split(",")]:
            name = f"packing-{packing}-seed{seed}"
            cmd = [sys.executable, __file__, "--one", "--data", opts.data, "--out", opts.out, "--packing", packing,
                   "--seed", str(seed), "--batch", str(batch), "--eval-steps", str(opts.eval_steps),
                   "--eval-batch", str(opts.batch),  # the same eval batches for both arms: the loss averages batch means
                   "--run", str(runs_dir / name), "--override", opts.override]
            if opts.max_rows:
                cmd += ["--max-rows", str(opts.max_rows)]
            log = (out.parent / f"{out.stem}-{name}.log").open("w")
            procs.append((name, packing, seed, batch, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                                                                      env=dict(os.environ, PYTHONUNBUFFERED="1")), log))
    runs = []
    started = time.perf_counter()
    for name, packing, seed, batch, proc, log in procs:
        stdout, _ = proc.communicate()
        log.close()
        line = next((l for l in stdout.splitlines() if l.startswith("SUMMARY ")), None)
        record = {"name": name, "packing": packing, "seed": seed, "batch": batch, "exit": proc.returncode}
        if line:
            s = json.loads(line[len("SUMMARY "):])
            record.update({k: s[k] for k in ("global_step", "tokens_seen", "tokens_per_second", "train_seconds",
                                             "train_loss_first", "train_loss_last", "eval_loss_first", "eval_loss_last",
                                             "eval_losses", "peak_memory_bytes")})
            record["packing_record"] = s["data"].get("packing")
            record["loss_mask_share"] = s["data"]["train"].get("loss_mask_share")
        runs.append(record)
    wall = time.perf_counter() - started

    arms = {}
    for packing in ("off", "on"):
        finals = [r["eval_loss_last"] for r in runs if r["packing"] == packing and r.get("eval_loss_last") is not None]
        arms[packing] = {"final_eval_losses": finals,
                         "mean": statistics.mean(finals) if finals else None,
                         "stdev": statistics.stdev(finals) if len(finals) > 1 else None}
    verdict = None
    if all(a["mean"] is not None and a["stdev"] is not None for a in arms.values()):
        diff = arms["on"]["mean"] - arms["off"]["mean"]
        noise = max(arms["on"]["stdev"], arms["off"]["stdev"])
        verdict = {"mean_difference": diff, "largest_seed_stdev": noise,
                   "within_seed_noise": abs(diff) <= 2 * noise}  # |difference of means| <= 2 seed stdevs
    Path(opts.out).write_text(json.dumps({"split": split, "batch_unpacked": opts.batch, "batch_packed": batch_packed,
                                          "wall_seconds": round(wall, 1), "runs": runs, "arms": arms, "verdict": verdict},
                                         indent=2) + "\n")
    head = f"{'run':<22} {'batch':>5} {'steps':>5} {'tokens':>9} {'tok/s':>7} {'pack eff':>8} {'train loss':>17} {'held-out loss':>17}"
    print(head + "\n" + "-" * len(head))
    for r in runs:
        if "global_step" not in r:
            print(f"{r['name']:<22} FAILED (exit {r['exit']}; see its log)")
            continue
        pack = r.get("packing_record") or {}
        eff = f"{pack['efficiency']:.3f}" if pack.get("active") else "-"
        print(f"{r['name']:<22} {r['batch']:>5} {r['global_step']:>5} {r['tokens_seen']:>9,} {r['tokens_per_second']:>7,.0f} {eff:>8} "
              f"{r['train_loss_first']:>7.3f} -> {r['train_loss_last']:<6.3f} {r['eval_loss_first']:>7.3f} -> {r['eval_loss_last']:<6.3f}")
    for packing, a in arms.items():
        if a["mean"] is not None:
            print(f"packing {packing}: final held-out loss {a['mean']:.4f} (seed stdev {a['stdev'] or 0:.4f}; {a['final_eval_losses']})")
    print(f"verdict: {json.dumps(verdict)}")


if __name__ == "__main__":
    main()
