"""Text normalization: Unicode form, line endings, stray whitespace.

The turns as they were before stay recoverable in ``original_conversations`` (set only when something changed).
"""

from __future__ import annotations

import re
import unicodedata

from curation.config import NormalizeConfig
from curation.stage import Row, StageContext, StageResult

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = re.compile(r"[ \t]+\n")


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


class Normalize:
    name = "normalize"

    def __init__(self, cfg: NormalizeConfig) -> None:
        self.cfg = cfg

    def run(self, rows: list[Row], ctx: StageContext) -> StageResult:
        kept: list[Row] = []
        changed = 0
        for row in ctx.track(rows, len(rows), "normalize"):
            turns = [{"from": t["from"], "value": normalize_text(t["value"], self.cfg)} for t in row["conversations"]]
            if turns != row["conversations"]:
                changed += 1
                row = dict(row)
                if row.get("original_conversations") is None:
                    row["original_conversations"] = row["conversations"]
                row["conversations"] = turns
            kept.append(row)
        return StageResult(kept=kept, stats={"rows_changed": changed})
