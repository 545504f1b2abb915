"""What the sample holds: the seed, the output paths, how many of each kind to plant, and the thresholds
they are planted against (read from the defaults of ``curation/config.py``, never restated)."""

from __future__ import annotations

from pathlib import Path

from curation.config import FiltersConfig, NearDedupConfig

SEED = 20250321
HERE = Path(__file__).resolve().parents[1]  # data/
SAMPLE_PATH = HERE / "sample.jsonl"
TRUTH_PATH = HERE / "sample_truth.json"

# How many of each kind to plant.
CLEAN_PER_SOURCE = {  # imbalanced on purpose, so that source balancing has something to cap
    "infini-instruct-top-500k": 1000,
    "WebInstructSub_axolotl": 620,
    "The-Tome": 430,
    "evol-instruct": 280,
    "airoboros": 190,
    "financial-instructions-cleaned-2": 36,  # the thin source
}
EXACT_GROUPS = 150
NEAR_GROUPS = 150
FILTER_PLAN = {
    "filter:answer_too_short": 30,
    "filter:repeated_lines": 25,
    "filter:repeated_ngrams": 25,
    "filter:prompt_answer_ratio": 30,
    "filter:roles_not_alternating": 32,
    "filter:turn_too_long": 8,
}
LOW_SCORE_ROWS = 30
MALFORMED_PLAN = {
    "missing_conversations": 8,
    "conversations_not_list": 7,
    "empty_conversations": 7,
    "turn_missing_value": 8,
    "unknown_role": 8,
    "value_not_string": 8,
    "no_gpt_turn": 7,
    "invalid_json": 8,
}
# Near duplicates, on the default near-dedup shingling (word n-grams) and on both sides of its threshold.
SHINGLE_NGRAM: int = NearDedupConfig().ngram
NEAR_MIN_JACCARD = 0.85  # asserted for every planted copy
NEAR_TARGET_JACCARD = 0.87  # copies below this are re-drawn (margin over the 0.85 promise)
INDEPENDENT_MAX_JACCARD = 0.5  # asserted for every pair outside a planted group

# The default filter thresholds, read from FiltersConfig: a planted row is built against the defaults of
# today, and tests/data/test_sample_data.py fails when a default moves without the sample.
_FILTERS = FiltersConfig()
MIN_ANSWER_CHARS: int = _FILTERS.min_answer_chars
MIN_ANSWER_WORDS: int = _FILTERS.min_answer_words
MAX_CHARS_PER_TURN: int = _FILTERS.max_chars_per_turn
MAX_WORDS_PER_TURN: int = _FILTERS.max_words_per_turn
MAX_PROMPT_ANSWER_RATIO: float = _FILTERS.max_prompt_answer_ratio
MAX_REPEATED_LINE_FRACTION: float = _FILTERS.max_repeated_line_fraction
MAX_REPEATED_LINE_CHAR_FRACTION: float = _FILTERS.max_repeated_line_char_fraction
TOP_NGRAM_MAX_FRACTION: dict[int, float] = dict(sorted(_FILTERS.top_ngram_max_fraction.items()))
DUP_NGRAM_MAX_FRACTION: dict[int, float] = dict(sorted(_FILTERS.dup_ngram_max_fraction.items()))
MIN_WORDS_FOR_REPETITION: int = _FILTERS.min_words_for_repetition
CLEAN_MARGIN = 0.75  # clean rows stay below this fraction of every threshold
