"""Import-time log lines of the model libraries that say nothing to a `tome` user, held back.

Importing ``transformers`` (semantic dedup's embeddings, `tome eval`, `tome serve`, `tome train`) imports
``torchao`` where it is installed, which logs ``Failed to load .../torchao/_C_mxfp8...so`` for each of its CUDA
kernels on a machine without them, and registers enums with torch's pytree, which logs ``... is an Enum subclass
and is now natively supported by torch.compile`` twice: six lines of warnings on standard error before a
`tome curate -q` with semantic dedup on had done anything. They are warnings about the libraries' own builds, for
their maintainers; what goes wrong in a command still shows (errors are kept, only these loggers' warnings and
below go)."""

from __future__ import annotations

import logging

#: Loggers whose warnings are import-time notes about a library's own build, never about the user's data or run
#: (bitsandbytes' CPU backend, from 0.50, says it found no ``kernels`` package for a faster 4-bit CPU kernel).
BUILD_NOTE_LOGGERS = ("torchao", "torch.utils._pytree", "bitsandbytes.backends.cpu.ops")


def hold_back_build_notes() -> None:
    """Set :data:`BUILD_NOTE_LOGGERS` to show errors only. Imports nothing: called as a command starts, before any
    of those libraries is imported (torch keeps a logger level set before its import)."""
    for name in BUILD_NOTE_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
