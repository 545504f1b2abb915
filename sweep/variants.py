"""The data variants of a sweep, built and made comparable.

``OUT/sources/<name>/`` is what a variant is before the sweep touches it: a `tome curate` output (``curate``), the
raw side of a curated variant (``raw_of``, :func:`evaluation.raw_folder.build_raw_folder`), or nothing (``folder``,
used where it is). ``OUT/data/<name>/`` is what its cells train on, a curation output folder of its own:

* ``train.parquet``: the variant's train split without the rows that duplicate a held-out row
  (:mod:`sweep.decontaminate`), with the columns training reads plus provenance (``origin_id``, ``augmentation``);
* ``validation.parquet``, ``test.parquet``: the ``heldout`` variant's, the same rows for every variant;
* ``manifest.json``: where the rows came from and how many decontamination removed, by reason.

Each step is skipped when its output exists for the same spec (``variant.json`` records it), so a resumed sweep
does not curate again. The spec is what the output depends on: the variant's keys, the resolved curation config (not
just its file name) and the sha256 of every local input file, so an edited input or curation config is curated
again (and a cell trained on the old data then stops the sweep with its name) instead of being reused.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from sweep.config import SweepConfig, VariantSpec

SPEC_FILE = "variant.json"
TRAIN_COLUMNS = ("id", "conversations", "source", "score", "origin_id", "augmentation")


@dataclass
class PreparedVariant:
    name: str
    kind: str  # folder | curate | raw
    source: str  # the folder its rows came from
    folder: str  # OUT/data/<name>: what its cells train on
    train_rows: int
    source_train_rows: int
    decontaminated: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    augmented_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _input_digests(spec: str | None, cache: dict[str, list[str]]) -> list[str]:
    """The sha256 of each local file an input names (null or ``sample``: the embedded sample); none for a hub
    dataset id, which stands for itself (or an input that matches nothing: the curation run names it)."""
    from curation.readers import looks_like_path
    from curation.sources import SourceError, expand
    from curation.writer import sha256_file

    key = "sample" if spec is None else spec
    if key not in cache:
        if key == "sample":
            from tomecraft.resources import ensure_sample

            cache[key] = [sha256_file(ensure_sample())]
        elif not looks_like_path(key):
            cache[key] = []
        else:
            try:
                cache[key] = [sha256_file(f.path) for f in expand(key)]
            except SourceError:
                cache[key] = []
    return cache[key]


def _spec_record(name: str, spec: VariantSpec, cfg: SweepConfig, cache: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """What a variant's source depends on (see the module docstring)."""
    cache = {} if cache is None else cache
    record = {"name": name, "spec": spec.model_dump(mode="json", exclude_unset=True), "input": spec.input or cfg.input}
    if spec.kind() == "curate":
        from curation.config import load_config as load_curation_config

        curation = load_curation_config(spec.curate, {"report": False, **spec.set}).resolved()
        for key in ("engine", "checkpoint", "report"):  # how the work is done, not what it makes
            curation.pop(key, None)
        record["curation"] = curation
        inputs = [spec.input or cfg.input] + [i.get("path") for i in curation.get("inputs") or []]
        record["input_sha256"] = [_input_digests(i, cache) for i in inputs]
    return record


def _is_done(folder: Path, record: dict[str, Any]) -> bool:
    try:
        return json.loads((folder / SPEC_FILE).read_text(encoding="utf-8")) == record
    except (OSError, ValueError):
        return False


def _mark_done(folder: Path, record: dict[str, Any]) -> None:
    (folder / SPEC_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_sources(cfg: SweepConfig, out: Path, log: Callable[[str], None] = lambda m: None,
                  progress: Callable | None = None, cache: dict[str, list[str]] | None = None) -> dict[str, Path]:
    """Each variant's source folder (curating and building raw sides as needed). ``cache``: input digests
    already taken (input -> sha256 list)."""
    from curation.config import load_config as load_curation_config
    from curation.contract import require_output_folder
    from curation.pipeline import run_curation
    from evaluation.raw_folder import build_raw_folder

    sources: dict[str, Path] = {}
    order = [n for n, s in cfg.data.items() if s.kind() != "raw"] + [n for n, s in cfg.data.items() if s.kind() == "raw"]
    for name in order:
        spec = cfg.data[name]
        if spec.kind() == "folder":
            sources[name] = Path(spec.folder)
            require_output_folder(sources[name])
            continue
        folder = out / "sources" / name
        cache = {} if cache is None else cache
        record = _spec_record(name, spec, cfg, cache)
        if spec.kind() == "raw":
            record["of"] = _spec_record(spec.raw_of, cfg.data[spec.raw_of], cfg, cache)
        if _is_done(folder, record):
            log(f"data {name}: reusing {folder}")
            sources[name] = folder
            continue
        if folder.exists():
            shutil.rmtree(folder)
        if spec.kind() == "curate":
            what = spec.input or cfg.input
            log(f"data {name}: curating {what or 'the embedded sample'}" + (f" with {spec.curate}" if spec.curate else ""))
            curation_cfg = load_curation_config(spec.curate, {"report": False, **spec.set} if spec.set else {"report": False})
            run_curation(what, folder, curation_cfg, progress=progress)
        else:
            log(f"data {name}: the raw side of {spec.raw_of} (every input row as it came, held-out rows left out)")
            build_raw_folder(sources[spec.raw_of], folder)
        _mark_done(folder, record)
        sources[name] = folder
    return {name: sources[name] for name in cfg.data}


def _digest(path: Path) -> str:
    from curation.writer import sha256_file

    files = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]
    return ",".join(sha256_file(f) for f in files)


