"""An input or `--against` given as a URI whose store cannot be reached, refuses the file, or needs a package not
installed is one line naming the URI, before any work. Before: `hf://` and `az://` ended in a traceback (httpx's
ConnectError, an ImportError), `s3://`, `ftp://` and `hdfs://` were blamed on the output folder ("the run stopped
and out is not finished"), and an HTTP server that could not be reached, or answered 403, was "file not found"."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest

from tests.curation.runs import invoke, one_error_line

ROWS = [{"conversations": [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": f"Answer {i}."}]}
        for i in range(3)]


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self, body: bool) -> None:
        if self.path.startswith("/rows.jsonl"):
            data = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
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
    code, output = invoke("curate", "-q", "--set", "report=false", "-i", f"{server}/rows.jsonl", "-o", tmp_path / "out")
    assert code == 0, output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["accounting"]["balanced"] and manifest["accounting"]["input_rows"] == 3


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
