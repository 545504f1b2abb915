"""Work on threads: a compiled kernel over chunks of a batch, and ordered maps over a stream of items.

Kernels are numba functions compiled with ``nogil=True`` (or library calls that release the GIL), so the
chunks of :func:`run_chunks` really run side by side. Inside ``tome curate`` the engine already runs batches
side by side, so stages default to one thread per batch; benchmarks and library callers ask for more.
:func:`ordered_map` is the engine's batch loop and :func:`in_order` the reader's (blocks of JSON Lines parsed
side by side on the shared pool); both give results in the order of their items.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import numpy as np

_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def resolve_workers(workers: int) -> int:
    """``workers`` threads; 0 = every core this process may use."""
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="kernel")
        return _POOLS[workers]


def run_chunks(n: int, workers: int, fn: Callable[[int, int], Any], min_chunk: int = 256) -> list[Any]:
    """``fn(lo, hi)`` over ``[0, n)`` cut into chunks, on ``workers`` threads; results in chunk order."""
    workers = resolve_workers(workers)
    if workers <= 1 or n < 2 * min_chunk:
        return [fn(0, n)] if n else []
    parts = min(4 * workers, max(1, n // min_chunk))
    bounds = np.linspace(0, n, parts + 1).astype(np.int64)
    futures = [_pool(workers).submit(fn, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    return [f.result() for f in futures]


def ordered_map(pool: ThreadPoolExecutor, fn: Callable[[Any], Any], items: Iterable[Any], window: int) -> Iterator[Any]:
    """``map(fn, items)`` on the pool, results in order, at most ``window`` items in flight. When ``items``
    raises, the results of the items it gave before come out first, then its error."""
    pending: deque[Future] = deque()
    it = iter(items)
    while True:
        try:
            item = next(it)
        except StopIteration:
            break
        except Exception:
            while pending:
                yield pending.popleft().result()
            raise
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def in_order(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 0) -> Iterator[Any]:
    """:func:`ordered_map` on the shared pool of ``workers`` threads (0: every core), one item ahead of
    them; on one worker, ``fn`` runs here, item by item."""
    workers = resolve_workers(workers)
    if workers <= 1:
        return map(fn, items)
    return ordered_map(_pool(workers), fn, items, workers + 1)
