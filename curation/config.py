"""The curation config: one validated YAML document, every stage switchable and configurable.

``tome curate --print-config`` prints the defaults; ``--config FILE`` overrides any part of them. The
resolved config is written whole into every run's ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curation.augment.config import AugmentConfig
from curation.semantic_config import SemanticDedupConfig

TextKey = Literal["conversation", "first_human", "all_human"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ValidateConfig(StrictModel):
    """Schema checks; rows that break them go to quarantine with the reason. Always on: later stages rely on it."""

    require_gpt_turn: bool = Field(True, description="a conversation needs at least one gpt turn")
    max_turns: int | None = Field(None, description="quarantine conversations with more turns than this")


class NormalizeConfig(StrictModel):
    """Unicode NFC, whitespace and role names; the original turns stay in `original_conversations`."""

    enabled: bool = True
    unicode_form: Literal["NFC", "NFKC"] = "NFC"
    strip: bool = True
    collapse_spaces: bool = Field(True, description="runs of spaces/tabs inside a line become one space")
    max_blank_lines: int = Field(2, description="longer runs of blank lines are shortened to this")


class ExactDedupConfig(StrictModel):
    """Exact duplicates on normalized text; the first occurrence in input order is kept."""

    enabled: bool = True
    text_key: TextKey = "conversation"
    case_sensitive: bool = True


class NearDedupConfig(StrictModel):
    """MinHash LSH near-duplicates, verified by true Jaccard, clustered by union-find."""

    enabled: bool = True
    backend: Literal["fast", "datasketch"] = Field(
        "fast", description="fast: vectorized/compiled path; datasketch: the reference implementation"
    )
    text_key: TextKey = "conversation"
    shingle: Literal["word", "char"] = "word"
    ngram: int = Field(5, ge=1, le=64)
    num_perm: int = Field(128, ge=16, le=1024)
    threshold: float = Field(0.8, gt=0.0, le=1.0)
    bands: int | None = Field(None, description="LSH bands; default: datasketch's optimum for the threshold")
    rows_per_band: int | None = None
    lsh_weights: tuple[float, float] = Field(
        (0.05, 0.95),
        description="(false positive, false negative) weights of datasketch's band optimum, used when bands is "
        "null; favouring recall keeps misses at the threshold rare (extra candidates fail verification)",
    )
    verify: bool = Field(True, description="check each candidate pair's true Jaccard before removal")
    seed: int = 1
    workers: int = Field(0, ge=0, description="threads for signatures and verification; 0 = all cores")
    batch_size: int = Field(20_000, ge=1)
    spill_bytes: int = Field(1 << 30, description="band tables larger than this go to disk")
    bucket_cap: int = Field(
        1000, ge=2, description="fast backend: an LSH bucket with more rows is linked as star + chain, not all pairs"
    )

    @model_validator(mode="after")
    def _bands_pair(self) -> "NearDedupConfig":
        if (self.bands is None) != (self.rows_per_band is None):
            raise ValueError("set both bands and rows_per_band, or neither")
        if self.bands is not None and self.bands * self.rows_per_band > self.num_perm:
            raise ValueError("bands * rows_per_band must not exceed num_perm")
        if min(self.lsh_weights) < 0 or abs(sum(self.lsh_weights) - 1.0) > 1e-9:
            raise ValueError("lsh_weights must be two non-negative numbers summing to 1")
        return self


class FiltersConfig(StrictModel):
    """Length and quality heuristics; each has its own reason code in removed.parquet."""

    enabled: bool = True
    min_chars_per_turn: int | None = 1
    max_chars_per_turn: int | None = 32_000
    min_words_per_turn: int | None = None
    max_words_per_turn: int | None = 6_000
    min_answer_chars: int | None = Field(8, description="a gpt turn shorter than this is near-empty")
    min_answer_words: int | None = 2
    max_prompt_answer_ratio: float | None = Field(
        20.0, description="characters of human turns / characters of gpt turns; above this drops the row"
    )
    max_repeated_line_fraction: float | None = Field(0.3, description="Gopher: duplicate lines / lines")
    max_repeated_line_char_fraction: float | None = 0.2
    top_ngram_max_fraction: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
        description="Gopher: chars in the most frequent n-gram / all chars",
    )
    dup_ngram_max_fraction: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="Gopher: chars in duplicated n-grams / all chars",
    )
    min_words_for_repetition: int = Field(50, description="repetition checks skip texts shorter than this")
    min_score: float | None = Field(None, description="drop rows whose `score` is below this")
    require_alternation: bool = Field(True, description="human and gpt turns must alternate")


class BalanceConfig(StrictModel):
    """Optional cap of rows per `source`, sampled deterministically."""

    enabled: bool = True
    max_per_source: int | None = Field(None, description="null: no cap")
    per_source: dict[str, int] = Field(default_factory=dict, description="caps for named sources")
    seed: int = 0


class SplitConfig(StrictModel):
    """Train/validation/test by near-duplicate cluster, so that no cluster spans two splits."""

    train: float = Field(0.9, ge=0)
    validation: float = Field(0.05, ge=0)
    test: float = Field(0.05, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _fractions(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1 (got {total:g})")
        return self


class StagesConfig(StrictModel):
    validate_: ValidateConfig = Field(default_factory=ValidateConfig, alias="validate")
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig)
    exact_dedup: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    near_dedup: NearDedupConfig = Field(default_factory=NearDedupConfig)
    semantic_dedup: SemanticDedupConfig = Field(default_factory=SemanticDedupConfig)
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    balance: BalanceConfig = Field(default_factory=BalanceConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True)


class CurationConfig(StrictModel):
    """Everything `tome curate` does, as data."""

    stages: StagesConfig = Field(default_factory=StagesConfig)
    checkpoint: bool = Field(True, description="leave a checkpoint after each stage (needed by --resume)")
    report: bool = Field(True, description="write report.html / report.md at the end")

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def stage_fingerprint(self, name: str) -> str:
        section = self.resolved()["stages"][name]
        return hashlib.sha256(json.dumps(section, sort_keys=True).encode()).hexdigest()[:16]


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> CurationConfig:
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return CurationConfig.model_validate(data)
    except ValidationError as exc:
        where = str(path) if path is not None else "config"
        lines = [f"{where}: " + ".".join(str(p) for p in err["loc"]) + f": {err['msg']}" for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def parse_override(text: str) -> dict[str, Any]:
    """``stages.near_dedup.threshold=0.7`` -> nested dict (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. stages.near_dedup.threshold=0.7")
    key, value = text.split("=", 1)
    node: dict[str, Any] = {}
    cursor = node
    parts = key.strip().split(".")
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = yaml.safe_load(value)
    return node


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def default_config_yaml() -> str:
    return yaml.safe_dump(CurationConfig().resolved(), sort_keys=False)
