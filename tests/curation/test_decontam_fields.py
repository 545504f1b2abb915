"""A decontamination config that would compare nothing is a one-line config error that says how the stage is
turned off (``stages.decontaminate.enabled: false``, as every stage is), never a stage that runs, finds no row
and reports a check that was never made: no turns to compare (``fields: []``), or no eval set to compare them
with (``seed_prompts: false`` and no ``prompt_sets`` or ``files``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from curation.config import load_config
from curation.decontam.config import DecontamConfig
from tomecraft.config_files import ConfigError, parse_overrides

OFF = "stages.decontaminate.enabled: false"


def _error(*sets: str, path=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, parse_overrides(sets))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("sets", [
    ("stages.decontaminate.enabled=true", "stages.decontaminate.fields=[]"),
    ("stages.decontaminate.fields=[]",),  # (off, it is still a config that says nothing is to be compared)
])
def test_no_turns_to_compare_is_one_line_naming_the_key_and_how_to_turn_the_stage_off(sets):
    message = _error(*sets)
    assert "stages.decontaminate.fields" in message and "no turns to compare" in message
    assert OFF in message


@pytest.mark.parametrize("sets", [
    ("stages.decontaminate.enabled=true", "stages.decontaminate.seed_prompts=false"),
    ("stages.decontaminate.enabled=true", "stages.decontaminate.seed_prompts=false",
     "stages.decontaminate.prompt_sets=[]", "stages.decontaminate.files=[]"),
])
def test_no_eval_set_to_compare_with_is_one_line_naming_how_to_turn_the_stage_off(sets):
    message = _error(*sets)
    assert "stages.decontaminate" in message and "no eval sets" in message and OFF in message


def test_the_error_names_the_config_file(tmp_path):
    path = tmp_path / "quality.yaml"
    path.write_text("stages:\n  decontaminate:\n    enabled: true\n    seed_prompts: false\n", encoding="utf-8")
    message = _error(path=path)
    assert str(path) in message and "no eval sets" in message and OFF in message


@pytest.mark.parametrize("cfg", [
    {"enabled": True},  # the seed prompts
    {"enabled": True, "seed_prompts": False, "files": ["eval.jsonl"]},
    {"enabled": True, "seed_prompts": False, "prompt_sets": ["prompts.yaml"]},
    {"enabled": True, "fields": ["system"]},
    {"enabled": False, "seed_prompts": False},  # a stage that is off compares nothing by choice
])
def test_configs_with_something_to_compare_stay_valid(cfg):
    DecontamConfig(**cfg)


def test_assigning_the_last_eval_set_away_is_the_same_error():
    """The config validates assignments: a program that empties a running config gets the error too."""
    cfg = DecontamConfig(enabled=True, seed_prompts=False, files=["eval.jsonl"])
    with pytest.raises(ValidationError, match="no eval sets"):
        cfg.files = []
