"""rows/s of `tome curate --engine ray` on a local Ray cluster against the single-machine engine, same input.

    python benchmarks/bench_ray.py                      # 100k generated rows, 2 CPUs (a quick look)
    python benchmarks/bench_ray.py --full               # 1M generated rows (the figure for the README)
    python benchmarks/bench_ray.py --rows 300000 --num-cpus 8 --engines ray

The input is generated (seeded, so every run reads the same bytes): FineTome-shaped rows from six sources
with 2% exact duplicate lines, 5% near duplicates (one word dropped from the answer), 0.1% malformed lines.
Both engines run the default config (report off) on the same JSONL file; the Ray engine also reports what
the sizing note (docs/ray-sizing.md) is worked out from: text and row bytes, the band records' Arrow bytes
(what the LSH shuffle moves), and the peak RSS of the Ray workers. Timings include Ray's start-up (its own
line) and depend on the machine's load: run it on an otherwise idle machine for numbers to publish.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SOURCES = ["infini-instruct-top-500k", "WebInstructSub_axolotl", "The-Tome", "evol-instruct", "airoboros",
           "financial-instructions-cleaned-2"]
WORDS = ("the of and to in is that for it as with was on be by this are or from at which an not have has but "
         "their can more one all were also other its they been into such these than system data time first two "
         "process energy value number function model water light example result method field point line cell "
         "theory change order form power rate level group area force case mass heat code table state").split()


def generate(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    made = []

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            r = rng.random()
            if made and r < 0.02:
                line = rng.choice(made)  # exact duplicate line
            elif made and r < 0.07:
                row = json.loads(rng.choice(made))
                words = row["conversations"][1]["value"].split(" ")
                del words[rng.randrange(len(words))]
                row["conversations"][1]["value"] = " ".join(words)
                line = json.dumps(row)
            elif r < 0.071:
                line = '{"conversations": [{"from": "human"'
            else:
                question = " ".join(sentence(rng.randint(6, 14)) for _ in range(rng.randint(1, 2)))
                answer = " ".join(sentence(rng.randint(8, 20)) for _ in range(rng.randint(3, 8)))
                line = json.dumps({"conversations": [{"from": "human", "value": question},
                                                     {"from": "gpt", "value": answer}],
                                   "source": rng.choice(SOURCES), "score": round(rng.uniform(3, 5.2), 3)})
                if len(made) < 50_000:
                    made.append(line)
                elif rng.random() < 0.05:
                    made[rng.randrange(len(made))] = line
            fh.write(line + "\n")
    return path


class PeakRSS:
    """Peak memory of this process's Ray worker processes, sampled every 0.5 s: unique set size (USS: the
    worker's own pages; RSS would also count the shared object-store pages a worker maps)."""

    def __init__(self) -> None:
        self.peak_worker = 0
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in me.children(recursive=True):
                try:
                    if not p.cmdline() or not p.cmdline()[0].startswith("ray::"):
                        continue
                    rss = p.memory_full_info().uss
                except psutil.Error:
                    continue
                total += rss
                self.peak_worker = max(self.peak_worker, rss)
            self.peak_total = max(self.peak_total, total)
            time.sleep(0.5)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _same_splits(local: Path, sharded: Path) -> None:
    import pyarrow.parquet as pq

    from curation.contract import SPLITS, output_paths

    for split in SPLITS:
        a = pq.read_table(output_paths(local).split(split), columns=["id"]).column("id").to_pylist()
        b = pq.read_table(output_paths(sharded).split(split), columns=["id"]).column("id").to_pylist()
        assert a == b, f"{split}: the engines kept different rows"
    a = pq.read_table(output_paths(local).removed, columns=["id", "duplicate_of"]).to_pylist()
    b = pq.read_table(output_paths(sharded).removed, columns=["id", "duplicate_of"]).to_pylist()
    assert a == b, "removed rows differ"
    print("  same ids in every split and the same removals (with duplicate_of) from both engines", flush=True)


