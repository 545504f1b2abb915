"""The "Rows per source" table names its count column for what it counts, the rows that came in: with several
inputs, a column headed ``input`` beside ``source`` reads as the input's name, which the inputs table above uses
the word for."""

from __future__ import annotations

import json
import re


def test_rows_per_source_counts_rows_in_under_a_header_that_says_so(tmp_path, alpaca_path):
    from curation.config import load_config
    from curation.pipeline import run_curation
    from curation.report import REPORT_HTML, REPORT_MD

    lines = alpaca_path.read_text(encoding="utf-8").splitlines()[:40]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    second.write_text("\n".join(lines[20:]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    run_curation([f"one={first}", f"two={second}"], out, load_config(overrides={"checkpoint": False}))

    md = (out / REPORT_MD).read_text(encoding="utf-8")
    table = md.split("## Rows per source", 1)[1].split("\n## ", 1)[0]
    head = [cell.strip() for cell in table.strip().splitlines()[0].strip("|").split("|")]
    assert head[:2] == ["source", "rows in"], head
    source = json.loads(lines[0])["source"]
    row = next(line for line in table.splitlines() if line.startswith(f"| {source} |"))
    assert row.split("|")[2].strip() == "40"  # every row came from one source

    html = (out / REPORT_HTML).read_text(encoding="utf-8")
    section = html.split("Rows per source", 1)[1]
    first_head = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", section)[:2]
    assert first_head == ["source", "rows in"], first_head
