"""Science explanations: a concept, its definition, steps and key points."""

from __future__ import annotations

from ..lexicon import LEX, SCIENCE_CONCEPTS
from ..writer import Writer, cap

SCI_PROMPTS = [
    "Explain how {=concept} works and why it matters in {=domain}.",
    "What is {=concept}? Please give an everyday example.",
    "Can you describe {=concept} in simple terms for a {learner}?",
    "Why does {=concept} happen, and how do scientists study it?",
    "I keep mixing up {=concept} and {=concept2}. What is the difference between them?",
    "Describe the role of {=concept} in {field_of_study}, with one experiment a student could try at home.",
    "My textbook says that {=concept} is {=definition}. What does that actually mean?",
    "What are the main factors that control {=concept}? Explain each one briefly.",
    "Write a short explanation of {=concept} for a {learner}, including a common misconception.",
    "How would you teach {=concept} to a {learner} using only things found in a kitchen?",
    "Give a detailed explanation of {=concept}. Include how {quantity} affects it and where it shows up in {field_of_study}.",
]
SCI_INTRO = [
    "{=Concept} is {=definition}.",
    "In short, {=concept} is {=definition}.",
    "Put simply, {=concept} refers to {=definition}.",
    "{=Concept} can be summed up as {=definition}.",
    "Great question. {=Concept} is {=definition}.",
]
SCI_BODY = [
    "At the [microscopic|molecular|cellular|everyday] scale, {sci_thing} {sci_action} in response to {sci_driver}, which is why {observation}.",
    "A useful way to picture this is to imagine {analogy}.",
    "Researchers often follow the process with a {instrument}, recording the {quantity} every few {time_unit}.",
    "When {sci_driver} is [added|removed|doubled|reduced], the {quantity} [changes|shifts|responds] [far more than|less than|roughly as much as] most people expect.",
    "In {field_of_study}, the same idea helps explain why {sci_thing} {sci_action} during {season}.",
    "A common misconception is that {misconception}, but {evidence} show otherwise.",
    "Much of what we know comes from {evidence}, which reveal how {sci_thing} {sci_action} over {time_unit} and {time_unit2}.",
    "The {quantity} matters because {sci_thing} {sci_action} [only|mostly|more readily] once it passes a [certain|critical|well-defined] threshold.",
    "You can see a version of this at home: {home_action} and watch closely, because {observation}.",
    "This is also why {sci_thing} near {sci_place} {sci_action} [faster|more slowly|more visibly] than {sci_thing2} elsewhere.",
    "Engineers take advantage of it when they design {artifact} and {artifact2}.",
    "Without it, {sci_thing} would [rarely|hardly ever|not] {sci_action}, and you would [never notice|rarely see|struggle to measure] that {observation}.",
    "The rate depends on the {quantity}, the {quantity2} and, to a lesser extent, the {quantity3} of the surroundings.",
    "Measured carefully, the change in {quantity} can be as small as a fraction of a percent, yet it [adds up|accumulates|becomes important] over many {time_unit}.",
    "Students often test this by [changing|varying] the {quantity} while keeping everything else fixed, then noting whether {observation}.",
    "Because {sci_thing} {sci_action} under {sci_driver}, the overall {quantity} of the system [rises|falls|drifts] until a new balance is reached.",
    "The effect was first described [in detail|systematically|quantitatively] by scientists working in {field_of_study}, who relied on {evidence}.",
    "In a [warm|humid|dry|crowded|sunny|sheltered|salty|acidic] environment, {sci_thing} tend to {sci_action}, while in a [cooler|wetter|drier|saltier|darker] one they {sci_action2}.",
    "Keep in mind that {=concept} is rarely the only process at work; {sci_thing} also {sci_action} because of {sci_driver}.",
    "If you plotted the {quantity} against time, the curve would [climb steeply at first and then level off|rise in small steps|fall and then slowly recover|wobble around a steady average].",
    "Scientists often express this as a [simple|rough|practical] rule: the larger the {quantity}, the [faster|more slowly|more strongly] {sci_thing} {sci_action}.",
    "One [classic|simple|memorable] demonstration uses a {instrument} and a [glass jar|metal tray|sealed bag|strip of paper|bowl of water|length of string].",
    "In nature, you can observe it in {nature_place} during {season}, when {observation}.",
    "{evidence} suggest that {sci_thing} {sci_action} [within|over|across] a few {time_unit} once {sci_driver} takes hold.",
    "Note that a [small|sudden|gradual|large|seasonal] change in {quantity} can [hide|exaggerate|mask] the effect, so careful experiments control it.",
    "For a {learner}, the key takeaway is that {sci_thing} {sci_action} when conditions change.",
    "Textbooks in {field_of_study} usually introduce it next to {=concept2}, since both involve {sci_thing}.",
    "Temperature, {quantity} and time all interact here, which is why [field measurements|classroom results|laboratory readings] can look noisy.",
    "Early experimenters [were puzzled|argued for decades|disagreed] about why {sci_thing} {sci_action}, until {evidence} settled the question.",
    "Try predicting what happens before you [look|measure|check]: does the {quantity} go up, go down, or stay [roughly|almost|nearly] constant?",
    "The [same|underlying] principle turns up in {artifact}, where designers [limit|control|exploit] the {quantity} on purpose.",
    "On a [planetary|regional|global|local] scale, {sci_thing} {sci_action}, and over {time_unit} that shapes the landscape around {sci_place}.",
    "It helps to separate cause from effect: {sci_driver} is the cause, while the change in {quantity} is the effect you [measure|record|notice].",
    "Doubling the {quantity} does not always double the result, because {sci_thing} [eventually|soon|quickly] run out of room to {sci_action}.",
    "A [careful|patient|curious] observer with a notebook and a {instrument} can [reproduce|confirm|repeat] much of this in an afternoon.",
    "Safety matters even in simple experiments: protect your eyes, and never [heat|seal|mix] anything without an adult or teacher nearby.",
]
SCI_FOLLOWUPS = [
    "Can you give another example from {field_of_study}?",
    "How would this change if {sci_driver} were removed?",
    "What simple experiment could test that at home?",
    "How is this related to {=concept2}?",
    "Could you explain the part about {quantity} in more detail?",
    "Why does {quantity} matter so much here?",
]


