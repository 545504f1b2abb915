"""Rows for decontamination: a verbatim copy of an evaluation prompt inside a longer prompt (must be found),
and rows on the same subjects in other words (must not be).

The evaluation prompts are those ``tome eval`` answers by default (the seed's three prompts, read from
``evaluation/prompt_sets.py``, so the sample follows them when they change).
"""

from __future__ import annotations

import re

from evaluation.prompt_sets import default_prompt_set

from .rows import after_another_exchange, conversation
from .topics.math_problems import money
from .writer import Writer

EVAL_PROMPTS: dict[str, str] = {p.id: p.text for p in default_prompt_set()}
_SLOT = "\x00"  # where the evaluation prompt goes, so that the template engine never touches its text
_TOKENS = re.compile(r"\w+")

WRAPPERS = [
    "I'm preparing a {field_of_study} study guide, and one of the practice questions is this:\n\n\"\x00\"\n\nCould you write a model answer?",
    "My teacher gave us the following task. \x00 I have to hand it in on [Monday|Thursday|Friday], so please help me get started.",
    "\x00 This is part of a comparison of chat assistants that {name} is running, so please answer as well as you can.",
    "Here is a prompt from a public evaluation set that I want to practise on:\n\n\x00\n\nHow would a strong assistant answer it?",
    "Context: we are collecting examples for a workshop on [writing|planning|science teaching|public speaking].\n\nTask: \x00\n\nPlease keep the answer well organised.",
    "{name} sent me this and asked what I would say: \"\x00\" Can you answer it for me?",
    "Please answer the question below exactly as it is asked.\n\n\x00",
    "[For a class exercise|For my notes|For a practice round], answer this one: \x00 [Thanks!|Thank you.|I appreciate it.]",
]
FOLLOW_UPS = ["Thanks! Next one from the same worksheet: \x00", "Great. Now a harder one: \x00",
              "That helps. Could you also do this one? \x00"]

# ---- answers to the three prompts ------------------------------------------------------------------

JAPAN_PLACES = {
    "Tokyo": (["Senso-ji temple in Asakusa before the shops open", "the Meiji shrine and its forest paths",
               "a morning sumo practice at a stable in Ryogoku"],
              ["the Edo-Tokyo Museum", "the quiet old streets of Yanaka", "a calligraphy class with a local teacher"],
              ["a kabuki performance at the Kabukiza theatre", "dinner at a small izakaya near Shinjuku station"]),
    "Kyoto": (["the red gates of Fushimi Inari at dawn", "Kiyomizu-dera and the lanes of Higashiyama",
               "the Golden Pavilion and its pond"],
              ["a tea ceremony in a wooden townhouse", "lunch among the stalls of Nishiki market",
               "the rock garden at Ryoan-ji"],
              ["a walk through Gion at dusk", "a kaiseki dinner at a ryokan", "a quiet evening by the Kamo river"]),
    "Nara": (["the Great Buddha hall at Todai-ji", "the deer park and its lanterns"],
             ["Kasuga shrine and its bronze lanterns", "the old merchant quarter of Naramachi"],
             ["an early train back with a bento box"]),
}


def japan_answer(w: Writer, days: int, lead: str) -> str:
    route = w.pick([["Tokyo", "Kyoto", "Kyoto", "Nara"], ["Kyoto", "Kyoto", "Nara", "Kyoto"], ["Tokyo", "Tokyo", "Kyoto", "Kyoto"]])[:days]
    blocks = []
    used: set[str] = set()
    for k, city in enumerate(route, start=1):
        parts = []
        for label, pool in zip(("Morning", "Afternoon", "Evening"), JAPAN_PLACES[city]):
            free = [p for p in pool if p not in used] or pool
            choice = w.pick(free)
            used.add(choice)
            parts.append(f"- {label}: {choice}")
        blocks.append(f"**Day {k}: {city}**\n" + "\n".join(parts))
    nights = days - 1
    rows = [("Accommodation", f"{nights} night{'s' if nights != 1 else ''}", w.rng.randint(140, 260) * nights),
            ("Trains and local transport", "for two", w.rng.randint(28, 46) * 10),
            ("Food", "for two", w.rng.randint(9, 16) * 10 * days),
            ("Temples, museums and experiences", "for two", w.rng.randint(12, 30) * 10)]
    total = sum(r[2] for r in rows)
    budget = "**Budget**\n" + "\n".join(f"- {name} ({note}): {money(cost)[:-3]}" for name, note, cost in rows)
    budget += f"\n- Total: {money(total)[:-3]}"
    tip = w.fill(w.pick([
        "Book the tea ceremony and the kabuki tickets a few weeks ahead; both sell out.",
        "A rail pass only pays off with several long journeys, so compare it with single tickets first.",
        "Carry some cash: small temples and market stalls often do not take cards.",
        "[Trains|Local trains] are punctual, so a tight plan is realistic, but leave room for a slow afternoon.",
    ]))
    return "\n\n".join([lead, *blocks, budget, tip])


