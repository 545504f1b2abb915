"""The PII stage: typed placeholders for personal data and secrets; ``pii:<type>`` where the action is ``drop``.

Both ``conversations`` and ``original_conversations`` (the turns as they came, kept by normalize) are
redacted, so no output file keeps a redacted value: not the splits, not ``removed.parquet`` (dropped rows
leave with their text redacted too). Details name the types and counts found, never the values.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from curation.core.registry import StageSpec, register
from curation.core.stage import RowStage, StageOutput
from curation.pii.config import PiiConfig
from curation.pii.detect import Scanner, scan_conversations
from curation.pii.rules import reason_codes, verdicts

REDACTED_COLUMNS = ("conversations", "original_conversations")


class PiiStage(RowStage):
    name = "pii"

    def __init__(self, cfg: PiiConfig) -> None:
        self.cfg = cfg
        self.scanner = Scanner(cfg)
        self._names: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg, "scanner": self.scanner, "_names": None}

    def names(self) -> Any:
        if self.cfg.actions.person == "keep":
            return None
        if self._names is None:
            from curation.pii.names import NameFinder

            self._names = NameFinder(self.cfg)
        return self._names

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        found = [Counter() for _ in range(batch.num_rows)]
        scanned = 0
        for column in REDACTED_COLUMNS:
            if column not in batch.schema.names:
                continue
            values = batch.column(column)
            if values.null_count == len(values) or not pa.types.is_list(values.type):
                continue  # no turns kept there (original_conversations is null where nothing changed)
            result = scan_conversations(values, self.scanner, self.names())
            scanned += result.scanned_turns
            if column == "conversations":
                found = result.row_types
            if result.conversations is not batch.column(column):
                col = result.conversations.cast(batch.schema.field(column).type)
                batch = batch.set_column(batch.schema.get_field_index(column), column, col)
        reasons, details = verdicts(found, self.cfg)
        total = Counter()
        for c in found:
            total.update(c)
        stats = {
            "found": dict(total),
            "rows_with_pii": sum(1 for c in found if c),
            "rows_by_type": dict(Counter(t for c in found for t in c)),
            "turns_scanned": scanned,
        }
        return StageOutput(batch, reason=pa.array(reasons, pa.string()), details=pa.array(details, pa.string()),
                           stats=stats)


def scrub_text(stage: PiiStage, text: str) -> str:
    """Every detected value of ``text`` as its placeholder (for the raw lines the engines keep in quarantine)."""
    return stage.scanner.redact(text, stage.scanner.spans(text))


SPEC = register(
    StageSpec(
        name="pii",
        order=12,
        kind="row",
        config=PiiConfig,
        build=lambda cfg, _: PiiStage(cfg),
        reasons=reason_codes(),
        summary="emails, phones, IPs, cards (Luhn), IBANs, secrets (and names, optional) -> typed placeholders",
        scrub=scrub_text,
    )
)
