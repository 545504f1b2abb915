"""What `tome curate` writes for people to read (report.html, report.md), on hostile input values: scores near the
largest double, and quarantined lines whose raw bytes hold control characters."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from curation.report.facts import score_figures
from curation.report.html_page import e
from curation.report.markdown_text import html_shown


def _row(i: int, score=None) -> dict:
    row = {"conversations": [{"from": "human", "value": f"Question {i}: how does step {i * 7919} of the recipe go?"},
                             {"from": "gpt", "value": f"Answer {i}: you do step {i * 104729} and then you finish it."}],
           "source": "s"}
    if score is not None:
        row["score"] = score
    return row


def _curate(tmp_path: Path, lines: list[bytes]) -> Path:
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation

    data = tmp_path / "in.jsonl"
    data.write_bytes(b"".join(line + b"\n" for line in lines))
    out = tmp_path / "out"
    run_curation(str(data), out, load_config(overrides={"checkpoint": False}))
    assert read_manifest(out)["accounting"]["balanced"]
    return out


def _score_cells_md(md: str) -> list[str]:
    section = md.split("## Scores", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| kept") or line.startswith("| removed")]
    return [cell.strip() for row in rows for cell in row.strip("|").split("|")[2:4]]


@pytest.mark.parametrize("values, mean, median", [
    ([1e308, 1e308, 1.7e308], "1.233e+308", "1e+308"),  # the plain sum overflows: the mean was nan or inf
    ([1e308, 1.7e308], "1.35e+308", "1.35e+308"),  # so does the middle pair's
    ([-1e308, -1e308, 1e308, 1e308], "0.000", "0.000"),  # -inf + inf: nan
    ([1e20, 3e20], "2e+20", "2e+20"),  # "%.3f" of 2e20 is 24 characters
    ([3.0, 4.5], "3.750", "3.750"),  # ordinary scores as before
    ([], "–", "–"),
])
def test_score_mean_and_median_are_finite_and_short(values, mean, median):
    assert score_figures(np.array(values, dtype=np.float64)) == (mean, median)


def test_report_of_scores_near_the_largest_double_shows_their_mean(tmp_path: Path):
    scores = [1e308, 1.7976931348623157e308] * 4 + [3.0, 4.0]
    out = _curate(tmp_path, [json.dumps(_row(i, s)).encode() for i, s in enumerate(scores)])
    md = (out / "report.md").read_text(encoding="utf-8")
    cells = [c for c in _score_cells_md(md) if c != "–"]
    assert cells, md
    for cell in cells:
        assert "nan" not in cell and "inf" not in cell and len(cell) <= 12, cell
    page = (out / "report.html").read_text(encoding="utf-8")
    table = page.split('id="scores"', 1)[1].split("</section>", 1)[0]
    numbers = re.findall(r'<td class="num">([^<]*)</td>', table)
    assert numbers and all("nan" not in n and "inf" not in n and len(n) <= 12 for n in numbers), numbers


CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def test_quarantined_raw_line_with_control_characters_is_spelled_out_in_the_page(tmp_path: Path):
    lines = [json.dumps(_row(i, 4.0)).encode() for i in range(6)]
    lines.append(b"broken \x00 nul \x01 \x1b]0;pwned\x07 title \x1b[31mred \x7f del \xc2\x85 nel <script>")
    lines.append(b'{"conversations": [{"from": "\x1b[2J", "value": "hello there"}, '
                 b'{"from": "gpt", "value": "general kenobi"}], "source": "s"}')
    out = _curate(tmp_path, lines)
    raw = (out / "report.html").read_bytes()
    page = raw.decode("utf-8")
    assert b"\x00" not in raw and not CONTROLS.search(page), CONTROLS.findall(page)
    quarantine = page.split('id="quarantine"', 1)[1]
    assert r"broken \x00 nul \x01 \x1b]0;pwned\x07 title \x1b[31mred \x7f del \x85 nel &lt;script&gt;" in quarantine
    assert r"\x1b[2J" in quarantine


@pytest.mark.parametrize("text, shown", [
    ("a\x00b", r"a\x00b"), ("\x1b[31m", r"\x1b[31m"), ("x\x7fy\x85z", r"x\x7fy\x85z"), ("\u202eevil", r"\u202eevil"),
    ("line\nbreak\ttab\r", "line\nbreak\ttab\r"),  # whitespace HTML reads as such stays
    ("<b>&\"'", "&lt;b&gt;&amp;&quot;&#x27;"),
])
def test_html_text_escapes_markup_controls_and_bidi(text, shown):
    assert e(text) == shown
    assert not CONTROLS.search(html_shown(text))


@pytest.mark.parametrize("placeholder", ["[`{TYPE}`]", "<{TYPE}>`|$x$ </code><script>", "`", "a``b"])
def test_a_pii_placeholder_with_backticks_stays_one_code_span(placeholder):
    from curation.report.quality import QualityFacts, section_html, section_markdown, sections

    facts = QualityFacts(stats={"pii": {"rows_with_pii": 3, "found": {"email": 3}, "rows_by_type": {"email": 3}}},
                         config={"pii": {"placeholder": placeholder, "actions": {}}}, removed={}, decontaminated=[])
    (sec,) = sections(facts, charts=False)
    page = section_html(sec)
    codes = re.findall(r"<code>(.*?)</code>", page)
    assert codes == [html.escape(placeholder, quote=True), "conversations", "original_conversations"], codes
    md = section_markdown(sec)
    line = next(x for x in md.splitlines() if "rows held PII" in x)
    assert line.endswith(" in `conversations` and `original_conversations`."), line
    fence = "`" * (max(len(r) for r in re.findall("`+", placeholder)) + 1)
    pad = " " if placeholder.startswith("`") or placeholder.endswith("`") else ""
    assert f"({fence}{pad}{placeholder}{pad}{fence})" in line, line


def test_a_tokenizer_name_with_backticks_leaves_the_notes_code_spans_alone():
    from curation.report.quality import QualityFacts, section_html, section_markdown, sections

    facts = QualityFacts(stats={"token_lengths": {"tokens": {"train": 10}, "rows": {"train": 1}, "truncated": {}}},
                         config={"token_lengths": {"tokenizer": "my`tok", "max_seq_length": 8, "drop_too_long": True}},
                         removed={}, decontaminated=[])
    (sec,) = sections(facts, charts=False)
    assert re.findall(r"<code>(.*?)</code>", section_html(sec)) == ["filter:too_many_tokens"]
    md = section_markdown(sec)
    assert r"Tokenizer my\`tok with" in md and "(`filter:too_many_tokens`)" in md, md


def test_a_line_break_in_the_input_path_or_folder_is_spelled_as_the_card_spells_it(tmp_path: Path):
    from curation.config import load_config
    from curation.pipeline import run_curation

    data = tmp_path / "in\nput.jsonl"
    data.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(6)), encoding="utf-8")
    out = tmp_path / "out\tfolder\nname"
    run_curation(str(data), out, load_config(overrides={"checkpoint": False}))
    card = (out / "README.md").read_text(encoding="utf-8")
    assert r"in\nput.jsonl" in card  # the card's one-line spelling, which the report now shares
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# Curation report: out\\\\tfolder\\\\nname\n"), md[:80]  # \t, \n as literal text
    assert r"in\nput.jsonl`" in md.splitlines()[2]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert r"<h1>Curation report · out\tfolder\nname</h1>" in page
    assert r"<title>Curation report · out\tfolder\nname</title>" in page
    assert r"in\nput.jsonl</code>" in page


def test_a_bidi_override_left_open_in_a_turn_cannot_reverse_the_note_of_what_is_left_out():
    from curation.report.word_diff import plain, side_by_side

    text = "start \u202e" + "reversed words " * 100
    for page in (plain(text, 50), side_by_side(text, text.replace("words", "w0rds", 1), limit=60)[0],
                 side_by_side("x " * 400 + text, "y " + "x " * 399 + text)[0]):
        notes = re.findall(r'<span class="more"[^>]*>', page)
        assert notes and all('dir="ltr"' in n for n in notes), page[-300:]


@pytest.mark.parametrize("name, shown", [
    ("# big", r"\# big"), ("1. one", r"1\. one"), ("10) ten", r"10\) ten"), ("> quote", r"\> quote"),
    ("+ plus", r"\+ plus"), ("- dash", r"\- dash"), ("=== x", r"\=== x"), ("    code", "&#32;" * 4 + "code"),
    ("\t# tab", r"&#9;\# tab"), ("plain name", "plain name"), ("1.5 ok", "1.5 ok"), ("-x", "-x"),
])
def test_a_note_that_starts_with_an_input_name_stays_one_plain_list_item(name, shown):
    from curation.report.markdown_text import md_line

    assert md_line(name + ": 3 duplicate(s) kept in b instead") == shown + ": 3 duplicate(s) kept in b instead"


def test_mix_notes_in_report_md_start_with_the_name_as_text(tmp_path: Path):
    import yaml

    from curation.config import load_config
    from curation.pipeline import run_curation

    rows = "".join(json.dumps(_row(i)) + "\n" for i in range(6))
    names = ["first", "1. one", "> quote", "# big", "    code"]
    for k in range(len(names)):
        (tmp_path / f"in{k}.jsonl").write_text(rows, encoding="utf-8")  # the same rows: duplicates of the first
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(
        {"inputs": [{"path": str(tmp_path / f"in{k}.jsonl"), "name": n} for k, n in enumerate(names)]}), encoding="utf-8")
    out = tmp_path / "out"
    run_curation(None, out, load_config(tmp_path / "mix.yaml", {"checkpoint": False}))
    md = (out / "report.md").read_text(encoding="utf-8")
    notes = [line for line in md.splitlines() if line.startswith("- ") and "duplicate(s) kept in first" in line]
    assert sorted(line.split(":", 1)[0] for line in notes) == sorted(
        ["- 1\\. one", "- \\> quote", "- \\# big", "- " + "&#32;" * 4 + "code"]), notes


def test_a_quarantine_error_per_bad_value_is_listed_up_to_a_limit(tmp_path: Path):
    from curation.report.facts import MAX_ERROR_KINDS

    bad = MAX_ERROR_KINDS + 40
    lines = [json.dumps({"conversations": [{"from": f"role{i}", "value": "hello there"},
                                           {"from": "gpt", "value": "general kenobi"}]}).encode() for i in range(bad)]
    lines += [json.dumps(_row(i)).encode() for i in range(6)]
    out = _curate(tmp_path, lines)
    md = (out / "report.md").read_text(encoding="utf-8")
    table = md.split("Quarantine errors:", 1)[1].split("\n## ", 1)[0]
    assert table.count("unknown role") == MAX_ERROR_KINDS
    assert "(40 more kinds of error, 40 rows, not listed; `quarantine.jsonl` holds every one.)" in table
    page = (out / "report.html").read_text(encoding="utf-8")
    section = page.split('id="quarantine"', 1)[1].split("</section>", 1)[0]
    kinds = section.split("<h3>", 1)[0]
    assert kinds.count("unknown role") == MAX_ERROR_KINDS and "40 more kinds of error, 40 rows, not listed." in kinds


def test_markdown_text_spells_control_characters_as_the_page_does():
    from curation.report.markdown_text import md_text

    assert md_text("src\x85nel\x00nul\x1b[31m") == r"src\x85nel\x00nul\x1b\[31m"
    assert md_text("a\tb") == "a\tb" and md_text("a\nb") == "a b"
