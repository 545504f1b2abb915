"""Warm-up: what the first batches of a run would wait for, loaded on a thread while the input is read.

Two things load on first use and stall a run's pipeline when they do: a stage's compiled kernels (numba sets
up its compiler target on the first call in a process, and loads each kernel from its cache: about 0.4 s in
all, while every worker waits), and pandas, which pyarrow imports on its first conversion of Python or NumPy values (about
0.15 s). :func:`start` loads both on a background thread as a run starts. Reading and validating are mostly
Arrow code that releases the GIL, so the loading overlaps them instead of following them.

What the imports and the kernels leave in memory (about a million Python objects) lives as long as the process,
yet every full pass of the cyclic garbage collector would walk it, with every thread stopped: :func:`start`
and the warm-up's end move it out of the collector's sight (``gc.freeze``; reference counting still frees
what is dropped). That halves the collector's time in a run.

A warm-up changes no result: a stage's :meth:`warm_up` runs its own code on :func:`sample_rows` and drops
what comes back. An error in it is left for the stage to meet on its first batch, where it is reported as
usual.
"""

from __future__ import annotations

import gc
import threading
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

# the paths a stage's kernels take: ASCII and not, runs of spaces, CRLF, blank lines, a repeated line, an
# answer long enough for the repetition measures
_LONG = ("A function maps every input to exactly one output, so the same question always gets the same answer. "
         "We write f(x) for the output at x; the set of inputs is the domain and the outputs form the range. "
         "Squaring is a function because each number has one square, while the square root of a positive number "
         "has two candidates, so we pick the positive one to keep it a function, and the graph then passes the "
         "vertical line test everywhere.")
_TEXTS = (
    ("Explain  the\r\nrule of thirds.", "It splits a frame in three.\n\n\n\nEach line is a guide.\nEach line is a guide."),
    ("¿Qué es una\u00a0función? ", "Una función asigna a cada entrada exactamente una salida — f(x) = x². " + _LONG),
)


def sample_rows() -> pa.RecordBatch:
    """Two made-up rows with every column a validated row has (:data:`curation.contract.ROW_SCHEMA`), typed as
    real batches are, so that a stage's kernels load the same compiled variants the run then calls."""
    from curation.contract import ROW_SCHEMA

    turns = [[{"from": "human", "value": q}, {"from": "gpt", "value": a}] for q, a in _TEXTS]
    n = len(turns)
    columns = {name: pa.nulls(n, field.type) for name, field in zip(ROW_SCHEMA.names, ROW_SCHEMA)}
    columns.update({"_pos": pa.array(range(n), pa.int64()), "id": pa.array([f"warm-up-{i}" for i in range(n)]),
                    "conversations": pa.array(turns, ROW_SCHEMA.field("conversations").type),
                    "source": pa.array(["warm-up"] * n), "score": pa.array([4.5, 3.0])})
    return pa.RecordBatch.from_pydict(columns, schema=ROW_SCHEMA)


def _run(stages: Iterable[Any]) -> None:
    pa.array(np.zeros(1, dtype=np.int64))  # pyarrow imports pandas on its first conversion of Python values
    for stage in stages:
        try:
            stage.warm_up()
        except Exception:  # noqa: BLE001 - the stage meets it again on its first batch and reports it there
            pass
    gc.freeze()  # what the imports and kernels created (see the module)


def start(stages: Iterable[Any]) -> threading.Thread:
    """Warm ``stages`` up on a daemon thread (started; join it to wait)."""
    gc.freeze()
    thread = threading.Thread(target=_run, args=(list(stages),), name="tome-warm-up", daemon=True)
    thread.start()
    return thread
