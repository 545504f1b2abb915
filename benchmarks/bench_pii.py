"""PII: precision and recall per type on a generated labelled set with near misses, ours vs presidio's
recognizers, and the stage's rows/s on real chat rows.

    python benchmarks/bench_pii.py [--per-type 500] [--rows 50000]

The labelled set (benchmarks/pii_corpus.py, a seed other than the tests') holds sentences with emails,
phone numbers (US, GB, DE, FR, IN, BR formats), IPv4/IPv6 addresses, card numbers (Luhn-valid, issuer
prefixes), IBANs (mod 97) and provider secrets, plus as many near misses (version numbers, dates, ISBNs,
order/invoice/tracking numbers, Luhn- or mod-97-failing numbers, package@version, clock times, MAC
addresses, short tokens, URLs without a password). A finding counts when it overlaps a labelled span of its
type. presidio 2.2's pattern recognizers (Email, Phone, Ip, CreditCard, Iban; it has none for secrets) run
on the same texts, called directly (no spaCy pipeline, so its speed is its recognizers' own).
Target: precision and recall >= 0.95 per type.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.pii_corpus import TYPES, labelled  # noqa: E402
from benchmarks.quality_common import Timer, chat_rows, column, md_table, write_results  # noqa: E402
from curation.pii.config import PiiConfig  # noqa: E402
from curation.pii.detect import Scanner, scan_conversations  # noqa: E402

PRESIDIO = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "IP_ADDRESS": "ip_address",
            "CREDIT_CARD": "credit_card", "IBAN_CODE": "iban", "US_SSN": "us_ssn"}


def presidio_detector():
    import tldextract
    from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer,
                                                          IpRecognizer, PhoneRecognizer, UsSsnRecognizer)
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    # presidio's email check asks tldextract, whose default fetches the public suffix list: use its bundled copy
    email_recognizer.tldextract = type("Offline", (), {"extract": staticmethod(tldextract.TLDExtract(suffix_list_urls=()))})
    recognizers = [EmailRecognizer(), PhoneRecognizer(), IpRecognizer(), CreditCardRecognizer(), IbanRecognizer(),
                   UsSsnRecognizer()]

    def spans(text: str) -> list[tuple[int, int, str]]:
        out = []
        for rec in recognizers:
            for r in rec.analyze(text, rec.supported_entities, None):
                if r.score >= 0.1 or r.entity_type == "PHONE_NUMBER":
                    out.append((r.start, r.end, PRESIDIO[r.entity_type]))
        return out

    return spans


def score(items, spans_of) -> tuple[dict[str, tuple[float, float, int, int, int]], float, float]:
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    with Timer() as t:
        found_all = [spans_of(text) for text, _ in items]
    for (text, labels), found in zip(items, found_all):
        for a, b, kind in found:
            (tp if any(kind == lt and a < lb and la < b for la, lb, lt in labels) else fp)[kind] += 1
        for la, lb, lt in labels:
            if not any(kind == lt and a < lb and la < b for a, b, kind in found):
                fn[lt] += 1
    out = {}
    for kind in TYPES:
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else float("nan")
        r = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else float("nan")
        out[kind] = (p, r, tp[kind], fp[kind], fn[kind])
    return out, len(items) / t.wall, len(items) / t.cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-type", type=int, default=500)
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    items = labelled(args.per_type, seed=2024)
    scanner = Scanner(PiiConfig())
    ours, ours_rate, ours_cpu = score(items, lambda text: [(s.start, s.end, s.type) for s in scanner.spans(text)])
    raw = {"items": len(items), "ours": {k: dict(zip(("precision", "recall", "tp", "fp", "fn"), v)) for k, v in ours.items()},
           "ours_texts_per_s": ours_rate}
    try:
        pres, pres_rate, pres_cpu = score(items, presidio_detector())
        raw["presidio"] = {k: dict(zip(("precision", "recall", "tp", "fp", "fn"), v)) for k, v in pres.items()}
        raw["presidio_texts_per_s"] = pres_rate
    except ModuleNotFoundError as exc:
        print(f"presidio not installed ({exc}): ours only")
        pres, pres_rate, pres_cpu = None, float("nan"), float("nan")

    def fmt(x: float) -> str:
        return "n/a" if x != x else f"{x:.3f}"

    rows = []
    for kind in TYPES:
        p, r, tp, fp, fn = ours[kind]
        row = [kind, tp + fn, fmt(p), fmt(r), fp, fn]
        if pres:
            pp, pr, _, pfp, pfn = pres[kind]
            row += [fmt(pp), fmt(pr), pfp, pfn] if kind in PRESIDIO.values() else ["n/a (no recognizer)", "", "", ""]
        rows.append(row)
    head = ["type", "labelled", "ours P", "ours R", "ours FP", "ours FN"] + (
        ["presidio P", "presidio R", "presidio FP", "presidio FN"] if pres else [])
    speed = [["ours (scanner on each text)", len(items), ours_rate, ours_cpu]]
    if pres:
        speed.append(["presidio recognizers (6 types)", len(items), pres_rate, pres_cpu])
    speed = [r + [f"{r[2] / pres_rate:.1f}x" if pres else ""] for r in speed]

    chat = chat_rows()
    col = column(chat, args.rows)
    scan_conversations(col.slice(0, 100), scanner)
    with Timer() as t:
        res = scan_conversations(col, scanner)
    raw["chat_rows"] = {"rows": args.rows, "rows_per_s": args.rows / t.wall, "rows_per_cpu_s": args.rows / t.cpu,
                        "turns_scanned": res.scanned_turns, "rows_with_pii": sum(1 for c in res.row_types if c)}
    sections = [
        (f"Precision and recall per type ({len(items):,} texts: {args.per_type} per type, as many near misses)",
         md_table(head, rows) + "\nTarget: precision and recall >= 0.95 per type. The set is generated; near misses "
         "are listed in benchmarks/pii_corpus.py.\n"),
        ("Speed on the labelled texts", md_table(["method", "texts", "texts/s", "texts/CPU-s", "vs presidio"], speed)),
        (f"The stage's scan on chat rows (the shared real rows repeated to {args.rows:,})",
         md_table(["rows", "turns fully scanned (RE2 prefilter hit)", "rows/s", "rows/CPU-s"],
                  [[args.rows, res.scanned_turns, args.rows / t.wall, args.rows / t.cpu]])),
    ]
    write_results("pii", "PII detection: ours vs presidio's recognizers", sections, raw)


if __name__ == "__main__":
    main()
