"""Trainer callbacks: metrics as JSONL, a rich progress bar, and step timing for tokens/s."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

# Log keys that measure the clock, not the model: kept out of metrics.jsonl so equal runs log equal lines.
_VOLATILE_SUFFIXES = ("_runtime", "_per_second", "total_flos")


def _kind(logs: dict[str, Any]) -> str:
    if any(k.startswith("eval_") for k in logs):
        return "eval"
    if "train_loss" in logs:  # the trainer's closing log (every log carries train_runtime when tokens are counted)
        return "end"
    return "train"


class MetricsLogger(TrainerCallback):
    """Appends one JSON object per trainer log event (train loss, eval loss, end) to ``metrics.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if not logs or not state.is_world_process_zero:
            return
        record: dict[str, Any] = {"step": state.global_step, "kind": _kind(logs)}
        if state.epoch is not None:
            record["epoch"] = round(float(state.epoch), 6)
        for key, value in logs.items():
            if key == "epoch" or key.endswith(_VOLATILE_SUFFIXES):
                continue
            record[key] = value
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")


class StepTimer(TrainerCallback):
    """Wall time spent inside optimizer steps (evaluation and checkpoint saves excluded)."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.tokens: list[int] = []  # input tokens of each step (when the trainer counts them)
        self._start: float | None = None
        self._seen = 0
        self._sync = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        import torch

        if torch.cuda.is_available():
            self._sync = torch.cuda.synchronize

    def on_step_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        if self._sync:
            self._sync()
        self._seen = state.num_input_tokens_seen
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self._start is None:
            return
        if self._sync:
            self._sync()
        self.durations.append(time.perf_counter() - self._start)
        self.tokens.append(state.num_input_tokens_seen - self._seen)
        self._start = None

    @property
    def seconds(self) -> float:
        return sum(self.durations)


class ProgressBar(TrainerCallback):
    """One rich bar over optimizer steps, showing the latest train and eval loss."""

    def __init__(self, progress) -> None:  # noqa: ANN001
        self.progress = progress
        self.task = None
        self.loss: float | None = None
        self.eval_loss: float | None = None

    def _describe(self) -> str:
        parts = ["train"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.3f}")
        if self.eval_loss is not None:
            parts.append(f"eval {self.eval_loss:.3f}")
        return " ".join(parts)

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        self.task = self.progress.add_task(self._describe(), total=state.max_steps or None, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.task is not None:
            self.progress.update(self.task, completed=state.global_step, description=self._describe())

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
        if "eval_loss" in logs:
            self.eval_loss = float(logs["eval_loss"])
        if self.task is not None:
            self.progress.update(self.task, description=self._describe())
