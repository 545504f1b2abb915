"""The automatic instruction-following checks, on hand-written good and bad answers to the seed prompts."""

from __future__ import annotations

import pytest

from evaluation.checks import (
    audience_parts,
    both_audiences,
    budget_breakdown,
    budget_lines,
    budget_within,
    challenges_section,
    days_covered,
    keywords,
    money_amounts,
    no_repetition,
    reasons,
    run_check,
    single_choice,
    terminology_gap,
)
from evaluation.prompt_sets import CULTURAL_TERMS, default_prompt_set, score_answer

JAPAN_GOOD = """Here is a 3-day cultural trip to Japan for two.

## Daily itinerary
**Day 1: Tokyo**
- Morning: Senso-ji temple in Asakusa and a tea ceremony.
- Evening: kabuki at the Kabuki-za theater.

**Day 2: Kyoto**
- Fushimi Inari shrine, then a walk through Gion to spot a geisha.

**Day 3: Nara**
- Todai-ji temple and the deer park; dinner at a ryokan.

## Budget breakdown (for two)
- Flights: $1,400
- Accommodation (3 nights): $600
- Food: $350
- Transport (JR Pass, metro): $300
- Activities and entrance fees: $150-200
- Souvenirs: $100
Total: $2,950, under the $3,000 budget.
"""

JAPAN_OVER_BUDGET = """Day 1: Tokyo, visit a temple and a museum.
Day 2: Kyoto shrine.
Day 3: Osaka castle.

Budget:
- Flights: $2,200
- Hotel: $900 ($300 x 3 nights)
- Food: $400
Total: $3,500
"""

JAPAN_FOUR_DAYS = """Day 1: Tokyo temple. Day 2: Kyoto shrine. Day 3: Nara. Day 4: Osaka.
Costs: hotel $500, food $300, trains $200."""

JAPAN_NO_BUDGET = """Day one: Tokyo. The second day: Kyoto. Day three: Nara. Enjoy the temples!"""


def test_money_amounts():
    assert money_amounts("Flights: $1,400") == [1400.0]
    assert money_amounts("Activities: $150-200") == [200.0]
    assert money_amounts("Hotel $120.50 per night, 3 nights = $361.50") == [120.5, 361.5]
    assert money_amounts("about 500 USD for food, 20 dollars for tips") == [500.0, 20.0]
    assert money_amounts("Day 1 at 9am, ¥2000") == []


def test_trip_checks_on_a_good_answer():
    assert days_covered(JAPAN_GOOD, 3).passed
    items = budget_lines(JAPAN_GOOD)
    assert [v for _, v in items] == [1400, 600, 350, 300, 200, 100]  # the total line is not an item
    assert budget_breakdown(JAPAN_GOOD).passed
    result = budget_within(JAPAN_GOOD, 3000)
    assert result.passed and "$2,950" in result.detail
    assert keywords(JAPAN_GOOD, CULTURAL_TERMS, 2).passed


def test_trip_checks_on_bad_answers():
    over = budget_within(JAPAN_OVER_BUDGET, 3000)
    assert not over.passed and "$3,500" in over.detail  # 2200 + 900 + 400; the total line is left out
    four = days_covered(JAPAN_FOUR_DAYS, 3)
    assert not four.passed and "beyond" in four.detail
    assert days_covered(JAPAN_NO_BUDGET, 3).passed  # day one / second day / day three
    assert not budget_breakdown(JAPAN_NO_BUDGET).passed
    assert not budget_within(JAPAN_NO_BUDGET).passed
    assert not days_covered("Day 1: Tokyo. Day 3: Nara.", 3).passed
    assert not keywords("We will shop and eat sushi.", CULTURAL_TERMS, 2).passed


PHOTO_GOOD = """**For a 10-year-old:**
Plants are like little chefs. They take sunlight, water from the ground and air, and they make their own food,
which is a kind of sugar. While they cook, they let out oxygen, the air we breathe. The green color in leaves
helps them catch the sunlight, like a solar panel on a roof catches light for a house.

**For a college biology student:**
Photosynthesis converts light energy into chemical energy in the chloroplast. In the light-dependent reactions on
the thylakoid membranes, photosystem II and photosystem I drive an electron transport chain, splitting water
(photolysis) and producing ATP and NADPH. In the Calvin cycle in the stroma, RuBisCO performs carbon fixation of
CO2, and the resulting G3P is used to build glucose.

The key differences: the first explanation uses analogies and everyday words, while the second uses precise
terminology and describes the biochemical pathways in detail.
"""

PHOTO_ONE_AUDIENCE = """Photosynthesis happens in the chloroplast, where chlorophyll absorbs light. The
light-dependent reactions make ATP and NADPH, and the Calvin cycle fixes carbon dioxide into sugar with RuBisCO."""

PHOTO_NO_GAP = """For a 10-year-old: plants use sunlight, water and air to make food and give out oxygen. They are
green because of a pigment and it helps them catch light. That is how they grow big and strong every single day.
For a college student: plants use sunlight, water and air to make food and give out oxygen. They are green and
that helps them catch light, and that is how they grow big and strong every day, which is nice for everyone."""


def test_photosynthesis_checks():
    child, college = audience_parts(PHOTO_GOOD)
    assert "little chefs" in child and "Calvin cycle" in college
    assert both_audiences(PHOTO_GOOD).passed
    gap = terminology_gap(PHOTO_GOOD)
    assert gap.passed and "college part" in gap.detail
    assert not both_audiences(PHOTO_ONE_AUDIENCE).passed
    assert not terminology_gap(PHOTO_ONE_AUDIENCE).passed
    assert both_audiences(PHOTO_NO_GAP).passed
    assert not terminology_gap(PHOTO_NO_GAP).passed


