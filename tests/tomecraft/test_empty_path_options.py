"""A path option given as ``""``: one line (exit 2) before any work, never the working folder. A ``Path`` option
turns ``""`` into ``.``: `tome eval compare --out ""` wrote eval.json, eval.md and eval.html into the working
folder, `tome sweep --out ""` planned its data/ and cells/ there, `tome review` took it for the working folder."""

from __future__ import annotations

import os

import pytest

from tests.curation.runs import invoke, one_error_line

COMMANDS = [
    (("eval", "compare", "--out"), "'--out' / '-o'"),
    (("eval", "experiment", "--out"), "'--out' / '-o'"),
    (("sweep", "--dry-run", "--out"), "'--out' / '-o'"),
    (("review", "export", "FOLDER", "--no-vectors", "--to"), "'--to'"),
    (("review", "export", "FOLDER", "--no-vectors", "--hub-dir"), "'--hub-dir'"),
    (("review", "import", "FOLDER", "--out", "elsewhere", "--from"), "'--from'"),
    (("review", "import", "FOLDER", "--from", "verdicts", "--out"), "'--out' / '-o'"),
]


@pytest.mark.parametrize("args,option", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_an_empty_path_is_refused_in_one_line_and_nothing_is_written(args, option, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, output = invoke(*[str(tmp_path / "no-such-output") if a == "FOLDER" else a for a in args], "")
    line = one_error_line(output)
    assert code == 2
    assert f"Invalid value for {option}: is empty: give a folder" in line
    assert os.listdir(work) == []
