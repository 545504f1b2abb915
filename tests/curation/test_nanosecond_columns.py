"""Typed inputs (Parquet) with nanosecond times: ``timestamp[ns]``, ``time64[ns]``, ``duration[ns]`` holding values
finer than a microsecond, at the top level or nested, as pandas writes its timestamps. Python's datetime types hold
microseconds, so Arrow will not make Python values of them without pandas; that ended the whole run ("inputs: ...
Install pandas ..."). The run goes on, the columns are carried as they were, and a row's id depends on the row
alone (:mod:`curation.core.temporal`)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import record_id
from curation.core.temporal import column_values, rows_as_python
from tests.curation.runs import curate

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
N = 24


def _turns(i: int) -> list[dict]:
    return [{"from": "human", "value": f"What is {i} times three, plus seven more?"},
            {"from": "gpt", "value": f"It is {3 * i + 7}, worked out step by step."}]


def nanosecond_table(n: int = N) -> pa.Table:
    return pa.table({
        "conversations": pa.array([_turns(i) for i in range(n)], TURNS),
        "ts": pa.array([10**18 + i * 1_000_000_001 if i % 3 else None for i in range(n)], pa.timestamp("ns")),
        "t64": pa.array([i * 7 for i in range(n)], pa.time64("ns")),
        "dur": pa.array([i * 1001 for i in range(n)], pa.duration("ns")),
        "tstz": pa.array([i * 5 for i in range(n)], pa.timestamp("ns", tz="Europe/Paris")),
        "huge": pa.array([2**62 + i for i in range(n)], pa.timestamp("ns")),
        "nested": pa.array([{"at": i * 3, "tags": [i, i + 1]} for i in range(n)],
                           pa.struct([("at", pa.timestamp("ns")), ("tags", pa.list_(pa.duration("ns")))])),
        "lst": pa.array([[i * 11] for i in range(n)], pa.large_list(pa.timestamp("ns"))),
        "mp": pa.array([[("k", i * 13)] for i in range(n)], pa.map_(pa.string(), pa.time64("ns"))),
    })


def _kept(out: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(out / f"{s}.parquet") for s in ("train", "validation", "test")],
                            promote_options="default")


def _cli_curate(spec: Path, out: Path) -> dict:
    """`tome curate` in a process of its own: pandas is not loaded there (the reader keeps Arrow from loading it),
    as in any local run, where Arrow refuses a value finer than a microsecond rather than make a pandas object."""
    run = subprocess.run([sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(spec), "-o", str(out),
                          "--set", "report=false", "--set", "checkpoint=false"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-1500:]
    from curation.contract import read_manifest

    manifest = read_manifest(out)
    assert manifest["accounting"]["balanced"]
    return manifest


def test_a_parquet_file_of_nanosecond_times_is_curated_with_its_columns_as_they_were(tmp_path):
    given = nanosecond_table()
    pq.write_table(given, tmp_path / "rows.parquet")
    manifest = _cli_curate(tmp_path / "rows.parquet", tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == N
    kept = _kept(tmp_path / "out")
    for name in ("ts", "t64", "dur", "tstz", "huge", "nested", "lst", "mp"):
        if name != "mp":  # (a map column is written as the list of key/value structs it is stored as)
            assert kept.schema.field(name).type == given.schema.field(name).type, name
        # the same values, row for row (matched by the turns' numbers, which are unique)
        by_turns = dict(zip(map(json.dumps, given.column("conversations").to_pylist()), column_values(given.column(name))))
        got = zip(kept.column("conversations").to_pylist(), column_values(kept.column(name)))
        assert all(_pairs(by_turns[json.dumps(c)]) == _pairs(v) for c, v in got), name


def test_ids_are_the_same_with_pandas_loaded_or_not(tmp_path):
    """A process with pandas loaded (this one; a Ray worker) gives each row the id a local run's reader gives it."""
    pytest.importorskip("pandas")
    table = nanosecond_table().select(["conversations", "dur", "tstz"])
    table = table.set_column(1, "dur", pa.array([i * 1000 for i in range(N)], pa.duration("ns")))  # whole microseconds
    pq.write_table(table, tmp_path / "rows.parquet")
    _cli_curate(tmp_path / "rows.parquet", tmp_path / "alone")
    curate(str(tmp_path / "rows.parquet"), tmp_path / "here")
    assert sorted(_kept(tmp_path / "alone").column("id").to_pylist()) == sorted(_kept(tmp_path / "here").column("id").to_pylist())


def _pairs(value):
    """A map's value as its key/value pairs (read back from the list of structs it was written as)."""
    if isinstance(value, list) and value and isinstance(value[0], dict) and set(value[0]) == {"key", "value"}:
        return [(d["key"], d["value"]) for d in value]
    return value


def test_ids_do_not_depend_on_the_batches_the_rows_are_read_in(tmp_path):
    pq.write_table(nanosecond_table(), tmp_path / "rows.parquet")
    from curation.config import load_config
    from curation.pipeline import run_curation

    ids = []
    for rows in (1, 7, 1000):
        out = tmp_path / f"out{rows}"
        run_curation(str(tmp_path / "rows.parquet"), out,
                     load_config(None, {"report": False, "checkpoint": False, "engine": {"batch_rows": rows}}))
        ids.append(sorted(_kept(out).column("id").to_pylist()))
    assert ids[0] == ids[1] == ids[2] and len(set(ids[0])) == N


