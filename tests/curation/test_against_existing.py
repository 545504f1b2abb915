"""--against a curated folder that changed or lost files after its run: the index is built again when a split
changes (never reused stale); a folder missing a split its manifest lists, or its manifest, or whose split
holds what `tome curate` never writes (another type, a null id or conversation), stops the run with one line
instead of checking against part of the set, against its removed rows, or ending in a traceback. One split
of a curated folder is matched by the ids its rows were written with."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_manifest
from tests.curation.runs import invoke, one_error_line

WORDS = [f"word{i}" for i in range(400)]
OVERLAP = 30  # the new input holds every other existing row (30 of 60)


def rows(seed: int, n: int) -> list[dict]:
    """``n`` distinct conversations (long random answers: no filter removes them, no two are near-duplicates)."""
    rng = np.random.default_rng(seed)
    return [{"conversations": [{"from": "human", "value": f"Question {seed}-{i}: explain the topic in detail."},
                               {"from": "gpt", "value": " ".join(rng.choice(WORDS, size=60).tolist())}],
             "source": f"set{seed}", "score": 4.0} for i in range(n)]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def fast_config(**stages):
    from curation.config import load_config

    return load_config(None, {"report": False, "checkpoint": False, "stages": stages})


def curate(spec: Path, out: Path, against: Path | None = None) -> dict:
    from curation.pipeline import run_curation

    stages = {"against": {"path": str(against)}} if against is not None else {}
    run_curation(str(spec), out, fast_config(**stages))
    return read_manifest(out)


def against_stats(manifest: dict) -> dict:
    return next(s for s in manifest["stages"] if s["name"] == "against")["stats"]


def data_bytes(folder: Path) -> dict[str, str]:
    """Every file of the folder but its cache, by relative path: what --against must leave as it was."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".cache" not in p.relative_to(folder).parts}


@pytest.fixture(scope="module")
def existing(tmp_path_factory) -> Path:
    """A curated folder of 60 rows."""
    root = tmp_path_factory.mktemp("existing")
    manifest = curate(write_jsonl(root / "old.jsonl", rows(1, 60)), root / "curated")
    assert manifest["accounting"]["in_splits"] == 60
    return root / "curated"


