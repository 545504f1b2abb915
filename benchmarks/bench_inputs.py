"""Reading compressed JSON Lines against the same file uncompressed (target: at least 80% of its speed).

Rows are the generated FineTome-shaped corpus (``benchmarks/corpus.py``; varied text, so the codecs see
realistic redundancy). Each file is read by the reader ``tome curate`` uses (``curation.readers.open_input``:
raw batches with ids and positions; blocks of whole lines parsed side by side on the cores, a compressed file's
decompressed on a read-ahead thread). Reference columns: Arrow's JSON reader alone on the same blocks, one after
another on its own threads (what the reader did before it parsed blocks side by side), and the codec alone (its command-line tool decompressing to nowhere), so a slow row shows whether the
time is the codec's or ours. With ``--curate-rows N``, also the job the reader serves: whole ``tome curate``
processes on the first N rows, plain and in each codec (best and median wall, and the CPU time). xz twice: one
block (``xz -T1``, as Python's ``lzma`` writes it) and several (``xz -T2``, as xz writes a large file
multi-threaded, its default from 5.6), which the reader decodes side by side. The bz2 decoders
alone: ours (parallel) against Python's ``bz2`` module, the reference; the xz decoder beside a thread running
Python: ours (8 MB a call) against 64 kB of the file a call, the reference (what it did before).

    python benchmarks/bench_inputs.py --rows 40000 --repeat 3 --curate-rows 40000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.json as pj  # noqa: E402

from benchmarks.tome_cli import tome_env  # noqa: E402
from curation.sources import classify, iter_line_blocks, open_binary, readahead  # noqa: E402

# xz as it writes a large file multi-threaded (``-T``; the default from xz 5.6): blocks of 12 MB of text at -3,
# which the reader decodes side by side; "xz" is one block (``-T1``, as Python's lzma writes it too)
XZ_BLOCKS = "xz, blocks"
CODECS = [("", None, None), (".gz", "gzip", ["gzip", "-dc"]), (".zst", "zstd", ["zstd", "-dcq"]),
          (".bz2", "bz2", ["bzip2", "-dc"]), (".xz", "xz", ["xz", "-dc"]), (".xz", XZ_BLOCKS, ["xz", "-dc", "-T2"])]


def write_corpus(folder: Path, rows: int) -> Path:
    from benchmarks.corpus import FineTomeLike

    path = folder / "rows.jsonl"
    corpus = FineTomeLike(rows, seed=7)
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, rows, 5000):
            for row in corpus.rows(start, min(rows, start + 5000)):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def compress(src: Path, suffix: str, codec: str) -> Path:
    name = src.name.replace(".jsonl", "-blocks.jsonl") if codec == XZ_BLOCKS else src.name
    dst = src.with_name(name + suffix)
    if dst.exists():
        return dst
    if codec == XZ_BLOCKS:
        with dst.open("wb") as out:  # writes rows-blocks.jsonl.xz
            subprocess.run(["xz", "-c", "-T2", "-3", str(src)], stdout=out, check=True)
    elif codec == "xz":
        subprocess.run(["xz", "-k", "-T1", "-3", str(src)], check=True)  # writes rows.jsonl.xz
    else:
        with pa.output_stream(str(dst), compression=codec) as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 22)
    return dst


def read(path: Path, block_bytes: int) -> tuple[float, int]:
    """The reader `tome curate` uses (raw batches with ids, positions and parsed columns), start to end."""
    from curation.readers import open_input

    start = time.perf_counter()
    rows = sum(batch.num_rows for batch in open_input(str(path)).batches())
    return time.perf_counter() - start, rows


def read_blocks(path: Path, block_bytes: int) -> tuple[float, int]:
    """Just the line blocks parsed by Arrow's JSON reader, one after another on its threads (no ids, no positions)."""
    start = time.perf_counter()
    rows = 0
    with open_binary(classify(path)) as stream:
        for block in readahead(iter_line_blocks(stream, block_bytes)):
            rows += pj.read_json(io.BytesIO(block), read_options=pj.ReadOptions(block_size=len(block) + 1)).num_rows
    return time.perf_counter() - start, rows


def curate(path: Path, out: Path) -> tuple[float, float]:
    """One whole `tome curate` process on ``path`` (every default stage, report off): ``(wall seconds, CPU
    seconds)``, the CPU time the kernel counted for the process (user + system, every thread)."""
    config = out.with_suffix(".yaml")
    config.write_text("report: false\ncheckpoint: false\n")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tomecraft.cli", "curate", "-q", "-i", str(path), "-c", str(config),
                             "-o", str(out)], env=tome_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tome curate failed on {path}")
    return wall, usage.ru_utime + usage.ru_stime


