"""The augmentation step: new rows made by paraphrasing origins, checked by the quality guard, with provenance.

Runs after dedup and filters, before the split, as a global stage: ``decide`` draws the budget over every
row, fetches the chosen origins, rewrites them and runs the guard; accepted new rows are its ``added`` rows
(after every input row, in the order made); no input row is removed. A new row is a copy of its origin with rewritten turns (human turns by
default, every turn with ``turns: all``), id ``<origin id>-aug-<method>``, ``origin_id``, ``augmentation``
(JSON: method and parameters), ``original_conversations`` null and the origin's ``cluster_id``. The split
step puts it in its origin's split and, with ``train_only``, drops it when that split is not train.

The manifest's stats say, per method: candidates tried, rows augmented, rejected by reason, rows/s; plus
methods that could not run here and why, and what the budget resolved to.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curation.augment.budget import plan
from curation.augment.config import AugmentConfig
from curation.augment.guard import REASONS, judge
from curation.augment.methods import Method, build_methods, seed_for
from curation.augment.text import core, has_words, split_pieces, tidy_spacing
from curation.core.registry import StageSpec, register
from curation.core.stage import ADDED_BASE, POS, Decisions, GlobalStage, ReduceContext
from curation.embeddings import EmbeddingCache, check_model_folder, load_model

Row = dict[str, Any]

log = logging.getLogger(__name__)

NO_TEXT = "no_text"  # the origin has no prose to rewrite in the chosen turns


@dataclass
class Candidate:
    origin: int  # index into the stage's rows
    method: str
    turns: list[dict[str, Any]] | None = None
    failed: bool = False
    reason: str | None = None
    pieces: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # turn, piece, lead, core, trail


def augmented_text(turns: list[dict[str, Any]], which: str) -> str:
    """The text of the turns augmentation may change (what the guard compares)."""
    return "\n".join(t["value"] for t in turns if which == "all" or t["from"] == "human")


class Augment(GlobalStage):
    name = "augment"

    def __init__(self, cfg: AugmentConfig):
        self.cfg = cfg

    # -- helpers -------------------------------------------------------------------------------------

    def _turn_selected(self, turn: dict[str, Any]) -> bool:
        return self.cfg.turns == "all" or turn.get("from") == "human"

    def _pieces(self, turn: dict[str, Any]) -> list:
        """The turn cut into prose and protected pieces (a prompt's task input is protected, see
        :func:`curation.augment.text.task_input_start`)."""
        return split_pieces(turn["value"], self.cfg.protect_code,
                            protect_task_input=self.cfg.protect_task_input and turn.get("from") == "human")

    def _prepare(self, rows: list[Row], cand: Candidate) -> None:
        """Cut the origin's chosen turns into pieces; remember the prose pieces the method must rewrite."""
        row = rows[cand.origin]
        for t_idx, turn in enumerate(row["conversations"]):
            if not self._turn_selected(turn):
                continue
            for p_idx, piece in enumerate(self._pieces(turn)):
                if piece.prose and has_words(piece.text):
                    lead, middle, trail = core(piece.text)
                    cand.pieces.append((t_idx, p_idx, lead, middle, trail))
        if not cand.pieces:
            cand.reason = NO_TEXT

    def _assemble(self, rows: list[Row], cand: Candidate, outputs: list[str | None]) -> None:
        row = rows[cand.origin]
        pieces_by_turn: dict[int, list[str]] = {}
        for t_idx, turn in enumerate(row["conversations"]):
            if self._turn_selected(turn):
                pieces_by_turn[t_idx] = [p.text for p in self._pieces(turn)]
        for (t_idx, p_idx, lead, middle, trail), out in zip(cand.pieces, outputs):
            if out is None or not out.strip():
                cand.failed = True
                return
            pieces_by_turn[t_idx][p_idx] = lead + tidy_spacing(middle, out.strip()) + trail
        turns = []
        for t_idx, turn in enumerate(row["conversations"]):
            turn = dict(turn)
            if t_idx in pieces_by_turn:
                turn["value"] = "".join(pieces_by_turn[t_idx])
            turns.append(turn)
        cand.turns = turns

    def _new_row(self, origin: Row, cand: Candidate, method: Method, taken: set[str]) -> Row:
        new = dict(origin)
        new_id = f"{origin['id']}-aug-{method.name}"
        while new_id in taken:  # only when the input already holds a row of that id
            new_id += "+"
        taken.add(new_id)
        params = dict(method.params(), seed=self.cfg.seed, turns=self.cfg.turns, protect_code=self.cfg.protect_code,
                      protect_task_input=self.cfg.protect_task_input)
        new["id"] = new_id
        new["conversations"] = cand.turns
        new["origin_id"] = origin["id"]
        new["augmentation"] = json.dumps({"method": method.name, "params": params}, sort_keys=True)
        new["original_conversations"] = None
        new["cluster_id"] = origin.get("cluster_id")
        return new

    # -- the step ------------------------------------------------------------------------------------

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        names = [POS, "id", "source", "origin_id"]
        return pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names)

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        cfg = self.cfg
        started = time.perf_counter()
        check_model_folder(cfg.guard.model)  # a guard folder that is not there: before the methods' imports
        methods = build_methods(cfg)
        skipped: dict[str, str] = {}
        usable: list[Method] = []
        for method in methods:
            message = method.unavailable()
            if message:
                log.warning("augment: %s", message)
                skipped[method.name] = message
            else:
                usable.append(method)

        # rows that are themselves augmentations are never origins
        origins = keys.column("origin_id").to_pylist()
        ids = keys.column("id").to_pylist()
        sources = keys.column("source").to_pylist()
        positions = keys.column(POS).to_numpy()
        eligible = [i for i, o in enumerate(origins) if not o]
        sub = [{"id": ids[i], "source": sources[i]} for i in eligible]
        balance = ctx.config.stage("balance") if ctx.config is not None else None  # its caps bound per_source
        slots, budget_info = plan(sub, [m.name for m in usable], cfg.budget, cfg.seed, balance)
        chosen = sorted({eligible[i] for i, _ in slots})
        fetched = ctx.fetch(positions[chosen], None) if chosen else None
        rows = fetched.to_pylist() if fetched is not None else []
        at = {k: n for n, k in enumerate(chosen)}
        candidates = [Candidate(origin=at[eligible[i]], method=name) for i, name in slots]
        if candidates:  # a guard model that cannot load is one error line now, not after minutes of rewriting
            load_model(cfg.guard.model)

        method_stats: dict[str, dict[str, Any]] = {}
        for method in usable:
            mine = [c for c in candidates if c.method == method.name]
            for cand in mine:
                self._prepare(rows, cand)
            work = [c for c in mine if c.reason is None]
            texts = [p[3] for c in work for p in c.pieces]
            seeds = [
                seed_for(cfg.seed, rows[c.origin]["id"], method.name, p[0], p[1]) for c in work for p in c.pieces
            ]
            t0 = time.perf_counter()
            outputs = method.augment(texts, seeds, ctx.track) if texts else []
            seconds = time.perf_counter() - t0
            pos = 0
            for cand in work:
                k = len(cand.pieces)
                self._assemble(rows, cand, outputs[pos : pos + k])
                pos += k
            method_stats[method.name] = {
                "candidates": len(mine),
                "texts": len(texts),
                "seconds": round(seconds, 3),
                "rows_per_s": round(len(work) / seconds, 1) if seconds > 0 and work else None,
            }

        # quality guard over every candidate that produced text
        judged = [c for c in candidates if c.reason is None]
        origin_texts = [augmented_text(rows[c.origin]["conversations"], cfg.turns) for c in judged]
        cand_texts = [None if c.failed else augmented_text(c.turns, cfg.turns) for c in judged]
        t0 = time.perf_counter()
        verdicts = judge(
            origin_texts,
            cand_texts,
            cfg.guard,
            cache=EmbeddingCache(ctx.cache_dir / "embeddings"),
            origin_ids=[str(rows[c.origin]["id"]) for c in judged],
            candidate_ids=[f"{rows[c.origin]['id']}-aug-{c.method}" for c in judged],
            progress=ctx.track,
        )
        guard_seconds = time.perf_counter() - t0
        for cand, verdict in zip(judged, verdicts):
            cand.reason = verdict.reason

        by_name = {m.name: m for m in usable}
        taken = {str(i) for i in ids}
        added: list[dict[str, Any]] = []
        rejected_total: Counter[str] = Counter()
        per_method_rejected: dict[str, Counter[str]] = defaultdict(Counter)
        per_method_augmented: Counter[str] = Counter()
        for cand in candidates:
            if cand.reason is None:
                new = self._new_row(rows[cand.origin], cand, by_name[cand.method], taken)
                new[POS] = ADDED_BASE + len(added)
                added.append(new)
                per_method_augmented[cand.method] += 1
            else:
                per_method_rejected[cand.method][cand.reason] += 1
                rejected_total[cand.reason] += 1
        for name, st in method_stats.items():
            st["augmented"] = per_method_augmented[name]
            st["rejected"] = dict(sorted(per_method_rejected[name].items()))
            st["params"] = by_name[name].params()
        seconds = time.perf_counter() - started
        stats: dict[str, Any] = {
            "augmented": len(added),
            "candidates": len(candidates),
            "rejected": dict(sorted(rejected_total.items())),
            "reasons": list(REASONS) + [NO_TEXT],
            "methods": method_stats,
            "skipped_methods": skipped,
            "budget": budget_info,
            "guard": {"max_jaccard": cfg.guard.max_jaccard, "min_cosine": cfg.guard.min_cosine, "model": cfg.guard.model},
            "turns": cfg.turns,
            "train_only": cfg.train_only,
            "seconds": {"total": round(seconds, 3), "guard": round(guard_seconds, 3)},
            "rows_per_s": round(len(candidates) / seconds, 1) if seconds > 0 and candidates else None,
        }
        table = pa.Table.from_pylist(added, schema=fetched.schema) if added else None
        return Decisions.none(stats) if table is None else Decisions(Decisions.none().table, stats, added=table)


SPEC = register(
    StageSpec(
        name="augment",
        order=80,
        kind="global",
        config=AugmentConfig,
        build=lambda cfg, _: Augment(cfg),
        reasons=tuple(f"augment:{r}" for r in ("origin_missing", "origin_not_in_train")),
        summary="synonyms, contextual paraphrase, back-translation (opt-in), with a quality guard and provenance",
    )
)
