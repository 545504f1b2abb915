"""Warm-up: what the first batches of a run would wait for, loaded on a thread while the input is read.

Three things load on first use and stall a run's pipeline when they do: numba (its import and its compiler
target: about 0.3 s; :mod:`curation.core.jit` leaves it to a kernel's first call), each stage's compiled
kernels (loaded from numba's cache), and pandas, which pyarrow imports on its first conversion of Python or
NumPy values (about 0.15 s; a local run skips it: :func:`skip_pandas_probe`). :func:`start` loads them on a
background thread as a run starts. Reading and validating are mostly Arrow code that releases the GIL, so the
loading overlaps them instead of following them.

numba's CPU target, as it loads, probes for a BLAS by importing ``scipy.linalg`` (about 0.2 s more, with the
NumPy and SciPy modules that pulls in, for a probe no kernel of ours needs: none calls a BLAS routine).
:func:`load_numba_target` loads the target without that probe when SciPy's linear algebra is not loaded yet.

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


def load_numba_target() -> None:
    """Load numba's CPU target (the module whose import probes for a BLAS) without the probe's import of
    ``scipy.linalg``, unless it is loaded already (then the probe costs nothing). numba then takes there is no
    BLAS; that only matters to ``np.correlate`` and ``np.convolve`` on floats in compiled code, which take a
    loop instead, with the same results. ``np.dot`` and ``np.linalg`` check for a BLAS again when compiled."""
    import sys

    if "numba.np.arraymath" in sys.modules:
        return
    import curation.core.jit  # noqa: F401 - numba's settings, before it is imported
    import numba.np.linalg as linalg

    probe = linalg.ensure_blas
    if "scipy.linalg" not in sys.modules:
        def no_probe() -> None:
            raise ImportError("not probed")

        linalg.ensure_blas = no_probe
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        linalg.ensure_blas = probe


class _HidePandas:
    """An import finder that finds no ``pandas`` (every other name goes on to the next finder)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas":
            raise ImportError("pandas is not loaded for pyarrow's probe (curation.core.warm)")
        return None


def skip_pandas_probe() -> None:
    """Let pyarrow find pandas missing when it first looks, as it converts Python or NumPy values (to tell
    pandas objects from others), so that it does not import it (about 0.15 s, held under the GIL) in a process
    that never hands it pandas objects: a local run's. pyarrow looks again, and imports pandas, where a
    conversion needs it (``Table.to_pandas``, ``Table.from_pandas``...); until then it takes any value as the
    sequence it is. Does nothing where pandas is loaded already or pyarrow has looked."""
    import sys

    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _HidePandas)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_HidePandas)


def _run(stages: Iterable[Any]) -> None:
    pa.array(np.zeros(1, dtype=np.int64))  # pyarrow imports pandas here unless skip_pandas_probe ran
    try:
        load_numba_target()
    except Exception:  # noqa: BLE001 - numba then loads its target as it always does
        pass
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
