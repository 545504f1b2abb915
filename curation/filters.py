"""Length and quality heuristics, each with its own reason code.

Checks run in a fixed order and the first that fires names the reason (``filter:<code>``); the measured
value and the threshold go into ``details``. Repetition checks follow Gopher (Rae et al. 2021), as in
datatrove's ``GopherRepetitionFilter``, and look at answers (gpt turns).

Every measurement is taken column-wise over a batch's turns (characters by Arrow, words and repetition by
compiled kernels over the UTF-8 buffers, :mod:`curation.repetition`); only rows that fail some check are
then walked check by check (:meth:`Filters.check`) to name the first that fires, with its details.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curation import repetition
from curation.core.columns import any_per_row, lengths, string_buffers, sum_per_row, turns_of
from curation.core.config_base import StrictModel
from curation.core.jit import njit
from curation.core.registry import StageSpec, register
from curation.core.stage import RowStage, StageOutput
from curation.core.temporal import rows_as_python

_WORD = re.compile(r"\S+")
_FRACTION = Annotated[float, Field(ge=0.0, le=1.0)]
_NGRAM = Annotated[int, Field(ge=1)]
REASONS = (
    "filter:roles_not_alternating",
    "filter:no_final_answer",
    "filter:low_score",
    "filter:turn_too_long",
    "filter:turn_too_short",
    "filter:answer_too_short",
    "filter:prompt_answer_ratio",
    "filter:repeated_lines",
    "filter:repeated_ngrams",
)


class FiltersConfig(StrictModel):
    """Length and quality heuristics; each has its own reason code in removed.parquet."""

    enabled: bool = True
    min_chars_per_turn: int | None = Field(1, ge=0)
    max_chars_per_turn: int | None = Field(32_000, ge=0)
    min_words_per_turn: int | None = Field(None, ge=0)
    max_words_per_turn: int | None = Field(6_000, ge=0)
    min_answer_chars: int | None = Field(8, ge=0, description="a gpt turn shorter than this is near-empty")
    min_answer_words: int | None = Field(2, ge=0)
    max_prompt_answer_ratio: float | None = Field(
        20.0, ge=0.0, description="characters of human turns / characters of gpt turns; above this drops the row"
    )
    max_repeated_line_fraction: float | None = Field(0.3, ge=0.0, le=1.0, description="Gopher: duplicate lines / lines")
    max_repeated_line_char_fraction: float | None = Field(0.2, ge=0.0, le=1.0)
    top_ngram_max_fraction: dict[_NGRAM, _FRACTION] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
        description="Gopher: chars in the most frequent n-gram / all chars",
    )
    dup_ngram_max_fraction: dict[_NGRAM, _FRACTION] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="Gopher: chars in duplicated n-grams / all chars",
    )
    min_words_for_repetition: int = Field(50, ge=0, description="repetition checks skip texts shorter than this")
    min_score: float | None = Field(None, description="drop rows whose `score` is below this")
    require_alternation: bool = Field(True, description="human and gpt turns must alternate, from human, after one system turn at most")
    require_final_answer: bool = Field(True, description="the last turn must be gpt's: a conversation that ends on a "
                                       "question (a scrape cut short) has nothing to learn for it")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text)


def duplicate_ngram_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters in word n-grams that occurred before (non-overlapping) / all characters."""
    index: dict[str, int] = {}
    ids = np.array([index.setdefault(w, len(index)) for w in words], dtype=np.uint64)
    lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    return repetition.dup_ngram_chars(ids, lens, n) / max(total_chars, 1)


def roles_alternate(turns: list[dict[str, str]]) -> bool:
    """One system turn at most, first; then human and gpt alternating from human (the shape every chat template
    takes: Llama 2's, Gemma's and Mistral's raise on two system turns or on a turn out of order)."""
    roles = [t["from"] for t in turns]
    i = 1 if roles and roles[0] == "system" else 0
    expected = "human"
    for role in roles[i:]:
        if role != expected:
            return False
        expected = "gpt" if expected == "human" else "human"
    return True


@njit(cache=True)
def _alternate(offsets, codes, out):
    """Per row: one system turn at most, first, then human and gpt alternating from human (codes 0/1/2), as
    :func:`roles_alternate`."""
    for r in range(out.shape[0]):
        i, end = offsets[r], offsets[r + 1]
        if i < end and codes[i] == 0:
            i += 1
        expected = 1
        ok = True
        while i < end:
            if codes[i] != expected:
                ok = False
                break
            expected = 3 - expected
            i += 1
        out[r] = ok


