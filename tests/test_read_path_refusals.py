"""Every path a `tome` command reads (a config, an input, a curated folder, a model, a voice, a Whisper model) is one
line naming it when a name in it, or the whole path, is longer than a file system allows: the first look at it
(``stat``, ``is_dir``, ``exists``) raised ``OSError: [Errno 36] File name too long``, a traceback (`curate -c`,
`train -c`, `sweep --config`, `eval compare -m`, `eval experiment -i`, `eval loss --data`, `review import`'s folder
and `--from`, `serve --asr`, `serve --voice`), or `curate -i` and `curate --against` said "the run stopped and out is
not finished" of a run that never started. The paths a
command writes are tests/test_output_path_refusals.py's."""

from __future__ import annotations

import os

import pytest

from tests.curation.runs import invoke, one_error_line

LONG_NAME = "x" * 300
LONG_PATH = "/".join(["y" * 200] * 25)  # every name allowed, the whole path (5,024 bytes) not

READ = [
    pytest.param(["curate", "-q", "-c", "PATH"], id="curate-config"),
    pytest.param(["curate", "-q", "-i", "PATH"], id="curate-input"),
    pytest.param(["curate", "-q", "-i", "data/sample.jsonl", "-i", "PATH"], id="curate-second-input"),
    pytest.param(["train", "-c", "PATH", "--print-config"], id="train-config"),
    pytest.param(["sweep", "--config", "PATH", "--dry-run"], id="sweep-config"),
    pytest.param(["eval", "compare", "--no-loss", "-m", "PATH"], id="eval-compare-model"),
    pytest.param(["eval", "experiment", "-q", "-i", "PATH"], id="eval-experiment-input"),
    pytest.param(["eval", "loss", "--data", "PATH"], id="eval-loss-data"),
    pytest.param(["report", "PATH"], id="report"),
    pytest.param(["publish", "PATH", "--repo", "user/name"], id="publish"),
    pytest.param(["curate", "-q", "-i", "data/sample.jsonl", "--against", "PATH"], id="curate-against"),
    pytest.param(["review", "import", "PATH", "--from", "data", "-o", "reviewed"], id="review-import-folder"),
    pytest.param(["review", "import", "data", "--from", "PATH", "-o", "reviewed"], id="review-import-from"),
    pytest.param(["serve", "--asr", "PATH"], id="serve-asr"),
    pytest.param(["serve", "--voice", "PATH"], id="serve-voice"),
]


@pytest.mark.parametrize("value, says", [
    pytest.param(LONG_NAME, "a name in this path is 300 bytes, more than a file system allows (255)", id="long-name"),
    pytest.param(LONG_PATH, "bytes in full, more than a file system allows (4095)", id="long-path"),
])
@pytest.mark.parametrize("args", READ)
def test_a_read_path_too_long_for_a_file_system_is_one_line(args, value, says, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    os.makedirs("data")
    with open("data/sample.jsonl", "w", encoding="utf-8") as f:
        f.write('{"conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]}\n')
    code, output = invoke(*[value if a == "PATH" else a for a in args])
    # (`eval experiment` says which config it uses and what it curates first)
    line = one_error_line(output.split("eval curating")[-1].split("\n", 1)[-1] if "eval curating" in output else output)
    assert code in (1, 2), output
    assert says in line, line
    assert sorted(os.listdir(work)) == ["data"]  # nothing written (`eval experiment` made its folder before it read -i)


@pytest.mark.parametrize("args", [["report", ""], ["publish", "", "--repo", "user/name"]])
def test_an_empty_folder_argument_is_refused_not_read_as_the_working_folder(args, tmp_path, monkeypatch):
    """As a ``Path``, ``""`` is ``.``: `tome report ""` rewrote the report of whatever output folder it was run in."""
    monkeypatch.chdir(tmp_path)
    code, output = invoke(*args)
    assert code == 2 and "is empty" in output, output
    assert os.listdir(tmp_path) == []


def test_an_existing_set_named_too_long_is_refused_by_its_check():
    """The stage's own check says it too (what runs it without the command line's checks)."""
    from curation.against import ExistingSet
    from curation.core.stage import StageError

    with pytest.raises(StageError, match=r"^--against x+: a name in this path is 300 bytes"):
        ExistingSet(LONG_NAME).check()
    assert ExistingSet("https://example.com/" + LONG_NAME).too_long is None  # (a URL's parts are no file names)


@pytest.mark.parametrize("args", [
    pytest.param(["curate", "-q", "-i", "data/sample.jsonl", "-o", "loop"], id="curate-out"),
    pytest.param(["curate", "-q", "-i", "data/sample.jsonl", "-o", "loop/inside"], id="curate-out-under"),
    pytest.param(["curate", "-q", "-i", "data/sample.jsonl", "--against", "loop"], id="curate-against"),
    pytest.param(["eval", "compare", "--no-loss", "-o", "loop"], id="eval-compare-out"),
    pytest.param(["review", "export", "data", "--no-vectors", "--to", "loop"], id="review-export-to"),
    pytest.param(["curate", "-q", "-c", "loop"], id="curate-config"),  # ("config file not found")
    pytest.param(["curate", "-q", "-c", "loop/curate.yaml"], id="curate-config-under"),
    pytest.param(["train", "-c", "loop", "--print-config"], id="train-config"),
])
def test_a_symbolic_link_that_points_back_at_itself_is_one_line(args, tmp_path, monkeypatch):
    """``Path.resolve`` raises ``RuntimeError: Symlink loop`` for it: `curate -o` and `--against` ended in that
    traceback."""
    monkeypatch.chdir(tmp_path)
    os.symlink("loop", "loop")
    os.makedirs("data")
    with open("data/sample.jsonl", "w", encoding="utf-8") as f:
        f.write('{"conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "Hello."}]}\n')
    code, output = invoke(*args)
    line = one_error_line(output)
    assert code in (1, 2) and "points back at itself" in line, output
    assert sorted(os.listdir(tmp_path)) == ["data", "loop"]
