"""A file whose name is not UTF-8 (bytes Python holds as lone surrogates) ended the run with an error that named
no file ("inputs: 'utf-8' codec can't decode byte 0xff"): Arrow, which reads the files, takes UTF-8 names only.
It is one error line naming the file, whichever way the input reaches it: the file itself, its folder (flat or
nested), or a glob."""

from __future__ import annotations

import json
import os

import pytest

from tests.curation.runs import curate_command

ROW = json.dumps({"conversations": [{"from": "human", "value": "What is the capital of France, please?"},
                                    {"from": "gpt", "value": "The capital of France is Paris, a large city."}]}) + "\n"


@pytest.fixture
def badly_named(tmp_path):
    folder = tmp_path / "in" / "shards"
    folder.mkdir(parents=True)
    (folder / "good.jsonl").write_text(ROW)
    try:
        with open(os.fsencode(folder) + b"/bad\xffname.jsonl", "w") as fh:
            fh.write(ROW)
    except OSError:  # a filesystem that takes UTF-8 names only
        pytest.skip("this filesystem does not take a name that is not UTF-8")
    return folder


@pytest.mark.parametrize("spec", ["{folder}", "{folder}/*.jsonl", "{parent}", "{folder}/bad\udcffname.jsonl"])
def test_a_file_name_that_is_not_utf8_is_one_line_naming_it(badly_named, tmp_path, spec):
    result = curate_command("-i", spec.format(folder=badly_named, parent=badly_named.parent), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"error: {badly_named}/bad\\xffname.jsonl: the file name is not UTF-8; rename it (Arrow, which "
                     "reads the files, takes UTF-8 names only)"], result.output
