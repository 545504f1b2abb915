"""Kernels compiled on first call (curation.core.jit): they behave as numba's dispatchers, numba loads late."""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from curation.core.jit import Kernel, njit

REPO = Path(__file__).resolve().parents[3]


@njit(nogil=True, cache=False)
def _add_one(x):
    return x + 1


@njit
def _twice_plus_one(values):
    out = np.empty_like(values)
    for i in range(values.shape[0]):
        out[i] = _add_one(values[i] * 2)  # a kernel calling a kernel
    return out


def test_a_kernel_is_compiled_on_first_call_and_then_is_the_dispatcher():
    kernel = njit(lambda x: x * 3)
    assert isinstance(kernel, Kernel) and kernel.loaded is None
    assert kernel(4) == 12
    assert kernel.loaded is not None and len(kernel.signatures) == 1
    assert kernel.py_func(5) == 15


def test_kernels_call_kernels_in_compiled_code():
    values = np.arange(5, dtype=np.int64)
    assert _twice_plus_one(values).tolist() == [1, 3, 5, 7, 9]
    assert _twice_plus_one.py_func(values).tolist() == [1, 3, 5, 7, 9]


def test_a_kernel_pickles_by_reference():
    assert pickle.loads(pickle.dumps(_add_one)) is _add_one


def test_positional_signatures_are_refused():
    with pytest.raises(TypeError):
        njit("int64(int64)")


def test_importing_the_stages_does_not_load_numba():
    script = textwrap.dedent("""
        import sys
        from curation.core.registry import stage_specs
        stage_specs()
        print("numba" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_compiling_leaves_the_process_streams_alone_where_colorama_can_be_imported():
    """With colorama importable, numba wrapped sys.stdout and sys.stderr in colorama's and put back the ones it
    found, for every message it built while compiling (even for lookups it expects to fail), from whichever thread
    compiled: a kernel compiled on the warm-up thread put back streams a test capturing the command had swapped
    meanwhile. numba's messages are left uncoloured now, which touches no stream."""
    code = textwrap.dedent("""
        import colorama  # importable here, as Ray's copy is once Ray is imported
        import curation.core.jit
        import numba.core.errors as errors
        print(type(errors.termcolor()).__name__)
    """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING"}  # (this process set it)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "NOPColorScheme"