@pytest.fixture(scope="module")
def new_input(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("new")
    return write_jsonl(root / "new.jsonl", rows(1, 60)[::2] + rows(2, 20))


def test_a_split_changed_after_the_run_builds_the_index_again(existing, new_input, tmp_path):
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    first = curate(new_input, tmp_path / "first", against=folder)
    assert against_stats(first)["index"] == "built" and against_stats(first)["exact"] == OVERLAP
    # the new rows the first run kept are appended to the existing train split by hand; manifest untouched
    added = pa.concat_tables([pq.read_table(tmp_path / "first" / f"{s}.parquet") for s in ("train", "validation", "test")])
    train = pq.read_table(folder / "train.parquet")
    pq.write_table(pa.concat_tables([train, added.select(train.column_names).cast(train.schema)]), folder / "train.parquet")
    second = curate(new_input, tmp_path / "second", against=folder)
    stats = against_stats(second)
    assert stats["index"] == "built"  # not the first run's index, which lacks the appended rows
    assert stats["existing_rows"] == 60 + added.num_rows
    assert stats["exact"] == OVERLAP + 20 and second["accounting"]["in_splits"] == 0
    listed = read_manifest(folder)["outputs"]["train"]["rows"]  # said, in the stats and the summary line
    assert stats["existing_changed"] == [f"train.parquet holds {listed + added.num_rows:,} rows where its manifest.json lists {listed:,}"]
    assert "existing_changed" not in against_stats(first)
    assert against_stats(curate(new_input, tmp_path / "third", against=folder))["index"] == "cached"
    # the index of the set as it was is removed (it can never match again); one of other settings stays
    assert len(list((folder / ".cache" / "against").glob("index-*"))) == 1
    from curation.pipeline import run_curation

    run_curation(str(new_input), tmp_path / "fourth", fast_config(against={"path": str(folder)}, near_dedup={"num_perm": 64}))
    assert len(list((folder / ".cache" / "against").glob("index-*"))) == 2


def test_runs_against_the_folder_and_against_one_split_keep_each_their_index(existing, new_input, tmp_path):
    """Alternating the scope (the whole folder, then its train split alone) used to prune the other's index,
    so every run built its own again."""
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    scopes = [folder, folder / "train.parquet"]
    assert [against_stats(curate(new_input, tmp_path / f"built{i}", against=s))["index"] for i, s in enumerate(scopes)] == ["built"] * 2
    again = [against_stats(curate(new_input, tmp_path / f"again{i}", against=s))["index"] for i, s in enumerate(scopes)]
    assert again == ["cached", "cached"]
    assert len(list((folder / ".cache" / "against").glob("index-*"))) == 2


def test_resume_decides_again_when_the_existing_set_changed(existing, new_input, tmp_path):
    """``--resume`` after the existing folder was curated again from other rows: the against decisions made
    against the set as it was were reused (the checkpoint key held the config, not the set)."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)

    def config():
        return load_config(None, {"report": False, "checkpoint": True, "engine": {"memory_mb": 0},
                                  "stages": {"against": {"path": str(folder)}}})

    out = tmp_path / "out"
    run_curation(str(new_input), out, config())
    assert against_stats(read_manifest(out))["exact"] == OVERLAP
    shutil.rmtree(folder)  # the existing set, curated again from other rows: none of the new rows is in it now
    curate(write_jsonl(tmp_path / "other.jsonl", rows(3, 40)), folder)
    run_curation(str(new_input), out, config(), resume=True)
    manifest = read_manifest(out)
    assert "against" not in manifest["resumed_stages"]
    assert against_stats(manifest)["exact"] == 0 and manifest["accounting"]["in_splits"] == 50


def _shard_train(folder: Path, shards: int) -> None:
    """The curated folder's train split written as ``shards`` shards under ``train/`` (as the Ray engine writes it),
    its manifest entry with them."""
    from curation.writer import write_parquet

    single, shard_dir = folder / "train.parquet", folder / "train"
    table = pq.read_table(single) if single.exists() else pq.read_table(sorted(shard_dir.glob("part-*.parquet")))
    single.unlink(missing_ok=True)
    shutil.rmtree(shard_dir, ignore_errors=True)
    shard_dir.mkdir()
    step, names = -(-table.num_rows // shards), []
    for k in range(shards):
        names.append(f"part-{k:05d}.parquet")
        write_parquet(table.slice(k * step, step), shard_dir / names[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = manifest["outputs"]["train"]
    entry.pop("sha256", None)
    entry.update({"path": "train/", "files": names, "rows": table.num_rows})
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_the_index_of_a_sharded_split_is_pruned_when_the_split_is_written_in_other_shards(existing, new_input, tmp_path):
    """An index is pruned within the scope the spec names (the split ``train/``), not the shard files the split holds
    now: written again in three shards instead of two, the split's earlier index (as large as the set's
    signatures, and never to match again) is removed."""
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    indexes = folder / ".cache" / "against"
    _shard_train(folder, 2)
    assert against_stats(curate(new_input, tmp_path / "first", against=folder / "train"))["index"] == "built"
    assert len(list(indexes.glob("index-*"))) == 1
    _shard_train(folder, 3)  # the same split written again (another run, another number of blocks)
    assert against_stats(curate(new_input, tmp_path / "second", against=folder / "train"))["index"] == "built"
    assert len(list(indexes.glob("index-*"))) == 1
    # one shard alone, and the whole folder, are scopes of their own: their indexes stay beside the split's
    curate(new_input, tmp_path / "shard", against=folder / "train" / "part-00001.parquet")
    curate(new_input, tmp_path / "whole", against=folder)
    assert len(list(indexes.glob("index-*"))) == 3


def _lose_train(folder: Path) -> str:
    (folder / "train.parquet").unlink()
    return "train.parquet is missing (its manifest.json lists"


def _lose_every_split(folder: Path) -> str:
    for split in ("train", "validation", "test"):
        (folder / f"{split}.parquet").unlink()
    return "train.parquet is missing (its manifest.json lists"


def as_shards(folder: Path) -> list[Path]:
    """The folder's train split as ``--engine ray`` writes it: ``train/part-*.parquet``, listed in the manifest."""
    table = pq.read_table(folder / "train.parquet")
    (folder / "train.parquet").unlink()
    (folder / "train").mkdir()
    names = ["part-00000.parquet", "part-00001.parquet"]
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), folder / "train" / names[0])
    pq.write_table(table.slice(half), folder / "train" / names[1])
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["outputs"]["train"] = {"path": "train/", "rows": table.num_rows, "files": names, "sha256": ["", ""]}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return [folder / "train" / name for name in names]


