"""Assemble the demo: load the model and the speech recogniser, build the page. Used by `tome serve` and app.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from serving.asr import DEFAULT_MAX_SECONDS, Transcriber, load_transcriber
from serving.generation import DEFAULT_N_CTX, Generator, load_generator
from serving.tts import Voice, load_voice


@dataclass
class Demo:
    page: Any  # gr.Blocks
    generator: Generator
    transcriber: Transcriber
    voice: Voice | None


def create_demo(
    model: str | os.PathLike[str] | None = None,
    asr: str | os.PathLike[str] | None = None,
    *,
    base_model: str | None = None,
    threads: int | None = None,
    n_ctx: int = DEFAULT_N_CTX,
    max_audio_seconds: float = DEFAULT_MAX_SECONDS,
    voice: str | os.PathLike[str] | None = "auto",
    **page_settings: Any,
) -> Demo:
    """Load ``model``, ``asr`` (None = the offline defaults) and ``voice`` (`serving.tts.load_voice`: auto = Piper's
    packaged en_US voice, else espeak-ng; none = silent) and build the page around them.

    ``page_settings`` are `serving.page.PageSettings` fields (temperature, max_new_tokens, seed, auto_send, ...).
    """
    generator = load_generator(model, base_model=base_model, n_ctx=n_ctx, n_threads=threads)
    transcriber = load_transcriber(asr, max_seconds=max_audio_seconds, cpu_threads=threads)
    speaker = load_voice(voice)
    from serving.page import PageSettings, build_page  # imports gradio: after the models, so a bad --model fails fast

    page = build_page(generator, transcriber, PageSettings(**page_settings), voice=speaker)
    return Demo(page=page, generator=generator, transcriber=transcriber, voice=speaker)
