"""Outputs people use directly: messages splits, the dataset card (load_dataset reads the folder), tome publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.card import build_card, card_license, messages_table, read_card_format, write_card
from curation.publish import PublishError, publish
from curation.report import write_report

REPO = Path(__file__).resolve().parents[2]
TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def curated_folder(root: Path, rows=(5, 2, 1)) -> Path:
    """A small folder in the curation output contract, written by hand (no pipeline run)."""
    root.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for split, n in zip(("train", "validation", "test"), rows):
        table = pa.table({
            "id": [f"{split}{i}" for i in range(n)],
            "conversations": pa.array([[{"from": "system", "value": "Be brief."}, {"from": "human", "value": f"q{i}"},
                                        {"from": "gpt", "value": f"a{i}"}] for i in range(n)], TURNS),
            "source": ["s"] * n, "score": [4.0] * n, "lang": ["en"] * n,
            "original_conversations": pa.nulls(n, TURNS), "cluster_id": pa.nulls(n, pa.string()),
            "origin_id": pa.nulls(n, pa.string()), "augmentation": pa.nulls(n, pa.string()),
        })
        pq.write_table(table, root / f"{split}.parquet")
        outputs[split] = {"path": f"{split}.parquet", "rows": n}
    pq.write_table(pa.table({"id": ["gone"], "reason": ["near_duplicate"]}), root / "removed.parquet")
    (root / "quarantine.jsonl").write_text("")
    (root / ".checkpoints").mkdir()
    (root / ".checkpoints" / "state.json").write_text("{}")
    manifest = {
        "input": {"spec": "rows.jsonl", "kind": "jsonl", "rows": sum(rows) + 2},
        "stages": [{"name": "validate", "enabled": True, "rows_in": sum(rows) + 2, "kept": sum(rows) + 1, "removed": {}, "quarantined": 1},
                   {"name": "near_dedup", "enabled": True, "rows_in": sum(rows) + 1, "kept": sum(rows), "removed": {"near_duplicate": 1}}],
        "removed_by_reason": {"near_duplicate": 1},
        "accounting": {"input_rows": sum(rows) + 2, "added_rows": 0, "in_splits": sum(rows), "removed": 1, "quarantined": 1, "balanced": True},
        "outputs": outputs, "extra_columns": ["lang"], "seconds": 1.5,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_messages_table_is_trl_shaped():
    split = pa.table({"id": ["a"], "conversations": pa.array([[{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]], TURNS),
                      "source": ["s"], "score": [1.0], "lang": ["en"]})
    out = messages_table(split)
    assert out.column_names == ["id", "messages", "source", "score"]
    assert out.column("messages").to_pylist() == [[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]]
    # rows of a mix say which input they came from in the messages splits too
    mixed = messages_table(split.append_column("input", pa.array(["chat"])))
    assert mixed.column_names == ["id", "messages", "source", "score", "input"]
    assert mixed.column("input").to_pylist() == ["chat"]


@pytest.mark.parametrize("fmt,configs", [("finetome", ["default"]), ("messages", ["messages"]), ("both", ["default", "messages"])])
def test_load_dataset_reads_the_folder_through_its_card(tmp_path, fmt, configs):
    import datasets

    root = curated_folder(tmp_path / "out")
    write_card(root, fmt)
    assert read_card_format(root) == fmt
    assert (root / "messages").is_dir() == (fmt != "finetome")
    for n, config in enumerate(configs):
        ds = datasets.load_dataset(str(root), None if n == 0 else config, cache_dir=str(tmp_path / "cache"))
        assert {k: v.num_rows for k, v in ds.items()} == {"train": 5, "validation": 2, "test": 1}  # never removed.parquet
        column = "messages" if config == "messages" else "conversations"
        assert column in ds["train"].column_names
        if config == "messages":
            assert ds["train"][0]["messages"][1] == {"role": "user", "content": "q0"}


def test_a_finetome_card_removes_the_messages_splits_of_an_earlier_run(tmp_path):
    """The same --out written again without --format messages: the old messages/ rows are not this run's."""
    root = curated_folder(tmp_path / "out")
    write_card(root, "both")
    assert (root / "messages" / "train.parquet").exists()
    write_card(root, "finetome")
    assert not (root / "messages").exists() and read_card_format(root) == "finetome"


