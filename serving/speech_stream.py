"""Transcribe while the person speaks: audio arrives in chunks, each phrase is decoded as soon as it ends.

    stream = transcriber.stream()
    for chunk in microphone:                      # any sample rate, int or float, mono or (n, channels)
        stream.feed(chunk, sample_rate=48_000)    # voice-activity detection; a finished phrase is decoded here
        print(stream.text)                        # what is final so far
    transcript = stream.finish()                  # the end of speech: decode the last phrase only

A server takes a chunk with `push` instead: it returns at once (the chunk checked and resampled), and the audio
is scanned and decoded in order on the stream's own worker thread. A handler that decodes while the next chunk
arrives loses audio (Gradio keeps only the newest chunk of a stream whose handler is still busy), so a slow
phrase must never hold the handler. `finish` first takes every chunk still waiting, in order.

Phrases are cut by Silero VAD (faster-whisper's model, run window by window with its state carried over, so the
probabilities are the same as one pass over the whole clip): a phrase ends at a pause of `PAUSE_SECONDS`;
a phrase longer than `MAX_PHRASE_SECONDS` is cut in the middle of its longest pause of 0.18 s or more (in its
second half), and uninterrupted speech at twice that length at its quietest moment. Each phrase is decoded with
the text before it as Whisper's prompt. A stream is safe to feed, push and finish from different threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from serving.asr import (
    SAMPLE_RATE, AudioTooLong, EmptyAudio, NoSpeech, Transcript, _fmt_seconds, as_mono, check_rate, float_pcm_divisor,
)

if TYPE_CHECKING:
    from serving.asr import Transcriber

WINDOW = 512  # Silero VAD window at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window Silero sees
SPEECH_ON, SPEECH_OFF = 0.5, 0.35  # faster-whisper's thresholds: enter speech at 0.5, leave it below 0.35
PAUSE_SECONDS = 0.3  # a pause this long ends a phrase
MIN_SPEECH_SECONDS = 0.25  # a "phrase" with less speech is a click or a breath: dropped
MAX_PHRASE_SECONDS = 5.0  # a longer phrase is cut at its longest pause >= SHORT_PAUSE_SECONDS; with none, at 10 s
SHORT_PAUSE_SECONDS = 0.18
EDGE_PAD_SECONDS = 0.15  # audio kept around a phrase's speech


class StreamingVad:
    """Silero speech probabilities for each 32 ms window, computed as audio arrives."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities for ``windows`` (n, 512): the next n windows of the stream."""
        if not len(windows):
            return np.zeros(0, np.float32)
        previous = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]])
        out, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([previous, windows], axis=1), "h": self._h, "c": self._c}
        )
        self._context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, np.float32).reshape(-1)


