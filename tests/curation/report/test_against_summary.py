"""A run ``--against`` an existing set names that set, and what matching it removed, in both report pages and in
the card (they showed only the stage's row of the funnel: not which set the new rows were matched against, nor
how many of its rows there were)."""

from __future__ import annotations

import html

import pytest

from curation.report.facts import against_summary
from curation.report.markdown_text import md_code
from tests.curation.test_against_existing import rows, write_jsonl


def test_the_sentence_names_the_set_its_size_and_what_it_removed():
    config = {"stages": {"against": {"path": "old/`set`", "exact": True, "near": True}}}
    stage = {"name": "against", "enabled": True, "removed": {"duplicate_of_existing": 7},
             "stats": {"existing_rows": 1200, "exact": 5, "near": 2, "existing_unreadable": 0}}
    spec, rest = against_summary(config, stage)
    assert spec == "old/`set`"
    assert rest == ("(1,200 existing rows; exact and near copies, found with this run's dedup settings): 7 new rows "
                    "removed as duplicate_of_existing (5 exact, 2 near); the existing set is not rewritten.")
    config["stages"]["against"]["near"] = False
    stage["stats"]["existing_unreadable"] = 3
    _, rest = against_summary(config, stage)
    assert "exact copies only" in rest and "3 existing record(s) could not be read and are not in its index;" in rest
    stage["stats"]["existing_unreadable_first"] = "file t.parquet: the file's footer cannot be read"
    _, rest = against_summary(config, stage)
    assert "3 existing record(s) could not be read and are not in its index (the first: file t.parquet: the file's " \
           "footer cannot be read); the existing set is not rewritten." in rest


@pytest.mark.parametrize("config, stage", [
    ({"stages": {"against": {"path": None}}}, {"enabled": False, "removed": {}, "stats": {}}),
    ({"stages": {}}, None),
    ({}, {"enabled": True, "removed": {}, "stats": {}}),  # (no path: not a run against a set)
    ({"stages": {"against": {"path": "old"}}}, {"enabled": False, "removed": {}, "stats": {}}),
])
def test_a_run_without_a_set_has_no_sentence(config, stage):
    assert against_summary(config, stage) is None


def test_both_report_pages_and_the_card_name_the_set(tmp_path):
    from curation.config import load_config
    from curation.pipeline import run_curation

    old = tmp_path / "old | `curated`"
    run_curation(str(write_jsonl(tmp_path / "old.jsonl", rows(1, 40))), old,
                 load_config(None, {"report": False, "checkpoint": False}))
    out = tmp_path / "new"
    new = write_jsonl(tmp_path / "new.jsonl", rows(1, 40)[::2] + rows(2, 10))
    run_curation(str(new), out, load_config(None, {"checkpoint": False, "stages": {"against": {"path": str(old)}}}))
    said = "new rows removed as duplicate_of_existing (20 exact, 0 near); the existing set is not rewritten."
    markdown = (out / "report.md").read_text(encoding="utf-8")
    line = next(x for x in markdown.splitlines() if x.startswith("Deduplicated against "))
    assert line.startswith(f"Deduplicated against {md_code(str(old))} (40 existing rows;") and line.endswith("20 " + said)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert any(x.startswith(f"Deduplicated against {md_code(str(old))} (40 existing rows;") and x.endswith("20 " + said)
               for x in card.splitlines())
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"deduplicated against <code>{html.escape(str(old))}</code> (40 existing rows;" in page
    assert "20 " + html.escape(said) in page