def test_whole_microseconds_are_pythons_own_values_with_pandas_loaded_or_not():
    """A value that is a whole number of microseconds is the ``datetime``/``time``/``timedelta`` Arrow makes of it
    where pandas is not loaded (a local run's reader), so those rows keep the ids they had there; where pandas is
    loaded (a Ray worker; this test process) Arrow makes pandas ``Timedelta`` objects, whose text differs
    (``0 days 00:00:00.000003``), and a row with a ``duration[ns]`` column got another id on each engine."""
    pytest.importorskip("pandas")
    table = pa.table({"ts": pa.array([1_000, None], pa.timestamp("ns")),
                      "d": pa.array([3_000, 0], pa.duration("ns")),
                      "n": pa.array([{"t": 4_000}] * 2, pa.struct([("t", pa.time64("ns"))]))})
    assert rows_as_python(table) == [
        {"ts": dt.datetime(1970, 1, 1, 0, 0, 0, 1), "d": dt.timedelta(microseconds=3), "n": {"t": dt.time(0, 0, 0, 4)}},
        {"ts": None, "d": dt.timedelta(0), "n": {"t": dt.time(0, 0, 0, 4)}},
    ]
    assert [type(v) for v in rows_as_python(table)[0].values()] == [dt.datetime, dt.timedelta, dict]
    assert record_id(rows_as_python(table)[0]) == record_id(
        {"ts": dt.datetime(1970, 1, 1, 0, 0, 0, 1), "d": dt.timedelta(microseconds=3), "n": {"t": dt.time(0, 0, 0, 4)}})


@pytest.mark.parametrize("arrow_type,value,expected", [
    (pa.timestamp("ns"), 1_000_000_001, "1970-01-01 00:00:01.000000001"),
    (pa.timestamp("ns"), -1, "1969-12-31 23:59:59.999999999"),
    (pa.timestamp("ns", tz="UTC"), 1_000_000_001, "1970-01-01 00:00:01.000000001+00:00"),
    (pa.time64("ns"), 3_600_000_000_007, "01:00:00.000000007"),
    (pa.duration("ns"), 86_400_000_000_005, "1 day, 0:00:00.000000005"),
    (pa.timestamp("ns"), 2_000, dt.datetime(1970, 1, 1, 0, 0, 0, 2)),
])
def test_each_nanosecond_value_reads_as_its_text_to_the_nanosecond(arrow_type, value, expected):
    assert column_values(pa.array([value, None], arrow_type)) == [expected, None]


def test_a_time_of_day_past_midnight_is_its_count_of_nanoseconds():
    """A ``time64`` past 24 hours (Arrow stores one; Python's ``time`` cannot hold it): the count, as it is stored."""
    value = 100 * 3600 * 10**9 + 1
    assert column_values(pa.array([value], pa.time64("ns"))) == [f"{value} ns"]


def test_a_timestamp_in_a_zone_this_machine_does_not_know_is_the_instant_and_the_zones_name(tmp_path):
    """Arrow keeps any zone name; converting a value of an unknown one ended the run in a traceback."""
    values = column_values(pa.array([1_000_000, None], pa.timestamp("ms", tz="Nowhere/Atlantis")))
    assert values == ["1970-01-01 00:16:40 UTC, zone 'Nowhere/Atlantis'", None]
    table = pa.table({"conversations": pa.array([_turns(i) for i in range(4)], TURNS),
                      "at": pa.array([i * 1001 for i in range(4)], pa.timestamp("us", tz="Nowhere/Atlantis"))})
    pq.write_table(table, tmp_path / "rows.parquet")
    manifest = curate(str(tmp_path / "rows.parquet"), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 4
    assert _kept(tmp_path / "out").schema.field("at").type == pa.timestamp("us", tz="Nowhere/Atlantis")


def test_a_quarantined_row_shows_its_nanosecond_values_as_text(tmp_path):
    """A row quarantined for a string that is not UTF-8 is shown as its values: its nanosecond times as text."""
    table = pa.table({"conversations": pa.array([_turns(0), _turns(1)], TURNS),
                      "ts": pa.array([1, 2], pa.timestamp("ns")),
                      "txt": pa.array([b"fine", b"\xff"], pa.binary()).view(pa.string())})
    pq.write_table(table, tmp_path / "rows.parquet")
    manifest = curate(str(tmp_path / "rows.parquet"), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 1
    [record] = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert record["raw"]["ts"] == "1970-01-01 00:00:00.000000002"
    assert "not UTF-8" in record["error"]


@pytest.mark.slow
def test_the_ray_engine_gives_the_local_engines_rows_and_ids(ray_cluster, tmp_path):
    from curation.config import load_config
    from curation.engines.ray import RayOptions, run_curation_ray
    from curation.pipeline import run_curation
    from tests.curation.engines.test_ray_parity_inputs import assert_same_content

    pq.write_table(nanosecond_table(), tmp_path / "rows.parquet")
    config = {"report": False, "checkpoint": False, "engine": {"batch_rows": 5}}
    run_curation(str(tmp_path / "rows.parquet"), tmp_path / "local", load_config(None, config))
    run_curation_ray(str(tmp_path / "rows.parquet"), tmp_path / "ray", load_config(None, config),
                     RayOptions(unit_bytes=3000, unit_records=7))
    assert_same_content(tmp_path / "local", tmp_path / "ray")
