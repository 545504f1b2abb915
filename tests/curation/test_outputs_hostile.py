"""What a hostile but ordinary user finds in `tome curate`'s outputs: names that break Markdown or YAML, an input's
own ``input`` column, licenses the hub would refuse, folders without a kept row, cards that no longer describe
their folder (and `tome publish` of them), repo names the hub refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curation.card import CardError, card_license, check_card, license_id, read_card_format, write_card
from curation.publish import PublishError, publish
from curation.writer import write_parquet
from tests.curation.test_card_publish import REPO, curated_folder

HOSTILE_NAME = "a|b `c` <script>alert(1)</script>\n---\nlicense: x"
HOSTILE_SPEC = "/data/we|ird `dir`/p---<b>.jsonl"
HOSTILE_LICENSE = "MIT\n---\n# hi | `x`"
HOSTILE_COLUMNS = ["", "`b`", "a\nb", "x|y", "<i>", "- x", ": y", "#", "yes", "null", "---", "*a*", " pad "]


def split_header(text: str) -> tuple[dict, str]:
    """The card's YAML header (parsed) and its Markdown body."""
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def hostile_folder(root: Path, mix: bool) -> Path:
    """A folder whose manifest and extra columns carry names that break Markdown, YAML and tables."""
    curated_folder(root)
    for split in ("train", "validation", "test"):
        table = pq.read_table(root / f"{split}.parquet")
        for name in HOSTILE_COLUMNS + ["input"]:
            table = table.append_column(name, pa.array([f"v{i}" for i in range(table.num_rows)]))
        pq.write_table(table, root / f"{split}.parquet")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["extra_columns"] = ["lang", *HOSTILE_COLUMNS, "input"]
    if mix:
        manifest.pop("input")
        manifest["inputs"] = [{"name": HOSTILE_NAME, "spec": HOSTILE_SPEC, "kind": "jsonl", "license": HOSTILE_LICENSE,
                               "rows_in": 5},
                              {"name": "---", "spec": "b.jsonl", "kind": "jsonl", "license": "cc-by-4.0", "rows_in": 5}]
        manifest["mix"] = [{"input": HOSTILE_NAME, "rows_in": 5, "kept": 4, "share": 0.5, "target": None},
                           {"input": "---", "rows_in": 5, "kept": 4, "share": 0.5, "target": None}]
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def markdown(body: str):
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").parse(body)


def inline_texts(tokens) -> list[str]:
    """The text and code of every inline token, as a reader of the rendered card sees it."""
    out = []
    for token in tokens:
        if token.type == "inline":
            out.append("".join(c.content for c in token.children if c.type in ("text", "code_inline")))
    return out


def table_rows(tokens) -> list[list[str]]:
    rows, row = [], None
    for token in tokens:
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append("".join(c.content for c in token.children if c.type in ("text", "code_inline")))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
    return rows


