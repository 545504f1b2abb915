"""Every command reads its config and input files the same way: a bad file stops it up front with one line that names
the file (``error: FILE: what is wrong``), never a traceback, and never after a model loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tomecraft.cli import app
from tomecraft.config_files import ConfigError, load_yaml, read_yaml_mapping


def _fails(args: list[str]) -> str:
    """The one error line of a command that must stop with exit code 2 (not a traceback)."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    line = result.output.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line, result.output
    return line.removeprefix("error: ")


def _prints(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


# -- files that are not UTF-8 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["curate", "--print-config", "-c"], ["train", "--print-config", "-c"], ["sweep", "--print-config", "-c"],
    ["eval", "experiment", "--print-config", "-c"], ["eval", "prompts"],
])
def test_a_file_that_is_not_utf8_is_one_line_naming_it(tmp_path, command):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"prompts:\n- id: a\n  text: x \xff\xfe\n")
    assert _fails(command + [str(bad)]) == f"{bad}: not UTF-8 text (byte 0xff on line 3); save it as UTF-8"


# -- duplicate keys ----------------------------------------------------------------------------------------------


def test_a_key_given_twice_is_an_error_naming_the_line_and_the_key(tmp_path):
    top = tmp_path / "top.yaml"
    top.write_text("stages:\n  split:\n    seed: 7\nstages:\n  filters:\n    enabled: false\n")
    assert _fails(["curate", "--print-config", "-c", str(top)]) == (
        f"{top}: not valid YAML: line 4, column 1: duplicate key 'stages' (first on line 1)")
    nested = tmp_path / "nested.yaml"
    nested.write_text("training:\n  seed: 1\n  max_steps: 2\n  seed: 2\n")
    with pytest.raises(ConfigError, match=r"line 4, column 3: duplicate key 'seed' \(first on line 2\)"):
        read_yaml_mapping(nested)
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("prompts:\n- id: a\n  text: x\n  text: y\n")
    assert "line 4, column 3: duplicate key 'text'" in _fails(["eval", "prompts", str(prompts)])


def test_merge_keys_may_still_be_overridden(tmp_path):
    merged = tmp_path / "merged.yaml"
    merged.write_text("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n")
    assert read_yaml_mapping(merged) == {"base": {"x": 1, "y": 2}, "d": {"x": 1, "y": 3}}


# -- curation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed, problem", [("-1", "greater than or equal to 0"), ("4294967296", "less than or equal to 4294967295")])
def test_near_dedup_seed_is_bounded_at_config_time(seed, problem):
    assert _fails(["curate", "--print-config", "--set", f"stages.near_dedup.seed={seed}"]).startswith(
        f"--set stages.near_dedup.seed: Input should be {problem}")
    assert "seed: 4294967295" in _prints(["curate", "--print-config", "--set", "stages.near_dedup.seed=4294967295"])


def test_print_config_folds_in_the_inputs_so_that_feeding_it_back_curates_the_same(tmp_path, monkeypatch):
    import yaml

    from tomecraft.resources import ensure_sample

    monkeypatch.chdir(tmp_path)
    lines = ensure_sample().read_text(encoding="utf-8").splitlines()
    (tmp_path / "one.jsonl").write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    (tmp_path / "two.jsonl").write_text("\n".join(lines[40:80]) + "\n", encoding="utf-8")
    printed = yaml.safe_load(_prints(["curate", "--print-config", "-i", "one.jsonl", "-i", "b=two.jsonl@2"]))
    assert [(i["path"], i["name"], i["weight"]) for i in printed["inputs"]] == [("one.jsonl", None, None), ("two.jsonl", "b", 2.0)]
    # the command line replaces the config's inputs, printed or run
    config = tmp_path / "c.yaml"
    config.write_text("inputs:\n- path: two.jsonl\n")
    printed = yaml.safe_load(_prints(["curate", "--print-config", "-c", str(config), "-i", "one.jsonl"]))
    assert [i["path"] for i in printed["inputs"]] == ["one.jsonl"]
    assert _fails(["curate", "--print-config", "-i", "one.jsonl@0"]).startswith("--input one.jsonl@0: weight:")
    # the round trip: print with -i, run the printed config, get the same rows
    (tmp_path / "my.yaml").write_text(_prints(["curate", "--print-config", "-i", "one.jsonl", "--set", "report=false"]))
    _prints(["curate", "-q", "-i", "one.jsonl", "--set", "report=false", "-o", "a"])
    _prints(["curate", "-q", "-c", "my.yaml", "-o", "b"])
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("a", "b")]
    assert manifests[0]["accounting"]["input_rows"] == manifests[1]["accounting"]["input_rows"] == 40
    for split in ("train", "validation", "test"):
        assert (tmp_path / "a" / f"{split}.parquet").read_bytes() == (tmp_path / "b" / f"{split}.parquet").read_bytes()
    # the same run, not a mix of one input: the same card, and a manifest that differs only in its clock
    assert (tmp_path / "a" / "README.md").read_text() == (tmp_path / "b" / "README.md").read_text()

    def untimed(value):
        if isinstance(value, dict):
            return {k: untimed(v) for k, v in value.items() if k not in ("created_at", "seconds", "rows_per_s")}
        return [untimed(v) for v in value] if isinstance(value, list) else value

    assert untimed(manifests[0]) == untimed(manifests[1])


