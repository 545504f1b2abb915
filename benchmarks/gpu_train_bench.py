"""QLoRA training speed and memory on a CUDA GPU: our trainer vs a plain transformers + PEFT + bitsandbytes baseline.

Both train a model of Llama-3.2-1B's exact shape (random init: speed and memory do not depend on the values) in
4-bit NF4 with LoRA r=16 / alpha=16 / dropout 0 on the seven projection modules, AdamW 8-bit, bf16, on random-token
rows of ``--seq`` tokens (``full``) or of lengths uniform in [seq/16, seq] (``mixed``), every token trainable, one
optimizer step per batch.

* ``ours``      :func:`training.models.load_for_training` + :func:`training.run.build_sft_config` + TRL
                  ``SFTTrainer``, i.e. what ``tome train`` runs (Unsloth), with ``configs/train.yaml``; packed
                  trials pack with :func:`training.packing.pack_rows` and check the trainer's collator first.
* ``baseline``  ``AutoModelForCausalLM`` + ``BitsAndBytesConfig`` + ``prepare_model_for_kbit_training`` +
                  ``get_peft_model`` + ``transformers.Trainer`` with gradient checkpointing (HF's QLoRA recipe).

Each worker is its own process (importing Unsloth patches transformers for the whole process) and runs several
trials on one loaded model. tokens/s = non-padding tokens the trainer fed / CUDA-synchronized step wall time,
over the steps after ``--warmup``; peak memory is PyTorch's ``max_memory_allocated`` / ``max_memory_reserved``.
A 15 GB trial caps the process (``torch.cuda.set_per_process_memory_fraction``) and takes the first batch, largest
first, that trains under it. ``profile`` trials time one extra step under ``torch.profiler`` (GPU kernel time by
kind: matmul, attention, dequantize, loss, optimizer, copies); ``attention_check`` compares each row's logits
inside a packed sequence with the row alone.

    python benchmarks/gpu_train_bench.py --suite h200 --out r.json   # the README table: full rows, mixed, 15 GB
    python benchmarks/gpu_train_bench.py                             # fixed batch 8 x 2048: ours vs baseline
    python benchmarks/gpu_train_bench.py --suite budget              # largest batch under 15 GB, each side
    python benchmarks/gpu_train_bench.py --suite levers              # GC mode, padding-free, packing
    python benchmarks/gpu_train_bench.py --suite varlen              # packed attention: varlen flash vs per row
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
# --cpu-smoke: the same code paths on a CPU with a 2-layer model, 16-bit, to try the script before GPU time is spent
SMOKE = os.environ.get("GPU_TRAIN_BENCH_SMOKE") == "1"
SHAPE = dict(LLAMA_32_1B, vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, head_dim=16, bos_token_id=1, eos_token_id=2) if SMOKE else LLAMA_32_1B


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


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
    config = LlamaConfig(**SHAPE, dtype="bfloat16")
    with torch.device("cuda" if _cuda() else "cpu"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.save_pretrained(path)
    del model
    if _cuda():
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


# --- workers (one process runs several trials on one loaded model) -------------------------------------------
#
# A trial: {"name", "lengths": full|mixed, "batches": [..], "mode": rows|pack|trl-pack, "padding_free": null|bool,
#           "fixed_pad": bool, "profile": bool, "first_fit": bool, "budget_gb": null|float, "attention_check": bool}
#   rows      the rows as they are (our default for unpacked rows: Unsloth picks padded or padding-free)
#   pack      training.packing: rows packed by training.packing.pack_rows, checked on the trainer's collator
#   trl-pack  TRL's own packing inside SFTTrainer (SFTConfig.packing=True), the path before training.packing


def _timer():
    from training.callbacks import StepTimer

    return StepTimer()


class ProfileStep:
    """Profiles one optimizer step (the last one) with torch.profiler; summarizes GPU kernel time by kind."""

    KINDS = (  # first match wins; kernel names of cuBLAS/CUTLASS, flash, bitsandbytes, Unsloth/Triton kernels
        ("attention", ("flash", "fmha", "attention", "varlen", "sdpa", "softmax")),
        ("dequantize", ("dequant", "kdequantize", "nf4", "quant")),
        ("loss", ("cross_entropy", "crossentropy", "_ce_", "logsumexp", "fused_ce", "log_softmax", "nll")),
        ("optimizer", ("adam", "optimizer", "koptimizer", "clip", "norm_kernel", "foreach")),
        ("matmul", ("gemm", "cutlass", "xmma", "nvjet", "matmul", "wgmma", "sm90", "cublas")),
        ("memcpy / offload", ("memcpy", "memset")),
        ("norm / rope / act", ("rms", "rope", "swiglu", "silu", "geglu", "layernorm")),
    )

    def __init__(self, step: int) -> None:
        self.step = step
        self.prof = None
        self.wall = None
        self.summary: dict = {}

    def callback(self):
        from transformers import TrainerCallback

        outer = self

        class _CB(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001
                if state.global_step + 1 == outer.step:
                    import torch
                    from torch.profiler import ProfilerActivity, profile

                    activities = [ProfilerActivity.CPU]
                    if torch.cuda.is_available():
                        torch.cuda.synchronize()
                        activities.append(ProfilerActivity.CUDA)
                    outer.prof = profile(activities=activities)
                    outer.prof.__enter__()
                    outer.wall = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
                if outer.prof is not None and outer.wall is not None and state.global_step == outer.step:
                    import torch

                    if torch.cuda.is_available():
                        torch.cuda.synchronize()
                    wall = time.perf_counter() - outer.wall
                    outer.prof.__exit__(None, None, None)
                    outer.summary = outer.summarize(outer.prof, wall)
                    outer.wall = None

        return _CB()

    def summarize(self, prof, wall: float) -> dict:
        from torch.autograd import DeviceType

        kinds: dict[str, float] = {}
        kernels: list[tuple[float, str, int]] = []
        for evt in prof.key_averages():
            if getattr(evt, "device_type", None) != DeviceType.CUDA:
                continue
            t = float(getattr(evt, "self_device_time_total", 0) or 0) / 1e6  # us -> s
            if t <= 0:
                continue
            name = evt.key.lower()
            kind = next((k for k, words in self.KINDS if any(w in name for w in words)), "other")
            kinds[kind] = kinds.get(kind, 0.0) + t
            kernels.append((t, evt.key[:110], int(evt.count)))
        busy = sum(kinds.values())
        top = sorted(kernels, reverse=True)[:15]
        return {
            "step_wall_s": round(wall, 4), "gpu_kernel_s": round(busy, 4),
            "gpu_busy_share": round(busy / wall, 3) if wall else None,
            "by_kind_s": {k: round(v, 4) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
            "top_kernels": [{"s": round(t, 5), "calls": n, "name": name} for t, name, n in top],
        }


def _trial_rows(trial: dict, batch: int, steps: int, seq: int) -> dict:
    """Rows for a trial: ``batch * steps`` rows, or for packing enough rows to fill ``steps`` full batches."""
    vocab = SHAPE["vocab_size"]
    lengths = trial.get("lengths", "full")
    if trial.get("mode", "rows") == "rows":
        return token_rows(batch * steps, seq, vocab, seed=batch, lengths=lengths)
    want = int(batch * steps * seq * 1.03)
    mean = seq if lengths == "full" else (max(16, seq // 16) + seq) / 2
    n = int(want / mean) + batch
    return token_rows(n, seq, vocab, seed=batch, lengths=lengths)


def _load_ours(model_dir: Path, seq: int, gc_mode, batch: int):
    """``configs/train.yaml`` on the random model; ``lora.gradient_checkpointing`` resolves (``auto``) at ``batch``."""
    from training.config import GPU_DEFAULT_CONFIG, load_config
    from training.models import load_for_training

    overrides = {
        "model": {"name": str(model_dir), "max_seq_length": seq, "chat_template": None},
        "lora": {"gradient_checkpointing": gc_mode},
        "training": {"gradient_accumulation_steps": 1, "logging_steps": 1, "per_device_batch_size": batch},
    }
    if SMOKE:
        overrides["model"]["load_in_4bit"] = False
    cfg = load_config(GPU_DEFAULT_CONFIG, overrides)
    return load_for_training(cfg), cfg


def _load_baseline(model_dir: Path):
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                             bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(model_dir, quantization_config=None if SMOKE else bnb, dtype=torch.bfloat16,
                                                 device_map={"": 0} if _cuda() else None, attn_implementation="sdpa")
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, bias="none",
                                             target_modules=TARGETS, task_type="CAUSAL_LM"))
    return model, AutoTokenizer.from_pretrained(model_dir)


def _trainer_ours(loaded, cfg, trial: dict, batch: int, rows: dict, steps: int, workdir: Path, callbacks: list):
    from datasets import Dataset
    from trl import SFTTrainer

    from training.packing import check_collator, collates_packed, pack_rows
    from training.run import build_sft_config, run_paths, trainer_datasets

    mode = trial.get("mode", "rows")
    cfg = cfg.model_copy(deep=True)
    cfg.training.per_device_batch_size = batch
    cfg.training.max_steps = steps
    seq = cfg.model.max_seq_length
    packed = pack_rows(rows["input_ids"], rows["labels"], seq) if mode == "pack" else None
    args = build_sft_config(cfg, run_paths(workdir), has_eval=False, resume=False, bf16=True, packed=packed is not None,
                            gradient_checkpointing=loaded.gradient_checkpointing)
    if mode == "trl-pack":
        args.packing = True
    if mode == "rows" and trial.get("padding_free") is not None:
        args.padding_free = trial["padding_free"]
    if trial.get("fixed_pad"):
        args.pad_to_multiple_of = batch * seq  # every packed batch the same shape
    args.save_strategy = "no"
    timer = _timer()
    if packed is not None:
        train_data = trainer_datasets(None, None, packed, seq)[0]  # what tome train hands the trainer
    else:
        train_data = Dataset.from_dict(rows)
    trainer = SFTTrainer(model=loaded.model, args=args, train_dataset=train_data,
                         processing_class=loaded.tokenizer, callbacks=[timer, *callbacks])
    info = {"gc": loaded.gradient_checkpointing}
    if packed is not None:
        if SMOKE and not collates_packed(trainer.data_collator):
            trainer.data_collator.padding_free = True  # CPU smoke only: exercises the code, proves nothing
        if not collates_packed(trainer.data_collator):
            raise RuntimeError("training.packing: the trainer's collator is not padding-free here")
        data = trainer.train_dataset
        check_collator(trainer.data_collator, [data[i] for i in range(2)])
        info["packing"] = packed.stats()
        info["_packed"] = packed
    return trainer, timer, info


def _trainer_baseline(model, tokenizer, trial: dict, batch: int, rows: dict, steps: int, workdir: Path, callbacks: list):
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    args = TrainingArguments(
        output_dir=str(workdir), per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_steps=steps,
        learning_rate=2e-4, warmup_steps=5, lr_scheduler_type="linear", weight_decay=0.01,
        optim="adamw_torch" if SMOKE else "adamw_8bit", use_cpu=SMOKE,
        bf16=True, gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, seed=3407, dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
    )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    timer = _timer()
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict(rows),
                      data_collator=DataCollatorForLanguageModeling(pad_token_id=pad), callbacks=[timer, *callbacks])
    return trainer, timer, {"gc": True}


def packed_attention_check(model, collator, packed, rows: dict) -> dict:
    """Logits of each row inside a packed sequence vs the row alone (and vs positions that do not restart)."""
    import torch

    seq = max(range(len(packed.rows)), key=lambda i: len(packed.rows[i]))  # the sequence with the most rows
    example = {"input_ids": packed.input_ids[seq], "labels": packed.labels[seq], "seq_lengths": packed.seq_lengths[seq]}

    def logits(batch, keys=("input_ids", "position_ids", "packed_seq_lengths")):
        kw = {k: batch[k].to(model.device) for k in keys if k in batch}
        with torch.no_grad():
            return model(**kw).logits[0].float()

    batch = collator([example])
    together = logits(batch)
    leaky = logits({"input_ids": batch["input_ids"]}, ("input_ids",))
    worst_packed = worst_leaky = 0.0
    start = 0
    for r in packed.rows[seq]:
        ids = rows["input_ids"][r]
        alone = logits(collator([{"input_ids": ids, "labels": ids}]))
        end = start + len(ids)
        scale = alone.abs().max().item()
        worst_packed = max(worst_packed, (together[start:end] - alone).abs().max().item() / scale)
        if start:
            worst_leaky = max(worst_leaky, (leaky[start:end] - alone).abs().max().item() / scale)
        start = end
    return {"rows": len(packed.rows[seq]), "max_rel_diff_packed_vs_alone": worst_packed,
            "max_rel_diff_unrestarted_vs_alone": worst_leaky}


def worker(opts: argparse.Namespace) -> None:
    import torch

    arm = opts.worker
    cuda = _cuda()
    total = torch.cuda.get_device_properties(0).total_memory if cuda else 0
    if opts.budget_gb and cuda:
        torch.cuda.set_per_process_memory_fraction(min(1.0, opts.budget_gb * 1e9 / total))
    model_dir = Path(opts.model_dir)
    trials = json.loads(opts.trials) if opts.trials else [{
        "name": arm, "lengths": opts.lengths, "batches": opts.batches, "mode": "trl-pack" if opts.packing else "rows",
        "padding_free": _tristate(opts.padding_free), "first_fit": opts.first_fit}]
    if arm.startswith("ours"):
        os.environ["TOMECRAFT_VARLEN_FLASH"] = opts.varlen_flash
        from training.models import import_unsloth

        import_unsloth()
        load_batch = max(max(t["batches"]) for t in trials)
        loaded, cfg = _load_ours(model_dir, opts.seq, _gc(opts.gc), load_batch)

        def build(trial, batch, rows, steps, callbacks):
            return _trainer_ours(loaded, cfg, trial, batch, rows, steps, Path(opts.workdir) / arm, callbacks)
    else:
        model, tokenizer = _load_baseline(model_dir)

        def build(trial, batch, rows, steps, callbacks):
            return _trainer_baseline(model, tokenizer, trial, batch, rows, steps, Path(opts.workdir) / arm, callbacks)

    for trial in trials:
        if trial.get("budget_gb") and cuda:
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.set_per_process_memory_fraction(min(1.0, trial["budget_gb"] * 1e9 / total))
        results = []
        for batch in trial["batches"]:
            steps = opts.warmup + opts.steps
            profiler = ProfileStep(steps + 1) if trial.get("profile") else None
            rows = _trial_rows(trial, batch, steps + (1 if profiler else 0), opts.seq)
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            trainer = None
            try:
                trainer, timer, info = build(trial, batch, rows, steps + (1 if profiler else 0),
                                             [profiler.callback()] if profiler else [])
                trainer.train()
            except Exception as exc:  # noqa: BLE001  (one trial's failure is its result; the next trial still runs)
                if "out of memory" not in str(exc).lower():
                    import traceback

                    traceback.print_exc()
                    results.append({"batch": batch, "fits": False, "failed": f"{type(exc).__name__}: {exc}"[:300]})
                    del trainer
                    break
                results.append({"batch": batch, "fits": False, "error": str(exc).splitlines()[0][:200]})
                del trainer
                gc.collect()
                if cuda:
                    torch.cuda.empty_cache()
                continue
            measured = timer.durations[opts.warmup:steps]
            tokens = timer.tokens[opts.warmup:steps]
            packed = info.pop("_packed", None)
            result = {
                "batch": batch, "fits": True, "steps_measured": len(measured),
                "tokens_per_s": sum(tokens) / sum(measured),
                "tokens_per_step": sum(tokens) / len(tokens),
                "step_s_median": sorted(measured)[len(measured) // 2],
                "step_s": [round(d, 4) for d in measured],
                "peak_allocated_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else 0.0,
                "peak_reserved_gb": torch.cuda.max_memory_reserved() / 1e9 if cuda else 0.0,
                "padding_free": bool(getattr(trainer.args, "padding_free", False)),
                "packing": trial.get("mode", "rows"),
                "loss_last": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
                **info,
            }
            if profiler is not None:
                result["profile"] = profiler.summary
            if trial.get("attention_check") and packed is not None:
                try:
                    result["attention_check"] = packed_attention_check(trainer.model, trainer.data_collator, packed, rows)
                except Exception as exc:  # noqa: BLE001  (evidence, not the measurement)
                    result["attention_check"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            results.append(result)
            del trainer
            if trial.get("first_fit"):
                break
        record = {"arm": trial["name"], "worker": arm, "seq": opts.seq, "gc": opts.gc, "lengths": trial.get("lengths", "full"),
                  "budget_gb": trial.get("budget_gb") or opts.budget_gb,
                  "device": torch.cuda.get_device_name(0) if cuda else "cpu (smoke)",
                  "packed_attention": _packed_attention(),
                  "results": results}
        print("RESULT " + json.dumps(record), flush=True)


def _packed_attention() -> str | None:
    """How this worker's packed rows attend (training.attention.enable_varlen_flash); None for the baseline."""
    models = sys.modules.get("training.models")
    return getattr(models, "PACKED_ATTENTION", None)


