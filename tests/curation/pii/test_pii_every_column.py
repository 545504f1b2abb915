"""PII outside the turns and behind invisible characters: with the PII stage on, no redacted value may stay in any
output file, whichever column holds it (``source``, the input's own ``id``, extra columns, strings nested in JSON
objects and arrays), and a secret split by a zero-width space is still a secret."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.pii.config import PiiConfig
from curation.pii.detect import Scanner, candidates
from curation.pipeline import run_curation

import pyarrow as pa

TOKEN = "ghp_" + "Abcdefghij" * 3 + "XYZ123"
VALUES = ["john.doe@example.com", "bob.smith@example.org", "carol@example.com", "192.168.10.20", "erin@example.net",
          "frank@example.com", TOKEN]


def _row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"Question number {i}: what is {i} plus {i}, exactly?"},
                              {"from": "gpt", "value": f"The answer to question {i} is {2 * i}, as simple sums show."}],
            **extra}


@pytest.mark.parametrize("text", [
    "tok ghp_" + "A" * 18 + "\u200b" + "B" * 18 + " end",
    "tok g\u200bhp_" + "A" * 36 + " end",
    "tok ghp_" + "A" * 18 + "\u2060" + "B" * 18 + " end",
    "tok ghp_" + "A" * 18 + "\ufeff" + "B" * 18 + " end",
    "tok " + "sk-" + "a" * 24 + "\u200c" + "a" * 24 + " end",
])
def test_secret_split_by_invisible_characters_is_found(text):
    scanner = Scanner(PiiConfig(enabled=True))
    assert len(candidates(pa.array([text]))) == 1
    assert scanner.redact(text, scanner.spans(text)) == "tok <SECRET> end"


def test_zero_width_only_text_has_no_findings():
    scanner = Scanner(PiiConfig(enabled=True))
    assert scanner.spans("\u200b\u200b\u00ad") == []


def test_no_redacted_value_in_any_output_file(tmp_path):
    rows = [
        _row(1, source="src-john.doe@example.com", id="id-john.doe@example.com",
             note="call me at mail bob.smith@example.org"),
        _row(2, meta={"owner": "carol@example.com", "ip": "192.168.10.20"}),
        _row(3, tags=["x", "erin@example.net"], nested=[{"who": "frank@example.com"}]),
        _row(4, note=f"my token {TOKEN}"),
    ] + [_row(i) for i in range(5, 12)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    run_curation(str(src), out, load_config(None, {"stages": {"pii": {"enabled": True}}, "report": True,
                                                   "checkpoint": False}))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["accounting"]["balanced"]
    for folder, _, files in os.walk(out):
        for name in files:
            path = os.path.join(folder, name)
            blobs = [open(path, "rb").read()]
            if name.endswith(".parquet"):
                blobs.append(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
            for value in VALUES:
                assert not any(value.encode() in b for b in blobs), (value, path)
    kept = [r for s in ("train", "validation", "test") for r in pq.read_table(out / f"{s}.parquet").to_pylist()]
    by_q = {r["conversations"][0]["value"].split(":")[0]: r for r in kept}
    r1 = by_q["Question number 1"]
    assert r1["source"] == "<EMAIL>" and r1["note"] == "call me at mail <EMAIL>"
    assert by_q["Question number 2"]["meta"] == {"owner": "<EMAIL>", "ip": "<IP_ADDRESS>"}
    r3 = by_q["Question number 3"]
    assert r3["tags"] == ["x", "<EMAIL>"] and r3["nested"] == [{"who": "<EMAIL>"}]


def test_secret_in_an_extra_column_drops_the_row(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [_row(1, note=f"key {TOKEN}")] + [_row(i) for i in
                                                                                              range(2, 6)]))
    out = tmp_path / "out"
    run_curation(str(src), out, load_config(None, {"stages": {"pii": {"enabled": True, "actions": {"secret": "drop"}}},
                                                   "report": False, "checkpoint": False}))
    removed = pq.read_table(out / "removed.parquet").to_pylist()
    assert [r["reason"] for r in removed] == ["pii:secret"]
    assert removed[0]["note"] == "key <SECRET>"


def _kept(out) -> list[dict]:
    return [r for s in ("train", "validation", "test") for r in pq.read_table(out / f"{s}.parquet").to_pylist()]


def test_an_input_column_named_input_is_scanned_and_the_label_of_several_inputs_is_not(tmp_path):
    """With one input, a column called ``input`` is the input's own data (tome writes that column only with several
    inputs, the input's name, which the mix counts rows by): it is redacted like any other. With several inputs the
    input's own column is kept apart as ``input_input`` and redacted, and the label stays the input's name."""
    rows = [_row(i, input=f"carol{i}@example.com") for i in range(1, 7)]
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = {"stages": {"pii": {"enabled": True}}, "report": False, "checkpoint": False}
    run_curation(str(one), tmp_path / "out1", load_config(None, cfg))
    kept = _kept(tmp_path / "out1")
    assert len(kept) == 6 and {r["input"] for r in kept} == {"<EMAIL>"}

    labelled = tmp_path / "bob@example.com.jsonl"  # an input's name that looks like an address: a label, kept
    labelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(7, 13)))
    run_curation([str(labelled), str(other)], tmp_path / "out2", load_config(None, cfg))
    kept = _kept(tmp_path / "out2")
    mine = [r for r in kept if r["input"] == "bob@example.com"]
    assert len(mine) == 6 and {r["input_input"] for r in mine} == {"<EMAIL>"}
    assert not any("carol" in json.dumps(r, default=str) for r in kept)
