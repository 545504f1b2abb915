"""Assembly: clean rows, then every planted kind, shuffled through the file; the truth file beside it."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from .measures import conversation_text, normalized_key, token_text
from .plan import (CLEAN_PER_SOURCE, EXACT_GROUPS, FILTER_PLAN, LOW_SCORE_ROWS, MALFORMED_PLAN, NEAR_GROUPS, SEED)
from .plant_duplicates import exact_variant, has_decomposable, near_copy
from .plant_filters import filter_row
from .plant_malformed import malformed_line
from .plant_quality import TRUTH_KEYS, quality_rows
from .rows import clean_row, f32
from .verify import verify
from .writer import Writer


@dataclass
class Item:
    line: str
    row: dict | None  # None for malformed lines
    group: tuple[str, int] | None = None  # ("exact"|"near", group number)
    original: bool = False
    reason: str | None = None  # filter reason, "low_score", or "malformed:<kind>"
    label: tuple[str, object] | None = None  # a quality plant: (truth key, truth value), see plant_quality.TRUTH_KEYS


@dataclass
class Sample:
    jsonl: bytes
    truth: bytes
    stats: dict = field(default_factory=dict)
    base_jsonl: bytes = b""  # the base sample (a prefix of jsonl) and its truth: what generate(quality=False) gives
    base_truth: bytes = b""


def dump(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False)


def truth_json(truth: dict) -> str:
    """The truth as JSON with one group, reason or count per line (readable in a diff)."""
    parts = []
    for key, value in truth.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            body = "[\n" + ",\n".join("  " + json.dumps(v) for v in value) + "\n ]"
        elif isinstance(value, dict):
            body = "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()) + "\n }"
        else:
            body = json.dumps(value)
        parts.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def generate(seed: int = SEED, verify_truth: bool = True, quality: bool = True) -> Sample:
    """Build the sample in memory; ``verify_truth`` runs the (slower) checks of :func:`verify` as well.

    ``quality=False`` gives the base sample alone: the same lines and truth as before the quality plants were
    added (they are appended after it, from their own random stream, and change nothing before them).
    """
    w = Writer(random.Random(seed))
    sources = list(CLEAN_PER_SOURCE)
    weights = list(CLEAN_PER_SOURCE.values())

    first_questions: set[str] = set()

    def fresh(make) -> dict:
        """A row from ``make()`` whose first human turn no earlier row has (so no prompt-only duplicates)."""
        while True:
            row = make()
            first = next(t["value"] for t in row["conversations"] if t["from"] == "human")
            if first not in first_questions:
                first_questions.add(first)
                return row

    clean: list[dict] = []
    for source, n in CLEAN_PER_SOURCE.items():
        clean += [fresh(lambda: clean_row(w, source)) for _ in range(n)]
    w.rng.shuffle(clean)

    # Originals: near groups need long rows; some exact groups need accented text (for the NFD copies).
    pool = list(range(len(clean)))
    long_ones = [i for i in pool if len(token_text(conversation_text(clean[i]["conversations"])).split()) >= 220]
    near_orig = w.rng.sample(long_ones, NEAR_GROUPS)
    rest = [i for i in pool if i not in set(near_orig)]
    accented = [i for i in rest if has_decomposable(clean[i])]
    exact_nfd = w.rng.sample(accented, min(len(accented), EXACT_GROUPS // 3))
    exact_other = w.rng.sample([i for i in rest if i not in set(exact_nfd)], EXACT_GROUPS - len(exact_nfd))

    items: list[Item] = []
    used = set(near_orig) | set(exact_nfd) | set(exact_other)
    items += [Item(dump(clean[i]), clean[i]) for i in range(len(clean)) if i not in used]

    near_j: list[float] = []
    for g, i in enumerate(near_orig):
        orig = clean[i]
        members = [Item(dump(orig), orig, ("near", g), True)]
        copies: list[dict] = []
        for _ in range(w.rng.choices([1, 2, 3], weights=[55, 30, 15])[0]):
            c, j = near_copy(w, orig, copies)
            copies.append(c)
            near_j.append(j)
            members.append(Item(dump(c), c, ("near", g)))
        items += members

    exact_kinds: Counter = Counter()
    for g, i in enumerate(exact_nfd + exact_other):
        orig = clean[i]
        items.append(Item(dump(orig), orig, ("exact", g), True))
        lines = {dump(orig)}
        for _ in range(w.rng.choices([1, 2, 3], weights=[60, 30, 10])[0]):
            choices = ["identical", "space"] + (["nfd", "nfd+space"] if i in exact_nfd else [])
            kind = w.pick(choices)
            c = exact_variant(w, orig, kind)
            if kind != "identical" and dump(c) in lines:
                c, kind = exact_variant(w, orig, "space"), "space"
            assert normalized_key(c) == normalized_key(orig), "exact copy differs after normalization"
            exact_kinds[kind] += 1
            lines.add(dump(c))
            items.append(Item(dump(c), c, ("exact", g)))

    for reason, n in FILTER_PLAN.items():
        for _ in range(n):
            source = w.rng.choices(sources, weights=weights)[0]
            row = fresh(lambda: filter_row(w, reason, source))
            items.append(Item(dump(row), row, reason=reason))
    for _ in range(LOW_SCORE_ROWS):
        source = w.rng.choices(sources, weights=weights)[0]
        row = fresh(lambda: clean_row(w, source, score=f32(w.rng.uniform(1.6, 2.95))))
        items.append(Item(dump(row), row, reason="low_score"))
    for kind, n in MALFORMED_PLAN.items():
        for _ in range(n):
            items.append(Item(malformed_line(w, kind, w.rng.choices(sources, weights=weights)[0]), None, reason=f"malformed:{kind}"))

    # Spread everything through the file, then put each group's original at the group's earliest line.
    w.rng.shuffle(items)
    groups: dict[tuple[str, int], list[int]] = {}
    for pos, it in enumerate(items):
        if it.group:
            groups.setdefault(it.group, []).append(pos)
    for key, positions in groups.items():
        members = [items[p] for p in positions]
        members = [m for m in members if m.original] + [m for m in members if not m.original]
        for p, m in zip(positions, members):
            items[p] = m

    base_rows = len(items)
    if quality:
        items += [Item(dump(row), row, label=(key, value)) for key, value, row in quality_rows(seed, first_questions)]

    stats = verify(items, near_j) if verify_truth else {}
    stats["exact_copy_kinds"] = dict(sorted(exact_kinds.items()))

    exact_groups = sorted([p for k, p in groups.items() if k[0] == "exact"])
    near_groups = sorted([p for k, p in groups.items() if k[0] == "near"])
    truth = truth_of(items, exact_groups, near_groups, sources, seed, base_rows if quality else None)
    base_truth = truth if not quality else truth_of(items[:base_rows], exact_groups, near_groups, sources, seed, None)
    lines = [it.line + "\n" for it in items]
    jsonl = "".join(lines).encode("utf-8")
    stats.update(rows=len(items), bytes=len(jsonl), groups={"exact": len(exact_groups), "near": len(near_groups)},
                 filter_rows=dict(sorted(Counter(truth["filter_rows"].values()).items())), low_score=len(truth["low_score_rows"]),
                 malformed=dict(sorted(Counter(truth["malformed_rows"].values()).items())), sources=truth["sources"])
    if quality:
        stats["quality"] = {key: len(truth[key]) for key in TRUTH_KEYS if not key.endswith("_values")}
        stats["quality"]["pii_types"] = dict(sorted(Counter(t for v in truth["pii_values"].values() for t, _ in v).items()))
        stats["quality"]["languages"] = dict(sorted(Counter(truth["language_rows"].values()).items()))
    return Sample(jsonl, truth_json(truth).encode("utf-8"), stats,
                  "".join(lines[:base_rows]).encode("utf-8"), truth_json(base_truth).encode("utf-8"))


def truth_of(items: list[Item], exact_groups: list, near_groups: list, sources: list[str], seed: int,
             quality_from: int | None) -> dict:
    """The truth of ``items``; with ``quality_from`` (the first line of the quality plants) their keys too."""
    filter_rows = {str(p): it.reason for p, it in enumerate(items) if it.reason and it.reason.startswith("filter:")}
    malformed = {str(p): it.reason.split(":", 1)[1] for p, it in enumerate(items) if it.reason and it.reason.startswith("malformed:")}
    source_counts = Counter(it.row["source"] for it in items if it.row is not None)
    truth = {
        "rows": len(items),
        "exact_groups": exact_groups,
        "near_groups": near_groups,
        "filter_rows": filter_rows,
        "low_score_rows": [p for p, it in enumerate(items) if it.reason == "low_score"],
        "malformed_rows": malformed,
        **(quality_truth(items) if quality_from is not None else {}),
        "sources": {s: source_counts[s] for s in sources},
        "notes": {
            "positions": "0-based line numbers in sample.jsonl; in every group the first position is the original (its earliest line)",
            "sources": "counts over the rows that pass validation (malformed lines excluded)",
            "low_score_rows": "clean rows with score < 3.0; dropped with reason filter:low_score only when filters.min_score = 3.0",
            "filter_rows": "each row fails exactly this default filter and no other, and is not a duplicate of any row",
            "generator": f"data/make_sample.py, seed {seed}",
        },
    }
    if quality_from is not None:
        truth["notes"] = {
            **truth["notes"],
            "quality": f"lines {quality_from} and later are the planted cases of the quality stages; the lines before them "
                       "are the base sample (python data/make_sample.py --base writes it alone)",
            **TRUTH_KEYS,
        }
    return truth


def quality_truth(items: list[Item]) -> dict:
    """The truth of the quality plants, one dict per key of :data:`plant_quality.TRUTH_KEYS`."""
    out: dict[str, dict] = {key: {} for key in TRUTH_KEYS}
    for p, it in enumerate(items):
        if it.label is None:
            continue
        key, value = it.label
        if key == "pii_rows":
            out["pii_rows"][str(p)] = sorted({kind for kind, _ in value})
            out["pii_values"][str(p)] = [list(found) for found in value]
        elif key == "pii_near_miss_rows":
            out[key][str(p)], out["pii_near_miss_values"][str(p)] = value
        else:
            out[key][str(p)] = value
    return out
