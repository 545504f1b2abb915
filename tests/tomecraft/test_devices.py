"""tomecraft.devices: whether a CUDA GPU is here; a CPU-only torch answers without being imported."""

from __future__ import annotations

import importlib.machinery
import subprocess
import sys

import pytest

from tomecraft.devices import cpu_only_build, cuda_available

CPU_BUILD = """from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']
__version__ = '2.13.0+cpu'
debug = False
cuda: Optional[str] = None
git_version = 'cf30153c4c131c8164ee7798e5022d810682e2cb'
hip: Optional[str] = None
"""


def _package(tmp_path, version_py: str | None):
    folder = tmp_path / "torch"
    folder.mkdir()
    if version_py is not None:
        (folder / "version.py").write_text(version_py)
    spec = importlib.machinery.ModuleSpec("torch", None, is_package=True)
    spec.submodule_search_locations = [str(folder)]
    return spec


@pytest.mark.parametrize("version_py, cpu_only", [
    (CPU_BUILD, True),
    ("cuda = None\nhip = None\n", True),
    (CPU_BUILD.replace("cuda: Optional[str] = None", "cuda: Optional[str] = '12.8'"), False),  # a CUDA wheel
    (CPU_BUILD.replace("hip: Optional[str] = None", "hip: Optional[str] = '6.3.42131'"), False),  # a ROCm wheel
    ("cuda = None\n", False),  # hip not said: ask torch
    ("cuda = None\nhip = get_hip()\n", False),  # not a literal
    ("cuda = None\nhip = None\nif:", False),  # no Python
    (None, False),  # no version.py
])
def test_a_cpu_only_build_is_told_from_its_version_file(tmp_path, version_py, cpu_only):
    assert cpu_only_build(_package(tmp_path, version_py)) is cpu_only


def test_the_answer_is_torchs_and_a_cpu_build_is_not_imported():
    """In a fresh process: the answer is torch.cuda.is_available()'s; where this torch is a CPU-only build, asking
    imported nothing of it."""
    code = ("import importlib.util, sys\n"
            "from tomecraft.devices import cpu_only_build, cuda_available\n"
            "answer = cuda_available()\n"
            "imported = 'torch' in sys.modules\n"
            "spec = importlib.util.find_spec('torch')\n"
            "cpu = spec is not None and cpu_only_build(spec)\n"
            "import torch\n"
            "print(answer == torch.cuda.is_available(), imported, cpu)\n")
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True"
    if out[2] == "True":
        assert out[1] == "False"


def test_no_torch_is_no_gpu(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert cuda_available() is False
