"""The judge's prompt (rubric from the config) and reading its scores from the reply.

The judge is asked for one line of JSON, ``{"<criterion>": <1-5>, ...}``. Small models do not always comply,
so the reader also takes ``criterion: 4`` / ``criterion = 4`` lines, then a score on another scale (``8/10``,
``3 out of 10``: 4.0 and 1.5 on the 1-5 scale), then a lone digit 1-5 (not list numbering), then a grading word
(excellent 5 ... very poor 1); a reply with no score at all is a failure (the row stays unscored and is counted).
``true`` in the JSON is no score.
"""

from __future__ import annotations

import json
import re
from typing import Any

SYSTEM = ("You are a strict, fair grader of AI assistant answers. You rate each criterion from 1 (very poor) to "
          "5 (excellent) and reply with one line of JSON and nothing else.")
_ROLE = {"human": "User", "gpt": "Assistant", "system": "System"}


def conversation_text(turns: list[dict[str, Any]], max_chars: int) -> str:
    """The conversation as ``Role: text`` blocks, each turn cut to its share of ``max_chars`` and the whole to
    ``max_chars`` (a long conversation keeps its first turns)."""
    share = max(100, max_chars // max(1, len(turns)))
    blocks = []
    for t in turns:
        text = t.get("value") or ""
        if len(text) > share:
            text = text[:share] + " [...]"
        blocks.append(f"{_ROLE.get(t.get('from'), t.get('from'))}: {text}")
    joined = "\n\n".join(blocks)
    return joined if len(joined) <= max_chars else joined[:max_chars] + " [...]"


NUMBER_SYSTEM = "You grade AI assistant answers. Reply with one number from 1 to 5."


def messages(turns: list[dict[str, Any]], rubric: dict[str, str], max_chars: int, answer_format: str = "json"
             ) -> list[dict[str, str]]:
    criteria = "\n".join(f"- {name}: {what}" for name, what in rubric.items())
    if answer_format == "number":
        user = (f"<conversation>\n{conversation_text(turns, max_chars)}\n</conversation>\n\nHow good is the "
                f"assistant's answer above, from 1 (very poor) to 5 (excellent)? Consider:\n{criteria}\n"
                "Reply with the number only.")
        return [{"role": "system", "content": NUMBER_SYSTEM}, {"role": "user", "content": user}]
    example = json.dumps({name: 4 for name in rubric})
    user = (f"Rate the assistant's answers in this conversation.\n\nCriteria (1-5 each):\n{criteria}\n\n"
            f"<conversation>\n{conversation_text(turns, max_chars)}\n</conversation>\n\n"
            f"Reply with JSON only, for example: {example}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


_JSON = re.compile(r"\{[^{}]*\}")
# "8/10", "3 out of 10": a score on another scale ("step 1/3" is none)
_SCALE = r"\s*(?:/|out of)\s*(5|10|100)(?:\.0+)?(?!\d|\.\d)"
_FRACTION = re.compile(r"(?<![\d.\-\u2212])(\d+(?:\.\d+)?)" + _SCALE, re.IGNORECASE)
# a number with a minus sign (``-3``) or an exponent (``1e309``) is no 1-5 score, and neither is either end of a
# range (``on a scale of 1-5``, ``1 to 5``)
_NOT_AFTER = r"(?<![\d./\-\u2212\u2013])(?<!to )(?<!\d[eE])(?<!\d[eE][+-])"
_NOT_BEFORE = r"(?!\d|\.\d|[eE][+-]?\d|\s*(?:-|\u2013|\u2212|to)\s*\d)"
_DIGIT = re.compile(_NOT_AFTER + r"([1-5](?:\.\d+)?)" + _NOT_BEFORE + r"(?!\s*%|\s*(?:/|out of)\s*\d)",
                    re.IGNORECASE)
_LIST_ITEM = re.compile(r"\s*[.)]\s")  # "1. Assemble ..." at the start of a line is list numbering, not a score
# words small models answer with instead of a number
_WORDS = [("very poor", 1.0), ("terrible", 1.0), ("excellent", 5.0), ("outstanding", 5.0), ("perfect", 5.0),
          ("very good", 4.0), ("great", 4.0), ("good", 4.0), ("average", 3.0), ("fair", 3.0), ("mediocre", 3.0),
          ("poor", 2.0), ("weak", 2.0), ("bad", 2.0)]


def parse_scores(reply: str, rubric: dict[str, str]) -> dict[str, float] | None:
    """Criterion -> score (1-5) from the judge's reply; None when no score can be read."""
    for m in _JSON.finditer(reply):
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            got = {k: float(v) for k, v in data.items()
                   if k in rubric and isinstance(v, (int, float)) and not isinstance(v, bool) and 1 <= v <= 5}
            if got:
                return got
    got = {}
    for name in rubric:
        m = re.search(re.escape(name).replace("_", "[ _]") + r"\W{0,5}" + _NOT_AFTER + r"(\d+(?:\.\d+)?)"
                      + r"(?!\d|\.\d|[eE][+-]?\d)(?:" + _SCALE + ")?", reply, re.IGNORECASE)
        if m and (value := _score(m.group(1), m.group(2))) is not None:
            got[name] = value
    if got:
        return got
    for m in _FRACTION.finditer(reply):
        if (value := _score(m.group(1), m.group(2))) is not None:
            return {"overall": value}
    for m in _DIGIT.finditer(reply):
        at_line_start = m.start() == 0 or reply[m.start() - 1] == "\n"
        if at_line_start and _LIST_ITEM.match(reply, m.end()):
            continue
        if (value := _score(m.group(1), None)) is not None:
            return {"overall": value}
    lowered = reply.lower()
    for word, value in _WORDS:
        if re.search(rf"\b{word}\b", lowered):
            return {"overall": value}
    return None


def _score(number: str, scale: str | None) -> float | None:
    """A number the judge wrote as a 1-5 score: itself, or ``number/scale`` brought to 1-5 (``8/10`` -> 4.0);
    None when it is none (``7``, ``12/10``)."""
    value = float(number)
    if scale is None:
        return value if 1 <= value <= 5 else None
    top = float(scale)
    if top <= 0 or value > top:
        return None
    return max(1.0, round(5 * value / top, 2))


def combine(scores: dict[str, float]) -> float:
    """The row's score: the mean over the criteria the judge rated, rounded to 2 decimals."""
    return round(sum(scores.values()) / len(scores), 2)
