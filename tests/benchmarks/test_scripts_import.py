"""Every benchmark script still runs against the code it measures: each is imported as a module (its imports and
top-level definitions run; its ``main`` does not), so a module moved or renamed under a benchmark fails here
rather than when someone next measures. `bench_semantic.py` imported ``curation.stage`` for months after the
columnar core replaced it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_benchmark_script_imports(script: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"_bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if script.name.startswith(("bench_", "gpu_")) and "main" in vars(module):
        assert callable(module.main)