@pytest.mark.slow
def test_trl_sft_trainer_takes_the_messages_split_as_it_is(tmp_path):
    """One SFTTrainer step on the folder's messages config, with a tiny random model and a word tokenizer."""
    import datasets
    from trl.data_utils import is_conversational

    from tests.curation.runs import sft_trainer_step

    root = curated_folder(tmp_path / "out")
    write_card(root, "messages")
    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "cache"))
    assert is_conversational(ds["train"][0])
    assert sft_trainer_step(ds["train"], tmp_path) == 1


@pytest.mark.parametrize("fmt", ["finetome", "both"])
def test_a_split_without_rows_is_left_out_of_the_card(tmp_path, fmt):
    """A small input leaves a split empty; load_dataset refuses a listed split without data, so the card lists
    the others (the empty file stays: the output contract always writes three splits)."""
    import datasets

    root = curated_folder(tmp_path / "out", rows=(3, 1, 0))
    write_card(root, fmt)
    header = (root / "README.md").read_text().split("---")[1]
    assert "split: test" not in header and "name: test" not in header and (root / "test.parquet").exists()
    for config in (["default", "messages"] if fmt == "both" else ["default"]):
        ds = datasets.load_dataset(str(root), config, cache_dir=str(tmp_path / "cache"))
        assert {k: v.num_rows for k, v in ds.items()} == {"train": 3, "validation": 1}


def test_card_header_and_summary(tmp_path):
    import yaml

    root = curated_folder(tmp_path / "out")
    text = write_card(root, "both").read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    assert [c["config_name"] for c in header["configs"]] == ["default", "messages"]
    assert header["configs"][0]["default"] is True
    info = {i["config_name"]: i for i in header["dataset_info"]}
    assert [s["num_examples"] for s in info["default"]["splits"]] == [5, 2, 1]
    assert [f["name"] for f in info["messages"]["features"]] == ["id", "messages", "source", "score"]
    assert "license" not in header  # the input's license is not known
    body = text.split("---\n", 2)[2]
    assert "7 input rows" not in body and "10 input rows -> 8 kept in the splits, 1 removed, 1 quarantined" in body
    assert "| `near_duplicate` | 1 |" in body and "| rows.jsonl |" not in body
    assert build_card(root, "both") == text  # deterministic


@pytest.mark.parametrize("licenses,expected", [
    ([None, None], None), (["mit", "mit"], "mit"), (["mit", "apache-2.0"], "other"), (["mit", None], "other"),
])
def test_card_license(licenses, expected):
    assert card_license([{"license": x} for x in licenses]) == expected


def test_publish_offline_stops_with_one_line(tmp_path, monkeypatch):
    root = curated_folder(tmp_path / "out")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError) as err:
        publish(root, "me/data")
    assert str(err.value) == "me/data: not published, offline (HF_HUB_OFFLINE is set); nothing was uploaded"


@pytest.mark.slow
def test_publish_without_network_stops_with_one_line(tmp_path, monkeypatch):
    root = curated_folder(tmp_path / "out")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    script = ("import sys; from curation.publish import publish, PublishError\n"
              "try: publish(sys.argv[1], 'me/data', token='hf_x')\n"
              "except PublishError as e: print(e)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, env=env, timeout=120)
    line = done.stdout.strip()
    assert line.startswith("me/data: not published, cannot reach the Hugging Face hub (") and line.endswith("nothing was uploaded")
    assert "\n" not in line


def test_publish_cli_offline_exits_1_with_one_error_line(tmp_path):
    root = curated_folder(tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "tomecraft.cli", "publish", str(root), "--repo", "me/data"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: me/data: not published, offline (HF_HUB_OFFLINE is set); nothing was uploaded"]


def test_publish_uploads_the_folder_with_its_card(tmp_path, monkeypatch):
    import huggingface_hub

    root = curated_folder(tmp_path / "out")
    calls = {}
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **kw: calls.setdefault("create", (repo_id, kw)) and f"https://hub/datasets/{repo_id}")
    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", lambda self, repo_id, **kw: SimpleNamespace(private=True))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: calls.setdefault("upload", kw))
    url = publish(root, "me/data", private=True, token="hf_x", format="both")
    assert url == "https://hub/datasets/me/data"
    assert calls["create"] == ("me/data", {"repo_type": "dataset", "private": True, "exist_ok": True})
    upload = calls["upload"]
    assert upload["folder_path"] == str(root) and upload["repo_type"] == "dataset"
    assert ".checkpoints/**" in upload["ignore_patterns"]
    assert sorted(upload["allow_patterns"]) == sorted(
        ["README.md", "manifest.json", "quarantine.jsonl", "removed.parquet", "train.parquet", "validation.parquet",
         "test.parquet", "messages/train.parquet", "messages/validation.parquet", "messages/test.parquet"])
    assert read_card_format(root) == "both" and (root / "messages" / "train.parquet").exists()


def _sent_files(monkeypatch) -> dict:
    """HfApi stubbed; the files an upload sends (name -> bytes), as upload_folder picks them with its patterns."""
    import huggingface_hub
    from huggingface_hub.utils import filter_repo_objects

    sent: dict = {}

    def upload_folder(self, folder_path, allow_patterns=None, ignore_patterns=None, **kw):
        folder = Path(folder_path)
        present = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        for name in filter_repo_objects(present, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns):
            sent[name] = (folder / name).read_bytes()

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: "url")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    return sent


