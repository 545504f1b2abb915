"""The embedded sample (data/sample.jsonl) and its planted truth (data/sample_truth.json).

The generator is run once per session (in-process, without its slower self-checks); everything else reads
the committed files and checks them against the truth with the repo's own shingling.
"""

from __future__ import annotations

import importlib
import math
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from curation.config import FiltersConfig, NearDedupConfig
from curation.filters import Filters
from curation.minhash.shingles import jaccard, shingles, token_text

DATA = Path(__file__).resolve().parents[2] / "data"
SAMPLE = DATA / "sample.jsonl"
TRUTH = DATA / "sample_truth.json"
ROLES = {"human", "gpt", "system"}
FILTER_REASONS = {
    "filter:answer_too_short", "filter:repeated_lines", "filter:repeated_ngrams", "filter:prompt_answer_ratio",
    "filter:roles_not_alternating", "filter:turn_too_long",
}
MALFORMED_KINDS = {
    "missing_conversations", "conversations_not_list", "empty_conversations", "turn_missing_value", "unknown_role",
    "value_not_string", "no_gpt_turn", "invalid_json",
}


def _load_generator():
    """The generator package (data/samplegen/), imported the way data/make_sample.py imports it."""
    if str(DATA) not in sys.path:
        sys.path.insert(0, str(DATA))
    return importlib.import_module("samplegen.main")


@pytest.fixture(scope="module")
def generator():
    return _load_generator()


@pytest.fixture(scope="module")
def regenerated(generator):
    return generator.generate(verify_truth=False)


