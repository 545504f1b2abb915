"""The curation report as one self-contained HTML page: inline CSS, inline SVG charts, no scripts, no links out.

It opens anywhere offline. Nothing in it depends on the clock or the machine, so the same facts give the
same bytes.
"""

from __future__ import annotations

import html
import json
from typing import Any, Iterable

from curation.mix_report import target_text
from curation.report.facts import Example, ExampleRow, ReportFacts, against_stage, against_summary, mix_notes
from curation.report.facts import error_kinds, score_figures
from curation.report.markdown_text import html_shown, one_line
from curation.report.plots import stage_color
from curation.report.quality import section_html
from curation.report.quality import sections as quality_sections
from curation.report.word_diff import plain, side_by_side

CSS = """
:root { --ink:#1d2433; --muted:#5b6577; --line:#e3e7ee; --bg:#f6f8fb; --card:#fff; --kept:#2a9d8f; --removed:#e76f51;
        --accent:#1f77b4; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.5 "DejaVu Sans", system-ui, -apple-system,
       "Segoe UI", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 28px 60px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header .sub { color: var(--muted); font-size: 13px; }
header code, td code { background:#eef1f6; padding:1px 5px; border-radius:4px; font-size:12px; }
nav { margin: 14px 0 6px; display:flex; flex-wrap:wrap; gap:6px; }
nav a { color: var(--accent); text-decoration:none; font-size:12.5px; padding:3px 9px; border:1px solid var(--line);
        border-radius: 999px; background:#fff; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap:12px; margin:18px 0 8px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.card .n { font-size:24px; font-weight:700; white-space:nowrap; }
.card .n.small { font-size:18px; line-height:36px; }
.card .l { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.kept .n { color: var(--kept); } .card.removed .n { color: var(--removed); } .card.quar .n { color:#d08a2e; }
.card.ok { border-color:#b8e0d2; } .card.bad { border-color:#f3b7a6; }
section { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:18px 22px; margin:18px 0; }
section h2 { font-size:18px; margin:0 0 4px; }
section p.note { color:var(--muted); margin:2px 0 12px; font-size:13px; }
svg.chart { max-width:100%; height:auto; display:block; margin: 6px auto 10px; }
.grid2 { display:grid; grid-template-columns: 1fr 1fr; gap:18px; align-items:start; }
table { border-collapse: collapse; width:100%; font-size:13px; margin: 6px 0; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { white-space:nowrap; color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
tr.off td { color:#a0a8b5; }
.dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:6px; vertical-align:middle; }
.empty { color:var(--muted); font-style:italic; }
.reason { margin: 14px 0 22px; }
.reason h3 { font-size:15px; margin: 0 0 6px; }
.reason h3 .count { color: var(--muted); font-weight: normal; font-size: 13px; }
.pair { display:grid; grid-template-columns: 1fr 1fr; gap:12px; margin: 8px 0 14px; }
.single { margin: 8px 0 14px; }
.row { border:1px solid var(--line); border-radius:8px; overflow:hidden; background:#fff; }
.row .head { background:#fbf1ee; padding:6px 10px; font-size:12px; color:#7a3b2b; border-bottom:1px solid var(--line); }
.row.kept .head { background:#ecf7f4; color:#1d6b61; }
.row .head code { background:transparent; font-size:11.5px; }
.turn { padding:6px 10px; border-top:1px dashed var(--line); white-space:pre-wrap; word-break:break-word; font-size:12.5px; }
.turn:first-of-type { border-top:none; }
.role { display:inline-block; font-size:10.5px; font-weight:700; text-transform:uppercase; letter-spacing:.05em;
        color:#fff; background:#8895a7; border-radius:4px; padding:0 5px; margin-right:6px; }
.role.gpt { background: var(--accent); } .role.system { background:#6c757d; }
mark.only-removed { background:#fbd5c9; color:inherit; border-radius:2px; }
mark.only-kept { background:#cdeee6; color:inherit; border-radius:2px; }
.more { color: var(--muted); font-style: italic; }
.details { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 11.5px; color: var(--muted); padding: 4px 10px 8px; }
details summary { cursor:pointer; color:var(--accent); }
pre { background:#f3f5f9; border-radius:8px; padding:10px 12px; font-size:11.5px; overflow:auto; white-space:pre-wrap; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:26px; }
td, h1, h3, li, p.note, header .sub, .row .head { overflow-wrap:anywhere; } /* a long name wraps, the page keeps its width */
"""

