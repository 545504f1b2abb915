"""Config of the augmentation stage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AugmentConfig(BaseModel):
    """Off by default; see configs/augment.yaml for a sample that switches it on."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = False
    seed: int = Field(0)
