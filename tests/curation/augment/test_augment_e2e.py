"""`tome curate --config configs/augment.yaml` end to end, offline: splits, accounting, manifest, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.config import load_config
from curation.contract import SPLITS, read_manifest, read_removed, read_split, strip_volatile
from curation.readers import SAMPLE_PATH

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SAMPLE_CONFIG = REPO / "configs" / "augment.yaml"


def _curate(input_spec, out: Path):
    from curation.pipeline import run_curation

    return run_curation(None if input_spec is None else str(input_spec), out, load_config(SAMPLE_CONFIG))


@pytest.fixture(scope="module")
def subset(alpaca_path, tmp_path_factory) -> Path:
    """The first 300 real rows (a temporary file, so two full runs stay quick on 2 cores)."""
    path = tmp_path_factory.mktemp("input") / "alpaca300.jsonl"
    with alpaca_path.open(encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(300)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_runs(subset, tmp_path_factory):
    a = tmp_path_factory.mktemp("run_a")
    b = tmp_path_factory.mktemp("run_b")
    _curate(subset, a)
    _curate(subset, b)
    return a, b


def test_sample_config_switches_augmentation_on():
    cfg = load_config(SAMPLE_CONFIG)
    assert cfg.stages.augment.enabled and cfg.stages.augment.train_only
    assert cfg.stages.augment.methods.synonym.enabled and cfg.stages.augment.methods.back_translation.enabled
    assert cfg.stages.augment.methods.back_translation.backend == "apertium"


def test_augmented_rows_only_in_train_next_to_their_origin(two_runs):
    out, _ = two_runs
    tables = {s: read_split(out, s).to_pylist() for s in SPLITS}
    split_of = {r["id"]: s for s, rows in tables.items() for r in rows}
    augmented = [r for r in tables["train"] if r["origin_id"] is not None]
    assert augmented, "no augmented row reached train"
    for s in ("validation", "test"):
        assert all(r["origin_id"] is None and r["augmentation"] is None for r in tables[s])
    for row in augmented:
        assert split_of[row["origin_id"]] == "train"
        assert json.loads(row["augmentation"])["method"] in {"synonym", "back_translation"}
    dropped = [r for r in read_removed(out).to_pylist() if r["reason"] == "augment:origin_not_in_train"]
    for row in dropped:
        assert split_of[row["origin_id"]] in {"validation", "test"}


def test_manifest_reports_augmentation_and_nothing_is_lost(two_runs):
    out, _ = two_runs
    manifest = read_manifest(out)
    stage = next(s for s in manifest["stages"] if s["name"] == "augment")
    stats = stage["stats"]
    assert stage["added"] == stats["augmented"] > 0
    assert stats["augmented"] + sum(stats["rejected"].values()) == stats["candidates"]
    for name in ("synonym", "back_translation"):
        method = stats["methods"][name]
        assert method["rows_per_s"] > 0 and "rejected" in method and "augmented" in method
    acc = manifest["accounting"]
    assert acc["balanced"] and acc["added_rows"] == stage["added"]
    # rows flow: a stage reads what the one before it passed on (its kept plus its added rows), and the added
    # rows are counted once, as added (they were also counted as the augment stage's rows in and kept)
    stages = manifest["stages"]
    for before, after in zip(stages, stages[1:]):
        assert after["rows_in"] == before["kept"] + before["added"], (before, after)
    assert stage["rows_in"] == stage["kept"] + sum(stage["removed"].values()) + stage["quarantined"]


def test_two_runs_give_identical_bytes(two_runs):
    a, b = two_runs
    for name in [f"{s}.parquet" for s in SPLITS] + ["removed.parquet", "quarantine.jsonl"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert strip_volatile(read_manifest(a))["stages"] == strip_volatile(read_manifest(b))["stages"]


@pytest.mark.skipif(not SAMPLE_PATH.exists(), reason="embedded sample not generated yet")
def test_embedded_sample_curates_with_augmentation(tmp_path):
    result = _curate(None, tmp_path)
    manifest = result.manifest
    assert manifest["accounting"]["balanced"]
    stage = next(s for s in manifest["stages"] if s["name"] == "augment")
    assert stage["added"] > 0
