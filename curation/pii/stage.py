"""The PII stage: typed placeholders for personal data and secrets; ``pii:<type>`` where the action is ``drop``.

Both ``conversations`` and ``original_conversations`` (the turns as they came, kept by normalize) are
redacted, so no output file keeps a redacted value: not the splits, not ``removed.parquet`` (dropped rows
leave with their text redacted too), not ``quarantine.jsonl``. An original turn is also looked at as
normalize would write it: a value its layout hides from the detectors (runs of spaces or tabs inside a phone
number, CRLF, NFKC forms) but the normalized turn shows is redacted there too. Details name the types and
counts found, never the values.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.keep_policy import several_inputs
from curation.core.registry import StageSpec, register
from curation.core.stage import RowStage, StageOutput
from curation.normalize import NormalizeConfig, normalize_text, normalize_values
from curation.pii.config import PiiConfig
from curation.pii.detect import Scanner, scan_conversations, scan_texts
from curation.pii.rules import reason_codes, verdicts

REDACTED_COLUMNS = ("conversations", "original_conversations")
# columns the tool itself writes (hashes, numbers, JSON it makes): never personal data, never scanned
TOOL_COLUMNS = ("id", "score", "cluster_id", "origin_id", "augmentation", "repairs")
# with several inputs, the input's name from the config, which the mix counts rows by (validation keeps an input's
# own ``input`` column apart as ``input_input`` then); with one input a column of that name is the input's own data
LABEL_COLUMN = "input"
# a string literal of a JSON text; group 1 is its closing quote, absent where the literal runs to the end of the line
# unclosed: such a match is skipped whole (no quote inside it opens a literal either: the scan from there reads the
# same escapes to the same end), so a line of ``"\\"\\"\\"...`` costs one pass, not one pass per quote
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*(")?')


class PiiStage(RowStage):
    name = "pii"

    def __init__(self, cfg: PiiConfig, normalize: NormalizeConfig | None = None, labelled: bool = False) -> None:
        self.cfg = cfg
        self.normalize = normalize or NormalizeConfig()  # how the run normalizes turns (originals are seen so too)
        self.scanner = Scanner(cfg)
        self._names: Any = None
        # rows carry tome's `input` label (several inputs, :func:`several_inputs`): not scanned; else it is scanned
        self.skipped = TOOL_COLUMNS + ((LABEL_COLUMN,) if labelled else ())

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg, "normalize": self.normalize, "scanner": self.scanner, "_names": None,
                "skipped": self.skipped}

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
            normalized = partial(normalize_values, cfg=self.normalize) if column == "original_conversations" else None
            result = scan_conversations(values, self.scanner, self.names(), normalized)
            scanned += result.scanned_turns
            if column == "conversations":
                found = result.row_types
            if result.conversations is not batch.column(column):
                col = result.conversations.cast(batch.schema.field(column).type)
                batch = batch.set_column(batch.schema.get_field_index(column), column, col)
        if self.scanner.detectors:
            for column in batch.schema.names:
                if column in REDACTED_COLUMNS or column in self.skipped or column.startswith("_"):  # (_: the run's own)
                    continue
                values = batch.column(column)
                redacted, hits = _redact_any(values, self.scanner)
                for row, counts in hits.items():
                    found[row].update(counts)
                if redacted is not values:
                    batch = batch.set_column(batch.schema.get_field_index(column), column, redacted)
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


    def redact(self, text: str) -> str:
        """Every detected value of ``text`` as its placeholder; where normalizing the result still shows one (a
        layout that hid it), the normalized text, redacted."""
        scanner = self.scanner
        out = scanner.redact(text, scanner.spans(text))
        view = normalize_text(out, self.normalize)
        if view != out and (found := scanner.spans(view)):
            out = scanner.redact(view, found)
        return out


def _redact_any(values: pa.Array, scanner: Scanner) -> tuple[pa.Array, dict[int, Counter]]:
    """``values`` (any column besides the turns: ``source``, the input's own id, every extra column, strings nested
    in structs and lists as JSON objects and arrays give them) with every string redacted, and the findings per
    row. Other types (numbers, booleans, maps, binary) are returned as they are."""
    t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        scan = scan_texts(values, scanner)
        return (values if not scan.found else scan.values), scan.found
    if pa.types.is_struct(t):
        children, hits, changed = [], {}, False
        for i in range(t.num_fields):
            child = values.field(i)
            if values.offset or len(child) != len(values):
                child = child.slice(values.offset, len(values))
            new, found = _redact_any(child, scanner)
            changed |= new is not child
            children.append(new)
            for row, counts in found.items():
                hits.setdefault(row, Counter()).update(counts)
        if not changed:
            return values, hits
        mask = pc.is_null(values) if values.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(t), mask=mask), hits
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        items = values.flatten()
        new, found = _redact_any(items, scanner)
        if not found:
            return values, {}
        parent = pc.list_parent_indices(values).to_numpy()
        hits: dict[int, Counter] = {}
        for i, counts in found.items():
            hits.setdefault(int(parent[i]), Counter()).update(counts)
        if new is items:
            return values, hits
        lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64 if pa.types.is_large_list(t) else np.int32)
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        mask = pc.is_null(values) if values.null_count else None
        return cls.from_arrays(pa.array(offsets), new, type=t, mask=mask), hits
    return values, {}


def scrub_text(stage: PiiStage, text: str) -> str:
    """``text`` (a raw line the engines keep in quarantine) with every detected value as its placeholder.

    A raw line is mostly JSON text: each string literal is decoded, redacted and written back, so that a value
    written with escapes (``jos\\u00e9@...``, a phone number split by ``\\t``) is found as the text it stands for,
    and a placeholder never cuts an escape in two; a literal without findings stays as it was, byte for byte.
    What lies outside the literals (a line that is no JSON) is redacted as plain text."""
    out, last = [], 0
    for m in _JSON_STRING.finditer(text):
        if m.group(1) is None:  # not closed: no literal, plain text
            continue
        out.append(stage.redact(text[last: m.start()]) if m.start() > last else "")
        out.append(_scrub_literal(stage, m.group()))
        last = m.end()
    out.append(stage.redact(text[last:]) if last < len(text) else "")
    return "".join(out)


def _scrub_literal(stage: PiiStage, literal: str) -> str:
    try:
        value = json.loads(literal)
    except ValueError:  # not a JSON string after all: plain text
        return stage.redact(literal)
    redacted = stage.redact(value)
    return literal if redacted == value else json.dumps(redacted, ensure_ascii="\\u" in literal)


SPEC = register(
    StageSpec(
        name="pii",
        order=12,
        kind="row",
        config=PiiConfig,
        build=lambda cfg, config: PiiStage(cfg, config.stages.normalize, several_inputs(config)),
        reasons=reason_codes(),
        summary="emails, phones, IPs, cards (Luhn), IBANs, secrets (and names, optional) -> typed placeholders",
        scrub=scrub_text,
    )
)
