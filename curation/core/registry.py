"""The stage registry: every stage's name, config class, kind, reason codes and place in the pipeline.

The config (``stages:`` section), the command line, both engines and the report read this one list. A stage
module ends with one :func:`register` call; the module's import path is listed once in
:data:`BUILTIN_STAGE_MODULES`. That is all it takes for a new stage to run on every engine::

    register(StageSpec(
        name="my_filter", order=55, kind="row", config=MyFilterConfig, build=MyFilter,
        reasons=("filter:my_reason",), summary="drops rows that ...",
    ))

``order`` places the stage (validate 0, normalize 10, exact_dedup 20, near_dedup 30, against 35, semantic_dedup
40, filters 50, balance 70, mix 75, augment 80, split 90); ``build(stage_config, curation_config)`` makes the stage object.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from curation.config import CurationConfig

BUILTIN_STAGE_MODULES = (
    "curation.validate",
    "curation.ids",
    "curation.normalize",
    "curation.pii.stage",
    "curation.language.stage",
    "curation.exact_dedup",
    "curation.near_dedup",
    "curation.against",
    "curation.semantic_dedup",
    "curation.filters",
    "curation.judge.stage",
    "curation.balance",
    "curation.mix",
    "curation.augment.stage",
    "curation.split",
    "curation.decontam.stage",
    "curation.token_lengths.stage",
)


@dataclass(frozen=True)
class StageSpec:
    """One registry entry.

    ``name``: the key under ``stages:`` in the config and in the manifest. ``kind``: ``row`` or ``global``
    (see :mod:`curation.core.stage`). ``config``: the pydantic class of its settings; it has an ``enabled``
    field unless ``always_on``. ``build(stage_config, curation_config)``: the stage object. ``reasons``: the
    reason codes it writes into ``removed.parquet`` (a code ending in ``*`` stands for a family). ``summary``:
    one line for ``--help`` and the report.
    """

    name: str
    order: int
    kind: Literal["row", "global"]
    config: type[BaseModel] | None  # None: no settings (an internal step)
    build: Callable[[Any, "CurationConfig"], Any]
    reasons: tuple[str, ...] = ()
    summary: str = ""
    always_on: bool = False
    # a stage that rewrites text for privacy (PII redaction): ``scrub(stage, text) -> text``. The engines then
    # scrub the raw lines in quarantine.jsonl with it too, and keep no checkpoint of rows before the stage
    scrub: Callable[[Any, str], str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hidden(self) -> bool:
        """An internal step: no config section, no line of its own in the manifest and summary."""
        return self.config is None

    @property
    def field_name(self) -> str:
        """The attribute of the ``stages`` config section (a name pydantic reserves gets a trailing ``_``)."""
        return self.name + "_" if hasattr(BaseModel, self.name) else self.name


_REGISTRY: dict[str, StageSpec] = {}
_builtins_loaded = False


def register(spec: StageSpec) -> StageSpec:
    """Add ``spec`` (or replace the entry of the same name) and return it."""
    clash = next((s for s in _REGISTRY.values() if s.order == spec.order and s.name != spec.name), None)
    if clash is not None:
        raise ValueError(f"stage {spec.name!r}: order {spec.order} is taken by {clash.name!r}")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_STAGE_MODULES:
            importlib.import_module(module)


def stage_specs() -> list[StageSpec]:
    """Every registered stage, in pipeline order."""
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda s: s.order)


def stage_spec(name: str) -> StageSpec:
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; known: {', '.join(s.name for s in stage_specs())}") from None


def is_enabled(spec: StageSpec, stage_config: Any) -> bool:
    return spec.always_on or spec.hidden or bool(getattr(stage_config, "enabled", True))
