"""`tome report` into a folder where the report's files cannot go: one line (exit 1, a damaged output folder), no
temporary file left behind, nothing half-written. A folder named ``report.html`` (or ``report.md``, or the
temporary ``report.html.tmp``) gave a traceback and left ``report.html.tmp`` behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.curation.runs import invoke, one_error_line


@pytest.fixture(scope="module")
def curated(embedded_sample, tmp_path_factory) -> Path:
    from curation.config import load_config
    from curation.pipeline import run_curation

    small = tmp_path_factory.mktemp("input") / "small.jsonl"
    small.write_text("\n".join(Path(embedded_sample).read_text(encoding="utf-8").splitlines()[:60]) + "\n",
                     encoding="utf-8")
    out = tmp_path_factory.mktemp("curated") / "out"
    run_curation(str(small), out, load_config(overrides={"checkpoint": False, "report": False}))
    return out


@pytest.mark.parametrize("folder,named", [("report.html", "report.html"), ("report.md", "report.md"),
                                          ("report.html.tmp", "report.html"), ("report.md.tmp", "report.md")])
def test_a_folder_in_the_reports_place_is_one_line_and_nothing_is_written(curated, tmp_path, folder, named):
    root = tmp_path / "out"
    shutil.copytree(curated, root)
    (root / folder).mkdir()
    before = sorted(p.name for p in root.iterdir())
    code, output = invoke("report", root)
    line = one_error_line(output)
    assert code == 1
    assert f"cannot write {named}" in line and f"{folder} is a folder" in line
    assert sorted(p.name for p in root.iterdir()) == before  # no .tmp left, neither page written


def test_a_file_that_cannot_be_written_leaves_no_temporary_file(curated, tmp_path, monkeypatch):
    """The disk full as the summary is written: the page already moved into place stays, the summary's temporary
    file goes, and the one line says which file and why."""
    import errno

    root = tmp_path / "out"
    shutil.copytree(curated, root)
    real = Path.write_text

    def write_text(self, text, *args, **kwargs):
        if self.name == "report.md.tmp":
            real(self, text[:10], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    code, output = invoke("report", root)
    assert code == 1
    assert "cannot write report.md: No space left on device" in one_error_line(output)
    assert not list(root.glob("*.tmp"))
