"""`tome sweep`: a thin command line over :func:`sweep.runner.run_sweep`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from tomecraft.console import console, error, make_progress, non_empty_path, output_path, print_table

SWEEP_HELP = """
Model-centric and data-centric levers in **one table with error bars**: a grid (or a list) of cells over data
variants (raw input, curated, curated + augmented, reviewed, a mixture: each a folder or a curation config) and any
`tome train` key (learning rate, batch size, LoRA r, model, steps), each repeated over `seeds`, with an **equal
budget** (the same training tokens or steps per cell unless the axis is the budget).

Every cell is a `tome train` run folder under `OUT/cells/`, evaluated the same way: **held-out loss** on one fixed
curated test split (decontaminated: no training row of any cell is an exact or near duplicate of a test row), the
**automatic checks** on the prompt set, tokens/s, peak memory, wall time, and (when `export` asks) GGUF size and
CPU tokens/s per quantization. Writes `results.md`, `results.html` (charts) and `results.json`, with a one-line
**verdict per axis**: the effect size and whether it exceeds the seed-to-seed spread. Beside each cell: the
`tome train` command that reproduces it.

Run it again to resume: finished cells are skipped, an interrupted cell resumes from its checkpoint.

Default config: `configs/sweep_smollm2_gpu.yaml` with a CUDA GPU, `configs/sweep_cpu.yaml` (a tiny grid on the
offline SmolLM2) without.

Examples:

* `tome sweep -c configs/sweep_cpu.yaml --out sweeps/cpu` - the tiny CPU grid
* `tome sweep -c my_sweep.yaml --dry-run` - the plan, the commands and the estimated time, nothing run
* `tome sweep -c my_sweep.yaml --set seeds=[1,2,3] --set budget.tokens=300000 --set grid.training.learning_rate=[1e-4]`
* `tome sweep -c my_sweep.yaml --stop-after 3600` - start no cell that would end past an hour (run again to go on)
* `tome sweep --print-config > my_sweep.yaml`
"""


def _default_config() -> Path:
    from sweep.config import CPU_SWEEP_CONFIG, REPO_ROOT

    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        cuda = False
    return REPO_ROOT / "configs" / "sweep_smollm2_gpu.yaml" if cuda else CPU_SWEEP_CONFIG


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    return f"{s / 60:.1f} min" if s >= 120 else f"{s:.0f} s"


def sweep(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Sweep YAML (see --print-config). Default: configs/sweep_smollm2_gpu.yaml with CUDA, configs/sweep_cpu.yaml without."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", parser=non_empty_path, metavar="DIR", callback=output_path, help="Sweep folder (data, cells, results). Default: `sweeps/CONFIG`, CONFIG the config file's name without "
    ".yaml, e.g. sweeps/sweep_cpu."),
    set_: list[str] = typer.Option([], "--set", help="Override one key, e.g. seeds=[1,2,3] or budget.tokens=200000 or train.training.per_device_batch_size=8 (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (cells, state, commands) and the estimated time from measured tokens/s; run nothing."),
    stop_after: Optional[float] = typer.Option(None, "--stop-after", help="Seconds: start no cell that the measured rates say would end past this (run again to go on)."),
    tokens_per_s: Optional[float] = typer.Option(None, "--tokens-per-s", help="Training tokens/s to estimate with before any cell of this sweep has measured its own."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config as YAML and exit."),
    report: bool = typer.Option(False, "--report", help="Only rewrite results.md and results.html of --out from its results.json (verdicts recomputed); run nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    from sweep.config import SweepConfigError, load_sweep_config, parse_sweep_override
    from tomecraft.config_files import ConfigError, deep_merge

    path = config or _default_config()
    try:
        overrides: dict = {}
        for item in set_:
            overrides = deep_merge(overrides, parse_sweep_override(item))
        cfg = load_sweep_config(path, overrides)
    except ConfigError as exc:
        error(str(exc))
    if print_config:
        typer.echo(cfg.to_yaml(), nl=False)
        return
    out = out or Path("sweeps") / path.stem
    if report:
        from sweep.results import ResultsError, rerender

        if not (out / "results.json").is_file():
            error(f"{out}: no results.json to render (run the sweep first)")
        try:
            print_results(rerender(out))
        except ResultsError as exc:
            error(str(exc))
        return
    for option, value, zero_ok in (("--stop-after", stop_after, True), ("--tokens-per-s", tokens_per_s, False)):
        if value is not None and not (math.isfinite(value) and (value >= 0 if zero_ok else value > 0)):
            error(f"{option} {value:g}: expected a finite number of " + ("seconds, 0 or more" if zero_ok else "tokens/s above 0"))
    if out.exists() and not out.is_dir():
        error(f"--out {out}: not a folder")
    from curation.contract import OutputFolderError, check_output_path

    try:
        check_output_path(out)  # a file, or a path under one: the dry run says so too, before any cell would
    except OutputFolderError as exc:
        error(f"--out {str(exc).replace('the output folder', 'the sweep folder')}")
    from sweep.runner import SweepError, check_sweep_folder

    try:
        check_sweep_folder(out)  # a curation output: the dry run says so too
    except SweepError as exc:
        error(str(exc))
    if config is None:
        console.print(f"config: {path}", markup=False)

    from sweep.runner import SweepError, check_sweep, plan, run_sweep

    if dry_run:
        try:
            check_sweep(cfg)
            statuses = plan(cfg, out, tokens_per_s)
        except SweepConfigError as exc:  # a cell, variant or prompt set of the sweep file
            error(f"{path}: {exc}")
        except (SweepError, ConfigError, ValueError) as exc:
            error(str(exc))
        print_plan(statuses)
        return

    from curation.readers import InputError
    from training.data import MaskingError
    from training.export import ExportError
    from training.gguf_tools import GGUFError
    from training.models import ModelSourceError
    from training.run import RunError

    try:
        with make_progress(quiet) as progress:
            outcome = run_sweep(cfg, out, stop_after=stop_after, tokens_per_s=tokens_per_s,
                                log=lambda m: console.print(Text.assemble(("sweep", "bold cyan"), " ", m)), progress=progress)
    except SweepConfigError as exc:
        error(f"{path}: {exc}")
    except (SweepError, ConfigError, InputError, RunError, MaskingError, ModelSourceError, ExportError, GGUFError,
            OSError, ValueError) as exc:  # OSError: a folder that cannot be written, a disk full, ...
        error(str(exc))
    print_results(outcome.results)
    if outcome.not_started:
        console.print(Text.assemble((f"{len(outcome.not_started)} cell(s) not started", "yellow"),
                                    " (--stop-after); run the same command again to go on"))
    for name in ("results.md", "results.html", "results.json"):
        console.print(f"  {out / name}", markup=False)


def print_plan(statuses) -> None:  # noqa: ANN001
    from rich.table import Table

    table = Table(title="tome sweep --dry-run: the plan, in run order", title_justify="left")
    for col in ("#", "cell", "data", "seed", "state", "estimate"):
        table.add_column(col, justify="right" if col in ("#", "seed", "estimate") else "left")
    total, unknown = 0.0, 0
    for i, s in enumerate(statuses, 1):
        if s.state != "done":
            if s.estimate_seconds is None:
                unknown += 1
            else:
                total += s.estimate_seconds
        est = "-" if s.state == "done" else _fmt_seconds(s.estimate_seconds)
        table.add_row(*(Text(cell) for cell in (str(i), s.cell.id, s.cell.data, str(s.cell.seed), s.state, est)))
    print_table(table)
    todo = [s for s in statuses if s.state != "done"]
    if not todo:
        line = f"{len(statuses)} cell(s), all done"
    elif unknown == len(todo):
        line = f"{len(statuses)} cell(s), {len(todo)} to run: no estimate yet"
    else:
        line = f"{len(statuses)} cell(s), {len(todo)} to run: estimated {_fmt_seconds(total)}"
        if unknown:
            line += f" plus {unknown} cell(s) without an estimate"
    console.print(line, markup=False)
    for basis in sorted({s.estimate_basis for s in todo if s.estimate_basis}):
        console.print(f"  estimate from: {basis}", markup=False)
    console.print("\nthe `tome train` command of each cell:")
    for i, s in enumerate(statuses, 1):
        typer.echo(f"{i:>3}  {s.command}")


def print_results(results) -> None:  # noqa: ANN001
    from rich.table import Table

    from sweep.report import group_rows

    if not results:
        return
    head, rows = group_rows(results)
    # names, variants and headers (`... [range]`) as given: plain Text, never markup
    table = Table(title=Text(f"tome sweep {results['name']}: {results['finished']} of {results['planned']} cells",
                             style="table.title"), title_justify="left")
    for i, h in enumerate(head):
        table.add_column(Text(h), justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    print_table(table)
    for v in results["verdicts"]:
        console.print(f"  {v['line']}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("sweep", help=SWEEP_HELP)(sweep)
