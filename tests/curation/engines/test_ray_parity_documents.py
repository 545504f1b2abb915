"""`tome curate --engine ray` gives what the local engine gives on a folder that mixes JSON Lines with ``.json``
documents read whole between the shards around them: a JSON array (a number among its rows), rows keyed by id (one
with a null id of its own, one value that is no row), a keyed document cut short, one keyed under a wrapper cut
short, and an array with a row nested deeper than ``json`` reads, each row a copy of another
file's here and there, so that every row ends in a split, removed or quarantine, and the Ray engine reads the
documents in several read units (seven records each).

The session's one local Ray cluster (``ray_cluster``, tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import SPLITS, read_manifest, read_quarantine

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions  # noqa: E402
from tests.curation.engines.test_ray_parity_inputs import (  # noqa: E402,F401  (cluster: the session's one cluster)
    assert_same_content, cluster, run_on_both_engines)

CUT = RayOptions(unit_bytes=1500, unit_records=7)


def row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"Which river flows past the mill in village {i}?"},
                              {"from": "gpt", "value": f"The river Alder flows past the mill of village {i}, "
                                                       f"{i + 4} kilometres below the old stone bridge."}], **extra}


def mixed_folder(root: Path) -> Path:
    folder = root / "data"
    (folder / "more").mkdir(parents=True)
    (folder / "a.jsonl").write_text("".join(json.dumps(row(i)) + "\n" for i in range(12)))
    array = [row(i) for i in range(12, 30)] + [row(3)]  # (a copy of a.jsonl's row 3: removed)
    array.insert(5, 42)  # no row: quarantined
    (folder / "b.json").write_text(json.dumps(array, indent=2))
    keyed = {f"conv-{i:03d}": row(i) for i in range(30, 46)}
    keyed["conv-031"] = row(31, id=None)  # its key its id
    keyed["conv-040"] = {"note": "no conversation here"}  # quarantined
    keyed["conv-050"] = row(14)  # a copy of b.json's row: removed
    (folder / "more" / "c.json").write_text(json.dumps({"version": 3, "data": keyed}))
    cut = json.dumps({f"k{i}": row(i) for i in range(46, 56)}, indent=1)
    (folder / "more" / "d.json").write_text(cut[:-50])  # cut short in its last row: the rest quarantined
    wrapped = json.dumps({"data": {f"w{i}": row(i) for i in range(64, 71)}}, indent=1)
    (folder / "more" / "e.json").write_text(wrapped[:-60])  # cut short in its last row: the rest quarantined
    deep = '{"a": ' * 3000 + "1" + "}" * 3000  # deeper than json reads: the row quarantined alone
    (folder / "f.json").write_text("[" + ", ".join([json.dumps(row(71)), deep, json.dumps(row(72))]) + "]")
    (folder / "z.jsonl").write_text("".join(json.dumps(row(i)) + "\n" for i in range(56, 64)))
    return folder


def config():
    return load_config(None, {"report": False, "checkpoint": False, "engine": {"batch_rows": 5}})


def ids_and_reasons(out: Path) -> dict:
    """Each split's ids (with their input ids), removed rows' ids and reasons, quarantined ids and errors."""
    got = {}
    for name in SPLITS:
        table = pa.concat_tables([pq.read_table(p, columns=["id", "input_id"]) for p in _parts(out, name)])
        got[name] = sorted(zip(table.column("id").to_pylist(), table.column("input_id").to_pylist()))
    removed = pa.concat_tables([pq.read_table(p, columns=["id", "reason"]) for p in _parts(out, "removed")])
    got["removed"] = sorted(zip(removed.column("id").to_pylist(), removed.column("reason").to_pylist()))
    got["quarantine"] = sorted((q["id"], q["error"], q["position"]["file"]) for q in read_quarantine(out))
    return got


def _parts(root: Path, name: str) -> list[Path]:
    single = root / f"{name}.parquet"
    return [single] if single.exists() else sorted((root / name).glob("part-*.parquet"))


def test_a_folder_of_shards_and_json_documents_curates_alike_on_both_engines(cluster, tmp_path):
    folder = mixed_folder(tmp_path)
    run_on_both_engines(str(folder), config, "finetome", tmp_path / "out", CUT)
    local, sharded = tmp_path / "out" / "local", tmp_path / "out" / "ray"
    assert ids_and_reasons(local) == ids_and_reasons(sharded)
    assert_same_content(local, sharded)
    manifest = read_manifest(sharded)
    accounting = manifest["accounting"]
    # 12 + 20 + 17 + (9 whole and the rest) + (6 whole and the rest) + 3 + 8 records; the cases reach what they
    # are for
    assert accounting["balanced"] and accounting["input_rows"] == 12 + 20 + 17 + 10 + 7 + 3 + 8
    got = ids_and_reasons(sharded)
    said = {file: error for _, error, file in got["quarantine"]}
    assert len(said) == len(got["quarantine"]) == 5
    assert said["b.json"] == "row is a JSON int, expected an object"
    assert said["more/c.json"].startswith("missing 'conversations'")
    assert said["more/d.json"].startswith("the file breaks off here, the rest is unreadable")
    assert said["more/e.json"].startswith("the file breaks off here, the rest is unreadable")
    assert said["f.json"] == "not readable JSON: nested too deeply"
    assert len(got["removed"]) == 2
    assert "conv-031" in {input_id for name in SPLITS for _, input_id in got[name]}
