"""Inter-annotator agreement on nominal labels: percent agreement, Cohen's kappa per pair, Fleiss' kappa.

``items`` maps each record to ``{annotator: label}`` (one label per annotator per record). Figures that
are undefined (fewer than two ratings, or chance agreement of 1) are ``None``.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any, Hashable, Mapping, Sequence

Items = Mapping[str, Mapping[str, Hashable]]


def percent_agreement(items: Items) -> float | None:
    """Mean over records rated at least twice of (agreeing annotator pairs / annotator pairs)."""
    shares = []
    for ratings in items.values():
        labels = list(ratings.values())
        n = len(labels)
        if n < 2:
            continue
        agreeing = sum(c * (c - 1) // 2 for c in Counter(labels).values())
        shares.append(agreeing / (n * (n - 1) // 2))
    return sum(shares) / len(shares) if shares else None


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators' labels on the same records (``a[i]`` and ``b[i]`` rate record i)."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa needs two label lists of the same length")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def pairwise_cohen(items: Items) -> list[dict[str, Any]]:
    """Cohen's kappa and percent agreement for every pair of annotators that rated the same records."""
    # each pair's shared records, in record order, gathered from the records' own raters: a record of k raters adds
    # to its k(k-1)/2 pairs only (scanning every record for every pair of 200 annotators took minutes)
    by_pair: dict[tuple[str, str], list[tuple[Hashable, Hashable]]] = {}
    for r in items.values():
        for x, y in combinations(sorted(r), 2):
            by_pair.setdefault((x, y), []).append((r[x], r[y]))
    out = []
    for x, y in sorted(by_pair):  # the order of combinations(sorted(annotators), 2)
        shared = by_pair[(x, y)]
        a, b = zip(*shared)
        kappa = cohen_kappa(a, b)
        out.append({
            "annotators": [x, y],
            "items": len(shared),
            "percent_agreement": round(sum(p == q for p, q in shared) / len(shared), 6),
            "cohen_kappa": None if kappa is None else round(kappa, 6),
        })
    return out


def fleiss_kappa(items: Items) -> float | None:
    """Fleiss' kappa over records rated at least twice; records may have different numbers of raters
    (each record's agreement uses its own count, the category shares pool every rating)."""
    rated = [Counter(r.values()) for r in items.values() if len(r) >= 2]
    if not rated:
        return None
    per_item = []
    totals: Counter = Counter()
    n_all = 0
    for counts in rated:
        n = sum(counts.values())
        per_item.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
        totals.update(counts)
        n_all += n
    p_bar = sum(per_item) / len(per_item)
    p_e = sum((c / n_all) ** 2 for c in totals.values())
    if p_e == 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def agreement_report(items: Items) -> dict[str, Any]:
    """Every figure at once, for the manifest."""
    multi = {k: v for k, v in items.items() if len(v) >= 2}
    pairs = pairwise_cohen(items)
    kappas = [p["cohen_kappa"] for p in pairs if p["cohen_kappa"] is not None]
    pa = percent_agreement(items)
    fk = fleiss_kappa(items)
    return {
        "records": len(items),
        "records_with_2plus_annotators": len(multi),
        "annotators": len({a for r in items.values() for a in r}),
        "percent_agreement": None if pa is None else round(pa, 6),
        "fleiss_kappa": None if fk is None else round(fk, 6),
        "cohen_kappa_mean": round(sum(kappas) / len(kappas), 6) if kappas else None,
        "cohen_kappa_pairs": pairs,
    }
