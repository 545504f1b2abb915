"""Shared test set-up: offline hub, paths to the shared real rows, small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_ROWS = SHARED / "data" / "instructions"
ALPACA = SHARED_ROWS / "alpaca_en_demo.finetome.jsonl"
FINETOME_REAL = SHARED_ROWS / "finetome_real_rows.jsonl"


@pytest.fixture(scope="session", autouse=True)
def embedded_sample() -> Path:
    """The embedded sample is generated, not stored: make it once before the tests that read it."""
    from tomecraft.resources import ensure_sample

    return ensure_sample()


@pytest.fixture(scope="session", autouse=True)
def click_command_built_once():
    """typer's ``CliRunner().invoke(app, ...)`` builds the Click command from ``app`` on every call (about 7 ms for
    `tome`; some 500 calls in the fast lane). An app's commands are registered when its module loads, so each
    app's Click command is built once and reused."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # (another typer: invoke builds the command as it does)
        yield
        return
    built: dict[int, tuple] = {}

    def get_command(app):
        if id(app) not in built:
            built[id(app)] = (app, build(app))  # (the app is kept, so that its id is never another app's)
        return built[id(app)][1]

    typer.testing._get_command = get_command
    try:
        yield
    finally:
        typer.testing._get_command = build


@pytest.fixture(scope="session")
def alpaca_path() -> Path:
    if not ALPACA.exists():
        pytest.skip(f"shared rows not found at {ALPACA}")
    return ALPACA


@pytest.fixture(scope="session")
def finetome_real_path() -> Path:
    if not FINETOME_REAL.exists():
        pytest.skip(f"shared rows not found at {FINETOME_REAL}")
    return FINETOME_REAL


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """A test's own folder, as the current directory (relative paths on the command line land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- a command's captured streams replaced while it runs ---------------------------------------------------------

# typer's runner points sys.stdout and sys.stderr at wrappers of its own while a command runs in this process, and
# only sys.stdout and sys.stderr hold them: code that assigns either stream while the command runs (another thread,
# a finalizer) drops the wrapper, which closes the runner's buffer as it goes. The command then fails with "I/O
# operation on closed file" and its error line lands in pytest's capture (seen once in CI, not reproduced). A
# wrapper dropped anywhere but the runner's own clean-up is noted with the thread and the code that dropped it, and
# the note is shown with the test's report.
_DROPPED_STREAMS: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def runner_streams_watched():
    import sys
    import threading
    import traceback

    import typer.testing

    wrapper = getattr(typer.testing, "_NamedTextIOWrapper", None)
    if wrapper is None:  # (another typer)
        yield
        return

    class Watched(wrapper):  # type: ignore[misc, valid-type]
        def __del__(self) -> None:
            frame = sys._getframe().f_back  # (None on a thread of a library's own: a collection run there)
            while frame is not None and frame.f_code.co_name != "isolation":
                frame = frame.f_back
            if frame is None and self.name != "<stdin>" and not self.closed:
                where = "".join(traceback.format_stack()[-16:])
                thread = threading.current_thread().name
                _DROPPED_STREAMS.append(f"a command's {self.name} was dropped on thread {thread}, by:\n{where}")
            super().__del__()

    typer.testing._NamedTextIOWrapper = Watched
    try:
        yield
    finally:
        typer.testing._NamedTextIOWrapper = wrapper


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _DROPPED_STREAMS:
        report.sections.append(("streams dropped while a command ran", "\n".join(_DROPPED_STREAMS)))
        _DROPPED_STREAMS.clear()
    return report
