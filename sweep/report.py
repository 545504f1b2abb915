"""``results.md`` and the self-contained ``results.html`` (charts inlined as SVG, no scripts, no links).

Names come from the user (the sweep's name, variant names, axis values such as a model name, paths in commands):
in Markdown each goes through :func:`md_text` or :func:`md_code`, in HTML through :func:`html.escape`, so that
``<script>``, ``|``, backticks or ``*`` read as themselves and never as markup or a table column.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Iterable

from curation.report.markdown_text import md_code, md_text
from sweep.plan import format_value


def _n(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}" if abs(x) < 1000 else f"{x:,.0f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _spread(s: dict[str, Any], digits: int = 4) -> str:
    if not s.get("n"):
        return "-"
    sd = f" ± {s['sd']:.{digits}f}" if s.get("sd") is not None else ""
    rng = f" [{s['min']:.{digits}f}, {s['max']:.{digits}f}]" if s["n"] > 1 else ""
    return f"{s['mean']:.{digits}f}{sd}{rng}"


def _skipped(reasons: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "0"


def _html_code(x: Any) -> str:
    return f"<code>{_e(x)}</code>"


def preamble(r: dict[str, Any], text: Callable[[Any], str] = md_text, code: Callable[[Any], str] = md_code) -> list[str]:
    """The lines above the verdicts; ``text`` and ``code`` write what came from the user (Markdown by default)."""
    cfg = r["config"]
    lines = []
    devices = text(", ".join(r["devices"]) or "-")
    seeds = cfg.get("seeds") or []
    lines.append(f"Model {code(r.get('model') or '-')} on {devices}; {r['finished']} of {r['planned']} cells finished "
                 f"({len(seeds)} seed(s): {text(', '.join(map(str, seeds)))}).")
    budget = cfg.get("budget") or {}
    if budget.get("tokens"):
        lines.append(f"Equal budget: {budget['tokens']:,} training tokens per cell ({code('training.max_tokens')}; steps "
                     "from each variant's mean row length), unless an axis is the budget itself.")
    elif budget.get("steps"):
        lines.append(f"Equal budget: {budget['steps']:,} optimizer steps per cell, unless an axis is the budget itself.")
    held = r["heldout"]
    split = f"{held.get('variant')}/{held.get('split')}"
    lines.append(f"Held-out loss on {code(split)}: {_n(held.get('rows'))} rows, {_n(held.get('tokens'))} assistant "
                 "tokens, the same rows for every cell.")
    dec = r.get("decontamination")
    if dec:
        removed = {k: v for k, v in dec["removed"].items() if v}
        left_out = text(", ".join(f"{k} {v:,}" for k, v in removed.items())) if removed else "none found"
        lines.append(f"Decontamination (exact + near dedup of {code('tome curate')}, {dec['checked_rows']:,} distinct "
                     f"training rows against {dec['held_out_rows']:,} held-out rows): training rows left out: {left_out}.")
    return lines


def diverged_line(r: dict[str, Any], code: Callable[[Any], str] = md_code) -> str | None:
    """The cells left out of every mean and verdict because their held-out loss is not a number."""
    cells = [c for c in r["cells"] if c.get("diverged")]
    if not cells:
        return None
    names = ", ".join(f"{code(c['id'])} ({c['diverged']})" for c in cells)
    return (f"{len(cells)} cell(s) diverged (held-out loss not a finite number), left out of the means and the "
            f"verdicts: {names}")


def _axes_cols(r: dict[str, Any]) -> list[str]:
    return [a for a in r["axes"] if a != "data"]


def cell_rows(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    axes = _axes_cols(r)
    head = ["cell", "data", *axes, "seed", "status", "steps", "tokens seen", "held-out loss", "checks", "tokens/s",
            "peak GB", "optimizer s", "cell s", "rows skipped"]
    rows = []
    for c in r["cells"]:
        checks = f"{c['checks_passed']}/{c['checks_total']}" if c.get("checks_total") else "-"
        rows.append([c["id"], c["data"], *[format_value(c["axes"].get(a)) if a in c["axes"] else "-" for a in axes],
                     str(c["seed"]), c["status"], _n(c.get("steps")), _n(c.get("tokens_seen")),
                     f"diverged ({c['diverged']})" if c.get("diverged") else _n(c.get("heldout_loss")),
                     checks, _n(c.get("tokens_per_second"), 0), _n(c.get("peak_memory_gb"), 2),
                     _n(c.get("train_seconds"), 1), _n(c.get("total_seconds"), 0),
                     _skipped(c.get("skipped_by_reason") or {}) if c.get("steps") is not None else "-"])
    return head, rows


def group_rows(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["configuration", "seeds", "held-out loss mean ± sd [range]", "checks passed mean [range]", "tokens/s",
            "tokens seen", "peak GB"]
    rows = []
    for g in r["groups"]:
        rows.append([g["group"], str(len(g["seeds"])), _spread(g["heldout_loss"]), _spread(g["checks_passed"], 2),
                     _n(g["tokens_per_second"].get("mean"), 0), _n(g["tokens_seen"].get("mean"), 0),
                     _n(g["peak_memory_gb"].get("mean"), 2)])
    return head, rows


def variant_rows(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["variant", "kind", "source train rows", "left out (duplicate of a held-out row)", "trained-on rows",
            "augmented rows", "rows with nothing to learn (first seed)"]
    rows = []
    for name, v in r["variants"].items():
        first = next((c for c in r["cells"] if c["data"] == name and c.get("steps") is not None), None)
        rows.append([name, v["kind"], _n(v["source_train_rows"]), _skipped(v.get("decontaminated") or {}),
                     _n(v["train_rows"]), _n(v.get("augmented_rows")),
                     _skipped(first.get("skipped_by_reason") or {}) if first else "-"])
    return head, rows


def export_rows(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["cell", "quantization", "GGUF MiB", "CPU tokens/s", "threads"]
    rows = []
    for c in r["cells"]:
        for q, v in (c.get("export") or {}).items():
            rows.append([c["id"], q, f"{v['bytes'] / 2**20:,.1f}", _n(v.get("cpu_tokens_per_s"), 1), _n(v.get("threads"))])
    return head, rows


def _md_table(head: list[str], rows: Iterable[list[str]]) -> str:
    out = ["| " + " | ".join(md_text(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(md_text(x) for x in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(r: dict[str, Any]) -> str:
    parts = [f"# Sweep: {md_text(r['name'])}", "", *preamble(r), "", "## Verdicts", ""]
    parts += [f"- {md_text(v['line'])}" for v in r["verdicts"]] or ["- (fewer than two finished levels on every axis)"]
    diverged = diverged_line(r)
    if diverged:
        parts += [f"- {diverged}"]
    parts += ["", "## Configurations (seeds together)", "", _md_table(*group_rows(r)),
              "", "## Cells", "", _md_table(*cell_rows(r)),
              "", "## Data variants", "", _md_table(*variant_rows(r))]
    head, rows = export_rows(r)
    if rows:
        parts += ["", "## Export: GGUF size and CPU speed per quantization", "", _md_table(head, rows)]
    parts += ["", "## Reproduce a cell", ""]
    parts += [f"- {md_code(c['id'])}: {md_code(c['command'])}" for c in r["cells"]]
    return "\n".join(parts) + "\n"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:11px;background:#f6f6f6;padding:1px 3px;word-break:break-all}
li.yes{color:#0a6b2d}li.no{color:#8a4b00}svg{max-width:100%;height:auto}
.wrap{overflow-x:auto}tr.cmd td{border-top:none;padding-top:0;color:#444}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _html_table(head: list[str], rows: Iterable[list[str]], code_cols: set[int] = frozenset()) -> str:
    out = ["<div class='wrap'><table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = []
        for i, x in enumerate(row):
            if i in code_cols:
                cells.append(f"<td><code>{_e(x)}</code></td>")
            else:
                numeric = x.replace(",", "").replace(".", "").replace("-", "").replace("/", "").isdigit()
                cells.append(f"<td class='num'>{_e(x)}</td>" if numeric else f"<td>{_e(x)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def render_html(r: dict[str, Any]) -> str:
    from sweep.plots import all_charts

    charts = all_charts(r)
    body = [f"<h1>Sweep: {_e(r['name'])}</h1>"] + [f"<p>{line}</p>" for line in preamble(r, _e, _html_code)]
    body.append("<h2>Verdicts</h2><ul>")
    for v in r["verdicts"]:
        cls = "yes" if v.get("exceeds") else "no"
        body.append(f"<li class='{cls}'>{_e(v['line'])}</li>")
    if not r["verdicts"]:
        body.append("<li>(fewer than two finished levels on every axis)</li>")
    diverged = diverged_line(r, _html_code)
    if diverged:
        body.append(f"<li class='no'>{diverged}</li>")
    body.append("</ul>")
    for key, title in (("curves", "Validation curves"), ("heldout", "Held-out loss"), ("checks", "Checks passed"),
                       ("cost", "Quality against cost")):
        if charts.get(key):
            body.append(f"<h2>{title}</h2>{charts[key]}")
    body += ["<h2>Configurations (seeds together)</h2>", _html_table(*group_rows(r))]
    head, rows = cell_rows(r)
    commands = {c["id"]: c["command"] for c in r["cells"]}
    table = _html_table(head, rows).splitlines()
    out = []
    for line in table:  # under each cell's row, the command that trains it again
        out.append(line)
        if line.startswith("<tr><td>"):
            cell_id = html.unescape(line[len("<tr><td>"):line.index("</td>")])
            out.append(f"<tr class='cmd'><td colspan='{len(head)}'><code>{_e(commands[cell_id])}</code></td></tr>")
    body += ["<h2>Cells, each with the <code>tome train</code> command that reproduces it</h2>", "\n".join(out)]
    body += ["<h2>Data variants</h2>", _html_table(*variant_rows(r))]
    head, rows = export_rows(r)
    if rows:
        body += ["<h2>Export: GGUF size and CPU speed per quantization</h2>", _html_table(head, rows)]
        if charts.get("export"):
            body.append(charts["export"])
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Sweep: " + _e(r["name"]) +
            "</title><style>" + CSS + "</style></head><body>" + "\n".join(body) + "</body></html>\n")
