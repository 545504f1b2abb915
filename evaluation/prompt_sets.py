"""Prompt sets: the prompts to answer and the checks each answer must pass.

The default set is the seed's three prompts (:data:`serving.prompts.SEED_PROMPTS`, the single source of
their text) with checks for what each one asks. A YAML file can replace it::

    prompts:
      - id: japan_trip
        text: "Plan a 5 day trip to Japan ... Assume the budget is $4,000."
        checks:
          - {name: days_covered, days: 5}
          - {name: budget_within, budget: 4000}
      - id: free_form
        text: "Write a haiku about the sea."     # no checks: answers only

``tome eval prompts`` prints the set in this form. JSON is YAML too (``{"prompts": [...]}`` or a bare list of
entries), and a ``.jsonl`` file holds one entry per line (``{"id": "a", "text": "..."}``, or a string).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evaluation.checks import CHECKS, OPTIONS, CheckResult, check_params, run_check
from tomecraft.config_files import ConfigError, read_yaml_file

CULTURAL_TERMS = ("temple", "shrine", "tea ceremony", "kabuki", "geisha", "kimono", "ryokan", "onsen", "museum",
                  "castle", "garden", "festival", "calligraphy", "noh", "sumo", "zen", "pagoda", "samurai", "sushi",
                  "market", "traditional")


@dataclass(frozen=True)
class CheckSpec:
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass(frozen=True)
class PromptSpec:
    id: str
    text: str
    checks: tuple[CheckSpec, ...] = ()
    system: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.system:
            out["system"] = self.system
        out["checks"] = [c.as_dict() for c in self.checks]
        return out

    def messages(self) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return msgs + [{"role": "user", "content": self.text}]


def default_prompt_set() -> list[PromptSpec]:
    """The seed's three prompts, each with the checks its instructions allow a program to verify."""
    from serving.prompts import SEED_PROMPTS

    trip, photosynthesis, energy = SEED_PROMPTS
    common = (CheckSpec("no_repetition"),)
    return [
        PromptSpec("japan_trip", trip, (
            CheckSpec("days_covered", {"days": 3}),
            CheckSpec("budget_breakdown", {"min_items": 3}),
            CheckSpec("budget_within", {"budget": 3000}),
            CheckSpec("keywords", {"terms": list(CULTURAL_TERMS), "min_count": 2, "label": "cultural_focus"}),
        ) + common),
        PromptSpec("photosynthesis", photosynthesis, (
            CheckSpec("both_audiences", {"min_words": 30}),
            CheckSpec("terminology_gap", {"min_terms": 3}),
        ) + common),
        PromptSpec("island_energy", energy, (
            CheckSpec("single_choice", {"options": {k: list(v) for k, v in OPTIONS.items()}}),
            CheckSpec("reasons", {"min_reasons": 3}),
            CheckSpec("challenges_section", {"min_words": 8}),
        ) + common),
    ]


class PromptSetError(ValueError):
    """A prompt file that cannot be used; the message names the file and the entry."""


JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
KEYS = ("id", "text", "system", "checks")  # what a prompt entry may hold
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def load_prompt_set(path: str | Path | None) -> list[PromptSpec]:
    """The prompts of a YAML file (see the module doc), or the default set when ``path`` is None."""
    if path is None:
        return default_prompt_set()
    path = Path(path)
    entries = _read_entries(path)
    out: list[PromptSpec] = []
    seen: set[str] = set()
    for i, (where, entry) in enumerate(entries):
        if isinstance(entry, str):
            entry = {"text": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str) or not entry["text"].strip():
            unknown = sorted(str(k) for k in entry if k not in KEYS) if isinstance(entry, dict) else []
            hint = f" (unknown key {', '.join(unknown)}; known: {', '.join(KEYS)})" if unknown and "text" not in entry else ""
            if isinstance(entry, dict) and entry.get("text") is not None and not isinstance(entry["text"], str):
                hint = f" ('text' is {type(entry['text']).__name__}, not text: quote it)"
            raise PromptSetError(f"{where}: needs a non-empty 'text'{hint}")
        given_id = entry.get("id")
        if given_id is not None and (isinstance(given_id, bool) or not isinstance(given_id, (str, int))):
            raise PromptSetError(f"{where}: 'id' must be text (got {type(given_id).__name__})")
        pid = str(given_id) if given_id not in (None, "") else f"prompt_{i + 1}"
        if bad := _unprintable(entry, pid):
            raise PromptSetError(f"{where} (prompt {pid!r}): {bad}")
        if not pid.strip() or "\n" in pid or "\r" in pid:  # a column header and a progress line: one visible line
            raise PromptSetError(f"{where}: 'id' must be one line of text (got {pid!r})")
        if pid in seen:
            named = "" if given_id not in (None, "") else " (the id given to an entry without one)"
            raise PromptSetError(f"{where}: duplicate id {pid!r}{named}")
        seen.add(pid)
        if unknown := sorted(str(k) for k in entry if k not in ("id", "text", "system", "checks")):
            raise PromptSetError(f"{where} (prompt {pid!r}): unknown key {', '.join(unknown)} (known: id, text, system, checks)")
        if entry.get("system") is not None and not isinstance(entry["system"], str):
            raise PromptSetError(f"{where} (prompt {pid!r}): 'system' must be text")
        if not isinstance(entry.get("checks") or [], list):
            raise PromptSetError(f"{where} (prompt {pid!r}): 'checks' must be a list of checks (got {entry['checks']!r})")
        checks = []
        for j, check in enumerate(entry.get("checks") or []):
            check = {"name": check} if isinstance(check, str) else check
            if not isinstance(check, dict) or not isinstance(check.get("name"), str) or check["name"] not in CHECKS:
                raise PromptSetError(f"{where}.checks[{j}]: unknown check {check!r}; known: {', '.join(sorted(CHECKS))}")
            params = {k: v for k, v in check.items() if k != "name"}
            try:
                check_params(check["name"], params)
            except ValueError as exc:
                raise PromptSetError(f"{where}.checks[{j}] (prompt {pid!r}, check {check['name']}): {exc}") from None
            checks.append(CheckSpec(check["name"], params))
        out.append(PromptSpec(pid, entry["text"], tuple(checks), entry.get("system")))
    return out


def _read_entries(path: Path) -> list[tuple[str, Any]]:
    """(where, entry) of each prompt in the file: ``prompts[i]`` of a YAML / JSON document, ``line n`` of JSON Lines.

    YAML has no UTF-16 pairs: its ``"\\ud83d\\ude00"`` (how ``json.dumps`` writes 😀) is read as two lone
    surrogates, which JSON reads as the one character they encode; so are they here."""
    if path.suffix.lower() in JSON_LINES_SUFFIXES:
        entries = _read_json_lines(path)
    else:
        try:
            data = _read_json_fast(path) if path.suffix.lower() == ".json" else _NOT_READ
            if data is _NOT_READ:
                data = read_yaml_file(path, "prompt file")
        except ConfigError as exc:
            if path.suffix.lower() == ".json" and path.is_file():  # a .json file is JSON to its writer: say so
                problem = _json_problem(path) or str(exc).replace(": not valid YAML: ", ": not valid JSON: ", 1)
                raise PromptSetError(problem) from None
            raise PromptSetError(str(exc)) from None
        if data is None:  # an empty file (or only comments): the old message asked for a list under 'prompts'
            raise PromptSetError(
                f"{path}: no prompts (the file is empty or only comments); see `tome eval prompts` for the format")
        listed = data.get("prompts") if isinstance(data, dict) else data
        if isinstance(listed, list) and not listed:
            raise PromptSetError(f"{path}: no prompts (the list under 'prompts' is empty)")
        if not isinstance(listed, list):
            raise PromptSetError(f"{path}: expected a list under 'prompts'")
        entries = [(f"{path}: prompts[{i}]", entry) for i, entry in enumerate(listed)]
    return [(where, _join_surrogate_pairs(entry)) for where, entry in entries]


