"""Curate an input into an output folder: the one entry point the command line and the tests call.

:func:`run_curation` opens the input (:mod:`curation.readers`; several inputs: :mod:`curation.inputs`), runs
every registered stage on the chosen engine (:mod:`curation.engines`), then finishes the folder: the per-input
accounting and the mix in ``manifest.json``, the dataset card (``README.md``, and the ``messages`` splits when
asked for) and the report. The steps know nothing of files or engines; the engines know no step by name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa

from curation.core.bookkeeping import AccountingError, StageReport
from curation.engines.local import CurationResult, run_local
from curation.engines.output import local_out
from curation.readers import InputError, open_input
from tomecraft.errors import error_line
from tomecraft.files import expand_user, link_loop, too_long

__all__ = ["AccountingError", "CurationResult", "InputError", "StageReport", "check_not_own_output", "check_out_dir",
           "finish_outputs", "open_source", "run_curation"]


def check_out_dir(out_dir: str | Path, config, output_format: str = "finetome", shards: bool = False) -> None:
    """Refuse, before any work, an output folder the run could not finish: one that holds the ``--against`` set
    (the run would write its new rows over the data it extends, which is never rewritten), one inside a plain
    ``--against`` folder (the next run would read this one's outputs as existing rows), or one where a path
    the run writes is taken by the other kind (a folder named ``train.parquet``, as Spark writes them, or
    ``README.md``; a file named ``messages``). Such a path is the user's, so it is named, not removed.
    ``shards``: the engine writes each split as a folder of shards (Ray)."""
    against = config.stage("against").path
    if against is not None and not against.strip():  # ("" resolves as the working folder, around any --out)
        raise InputError("--against is empty: give the existing set (a `tome curate` output folder, a file, glob, "
                         "folder or dataset id)")
    if against is not None and "://" not in against:
        problem = too_long(expand_user(against)) or link_loop(expand_user(against))
        if problem is not None:  # (each look at it below raised OSError: File name too long, or RuntimeError)
            raise InputError(f"--against {against}: {problem}")
        existing, out = expand_user(against).resolve(), expand_user(out_dir).resolve()
        if _under(existing, out):
            raise InputError(f"--against {against}: this run would write over it (the output folder is {out_dir}); "
                             "write the new rows to another folder (--out)")
        from curation.sources import is_curated_folder

        if is_curated_folder(existing):
            if _under(out, existing):  # (the folder would then hold another run's files: no input reads it so)
                raise InputError(f"--against {against}: the output folder {out_dir} is inside it, and the existing "
                                 "set is read, never written to; write the new rows to a folder outside it (--out)")
        else:  # a plain set around --out (a folder of shards) reads this run's output
            try:  # next time: its splits and removed rows would count as existing rows
                check_not_own_output([against], out_dir)
            except InputError as exc:
                raise InputError(f"--against {exc}") from None
    if against is not None and config.stage("against").enabled:
        from curation.against import ExistingSet

        ExistingSet(against, config.stage("against").subset).check()  # a damaged or missing existing set, before the new rows are read
    root = expand_user(out_dir)
    if not root.is_dir():
        return
    from curation.card import CARD_FILE, MESSAGES_DIR
    from curation.contract import MANIFEST_FILE, QUARANTINE_FILE, REMOVED_FILE, SPLITS
    from curation.report import REPORT_HTML, REPORT_MD

    files = [MANIFEST_FILE, QUARANTINE_FILE, CARD_FILE, *((REPORT_HTML, REPORT_MD) if config.report else ()),
             *(f"{s}.parquet" for s in SPLITS), REMOVED_FILE]  # (a sharded run removes the single files)
    folders = [MESSAGES_DIR] if output_format in ("messages", "both") else []
    if shards:
        folders += [*SPLITS, "removed"]
    for name in files:
        if (root / name).is_dir():
            raise InputError(f"{root / name}: the run writes a file here, and it is a folder; move it or choose "
                             "another --out")
    for name in folders:
        if (root / name).exists() and not (root / name).is_dir():
            raise InputError(f"{root / name}: the run writes a folder here, and it is a file; move it or choose "
                             "another --out")
    foreign = foreign_entry(root)
    if foreign is not None:
        raise InputError(f"{foreign}: --out {out_dir} is not a `tome curate` output folder (no manifest.json, no "
                         f"tomecraft dataset card) and the run would replace this "
                         f"{'folder' if foreign.is_dir() else 'file'}; move it or choose another --out")


def foreign_entry(out: Path) -> Path | None:
    """What the run would replace in ``out`` that is not its own: the ``README.md`` (the run writes its dataset card
    there) or the ``messages/`` folder (rewritten, or removed without ``--format messages``) of a folder that is no
    `tome curate` output: it has no ``manifest.json`` and no card tagged ``tomecraft`` (a run stopped part-way
    leaves neither, nor ``messages/``: :func:`curation.engines.output.forget_run`). ``tome curate -o .`` in a
    project folder replaced the project's README. None when there is nothing of the kind."""
    from curation.card import CARD_FILE, MESSAGES_DIR, CardError, read_card_header
    from curation.contract import MANIFEST_FILE

    entries = [out / CARD_FILE, out / MESSAGES_DIR]
    if not out.is_dir() or (out / MANIFEST_FILE).is_file() or not any(e.exists() for e in entries):
        return None
    try:
        header = read_card_header(out) or {}
    except CardError:
        header = {}
    tags = header.get("tags")
    if isinstance(tags, list) and "tomecraft" in tags:
        return None
    return next(e for e in entries if e.exists())


def check_not_own_output(paths: Sequence[str], out_dir: str | Path) -> None:
    """Refuse an input that is or holds the output folder, or one of the files the run writes there: the run
    would read what it writes (a folder of shards around ``--out`` reads, on the next run, the splits the last
    one wrote, its removed rows among them) or write over what it reads. A folder the reading skips (a hidden
    one) does not count, nor does another file in the output folder (``-i data/rows.jsonl -o data``)."""
    import os

    from curation.card import MESSAGES_DIR
    from curation.contract import QUARANTINE_FILE, REMOVED_FILE, SPLITS
    from curation.readers import looks_like_path
    from curation.sources import glob_files, is_glob

    out = expand_user(out_dir).resolve()
    written = {*(f"{s}.parquet" for s in SPLITS), *SPLITS, REMOVED_FILE, "removed", QUARANTINE_FILE, MESSAGES_DIR}

    def overwritten(path: Path) -> bool:  # one of the run's outputs, or in one of its output folders
        return _under(path, out) and path != out and path.relative_to(out).parts[0] in written

    for spec in paths:
        # (a local folder named with one slash, ``data/shards``, looks like a hub id but is read as the folder)
        if "://" in spec or not (looks_like_path(spec) or is_glob(spec) or expand_user(spec).exists()):
            continue
        if is_glob(spec):
            inside = sorted(p for p in glob_files(os.path.expanduser(spec)) if overwritten(Path(p).resolve()))
            given = inside[0] if inside else None
        else:
            path = expand_user(spec)
            if not path.exists():
                continue
            path = path.resolve()
            read = path.is_dir() and _under(out, path) and not any(
                part.startswith(".") for part in out.relative_to(path).parts)
            given = spec if read or overwritten(path) else None
        if given is not None:
            raise InputError(f"{given}: the run would read its own output (the output folder is {out_dir}); "
                             "write to a folder outside the input (--out)")


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def open_source(input_spec: str | Sequence[str] | None, config, out_dir: str | Path | None = None) -> tuple[Any, Any]:
    """``(source, config)`` for a run. One FineTome-shaped input is read as it is; several inputs (``--input``
    repeated, or the config's ``inputs:`` list; the command line replaces the list) or one in another format
    become a :class:`curation.inputs.MultiSource`, and the config's ``inputs`` then holds them resolved
    (names, detected formats), as the manifest records them. ``out_dir``: the run's output folder, which no
    input may be, hold or lie in (:func:`check_not_own_output`). An Arrow error while the input's first rows are
    read to tell its format is the input's (named, with why), not an ``inputs:`` setting's."""
    from curation.formats import FormatError
    from curation.inputs import InputConfig, MultiSource, inputs_from_cli, name_inputs, needs_adapting, open_inputs, resolve_input

    specs = [] if input_spec is None else [input_spec] if isinstance(input_spec, str) else list(input_spec)
    try:
        inputs = inputs_from_cli(specs) if specs else list(config.inputs)
        for item in inputs:  # (a URL's query may be long: it is no file name)
            problem = None if "://" in item.path else too_long(expand_user(item.path))
            if problem is not None:  # its first look (stat) raised OSError: File name too long
                raise InputError(f"{item.path}: {problem}; give a shorter path")
        if out_dir is not None:
            check_not_own_output([i.path for i in inputs], out_dir)
        if len(inputs) > 1 or (config.inputs and not specs):
            source = open_inputs(inputs)
        else:
            source = open_input(inputs[0].path if inputs else None)
            source.hash_in_background()  # while the format is told from the first records
            single = name_inputs([inputs[0] if inputs else InputConfig(path="sample")])[0]
            single = resolve_input(single, source)
            named = bool(inputs and inputs[0].name)  # NAME=PATH: its rows carry the name, as in a config's inputs:
            if not needs_adapting(single) and single.weight is None and single.max_rows is None and not named:
                if config.inputs:  # the command line's input replaced the config's list: the stages read no other
                    config = config.model_copy(deep=True)
                    config.inputs = []
                return source, config  # (a weight or max_rows is the mix stage's to honour: it reads config.inputs)
            source = MultiSource([single], [source])
    except FormatError as exc:
        raise InputError(str(exc)) from None
    except pa.ArrowException as exc:  # (ArrowInvalid is a ValueError) the input's data, not the inputs' settings
        where = ", ".join(specs) or ", ".join(i.path for i in config.inputs) or "the embedded sample"
        raise InputError(f"{where}: cannot read its first rows: {error_line(exc)}") from None
    except ValueError as exc:  # names used twice, weight and max_rows both given, a weight of 0
        raise InputError(str(exc) if str(exc).startswith(("inputs:", "--input")) else f"inputs: {exc}") from None
    config = config.model_copy(deep=True)
    config.inputs = source.inputs
    return source, config


def run_curation(
    input_spec: str | Sequence[str] | None,
    out_dir: str | Path,
    config=None,
    resume: bool = False,
    progress: Callable | None = None,
    output_format: str | None = None,
    on_opened: Callable[[], None] | None = None,
) -> CurationResult:
    """Curate ``input_spec`` (None = the embedded sample, or the config's ``inputs:``; a list = several inputs)
    into ``out_dir`` on this machine. ``on_opened``: called once the input is opened and its format told, before
    any work (a caller's own folder is made there, so that an input that cannot be read leaves nothing behind)."""
    from curation.config import config_model
    from curation.readers.kept_decoders import keeping

    config = config or config_model()()
    output_format = output_format or config.format  # (--format, else the config's format:)
    out_dir, uri = local_out(out_dir)
    if uri is not None:
        raise InputError(f"{uri}: --out must be a local folder (or file://); to write to object storage, curate into "
                         "a local folder and copy it, or publish it with `tome publish`")
    check_out_dir(out_dir, config, output_format)
    with keeping():  # a bz2 or xz input's decoder goes on from its looks (format, first records) into its read
        source, config = open_source(input_spec, config, out_dir)
        if on_opened is not None:
            on_opened()
        result = run_local(source, out_dir, config, resume=resume, progress=progress)
    result.manifest = finish_outputs(result.out.root, source, config, output_format)
    if config.report:
        write_report(result.out.root)
    return result


def finish_outputs(root: Path, source, config, output_format: str = "finetome") -> dict[str, Any]:
    """What every engine does after writing the data: the per-input accounting and the mix into the manifest
    (several inputs), then the dataset card. Returns the manifest. With ``report: false`` the report an earlier run
    left in the folder is removed: it describes other outputs than the ones beside it now. The run's working folder
    (``.cache``) is removed when it holds nothing."""
    from curation.card import write_card
    from curation.contract import CACHE_DIR, read_manifest
    from curation.mix_report import input_accounting, mix_entry
    from curation.report import REPORT_HTML, REPORT_MD
    from tomecraft.files import write_json

    if not config.report:
        for name in (REPORT_HTML, REPORT_MD):
            if (root / name).is_file():
                (root / name).unlink()

    manifest = read_manifest(root)
    records = getattr(source, "input_records", None)
    if records is not None:
        inputs = input_accounting(root, records(), mix_entry(manifest))
        manifest["inputs"] = inputs
        manifest["mix"] = [{"input": i["name"], "rows_in": i["rows_in"], "kept": i["kept"], "share": i["share"],
                            "target": i["target_share"], "target_rows": i["target_rows"]} for i in inputs]
        write_json(manifest, root / "manifest.json")
    write_card(root, output_format)
    try:  # the run's working folder, when it kept nothing there (an existing set's index, embeddings)
        (root / CACHE_DIR).rmdir()
    except OSError:  # it holds something (or is gone)
        pass
    return manifest


def write_report(root: Path) -> None:
    import gc

    import pyarrow as pa

    from curation.report import write_report as write

    gc.collect()
    pa.default_memory_pool().release_unused()  # what the run freed goes back before the report reads the folder
    write(root)

