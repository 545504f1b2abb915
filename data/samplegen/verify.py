"""The self-checks run before anything is written: a violated promise raises AssertionError."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING

from .measures import FILTER_KEYS, conversation_text, filter_measures, jaccard, shingle_set, token_text
from .plan import INDEPENDENT_MAX_JACCARD, NEAR_MIN_JACCARD
from .plant_contamination import EVAL_PROMPTS, eval_overlap
from .plant_languages import guess_language, uncontracted_slots
from .plant_pii import detect

if TYPE_CHECKING:
    from .assemble import Item


def verify(items: list[Item], near_j: list[float]) -> dict:
    """Check the planted truth; returns measurements for the report. Raises AssertionError on a violation."""
    rows = [(p, it) for p, it in enumerate(items) if it.row is not None]
    for p, it in enumerate(items):
        if it.row is None:
            try:
                obj = json.loads(it.line)
            except json.JSONDecodeError:
                continue
            conv = obj.get("conversations") if isinstance(obj, dict) else None
            ok = (isinstance(conv, list) and conv and all(isinstance(t, dict) and set(t) >= {"from", "value"}
                  and t["from"] in ("human", "gpt", "system") and isinstance(t["value"], str) for t in conv)
                  and any(t["from"] == "gpt" for t in conv))
            assert not ok, f"line {p}: planted as malformed but is valid"
    # Near copies against their original.
    sets = {p: shingle_set(conversation_text(it.row["conversations"])) for p, it in rows}
    by_group: dict[tuple[str, int], list[int]] = {}
    for p, it in rows:
        if it.group:
            by_group.setdefault(it.group, []).append(p)
    near_min = 1.0
    for key, positions in by_group.items():
        if key[0] == "near":
            orig = positions[0]
            assert items[orig].original
            canon = [token_text(conversation_text(items[p].row["conversations"])) for p in positions]
            assert len(set(canon)) == len(canon), f"near group at line {orig}: two members have the same words"
            for p in positions[1:]:
                j = jaccard(sets[orig], sets[p])
                assert j >= NEAR_MIN_JACCARD, f"near copy at line {p}: Jaccard {j:.3f} with its original"
                near_min = min(near_min, j)
    # Every other pair: exact Jaccard through an inverted index of shingles.
    group_of = {p: it.group for p, it in rows}
    postings: dict[str, list[int]] = {}
    worst = (0.0, -1, -1)
    for p, _ in rows:
        overlap: Counter = Counter()
        for sh in sets[p]:
            lst = postings.get(sh)
            if lst is None:
                postings[sh] = [p]
            else:
                overlap.update(lst)
                lst.append(p)
        for q, inter in overlap.items():
            if group_of[p] is not None and group_of[p] == group_of[q]:
                continue
            j = inter / (len(sets[p]) + len(sets[q]) - inter)
            if j > worst[0]:
                worst = (j, q, p)
    assert worst[0] < INDEPENDENT_MAX_JACCARD, f"lines {worst[1]} and {worst[2]}: Jaccard {worst[0]:.3f} outside any group"
    # Every row against every default filter, with the exact measures (both tokenizations).
    worst_clean = 0.0
    for p, it in rows:
        m = filter_measures(it.row["conversations"], exact=True)
        if it.reason and it.reason.startswith("filter:"):
            key = FILTER_KEYS[it.reason]
            assert m[key] > 1.0, f"line {p}: planted for {it.reason} but passes it ({m[key]:.2f} of the threshold)"
            others = {k: v for k, v in m.items() if k != key and v > 0.95}
            assert not others, f"line {p}: planted for {it.reason} but also near {others}"
        else:
            bad = {k: round(v, 3) for k, v in m.items() if v > 0.95}
            assert not bad, f"line {p}: a row planted to be kept is at or above a filter threshold: {bad}"
            worst_clean = max(worst_clean, *m.values())
    quality = verify_quality(items)
    rows = [(p, it) for p, it in rows if it.label is None]  # the figures below describe the base sample
    kept_like = [it.row for _, it in rows if it.reason is None]
    chars = [sum(len(t["value"]) for t in r["conversations"]) for r in (it.row for _, it in rows)]
    vocab = set()
    for _, it in rows:
        vocab.update(re.findall(r"[a-zà-ÿ]+", conversation_text(it.row["conversations"]).lower()))
    return {
        "near_jaccard_min": round(near_min, 4),
        "near_jaccard_mean": round(sum(near_j) / len(near_j), 4),
        "independent_jaccard_max": round(worst[0], 4),
        "kept_rows_worst_filter_fraction": round(worst_clean, 3),
        "avg_chars_per_conversation": round(sum(chars) / len(chars), 1),
        "max_chars_per_conversation": max(chars),
        "max_chars_excluding_turn_too_long": max(c for c, (_, it) in zip(chars, rows) if it.reason != "filter:turn_too_long"),
        "multi_turn_rows": sum(1 for r in kept_like if sum(t["from"] == "human" for t in r["conversations"]) > 1),
        "system_turn_rows": sum(1 for r in kept_like if r["conversations"][0]["from"] == "system"),
        "distinct_words": len(vocab),
        **quality,
    }


def verify_quality(items: list[Item]) -> dict:
    """The quality plants: languages read as labelled, contamination only where planted, PII only where planted."""
    assert not uncontracted_slots(), f"templates leave contractions undone: {uncontracted_slots()[:5]}"
    n_turns = 0
    for p, it in enumerate(items):
        if it.row is None:
            continue
        turns = [t for t in it.row["conversations"] if t["from"] != "system"]
        text = conversation_text(it.row["conversations"])
        key, value = it.label or (None, None)
        # Languages: every turn of a language row reads as its language; everything else reads as English.
        if key == "language_rows":
            expected = [value] * len(turns)
        elif key in ("translation_rows", "language_mismatch_rows"):
            expected = [value[0] if t["from"] == "human" else value[1] for t in turns]
        else:
            expected = None
            if len(text.split()) >= 40:
                assert guess_language(text) == "en", f"line {p}: reads as {guess_language(text)}, not English"
        if expected:
            for t, lang in zip(turns, expected):
                n_turns += 1
                got = guess_language(t["value"])
                assert got == lang, f"line {p}: a {t['from']} turn reads as {got}, planted as {lang}: {t['value'][:80]!r}"
                assert len(t["value"]) >= 50, f"line {p}: a turn of {len(t['value'])} characters (50+ promised)"
        # Contamination: the planted rows hold their prompt verbatim; no other row shares a word 8-gram with any.
        if key == "contaminated_rows":
            assert any(EVAL_PROMPTS[value] in t["value"] for t in turns if t["from"] == "human"), f"line {p}: no {value}"
        else:
            hit = eval_overlap(text)
            assert hit is None, f"line {p}: has a word 8-gram of the eval prompt {hit} but is not planted"
        # PII: a careful detector finds exactly the planted values (phone numbers: present verbatim).
        found = detect(text)
        if key == "pii_rows":
            for kind, v in value:
                assert v in text, f"line {p}: planted {kind} {v!r} not in the text"
                if kind != "phone" and not (kind == "api_key" and len(v) == 40 and not v.startswith(("sk-", "gh"))):
                    assert any(k == kind and (d in v or v in d) for k, d in found), f"line {p}: {kind} {v!r} not detected"
            stray = [(k, d) for k, d in found if not any(d in v or v in d for _, v in value)]
            assert not stray, f"line {p}: unplanted personal data {stray}"
        else:
            assert not found, f"line {p}: personal data {found} outside the PII rows"
        if key == "pii_near_miss_rows":
            assert all(v in text for v in value[1]), f"line {p}: a near-miss value is missing"
    return {"language_turns_checked": n_turns}
