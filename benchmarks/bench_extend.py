"""Mixing and extension: shares of a three-format mix against their targets, and `--against` a large existing set.

Part 1 (mix): three inputs in three formats (FineTome JSONL, OpenAI messages .jsonl.gz, Alpaca Parquet) mixed
50/30/20 by one `tome curate`; the table shows each input's share of the final mix against its target
(target: within 1 point).

Part 2 (against): an existing curated folder of `--existing` rows and `--new` new rows, of which 20% are exact
copies of existing rows and 10% copies with one word changed. The first `tome curate --against` builds the
existing set's index (one read of it); then, with the index cached, the whole run (every default stage) and the
extension path alone (the run's own dedup stages and filters off) run `--repeat` times each. Reported: wall
time of the whole process (Python start-up and imports included; the median) and new rows/s, the against
stage's own time, peak RSS, the planted copies found.
Rows are ~450 characters (a human turn and an answer of random words from a 5,000-word vocabulary).

    python benchmarks/bench_extend.py --existing 1000000 --new 100000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.tome_cli import measured_run, tome_env  # noqa: E402

TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def vocabulary(n: int = 5000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 10, n)
    return np.array(["".join(rng.choice(letters, k)) for k in lengths])


def texts(rng: np.random.Generator, words: np.ndarray, n: int, mean_words: int) -> list[str]:
    counts = rng.poisson(mean_words, n) + 3
    picks = words[np.minimum(rng.zipf(1.3, counts.sum()) - 1, len(words) - 1)]
    picks = np.where(rng.random(len(picks)) < 0.5, words[rng.integers(0, len(words), len(picks))], picks)
    out, start = [], 0
    for c in counts.tolist():
        out.append(" ".join(picks[start : start + c].tolist()))
        start += c
    return out


def conversations(rng, words, n) -> list[list[dict]]:
    human = texts(rng, words, n, 14)
    gpt = texts(rng, words, n, 52)
    return [[{"from": "human", "value": h + "?"}, {"from": "gpt", "value": g + "."}] for h, g in zip(human, gpt)]


def curate(args: list[str]) -> tuple[float, int, str]:
    """``(wall seconds, peak resident bytes, output)`` of one ``tome curate`` process. The peak is the kernel's
    (``wait4``'s ``ru_maxrss``, taken by :func:`measured_run`'s launcher, so that the rows this script generated
    do not count): every page the process held at its highest, memory-mapped index pages included."""
    with tempfile.TemporaryFile("w+") as log:
        code, seconds, peak, _ = measured_run([sys.executable, "-m", "tomecraft.cli", "curate", "-q", *args], cwd=REPO,
                                              env=tome_env(), stdout=log, stderr=subprocess.STDOUT)
        log.seek(0)
        output = log.read()
    if code != 0:
        raise SystemExit(f"tome curate failed:\n{output[-3000:]}")
    return seconds, peak, output


def stage_stats(out: Path, name: str) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return next(s for s in manifest["stages"] if s["name"] == name)


def part_mix(work: Path, rows: int) -> list[dict]:
    rng = np.random.default_rng(1)
    words = vocabulary()
    third = rows // 3
    a, b, c = (conversations(rng, words, third) for _ in range(3))
    (work / "finetome.jsonl").write_text("".join(json.dumps({"conversations": x, "source": "a"}) + "\n" for x in a))
    role = {"human": "user", "gpt": "assistant"}
    with gzip.open(work / "chat.jsonl.gz", "wt") as fh:
        for x in b:
            fh.write(json.dumps({"messages": [{"role": role[t["from"]], "content": t["value"]} for t in x]}) + "\n")
    pq.write_table(pa.Table.from_pylist([{"instruction": x[0]["value"], "input": "", "output": x[1]["value"]} for x in c]),
                   work / "alpaca.parquet")
    (work / "mix.yaml").write_text(
        "report: false\ninputs:\n"
        f"  - {{path: {work / 'finetome.jsonl'}, weight: 50}}\n"
        f"  - {{path: {work / 'chat.jsonl.gz'}, name: chat, weight: 30}}\n"
        f"  - {{path: {work / 'alpaca.parquet'}, weight: 20}}\n")
    out = work / "mixed"
    seconds, peak, _ = curate(["-c", str(work / "mix.yaml"), "-o", str(out)])
    manifest = json.loads((out / "manifest.json").read_text())
    table = []
    for i in manifest["inputs"]:
        table.append({"input": i["name"], "format": i["format"], "rows_in": i["rows_in"], "kept": i["kept"],
                      "share": i["share"], "target": i["target_share"], "diff_points": round(100 * abs(i["share"] - i["target_share"]), 3)})
    print(f"\nmix of {rows:,} rows in {seconds:.1f} s (peak RSS {peak / 2**20:.0f} MB)\n")
    print("| input | format | rows in | kept | share | target | off by (points) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['input']} | {r['format']} | {r['rows_in']:,} | {r['kept']:,} | {r['share']:.2%} | {r['target']:.0%} | {r['diff_points']:.3f} |")
    return table


def write_existing(folder: Path, rows: list[list[dict]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ids = [hashlib.sha256(json.dumps(r).encode()).hexdigest()[:16] for r in rows]
    n = len(rows)
    cut = int(n * 0.9), int(n * 0.95)
    outputs = {}
    for split, (a, b) in (("train", (0, cut[0])), ("validation", (cut[0], cut[1])), ("test", (cut[1], n))):
        table = pa.table({"id": ids[a:b], "conversations": pa.array(rows[a:b], TURNS), "source": ["old"] * (b - a),
                          "score": pa.nulls(b - a, pa.float64())})
        path = folder / f"{split}.parquet"
        pq.write_table(table, path, row_group_size=65_536)
        outputs[split] = {"path": path.name, "rows": b - a, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps({"outputs": outputs, "accounting": {"in_splits": n}}))


def part_against(work: Path, existing_rows: int, new_rows: int, repeat: int = 5) -> dict:
    n_exact, n_near = int(new_rows * 0.2), int(new_rows * 0.1)
    if (work / "new.jsonl").exists() and (work / "existing" / "manifest.json").exists():
        import shutil

        shutil.rmtree(work / "existing" / ".cache", ignore_errors=True)  # the first run builds the index again
        return _against_runs(work, existing_rows, new_rows, n_exact, n_near, repeat)
    rng = np.random.default_rng(2)
    words = vocabulary()
    t = time.perf_counter()
    old = []
    for start in range(0, existing_rows, 100_000):
        old += conversations(rng, words, min(100_000, existing_rows - start))
    write_existing(work / "existing", old)
    picks = rng.choice(existing_rows, n_exact + n_near, replace=False)
    new = [old[i] for i in picks[:n_exact]]
    for i in picks[n_exact:]:
        turns = json.loads(json.dumps(old[i]))
        answer = turns[1]["value"].split(" ")
        answer[len(answer) // 2] = "changed"
        turns[1]["value"] = " ".join(answer)
        new.append(turns)
    new += conversations(rng, words, new_rows - len(new))
    order = rng.permutation(len(new))
    with (work / "new.jsonl").open("w") as fh:
        for k in order.tolist():
            fh.write(json.dumps({"conversations": new[k], "source": "new"}) + "\n")
    del old
    print(f"\ngenerated {existing_rows:,} existing and {new_rows:,} new rows in {time.perf_counter() - t:.0f} s")
    return _against_runs(work, existing_rows, new_rows, n_exact, n_near, repeat)


def _timed_runs(args: list[str], out: Path, repeat: int) -> dict:
    """``repeat`` runs of one command: the median wall time (the spread beside it) and the median run's stats."""
    runs = []
    for _ in range(repeat):
        seconds, peak, _ = curate(args)
        st = stage_stats(out, "against")
        runs.append({"seconds": seconds, "peak_rss_mb": peak / 2**20, "stage_seconds": st["seconds"],
                     "exact": st["stats"]["exact"], "near": st["stats"]["near"], "index": st["stats"]["index"]})
    runs.sort(key=lambda r: r["seconds"])
    median = dict(runs[(len(runs) - 1) // 2])
    median["runs_seconds"] = [round(r["seconds"], 3) for r in runs]
    return median


def _against_runs(work: Path, existing_rows: int, new_rows: int, n_exact: int, n_near: int, repeat: int = 5) -> dict:
    cfg = work / "against.yaml"
    cfg.write_text("report: false\ncheckpoint: false\n")
    new = ["-i", str(work / "new.jsonl"), "--against", str(work / "existing")]
    results = {"first run (builds the index)": _timed_runs([*new, "-c", str(cfg), "-o", str(work / "run1")], work / "run1", 1)}
    os.sync()  # the index just written (725 MB) would otherwise be flushed to disk during the timed runs
    results["index cached"] = _timed_runs([*new, "-c", str(cfg), "-o", str(work / "run2")], work / "run2", repeat)
    # the extension path alone: only validate, normalize and against
    lean = work / "lean.yaml"
    lean.write_text("report: false\ncheckpoint: false\nstages:\n  exact_dedup: {enabled: false}\n  near_dedup: {enabled: false}\n"
                    "  filters: {enabled: false}\n")
    results["index cached, other dedup and filters off"] = _timed_runs([*new, "-c", str(lean), "-o", str(work / "run3")],
                                                                       work / "run3", repeat)
    index = next(p for p in (work / "existing" / ".cache" / "against").glob("index-*") if p.is_dir())
    index_mb = sum(f.stat().st_size for f in index.iterdir()) / 2**20
    print(f"\n`--against` {existing_rows:,} existing rows, {new_rows:,} new rows ({n_exact:,} exact copies and {n_near:,} "
          f"one-word edits planted); index {index_mb:.0f} MB on disk\n")
    print(f"(wall s: the median of {repeat} runs for the cached index, the fastest and slowest in brackets)\n")
    print("| run | wall s | new rows/s (whole run) | against stage s | new rows/s (stage) | peak RSS MB | exact found | near found |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        spread = f" ({r['runs_seconds'][0]:.2f}-{r['runs_seconds'][-1]:.2f})" if len(r["runs_seconds"]) > 1 else ""
        print(f"| {label} | {r['seconds']:.2f}{spread} | {new_rows / r['seconds']:,.0f} | {r['stage_seconds']:.1f} | "
              f"{new_rows / max(r['stage_seconds'], 1e-9):,.0f} | {r['peak_rss_mb']:.0f} | {r['exact']:,} / {n_exact:,} | {r['near']:,} / {n_near:,} |")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mix-rows", type=int, default=30_000)
    ap.add_argument("--existing", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--skip-mix", action="store_true")
    ap.add_argument("--skip-against", action="store_true")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each command with the index cached (the median is shown)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_extend_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    out = {}
    if not args.skip_mix:
        out["mix"] = part_mix(work, args.mix_rows)
    if not args.skip_against:
        out["against"] = part_against(work, args.existing, args.new, args.repeat)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
