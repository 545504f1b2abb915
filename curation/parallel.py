"""Running a compiled kernel over chunks of a batch on threads.

Kernels are numba functions compiled with ``nogil=True`` (or library calls that release the GIL), so the
chunks of :func:`run_chunks` really run side by side. Inside ``tome curate`` the engine already runs batches
side by side, so stages default to one thread per batch; benchmarks and library callers ask for more.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

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