def _lose_a_shard(folder: Path) -> str:
    as_shards(folder)[1].unlink()
    return "train/part-00001.parquet is missing (its manifest.json lists"


def _lose_the_manifest(folder: Path) -> str:
    (folder / "manifest.json").unlink()
    return "manifest.json is missing from this tome curate output folder"


def _rewrite_train(folder: Path, change) -> None:
    table = pq.read_table(folder / "train.parquet")
    pq.write_table(change(table), folder / "train.parquet")


def _conversations_as_text(folder: Path) -> str:
    _rewrite_train(folder, lambda t: pa.table({"id": t.column("id"), "conversations": pa.array(["x"] * t.num_rows)}))
    return "train.parquet: column 'conversations' is string, expected a list of {from, value} turns"


def _ids_as_numbers(folder: Path) -> str:
    _rewrite_train(folder, lambda t: t.set_column(0, "id", pa.array(range(t.num_rows))))
    return "train.parquet: column 'id' is int64, expected text"


def _no_conversations(folder: Path) -> str:
    _rewrite_train(folder, lambda t: t.select(["id"]))
    return "train.parquet: no 'conversations' column"


def _null_id(folder: Path) -> str:
    _rewrite_train(folder, lambda t: t.set_column(0, "id", pa.array([None] * 3 + t.column("id").to_pylist()[3:], pa.string())))
    return "train.parquet: row 1: 'id' is null"


def _null_conversations(folder: Path) -> str:
    def change(t):
        at = t.column_names.index("conversations")
        turns = t.column(at).to_pylist()
        return t.set_column(at, "conversations", pa.array(turns[:4] + [None] + turns[5:], t.schema.field(at).type))

    _rewrite_train(folder, change)
    return "train.parquet: row 5: 'conversations' is null"


@pytest.mark.parametrize("damage", [_lose_train, _lose_every_split, _lose_a_shard, _lose_the_manifest,
                                    _conversations_as_text, _ids_as_numbers, _no_conversations, _null_id,
                                    _null_conversations])
def test_an_incomplete_or_damaged_folder_stops_the_run_in_one_line(damage, existing, new_input, tmp_path):
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    expected = damage(folder)
    before = data_bytes(folder)
    code, output = invoke("curate", "-q", "-i", new_input, "-o", tmp_path / "new", "--against", folder,
                          "--set", "report=false", "--set", "checkpoint=false")
    assert code == 2
    line = one_error_line(output)
    assert line.startswith(f"error: --against {folder}: ") and expected in line
    assert data_bytes(folder) == before


