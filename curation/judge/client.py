"""Talking to the judge model: the offline GGUF through cyllama, or an OpenAI-compatible endpoint.

Requests run on a pool of ``concurrency`` threads shared by every batch of the process, so the endpoint
never sees more than that many at once. A failed request is retried ``retries`` times with exponential
backoff, up to :data:`MAX_BACKOFF_S` a wait (connection errors, timeouts, HTTP 429 and 5xx); other HTTP errors
fail that row only. When a request still cannot reach the endpoint, the judge is marked down: requests not yet
sent are skipped and the caller gets :class:`JudgeUnavailable`, one line naming the URL and how many scores were
finished.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from curation.core.stage import StageError
from curation.judge.config import JudgeConfig


MAX_BACKOFF_S = 60.0  # the doubling stops here: retries: 20 would otherwise wait three days before the last one


class JudgeUnavailable(StageError):
    """The judge endpoint cannot be reached; the message is one line (the CLI prints it as is)."""


class RequestFailed(Exception):
    """One request failed for good (not an outage): that row stays unscored."""


def reply_text(content: Any, raw: str = "") -> str:
    """The text of a chat completion's ``message.content``: a string, null (no text), or a list of content parts
    (``[{"type": "text", "text": ...}]``, as some servers answer); anything else (a number, an object, NaN) is no
    reply this tool can read, and that row's request fails (:class:`RequestFailed`), never the run."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content):
        return "".join(p.get("text", "") for p in content)
    raise RequestFailed(f"unexpected reply: message.content is {type(content).__name__}: {raw[:200]}")


class Judge:
    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg
        self._pool: ThreadPoolExecutor | None = None
        self._http: Any = None
        self._generator: Any = None
        self._lock = threading.Lock()
        self.down: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["cfg"])

    @property
    def where(self) -> str:
        if self.cfg.backend == "openai":
            return self.cfg.url or ""
        return f"local GGUF {self.cfg.model or 'SmolLM2 (offline)'}"

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                workers = self.cfg.concurrency if self.cfg.backend == "openai" else 1
                self._pool = ThreadPoolExecutor(workers, thread_name_prefix="judge")
            return self._pool

    # -- one request ---------------------------------------------------------------------------------------
    def ask(self, messages: list[dict[str, str]]) -> str:
        if self.down:
            raise JudgeUnavailable(self.down)
        if self.cfg.backend == "local":
            return self._local(messages)
        return self._remote(messages)

    def _local(self, messages: list[dict[str, str]]) -> str:
        with self._lock:
            if self._generator is None:
                from serving.generation import load_generator

                self._generator = load_generator(self.cfg.model, n_ctx=self.cfg.n_ctx)
        gen = self._generator
        msgs = gen.fit_messages(messages, self.cfg.max_tokens)
        return gen.generate(msgs, temperature=self.cfg.temperature, max_new_tokens=self.cfg.max_tokens, seed=0)

    def _client(self) -> Any:
        with self._lock:
            if self._http is None:
                import httpx

                if not self.cfg.url:
                    raise StageError("stages.judge.url is needed with backend: openai")
                headers = {}
                key = os.environ.get(self.cfg.api_key_env)
                if key:
                    headers["Authorization"] = f"Bearer {key}"
                limits = httpx.Limits(max_connections=self.cfg.concurrency, max_keepalive_connections=self.cfg.concurrency)
                self._http = httpx.Client(base_url=self.cfg.url.rstrip("/"), headers=headers, limits=limits,
                                          timeout=self.cfg.timeout_s)
            return self._http

    def _remote(self, messages: list[dict[str, str]]) -> str:
        import httpx

        body = {"model": self.cfg.model or "default", "messages": messages, "temperature": self.cfg.temperature,
                "max_tokens": self.cfg.max_tokens}
        delay = self.cfg.backoff_s
        last = ""
        for attempt in range(self.cfg.retries + 1):
            if self.down:
                raise JudgeUnavailable(self.down)
            if attempt:
                time.sleep(delay)
                delay = min(2 * delay, MAX_BACKOFF_S)
            try:
                resp = self._client().post("/chat/completions", json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = f"cannot connect ({exc.__class__.__name__}: {exc})"
                continue
            except httpx.TimeoutException:
                last = f"no answer within {self.cfg.timeout_s:g} s"
                continue
            except httpx.HTTPError as exc:
                last = f"{exc.__class__.__name__}: {exc}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code >= 400:
                raise RequestFailed(f"HTTP {resp.status_code}: {resp.text[:200]}")
            try:
                content = resp.json()["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
                # (RecursionError: JSON nested deeper than the decoder goes)
                raise RequestFailed(f"unexpected reply: {resp.text[:200]}") from exc
            return reply_text(content, resp.text)
        self.down = f"judge endpoint {self.cfg.url} is not answering: {last} (after {self.cfg.retries} retries)"
        raise JudgeUnavailable(self.down)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._http is not None:
            self._http.close()
