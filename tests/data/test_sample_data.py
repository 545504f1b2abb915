"""The embedded sample (data/sample.jsonl) and its planted truth (data/sample_truth.json).

Neither file is stored: the generator writes them on first use (``tomecraft.resources.ensure_sample``). Its
bytes are pinned here (``SAMPLE_SHA256``), so every machine curates the same sample and the outputs recorded
on it stay comparable. The generator is run once per session (in-process, without its slower self-checks);
everything else reads the generated files and checks them against the truth with the repo's own shingling.
"""

from __future__ import annotations

import hashlib
import importlib
import ipaddress
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
QUALITY_KEYS = {
    "language_rows", "translation_rows", "language_mismatch_rows", "contaminated_rows", "contamination_near_miss_rows",
    "pii_rows", "pii_values", "pii_near_miss_rows", "pii_near_miss_values",
}
PII_TYPES = {"email", "phone", "ipv4", "ipv6", "credit_card", "iban", "api_key", "private_key", "url_credentials"}
NEAR_MISS_KINDS = {"version_number", "date", "isbn", "order_id_phone_like", "order_id_card_like", "luhn_invalid_number"}
# The sample every machine generates; a change to the generator (or to a filter default it plants against) that
# changes these is a change of the embedded sample: record the new hashes on purpose.
SAMPLE_SHA256 = {
    "sample.jsonl": "3789e8fe4177d48f7602c92899ec670c06fd0f4e94c306fca48b71666d027f62",
    "sample_truth.json": "0fd801513b3cf82a2068dbc82eb282e161c77260e07397e9690a006a5b57b3ac",
}
# The sample before the quality plants were appended (what `python data/make_sample.py --base` writes).
BASE_SHA256 = {
    "sample.jsonl": "e1bd89fee676855e269597858ada057d255e750e7bf17124979d14cdcb0cc95c",
    "sample_truth.json": "16b6baa76cd93c8b1cdb86c75a380617c208591110e25b4458f0721dcb22756b",
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


def expected_lang(truth: dict, line: int) -> str:
    """The ``lang`` column: the language of the first question (English outside the language plants)."""
    key = str(line)
    if key in truth.get("language_rows", {}):
        return truth["language_rows"][key]
    for name in ("translation_rows", "language_mismatch_rows"):
        if key in truth.get(name, {}):
            return truth[name][key][0]
    return "en"


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


@pytest.mark.slow  # (4-9 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_the_generator_gives_the_pinned_bytes_and_the_files_on_disk_are_its(regenerated):
    assert hashlib.sha256(regenerated.jsonl).hexdigest() == SAMPLE_SHA256["sample.jsonl"], (
        "the embedded sample changed; if on purpose, record the new hashes in SAMPLE_SHA256")
    assert hashlib.sha256(regenerated.truth).hexdigest() == SAMPLE_SHA256["sample_truth.json"]
    assert regenerated.jsonl == SAMPLE.read_bytes(), "data/sample.jsonl is stale: run `python data/make_sample.py`"
    assert regenerated.truth == TRUTH.read_bytes(), "data/sample_truth.json is stale: run `python data/make_sample.py`"


@pytest.mark.slow  # (4-9 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_the_sample_is_generated_on_first_use(tmp_path, regenerated):
    from tomecraft.resources import ensure_sample

    path = ensure_sample(tmp_path / "fresh" / "sample.jsonl")
    assert path.read_bytes() == regenerated.jsonl
    assert path.with_name("sample_truth.json").read_bytes() == regenerated.truth
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.slow  # (the generator's 6 s run, shared with the two above)
def test_base_sample_is_an_unchanged_prefix(regenerated):
    """The rows before the quality plants, and their truth, are the sample as it was before those were added
    (``python data/make_sample.py --base``); recorded outputs of the pipeline on it stay comparable."""
    assert SAMPLE.read_bytes().startswith(regenerated.base_jsonl)
    assert hashlib.sha256(regenerated.base_jsonl).hexdigest() == BASE_SHA256["sample.jsonl"], (
        "the base sample changed; if on purpose (a filter default moved), record the new hashes in BASE_SHA256")
    assert hashlib.sha256(regenerated.base_truth).hexdigest() == BASE_SHA256["sample_truth.json"]
    base, full = json.loads(regenerated.base_truth), json.loads(TRUTH.read_text(encoding="utf-8"))
    for key, value in base.items():
        if key not in ("rows", "sources", "notes"):
            assert full[key] == value, key
    assert set(full) - set(base) == QUALITY_KEYS


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
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
    """Standard library and numpy, plus the config defaults and the eval prompts it plants against; never real rows."""
    stdlib = {"__future__", "argparse", "json", "random", "re", "struct", "sys", "unicodedata", "collections",
              "dataclasses", "functools", "itertools", "pathlib", "fractions", "typing", "datetime", "ipaddress", "string"}
    files = sorted((DATA / "samplegen").rglob("*.py")) + [DATA / "make_sample.py"]
    assert len(files) >= 10
    for path in files:
        source = path.read_text(encoding="utf-8")
        imports = {m for m in re.findall(r"^\s*(?:from|import) ([\w.]+)", source, re.M) if not m.startswith(".")}
        assert imports <= stdlib | {"numpy", "curation.config", "evaluation.prompt_sets", "samplegen.main"}, (path.name, imports)
        assert not re.search(r"\.\./shared|shared/data|SHARED_ROWS|load_dataset|hf_hub", source), path.name  # no real rows


# ---- shape and counts ----------------------------------------------------------------------------


def test_counts_and_schema(lines, truth, rows):
    assert truth["rows"] == len(lines) >= 3000
    assert len(truth["exact_groups"]) >= 140 and len(truth["near_groups"]) >= 140
    assert len(truth["filter_rows"]) >= 140 and set(truth["filter_rows"].values()) == FILTER_REASONS
    assert len(truth["malformed_rows"]) >= 55 and set(truth["malformed_rows"].values()) == MALFORMED_KINDS
    assert len(truth["low_score_rows"]) >= 20
    for i, row in rows.items():
        assert list(row) == ["conversations", "source", "score", "lang"], i
        assert isinstance(row["score"], float) and row["lang"] == expected_lang(truth, i), i
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


# ---- quality plants: languages, contamination, personal data -------------------------------------

ENGLISH = set("the and of to that it you for with are this have when because your can not at be which would there they".split())


def english_share(text: str) -> float:
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sum(w in ENGLISH for w in words) / max(len(words), 1)


def planted_lines(truth: dict) -> dict[int, str]:
    out: dict[int, str] = {}
    for key in QUALITY_KEYS - {"pii_values", "pii_near_miss_values"}:
        for line in truth[key]:
            assert int(line) not in out, f"line {line} is in {key} and {out[int(line)]}"
            out[int(line)] = key
    return out


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_quality_plants_are_clean_rows_after_the_base(truth, rows, regenerated):
    planted = planted_lines(truth)
    base_rows = regenerated.base_jsonl.count(b"\n")
    assert 150 <= len(planted) <= 250 and min(planted) == base_rows and max(planted) == truth["rows"] - 1
    others = {i for g in truth["exact_groups"] + truth["near_groups"] for i in g} | {int(k) for k in truth["filter_rows"]}
    others |= {int(k) for k in truth["malformed_rows"]} | set(truth["low_score_rows"])
    assert not others & set(planted)
    assert all(i in rows and rows[i]["score"] >= 3.0 for i in planted)


def test_language_rows(truth, rows):
    assert set(truth["language_rows"].values()) >= {"es", "fr", "de", "it", "pt", "nl"}
    assert min(Counter(truth["language_rows"].values()).values()) >= 8
    pairs = list(truth["translation_rows"].values()) + list(truth["language_mismatch_rows"].values())
    assert len(truth["translation_rows"]) >= 12 and len(truth["language_mismatch_rows"]) >= 10
    assert all(a != b for a, b in pairs) and {"en"} < {lang for pair in pairs for lang in pair}
    for key in ("language_rows", "translation_rows", "language_mismatch_rows"):
        for line, label in truth[key].items():
            turns = [t for t in rows[int(line)]["conversations"] if t["from"] != "system"]
            langs = [label] * len(turns) if key == "language_rows" else [
                label[0] if t["from"] == "human" else label[1] for t in turns]
            for t, lang in zip(turns, langs):
                assert len(t["value"]) >= 50, (line, t["value"])
                share = english_share(t["value"])
                assert share > 0.05 if lang == "en" else share < 0.03, (line, lang, round(share, 3), t["value"][:80])
    for line in truth["translation_rows"]:  # the prompt asks for a translation; a mismatch prompt never does
        assert re.search(r"(?i)tradu|transl|übersetz|vertal", rows[int(line)]["conversations"][0]["value"])
    for line in truth["language_mismatch_rows"]:
        assert not re.search(r"(?i)tradu|transl|übersetz|vertal", rows[int(line)]["conversations"][0]["value"])


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text.lower())
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def test_contaminated_rows_hold_an_eval_prompt_verbatim_and_no_other_row_does(truth, rows):
    from evaluation.prompt_sets import default_prompt_set

    prompts = {p.id: p.text for p in default_prompt_set()}
    assert Counter(truth["contaminated_rows"].values()) == Counter({pid: 8 for pid in prompts})
    assert set(truth["contamination_near_miss_rows"].values()) == set(prompts)
    for line, pid in truth["contaminated_rows"].items():
        turns = rows[int(line)]["conversations"]
        human = [t["value"] for t in turns if t["from"] == "human"]
        assert any(prompts[pid] in h and len(h) > len(prompts[pid]) for h in human), line  # inside a longer prompt
    grams = {n: set().union(*(word_ngrams(p, n) for p in prompts.values())) for n in (8, 13)}
    for i, row in rows.items():
        text = conv_text(row)
        if str(i) in truth["contaminated_rows"]:
            assert word_ngrams(text, 13) & grams[13]
        else:
            assert not word_ngrams(text, 8) & grams[8], f"line {i} shares a word 8-gram with an eval prompt"


