"""The plan of a sweep: the grid (and explicit cells) expanded into cells, each one `tome train` run.

A cell is a data variant, a value for every other axis, and a seed. Its training config is the base config, the
sweep's ``train`` overrides, its axis values, its seed (``training.seed``), the sweep's budget (unless one of its
axes is the budget itself: ``training.max_tokens``, ``max_steps`` or ``num_epochs``) and, for a raw variant,
``data.untrainable_rows: skip_all`` (an axis over ``data.untrainable_rows`` replaces that). :func:`train_command`
prints the `tome train` line that reproduces it. Folder names (the cell ids) must differ, even in case only, and fit
in one path component.

Cells run seed-major (every configuration with the first seed, then the second, ...), so a sweep stopped early
still holds one complete pass over the configurations.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweep.config import BUDGET_KEYS, DATA_AXIS, UNTRAINABLE_AXIS, SweepConfig, SweepConfigError
from tomecraft.files import MAX_NAME_BYTES

SEED_KEY = "training.seed"
UNTRAINABLE_KEY = UNTRAINABLE_AXIS


@dataclass(frozen=True)
class Cell:
    """One training run of the sweep."""

    id: str  # folder name under cells/: the axis values and the seed
    group: str  # the id without the seed: cells of one group differ only in their seed
    data: str  # data variant
    axes: dict[str, Any]  # axis -> value, the data axis included, in the sweep's axis order
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted key -> value, on top of the sweep's `train`

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "group": self.group, "data": self.data, "axes": dict(self.axes), "seed": self.seed,
                "overrides": dict(self.overrides)}


def axis_label(axis: str, axes: list[str]) -> str:
    """``training.learning_rate`` -> ``learning_rate`` (the full key, dots as ``_``, when the short one is taken)."""
    short = axis.rsplit(".", 1)[-1]
    clash = sum(1 for a in axes if a.rsplit(".", 1)[-1] == short) > 1
    return axis.replace(".", "_") if clash else short


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "x"


def axes_of(cfg: SweepConfig) -> list[str]:
    """Every axis of the sweep, the data axis first."""
    names = [DATA_AXIS] + [a for a in cfg.grid if a != DATA_AXIS]
    for cell in cfg.cells:
        names += [a for a in cell if a not in names]
    return names


def _configurations(cfg: SweepConfig) -> list[dict[str, Any]]:
    axes = list(cfg.grid)
    combos = [dict(zip(axes, values)) for values in itertools.product(*(cfg.grid[a] for a in axes))] if axes else []
    combos += [dict(c) for c in cfg.cells]
    out: list[dict[str, Any]] = []
    for combo in combos:
        if DATA_AXIS not in combo:
            if len(cfg.data) != 1:
                raise SweepConfigError(f"cell {combo}: no data variant (add a `data` axis, or name a single variant)")
            combo = {DATA_AXIS: next(iter(cfg.data)), **combo}
        if combo not in out:
            out.append(combo)
    return out


def plan_cells(cfg: SweepConfig, base_train: dict[str, Any] | None = None) -> list[Cell]:
    """The cells of ``cfg`` in run order (seed-major). ``base_train`` is the resolved base config merged with the
    sweep's ``train`` overrides (needed only to clear a budget key the base sets that the sweep's budget replaces)."""
    all_axes = axes_of(cfg)
    labels = {a: axis_label(a, all_axes) for a in all_axes}
    configurations = _configurations(cfg)
    cells = []
    for seed in cfg.seeds:
        for combo in configurations:
            ordered = {a: combo[a] for a in all_axes if a in combo}
            parts = [_slug(str(ordered[DATA_AXIS]))] + [
                f"{_slug(labels[a])}-{_slug(format_value(v))}" for a, v in ordered.items() if a != DATA_AXIS]
            group = "__".join(parts)
            overrides: dict[str, Any] = {a: v for a, v in ordered.items() if a != DATA_AXIS}
            if cfg.budget is not None and not any(a in BUDGET_KEYS for a in ordered):
                budget = cfg.budget.overrides()
                overrides.update(budget)
                other = "training.max_steps" if "training.max_tokens" in budget else "training.max_tokens"
                if base_train is not None and _get(base_train, other) is not None:
                    overrides[other] = None  # e.g. a max_steps in the base config, replaced by the token budget
            overrides[SEED_KEY] = seed
            variant = cfg.data[ordered[DATA_AXIS]]
            untrainable = variant.untrainable_rows or ("skip_all" if variant.kind() == "raw" else None)
            if untrainable is not None and UNTRAINABLE_KEY not in ordered:  # an axis over it is the setting
                overrides[UNTRAINABLE_KEY] = untrainable
            cells.append(Cell(f"{group}__seed-{seed}", group, ordered[DATA_AXIS], ordered, seed, overrides))
    first: dict[str, Cell] = {}
    for cell in cells:
        if len(cell.id.encode("utf-8")) > MAX_NAME_BYTES:
            shown = cell.id if len(cell.id) <= 80 else cell.id[:77] + "..."
            raise SweepConfigError(f"cell {shown}: its folder name would be {len(cell.id.encode('utf-8'))} bytes, "
                                   f"more than a file system allows ({MAX_NAME_BYTES}); use shorter axis values")
        # case apart: on macOS and Windows `Raw` and `raw` are one folder
        other = first.setdefault(cell.id.casefold(), cell)
        if other is not cell:  # e.g. 1e-4 and 1.0000001e-4 (both `0.0001`), or model names a/b and a_b
            shown = "; ".join(", ".join(f"{a}={v!r}" for a, v in c.axes.items()) for c in (other, cell))
            raise SweepConfigError(f"two cells would share the folder name {cell.id!r} ({shown}); "
                                   "make the axis values distinct")
    return cells


def _get(tree: dict[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"training.seed": 1}`` -> ``{"training": {"seed": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"training": {"seed": 1}}`` -> ``{"training.seed": 1}`` (lists and scalars are leaves)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def cell_overrides(cfg: SweepConfig, cell: Cell) -> dict[str, Any]:
    """The sweep's ``train`` overrides with the cell's on top, as one nested dict for ``load_config``."""
    from tomecraft.config_files import deep_merge

    return deep_merge(cfg.train, nested(cell.overrides))


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def train_command(cfg: SweepConfig, cell: Cell, data_dir: str | Path, run_dir: str | Path, base_config: str | Path) -> str:
    """The `tome train` line that trains this cell again, key for key."""
    keys = flatten(cfg.train)
    keys.update(cell.overrides)
    args = ["tome", "train", "-d", str(data_dir), "-c", str(base_config)]
    budget = {k: keys.pop(k) for k in ("training.max_tokens", "training.max_steps") if k in keys and keys[k] is not None}
    if keys.get(UNTRAINABLE_KEY) == "skip_all":
        keys.pop(UNTRAINABLE_KEY)
        args.append("--skip-untrainable")
    for key, value in keys.items():
        args += ["--set", f"{key}={_yaml_value(value)}"]
    if "training.max_tokens" in budget:
        args += ["--max-tokens", str(budget["training.max_tokens"])]
    if "training.max_steps" in budget:
        args += ["--max-steps", str(budget["training.max_steps"])]
    args += ["--run", str(run_dir)]
    return " ".join(shlex.quote(a) for a in args)


def parse_train_command(command: str) -> tuple[str, dict[str, Any]]:
    """(config path, overrides) of a :func:`train_command` line, as `tome train` would read them (for checks)."""
    from tomecraft.config_files import deep_merge, parse_override

    args = shlex.split(command)
    overrides: dict[str, Any] = {}
    config = ""
    i = 2
    while i < len(args):
        arg = args[i]
        if arg in ("-c", "--config"):
            config, i = args[i + 1], i + 2
        elif arg == "--set":
            overrides, i = deep_merge(overrides, parse_override(args[i + 1])), i + 2
        elif arg == "--max-tokens":
            overrides, i = deep_merge(overrides, {"training": {"max_tokens": int(args[i + 1])}}), i + 2
        elif arg == "--max-steps":
            overrides, i = deep_merge(overrides, {"training": {"max_steps": int(args[i + 1])}}), i + 2
        elif arg == "--skip-untrainable":
            overrides, i = deep_merge(overrides, {"data": {"untrainable_rows": "skip_all"}}), i + 1
        else:
            i += 2 if arg in ("-d", "--data", "--run", "-r") else 1
    return config, overrides
