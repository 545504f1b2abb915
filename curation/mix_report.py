"""Per input, what became of its rows: read back from a finished output folder, so every engine reports alike.

Rows carry their ``input`` (with two inputs or more; one input owns every row, and an ``input`` column of its
rows is its own data, not a label), removal records their
``reason``, quarantine entries their ``position.input``. For each input: rows in, kept in the splits, removed
by reason, quarantined, its share of the final mix and the target share its weight asked for. Rows that
augmentation added (an ``origin_id``) carry their origin's input but were never read from it: they are counted
apart (``augmented``), not as rows in. Its duplicates whose kept copy is another input's say which input the
keep policy preferred and why (:func:`duplicates_kept_in`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation.contract import SPLITS, output_paths, read_quarantine
from curation.mix import SHARE_TOLERANCE, target_shares


def _column_counts(path: Path, columns: Sequence[str], files) -> Counter:
    counts: Counter = Counter()
    for f in files:
        schema = pq.read_schema(f)
        have = [c for c in columns if c is not None and c in schema.names]
        table = pq.read_table(f, columns=have)
        values = [table.column(c).to_pylist() if c in have else [None] * table.num_rows for c in columns]
        counts.update(zip(*values))
    return counts


# the reasons of the dedup stages within a run, whose ``duplicate_of`` is the id of a row of the same run (that of
# ``--against``, ``duplicate_of_existing``, names a row of the existing set instead)
DEDUP_REASONS = ("exact_duplicate", "near_duplicate", "semantic_duplicate")
HIGHER_SCORE, LISTED_FIRST = "higher score", "listed first"


def _rows(files, columns: Sequence[str]) -> pa.Table:
    """``columns`` of the rows of ``files`` (a column a file lacks: nulls), as one table."""
    def kind(column: str) -> pa.DataType:
        return pa.float64() if column == "score" else pa.string()

    tables = []
    for f in files:
        have = pq.read_schema(f).names
        table = pq.read_table(f, columns=[c for c in columns if c in have])
        tables.append(pa.table({c: table.column(c) if c in have else pa.nulls(table.num_rows, kind(c))
                                for c in columns}))
    if not tables:
        return pa.table({c: pa.array([], kind(c)) for c in columns})
    return pa.concat_tables(tables, promote_options="permissive")


def duplicates_kept_in(root: str | Path, inputs: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Per input, its rows removed as duplicates of another input's row, by the input whose copy was kept and why
    the keep policy (:mod:`curation.core.keep_policy`) preferred it: ``higher score`` (the kept copy's score is
    higher, or the removed one had none), else ``listed first`` (equal scores: the kept copy's input comes
    first in ``inputs:``, the source the user trusts most). ``{"b": {"a": {"listed first": 3}}}``: three rows
    of ``b`` are kept from ``a``, listed before it. Duplicates within one input are not counted (no input was
    preferred). Read from the output folder (the kept copy is in a split, or removed later: by a filter, the
    mix), so every engine reports alike; empty for one input."""
    if len(inputs) < 2:
        return {}
    paths = output_paths(root)
    if not paths.removed.exists():
        return {}
    removed = _rows(paths.files(paths.removed), ["id", "input", "reason", "duplicate_of", "score"])
    lost = removed.filter(pc.is_in(removed.column("reason"), pa.array(DEDUP_REASONS)))
    if lost.num_rows == 0:
        return {}
    everything = [removed.select(["id", "input", "score"])]
    for split in SPLITS:
        path = paths.split(split)
        if path.exists():
            everything.append(_rows(paths.files(path), ["id", "input", "score"]))
    rows = pa.concat_tables(everything, promote_options="permissive")
    rows = rows.rename_columns(["kept_id", "kept_input", "kept_score"])
    pairs = lost.select(["input", "duplicate_of", "score"]).join(rows, "duplicate_of", "kept_id", join_type="inner")
    pairs = pairs.filter(pc.not_equal(pairs.column("input"), pairs.column("kept_input")))
    rank = {record["name"]: k for k, record in enumerate(inputs)}
    out: dict[str, dict[str, Counter]] = {}
    for name, kept_in, score, kept_score in zip(*(pairs.column(c).to_pylist()
                                                  for c in ("input", "kept_input", "score", "kept_score"))):
        score = None if score is None or score != score else score  # NaN counts as no score, as the policy reads it
        kept_score = None if kept_score is None or kept_score != kept_score else kept_score
        why = LISTED_FIRST if score == kept_score and rank.get(kept_in, 0) < rank.get(name, 0) else HIGHER_SCORE
        out.setdefault(name, {}).setdefault(kept_in, Counter())[why] += 1
    return {name: {kept_in: dict(sorted(by[kept_in].items())) for kept_in in sorted(by, key=lambda n: rank.get(n, 0))}
            for name, by in out.items()}


