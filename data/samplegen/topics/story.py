"""Short stories."""

from __future__ import annotations

import re

from ..lexicon import LEX
from ..writer import Writer

STORY_PROMPTS = [
    "Write a short story about {=protagonist} who finds {=object} in {=setting}.",
    "Tell me a story set in {=setting}, with {=protagonist} as the main character.",
    "Write a scene where {=protagonist} must decide whether to open {=object}.",
    "Write a gentle bedtime story about {=protagonist} and {=object}.",
]
STORY_BODY = [
    "{=hero} had lived in {=setting} for [eleven|twenty|thirty|nearly forty] years, and in all that time nothing truly unusual had happened.",
    "That evening {story_weather}.",
    "{=hero} turned the {=thing} over slowly, feeling {emotion} rise in the chest.",
    "Nobody in the neighbourhood remembered who had owned the {=thing} before.",
    "The next morning {story_weather}, and {=hero} set out before anyone else was awake.",
    "At the edge of the [harbour|square|orchard|platform|clearing], {=hero} met {character}, who seemed to be expecting the visit.",
    "\"You found it, then,\" said the stranger, glancing at the {=thing} with {emotion}.",
    "For a long moment {=hero} said nothing, listening to the [gulls|trains|bees|bells|wind] in the distance.",
    "It was not the first time {=hero} had felt {emotion}, but it was the first time it felt useful.",
    "Inside, wrapped in [oilcloth|newspaper|a faded scarf|brown paper], lay {story_object}.",
    "{=hero} laughed for the first time in [weeks|months|years], a sound that surprised even the [cat|neighbours|stranger|gulls].",
    "By the time {story_weather}, the decision had already been made.",
    "The walk home took longer than usual, because {=hero} kept stopping to look at the {=thing} again.",
    "Years later, people still told the story, though each version was a little different.",
    "{=hero} wrote a short note, folded it twice, and left it where {character} would be sure to find it.",
    "Some mysteries, {=hero} decided, were better kept than solved.",
    "A child from the [bakery|ferry|school|market] asked what the {=thing} was for, and {=hero} had no good answer.",
    "The town clock struck [nine|ten|eleven|midnight], and somewhere a dog began to bark.",
    "{=hero} remembered a [song|saying|story|recipe] from childhood that suddenly seemed to make sense.",
    "On the third day, {character} returned with a [ladder|lamp|boat|cart|ledger] and a plan.",
    "There was a faint mark on the {=thing}, a letter or a number, worn almost smooth by years of hands.",
    "When the [rain|fog|snow|heat] finally lifted, the whole of {=setting} looked newly washed.",
]


def story_thing(obj: str) -> str:
    """'a compass that pointed south' -> 'compass': the head noun, for later mentions."""
    head = re.split(r" (?:that|with|in|of|full)\b", obj.split(" ", 1)[1])[0]
    return head.split(" ")[-1]


def story_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    obj = w.pick(LEX["story_object"])
    ctx = {"protagonist": w.pick(LEX["character"]), "object": obj, "thing": story_thing(obj),
           "setting": w.pick(LEX["story_setting"]), "hero": w.pick(LEX["name"])}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(STORY_PROMPTS) if i == 0 else w.draw(
            ["Can you continue the story?", "Rewrite the ending so that it is more hopeful.", "Now tell it from the point of view of {character}."]), ctx)
        title = f"**{w.pick(['The', 'A'])} {w.pick(['Key', 'Letter', 'Lantern', 'Map', 'Tide', 'Promise', 'Visitor', 'Silence', 'Gift', 'Harbour'])} of {ctx['hero']}**"
        n_par = w.n_paragraphs(2.0 * size if i == 0 else 1.2 * size, lo=2)
        parts = ([title] if i == 0 and w.rng.random() < 0.5 else []) + w.paragraphs(STORY_BODY, n_par, ctx, 2, 5)
        out.append((prompt, "\n\n".join(parts) or w.fill("And so the story of {=hero} ended, quietly, in {=setting}.", ctx)))
    return out
