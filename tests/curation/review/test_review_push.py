"""`tome review export --push-to-hub`: each way it cannot publish is one line and a nonzero exit, said before the
rows are read where it can be (offline, a repo name the hub refuses), and --private never uploads into a public
repo. The hub is stubbed (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.curation.review.test_review import build_curated_folder, run_cli


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    """A curation output folder of a few made-up rows (the review tests' folder, without the shared rows)."""
    root = tmp_path_factory.mktemp("review-push")
    rows = [{"conversations": [{"from": "human", "value": f"Question {i}: how do birds of kind {i} fly south?"},
                               {"from": "gpt", "value": f"Birds of kind {i} fly south " + "in long stages " * (i % 7 + 3)
                                + "before winter."}]} for i in range(40)]
    (root / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return build_curated_folder(root / "rows.jsonl", root)


@pytest.fixture
def hub(monkeypatch):
    """HfApi stubbed, reachable: the calls made, and the repo's visibility repo_info reports."""
    from huggingface_hub import HfApi

    calls: dict = {"private": True, "upload": None}
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.update(create=(repo_id, kw)))
    monkeypatch.setattr(HfApi, "repo_info", lambda self, repo_id, **kw: SimpleNamespace(private=calls["private"]))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.update(upload=kw))
    return calls


def _export(curated, *args, expect: int):
    return run_cli("review", "export", curated, "--split", "test", "--no-vectors", "--hf-token", "hf_x", *args,
                   expect=expect)


def test_offline_stops_before_anything_is_written(curated, tmp_path, monkeypatch):
    """Offline, the export wrote --to, built the hub layout and only then failed, in huggingface_hub's words."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = _export(curated, "--to", tmp_path / "disk", "--push-to-hub", "me/rev", expect=1)
    assert result.output.splitlines() == [
        "error: --push-to-hub me/rev: not published, offline (HF_HUB_OFFLINE is set); nothing was uploaded"]
    assert not (tmp_path / "disk").exists()


@pytest.mark.parametrize("repo,line", [
    ("noslash", "error: --push-to-hub noslash: expected a dataset repo as USER/NAME"),
    ("me/bad name", "error: --push-to-hub me/bad name: not a valid dataset repo name ("),
])
def test_a_repo_name_the_hub_refuses_is_a_usage_error(curated, tmp_path, hub, repo, line):
    result = _export(curated, "--to", tmp_path / "disk", "--push-to-hub", repo, expect=2)
    assert len(result.output.splitlines()) == 1 and result.output.startswith(line)
    assert "create" not in hub and not (tmp_path / "disk").exists()


@pytest.mark.parametrize("call", ["create_repo", "upload_folder"])
def test_the_hub_not_reached_is_one_line(curated, hub, monkeypatch, call):
    """httpx's errors are not OSError: they ended the command in a traceback."""
    import httpx
    from huggingface_hub import HfApi

    def refused(self, *args, **kw):
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(HfApi, call, refused)
    result = _export(curated, "--push-to-hub", "me/rev", expect=1)
    assert result.output.splitlines() == [
        "error: --push-to-hub me/rev: not published, cannot reach the Hugging Face hub ([Errno 111] Connection "
        "refused); nothing was uploaded"]
    assert isinstance(result.exception, SystemExit)


def test_private_never_uploads_into_a_public_repo(curated, hub):
    """create_repo(exist_ok=True) keeps an existing repo's visibility: --private into a public repo published the
    review there."""
    hub["private"] = False
    result = _export(curated, "--push-to-hub", "me/rev", "--private", expect=1)
    assert result.output.splitlines() == [
        "error: --push-to-hub me/rev: not published, the repo exists and is public and --private does not change an "
        "existing repo: make it private on the hub (Settings) or publish without --private; nothing was uploaded"]
    assert hub["upload"] is None
    hub["private"] = True
    _export(curated, "--push-to-hub", "me/rev", "--private", expect=0)
    assert hub["create"] == ("me/rev", {"repo_type": "dataset", "exist_ok": True, "private": True})
    assert hub["upload"]["repo_id"] == "me/rev"


def test_the_url_said_is_the_hub_the_data_went_to(curated, tmp_path, hub, monkeypatch):
    """With HF_ENDPOINT naming another hub (a mirror, an enterprise hub), the command said huggingface.co."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.example.org/")
    result = _export(curated, "--push-to-hub", "me/rev", expect=0)
    assert "https://hub.example.org/datasets/me/rev" in " ".join(result.output.split())
    assert "huggingface.co" not in result.output
