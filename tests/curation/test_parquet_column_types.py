"""Typed inputs (Parquet files, ``save_to_disk`` folders of Arrow) whose columns hold awkward Arrow types never stop
a run: every type Parquet and Arrow hold, as an extra column or nested, and the chat columns in odd but valid
shapes, are curated with every row ending once in a split, ``removed.parquet`` or quarantine.

What stopped runs: a date, timestamp or duration Python's types cannot hold (a year past 9999, ``date32`` near its
limit, ``duration[s]`` of 2**62 s; Arrow stores them) ended the run in a traceback (OverflowError) as the reader made
each row's Python values for its id; a decimal of a negative scale (Arrow holds one, Parquet cannot) ended it as the
splits were written; an Arrow error while the first rows were read was shown as a setting of ``inputs:``."""

from __future__ import annotations

import decimal
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_manifest
from curation.core.temporal import column_values
from tests.curation.runs import curate

N = 12
TURN = pa.struct([("from", pa.string()), ("value", pa.string())])
FAR = (3, 7)  # the rows given a value Python cannot hold


def _turns(i: int) -> list[dict]:
    return [{"from": "human", "value": f"Question number {i}: what is {i} squared, and why does it matter here?"},
            {"from": "gpt", "value": f"The square of {i} is {i * i}; multiplying {i} by itself gives that number."}]


def _table(**extra: pa.Array) -> pa.Table:
    return pa.table({"conversations": pa.array([_turns(i) for i in range(N)], pa.list_(TURN)),
                     "source": ["web"] * N, "score": [4.0 + i / 100 for i in range(N)], **extra})


def _outputs(out: Path) -> tuple[pa.Table, list[dict]]:
    """The rows in the splits and the quarantined records, after checking that every input row is in one place."""
    manifest = read_manifest(out)
    kept = pa.concat_tables([pq.read_table(out / f"{s}.parquet") for s in ("train", "validation", "test")],
                            promote_options="default")
    removed = pq.read_table(out / "removed.parquet").num_rows if (out / "removed.parquet").exists() else 0
    quarantined = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines() if line]
    assert manifest["accounting"]["input_rows"] == kept.num_rows + removed + len(quarantined)
    ids = kept.column("id").to_pylist() + [q["id"] for q in quarantined]
    assert len(set(ids)) == len(ids)
    return kept, quarantined


def _row_number(turns: list[dict]) -> int:
    return int(turns[0]["value"].split()[2].rstrip(":"))


# -- every type as an extra column: carried through ------------------------------------------------------------

def _awkward_columns() -> dict[str, pa.Array]:
    ns = [10**18 + i * 1_000_000_001 for i in range(N)]
    return {
        "ts_tz": pa.array([10**15 + i for i in range(N)], pa.timestamp("us", "Asia/Tokyo")),
        "ts_offset": pa.array([10**9 + i for i in range(N)], pa.timestamp("s", "+05:30")),
        "ts_ns_tz": pa.array(ns, pa.timestamp("ns", "America/New_York")),
        "date64": pa.array([i * 86_400_000 for i in range(N)], pa.date64()),
        "time32": pa.array([i * 1001 for i in range(N)], pa.time32("ms")),
        "time64": pa.array([i * 1001 for i in range(N)], pa.time64("ns")),
        "duration": pa.array([i * 1001 for i in range(N)], pa.duration("ns")),
        "dec128": pa.array([decimal.Decimal(f"{i}.125") for i in range(N)], pa.decimal128(10, 3)),
        "dec256": pa.array([decimal.Decimal("9" * 50 + f".{i % 10}") for i in range(N)], pa.decimal256(60, 1)),
        "float16": pa.array(np.array([i / 3 for i in range(N)], dtype=np.float16)),
        "nothing": pa.nulls(N, pa.null()),
        "dict_str": pa.array([f"tag{i % 3}" for i in range(N)]).dictionary_encode(),
        "large_str": pa.array([f"text {i}" for i in range(N)], pa.large_string()),
        "large_bin": pa.array([f"bin {i}".encode() for i in range(N)], pa.large_binary()),
        "bad_utf8": pa.array([b"\xff\xfe" + bytes([i]) for i in range(N)], pa.binary()),
        "fixed_bin": pa.array([b"\xff\x00\xfd" + bytes([i]) for i in range(N)], pa.binary(4)),
        "map": pa.array([[("a", i), ("b", i + 1)] for i in range(N)], pa.map_(pa.string(), pa.int64())),
        "struct": pa.array([{"x": i, "y": str(i)} for i in range(N)], pa.struct([("x", pa.int64()), ("y", pa.string())])),
        "large_list": pa.array([[str(i)] for i in range(N)], pa.large_list(pa.string())),
        "fixed_list": pa.array([[i, i] for i in range(N)], pa.list_(pa.float32(), 2)),
        "nested_times": pa.array([{"at": ns[i], "d": [i * 1001]} for i in range(N)],
                                 pa.struct([("at", pa.timestamp("ns")), ("d", pa.list_(pa.duration("ms")))])),
        "uint64": pa.array([2**64 - 1 - i for i in range(N)], pa.uint64()),
    }