def _gc(value: str):
    return {"true": True, "false": False}.get(value, value)


def _tristate(value: str):
    return {"true": True, "false": False}.get(value)


# --- parent: workers, table -----------------------------------------------------------------------------

def _t(name, lengths="full", mode="rows", batches=(8,), **extra):
    return {"name": name, "lengths": lengths, "mode": mode, "batches": list(batches), **extra}


SUITES = {
    # worker label, worker kind, worker args, trials
    "fixed": [
        ("baseline", "baseline", [], [_t("baseline")]),
        ("ours", "ours", [], [_t("ours")]),
    ],
    "budget": [
        ("baseline", "baseline", [], [_t("baseline", batches=(16, 12, 8, 6, 4, 3, 2, 1), first_fit=True, budget_gb=15)]),
        ("ours", "ours", ["--budget-gb", "15"], [_t("ours", batches=(64, 48, 32, 24, 16, 12, 8), first_fit=True)]),
    ],
    "levers": [
        ("ours-gc-false", "ours", ["--gc", "false"], [_t("ours gc=false")]),
        ("ours-gc-true", "ours", ["--gc", "true"], [_t("ours gc=true")]),
        ("baseline-mixed", "baseline", [], [_t("baseline mixed", "mixed")]),
        ("ours-mixed", "ours", [], [
            _t("ours mixed padded", "mixed", padding_free=False),
            _t("ours mixed padding-free", "mixed", padding_free=True),
            _t("ours mixed packing (TRL)", "mixed", "trl-pack"),
            _t("ours mixed packing", "mixed", "pack"),
        ]),
    ],
    # everything the README's H200 table needs, in four processes
    "h200": [
        ("baseline", "baseline", [], [
            _t("baseline"),
            _t("baseline 15 GB", batches=(4, 3), first_fit=True, budget_gb=15),
        ]),
        ("ours", "ours", [], [  # the defaults: gradient_checkpointing auto (off at 8 x 2048 on this card), packing
            _t("ours", profile=True),
            _t("ours mixed packing", "mixed", "pack", profile=True, attention_check=True),
            _t("ours mixed packing, fixed shape", "mixed", "pack", fixed_pad=True),
            _t("ours mixed packing (TRL)", "mixed", "trl-pack"),
            _t("ours mixed unpacked", "mixed"),
        ]),
        ("ours-gc-unsloth", "ours", ["--gc", "unsloth"], [
            _t("ours gc=unsloth", profile=True),
            _t("ours gc=unsloth mixed packing", "mixed", "pack"),
        ]),
        ("ours-15gb", "ours", ["--budget-gb", "15"], [_t("ours 15 GB", batches=(64, 48), first_fit=True)]),
    ],
    # packed attention: one varlen flash call per layer (training.attention) against Unsloth's per-row loop
    "varlen": [
        ("ours", "ours", [], [
            _t("ours"),
            _t("ours mixed packing", "mixed", "pack", profile=True, attention_check=True),
            _t("ours mixed unpacked", "mixed"),
        ]),
        ("ours-row-loop", "ours", ["--varlen-flash", "0"], [_t("ours mixed packing, per-row attention", "mixed", "pack")]),
    ],
    # the mixed-length trials alone, against full rows in the same process
    "mixed": [
        ("ours", "ours", [], [
            _t("ours"),
            _t("ours mixed packing", "mixed", "pack", profile=True, attention_check=True),
            _t("ours mixed packing, fixed shape", "mixed", "pack", fixed_pad=True),
            _t("ours mixed packing (TRL)", "mixed", "trl-pack"),
        ]),
    ],
}


