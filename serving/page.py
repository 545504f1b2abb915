"""The voice demo page (gr.Blocks): speak, upload or type a question; the fine-tuned model answers, streamed.

The handlers live in `DemoHandlers`, plain Python that tests call without a browser; `build_page` wires them
to components; `launch_page` serves the page with analytics and share links off. Endpoint names for API
clients (``gradio_client``): ``/transcribe`` (audio file -> transcript, status) and ``/respond``
(message, history, temperature, max new tokens, seed -> history, message box, status).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported; users may opt in
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402

from serving.asr import AudioInputError, Transcriber  # noqa: E402
from serving.generation import Generator, PromptTooLong  # noqa: E402
from serving.prompts import SEED_PROMPTS  # noqa: E402

log = logging.getLogger("tome.serve")

History = list[dict[str, Any]]

CSS = """
#status { min-height: 2.6em; }
#status p { margin: 0; }
#loaded { opacity: 0.85; font-size: 0.92em; }
footer { display: none !important; }
"""


@dataclass(frozen=True)
class PageSettings:
    """Defaults shown on the page and limits enforced by it."""

    temperature: float = 0.3
    max_new_tokens: int = 256
    max_new_tokens_cap: int = 1024
    seed: int = 0
    auto_send: bool = False
    title: str = "tome serve: talk to your fine-tuned model"


def _text_of(content: Any) -> str:
    """Text of a Chatbot message's content (a string, or gradio's list of {"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return "".join(_text_of(c) for c in content)
    return ""


def _plain_history(history: History | None) -> list[dict[str, str]]:
    out = []
    for msg in history or []:
        role = msg.get("role") if isinstance(msg, dict) else None
        if role in ("user", "assistant", "system"):
            out.append({"role": role, "content": _text_of(msg.get("content"))})
    return out


def warn(text: str) -> str:
    return f"**⚠ {text}**"


class DemoHandlers:
    """What the page's buttons do; each handler returns (or yields) values for its outputs."""

    def __init__(self, generator: Generator, transcriber: Transcriber, settings: PageSettings | None = None) -> None:
        self.generator = generator
        self.transcriber = transcriber
        self.settings = settings or PageSettings()

    @property
    def loaded_line(self) -> str:
        return (
            f"**Model:** {self.generator.description} · **Speech recognition:** {self.transcriber.description} · "
            f"clips up to {self.transcriber.max_seconds:.0f} s · runs on CPU, no network needed"
        )

    # -- speech ----------------------------------------------------------------------------------------------
    def transcribe(self, audio: str | None) -> tuple[str, str]:
        """Audio file -> (transcript for the message box, status line). Bad audio gives ("", a warning)."""
        try:
            t = self.transcriber.transcribe(audio)
        except AudioInputError as exc:
            return "", warn(exc.user_message)
        except Exception as exc:  # never take the page down
            log.exception("transcription failed")
            return "", warn(f"Transcription failed ({type(exc).__name__}). Try another recording.")
        return t.text, (
            f"Heard {t.audio_seconds:.1f} s, transcribed in {t.elapsed_seconds:.1f} s. "
            "Edit the text if needed, then press **Send**."
        )

    # -- chat ------------------------------------------------------------------------------------------------
    def respond(
        self, message: str | None, history: History | None, temperature: float, max_new_tokens: float, seed: float
    ) -> Iterator[tuple[History, str, str]]:
        """Stream the answer: yields (chat history, message box, status line)."""
        history = list(history or [])
        text = (message or "").strip()
        if not text:
            yield history, message or "", warn("Type a question, or record or upload one, first.")
            return
        prior = _plain_history(history)
        history = history + [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        yield history, "", "Thinking…"
        answer = ""
        start = time.perf_counter()
        first: float | None = None
        pieces = None
        try:
            pieces = self.generator.stream(
                prior + [{"role": "user", "content": text}],
                temperature=float(temperature), max_new_tokens=int(max_new_tokens), seed=int(seed),
            )
            for piece in pieces:
                if first is None:
                    first = time.perf_counter() - start
                answer += piece
                history[-1] = {"role": "assistant", "content": answer}
                yield history, "", "Answering…"
        except (PromptTooLong, ValueError) as exc:
            yield history[:-2], text, warn(str(exc))
            return
        except Exception as exc:  # never take the page down
            log.exception("generation failed")
            yield history[:-2], text, warn(f"The model failed to answer ({type(exc).__name__}: {exc}).")
            return
        finally:  # Stop, Clear or a closed tab close this handler: stop the model too, and free it at once
            if pieces is not None:
                pieces.close()
        total = time.perf_counter() - start
        if not answer.strip():
            history[-1] = {"role": "assistant", "content": "*(the model gave an empty answer; try again with a higher temperature)*"}
            yield history, "", warn("The model gave an empty answer.")
            return
        yield history, "", f"✓ Answered in {total:.1f} s (first words after {first or 0:.1f} s)."

    def auto_respond(
        self, auto_send: bool, message: str | None, history: History | None, temperature: float,
        max_new_tokens: float, seed: float,
    ) -> Iterator[Any]:
        """After a transcription: send it right away when the auto-send box is ticked and it holds text."""
        if not auto_send or not (message or "").strip():
            yield gr.skip(), gr.skip(), gr.skip()
            return
        yield from self.respond(message, history, temperature, max_new_tokens, seed)

    @staticmethod
    def clear() -> tuple[History, str, None, str]:
        return [], "", None, ""


def build_page(
    generator: Generator, transcriber: Transcriber, settings: PageSettings | None = None,
    *, llm_concurrency: int = 1, asr_concurrency: int = 2,
) -> gr.Blocks:
    """The demo page. LLM requests run ``llm_concurrency`` at a time (others wait in the queue, shown on the page)."""
    h = DemoHandlers(generator, transcriber, settings)
    s = h.settings
    with gr.Blocks(title="tome serve", analytics_enabled=None) as demo:
        gr.Markdown(f"## {s.title}")
        gr.Markdown(h.loaded_line, elem_id="loaded")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation", elem_id="chat", height=440, buttons=["copy"],
                    placeholder="Ask by voice (record or upload on the right) or type below.",
                )
                message = gr.Textbox(
                    label="Your question",
                    info="Your recording's transcript lands here: edit it, then press Send (or Enter; Shift+Enter: new line).",
                    placeholder="Type a question, or record / upload one →", lines=1, max_lines=8,
                    elem_id="message", autofocus=True,
                )
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="send", scale=2)
                    stop = gr.Button("Stop", variant="secondary", elem_id="stop", scale=1)
                    clear = gr.Button("Clear", variant="secondary", elem_id="clear", scale=1)
            with gr.Column(scale=2):
                audio = gr.Audio(
                    sources=["microphone", "upload"], type="filepath", label="Ask by voice", elem_id="audio",
                )
                auto_send = gr.Checkbox(value=s.auto_send, label="Send as soon as it is transcribed", elem_id="auto")
                status = gr.Markdown("", elem_id="status", label="Status")
                with gr.Accordion("Generation settings", open=True):
                    temperature = gr.Slider(
                        0.0, 1.5, value=s.temperature, step=0.05, label="Temperature",
                        info="0 = always the most likely word (repeatable)",
                    )
                    max_new_tokens = gr.Slider(
                        16, s.max_new_tokens_cap, value=s.max_new_tokens, step=16, label="Max new tokens",
                    )
                    seed = gr.Number(value=s.seed, precision=0, minimum=0, label="Seed", info="same seed, same answer")
        gr.Examples(
            examples=[[p] for p in SEED_PROMPTS], inputs=[message], label="Example prompts (the evaluation prompts)",
        )

        gen_inputs = [message, chatbot, temperature, max_new_tokens, seed]
        gen_outputs = [chatbot, message, status]
        llm = dict(
            concurrency_limit=llm_concurrency, concurrency_id="llm", show_progress="minimal",
            show_progress_on=[chatbot],
        )
        asr = dict(concurrency_limit=asr_concurrency, concurrency_id="asr", show_progress_on=[message])

        heard = audio.upload(
            h.transcribe, inputs=[audio], outputs=[message, status], api_name="transcribe", **asr
        )
        recorded = audio.stop_recording(
            h.transcribe, inputs=[audio], outputs=[message, status], api_visibility="private", **asr
        )
        auto_events = [
            ev.then(h.auto_respond, inputs=[auto_send, *gen_inputs], outputs=gen_outputs, api_visibility="private", **llm)
            for ev in (heard, recorded)
        ]
        sent = send.click(h.respond, inputs=gen_inputs, outputs=gen_outputs, api_name="respond", **llm)
        submitted = message.submit(h.respond, inputs=gen_inputs, outputs=gen_outputs, api_visibility="private", **llm)
        answering = [sent, submitted, *auto_events]
        stop.click(None, cancels=answering, queue=False, api_visibility="private").then(
            lambda: "Stopped.", outputs=[status], queue=False, api_visibility="private"
        )
        clear.click(
            h.clear, outputs=[chatbot, message, audio, status], cancels=answering, queue=False,
            api_visibility="private",
        )
    demo.queue(max_size=32, default_concurrency_limit=1)
    return demo


def launch_page(
    demo: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True, max_file_size: str = "25mb",
) -> Any:
    """Serve the page locally: no share link, no analytics, no SSR node server, no gradio footer links."""
    return demo.launch(
        server_name=host, server_port=port, share=False, inbrowser=False, prevent_thread_lock=not block,
        show_error=True, quiet=False, max_file_size=max_file_size, ssr_mode=False, footer_links=[],
        theme=gr.themes.Default(primary_hue="orange", secondary_hue="slate"), css=CSS, mcp_server=False,
    )