def test_a_parquet_file_with_every_awkward_column_type_is_curated_whole(tmp_path):
    given = _table(**_awkward_columns())
    pq.write_table(given, tmp_path / "rows.parquet")
    curate(str(tmp_path / "rows.parquet"), tmp_path / "out")
    kept, quarantined = _outputs(tmp_path / "out")
    assert kept.num_rows == N and not quarantined
    written = pq.read_table(tmp_path / "rows.parquet")
    order = np.argsort([_row_number(t) for t in kept.column("conversations").to_pylist()])
    for name in _awkward_columns():
        got, want = kept.column(name).take(order), written.column(name)
        if pa.types.is_map(want.type):  # (written as the list of key/value structs a map is stored as)
            assert column_values(got) == [[{"key": k, "value": v} for k, v in m] for m in column_values(want)]
        elif pa.types.is_fixed_size_binary(want.type):  # (written as binary: the same bytes)
            assert got.equals(want.cast(pa.binary())), name
        else:
            assert got.equals(want), name


# -- the chat column in odd but valid shapes -------------------------------------------------------------------

def _chat_shapes() -> dict[str, tuple[str, pa.Array]]:
    turns = [t for i in range(N) for t in _turns(i)]
    role = pa.array([t["from"] for t in turns])
    text = pa.array([t["value"] for t in turns])
    offsets, large = pa.array(range(0, 2 * N + 1, 2), pa.int32()), pa.array(range(0, 2 * N + 1, 2), pa.int64())
    openai = pa.array([{"human": "user", "gpt": "assistant"}[t["from"]] for t in turns])

    def of(*children, names=("from", "value")):
        return pa.StructArray.from_arrays(list(children), names=list(names))

    return {
        "large_list": ("conversations", pa.LargeListArray.from_arrays(large, of(role, text))),
        "dictionary_from": ("conversations", pa.ListArray.from_arrays(offsets, of(role.dictionary_encode(), text))),
        "dictionary_both": ("conversations", pa.LargeListArray.from_arrays(
            large, of(role.dictionary_encode(), text.dictionary_encode()))),
        "large_string": ("conversations", pa.ListArray.from_arrays(
            offsets, of(role.cast(pa.large_string()), text.cast(pa.large_string())))),
        "binary": ("conversations", pa.ListArray.from_arrays(
            offsets, of(role.cast(pa.binary()), text.cast(pa.large_binary())))),
        "fixed_size_list": ("conversations", pa.array([_turns(i) for i in range(N)], pa.list_(TURN, 2))),
        "extra_turn_fields": ("conversations", pa.ListArray.from_arrays(offsets, of(
            text, role, pa.array([10**18 + k for k in range(2 * N)], pa.timestamp("ns")),
            names=("value", "from", "at")))),
        "maps": ("conversations", pa.array([[list(t.items()) for t in _turns(i)] for i in range(N)],
                                           pa.list_(pa.map_(pa.string(), pa.string())))),
        "messages_large_list": ("messages", pa.LargeListArray.from_arrays(
            large, of(openai.dictionary_encode(), text.cast(pa.large_string()), names=("role", "content")))),
    }