def mix_entry(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The mix stage's entry (``enabled``, ``stats``) among a manifest's stages, or None."""
    stages = manifest.get("stages") if isinstance(manifest, dict) else None
    return next((s for s in stages or () if isinstance(s, dict) and s.get("name") == "mix"), None)


def input_accounting(root: str | Path, inputs: Sequence[dict[str, Any]],
                     mix: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One record per input (in list order): the input's description plus rows_in (read from it), augmented
    (rows augmentation added from its rows, kept or removed), kept, removed (by reason), quarantined (so
    ``rows_in + augmented == kept + removed + quarantined``), share (of all kept rows) and target_share: what
    its weight asks of the whole mix (its weight's share among the weighted inputs that still had rows when the
    mix was drawn, as :mod:`curation.mix` shares them and its stats' ``left_out`` names the others, times the
    weighted inputs' part of the kept rows; inputs without a weight take the rest), so share and target compare
    on one base; null without a weight, for an input with no row left by then (not for one whose drawn rows a
    later stage removed: the mix drew it to its share), and for every input when the mix stage was switched
    off (nothing drew the rows to the weights); target_rows: an input's ``max_rows`` (null without one, or
    when the mix stage was switched off); and duplicates_kept_in: its rows removed as duplicates of
    another input's rows, by that input and the keep policy's reason (:func:`duplicates_kept_in`). ``mix``: the
    run's mix stage entry (:func:`mix_entry`), which says which inputs it left out and whether it ran."""
    paths = output_paths(root)
    only = inputs[0]["name"] if len(inputs) == 1 else None
    # the rows' input names; one input's rows are all its own (an `input` column there is the input's: not read)
    label = "input" if only is None else None
    kept: Counter = Counter()
    augmented: Counter = Counter()
    for split in SPLITS:
        path = paths.split(split)
        if path.exists():
            for (name, origin), n in _column_counts(path, [label, "origin_id"], paths.files(path)).items():
                kept[only or name] += n
                augmented[only or name] += n if origin is not None else 0
    removed: dict[str, Counter] = {}
    if paths.removed.exists():
        columns = [label, "reason", "origin_id"]
        for (name, reason, origin), n in _column_counts(paths.removed, columns, paths.files(paths.removed)).items():
            removed.setdefault(only or name, Counter())[reason] += n
            augmented[only or name] += n if origin is not None else 0
    quarantined: Counter = Counter()
    for entry in read_quarantine(root):
        position = entry.get("position")
        if isinstance(position, str):
            position = json.loads(position)
        quarantined[only or (position or {}).get("input")] += 1
    total_kept = sum(kept.values())
    # the weighted inputs that reached the mix: all but those its stats name as left out (no row left to draw);
    # with the mix switched off (stages.mix.enabled: false) nothing drew the rows to the weights, and no share is
    # a target. Without the entry: those with some rows kept or drawn out by the mix
    left_out = (mix.get("stats") or {}).get("left_out") if isinstance(mix, dict) else None
    weighted = [i for i in inputs if i.get("weight") is not None]
    drawn = not (isinstance(mix, dict) and mix.get("enabled") is False)  # (max_rows is a target only when drawn)
    if not drawn:
        weighted = []
    elif isinstance(left_out, list):
        weighted = [i for i in weighted if i["name"] not in left_out]
    else:
        weighted = [i for i in weighted
                    if kept[i["name"]] or any(r.startswith("mix:") for r in removed.get(i["name"], ()))]
    weights = {i["name"]: i["weight"] for i in weighted}
    targets = target_shares(weights, {record["name"]: kept[record["name"]] for record in inputs})
    kept_elsewhere = duplicates_kept_in(root, inputs)
    out = []
    for record in inputs:
        name = record["name"]
        gone = dict(sorted(removed.get(name, Counter()).items()))
        rows_in = kept[name] + sum(gone.values()) + quarantined[name] - augmented[name]
        out.append({**record, "rows_in": rows_in, "augmented": augmented[name], "kept": kept[name], "removed": gone,
                    "quarantined": quarantined[name],
                    "share": round(kept[name] / total_kept, 6) if total_kept else 0.0,
                    "target_share": targets.get(name), "target_rows": record.get("max_rows") if drawn else None,
                    "duplicates_kept_in": kept_elsewhere.get(name, {})})
    return out


def _after_mix_reasons() -> set[str]:
    """The removal reasons of the stages that run after the mix (augment, split, decontaminate, token_lengths):
    what they remove (or augmentation adds) moves the shares the mix drew."""
    from curation.core import registry
    from curation.mix import SPEC

    return {r for spec in registry.stage_specs() if spec.order > SPEC.order for r in spec.reasons or ()}


def missed_targets(inputs: Sequence[dict[str, Any]], mix_stats: dict[str, Any] | None) -> list[str]:
    """One sentence per weighted input whose share of the kept rows is more than a point
    (:data:`SHARE_TOLERANCE`) from the target its weight asked for (the manifest's ``inputs``: ``share`` and
    ``target_share``), and why: the mix drew it off target (``mix_stats``' ``per_input`` share: a mix too
    small for its weights in whole rows, as 5 rows for weights 0.5/0.3/0.2, where one row is 20 points), or
    the stages after the mix moved it (rows they removed, rows augmentation added). Nothing else can move a
    share: the mix draws each within a row of its exact count. Without it, the report showed 60% beside a 50%
    target and said nothing."""
    per_input = (mix_stats or {}).get("per_input") if isinstance(mix_stats, dict) else None
    per_input = per_input if isinstance(per_input, dict) else {}
    drawn_total = sum(v.get("taken", 0) for v in per_input.values() if isinstance(v, dict)
                      and isinstance(v.get("taken"), int))
    later = None
    notes = []
    for record in inputs:
        share, target = record.get("share"), record.get("target_share")
        if not isinstance(share, (int, float)) or not isinstance(target, (int, float)):
            continue
        if abs(share - target) <= SHARE_TOLERANCE + 1e-9:
            continue
        name = record.get("name")
        head = f"{name}: {share:.1%} of the kept rows, not the {target:.1%} its weight asks"
        drawn = per_input.get(name) if isinstance(per_input.get(name), dict) else {}
        drawn_share = drawn.get("share")
        if isinstance(drawn_share, (int, float)) and abs(drawn_share - target) > SHARE_TOLERANCE + 1e-9:
            notes.append(f"{head}: not achievable, the mix drew {drawn_total:,} rows, too few to meet the weights "
                         f"within a point in whole rows ({drawn.get('taken', 0):,} of them from {name}).")
            continue
        if later is None:
            later = _after_mix_reasons()
        moved = [f"{n:,} {reason}" for reason, n in (record.get("removed") or {}).items()
                 if reason in later and isinstance(n, int) and n]
        if record.get("augmented"):
            moved.insert(0, f"{record['augmented']:,} added by augment")
        why = f" ({', '.join(moved)})" if moved else ""
        drawn_text = f"the mix drew it at {drawn_share:.1%}; " if isinstance(drawn_share, (int, float)) else ""
        notes.append(f"{head}: {drawn_text}the stages after the mix moved it{why}.")
    return notes


def target_text(record: dict[str, Any], none: str = "–") -> str:
    """An input's target as the tables show it: its weight's share of the mix (``12.5%``), the most rows its
    ``max_rows`` lets the mix take (``≤ 1,000 rows``), or ``none``."""
    if isinstance(record.get("target_share"), (int, float)):
        return f"{record['target_share']:.1%}"
    if isinstance(record.get("target_rows"), int):
        return f"≤ {record['target_rows']:,} rows"
    return none
