"""The language stage: language and confidence per turn and per row; ``filter:language``,
``filter:language_mismatch``.

Adds ``detected_language`` (ISO 639-1, ``und`` when no turn could be judged), ``language_confidence`` and
``turn_languages`` (``list<struct<language, confidence>>``, one per turn) to every row.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from curation.core.registry import StageSpec, register
from curation.core.stage import RowStage, StageOutput
from curation.language.config import LanguageConfig
from curation.language.detect import detect
from curation.language.rules import LANGUAGE, MISMATCH, REASONS, verdicts

CONFIDENCE_BINS = 10


def _set(batch: pa.RecordBatch, name: str, values: pa.Array) -> pa.RecordBatch:
    if name in batch.schema.names:
        return batch.set_column(batch.schema.get_field_index(name), name, values)
    return batch.append_column(name, values)


class LanguageStage(RowStage):
    name = "language"

    def __init__(self, cfg: LanguageConfig) -> None:
        self.cfg = cfg

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        conv = batch.column("conversations")
        langs = detect(conv, self.cfg)
        reasons, details = verdicts(langs, conv, self.cfg)
        batch = _set(batch, "detected_language", langs.names(langs.row_class))
        batch = _set(batch, "language_confidence", pa.array(np.round(langs.row_conf, 4), pa.float32()))
        batch = _set(batch, "turn_languages", langs.turns_column())
        kept = np.array([r is None for r in reasons], bool)
        names = np.asarray(langs.classes, dtype=object)
        bins = np.minimum((langs.row_conf * CONFIDENCE_BINS).astype(int), CONFIDENCE_BINS - 1)
        stats = {
            "rows_by_language": dict(Counter(names[langs.row_class].tolist())),
            "kept_by_language": dict(Counter(names[langs.row_class[kept]].tolist())),
            "confidence": {f"{b / CONFIDENCE_BINS:.1f}": int(n) for b, n in zip(*np.unique(bins, return_counts=True))},
            LANGUAGE: sum(r == LANGUAGE for r in reasons),
            MISMATCH: sum(r == MISMATCH for r in reasons),
        }
        return StageOutput(batch, reason=pa.array(reasons, pa.string()), details=pa.array(details, pa.string()),
                           stats=stats)


SPEC = register(
    StageSpec(
        name="language",
        order=15,
        kind="row",
        config=LanguageConfig,
        build=lambda cfg, _: LanguageStage(cfg),
        reasons=REASONS,
        summary="language + confidence per turn and row (py3langid model, compiled); allowed languages, "
        "prompt/answer mismatch",
    )
)