@pytest.mark.parametrize("split", ["train.parquet", "train/", "train/part-00001.parquet", ":train", "shards:train"])
def test_one_split_of_a_curated_folder_is_matched_by_the_ids_it_holds(split, existing, new_input, tmp_path):
    """Pointed at one split (file, shard folder or shard, or FOLDER:SPLIT, as datasets names a split), --against
    names its rows by the ids they were written with; the other splits are not part of the set. (FOLDER:train
    was read as a plain input: its rows got new ids, that the folder does not hold.)"""
    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    if split not in ("train.parquet", ":train"):
        as_shards(folder)
    written = {":train": "train.parquet", "shards:train": "train/"}.get(split, split)
    held = set(pq.read_table(folder / written, columns=["id"]).column("id").to_pylist())
    before = data_bytes(folder)
    target = Path(f"{folder}:train") if ":" in split else folder / split
    manifest = curate(new_input, tmp_path / "new", against=target)
    removed = pq.read_table(tmp_path / "new" / "removed.parquet")
    found = removed.filter(pa.compute.equal(removed.column("reason"), "duplicate_of_existing"))
    # the existing rows the new input holds (same lines, same ids): those of this split are found
    expected = held & set(removed.column("id").to_pylist())
    assert 0 < len(expected) < OVERLAP and found.num_rows == len(expected)
    assert set(found.column("duplicate_of").to_pylist()) == expected
    assert against_stats(manifest)["existing_rows"] == len(held)
    assert against_stats(manifest)["existing_kind"] == "curated"  # (read here: tome publish names it by its last part)
    assert data_bytes(folder) == before


def test_a_split_of_a_curated_folder_is_an_input_as_folder_colon_split(existing, tmp_path):
    """``-i OUT:test`` was refused ("OUT is not a datasets.save_to_disk folder, nor a folder whose files are named
    by split"), though ``load_dataset(OUT, split="test")`` reads it: now it reads that split alone; a split the
    folder does not have is one line naming its splits."""
    held = pq.read_table(existing / "test.parquet", columns=["id"]).num_rows
    code, output = invoke("curate", "-q", "-i", f"{existing}:test", "-o", tmp_path / "one", "--set", "report=false")
    assert code == 0, output
    manifest = read_manifest(tmp_path / "one")
    assert 0 < held < 60 and manifest["accounting"]["input_rows"] == held
    assert manifest["input"]["split"] == "test"
    code, output = invoke("curate", "-q", "-i", f"{existing}:removed", "-o", tmp_path / "two")
    assert code == 2
    assert one_error_line(output) == (f"error: {existing}:removed: no split 'removed' in this tome curate output (its "
                                      f"splits: train, validation, test; {existing} alone reads all three)")


@pytest.mark.parametrize("sets, expected", [
    (["stages.against.enabled=false"], "the against stage is off (stages.against.enabled: false); switch it on, or "
                                       "leave --against out"),
    (["stages.against.exact=false", "stages.against.near=false"], "exact and near are both false: no new row would be "
                                                                  "matched against the existing set"),
])
def test_an_against_that_would_match_nothing_is_refused_not_ignored(existing, new_input, tmp_path, sets, expected):
    """--against beside a config that switched the stage off, or both its matches, ran without a word: every new
    row kept, the summary silent, as if the set had none of them."""
    args = [a for key in sets for a in ("--set", key)]
    code, output = invoke("curate", "-q", "-i", new_input, "-o", tmp_path / "new", "--against", existing, *args)
    assert code == 2 and expected in one_error_line(output)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("content, problem", [
    (None, "file not found"),
    ('{"conversations": "broken\n{"conversations": "cut\n', "line 1: not JSON Lines"),
    ('{"a": 1}\n', "cannot tell the chat format from its columns"),
])
def test_an_existing_input_that_cannot_be_read_is_named_as_the_against_set(content, problem, new_input, tmp_path):
    """The error names --against: the new input (read first, and fine) is not the one that failed."""
    existing = tmp_path / "existing.jsonl"
    if content is not None:
        existing.write_text(content, encoding="utf-8")
    code, output = invoke("curate", "-q", "-i", new_input, "-o", tmp_path / "new", "--against", existing,
                          "--set", "report=false", "--set", "checkpoint=false")
    assert code == 2
    line = one_error_line(output)
    assert line.startswith("error: --against ") and problem in line


