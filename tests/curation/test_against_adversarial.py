"""--against as a hostile user drives it: a cached index cut short or damaged (built again, never a traceback), a
split replaced by one of the same size given the old modification time (never matched by the stale index), two
runs building the same index at once (one index kept, whole), and the messages split of a folder written in
shards (matched as the split it mirrors, by the ids the set holds)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curation.core.stage import ReduceContext
from curation.contract import read_manifest
from tests.curation.test_against_existing import (OVERLAP, against_stats, as_shards, curate, fast_config, rows,
                                                  write_jsonl, existing, new_input)  # noqa: F401 - the last two are fixtures


def found_duplicates(out: Path) -> pa.Table:
    removed = pq.read_table(out / "removed.parquet")
    return removed.filter(pc.equal(removed.column("reason"), "duplicate_of_existing"))


def _cut_short(index: Path) -> None:
    with open(index / "bands.arrow", "r+b") as f:
        f.truncate(100)


def _garbage(index: Path) -> None:
    (index / "rows.arrow").write_bytes(b"not an arrow file" * 20)


def _one_file_lost(index: Path) -> None:
    (index / "exact.arrow").unlink()


def _file_of_another_build(index: Path) -> None:
    """exact.arrow of a smaller set (as a concurrent build of another state of the set could leave it)."""
    import pyarrow.ipc as ipc

    table = ipc.open_file(pa.memory_map(str(index / "exact.arrow"))).read_all().slice(0, 7)
    with ipc.new_file(str(index / "exact.arrow.new"), table.schema) as writer:
        writer.write_table(table)
    os.replace(index / "exact.arrow.new", index / "exact.arrow")


@pytest.mark.parametrize("damage", [_cut_short, _garbage, _one_file_lost, _file_of_another_build])
def test_a_damaged_cached_index_is_built_again_not_a_traceback(damage, existing, new_input, tmp_path):
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    first = curate(new_input, tmp_path / "first", against=folder)
    assert against_stats(first)["index"] == "built"
    [index] = (folder / ".cache" / "against").glob("index-*")
    damage(index)
    second = curate(new_input, tmp_path / "second", against=folder)
    assert against_stats(second)["index"] == "built" and against_stats(second)["exact"] == OVERLAP
    assert second["accounting"]["balanced"] and second["accounting"]["in_splits"] == 20
    assert against_stats(curate(new_input, tmp_path / "third", against=folder))["index"] == "cached"


def test_a_split_replaced_by_one_of_the_same_size_and_time_is_not_matched_by_the_stale_index(existing, new_input,
                                                                                            tmp_path):
    """The train split written again (one answer changed, same length: the file keeps its size) and given its old
    modification time back (``touch -r``, ``cp -p``): the index of the split as it was must not be reused."""
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    train = folder / "train.parquet"
    table = pq.read_table(train)
    pq.write_table(table, train, compression="none", write_statistics=False)
    before = train.stat()
    assert against_stats(curate(new_input, tmp_path / "first", against=folder))["index"] == "built"
    held = set(table.column("id").to_pylist())
    removed_first = set(found_duplicates(tmp_path / "first").column("duplicate_of").to_pylist())
    [changed_id] = sorted(removed_first & held)[:1]  # an existing row the new input holds: changed, it is held no more
    at = table.column("id").to_pylist().index(changed_id)
    turns = table.column("conversations").to_pylist()
    answer = turns[at][1]["value"]
    turns[at][1]["value"] = answer.replace("word", "wXrd", 1)
    assert len(turns[at][1]["value"]) == len(answer)
    changed = table.set_column(table.column_names.index("conversations"), "conversations",
                               pa.array(turns, table.schema.field("conversations").type))
    pq.write_table(changed, train.with_name("train.parquet.new"), compression="none", write_statistics=False)
    os.replace(train.with_name("train.parquet.new"), train)
    os.utime(train, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (train.stat().st_size, train.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    second = curate(new_input, tmp_path / "second", against=folder)
    assert against_stats(second)["index"] == "built"
    named = found_duplicates(tmp_path / "second")
    matched = dict(zip(named.column("duplicate_of").to_pylist(), named.column("details").to_pylist()))
    assert matched.get(changed_id) != '{"match": "exact"}'  # its text is not in the set any more


def test_the_messages_split_of_a_sharded_folder_is_matched_as_the_split_it_mirrors(existing, new_input, tmp_path):
    """``--engine ray --format both`` writes ``train/`` in shards and ``messages/train.parquet`` as one file: pointed
    at the latter, --against read it as a plain input, and duplicate_of named ids (of the messages records) that
    the existing set does not hold."""
    from curation.card import write_messages_splits

    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    as_shards(folder)
    write_messages_splits(folder)
    assert (folder / "messages" / "train.parquet").is_file() and not (folder / "train.parquet").exists()
    held = set(pq.read_table(folder / "train", columns=["id"]).column("id").to_pylist())
    manifest = curate(new_input, tmp_path / "new", against=folder / "messages" / "train.parquet")
    found = found_duplicates(tmp_path / "new")
    assert found.num_rows > 0 and set(found.column("duplicate_of").to_pylist()) <= held
    assert against_stats(manifest)["existing_rows"] == len(held)


def test_a_build_that_another_run_finished_first_keeps_that_index(tmp_path, monkeypatch):
    """Two runs against one uncached set build its index at once: they used one temporary folder, so one run's
    build removed the other's files, and the run that finished last removed the index the other had put in place
    (no index was left: every later run built it again)."""
    import curation.against as against_module
    from curation.config import config_model

    existing = write_jsonl(tmp_path / "existing.jsonl", rows(1, 40))
    config = config_model()(stages={"against": {"path": str(existing)}})

    def stage():
        return against_module.Against(config.stage("against"), config.stage("exact_dedup"), config.stage("near_dedup"),
                                      config.stage("normalize"))

    ctx = ReduceContext(config=config, cache_dir=tmp_path / "cache", fetch=None)
    real_write, other = against_module._write, {}

    def write_then_let_the_other_run_finish(path, columns):
        real_write(path, columns)
        if path.name == "bands.arrow" and not other:  # this build's last file is written: the other one runs whole
            other["started"] = True
            other["index"] = stage().index(ctx)

    monkeypatch.setattr(against_module, "_write", write_then_let_the_other_run_finish)
    index, stats = stage().index(ctx)
    assert stats["index"] == "built" and other["index"][1]["index"] == "built"
    assert index.rows.column("id").to_pylist() == other["index"][0].rows.column("id").to_pylist()
    assert len(index.rows.column("id").to_pylist()) == 40
    monkeypatch.setattr(against_module, "_write", real_write)
    folder = tmp_path / "cache" / "against"
    assert [p.name.startswith("index-") and ".tmp" not in p.name for p in folder.iterdir()] == [True]
    assert stage().index(ctx)[1]["index"] == "cached"


@pytest.fixture
def hub_folder(tmp_path) -> Path:
    """A folder laid out as a hub dataset repository: 50 rows in its train split, 10 in its test split."""
    table = pa.Table.from_pylist(rows(1, 60))
    (tmp_path / "hub" / "data").mkdir(parents=True)
    pq.write_table(table.slice(0, 50), tmp_path / "hub" / "data" / "train-00000-of-00001.parquet")
    pq.write_table(table.slice(50), tmp_path / "hub" / "data" / "test-00000-of-00001.parquet")
    return tmp_path / "hub"


def test_every_split_of_a_hub_layout_folder_is_the_existing_set(hub_folder, new_input, tmp_path):
    """As an --input, such a folder reads its train split alone; as --against, the new rows that repeat its test
    rows were kept (into the extension's training data)."""
    manifest = curate(new_input, tmp_path / "new", against=hub_folder)
    assert against_stats(manifest)["existing_rows"] == 60 and against_stats(manifest)["exact"] == OVERLAP
    assert manifest["accounting"]["balanced"] and manifest["accounting"]["in_splits"] == 20


def test_every_split_of_a_hub_dataset_is_the_existing_set(hub_folder, new_input, tmp_path, monkeypatch):
    """``--against ORG/NAME`` (a dataset an earlier run published) read its train split alone: the new rows that
    repeat its test rows were kept. Its splits are listed as ``datasets`` lists them (the hub stands in here as
    the local layout folder); ``ORG/NAME:test`` reads that split alone, and a dataset whose splits cannot be
    listed is read as before (its load names what is wrong)."""
    import datasets

    real = datasets.load_dataset
    loads = []

    def hub(name, split=None, streaming=False, **kw):
        assert name == "org/prev"
        loads.append(split)
        return real(str(hub_folder), split=split, streaming=streaming)

    monkeypatch.setattr(datasets, "load_dataset", hub)
    monkeypatch.setattr(datasets, "get_dataset_split_names", lambda name, config_name=None, **kw: ["train", "test"])
    from curation.pipeline import run_curation

    run_curation(str(new_input), tmp_path / "new", fast_config(against={"path": "org/prev"}))
    manifest = read_manifest(tmp_path / "new")
    assert against_stats(manifest)["existing_rows"] == 60 and against_stats(manifest)["exact"] == OVERLAP
    assert sorted(set(loads)) == ["test", "train"]
    loads.clear()
    run_curation(str(new_input), tmp_path / "one", fast_config(against={"path": "org/prev:test"}))
    assert against_stats(read_manifest(tmp_path / "one"))["existing_rows"] == 10 and set(loads) == {"test"}

    def unlisted(name, config_name=None, **kw):
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "get_dataset_split_names", unlisted)
    loads.clear()
    run_curation(str(new_input), tmp_path / "unlisted", fast_config(against={"path": "org/prev"}))
    assert against_stats(read_manifest(tmp_path / "unlisted"))["existing_rows"] == 50 and set(loads) == {"train"}


