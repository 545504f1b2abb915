"""The sweep's charts: matplotlib figures rendered as self-contained SVG text (inlined in ``results.html``).

Validation curves overlaid (against training tokens, so runs of different batch sizes line up), held-out loss and
checks passed per configuration with every seed shown and the spread drawn, quality against cost, and GGUF size
against CPU decode speed when cells were exported. Each function returns None when it has nothing to draw.
"""

from __future__ import annotations

import io
import re
from typing import Any, Callable

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
RC = {
    "svg.hashsalt": "tomecraft-sweep",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "axes.axisbelow": True,
    "legend.frameon": False,
}


def _render(draw: Callable, width: float, height: float, key: str) -> str:
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasSVG(fig)
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'id="', f'id="{key}-', svg)
    return re.sub(r'(url\(#|xlink:href="#|href="#)', lambda m: m.group(1) + f"{key}-", svg)


def group_colors(results: dict[str, Any]) -> dict[str, str]:
    return {g["group"]: PALETTE[i % len(PALETTE)] for i, g in enumerate(results["groups"])}


def _done(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in results["cells"] if c.get("heldout_loss") is not None]


def curves(results: dict[str, Any]) -> str | None:
    cells = [c for c in results["cells"] if c.get("eval_losses") and c.get("tokens_per_step")]
    if not cells:
        return None
    colors = group_colors(results)

    def draw(fig):  # noqa: ANN001
        ax = fig.subplots()
        seen = set()
        for c in cells:
            xs = [step * c["tokens_per_step"] / 1000 for step, _ in c["eval_losses"]]
            ys = [loss for _, loss in c["eval_losses"]]
            label = c["group"] if c["group"] not in seen else None
            seen.add(c["group"])
            ax.plot(xs, ys, color=colors[c["group"]], linewidth=1.2, alpha=0.8, marker=".", markersize=3, label=label)
        ax.set_xlabel("training tokens (thousands)")
        ax.set_ylabel("validation loss")
        ax.set_title("Validation loss during training (every seed)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    return _render(draw, 10.0, 4.2, "curves")


def _per_group(results: dict[str, Any], measure: str, title: str, xlabel: str, key: str) -> str | None:
    groups = [g for g in results["groups"] if g[measure].get("n")]
    if not groups:
        return None
    colors = group_colors(results)
    cells = _done(results)

    def draw(fig):  # noqa: ANN001
        ax = fig.subplots()
        for y, g in enumerate(groups):
            s = g[measure]
            ax.hlines(y, s["min"], s["max"], color=colors[g["group"]], linewidth=2, alpha=0.5)
            values = [c[measure] for c in cells if c["group"] == g["group"] and c.get(measure) is not None]
            ax.scatter(values, [y] * len(values), color=colors[g["group"]], s=14, alpha=0.7, zorder=3)
            ax.scatter([s["mean"]], [y], color=colors[g["group"]], marker="D", s=36, edgecolor="black", zorder=4)
        ax.set_yticks(range(len(groups)), [g["group"] for g in groups], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title)

    return _render(draw, 10.0, 0.9 + 0.32 * len(groups), key)


def heldout(results: dict[str, Any]) -> str | None:
    return _per_group(results, "heldout_loss", "Held-out loss per configuration (dots: seeds, diamond: mean)",
                      f"held-out loss on {results['heldout']['variant']}/{results['heldout']['split']} (lower is better)",
                      "heldout")


def checks(results: dict[str, Any]) -> str | None:
    return _per_group(results, "checks_passed", "Automatic checks passed per configuration",
                      "checks passed on the prompt set (higher is better)", "checks")


def quality_vs_cost(results: dict[str, Any]) -> str | None:
    cells = [c for c in _done(results) if c.get("train_seconds")]
    if not cells:
        return None
    colors = group_colors(results)

    def draw(fig):  # noqa: ANN001
        ax = fig.subplots()
        seen = set()
        for c in cells:
            label = c["group"] if c["group"] not in seen else None
            seen.add(c["group"])
            ax.scatter(c["train_seconds"], c["heldout_loss"], color=colors[c["group"]], s=24, alpha=0.8, label=label)
        ax.set_xlabel("seconds of optimizer steps")
        ax.set_ylabel("held-out loss")
        ax.set_title("Quality against cost (each cell)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    return _render(draw, 10.0, 4.0, "cost")


def export_sizes(results: dict[str, Any]) -> str | None:
    points = [(c["group"], q, v) for c in results["cells"] for q, v in (c.get("export") or {}).items()
              if v.get("cpu_tokens_per_s")]
    if not points:
        return None

    def draw(fig):  # noqa: ANN001
        ax = fig.subplots()
        quants = sorted({q for _, q, _ in points})
        for i, quant in enumerate(quants):
            xs = [v["bytes"] / 2**20 for _, q, v in points if q == quant]
            ys = [v["cpu_tokens_per_s"] for _, q, v in points if q == quant]
            ax.scatter(xs, ys, color=PALETTE[i % len(PALETTE)], s=30, label=quant)
        ax.set_xlabel("GGUF size (MiB)")
        ax.set_ylabel("CPU decode tokens/s")
        ax.set_title("Export: size against CPU speed per quantization")
        ax.legend(fontsize=7)

    return _render(draw, 6.0, 3.5, "export")


def all_charts(results: dict[str, Any]) -> dict[str, str | None]:
    return {"curves": curves(results), "heldout": heldout(results), "checks": checks(results),
            "cost": quality_vs_cost(results), "export": export_sizes(results)}