def luhn(digits: str) -> bool:
    total = sum(int(d) if k % 2 == 0 else (2 * int(d) - 9 if int(d) > 4 else 2 * int(d))
                for k, d in enumerate(reversed(digits)))
    return total % 10 == 0


def iban_valid(value: str) -> bool:
    s = value.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def test_pii_values_are_well_formed_and_in_their_rows(truth, rows):
    assert set(truth["pii_rows"]) == set(truth["pii_values"])
    per_type = Counter(kind for values in truth["pii_values"].values() for kind, _ in values)
    assert set(per_type) == PII_TYPES and min(per_type.values()) >= 5, per_type
    for line, values in truth["pii_values"].items():
        text = conv_text(rows[int(line)])
        assert truth["pii_rows"][line] == sorted({kind for kind, _ in values})
        for kind, value in values:
            assert value in text, (line, kind, value)
            digits = re.sub(r"\D", "", value)
            if kind == "credit_card":
                assert 15 <= len(digits) <= 16 and luhn(digits), value
            elif kind == "iban":
                assert iban_valid(value), value
            elif kind in ("ipv4", "ipv6"):
                assert ipaddress.ip_address(value).version == int(kind[-1]), value
            elif kind == "email":
                assert re.fullmatch(r"[\w.+-]+@(?:[\w-]+\.)*example\.(?:com|org|net)", value), value
            elif kind == "phone":
                assert 10 <= len(digits) <= 13, value
            elif kind == "private_key":
                assert re.fullmatch(r"-----BEGIN ([A-Z ]+)-----\n[A-Za-z0-9+/\n]+\n-----END \1-----", value), value
            elif kind == "url_credentials":
                assert re.match(r"[a-z+]+://[^:@/\s]+:[^@/\s]+@", value), value
            else:
                assert re.fullmatch(r"[\w/+-]{20,}", value), value


