"""Extension without duplicates: new rows that duplicate a row of an existing dataset are removed.

``tome curate --against DIR_OR_DATASET`` (``stages.against.path``): the existing set is a previous ``tome
curate`` output folder (its splits, or the one split named) or any input ``--input`` takes. A new row whose
text key hashes like an existing row's (the exact dedup settings) or whose MinHash estimate of Jaccard with one
reaches the near-dedup threshold (the near dedup settings; LSH bands find the candidates) is removed with reason
``duplicate_of_existing`` and ``duplicate_of`` = the existing row's id (``details``: ``match`` exact or near,
and the similarity). The existing data is never rewritten.

What is kept of the existing set is its index (no text): per row the id, a 128-bit hash of the text key and
the MinHash signature; and, for the lookups, the first hash word and each LSH band's keys sorted, with the rows
they belong to. It is written once to Arrow files and memory-mapped. A new row's keys are found by binary search
in the sorted keys, so a run costs O(new rows x log existing rows) and touches only the pages it lands on:
memory is bounded by the signatures the probe reads, and the time hardly grows with the existing set. The index
is built in one read of the existing set and cached (in the existing folder's ``.cache/`` for a curated folder,
else in the run's), keyed by the existing set's fingerprint and the settings: a later run against the same set
does not read it again, and one against a set that changed builds it anew (a curated folder's fingerprint holds
its split files' sizes, times and inodes, so a split edited by hand is never matched by a stale index); a cached
index whose files are not whole is built again. A local folder laid out as a hub dataset is read split by split.
A plain input's rows that cannot be read or validated are left out of the index (nothing could match them) and
counted in the stage's stats: ``existing_unreadable``, and ``existing_unreadable_first`` (where and why).

Candidates: a new row pairs with the existing rows that share one of its band keys, at most ``bucket_cap`` of
them per band (the first by position: a bucket that large is a run of near-identical existing rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from pydantic import Field, model_validator

from curation.core.columns import contiguous, text_key
from curation.core.config_base import StrictModel
from curation.core.hashing import hash128
from curation.core.registry import StageSpec, register
from curation.core.stage import DETAILS, DUPLICATE_OF, POS, REASON, Decisions, GlobalStage, ReduceContext, StageError
from curation.minhash.kernels import merge_unique
from curation.parallel import in_order
from tomecraft.files import expand_user, too_long

REASON_CODE = "duplicate_of_existing"
INDEX_VERSION = 3  # 3: rows.arrow holds each existing row's own id (`own_id`)


class AgainstConfig(StrictModel):
    """Removes new rows that duplicate a row of an existing dataset (`--against`): exact and near, same settings."""

    enabled: bool = True
    path: str | None = Field(None, description="the existing dataset: a tome curate output folder (or one of its "
                                               "splits) or any input; null: the stage does nothing")
    subset: str | None = Field(None, description="the configuration of a hub dataset given as `path` (datasets' "
                                                 "`name`: `all` of HuggingFaceTB/smoltalk), as an input's `subset`")
    exact: bool = Field(True, description="match on the exact dedup text key hash")
    near: bool = Field(True, description="match on MinHash (the near dedup settings and threshold)")
    cache_dir: str | None = Field(None, description="where the existing set's index is kept (default: the existing "
                                                    "folder's .cache/ for a curated folder, else the run's)")

    @model_validator(mode="after")
    def _matches_something(self) -> "AgainstConfig":
        if self.enabled and self.path is not None and not (self.exact or self.near):
            raise ValueError("exact and near are both false: no new row would be matched against the existing set "
                             "(set one true, or enabled: false)")
        return self


class Against(GlobalStage):
    name = "against"

    def __init__(self, cfg: AgainstConfig, exact_cfg, near_cfg, normalize_cfg=None) -> None:
        self.cfg = cfg
        self.exact_cfg = exact_cfg
        self.near_cfg = near_cfg
        self.normalize_cfg = normalize_cfg
        self._spec = None
        self._take = False  # near dedup, right before, hands its MinHash signatures on (see wants)
        self._fingerprint: str | None = None  # the existing set's, once taken (depends_on, then index)
        self._existing_kind: str | None = None  # and what it is, as an input's ``kind`` says (or ``curated``)
        self._existing_changed: list[str] = []  # and its splits edited after their run (ExistingSet.changed)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_spec"] = None
        return state

    def skip(self) -> bool:
        return self.cfg.path is None or not (self.cfg.exact or self.cfg.near)

    def depends_on(self) -> dict[str, Any] | None:
        """What the decisions depend on besides the config and the new rows: the existing set as it is now (its
        fingerprint), so that ``--resume`` after the set changed decides again instead of reusing the decisions
        made against the set as it was. Taken once: :meth:`index` keys the index by the same value. None when the
        set cannot be told now (the run then stops on it, with its one line, when the index is opened)."""
        if self.skip():
            return None
        try:
            return {"existing": self._existing_fingerprint(ExistingSet(self.cfg.path, self.cfg.subset))}
        except (StageError, OSError):
            return None

    def _existing_fingerprint(self, existing: "ExistingSet") -> str:
        if self._fingerprint is None:
            self._fingerprint = existing.fingerprint()
            self._existing_kind = existing.kind
            self._existing_changed = list(existing.changed)
        return self._fingerprint

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
        key = text_key(conversations, self.exact_cfg.text_key)
        near_key = key if self.near_cfg.text_key == self.exact_cfg.text_key else None
        return {**self._exact_signals(conversations, key), **self._minhash_signals(conversations, near_key)}

    def _exact_signals(self, conversations: pa.Array, key: pa.Array | None = None) -> dict[str, pa.Array]:
        texts = text_key(conversations, self.exact_cfg.text_key) if key is None else key
        if not self.exact_cfg.case_sensitive:
            from curation.exact_dedup import casefold

            texts = casefold(texts)
        h1, h2 = hash128(texts)
        return {"h1": pa.array(h1), "h2": pa.array(h2)}

    def _minhash_signals(self, conversations: pa.Array, key: pa.Array | None = None) -> dict[str, pa.Array]:
        texts = text_key(conversations, self.near_cfg.text_key) if key is None else key
        part = self.spec().chunk_arrow(texts, keep_signatures=True)
        return {
            "nshingles": pa.array(part.nshingles, pa.int64()),
            "bands": pa.FixedSizeListArray.from_arrays(pa.array(part.band_keys.reshape(-1)), part.band_keys.shape[1]),
            "signature": pa.FixedSizeListArray.from_arrays(pa.array(part.signatures.reshape(-1)), self.near_cfg.num_perm),
        }

    def wants(self) -> frozenset[str]:
        from curation.near_dedup import minhash_signal

        return frozenset({minhash_signal(self.near_cfg)}) if self.cfg.near else frozenset()

    def link(self, give: frozenset[str], take: frozenset[str]) -> None:
        self._take = self._take or bool(take & self.wants())

    def warm_up(self) -> None:
        from curation.core.warm import sample_rows

        self.keys(sample_rows())

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        conversations = batch.column("conversations")
        # the MinHash signals, unless near dedup, right before, hands them on (see _minhash)
        signals = self._exact_signals(conversations) if self._take else self._signals(conversations)
        return pa.RecordBatch.from_pydict({POS: batch.column(POS), "id": batch.column("id"), **signals})

    def _minhash(self, keys: pa.Table, ctx: ReduceContext, table: pa.Table | None) -> tuple[np.ndarray, np.ndarray, Any]:
        """Per key row: the shingle count, the band keys (uint64) and a function of rows (ascending) -> their
        signatures. From the keys, or from ``table``, the signal near dedup left (only the signatures of the rows
        asked for are gathered from it); rows it lacks (all of them when there is none, as after a resume) are
        computed here, a chunk at a time, from their text."""
        if "signature" in keys.column_names:
            signature = keys.column("signature")
            return (keys.column("nshingles").to_numpy().astype(np.int64, copy=False),
                    _matrix(keys.column("bands"), np.uint64), lambda rows: _matrix_rows(signature, rows, np.uint32))
        spec, n = self.spec(), keys.num_rows
        nshingles = np.zeros(n, np.int64)
        bands = np.zeros((n, spec.bands), np.uint64)
        pos = keys.column(POS).to_numpy()
        found = np.zeros(n, dtype=bool)
        at = np.zeros(n, dtype=np.int64)  # a found row's row in the table
        if table is not None and table.num_rows and n:
            shared = table.column(POS).to_numpy()
            ordered = len(shared) < 2 or bool((shared[1:] > shared[:-1]).all())  # as near dedup hands it over
            order = None if ordered else np.argsort(shared, kind="stable")
            by_pos = shared if order is None else shared[order]
            slot = np.minimum(np.searchsorted(by_pos, pos), len(shared) - 1)
            found = by_pos[slot] == pos
            at[found] = slot[found] if order is None else order[slot[found]]
            rows = np.flatnonzero(found)
            ascending = at[rows]
            if len(ascending) > 1 and not bool((ascending[1:] > ascending[:-1]).all()):
                rows = rows[np.argsort(ascending, kind="stable")]
            if len(rows) == n and order is None and bool((pos[1:] > pos[:-1]).all()):  # every row, in order
                nshingles = _gather(table.column("nshingles"), at).astype(np.int64, copy=False)
                bands = _matrix_rows(table.column("bands"), at, np.uint64)
            else:
                nshingles[rows] = _gather(table.column("nshingles"), at[rows])
                bands[rows] = _matrix_rows(table.column("bands"), at[rows], np.uint64)
        missing = np.flatnonzero(~found)
        computed = np.zeros((len(missing), spec.num_perm), np.uint32)  # the missing rows' signatures, in order
        for lo in range(0, len(missing), 200_000):  # each fetch reads the stage's rows once
            chunk = missing[lo : lo + 200_000]
            by_pos = np.argsort(pos[chunk], kind="stable")
            fetched = ctx.fetch(pos[chunk[by_pos]], ["conversations"]).column("conversations").combine_chunks()
            part = spec.chunk_arrow(text_key(fetched, self.near_cfg.text_key), keep_signatures=True)
            rows = chunk[by_pos]
            nshingles[rows], bands[rows] = part.nshingles, part.band_keys
            computed[lo + by_pos] = part.signatures
        signature = table.column("signature") if table is not None else None
        slot_of_missing = np.full(n, -1, dtype=np.int64)
        slot_of_missing[missing] = np.arange(len(missing))

        def signatures_of(rows: np.ndarray) -> np.ndarray:
            out = np.empty((len(rows), spec.num_perm), np.uint32)
            mine = found[rows]
            if mine.any():
                picked = np.flatnonzero(mine)
                order = np.argsort(at[rows[picked]], kind="stable")
                out[picked[order]] = _matrix_rows(signature, at[rows[picked]][order], np.uint32)
            if not mine.all():
                out[~mine] = computed[slot_of_missing[rows[~mine]]]
            return out

        return nshingles, bands, signatures_of

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

    def index(self, ctx: ReduceContext) -> tuple["_Index", dict[str, Any]]:
        """The existing set's index (memory-mapped), building and caching it when needed."""
        existing = ExistingSet(self.cfg.path, self.cfg.subset)
        key = [self._existing_fingerprint(existing), self.settings(curated=existing.curated is not None)]
        changed = {"existing_changed": self._existing_changed} if self._existing_changed else {}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
        folders = [Path(self.cfg.cache_dir)] if self.cfg.cache_dir else []
        if existing.curated is not None:
            folders.append(existing.curated / ".cache" / "against")
        folders.append(Path(ctx.cache_dir) / "against")
        shape = {"bands": self.spec_params()[0], "num_perm": self.near_cfg.num_perm}
        for folder in folders:
            path = folder / f"index-{digest}"
            if (path / _Index.FILES[-1]).exists():
                try:
                    return _Index.open(path, **shape), {"index": "cached", "existing_rows": None,
                                                        **_skipped_stats(path), "existing_kind": self._existing_kind,
                                                        **changed}
                except (OSError, pa.ArrowException, _BrokenIndex):  # damaged: built again below, never read half
                    shutil.rmtree(path, ignore_errors=True)
        settings = hashlib.sha256(json.dumps([key[1], existing.scope()], sort_keys=True, default=str).encode()).hexdigest()[:24]
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"index-{digest}"
                rows = self._build(existing, path, ctx, settings)
                _prune(folder, keep=path, settings=settings)
                return _Index.open(path, **shape), {"index": "built", "existing_rows": rows, **_skipped_stats(path),
                                                    "existing_kind": self._existing_kind, **changed}
            except (OSError, pa.ArrowException, _BrokenIndex):
                continue
        raise OSError(f"{self.cfg.path}: no writable folder for the index of the existing set")

    def _build(self, existing: "ExistingSet", path: Path, ctx: ReduceContext, settings: str) -> int:
        """One read of the existing set: the per-row file as it streams, then the sorted lookups. Written in a
        folder of this build's own (another run building the same index at once writes in its own, never in
        this one's) and moved into place whole; when another build got there first, its index is kept."""
        tmp = Path(tempfile.mkdtemp(prefix=f"{path.name}.tmp-", dir=path.parent))
        try:
            return self._write_index(existing, tmp, path, ctx, settings)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _write_index(self, existing: "ExistingSet", tmp: Path, path: Path, ctx: ReduceContext, settings: str) -> int:
        writer = None
        rows = 0
        first_words: list[np.ndarray] = []
        band_keys: list[np.ndarray] = []
        with_shingles: list[np.ndarray] = []
        try:
            for ids, conversations, own_ids in ctx.track(existing.rows(self.normalize_cfg), None,
                                                         "against: index the existing set"):
                signals = self._signals(conversations)
                bands = signals.pop("bands")
                table = pa.table({"id": ids, "own_id": own_ids, **signals})
                if writer is None:
                    writer = ipc.new_file(str(tmp / "rows.arrow"), table.schema)
                writer.write_table(table)
                rows += table.num_rows
                first_words.append(table.column("h1").to_numpy())
                band_keys.append(_matrix(bands, np.uint64))
                with_shingles.append(table.column("nshingles").to_numpy() > 0)
            if writer is None:
                signals = self._signals(pa.array([], _turns_type()))
                signals.pop("bands")
                empty = pa.array([], pa.string())
                schema = pa.table({"id": empty, "own_id": empty, **signals}).schema
                writer = ipc.new_file(str(tmp / "rows.arrow"), schema)
        finally:
            if writer is not None:
                writer.close()
        (tmp / SKIPPED_FILE).write_text(json.dumps(existing.skipped, sort_keys=True))
        bands_count = self.spec_params()[0]
        position = np.int32 if rows < 2**31 else np.int64
        h1 = np.concatenate(first_words) if first_words else np.zeros(0, np.uint64)
        order = np.argsort(h1, kind="stable")
        _write(tmp / "exact.arrow", {"key": h1[order], "pos": order.astype(position)})
        del h1, first_words
        keys = np.concatenate(band_keys) if band_keys else np.zeros((0, bands_count), np.uint64)
        ok = np.flatnonzero(np.concatenate(with_shingles)) if with_shingles else np.zeros(0, np.int64)
        del band_keys
        columns: dict[str, np.ndarray] = {}
        for b in range(bands_count):  # rows without shingles have no band keys to match
            band = keys[ok, b]
            order = np.argsort(band, kind="stable")
            columns[f"band{b}"] = band[order]
            columns[f"band{b}_pos"] = ok[order].astype(position)
        (tmp / SETTINGS_FILE).write_text(settings)
        _write(tmp / "bands.arrow", columns)
        try:
            os.replace(tmp, path)
        except OSError:  # an index is there: one another run finished meanwhile (kept), or a damaged one
            try:
                _Index.open(path, bands=bands_count, num_perm=self.near_cfg.num_perm)
            except (OSError, pa.ArrowException, _BrokenIndex):
                shutil.rmtree(path, ignore_errors=True)
                os.replace(tmp, path)
        return rows

    # -- the decision ---------------------------------------------------------------------------------
    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        from curation.near_dedup import minhash_signal

        shared = ctx.signals.pop(minhash_signal(self.near_cfg), None) if self._take else None
        index, stats = self.index(ctx)
        n = keys.num_rows
        stats["existing_rows"] = index.rows.num_rows
        best_sim = np.full(n, -1.0)
        best_row = np.full(n, -1, dtype=np.int64)
        kind = np.zeros(n, dtype=np.int8)  # 1 exact, 2 near
        candidates = 0
        if n and index.rows.num_rows:
            if self.cfg.exact:  # the 128-bit keys: the first word by binary search, the second compared
                new, slot = _ranges(index.column("exact", "key"), keys.column("h1").to_numpy(), None)
                old = index.column("exact", "pos")[slot].astype(np.int64)
                same = _gather(index.rows.column("h2"), old) == keys.column("h2").to_numpy()[new]
                first = np.full(n, np.iinfo(np.int64).max)
                np.minimum.at(first, new[same], old[same])
                hit = first < np.iinfo(np.int64).max
                best_row[hit], best_sim[hit], kind[hit] = first[hit], 1.0, 1
            if self.cfg.near:  # then the band keys, for the rows without an exact match, a band at a time
                nshingles, bands, signatures_of = self._minhash(keys, ctx, shared)
                shared = None
                rest = np.flatnonzero((kind == 0) & (nshingles > 0))
                cap = self.near_cfg.bucket_cap

                def band_codes(b: int) -> np.ndarray:  # NumPy's sort and search release the GIL
                    at, slot = _ranges(index.column("bands", f"band{b}"), bands[rest, b], cap)
                    codes = index.column("bands", f"band{b}_pos")[slot].astype(np.int64) * n + rest[at]
                    codes.sort()
                    return codes

                # candidates as codes (existing position * n + new row), sorted: each band's merged into the union
                # of the bands before (memory holds the union, not every band's pairs)
                codes = np.zeros(0, dtype=np.int64)
                for part in in_order(band_codes, range(bands.shape[1]), ctx.workers):
                    codes = merge_unique(codes, part)
                part = None  # (the last band's pairs, merged)
                candidates = len(codes)
                has = np.zeros(n, dtype=bool)
                for lo in range(0, len(codes), VERIFY_PAIRS):
                    has[codes[lo : lo + VERIFY_PAIRS] % n] = True
                rows = np.flatnonzero(has)  # the signatures of the new rows with candidates only
                signatures = signatures_of(rows)
                local = np.full(n, -1, dtype=np.int64)
                local[rows] = np.arange(len(rows))
                # per new row with a candidate: the highest similarity at or above the threshold, then the lowest
                # existing position (-1: none yet), kept as the candidates are verified a slice at a time
                top_sim = np.full(len(rows), -1.0)
                top_pos = np.full(len(rows), -1, dtype=np.int64)
                batches = index.rows.to_batches()  # views of the memory map
                bounds = np.cumsum([0] + [batch.num_rows for batch in batches])
                for k, batch in enumerate(batches):  # verify against each batch's signatures (a view)
                    lo, hi = np.searchsorted(codes, [bounds[k] * n, bounds[k + 1] * n])
                    if lo == hi:
                        continue
                    old_sigs = _matrix(batch.column("signature"), np.uint32)
                    for start in range(lo, hi, VERIFY_PAIRS):
                        old, new = np.divmod(codes[start : min(hi, start + VERIFY_PAIRS)], n)
                        new = local[new]
                        sims = (signatures[new] == old_sigs[old - bounds[k]]).mean(axis=1)
                        hit = sims >= self.near_cfg.threshold
                        _keep_best(top_sim, top_pos, new[hit], sims[hit], old[hit])
                matched = np.flatnonzero(top_pos >= 0)
                a = rows[matched]
                best_sim[a], best_row[a], kind[a] = top_sim[matched], top_pos[matched], 2
        stats["candidate_pairs"] = int(candidates)
        found = np.flatnonzero(best_row >= 0)
        stats["exact"] = int((kind == 1).sum())
        stats["near"] = int((kind == 2).sum())
        if not len(found):
            return Decisions.none(stats)
        pos = keys.column(POS).to_numpy()
        found = found[np.argsort(pos[found], kind="stable")]  # decisions in position order
        ids = _take(index.rows.column("id"), best_row[found])
        # each similarity spelled once: a signature of w values gives at most w + 1 of them
        near = kind[found] != 1
        similarities, which = np.unique(best_sim[found][near], return_inverse=True)
        spelled = np.array(['{"match": "near", "similarity": %r}' % round(sim, 6) for sim in similarities.tolist()]
                           + [json.dumps({"match": "exact"})], dtype=object)
        at = np.full(len(found), len(similarities))
        at[near] = which.reshape(-1)
        details = spelled[at].tolist()
        own = _take(index.rows.column("own_id"), best_row[found])
        if own.null_count < len(own):  # a plain input's own ids (duplicate_of is tome's id of the row)
            details = [d if o is None else d[:-1] + ", \"existing_input_id\": " + json.dumps(o) + "}"
                       for d, o in zip(details, own.to_pylist())]
        return Decisions(pa.table({
            POS: pa.array(pos[found], pa.int64()),
            REASON: pa.array([REASON_CODE] * len(found), pa.string()),
            DUPLICATE_OF: ids,
            DETAILS: pa.array(details, pa.string()),
        }), stats)


