"""`tome eval`: side-by-side answers with automatic checks, held-out loss, and the raw-vs-curated experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from tomecraft.console import (console, error, make_progress, non_empty_path, output_path, print_table,
                               progress_tracker)

EVAL_HELP = """
Compare models the data-centric way: **side-by-side answers** to a prompt set with **automatic
instruction-following checks**, **held-out loss / perplexity** on a curated test split, and the
**raw-vs-curated experiment** in one command.

With no subcommand, `tome eval` runs `tome eval compare` with its defaults: the offline SmolLM2-135M-Instruct
answers the seed's three prompts (greedy, seed 0), its held-out loss is measured on `out/test.parquet` when
`out/` holds a `tome curate` output, and `eval/eval.md` + `eval/eval.html` are written.

* `tome eval compare -m default -m curated=runs/curated` - two models side by side
* `tome eval loss -m runs/curated --data out/` - held-out loss only
* `tome eval experiment` - curate, train raw and curated with one budget, compare
* `tome eval prompts` - the prompt set and its checks, as YAML to copy and edit
"""

COMPARE_HELP = """
Answer a prompt set with several models, side by side, and check every answer.

A model is a GGUF file, a transformers model folder, a `tome train` run folder, a hub id (online), or
`default` (the offline SmolLM2-135M-Instruct GGUF); prefix `LABEL=` to name its column. Every model gets
the same settings (greedy by default; with `--temperature` > 0 sampling is seeded by `--seed`), and the
settings are recorded in the output. The checks are programs, not judges: days covered and budget lines
summing within the budget for the trip, both audiences and the terminology gap for photosynthesis, one
choice with three reasons and a challenges part for the island (see `tome eval prompts`).

Writes `OUT/eval.json` (everything, timings included), `OUT/eval.md` and `OUT/eval.html` (a table per
prompt; no timings or dates, so the same run gives the same bytes).

Examples:

* `tome eval compare` - the offline default model on the seed prompts
* `tome eval compare -m base=default -m runs/curated -m runs/raw --data out/`
* `tome eval compare -m model.gguf --prompts my_prompts.yaml --max-new-tokens 256 --out eval/gguf`
"""

LOSS_HELP = """
Held-out loss and perplexity of each model on a split of a `tome curate` output folder.

Rows are prepared exactly as `tome train` prepares its eval split (chat template, assistant-only labels,
truncation at `--max-seq-length`), so the number is comparable with a run's `eval_loss`. The loss is the
mean negative log-likelihood per assistant token; perplexity is its exponential. Lower is better.

Examples:

* `tome eval loss -m default -m runs/curated --data out/`
* `tome eval loss -m runs/curated --data out/ --split validation --max-rows 200`
"""

EXPERIMENT_HELP = """
The data-centric experiment as one command: **curate** the input, **train the same model with the same
budget** (one training config, `max_steps` included) once on the **raw** rows and once on the **curated**
rows, then compare **held-out loss on the curated test split** and the **automatic checks** of base, raw and
curated side by side.

The raw side is every input row as it came, minus the held-out (validation + test) rows and their
duplicates, so neither model sees a test conversation. Output folder: `curated/`, `raw/`, `runs/raw/`,
`runs/curated/`, `eval.json`, `eval.md`, `eval.html`. Finished runs are reused when nothing changed.

Default config: `configs/eval_experiment.yaml` on a CUDA GPU (the full-size run), otherwise
`configs/eval_experiment_cpu.yaml` (SmolLM2 offline, a few hundred short steps).

Examples:

