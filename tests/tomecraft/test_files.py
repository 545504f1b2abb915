"""Folders made once and shared by processes side by side (the converted SmolLM2 model and tokenizer under the
tomecraft cache: test workers, Ray tasks, two `tome` commands at once): the first finished folder stays, a reader
never sees one half-written or taken away."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tomecraft.files import move_folder_into_place


def _staged(parent: Path, text: str) -> Path:
    staging = parent / f".convert-{text}"
    staging.mkdir()
    (staging / "tokenizer.json").write_text(text)
    return staging


def test_a_finished_folder_is_kept_and_not_replaced(tmp_path):
    target = tmp_path / "tok"
    move_folder_into_place(_staged(tmp_path, "first"), target, "tokenizer.json")
    held = open(target / "tokenizer.json")  # a reader of the first folder
    late = _staged(tmp_path, "second")
    move_folder_into_place(late, target, "tokenizer.json")
    assert (target / "tokenizer.json").read_text() == "first"
    assert held.read() == "first" and late.exists()  # the caller removes its own staging folder
    held.close()


def test_a_folder_without_its_marker_is_replaced(tmp_path):
    target = tmp_path / "tok"
    target.mkdir()
    (target / "config.json").write_text("{}")  # an interrupted write of an older version: no tokenizer.json
    move_folder_into_place(_staged(tmp_path, "new"), target, "tokenizer.json")
    assert sorted(os.listdir(target)) == ["tokenizer.json"]
    assert (target / "tokenizer.json").read_text() == "new"


@pytest.mark.parametrize("round_", range(25))  # a race: run often enough to meet it
def test_processes_finishing_at_once_leave_one_whole_folder(tmp_path, round_):
    target = tmp_path / "tok"
    stagings = [_staged(tmp_path, f"w{i}") for i in range(8)]
    start = threading.Barrier(len(stagings))
    errors = []

    def finish(staging):
        start.wait()
        try:
            move_folder_into_place(staging, target, "tokenizer.json")
        except OSError as exc:  # pragma: no cover - what the test is there to catch
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(s,)) for s in stagings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(os.listdir(target)) == ["tokenizer.json"]
    assert (target / "tokenizer.json").read_text() in {f"w{i}" for i in range(8)}
    # one folder was moved there and stayed: none was moved in and then removed by a later one
    assert sum(s.exists() for s in stagings) == len(stagings) - 1


def test_a_staging_folder_that_cannot_be_moved_is_an_error(tmp_path):
    with pytest.raises(OSError):
        move_folder_into_place(tmp_path / "missing", tmp_path / "tok", "tokenizer.json")


# -- paths a command writes: a ~user that names no home folder -------------------------------------------------

NO_USER = "~no-such-user-x"


@pytest.mark.parametrize("args", [
    ["curate", "-q", "-o", f"{NO_USER}/out"],
    ["eval", "compare", "-o", f"{NO_USER}/eval"],
    ["eval", "experiment", "-o", f"{NO_USER}/experiment"],
    ["train", "--print-config", "--run", f"{NO_USER}/run"],
    ["export", "run", "-o", f"{NO_USER}/export"],
    ["review", "export", "out", "--to", f"{NO_USER}/review"],
    ["review", "export", "out", "--hub-dir", f"{NO_USER}/review"],
    ["review", "import", "out", "--from", "review", "-o", f"{NO_USER}/reviewed"],
    ["sweep", "--dry-run", "-o", f"{NO_USER}/sweep"],
])
def test_an_output_in_the_home_of_a_user_that_does_not_exist_is_one_error(tmp_path, monkeypatch, args):
    """``-o '~nosuchuser/out'`` made a folder named ``~nosuchuser`` in the working folder (``expand_user`` leaves
    such a path as it is, which makes an input "not found"): a path a command writes is refused up front."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert f"{NO_USER}/" in lines[0] and "no such user 'no-such-user-x'" in lines[0], lines[0]
    assert os.listdir(tmp_path) == []


def test_expand_output_expands_a_home_and_refuses_a_user_that_does_not_exist():
    from tomecraft.files import expand_output, expand_user, unknown_home

    assert expand_output("~/out") == expand_user("~/out") != Path("~/out")
    assert expand_output("out/~x") == Path("out/~x") and unknown_home("out") is None
    with pytest.raises(ValueError, match=r"^~no-such-user-x/out: no such user 'no-such-user-x'"):
        expand_output(f"{NO_USER}/out")
    assert expand_user(f"{NO_USER}/out") == Path(f"{NO_USER}/out")  # (an input: left as it is, and not found)


def test_the_pipeline_api_expands_a_home_and_refuses_a_user_that_does_not_exist(tmp_path, monkeypatch):
    """``run_curation(spec, "~nosuchuser/x")`` made ``./~nosuchuser/x`` (only the command line's options checked);
    ``"~/x"`` made a folder named ``~``: the API takes ``~`` as the command line does."""
    from curation.pipeline import run_curation
    from curation.readers.errors import InputError
    from tests.curation.test_against_existing import fast_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(InputError, match=r"^~no-such-user-x/x: no such user 'no-such-user-x'"):
        run_curation(None, f"{NO_USER}/x", fast_config())
    assert os.listdir(tmp_path) == []
    result = run_curation(None, "~/curated", fast_config())
    assert result.out.root == tmp_path / "home" / "curated" and (tmp_path / "home" / "curated" / "manifest.json").is_file()
    assert os.listdir(tmp_path) == ["home"]
