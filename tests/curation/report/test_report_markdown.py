"""report.md shows text from the data (source names, reasons, the input's name) as literal text: no raw HTML,
no Markdown syntax, no line that breaks a table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curation.report.markdown_text import md_code, md_text

HOSTILE = ["<!-- the rest is hidden", "</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>",
           "![pixel](http://example.invalid/p.png)", "[click](javascript:alert(3))", "a | b", "two\nlines",
           "&lt;entity&gt;", "`code` and **bold** and _em_", "back\\slash"]


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_leaves_no_markup(text):
    out = md_text(text)
    assert "\n" not in out and "<" not in out
    assert not re.search(r"(?<!\\)[|`*\[\]]", out), out
    assert not re.search(r"&(?!lt;|amp;)", out), out


def test_md_text_keeps_ordinary_text_readable():
    assert md_text("filter:answer_too_short") == "filter:answer_too_short"
    assert md_text("Q&A > 3") == "Q&A > 3"
    assert md_text("x\ny", newline="<br>") == "x<br>y"


def test_md_code_cannot_be_closed_from_inside():
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("p\nq") == "`p q`"
    assert md_code(" a ") == "`  a  `"  # CommonMark strips one space a side: the padding keeps the text's own
    assert md_code("a|b", cell=True) == "`a\\|b`"  # in a table row, | would end the cell


def test_report_md_shows_hostile_source_names_literally(tmp_path, alpaca_path):
    from curation.config import load_config
    from curation.pipeline import run_curation
    from curation.report import REPORT_MD

    rows = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:30]]
    source = tmp_path / "in<!--.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"conversations": row["conversations"], "source": HOSTILE[i % len(HOSTILE)]}) + "\n")
    out = tmp_path / "out"
    run_curation(str(source), out, load_config(overrides={"checkpoint": False}))
    text = (out / REPORT_MD).read_text(encoding="utf-8")
    assert "`" + str(source) + "`" in text  # the input's name in a code span, where Markdown reads no HTML
    text = text.replace(str(source), "")
    assert "<!--" not in text and "<script" not in text and "<img" not in text
    assert not re.search(r"(?<!\\)\]\(", text), "no link or image"
    table = text.split("## Rows per source", 1)[1].split("\n## ", 1)[0]
    body = [line for line in table.strip().splitlines()[2:] if line.startswith("|")]
    assert len(body) == len(HOSTILE), "one table row per source, none cut by a | or a line break"
    assert all(line.count(" | ") - line.count("\\| ") >= 4 for line in body)
