"""Which row of a duplicate cluster survives, and the decisions for the ones that do not.

Shared by every dedup stage (exact, MinHash, semantic, against an existing set): the kept row is the highest
``score`` (missing or NaN scores count lowest), ties broken by the input (with several inputs, the one listed
first wins: the order of ``inputs:`` states which source the user trusts most, while scores of different
datasets are rarely comparable beyond that), then by length (longer conversation wins), then by ``id``
(smallest wins), then by input position.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from curation.core.stage import CLUSTER_ID, DETAILS, DUPLICATE_OF, POS, REASON, Decisions

KEY_COLUMNS = (POS, "id", "score", "chars")  # what a dedup stage's keys must hold for the policy


def several_inputs(curation) -> bool:
    """Whether a run mixes several inputs (``curation``: the run's config, or None): only then is a row's ``input``
    column the label validation gave it. With one input, a column of that name is the input's own data."""
    return len(getattr(curation, "inputs", None) or []) > 1


def policy_keys(batch: pa.RecordBatch, labelled: bool) -> dict[str, pa.Array]:
    """The keep policy's columns of a batch (:data:`KEY_COLUMNS`), for a dedup stage's ``keys``; ``input`` too
    when the rows are ``labelled`` with their input (:func:`several_inputs`)."""
    from curation.core.columns import conversation_chars

    columns = {
        POS: batch.column(POS),
        "id": batch.column("id"),
        "score": batch.column("score"),
        "chars": pa.array(conversation_chars(batch.column("conversations")), pa.int64()),
    }
    if labelled:  # several inputs: the one listed first wins ties of score (a batch of no row, when every row of
        # every input was quarantined, is built without the column)
        columns["input"] = (batch.column("input") if "input" in batch.schema.names
                            else pa.nulls(batch.num_rows, pa.string()))
    return columns


def input_ranks(keys: pa.Table, rows: np.ndarray) -> np.ndarray:
    """Per row of ``rows``, its input's place in the list (inputs are read in list order, so an input's first
    ``_pos`` orders it); zeros without an ``input`` column."""
    if "input" not in keys.column_names:
        return np.zeros(len(rows), dtype=np.int64)
    names = keys.column("input").to_pylist()
    pos = keys.column(POS).to_numpy()
    first: dict[str, int] = {}
    for name, p in zip(names, pos.tolist()):
        if name not in first or p < first[name]:
            first[name] = p
    rank = {name: r for r, name in enumerate(sorted(first, key=first.get))}
    return np.array([rank[names[i]] for i in rows.tolist()], dtype=np.int64)


def cluster_id_for(kept_id: str) -> str:
    return f"c-{kept_id}"


def keep_decisions(
    keys: pa.Table,
    labels: np.ndarray,
    reason: str,
    pairs: np.ndarray | None = None,
    similarity: np.ndarray | None = None,
) -> Decisions:
    """Apply the keep policy to every cluster of ``labels`` (one label per row of ``keys``; a label shared by
    several rows is a cluster).

    Decisions: every cluster member gets ``cluster_id``; the others than the kept row get ``reason``,
    ``duplicate_of`` (the kept row's id) and, when ``pairs``/``similarity`` are given (row index pairs
    ``i < j`` of ``keys`` and their similarity), ``details.similarity``: the measured similarity to the kept
    row, or ``"transitive"`` when they are linked only through other members. Stats: clusters and their sizes.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return Decisions.none({"clusters": 0, "cluster_sizes": {}})
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    members = np.flatnonzero(counts[inverse] > 1)
    sizes = counts[counts > 1]
    size_values, size_counts = np.unique(sizes, return_counts=True)
    stats = {"clusters": int(len(sizes)), "cluster_sizes": {str(int(s)): int(c) for s, c in zip(size_values, size_counts)}}
    if len(members) == 0:
        return Decisions.none(stats)
    pos = keys.column(POS).to_numpy()[members]
    ids = np.array(keys.column("id").take(pa.array(members)).to_pylist(), dtype=object)
    score = keys.column("score").take(pa.array(members)).to_numpy(zero_copy_only=False).astype(np.float64)
    score = np.where(np.isnan(score), -np.inf, score)
    chars = keys.column("chars").to_numpy()[members]
    label = labels[members]
    rank = input_ranks(keys, members)
    order = sorted(range(len(members)), key=lambda k: (label[k], -score[k], rank[k], -chars[k], ids[k], pos[k]))
    winner_of: dict[int, int] = {}  # label -> member index of the kept row
    for k in order:
        winner_of.setdefault(int(label[k]), k)
    sim_of: dict[tuple[int, int], float] = {}
    if pairs is not None and similarity is not None and len(pairs):
        in_members = np.zeros(len(labels), dtype=bool)
        in_members[members] = True
        sel = in_members[pairs[:, 0]] & in_members[pairs[:, 1]]
        sim_of = {(int(i), int(j)): float(s) for (i, j), s in zip(pairs[sel], similarity[sel])}
    reasons, dup_of, cids, details = [], [], [], []
    for k in range(len(members)):
        w = winner_of[int(label[k])]
        cids.append(cluster_id_for(ids[w]))
        if k == w:
            reasons.append(None)
            dup_of.append(None)
            details.append(None)
            continue
        reasons.append(reason)
        dup_of.append(ids[w])
        if pairs is None:
            details.append(None)
        else:
            a, b = int(members[k]), int(members[w])
            sim = sim_of.get((min(a, b), max(a, b)))
            value: Any = round(sim, 6) if sim is not None else "transitive"
            details.append(json.dumps({"similarity": value}, sort_keys=True))
    by_pos = np.argsort(pos, kind="stable")
    table = pa.table(
        {
            POS: pa.array(pos[by_pos], pa.int64()),
            REASON: pa.array([reasons[k] for k in by_pos], pa.string()),
            DUPLICATE_OF: pa.array([dup_of[k] for k in by_pos], pa.string()),
            CLUSTER_ID: pa.array([cids[k] for k in by_pos], pa.string()),
            DETAILS: pa.array([details[k] for k in by_pos], pa.string()),
        }
    )
    return Decisions(table, stats)
