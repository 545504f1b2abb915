"""Near-dedup (MinHash LSH) benchmark: datasketch reference loop vs datasketch MinHash.bulk vs the fast backend.

    python benchmarks/bench_near_dedup.py --sizes 10000,100000

Every method runs on the same generated FineTome-shaped rows (benchmarks/corpus.py: several sources, about
2,400 characters per conversation with a long tail, 10% planted near-duplicates), each in a fresh
process so that its peak RSS is its own. A run prints three markdown tables:

* speed: rows/s, seconds and peak RSS per method and size, ours/reference as a ratio, and the text MB/s of
  the fast backend next to xxh3's MB/s on this machine (one core, hashing the same text once: a ceiling,
  since MinHash hashes every byte ``ngram`` times and does ``num_perm`` permutations per shingle);
* quality: recall of the true pairs at the threshold and precision after verification, on a sample,
  against brute-force exact Jaccard (a sparse matrix product over the shingle sets);
* the pairs and candidate counts each method found (the datasketch backends and ours must agree).

Sizes above ``--reference-max`` run the two datasketch methods on the first ``--reference-max`` rows
only and extrapolate linearly; the table marks those cells with ``*``. Peak RSS is the process's high-water
mark while the method runs (Linux ``VmHWM``, reset after the corpus is built) and includes the corpus
itself (the texts as Python strings), which is reported separately.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

METHODS = ("reference", "bulk", "fast")
LABELS = {"reference": "datasketch loop", "bulk": "datasketch MinHash.bulk", "fast": "ours (fast)"}


# ------------------------------------------------------------------------------------ measuring helpers


def _rss_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    peak = _rss_mb("VmHWM")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    mem = ""
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average at start {os.getloadavg()[0]:.1f}"
    return f"{cpu}, {cores} cores{mem}, Python {platform.python_version()}, {platform.system()}{load}"


def xxh3_mb_per_s(texts: list[str], repeat: int = 5) -> float:
    """One core hashing the UTF-8 of ``texts`` once with xxh3-64 (best of ``repeat``)."""
    import xxhash

    data = "".join(texts).encode("utf-8", "surrogatepass")
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        xxhash.xxh3_64_intdigest(data)
        best = min(best, time.perf_counter() - t)
    return len(data) / best / 1e6


# ------------------------------------------------------------------------------------------- one method


def run_method(method: str, rows: int, seed: int, workers: int, pairs_out: str | None) -> dict:
    """Build the corpus, then time ``method`` on it; runs inside a fresh worker process."""
    from benchmarks.corpus import FineTomeLike
    from curation.config import NearDedupConfig

    t = time.perf_counter()
    texts = FineTomeLike(rows, seed=seed).all_texts()
    gen_s = time.perf_counter() - t
    text_mb = sum(len(x.encode("utf-8", "surrogatepass")) for x in texts) / 1e6
    gc.collect()
    corpus_mb = _rss_mb("VmRSS") or 0.0
    reset = _reset_peak_rss()

    cfg = NearDedupConfig(backend="datasketch" if method in ("reference", "bulk") else "fast", workers=workers)
    cpu0 = time.process_time()
    t = time.perf_counter()
    if method == "reference":
        from curation.minhash.reference import find_near_duplicates

        result = find_near_duplicates(texts, cfg)
    elif method == "bulk":
        from curation.minhash.reference import find_near_duplicates

        result = find_near_duplicates(texts, cfg, bulk=True)
    else:
        from curation.minhash import find_near_duplicates

        result = find_near_duplicates(texts, cfg)
    seconds = time.perf_counter() - t
    cpu_seconds = time.process_time() - cpu0
    peak = _peak_rss_mb()
    if pairs_out:
        import numpy as np

        np.save(pairs_out, result.pairs)
    return {
        "method": method,
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "generate_seconds": gen_s,
        "text_mb": text_mb,
        "corpus_rss_mb": corpus_mb,
        "peak_rss_mb": peak,
        "peak_is_method_only": reset,
        "pairs": int(len(result.pairs)),
        "candidates": int(result.candidates),
        "phases": {k: round(v, 3) for k, v in result.seconds.items()},
    }


def spawn(method: str, rows: int, seed: int, workers: int, pairs_out: str | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", method, "--rows", str(rows), "--seed", str(seed)]
    cmd += ["--workers", str(workers)]
    if pairs_out:
        cmd += ["--pairs-out", pairs_out]
    print(f"  {LABELS[method]:<24} {rows:>9,} rows ...", end="", flush=True, file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(" failed", file=sys.stderr)
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"benchmark worker failed: {' '.join(cmd)}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f" {out['seconds']:8.2f} s, peak {out['peak_rss_mb']:,.0f} MB", file=sys.stderr)
    return out


# ----------------------------------------------------------------------------------------------- tables


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def speed_table(results: dict, sizes: list[int], xxh3: float, ref_max: int) -> str:
    head = (
        "| rows | datasketch loop rows/s | loop peak RSS | MinHash.bulk rows/s | bulk peak RSS "
        "| ours rows/s | ours seconds | ours CPU s | ours peak RSS | corpus RSS | ours / loop | ours / loop (CPU) "
        "| ours text MB/s | xxh3 MB/s |"
    )
    lines = [head, "|" + "|".join(["---:"] * (head.count("|") - 1)) + "|"]
    for n in sizes:
        cells = [fmt_int(n)]
        fast = results.get(("fast", n))
        ref_rate = ref_cpu_rate = None
        for method in ("reference", "bulk"):
            r = results.get((method, n))
            star = ""
            if r is None and n > ref_max:
                r = results.get((method, ref_max))
                star = "*"
            if r is None:
                cells += ["-", "-"]
                continue
            rate = r["rows"] / r["seconds"]
            if method == "reference":
                ref_rate = rate
                ref_cpu_rate = r["rows"] / r["cpu_seconds"]
            rss = f"{fmt_int(r['peak_rss_mb'])} MB" + (f" (at {fmt_int(r['rows'])} rows)" if star else "")
            cells += [f"{fmt_int(rate)}{star}", rss]
        if fast is None:
            cells += ["-"] * 9
        else:
            rate = fast["rows"] / fast["seconds"]
            star = "*" if n > ref_max else ""
            ratio = f"{rate / ref_rate:.0f}x{star}" if ref_rate else "-"
            cpu_ratio = f"{fast['rows'] / fast['cpu_seconds'] / ref_cpu_rate:.0f}x{star}" if ref_cpu_rate else "-"
            cells += [
                fmt_int(rate),
                f"{fast['seconds']:.1f}",
                f"{fast['cpu_seconds']:.1f}",
                f"{fmt_int(fast['peak_rss_mb'])} MB",
                f"{fmt_int(fast['corpus_rss_mb'])} MB",
                ratio,
                cpu_ratio,
                f"{fast['text_mb'] / fast['seconds']:.1f}",
                f"{xxh3:,.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def count_table(results: dict, sizes: list[int]) -> str:
    lines = [
        "| rows | method | seconds | CPU s | pairs found | candidate pairs | phases (s) |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for n in sizes:
        for method in METHODS:
            r = results.get((method, n))
            if r is None:
                continue
            phases = ", ".join(f"{k} {v}" for k, v in r["phases"].items()) or "-"
            lines.append(
                f"| {fmt_int(n)} | {LABELS[method]} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {fmt_int(r['pairs'])} "
                f"| {fmt_int(r['candidates'])} | {phases} |"
            )
    return "\n".join(lines)


def quality(sample: int, seed: int, workers: int, with_reference: bool, threshold: float = 0.8) -> tuple[str, list[str]]:
    """Recall/precision of each method on the first ``sample`` rows against brute-force exact Jaccard."""
    import numpy as np

    from benchmarks.corpus import FineTomeLike
    from curation.config import NearDedupConfig
    from curation.minhash import find_near_duplicates
    from curation.minhash.exact import exact_pairs, recall_precision

    texts = FineTomeLike(sample, seed=seed).all_texts()
    t = time.perf_counter()
    truth, sims = exact_pairs(texts, threshold)
    brute_s = time.perf_counter() - t
    rows = [
        f"| brute force (sparse X·Xᵀ) | {fmt_int(len(truth))} | - | 1.000 | 1.000 | {brute_s:.1f} |",
    ]
    methods = [("fast", NearDedupConfig(threshold=threshold, workers=workers))]
    if with_reference:
        methods.append(("reference", NearDedupConfig(backend="datasketch", threshold=threshold)))
    found_sets = {}
    for method, cfg in methods:
        t = time.perf_counter()
        res = find_near_duplicates(texts, cfg)
        secs = time.perf_counter() - t
        rec, prec = recall_precision(res.pairs, truth)
        found_sets[method] = res.pairs
        rows.append(
            f"| {LABELS[method]} | {fmt_int(len(res.pairs))} | {fmt_int(res.candidates)} | {rec:.3f} | {prec:.3f} | {secs:.1f} |"
        )
    notes = []
    if "reference" in found_sets:
        same = np.array_equal(found_sets["fast"], found_sets["reference"])
        notes.append(f"ours and the datasketch loop found {'the same' if same else 'DIFFERENT'} pairs on the sample")
    near = int(((sims >= threshold) & (sims < threshold + 0.05)).sum())
    notes.append(f"{fmt_int(near)} of the {fmt_int(len(truth))} true pairs lie within 0.05 above the threshold")
    head = [
        f"Quality on the first {fmt_int(sample)} rows, threshold {threshold} (word 5-grams):",
        "",
        "| method | pairs | candidates | recall | precision | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    return "\n".join(head + rows), notes


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description="Benchmark near-dedup: datasketch loop vs MinHash.bulk vs ours, on generated FineTome-shaped rows.",
        epilog="Example: python benchmarks/bench_near_dedup.py --sizes 10000,100000,1000000",
    )
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes (rows); default 10000,100000")
    ap.add_argument(
        "--reference-max",
        type=int,
        default=100_000,
        help="largest size the datasketch methods run on in full; bigger sizes reuse this size's rows/s (marked *)",
    )
    ap.add_argument("--quality-sample", type=int, default=10_000, help="rows for the recall/precision check (0: skip)")
    ap.add_argument("--skip-reference", action="store_true", help="time only ours (no datasketch runs)")
    ap.add_argument("--workers", type=int, default=0, help="threads for ours (0 = all cores)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    ap.add_argument("--json", type=Path, help="also write all measurements to this JSON file")
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--pairs-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(run_method(args.worker, args.rows, args.seed, args.workers, args.pairs_out)))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    info = machine()
    print(f"machine: {info}", file=sys.stderr)

    # compile (or load) the numba kernels once, so the timed runs measure a warm cache like a user's second run
    cache_dir = Path(os.environ.get("NUMBA_CACHE_DIR") or ROOT / "curation" / "minhash" / "__pycache__")
    warm_start = time.time()
    warm = spawn("fast", 2000, args.seed + 1, args.workers)
    # numba (re)writes a kernel's cache index only when it has just compiled it
    compiled = cache_dir.exists() and any(p.stat().st_mtime >= warm_start for p in cache_dir.rglob("kernels.*.nbi"))

    from benchmarks.corpus import FineTomeLike

    xxh3 = xxh3_mb_per_s(FineTomeLike(5000, seed=args.seed).all_texts())

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-near-dedup-") as tmp:
        for n in sizes:
            for method in METHODS:
                if method != "fast" and (args.skip_reference or n > args.reference_max):
                    continue
                results[(method, n)] = spawn(method, n, args.seed, args.workers, os.path.join(tmp, f"{method}-{n}.npy"))
            if not args.skip_reference and n <= args.reference_max:
                import numpy as np

                a = np.load(os.path.join(tmp, f"fast-{n}.npy"))
                for method in ("reference", "bulk"):
                    b = np.load(os.path.join(tmp, f"{method}-{n}.npy"))
                    results[(method, n)]["same_pairs_as_fast"] = bool(np.array_equal(a, b))
        big = [n for n in sizes if n > args.reference_max]
        if big and not args.skip_reference and ("reference", args.reference_max) not in results:
            for method in ("reference", "bulk"):
                results[(method, args.reference_max)] = spawn(method, args.reference_max, args.seed, args.workers)

    print()
    print(f"Machine: {info}.")
    print(
        f"Numba kernels: warm-up call on 2,000 rows took {warm['seconds']:.1f} s "
        + (
            "(JIT compile included: the kernels were not in numba's cache yet; the timed runs load them from it)."
            if compiled
            else "(kernels loaded from numba's cache, compiled by an earlier run)."
        )
    )
    print()
    print(speed_table(results, sizes, xxh3, args.reference_max))
    print()
    notes = [
        "rows/s and seconds: wall time of the near-dedup call alone (signatures, LSH, verification by exact "
        "Jaccard), in a fresh process; corpus generation is not timed. CPU s: CPU time of that call over all "
        "threads (on a shared machine, wall time stretches with other load; CPU time much less). "
        "ours / loop compares wall-clock rows/s; ours / loop (CPU) compares rows per CPU second, which stays "
        "fair when the load changed between the runs (ours uses all cores, the loop one).",
        "peak RSS: the process's high-water mark during the call, including the corpus held as Python strings "
        "(corpus RSS column).",
        "xxh3 MB/s: one core hashing the same kind of text once (a ceiling; MinHash hashes each byte ngram "
        "times and applies num_perm permutations per shingle).",
    ]
    if any(n > args.reference_max for n in sizes) and not args.skip_reference:
        notes.append(
            f"*: datasketch methods measured on the first {fmt_int(args.reference_max)} rows only; their rows/s "
            f"(and the ratio) is extrapolated linearly to the larger size, RSS shown at the measured size."
        )
    for n in sizes:
        for method in ("reference", "bulk"):
            r = results.get((method, n))
            if r is not None and "same_pairs_as_fast" in r:
                notes.append(
                    f"{fmt_int(n)} rows: {LABELS[method]} found {'the same' if r['same_pairs_as_fast'] else 'DIFFERENT'} "
                    f"pairs as ours ({fmt_int(r['pairs'])})."
                )
    for note in notes:
        print(f"- {note}")
    print()
    print(count_table(results, sizes + ([args.reference_max] if args.reference_max not in sizes else [])))

    if args.quality_sample:
        print(f"\n  quality check on {args.quality_sample:,} rows ...", file=sys.stderr)
        table, qnotes = quality(args.quality_sample, args.seed, args.workers, with_reference=not args.skip_reference)
        print()
        print(table)
        print()
        for note in qnotes:
            print(f"- {note}")

    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "xxh3_mb_s": xxh3, "warmup": warm, "results": [v for v in results.values()]}, indent=2
            )
        )


if __name__ == "__main__":
    main()
