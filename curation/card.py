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

import errno
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from curation.config import OUTPUT_FORMATS, OutputFormat
from curation.contract import SPLITS, output_paths, read_manifest, reading
from curation.formats import to_messages
from curation.hub_licenses import license_id
from curation.report.markdown_text import md_code, md_text, one_line
from tomecraft.errors import error_line

MESSAGES_DIR = "messages"
CARD_FILE = "README.md"


def messages_table(split: pa.Table, mix: bool = True) -> pa.Table:
    """A FineTome split as ``id``, ``messages``, ``source``, ``score`` and, in a mix (``mix``), ``input`` (the
    columns it has)."""
    columns = {"id": split.column("id")} if "id" in split.column_names else {}
    columns["messages"] = to_messages(split.column("conversations"))
    for name in ("source", "score", *(["input"] if mix else [])):
        if name in split.column_names:
            columns[name] = split.column(name)
    return pa.table(columns)


def write_messages_splits(root: str | Path, write_parquet=None) -> dict[str, Path]:
    """``messages/{split}.parquet`` for every FineTome split of the folder ``root``; the rows' ``input`` goes with
    them only where it names the input of a mix (an input's own ``input`` column stays in the FineTome splits,
    with its other extra columns).

    Each split is read and written a batch at a time (:class:`curation.writer.ParquetStream`: row groups of a
    fixed number of rows, the bytes by the rows alone): read whole, a split of more than 2 GiB of turn text could
    not be made one array (Arrow's ``offset overflow``), and a sharded split of a ``--engine ray`` run would have
    to fit in memory. ``write_parquet`` (unused) is kept for callers that pass it."""
    from curation.writer import ParquetStream

    paths = output_paths(root)
    mix = _is_mix(read_manifest(root)) if paths.manifest.exists() else False
    folder = paths.root / MESSAGES_DIR
    if folder.exists() and not folder.is_dir():
        raise _unwritable(folder, "the messages splits", NotADirectoryError(0, "it is a file"))
    written = {}
    for split in SPLITS:
        source = paths.split(split)
        if source.exists():
            target = folder / f"{split}.parquet"
            files = paths.files(source)
            if not files:  # a shard folder without a shard (--engine ray writes one, empty, at least): no rows
                continue
            split_schema = _footer(paths.root, files[0], pq.read_schema)
            schema = messages_table(split_schema.empty_table(), mix).schema
            columns = [n for n in ("id", "conversations", "source", "score", "input") if n in split_schema.names]
            try:
                folder.mkdir(exist_ok=True)
                stream = ParquetStream(target, schema)
            except OSError as exc:  # messages/ or its file a folder that cannot be written
                raise _unwritable(target, "a messages split", exc) from None
            try:
                for f in files:
                    for batch in _batches(paths.root, f, columns):
                        stream.write(messages_table(pa.Table.from_batches([batch]), mix))
                stream.close()
            except OSError as exc:
                raise _unwritable(target, "a messages split", exc) from None
            finally:  # (the stream writes <target>.tmp and moves it into place on close: none is left behind)
                target.with_name(target.name + ".tmp").unlink(missing_ok=True)
            written[split] = target
    return written


_MESSAGES_BATCH_ROWS = 1_024  # rows read at a time from a split for its messages split (a batch holds its text in one
# array: its 2 GiB at most, and Arrow reads no batch of nested values across more)