def run_worker(label: str, kind: str, extra: list[str], trials: list[dict], opts: argparse.Namespace, log_dir: Path) -> list[dict]:
    args = [sys.executable, __file__, "--worker", kind, "--model-dir", opts.model_dir, "--workdir", opts.workdir,
            "--seq", str(opts.seq), "--steps", str(opts.steps), "--warmup", str(opts.warmup),
            "--trials", json.dumps(trials)] + extra
    log = log_dir / f"{opts.suite}-{label}.log"
    started = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=fh, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    found = [json.loads(l[len("RESULT "):]) for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    seconds = round(time.perf_counter() - started, 1)
    for r in found:
        r["worker_seconds"] = seconds
    done = {r["arm"] for r in found}
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        found += [{"arm": t["name"], "error": f"exit {proc.returncode}: " + " | ".join(tail)} for t in trials if t["name"] not in done]
    return found


def table(results: list[dict]) -> str:
    base = next((m for r in results if r["arm"] == "baseline" for m in r.get("results", []) if m.get("fits")), None)
    full = next((m for r in results if r["arm"] == "ours" for m in r.get("results", []) if m.get("fits")), None)
    head = (f"{'arm':<34} {'batch':>5} {'tokens/s':>9} {'x base':>7} {'x ours full':>11} {'step s':>7} {'tok/step':>8} "
            f"{'resv GB':>8} {'gc':>8} {'pack eff':>8}")
    rows = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            rows.append(f"{r['arm']:<34} ERROR {r['error'][:150]}")
            continue
        fitted = [m for m in r["results"] if m.get("fits")]
        if not fitted:
            failed = next((m["failed"] for m in r["results"] if m.get("failed")), None)
            rows.append(f"{r['arm']:<34} " + (f"FAILED {failed[:150]}" if failed else
                        "no batch fits: " + ", ".join(str(m["batch"]) for m in r["results"])))
            continue
        m = fitted[0]
        xb = f"{m['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        xf = f"{m['tokens_per_s'] / full['tokens_per_s']:.0%}" if full else "-"
        eff = f"{m['packing']['efficiency']:.3f}" if isinstance(m.get("packing"), dict) else "-"
        rows.append(f"{r['arm']:<34} {m['batch']:>5} {m['tokens_per_s']:>9,.0f} {xb:>7} {xf:>11} {m['step_s_median']:>7.3f} "
                    f"{m['tokens_per_step']:>8,.0f} {m['peak_reserved_gb']:>8.2f} {str(m.get('gc')):>8} {eff:>8}")
    for r in results:
        for m in r.get("results", []):
            if m.get("profile"):
                p = m["profile"]
                kinds = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in p["by_kind_s"].items())
                rows.append(f"profile {r['arm']}: step {p['step_wall_s'] * 1e3:.0f} ms, GPU kernels {p['gpu_kernel_s'] * 1e3:.0f} ms "
                            f"({p['gpu_busy_share']:.0%}): {kinds}")
            if m.get("attention_check"):
                rows.append(f"attention check {r['arm']}: {json.dumps(m['attention_check'])}")
        if r.get("packed_attention"):
            rows.append(f"packed attention {r['arm']}: {r['packed_attention']}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="fixed")
    parser.add_argument("--workers", default=None, help="comma-separated subset of the suite's worker labels")
    parser.add_argument("--seq", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=8, help="measured steps")
    parser.add_argument("--warmup", type=int, default=3, help="steps left out of the timing")
    parser.add_argument("--model-dir", default="/tmp/llama-3.2-1b-shape")
    parser.add_argument("--workdir", default="/tmp/gpu_train_bench")
    parser.add_argument("--tokenizer-dir", default=None, help="tokenizer for the random model (default: the offline SmolLM2's)")
    parser.add_argument("--out", default=None, help="write all results as JSON here")
    parser.add_argument("--log-dir", default=None, help="one log per worker (default: beside --out)")
    parser.add_argument("--cpu-smoke", action="store_true", help="try the script on a CPU: 2-layer model, 16-bit")
    # worker-only
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--trials", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--budget-gb", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gc", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--batches", default="8", help=argparse.SUPPRESS)
    parser.add_argument("--padding-free", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--packing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lengths", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--first-fit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--varlen-flash", default="1", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    opts.batches = [int(b) for b in str(opts.batches).split(",")]
    if opts.cpu_smoke and not SMOKE:  # re-run with the smoke shape set before anything reads it
        os.environ["GPU_TRAIN_BENCH_SMOKE"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    if opts.worker:
        worker(opts)
        return

    import torch

    make_model_dir(Path(opts.model_dir), opts.tokenizer_dir)
    device = torch.cuda.get_device_name(0) if _cuda() else "cpu (smoke)"
    log_dir = Path(opts.log_dir or (Path(opts.out).parent if opts.out else opts.workdir))
    log_dir.mkdir(parents=True, exist_ok=True)
    workers = SUITES[opts.suite]
    if opts.workers:
        wanted = {w.strip() for w in opts.workers.split(",")}
        workers = [w for w in workers if w[0] in wanted]
    results = []
    for label, kind, extra, trials in workers:
        found = run_worker(label, kind, extra, trials, opts, log_dir)
        results += found
        for r in found:
            print(f"[{time.strftime('%H:%M:%S')}] {r['arm']}: {json.dumps(r)[:300]}", flush=True)
        if opts.out:  # after every worker, so a run cut short keeps what it measured
            Path(opts.out).write_text(json.dumps({"suite": opts.suite, "device": device, "results": results}, indent=2) + "\n")
    print(f"\n{opts.suite} suite on {device} (Llama-3.2-1B shape, 4-bit NF4, LoRA r=16 on 7 modules, seq {opts.seq}; "
          f"tokens/s over {opts.steps} steps after {opts.warmup})")
    print(table(results))


if __name__ == "__main__":
    main()
