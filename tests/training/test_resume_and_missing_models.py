"""`tome train` mistakes a new user makes. `--resume` of a run that finished (summary.json at the
step of its newest checkpoint) loaded the model, trained nothing, and rewrote summary.json with a throughput of
0 tokens/s over the run's own; it is now one line before the model loads, and the run folder is left as it was.
No test here trains: run folders are written by hand, as `tome train` leaves them."""

from __future__ import annotations

import json

import pytest

from tests.training.test_cli_mistakes import _checkpoint, _one_error_line, _rows, _started_run, _train
from training.curated_folder import write_curated_folder


def _finished_run(tmp_path, step: int = 3):
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    checkpoint = _checkpoint(run / "checkpoints", step)
    (run / "adapter").mkdir()
    summary = json.dumps({"global_step": step, "tokens_per_second": 17.0}) + "\n"
    (run / "summary.json").write_text(summary, encoding="utf-8")
    (run / "metrics.jsonl").write_text(json.dumps({"kind": "train", "step": step, "loss": 1.0}) + "\n", encoding="utf-8")
    return run, checkpoint


def test_resuming_a_finished_run_is_one_line_and_changes_nothing(tmp_path, monkeypatch):
    import training.models

    monkeypatch.setattr(training.models, "import_unsloth", lambda: pytest.fail("the model loaded for a finished run"))
    run, checkpoint = _finished_run(tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    line = _one_error_line(_train("--resume", "--run", str(run)))
    assert line.startswith(f"{run}: the run finished at step 3 (summary.json)"), line
    assert "adapter/" in line and "start a new run" in line, line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert checkpoint.is_dir()


@pytest.mark.parametrize("summary", ['{"global_st', "", '{"global_step": true}', "[]"])
def test_a_summary_cut_short_by_a_kill_does_not_count_as_finished(tmp_path, summary):
    """sweep resumes a run whose summary.json a kill cut short (it is rewritten): that must still resume."""
    from training.run import _finished_step

    path = tmp_path / "summary.json"
    path.write_text(summary, encoding="utf-8")
    assert _finished_step(path) is None
    assert _finished_step(tmp_path / "missing.json") is None
    path.write_text('{"global_step": 7}', encoding="utf-8")
    assert _finished_step(path) == 7


def test_print_config_help_says_nothing_is_trained():
    from typer.testing import CliRunner

    from tomecraft.cli import app

    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=200, env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert "every --set applied" in text and "training nothing" in text, text


def test_a_folder_left_with_only_its_messages_copy_says_so(tmp_path):
    """`out/` whose FineTome splits were deleted and whose messages/ (--format messages) remains was called "missing
    train.parquet, validation.parquet, test.parquet", with the splits in plain sight under messages/."""
    import shutil

    data = write_curated_folder(_rows(20), tmp_path / "out")
    (data / "messages").mkdir()
    for split in ("train", "validation", "test"):
        shutil.move(data / f"{split}.parquet", data / "messages" / f"{split}.parquet")
    line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run")))
    assert line.startswith(f"{data}: holds only the messages/ copy of the splits"), line
    assert not (tmp_path / "run").exists()


def test_resuming_a_run_stopped_before_its_first_checkpoint_says_it_starts_over(tmp_path, monkeypatch, capsys):
    import training.models
    from training.run import train

    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)

    def stop(name):
        raise RuntimeError("stopped before the model loads")

    monkeypatch.setattr(training.models, "check_model_source", stop)
    with pytest.raises(RuntimeError, match="stopped before"):
        train(data, None, run, resume=True)
    assert f"--resume: {run}: no checkpoint to continue from; the run starts again at step 0" in capsys.readouterr().err


def test_a_model_that_cannot_be_had_leaves_no_run_folder(tmp_path):
    """config.yaml and data_manifest.json were written before `model.name` was found missing (as an empty train
    split once did): the next `tome train --resume --run` of that folder then resumed a run that never started."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run"),
                                  "--set", f"model.name={tmp_path / 'missing-model'}"))
    assert line.startswith(f"model.name: {tmp_path / 'missing-model'}: no such folder"), line
    assert not (tmp_path / "run").exists()
