"""`tome curate`: the command line over :func:`curation.pipeline.run_curation`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from tomecraft.console import console, error, output_path, print_table, progress_tracker
from tomecraft.files import expand_user

CURATE_HELP = """
Curate chat fine-tuning data: **load -> validate -> normalize -> exact dedup -> MinHash near-dedup ->
(semantic dedup) -> heuristic filters -> source balancing -> (augmentation) -> train/validation/test split**.

With no `--input` it curates the embedded sample in `data/` (no network needed). Every input row ends in
exactly one place: a split, `removed.parquet` (with the stage and reason), or `quarantine.jsonl` (with the error).

Examples:

* `tome curate` - the embedded sample into `out/`
* `tome curate --input mlabonne/FineTome-100k --out finetome/` - a Hugging Face dataset (needs the network)
* `tome curate -i rows.jsonl -c my.yaml --set stages.near_dedup.threshold=0.7`
* `tome curate -i chat=rows.jsonl@50 -i sample@30 -i 'web/*.jsonl.zst@20'` - three inputs mixed 50/30/20
  (`NAME=` names one, `@W` weights it, `sample` is the embedded sample; more per input under `inputs:`)
* `tome curate -i new.jsonl --against out/ -o out2/` - the new rows that `out/` does not already hold
* `tome curate --print-config > my.yaml` - every option with its default, to edit
* `tome curate --resume` - after an interrupted run: finished stages whose config did not change are skipped
* `tome curate --engine ray -i s3://bucket/tome/ -o /shared/tome-curated/ --ray-address auto` - the same
  curation on a Ray cluster, sharded Parquet in and out, into a folder every node mounts
  (`pip install 'tomecraft[ray]'`)

The config (YAML: `-c FILE` reads one, `--set KEY=VALUE` changes one key, the VALUE read as YAML:
`--set stages.language.allowed=[en, fr]`, `--set stages.balance.per_source={a: 100}`):

* `inputs:` several inputs to mix, each with path, name, format, columns, weight or max_rows (and split,
  subset, streaming for hub datasets); relative paths in a config file are found beside it
* `stages.STAGE:` each stage's settings; `enabled: false` switches one off. In order: validate, normalize,
  pii, language, exact_dedup, near_dedup, against, semantic_dedup, filters, judge, balance, mix, augment,
  split, decontaminate, token_lengths
