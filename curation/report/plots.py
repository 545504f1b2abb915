"""The report's charts: matplotlib figures rendered to deterministic, self-contained SVG text.

The same facts give the same SVG bytes: a fixed ``svg.hashsalt``, no date or creator metadata, text kept as
text (``svg.fonttype: none``, so no glyph paths and smaller files), and element ids prefixed per chart so
that several charts can be inlined in one HTML page. Each function returns ``None`` when it has nothing to
draw (e.g. no scores, no clusters), so the report skips that chart instead of drawing an empty one.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Callable

import numpy as np

from curation.report.facts import ReportFacts
from curation.report.markdown_text import one_line

BEFORE = "#9aa5b1"
AFTER = "#1f77b4"
KEPT = "#2a9d8f"
REMOVED = "#e76f51"
QUARANTINED = "#f4a261"
ADDED = "#8ab17d"
STAGE_COLORS = {
    "validate": "#f4a261",
    "exact_dedup": "#e76f51",
    "near_dedup": "#d62828",
    "semantic_dedup": "#9d4edd",
    "filters": "#457b9d",
    "balance": "#e9c46a",
    "augment": "#8ab17d",
    "split": "#6c757d",
    "review": "#264653",
}
RC = {
    "svg.hashsalt": "tomecraft-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.edgecolor": "#555555",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "path.simplify": False,
}


# Text from the data (source names, removal reasons) drawn as it is: matplotlib reads a label holding two ``$`` as
# mathtext, which would set ``$x$`` in italics and stop the report on ``$\foo$`` (an unknown symbol).
LITERAL = {"parse_math": False}
# the largest score magnitude the score chart draws: matplotlib's tick arithmetic overflows near the largest double
SCORE_AXIS_LIMIT = 1e300


def literal_legend(legend) -> None:
    """A legend whose labels (names from the data) are drawn as they are, not as mathtext (see :data:`LITERAL`)."""
    for text in legend.get_texts():
        text.set_parse_math(False)


def stage_color(stage: str | None) -> str:
    return STAGE_COLORS.get(stage or "", "#6c757d")


def _render(draw: Callable, width: float, height: float, key: str) -> str:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC), warnings.catch_warnings():
        # a name in a script DejaVu Sans lacks (CJK, emoji) would warn once per glyph while the layout is measured;
        # the SVG keeps text as text (svg.fonttype none), drawn by the browser's fonts, which have it
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasSVG(fig)
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return _inline(buf.getvalue(), key)


def render(draw: Callable, width: float, height: float, key: str) -> str:
    """A chart drawn by ``draw(figure)`` as inline SVG (the report's style, deterministic bytes)."""
    return _render(draw, width, height, key)


def _inline(svg: str, key: str) -> str:
    """SVG document -> an <svg> element fit for inlining: no prolog, ids unique to this chart.

    The width/height attributes stay (the chart's natural size); the page's CSS shrinks it on narrow screens.
    """
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'id="', f'id="{key}-', svg)
    svg = re.sub(r"url\(#", f"url(#{key}-", svg)
    svg = re.sub(r'xlink:href="#', f'xlink:href="#{key}-', svg)
    svg = svg.replace("<svg ", '<svg class="chart" ', 1)
    return svg.strip() + "\n"


def funnel(f: ReportFacts) -> str:
    """Rows after each enabled step: kept (and added) against what the step removed or quarantined."""
    stages = [s for s in f.stages if s.enabled]
    labels = ["input"] + [s.name for s in stages] + ["splits"]
    n = len(labels)

    def draw(fig):
        ax = fig.add_subplot()
        y = np.arange(n)[::-1]
        total = f.accounting.get("input_rows", stages[0].rows_in if stages else 0)
        ax.barh(y[0], total, color=BEFORE, height=0.62)
        ax.text(total, y[0], f"  {total:,}", va="center", fontsize=8.5)
        for i, s in enumerate(stages, start=1):
            dropped = s.rows_in - s.kept
            ax.barh(y[i], s.kept, color=KEPT, height=0.62)
            right = s.kept
            if s.added:
                ax.barh(y[i], s.added, left=right, color=ADDED, height=0.62)
                right += s.added
            if dropped:
                ax.barh(y[i], dropped, left=right, color=QUARANTINED if s.quarantined else REMOVED, height=0.62)
            note = f"  {s.rows_out:,}"
            if s.added:
                note += f"  (+{s.added:,} added)"
            if dropped:
                note += f"  (−{dropped:,} {'quarantined' if s.quarantined and not s.removed else 'removed'})"
            ax.text(right + dropped, y[i], note, va="center", fontsize=8.5)
        left = 0
        split_colors = {"train": "#1f77b4", "validation": "#6baed6", "test": "#c6dbef"}
        for name, rows in f.splits.items():
            ax.barh(y[-1], rows, left=left, color=split_colors.get(name, AFTER), height=0.62, label=name)
            left += rows
        ax.text(left, y[-1], "  " + " / ".join(f"{k} {v:,}" for k, v in f.splits.items()), va="center", fontsize=8.5)
        ax.set_yticks(y, labels, **LITERAL)
        ax.set_xlabel("rows")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(0, max(total, max((s.rows_in + s.added for s in stages), default=0)) * 1.32 or 1)

    return _render(draw, 8.6, 0.36 * n + 1.0, "funnel")