def _train_table(folder: Path):
    from curation.contract import read_split

    table = read_split(folder, "train")
    return table.select([c for c in TRAIN_COLUMNS if c in table.column_names])


def prepare_variants(cfg: SweepConfig, out: Path, log: Callable[[str], None] = lambda m: None,
                     progress: Callable | None = None) -> dict[str, PreparedVariant]:
    """Build the sources, decontaminate every train split against the held-out rows, write ``OUT/data/``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.contract import read_split, require_output_folder
    from curation.writer import sha256_file, write_json, write_jsonl, write_rows
    from sweep.decontaminate import find_contamination

    heldout = cfg.heldout_variant()
    record: dict[str, Any] = {"variants": {}, "heldout": heldout, "decontaminate": cfg.decontaminate}
    cache: dict[str, list[str]] = {}
    for name, spec in cfg.data.items():
        entry = _spec_record(name, spec, cfg, cache)
        if spec.kind() == "raw":
            entry["of"] = _spec_record(spec.raw_of, cfg.data[spec.raw_of], cfg, cache)
        if spec.kind() == "folder":  # a folder can change under the same spec: its split files say
            paths = require_output_folder(spec.folder)
            entry["files"] = {s: _digest(paths.split(s)) for s in ("train", "validation", "test")}
        record["variants"][name] = entry
    data_root = out / "data"
    if _is_done(data_root, record):
        log("data: reusing the prepared (decontaminated) variants in " + str(data_root))
        return {n: PreparedVariant(**json.loads((data_root / n / "manifest.json").read_text(encoding="utf-8"))["variant"])
                for n in cfg.data}
    sources = build_sources(cfg, out, log, progress, cache)
    held_rows = []
    for split in ("validation", "test"):
        held_rows += read_split(sources[heldout], split).select(["conversations"]).to_pylist()
    tables = {name: _train_table(folder) for name, folder in sources.items()}
    if cfg.decontaminate:
        log(f"data: decontaminating {len(cfg.data)} variant(s) against {len(held_rows):,} held-out rows of {heldout} "
            "(exact + near dedup)")
        contamination = find_contamination(
            held_rows, {n: t.select(["conversations"]).to_pylist() for n, t in tables.items()},
            out / "decontamination", progress=progress)
    else:
        contamination = None
    prepared: dict[str, PreparedVariant] = {}
    for name, table in tables.items():
        folder = data_root / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        drop = contamination.positions[name] if contamination else set()
        # typed: a train split of no row made a null-typed array, which filter refused (a traceback, not
        # check_rows' line)
        keep = pa.array([i not in drop for i in range(table.num_rows)], type=pa.bool_())
        kept = table.filter(keep)
        pq.write_table(kept, folder / "train.parquet")
        for split in ("validation", "test"):
            pq.write_table(read_split(sources[heldout], split), folder / f"{split}.parquet")
        write_rows([], folder / "removed.parquet", [], removed=True)
        write_jsonl([], folder / "quarantine.jsonl")
        augmented = 0
        if "origin_id" in kept.column_names:
            augmented = sum(1 for v in kept.column("origin_id").to_pylist() if v)
        variant = PreparedVariant(
            name=name, kind=cfg.data[name].kind(), source=str(sources[name]), folder=str(folder),
            train_rows=kept.num_rows, source_train_rows=table.num_rows,
            decontaminated=dict(sorted((contamination.reasons[name] if contamination else {}).items())),
            augmented_rows=augmented)
        outputs = {s: {"path": f"{s}.parquet", "rows": pq.read_metadata(folder / f"{s}.parquet").num_rows,
                       "sha256": sha256_file(folder / f"{s}.parquet")} for s in ("train", "validation", "test")}
        write_json({"written_by": "sweep.variants", "variant": variant.as_dict(), "heldout_from": heldout,
                    "outputs": outputs, "splits": ["train", "validation", "test"]}, folder / "manifest.json")
        prepared[name] = variant
        log(f"data {name}: {variant.train_rows:,} train rows" + (
            f" ({sum(variant.decontaminated.values()):,} left out as duplicates of held-out rows)" if variant.decontaminated else ""))
    if contamination is not None:
        write_json(contamination.as_dict(), out / "decontamination" / "summary.json")
    _mark_done(data_root, record)
    return prepared
