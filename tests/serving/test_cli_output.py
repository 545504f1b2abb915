"""`tome serve` prints what a user gave (a model path, a host, the loaded models' descriptions) as given: no
markup, no emoji codes; each error is one line `error: ...`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from serving.testing import free_port
from tomecraft.cli import app

ODD = "[bold]x[/]:train:"  # markup tags, a closing tag with nothing open, an emoji code


def test_a_missing_model_is_named_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = f"./no/m{ODD}.gguf"
    result = CliRunner().invoke(app, ["serve", "--model", model, "--threads", "1", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"error: {model}"), result.output


@pytest.mark.slow  # (about 3 s)
def test_the_loaded_models_and_a_failed_launch_are_printed_as_given(monkeypatch):
    import serving.page
    import serving.server

    demo = SimpleNamespace(generator=SimpleNamespace(description=f"m{ODD}.gguf"),
                           transcriber=SimpleNamespace(description=f"w{ODD}"),
                           voice=SimpleNamespace(description=f"v{ODD}.onnx"), page=None)

    def refuse(page, host, port):
        raise OSError(f"cannot bind {host}")

    port = free_port()
    monkeypatch.setattr(serving.server, "create_demo", lambda *a, **kw: demo)
    monkeypatch.setattr(serving.page, "launch_page", refuse)
    result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1", "--port", str(port)])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[-4:] == [f"model: m{ODD}.gguf", f"speech recognition: w{ODD}", f"voice: v{ODD}.onnx",
                          f"error: cannot listen on 127.0.0.1:{port} (cannot bind 127.0.0.1)"], result.output


def test_a_bad_host_is_refused_as_given_before_the_models_load(monkeypatch):
    import serving.server

    def never(*args, **kwargs):
        raise AssertionError("the models were loaded for a host the server cannot listen on")

    monkeypatch.setattr(serving.server, "create_demo", never)
    result = CliRunner().invoke(app, ["serve", "--host", f"h{ODD}", "--port", "7999"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: cannot listen on h{ODD}:7999: unknown host"), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize("voice, problem", [
    ("espek", "--voice 'espek': expected auto, piper, espeak, none or a Piper .onnx voice file"),
    ("./no/v.onnx", "--voice ./no/v.onnx: no such file; expected a Piper voice (.onnx with its .onnx.json beside it) "
                    "or auto, piper, espeak, none"),
])
def test_a_voice_that_is_no_choice_is_refused_before_the_models_load(monkeypatch, voice, problem):
    """A typo was read as a Piper voice file and reported, after the model had loaded, as a file without its
    .onnx.json, naming none of the choices."""
    import serving.server

    def never(*args, **kwargs):
        raise AssertionError("the models were loaded for a voice there is not")

    monkeypatch.setattr(serving.server, "create_demo", never)
    result = CliRunner().invoke(app, ["serve", "--voice", voice, "--port", str(free_port())])
    assert result.exit_code == 2 and result.output == f"error: {problem}\n", result.output
