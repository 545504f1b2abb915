"""serving/: transcription while speaking (`speech_stream`), spoken answers (`tts`), the model reading ahead
(`Generator.prefill`) and the page's voice handlers, without a browser.

Fast tests use no Whisper, no LLM and no Piper; the ones that load a model are marked slow.
"""

from __future__ import annotations

import struct
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from serving.asr import SAMPLE_RATE, AudioTooLong, NoSpeech, load_audio, load_transcriber
from serving.prompts import SEED_PROMPTS
from serving.speech_stream import WINDOW, StreamingVad
from serving.testing import espeak_wav
from serving.tts import EspeakTts, SpeechSplitter, speakable, wav_bytes


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> dict[int, Path]:
    d = tmp_path_factory.mktemp("voice")
    return {i: espeak_wav(p, d / f"seed{i}.wav") for i, p in enumerate(SEED_PROMPTS)}


def mic_chunks(samples: np.ndarray, rate: int = 48_000, seconds: float = 0.1) -> list[np.ndarray]:
    """16 kHz float samples as a browser microphone sends them: int16 at ``rate``, ``seconds`` at a time."""
    import av

    frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=rate)
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]])
    step = int(rate * seconds)
    return [pcm[i : i + step] for i in range(0, pcm.size, step)]


def gradio_wav_chunk(path: Path, pcm: np.ndarray, rate: int = 48_000) -> Path:
    """A chunk the way Gradio's recorder writes it: a WAV header claiming a huge length, then 16-bit PCM."""
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF - 8) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", 0xFFFFFFFF - 44)
    path.write_bytes(header + pcm.astype("<i2").tobytes())
    return path


# --------------------------------------------------------------------------------------------------------------
# fast: voice-activity detection, chunk reading, phrase splitting, espeak-ng
# --------------------------------------------------------------------------------------------------------------


def test_streaming_vad_matches_one_pass(spoken):
    from faster_whisper.vad import get_vad_model

    audio = load_audio(spoken[1])
    audio = audio[: audio.size - audio.size % WINDOW]
    whole = get_vad_model()(audio).reshape(-1)
    vad = StreamingVad()
    windows = audio.reshape(-1, WINDOW)
    parts, i = [], 0
    for n in (1, 3, 7, 2, 40, 5):  # uneven pieces, as chunks arrive
        parts.append(vad(windows[i : i + n]))
        i += n
    parts.append(vad(windows[i:]))
    assert np.allclose(np.concatenate(parts), whole, atol=1e-5)
    assert whole.max() > 0.9 and whole.min() < 0.2  # speech and pauses both seen


def test_gradio_chunks_are_read_whatever_their_header_says(tmp_path):
    from serving.page import read_chunk

    pcm = (np.sin(np.arange(4800) / 10) * 8000).astype(np.int16)
    samples, rate = read_chunk(gradio_wav_chunk(tmp_path / "chunk.wav", pcm))
    assert rate == 48_000 and np.array_equal(samples, pcm)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the first phrase ends early (first sentence, or a comma after 3 words), later ones at sentence ends
        ("Sure! Here is a plan for your trip to Japan. It has three days.",
         ["Sure!", "Here is a plan for your trip to Japan.", "It has three days."]),
        ("Photosynthesis is how plants, using sunlight, make their food. Then they grow.",
         ["Photosynthesis is how plants,", "using sunlight, make their food.", "Then they grow."]),
        # markdown is not read out; list numbers join their item
        ("**Day 1:** Visit *Tokyo* and [Asakusa](http://x.y).\n\n1. Eat sushi.\n2. See the temples there.",
         ["Day 1: Visit Tokyo and Asakusa.", "1. Eat sushi.", "2. See the temples there."]),
        # no punctuation: the first phrase still stops after 8 words
        ("one two three four five six seven eight nine ten", ["one two three four five six seven eight", "nine ten"]),
    ],
)
def test_answers_are_cut_into_phrases_as_they_stream(text, expected):
    splitter = SpeechSplitter()
    phrases = []
    for i in range(0, len(text), 3):  # three characters at a time, like tokens
        phrases += splitter.add(text[i : i + 3])
    phrases += splitter.flush()
    assert phrases == expected
    assert speakable("`code` # Title") == "code Title"


