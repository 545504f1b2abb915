"""Names from the data that reach what users read after `tome curate`: the report's charts (matplotlib reads
``$...$`` as mathtext), the report's Markdown tables (a review column's name heads one), the hub's and GitHub's
Markdown (``$x$`` is math there) and bidi controls, which would reorder the text after a name."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from curation.report.markdown_text import md_code, md_text, one_line

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: everything after it on the line reads backwards


def curate(tmp_path: Path, alpaca_path: Path, sources: list[str], extra: dict[str, list[str]] | None = None) -> Path:
    """A small curation run whose rows carry ``sources`` (in turn) and the ``extra`` columns."""
    from curation.config import load_config
    from curation.pipeline import run_curation

    rows = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:30]]
    data = tmp_path / "in.jsonl"
    with data.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            record = {"conversations": row["conversations"], "source": sources[i % len(sources)]}
            record.update({name: values[i % len(values)] for name, values in (extra or {}).items()})
            fh.write(json.dumps(record) + "\n")
    out = tmp_path / "out"
    run_curation(str(data), out, load_config(overrides={"checkpoint": False}))
    return out


def test_source_names_that_read_as_mathtext_are_charted_as_they_are(tmp_path, alpaca_path):
    from curation.report import REPORT_HTML

    sources = ["$\\undefinedcmd$", "$x$ and $y$", "cost $5"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no matplotlib warning either
        out = curate(tmp_path, alpaca_path, sources)
    page = (out / REPORT_HTML).read_text(encoding="utf-8")
    chart = page.split('id="sources"', 1)[1].split("</svg>", 1)[0]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart)
    assert "$\\undefinedcmd$" in labels and "$x$ and $y$" in labels  # literal text, not italic math


def test_names_in_scripts_the_chart_font_lacks_and_control_characters_draw_quietly(tmp_path, alpaca_path):
    from curation.report import REPORT_HTML

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = curate(tmp_path, alpaca_path, ["中文数据", "emoji 😀", "cr\rlf\nend"])
    chart = (out / REPORT_HTML).read_text(encoding="utf-8").split('id="sources"', 1)[1].split("</svg>", 1)[0]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart)
    assert "中文数据" in labels and "cr\\rlf\\nend" in labels  # one line, the break spelled out


def test_a_review_column_name_is_literal_in_report_md(tmp_path, alpaca_path):
    from curation.report import build_report

    out = curate(tmp_path, alpaca_path, ["s"], {"review_<i>v|w</i>": ["ok", "bad", "ok"]})
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["extra_columns"].remove("review_<i>v|w</i>")  # as if review had written it, not the input
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    text = build_report(out)[1]
    table = text.split("## Review verdicts", 1)[1].strip().splitlines()
    head, rule = table[0], table[1]
    assert "<i>" not in head
    cells = len(re.split(r"(?<!\\)\|", head)) - 2
    assert cells == len(re.split(r"(?<!\\)\|", rule)) - 2 == 2  # the name cuts no cell: the table keeps its shape


def test_an_inputs_own_review_and_quality_columns_are_no_review(tmp_path, alpaca_path):
    from curation.report import REPORT_HTML, REPORT_MD

    out = curate(tmp_path, alpaca_path, ["s"], {"review_notes": ["fine", "meh"], "quality": ["1", "5"]})
    assert "## Review verdicts" not in (out / REPORT_MD).read_text(encoding="utf-8")
    assert "No review verdicts in this folder" in (out / REPORT_HTML).read_text(encoding="utf-8")


@pytest.mark.parametrize("text", ["$x$", "$5 and 6$", "$\\frac{1}{2}$", "a$$b$$", "$3 or $4 and 5$"])
def test_md_text_shows_math_spans_literally(text):
    """GitHub and the hub read ``$...$`` as math; ``\\$`` is a dollar to them and to CommonMark."""
    assert not re.search(r"(?<!\\)\$", md_text(text))


@pytest.mark.parametrize("text", ["costs $5", "$3,500 (budget $4,000)", "pay $5 or $6"])
def test_md_text_leaves_amounts_that_are_no_math_alone(text):
    assert md_text(text) == text


def test_bidi_controls_are_spelled_out_wherever_a_name_is_shown():
    from curation.report.html_page import e

    name = f"abc{RLO}def\u2066x\u2069 \u200fرسالة"
    for shown in (md_text(name), md_code(name), one_line(name), e(name)):
        assert RLO not in shown and "\u2066" not in shown and "\\u202e" in shown
        assert "\u200f" in shown  # a mark only leans the characters beside it: Arabic text keeps it
    assert one_line("a\nb\tc\x85") == "a\\nb\\tc\\x85"


def test_quality_notes_keep_their_code_and_show_config_values_literally():
    from curation.report.quality import QualitySection, section_markdown

    sec = QualitySection("decontamination", "Decontamination", "Shared with evals|<img src=x>.jsonl and $a$; `und`: x",
                         ["a"], [])
    note = section_markdown(sec).splitlines()[2]
    assert "`und`" in note and "<img" not in note and "\\|" in note and "\\$a\\$" in note


def test_the_card_spells_out_a_bidi_override_and_describes_repairs(tmp_path, alpaca_path):
    import yaml

    from curation.card import CARD_FILE, write_card

    out = curate(tmp_path, alpaca_path, ["s"], {f"col{RLO}x": ["a"], "bad\x01": ["b"]})
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "repairs" in manifest["extra_columns"]  # the control character was repaired
    text = (out / CARD_FILE).read_text(encoding="utf-8")
    body = text.split("\n---\n", 1)[1]
    assert RLO not in body and "`col\\u202ex`" in body
    assert "- `repairs`: " in body
    carried = next(line for line in body.splitlines() if line.startswith("- carried through"))
    assert "repairs" not in carried
    header = yaml.safe_load(text.split("---\n", 2)[1])
    names = [f["name"] for f in header["dataset_info"]["features"]]
    assert f"col{RLO}x" in names  # the header names the column as its files do
    assert write_card(out).read_text(encoding="utf-8") == text  # the same folder, the same bytes


@pytest.mark.parametrize("command", [["report"], ["publish", "--repo", "me/data"]])
def test_a_folder_named_with_a_line_break_is_one_error_line(tmp_path, command, monkeypatch):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "no\nsuch"
    result = CliRunner().invoke(app, [command[0], str(missing), *command[1:]])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {tmp_path}/no\\nsuch: not a folder (expected the --out "
                                                  "folder of `tome curate`)"]
