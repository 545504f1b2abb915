"""Token lengths: rows/s of the stage's counter vs training's own way (chat template + HF fast tokenizer).

    python benchmarks/bench_tokens.py [--rows 50000]

Rows: the shared real chat rows and the embedded sample's rows, each repeated to ``--rows``. Tokenizer: the
offline SmolLM2 one (from the packaged GGUF) with its chat template. Reference: what training does
(training/data.py), batched: ``apply_chat_template(tokenize=False)`` per row, then the HF fast tokenizer's
batch encoder over all rows. Ours: template pieces counted once, every turn's text counted by the tiktoken
twin of the tokenizer on 1 or 2 threads (curation/token_lengths). Both must give the same count for every
row (checked). Target: >= 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
from benchmarks.quality_common import SHARED_ROWS, Timer, chat_rows, column, md_table, write_results  # noqa: E402
from curation.token_lengths.config import TokenLengthsConfig  # noqa: E402
from curation.token_lengths.count import TokenCounter  # noqa: E402
from tomecraft.resources import ensure_sample  # noqa: E402


def reference(counter: TokenCounter, rows: list) -> np.ndarray:
    """training/data.py's tokenization, batched: render each row, encode all at once (HF fast tokenizer)."""
    from training.data import render

    tok = counter.tokenizer
    texts = [render(tok, r) for r in rows]
    enc = tok(texts, add_special_tokens=False, verbose=False)["input_ids"]
    return np.fromiter((len(e) for e in enc), np.int64, len(enc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    table, raw = [], {}
    for label, path in (("shared real rows", SHARED_ROWS), ("embedded sample", ensure_sample())):
        col = column(chat_rows(path), args.rows)
        rows = col.to_pylist()
        counter = TokenCounter(TokenLengthsConfig(check_rows=8))
        counter._load()
        counter.count(col.slice(0, 200))
        with Timer() as t_ref:
            want = reference(counter, rows)
        entry = {"rows": args.rows, "mean_tokens": float(want.mean()),
                 "reference": {"rows_per_s": args.rows / t_ref.wall, "rows_per_cpu_s": args.rows / t_ref.cpu}}
        table.append([f"{label}: reference (template + HF batch encode)", args.rows, round(float(want.mean()), 1),
                      args.rows / t_ref.wall, args.rows / t_ref.cpu, "1.0x", "-"])
        for workers in (1, 2):
            c = TokenCounter(TokenLengthsConfig(check_rows=8, workers=workers))
            c._load()
            c.count(col.slice(0, 200))
            with Timer() as t:
                got, how = c.count(col)
            same = bool(np.array_equal(got, want))
            entry[f"ours_{workers}"] = {"rows_per_s": args.rows / t.wall, "rows_per_cpu_s": args.rows / t.cpu,
                                        "identical": same, "counted": how}
            table.append([f"{label}: ours, {c.backend}, {workers} thread{'s' if workers > 1 else ''}", args.rows,
                          round(float(got.mean()), 1), args.rows / t.wall, args.rows / t.cpu,
                          f"{t_ref.wall / t.wall:.1f}x", "yes" if same else f"no ({int((got != want).sum())} rows)"])
        raw[label] = entry
    body = md_table(["method", "rows", "mean tokens", "rows/s", "rows/CPU-s", "vs reference", "same counts"], table)
    body += ("\nTokenizer: the offline SmolLM2-135M-Instruct one, with its ChatML template (default system prompt "
             "included, as training renders it). Target: >= 20,000 rows/s.\n")
    write_results("token_lengths", "Token counting: ours vs training's tokenization", [("Rows per second", body)], raw)


if __name__ == "__main__":
    main()