@pytest.mark.parametrize("shape", list(_chat_shapes()))
def test_a_chat_column_in_an_odd_valid_shape_is_read_as_turns(tmp_path, shape):
    name, turns = _chat_shapes()[shape]
    pq.write_table(pa.table({name: turns, "source": ["web"] * N}), tmp_path / "rows.parquet")
    curate(str(tmp_path / "rows.parquet"), tmp_path / "out")
    kept, quarantined = _outputs(tmp_path / "out")
    assert kept.num_rows == N and not quarantined, quarantined[:1]


# -- values Python's types cannot hold: the run goes on ------------------------------------------------------

def _far(values: list, t: pa.DataType, far) -> pa.Array:
    return pa.array([far if i in FAR else v for i, v in enumerate(values)], t)


FAR_COLUMNS = {
    "timestamp_s": lambda: _far([10**9 + i for i in range(N)], pa.timestamp("s"), 10**12),  # year 33658
    "timestamp_before_year_1": lambda: _far([10**9 + i for i in range(N)], pa.timestamp("ms"), -(10**15)),
    "timestamp_tz": lambda: _far([10**15 + i for i in range(N)], pa.timestamp("us", "UTC"), 2**62),
    "date32": lambda: _far(list(range(N)), pa.date32(), 2**31 - 1),
    "date64": lambda: _far([i * 86_400_000 for i in range(N)], pa.date64(), 2**62),
    "duration_s": lambda: _far(list(range(N)), pa.duration("s"), 2**62),
    "duration_ms": lambda: _far(list(range(N)), pa.duration("ms"), -(2**62)),
    "in_struct": lambda: _far([{"t": 10**9 + i} for i in range(N)], pa.struct([("t", pa.timestamp("s"))]),
                              {"t": 10**12}),
    "in_list": lambda: _far([[i] for i in range(N)], pa.list_(pa.date32()), [0, 2**31 - 1]),
    "in_map": lambda: _far([[("k", 10**9 + i)] for i in range(N)], pa.map_(pa.string(), pa.timestamp("s")),
                           [("k", 10**12)]),
}


@pytest.mark.parametrize("kind", list(FAR_COLUMNS))
def test_a_value_python_cannot_hold_does_not_stop_the_run(tmp_path, kind):
    """The other rows are kept, the column as it was; a row holding such a value is kept or quarantined saying
    which column (the reader quarantines it where :mod:`curation.core.temporal` cannot make its Python value)."""
    pq.write_table(_table(when=FAR_COLUMNS[kind]()), tmp_path / "rows.parquet")
    curate(str(tmp_path / "rows.parquet"), tmp_path / "out")
    kept, quarantined = _outputs(tmp_path / "out")
    rows = [_row_number(t) for t in kept.column("conversations").to_pylist()]
    assert sorted(rows + [q["position"]["row"] for q in quarantined]) == list(range(N))
    assert {q["position"]["row"] for q in quarantined} <= set(FAR)
    assert all("column 'when'" in q["error"] and "Python" in q["error"] for q in quarantined)
    given = pq.read_schema(tmp_path / "rows.parquet").field("when").type
    if not pa.types.is_map(given):  # (a map column is written as the list of key/value structs it is stored as)
        assert kept.schema.field("when").type == given


