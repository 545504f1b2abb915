"""Write the embedded sample and its truth after the self-checks (the command line of the generator).

    python data/make_sample.py            # (re)write data/sample.jsonl and data/sample_truth.json
    python data/make_sample.py --check    # regenerate in memory; exit 1 if the committed files differ
    python data/make_sample.py --stats    # also print the sample's measurements as JSON
    python data/make_sample.py --base --out DIR   # the base sample alone (no quality plants) into DIR

Before writing, the generator checks what it planted (``verify.py``): every near-duplicate copy has
word-5-gram Jaccard >= 0.85 with its original (the shingling of ``curation/minhash/shingles.py``), no two
rows outside a planted group reach Jaccard 0.5 (exact, over the whole file), clean rows pass the default
filters with a margin, and each planted filter row fails its own filter and passes every other. The
quality plants (appended after the base sample) are checked too: other-language turns read as their
language, the evaluation prompts occur only where planted, and personal data only where planted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .assemble import generate
from .plan import SAMPLE_PATH, TRUTH_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and exit 1 if data/sample.jsonl or data/sample_truth.json differ")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the pairwise-Jaccard and exact filter checks (on by default when writing, off with --check)")
    parser.add_argument("--verify", action="store_true", help="run those checks with --check too")
    parser.add_argument("--stats", action="store_true", help="print the sample's measurements as JSON")
    parser.add_argument("--base", action="store_true",
                        help="the base sample alone, without the quality plants (the sample before they were added)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for sample.jsonl and sample_truth.json (default: data/)")
    args = parser.parse_args(argv)
    verify_truth = args.verify or not (args.check or args.no_verify)
    sample_path, truth_path = (SAMPLE_PATH, TRUTH_PATH) if args.out is None else (
        args.out / SAMPLE_PATH.name, args.out / TRUTH_PATH.name)
    try:
        sample = generate(verify_truth=verify_truth, quality=not args.base)
    except AssertionError as exc:
        print(f"make_sample: planted truth check failed: {exc}", file=sys.stderr)
        return 2
    if args.stats:
        print(json.dumps(sample.stats, indent=1, ensure_ascii=False))
    if args.check:
        stale = [p.name for p, data in ((sample_path, sample.jsonl), (truth_path, sample.truth))
                 if not p.exists() or p.read_bytes() != data]
        if stale:
            print(f"make_sample --check: {', '.join(stale)} differ from the generator; run `python data/make_sample.py`",
                  file=sys.stderr)
            return 1
        print(f"make_sample --check: {sample_path} and {truth_path.name} match the generator")
        return 0
    sample_path.parent.mkdir(parents=True, exist_ok=True)
    sample_path.write_bytes(sample.jsonl)
    truth_path.write_bytes(sample.truth)
    print(f"wrote {sample_path} ({sample.stats['rows']} lines, {sample.stats['bytes']:,} bytes) and {truth_path.name}")
    return 0
