"""Parquet and datasets inputs: names that look like globs, compressed Parquet, folders that cannot be read,
strings that are not UTF-8, save_to_disk splits and class labels, metadata beside shards, repeated columns."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_manifest, read_quarantine
from curation.readers import InputError, open_input
from curation.readers.raw import ERROR, FILE, RAW, ROW
from curation.sources import SourceError, expand
from tests.curation.runs import curate, rows_read, write_compressed

Q = "How do rivers carry stones down from the hills to the sea over the years?"
A = "Water pushes and rolls the stones along the bed; floods move the large ones, and they wear round on the way."


def row(i: int, **extra) -> dict:
    turns = [{"from": "human", "value": f"{Q} ({i})"}, {"from": "gpt", "value": f"{A} [{i}]"}]
    return {"conversations": turns, **extra}


def write_parquet(path: Path, n: int = 6, start: int = 0) -> Path:
    pq.write_table(pa.Table.from_pylist([row(i) for i in range(start, start + n)]), path)
    return path


def read_all(spec: str) -> pa.Table:
    batches = list(open_input(spec).batches())
    return pa.Table.from_batches(batches) if batches else pa.table({})


# -- names with glob characters -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["shard[1].parquet", "what?.parquet", "star*.parquet"])
def test_an_existing_file_whose_name_holds_glob_characters_is_that_file(tmp_path, name):
    write_parquet(tmp_path / name, 4)
    matched = name.replace("[1]", "1").replace("?", "X").replace("*", "Y")  # a glob of the name would match it
    write_parquet(tmp_path / matched, 7, 100)
    assert [f.name for f in expand(tmp_path / name)] == [name]
    assert rows_read(str(tmp_path / name)) == 4


def test_a_pattern_that_names_no_file_is_still_a_glob(tmp_path):
    write_parquet(tmp_path / "shard1.parquet", 4)
    write_parquet(tmp_path / "shard2.parquet", 3, 100)
    assert rows_read(str(tmp_path / "shard[12].parquet")) == 7


def test_a_folder_whose_name_holds_brackets_is_that_folder(tmp_path):
    folder = tmp_path / "run[1]"
    folder.mkdir()
    write_parquet(folder / "a.parquet", 4)
    (folder / "b.jsonl").write_text("".join(json.dumps(row(i)) + "\n" for i in range(50, 53)))
    assert rows_read(str(folder)) == 7


# -- compressed Parquet -------------------------------------------------------------------------------------

def compress(path: Path, suffix: str) -> Path:
    return write_compressed(path.with_name(path.name + suffix), path.read_bytes())


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
def test_a_compressed_parquet_file_is_read(tmp_path, suffix, monkeypatch):
    """Decompressed to a temporary file (not into memory), which is gone once read."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    plain = write_parquet(tmp_path / "rows.parquet", 9)
    packed = compress(plain, suffix)
    plain.unlink()
    table = read_all(str(packed))
    assert list(scratch.iterdir()) == []
    assert table.num_rows == 9
    assert table.column(ROW).to_pylist() == list(range(9))
    assert table.column("conversations").to_pylist()[3] == row(3)["conversations"]


def test_compressed_parquet_shards_in_a_folder_are_read_with_the_others(tmp_path):
    compress(write_parquet(tmp_path / "a.parquet", 4), ".gz")
    (tmp_path / "a.parquet").unlink()
    write_parquet(tmp_path / "b.parquet", 5, 100)
    assert rows_read(str(tmp_path)) == 9


