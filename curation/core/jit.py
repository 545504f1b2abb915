"""``njit``: numba's, with numba itself loaded on a kernel's first call instead of at import.

Importing numba takes about 0.1 s (its compiler and LLVM bindings). Every module with a compiled kernel
imports :func:`njit` from here, so that a run's start-up (reading its config, listing the stages, telling
the input's format) does not wait for it: numba loads on the warm-up thread (:mod:`curation.core.warm`)
while the input is read, or wherever a kernel first runs.

A :class:`Kernel` stands for the numba dispatcher it makes on first use and behaves as one: calling it,
its attributes (``signatures``, ``py_func``...), and in compiled code, where numba types it as that
dispatcher (``_numba_type_``), so kernels call kernels as before. Cached machine code is found as before:
the cache is keyed by the Python function, which is the same.

numba's error messages are left uncoloured (``NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING``, unless set already):
where colorama can be imported (Ray puts its own copy on ``sys.path``), numba wraps ``sys.stdout`` and
``sys.stderr`` in colorama's, then puts back the ones it found, for every message it builds while it compiles (even
for the lookups it expects to fail), from whichever thread compiles. A kernel compiled on the warm-up thread (a
machine's first run) could put back streams that the command, or a test capturing it, had swapped meanwhile.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
from typing import Any, Callable

os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")  # before numba is imported (see above)

_lock = threading.Lock()


class Kernel:
    """A function compiled by ``numba.njit(**options)`` when first called."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        self._dispatcher: Any = None
        self._options = options
        self.py_func = py_func
        functools.update_wrapper(self, py_func)

    @property
    def dispatcher(self) -> Any:
        """The numba dispatcher (made, and numba imported, on first use)."""
        if self._dispatcher is None:
            import numba

            made = numba.njit(**self._options)(self.py_func)  # made outside the lock: numba takes locks of its own
            with _lock:
                if self._dispatcher is None:
                    self._dispatcher = made
        return self._dispatcher

    @property
    def loaded(self) -> Any:
        """The dispatcher if it was made already, else None (nothing is loaded)."""
        return self._dispatcher

    @property
    def _numba_type_(self) -> Any:  # how numba types this object where compiled code refers to it
        return self.dispatcher._numba_type_

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.dispatcher(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_dispatcher", "_options", "py_func"):
            raise AttributeError(name)
        return getattr(self.dispatcher, name)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:  # by reference, as a module-level function pickles
        return _kernel, (self.__module__, self.__qualname__)

    def __repr__(self) -> str:
        return f"<kernel {self.__module__}.{self.__qualname__}>"


def _kernel(module: str, qualname: str) -> Kernel:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def njit(*args: Any, **options: Any) -> Any:
    """As ``numba.njit`` (``@njit`` or ``@njit(nogil=True, cache=True)``), compiled on first call."""
    if args and callable(args[0]) and len(args) == 1 and not options:
        return Kernel(args[0], {})
    if args:
        raise TypeError("njit takes keyword options only (signatures are not supported here)")
    return lambda func: Kernel(func, options)
