"""A generated FineTome-shaped corpus with planted near-duplicates, for the near-dedup benchmark and tests.

Nothing is stored: row ``i`` of ``FineTomeLike(n, seed)`` is a pure function of ``(seed, i)`` (a
counter-based hash, not a stateful generator), computed vectorized a block of rows at a time, so any
slice can be (re)generated quickly and in any order, and the same call gives the same rows everywhere.

Shape, after FineTome-100k: rows in the FineTome schema (``conversations`` of ``{from, value}`` turns,
``source``, ``score``) from several sources with their own styles (prose, science Q&A, short
instructions, code, math) and stock phrases; conversation lengths log-normal with a mean of about 2,400
characters and a long tail (a few rows over 20,000); ~15% multi-turn; a few percent of the vocabulary
non-ASCII (accents, Greek, Cyrillic, CJK), Zipf-distributed words with English function words on top.

Planted near-duplicates: a share ``dup_rate`` of rows copy an earlier row (some earlier rows are copied
many times, giving clusters) with a per-copy edit rate drawn from 0-6% of words (replaced, deleted or
doubled), so true word-5-gram Jaccard spreads from 1.0 down to well below the 0.8 threshold; a third of
the copies also get different punctuation and line breaks (no effect on the token text).

    python -m benchmarks.corpus 5       # print 5 rows as JSON lines
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from numba import njit

from curation.text_keys import text_for

U64 = np.uint64

SOURCES = (
    # name, weight, style, length factor
    ("infini-instruct-top-500k", 0.40, "prose", 1.1),
    ("WebInstructSub_axolotl", 0.20, "science", 1.0),
    ("flan", 0.12, "short", 0.35),
    ("code_instructions_122k_alpaca_style", 0.10, "code", 0.8),
    ("MetaMath", 0.10, "math", 0.9),
    ("airoboros", 0.08, "prose", 1.4),
)

OPENERS = {
    "prose": (
        "Sure! Here is a detailed explanation.",
        "Certainly. Let's break this down step by step.",
        "Great question! There are several points to consider.",
        "",
    ),
    "science": (
        "To answer this question, we need to recall the underlying principle.",
        "Explanation:",
        "The answer can be found by considering the following.",
    ),
    "short": ("", "Answer:", "The correct answer is"),
    "code": (
        "Here is a Python function that does this:\n\n```python",
        "You can use the following code:\n\n```",
        "```python",
    ),
    "math": (
        "Let's solve this step by step.",
        "We can set up an equation.",
        "Step 1:",
    ),
}
PROMPTS = {
    "prose": ("Explain", "Write an essay about", "Describe", "Discuss"),
    "science": ("How does", "Why is", "What is the role of"),
    "short": ("Answer the following question:", "Translate to French:", "Summarize:", "Premise:"),
    "code": ("Write a function that", "Create a Python program to", "Optimize the following code:"),
    "math": ("Solve for x:", "What is the value of", "If a train travels"),
}

FUNCTION_WORDS = (
    "the of and to a in is that for it as with be on this are by can we you or an from which not "
    "at have has was will their they its more also these other one some such than into when each "
    "how what about all may would there been use used using two first between over most only any "
    "so if then because both many well very new same while where make like time example result "
    "value number data function system process energy water form different important following"
).split()
SYLLABLES = (
    "ka lo mi ter an ion st re de pro com ex ing ed al ly ment tion ver sel ra ne co ma li ta ri "
    "po ul ba so ge mo fi na ce da vi lu pe te si ar or en in um is us os at ic el om per con dis "
    "tra ble ous ive ful ist ism ant ent ure age ance nce ity"
).split()
UNICODE_WORDS = (
    "café naïve résumé façade über straße größe élan señor niño año coöperate "
    "αλφα βήτα γάμμα δέλτα λόγος σοφία ψυχή Σωκράτης ΟΔΟΣ "
    "привет мир данные модель время "
    "数据 模型 学习 中文 日本語 東京 한국어 "
    "e² x³ ½ Ω µm 10³ İstanbul"
).split()
CODE_WORDS = (
    "def return import numpy np self print range len list dict str int float None True False "
    "for while if else elif class lambda yield try except raise with as open map filter sum min max "
    "result value values item items key keys index data arr nums left right mid count total"
).split()

SEPARATORS = {
    # (string, weight) between consecutive words
    "prose": ((" ", 84), (", ", 7), (". ", 6), (".\n\n", 2), ("? ", 0.5), ("; ", 0.5)),
    "science": ((" ", 82), (", ", 7), (". ", 6), (".\n", 2), (" (", 1), (") ", 1), (": ", 1)),
    "short": ((" ", 86), (", ", 6), (". ", 6), ("? ", 2)),
    "code": ((" ", 55), ("(", 8), (") ", 8), (" = ", 8), (":\n    ", 6), (".", 5), ("_", 5), (", ", 5)),
    "math": ((" ", 70), (" = ", 8), (" + ", 6), (" * ", 4), (", ", 5), (". ", 5), ("$", 2)),
}
STYLES = tuple(SEPARATORS)
VOCAB_SIZE = 50_000
ZIPF_S = 1.05
MEAN_CHARS = 2400.0
SIGMA = 0.9
MAX_CHARS = 60_000
CHARS_PER_WORD = 6.4  # average word + separator, used to turn a character budget into words
MAX_WORDS = 1 << 20

# stream id of per-row draws (word-level streams are keys 1-5 in _generate)
_S_ROW = 7


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer (uint64 -> uint64), vectorized."""
    with np.errstate(over="ignore"):
        x = x + U64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
        return x ^ (x >> U64(31))


def _bits(seed: int, stream: int, counter: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        key = _mix(np.asarray(U64(seed) * U64(0x100000001B3) + U64(stream) * U64(0xD6E8FEB86659FD93)))
        return _mix(counter.astype(U64) ^ key)


def _uniform(seed: int, stream: int, counter: np.ndarray) -> np.ndarray:
    return (_bits(seed, stream, counter) >> U64(11)).astype(np.float64) * (1.0 / (1 << 53))


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Words by frequency rank: (utf-8 blob, start offsets, lengths), plus a quantized Zipf sampler."""
    gen = np.random.RandomState(20240917)
    words = list(FUNCTION_WORDS) + [w for w in dict.fromkeys(CODE_WORDS) if w not in FUNCTION_WORDS]
    seen = set(words)
    unicode_slots = set(gen.choice(np.arange(400, 20_000), size=len(UNICODE_WORDS), replace=False).tolist())
    uni = iter(UNICODE_WORDS)
    while len(words) < VOCAB_SIZE:
        if len(words) in unicode_slots:
            w = next(uni)
        elif gen.random_sample() < 0.04:
            w = str(gen.randint(0, 2000))
        else:
            w = "".join(gen.choice(SYLLABLES, size=gen.randint(1, 5)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    encoded = [w.encode("utf-8") for w in words]
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return blob, starts, lengths


@lru_cache(maxsize=1)
def _zipf_table(bits: int = 18) -> np.ndarray:
    """Rank for each of 2**bits equal slices of [0, 1): inverse CDF of Zipf(ZIPF_S) over the vocabulary."""
    p = 1.0 / np.arange(1, VOCAB_SIZE + 1, dtype=np.float64) ** ZIPF_S
    cdf = np.cumsum(p / p.sum())
    grid = (np.arange(1 << bits, dtype=np.float64) + 0.5) / (1 << bits)
    return np.minimum(np.searchsorted(cdf, grid), VOCAB_SIZE - 1).astype(np.uint16)  # 512 KiB: stays in cache


@lru_cache(maxsize=1)
def _separator_tables():
    """Separators of all styles: cumulative weights per style (padded with 1.0), first separator id of each
    style, and the separators' UTF-8 (blob, starts, lengths)."""
    width = max(len(v) for v in SEPARATORS.values())
    cdf = np.ones((len(STYLES), width), dtype=np.float64)
    first = np.zeros(len(STYLES), dtype=np.int64)
    encoded: list[bytes] = []
    for s, style in enumerate(STYLES):
        weights = np.array([w for _, w in SEPARATORS[style]], dtype=np.float64)
        cdf[s, : len(weights)] = np.cumsum(weights / weights.sum())
        cdf[s, len(weights) - 1 :] = 2.0  # the last separator takes the rest
        first[s] = len(encoded)
        encoded.extend(sep.encode("utf-8") for sep, _ in SEPARATORS[style])
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)
    starts = np.zeros(len(encoded), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return cdf, first, np.frombuffer(b"".join(encoded), dtype=np.uint8), starts, lengths


@njit(inline="always")
def _nmix(x):
    x = x + U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


@njit(cache=True)
def _token_streams(keys, base, copy_idx, nwords, style, own_punct, rate, zipf, sep_cdf, sep_first, words_out, seps_out, counts):
    """Word ids and separator ids of each row: the original's stream (``base``), edited for copies.

    Every draw is ``splitmix64(counter ^ key[stream])`` with counter ``row * 2**20 + position``: an original
    and its copies see the same words, and nothing depends on the order rows are generated in.
    """
    w = 0
    for k in range(base.shape[0]):
        start = w
        b = U64(base[k]) << U64(20)
        c = U64(copy_idx[k]) << U64(20)
        st = style[k]
        for pos in range(nwords[k]):
            word = zipf[np.int64(_nmix((b + U64(pos)) ^ keys[0]) >> U64(46))]
            if own_punct[k]:
                us = np.float64(_nmix((c + U64(pos)) ^ keys[4]) >> U64(11)) * (1.0 / 9007199254740992.0)
            else:
                us = np.float64(_nmix((b + U64(pos)) ^ keys[1]) >> U64(11)) * (1.0 / 9007199254740992.0)
            choice = 0
            while choice < sep_cdf.shape[1] - 1 and us >= sep_cdf[st, choice]:
                choice += 1
            sep = sep_first[st] + choice
            reps = 1
            if rate[k] > 0.0:
                ue = np.float64(_nmix((c + U64(pos)) ^ keys[2]) >> U64(11)) * (1.0 / 9007199254740992.0)
                if ue < rate[k] * 0.5:
                    word = zipf[np.int64(_nmix((c + U64(pos)) ^ keys[3]) >> U64(46))]
                elif ue < rate[k] * 0.75:
                    reps = 0
                elif ue < rate[k]:
                    reps = 2
            for _ in range(reps):
                words_out[w] = word
                seps_out[w] = sep
                w += 1
        counts[k] = w - start
    return w


@njit(cache=True)
def _gather(blob, wstart, wlen, sstart, slen, out, ends):
    w = 0
    for k in range(wstart.shape[0]):
        for q in range(wlen[k]):
            out[w] = blob[wstart[k] + q]
            w += 1
        for q in range(slen[k]):
            out[w] = blob[sstart[k] + q]
            w += 1
        ends[k] = w


@njit(cache=True)
def _turn_bounds(counts, tok_end, human_share, exchanges):
    """Byte offsets where each row's turns start and end (human, gpt, human, gpt ...): ``(rows, 8)``, and how
    many offsets each row has. A turn boundary falls after a word; an exchange gives its human turn
    ``human_share`` of its words."""
    n = counts.shape[0]
    out = np.zeros((n, 8), dtype=np.int64)
    nb = np.zeros(n, dtype=np.int64)
    b = 0
    for k in range(n):
        nw = counts[k]
        first = tok_end[b - 1] if b > 0 else 0
        out[k, 0] = first
        m = 1
        if nw > 0:
            per = nw / exchanges[k]
            last = 0
            for x in range(exchanges[k]):
                h = max(1, int(per * human_share[k]))
                cut_h = int(per * x) + h
                cut_g = int(per * (x + 1))
                if last < cut_h < nw:
                    out[k, m] = tok_end[b + cut_h - 1]
                    m += 1
                    last = cut_h
                if x < exchanges[k] - 1 and last < cut_g < nw:
                    out[k, m] = tok_end[b + cut_g - 1]
                    m += 1
                    last = cut_g
            out[k, m] = tok_end[b + nw - 1]
            m += 1
        nb[k] = m
        b += nw
    return out, nb


def _generate(seed, base, copy_idx, nwords, style, own_punct, rate) -> tuple[bytes, np.ndarray, np.ndarray]:
    """UTF-8 of all rows' words and separators back to back; end offset of each word+separator; words per row."""
    vblob, vstart, vlen = _vocabulary()
    sep_cdf, sep_first, sblob, sstart, slen = _separator_tables()
    mask = (1 << 64) - 1
    keys = _mix(np.array([(seed * 0x100000001B3 + s * 0xD6E8FEB86659FD93) & mask for s in range(1, 6)], dtype=U64))
    total = int(2 * nwords.sum())
    words = np.empty(total, dtype=np.int32)
    seps = np.empty(total, dtype=np.int32)
    counts = np.empty(len(base), dtype=np.int64)
    ntok = _token_streams(
        keys, base, copy_idx, nwords, style, own_punct, rate, _zipf_table(), sep_cdf, sep_first, words, seps, counts
    )
    words, seps = words[:ntok], seps[:ntok]
    blob = np.concatenate([vblob, sblob])
    wl, sl = vlen[words], slen[seps]
    out = np.empty(int(wl.sum() + sl.sum()), dtype=np.uint8)
    ends = np.empty(ntok, dtype=np.int64)
    _gather(blob, vstart[words], wl, sstart[seps] + len(vblob), sl, out, ends)
    return out.tobytes(), ends, counts


class FineTomeLike:
    """``n`` generated FineTome-schema rows; ``rows(a, b)`` / ``texts(a, b)`` make any slice on the fly."""

    def __init__(self, n: int, seed: int = 0, dup_rate: float = 0.10, max_edit_rate: float = 0.06,
                 mean_chars: float = MEAN_CHARS):
        self.n = int(n)
        self.mean_chars = float(mean_chars)
        self.seed = int(seed)
        self.dup_rate = float(dup_rate)
        self.max_edit_rate = float(max_edit_rate)
        weights = np.array([w for _, w, _, _ in SOURCES])
        self._source_cdf = np.cumsum(weights / weights.sum())

    def __len__(self) -> int:
        return self.n

    # ------------------------------------------------------------------ per-row attributes (vectorized)

    def _u(self, stream: int, idx: np.ndarray, sub: int = 0) -> np.ndarray:
        return _uniform(self.seed, stream, idx.astype(U64) * U64(64) + U64(sub))

    def is_copy(self, idx: np.ndarray) -> np.ndarray:
        return (self._u(_S_ROW, idx, 0) < self.dup_rate) & (idx > 0)

    def copied_from(self, idx: np.ndarray) -> np.ndarray:
        """For copies: the original (never itself a copy) row each was made from; -1 for originals."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.full(idx.shape, -1, dtype=np.int64)
        cur = idx.copy()
        active = self.is_copy(idx)
        while active.any():
            at = np.flatnonzero(active)
            c = cur[at]
            u = self._u(_S_ROW, c, 1)
            popular = self._u(_S_ROW, c, 2) < 0.3  # every 97th row is popular: copied many times
            pick = np.where(popular, np.floor(u * (c // 97 + 1)).astype(np.int64) * 97, np.floor(u * c).astype(np.int64))
            pick = np.minimum(pick, c - 1)
            cur[at] = pick
            still = self.is_copy(pick)
            finished = at[~still]
            out[finished] = pick[~still]
            active[finished] = False
        return out

    def _row_attrs(self, idx: np.ndarray):
        """source index, style index, number of words, human share, turns, opener, prompt of original rows."""
        src = np.searchsorted(self._source_cdf, self._u(_S_ROW, idx, 3), side="right").clip(0, len(SOURCES) - 1)
        factor = np.array([f for _, _, _, f in SOURCES])[src]
        u1 = np.maximum(self._u(_S_ROW, idx, 4), 1e-12)
        u2 = self._u(_S_ROW, idx, 5)
        normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)
        mu = np.log(self.mean_chars) - SIGMA**2 / 2
        chars = np.minimum(np.exp(mu + SIGMA * normal) * factor, MAX_CHARS)
        words = np.maximum((chars / CHARS_PER_WORD).astype(np.int64), 3)
        human_share = 0.08 + 0.3 * self._u(_S_ROW, idx, 6)
        turns = np.where(self._u(_S_ROW, idx, 7) < 0.15, 2 + (self._u(_S_ROW, idx, 8) < 0.4), 1).astype(np.int64)
        opener = self._u(_S_ROW, idx, 9)
        prompt = self._u(_S_ROW, idx, 10)
        score = 4.0 + np.round(self._u(_S_ROW, idx, 11) * 1.3, 2)
        return src, words, human_share, turns, opener, prompt, score

    # ------------------------------------------------------------------------------------ generation

    def rows(self, start: int, stop: int) -> list[dict]:
        """Rows ``start .. stop`` (FineTome schema: ``conversations``, ``source``, ``score``)."""
        stop = min(stop, self.n)
        if stop <= start:
            return []
        idx = np.arange(start, stop, dtype=np.int64)
        origin = self.copied_from(idx)
        base = np.where(origin >= 0, origin, idx)
        src, words, human_share, turns, opener, prompt, score = self._row_attrs(base)
        own_punct = (origin >= 0) & (self._u(_S_ROW, idx, 12) < 1 / 3)  # a third of copies re-punctuated
        rate = np.where(origin >= 0, self.max_edit_rate * self._u(_S_ROW, idx, 13), 0.0)
        rate = np.where(self._u(_S_ROW, idx, 14) < 0.15, 0.0, rate)  # some copies differ only in punctuation
        style = np.array([STYLES.index(s) for _, _, s, _ in SOURCES])[src]
        text_bytes, tok_end, counts = _generate(self.seed, base, idx, words, style, own_punct, rate)
        bounds, nbounds = _turn_bounds(counts, tok_end, human_share, turns)
        bounds, nbounds = bounds.tolist(), nbounds.tolist()
        style_names = [SOURCES[x][2] for x in src.tolist()]
        sources = [SOURCES[x][0] for x in src.tolist()]
        prompt, opener, score = prompt.tolist(), opener.tolist(), score.tolist()
        out = []
        for k in range(len(idx)):
            cut = bounds[k]
            style_name = style_names[k]
            conv = []
            for t in range(nbounds[k] - 1):
                value = text_bytes[cut[t] : cut[t + 1]].decode("utf-8").strip()
                if t % 2 == 0:
                    asks = PROMPTS[style_name]
                    conv.append({"from": "human", "value": f"{asks[int(prompt[k] * len(asks))]} {value}".strip()})
                else:
                    openers = OPENERS[style_name]
                    value = f"{openers[int(opener[k] * len(openers))]}\n{value}".strip()
                    if style_name == "code":
                        value += "\n```"
                    conv.append({"from": "gpt", "value": value})
            if not conv or conv[-1]["from"] == "human":
                conv.append({"from": "gpt", "value": OPENERS[style_name][0] or "OK."})
            out.append({"conversations": conv, "source": sources[k], "score": score[k]})
        return out

    def texts(self, start: int, stop: int) -> list[str]:
        """``text_for(row, "conversation")`` of rows ``start .. stop`` (what the near-dedup stage compares)."""
        return [text_for(row, "conversation") for row in self.rows(start, stop)]

    def write_jsonl(self, path, block: int = 20_000) -> int:
        """All rows as JSON Lines (written to ``path.tmp`` first); returns the bytes written."""
        from pathlib import Path

        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        size = 0
        with tmp.open("w", encoding="utf-8") as fh:
            for a in range(0, self.n, block):
                text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows(a, min(a + block, self.n)))
                fh.write(text)
                size += len(text.encode("utf-8"))
        tmp.replace(path)
        return size

    def iter_texts(self, block: int = 10_000) -> Iterator[list[str]]:
        for a in range(0, self.n, block):
            yield self.texts(a, min(a + block, self.n))

    def all_texts(self, block: int = 10_000) -> list[str]:
        out: list[str] = []
        for part in self.iter_texts(block):
            out.extend(part)
        return out


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 5
    for row in FineTomeLike(max(n, 1)).rows(0, n):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
