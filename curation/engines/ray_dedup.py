"""Ids, exact dedup and MinHash near-dedup as Ray Data steps (functions of one block or one partition).

Ids and exact dedup share one shuffle: rows are partitioned by their exact-dedup key (a function of the
row's content, so identical inputs land together too), then each partition assigns
:class:`curation.validate.IdAssigner` ids (content hash + occurrence number in input order, by ``pos``) and
runs the local :class:`curation.exact_dedup.ExactDedup` step on its rows in input order.

Near-dedup, in the steps of the fast single-machine backend (:mod:`curation.minhash.fast`) and with its
kernels:

1. :func:`band_records` (map): signatures and LSH band keys per row (:class:`SignatureSpec`).
2. :func:`bucket_candidates` (shuffle by band key): candidate pairs per bucket with the fast backend's
   bucket cap (:func:`curation.minhash.banding.band_candidates`; no cap for the datasketch backend).
3. :func:`attach_lo_text` then :func:`verify_pairs` (shuffles by each end of a pair, joined with the rows'
   texts): unique candidates, exact Jaccard (:func:`curation.minhash.verify.exact_jaccard`) or the signature
   estimate (``signature_agreement``); pairs at or above the threshold are edges.
4. Connected components across the cluster by alternating large-star / small-star rounds (Kiveris et al.,
   "Connected Components in MapReduce and Beyond", SoCC 2014), each a shuffle of the edges; every component
   ends as a star around its smallest ``pos`` (the label :func:`curation.minhash.clusters` gives locally).
5. :func:`attach_labels` (shuffle by row) then :func:`resolve_components` (shuffle by label): the shared keep
   policy, :func:`curation.keep_policy.resolve_clusters`, on each component's rows in input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation.config import CurationConfig
from curation.engines import ray_records as rec
from curation.engines.ray_records import Kind
from curation.exact_dedup import ExactDedup
from curation.keep_policy import resolve_clusters
from curation.minhash import kernels
from curation.minhash.banding import band_candidates, lsh_params_for
from curation.minhash.signatures import SignatureSpec
from curation.minhash.verify import exact_jaccard
from curation.stage import StageContext
from curation.text_keys import text_for
from curation.validate import Quarantined

NO_CAP = 1 << 62


def _ctx(config: CurationConfig) -> StageContext:
    return StageContext(config=config, cache_dir=Path("."))


def _occurrences(h: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Occurrence number (1, 2, ...) of each record among records with the same hash, in ``pos`` order."""
    n = len(h)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((pos, h))
    hs = h[order]
    starts = np.r_[True, hs[1:] != hs[:-1]]
    idx = np.arange(n)
    run_start = np.maximum.accumulate(np.where(starts, idx, 0))
    occ = np.empty(n, dtype=np.int64)
    occ[order] = idx - run_start + 1
    return occ


def _id(h: int, occurrence: int) -> str:
    base = f"{h:016x}"
    return base if occurrence == 1 else f"{base}-{occurrence}"


def assign_ids_and_exact(t: pa.Table, config: CurationConfig, stage_index: int) -> pa.Table:
    """One partition of the id / exact-dedup shuffle: ids for rows and quarantine entries, then ExactDedup."""
    t = rec.of_kind(t, Kind.ROW, Kind.QUARANTINE)
    kinds = rec.column(t, "kind")
    pos = rec.column(t, "pos")
    h = rec.column(t, "h")
    occ = _occurrences(h, pos)
    data = rec.payloads(t)
    local_line = rec.column(t, "a")
    out = rec.Builder()
    rows: list[tuple[int, dict]] = []
    for i in range(t.num_rows):
        rid = _id(int(h[i]), int(occ[i]))
        if kinds[i] == Kind.QUARANTINE:
            entry = rec.loads(data[i])
            record = Quarantined(rid, entry["position"], entry["raw"], entry["error"]).as_record()
            out.add(Kind.QUARANTINE, 0, int(pos[i]), a=int(local_line[i]), data=rec.dumps(record))
        else:
            row = rec.loads(data[i])
            row["id"] = rid
            rows.append((int(pos[i]), row))
    rows.sort(key=lambda pr: pr[0])
    stats = {"rows": len(rows)}
    cfg = config.stages.exact_dedup
    if cfg.enabled and rows:
        pos_of = {row["id"]: p for p, row in rows}
        result = ExactDedup(cfg).run([row for _, row in rows], _ctx(config))
        for row in result.kept:
            out.add(Kind.ROW, 0, pos_of[row["id"]], data=rec.dumps(row))
        for removal in result.removed:
            out.add(Kind.REMOVED, 0, pos_of[removal.row["id"]], a=stage_index,
                    data=rec.dumps(removal.as_record("exact_dedup")))
        stats.update(result.stats)
        stats["removed"] = {"exact_duplicate": len(result.removed)} if result.removed else {}
    else:
        for p, row in rows:
            out.add(Kind.ROW, 0, p, data=rec.dumps(row))
    out.stat(stats)
    return out.build()


