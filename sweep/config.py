"""The sweep config: one YAML document (``configs/sweep*.yaml``) naming the data variants, the axes, the seeds,
the budget and how every cell is evaluated. ``tome sweep --print-config`` prints it resolved.

```yaml
train_config: configs/train_cpu.yaml      # the base `tome train` config of every cell
train: {model: {max_seq_length: 256}}     # overrides on every cell (any `tome train` key)
data:                                     # named data variants
  curated: {curate: null}                 #   `tome curate` of `input` with a curation config (null: defaults)
  curated_aug: {curate: configs/augment.yaml}
  raw: {raw_of: curated}                  #   the input as it came (every row but the held-out ones)
  reviewed: {folder: reviewed/}           #   any curation output folder (`tome review import`, a mixture, ...)
heldout: curated                          # whose validation + test splits every cell is evaluated on
grid: {data: [raw, curated], training.learning_rate: [1.0e-4, 2.0e-4]}
cells: [{data: curated_aug, training.learning_rate: 2.0e-4}]   # explicit cells, beside or instead of the grid
seeds: [1, 2, 3]
budget: {tokens: 200000}                  # or {steps: N}: the same for every cell unless an axis is the budget
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import Field, field_validator, model_validator

from curation.core.config_base import StrictModel as BaseStrictModel
from tomecraft.config_files import ConfigError, parse_override, parse_value, read_yaml_mapping, validate_model

REPO_ROOT = Path(__file__).resolve().parents[1]
CPU_SWEEP_CONFIG = REPO_ROOT / "configs" / "sweep_cpu.yaml"
DATA_AXIS = "data"
# Training keys that are themselves a budget: an axis over one of them replaces the sweep's budget.
BUDGET_KEYS = ("training.max_tokens", "training.max_steps", "training.num_epochs")
# The variant-level setting (``untrainable_rows``, skip_all on raw variants) that an axis over it replaces.
UNTRAINABLE_AXIS = "data.untrainable_rows"
QUANTS = ("q8_0", "q4_k_m", "q5_k_m", "q4_0", "q4_1", "q5_0", "q5_1", "q6_k", "q3_k_m", "q2_k", "bf16", "f16")


_NONE = object()
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return value


class SweepConfigError(ConfigError):
    """A sweep config that cannot be used; the message names the file and the key."""


class StrictModel(BaseStrictModel):
    """Curation's config base: unknown keys, NaN / infinity and ``true`` for a number are errors."""


class VariantSpec(StrictModel):
    """One named data variant: exactly one of ``folder``, ``curate`` or ``raw_of``."""

    folder: Optional[str] = Field(None, description="an existing curation output folder (reviewed, mixed, curated elsewhere)")
    curate: Optional[str] = Field(None, description="curate `input` with this curation config (the key present with null: the defaults)")
    raw_of: Optional[str] = Field(None, description="the raw side of another (curated) variant: every input row as it came, held-out rows and their duplicates left out")
    input: Optional[str] = Field(None, description="what to curate (as `tome curate --input`); null: the sweep's input")
    set: dict[str, Any] = Field(default_factory=dict, description="curation overrides, e.g. {stages: {augment: {enabled: true}}}")
    untrainable_rows: Optional[Literal["skip", "skip_all", "error"]] = Field(
        None, description="data.untrainable_rows for this variant's cells; null: skip_all for raw_of, else the train config's")

    def kind(self) -> str:
        return "folder" if self.folder is not None else "raw" if self.raw_of is not None else "curate"


class BudgetSpec(StrictModel):
    """The training budget every cell gets: tokens (equal training tokens) or optimizer steps."""

    tokens: Optional[int] = Field(None, ge=1, description="training.max_tokens of every cell")
    steps: Optional[int] = Field(None, ge=1, description="training.max_steps of every cell")

    @model_validator(mode="after")
    def _one(self) -> "BudgetSpec":
        if (self.tokens is None) == (self.steps is None):
            raise ValueError("give exactly one of budget.tokens or budget.steps")
        return self

    def overrides(self) -> dict[str, Any]:
        return {"training.max_tokens": self.tokens} if self.tokens is not None else {"training.max_steps": self.steps}


