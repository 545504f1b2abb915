"""Progress bars advance by rows, whatever a stage iterates; what a user gave is printed as given."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from rich.progress import TextColumn
from typer.testing import CliRunner

from tomecraft.console import _size, error, make_progress


def test_a_bar_advances_by_the_rows_of_what_it_is_given():
    batch = pa.record_batch({"a": [1, 2, 3]})
    assert _size(batch) == 3 and _size((batch, "extra")) == 3
    assert _size((pa.array(["id1", "id2"]), pa.array([[1], [2]]))) == 2  # (ids, conversations) of an existing set
    assert _size(pa.chunked_array([[1], [2, 3]])) == 3
    assert _size(range(5)) == 5 and _size("one item") == 1


# -- what a user gave is printed as given: no markup, no emoji codes ------------------------------------------

USER_TEXT = ["x[/].jsonl: file not found", "mydata:train:v2.jsonl: file not found", "missing[bold]dir/x.jsonl",
             "columns ([/], [red]x[/red])", "a folder\\"]


@pytest.mark.parametrize("message", USER_TEXT)
def test_an_error_line_is_the_message_as_given(capsys, message):
    with pytest.raises(SystemExit) as stopped:
        error(message)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == f"error: {message}\n"


@pytest.mark.parametrize("name", ["bad\u2028x.jsonl", "bad\u2029x", "bad\x0cx", "bad\x0bx", "bad\x1cx", "bad\x85x"])
def test_a_name_holding_a_unicode_line_separator_stays_on_its_error_line(capsys, name):
    """``str.splitlines`` cuts at these too: a file name holding one printed as two ``error:`` lines."""
    from tomecraft.errors import error_line

    message = error_line(ValueError(f"{name}: not JSON Lines\nmore detail"))
    assert message == f"{name}: not JSON Lines"
    with pytest.raises(SystemExit):
        error(message)
    err = capsys.readouterr().err  # a control character is shown as its escape (\x0c), a separator as it is
    shown = name[4:] if name[3].isprintable() or name[3] in "\u2028\u2029" else repr(name[3])[1:-1] + name[4:]
    assert err.count("\n") == 1 and err.startswith("error: bad") and err.endswith(f"{shown}: not JSON Lines\n")


@pytest.mark.parametrize("name", ["bad\x1b[2Jx.jsonl", "bad\rx.jsonl", "bad\x07x.jsonl"])
def test_a_control_character_in_a_name_is_shown_as_its_escape_never_sent_to_the_terminal(capsys, name):
    """An escape sequence in a file name (it clears the screen here) reached the terminal to act on, and a CR
    sent the cursor back over the line: the error line shows each as its escape."""
    with pytest.raises(SystemExit):
        error(f"{name}: file not found")
    shown = repr(name)[1:-1]
    assert capsys.readouterr().err == f"error: {shown}: file not found\n"


def test_a_message_of_two_problems_is_two_error_lines(capsys):
    with pytest.raises(SystemExit):
        error("a: wrong\r\nb: wrong too\n")
    assert capsys.readouterr().err == "error: a: wrong\nerror: b: wrong too\n"


@pytest.mark.parametrize("description", USER_TEXT)
def test_a_progress_description_is_not_markup(description):
    progress = make_progress(quiet=True)
    task = progress.add_task(description, total=3)
    cells = [column.render(progress.tasks[task]) for column in progress.columns if isinstance(column, TextColumn)]
    assert [cell.plain.rstrip() for cell in cells] == [description]


def test_the_curate_summary_prints_names_and_paths_as_given(tmp_path, monkeypatch):
    from tomecraft.cli import app
    from tomecraft.resources import ensure_sample

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    lines = ensure_sample().read_text(encoding="utf-8").splitlines()
    Path("one.jsonl").write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    Path("two.jsonl").write_text("\n".join(lines[20:40]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["curate", "-q", "-i", "[/]=one.jsonl", "-i", "[bold]:train:=two.jsonl",
                                      "-o", "o[/red]", "--set", "report=false"])
    assert result.exit_code == 0, result.output
    table_rows = [line.split("│")[1].strip() for line in result.output.splitlines() if line.startswith("│")]
    assert "[/]" in table_rows and "[bold]:train:" in table_rows
    assert "o[/red]/train.parquet" in result.output and "o[/red]/manifest.json" in result.output


# -- at 80 columns, and piped ---------------------------------------------------------------------------------


def _console_80(monkeypatch, terminal: bool = False) -> "io.StringIO":
    """The shared console, printing into a string at 80 columns: not a terminal (what a log or a pipe gets; rich
    assumes 80 columns there), or a terminal that draws no live display (its bars are printed once, at the end)."""
    import io

    from rich.console import Console

    import tomecraft.console

    file = io.StringIO()
    console = Console(file=file, width=80, highlight=False, emoji=False, soft_wrap=True,
                      force_terminal=terminal or None, force_interactive=False)
    monkeypatch.setattr(tomecraft.console, "console", console)
    return file


def test_each_bar_is_one_line_at_80_columns_and_a_count_not_known_ahead_ends_known(monkeypatch):
    from tomecraft.console import progress_tracker

    file = _console_80(monkeypatch, terminal=True)
    with progress_tracker() as track:
        assert sum(1 for _ in track(iter(range(3464)), None, "validate | keys: ids")) == 3464
        list(track(iter([range(3403)]), 3403, "ids -> normalize | keys: exact_dedup"))  # the longest there is
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", file.getvalue())  # the terminal's styles and cursor codes
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines), lines
    assert "3464/3464" in lines[0] and "rows/s" in lines[0] and "ids -> normalize | keys: exact_dedup" in lines[1]


def test_a_piped_table_is_printed_whole(monkeypatch):
    from rich.table import Table

    import tomecraft.console

    file = _console_80(monkeypatch)
    table = Table()
    for name in ("stage", "rows in", "kept", "removed (by reason)", "quarantined", "time"):
        table.add_column(name)
    reasons = "filter:roles_not_alternating: 32\nfilter:prompt_answer_ratio: 30"
    table.add_row("semantic_dedup", "3,464", "3,403", reasons, "61", "0.25s")
    tomecraft.console.print_table(table)
    text = file.getvalue()
    assert "…" not in text and all(reason in text for reason in reasons.splitlines())


def test_piped_bars_cut_short_by_an_error_leave_nothing_above_its_line(monkeypatch):
    from tomecraft.console import progress_tracker

    file = _console_80(monkeypatch)
    with pytest.raises(ValueError):
        with progress_tracker() as track:
            for _ in track(iter(range(5)), None, "validate | keys: ids"):
                pass
            raise ValueError("bad row")
    assert file.getvalue() == ""


def test_piped_there_are_no_bars_only_what_the_command_prints(monkeypatch):
    """Progress is for someone watching a terminal: a log or a pipe got a bar per pass before the summary."""
    import tomecraft.console
    from tomecraft.console import progress_tracker

    file = _console_80(monkeypatch)
    with progress_tracker() as track:
        assert sum(1 for _ in track(iter(range(3464)), None, "validate | keys: ids")) == 3464
    tomecraft.console.console.print("done")
    assert file.getvalue() == "done\n"


def test_a_line_longer_than_the_console_is_printed_whole(monkeypatch):
    """Piped (rich assumes 80 columns) or with COLUMNS=20, the accounting line and each output path were cut into
    several lines: a path no longer pasted or grepped whole."""
    import io

    from rich.console import Console

    import tomecraft.console

    assert tomecraft.console.console.soft_wrap  # the console every command prints with
    file = io.StringIO()
    monkeypatch.setattr(tomecraft.console, "console", Console(file=file, width=20, soft_wrap=True))
    path = "/tmp/a/rather/long/output/folder/train.parquet"
    tomecraft.console.console.print(f"  train       {path}  (864 rows)", markup=False)
    assert file.getvalue() == f"  train       {path}  (864 rows)\n"