def test_latency_line_counts_from_the_end_of_speech_or_from_send():
    from serving.page import SpokenQuestion, latency_line

    q = SpokenQuestion("Hi there", heard_seconds=6.4, ended=100.0, transcribed=100.05)
    assert latency_line(101.0, q, 100.3, 100.8, auto=True) == (
        "Latency: heard 6.4 s · transcribed +0.05 s · first token +0.30 s · first audio +0.80 s (from the end of speech)"
    )
    assert latency_line(104.0, q, 104.2, None, auto=False) == (
        "Latency: heard 6.4 s · transcribed +0.05 s (from the end of speech) · first token +0.20 s (from Send)"
    )
    assert latency_line(10.0, None, 10.25, 10.5, auto=False) == "Latency: first token +0.25 s · first audio +0.50 s (from Send)"


def test_espeak_ng_library_speaks():
    voice = EspeakTts()
    samples = voice.synthesize("Hello, this is a test.")
    assert samples.dtype == np.int16 and 0.5 < samples.size / voice.sample_rate < 5
    assert np.abs(samples).max() > 1000
    wav = wav_bytes(samples, voice.sample_rate)
    assert wav[:4] == b"RIFF" and len(wav) == 44 + 2 * samples.size


class _SlowTranscriber:
    """Whisper's place in `SpeechStream`: each phrase decodes to its length in samples. Off the main thread a
    decode waits for ``gate``, as a slow Whisper on a busy machine does; the threads that decoded are kept."""

    def __init__(self, max_seconds: float = 30.0) -> None:
        self.max_seconds = max_seconds
        self.gate = threading.Event()
        self.threads: list[str] = []

    def stream(self):
        from serving.speech_stream import SpeechStream

        return SpeechStream(self)

    def decode(self, samples, previous=()):
        main = threading.current_thread() is threading.main_thread()
        self.threads.append("main" if main else "worker")
        if not main:
            assert self.gate.wait(60), "the test never opened the gate"
        return f"<{samples.size}>", [samples.size % 997]


def test_pushed_chunks_are_decoded_in_order_off_the_pushing_thread(spoken):
    chunks = mic_chunks(load_audio(spoken[0]))  # three sentences: several phrases
    reference = _SlowTranscriber()
    fed = reference.stream()
    for c in chunks:
        fed.feed(c, 48_000)
    expected = fed.finish()
    assert expected.phrases >= 2

    slow = _SlowTranscriber()
    stream = slow.stream()
    for c in chunks:  # every push returns while the first phrase's decode still waits
        assert stream.push(c, 48_000) == ""
    assert "main" not in slow.threads and stream.phrases == 0
    slow.gate.set()
    t = stream.finish()  # takes every chunk still waiting, in order
    assert (t.text, t.phrases, t.audio_seconds) == (expected.text, expected.phrases, expected.audio_seconds)
    assert stream.finish() is t
    with pytest.raises(RuntimeError):
        stream.push(np.zeros(1600, np.int16), 16_000)


def test_a_pushed_chunk_past_the_cap_raises_at_once_and_a_failed_decode_on_a_later_push_or_finish(spoken):
    from serving.asr import NotAudio

    chunks = mic_chunks(load_audio(spoken[0]))  # ~10 s
    capped = _SlowTranscriber(max_seconds=2.0)
    stream = capped.stream()
    for c in chunks[:20]:  # 2 s
        stream.push(c, 48_000)
    with pytest.raises(AudioTooLong) as err:
        stream.push(chunks[20], 48_000)
    assert "longer than 2.0 s" in err.value.user_message
    with pytest.raises(NotAudio):  # no rate a recording has: said by the push that brought it
        capped.stream().push(chunks[0], 0)

    class Broken(_SlowTranscriber):
        def decode(self, samples, previous=()):
            raise RuntimeError("the decoder broke")

    stream = Broken().stream()
    with pytest.raises(RuntimeError, match="the decoder broke"):  # on the worker: said by a later push or finish
        for c in chunks:
            stream.push(c, 48_000)
        stream.finish()
    with pytest.raises(RuntimeError, match="the decoder broke"):  # and again: the stream stays failed
        stream.finish()


