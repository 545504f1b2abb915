"""A broken Parquet input (truncated, a corrupt footer, a compressed one whose stream breaks off) is one quarantined
record and the run goes on with the other inputs and shards, on both engines; a file that is not Parquet (or not
its codec) at all stays a one-line error, and a shard of no bytes holds no rows, as an empty JSON Lines one."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_quarantine
from curation.readers import InputError, open_input
from curation.readers.raw import ERROR, FILE, ID, RAW, ROW
from tests.curation.runs import curate, curate_command, one_error_line, write_compressed

FOOTER_LOST = "the file's footer cannot be read, so the rows it held are not known (none is read): "
CODECS = [".gz", ".bz2", ".xz", ".zst"]


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"conversations": [{"from": "human", "value": f"Why is the sky blue, question {i}?"},
                               {"from": "gpt", "value": f"Air scatters blue light more than red, answer {i}."}],
             "source": "s", "score": 4.0} for i in range(start, start + n)]


def parquet_bytes(n: int, start: int = 0, **kwargs) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows(n, start)), sink, **kwargs)
    return sink.getvalue().to_pybytes()


def truncated(n: int = 2000) -> bytes:
    data = parquet_bytes(n)
    return data[: len(data) // 2]


def corrupt_footer(n: int = 50) -> bytes:
    """A whole Parquet file whose footer (thrift metadata, between the data and the last 8 bytes) is garbage: it
    starts and ends with PAR1."""
    data = bytearray(parquet_bytes(n))
    size = int.from_bytes(data[-8:-4], "little")
    for k in range(len(data) - 8 - size, len(data) - 8):
        data[k] ^= 0x5A
    return bytes(data)


def read(spec: str, **units) -> pa.Table:
    source = open_input(spec)
    batches = [b for unit in source.units(**units) for b in source.read_unit(unit)]
    if not batches:
        return pa.table({})
    return pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="default")


def quarantined(table: pa.Table) -> list[dict]:
    return [r for r in table.select([FILE, ROW, RAW, ERROR, ID]).to_pylist() if r[ERROR] is not None]


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """``TMPDIR`` of the test's own, to see that a compressed file's partial decompressed copy is removed."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# --- one quarantined record, the other shards read --------------------------------------------------------------

@pytest.mark.parametrize("broken", [truncated, corrupt_footer], ids=["truncated", "corrupt_footer"])
def test_a_parquet_file_whose_footer_cannot_be_read_is_one_quarantined_record(tmp_path, broken):
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(parquet_bytes(5))
    (folder / "b.parquet").write_bytes(broken())
    (folder / "c.parquet").write_bytes(parquet_bytes(7, 100))
    table = read(str(folder))
    assert table.num_rows == 13
    [record] = quarantined(table)
    assert (record[FILE], record[ROW], record[RAW]) == ("b.parquet", None, b"null")
    assert record[ERROR].startswith(FOOTER_LOST) and "\n" not in record[ERROR]
    assert record[ID] == quarantined(read(str(folder)))[0][ID]  # the same id in every run
    accounting = curate(str(folder), tmp_path / "out")["accounting"]
    assert (accounting["input_rows"], accounting["in_splits"], accounting["quarantined"]) == (13, 12, 1)
    [shown] = read_quarantine(tmp_path / "out")
    assert shown["raw"] is None and shown["error"] == record[ERROR]


@pytest.mark.parametrize("suffix", CODECS)
def test_a_truncated_compressed_parquet_file_is_one_quarantined_record(tmp_path, scratch, suffix):
    packed = write_compressed(tmp_path / f"t.parquet{suffix}", parquet_bytes(2000))
    packed.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    write_compressed(tmp_path / f"ok.parquet{suffix}", parquet_bytes(9, 100))
    table = read(str(tmp_path))
    assert table.num_rows == 10 and list(scratch.iterdir()) == []  # the partial copy is removed too
    [record] = quarantined(table)
    assert record[FILE] == f"t.parquet{suffix}" and record[RAW] == b"null"
    assert record[ERROR].startswith(FOOTER_LOST + "cannot decompress it: ") and "\n" not in record[ERROR]


