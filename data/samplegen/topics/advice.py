"""Advice lists and personal finance."""

from __future__ import annotations

from ..lexicon import LEX
from ..writer import Writer, cap

ADV_PROMPTS = [
    "I'm {situation} and I feel {feeling}. How can I {=goal}?",
    "What are some practical ways to {=goal}?",
    "Give me a realistic plan to {=goal} within a month.",
    "My friend is {situation} and wants to {=goal}. What advice would you give?",
    "How do I {=goal} without burning out?",
    "I've tried to {=goal} several times and always give up after a few {time_unit}. Any suggestions?",
]
ADV_TIP = [
    "**{tip_verb} {tip_object}.** This helps because {reason}.",
    "{tip_verb} {tip_object}; {reason}.",
    "Try to {tip_verb} {tip_object}, since {reason}.",
    "**{tip_verb} {tip_object}.** Many people skip this step, yet {reason}.",
    "{tip_verb} {tip_object} and review how it went every few {time_unit}.",
    "If you can, {tip_verb} {tip_object} before the week gets busy.",
    "Consider asking a friend to help you {tip_verb} {tip_object}.",
    "**Small step:** {tip_verb} {tip_object}, even if it feels trivial at first.",
    "Each evening, {tip_verb} {tip_object} so the next day starts with a decision already made.",
    "{tip_verb} {tip_object}, then notice whether you feel {feeling} or calmer afterwards.",
    "Experiment for one week: {tip_verb} {tip_object} and write down what changes.",
    "Make it visible: {tip_verb} {tip_object} on a sheet of paper by the door.",
]
ADV_BODY = [
    "It is normal to feel {feeling} at first; most people do when they try to {=goal}.",
    "Start with one change rather than five, because {reason}.",
    "After two or three {time_unit}, look back at what worked and drop what did not.",
    "If you miss a day, do not treat it as failure; simply {tip_verb} {tip_object} the next morning.",
    "Many people in your position find that {reason}.",
    "A [simple|handy|useful|clever|practical] trick is to {tip_verb} {tip_object} and keep the list where you can see it.",
    "Notice when you feel {feeling}, because that is usually the moment old habits return.",
    "Be honest about your constraints: a [modest|simple|small|realistic] plan you follow beats an ambitious plan you abandon.",
    "Ask someone you trust how they manage to {goal}; you may pick up a [useful|fresh|practical|new] idea or two.",
    "Keep the first week deliberately easy, since {reason}.",
    "Remember that progress is rarely linear, and feeling {feeling} for a few {time_unit} is part of the process.",
    "Sleep, food and movement affect every other goal, so protect them first.",
    "Write your reason for wanting to {=goal} on a card; reread it when motivation dips.",
    "Compare yourself with where you were a month ago, not with other people.",
    "When a plan stops working, change one variable at a time so you can tell what helped.",
]
FIN_PROMPTS = [
    "Should I pay off {=fin_topic} before I start investing?",
    "How does {=fin_topic} work, in plain language?",
    "What should I check before taking on {=fin_topic}?",
    "Explain {=fin_topic} to someone who just got their first full-time job.",
    "I have {=fin_topic} and {=fin_topic2}. Which should I focus on first?",
]
FIN_BODY = [
    "Before you decide anything, {fin_action}.",
    "A sensible first step is to {fin_action}, and then {fin_action2}.",
    "Many people overlook {fin_topic}, yet it shapes how much room you have for everything else.",
    "Interest works in both directions: it grows your savings slowly and your debts quickly.",
    "If your income is irregular, {fin_action} and keep a larger cash buffer than usual.",
    "Whatever you choose, {fin_action}; small fees compound just like returns do.",
    "Compare at least three offers, and {fin_action}.",
    "Think about {=fin_topic} in terms of the total cost over its whole life, not the monthly payment alone.",
    "Inflation quietly erodes cash, so money you will not need for years usually belongs somewhere it can grow.",
    "Write down your goals with rough dates; it is much easier to judge {=fin_topic} against a concrete plan.",
    "Check how {=fin_topic} affects your taxes, since the rules differ from country to country.",
    "If anything in the contract is unclear, ask the lender to explain it in writing.",
    "Rates quoted as [monthly|weekly|daily] figures look small; convert them to an annual rate before you compare.",
    "A [spreadsheet|notebook|budgeting app] with one line per [account|debt|goal] makes the trade-offs much easier to see.",
    "Your [employer|bank|union|credit union] may offer [free|low-cost|subsidised] guidance on {fin_topic}.",
    "Sudden [job changes|moves|repairs|medical bills] are exactly why a cash cushion comes before riskier choices.",
    "[Review|Revisit|Check] the plan [every spring|once a quarter|after any pay rise|each January] and adjust the amounts.",
    "Avoid decisions made under pressure; a [reputable|trustworthy|legitimate] provider will give you time to read the terms.",
]
FIN_DISCLAIMER = [
    "This is general information rather than personal advice; a qualified adviser can look at your full situation.",
    "Everyone's circumstances differ, so treat this as a starting point rather than a recommendation.",
]


