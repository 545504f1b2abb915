"""`tome review import` is told where the verdicts are, and --overwrite deletes only an earlier output: never the
folder it reads, the annotators' export, or a folder of the user's own. Each refusal is one error line, before
anything is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tomecraft.cli import app

NO_SERVER = {"ARGILLA_API_URL": "", "ARGILLA_API_KEY": "", "ARGILLA_WORKSPACE": ""}


def _one_error_line(args: list[str]) -> str:
    result = CliRunner().invoke(app, ["review", "import", *args], env=NO_SERVER)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    return result.output[len("error: "):].rstrip("\n")


def _project(tmp_path: Path, monkeypatch) -> Path:
    """A working folder with the reviewed folder, the annotators' export and a file of the user's."""
    project = tmp_path / "project"
    for folder in ("out", "review"):
        (project / folder).mkdir(parents=True)
        (project / folder / "kept.txt").write_text(folder)
    (project / "notes.txt").write_text("mine")
    monkeypatch.chdir(project)
    return project


def _untouched(project: Path) -> bool:
    return (sorted(str(p.relative_to(project)) for p in project.rglob("*"))
            == ["notes.txt", "out", "out/kept.txt", "review", "review/kept.txt"])


def test_without_from_or_a_server_it_says_where_verdicts_come_from(tmp_path, monkeypatch):
    """The live path's message ended `(or use --to DIR to export offline)`: export's option, not import's."""
    project = _project(tmp_path, monkeypatch)
    line = _one_error_line(["out", "--out", "reviewed"])
    assert line.startswith("say where the verdicts are: --from DIR ") and "--api-url" in line and "--to" not in line
    assert _untouched(project)


@pytest.mark.parametrize("out, holds", [(".", "out"), ("review", "review")])
def test_overwrite_never_deletes_what_the_import_reads(tmp_path, monkeypatch, out, holds):
    """`--out . --overwrite` deleted the working folder's files, the reviewed folder and the export among them, then
    ended in a traceback (`.` cannot be removed)."""
    project = _project(tmp_path, monkeypatch)
    line = _one_error_line(["out", "--from", "review", "--out", out, "--overwrite"])
    assert line == f"--out {out} --overwrite: it holds {holds}, which this import reads; choose another --out"
    assert _untouched(project)


def test_overwrite_deletes_only_an_output_folder(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch)
    (project / "mine").mkdir()
    (project / "mine" / "a.txt").write_text("a")
    line = _one_error_line(["out", "--from", "review", "--out", "mine", "--overwrite"])
    assert line == ("--out mine --overwrite: not an output folder (no manifest.json), and --overwrite deletes it "
                    "whole; choose a new or empty folder")
    assert (project / "mine" / "a.txt").read_text() == "a"