def test_a_truncated_compressed_parquet_file_is_one_quarantined_record(tmp_path, monkeypatch):
    """It ended the run ("cannot decompress"); its footer is lost with the rest of the stream, so which rows it
    held is not known: one quarantined record says so (tests/curation/readers/test_parquet_broken_files.py)."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    packed = compress(write_parquet(tmp_path / "rows.parquet", 200), ".gz")
    packed.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    table = read_all(str(packed))
    assert table.num_rows == 1 and table.column(RAW).to_pylist() == [b"null"]
    assert table.column(ERROR)[0].as_py().startswith("the file's footer cannot be read, so the rows it held are "
                                                     "not known (none is read): cannot decompress it: ")
    assert list(scratch.iterdir()) == []  # the partial file is removed too



# -- a corrupt row group ------------------------------------------------------------------------------------

def corrupt_row_group(path: Path, group: int) -> Path:
    """``path`` with every byte of row group ``group``'s first column chunk flipped (its footer intact)."""
    chunk = pq.ParquetFile(path).metadata.row_group(group).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    for k in range(start, start + chunk.total_compressed_size):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_row_group_loses_its_rows_alone_each_a_quarantined_record(tmp_path):
    """A corrupt page in one row group refused the whole file ("not a readable Parquet file"), ending the run,
    although Parquet keeps every row group apart and the others read as they are. Their rows go on; each row
    of the bad group is a quarantined record naming the file, its row, the row group and the rows lost, so the
    manifest still counts every row of the file once."""
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([row(i) for i in range(30)]), path, row_group_size=10)
    corrupt_row_group(path, 1)
    table = pa.concat_tables([pa.Table.from_batches([b]) for b in open_input(str(path)).batches()],
                             promote_options="default")
    assert table.column(ROW).to_pylist() == list(range(30))
    errors = table.column(ERROR).to_pylist()
    assert all(e.startswith("row group 1 cannot be read from here (rows 10-19 of the file, 10 rows, are lost): ")
               for e in errors[10:20])
    assert all("\n" not in e for e in errors[10:20]) and errors[:10] + errors[20:] == [None] * 20
    assert len(set(table.column("_id").to_pylist())) == 30
    out = tmp_path / "out"
    accounting = curate(str(path), out)["accounting"]
    assert (accounting["input_rows"], accounting["in_splits"], accounting["quarantined"]) == (30, 20, 10)
    quarantined = read_quarantine(out)
    assert [q["position"] for q in quarantined] == [{"file": "rows.parquet", "row": r} for r in range(10, 20)]
    assert all(q["raw"] is None and q["error"] == errors[10] for q in quarantined)


def test_a_corrupt_row_group_gives_the_same_records_whatever_the_units_and_batch_size(tmp_path):
    """One unit per file (the local engine) or per row group (Ray), any batch size: the same records, the same
    positions in each unit's order and the same ids."""
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([row(i) for i in range(40)]), path, row_group_size=10)
    corrupt_row_group(path, 2)

    def records(unit_bytes, batch_rows):
        source = open_input(str(path))
        got = []
        for unit in source.units(unit_bytes=unit_bytes):
            for batch in source.read_unit(unit, batch_rows=batch_rows):
                got += zip(batch.column(ROW).to_pylist(), batch.column("_id").to_pylist(),
                           batch.column(ERROR).to_pylist())
        return got

    whole = records(None, 16_384)
    assert [r for r, _, _ in whole] == list(range(40))
    assert records(1, 3) == records(None, 7) == whole


# -- folders that cannot be read ----------------------------------------------------------------------------

def locked(path: Path) -> Path:
    path.chmod(0)
    if os.access(path, os.R_OK):  # root, with its capabilities: permissions do not apply
        path.chmod(0o755)
        pytest.skip("permissions do not apply to this user (root)")
    return path