def _batches(root: Path, file: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """The batches of a split's file, read as they are written; a row group that does not decompress is an
    :class:`~curation.contract.OutputFolderError` naming the file (what writing them raises is not)."""
    with reading(root, file):
        yield from pq.ParquetFile(file).iter_batches(batch_size=_MESSAGES_BATCH_ROWS, columns=columns)


def _split_files(root: Path, config: str) -> dict[str, tuple[str, list[Path]]]:
    """For one config, each split's data_files pattern (relative to ``root``) and its files. A split without
    rows is left out when another has rows: ``load_dataset`` refuses a listed split with no data."""
    found = _all_split_files(root, config)
    rows = {split: sum(_footer(root, f).num_rows for f in files) for split, (_, files) in found.items()}
    if any(rows.values()):
        found = {split: entry for split, entry in found.items() if rows[split]}
    return found


def _has_rows(root: Path, config: str) -> bool:
    """Whether some split of the config has a row (``datasets`` loads it, without ``streaming``, only then)."""
    return any(_footer(root, f).num_rows for _, files in _all_split_files(root, config).values() for f in files)


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
        schema = _footer(root, next(iter(files.values()))[1][0], pq.read_schema)
        splits = []
        for split, (_, parts) in files.items():
            meta = [_footer(root, p) for p in parts]
            bits = sum(_footer(root, p, lambda p, m=m: _value_bits(p, m)) for p, m in zip(parts, meta))
            splits.append({"name": split, "num_bytes": (bits + 7) // 8, "num_examples": sum(m.num_rows for m in meta)})
        # DatasetInfo._to_yaml_dict keeps features and splits; dataset_size and download_size are left out
        # (not known), as datasets leaves them out when they are None.
        features = features_yaml(schema)  # None: a column datasets cannot describe in YAML; it reads the files'
        infos[config] = {**({"features": features} if features is not None else {}), "splits": splits}
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
    return _lossless_yaml(card)


def _lossless_yaml(card) -> str:
    """``card.to_yaml()`` (the bytes ``datasets`` writes), unless reading it back would change a value: PyYAML
    writes a NEL (U+0085, which input repair keeps in column names) as a line break that its reader folds into a
    space, so the card's features would name a column its files do not hold and ``load_dataset`` would refuse the
    folder. Then the same YAML with every non-ASCII character escaped, which reads back as written."""
    import yaml

    text = card.to_yaml()
    data = card.to_dict()
    # read back as the hub and `datasets` read it (PyYAML's Python loader); an ASCII text reads alike with its C
    # loader (libyaml), many times faster on a card of thousands of features: the line breaks the two loaders
    # may read apart (NEL, LS, PS) and every other character of note are not ASCII
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if text.isascii() else yaml.SafeLoader
    if yaml.load(text, Loader=loader) == data:
        return text
    return yaml.dump(data, sort_keys=False, allow_unicode=False).strip()


def _value_bits(path: Path, meta: pq.FileMetaData) -> int:
    """A data file's part of its split's ``num_bytes``, in bits: the size of its values in Arrow
    (:func:`curation.writer.value_bits`, a sum over rows), from its footer where the writer put it, else read from
    its rows. The Parquet row groups' sizes would not do: they depend on how the rows were cut into row groups and
    shards (one file on the local engine, a shard per block on Ray) and on the encodings, not on the rows alone."""
    from curation.writer import VALUE_BITS_KEY, value_bits

    stored = (meta.metadata or {}).get(VALUE_BITS_KEY.encode())
    if stored is not None and stored.isdigit():
        return int(stored)
    return sum(value_bits(batch) for batch in pq.ParquetFile(path).iter_batches())  # written otherwise (by hand)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                        (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if n < limit:
            return name
    return "100M<n<1B"


def card_license(inputs: Iterable[Mapping[str, Any]]) -> str | None:
    """The card's license: the inputs' one license (:func:`license_id`) when they all state the same, ``other``
    when they differ or some are unknown while others are known, None (left out) when none is known."""
    found = [license_id(x) if isinstance(x, str) and x.strip() else None for x in (i.get("license") for i in inputs)]
    known = {x for x in found if x}
    if not known:
        return None
    if len(known) == 1 and all(found):
        return known.pop()
    return "other"


def _one_line(text: Any) -> str:
    """``text`` on one line: newlines, tabs, other control characters and the bidi controls spelled as Python
    escapes (``\\n``, ``\\u202e``), so that a name taken from the inputs cannot end a line, a table row or the card's
    header, nor reorder the text after it (:func:`curation.report.markdown_text.one_line`)."""
    return one_line(text)


def _text(text: Any) -> str:
    """``text`` (an input's name, a license as given) as Markdown that shows it as it is, on one line."""
    return md_text(_one_line(text))


def _code(text: Any, cell: bool = False) -> str:
    """``text`` as a Markdown code span on one line, shown as it is whatever it holds (``cell``: in a table row)."""
    return md_code(_one_line(text), cell)


def _column_name(name: str) -> str:
    return _code(name) if name else "(a column with an empty name)"


def _is_mix(manifest: Mapping[str, Any]) -> bool:
    """Whether the folder's rows come from a mix of inputs: then (only then) its ``input`` column is the one the
    mix adds, naming each row's input; a single input's own ``input`` column is carried through like any extra
    (one input read through a format conversion or with a weight is listed under ``inputs`` too)."""
    inputs = manifest.get("inputs")
    return isinstance(inputs, list) and len(inputs) > 1


def _inputs(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "inputs" in manifest:
        return [dict(i) for i in manifest["inputs"]]
    single = dict(manifest.get("input") or {})
    if single.get("kind") == "sample" and "license" not in single:
        single["license"] = "apache-2.0"  # generated by this project, no third-party text
    return [single] if single else []


def build_card(root: str | Path, format: OutputFormat = "finetome", title: str | None = None) -> str:
    """The README.md text for the curation output folder ``root``; :class:`~curation.contract.OutputFolderError` (one
    line naming the file, and the key of the manifest) where a value the card shows is not one `tome curate` writes
    (a count of ``-5`` or ``"12"`` was shown, or broke the card with a traceback) or a data file does not read: the
    report's check of the manifest (:func:`curation.report.facts.check_manifest`)."""
    from curation.report.facts import read_checked_manifest

    root = Path(root)
    manifest = read_checked_manifest(output_paths(root))
    configs = {"finetome": ["default"], "messages": ["messages"], "both": ["default", "messages"]}[format]
    inputs = _inputs(manifest)
    acc = manifest.get("accounting", {})
    kept = acc.get("in_splits", 0)
    header = _yaml_header(root, configs, card_license(inputs), kept)
    outputs = manifest.get("outputs", {})
    title = title or "Curated chat fine-tuning data"
    lines = [f"# {_text(title)}", ""]
    names = ", ".join(_code(i.get("name") or i.get("spec")) for i in inputs) or "its inputs"
    lines += [f"Conversations for supervised fine-tuning, curated by tomecraft "
              f"from {names}: validated, normalized, deduplicated (exact and near), filtered and split so that no "
              "near-duplicate cluster spans two splits.", ""]
    lines += ["## Load it", ""]
    empty = not _has_rows(root, configs[0])
    if empty:  # datasets refuses a split without rows (ValueError: Instruction "train" corresponds to no data!)
        lines += ["No row was kept (see the curation summary), and `datasets` cannot load a split without rows: "
                  "`load_dataset` stops with `corresponds to no data`. Streamed, the splits read as empty:", ""]
    streaming = ", streaming=True" if empty else ""
    lines += ["```python", "from datasets import load_dataset", ""]
    if "default" in configs:
        lines += [f'ds = load_dataset("USER/NAME"{streaming})  # FineTome shape: conversations = [{{from, value}}]']
    if "messages" in configs:
        extra = ', "messages"' if configs[0] != "messages" else ""
        lines += [f'ds = load_dataset("USER/NAME"{extra}{streaming})  # messages = [{{role, content}}], as TRL\'s '
                  "SFTTrainer takes it"]
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
    stage = next((s for s in manifest.get("stages") or () if isinstance(s, dict) and s.get("name") == "against"), None)
    if stage is not None and stage.get("enabled"):
        from curation.report.facts import against_summary

        against = against_summary(manifest.get("config"), stage)
    else:
        against = None
    if against is not None:
        lines += [f"Deduplicated against {_code(against[0])} {_text(against[1])}", ""]
    removed = manifest.get("removed_by_reason") or {}
    if removed:
        lines += ["| removed because | rows |", "|---|---:|"]
        lines += [f"| {_code(reason, cell=True)} | {count:,} |" for reason, count in removed.items()]
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
        from curation.mix_report import target_text

        lines += ["## Mix", "", "| input | rows in | in the splits | share | target |", "|---|---:|---:|---:|---:|"]
        for row in mix:
            target = target_text({"target_share": row.get("target"), "target_rows": row.get("target_rows")}, none="-")
            lines.append(f"| {_text(row['input'])} | {row.get('rows_in', 0):,} | {row.get('kept', 0):,} | "
                         f"{row.get('share', 0):.1%} | {target} |")
        lines += [""]
    lines += ["## Inputs", "", "| input | from | rows | license |", "|---|---|---:|---|"]
    for i in inputs:
        lines.append(f"| {_text(i.get('name') or i.get('kind', ''))} | {_code(i.get('spec', ''), cell=True)} | "
                     f"{i.get('rows_in', i.get('rows', 0)):,} | {_text(i.get('license') or 'unknown')} |")
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
    mixed = _is_mix(manifest)  # the rows' `input` names the input they came from; one input's own `input` is an extra
    from curation.validate import REPAIRS

    written = manifest.get("extra_columns") or []
    # tome's own columns among them: `repairs` (validate) always; `input` in a mix (an input's own is renamed)
    extras = [e for e in written if e != REPAIRS and not (mixed and e == "input")]
    if mixed and "input" in written:
        lines += ["- `input`: the name of the input the row came from (see Inputs)"]
    if REPAIRS in written:
        lines += ["- `repairs`: what reading the input repaired in the row (JSON `{kind: [columns]}`), null where "
                  "nothing was"]
    removed_name = "removed/" if output_paths(root).removed.is_dir() else "removed.parquet"  # Ray writes shards
    if isinstance(manifest.get("review"), dict):  # tome review import adds these to every row (docs/review.md)
        lines += ["- `quality`: the mean of the annotators' ratings (1-5) from human review, null where none rated the row",
                  "- `review_verdict`: the review's majority verdict applied to the row (keep, fix; discarded rows are in "
                  f"`{removed_name}`), null where none was "
                  "applied; `review_agreement`: the share of the row's verdicts that match it; `review_annotators`: who "
                  "judged the row",
                  "- `review_original_answer`, `review_fixed_by`: on a row a `fix` verdict changed, its last answer before "
                  "the fix and the annotators who wrote the corrected one"]
    if extras:
        lines += [f"- carried through from the input: {', '.join(_column_name(e) for e in extras)}"]
    lines += ["", "The folder's `manifest.json` holds the full resolved curation config, per-stage counts, the accounting "
              f"and file hashes; `{removed_name}` and `quarantine.jsonl` hold every row that was dropped, with why.", ""]
    return f"---\n{header}\n---\n\n" + "\n".join(lines)


def write_card(root: str | Path, format: OutputFormat = "finetome", title: str | None = None) -> Path:
    """Write ``README.md`` (the dataset card) into the curation output folder ``root``; the ``messages`` splits
    first when ``format`` asks for them, else a ``messages/`` folder an earlier run left is removed (its rows are
    not this folder's, and ``tome publish`` would upload them)."""
    if format not in OUTPUT_FORMATS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(OUTPUT_FORMATS)}")
    from curation.report.facts import read_checked_manifest

    root = Path(root)
    path = root / CARD_FILE
    tmp = path.with_name(path.name + ".tmp")
    for blocking in (path, tmp):  # refused before anything is written (replace would refuse a folder only after)
        if blocking.is_dir():
            raise _unwritable(blocking, "the dataset card", IsADirectoryError(errno.EISDIR, "is a directory"))
    read_checked_manifest(output_paths(root))  # a damaged manifest: named before the messages splits are written
    if format in ("messages", "both"):
        write_messages_splits(root)
    else:
        shutil.rmtree(root / MESSAGES_DIR, ignore_errors=True)
    text = build_card(root, format, title)
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # a folder that cannot be written, a disk full
        raise _unwritable(path, "the dataset card", exc) from None
    finally:  # (whatever stopped the write: no README.md.tmp is left behind)
        if tmp.is_file():
            tmp.unlink()
    return path


def _unwritable(path: Path, what: str, exc: BaseException) -> Exception:
    """The one-line error (an :class:`~curation.readers.errors.InputError`, which the commands print as it is) for
    ``path``, that cannot be written."""
    from curation.readers.errors import InputError

    return InputError(f"{path}: cannot write {what} here ({(getattr(exc, 'strerror', None) or error_line(exc)).lower()})")


class CardError(ValueError):
    """A dataset card (``README.md``) that cannot be read or does not match the folder's files; the message is one
    line naming the card and what is wrong."""


def read_card_header(root: str | Path) -> dict[str, Any] | None:
    """The YAML header of the folder's card as a mapping (``{}`` for a card without one), None without a card;
    :class:`CardError` when it is not UTF-8 or its header is not a YAML mapping (what the hub and ``datasets``
    would refuse)."""
    import yaml
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    path = Path(root) / CARD_FILE
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CardError(f"{path}: cannot read the dataset card ({error_line(exc)})") from None
    block = REGEX_YAML_BLOCK.search(text)  # the header as huggingface_hub finds it
    if block is None:
        return {}
    try:
        header = yaml.safe_load(block.group(2))
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        if mark is not None and problem:  # the line in the file: the header's own, after the lines before it
            line = mark.line + 1 + text[: block.start(2)].count("\n")
            reason = f"{problem}, line {line}"
        else:
            reason = error_line(exc)
        raise CardError(f"{path}: the dataset card's YAML header does not parse ({reason})") from None
    if header is None:
        return {}
    if not isinstance(header, dict):
        raise CardError(f"{path}: the dataset card's YAML header is a {type(header).__name__}, not a mapping")
    return header


def read_card_format(root: str | Path) -> str | None:
    """The format a card was written for (from the config names of its header). Without a card, or with one that
    cannot be read, the format the folder's files show: ``both`` with ``messages/`` splits (so that the card
    written in its place keeps them), else None."""
    try:
        header = read_card_header(root)
    except CardError:
        header = None
    if header is None:
        return "both" if (Path(root) / MESSAGES_DIR).is_dir() else None
    configs = header.get("configs")
    names = {c.get("config_name") for c in configs if isinstance(c, dict)} if isinstance(configs, list) else set()
    has_default, has_messages = "default" in names, "messages" in names
    return "both" if has_default and has_messages else "messages" if has_messages else "finetome"


def check_card(root: str | Path) -> None:
    """Check that the folder's card (kept as it is by ``tome publish``) still describes its files, as
    ``load_dataset`` reads them: the header parses, every data file pattern of its configs matches a file of
    the folder, each split's ``num_examples`` is the rows of those files (``datasets`` refuses a mismatch) and
    its ``features`` are those of the files. :class:`CardError` naming the first thing that does not match; a
    folder without a card passes (the card is written from its files)."""
    from curation.card_features import features_yaml

    root = Path(root)
    header = read_card_header(root)
    if not header:
        return
    where = root / CARD_FILE
    configs = header.get("configs") or []
    infos = header.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else infos
    if not isinstance(configs, list) or not isinstance(infos, list):
        raise CardError(f"{where}: the dataset card's configs and dataset_info must be lists")
    info_by_name = {i.get("config_name", "default"): i for i in infos if isinstance(i, dict)}
    for config in configs:
        if not isinstance(config, dict):
            raise CardError(f"{where}: a config of the dataset card is not a mapping: {_one_line(config)}")
        name = config.get("config_name", "default")
        files = _card_data_files(root, where, name, config.get("data_files"))
        info = info_by_name.get(name) or {}
        for split in info.get("splits") or []:
            if not isinstance(split, dict) or split.get("name") not in files:
                continue
            rows = sum(_footer(root, f).num_rows for f in files[split["name"]])
            if split.get("num_examples") != rows:
                raise CardError(f"{where}: config {name!r} says split {split['name']!r} has "
                                f"{split.get('num_examples')} rows, its files hold {rows}")
        first = next((fs[0] for fs in files.values() if fs), None)
        if "features" in info and first is not None:
            if info["features"] != features_yaml(_footer(root, first, pq.read_schema)):
                raise CardError(f"{where}: config {name!r} lists other features than its files hold")


def _footer(root: Path, path: Path, read=lambda p: pq.ParquetFile(p).metadata):
    """What ``read`` takes from the Parquet footer of a data file the card names (its metadata, or with
    ``pq.read_schema`` its Arrow schema); :class:`OutputFolderError` naming it when damaged (the ``messages``
    splits are not among the files :func:`curation.contract.check_output_folder` reads)."""
    from curation.contract import reading

    with reading(root, path):
        return read(path)


def _card_data_files(root: Path, where: Path, config: str, data_files: Any) -> dict[str, list[Path]]:
    """The files of each split of one config of a card (``data_files``: a pattern, a list of them, or a list of
    ``{split, path}``), every pattern matching at least one Parquet file of the folder."""
    entries = data_files if isinstance(data_files, list) else [data_files]
    entries = [e if isinstance(e, dict) else {"split": "train", "path": e} for e in entries]
    out: dict[str, list[Path]] = {}
    for entry in entries:
        patterns = entry.get("path")
        for pattern in patterns if isinstance(patterns, list) else [patterns]:
            if not isinstance(pattern, str) or not pattern or Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                raise CardError(f"{where}: config {config!r} names a data file that is not a path in the folder: "
                                f"{_one_line(pattern)}")
            try:
                found = sorted(f for f in root.glob(pattern) if f.is_file())
            except ValueError as exc:  # a pattern pathlib refuses ("a**")
                raise CardError(f"{where}: config {config!r} names {_one_line(pattern)}: {error_line(exc)}") from None
            if not found:
                raise CardError(f"{where}: config {config!r} names {_one_line(pattern)}, which is not in the folder")
            out.setdefault(str(entry.get("split", "train")), []).extend(found)
    return out