@pytest.mark.parametrize("suffix", CODECS)
def test_a_compressed_file_of_a_truncated_parquet_file_is_one_quarantined_record(tmp_path, suffix):
    """The stream is whole; what it holds is a Parquet file cut short."""
    write_compressed(tmp_path / f"t.parquet{suffix}", truncated())
    [record] = quarantined(read(str(tmp_path / f"t.parquet{suffix}")))
    assert record[ERROR].startswith(FOOTER_LOST) and "cannot decompress" not in record[ERROR]


def test_the_run_goes_on_with_the_other_inputs(tmp_path):
    """`curate -i t.parquet.gz -i ok.parquet.gz -i t.parquet` ended at the first: "cannot decompress"."""
    data = parquet_bytes(2000)
    gz = gzip.compress(data)
    (tmp_path / "t.parquet.gz").write_bytes(gz[: len(gz) // 2])
    (tmp_path / "ok.parquet.gz").write_bytes(gz)
    (tmp_path / "t.parquet").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    result = curate_command("-i", str(tmp_path / "t.parquet.gz"), "-i", str(tmp_path / "ok.parquet.gz"),
                            "-i", str(tmp_path / "t.parquet"), "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    accounting = manifest["accounting"]
    assert (accounting["input_rows"], accounting["in_splits"], accounting["quarantined"]) == (2002, 2000, 2)
    assert accounting["balanced"]
    assert sorted(r["position"]["file"] for r in read_quarantine(out)) == ["t.parquet", "t.parquet.gz"]


def test_a_broken_file_of_an_against_set_is_counted_and_named_without_a_null_row(tmp_path):
    """`--against` a folder with a truncated shard: the set's other rows are matched, the file counts as one
    unreadable record, and the first such record is named by its file alone (it read "file t.parquet, row None")."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "a.parquet").write_bytes(parquet_bytes(40))
    (existing / "t.parquet").write_bytes(truncated())
    new = tmp_path / "new.parquet"
    new.write_bytes(parquet_bytes(20, 30))  # rows 30-49: 10 of them are in a.parquet
    out = tmp_path / "out"
    run_curation(str(new), out, load_config(None, {"report": False, "checkpoint": False,
                                                   "stages": {"against": {"path": str(existing)}}}))
    stats = next(s for s in json.loads((out / "manifest.json").read_text())["stages"] if s["name"] == "against")["stats"]
    assert (stats["existing_rows"], stats["exact"], stats["existing_unreadable"]) == (40, 10, 1)
    assert stats["existing_unreadable_first"].startswith("file t.parquet: " + FOOTER_LOST)
    assert "None" not in stats["existing_unreadable_first"]


def test_a_broken_file_cut_in_row_group_units_is_one_unit(tmp_path):
    """The units a Ray run reads (a file cut per row group) list a broken file as one unit of one record."""
    (tmp_path / "a.parquet").write_bytes(parquet_bytes(60, row_group_size=10))
    (tmp_path / "b.parquet").write_bytes(truncated())
    source = open_input(str(tmp_path))
    units = source.units(unit_bytes=1)
    assert [u.file for u in units] == ["a.parquet"] * 6 + ["b.parquet"]
    table = read(str(tmp_path), unit_bytes=1)
    assert table.num_rows == 61 and [r[FILE] for r in quarantined(table)] == ["b.parquet"]
    assert table.column("_pos").to_pylist()[-1] == units[-1].first_pos


# --- what stays an error, and a file of no bytes -------------------------------------------------------------------

def test_a_file_that_is_not_parquet_stays_one_line_naming_it(tmp_path):
    (tmp_path / "rows.parquet").write_text(json.dumps(rows(3)) + "\n")
    with pytest.raises(InputError, match=r"rows\.parquet: not a readable Parquet file \(it does not start with "
                                         r"Parquet's magic bytes PAR1\)") as err:
        read(str(tmp_path / "rows.parquet"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", CODECS)
def test_a_file_that_is_not_its_codec_stays_one_line_naming_it(tmp_path, scratch, suffix):
    path = tmp_path / f"rows.parquet{suffix}"
    path.write_bytes(b"\xff" * 32 + parquet_bytes(3))
    with pytest.raises(InputError, match=rf"rows\.parquet\{suffix}: cannot decompress"):
        read(str(path))
    assert list(scratch.iterdir()) == []


def test_a_compressed_file_of_something_else_stays_one_line_naming_it(tmp_path):
    write_compressed(tmp_path / "rows.parquet.gz", b"id,text\n1,not Parquet but CSV\n")
    with pytest.raises(InputError, match=r"rows\.parquet\.gz: not a readable Parquet file \(it does not start"):
        read(str(tmp_path / "rows.parquet.gz"))


def test_the_cli_names_a_file_that_is_not_parquet_in_one_line(tmp_path):
    (tmp_path / "rows.parquet").write_text(json.dumps(rows(3)) + "\n")
    result = curate_command("-i", str(tmp_path / "rows.parquet"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "rows.parquet: not a readable Parquet file (it does not start" in one_error_line(result.output)


@pytest.mark.parametrize("name", ["empty.parquet", "empty.parquet.gz", "empty.parquet.zst"])
def test_a_parquet_shard_of_no_bytes_holds_no_rows(tmp_path, name):
    """As a JSON Lines shard of no bytes (``touch``, a writer that wrote nothing): no rows, nothing quarantined."""
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / name).write_bytes(b"")
    (folder / "full.parquet").write_bytes(parquet_bytes(4))
    assert read(str(folder / name)).num_rows == 0
    table = read(str(folder))
    assert table.num_rows == 4 and quarantined(table) == []
    accounting = curate(str(folder), tmp_path / "out")["accounting"]
    assert (accounting["input_rows"], accounting["quarantined"]) == (4, 0)


# --- the Ray engine ------------------------------------------------------------------------------------------------

@pytest.mark.slow  # (the engine starts a local Ray cluster of its own, and stops it)
def test_the_ray_engine_quarantines_a_broken_file_as_the_local_engine_does(no_ray_cluster, tmp_path):
    ray = pytest.importorskip("ray")
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.engines.ray import RayOptions, run_curation_ray
    from curation.pipeline import run_curation

    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(parquet_bytes(40, row_group_size=10))
    (folder / "b.parquet").write_bytes(truncated())
    gz = gzip.compress(parquet_bytes(500, 1000))
    (folder / "c.parquet.gz").write_bytes(gz[: len(gz) // 2])
    (folder / "d.parquet").write_bytes(b"")
    (folder / "e.parquet").write_bytes(corrupt_footer())
    (folder / "f.parquet.gz").write_bytes(gzip.compress(parquet_bytes(6, 2000)))
    config = lambda: load_config(None, {"report": False, "checkpoint": False})  # noqa: E731
    run_curation(str(folder), tmp_path / "local", config())
    run_curation_ray(str(folder), tmp_path / "ray", config(),
                     RayOptions(num_cpus=2, object_store_memory=256 << 20, unit_bytes=1))
    assert not ray.is_initialized()  # (the cluster the run started is stopped with it)
    for engine in ("local", "ray"):
        accounting = read_manifest(tmp_path / engine)["accounting"]
        assert (accounting["input_rows"], accounting["in_splits"], accounting["quarantined"]) == (49, 46, 3)
        assert accounting["balanced"]
    assert read_quarantine(tmp_path / "ray") == read_quarantine(tmp_path / "local")
    assert [r["position"]["file"] for r in read_quarantine(tmp_path / "local")] == ["b.parquet", "c.parquet.gz",
                                                                                     "e.parquet"]
