"""What the `tome` entry point sets up before the libraries load."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("preset,expected", [(None, "4"), ("12", "12")])
def test_openblas_idle_threads_sleep_soon_unless_the_user_says_otherwise(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if preset is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = preset
    code = "import os, tomecraft.cli, numpy; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


BUILD_NOTES = ("Failed to load", "is an Enum subclass")


@pytest.mark.slow
def test_model_libraries_import_time_build_notes_do_not_reach_stderr(tmp_path):
    """`tome curate -q` with semantic dedup on: the embedding model's libraries are imported, and what they log
    about their own builds (torchao's CUDA kernels missing, torch's pytree enums) stays off standard error,
    while the run's own output is unchanged."""
    pytest.importorskip("sentence_transformers")
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(
        '{"conversations": [{"from": "human", "value": "What is %d plus %d?"}, {"from": "gpt", "value": "It is %d."}]}\n'
        % (i, i, 2 * i) for i in range(6)))
    args = [sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(rows), "-o", str(tmp_path / "out"),
            "--set", "stages.semantic_dedup.enabled=true", "--set", "report=false"]
    run = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "nothing lost" in run.stdout + run.stderr
    assert not [line for line in run.stderr.splitlines() if any(note in line for note in BUILD_NOTES)], run.stderr
