"""Rows that each default filter must drop: each fails exactly one filter, by a margin, and passes the rest."""

from __future__ import annotations

import re

from .lexicon import HISTORY_EVENTS, LEX, SCIENCE_CONCEPTS
from .measures import FAIL_MARGIN, FILTER_KEYS, filter_measures, is_normalized, passes_all
from .plan import CLEAN_MARGIN
from .rows import conversation, good_score, make_row
from .writer import Writer, cap

SHORT_PROMPTS = [
    "Is {place} worth a visit in {season} for {name}?",
    "Did {name} like the {dish} that {name2} cooked?",
    "Can {sci_thing} {sci_action} near {sci_place}?",
    "Should {name} {tip_verb} {tip_object}?",
    "Does {name} still study {field_of_study} with {name2}?",
    "Was {name} {feeling} after the {noun} in {place}?",
]
SHORT_ANSWERS = ["I do.", "It is", "No, 3", "Yes 4", "So so", "Go on", "At 9", "Oh no", "By 6", "Ok, 5", "We do", "Not 2", "Up 7", "Me too"]
REPEATED_LINES = ["Please wait.", "(continued)", "Loading...", "See above.", "[no output]", "Okay.", "Next.", "Thinking...",
                  "Retrying.", "Hmm.", "Right.", "(pause)"]
PHRASE_TEMPLATES = [
    "and the {adj} {noun} keeps coming back",
    "the {noun} of the {noun2} is {adj}",
    "{name} said the {noun} was {adj} again",
    "then {sci_thing} {sci_action} once more",
    "we {tip_verb} {tip_object} and",
]
PROSE_TOPICS = ["science", "history", "advice", "food_travel", "story"]
GUIDE_PROMPTS = [
    "Write a comprehensive, detailed guide to {=subject} that covers the science, the history, practical tips and common questions. Be as thorough as possible.",
    "I need an exhaustive handbook about {=subject} for a community course. Cover every angle in depth, with sections and examples.",
]


FREE_FRAMES = [
    "{adj} {pl} {adverb} {tverb} {pl2} near {where}.",
    "Near {where}, {pl} {tverb} {adj} {pl2} {when}.",
    "{when}, {adj} {pl} {tverb} the {sg} of {pl2}.",
    "Whether {pl} {tverb} {pl2} depends on the {adj} {sg} and the {sg2}.",
    "{pl} rarely {tverb} {pl2}; {adj} {pl3} {adverb} do.",
    "The {adj} {sg} behind {pl} {adverb} explains the {sg2}.",
    "Without the {adj} {sg}, {pl} {tverb} {pl2} {adverb}.",
    "Some {pl} {tverb} {adj} {pl2}, while {pl3} {tverb2} the {sg}.",
    "Compare {adj} {pl} in {where} with {pl2} in {where2}.",
    "The {sg} and the {sg2} {adverb} {tverb} {adj} {pl}.",
    "Observers in {where} noticed {adj} {pl} {when}.",
    "Because {pl} {tverb} the {sg}, {adj} {pl2} {adverb} {tverb2} {pl3}.",
    "A {adj} {sg}, a {adj2} {sg2} and a {adj3} {sg3} {tverb} {pl}.",
    "Both {pl} and {pl2} {tverb} the {adj} {sg} {when}.",
    "Few {pl} {tverb} {pl2} as {adverb} as {adj} {pl3}.",
    "Ask how {pl} {tverb} the {sg}, and why {pl2} {tverb2} a {adj} {sg2}.",
    "Over time, {pl} near {where} {tverb} the {adj} {sg}.",
    "Records of {pl} from {where} {tverb} {adj} {pl2}.",
]


def free_text(w: Writer, n_chars: int) -> str:
    """Sections of free-frame paragraphs, about ``n_chars`` long."""
    sections: list[str] = []
    total, k = 0, 0
    while total < n_chars:
        k += 1
        paras = []
        for _ in range(w.rng.randint(2, 4)):
            paras.append(" ".join(w.fill(w.pick(FREE_FRAMES)) for _ in range(w.rng.randint(4, 7))))
        sec = f"## Part {k}: {cap(w.pick(LEX['sg']))} and {w.pick(LEX['pl'])}\n\n" + "\n\n".join(paras)
        sections.append(sec)
        total += len(sec) + 2
    return "\n\n".join(sections)


