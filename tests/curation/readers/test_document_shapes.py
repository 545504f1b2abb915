"""The shapes chat data takes on disk: a ``.json`` document whose rows are keyed by id, and folders (and globs) that
hold JSON documents beside JSON Lines and Parquet shards, compressed or not, and files that are no data."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.readers import InputError, open_input
from tests.curation.runs import curate


def row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"How far is landmark number {i} from the harbour?"},
                              {"from": "gpt", "value": f"Landmark {i} lies {i * 3 + 2} kilometres north of the "
                                                       f"harbour, along the coast road past the lighthouse."}],
            **extra}


def read(spec) -> list:
    """Every record the input gives: its own JSON, as validation reads it (a Parquet row's, which has none, its
    values)."""
    from curation.readers.raw import RAW

    records = []
    for batch in open_input(str(spec)).batches():
        values = batch.drop_columns([n for n in batch.schema.names if n.startswith("_")]).to_pylist()
        records += [json.loads(raw) if raw is not None else {k: v for k, v in value.items() if v is not None}
                    for raw, value in zip(batch.column(RAW).to_pylist(), values)]
    return records


# --- rows keyed by id ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wrap", [None, "data", "conversations_by_id"])
def test_rows_keyed_by_id_are_read_each_key_the_id_of_a_row_without_one(tmp_path, wrap):
    """``{"id1": row, ...}`` (pandas' ``to_json(orient="index")``) and ``{"data": {"id1": row, ...}}`` were read as
    one row whose columns are the ids, and the run ended on "cannot tell the chat format from its columns"."""
    keyed = {"a7": row(0), "b3": row(1, id="own-1"), "c1": row(2)}
    path = tmp_path / "keyed.json"
    path.write_text(json.dumps(keyed if wrap is None else {"version": 2, wrap: keyed}))
    assert read(path) == [{"id": "a7", **row(0)}, row(1, id="own-1"), {"id": "c1", **row(2)}]


def test_a_keyed_row_whose_own_id_is_null_takes_its_key(tmp_path):
    """A row's null ``id`` is no id: its key was dropped for it, the row's ``input_id`` null."""
    path = tmp_path / "keyed.json"
    path.write_text(json.dumps({"a7": row(0, id=None), "b3": row(1, id="own-1"), "c1": row(2, id=0)}))
    assert read(path) == [{"id": "a7", **row(0)}, row(1, id="own-1"), row(2, id=0)]


def test_a_run_over_rows_keyed_by_id_keeps_every_row_and_its_key(tmp_path):
    path = tmp_path / "keyed.json"
    path.write_text(json.dumps({f"conv-{i:03d}": row(i) for i in range(12)}, indent=2))
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 12 and manifest["accounting"]["in_splits"] == 12
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / f"{s}.parquet", columns=["input_id"])
                             for s in ("train", "validation", "test")])
    assert sorted(kept.column("input_id").to_pylist()) == [f"conv-{i:03d}" for i in range(12)]


def test_a_keyed_value_that_is_no_row_is_quarantined_alone(tmp_path):
    path = tmp_path / "keyed.json"
    path.write_text(json.dumps({"k1": row(1), "k2": {"note": "not a conversation"}, "k3": row(3)}))
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["input_rows"] == 3 and manifest["accounting"]["quarantined"] == 1


def test_rows_keyed_by_id_that_break_off_keep_those_read_whole_beside_shards(tmp_path):
    """A keyed document cut short (or not valid JSON part-way) among shards ended the run ("line 1: not valid
    JSON"), where a JSON array so broken keeps its rows read whole and quarantines the rest."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps(row(0)) + "\n")
    (folder / "b.json").write_text(json.dumps({"x": row(1), "y": row(2), "z": row(3)}, indent=1)[:-40])
    (folder / "c.jsonl").write_text(json.dumps(row(4)) + "\n")
    got = read(folder)
    assert got[:3] + got[4:] == [row(0), {"id": "x", **row(1)}, {"id": "y", **row(2)}, row(4)]
    assert isinstance(got[3], str) and got[3].startswith('"z": {')  # the rest of the file, as text
    manifests = [curate(str(folder), tmp_path / name) for name in ("one", "two")]
    assert manifests[0]["accounting"]["input_rows"] == 5 and manifests[0]["accounting"]["quarantined"] == 1
    errors = [json.loads(line) for line in (tmp_path / "one" / "quarantine.jsonl").read_text().splitlines()]
    assert [(e["position"]["file"], e["position"]["row"]) for e in errors] == [("b.json", 2)]
    assert "the file breaks off here" in errors[0]["error"]
    for name in ("train.parquet", "validation.parquet", "test.parquet", "quarantine.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


@pytest.mark.parametrize("wrap", [{}, {"version": 2}])
@pytest.mark.parametrize("cut", ["text", "in a row", "a stray character"])
def test_rows_keyed_by_id_under_a_wrapper_that_break_off_keep_those_read_whole(tmp_path, wrap, cut):
    """``{"data": {"id1": row, ...}}`` cut short (or not valid JSON) among its rows ended the run ("line 1: not
    valid JSON"), where the same rows not wrapped, or listed in a wrapped array, keep those read whole."""
    keyed = {"x": row(1), "y": row(2), "z": row(3)}
    text = json.dumps({**wrap, "data": keyed}, indent=1)
    at = text.index('"z": {')
    text = {"text": text[:at + 60], "in a row": text[:text.index('"gpt"', at)],
            "a stray character": text[:at + 30] + "\x07" + text[at + 30:]}[cut]
    path = tmp_path / "keyed.json"
    path.write_text(text)
    got = read(path)
    assert got[:2] == [{"id": "x", **row(1)}, {"id": "y", **row(2)}] and len(got) == 3
    assert isinstance(got[2], str) and got[2].startswith('"z": {')  # the rest of the file, from the row it breaks in
    manifest = curate(str(path), tmp_path / "out")
    assert (manifest["accounting"]["input_rows"], manifest["accounting"]["in_splits"],
            manifest["accounting"]["quarantined"]) == (3, 2, 1)


def test_rows_keyed_by_id_under_a_wrapper_read_whole_before_a_break_after_them_are_kept(tmp_path):
    text = json.dumps({"data": {"x": row(1), "y": row(2)}, "meta": {"license": "mit", "notes": "n"}})
    path = tmp_path / "keyed.json"
    path.write_text(text[:-10])
    got = read(path)
    assert got[:2] == [{"id": "x", **row(1)}, {"id": "y", **row(2)}]
    assert len(got) == 3 and got[2].startswith('"meta": {')


def test_rows_keyed_by_id_under_two_keys_are_refused_in_one_line(tmp_path):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"train": {"a": row(0)}, "test": {"b": row(1)}}))
    with pytest.raises(InputError, match=r"splits\.json: an object holding 2 objects of rows keyed by id \('train', "
                                         r"'test'\), not one: give each as a file of its own") as caught:
        open_input(str(path))
    assert "\n" not in str(caught.value)


