"""Text normalization: Unicode form, line endings, stray whitespace.

The turns as they were before stay recoverable in ``original_conversations`` (set only when something changed).
:func:`normalize_text` is the definition, one string at a time; the stage runs the same steps column-wise with
Arrow compute (RE2 patterns equal to the Python ones) on the turns that need any of them, and the definition
itself on the few that hold a fenced code block.

Whitespace that carries meaning is kept: a line's indentation (Python code, nested lists, YAML) and everything
inside a fenced code block (```` ``` ```` or ``~~~``: aligned columns, ASCII art, blank lines), where only the
line ends and the Unicode form change. Runs of spaces are folded only after a line's first character.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curation.core.columns import WHITESPACE, any_per_row, conversations_from, string_buffers, turns_of
from curation.core.config_base import StrictModel
from curation.core.jit import njit
from curation.core.registry import StageSpec, register
from curation.core.utf8 import decode, is_space, last_start
from curation.core.stage import RowStage, StageOutput, set_where_valid


class NormalizeConfig(StrictModel):
    """Unicode NFC, whitespace and role names; the original turns stay in `original_conversations`."""

    enabled: bool = True
    unicode_form: Literal["NFC", "NFKC"] = "NFC"
    strip: bool = True
    collapse_spaces: bool = Field(True, description="runs of spaces/tabs after a line's first character become one space "
                                   "(indentation and fenced code blocks are kept)")
    max_blank_lines: int = Field(2, ge=-1, le=10_000, description="longer runs of blank lines are shortened to this "
                                 "(-1: kept as they are)")


_SPACE_CHARS = " \t\u00a0\u2000-\u200a\u202f\u205f\u3000"
# a run of spaces after a line's first character (a line's indentation is kept)
_SPACES = re.compile(f"(?<=[^{_SPACE_CHARS}\\n])[{_SPACE_CHARS}]+")
_TRAILING = re.compile(r"[ \t]+\n")
# the same classes for RE2 (Arrow compute), which has no look-behind: the character before the run is kept by \1
_SPACES_RE2 = r"([^ \t\x{a0}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}\n])[ \t\x{a0}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]+"
_TRAILING_RE2 = r"[ \t]+\n"
# a line that opens or closes a fenced code block (CommonMark: up to 3 spaces, then ``` or ~~~)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
FENCE_MARKS = ("```", "~~~")


def normalize_text(text: str, cfg: NormalizeConfig) -> str:
    out = unicodedata.normalize(cfg.unicode_form, text)
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    out = "".join(part if code else _tidy_prose(part, cfg) for part, code in _fenced_parts(out))
    if cfg.strip:
        out = out.strip()
    return out


def _tidy_prose(text: str, cfg: NormalizeConfig) -> str:
    """The whitespace steps, on text outside fenced code blocks."""
    if cfg.collapse_spaces:
        text = _SPACES.sub(" ", text)
        text = _TRAILING.sub("\n", text)
    if cfg.max_blank_lines >= 0:
        text = re.sub(r"\n{%d,}" % (cfg.max_blank_lines + 2), "\n" * (cfg.max_blank_lines + 1), text)
    return text


def _fenced_parts(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (part, is code) pieces that join into it: a fenced code block runs from its opening fence
    line through the closing fence line (of the same character, at least as long), or to the end of the text."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            break
        fence = opening.group(1)
        closing = re.compile(r"^ {0,3}%s%s*[ \t]*$" % (re.escape(fence), re.escape(fence[0])), re.MULTILINE)
        line_end = text.find("\n", opening.end())
        close = closing.search(text, line_end + 1) if line_end >= 0 else None
        end = len(text) if close is None else (close.end() + 1 if close.end() < len(text) else close.end())
        if opening.start() > pos:
            parts.append((text[pos:opening.start()], False))
        parts.append((text[opening.start():end], True))
        pos = end
        if close is None:
            break
    if pos < len(text):
        parts.append((text[pos:], False))
    return parts


@njit(cache=True)
def _is_run_space(cp):
    """The characters ``collapse_spaces`` folds: space, tab, no-break and the typographic spaces."""
    return cp == 32 or cp == 9 or cp == 0xA0 or (0x2000 <= cp <= 0x200A) or cp == 0x202F or cp == 0x205F or cp == 0x3000


_ORDINARY = np.array([b < 0x80 and b not in (9, 10, 13) for b in range(256)], dtype=np.bool_)
"""Per byte: an ASCII character other than TAB, LF and CR (the space included)."""


@njit(nogil=True, cache=True)
def _needs_work(buf, offsets, collapse, newline_run, strip, out):
    """Per string: would :func:`normalize_text` (after the Unicode form) change it? One pass over the bytes;
    on ordinary ASCII bytes without a branch on whether each is a space (one taken or not every few bytes is
    mispredicted at each word's edges)."""
    ordinary = _ORDINARY
    folds = np.int64(collapse)
    for i in range(out.shape[0]):
        start, end = offsets[i], offsets[i + 1]
        flag = False
        if strip and end > start:
            cp, _ = decode(buf, start, end)
            flag = is_space(cp)
            if not flag:
                cp, _ = decode(buf, last_start(buf, start, end), end)
                flag = is_space(cp)
        p = start
        prev_run_space = np.int64(0)  # 1: the character before is one collapse_spaces folds
        nl = 0
        while p < end and not flag:
            b = buf[p]
            if ordinary[b]:  # the common case: a space after a space is the one that needs work
                space = folds & np.int64(b == 32)
                if space & prev_run_space:
                    flag = True
                prev_run_space = space
                nl = 0
                p += 1
                continue
            if b < 0x80:
                cp, size = np.int64(b), 1
            else:
                cp, size = decode(buf, p, end)
            if cp == 13 or cp == 0xFEFF:
                flag = True
            if cp == 10:
                nl += 1
                if newline_run > 0 and nl >= newline_run:
                    flag = True
                if prev_run_space and (buf[p - 1] == 32 or buf[p - 1] == 9):
                    flag = True  # spaces before a line end
            else:
                nl = 0
            run_space = folds & np.int64(_is_run_space(cp))
            if run_space and (cp != 32 or prev_run_space):
                flag = True
            prev_run_space = run_space
            p += size
        out[i] = flag


def normalize_values(values: pa.Array, cfg: NormalizeConfig) -> pa.Array:
    """:func:`normalize_text` over a string array."""
    out = values
    non_ascii = ~np.asarray(pc.string_is_ascii(out).fill_null(True), dtype=bool)
    if non_ascii.any():  # ASCII text is in every normal form already
        idx = np.flatnonzero(non_ascii)
        picked = out.take(pa.array(idx))
        normalized = pc.utf8_normalize(picked, form=cfg.unicode_form)
        out = _scatter(out, idx, normalized)
    buf, offsets = string_buffers(out)
    work = np.zeros(len(out), dtype=np.bool_)
    if len(out):
        run = cfg.max_blank_lines + 2 if cfg.max_blank_lines >= 0 else 0
        _needs_work(buf, offsets, cfg.collapse_spaces, run, cfg.strip, work)
    if not work.any():
        return out
    # a turn holding a fence mark goes through the definition itself (its code blocks are left as they are)
    todo = np.flatnonzero(work)
    picked = out.take(pa.array(todo))
    fenced = np.zeros(len(todo), dtype=bool)
    for mark in FENCE_MARKS:
        fenced |= np.asarray(pc.match_substring(picked, mark).fill_null(False), dtype=bool)
    code_idx, idx = todo[fenced], todo[~fenced]
    if len(idx):
        part = picked.filter(pa.array(~fenced))
        part = pc.replace_substring(part, "\r\n", "\n")
        part = pc.replace_substring(part, "\r", "\n")
        part = pc.replace_substring(part, "\ufeff", "")
        if cfg.collapse_spaces:
            part = pc.replace_substring_regex(part, _SPACES_RE2, "\\1 ")
            part = pc.replace_substring_regex(part, _TRAILING_RE2, "\n")
        if cfg.max_blank_lines >= 0:
            part = pc.replace_substring_regex(part, r"\n{%d,}" % (cfg.max_blank_lines + 2), "\n" * (cfg.max_blank_lines + 1))
        if cfg.strip:
            part = pc.utf8_trim(part, characters=WHITESPACE)
        out = _scatter(out, idx, part)
    if len(code_idx):
        texts = picked.filter(pa.array(fenced)).to_pylist()  # the prose steps above did not touch these rows
        out = _scatter(out, code_idx, pa.array([normalize_text(t, cfg) for t in texts], pa.string()))
    return out


def _scatter(values: pa.Array, idx: np.ndarray, new: pa.Array) -> pa.Array:
    """``values`` with ``values[idx] = new`` (``idx`` ascending)."""
    order = np.arange(len(values), dtype=np.int64)
    order[idx] = len(values) + np.arange(len(idx), dtype=np.int64)
    return pa.concat_arrays([values, new.cast(values.type)]).take(pa.array(order))


class Normalize(RowStage):
    name = "normalize"

    def __init__(self, cfg: NormalizeConfig) -> None:
        self.cfg = cfg

    def warm_up(self) -> None:
        from curation.core.warm import sample_rows

        self.process(sample_rows())

    def process(self, batch: pa.RecordBatch) -> StageOutput:
        conv = batch.column("conversations")
        offsets, roles, values = turns_of(conv)
        new_values = normalize_values(values, self.cfg)
        changed_turn = np.asarray(pc.not_equal(values, new_values).fill_null(False), dtype=bool)
        changed = any_per_row(offsets, changed_turn)
        if not changed.any():
            return StageOutput(batch, stats={"rows_changed": 0})
        new_conv = conversations_from(offsets, roles, new_values)
        # keep the turns as they came only where nothing earlier kept them already
        original = batch.column("original_conversations")
        fill = changed & np.asarray(original.is_null(), dtype=bool)
        keep_old = pc.if_else(pa.array(fill), conv, pa.nulls(len(conv), conv.type))
        batch = set_where_valid(batch, "original_conversations", keep_old.cast(original.type))
        batch = batch.set_column(batch.schema.get_field_index("conversations"), "conversations", new_conv)
        return StageOutput(batch, stats={"rows_changed": int(changed.sum())})


SPEC = register(
    StageSpec(
        name="normalize",
        order=10,
        kind="row",
        config=NormalizeConfig,
        build=lambda cfg, _: Normalize(cfg),
        summary="Unicode NFC, line endings, whitespace, role names; originals kept in original_conversations",
    )
)
