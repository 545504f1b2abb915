"""Text normalization: Unicode form, line endings, stray whitespace.

The turns as they were before stay recoverable in ``original_conversations`` (set only when something changed).
:func:`normalize_text` is the definition, one string at a time; the stage runs the same steps column-wise with
Arrow compute (RE2 patterns equal to the Python ones) on the turns that need any of them.
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
    collapse_spaces: bool = Field(True, description="runs of spaces/tabs inside a line become one space")
    max_blank_lines: int = Field(2, description="longer runs of blank lines are shortened to this")


_SPACE_CHARS = " \t\u00a0\u2000-\u200a\u202f\u205f\u3000"
_SPACES = re.compile(f"[{_SPACE_CHARS}]+")
_TRAILING = re.compile(r"[ \t]+\n")
# the same classes for RE2 (Arrow compute)
_SPACES_RE2 = r"[ \t\x{a0}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]+"
_TRAILING_RE2 = r"[ \t]+\n"


def normalize_text(text: str, cfg: NormalizeConfig) -> str:
    out = unicodedata.normalize(cfg.unicode_form, text)
    out = out.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    if cfg.collapse_spaces:
        out = _SPACES.sub(" ", out)
        out = _TRAILING.sub("\n", out)
    if cfg.max_blank_lines >= 0:
        out = re.sub(r"\n{%d,}" % (cfg.max_blank_lines + 2), "\n" * (cfg.max_blank_lines + 1), out)
    if cfg.strip:
        out = out.strip()
    return out


@njit(cache=True)
def _is_run_space(cp):
    """The characters ``collapse_spaces`` folds: space, tab, no-break and the typographic spaces."""
    return cp == 32 or cp == 9 or cp == 0xA0 or (0x2000 <= cp <= 0x200A) or cp == 0x202F or cp == 0x205F or cp == 0x3000


@njit(nogil=True, cache=True)
def _needs_work(buf, offsets, collapse, newline_run, strip, out):
    """Per string: would :func:`normalize_text` (after the Unicode form) change it? One pass over the bytes."""
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
        prev_run_space = False
        nl = 0
        while p < end and not flag:
            b = buf[p]
            if b < 0x80 and b != 10 and b != 13 and b != 9:  # the common case: an ordinary ASCII byte
                if b == 32:
                    if collapse and prev_run_space:
                        flag = True
                    prev_run_space = collapse
                else:
                    prev_run_space = False
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
                if collapse and prev_run_space and (buf[p - 1] == 32 or buf[p - 1] == 9):
                    flag = True  # spaces before a line end
            else:
                nl = 0
            run_space = collapse and _is_run_space(cp)
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
    idx = np.flatnonzero(work)
    part = out.take(pa.array(idx))
    part = pc.replace_substring(part, "\r\n", "\n")
    part = pc.replace_substring(part, "\r", "\n")
    part = pc.replace_substring(part, "\ufeff", "")
    if cfg.collapse_spaces:
        part = pc.replace_substring_regex(part, _SPACES_RE2, " ")
        part = pc.replace_substring_regex(part, _TRAILING_RE2, "\n")
    if cfg.max_blank_lines >= 0:
        part = pc.replace_substring_regex(part, r"\n{%d,}" % (cfg.max_blank_lines + 2), "\n" * (cfg.max_blank_lines + 1))
    if cfg.strip:
        part = pc.utf8_trim(part, characters=WHITESPACE)
    return _scatter(out, idx, part)


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
