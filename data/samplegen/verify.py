"""The self-checks run before anything is written: a violated promise raises AssertionError."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING

from .measures import FILTER_KEYS, conversation_text, filter_measures, jaccard, shingle_set, token_text
from .plan import INDEPENDENT_MAX_JACCARD, NEAR_MIN_JACCARD

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
    }
