"""Finding PII in text, and redacting whole Arrow columns of turns.

One RE2 pass over the column (``pyarrow.compute``) picks the turns that could hold anything
(:data:`curation.pii.patterns.PREFILTER`); only those are scanned by the detectors and their checks in
Python. Overlapping findings are resolved by type priority (:data:`curation.pii.patterns.TYPES`: a secret
beats an email inside it, an IBAN beats the phone-like digits inside it), then by length.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous
from curation.pii import validators
from curation.pii.config import PiiConfig
from curation.pii.patterns import (HIDDEN_CHARS, NOT_CARD_CONTEXT, NOT_PHONE_CONTEXT, NOT_VERSION_CONTEXT, PREFILTER,
                                   TYPES, Detector, detectors)


_HIDDEN = re.compile("[" + "".join(sorted(HIDDEN_CHARS)) + "]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str
    name: str


class _Disjoint:
    """Non-overlapping ``[start, end)`` intervals kept in order, so that an overlap test is a binary search: a text
    with tens of thousands of findings (a table of addresses) costs n log n, not n squared."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.starts, end)  # the intervals starting before ``end``; the last ends last
        return i > 0 and self.ends[i - 1] > start

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


# one run, or groups of four and a last group of one to four: how an IBAN is printed (ISO 13616)
_PRINT_FORMAT = re.compile(r"\S+|(?:\S{4} )+\S{1,4}")


def _iban_span(text: str, start: int) -> tuple[int, bool] | None:
    """(end, passes mod 97) of the IBAN-shaped text at ``start`` (its country's length, spaces allowed); None when
    it does not have the shape. An IBAN in lower or mixed case (``gb82 west 1234 5698 7654 32``, typed or copied
    from a form) counts when it is written as one run or in the groups of four it is printed in: prose that
    happens to start with a country code and two digits (``se12 this text here...``) is neither."""
    want = validators.IBAN_LENGTHS.get(text[start: start + 2].upper())
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
    if not text[start:i].isupper() and _PRINT_FORMAT.fullmatch(text, start, i) is None:
        return None
    return i, validators.iban_ok(text[start:i])


_DIGIT_GROUP = re.compile(r"\d{1,20}")
_GROUP_START = re.compile(r" (?=\d)")


def _card_end(text: str, start: int) -> int | None:
    """The end of the longest card number (:func:`validators.card_ok`) that starts at ``start`` and ends at the end
    of one of the digit groups that follow (joined by single spaces or dashes), within 19 digits; None when there
    is none. It may end before another number only where a space parts them (``4111 1111 1111 1111 123``), never
    inside a dash-joined run or a word."""
    ends: list[int] = []  # the end of each group, while 13..19 digits in (the detector's lengths)
    count, i = 0, start
    while (m := _DIGIT_GROUP.match(text, i)) is not None:
        count += m.end() - m.start()
        if count > 19:
            break
        if count >= 13:
            ends.append(m.end())
        i = m.end()
        if i + 1 < len(text) and text[i] in " -" and text[i + 1].isdigit():
            i += 1
        else:
            break
    for end in reversed(ends):
        after = text[end: end + 1]
        if after == "-" or after == "_" or after.isalnum():
            continue
        if validators.card_ok(text[start:end]):
            return end
    return None


def _card_spans(regex: re.Pattern, text: str) -> Iterator[tuple[int, int]]:
    """Card numbers: the detector's matches that are one, and where a match is not, the card that starts at one of
    its groups (a space before it) and ends at the end of a later group: a card number run into another number
    (``4111 1111 1111 1111 123``, ``4111111111111111 10``, ``room 12 4111111111111111``) is still found. A group
    can start a card only when it is 4 digits (grouped) or 13 and more (ungrouped), so a long run of short groups
    costs one look per match."""
    pos = 0
    while (m := regex.search(text, pos)) is not None:
        if validators.card_ok(m.group()):
            yield m.span()
            pos = m.end()
            continue
        found = None
        starts = [m.start()] + [g.end() for g in _GROUP_START.finditer(text, m.start(), m.end())]
        for start in starts:
            group = _DIGIT_GROUP.match(text, start)
            if group is not None and (group.end() - start == 4 or group.end() - start >= 13):
                end = _card_end(text, start)
                if end is not None:
                    found = (start, end)
                    break
        if found is None:
            pos = m.end()
        else:
            yield found
            pos = found[1]


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
        """The findings in ``text``. Invisible characters (zero-width spaces and joiners, soft hyphens, direction
        marks, BOMs) inside a value do not hide it: where the text has any, it is scanned without them and each
        finding is mapped back to the stretch of the original text it covers, invisible characters included."""
        if _HIDDEN.search(text) is None:
            return self._spans(text)
        keep = [i for i, c in enumerate(text) if c not in HIDDEN_CHARS]
        visible = "".join(text[i] for i in keep)
        if not keep:
            return []
        return [Span(keep[s.start], keep[s.end - 1] + 1, s.type, s.name) for s in self._spans(visible)
                if s.end > s.start]

    def _spans(self, text: str) -> list[Span]:
        found: list[Span] = []
        blocked = _Disjoint()  # IBAN-shaped text failing mod 97: none of its digits is PII either
        for d in self.detectors:
            matches = _card_spans(d.regex, text) if d.type == "credit_card" else (
                m.span(d.group) for m in d.regex.finditer(text))
            for start, end in matches:
                if start < 0 or blocked.overlaps(start, end):
                    continue
                if d.type == "iban":
                    shaped = _iban_span(text, start)
                    if shaped is None:
                        continue
                    end, ok = shaped
                    if not ok:
                        blocked.add(start, end)
                        continue
                elif d.type != "credit_card" and d.check is not None and not d.check(text[start:end]):
                    continue  # (card spans are checked already)
                if d.type == "phone" and not NOT_PHONE_CONTEXT(text, start):
                    continue
                if d.type in ("credit_card", "us_ssn") and not NOT_CARD_CONTEXT(text, start):
                    continue
                if d.name == "ipv4" and not NOT_VERSION_CONTEXT(text, start):
                    continue
                found.append(Span(start, end, d.type, d.name))
        if len(found) < 2:
            return found
        found.sort(key=lambda s: (self._rank[s.type], -(s.end - s.start), s.start))
        return _merge([], found)

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


