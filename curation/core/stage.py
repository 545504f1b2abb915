"""What every curation stage looks like: a function of Arrow record batches.

Rows in flight are ``pyarrow.RecordBatch`` es with the columns of :mod:`curation.contract` plus internal ones
whose names start with ``_`` (``_pos``: the row's position in the input, the key every engine sorts and joins
by; ``_split``: set by the split stage). Two kinds of stage:

:class:`RowStage`
    ``process(batch) -> StageOutput``: a pure function of one batch (validate, normalize, filters, ...). The
    output holds every input row, in order, except the ones it quarantines, with per-row verdicts beside it.
:class:`GlobalStage`
    A decision that needs every row (dedup, balance, split, ...), in three parts: ``keys(batch)`` (map: the
    few columns the decision needs, always with ``_pos``), ``decide(keys, ctx)`` (reduce: a
    :class:`Decisions` table keyed by ``_pos``) and ``apply(batch, decisions)`` (map again: remove the rows
    the decisions name, set the columns they carry). The engine moves keys and decisions between the parts.

Signals: a global stage may compute per-row values a later one needs too (near dedup's MinHash signatures,
which ``--against`` matches with). It names what it can leave (``offers``) and what it can take instead of
computing it (``wants``); the plan links an offer to the stage right after the offerer when that stage wants
it (:func:`curation.engines.plan.link_signals`: no stage in between, so the rows' text is the same), and tells
both (``link``). The offerer's ``decide`` then leaves a table keyed by ``_pos`` in ``ctx.signals``; the taker's
``decide`` pops it, and computes the values itself for rows the table lacks (or when the table is missing,
as after ``--resume``). Results never depend on whether a signal was shared.

A stage never reads files, never knows how many batches there are, and must be picklable (it travels to Ray
workers): load models lazily, on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from curation.core.columns import contiguous

if TYPE_CHECKING:
    from curation.config import CurationConfig

POS = "_pos"
SPLIT = "_split"
# Verdict columns a stage may hand back beside its rows (and a decisions table may carry).
REASON, DETAILS, DUPLICATE_OF, CLUSTER_ID = "reason", "details", "duplicate_of", "cluster_id"
QUARANTINE_COLUMNS = ("id", "position", "raw", "error")  # position and raw are JSON text


class StageError(Exception):
    """A stage cannot run as configured (a model that is not installed, an endpoint that is down): the
    message is one line that says what to do; the command line prints it without a traceback."""


@dataclass
class StageOutput:
    """One batch through one stage.

    ``batch``: the rows that were not quarantined, in input order, columns possibly changed or added.
    ``reason``: per row of ``batch``, why it is removed (null: kept); ``details`` (JSON text),
    ``duplicate_of`` and ``cluster_id`` go with it into ``removed.parquet``. ``quarantine``: a table of
    ``_pos`` + :data:`QUARANTINE_COLUMNS` for rows that broke the schema. ``stats``: numbers and mappings,
    summed over batches (:func:`merge_stats`).
    """

    batch: pa.RecordBatch
    reason: pa.Array | None = None
    details: pa.Array | None = None
    duplicate_of: pa.Array | None = None
    cluster_id: pa.Array | None = None
    quarantine: pa.Table | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def removed_mask(self) -> np.ndarray:
        if self.reason is None:
            return np.zeros(self.batch.num_rows, dtype=bool)
        return ~np.asarray(self.reason.is_null(), dtype=bool)


ADDED_BASE = 1 << 62  # rows a stage adds get _pos from here on: after every input row, in the order added


@dataclass
class Decisions:
    """What a global stage decided: ``table`` has a sorted, unique ``_pos`` column and any of ``reason``,
    ``details``, ``duplicate_of`` (for removals) and columns to set on the rows it names (``cluster_id``,
    ``_split``, ...; a null leaves the row's value). Rows it does not name pass unchanged. ``added``: new rows
    (augmentation), with the columns of the rows in flight and ``_pos`` from :data:`ADDED_BASE` up."""

    table: pa.Table
    stats: dict[str, Any] = field(default_factory=dict)
    added: pa.Table | None = None

    @staticmethod
    def none(stats: dict[str, Any] | None = None) -> "Decisions":
        return Decisions(pa.table({POS: pa.array([], type=pa.int64())}), stats or {})


ProgressFactory = Callable[[Iterable[Any], int, str], Iterator[Any]]


def no_progress(items: Iterable[Any], total: int, description: str) -> Iterator[Any]:
    yield from items


@dataclass
class ReduceContext:
    """What a global stage's ``decide`` may use besides its keys.

    ``fetch(positions, columns)``: those rows' columns (in ``_pos`` order; ``columns`` None: all), read again
    from the rows as they entered the stage (near-dedup verification needs text its keys do not hold). ``config``: the whole
    curation config (a stage may read another stage's settings, e.g. the balance cap). ``cache_dir``: a
    folder kept between runs of the same output folder. ``workers``: CPU threads the reduce may use.
    ``signals``: one dict for the whole run, the tables linked stages hand on (see :class:`GlobalStage`).
    """

    config: "CurationConfig"
    cache_dir: Path
    fetch: Callable[[np.ndarray, Sequence[str] | None], pa.Table]
    progress: ProgressFactory = no_progress
    workers: int = 1
    signals: dict[str, Any] = field(default_factory=dict)

    def track(self, items: Iterable[Any], total: int, description: str) -> Iterator[Any]:
        return self.progress(items, total, description)


class RowStage:
    """A batch -> batch stage. Subclasses set ``name`` and implement :meth:`process`."""

    kind = "row"
    name: str

    def process(self, batch: pa.RecordBatch) -> StageOutput:  # pragma: no cover - interface
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load what this stage's first batch would otherwise wait for (compiled kernels), e.g. by processing
        :func:`curation.core.warm.sample_rows`. No effect on results or on the stage's state; an engine may
        call it on a background thread while it reads the input (:mod:`curation.core.warm`)."""


class GlobalStage:
    """A stage whose decision needs every row: ``keys`` (map) -> ``decide`` (reduce) -> ``apply`` (map)."""

    kind = "global"
    name: str

    def skip(self) -> bool:
        """True when the stage, as configured, cannot change anything (the engine then saves its passes)."""
        return False

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:  # pragma: no cover - interface
        raise NotImplementedError

    def warm_up(self) -> None:
        """As :meth:`RowStage.warm_up` (typically ``keys`` of :func:`curation.core.warm.sample_rows`)."""

    def offers(self) -> frozenset[str]:
        """Names of the signal tables this stage's ``decide`` can leave for a later stage (see the module)."""
        return frozenset()

    def wants(self) -> frozenset[str]:
        """Names of the signal tables this stage can take instead of computing their values itself."""
        return frozenset()

    def link(self, give: frozenset[str], take: frozenset[str]) -> None:
        """Told by the plan, before any row is read: the offers a later stage takes (``give``: leave them in
        ``ctx.signals``) and the wants an earlier stage gives (``take``: ``keys`` may leave them out)."""

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:  # pragma: no cover - interface
        raise NotImplementedError

    def apply(self, batch: pa.RecordBatch, decisions: pa.Table) -> StageOutput:
        """Set the decided columns on the rows ``decisions`` names and mark its removals (the default rule)."""
        return apply_decisions(batch, decisions)


def apply_decisions(batch: pa.RecordBatch, decisions: pa.Table) -> StageOutput:
    """The default ``apply``: join ``decisions`` to ``batch`` by ``_pos``."""
    n = batch.num_rows
    if decisions.num_rows == 0 or n == 0:
        return StageOutput(batch)
    pos = batch.column(POS).to_numpy()
    dpos = decisions.column(POS).to_numpy()
    at = np.searchsorted(dpos, pos)
    at_clipped = np.minimum(at, len(dpos) - 1)
    hit = dpos[at_clipped] == pos
    if not hit.any():
        return StageOutput(batch)
    # index into decisions for every row of the batch; rows without a decision take a null
    take = pa.array(np.where(hit, at_clipped, 0), mask=~hit, type=pa.int64())
    verdict: dict[str, pa.Array] = {}
    for name in decisions.column_names:
        if name == POS:
            continue
        values = decisions.column(name).take(take)
        values = contiguous(values)
        if name in (REASON, DETAILS, DUPLICATE_OF):
            verdict[name] = values
            continue
        batch = set_where_valid(batch, name, values)
    return StageOutput(
        batch,
        reason=verdict.get(REASON),
        details=verdict.get(DETAILS),
        duplicate_of=verdict.get(DUPLICATE_OF),
    )


def set_where_valid(batch: pa.RecordBatch, name: str, values: pa.Array) -> pa.RecordBatch:
    """``batch`` with column ``name`` taking ``values`` where they are not null (the column is added if missing)."""
    import pyarrow.compute as pc

    if name in batch.schema.names:
        old = batch.column(name)
        if old.type != values.type:
            values = values.cast(old.type)
        merged = pc.if_else(values.is_valid(), values, old)
        return batch.set_column(batch.schema.get_field_index(name), name, merged)
    return batch.append_column(name, values)


def merge_stats(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """Stats of two batches as one: numbers add up, mappings merge key by key, anything else must agree."""
    out = dict(total)
    for key, value in part.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            out[key] = value if out[key] is None else out[key]
        elif isinstance(value, dict):
            out[key] = merge_stats(out[key], value)
        else:
            out[key] = out[key] + value
    return out
