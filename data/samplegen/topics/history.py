"""History essays: causes, consequences and how historians know."""

from __future__ import annotations

from ..lexicon import HISTORY_EVENTS
from ..writer import Writer

HIST_PROMPTS = [
    "Summarize the causes and consequences of {=event}.",
    "What role did {hist_group} play in {=event}?",
    "How do historians know what happened during {=event}?",
    "Explain {=event} to someone who has never studied history.",
    "Was {=event} mainly driven by {hist_factor}? Give a balanced answer.",
    "Write a short essay on {=event} and its long-term effects on {region}.",
    "What were the most important changes that came with {=event}, and who benefited from them?",
    "Compare {=event} with what was happening in {region} at roughly the same time.",
]
HIST_BODY = [
    "Historians usually trace the roots of {=event} to {hist_factor} and {hist_factor2}.",
    "In {region}, {hist_group} [felt the change first|were among the first to adapt|resisted the new order|profited most quickly], because {hist_factor} had [already reshaped|begun to transform|started to threaten] their daily lives.",
    "By {century}, {hist_consequence}, and {hist_group} [found new opportunities|lost much of their influence|had to renegotiate old privileges].",
    "Much of our evidence comes from {hist_source}, which record [prices|wages|disputes|journeys|debts|harvests|marriages] in [remarkable|surprising|patchy|uneven] detail.",
    "It would be a mistake to see {=event} as the work of a few famous leaders; {hist_group} and {hist_group2} shaped it just as much.",
    "One [immediate|lasting|unexpected|less obvious] consequence was that {hist_consequence}.",
    "Contemporary observers disagreed sharply: some praised the changes, while {hist_group} complained about {hist_factor}.",
    "Recent research based on {hist_source} suggests that the role of {hist_factor} has been [overstated|underestimated|misunderstood] for a long time.",
    "The effects reached far beyond {region}; within a few generations {hist_consequence} in {region2} as well.",
    "Historians still debate whether {hist_factor} caused the change or merely sped up a process that was already under way.",
    "Ordinary life changed slowly: {hist_group} still [worked the same fields|sailed the same routes|paid the same dues|kept the same festivals], even as {hist_consequence}.",
    "A useful comparison is {region}, where {hist_factor} produced [a very different|a similar|a weaker|a far stronger] result.",
    "Scholars [often|sometimes|increasingly] divide the period into [two|three|four] phases, each marked by a shift in {hist_factor}.",
    "Women in families of {hist_group} [ran workshops|managed accounts|organised relief|kept records|traded at markets], a role that older accounts tend to overlook.",
    "Taken together, these developments show how {hist_factor} could [reshape|unsettle|strengthen] societies that had seemed stable for centuries.",
    "The surviving {hist_source} from {region} are [unusually rich|frustratingly thin|scattered across many archives], which shapes what historians can say with confidence.",
    "For {hist_group}, the most [pressing|visible|painful] change was that {hist_consequence}.",
    "Some of the changes were [reversed|softened|accelerated] during {century}, when {hist_factor} [returned|faded|intensified].",
    "Local records from {region} show {hist_group} [petitioning rulers|forming new associations|moving to the towns|investing in ships|buying land] as {hist_factor} changed the balance of power.",
    "The story looks different when told from the point of view of {hist_group}, whose [letters|accounts|complaints|songs] survive in {hist_source}.",
    "Geography mattered as well: rivers, mountain passes and harbours in {region} decided where {hist_group} could [settle|trade|travel|recruit workers].",
    "Prices offer a [revealing|useful|blunt] measure, and in {region} they [doubled|fell|swung wildly] within a single generation.",
    "Religious institutions in {region} [kept the best records|lent money|ran hospitals|sheltered refugees], so their archives are central to the story.",
    "Older textbooks told this as a story of progress, but historians now stress how uneven it was for {hist_group}.",
    "Rulers in {region} responded [cautiously|with force|by granting new charters|by raising taxes], and {hist_group} had to adjust quickly.",
    "Technology was only part of the story; {hist_factor} and the habits of {hist_group} mattered at least as much.",
]
HIST_CLOSERS = [
    "In short, {=event} grew out of {hist_factor}, and its legacy is still visible in {region}.",
    "Overall, {=event} is best understood as a slow process rather than a single moment.",
    "The lasting lesson is that {hist_factor} and the choices of ordinary {hist_group} mattered as much as any single decision.",
]
HIST_FOLLOWUPS = [
    "What sources would you recommend for learning more about {hist_group} in that period?",
    "How did this affect {hist_group} in {region}?",
    "Which consequence do you think mattered most, and why?",
    "Were there any parallels in {region}?",
]


def history_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    ctx = {"event": w.pick(HISTORY_EVENTS)}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(HIST_PROMPTS) if i == 0 else w.draw(HIST_FOLLOWUPS), ctx)
        n_par = w.n_paragraphs(1.6 * size if i == 0 else 1.0 * size)
        parts = w.paragraphs(HIST_BODY, n_par, ctx) or [w.fill("It is hard to add much more without repeating myself, but {hist_source} are a good next step.")]
        if w.rng.random() < 0.3 and len(parts) >= 2:
            heads = w.pick([("Causes", "Consequences"), ("Background", "Effects"), ("Short-term", "Long-term")])
            parts[0] = f"**{heads[0]}.** " + parts[0]
            parts[1] = f"**{heads[1]}.** " + parts[1]
        if i == 0 and w.rng.random() < 0.6:
            parts.append(w.fill(w.pick(HIST_CLOSERS), ctx))
        out.append((prompt, "\n\n".join(parts)))
    return out
