"""Arrow string columns as numpy buffers for compiled kernels, and running a kernel over chunks on threads.

A kernel reads text ``i`` as ``data[offsets[i]:offsets[i + 1]]`` (UTF-8 bytes), straight from the Arrow
buffers, without a Python string per row. Kernels are numba functions compiled with ``nogil=True``, so
the chunks of :func:`run_chunks` really run side by side.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
import pyarrow as pa

_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def utf8_buffers(texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, int64 offsets of ``len(texts) + 1``) of a string array, zero-copy where Arrow allows.

    Nulls read as empty strings (Arrow gives them an empty slot). Offsets index into ``data`` directly, so a
    sliced array needs no copy either."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not pa.types.is_large_string(texts.type):
        texts = texts.cast(pa.large_string())
    _, offsets_buf, data_buf = texts.buffers()
    if offsets_buf is None:  # an empty array
        return np.zeros(0, np.uint8), np.zeros(1, np.int64)
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[texts.offset: texts.offset + len(texts) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data, offsets


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
