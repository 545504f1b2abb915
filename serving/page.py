"""The voice demo page (gr.Blocks): speak, upload or type a question; the fine-tuned model answers, streamed,
and speaks its answer.

The microphone streams: Whisper transcribes each phrase while the person is still speaking (and the model reads
the question so far), so when they press Stop only the last phrase is left. The answer is spoken phrase by
phrase as it streams (Piper, or espeak-ng), played by the page's own audio player.

The handlers live in `DemoHandlers`, plain Python that tests call without a browser; `build_page` wires them
to components; `launch_page` serves the page with analytics and share links off. Endpoint names for API
clients (``gradio_client``): ``/transcribe`` (audio file -> transcript, status) and ``/respond``
(message, history, temperature, max new tokens, seed -> history, message box, status).
"""

from __future__ import annotations

import itertools
import logging
import os
import struct
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported; users may opt in
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from serving.asr import AudioInputError, EmptyAudio, NotAudio, Transcriber, check_rate, load_audio  # noqa: E402
from serving.generation import LONE_SURROGATE, Generator, PromptTooLong, shown  # noqa: E402
from serving.prompts import SEED_PROMPTS  # noqa: E402
from serving.speech_stream import SpeechStream  # noqa: E402
from serving.tts import Speaker, Voice  # noqa: E402

log = logging.getLogger("tome.serve")

History = list[dict[str, Any]]

CSS = """
#status { min-height: 2.6em; }
#status p { margin: 0; }
#loaded { opacity: 0.85; font-size: 0.92em; }
#tts audio { width: 100%; height: 2.4em; }
footer { display: none !important; }
"""

# The spoken answer's player: the handler sends {"answer": n, "clips": [{"src": data URI, "text": ...}, ...]}
# (each new clip appended, so Gradio sends only the new one); the player plays them in order, one after another.
PLAYER_JS = """
const player = document.createElement('audio');
player.controls = true;
player.preload = 'auto';
element.appendChild(player);
let answer = null, next = 0, queue = [];
function playNext() {
  const src = queue.shift();
  if (!src) return;
  player.src = src;
  player.play().catch(() => {});
}
player.addEventListener('ended', playNext);
watch('value', () => {
  const v = props.value;
  if (!v || !v.clips) { queue = []; player.pause(); return; }
  if (v.answer !== answer) { answer = v.answer; next = 0; queue = []; player.pause(); }
  while (next < v.clips.length) queue.push(v.clips[next++].src);
  if (player.paused || player.ended) playNext();
});
"""
PAUSE_PLAYER_JS = "() => { document.querySelectorAll('#tts audio').forEach(a => a.pause()); }"

_answer_ids = itertools.count(1)


@dataclass(frozen=True)
class PageSettings:
    """Defaults shown on the page and limits enforced by it."""

    temperature: float = 0.3
    max_new_tokens: int = 256
    max_new_tokens_cap: int = 1024
    seed: int = 0
    auto_send: bool = False
    speak: bool = True
    title: str = "tome serve: talk to your fine-tuned model"


@dataclass
class SpokenQuestion:
    """The last question a tab asked by voice: its transcript and when speech ended (for the latency line)."""

    text: str
    heard_seconds: float  # length of the recording
    ended: float  # time.perf_counter() at the end of speech (Stop pressed, or the upload received)
    transcribed: float  # ... and when its transcript was final


@dataclass
class VoiceSession:
    """One browser tab's microphone stream and last spoken question."""

    stream: SpeechStream | None = None
    stream_error: str | None = None
    question: SpokenQuestion | None = None
    prefilled: str = ""
    shown: str = ""  # the status line the microphone's handler last sent
    history: list[dict[str, str]] = field(default_factory=list)  # the chat when Record was pressed, for read-ahead
    lock: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=time.monotonic)


def _text_of(content: Any) -> str:
    """Text of a Chatbot message's content (a string, or gradio's list of {"type": "text", "text": ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return "".join(_text_of(c) for c in content)
    return ""


def _valid_text(value: Any) -> Any:
    """``value`` (text, or a message / history holding text) with each lone surrogate replaced by U+FFFD.

    A browser can send half of a UTF-16 pair (pasted broken text; JSON allows ``"\\ud800"``); no encoder accepts
    one, so the model could not read the question and Gradio could not send the chat back."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: _valid_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_valid_text(v) for v in value]
    return value