# ------------------------------------------------------------------------------------------------ near-dedup


@dataclass(frozen=True)
class NearParams:
    text_key: str
    shingle: str
    ngram: int
    num_perm: int
    seed: int
    bands: int
    rows_per_band: int
    verify: bool
    threshold: float
    bucket_cap: int

    @staticmethod
    def from_config(cfg) -> "NearParams":
        bands, rows_per_band = lsh_params_for(cfg)  # the fast backend's choice, datasketch's optimum
        cap = cfg.bucket_cap if cfg.backend == "fast" else NO_CAP  # datasketch's index has no cap
        return NearParams(cfg.text_key, cfg.shingle, cfg.ngram, cfg.num_perm, cfg.seed, int(bands),
                          int(rows_per_band), cfg.verify, cfg.threshold, int(cap))

    def spec(self) -> SignatureSpec:
        return SignatureSpec(self.shingle, self.ngram, self.num_perm, self.seed, self.bands, self.rows_per_band)


def _texts(t: pa.Table, key: str) -> list[str]:
    return [text_for(rec.loads(d), key) for d in rec.payloads(t)]


def band_records(t: pa.Table, params: NearParams, parts: int) -> pa.Table:
    """Map: one BAND record per row with shingles and band (``a`` = band, ``h`` = band key)."""
    t = rec.of_kind(t, Kind.ROW)
    texts = _texts(t, params.text_key)
    pos = rec.column(t, "pos")
    stats = rec.Builder()
    if not texts:
        stats.stat({"rows": 0, "rows_without_shingles": 0})
        return stats.build()
    sig = params.spec().chunk(texts, keep_signatures=False)
    valid = sig.nshingles > 0
    stats.stat({"rows": len(texts), "rows_without_shingles": int((~valid).sum())})
    keys = sig.band_keys[valid]  # (rows, bands)
    rows = pos[valid]
    nb = params.bands
    band = np.tile(np.arange(nb, dtype=np.int64), len(rows))
    key = keys.reshape(-1)
    row_pos = np.repeat(rows, nb)
    part = rec.partition_of(key ^ rec.mix64(band), parts)
    return rec.concat([rec.table(Kind.BAND, part, row_pos, a=band, h=key), stats.build()])


def bucket_candidates(t: pa.Table, cap: int, parts: int) -> pa.Table:
    """Partition of band records: candidate pairs of every bucket (same band, same key), per band as the
    fast backend forms them (rows ascending within a bucket; a bucket above ``cap`` rows gives star + chain)."""
    t = rec.of_kind(t, Kind.BAND)
    pos = rec.column(t, "pos")
    band = rec.column(t, "a")
    key = rec.column(t, "h")
    rows, local = np.unique(pos, return_inverse=True)
    n = len(rows)
    packed_parts = []
    capped = 0
    for j in np.unique(band):
        m = band == j
        r = local[m].astype(np.int64)
        k = key[m]
        order = np.argsort(r, kind="stable")  # rows ascending, as the fast backend hands them over
        packed, c = band_candidates(k[order], r[order], n, cap)
        packed_parts.append(packed)
        capped += int(c)
    packed = np.unique(np.concatenate(packed_parts)) if packed_parts else np.empty(0, np.int64)
    lo, hi = np.divmod(packed, n) if n else (packed, packed)
    lo_pos, hi_pos = rows[lo], rows[hi]
    stats = rec.Builder()
    stats.stat({"capped_buckets": capped})
    return rec.concat([rec.table(Kind.CANDIDATE, rec.partition_of(lo_pos, parts), lo_pos, a=hi_pos), stats.build()])


def text_records(t: pa.Table, params: NearParams, parts: int) -> pa.Table:
    """Map: what pair verification compares, per row: its text (UTF-8) or, unverified, its signature."""
    t = rec.of_kind(t, Kind.ROW)
    pos = rec.column(t, "pos")
    texts = _texts(t, params.text_key)
    if params.verify:
        data = [s.encode("utf-8", "surrogatepass") for s in texts]
    else:
        sigs = params.spec().chunk(texts, keep_signatures=True).signatures if texts else np.empty((0, params.num_perm), np.uint32)
        data = [row.tobytes() for row in sigs]
    return rec.table(Kind.TEXT, rec.partition_of(pos, parts), pos, data=data)


