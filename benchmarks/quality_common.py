"""What the quality benchmarks share: real chat rows as an Arrow column, machine facts, writing results.

Results go to ``benchmarks/results/<name>.md`` (a table per measurement, the machine and its load average)
and ``<name>.json`` (the same numbers, raw).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "benchmarks" / "results"
SHARED_ROWS = REPO.parent / "shared" / "data" / "instructions" / "alpaca_en_demo.finetome.jsonl"
TURNS = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def chat_rows(path: Path = SHARED_ROWS) -> list[list[dict[str, str]]]:
    """The conversations of a FineTome-shaped JSONL file (malformed lines and odd roles left out)."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                turns = json.loads(line)["conversations"]
                if turns and all(isinstance(t.get("value"), str) and t.get("from") in ("human", "gpt", "system")
                                 for t in turns):
                    out.append([{"from": t["from"], "value": t["value"]} for t in turns])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return out


def column(rows: list[list[dict[str, str]]], n: int) -> pa.Array:
    """``n`` rows (the given ones repeated) as a conversations column."""
    reps = -(-n // len(rows))
    return pa.array((rows * reps)[:n], TURNS)


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d"),
    }


def md_table(head: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
        return f"{v:,}" if isinstance(v, int) else str(v)

    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_results(name: str, title: str, sections: list[tuple[str, str]], raw: dict[str, Any]) -> Path:
    """``sections``: (heading, markdown body). Also prints the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    raw = {"machine": info, **raw}
    (RESULTS / f"{name}.json").write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    text = [f"# {title}\n", f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, Python "
            f"{info['python']}; load average at the end {info['load_average']} (a shared machine: wall times "
            f"stretch with the load; CPU seconds are given where they matter). {info['date']}.\n"]
    for heading, body in sections:
        text += [f"## {heading}\n", body]
    md = "\n".join(text)
    (RESULTS / f"{name}.md").write_text(md, encoding="utf-8")
    print(md)
    return RESULTS / f"{name}.md"


class Timer:
    """Wall and process-CPU seconds of a block."""

    def __enter__(self) -> "Timer":
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0
