"""`tome curate` stopped part-way by the machine, not the data: a full disk or an output file that cannot be
replaced is one ``error:`` line naming the file (exit 1), never a traceback; Ctrl-C under ``--engine ray`` does not
advise ``--resume``, which Ray refuses."""

from __future__ import annotations

import errno

import pytest

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


class _RayTaskErrorLike(Exception):
    """What Ray raises on the driver for a task's failure: the remote traceback as text, no chained cause."""


REMOTE = """ray.exceptions.RayTaskError(UserCodeException): ray::MapBatches(_WriteShards)() (pid=123, ip=10.0.0.1)
  File "/opt/venv/lib/python3.11/site-packages/curation/engines/ray.py", line 251, in __call__
    os.replace(tmp, path)
PermissionError: [Errno 1] Operation not permitted: '{out}/train/part-00.parquet.tmp' -> '{out}/train/part-00.parquet'
The above exception was the direct cause of the following exception:
ray.exceptions.UserCodeException: Failed to process the following data block"""


def test_a_write_failure_on_a_ray_worker_is_one_line_naming_the_file(tmp_path, monkeypatch):
    """On Ray a shard that cannot be written was some 80 lines of remote traceback: the task's OSError comes back
    from its text, and `tome curate` gives it as the local engine does."""
    ray_engine = __import__("pytest").importorskip("curation.engines.ray")

    out = tmp_path / "out"

    class Dataset:
        def materialize(self):
            raise _RayTaskErrorLike(REMOTE.format(out=out))

    with __import__("pytest").raises(OSError) as caught:
        ray_engine._materialize(Dataset())
    assert caught.value.errno == errno.EPERM and caught.value.filename2 == f"{out}/train/part-00.parquet"

    def fail(*args, **kwargs):
        ray_engine._materialize(Dataset())

    monkeypatch.setattr(ray_engine, "run_curation_ray", fail)
    result = curate_command("--engine", "ray", "-o", str(out))
    assert result.exit_code == 1, result.output
    assert one_error_line(result.output) == (f"error: {out}/train/part-00.parquet: Operation not permitted; the run "
                                             f"stopped and {out} is not finished: run the command again once that is fixed")


def _network_error():
    import httpx

    return httpx.ReadError("[Errno 104] Connection reset by peer")


@pytest.mark.parametrize("failure, says", [
    # an OSError without a file name (a remote input's store that stops answering mid-run, as S3 says it) was
    # given as the output folder's: "out: When resolving region ...; the run stopped and out is not finished"
    (lambda: OSError("AWS Error NETWORK_CONNECTION during GetObject operation: curlCode: 56"),
     "the run stopped: AWS Error NETWORK_CONNECTION during GetObject operation: curlCode: 56"),
    # `hf://` paths are read through httpx, whose errors are no OSError: a connection lost mid-run was a traceback
    (_network_error, "the run stopped: a remote input cannot be reached ([Errno 104] Connection reset by peer)"),
])
def test_a_failure_that_names_no_file_is_not_blamed_on_the_output_folder(tmp_path, monkeypatch, failure, says):
    import curation.pipeline

    out = tmp_path / "out"

    def fail(*args, **kwargs):
        raise failure()

    monkeypatch.setattr(curation.pipeline, "run_curation", fail)
    result = curate_command("-o", str(out))
    assert result.exit_code == 1, result.output
    assert one_error_line(result.output) == (
        f"error: {says}; {out} is not finished: run the command again once that is fixed")


def test_a_bug_stays_a_traceback(tmp_path, monkeypatch):
    import curation.pipeline

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(curation.pipeline, "run_curation", bug)
    result = curate_command("-o", str(tmp_path / "out"))
    assert isinstance(result.exception, ZeroDivisionError)
