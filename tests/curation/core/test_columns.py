"""curation.core.columns: constants built at import."""

import pyarrow as pa

from curation.core.columns import WHITESPACE


def test_whitespace_is_every_space_code_point():
    assert WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


# typed_array: parsed JSON values share an Arrow type unless a bool sits where Arrow typed a number

import json

import pytest
from hypothesis import given, settings, strategies as st

from curation.core.columns import typed_array


def _bool_paths_of_values(values):
    """Every path (keys, ``[]`` for a list's items) at which a bool sits, walking every value."""
    out, todo = set(), [(v, ()) for v in values]
    while todo:
        v, path = todo.pop()
        if isinstance(v, bool):
            out.add(path)
        elif isinstance(v, dict):
            todo.extend((item, (*path, k)) for k, item in v.items())
        elif isinstance(v, list):
            todo.extend((item, (*path, "[]")) for item in v)
    return out


def _bool_paths_of_type(t):
    out, todo = set(), [(t, ())]
    while todo:
        t, path = todo.pop()
        if pa.types.is_boolean(t):
            out.add(path)
        elif pa.types.is_struct(t):
            todo.extend((t.field(i).type, (*path, t.field(i).name)) for i in range(t.num_fields))
        elif pa.types.is_list(t) or pa.types.is_large_list(t):
            todo.append((t.value_type, (*path, "[]")))
    return out


_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]),
                    st.sampled_from(["x", ""]))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "[]"]), inner, max_size=3)), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["n", "meta", "score"]), _VALUES, max_size=3), min_size=1, max_size=4))
def test_rows_share_a_type_unless_arrow_took_a_bool_as_a_number(rows):
    """Only the values on the paths Arrow typed as numbers are looked at; the answer is the one a walk of every
    value gives (a bool anywhere Arrow did not type a bool: no shared type)."""
    try:
        inferred = pa.array(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        inferred = None
    expected = inferred is not None and not (
        inferred.type.num_fields and _bool_paths_of_values(rows) - _bool_paths_of_type(inferred.type))
    got = typed_array(rows)
    assert (got is not None) == expected, json.dumps(rows)
    if got is not None:
        assert got.to_pylist() == inferred.to_pylist()


@pytest.mark.parametrize("rows, shared", [
    ([{"meta": {"n": True}}, {"meta": {"n": 0.5}}], False),
    ([{"l": [1.5, True]}], False),
    ([{"l": [True, 1.5]}], None),  # (refused by Arrow: a bool first, then a float)
    ([{"l": [[{"x": 0.5}], [{"x": False}]]}], False),
    ([{"score": 4.5, "conversations": [{"from": "human", "value": "hi", "flag": True}]}], True),
    ([{b"n": True}, {"n": 0.5}], False),  # (a bytes key: Arrow's field of that name)
])
def test_a_bool_beside_a_float_at_any_depth_is_no_shared_type(rows, shared):
    try:
        pa.array(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        assert shared is None
        return
    assert (typed_array(rows) is not None) is shared


# take_rows / RowTexts / conversation_chars on chunked columns: what Arrow's own take and text_key give

from curation.core.columns import RowTexts, TURNS, conversation_chars, take_rows, text_key


def _chunked_conversations(sizes):
    chunks, k = [], 0
    for size in sizes:
        rows = []
        for _ in range(size):
            rows.append(None if k % 7 == 6 else [{"from": "human", "value": f"q{k} ünï"}, {"from": "gpt", "value": "a" * k}])
            k += 1
        chunks.append(pa.array(rows, TURNS))
    return pa.chunked_array(chunks, TURNS)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=5), st.data())
def test_take_rows_takes_what_arrow_takes_from_any_chunking(sizes, data):
    column = _chunked_conversations(sizes)
    rows = data.draw(st.lists(st.integers(0, max(len(column) - 1, 0)), max_size=12)) if len(column) else []
    expected = column.take(pa.array(rows, pa.int64())).combine_chunks()
    assert take_rows(column, rows).equals(expected)
    assert take_rows(column.combine_chunks(), rows).equals(expected)
    for key in ("conversation", "first_human", "all_human"):
        assert RowTexts(column, key).take(pa.array(rows, pa.int64())).equals(text_key(expected, key))
    assert conversation_chars(column).tolist() == conversation_chars(column.combine_chunks()).tolist()
