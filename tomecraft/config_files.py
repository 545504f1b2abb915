"""Config files for every command: one YAML mapping, ``--set KEY=VALUE`` overrides, deep merge, one error type.

``tome curate``, ``tome train`` and ``tome eval`` all read their config through :func:`load_model_config`,
so a bad file gives the same one-line message everywhere: the file, the dotted key and what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Any, Iterable, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from tomecraft.files import LONE_SURROGATE, link_loop, too_long

M = TypeVar("M", bound=BaseModel)


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the field."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden key by key
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {first[key] + 1})", key_node.start_mark)
                first[key] = key_node.start_mark.line
            except TypeError:  # an unhashable key: PyYAML's own error follows
                continue
        return super().construct_mapping(node, deep)


_BOOL = "tag:yaml.org,2002:bool"
# YAML 1.2's booleans: only true and false. PyYAML follows YAML 1.1, where yes/no/on/off/y/n are booleans too, so
# a language code (`allowed: [en, no]`) or a name became False. A boolean field still takes yes/no/on/off: pydantic
# reads those words as booleans.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# YAML 1.2's numbers in exponent notation: `1e3`, `2e-4`. YAML 1.1 wants a dot (`1.0e+3`) and read `batch_rows: 1e3`
# as text, which an integer key then refused, although `--set engine.batch_rows=1e3` was taken (:func:`parse_value`).
_FLOAT = "tag:yaml.org,2002:float"
_UniqueKeyLoader.add_implicit_resolver(_FLOAT, re.compile(r"^" + _EXPONENT.pattern + r"$"), list("-+.0123456789"))


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    if _EXPONENT.fullmatch(text.strip()):  # `1e3` is the integer 1000, `1.5e3` and `2e-4` floats
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    return yaml.SafeLoader.construct_yaml_float(loader, node)


_UniqueKeyLoader.add_constructor(_FLOAT, _construct_float)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, which quotes a text that :func:`load_yaml` would read as a number (``'1e3'``)."""


_Dumper.add_implicit_resolver(_FLOAT, re.compile(r"^" + _EXPONENT.pattern + r"$"), list("-+.0123456789"))


