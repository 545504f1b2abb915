"""The paths `tome curate` is given. A config file's paths are read as written beside it: a relative path not found
from the working folder is taken from the config's folder, for the inputs and for every stage key that names
something to read. The output folder is one the run may write: never empty, never a folder of the user's own
whose files the run would replace."""

from __future__ import annotations

import pytest
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


# -- the output folder: what the run would replace that is not its own ------------------------------------------

def _curate(args: list[str]):
    return CliRunner().invoke(app, ["curate", "-q", *args])


def _stopped_at_the_run(monkeypatch) -> None:
    """The run itself stops with Ctrl-C's line (exit 130) once its output folder is checked
    (:func:`curation.pipeline.check_out_dir`): whatever exits 2 was refused before any work."""
    import curation.pipeline

    check = curation.pipeline.check_out_dir

    def run_curation(spec, out_dir, config, output_format="finetome", *args, **kwargs):
        check(out_dir, config, output_format)
        raise KeyboardInterrupt

    monkeypatch.setattr(curation.pipeline, "run_curation", run_curation)


def test_an_empty_out_is_refused_not_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (as a Path, "" is "."; the splits, card and report went into the working folder)
    result = _curate(["-o", ""])
    assert result.exit_code == 2 and result.output == "error: --out is empty: give the output folder (default: out)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("entry", ["README.md", "messages"])
def test_a_folder_of_the_users_own_is_not_written_over(tmp_path, monkeypatch, entry):
    """`tome curate -o .` in a project replaced its README.md with the dataset card (and removed a messages/
    folder): a folder that is no `tome curate` output keeps what the run would replace."""
    _stopped_at_the_run(monkeypatch)
    project = tmp_path / "project"
    project.mkdir()
    if entry == "README.md":
        (project / entry).write_text("# my project\n")
    else:
        (project / entry).mkdir()
        (project / entry / "chat.txt").write_text("hello\n")
    monkeypatch.chdir(project)
    result = _curate(["-o", "."])
    kind = "file" if entry == "README.md" else "folder"
    assert result.exit_code == 2 and result.output == (
        f"error: {entry}: --out . is not a `tome curate` output folder (no manifest.json, no tomecraft dataset card) "
        f"and the run would replace this {kind}; move it or choose another --out\n")
    assert sorted(p.name for p in project.iterdir()) == [entry]
    assert entry != "README.md" or (project / entry).read_text() == "# my project\n"


@pytest.mark.parametrize("leftover", ["manifest", "card"])
def test_a_curate_output_is_written_again(tmp_path, monkeypatch, leftover):
    """A finished output (its manifest) and a folder with the run's own card (tagged tomecraft) are the run's own:
    it goes on."""
    _stopped_at_the_run(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("---\ntags:\n- tomecraft\n- sft\n---\n# Curated chat fine-tuning data\n")
    if leftover == "manifest":
        (out / "README.md").write_text("# a card the user rewrote\n")
        (out / "manifest.json").write_text("{}")
    assert _curate(["-o", str(out)]).exit_code == 130
