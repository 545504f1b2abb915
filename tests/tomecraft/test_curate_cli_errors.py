"""`tome curate` stops with one ``error:`` line whatever stops it: a command line Click cannot parse, a Ctrl-C, a
config value the engine cannot use, a run whose rows do not add up; never Click's framed usage text, silence or a
traceback. Exit codes: 2 for what the user gave, 130 for Ctrl-C, 1 for a bug."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tomecraft.cli import app


def _one_error_line(args: list[str], code: int) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code and isinstance(result.exception, SystemExit), (result.output, result.exception)
    line = result.output.strip()
    assert line.startswith("error: ") and "\n" not in line, result.output
    return line.removeprefix("error: ")


@pytest.mark.parametrize("args, says", [
    (["curate", "--bogus"], "No such option: --bogus"),
    (["curate", "-i"], "Option '-i' requires an argument"),
    (["curate", "--engine", "spark"], "Invalid value for '--engine': 'spark' is not one of 'local', 'ray'"),
    (["--bogus"], "No such option: --bogus"),
    (["curat"], "No such command 'curat'"),
    (["report"], "Missing argument"),
])
def test_a_command_line_click_cannot_parse_is_one_error_line(args, says):
    line = _one_error_line(args, 2)
    assert line.startswith(says) and line.endswith("--help"), line


def test_tome_alone_still_prints_the_help():
    result = CliRunner().invoke(app, [])
    assert "curate" in result.output and "error:" not in result.output


def _run_raising(monkeypatch, exc: BaseException) -> None:
    import curation.pipeline

    def run_curation(*args, **kwargs):
        raise exc

    monkeypatch.setattr(curation.pipeline, "run_curation", run_curation)


def test_ctrl_c_during_a_run_is_one_line_that_says_the_folder_is_unfinished(monkeypatch, tmp_path):
    _run_raising(monkeypatch, KeyboardInterrupt())
    out = tmp_path / "out"
    line = _one_error_line(["curate", "-q", "-o", str(out)], 130)
    assert line == f"interrupted; {out} is not finished: run the command again to finish it (--resume skips the " \
                   "stages already checkpointed)"


def test_rows_that_do_not_add_up_are_one_line_not_a_traceback(monkeypatch, tmp_path):
    from curation.core.bookkeeping import AccountingError

    _run_raising(monkeypatch, AccountingError("rows were lost or duplicated: {'balanced': False}"))
    out = tmp_path / "out"
    line = _one_error_line(["curate", "-q", "-o", str(out), "--resume"], 1)
    assert line == (f"rows were lost or duplicated: {{'balanced': False}}; {out} is not a valid output (a bug in "
                    "tomecraft: please report it); run again without --resume")


@pytest.mark.parametrize("override, problem", [
    ("engine.batch_rows=99999999999999999999999999", "--set engine.batch_rows: Input should be less than or equal to "
                                                     "2147483647 (got 99999999999999999999999999)"),
    ("engine.workers=100000000000000000000", "--set engine.workers: Input should be less than or equal to 1024 (got "
                                             "100000000000000000000)"),
])
def test_engine_sizes_the_engine_cannot_use_are_config_errors(override, problem):
    # both ran into a traceback mid-run (an overflow in Arrow, in the thread pool)
    assert _one_error_line(["curate", "--print-config", "--set", override], 2) == problem