@pytest.mark.parametrize("absolute_input", [False, True], ids=["folder as it is", "staged (paths made public)"])
def test_publish_sends_only_what_tome_wrote(tmp_path, monkeypatch, absolute_input):
    """A file a user left in the output folder (notes, a copy of an input, a token), at the top or in a folder of
    its own, a split's shard folder included, stays home: only the run's files go up, and the command names
    what it left out."""
    from curation.publish import published_files

    root = curated_folder(tmp_path / "out")
    if absolute_input:  # the manifest names a local path: the upload goes from a staging folder
        manifest = json.loads((root / "manifest.json").read_text())
        manifest["input"]["spec"] = str(tmp_path / "rows.jsonl")
        (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "notes.txt").write_text("to do")
    (root / "keys").mkdir()
    (root / "keys" / "hf_token").write_text("hf_secret")
    (root / "data").mkdir()
    (root / "data" / "draft.parquet").write_bytes((root / "train.parquet").read_bytes())
    (root / "train.parquet.bak").write_bytes((root / "train.parquet").read_bytes())
    write_card(root, "finetome")
    sent = _sent_files(monkeypatch)
    publish(root, "me/data", token="hf_x")
    assert sorted(sent) == ["README.md", "manifest.json", "quarantine.jsonl", "removed.parquet", "test.parquet",
                            "train.parquet", "validation.parquet"]
    assert published_files(root)[1] == ["data/draft.parquet", "keys/hf_token", "notes.txt", "train.parquet.bak"]
    assert not any(p.name.startswith(".publish-") for p in root.iterdir())


def test_publish_sends_a_sharded_folder_s_shards(tmp_path, monkeypatch):
    """--engine ray writes train/part-*.parquet (and removed/): those go up, a stray file beside them does not."""
    from curation.publish import published_files

    root = curated_folder(tmp_path / "out")
    for name in ("train", "removed"):
        (root / name).mkdir()
        (root / f"{name}.parquet").rename(root / name / "part-00000.parquet")
    (root / "train" / "README.txt").write_text("stray")
    assert published_files(root) == (["manifest.json", "quarantine.jsonl", "removed/part-00000.parquet", "test.parquet",
                                      "train/part-00000.parquet", "validation.parquet"], ["train/README.txt"])


