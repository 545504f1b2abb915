"""The one record layout every Ray Data operation of the Ray engine reads and writes.

Every dataset of the engine has the same Arrow schema, so that any two can be unioned and grouped together
(a join is a union followed by a groupby on ``part``):

``part``  int64   the partition the record goes to at the next shuffle (``groupby("part").map_groups``)
``kind``  int8    what the record is (:class:`Kind`)
``pos``   int64   the row's global input position: ``unit << 32 | index in unit`` (input order = ``pos`` order)
``a``, ``b`` int64, ``h`` uint64, ``f`` float64: small per-kind fields (documented at each kind)
``data``  binary  a pickled row / removal / quarantine entry / stats dict, or raw text bytes

Rows travel pickled, so that every value keeps its exact Python type from reading to writing, and the row
level code of the local engine (``validate_record``, ``Normalize``, ``Filters``, ``resolve_clusters`` ...)
runs unchanged on them.
"""

from __future__ import annotations

import pickle
from enum import IntEnum
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = pa.schema(
    [
        ("part", pa.int64()),
        ("kind", pa.int8()),
        ("pos", pa.int64()),
        ("a", pa.int64()),
        ("b", pa.int64()),
        ("h", pa.uint64()),
        ("f", pa.float64()),
        ("data", pa.large_binary()),
    ]
)

UNIT_SHIFT = 32  # pos = unit << 32 | index of the record in its input unit


class Kind(IntEnum):
    ROW = 0  # data: pickled row dict (with ``id`` once ids are assigned); h: content hash before ids
    REMOVED = 1  # data: pickled removal record (``Removal.as_record(stage)``); a: stage index
    QUARANTINE = 2  # data: pickled quarantine entry; h: content hash; a: line index in the unit (text inputs)
    STAT = 3  # data: pickled dict of counts, merged on the driver
    META = 4  # data: pickled per-input-unit facts (line counts, extra columns, their types)
    BAND = 5  # LSH: a = band, h = band key
    CANDIDATE = 6  # LSH candidate pair: pos = lo, a = hi
    TEXT = 7  # data: the text (or signature bytes) a pair check needs
    HALF = 8  # candidate pair on its way to verification: pos = hi, a = lo, data = lo's text
    EDGE = 9  # verified pair / graph edge: pos = lo, a = hi, f = similarity; b = component label (keep step)
    LABEL = 10  # component label: pos = node, a = smallest pos of its component
    MEMBER = 11  # a row of a near-duplicate component: a = label, data = pickled row
    KEY = 12  # ordering key for sampling and splitting: h = seeded rank, a = group, data = tie-break text


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=5)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads ids/hashes evenly over partitions (uint64 arithmetic wraps)."""
    z = np.asarray(values).astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def partition_of(values, parts: int) -> np.ndarray:
    """Partition (0 .. parts-1) of each uint64/int64 key."""
    return (mix64(np.asarray(values)) % np.uint64(max(1, parts))).astype(np.int64)


def table(
    kind: int | np.ndarray,
    part: np.ndarray | Sequence[int],
    pos: np.ndarray | Sequence[int] | None = None,
    a=None,
    b=None,
    h=None,
    f=None,
    data: Sequence[bytes | None] | None = None,
) -> pa.Table:
    """A record table from columns (scalars broadcast; missing fields are 0 / empty)."""
    part = np.asarray(part, dtype=np.int64)
    n = len(part)

    def col(values, dtype, default=0):
        if values is None:
            return np.full(n, default, dtype=dtype)
        arr = np.asarray(values)
        if arr.ndim == 0:
            return np.full(n, arr, dtype=dtype)
        return arr.astype(dtype, copy=False)

    payload = pa.array(data if data is not None else [b""] * n, type=pa.large_binary())
    return pa.Table.from_arrays(
        [
            pa.array(part, pa.int64()),
            pa.array(col(kind, np.int8), pa.int8()),
            pa.array(col(pos, np.int64), pa.int64()),
            pa.array(col(a, np.int64), pa.int64()),
            pa.array(col(b, np.int64), pa.int64()),
            pa.array(col(h, np.uint64), pa.uint64()),
            pa.array(col(f, np.float64, 0.0), pa.float64()),
            payload,
        ],
        schema=SCHEMA,
    )


def empty() -> pa.Table:
    return SCHEMA.empty_table()


class Builder:
    """Collects records one by one (row-level steps); ``build()`` gives the table."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {name: [] for name in SCHEMA.names}

    def add(self, kind: int, part: int, pos: int = 0, a: int = 0, b: int = 0, h: int = 0, f: float = 0.0,
            data: bytes = b"") -> None:
        c = self.cols
        c["part"].append(part)
        c["kind"].append(int(kind))
        c["pos"].append(pos)
        c["a"].append(a)
        c["b"].append(b)
        c["h"].append(h)
        c["f"].append(f)
        c["data"].append(data)

    def stat(self, stats: dict[str, Any]) -> None:
        self.add(Kind.STAT, 0, data=dumps(stats))

    def __len__(self) -> int:
        return len(self.cols["part"])

    def build(self) -> pa.Table:
        c = self.cols
        return table(
            np.array(c["kind"], dtype=np.int8), np.array(c["part"], dtype=np.int64), np.array(c["pos"], dtype=np.int64),
            np.array(c["a"], dtype=np.int64), np.array(c["b"], dtype=np.int64), np.array(c["h"], dtype=np.uint64),
            np.array(c["f"], dtype=np.float64), c["data"],
        )  # fmt: skip


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return empty()
    return pa.concat_tables(tables).combine_chunks()


def of_kind(t: pa.Table, *kinds: int) -> pa.Table:
    if t.num_rows == 0:
        return t
    mask = pc.is_in(t.column("kind"), value_set=pa.array([int(k) for k in kinds], pa.int8()))
    return t.filter(mask)


def column(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy()


def payloads(t: pa.Table) -> list[bytes]:
    return t.column("data").to_pylist()