def test_an_empty_inputs_list_is_an_error_not_the_embedded_sample(tmp_path, monkeypatch):
    # `inputs: []` curated the embedded sample, as a config without the key does: a list someone emptied
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text("inputs: []\n")
    problem = ("is empty; list at least one input (or give --input), or leave inputs out to curate the embedded "
               "sample")
    assert _fails(["curate", "-q", "-c", str(config), "-o", "out"]) == f"{config}: inputs: {problem}"
    assert _fails(["curate", "-q", "--set", "inputs=[]", "-o", "out"]) == f"--set inputs: {problem}"
    assert _fails(["curate", "--print-config", "-c", str(config)]) == f"{config}: inputs: {problem}"
    assert not (tmp_path / "out").exists()
    # with --input the list is replaced, as any list is
    printed = load_yaml(_prints(["curate", "--print-config", "-c", str(config), "-i", "sample"]))
    assert [i["path"] for i in printed["inputs"]] == ["sample"]
    # the printed defaults leave the key out, so that feeding them back is the run that printed them
    defaults = _prints(["curate", "--print-config"])
    assert "inputs" not in load_yaml(defaults)
    (tmp_path / "my.yaml").write_text(defaults)
    assert _prints(["curate", "--print-config", "-c", "my.yaml"]) == defaults


# -- training ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("override, problem", [
    ("training.optim=bogus", "--set training.optim: unknown optimizer 'bogus'; one of adamw_torch,"),
    ("training.learning_rate=1e400", "--set training.learning_rate: Input should be a finite number (got inf)"),
    ("training.num_epochs=.nan", "--set training.num_epochs: Input should be a finite number (got nan)"),
    ("training.seed=-1", "--set training.seed: Input should be greater than or equal to 0 (got -1)"),
    ("training.seed=4294967296", "--set training.seed: Input should be less than or equal to 4294967295"),
    ("lora.r=true", "--set lora.r: Input should be a valid integer, not a boolean (got True)"),
])
def test_train_config_refuses_values_the_trainer_would_refuse_later(override, problem):
    assert _fails(["train", "--print-config", "--set", override]).startswith(problem)


@pytest.mark.slow  # imports transformers in a process of its own
def test_train_optimizers_are_transformers_own():
    from training.config import OPTIMIZERS

    # in a process of its own: transformers is imported before Unsloth here, which would spoil later tests
    names = subprocess.run([sys.executable, "-c", "from transformers.training_args import OptimizerNames as O; "
                            "print(' '.join(o.value for o in O))"], capture_output=True, text=True, check=True)
    assert set(OPTIMIZERS) == set(names.stdout.split())


def test_train_reports_a_trainer_config_value_error_in_one_line(tmp_path, monkeypatch):
    import training.run

    def refuse(*args, **kwargs):
        raise training.run.TrainerConfigError("--optim adamw_8bit is not supported on this machine")

    monkeypatch.setattr(training.run, "train", refuse)
    config = tmp_path / "t.yaml"
    config.write_text("training:\n  max_steps: 1\n")
    assert _fails(["train", "-q", "-c", str(config), "-d", str(tmp_path), "--run", str(tmp_path / "run")]) == (
        f"{config}: --optim adamw_8bit is not supported on this machine")