@pytest.mark.parametrize("damage", [_lose_train, _lose_the_manifest, _ids_as_numbers, None])
def test_a_damaged_or_missing_existing_set_is_found_before_the_new_rows_are_read(damage, existing, new_input, tmp_path,
                                                                                 monkeypatch):
    import curation.pipeline as pipeline

    folder = tmp_path / "curated"
    if damage is None:  # a path that is not there
        expected = "file not found"
    else:
        shutil.copytree(existing, folder)
        expected = damage(folder)
    monkeypatch.setattr(pipeline, "run_local", lambda *a, **k: pytest.fail("the run started"))
    code, output = invoke("curate", "-q", "-i", new_input, "-o", tmp_path / "new", "--against", folder,
                          "--set", "report=false", "--set", "checkpoint=false")
    assert code == 2
    line = one_error_line(output)
    assert line.startswith(f"error: --against {folder}") and expected in line


def test_against_given_twice_is_refused_not_cut_to_the_last(existing, new_input, tmp_path):
    code, output = invoke("curate", "-q", "-i", new_input, "-o", tmp_path / "new", "--against", existing,
                          "--against", new_input)
    assert code == 2
    assert one_error_line(output).startswith("error: --against given 2 times")


def test_two_runs_against_one_set_differ_only_in_volatile_keys(existing, new_input, tmp_path):
    """The first run builds the index, the second finds it: the contract's volatile keys name that difference."""
    from curation.contract import strip_volatile

    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    shutil.rmtree(folder / ".cache", ignore_errors=True)
    first = curate(new_input, tmp_path / "first", against=folder)
    second = curate(new_input, tmp_path / "second", against=folder)
    assert (against_stats(first)["index"], against_stats(second)["index"]) == ("built", "cached")
    assert strip_volatile(first)["stages"] == strip_volatile(second)["stages"]
    first_files, second_files = (data_bytes(tmp_path / run) for run in ("first", "second"))
    del first_files["manifest.json"], second_files["manifest.json"]  # (its timings differ)
    assert first_files == second_files


@pytest.mark.parametrize("target", ["messages", "messages/train.parquet"])
def test_the_messages_splits_of_a_curated_folder_are_matched_as_the_splits_they_mirror(target, existing, new_input,
                                                                                      tmp_path):
    """``--format messages``/``both`` writes ``messages/`` beside the splits: pointed at it (or one of its files),
    --against reads the FineTome split(s) it mirrors, so duplicate_of names ids the existing set holds."""
    from curation.card import write_messages_splits

    folder = tmp_path / "curated"
    shutil.copytree(existing, folder)
    write_messages_splits(folder)
    names = ["train"] if target.endswith(".parquet") else ["train", "validation", "test"]
    splits = [folder / f"{name}.parquet" for name in names]
    held = {i for split in splits for i in pq.read_table(split, columns=["id"]).column("id").to_pylist()}
    curate(new_input, tmp_path / "new", against=folder / target)
    removed = pq.read_table(tmp_path / "new" / "removed.parquet")
    found = removed.filter(pa.compute.equal(removed.column("reason"), "duplicate_of_existing"))
    assert found.num_rows == len(held & set(removed.column("id").to_pylist())) > 0
    assert set(found.column("duplicate_of").to_pylist()) <= held


def test_a_plain_existing_sets_unreadable_rows_are_counted_not_silently_left_out(new_input, tmp_path):
    """A plain input as the existing set: its rows that cannot be read (not JSON, no conversation) cannot be
    matched, so the stage's stats count them and name the first, on the run that builds the index and on
    runs that reuse it."""
    old = rows(1, 60)
    lines = [json.dumps(r) for r in old[:10]] + ['{"conversations": [', '{"text": "no turns"}'] + [json.dumps(r) for r in old[10:]]
    existing = tmp_path / "old.jsonl"
    existing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for index in ("built", "cached"):  # a plain set's index is cached in the output folder's .cache
        stats = against_stats(curate(new_input, tmp_path / "out", against=existing))
        assert stats["index"] == index and stats["exact"] == OVERLAP
        assert stats["existing_unreadable"] == 2
        assert stats["existing_unreadable_first"].startswith("file old.jsonl, line 11: ")
        assert "\n" not in stats["existing_unreadable_first"]
    clean = write_jsonl(tmp_path / "clean.jsonl", old)
    assert against_stats(curate(new_input, tmp_path / "third", against=clean))["existing_unreadable"] == 0


