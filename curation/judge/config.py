"""The judge stage's config (``stages.judge``)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from curation.core.config_base import StrictModel

DEFAULT_RUBRIC = {
    "helpfulness": "Does the answer address what the user needs, with useful detail and no padding?",
    "correctness": "Is everything the answer states true, and is its reasoning or code right?",
    "instruction_following": "Does the answer do exactly what the prompt asks, in the form it asks for?",
}


class JudgeConfig(StrictModel):
    """Scores 1-5 from an LLM judge for rows without a ``score``; ``filter:judge_score`` below ``min_score``."""

    enabled: bool = False
    backend: Literal["local", "openai"] = Field(
        "local", description="local: a GGUF through cyllama (default: the offline SmolLM2); openai: an "
        "OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama) at `url`",
    )
    model: str | None = Field(None, description="local: a GGUF path (null: offline SmolLM2); openai: the model name")
    url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the endpoint's API key")
    rubric: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RUBRIC), min_length=1,
                                   description="criterion -> what a 5 means; the row's score is their mean")
    answer_format: Literal["auto", "json", "number"] = Field(
        "auto", description="json: one score per criterion as a JSON line; number: one overall number (small local "
        "models follow this, not JSON); auto: number for local, json for openai",
    )
    only_missing: bool = Field(True, description="judge only rows whose `score` is null (false: every row)")
    sample: float = Field(1.0, gt=0.0, le=1.0,
                          description="judge this share of the rows, picked by a hash of their id (the same every run)")
    write_score: bool = Field(True, description="write the judge's score into `score` where it was null")
    min_score: float = Field(0.0, ge=0.0, le=5.0, description="drop rows judged below this (filter:judge_score); 0 = off")
    max_chars: int = Field(6000, ge=200, description="a conversation longer than this is cut for the judge")
    max_tokens: int = Field(96, ge=8, description="tokens the judge may answer with")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    concurrency: int = Field(8, ge=1, description="requests in flight at once (local: one at a time)")
    retries: int = Field(3, ge=0, description="retries of a failed request, with exponential backoff")
    backoff_s: float = Field(0.5, ge=0.0, description="first retry delay; doubles each retry")
    timeout_s: float = Field(120.0, gt=0.0)
    cache: str | None = Field(None, description="SQLite file of cached scores (null: the tomecraft cache folder)")
    n_ctx: int = Field(2048, ge=256, description="local: context window")

    @field_validator("url")
    @classmethod
    def _usable_url(cls, url: str | None) -> str | None:
        """A URL httpx cannot use (a port that is no number, an unclosed IPv6 bracket, no host, another scheme) is an
        error here, before any row is read, not a traceback from the first request. The message does not repeat the
        URL: it may hold credentials."""
        if url is None:
            return url
        example = "give the endpoint's base URL, e.g. http://127.0.0.1:8000/v1"
        try:
            parts = urlsplit(url)
            parts.port  # (parsed on access: a port that is no number or out of range is a ValueError)
        except ValueError as exc:
            raise ValueError(f"not a usable URL ({exc}); {example}") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL with a host; {example}")
        try:
            import httpx
        except ModuleNotFoundError:  # the quality extra is not installed: the shape at least
            return url
        try:
            parsed = httpx.URL(url.rstrip("/"))
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a usable URL ({exc}); {example}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:  # (a space in front: no scheme to httpx)
            raise ValueError(f"not an http:// or https:// URL with a host; {example}")
        return url
