"""Hostile text never loses a run: every line is kept (repaired, and the row says so) or quarantined with its
reason; nothing is lost, nothing raises. End to end on a file of every hostile line, and as a property of the
reader + validation on generated blocks."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.contract import SPLITS, read_manifest, read_quarantine, read_removed
from curation.readers.jsonl import parse_block
from curation.validate import Validate, ValidateConfig
from tests.curation.hostile import hostile_jsonl, hostile_row

ANSWER = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf of a plant."


def line(question: str, answer: str = ANSWER, **extra) -> str:
    row = {"conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}], **extra}
    return json.dumps(row)


def hostile_file() -> tuple[bytes, dict[int, str]]:
    """A JSONL file of hostile lines, and what must become of each (by line number)."""
    lines = [
        ("\ufeff" + line("How do leaves make food? (first line, after a byte-order mark)"), "kept"),
        (line("What does \\ud800 mean in a scraped page?").replace("\\\\ud800", "\\ud800"), "repaired:lone_surrogate"),
        (line("Why is there a NUL \\u0000 here and a bell \\u0007?").replace("\\\\u", "\\u"), "repaired:control_chars"),
        (line("A raw control character \x01 inside the string: how is it read?"), "repaired:control_chars"),
        (line("Windows line ends come with carriage returns, do they matter?") + "\r", "kept"),
        (line("A huge answer follows, is it kept?", "word " * 600_000), "filter"),
        (line("What if the score is not a number at all?", score=float("nan")), "repaired:not_finite"),
        (line("And an infinite score?", score=float("inf")), "repaired:not_finite"),
        (line("And a score written as text?", score="4.5"), "repaired:number_from_text"),
        (line("And a score that is a word?", score="high"), "quarantine"),
        (line("Mixed types: source is a number here", source=7), "repaired:number_as_text"),
        (line("Mixed types: source is a list here", source=["a"]), "quarantine"),
        ("\ufeff" + line("A byte-order mark in front of a later line (files concatenated)?"), "repaired:bom"),
        ('{"conversations": [{"from": "human", "value": "cut', "quarantine"),
        ("\xff\xfe not UTF-8 at all", "quarantine"),
        ("", "blank"),
        (line("The last line, after all of that, still arrives?", extra=[1, "two", None]), "kept"),
    ]
    data = b""
    expect = {}
    for n, (text, what) in enumerate(lines, start=1):
        raw = text.encode("utf-8", "surrogatepass") if "\xff" not in text else b"\xff\xfe not UTF-8 at all"
        data += raw + b"\n"
        expect[n] = what
    # JSON's NaN / Infinity literals as a real producer writes them (json.dumps writes these too)
    return data, expect


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from curation.config import load_config
    from curation.pipeline import run_curation

    folder = tmp_path_factory.mktemp("hostile")
    data, expect = hostile_file()
    path = folder / "hostile.jsonl"
    path.write_bytes(data)
    out = folder / "out"
    run_curation(str(path), out, load_config(None, {"report": False, "checkpoint": False,
                                                   "stages": {"near_dedup": {"enabled": False}}}))
    return out, expect


def rows_by_question(out):
    kept = pa.concat_tables([pa.parquet.read_table(out / f"{s}.parquet") for s in SPLITS])
    return {r["conversations"][0]["value"]: r for r in kept.to_pylist()}


def test_nothing_is_lost(hostile_run):
    out, expect = hostile_run
    manifest = read_manifest(out)
    acc = manifest["accounting"]
    assert acc["balanced"] and acc["input_rows"] == sum(1 for w in expect.values() if w != "blank")
    assert acc["quarantined"] == sum(1 for w in expect.values() if w == "quarantine")


def test_the_first_line_after_a_bom_is_kept(hostile_run):
    out, _ = hostile_run
    assert any(q.startswith("How do leaves make food?") for q in rows_by_question(out))


def test_repaired_rows_are_kept_and_say_what_was_repaired(hostile_run):
    out, expect = hostile_run
    rows = rows_by_question(out)
    repaired = {q: json.loads(r["repairs"]) for q, r in rows.items() if r.get("repairs")}
    kinds = sorted(k for r in repaired.values() for k in r)
    wanted = sorted(w.split(":")[1] for w in expect.values() if w.startswith("repaired:"))
    assert kinds == wanted
    surrogate = next(q for q in rows if q.startswith("What does"))
    assert "\ufffd" in surrogate
    assert not any(c in q for q in rows for c in "\x00\x01\x07")
    nan_row = next(r for q, r in rows.items() if q.startswith("What if the score"))
    assert nan_row["score"] is None and json.loads(nan_row["repairs"]) == {"not_finite": ["score"]}
    assert next(r for q, r in rows.items() if q.startswith("And a score written"))["score"] == 4.5


def test_the_huge_turn_is_judged_by_the_filters_not_the_reader(hostile_run):
    out, _ = hostile_run
    removed = read_removed(out).to_pylist()
    assert [r["reason"] for r in removed if r["conversations"][0]["value"].startswith("A huge answer")] == ["filter:turn_too_long"]


def test_quarantine_names_each_reason_in_one_line(hostile_run):
    out, expect = hostile_run
    entries = read_quarantine(out)
    lines = sorted(e["position"]["line"] for e in entries)
    assert lines == [n for n, w in expect.items() if w == "quarantine"]
    for e in entries:
        assert e["error"] and "\n" not in e["error"]
    errors = {e["position"]["line"]: e["error"] for e in entries}
    assert errors[10] == "'score' is str, expected a number"
    assert errors[12] == "'source' is list, expected a string"
    assert errors[15].startswith("not UTF-8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_jsonl)
def test_reader_and_validation_account_for_every_line(block):
    """Any hostile block: every non-blank line is a row or a quarantine entry, exactly once; nothing raises."""
    batch, nlines, records = parse_block(block, "h.jsonl", 1, 0)
    if batch is None:
        assert records == 0
        return
    out = Validate(ValidateConfig()).process(batch)
    kept = out.batch.column("_pos").to_pylist()
    quarantined = out.quarantine.column("_pos").to_pylist() if out.quarantine is not None else []
    assert sorted(kept + quarantined) == batch.column("_pos").to_pylist()
    for row in out.batch.to_pylist():
        json.dumps(row, ensure_ascii=False, allow_nan=False).encode("utf-8")  # valid text, no NaN left
    for entry in out.quarantine.to_pylist() if out.quarantine is not None else []:
        assert entry["error"] and "\n" not in entry["error"]


@st.composite
def hostile_document(draw) -> tuple[bytes, int]:
    """A ``.json`` array of hostile rows as a sloppy producer writes it (escaped or raw characters, a lone
    surrogate raw as invalid UTF-8, a byte-order mark, pretty-printed or not) and how many rows it holds."""
    rows = draw(st.lists(hostile_row, min_size=1, max_size=8))
    ascii_only, indent = draw(st.booleans()), draw(st.sampled_from([None, 2]))
    parts = [json.dumps(r, ensure_ascii=ascii_only, allow_nan=True, indent=indent).encode("utf-8", "surrogatepass")
             for r in rows]
    text = b"[" + b",\n".join(parts) + b"]"
    return ("\ufeff".encode() if draw(st.booleans()) else b"") + text, len(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(hostile_document())
def test_a_hostile_json_document_accounts_for_every_row(tmp_path, document):
    """Any hostile ``.json`` array: its records are read (or the file refused in one line), and validation puts
    each in a row or a quarantine entry exactly once, with text UTF-8 can hold (a quarantined record keeps a lone
    surrogate escape as the escape)."""
    from curation.readers import InputError, open_input

    data, n = document
    path = tmp_path / "doc.json"
    path.write_bytes(data)
    try:
        batches = list(open_input(str(path)).batches())
    except InputError as exc:  # (every row no UTF-8: the file is in another encoding)
        assert "\n" not in str(exc) and "not UTF-8" in str(exc)
        return
    assert sum(b.num_rows for b in batches) == n
    for batch in batches:
        out = Validate(ValidateConfig()).process(batch)
        kept = out.batch.column("_pos").to_pylist()
        quarantined = out.quarantine.column("_pos").to_pylist() if out.quarantine is not None else []
        assert sorted(kept + quarantined) == batch.column("_pos").to_pylist()
        for entry in out.quarantine.to_pylist() if out.quarantine is not None else []:
            assert entry["error"] and "\n" not in entry["error"]
            json.loads(entry["raw"])
            entry["raw"].encode("utf-8")


# an escaped control character (U+0000-U+001F but the newline) not itself escaped by a backslash before it
_ESCAPED_CONTROL = re.compile(r"(?<!\\)((?:\\\\)*)\\u00(0[0-9a-f]|1[0-9a-f])", re.IGNORECASE)


def raw_controls(text: str) -> str:
    """JSON text with its escaped control characters written raw, as sloppy producers write them (Python's
    strict ``json`` and Arrow refuse them; ``strict=False`` reads them)."""
    def raw(m: re.Match) -> str:
        char = chr(int(m.group(2), 16))
        return m.group(0) if char == "\n" else m.group(1) + char
    return _ESCAPED_CONTROL.sub(raw, text)


def _validated_lines(lines: list[str]) -> tuple[list, list]:
    block = "".join(line + "\n" for line in lines).encode("utf-8")
    batch, _, _ = parse_block(block, "h.jsonl", 1, 0)
    out = Validate(ValidateConfig()).process(batch)
    keep = ("conversations", "source", "score", "repairs")
    kept = [{k: r.get(k) for k in keep} for r in out.batch.to_pylist()]
    quarantined = out.quarantine.column("error").to_pylist() if out.quarantine is not None else []
    return kept, quarantined


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_row, min_size=1, max_size=6))
def test_raw_control_characters_read_as_their_escapes(rows):
    """A tab, a NUL, a bell written raw inside a JSON string (not escaped) is the same row as the escaped one:
    kept and repaired as it is, never quarantined as "not valid JSON"."""
    escaped = [json.dumps(r) for r in rows]
    assert _validated_lines([raw_controls(t) for t in escaped]) == _validated_lines(escaped)


def test_raw_control_characters_in_a_file_are_repaired_not_quarantined(tmp_path):
    from curation.config import load_config
    from curation.pipeline import run_curation

    questions = [f"Question {i} has a raw {name} in it, how is it read?" for i, name in enumerate(["tab", "NUL", "bell"])]
    lines = [raw_controls(line(q.replace(" in it", " \\u%04x in it" % code)).replace("\\\\u", "\\u"))
             for q, code in zip(questions, (0x09, 0x00, 0x07))]
    path = tmp_path / "raw.jsonl"
    path.write_bytes("".join(t + "\n" for t in lines).encode("utf-8"))
    assert b"\x00" in path.read_bytes() and b"\\u0000" not in path.read_bytes()
    out = tmp_path / "out"
    run_curation(str(path), out, load_config(None, {"report": False, "checkpoint": False}))
    assert read_manifest(out)["accounting"]["quarantined"] == 0
    repairs = {q.split(" has")[0]: r["repairs"] for q, r in rows_by_question(out).items()}
    assert repairs == {"Question 0": None, "Question 1": '{"control_chars": ["conversations"]}',
                       "Question 2": '{"control_chars": ["conversations"]}'}


_NAME_HAZARD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(["a", "a\x00", "\ud800", "\udfff", "\x07b", "b", "c\udc00", "k\x1f"]),
                                st.just(0), min_size=1, max_size=5), min_size=1, max_size=4))
def test_keys_that_need_repair_keep_every_value_under_clean_names(extra_keys):
    """Column names with control characters or lone surrogates (on Arrow's path and the record path alike) are
    repaired; two keys repaired to one name, or onto a key as given, both keep their value; the row notes it."""
    rows = [{"conversations": [{"from": "human", "value": f"question {i}"}, {"from": "gpt", "value": "an answer"}],
             **{k: f"v{i}-{j}" for j, k in enumerate(keys)}} for i, keys in enumerate(extra_keys)]
    block = "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
    batch, _, _ = parse_block(block, "k.jsonl", 1, 0)
    out = Validate(ValidateConfig()).process(batch)
    assert out.quarantine is None or out.quarantine.num_rows == 0
    core = {"id", "conversations", "source", "score", "repairs", "original_conversations", "cluster_id", "origin_id",
            "augmentation"}
    for i, (row, keys) in enumerate(zip(out.batch.to_pylist(), extra_keys)):
        extras = {k: v for k, v in row.items() if k not in core and not k.startswith("_") and v is not None}
        assert sorted(extras.values()) == sorted(f"v{i}-{j}" for j in range(len(keys)))
        assert not any(_NAME_HAZARD.search(k) for k in extras)
        if any(_NAME_HAZARD.search(k) for k in keys):
            assert row["repairs"] is not None
