"""Whole `tome curate` against the MinHash tools people use instead, on the same FineTome-shaped rows.

    python benchmarks/bench_pipeline.py                      # 200k rows: ours vs datasketch, rensa, datatrove
    python benchmarks/bench_pipeline.py --scale 2000000      # + ours on 2M rows (memory must stay flat)
    python benchmarks/bench_pipeline.py --ray 1000000        # + the Ray engine against the local one on 1M rows
    python benchmarks/bench_pipeline.py --quick              # 20k rows, references on 20k: a smoke run

The references install with `pip install -e ".[bench]"` (datatrove, rensa); datasketch is a dependency.

Every method runs in a fresh process on the same JSONL file (benchmarks/corpus.py, FineTome schema,
several sources, 10% planted near-duplicates, about 500 bytes a line), generated once into
``.cache/bench/``. "Ours" is the whole command: start-up, reading, every default stage, writing the splits,
``removed.parquet`` and the HTML report; the references do only near-duplicate detection:

* datasketch: ``MinHash`` per row + ``MinHashLSH`` insert and query (the plain loop), 128 permutations;
* rensa (Rust): ``RMinHash`` + ``RMinHashLSH``, read + shingles + signatures + LSH, no verification;
* datatrove: its four MinHash steps (signatures, buckets, clusters, filter) on a ``LocalPipelineExecutor``
  with one task per core, no verification.

All use word 5-grams, 128 permutations and a 0.8 threshold. Wall time, CPU time and peak memory are
measured from outside (peak RSS summed over the process tree, sampled every 20 ms). Quality: recall and
precision of each method's duplicate pairs at 0.8 against brute force (exact Jaccard of every pair on
word 5-gram sets) on the first ``--quality`` rows of the corpus and on the shared real alpaca rows with
planted edits. Prints markdown tables; ``--json`` keeps the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
sys.path.insert(0, str(ROOT))

MEAN_CHARS = 330  # conversation characters; with JSON around them about 500 bytes a line


# --------------------------------------------------------------------------------------------- the corpus


def corpus(rows: int, parts: int = 1) -> list[Path]:
    """The corpus of ``rows`` rows as ``parts`` JSONL files (cut into parts for multi-worker references)."""
    from benchmarks.corpus import FineTomeLike

    CACHE.mkdir(parents=True, exist_ok=True)
    whole = CACHE / f"finetome-like-{rows}.jsonl"
    if not whole.exists():
        print(f"generating {rows:,} rows into {whole} ...", file=sys.stderr)
        FineTomeLike(rows, mean_chars=MEAN_CHARS).write_jsonl(whole)
    if parts == 1:
        return [whole]
    out = [CACHE / f"finetome-like-{rows}.part{k}-of-{parts}.jsonl" for k in range(parts)]
    if not all(p.exists() for p in out):
        with whole.open("rb") as fh:
            lines = fh.readlines()
        per = -(-len(lines) // parts)
        for k, p in enumerate(out):
            p.write_bytes(b"".join(lines[k * per : (k + 1) * per]))
    return out


# -------------------------------------------------------------------------------------------- measuring


def measure(cmd: list[str], env: dict | None = None, timeout: float = 7200) -> dict:
    """Run ``cmd``; wall seconds, CPU seconds of the tree, peak RSS (MB) summed over the process tree."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    peak = 0
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        try:
            tree = [ps] + ps.children(recursive=True)
            rss = 0
            for p in tree:
                try:
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system + t.children_user + t.children_system
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        if time.perf_counter() - start > timeout:
            proc.kill()
            raise TimeoutError(" ".join(cmd))
        time.sleep(0.02)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    result = {"seconds": wall, "cpu_seconds": sum(cpu.values()), "peak_rss_mb": peak / 1e6}
    last = out.strip().splitlines()[-1] if out.strip() else ""
    if last.startswith("{"):
        result.update(json.loads(last))
    return result


def py(*parts: str) -> list[str]:
    """A ``python -c`` command of code parts (each dedented on its own)."""
    return [sys.executable, "-c", "\n".join(textwrap.dedent(part) for part in parts)]


# --------------------------------------------------------------------------------------------- methods


