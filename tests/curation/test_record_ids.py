"""Ids of rows read from tables and JSON documents: their canonical JSON (``curation.contract.canonical_json``)
is written by orjson where that loses nothing, by Python's json elsewhere, and tells every record apart."""

from __future__ import annotations

import json
import math

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.contract import canonical_json, orjson_dumps, record_id
from tests.curation.runs import curate

# every JSON value Python's json reads, and more: lone surrogates, integers past 64 bits, NaN and the infinities
TEXT = st.text(st.characters(exclude_categories=()) | st.sampled_from("\ud800\udfff\x00é"), max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=20)
RECORDS = st.dictionaries(TEXT, VALUES, max_size=5)


def _typed(value):
    """``value`` with each scalar tagged by its type and NaN as a tag, so that 1, 1.0, True, NaN and None differ
    and compare equal to themselves."""
    if isinstance(value, dict):
        return {"d": sorted((k, _typed(v)) for k, v in value.items())}
    if isinstance(value, list):
        return ["l", [_typed(v) for v in value]]
    if isinstance(value, float):
        return ["f", "nan" if math.isnan(value) else repr(value)]
    return [type(value).__name__, value]


def _read(data: bytes):
    return json.loads(data.decode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None)
@given(RECORDS)
def test_the_canonical_json_reads_back_as_the_record(record):
    """Lossless: reading the bytes back gives the record, every type and NaN included, so two records that differ
    never share them (nor, but by a 64-bit hash collision, an id)."""
    assert _typed(_read(canonical_json(record))) == _typed(record)


@settings(max_examples=100, deadline=None)
@given(RECORDS)
def test_key_order_does_not_change_the_id(record):
    assert record_id(dict(reversed(list(record.items())))) == record_id(record)


@settings(max_examples=100, deadline=None)
@given(RECORDS)
def test_a_records_raw_json_reads_back_as_the_record_in_its_key_order(record):
    """The raw JSON a JSON document's row keeps (what validation reads record by record, what quarantine shows):
    orjson's exactly where it loses nothing, else None (Python's json writes it)."""
    data = orjson_dumps(record)
    assert (data is None) == _needs_python_json(record), record
    if data is not None:
        back = _read(data)
        assert _typed(back) == _typed(record) and list(back) == list(record)


def _needs_python_json(value) -> bool:
    """Does ``value`` hold what orjson loses or cannot write: NaN or an infinity, a lone surrogate (in a key or a
    string), an integer outside 64 bits?"""
    if isinstance(value, dict):
        return any(_needs_python_json(k) or _needs_python_json(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_needs_python_json, value))
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return not -(2**63) <= value < 2**64
    return False


def test_orjson_writes_a_plain_record_and_python_json_the_others():
    plain = {"b": [1, 2.5, None, True], "a": "é"}
    assert canonical_json(plain) == orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    for record in ({"score": math.nan}, {"x": [math.inf]}, {"x": "\ud800"}, {"n": 2**64}):
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
        assert canonical_json(record) == text.encode("utf-8", "surrogatepass"), record
        assert orjson_dumps(record) is None


def test_nan_and_null_are_told_apart():
    """orjson writes NaN and the infinities as null: records that differ only there keep different ids."""
    ids = {record_id({"score": v}) for v in (None, math.nan, math.inf, -math.inf)}
    assert len(ids) == 4


def test_a_parquet_row_and_the_same_row_of_a_json_document_have_one_id(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "Café?"}, {"from": "gpt", "value": "Oui, un café."}],
             "source": "s", "score": 4.5},
            {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}], "source": None,
             "score": None}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    (tmp_path / "rows.json").write_text(json.dumps(rows, indent=2))
    ids = {}
    for name in ("rows.parquet", "rows.json"):
        out = tmp_path / f"out-{name}"
        curate(str(tmp_path / name), out)
        ids[name] = sorted(pq.read_table(out / "removed.parquet").column("id").to_pylist()
                           + [i for s in ("train", "validation", "test")
                              for i in pq.read_table(out / f"{s}.parquet").column("id").to_pylist()])
    assert ids["rows.parquet"] == ids["rows.json"] == sorted(record_id(r) for r in rows)
