"""The card's YAML header without ``datasets``: byte-identical to what ``datasets`` writes, for every schema.

:func:`reference_yaml_header` is the header as ``curation.card`` built it with ``datasets`` (DatasetInfo,
DatasetInfosDict, SplitDict, MetadataConfigs, Features.from_arrow_schema); every test holds
``curation.card._yaml_header`` to the same bytes: on real ``tome curate`` outputs in each ``--format``, on
folders with extra columns of many Arrow types (plain, sharded, one type per column and drawn by hypothesis),
and on schemas only ``datasets`` can map (the fallback).
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation import card
from curation.card import _split_files, build_card, write_card
from curation.card_features import card_features, datasets_features

REPO = Path(__file__).resolve().parents[2]
TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
CONFIGS = (["default"], ["messages"], ["default", "messages"])


def reference_yaml_header(root: Path, configs: list[str], license: str | None, size: int) -> str:
    """The header as ``curation.card`` built it before, with ``datasets`` (kept here as the reference)."""
    import datasets
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    metadata: dict[str, Any] = {}
    infos = {}
    for n, config in enumerate(configs):
        files = _split_files(root, config)
        if not files:
            continue
        entry: dict[str, Any] = {"data_files": [{"split": s, "path": p} for s, (p, _) in files.items()]}
        if n == 0:
            entry["default"] = True
        metadata[config] = entry
        schema = pq.read_schema(next(iter(files.values()))[1][0])
        splits = SplitDict()
        for split, (_, parts) in files.items():
            meta = [pq.ParquetFile(p).metadata for p in parts]
            splits.add(SplitInfo(split, num_bytes=(sum(card._value_bits(p, m) for p, m in zip(parts, meta)) + 7) // 8,
                                 num_examples=sum(m.num_rows for m in meta)))
        infos[config] = DatasetInfo(features=datasets.Features.from_arrow_schema(schema), splits=splits, config_name=config)
    card_data = DatasetCardData(
        license=license,
        task_categories=["text-generation"],
        tags=["tomecraft", "sft", "chat", "conversational"],
        size_categories=[card._size_category(size)],
        pretty_name=None,
    )
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    MetadataConfigs(metadata).to_dataset_card_data(card_data)
    return card_data.to_yaml()


def assert_same_headers(root: Path, configs_list=CONFIGS) -> None:
    """Every config set and license case of ``root``: the header here == the reference, byte for byte (or
    the same error, where ``datasets`` refuses a column type)."""
    for configs in configs_list:
        for license, size in ((None, 8), ("mit", 12_345), ("other", 2_000_000_000)):
            try:
                expected = reference_yaml_header(root, configs, license, size)
            except ValueError as exc:
                with pytest.raises(ValueError) as err:
                    card._yaml_header(root, configs, license, size)
                assert str(err.value) == str(exc)
                continue
            ours = card._yaml_header(root, configs, license, size)
            assert ours == expected, (configs, ours)


# --- folders -----------------------------------------------------------------------------------------------

def extra_columns(n: int) -> dict[str, pa.Array]:
    """Extra input columns of many Arrow types, with values (and a null) in each."""
    def vals(values, type):
        return pa.array([values[i % len(values)] if i % 3 else None for i in range(n)], type)

    ts = datetime.datetime(2024, 5, 1, 12, 30)
    return {
        "i8": vals([-1, 2], pa.int8()), "i16": vals([300], pa.int16()), "i32": vals([7], pa.int32()),
        "i64": vals([2**40], pa.int64()), "u8": vals([1], pa.uint8()), "u16": vals([2], pa.uint16()),
        "u32": vals([3], pa.uint32()), "u64": vals([2**63], pa.uint64()), "f16": pa.nulls(n, pa.float16()),
        "f32": vals([1.5], pa.float32()), "f64": vals([2.5], pa.float64()), "ok": vals([True, False], pa.bool_()),
        "text": vals(["x"], pa.string()), "big_text": vals(["y"], pa.large_string()), "blob": vals([b"\x00"], pa.binary()),
        "big_blob": vals([b"\x01"], pa.large_binary()),
        "nothing": pa.nulls(n), "cat": vals(["a", "b"], pa.string()).dictionary_encode(),
        "day": vals([datetime.date(2024, 1, 2)], pa.date32()), "day64": vals([datetime.date(2024, 1, 2)], pa.date64()),
        "ts": vals([ts], pa.timestamp("us")), "ts_utc": vals([ts], pa.timestamp("ms", tz="UTC")),
        "ts_ny": vals([ts], pa.timestamp("ns", tz="America/New_York")), "ts_off": vals([ts], pa.timestamp("s", tz="+05:30")),
        "t32": vals([datetime.time(1, 2, 3)], pa.time32("ms")), "t64": vals([datetime.time(1, 2, 3)], pa.time64("ns")),
        "dur": vals([datetime.timedelta(seconds=5)], pa.duration("ms")),
        "dec": vals([decimal.Decimal("1.25")], pa.decimal128(10, 2)), "dec256": vals([decimal.Decimal("3")], pa.decimal256(40, 0)),
        "labels": vals([["a", "b"], []], pa.list_(pa.string())), "big_tags": vals([[1, 2]], pa.large_list(pa.int16())),
        "pair": vals([[1.0, 2.0]], pa.list_(pa.float32(), 2)),
        "info": vals([{"k": 1, "v": [1.5], "deep": [{"x": "y"}]}],
                     pa.struct([("k", pa.int64()), ("v", pa.list_(pa.float64())), ("deep", pa.list_(pa.struct([("x", pa.string())])))])),
        "grid": vals([[[1, 2], [3]]], pa.list_(pa.list_(pa.int32()))),
        "turns_big": vals([[{"from": "human", "value": "q"}]], pa.large_list(pa.struct([("from", pa.string()), ("value", pa.string())]))),
        "tagged_cats": pa.array([["a"], None] * (n // 2) + [["b"]] * (n % 2), pa.list_(pa.dictionary(pa.int32(), pa.string()))),
    }


def split_table(split: str, n: int, extras: dict[str, pa.Array] | None = None) -> pa.Table:
    """A split in the output contract's column order: core columns, extras, provenance."""
    columns: dict[str, Any] = {
        "id": pa.array([f"{split}{i}" for i in range(n)]),
        "conversations": pa.array([[{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": f"a{i}"}] for i in range(n)], TURNS),
        "source": pa.array(["s"] * n), "score": pa.array([4.0] * n),
    }
    columns.update(extras or {})
    columns.update({"original_conversations": pa.nulls(n, TURNS), "cluster_id": pa.nulls(n, pa.string()),
                    "origin_id": pa.nulls(n, pa.string()), "augmentation": pa.nulls(n, pa.string())})
    return pa.table(columns)


def folder_with(root: Path, extras_for, rows=(5, 2, 1), sharded: bool = False, messages: bool = True) -> Path:
    """An output folder (splits, messages splits, manifest) whose splits carry ``extras_for(n)`` columns;
    ``sharded``: the ``train/part-*.parquet`` layout of ``--engine ray``."""
    root.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for split, n in zip(("train", "validation", "test"), rows):
        if n == 0:
            continue
        table = split_table(split, n, extras_for(n))
        if sharded:
            (root / split).mkdir()
            half = max(1, n // 2)
            pq.write_table(table.slice(0, half), root / split / "part-00000.parquet")
            if n > half:
                pq.write_table(table.slice(half), root / split / "part-00001.parquet")
        else:
            pq.write_table(table, root / f"{split}.parquet")
        outputs[split] = {"path": f"{split}.parquet", "rows": n}
    (root / "manifest.json").write_text(json.dumps({
        "input": {"spec": "rows.parquet", "kind": "parquet", "rows": sum(rows)},
        "accounting": {"input_rows": sum(rows), "in_splits": sum(rows), "removed": 0, "quarantined": 0},
        "outputs": outputs, "extra_columns": list(extras_for(1)),
    }))
    if messages:
        card.write_messages_splits(root)
    return root


def tiny_inputs(folder: Path) -> dict[str, Path]:
    """A tiny JSONL input with nested extra fields, and the same rows as Parquet with more Arrow types."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(12):
        rows.append({"conversations": [{"from": "human", "value": f"Question number {i} about topic {i * 7}, explain it"},
                                       {"from": "gpt", "value": f"Answer {i}: " + " ".join(str(j) for j in range(i, i + 30))}],
                     "source": "s", "score": 4.0, "lang": "en", "n": i, "tags": ["a", "b"],
                     "meta": {"k": i, "v": [1.5, 2.5], "deep": [{"x": "y"}]}, "flag": i % 2 == 0})
    jsonl = folder / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = pa.Table.from_pylist(rows)
    for name, column in extra_columns(len(rows)).items():
        table = table.append_column(name, column)
    parquet = folder / "in.parquet"
    pq.write_table(table, parquet)
    return {"jsonl": jsonl, "parquet": parquet}


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """Real ``tome curate`` outputs (run_curation, as the CLI runs it) of the tiny inputs, in each --format."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    folder = tmp_path_factory.mktemp("curated")
    outs = {}
    for kind, path in tiny_inputs(folder / "in").items():
        for fmt in card.OUTPUT_FORMATS:
            out = folder / f"{kind}-{fmt}"
            run_curation(str(path), out, load_config(None, {"report": False, "checkpoint": False}), output_format=fmt)
            outs[kind, fmt] = out
    return outs


# --- real curate outputs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
@pytest.mark.parametrize("fmt", card.OUTPUT_FORMATS)
def test_curate_output_card_is_byte_identical(curated, monkeypatch, kind, fmt):
    root = curated[kind, fmt]
    schema = pq.read_schema(root / "train.parquet")
    assert {"lang", "meta", "flag"} <= set(schema.names)  # extras were carried through
    if kind == "parquet":
        assert {"cat", "ts_ny", "dec256", "grid", "tagged_cats"} <= set(schema.names)
    assert_same_headers(root, [{"finetome": ["default"], "messages": ["messages"], "both": ["default", "messages"]}[fmt]])
    written = (root / card.CARD_FILE).read_text(encoding="utf-8")
    monkeypatch.setattr(card, "_yaml_header", reference_yaml_header)
    assert written == build_card(root, fmt)  # the whole README.md, as the datasets-based card wrote it


# --- hand-made folders -------------------------------------------------------------------------------------

def test_many_extra_types_byte_identical(tmp_path):
    root = folder_with(tmp_path / "out", extra_columns)
    assert card_features(pq.read_schema(root / "train.parquet")) is not None  # all handled without datasets
    assert_same_headers(root)


def test_sharded_folder_byte_identical(tmp_path):
    root = folder_with(tmp_path / "out", extra_columns, rows=(7, 3, 1), sharded=True)
    assert len(list((root / "train").glob("part-*.parquet"))) == 2
    assert_same_headers(root)


def test_missing_splits_and_configs_byte_identical(tmp_path):
    only_train = folder_with(tmp_path / "a", lambda n: {"lang": pa.array(["en"] * n)}, rows=(3, 0, 0))
    assert_same_headers(only_train)
    no_messages = folder_with(tmp_path / "b", lambda n: {}, rows=(2, 1, 0), messages=False)
    assert_same_headers(no_messages)  # the messages config has no files: left out of both blocks


def test_card_with_the_new_header_still_loads(tmp_path):
    import datasets

    root = folder_with(tmp_path / "out", extra_columns)
    write_card(root, "both")
    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "cache"))
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 5, "validation": 2, "test": 1}
    assert ds["train"].features == datasets.Features.from_arrow_schema(pq.read_schema(root / "train.parquet"))
    ds = datasets.load_dataset(str(root), "messages", cache_dir=str(tmp_path / "cache"))
    assert ds["train"].column_names == ["id", "messages", "source", "score"]


# Types left to datasets, in Parquet split files: it maps json and string_view, refuses map and
# fixed_size_binary (the card raises its error, as before), and keeps the last of repeated struct field names.
FALLBACK_TYPES = {"json": pa.json_(), "string_view": pa.string_view(), "map": pa.map_(pa.string(), pa.int64()),
                  "fixed_binary": pa.binary(4), "repeated_names": pa.struct([("a", pa.int8()), ("a", pa.string())])}


@pytest.mark.parametrize("name", list(FALLBACK_TYPES))
def test_fallback_types_byte_identical(tmp_path, name):
    typ = FALLBACK_TYPES[name]
    root = folder_with(tmp_path / "out", lambda n: {"odd": pa.nulls(n, typ), "lang": pa.array(["en"] * n)})
    schema = pq.read_schema(root / "train.parquet")
    assert card_features(schema) is None
    assert_same_headers(root)


def test_schema_with_datasets_metadata_falls_back(tmp_path):
    """A Parquet file written by ``datasets`` carries its features (a ClassLabel here): only it can read them."""
    import datasets

    root = folder_with(tmp_path / "out", lambda n: {}, messages=False)
    features = datasets.Features({"label": datasets.ClassLabel(names=["bad", "good"])})
    for split in ("train", "validation", "test"):
        table = pq.read_table(root / f"{split}.parquet")
        table = table.append_column(pa.field("label", pa.int64()), pa.array([1] * table.num_rows))
        schema = table.schema.with_metadata(features.arrow_schema.metadata)
        pq.write_table(table.cast(schema), root / f"{split}.parquet")
    assert card_features(pq.read_schema(root / "train.parquet")) is None
    assert "class_label" in card._yaml_header(root, ["default"], None, 8)
    assert_same_headers(root, [["default"]])


def test_fallback_errors_match_datasets():
    """A type datasets refuses still raises (from datasets): the card never says something it would not."""
    for typ in (pa.dictionary(pa.int32(), pa.list_(pa.string())), pa.decimal32(5, 2), pa.list_view(pa.int8()),
                pa.timestamp("s", tz="Etc/GMT+1 x"), pa.uuid()):
        schema = pa.schema([("id", pa.string()), ("odd", typ)])
        assert card_features(schema) is None
        with pytest.raises(ValueError):
            datasets_features(schema)


# --- drawn types -------------------------------------------------------------------------------------------

NATIVE_SCALARS = [
    pa.null(), pa.bool_(), pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(),
    pa.uint64(), pa.float16(), pa.float32(), pa.float64(), pa.date32(), pa.date64(), pa.binary(), pa.large_binary(),
    pa.string(), pa.large_string(), pa.time32("s"), pa.time32("ms"),
    pa.time64("us"), pa.time64("ns"), pa.timestamp("s"), pa.timestamp("ns"), pa.timestamp("us", tz="UTC"),
    pa.timestamp("ms", tz="Europe/Paris"), pa.timestamp("us", tz="-03:00"), pa.duration("s"), pa.duration("ns"),
    pa.decimal128(10, 2), pa.decimal128(38, -3), pa.decimal256(50, 10), pa.dictionary(pa.int32(), pa.string()),
    pa.dictionary(pa.int8(), pa.large_string()), pa.dictionary(pa.int16(), pa.int64()),
]
PARQUET_SCALARS = [t for t in NATIVE_SCALARS if not (pa.types.is_decimal(t) and t.scale < 0)]  # Parquet refuses those
FALLBACK_SCALARS = [pa.map_(pa.string(), pa.int32()), pa.binary(3), pa.decimal64(10, 2), pa.json_(), pa.uuid(),
                    pa.string_view(), pa.binary_view()]

names = st.text(st.sampled_from("abcxyz_ 1é"), min_size=1, max_size=6)


def arrow_types(leaves):
    """Arrow types built from ``leaves`` with lists, large lists, fixed-size lists and structs, nested."""
    return st.recursive(
        st.sampled_from(leaves),
        lambda kids: st.one_of(
            st.builds(pa.list_, kids),
            st.builds(pa.large_list, kids),
            st.builds(pa.list_, kids, st.integers(1, 3)),  # fixed_size_list
            st.lists(st.tuples(names, kids), min_size=1, max_size=3, unique_by=lambda f: f[0]).map(pa.struct),
        ),
        max_leaves=6,
    )


def leaves_of(t: pa.DataType) -> list[pa.DataType]:
    """The leaf types of a type :func:`arrow_types` drew."""
    if pa.types.is_struct(t):
        return [leaf for f in t for leaf in leaves_of(f.type)]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return leaves_of(t.value_type)
    return [t]


extra_schemas = st.lists(st.tuples(names.map(lambda s: "x_" + s), arrow_types(PARQUET_SCALARS)),
                         min_size=1, max_size=4, unique_by=lambda f: f[0])


@settings(max_examples=25, deadline=None)
@given(extra_schemas)
def test_drawn_extra_columns_byte_identical(tmp_path_factory, fields):
    """Extra columns of drawn nested types, written as split files: all handled here, same header."""
    root = folder_with(tmp_path_factory.mktemp("drawn") / "out",
                       lambda n: {name: pa.nulls(n, typ) for name, typ in fields}, rows=(2, 1, 1), messages=False)
    assert card_features(pq.read_schema(root / "train.parquet")) is not None
    assert_same_headers(root, [["default"]])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(names, arrow_types(NATIVE_SCALARS + [pa.struct([])] + FALLBACK_SCALARS)), min_size=1,
                max_size=4, unique_by=lambda f: f[0]))