KID_SENTENCES = [
    "Plants are a bit like little kitchens that make their own food.",
    "They use sunlight as their energy, water from their roots and a gas called carbon dioxide from the air.",
    "The green colour in leaves, called chlorophyll, is what catches the light.",
    "What is left over is oxygen, which the plant lets out into the air for us to breathe.",
    "That is why leaves are usually flat and wide: they want to catch as much sunshine as they can.",
    "The food they make is a kind of sugar, and the plant uses it to grow taller and stronger.",
]
STUDENT_SENTENCES = [
    "Photosynthesis converts light energy into chemical energy stored in sugars.",
    "The light-dependent reactions run in the thylakoid membranes, where photosystems II and I drive an electron transport chain that yields ATP and NADPH.",
    "Water is split at photosystem II, which supplies electrons and releases oxygen as a by-product.",
    "In the Calvin cycle, in the stroma, the enzyme RuBisCO fixes carbon dioxide onto ribulose bisphosphate.",
    "ATP and NADPH from the light reactions reduce the fixed carbon to glyceraldehyde 3-phosphate, part of which regenerates the acceptor.",
    "Stomata regulate gas exchange, trading carbon dioxide uptake against water loss.",
    "C4 and CAM plants separate carbon fixation in space or in time to limit photorespiration.",
]
CONTRAST_SENTENCES = [
    "The first version relies on everyday comparisons and avoids the names of molecules.",
    "The second version names the compartments, the energy carriers and the key enzyme.",
    "Both keep the same core idea: light goes in, and sugar and oxygen come out.",
    "The vocabulary grows from words like food and sunshine to terms such as electron transport and carbon fixation.",
]


def photosynthesis_answer(w: Writer, headed: bool = True) -> str:
    kid = " ".join(w.rng.sample(KID_SENTENCES, w.rng.randint(3, 5)))
    student = " ".join(w.rng.sample(STUDENT_SENTENCES, w.rng.randint(4, 6)))
    contrast = " ".join(w.rng.sample(CONTRAST_SENTENCES, w.rng.randint(2, 3)))
    if not headed:
        return "\n\n".join([kid, student])
    heads = w.pick([("**For a 10-year-old**", "**For a college biology student**", "**What changes**"),
                    ("Simple version:", "Detailed version:", "The differences:")])
    return "\n\n".join(f"{h}\n{t}" for h, t in zip(heads, [kid, student, contrast]))


ISLAND = {
    "solar panels": (["Panels are modular, so the system can start small and grow with demand.",
                      "Maintenance is simple and can be learned by local technicians.",
                      "Most small islands get strong sunshine for much of the year.",
                      "Panels fit on rooftops and car parks, so little open land is needed.",
                      "Prices have fallen sharply over the past decade.",
                      "There are no moving parts, so fewer spare parts have to be shipped in.",
                      "Installation needs no heavy cranes, which small harbours rarely have."],
                     ["Output stops at night, so batteries are needed for the evening peak.",
                      "Salt spray and storms call for sturdy mounts and corrosion-resistant frames.",
                      "Cloudy seasons cut output, so a small backup generator is still useful.",
                      "Large arrays compete with farming and nature for scarce flat land."]),
    "wind turbines": (["Islands often have steady sea breezes, especially on exposed coasts.",
                       "A few turbines can cover a large share of a small community's demand.",
                       "Wind often blows at night and in winter, when sunshine is scarce.",
                       "Turbines take up little ground, leaving land for farming.",
                       "One modern turbine can produce more energy per year than a large field of panels.",
                       "Wind power has a long record on islands such as Orkney and Samsø."],
                      ["Large parts must arrive by ship, and installation may need a crane the island does not have.",
                       "Storms can force shutdowns, and repairs need specialist staff.",
                       "Noise and the change to the view can worry residents, so the sites need consultation.",
                       "Calm spells of several days need storage or a backup supply."]),
}


