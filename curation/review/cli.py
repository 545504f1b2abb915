"""`tome review export` / `tome review import`: human review of a curation output folder in Argilla."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from tomecraft.console import non_empty_path, output_path

REVIEW_HELP = """
Human review in **Argilla 2.x**: export rows of a `tome curate` output folder for annotators, then import
their verdicts into a new output folder.

1. `tome review export out/ --sample 200 --to review/` - write the dataset as `rg.Dataset.to_disk` does
   (or `--api-url ... --api-key ...` to log it to a running server directly)
2. annotators judge each row in Argilla: **verdict** keep / fix / discard, **quality** 1-5, **corrected_answer**
3. `tome review import out/ --dataset tome-review --out reviewed/` (live), or `--from review/` after
   `ds.to_disk(...)` - discards move to removed.parquet (`review:discard`), fixes replace the last answer,
   quality becomes a column; the manifest gets agreement figures and conflicts

See docs/review.md for the whole annotator's path.
"""

EXPORT_HELP = """
Export rows of a curation output folder (FOLDER) to Argilla.

**What to review** (criteria add up; none = every kept row of the splits):
`--split train`, `--removed 'filter:*'` (removed rows whose reason matches), `--clusters` (near-duplicate
clusters, kept and removed members), `--augmented`, `--disagree` (a filter fired on a high score, or nothing
fired on a low one); then `--sample N` draws N of them at random, or `--stratify-by source` in proportion.

**Where** - offline: `--to DIR` writes the `rg.Dataset.to_disk` layout (load it with `rg.Dataset.from_disk`),
`--hub-dir DIR` the `to_hub` layout (`data/*.parquet`, `.argilla/`, card), `--push-to-hub user/name` publishes
it (load with `rg.Dataset.from_hub(..., settings="auto")`). Live: `--api-url`/`--api-key` (or
ARGILLA_API_URL/ARGILLA_API_KEY) create or update dataset `--name` in `--workspace`; records are keyed by
row id, so exporting again updates them instead of adding copies.

Examples:

* `tome review export out/ --sample 100 --stratify-by source --to review/`
* `tome review export out/ --removed 'filter:*' --clusters --api-url http://localhost:6900 --api-key argilla.apikey`
"""

IMPORT_HELP = """
Apply annotators' verdicts to FOLDER (the folder you exported from) and write a new output folder (`--out`).

Reads submitted responses from a live dataset (`--dataset`, with `--api-url`/`--api-key`/`--workspace`) or
from an exported folder or file (`--from`: a `to_disk` folder or its records.json, a `to_hub` folder or one of
its parquet files). Per row the majority verdict wins: **discard** moves it to removed.parquet (stage
`review`, reason `review:discard`), **fix** replaces the last answer with `corrected_answer` (the old text
stays in `review_original_answer`, the annotators in `review_fixed_by`), **keep** keeps it (a removed row
comes back into a split). `quality` is the mean rating. Ties change nothing and, like every disagreement,
are listed in manifest.json's `review` section with percent agreement and Cohen's / Fleiss' kappa.

Examples:

* `tome review import out/ --from review/ --out reviewed/`
* `tome review import out/ --dataset tome-review --workspace argilla --out reviewed/ --min-votes 2`
"""

app = typer.Typer(name="review", help=REVIEW_HELP, no_args_is_help=True, rich_markup_mode="markdown")


def _api_options():
    return {
        "api_url": typer.Option(None, "--api-url", envvar="ARGILLA_API_URL", help="Argilla server URL, e.g. http://localhost:6900."),
        "api_key": typer.Option(None, "--api-key", envvar="ARGILLA_API_KEY", help="Your Argilla API key (My settings in the UI)."),
        "workspace": typer.Option(None, "--workspace", "-w", envvar="ARGILLA_WORKSPACE", help="Argilla workspace; default: the first one of the key's user."),
    }


_API = _api_options()


@app.command("export", help=EXPORT_HELP, no_args_is_help=True)
def export_cmd(
    folder: Path = typer.Argument(..., help="A curation output folder (the --out of `tome curate`)."),
    split: list[str] = typer.Option([], "--split", "-s", help="Kept rows of this split (train, validation, test); repeatable."),
    removed: list[str] = typer.Option([], "--removed", "-r", help="Removed rows whose reason matches this glob, e.g. 'filter:*' or exact_duplicate; repeatable."),
    clusters: bool = typer.Option(False, "--clusters", help="Every member of every near-duplicate cluster (kept and removed)."),
    augmented: bool = typer.Option(False, "--augmented", help="Rows made by augmentation."),
    disagree: bool = typer.Option(False, "--disagree", help="Rows whose heuristics disagree (filter vs score)."),
    score_high: float = typer.Option(4.5, "--score-high", help="--disagree: a fired filter on a score at or above this disagrees."),
    score_low: float = typer.Option(3.5, "--score-low", help="--disagree: no fired heuristic on a score at or below this disagrees."),
    sample: Optional[int] = typer.Option(None, "--sample", "-n", help="Draw N rows of the selection (all if fewer)."),
    stratify_by: Optional[str] = typer.Option(None, "--stratify-by", help="With --sample: draw in proportion to this column's groups (source, location, reason, ...)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample (same seed, same rows)."),
    name: str = typer.Option("tome-review", "--name", help="Argilla dataset name."),
    min_submitted: int = typer.Option(1, "--min-submitted", min=1, help="Annotators per record before it counts as done (Argilla task distribution)."),
    vectors: bool = typer.Option(True, "--vectors/--no-vectors", help="Add each row's sentence embedding (all-MiniLM-L6-v2, offline) for similarity search."),
    embed_model: str = typer.Option("default", "--embed-model", help="'default' (packaged all-MiniLM-L6-v2) or a sentence-transformers id/path."),
    embed_batch_size: int = typer.Option(64, "--embed-batch-size", min=1, help="Rows embedded at a time (with --vectors)."),
    to: Optional[Path] = typer.Option(None, "--to", parser=non_empty_path, metavar="DIR", callback=output_path, help="Offline: write the rg.Dataset.to_disk layout to this new/empty folder."),
    hub_dir: Optional[Path] = typer.Option(None, "--hub-dir", parser=non_empty_path, metavar="DIR", callback=output_path, help="Offline: write the rg.Dataset.to_hub layout (a Hugging Face dataset) to this new/empty folder."),
    push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", help="Publish the to_hub layout to this Hugging Face dataset repo (user/name; needs the network)."),
    hf_token: Optional[str] = typer.Option(None, "--hf-token", envvar="HF_TOKEN", help="Hugging Face token for --push-to-hub."),
    private: bool = typer.Option(False, "--private", help="--push-to-hub: make the repo private (an existing "
                                 "public repo is refused, nothing uploaded)."),
    api_url: Optional[str] = _API["api_url"],
    api_key: Optional[str] = _API["api_key"],
    workspace: Optional[str] = _API["workspace"],
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="Live: records per upsert request."),
    timeout: float = typer.Option(60, "--timeout", help="Live: seconds to wait for each request."),
    retries: int = typer.Option(3, "--retries", min=0, help="Live: connection retries."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    from curation.review.errors import ReviewError, ReviewUsageError
    from curation.review.folder import read_folder
    from curation.review.layouts import check_push, check_target
    from curation.review.export import ExportOptions, check_dataset_name, embed_rows, export_live, export_offline, prepare
    from curation.review.selection import Selection
    from curation.review.signals import Thresholds
    from tomecraft.console import console, error, progress_tracker

    offline = to is not None or hub_dir is not None or push_to_hub is not None
    selection = Selection(
        splits=tuple(split), removed=tuple(removed), clusters=clusters, augmented=augmented, disagree=disagree,
        sample=sample, stratify_by=stratify_by, seed=seed, thresholds=Thresholds(score_high, score_low),
    )
    options = ExportOptions(name=name, min_submitted=min_submitted, vectors=vectors, embed_model=embed_model,
                            embed_batch_size=embed_batch_size)
    try:
        if not offline and not api_url:
            raise ReviewUsageError("say where to export: --to DIR (offline, to_disk layout), --hub-dir DIR (to_hub layout), "
                              "or --api-url/--api-key (or ARGILLA_API_URL/ARGILLA_API_KEY) for a live server")
        check_dataset_name(name)
        check_timeout(timeout)
        if push_to_hub is not None:  # offline or a repo name the hub refuses: said before the rows are read
            check_push(push_to_hub)
        for option, value in (("--score-high", score_high), ("--score-low", score_low)):
            if value != value:  # NaN: no score is at or above it, nor at or below it; --disagree would drop that half
                raise ReviewUsageError(f"{option} nan: give a number (a score threshold)")
        prep = prepare(read_folder(folder), selection, options, with_vectors=False)
        if to is not None:
            check_target(to, "--to")
        if hub_dir is not None:
            check_target(hub_dir, "--hub-dir")
        client = None
        if not offline:  # fail on the server, key or workspace before spending time on embeddings
            from curation.review.live import connect, live_errors
            from curation.review.live import workspace as resolve_workspace

            client = connect(api_url, api_key, timeout=timeout, retries=retries)
            with live_errors(api_url, timeout):
                resolve_workspace(client, workspace)
        with progress_tracker(quiet) as track:
            if options.vectors:
                prep.vectors = embed_rows(prep.folder, prep.picked, options, track)
            if offline:
                result = export_offline(prep, options, to=to, hub_dir=hub_dir, push_to_hub=push_to_hub,
                                        token=hf_token, private=private)
            else:
                result = export_live(prep, options, client, workspace, batch_size, track)
    except ReviewError as exc:
        error(str(exc), code=2 if isinstance(exc, ReviewUsageError) else 1)
    _print_export(console, prep, result, offline)


def _print_export(console, prep, result, offline: bool) -> None:
    from collections import Counter

    where = Counter(p.loc.location for p in prep.picked)
    console.print(f"[bold]tome review export[/]: {len(prep.picked)} records "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(where.items()))}), "
                  f"vectors: {prep.dimensions or 'none'}")
    if offline:
        from curation.report.markdown_text import one_line

        if "disk" in result:  # (the path as Python writes it: a quote or a line break in it still loads)
            console.print(f"  to_disk layout: {one_line(str(result['disk']))}  (rg.Dataset.from_disk("
                          f"{str(result['disk'])!r}, workspace=..., client=...))", markup=False)
        if "hub" in result:
            console.print(f"  to_hub layout:  {one_line(str(result['hub']))}", markup=False)
        if "pushed" in result:
            console.print(f"  published:      {one_line(str(result['pushed']))}  (rg.Dataset.from_hub(..., settings=\"auto\"))", markup=False)
    else:
        verb = "created" if result["created"] else "updated"
        console.print(f"  {verb} dataset {result['dataset']!r} in workspace {result['workspace']!r} at {result['url']}; "
                      f"{result['records']} records upserted by row id", markup=False)


@app.command("import", help=IMPORT_HELP, no_args_is_help=True)
def import_cmd(
    folder: Path = typer.Argument(..., help="The curation output folder the review was exported from."),
    out: Path = typer.Option(..., "--out", "-o", parser=non_empty_path, metavar="DIR", callback=output_path, help="New output folder for the reviewed data (same contract as `tome curate`)."),
    from_: Optional[Path] = typer.Option(None, "--from", parser=non_empty_path, metavar="PATH", help="Offline: a to_disk folder (or its records.json), or a to_hub folder (or one of its parquet files)."),
    dataset: str = typer.Option("tome-review", "--dataset", help="Live: the Argilla dataset name."),
    api_url: Optional[str] = _API["api_url"],
    api_key: Optional[str] = _API["api_key"],
    workspace: Optional[str] = _API["workspace"],
    min_votes: int = typer.Option(1, "--min-votes", min=1, help="Apply a verdict only to rows with at least this many submitted verdicts."),
    restore_to: str = typer.Option("train", "--restore-to", help="Split for removed rows that annotators keep, when "
                                   "neither a review discarded them from a split nor the row they duplicated is in one."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists."),
    timeout: float = typer.Option(60, "--timeout", help="Live: seconds to wait for each request."),
    retries: int = typer.Option(3, "--retries", min=0, help="Live: connection retries."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    from curation.review.apply import apply_review, check_out
    from curation.review.errors import ReviewError, ReviewUsageError
    from curation.review.folder import read_folder
    from curation.review.verdicts import decide
    from tomecraft.console import console, error, progress_tracker, refuse_long_names

    if from_ is None and not api_url:  # (the live path's own message named export's --to)
        error("say where the verdicts are: --from DIR (the to_disk or to_hub folder the annotators' dataset was saved "
              "to) or --api-url/--api-key (or ARGILLA_API_URL/ARGILLA_API_KEY) with --dataset for a live server")
    refuse_long_names(("FOLDER", folder), ("--from", from_))  # (out_problem's first look raised OSError)
    reads = [folder, *([from_] if from_ is not None else [])]
    problem = (overwrite_problem(out, reads) if overwrite else None) or out_problem(out, folder, from_)
    if problem:
        error(problem)
    try:
        check_timeout(timeout)
        reviewed_folder = read_folder(folder)
        check_out(reviewed_folder, out, overwrite)
        if from_ is not None:
            from curation.review.layouts import read_layout

            reviewed = read_layout(from_)
        else:
            from curation.review.live import connect, fetch

            client = connect(api_url, api_key, timeout=timeout, retries=retries)
            with progress_tracker(quiet) as track:
                reviewed = fetch(client, dataset, workspace, track)
        tally = decide(reviewed.record_ids, reviewed.answers, min_votes=min_votes, origin=reviewed.origin)
        manifest = apply_review(reviewed_folder, tally, out, reviewed.source, restore_to=restore_to,
                                overwrite=overwrite, min_votes=min_votes)
    except ReviewError as exc:
        error(str(exc), code=2 if isinstance(exc, ReviewUsageError) else 1)
    _print_import(console, manifest, out)


def check_timeout(timeout: float) -> None:
    """``--timeout`` is a number of seconds above 0: httpx takes a negative or NaN one for the server's fault
    ("does not answer like Argilla"), and 0 would time every request out."""
    from curation.review.errors import ReviewUsageError

    if not (timeout > 0 and math.isfinite(timeout)):
        raise ReviewUsageError(f"--timeout {timeout:g}: give the seconds to wait for each request, a number above 0")


def out_problem(out: Path, folder: Path, from_: Path | None) -> str | None:
    """Why ``--out`` may not be written where it is, or None: inside the input folder (with ``--overwrite``,
    ``--out IN/train.parquet`` replaced the input's train split with the reviewed folder; without it, the folder
    lies in one that ``tome curate --overwrite`` deletes whole), or in, at or around the ``--from`` export (the
    annotators' verdicts, deleted or mixed with the reviewed folder)."""
    target = out.resolve()
    if folder.exists() and folder.resolve() in target.parents:
        return f"--out {out}: inside the input folder {folder}; the review writes a new folder beside it"
    if from_ is not None and from_.exists():
        source = from_.resolve()
        if target == source or source in target.parents or target in source.parents:
            return f"--out {out}: it overlaps --from {from_}, the verdicts this import reads; choose another --out"
    return None


def overwrite_problem(out: Path, reads: list[Path]) -> str | None:
    """Why ``--overwrite`` may not delete ``out``, or None. It replaces an earlier output (a folder with a
    manifest.json, or a file); ``--out .`` used to delete the working folder whole, the reviewed folder and the
    annotators' export in it included."""
    from curation.contract import MANIFEST_FILE

    if not out.exists():
        return None
    target = out.resolve()
    for path in reads:
        if path.exists() and target in (path.resolve(), *path.resolve().parents):
            return f"--out {out} --overwrite: it holds {path}, which this import reads; choose another --out"
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_FILE).is_file():
        return (f"--out {out} --overwrite: not an output folder (no {MANIFEST_FILE}), and --overwrite deletes it "
                "whole; choose a new or empty folder")
    return None