def test_a_quarantined_row_shows_its_far_values_as_stored_and_its_id_does_not_depend_on_the_row_groups(tmp_path):
    """A row quarantined (here: its turns are not UTF-8) that also holds far-out times: its raw record holds them
    whole (as the integers they are stored as), and its id is the same however the file is cut into row groups."""
    texts = [json.dumps(t).encode() for t in (_turns(i) for i in range(N))]
    table = _table(when=FAR_COLUMNS["timestamp_s"](), deep=FAR_COLUMNS["in_map"]())
    table = table.set_column(0, "conversations", pa.array(
        [b"\xff" + t if i in FAR else t for i, t in enumerate(texts)], pa.binary()))
    pq.write_table(table, tmp_path / "one.parquet")
    pq.write_table(table, tmp_path / "groups.parquet", row_group_size=2)
    quarantined = {}
    for name in ("one", "groups"):
        curate(str(tmp_path / f"{name}.parquet"), tmp_path / name)
        quarantined[name] = sorted(_outputs(tmp_path / name)[1], key=lambda q: q["position"]["row"])
    assert [q["position"]["row"] for q in quarantined["one"]] == list(FAR)
    assert [q["id"] for q in quarantined["one"]] == [q["id"] for q in quarantined["groups"]]
    raw = quarantined["one"][0]["raw"]
    stored_ms = str(10**12 * 1000)  # (Parquet keeps timestamp[s] as milliseconds) the count, or a text that holds it
    assert stored_ms in str(raw["when"]) and raw["deep"][0][0] == "k" and stored_ms in str(raw["deep"][0][1])
    assert raw["source"] == "web"
    assert "not UTF-8" in quarantined["one"][0]["error"] or "Python" in quarantined["one"][0]["error"]


def test_the_command_line_finishes_without_a_traceback(tmp_path):
    pq.write_table(_table(when=FAR_COLUMNS["date32"](), ns=pa.array([10**18 + 1] * N, pa.timestamp("ns"))),
                   tmp_path / "rows.parquet")
    run = subprocess.run([sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(tmp_path / "rows.parquet"),
                          "-o", str(tmp_path / "out"), "--set", "report=false", "--set", "checkpoint=false"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-1500:]
    assert read_manifest(tmp_path / "out")["accounting"]["balanced"]


# -- Arrow types Parquet cannot store (a save_to_disk folder) ------------------------------------------------

@pytest.fixture()
def datasets_offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return pytest.importorskip("datasets")


def test_a_decimal_of_negative_scale_is_written_as_the_decimal_that_holds_it(tmp_path, datasets_offline):
    values = [decimal.Decimal(i * 1000 + 1000) for i in range(N)]
    table = _table(thousands=pa.array(values, pa.decimal128(5, -3)),
                   listed=pa.array([[v] for v in values], pa.list_(pa.decimal128(3, -3))),
                   huge=pa.array([v * 10 for v in values], pa.decimal256(76, -4)))
    datasets_offline.Dataset(table).save_to_disk(str(tmp_path / "saved"))
    curate(str(tmp_path / "saved"), tmp_path / "out")
    kept, quarantined = _outputs(tmp_path / "out")
    assert kept.num_rows == N and not quarantined
    assert kept.schema.field("thousands").type == pa.decimal128(8, 0)
    assert kept.schema.field("listed").type == pa.list_(pa.decimal128(6, 0))
    assert kept.schema.field("huge").type == pa.string()  # (80 digits: more than any decimal holds)
    by_row = {_row_number(t): i for i, t in enumerate(kept.column("conversations").to_pylist())}
    got = kept.column("thousands").to_pylist()
    assert [got[by_row[i]] for i in range(N)] == values
    assert decimal.Decimal(kept.column("huge").to_pylist()[by_row[2]]) == values[2] * 10


# -- an Arrow error while the input's first rows are read ----------------------------------------------------

def test_an_arrow_error_reading_the_first_rows_names_the_input_not_an_inputs_setting(tmp_path, monkeypatch):
    import curation.inputs
    from curation.config import load_config
    from curation.pipeline import InputError, open_source

    pq.write_table(_table(), tmp_path / "rows.parquet")

    def unreadable(source, sample):
        raise pa.ArrowInvalid("Casting from timestamp[ns] to timestamp[us] would lose data: 1\nsecond line")

    monkeypatch.setattr(curation.inputs, "_read_first_records", unreadable)
    with pytest.raises(InputError) as caught:
        open_source(str(tmp_path / "rows.parquet"), load_config(None, {}))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'rows.parquet'}: cannot read") and "would lose data" in message
    assert "\n" not in message and "inputs:" not in message
