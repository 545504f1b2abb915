"""`tome curate --help` teaches the config as well as the options: every top-level key and every stage, by the
names the config file uses, so that the help cannot fall behind the registry."""

from __future__ import annotations

from typer.testing import CliRunner

from tomecraft.cli import app


def test_curate_help_names_every_config_key_and_stage(monkeypatch):
    from curation.config import config_model
    from curation.core import registry

    monkeypatch.setenv("COLUMNS", "400")  # one line a paragraph: names are not cut by the wrapping
    result = CliRunner().invoke(app, ["curate", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for key, field in config_model().model_fields.items():
        assert f"{field.alias or key}:" in text or f"{field.alias or key}.STAGE:" in text, key
    for spec in registry.stage_specs():
        if not spec.hidden:
            assert f" {spec.name}," in text or f" {spec.name} " in text, spec.name
    for option in ("--input", "--against", "--format", "--out", "--config", "--set", "--resume", "--print-config",
                   "--quiet", "--engine", "--ray-address"):
        assert option in text, option
    assert "--set KEY=VALUE" in text and "Examples" in text


def test_curate_help_shows_a_mix_and_an_extension_that_parse(monkeypatch):
    """The help teaches the inputs syntax by example: several inputs mixed by weight (``NAME=``, ``@W``, the
    embedded sample by its name) and ``--against``; the mix example's ``-i`` values are read as the command
    reads them, so the example cannot drift from the syntax."""
    import re
    import shlex

    from curation.inputs import inputs_from_cli

    monkeypatch.setenv("COLUMNS", "400")
    result = CliRunner().invoke(app, ["curate", "--help"])
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()).strip("│ ") for line in result.output.splitlines()]
    mixes = [line for line in lines if re.search(r"tome curate( -i \S+@\S+){2,}", line)]
    assert mixes, result.output
    words = shlex.split(mixes[0].split(" - ")[0].removeprefix("• "))
    given = [words[i + 1] for i, word in enumerate(words) if word == "-i"]
    inputs = inputs_from_cli(given)
    assert len(inputs) >= 3 and all(one.weight for one in inputs)
    assert any(one.path == "sample" for one in inputs)  # the embedded sample, by the name a mix gives it
    assert any(one.name for one in inputs)  # NAME=PATH
    assert any(re.search(r"tome curate -i \S+ --against \S+", line) for line in lines), result.output
