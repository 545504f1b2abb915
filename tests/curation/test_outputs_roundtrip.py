"""`tome curate`'s outputs read back the way users read them: the card's ``num_bytes`` is the same for the same rows
whatever files hold them (one file on the local engine, a shard per block on Ray), and its YAML header keeps
every column name, so ``load_dataset`` reads the folder through it."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curation.card import check_card, write_card
from curation.writer import ParquetStream, value_bits
from tests.curation.test_card_features import extra_columns, folder_with, split_table
from tests.curation.test_card_publish import curated_folder


def _header(root: Path) -> dict:
    return yaml.safe_load((root / "README.md").read_text(encoding="utf-8").split("---\n")[1])


def _num_bytes(root: Path) -> dict[str, list[int]]:
    infos = _header(root)["dataset_info"]
    return {i["config_name"]: [s["num_bytes"] for s in i["splits"]] for i in infos}


def test_value_bits_is_a_sum_over_rows():
    table = split_table("train", 40, extra_columns(40))
    rng = random.Random(0)
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, 40), 6))
        pieces = [table.slice(a, b - a) for a, b in zip([0, *cuts], [*cuts, 40])]
        assert sum(value_bits(p) for p in pieces) == value_bits(table)
    assert value_bits(table.slice(3, 0)) == 0


def _sharded_like_ray(root: Path, cuts: list[int]) -> None:
    """The folder's splits rewritten as ``split/part-*.parquet`` shards cut at ``cuts`` (the layout of --engine ray)."""
    for split in ("train", "validation", "test"):
        table = pq.read_table(root / f"{split}.parquet")
        (root / f"{split}.parquet").unlink()
        (root / split).mkdir()
        edges = [0, *[c for c in cuts if c < table.num_rows], table.num_rows]
        for n, (a, b) in enumerate(zip(edges, edges[1:])):
            stream = ParquetStream(root / split / f"part-{a:020d}.parquet", table.schema)
            stream.write(table.slice(a, b - a))
            stream.close()


def test_card_num_bytes_do_not_depend_on_how_the_rows_are_cut_into_files(tmp_path):
    """The same rows as one file per split and as shards (as the Ray engine writes them), written by the writer
    (the size in the footer) or by hand (read from the rows): the same ``num_bytes`` in the card."""
    extras = lambda n: extra_columns(n)  # noqa: E731
    rows = (30, 9, 7)
    by_hand = folder_with(tmp_path / "by_hand", extras, rows=rows, messages=False)
    single = folder_with(tmp_path / "single", extras, rows=rows, messages=False)
    for split in ("train", "validation", "test"):  # rewritten by the writer, in row groups of 4 rows
        table = pq.read_table(single / f"{split}.parquet")
        stream = ParquetStream(single / f"{split}.parquet", table.schema, row_group_rows=4)
        stream.write(table)
        stream.close()
    sharded = folder_with(tmp_path / "sharded", extras, rows=rows, messages=False)
    _sharded_like_ray(sharded, [1, 5, 6, 17])
    sizes = []
    for root in (by_hand, single, sharded):
        write_card(root, "both")
        check_card(root)
        sizes.append(_num_bytes(root))
    assert sizes[0] == sizes[1] == sizes[2]
    assert all(n > 0 for config in sizes[0].values() for n in config)


HOSTILE = ["\x85nel", "a\x85b", "\u2028ls", "new\nline", "a: b", "---", "#c", "null", "🙂", "L" * 500]


def test_the_card_keeps_column_names_yaml_would_fold(tmp_path):
    """A NEL (U+0085, kept by input repair) in a column or struct field name: PyYAML writes it as a line break and
    reads it back as a space, so the card named a column the files do not hold and ``load_dataset`` refused the
    folder. The header now reads back as written, for ``datasets`` and huggingface_hub alike."""
    import datasets
    from huggingface_hub import DatasetCard

    root = curated_folder(tmp_path / "out")
    nested = pa.struct([(name, pa.int64()) for name in HOSTILE])
    for split in ("train", "validation", "test"):
        table = pq.read_table(root / f"{split}.parquet")
        for name in HOSTILE:
            table = table.append_column(name, pa.array([f"v{i}" for i in range(table.num_rows)]))
        table = table.append_column("nest", pa.array([dict.fromkeys(HOSTILE, i) for i in range(table.num_rows)], nested))
        pq.write_table(table, root / f"{split}.parquet")
    write_card(root, "both")
    check_card(root)
    header = _header(root)
    assert DatasetCard.load(root / "README.md").data.to_dict()["dataset_info"] == header["dataset_info"]
    info = next(i for i in header["dataset_info"] if i["config_name"] == "default")
    schema = pq.read_schema(root / "train.parquet")
    assert datasets.Features._from_yaml_list(info["features"]) == datasets.Features.from_arrow_schema(schema)
    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "cache"))
    assert ds["train"].column_names == schema.names
    assert ds["train"][0]["\x85nel"] == "v0" and list(ds["train"][0]["nest"]) == HOSTILE


@pytest.mark.parametrize("name", ["日本", "é", "\u2028"])
def test_a_card_without_such_names_is_what_datasets_writes(tmp_path, name):
    """Names YAML keeps as written stay unescaped (the header is huggingface_hub's own bytes)."""
    root = curated_folder(tmp_path / "out")
    for split in ("train", "validation", "test"):
        table = pq.read_table(root / f"{split}.parquet")
        pq.write_table(table.append_column(name, pa.array(["x"] * table.num_rows)), root / f"{split}.parquet")
    text = write_card(root, "finetome").read_text(encoding="utf-8")
    assert name in text.split("---\n")[1]
