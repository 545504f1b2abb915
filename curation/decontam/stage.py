"""The decontamination stage: ``decontaminated`` for train rows sharing word n-grams with an eval item.

It runs after split, so it knows each row's split: hits in ``clean_splits`` (train) are removed, hits in
the other splits stay and are listed in the stage's stats (``reported``), so the report shows every hit.
The eval index is built once per process from the config's eval sets (paths relative to the working
directory) and is small: its n-gram keys, a bitmap over them, and the items.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pyarrow as pa

from curation.core.registry import StageSpec, register
from curation.core.stage import SPLIT, RowStage, StageOutput
from curation.decontam.config import DecontamConfig
from curation.decontam.eval_sets import EvalItem, load_eval_items
from curation.decontam.index import NgramIndex
from curation.decontam.rows import REASON, find


class DecontamStage(RowStage):
    name = "decontaminate"

    def __init__(self, cfg: DecontamConfig) -> None:
        self.cfg = cfg
        self._index: tuple[list[EvalItem], NgramIndex] | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["cfg"])

    def index(self) -> tuple[list[EvalItem], NgramIndex]:
        with self._lock:
            if self._index is None:
                items = load_eval_items(self.cfg)
                self._index = items, NgramIndex.build([i.text for i in items], self.cfg.ngram, self.cfg.min_words)
            return self._index

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        items, index = self.index()
        hits = find(batch.column("conversations"), index, self.cfg)
        n = batch.num_rows
        splits = batch.column(SPLIT).to_pylist() if SPLIT in batch.schema.names else ["train"] * n
        ids = batch.column("id").to_pylist()
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        by_split: Counter = Counter()
        by_set: Counter = Counter()
        reported: dict[str, Any] = {}
        for k, row in enumerate(hits.row.tolist()):
            split = splits[row] or "train"
            text = hits.details(k, items)
            by_split[split] += 1
            by_set[items[int(hits.item[k])].set] += 1
            if split in self.cfg.clean_splits:
                reasons[row], details[row] = REASON, text
            else:
                reported[str(ids[row])] = {"split": split, **json.loads(text)}
        stats = {"hits_by_split": dict(by_split), "hits_by_eval_set": dict(by_set), "removed": sum(map(bool, reasons)),
                 "reported": reported}
        return StageOutput(batch, reason=pa.array(reasons, pa.string()), details=pa.array(details, pa.string()),
                           stats=stats)


SPEC = register(
    StageSpec(
        name="decontaminate",
        order=95,
        kind="row",
        config=DecontamConfig,
        build=lambda cfg, _: DecontamStage(cfg),
        reasons=(REASON,),
        summary="word 13-gram overlap with eval sets (seed prompts, tome eval prompt sets, files): train hits "
        "removed, validation/test hits reported",
    )
)
