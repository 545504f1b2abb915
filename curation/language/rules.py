"""Which rows the language stage drops, and why: ``filter:language`` and ``filter:language_mismatch``."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous
from curation.language.config import LanguageConfig
from curation.language.detect import PROMPT_ROLES, ConversationLanguages
from curation.language.model import NO_LANGUAGE, UNDETERMINED
from curation.language.translation import is_translation_request

LANGUAGE = "filter:language"
MISMATCH = "filter:language_mismatch"
REASONS = (LANGUAGE, MISMATCH)


def asks_for_translation(conversations: pa.Array) -> np.ndarray:
    """Per row: does any human turn ask for a translation or for an answer in a named language?"""
    conversations = contiguous(conversations)
    turns = conversations.flatten()
    human = pc.fill_null(pc.is_in(turns.field("from"), pa.array(PROMPT_ROLES)), False)
    hit = pc.and_(human, is_translation_request(turns.field("value"))).to_numpy(zero_copy_only=False)
    rows = pc.list_parent_indices(conversations).to_numpy()
    return np.bincount(rows[hit], minlength=len(conversations)).astype(bool)


def _group_ids(langs: ConversationLanguages, groups: list[list[str]]) -> np.ndarray:
    """Class index -> group id (a class outside every group is its own group)."""
    ids = np.arange(len(langs.classes))
    index = {c: i for i, c in enumerate(langs.classes)}
    for g, members in enumerate(groups):
        for code in members:
            if code in index:
                ids[index[code]] = len(langs.classes) + g
    for i, c in enumerate(langs.classes):  # a label listed twice (sr) shares its first index's group
        ids[i] = ids[index[c]]
    return ids


def verdicts(langs: ConversationLanguages, conversations: pa.Array, cfg: LanguageConfig
             ) -> tuple[list[str | None], list[str | None]]:
    """(reason, details JSON) per row; None where the row is kept.

    A row whose prompt and answer are confidently in different languages is ``filter:language_mismatch``
    (unless the prompt asks for a translation); otherwise a row confidently in a language outside ``allowed``
    is ``filter:language`` (unless its prompt is in an allowed language and asks for a translation: then the
    answer's language is the point of the row)."""
    n = len(langs.row_class)
    und = len(langs.classes) - 1
    no_language = [i for i, c in enumerate(langs.classes) if c in (UNDETERMINED, NO_LANGUAGE)]
    undetermined = np.isin(langs.row_class, no_language) | (langs.row_conf < cfg.min_confidence)
    bad = np.zeros(n, bool)
    allowed = [i for i, c in enumerate(langs.classes) if c in set(cfg.allowed)]
    if cfg.allowed:
        bad |= ~undetermined & ~np.isin(langs.row_class, allowed)
    if not cfg.keep_undetermined:
        bad |= undetermined
    mismatch = np.zeros(n, bool)
    m = cfg.mismatch
    if m.enabled:
        group = _group_ids(langs, m.same)
        mismatch = (
            (langs.prompt_class != und) & (langs.answer_class != und)
            & (group[langs.prompt_class] != group[langs.answer_class])
            & (langs.prompt_conf >= m.min_confidence) & (langs.answer_conf >= m.min_confidence)
        )
    translation = np.zeros(n, bool)
    if m.exempt_translation and (mismatch.any() or bad.any()):
        translation = asks_for_translation(conversations)
        mismatch &= ~translation
        if cfg.allowed:
            prompt_ok = np.isin(langs.prompt_class, allowed + no_language)
            bad &= ~(translation & prompt_ok)
    bad &= ~mismatch
    reasons: list[str | None] = [None] * n
    details: list[str | None] = [None] * n
    name = langs.classes
    for i in np.flatnonzero(bad):
        reasons[i] = LANGUAGE
        details[i] = json.dumps({"language": name[langs.row_class[i]], "confidence": round(float(langs.row_conf[i]), 4),
                                 "allowed": cfg.allowed, "min_confidence": cfg.min_confidence}, sort_keys=True)
    for i in np.flatnonzero(mismatch):
        reasons[i] = MISMATCH
        details[i] = json.dumps({
            "prompt_language": name[langs.prompt_class[i]], "prompt_confidence": round(float(langs.prompt_conf[i]), 4),
            "answer_language": name[langs.answer_class[i]], "answer_confidence": round(float(langs.answer_conf[i]), 4),
        }, sort_keys=True)
    return reasons, details