def codec_alone(cmd: list[str] | None, path: Path) -> float | None:
    if cmd is None or shutil.which(cmd[0]) is None:
        return None
    start = time.perf_counter()
    subprocess.run([*cmd, str(path)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def seconds_to_drain(open_stream) -> float:
    """Seconds to read the stream ``open_stream()`` opens to its end, 1 MB a call, into nothing."""
    start, piece = time.perf_counter(), bytearray(1 << 20)
    with open_stream() as stream:
        while stream.readinto(piece):
            pass
    return time.perf_counter() - start


def decode_bz2(path: Path, repeat: int) -> dict:
    """bz2 decoders alone on the same file, read to nowhere in 1 MB pieces (best of ``repeat``): ours (the
    parallel decoder ``open_binary`` gives, :mod:`curation.readers.bzip2`) against Python's ``bz2.open`` (the
    reference, what the reader used before) and the ``bzip2`` tool."""
    import bz2

    ours = min(seconds_to_drain(lambda: open_binary(classify(path))) for _ in range(repeat))
    python = min(seconds_to_drain(lambda: bz2.open(path, "rb")) for _ in range(repeat))
    tool = codec_alone(["bzip2", "-dc"], path)
    print(f"\nbz2 decoders alone on {path.name} (best of {repeat}):\n")
    print("| decoder | s | speed vs Python's bz2 |")
    print("|---|---:|---:|")
    print(f"| ours (indexed_bzip2, parallel) | {ours:.2f} | {python / ours:.2f}x |")
    print(f"| Python's bz2.open (reference) | {python:.2f} | 1.00x |")
    if tool is not None:
        print(f"| bzip2 -dc (one process) | {tool:.2f} | {python / tool:.2f}x |")
    return {"ours_s": round(ours, 3), "python_bz2_s": round(python, 3), "bzip2_tool_s": None if tool is None else round(tool, 3),
            "speedup_vs_python": round(python / ours, 2)}


def decode_xz_blocks(path: Path, repeat: int) -> dict:
    """xz decoders alone on a file of several blocks, read to nowhere in 1 MB pieces (best of ``repeat``): ours (the
    blocks side by side, :mod:`curation.readers.xz_blocks`) against the one-thread reader (the reference, what
    the reader used before) and the ``xz`` tool on two threads."""
    from curation.readers.xz import XzStreams

    ours = min(seconds_to_drain(lambda: open_binary(classify(path))) for _ in range(repeat))
    one = min(seconds_to_drain(lambda: io.BufferedReader(XzStreams(open(path, "rb")), 1 << 20)) for _ in range(repeat))
    tool = codec_alone(["xz", "-dc", "-T2"], path)
    print(f"\nxz decoders alone on {path.name}, a file of several blocks (best of {repeat}):\n")
    print("| decoder | s | speed vs one thread |")
    print("|---|---:|---:|")
    print(f"| ours (blocks side by side) | {ours:.2f} | {one / ours:.2f}x |")
    print(f"| one thread (reference) | {one:.2f} | 1.00x |")
    if tool is not None:
        print(f"| xz -dc -T2 | {tool:.2f} | {one / tool:.2f}x |")
    return {"ours_s": round(ours, 3), "one_thread_s": round(one, 3),
            "xz_tool_T2_s": None if tool is None else round(tool, 3),
            "speedup_vs_one_thread": round(one / ours, 2)}


def decode_xz_beside_python(path: Path, repeat: int) -> dict:
    """The xz decoder on a read-ahead thread beside a thread that runs Python (as in ``tome curate``: the
    stages' Python code): ours (:class:`curation.readers.xz.XzStreams`, 8 MB decoded a call) against the same
    decoder fed 64 kB of the file a call (what it did before; each call gives the GIL back and waits up to 5 ms
    to take it again), and alone. Best of ``repeat``."""
    import threading

    from curation.readers.xz import XzStreams

    def drain(piece: int, chunk: int) -> float:
        start, buffer = time.perf_counter(), bytearray(1 << 20)
        with io.BufferedReader(XzStreams(open(path, "rb"), piece=piece, chunk=chunk), 1 << 20) as stream:
            while stream.readinto(buffer):
                pass
        return time.perf_counter() - start

    def beside_python(piece: int, chunk: int) -> float:
        stop = threading.Event()

        def spin() -> None:
            x = 0
            while not stop.is_set():
                x += 1

        thread = threading.Thread(target=spin)
        thread.start()
        try:
            return drain(piece, chunk)
        finally:
            stop.set()
            thread.join()

    ours, small = (1 << 22, 1 << 23), (1 << 16, 1 << 16)
    runs = {"ours_alone_s": min(drain(*ours) for _ in range(repeat)),
            "ours_beside_python_s": min(beside_python(*ours) for _ in range(repeat)),
            "64kB_beside_python_s": min(beside_python(*small) for _ in range(repeat))}
    print(f"\nxz decoder on {path.name} beside a thread running Python (best of {repeat}):\n")
    print("| decoder | s | speed vs 64 kB calls |")
    print("|---|---:|---:|")
    print(f"| ours, 8 MB a call, beside Python | {runs['ours_beside_python_s']:.2f} | "
          f"{runs['64kB_beside_python_s'] / runs['ours_beside_python_s']:.2f}x |")
    print(f"| 64 kB of the file a call (the reference: before), beside Python | {runs['64kB_beside_python_s']:.2f} | 1.00x |")
    print(f"| ours, alone | {runs['ours_alone_s']:.2f} | - |")
    return {k: round(v, 3) for k, v in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many reads")
    ap.add_argument("--block-mb", type=float, default=4)
    ap.add_argument("--work", type=Path, default=None, help="folder for the files (default: a temporary one)")
    ap.add_argument("--curate-rows", type=int, default=0,
                    help="also time whole `tome curate` runs on the first N rows, plain and in each codec (0: skip)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    folder = args.work or Path(tempfile.mkdtemp(prefix="bench_inputs_"))
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "rows.jsonl"
    if not src.exists():
        write_corpus(folder, args.rows)
    size = src.stat().st_size
    print(f"{args.rows:,} rows, {size / 1e6:.1f} MB uncompressed; load average before: {os.getloadavg()[0]:.2f}")
    results = []
    base = None
    for suffix, codec, cmd in CODECS:
        path = src if codec is None else compress(src, suffix, codec)
        best, rows = min(read(path, int(args.block_mb * (1 << 20))) for _ in range(args.repeat))
        floor, _ = min(read_blocks(path, int(args.block_mb * (1 << 20))) for _ in range(args.repeat))
        alone = codec_alone(cmd, path)
        base = base or (best, floor)
        results.append({"file": path.name, "MB": round(path.stat().st_size / 1e6, 1), "rows": rows, "seconds": round(best, 3),
                        "MB_per_s": round(size / 1e6 / best, 1), "vs_uncompressed": round(base[0] / best, 3),
                        "blocks_seconds": round(floor, 3), "blocks_vs_uncompressed": round(base[1] / floor, 3),
                        "codec_alone_s": None if alone is None else round(alone, 3)})
    print()
    print("| file | size MB | rows | tome's reader s (best) | MB/s of JSON | speed vs uncompressed | "
          "Arrow JSON on blocks s | its speed vs uncompressed | codec alone s (CLI) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        alone = "-" if r["codec_alone_s"] is None else f"{r['codec_alone_s']:.2f}"
        print(f"| {r['file']} | {r['MB']} | {r['rows']:,} | {r['seconds']:.2f} | {r['MB_per_s']} | "
              f"{r['vs_uncompressed']:.0%} | {r['blocks_seconds']:.2f} | {r['blocks_vs_uncompressed']:.0%} | {alone} |")
    decoders = decode_bz2(src.with_name(src.name + ".bz2"), args.repeat)
    xz_decoders = decode_xz_beside_python(src.with_name(src.name + ".xz"), args.repeat)
    xz_blocks = decode_xz_blocks(src.with_name("rows-blocks.jsonl.xz"), args.repeat)
    runs = curate_table(folder, src, args.curate_rows, args.repeat) if args.curate_rows else []
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (2 cores)")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "results": results, "bz2_decoders": decoders, "xz_decoders": xz_decoders,
                                        "xz_blocks_decoders": xz_blocks, "curate": runs,
                                        "load": os.getloadavg()},
                                        indent=2))


def curate_table(folder: Path, src: Path, rows: int, repeat: int) -> list[dict]:
    """The job the reader serves: whole `tome curate` runs on the same rows, plain and compressed."""
    part = folder / f"curate-{rows}" / "rows.jsonl"
    part.parent.mkdir(exist_ok=True)
    if not part.exists():
        with src.open("rb") as inp, part.open("wb") as out:
            for _, line in zip(range(rows), inp):
                out.write(line)
    runs, base, files = [], None, []
    for suffix, codec, _ in CODECS:
        files.append(part if codec is None else compress(part, suffix, codec))
    timed: dict[Path, list[tuple[float, float]]] = {path: [] for path in files}
    for _ in range(repeat):  # round by round, so that a slower spell of the machine falls on every file alike
        for path in files:
            timed[path].append(curate(path, part.parent / "out"))
    for path in files:
        walls = sorted(wall for wall, _ in timed[path])
        best, median = walls[0], walls[(len(walls) - 1) // 2]
        cpu = min(cpu for _, cpu in timed[path])
        base = base or (best, median)
        runs.append({"file": path.name, "MB": round(path.stat().st_size / 1e6, 1), "seconds": round(best, 3),
                     "vs_uncompressed": round(base[0] / best, 3), "median_seconds": round(median, 3),
                     "median_vs_uncompressed": round(base[1] / median, 3), "cpu_seconds": round(cpu, 3),
                     "runs_seconds": [round(w, 3) for w in walls]})
    print(f"\n`tome curate` on {rows:,} of the rows (every default stage, report off; whole process; {repeat} rounds "
          "over the files, the best and the median run; CPU: user + system of all threads, the least):\n")
    print("| file | size MB | tome curate s (best) | speed vs uncompressed | median s | speed vs uncompressed | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['file']} | {r['MB']} | {r['seconds']:.2f} | {r['vs_uncompressed']:.0%} | {r['median_seconds']:.2f} | "
              f"{r['median_vs_uncompressed']:.0%} | {r['cpu_seconds']:.2f} |")
    return runs


if __name__ == "__main__":
    main()