def test_pii_near_misses_look_alike_but_are_not_personal_data(truth, rows):
    assert set(truth["pii_near_miss_rows"]) == set(truth["pii_near_miss_values"])
    assert set(truth["pii_near_miss_rows"].values()) == NEAR_MISS_KINDS
    for line, kind in truth["pii_near_miss_rows"].items():
        text = conv_text(rows[int(line)])
        for value in truth["pii_near_miss_values"][line]:
            assert value in text, (line, value)
            digits = re.sub(r"\D", "", value)
            if kind in ("order_id_card_like", "luhn_invalid_number"):
                assert len(digits) == 16 and not luhn(digits), value
            elif kind == "isbn":
                weights = sum(int(d) * (1 if k % 2 == 0 else 3) for k, d in enumerate(digits))
                assert len(digits) == 13 and weights % 10 == 0 and not luhn(digits), value
            elif kind == "order_id_phone_like":
                assert value.startswith(("#0", "#1", "ORD-", "0", "1")), value
            elif kind == "date":
                assert re.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", value), value
            else:
                assert re.fullmatch(r"v?\d+\.\d+\.\d+", value), value
        assert "@" not in text and "-----BEGIN" not in text and "://" not in text


def test_no_personal_data_outside_the_pii_rows(truth, rows):
    pii = {int(k) for k in truth["pii_rows"]}
    pattern = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|-----BEGIN|://[^\s/]*:[^\s/]*@|\b(?:\d{1,3}\.){3}\d{1,3}\b|ghp_|AKIA|sk-")
    for i, row in rows.items():
        if i not in pii:
            assert not pattern.search(conv_text(row)), (i, pattern.search(conv_text(row)).group())
