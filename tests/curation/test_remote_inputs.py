"""Inputs behind a URI (a local HTTP server and fsspec's `memory://` store stand in for remote stores).

An input or `--against` whose store cannot be reached, refuses the file, or needs a package not installed is one
line naming the URI, before any work. Before: `hf://` and `az://` ended in a traceback (httpx's ConnectError, an
ImportError), `s3://`, `ftp://` and `hdfs://` were blamed on the output folder ("the run stopped and out is not
finished"), and an HTTP server that could not be reached, or answered 403, was "file not found". Compressed files,
folders of shards and patterns of names are read as local ones are."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest

from tests.curation.runs import invoke, one_error_line

ROWS = [{"conversations": [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": f"Answer {i}."}]}
        for i in range(3)]


def _files() -> dict[str, bytes]:
    import bz2
    import gzip
    import lzma

    import pyarrow as pa

    lines = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    document = json.dumps(ROWS).encode()
    return {"/rows.jsonl": lines, "/rows.jsonl.gz": gzip.compress(lines), "/rows.jsonl.bz2": bz2.compress(lines),
            "/rows.jsonl.xz": lzma.compress(lines), "/rows.jsonl.zst": pa.compress(lines, "zstd", asbytes=True),
            "/rows.json.gz": gzip.compress(document), "/rows.json.xz": lzma.compress(document),
            "/lines.json.gz": gzip.compress(lines), "/rows.parquet.gz": gzip.compress(b"PAR1")}


FILES = _files()


def _accounting(spec: str, out) -> dict:
    """`tome curate -i SPEC -o OUT` (report off): its manifest's accounting, every row accounted for."""
    code, output = invoke("curate", "-q", "--set", "report=false", "-i", spec, "-o", out)
    assert code == 0, output
    accounting = json.loads((out / "manifest.json").read_text())["accounting"]
    assert accounting["balanced"], accounting
    return accounting


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self, body: bool) -> None:
        if self.path in FILES:
            data = FILES[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)
            return
        self.send_response(403 if self.path.startswith("/secret") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_http_input_is_read(server, tmp_path):
    assert _accounting(f"{server}/rows.jsonl", tmp_path / "out")["input_rows"] == 3


@pytest.mark.parametrize("name", ["rows.jsonl.gz", "rows.jsonl.bz2", "rows.jsonl.xz", "rows.jsonl.zst", "rows.json.gz",
                                  "rows.json.xz", "lines.json.gz"])
def test_a_compressed_file_over_http_is_read(server, tmp_path, name):
    """Compressed files were read from local paths only: over a URI, `.jsonl.gz` was "unsupported file type
    '.jsonl.gz'; expected ... optionally compressed (.gz, ...)"."""
    assert _accounting(f"{server}/{name}", tmp_path / "out")["input_rows"] == 3, name


def test_a_compressed_parquet_file_over_http_says_to_download_it(server, tmp_path):
    code, output = invoke("curate", "-q", "-i", f"{server}/rows.parquet.gz", "-o", tmp_path / "out")
    assert code == 2 and "a compressed Parquet file is read from a local path only" in one_error_line(output)


@pytest.mark.parametrize("path, says", [
    ("/missing.jsonl", "file not found"),
    ("/secret.jsonl", "the server answered 403 Forbidden"),
])
def test_an_http_file_the_server_does_not_give_says_what_it_answered(server, tmp_path, path, says):
    for flag in ("-i", "--against"):
        args = [flag, f"{server}{path}"] if flag == "-i" else ["-i", str(_local_rows(tmp_path)), flag, f"{server}{path}"]
        code, output = invoke("curate", "-q", *args, "-o", tmp_path / "out")
        line = one_error_line(output)
        assert code == 2 and line.startswith(f"error: {'--against ' if flag != '-i' else ''}{server}{path}: "), line
        assert line.endswith(says), line
        assert not (tmp_path / "out").exists()


def _local_rows(tmp_path):
    path = tmp_path / "new.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


@pytest.mark.parametrize("uri, says", [
    ("http://127.0.0.1:{port}/rows.jsonl", "cannot reach it: Cannot connect to host 127.0.0.1:{port}"),
    ("ftp://127.0.0.1:{port}/rows.jsonl", "cannot reach it: [Errno 111] Connection refused"),
    ("foo://bucket/rows.jsonl", "unknown file system scheme 'foo' (pyarrow and fsspec know neither)"),
    ("az://container/rows.jsonl", "cannot read az:// paths here: Install adlfs"),
    # pyarrow's schemes with a query it does not take: its reason, not fsspec's missing gcsfs or s3fs
    ("gs://bucket/rows.jsonl?anonymous=true", "Unexpected query parameter in GCS URI: 'anonymous'"),
    ("s3://bucket/rows.jsonl?foo=1", "Unexpected query parameter in S3 URI: 'foo'"),
])
def test_a_store_that_cannot_be_reached_or_read_is_one_line_naming_the_uri(tmp_path, uri, says):
    port = _closed_port()
    uri, says = uri.format(port=port), says.format(port=port)
    code, output = invoke("curate", "-q", "-i", uri, "-o", tmp_path / "out")
    line = one_error_line(output)
    assert code == 2 and line.startswith(f"error: {uri}: {says}"), line
    assert not (tmp_path / "out").exists()


def test_an_hf_path_offline_is_one_line(tmp_path, monkeypatch):
    """`hf://` paths go through huggingface_hub's file system, whose errors (httpx's) are no OSError."""
    import httpx
    from huggingface_hub import HfFileSystem

    def unreachable(self, path, **kwargs):
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(HfFileSystem, "info", unreachable)
    uri = "hf://datasets/someone/something/data/train.jsonl"
    code, output = invoke("curate", "-q", "-i", uri, "-o", tmp_path / "out")
    assert code == 2 and one_error_line(output) == f"error: {uri}: cannot reach it: [Errno -2] Name or service not known"


@pytest.mark.parametrize("uri, seconds", [
    ("gs://bucket/rows.jsonl", 30),
    ("gcs://bucket/rows.jsonl?endpoint_override=localhost:1", 30),
    ("gs://bucket/rows.jsonl?retry_limit_seconds=900", 900),
])
def test_google_cloud_storage_is_retried_for_seconds_not_fifteen_minutes(uri, seconds):
    """Offline, a `gs://` input's first look retried for the client's default 15 minutes, saying nothing (and a
    SIGTERM waits for it); with the limit it is one line after about 45 s. A limit the URI gives is kept."""
    import datetime

    from curation.readers.filesystems import resolve_filesystem

    fs, path = resolve_filesystem(uri)
    options = fs.__reduce__()[1][0]  # (what the file system was made with, as it pickles for Ray's workers)
    assert options["retry_time_limit"] == datetime.timedelta(seconds=seconds) and path == "bucket/rows.jsonl"


@pytest.fixture()
def memory():
    """fsspec's in-memory file system (``memory://``): a store behind a URI, offline; emptied after the test."""
    import fsspec

    store = fsspec.filesystem("memory")
    yield store
    for path in store.ls("/", detail=False):
        store.rm(path, recursive=True)


def _parquet_bytes(rows) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def test_a_remote_folder_or_pattern_reads_every_data_file_in_it(memory, tmp_path):
    """A folder behind a URI was read as its .parquet files if it held any, else its plain .jsonl files: JSON Lines
    beside Parquet, and every compressed shard, were left out unseen; a pattern (`*.jsonl.gz`) was "file not
    found"."""
    import gzip

    lines = [json.dumps(r) + "\n" for r in ROWS]
    memory.pipe("/shards/a.jsonl.gz", gzip.compress("".join(lines[:2]).encode()))
    memory.pipe("/shards/b.jsonl", lines[2].encode())
    memory.pipe("/shards/c.parquet", _parquet_bytes(ROWS[:1]))
    memory.pipe("/shards/README.md", b"# the dataset")
    for spec, rows in (("memory:///shards", 4), ("memory:///shards/*.jsonl*", 3), ("memory:///shards/?.parquet", 1)):
        out = tmp_path / spec.rsplit("/", 1)[-1].replace("*", "x").replace("?", "q")
        assert _accounting(spec, out)["input_rows"] == rows, spec


@pytest.mark.parametrize("spec, says", [
    ("memory:///shards/*.csv", "no file matches '*.csv' (compressed JSON Lines too)"),
    ("memory:///missing/*.jsonl", "folder not found"),
    ("memory:///empty", "the folder holds no .jsonl or .parquet file (compressed JSON Lines too)"),
    ("memory:///mixed", "x.json is a .json document, read from a URI only when given alone"),
    ("memory:///packed", "y.parquet.gz: a compressed Parquet file is read from a local path only"),
])
def test_a_remote_folder_that_holds_nothing_to_read_whole_is_one_line(memory, tmp_path, spec, says):
    memory.pipe("/shards/a.jsonl", b"{}\n")
    memory.pipe("/empty/notes.txt", b"")
    memory.pipe("/mixed/a.jsonl", b"{}\n")
    memory.pipe("/mixed/x.json", b"[]")
    memory.pipe("/packed/y.parquet.gz", b"")
    code, output = invoke("curate", "-q", "-i", spec, "-o", tmp_path / "out")
    line = one_error_line(output)
    assert code == 2 and line.startswith(f"error: {spec}: {says}"), line
    assert not (tmp_path / "out").exists()


def test_a_hub_repository_root_behind_hf_says_to_give_its_id(memory):
    """A dataset repository's root holds its README and folders, not its shards (`data/train-*.parquet`)."""
    from pyarrow import fs as pafs

    from curation.readers import InputError, _remote_shards

    memory.pipe("/repo/README.md", b"---\n---\n")
    memory.pipe("/repo/data/train-00000-of-00001.parquet", _parquet_bytes(ROWS))
    fs = pafs.PyFileSystem(pafs.FSSpecHandler(memory))
    with pytest.raises(InputError) as refused:
        _remote_shards(fs, "/repo", "hf://datasets/me/chat")
    assert str(refused.value) == (
        "hf://datasets/me/chat: the folder holds no .jsonl or .parquet file (compressed JSON Lines too); give the "
        "dataset's id, me/chat, or a pattern such as hf://datasets/me/chat/data/*.parquet")
    assert _remote_shards(fs, "/repo/data", "hf://datasets/me/chat/data").files == [
        "/repo/data/train-00000-of-00001.parquet"]


def test_a_remote_name_that_looks_like_a_pattern_is_read_as_the_file_it_names(memory, tmp_path):
    memory.pipe("/odd/rows[1].jsonl", "".join(json.dumps(r) + "\n" for r in ROWS).encode())
    memory.pipe("/odd/rows1.jsonl", b"")
    assert _accounting("memory:///odd/rows[1].jsonl", tmp_path / "out")["input_rows"] == 3
    code, output = invoke("curate", "-q", "-i", "memory:///od?/*.jsonl", "-o", tmp_path / "out2")
    assert code == 2 and one_error_line(output).endswith("a pattern in a remote path matches names in one folder only "
                                                          "(its last part)")


def test_a_remote_xz_file_of_several_streams_with_padding_reads_whole(memory, tmp_path):
    """Read as a local xz file is: every stream, the null padding `xz` tools may append skipped."""
    import lzma

    lines = [json.dumps(r) + "\n" for r in ROWS]
    memory.pipe("/xz/rows.jsonl.xz", lzma.compress("".join(lines[:2]).encode()) + lzma.compress(lines[2].encode())
                + b"\0" * 8)
    accounting = _accounting("memory:///xz/rows.jsonl.xz", tmp_path / "out")
    assert accounting["input_rows"] == 3 and accounting["quarantined"] == 0, accounting