class _Resampler:
    """Any rate, int or float, mono or several channels (`serving.asr.as_mono`) -> mono 16 kHz float32; keeps its
    filter state across chunks. Raises `NotAudio` for data that is not sound or a rate no recording has."""

    def __init__(self) -> None:
        self._rate: int | None = None
        self._resampler = None
        self._divisor = 1.0  # integer PCM sent as floats: the largest scale a chunk needed, kept for the quiet ones

    def __call__(self, chunk: np.ndarray, rate: int) -> np.ndarray:
        rate = check_rate(rate)
        self._divisor = max(self._divisor, float_pcm_divisor(chunk))
        data = as_mono(chunk, self._divisor)
        if rate == SAMPLE_RATE or not data.size:  # an empty chunk (a header, nothing after it) adds nothing
            return data
        import av

        if self._resampler is None or self._rate != rate:
            self._rate = rate
            self._resampler = av.audio.resampler.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        frame = av.AudioFrame.from_ndarray(data[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        return self._samples(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """The samples still in the filter (the end of a whole clip)."""
        return self._samples(self._resampler.resample(None)) if self._resampler is not None else np.zeros(0, np.float32)

    @staticmethod
    def _samples(frames: list) -> np.ndarray:  # type: ignore[type-arg]
        out = [f.to_ndarray().reshape(-1) for f in frames]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """A whole clip (anything `as_mono` reads) at ``rate`` -> mono 16 kHz float32."""
    resampler = _Resampler()
    return np.concatenate([resampler(samples, rate), resampler.flush()])


class SpeechStream:
    """One question, transcribed phrase by phrase while it is spoken (see the module doc)."""

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self._lock = threading.Lock()
        self._vad = StreamingVad()
        self._resample = _Resampler()
        self._audio = np.zeros(0, np.float32)
        self._n = 0  # samples received
        self._probs = np.zeros(0, np.float32)
        self._in_speech = False
        self._phrase_start: int | None = None  # first speech window of the open phrase
        self._last_speech: int | None = None  # window after the open phrase's last speech window
        self._cut = 0  # sample where the open phrase's audio starts (everything before is decoded)
        self._speech_windows = 0
        self._scanned = 0  # windows walked by _scan
        self._texts: list[str] = []
        self._tokens: list[int] = []
        self.busy_seconds = 0.0  # processing time so far
        self.phrases = 0
        self.started = time.perf_counter()
        self.ended: float | None = None  # when finish() was called: the end of speech
        self.result: Transcript | None = None
        self._push_lock = threading.Lock()
        self._pushed = 0  # samples pushed (16 kHz)
        self._waiting: deque[np.ndarray] = deque()  # pushed samples not taken yet, oldest first
        self._waiting_lock = threading.Lock()  # guards _waiting and _working (taken inside _lock, never around it)
        self._working = False  # a worker thread is taking the waiting chunks
        self._failed: Exception | None = None  # what a pushed chunk raised: raised again by push and finish

    @property
    def text(self) -> str:
        """The transcript of the phrases decoded so far."""
        return " ".join(t for t in self._texts if t)

    @property
    def audio_seconds(self) -> float:
        return self._n / SAMPLE_RATE

    def feed(self, chunk: np.ndarray, sample_rate: int = SAMPLE_RATE) -> str:
        """Add audio; decode any phrase that ended. Returns the text so far. Raises `AudioTooLong` past the cap."""
        with self._lock:
            if self.result is not None:
                raise RuntimeError("this stream is finished")
            start = time.perf_counter()
            try:
                self._append(self._resample(chunk, sample_rate))
                self._scan(final=False)
            finally:
                self.busy_seconds += time.perf_counter() - start
            return self.text

    def push(self, chunk: np.ndarray, sample_rate: int = SAMPLE_RATE) -> str:
        """Queue audio for the stream's worker thread and return at once with the text decoded so far.

        The chunk is checked and resampled here, so a chunk that is not sound (`NotAudio`) or runs past the cap
        (`AudioTooLong`) raises at once; voice-activity detection and decoding run on the worker, in order.
        Raises what the worker met on an earlier chunk, and `RuntimeError` once finished. Use `push` or `feed`
        on a stream, not both."""
        if self.result is not None:
            raise RuntimeError("this stream is finished")
        if self._failed is not None:
            raise self._failed
        with self._push_lock:  # one resampler, chunks in the order they are pushed
            samples = self._resample(chunk, sample_rate)
            self._check_cap(self._pushed + samples.size)
            self._pushed += samples.size
            with self._waiting_lock:
                self._waiting.append(samples)
                start, self._working = not self._working, True
        if start:
            threading.Thread(target=self._work, name="speech-stream", daemon=True).start()
        return self.text

    def _work(self) -> None:
        """Take the pushed samples in order until none are waiting."""
        while True:
            with self._lock:
                with self._waiting_lock:
                    if not self._waiting or self.result is not None:
                        self._working = False
                        return
                    samples = self._waiting.popleft()
                self._take(samples)

    def _take(self, samples: np.ndarray) -> None:
        """Pushed samples (lock held); the first error is kept for push and finish, and what follows dropped."""
        if self._failed is not None:
            return
        start = time.perf_counter()
        try:
            self._append(samples)
            self._scan(final=False)
        except Exception as exc:  # raised again in the pushing thread: push or finish
            self._failed = exc
            with self._waiting_lock:
                self._waiting.clear()
        finally:
            self.busy_seconds += time.perf_counter() - start

    def finish(self) -> Transcript:
        """The end of speech: decode what is left and return the transcript (`EmptyAudio` / `NoSpeech` if none)."""
        with self._lock:
            if self.result is not None:
                return self.result
            self.ended = start = time.perf_counter()
            while True:  # the pushed chunks the worker has not taken yet, in order
                with self._waiting_lock:
                    if not self._waiting:
                        break
                    samples = self._waiting.popleft()
                self._take(samples)
            if self._failed is not None:
                raise self._failed
            scan_start = time.perf_counter()
            try:
                self._scan(final=True)
            finally:
                self.busy_seconds += time.perf_counter() - scan_start
            seconds = self._n / SAMPLE_RATE
            if seconds < 0.2:
                raise EmptyAudio("Nothing was recorded: press Record, ask your question, then press Stop.")
            if not self.text:
                raise NoSpeech("No speech found in the recording. Try again, a little closer to the microphone.")
            self.result = Transcript(
                text=self.text, audio_seconds=seconds, speech_seconds=self._speech_windows * WINDOW / SAMPLE_RATE,
                elapsed_seconds=self.busy_seconds, final_seconds=time.perf_counter() - start, phrases=self.phrases,
            )
            self._audio = np.zeros(0, np.float32)  # decoded: a tab keeps its last stream, not its recording
            return self.result

    # -- internals (lock held) -------------------------------------------------------------------------------
    def _check_cap(self, samples: int) -> None:
        """`AudioTooLong` when ``samples`` (16 kHz) run past the transcriber's cap."""
        if samples > int((self.transcriber.max_seconds + 0.05) * SAMPLE_RATE):
            cap = _fmt_seconds(self.transcriber.max_seconds)
            raise AudioTooLong(f"The clip is longer than {cap}: please ask a shorter question (the limit is {cap}).")

    def _append(self, samples: np.ndarray) -> None:
        self._check_cap(self._n + samples.size)
        if self._n + samples.size > self._audio.size:
            grown = np.zeros(max(2 * self._audio.size, self._n + samples.size, 10 * SAMPLE_RATE), np.float32)
            grown[: self._n] = self._audio[: self._n]
            self._audio = grown
        self._audio[self._n : self._n + samples.size] = samples
        self._n += samples.size
        done = self._probs.size
        whole = self._n // WINDOW
        if whole > done:
            windows = self._audio[done * WINDOW : whole * WINDOW].reshape(-1, WINDOW)
            self._probs = np.concatenate([self._probs, self._vad(windows)])

    def _scan(self, final: bool) -> None:
        """Walk the new windows; decode each phrase that ended (and, when ``final``, the open one)."""
        pause = int(PAUSE_SECONDS * SAMPLE_RATE / WINDOW)
        longest = int(MAX_PHRASE_SECONDS * SAMPLE_RATE / WINDOW)
        for i in range(self._scanned, self._probs.size):
            p = self._probs[i]
            self._in_speech = p >= SPEECH_ON or (self._in_speech and p >= SPEECH_OFF)
            if self._in_speech:
                self._speech_windows += 1
                if self._phrase_start is None:
                    self._phrase_start = i
                self._last_speech = i + 1
            if self._phrase_start is None:
                continue
            if not self._in_speech and i + 1 - self._last_speech >= pause:
                self._close_phrase(self._last_speech)
            elif i + 1 - self._phrase_start >= longest:
                cut = self._short_pause(self._phrase_start + longest // 2, i + 1)
                if cut is None and i + 1 - self._phrase_start >= 2 * longest:
                    lo = self._phrase_start + longest  # no pause at all: the quietest window of the last part
                    cut = lo + int(np.argmin(self._probs[lo : i + 1]))
                if cut is not None:
                    self._close_phrase(cut, cut_inside=True)
        self._scanned = self._probs.size
        if final and self._phrase_start is not None:
            self._close_phrase(self._last_speech if not self._in_speech else None)

    def _short_pause(self, lo: int, hi: int) -> int | None:
        """The middle of the longest pause (>= `SHORT_PAUSE_SECONDS` below the speech threshold) in windows
        [lo, hi), or None."""
        quiet = self._probs[lo:hi] < SPEECH_OFF
        best, best_len, run = None, int(SHORT_PAUSE_SECONDS * SAMPLE_RATE / WINDOW) - 1, 0
        for j, q in enumerate(quiet):
            run = run + 1 if q else 0
            if run > best_len:
                best, best_len = lo + j - run // 2, run
        return best

    def _close_phrase(self, end_window: int | None, cut_inside: bool = False) -> None:
        pad = int(EDGE_PAD_SECONDS * SAMPLE_RATE)
        begin = max(self._cut, self._phrase_start * WINDOW - pad)
        end = self._n if end_window is None else min(self._n, end_window * WINDOW + (0 if cut_inside else pad))
        speech = (end_window if end_window is not None else self._probs.size) - self._phrase_start
        if speech * WINDOW >= MIN_SPEECH_SECONDS * SAMPLE_RATE:
            text, tokens = self.transcriber.decode(self._audio[begin:end], self._tokens)
            self.phrases += 1
            self._texts.append(text)
            self._tokens += tokens
        self._cut = end
        if cut_inside and end_window is not None and self._last_speech is not None and self._last_speech > end_window:
            self._phrase_start = end_window  # the speech after the cut opens the next phrase
        else:
            self._phrase_start = self._last_speech = None
