"""`tome report OUT_DIR`: (re)write the curation report of an output folder."""

from __future__ import annotations

from pathlib import Path

import typer

from tomecraft.console import console, error, non_empty_path, output_path

REPORT_HELP = """
Write **report.html** (one self-contained page: charts inlined, opens offline) and **report.md** (the same
numbers as tables) into a `tome curate` output folder.

The page shows the rows through each stage as a funnel, removals by reason, characters/words per turn and
turns per conversation before vs after, rows per source before/after balancing, duplicate cluster sizes,
the score of kept vs removed rows, augmentation counts, review verdicts, and for every removal reason a few
removed rows, duplicates beside the row they duplicated with the differing words marked.

`tome curate` writes the report itself at the end of a run (turn it off with `--set report=false`); run this
after `tome review import` or to refresh an older folder. The same folder always gives the same bytes.

Examples:

* `tome report out/`
* `tome report out/ --open` - and open it in the browser
"""


def report(
    out_dir: Path = typer.Argument(..., parser=non_empty_path, callback=output_path,
                                   help="A `tome curate` output folder (holds manifest.json and the splits)."),
    open_: bool = typer.Option(False, "--open", help="Open report.html in the default browser afterwards."),
) -> None:
    from curation.contract import OutputFolderError
    from curation.report import write_report
    from curation.report.markdown_text import one_line

    # every message one line, a folder named with a line break included (one_line spells it \n)
    try:
        page, summary = write_report(out_dir)
    except FileNotFoundError as exc:  # not an output folder: the path given is wrong (a usage error, as elsewhere)
        error(one_line(exc), code=2)
    except OutputFolderError as exc:  # a file of it damaged: the folder is wrong, not the command line
        error(one_line(exc), code=1)
    except (TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as exc:  # a manifest value no check
        # above foresaw (a stage's statistics the quality sections show: curation.report.facts.check_manifest)
        error(one_line(f"{out_dir}: cannot read the curation output folder: {out_dir / 'manifest.json'}: "
                       f"a value the report cannot show ({type(exc).__name__}: {exc})"), code=1)
    console.print(f"  report  {one_line(page)}\n  summary {one_line(summary)}", markup=False)
    if open_:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())


def register(app: typer.Typer) -> None:
    app.command("report", help=REPORT_HELP)(report)