def removals(f: ReportFacts) -> str | None:
    if not f.removed_by_reason and not f.quarantine_errors:
        return None
    items = [(r, n, f.reason_stage.get(r)) for r, n in f.removed_by_reason.items()]
    quarantined = sum(f.quarantine_errors.values())
    if quarantined:  # one bar: the error kinds are listed in the quarantine section
        items.append(("quarantined (schema errors)", quarantined, "validate"))

    def draw(fig):
        ax = fig.add_subplot()
        y = np.arange(len(items))[::-1]
        counts = [n for _, n, _ in items]
        ax.barh(y, counts, color=[stage_color(s) for _, _, s in items], height=0.62)
        for yi, n in zip(y, counts):
            ax.text(n, yi, f" {n:,}", va="center", fontsize=8.5)
        ax.set_yticks(y, [one_line(r) for r, _, _ in items], **LITERAL)
        ax.set_xlim(0, max(counts) * 1.15)
        ax.set_xlabel("rows")
        ax.grid(axis="y", visible=False)
        seen = []
        for _, _, s in items:
            if s not in seen:
                seen.append(s)
        from matplotlib.patches import Patch

        literal_legend(ax.legend(handles=[Patch(color=stage_color(s), label=s) for s in seen], loc="upper left",
                                 bbox_to_anchor=(1.0, 1.0), fontsize=8, title="stage", title_fontsize=8))

    return _render(draw, 8.6, 0.3 * len(items) + 1.1, "removals")


def _log_bins(*arrays: np.ndarray, n: int = 40) -> np.ndarray:
    values = np.concatenate([a for a in arrays if a.size]) if any(a.size for a in arrays) else np.array([1])
    hi = max(float(values.max()), 2.0)
    return np.unique(np.concatenate([[0.5], np.geomspace(1, hi * 1.05, n)]))