def test_the_microphone_handler_never_waits_for_a_decode_or_the_model(spoken, tmp_path):
    """Gradio keeps only the newest chunk while `hear` runs: a handler that decodes or prefills drops audio."""
    from types import SimpleNamespace

    from serving.page import DemoHandlers

    prefilled: list[tuple[str, list[dict]]] = []
    done = threading.Event()

    def prefill(messages):
        prefilled.append((threading.current_thread().name, messages))
        done.set()

    slow = _SlowTranscriber()
    h = DemoHandlers(SimpleNamespace(description="stub", prefill=prefill), slow)  # type: ignore[arg-type]
    earlier = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi! Ask away."}]
    h.listen(None, earlier)  # Record: the chat is sent once, not with every chunk
    chunks = mic_chunks(load_audio(spoken[2]))
    statuses = [h.hear_chunk(str(gradio_wav_chunk(tmp_path / f"c{i}.wav", c)), None) for i, c in enumerate(chunks)]
    assert "main" not in slow.threads
    shown = [s for s in statuses if isinstance(s, str)]  # the rest are gr.skip(): a status is sent when it changes
    assert shown and all(s.startswith("🎙 Listening") for s in shown) and len(set(shown)) == len(shown)
    assert len(shown) < len(statuses)
    slow.gate.set()
    stream = h.session(None).stream
    deadline = time.monotonic() + 60
    while not stream.text and time.monotonic() < deadline:  # the worker decodes the first phrase
        time.sleep(0.05)
    assert stream.text
    status = h.hear_chunk(str(gradio_wav_chunk(tmp_path / "last.wav", np.zeros(4800, np.int16))), None)
    assert stream.text.split()[0] in status
    assert done.wait(30), "the model never read the question so far"
    name, messages = prefilled[0]
    assert name == "read-ahead" and messages[:2] == earlier and messages[2]["role"] == "user"
    assert messages[2]["content"].startswith("<") and len(messages) == 3
    text, status = h.heard(None)
    assert status.startswith("Heard") and text == stream.result.text
    assert text.count("<") == stream.result.phrases


def test_a_decoder_that_breaks_while_recording_is_said_on_the_page_not_taken_for_a_late_chunk(spoken, tmp_path):
    from types import SimpleNamespace

    from serving.page import DemoHandlers

    class Broken(_SlowTranscriber):
        def decode(self, samples, previous=()):
            raise RuntimeError("the decoder broke")

    h = DemoHandlers(SimpleNamespace(description="stub", prefill=lambda m: None), Broken())  # type: ignore[arg-type]
    h.listen(None)
    statuses = [h.hear(str(gradio_wav_chunk(tmp_path / f"c{i}.wav", c)), [], None)
                for i, c in enumerate(mic_chunks(load_audio(spoken[0])))]
    deadline = time.monotonic() + 60
    while not any(isinstance(s, str) and "⚠" in s for s in statuses) and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker meets the broken decoder at the first phrase's end; the next chunk says so
        statuses.append(h.hear(str(gradio_wav_chunk(tmp_path / "more.wav", np.zeros(4800, np.int16))), [], None))
    said = [s for s in statuses if isinstance(s, str) and "⚠" in s]
    assert len(said) == 1 and "Transcription failed (RuntimeError)" in said[0], statuses[-3:]
    text, status = h.heard(None)
    assert text == "" and "Transcription failed (RuntimeError)" in status, status


# --------------------------------------------------------------------------------------------------------------
# slow: Whisper, the LLM, Piper
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transcriber():
    return load_transcriber(None, cpu_threads=1, max_seconds=15)


@pytest.mark.slow
def test_stream_transcribes_phrases_while_audio_arrives(transcriber, spoken):
    samples = load_audio(spoken[0])  # three sentences, ~10 s
    stream = transcriber.stream()
    texts = [stream.feed(c, 48_000) for c in mic_chunks(samples)]
    assert stream.phrases >= 2, "phrases are decoded while the audio still arrives"
    assert "japan" in texts[-1].lower()
    t = stream.finish()
    assert t.phrases >= stream.phrases and all(w in t.text.lower() for w in ("japan", "budget", "itinerar")), t.text
    assert abs(t.audio_seconds - samples.size / SAMPLE_RATE) < 0.1
    assert stream.finish() is t  # finishing twice gives the same transcript
    with pytest.raises(RuntimeError):
        stream.feed(np.zeros(1600, np.int16), 16_000)


@pytest.mark.slow
def test_stream_bad_input(transcriber, spoken):
    silent = transcriber.stream()
    for c in mic_chunks(np.zeros(2 * SAMPLE_RATE, np.float32)):
        silent.feed(c, 48_000)
    with pytest.raises(NoSpeech):
        silent.finish()
    long = transcriber.stream()
    with pytest.raises(AudioTooLong) as err:
        for c in mic_chunks(np.tile(load_audio(spoken[2]), 2)):  # ~24 s, the cap is 15 s
            long.feed(c, 48_000)
    assert "15 s" in err.value.user_message


@pytest.fixture(scope="module")
def gguf():
    from serving.generation import load_generator

    return load_generator(None, n_threads=1)


