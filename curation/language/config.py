"""The language stage's config (``stages.language``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from curation.core.config_base import StrictModel

# the labels of py3langid's model (curation.language.model; a test keeps this list equal to the packaged model's),
# so that a code the detector never gives is an error in the config, not a filter that drops every row
MODEL_LANGUAGES = frozenset("""
ace af am an ar ary arz as az ba bcl be bg bn br bs ca crh cs cy da de dz el en eo es et eu ext fa fi fo fr fuv fy ga
gcf gcr gd gl gom grc gu gug guw ha hbo he hi hr ht hu hy id ig is it ja jv ka kab kik kk km kn ko ku ky la lb lg lij
ln lo lt ltg lv mg mk ml mn mr ms mt my ne nl nn no nso oc om or pa pcm pl ps pt qu ro ru rw sa sdh se si sk sl sn so
sq sr st sv sw ta te tg th tk tl tr tt ug uk ur uz uzs vec vi vo wa wuu xh yo yue zh zu zxx
""".split())


def language_codes(codes: list[str]) -> list[str]:
    """Codes as the model writes them: lower case, a region or script subtag dropped (``EN``, ``en-US``,
    ``pt_BR`` -> ``en``, ``en``, ``pt``); a code the model does not know is an error naming it."""
    out = []
    for code in codes:
        norm = code.strip().lower().replace("_", "-").split("-")[0]
        if norm not in MODEL_LANGUAGES:
            raise ValueError(f"{code!r} is not a language the detector knows; use its codes (ISO 639-1 "
                             f"where there is one): {' '.join(sorted(MODEL_LANGUAGES))}")
        out.append(norm)
    return out


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

    @field_validator("same")
    @classmethod
    def _known_codes(cls, groups: list[list[str]]) -> list[list[str]]:
        return [language_codes(g) for g in groups]


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
    workers: int = Field(1, ge=0, le=1024, description="threads per batch (the engine runs batches side by side); 0 = all cores")

    @field_validator("allowed")
    @classmethod
    def _known_codes(cls, codes: list[str]) -> list[str]:
        return language_codes(codes)