def test_train_does_not_blame_the_config_for_any_other_value_error(tmp_path, monkeypatch):
    import training.run

    def bug(*args, **kwargs):
        raise ValueError("a bug of the run's own")

    monkeypatch.setattr(training.run, "train", bug)
    config = tmp_path / "t.yaml"
    config.write_text("training:\n  max_steps: 1\n")
    result = CliRunner().invoke(app, ["train", "-q", "-c", str(config), "-d", str(tmp_path), "--run", str(tmp_path / "run")])
    assert isinstance(result.exception, ValueError) and str(config) not in result.output


def test_yes_no_on_off_are_text_and_true_false_are_booleans(tmp_path):
    # YAML 1.1 (PyYAML) reads no/yes/on/off as booleans: Norwegian (`no`) became False, in files and in --set
    config = tmp_path / "c.yaml"
    config.write_text("stages:\n  language:\n    allowed: [en, no]\n    enabled: yes\n")
    for args in (["-c", str(config)], ["--set", "stages.language.allowed=[en, no]", "--set", "stages.language.enabled=on"]):
        language = _prints(["curate", "--print-config", *args]).split("  language:\n")[1]
        assert language.splitlines()[:4] == ["    enabled: true", "    allowed:", "    - en", "    - 'no'"], language
    for name in ("no", "Off", "yes"):
        config.write_text(f"model:\n  name: {name}\n")
        assert f"  name: '{name}'" in _prints(["train", "--print-config", "-c", str(config)])
    assert load_yaml("[true, False, TRUE, y, n]") == [True, False, True, "y", "n"]


# -- sweep and experiment configs --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["sweep", "--print-config"], ["eval", "experiment", "--print-config"]])
def test_sweep_and_experiment_configs_refuse_nan_and_bools_for_numbers(command):
    assert _fails(command + ["--set", "eval.temperature=.nan"]) == (
        "--set eval.temperature: Input should be a finite number (got nan)")
    assert _fails(command + ["--set", "eval.seed=true"]) == (
        "--set eval.seed: Input should be a valid integer, not a boolean (got True)")


@pytest.mark.parametrize("text, problem", [
    ("- 1\n- 2\n", "expected a mapping at the top level"),
    ("hello\n", "expected a mapping at the top level"),
    ("curation_config: 5\n", "curation_config: Input should be a valid string (got 5)"),
    ("stages:\n\tsplit: 1\n", "not valid YAML: line 2, column 1: found character '\\t' that cannot start any token"),
    ("curation: {bogus: 1}\n", "curation: bogus: unknown key (known: inputs, stages"),
    ("train: {training: {optim: bogus}}\n", "train: training.optim: unknown optimizer 'bogus'"),
    ("eval: {prompts: nope.yaml}\n", "nope.yaml: prompt file not found"),
])
def test_experiment_config_is_read_and_checked_like_every_other(tmp_path, text, problem):
    config = tmp_path / "exp.yaml"
    config.write_text(text)
    line = _fails(["eval", "experiment", "--print-config", "-c", str(config)])
    assert line.startswith(problem if problem.startswith("nope") else f"{config}: {problem}"), line


def test_experiment_config_folder_and_set_sections(tmp_path):
    assert _fails(["eval", "experiment", "--print-config", "-c", str(tmp_path)]) == (
        f"{tmp_path}: is a folder; give the YAML config file")
    # a bad key given by --set is --set's, not the file's
    assert _fails(["eval", "experiment", "--print-config", "--set", "curation.bogus=1"]).startswith(
        "--set curation: bogus: unknown key")


