"""The same data gives the same outputs, whatever holds it and however the run goes (``curation/contract.py``).

* Containers: the same JSON Lines bytes compressed (gzip, zstd, bz2, xz), cut into shards (a folder, a glob, shards
  compressed each their own way), or with CRLF line ends give the same data files; a quarantine entry's position (file, line) is all
  that differs. A JSON array and a Parquet file of the same records give the same data files too (both ids are
  :func:`curation.contract.record_id`; a JSON Lines row's id hashes its line, so that container is not among these).
* Engine settings (``batch_rows``, ``workers``, ``memory_mb``): the same bytes.
* Several inputs in the other order: the keep policy's "input listed first" decides equal-score duplicates, a
  higher score wins in either order.
* ``--resume`` redoes the mix when the inputs' weights changed (they live in ``inputs:``, not ``stages.mix``).
* A run with ``report: false`` leaves no report of an earlier run beside its outputs.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import SPLITS, read_manifest, strip_volatile
from curation.pipeline import run_curation
from tests.curation.runs import xz_of_blocks

DATA_FILES = [f"{s}.parquet" for s in SPLITS] + ["removed.parquet"]


def _rows(alpaca_path: Path) -> list[dict]:
    """Real rows with scores and sources, exact and near duplicates among them, filter fodder and rows that break
    the schema."""
    src = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()][:90]
    rows = [dict(r, source="abc"[i % 3], score=[None, 3.5, 4.0][i % 3]) for i, r in enumerate(src)]
    rows += [dict(rows[i], source="copy") for i in range(0, 20, 4)]  # same text, another source
    for i in range(20, 30, 2):  # near duplicates
        turns = [dict(t) for t in rows[i]["conversations"]]
        turns[1]["value"] += " Indeed."
        rows.append(dict(rows[i], conversations=turns, source="near"))
    rows += [json.loads(json.dumps(rows[i])) for i in range(30, 35)]  # identical copies
    rows.append({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "ok"}], "source": "a",
                 "score": 1.0})
    rows.append({"conversations": [{"from": "human", "value": "An answer, please."}, {"from": "gpt", "value": ""}],
                 "source": "b", "score": None})
    order = list(range(len(rows)))
    order = order[1::2] + order[::2]  # copies away from their originals
    return [rows[i] for i in order]


def _config(**overrides):
    return load_config(None, {"report": False, "checkpoint": False, **overrides})


def _curate(spec, out: Path, **overrides) -> dict[str, bytes]:
    run_curation(spec, out, _config(**overrides))
    assert read_manifest(out)["accounting"]["balanced"]
    return {name: (out / name).read_bytes() for name in DATA_FILES}


def _quarantine_without_positions(out: Path) -> list[dict]:
    """The quarantine entries without their position (a file's name, a line in it: the container's)."""
    records = [json.loads(line) for line in (out / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()]
    for record in records:
        record.pop("position")
    return records


def _compressed(path: Path, data: bytes) -> Path:
    codec = path.suffix
    if codec == ".zst":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    else:
        path.write_bytes({".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}.get(codec, bytes)(data))
    return path


@pytest.fixture(scope="module")
def lines(alpaca_path) -> list[bytes]:
    return [(json.dumps(r, ensure_ascii=False) + "\n").encode() for r in _rows(alpaca_path)]


@pytest.fixture(scope="module")
def reference(lines, tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("reference")
    data = folder / "rows.jsonl"
    data.write_bytes(b"".join(lines))
    return folder / "out", _curate(str(data), folder / "out")


def _shards(folder: Path, lines: list[bytes], codecs: list[str]) -> Path:
    folder.mkdir()
    n, k = len(lines), len(codecs)
    for i, codec in enumerate(codecs):
        _compressed(folder / f"part-{i:02d}.jsonl{codec}", b"".join(lines[i * n // k : (i + 1) * n // k]))
    return folder


@pytest.mark.parametrize("container", ["gz", "zst", "bz2", "xz", "xz blocks", "folder", "glob", "mixed-codec folder", "crlf", "crlf gz"])
def test_json_lines_in_any_container_give_the_same_data_files(container, lines, reference, tmp_path):
    ref_out, ref_files = reference
    data = b"".join(lines)
    if container == "folder":
        spec = str(_shards(tmp_path / "shards", lines, [""] * 7))
    elif container == "glob":
        spec = str(_shards(tmp_path / "shards", lines, [""] * 7) / "*.jsonl")
    elif container == "mixed-codec folder":
        spec = str(_shards(tmp_path / "shards", lines, ["", ".gz", ".zst", ".bz2", ".xz", "", ".gz"]))
    elif container.startswith("crlf"):  # Windows line ends: the same ids (a line's id leaves its end out), raw text
        data = data.replace(b"\n", b"\r\n")
        spec = str(_compressed(tmp_path / "rows.jsonl.gz", data) if container.endswith("gz") else _compressed(tmp_path / "rows.jsonl", data))
    elif container == "xz blocks":  # as xz -T writes a large file, decoded on several threads; blocks cut lines
        path = tmp_path / "rows.jsonl.xz"
        step = len(data) // 5 + 1
        path.write_bytes(xz_of_blocks([data[i : i + step] for i in range(0, len(data), step)]))
        spec = str(path)
    else:
        spec = str(_compressed(tmp_path / f"rows.jsonl.{container}", data))
    assert _curate(spec, tmp_path / "out") == ref_files
    assert _quarantine_without_positions(tmp_path / "out") == _quarantine_without_positions(ref_out)
    ours, theirs = strip_volatile(read_manifest(tmp_path / "out")), strip_volatile(read_manifest(ref_out))
    for manifest in (ours, theirs):
        manifest.pop("input")
        manifest["outputs"].pop("quarantine")
    assert ours == theirs


def test_a_json_array_and_a_parquet_file_give_the_same_data_files(alpaca_path, tmp_path):
    rows = _rows(alpaca_path)
    array = tmp_path / "rows.json"
    array.write_text(json.dumps(rows), encoding="utf-8")
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), table)
    assert _curate(str(array), tmp_path / "a") == _curate(str(table), tmp_path / "b")


@pytest.mark.parametrize("engine", [{"batch_rows": 1}, {"batch_rows": 7}, {"batch_rows": 1000}, {"workers": 1},
                                    {"workers": 3}, {"memory_mb": 0}])
def test_engine_settings_never_change_the_bytes(engine, reference, tmp_path):
    ref_out, ref_files = reference
    source = read_manifest(ref_out)["input"]["spec"]
    assert _curate(source, tmp_path / "out", engine=engine) == ref_files
    assert (tmp_path / "out" / "quarantine.jsonl").read_bytes() == (ref_out / "quarantine.jsonl").read_bytes()
    ours, theirs = strip_volatile(read_manifest(tmp_path / "out")), strip_volatile(read_manifest(ref_out))
    ours["config"].pop("engine"), theirs["config"].pop("engine")
    assert ours == theirs


def _two_inputs(alpaca_path: Path, folder: Path) -> tuple[str, str]:
    src = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()]
    a = [dict(r, source="A", score=4.0) for r in src[100:160]]
    b = [dict(r, source="B", score=4.0) for r in src[140:200]]  # 20 shared with a, the same score
    b += [dict(r, source="B", score=4.5) for r in src[100:105]]  # 5 shared with a, higher in b
    paths = []
    for name, rows in (("a", a), ("b", b)):
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(str(path))
    return paths[0], paths[1]


def test_the_input_listed_first_wins_equal_scores_and_a_higher_score_wins_in_either_order(alpaca_path, tmp_path):
    a, b = _two_inputs(alpaca_path, tmp_path)
    # 20 rows in both at the same score: the later input's copy goes; 5 that score higher in b: a's copy goes
    for order, lost in (((a, b), {("B", 4.0): 20, ("A", 4.0): 5}), ((b, a), {("A", 4.0): 25})):
        out = tmp_path / f"out-{len(lost)}"
        _curate(list(order), out)
        removed = pq.read_table(out / "removed.parquet").to_pylist()
        assert Counter((r["source"], r["score"]) for r in removed if r["reason"] == "exact_duplicate") == lost


def test_resume_draws_the_mix_again_when_the_weights_changed(alpaca_path, tmp_path):
    """The weights live in ``inputs:``, not in ``stages.mix``: a resumed run with other weights kept the earlier
    draw (a 2:1 mix under a manifest whose config asks for 1:1)."""
    a, b = _two_inputs(alpaca_path, tmp_path)
    spilling = {"checkpoint": True, "engine": {"memory_mb": 0}}  # every pass spills and leaves its checkpoint
    out = tmp_path / "out"
    run_curation([f"{a}@2", f"{b}@1"], out, _config(**spilling))
    run_curation([f"{a}@1", f"{b}@1"], out, _config(**spilling), resume=True)
    reference = tmp_path / "reference"
    run_curation([f"{a}@1", f"{b}@1"], reference, _config(**spilling))
    for name in DATA_FILES:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    manifest = read_manifest(out)
    assert "balance" in manifest["resumed_stages"] and "mix" not in manifest["resumed_stages"]
    assert [m["share"] for m in manifest["mix"]] == [0.5, 0.5]


def test_a_run_without_a_report_leaves_no_report_of_an_earlier_run(alpaca_path, tmp_path):
    a, b = _two_inputs(alpaca_path, tmp_path)
    out = tmp_path / "out"
    run_curation(a, out, load_config(None, {"report": True, "checkpoint": False}))
    assert (out / "report.md").exists() and (out / "report.html").exists()
    run_curation(b, out, _config())
    assert not (out / "report.md").exists() and not (out / "report.html").exists()


@pytest.mark.parametrize("first", ["zeta", "alpha"])
def test_one_inputs_own_input_column_is_data_not_the_keep_policys_label(first, tmp_path):
    """With one input, a column named ``input`` is the input's own data: equal duplicates (same score, same length)
    keep the lower id, as the policy says, whichever value that column holds first (it used to rank the rows as
    if they were inputs of a mix, so the row that came first won). Both orders of the file are run: in one of
    them the first row has the higher id."""
    turns = [{"from": "human", "value": "Name three primary colours, please."},
             {"from": "gpt", "value": "Red, yellow and blue are the three traditional primary colours."}]
    values = [first, "alpha" if first == "zeta" else "zeta"]
    path = tmp_path / "one.jsonl"
    path.write_text("".join(json.dumps({"conversations": turns, "source": "s", "score": 4.0, "input": v}) + "\n"
                            for v in values), encoding="utf-8")
    out = tmp_path / "out"
    _curate(str(path), out)
    kept = [i for s in SPLITS for i in pq.read_table(out / f"{s}.parquet", columns=["id"]).column("id").to_pylist()]
    removed = pq.read_table(out / "removed.parquet", columns=["id", "reason"]).to_pylist()
    assert len(kept) == 1 and [r["reason"] for r in removed] == ["exact_duplicate"]
    assert kept[0] < removed[0]["id"]
