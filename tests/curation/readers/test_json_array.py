"""A `.json` document that is one array, read a batch of rows at a time (curation.readers.json_array): its check
says yes exactly where `json.loads` reads the document as an array, its elements are the array's, and a run reads
the same rows, ids and quarantine as the document read whole."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import curation.readers as readers
import curation.readers.json_array as json_array
from curation.readers.json_array import MAX_DEPTH, _element_spans, array_elements
from tests.curation.runs import curate

TEXT = st.text(st.characters(exclude_categories=("Cs",)) | st.sampled_from('"\\\t\n\x00é/'), max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                      max_leaves=12)
# what a document's bytes may hold besides its values: every character the grammar gives a meaning, and others
NOISE = st.sampled_from(list('[]{},:"\\ \t\n\r-+.eE0123456789tfnNaIuxy/') + ["\x00", "é", "\\u", "\\ud800", "\ufeff"])


def _json_ok(doc: bytes):
    """What `json.loads` reads as a whole document (the reader's way: byte-order marks stripped, strict off), or
    None where it refuses it."""
    try:
        return json.loads(doc.decode("utf-8").lstrip("\ufeff"), strict=False)
    except (ValueError, RecursionError):
        return None


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _check(doc: bytes) -> None:
    start = 0
    while doc.startswith(b"\xef\xbb\xbf", start):
        start += 3
    count, starts, ends = _element_spans(np.frombuffer(doc, np.uint8), start, MAX_DEPTH)
    whole = _json_ok(doc)
    expected = isinstance(whole, list) and _depth(whole) <= MAX_DEPTH
    assert (count >= 0) == expected, (doc, count)
    if count >= 0:
        elements = [json.loads(doc[a:b].decode("utf-8"), strict=False) for a, b in zip(starts[:count], ends[:count])]
        assert _same(elements, whole)


@settings(max_examples=250, deadline=None)
@given(st.lists(VALUES, max_size=5), st.sampled_from([None, 1, 2]), st.booleans())
def test_a_valid_array_is_found_with_its_elements(values, indent, ascii_only):
    _check(json.dumps(values, indent=indent, ensure_ascii=ascii_only).encode("utf-8"))


@settings(max_examples=400, deadline=None)
@given(st.lists(VALUES, max_size=4), st.lists(st.tuples(st.integers(0, 10_000), NOISE), min_size=1, max_size=3),
       st.integers(0, 2))
def test_a_damaged_document_is_refused_exactly_where_json_refuses_it(values, edits, cut):
    """Characters put in anywhere (or the end cut off): the check and `json.loads` agree, document by document."""
    text = json.dumps(values)
    for at, noise in edits:
        at %= len(text) + 1
        text = text[:at] + noise + text[at:]
    doc = text.encode("utf-8", "surrogatepass")
    try:
        doc.decode("utf-8")
    except UnicodeDecodeError:  # (a lone surrogate put in raw: no UTF-8, read whole)
        return
    _check(doc[:len(doc) - cut] if cut else doc)


@pytest.mark.parametrize("doc", [
    b"[]", b" [ ] ", b"\xef\xbb\xbf\xef\xbb\xbf[1]", b"[1,2,]", b"[01]", b"[1.]", b"[1e]", b"[-]", b"[.5]", b"[+1]",
    b"[-Infinity, NaN, Infinity]", b"[-NaN]", b'["\\u12g4"]', b'["\\x"]', b'["a\tb\x00"]', b'[{"a":1,}]',
    b'[{"a" 1}]', b'[{1:2}]', b"[1] x", b"[1]]", b"[[1]", b'{"rows": [1]}', b"1", b"",
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
])
def test_edge_documents(doc):
    _check(doc)


def _rows_doc() -> list:
    turns = lambda q: [{"from": "human", "value": q}, {"from": "gpt", "value": f"An answer to {q} that is long."}]  # noqa: E731
    rows = [{"conversations": turns(f"question {i}?"), "source": "s", "score": 4.0} for i in range(50)]
    rows[3]["score"] = float("nan")
    rows[4]["conversations"][0]["value"] = "lone \ud800 surrogate and\ta tab"
    rows[5] = 1
    rows[6] = {}
    rows[7]["score"] = 10**40
    return rows


def _document(tmp_path, rows, extra: bytes = b"") -> str:
    text = json.dumps(rows, indent=1)
    # a row that names a key twice, which json reads as its last value and the reader quarantines
    text = text.replace('"source": "s",', '"source": "s", "source": "t",', 1)
    path = tmp_path / "rows.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8") + extra)
    return str(path)


def _outputs(out) -> dict:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix in (".parquet", ".jsonl")}


@pytest.fixture()
def small_documents_streamed(monkeypatch):
    """Documents of any size read a batch at a time (a real one is 16 MB or more)."""
    monkeypatch.setattr(json_array, "STREAM_BYTES", 0)


def test_a_run_reads_the_same_rows_ids_and_quarantine_as_the_document_read_whole(tmp_path, monkeypatch,
                                                                                    small_documents_streamed):
    path = _document(tmp_path, _rows_doc())
    calls = []
    streamed_rows = readers._array_rows
    monkeypatch.setattr(readers, "_array_rows", lambda *a: calls.append(1) or streamed_rows(*a))
    streamed = curate(path, tmp_path / "streamed")
    assert calls and isinstance(streamed_rows(Path(path).read_bytes(), None, False), json_array.ArrayElements)
    monkeypatch.setattr(readers, "_array_rows", lambda *a: None)  # the document read whole
    whole = curate(path, tmp_path / "whole")
    assert _outputs(tmp_path / "streamed") == _outputs(tmp_path / "whole")
    assert streamed["accounting"] == whole["accounting"]
    assert streamed["accounting"]["quarantined"] == 3  # the key named twice, the 1, the {}


def test_the_rows_are_parsed_as_they_are_read():
    data = json.dumps([{"a": i} for i in range(10)]).encode()
    rows = array_elements(data, readers._KeyCheck, readers._marked)
    assert len(rows) == 10 and rows[2:5] == [{"a": 2}, {"a": 3}, {"a": 4}] and rows[-1] == {"a": 9}
    assert rows[::3] == [{"a": 0}, {"a": 3}, {"a": 6}, {"a": 9}] and rows[5:5] == []
    again = pickle.loads(pickle.dumps(rows))  # (as a Ray worker gets it)
    assert again[0:10] == rows[0:10]


def test_a_document_that_breaks_is_still_read_whole_and_salvaged(tmp_path, small_documents_streamed):
    """A document that breaks part-way is no valid array: read whole, its rows before the break kept and the rest
    one quarantined record, as before."""
    path = _document(tmp_path, _rows_doc()[:10])
    with open(path, "rb+") as fh:
        data = fh.read()
        fh.seek(0)
        fh.write(data[:-40])
        fh.truncate()
    manifest = curate(path, tmp_path / "out")
    accounting = manifest["accounting"]
    assert accounting["quarantined"] >= 1 and accounting["input_rows"] - accounting["quarantined"] >= 5, accounting


def test_a_small_document_is_read_whole():
    data = json.dumps([{"a": 1}]).encode()
    assert readers._array_rows(data, None, False) is None
    assert readers._array_rows(data + b" " * json_array.STREAM_BYTES, None, False) is not None
