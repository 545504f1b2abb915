"""The topics of clean rows: each ``<topic>_exchanges(w, n_ex, size)`` gives ``n_ex`` (prompt, answer) pairs."""

from __future__ import annotations

from .advice import advice_exchanges, finance_exchanges
from .coding import coding_exchanges
from .food_travel import food_travel_exchanges
from .history import history_exchanges
from .math_problems import math_exchanges
from .science import science_exchanges
from .story import story_exchanges

TOPICS = {
    "science": science_exchanges, "history": history_exchanges, "advice": advice_exchanges, "finance": finance_exchanges,
    "food_travel": food_travel_exchanges, "story": story_exchanges, "coding": coding_exchanges, "math": math_exchanges,
}
