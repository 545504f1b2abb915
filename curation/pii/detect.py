"""Finding PII in text, and redacting whole Arrow columns of turns.

One RE2 pass over the column (``pyarrow.compute``) picks the turns that could hold anything
(:data:`curation.pii.patterns.PREFILTER`); only those are scanned by the detectors and their checks in
Python. Overlapping findings are resolved by type priority (:data:`curation.pii.patterns.TYPES`: a secret
beats an email inside it, an IBAN beats the phone-like digits inside it), then by length.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.pii import validators
from curation.pii.config import PiiConfig
from curation.pii.patterns import (NOT_CARD_CONTEXT, NOT_PHONE_CONTEXT, NOT_VERSION_CONTEXT, PREFILTER, TYPES, Detector,
                                   detectors)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str
    name: str


def _iban_span(text: str, start: int) -> tuple[int, bool] | None:
    """(end, passes mod 97) of the IBAN-shaped text at ``start`` (its country's length, spaces allowed); None when
    it does not have the shape."""
    want = validators.IBAN_LENGTHS.get(text[start: start + 2])
    if want is None:
        return None
    count, i = 0, start
    while i < len(text) and count < want:
        if text[i].isalnum():
            count += 1
        elif text[i] != " ":
            break
        i += 1
    if count != want or (i < len(text) and text[i].isalnum()):
        return None
    return i, validators.iban_ok(text[start:i])


class Scanner:
    def __init__(self, cfg: PiiConfig) -> None:
        self.cfg = cfg
        active = {t for t in TYPES if getattr(cfg.actions, t) != "keep"}
        self.detectors: list[Detector] = [d for d in detectors(tuple(cfg.phone_regions)) if d.type in active]
        self._rank = {t: i for i, t in enumerate(TYPES)}

    def __getstate__(self) -> dict:  # the detectors hold closures: rebuild them where unpickled
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"])

    def spans(self, text: str) -> list[Span]:
        found: list[Span] = []
        blocked: list[tuple[int, int]] = []  # IBAN-shaped text failing mod 97: none of its digits is PII either
        for d in self.detectors:
            for m in d.regex.finditer(text):
                start, end = m.span(d.group)
                if start < 0 or any(start < b and a < end for a, b in blocked):
                    continue
                if d.type == "iban":
                    shaped = _iban_span(text, start)
                    if shaped is None:
                        continue
                    end, ok = shaped
                    if not ok:
                        blocked.append((start, end))
                        continue
                elif d.check is not None and not d.check(text[start:end]):
                    continue
                if d.type == "phone" and not NOT_PHONE_CONTEXT(text, start):
                    continue
                if d.type == "credit_card" and not NOT_CARD_CONTEXT(text, start):
                    continue
                if d.name == "ipv4" and not NOT_VERSION_CONTEXT(text, start):
                    continue
                found.append(Span(start, end, d.type, d.name))
        if len(found) < 2:
            return found
        found.sort(key=lambda s: (self._rank[s.type], -(s.end - s.start), s.start))
        taken: list[Span] = []
        for s in found:
            if all(s.end <= t.start or s.start >= t.end for t in taken):
                taken.append(s)
        return sorted(taken, key=lambda s: s.start)

    def placeholder(self, kind: str) -> str:
        return self.cfg.placeholder.replace("{TYPE}", kind.upper())

    def redact(self, text: str, spans: list[Span]) -> str:
        out, last = [], 0
        for s in spans:
            out.append(text[last: s.start])
            out.append(self.placeholder(s.type))
            last = s.end
        out.append(text[last:])
        return "".join(out)


def candidates(values: pa.Array) -> np.ndarray:
    """Indices of the texts the cheap RE2 pass says could hold PII."""
    hit = pc.fill_null(pc.match_substring_regex(values, PREFILTER), False)
    return np.flatnonzero(hit.to_numpy(zero_copy_only=False))


@dataclass
class ColumnScan:
    values: pa.Array  # the texts, redacted
    found: dict[int, Counter]  # text index -> findings per type (only texts with findings)
    scanned: int  # texts the full scan looked at


def scan_texts(values: pa.Array, scanner: Scanner, names=None) -> ColumnScan:
    """Find and redact PII in a string array. ``names`` (a :class:`curation.pii.names.NameFinder`) adds persons."""
    idx = candidates(values) if scanner.detectors else np.zeros(0, np.int64)
    spans: dict[int, list[Span]] = {}
    texts = values.take(pa.array(idx, pa.int64())).to_pylist() if len(idx) else []
    for i, text in zip(idx.tolist(), texts):
        found = scanner.spans(text)
        if found:
            spans[i] = found
    if names is not None:
        for i, person in names.find(values).items():
            spans[i] = _merge(spans.get(i, []), person)
    if not spans:
        return ColumnScan(values, {}, len(idx))
    changed = sorted(spans)
    originals = values.take(pa.array(changed, pa.int64())).to_pylist()
    redacted = [scanner.redact(text, spans[i]) for i, text in zip(changed, originals)]
    mask = np.zeros(len(values), bool)
    mask[changed] = True
    new_values = pc.replace_with_mask(values, pa.array(mask), pa.array(redacted, values.type))
    return ColumnScan(new_values, {i: Counter(s.type for s in spans[i]) for i in changed}, len(idx))


def _merge(spans: list[Span], extra: list[Span]) -> list[Span]:
    out = list(spans)
    for s in extra:
        if all(s.end <= t.start or s.start >= t.end for t in out):
            out.append(s)
    return sorted(out, key=lambda s: s.start)


@dataclass
class ConversationScan:
    conversations: pa.Array  # redacted
    row_types: list[Counter]  # findings per type, per row
    scanned_turns: int


def scan_conversations(conversations: pa.Array, scanner: Scanner, names=None) -> ConversationScan:
    """Redact every turn of a ``list<struct<from, value, ...>>`` column (null rows stay null)."""
    if isinstance(conversations, pa.ChunkedArray):
        conversations = conversations.combine_chunks()
    n = len(conversations)
    turns = conversations.flatten()
    result = scan_texts(turns.field("value"), scanner, names)
    row_types = [Counter() for _ in range(n)]
    if not result.found:
        return ConversationScan(conversations, row_types, result.scanned)
    parent = pc.list_parent_indices(conversations).to_numpy()
    for t, counts in result.found.items():
        row_types[parent[t]].update(counts)
    struct_type = conversations.type.value_type
    fields = [result.values if f.name == "value" else turns.field(f.name) for f in struct_type]
    items = pa.StructArray.from_arrays(fields, fields=list(struct_type))
    lengths = pc.fill_null(pc.list_value_length(conversations), 0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    redacted = pa.ListArray.from_arrays(pa.array(offsets), items, type=conversations.type,
                                        mask=pc.is_null(conversations) if conversations.null_count else None)
    return ConversationScan(redacted, row_types, result.scanned)