def _plain_history(history: History | None) -> list[dict[str, str]]:
    out = []
    for msg in history or []:
        role = msg.get("role") if isinstance(msg, dict) else None
        if role in ("user", "assistant", "system"):
            out.append({"role": role, "content": _text_of(msg.get("content"))})
    return out


def _number(name: str, value: Any, kind: type) -> Any:
    """A slider's value (an API client may send anything) as ``kind``; a ValueError that names the setting for
    one that is no number (was: "The model failed to answer (TypeError: float() argument must be ...)" or
    "invalid literal for int() with base 10: 'abc'"), quoting at most `SHOWN_CHARS` of it. A fraction given for
    a whole number is passed on as it is (the generator truncates it): the range check then names the value
    that was sent, not 0 for 0.5."""
    what = "a number" if kind is float else "a whole number"
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):
        number = None
    if number is None or number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be {what}, got {shown(repr(value))}")
    return float(number) if kind is float or not number.is_integer() else int(number)


def _message_text(message: Any) -> str:
    """The message box's text, stripped; "" for anything that is not text (an API client may send a number)."""
    return _valid_text(message).strip() if isinstance(message, str) else ""


def _blank(text: str) -> bool:
    """True for text with no visible character: only spaces, or format characters such as a zero-width space
    (U+200B, category Cf) or a no-break space (Zs), which `str.strip` keeps and the model would be asked."""
    return all(c.isspace() or unicodedata.category(c) in ("Cf", "Zs") for c in text)


def warn(text: str) -> str:
    return f"**⚠ {text}**"


