"""Shared test set-up: offline hub, paths to the shared real rows, small helpers."""

from __future__ import annotations

import importlib.util
import os
import shutil
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


# -- one local Ray cluster for the tests that need one -----------------------------------------------------------

# Starting a local cluster, its first dataset's worker start-up and its shutdown take ~8 s on 2 cores; a cluster a
# module (or a test) was 12 of them in the slow lane. The tests that ask for ``ray_cluster`` share one: started
# before the first of them, stopped after the last (so the training and browser tests after them do not share the
# cores with an idle cluster) or by a test that needs no cluster up (``no_ray_cluster``). Its workers start in a
# folder that is not the driver's, as those of a cluster started with ``ray start`` do, and import this checkout.
class _SharedRay:
    def __init__(self) -> None:
        self.started_here = False
        self.folder: str | None = None  # where its workers start
        self.last_user: int | None = None  # index in the session's items of the last test asking for it
        self.index: dict[int, int] = {}

    def start(self):
        import logging
        import tempfile

        import ray

        if not ray.is_initialized():
            here = os.getcwd()
            self.folder = tempfile.mkdtemp(prefix="ray_started_here_")
            os.chdir(self.folder)
            try:
                path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
                ray.init(num_cpus=2, object_store_memory=512 * 1024**2, include_dashboard=False,
                         log_to_driver=False, logging_level=logging.WARNING,
                         runtime_env={"env_vars": {"PYTHONPATH": path}})
            finally:
                os.chdir(here)
            self.started_here = True
        return ray

    def stop(self) -> None:
        if self.started_here:
            import ray

            ray.shutdown()
            self.started_here = False
            shutil.rmtree(self.folder or "", ignore_errors=True)

    def needed_after(self, item, nextitem) -> bool:
        if nextitem is None:
            return False
        if not self.index:
            items = item.session.items
            self.index = {id(it): i for i, it in enumerate(items)}
            users = [i for i, it in enumerate(items) if "ray_cluster" in getattr(it, "fixturenames", ())]
            self.last_user = users[-1] if users else None
        at = self.index.get(id(nextitem))
        return self.last_user is not None and (at is None or at <= self.last_user)


_RAY = _SharedRay()


@pytest.fixture(scope="session")
def ray_cluster():
    """The ``ray`` module, connected to the session's local cluster (2 CPUs, 512 MB object store)."""
    pytest.importorskip("ray")
    yield _RAY.start()
    _RAY.stop()


@pytest.fixture
def no_ray_cluster():
    """No cluster up while the test runs (the shared one is stopped, and started again by the next test asking)."""
    _RAY.stop()
    import ray

    if ray.is_initialized():
        ray.shutdown()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "ray_cluster" in getattr(item, "fixturenames", ()) and importlib.util.find_spec("ray") is not None:
        _RAY.start()  # (up again after a test that stopped it; the session fixture's value is the module)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    if _RAY.started_here and not _RAY.needed_after(item, nextitem):
        _RAY.stop()
    return result
