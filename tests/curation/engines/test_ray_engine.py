"""`tome curate --engine ray`: the same rows, ids, duplicate_of and splits as the local engine.

The end-to-end tests start one local Ray cluster (2 CPUs, so at most 2 task workers) for the module and
compare every output file, row by row and column by column, with the local engine's on the same input and
config. Small units / partitions / shards make every global step cross partition and shard boundaries.
The step functions are also checked without Ray, on in-process "shuffles", against the local code.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import ConfigError, load_config
from curation.contract import SPLITS, output_paths, read_manifest, read_quarantine, read_removed, read_split
from curation.engines import ray_dedup, ray_select
from curation.engines import ray_records as rec
from curation.engines.ray_records import Kind
from curation.readers import SAMPLE_PATH, InputError
from curation.pipeline import run_curation

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
ray = pytest.importorskip("ray")
from curation.engines.ray_engine import RayEngineOptions, run_curation_ray  # noqa: E402

SMALL = RayEngineOptions(partition_rows=150, light_partition_rows=1_000, unit_bytes=100_000, shard_rows=200)


def config(**stages):
    return load_config(None, {"report": False, "stages": stages})


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 CPUs for the whole module."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, object_store_memory=512 * 1024**2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


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
    import curation.engines.ray_input
    import curation.load

    monkeypatch.setattr(curation.load, "SAMPLE_PATH", snapshot)
    monkeypatch.setattr(curation.engines.ray_input, "SAMPLE_PATH", snapshot)
    run_curation(None, tmp_path / "local", config())
    options = RayEngineOptions(partition_rows=1_000, unit_bytes=1 << 20, shard_rows=1_000)
    run_curation_ray(None, tmp_path / "ray", config(), options)
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
    for key in ("candidate_pairs", "verified_pairs", "clusters"):
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
    rows = [json.loads(line) for line in mixed_rows(alpaca_path) if line.strip() and not line.startswith('{"conversations": [')]
    rows = [r for r in rows if isinstance(r.get("conversations"), list)]
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
    targets = ["read_validate_normalize", "assign_ids_and_exact", "verify_pairs", "write_shard"]
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


def test_stages_not_on_ray_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="semantic_dedup"):
        run_curation_ray(None, tmp_path / "out", config(semantic_dedup={"enabled": True}))


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


# --- the step functions, without Ray ----------------------------------------------------------------------------


def shuffle(tables: list[pa.Table], fn, **kwargs) -> pa.Table:
    """What ``groupby("part").map_groups(fn)`` does, in process."""
    t = rec.concat(tables)
    parts = rec.column(t, "part")
    return rec.concat([fn(t.filter(pa.array(parts == p)), **kwargs) for p in np.unique(parts)])


def edges_table(pairs: np.ndarray) -> pa.Table:
    return rec.table(Kind.EDGE, np.zeros(len(pairs), np.int64), pairs[:, 0], a=pairs[:, 1])


@pytest.mark.parametrize("seed", range(6))
def test_star_rounds_give_the_local_components(seed):
    from curation.minhash import clusters

    rng = np.random.default_rng(seed)
    n = 300
    pairs = rng.integers(0, n, size=(int(rng.integers(1, 400)), 2))
    if seed % 2:  # long chains: the worst case for label propagation
        chain = np.arange(n)
        rng.shuffle(chain)
        pairs = np.stack([chain[:-1], chain[1:]], axis=1)[: n // 2]
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    edges = edges_table(np.stack([lo, hi], axis=1))
    parts = 5
    for _ in range(100):
        large = shuffle([ray_dedup.large_star_map(edges, parts)], ray_dedup.large_star_reduce)
        small = shuffle([ray_dedup.small_star_map(rec.of_kind(large, Kind.EDGE), parts)], ray_dedup.small_star_reduce)
        changed = sum(rec.loads(d)["changed"] for d in rec.payloads(rec.of_kind(large, Kind.STAT)))
        changed += sum(rec.loads(d)["changed"] for d in rec.payloads(rec.of_kind(small, Kind.STAT)))
        edges = rec.of_kind(small, Kind.EDGE)
        if not changed:
            break
    else:
        pytest.fail("no convergence")
    labels = ray_dedup.star_labels(edges, parts)
    got = dict(zip(rec.column(labels, "pos").tolist(), rec.column(labels, "a").tolist()))
    expected = clusters(n, np.stack([lo, hi], axis=1))
    nodes = set(lo.tolist()) | set(hi.tolist())
    assert got == {int(v): int(expected[v]) for v in nodes}


def test_ids_follow_input_order_across_partitions():
    from curation.validate import IdAssigner, content_hash

    contents = [f"row {i % 7}" for i in range(60)]
    assign = IdAssigner()
    expected = [assign(c) for c in contents]
    pos = np.array([(i // 10) << rec.UNIT_SHIFT | (i % 10) for i in range(60)], dtype=np.int64)
    h = np.array([int(content_hash(c), 16) for c in contents], dtype=np.uint64)
    order = np.random.default_rng(0).permutation(60)  # a shuffle delivers records in any order
    occ = ray_dedup._occurrences(h[order], pos[order])
    got = {int(p): ray_dedup._id(int(x), int(o)) for p, x, o in zip(pos[order], h[order], occ)}
    assert [got[int(p)] for p in pos] == expected


def test_jsonl_units_read_as_the_local_loader_reads_the_file(tmp_path):
    from curation.engines.ray_input import plan_input, unit_records
    from curation.load import load_input

    lines = [b'{"a": 1}', b"", b"   ", b"{bad", b'{"b": "\xc3\xa9"}', b"\xff\xfe", b'{"c": 3}\r', b'{"d": 4}']
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(lines * 40))  # no newline at the end
    plan = plan_input(str(path), unit_bytes=37)
    assert len(plan.units) > 10
    got, offset = [], 0
    for unit in plan.units:
        records, counts = unit_records(unit, plan.filesystem)
        for i, r in records:
            got.append((offset + i + 1, r.raw, r.data, r.error))
        offset += counts["lines"]
    expected = [(r.position["line"], r.raw, r.data, r.error) for r in load_input(str(path)).records]
    assert got == expected


def test_split_cuts_equal_assign_groups_for_any_size():
    from curation.config import SplitConfig
    from curation.split import assign_groups

    class Blocks:  # the two Dataset methods kth_smallest uses, over in-process blocks
        def __init__(self, blocks):
            self.blocks = blocks

        def map_batches(self, fn, batch_format=None, fn_kwargs=None, zero_copy_batch=True):
            return Blocks([fn(b, **(fn_kwargs or {})) for b in self.blocks])

        def iter_batches(self, batch_format=None, batch_size=None):
            return iter(self.blocks)

    rng = random.Random(3)
    for trial in range(40):
        n = rng.choice([1, 2, 3, 4, 5, 7, 20, 97])
        shares = rng.choice([(0.9, 0.05, 0.05), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0), (0.0, 0.5, 0.5), (0.34, 0.33, 0.33)])
        cfg = SplitConfig(train=shares[0], validation=shares[1], test=shares[2], seed=trial)
        rows = [{"id": f"r{i}", "cluster_id": f"c{i % 4}" if i % 3 == 0 else None} for i in range(n)]
        rows_table = rec.table(Kind.ROW, np.zeros(n, np.int64), np.arange(n), data=[rec.dumps(r) for r in rows])
        keys = Blocks([ray_select.split_keys(rows_table.slice(i, 3), cfg.seed) for i in range(0, n, 3)])
        cuts = ray_select.split_cuts(keys, n, cfg)
        summaries = [rec.loads(d) for b in keys.map_batches(ray_select.split_summary, fn_kwargs={"cuts": cuts}).blocks
                     for d in rec.payloads(b)]
        cuts = ray_select.fix_small_splits(cuts, summaries, cfg)
        out = ray_select.split_apply(rows_table, cuts, cfg.seed)
        got = {rec.loads(d)["id"]: rec.loads(d)["_split"] for d in rec.payloads(rec.of_kind(out, Kind.ROW))}
        assigned = assign_groups(rows, cfg)
        assert got == {r["id"]: assigned[r["cluster_id"] or r["id"]] for r in rows}, (n, shares)