class EvalSpec(StrictModel):
    """How every cell is evaluated (the same way for all)."""

    loss_split: Literal["validation", "test"] = Field("test", description="held-out split of the `heldout` variant")
    loss_max_rows: Optional[int] = Field(None, ge=1, description="score only the first N rows (null: all)")
    loss_batch_size: int = Field(8, ge=1)
    loss_max_seq_length: Optional[int] = Field(None, ge=8, description="rows truncated to this for the loss; null: the base config's max_seq_length (one value for every cell)")
    checks: bool = Field(True, description="answer the prompt set and run the automatic checks")
    prompts: Optional[str] = Field(None, description="prompt set YAML; null: the seed's three prompts")
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="0: greedy")
    seed: int = Field(0, ge=0)


class ExportSpec(StrictModel):
    """GGUF export of trained cells: file size and CPU decode speed per quantization (llama.cpp, offline)."""

    quants: list[str] = Field(default_factory=lambda: ["q8_0", "q4_k_m", "q5_k_m"])
    cells: Literal["none", "first_seed", "all"] = Field(
        "first_seed", description="which cells: none, the first seed of each configuration, or all")
    cpu_tokens: int = Field(64, ge=8, description="tokens generated on CPU to measure tokens/s")

    @field_validator("quants")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        out = [q.lower() for q in value]
        unknown = [q for q in out if q not in QUANTS]
        if unknown:
            raise ValueError(f"unknown quantization(s) {', '.join(unknown)}; known: {', '.join(QUANTS)}")
        return out

    @model_validator(mode="after")
    def _something_to_export(self) -> "ExportSpec":
        if self.cells != "none" and not self.quants:
            raise ValueError(f"export.cells is {self.cells} but export.quants is empty; name a quantization or set cells: none")
        return self