def test_publish_cli_names_the_files_it_left_out(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    root = curated_folder(tmp_path / "out")
    write_card(root, "finetome")
    (root / "notes.txt").write_text("to do")
    _sent_files(monkeypatch)
    done = CliRunner().invoke(app, ["publish", str(root), "--repo", "me/data", "--token", "hf_x"])
    assert done.exit_code == 0, done.output
    assert "not published (not written by tome curate): notes.txt" in done.output


def test_publish_sends_no_local_absolute_path(tmp_path, monkeypatch):
    """An input given by its absolute path (a shell's ~ expanded, a config's input found beside it) was named so
    in the card, the manifest and the report, and went up with them: the published files name it by its file
    name; the folder's own files keep the path."""
    import html

    import huggingface_hub

    root = curated_folder(tmp_path / "out")
    private = str(tmp_path / "home" / "me" / "notes & data" / "rows.jsonl")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["input"]["spec"] = private
    manifest["config"] = {"inputs": [{"path": private}], "stages": {"against": {"path": "/srv/sets/old"}}}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    pq.write_table(pa.table({"id": ["gone"], "stage": ["near_dedup"], "reason": ["near_duplicate"]}), root / "removed.parquet")
    write_report(root)  # names the input in its header (markup escaped) and in the config it shows
    sent = {}

    def upload_folder(self, folder_path, **kw):
        folder = Path(folder_path)
        sent.update({p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()})

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: "url")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    publish(root, "me/data", token="hf_x", format="finetome")
    assert {"README.md", "manifest.json", "report.md", "report.html", "train.parquet"} <= set(sent)
    assert not any(name.startswith(".") for name in sent)
    leaked = [name for name, data in sent.items() if str(tmp_path).encode() in data or b"/srv/sets" in data
              or html.escape(str(tmp_path)).encode() in data]
    assert leaked == []
    published = json.loads(sent["manifest.json"])
    assert published["input"]["spec"] == "rows.jsonl" and published["config"]["inputs"][0]["path"] == "rows.jsonl"
    assert published["config"]["stages"]["against"]["path"] == "old"
    assert "rows.jsonl" in sent["README.md"].decode() and b"Input `rows.jsonl` (" in sent["report.md"]
    assert b"<code>rows.jsonl</code>" in sent["report.html"]
    assert sent["train.parquet"] == (root / "train.parquet").read_bytes()
    # at home: the same files, the paths kept, no staging folder left
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert private in (root / "README.md").read_text() and private.encode() in after[Path("manifest.json")]
    assert {k: v for k, v in after.items() if k.name != "README.md"} == {k: v for k, v in before.items()
                                                                         if k.name != "README.md"}


@pytest.mark.parametrize("repo", ["noslash", "a/b/c", "/x"])
def test_publish_rejects_bad_repo_names(tmp_path, repo):
    with pytest.raises(PublishError, match="expected a dataset repo as USER/NAME"):
        publish(curated_folder(tmp_path / "out"), repo)


@pytest.mark.parametrize("repo", ["me/da\nta", "me/da\rta", "me/da\u2028ta", "me/da\x1b[31mta"])
def test_a_repo_name_holding_a_line_break_is_shown_whole_in_its_one_line(tmp_path, repo):
    """The hub's message quotes the name: cut at its line break, the line ended mid-quote (``... 96: 'me/da``)."""
    from curation.report.markdown_text import one_line

    with pytest.raises(PublishError) as caught:
        publish(curated_folder(tmp_path / "out"), repo)
    assert str(caught.value).endswith(f"{one_line(repo)}'.)")  # (the command escapes the whole line as it prints it)


def test_publish_rejects_a_folder_that_is_not_curated(tmp_path):
    with pytest.raises(PublishError, match="not a folder"):
        publish(tmp_path / "nothing", "me/data")


def test_publish_usage_errors_exit_2_and_failures_exit_1(tmp_path, monkeypatch):
    """A folder that is not there, a repo name the hub refuses, an unknown --format: usage errors, found before
    the hub is called (exit 2, as every tome command's); offline, the work itself fails (exit 1)."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = curated_folder(tmp_path / "out")
    runner = CliRunner()
    for args in ([str(tmp_path / "missing"), "--repo", "me/data"], [str(root), "--repo", "noslash"],
                 [str(root), "--repo", "me/data", "--format", "bogus"]):
        result = runner.invoke(app, ["publish", *args])
        assert result.exit_code == 2 and result.output.startswith("error: "), (args, result.output)
    result = runner.invoke(app, ["publish", str(root), "--repo", "me/data"])
    assert result.exit_code == 1 and "offline" in result.output


def test_the_card_names_the_removed_rows_where_the_engine_wrote_them(tmp_path):
    """A Ray output keeps its removed rows in a removed/ folder of shards; its card named removed.parquet."""
    root = curated_folder(tmp_path / "out")
    assert "`removed.parquet` and `quarantine.jsonl` hold every row" in build_card(root)
    (root / "removed").mkdir()
    (root / "removed.parquet").rename(root / "removed" / "part-00000.parquet")
    assert "`removed/` and `quarantine.jsonl` hold every row" in build_card(root)
