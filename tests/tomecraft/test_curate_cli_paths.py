"""A config file's paths are read as written beside it: a relative path not found from the working folder is taken
from the config's folder, for the inputs and for every stage key that names something to read."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from tomecraft.cli import app


def test_stage_paths_in_a_config_are_found_beside_it(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    for name in ("rows.jsonl", "previous.jsonl", "eval.jsonl", "prompts.yaml"):
        (project / "data" / name).write_text("")
    (project / "wordnet").mkdir()
    config = project / "curate.yaml"
    config.write_text(
        "inputs:\n- path: data/rows.jsonl\n"
        "stages:\n"
        "  against:\n    path: data/previous.jsonl\n"
        "  decontaminate:\n    files: [data/eval.jsonl, elsewhere.jsonl]\n    prompt_sets: [data/prompts.yaml]\n"
        "  augment:\n    methods:\n      synonym:\n        wordnet_dir: wordnet\n")
    monkeypatch.chdir(tmp_path)  # the run starts elsewhere: data/ is not found from here
    result = CliRunner().invoke(app, ["curate", "--print-config", "-c", str(config)])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.output)
    stages = printed["stages"]
    assert printed["inputs"][0]["path"] == str(project / "data" / "rows.jsonl")
    assert stages["against"]["path"] == str(project / "data" / "previous.jsonl")
    # a path found nowhere is left as written, for the stage to name in its error
    assert stages["decontaminate"]["files"] == [str(project / "data" / "eval.jsonl"), "elsewhere.jsonl"]
    assert stages["decontaminate"]["prompt_sets"] == [str(project / "data" / "prompts.yaml")]
    assert stages["augment"]["methods"]["synonym"]["wordnet_dir"] == str(project / "wordnet")


def test_a_path_found_from_the_working_folder_is_kept_as_written(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "previous.jsonl").write_text("")
    (tmp_path / "cfg" / "previous.jsonl").write_text("")
    config = tmp_path / "cfg" / "c.yaml"
    config.write_text("stages:\n  against:\n    path: previous.jsonl\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["curate", "--print-config", "-c", str(config)])
    assert yaml.safe_load(result.output)["stages"]["against"]["path"] == "previous.jsonl"