class SweepConfig(StrictModel):
    """Everything `tome sweep` does, as data."""

    name: Optional[str] = Field(None, description="shown in the results; null: the --out folder's name")
    input: Optional[str] = Field(None, description="what the `curate` variants curate; null: the embedded sample")
    train_config: Optional[str] = Field(None, description="base `tome train` config; null: configs/train.yaml with CUDA, configs/train_cpu.yaml without")
    train: dict[str, Any] = Field(default_factory=dict, description="`tome train` overrides on every cell")
    data: dict[str, VariantSpec] = Field(description="named data variants")
    heldout: Optional[str] = Field(None, description="the variant whose validation + test splits are every cell's held-out data; null: the first curate variant")
    decontaminate: bool = Field(True, description="drop training rows that are exact or near duplicates of a held-out row")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="axis -> values: `data` or any dotted `tome train` key")
    cells: list[dict[str, Any]] = Field(default_factory=list, description="explicit cells (axis -> value), beside the grid")
    seeds: list[int] = Field(default_factory=lambda: [3407], description="training.seed values; every cell runs once per seed")
    budget: Optional[BudgetSpec] = Field(None, description="equal budget per cell (null: what the train config says)")
    eval: EvalSpec = Field(default_factory=EvalSpec)
    export: ExportSpec = Field(default_factory=lambda: ExportSpec(cells="none"))

    @model_validator(mode="before")
    @classmethod
    def _numbers(cls, data: Any) -> Any:
        """YAML reads ``1e-4`` as a string (it wants ``1.0e-4``); axis values that spell a number are numbers."""
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("grid"), dict):
                data["grid"] = {k: [_number(v) for v in vs] if isinstance(vs, list) else vs for k, vs in data["grid"].items()}
            if isinstance(data.get("cells"), list):
                data["cells"] = [{k: _number(v) for k, v in c.items()} if isinstance(c, dict) else c for c in data["cells"]]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "SweepConfig":
        if not self.data:
            raise ValueError("data: name at least one data variant")
        for name, spec in self.data.items():
            given = [k for k in ("folder", "curate", "raw_of") if k in spec.model_fields_set]
            if len(given) != 1:
                raise ValueError(f"data.{name}: give exactly one of folder, curate or raw_of")
            if spec.raw_of is not None and spec.raw_of not in self.data:
                raise ValueError(f"data.{name}.raw_of: no variant named {spec.raw_of!r}")
            if spec.raw_of is not None and self.data[spec.raw_of].kind() == "raw":
                raise ValueError(f"data.{name}.raw_of: {spec.raw_of!r} is itself a raw variant")
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"data.{name}: a variant name is letters, digits, - and _ only")
        if self.heldout is not None and self.heldout not in self.data:
            raise ValueError(f"heldout: no variant named {self.heldout!r}")
        if self.heldout is None and not any(s.kind() == "curate" for s in self.data.values()):
            raise ValueError("heldout: name the variant whose validation and test splits are the held-out data")
        if not self.grid and not self.cells:
            raise ValueError("give a grid, a list of cells, or both")
        for axis, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"grid.{axis}: expected a non-empty list of values")
            twice = next((v for i, v in enumerate(values) if v in values[:i]), _NONE)
            if twice is not _NONE:  # like `seeds: [1, 1]`: a typo, not a wish for fewer cells than listed
                raise ValueError(f"grid.{axis}: {twice!r} is listed twice")
        for i, cell in enumerate(self.cells):
            if not isinstance(cell, dict) or not cell:
                raise ValueError(f"cells[{i}]: expected a mapping of axis -> value")
        for where, axes in [("grid", self.grid)] + [(f"cells[{i}]", c) for i, c in enumerate(self.cells)]:
            for axis, value in axes.items():
                if axis == DATA_AXIS:
                    for v in (value if where == "grid" else [value]):
                        if v not in self.data:
                            raise ValueError(f"{where}.data: no variant named {v!r}")
                elif axis == "training.seed":
                    raise ValueError(f"{where}: seeds go in `seeds`, not in an axis")
                elif "." not in axis:
                    raise ValueError(f"{where}.{axis}: an axis is `data` or a dotted `tome train` key such as training.learning_rate")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: a non-empty list of distinct integers")
        if isinstance(self.train.get("training"), dict) and "seed" in self.train["training"]:
            raise ValueError("train.training.seed: seeds go in `seeds` (every cell sets training.seed from them)")
        axes = set(self.grid).union(*self.cells)
        if UNTRAINABLE_AXIS in axes:
            fixed = next((n for n, s in self.data.items() if s.untrainable_rows is not None), None)
            if fixed is not None:
                raise ValueError(f"data.{fixed}.untrainable_rows and the axis {UNTRAINABLE_AXIS} both set it; "
                                 "keep one")
        return self

    def heldout_variant(self) -> str:
        if self.heldout is not None:
            return self.heldout
        return next(name for name, spec in self.data.items() if spec.kind() == "curate")

    def resolved(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        # a variant keeps only the keys it was given: `curate: null` (the defaults) must stay a curate variant
        out["data"] = {name: spec.model_dump(mode="json", exclude_unset=True) for name, spec in self.data.items()}
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.resolved(), sort_keys=False)


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative file paths in a config file: as given if they exist, else beside the file, else in the repo."""

    def find(value: Any) -> Any:
        if not isinstance(value, str) or not value or Path(value).is_absolute() or Path(value).exists():
            return value
        found = next((b / value for b in (base, REPO_ROOT) if (b / value).exists()), None)
        return str(found) if found is not None else value

    for key in ("train_config", "input"):
        if key in data:
            data[key] = find(data[key])
    for spec in (data.get("data") or {}).values():
        if isinstance(spec, dict):
            for key in ("folder", "curate", "input"):
                if spec.get(key):
                    spec[key] = find(spec[key])
    if isinstance(data.get("eval"), dict) and data["eval"].get("prompts"):
        data["eval"]["prompts"] = find(data["eval"]["prompts"])
    return data


def parse_sweep_override(text: str) -> dict[str, Any]:
    """``budget.tokens=2000`` -> nested dict; under ``grid.`` the rest is one axis name (``grid.training.seed=[1]``)."""
    key, sep, value = text.partition("=")
    if sep and key.strip().startswith("grid.") and len(key.strip()) > len("grid."):
        try:
            return {"grid": {key.strip()[len("grid."):]: parse_value(value, text)}}
        except ConfigError as exc:
            raise SweepConfigError(str(exc)) from None
    return parse_override(text, example="budget.tokens=200000")


def load_sweep_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> SweepConfig:
    """A sweep config from a YAML file, with ``overrides`` deep-merged on top."""
    data: dict[str, Any] = {}
    where = "sweep config"
    if path is not None:
        path = Path(path)
        where = str(path)
        try:
            data = read_yaml_mapping(path)
        except ConfigError as exc:
            raise SweepConfigError(str(exc)) from None
        data = _resolve_paths(data, path.parent)
    try:
        return validate_model(SweepConfig, data, where, overrides)
    except ConfigError as exc:
        raise SweepConfigError(str(exc)) from None
