"""QLoRA training speed and memory on a CUDA GPU: our trainer vs a plain transformers + PEFT + bitsandbytes baseline.

Both train a model of Llama-3.2-1B's exact shape (random init: speed and memory do not depend on the values) in
4-bit NF4 with LoRA r=16 / alpha=16 / dropout 0 on the seven projection modules, AdamW 8-bit, bf16, on full-length
random-token rows of ``--seq`` tokens (every token trainable), one optimizer step per batch.

* ``ours``      :func:`training.models.load_for_training` + :func:`training.run.build_sft_config` + TRL
                  ``SFTTrainer``, i.e. exactly what ``tome train`` runs (Unsloth), with ``configs/train.yaml``.
* ``baseline``  ``AutoModelForCausalLM`` + ``BitsAndBytesConfig`` + ``prepare_model_for_kbit_training`` +
                  ``get_peft_model`` + ``transformers.Trainer`` with gradient checkpointing (HF's QLoRA recipe).

Every arm runs in its own process (importing Unsloth patches transformers for the whole process). tokens/s is
measured over the steps after ``--warmup`` (CUDA-synchronized step wall time); peak memory is PyTorch's
``max_memory_allocated`` / ``max_memory_reserved`` over the run. ``--budget-gb`` caps each process at that much
GPU memory (``torch.cuda.set_per_process_memory_fraction``) and finds the largest batch that trains under it.

    python benchmarks/gpu_train_bench.py                       # fixed batch 8 x 2048: ours vs baseline
    python benchmarks/gpu_train_bench.py --suite budget        # largest batch under 15 GB, each side
    python benchmarks/gpu_train_bench.py --suite levers        # what our config moves (GC mode, padding-free, packing)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LLAMA_32_1B = dict(  # meta-llama/Llama-3.2-1B-Instruct config.json
    vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
    num_key_value_heads=8, head_dim=64, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
    hidden_act="silu", attention_bias=False, mlp_bias=False, bos_token_id=128000, eos_token_id=128009,
    rope_theta=500000.0,
    rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# --- model and data -------------------------------------------------------------------------------------


def make_model_dir(path: Path, tokenizer_dir: str | None = None) -> Path:
    """A Llama-3.2-1B-shaped checkpoint with random weights (bf16) and a tokenizer (SmolLM2's; ids only matter)."""
    if (path / "config.json").exists():
        return path
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if tokenizer_dir is None:
        from training.models import ensure_offline_smollm2

        tokenizer_dir = str(ensure_offline_smollm2())
    torch.manual_seed(0)
    config = LlamaConfig(**LLAMA_32_1B, dtype="bfloat16")
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.save_pretrained(path)
    del model
    torch.cuda.empty_cache()
    return path


def token_rows(n: int, seq: int, vocab: int, seed: int, lengths: str = "full") -> dict[str, list[list[int]]]:
    """Random token rows; ``lengths="full"``: all ``seq`` long, ``"mixed"``: uniform in [seq/16, seq]."""
    import random

    rng = random.Random(seed)
    ids = []
    for _ in range(n):
        length = seq if lengths == "full" else rng.randint(max(16, seq // 16), seq)
        ids.append([rng.randrange(100, vocab) for _ in range(length)])
    return {"input_ids": ids, "labels": [list(row) for row in ids]}


# --- workers (one arm, one process) ---------------------------------------------------------------------


def _timer():
    from training.callbacks import StepTimer

    return StepTimer()


def _trainer_ours(loaded, cfg, batch: int, rows: dict, steps: int, workdir: Path):
    from datasets import Dataset
    from trl import SFTTrainer

    from training.run import build_sft_config, run_paths

    cfg = cfg.model_copy(deep=True)
    cfg.training.per_device_batch_size = batch
    cfg.training.max_steps = steps
    args = build_sft_config(cfg, run_paths(workdir), has_eval=False, resume=False, bf16=True)
    args.save_strategy = "no"
    timer = _timer()
    trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=Dataset.from_dict(rows),
                         processing_class=loaded.tokenizer, callbacks=[timer])
    return trainer, timer


def _load_ours(model_dir: Path, seq: int, gc_mode, padding_free, packing):
    from training.config import GPU_DEFAULT_CONFIG, load_config
    from training.models import load_for_training

    overrides = {
        "model": {"name": str(model_dir), "max_seq_length": seq, "chat_template": None},
        "lora": {"gradient_checkpointing": gc_mode},
        "training": {"gradient_accumulation_steps": 1, "logging_steps": 1, "packing": packing, "padding_free": padding_free},
    }
    cfg = load_config(GPU_DEFAULT_CONFIG, overrides)
    return load_for_training(cfg), cfg


def _load_baseline(model_dir: Path):
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=bnb, dtype=torch.bfloat16,
                                                 device_map={"": 0}, attn_implementation="sdpa")
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, bias="none",
                                             target_modules=TARGETS, task_type="CAUSAL_LM"))
    return model, AutoTokenizer.from_pretrained(model_dir)


