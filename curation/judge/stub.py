"""A stand-in OpenAI-compatible judge endpoint on the loopback interface, for tests and the benchmark.

Each ``POST /v1/chat/completions`` sleeps ``delay`` seconds and answers a fixed JSON score line; at most
``slots`` requests are served at once (more wait for a slot), so the endpoint's own rate is ``slots / delay``
requests per second. ``fail_first`` answers HTTP 503 to that many requests first (to exercise retries).

    with StubJudge(delay=0.05, slots=8) as stub:
        ...  # point stages.judge.url at stub.url

    python -m curation.judge.stub --delay 0.05 --slots 16     # serve in its own process; prints the URL
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubJudge:
    def __init__(self, delay: float = 0.05, slots: int = 8, reply: str = '{"helpfulness": 4, "correctness": 5, '
                 '"instruction_following": 3}', fail_first: int = 0) -> None:
        self.delay, self.slots, self.reply = delay, slots, reply
        self.fail_first = fail_first
        self.requests = 0
        self._sem = threading.Semaphore(slots)
        self._count_lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with stub._count_lock:
                    stub.requests += 1
                    failing = stub.fail_first > 0
                    if failing:
                        stub.fail_first -= 1
                if failing:
                    self._send(503, {"error": "warming up"})
                    return
                with stub._sem:
                    time.sleep(stub.delay)
                self._send(200, {"choices": [{"message": {"role": "assistant", "content": stub.reply}}]})

            def _send(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def rate(self) -> float:
        """The endpoint's own rate: requests per second with every slot busy."""
        return self.slots / self.delay

    def __enter__(self) -> "StubJudge":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="A stand-in OpenAI-compatible judge endpoint on 127.0.0.1.")
    ap.add_argument("--delay", type=float, default=0.05, help="seconds each request takes")
    ap.add_argument("--slots", type=int, default=8, help="requests served at once")
    ap.add_argument("--seconds", type=float, default=600, help="stop after this long")
    args = ap.parse_args()
    with StubJudge(args.delay, args.slots) as stub:
        print(stub.url, flush=True)
        time.sleep(args.seconds)


if __name__ == "__main__":
    main()
