"""Augmentation throughput per method on real rows (conversations/s), ours vs a naive reference, same run.

    python benchmarks/bench_augment.py [--rows N] [--input PATH]

Rows are the human turns of ../shared/data/instructions/alpaca_en_demo.finetome.jsonl (what the stage
rewrites by default). Lines:

* synonym: nlpaug SynonymAug on Debian WordNet, POS tags from spaCy batched over all texts (ours) vs one
  spaCy call per text (reference).
* back_translation (apertium): eng -> spa -> eng, many texts per process call on all cores (ours) vs the
  same on one pipeline, and vs one apertium call per text (the unbatched way; run on a few rows).
* guard: Jaccard + all-MiniLM-L6-v2 cosine per candidate (model already loaded).

Timings depend on the machine's load: on the shared 2-core dev machine they vary by 2x between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from curation.augment.config import AugmentConfig  # noqa: E402
from curation.augment.guard import judge  # noqa: E402
from curation.augment.methods import ApertiumBackTranslator, SynonymMethod, seed_for  # noqa: E402

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "instructions" / "alpaca_en_demo.finetome.jsonl"


def human_texts(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh][:n]
    return ["\n".join(t["value"] for t in r["conversations"] if t["from"] == "human").strip() for r in rows]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=999)
    ap.add_argument("--reference-rows", type=int, default=20, help="rows for the one-call-per-row Apertium reference")
    ap.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    args = ap.parse_args()
    texts = human_texts(args.input, args.rows)
    n = len(texts)
    seeds = [seed_for(0, i) for i in range(n)]
    cfg = AugmentConfig()
    lines: list[tuple[str, str, float, str, float]] = []

    # synonym ---------------------------------------------------------------------------------------
    syn = SynonymMethod(cfg.methods.synonym)
    syn.augment(texts[:5], seeds[:5])  # load WordNet + spaCy outside the timing
    out_syn, t_ours = timed(lambda: syn.augment(texts, seeds))
    tagger = syn._tagger
    prime = tagger.prime
    tagger.prime = lambda token_lists: None  # reference: nlpaug asks for tags one text at a time
    _, t_ref = timed(lambda: syn.augment(texts, seeds))
    tagger.prime = prime
    lines.append(("synonym (WordNet + spaCy POS)", "batched tagging", n / t_ours, "per-text tagging", n / t_ref))

    # back-translation ------------------------------------------------------------------------------
    tr = ApertiumBackTranslator()
    reason = tr.unavailable()
    if reason:
        print(f"skipping Apertium: {reason}")
    else:
        cores = os.cpu_count() or 1
        tr_all = ApertiumBackTranslator(processes=cores)
        out_bt, t_all = timed(lambda: tr_all.translate(texts))
        tr_one = ApertiumBackTranslator(processes=1)
        _, t_one = timed(lambda: tr_one.translate(texts))
        k = min(args.reference_rows, n)
        _, t_row = timed(lambda: [ApertiumBackTranslator(processes=1)._call([t]) for t in texts[:k]])
        lines.append((f"back_translation (apertium, {cores} pipelines)", "batched", n / t_all, "1 pipeline", n / t_one))
        lines.append(("back_translation (apertium)", "batched, all cores", n / t_all, "1 call per row", k / t_row))

    # guard -----------------------------------------------------------------------------------------
    cands = [o or t for o, t in zip(out_syn, texts)]
    judge(texts[:8], cands[:8], cfg.guard)  # load the model outside the timing
    _, t_guard = timed(lambda: judge(texts, cands, cfg.guard))
    lines.append(("guard (Jaccard + MiniLM cosine)", "batched embed", n / t_guard, "-", float("nan")))

    table = Table(title=f"augmentation throughput, {n} real conversations (human turns), {os.cpu_count()} cores")
    for col in ("method", "ours", "conv/s", "reference", "conv/s", "ratio"):
        table.add_column(col, justify="right" if col in ("conv/s", "ratio") else "left")
    for name, ours, r_ours, ref, r_ref in lines:
        ratio = "-" if r_ref != r_ref else f"{r_ours / r_ref:.1f}x"
        table.add_row(name, ours, f"{r_ours:.1f}", ref, "-" if r_ref != r_ref else f"{r_ref:.1f}", ratio)
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
