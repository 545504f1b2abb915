"""The few Ray Data operations the engine is built from.

* :func:`map_records`: a vectorized or row-level step on every block (``map_batches``, pyarrow batches).
* :func:`shuffle_apply`: everything with the same ``part`` to one call (``groupby("part").map_groups``):
  a hash partition, then a step that sees a whole partition. A join is a union of two record sets keyed
  by the same partitioning, followed by this.
* :func:`select` / :func:`collect`: records of some kinds, as a dataset or (small ones) on the driver.

Every function applied here is a plain module-level function of a pyarrow table (see
:mod:`curation.engines.ray_records`), so Ray can retry any task that fails (a lost worker, a killed process)
and get the same records again.
"""

from __future__ import annotations

from typing import Any, Callable

import pyarrow as pa

from curation.engines import ray_records as rec


def map_records(ds, fn: Callable, /, **kwargs):
    return ds.map_batches(fn, batch_format="pyarrow", fn_kwargs=kwargs or None, zero_copy_batch=True)


def shuffle_apply(ds, fn: Callable, partitions: int, /, **kwargs):
    try:
        grouped = ds.groupby("part", num_partitions=max(1, partitions))
    except TypeError:  # Ray < 2.43: the shuffle picks its own partition count
        grouped = ds.groupby("part")
    return grouped.map_groups(fn, batch_format="pyarrow", fn_kwargs=kwargs or None)


def _select(t: pa.Table, kinds: tuple[int, ...]) -> pa.Table:
    return rec.of_kind(t, *kinds)


def select(ds, *kinds: int):
    return map_records(ds, _select, kinds=tuple(int(k) for k in kinds))


def _rekey(t: pa.Table, by: str, parts: int, kinds: tuple[int, ...] | None) -> pa.Table:
    if kinds is not None:
        t = rec.of_kind(t, *kinds)
    if t.num_rows == 0:
        return t
    keys = rec.column(t, by)
    return t.set_column(0, "part", pa.array(rec.partition_of(keys, parts), pa.int64()))


def rekey(ds, by: str, parts: int, kinds: tuple[int, ...] | None = None):
    """Records (of ``kinds``, if given) with ``part`` set from column ``by`` (``pos``, ``a`` or ``b``)."""
    return map_records(ds, _rekey, by=by, parts=parts, kinds=None if kinds is None else tuple(int(k) for k in kinds))


def collect(ds, kind: int) -> list[Any]:
    """Unpickled payloads of the records of ``kind`` (meant for small sets: stats, quarantine)."""
    out: list[Any] = []
    for batch in select(ds, kind).iter_batches(batch_format="pyarrow", batch_size=None):
        out.extend(rec.loads(d) for d in batch.column("data").to_pylist())
    return out


def collect_records(ds, *kinds: int) -> pa.Table:
    """The records of ``kinds`` as one table on the driver (small sets only)."""
    tables = list(select(ds, *kinds).iter_batches(batch_format="pyarrow", batch_size=None))
    return rec.concat(tables)


def count(ds, kind: int) -> int:
    return select(ds, kind).count()
