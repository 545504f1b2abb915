"""Helpers the curation tests share: a curation run with its accounting checked, rows read, compressed files."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pyarrow as pa


def curate(spec, out) -> dict:
    """``tome curate`` of ``spec`` into ``out`` (report and checkpoints off); its manifest, every row accounted for."""
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation

    run_curation(spec, out, load_config(None, {"report": False, "checkpoint": False}))
    manifest = read_manifest(out)
    assert manifest["accounting"]["balanced"]
    return manifest


def rows_read(spec: str) -> int:
    from curation.readers import open_input

    return sum(b.num_rows for b in open_input(spec).batches())


def write_compressed(path: Path, data: bytes) -> Path:
    """``data`` at ``path``, compressed as its suffix says (.gz, .bz2, .xz, .zst; anything else as it is)."""
    suffix = path.suffix
    if suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".bz2":
        path.write_bytes(bz2.compress(data))
    elif suffix == ".xz":
        path.write_bytes(lzma.compress(data))
    elif suffix == ".zst":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    else:
        path.write_bytes(data)
    return path


def invoke(*args) -> tuple[int, str]:
    """``tome ARGS`` in this process (typer's runner): its exit code and output."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    """The command's output is one line, ``error: ...``; return it."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert "Traceback" not in output, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def curate_command(*args: str):
    """``tome curate -q --set report=false ARGS`` in this process (typer's runner): its result."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    return CliRunner().invoke(app, ["curate", "-q", "--set", "report=false", *args])
