"""Rows in other languages, for the language stage: whole conversations in one language, translation
requests (prompt and answer in different languages, legitimately), and mismatches (an answer in another
language than the question that did not ask for a translation).

The text comes from the parallel templates of :mod:`lexicon_languages`: one draw (a theme, an entity, slot
values, sentence choices) renders in any of the seven languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexicon_languages import (CLOSINGS, CONTRACTIONS, FOLLOW_UP, LANGUAGE_NAMES, LANGS, PROMPT_EXTRAS, RELATIVES, SEASONS, STOPWORDS,
                                THEMES, TRANSLATE_ASKS, TRANSLATION_LEADS, YOUR_RELATIVES)
from .writer import Writer, cap

OTHER_LANGS = LANGS[1:]  # es fr de it pt nl
_FR_ELISION = re.compile(r"\b([Qq]u|[Dd])e (?=[aeiouéèêâîôûAEIOUÉÈÊ])")
_WORD = re.compile(r"[^\W\d_]+")


def render(template: dict[str, str], lang: str, slots: dict[str, dict[str, str] | str]) -> str:
    """One template in ``lang``, slots filled (a per-language value or a plain one such as a number)."""
    text = template[lang].format(**{k: v[lang] if isinstance(v, dict) else v for k, v in slots.items()})
    if lang == "fr":
        text = _FR_ELISION.sub(r"\1'", text)  # que un -> qu'un, de Édimbourg -> d'Édimbourg
    return cap(text)


@dataclass
class Draw:
    """Everything one answer needs, so that it renders identically in every language."""

    theme: str
    slots: dict
    prompt: int  # index into the theme's prompts
    extra: int | None  # index into PROMPT_EXTRAS
    body: list[int]  # indices into the theme's body sentences, in order
    closing: int | None


def draw(w: Writer, theme: str | None = None, n_body: tuple[int, int] = (4, 6)) -> Draw:
    theme = theme or w.pick(sorted(THEMES))
    spec = THEMES[theme]
    slots = dict(w.pick(spec["entities"]))
    slots.update(days=str(w.rng.randint(2, 5)), price=str(w.rng.randint(8, 16)), minutes=str(5 * w.rng.randint(5, 12)),
                 people=str(w.rng.randint(2, 6)), when=w.pick(SEASONS))
    k = w.rng.randrange(len(RELATIVES))
    slots.update(who=RELATIVES[k], yours=YOUR_RELATIVES[k])
    body = w.rng.sample(range(len(spec["body"])), w.rng.randint(*n_body))
    return Draw(theme, slots, w.rng.randrange(len(spec["prompts"])),
                w.rng.randrange(len(PROMPT_EXTRAS)) if w.rng.random() < 0.8 else None, body,
                w.rng.randrange(len(CLOSINGS)) if w.rng.random() < 0.4 else None)


def prompt_text(d: Draw, lang: str) -> str:
    text = render(THEMES[d.theme]["prompts"][d.prompt], lang, d.slots)
    if d.extra is not None or len(text) < 60:
        text += " " + render(PROMPT_EXTRAS[d.extra or 0], lang, d.slots)
    return text


def answer_text(d: Draw, lang: str, intro: bool = True) -> str:
    spec = THEMES[d.theme]
    sentences = [render(spec["intro"][0], lang, d.slots)] if intro else []
    sentences += [render(spec["body"][i], lang, d.slots) for i in d.body]
    cut = (len(sentences) + 1) // 2 if len(sentences) >= 5 else len(sentences)
    paragraphs = [" ".join(sentences[:cut]), " ".join(sentences[cut:])]
    if d.closing is not None:
        paragraphs.append(render(CLOSINGS[d.closing], lang, d.slots))
    return "\n\n".join(p for p in paragraphs if p)


def language_turns(w: Writer, lang: str) -> list[dict]:
    """A conversation wholly in ``lang``: one exchange, or two on different themes."""
    first = draw(w)
    turns = [{"from": "human", "value": prompt_text(first, lang)}, {"from": "gpt", "value": answer_text(first, lang)}]
    if w.rng.random() < 0.25:
        second = draw(w, w.pick([t for t in sorted(THEMES) if t != first.theme]), (3, 4))
        turns += [{"from": "human", "value": FOLLOW_UP[lang] + " " + prompt_text(second, lang)},
                  {"from": "gpt", "value": answer_text(second, lang, intro=False)}]
    return turns


def translation_turns(w: Writer, source: str, target: str) -> list[dict]:
    """A request, in ``source``, to translate a ``source`` paragraph into ``target``; the answer in ``target``."""
    d = draw(w, n_body=(3, 5))
    d.closing = None  # a closing line addresses the reader of an answer; it is no part of the text to translate
    ask = render(w.pick(TRANSLATE_ASKS), source, {"target": LANGUAGE_NAMES[source][target]})
    text = answer_text(d, source, intro=False).replace("\n\n", " ")
    answer = answer_text(d, target, intro=False).replace("\n\n", " ")
    if w.rng.random() < 0.5:
        answer = TRANSLATION_LEADS[target] + "\n\n" + answer
    return [{"from": "human", "value": f"{ask}\n\n{text}"}, {"from": "gpt", "value": answer}]


def mismatch_turns(w: Writer, asked: str, answered: str) -> list[dict]:
    """A question in ``asked`` (no translation requested) answered in ``answered``, on the same subject."""
    d = draw(w)
    return [{"from": "human", "value": prompt_text(d, asked)}, {"from": "gpt", "value": answer_text(d, answered)}]


# ---- self-checks ---------------------------------------------------------------------------------


def guess_language(text: str) -> str:
    """The language whose function words cover most of ``text``'s words (a check on our templates)."""
    words = [w.lower() for w in _WORD.findall(text)]
    return max(LANGS, key=lambda lang: sum(w in STOPWORDS[lang] for w in words))


def uncontracted_slots() -> list[str]:
    """Every (template, slot value) pair that would leave a preposition and an article apart (must be none)."""
    problems = []
    for theme, spec in THEMES.items():
        templates = spec["prompts"] + spec["intro"] + spec["body"]
        values: dict[str, list[dict[str, str]]] = {}
        for entity in spec["entities"]:
            for slot, value in entity.items():
                values.setdefault(slot, []).append(value)
        values.update(when=SEASONS, who=RELATIVES, yours=YOUR_RELATIVES)
        for template in templates:
            for lang, pairs in CONTRACTIONS.items():
                for before, slot in re.findall(r"(\S+) \{(\w+)\}", template[lang]):
                    for value in values.get(slot, []):
                        if (before.lower(), value[lang].split(" ")[0].lower()) in pairs:
                            problems.append(f"{theme}/{lang}: {before} {value[lang]}")
    return problems