def test_hostile_names_show_in_the_card_as_they_are(tmp_path):
    """Input names, paths, licenses and column names that hold Markdown, HTML, table pipes, backticks and newlines:
    the header still parses, the body has no HTML, each table row keeps its cells, each name reads as given (its
    newlines spelled ``\\n``)."""
    root = hostile_folder(tmp_path / "out", mix=True)
    header, body = split_header(write_card(root, "both").read_text())
    assert header["license"] == "other"
    assert [c["config_name"] for c in header["configs"]] == ["default", "messages"]
    tokens = markdown(body)
    assert not [t for t in tokens if t.type.startswith("html")]
    assert not [c for t in tokens if t.children for c in t.children if c.type.startswith("html")]
    headings = [tokens[n + 1].content for n, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["Curated chat fine-tuning data", "Load it", "Splits", "Curation summary", "Mix", "Inputs", "Columns"]
    shown = HOSTILE_NAME.replace("\n", "\\n")
    rows = table_rows(tokens)
    inputs = [r for r in rows if len(r) == 4 and r[2] == "5"]
    assert inputs == [[shown, HOSTILE_SPEC, "5", HOSTILE_LICENSE.replace("\n", "\\n")], ["---", "b.jsonl", "5", "cc-by-4.0"]]
    assert [r[0] for r in rows if len(r) == 5][1:] == [shown, "---"]  # the mix table
    texts = inline_texts(tokens)
    assert any(shown in t for t in texts)  # the intro names the inputs
    columns = next(t for t in texts if t.startswith("carried through from the input"))
    for name in HOSTILE_COLUMNS:
        assert (name.replace("\n", "\\n") if name else "(a column with an empty name)") in columns
    assert "input" not in columns.split(": ", 1)[1].split(", ")  # in a mix, `input` names each row's input


def test_an_inputs_own_input_column_is_an_extra(tmp_path):
    """One input with a column named `input`: the card does not call it the mix's column, and the messages splits
    (id, messages, source, score) leave it out like the input's other extra columns; a mix keeps it there."""
    single = hostile_folder(tmp_path / "single", mix=False)
    _, body = split_header(write_card(single, "messages").read_text())
    assert "the name of the input the row came from" not in body and "`input`" in body
    assert pq.read_schema(single / "messages" / "train.parquet").names == ["id", "messages", "source", "score"]
    mixed = hostile_folder(tmp_path / "mixed", mix=True)
    _, body = split_header(write_card(mixed, "messages").read_text())
    assert "- `input`: the name of the input the row came from" in body
    assert pq.read_schema(mixed / "messages" / "train.parquet").names == ["id", "messages", "source", "score", "input"]


@pytest.mark.parametrize("given,expected", [
    ("mit", "mit"), ("MIT", "mit"), (" Apache-2.0 ", "apache-2.0"), ("openrail++", "openrail++"), ("llama3.1", "llama3.1"),
    ("mit\n---\nx: 1", "other"), ("cc-by-4.0 | `x`", "other"),
    # a license named as people write it is the hub's id it names (they were "other": the hub's page showed no license)
    ("Apache 2.0", "apache-2.0"), ("MIT License", "mit"), ("Apache License, Version 2.0", "apache-2.0"),
    ("CC BY-NC-SA 4.0", "cc-by-nc-sa-4.0"), ("Llama 3.1", "llama3.1"), ("The Unlicense", "unlicense"), ("CC0 1.0", "cc0-1.0"),
    # an id of the right shape that the hub does not list: the hub refuses it in a card, so "other" (it was kept)
    ("mit-0", "other"), ("apache-3.0", "other"), ("proprietary", "other"), ("cc-by-nc-sa-5.0", "other"),
])
def test_the_card_license_is_one_the_hub_takes(given, expected):
    assert license_id(given) == expected
    assert card_license([{"license": given}, {"license": given}]) == expected


def test_blank_licenses_are_unknown():
    assert card_license([{"license": "  "}]) is None
    assert card_license([{"license": "mit"}, {"license": ""}]) == "other"


def test_a_folder_without_a_kept_row_says_how_it_loads(tmp_path):
    """Every row removed or quarantined: `datasets` refuses every split without rows, so the card says so and
    shows the streaming call, which reads every config's splits as empty."""
    import datasets

    root = curated_folder(tmp_path / "out", rows=(0, 0, 0))
    for split in ("train", "validation", "test"):  # as tome curate writes an empty split: no row group
        write_parquet(pq.read_table(root / f"{split}.parquet"), root / f"{split}.parquet")
    header, body = split_header(write_card(root, "both").read_text())
    for info in header["dataset_info"]:
        assert [(s["name"], s["num_examples"]) for s in info["splits"]] == [("train", 0), ("validation", 0), ("test", 0)]
    assert "`load_dataset` stops with `corresponds to no data`" in body
    assert 'ds = load_dataset("USER/NAME", streaming=True)' in body
    assert 'ds = load_dataset("USER/NAME", "messages", streaming=True)' in body
    for config in ("default", "messages"):
        ds = datasets.load_dataset(str(root), config, streaming=True)
        assert {name: list(split) for name, split in ds.items()} == {"train": [], "validation": [], "test": []}
    _, body = split_header(write_card(curated_folder(tmp_path / "rows"), "both").read_text())
    assert "streaming" not in body


def test_the_card_format_is_read_from_its_header(tmp_path):
    """A column named `config_name: messages` does not make a FineTome card a messages one; without a readable
    card the folder's messages splits say which format to write again."""
    root = curated_folder(tmp_path / "out")
    for split in ("train", "validation", "test"):
        t = pq.read_table(root / f"{split}.parquet")
        pq.write_table(t.append_column("config_name: messages", pa.array(["x"] * t.num_rows)), root / f"{split}.parquet")
    write_card(root, "finetome")
    assert "config_name: messages" in (root / "README.md").read_text()
    assert read_card_format(root) == "finetome"
    write_card(root, "messages")
    assert read_card_format(root) == "messages"
    (root / "README.md").write_bytes(b"\xff\xfe not a card")
    assert read_card_format(root) == "both"  # messages/ is there
    (root / "README.md").unlink()
    assert read_card_format(root) == "both"
    write_card(root, "finetome")
    (root / "README.md").unlink()
    assert read_card_format(root) is None


def damage(root: Path, how: str) -> str:
    """Damage the card of a folder written in format both; return a part of the error it should give."""
    card = root / "README.md"
    text = card.read_text()
    if how == "yaml":
        card.write_text("---\nlicense: [mit\n---\n# x\n")
        return "YAML header does not parse (expected ',' or ']', but got '<stream end>', line 2)"
    if how == "utf8":
        card.write_bytes(b"\xff\xfe" + text.encode())
        return "cannot read the dataset card"
    if how == "list":
        card.write_text("---\n- a\n- b\n---\n")
        return "YAML header is a list, not a mapping"
    if how == "files":
        for f in (root / "messages").iterdir():
            f.unlink()
        (root / "messages").rmdir()
        return "config 'messages' names messages/train.parquet, which is not in the folder"
    if how == "outside":
        card.write_text(text.replace("path: train.parquet", "path: ../elsewhere/train.parquet", 1))
        return "names a data file that is not a path in the folder: ../elsewhere/train.parquet"
    if how == "rows":  # splits rewritten after the card (a run stopped before it wrote its card)
        t = pq.read_table(root / "train.parquet")
        pq.write_table(t.slice(0, 3), root / "train.parquet")
        return "config 'default' says split 'train' has 5 rows, its files hold 3"
    if how == "features":
        t = pq.read_table(root / "train.parquet")
        pq.write_table(t.append_column("quality", pa.array([1.0] * t.num_rows)), root / "train.parquet")
        return "config 'default' lists other features than its files hold"
    raise ValueError(how)


DAMAGES = ["yaml", "utf8", "list", "files", "outside", "rows", "features"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_card_that_no_longer_describes_its_folder_is_named(tmp_path, how):
    root = curated_folder(tmp_path / "out")
    write_card(root, "both")
    check_card(root)
    expected = damage(root, how)
    with pytest.raises(CardError) as err:
        check_card(root)
    assert str(err.value).startswith(f"{root / 'README.md'}: ") and expected in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("how", DAMAGES)
def test_publish_stops_on_a_damaged_card_and_rewrites_it_with_format(tmp_path, monkeypatch, how):
    """Kept as it is, a damaged card would go up and `load_dataset` would refuse the dataset: one line, nothing
    sent. With --format the card is written again from the files and goes up; a split that lost rows the manifest
    lists is a damaged folder either way (the card would be written from what is left)."""
    import huggingface_hub

    root = curated_folder(tmp_path / "out")
    write_card(root, "both")
    damage(root, how)
    calls = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(repo_id) or "url")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: calls.append("upload"))
    if how == "rows":  # the split itself lost rows the manifest lists: a damaged folder, with --format too
        for fmt in (None, "finetome"):
            with pytest.raises(PublishError, match="train.parquet: holds 3 rows, the manifest says 5"):
                publish(root, "me/data", token="hf_x", format=fmt)
        assert calls == []
        return
    with pytest.raises(PublishError) as err:
        publish(root, "me/data", token="hf_x")
    assert str(err.value).endswith("rewrite it with --format finetome, messages or both; nothing was uploaded")
    assert calls == []
    assert publish(root, "me/data", token="hf_x", format="finetome") == "url"
    assert calls == ["me/data", "upload"]
    check_card(root)


