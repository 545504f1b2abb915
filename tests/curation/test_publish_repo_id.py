"""A ``--repo`` (or ``--push-to-hub``) name holding a line break or another control character: one error line that
shows the whole name, its control characters spelled as escapes, exit code 2, before any work. The name was cut at
its line break: `tome review export --push-to-hub 'a<LF>b'` printed two lines, ``error: --push-to-hub a`` and
``error: b: expected ...``, and `check_repo`'s own message held the raw line break for every caller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.publish import PublishUsageError, check_repo
from curation.report.markdown_text import one_line
from tests.curation.runs import invoke, one_error_line

# both of check_repo's refusals: no USER/NAME shape, and a name the hub's rule refuses
NAMES = ["a\nb", "me\r/data", "me/da\nta", "me/da\tta", "me/da\x1b[31mta", "me/da\u2028ta", "me/da\x85ta",
         "me/da\u202eta", "\n/\n", "me/data\n"]


@pytest.mark.parametrize("repo", NAMES)
def test_check_repo_names_the_whole_name_on_one_line(repo):
    with pytest.raises(PublishUsageError) as caught:
        check_repo(repo)
    message = str(caught.value)
    assert message.startswith(f"{one_line(repo)}: ")
    assert message == one_line(message)  # no control character left to cut or colour the line


def _folder(tmp_path: Path) -> Path:
    """A small output folder written by hand (the repo name is refused before it is read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "out"
    root.mkdir()
    turns = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
    for split in ("train", "validation", "test"):
        pq.write_table(pa.table({"id": [f"{split}0"], "conversations": pa.array(
            [[{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]], turns)}), root / f"{split}.parquet")
    (root / "manifest.json").write_text(json.dumps({"stages": []}))
    return root


@pytest.mark.parametrize("repo", ["a\nb", "me/da\nta", "me/da\x1bta"])
def test_publish_says_a_bad_repo_name_in_one_line(repo, tmp_path):
    code, output = invoke("publish", _folder(tmp_path), "--repo", repo)
    line = one_error_line(output)
    assert code == 2 and line.startswith(f"error: {one_line(repo)}: ")


@pytest.mark.parametrize("repo", ["a\nb", "me/da\nta"])
def test_review_export_says_a_bad_push_to_hub_name_in_one_line(repo, tmp_path):
    root = _folder(tmp_path)
    code, output = invoke("review", "export", root, "--hub-dir", tmp_path / "hub", "--push-to-hub", repo,
                          "--no-vectors")
    line = one_error_line(output)
    assert code == 2 and line.startswith(f"error: --push-to-hub {one_line(repo)}: ")
