"""Temporal values of a typed input that Arrow will not, or should not, make Python values of, for a row's id.

A row's id is the hash of its canonical JSON, made from the row as Python values (``Table.to_pylist``,
:func:`curation.contract.record_id`). Two kinds of temporal column stopped that, and with it the whole run:

* nanoseconds: ``timestamp[ns]``, ``time64[ns]``, ``duration[ns]`` (pandas writes its timestamps so: a Parquet
  file from ``DataFrame.to_parquet`` holds them). Python's ``datetime``, ``time`` and ``timedelta`` hold
  microseconds, and Arrow refuses a finer value unless pandas is imported to make ``Timestamp`` objects, which the
  reader does not do (its start-up is kept short): the run ended, as the input's error, advising to install pandas.
  Where pandas is loaded (a Ray worker) Arrow makes pandas objects of every nanosecond value, and a ``Timedelta``'s
  text differs from a ``timedelta``'s: a row with a ``duration[ns]`` column got another id on each engine.
* a timestamp whose time zone is no zone this machine knows (Arrow keeps any name): a traceback.

:func:`rows_as_python` makes those values itself, each from the value alone (never from the rows beside it in
its batch: ids do not depend on how the input is cut, nor on pandas being loaded). A nanosecond value that is a
whole number of microseconds is what Arrow makes of it without pandas (so such a row keeps the id a local run
gave it); a finer one is the same value's text to the nanosecond (``2001-09-09 01:46:40.000000001``); a time of
day outside 0-24 h (Arrow stores one; Python would wrap it past midnight) its count (``360000000000001 ns``); a
timestamp in an unknown zone the instant in UTC and the zone's name (``1970-01-01 00:00:01 UTC, zone
'Nowhere/Atlantis'``). The columns themselves are carried as they were read, types and values untouched."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import pyarrow as pa

Convert = Callable[[Any], Any]

NANOS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
NANOS_PER_SECOND = 10**9
NANOS_PER_DAY = 86_400 * NANOS_PER_SECOND


@lru_cache(maxsize=None)
def _known_zone(tz: str) -> bool:
    try:
        pa.scalar(0, pa.timestamp("s", tz)).as_py()
    except Exception:  # noqa: BLE001 - pytz's or zoneinfo's own error for a name they do not know
        return False
    return True


def _own(t: pa.DataType) -> bool:
    """Is ``t`` a temporal type whose values this module makes (see the module)?"""
    if pa.types.is_timestamp(t):
        return t.unit == "ns" or (t.tz is not None and not _known_zone(t.tz))
    return (pa.types.is_time64(t) or pa.types.is_duration(t)) and t.unit == "ns"


def _children(t: pa.DataType) -> list[pa.Field]:
    if pa.types.is_struct(t):
        return [t.field(i) for i in range(t.num_fields)]
    if pa.types.is_map(t):
        return [t.key_field, t.item_field]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t) \
            or pa.types.is_large_list_view(t):
        return [t.value_field]
    return []


def holds_own(t: pa.DataType) -> bool:
    """Does a value of type ``t`` hold, at any depth, a temporal value this module makes?"""
    if pa.types.is_dictionary(t):
        return holds_own(t.value_type)
    return _own(t) or any(holds_own(f.type) for f in _children(t))


def _as_integers(t: pa.DataType) -> pa.DataType:
    """``t`` with each type this module makes values of an ``int64`` (their storage: the cast copies nothing)."""
    if _own(t):
        return pa.int64()
    if pa.types.is_dictionary(t):
        return _as_integers(t.value_type)  # (decoded: the values, as to_pylist gives them)
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_as_integers(f.type)) for f in _children(t)])
    if pa.types.is_map(t):
        return pa.map_(t.key_field.with_type(_as_integers(t.key_type)), t.item_field.with_type(_as_integers(t.item_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_as_integers(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_as_integers(t.value_type)), t.list_size)
    if pa.types.is_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(t.value_field.with_type(_as_integers(t.value_type)))
    return t


def _temporal_value(t: pa.DataType) -> Convert:
    """The Python value of one stored count of type ``t`` (see the module)."""
    per = NANOS_PER_UNIT[t.unit]
    zone = t.tz if pa.types.is_timestamp(t) and t.tz is not None and not _known_zone(t.tz) else None
    micro_type = (pa.timestamp("us", None if zone else t.tz) if pa.types.is_timestamp(t) else
                  pa.time64("us") if pa.types.is_time64(t) else pa.duration("us"))

    def exact(v: int) -> Any:
        nanos = v * per
        if pa.types.is_time64(t) and not 0 <= nanos < NANOS_PER_DAY:
            return f"{v} ns"
        if nanos % 1000 == 0:
            return pa.scalar(nanos // 1000, micro_type).as_py()
        seconds, fraction = divmod(nanos, NANOS_PER_SECOND)
        whole = pa.scalar(seconds * 10**6, micro_type).as_py()
        if pa.types.is_duration(t):
            return f"{whole}.{fraction:09d}"
        text = whole.isoformat(sep=" ") if pa.types.is_timestamp(t) else whole.isoformat()
        cut = text.index(":") + 6  # after HH:MM:SS (a time zone's offset, if any, follows)
        return f"{text[:cut]}.{fraction:09d}{text[cut:]}"

    def convert(v: int | None) -> Any:
        if v is None:
            return None
        value = exact(v)
        return f"{value} UTC, zone {zone!r}" if zone is not None else value

    return convert


def _converter(t: pa.DataType) -> Convert | None:
    """How to turn a value of ``_as_integers(t)`` as Python into the value of ``t`` (None: nothing to turn)."""
    if not holds_own(t):
        return None
    if pa.types.is_dictionary(t):
        return _converter(t.value_type)
    if _own(t):
        return _temporal_value(t)
    if pa.types.is_struct(t):
        fields = {f.name: _converter(f.type) for f in _children(t)}
        fields = {k: c for k, c in fields.items() if c is not None}
        return lambda d: None if d is None else {k: (fields[k](v) if k in fields else v) for k, v in d.items()}
    if pa.types.is_map(t):
        key, item = _converter(t.key_type) or (lambda v: v), _converter(t.item_type) or (lambda v: v)
        return lambda pairs: None if pairs is None else [(key(k), item(v)) for k, v in pairs]
    inner = _converter(_children(t)[0].type)
    return lambda items: None if items is None else [inner(v) for v in items]


def column_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """``column.to_pylist()``, with the temporal values the module names made as it says."""
    convert = _converter(column.type)
    if convert is None:
        return column.to_pylist()
    return [convert(v) for v in column.cast(_as_integers(column.type)).to_pylist()]


def rows_as_python(table: pa.Table | pa.RecordBatch) -> list[dict[str, Any]]:
    """``table.to_pylist()`` (its column names unique), with the temporal values the module names made as it says."""
    if not any(holds_own(t) for t in table.schema.types):
        return table.to_pylist()
    names = table.column_names
    columns = [column_values(column) for column in table.columns]
    return [dict(zip(names, values)) for values in zip(*columns)] if names else [{} for _ in range(table.num_rows)]