def ours(path: Path, out: Path, engine: str = "local", extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(path), "-o", str(out), "--engine", engine]
    r = measure(cmd + (extra or []))
    manifest = json.loads((out / "manifest.json").read_text())
    r["stages"] = {s["name"]: s["seconds"] for s in manifest["stages"]}
    r["near_removed"] = sum(s["removed"].get("near_duplicate", 0) for s in manifest["stages"])
    return r


# datatrove 0.10 passes str to xxhash, which xxhash 4 refuses; encode as older xxhash releases did
DATATROVE_XXHASH_SHIM = """
import datatrove.utils.hashes.xxhash as _dtx
def _xxhash32(d):
    import xxhash
    return xxhash.xxh32_intdigest(d.encode("utf-8") if isinstance(d, str) else d)
def _xxhash64(d):
    import xxhash
    return xxhash.xxh64_intdigest(d.encode("utf-8") if isinstance(d, str) else d)
_dtx.xxhash32, _dtx.xxhash64 = _xxhash32, _xxhash64
"""

TEXT_OF = """
import json, re
def texts(path):
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            yield "\\n".join(f"{t['from']}: {t['value']}" for t in row["conversations"])
"""


def datasketch_loop(path: Path, limit: int, batch: bool = False) -> dict:
    """The plain loop: one ``MinHash`` per row, ``update`` per shingle (as datasketch's README shows), insert
    into ``MinHashLSH``, then query every row; ``batch``: ``update_batch`` per row instead (its faster API)."""
    update = "m.update_batch(sh)" if batch else "for s in sh:\n                    m.update(s)"
    return measure(py(TEXT_OF, f"""
        import time, json, itertools
        from datasketch import MinHash, MinHashLSH
        from curation.minhash.shingles import shingles, shingle_hash32
        t = time.perf_counter()
        lsh = MinHashLSH(threshold=0.8, num_perm=128)
        sigs = []
        for i, text in enumerate(itertools.islice(texts({str(path)!r}), {limit})):
            m = MinHash(num_perm=128, seed=1, hashfunc=shingle_hash32)
            sh = shingles(text, "word", 5)
            if sh:
                {update}
                lsh.insert(i, m)
            sigs.append(m if sh else None)
        pairs = sum(1 for i, m in enumerate(sigs) if m is not None for j in lsh.query(m) if j > i)
        print(json.dumps({{"rows": i + 1, "candidate_pairs": pairs}}))
    """))


def rensa_lsh(path: Path) -> dict:
    return measure(py(TEXT_OF, f"""
        import json
        from rensa import RMinHash, RMinHashLSH
        from curation.minhash.shingles import token_text
        lsh = RMinHashLSH(threshold=0.8, num_perm=128, num_bands=16)
        sigs = []
        for i, text in enumerate(texts({str(path)!r})):
            tokens = token_text(text).split(" ")
            grams = [" ".join(tokens[k:k + 5]) for k in range(max(1, len(tokens) - 4))]
            m = RMinHash(num_perm=128, seed=42)
            m.update(grams)
            lsh.insert(i, m)
            sigs.append(m)
        pairs = sum(1 for i, m in enumerate(sigs) for j in lsh.query(m) if j > i)
        print(json.dumps({{"rows": len(sigs), "candidate_pairs": pairs}}))
    """))