def dump_yaml(data: Any) -> str:
    """``yaml.safe_dump(data, sort_keys=False)`` that :func:`load_yaml` reads back as ``data``: a text that reads
    as a number there (``1e3``) is quoted."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


# deeper than any config, prompt file or grid needs; PyYAML composes a document recursively (a thousand nested
# ``[`` ended the command with a RecursionError), and every reader after it walks the value recursively too
MAX_DEPTH = 100


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, except that a duplicate key is a :class:`yaml.YAMLError` and, as in YAML 1.2,
    only true/false are booleans (``no``, ``off``, ``y`` are text) and ``1e3`` / ``2e-4`` are numbers; a value
    nested more than :data:`MAX_DEPTH` lists or mappings deep is a :class:`yaml.YAMLError` too."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except RecursionError:
        raise yaml.YAMLError(f"nested too deeply (more than {MAX_DEPTH} lists or mappings deep)") from None
    if _depth_over(data, MAX_DEPTH):
        raise yaml.YAMLError(f"nested too deeply (more than {MAX_DEPTH} lists or mappings deep)")
    return data


def _depth_over(data: Any, limit: int) -> bool:
    """Is ``data`` nested more than ``limit`` lists or mappings deep? (Walked without recursion; a value YAML
    anchors share is walked once per place it is used, as its readers walk it.)"""
    todo = [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            todo.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False


def read_yaml_file(path: str | Path, what: str = "config file") -> Any:
    """The YAML document in ``path`` (a file, or a pipe such as ``<(...)`` gives); a missing file, a folder, text
    that is not UTF-8 or not YAML (duplicate keys included), or a name longer than a file system allows (its first
    look raised ``OSError: File name too long``), is a :class:`ConfigError` of one line that names the file."""
    path = Path(path)
    problem = too_long(path)
    if problem is not None:
        raise ConfigError(f"{path}: {problem}; give the {what} a shorter one")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the YAML {what}")
    if not path.exists():  # (a pipe or device, as `-c <(...)` and `-c /dev/null` give, is read as a file)
        loop = link_loop(path)  # (exists() is False for a link that points back at itself, or a folder that does)
        raise ConfigError(f"{path}: {loop}" if loop else f"{path}: {what} not found")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(exc)}") from None


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file (an empty file is an empty mapping)."""
    data = read_yaml_file(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def yaml_problem(exc: yaml.YAMLError, where: bool = True) -> str:
    """PyYAML's several-line error as one line: ``line 2, column 1: found character '\\t' ...``."""
    mark = getattr(exc, "problem_mark", None)
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if where and mark is not None else problem


def _shown(text: str, limit: int = 80) -> str:
    """``repr(text)`` for an error line, cut to about ``limit`` characters (a value thousands of characters long,
    pasted or generated, filled the terminal with one line)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def parse_value(value: str, text: str) -> Any:
    """The VALUE of ``--set KEY=VALUE`` (``text``), parsed as YAML as config files are (:func:`load_yaml`):
    ``1e3`` / ``2e-4`` are numbers, ``'1e3'`` (quoted) is text."""
    try:
        return load_yaml(value)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {_shown(text)}: value is not valid YAML: {yaml_problem(exc, where=False)}") from None


def parse_override(text: str, example: str = "stages.near_dedup.threshold=0.7") -> dict[str, Any]:
    """``a.b.c=VALUE`` -> ``{"a": {"b": {"c": VALUE}}}``, the value parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {_shown(text)}: expected KEY=VALUE, e.g. {example}")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {_shown(text)}: empty key part in {_shown(key)}")
    parsed = parse_value(value, text)
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
    """``extra`` on top of ``base``: mappings merge key by key, anything else replaces; a mapping of item numbers
    on top of a list changes those items (``--set inputs.0.weight=2``: the first input's weight)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        elif isinstance(value, dict) and value and isinstance(out.get(key), list) and all(
                str(i).isdigit() and int(i) < len(out[key]) for i in value):
            items = list(out[key])
            for i, item in value.items():
                old = items[int(i)]
                items[int(i)] = deep_merge(old, item) if isinstance(item, dict) and isinstance(old, dict) else item
            out[key] = items
        else:
            out[key] = value
    return out


def _leaf_paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            paths.extend(_leaf_paths(value, prefix + (str(key),)))
        else:
            paths.append(prefix + (str(key),))
    return paths


def _mapping_at(data: Any, loc: tuple[Any, ...]) -> bool:
    """Whether ``data`` holds a mapping at ``loc`` (which overrides below ``loc`` merge into)."""
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return isinstance(data, dict)


def _model_in(annotation: Any) -> Any:
    """``X`` of ``X``, ``X | None`` or ``Optional[X]`` where X is a pydantic model, else ``annotation``."""
    if get_origin(annotation) in (Union, UnionType):
        return next((t for t in get_args(annotation) if isinstance(t, type) and issubclass(t, BaseModel)), annotation)
    return annotation


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the (nested) model at ``loc`` accepts (through ``dict[str, Model]`` values and ``list[Model]``
    items too); empty where ``loc`` is not a model."""
    node: Any = model
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = {f.alias or name: f for name, f in node.model_fields.items()}
            if str(part) not in fields:
                return []
            node = _model_in(fields[str(part)].annotation)
        elif get_origin(node) is dict and len(get_args(node)) == 2:
            node = _model_in(get_args(node)[1])
        elif get_origin(node) is list and len(get_args(node)) == 1:  # an item of a list of models (inputs.0)
            node = _model_in(get_args(node)[0])
        else:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return [f.alias or name for name, f in node.model_fields.items()]
    return []


