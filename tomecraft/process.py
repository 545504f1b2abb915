"""Ending the `tome` process: what a normal exit does for the program, without the interpreter's teardown.

After a large run the interpreter spends a noticeable time tearing itself down (about 0.2 s after a 100k-row
`tome curate`: freeing every module, array and memory map one object at a time) although the work is done and
the files are closed. :func:`exit_now` does what matters of a normal exit (waits for worker threads, runs the
``atexit`` handlers, e.g. Ray's shutdown, flushes stdout and stderr), then ends the process (mypy ends the
same way).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any, NoReturn

# the signal that asked the process to end (SIGTERM), once one has
_terminated_by: list[int] = []


def stop_on_terminate() -> None:
    """A SIGTERM (a CI job cancelled or timed out, ``docker stop``, ``kill``) stops a command as Ctrl-C does:
    the command's own ``KeyboardInterrupt`` handling runs (its one line, a folder left as a stopped run leaves
    it, temporary files removed) where the default action ended the process on the spot, silently. The process
    then ends with 143 (128 + SIGTERM), as one the signal ended (:func:`exit_now`). Only where the default
    action is in place: a handler a library installed (a web server's) is kept."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        _main_pid.append(os.getpid())
        signal.signal(signal.SIGTERM, _interrupt)


# the `tome` process itself: a child forked from it (a library's worker pool) keeps the default action
_main_pid: list[int] = []


def _interrupt(signum: int, frame: Any) -> None:
    if os.getpid() not in _main_pid:  # a forked child that inherited the handler: ends as the signal says
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    _terminated_by.append(signum)
    raise KeyboardInterrupt


def exit_code(code: object) -> int:
    """``SystemExit.code`` as a process exit status (a message is printed and gives 1, as Python does)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def exit_now(code: object = 0) -> NoReturn:
    status = exit_code(code)
    if _terminated_by and status != 0:  # (stopped by SIGTERM: 128 + its number, not Ctrl-C's 130)
        status = 128 + _terminated_by[0]
    try:
        shutdown = getattr(threading, "_shutdown", None)  # what the interpreter runs first: joins worker threads
        if shutdown is not None:
            shutdown()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed or broken pipe: nothing left to say
                pass
        os._exit(status)