def _print_import(console, manifest, out: Path) -> None:
    from rich.text import Text

    r = manifest["review"]
    v, a, ag = r["verdicts"], r["applied"], r["agreement"]["verdict"]
    acc = manifest["accounting"]
    console.print(Text.assemble(("tome review import", "bold"), f": {r['records']} records, {len(r['annotators'])} "
                                f"annotator(s) -> {out}"))
    console.print(f"  verdicts: keep {v['keep']}, fix {v['fix']}, discard {v['discard']}, "
                  f"undecided {v['undecided']}, pending {v['pending']}")
    console.print(f"  applied:  fixed {a['fixed']}, discarded {a['discarded']}, restored {a['restored']}, "
                  f"quality set on {a['quality_set']}")
    fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    console.print(f"  agreement: {fmt(ag['percent_agreement'])} of pairs agree, Fleiss' kappa {fmt(ag['fleiss_kappa'])}, "
                  f"mean Cohen's kappa {fmt(ag['cohen_kappa_mean'])}; conflicts: {len(r['conflicts'])}")
    console.print(f"  accounting: {acc['in_splits']} in splits + {acc['removed']} removed + {acc['quarantined']} "
                  f"quarantined = {acc['input_rows'] + acc['added_rows']} rows ({'balanced' if acc['balanced'] else 'NOT balanced'})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")
