"""Benchmark the voice demo's two stages on this machine's CPU, with the offline defaults.

    python benchmarks/bench_serve.py [--repeats 5] [--threads 1,2] [--max-new-tokens 128]

Measures, for each thread count:
- ASR real-time factor (processing time / audio length) of faster-whisper Whisper tiny.en (int8, greedy, VAD on)
  on espeak-ng recordings: a ~6 s question and the three seed prompts (~10-12 s);
- time to first token (TTFT) of SmolLM2-135M-Instruct Q4_1 (llama.cpp via cyllama) on the transcribed question;
- latency from the end of the 6 s question to the first answer token (transcription + TTFT), the demo's
  "speak, then see the answer start" time;
- decode speed in tokens/s (llama.cpp yields one piece per token).

Prints a Markdown table: measured median (min-max) against the issue's target, and the ratio measured/target.
Wall-clock timings depend on machine load (the script prints the load average before and after), so each
measurement is also given in process CPU time: with 1 thread, a call's CPU time is the wall time it takes on an
otherwise idle core, a load-independent figure (with more threads CPU time adds up over threads: not shown).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving.asr import load_transcriber  # noqa: E402
from serving.generation import available_cpus, load_generator  # noqa: E402
from serving.prompts import SEED_PROMPTS  # noqa: E402
from serving.testing import espeak_wav  # noqa: E402

SIX_SECOND_QUESTION = (
    "If you were designing a new renewable energy system for a small island, "
    "would you recommend wind turbines or solar panels?"
)
TARGET_RTF = 0.15
TARGET_END_TO_FIRST_TOKEN = 2.0


def fmt(values: list[float], digits: int = 2) -> str:
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (median reported)")
    ap.add_argument("--threads", default=None, help="comma-separated CPU thread counts (default: 1 and all CPUs)")
    ap.add_argument("--max-new-tokens", type=int, default=128, help="answer length for the tokens/s measurement")
    args = ap.parse_args()
    cpus = available_cpus()
    threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, cpus})

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    six = espeak_wav(SIX_SECOND_QUESTION, tmp / "question6.wav")
    seeds = [espeak_wav(p, tmp / f"seed{i}.wav") for i, p in enumerate(SEED_PROMPTS)]
    load_before = os.getloadavg()
    print(f"machine: {cpus} CPUs available, load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}")

    print(f"Whisper tiny.en (faster-whisper int8, greedy) + SmolLM2-135M-Instruct Q4_1 (llama.cpp via cyllama); "
          f"median (min-max) of {args.repeats} runs\n")
    print("| measurement | wall clock | CPU time (1 thread: idle-core wall time) | target | wall / target | CPU / target |")
    print("|---|---|---|---|---|---|", flush=True)
    for n in threads:
        rows: list[tuple[str, ...]] = []
        asr = load_transcriber(None, cpu_threads=n)
        gen = load_generator(None, n_threads=n)
        asr.transcribe(six)  # warm-up: first call allocates
        gen.generate([{"role": "user", "content": "Hi"}], 0.0, 4, 0)

        m: dict[str, list[float]] = {k: [] for k in ("six_rtf", "seed_rtf", "ttft", "e2f", "tok_s")}
        c: dict[str, list[float]] = {k: [] for k in m}  # the same, in process CPU time
        audio_seconds = 0.0
        for _ in range(args.repeats):
            for clip in seeds:
                w0, c0 = time.perf_counter(), time.process_time()
                t = asr.transcribe(clip)
                m["seed_rtf"].append((time.perf_counter() - w0) / t.audio_seconds)
                c["seed_rtf"].append((time.process_time() - c0) / t.audio_seconds)
            # The question ends at t0: transcribe it, then stream the answer until its first token.
            w0, c0 = time.perf_counter(), time.process_time()
            transcript = asr.transcribe(six)
            w_asr, c_asr = time.perf_counter(), time.process_time()
            audio_seconds = transcript.audio_seconds
            stream = gen.stream([{"role": "user", "content": transcript.text}], 0.0, args.max_new_tokens, 0)
            next(stream)
            w_first, c_first = time.perf_counter(), time.process_time()
            n_tokens = sum(1 for _ in stream)
            w_end, c_end = time.perf_counter(), time.process_time()
            for d, (a, b, first, end) in ((m, (w0, w_asr, w_first, w_end)), (c, (c0, c_asr, c_first, c_end))):
                d["six_rtf"].append((b - a) / audio_seconds)
                d["ttft"].append(first - b)
                d["e2f"].append(first - a)
                if n_tokens:
                    d["tok_s"].append(n_tokens / (end - first))
        label = f"{n} thread{'s' if n > 1 else ''}"
        cpu = n == 1

        def row(name: str, key: str, digits: int, target: float | None) -> tuple[str, ...]:
            ratio = f"{statistics.median(m[key]) / target:.2f}" if target else "-"
            cpu_ratio = f"{statistics.median(c[key]) / target:.2f}" if (target and cpu) else "-"
            return (f"{name} ({label})", fmt(m[key], digits), fmt(c[key], digits) if cpu else "-",
                    f"<= {target}" if target else "-", ratio, cpu_ratio)

        rows += [
            row(f"ASR real-time factor, {audio_seconds:.1f} s question", "six_rtf", 3, TARGET_RTF),
            row("ASR real-time factor, seed prompts (10-12 s)", "seed_rtf", 3, TARGET_RTF),
            row("time to first token, s", "ttft", 2, None),
            row(f"end of {audio_seconds:.1f} s question -> first answer token, s", "e2f", 2, TARGET_END_TO_FIRST_TOKEN),
            row("decode speed, tokens/s", "tok_s", 1, None),
        ]
        gen.close()
        del asr, gen
        for r in rows:
            print("| " + " | ".join(r) + " |", flush=True)

    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
