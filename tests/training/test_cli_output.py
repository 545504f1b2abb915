"""`tome train` / `tome export` print what a user gave (paths, model names) as given: no markup, no emoji codes;
wrong usage is one error line before the data or the model is read; the help shows every default."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

from typer.testing import CliRunner

from tomecraft.cli import app

ODD = "[bold]x[/]:train:"  # markup tags, a closing tag with nothing open, an emoji code


def _flat(text: str) -> str:
    """The output without line breaks or spacing (a long table title wraps); the expected texts hold no spaces
    that matter."""
    return "".join(text.split())


def test_train_prints_the_config_and_the_data_folder_as_given(tmp_path, monkeypatch):
    import training.config

    config = tmp_path / f"c{ODD}.yaml"  # `[/]` makes a folder `c[bold]x[`
    config.parent.mkdir()
    shutil.copy(training.config.CPU_DEFAULT_CONFIG, config)
    monkeypatch.setattr(training.config, "default_config_path", lambda cuda=None: config)
    monkeypatch.setenv("COLUMNS", "300")
    data = tmp_path / f"d{ODD}"
    result = CliRunner().invoke(app, ["train", "-q", "-d", str(data), "--run", str(tmp_path / "run")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert _flat(f"config: {config}") in _flat(result.output)
    assert str(data) in _flat(result.output) and "🚆" not in result.output


def test_the_train_summary_prints_the_run_folder_and_model_as_given(tmp_path, capsys, monkeypatch):
    from training.cli import print_train_summary

    monkeypatch.setenv("COLUMNS", "300")
    summary = SimpleNamespace(
        run_dir=tmp_path / f"r{ODD}", model=f"owner/m{ODD}", device="cpu", global_step=2, epoch=0.5,
        resumed_from_step=None, tokens_seen=100, tokens_per_second=10.0, peak_memory_bytes=2**30,
        peak_memory_kind="rss", train_loss_first=2.0, train_loss_last=1.0, eval_loss_first=None, eval_loss_last=None,
        data={},
    )
    print_train_summary(summary)
    err = _flat(capsys.readouterr().err)
    assert _flat(f"tome train -> {tmp_path / f'r{ODD}'}") in err and f"owner/m{ODD}" in err


def test_export_prints_its_paths_and_the_smoke_answers_as_given(tmp_path, monkeypatch):
    import training.export

    run, out = tmp_path / f"run{ODD}", tmp_path / f"out{ODD}\\"
    run.mkdir(parents=True)

    def fake_export(run_, out_, quants, keep_bf16, smoke, say):
        say(f"adapter -> {out_ / 'lora'}")
        return SimpleNamespace(out_dir=out_, lora_dir=out_ / "lora", merged_dir=out_ / "merged",
                               gguf={"q8_0": out_ / f"m{ODD}.gguf"}, files={"q8_0": {"bytes": 2**20}},
                               smoke={"q8_0": f"says {ODD}"})

    monkeypatch.setattr(training.export, "export_run", fake_export)
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out), "--quant", "q8_0"])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for shown in (f"✓ adapter -> {out / 'lora'}", f"tome export -> {out}", str(out / "lora"), str(out / "merged"),
                  str(out / f"m{ODD}.gguf"), f"q8_0 says: {f'says {ODD}'!r}"):
        assert _flat(shown) in text, shown


# -- wrong usage: one error line, before the data or the model is read --------------------------------------------

def _one_error_line(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if not line.startswith("config: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0][len("error: "):]


def _curated_stub(tmp_path: Path) -> Path:
    data = tmp_path / "out"
    data.mkdir()
    for name in ("manifest.json", "train.parquet", "validation.parquet", "test.parquet"):
        (data / name).write_text("")
    return data


def test_a_run_folder_that_is_a_file_or_under_one_is_one_line(tmp_path):
    """Both ended in a NotADirectoryError / FileExistsError traceback from the run folder's mkdir."""
    data = _curated_stub(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for run, why in ((afile, "it is a file"), (afile / "run", f"{afile} is a file")):
        line = _one_error_line(CliRunner().invoke(app, ["train", "-q", "-d", str(data), "--run", str(run)]))
        assert line == f"{run}: cannot write the run folder here ({why})"


def test_resume_without_a_run_says_so_not_that_the_data_is_missing(tmp_path, monkeypatch):
    """`tome train --resume --run runs/typo` said `out: not a folder` (the default --data) where there was no run."""
    monkeypatch.chdir(tmp_path)
    line = _one_error_line(CliRunner().invoke(app, ["train", "--resume", "--run", "runs/typo"]))
    assert line == "runs/typo: nothing to resume (no config.yaml); give the --run folder of a started `tome train`"


def test_a_step_or_token_budget_below_one_names_its_option():
    for option in ("--max-steps", "--max-tokens"):  # was `--set training.max_steps: ...`, an option not given
        line = _one_error_line(CliRunner().invoke(app, ["train", "--print-config", option, "0"]))
        assert line.startswith(f"Invalid value for '{option}'"), line


def test_the_help_shows_the_defaults_of_run_and_export_out(monkeypatch):
    """`runs/<config file name>` and `<run>/export` were read as markup tags and printed as `runs/,` and `/export`."""
    monkeypatch.setenv("COLUMNS", "300")
    train = " ".join(CliRunner().invoke(app, ["train", "--help"]).output.split())
    export = " ".join(CliRunner().invoke(app, ["export", "--help"]).output.split())
    assert "Default: runs/CONFIG, CONFIG the config file's name" in train
    assert "Default: RUN/export, RUN the run folder." in export and "into RUN/export/" in export


def test_a_piped_summary_shows_a_long_model_name_whole(tmp_path, capsys, monkeypatch):
    from training.cli import print_train_summary

    monkeypatch.setenv("COLUMNS", "80")  # piped: rich assumes 80 columns and cut the cell short ("…")
    model = "owner/" + "a-rather-long-model-name-" * 4 + "bnb-4bit"
    summary = SimpleNamespace(
        run_dir=tmp_path / "r", model=model, device="cpu", global_step=2, epoch=0.5, resumed_from_step=None,
        tokens_seen=100, tokens_per_second=10.0, peak_memory_bytes=2**30, peak_memory_kind="rss",
        train_loss_first=2.0, train_loss_last=1.0, eval_loss_first=None, eval_loss_last=None, data={},
    )
    print_train_summary(summary)
    err = capsys.readouterr().err
    assert model in err and "…" not in err