class Filters(RowStage):
    name = "filters"

    def __init__(self, cfg: FiltersConfig) -> None:
        self.cfg = cfg
        self._top_ns = sorted(cfg.top_ngram_max_fraction)
        self._dup_ns = sorted(cfg.dup_ngram_max_fraction)

    # -- the exact check of one row (its first failing check, with details) -----------------------------
    def check(self, row: dict[str, Any], measures: dict[int, np.ndarray] | None = None) -> tuple[str, dict[str, Any]] | None:
        """The first failing check as (reason code, details), or None when the row passes."""
        for result in self._checks(row, measures or {}):
            if result is not None:
                return result
        return None

    def fired(self, row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Every check that fires on ``row`` (not only the first), as (reason code, details)."""
        return [result for result in self._checks(row, {}) if result is not None]

    def _checks(self, row: dict[str, Any], measures: dict[int, np.ndarray]) -> Iterator[tuple[str, dict[str, Any]] | None]:
        c = self.cfg
        turns = row["conversations"]
        if c.require_alternation and not roles_alternate(turns):
            yield "roles_not_alternating", {"roles": [t["from"] for t in turns]}
        if c.require_final_answer and turns and turns[-1]["from"] != "gpt":
            yield "no_final_answer", {"last": turns[-1]["from"], "turns": len(turns)}
        score = row.get("score")
        if c.min_score is not None and score is not None and score < c.min_score:
            yield "low_score", {"score": score, "min": c.min_score}
        word_counts = []
        for n, turn in enumerate(turns, start=1):
            chars = len(turn["value"])
            if c.max_chars_per_turn is not None and chars > c.max_chars_per_turn:
                yield "turn_too_long", {"turn": n, "chars": chars, "max": c.max_chars_per_turn}
            if c.min_chars_per_turn is not None and chars < c.min_chars_per_turn:
                yield "turn_too_short", {"turn": n, "chars": chars, "min": c.min_chars_per_turn}
            nwords = len(words_of(turn["value"]))
            word_counts.append(nwords)
            if c.max_words_per_turn is not None and nwords > c.max_words_per_turn:
                yield "turn_too_long", {"turn": n, "words": nwords, "max": c.max_words_per_turn}
            if c.min_words_per_turn is not None and nwords < c.min_words_per_turn:
                yield "turn_too_short", {"turn": n, "words": nwords, "min": c.min_words_per_turn}
        answers = [(n, t["value"], word_counts[n - 1]) for n, t in enumerate(turns, start=1) if t["from"] == "gpt"]
        for n, text, nwords in answers:
            if c.min_answer_chars is not None and len(text) < c.min_answer_chars:
                yield "answer_too_short", {"turn": n, "chars": len(text), "min": c.min_answer_chars}
            if c.min_answer_words is not None and nwords < c.min_answer_words:
                yield "answer_too_short", {"turn": n, "words": nwords, "min": c.min_answer_words}
        if c.max_prompt_answer_ratio is not None:
            prompt = sum(len(t["value"]) for t in turns if t["from"] == "human")
            answer = sum(len(text) for _, text, _ in answers)
            ratio = prompt / max(answer, 1)
            if ratio > c.max_prompt_answer_ratio:
                yield "prompt_answer_ratio", {"ratio": round(ratio, 3), "max": c.max_prompt_answer_ratio}
        for n, text, nwords in answers:
            if nwords < c.min_words_for_repetition:
                continue
            m = measures.get(n)
            if m is None:
                m = repetition.text_measures(text, self._top_ns, self._dup_ns)
            yield self._repetition(n, m)

    def _repetition(self, n: int, m: np.ndarray) -> tuple[str, dict[str, Any]] | None:
        c = self.cfg
        line_frac, line_char_frac = float(m[0]), float(m[1])
        if c.max_repeated_line_fraction is not None and line_frac > c.max_repeated_line_fraction:
            return "repeated_lines", {"turn": n, "fraction": round(line_frac, 4), "max": c.max_repeated_line_fraction}
        if c.max_repeated_line_char_fraction is not None and line_char_frac > c.max_repeated_line_char_fraction:
            return "repeated_lines", {"turn": n, "char_fraction": round(line_char_frac, 4), "max": c.max_repeated_line_char_fraction}
        k = len(self._top_ns)
        for j, size in enumerate(self._top_ns):
            frac, limit = float(m[2 + j]), c.top_ngram_max_fraction[size]
            if frac > limit:
                return "repeated_ngrams", {"turn": n, "top_ngram": size, "fraction": round(frac, 4), "max": limit}
        for j, size in enumerate(self._dup_ns):
            frac, limit = float(m[2 + k + j]), c.dup_ngram_max_fraction[size]
            if frac > limit:
                return "repeated_ngrams", {"turn": n, "dup_ngram": size, "fraction": round(frac, 4), "max": limit}
        return None

    def _repetition_limits(self) -> np.ndarray:
        c = self.cfg
        inf = np.inf
        return np.array(
            [
                inf if c.max_repeated_line_fraction is None else c.max_repeated_line_fraction,
                inf if c.max_repeated_line_char_fraction is None else c.max_repeated_line_char_fraction,
                *[c.top_ngram_max_fraction[n] for n in self._top_ns],
                *[c.dup_ngram_max_fraction[n] for n in self._dup_ns],
            ]
        )

    def warm_up(self) -> None:
        from curation.core.warm import sample_rows

        self.process(sample_rows())

    # -- the columnar screen ---------------------------------------------------------------------------
    def process(self, batch: pa.RecordBatch) -> StageOutput:
        c = self.cfg
        n = batch.num_rows
        offsets, roles, values = turns_of(batch.column("conversations"))
        buf, voff = string_buffers(values)
        nchars = lengths(values)
        nwords = np.empty(len(values), dtype=np.int64)
        if len(values):
            repetition.word_counts(buf, voff, nwords)
        is_gpt = np.asarray(pc.equal(roles, "gpt"), dtype=bool)
        is_human = np.asarray(pc.equal(roles, "human"), dtype=bool)
        flag = np.zeros(n, dtype=bool)
        if c.require_alternation:
            codes = np.where(is_human, 1, np.where(is_gpt, 2, 0)).astype(np.int8)
            ok = np.empty(n, dtype=np.bool_)
            _alternate(offsets, codes, ok)
            flag |= ~ok
        if c.require_final_answer:
            ends = np.asarray(offsets[1:], dtype=np.int64)
            nonempty = ends > np.asarray(offsets[:-1], dtype=np.int64)
            last_gpt = np.zeros(n, dtype=bool)
            last_gpt[nonempty] = is_gpt[ends[nonempty] - 1]
            flag |= nonempty & ~last_gpt
        if c.min_score is not None:
            score = batch.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
            flag |= score < c.min_score  # NaN and null compare False, as in Python
        bad = np.zeros(len(values), dtype=bool)
        for limit, measure, over in (
            (c.max_chars_per_turn, nchars, True), (c.min_chars_per_turn, nchars, False),
            (c.max_words_per_turn, nwords, True), (c.min_words_per_turn, nwords, False),
        ):
            if limit is not None:
                bad |= measure > limit if over else measure < limit
        if c.min_answer_chars is not None:
            bad |= is_gpt & (nchars < c.min_answer_chars)
        if c.min_answer_words is not None:
            bad |= is_gpt & (nwords < c.min_answer_words)
        if c.max_prompt_answer_ratio is not None:
            prompt = sum_per_row(offsets, np.where(is_human, nchars, 0))
            answer = sum_per_row(offsets, np.where(is_gpt, nchars, 0))
            flag |= prompt / np.maximum(answer, 1) > c.max_prompt_answer_ratio
        long_answers = np.flatnonzero(is_gpt & (nwords >= c.min_words_for_repetition))
        measured = repetition.measure(buf, voff, long_answers, self._top_ns, self._dup_ns)
        if len(long_answers):
            over = (measured > self._repetition_limits()[None, :]).any(axis=1)
            bad[long_answers[over]] = True
        flag |= any_per_row(offsets, bad)
        if not flag.any():
            return StageOutput(batch)
        by_turn = dict(zip(long_answers.tolist(), measured))
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        for r in np.flatnonzero(flag).tolist():
            row = rows_as_python(batch.slice(r, 1))[0]
            first = int(offsets[r])
            measures = {t - first + 1: by_turn[t] for t in range(first, int(offsets[r + 1])) if t in by_turn}
            failed = self.check(row, measures)
            if failed is not None:
                reasons[r] = f"filter:{failed[0]}"
                details[r] = json.dumps(failed[1], sort_keys=True)
        return StageOutput(batch, reason=pa.array(reasons, pa.string()), details=pa.array(details, pa.string()))


SPEC = register(
    StageSpec(
        name="filters",
        order=50,
        kind="row",
        config=FiltersConfig,
        build=lambda cfg, _: Filters(cfg),
        reasons=REASONS,
        summary="chars/words per turn, near-empty answers, prompt/answer ratio, Gopher repetition, score, roles, a final answer",
    )
)