def island_answer(w: Writer) -> str:
    choice = w.pick(sorted(ISLAND))
    reasons, challenges = ISLAND[choice]
    picked = w.rng.sample(reasons, 3)
    lead = w.fill(f"[I would recommend|My recommendation is] **{choice}** for a small island[.|, with storage planned from the start.]")
    body = "**Reasons**\n" + "\n".join(f"{k}. {r}" for k, r in enumerate(picked, start=1))
    risks = "**Potential challenges**\n" + "\n".join(f"- {c}" for c in w.rng.sample(challenges, 2))
    close = w.pick(["In the long run, a mix of both with battery storage is often the most robust option.",
                    "Start with a pilot installation and measure real output for a year before scaling up."])
    return "\n\n".join([lead, body, risks, close])


def eval_answer(w: Writer, prompt_id: str) -> str:
    if prompt_id == "japan_trip":
        return japan_answer(w, 3, w.pick(["Here is a three-day plan that stays inside the budget and puts culture first.",
                                          "Below is a relaxed three-day itinerary, with the costs added up at the end."]))
    if prompt_id == "photosynthesis":
        return photosynthesis_answer(w)
    if prompt_id == "island_energy":
        return island_answer(w)
    raise ValueError(prompt_id)


def contaminated_turns(w: Writer, prompt_id: str, source: str) -> list[dict]:
    """The evaluation prompt, verbatim, inside a longer prompt (in the first turn, or in a second one)."""
    text = EVAL_PROMPTS[prompt_id]
    answer = eval_answer(w, prompt_id)
    if w.rng.random() < 0.5:
        turns = conversation(w, source, n_ex=1, size=0.7, system=False)
        return turns + [{"from": "human", "value": w.pick(FOLLOW_UPS).replace(_SLOT, text)}, {"from": "gpt", "value": answer}]
    return [{"from": "human", "value": w.fill(w.pick(WRAPPERS)).replace(_SLOT, text)}, {"from": "gpt", "value": answer}]


# ---- the same subjects in other words --------------------------------------------------------------

NEAR_MISS_PROMPTS = {
    "japan_trip": [
        "My [sister|best friend|husband] and I have [four|two] days in Kyoto and Nara in [November|April]. Which temples, gardens and markets would you put on the list, and roughly what would it cost?",
        "What is a sensible daily budget for a couple travelling around Japan by train, staying in small inns and visiting shrines?",
        "Could you sketch a [two|four]-day route through Tokyo and Kyoto for someone who loves old buildings and food?",
    ],
    "photosynthesis": [
        "How do green plants turn sunlight into food? I'm a [nursing|history|first-year] student and we only covered it briefly.",
        "Why are leaves green, and what does chlorophyll actually do inside them?",
        "Can you compare the light reactions and the Calvin cycle for me in a few short paragraphs?",
    ],
    "island_energy": [
        "Our school wants to put panels on the roof of the gym. What should we check before we decide?",
        "For a remote village with a windy hill nearby, what are the main pros and cons of a couple of turbines?",
        "How do small communities usually store electricity from renewable sources overnight?",
    ],
}


def near_miss_turns(w: Writer, prompt_id: str, k: int, source: str) -> list[dict]:
    prompt = w.fill(NEAR_MISS_PROMPTS[prompt_id][k])
    if prompt_id == "japan_trip":
        days = 4 if "four" in prompt else 2 if "two" in prompt else 3
        answer = japan_answer(w, days, w.pick(["Here is one way to spread it out.", "A possible plan, with rough costs:"]))
    elif prompt_id == "photosynthesis":
        answer = photosynthesis_answer(w, headed=False)
    else:
        reasons, challenges = ISLAND["solar panels" if k != 1 else "wind turbines"]
        answer = "\n\n".join([" ".join(w.rng.sample(reasons, 3)), "Points to watch:\n" + "\n".join(f"- {c}" for c in challenges)])
        if k == 2:
            answer = ("Most use batteries, sized for the evening peak rather than for whole days. " +
                      " ".join(w.rng.sample(challenges, 2)) + " " + w.pick(reasons))
    return after_another_exchange(w, source, [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}])


# ---- self-checks ---------------------------------------------------------------------------------


def eval_overlap(text: str, n: int = 8) -> str | None:
    """The id of an evaluation prompt that has a word ``n``-gram (lower-cased ``\\w+``) in common with ``text``, if any."""
    tokens = _TOKENS.findall(text.lower())
    grams = {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
    for pid, prompt in EVAL_PROMPTS.items():
        ptoks = _TOKENS.findall(prompt.lower())
        if any(tuple(ptoks[i : i + n]) in grams for i in range(len(ptoks) - n + 1)):
            return pid
    return None
