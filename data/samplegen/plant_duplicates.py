"""Exact copies (equal after normalization) and near copies (a few word edits, Jaccard above the target)."""

from __future__ import annotations

import json
import re
import unicodedata

from .measures import conversation_text, human_text, is_normalized, filter_measures, jaccard, passes_all, shingle_set, token_text
from .plan import CLEAN_MARGIN, NEAR_TARGET_JACCARD
from .rows import good_score
from .writer import Writer


def has_decomposable(row: dict) -> bool:
    text = conversation_text(row["conversations"])
    return unicodedata.normalize("NFD", text) != text


def prose_line_spans(value: str) -> list[tuple[int, int]]:
    """(start, end) of lines outside code fences that are plain prose (no leading space, >= 6 words)."""
    spans, pos, in_code = [], 0, False
    for line in value.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line and not line[0].isspace() and len(line.split()) >= 6:
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def exact_variant(w: Writer, row: dict, kind: str) -> dict:
    """A copy equal to ``row`` after normalization: byte-identical, whitespace, NFD, or both."""
    copy = json.loads(json.dumps(row))
    turns = copy["conversations"]
    if kind in ("nfd", "nfd+space"):
        for t in turns:
            t["value"] = unicodedata.normalize("NFD", t["value"])
    if kind in ("space", "nfd+space"):
        for t in w.rng.sample(turns, k=w.rng.randint(1, len(turns))):
            v = t["value"]
            op = w.rng.randrange(4)
            spans = prose_line_spans(v)
            if op == 0 or not spans:
                v = v + w.pick(["\n", " ", "\n\n", "  \n", "\t"])
            elif op == 1:
                v = w.pick([" ", "\n", "  "]) + v
            else:
                for _ in range(w.rng.randint(1, 3)):
                    spans = prose_line_spans(v)
                    s, e = w.pick(spans)
                    gaps = [m.start() for m in re.finditer(r"(?<=\S) (?=\S)", v[s:e])]
                    if gaps:
                        g = s + w.pick(gaps)
                        v = v[:g] + w.pick(["  ", "   ", " \t"]) + v[g + 1 :]
                if op == 3:
                    v = v + "\n"
            t["value"] = v
    return copy


SYNONYMS = {
    "usually": "often", "often": "frequently", "quickly": "rapidly", "simple": "easy", "small": "little", "large": "big",
    "important": "key", "begin": "start", "helps": "assists", "careful": "cautious", "common": "frequent", "slowly": "gradually",
    "mostly": "largely", "because": "since", "clear": "plain", "useful": "helpful", "rarely": "seldom", "nearly": "almost",
    "first": "initially", "changes": "shifts", "shows": "reveals", "simply": "just", "check": "verify", "strong": "powerful",
    "easier": "simpler", "many": "numerous", "rises": "climbs", "falls": "drops", "quiet": "calm",
    "keep": "retain", "find": "discover", "happens": "occurs", "slow": "gradual", "value": "amount",
}
FILLERS = ["also", "really", "often", "simply", "generally", "actually", "just", "certainly", "clearly", "usually"]
DELETABLE = {"very", "also", "just", "really", "usually", "often", "simply", "quite", "the", "a", "some", "that", "much"}


def _word_edit(w: Writer, v: str) -> str:
    spans = prose_line_spans(v)
    if not spans:
        return v
    s, e = w.pick(spans)
    line = v[s:e]
    words_ = list(re.finditer(r"[A-Za-z]+", line))
    op = w.rng.randrange(3)
    if op == 0:
        cands = [m for m in words_ if m.group().lower() in SYNONYMS]
        if cands:
            m = w.pick(cands)
            rep = SYNONYMS[m.group().lower()]
            rep = rep.capitalize() if m.group()[0].isupper() else rep
        else:
            long_ = [m for m in words_ if len(m.group()) >= 6]
            if not long_:
                return v
            m = w.pick(long_)
            word = m.group()
            i = w.rng.randint(1, len(word) - 3)
            rep = word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # a typo: two letters swapped
            if rep == word:
                return v
        line = line[: m.start()] + rep + line[m.end() :]
    elif op == 1:
        inner = [m for m in words_[1:] if m.start() > 0 and line[m.start() - 1] == " " and m.group().islower()]
        if not inner:
            return v
        m = w.pick(inner)
        line = line[: m.start()] + w.pick(FILLERS) + " " + line[m.start() :]
    else:
        cands = [m for m in words_[1:] if m.group().lower() in DELETABLE and line[m.end() : m.end() + 1] == " "]
        if not cands:
            return v
        m = w.pick(cands)
        line = line[: m.start()] + line[m.end() + 1 :]
    return v[:s] + line + v[e:]


def _surface_edit(w: Writer, v: str) -> str:
    """Punctuation or casing: leaves the \\w+ tokens (lower-cased) unchanged."""
    spans = prose_line_spans(v)
    if not spans:
        return v
    s, e = w.pick(spans)
    line = v[s:e]
    op = w.rng.randrange(4)
    if op == 0 and ", " in line:
        i = w.pick([m.start() for m in re.finditer(", ", line)])
        line = line[:i] + w.pick([";", " -", ""]) + line[i + 1 :]
    elif op == 1 and line.endswith("."):
        line = line[:-1] + w.pick(["!", ";", ""])
    elif op == 2 and line[:1].isupper():
        line = line[:1].lower() + line[1:]
    else:
        words_ = [m for m in re.finditer(r"\b[a-z]{4,}\b", line)]
        if not words_:
            return v
        m = w.pick(words_)
        line = line[: m.start()] + w.pick([m.group().capitalize(), m.group().upper()]) + line[m.end() :]
    return v[:s] + line + v[e:]


def near_copy(w: Writer, row: dict, others: list[dict]) -> tuple[dict, float]:
    """An edited copy with word-5-gram Jaccard >= NEAR_TARGET_JACCARD on every text key."""
    orig_text = conversation_text(row["conversations"])
    orig_sh = shingle_set(orig_text)
    orig_first, orig_all = human_text(row["conversations"], True), human_text(row["conversations"])
    taken = {token_text(conversation_text(r["conversations"])) for r in [row, *others]}
    for attempt in range(60):
        copy = json.loads(json.dumps(row))
        turns = copy["conversations"]
        gpt_idx = [i for i, t in enumerate(turns) if t["from"] == "gpt"]
        n_word = max(1, w.rng.randint(1, 3) - attempt // 20)
        for _ in range(n_word):
            i = w.pick(gpt_idx)
            turns[i]["value"] = _word_edit(w, turns[i]["value"])
        for _ in range(w.rng.randint(0, 2)):
            i = w.rng.randrange(len(turns))
            turns[i]["value"] = _surface_edit(w, turns[i]["value"])
        text = conversation_text(turns)
        if token_text(text) in taken or not is_normalized(copy):  # every member differs in its words
            continue
        j = jaccard(orig_sh, shingle_set(text))
        j_first = jaccard(shingle_set(orig_first), shingle_set(human_text(turns, True)))
        j_all = jaccard(shingle_set(orig_all), shingle_set(human_text(turns)))
        if min(j, j_first, j_all) >= NEAR_TARGET_JACCARD and passes_all(filter_measures(turns), CLEAN_MARGIN):
            copy["score"] = row["score"] if w.rng.random() < 0.5 else good_score(w)
            return copy, j
    raise RuntimeError("could not make a near-duplicate copy above the target Jaccard")