@pytest.mark.slow
def test_prefill_keeps_answers_identical(gguf):
    question = SEED_PROMPTS[2]
    ask = [{"role": "user", "content": question}]
    gguf.forget()
    cold = (gguf.generate(ask, 0.0, 24, 0), gguf.generate(ask, 0.9, 24, 3))
    words = question.split()
    for cut in (5, len(words) // 2, len(words) - 2):
        assert gguf.prefill([{"role": "user", "content": " ".join(words[:cut])}])
        held = len(gguf._cached)
        assert (gguf.generate(ask, 0.0, 24, 0), gguf.generate(ask, 0.9, 24, 3)) == cold
        assert held >= 20 + cut  # the chat template and the question so far were held
    # busy model: prefill does not wait
    stream = gguf.stream(ask, 0.0, 200, 0)
    next(stream)
    assert gguf.prefill(ask) is False
    stream.close()


@pytest.mark.slow
def test_piper_voice_speaks():
    from serving.tts import Speaker, load_voice

    voice = load_voice("auto")
    assert voice is not None and voice.description.startswith("Piper")
    speaker = Speaker(voice)
    for piece in ("Sure! ", "Photosynthesis is how plants ", "make food from light. ", "It needs water."):
        speaker.add(piece)
    speaker.close()
    clips = list(speaker.rest())
    assert [c.text for c in clips] == ["Sure!", "Photosynthesis is how plants make food from light.", "It needs water."]
    assert all(c.seconds > 0.3 and c.data_uri().startswith("data:audio/wav;base64,UklGR") for c in clips)
    assert load_voice("none") is None


@pytest.mark.slow
def test_page_voice_flow(gguf, transcriber, spoken, tmp_path):
    """Record (chunks), stop, send: the answer streams with spoken clips and a latency line from the end of speech."""
    import gradio as gr

    from serving.page import DemoHandlers
    from serving.tts import load_voice

    class Tab:
        session_hash = "tab-1"

    h = DemoHandlers(gguf, transcriber, voice=load_voice("espeak"))
    assert h.listen(Tab()).startswith("🎙")
    for i, c in enumerate(mic_chunks(load_audio(spoken[2]))):
        status = h.hear(str(gradio_wav_chunk(tmp_path / f"c{i}.wav", c)), [], Tab())
        assert status == gr.skip() or status.startswith("🎙 Listening"), status
    stream, deadline = h.session(Tab()).stream, time.monotonic() + 120
    while "renewable" not in stream.text.lower() and time.monotonic() < deadline:  # decoded while still recording
        time.sleep(0.1)
    status = h.hear(str(gradio_wav_chunk(tmp_path / "more.wav", np.zeros(4800, np.int16))), [], Tab())
    assert "renewable" in status.lower(), status
    text, status = h.heard(Tab())
    assert "island" in text.lower() and status.startswith("Heard")

    steps = list(h.auto_answer(True, text, [], 0.0, 48, 0, True, Tab()))  # auto-send: timed from the end of speech
    speech = [s for _, _, _, s in steps if isinstance(s, dict) and "answer" in s]  # the rest are gr.skip()
    assert speech[0] == {"answer": speech[0]["answer"], "clips": []}  # the player is reset first
    clips = speech[-1]["clips"]
    assert clips and all(c["src"].startswith("data:audio/wav;base64,") for c in clips)
    assert all(s["clips"] == clips[: len(s["clips"])] for s in speech)  # clips are only ever appended
    history, box, status, _ = steps[-1]
    assert status.startswith("✓ Answered") and "(from the end of speech)" in status
    assert "heard 1" in status and "first token +" in status and "first audio +" in status

    # sent by hand: the answer counts from Send; an edited question is a typed one; speech off sends no audio
    steps = list(h.answer("What is the capital of France?", history, 0.0, 16, 0, False, Tab()))
    assert steps[-1][2].endswith("(from Send)") and "heard" not in steps[-1][2]
    assert all("answer" not in s for *_, s in steps)
    assert list(h.auto_answer(False, "Hello", [], 0.0, 8, 0, True, Tab())) == [(gr.skip(),) * 4]


# --------------------------------------------------------------------------------------------------------------
# fast: the llama.cpp generator's loop on a fake model (Stop while it reads the prompt, the end of an answer)
# --------------------------------------------------------------------------------------------------------------


class FakeLlama:
    """What `LlamaCppGenerator` uses of cyllama, recorded: each ``decode`` call (tokens, position); the answer's
    tokens are ``answer`` (bytes per token: several may make one character), then end-of-generation."""

    def __init__(self, answer: list[bytes] = ()) -> None:  # type: ignore[assignment]
        self.decoded: list[tuple[tuple[int, ...], int]] = []
        self.on_decode = lambda: None
        self.answer = list(answer)
        self.sampled = 0

    # context
    def decode(self, batch):
        self.decoded.append(batch)
        self.on_decode()

    def memory_seq_rm(self, *args): pass
    def kv_cache_clear(self): pass

    # sampler
    def sample(self, ctx, index):
        self.sampled += 1
        return 1000 + self.sampled - 1 if self.sampled <= len(self.answer) else -1

    # vocab
    def is_eog(self, token):
        return token == -1

    def detokenize(self, tokens):
        return b"".join(self.answer[t - 1000] for t in tokens).decode("utf-8", errors="replace")


def fake_llama_generator(monkeypatch, fake: FakeLlama, prompt_tokens: int = 100):
    import cyllama.api

    from serving.generation import Generator, LlamaCppGenerator

    monkeypatch.setattr(cyllama.api, "llama_batch_get_one", lambda tokens, pos: (tuple(tokens), pos))
    gen = object.__new__(LlamaCppGenerator)
    Generator.__init__(gen)
    gen.name, gen.n_ctx, gen._cached, gen._blocked, gen._specials = "fake", 4096, [], 0, None
    gen._llm = SimpleNamespace(vocab=fake, _ensure_sampler=lambda config: fake)
    gen._config = lambda *args: None
    gen._context = lambda config, n: fake
    gen._prompt = lambda messages: "<s>" + "".join(m["content"] for m in messages)
    gen._tokenize = lambda pieces: list(range(prompt_tokens))
    gen._prompt_tokens = lambda messages: list(range(prompt_tokens))
    gen._count_prompt_tokens = lambda messages: prompt_tokens
    return gen


def test_stop_frees_the_model_between_prompt_blocks(monkeypatch):
    """Stop (or a closed tab) while the model reads a long prompt: it was read to the end first (a 3,500-token
    prompt kept the model, and everyone else, waiting 80 s after Stop)."""
    from serving.generation import PROMPT_BLOCK

    fake = FakeLlama([b"Hi"])
    gen = fake_llama_generator(monkeypatch, fake, prompt_tokens=10 * PROMPT_BLOCK)
    stop = threading.Event()
    fake.on_decode = stop.set  # Stop comes while the first block is decoded
    assert gen._hold(fake, list(range(10 * PROMPT_BLOCK)), keep_last=False, stop=stop) is False
    assert len(fake.decoded) == 1 and gen._cached == list(range(PROMPT_BLOCK))  # kept: the next request reuses it
    fake.decoded.clear()
    stop.clear()
    gen._cached, gen._blocked = [], 0
    assert list(gen._pieces([{"role": "user", "content": "q"}], 0.0, 8, 0, stop)) == []
    assert len(fake.decoded) == 1 and fake.sampled == 0  # no answer token after Stop
    assert not gen._lock.locked()


def test_a_read_ahead_gives_way_to_a_waiting_request(monkeypatch):
    fake = FakeLlama([b"Hi"])
    gen = fake_llama_generator(monkeypatch, fake, prompt_tokens=100)
    ask = [{"role": "user", "content": "What is"}]
    with gen._waiting:  # a request waits for the model: the read-ahead stops before its first block
        assert gen.prefill(ask) is False
    assert fake.decoded == [] and not gen._lock.locked()
    assert gen.prefill(ask) is True and len(gen._cached) == 100

    gen._lock.acquire()  # busy: a request's worker counts itself as waiting until it has the model
    pieces = gen.stream(ask, 0.0, 4, 0)
    reader = threading.Thread(target=lambda: list(pieces))
    reader.start()
    for _ in range(1000):
        if gen._waiting.is_set():
            break
        time.sleep(0.01)
    assert gen._waiting.is_set()
    gen._lock.release()
    reader.join()
    assert not gen._waiting.is_set()


def test_an_answer_cut_in_the_middle_of_a_character_does_not_end_with_a_replacement_character(monkeypatch):
    star = "🌟".encode()  # four bytes, one token each: max_new_tokens can end the answer mid-character
    fake = FakeLlama([b"Hi ", *[star[i : i + 1] for i in range(4)], b" ok", *[star[i : i + 1] for i in range(4)]])
    gen = fake_llama_generator(monkeypatch, fake)

    def answer(max_new_tokens: int) -> str:
        fake.sampled = 0
        return gen.generate([{"role": "user", "content": "q"}], 0.0, max_new_tokens, 0)

    assert [answer(n) for n in (1, 3, 5, 6, 8)] == ["Hi ", "Hi ", "Hi 🌟", "Hi 🌟 ok", "Hi 🌟 ok"]
    assert all("\ufffd" not in answer(n) for n in range(1, 12))