def advice_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    ctx = {"goal": w.pick(LEX["goal"])}
    out = []
    for i in range(n_ex):
        if i == 0:
            prompt = w.fill(w.draw(ADV_PROMPTS), ctx)
        else:
            prompt = w.fill(w.draw(["What if I only have a few free {time_unit} here and there?", "Which of these should I start with?",
                                    "How do I stay motivated when I feel {feeling}?", "Can you turn that into a weekly schedule?"]), ctx)
        parts = [w.paragraph(ADV_BODY, ctx, 1, 3)]
        n_tips = max(2, min(12, int(w.rng.lognormvariate(0, 0.4) * 3.5 * size)))
        tips = w.sentences(ADV_TIP, n_tips, ctx)
        if tips and w.rng.random() < 0.6:
            parts.append("\n".join(f"{k + 1}. {cap(t)}" for k, t in enumerate(tips)))
        elif tips:
            parts.append("\n".join(f"- {cap(t)}" for t in tips))
        parts += w.paragraphs(ADV_BODY, w.n_paragraphs(0.6 * size, lo=0), ctx, 2, 4)
        if w.rng.random() < 0.4:
            parts.append(w.fill(w.draw(LEX["closing"]) or "Good luck!"))
        out.append((prompt, "\n\n".join(p for p in parts if p)))
    return out


def finance_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    topic, topic2 = w.rng.sample(LEX["fin_topic"], 2)
    ctx = {"fin_topic": topic, "fin_topic2": topic2}
    out = []
    for i in range(n_ex):
        prompt = w.fill(w.draw(FIN_PROMPTS) if i == 0 else w.draw(
            ["Can you show me a quick example with numbers?", "What would you do first in my place?", "How often should I review this?"]), ctx)
        balance = w.rng.randrange(1200, 24000, 50)
        rate = w.rng.choice([3.5, 4.2, 5.9, 7.4, 9.9, 12.5, 18.9, 22.4, 24.9])
        interest = balance * rate / 100
        example = w.fill("[For example|As an illustration|To put numbers on it], a balance of {=b} at {=r}% a year costs about {=i} in interest over "
                         "[twelve months|a year] if nothing is repaid, or roughly {=m} [a month|per month].",
                         {"b": f"${balance:,}", "r": rate, "i": f"${interest:,.2f}", "m": f"${interest / 12:,.2f}"})
        parts = [w.paragraph(FIN_BODY, ctx, 2, 4), example]
        parts += w.paragraphs(FIN_BODY, w.n_paragraphs(1.0 * size, lo=0), ctx, 2, 3)
        parts.append(FIN_DISCLAIMER[i % 2])
        out.append((prompt, "\n\n".join(p for p in parts if p)))
    return out
