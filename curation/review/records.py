"""A curation row as an Argilla record: chat field, metadata, vector, and suggestions from our heuristics.

The record id is the row's ``id``, so logging the same rows again updates their records instead of adding
new ones. Roles map to the chat roles Argilla renders: human -> user, gpt -> assistant, system -> system.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Sequence

from curation.review.schema import AGENT_PREFIX, FIELD_CONVERSATION, METADATA, Q_CORRECTED, Q_QUALITY, Q_VERDICT, VECTOR
from curation.review.selection import Picked
from curation.review.signals import quality_from_score, score_of
from curation.contract import Row

if TYPE_CHECKING:
    import argilla as rg
    import numpy as np

CHAT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}

# What Argilla's search index (Elasticsearch / OpenSearch) takes for a metadata value: terms are ``keyword``
# terms, at most Lucene's 32766 UTF-8 bytes each; floats are ``float`` (32-bit), finite. One value past either
# makes the server refuse the whole batch of records it came in, so such a value is left out of the record's
# metadata (the row itself is untouched: metadata only serves filtering).
MAX_TERM_BYTES = 32766
MAX_FLOAT32 = 3.4028234663852886e38


def chat_of(conversations: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": CHAT_ROLES.get(t["from"], t["from"]), "content": t["value"]} for t in conversations]


def last_answer_index(conversations: Sequence[dict[str, str]]) -> int | None:
    """Index of the last gpt turn (the one a ``fix`` verdict replaces), or None."""
    for i in range(len(conversations) - 1, -1, -1):
        if conversations[i]["from"] == "gpt":
            return i
    return None


def augmentation_method(value: Any) -> str | None:
    if not value:
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return str(value)
    if isinstance(parsed, dict):
        return str(parsed.get("method") or parsed.get("name") or "unknown")
    return str(parsed)


def metadata_of(picked: Picked, cluster_sizes: dict[str, int]) -> dict[str, Any]:
    row = picked.loc.row
    turns = row["conversations"]
    cluster = row.get("cluster_id")
    meta: dict[str, Any] = {
        "source": row.get("source"),
        "score": score_of(row),
        "turns": len(turns),
        "characters": sum(len(t["value"]) for t in turns),
        "location": picked.loc.location,
        "cluster": cluster,
        "cluster_size": cluster_sizes.get(cluster, 1) if cluster else 1,
        "augmentation": augmentation_method(row.get("augmentation")),
        "heuristics": list(picked.fired) or None,
        "selected_for": list(picked.why) or None,
    }
    return {k: v for k, v in ((k, indexable(METADATA[k], v)) for k, v in meta.items()) if v is not None}


def indexable(kind: str, value: Any) -> Any:
    """``value`` as Argilla's search index can hold it under a metadata property of ``kind``, or None."""
    if value is None:
        return None
    if kind == "terms":
        if isinstance(value, list):
            kept = [v for v in value if len(str(v).encode("utf-8", "surrogatepass")) <= MAX_TERM_BYTES]
            return kept or None
        return value if len(str(value).encode("utf-8", "surrogatepass")) <= MAX_TERM_BYTES else None
    if kind == "float":
        return value if math.isfinite(value) and abs(value) <= MAX_FLOAT32 else None
    return value


def suggestions_of(picked: Picked) -> list["rg.Suggestion"]:
    import argilla as rg

    row = picked.loc.row
    out = []
    if picked.fired:
        out.append(rg.Suggestion(Q_VERDICT, "discard", agent=f"{AGENT_PREFIX}/{'+'.join(picked.fired)}", type="model"))
    else:
        out.append(rg.Suggestion(Q_VERDICT, "keep", agent=f"{AGENT_PREFIX}/kept", type="model"))
    quality = quality_from_score(score_of(row))
    if quality is not None:
        out.append(rg.Suggestion(Q_QUALITY, quality, agent=f"{AGENT_PREFIX}/source-score", type="model"))
    idx = last_answer_index(row["conversations"])
    if idx is not None and row["conversations"][idx]["value"].strip():
        out.append(rg.Suggestion(Q_CORRECTED, row["conversations"][idx]["value"],
                                 agent=f"{AGENT_PREFIX}/current-answer", type="model"))
    return out


def build_records(
    picked: Sequence[Picked],
    dataset: "rg.Dataset",
    cluster_sizes: dict[str, int],
    vectors: "np.ndarray | None" = None,
) -> list["rg.Record"]:
    """One ``rg.Record`` per picked row, attached to ``dataset`` (its settings decide how fields serialize)."""
    import argilla as rg

    records = []
    for i, p in enumerate(picked):
        row: Row = p.loc.row
        records.append(
            rg.Record(
                id=row["id"],
                fields={FIELD_CONVERSATION: chat_of(row["conversations"])},
                metadata=metadata_of(p, cluster_sizes),
                vectors={VECTOR: [float(x) for x in vectors[i]]} if vectors is not None else None,
                suggestions=suggestions_of(p),
                _dataset=dataset,
            )
        )
    return records
