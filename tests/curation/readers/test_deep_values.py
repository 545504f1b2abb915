"""A loaded document's rows travel to another process (a Ray worker) however deep they are nested: a row deeper
than the pickler reaches goes flat and comes back the same, beside the rows that pickle as they are."""

from __future__ import annotations

import math
import pickle

import pytest

from curation.readers.deep_values import Flat, flatten, rebuild
from curation.readers.source import UnreadableRow, _PickledRows


def same(a, b) -> bool:
    """``a == b`` walked without recursion (``==`` on a value thousands of levels deep recurses past the limit)."""
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, list):
            if len(x) != len(y):
                return False
            todo.extend(zip(x, y))
        elif isinstance(x, dict):
            if list(x) != list(y):  # the members' order too
                return False
            todo.extend((x[k], y[k]) for k in x)
        elif isinstance(x, UnreadableRow):
            if (x.error, x.id) != (y.error, y.id):
                return False
            todo.append((x.value, y.value))
        elif isinstance(x, float) and math.isnan(x):
            if not math.isnan(y):
                return False
        elif x != y:
            return False
    return True


def nested(depth: int, leaf="bottom"):
    value = leaf
    for i in range(depth):
        value = {"k": [value, i]} if i % 2 else [value]
    return value


@pytest.mark.parametrize("value", [
    None, 0, -1.5, float("inf"), float("nan"), True, "", "\ud800 lone", 10**400 // 10**399,
    [], {}, [[]], {"": {}}, [1, [2, [3, []]], {"a": None}],
    {"z": 1, "a": [1, {"b": [], "c": {"d": "e"}}], "m": {}},  # members keep their order
    {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}], "score": 4.5},
])
def test_a_value_taken_apart_is_built_again_the_same(value):
    assert same(rebuild(flatten(value)), value)
    assert same(pickle.loads(pickle.dumps(Flat(value))), value)


def test_a_row_deeper_than_the_pickler_reaches_travels_flat_beside_the_others():
    deep = {"conversations": [{"from": "human", "value": nested(6000)}]}
    rows = [{"a": 1}, deep, UnreadableRow(nested(6000, "x"), "names 'a' twice", "row-7"), [1, 2], "text"]
    with pytest.raises(RecursionError):  # (what the pickler alone does with them)
        pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
    back = pickle.loads(pickle.dumps(_PickledRows(rows))).rows()
    assert same(back, rows)


def test_rows_the_pickler_reaches_are_pickled_as_they_are():
    rows = [{"a": nested(50)}, UnreadableRow({"b": 1}, "why")]
    shipped = _PickledRows(rows)
    assert b"curation.readers.deep_values" not in shipped.data
    assert same(shipped.rows(), rows)
