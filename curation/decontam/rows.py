"""Which conversations overlap an eval item, through which turns, and how much."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous
from curation.decontam.config import DecontamConfig
from curation.decontam.eval_sets import EvalItem
from curation.decontam.index import NgramIndex

REASON = "decontaminated"
FIELD_ROLES = {"prompt": ("human", "user"), "answer": ("gpt", "assistant"), "system": ("system",)}
_FIELD_BITS = {"prompt": 1, "answer": 2, "system": 4}


@dataclass
class RowHits:
    """One entry per contaminated row (rows in input order): its best-matching eval item."""

    row: np.ndarray
    item: np.ndarray
    ngrams: np.ndarray  # distinct n-grams the row shares with the item
    fraction: np.ndarray  # ngrams / the item's n-grams
    fields: list[str]  # which turns matched: "prompt", "answer", "prompt+answer", ...

    def details(self, k: int, items: list[EvalItem], excerpt: int = 300) -> str:
        item = items[int(self.item[k])]
        return json.dumps({
            "eval_set": item.set, "eval_id": item.id, "eval_text": item.text[:excerpt],
            "ngrams": int(self.ngrams[k]), "fraction": round(float(self.fraction[k]), 4), "field": self.fields[k],
        }, sort_keys=True, ensure_ascii=False)


def find(conversations: pa.Array, index: NgramIndex, cfg: DecontamConfig) -> RowHits:
    conversations = contiguous(conversations)
    turns = conversations.flatten()
    parent = pc.list_parent_indices(conversations).to_numpy()
    roles = turns.field("from")
    side = np.zeros(len(turns), np.int64)
    for name in cfg.fields:
        hit = pc.fill_null(pc.is_in(roles, pa.array(FIELD_ROLES[name])), False).to_numpy(zero_copy_only=False)
        side[hit] = _FIELD_BITS[name]
    chosen = np.flatnonzero(side)
    texts = turns.field("value").take(pa.array(chosen)) if len(chosen) < len(turns) else turns.field("value")
    text, item, key = index.match(texts, cfg.workers)
    if not len(text):
        return RowHits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), [])
    turn = chosen[text]
    row = parent[turn]
    # distinct (row, item, n-gram): an n-gram found in two turns of a row counts once
    order = np.lexsort((key, item, row))
    row, item, key, bits = row[order], item[order], key[order], side[turn][order]
    new = np.ones(len(row), bool)
    new[1:] = (row[1:] != row[:-1]) | (item[1:] != item[:-1]) | (key[1:] != key[:-1])
    pair_start = np.flatnonzero(np.r_[True, (row[1:] != row[:-1]) | (item[1:] != item[:-1])])
    ngrams = np.add.reduceat(new.astype(np.int64), pair_start)
    field_bits = np.bitwise_or.reduceat(bits, pair_start)
    p_row, p_item = row[pair_start], item[pair_start]
    fraction = ngrams / np.maximum(index.item_ngrams[p_item], 1)
    ok = (ngrams >= cfg.min_matches) & (fraction >= cfg.threshold)
    p_row, p_item, ngrams, fraction, field_bits = p_row[ok], p_item[ok], ngrams[ok], fraction[ok], field_bits[ok]
    # per row the best item: highest fraction, then most n-grams, then the first item
    order = np.lexsort((p_item, -ngrams, -fraction, p_row))
    first = np.r_[True, p_row[order][1:] != p_row[order][:-1]]
    pick = order[first]
    names = [n for n in _FIELD_BITS]
    fields = ["+".join(n for n in names if b & _FIELD_BITS[n]) for b in field_bits[pick]]
    return RowHits(p_row[pick], p_item[pick], ngrams[pick], fraction[pick], fields)
