"""Outputs people use directly: OpenAI/TRL ``messages`` splits and a dataset card.

``tome curate --format finetome|messages|both`` chooses what a user of the folder sees first. The FineTome
splits (``train.parquet``, ...) are always written: every later ``tome`` command reads them. ``messages`` and
``both`` add ``messages/{split}.parquet`` with ``id``, ``messages`` (``[{role, content}]``, roles
``system``/``user``/``assistant``), ``source`` and ``score``: the shape TRL's ``SFTTrainer`` takes as it is.

The card (``README.md``) carries the ``datasets`` YAML header (configs with their data files, features, row
counts), so ``datasets.load_dataset(OUT)`` loads the kept rows (never ``removed.parquet``) and the hub page
shows them; its body is the curation summary from ``manifest.json``. The card depends only on the folder's
data and the manifest's non-volatile keys: the same run gives the same bytes. The header is the YAML
``datasets`` writes, built without importing it (:mod:`curation.card_features` maps the column types).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from curation.contract import SPLITS, output_paths, read_manifest
from curation.formats import to_messages

OutputFormat = Literal["finetome", "messages", "both"]
OUTPUT_FORMATS = ("finetome", "messages", "both")
MESSAGES_DIR = "messages"
CARD_FILE = "README.md"


def messages_table(split: pa.Table) -> pa.Table:
    """A FineTome split as ``id``, ``messages``, ``source``, ``score`` and, in a mix, ``input`` (the columns it
    has)."""
    columns = {"id": split.column("id")} if "id" in split.column_names else {}
    columns["messages"] = to_messages(split.column("conversations"))
    for name in ("source", "score", "input"):
        if name in split.column_names:
            columns[name] = split.column(name)
    return pa.table(columns)


def write_messages_splits(root: str | Path, write_parquet=None) -> dict[str, Path]:
    """``messages/{split}.parquet`` for every FineTome split of the folder ``root``."""
    if write_parquet is None:
        from curation.writer import write_parquet
    paths = output_paths(root)
    folder = paths.root / MESSAGES_DIR
    folder.mkdir(exist_ok=True)
    written = {}
    for split in SPLITS:
        source = paths.split(split)
        if source.exists():
            target = folder / f"{split}.parquet"
            write_parquet(messages_table(pq.read_table(source)), target)
            written[split] = target
    return written


def _split_files(root: Path, config: str) -> dict[str, tuple[str, list[Path]]]:
    """For one config, each split's data_files pattern (relative to ``root``) and its files. A split without
    rows is left out when another has rows: ``load_dataset`` refuses a listed split with no data."""
    found = _all_split_files(root, config)
    rows = {split: sum(pq.ParquetFile(f).metadata.num_rows for f in files) for split, (_, files) in found.items()}
    if any(rows.values()):
        found = {split: entry for split, entry in found.items() if rows[split]}
    return found


def _all_split_files(root: Path, config: str) -> dict[str, tuple[str, list[Path]]]:
    paths = output_paths(root)
    out = {}
    for split in SPLITS:
        if config == "messages":
            path = root / MESSAGES_DIR / f"{split}.parquet"
            if path.exists():
                out[split] = (f"{MESSAGES_DIR}/{split}.parquet", [path])
            continue
        path = paths.split(split)
        if path.is_dir():
            out[split] = (f"{path.name}/part-*.parquet", paths.files(path))
        elif path.exists():
            out[split] = (path.name, [path])
    return out


def _yaml_header(root: Path, configs: list[str], license: str | None, size: int) -> str:
    """The card's YAML: the hub metadata, ``dataset_info`` (features and per split bytes and rows) and
    ``configs`` (data files), the same bytes ``datasets``' ``DatasetInfosDict`` and ``MetadataConfigs``
    ``.to_dataset_card_data`` write, built here so that ``datasets`` is not imported (it is, by
    :func:`curation.card_features.features_yaml`, only for column types outside those mapped there)."""
    from huggingface_hub import DatasetCardData

    from curation.card_features import features_yaml

    metadata: dict[str, Any] = {}
    infos: dict[str, dict[str, Any]] = {}
    for n, config in enumerate(configs):
        files = _split_files(root, config)
        if not files:
            continue
        entry: dict[str, Any] = {"data_files": [{"split": s, "path": p} for s, (p, _) in files.items()]}
        if n == 0:
            entry["default"] = True
        metadata[config] = entry
        schema = pq.read_schema(next(iter(files.values()))[1][0])
        splits = []
        for split, (_, parts) in files.items():
            meta = [pq.ParquetFile(p).metadata for p in parts]
            splits.append({"name": split,
                           "num_bytes": sum(m.row_group(i).total_byte_size for m in meta for i in range(m.num_row_groups)),
                           "num_examples": sum(m.num_rows for m in meta)})
        # DatasetInfo._to_yaml_dict keeps features and splits; dataset_size and download_size are left out
        # (not known), as datasets leaves them out when they are None.
        infos[config] = {"features": features_yaml(schema), "splits": splits}
    card = DatasetCardData(
        license=license,
        task_categories=["text-generation"],
        tags=["tomecraft", "sft", "chat", "conversational"],
        size_categories=[_size_category(size)],
        pretty_name=None,
    )
    if len(infos) == 1:  # one config: a mapping, config_name first unless it is "default"
        config, info = next(iter(infos.items()))
        card["dataset_info"] = info if config == "default" else {"config_name": config, **info}
    elif infos:  # several: a list in config name order, config_name first
        card["dataset_info"] = [{"config_name": c, **infos[c]} for c in sorted(infos)]
    if metadata:
        card["configs"] = [{"config_name": c, **metadata[c]} for c in sorted(metadata)]
    return card.to_yaml()


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                        (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return name
    return "100M<n<1B"


def card_license(inputs: Iterable[Mapping[str, Any]]) -> str | None:
    """The card's license: the inputs' one license when they all state the same, ``other`` when they differ
    or some are unknown while others are known, None (left out) when none is known."""
    found = [i.get("license") for i in inputs]
    known = {x for x in found if x}
    if not known:
        return None
    if len(known) == 1 and all(found):
        return known.pop()
    return "other"


def _inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "inputs" in manifest:
        return [dict(i) for i in manifest["inputs"]]
    single = dict(manifest.get("input") or {})
    if single.get("kind") == "sample" and "license" not in single:
        single["license"] = "apache-2.0"  # generated by this project, no third-party text
    return [single] if single else []


def build_card(root: str | Path, format: OutputFormat = "finetome", title: str | None = None) -> str:
    """The README.md text for the curation output folder ``root``."""
    root = Path(root)
    manifest = read_manifest(root)
    configs = {"finetome": ["default"], "messages": ["messages"], "both": ["default", "messages"]}[format]
    inputs = _inputs(manifest)
    acc = manifest.get("accounting", {})
    kept = acc.get("in_splits", 0)
    header = _yaml_header(root, configs, card_license(inputs), kept)
    outputs = manifest.get("outputs", {})
    title = title or "Curated chat fine-tuning data"
    lines = [f"# {title}", ""]
    names = ", ".join(f"`{i.get('name') or i.get('spec')}`" for i in inputs) or "its inputs"
    lines += [f"Conversations for supervised fine-tuning, curated by tomecraft "
              f"from {names}: validated, normalized, deduplicated (exact and near), filtered and split so that no "
              "near-duplicate cluster spans two splits.", ""]
    lines += ["## Load it", "", "```python", "from datasets import load_dataset", ""]
    if "default" in configs:
        lines += ['ds = load_dataset("USER/NAME")  # FineTome shape: conversations = [{from, value}]']
    if "messages" in configs:
        extra = ', "messages"' if configs[0] != "messages" else ""
        lines += [f'ds = load_dataset("USER/NAME"{extra})  # messages = [{{role, content}}], as TRL\'s SFTTrainer takes it']
    lines += ["```", "", "(or the path of this folder in place of `USER/NAME`).", ""]
    lines += ["## Splits", "", "| split | rows |", "|---|---:|"]
    for split in SPLITS:
        if split in outputs:
            lines.append(f"| {split} | {outputs[split]['rows']:,} |")
    lines += [""]
    lines += ["## Curation summary", ""]
    if acc:
        lines += [f"{acc.get('input_rows', 0):,} input rows"
                  + (f" + {acc['added_rows']:,} added by augmentation" if acc.get("added_rows") else "")
                  + f" -> {kept:,} kept in the splits, {acc.get('removed', 0):,} removed, "
                  f"{acc.get('quarantined', 0):,} quarantined (malformed).", ""]
    removed = manifest.get("removed_by_reason") or {}
    if removed:
        lines += ["| removed because | rows |", "|---|---:|"]
        lines += [f"| `{reason}` | {count:,} |" for reason, count in removed.items()]
        lines += [""]
    stages = [s for s in manifest.get("stages", []) if s.get("enabled", True)]
    if stages:
        lines += ["| stage | rows in | kept | removed |", "|---|---:|---:|---:|"]
        for s in stages:
            gone = sum((s.get("removed") or {}).values()) + (s.get("quarantined") or 0)
            lines.append(f"| {s['name']} | {s.get('rows_in', 0):,} | {s.get('kept', 0):,} | {gone:,} |")
        lines += [""]
    mix = manifest.get("mix")
    if mix:
        lines += ["## Mix", "", "| input | rows in | in the splits | share | target |", "|---|---:|---:|---:|---:|"]
        for row in mix:
            target = "-" if row.get("target") is None else f"{row['target']:.1%}"
            lines.append(f"| {row['input']} | {row.get('rows_in', 0):,} | {row.get('kept', 0):,} | "
                         f"{row.get('share', 0):.1%} | {target} |")
        lines += [""]
    lines += ["## Inputs", "", "| input | from | rows | license |", "|---|---|---:|---|"]
    for i in inputs:
        lines.append(f"| {i.get('name') or i.get('kind', '')} | `{i.get('spec', '')}` | {i.get('rows_in', i.get('rows', 0)):,} | "
                     f"{i.get('license') or 'unknown'} |")
    lines += ["", "Each input's own license and terms apply to the rows taken from it.", ""]
    lines += ["## Columns", ""]
    lines += ["- `id`: stable row id, derived from the row's content",
              "- `conversations`: the turns, `from` in human / gpt / system, `value` the text (normalized)",
              "- `source`, `score`: as given by the input",
              "- `original_conversations`: the turns before normalization, where it changed them",
              "- `cluster_id`: the near-duplicate cluster the row kept for (null for singletons)",
              "- `origin_id`, `augmentation`: set on rows made by augmentation"]
    if "messages" in configs:
        lines += ["- `messages` (config `messages`): the same turns as `{role, content}`, roles system / user / assistant"]
    extras = [e for e in manifest.get("extra_columns") or [] if e != "input"]
    if "input" in (manifest.get("extra_columns") or []):
        lines += ["- `input`: the name of the input the row came from (see Inputs)"]
    if extras:
        lines += [f"- carried through from the input: {', '.join(f'`{e}`' for e in extras)}"]
    lines += ["", "The folder's `manifest.json` holds the full resolved curation config, per-stage counts, the accounting "
              "and file hashes; `removed.parquet` and `quarantine.jsonl` hold every row that was dropped, with why.", ""]
    return f"---\n{header}\n---\n\n" + "\n".join(lines)


def write_card(root: str | Path, format: OutputFormat = "finetome", title: str | None = None) -> Path:
    """Write ``README.md`` (the dataset card) into the curation output folder ``root``; the ``messages`` splits
    first when ``format`` asks for them, else a ``messages/`` folder an earlier run left is removed (its rows are
    not this folder's, and ``tome publish`` would upload them)."""
    if format not in OUTPUT_FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    root = Path(root)
    if format in ("messages", "both"):
        write_messages_splits(root)
    else:
        shutil.rmtree(root / MESSAGES_DIR, ignore_errors=True)
    path = root / CARD_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(build_card(root, format, title), encoding="utf-8")
    tmp.replace(path)
    return path


def read_card_format(root: str | Path) -> str | None:
    """The format a card was written for (from its configs), or None without a card."""
    path = Path(root) / CARD_FILE
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    has_default, has_messages = "config_name: default" in text, "config_name: messages" in text
    return "both" if has_default and has_messages else "messages" if has_messages else "finetome"

