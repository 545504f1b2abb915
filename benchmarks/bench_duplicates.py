"""Whole `tome curate` as the share of near-duplicate rows grows: time and peak memory against a run with few.

Scraped instruction data often holds the same prompt copied thousands of times with small edits. LSH then
proposes up to ``k(k-1)/2`` candidate pairs for a cluster of ``k`` rows (``bucket_cap`` rows to a bucket), and a
run that measured every candidate's Jaccard slowed down with the square of its clusters. This runs the whole
command (every default stage, report off) on generated FineTome-shaped rows (benchmarks/corpus.py: ~2,400
characters a row; a share ``dup`` of rows copy an earlier row with 0-6% of words edited, popular rows copied
many times), one fresh process per run, and prints per share: wall time, peak RSS, near-dedup's own seconds, its
candidate, measured and similar pairs, and each against the lowest share (the reference: the same rows with few
copies). With ``--compare-tree DIR`` (another checkout, e.g. ``git worktree add /tmp/old <commit>``), the same
runs also go through that tree's code, in the same sitting, and the table shows ours against it.

    python benchmarks/bench_duplicates.py --rows 300000 --dups 0.1,0.5,0.9 --compare-tree /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.tome_cli import measured_run, tome_env  # noqa: E402


def corpus(folder: Path, rows: int, dup: float) -> Path:
    from benchmarks.corpus import FineTomeLike

    path = folder / f"rows-{rows}-dup{round(dup * 100)}.jsonl"
    if not path.exists():
        FineTomeLike(rows, seed=3, dup_rate=dup).write_jsonl(path)
    return path


def curate(tree: Path, path: Path, work: Path) -> dict:
    """One `tome curate` process on ``path`` with ``tree``'s code: wall s, peak MB, near-dedup's stage."""
    config = work / "bench.yaml"
    config.write_text("report: false\ncheckpoint: false\n")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    env = tome_env()
    env["PYTHONPATH"] = str(tree)
    code, seconds, peak, cpu = measured_run([sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(path), "-c",
                                             str(config), "-o", str(out)], cwd=tree, env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if code != 0:
        raise SystemExit(f"tome curate failed on {path} with the code in {tree}")
    manifest = json.loads((out / "manifest.json").read_text())
    near = next(s for s in manifest["stages"] if s["name"] == "near_dedup")
    stats = near["stats"]
    return {"seconds": round(seconds, 2), "peak_mb": round(peak / 2**20), "cpu_seconds": round(cpu, 2),
            "near_seconds": near["seconds"], "removed": sum(manifest["removed_by_reason"].values()),
            # (code before measured_pairs measured every candidate, and called the similar ones verified_pairs)
            "candidate_pairs": stats.get("candidate_pairs"), "measured_pairs": stats.get("measured_pairs", stats.get("candidate_pairs")),
            "similar_pairs": stats.get("similar_pairs", stats.get("verified_pairs")), "clusters": stats.get("clusters"),
            "largest_cluster": max((int(k) for k in stats.get("cluster_sizes", {})), default=0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dups", default="0.1,0.5,0.9", help="shares of rows that copy an earlier row, lowest first")
    ap.add_argument("--compare-tree", type=Path, help="another checkout whose code runs the same rows")
    ap.add_argument("--data", type=Path, default=REPO / ".cache" / "bench", help="where the generated rows are kept")
    ap.add_argument("--json", type=Path, help="write the raw numbers here")
    args = ap.parse_args()
    dups = [float(d) for d in args.dups.split(",")]
    args.data.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for dup in dups:
            path = corpus(args.data, args.rows, dup)
            row = {"dup": dup, "MB": round(os.path.getsize(path) / 1e6, 1), "ours": curate(REPO, path, work)}
            if args.compare_tree is not None:
                row["compared"] = curate(args.compare_tree.resolve(), path, work)
            results.append(row)
            print(json.dumps(row), file=sys.stderr)
    base = results[0]["ours"]
    print(f"\n`tome curate` on {args.rows:,} generated rows, by share of near copies (the first share is the reference)\n")
    print("| near copies | MB | wall s | vs reference | peak RSS MB | vs reference | near-dedup s | candidate pairs | "
          "measured | similar | largest cluster |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        o = r["ours"]
        print(f"| {r['dup']:.0%} | {r['MB']} | {o['seconds']} | {o['seconds'] / base['seconds']:.2f}x | {o['peak_mb']} | "
              f"{o['peak_mb'] / base['peak_mb']:.2f}x | {o['near_seconds']} | {o['candidate_pairs']:,} | {o['measured_pairs']:,} | "
              f"{o['similar_pairs']:,} | {o['largest_cluster']:,} |")
    if args.compare_tree is not None:
        print(f"\nThe same runs with the code in {args.compare_tree} (ours / theirs: below 1 is ours faster or smaller)\n")
        print("| near copies | their wall s | ours / theirs | their peak RSS MB | ours / theirs | their measured pairs |")
        print("|---:|---:|---:|---:|---:|---:|")
        for r in results:
            o, c = r["ours"], r["compared"]
            print(f"| {r['dup']:.0%} | {c['seconds']} | {o['seconds'] / c['seconds']:.2f} | {c['peak_mb']} | "
                  f"{o['peak_mb'] / c['peak_mb']:.2f} | {c['measured_pairs']:,} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
