"""Row ids made unique: the k-th row (in input order) with the same content id gets ``-k`` appended.

Validation gives every row its content id (:func:`curation.contract.line_id` / ``record_id``); equal content
gives equal ids, and only input order can tell the copies apart, so this is a global step (keys: ``_pos``
and ``id``; decisions: new ids for the copies only). Quarantine entries get the same rule when they are
written (:func:`curation.contract.suffix_duplicate_ids`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.contract import suffix_duplicate_ids
from curation.core.registry import StageSpec, register
from curation.core.stage import POS, Decisions, GlobalStage, ReduceContext


class AssignIds(GlobalStage):
    name = "ids"

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([batch.column(POS), batch.column("id")], names=[POS, "id"])

    def decide(self, keys: pa.Table, ctx: ReduceContext) -> Decisions:
        if keys.num_rows == 0:
            return Decisions.none()
        counts = pc.value_counts(keys.column("id"))
        repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
        if len(repeated) == 0:
            return Decisions.none()
        copies = keys.filter(pc.is_in(keys.column("id"), repeated))
        copies = copies.take(pc.sort_indices(copies, sort_keys=[(POS, "ascending")]))
        ids = copies.column("id").to_pylist()
        new = suffix_duplicate_ids(ids)
        changed = np.array([a != b for a, b in zip(ids, new)], dtype=bool)
        pos = copies.column(POS).to_numpy()[changed]
        order = np.argsort(pos)
        return Decisions(
            pa.table({POS: pa.array(pos[order], pa.int64()), "id": pa.array(np.array(new, dtype=object)[changed][order], pa.string())})
        )


SPEC = register(
    StageSpec(
        name="ids",
        order=1,
        kind="global",
        config=None,  # type: ignore[arg-type]
        build=lambda cfg, _: AssignIds(),
        summary="unique row ids: repeated content ids get -2, -3, ... in input order",
        always_on=True,
    )
)
