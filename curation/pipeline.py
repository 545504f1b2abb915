"""Curate an input into an output folder: the one entry point the command line and the tests call.

:func:`run_curation` opens the input (:mod:`curation.readers`), runs every registered stage on the chosen
engine (:mod:`curation.engines`) and writes the report. The steps know nothing of files or engines; the
engines know no step by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from curation.core.bookkeeping import AccountingError, StageReport
from curation.engines.local import CurationResult, run_local
from curation.readers import InputError, open_input

__all__ = ["AccountingError", "CurationResult", "InputError", "StageReport", "run_curation"]


def run_curation(
    input_spec: str | None,
    out_dir: str | Path,
    config=None,
    resume: bool = False,
    progress: Callable | None = None,
) -> CurationResult:
    """Curate ``input_spec`` (None = the embedded sample) into ``out_dir`` on this machine."""
    from curation.config import config_model

    config = config or config_model()()
    result = run_local(open_input(input_spec), out_dir, config, resume=resume, progress=progress)
    if config.report:
        write_report(result.out.root)
    return result


def write_report(root: Path) -> None:
    from curation.report import write_report as write

    write(root)
