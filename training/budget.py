"""A training budget in tokens (``training.max_tokens``) turned into optimizer steps.

Rows of different data differ in length (raw rows carry more boilerplate than curated ones, augmented rows are
paraphrases of their origin), so "the same number of steps" is not "the same amount of training". With
``training.max_tokens: N`` a run takes ``ceil(N / tokens per step)`` optimizer steps, where a step holds
``per_device_batch_size x gradient_accumulation_steps`` batch elements of the training data's mean length: rows
(after truncation at ``max_seq_length``), or packed sequences when the run trains packed. The elements each step
draws are random, so the tokens a run sees match the budget on average; its summary records both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from training.config import TrainConfig


@dataclass(frozen=True)
class TokenBudget:
    max_tokens: int
    tokens_per_step: float
    steps: int
    mean_tokens_per_row: float
    epochs: float  # how many passes over the training split the steps make

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def steps_for_tokens(config: TrainConfig, row_lengths: list[int]) -> TokenBudget:
    """The optimizer steps that spend ``config.training.max_tokens`` on batch elements (rows, or packed sequences)
    of these lengths."""
    t = config.training
    if t.max_tokens is None:
        raise ValueError("training.max_tokens is not set")
    if not row_lengths:
        raise ValueError("no training row to spend a token budget on")
    rows_per_step = t.per_device_batch_size * t.gradient_accumulation_steps
    mean = sum(row_lengths) / len(row_lengths)
    per_step = rows_per_step * mean
    steps = max(1, math.ceil(t.max_tokens / per_step))
    epoch_tokens = float(sum(row_lengths))
    return TokenBudget(t.max_tokens, round(per_step, 2), steps, round(mean, 2), round(steps * per_step / epoch_tokens, 4))
