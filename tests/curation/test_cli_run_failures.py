"""`tome curate` stopped part-way by the machine, not the data: a full disk or an output file that cannot be
replaced is one ``error:`` line naming the file (exit 1), never a traceback; Ctrl-C under ``--engine ray`` does not
advise ``--resume``, which Ray refuses."""

from __future__ import annotations

import errno

from tests.curation.runs import curate_command, one_error_line


def test_full_disk_while_writing_is_one_line(tmp_path, monkeypatch):
    import curation.engines.local as local

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(local, "write_removed", full)
    out = tmp_path / "out"
    result = curate_command("-o", str(out))
    assert result.exit_code == 1, result.output
    line = one_error_line(result.output)
    assert "No space left on device" in line and str(out) in line
    assert not (out / "manifest.json").exists()  # nothing claims the half-written folder


def test_output_file_that_cannot_be_replaced_is_named(tmp_path, monkeypatch):
    import curation.engines.local as local

    out = tmp_path / "out"
    target = out / "removed.parquet"

    def refused(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted", str(target) + ".tmp", None, str(target))

    monkeypatch.setattr(local, "write_removed", refused)
    result = curate_command("-o", str(out))
    assert result.exit_code == 1, result.output
    line = one_error_line(result.output)
    assert f"{target}: Operation not permitted" in line


def test_ray_interrupt_does_not_advise_resume(tmp_path, monkeypatch):
    ray_engine = __import__("pytest").importorskip("curation.engines.ray")

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ray_engine, "run_curation_ray", stop)
    result = curate_command("--engine", "ray", "-o", str(tmp_path / "out"))
    assert result.exit_code == 130, result.output
    line = one_error_line(result.output)
    assert line.startswith("error: interrupted;") and "--resume" not in line
