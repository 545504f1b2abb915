"""Row ids of tables and JSON documents: the canonical JSON each id hashes, written by orjson (ours,
``curation.contract.canonical_json``) against Python's ``json.dumps(sort_keys=True, ensure_ascii=False)`` (the
reference: how ids were written before), on the same rows, each id hashed the same way.

With ``--curate``, also whole ``tome curate`` processes (every default stage, report off) on the same rows as a
Parquet file, as one ``.json`` array and as JSON Lines (whose ids hash each line's bytes: no canonical JSON), so the
table shows what reading a table or a document still costs against a JSON Lines file.

    python benchmarks/bench_record_ids.py --rows 100000 --curate
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from benchmarks.tome_cli import measured_run, tome_env  # noqa: E402
from curation.contract import canonical_json, line_id  # noqa: E402


def corpus_rows(n: int) -> list[dict]:
    from benchmarks.corpus import FineTomeLike

    corpus = FineTomeLike(n, seed=7)
    return [row for start in range(0, n, 5000) for row in corpus.rows(start, min(n, start + 5000))]


def python_json(record) -> bytes:
    """The reference: Python's json, as ids were written before."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def curate_seconds(path: Path, work: Path, repeat: int) -> list[float]:
    config = work / "bench.yaml"
    config.write_text("report: false\ncheckpoint: false\n")
    runs = []
    for i in range(repeat):
        out = work / f"out-{path.name}-{i}"
        code, seconds, _, _ = measured_run([sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(path),
                                            "-c", str(config), "-o", str(out)], cwd=REPO, env=tome_env(),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if code != 0:
            raise SystemExit(f"tome curate failed on {path}")
        runs.append(seconds)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many (median for --curate)")
    ap.add_argument("--curate", action="store_true", help="also time tome curate on Parquet, .json and JSON Lines")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    rows = corpus_rows(args.rows)
    ours = [canonical_json(r) for r in rows]
    same = sum(json.loads(a) == json.loads(b) for a, b in zip(ours, (python_json(r) for r in rows)))
    assert same == len(rows), "the two forms read back as different records"
    ours_s = best_of(args.repeat, lambda: [line_id(canonical_json(r)) for r in rows])
    ref_s = best_of(args.repeat, lambda: [line_id(python_json(r)) for r in rows])
    results: dict = {"rows": args.rows, "ids": {"ours_s": ours_s, "python_json_s": ref_s, "speedup": ref_s / ours_s}}
    print(f"\nIds of {args.rows:,} generated FineTome rows (best of {args.repeat}; both forms read back as the same "
          "records):\n")
    print("| canonical JSON written by | s | rows/s | speed vs json |")
    print("|---|---:|---:|---:|")
    print(f"| orjson (ours) | {ours_s:.3f} | {args.rows / ours_s:,.0f} | {ref_s / ours_s:.2f}x |")
    print(f"| Python json (reference: before) | {ref_s:.3f} | {args.rows / ref_s:,.0f} | 1.00x |")

    if args.curate:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            files = {"rows.jsonl": work / "rows.jsonl", "rows.parquet": work / "rows.parquet",
                     "rows.json": work / "rows.json"}
            with files["rows.jsonl"].open("w", encoding="utf-8") as out:
                out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            pq.write_table(pa.Table.from_pylist(rows), files["rows.parquet"])
            files["rows.json"].write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            timed = {name: curate_seconds(path, work, args.repeat) for name, path in files.items()}
        base = statistics.median(timed["rows.jsonl"])
        results["curate"] = {name: {"runs_s": runs, "median_s": statistics.median(runs)} for name, runs in timed.items()}
        print(f"\n`tome curate` on the same rows (whole process, every default stage, report off; median of "
              f"{args.repeat}):\n")
        print("| file | median s | rows/s | time vs JSON Lines |")
        print("|---|---:|---:|---:|")
        for name, runs in timed.items():
            median = statistics.median(runs)
            print(f"| {name} | {median:.2f} | {args.rows / median:,.0f} | {median / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
