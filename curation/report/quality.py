"""Report sections of the quality stages: language, PII, decontamination, token lengths, judge scores.

Each section is built from the stage's figures in ``manifest.json`` (its stats and config) and, for
decontamination, the hits in ``removed.parquet``, and has a table (HTML and Markdown) and a chart. A stage
that was off has no section.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from curation.report.markdown_text import html_shown, md_code, md_text

QUALITY_STAGES = ("language", "pii", "decontaminate", "token_lengths", "judge")
KEPT, REMOVED, REPORTED = "#2a9d8f", "#e76f51", "#e9c46a"  # the report's kept / removed colours


def _render(draw, width: float, height: float, key: str) -> str:
    from curation.report.plots import render  # plots imports the facts, which import this module

    return render(draw, width, height, key)


def MaxNLocator(**kw):  # noqa: N802 - matplotlib's name; imported only when a chart is drawn
    from matplotlib.ticker import MaxNLocator as locator

    return locator(**kw)


@dataclass
class QualitySection:
    key: str  # html id (prefixed "q-")
    title: str
    note: str
    head: list[str]
    rows: list[list[Any]]
    chart: str | None = None
    numeric: set[int] = field(default_factory=set)


@dataclass
class QualityFacts:
    stats: dict[str, dict[str, Any]]  # stage -> its stats, for the stages that ran
    config: dict[str, dict[str, Any]]  # stage -> its resolved config
    removed: dict[str, int]  # reason -> rows, for the quality stages' reasons
    decontaminated: list[dict[str, Any]]  # removed hits: id + details


def gather_quality(stage_stats: dict[str, dict[str, Any]], enabled: set[str], config: dict[str, Any],
                   removed: pa.Table, removed_by_reason: dict[str, int]) -> QualityFacts:
    stages_cfg = (config or {}).get("stages", {})
    ran = [s for s in QUALITY_STAGES if s in enabled]
    hits: list[dict[str, Any]] = []
    if "decontaminate" in ran and removed.num_rows and "details" in removed.column_names:
        for r in removed.select([c for c in ("id", "reason", "details") if c in removed.column_names]).to_pylist():
            if r.get("reason") == "decontaminated":
                hits.append({"id": r["id"], "split": "train", **json.loads(r.get("details") or "{}")})
    reasons = {k: v for k, v in removed_by_reason.items()
               if k.startswith(("pii:", "filter:language", "filter:too_many", "filter:judge")) or k == "decontaminated"}
    return QualityFacts({s: stage_stats.get(s, {}) for s in ran}, {s: stages_cfg.get(s, {}) for s in ran},
                        reasons, hits)


# -- charts -----------------------------------------------------------------------------------------------

def _bars(key: str, labels: list[str], series: list[tuple[str, list[int], str]], xlabel: str) -> str | None:
    if not labels:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        y = np.arange(len(labels))[::-1]
        left = np.zeros(len(labels))
        for name, values, color in series:
            ax.barh(y, values, left=left, color=color, height=0.62, label=name)
            left += np.asarray(values, dtype=float)
        for yi, total in zip(y, left):
            ax.text(total, yi, f"  {int(total):,}", va="center", fontsize=8.5)
        ax.set_yticks(y, labels, parse_math=False)  # names from the data, never mathtext
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0, max(left.max(), 1) * 1.2)
        ax.grid(axis="y", visible=False)
        if len(series) > 1:
            ax.legend(fontsize=8, loc="lower right")

    return _render(draw, 6.4, 0.32 * len(labels) + 1.0, key)


def _language_chart(stats: dict[str, Any]) -> str | None:
    rows = stats.get("rows_by_language") or {}
    kept = stats.get("kept_by_language") or {}
    top = sorted(rows, key=lambda k: (-rows[k], k))[:12]
    if not top:
        return None
    conf = stats.get("confidence") or {}

    def draw(fig):
        left, right = fig.subplots(1, 2, width_ratios=[1.3, 1])
        y = np.arange(len(top))[::-1]
        k = np.array([kept.get(c, 0) for c in top])
        r = np.array([rows[c] for c in top]) - k
        left.barh(y, k, color=KEPT, height=0.62, label="kept")
        left.barh(y, r, left=k, color=REMOVED, height=0.62, label="removed")
        left.set_xscale("symlog")
        left.set_yticks(y, top, parse_math=False)
        left.set_xlabel("rows (log scale)")
        left.set_title("Row language")
        left.grid(axis="y", visible=False)
        left.legend(fontsize=8, loc="lower right")
        bins = sorted(conf, key=float)
        right.bar([float(b) + 0.05 for b in bins], [conf[b] for b in bins], width=0.09, color="#457b9d")
        right.set_xlim(0, 1)
        right.set_yscale("symlog")
        right.set_xlabel("confidence of the row's language")
        right.set_title("Confidence")

    return _render(draw, 8.6, max(2.6, 0.24 * len(top) + 1.2), "q-language")


def _token_chart(stats: dict[str, Any], limit: int, bins: int) -> str | None:
    hist = stats.get("histogram") or {}
    if not hist:
        return None
    starts = sorted(int(k) for k in hist)
    counts = [hist[str(s)] for s in starts]
    width = 2 * limit / bins

    def draw(fig):
        ax = fig.add_subplot()
        colors = [REMOVED if s >= limit else KEPT for s in starts]
        ax.bar([s + width / 2 for s in starts], counts, width=width * 0.92, color=colors)
        ax.axvline(limit, color="#333333", linestyle="--", linewidth=1)
        ax.text(limit, max(counts) * 0.95, f" max_seq_length {limit}", fontsize=8.5, va="top")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"tokens per row after the chat template (last bar: {2 * limit}+)")
        ax.set_ylabel("rows")

    return _render(draw, 7.2, 2.6, "q-token-lengths")


def _judge_chart(stats: dict[str, Any]) -> str | None:
    scores = stats.get("scores") or {}
    if not scores:
        return None

    def draw(fig):
        ax = fig.add_subplot()
        xs = [1, 2, 3, 4, 5]
        ax.bar(xs, [scores.get(str(x), 0) for x in xs], color=["#e76f51", "#f4a261", "#e9c46a", "#8ab17d", "#2a9d8f"],
               width=0.7)
        ax.set_xticks(xs)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("judge score (rounded)")
        ax.set_ylabel("rows")

    return _render(draw, 5.0, 2.4, "q-judge")


# -- sections ---------------------------------------------------------------------------------------------

# A section's note marks its own code spans with backticks (`und`); a config value set into it (a PII placeholder, an
# eval set's path, a tokenizer's name) is text from the user, whose backticks would pair with those and turn the
# wrong words into code. :func:`_lit` stands each of them in for a character no note holds, which the renderers
# turn back into a literal backtick (inside a code span too, which gets a longer fence).
_TICK = "\ue000"


def _lit(value: Any) -> str:
    """A config value as text of a section's note: its backticks stood in for (a private-use character it held
    is shown as U+FFFD, so that none is read as a backtick)."""
    return str(value).replace(_TICK, "\ufffd").replace("`", _TICK)


def _fmt_pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _language(q: QualityFacts, charts: bool) -> QualitySection:
    st, cfg = q.stats["language"], q.config["language"]
    rows_by = st.get("rows_by_language") or {}
    kept = st.get("kept_by_language") or {}
    total = sum(rows_by.values())
    rows = [[lang, n, kept.get(lang, 0), n - kept.get(lang, 0), _fmt_pct(n, total)]
            for lang, n in sorted(rows_by.items(), key=lambda kv: (-kv[1], kv[0]))]
    allowed = _lit(", ".join(str(a) for a in cfg.get("allowed") or []) or "any")
    note = (f"Allowed: {allowed} (confidence ≥ {_lit(cfg.get('min_confidence'))}); removed "
            f"{st.get('filter:language', 0):,} rows in another language and {st.get('filter:language_mismatch', 0):,} "
            "whose prompt and answer languages differ (translation requests exempt). `und`: nothing long enough to judge.")
    return QualitySection("language", "Language", note, ["language", "rows", "kept", "removed", "share"], rows,
                          _language_chart(st) if charts else None, {1, 2, 3, 4})


def _pii(q: QualityFacts, charts: bool) -> QualitySection:
    st, cfg = q.stats["pii"], q.config["pii"]
    found = st.get("found") or {}
    by_row = st.get("rows_by_type") or {}
    actions = cfg.get("actions") or {}
    types = sorted(set(found) | {t for t, a in actions.items() if a != "keep"})
    rows = [[t, found.get(t, 0), by_row.get(t, 0), actions.get(t, "keep"), q.removed.get(f"pii:{t}", 0)] for t in types]
    note = (f"{st.get('rows_with_pii', 0):,} rows held PII; findings were replaced by typed placeholders "
            f"(`{_lit(cfg.get('placeholder', '<{TYPE}>'))}`) in `conversations` and `original_conversations`.")
    shown = [t for t in types if found.get(t)]
    chart = _bars("q-pii", shown, [("findings", [found[t] for t in shown], "#9d4edd")], "findings") if charts else None
    return QualitySection("pii", "PII", note, ["type", "findings", "rows", "action", "rows dropped"], rows, chart,
                          {1, 2, 4})


def _decontamination(q: QualityFacts, charts: bool) -> QualitySection:
    st, cfg = q.stats["decontaminate"], q.config["decontaminate"]
    reported = [{"id": k, **v} for k, v in sorted((st.get("reported") or {}).items())]
    hits = [dict(h, action="removed") for h in q.decontaminated] + [dict(h, action="reported") for h in reported]
    rows = [[h["id"], h.get("split", ""), f"{h.get('eval_set')}:{h.get('eval_id')}", h.get("ngrams"),
             f"{float(h.get('fraction', 0)):.2f}", h.get("field", ""), h["action"]] for h in hits]
    by_split = st.get("hits_by_split") or {}
    splits = sorted(by_split)
    removed = [len([h for h in q.decontaminated if h.get("split", "train") == s]) for s in splits]
    series = [("removed", removed, REMOVED), ("reported", [by_split[s] - r for s, r in zip(splits, removed)], REPORTED)]
    chart = _bars("q-decontamination", splits, series, "rows sharing an n-gram with an eval item") if charts else None
    sets = ["seed prompts"] if cfg.get("seed_prompts", True) else []
    sets += [str(p) for p in (cfg.get("prompt_sets") or []) + (cfg.get("files") or [])]
    note = (f"Word {_lit(cfg.get('ngram', 13))}-grams shared with {_lit(', '.join(sets) or 'no eval set')}; hits in "
            f"{_lit(', '.join(str(s) for s in cfg.get('clean_splits') or ['train']))} are removed, the others reported. "
            "Every hit is listed.")
    return QualitySection("decontamination", "Decontamination", note,
                          ["row id", "split", "eval item", "n-grams", "share of item", "turns", "action"], rows, chart,
                          {3, 4})


def _token_lengths(q: QualityFacts, charts: bool) -> QualitySection:
    st, cfg = q.stats["token_lengths"], q.config["token_lengths"]
    limit = int(cfg.get("max_seq_length", 512))
    tokens, rows_by, trunc = st.get("tokens") or {}, st.get("rows") or {}, st.get("truncated") or {}
    rows = []
    for s in ("train", "validation", "test"):
        n = rows_by.get(s, 0)
        rows.append([s, n, tokens.get(s, 0), round(tokens.get(s, 0) / n, 1) if n else "–", trunc.get(s, 0)])
    action = "dropped (`filter:too_many_tokens`)" if cfg.get("drop_too_long") else "kept and marked (`exceeds_max_seq_length`)"
    note = (f"Tokenizer {_lit(cfg.get('tokenizer'))} with its chat template, as training tokenizes; rows longer than "
            f"max_seq_length {limit} are {action}. An epoch of train is {tokens.get('train', 0):,} tokens.")
    return QualitySection("token-lengths", "Token lengths", note,
                          ["split", "rows", "tokens", "mean tokens", f"rows over {limit}"], rows,
                          _token_chart(st, limit, int(cfg.get("bins", 40))) if charts else None, {1, 2, 3, 4})


def _judge(q: QualityFacts, charts: bool) -> QualitySection:
    st, cfg = q.stats["judge"], q.config["judge"]
    where = _lit(cfg.get("url") if cfg.get("backend") == "openai" else f"local GGUF {cfg.get('model') or 'SmolLM2-135M (offline)'}")
    rows = [["rows to judge", st.get("rows_judged", 0)], ["from the cache", st.get("cached", 0)],
            ["requests", st.get("requests", 0)], ["unreadable replies", st.get("unreadable", 0)],
            ["failed requests", st.get("failed", 0)], ["scored", st.get("scored", 0)],
            ["dropped (filter:judge_score)", q.removed.get("filter:judge_score", 0)]]
    secs = st.get("request_seconds") or 0
    if st.get("requests") and secs:
        rows.append(["requests per second", round(st["requests"] / secs, 2)])
    note = (f"Judge: {where}; rubric: {_lit(', '.join(str(k) for k in cfg.get('rubric') or {}))}; rows without a score"
            + (f" (a {cfg.get('sample'):g} sample)" if cfg.get("sample", 1) < 1 else "")
            + (f"; rows under {_lit(cfg.get('min_score'))} dropped." if cfg.get("min_score") else "."))
    return QualitySection("judge", "Judge scores", note, ["", "rows"], rows, _judge_chart(st) if charts else None, {1})


BUILDERS = {"language": _language, "pii": _pii, "decontaminate": _decontamination, "token_lengths": _token_lengths,
            "judge": _judge}


def sections(q: QualityFacts | None, charts: bool = True) -> list[QualitySection]:
    """The sections of the quality stages that ran, in pipeline order (``charts=False``: tables only)."""
    if q is None:
        return []
    return [BUILDERS[s](q, charts) for s in QUALITY_STAGES if s in q.stats]


def section_html(sec: QualitySection) -> str:
    e = lambda v: html.escape(html_shown(v), quote=True)  # noqa: E731 - as html_page.e
    head = "".join(f'<th class="num">{e(h)}</th>' if i in sec.numeric else f"<th>{e(h)}</th>"
                   for i, h in enumerate(sec.head))
    body = "".join("<tr>" + "".join(f'<td class="num">{e(f"{c:,}" if isinstance(c, int) else c)}</td>'
                                    if i in sec.numeric else f"<td>{e(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in sec.rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if sec.rows else \
        '<p class="empty">Nothing found.</p>'
    # the notes mark code as Markdown does; a config value's backticks (_lit) are literal, inside code too
    note = re.sub(r"`([^`]+)`", r"<code>\1</code>", e(sec.note)).replace(_TICK, "`")
    return (f'<section id="q-{sec.key}"><h2>{e(sec.title)}</h2><p class="note">{note}</p>'
            f"{sec.chart or ''}{table}</section>\n")


def section_markdown(sec: QualitySection) -> str:
    def cell(c: Any) -> str:
        return md_text(f"{c:,}" if isinstance(c, int) else c)

    # the note's code spans are the section's own; the rest holds config values (eval set paths, languages, a
    # tokenizer's name): literal text
    # (a config value's backticks (_lit) are literal: escaped in text, a longer fence around a code span)
    note = "".join(md_code(part[1:-1].replace(_TICK, "`")) if k % 2 else md_text(part.replace(_TICK, "`"))
                   for k, part in enumerate(re.split(r"(`[^`\n]+`)", sec.note)))
    out = [f"## {sec.title}\n", note + "\n"]
    if sec.rows:
        out.append("| " + " | ".join(sec.head) + " |")
        out.append("|" + "|".join("---:" if i in sec.numeric else "---" for i in range(len(sec.head))) + "|")
        out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in sec.rows]
        out.append("")
    return "\n".join(out)