def _error_line(model: type[BaseModel], err: Any) -> str:
    loc = tuple(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if loc and loc[-1] == "[key]":  # pydantic's marker for a mapping's key (not its value) at loc[:-1]
        loc, msg = loc[:-1], f"invalid key: {msg}"
    if err["type"] == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        msg = "unknown key" + (f" (known: {', '.join(known)})" if known else "")
    elif err["type"] == "model_type":
        msg = "expected a mapping of keys"
    elif err["type"] == "list_type" and isinstance(err.get("input"), dict) and all(str(k).isdigit() for k in err["input"]):
        key = ".".join(str(p) for p in loc)  # `--set KEY.0=...` of a list the file does not hold (or past its end)
        msg = (f"a list: give it whole (--set '{key}=[...]'); KEY.N changes item N of a list the config file "
               f"holds ({', '.join(f'{key}.{k}' for k in err['input'])} is not one)")
    if err["type"] not in ("extra_forbidden", "value_error") and "input" in err and not isinstance(err["input"], (dict, list)):
        msg += f" (got {err['input']!r})"
    return (".".join(str(p) for p in loc) + ": " if loc else "") + msg


def _source(loc: tuple[Any, ...], where: str, base: dict[str, Any], overrides: dict[str, Any] | None, label: str) -> str:
    """``where`` (the file), ``label`` when the value at ``loc`` came from an override, or both when it is a merge."""
    if not overrides or not loc:
        return where
    loc = tuple(str(p) for p in loc)
    paths = _leaf_paths(overrides)
    if any(loc[: len(p)] == p for p in paths):
        return label
    if any(p[: len(loc)] == loc for p in paths):
        return f"{where} + {label}" if _mapping_at(base, loc) else label
    return where


def _lone_surrogate(value: Any, loc: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str] | None:
    """``(where, the character)`` of the first lone surrogate in a string of ``value`` (a key or a value, at any
    depth: YAML and JSON read ``"\\ud800"`` as one), or None. A config's strings end in output files (a name in
    every row, a placeholder in the text, a key in the manifest), and UTF-8 cannot hold a lone surrogate."""
    if isinstance(value, str):
        bad = LONE_SURROGATE.search(value)
        return (loc, bad.group()) if bad is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _lone_surrogate(key, (*loc, key)) or _lone_surrogate(item, (*loc, key))
            if found is not None:
                return found
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if (found := _lone_surrogate(item, (*loc, i))) is not None:
                return found
    return None


def validate_model(
    model: type[M], data: dict[str, Any], where: str = "config", overrides: dict[str, Any] | None = None,
    overrides_label: str = "--set",
) -> M:
    """``model.model_validate(deep_merge(data, overrides))``, with pydantic's errors turned into
    ``where: dotted.key: message`` lines (``where`` is ``overrides_label`` for a value an override gave)."""
    merged = deep_merge(data, overrides) if overrides else data
    if (found := _lone_surrogate(merged)) is not None:
        loc, char = found
        raise ConfigError(f"{_source(loc, where, data, overrides, overrides_label)}: {'.'.join(map(str, loc))}: holds "
                          f"the lone surrogate {char!r}, which is no character (UTF-8 cannot hold it); write the "
                          "character itself")
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            source = _source(tuple(err["loc"]), where, data, overrides, overrides_label)
            lines.append(f"{source}{' ' if source == '--set' else ': '}{_error_line(model, err)}")
        raise ConfigError("\n".join(lines)) from None


def load_model_config(
    model: type[M], path: str | Path | None = None, overrides: dict[str, Any] | None = None,
    overrides_label: str = "--set",
) -> M:
    """The config in ``path`` (None: the defaults) with ``overrides`` deep-merged on top, validated by ``model``;
    an error in a value the overrides gave is blamed on ``overrides_label``, not on the file."""
    data = read_yaml_mapping(path) if path is not None else {}
    return validate_model(model, data, str(path) if path is not None else "config", overrides, overrides_label)