def test_publish_cli_damaged_card_is_one_error_line(tmp_path):
    root = curated_folder(tmp_path / "out")
    write_card(root, "both")
    damage(root, "yaml")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "tomecraft.cli", "publish", str(root), "--repo", "me/data"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {root / 'README.md'}: the dataset card's YAML header does not parse")


@pytest.mark.parametrize("repo", ["me/bad name!", "me/a..b", "me/-x", "me/" + "x" * 100])
def test_publish_names_a_repo_the_hub_refuses_before_going_online(tmp_path, monkeypatch, repo):
    """Offline or not, a repo name the hub refuses is said to be one (not 'cannot reach the hub')."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError) as err:
        publish(curated_folder(tmp_path / "out"), repo)
    assert str(err.value).startswith(f"{repo}: not a valid dataset repo name (") and "\n" not in str(err.value)


def test_publish_leaves_leftovers_and_hidden_files_home():
    """What huggingface_hub's upload_folder sends of a folder, with the patterns publish gives it: never the
    ``.tmp`` leftovers of an interrupted write (at the top too) nor hidden files, caches and checkpoints."""
    from huggingface_hub.utils import filter_repo_objects

    from curation.publish import IGNORE

    files = ["train.parquet", "validation.parquet", "test.parquet", "removed.parquet", "quarantine.jsonl", "manifest.json",
             "README.md", "report.html", "report.md", "messages/train.parquet", "train/part-00000.parquet"]
    left = ["train.parquet.tmp", "README.md.tmp", "messages/train.parquet.tmp", ".DS_Store", "messages/.DS_Store",
            ".cache/huggingface/x.lock", ".checkpoints/state.json", ".checkpoints/a/b.parquet"]
    assert list(filter_repo_objects(files + left, ignore_patterns=IGNORE)) == files


@pytest.mark.parametrize("blocker,fmt,expected", [
    ("messages", "messages", "messages: cannot write the messages splits here (it is a file)"),
    ("messages/train.parquet/x", "both", "messages/train.parquet: cannot write a messages split here (is a directory)"),
    ("README.md/x", "finetome", "README.md: cannot write the dataset card here (is a directory)"),
])
def test_a_card_or_messages_split_that_cannot_be_written_is_one_line(tmp_path, blocker, fmt, expected):
    from curation.readers.errors import InputError

    root = curated_folder(tmp_path / "out")
    path = root / blocker
    if blocker == "messages":
        path.write_text("not a folder")
    else:
        path.mkdir(parents=True)
    with pytest.raises(InputError) as err:
        write_card(root, fmt)
    assert str(err.value) == f"{root}/{expected}"


def test_curate_into_a_folder_with_a_file_named_messages_is_one_error_line(tmp_path):
    """The messages splits could not be written there: `error: ...` before any work, exit 2, no traceback, and the
    user's file is left as it was (the card module's own error for it is tested with the card below)."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"conversations": [{"from": "human", "value": "What is the capital of France, then?"},
                                                    {"from": "gpt", "value": "Paris is the capital of France."}]}) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "messages").write_text("a file of the user's")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(source), "-o", str(out),
                           "--format", "messages"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip().splitlines() == [f"error: {out}/messages: the run writes a folder here, and it is a file; "
                                                "move it or choose another --out"]
    assert (out / "messages").read_text() == "a file of the user's" and not (out / "manifest.json").exists()


