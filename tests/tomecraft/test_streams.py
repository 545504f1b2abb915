"""The `tome` process and its standard streams, as shells and CI run it: a reader that goes away, a stream that
cannot be written (a full disk, a closed descriptor), an ASCII-only encoding, a SIGTERM. Real subprocesses: what
is tested belongs to the process (its descriptors, its signals, its exit status)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOME = [sys.executable, "-m", "tomecraft.cli"]


def run_tome(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*TOME, *args], cwd=REPO, timeout=120, **kwargs)


@pytest.mark.parametrize("args", [["--help"], ["curate", "--help"], ["eval", "prompts"], ["version"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(args):
    """`tome eval prompts | head -1`: Click and rich exited 1 (a failure, as a bug would be); now 141, as a
    shell reports a command its reader left (`seq 1e9 | head -1`), with nothing on stderr."""
    read, write = os.pipe()
    os.close(read)  # (the reader is gone before the command writes)
    try:
        done = run_tome(args, stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, b"")


@pytest.mark.parametrize("args", [["curate", "--print-config"], ["eval", "prompts"], ["curate", "--help"]])
def test_an_output_that_cannot_be_written_is_one_error_line(args):
    """`> /dev/full` (a full disk): a traceback of OSError before; now one line and a failure."""
    with open("/dev/full", "w") as full:
        done = run_tome(args, stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2
    assert done.stderr == "error: cannot write to standard output: No space left on device\n"


def test_a_closed_standard_output_is_an_error_not_a_silent_success():
    """`tome version >&-`: the version was dropped and the command exited 0."""
    done = subprocess.run([*TOME, "version"], cwd=REPO, stderr=subprocess.PIPE, text=True, timeout=120,
                          preexec_fn=lambda: os.close(1))
    assert done.returncode == 2
    assert done.stderr == "error: cannot write to standard output: Bad file descriptor\n"


@pytest.mark.parametrize("args", [["--help"], ["curate", "--help"], ["train", "--help"]])
def test_an_ascii_only_output_shows_what_it_cannot_encode_as_escapes(args):
    """PYTHONIOENCODING=ascii: the help's bullets ended the command with a UnicodeEncodeError traceback."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = run_tome(args, capture_output=True, env=env)
    assert (done.returncode, done.stderr) == (0, b"")
    assert b"Usage:" in done.stdout


@pytest.mark.slow
def test_a_sigterm_stops_a_curation_as_ctrl_c_does(tmp_path):
    """A cancelled CI job (SIGTERM) ended `tome curate` on the spot: no line saying the folder is unfinished, and
    none of the clean-up a Ctrl-C runs. Now it is Ctrl-C's one line and 143 (128 + SIGTERM)."""
    rows = [json.loads(line) for line in open(REPO.parent / "shared" / "data" / "instructions"
                                              / "alpaca_en_demo.finetome.jsonl")] \
        if (REPO.parent / "shared" / "data").is_dir() else None
    if rows is None:
        pytest.skip("the shared rows are not here")
    source = tmp_path / "rows.jsonl"
    with source.open("w") as fh:  # a few thousand distinct rows: a run of some seconds
        for copy in range(6):
            for i, row in enumerate(rows):
                row = json.loads(json.dumps(row))
                row["conversations"][0]["value"] += f" (copy {copy} of row {i})"
                fh.write(json.dumps(row) + "\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([*TOME, "curate", "-i", str(source), "-o", str(out)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / ".cache").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # (the run has begun: its folder exists)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run ended before the signal")
    assert proc.returncode == 143
    assert stderr.startswith("error: interrupted") and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not (out / "manifest.json").exists() or (out / "train.parquet").exists()


def test_a_child_forked_from_tome_still_ends_on_sigterm():
    """The SIGTERM handler is the `tome` process's own: a worker a library forks from it inherits the handler and
    must still end when its pool terminates it, not raise KeyboardInterrupt inside the library's loop."""
    code = ("import os, signal, time\n"
            "from tomecraft.process import stop_on_terminate\n"
            "stop_on_terminate()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    time.sleep(30)\n"
            "    os._exit(0)\n"
            "time.sleep(0.3)\n"
            "os.kill(pid, signal.SIGTERM)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.WIFSIGNALED(status) and os.WTERMSIG(status))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == str(int(signal.SIGTERM)), done.stderr
