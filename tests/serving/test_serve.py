"""serving/: model resolution, GGUF generation, speech recognition and the page's handlers, without a server."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from serving import asr as asr_mod
from serving.asr import AudioTooLong, EmptyAudio, NoSpeech, NotAudio, clean_transcript, load_transcriber
from serving.defaults import default_asr_path, default_llm_path
from serving.generation import (
    ModelNotFound,
    ModelSource,
    PromptTooLong,
    find_run_artifacts,
    load_generator,
    normalize_messages,
    resolve_model,
)
from serving.prompts import SEED_PROMPTS
from serving.testing import espeak_wav, free_port

GGUF_HEADER = b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 16


# --------------------------------------------------------------------------------------------------------------
# defaults and --model resolution
# --------------------------------------------------------------------------------------------------------------


def test_seed_prompts_are_the_three_seed_prompts():
    assert len(SEED_PROMPTS) == 3
    assert SEED_PROMPTS[0].startswith("Plan a 3 day trip to Japan") and SEED_PROMPTS[0].endswith("$3,000.")
    assert "photosynthesis" in SEED_PROMPTS[1] and "terminology" in SEED_PROMPTS[1]
    assert "wind turbines or solar panels" in SEED_PROMPTS[2]


def test_offline_defaults_are_found_in_their_packages():
    llm = default_llm_path()
    assert llm.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and llm.read_bytes()[:4] == b"GGUF"
    asr = default_asr_path()
    assert (asr / "model.bin").is_file() and (asr / "config.json").is_file()
    assert resolve_model(None).kind == "gguf" and resolve_model(None).location == str(llm)


def _fake_gguf(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GGUF_HEADER)
    return path


def _fake_adapter(folder: Path, base: str = "HuggingFaceTB/SmolLM2-135M-Instruct") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "peft_type": "LORA"}))
    return folder


def test_run_folder_prefers_its_exported_gguf(tmp_path):
    # the layout `tome train` + `tome export` leave
    run = tmp_path / "run"
    _fake_adapter(run / "adapter")
    _fake_adapter(run / "export" / "lora")
    for quant in ("BF16", "Q4_K_M", "Q5_K_M", "Q8_0"):
        _fake_gguf(run / "export" / "gguf" / f"run-{quant}.gguf")
    _fake_gguf(run / "checkpoints" / "checkpoint-10" / "old-Q8_0.gguf")
    src = resolve_model(run)
    assert (src.kind, src.location, src.run) == ("gguf", str(run / "export" / "gguf" / "run-Q8_0.gguf"), str(run))
    (run / "export" / "gguf" / "run-Q8_0.gguf").unlink()
    assert resolve_model(run).location.endswith("run-Q5_K_M.gguf")


def test_run_folder_without_gguf_is_base_plus_adapter(tmp_path):
    run = tmp_path / "run"
    _fake_adapter(run / "checkpoints" / "checkpoint-5", base="old/base")
    _fake_adapter(run / "checkpoints" / "checkpoint-20", base="old/base")
    final = _fake_adapter(run / "adapter", base="/tmp/somewhere/SmolLM2")
    src = resolve_model(run)
    assert (src.kind, src.location, src.base) == ("lora", str(final), "/tmp/somewhere/SmolLM2")
    # the run's resolved config names the base as training knew it
    (run / "config.yaml").write_text("model:\n  name: smollm2-135m-instruct\n  max_seq_length: 512\n")
    assert resolve_model(run).base == "smollm2-135m-instruct"
    assert resolve_model(run, base_model="/models/base").base == "/models/base"
    # without a final adapter, the latest checkpoint wins
    (final / "adapter_config.json").unlink()
    assert find_run_artifacts(run)[1] == run / "checkpoints" / "checkpoint-20"


def test_other_model_arguments(tmp_path):
    folder = tmp_path / "merged"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert resolve_model(folder).kind == "transformers"
    assert resolve_model(_fake_gguf(tmp_path / "m.gguf")).kind == "gguf"
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    assert resolve_model("owner/repo/sub/model.Q4_K_M.gguf") == ModelSource("hub-gguf", "owner/repo/sub/model.Q4_K_M.gguf")


@pytest.mark.parametrize("bad", ["does/not/exist/here", "./missing.gguf", "notes.txt", "empty_dir"])
def test_bad_model_arguments_fail_with_one_line(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("not a model")
    Path("empty_dir").mkdir()
    with pytest.raises(ModelNotFound) as err:
        resolve_model(bad)
    assert "\n" not in str(err.value) and bad.strip("./").split("/")[0] in str(err.value)


def test_message_validation():
    assert normalize_messages([{"role": "user", "content": "hi"}]) == [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError, match="message 0: role"):
        normalize_messages([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError, match="last message"):
        normalize_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])


# --------------------------------------------------------------------------------------------------------------
# GGUF generation (llama.cpp via cyllama)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gguf():
    return load_generator(None, n_threads=1)


ASK = [{"role": "user", "content": SEED_PROMPTS[1]}]


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_gguf_greedy_and_seeded_sampling_are_deterministic(gguf):
    greedy = gguf.generate(ASK, temperature=0.0, max_new_tokens=24, seed=0)
    assert greedy.strip()
    assert gguf.generate(ASK, temperature=0.0, max_new_tokens=24, seed=123) == greedy  # greedy ignores the seed
    sampled = gguf.generate(ASK, temperature=1.0, max_new_tokens=24, seed=7)
    assert gguf.generate(ASK, temperature=1.0, max_new_tokens=24, seed=7) == sampled
    others = {gguf.generate(ASK, temperature=1.0, max_new_tokens=24, seed=s) for s in (8, 9)}
    assert others != {sampled}
    assert "".join(gguf.stream(ASK, temperature=0.0, max_new_tokens=24, seed=0)) == greedy


def test_gguf_stream_never_splits_a_character(gguf):
    # Greedy SmolLM2 answers this with a run of 🎌 (4 UTF-8 bytes, 2 tokens each): every piece must be whole text.
    ask = [{"role": "user", "content": "Write the Japanese word for Japan (日本) and the yen sign ¥. Use emoji 🎌."}]
    pieces = list(gguf.stream(ask, temperature=0.0, max_new_tokens=24, seed=0))
    text = "".join(pieces)
    assert any(ord(ch) > 0xFFFF for ch in text), text  # a multi-token character was produced ...
    assert "\ufffd" not in text and all("\ufffd" not in p for p in pieces)  # ... and never torn apart


def test_gguf_abandoned_stream_does_not_block_the_next_request(gguf):
    stream = gguf.stream(ASK, temperature=0.0, max_new_tokens=200, seed=0)
    assert next(stream)
    stream.close()
    done = threading.Event()
    out: list[str] = []
    t = threading.Thread(target=lambda: (out.append(gguf.generate(ASK, 0.0, 8, 0)), done.set()))
    t.start()
    assert done.wait(120), "the lock stayed held after an abandoned stream"
    assert out[0].strip()


def test_gguf_concurrent_callers_are_serialised(gguf):
    results: dict[int, str] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, gguf.generate(ASK, 0.0, 12, 0))) for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert len(set(results.values())) == 1 and len(results) == 3


def test_long_history_is_trimmed_but_a_too_long_question_is_refused(gguf, monkeypatch):
    monkeypatch.setattr(gguf, "n_ctx", 256)
    history = []
    for i in range(12):
        history += [{"role": "user", "content": f"Question {i}: {SEED_PROMPTS[i % 3]}"},
                    {"role": "assistant", "content": "An answer of some length. " * 5}]
    fitted = gguf.fit_messages(history + ASK, max_new_tokens=64)
    assert fitted[-1] == ASK[-1] and len(fitted) < len(history) + 1
    assert fitted == (history + ASK)[-len(fitted):]  # only the oldest turns went
    with pytest.raises(PromptTooLong, match="tokens"):
        gguf.fit_messages([{"role": "user", "content": "word " * 400}], max_new_tokens=64)
    with pytest.raises(ValueError, match="max_new_tokens"):
        gguf.generate(ASK, max_new_tokens=256)


# --------------------------------------------------------------------------------------------------------------
# speech recognition (faster-whisper, Whisper tiny.en)
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transcriber():
    return load_transcriber(None, cpu_threads=1, max_seconds=15)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    d = tmp_path_factory.mktemp("spoken")
    return {i: espeak_wav(p, d / f"seed{i}.wav") for i, p in enumerate(SEED_PROMPTS)}


@pytest.mark.parametrize(("i", "words"), [(0, ("japan", "budget", "itinerar")), (2, ("renewable", "island", "solar"))])
def test_espeak_seed_prompts_are_transcribed(transcriber, spoken, i, words):
    t = transcriber.transcribe(spoken[i])
    text = t.text.lower()
    assert all(w in text for w in words), t.text
    assert 5 < t.audio_seconds < 15 and t.elapsed_seconds > 0 and t.speech_seconds > 0


def test_samples_in_memory_are_accepted(transcriber, spoken):
    samples = asr_mod.load_audio(spoken[2])
    assert samples.dtype == np.float32 and abs(samples.size / asr_mod.SAMPLE_RATE - 11.9) < 1.5
    assert "island" in transcriber.transcribe(samples).text.lower()


def test_bad_audio_raises_friendly_errors(transcriber, tmp_path):
    def sox(*args: str) -> Path:
        out = tmp_path / f"{args[-1]}.wav"
        subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(out), *args[:-1]], check=True)
        return out

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    header_only = sox("trim", "0", "0", "header_only")
    silence = sox("trim", "0", "2", "silence")
    long = sox("synth", "20", "sine", "300", "long")
    text = tmp_path / "notes.wav"
    text.write_text("hello")
    png = tmp_path / "pic.png"
    png.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40)
    cases = [
        (None, EmptyAudio), (empty, EmptyAudio), (header_only, EmptyAudio), (silence, NoSpeech),
        (np.zeros(16000, np.float32), NoSpeech), (long, AudioTooLong), (np.zeros(16000 * 20, np.float32), AudioTooLong),
        (text, NotAudio), (png, NotAudio), (tmp_path / "missing.wav", NotAudio),
    ]
    for audio, kind in cases:
        with pytest.raises(kind) as err:
            transcriber.transcribe(audio)
        assert err.value.user_message.endswith(".") and "\n" not in err.value.user_message


def test_non_speech_tags_are_removed():
    assert clean_transcript(" [BLANK_AUDIO]  hello   (music) world ") == "hello world"


# --------------------------------------------------------------------------------------------------------------
# the page's handlers
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handlers(gguf, transcriber):
    from serving.page import DemoHandlers

    return DemoHandlers(gguf, transcriber)


def test_transcribe_handler(handlers, spoken, tmp_path):
    text, status = handlers.transcribe(str(spoken[0]))
    assert "japan" in text.lower() and status.startswith("Heard")
    bad = tmp_path / "x.wav"
    bad.write_text("not audio")
    assert handlers.transcribe(str(bad)) == ("", "**⚠ x.wav is not an audio file we can read. Upload a WAV, MP3, OGG or WebM.**")
    text, status = handlers.transcribe(None)
    assert text == "" and "Nothing was recorded" in status


def test_respond_streams_into_the_history(handlers, gguf):
    gradio_history = [  # what gr.Chatbot hands back: content as a list of text parts
        {"role": "user", "content": [{"type": "text", "text": "Hi"}], "metadata": None},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello! How can I help?"}], "metadata": None},
    ]
    steps = list(handlers.respond("  What is the capital of France?  ", gradio_history, 0.0, 24, 0))
    assert steps[0][2] == "Thinking…" and steps[0][1] == ""
    answers = [h[-1]["content"] for h, _, _ in steps[1:-1]]
    assert answers and all(b.startswith(a) for a, b in zip(answers, answers[1:]))  # grows piece by piece
    history, box, status = steps[-1]
    assert status.startswith("✓ Answered") and box == ""
    assert history[-2] == {"role": "user", "content": "What is the capital of France?"}
    expected = gguf.generate(
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
         {"role": "user", "content": "What is the capital of France?"}], 0.0, 24, 0,
    )
    assert history[-1] == {"role": "assistant", "content": expected}


def test_respond_refuses_empty_and_oversized_questions(handlers):
    (history, box, status), = list(handlers.respond("   ", [], 0.3, 64, 0))
    assert history == [] and "Type a question" in status
    steps = list(handlers.respond("word " * 5000, [], 0.3, 64, 0))
    history, box, status = steps[-1]
    assert history == [] and box.startswith("word") and "shorten it" in status


def test_auto_respond_only_when_ticked(handlers):
    import gradio as gr

    skipped = list(handlers.auto_respond(False, "Hello", [], 0.0, 8, 0))
    assert len(skipped) == 1 and all(v == gr.skip() for v in skipped[0])
    sent = list(handlers.auto_respond(True, "Hello", [], 0.0, 8, 0))
    assert sent[-1][2].startswith("✓")


# --------------------------------------------------------------------------------------------------------------
# the Hugging Face Space entry (app.py)
# --------------------------------------------------------------------------------------------------------------


def test_space_entry_builds_the_page(monkeypatch, tmp_path):
    import importlib.util

    import gradio as gr

    monkeypatch.delenv("TOME_SERVE_MODEL", raising=False)
    monkeypatch.setenv("TOME_SERVE_THREADS", "1")
    spec = importlib.util.spec_from_file_location("space_app", Path(__file__).resolve().parents[2] / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)  # builds the page with the offline defaults, does not launch it
    assert isinstance(app.demo, gr.Blocks)
    public = {f.api_name for f in app.demo.fns.values() if f.api_visibility == "public"}
    assert public == {"transcribe", "respond"}

    monkeypatch.setattr(app, "ROOT", tmp_path)
    assert app.space_model() is None  # -> the packaged default
    shipped = _fake_gguf(tmp_path / "model" / "finetuned.Q4_K_M.gguf")
    assert app.space_model() == str(shipped)
    monkeypatch.setenv("TOME_SERVE_MODEL", "owner/repo/model.gguf")
    assert app.space_model() == "owner/repo/model.gguf"


def test_space_setting_that_is_not_a_number_stops_with_one_line(monkeypatch):
    import importlib.util

    monkeypatch.setenv("TOME_SERVE_THREADS", "two")
    spec = importlib.util.spec_from_file_location("space_app", Path(__file__).resolve().parents[2] / "app.py")
    app = importlib.util.module_from_spec(spec)
    with pytest.raises(SystemExit, match=r"^error: TOME_SERVE_THREADS='two' is not a whole number$"):
        spec.loader.exec_module(app)


# --------------------------------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "./no/such/file.gguf"], "no such file or folder"),
        (["--model", "no/such/file.gguf"], "no such local file, and hub file file.gguf of no/such"),
        (["--asr", "/no/such/whisper-folder"], "no such folder"),
        (["--voice", "/no/such/voice.onnx"], "expected a Piper voice"),
    ],
)
def test_serve_refuses_bad_models_with_one_line(args, expected, monkeypatch):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(app, ["serve", *args, "--threads", "1", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and expected in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