# -- prompt sets -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("checks, problem", [
    ("5", "prompts[0] (prompt 'a'): 'checks' must be a list of checks (got 5)"),
    ("[{name: no_repetition, bogus: 1}]",
     "prompts[0].checks[0] (prompt 'a', check no_repetition): bogus: unknown parameter (known: n, max_fraction)"),
    ("[{name: keywords, terms: x}]", "prompts[0].checks[0] (prompt 'a', check keywords): terms: Input should be a valid list (got 'x')"),
    ("[{name: days_covered, days: -3}]", "days: Input should be greater than or equal to 1 (got -3)"),
    ("[{name: budget_within, budget: .nan}]", "budget: Input should be a finite number (got nan)"),
    ("[{name: keywords, terms: [a], min_count: '2'}]", "min_count: Input should be a valid integer (got '2')"),
    ("[{name: single_choice, options: {wind: wind}}]", "options.wind: Input should be a valid list (got 'wind')"),
    ("[{name: [x]}]", "prompts[0].checks[0]: unknown check {'name': ['x']}"),
])
def test_prompt_set_checks_are_validated_when_the_set_is_loaded(tmp_path, checks, problem):
    prompts = tmp_path / "p.yaml"
    prompts.write_text(f"prompts:\n- id: a\n  text: x\n  checks: {checks}\n")
    line = _fails(["eval", "prompts", str(prompts)])
    assert line.startswith(f"{prompts}: ") and problem in line, line
    # ... and so compare stops before any model loads
    assert _fails(["eval", "compare", "-p", str(prompts), "--no-loss", "-o", str(tmp_path / "ev")]) == line


def test_prompt_set_with_good_parameters_and_unknown_prompt_keys(tmp_path):
    from evaluation.checks import check_params
    from evaluation.prompt_sets import default_prompt_set, load_prompt_set

    for prompt in default_prompt_set():
        for check in prompt.checks:
            check_params(check.name, check.params)
    good = tmp_path / "good.yaml"
    good.write_text("prompts:\n- id: a\n  text: x\n  checks:\n  - {name: days_covered, days: 5}\n"
                    "  - {name: budget_within, budget: 4000}\n  - {name: single_choice, options: {a: [x], b: [y]}}\n")
    assert [c.as_dict() for c in load_prompt_set(good)[0].checks] == [
        {"name": "days_covered", "days": 5}, {"name": "budget_within", "budget": 4000},
        {"name": "single_choice", "options": {"a": ["x"], "b": ["y"]}}]
    typo = tmp_path / "typo.yaml"
    typo.write_text("prompts:\n- id: a\n  text: x\n  chekcs: []\n")
    assert _fails(["eval", "prompts", str(typo)]) == (
        f"{typo}: prompts[0] (prompt 'a'): unknown key chekcs (known: id, text, system, checks)")


def test_several_config_errors_are_one_error_line_each():
    result = CliRunner().invoke(app, ["curate", "--print-config", "--set", "stages.near_dedup.threshold=2",
                                      "--set", "stages.filters.min_chars_per_turn=-1"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 2 and all(line.startswith("error: --set stages.") for line in lines), \
        result.output


def test_a_config_given_as_a_pipe_or_dev_null_is_read(tmp_path):
    """`-c <(...)` hands the command a pipe (/dev/fd/N) and `-c /dev/null` a device: both are read as the file they
    stand for, not refused as "not found"; a path that is not there still is."""
    import os
    import threading

    assert read_yaml_mapping("/dev/null") == {}
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    # (a daemon: were the pipe refused unread, the writer's wait for a reader must not hang the test run)
    writer = threading.Thread(target=lambda: fifo.write_text("report: false\n"), daemon=True)
    writer.start()
    assert read_yaml_mapping(fifo) == {"report": False}
    writer.join(10)
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        read_yaml_mapping(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text,where", [
    ('stages: {pii: {enabled: true, placeholder: "<\\ud800{TYPE}>"}}\n', "stages.pii.placeholder"),
    ('stages: {balance: {per_source: {"a\\udc80": 3}}}\n', "stages.balance.per_source.a"),
    ('inputs: [{path: rows.jsonl, format: messages, columns: {role: "r\\udfff"}}]\n', "inputs.0.columns.role"),
    ('inputs: [{path: rows.jsonl, name: "x\\ud834"}]\n', "inputs.0.name"),
])
def test_a_lone_surrogate_in_a_config_string_is_one_line_naming_the_key(tmp_path, text, where):
    """YAML (and JSON) read "\\ud800" as a lone surrogate, which no output file can hold: the config is refused in
    one line naming the key, not a traceback when the run writes the string."""
    from curation.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {where}") and "lone surrogate" in message and "\n" not in message
    result = CliRunner().invoke(app, ["curate", "-c", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "lone surrogate" in result.output and "Traceback" not in result.output