def test_the_summary_says_what_the_run_against_the_set_did(existing, new_input, tmp_path):
    """The command's own summary tells the existing set's size and what was removed as already there, as the card
    and both reports do, without opening them."""
    code, output = invoke("curate", "-i", new_input, "-o", tmp_path / "new", "--against", existing,
                          "--set", "report=false", "--set", "checkpoint=false")
    assert code == 0, output
    said = " ".join(output.split())  # (the console folds long lines)
    assert f"against {existing} (60 existing rows; exact and near copies" in said
    assert "30 new rows removed as duplicate_of_existing" in said


def test_the_index_of_a_plain_set_is_pruned_when_the_set_changes_and_other_sets_keep_theirs(new_input, tmp_path):
    """--against a plain file: the index is built in the output folder's cache; when the file changes, the index of
    its earlier state (as large as its signatures, and never to match again) is removed, not left to pile up at
    every run into the same folder; another file's index in the same cache stays."""
    other = write_jsonl(tmp_path / "other.jsonl", rows(3, 20))
    existing = write_jsonl(tmp_path / "existing.jsonl", rows(1, 40))
    out = tmp_path / "out"
    indexes = out / ".cache" / "against"
    curate(new_input, out, against=other)
    assert against_stats(curate(new_input, out, against=existing))["index"] == "built"
    assert len(list(indexes.glob("index-*"))) == 2
    write_jsonl(existing, rows(1, 50))  # the set grew
    manifest = curate(new_input, out, against=existing)
    assert against_stats(manifest)["index"] == "built" and against_stats(manifest)["existing_rows"] == 50
    assert len(list(indexes.glob("index-*"))) == 2  # the other file's and the set's as it is now
    assert against_stats(curate(new_input, out, against=other))["index"] == "cached"


def test_a_plain_existing_sets_own_ids_are_named_beside_the_ids_tome_gives_its_rows(tmp_path):
    """--against a plain file whose rows carry their own ``id``: ``duplicate_of`` is the id tome gives the existing
    row (what a curated folder of that file holds), and ``details.existing_input_id`` the file's own id (as the
    ``input_id`` column of a run on that file holds it), which is the one its owner looks the row up by; a row
    without an id adds nothing. The same on the run that builds the index and on the one that reuses it."""
    import pyarrow.parquet as pq

    new = rows(1, 6)
    new[5]["conversations"][1]["value"] += " more"
    spec = write_jsonl(tmp_path / "new.jsonl", new + rows(2, 3))
    for kind, ids, expected in (("text", ["old-0", "old-1", None, "old-3", "old-4", "old-5"],
                                 ["-", "old-0", "old-1", "old-3", "old-4", "old-5"]),
                                ("number", [10, 11, 12, 13, 14, 15], ["10", "11", "12", "13", "14", "15"])):
        old = rows(1, 6)
        for row, own in zip(old, ids):
            if own is not None:
                row["id"] = own
        old[5]["conversations"][1]["value"] += " extra"  # a near copy of its new twin
        existing = write_jsonl(tmp_path / f"old-{kind}.jsonl", old)
        for index in ("built", "cached"):
            out = tmp_path / kind  # (a plain set's index is cached in the output folder)
            stats = against_stats(curate(spec, out, against=existing))
            assert stats["index"] == index and stats["exact"] == 5 and stats["near"] == 1
            details = [json.loads(r["details"]) for r in pq.read_table(out / "removed.parquet").to_pylist()]
            assert sorted(d.get("existing_input_id", "-") for d in details) == expected
            near = [d for d in details if d["match"] == "near"]
            assert list(near[0]) == ["match", "similarity", "existing_input_id"]
            assert near[0]["existing_input_id"] == str(ids[5])
