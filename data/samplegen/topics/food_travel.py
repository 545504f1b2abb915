"""Cooking and travel."""

from __future__ import annotations

from ..lexicon import LEX
from ..writer import Writer

FOOD_PROMPTS = [
    "How do I make {=dish} at home?",
    "Can you suggest a menu built around {=dish} for a dinner party of {=n_guests}?",
    "What's the secret to a really good {=dish}?",
    "I want to cook {=dish} but I don't have {ingredient}. What can I use instead?",
]
TRAVEL_PROMPTS = [
    "What should I see in {=place} if I only have {=n_days} days?",
    "I'm visiting {=place} in {season}. Any tips?",
    "Is {=place} a good destination for a first solo trip?",
    "Plan a relaxed weekend in {=place} for someone who loves food and museums.",
]
FOOD_BODY = [
    "[First|To begin|Next|Then|After that], {technique} the {ingredient} [over a medium heat|for about five minutes|until golden|in small batches|with a pinch of salt].",
    "A good {=dish} depends on decent {ingredient} and on patience more than on technique.",
    "If you cannot find {ingredient}, {ingredient2} works [surprisingly well|in a pinch|nearly as well].",
    "Many cooks in {place} add {ingredient} at the very end, which keeps the flavour bright.",
    "Do not rush the step where you {technique} the {ingredient}; that is where most of the flavour develops.",
    "Taste as you go and adjust the {ingredient} before serving.",
    "You can prepare the {ingredient} a day ahead and keep it covered in the fridge.",
    "For a lighter version, replace half of the {ingredient} with {ingredient2}.",
    "Serve it with {ingredient} on the side and something crisp and fresh to balance the richness.",
    "Let it rest for [ten|fifteen|twenty] minutes so the texture settles before you cut or spoon it.",
    "A common mistake is to {technique} everything at once; the pan cools and the {ingredient} steams instead.",
    "Use a heavy pan if you have one, because thin pans scorch the {ingredient} before it softens.",
    "Season in layers: a little salt early, then {ingredient} and a squeeze of lemon at the end.",
    "Leftovers keep for [two|three] days and often taste better once the flavours have settled.",
    "If guests are coming, make the {=dish} an hour early and warm it gently before serving.",
    "Cut everything to a similar size so the {ingredient} and the {ingredient2} cook evenly.",
]
TRAVEL_BODY = [
    "Spend your first morning at {travel_thing}, before the crowds arrive.",
    "{=place} is at its best in {season}, when the light is soft and the streets are quieter.",
    "Locals recommend {travel_thing} and, if you have time, a day trip to {place}.",
    "Book {travel_thing} in advance if you travel during {season}.",
    "Try the {dish} at {travel_thing}; it is a local favourite.",
    "Walking is the easiest way to see the old quarter, and the streets around {travel_thing} reward a slow pace.",
    "Public transport is [cheap|reliable|easy to use], but {travel_thing} is best reached on foot.",
    "Carry a little cash, because {travel_thing} and many small shops still prefer it.",
    "If the weather turns, {travel_thing} makes a [good|pleasant|welcome|cosy] indoor alternative.",
    "Save your last evening for {travel_thing}; it is a fitting way to end the trip.",
    "Learn a few words of the local language; people in {=place} appreciate the effort.",
    "Stay near the centre if you can, so that {travel_thing} and the station are within walking distance.",
    "Museums often close one day a week, so check opening hours before you plan {travel_thing}.",
    "For lunch, skip the main square and look for {travel_thing}, where prices are lower.",
]


def food_travel_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    travel = w.rng.random() < 0.5
    ctx = {"dish": w.pick(LEX["dish"]), "place": w.pick(LEX["place"]),
           "n_guests": w.pick(["four", "six", "eight", "ten"]), "n_days": w.pick(["two", "three", "four", "five"])}
    body = TRAVEL_BODY if travel else FOOD_BODY
    out = []
    for i in range(n_ex):
        if i == 0:
            prompt = w.fill(w.draw(TRAVEL_PROMPTS if travel else FOOD_PROMPTS), ctx)
        else:
            prompt = w.fill(w.draw(["What would you change for a vegetarian?", "Any tips for doing this on a budget?",
                                    "What should I avoid?", "How would this change in {season}?"]), ctx)
        parts = []
        if not travel and i == 0 and w.rng.random() < 0.6:
            ings: list[str] = []
            for _ in range(w.rng.randint(4, 8)):
                ing = w.pick(LEX["ingredient"])
                if ing not in ings:
                    ings.append(ing)
            amounts = ["1 tablespoon of", "2 cloves of", "a handful of", "200 g of", "1 teaspoon of", "a pinch of", "400 ml of", "3 sprigs of", "50 g of"]
            parts.append("**Ingredients**\n" + "\n".join(f"- {w.pick(amounts)} {x}" for x in ings))
        parts += w.paragraphs(body, w.n_paragraphs(1.6 * size if i == 0 else 1.0 * size), ctx)
        out.append((prompt, "\n\n".join(parts) or w.fill("Keep it simple and enjoy {=place}.", ctx)))
    return out
