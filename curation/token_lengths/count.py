"""Tokens per row of a ``conversations`` column, as training would tokenize it (:mod:`training.data`).

The exact way renders each row with the chat template and encodes it (``add_special_tokens=False``, as
training does). The fast way adds up template pieces and turn counts (:mod:`curation.token_lengths.template`),
counting all turns of a batch in one call (tiktoken's batch encoder on several threads, or the HF fast
tokenizer's batch encoder). A few rows of every batch are counted both ways; if they ever disagree the
counter says so (``stats["fast_path_mismatch"]``) and counts the exact way from then on.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous
from curation.core.stage import StageError
from curation.parallel import resolve_workers
from curation.token_lengths.config import TokenLengthsConfig
from curation.token_lengths.template import PieceCounts, cut
from tomecraft.errors import error_line

ROLE_CODES = {"system": 0, "human": 1, "gpt": 2}


class TokenCounter:
    def __init__(self, cfg: TokenLengthsConfig) -> None:
        self.cfg = cfg
        self._ready = False
        self.tokenizer: Any = None
        self.twin: Any = None
        self.pieces: PieceCounts | None = None
        self.exact_only = False
        self.backend = "exact"
        # the engine runs batches on several threads: one of them loads, the others wait for it (two threads
        # importing transformers at once can see it half-initialized: "cannot import name 'AutoTokenizer'")
        self._load_lock = threading.Lock()
        self._specials: Any = None  # the special tokens' spellings (training.data.special_token_pattern), on first use

    def __getstate__(self) -> dict[str, Any]:  # loaded again where it is unpickled (another process)
        return {"cfg": self.cfg, "_ready": False, "tokenizer": None, "twin": None, "pieces": None,
                "exact_only": self.exact_only, "backend": "exact", "_specials": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._load_lock = threading.Lock()

    def _load(self) -> None:
        if self._ready:
            return
        with self._load_lock:
            if not self._ready:
                self._load_now()

    def _load_now(self) -> None:
        from curation.token_lengths.tokenizer import load_tokenizer, tiktoken_twin

        where = f"stages.token_lengths.tokenizer {self.cfg.tokenizer!r}"
        try:
            self.tokenizer = load_tokenizer(self.cfg.tokenizer, self.cfg.chat_template)
        except (OSError, ValueError, ImportError) as exc:  # not a folder or hub name it can read, offline, no unsloth
            raise StageError(f"{where}: cannot load it ({error_line(exc)})") from None
        if not getattr(self.tokenizer, "chat_template", None):  # every row would render as nothing countable
            raise StageError(f"{where} has no chat template: set stages.token_lengths.chat_template (the "
                             "model.chat_template tome train uses)")
        if self.cfg.backend in ("auto", "tiktoken"):
            self.twin = tiktoken_twin(self.tokenizer)
            if self.twin is None and self.cfg.backend == "tiktoken":
                raise StageError(f"{where}: tiktoken cannot reproduce this tokenizer (use backend: hf or auto)")
        pieces = cut(self.tokenizer)
        if pieces is not None:
            self.pieces = PieceCounts.of(pieces, self._exact_text)
        self.backend = "exact" if pieces is None else ("tiktoken" if self.twin is not None else "hf")
        self._ready = True

    def _exact_text(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def exact(self, rows: list[list[dict[str, str]] | None]) -> np.ndarray:
        """Render + encode, as :func:`training.data.prepare_split` does; -1 for a row training could not render
        (no turns, an unknown role). A row whose text spells a special token (``<|im_end|>``) is encoded as
        training encodes it (:func:`training.data.encode`: that text stays text), one row at a time."""
        from training.data import encode, render, special_token_pattern, to_messages

        self._load()
        if self._specials is None:
            self._specials = special_token_pattern(self.tokenizer) or False
        texts, ok, literal = [], [], {}
        for i, turns in enumerate(rows):
            try:
                texts.append(render(self.tokenizer, turns or []))
                ok.append(True)
            except ValueError:
                texts.append("")
                ok.append(False)
                continue
            if self._specials and any(self._specials.search(t.get("value") or "") for t in turns or []):
                try:
                    literal[i] = len(encode(self.tokenizer, to_messages(turns), self._specials)[1])
                except ValueError:  # a template that changes message text: training skips the row too
                    literal[i] = -1
        out = self._tokenizer_counts(texts)
        out[~np.asarray(ok, bool)] = -1
        for i, count in literal.items():
            out[i] = count
        return out

    def _tokenizer_counts(self, texts: list[str]) -> np.ndarray:
        """Tokens per text by the tokenizer itself (its Rust batch call, no special tokens)."""
        enc = self.tokenizer.backend_tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return np.fromiter((len(e.ids) for e in enc), np.int64, len(enc))

    def _content_counts(self, texts: list[str]) -> np.ndarray:
        if self.twin is None:
            return self._tokenizer_counts(texts)
        counts, failed = self.twin.count(texts, resolve_workers(self.cfg.workers))
        out = np.asarray(counts, np.int64)
        if failed:  # texts tiktoken cannot encode: the tokenizer counts them
            out[failed] = self._tokenizer_counts([texts[i] for i in failed])
        return out

    def count(self, conversations: pa.Array) -> tuple[np.ndarray, dict[str, int]]:
        """Tokens per row, and how they were counted (rows per path, checks, mismatches)."""
        self._load()
        conversations = contiguous(conversations)
        n = len(conversations)
        stats = {"rows_fast": 0, "rows_exact": 0, "rows_checked": 0, "fast_path_mismatch": 0}
        if n == 0:
            return np.zeros(0, np.int64), stats
        if self.pieces is None or self.exact_only:
            stats["rows_exact"] = n
            return self.exact(conversations.to_pylist()), stats
        lengths = pc.fill_null(pc.list_value_length(conversations), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        turns = conversations.flatten()
        values = pc.fill_null(turns.field("value"), "")
        role = pc.fill_null(pc.index_in(turns.field("from"), pa.array(list(ROLE_CODES))), -1).to_numpy(
            zero_copy_only=False).astype(np.int64)
        # turns the pieces cannot be trusted with: edge whitespace, special-token text, an unknown role
        special = [t for t in self.tokenizer.all_special_tokens if t] + list(
            getattr(self.tokenizer, "added_tokens_encoder", {}) or {})
        pattern = "|".join([r"^\s", r"\s$"] + [re.escape(t) for t in sorted(set(special))])
        odd = pc.match_substring_regex(values, pattern).to_numpy(zero_copy_only=False) | (role < 0)
        counts = self._content_counts(values.to_pylist())
        start, end, gap = (np.asarray(self.pieces.start), np.asarray(self.pieces.end), np.asarray(self.pieces.gap))
        nonempty = lengths > 0
        total = np.zeros(n, np.int64)
        first, last = offsets[:-1][nonempty], offsets[1:][nonempty] - 1
        safe_role = np.where(role < 0, 0, role)
        total[nonempty] = start[safe_role[first]] + end[safe_role[last]]
        piece_bad = np.zeros(n, bool)
        piece_bad[nonempty] = (start[safe_role[first]] < 0) | (end[safe_role[last]] < 0)
        # gaps between consecutive turns of the same row
        same_row = np.ones(len(role), bool)
        same_row[offsets[1:-1][offsets[1:-1] < len(role)]] = False
        same_row = same_row[1:] if len(role) else same_row
        parent = np.repeat(np.arange(n), lengths)
        if len(role) > 1:
            g = gap[safe_role[:-1], safe_role[1:]]
            idx = np.flatnonzero(same_row[: len(role) - 1] & (np.diff(parent) == 0))
            np.add.at(total, parent[idx], g[idx])
            np.logical_or.at(piece_bad, parent[idx], g[idx] < 0)
        np.add.at(total, parent, counts)
        bad = piece_bad | ~nonempty
        if odd.any():
            np.logical_or.at(bad, parent[odd], True)
        check = np.flatnonzero(~bad)[: self.cfg.check_rows]
        redo = np.flatnonzero(bad)
        if len(check):
            want = self.exact(conversations.take(pa.array(check)).to_pylist())
            stats["rows_checked"] = len(check)
            if not np.array_equal(want, total[check]):
                stats["fast_path_mismatch"] = int((want != total[check]).sum())
                self.exact_only = True
                stats["rows_exact"] = n
                return self.exact(conversations.to_pylist()), stats
        if len(redo):
            total[redo] = self.exact(conversations.take(pa.array(redo)).to_pylist())
        stats["rows_exact"] = len(redo)
        stats["rows_fast"] = n - len(redo)
        return total, stats
