"""The decontamination stage's config (``stages.decontaminate``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from curation.core.config_base import StrictModel

_OFF = "stages.decontaminate.enabled: false"  # how the stage is turned off, as every stage is


class DecontamConfig(StrictModel):
    """Word n-gram overlap with evaluation sets (13-grams, as NeMo Curator and datatrove); train rows that hit are
    removed (``decontaminated``), validation and test hits are reported."""

    enabled: bool = False
    ngram: int = Field(13, ge=3, le=64, description="n of the word n-grams (lower-cased \\w+ words)")
    min_words: int = Field(
        8, ge=1,
        description="an eval item shorter than `ngram` words is matched whole (as one n-gram of its length) when it "
        "has at least this many words; shorter items are skipped",
    )
    min_matches: int = Field(1, ge=1, description="distinct n-grams a row must share with one eval item")
    threshold: float = Field(
        0.0, ge=0.0, le=1.0,
        description="and the share of that item's n-grams found in the row must be at least this (0 = any match)",
    )
    fields: list[Literal["prompt", "answer", "system"]] = Field(
        default_factory=lambda: ["prompt", "answer"], description="which turns are compared (human, gpt, system)"
    )
    seed_prompts: bool = Field(True, description="the seed's three evaluation prompts (always compared unless off)")
    prompt_sets: list[str] = Field(default_factory=list, description="`tome eval` prompt set YAML files")
    files: list[str] = Field(
        default_factory=list,
        description="eval items from JSONL / Parquet (a text field, or the human turns of conversations/messages) "
        "or plain text (one item per line)",
    )
    text_field: str | None = Field(None, description="JSONL/Parquet field holding the text; default: found by name")
    clean_splits: list[Literal["train", "validation", "test"]] = Field(
        default_factory=lambda: ["train"], description="splits whose hits are removed; hits elsewhere are reported"
    )
    workers: int = Field(1, ge=0, le=1024, description="threads per batch (the engine runs batches side by side); 0 = all cores")

    # Nothing to compare is an error, not a stage that runs, finds no row and reports a check that was never made;
    # the stage is turned off as every stage is, with its `enabled`.
    @field_validator("fields")
    @classmethod
    def _some_field(cls, fields: list[str]) -> list[str]:
        if not fields:
            raise ValueError("no turns to compare: list prompt, answer and/or system, or set "
                             f"{_OFF} to turn the stage off")
        return fields

    @model_validator(mode="after")
    def _some_eval_set(self) -> "DecontamConfig":
        if self.enabled and not (self.seed_prompts or self.prompt_sets or self.files):
            raise ValueError("no eval sets to compare against (seed_prompts is false, prompt_sets and files are "
                             f"empty): name one, or set {_OFF} to turn the stage off")
        return self