def test_publish_names_a_damaged_messages_split(tmp_path, monkeypatch):
    """check_output_folder reads the FineTome splits; the card's check reads the messages splits it names."""
    root = curated_folder(tmp_path / "out")
    write_card(root, "both")
    (root / "messages" / "test.parquet").write_bytes(b"PAR1 not parquet")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError) as err:
        publish(root, "me/data")
    message = str(err.value)
    assert message.startswith(f"{root}: cannot read the curation output folder: {root / 'messages' / 'test.parquet'}: ")
    assert message.endswith("; nothing was uploaded") and "\n" not in message


def test_a_card_pattern_pathlib_refuses_is_named(tmp_path):
    root = curated_folder(tmp_path / "out")
    write_card(root, "finetome")
    card = root / "README.md"
    card.write_text(card.read_text().replace("path: train.parquet", "path: train**.parquet", 1))
    with pytest.raises(CardError, match=r"config 'default' names train\*\*.parquet: "):
        check_card(root)


def test_an_output_folder_named_with_glob_characters_says_how_it_loads(tmp_path, monkeypatch):
    """datasets.load_dataset reads a folder's full path as a pattern: `out[1]` (or any folder under one) loads
    nothing (huggingface/datasets#7468). The run says so at the end, with the way that loads; a plain name says
    nothing."""
    import glob

    import datasets
    from typer.testing import CliRunner

    from tomecraft.cli import app

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"conversations": [{"from": "human", "value": f"What is {i} plus {i}? Say why."},
                                                          {"from": "gpt", "value": f"It is {2 * i}, as {i} and {i} make {2 * i}."}]})
                            + "\n" for i in range(20)), encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "400")  # the note on one line
    for name, noted in (("run[1]", True), ("run-1", False)):
        out = tmp_path / name
        result = CliRunner().invoke(app, ["curate", "-i", str(rows), "-o", str(out), "--set", "report=false"])
        assert result.exit_code == 0, result.output
        notes = [line for line in result.output.splitlines() if line.startswith("note:")]
        assert bool(notes) == noted, result.output
        if noted:
            assert "'['" in notes[0] and "glob.escape" in notes[0]
            loaded = datasets.load_dataset("parquet", data_files={"train": glob.escape(str(out)) + "/train.parquet"})
            assert loaded["train"].num_rows == pq.read_metadata(out / "train.parquet").num_rows
