"""The language stage's config (``stages.language``)."""

from __future__ import annotations

from pydantic import Field

from curation.core.config_base import StrictModel


class MismatchConfig(StrictModel):
    """Prompt (human turns) and answer (gpt turns) in different languages: ``filter:language_mismatch``."""

    enabled: bool = True
    min_confidence: float = Field(
        0.9, ge=0.0, le=1.0, description="both sides must be detected at least this confidently to count as a mismatch"
    )
    exempt_translation: bool = Field(
        True, description="a prompt that asks for a translation or for an answer in a named language is no mismatch"
    )
    same: list[list[str]] = Field(
        default_factory=lambda: [["bs", "hr", "sr"], ["id", "ms"], ["da", "no", "nn"], ["zh", "wuu", "yue"],
                                 ["gl", "pt"], ["ca", "es"]],
        description="groups of languages the detector confuses on short text; no mismatch within a group",
    )


class LanguageConfig(StrictModel):
    """Language and confidence per turn and per row (py3langid's model, compiled); filters on both."""

    enabled: bool = False
    allowed: list[str] = Field(
        default_factory=list, description="ISO 639-1 codes a row's language must be one of (empty: any language)"
    )
    min_confidence: float = Field(
        0.5, ge=0.0, le=1.0,
        description="a row's language counts only at this confidence or more; below it the row is undetermined",
    )
    keep_undetermined: bool = Field(
        True,
        description="undetermined rows (too short, no text, 'zxx', or below min_confidence) pass the filter; "
        "false keeps only rows confidently in an allowed language (datatrove's LanguageFilter)",
    )
    min_chars: int = Field(20, ge=0, description="shorter turns are not judged (language 'und', confidence 0)")
    max_bytes: int = Field(1000, ge=0, description="judge a turn on its first bytes only; 0 = the whole turn")
    strip_code: bool = Field(True, description="leave fenced code blocks (```...```) out of the judged text")
    mismatch: MismatchConfig = Field(default_factory=MismatchConfig)
    workers: int = Field(1, ge=0, description="threads per batch (the engine runs batches side by side); 0 = all cores")
