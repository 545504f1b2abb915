"""`tome eval` prints what a user gave (paths, model labels, prompt ids, titles) as given: no markup, no emoji
codes; wrong usage (a missing model, a setting out of range, an output folder it may not write or delete) is one
error line before any model loads."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from tomecraft.cli import app

ODD = "[bold]x[/]:train:"  # markup tags, a closing tag with nothing open, an emoji code
LABEL = "m[bold]x[red]:train:"  # a model label holds no `/` (`a/b=c` is a path)


def _flat(text: str) -> str:
    """Without line breaks or spacing: a long line or table title wraps."""
    return "".join(text.split())


def _fake_results(title: str, label: str, prompt_id: str):
    answer = SimpleNamespace(passed=1, checks=[object()])
    return SimpleNamespace(title=title, prompts=[SimpleNamespace(id=prompt_id)], losses={}, loss_of=lambda label: None,
                           models=[SimpleNamespace(ref=SimpleNamespace(label=label), passed=1, checks=1, answers=[answer])])


def test_compare_prints_the_data_folder_labels_prompt_ids_and_outputs_as_given(tmp_path, monkeypatch):
    import evaluation.answers

    prompts = tmp_path / "p.yaml"
    prompts.write_text(f'prompts:\n  - id: "p{ODD}"\n    text: "Say hi."\n    checks: []\n', encoding="utf-8")
    data, out = tmp_path / f"d{ODD}", tmp_path / f"o{ODD}"

    def fake_answer_all(refs, prompt_set, settings, on_answer):
        a = SimpleNamespace(passed=0, checks=[], seconds=0.1)
        on_answer(refs[0], prompt_set[0], a)
        raise ValueError(f"{refs[0].label}: stop here")

    monkeypatch.setattr(evaluation.answers, "answer_all", fake_answer_all)
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["eval", "compare", "-m", f"{LABEL}=default", "-p", str(prompts),
                                      "-d", str(data), "-o", str(out)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    text = _flat(result.output)
    for shown in (f"note: {data}: not a folder (expected the --out folder of `tome curate`): held-out loss skipped", f"{LABEL} / p{ODD}: 0/0 checks passed",
                  f"error: {LABEL}: stop here"):
        assert _flat(shown) in text, shown


def test_compare_summary_and_written_files_are_printed_as_given(tmp_path, monkeypatch):
    import evaluation.answers
    import evaluation.tables

    out = tmp_path / f"o{ODD}"
    monkeypatch.setattr(evaluation.answers, "answer_all", lambda refs, prompt_set, settings, on_answer: [])
    monkeypatch.setattr(evaluation.tables, "write_results", lambda results, out_: {"md": out_ / "eval.md"})
    monkeypatch.setattr(evaluation.tables, "EvalResults", lambda **kw: _fake_results(f"t{ODD}", f"m{ODD}", f"p{ODD}"))
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["eval", "compare", "--no-loss", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for shown in (f"t{ODD}", f"m{ODD}", f"p{ODD}", str(out / "eval.md")):
        assert _flat(shown) in text, shown


def test_loss_prints_its_title_and_model_labels_as_given(tmp_path, monkeypatch):
    import curation.contract
    import evaluation.heldout

    data = tmp_path / f"d{ODD}"
    monkeypatch.setattr(curation.contract, "require_output_folder", lambda folder: None)
    monkeypatch.setattr(evaluation.heldout, "heldout_loss",
                        lambda *a, **kw: SimpleNamespace(loss=1.5, perplexity=4.48, rows=3, tokens=30))
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["eval", "loss", "-m", f"{LABEL}=default", "-d", str(data)])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    assert _flat(f"held-out loss on {data}/test.parquet") in text and _flat(LABEL) in text


def test_experiment_prints_its_config_log_title_and_outputs_as_given(tmp_path, monkeypatch):
    import evaluation.experiment

    config = tmp_path / f"c{ODD}.yaml"
    config.parent.mkdir()
    shutil.copy(evaluation.experiment.CPU_EXPERIMENT_CONFIG, config)
    out = tmp_path / f"o{ODD}"

    def fake_run(cfg, out_, overwrite, log, progress):
        log(f"curating into {out_ / 'curated'}")
        return _fake_results(f"t{ODD}", f"m{ODD}", f"p{ODD}")

    monkeypatch.setattr(evaluation.experiment, "default_experiment_config", lambda: config)
    monkeypatch.setattr(evaluation.experiment, "run_experiment", fake_run)
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["eval", "experiment", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for shown in (f"config: {config}", f"eval curating into {out / 'curated'}", f"t{ODD}", f"m{ODD}", f"p{ODD}",
                  str(out / "eval.md"), str(out / "eval.html"), str(out / "curated" / "report.html")):
        assert _flat(shown) in text, shown


# -- wrong usage: one error line, before any model loads or any folder is touched -------------------------------

def _one_error_line(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    return result.output[len("error: "):].rstrip("\n")


def test_a_missing_model_stops_loss_before_anything_loads(tmp_path, monkeypatch):
    """`tome eval loss -m missing.gguf` loaded torch and Unsloth (seconds, and their banners) to say so."""
    import evaluation.heldout

    def never(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(evaluation.heldout, "heldout_loss", never)
    data = tmp_path / "out"
    (data).mkdir()
    for name in ("manifest.json", "train.parquet", "validation.parquet", "test.parquet"):
        (data / name).write_text("")
    missing = tmp_path / "missing.gguf"
    line = _one_error_line(CliRunner().invoke(app, ["eval", "loss", "-m", "default", "-m", str(missing), "-d", str(data)]))
    assert line == f"{missing}: no such file or folder, and not a hub id (owner/name)"


def test_a_missing_model_stops_compare_before_the_first_answers(tmp_path, monkeypatch):
    import evaluation.answers

    monkeypatch.setattr(evaluation.answers, "answer_all", lambda *a, **kw: (_ for _ in ()).throw(AssertionError))
    notgguf = tmp_path / "rows.jsonl"
    notgguf.write_text("{}\n")
    line = _one_error_line(CliRunner().invoke(app, ["eval", "compare", "--no-loss", "-m", str(notgguf),
                                                    "-o", str(tmp_path / "eval")]))
    assert line.startswith(f"{notgguf}: not a GGUF file") and not (tmp_path / "eval").exists()


@pytest.mark.parametrize("option, value", [("--max-new-tokens", "0"), ("--max-new-tokens", "5000"),
                                           ("--temperature", "-1"), ("--seed", "-1"), ("--max-seq-length", "0"),
                                           ("--max-loss-rows", "0")])
def test_compare_settings_out_of_range_name_their_option(tmp_path, option, value):
    """They were found by the generator, after the prompt set had loaded, as `max_new_tokens must be in ...`."""
    line = _one_error_line(CliRunner().invoke(app, ["eval", "compare", "--no-loss", option, value,
                                                    "-o", str(tmp_path / "eval")]))
    assert line.startswith(f"Invalid value for '{option}'"), line


def test_experiment_out_under_a_file_is_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    line = _one_error_line(CliRunner().invoke(app, ["eval", "experiment", "-o", str(afile / "exp")]))
    assert line == f"{afile / 'exp'}: cannot write the experiment folder here ({afile} is a file)"


def test_overwrite_deletes_only_an_experiment_folder(tmp_path, monkeypatch):
    """`--out . --overwrite` emptied the working folder (then ended in a traceback: `.` cannot be removed)."""
    import evaluation.experiment

    monkeypatch.setattr(evaluation.experiment, "run_experiment", lambda *a, **kw: (_ for _ in ()).throw(AssertionError))
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    monkeypatch.chdir(project)
    line = _one_error_line(CliRunner().invoke(app, ["eval", "experiment", "-q", "-o", ".", "--overwrite"]))
    assert line == ("--out . --overwrite: not an experiment folder (no experiment.yaml), and --overwrite deletes it "
                    "whole; choose a new or empty folder")
    assert (project / "notes.txt").read_text() == "mine"


def test_an_input_that_cannot_be_read_leaves_the_experiment_folder_as_it_was(tmp_path):
    """A bad `-i` left `experiment.yaml` in a new --out; with --overwrite it deleted the previous experiment first."""
    missing = tmp_path / "missing.jsonl"
    new = tmp_path / "new"
    result = CliRunner().invoke(app, ["eval", "experiment", "-q", "-i", str(missing), "-o", str(new)])
    assert result.exit_code == 2 and result.output.splitlines()[-1] == f"error: {missing}: file not found"
    assert not new.exists()
    old = tmp_path / "old"
    (old / "runs").mkdir(parents=True)
    (old / "experiment.yaml").write_text("the previous experiment's")
    result = CliRunner().invoke(app, ["eval", "experiment", "-q", "-i", str(missing), "-o", str(old), "--overwrite"])
    assert result.exit_code == 2 and result.output.splitlines()[-1] == f"error: {missing}: file not found"
    assert (old / "experiment.yaml").read_text() == "the previous experiment's" and (old / "runs").is_dir()


def test_compare_checks_its_split_before_any_model_loads(tmp_path):
    """`--split bogus` was found only once the models were loaded and the loss began, named by the folder."""
    result = CliRunner().invoke(app, ["eval", "compare", "--split", "bogus", "-m", str(tmp_path / "missing.gguf"),
                                      "-o", str(tmp_path / "eval")])
    assert result.exit_code == 2
    assert result.output == "error: --split 'bogus': expected one of train, validation, test\n"
