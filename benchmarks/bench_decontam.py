"""Decontamination: rows/s against 10k eval items, and recall on planted copies, ours vs the anchors' method.

    python benchmarks/bench_decontam.py [--rows 100000] [--items 10000] [--planted 500]

Eval items: English Debian fortunes (real sentences, 50+ characters; benchmarks/fortunes.py) plus the seed's
three prompts. Rows: the shared real chat rows repeated to ``--rows``; ``--planted`` of them get an eval item
copied into their prompt, inside longer text, with its case, punctuation or spacing changed.
Ours: rolling word n-gram hashes and a bitmap + sorted-key lookup, compiled (curation/decontam). Reference:
the method of datatrove's ``NGramsDecontFilter`` (NeMo Curator does the same with 13-grams): lower-cased
words, each n-gram joined by spaces and hashed with xxh64, looked up in a hash set, in Python; it runs on the
first rows only and its rows/s is extrapolated. Both use 13-grams, and items shorter than 13 words whole
(8+ words), so they find the same rows. Recall counts planted rows found (the fortune files repeat a few
quotes, so a hit may name a twin item with the same words).
Targets: >= 50,000 rows/s on 2 cores against 10k eval items; recall 1.0 on the planted rows.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fortunes import fortunes  # noqa: E402
from benchmarks.quality_common import TURNS, Timer, chat_rows, md_table, write_results  # noqa: E402
from curation.decontam.config import DecontamConfig  # noqa: E402
from curation.decontam.index import NgramIndex  # noqa: E402
from curation.decontam.rows import find  # noqa: E402
from serving.prompts import SEED_PROMPTS  # noqa: E402

WORD = re.compile(r"\w+")


class Reference:
    """datatrove's n-gram decontamination, as it does it: string n-grams hashed with xxh64, a set lookup."""

    def __init__(self, items: list[str], n: int = 13, min_words: int = 8) -> None:
        import xxhash

        self.h = xxhash.xxh64_intdigest
        self.n = n
        self.lengths: set[int] = set()
        self.index: dict[int, int] = {}
        for i, text in enumerate(items):
            words = WORD.findall(text.lower())
            size = n if len(words) >= n else (len(words) if len(words) >= min_words else 0)
            if not size:
                continue
            self.lengths.add(size)
            for k in range(len(words) - size + 1):
                self.index.setdefault(self.h(" ".join(words[k:k + size]).encode()), i)

    def row(self, turns: list[dict[str, str]]) -> int | None:
        for t in turns:
            if t["from"] not in ("human", "gpt"):
                continue
            words = WORD.findall(t["value"].lower())
            for size in self.lengths:
                for k in range(len(words) - size + 1):
                    hit = self.index.get(self.h(" ".join(words[k:k + size]).encode()))
                    if hit is not None:
                        return hit
        return None


def same_words(a: str, b: str) -> bool:
    """The same item, or another eval item with the same words (the fortune files repeat some quotes)."""
    return WORD.findall(a.lower()) == WORD.findall(b.lower())


def plant(rows: list[list[dict[str, str]]], items: list[str], n: int, rng: random.Random) -> dict[int, int]:
    planted = {}
    for r in rng.sample(range(len(rows)), n):
        i = rng.randrange(len(items))
        copy = items[i]
        copy = rng.choice([copy.upper(), copy.replace(" ", ",  "), copy.replace(".", "!"), copy])
        turns = [dict(t) for t in rows[r]]
        turns[0]["value"] = f"{turns[0]['value']} By the way, my teacher wrote: {copy} What does it mean?"
        rows[r] = turns
        planted[r] = i
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--planted", type=int, default=500)
    ap.add_argument("--reference-rows", type=int, default=5_000)
    args = ap.parse_args()
    rng = random.Random(0)

    items = list(SEED_PROMPTS) + [t for t in fortunes("en") if len(WORD.findall(t)) >= 8][: args.items - 3]
    base = chat_rows()
    rows = [list(r) for r in (base * (-(-args.rows // len(base))))[: args.rows]]
    planted = plant(rows, items, args.planted, rng)
    col = pa.array(rows, TURNS)
    cfg = DecontamConfig(seed_prompts=False)

    with Timer() as t_build:
        index = NgramIndex.build(items, cfg.ngram, cfg.min_words)
    find(col.slice(0, 200), index, cfg)  # compile outside the clock
    results, raw = [], {"items": len(items), "rows": args.rows, "planted": len(planted), "ours": {}}
    for workers in (1, 2):
        with Timer() as t:
            hits = find(col, index, cfg.model_copy(update={"workers": workers}))
        found = dict(zip(hits.row.tolist(), hits.item.tolist()))
        recall = sum(r in found for r in planted) / len(planted)
        same_item = sum(same_words(items[found[r]], items[i]) for r, i in planted.items() if r in found) / len(planted)
        extra = len(set(found) - set(planted))
        results.append([f"ours, {workers} thread{'s' if workers > 1 else ''}", args.rows, args.rows / t.wall,
                        args.rows / t.cpu, recall, extra])
        raw["ours"][workers] = {"rows_per_s": args.rows / t.wall, "rows_per_cpu_s": args.rows / t.cpu,
                                "recall": recall, "planted_item_named": same_item, "unplanted_hits": extra, "index_build_s": t_build.wall,
                                "index_keys": int(len(index.keys))}
    with Timer() as t_ref_build:
        ref = Reference(items, cfg.ngram, cfg.min_words)
    m = min(args.reference_rows, args.rows)
    with Timer() as t:
        ref_found = {r: hit for r in range(m) if (hit := ref.row(rows[r])) is not None}
    ref_planted = {r: i for r, i in planted.items() if r < m}
    ref_recall = sum(r in ref_found for r in ref_planted) / max(1, len(ref_planted))
    ours_first = {r for r in found if r < m}
    results.append([f"reference (datatrove's method, first {m:,} rows)", m, m / t.wall, m / t.cpu, ref_recall,
                    len(set(ref_found) - set(ref_planted))])
    raw["reference"] = {"rows_per_s": m / t.wall, "rows_per_cpu_s": m / t.cpu, "recall": ref_recall,
                        "index_build_s": t_ref_build.wall, "same_rows_as_ours": ours_first == set(ref_found)}
    ratio = [r + [f"{r[2] / (m / t.wall):.0f}x"] for r in results]
    body = md_table(["method", "rows", "rows/s", "rows/CPU-s", "recall on planted", "other hits", "vs reference"],
                    ratio)
    body += (f"\n{len(items):,} eval items ({index.keys.size:,} distinct 13-gram keys; index built in "
             f"{t_build.wall:.2f} s, the reference's in {t_ref_build.wall:.2f} s); {len(planted)} planted copies. "
             f"On the first {m:,} rows both found the same rows: {ours_first == set(ref_found)}. Every hit on a planted "
             f"row names its item or an item with the same words: {same_item == recall}. "
             "Other hits: rows whose own text shares a 13-gram with an eval item (the shared rows repeat, so a hit "
             "repeats too).\nTargets: >= 50,000 rows/s on 2 cores; recall 1.0.\n")
    write_results("decontamination", "Decontamination against 10k eval items", [("Rows per second and recall", body)],
                  raw)


if __name__ == "__main__":
    main()
