"""`tome serve` prints what a user gave (a model path, a host, the loaded models' descriptions) as given: no
markup, no emoji codes."""

from __future__ import annotations

from types import SimpleNamespace

from typer.testing import CliRunner

from tomecraft.cli import app

ODD = "[bold]x[/]:train:"  # markup tags, a closing tag with nothing open, an emoji code


def test_a_missing_model_is_named_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = f"./no/m{ODD}.gguf"
    result = CliRunner().invoke(app, ["serve", "--model", model, "--threads", "1"])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"tome serve: {model}"), result.output


def test_the_loaded_models_and_a_bad_host_are_printed_as_given(monkeypatch):
    import serving.page
    import serving.server

    demo = SimpleNamespace(generator=SimpleNamespace(description=f"m{ODD}.gguf"),
                           transcriber=SimpleNamespace(description=f"w{ODD}"),
                           voice=SimpleNamespace(description=f"v{ODD}.onnx"), page=None)

    def refuse(page, host, port):
        raise OSError(f"cannot resolve {host}")

    monkeypatch.setattr(serving.server, "create_demo", lambda *a, **kw: demo)
    monkeypatch.setattr(serving.page, "launch_page", refuse)
    result = CliRunner().invoke(app, ["serve", "--host", f"h{ODD}", "--port", "7999"])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[-4:] == [f"model: m{ODD}.gguf", f"speech recognition: w{ODD}", f"voice: v{ODD}.onnx",
                          f"tome serve: cannot listen on h{ODD}:7999 (cannot resolve h{ODD})"], result.output