def lengths(f: ReportFacts) -> str:
    """Characters and words per turn, turns per conversation: every input row vs the rows in the splits."""
    b, a = f.before, f.after

    def panel(ax, before, after, bins, title, log):
        ax.hist(before, bins=bins, histtype="stepfilled", color=BEFORE, alpha=0.45, label=f"before ({before.size:,})")
        ax.hist(after, bins=bins, histtype="step", color=AFTER, linewidth=1.4, label=f"after ({after.size:,})")
        if log:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(_compact))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(title)
        ax.set_ylabel("count")
        ax.legend(fontsize=8)

    def draw(fig):
        axes = fig.subplots(1, 3)
        panel(axes[0], b.chars_per_turn, a.chars_per_turn, _log_bins(b.chars_per_turn, a.chars_per_turn),
              "Characters per turn", True)
        panel(axes[1], b.words_per_turn, a.words_per_turn, _log_bins(b.words_per_turn, a.words_per_turn),
              "Words per turn", True)
        hi = int(max(b.turns_per_conversation.max(initial=1), a.turns_per_conversation.max(initial=1)))
        if hi <= 24:  # few distinct counts: side-by-side bars read better than a histogram
            ax = axes[2]
            xs = np.arange(1, hi + 1)
            nb = np.bincount(b.turns_per_conversation, minlength=hi + 1)[1:]
            na = np.bincount(a.turns_per_conversation, minlength=hi + 1)[1:]
            ax.bar(xs - 0.2, nb, width=0.4, color=BEFORE, alpha=0.8, label=f"before ({b.conversations:,})")
            ax.bar(xs + 0.2, na, width=0.4, color=AFTER, label=f"after ({a.conversations:,})")
            ax.set_xticks(xs if hi <= 12 else xs[::2])
            ax.set_title("Turns per conversation")
            ax.set_ylabel("count")
            ax.legend(fontsize=8)
            ax.grid(axis="x", visible=False)
        else:
            bins = np.arange(0.5, hi + 1.5, max(1, (hi + 1) // 40))
            panel(axes[2], b.turns_per_conversation, a.turns_per_conversation, bins, "Turns per conversation", False)
        axes[0].set_xlabel("characters (log)")
        axes[1].set_xlabel("words (log)")
        axes[2].set_xlabel("turns")

    return _render(draw, 10.5, 3.0, "lengths")


def sources(f: ReportFacts) -> str | None:
    if not f.sources:
        return None
    rows = f.sources
    balanced = any(s.before_balance is not None for s in rows)

    def draw(fig):
        ax = fig.add_subplot()
        y = np.arange(len(rows))[::-1].astype(float)
        series = [("input", [s.input for s in rows], BEFORE)]
        if balanced:
            series.append(("before balancing", [s.before_balance or 0 for s in rows], "#e9c46a"))
            series.append(("after balancing", [s.after_balance or 0 for s in rows], KEPT))
        series.append(("in splits", [s.final for s in rows], AFTER))
        h = 0.8 / len(series)
        for k, (label, values, color) in enumerate(series):
            ax.barh(y + 0.4 - h * (k + 0.5), values, height=h, color=color, label=label)
        top = max(max(v) for _, v, _ in series) or 1
        for yi, s in zip(y, rows):
            ax.text(max(s.input, s.final), yi, f"  {s.final:,} / {s.input:,}", va="center", fontsize=8)
        ax.set_yticks(y, [_short(s.source, 34) for s in rows], **LITERAL)
        ax.set_xlim(0, top * 1.25)
        ax.set_xlabel("rows")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)

    return _render(draw, 8.6, max(2.2, (0.22 + 0.12 * (3 if balanced else 1)) * len(rows) + 1.2), "sources")


def clusters(f: ReportFacts) -> str | None:
    stages = {k: v for k, v in f.clusters.items() if v}
    if not stages:
        return None

    def draw(fig):
        axes = fig.subplots(1, len(stages), squeeze=False)[0]
        for ax, (stage, sizes) in zip(axes, stages.items()):
            xs = list(sizes)
            ax.bar([str(x) for x in xs], [sizes[x] for x in xs], color=stage_color(stage), width=0.7)
            for i, x in enumerate(xs):
                ax.text(i, sizes[x], f"{sizes[x]:,}", ha="center", va="bottom", fontsize=8)
            ax.set_xlim(-0.6, max(len(xs), 5) - 0.4)  # a lone bar stays bar-sized
            if max(sizes.values()) / max(1, min(sizes.values())) > 50:
                from matplotlib.ticker import FuncFormatter, NullFormatter

                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(FuncFormatter(_compact))
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("rows in cluster")
            ax.set_ylabel("clusters")
            ax.grid(axis="x", visible=False)
            ax.set_title(f"{stage}: {sum(sizes.values()):,} clusters")

    return _render(draw, min(10.5, 3.6 * len(stages) + 1), 2.8, "clusters")


def scores(f: ReportFacts) -> str | None:
    if f.scores_kept.size == 0 and f.scores_removed.size == 0:
        return None
    both = np.concatenate([f.scores_kept, f.scores_removed])
    lo, hi = float(both.min()), float(both.max())
    with np.errstate(all="ignore"):
        bins = np.linspace(lo, hi if hi > lo else lo + max(1.0, abs(lo) * 1e-6), 31)
        drawable = bool(np.isfinite(bins).all() and (np.diff(bins) > 0).all())
    if not drawable or max(abs(lo), abs(hi)) > SCORE_AXIS_LIMIT:
        # scores near the largest double (a sentinel like 1.8e308, or -1e308 beside 1e308) span no axis matplotlib
        # can tick (its tick arithmetic overflows and the run would end in a traceback): no chart; the section's
        # table still gives how many rows have a score, their mean and median
        return ""

    def draw(fig):
        ax = fig.add_subplot()
        ax.hist(f.scores_kept, bins=bins, color=KEPT, alpha=0.75, label=f"kept ({f.scores_kept.size:,})")
        ax.hist(f.scores_removed, bins=bins, color=REMOVED, alpha=0.75, label=f"removed ({f.scores_removed.size:,})")
        ax.set_xlabel("score")
        ax.set_ylabel("rows")
        ax.legend(fontsize=8)

    return _render(draw, 7.0, 2.8, "scores")


def quality(f: ReportFacts) -> str | None:
    """Review quality ratings (mean per row) of kept vs removed rows."""
    r = f.review
    if r is None or (r.quality_kept.size == 0 and r.quality_removed.size == 0):
        return None
    both = np.concatenate([r.quality_kept, r.quality_removed])
    lo, hi = np.floor(both.min()), np.ceil(both.max())
    bins = np.arange(lo - 0.125, max(hi, lo + 1) + 0.25, 0.25)

    def draw(fig):
        ax = fig.add_subplot()
        ax.hist(r.quality_kept, bins=bins, color=KEPT, alpha=0.8, label=f"kept ({r.quality_kept.size:,})")
        ax.hist(r.quality_removed, bins=bins, color=REMOVED, alpha=0.8, label=f"removed ({r.quality_removed.size:,})")
        ax.set_xlabel("quality (mean rating of the row's annotators)")
        ax.set_ylabel("rows")
        ax.legend(fontsize=8)

    return _render(draw, 6.0, 2.5, "quality")


def _compact(value: float, _pos: int | None = None) -> str:
    """1, 10, 100, 1k, 10k, 1M: short tick labels (plain text is also much faster than mathtext)."""
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= div:
            return f"{value / div:g}{unit}"
    return f"{value:g}"


def _short(text: str, n: int) -> str:
    """``text`` as a label of at most ``n`` characters, on one line (a line break or a control character spelled as
    an escape, :func:`~curation.report.markdown_text.one_line`)."""
    text = one_line(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def all_charts(f: ReportFacts) -> dict[str, str | None]:
    return {
        "funnel": funnel(f),
        "removals": removals(f),
        "lengths": lengths(f),
        "sources": sources(f),
        "clusters": clusters(f),
        "scores": scores(f),
        "quality": quality(f),
    }
