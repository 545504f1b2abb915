"""The curation config: one validated YAML document, every stage switchable and configurable.

The ``stages:`` section has one entry per stage of the registry (:mod:`curation.core.registry`), in
pipeline order, each validated by that stage's own config class. ``tome curate --print-config`` prints the
defaults; ``--config FILE`` overrides any part of them; ``--set KEY=VALUE`` overrides one key. The resolved
config is written whole into every run's ``manifest.json``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, create_model

from curation.core import registry
from curation.core.config_base import StrictModel
from tomecraft.config_files import ConfigError, load_model_config, parse_override

# the splits' shapes (``format:``, ``--format``; curation.card writes them)
OutputFormat = Literal["finetome", "messages", "both"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)

__all__ = ["ConfigError", "CurationConfig", "EngineConfig", "config_model", "load_config", "parse_override"]


class EngineConfig(StrictModel):
    """How the work is cut into batches and where it waits; results never depend on these."""

    # upper bounds, so that a typo is a config error, not a traceback mid-run: a batch size past 2**63 overflows
    # Arrow's C++ and 10**20 workers overflow the thread pool's queue; no run needs 2**31 rows a batch or
    # more than 1024 threads
    batch_rows: int = Field(16_384, ge=1, le=2**31 - 1, description="rows per batch in flight")
    workers: int = Field(0, ge=0, le=1024, description="threads that run stages on batches side by side; 0 = all cores")
    memory_mb: int = Field(
        192, ge=0, description="rows kept in memory between passes up to this many MB; the rest spill to disk "
        "(0: every pass spills; passes that spill leave checkpoints for --resume)"
    )


class _CurationBase(StrictModel):
    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def stage(self, name: str) -> Any:
        """The config of stage ``name``."""
        return getattr(self.stages, registry.stage_spec(name).field_name)


@lru_cache(maxsize=16)
def _build(stages: tuple) -> type[_CurationBase]:
    fields: dict[str, Any] = {}
    for name, alias, config, summary in stages:
        fields[name] = (config, Field(default_factory=config, alias=alias, description=summary))
    stages = create_model(
        "StagesConfig",
        __config__=ConfigDict(extra="forbid", populate_by_name=True, validate_assignment=True),
        **fields,
    )
    from curation.inputs import InputConfig

    return create_model(
        "CurationConfig",
        __base__=_CurationBase,
        __doc__="Everything `tome curate` does, as data.",
        inputs=(list[InputConfig], Field(default_factory=list, description="several inputs, mixed (see curation/inputs.py); "
                                          "left out: the one --input, or the embedded sample; an empty list is an error")),
        stages=(stages, Field(default_factory=stages)),
        engine=(EngineConfig, Field(default_factory=EngineConfig)),
        checkpoint=(bool, Field(True, description="leave a checkpoint after each stage (needed by --resume)")),
        report=(bool, Field(True, description="write report.html / report.md at the end")),
        format=(OutputFormat, Field("finetome", description=(
            "the splits' shape: finetome (always written; every tome command reads it); messages: also "
            "messages/{split}.parquet ({role, content}, as TRL's SFTTrainer takes it), the card's default; both: both "
            "configs in the card (--format overrides it)"))),
    )


def config_model() -> type[_CurationBase]:
    """The config class for the stages registered now (the same class whenever the same stages are)."""
    return _build(tuple(
        (spec.field_name, spec.name if spec.field_name != spec.name else None, spec.config, spec.summary)
        for spec in registry.stage_specs() if not spec.hidden
    ))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None):
    """The config in ``path`` (None: defaults) with ``overrides`` deep-merged on top."""
    return load_model_config(config_model(), path, overrides)


def __getattr__(name: str) -> Any:
    # ``CurationConfig`` is the config class of the registry as it is now; each stage's config class is
    # reachable here too (``from curation.config import FiltersConfig``)
    if name == "CurationConfig":
        return config_model()
    for spec in registry.stage_specs():
        if spec.config is not None and spec.config.__name__ == name:
            return spec.config
    raise AttributeError(f"module 'curation.config' has no attribute {name!r}")
