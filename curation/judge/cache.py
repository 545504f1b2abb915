"""Judge scores kept on disk by (judge config fingerprint, row id): a re-run asks the model nothing twice.

One SQLite file; every finished score is committed at once, so an interrupted run (or an endpoint that went
down half-way) keeps what it finished. Safe to share between threads and processes (SQLite's file locks,
one connection per thread).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


def fingerprint(settings: dict[str, Any]) -> str:
    """What makes two judgements comparable: backend, model, rubric, prompt length, decoding settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class ScoreCache:
    def __init__(self, path: str | Path, config_key: str) -> None:
        self.path = Path(path)
        self.key = config_key
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS scores (config TEXT, id TEXT, score REAL, detail TEXT, "
                         "PRIMARY KEY (config, id))")

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "key": self.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.key = state["path"], state["key"]
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, ids: list[str]) -> dict[str, tuple[float, str]]:
        out: dict[str, tuple[float, str]] = {}
        conn = self._conn()
        for i in range(0, len(ids), 500):
            chunk = ids[i: i + 500]
            rows = conn.execute(
                f"SELECT id, score, detail FROM scores WHERE config = ? AND id IN ({','.join('?' * len(chunk))})",
                [self.key, *chunk],
            ).fetchall()
            out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def put(self, row_id: str, score: float, detail: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", (self.key, row_id, score, detail))
