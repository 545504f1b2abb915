"""The planted cases of the quality stages (language, decontamination, PII), appended after the base sample.

They draw from their own seeded ``random.Random``, so the base sample (every line before them, and its truth)
is the same with or without them. Every row here is clean for the default stages: it passes every default
filter with the clean margin, it is normalized, its first question is new, and it stays below
:data:`QUALITY_MAX_JACCARD` with every other quality row (and, as :mod:`verify` checks, below the
independence bound with every row of the file).
"""

from __future__ import annotations

import random
from typing import Callable

from .measures import conversation_text, filter_measures, is_normalized, jaccard, passes_all, shingle_set
from .plan import CLEAN_MARGIN, CLEAN_PER_SOURCE
from .plant_contamination import EVAL_PROMPTS, NEAR_MISS_PROMPTS, contaminated_turns, near_miss_turns
from .plant_languages import OTHER_LANGS, language_turns, mismatch_turns, translation_turns
from .plant_pii import NEAR_MISS_KINDS, PII_ROWS
from .plant_pii import near_miss_turns as pii_near_miss_turns
from .rows import good_score, make_row
from .writer import Writer

LANGUAGE_ROWS_PER_LANGUAGE = 10
CONTAMINATED_PER_PROMPT = 8
PII_NEAR_MISSES_PER_KIND = 4
QUALITY_MAX_JACCARD = 0.4  # between two quality rows (word 5-gram shingles of the whole conversation)

# truth key -> what its value records
TRUTH_KEYS = {
    "language_rows": "{line: language code}: the whole conversation is in that language (not English)",
    "translation_rows": "{line: [prompt language, answer language]}: the prompt asks for a translation; not a mismatch",
    "language_mismatch_rows": "{line: [prompt language, answer language]}: answered in another language, unasked",
    "contaminated_rows": "{line: eval prompt id}: a human turn holds that evaluation prompt verbatim",
    "contamination_near_miss_rows": "{line: eval prompt id}: same subject, no word 8-gram shared with any eval prompt",
    "pii_rows": "{line: [types]}: personal data or secrets of these types (values in pii_values)",
    "pii_values": "{line: [[type, value], ...]}: every planted value, verbatim, in order of appearance",
    "pii_near_miss_rows": "{line: kind}: looks like personal data but is not (values in pii_near_miss_values)",
    "pii_near_miss_values": "{line: [value, ...]}: the look-alike values, verbatim",
}


def _translation_pairs(rng: random.Random) -> list[tuple[str, str]]:
    pairs = [("en", lang) for lang in OTHER_LANGS] + [(lang, "en") for lang in OTHER_LANGS]
    pairs += [tuple(rng.sample(OTHER_LANGS, 2)) for _ in range(8)]
    return pairs


def _mismatch_pairs(rng: random.Random) -> list[tuple[str, str]]:
    pairs = [(lang, "en") for lang in rng.sample(OTHER_LANGS, 5)] + [("en", lang) for lang in rng.sample(OTHER_LANGS, 4)]
    pairs += [tuple(rng.sample(OTHER_LANGS, 2)) for _ in range(5)]
    return pairs


def planting_jobs(rng: random.Random) -> list[tuple[str, object, Callable]]:
    """(truth key, label, maker) for every quality row; a maker takes (writer, source) and gives (turns, label)."""
    jobs: list[tuple[str, object, Callable]] = []
    for lang in OTHER_LANGS:
        jobs += [("language_rows", lang, lambda w, s, lang=lang: (language_turns(w, lang), lang))] * LANGUAGE_ROWS_PER_LANGUAGE
    for a, b in _translation_pairs(rng):
        jobs.append(("translation_rows", [a, b], lambda w, s, a=a, b=b: (translation_turns(w, a, b), [a, b])))
    for a, b in _mismatch_pairs(rng):
        jobs.append(("language_mismatch_rows", [a, b], lambda w, s, a=a, b=b: (mismatch_turns(w, a, b), [a, b])))
    for pid in EVAL_PROMPTS:
        jobs += [("contaminated_rows", pid, lambda w, s, pid=pid: (contaminated_turns(w, pid, s), pid))] * CONTAMINATED_PER_PROMPT
        for k in range(len(NEAR_MISS_PROMPTS[pid])):
            jobs.append(("contamination_near_miss_rows", pid, lambda w, s, pid=pid, k=k: (near_miss_turns(w, pid, k, s), pid)))
    for kind, (make, n) in PII_ROWS.items():
        jobs += [("pii_rows", kind, lambda w, s, make=make: make(w, s))] * n
    for kind in NEAR_MISS_KINDS:
        jobs += [("pii_near_miss_rows", kind, lambda w, s, kind=kind: pii_near_miss_turns(w, kind, s))] * PII_NEAR_MISSES_PER_KIND
    return jobs


def prompt_language(key: str, label) -> str:
    """The row's ``lang`` column: the language of its first question."""
    if key == "language_rows":
        return label
    if key in ("translation_rows", "language_mismatch_rows"):
        return label[0]
    return "en"


def quality_rows(seed: int, taken_first_questions: set[str]) -> list[tuple[str, object, dict]]:
    """(truth key, truth value, row) for every quality row, in file order.

    The truth value is the label of :data:`TRUTH_KEYS` (for ``pii_rows`` the found values, for
    ``pii_near_miss_rows`` (kind, values)).
    """
    w = Writer(random.Random(f"{seed}/quality"))
    sources, weights = list(CLEAN_PER_SOURCE), list(CLEAN_PER_SOURCE.values())
    jobs = planting_jobs(w.rng)
    w.rng.shuffle(jobs)
    out: list[tuple[str, object, dict]] = []
    kept_shingles: list[set] = []
    for key, label, make in jobs:
        source = w.rng.choices(sources, weights=weights)[0]
        for _ in range(200):
            turns, value = make(w, source)
            row = make_row(turns, source, good_score(w))
            row["lang"] = prompt_language(key, label)
            first = next(t["value"] for t in turns if t["from"] == "human")
            if first in taken_first_questions or not is_normalized(row):
                continue
            if not passes_all(filter_measures(turns), CLEAN_MARGIN):
                continue
            sh = shingle_set(conversation_text(turns))
            if any(jaccard(sh, other) >= QUALITY_MAX_JACCARD for other in kept_shingles):
                continue
            break
        else:
            raise RuntimeError(f"could not plant a clean {key} row ({label})")
        taken_first_questions.add(first)
        kept_shingles.append(sh)
        if key == "pii_near_miss_rows":
            value = (label, value)
        out.append((key, value, row))
    return out