def _turns_type() -> pa.DataType:
    from curation.core.columns import TURNS

    return TURNS


@dataclass
class _Index:
    """The existing set's index, memory-mapped: ``rows`` (id, h1, h2, nshingles, signature by position),
    ``exact`` (h1 sorted, with positions) and ``bands`` (each band's keys sorted, with positions; rows with
    shingles only)."""

    FILES = ("rows.arrow", "exact.arrow", "bands.arrow")  # written in this order: the last one marks it whole

    rows: pa.Table
    exact: pa.Table
    bands: pa.Table

    @classmethod
    def open(cls, folder: Path, bands: int, num_perm: int) -> "_Index":
        """The index in ``folder``, once its files are seen whole and of one build (:class:`_BrokenIndex`
        otherwise: a file cut short, overwritten or lost, as a disk filled up or a hand left it); ``bands`` and
        ``num_perm``: the settings it was built with."""
        index = cls(*(_mapped(folder / name) for name in cls.FILES))
        rows = index.rows.num_rows
        names = {f"band{b}{s}" for b in range(bands) for s in ("", "_pos")}
        signature = index.rows.schema.field("signature").type if "signature" in index.rows.column_names else None
        if (index.exact.num_rows != rows or set(index.bands.column_names) != names or index.bands.num_rows > rows
                or getattr(signature, "list_size", None) != num_perm):
            raise _BrokenIndex(f"{folder}: the index's files do not agree")
        return index

    def column(self, table: str, name: str) -> np.ndarray:
        """A lookup column as a NumPy view of the memory map (each lookup file is one record batch)."""
        column = getattr(self, table).column(name)
        column = contiguous(column)
        return column.to_numpy()


