"""The pipeline as passes over the data, the same for every engine.

Every registered stage, in order, becomes a :class:`PlannedStage` (built from its config, or switched off).
A *pass* reads the rows once: it first applies the decisions of the global stage before it, then runs the
row stages up to the next global stage, then hands each batch to that global stage's ``keys``; its
``decide`` runs between this pass and the next. So a pipeline with ``k`` global stages reads the rows
``k + 1`` times, and the last pass writes the outputs.

Each planned stage carries a fingerprint over the input, tomecraft's version and the config of it and
every stage before it: a checkpoint left after a stage is valid for a later run with the same fingerprint.
A stage that decides by more than its own config section and the rows (the mix by the inputs' weights and
``max_rows``, which live in ``inputs:``) says so with ``depends_on()``, a JSON-ready value that joins its part
of the fingerprint: ``--resume`` then redoes it, and what follows, when that changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from curation.core.registry import StageSpec, is_enabled, stage_specs
from tomecraft.versions import tomecraft_version


@dataclass
class PlannedStage:
    spec: StageSpec
    enabled: bool
    stage: Any  # the stage object (None when switched off)
    fingerprint: str
    index: int  # place among the stages the manifest lists (hidden steps share the one before)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_global(self) -> bool:
        return self.spec.kind == "global"


@dataclass
class Pass:
    apply: PlannedStage | None  # the global stage whose decisions this pass applies first
    rows: list[PlannedStage] = field(default_factory=list)  # row stages, in order
    collect: PlannedStage | None = None  # the global stage whose keys this pass gathers (None: the last pass)

    def describe(self) -> str:
        names = ([self.apply.name] if self.apply else []) + [s.name for s in self.rows]
        head = " -> ".join(names) if names else "read"
        return f"{head} | keys: {self.collect.name}" if self.collect else f"{head} -> write"


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def build_plan(config, input_fingerprint: str) -> list[PlannedStage]:
    resolved = config.resolved()["stages"]
    fp = _digest(input_fingerprint, tomecraft_version())
    plan: list[PlannedStage] = []
    index = -1
    for spec in stage_specs():
        stage_config = None if spec.hidden else config.stage(spec.name)
        enabled = is_enabled(spec, stage_config)
        stage = spec.build(stage_config, config) if enabled else None
        if stage is not None and getattr(stage, "skip", None) is not None and stage.skip():
            enabled, stage = False, None  # as configured it cannot change anything: no pass for it
        fp = _digest(fp, spec.name, _stage_part(resolved.get(spec.name), stage) if enabled else "off")
        if not spec.hidden:
            index += 1
        plan.append(PlannedStage(spec, enabled, stage, fp, max(index, 0)))
    link_signals(plan)
    return plan


def _stage_part(section: Any, stage: Any) -> Any:
    """A stage's part of the fingerprint: its config section, and what else it decides by (``depends_on()``)."""
    depends_on = getattr(stage, "depends_on", None)
    extra = depends_on() if depends_on is not None else None
    return section if extra is None else {"config": section, "depends_on": extra}


def link_signals(plan: list[PlannedStage]) -> None:
    """Link each global stage's offers to the enabled stage right after it, when that one wants them (see
    :class:`curation.core.stage.GlobalStage`). Only neighbours are linked: a stage in between could change
    the rows' text the values were computed from."""
    enabled = [p for p in plan if p.enabled]
    for planned, after in zip(enabled, enabled[1:]):
        if not (planned.is_global and after.is_global):
            continue
        shared = frozenset(planned.stage.offers() & after.stage.wants())
        if shared:
            planned.stage.link(give=shared, take=frozenset())
            after.stage.link(give=frozenset(), take=shared)


def cut_passes(plan: list[PlannedStage]) -> list[Pass]:
    passes = [Pass(apply=None)]
    for planned in plan:
        if not planned.enabled:
            continue
        if planned.is_global:
            passes[-1].collect = planned
            passes.append(Pass(apply=planned))
        else:
            passes[-1].rows.append(planned)
    return passes
