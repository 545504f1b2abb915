"""A batch of rows through the judge: cached scores first, the rest on the shared request pool."""

from __future__ import annotations

import json
import time
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

from curation.judge import rubric
from curation.judge.cache import ScoreCache, fingerprint
from curation.judge.client import Judge, JudgeUnavailable, RequestFailed
from curation.judge.config import JudgeConfig
from tomecraft.files import expand_user


def answer_format(cfg: JudgeConfig) -> str:
    if cfg.answer_format != "auto":
        return cfg.answer_format
    return "number" if cfg.backend == "local" else "json"


def settings(cfg: JudgeConfig) -> dict[str, Any]:
    """The judge settings a cached score depends on."""
    fmt = answer_format(cfg)
    return {"backend": cfg.backend, "model": cfg.model, "url": cfg.url if cfg.backend == "openai" else None,
            "rubric": cfg.rubric, "max_chars": cfg.max_chars, "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature, "format": fmt,
            "prompt": rubric.NUMBER_SYSTEM if fmt == "number" else rubric.SYSTEM}


def sampled(ids: list[str], share: float) -> list[bool]:
    """Which rows a ``sample`` share judges: a hash of the id below the share (the same rows every run)."""
    if share >= 1.0:
        return [True] * len(ids)
    import xxhash

    return [xxhash.xxh64_intdigest(str(i).encode()) / 2**64 < share for i in ids]


def default_cache_path() -> Path:
    from tomecraft.resources import cache_dir

    return cache_dir() / "judge" / "scores.sqlite"


class Scorer:
    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg
        self.judge = Judge(cfg)
        self._cache: ScoreCache | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"cfg": self.cfg, "judge": self.judge, "_cache": None}

    @property
    def cache(self) -> ScoreCache:
        if self._cache is None:
            path = expand_user(self.cfg.cache) if self.cfg.cache else default_cache_path()
            self._cache = ScoreCache(path, fingerprint(settings(self.cfg)))
        return self._cache

    def _one(self, row_id: str, turns: list[dict[str, Any]]) -> tuple[str, float | None, str | None]:
        reply = self.judge.ask(rubric.messages(turns, self.cfg.rubric, self.cfg.max_chars, answer_format(self.cfg)))
        scores = rubric.parse_scores(reply, self.cfg.rubric)
        if scores is None:
            return row_id, None, reply[:200]
        score = rubric.combine(scores)
        detail = json.dumps({"judge": scores}, sort_keys=True)
        self.cache.put(row_id, score, detail)
        return row_id, score, detail

    def score(self, ids: list[str], conversations: list[list[dict[str, Any]]]
              ) -> tuple[dict[str, tuple[float, str]], dict[str, Any]]:
        """Scores by row id (rows the judge could not score are absent), and what it took."""
        started = time.perf_counter()
        found = self.cache.get_many(ids)
        todo = [(i, c) for i, c in zip(ids, conversations) if i not in found]
        stats: dict[str, Any] = {"rows_judged": len(ids), "cached": len(found), "requests": 0, "unreadable": 0,
                                 "failed": 0}
        down: str | None = None
        if todo:
            pool = self.judge.pool()
            futures = [pool.submit(self._one, i, c) for i, c in todo]
            for fut in as_completed(futures):
                try:
                    row_id, score, detail = fut.result()
                except JudgeUnavailable as exc:
                    down = str(exc)
                    continue
                except (RequestFailed, ValueError) as exc:  # ValueError: a prompt too long for the local model
                    stats["failed"] += 1
                    stats.setdefault("errors", {})[str(exc)[:80]] = stats.get("errors", {}).get(str(exc)[:80], 0) + 1
                    continue
                stats["requests"] += 1
                if score is None:
                    stats["unreadable"] += 1
                else:
                    found[row_id] = (score, detail or "")
        stats["request_seconds"] = round(time.perf_counter() - started, 3) if todo else 0.0
        if down:
            done = stats["requests"] - stats["unreadable"]
            raise JudgeUnavailable(f"{down}; {done} new scores were finished and cached in {self.cache.path}, "
                                   "run again to go on from there")
        return found, stats
