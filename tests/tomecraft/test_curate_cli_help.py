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