@pytest.fixture(scope="module")
def lines() -> list[str]:
    text = SAMPLE.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads(TRUTH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def rows(lines, truth) -> dict[int, dict]:
    """The rows that pass validation, by position."""
    bad = {int(k) for k in truth["malformed_rows"]}
    return {i: json.loads(line) for i, line in enumerate(lines) if i not in bad}


@pytest.fixture(scope="module")
def plan(generator):
    return importlib.import_module("samplegen.plan")


def conv_text(row: dict) -> str:
    return "\n".join(t["value"] for t in row["conversations"])


def norm(value: str) -> str:
    """NFC, runs of spaces/tabs inside a line to one space, strip (what normalization promises)."""
    value = unicodedata.normalize("NFC", value)
    value = "\n".join(re.sub(r"(?<=\S)[ \t]+", " ", line) for line in value.split("\n"))
    return value.strip()


def shingle_set(row: dict) -> set[bytes]:
    return set(shingles(conv_text(row), "word", 5))


# ---- the generator -------------------------------------------------------------------------------


def test_regenerating_gives_the_committed_bytes(regenerated):
    assert regenerated.jsonl == SAMPLE.read_bytes(), "data/sample.jsonl is stale: run `python data/make_sample.py`"
    assert regenerated.truth == TRUTH.read_bytes(), "data/sample_truth.json is stale: run `python data/make_sample.py`"


def test_check_mode_exit_codes(generator, regenerated, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generator, "generate", lambda **kw: regenerated)
    monkeypatch.setattr(generator, "SAMPLE_PATH", tmp_path / "sample.jsonl")
    monkeypatch.setattr(generator, "TRUTH_PATH", tmp_path / "sample_truth.json")
    assert generator.main(["--check"]) == 1  # files missing
    assert generator.main([]) == 0  # writes them
    assert generator.main(["--check"]) == 0
    (tmp_path / "sample.jsonl").write_bytes(regenerated.jsonl.replace(b'"lang": "en"', b'"lang": "fr"', 1))
    assert generator.main(["--check"]) == 1
    assert "sample.jsonl" in capsys.readouterr().err


def test_generator_is_self_contained():
    """Standard library and numpy, plus the config defaults it plants against; never the shared real rows."""
    stdlib = {"__future__", "argparse", "json", "random", "re", "struct", "sys", "unicodedata", "collections",
              "dataclasses", "functools", "itertools", "pathlib", "fractions", "typing"}
    files = sorted((DATA / "samplegen").rglob("*.py")) + [DATA / "make_sample.py"]
    assert len(files) >= 10
    for path in files:
        source = path.read_text(encoding="utf-8")
        imports = {m for m in re.findall(r"^\s*(?:from|import) ([\w.]+)", source, re.M) if not m.startswith(".")}
        assert imports <= stdlib | {"numpy", "curation.config", "samplegen.main"}, (path.name, imports)
        assert "shared" not in source, path.name  # never reads ../shared rows


# ---- shape and counts ----------------------------------------------------------------------------


def test_counts_and_schema(lines, truth, rows):
    assert truth["rows"] == len(lines) >= 3000
    assert len(truth["exact_groups"]) >= 140 and len(truth["near_groups"]) >= 140
    assert len(truth["filter_rows"]) >= 140 and set(truth["filter_rows"].values()) == FILTER_REASONS
    assert len(truth["malformed_rows"]) >= 55 and set(truth["malformed_rows"].values()) == MALFORMED_KINDS
    assert len(truth["low_score_rows"]) >= 20
    for i, row in rows.items():
        assert list(row) == ["conversations", "source", "score", "lang"], i
        assert isinstance(row["score"], float) and row["lang"] == "en"
        assert all(set(t) == {"from", "value"} and t["from"] in ROLES and isinstance(t["value"], str)
                   for t in row["conversations"]), i
    assert Counter(r["source"] for r in rows.values()) == truth["sources"]


def test_sources_are_imbalanced_with_a_thin_one(truth):
    counts = sorted(truth["sources"].values())
    assert len(counts) >= 6
    assert counts[-1] >= 10 * counts[0] and counts[0] < 100


def test_variety(rows, truth):
    planted = {int(k) for k in truth["filter_rows"]}
    clean = [r for i, r in rows.items() if i not in planted]
    roles = [[t["from"] for t in r["conversations"]] for r in clean]
    assert sum(r[0] == "system" for r in roles) >= 200
    human_turns = Counter(r.count("human") for r in roles)
    assert human_turns[1] > human_turns[2] > human_turns[3] > 0
    assert max(len(r) for r in roles) <= 7  # 2-6 turns plus an optional system turn
    chars = [len(conv_text(r)) for r in clean]
    assert 1000 <= sum(chars) / len(chars) <= 1600
    assert max(chars) >= 8000  # a long tail
    low = set(truth["low_score_rows"])
    assert all((rows[i]["score"] < 3.0) == (i in low) for i in rows)
    scores = [rows[i]["score"] for i in rows if i not in low]
    assert min(scores) >= 3.0 and max(scores) <= 5.25 and max(scores) - min(scores) > 1.5


def test_planted_rows_are_spread_through_the_file(truth):
    n = truth["rows"]
    for positions in ([i for g in truth["exact_groups"] for i in g], [i for g in truth["near_groups"] for i in g],
                      [int(k) for k in truth["filter_rows"]], truth["low_score_rows"],
                      [int(k) for k in truth["malformed_rows"]]):
        assert min(positions) < n * 0.1 and max(positions) > n * 0.9


# ---- duplicates ----------------------------------------------------------------------------------


def test_exact_groups(lines, truth, rows):
    kinds = Counter()
    for group in truth["exact_groups"]:
        assert 2 <= len(group) <= 4 and group[0] == min(group)
        orig = rows[group[0]]
        key = [(t["from"], norm(t["value"])) for t in orig["conversations"]]
        for i in group[1:]:
            copy = rows[i]
            assert [(t["from"], norm(t["value"])) for t in copy["conversations"]] == key, i
            assert (copy["source"], copy["score"]) == (orig["source"], orig["score"]), i
            if lines[i] == lines[group[0]]:
                kinds["identical"] += 1
            elif any(unicodedata.is_normalized("NFC", t["value"]) is False for t in copy["conversations"]):
                kinds["nfd"] += 1
            else:
                kinds["whitespace"] += 1
    assert kinds["identical"] >= 20 and kinds["nfd"] >= 10 and kinds["whitespace"] >= 20, kinds


def test_near_groups_above_threshold(truth, rows):
    for group in truth["near_groups"]:
        assert 2 <= len(group) <= 4 and group[0] == min(group)
        orig = rows[group[0]]
        assert len(token_text(conv_text(orig)).split()) >= 150
        orig_sh = shingle_set(orig)
        seen = {token_text(conv_text(orig))}
        for i in group[1:]:
            j = jaccard(orig_sh, shingle_set(rows[i]))
            assert j >= 0.85, f"line {i}: Jaccard {j:.3f} with its original (line {group[0]})"
            canon = token_text(conv_text(rows[i]))
            assert canon not in seen, f"line {i} is not a near but an exact copy"
            seen.add(canon)


def test_independent_rows_are_not_near_duplicates(truth, rows):
    """Rows outside the planted groups (plus one original per group) stay far below Jaccard 0.5."""
    copies = {i for g in truth["exact_groups"] + truth["near_groups"] for i in g[1:]}
    long_rows = {int(k) for k, v in truth["filter_rows"].items() if v == "filter:turn_too_long"}
    pool = sorted(i for i in rows if i not in copies and i not in long_rows)
    sample = random.Random(0).sample(pool, 900)
    sets = {i: shingle_set(rows[i]) for i in sample}
    postings: dict[bytes, list[int]] = {}
    worst = (0.0, None, None)
    for i in sample:
        overlap: Counter = Counter()
        for sh in sets[i]:
            overlap.update(postings.setdefault(sh, []))
            postings[sh].append(i)
        for k, inter in overlap.items():
            j = inter / (len(sets[i]) + len(sets[k]) - inter)
            worst = max(worst, (j, k, i))
    assert worst[0] < 0.5, f"lines {worst[1]} and {worst[2]}: Jaccard {worst[0]:.3f}"


def test_first_questions_are_unique_outside_groups(truth, rows):
    copies = {i for g in truth["exact_groups"] + truth["near_groups"] for i in g[1:]}
    firsts = [next(t["value"] for t in r["conversations"] if t["from"] == "human") for i, r in rows.items() if i not in copies]
    assert len(set(firsts)) == len(firsts)


# ---- rows for the filters and for validation -----------------------------------------------------


def test_filter_rows_show_their_defect(truth, rows):
    groups = {i for g in truth["exact_groups"] + truth["near_groups"] for i in g}
    for key, reason in truth["filter_rows"].items():
        i = int(key)
        assert i not in groups
        turns = rows[i]["conversations"]
        gpt = [t["value"] for t in turns if t["from"] == "gpt"]
        human = [t["value"] for t in turns if t["from"] == "human"]
        roles = [t["from"] for t in turns if t["from"] != "system"]
        alternating = roles == ["human", "gpt"] * (len(roles) // 2)
        assert rows[i]["score"] >= 3.0
        assert max(len(t["value"]) for t in turns) > 32_000 if reason == "filter:turn_too_long" else max(
            len(t["value"]) for t in turns) < 32_000
        assert alternating is (reason != "filter:roles_not_alternating"), i
        ratio = sum(map(len, human)) / sum(map(len, gpt))
        assert (ratio > 20) is (reason == "filter:prompt_answer_ratio"), i
        assert (min(len(g.strip()) for g in gpt) < 8) is (reason == "filter:answer_too_short"), i
        answer_lines = [ln for ln in re.split(r"\n+", gpt[-1]) if ln]
        dup_line_frac = 1 - len(set(answer_lines)) / len(answer_lines)
        assert (dup_line_frac > 0.3) is (reason == "filter:repeated_lines"), i
        words = gpt[-1].split()
        top5 = Counter(zip(*(words[k:] for k in range(5)))).most_common(1)
        assert (bool(top5) and top5[0][1] >= 10) is (reason == "filter:repeated_ngrams"), i


def test_malformed_rows_break_the_schema(lines, truth):
    for key, kind in truth["malformed_rows"].items():
        line = lines[int(key)]
        if kind == "invalid_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
            continue
        obj = json.loads(line)
        conv = obj.get("conversations")
        if kind == "missing_conversations":
            assert "conversations" not in obj
        elif kind == "conversations_not_list":
            assert conv is not None and not isinstance(conv, list)
        elif kind == "empty_conversations":
            assert conv == []
        elif kind == "turn_missing_value":
            assert any("value" not in t for t in conv)
        elif kind == "unknown_role":
            assert any(t["from"] == "robot" for t in conv)
        elif kind == "value_not_string":
            assert any(not isinstance(t["value"], str) for t in conv)
        elif kind == "no_gpt_turn":
            assert conv and all(t["from"] in ("human", "system") and isinstance(t["value"], str) for t in conv)


# ---- the filter defaults the sample is planted against -------------------------------------------

# The generator plants against datatrove's Gopher definitions (clean rows at most 0.75 of each default). The
# repo's filter code measures the top n-gram as the most repeated n-gram by characters over word characters,
# which reads up to ~15% higher, so under it clean rows keep this much headroom below every default:
CLEAN_HEADROOM = 0.9
OTHERS_HEADROOM = 0.95  # a row planted for one filter stays this far below every other default


def scaled_defaults(factor: float) -> FiltersConfig:
    """The default filters with each maximum times ``factor`` and each minimum divided by it (< 1: stricter).

    Integer minima round up, which is exact for integer measures (``chars < 8 / 1.5`` iff ``chars < 6``).
    """
    d = FiltersConfig()
    update = {k: getattr(d, k) * factor for k in ("max_prompt_answer_ratio", "max_repeated_line_fraction",
                                                  "max_repeated_line_char_fraction")}
    update |= {k: math.floor(getattr(d, k) * factor) for k in ("max_chars_per_turn", "max_words_per_turn")}
    update |= {k: math.ceil(getattr(d, k) / factor) for k in ("min_chars_per_turn", "min_answer_chars", "min_answer_words")}
    update["top_ngram_max_fraction"] = {n: f * factor for n, f in d.top_ngram_max_fraction.items()}
    update["dup_ngram_max_fraction"] = {n: f * factor for n, f in d.dup_ngram_max_fraction.items()}
    return FiltersConfig.model_validate(d.model_dump() | update)


def fired(config: FiltersConfig, rows: list[dict]) -> list[set[str]]:
    filters = Filters(config)
    filters.precompute(rows)
    return [{code for code, _ in filters.fired(row)} for row in rows]


def test_generator_plants_against_the_config_defaults(plan):
    """The thresholds come from curation.config; what the generator does not measure must stay as it expects."""
    d = FiltersConfig()
    assert (plan.MIN_ANSWER_CHARS, plan.MAX_CHARS_PER_TURN, plan.MAX_PROMPT_ANSWER_RATIO, plan.TOP_NGRAM_MAX_FRACTION) == (
        d.min_answer_chars, d.max_chars_per_turn, d.max_prompt_answer_ratio, d.top_ngram_max_fraction)
    assert d.min_score is None  # low_score_rows are dropped only with min_score 3.0
    assert d.min_words_per_turn is None and d.min_chars_per_turn <= 1 and d.require_alternation
    near = NearDedupConfig()
    assert (near.shingle, near.ngram, near.text_key) == ("word", plan.SHINGLE_NGRAM, "conversation")
    assert plan.INDEPENDENT_MAX_JACCARD < near.threshold < plan.NEAR_MIN_JACCARD


def test_clean_rows_pass_the_default_filters_with_headroom(rows, truth):
    """Every row not planted for a filter passes each default tightened to CLEAN_HEADROOM (repo's filter code)."""
    clean = [i for i in rows if str(i) not in truth["filter_rows"]]
    failing = {i: codes for i, codes in zip(clean, fired(scaled_defaults(CLEAN_HEADROOM), [rows[i] for i in clean])) if codes}
    assert not failing, f"{len(failing)} clean rows within {1 - CLEAN_HEADROOM:.0%} of a default: {list(failing.items())[:5]}"


def test_planted_filter_rows_fail_their_default_by_its_margin(rows, truth, generator):
    """Each planted row still fails its filter with that default loosened by the generator's margin, and fails
    nothing else even with every default tightened to OTHERS_HEADROOM."""
    measures = importlib.import_module("samplegen.measures")
    by_reason: dict[str, list[int]] = {}
    for line, reason in truth["filter_rows"].items():
        by_reason.setdefault(reason, []).append(int(line))
    for reason, lines in sorted(by_reason.items()):
        code = reason.removeprefix("filter:")
        margin = measures.FAIL_MARGIN[measures.FILTER_KEYS[reason]]
        assert margin > 1
        planted = [rows[i] for i in lines]
        missed = [i for i, codes in zip(lines, fired(scaled_defaults(margin), planted)) if code not in codes]
        assert not missed, f"{reason}: lines {missed[:5]} pass with the default loosened {margin}x"
        also = {i: codes - {code} for i, codes in zip(lines, fired(scaled_defaults(OTHERS_HEADROOM), planted))
                if codes - {code}}
        assert not also, f"{reason}: rows near another default too: {list(also.items())[:5]}"
