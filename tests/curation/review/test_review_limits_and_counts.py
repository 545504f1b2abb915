"""`tome review` as annotators and data engineers push it: metadata values Argilla's search index refuses, and the
review stage's own row counts when annotators bring removed rows back. No server: argilla's own objects on the
offline client, and the curated folder made by the real pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argilla as rg  # noqa: E402

from curation.review.folder import Located, read_folder  # noqa: E402
from curation.review.offline import offline_default_client  # noqa: E402
from curation.review.records import MAX_TERM_BYTES, build_records  # noqa: E402
from curation.review.schema import build_settings  # noqa: E402
from curation.review.selection import Picked  # noqa: E402
from tomecraft.cli import app  # noqa: E402

ALICE = "0d9b6a58-1111-4c1e-9a77-000000000001"
runner = CliRunner()


def _records_for(rows: list[dict]) -> list[dict]:
    """The records argilla builds for ``rows`` (as removed rows a filter fired on), as ``to_disk`` writes them."""
    picked = [Picked(Located(row, "removed"), ["filter:answer_too_short"], ["removed:filter:answer_too_short"])
              for row in rows]
    with offline_default_client() as client:
        dataset = rg.Dataset(name="t", workspace=rg.Workspace(name="argilla", client=client),
                             settings=build_settings(None, client=client), client=client)
        return [r.to_dict() for r in build_records(picked, dataset, {})]


def _row(rid: str, source: str, score: float | None) -> dict:
    return {"id": rid, "source": source, "score": score, "reason": "filter:answer_too_short",
            "conversations": [{"from": "human", "value": "Name a colour."}, {"from": "gpt", "value": "Red"}]}


def test_metadata_the_search_index_cannot_hold_is_left_out_and_the_rest_kept():
    """A source name past Lucene's term limit (the keyword index of a terms property) or a score past a 32-bit
    float (a float property) would make the server refuse the whole batch; they are left out of the metadata,
    every other value and the conversation are kept as they are."""
    huge = "é" * (MAX_TERM_BYTES // 2 + 1)  # 2 UTF-8 bytes a character: just over the limit
    at_limit = "s" * MAX_TERM_BYTES
    records = _records_for([_row("a", huge, 1e300), _row("b", at_limit, -3.0e38), _row("c", "alpaca", float("inf"))])
    meta = {r["id"]: r["metadata"] for r in records}
    assert "source" not in meta["a"] and "score" not in meta["a"]
    assert meta["b"]["source"] == at_limit and meta["b"]["score"] == -3.0e38
    assert meta["c"]["source"] == "alpaca" and "score" not in meta["c"]
    for m in meta.values():
        assert m["location"] == "removed" and m["turns"] == 2 and m["heuristics"] == ["filter:answer_too_short"]
    assert all(r["fields"]["conversation"][-1] == {"role": "assistant", "content": "Red"} for r in records)


# -- the review stage's counts ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def curated(alpaca_path, tmp_path_factory) -> Path:
    from tests.curation.review.test_review import build_curated_folder

    return build_curated_folder(alpaca_path, tmp_path_factory.mktemp("review-adversarial"))


def test_the_review_stage_counts_restored_rows_as_added_and_balances(curated, tmp_path):
    """Two removed rows kept by annotators and one kept row discarded: the review stage's ``kept`` rows of its
    input plus its ``added`` (restored) rows are the rows in the splits, and ``rows_in`` is ``kept`` plus
    ``removed``, as every stage of `tome curate` counts (the report draws its funnel from them)."""
    review = tmp_path / "review"
    result = runner.invoke(app, ["review", "export", str(curated), "--split", "test", "--removed", "*",
                                 "--no-vectors", "--to", str(review), "-q"])
    assert result.exit_code == 0, result.output
    records = json.loads((review / "records.json").read_text(encoding="utf-8"))
    removed = [r for r in records if r["metadata"]["location"] == "removed"][:2]
    kept = [r for r in records if r["metadata"]["location"] == "test"][:1]
    assert len(removed) == 2 and len(kept) == 1
    for record in removed:
        record["responses"] = {"verdict": [{"value": "keep", "user_id": ALICE}]}
    kept[0]["responses"] = {"verdict": [{"value": "discard", "user_id": ALICE}]}
    (review / "records.json").write_text(json.dumps(records), encoding="utf-8")

    out = tmp_path / "reviewed"
    result = runner.invoke(app, ["review", "import", str(curated), "--from", str(review), "--out", str(out), "-q"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    stage = manifest["stages"][-1]
    folder = read_folder(curated)
    rows_in = sum(len(rows) for rows in folder.splits.values())
    assert stage["name"] == "review" and stage["rows_in"] == rows_in
    assert stage["removed"] == {"review:discard": 1} and stage["added"] == 2
    assert stage["kept"] == rows_in - 1
    assert stage["rows_in"] == stage["kept"] + sum(stage["removed"].values()) + stage["quarantined"]
    assert stage["kept"] + stage["added"] == manifest["accounting"]["in_splits"]
    assert manifest["accounting"]["balanced"]
