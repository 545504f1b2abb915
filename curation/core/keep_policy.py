"""Which row of a duplicate cluster survives, and the decisions for the ones that do not.

Shared by every dedup stage (exact, MinHash, semantic, against an existing set): the kept row is the highest
``score`` (missing or NaN scores count lowest), ties broken by the input (with several inputs, the one listed
first wins: the order of ``inputs:`` states which source the user trusts most, while scores of different
datasets are rarely comparable beyond that), then by length (longer conversation wins), then by ``id``
(smallest wins), then by input position.
"""

from __future__ import annotations

import json
import math
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import take_rows
from curation.core.stage import CLUSTER_ID, DETAILS, DUPLICATE_OF, POS, REASON, Decisions

KEY_COLUMNS = (POS, "id", "score", "chars")  # what a dedup stage's keys must hold for the policy

# (removed rows, their kept rows) -> per pair: is its similarity known (else "transitive"), and the similarity
SimilarityOf = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def several_inputs(curation) -> bool:
    """Whether a run mixes several inputs (``curation``: the run's config, or None): only then is a row's ``input``
    column the label validation gave it. With one input, a column of that name is the input's own data."""
    return len(getattr(curation, "inputs", None) or []) > 1


def policy_keys(batch: pa.RecordBatch | pa.Table, labelled: bool) -> dict[str, pa.Array | pa.ChunkedArray]:
    """The keep policy's columns of a batch or table (:data:`KEY_COLUMNS`), for a dedup stage's ``keys``; ``input``
    too when the rows are ``labelled`` with their input (:func:`several_inputs`)."""
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
    ``_pos`` orders it); zeros without an ``input`` column. A row without an input name (null) is ranked as one
    more name."""
    if "input" not in keys.column_names:
        return np.zeros(len(rows), dtype=np.int64)
    names = keys.column("input").combine_chunks()
    if pa.types.is_dictionary(names.type):
        names = names.dictionary_decode()
    codes = np.asarray(pc.dictionary_encode(names, null_encoding="encode").indices.to_numpy(zero_copy_only=False),
                       dtype=np.int64)
    pos = keys.column(POS).to_numpy()
    first = np.full(int(codes.max()) + 1 if len(codes) else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, pos)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[codes[np.asarray(rows, dtype=np.int64)]]


CLUSTER_PREFIX = "c-"  # a cluster's id: this, then its kept row's id


def keep_decisions(
    keys: pa.Table,
    labels: np.ndarray,
    reason: str,
    pairs: np.ndarray | None = None,
    similarity: np.ndarray | None = None,
    similarity_of: SimilarityOf | None = None,
) -> Decisions:
    """Apply the keep policy to every cluster of ``labels`` (one label per row of ``keys``; a label shared by
    several rows is a cluster).

    Decisions: every cluster member gets ``cluster_id``; the others than the kept row get ``reason``,
    ``duplicate_of`` (the kept row's id) and, when ``pairs``/``similarity`` are given (row index pairs
    ``i < j`` of ``keys`` and their similarity), ``details.similarity``: the measured similarity to the kept
    row, or ``"transitive"`` when they are linked only through other members. A stage that measures pairs as
    they are asked for passes ``similarity_of`` instead of ``pairs``. Stats: clusters and their sizes.
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
    ids = take_rows(keys.column("id"), members)
    score = take_rows(keys.column("score"), members).to_numpy(zero_copy_only=False).astype(np.float64)
    score = np.where(np.isnan(score), -np.inf, score)
    chars = keys.column("chars").to_numpy()[members]
    label = labels[members]
    rank = input_ranks(keys, members)
    # ids compare as Python compares str (code point order: the order of their UTF-8 bytes, which Arrow sorts)
    id_rank = np.asarray(pc.rank(ids, sort_keys="ascending", tiebreaker="dense"), dtype=np.int64)
    # each cluster's members best first: (label, -score, input, -chars, id, pos), stable
    order = np.lexsort((pos, id_rank, -chars, rank, -score, label))
    first = np.ones(len(order), dtype=bool)
    first[1:] = label[order[1:]] != label[order[:-1]]
    winner = np.empty(len(members), dtype=np.int64)  # member index of each member's kept row
    winner[order] = np.repeat(order[first], np.diff(np.append(np.flatnonzero(first), len(order))))
    removed = winner != np.arange(len(members))
    winner_ids = ids.take(pa.array(winner))
    details = np.full(len(members), None, dtype=object)
    if similarity_of is None and pairs is not None:
        similarity_of = given_similarities(pairs, similarity, len(labels))
    if similarity_of is not None:
        details[removed] = _similarity_details(*similarity_of(members[removed], members[winner[removed]]))
    by_pos = np.argsort(pos, kind="stable")
    take = pa.array(by_pos)
    removed_by_pos = pa.array(removed[by_pos])
    dup_of = winner_ids.take(take)
    table = pa.table(
        {
            POS: pa.array(pos[by_pos], pa.int64()),
            REASON: pc.if_else(removed_by_pos, pa.scalar(reason, pa.string()), pa.scalar(None, pa.string())),
            DUPLICATE_OF: pc.if_else(removed_by_pos, dup_of, pa.scalar(None, pa.string())),
            CLUSTER_ID: pc.binary_join_element_wise(pa.scalar(CLUSTER_PREFIX), dup_of, pa.scalar("")),
            DETAILS: pa.array(details[by_pos], pa.string()),
        }
    )
    return Decisions(table, stats)


def given_similarities(pairs: np.ndarray, similarity: np.ndarray | None, n: int) -> SimilarityOf:
    """:data:`SimilarityOf` over known ``pairs`` (rows of ``n``) and their ``similarity`` (the last one given where
    a pair is given twice; none given: every pair is transitive)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    given = (np.minimum(pairs[:, 0], pairs[:, 1]) * n + np.maximum(pairs[:, 0], pairs[:, 1]))[::-1]
    codes, last = np.unique(given, return_index=True)  # (reversed: each code's first index is its last given)
    values = np.asarray(similarity, dtype=np.float64)[::-1][last] if similarity is not None else None

    def similarity_of(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.full(len(a), np.nan)
        if values is None or not len(codes):
            return np.zeros(len(a), dtype=bool), out
        wanted = np.minimum(a, b) * n + np.maximum(a, b)
        at = np.minimum(np.searchsorted(codes, wanted), len(codes) - 1)
        hit = codes[at] == wanted
        out[hit] = values[at[hit]]
        return hit, out

    return similarity_of


def _similarity_details(found: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``details`` of removed rows: ``{"similarity": s}`` where ``found`` (``s`` rounded to 6 places), else
    ``{"similarity": "transitive"}``."""
    out = np.full(len(found), _TRANSITIVE, dtype=object)
    if found.any():
        unique, inverse = np.unique(values[found], return_inverse=True)
        out[found] = np.array([_similarity_text(v) for v in unique.tolist()], dtype=object)[inverse.reshape(-1)]
    return out


_TRANSITIVE = json.dumps({"similarity": "transitive"}, sort_keys=True)


def _similarity_text(value: float) -> str:
    """``json.dumps({"similarity": round(value, 6)})``, written directly for a finite value (json writes a
    float as its ``repr``), a few times quicker over the hundreds of thousands of pairs a large run verifies."""
    if math.isfinite(value):
        return '{"similarity": %r}' % round(value, 6)
    return json.dumps({"similarity": value}, sort_keys=True)
