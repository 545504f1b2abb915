"""Judge: does the scoring loop keep an endpoint busy? Requests/s of ours vs the endpoint's own rate.

    python benchmarks/bench_judge.py [--delay 0.05] [--slots 16] [--rows 1600]

The endpoint is the loopback stub (curation/judge/stub.py) in its own process: every request sleeps
``--delay`` seconds and at most ``--slots`` run at once, so its rate is ``slots / delay`` requests/s. Its own
rate is measured by the simplest client that can reach it: ``slots`` threads, each sending requests back to
back over one kept-alive connection (http.client). Ours: the judge stage's scoring loop (prompt building,
the shared request pool of ``concurrency = slots``, retries, reply parsing, the SQLite cache) on ``--rows``
real chat rows. Target: ours within 10% of the endpoint's own rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.quality_common import REPO, Timer, chat_rows, md_table, write_results  # noqa: E402
from curation.judge.config import JudgeConfig  # noqa: E402
from curation.judge.scoring import Scorer  # noqa: E402


def plain_client(url: str, threads: int, total: int) -> float:
    """Requests/s of ``threads`` threads sending ``total`` minimal requests back to back."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    body = json.dumps({"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    left = [total]
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port))
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return total / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--rows", type=int, default=1600)
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "curation.judge.stub", "--delay", str(args.delay), "--slots",
                               str(args.slots), "--seconds", "900"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        plain_client(url, args.slots, args.slots * 2)  # warm up
        own = plain_client(url, args.slots, args.rows)
        rows = (chat_rows() * (-(-args.rows // 999)))[: args.rows]
        with tempfile.TemporaryDirectory() as tmp:
            cfg = JudgeConfig(enabled=True, backend="openai", url=url, concurrency=args.slots,
                              cache=str(Path(tmp) / "scores.sqlite"))
            scorer = Scorer(cfg)
            scorer.score(["warm"], rows[:1])
            ids = [f"r{i}" for i in range(len(rows))]
            with Timer() as t:
                found, stats = scorer.score(ids, rows)
            ours = stats["requests"] / t.wall
            with Timer() as t_cached:
                _, cached = scorer.score(ids, rows)
    finally:
        server.terminate()
        server.wait()
    ideal = args.slots / args.delay
    table = [["endpoint, nominal (slots / delay)", "-", ideal, "-"],
             ["endpoint's own rate (plain http.client, one thread per slot)", args.rows, own, f"{own / own:.2f}"],
             ["ours: the judge stage's scoring loop", stats["requests"], ours, f"{ours / own:.2f}"],
             ["ours, re-run (every score from the cache)", cached["cached"], len(ids) / t_cached.wall, "-"]]
    body = md_table(["client", "requests", "requests/s", "vs endpoint's own"], table)
    body += (f"\nStub: {args.delay * 1000:.0f} ms per request, {args.slots} at once, in its own process on 127.0.0.1. "
             f"Ours scored {len(found):,} rows ({stats['unreadable']} unreadable replies, {stats['failed']} failed "
             f"requests) with concurrency {args.slots}. Target: ours >= 0.90 of the endpoint's own rate.\n")
    write_results("judge", "Judge scoring loop vs the endpoint's own rate",
                  [("Requests per second", body)],
                  {"delay_s": args.delay, "slots": args.slots, "nominal": ideal, "endpoint_rate": own,
                   "ours_rate": ours, "ratio": ours / own, "cached_rows_per_s": len(ids) / t_cached.wall})


if __name__ == "__main__":
    main()