class _BrokenIndex(Exception):
    """A cached index whose files are not whole or not of one build: it is built again."""


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    with ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)


def _mapped(path: Path) -> pa.Table:
    return ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def _matrix(column, dtype) -> np.ndarray:
    """A fixed-size-list column as a 2-D array (a view when it is one chunk without nulls)."""
    column = contiguous(column)
    width = column.type.list_size
    if len(column) == 0:
        return np.zeros((0, width), dtype=dtype)
    return column.flatten().to_numpy().astype(dtype, copy=False).reshape(-1, width)


def _gather(column: pa.ChunkedArray, positions: np.ndarray) -> np.ndarray:
    """``column[positions]`` of an integer column without nulls, as NumPy, gathered from each chunk's view (of
    the map): the chunks are not joined first."""
    chunks = [c.to_numpy() for c in column.chunks]
    if len(chunks) <= 1:
        return (chunks[0] if chunks else np.zeros(0, np.uint64))[positions]
    bounds = np.cumsum([0] + [len(c) for c in chunks])
    which = np.searchsorted(bounds, positions, side="right") - 1
    out = np.empty(len(positions), dtype=chunks[0].dtype)
    for k in np.unique(which).tolist():
        picked = which == k
        out[picked] = chunks[k][positions[picked] - bounds[k]]
    return out