* `tome eval experiment` - the embedded sample, the default config for this machine
* `tome eval experiment -c configs/eval_experiment.yaml --out experiments/full`
* `tome eval experiment --set train.training.max_steps=50 --set eval.max_new_tokens=128`
* `tome eval experiment --print-config > my_experiment.yaml`
"""


def _progress_log(msg: str) -> None:
    console.print(Text.assemble(("eval", "bold cyan"), " ", msg))


def compare(
    model: list[str] = typer.Option([], "--model", "-m", help="[LABEL=]MODEL: GGUF file, model folder, run folder, hub id or `default` (repeatable; default: `default`)."),
    prompts: Optional[Path] = typer.Option(None, "--prompts", "-p", help="Prompt set: YAML, JSON, or JSON Lines (.jsonl, one prompt a line); see `tome eval prompts`. Default: the seed's three prompts."),
    data: Path = typer.Option(Path("out"), "--data", "-d", help="Curation output folder for the held-out loss (skipped when it is not one)."),
    split: str = typer.Option("test", "--split", help="Split of --data the loss is measured on: train, validation or test."),
    no_loss: bool = typer.Option(False, "--no-loss", help="Skip the held-out loss: answers and checks only (no --data needed)."),
    max_loss_rows: Optional[int] = typer.Option(None, "--max-loss-rows", min=1, help="Score only the first N rows of the split. Default: every row."),
    max_seq_length: int = typer.Option(1024, "--max-seq-length", min=1, help="Rows are truncated to this many tokens for the loss."),
    temperature: float = typer.Option(0.0, "--temperature", "-t", min=0.0, max=5.0, help="0 = greedy; > 0 samples (top-k 40, top-p 0.95) seeded by --seed."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens", "-n", min=1, max=4095, help="Longest answer, in tokens (the context is 4,096)."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 2, help="Sampling seed (the same for every model and prompt)."),
    out: Path = typer.Option(Path("eval"), "--out", "-o", parser=non_empty_path, metavar="DIR", callback=output_path, help="Output folder for eval.json / eval.md / eval.html."),
) -> None:
    from curation.contract import SPLITS, OutputFolderError, check_output_path, make_output_folder, require_output_folder
    from evaluation.answers import GenerationSettings, answer_all
    from evaluation.models import parse_model_arg, unique_labels
    from evaluation.prompt_sets import PromptSetError, load_prompt_set
    from evaluation.tables import EvalResults, write_results
    from serving.generation import ModelNotFound

    try:
        prompt_set = load_prompt_set(prompts)
        check_output_path(out)  # before the models answer: a path that is a file, or under one, fails now
    except (PromptSetError, OutputFolderError) as exc:
        error(str(exc))
    if not no_loss and split not in SPLITS:
        error(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    refs = unique_labels([parse_model_arg(m) for m in (model or ["default"])])
    _check_models(refs)
    settings = GenerationSettings(temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    losses: dict = {}
    loss_data = None
    if not no_loss:
        try:
            require_output_folder(data)
            loss_data = str(data)
            from evaluation.heldout import check_heldout_split

            check_heldout_split(data, split)  # an empty split: before any model loads, with the way out
        except OutputFolderError as exc:  # a damaged split
            error(str(exc))
        except ValueError as exc:
            error(f"{exc} (--split), or pass --no-loss for answers and checks only")
        except FileNotFoundError as exc:  # (it says what is missing: no folder, or a split, or the manifest)
            console.print(Text.assemble(("note:", "yellow"), f" {exc}: held-out loss skipped (run `tome curate` or "
                                        "pass --data)"))
    try:
        if loss_data is not None:
            from evaluation.heldout import heldout_loss

            for ref in refs:
                _progress_log(f"held-out loss of {ref.label} on {data}/{split}.parquet")
                with progress_tracker() as track:
                    losses[ref.label] = heldout_loss(ref.spec, data, split, max_seq_length, max_loss_rows, progress=track)
                console.print(f"  loss {losses[ref.label].loss:.4f}, perplexity {losses[ref.label].perplexity:.2f} "
                              f"({losses[ref.label].rows} rows, {losses[ref.label].tokens:,} tokens)", markup=False)
        _progress_log(f"{len(refs)} model(s) x {len(prompt_set)} prompt(s)")
        answers = answer_all(refs, prompt_set, settings, on_answer=lambda r, p, a: console.print(
            f"  {r.label} / {p.id}: {a.passed}/{len(a.checks)} checks passed ({a.seconds:.1f}s)", markup=False))
    except (ModelNotFound, FileNotFoundError, ValueError) as exc:
        error(str(exc))
    results = EvalResults(prompts=prompt_set, settings=settings, models=answers, losses=losses, loss_data=loss_data)
    try:
        make_output_folder(out)  # what only creating it shows: no permission, /proc
    except OutputFolderError as exc:
        error(str(exc))
    files = write_results(results, out)
    _print_summary(results)
    for path in files.values():
        console.print(f"  {path}", markup=False)


def loss(
    model: list[str] = typer.Option([], "--model", "-m", help="[LABEL=]MODEL (repeatable; default: `default`)."),
    data: Path = typer.Option(Path("out"), "--data", "-d", help="A `tome curate` output folder."),
    split: str = typer.Option("test", "--split", help="Split of --data to score: train, validation or test."),
    max_rows: Optional[int] = typer.Option(None, "--max-rows", min=1, help="Score only the first N rows. Default: every row."),
    max_seq_length: int = typer.Option(1024, "--max-seq-length", min=1, help="Rows are truncated to this many tokens."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Rows per forward pass."),
) -> None:
    from rich.table import Table

    from curation.contract import SPLITS, require_output_folder
    from evaluation.heldout import heldout_loss
    from evaluation.models import parse_model_arg, unique_labels
    from serving.generation import ModelNotFound

    if split not in SPLITS:
        error(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    try:
        require_output_folder(data)
    except FileNotFoundError as exc:
        error(str(exc))
    refs = unique_labels([parse_model_arg(m) for m in (model or ["default"])])
    _check_models(refs)
    table = Table(title=Text(f"held-out loss on {data}/{split}.parquet", style="table.title"), title_justify="left")
    for col in ("model", "loss", "perplexity", "rows", "tokens"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for ref in refs:
        try:
            with progress_tracker() as track:
                r = heldout_loss(ref.spec, data, split, max_seq_length, max_rows, batch_size, progress=track)
        except (ModelNotFound, ValueError) as exc:
            error(str(exc))
        table.add_row(Text(ref.label), f"{r.loss:.4f}", f"{r.perplexity:.2f}", f"{r.rows:,}", f"{r.tokens:,}")
    print_table(table)


def experiment(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Experiment YAML (see --print-config). Default: configs/eval_experiment.yaml with CUDA, configs/eval_experiment_cpu.yaml without."),
    set_: list[str] = typer.Option([], "--set", help="Override one key, e.g. train.training.max_steps=50 or eval.max_new_tokens=128 (repeatable)."),
    input: Optional[str] = typer.Option(None, "--input", "-i", help="What to curate (as `tome curate --input`). Default: the config's (the embedded sample)."),
    out: Path = typer.Option(Path("experiments/raw-vs-curated"), "--out", "-o", parser=non_empty_path, metavar="DIR", callback=output_path, help="Experiment folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete --out first (otherwise finished runs are reused)."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config as YAML and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    from tomecraft.config_files import ConfigError, deep_merge, parse_override
    from evaluation.experiment import ExperimentError, default_experiment_config, load_experiment_config, run_experiment

    try:
        overrides: dict = {}
        for item in set_:
            overrides = deep_merge(overrides, parse_override(item))
        if input is not None:
            overrides["input"] = input
        path = config or default_experiment_config()
        cfg = load_experiment_config(path, overrides)
    except (ConfigError, ExperimentError) as exc:
        error(str(exc))
    if print_config:
        typer.echo(cfg.to_yaml(), nl=False)
        return
    from curation.contract import OutputFolderError, check_output_path

    try:
        check_output_path(out)  # a file, or a path under one: before the curation and the training runs
    except OutputFolderError as exc:
        error(str(exc).replace("the output folder", "the experiment folder"))
    if overwrite and out.is_dir() and any(out.iterdir()) and not (out / "experiment.yaml").is_file():
        # (--overwrite deletes --out whole: `--out . --overwrite` emptied the working folder)
        error(f"--out {out} --overwrite: not an experiment folder (no experiment.yaml), and --overwrite deletes it "
              "whole; choose a new or empty folder")
    if config is None:
        console.print(f"config: {path}", markup=False)
    from curation.readers import InputError
    from serving.generation import ModelNotFound
    from training.data import MaskingError
    from training.run import RunError

    try:
        with make_progress(quiet) as progress:
            results = run_experiment(cfg, out, overwrite=overwrite, log=_progress_log, progress=progress)
    except (ExperimentError, ConfigError, InputError, RunError, MaskingError,
            ModelNotFound) as exc:
        error(str(exc))
    _print_summary(results)
    console.print(f"  {out / 'eval.md'}\n  {out / 'eval.html'}\n  {out / 'curated' / 'report.html'}", markup=False)


def prompts(
    file: Optional[Path] = typer.Argument(None, help="A prompt set (YAML, JSON, or JSON Lines) to validate and print (default: the built-in set)."),
) -> None:
    """Print a prompt set with its checks as YAML (the format `--prompts` reads)."""
    from evaluation.prompt_sets import PromptSetError, load_prompt_set, prompt_set_yaml

    try:
        typer.echo(prompt_set_yaml(load_prompt_set(file)), nl=False)
    except PromptSetError as exc:
        error(str(exc))


def _check_models(refs) -> None:  # noqa: ANN001
    """Stop on a model that is not there (a path that does not exist, a file that is no GGUF) before the first one
    loads: `tome eval loss -m missing.gguf` loaded torch and Unsloth (seconds, and their banners) to say so."""
    from serving.generation import ModelNotFound, resolve_model

    for ref in refs:
        if ref.spec is None:  # the offline default: its loader says what is missing
            continue
        try:
            resolve_model(ref.spec)
        except ModelNotFound as exc:
            error(str(exc))


def _print_summary(results) -> None:  # noqa: ANN001
    from rich.table import Table

    from evaluation.tables import summary_rows

    head, rows = summary_rows(results)
    # a title, model labels and prompt ids as given: plain Text, never markup
    table = Table(title=Text(results.title, style="table.title"), title_justify="left")
    for i, h in enumerate(head):
        table.add_column(Text(h), justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    print_table(table)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help=EVAL_HELP, rich_markup_mode="markdown", no_args_is_help=False, invoke_without_command=True)

    @group.callback()
    def _default(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            ctx.invoke(compare, model=[], prompts=None, data=Path("out"), split="test", no_loss=False,
                       max_loss_rows=None, max_seq_length=1024, temperature=0.0, max_new_tokens=512, seed=0,
                       out=Path("eval"))

    group.command("compare", help=COMPARE_HELP)(compare)
    group.command("loss", help=LOSS_HELP)(loss)
    group.command("experiment", help=EXPERIMENT_HELP)(experiment)
    group.command("prompts")(prompts)
    app.add_typer(group, name="eval")
