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
    def settings(self) -> dict[str, Any]:
        n = self.near_cfg
        return {"version": INDEX_VERSION, "exact": self.exact_cfg.model_dump(), "near": {
            k: getattr(n, k) for k in ("text_key", "shingle", "ngram", "num_perm", "seed")} | {"lsh": list(self.spec_params())},
            "normalize": self.normalize_cfg.model_dump() if self.normalize_cfg is not None else None}

    def spec_params(self) -> tuple[int, int]:
        from curation.minhash.banding import lsh_params_for

        return lsh_params_for(self.near_cfg)

    def index(self, ctx: ReduceContext) -> tuple[pa.Table, dict[str, Any]]:
        """The existing set's index (memory-mapped), building and caching it when needed."""
        existing = ExistingSet(self.cfg.path)
        digest = hashlib.sha256(json.dumps([existing.fingerprint(), self.settings()], sort_keys=True,
                                           default=str).encode()).hexdigest()[:24]
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
            probe = _Probe(keys, self.cfg.exact, self.cfg.near, self.near_cfg.bucket_cap)
            offset = 0
            # the index, one record batch at a time: views of the memory map, nothing copied whole
            for batch in index.to_batches():
                offset += batch.num_rows
                found = probe.batch(batch, offset)
                if found is None:
                    continue
                exact_new, exact_old, pairs = found
                for a, b in zip(exact_new.tolist(), exact_old.tolist()):
                    if kind[a] != 1 or b < best_row[a]:
                        best_row[a], best_sim[a], kind[a] = b, 1.0, 1
                candidates += len(pairs)
                if len(pairs):
                    local = pairs[:, 1] - (offset - batch.num_rows)
                    old_sigs = _matrix(batch.column("signature"), np.uint32)
                    sims = (probe.signatures[pairs[:, 0]] == old_sigs[local]).mean(axis=1)
                    hit = sims >= self.near_cfg.threshold
                    for (a, b), sim in zip(pairs[hit].tolist(), sims[hit].tolist()):
                        if kind[a] == 1:
                            continue
                        if sim > best_sim[a] or (sim == best_sim[a] and b < best_row[a]):
                            best_sim[a], best_row[a], kind[a] = sim, b, 2
        stats["candidate_pairs"] = int(candidates)
        found = np.flatnonzero(best_row >= 0)
        stats["exact"] = int((kind == 1).sum())
        stats["near"] = int((kind == 2).sum())
        if not len(found):
            return Decisions.none(stats)
        ids = index.column("id").take(pa.array(best_row[found])).to_pylist()
        details = [json.dumps({"match": "exact"} if kind[i] == 1 else {"match": "near", "similarity": round(float(best_sim[i]), 6)},
                              sort_keys=True) for i in found.tolist()]
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


class _Probe:
    """The new rows' keys, sorted for lookups; :meth:`batch` matches one batch of the existing set's index."""

    def __init__(self, keys: pa.Table, exact: bool, near: bool, cap: int) -> None:
        self.exact, self.near, self.cap = exact, near, cap
        h1, h2 = keys.column("h1").to_numpy(), keys.column("h2").to_numpy()
        order = np.lexsort((h2, h1))
        self.h1, self.h2, self.h_order = h1[order], h2[order], order
        bands = _matrix(keys.column("bands"), np.uint64)
        ok = np.flatnonzero(keys.column("nshingles").to_numpy() > 0)
        self.band_rows, self.band_sorted = [], []
        for b in range(bands.shape[1]):
            o = np.argsort(bands[ok, b], kind="stable")
            self.band_rows.append(ok[o])
            self.band_sorted.append(bands[ok[o], b])
        self.signatures = _matrix(keys.column("signature"), np.uint32) if near else None

    def batch(self, batch: pa.RecordBatch, end: int):
        """(new rows, existing rows) with equal 128-bit keys, and (new, existing) pairs sharing a band key;
        existing rows numbered from ``end - len(batch)``."""
        first = end - batch.num_rows
        exact_new = exact_old = np.zeros(0, dtype=np.int64)
        if self.exact:
            o1 = batch.column("h1").to_numpy()
            lo = np.searchsorted(self.h1, o1, "left")
            hi = np.searchsorted(self.h1, o1, "right")
            hits = np.flatnonzero(hi > lo)
            news, olds = [], []
            o2 = batch.column("h2").to_numpy()
            for j in hits.tolist():
                for k in range(lo[j], hi[j]):
                    if self.h2[k] == o2[j]:
                        news.append(self.h_order[k])
                        olds.append(first + j)
            exact_new, exact_old = np.array(news, dtype=np.int64), np.array(olds, dtype=np.int64)
        pairs = np.zeros((0, 2), dtype=np.int64)
        if self.near:
            old_bands = _matrix(batch.column("bands"), np.uint64)
            old_ok = batch.column("nshingles").to_numpy() > 0
            parts = []
            for b, (rows, sorted_keys) in enumerate(zip(self.band_rows, self.band_sorted)):
                if not len(sorted_keys):
                    continue
                keys_b = old_bands[:, b]
                lo = np.searchsorted(sorted_keys, keys_b, "left")
                hi = np.minimum(np.searchsorted(sorted_keys, keys_b, "right"), lo + self.cap)
                hi = np.where(old_ok, hi, lo)
                counts = hi - lo
                if not counts.any():
                    continue
                olds = np.repeat(np.arange(len(keys_b)), counts)
                starts = np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
                parts.append(np.stack([rows[starts], olds + first], axis=1))
            if parts:
                pairs = np.unique(np.concatenate(parts).astype(np.int64), axis=0)
        if not len(exact_new) and not len(pairs):
            return None
        return exact_new, exact_old, pairs


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
