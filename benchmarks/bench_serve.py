"""Benchmark the voice demo on this machine's CPU, with the offline defaults: speech in, first word and first
sound out.

    python benchmarks/bench_serve.py [--repeats 3] [--max-new-tokens 128] [--json out.json]

Each question is spoken by espeak-ng: the three seed prompts (10-12 s) and three 5-7 s questions. Each clip
goes through two paths, in the same run:

- **streaming (the demo today)**: the clip is fed to `SpeechStream` at real-time speed, in 100 ms chunks of
  48 kHz 16-bit audio as the page's microphone sends them; phrases are transcribed as they end and the model
  reads the question so far (`Generator.prefill`), as the page does. The clock starts when the last chunk
  has been fed (the end of speech): the last phrase is decoded, the answer streams, and the voice (Piper)
  speaks its first phrase.
- **reference (the demo before streaming)**: after the whole clip, faster-whisper's own `transcribe`
  (30 s window, VAD filter, greedy), then the answer from a model that holds nothing of the question.

Measured: ASR real-time factor (processing time / audio length), word error rate against the prompt text
(jiwer, after lower-casing and dropping punctuation), end of speech -> transcript / first answer token /
first spoken audio, time to first token, decode speed. Defaults as `tome serve` runs them on 2 cores: the model
on one thread, Whisper on all, the voice on one. Prints a Markdown table: median (min-max), reference, ratio
streaming/reference, target. Wall clock depends on load: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving.asr import SAMPLE_RATE, load_audio, load_transcriber  # noqa: E402
from serving.generation import available_cpus, load_generator  # noqa: E402
from serving.prompts import SEED_PROMPTS  # noqa: E402
from serving.testing import espeak_wav  # noqa: E402
from serving.tts import Speaker, load_voice  # noqa: E402

SHORT_QUESTIONS = (  # 5-7 s when spoken by espeak-ng
    "If you were designing a new renewable energy system for a small island, "
    "would you recommend wind turbines or solar panels?",
    "Explain how photosynthesis works to a 10-year-old, then to a college biology student.",
    "Include a budget breakdown and a daily itinerary for a trip to Japan. Assume the budget is $3,000.",
)
MIC_RATE = 48_000
CHUNK_SECONDS = 0.1
TARGETS = {"rtf": 0.15, "first_token": 0.5, "first_audio": 1.0}


def words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def mic_chunks(path: Path) -> list[np.ndarray]:
    """The clip as the page's microphone sends it: 48 kHz int16, 100 ms at a time."""
    import av

    with av.open(str(path)) as container:
        resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=MIC_RATE)
        frames = [f.to_ndarray().reshape(-1) for fr in container.decode(audio=0) for f in resampler.resample(fr)]
    pcm = np.concatenate(frames)
    step = int(CHUNK_SECONDS * MIC_RATE)
    return [pcm[i : i + step] for i in range(0, pcm.size, step)]


def first_answer(gen, speaker_voice, question: str, max_new_tokens: int) -> dict[str, float]:
    """Stream the answer to ``question`` with the voice speaking it: times (from now) of the first token and first
    clip, tokens/s."""
    t0 = time.perf_counter()
    speaker = Speaker(speaker_voice) if speaker_voice is not None else None
    first = first_audio = None
    n = 0
    stream = gen.stream([{"role": "user", "content": question}], 0.0, max_new_tokens, 0)
    try:
        for piece in stream:
            now = time.perf_counter()
            first = first or now
            n += 1
            if speaker is not None:
                speaker.add(piece)
                ready = speaker.ready()
                if ready and first_audio is None:
                    first_audio = ready[0].ready_at
        end = time.perf_counter()
        if speaker is not None and first_audio is None:
            speaker.close()
            clip = next(iter(speaker.rest()), None)
            first_audio = clip.ready_at if clip else None
    finally:
        stream.close()
        if speaker is not None:
            speaker.cancel()
    return {
        "first_token": (first or end) - t0, "first_audio": (first_audio - t0) if first_audio else float("nan"),
        "tok_s": (n - 1) / (end - first) if first and n > 1 and end > first else float("nan"),
    }


def run_streaming(asr, gen, voice, path: Path, max_new_tokens: int) -> dict[str, float | str]:
    """Feed the clip at real-time speed; time everything from the last chunk."""
    chunks = mic_chunks(path)
    stream = asr.stream()
    prefilled = ""
    t_start = time.perf_counter()
    for i, chunk in enumerate(chunks):
        due = t_start + i * CHUNK_SECONDS  # a microphone delivers each chunk when it has been spoken
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        text = stream.feed(chunk, MIC_RATE)
        if text and text != prefilled:
            prefilled = text
            gen.prefill([{"role": "user", "content": text}])
    ended = time.perf_counter()  # the end of speech: the last chunk is in
    transcript = stream.finish()
    transcribed = time.perf_counter() - ended
    answer = first_answer(gen, voice, transcript.text, max_new_tokens)
    return {
        "text": transcript.text, "audio_s": transcript.audio_seconds, "rtf": stream.busy_seconds / transcript.audio_seconds,
        "transcribed": transcribed, "ttft": answer["first_token"], "first_token": transcribed + answer["first_token"],
        "first_audio": transcribed + answer["first_audio"], "tok_s": answer["tok_s"], "phrases": transcript.phrases,
    }