def filter_row(w: Writer, reason: str, source: str) -> dict:
    """A row that fails exactly the filter ``reason`` (checked, with margin, against every default filter)."""
    key = FILTER_KEYS[reason]
    while True:
        turns: list[dict]
        if reason == "filter:answer_too_short":
            answer = w.pick(SHORT_ANSWERS)
            turns = [{"from": "human", "value": w.fill(w.pick(SHORT_PROMPTS))}, {"from": "gpt", "value": answer}]
            if not 1 <= len(answer) <= 5:
                continue
        elif reason in ("filter:repeated_lines", "filter:repeated_ngrams"):
            turns = conversation(w, source, topic=w.pick(PROSE_TOPICS), n_ex=1, size=2.5, system=False)
            answer_sentences = [x for x in re.split(r"(?<=[.!?])\s+", turns[-1]["value"])
                                if len(x.split()) >= 6 and x[0].isupper() and x[-1] in ".!?"]
            if reason == "filter:repeated_lines":
                if len(answer_sentences) < 10:
                    continue
                filler = w.pick(REPEATED_LINES)
                lines: list[str] = []
                for sentence in answer_sentences[: w.rng.randint(10, 16)]:
                    lines += [sentence, filler]
                turns[-1]["value"] = "\n".join(lines)
            else:
                phrase = w.fill(w.pick(PHRASE_TEMPLATES)).rstrip(".")
                phrase = phrase[0].lower() + phrase[1:]
                repeated = cap(" ".join([phrase] * w.rng.randint(18, 34))) + "."
                turns[-1]["value"] = " ".join(answer_sentences[: w.rng.randint(1, 3)]) + "\n\n" + repeated
        elif reason == "filter:prompt_answer_ratio":
            topic = w.pick(PROSE_TOPICS)
            passage_turns = conversation(w, source, topic=topic, n_ex=1, size=w.rng.uniform(1.8, 3.0), system=False)
            passage = passage_turns[-1]["value"]
            ask = w.pick(["Here are my notes from class:", "Please read this passage:", "Below is an article I found:",
                          "Here is a draft I wrote:"])
            question = w.pick(["What is the main point, in one sentence?", "Give me a one-line summary.",
                               "Summarize this in a single short sentence.", "What is the title you would give this?"])
            answer = w.fill(w.pick([
                "The passage is mainly about how {hist_factor} shaped {hist_group}.",
                "It explains why {sci_thing} {sci_action} under {sci_driver}.",
                "The main point is that {reason}.",
                "A fitting title would be \"{adj} {noun}s and {noun2}s\".",
                "It argues that {sci_thing} {sci_action} when conditions change.",
            ]))
            turns = [{"from": "human", "value": f"{ask}\n\n{passage}\n\n{question}"}, {"from": "gpt", "value": answer}]
        elif reason == "filter:roles_not_alternating":
            turns = conversation(w, source, n_ex=w.rng.choice([1, 1, 2]), size=1.0)
            human_idx = [i for i, t in enumerate(turns) if t["from"] == "human"]
            at = w.pick(human_idx)
            extra = w.fill(w.pick(["Also, please keep it short.", "Sorry, one more thing: can you add an example about {noun}s?",
                                   "Actually, I meant to ask about {field_of_study} too.", "And please mention {place} if relevant.",
                                   "Oh, and {name} asked me to check something about {noun}s as well."]))
            turns.insert(at + 1, {"from": "human", "value": extra})
        elif reason == "filter:turn_too_long":
            subject = w.pick([w.pick(SCIENCE_CONCEPTS)[0], w.pick(HISTORY_EVENTS), "learning to " + w.pick(LEX["goal"])])
            target = w.rng.randint(32_500, 33_500)
            body = free_text(w, target + 400)
            cut = body.rfind(". ", 0, target)
            turns = [{"from": "human", "value": w.fill(w.pick(GUIDE_PROMPTS), {"subject": subject})},
                     {"from": "gpt", "value": body[: cut + 1]}]
        else:
            raise ValueError(reason)
        row = make_row(turns, source, good_score(w))
        m = filter_measures(turns)
        if is_normalized(row) and m[key] >= FAIL_MARGIN[key] and passes_all(m, 0.9 if key == "turn_too_long" else CLEAN_MARGIN, key):
            return row