def test_a_key_given_twice_among_keyed_rows_is_refused_not_a_row_lost(tmp_path):
    """``json`` keeps the last value of a key named twice: the first row would be lost unseen."""
    path = tmp_path / "twice.json"
    path.write_text('{"a": %s, "a": %s, "b": %s}' % (json.dumps(row(0)), json.dumps(row(1)), json.dumps(row(2))))
    with pytest.raises(InputError, match=r"twice\.json: its rows are keyed by id, and the key 'a' appears twice"):
        open_input(str(path))


@pytest.mark.parametrize("document", [
    {"meta": {"license": "mit"}, "notes": {"x": 1}},  # objects, none a row: the one row it is
    {"instruction": {"0": "Say hi", "1": "Say bye"}, "output": {"0": "hi", "1": "bye"}},  # columns by row index
])
def test_objects_that_are_not_rows_keyed_by_id_are_read_as_before(tmp_path, document):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    expected = ([{"instruction": "Say hi", "output": "hi"}, {"instruction": "Say bye", "output": "bye"}]
                if "instruction" in document else [document])
    assert read(path) == expected


@pytest.mark.parametrize("document", [
    {"a": row(0), "b": [], "c": row(1)},  # read as the wrapper of its empty array: no rows at all
    {"a": row(0), "b": [row(5)], "c": row(1)},  # read as its one array: rows 0 and 1 lost
    {"data": [row(0)], "extra": row(1)},
    {"data": [row(0)], "more": {"k1": row(1), "k2": row(2)}},  # rows keyed by id beside an array
])
def test_rows_beside_the_one_array_of_an_object_are_refused_not_lost(tmp_path, document):
    """An object holding one array was read as its wrapper whatever else it held: rows beside the array, by their
    keys or keyed by id, were passed by unseen, and the run said nothing lost."""
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: an object holding an array \('[a-z]+'\) and, "
                                         r"beside it, rows \('[a-z]+'(, '[a-z]+')?\): which are the rows is a guess"
                       ) as caught:
        open_input(str(path))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("document,cut", [
    ({"a": row(0), "b": [row(5), row(6)]}, 20),
    ({"more": {"k1": row(1)}, "data": [row(0), row(2)]}, 20),
    # rows keyed by id under a wrapper, where which member holds the rows is a guess
    ({"train": {"a": row(0)}, "test": {"b": row(1), "c": row(2)}}, 40),  # two such objects
    ({"version": 2, "data": {"a": row(0)}, "more": {"b": row(2), "c": row(3)}}, 40),  # the same, the break in one
    ({"data": {"a": row(0), "b": row(1)}, "list": [row(4), row(5)]}, 40),  # an array beside them
    ({"conversations": [{"from": "human", "value": "hi"}], "meta": {"a": row(0), "b": row(1)}}, 40),  # a row
    # nothing read whole (as likely no JSON at all as JSON cut short: the rule of every document)
    ({"data": {"a": row(0)}}, 40),
])
def test_rows_beside_an_array_that_breaks_are_not_lost(tmp_path, document, cut):
    """Broken inside its array, such an object was salvaged as that array's rows, those beside it lost unseen;
    an object whose rows keyed by id are a guess, or of which nothing reads whole, is refused as before."""
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document)[:-cut])
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}: line 1: not valid JSON"):
        open_input(str(path))


