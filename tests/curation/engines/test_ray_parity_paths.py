"""`tome curate --engine ray --out URI`: what the Ray engine cannot write is refused before any work (no Ray start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.config import load_config
from curation.engines.ray import EngineError, run_curation_ray


@pytest.mark.parametrize("out", ["s3://bucket/curated", Path("s3://bucket/curated"), Path("gs://bucket/curated/")])
def test_an_object_store_out_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, out):
    """The command line hands --out over as a Path, which keeps one slash of `s3://`: the run went on into a
    local folder `s3:/bucket/curated`, and Arrow took its shard paths for URIs (a Ray traceback, exit 1)."""
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in.jsonl"
    src.write_text('{"conversations": [{"from": "human", "value": "hi?"}, {"from": "gpt", "value": "hello there"}]}\n')
    scheme = str(out).split(":")[0]
    with pytest.raises(EngineError, match=rf"^{scheme}://bucket/curated/?: --out must be a folder every Ray node"):
        run_curation_ray(str(src), out, load_config(None, {"report": False}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_file_uri_out_is_the_local_folder():
    from curation.engines.ray import _local_out

    assert _local_out("file:///data/out") == "/data/out"
    assert _local_out(Path("file:///data/out")) == "/data/out"
    # a folder whose name holds a colon, not a URI (absolute: Arrow would take `out:2024/x/...` for one)
    assert _local_out("out:2024/x") == str(Path("out:2024/x").absolute())
