"""A local folder laid out as a Hugging Face dataset repository (what ``snapshot_download`` or ``huggingface-cli
download --repo-type dataset`` gives) is read one split at a time, as a hub id is: ``train`` by default,
``FOLDER:SPLIT`` or ``split:`` in the inputs YAML for another; its test split is never mixed into the rows
curated for training. The splits are told by the ``datasets`` library's own rules (file and folder names, the
README's ``configs``); folders whose files name no split are read whole, as before."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation.contract import read_manifest
from tests.curation.runs import curate_command as curate

TRAIN, TEST = 40, 20  # rows of each split (the sample's rows 0-39 and 100-119: no row in both)


def rows(start: int, count: int) -> list[dict]:
    from tomecraft.resources import ensure_sample

    lines = ensure_sample().read_text(encoding="utf-8").splitlines()[start:start + count]
    return [json.loads(line) for line in lines]


def write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def hub_repo(root: Path, layout: str) -> Path:
    """A dataset repository of ``TRAIN`` train rows and ``TEST`` test rows, laid out as ``layout`` says."""
    train, test = rows(0, TRAIN), rows(100, TEST)
    if layout == "sharded":  # what push_to_hub writes
        write(root / "data" / "train-00000-of-00001.parquet", train)
        write(root / "data" / "test-00000-of-00001.parquet", test)
        (root / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                                        "    path: data/train-*\n  - split: test\n    path: data/test-*\n---\n# x\n")
    elif layout == "flat":
        write(root / "train.jsonl", train)
        write(root / "test.jsonl", test)
    elif layout == "folders":
        write(root / "data" / "train" / "part-0.parquet", train[:25])
        write(root / "data" / "train" / "part-1.parquet", train[25:])
        write(root / "data" / "test" / "part-0.parquet", test)
    elif layout == "readme":  # file names that say nothing: the README's configs name the splits
        write(root / "files" / "a.parquet", train)
        write(root / "files" / "b.parquet", test)
        (root / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                                        "    path: files/a.parquet\n  - split: test\n    path: files/b.parquet\n---\n")
    return root


@pytest.mark.parametrize("layout", ["sharded", "flat", "folders", "readme"])
@pytest.mark.parametrize("spec,split,rows", [("repo", "train", TRAIN), ("repo:test", "test", TEST)],
                         ids=["train-by-default", "folder-colon-split"])
def test_a_hub_layout_folder_reads_one_split(in_tmp, layout, spec, split, rows):
    hub_repo(in_tmp / "repo", layout)
    assert curate("-i", spec, "-o", "out").exit_code == 0
    manifest = read_manifest(in_tmp / "out")
    assert manifest["accounting"]["input_rows"] == rows
    assert manifest["input"]["split"] == split


def test_the_data_folder_of_a_downloaded_repo_is_split_too(in_tmp):
    hub_repo(in_tmp / "repo", "sharded")
    assert curate("-i", "repo/data", "-o", "out").exit_code == 0
    assert read_manifest(in_tmp / "out")["accounting"]["input_rows"] == TRAIN


def test_the_inputs_yaml_split_picks_a_split_and_the_manifest_says_which(in_tmp):
    hub_repo(in_tmp / "repo", "sharded")
    hub_repo(in_tmp / "other", "flat")
    (in_tmp / "cfg.yaml").write_text("inputs:\n- path: repo\n  split: test\n- path: other\n", encoding="utf-8")
    assert curate("-c", "cfg.yaml", "-o", "out").exit_code == 0
    manifest = read_manifest(in_tmp / "out")
    assert manifest["accounting"]["input_rows"] == TEST + TRAIN
    assert {i["name"]: (i["split"], i["rows_in"]) for i in manifest["inputs"]} == {"repo": ("test", TEST),
                                                                                   "other": ("train", TRAIN)}


def test_an_unknown_split_is_one_error_line_listing_the_splits(in_tmp):
    hub_repo(in_tmp / "repo", "sharded")
    result = curate("-i", "repo:validation", "-o", "out")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "'validation'" in lines[0] and "train, test" in lines[0]
    assert "Traceback" not in result.output


def test_a_folder_of_a_test_split_only_is_not_read_as_training_data(in_tmp):
    write(in_tmp / "repo" / "test.jsonl", rows(100, TEST))
    result = curate("-i", "repo", "-o", "out")
    assert result.exit_code == 2 and "no split 'train'" in result.output and "test" in result.output
    assert curate("-i", "repo:test", "-o", "out").exit_code == 0
    assert read_manifest(in_tmp / "out")["accounting"]["input_rows"] == TEST


def test_files_of_no_split_beside_the_splits_are_an_error_not_left_out(in_tmp):
    hub_repo(in_tmp / "repo", "flat")
    write(in_tmp / "repo" / "other.jsonl", rows(200, 5))
    result = curate("-i", "repo", "-o", "out")
    assert result.exit_code == 2 and "other.jsonl" in result.output


@pytest.mark.parametrize("names", [["part-00000.parquet", "part-00001.parquet"], ["a.jsonl", "b.jsonl"],
                                   ["train.jsonl", "sub/shard.jsonl"]])
def test_folders_whose_files_name_no_split_but_train_are_read_whole(in_tmp, names):
    for k, name in enumerate(names):
        write(in_tmp / "shards" / name, rows(k * 50, 10))
    assert curate("-i", "shards", "-o", "out").exit_code == 0
    manifest = read_manifest(in_tmp / "out")
    assert manifest["accounting"]["input_rows"] == 10 * len(names)
    assert "split" not in manifest["input"]


def test_a_curated_output_folder_is_read_as_before(in_tmp):
    write(in_tmp / "rows.jsonl", rows(0, 60))
    assert curate("-i", "rows.jsonl", "-o", "earlier").exit_code == 0
    earlier = read_manifest(in_tmp / "earlier")["accounting"]
    assert curate("-i", "earlier", "-o", "out").exit_code == 0
    manifest = read_manifest(in_tmp / "out")
    assert manifest["accounting"]["input_rows"] == earlier["in_splits"]  # train, validation and test, as before
    assert "split" not in manifest["input"]


def test_the_summary_says_which_split_was_read(in_tmp):
    """A user who points at a downloaded repo learns that its other splits were left out, without the manifest."""
    from tomecraft.cli import app

    hub_repo(in_tmp / "repo", "flat")
    result = CliRunner().invoke(app, ["curate", "--set", "report=false", "-i", "repo", "-o", "out"])
    assert result.exit_code == 0, result.output
    assert "repo: read split 'train' of a folder of splits (FOLDER:SPLIT reads another)" in result.output


def test_the_quick_look_for_split_names_covers_every_keyword_of_datasets():
    """The look that spares a folder of plain shards the import of ``datasets`` must see every keyword the library
    tells splits by: a keyword it adds must be added there too."""
    from datasets.data_files import SPLIT_KEYWORDS

    from curation.sources import SPLIT_WORD_PARTS

    keywords = [k for found in SPLIT_KEYWORDS.values() for k in found]
    assert keywords and all(any(part in k.lower() for part in SPLIT_WORD_PARTS) for k in keywords), keywords


@pytest.mark.parametrize("readme", ["# My shards\n\nSome prose.\n", None], ids=["prose-readme", "no-readme"])
def test_a_folder_of_plain_shards_is_read_without_importing_datasets(tmp_path, readme):
    """Was most of a second of every such run: the split look imported ``datasets`` for any folder."""
    import subprocess
    import sys

    for i in range(2):
        write(tmp_path / "shards" / f"part-{i:03d}.jsonl", rows(i * 5, 5))
    if readme is not None:
        (tmp_path / "shards" / "README.md").write_text(readme, encoding="utf-8")
    code = ("import sys\nfrom curation.readers import open_input\n"
            f"source = open_input({str(tmp_path / 'shards')!r})\n"
            "print(sum(1 for _ in source.batches()) > 0, 'datasets' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr
