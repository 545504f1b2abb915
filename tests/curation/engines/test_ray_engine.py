"""`tome curate --engine ray`: the same rows, ids, duplicate_of and splits as the local engine.

The tests start one local Ray cluster (2 CPUs) for the module and compare every output file, row by row
and column by column, with the local engine's on the same input and config. Small read units and batches
spread the rows over many blocks, so every global step gathers keys from many tasks.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.config import load_config
from curation.contract import SPLITS, output_paths, read_manifest, read_quarantine, read_removed, read_split
from curation.readers import SAMPLE_PATH, InputError
from curation.pipeline import run_curation

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions, run_curation_ray  # noqa: E402

SMALL = RayOptions(unit_bytes=60_000, unit_records=120)  # many small units: rows spread over many blocks


def config(**stages):
    return load_config(None, {"report": False, "stages": stages, "engine": {"batch_rows": 97}})


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """The session's local Ray cluster (tests/conftest.py): 2 CPUs."""
    return ray_cluster


# --- inputs --------------------------------------------------------------------------------------------------


def mixed_rows(source: Path, n: int = 400, seed: int = 7) -> list[str]:
    """Real rows plus what curation must handle: near duplicates (chains of small edits, some with a higher
    score), exact duplicate lines, malformed JSON, blank lines, rows without an answer, extra columns."""
    rng = random.Random(seed)
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()][:n]
    out: list[str] = []
    for i, line in enumerate(lines):
        row = json.loads(line)
        row["lang"] = "en" if i % 3 else None
        if i % 7 == 0:
            row["meta"] = {"k": i}
        out.append(json.dumps(row, ensure_ascii=False))
        if i % 5 == 0:  # a chain of near duplicates: each drops one more word of the answer
            variant = json.loads(line)
            for step in range(1 + i % 3):
                words = variant["conversations"][-1]["value"].split(" ")
                if len(words) <= 30:
                    break
                del words[rng.randrange(len(words))]
                variant["conversations"][-1]["value"] = " ".join(words)
                variant["score"] = float(step)
                out.append(json.dumps(variant, ensure_ascii=False))
        if i % 11 == 0:
            out.append(line)
        if i % 50 == 0:
            out.append('{"conversations": [')
        if i % 60 == 0:
            out.append("")
        if i % 70 == 0:
            out.append(json.dumps({"conversations": [{"from": "human", "value": "only a question"}]}))
    return out


def write_mixed(path: Path, source: Path) -> Path:
    data = ("\n".join(mixed_rows(source)) + "\n").encode("utf-8")
    path.write_bytes(data + b'{"conversations": "\xff\xfe not utf-8"}\n')
    return path


# --- comparing two output folders ----------------------------------------------------------------------------


def assert_same_output(local: Path, sharded: Path) -> None:
    for split in SPLITS:
        a, b = read_split(local, split).to_pylist(), read_split(sharded, split).to_pylist()
        assert [r["id"] for r in a] == [r["id"] for r in b], split
        assert a == b, split
    a, b = read_removed(local).to_pylist(), read_removed(sharded).to_pylist()
    assert [(r["id"], r["stage"], r["reason"], r["duplicate_of"]) for r in a] == \
           [(r["id"], r["stage"], r["reason"], r["duplicate_of"]) for r in b]
    assert a == b
    assert read_quarantine(local) == read_quarantine(sharded)
    ma, mb = read_manifest(local), read_manifest(sharded)
    for key in ("accounting", "removed_by_reason", "extra_columns", "config"):
        assert ma[key] == mb[key], key
    assert ma["input"]["fingerprint"] == mb["input"]["fingerprint"] and ma["input"]["rows"] == mb["input"]["rows"]
    for x, y in zip(ma["stages"], mb["stages"], strict=True):
        for key in ("name", "enabled", "rows_in", "kept", "removed", "quarantined"):
            assert x[key] == y[key], (x["name"], key)
    assert mb["accounting"]["balanced"]


# --- end to end against the local engine ----------------------------------------------------------------------


def test_embedded_sample_matches_local(cluster, tmp_path, monkeypatch):
    if not SAMPLE_PATH.exists():
        pytest.skip(f"{SAMPLE_PATH} not generated yet (python data/make_sample.py)")
    snapshot = tmp_path / "sample.jsonl"  # both engines read the same bytes, even if the sample is regenerated
    snapshot.write_bytes(SAMPLE_PATH.read_bytes())
    import curation.readers

    monkeypatch.setattr(curation.readers, "SAMPLE_PATH", snapshot)
    run_curation(None, tmp_path / "local", config())
    run_curation_ray(None, tmp_path / "ray", config(), RayOptions(unit_bytes=1 << 20))
    assert_same_output(tmp_path / "local", tmp_path / "ray")
    assert read_manifest(tmp_path / "ray")["input"]["kind"] == "sample"


def test_shared_real_rows_match_local(cluster, tmp_path, alpaca_path, finetome_real_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for path in (alpaca_path, finetome_real_path):
        (folder / path.name).symlink_to(path)
    cfg = config(near_dedup={"threshold": 0.5, "text_key": "first_human"})
    local = run_curation(str(folder), tmp_path / "local", cfg)
    result = run_curation_ray(str(folder), tmp_path / "ray", cfg, SMALL)
    assert_same_output(tmp_path / "local", tmp_path / "ray")
    stages, local_stages = {s.name: s for s in result.stages}, {s.name: s for s in local.stages}
    assert stages["exact_dedup"].stats["clusters"] > 0  # the alpaca rows repeat: real clusters were resolved
    assert any(r["cluster_id"] for r in read_split(tmp_path / "ray", "train").to_pylist())
    for key in ("candidate_pairs", "measured_pairs", "similar_pairs", "clusters"):
        assert stages["near_dedup"].stats[key] == local_stages["near_dedup"].stats[key], key


@pytest.mark.parametrize(
    "stages",
    [
        {"near_dedup": {"threshold": 0.5, "text_key": "first_human"}, "balance": {"max_per_source": 150}},
        {"near_dedup": {"threshold": 0.3, "text_key": "first_human", "ngram": 2, "bucket_cap": 3}},
        {"near_dedup": {"verify": False, "threshold": 0.6, "backend": "datasketch"},
         "exact_dedup": {"case_sensitive": False}, "split": {"train": 0.5, "validation": 0.5, "test": 0.0}},
    ],
    ids=["clusters+balance", "capped-buckets", "unverified+datasketch"],
)
def test_malformed_and_duplicated_rows_match_local(cluster, tmp_path, alpaca_path, stages):
    src = write_mixed(tmp_path / "mixed.jsonl", alpaca_path)
    cfg = config(**stages)
    run_curation(str(src), tmp_path / "local", cfg)
    result = run_curation_ray(str(src), tmp_path / "ray", cfg, SMALL)
    assert_same_output(tmp_path / "local", tmp_path / "ray")
    files = read_manifest(tmp_path / "ray")["outputs"]["train"]["files"]
    assert len(files) > 1, "small shards: the comparison must cover rows spread over several files"
    assert len(read_quarantine(tmp_path / "ray")) >= 10
    assert {s.name: s for s in result.stages}["near_dedup"].removed


def test_sharded_parquet_in_and_uri_out_match_local(cluster, tmp_path, alpaca_path):
    rows = [json.loads(line) for line in mixed_rows(alpaca_path) if line.strip() and line != '{"conversations": [']
    rows = [r for r in rows if isinstance(r.get("conversations"), list)]
    assert len(rows) > 300
    folder = tmp_path / "shards"
    folder.mkdir()
    for i in range(3):  # three files, row groups of 40 rows: 10+ read units
        part = rows[i::3]
        pq.write_table(pa.Table.from_pylist(part), folder / f"part-{i}.parquet", row_group_size=40)
    cfg = config(near_dedup={"threshold": 0.5, "text_key": "first_human"})
    run_curation(str(folder), tmp_path / "local", cfg)
    run_curation_ray(f"file://{folder}", f"file://{tmp_path / 'ray'}", cfg, SMALL)
    assert_same_output(tmp_path / "local", tmp_path / "ray")


def test_killed_worker_does_not_change_the_result(cluster, tmp_path, alpaca_path):
    """SIGKILL busy Ray workers of this cluster while the run is on: Ray retries their tasks."""
    import psutil

    src = write_mixed(tmp_path / "mixed.jsonl", alpaca_path)
    cfg = config(near_dedup={"threshold": 0.5, "text_key": "first_human"})
    run_curation(str(src), tmp_path / "local", cfg)
    targets = ["MapBatches", "MapBatches", "MapBatches"]
    killed: list[tuple[int, str]] = []
    stop = threading.Event()

    def killer() -> None:
        me = psutil.Process()  # only workers of the cluster this process started (children of its raylet)
        while not stop.is_set() and targets:
            for proc in me.children(recursive=True):
                try:
                    title = proc.cmdline()[0] if proc.cmdline() else ""
                except psutil.Error:
                    continue
                hit = next((t for t in targets if title.startswith("ray::") and t in title), None)
                if hit and all(pid != proc.pid for pid, _ in killed):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append((proc.pid, title))
                    targets.remove(hit)
            time.sleep(0.002)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        run_curation_ray(str(src), tmp_path / "ray", cfg, SMALL)
    finally:
        stop.set()
        thread.join()
    assert killed, "no busy worker was caught mid-task"
    print(f"SIGKILLed {len(killed)} busy workers: {[title for _, title in killed]}")
    assert_same_output(tmp_path / "local", tmp_path / "ray")


def test_cli_joins_a_running_cluster_and_output_loads_with_datasets(cluster, tmp_path, alpaca_path):
    address = cluster.get_runtime_context().gcs_address
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "tomecraft.cli", "curate", "--engine", "ray", "--ray-address", address,
         "--input", str(alpaca_path), "--out", str(out), "-q", "--set", "report=false"],
        capture_output=True, text=True, cwd=REPO, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert "nothing lost" in proc.stderr
    import datasets

    paths = output_paths(out)
    files = {s: [str(p) for p in paths.files(paths.split(s))] for s in SPLITS}
    ds = datasets.load_dataset("parquet", data_files=files)
    manifest = read_manifest(out)
    assert manifest["engine"] == "ray"
    assert {s: ds[s].num_rows for s in SPLITS} == {s: manifest["outputs"][s]["rows"] for s in SPLITS}
    ds_glob = datasets.load_dataset("parquet", data_files={"train": str(out / "train" / "*.parquet")})
    assert ds_glob["train"]["id"] == ds["train"]["id"]


def test_input_errors_from_workers_are_one_line(cluster, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\nstill not json\n")
    with pytest.raises(InputError, match=r"bad\.jsonl: line 1: not JSON Lines"):
        run_curation_ray(str(bad), tmp_path / "out", config(), SMALL)
    with pytest.raises(InputError, match="file not found"):
        run_curation_ray(str(tmp_path / "missing.jsonl"), tmp_path / "out", config(), SMALL)


def test_local_engine_replaces_an_earlier_sharded_output(cluster, tmp_path, alpaca_path):
    out = tmp_path / "out"
    src = tmp_path / "few.jsonl"
    src.write_text("".join(alpaca_path.read_text(encoding="utf-8").splitlines(keepends=True)[:30]), encoding="utf-8")
    run_curation_ray(str(src), out, config(), SMALL)
    assert (out / "train").is_dir()
    run_curation(str(src), out, config())
    assert (out / "train.parquet").is_file() and not (out / "train").exists()
    run_curation_ray(str(src), out, config(), SMALL)
    assert not (out / "train.parquet").exists() and output_paths(out).split("train").is_dir()


# --- the same stages, whatever the engine ----------------------------------------------------------------------


def _toy_stage():
    """A stage that no engine has heard of: drops rows whose first question ends with a question mark."""
    import pyarrow.compute as pc

    from curation.core.config_base import StrictModel
    from curation.core.registry import StageSpec
    from curation.core.stage import RowStage, StageOutput
    from curation.core.columns import text_key

    class QuestionMarkConfig(StrictModel):
        enabled: bool = True

    class QuestionMark(RowStage):
        name = "question_mark"

        def process(self, batch):
            first = text_key(batch.column("conversations"), "first_human")
            hit = pc.ends_with(first, "?")
            reason = pc.if_else(hit, pa.scalar("filter:question_mark"), pa.scalar(None, pa.string()))
            return StageOutput(batch, reason=reason, stats={"seen": batch.num_rows})

    return StageSpec(name="question_mark", order=55, kind="row", config=QuestionMarkConfig,
                     build=lambda cfg, _: QuestionMark(), reasons=("filter:question_mark",))


def test_a_new_stage_runs_on_both_engines_through_the_registry(cluster, tmp_path, alpaca_path):
    from curation.core import registry

    spec = _toy_stage()
    registry.register(spec)
    try:
        cfg = config()
        assert cfg.stage("question_mark").enabled
        run_curation(str(alpaca_path), tmp_path / "local", cfg)
        run_curation_ray(str(alpaca_path), tmp_path / "ray", cfg, SMALL)
    finally:
        registry.unregister(spec.name)
    assert_same_output(tmp_path / "local", tmp_path / "ray")
    stages = {s["name"]: s for s in read_manifest(tmp_path / "ray")["stages"]}
    assert stages["question_mark"]["removed"]["filter:question_mark"] > 0
    assert stages["question_mark"]["stats"]["seen"] == stages["question_mark"]["rows_in"]


def test_review_import_on_a_ray_output_folder(cluster, tmp_path, alpaca_path):
    from tests.curation.review.test_review import ALICE, BOB, load_records, respond, run_cli, save_records

    run_curation_ray(str(alpaca_path), tmp_path / "ray", config(), SMALL)
    assert (tmp_path / "ray" / "train").is_dir()
    export = tmp_path / "export"
    run_cli("review", "export", tmp_path / "ray", "--split", "test", "--no-vectors", "--to", export, "-q")
    records = load_records(export)
    for who in (ALICE, BOB):
        respond(records[0], who, verdict="discard", quality=1)
    save_records(export, records)
    run_cli("review", "import", tmp_path / "ray", "--from", export, "--out", tmp_path / "reviewed", "-q")
    assert (tmp_path / "reviewed" / "train.parquet").is_file()
    manifest = read_manifest(tmp_path / "reviewed")
    assert manifest["accounting"]["balanced"]
    assert records[0]["id"] in read_removed(tmp_path / "reviewed").column("id").to_pylist()


# a row: turns drawn from a few texts so that exact and near duplicates happen; some lines malformed
_texts = st.sampled_from([
    "How do leaves make food from light?", "How do leaves make food from light ?", "Explain photosynthesis to a child.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf.",
    "Photosynthesis turns light water and carbon dioxide into sugar and oxygen inside the leaves.",
    "Plants store sugar as starch and use it at night.", "ok", "  padded   text  ", "café crème", "Σίσυφος",
])
_row = st.fixed_dictionaries(
    {"conversations": st.lists(st.tuples(st.sampled_from(["human", "gpt", "user", "system"]), _texts),
                               min_size=1, max_size=4).map(lambda ts: [{"from": f, "value": v} for f, v in ts]),
     "source": st.sampled_from(["a", "b", None]),
     "score": st.one_of(st.none(), st.floats(0, 5, allow_nan=False))},
)
_line = st.one_of(_row.map(lambda r: json.dumps(r, ensure_ascii=False)), st.sampled_from(['{"conversations": [', "", "[1, 2]"]))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=60), cap=st.sampled_from([None, 3]))
def test_local_and_ray_give_the_same_splits_and_removals(cluster, tmp_path_factory, lines, cap):
    tmp = tmp_path_factory.mktemp("prop")
    src = tmp / "rows.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = config(near_dedup={"threshold": 0.6, "ngram": 2}, balance={"max_per_source": cap})
    try:
        run_curation(str(src), tmp / "local", cfg)
    except InputError:
        with pytest.raises(InputError):
            run_curation_ray(str(src), tmp / "ray", cfg, RayOptions(unit_bytes=300))
        return
    run_curation_ray(str(src), tmp / "ray", cfg, RayOptions(unit_bytes=300))
    for split in SPLITS:
        assert read_split(tmp / "local", split).column("id").to_pylist() == read_split(tmp / "ray", split).column("id").to_pylist()
    a, b = read_removed(tmp / "local"), read_removed(tmp / "ray")
    assert a.select(["id", "reason", "duplicate_of"]).to_pylist() == b.select(["id", "reason", "duplicate_of"]).to_pylist()
    assert read_quarantine(tmp / "local") == read_quarantine(tmp / "ray")
