"""The judge stage: LLM scores 1-5 for rows without a ``score``; ``filter:judge_score`` below ``min_score``.

Adds ``judge_score`` (null where the row was not judged or the judge gave no readable score) and, with
``write_score``, fills a null ``score`` with it. Scores are cached (row id + judge config), so a re-run asks
the model nothing twice; an endpoint that is down stops the run with one line, keeping what it finished.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.registry import StageSpec, register
from curation.core.stage import RowStage, StageOutput
from curation.judge.config import JudgeConfig
from curation.judge.scoring import Scorer, sampled

REASON = "filter:judge_score"


class JudgeStage(RowStage):
    name = "judge"

    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg
        self.scorer = Scorer(cfg)

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        n = batch.num_rows
        score = batch.column("score") if "score" in batch.schema.names else pa.nulls(n, pa.float64())
        missing = np.asarray(score.is_null(), bool)
        ids = batch.column("id").to_pylist()
        # (bool: with no rows left in the batch, an empty list would be a float array, which ``&`` refuses)
        picked = np.asarray(sampled(ids, self.cfg.sample), bool)
        wanted = (missing if self.cfg.only_missing else np.ones(n, bool)) & picked
        todo = np.flatnonzero(wanted)
        convs = batch.column("conversations").take(pa.array(todo, pa.int64())).to_pylist() if len(todo) else []
        found, stats = self.scorer.score([ids[i] for i in todo], convs)
        asked = set(todo.tolist())
        judged = [found.get(ids[i], (None, None))[0] if i in asked else None for i in range(n)]
        judge_col = pa.array(judged, pa.float64())
        out = batch.append_column("judge_score", judge_col) if "judge_score" not in batch.schema.names else \
            batch.set_column(batch.schema.get_field_index("judge_score"), "judge_score", judge_col)
        if self.cfg.write_score and "score" in out.schema.names:
            filled = pc.if_else(score.is_null(), judge_col.cast(score.type), score)
            out = out.set_column(out.schema.get_field_index("score"), "score", filled)
        reasons: list[Any] = [None] * n
        details: list[Any] = [None] * n
        if self.cfg.min_score > 0:
            for i, s in enumerate(judged):
                if s is not None and s < self.cfg.min_score:
                    reasons[i] = REASON
                    criteria = json.loads(found[ids[i]][1] or "{}").get("judge", {})
                    details[i] = json.dumps({"judge_score": s, "min_score": self.cfg.min_score, "criteria": criteria},
                                            sort_keys=True)
        stats["scores"] = dict(Counter(str(int(round(s))) for s in judged if s is not None))
        stats["scored"] = sum(s is not None for s in judged)
        return StageOutput(out, reason=pa.array(reasons, pa.string()), details=pa.array(details, pa.string()),
                           stats=stats)


SPEC = register(
    StageSpec(
        name="judge",
        order=60,
        kind="row",
        config=JudgeConfig,
        build=lambda cfg, _: JudgeStage(cfg),
        reasons=(REASON,),
        summary="LLM-judge scores 1-5 (rubric in the config; offline SmolLM2 GGUF or an OpenAI-compatible URL)",
    )
)