def test_drawn_schemas_map_like_datasets(fields):
    """Any schema (empty structs and fallback types too, not all Parquet-writable): the features here are
    datasets' own, or None where a fallback type is in it."""
    schema = pa.schema(fields)
    ours = card_features(schema)
    try:
        theirs = datasets_features(schema)
    except ValueError:
        assert ours is None
        return
    native = not any(leaf in FALLBACK_SCALARS for f in fields for leaf in leaves_of(f[1]))
    assert ours == (theirs if native else None)  # built of native types: handled here, else left to datasets


def test_other_datasets_versions_fall_back(monkeypatch):
    """datasets 3.x spells lists ``sequence``: with it installed, every schema is left to it."""
    from curation import card_features as module

    schema = pa.schema([("id", pa.string()), ("conversations", TURNS)])
    assert module.card_features(schema) == datasets_features(schema)
    monkeypatch.setattr(module, "datasets_major", lambda: "3")
    assert module.card_features(schema) is None


# --- no datasets import ------------------------------------------------------------------------------------

def _imports_datasets(root: Path, fmt: str) -> bool:
    script = ("import sys\nfrom curation.card import write_card\n"
              "write_card(sys.argv[1], sys.argv[2])\nprint('datasets' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(root), fmt], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    return done.stdout.strip() == "True"


@pytest.mark.slow  # several seconds: the slow lane
def test_standard_cards_do_not_import_datasets(curated):
    for fmt in card.OUTPUT_FORMATS:
        assert not _imports_datasets(curated["jsonl", fmt], fmt)
    assert not _imports_datasets(curated["parquet", "both"], "both")  # many extra types, still native


def test_fallback_imports_datasets(tmp_path):
    root = folder_with(tmp_path / "out", lambda n: {"odd": pa.nulls(n, pa.json_())})
    assert _imports_datasets(root, "finetome")
