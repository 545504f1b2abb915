"""Language per turn, per row, of the prompt and of the answer, for a whole ``conversations`` column at once.

Every turn is judged on its own (fenced code left out, first ``max_bytes`` bytes); a turn shorter than
``min_chars`` is not judged (``und``, confidence 0). A group of turns (the whole row, its human turns, its
gpt turns) takes the language with the most evidence, each judged turn voting with its bytes times its
confidence; the group's confidence is that language's votes over all judged bytes of the group, so a row
half in English and half in French has confidence at most 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous
from curation.core.jit import njit
from curation.language import model as lid
from curation.language.config import LanguageConfig

_CODE_FENCE = r"(?s)```.*?(?:```|$)"
PROMPT_ROLES = ("human", "user")
ANSWER_ROLES = ("gpt", "assistant")


@dataclass
class ConversationLanguages:
    classes: tuple[str, ...]  # class index -> language code; the last one is "und"
    turn_class: np.ndarray  # per turn, in flattened order
    turn_conf: np.ndarray
    row_offsets: np.ndarray  # turns of row i: row_offsets[i]:row_offsets[i + 1]
    row_class: np.ndarray  # per row
    row_conf: np.ndarray
    prompt_class: np.ndarray
    prompt_conf: np.ndarray
    answer_class: np.ndarray
    answer_conf: np.ndarray

    def names(self, classes: np.ndarray) -> pa.Array:
        """Language codes of class indices as a plain string array."""
        return pa.array(np.asarray(self.classes, dtype=object)[classes], pa.string())

    def turns_column(self) -> pa.ListArray:
        """``list<struct<language: string, confidence: float>>``, one entry per turn."""
        items = pa.StructArray.from_arrays(
            [self.names(self.turn_class), pa.array(np.round(self.turn_conf, 4), pa.float32())],
            names=["language", "confidence"],
        )
        return pa.ListArray.from_arrays(pa.array(self.row_offsets.astype(np.int32)), items)


@njit(nogil=True, cache=True)
def _vote(row_offsets, turn_class, turn_conf, weight, side, n_classes, out_class, out_conf, which):
    """Per row, the language with the most byte-weighted confidence among the turns whose ``side`` matches
    ``which`` (-1: every turn); confidence = its votes / all judged bytes of those turns."""
    votes = np.zeros(n_classes, np.float64)
    und = n_classes - 1
    for r in range(row_offsets.shape[0] - 1):
        total = 0.0
        for t in range(row_offsets[r], row_offsets[r + 1]):
            c = turn_class[t]
            if c == und or (which >= 0 and side[t] != which):
                continue
            votes[c] += weight[t] * turn_conf[t]
            total += weight[t]
        best = und
        top = 0.0
        for t in range(row_offsets[r], row_offsets[r + 1]):
            c = turn_class[t]
            if c != und and votes[c] > top:
                top = votes[c]
                best = c
        for t in range(row_offsets[r], row_offsets[r + 1]):
            votes[turn_class[t]] = 0.0
        out_class[r] = best
        out_conf[r] = top / total if total > 0 else 0.0


def _row_offsets(conversations: pa.Array) -> np.ndarray:
    lengths = pc.fill_null(pc.list_value_length(conversations), 0).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])


def detect(conversations: pa.Array, cfg: LanguageConfig | None = None) -> ConversationLanguages:
    """Languages of every turn and row of a ``conversations`` column (``list<struct<from, value>>``)."""
    cfg = cfg or LanguageConfig()
    conversations = contiguous(conversations)
    model = lid.load_model()
    row_offsets = _row_offsets(conversations)
    turns = conversations.flatten()
    values = pc.fill_null(turns.field("value"), "")
    if cfg.strip_code:
        values = pc.replace_substring_regex(values, _CODE_FENCE, " ")
    values = lid.prepare(values)
    turn_class, turn_conf = lid.classify(values, max_bytes=cfg.max_bytes, workers=cfg.workers, preprocess=False,
                                         model=model)
    short = pc.less(pc.utf8_length(pc.utf8_trim_whitespace(values)), cfg.min_chars).to_numpy(zero_copy_only=False)
    turn_class[short] = model.und
    turn_conf[short] = 0.0
    weight = pc.binary_length(values).to_numpy(zero_copy_only=False).astype(np.float64)
    if cfg.max_bytes:
        np.minimum(weight, cfg.max_bytes, out=weight)
    roles = turns.field("from")
    side = np.full(len(values), 2, np.int8)  # 0 prompt, 1 answer, 2 other (system)
    side[pc.fill_null(pc.is_in(roles, pa.array(PROMPT_ROLES)), False).to_numpy(zero_copy_only=False)] = 0
    side[pc.fill_null(pc.is_in(roles, pa.array(ANSWER_ROLES)), False).to_numpy(zero_copy_only=False)] = 1
    n_rows = len(row_offsets) - 1
    out = {}
    for name, which in (("row", -1), ("prompt", 0), ("answer", 1)):
        cls, conf = np.empty(n_rows, np.int32), np.empty(n_rows, np.float32)
        _vote(row_offsets, turn_class, turn_conf, weight, side, len(model.classes), cls, conf, which)
        out[name] = (cls, conf)
    return ConversationLanguages(
        model.classes, turn_class, turn_conf, row_offsets,
        out["row"][0], out["row"][1], out["prompt"][0], out["prompt"][1], out["answer"][0], out["answer"][1],
    )