def read_chunk(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """A microphone chunk from the browser -> (samples, sample rate).

    Gradio's recorder sends each chunk as a 16-bit PCM WAV whose header gives no real length (it is written
    before the recording ends), so the samples are everything after the ``data`` tag. Anything else is decoded
    with PyAV. A chunk with nothing in it (0 bytes, or a header only) is no samples, not an error: the browser
    sends one when Stop comes at once. One that cannot be read (a cut-off header, a file that is gone or is a
    folder) raises `NotAudio`, and only that chunk is lost (see `DemoHandlers.hear`).
    """
    try:
        raw = Path(path).read_bytes()
    except (OSError, ValueError) as exc:  # gone, a folder, a name with a NUL byte
        raise NotAudio(f"A microphone chunk could not be read ({type(exc).__name__}).") from exc
    if not raw:
        return np.zeros(0, np.int16), 16_000
    if raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
        pos = 12
        rate = channels = bits = 0
        while pos + 8 <= len(raw):
            tag, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
            if tag == b"fmt ":
                if pos + 24 > len(raw):
                    raise NotAudio("A microphone chunk's WAV header is cut off.")
                _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", raw[pos + 8 : pos + 24])
            elif tag == b"data":
                if bits == 16 and rate and channels:
                    check_rate(rate)
                    data = raw[pos + 8 :]
                    samples = np.frombuffer(data[: len(data) // (2 * channels) * 2 * channels], "<i2")
                    return samples.reshape(-1, channels) if channels > 1 else samples, rate
                break
            pos += 8 + size + (size & 1)
    try:
        return load_audio(path), 16_000
    except EmptyAudio:  # a container with no samples in it yet
        return np.zeros(0, np.int16), 16_000


class ReadAhead:
    """The model reads a question while it is being asked (`Generator.prefill`), on a thread of its own: only
    the newest request waits, so the microphone's handler never waits for the model. A failure is logged: a
    read-ahead is only a head start."""

    def __init__(self, prefill: Callable[[list[dict[str, str]]], Any]) -> None:
        self._prefill = prefill
        self._lock = threading.Lock()
        self._next: list[dict[str, str]] | None = None
        self._running = False

    def request(self, messages: list[dict[str, str]]) -> None:
        with self._lock:
            self._next = messages
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name="read-ahead", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._lock:
                messages, self._next = self._next, None
                if messages is None:
                    self._running = False
                    return
            try:
                self._prefill(messages)
            except Exception:  # only a head start: the recording goes on without it
                log.exception("prefill failed")


class DemoHandlers:
    """What the page's buttons do; each handler returns (or yields) values for its outputs."""

    def __init__(
        self, generator: Generator, transcriber: Transcriber, settings: PageSettings | None = None,
        voice: Voice | None = None,
    ) -> None:
        self.generator = generator
        self.transcriber = transcriber
        self.settings = settings or PageSettings()
        self.voice = voice
        self._sessions: dict[str, VoiceSession] = {}
        self._read_ahead = ReadAhead(lambda messages: self.generator.prefill(messages))
        self._sessions_lock = threading.Lock()

    @property
    def loaded_line(self) -> str:
        voice = self.voice.description if self.voice else "off"
        return (
            f"**Model:** {self.generator.description} · **Speech recognition:** {self.transcriber.description} · "
            f"**Voice:** {voice} · clips up to {self.transcriber.max_seconds:.0f} s · runs on CPU, no network needed"
        )

    def session(self, request: gr.Request | None) -> VoiceSession:
        """The tab's voice session (one per browser tab; tests without a request share one)."""
        key = str(getattr(request, "session_hash", None) or "-")
        with self._sessions_lock:
            now = time.monotonic()
            for stale in [k for k, s in self._sessions.items() if now - s.used > 3600]:
                del self._sessions[stale]
            s = self._sessions.setdefault(key, VoiceSession())
            s.used = now
            return s

    # -- speech: an uploaded file ------------------------------------------------------------------------------
    def transcribe(self, audio: str | None, request: gr.Request | None = None) -> tuple[str, str]:
        """Audio file -> (transcript for the message box, status line). Bad audio gives ("", a warning)."""
        ended = time.perf_counter()
        try:
            t = self.transcriber.transcribe(audio)
        except AudioInputError as exc:
            return "", warn(exc.user_message)
        except Exception as exc:  # never take the page down
            log.exception("transcription failed")
            return "", warn(f"Transcription failed ({type(exc).__name__}). Try another recording.")
        self.session(request).question = SpokenQuestion(t.text, t.audio_seconds, ended, time.perf_counter())
        return t.text, (
            f"Heard {t.audio_seconds:.1f} s, transcribed in {t.elapsed_seconds:.1f} s. "
            "Edit the text if needed, then press **Send**."
        )

    # -- speech: the microphone, streamed --------------------------------------------------------------------
    def listen(self, request: gr.Request | None = None, history: History | None = None) -> str:
        """Recording started: a new stream for this tab; the chat so far is kept for the model's read-ahead (sent
        once here, not with every chunk: a long chat made every 100 ms chunk carry it)."""
        s = self.session(request)
        with s.lock:
            s.stream, s.stream_error, s.prefilled, s.shown = self.transcriber.stream(), None, "", ""
            s.history = _plain_history(_valid_text(history))
        return "🎙 Listening… press **Stop** when you are done."

    def hear_chunk(self, chunk: str | None, request: gr.Request | None = None) -> Any:
        """`hear` as the page calls it: the chat is the one `listen` kept."""
        return self.hear(chunk, None, request)

    def hear(self, chunk: str | None, history: History | None = None, request: gr.Request | None = None) -> Any:
        """A microphone chunk: queue it for the tab's stream (phrases are decoded on the stream's thread); let the
        model read the question so far (on a thread of its own). Returns at once: Gradio keeps only the newest
        chunk while this handler runs, so a handler that waited for a phrase to decode would drop the audio
        spoken meanwhile."""
        s = self.session(request)
        with s.lock:
            if s.stream is None or (s.stream.result is not None and time.perf_counter() - (s.stream.ended or 0) > 1.0):
                s.stream, s.stream_error, s.prefilled, s.shown = self.transcriber.stream(), None, "", ""  # no `listen`
            stream = s.stream
        if chunk is None or stream.result is not None or s.stream_error:
            return gr.skip()
        try:
            samples, rate = read_chunk(chunk)
        except NotAudio as exc:  # one damaged chunk: a tenth of a second lost, not the whole recording
            log.warning("microphone chunk skipped: %s", exc.user_message)
            return gr.skip()
        try:
            text = stream.push(samples, rate)  # decoded on the stream's thread: this handler returns at once
        except AudioInputError as exc:
            s.stream_error = exc.user_message
            return warn(exc.user_message)
        except Exception as exc:  # never take the page down
            if isinstance(exc, RuntimeError) and stream.result is not None:  # a chunk that arrived after Stop
                return gr.skip()
            log.exception("streaming transcription failed")
            s.stream_error = f"Transcription failed ({type(exc).__name__}). Try again."
            return warn(s.stream_error)
        if text and text != s.prefilled:  # the model reads the question while it is being asked
            s.prefilled = text
            chat = s.history if history is None else _plain_history(_valid_text(history))
            self._read_ahead.request(chat + [{"role": "user", "content": text}])
        heard = f"🎙 Listening ({stream.audio_seconds:.0f} s)…"
        status = f"{heard} {text}" if text else heard
        if status == s.shown:  # ten chunks a second: the page is sent a status line only when it changes
            return gr.skip()
        s.shown = status
        return status

    def heard(self, request: gr.Request | None = None) -> tuple[str, str]:
        """Recording stopped: decode the last phrase -> (transcript for the message box, status line)."""
        s = self.session(request)
        with s.lock:
            stream, error = s.stream, s.stream_error
        if error:
            return "", warn(error)
        if stream is None:
            return "", warn("Nothing was recorded: press Record, ask your question, then press Stop.")
        try:
            t = stream.finish()
        except AudioInputError as exc:
            return "", warn(exc.user_message)
        except Exception as exc:  # never take the page down
            log.exception("transcription failed")
            return "", warn(f"Transcription failed ({type(exc).__name__}). Try again.")
        s.question = SpokenQuestion(t.text, t.audio_seconds, stream.ended or time.perf_counter(), time.perf_counter())
        return t.text, (
            f"Heard {t.audio_seconds:.1f} s; transcript ready {t.final_seconds:.2f} s after you stopped. "
            "Edit the text if needed, then press **Send**."
        )

    # -- chat ------------------------------------------------------------------------------------------------
    def _answer(
        self, message: str | None, history: History | None, temperature: float, max_new_tokens: float, seed: float,
        speaker: Speaker | None, question: SpokenQuestion | None, auto: bool = False,
    ) -> Iterator[tuple[History, str, str, list[dict[str, str]] | None]]:
        """Stream the answer: yields (chat history, message box, status line, new spoken clips or None)."""
        start = time.perf_counter()
        history = _valid_text(list(history or []))
        text = _message_text(message)
        if _blank(text):
            yield history, message if isinstance(message, str) else "", warn("Type a question, or record or upload one, first."), None
            return
        prior = _plain_history(history)
        history = history + [{"role": "user", "content": text}, {"role": "assistant", "content": ""}]
        yield history, "", "Thinking…", None
        answer = ""
        first: float | None = None
        first_audio: float | None = None
        pieces = None
        left_out = 0
        try:
            asked = prior + [{"role": "user", "content": text}]
            temperature, max_new_tokens, seed = (_number("temperature", temperature, float),
                                                 _number("max_new_tokens", max_new_tokens, int), _number("seed", seed, int))
            pieces = self.generator.stream(  # checks the ranges; the model runs when the pieces are read
                asked, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
            )
            left_out = len(asked) - len(self.generator.fit_messages(asked, max_new_tokens))  # the oldest turns
            for piece in pieces:
                if first is None:
                    first = time.perf_counter()
                answer += piece
                history[-1] = {"role": "assistant", "content": answer}
                clips = None
                if speaker is not None:
                    speaker.add(piece)
                    ready = speaker.ready()
                    if ready:
                        first_audio = first_audio or ready[0].ready_at
                        clips = [{"src": c.data_uri(), "text": c.text} for c in ready]
                yield history, "", "Answering…", clips
            if speaker is not None:
                speaker.close()
                for clip in speaker.rest():
                    first_audio = first_audio or clip.ready_at
                    yield history, "", "Speaking…", [{"src": clip.data_uri(), "text": clip.text}]
        except (PromptTooLong, ValueError) as exc:
            yield history[:-2], text, warn(str(exc)), None
            return
        except Exception as exc:  # never take the page down
            log.exception("generation failed")
            yield history[:-2], text, warn(f"The model failed to answer ({type(exc).__name__}: {exc})."), None
            return
        finally:  # Stop, Clear or a closed tab close this handler: stop the model and the voice too
            if pieces is not None:
                pieces.close()
            if speaker is not None:
                speaker.cancel()
        total = time.perf_counter() - start
        if not answer.strip():
            history[-1] = {"role": "assistant", "content": "*(the model gave an empty answer; try again with a higher temperature)*"}
            yield history, "", warn("The model gave an empty answer."), None
            return
        note = (
            f" The chat no longer fits the model's context: its {left_out} oldest message{'s' if left_out > 1 else ''} "
            "went unread (**Clear** starts over)." if left_out else ""
        )
        latency = latency_line(start, question, first, first_audio, auto=auto)
        yield history, "", f"✓ Answered in {total:.1f} s.{note}\n\n{latency}", None

    def respond(
        self, message: str | None, history: History | None, temperature: float, max_new_tokens: float, seed: float
    ) -> Iterator[tuple[History, str, str]]:
        """Stream the answer (text only, for API clients): yields (chat history, message box, status line)."""
        for history_, box, status, _ in self._answer(message, history, temperature, max_new_tokens, seed, None, None):
            yield history_, box, status

    def answer(
        self, message: str | None, history: History | None, temperature: float, max_new_tokens: float, seed: float,
        speak: bool = False, request: gr.Request | None = None, auto: bool = False,
    ) -> Iterator[tuple[Any, Any, Any, Any]]:
        """The page's Send (``auto``: sent by itself after a transcription): stream the answer and, when ``speak``,
        its audio. Yields (history, box, status, speech)."""
        s = self.session(request)
        question = s.question if s.question and s.question.text == _message_text(message) else None
        s.question = None  # a spoken question is timed once; an edited one is a typed one
        speaker = Speaker(self.voice) if (speak and self.voice is not None) else None
        speech: dict[str, Any] | None = {"answer": next(_answer_ids), "clips": []} if speaker else None
        sent_empty = False
        steps = self._answer(message, history, temperature, max_new_tokens, seed, speaker, question, auto)
        for history, box, status, clips in steps:
            if speech is not None and (clips or not sent_empty):
                speech = {"answer": speech["answer"], "clips": speech["clips"] + (clips or [])}
                sent_empty = True
                yield history, box, status, speech
            else:
                yield history, box, status, gr.skip()

    def auto_answer(
        self, auto_send: bool, message: str | None, history: History | None, temperature: float,
        max_new_tokens: float, seed: float, speak: bool = False, request: gr.Request | None = None,
    ) -> Iterator[Any]:
        """After a transcription: send it right away when the auto-send box is ticked and it holds text."""
        if not auto_send or _blank(_message_text(message)):
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield from self.answer(message, history, temperature, max_new_tokens, seed, speak, request, auto=True)

    def auto_respond(
        self, auto_send: bool, message: str | None, history: History | None, temperature: float,
        max_new_tokens: float, seed: float,
    ) -> Iterator[Any]:
        """`auto_answer` without speech (three outputs)."""
        for out in self.auto_answer(auto_send, message, history, temperature, max_new_tokens, seed):
            yield out[:3]

    @staticmethod
    def clear() -> tuple[History, str, None, None, str, None]:
        return [], "", None, None, "", None


def latency_line(
    start: float, question: SpokenQuestion | None, first: float | None, first_audio: float | None, *, auto: bool,
) -> str:
    """The page's latency line, e.g. 'Latency: heard 6.4 s · transcribed +0.05 s · first token +0.31 s · first
    audio +0.70 s (from the end of speech)'. A spoken question sent by hand: the answer counts from Send."""
    spoken = [f"heard {question.heard_seconds:.1f} s", f"transcribed +{question.transcribed - question.ended:.2f} s"] if question else []
    origin = question.ended if (question and auto) else start
    answer = []
    if first is not None:
        answer.append(f"first token +{first - origin:.2f} s")
    if first_audio is not None:
        answer.append(f"first audio +{first_audio - origin:.2f} s")
    if question and auto:
        return f"Latency: {' · '.join(spoken + answer)} (from the end of speech)"
    if question:
        return f"Latency: {' · '.join(spoken)} (from the end of speech) · {' · '.join(answer)} (from Send)"
    return f"Latency: {' · '.join(answer)} (from Send)"


def build_page(
    generator: Generator, transcriber: Transcriber, settings: PageSettings | None = None,
    *, voice: Voice | None = None, llm_concurrency: int = 1, asr_concurrency: int = 2, mic_concurrency: int = 8,
) -> gr.Blocks:
    """The demo page. LLM requests run ``llm_concurrency`` at a time (others wait in the queue, shown on the page);
    microphone streams ``mic_concurrency`` at a time, so one tab's answer never holds up another's transcription."""
    h = DemoHandlers(generator, transcriber, settings, voice)
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
                mic = gr.Audio(
                    sources=["microphone"], streaming=True, type="filepath", label="Ask by voice (transcribed as you speak)",
                    elem_id="mic",
                )
                audio = gr.Audio(sources=["upload"], type="filepath", label="… or upload a recording", elem_id="audio")
                with gr.Row():
                    auto_send = gr.Checkbox(value=s.auto_send, label="Send as soon as it is transcribed", elem_id="auto")
                    speak = gr.Checkbox(
                        value=s.speak and voice is not None, interactive=voice is not None, elem_id="speak",
                        label="Speak the answer" if voice is not None else "Speak the answer (no voice installed)",
                    )
                speech = gr.HTML(None, html_template="<div class='tts'></div>", js_on_load=PLAYER_JS, elem_id="tts")
                status = gr.Markdown("", elem_id="status", label="Status")
                with gr.Accordion("Generation settings", open=False):
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
        page_inputs = [*gen_inputs, speak]
        page_outputs = [chatbot, message, status, speech]
        llm = dict(
            concurrency_limit=llm_concurrency, concurrency_id="llm", show_progress="minimal",
            show_progress_on=[chatbot],
        )
        asr = dict(concurrency_limit=asr_concurrency, concurrency_id="asr", show_progress_on=[message])
        private = dict(api_visibility="private")

        mic.start_recording(h.listen, inputs=[chatbot], outputs=[status], queue=False, **private)
        mic.stream(
            h.hear_chunk, inputs=[mic], outputs=[status], stream_every=0.1,
            time_limit=int(transcriber.max_seconds) + 10, concurrency_limit=mic_concurrency, concurrency_id="mic",
            show_progress="hidden", **private,
        )
        spoken = mic.stop_recording(h.heard, outputs=[message, status], **asr, **private)
        uploaded = audio.upload(h.transcribe, inputs=[audio], outputs=[message, status], api_name="transcribe", **asr)
        auto_events = [
            ev.then(h.auto_answer, inputs=[auto_send, *page_inputs], outputs=page_outputs, **llm, **private)
            for ev in (spoken, uploaded)
        ]
        api_only = gr.Button(visible=False)  # /respond for API clients: the answer as text
        api_only.click(h.respond, inputs=gen_inputs, outputs=[chatbot, message, status], api_name="respond", **llm)
        sent = send.click(h.answer, inputs=page_inputs, outputs=page_outputs, **llm, **private)
        submitted = message.submit(h.answer, inputs=page_inputs, outputs=page_outputs, **llm, **private)
        answering = [sent, submitted, *auto_events]
        stop.click(None, cancels=answering, queue=False, js=PAUSE_PLAYER_JS, **private).then(
            lambda: "Stopped.", outputs=[status], queue=False, **private
        )
        clear.click(
            h.clear, outputs=[chatbot, message, audio, mic, status, speech], cancels=answering, queue=False,
            js=PAUSE_PLAYER_JS, **private,
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