def _take(column: pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """``column[positions]`` (any order) as one array, taken from each chunk's view (of the map): Arrow's take over
    a column of many chunks first joins them, reading every row of the column from disk."""
    chunks = column.chunks
    if len(chunks) == 1:
        return chunks[0].take(pa.array(positions, pa.int64()))
    bounds = np.cumsum([0] + [len(c) for c in chunks])
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    cuts = np.searchsorted(ordered, bounds)
    parts = [chunks[k].take(pa.array(ordered[cuts[k]:cuts[k + 1]] - bounds[k], pa.int64()))
             for k in range(len(chunks)) if cuts[k + 1] > cuts[k]]
    taken = pa.concat_arrays(parts) if parts else pa.array([], column.type)
    back = np.empty(len(order), np.int64)
    back[order] = np.arange(len(order))
    return taken.take(pa.array(back))


def _matrix_rows(column: pa.ChunkedArray, rows: np.ndarray, dtype) -> np.ndarray:
    """The rows ``rows`` (ascending) of a fixed-size-list column as a 2-D array, gathered from each chunk's
    view (Arrow's take over a column of many chunks first joins them: a copy of every row)."""
    bounds = np.cumsum([0] + [len(c) for c in column.chunks])
    cuts = np.searchsorted(rows, bounds)
    parts = [_matrix(column.chunk(k), dtype)[rows[cuts[k]:cuts[k + 1]] - bounds[k]]
             for k in range(column.num_chunks) if cuts[k + 1] > cuts[k]]
    return np.concatenate(parts) if parts else np.zeros((0, column.type.list_size), dtype=dtype)


VERIFY_PAIRS = 1 << 17  # candidate pairs whose signatures are compared at once (128 values each, side by side)


def _keep_best(top_sim: np.ndarray, top_pos: np.ndarray, rows: np.ndarray, sims: np.ndarray, pos: np.ndarray) -> None:
    """Fold matches (``rows[k]`` similar to existing position ``pos[k]`` at ``sims[k]``) into each row's best so far:
    the highest similarity, then the lowest position (``top_pos`` -1: none yet)."""
    if not len(rows):
        return
    order = np.lexsort((pos, -sims, rows))
    first = order[np.r_[True, rows[order[1:]] != rows[order[:-1]]]]
    r, s, p = rows[first], sims[first], pos[first]
    better = (top_pos[r] < 0) | (s > top_sim[r]) | ((s == top_sim[r]) & (p < top_pos[r]))
    top_sim[r[better]], top_pos[r[better]] = s[better], p[better]


def _ranges(sorted_keys: np.ndarray, queries: np.ndarray, cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(query, slot)`` with ``sorted_keys[slot] == queries[query]``, at most ``cap`` slots (the first)
    per query; grouped by query in key order (queries with the same key in no set order), slots ascending
    within a query. The queries are searched in sorted order: consecutive searches then walk nearby memory
    (about 7x faster on a million keys); the sort need not be stable (NumPy's default sort is several times
    faster), as every caller uses the pairs as a set."""
    if not len(sorted_keys) or not len(queries):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order = np.argsort(queries)
    ordered = queries[order]
    lo = np.searchsorted(sorted_keys, ordered, side="left")
    found = np.flatnonzero(sorted_keys[np.minimum(lo, len(sorted_keys) - 1)] == ordered)  # most queries miss
    lo = lo[found]
    count = np.searchsorted(sorted_keys, ordered[found], side="right") - lo
    if cap is not None:
        count = np.minimum(count, cap)
    total = int(count.sum())
    at = np.repeat(order[found].astype(np.int64, copy=False), count)
    slot = np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(total, dtype=np.int64)
    return at, slot


class ExistingSet:
    """The rows an extension is checked against: a curated output folder's splits, or any input.

    A folder that a ``tome curate`` run wrote is read through its manifest, never as a plain folder of files:
    read so, its ``removed.parquet`` would count as existing rows and a lost split would pass unseen. So a
    folder whose manifest is tomecraft's (even with every split gone) is a curated folder, and one that holds
    ``removed.parquet`` beside a split but no manifest is refused, as damaged. One split of a curated folder
    (``out/train.parquet``, the shard folder ``out/train/`` or one of its shards) is read the same way, that
    split only: its rows keep the ids they were written with, which ``duplicate_of`` then names (read as a
    plain input, its rows would get new ids, from the whole record, that the file does not hold)."""

    def __init__(self, spec: str, subset: str | None = None) -> None:
        from curation.contract import SPLITS
        from curation.sources import is_curated_folder

        self.spec = spec
        self.subset = subset  # a hub dataset's configuration (open_input's ``subset``)
        path = expand_user(spec)
        # a name no file system holds: said by check(), before the run (each look at it raises "File name too long")
        self.too_long = None if "://" in spec else too_long(path)
        if self.too_long is None:
            path = _finetome_twin(path) or path
        self.curated = path if self.too_long is None and path.is_dir() and (
            is_curated_folder(path) or _tome_manifest(path)) else None
        self.splits: tuple[str, ...] = SPLITS
        self.only: list[Path] | None = None  # one split's files, when the spec names them
        self.named: Path | None = None  # what the spec names then: the split's file or shard folder, or one shard
        self.changed: list[str] = []  # a curated folder's splits that no longer hold the rows its manifest lists
        # rows of a plain input that validation or normalization quarantined as it was read: left out of the
        # index, counted (``rows``) with the first one's place and error (``first``), for the stage's stats
        self.skipped: dict[str, Any] = {"rows": 0, "first": None}
        self._hub_parts: list[str] | None = None
        self.kind: str | None = None  # once fingerprinted: ``curated``, or the input's kind (``jsonl``, ``hub``, ...)
        if self.too_long is not None:
            return
        if self.curated is None:
            named = path if path.exists() else _curated_split_named(spec) or path  # (out:train: out/train.parquet)
            found = _split_of_curated(named)
            if found is not None:
                self.curated, split, self.only = found
                self.splits = (split,)
                self.named = named.resolve()
        if self.curated is None and path.is_dir():
            _refuse_output_without_manifest(path)

    def check(self) -> None:
        """What can be told of the set before a run, without reading its rows (:class:`StageError`, one line): a
        curated folder's manifest, split footers and listed files (as :meth:`fingerprint` checks them), or a
        local path that is not there (a glob, a hub id or a file is opened when the index is built)."""
        if self.too_long is not None:
            raise StageError(f"--against {self.spec}: {self.too_long}")
        if self.curated is not None:
            if self.subset is not None:
                raise StageError(f"--against {self.spec}: a subset ({self.subset!r}) is a hub dataset's configuration; "
                                 "this is a curated folder: leave stages.against.subset out")
            self._check_curated()
            return
        if "://" in self.spec:  # a remote set: looked at (one request), not read
            self._check_remote()
            return
        from curation.readers import looks_like_path, named_split
        from curation.sources import exists

        path = expand_user(self.spec)
        local = looks_like_path(self.spec) or self.spec.endswith("/")  # (a hub id has one slash, inside)
        split = named_split(self.spec)  # FOLDER:SPLIT, one split of a local dataset folder
        one_split = split is not None and exists(split[0])
        if local and not any(c in self.spec for c in "*?[") and not one_split and not exists(path):
            raise StageError(f"--against {self.spec}: file not found")

    def _check_remote(self) -> None:
        """A URI's store reached and the file or folder there (a glob is expanded when the index is built)."""
        if any(c in self.spec for c in "*?["):
            return
        from curation.readers import InputError
        from curation.readers.filesystems import remote_kind, resolve_filesystem

        try:
            fs, path = resolve_filesystem(self.spec)
            kind = remote_kind(fs, path, self.spec)
        except InputError as exc:
            raise StageError(f"--against {exc}") from None
        if kind == "missing":
            raise StageError(f"--against {self.spec}: file not found")

    def fingerprint(self) -> str:
        """What the index is keyed by. A curated folder's: its manifest's output hashes and each split file's
        path, size, modification time, inode and status-change time (a file replaced or edited after the run, the
        manifest untouched, makes another key: the index is built again, never reused stale; the files' bytes are
        not read). The last two because the first three can be the same after a change: a file of the same size
        given the old time (``touch -r``, ``cp -p``, ``rsync -t``) or written again within the clock's tick; no
        write leaves the status-change time as it was, and a file put in place by a rename has another inode."""
        if self.curated is not None:
            self.kind = "curated"
            manifest = self._check_curated()
            outputs = manifest.get("outputs") if isinstance(manifest.get("outputs"), dict) else {}
            files = []
            for file in self.split_files():
                stat = file.stat()
                files.append([file.relative_to(self.curated).as_posix(), stat.st_size, stat.st_mtime_ns, stat.st_ino,
                              stat.st_ctime_ns])
            return "curated:" + json.dumps({"outputs": {k: v.get("sha256") if isinstance(v, dict) else None
                                                        for k, v in outputs.items() if k in ("train", "validation", "test")},
                                            "files": files}, sort_keys=True)
        from curation.readers import InputError, open_input

        try:
            sources = [(part, open_input(part, subset=self.subset)) for part in self.parts()]
            self.kind = sources[0][1].kind  # (a hub dataset's splits are all hub, a folder's all local)
            if [part for part, _ in sources] == [self.spec]:
                return sources[0][1].fingerprint
            return "splits:" + json.dumps([[part, source.fingerprint] for part, source in sources])
        except InputError as exc:  # named as the existing set's, not taken for an --input's
            raise StageError(_as_against(exc)) from None

    def parts(self) -> list[str]:
        """The input specs a plain set is read from: the spec, or, for a local folder laid out as a hub dataset
        repository (its files named by split), a ``save_to_disk`` DatasetDict or a hub dataset, each of its splits
        (``FOLDER:train``, ``FOLDER:test``, ``ORG/NAME:test``, ...). As
        an ``--input``, such a folder reads ``train`` alone (its test rows are not to be trained on); as the set
        new rows must not duplicate, its test rows count as much as its train rows (read as train alone, a new
        row that is one of the set's test rows was kept, into the training data of the extension)."""
        from curation.readers import hub_split_names, is_hub_id
        from curation.sources import split_layout

        path = expand_user(self.spec)
        if self.curated is None and ":" not in self.spec and is_hub_id(self.spec):  # a hub dataset: every split
            if self._hub_parts is None:  # (listed once: the index's key and its build both ask)
                splits = hub_split_names(self.spec, self.subset)
                self._hub_parts = ([self.spec] if splits in (None, ["train"])
                                   else [f"{self.spec}:{split}" for split in splits])
            return self._hub_parts
        if self.curated is not None or "://" in self.spec or not path.is_dir():
            return [self.spec]
        saved = _saved_splits(path)
        if saved is not None:
            return [self.spec] if saved == ["train"] else [f"{self.spec}:{split}" for split in saved]
        layout = split_layout(path)
        if layout is None or list(layout.splits) == ["train"]:
            return [self.spec]
        return [f"{self.spec}:{split}" for split in layout.splits]

    def split_files(self) -> list[Path]:
        """A curated folder's split files (``train.parquet`` or the shards of ``train/``, ...), in row order."""
        from curation.contract import output_paths

        if self.only is not None:
            return list(self.only)
        paths = output_paths(self.curated)
        return [f for split in self.splits if paths.split(split).exists() for f in paths.files(paths.split(split))]

    def scope(self) -> list[str]:
        """Which part of a curated folder the set is, whatever its files hold now: its splits, or the one split
        (its file or shard folder) or shard named, not the shards a split folder holds now (another run may write
        it in more or fewer). Indexes of one folder are pruned only within a scope, so that runs against the whole
        folder and runs against one split, taken in turn, keep each their own index. Any other set is its spec (a
        local path resolved, a hub id with its subset): the indexes of other sets, kept in the same folder (the
        run's own cache, or ``cache_dir``), are never pruned for it."""
        if self.curated is None:
            local = expand_user(self.spec)
            return ["input", str(local.resolve()) if local.exists() else self.spec, self.subset or ""]
        if self.named is not None:
            return [self.named.relative_to(self.curated).as_posix()]
        return list(self.splits)

    def _check_curated(self) -> dict[str, Any]:
        """The curated folder's manifest, once it and the footers of its splits read (their ``id`` and
        ``conversations`` of the types written), and every split file it lists (with rows) found; a damaged or
        missing file stops the run with one line naming it (:class:`StageError`). A split that holds more or fewer
        rows than the manifest lists (edited after the run) is the set as it is now, and said so: :attr:`changed`."""
        from curation.contract import OutputFolderError, output_paths, read_manifest

        self.changed = []
        paths = output_paths(self.curated)
        try:
            manifest = read_manifest(self.curated)
            rows_in = {file: _check_split_footer(self.curated, file) for file in self.split_files()}
        except OutputFolderError as exc:
            raise StageError(f"--against {exc}") from None
        outputs = manifest.get("outputs") if isinstance(manifest.get("outputs"), dict) else {}
        for split in self.splits:
            listed = outputs.get(split)
            if not isinstance(listed, dict) or not isinstance(listed.get("rows"), int) or listed["rows"] < 0:
                continue
            path = paths.split(split)
            names = listed.get("files") if isinstance(listed.get("files"), list) else []
            lost = [path.name] if not path.exists() else [str(Path(path.name) / str(n)) for n in names
                                                          if path.is_dir() and not (path / str(n)).exists()]
            if lost and listed["rows"]:
                raise StageError(f"--against {self.curated}: {', '.join(lost)} is missing (its manifest.json lists "
                                 f"{listed['rows']:,} rows in {split}); the existing set is incomplete: restore the "
                                 "file, or curate that set again")
            files = paths.files(path) if path.exists() else []
            if self.only is not None and list(self.only) != files:  # one shard named: the set is that shard
                continue
            held = sum(rows_in[file] for file in files)
            if held != listed["rows"]:  # rows added to or taken from a split by hand: the set is what it holds now
                self.changed.append(f"{path.name} holds {held:,} rows where its manifest.json lists {listed['rows']:,}")
        return manifest

    def rows(self, normalize_cfg) -> Iterator[tuple[pa.Array, pa.Array, pa.Array]]:
        """``(ids, conversations, own ids)`` batches: a curated folder's rows as they are (already normalized; no
        own ids: its ``id`` is the one a user looks up); any other input validated (format converted) and
        normalized as a new row would be, with the ``id`` its file gave each row (as text; null where none)."""
        if self.curated is not None:
            import pyarrow.compute as pc
            import pyarrow.parquet as pq

            from curation.contract import OutputFolderError, reading, unreadable_file

            for file in self.split_files():  # the footers were checked by fingerprint(); a row group may still fail
                try:
                    row = 0
                    with reading(self.curated, file):
                        for batch in pq.ParquetFile(file).iter_batches(batch_size=16_384, columns=["id", "conversations"]):
                            for name in ("id", "conversations"):  # a null would index as an existing row of no text
                                if batch.column(name).null_count:
                                    at = row + pc.index(pc.is_null(batch.column(name)), True).as_py() + 1
                                    raise unreadable_file(self.curated, file, f"row {at:,}: {name!r} is null")
                            row += batch.num_rows
                            no_own = pa.nulls(batch.num_rows, pa.string())
                            yield batch.column("id"), batch.column("conversations"), no_own
                except OutputFolderError as exc:
                    raise StageError(f"--against {exc}") from None
            return
        yield from self._input_rows(normalize_cfg)

    def _input_rows(self, normalize_cfg) -> Iterator[tuple[pa.Array, pa.Array, pa.Array]]:
        """Any other input's rows, validated and normalized; what stops its reading is named as --against's."""
        from curation.config import config_model
        from curation.normalize import Normalize
        from curation.pipeline import open_source
        from curation.readers import InputError
        from curation.validate import Validate

        try:
            normalize = Normalize(normalize_cfg) if normalize_cfg is not None and normalize_cfg.enabled else None
            for part in self.parts():
                if self.subset is None:
                    source, config = open_source(part, config_model()())
                else:  # (a subset is an input's, given in the config's inputs)
                    source, config = open_source(None, config_model()(inputs=[{"path": part, "subset": self.subset}]))
                validate = Validate(config.stage("validate"), config.inputs)
                for raw in source.batches(16_384):
                    out = validate.process(raw)
                    self._count_skipped(out.quarantine)
                    batch = out.batch
                    if normalize is not None and batch.num_rows:
                        out = normalize.process(batch)
                        self._count_skipped(out.quarantine)
                        batch = out.batch
                    if batch.num_rows:
                        yield batch.column("id"), batch.column("conversations"), _own_ids(batch)
        except InputError as exc:
            raise StageError(_as_against(exc)) from None


    def _count_skipped(self, quarantine: pa.Table | None) -> None:
        if quarantine is None or not quarantine.num_rows:
            return
        if self.skipped["first"] is None:
            first = quarantine.slice(0, 1).to_pylist()[0]
            try:
                position = json.loads(first.get("position") or "{}")
            except ValueError:
                position = {}
            where = ", ".join(f"{k} {position[k]}" for k in ("file", "line", "row") if position.get(k) is not None)
            error = " ".join(str(first.get("error")).split())  # one line
            self.skipped["first"] = f"{where}: {error}" if where else error
        self.skipped["rows"] += quarantine.num_rows


def _own_ids(batch: pa.RecordBatch) -> pa.Array:
    """The ``id`` the input's file gave each row (validate keeps it as ``input_id``), as text: numbers and text as
    they read, anything else (a list, a struct) as null, as rows without one."""
    if "input_id" not in batch.schema.names:
        return pa.nulls(batch.num_rows, pa.string())
    column = batch.column("input_id")
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
        return column.cast(pa.string())
    if pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type) or pa.types.is_integer(kind.value_type)):
        return column.dictionary_decode().cast(pa.string())
    return pa.nulls(batch.num_rows, pa.string())


