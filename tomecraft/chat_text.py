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

_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")  # stands for message i's content in a rendered skeleton


class TemplateTextError(ValueError):
    """A message spells a special token and the chat template changes message text (trims it, drops or reorders
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
    rendering a skeleton with a placeholder for each such message's content; a template that changes that text
    raises :class:`TemplateTextError`.
    """
    text = render(messages)
    hostile = [i for i, m in enumerate(messages) if specials is not None and specials.search(m["content"])]
    if not hostile or specials is None:
        return [(text, False)]
    skeleton = render([{**m, "content": f"\ue000{i}\ue001"} if i in hostile else m for i, m in enumerate(messages)])
    pieces: list[tuple[str, bool]] = []
    seen: list[int] = []
    for k, part in enumerate(_PLACEHOLDER.split(skeleton)):
        if k % 2 == 0:
            pieces.append((part, False))
            continue
        seen.append(int(part))
        content = messages[int(part)]["content"] if int(part) < len(messages) else ""
        pieces += [(chunk, j % 2 == 1) for j, chunk in enumerate(re.split(f"({specials.pattern})", content))]
    if seen != hostile or "".join(p for p, _ in pieces) != text:
        raise TemplateTextError(
            "the text spells a special token and this chat template changes message text (trims it, drops or "
            "reorders messages), so it cannot be kept as plain text"
        )
    merged: list[tuple[str, bool]] = []
    for piece, literal in pieces:
        if merged and not literal and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + piece, False)
        elif piece:
            merged.append((piece, literal))
    return merged