def scan_texts(values: pa.Array, scanner: Scanner, names=None,
               normalized: Callable[[pa.Array], pa.Array] | None = None) -> ColumnScan:
    """Find and redact PII in a string array. ``names`` (a :class:`curation.pii.names.NameFinder`) adds persons.

    ``normalized`` (texts -> the same texts normalized, :func:`curation.normalize.normalize_values`) is for texts
    kept as they came: a value the layout hides (``+1 202  555  0143``, a card number split by tabs, full-width
    letters under NFKC) is found in the normalized text, and where one is, the text is replaced by the normalized
    text redacted, so that no value the normalized turns lose survives in the original ones."""
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
    counts = {i: Counter(s.type for s in spans[i]) for i in spans}
    redacted: dict[int, str] = {}
    if spans:
        changed = sorted(spans)
        originals = values.take(pa.array(changed, pa.int64())).to_pylist()
        redacted = {i: scanner.redact(text, spans[i]) for i, text in zip(changed, originals)}
    if normalized is not None and scanner.detectors:
        _hidden_by_layout(values, redacted, counts, scanner, normalized)
    if not redacted:
        return ColumnScan(values, {}, len(idx))
    changed = sorted(redacted)
    mask = np.zeros(len(values), bool)
    mask[changed] = True
    new_values = pc.replace_with_mask(values, pa.array(mask), pa.array([redacted[i] for i in changed], values.type))
    return ColumnScan(new_values, counts, len(idx))


def _hidden_by_layout(values: pa.Array, redacted: dict[int, str], counts: dict[int, Counter], scanner: Scanner,
                      normalized: Callable[[pa.Array], pa.Array]) -> None:
    """Where the normalized text of a value (redacted as far as its own text showed) still holds PII, the value
    becomes that normalized text, redacted (``redacted`` and ``counts`` are updated in place)."""
    if redacted:
        mask = np.zeros(len(values), bool)
        mask[list(redacted)] = True
        values = pc.replace_with_mask(values, pa.array(mask), pa.array([redacted[i] for i in sorted(redacted)],
                                                                           values.type))
    view = normalized(values)
    differs = np.asarray(pc.fill_null(pc.not_equal(values, view), False), bool)
    idx = np.intersect1d(np.flatnonzero(differs), candidates(view))
    if not len(idx):
        return
    for i, text in zip(idx.tolist(), view.take(pa.array(idx, pa.int64())).to_pylist()):
        found = scanner.spans(text)
        if found:
            redacted[i] = scanner.redact(text, found)
            counts.setdefault(i, Counter()).update(s.type for s in found)


def _merge(spans: list[Span], extra: list[Span]) -> list[Span]:
    """``spans`` (not overlapping each other) and those of ``extra``, in its order, that overlap nothing taken
    before them; sorted by start."""
    out = list(spans)
    taken = _Disjoint()
    for s in spans:
        taken.add(s.start, s.end)
    for s in extra:
        if not taken.overlaps(s.start, s.end):
            taken.add(s.start, s.end)
            out.append(s)
    return sorted(out, key=lambda s: s.start)


@dataclass
class ConversationScan:
    conversations: pa.Array  # redacted
    row_types: list[Counter]  # findings per type, per row
    scanned_turns: int


def scan_conversations(conversations: pa.Array, scanner: Scanner, names=None,
                       normalized: Callable[[pa.Array], pa.Array] | None = None) -> ConversationScan:
    """Redact every turn of a ``list<struct<from, value, ...>>`` column (null rows stay null); ``normalized`` as
    in :func:`scan_texts`."""
    conversations = contiguous(conversations)
    n = len(conversations)
    turns = conversations.flatten()
    result = scan_texts(turns.field("value"), scanner, names, normalized)
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