* `engine:` batch_rows, workers, memory_mb - how the work is cut, never what comes out
* `checkpoint:` (for --resume) and `report:` (report.html / report.md) - true or false
* `format:` finetome, messages or both - the splits' shapes (as --format)
"""


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def curate(
    input: list[str] = typer.Option(
        [], "--input", "-i", metavar="INPUT",
        help="Hugging Face dataset id (e.g. mlabonne/FineTome-100k, optionally ':split'), a .jsonl/.json/.parquet "
        "file (optionally .gz/.bz2/.xz/.zst), a glob or folder of shards, or a datasets.save_to_disk folder. "
        "Repeat it to mix several inputs (NAME=PATH names one, PATH@WEIGHT weights it; or list them under "
        "`inputs:` in the config, with format, columns, weight or max_rows). Default: the embedded sample.",
    ),
    against: list[str] = typer.Option(
        [], "--against", metavar="INPUT",
        help="An existing dataset (a previous `tome curate` output folder, or any input as above): new rows that "
        "duplicate one of its rows (exact or near, same settings) are removed as duplicate_of_existing; it is "
        "read, never rewritten. Given once: to extend against several sets, curate them into one folder first.",
    ),
    format: Optional[str] = typer.Option(
        None, "--format", metavar="FORMAT",
        help="finetome: the splits in FineTome's shape (always written; every tome command reads them). messages: "
        "also messages/{split}.parquet ({role, content}, as TRL's SFTTrainer takes it), the card's default. "
        "both: both configs in the card. Default: the config's format: (finetome).",
    ),
    out: str = typer.Option("out", "--out", "-o", metavar="DIR", callback=output_path, help="Output folder (splits, "
                            "removed, quarantine, manifest, card, report). A folder that is no `tome curate` output and "
                            "holds a README.md or messages/ the run would replace is refused."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", metavar="FILE", help="YAML config; see --print-config for every key."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE", help="Override one config key, e.g. stages.near_dedup.threshold=0.7 (repeatable)."),
    resume: bool = typer.Option(
        False, "--resume", help="Skip the stages an earlier, interrupted run into --out finished with the same input "
        "and config. Checkpoints are left by passes whose rows spilled to disk (an input larger than "
        "engine.memory_mb); a smaller run is quicker to redo.",
    ),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config as YAML and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars; still prints the summary."),
    engine: Engine = typer.Option(
        Engine.local, "--engine",
        help="local: this machine. ray: the same stages as Ray Data operations on a Ray cluster (pip install "
        "'tomecraft[ray]'); the input may be a local path or a URI (s3://...), --out a folder every node can write; "
        "splits are written as shard folders (train/part-00000.parquet ...). Same rows, ids and splits as local.",
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", metavar="ADDRESS", help="With --engine ray: the cluster to join ('auto', 'ray://head:10001'); "
        "default: start a local cluster on this machine.",
    ),
) -> None:
    from curation.config import load_config
    from curation.core.stage import StageError
    from curation.readers import InputError
    from tomecraft.config_files import ConfigError, parse_overrides

    from curation.config import OUTPUT_FORMATS

    if format is not None and format not in OUTPUT_FORMATS:
        error(f"--format {format!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if not out:  # (as a Path, "" is ".": the run would write into the working folder)
        error("--out is empty: give the output folder (default: out)")
    out = Path(out)  # type: ignore[assignment]
    if len(against) > 1:  # (the last one alone would be checked, silently)
        error(f"--against given {len(against)} times ({', '.join(against)}); give one existing set (curate several "
              "into one folder first)")
    against = against[0] if against else None  # type: ignore[assignment]
    try:
        overrides = parse_overrides(set_) if set_ else {}
        if against is not None:
            from tomecraft.config_files import deep_merge

            overrides = deep_merge(overrides, {"stages": {"against": {"path": against}}})
        cfg = load_config(config, overrides)
        if against is not None and not cfg.stage("against").enabled:  # (else it would be ignored, silently)
            raise ConfigError(f"--against {against}: the against stage is off (stages.against.enabled: false); "
                              "switch it on, or leave --against out")
        if format is not None:  # (in the config, --print-config prints it: the printed file runs as this command)
            cfg.format = format
        if config is not None:
            paths_beside_config(cfg, Path(config).resolve().parent)
        if not input:
            refuse_empty_inputs(cfg, config, overrides)
    except ConfigError as exc:
        error(str(exc))
    if print_config:
        if input:  # the command line replaces the config's inputs, as in a run: printed, the config reproduces it
            from curation.inputs import inputs_from_cli

            try:
                cfg.inputs = inputs_from_cli(input)
            except ValueError as exc:
                error(str(exc))
        typer.echo(printed_config(cfg), nl=False)
        return
    if not input:
        input = as_command_line(cfg)
    elif cfg.inputs:  # said, not silent: the config's weights, formats and names are not used
        from tomecraft.console import console

        given = len(cfg.inputs)
        console.print(f"note: --input replaces the {given} input{'s' if given != 1 else ''} the config lists under "
                      "`inputs:` (it does not add to them)", markup=False, highlight=False)
    if ray_address and engine is not Engine.ray:
        error("--ray-address needs --engine ray")
    if resume and engine is Engine.ray:
        error("--resume works with --engine local only (Ray recomputes lost work itself)")
    from curation.augment.budget import BudgetError
    from curation.core.bookkeeping import AccountingError

    try:
        with progress_tracker(quiet) as track:
            if engine is Engine.ray:
                from curation.engines.ray import EngineError, RayOptions, run_curation_ray

                try:
                    result = run_curation_ray(input or None, out, cfg, RayOptions(address=ray_address), progress=track,
                                              output_format=cfg.format)
                except EngineError as exc:
                    error(str(exc))
            else:
                from curation.core.warm import skip_pandas_probe
                from curation.pipeline import run_curation

                skip_pandas_probe()  # a local run hands pyarrow no pandas objects
                result = run_curation(input or None, out, cfg, resume=resume, progress=track, output_format=cfg.format)
    except (InputError, BudgetError, ConfigError, StageError) as exc:
        error(str(exc))
    except AccountingError as exc:  # a bug, not the user's: one line still, and what to do about the folder
        error(f"{exc}; {out} is not a valid output (a bug in tomecraft: please report it)"
              + ("; run again without --resume" if resume else ""), code=1)
    except KeyboardInterrupt:  # (--resume is the local engine's: Ray refuses it)
        error(f"interrupted; {out} is not finished: run the command again to finish it"
              + ("" if resume or engine is Engine.ray else " (--resume skips the stages already checkpointed)"),
              code=130)
    except OSError as exc:  # a full disk, an output file that cannot be replaced: the run failed (exit 1), one line
        import os

        from tomecraft.console import exit_if_output_failed
        from tomecraft.errors import error_line

        exit_if_output_failed(exc)  # (a failed standard stream ends the command its own way)
        where = exc.filename2 or exc.filename
        reason = os.strerror(exc.errno) if exc.errno else exc.strerror or error_line(exc)
        if where is None:  # (not the output folder's, necessarily: an input's store that stopped answering too)
            error(f"the run stopped: {reason}; {out} is not finished: run the command again once that is fixed",
                  code=1)
        error(f"{where}: {reason}; the run stopped and {out} is not finished: run the command again once that is "
              "fixed", code=1)
    except Exception as exc:  # a remote input's store that stopped answering mid-run (hf://, https://): no OSError
        from tomecraft.errors import error_line, is_network_error

        if not is_network_error(exc):
            raise
        error(f"the run stopped: a remote input cannot be reached ({error_line(exc)}); {out} is not finished: run the "
              "command again once that is fixed", code=1)
    print_summary(result)


def refuse_empty_inputs(cfg, config: str | None, overrides: dict) -> None:
    """A :class:`ConfigError` when the config says ``inputs: []`` (the file, or ``--set inputs=[]``) and no
    ``--input`` is given: an empty list is a list someone emptied, not a request for the embedded sample, which
    a config without the key curates (that run would otherwise be taken silently)."""
    from tomecraft.config_files import ConfigError

    if cfg.inputs or "inputs" not in cfg.model_fields_set:
        return
    where = "--set inputs" if "inputs" in overrides else f"{config}: inputs"
    raise ConfigError(f"{where}: is empty; list at least one input (or give --input), or leave inputs out to curate "
                      "the embedded sample")


def printed_config(cfg) -> str:
    """``--print-config``'s YAML: the resolved config, where an empty ``inputs:`` is left out (a comment in its
    place): the printed file, fed back with ``--config``, runs as the command that printed it."""
    from tomecraft.config_files import dump_yaml

    resolved = cfg.resolved()
    if resolved.get("inputs"):
        return dump_yaml(resolved)
    resolved.pop("inputs", None)
    return ("# inputs: left out: the --input given, or the embedded sample; a list of inputs to mix, each with\n"
            "# path, name, format, columns, weight or max_rows (see tome curate --help)\n" + dump_yaml(resolved))


def as_command_line(cfg) -> list[str]:
    """The config's ``inputs:`` as ``--input`` values when they are one input that says no more than its path
    (what ``--print-config -i PATH`` prints), taken out of the config: the run is then the run of
    ``--input PATH``, the same card, manifest and report, not a mix of one input. Else ``[]`` (the config's
    inputs are run as they are)."""
    from curation.inputs import inputs_from_cli

    if len(cfg.inputs) != 1:
        return []
    (given,) = cfg.inputs
    try:
        plain = inputs_from_cli([given.path])
    except ValueError:
        return []
    if plain[0].model_dump() != given.model_dump():
        return []
    cfg.inputs = []
    return [given.path]


def paths_beside_config(cfg, folder: Path) -> None:
    """The files a config file names, read as written beside it: a relative path that is not found from the
    working folder is taken relative to ``folder`` (the config's), for the inputs and for every stage key that
    names a file or folder to read (the existing set of ``against``, decontamination's sets, WordNet)."""
    from curation.inputs import relative_to

    if cfg.inputs:
        cfg.inputs = relative_to(cfg.inputs, folder)

    def beside(path: str | None) -> str | None:
        if path is None or "://" in path:
            return path
        given = expand_user(path)
        if given.is_absolute() or given.exists() or not (folder / given).exists():
            return path
        return str(folder / given)

    against = cfg.stage("against")
    against.path = beside(against.path)
    decontaminate = cfg.stage("decontaminate")
    decontaminate.files = [beside(f) for f in decontaminate.files]
    decontaminate.prompt_sets = [beside(f) for f in decontaminate.prompt_sets]
    synonym = cfg.stage("augment").methods.synonym
    synonym.wordnet_dir = beside(synonym.wordnet_dir)


def print_summary(result) -> None:
    table = Table(title="tome curate", title_justify="left", show_lines=False)
    table.add_column("stage")
    table.add_column("rows in", justify="right")
    table.add_column("kept", justify="right")
    table.add_column("removed (by reason)", overflow="fold")  # (a reason code is folded, never cut short)
    table.add_column("quarantined", justify="right")
    table.add_column("time", justify="right")
    for st in result.stages:
        if not st.enabled:
            table.add_row(Text(st.name, style="dim"), "", "", Text("off", style="dim"), "", "")
            continue
        # plain Text: a reason code is no markup, and `pii:secret:` must not become an emoji
        removed = Text("\n".join(f"{k}: {v:,}" for k, v in st.removed.items()) or "-")  # one reason a line
        if st.added:
            removed.append(f" (+{st.added} added)", style="green")
        seconds = "resumed" if st.resumed else f"{st.seconds:.2f}s"
        table.add_row(Text(st.name), f"{st.rows_in:,}", f"{st.kept:,}", removed, f"{st.quarantined:,}" if st.quarantined else "-", seconds)
    print_table(table)
    inputs = result.manifest.get("inputs")
    if inputs:
        from curation.mix_report import target_text

        mix = Table(title="inputs", title_justify="left")
        augmented = any(i.get("augmented") for i in inputs)  # rows in + augmented = in splits + removed + quarantined
        for name in ("input", "format", "rows in", *(["augmented"] if augmented else []), "in splits", "removed",
                     "quarantined", "share", "target"):
            mix.add_column(name, justify="left" if name in ("input", "format") else "right")
        for i in inputs:
            target = target_text(i, none="-")
            mix.add_row(Text(i["name"]), Text(i["format"]), f"{i['rows_in']:,}",
                        *([f"+{i.get('augmented', 0):,}"] if augmented else []), f"{i['kept']:,}",
                        f"{sum(i['removed'].values()):,}", f"{i['quarantined']:,}", f"{i['share']:.1%}", target)
        print_table(mix)
        from curation.report.facts import mix_notes

        mix_stats = next((s.get("stats") for s in result.manifest.get("stages", []) if s.get("name") == "mix"), None)
        for note in mix_notes(inputs, mix_stats):
            console.print(Text(note))
    from curation.report.facts import against_summary

    against_entry = next((s for s in result.manifest.get("stages", []) if s.get("name") == "against"), None)
    against = against_summary(result.manifest.get("config"), against_entry)  # as the card and both reports say it
    if against is not None:
        console.print(Text(f"against {against[0]} {against[1]}"))
    split_read = [(i.get("name") or i.get("spec"), i["split"]) for i in inputs or [result.manifest.get("input") or {}]
                  if isinstance(i, dict) and i.get("split")]
    for name, split in split_read:  # a folder of a dataset's splits: its other splits were left out
        console.print(Text(f"{name}: read split {split!r} of a folder of splits (FOLDER:SPLIT reads another)"))
    acc = result.manifest["accounting"]
    console.print(
        f"[bold]{acc['input_rows']:,}[/] input rows"
        + (f" + {acc['added_rows']:,} augmented" if acc["added_rows"] else "")
        + f" -> [green]{acc['in_splits']:,} in splits[/], {acc['removed']:,} removed, {acc['quarantined']:,} quarantined"
        + ("  [green]✓ nothing lost[/]" if acc["balanced"] else "  [red]✗ accounting does not balance[/]")
    )
    outs = result.manifest["outputs"]
    for name, info in outs.items():
        console.print(f"  {name:<11} {result.out.root / info['path']}  ({info['rows']:,} rows)", markup=False)
    console.print(f"  {'manifest':<11} {result.out.manifest}", markup=False)
    for extra in ("report.html", "report.md"):
        if (result.out.root / extra).exists():
            console.print(f"  {'report':<11} {result.out.root / extra}", markup=False)
    note = glob_path_note(result.out.root)
    if note:
        console.print(Text(note, style="yellow"))


GLOB_CHARACTERS = "[]*?"


def glob_path_note(root: Path) -> str | None:
    """A note when the output folder's full path holds a glob character: ``datasets.load_dataset(OUT)`` (and
    ``load_dataset("parquet", data_files=...)``) read the path as a pattern, and find none of its files
    (huggingface/datasets#7468); the files load when the folder's part of the pattern is escaped."""
    full = str(Path(root).resolve())
    if not any(c in full for c in GLOB_CHARACTERS):
        return None
    return (f"note: {root}: its path holds a glob character ({', '.join(repr(c) for c in GLOB_CHARACTERS if c in full)}), "
            "which datasets.load_dataset reads as a pattern and then finds no file: load it with data_files="
            "glob.escape(folder) + '/train.parquet' (and so on), or curate into a folder named without [ ] * ?")


def register(app: typer.Typer) -> None:
    app.command("curate", help=CURATE_HELP)(curate)
