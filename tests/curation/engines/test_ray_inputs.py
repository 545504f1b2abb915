"""Many inputs, mixing, --against and hostile text on the Ray engine: the same outputs as the local engine."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import SPLITS, read_manifest, read_quarantine, read_removed, read_split
from curation.pipeline import run_curation
from tests.curation.test_hostile import hostile_file

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions, run_curation_ray  # noqa: E402

ROLE = {"human": "user", "gpt": "assistant", "system": "system"}
SMALL = RayOptions(unit_bytes=60_000, unit_records=100)


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """The session's local Ray cluster (tests/conftest.py): 2 CPUs."""
    return ray_cluster


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, alpaca_path):
    from benchmarks.corpus import FineTomeLike

    rows = [json.loads(x) for x in alpaca_path.read_text().splitlines() if x.strip()]
    generated = FineTomeLike(500, seed=3).rows(0, 500)  # text of its own: not copies of the other inputs
    folder = tmp_path_factory.mktemp("ray_inputs")
    with gzip.open(folder / "b.jsonl.gz", "wt") as fh:
        for r in generated[:250] + rows[:10]:
            fh.write(json.dumps({"messages": [{"role": ROLE[t["from"]], "content": t["value"]} for t in r["conversations"]]}) + "\n")
    pq.write_table(pa.Table.from_pylist([{"instruction": r["conversations"][0]["value"], "input": "",
                                          "output": r["conversations"][1]["value"]} for r in generated[250:]]), folder / "c.parquet")
    data, _ = hostile_file()
    (folder / "hostile.jsonl").write_bytes(data)
    # the same lines with classic Mac OS line ends (a lone CR), those that hold no raw CR or LF of their own
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")]
    (folder / "mac.jsonl").write_bytes(b"\r".join(line for line in lines if line and b"\r" not in line) + b"\r")
    return folder


def cfg(folder: Path, **extra):
    """The shared alpaca rows, the embedded sample, a third file in another format (OpenAI messages, gzip),
    an Alpaca Parquet file and a file of hostile lines (and the same with lone-CR line ends), mixed by weight."""
    from tests.conftest import ALPACA

    base = {"report": False, "inputs": [{"path": str(ALPACA), "name": "alpaca_shared", "weight": 4},
                                        {"path": "sample", "weight": 3},
                                        {"path": str(folder / "b.jsonl.gz"), "weight": 2},
                                        {"path": str(folder / "c.parquet"), "weight": 1},
                                        {"path": str(folder / "hostile.jsonl"), "max_rows": 8},
                                        {"path": str(folder / "mac.jsonl"), "max_rows": 8}]}
    base.update(extra)
    return load_config(None, base)


def same(local: Path, other: Path) -> None:
    for split in SPLITS:
        assert read_split(local, split).to_pylist() == read_split(other, split).to_pylist(), split
    key = lambda r: (r["id"], r["stage"], r["reason"], r["duplicate_of"], r["input"])  # noqa: E731
    assert sorted(map(key, read_removed(local).to_pylist())) == sorted(map(key, read_removed(other).to_pylist()))
    assert read_quarantine(local) == read_quarantine(other)
    a, b = read_manifest(local), read_manifest(other)
    assert a["inputs"] == b["inputs"] and a["accounting"] == b["accounting"]


def test_mix_and_hostile_lines_on_both_engines(cluster, inputs, tmp_path):
    run_curation(None, tmp_path / "local", cfg(inputs), output_format="both")
    run_curation_ray(None, tmp_path / "ray", cfg(inputs), SMALL, output_format="both")
    same(tmp_path / "local", tmp_path / "ray")
    manifest = read_manifest(tmp_path / "ray")
    shares = {i["name"]: i["share"] for i in manifest["inputs"]}
    assert manifest["accounting"]["balanced"] and shares["hostile"] > 0 and set(shares) >= {"alpaca_shared", "sample"}
    mac = next(i for i in manifest["inputs"] if i["name"] == "mac")  # its rows duplicate hostile's: read line by line
    assert mac["rows_in"] == len([x for x in (inputs / "mac.jsonl").read_bytes().split(b"\r") if x.strip()]) > 1
    weighted = [i for i in manifest["inputs"] if i["target_share"] is not None]
    kept = sum(i["kept"] for i in weighted)
    for i in weighted:  # the weighted inputs' shares among themselves, within a point of their targets
        assert abs(i["kept"] / kept - i["target_share"]) <= 0.01, i
    assert (tmp_path / "ray" / "README.md").exists() and (tmp_path / "ray" / "messages").is_dir()


def test_against_on_both_engines(cluster, inputs, tmp_path):
    run_curation(None, tmp_path / "first", cfg(inputs))
    again = {"stages": {"against": {"path": str(tmp_path / "first")}}}
    run_curation(None, tmp_path / "local", cfg(inputs, **again))
    run_curation_ray(None, tmp_path / "ray", cfg(inputs, **again), SMALL)
    same(tmp_path / "local", tmp_path / "ray")
    removed = read_removed(tmp_path / "ray").to_pylist()
    first_ids = {r["id"] for s in SPLITS for r in read_split(tmp_path / "first", s).to_pylist()}
    dup = [r for r in removed if r["reason"] == "duplicate_of_existing"]
    assert {r["id"] for r in dup} >= first_ids and all(r["duplicate_of"] in first_ids for r in dup)


def test_removed_rows_keep_every_blocks_columns_on_both_engines(cluster, tmp_path):
    """Removed rows of different blocks with their own extra columns and types: the removed file holds them all,
    as JSON text where the types differ. Ray took the removed file's schema from one block's rows: a column only
    another block held was dropped with its values, a type another block gave ended the run."""
    ok = [{"from": "human", "value": "What is the capital of France, and why is it there?"},
          {"from": "gpt", "value": "Paris is the capital of France; it grew on the Seine's trade routes."}]
    short = lambda q: [{"from": "human", "value": q}, {"from": "gpt", "value": "hi"}]  # noqa: E731
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"conversations": ok, "extra": 1}, {"conversations": short("say hi"), "extra": 7}]) + "\n")
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"conversations": short("say yo"), "extra": "text", "only_b": {"keep": "me"}},
        {"conversations": short("say ok"), "extra": {"k": [1, 2]}, "only_b": {"keep": "me too"}}]) + "\n")
    config = lambda: load_config(None, {"report": False, "inputs": [  # noqa: E731
        {"path": str(tmp_path / "a.jsonl")}, {"path": str(tmp_path / "b.jsonl")}]})
    run_curation(None, tmp_path / "local", config())
    run_curation_ray(None, tmp_path / "ray", config(), SMALL)
    same(tmp_path / "local", tmp_path / "ray")
    for out in ("local", "ray"):
        removed = sorted(read_removed(tmp_path / out).to_pylist(), key=lambda r: r["conversations"][0]["value"])
        assert [r["only_b"] for r in removed] == [None, {"keep": "me too"}, {"keep": "me"}], out
        assert [json.loads(r["extra"]) for r in removed] == [7, {"k": [1, 2]}, "text"], out
