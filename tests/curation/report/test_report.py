"""`tome report`: the curation report's facts, its HTML and Markdown, determinism, odd folders, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation.config import load_config
from tomecraft.config_files import deep_merge as _deep_merge
from curation.contract import read_manifest
from curation.pipeline import run_curation
from curation.report import REPORT_HTML, REPORT_MD, build_report, write_report
from curation.report.facts import gather
from curation.report.word_diff import side_by_side

SOURCES = ("alpha", "alpha", "alpha", "alpha", "beta", "beta", "gamma")  # imbalanced: alpha has 4/7


def config(**overrides):
    base = {"stages": {"near_dedup": {"backend": "datasketch"}, "balance": {"max_per_source": 60}}}
    return load_config(None, _deep_merge(base, overrides))


def rich_rows(alpaca: Path, n: int = 200) -> list:
    """Real rows with planted cases: three sources, scores, exact and near duplicates, short answers, bad lines."""
    base = [json.loads(line) for line in alpaca.read_text(encoding="utf-8").splitlines()[:n]]
    rows: list = []
    for i, row in enumerate(base):
        rows.append({"conversations": row["conversations"], "source": SOURCES[i % len(SOURCES)],
                     "score": round(3.0 + (i % 20) / 10, 2)})
    long_ones = [r for r in rows if len(r["conversations"][-1]["value"].split()) >= 80][:6]
    for k, r in enumerate(long_ones):  # near duplicates: one word changed near the end, lower score
        turns = [dict(t) for t in r["conversations"]]
        words = turns[-1]["value"].split(" ")
        words[-2] = "EDITED"
        turns[-1]["value"] = " ".join(words)
        rows.append({"conversations": turns, "source": r["source"], "score": 1.0 + k / 10})
    for r in rows[10:14]:  # exact duplicates, with a trailing space that normalization removes
        turns = [dict(t) for t in r["conversations"]]
        turns[0]["value"] += " "
        rows.append({"conversations": turns, "source": r["source"], "score": 0.5})
    for k in range(3):  # near-empty answers
        rows.append({"conversations": [{"from": "human", "value": f"Say something about item {k}."},
                                       {"from": "gpt", "value": "Ok."}], "source": "beta", "score": 2.0})
    rows += ["this line is not json", {"conversations": "not a list"}, {"conversations": []}]
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return path


@pytest.fixture(scope="module")
def rich_folder(tmp_path_factory, alpaca_path) -> Path:
    tmp = tmp_path_factory.mktemp("rich")
    src = write_jsonl(tmp / "rich.jsonl", rich_rows(alpaca_path))
    out = tmp / "out"
    run_curation(str(src), out, config())  # report: true by default, so the pipeline writes it
    return out


def test_curate_writes_the_report_by_default(rich_folder):
    assert (rich_folder / REPORT_HTML).stat().st_size > 10_000
    assert (rich_folder / REPORT_MD).read_text(encoding="utf-8").startswith("# Curation report")


def test_facts_match_the_manifest_and_the_files(rich_folder):
    m = read_manifest(rich_folder)
    f = gather(rich_folder)
    acc = m["accounting"]
    assert f.splits == {k: m["outputs"][k]["rows"] for k in ("train", "validation", "test")}
    # before = every validated input row; after = every row in the splits
    assert f.before.conversations == acc["input_rows"] - acc["quarantined"]
    assert f.after.conversations == acc["in_splits"]
    assert f.before.chars_per_turn.size == int(f.before.turns_per_conversation.sum())
    assert dict(f.removed_by_reason) == m["removed_by_reason"]
    assert {"exact_duplicate", "near_duplicate", "filter:answer_too_short", "balance:source_cap"} <= set(f.removed_by_reason)
    # sources: input counts add up, balancing capped alpha at 60
    assert sum(s.input for s in f.sources) == f.before.conversations
    alpha = next(s for s in f.sources if s.source == "alpha")
    assert alpha.before_balance > 60 and alpha.after_balance == 60 and alpha.final == 60
    assert sum(s.final for s in f.sources) == acc["in_splits"]
    # clusters from the dedup stages, scores of every kept and removed row
    near = next(s for s in m["stages"] if s["name"] == "near_dedup")
    assert sum(f.clusters["near_dedup"].values()) == near["stats"]["clusters"] > 0
    assert f.scores_kept.size == acc["in_splits"] and f.scores_removed.size == acc["removed"]
    assert sorted(f.quarantine_errors.values()) and sum(f.quarantine_errors.values()) == acc["quarantined"] == 3
    assert f.review is None and f.augmentation == {}


def test_duplicate_examples_stand_beside_their_kept_row(rich_folder):
    f = gather(rich_folder)
    for reason in ("exact_duplicate", "near_duplicate"):
        examples = f.examples[reason]
        assert 1 <= len(examples) <= 3
        for ex in examples:
            assert ex.kept is not None and ex.kept.id == ex.duplicate_of != ex.row.id
            assert ex.kept.where in ("train", "validation", "test") or ex.kept.where.startswith("removed by")
    near = f.examples["near_duplicate"][0]
    assert near.details and 0.8 <= near.details["similarity"] < 1.0
    page = (rich_folder / REPORT_HTML).read_text(encoding="utf-8")
    assert '<mark class="only-removed">EDITED</mark>' in page  # the planted edit is marked on the removed side
    assert f"kept <code>{near.duplicate_of}</code>" in page
    short = f.examples["filter:answer_too_short"][0]
    assert short.kept is None and short.details["min"] == 8


def test_kept_row_removed_later_is_found_in_removed(tmp_path, alpaca_path):
    base = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:30]]
    short = {"conversations": [{"from": "human", "value": "Name a colour."}, {"from": "gpt", "value": "Red."}]}
    rows = [dict(r, source="s") for r in base] + [short, short]  # the pair's kept row then fails the filters
    out = tmp_path / "out"
    run_curation(str(write_jsonl(tmp_path / "in.jsonl", rows)), out, config())
    ex = gather(out).examples["exact_duplicate"][0]
    assert ex.kept is not None and ex.kept.where == "removed by filters (filter:answer_too_short)"


def test_html_is_self_contained_and_has_every_section(rich_folder):
    page = (rich_folder / REPORT_HTML).read_text(encoding="utf-8")
    for section in ("funnel", "removals", "lengths", "sources", "clusters", "scores", "augmentation", "review",
                    "examples", "quarantine", "config"):
        assert f'<section id="{section}">' in page
    assert page.count("<svg") >= 6  # funnel, removals, lengths, sources, clusters, scores
    assert "<script" not in page and "<link" not in page and " src=" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert "this line is not json" in page  # a quarantined line is shown
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids of the inlined charts must not collide"


def test_markdown_numbers(rich_folder):
    m = read_manifest(rich_folder)
    md = (rich_folder / REPORT_MD).read_text(encoding="utf-8")
    acc = m["accounting"]
    assert f"**{acc['input_rows']:,}** input rows" in md
    for reason, n in m["removed_by_reason"].items():
        assert re.search(rf"\| {re.escape(reason)} \| \w+ \| {n:,} \|", md), reason
    assert "| alpha |" in md


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_same_input_same_bytes(tmp_path, alpaca_path):
    src = write_jsonl(tmp_path / "in.jsonl", rich_rows(alpaca_path, n=80))
    pages = []
    for run in ("a", "b"):
        out = tmp_path / run / "out"  # same folder name: the name is the page's title
        run_curation(str(src), out, config(report=False))
        pages.append(build_report(out))
    assert pages[0] == pages[1]
    html_path, md_path = write_report(tmp_path / "a" / "out")
    assert (html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")) == pages[0]


def test_minimal_folder_without_optional_parts(tmp_path, alpaca_path):
    """All optional stages off, no scores, nothing removed, nothing quarantined: the report still writes."""
    base = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:12]]
    rows = [{"conversations": r["conversations"]} for r in base]
    off = {s: {"enabled": False} for s in ("normalize", "exact_dedup", "near_dedup", "filters", "balance")}
    out = tmp_path / "out"
    run_curation(str(write_jsonl(tmp_path / "in.jsonl", rows)), out, config(stages=off))
    page_path, md_path = write_report(out)
    page = page_path.read_text(encoding="utf-8")
    assert "No row was removed or quarantined." in page
    assert "No row has a <code>score</code>." in page
    assert "Augmentation was off" in page and "No review verdicts" in page
    assert "No dedup stage ran." in page
    assert "Source balancing was off." in page
    assert "12" in md_path.read_text(encoding="utf-8")


def _rewrite(path: Path, fn) -> None:
    table = pq.read_table(path)
    pq.write_table(fn(table), path)


def test_review_and_augmentation_columns_are_reported(tmp_path, rich_folder):
    import shutil

    out = tmp_path / "reviewed"
    shutil.copytree(rich_folder, out)

    def add(table: pa.Table) -> pa.Table:
        n = table.num_rows
        verdicts = [("keep", "fix", "discard", None)[i % 4] for i in range(n)]
        quality = [None if v is None else float(1 + i % 5) for i, v in enumerate(verdicts)]
        aug = [json.dumps({"method": "synonym", "p": 0.1}) if i < 5 else None for i in range(n)]
        table = table.drop_columns(["augmentation"]).append_column("augmentation", pa.array(aug, pa.string()))
        return (table.append_column("quality", pa.array(quality, pa.float64()))
                .append_column("review_verdict", pa.array(verdicts, pa.string()))
                .append_column("review_original_answer", pa.array([f"free text {i}" for i in range(n)], pa.string())))

    _rewrite(out / "train.parquet", add)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["review"] = {"annotators": ["ann-b", "ann-a"], "verdicts": {"keep": 7, "fix": 2, "discard": 1},
                          "applied": {"kept": 7, "fixed": 2, "discarded": 1},
                          "agreement": {"verdict": {"records": 10, "percent_agreement": 0.8, "fleiss_kappa": 0.61,
                                                    "cohen_kappa_pairs": [{"a": 1}]}}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    f = gather(out)
    assert f.review is not None
    assert f.review.verdicts == {"keep": 7, "fix": 2, "discard": 1}
    assert f.review.annotators == ["ann-a", "ann-b"]
    assert "review_original_answer" not in f.review.columns  # free text is not a verdict
    assert f.review.quality_kept.size == sum(1 for i in range(f.splits["train"]) if i % 4 != 3)
    assert f.review.agreement["verdict"] == {"records": 10, "percent_agreement": 0.8, "fleiss_kappa": 0.61}
    assert f.augmentation == {"synonym": 5}
    page, md = build_report(out)
    assert "ann-a, ann-b" in page and "0.610" in page and "synonym" in page
    assert page.count("<svg") >= 7  # the quality chart joins
    assert "## Review verdicts" in md and "## Augmentation" in md


def test_word_diff_marks_only_the_differences():
    left, right, ratio = side_by_side("the cat sat on the mat", "the cat sat on a mat")
    assert '<mark class="only-removed">the</mark>' in left and '<mark class="only-kept">a</mark>' in right
    assert left.count("<mark") == 1 and right.count("<mark") == 1
    assert 0.8 < ratio < 1.0
    same = side_by_side("x <y> & z", "x <y> & z")
    assert same[2] == 1.0 and "<mark" not in same[0] and "&lt;y&gt;" in same[0]
    long_left, _, _ = side_by_side("word " * 1000, "word " * 1000, limit=100)
    assert "more characters" in long_left


def test_cli(tmp_path, rich_folder):
    from tomecraft.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0 and "report.html" in result.output
    missing = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a folder" in missing.output
    (rich_folder / REPORT_HTML).unlink()
    ok = runner.invoke(app, ["report", str(rich_folder)])
    assert ok.exit_code == 0, ok.output
    assert (rich_folder / REPORT_HTML).exists()


def test_word_diff_keeps_a_late_change_in_view():
    text = " ".join(f"w{i}" for i in range(600))
    edited = text.replace("w590", "CHANGED")
    left, right, _ = side_by_side(edited, text, limit=500)
    assert '<mark class="only-removed">CHANGED</mark>' in left and '<mark class="only-kept">w590</mark>' in right
    assert "unchanged characters" in left and len(left) < 1500
