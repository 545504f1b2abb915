"""Every path a `tome` command writes (``--out``, ``--run``, ``--to``, ``--hub-dir``, the RUN of `tome export`) is
refused in one line (exit 2) before any work when no folder could be made of it as the user meant: empty (a ``Path``
option turns ``""`` into ``.``, the working folder), a name of white space only (``" "``: `tome curate -o " "` and
`tome review export --to " "` wrote a folder no listing shows), a name or a whole path longer than a file system
allows (`tome eval compare`, `tome sweep`, `tome review` ended in an ``OSError: [Errno 36] File name too long``
traceback; `tome curate` said "the run stopped" with exit 1, of a run that had not started), or the home of a user
that does not exist. The options are found on the command itself (every parameter with the
:func:`tomecraft.console.output_path` callback), so an option added later is checked too."""

from __future__ import annotations

import os

import pytest

from tests.curation.runs import invoke, one_error_line

LONG_NAME = "x" * 300
WIDE_NAME = "é" * 128  # 128 characters, 256 bytes in UTF-8: a file system counts bytes
LONG_PATH = "/".join(["y" * 200] * 25)  # every name allowed, the whole path (5,024 bytes) not

# (value, what the one line says)
HOSTILE = [
    pytest.param("", "is empty", id="empty"),
    pytest.param(" ", "only white space", id="blank"),
    pytest.param("\t", "only white space", id="tab"),
    pytest.param("out/ /x", "only white space", id="blank-name-inside"),
    pytest.param(LONG_NAME, "a name in this path is 300 bytes, more than a file system allows (255)", id="long-name"),
    pytest.param(f"out/{WIDE_NAME}", "a name in this path is 256 bytes", id="wide-name"),
    pytest.param(LONG_PATH, "bytes in full, more than a file system allows (4095)", id="long-path"),
    pytest.param("~no-such-user-x/out", "no such user 'no-such-user-x'", id="no-such-user"),
]

# the paths the commands write: each must carry the shared refusal (found below by its callback)
WRITTEN = {
    ("curate", "--out"), ("train", "--run"), ("export", "--out"), ("export", "RUN"), ("sweep", "--out"),
    ("eval compare", "--out"), ("eval experiment", "--out"), ("review export", "--to"),
    ("review export", "--hub-dir"), ("review import", "--out"), ("report", "OUT_DIR"),
}


# what each command is given besides the path, so that one whose path were taken stops at once on an input that does
# not exist (or plans, or is missing its folder) instead of curating, training or answering
QUICK = {
    "curate": ["-q", "-i", "no-such-rows.jsonl"], "train": ["-q", "-d", "no-such-folder"], "sweep": ["--dry-run"],
    "eval compare": ["--no-loss", "-m", "no-such-model.gguf"], "eval experiment": ["-q", "-i", "no-such-rows.jsonl"],
}


def _written_path_parameters() -> list[tuple[tuple[str, ...], str, bool]]:
    """(command path, option or argument name, is an argument) of every parameter of `tome` whose callback is
    :func:`tomecraft.console.output_path`."""
    from typer.main import get_command

    from tomecraft.cli import app
    from tomecraft.console import output_path

    found = []

    def walk(command, path: tuple[str, ...]) -> None:
        for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
            walk(sub, (*path, name))
        for param in command.params:
            if getattr(param.callback, "__wrapped__", None) is output_path:
                argument = param.param_type_name == "argument"
                found.append((path, param.name.upper() if argument else param.opts[0], argument))

    walk(get_command(app), ())
    return found


PARAMETERS = _written_path_parameters()


def test_every_path_a_command_writes_carries_the_shared_refusal():
    hooked = {(" ".join(path), name) for path, name, _ in PARAMETERS}
    assert WRITTEN <= hooked, sorted(WRITTEN - hooked)


@pytest.mark.parametrize("path, name, argument", PARAMETERS, ids=[" ".join((*p, n)) for p, n, _ in PARAMETERS])
@pytest.mark.parametrize("value, says", HOSTILE)
def test_a_path_no_folder_can_be_made_of_is_one_line_and_nothing_is_written(
        path, name, argument, value, says, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, output = invoke(*path, *QUICK.get(" ".join(path), []), *([value] if argument else [name, value]))
    line = one_error_line(output)
    assert code == 2, output
    assert says in line, line
    assert name in line or value in line, line  # (the option, or the path as given)
    assert os.listdir(work) == []


@pytest.mark.parametrize("args", [
    pytest.param(["curate", "-q", "-i", "ROWS", "--set", "report=false", "-o", " "], id="curate"),
    pytest.param(["review", "export", "FOLDER", "--no-vectors", "--to", " "], id="review-to"),
    pytest.param(["review", "export", "FOLDER", "--no-vectors", "--hub-dir", " "], id="review-hub-dir"),
    pytest.param(["eval", "experiment", "-i", "no-such-rows.jsonl", "--out", " "], id="eval-experiment"),
    pytest.param(["sweep", "--dry-run", "--out", LONG_NAME], id="sweep"),
    pytest.param(["eval", "compare", "--no-loss", "-m", "MODEL", "--out", LONG_NAME], id="eval-compare"),
    pytest.param(["review", "import", "FOLDER", "--from", "VERDICTS", "--out", LONG_NAME], id="review-import"),
    pytest.param(["curate", "-q", "-i", "ROWS", "--set", "report=false", "-o", LONG_NAME], id="curate-long"),
])
def test_a_command_with_real_inputs_writes_nothing_for_such_a_path(args, tmp_path, monkeypatch):
    """With inputs that exist, the commands got as far as writing: `curate -o " "` and `review export --to " "`
    made a folder named " " (exit 0), `eval experiment --out " "` one before its input failed; the others ended
    in a traceback (or curate's exit 1) at the first look at the path."""
    import json

    from training.curated_folder import write_curated_folder

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rows = [{"conversations": [{"from": "human", "value": f"What is {i} plus 1?"},
                               {"from": "gpt", "value": f"{i} plus 1 is {i + 1}."}]} for i in range(20)]
    (inputs / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    given = {"ROWS": str(inputs / "rows.jsonl"), "FOLDER": str(write_curated_folder(rows, inputs / "curated")),
             "MODEL": str(inputs / "rows.jsonl"), "VERDICTS": str(inputs / "verdicts")}
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, output = invoke(*[given.get(a, a) for a in args])
    line = one_error_line(output)
    assert code == 2, output
    assert "only white space" in line or "more than a file system allows" in line, line
    assert os.listdir(work) == []


def test_the_length_rule_counts_bytes_per_name_and_for_the_whole_path():
    from tomecraft.files import MAX_NAME_BYTES, too_long

    assert too_long("a" * MAX_NAME_BYTES) is None and too_long(f"runs/{'a' * MAX_NAME_BYTES}/x") is None
    assert too_long("a" * 256) == "a name in this path is 256 bytes, more than a file system allows (255)"
    assert too_long("é" * 127) is None and "256 bytes" in too_long("é" * 128)
    assert too_long("/".join(["y" * 200] * 18)) is None  # (3,617 bytes, and the working folder's)
    assert too_long(LONG_PATH).startswith("this path is ")


def test_training_refuses_with_the_shared_helpers():
    import tomecraft.console
    import training.cli

    assert training.cli.refuse_empty is tomecraft.console.refuse_empty
    assert training.cli.refuse_long_names is tomecraft.console.refuse_long_names
