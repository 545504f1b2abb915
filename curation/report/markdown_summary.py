"""The curation report's Markdown summary: the same numbers as the HTML page, as tables (no charts)."""

from __future__ import annotations

from curation.mix_report import target_text
from curation.report.facts import ReportFacts, against_stage, against_summary, error_kinds, mix_notes, score_figures
from curation.report.markdown_text import md_code, md_line, md_text, one_line
from curation.report.quality import section_markdown
from curation.report.quality import sections as quality_sections


def _table(head: list[str], rows: list[list[object]], right: set[int] = frozenset()) -> str:
    lines = ["| " + " | ".join(md_text(h) for h in head) + " |",  # a head can be a column's name (review_*)
             "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(md_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _n(v) -> str:
    if v is None:
        return "–"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def render_markdown(f: ReportFacts) -> str:
    acc = f.accounting
    total = acc.get("input_rows", 0)
    against = against_summary(f.config, against_stage(f))
    # a path or folder name as the card names it: on one line, a line break in it spelled \n (not shown as a space)
    out = [f"# Curation report: {md_text(one_line(f.folder))}\n",
           f"Input {md_code(one_line(f.input.get('spec')))} ({md_text(f.input.get('kind'))}, {_n(f.input.get('rows'))} rows). "
           f"Charts and examples: `report.html` in this folder.\n",
           *([f"Deduplicated against {md_code(one_line(against[0]))} {md_text(against[1])}\n"] if against else []),
           f"**{_n(total)}** input rows"
           + (f" + {_n(acc.get('added_rows'))} augmented" if acc.get("added_rows") else "")
           + f" → **{_n(acc.get('in_splits'))}** in splits "
           f"({' / '.join(f'{k} {_n(v)}' for k, v in f.splits.items())}), {_n(acc.get('removed'))} removed, "
           f"{_n(acc.get('quarantined'))} quarantined"
           + (" — nothing lost." if acc.get("balanced") else " — **accounting does not balance**.") + "\n"]

    if f.inputs:
        out.append("## Inputs and mix\n")
        augmented = any(i.get("augmented") for i in f.inputs)  # rows in + augmented = in splits + removed + quarantined
        rows = [[i.get("name"), i.get("format", ""), _n(i.get("rows_in")),
                 *([f"+{i.get('augmented') or 0:,}"] if augmented else []), _n(i.get("kept")),
                 ", ".join(f"{k}: {v:,}" for k, v in (i.get("removed") or {}).items()) or "–", _n(i.get("quarantined")),
                 f"{i.get('share', 0):.1%}", target_text(i)]
                for i in f.inputs]
        head = ["input", "format", "rows in", *(["augmented"] if augmented else []), "in splits", "removed (by reason)",
                "quarantined", "share", "target"]
        out.append(_table(head, rows, {2, 3, 4, 6, 7, 8} if augmented else {2, 3, 5, 6, 7}))
        notes = mix_notes(f.inputs, f.stage_stats.get("mix"))
        if notes:
            out.append("\n".join(f"- {md_line(n)}" for n in notes) + "\n")  # a note starts with a name

    out.append("## Stages\n")
    rows = []
    for s in f.stages:
        if not s.enabled:
            rows.append([s.name, "", "", "", "off", ""])
        else:
            rows.append([s.name, _n(s.rows_in), _n(s.kept), _n(s.added) if s.added else "–",
                         ", ".join(f"{k}: {v:,}" for k, v in s.removed.items()) or "–",
                         _n(s.quarantined) if s.quarantined else "–"])
    out.append(_table(["stage", "rows in", "kept", "added", "removed (by reason)", "quarantined"], rows, {1, 2, 3, 5}))

    if f.removed_by_reason or f.quarantine_errors:
        out.append("## Removals by reason\n")
        rows = [[r, f.reason_stage.get(r, ""), _n(n), _pct(n, total)] for r, n in f.removed_by_reason.items()]
        quarantined = sum(f.quarantine_errors.values())
        if quarantined:
            rows.append(["quarantined (schema errors)", "validate", _n(quarantined), _pct(quarantined, total)])
        out.append(_table(["reason", "stage", "rows", "of input"], rows, {2, 3}))
        if f.quarantine_errors:
            out.append("Quarantine errors:\n")
            shown, more_kinds, more_rows = error_kinds(f.quarantine_errors)
            out.append(_table(["error", "rows"], [[k, _n(n)] for k, n in shown], {1}))
            if more_kinds:
                out.append(f"({more_kinds:,} more kind{'s' if more_kinds != 1 else ''} of error, {more_rows:,} "
                           f"row{'s' if more_rows != 1 else ''}, not listed; `quarantine.jsonl` holds every one.)\n")

    out.append("## Lengths before and after\n")
    b, a = f.before.summary(), f.after.summary()
    labels = [("conversations", "conversations"), ("turns", "turns"), ("median_chars_per_turn", "median characters per turn"),
              ("median_words_per_turn", "median words per turn"), ("median_turns", "median turns per conversation")]
    out.append(_table(["", "before", "after"], [[label, _n(b[k]), _n(a[k])] for k, label in labels], {1, 2}))

    if f.sources:
        out.append("## Rows per source\n")
        balanced = any(s.before_balance is not None for s in f.sources)
        head = ["source", "rows in"] + (["before balancing", "after balancing"] if balanced else []) + ["in splits", "kept"]
        rows = []
        for s in f.sources:
            row = [s.source, _n(s.input)] + ([_n(s.before_balance), _n(s.after_balance)] if balanced else [])
            rows.append(row + [_n(s.final), _pct(s.final, s.input)])
        out.append(_table(head, rows, set(range(1, len(head)))))
        if f.sources_left_out:
            out.append(f"({f.sources_left_out} smaller sources not shown.)\n")

    clusters = {k: v for k, v in f.clusters.items() if v}
    if clusters:
        out.append("## Duplicate clusters\n")
        rows = [[stage, _n(sum(sz.values())), _n(max(sz)), ", ".join(f"{k}: {v:,}" for k, v in sz.items())]
                for stage, sz in clusters.items()]
        out.append(_table(["stage", "clusters", "largest", "clusters by size"], rows, {1, 2}))

    if f.scores_kept.size or f.scores_removed.size:
        out.append("## Scores\n")
        rows = [[name, _n(int(a_.size)), *score_figures(a_)]
                for name, a_ in (("kept", f.scores_kept), ("removed", f.scores_removed))]
        out.append(_table(["", "rows with a score", "mean", "median"], rows, {1, 2, 3}))

    out += [section_markdown(sec) for sec in quality_sections(f.quality, charts=False)]

    if f.augmentation:
        out.append("## Augmentation\n")
        out.append(_table(["method", "rows in splits"], [[m, _n(n)] for m, n in f.augmentation.items()], {1}))

    r = f.review
    if r is not None:
        out.append("## Review verdicts\n")
        if r.verdicts:
            out.append(_table(["verdict", "records"], [[k, _n(v)] for k, v in r.verdicts.items()], {1}))
        if r.applied:
            out.append(_table(["applied", "rows"], [[k, _n(v)] for k, v in r.applied.items()], {1}))
        for q, stats in r.agreement.items():
            figures = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                                for k, v in stats.items() if v is not None)
            out.append(f"Agreement on {md_text(q)}: {md_text(figures)}.\n")
        for col, counts in r.columns.items():
            out.append(_table([col, "rows"], [[k, _n(v)] for k, v in counts.items()], {1}))
        if r.removed:
            out.append(_table(["removed by review", "rows"], [[k, _n(v)] for k, v in r.removed.items()], {1}))
    return "\n".join(out)