def datatrove_minhash(paths: list[Path], work: Path) -> dict:
    files = [str(p) for p in paths]
    return measure(py(DATATROVE_XXHASH_SHIM, f"""
        import json, os, shutil
        from datatrove.executor import LocalPipelineExecutor
        from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                     MinhashDedupFilter, MinhashDedupSignature)
        from datatrove.pipeline.readers import JsonlReader
        from datatrove.pipeline.writers import JsonlWriter

        def adapter(self, data, path, id_in_file):
            text = "\\n".join(f"{{t['from']}}: {{t['value']}}" for t in data["conversations"])
            return {{"text": text, "id": f"{{path}}/{{id_in_file}}"}}

        work = {str(work)!r}
        shutil.rmtree(work, ignore_errors=True)
        cfg = MinhashConfig(n_grams=5, num_buckets=16, hashes_per_bucket=8)
        tasks = {len(files)}
        reader = lambda: JsonlReader(os.path.dirname({files[0]!r}), glob_pattern={Path(files[0]).name.replace('part0', 'part*')!r},
                                     adapter=adapter)
        steps = [
            [reader(), MinhashDedupSignature(output_folder=f"{{work}}/sigs", config=cfg)],
            [MinhashDedupBuckets(input_folder=f"{{work}}/sigs", output_folder=f"{{work}}/buckets", config=cfg)],
            [MinhashDedupCluster(input_folder=f"{{work}}/buckets", output_folder=f"{{work}}/remove_ids", config=cfg)],
            [reader(), MinhashDedupFilter(input_folder=f"{{work}}/remove_ids", exclusion_writer=JsonlWriter(f"{{work}}/removed")),
             JsonlWriter(f"{{work}}/kept")],
        ]
        counts = [tasks, cfg.num_buckets, 1, tasks]
        for step, n in zip(steps, counts):
            LocalPipelineExecutor(pipeline=step, tasks=n, workers=min(n, {os.cpu_count() or 2}),
                                  logging_dir=f"{{work}}/logs/{{len(os.listdir(work)) if os.path.isdir(work) else 0}}",
                                  skip_completed=False).run()
        print(json.dumps({{"done": True}}))
    """), env={"DATATROVE_COLORIZE_LOGS": "0"})


# ---------------------------------------------------------------------------------------------- quality


def quality(rows: int, alpaca: Path | None) -> list[dict]:
    """Recall / precision at 0.8 against brute force, for ours (verified), datasketch, rensa and datatrove."""
    import numpy as np

    from curation.config import config_model
    from curation.minhash import find_near_duplicates
    from curation.minhash.exact import exact_pairs, recall_precision
    from curation.text_keys import text_for

    sets = []
    from benchmarks.corpus import FineTomeLike

    sets.append(("generated", [text_for(r, "conversation") for r in FineTomeLike(rows, mean_chars=MEAN_CHARS).rows(0, rows)]))
    if alpaca is not None and alpaca.exists():
        sets.append(("real (alpaca + planted edits)", planted_real(alpaca)))
    cfg = config_model()().stage("near_dedup")
    out = []
    for name, texts in sets:
        truth, _ = exact_pairs(texts, 0.8, "word", 5)
        found = find_near_duplicates(texts, cfg)
        r, p = recall_precision(found.pairs, truth)
        rr, rp = recall_precision(_rensa_pairs(texts), truth)
        dr, dp = recall_precision(_datatrove_pairs(texts), truth)
        out.append({"set": name, "rows": len(texts), "true_pairs": int(len(truth)),
                    "ours": (r, p), "rensa": (rr, rp), "datatrove": (dr, dp)})
    return out


