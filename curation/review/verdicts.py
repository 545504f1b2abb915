"""Annotators' submitted answers to one decision per row: majority verdict, mean quality, the fix to apply.

Only *submitted* answers count (drafts and discarded responses are skipped and counted). Per record:

* the verdict is the one most annotators chose; a tie between verdicts decides nothing (the row stays as it
  was) and is listed as a conflict, as is any record where annotators did not all agree;
* ``fix`` needs a corrected answer: the text most ``fix`` voters wrote (ties: the first annotator in
  sorted order); without any, nothing is applied and the record is listed;
* ``quality`` is the mean of the submitted ratings, whatever the verdict;
* records with fewer than ``min_votes`` verdicts are left as they were (``pending``);
* an annotator who gave one question two different answers on one record (the record twice in records.json,
  say) has neither counted and the record is listed as an ``answered_twice`` conflict.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from curation.review.agreement import agreement_report
from curation.review.errors import ReviewError, named, shown
from curation.review.layouts import Answer
from curation.review.schema import Q_CORRECTED, Q_QUALITY, Q_VERDICT, QUALITY_VALUES, VERDICTS

SUBMITTED = "submitted"


@dataclass
class Ballot:
    """One annotator's submitted answers on one record."""

    annotator: str
    verdict: str | None = None
    quality: int | None = None
    corrected: str | None = None
    answered_twice: set[str] = field(default_factory=set)  # questions answered twice, differently: not counted

    def answer(self, question: str, field_name: str, value: Any) -> None:
        """Set ``field_name`` to ``value``; a second, different answer to ``question`` voids both."""
        if question in self.answered_twice:
            return
        earlier = getattr(self, field_name)
        if earlier is not None and earlier != value:
            self.answered_twice.add(question)
            value = None
        setattr(self, field_name, value)


@dataclass
class Decision:
    record_id: str
    ballots: list[Ballot]
    verdict: str | None = None  # what gets applied; None: nothing
    status: str = "pending"  # decided | tie | fix_without_answer | pending
    agreement: float | None = None  # share of verdicts that match the majority
    quality: float | None = None
    corrected: str | None = None
    fixed_by: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def votes(self) -> dict[str, str]:
        return {b.annotator: b.verdict for b in self.ballots if b.verdict is not None}

    @property
    def annotators(self) -> list[str]:
        return [b.annotator for b in self.ballots]


@dataclass
class Tally:
    decisions: dict[str, Decision]
    skipped: dict[str, int]  # answers not counted, by status
    annotators: list[str]

    def conflicts(self) -> list[dict[str, Any]]:
        out = []
        for d in self.decisions.values():
            for kind in d.conflicts:
                out.append({"id": d.record_id, "kind": kind, "votes": d.votes, "applied": d.verdict})
        return out

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        out.update({"undecided": 0, "pending": 0})
        for d in self.decisions.values():
            if d.verdict is not None:
                out[d.verdict] += 1
            elif d.status == "pending":
                out["pending"] += 1
            else:
                out["undecided"] += 1
        return out

    def agreement(self) -> dict[str, Any]:
        verdict_items = {rid: d.votes for rid, d in self.decisions.items() if d.votes}
        quality_items = {
            rid: {b.annotator: b.quality for b in d.ballots if b.quality is not None}
            for rid, d in self.decisions.items()
        }
        quality_items = {k: v for k, v in quality_items.items() if v}
        return {"verdict": agreement_report(verdict_items), "quality": agreement_report(quality_items)}