def _unique_pairs(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(lo) == 0:
        return lo, hi
    order = np.lexsort((hi, lo))
    lo, hi = lo[order], hi[order]
    keep = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
    return lo[keep], hi[keep]


def attach_lo_text(t: pa.Table, parts: int) -> pa.Table:
    """Partition by a pair's smaller row: unique candidate pairs, each sent on with that row's text."""
    cand = rec.of_kind(t, Kind.CANDIDATE)
    texts = rec.of_kind(t, Kind.TEXT)
    lo, hi = _unique_pairs(rec.column(cand, "pos"), rec.column(cand, "a"))
    text_of = dict(zip(rec.column(texts, "pos").tolist(), rec.payloads(texts)))
    stats = rec.Builder()
    stats.stat({"candidate_pairs": int(len(lo))})
    halves = rec.table(Kind.HALF, rec.partition_of(hi, parts), hi, a=lo, data=[text_of[int(x)] for x in lo])
    return rec.concat([halves, stats.build()])


def verify_pairs(t: pa.Table, params: NearParams) -> pa.Table:
    """Partition by a pair's larger row: similarity of each pair; pairs at or above the threshold are EDGEs."""
    halves = rec.of_kind(t, Kind.HALF)
    texts = rec.of_kind(t, Kind.TEXT)
    hi = rec.column(halves, "pos")
    lo = rec.column(halves, "a")
    stats = rec.Builder()
    if len(hi) == 0:
        stats.stat({"verified_pairs": 0})
        return stats.build()
    payload: dict[int, bytes] = dict(zip(rec.column(texts, "pos").tolist(), rec.payloads(texts)))
    payload.update(zip(lo.tolist(), rec.payloads(halves)))
    rows = np.unique(np.concatenate([lo, hi]))
    left = np.searchsorted(rows, lo)
    right = np.searchsorted(rows, hi)
    sims = np.empty(len(lo), dtype=np.float64)
    if params.verify:
        texts_of_rows = [payload[int(r)].decode("utf-8", "surrogatepass") for r in rows]
        pairs = np.stack([left, right], axis=1).astype(np.int64)
        for _ in exact_jaccard(texts_of_rows, pairs, params.shingle, params.ngram, sims):
            pass
    else:
        sigs = np.stack([np.frombuffer(payload[int(r)], dtype=np.uint32) for r in rows])
        kernels.signature_agreement(sigs, left, right, sims)
    keep = sims >= params.threshold
    stats.stat({"verified_pairs": int(keep.sum())})
    edges = rec.table(Kind.EDGE, np.zeros(int(keep.sum()), np.int64), lo[keep], a=hi[keep], f=sims[keep])
    return rec.concat([edges, stats.build()])


# ------------------------------------------------------------------------------------- connected components


def large_star_map(t: pa.Table, parts: int) -> pa.Table:
    """Each edge both ways, keyed by its source node."""
    e = rec.of_kind(t, Kind.EDGE)
    u, v = rec.column(e, "pos"), rec.column(e, "a")
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    return rec.table(Kind.EDGE, rec.partition_of(src, parts), src, a=dst)


def _groups(src: np.ndarray, dst: np.ndarray):
    """Unique (src, dst) sorted, with each edge's group index and the first edge of each group."""
    src, dst = _unique_pairs(src, dst)
    starts = np.r_[True, src[1:] != src[:-1]] if len(src) else np.zeros(0, bool)
    first = np.flatnonzero(starts)
    gid = np.cumsum(starts) - 1
    return src, dst, first, gid


def large_star_reduce(t: pa.Table) -> pa.Table:
    """Large-star: every larger neighbour of ``u`` is linked to the smallest node of ``u``'s neighbourhood."""
    e = rec.of_kind(t, Kind.EDGE)
    src, dst, first, gid = _groups(rec.column(e, "pos"), rec.column(e, "a"))
    stats = rec.Builder()
    if len(src) == 0:
        stats.stat({"changed": 0})
        return stats.build()
    m = np.minimum(np.minimum.reduceat(dst, first), src[first])[gid]
    sel = dst > src
    changed = int(np.count_nonzero(sel & (m != src)))
    stats.stat({"changed": changed})
    out = rec.table(Kind.EDGE, np.zeros(int(sel.sum()), np.int64), dst[sel], a=m[sel])
    return rec.concat([out, stats.build()])


def small_star_map(t: pa.Table, parts: int) -> pa.Table:
    """Each edge once, keyed by its larger node (``pos``), pointing to the smaller (``a``)."""
    e = rec.of_kind(t, Kind.EDGE)
    u, v = rec.column(e, "pos"), rec.column(e, "a")
    big, small = np.maximum(u, v), np.minimum(u, v)
    return rec.table(Kind.EDGE, rec.partition_of(big, parts), big, a=small)


def small_star_reduce(t: pa.Table) -> pa.Table:
    """Small-star: ``u`` and its smaller neighbours are all linked to the smallest of them."""
    e = rec.of_kind(t, Kind.EDGE)
    src, dst, first, gid = _groups(rec.column(e, "pos"), rec.column(e, "a"))
    stats = rec.Builder()
    if len(src) == 0:
        stats.stat({"changed": 0})
        return stats.build()
    sizes = np.diff(np.r_[first, len(src)])
    m_group = np.minimum.reduceat(dst, first)
    m = m_group[gid]
    stats.stat({"changed": int(np.count_nonzero(sizes > 1))})
    others = dst != m
    nodes = np.concatenate([dst[others], src[first]])
    roots = np.concatenate([m[others], m_group])
    out = rec.table(Kind.EDGE, np.zeros(len(nodes), np.int64), nodes, a=roots)
    return rec.concat([out, stats.build()])


def star_labels(t: pa.Table, parts: int) -> pa.Table:
    """Converged stars to LABEL records: every node gets its component's smallest node."""
    e = rec.of_kind(t, Kind.EDGE)
    u, v = rec.column(e, "pos"), rec.column(e, "a")
    leaf, root = np.maximum(u, v), np.minimum(u, v)
    nodes = np.concatenate([leaf, root])
    labels = np.concatenate([root, root])
    return rec.table(Kind.LABEL, rec.partition_of(nodes, parts), nodes, a=labels)


def attach_labels(t: pa.Table, parts: int) -> pa.Table:
    """Partition by row: rows of a component go on as MEMBERs (to their label's partition), other rows stay
    ROWs; verified edges (keyed by their smaller row) learn their component's label."""
    labels_t = rec.of_kind(t, Kind.LABEL)
    label_of = dict(zip(rec.column(labels_t, "pos").tolist(), rec.column(labels_t, "a").tolist()))
    out = []
    rows = rec.of_kind(t, Kind.ROW)
    if rows.num_rows:
        pos = rec.column(rows, "pos")
        lab = np.array([label_of.get(int(p), -1) for p in pos], dtype=np.int64)
        member = lab >= 0
        data = rows.column("data")
        out.append(rec.table(Kind.ROW, np.zeros(int((~member).sum()), np.int64), pos[~member],
                             data=data.filter(pa.array(~member)).to_pylist()))
        out.append(rec.table(Kind.MEMBER, rec.partition_of(lab[member], parts), pos[member], a=lab[member],
                             data=data.filter(pa.array(member)).to_pylist()))
    edges = rec.of_kind(t, Kind.EDGE)
    if edges.num_rows:
        lo = rec.column(edges, "pos")
        lab = np.array([label_of[int(p)] for p in lo], dtype=np.int64)
        out.append(rec.table(Kind.EDGE, rec.partition_of(lab, parts), lo, a=rec.column(edges, "a"), b=lab,
                             f=rec.column(edges, "f")))
    return rec.concat(out)


def resolve_components(t: pa.Table, stage_index: int) -> pa.Table:
    """Partition by component: the keep policy (:func:`resolve_clusters`) on each component's rows."""
    members = rec.of_kind(t, Kind.MEMBER)
    edges = rec.of_kind(t, Kind.EDGE)
    by_label: dict[int, list[tuple[int, bytes]]] = {}
    for p, label, d in zip(rec.column(members, "pos").tolist(), rec.column(members, "a").tolist(), rec.payloads(members)):
        by_label.setdefault(label, []).append((p, d))
    sims_of: dict[int, list[tuple[int, int, float]]] = {}
    for lo, hi, label, s in zip(rec.column(edges, "pos").tolist(), rec.column(edges, "a").tolist(),
                                rec.column(edges, "b").tolist(), rec.column(edges, "f").tolist()):
        sims_of.setdefault(label, []).append((lo, hi, s))
    out = rec.Builder()
    clusters = 0
    sizes: dict[int, int] = {}
    removed = 0
    for label in sorted(by_label):
        entries = sorted(by_label[label])
        rows = [rec.loads(d) for _, d in entries]
        index = {p: i for i, (p, _) in enumerate(entries)}
        pos_of = {row["id"]: p for (p, _), row in zip(entries, rows)}
        similarity = {(index[lo], index[hi]): s for lo, hi, s in sims_of.get(label, [])}
        kept, dropped, stats = resolve_clusters(rows, [0] * len(rows), reason="near_duplicate", similarity=similarity)
        clusters += stats["clusters"]
        for k, v in stats["cluster_sizes"].items():
            sizes[int(k)] = sizes.get(int(k), 0) + v
        for row in kept:
            out.add(Kind.ROW, 0, pos_of[row["id"]], data=rec.dumps(row))
        for removal in dropped:
            out.add(Kind.REMOVED, 0, pos_of[removal.row["id"]], a=stage_index,
                    data=rec.dumps(removal.as_record("near_dedup")))
        removed += len(dropped)
    out.stat({"clusters": clusters, "cluster_sizes": sizes, "removed": removed})
    return out.build()
