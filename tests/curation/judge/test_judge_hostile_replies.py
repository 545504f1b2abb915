"""A judge endpoint that answers nonsense: a content that is no text, JSON nested past the decoder's depth, negative
or overflowing scores. Each fails or leaves that row unscored; none ends the run or becomes a score."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curation.judge import rubric
from curation.judge.config import JudgeConfig
from curation.judge.scoring import Scorer

TURNS = [{"from": "human", "value": "What is two plus two?"}, {"from": "gpt", "value": "Two plus two is four."}]


def _chat(content) -> bytes:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()


class _Server:
    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _score(tmp_path, body: bytes):
    server = _Server(body)
    try:
        cfg = JudgeConfig(enabled=True, backend="openai", url=server.url, cache=str(tmp_path / "c.sqlite"),
                          retries=0, backoff_s=0, timeout_s=10)
        scorer = Scorer(cfg)
        try:
            return scorer.score(["a", "b"], [TURNS, TURNS])
        finally:
            scorer.judge.close()
    finally:
        server.close()


@pytest.mark.parametrize("body", [
    _chat(4), _chat({"helpfulness": 4}), b'{"choices":[{"message":{"content": NaN}}]}',
    b'{"choices":[{"message":{"content":' + b"[" * 50000 + b"]" * 50000 + b"}}]}",
])
def test_a_reply_that_is_no_text_fails_that_row_only(tmp_path, body):
    found, stats = _score(tmp_path, body)
    assert found == {} and stats["failed"] == 2


def test_content_parts_are_read_as_text(tmp_path):
    found, stats = _score(tmp_path, _chat([{"type": "text", "text": '{"helpfulness": 4, "correctness": 4, '
                                                                     '"instruction_following": 4}'}]))
    assert {k: v[0] for k, v in found.items()} == {"a": 4.0, "b": 4.0}


@pytest.mark.parametrize("reply,want", [
    ('{"helpfulness": -3, "correctness": -2, "instruction_following": -1}', None),
    ('{"helpfulness": 1e309, "correctness": 1e309}', None),
    ("helpfulness: -3", None),
    ("Rating: -2", None),
    ("helpfulness 1e3", None),
    ("On a scale of 1-5, I would rate this answer 4.", {"overall": 4.0}),
    ("Score (1 to 5): 4", {"overall": 4.0}),
    ("-8/10", None),
])
def test_negative_overflowing_and_range_numbers_are_no_scores(reply, want):
    assert rubric.parse_scores(reply, JudgeConfig().rubric) == want
