"""Extension without duplicates: new rows that duplicate a row of an existing dataset are removed.

``tome curate --against DIR_OR_DATASET`` (``stages.against.path``): the existing set is a previous ``tome
curate`` output folder (its splits) or any input ``--input`` takes. A new row whose text key hashes like an
existing row's (the exact dedup settings) or whose MinHash estimate of Jaccard with one reaches the near-dedup
threshold (the near dedup settings; LSH bands find the candidates) is removed with reason
``duplicate_of_existing`` and ``duplicate_of`` = the existing row's id (``details``: ``match`` exact or near,
and the similarity). The existing data is never rewritten.

What is kept of the existing set is its index: per row the id, a 128-bit hash of the text key, the LSH band
keys and the MinHash signature (no text), written once to an Arrow file and memory-mapped, so memory is
bounded by the signatures the probe touches. The index is built in one read of the existing set and cached
(in the existing folder's ``.cache/`` for a curated folder, else in the run's), keyed by the existing set's
fingerprint and the settings: a later run against the same set does not read it again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from pydantic import Field

from curation.core.columns import text_key
from curation.core.config_base import StrictModel
from curation.core.hashing import hash128
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, DUPLICATE_OF, POS, REASON, Decisions, GlobalStage, ReduceContext

REASON_CODE = "duplicate_of_existing"
INDEX_VERSION = 1


class AgainstConfig(StrictModel):
    """Removes new rows that duplicate a row of an existing dataset (`--against`): exact and near, same settings."""

    enabled: bool = True
    path: str | None = Field(None, description="the existing dataset: a tome curate output folder or any input; "
                                               "null: the stage does nothing")
    exact: bool = Field(True, description="match on the exact dedup text key hash")
    near: bool = Field(True, description="match on MinHash (the near dedup settings and threshold)")
    cache_dir: str | None = Field(None, description="where the existing set's index is kept (default: the existing "
                                                    "folder's .cache/ for a curated folder, else the run's)")


class Against(GlobalStage):
    name = "against"

    def __init__(self, cfg: AgainstConfig, exact_cfg, near_cfg, normalize_cfg=None) -> None:
        self.cfg = cfg
        self.exact_cfg = exact_cfg
        self.near_cfg = near_cfg
        self.normalize_cfg = normalize_cfg
        self._spec = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_spec"] = None
        return state

    def skip(self) -> bool:
        return self.cfg.path is None or not (self.cfg.exact or self.cfg.near)

    # -- shared by new rows and the existing set ------------------------------------------------------
    def spec(self):
        if self._spec is None:
            from curation.minhash.banding import lsh_params_for
            from curation.minhash.signatures import SignatureSpec

            c = self.near_cfg
            bands, rows = lsh_params_for(c)
            self._spec = SignatureSpec(c.shingle, c.ngram, c.num_perm, c.seed, bands, rows)
        return self._spec

    def _signals(self, conversations: pa.Array) -> dict[str, pa.Array]:
        """Hashes of the exact text key and MinHash band keys + signatures of the near text key."""
        out: dict[str, pa.Array] = {}
        texts = text_key(conversations, self.exact_cfg.text_key)
        if not self.exact_cfg.case_sensitive:
            from curation.exact_dedup import casefold

            texts = casefold(texts)
        h1, h2 = hash128(texts)
        out["h1"], out["h2"] = pa.array(h1), pa.array(h2)
        part = self.spec().chunk_arrow(text_key(conversations, self.near_cfg.text_key), keep_signatures=True)
        out["nshingles"] = pa.array(part.nshingles, pa.int64())
        out["bands"] = pa.FixedSizeListArray.from_arrays(pa.array(part.band_keys.reshape(-1)), part.band_keys.shape[1])
        out["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(part.signatures.reshape(-1)), self.near_cfg.num_perm)
        return out

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = {POS: batch.column(POS), "id": batch.column("id"), **self._signals(batch.column("conversations"))}
        return pa.RecordBatch.from_pydict(columns)

    # -- the existing set's index ---------------------------------------------------------------------
    def settings(self, curated: bool = False) -> dict[str, Any]:
        """What the index depends on: the signals' settings, not whether the run's own dedup stages are on; a
        curated folder's rows are indexed as they are, so normalization does not count for one."""
        n = self.near_cfg
        normalize = None if curated or self.normalize_cfg is None else self.normalize_cfg.model_dump()
        return {"version": INDEX_VERSION, "exact": self.exact_cfg.model_dump(exclude={"enabled"}), "near": {
            k: getattr(n, k) for k in ("text_key", "shingle", "ngram", "num_perm", "seed")} | {"lsh": list(self.spec_params())},
            "normalize": normalize}

    def spec_params(self) -> tuple[int, int]:
        from curation.minhash.banding import lsh_params_for

        return lsh_params_for(self.near_cfg)

    def index(self, ctx: ReduceContext) -> tuple[pa.Table, dict[str, Any]]:
        """The existing set's index (memory-mapped), building and caching it when needed."""
        existing = ExistingSet(self.cfg.path)
        key = [existing.fingerprint(), self.settings(curated=existing.curated is not None)]
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
        folders = [Path(self.cfg.cache_dir)] if self.cfg.cache_dir else []
        if existing.curated is not None:
            folders.append(existing.curated / ".cache" / "against")
        folders.append(Path(ctx.cache_dir) / "against")
        for folder in folders:
            path = folder / f"index-{digest}.arrow"
            if path.exists():
                return _mapped(path), {"index": "cached", "existing_rows": None}
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"index-{digest}.arrow"
                rows = self._build(existing, path, ctx)
                return _mapped(path), {"index": "built", "existing_rows": rows}
            except OSError:
                continue
        raise OSError(f"{self.cfg.path}: no writable folder for the index of the existing set")

    def _build(self, existing: "ExistingSet", path: Path, ctx: ReduceContext) -> int:
        tmp = path.with_name(path.name + ".tmp")
        writer = None
        rows = 0
        try:
            for ids, conversations in ctx.track(existing.rows(self.normalize_cfg), None, "against: index the existing set"):
                table = pa.table({"id": ids, **self._signals(conversations)})
                if writer is None:
                    writer = ipc.new_file(str(tmp), table.schema)
                writer.write_table(table)
                rows += table.num_rows
            if writer is None:
                schema = pa.table({"id": pa.array([], pa.string()),
                                   **self._signals(pa.array([], _turns_type()))}).schema
                writer = ipc.new_file(str(tmp), schema)
        finally:
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
        return rows

    # -- the decision ---------------------------------------------------------------------------------
    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        index, stats = self.index(ctx)
        n = keys.num_rows
        stats["existing_rows"] = index.num_rows
        best_sim = np.full(n, -1.0)
        best_row = np.full(n, -1, dtype=np.int64)
        kind = np.zeros(n, dtype=np.int8)  # 1 exact, 2 near
        candidates = 0
        if n and index.num_rows:
            batches = index.to_batches()  # views of the memory map
            bounds = np.cumsum([0] + [b.num_rows for b in batches])
            if self.cfg.exact:  # first the 128-bit keys: one lookup over the whole index
                probe = _KeyProbe(keys.column("h1").to_numpy(), keys.column("h2").to_numpy())
                new, old = probe.match(_concat(batches, "h1"), _concat(batches, "h2"))
                first = np.full(n, np.iinfo(np.int64).max)
                np.minimum.at(first, new, old)
                hit = first < np.iinfo(np.int64).max
                best_row[hit], best_sim[hit], kind[hit] = first[hit], 1.0, 1
            if self.cfg.near:  # then the band keys, for the rows without an exact match, a band at a time
                rest = np.flatnonzero((kind == 0) & (keys.column("nshingles").to_numpy() > 0))
                bands = _matrix(keys.column("bands"), np.uint64)
                old_ok = _concat(batches, "nshingles") > 0
                parts = []
                for b in range(bands.shape[1]):
                    probe = _KeyProbe(bands[rest, b])
                    old_keys = np.concatenate([_matrix(batch.column("bands"), np.uint64)[:, b] for batch in batches])
                    parts.append(_band_pairs(probe, rest, old_keys, old_ok, self.near_cfg.bucket_cap, n))
                codes = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
                candidates = len(codes)
                pairs = np.stack([codes % n, codes // n], axis=1)  # (new row, existing position), by position
                signatures = _matrix(keys.column("signature"), np.uint32)
                for k, batch in enumerate(batches):  # verify against each batch's signatures (a view)
                    lo, hi = np.searchsorted(pairs[:, 1], [bounds[k], bounds[k + 1]])
                    if lo == hi:
                        continue
                    part = pairs[lo:hi]
                    old_sigs = _matrix(batch.column("signature"), np.uint32)
                    sims = (signatures[part[:, 0]] == old_sigs[part[:, 1] - bounds[k]]).mean(axis=1)
                    hit = sims >= self.near_cfg.threshold
                    for (a, b), sim in zip(part[hit].tolist(), sims[hit].tolist()):
                        if sim > best_sim[a] or (sim == best_sim[a] and b < best_row[a]):
                            best_sim[a], best_row[a], kind[a] = sim, b, 2
        stats["candidate_pairs"] = int(candidates)
        found = np.flatnonzero(best_row >= 0)
        stats["exact"] = int((kind == 1).sum())
        stats["near"] = int((kind == 2).sum())
        if not len(found):
            return Decisions.none(stats)
        ids = index.column("id").take(pa.array(best_row[found])).to_pylist()
        exact = json.dumps({"match": "exact"})
        details = [exact if kind[i] == 1 else '{"match": "near", "similarity": %r}' % round(float(best_sim[i]), 6)
                   for i in found.tolist()]
        pos = keys.column(POS).to_numpy()[found]
        order = np.argsort(pos)
        return Decisions(pa.table({
            POS: pa.array(pos[order], pa.int64()),
            REASON: pa.array([REASON_CODE] * len(found), pa.string()),
            DUPLICATE_OF: pa.array([ids[k] for k in order], pa.string()),
            DETAILS: pa.array([details[k] for k in order], pa.string()),
        }), stats)


def _turns_type() -> pa.DataType:
    from curation.core.columns import TURNS

    return TURNS


def _mapped(path: Path) -> pa.Table:
    return ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def _matrix(column, dtype) -> np.ndarray:
    """A fixed-size-list column as a 2-D array (a view when it is one chunk without nulls)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    width = column.type.list_size
    if len(column) == 0:
        return np.zeros((0, width), dtype=dtype)
    return column.flatten().to_numpy().astype(dtype, copy=False).reshape(-1, width)


class _KeyProbe:
    """The new rows' keys (one or two uint64 per row) in a hash set (Arrow's ``index_in``), to look up many
    existing keys at once."""

    def __init__(self, k1: np.ndarray, k2: np.ndarray | None = None) -> None:
        order = np.argsort(k1, kind="stable")
        self.rows = order  # new rows, grouped by key
        self.k1 = k1[order]
        self.k2 = None if k2 is None else k2[order]
        self.unique, self.starts, self.counts = np.unique(self.k1, return_index=True, return_counts=True)
        self.value_set = pa.array(self.unique)

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the existing keys that some new row has: (existing positions, first sorted slot, slot count)."""
        if not len(self.unique) or not len(keys):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        at = pc.index_in(pa.array(keys), value_set=self.value_set)
        hit = np.flatnonzero(at.is_valid().to_numpy(zero_copy_only=False))
        slot = at.filter(at.is_valid()).to_numpy().astype(np.int64)
        return hit, self.starts[slot], self.counts[slot]

    def match(self, k1: np.ndarray, k2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(new row, existing position) for every pair whose two keys are equal."""
        hit, start, count = self.lookup(k1)
        if not len(hit):
            return hit, hit
        olds = np.repeat(hit, count)
        slots = np.repeat(start, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        same = self.k2[slots] == k2[olds]
        return self.rows[slots[same]], olds[same]


def _band_pairs(probe: _KeyProbe, rest: np.ndarray, old_keys: np.ndarray, old_ok: np.ndarray, cap: int,
                n: int) -> np.ndarray:
    """Codes ``existing position * n + new row`` of the pairs sharing this band's key; an existing row pairs
    with at most ``cap`` new rows (a bucket of near-identical new rows)."""
    hit, start, count = probe.lookup(old_keys)
    keep = old_ok[hit]
    hit, start, count = hit[keep], start[keep], np.minimum(count[keep], cap)
    if not len(hit):
        return np.zeros(0, dtype=np.int64)
    olds = np.repeat(hit, count)
    slots = np.repeat(start, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    return olds * n + rest[probe.rows[slots]]


def _concat(batches: list[pa.RecordBatch], column: str) -> np.ndarray:
    return np.concatenate([b.column(column).to_numpy() for b in batches]) if batches else np.zeros(0)


class ExistingSet:
    """The rows an extension is checked against: a curated output folder's splits, or any input."""

    def __init__(self, spec: str) -> None:
        from curation.sources import is_curated_folder

        self.spec = spec
        path = Path(spec).expanduser()
        self.curated = path if path.is_dir() and is_curated_folder(path) else None

    def fingerprint(self) -> str:
        if self.curated is not None:
            manifest = json.loads((self.curated / "manifest.json").read_text(encoding="utf-8"))
            outputs = manifest.get("outputs", {})
            return "curated:" + json.dumps({k: v.get("sha256") for k, v in outputs.items() if k in ("train", "validation", "test")},
                                           sort_keys=True)
        from curation.readers import open_input

        return open_input(self.spec).fingerprint

    def rows(self, normalize_cfg) -> Iterator[tuple[pa.Array, pa.Array]]:
        """``(ids, conversations)`` batches: a curated folder's rows as they are (already normalized); any
        other input validated (format converted) and normalized as a new row would be."""
        if self.curated is not None:
            import pyarrow.parquet as pq

            from curation.sources import expand

            for file in expand(self.curated):
                for batch in pq.ParquetFile(file.path).iter_batches(batch_size=16_384, columns=["id", "conversations"]):
                    yield batch.column("id"), batch.column("conversations")
            return
        from curation.config import config_model
        from curation.normalize import Normalize
        from curation.pipeline import open_source
        from curation.validate import Validate

        config = config_model()()
        source, config = open_source(self.spec, config)
        validate = Validate(config.stage("validate"), config.inputs)
        normalize = Normalize(normalize_cfg) if normalize_cfg is not None and normalize_cfg.enabled else None
        for raw in source.batches(16_384):
            batch = validate.process(raw).batch
            if normalize is not None and batch.num_rows:
                batch = normalize.process(batch).batch
            if batch.num_rows:
                yield batch.column("id"), batch.column("conversations")


def _build(cfg: AgainstConfig, curation) -> Against:
    return Against(cfg, curation.stage("exact_dedup"), curation.stage("near_dedup"), curation.stage("normalize"))


SPEC = register(
    StageSpec(
        name="against",
        order=35,
        kind="global",
        config=AgainstConfig,
        build=_build,
        reasons=(REASON_CODE,),
        summary="removes new rows that duplicate a row of an existing dataset (--against), exact or near",
    )
)
