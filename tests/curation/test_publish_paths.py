"""`tome publish` sends nothing of the machine that curated the data: local paths go up as their last part, only
where a path is the value, and --private never publishes into a public repo. The hub is stubbed (no network)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.card import write_card
from curation.publish import PublishError, is_local_path, public_name, public_url, publish
from curation.report import write_report
from tests.curation.test_card_publish import TURNS, curated_folder


@pytest.fixture
def hub(monkeypatch):
    """HfApi stubbed: what each call got, and the files the upload sent (name -> bytes)."""
    import huggingface_hub

    calls: dict = {"sent": {}, "private": False}

    def create_repo(self, repo_id, **kw):
        calls["create"] = (repo_id, kw)
        return f"https://hub/datasets/{repo_id}"

    def repo_info(self, repo_id, **kw):
        calls["info"] = repo_id
        return SimpleNamespace(private=calls["private"])

    def upload_folder(self, folder_path, **kw):
        folder = Path(folder_path)
        calls["sent"].update({p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()})

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", repo_info)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    return calls


def _manifest(root: Path, change) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    change(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_a_short_path_is_replaced_only_where_it_is_the_value(tmp_path, hub):
    """An input at /data: its card, report and manifest name it `data`; a turn's text in the report's examples,
    the card's prose and a manifest text that hold "/data" go up as they are (a plain text replacement made
    "ls /data" read "ls data", and "/data/old" read "data/old")."""
    root = curated_folder(tmp_path / "out")
    turns = [[{"from": "human", "value": "ls /data please"}, {"from": "gpt", "value": "/data holds /data/x.jsonl"}]]
    pq.write_table(pa.table({"id": ["gone"], "stage": ["near_dedup"], "reason": ["near_duplicate"],
                             "duplicate_of": ["train0"], "details": pa.nulls(1, pa.string()),
                             "conversations": pa.array(turns, TURNS), "source": ["s"], "score": [4.0]}),
                   root / "removed.parquet")
    rubric = "Cite /data/x when asked"

    def change(manifest):
        manifest["input"]["spec"] = "/data"
        manifest["config"] = {"inputs": [{"path": "/data"}], "stages": {"judge": {"rubric": {"help": rubric}}}}

    _manifest(root, change)
    write_report(root)
    write_card(root, "finetome")
    prose = "Rows under /data/old and `/data/old` were left out on purpose."
    with (root / "README.md").open("a") as fh:
        fh.write(f"\n{prose}\n")
    publish(root, "me/data", token="hf_x")
    sent = {name: hub["sent"][name].decode() for name in ("README.md", "manifest.json", "report.md", "report.html")}

    published = json.loads(sent["manifest.json"])
    assert published["input"]["spec"] == "data" and published["config"]["inputs"] == [{"path": "data"}]
    assert published["config"]["stages"]["judge"]["rubric"]["help"] == rubric
    assert "from `data`:" in sent["README.md"] and "| `data` |" in sent["README.md"]
    assert prose in sent["README.md"]
    assert "Input `data` (" in sent["report.md"]
    assert '<div class="sub">input <code>data</code>' in sent["report.html"]
    for text in ("ls", "/data please", "/data holds /data/x.jsonl", rubric):
        assert text in sent["report.html"], text
    assert "&quot;path&quot;: &quot;data&quot;" in sent["report.html"]
    assert "&quot;/data&quot;" not in sent["report.html"] and "`/data`" not in sent["README.md"] + sent["report.md"]


def test_relative_and_home_paths_go_up_as_their_last_part(tmp_path, hub):
    """Inputs given as ../private/x.jsonl, ~/chats/y.jsonl and sub/z.parquet, and an --against set at ~me/old,
    were published as given (the user's name, the folders around the data); the hub input and the model ids go
    up as they are."""
    root = curated_folder(tmp_path / "out")
    given = ["../private/x.jsonl", "~/chats/y.jsonl", "sub/z.parquet", "HuggingFaceTB/smoltalk"]
    kinds = ["jsonl", "jsonl", "parquet", "hub"]

    def change(manifest):
        manifest["input"] = {"spec": "a, b, c, d", "kind": "mix", "rows": 10}
        manifest["inputs"] = [{"name": name, "spec": spec, "kind": kind, "rows_in": 2, "license": None}
                              for name, spec, kind in zip("abcd", given, kinds)]
        manifest["config"] = {"inputs": [{"path": spec, "name": name} for name, spec in zip("abcd", given)],
                              "stages": {"against": {"path": "~me/old"},
                                         "augment": {"from_model": "Helsinki-NLP/opus-mt-en-de"}}}
        manifest["stages"].append({"name": "against", "enabled": True, "rows_in": 8, "kept": 8, "removed": {},
                                   "stats": {"existing_rows": 3, "exact": 0, "near": 0}})

    _manifest(root, change)
    publish(root, "me/data", token="hf_x", format="finetome")
    sent = hub["sent"]
    published = json.loads(sent["manifest.json"])
    public = ["x.jsonl", "y.jsonl", "z.parquet", "HuggingFaceTB/smoltalk"]
    assert [i["spec"] for i in published["inputs"]] == public
    assert [i["path"] for i in published["config"]["inputs"]] == public
    assert published["config"]["stages"] == {"against": {"path": "old"},
                                             "augment": {"from_model": "Helsinki-NLP/opus-mt-en-de"}}
    card = sent["README.md"].decode()
    for name, spec in zip("abcd", public):
        assert f"| {name} | `{spec}` |" in card
    assert "Deduplicated against `old` (" in card
    for private in (b"../private", b"private/", b"~", b"chats", b"sub/", b"me/old"):
        assert [n for n in ("README.md", "manifest.json") if private in sent[n]] == [], private
    # at home the folder keeps what it was given
    assert "~/chats/y.jsonl" in (root / "README.md").read_text()


@pytest.mark.parametrize("kind, public", [("curated", "prev"), ("jsonl", "prev"), ("hub", "sub/prev"),
                                          (None, "sub/prev")])
def test_a_relative_against_path_goes_up_as_its_last_part_when_it_was_read_here(tmp_path, hub, kind, public):
    """``--against sub/prev`` (a folder beside the command) went up as given while a relative input path went up
    as its last part: the against stage's ``existing_kind`` says it was read from local files, as an input's
    ``kind`` does; a hub dataset's id (``org/name`` reads like a relative path) goes up as it is, and so does a
    manifest that does not say."""
    root = curated_folder(tmp_path / "out")

    def change(manifest):
        manifest["config"] = {"stages": {"against": {"path": "sub/prev"}}}
        stats = {"existing_rows": 3, "exact": 0, "near": 0, **({"existing_kind": kind} if kind else {})}
        manifest["stages"].append({"name": "against", "enabled": True, "rows_in": 8, "kept": 8, "removed": {},
                                   "stats": stats})

    _manifest(root, change)
    publish(root, "me/data", token="hf_x", format="finetome")
    published = json.loads(hub["sent"]["manifest.json"])
    assert published["config"]["stages"]["against"]["path"] == public
    assert f"Deduplicated against `{public}` (" in hub["sent"]["README.md"].decode()


def test_urls_go_up_without_their_credentials_and_query(tmp_path, hub):
    """An input read over https with a user and password or a signed query, a judge's endpoint with its key: the
    manifest, the card and the report published them as given."""
    root = curated_folder(tmp_path / "out")
    signed = "https://me:hf_secret@data.example.org/x.jsonl?sig=abc123"
    judge = "http://bob:pw@10.0.0.5:8080/v1"

    def change(manifest):
        manifest["input"]["spec"] = signed
        manifest["config"] = {"inputs": [{"path": signed}], "stages": {"judge": {"url": judge},
                                                                       "against": {"path": "hf://datasets/me/old"}}}

    _manifest(root, change)
    pq.write_table(pa.table({"id": ["gone"], "stage": ["near_dedup"], "reason": ["near_duplicate"]}), root / "removed.parquet")
    write_report(root)
    publish(root, "me/data", token="hf_x", format="finetome")
    sent = hub["sent"]
    for secret in (b"hf_secret", b"sig=", b"abc123", b"bob", b":pw@"):
        assert [n for n in ("README.md", "manifest.json", "report.md", "report.html") if secret in sent[n]] == [], secret
    published = json.loads(sent["manifest.json"])
    assert published["input"]["spec"] == "https://data.example.org/x.jsonl"
    assert published["config"]["stages"] == {"judge": {"url": "http://10.0.0.5:8080/v1"},
                                             "against": {"path": "hf://datasets/me/old"}}
    assert "| `https://data.example.org/x.jsonl` |" in sent["README.md"].decode()
    assert b"<code>https://data.example.org/x.jsonl</code>" in sent["report.html"]


@pytest.mark.parametrize("url,public", [
    ("https://me:tok@host/x.jsonl", "https://host/x.jsonl"),
    ("https://host/x.jsonl?X-Amz-Signature=abc&X-Amz-Credential=k", "https://host/x.jsonl"),
    ("s3://key:secret@bucket/x.parquet", "s3://bucket/x.parquet"),
    ("https://host/x.jsonl", None),
    ("hf://datasets/me/data@main/x.jsonl", None),
    ("/data/x.jsonl", None),
])
def test_what_a_url_goes_up_as(url, public):
    assert public_url(url) == public


@pytest.mark.parametrize("path,local,name", [
    ("/data", True, "data"),
    ("/d/x.jsonl", True, "x.jsonl"),
    ("/home/me/data/", True, "data"),
    ("/home/me/data/*.jsonl", True, "*.jsonl"),
    ("~", True, "~"),
    ("~me", True, "~"),
    ("~/x.jsonl", True, "x.jsonl"),
    ("~me/chats/x.jsonl", True, "x.jsonl"),
    ("./x.jsonl", True, "x.jsonl"),
    ("../private/x.jsonl", True, "x.jsonl"),
    ("data/../private/x.jsonl", True, "x.jsonl"),
    ("C:\\Users\\me\\x.jsonl", True, "x.jsonl"),
    ("file:///home/me/x.jsonl", True, "x.jsonl"),
    ("HuggingFaceTB/smoltalk", False, None),
    ("Helsinki-NLP/opus-mt-en-de", False, None),
    ("https://example.org/data/x.jsonl", False, None),
    ("hf://datasets/me/x", False, None),
    ("sample", False, None),
    ("~5 rows", False, None),
    ("line one\n/data", False, None),
])
def test_which_values_are_local_paths_and_what_they_go_up_as(path, local, name):
    assert is_local_path(path) is local
    if local:
        assert public_name(path) == name


def test_private_never_publishes_into_a_public_repo(tmp_path, hub):
    """create_repo(exist_ok=True) keeps an existing repo's visibility: --private into a public repo made the data
    public. It stops with one line, before the folder's card is written and before anything is sent."""
    root = curated_folder(tmp_path / "out")
    with pytest.raises(PublishError) as err:
        publish(root, "me/data", private=True, token="hf_x")
    assert str(err.value) == ("me/data: not published, the repo exists and is public and --private does not change "
                              "an existing repo: make it private on the hub (Settings) or publish without --private; "
                              "nothing was uploaded")
    assert hub["sent"] == {} and not (root / "README.md").exists()
    hub["private"] = True
    assert publish(root, "me/data", private=True, token="hf_x") == "https://hub/datasets/me/data"
    assert hub["create"] == ("me/data", {"repo_type": "dataset", "private": True, "exist_ok": True})
    assert "train.parquet" in hub["sent"]


def test_a_repo_check_that_fails_is_one_line(tmp_path, hub, monkeypatch):
    import httpx
    import huggingface_hub

    def refused(self, repo_id, **kw):
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", refused)
    with pytest.raises(PublishError) as err:
        publish(curated_folder(tmp_path / "out"), "me/data", private=True, token="hf_x")
    assert str(err.value) == ("me/data: not published, cannot reach the Hugging Face hub ([Errno 111] Connection "
                              "refused); nothing was uploaded")
    assert hub["sent"] == {}
