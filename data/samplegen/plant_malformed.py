"""Lines that break the schema in exactly one way, for validation to quarantine."""

from __future__ import annotations

import json

from .rows import clean_row, make_row
from .writer import Writer


def malformed_line(w: Writer, kind: str, source: str) -> str:
    base = clean_row(w, source, n_ex=1, size=0.6)
    turns = base["conversations"]
    row: dict | list | str
    if kind == "missing_conversations":
        row = {w.pick(["conversation", "messages", "turns", "dialogue"]): turns, "source": source, "score": base["score"], "lang": "en"}
    elif kind == "conversations_not_list":
        value = w.pick(["string", "dict"])
        conv = "\n".join(f"{t['from']}: {t['value']}" for t in turns) if value == "string" else turns[-1]
        row = make_row(conv, source, base["score"])  # type: ignore[arg-type]
    elif kind == "empty_conversations":
        row = make_row([], source, base["score"])
    elif kind == "turn_missing_value":
        i = w.rng.randrange(len(turns))
        turns[i] = {"from": turns[i]["from"], **({"text": turns[i]["value"]} if w.rng.random() < 0.5 else {})}
        row = base
    elif kind == "unknown_role":
        turns[w.rng.randrange(len(turns))]["from"] = "robot"
        row = base
    elif kind == "value_not_string":
        i = w.rng.randrange(len(turns))
        turns[i]["value"] = w.pick([None, 42, 3.5, None, 0])
        row = base
    elif kind == "no_gpt_turn":
        row = make_row([t for t in turns if t["from"] != "gpt"], source, base["score"])
    elif kind == "invalid_json":
        if w.rng.random() < 0.5:
            full = json.dumps(base, ensure_ascii=False)
            return full[: w.rng.randint(20, len(full) - 10)]
        # (the template engine leaves braces and brackets that are not slots or alternations alone)
        return w.fill(w.pick([
            "<<<<<<< HEAD (merged {noun} rows from {name})", "Traceback (most recent call last): {noun} export failed at row {=n}",
            "conversations: human asked about {noun}s and gpt answered", "{'conversations': [{'from': 'human', 'value': '{noun}'}]}",
            "# exported by an old script on day {=n}, do not edit", '{"conversations": [{"from": "human", "value": "{noun} {=n}',
        ]), {"n": w.rng.randint(2, 9999)})
    else:
        raise ValueError(kind)
    return json.dumps(row, ensure_ascii=False)