def _as_against(exc: Exception) -> str:
    """An input's error line, named as the existing set's (where an input takes a subset, this set takes it too)."""
    from curation.readers import SUBSET_HINT

    return "--against " + str(exc).replace(SUBSET_HINT, "give the set a subset: stages.against.subset in the config")


def _saved_splits(path: Path) -> list[str] | None:
    """The splits a ``save_to_disk`` DatasetDict folder lists in its ``dataset_dict.json``, or None (not such a
    folder, or a list that cannot be read: the folder is then read as any input reads it, and says what is wrong)."""
    try:
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(splits, list) or not splits or not all(isinstance(s, str) and s for s in splits):
        return None
    return splits


def _skipped_stats(index: Path) -> dict[str, Any]:
    """The stats of the existing set's rows left out of ``index`` as unreadable (see :attr:`ExistingSet.skipped`):
    ``existing_unreadable`` (a count) and, when any, ``existing_unreadable_first`` (where and why, one line)."""
    try:
        skipped = json.loads((index / SKIPPED_FILE).read_text())
    except (OSError, ValueError):  # an index built before the count was kept
        return {}
    stats: dict[str, Any] = {"existing_unreadable": int(skipped.get("rows", 0))}
    if skipped.get("first"):
        stats["existing_unreadable_first"] = str(skipped["first"])
    return stats


