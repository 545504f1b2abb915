"""Running the `tome` command line from a benchmark, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tome_env() -> dict[str, str]:
    """The environment of a benchmarked `tome` process: this checkout's code, offline, and Python's bytecode
    cache as it is by default (an installed wheel ships it compiled; a machine that sets
    PYTHONDONTWRITEBYTECODE recompiles the package's ~120 modules on every run, about 0.1 s on 2 cores)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    return env


# Linux keeps a process's peak resident size across fork and exec: a child forked from a benchmark that holds
# gigabytes of generated rows reports that size as its own peak (``wait4``'s ``ru_maxrss``) whatever it uses. A
# small launcher (a fresh interpreter, a few MB) forks the command instead, so the peak is the command's.
_LAUNCH = """\
import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as fh:
    fh.write(f"{time.perf_counter() - start} {usage.ru_maxrss * 1024} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured_run(argv: list[str], **popen) -> tuple[int, float, int, float]:
    """Run ``argv`` (``argv[0]`` a path) through the launcher: ``(exit code, wall seconds, peak resident bytes,
    CPU seconds)`` of the command alone, timed from its fork to its end."""
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        code = subprocess.call([sys.executable, "-I", "-S", "-c", _LAUNCH, report.name, *argv], **popen)
        seconds, peak, cpu = report.read().split()
    return code, float(seconds), int(peak), float(cpu)