def run_reference(asr, gen, voice, path: Path, max_new_tokens: int) -> dict[str, float | str]:
    """Today's path before streaming: the whole clip after the fact, faster-whisper's transcribe, a cold prompt."""
    samples = load_audio(path)
    ended = time.perf_counter()
    segments, _ = asr._model.transcribe(
        samples, beam_size=1, vad_filter=True, condition_on_previous_text=False, language="en",
    )
    text = " ".join(s.text.strip() for s in segments)
    transcribed = time.perf_counter() - ended
    gen.forget()  # a model that holds nothing of earlier questions
    answer = first_answer(gen, voice, text, max_new_tokens)
    return {
        "text": text, "audio_s": samples.size / SAMPLE_RATE, "rtf": transcribed / (samples.size / SAMPLE_RATE),
        "transcribed": transcribed, "ttft": answer["first_token"], "first_token": transcribed + answer["first_token"],
        "first_audio": transcribed + answer["first_audio"], "tok_s": answer["tok_s"], "phrases": 0,
    }


def fmt(values: list[float], digits: int = 2) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "-"
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each clip (medians over clips x runs)")
    ap.add_argument("--max-new-tokens", type=int, default=96, help="answer length (decode speed is measured over it)")
    ap.add_argument("--voice", default="auto", help="voice for the first spoken audio (auto, piper, espeak)")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's numbers here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    clips = {f"seed{i}": (p, espeak_wav(p, tmp / f"seed{i}.wav")) for i, p in enumerate(SEED_PROMPTS)}
    clips |= {f"short{i}": (q, espeak_wav(q, tmp / f"short{i}.wav")) for i, q in enumerate(SHORT_QUESTIONS)}
    asr = load_transcriber(None)
    gen = load_generator(None)
    voice = load_voice(args.voice)
    load_before = os.getloadavg()
    print(f"machine: {available_cpus()} CPUs, load average {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}")
    print(f"{asr.description}; {gen.description}; voice {voice.description if voice else 'none'}\n")
    asr.transcribe(clips["short0"][1])  # warm-up: first calls allocate
    gen.generate([{"role": "user", "content": "Hi"}], 0.0, 4, 0)

    runs: list[dict] = []
    for r in range(args.repeats):
        for name, (prompt, path) in clips.items():
            for path_name, fn in (("streaming", run_streaming), ("reference", run_reference)):
                out = fn(asr, gen, voice, path, args.max_new_tokens)
                out |= {"clip": name, "path": path_name, "repeat": r, "prompt": prompt}
                runs.append(out)
                print(f"  {path_name:9s} {name}: {out['audio_s']:.1f} s, first token +{out['first_token']:.2f} s, "
                      f"first audio +{out['first_audio']:.2f} s: {out['text'][:70]}", flush=True)
    load_after = os.getloadavg()

    def pick(path: str, group: str, key: str) -> list[float]:
        return [float(x[key]) for x in runs if x["path"] == path and x["clip"].startswith(group)]

    def wer(path: str, group: str) -> float:
        import jiwer

        chosen = [x for x in runs if x["path"] == path and x["clip"].startswith(group) and x["repeat"] == 0]
        return jiwer.wer([words(x["prompt"]) for x in chosen], [words(str(x["text"])) for x in chosen])

    groups = (("seed", "seed prompts (10-12 s)"), ("short", "5-7 s questions"))
    rows = []
    for key, label, digits, target in (
        ("rtf", "ASR real-time factor", 3, TARGETS["rtf"]),
        ("transcribed", "end of speech -> transcript, s", 2, None),
        ("first_token", "end of speech -> first answer token, s", 2, TARGETS["first_token"]),
        ("first_audio", "end of speech -> first spoken audio, s", 2, TARGETS["first_audio"]),
        ("ttft", "time to first token after the transcript, s", 2, None),
        ("tok_s", "decode speed (voice speaking meanwhile), tokens/s", 1, None),
    ):
        for g, gname in groups:
            ours, ref = pick("streaming", g, key), pick("reference", g, key)
            m_ours, m_ref = statistics.median(ours), statistics.median(ref)
            rows.append((f"{label}, {gname}", fmt(ours, digits), fmt(ref, digits),
                         f"{m_ours / m_ref:.2f}" if m_ref else "-", f"<= {target}" if target else "-"))
    for g, gname in groups:
        rows.append((f"word error rate, {gname}", f"{wer('streaming', g):.3f}", f"{wer('reference', g):.3f}",
                     f"{wer('streaming', g) / wer('reference', g):.2f}" if wer("reference", g) else "-",
                     "<= reference"))
    print(f"\nmedian (min-max) over {args.repeats} runs of each clip; streaming = the demo, reference = "
          "faster-whisper transcribe after the clip + a cold prompt\n")
    print("| measurement | streaming | reference | streaming / reference | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average before: {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"load_before": load_before, "load_after": load_after, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
