"""Installable like a library: the built wheel works outside the checkout; the two quick-start scripts install
only what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **extra)
    return env


@pytest.mark.slow
def test_the_wheel_works_outside_the_checkout(tmp_path):
    """Build the wheel, install it into a new virtual environment (dependencies from this machine's site), and
    run the three commands from a folder that is not the checkout."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
                   check=True, cwd=tmp_path, env=_env(), timeout=600)
    wheel = next(dist.glob("tomecraft-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # --ignore-installed: a tomecraft in the shared site (an editable checkout) must not count as installed
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)], check=True, timeout=600)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(py), "-c", "import curation, tomecraft.resources as r; print(curation.__file__); "
                            "print(r.sample_path()); print(r.config_dir())"],
                           cwd=work, env=_env(), capture_output=True, text=True)
    assert where.returncode == 0, where.stderr[-2000:]
    for line in where.stdout.splitlines():
        assert str(venv) in line and str(REPO) not in line, where.stdout
    tome = venv / "bin" / "tome"
    curate = subprocess.run([str(tome), "curate", "-o", "out", "-q"], cwd=work, env=_env(), capture_output=True, text=True, timeout=900)
    assert curate.returncode == 0, curate.stderr[-2000:]
    assert (work / "out" / "train.parquet").exists() and (work / "out" / "README.md").exists()
    config = subprocess.run([str(tome), "train", "--print-config"], cwd=work, env=_env(), capture_output=True, text=True, timeout=300)
    assert config.returncode == 0 and "model:" in config.stdout, config.stderr[-2000:]
    prompts = subprocess.run([str(tome), "eval", "prompts"], cwd=work, env=_env(), capture_output=True, text=True, timeout=300)
    assert prompts.returncode == 0 and "prompts:" in prompts.stdout, prompts.stderr[-2000:]


def test_install_runs_once_then_is_skipped_until_its_inputs_change(tmp_path):
    """scripts/ensure_installed.sh with a stand-in install.sh: the first call installs, the second is skipped,
    a change to pyproject.toml installs again."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(REPO / name, repo / name)
    shutil.copy(REPO / "scripts" / "ensure_installed.sh", repo / "scripts" / "ensure_installed.sh")
    (repo / "scripts" / "install.sh").write_text('echo installing; echo x >> "$(dirname "$0")/../installs"\n')
    env = _env(PYTHONPATH=str(REPO))  # tomecraft importable, as after a real install

    def run():
        done = subprocess.run(["bash", str(repo / "scripts" / "ensure_installed.sh")], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "installing" in run()
    assert run().startswith("install: up to date")
    assert (repo / "installs").read_text().count("x") == 1
    with (repo / "pyproject.toml").open("a") as fh:
        fh.write("\n# changed\n")
    assert "installing" in run()
    assert (repo / "installs").read_text().count("x") == 2


def test_quick_start_scripts_exist_and_ci_runs_the_test_script():
    for name in ("curate.sh", "test.sh"):
        text = (REPO / "scripts" / name).read_text()
        assert "scripts/ensure_installed.sh" in text
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()