ENERGY_GOOD = """I would recommend solar panels over wind turbines for a small island.

Reasons:
1. Abundant sunshine: tropical islands get strong, steady sunlight all year.
2. Low maintenance: panels have no moving parts, which matters where spare parts are shipped in.
3. Modular: capacity can grow roof by roof as demand grows.
4. Storm resilience: panels can be rated for high winds, while turbines must shut down.

## Potential challenges
- Night-time demand needs battery storage, which adds cost.
- Salt spray corrodes frames, so marine-grade mounts are needed.
"""

ENERGY_BOTH = """I would recommend a combination of both wind turbines and solar panels.
1. Wind blows at night. 2. Sun shines by day. 3. Diversity is good.
Challenges: cost and land use are the main problems to solve."""

ENERGY_NO_CHOICE = """Wind turbines and solar panels both have merits. Wind turbines work at night.
Solar panels are quiet. Each has trade-offs that depend on the island."""

ENERGY_ORDINALS = """My choice is wind turbines. First, islands are windy. Second, turbines use little land.
Third, wind blows at night too. However, a challenge is that storms can damage the blades and repairs are slow."""


def test_energy_checks():
    choice = single_choice(ENERGY_GOOD)
    assert choice.passed and "solar" in choice.detail  # "solar panels over wind turbines" picks solar
    assert reasons(ENERGY_GOOD).passed and "4 listed" in reasons(ENERGY_GOOD).detail
    assert challenges_section(ENERGY_GOOD).passed
    assert not single_choice(ENERGY_BOTH).passed
    assert not single_choice(ENERGY_NO_CHOICE).passed
    assert not challenges_section(ENERGY_NO_CHOICE).passed
    assert not reasons(ENERGY_NO_CHOICE).passed
    ordinal = single_choice(ENERGY_ORDINALS)
    assert ordinal.passed and "wind" in ordinal.detail
    assert reasons(ENERGY_ORDINALS).passed and challenges_section(ENERGY_ORDINALS).passed


def test_repetition_check():
    assert no_repetition(ENERGY_GOOD).passed
    looping = "The island should use solar panels because the sun is bright. " * 12
    assert not no_repetition(looping).passed


def test_default_prompt_set_scores_good_answers_fully():
    prompts = default_prompt_set()
    assert len(prompts) == 3
    from serving.prompts import SEED_PROMPTS

    assert tuple(p.text for p in prompts) == SEED_PROMPTS  # one source of truth
    for prompt, good in zip(prompts, (JAPAN_GOOD, PHOTO_GOOD, ENERGY_GOOD)):
        results = score_answer(prompt, good)
        assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    for prompt, bad in zip(prompts, (JAPAN_OVER_BUDGET, PHOTO_ONE_AUDIENCE, ENERGY_NO_CHOICE)):
        results = score_answer(prompt, bad)
        assert not all(r.passed for r in results)
    empty = score_answer(prompts[1], "")  # an empty answer fails every content check, without crashing
    assert empty and not any(r.passed for r in empty if r.name != "no_repetition")


def test_unknown_check_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown check 'nope'"):
        run_check("text", "nope")


# -- money amounts in a model's loop of digits ------------------------------------------------------------------------

def test_a_bare_amount_never_starts_inside_a_number():
    """A bare amount (``500 dollars``) is searched for where a number starts, not at every digit of a run: the old
    search tried each position of '1111...' with each length of the rest (quadratic: 20,000 digits took 66 s)."""
    from evaluation.checks import _MONEY

    assert _MONEY.match("11 dollars", 1) is None  # inside 11
    assert _MONEY.match("1,000 dollars", 2) is None  # inside 1,000
    assert _MONEY.match("11 dollars", 0).group() == "11 dollars"
    assert money_amounts("3, 4 or 5 dollars") == [5.0] and money_amounts("1.555 dollars") == [555.0]  # (as before)


def test_money_amounts_on_long_digit_runs():
    run = "1" * 50_000
    grouped = "1" + ",111" * 12_500
    assert money_amounts(run) == [] and money_amounts(grouped) == []
    assert money_amounts(f"{run} dollars") == [float(run)]
    assert money_amounts(f"{grouped} USD") == [float(grouped.replace(",", ""))]
    assert money_amounts(f"${run}") == [float(run)]
    assert money_amounts(f"{run}-{run} dollars") == [float(run)]
    assert money_amounts(f"{run} tea, 20 dollars") == [20.0]
    result = run_check(run, "budget_breakdown", {"min_items": 3})
    assert not result.passed and result.detail == "0 budget line(s) with a dollar amount (need 3)"


# -- days past 99 ---------------------------------------------------------------------------------------------------

def test_a_trip_of_more_than_99_days_can_pass():
    """``days`` may be 366, but day numbers of three digits were never read: a 120-day itinerary could not pass."""
    itinerary = "\n".join(f"Day {d}: somewhere new." for d in range(1, 121))
    assert days_covered(itinerary, days=120).passed
    result = days_covered(itinerary + "\nDay 121: home.", days=120)
    assert not result.passed and result.detail == "days named: 1-121; beyond a 120-day trip: 121"
    assert days_covered(itinerary + "\nDay 1000: not a day.", days=120).passed  # (four digits: not a day number)


def test_day_words_past_ten_are_read():
    words = ("Day One", "second day", "Day three", "fourth day", "Day Five", "sixth day", "Day seven", "eighth day",
             "Day Nine", "tenth day", "Day Eleven", "Day twelve")
    result = days_covered(". ".join(words), days=12)
    assert result.passed, result.detail
    assert days_covered("Day Eighteen: Osaka.", days=20).detail.startswith("days named: 18;")
