"""A Parquet file of merged chat data whose turns are keyed both ways (FineTome's ``from``/``value`` in some rows or
turns, OpenAI's ``role``/``content`` in others): its turn struct holds all four keys, null where a turn lacks one.
Such a turn is read as the same turn in JSON Lines is (where the keys are absent), not quarantined as a null 'from'."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curation.contract import read_quarantine
from tests.curation.runs import curate

TURN = pa.struct([("from", pa.string()), ("value", pa.string()), ("role", pa.string()), ("content", pa.string())])
OPENAI = {"human": "user", "gpt": "assistant", "system": "system"}


def conversations(alpaca_path: Path, n: int = 12) -> list[list[dict]]:
    return [json.loads(line)["conversations"] for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:n]]


def finetome(turn: dict) -> dict:
    return {"from": turn["from"], "value": turn["value"], "role": None, "content": None}


def openai(turn: dict) -> dict:
    return {"from": None, "value": None, "role": OPENAI[turn["from"]], "content": turn["value"]}


def split_rows(out: Path) -> list[dict]:
    tables = [pq.read_table(out / f"{s}.parquet") for s in ("train", "validation", "test")]
    return [r for t in tables for r in t.to_pylist()]


def test_rows_keyed_either_way_in_one_parquet_file_are_all_read(tmp_path, alpaca_path):
    convs = conversations(alpaca_path)
    rows = [[(openai if i % 2 else finetome)(t) for t in c] for i, c in enumerate(convs)]
    path = tmp_path / "merged.parquet"
    pq.write_table(pa.table({"conversations": pa.array(rows, pa.list_(TURN))}), path)
    manifest = curate(str(path), tmp_path / "out")
    assert read_quarantine(tmp_path / "out") == []
    assert manifest["accounting"]["quarantined"] == 0
    assert manifest["accounting"]["in_splits"] + manifest["accounting"]["removed"] == len(convs)
    kept = split_rows(tmp_path / "out")
    assert kept and all(t["from"] in ("human", "gpt", "system") for r in kept for t in r["conversations"])
    # the rows keyed OpenAI's way keep their roles as given beside FineTome's
    assert any(r["original_conversations"] and r["original_conversations"][0]["from"] == "user" for r in kept)


def test_turns_keyed_either_way_in_one_row_are_read_as_in_json_lines(tmp_path, alpaca_path):
    convs = conversations(alpaca_path)
    rows = [[finetome(t) if j == 0 else openai(t) for j, t in enumerate(c)] for c in convs]
    path = tmp_path / "merged.parquet"
    pq.write_table(pa.table({"conversations": pa.array(rows, pa.list_(TURN))}), path)
    lines = tmp_path / "merged.jsonl"
    lines.write_text("".join(json.dumps({"conversations": [{k: v for k, v in t.items() if v is not None} for t in r]})
                             + "\n" for r in rows), encoding="utf-8")
    curate(str(path), tmp_path / "from_parquet")
    curate(str(lines), tmp_path / "from_jsonl")
    assert read_quarantine(tmp_path / "from_parquet") == []

    def shown(out: Path):
        return sorted(json.dumps([r["conversations"], r["original_conversations"]]) for r in split_rows(out))

    assert shown(tmp_path / "from_parquet") == shown(tmp_path / "from_jsonl")


def test_a_turn_with_every_key_null_is_still_quarantined_naming_from(tmp_path, alpaca_path):
    convs = conversations(alpaca_path, 4)
    rows = [[finetome(t) for t in c] for c in convs]
    rows[2][1] = {"from": None, "value": None, "role": None, "content": None}
    path = tmp_path / "merged.parquet"
    pq.write_table(pa.table({"conversations": pa.array(rows, pa.list_(TURN))}), path)
    curate(str(path), tmp_path / "out")
    [record] = read_quarantine(tmp_path / "out")
    assert record["error"] == "turn 2: 'from' is null, expected a string"
    assert record["position"]["row"] == 2
