"""Config files for every command: one YAML mapping, ``--set KEY=VALUE`` overrides, deep merge, one error type.

``tome curate``, ``tome train`` and ``tome eval`` all read their config through :func:`load_model_config`,
so a bad file gives the same one-line message everywhere: the file, the dotted key and what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the field."""


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file (an empty file is an empty mapping)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def parse_override(text: str, example: str = "stages.near_dedup.threshold=0.7") -> dict[str, Any]:
    """``a.b.c=VALUE`` -> ``{"a": {"b": {"c": VALUE}}}``, the value parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. {example}")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {text!r}: empty key part in {key!r}")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML: {exc}") from None
    node: dict[str, Any] = {}
    cursor = node
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = parsed
    return node


def parse_overrides(items: Iterable[str], example: str = "stages.near_dedup.threshold=0.7") -> dict[str, Any]:
    """Every ``--set`` of a command line, merged in order (a later one wins)."""
    merged: dict[str, Any] = {}
    for item in items:
        merged = deep_merge(merged, parse_override(item, example))
    return merged


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` on top of ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def validate_model(model: type[M], data: dict[str, Any], where: str = "config") -> M:
    """``model.model_validate(data)``, with pydantic's errors turned into ``where: dotted.key: message`` lines."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{where}: " + ".".join(str(p) for p in err["loc"]) + f": {err['msg']}" for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def load_model_config(
    model: type[M], path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> M:
    """The config in ``path`` (None: the defaults) with ``overrides`` deep-merged on top, validated by ``model``."""
    data = read_yaml_mapping(path) if path is not None else {}
    if overrides:
        data = deep_merge(data, overrides)
    return validate_model(model, data, str(path) if path is not None else "config")
