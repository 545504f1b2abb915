"""Running the `tome` command line from a benchmark, as a user's shell would."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tome_env() -> dict[str, str]:
    """The environment of a benchmarked `tome` process: this checkout's code, offline, and Python's bytecode
    cache as it is by default (an installed wheel ships it compiled; a machine that sets
    PYTHONDONTWRITEBYTECODE recompiles the package's ~120 modules on every run, about 0.1 s on 2 cores)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    return env