def test_an_unreadable_folder_is_one_line_naming_it(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    write_parquet(folder / "a.parquet")
    locked(folder)
    try:
        with pytest.raises(InputError, match="locked: cannot read"):
            open_input(str(folder))
    finally:
        folder.chmod(0o755)


def test_an_unreadable_sub_folder_of_shards_is_an_error_not_rows_lost(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    write_parquet(tmp_path / "a.parquet")
    write_parquet(inner / "b.parquet")
    locked(inner)
    try:
        with pytest.raises(SourceError, match="inner: cannot read the folder"):
            expand(tmp_path)
    finally:
        inner.chmod(0o755)


def test_a_sub_folder_that_cannot_be_listed_stops_the_walk_naming_it(tmp_path, monkeypatch):
    # root reads any folder: the refusal is made here, where os.walk lists a folder
    inner = tmp_path / "shards" / "inner"
    inner.mkdir(parents=True)
    write_parquet(tmp_path / "shards" / "a.parquet")
    write_parquet(inner / "b.parquet")
    real = os.scandir

    def scandir(path="."):
        if Path(path) == inner:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputError, match=r"shards/inner: cannot read the folder: Permission denied"):
        open_input(str(tmp_path / "shards"))


def test_a_folder_that_cannot_be_listed_is_one_line_naming_it(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    write_parquet(folder / "a.parquet")
    real = Path.iterdir

    def iterdir(self):
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(InputError, match="locked: cannot read: Permission denied"):
        open_input(str(folder))


def test_a_folder_whose_manifest_cannot_be_searched_is_not_taken_for_a_curated_output(tmp_path, monkeypatch):
    from curation.sources import is_curated_folder

    real = Path.is_file

    def is_file(self):
        if self.name == "manifest.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_file", is_file)
    assert is_curated_folder(tmp_path) is False


# -- strings that are not UTF-8 -----------------------------------------------------------------------------

def bad_utf8_parquet(path: Path, binary: bool) -> Path:
    """Ten rows; row 2's human turn holds bytes that are not UTF-8 (a string column is not checked on write when
    its buffers are given as a view, as files of other tools may hold)."""
    turns = [turn["value"].encode() for i in range(10) for turn in row(i)["conversations"]]
    turns[4] = b"Question 2 \xff\xfe broken bytes"
    value = pa.array(turns, pa.binary())
    speaker = pa.array([b"human", b"gpt"] * 10, pa.binary())
    if not binary:
        value, speaker = value.view(pa.string()), speaker.cast(pa.string())
    turn = pa.StructArray.from_arrays([speaker, value], names=["from", "value"])
    conversations = pa.ListArray.from_arrays(pa.array(range(0, 21, 2), pa.int32()), turn)
    pq.write_table(pa.table({"conversations": conversations}), path)
    return path


@pytest.mark.parametrize("binary", [False, True], ids=["string", "binary"])
def test_a_row_that_is_not_utf8_is_marked_alone_and_the_rest_are_read(tmp_path, binary):
    path = bad_utf8_parquet(tmp_path / "rows.parquet", binary)
    table = read_all(str(path))
    assert table.num_rows == 10
    errors = table.column(ERROR).to_pylist()
    assert [i for i, e in enumerate(errors) if e] == [2]
    assert errors[2].startswith("not UTF-8: ") and "conversations" in errors[2]
    raw = json.loads(table.column(RAW)[2].as_py())
    assert raw["conversations"][0] == {"from": "human", "value": "Question 2 \ufffd\ufffd broken bytes"}
    good = table.column("conversations").to_pylist()
    assert good[3] == row(3)["conversations"] and good[2] is None


@pytest.mark.parametrize("binary", [False, True], ids=["string", "binary"])
def test_a_row_that_is_not_utf8_is_quarantined_with_its_file_and_row(tmp_path, binary):
    path = bad_utf8_parquet(tmp_path / "rows.parquet", binary)
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 10
    quarantined = read_quarantine(tmp_path / "out")
    assert len(quarantined) == 1
    q = quarantined[0]
    assert q["error"].startswith("not UTF-8") and q["position"] == {"file": "rows.parquet", "row": 2}
    assert q["raw"]["conversations"][0]["from"] == "human"  # text, not a Python repr of bytes


# -- datasets.save_to_disk ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def datasets_offline():
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return pytest.importorskip("datasets")


def test_a_saved_dataset_dict_reads_its_train_split_or_the_split_given(tmp_path, datasets_offline):
    ds = datasets_offline
    ds.DatasetDict({"train": ds.Dataset.from_list([row(i) for i in range(6)]),
                    "test": ds.Dataset.from_list([row(i) for i in range(100, 103)])}).save_to_disk(str(tmp_path / "dd"))
    assert rows_read(str(tmp_path / "dd")) == 6  # train, as for a hub id (it read every split: the test rows too)
    assert open_input(str(tmp_path / "dd")).describe(6)["split"] == "train"
    table = read_all(str(tmp_path / "dd") + ":test")
    assert table.num_rows == 3 and set(table.column(FILE).to_pylist()) == {"dd/test"}
    with pytest.raises(InputError, match=r"no split 'nope' .*its splits: train, test"):
        open_input(str(tmp_path / "dd") + ":nope")


def test_a_configured_split_of_a_saved_dataset_dict_is_that_split_only(tmp_path, datasets_offline):
    """``split:`` under ``inputs:`` reads that split of a local DatasetDict (it read every split)."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    ds = datasets_offline
    ds.DatasetDict({"train": ds.Dataset.from_list([row(i) for i in range(6)]),
                    "test": ds.Dataset.from_list([row(i) for i in range(100, 103)])}).save_to_disk(str(tmp_path / "dd"))
    config = load_config(None, {"report": False, "checkpoint": False,
                                "inputs": [{"name": "held", "path": str(tmp_path / "dd"), "split": "test"}]})
    run_curation(None, tmp_path / "out", config)
    assert read_manifest(tmp_path / "out")["accounting"]["input_rows"] == 3


def test_a_split_of_a_file_is_an_error_not_ignored(tmp_path):
    path = write_parquet(tmp_path / "rows.parquet")
    with pytest.raises(InputError, match="not a datasets.save_to_disk folder, so it has no split 'test'"):
        open_input(f"{path}:test")


def test_a_class_label_column_reads_as_its_label_names(tmp_path, datasets_offline):
    ds = datasets_offline
    features = ds.Features({"conversations": [{"from": ds.Value("string"), "value": ds.Value("string")}],
                            "source": ds.ClassLabel(names=["web", "books", "code"])})
    rows = [dict(row(i), source=i % 3) for i in range(6)] + [dict(row(6), source=-1)]
    ds.Dataset.from_list(rows, features=features).save_to_disk(str(tmp_path / "cl"))
    table = read_all(str(tmp_path / "cl"))
    assert table.column("source").to_pylist() == ["web", "books", "code", "web", "books", "code", None]
    manifest = curate(str(tmp_path / "cl"), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 7 and not read_quarantine(tmp_path / "out")


def test_a_class_label_column_of_a_parquet_file_datasets_wrote_reads_as_its_label_names(tmp_path, datasets_offline):
    """The same dataset read as names from save_to_disk came as numbers ("0", "1", repaired as number_as_text)
    from its ``to_parquet`` file, and from a downloaded hub repository's ``data/train-00000-of-00001.parquet``:
    the names are in the file's ``huggingface`` schema metadata. Metadata that does not read so changes
    nothing."""
    from curation.readers.labels import parquet_labels

    ds = datasets_offline
    features = ds.Features({"conversations": [{"from": ds.Value("string"), "value": ds.Value("string")}],
                            "source": ds.ClassLabel(names=["web", "books", "code"])})
    rows = [dict(row(i), source=i % 3) for i in range(6)] + [dict(row(6), source=-1)]
    (tmp_path / "repo" / "data").mkdir(parents=True)
    shard = tmp_path / "repo" / "data" / "train-00000-of-00001.parquet"
    ds.Dataset.from_list(rows, features=features).to_parquet(str(shard))
    for spec in (shard, tmp_path / "repo"):
        table = read_all(str(spec))
        assert table.column("source").to_pylist() == ["web", "books", "code", "web", "books", "code", None]
    manifest = curate(str(tmp_path / "repo"), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 7 and not read_quarantine(tmp_path / "out")
    kept = pq.read_table(tmp_path / "out" / "train.parquet").column("source").to_pylist()
    assert kept and set(kept) <= {"web", "books", "code", None}
    for meta in (b"not json", b'{"info": []}', b'{"info": {"features": {"source": {"_type": "ClassLabel"}}}}',
                 b'{"info": {"features": {"source": {"_type": "ClassLabel", "names": [1, 2]}}}}'):
        assert parquet_labels(pa.schema([("source", pa.int64())], metadata={b"huggingface": meta})) == {}


def test_an_empty_saved_dataset_is_an_input_of_no_rows(tmp_path, datasets_offline):
    ds = datasets_offline
    features = ds.Features({"conversations": [{"from": ds.Value("string"), "value": ds.Value("string")}]})
    ds.Dataset.from_dict({"conversations": []}, features=features).save_to_disk(str(tmp_path / "empty"))
    assert rows_read(str(tmp_path / "empty")) == 0


# -- metadata files, empty specs ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["metadata.json", "dataset_info.json"])
def test_a_metadata_file_beside_shards_is_not_read_as_rows(tmp_path, name):
    write_parquet(tmp_path / "part-0.parquet", 4)
    write_parquet(tmp_path / "part-1.parquet", 3, 100)
    (tmp_path / name).write_text('{"rows": 7}')
    if name == "dataset_info.json":  # a save_to_disk marker at the top: the metadata sits in a shard folder
        (tmp_path / "sub").mkdir()
        for p in tmp_path.glob("*"):
            if p.name != "sub":
                p.rename(tmp_path / "sub" / p.name)
        write_parquet(tmp_path / "top.parquet", 2, 200)
        assert rows_read(str(tmp_path)) == 9
    else:
        assert rows_read(str(tmp_path)) == 7


def test_a_json_file_among_shards_is_read_with_them(tmp_path):
    write_parquet(tmp_path / "a.parquet")
    (tmp_path / "rows.json").write_text(json.dumps([row(9)]))
    assert rows_read(str(tmp_path)) == 7


@pytest.mark.parametrize("spec", ["", "  "])
def test_an_empty_input_path_is_one_clear_line(spec):
    with pytest.raises(InputError, match="an input path is empty"):
        open_input(spec)
    with pytest.raises(SourceError, match="an input path is empty"):
        expand(spec)


# -- repeated column names ----------------------------------------------------------------------------------

def test_a_column_name_given_twice_is_one_line_naming_file_and_column(tmp_path):
    conversations = pa.array([row(i)["conversations"] for i in range(4)])
    table = pa.Table.from_arrays([conversations, pa.array(["a"] * 4), pa.array(["b"] * 4)],
                                 names=["conversations", "meta", "meta"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(InputError, match=r"dup\.parquet: the column 'meta' appears more than once"):
        rows_read(str(tmp_path / "dup.parquet"))
    packed = compress(tmp_path / "dup.parquet", ".gz")  # read whole, checked as it is read
    with pytest.raises(InputError, match=r"dup\.parquet\.gz: the column 'meta' appears more than once"):
        rows_read(str(packed))


@pytest.mark.parametrize("column", ["conversations", "meta"])
def test_a_struct_field_given_twice_is_one_line_naming_file_and_column(tmp_path, column):
    """A struct naming a field twice (a turn with two 'value' fields, or an extra column's) ended the run with
    "inputs: Converting to Python dictionary is not supported when duplicate field names are present", naming
    neither the file nor the column."""
    who, text = pa.array(["human", "gpt"]), pa.array([row(0)["conversations"][0]["value"], row(0)["conversations"][1]["value"]])
    fields = [pa.field("from", pa.string()), pa.field("value", pa.string())]
    twice = column == "conversations"
    turns = pa.StructArray.from_arrays([who, text, text] if twice else [who, text], fields=fields + fields[1:] * twice)
    columns = {"conversations": pa.ListArray.from_arrays(pa.array([0, 2]), turns)}
    if not twice:
        columns["meta"] = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])],
                                                     fields=[pa.field("a", pa.int64()), pa.field("a", pa.int64())])
    pq.write_table(pa.table(columns), tmp_path / "dup.parquet")
    field = "value" if twice else "a"
    for path in (tmp_path / "dup.parquet", compress(tmp_path / "dup.parquet", ".gz")):
        with pytest.raises(InputError, match=rf"^{path}: the column '{column}' holds the field '{field}' more than once"):
            rows_read(str(path))


def test_a_saved_dataset_dict_without_train_names_its_splits(tmp_path, datasets_offline):
    ds = datasets_offline
    ds.DatasetDict({"validation": ds.Dataset.from_list([row(i) for i in range(3)]),
                    "test": ds.Dataset.from_list([row(i) for i in range(100, 103)])}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match=r"dd: a DatasetDict of splits validation, test and no 'train': give .*dd:SPLIT"):
        open_input(str(tmp_path / "dd"))
    assert rows_read(str(tmp_path / "dd") + ":validation") == 3


def test_a_typed_column_of_nulls_is_carried_as_any_other_extra_column(tmp_path):
    """A Parquet column whose every value is null (``note: string`` beside FineTome's columns, or of Arrow's null
    type) was dropped from the splits, where a column holding values is carried: a typed input's columns are its
    schema's, values or not. The same bytes whatever engine.batch_rows, a row read record by record among them; a
    JSON key that no kept row holds (only a quarantined line has it) is still no column."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    rows = [row(i, source="s", score=4.0) for i in range(12)]
    rows[3]["conversations"][0]["from"] = "user"  # read record by record
    rows[7]["conversations"] = rows[7]["conversations"][:1]  # no answer: quarantined
    table = pa.Table.from_pylist(rows)
    table = table.append_column("zeta", pa.nulls(12, pa.int64())).append_column("note", pa.nulls(12, pa.string()))
    table = table.append_column("tag", pa.array([None] * 4 + ["x"] * 8, pa.string()))
    table = table.append_column("void", pa.nulls(12))  # of Arrow's null type, as pandas writes a column of None
    pq.write_table(table, tmp_path / "rows.parquet")
    lines = [row(100 + i) for i in range(4)] + [{"conversations": [{"from": "human", "value": Q}], "lost": "q"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    for spec in (str(tmp_path / "rows.parquet"), [str(tmp_path / "rows.parquet"), str(tmp_path / "rows.jsonl")]):
        seen = []
        for batch_rows in (16_384, 1, 5):
            out = tmp_path / f"out{batch_rows}"
            run_curation(spec, out, load_config(None, {"report": False, "checkpoint": False,
                                                       "engine": {"batch_rows": batch_rows}}))
            manifest = read_manifest(out)
            assert manifest["accounting"]["balanced"]
            assert manifest["accounting"]["quarantined"] == (2 if isinstance(spec, list) else 1)
            seen.append((manifest["extra_columns"], {f: (out / f).read_bytes() for f in (
                "train.parquet", "validation.parquet", "test.parquet", "removed.parquet", "quarantine.jsonl")}))
        extras = seen[0][0]
        assert extras == (["input"] if isinstance(spec, list) else []) + ["tag", "note", "void", "zeta"]
        schema = pq.read_schema(tmp_path / "out16384" / "train.parquet")
        assert schema.field("note").type == pa.string() and schema.field("zeta").type == pa.int64()
        assert schema.field("void").type == pa.null()  # (it was dropped: its type alone left it out)
        train = pq.read_table(tmp_path / "out16384" / "train.parquet")
        assert train.num_rows > 0 and train.column("note").null_count == train.num_rows
        assert "lost" not in schema.names
        assert seen[1] == seen[0] and seen[2] == seen[0]
    # a curated folder read again: its own provenance columns of nulls (named as columns tome writes) stay out
    run_curation(str(tmp_path / "out16384"), tmp_path / "again", load_config(None, {"report": False, "checkpoint": False}))
    names = pq.read_schema(tmp_path / "again" / "train.parquet").names
    assert {"note", "zeta"} <= set(names) and not {"input_cluster_id", "input_origin_id", "input_augmentation"} & set(names)
