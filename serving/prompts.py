"""The seed's three evaluation prompts: the demo's examples and the default eval prompt set.

One place only: `tome serve` shows them as example prompts and `tome eval` answers them side by side.
"""

from __future__ import annotations

SEED_PROMPTS: tuple[str, ...] = (
    "Plan a 3 day trip to Japan for two people with a focus on cultural experiences. "
    "Include a budget breakdown and a daily itinerary. Assume the budget is $3,000.",
    "Explain how photosynthesis works to a 10-year-old. Then describe the same concept to a college "
    "biology student, highlighting the differences in detail and terminology.",
    "If you were designing a new renewable energy system for a small island, would you recommend wind "
    "turbines or solar panels? Provide your choice, justify it with at least three reasons, and highlight "
    "potential challenges.",
)