def planted_real(alpaca: Path, copies: int = 2, seed: int = 0) -> list[str]:
    """The shared real rows, each followed by copies with a few word edits (some above 0.8, some below)."""
    import random

    from curation.text_keys import text_for

    rng = random.Random(seed)
    rows = [json.loads(line) for line in alpaca.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for row in rows:
        text = text_for(row, "conversation")
        out.append(text)
        words = text.split(" ")
        for _ in range(copies if len(words) > 40 else 0):
            w = list(words)
            for _ in range(rng.randint(1, max(1, len(w) // 12))):
                k = rng.randrange(len(w))
                w[k] = rng.choice(["the", "a", "very", w[k] + "s", ""])
            out.append(" ".join(w))
    return out


def _rensa_pairs(texts: list[str]):
    import numpy as np
    from rensa import RMinHash, RMinHashLSH

    from curation.minhash.shingles import token_text

    lsh = RMinHashLSH(threshold=0.8, num_perm=128, num_bands=16)
    sigs = []
    for i, text in enumerate(texts):
        tokens = token_text(text).split(" ")
        m = RMinHash(num_perm=128, seed=42)
        m.update([" ".join(tokens[k:k + 5]) for k in range(max(1, len(tokens) - 4))])
        lsh.insert(i, m)
        sigs.append(m)
    pairs = sorted({(i, j) for i, m in enumerate(sigs) for j in lsh.query(m) if j > i})
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _datatrove_pairs(texts: list[str]):
    """datatrove's duplicate pairs (its .dups files) for ``texts`` read as one file by one task."""
    import struct

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        (src / "rows.jsonl").write_text("".join(json.dumps({"text": t, "id": str(i)}) + "\n" for i, t in enumerate(texts)))
        code = f"""
            from datatrove.executor import LocalPipelineExecutor
            from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupBuckets, MinhashDedupSignature
            from datatrove.pipeline.readers import JsonlReader
            cfg = MinhashConfig(n_grams=5, num_buckets=16, hashes_per_bucket=8)
            LocalPipelineExecutor([JsonlReader({str(src)!r}), MinhashDedupSignature(output_folder={tmp!r} + "/sigs", config=cfg)],
                                  tasks=1, logging_dir={tmp!r} + "/l1").run()
            LocalPipelineExecutor([MinhashDedupBuckets(input_folder={tmp!r} + "/sigs", output_folder={tmp!r} + "/b", config=cfg)],
                                  tasks=16, logging_dir={tmp!r} + "/l2").run()
        """
        subprocess.run(py(DATATROVE_XXHASH_SHIM, code), check=True, capture_output=True, cwd=ROOT, env={**os.environ, "DATATROVE_COLORIZE_LOGS": "0"})
        pairs = set()
        for f in Path(tmp, "b").glob("*.dups"):
            data = f.read_bytes()
            for f1, d1, f2, d2 in struct.iter_unpack("<4I", data):
                if f1 == 0xFFFFFFFF:
                    continue
                a, b = sorted((d1, d2))
                pairs.add((a, b))
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--reference-rows", type=int, default=None, help="rows for the datasketch loop (default: --rows)")
    ap.add_argument("--scale", type=int, default=0, help="also run ours on this many rows (memory must stay flat)")
    ap.add_argument("--ray", type=int, default=0, help="also compare the Ray engine with the local one on this many rows")
    ap.add_argument("--quality", type=int, default=10_000, help="rows of the brute-force quality check (0: skip)")
    ap.add_argument("--skip", default="", help="comma list of: datasketch,rensa,datatrove")
    ap.add_argument("--quick", action="store_true", help="20k rows, no scale or Ray runs")
    ap.add_argument("--json", type=Path, help="write the raw numbers here")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.scale, args.ray, args.quality = 20_000, 0, 0, 2_000
    skip = set(filter(None, args.skip.split(",")))
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "load_before": os.getloadavg()}, "rows": args.rows}
    path = corpus(args.rows)[0]
    results["corpus_mb"] = path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ours(path, tmp / "warm")  # compiled kernels are cached on the first run on a machine
        results["ours"] = ours(path, tmp / "ours")
        if "datasketch" not in skip:
            results["datasketch"] = datasketch_loop(path, args.reference_rows or args.rows)
            results["datasketch_batch"] = datasketch_loop(path, args.reference_rows or args.rows, batch=True)
        if "rensa" not in skip:
            results["rensa"] = rensa_lsh(path)
        if "datatrove" not in skip:
            results["datatrove"] = datatrove_minhash(corpus(args.rows, parts=os.cpu_count() or 2), tmp / "datatrove")
        if args.scale:
            results["scale"] = ours(corpus(args.scale)[0], tmp / "scale", extra=["--set", "report=false"])
            results["scale_base"] = ours(path, tmp / "scale-base", extra=["--set", "report=false"])
            results["scale"]["rows"] = args.scale
        if args.ray:
            big = corpus(args.ray)[0]
            results["ray_local"] = ours(big, tmp / "ray-local", extra=["--set", "report=false"])
            results["ray"] = ours(big, tmp / "ray", engine="ray", extra=["--set", "report=false"])
            results["ray"]["rows"] = args.ray
            # the same on a cluster that is already running (started here, outside the timing)
            cpus = str(os.cpu_count() or 2)
            subprocess.run(["ray", "start", "--head", f"--num-cpus={cpus}", "--include-dashboard=false"],
                           check=True, capture_output=True)
            try:
                results["ray_joined"] = ours(big, tmp / "ray-joined", engine="ray",
                                             extra=["--set", "report=false", "--ray-address", "auto"])
            finally:
                subprocess.run(["ray", "stop"], capture_output=True)
    if args.quality:
        results["quality"] = quality(args.quality, ROOT.parent / "shared" / "data" / "instructions" / "alpaca_en_demo.finetome.jsonl")
    results["machine"]["load_after"] = os.getloadavg()
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


def print_tables(r: dict) -> None:
    rows = r["rows"]
    ds = r.get("datasketch")
    ds_rate = ds["rows"] / ds["seconds"] if ds else None
    print(f"\n### {rows:,} FineTome-shaped rows ({r['corpus_mb']:.0f} MB JSONL), {r['machine']['cpus']} cores, "
          f"load average {r['machine']['load_before'][0]:.1f} before / {r['machine']['load_after'][0]:.1f} after\n")
    print("| method | what it does | wall s | CPU s | peak RSS | rows/s | datasketch loop time / this |")
    print("|---|---|---:|---:|---:|---:|---:|")
    label = {"ours": "**tome curate** (whole command)", "datasketch": "datasketch MinHash + LSH loop",
             "datasketch_batch": "datasketch, update_batch per row",
             "rensa": "rensa 0.5 (Rust)", "datatrove": "datatrove 0.10 MinHash, 4 steps"}
    what = {"ours": "read, validate, normalize, exact + near dedup (verified), filters, split, write, report",
            "datasketch": "signatures (update per shingle) + LSH only",
            "datasketch_batch": "signatures (update_batch) + LSH only", "rensa": "read, shingles, signatures, LSH (unverified)",
            "datatrove": "read, signatures, buckets, clusters, filter, write (unverified)"}
    for key in ("ours", "datasketch", "datasketch_batch", "rensa", "datatrove"):
        m = r.get(key)
        if not m:
            continue
        n = m.get("rows", rows)
        ds_time = ds["seconds"] * rows / ds["rows"] if ds else None
        speed = f"{ds_time / (m['seconds'] * rows / n):.1f}x" if ds_time else "-"
        print(f"| {label[key]} | {what[key]} | {m['seconds']:.1f} | {m['cpu_seconds']:.1f} | "
              f"{m['peak_rss_mb']:,.0f} MB | {n / m['seconds']:,.0f} | {speed} |")
    if ds and ds["rows"] < rows:
        print(f"\ndatasketch ran on {ds['rows']:,} rows; its time is scaled to {rows:,} rows.")
    if "ours" in r:
        print("\nours, seconds per stage (summed over threads): " +
              ", ".join(f"{k} {v:.2f}" for k, v in r["ours"]["stages"].items() if v))
    if "scale" in r:
        a, b = r["scale_base"], r["scale"]
        print(f"\n### Flat memory: ours without the report, {rows:,} vs {b['rows']:,} rows\n")
        print("| rows | wall s | peak RSS | time ratio |")
        print("|---:|---:|---:|---:|")
        print(f"| {rows:,} | {a['seconds']:.1f} | {a['peak_rss_mb']:,.0f} MB | 1.0x |")
        print(f"| {b['rows']:,} | {b['seconds']:.1f} | {b['peak_rss_mb']:,.0f} MB | {b['seconds'] / a['seconds']:.1f}x |")
    if "ray" in r:
        a, b = r["ray_local"], r["ray"]
        print(f"\n### Ray engine on a local {r['machine']['cpus']}-CPU cluster, {b['rows']:,} rows (no report)\n")
        print("| engine | wall s | peak RSS (tree) | vs local |")
        print("|---|---:|---:|---:|")
        print(f"| local | {a['seconds']:.1f} | {a['peak_rss_mb']:,.0f} MB | 1.00x |")
        print(f"| ray, the command starts the cluster | {b['seconds']:.1f} | {b['peak_rss_mb']:,.0f} MB | {b['seconds'] / a['seconds']:.2f}x |")
        if "ray_joined" in r:
            c = r["ray_joined"]
            print(f"| ray, joining a running cluster | {c['seconds']:.1f} | {c['peak_rss_mb']:,.0f} MB (driver) | "
                  f"{c['seconds'] / a['seconds']:.2f}x |")
    for q in r.get("quality", []):
        print(f"\n### Near-dedup quality at Jaccard 0.8 against brute force: {q['set']}, {q['rows']:,} rows, "
              f"{q['true_pairs']:,} true pairs\n")
        print("| method | recall | precision |")
        print("|---|---:|---:|")
        for key, name in (("ours", "ours (verified)"), ("datatrove", "datatrove (unverified)"), ("rensa", "rensa (unverified)")):
            rec, prec = q[key]
            print(f"| {name} | {rec:.3f} | {prec:.3f} |")


if __name__ == "__main__":
    main()
