"""Which row of a duplicate cluster survives, and the records of the ones that do not.

Shared by every dedup step (MinHash and semantic): the kept row is the highest ``score`` (missing scores
count lowest), ties broken by length (longer conversation wins), then by ``id`` (smallest wins).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from curation.stage import Removal, Row
from curation.text_keys import conversation_chars


def keep_rank(row: Row) -> tuple:
    score = row.get("score")
    score = float("-inf") if score is None else float(score)
    return (-score, -conversation_chars(row), row["id"])


def cluster_id_for(kept: Row) -> str:
    return f"c-{kept['id']}"


def resolve_clusters(
    rows: Sequence[Row],
    labels: Sequence[int],
    reason: str,
    similarity: dict[tuple[int, int], float] | None = None,
) -> tuple[list[Row], list[Removal], dict[str, Any]]:
    """Apply the keep policy to every cluster of ``labels`` (one label per row; singletons have their own).

    Returns the kept rows in input order (cluster members get ``cluster_id``), the removals (each with
    ``duplicate_of`` and ``cluster_id``; ``details.similarity`` is the best known similarity to the kept
    row when ``similarity`` has it), and stats (clusters, cluster sizes).
    """
    members: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        members[int(label)].append(i)
    kept: list[Row] = []
    removed: list[Removal] = []
    drop: dict[int, tuple[int, str]] = {}
    cluster_of: dict[int, str] = {}
    sizes: dict[int, int] = defaultdict(int)
    for idx in members.values():
        if len(idx) == 1:
            continue
        winner = min(idx, key=lambda i: keep_rank(rows[i]))
        cid = cluster_id_for(rows[winner])
        sizes[len(idx)] += 1
        for i in idx:
            cluster_of[i] = cid
            if i != winner:
                drop[i] = (winner, cid)
    for i, row in enumerate(rows):
        if i in drop:
            winner, cid = drop[i]
            details = None
            if similarity is not None:
                sim = similarity.get((min(i, winner), max(i, winner)))
                details = {"similarity": round(sim, 6)} if sim is not None else {"similarity": "transitive"}
            removed.append(Removal(row=row, reason=reason, duplicate_of=rows[winner]["id"], cluster_id=cid, details=details))
        else:
            if i in cluster_of:
                row = dict(row)
                row["cluster_id"] = cluster_of[i]
            kept.append(row)
    stats = {"clusters": sum(sizes.values()), "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())}}
    return kept, removed, stats