def test_an_object_of_keyed_rows_under_a_key_given_twice_is_refused_not_its_rows_lost(tmp_path):
    """``json`` keeps the last of a wrapper's key given twice: the rows keyed under the first were lost unseen."""
    path = tmp_path / "twice.json"
    path.write_text('{"data": {"a": %s}, "data": {"b": %s}}' % (json.dumps(row(0)), json.dumps(row(1))))
    with pytest.raises(InputError, match=r"twice\.json: the key 'data' appears twice in one object"):
        open_input(str(path))


# --- folders and globs of mixed shards ---------------------------------------------------------------------------

def _mixed(folder: Path) -> Path:
    """A folder of JSON Lines, a JSON array, a JSON object holding one (on one line), Parquet and compressed JSON
    Lines and JSON, beside files that are no data: rows 0-9, one file after another by path."""
    (folder / "sub" / "empty").mkdir(parents=True)
    (folder / "a.jsonl").write_text("".join(json.dumps(row(i)) + "\n" for i in range(2)))
    (folder / "b.json").write_text(json.dumps([row(2), row(3)], indent=2))
    pq.write_table(pa.Table.from_pylist([row(4)]), folder / "c.parquet")
    (folder / "d.jsonl.gz").write_bytes(gzip.compress((json.dumps(row(5)) + "\n").encode(), mtime=0))
    (folder / "e.json.gz").write_bytes(gzip.compress(json.dumps([row(6)]).encode(), mtime=0))
    (folder / "sub" / "f.json").write_text(json.dumps({"version": 1, "data": [row(7), row(8)]}))  # (one line)
    (folder / "sub" / "g.jsonl").write_text(json.dumps(row(9)) + "\n")
    for name, data in {"README.md": "# rows\n", ".gitattributes": "* text\n", "dataset_info.json": '{"x": 1}',
                       "_SUCCESS": "", ".DS_Store": "\x00\x01", "part-0.crc": "crc", ".hidden.jsonl": "{}\n"}.items():
        (folder / name).write_text(data)
    return folder