SECTIONS = (
    ("funnel", "Funnel"),
    ("inputs", "Inputs"),
    ("removals", "Removals"),
    ("lengths", "Lengths"),
    ("sources", "Sources"),
    ("clusters", "Duplicate clusters"),
    ("scores", "Scores"),
    ("augmentation", "Augmentation"),
    ("review", "Review"),
    ("examples", "Examples"),
    ("quarantine", "Quarantine"),
    ("config", "Config"),
)


def e(value: Any) -> str:
    """``value`` as HTML text: markup escaped, and a bidi override or isolate spelled out (``\\u202e``), which would
    otherwise reorder the rest of the line it stands in (a name in the header, a note), as are the control
    characters an HTML page must not hold (a NUL or an escape sequence of a quarantined line)."""
    return html.escape(html_shown(value), quote=True)


def _num(n: int | float | None) -> str:
    if n is None:
        return "–"
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int] = frozenset(), row_class=None) -> str:
    head = list(head)
    out = ["<table><thead><tr>"]
    out += [f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for k, row in enumerate(rows):
        cls = f' class="{row_class(k)}"' if row_class and row_class(k) else ""
        out.append(f"<tr{cls}>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                         for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _section(key: str, title: str, note: str, body: str) -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{key}"><h2>{e(title)}</h2>{note_html}{body}</section>\n'


def _cards(f: ReportFacts) -> str:
    acc = f.accounting
    total_in = acc.get("input_rows", 0)
    in_splits = acc.get("in_splits", sum(f.splits.values()))
    cards = [
        ("", _num(total_in), "input rows"),
        ("kept", _num(in_splits), f"in splits ({_pct(in_splits, total_in + acc.get('added_rows', 0))})"),
        ("removed", _num(acc.get("removed", 0)), "removed"),
        ("quar", _num(acc.get("quarantined", 0)), "quarantined"),
    ]
    if acc.get("added_rows"):
        cards.append(("", "+" + _num(acc["added_rows"]), "augmented rows"))
    cards.append(("split", " / ".join(_num(v) for v in f.splits.values()), "train / val / test"))
    balanced = acc.get("balanced")
    cards.append(("ok" if balanced else "bad", "✓" if balanced else "✗", "nothing lost" if balanced else "accounting broken"))
    return '<div class="cards">' + "".join(
        f'<div class="card {cls}"><div class="n{" small" if cls == "split" else ""}">{n}</div><div class="l">{e(label)}</div></div>'
        for cls, n, label in cards
    ) + "</div>"


def _funnel(f: ReportFacts, chart: str) -> str:
    rows = []
    for s in f.stages:
        if not s.enabled:
            rows.append([e(s.name), "", "", "", "off", ""])
            continue
        removed = ", ".join(f"{e(k)}: {v:,}" for k, v in s.removed.items()) or "–"
        rows.append([e(s.name), _num(s.rows_in), _num(s.kept), _num(s.added) if s.added else "–", removed,
                     _num(s.quarantined) if s.quarantined else "–"])
    off = {i for i, s in enumerate(f.stages) if not s.enabled}
    table = _table(["stage", "rows in", "kept", "added", "removed (by reason)", "quarantined"], rows, {1, 2, 3, 5},
                   row_class=lambda k: "off" if k in off else "")
    return _section("funnel", "Rows through the pipeline", "Every input row ends in exactly one place: a split, "
                    "<code>removed.parquet</code> with its reason, or <code>quarantine.jsonl</code>.", chart + table)


def _removals(f: ReportFacts, chart: str | None) -> str:
    total = f.accounting.get("input_rows", 0)
    if not f.removed_by_reason and not f.quarantine_errors:
        return _section("removals", "Removals by reason", "", '<p class="empty">No row was removed or quarantined.</p>')
    rows = [[f'<span class="dot" style="background:{stage_color(f.reason_stage.get(r))}"></span>{e(r)}',
             e(f.reason_stage.get(r, "")), _num(n), _pct(n, total)] for r, n in f.removed_by_reason.items()]
    quarantined = sum(f.quarantine_errors.values())
    if quarantined:
        kinds = len(f.quarantine_errors)
        rows.append([f'<span class="dot" style="background:{stage_color("validate")}"></span>quarantined '
                     f'(<a href="#quarantine">{kinds} kind{"s" if kinds != 1 else ""} of schema error</a>)', "validate",
                     _num(quarantined), _pct(quarantined, total)])
    return _section("removals", "Removals by reason", "Share of input rows in the last column.",
                    (chart or "") + _table(["reason", "stage", "rows", "of input"], rows, {2, 3}))


def _lengths(f: ReportFacts, chart: str) -> str:
    b, a = f.before.summary(), f.after.summary()
    labels = [("conversations", "conversations"), ("turns", "turns"), ("median_chars_per_turn", "median characters per turn"),
              ("median_words_per_turn", "median words per turn"), ("median_turns", "median turns per conversation")]
    rows = [[e(label), _num(b[k]), _num(a[k])] for k, label in labels]
    note = ("<b>Before</b>: every row that passed validation, as it came in (before normalization); "
            "<b>after</b>: the rows in the three splits (augmented rows included).")
    return _section("lengths", "Lengths before and after", note, chart + _table(["", "before", "after"], rows, {1, 2}))


def _inputs(f: ReportFacts) -> str:
    """Several inputs: what became of each one's rows, and its share of the mix against its target."""
    if not f.inputs:
        return ""
    rows = []
    augmented = any(i.get("augmented") for i in f.inputs)  # rows in + augmented = in splits + removed + quarantined
    for i in f.inputs:
        removed = ", ".join(f"{e(k)}: {v:,}" for k, v in (i.get("removed") or {}).items()) or "–"
        target = e(target_text(i))
        rows.append([e(i.get("name")), e(i.get("format", "")), _num(i.get("rows_in")),
                     *(["+" + _num(i.get("augmented") or 0)] if augmented else []), _num(i.get("kept")), removed,
                     _num(i.get("quarantined")), f"{i.get('share', 0):.1%}", target])
    note = ("Each input's rows in, where they went, and its share of the rows in the splits against the share its "
            "weight asked for (duplicates across inputs are removed first: of two copies, the one with the higher "
            "score is kept, then the one of the input listed first, then the longer conversation).")
    if augmented:
        note += (" Augmentation adds rows after the mix is drawn, in train only: the shares then move from their "
                 "targets by what it added to each input.")
    head = ["input", "format", "rows in", *(["augmented"] if augmented else []), "in splits", "removed (by reason)",
            "quarantined", "share", "target"]
    notes = "".join(f"<li>{e(n)}</li>" for n in mix_notes(f.inputs, f.stage_stats.get("mix")))
    return _section("inputs", "Inputs and mix", note, _table(head, rows, {2, 3, 4, 6, 7, 8} if augmented else {2, 3, 5, 6, 7})
                    + (f'<ul class="notes">{notes}</ul>' if notes else ""))


def _sources(f: ReportFacts, chart: str | None) -> str:
    if not f.sources:
        return _section("sources", "Rows per source", "", '<p class="empty">No rows.</p>')
    balanced = any(s.before_balance is not None for s in f.sources)
    head = ["source", "rows in"] + (["before balancing", "after balancing"] if balanced else []) + ["in splits", "kept"]
    rows = []
    for s in f.sources:
        row = [e(s.source), _num(s.input)]
        if balanced:
            row += [_num(s.before_balance), _num(s.after_balance)]
        row += [_num(s.final), _pct(s.final, s.input)]
        rows.append(row)
    numeric = set(range(1, len(head)))
    caps = f.config.get("stages", {}).get("balance", {}) if f.config else {}
    cap_note = ""
    if balanced:
        cap = caps.get("max_per_source")
        per = caps.get("per_source") or {}
        cap_note = "Balancing cap: " + (f"{cap:,} rows per source" if cap else "none") + (
            "; " + ", ".join(f"{e(k)}: {v:,}" for k, v in per.items()) if per else "") + ". "
    else:
        cap_note = "Source balancing was off. "
    more = f" ({f.sources_left_out} smaller sources not shown.)" if f.sources_left_out else ""
    return _section("sources", "Rows per source", cap_note + "<i>In splits</i> counts augmented rows too." + more,
                    (chart or "") + _table(head, rows, numeric))


def _clusters(f: ReportFacts, chart: str | None) -> str:
    if chart is None:
        ran = [k for k in f.clusters]
        text = ("No duplicate clusters were found by " + ", ".join(ran) + ".") if ran else "No dedup stage ran."
        return _section("clusters", "Duplicate clusters", "", f'<p class="empty">{e(text)}</p>')
    rows = []
    for stage, sizes in f.clusters.items():
        if sizes:
            rows.append([e(stage), _num(sum(sizes.values())), _num(sum(k * v for k, v in sizes.items())),
                         _num(max(sizes)), _num(sum((k - 1) * v for k, v in sizes.items()))])
    note = "A cluster is a kept row and the rows removed as its duplicates; one row per cluster survives."
    return _section("clusters", "Duplicate clusters", note,
                    chart + _table(["stage", "clusters", "rows in clusters", "largest", "removed"], rows, {1, 2, 3, 4}))


def _scores(f: ReportFacts, chart: str | None) -> str:
    missing = f.scores_missing
    if chart is None:
        return _section("scores", "Scores", "", '<p class="empty">No row has a <code>score</code>.</p>')
    def stats(a):
        return [_num(int(a.size)), *score_figures(a)]

    rows = [["kept", *stats(f.scores_kept), _num(missing["kept"])], ["removed", *stats(f.scores_removed), _num(missing["removed"])]]
    return _section("scores", "Score of kept vs removed rows", "",
                    chart + _table(["", "rows with a score", "mean", "median", "without a score"], rows, {1, 2, 3, 4}))


def _augmentation(f: ReportFacts) -> str:
    aug = next((s for s in f.stages if s.name == "augment"), None)
    if not f.augmentation and not (aug and aug.enabled):
        return _section("augmentation", "Augmentation", "", '<p class="empty">Augmentation was off for this run.</p>')
    rows = [[e(m), _num(n)] for m, n in f.augmentation.items()]
    note = f"Rows the augment step added: {_num(aug.added if aug else 0)}; in the splits: {_num(f.augmented_rows)}"
    if f.augmented_removed:
        note += f"; removed later: {_num(f.augmented_removed)}"
    body = _table(["method", "rows in splits"], rows, {1}) if rows else '<p class="empty">No augmented row is in the splits.</p>'
    return _section("augmentation", "Augmentation", note + ".", body)


def _review(f: ReportFacts, chart: str | None) -> str:
    r = f.review
    if r is None:
        return _section("review", "Review verdicts", "", '<p class="empty">No review verdicts in this folder '
                        "(<code>tome review export</code>, annotate, then <code>tome review import</code>).</p>")
    blocks = []
    if r.verdicts:
        total = sum(r.verdicts.values())
        blocks.append("<h3>verdicts</h3>" + _table(["verdict", "records", "share"],
                                                   [[e(k), _num(v), _pct(v, total)] for k, v in r.verdicts.items()], {1, 2}))
    if r.applied:
        blocks.append("<h3>applied</h3>" + _table(["action", "rows"], [[e(k), _num(v)] for k, v in r.applied.items()], {1}))
    if r.agreement:
        keys = ["records", "records_with_2plus_annotators", "percent_agreement", "fleiss_kappa", "cohen_kappa_mean"]
        rows = [[e(k.replace("_", " "))] + [_fmt(r.agreement[q].get(k)) for q in r.agreement] for k in keys]
        blocks.append("<h3>agreement</h3>" + _table([""] + [e(q) for q in r.agreement], rows, set(range(1, len(r.agreement) + 1))))
    for col, counts in r.columns.items():
        blocks.append(f"<h3>{e(col)}</h3>" + _table(["value", "rows"], [[e(k), _num(v)] for k, v in counts.items()], {1}))
    if r.removed:
        blocks.append("<h3>removed by review</h3>" + _table(["reason", "rows"], [[e(k), _num(v)] for k, v in r.removed.items()], {1}))
    who = f"{len(r.annotators)} annotator(s): " + ", ".join(e(a) for a in r.annotators) + ". " if r.annotators else ""
    return _section("review", "Review verdicts", who + "Verdicts are the majority of the annotators' votes per record.",
                    '<div class="grid2">' + "".join(f"<div>{b}</div>" for b in blocks) + "</div>" + (chart or ""))


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return _num(v) if isinstance(v, int) else e(v)


IDENTICAL_LIMIT = 280  # characters per turn shown when a duplicate's text is the same as its kept row's


def _turns_html(row: ExampleRow, other: ExampleRow | None) -> tuple[str, str, list[float]]:
    left, right, ratios = [], [], []
    n = max(len(row.turns), len(other.turns) if other else 0)
    if other is not None and row.turns == other.turns:  # nothing to compare: show the start of each turn
        for t in row.turns:
            turn = f'<div class="turn"><span class="role {e(t.role)}">{e(t.role)}</span>{plain(t.text, IDENTICAL_LIMIT)}</div>'
            left.append(turn)
            right.append(turn)
        return "".join(left), "".join(right), [1.0] * len(row.turns)
    for i in range(n):
        a = row.turns[i] if i < len(row.turns) else None
        b = other.turns[i] if other and i < len(other.turns) else None
        if other is not None and a is not None and b is not None:
            la, rb, ratio = side_by_side(a.text, b.text)
            ratios.append(ratio)
        else:
            la = plain(a.text) if a else ""
            rb = plain(b.text) if b else ""
        if a is not None:
            left.append(f'<div class="turn"><span class="role {e(a.role)}">{e(a.role)}</span>{la}</div>')
        if b is not None:
            right.append(f'<div class="turn"><span class="role {e(b.role)}">{e(b.role)}</span>{rb}</div>')
    return "".join(left), "".join(right), ratios


def _example(ex: Example) -> str:
    head = f'<div class="head">removed <code>{e(ex.row.id)}</code> · {e(ex.row.source or "")}</div>'
    details = ""
    if ex.details:
        details = f'<div class="details">{e(json.dumps(ex.details, sort_keys=True, ensure_ascii=False))}</div>'
    if ex.duplicate_of:
        left, right, ratios = _turns_html(ex.row, ex.kept)
        if ex.kept is None:
            right_html = (f'<div class="row kept"><div class="head">duplicate of <code>{e(ex.duplicate_of)}</code></div>'
                          f'<div class="turn empty">not in this folder</div></div>')
        else:
            same = " · identical text" if ratios and all(r == 1.0 for r in ratios) else ""
            right_html = (f'<div class="row kept"><div class="head">kept <code>{e(ex.kept.id)}</code> · in '
                          f"{e(ex.kept.where)}{same}</div>{right}</div>")
        return f'<div class="pair"><div class="row">{head}{left}{details}</div>{right_html}</div>'
    left, _, _ = _turns_html(ex.row, None)
    return f'<div class="single"><div class="row">{head}{left}{details}</div></div>'


def _examples(f: ReportFacts) -> str:
    if not f.examples:
        return _section("examples", "Examples of removed rows", "", '<p class="empty">No row was removed.</p>')
    blocks = []
    for reason in f.removed_by_reason:
        items = f.examples.get(reason)
        if not items:
            continue
        n = f.removed_by_reason[reason]
        shown = f"{len(items)} of {n:,}"
        blocks.append(f'<div class="reason"><h3><span class="dot" style="background:{stage_color(f.reason_stage.get(reason))}">'
                      f'</span>{e(reason)} <span class="count">({e(f.reason_stage.get(reason, ""))}, {shown})</span></h3>'
                      + "".join(_example(x) for x in items) + "</div>")
    note = ("The first rows each reason removed, in input order. Duplicates stand beside the row they duplicated; "
            '<mark class="only-removed">red</mark> text is only in the removed row, '
            '<mark class="only-kept">green</mark> only in the kept one. The grey line is the measurement that fired.')
    return _section("examples", "Examples of removed rows", note, "".join(blocks))


def _quarantine(f: ReportFacts) -> str:
    if not f.quarantine_examples and not f.quarantine_errors:
        return _section("quarantine", "Quarantine", "", '<p class="empty">No input row was quarantined.</p>')
    total = f.accounting.get("quarantined", sum(f.quarantine_errors.values()))
    shown, more_kinds, more_rows = error_kinds(f.quarantine_errors)
    kinds = _table(["error", "rows", "of input"], [[e(k), _num(n), _pct(n, f.accounting.get("input_rows", 0))]
                                                   for k, n in shown], {1, 2})
    if more_kinds:
        kinds += (f'<p class="more">{more_kinds:,} more kind{"s" if more_kinds != 1 else ""} of error, '
                  f'{more_rows:,} row{"s" if more_rows != 1 else ""}, not listed.</p>')
    rows = [[e(q.position), e(q.error), f"<code>{e(q.raw[:300] + ('…' if len(q.raw) > 300 else ''))}</code>"]
            for q in f.quarantine_examples]
    examples = (f"<h3>The first {len(rows)} quarantined rows</h3>" + _table(["where", "error", "raw"], rows)) if rows else ""
    return _section("quarantine", "Quarantine", f"{total:,} input rows broke the schema; all of them, with the raw "
                    "line and the error, are in <code>quarantine.jsonl</code>.", kinds + examples)


def _config(f: ReportFacts) -> str:
    text = json.dumps(f.config, indent=2, ensure_ascii=False)
    return _section("config", "Config", "The resolved config of the run, as recorded in <code>manifest.json</code>.",
                    f"<details><summary>show config</summary><pre>{e(text)}</pre></details>")


def render_html(f: ReportFacts, charts: dict[str, str | None]) -> str:
    inp = f.input
    # a path or folder name as the card names it: on one line, a line break in it spelled \n (not shown as a space)
    sub = (f"input <code>{e(one_line(inp.get('spec')))}</code> ({e(inp.get('kind'))}, {_num(inp.get('rows'))} rows, "
           f"<code>{e(str(inp.get('fingerprint', ''))[:19])}</code>) · tomecraft {e(f.tomecraft_version)}")
    if (against := against_summary(f.config, against_stage(f))) is not None:
        sub += f"<br>deduplicated against <code>{e(one_line(against[0]))}</code> {e(against[1])}"
    qsecs = quality_sections(f.quality)
    quality = [(f"q-{sec.key}", sec.title) for sec in qsecs]
    shown = [(k, t) for k, t in SECTIONS if k != "inputs" or f.inputs]
    at = [k for k, _ in shown].index("augmentation")
    nav = "<nav>" + "".join(f'<a href="#{k}">{e(t)}</a>' for k, t in (*shown[:at], *quality, *shown[at:])) + "</nav>"
    body = [
        f"<header><h1>Curation report · {e(one_line(f.folder))}</h1><div class=\"sub\">{sub}</div></header>",
        nav,
        _cards(f),
        _funnel(f, charts["funnel"] or ""),
        _inputs(f),
        _removals(f, charts.get("removals")),
        _lengths(f, charts["lengths"] or ""),
        _sources(f, charts.get("sources")),
        _clusters(f, charts.get("clusters")),
        _scores(f, charts.get("scores")),
        *[section_html(sec) for sec in qsecs],
        _augmentation(f),
        _review(f, charts.get("quality")),
        _examples(f),
        _quarantine(f),
        _config(f),
        "<footer>Written by <code>tome report</code> from the files of this folder; "
        "rerun it after changing them.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Curation report · {e(one_line(f.folder))}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )
