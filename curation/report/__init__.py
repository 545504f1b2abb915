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
    """Write ``report.html`` and ``report.md`` into the curation output folder ``out_dir``; return their paths.

    Each is written whole beside its place, then moved there, so a reader never sees half a page. Where one cannot
    be written (its name is a folder's, the folder is read-only, the disk is full) the temporary files this call
    made are removed and :class:`~curation.contract.OutputFolderError` says which file and why, in one line: it
    was a traceback, with ``report.html.tmp`` left in the folder."""
    import os

    from curation.contract import OutputFolderError

    root = Path(out_dir)
    page, summary = build_report(root)
    names = ((REPORT_HTML, page), (REPORT_MD, summary))
    for name, _ in names:  # (before either is written: os.replace would refuse a folder only after the page)
        for path in (root / name, root / f"{name}.tmp"):
            if path.is_dir():
                raise OutputFolderError(f"{root}: cannot write {name}: {path.name} is a folder; move it or rename it")
    written = []
    for name, text in names:
        path, tmp = root / name, root / f"{name}.tmp"
        try:
            # (a lone surrogate, a "\ud800" escape an input's quarantined record holds, is shown as that escape)
            tmp.write_text(text, encoding="utf-8", errors="backslashreplace", newline="\n")
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputFolderError(f"{root}: cannot write {name}: {exc.strerror or exc}") from None
        finally:  # (whatever stopped the write, Ctrl-C included: no .tmp is left behind)
            if tmp.is_file():
                tmp.unlink()
        written.append(path)
    return written[0], written[1]


__all__ = ["REPORT_HTML", "REPORT_MD", "build_report", "write_report"]
