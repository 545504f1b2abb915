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