def test_every_split_of_a_saved_dataset_dict_is_the_existing_set(new_input, tmp_path):
    """A ``save_to_disk`` DatasetDict read only its train split as --against, as it does as an --input."""
    import datasets

    table = pa.Table.from_pylist(rows(1, 60))
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset(table.slice(0, 50)),
                          "test": datasets.Dataset(table.slice(50))}).save_to_disk(str(saved))
    manifest = curate(new_input, tmp_path / "new", against=saved)
    assert against_stats(manifest)["existing_rows"] == 60 and against_stats(manifest)["exact"] == OVERLAP
    manifest = curate(new_input, tmp_path / "one", against=Path(f"{saved}:test"))
    assert against_stats(manifest)["existing_rows"] == 10


def test_one_split_of_a_hub_layout_folder_is_taken_as_any_input_takes_it(hub_folder, new_input, tmp_path):
    """``--against FOLDER:test`` was refused as a file not found."""
    from tests.curation.runs import invoke, one_error_line

    manifest = curate(new_input, tmp_path / "new", against=Path(f"{hub_folder}:test"))
    assert against_stats(manifest)["existing_rows"] == 10 and against_stats(manifest)["exact"] == 5
    code, output = invoke("curate", "-q", "-i", new_input, "-o", tmp_path / "other", "--against", f"{hub_folder}:nosuch",
                          "--set", "report=false", "--set", "checkpoint=false")
    assert code == 2 and "no split 'nosuch'" in one_error_line(output)


def test_an_output_folder_inside_a_curated_existing_folder_is_refused(existing, new_input, tmp_path):
    """`--against OUT -o OUT/sub`: the new run's files were written inside the existing set, which then could not
    be read as an input (`-i OUT`: an output folder that holds another's files), nor was it left as it was."""
    from curation.readers import InputError

    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    with pytest.raises(InputError, match=r"--against .*curated: the output folder .*sub is inside it"):
        curate(new_input, folder / "sub", against=folder)
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_an_output_folder_inside_a_plain_existing_folder_is_refused(new_input, tmp_path):
    """`--against shards/ -o shards/out`: the next run read its own earlier output (splits and removed rows) as
    existing rows, and removed every new row; the same command gave another result each time."""
    from curation.readers import InputError

    shards = tmp_path / "shards"
    shards.mkdir()
    write_jsonl(shards / "part-0.jsonl", rows(1, 30))
    with pytest.raises(InputError, match=r"--against .*shards: the run would read its own output"):
        curate(new_input, shards / "out", against=shards)
    assert not (shards / "out").exists()
    manifest = curate(new_input, tmp_path / "elsewhere", against=shards)  # outside it: runs
    assert against_stats(manifest)["existing_rows"] == 30
