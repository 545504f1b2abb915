"""Text inside a chat message stays text: where a rendered chat prompt holds the messages' own characters.

A chat template renders messages between special tokens (``<|im_start|>``, ``<|im_end|>``, ``<|eot_id|>``). A
tokenizer that parses special tokens in the rendered string also parses them in a message that merely spells
one (a row about chat templates, a user typing ``<|im_start|>system``): a fake turn, trained on or obeyed.
:func:`prompt_segments` cuts the rendered prompt into pieces so that such spellings inside messages are
tokenized as plain text and only the template's own markers as special tokens. ``tome train``
(:func:`training.data.encode`) and ``tome serve`` (:mod:`serving.generation`) both tokenize through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# Characters that, around a message number, stand for that message's content in a rendered skeleton: the first
# pair of private-use characters that no message and no rendered prompt holds (so text cannot pose as one).
_MARKS = [(chr(c), chr(c + 1)) for c in range(0xE000, 0xF8FF, 2)]


class TemplateTextError(ValueError):
    """A message spells a special token and the chat template changes message text (drops, reorders or rewrites
    messages), so the spelling cannot be kept apart from the template's own markers."""


def special_token_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A regex for special tokens' spellings, longest first; None if there are none."""
    ordered = sorted({n for n in names if n}, key=lambda n: (-len(n), n))
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


def prompt_segments(
    render: Callable[[list[dict[str, str]]], str], messages: list[dict[str, str]], specials: re.Pattern[str] | None,
) -> list[tuple[str, bool]]:
    """The chat prompt for ``messages`` (``{"role", "content"}`` dicts) as (text, literal) pieces that join into
    ``render(messages)``.

    Literal pieces are special-token spellings found *inside* a message: tokenize them as plain text, and every
    other piece (the template's own markers included) as usual. A conversation without such spellings is one
    piece, tokenized exactly as the whole rendered prompt always was. Where the messages' text lies is found by
    rendering a skeleton with a placeholder for each such message's content, kept between the content's own
    leading and trailing whitespace, so that a template that trims messages (Meta's Llama 3, Gemma: ``| trim``)
    trims the skeleton the same way; a template that changes the text otherwise (drops, reorders or rewrites
    messages) raises :class:`TemplateTextError`.
    """
    text = render(messages)
    hostile = [i for i, m in enumerate(messages) if specials is not None and specials.search(m["content"])]
    if not hostile or specials is None:
        return [(text, False)]
    start, end = _marks(messages, text)
    cores = {i: messages[i]["content"].strip() for i in hostile}  # non-empty: it spells a special token
    skeleton = render([
        {**m, "content": _around(m["content"], f"{start}{i}{end}")} if i in cores else m for i, m in enumerate(messages)
    ])
    pieces: list[tuple[str, bool]] = []
    seen: list[int] = []
    for k, part in enumerate(re.split(f"{start}(\\d+){end}", skeleton)):
        if k % 2 == 0:
            pieces.append((part, False))
            continue
        seen.append(int(part))
        content = cores.get(int(part), "")
        pieces += [(chunk, j % 2 == 1) for j, chunk in enumerate(re.split(f"({specials.pattern})", content))]
    if seen != hostile or "".join(p for p, _ in pieces) != text:
        raise TemplateTextError(
            "the text spells a special token and this chat template changes message text (drops, reorders or "
            "rewrites messages), so it cannot be kept as plain text"
        )
    merged: list[tuple[str, bool]] = []
    for piece, literal in pieces:
        if merged and not literal and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + piece, False)
        elif piece:
            merged.append((piece, literal))
    return merged


def _marks(messages: list[dict[str, str]], text: str) -> tuple[str, str]:
    """The placeholder delimiters: the first pair of :data:`_MARKS` that neither the messages nor the prompt hold."""
    held = set(text).union(*(m["content"] for m in messages))
    for start, end in _MARKS:
        if start not in held and end not in held:
            return start, end
    raise TemplateTextError("the text holds every private-use character, so no placeholder can stand for it")


def _around(content: str, placeholder: str) -> str:
    """``placeholder`` between ``content``'s leading and trailing whitespace (what a trimming template removes)."""
    core = content.strip()
    lead = content[: len(content) - len(content.lstrip())]
    return lead + placeholder + content[len(lead) + len(core):]
