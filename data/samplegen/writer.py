"""The text engine: templates with ``{slot}`` (a fresh draw from ``LEX``, or a value fixed in the context)
and ``[a|b|c]`` alternations (nestable; ``[a|]`` is optional text), filled by one seeded ``random.Random``."""

from __future__ import annotations

import random
import re
from functools import lru_cache

from .lexicon import LEX

_SLOT_RE = re.compile(r"\{(=?)([A-Za-z_0-9]+)\}")
_AN_RE = re.compile(r"\b([Aa]) (?=([A-Za-zÀ-ÿ]+))")
_CONSONANT_SOUND_VOWEL_START = ("uni", "use", "usu", "eu", "one", "uti", "ubiq", "euro")
_VOWEL_SOUND_CONSONANT_START = ("hour", "honest", "heir")


def _fix_articles(text: str) -> str:
    def repl(m: re.Match) -> str:
        art, nxt = m.group(1), m.group(2).lower()
        vowel = nxt[0] in "aeiouàáâäèéêëìíîïòóôöùúûü" and not nxt.startswith(_CONSONANT_SOUND_VOWEL_START)
        vowel = vowel or nxt.startswith(_VOWEL_SOUND_CONSONANT_START)
        return (art + "n " if vowel else art + " ")

    return _AN_RE.sub(repl, text)


def cap(text: str) -> str:
    """Upper-case the first letter (skipping leading markup such as ``**``)."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1 :]
        if ch not in "*_\"'([":
            return text
    return text


@lru_cache(maxsize=None)
def _parse_template(template: str) -> tuple:
    """Nodes of a template: ("lit", text), ("slot", fixed, name, lexicon name), ("alt", (nodes, ...))."""

    def parse(text: str) -> tuple:
        nodes: list[tuple] = []
        i = 0
        while i < len(text):
            if text[i] == "[":
                depth, j, cuts = 0, i, []
                while j < len(text):
                    if text[j] == "[":
                        depth += 1
                    elif text[j] == "]":
                        depth -= 1
                        if depth == 0:
                            break
                    elif text[j] == "|" and depth == 1:
                        cuts.append(j)
                    j += 1
                if cuts and j < len(text):
                    bounds = [i, *cuts, j]
                    nodes.append(("alt", tuple(parse(text[bounds[k] + 1 : bounds[k + 1]]) for k in range(len(bounds) - 1))))
                    i = j + 1
                    continue
            m = _SLOT_RE.match(text, i)
            if m:
                nodes.append(("slot", bool(m.group(1)), m.group(2), m.group(2).rstrip("0123456789")))
                i = m.end()
                continue
            k = i + 1
            while k < len(text) and text[k] not in "[{":
                k += 1
            nodes.append(("lit", text[i:k]))
            i = k
        return tuple(nodes)

    return parse(template)


def nums(w: "Writer", k: int, lo: int = 1, hi: int = 99) -> list[int]:
    """``k`` random integers in [lo, hi]."""
    return [w.rng.randint(lo, hi) for _ in range(k)]


class Writer:
    """Fills templates from LEX with one seeded ``random.Random``.

    Within one row (``new_row``) no template is used twice (each pool is a shuffled deck) and no slot value
    of three or more words repeats, so that rows do not trip the Gopher repetition filters by accident.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.new_row()

    def new_row(self) -> None:
        self._decks: dict[tuple, list[int]] = {}
        self._used: set[str] = set()

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def draw(self, pool: list[str]) -> str | None:
        """The next template of ``pool`` in this row's deck; None once every template was used."""
        key = tuple(pool)
        deck = self._decks.get(key)
        if deck is None:
            deck = list(range(len(pool)))
            self.rng.shuffle(deck)
            self._decks[key] = deck
        return pool[deck.pop()] if deck else None

    def slot_value(self, name: str) -> str:
        values = LEX[name]
        for _ in range(12):
            value = self.pick(values)
            if value.count(" ") < 2 or value not in self._used:
                break
        self._used.add(value)
        return value

    def fill(self, template: str, ctx: dict | None = None) -> str:
        ctx = ctx or {}
        out: list[str] = []
        self._render(_parse_template(template), ctx, out)
        text = "".join(out)
        if "  " in text:
            text = re.sub(r" {2,}", " ", text)
        text = text.replace(" ,", ",").replace(" .", ".")
        return cap(_fix_articles(text.strip()))

    def _render(self, nodes: tuple, ctx: dict, out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "lit":
                out.append(node[1])
            elif kind == "slot":
                _, fixed, name, base = node
                out.append(str(ctx[name]) if fixed or name in ctx else self.slot_value(base))
            else:
                self._render(self.pick(node[1]), ctx, out)

    def sentences(self, pool: list[str], n: int, ctx: dict | None = None) -> list[str]:
        """Up to ``n`` sentences from this row's deck of ``pool`` (fewer once the deck is used up)."""
        out: list[str] = []
        for _ in range(n):
            template = self.draw(pool)
            if template is None:
                break
            out.append(self.fill(template, ctx))
        return out

    def paragraph(self, pool: list[str], ctx: dict | None = None, lo: int = 3, hi: int = 6) -> str:
        return " ".join(self.sentences(pool, self.rng.randint(lo, hi), ctx))

    def paragraphs(self, pool: list[str], n: int, ctx: dict | None = None, lo: int = 3, hi: int = 6) -> list[str]:
        out = [self.paragraph(pool, ctx, lo, hi) for _ in range(n)]
        return [p for p in out if p]

    def n_paragraphs(self, mean: float = 2.2, sigma: float = 0.55, lo: int = 1, hi: int = 24) -> int:
        """Long-tailed paragraph counts (lognormal)."""
        return max(lo, min(hi, int(round(self.rng.lognormvariate(0, sigma) * mean))))