SKIPPED_FILE = "skipped.json"  # in an index folder: the existing set's rows left out as unreadable
SETTINGS_FILE = "settings.sha256"  # in an index folder: the digest of the settings and scope it was built with


def _prune(folder: Path, keep: Path, settings: str) -> None:
    """Remove the indexes of ``folder`` (a curated folder's own cache, the run's, or ``cache_dir``) built with the
    same settings and scope (:meth:`ExistingSet.scope`) as ``keep`` but for an earlier state of the set: they can
    never match again (each is as large as the set's signatures), while indexes of other settings or scopes stay
    for the runs that use them."""
    for other in folder.glob("index-*"):
        if other == keep or not other.is_dir() or ".tmp-" in other.name:  # (a build in progress: its own to finish)
            continue
        try:
            same = (other / SETTINGS_FILE).read_text() == settings
        except OSError:
            continue
        if same:
            shutil.rmtree(other, ignore_errors=True)


def _tome_manifest(folder: Path) -> bool:
    """Whether ``folder`` holds the ``manifest.json`` of a ``tome curate`` run (a JSON object naming the
    tomecraft version): its splits may all be gone, it is still no plain folder of files."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "tomecraft_version" in manifest


def _check_split_footer(root: Path, file: Path) -> int:
    """The rows of a split file, once its footer is read and its ``id`` is text and its ``conversations``
    FineTome's turns, as ``tome curate`` writes them (:class:`OutputFolderError` naming the file otherwise:
    indexed, any other type would end the run with a traceback, or match new rows to ids the set does not hold)."""
    import pyarrow.parquet as pq

    from curation.contract import reading, unreadable_file

    with reading(root, file):
        meta = pq.read_metadata(file)
        schema = meta.schema.to_arrow_schema()
    for name, ok, expected in (("id", _is_text, "text"), ("conversations", _is_turns, "a list of {from, value} turns")):
        if name not in schema.names:
            raise unreadable_file(root, file, f"no {name!r} column (not a split written by `tome curate`)")
        kind = schema.field(name).type
        if not ok(kind):
            raise unreadable_file(root, file, f"column {name!r} is {kind}, expected {expected}")
    return meta.num_rows


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def _is_turns(kind: pa.DataType) -> bool:
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    turn = kind.value_type
    return (pa.types.is_struct(turn) and all(turn.get_field_index(k) >= 0 and _is_text(turn.field(k).type)
                                             for k in ("from", "value")))


def _finetome_twin(path: Path) -> Path | None:
    """For a path under a curated folder's ``messages/`` (what ``--format messages`` or ``both`` writes: the same
    rows, ids and order as the splits, in TRL's shape), the path it mirrors: ``out/messages`` -> ``out``,
    ``out/messages/train.parquet`` -> ``out/train.parquet``, or the shard folder ``out/train/`` where the split
    is written in shards (``--engine ray``: its messages split is one file all the same). Read as a plain input,
    the messages rows would get ids of their own (from the whole record), which ``duplicate_of`` would then name."""
    from curation.card import MESSAGES_DIR
    from curation.contract import SPLITS, output_paths
    from curation.sources import is_curated_folder

    if not path.exists():
        return None
    path = path.resolve()
    for folder in (path, *list(path.parents)[:2]):
        if folder.name == MESSAGES_DIR and is_curated_folder(folder.parent):
            twin = folder.parent / path.relative_to(folder)
            if not twin.exists() and twin.parent == folder.parent and twin.suffix == ".parquet" and twin.stem in SPLITS:
                twin = output_paths(folder.parent).split(twin.stem)
            return twin if twin.exists() else None
    return None


def _split_of_curated(path: Path) -> tuple[Path, str, list[Path]] | None:
    """``(folder, split, files)`` when ``path`` is a split of a curated folder: its ``train.parquet``, its shard
    folder ``train/`` (the files are its shards) or one of those shards; else None."""
    from curation.contract import SPLITS, output_paths
    from curation.sources import is_curated_folder

    if not path.exists():
        return None
    path = path.resolve()
    for folder in (path.parent, path.parent.parent):
        if not (folder.is_dir() and is_curated_folder(folder)):
            continue
        paths = output_paths(folder)
        for split in SPLITS:
            where = paths.split(split)
            if not where.exists():
                continue
            files = paths.files(where)
            if path == where:
                return folder, split, files
            if path in files:
                return folder, split, [path]
    return None


def _curated_split_named(spec: str) -> Path | None:
    """For ``OUT:SPLIT`` (``out:train``), where ``OUT`` is a curated folder, a split of it, and the spec names no
    path: the split's file or shard folder (``out/train.parquet``), read as :func:`_split_of_curated` reads it;
    else None (an unknown split of one: the input reader says so)."""
    from curation.contract import SPLITS, output_paths
    from curation.readers import named_split
    from curation.sources import is_curated_folder

    named = named_split(spec)
    if named is None or named[1] not in SPLITS:
        return None
    folder, split = named
    if not (folder.is_dir() and is_curated_folder(folder)):
        return None
    return output_paths(folder).split(split)


def _refuse_output_without_manifest(folder: Path) -> None:
    """A folder that holds a ``tome curate`` output's ``removed.parquet`` (or its shards) beside a split but no
    manifest: read as a plain folder, its removed rows would count as existing ones."""
    from curation.contract import MANIFEST_FILE, SPLITS, output_paths

    paths = output_paths(folder)
    if paths.removed.exists() and any(paths.split(s).exists() for s in SPLITS):
        removed = paths.removed.name + ("/" if paths.removed.is_dir() else "")
        raise StageError(f"--against {folder}: {MANIFEST_FILE} is missing from this tome curate output folder, so its "
                         f"kept rows cannot be told from the removed ones (in {removed}); restore it, or point "
                         "--against at the split files")


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
