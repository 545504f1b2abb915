"""Clean rows: a conversation on a topic (optionally with a system turn, sometimes multi-turn, a long tail
that changes topic), decorated first questions, FineTome-like sources and float32 scores."""

from __future__ import annotations

import struct

from .lexicon import SYSTEM_PROMPTS
from .measures import filter_measures, is_normalized, passes_all
from .plan import CLEAN_MARGIN
from .topics import TOPICS
from .writer import Writer

SOURCE_TOPICS: dict[str, list[tuple[str, int]]] = {
    "infini-instruct-top-500k": [("science", 25), ("coding", 25), ("math", 10), ("history", 15), ("advice", 15), ("food_travel", 10)],
    "WebInstructSub_axolotl": [("science", 55), ("math", 45)],
    "The-Tome": [("science", 30), ("math", 20), ("history", 20), ("coding", 15), ("advice", 15)],
    "evol-instruct": [("coding", 80), ("math", 10), ("science", 10)],
    "airoboros": [("story", 35), ("advice", 25), ("food_travel", 25), ("history", 15)],
    "financial-instructions-cleaned-2": [("finance", 1)],
}

SYSTEM_SHARE = {"infini-instruct-top-500k": 0.2, "airoboros": 0.45, "The-Tome": 0.1, "evol-instruct": 0.15,
                "WebInstructSub_axolotl": 0.03, "financial-instructions-cleaned-2": 0.3}


def f32(x: float) -> float:
    """Round to float32 and back, like the scores FineTome stores."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def good_score(w: Writer) -> float:
    return f32(min(5.25, max(3.05, w.rng.gauss(4.25, 0.45))))


def make_row(turns: list[dict], source: str, score: float) -> dict:
    return {"conversations": turns, "source": source, "score": score, "lang": "en"}


def pick_weighted(w: Writer, pairs: list[tuple[str, int]]) -> str:
    return w.rng.choices([p for p, _ in pairs], weights=[k for _, k in pairs])[0]


# Openings and closings around a first question, so that two rows rarely share the same first human turn.
PROMPT_PREFIXES = [
    "Hi! ", "Hello. ", "Quick question: ", "I have a question about this. ", "My friend {name} asked me this and I had no answer. ",
    "I'm helping {name} with homework. ", "This came up at work today. ", "Here is something I've wondered about for a while. ",
    "I'm a {learner} and this confuses me. ", "For a {field_of_study} assignment: ", "Sorry if this is basic. ",
    "{name} and I were arguing about this. ", "Can you help me? ", "I need some help. ", "Good morning! ",
]
PROMPT_SUFFIXES = [
    " Thanks!", " Thank you in advance.", " Please keep it under [three|four|five] paragraphs.", " Keep it simple, please.",
    " I'd appreciate a clear answer.", " Please answer in plain English.", " Use an example if you can.",
    " I'm asking for {name}.", " It's for a [project|class|report|presentation|blog post|workshop|study group] I'm working on.", " A short answer is fine.", " Be as specific as you can.",
    " Please explain your reasoning.", " I'll share it with {name} later.", " Thanks, {name} says hi.",
]


def decorate_prompt(w: Writer, prompt: str) -> str:
    """``prompt`` with an opening (30%), a closing (30%), both (25%) or neither (15%)."""
    roll = w.rng.random()
    if roll >= 0.15 and (roll < 0.45 or roll >= 0.75):
        prompt = w.fill(w.pick(PROMPT_PREFIXES)) + " " + prompt
    if roll >= 0.45:
        prompt = prompt + " " + w.fill(w.pick(PROMPT_SUFFIXES))
    return prompt


def conversation(w: Writer, source: str, topic: str | None = None, n_ex: int | None = None, size: float | None = None,
                 system: bool | None = None) -> list[dict]:
    """The turns of one conversation; the long tail (7%) is a longer chat that moves across topics."""
    w.new_row()
    tail = size is None and w.rng.random() < 0.05
    topic = topic or pick_weighted(w, SOURCE_TOPICS[source])
    if n_ex is None:
        n_ex = w.rng.randint(2, 3) if tail else w.rng.choices([1, 2, 3], weights=[72, 21, 7])[0]
    if size is None:
        size = w.rng.uniform(2.0, 3.5) if tail else 1.0
    turns: list[dict] = []
    if system if system is not None else w.rng.random() < SYSTEM_SHARE[source]:
        turns.append({"from": "system", "value": w.pick(SYSTEM_PROMPTS)})
    if tail:
        topics = [topic] + [t for t in w.rng.sample(sorted(TOPICS), len(TOPICS)) if t != topic][: n_ex - 1]
        exchanges = [TOPICS[t](w, 1, size)[0] for t in topics]
        exchanges = [exchanges[0]] + [(w.pick(["Thanks! A different question: ", "Great. Unrelated, but ", "Thank you. Next: ",
                                                "Switching topics: "]) + h[0].lower() + h[1:] if not h.startswith(("I ", "I'm", "I'")) else
                                       "Thanks! Another question. " + h, g) for h, g in exchanges[1:]]
    else:
        exchanges = TOPICS[topic](w, n_ex, size)
    for k, (human, gpt) in enumerate(exchanges):
        turns += [{"from": "human", "value": decorate_prompt(w, human) if k == 0 else human}, {"from": "gpt", "value": gpt}]
    return turns


def clean_row(w: Writer, source: str, score: float | None = None, **kw) -> dict:
    """A row every default stage keeps, with margin to every filter threshold."""
    while True:
        row = make_row(conversation(w, source, **kw), source, good_score(w) if score is None else score)
        if is_normalized(row) and passes_all(filter_measures(row["conversations"]), CLEAN_MARGIN):
            return row


def after_another_exchange(w: Writer, source: str, turns: list[dict], share: float = 0.5) -> list[dict]:
    """``turns``, preceded (with probability ``share``) by an unrelated exchange, as chats often go."""
    if w.rng.random() < share:
        first = conversation(w, source, n_ex=1, size=0.7, system=False)
        turns[0]["value"] = w.pick(["Thanks! A different question. ", "Thank you. Something else: ",
                                    "Great. One more thing: "]) + turns[0]["value"]
        return first + turns
    return turns
