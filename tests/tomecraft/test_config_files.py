"""The shared config loader's error lines: one line each, naming the source (file or --set), the key and the value."""

from __future__ import annotations

import pytest

from tomecraft.config_files import ConfigError, parse_override, parse_overrides, read_yaml_mapping
from training.config import load_config


def _error(path, *sets: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, parse_overrides(sets))
    return str(info.value)


def test_invalid_yaml_is_one_line_with_the_line_number(tmp_path):
    tabs = tmp_path / "tabs.yaml"
    tabs.write_text("model:\n\tname: x\n")
    with pytest.raises(ConfigError) as info:
        read_yaml_mapping(tabs)
    message = str(info.value)
    assert "\n" not in message and "<unicode string>" not in message
    assert message.startswith(f"{tabs}: not valid YAML: line 2, column 1:") and "not tabs" in message
    with pytest.raises(ConfigError) as info:
        parse_override("training.max_steps=[1")
    assert "\n" not in str(info.value) and "expected ',' or ']'" in str(info.value)


def test_a_bad_set_value_is_blamed_on_set_not_on_the_file(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("training:\n  seed: 1\n")
    # the value came from --set: the file is fine and must not be named
    assert _error(good, "training.seed=abc") == (
        "--set training.seed: Input should be a valid integer, unable to parse string as an integer (got 'abc')"
    )
    assert _error(good, "lora.r=0") == "--set lora.r: Input should be greater than or equal to 1 (got 0)"
    assert _error(good, "a.b.c=1") == "--set a: unknown key (known: model, lora, data, training)"
    assert _error(good, "training=5") == "--set training: expected a mapping of keys (got 5)"
    # a list in the file replaced by a mapping from --set: --set's doing
    assert _error(good, "lora.target_modules.x=1").startswith("--set lora.target_modules: Input should be a valid list")
    # file and --set together make the error: both are named
    both = tmp_path / "both.yaml"
    both.write_text("training:\n  max_tokens: 100\n")
    assert _error(both, "training.max_steps=3") == f"{both} + --set: training: set training.max_steps or training.max_tokens, not both"


def test_a_bad_file_value_names_the_file_key_and_value(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  max_seq_length: -5\n  nmae: x\n")
    lines = _error(bad, "training.seed=2").splitlines()
    assert lines == [
        f"{bad}: model.max_seq_length: Input should be greater than or equal to 8 (got -5)",
        f"{bad}: model.nmae: unknown key (known: name, max_seq_length, load_in_4bit, dtype, chat_template, "
        "instruction_part, response_part)",
    ]


def test_set_reads_exponent_numbers_as_numbers():
    from tomecraft.config_files import parse_override

    assert parse_override("training.seed=1e3") == {"training": {"seed": 1000}}
    assert parse_override("training.learning_rate=2e-4") == {"training": {"learning_rate": 0.0002}}
    assert parse_override("a=1.5E3") == {"a": 1500.0} and parse_override("a=1e") == {"a": "1e"}
    assert parse_override("a=[1e-4, 2e-4, x]") == {"a": [0.0001, 0.0002, "x"]}


def test_a_folder_given_as_the_config_is_one_line(tmp_path):
    from tomecraft.config_files import ConfigError, read_yaml_mapping

    with pytest.raises(ConfigError) as err:
        read_yaml_mapping(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder; give the YAML config file"


def test_a_file_reads_exponent_numbers_as_set_does(tmp_path):
    # YAML 1.1 reads `1e3` as text: an integer key refused in a file what `--set engine.batch_rows=1e3` took
    from curation.config import load_config
    from tomecraft.config_files import load_yaml

    assert load_yaml("a: 1e3\nb: 2e-4\nc: 1.5E3\nd: '1e3'\ne: 1e\nf: [-2E2, x1e3]\n") == {
        "a": 1000, "b": 0.0002, "c": 1500.0, "d": "1e3", "e": "1e", "f": [-200, "x1e3"]}
    config = tmp_path / "c.yaml"
    config.write_text("engine:\n  batch_rows: 1e3\nstages:\n  near_dedup:\n    threshold: 7e-1\n")
    cfg = load_config(config)
    assert cfg.engine.batch_rows == 1000 and cfg.stage("near_dedup").threshold == 0.7


def test_a_quoted_exponent_is_text_and_print_config_quotes_one(tmp_path, monkeypatch):
    # `--set KEY='1e5'` gave the number 100000: no way to give a text that looks like a number
    from typer.testing import CliRunner

    from tomecraft.cli import app
    from tomecraft.config_files import dump_yaml, load_yaml, parse_override

    assert parse_override("stages.pii.placeholder='1e5'") == {"stages": {"pii": {"placeholder": "1e5"}}}
    assert load_yaml(dump_yaml({"name": "1e3", "n": 1000})) == {"name": "1e3", "n": 1000}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "2e5").write_text("")  # an input whose path reads as a number
    printed = CliRunner().invoke(app, ["curate", "--print-config", "-i", "2e5", "--set", "stages.pii.placeholder='1e5'"])
    assert printed.exit_code == 0, printed.output
    (tmp_path / "c.yaml").write_text(printed.output)
    again = CliRunner().invoke(app, ["curate", "--print-config", "-c", "c.yaml"])
    assert again.exit_code == 0 and again.output == printed.output, again.output


def test_set_changes_one_item_of_a_list_the_file_holds(tmp_path):
    from curation.config import load_config
    from tomecraft.config_files import ConfigError, parse_overrides

    config = tmp_path / "c.yaml"
    config.write_text("inputs:\n- path: a.jsonl\n- path: b.jsonl\n")
    cfg = load_config(config, parse_overrides(["inputs.1.weight=2", "inputs.1.name=bee"]))
    assert [(i.path, i.name, i.weight) for i in cfg.inputs] == [("a.jsonl", None, None), ("b.jsonl", "bee", 2.0)]
    with pytest.raises(ConfigError) as err:  # past the end, or a list the file does not give: say how to give it
        load_config(config, parse_overrides(["inputs.2.weight=2"]))
    assert str(err.value) == ("--set inputs: a list: give it whole (--set 'inputs=[...]'); KEY.N changes item N of a "
                              "list the config file holds (inputs.2 is not one)")


def test_an_unknown_key_in_an_item_of_a_list_names_the_keys_the_item_takes(tmp_path):
    """`inputs: [{path: a.jsonl, weigth: 2}]` said "unknown key" with no known key beside it, where one at the top
    level lists them."""
    from curation.config import load_config as load_curation_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs:\n  - {path: a.jsonl, weigth: 2}\n")
    with pytest.raises(ConfigError) as info:
        load_curation_config(bad)
    assert str(info.value).startswith(f"{bad}: inputs.0.weigth: unknown key (known: path, name, weight, max_rows, ")


@pytest.mark.parametrize("depth", [101, 1000])
def test_yaml_nested_too_deeply_is_one_line_not_a_recursion_error(tmp_path, depth):
    """A config, prompt file or grid of a thousand nested ``[`` ended every command with a RecursionError
    traceback (PyYAML composes recursively); a hundred levels is more than any of them needs."""
    from tomecraft.config_files import ConfigError, MAX_DEPTH, load_yaml, parse_override, read_yaml_file

    nested = "[" * depth + "]" * depth
    (tmp_path / "deep.yaml").write_text(f"prompts: {nested}\n")
    with pytest.raises(ConfigError, match=r"deep\.yaml: not valid YAML: nested too deeply \(more than 100 "):
        read_yaml_file(tmp_path / "deep.yaml")
    with pytest.raises(ConfigError, match=r"value is not valid YAML: nested too deeply") as err:
        parse_override(f"training.learning_rate={nested}")
    assert len(str(err.value)) < 200  # (the whole value was the line: thousands of brackets)
    fits = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert _depth(load_yaml(f"a: {fits}")) == MAX_DEPTH


def _depth(value) -> int:
    depth = 0
    while isinstance(value, (dict, list)):
        depth += 1
        value = next(iter(value.values())) if isinstance(value, dict) else (value[0] if value else None)
    return depth