def ballots_from(answers: Iterable[Answer], origin: str | None = None) -> tuple[dict[str, list[Ballot]], dict[str, int]]:
    """Each record's submitted answers as one ballot per annotator; ``origin`` (the file or dataset read) opens
    the message of an answer that cannot be counted."""
    by_record: dict[str, dict[str, Ballot]] = defaultdict(dict)
    skipped: Counter[str] = Counter()
    for a in answers:
        if a.status != SUBMITTED:
            skipped[a.status] += 1
            continue
        if a.question not in (Q_VERDICT, Q_QUALITY, Q_CORRECTED):
            skipped[f"unknown question {a.question}"] += 1
            continue
        ballot = by_record[a.record_id].setdefault(a.annotator, Ballot(a.annotator))
        where = f"{origin + ': ' if origin else ''}record {named(a.record_id)}, annotator {named(a.annotator)}"
        if a.question == Q_VERDICT:
            if not isinstance(a.value, str) or a.value not in VERDICTS:
                raise ReviewError(f"{where}: verdict {shown(a.value)} is not one of {', '.join(VERDICTS)}")
            ballot.answer(a.question, "verdict", a.value)
        elif a.question == Q_QUALITY:
            if a.value is not None:
                # a whole number 1-5 (3.0 is 3); not a boolean, which Python would take for 0 or 1
                value = int(a.value) if isinstance(a.value, (int, float)) and not isinstance(a.value, bool) \
                    and a.value in QUALITY_VALUES else None
                if value is None:
                    raise ReviewError(f"{where}: quality {shown(a.value)} is not a rating 1-5")
                ballot.answer(a.question, "quality", value)
        else:
            if a.value is not None and not isinstance(a.value, str):
                raise ReviewError(f"{where}: corrected_answer must be text, got {type(a.value).__name__}")
            ballot.answer(a.question, "corrected", a.value)
    ballots = {rid: sorted(b.values(), key=lambda x: x.annotator) for rid, b in by_record.items()}
    return ballots, dict(sorted(skipped.items()))


def decide(record_ids: Iterable[str], answers: Iterable[Answer], min_votes: int = 1, origin: str | None = None) -> Tally:
    ballots, skipped = ballots_from(answers, origin)
    known = list(dict.fromkeys(record_ids))
    exported = set(known)  # built once: a set per answer's record would make a large review's import quadratic
    unknown = [rid for rid in ballots if rid not in exported]
    if unknown:
        raise ReviewError(f"{origin + ': ' if origin else ''}{len(unknown)} answer(s) refer to records that are not in the export (e.g. {shown(unknown[0])})")
    decisions = {rid: _decide_one(rid, ballots.get(rid, []), min_votes) for rid in known}
    annotators = sorted({b.annotator for bs in ballots.values() for b in bs})
    return Tally(decisions, skipped, annotators)


def _decide_one(rid: str, ballots: list[Ballot], min_votes: int) -> Decision:
    d = Decision(rid, ballots)
    if any(b.answered_twice for b in ballots):
        d.conflicts.append("answered_twice")
    ratings = [b.quality for b in ballots if b.quality is not None]
    if ratings:
        d.quality = round(sum(ratings) / len(ratings), 6)
    votes = [b.verdict for b in ballots if b.verdict is not None]
    if len(votes) < max(min_votes, 1):
        return d
    counts = Counter(votes)
    top = max(counts.values())
    leaders = sorted(v for v, c in counts.items() if c == top)
    d.agreement = round(top / len(votes), 6)
    if len(counts) > 1:
        d.conflicts.append("tie" if len(leaders) > 1 else "disagreement")
    if len(leaders) > 1:
        d.status = "tie"
        return d
    verdict = leaders[0]
    if verdict == "fix":
        texts = [(b.annotator, b.corrected) for b in ballots if b.verdict == "fix" and b.corrected and b.corrected.strip()]
        if not texts:
            d.status = "fix_without_answer"
            d.conflicts.append("fix_without_answer")
            return d
        by_text = Counter(t.strip() for _, t in texts)
        best = max(by_text.values())
        winner = next(t for _, t in texts if by_text[t.strip()] == best)  # texts are in annotator order
        if len(by_text) > 1:
            d.conflicts.append("corrected_answers_differ")
        d.corrected = winner.strip()
        d.fixed_by = [a for a, t in texts if t.strip() == d.corrected]
    d.verdict = verdict
    d.status = "decided"
    return d