def science_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    concept, domain, definition = w.pick(SCIENCE_CONCEPTS)
    concept2 = w.pick([c for c in SCIENCE_CONCEPTS if c[0] != concept])[0]
    ctx = {"concept": concept, "Concept": cap(concept), "domain": domain, "definition": definition, "concept2": concept2}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(SCI_PROMPTS) if i == 0 else w.draw(SCI_FOLLOWUPS), ctx)
        parts: list[str] = []
        if i == 0:
            parts.append(w.fill(w.pick(SCI_INTRO), ctx) + " " + w.paragraph(SCI_BODY, ctx, 1, 3))
        n_par = w.n_paragraphs(1.5 * size if i == 0 else 1.0 * size)
        style = w.rng.random()
        if style < 0.35 and n_par >= 2:
            head = w.pick(["Here is how it works, step by step:", "The main stages are:", "Step by step:", "Broken into stages:"])
            steps = w.sentences(SCI_BODY, w.rng.randint(3, 6), ctx)
            if steps:
                parts.append(head + "\n" + "\n".join(f"{k + 1}. {s}" for k, s in enumerate(steps)))
            n_par -= 1
        elif style < 0.55 and n_par >= 2:
            head = w.pick(["**Key points**", "Key factors:", "What to remember:", "**Factors that matter**"])
            items = w.sentences(SCI_BODY, w.rng.randint(3, 5), ctx)
            if items:
                parts.append(head + "\n" + "\n".join(f"- {s}" for s in items))
            n_par -= 1
        parts += w.paragraphs(SCI_BODY, n_par, ctx)
        if w.rng.random() < 0.3:
            parts.append(w.fill(w.draw(LEX["closing"]) or "Happy to help further."))
        out.append((prompt, "\n\n".join(p for p in parts if p.strip())))
    return out