def measure_records(path: Path, cfg, sample: int = 20_000) -> dict[str, float]:
    """Per-row sizes the sizing note scales up: text, pickled row, one band record, band keys."""
    import numpy as np

    from curation.engines import ray_dedup
    from curation.engines import ray_records as rec
    from curation.engines.ray_records import Kind
    from curation.text_keys import text_for
    from curation.validate import validate_record

    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(validate_record(json.loads(line), cfg.stages.validate_))
            except Exception:  # noqa: BLE001 - malformed lines are part of the input
                continue
            if len(rows) >= sample:
                break
    for i, row in enumerate(rows):
        row["id"] = f"{i:016x}"
    params = ray_dedup.NearParams.from_config(cfg.stages.near_dedup)
    t = rec.table(Kind.ROW, np.zeros(len(rows), np.int64), np.arange(len(rows)), data=[rec.dumps(r) for r in rows])
    bands = rec.of_kind(ray_dedup.band_records(t, params, parts=64), Kind.BAND)
    texts = [text_for(r, params.text_key).encode("utf-8") for r in rows]
    return {
        "text_bytes": sum(map(len, texts)) / len(rows),
        "row_bytes": sum(len(d) for d in rec.payloads(t)) / len(rows),
        "band_record_bytes": bands.nbytes / max(1, bands.num_rows),
        "bands": params.bands,
        "band_key_bytes": 8 * params.bands,
        "signature_bytes": 4 * params.num_perm,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--full", action="store_true", help="1,000,000 rows")
    ap.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    ap.add_argument("--object-store-gb", type=float, default=4.0)
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--work", type=Path, default=Path("/tmp/tomecraft-bench-ray"))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    rows = 1_000_000 if args.full else args.rows
    engines = args.engines.split(",")

    from curation.config import load_config

    cfg = load_config(None, {"report": False})
    args.work.mkdir(parents=True, exist_ok=True)
    src = args.work / f"generated-{rows}.jsonl"
    if not src.exists():
        t = time.perf_counter()
        generate(src, rows)
        print(f"generated {rows:,} rows ({src.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f}s", flush=True)
    results: dict[str, dict] = {}

    if "local" in engines:
        from curation.pipeline import run_curation

        t = time.perf_counter()
        res = run_curation(str(src), args.work / "out-local", cfg)
        seconds = time.perf_counter() - t
        results["local"] = {"seconds": seconds, "kept": res.manifest["accounting"]["in_splits"],
                            "stages": {s.name: round(s.seconds, 1) for s in res.stages if s.enabled}}
        print(f"local: {seconds:.1f}s", flush=True)

    if "ray" in engines:
        import ray

        from curation.engines.ray_engine import RayEngineOptions, run_curation_ray

        t = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, object_store_memory=int(args.object_store_gb * 2**30),
                 include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        start = time.perf_counter() - t
        with PeakRSS() as rss:
            t = time.perf_counter()
            res = run_curation_ray(str(src), args.work / "out-ray", cfg, RayEngineOptions())
            seconds = time.perf_counter() - t
        ray.shutdown()
        if "local" in results:  # the same rows in the same places
            _same_splits(args.work / "out-local", args.work / "out-ray")
        options = RayEngineOptions()
        results["ray"] = {"seconds": seconds, "startup": start, "kept": res.manifest["accounting"]["in_splits"],
                          "stages": {s.name: round(s.seconds, 1) for s in res.stages if s.enabled},
                          "peak_worker_uss_mb": rss.peak_worker / 2**20, "peak_workers_uss_mb": rss.peak_total / 2**20,
                          "partition_rows": options.partition_rows, "shard_rows": options.shard_rows,
                          "unit_mb": options.unit_bytes / 2**20}
        print(f"ray: {seconds:.1f}s (+{start:.1f}s cluster start)", flush=True)

    if "local" in results and "ray" in results:
        assert results["local"]["kept"] == results["ray"]["kept"], "engines disagree"
    base = results.get("local", {}).get("seconds")
    print(f"\n{rows:,} generated rows, default config, local Ray cluster of {args.num_cpus} CPUs")
    print(f"{'engine':<8} {'seconds':>9} {'rows/s':>9} {'vs local':>9}")
    for name, r in results.items():
        ratio = f"{base / r['seconds']:.2f}x" if base else "-"
        print(f"{name:<8} {r['seconds']:>9.1f} {rows / r['seconds']:>9,.0f} {ratio:>9}")
    for name, r in results.items():
        print(f"  {name} stage seconds: {r['stages']}")
    if "ray" in results:
        sizes = measure_records(src, cfg)
        r = results["ray"]
        print(f"  ray cluster start {r['startup']:.1f}s; peak USS one worker {r['peak_worker_uss_mb']:.0f} MB, "
              f"all workers {r['peak_workers_uss_mb']:.0f} MB (partitions of {r['partition_rows']:,} rows, "
              f"shards of {r['shard_rows']:,}, read units of {r['unit_mb']:.0f} MB)")
        print("  per row: " + ", ".join(f"{k} {v:,.0f}" for k, v in sizes.items()))
        results["sizes"] = sizes
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "num_cpus": args.num_cpus, **results}, indent=2))


if __name__ == "__main__":
    main()