def _trainer_baseline(model, tokenizer, batch: int, rows: dict, steps: int, workdir: Path):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    args = TrainingArguments(
        output_dir=str(workdir), per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_steps=steps,
        learning_rate=2e-4, warmup_steps=5, lr_scheduler_type="linear", weight_decay=0.01, optim="adamw_8bit",
        bf16=True, gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, seed=3407, dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    timer = _timer()
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict(rows),
                      data_collator=DataCollatorForLanguageModeling(pad_token_id=pad), callbacks=[timer])
    return trainer, timer


def worker(opts: argparse.Namespace) -> dict:
    import torch

    arm = opts.worker
    total = torch.cuda.get_device_properties(0).total_memory
    if opts.budget_gb:
        torch.cuda.set_per_process_memory_fraction(min(1.0, opts.budget_gb * 1e9 / total))
    model_dir = Path(opts.model_dir)
    workdir = Path(opts.workdir) / arm
    steps = opts.warmup + opts.steps
    if arm.startswith("ours"):
        from training.models import import_unsloth

        import_unsloth()
        loaded, cfg = _load_ours(model_dir, opts.seq, _gc(opts.gc), _tristate(opts.padding_free), opts.packing)

        def build(batch, rows):
            return _trainer_ours(loaded, cfg, batch, rows, steps, workdir)
    else:
        model, tokenizer = _load_baseline(model_dir)

        def build(batch, rows):
            return _trainer_baseline(model, tokenizer, batch, rows, steps, workdir)

    results = []
    for batch in opts.batches:
        rows = token_rows(batch * steps, opts.seq, LLAMA_32_1B["vocab_size"], seed=batch, lengths=opts.lengths)
        real_tokens = [sum(len(r) for r in rows["input_ids"][i * batch:(i + 1) * batch]) for i in range(steps)]
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        trainer = None
        try:
            trainer, timer = build(batch, rows)
            trainer.train()
        except (torch.OutOfMemoryError, RuntimeError) as exc:
            if "out of memory" not in str(exc).lower():
                raise
            results.append({"batch": batch, "fits": False, "error": str(exc).splitlines()[0][:200]})
            del trainer
            continue
        measured = timer.durations[opts.warmup:]
        # non-padding input tokens the trainer counted in each step (packing puts more rows in a step than `batch`)
        tokens = sum(timer.tokens[opts.warmup:]) or sum(real_tokens[opts.warmup:opts.warmup + len(measured)])
        results.append({
            "batch": batch, "fits": True, "steps_measured": len(measured),
            "tokens_per_s": tokens / sum(measured),
            "step_s_median": sorted(measured)[len(measured) // 2],
            "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9,
            "peak_reserved_gb": torch.cuda.max_memory_reserved() / 1e9,
            "padding_free": bool(getattr(trainer.args, "padding_free", False)),
            "packing": bool(getattr(trainer.args, "packing", False)),
            "loss_last": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
        })
        del trainer
        if opts.first_fit:
            break
    return {"arm": arm, "seq": opts.seq, "gc": opts.gc, "lengths": opts.lengths, "budget_gb": opts.budget_gb,
            "device": torch.cuda.get_device_name(0), "results": results}


def _gc(value: str):
    return {"true": True, "false": False}.get(value, value)


def _tristate(value: str):
    return {"true": True, "false": False}.get(value)


# --- parent: arms, table --------------------------------------------------------------------------------

SUITES = {
    # arm name, worker, extra args
    "fixed": [
        ("baseline", "baseline", []),
        ("ours", "ours", []),
    ],
    "budget": [
        ("baseline", "baseline", ["--batches", "16,12,8,6,4,3,2,1", "--first-fit"]),
        ("ours", "ours", ["--batches", "64,48,32,24,16,12,8", "--first-fit"]),
    ],
    "levers": [
        ("ours gc=false", "ours", ["--gc", "false"]),
        ("ours gc=true", "ours", ["--gc", "true"]),
        ("baseline mixed", "baseline", ["--lengths", "mixed"]),
        ("ours mixed padded", "ours", ["--lengths", "mixed", "--padding-free", "false"]),
        ("ours mixed padding-free", "ours", ["--lengths", "mixed", "--padding-free", "true"]),
        ("ours mixed packing", "ours", ["--lengths", "mixed", "--packing"]),
    ],
}


def run_arm(name: str, worker_name: str, extra: list[str], opts: argparse.Namespace, log_dir: Path) -> dict:
    args = [sys.executable, __file__, "--worker", worker_name, "--model-dir", opts.model_dir, "--workdir", opts.workdir,
            "--seq", str(opts.seq), "--steps", str(opts.steps), "--warmup", str(opts.warmup),
            "--batches", ",".join(map(str, opts.batches))]
    if opts.suite == "budget":
        args += ["--budget-gb", str(opts.budget_gb or 15.0)]
    args += extra
    log = log_dir / f"{name.replace(' ', '_').replace('=', '-')}.log"
    started = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=fh, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    fh_text = proc.stdout
    line = next((l for l in fh_text.splitlines() if l.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return {"arm": name, "error": f"exit {proc.returncode}: " + " | ".join(tail), "seconds": time.perf_counter() - started}
    result = json.loads(line[len("RESULT "):])
    result["arm"] = name
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def table(results: list[dict]) -> str:
    rows = []
    base = {}
    for r in results:
        for m in r.get("results", []):
            if m.get("fits") and r["arm"].startswith("baseline"):
                base[r.get("lengths", "full")] = base.get(r.get("lengths", "full")) or m
    head = f"{'arm':<26} {'batch':>5} {'seq':>5} {'tokens/s':>10} {'x base':>7} {'peak alloc GB':>13} {'peak resv GB':>12} {'x base':>7}"
    rows.append(head)
    rows.append("-" * len(head))
    for r in results:
        if "error" in r:
            rows.append(f"{r['arm']:<26} ERROR {r['error'][:120]}")
            continue
        fitted = [m for m in r["results"] if m.get("fits")]
        if not fitted:
            rows.append(f"{r['arm']:<26} no batch fits: " + ", ".join(str(m["batch"]) for m in r["results"]))
            continue
        m = fitted[0]
        b = base.get(r.get("lengths", "full"))
        speed = f"{m['tokens_per_s'] / b['tokens_per_s']:.2f}x" if b else "-"
        mem = f"{m['peak_reserved_gb'] / b['peak_reserved_gb']:.2f}x" if b else "-"
        rows.append(f"{r['arm']:<26} {m['batch']:>5} {r['seq']:>5} {m['tokens_per_s']:>10,.0f} {speed:>7} "
                    f"{m['peak_allocated_gb']:>13.2f} {m['peak_reserved_gb']:>12.2f} {mem:>7}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="fixed")
    parser.add_argument("--arms", default=None, help="comma-separated subset of the suite's arm names")
    parser.add_argument("--batches", default="8", help="batch size(s) to try, comma-separated")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=8, help="measured steps")
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of the timing")
    parser.add_argument("--budget-gb", type=float, default=None, help="GPU memory cap for --suite budget (default 15)")
    parser.add_argument("--model-dir", default="/tmp/llama-3.2-1b-shape")
    parser.add_argument("--workdir", default="/tmp/gpu_train_bench")
    parser.add_argument("--tokenizer-dir", default=None, help="tokenizer for the random model (default: the offline SmolLM2's)")
    parser.add_argument("--out", default=None, help="write all results as JSON here")
    parser.add_argument("--log-dir", default=None, help="one log per arm (default: beside --out)")
    # worker-only
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gc", default="unsloth", help=argparse.SUPPRESS)
    parser.add_argument("--padding-free", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--packing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lengths", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--first-fit", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    opts.batches = [int(b) for b in str(opts.batches).split(",")]
    if opts.worker:
        print("RESULT " + json.dumps(worker(opts)), flush=True)
        return

    import torch

    make_model_dir(Path(opts.model_dir), opts.tokenizer_dir)
    device = torch.cuda.get_device_name(0)
    log_dir = Path(opts.log_dir or (Path(opts.out).parent if opts.out else opts.workdir))
    log_dir.mkdir(parents=True, exist_ok=True)
    arms = SUITES[opts.suite]
    if opts.arms:
        wanted = {a.strip() for a in opts.arms.split(",")}
        arms = [a for a in arms if a[0] in wanted]
    results = []
    for name, worker_name, extra in arms:
        result = run_arm(name, worker_name, extra, opts, log_dir)
        results.append(result)
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {json.dumps(result)[:400]}", flush=True)
    print(f"\n{opts.suite} suite on {device} (Llama-3.2-1B shape, 4-bit NF4, LoRA r=16 on 7 modules, seq {opts.seq})")
    if opts.suite == "budget":
        print(f"each side at the largest batch that trains under {opts.budget_gb or 15.0:g} GB (tried, largest first):")
    print(table(results))
    if opts.out:
        Path(opts.out).write_text(json.dumps({"suite": opts.suite, "device": device, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
