"""The results of a sweep as data: one record per cell, one per configuration (its seeds together), the verdicts.

``results.json`` holds all of it; :mod:`sweep.report` renders ``results.md`` and ``results.html`` from it.

A cell whose held-out loss is NaN or infinite (a run that diverged, e.g. at too high a learning rate) has no place
in a mean or a standard deviation: its record keeps ``heldout_loss: null`` and says ``diverged: "nan"`` (or
``"inf"``), it is listed apart and left out of the configuration statistics and the verdicts. No NaN or infinity
reaches ``results.json`` (strict JSON) or a table.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any, Sequence

from sweep.config import SweepConfig
from sweep.plan import axes_of
from sweep.verdicts import all_verdicts


class ResultsError(ValueError):
    """A ``results.json`` that cannot be rendered; the message names the file."""


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity (in lists and mappings too) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def mark_diverged(record: dict[str, Any]) -> dict[str, Any]:
    """A cell record whose held-out loss is not a finite number: ``heldout_loss`` None, ``diverged`` its value."""
    loss = record.get("heldout_loss")
    if isinstance(loss, (int, float)) and not isinstance(loss, bool) and not math.isfinite(loss):
        record["diverged"] = str(loss)
    if record.get("diverged"):
        record["heldout_loss"] = None
    return finite(record)


def cell_record(status) -> dict[str, Any]:  # noqa: ANN001 - runner.CellStatus
    """Everything measured on one cell, flat (None where it did not run)."""
    from sweep.runner import CELL_FILE, EVAL_FILE, EXPORT_FILE

    cell, run = status.cell, status.run_dir
    record: dict[str, Any] = {**cell.as_dict(), "status": status.state, "command": status.command, "run_dir": str(run)}
    summary = _read(run / "summary.json")
    ev = _read(run / EVAL_FILE)
    ex = _read(run / EXPORT_FILE)
    timing = (_read(run / CELL_FILE) or {}).get("timing") or {}
    record["timing"] = timing
    if summary:
        data = summary.get("data") or {}
        train = data.get("train") or {}
        steps = summary.get("global_step") or 0
        record.update({
            "device": summary.get("device"), "model": summary.get("model"), "steps": steps, "epoch": summary.get("epoch"),
            "tokens_seen": summary.get("tokens_seen"),
            "tokens_per_step": round(summary["tokens_seen"] / steps, 1) if steps else None,
            "train_seconds": summary.get("train_seconds"), "tokens_per_second": summary.get("tokens_per_second"),
            "wall_seconds": summary.get("wall_seconds"),
            "peak_memory_gb": round(summary["peak_memory_bytes"] / 1e9, 3) if summary.get("peak_memory_bytes") else None,
            "peak_memory_kind": summary.get("peak_memory_kind"),
            "eval_losses": summary.get("eval_losses") or [],
            "train_loss_last": summary.get("train_loss_last"),
            "rows_used": train.get("rows_used"), "rows_skipped": train.get("rows_skipped"),
            "skipped_by_reason": train.get("rows_skipped_by_reason") or {},
            "budget": data.get("budget"),
        })
    if ev:
        held = ev.get("heldout") or {}
        record.update({"heldout_loss": held.get("loss"), "perplexity": held.get("perplexity"),
                       "heldout_rows": held.get("rows"), "heldout_tokens": held.get("tokens")})
        checks = ev.get("checks")
        if checks:
            record.update({"checks_passed": checks["passed"], "checks_total": checks["total"],
                           "checks_per_prompt": {k: v["passed"] for k, v in checks["per_prompt"].items()},
                           "answers": checks.get("answers", {})})
    if ex:
        record["export"] = {q: {"bytes": v["bytes"], "cpu_tokens_per_s": v.get("tokens_per_s"), "threads": v.get("threads")}
                            for q, v in (ex.get("quants") or {}).items()}
    record["total_seconds"] = timing.get("total_seconds")
    return mark_diverged(record)


def _stats(values: Sequence[float]) -> dict[str, Any]:
    values = [float(v) for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "min": min(values), "max": max(values)}


def group_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per configuration: its seeds' measures as mean / sd / min / max."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(r["group"], []).append(r)
    out = []
    for group, rows in groups.items():
        done = [r for r in rows if r.get("heldout_loss") is not None]
        out.append({
            "group": group, "data": rows[0]["data"], "axes": rows[0]["axes"], "seeds": [r["seed"] for r in done],
            "heldout_loss": _stats([r["heldout_loss"] for r in done]),
            "checks_passed": _stats([r.get("checks_passed") for r in done]),
            "tokens_per_second": _stats([r.get("tokens_per_second") for r in done]),
            "train_seconds": _stats([r.get("train_seconds") for r in done]),
            "peak_memory_gb": _stats([r.get("peak_memory_gb") for r in done]),
            "tokens_seen": _stats([r.get("tokens_seen") for r in done]),
        })
    return out


def collect(cfg: SweepConfig, out: Path, statuses, prepared: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    records = [cell_record(s) for s in statuses]
    done = [r for r in records if r.get("heldout_loss") is not None]
    diverged = [r["id"] for r in records if r.get("diverged")]
    axes = axes_of(cfg)
    verdicts = all_verdicts(done, axes)
    devices = sorted({r["device"] for r in records if r.get("device")})
    heldout = cfg.heldout_variant()
    held = next((r for r in done), {})
    return {
        "name": cfg.name or out.name,
        "config": cfg.resolved(),
        "axes": axes,
        "devices": devices,
        "model": next((r["model"] for r in records if r.get("model")), None),
        "heldout": {"variant": heldout, "split": cfg.eval.loss_split, "rows": held.get("heldout_rows"),
                    "tokens": held.get("heldout_tokens")},
        "variants": {name: (v.as_dict() if hasattr(v, "as_dict") else v) for name, v in prepared.items()},
        "decontamination": _read(out / "decontamination" / "summary.json"),
        "cells": records,
        "groups": group_records(records),
        "verdicts": [v.as_dict() | {"line": v.line()} for v in verdicts],
        "diverged": diverged,
        "finished": len(done) + len(diverged),
        "planned": len(records),
    }


def write_results(cfg: SweepConfig, out: Path, statuses, prepared: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    from sweep.report import render_html, render_markdown

    results = finite(collect(cfg, out, statuses, prepared))
    _write(out, results, render_markdown(results), render_html(results))
    return results


def _write(out: Path, results: dict[str, Any], markdown: str, page: str) -> None:
    """The three files, each replaced whole (a kill mid-write leaves the previous one, never half a file)."""
    text = json.dumps(results, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    for name, content in (("results.json", text), ("results.md", markdown), ("results.html", page)):
        tmp = out / f"{name}.tmp"
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(out / name)


REQUIRED = {"name": str, "config": dict, "axes": list, "devices": list, "heldout": dict, "variants": dict,
            "cells": list, "planned": int}
CELL_REQUIRED = {"id": str, "group": str, "data": str, "axes": dict, "seed": int, "status": str, "command": str}


def rerender(out: Path) -> dict[str, Any]:
    """Rewrite ``results.md`` and ``results.html`` (groups and verdicts recomputed) from ``results.json`` alone: for
    a sweep folder copied without its weights and data, or after the report code changed. :class:`ResultsError`
    (naming the file) when it is not a readable ``tome sweep`` results file; then nothing is written."""
    from sweep.report import render_html, render_markdown

    path = out / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ResultsError(f"{path}: not UTF-8 text; run the sweep again to rewrite it") from None
    except ValueError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc}); run the sweep again to rewrite it") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    _check_shape(path, results)
    results["cells"] = [mark_diverged(dict(c)) for c in results["cells"]]
    done = [r for r in results["cells"] if r.get("heldout_loss") is not None]
    results["diverged"] = [r["id"] for r in results["cells"] if r.get("diverged")]
    results["finished"] = len(done) + len(results["diverged"])
    results["groups"] = group_records(results["cells"])
    results["verdicts"] = [v.as_dict() | {"line": v.line()} for v in all_verdicts(done, results["axes"])]
    results = finite(results)
    try:
        markdown, page = render_markdown(results), render_html(results)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field of another shape than the sweep writes
        raise ResultsError(f"{path}: a field cannot be rendered ({exc.__class__.__name__}: {exc}); "
                           "run the sweep again to rewrite it") from None
    _write(out, results, markdown, page)
    return results


def _check_shape(path: Path, results: Any) -> None:
    """The keys (and their types) that rendering reads, so a damaged or foreign file is one line naming it."""
    def bad(where: str, key: str, kind: type) -> ResultsError:
        return ResultsError(f"{path}: {where}{key}: expected a {kind.__name__}; not a results file `tome sweep` "
                            "wrote (run the sweep again to rewrite it)")

    if not isinstance(results, dict):
        raise ResultsError(f"{path}: expected a JSON object; not a results file `tome sweep` wrote")
    for key, kind in REQUIRED.items():
        if not isinstance(results.get(key), kind):
            raise bad("", key, kind)
    for i, cell in enumerate(results["cells"]):
        if not isinstance(cell, dict):
            raise bad(f"cells[{i}]", "", dict)
        for key, kind in CELL_REQUIRED.items():
            if not isinstance(cell.get(key), kind):
                raise bad(f"cells[{i}].", key, kind)