@pytest.mark.parametrize("spec", ["{d}", "{d}/**/[a-h].json*", "{d}/**/[a-h].*"])
def test_json_documents_are_read_beside_shards_each_row_once_in_path_order(tmp_path, spec):
    """A folder (or glob) that held a JSON document beside other data files was refused whole ("cannot be mixed
    with other files in one input"), where ``datasets.load_dataset("json", data_files=...)`` reads them all."""
    folder = _mixed(tmp_path / "data")
    got = read(spec.format(d=folder))
    expected = [row(i) for i in range(10)]
    if "json*" in spec:  # (no .parquet; a glob reads a metadata file it names, so none is)
        expected = [r for i, r in enumerate(expected) if i != 4]
    assert got == expected


def test_a_folder_of_json_documents_alone_is_read(tmp_path):
    for k in range(3):
        (tmp_path / f"part{k}.json").write_text(json.dumps([row(2 * k), row(2 * k + 1)]))
    source = open_input(str(tmp_path))
    assert source.kind == "json" and read(tmp_path) == [row(i) for i in range(6)]


def test_a_document_among_shards_is_named_where_it_is_refused(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps(row(0)) + "\n")
    (tmp_path / "splits.json").write_text(json.dumps({"train": [row(1)], "test": [row(2)]}))
    with pytest.raises(InputError, match=rf"^{tmp_path / 'splits.json'}: an object holding 2 arrays"):
        open_input(str(tmp_path))


def test_a_mixed_folder_curates_every_row_to_one_place_and_the_same_bytes_twice(tmp_path):
    folder = _mixed(tmp_path / "data")
    (folder / "h.json").write_text(json.dumps([row(10), 7, row(11)])[:-30])  # a number, and broken at its end
    manifests = [curate(str(folder), tmp_path / name) for name in ("one", "two")]
    accounting = manifests[0]["accounting"]
    assert accounting["input_rows"] == 13 and accounting["quarantined"] == 2
    assert accounting["in_splits"] + accounting["removed"] + accounting["quarantined"] == 13
    errors = [json.loads(line) for line in (tmp_path / "one" / "quarantine.jsonl").read_text().splitlines()]
    assert [e["position"]["file"] for e in errors] == ["h.json", "h.json"]
    for name in ("train.parquet", "validation.parquet", "test.parquet", "removed.parquet", "quarantine.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


# --- files of a form tome does not read, among those it reads --------------------------------------------------

@pytest.mark.parametrize("name,says", [
    ("extra.csv", r"extra\.csv is not read, beside the files that are \(rows would be left out unseen\): unsupported "
                  r"file type '.csv': CSV is not read"),
    ("more.jsonl.lz4", r"more\.jsonl\.lz4 is not read, .*: lz4-compressed, which is not read; decompress it"),
    ("train-00000-of-00001.arrow", r"train-00000-of-00001\.arrow is not read, .*Arrow IPC is not read"),
    ("sub/rows.tar.gz", r"rows\.tar\.gz is not read, .*an archive, not read as one; extract it"),
])
@pytest.mark.parametrize("glob", [False, True])
def test_data_of_a_form_not_read_beside_shards_is_one_line_not_rows_lost(tmp_path, name, says, glob):
    """A CSV file, an lz4 file, a loose Arrow file or an archive beside JSON Lines in a folder was passed by
    unseen (the run read the JSON Lines and said nothing lost)."""
    (tmp_path / "rows.jsonl").write_text(json.dumps(row(0)) + "\n")
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_bytes(b"a,b\n1,2\n")
    (tmp_path / "LICENSE.txt").write_text("MIT\n")  # no rows: passed by, as a README is
    spec = f"{tmp_path}/**/*" if glob else str(tmp_path)
    with pytest.raises(InputError, match=rf"^{re.escape(spec)}: {says}.*; or move it out") as caught:
        open_input(spec)
    assert "\n" not in str(caught.value)


def test_a_folder_of_shards_with_text_beside_them_is_read(tmp_path):
    (tmp_path / "rows.jsonl").write_text(json.dumps(row(0)) + "\n")
    for name in ("LICENSE.txt", "README.md", "notes", ".gitattributes", "_SUCCESS"):
        (tmp_path / name).write_text("text\n")
    assert read(tmp_path) == [row(0)]