_NOT_READ = object()


def _read_json_fast(path: Path) -> Any:
    """A ``.json`` prompt file read by the json module (PyYAML, which reads it too, took 40 s for 20 MB), or
    `_NOT_READ` when only YAML can say what it holds or what is wrong (a duplicate key, a trailing comma, a
    syntax error: its message names the line)."""
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    text = read_text_file(path)  # (a folder, a missing file, text that is not UTF-8: one line naming it)
    if not text.strip():
        return None
    try:
        return json.loads(text, object_pairs_hook=unique, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return _NOT_READ


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: YAML reads them as text, as before


def _json_problem(path: Path) -> str | None:
    """``PATH: not valid JSON (what, line L, column C)`` for a ``.json`` prompt file that YAML could not read, or
    None when JSON cannot say more (it is read as YAML, of which JSON is a part)."""
    try:
        json.loads(path.read_bytes().decode("utf-8-sig"))
    except json.JSONDecodeError as exc:
        return f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except (OSError, UnicodeDecodeError, RecursionError):
        return None
    return None


def _read_json_lines(path: Path) -> list[tuple[str, Any]]:
    try:
        text = read_text_file(path)
    except ConfigError as exc:
        raise PromptSetError(str(exc)) from None
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append((f"{path}: line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise PromptSetError(f"{path}: line {n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not entries:
        raise PromptSetError(f"{path}: no prompts (no line holds one)")
    return entries


def read_text_file(path: Path) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark dropped); a :class:`ConfigError` naming the file otherwise."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give the prompt file")
    if not path.is_file():
        raise ConfigError(f"{path}: prompt file not found")
    try:
        raw = path.read_bytes()
        return raw.decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it as UTF-8") from None


def _join_surrogate_pairs(value: Any) -> Any:
    """``value`` with each UTF-16 surrogate pair in its strings (keys included) as the character it encodes."""
    if isinstance(value, str):
        if not _SURROGATE_PAIR.search(value):
            return value
        return _SURROGATE_PAIR.sub(lambda m: m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"), value)
    if isinstance(value, dict):
        return {_join_surrogate_pairs(k): _join_surrogate_pairs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_surrogate_pairs(v) for v in value]
    return value


def _unprintable(entry: dict[str, Any], pid: str) -> str | None:
    """What makes a prompt's text unusable, or None: a lone UTF-16 surrogate (YAML's ``"\\ud800"``, no character:
    no tokenizer takes it, no UTF-8 file holds it) or a control character (NUL, ...; tab, LF and CR are text)
    anywhere in its id, text, system prompt or check parameters."""
    from curation.repair import repair_string

    def strings(value: Any, where: str):
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from strings(str(k), where)
                yield from strings(v, f"{where}.{k}")
        elif isinstance(value, list):
            for n, v in enumerate(value):
                yield from strings(v, f"{where}[{n}]")

    for where, text in [("id", pid), *strings({k: v for k, v in entry.items() if k != "id"}, "")]:
        kinds = repair_string(text)[1]
        if kinds:
            what = " and ".join({"lone_surrogate": "a lone surrogate (not a character)",
                                 "control_chars": "a control character"}[k] for k in kinds)
            return f"{where.lstrip('.') or 'a key'} holds {what}; remove it"
    return None


def prompt_set_yaml(prompts: list[PromptSpec]) -> str:
    return yaml.safe_dump({"prompts": [p.as_dict() for p in prompts]}, sort_keys=False, allow_unicode=True, width=100)


def score_answer(prompt: PromptSpec, answer: str) -> list[CheckResult]:
    """Every check of ``prompt`` on ``answer``, in the prompt's order."""
    return [run_check(answer, c.name, c.params) for c in prompt.checks]
