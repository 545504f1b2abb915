"""The curation report: what curation did to the data, as one self-contained HTML page and a Markdown summary.

``write_report(out_dir)`` reads a `tome curate` output folder and writes ``report.html`` and ``report.md``
into it; ``tome curate`` calls it at the end of a run (``report: true`` in the config) and ``tome report``
runs it on any folder. The modules: :mod:`.facts` (read the folder), :mod:`.plots` (charts as SVG),
:mod:`.html_page` and :mod:`.markdown_summary` (the two renderings), :mod:`.word_diff` (duplicate vs kept).
"""

from __future__ import annotations

from pathlib import Path

REPORT_HTML = "report.html"
REPORT_MD = "report.md"


def build_report(out_dir: str | Path) -> tuple[str, str]:
    """(HTML, Markdown) of the report for ``out_dir``, without writing anything."""
    from curation.report.facts import gather
    from curation.report.html_page import render_html
    from curation.report.markdown_summary import render_markdown
    from curation.report.plots import all_charts

    facts = gather(out_dir)
    return render_html(facts, all_charts(facts)), render_markdown(facts)


def write_report(out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into the curation output folder ``out_dir``; return their paths."""
    import os

    root = Path(out_dir)
    page, summary = build_report(root)
    written = []
    for name, text in ((REPORT_HTML, page), (REPORT_MD, summary)):
        path = root / name
        tmp = path.with_name(path.name + ".tmp")
        # (a lone surrogate, a "\ud800" escape an input's quarantined record holds, is shown as that escape)
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace", newline="\n")
        os.replace(tmp, path)
        written.append(path)
    return written[0], written[1]


__all__ = ["REPORT_HTML", "REPORT_MD", "build_report", "write_report"]
