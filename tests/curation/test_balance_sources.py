"""Sources told apart as a reader of the report tells them apart. A row with no source and one whose source is the
text "(none)" were counted under one name in the stats and the report (a cap of 5 read as 10 kept), and
``per_source: {"(none)": 2}``, the name the report gives them, capped only the text; sources that differ only in
spaces at their ends, invisible characters or how a letter is encoded were capped each on its own while the report
showed them as one name on several rows (a cap of 5, 15 rows of what reads as one source)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curation.balance import NO_SOURCE, Balance, BalanceConfig, source_key
from curation.core.stage import POS, ReduceContext

LOOKALIKES = [None, "(none)", "", "  ", "\u200b", "\u00c5", "A\u030a", "alpaca", " alpaca", "alpaca ", "alpaca\u200b"]


def decide(sources: list, **cfg):
    n = len(sources)
    keys = pa.table({POS: pa.array(range(n), pa.int64()), "id": [f"r{i}" for i in range(n)],
                     "source": pa.array(sources, pa.string())})
    return Balance(BalanceConfig(**cfg)).decide(keys, ReduceContext.__new__(ReduceContext))


def test_sources_that_look_the_same_are_one_source():
    assert {source_key(s) for s in LOOKALIKES} == {NO_SOURCE, "\u00c5", "alpaca"}
    assert source_key(7) == "7" and source_key("Alpaca") == "Alpaca"  # case is seen: another source


def test_a_cap_holds_for_every_spelling_of_a_source_and_the_stats_say_what_was_kept():
    sources = LOOKALIKES * 4  # 20 rows of no source, 8 of Å, 16 of alpaca
    decisions = decide(sources, max_per_source=5)
    stats = decisions.stats
    assert stats["per_source_before"] == {NO_SOURCE: 20, "alpaca": 16, "\u00c5": 8}
    assert stats["per_source_after"] == {NO_SOURCE: 5, "alpaca": 5, "\u00c5": 5}
    assert decisions.table.num_rows == 44 - 15


@pytest.mark.parametrize("name", ["(none)", " (none) "])
def test_the_reports_name_for_rows_without_a_source_caps_them(name):
    decisions = decide([None] * 6 + ["(none)"] * 6 + ["x"] * 6, per_source={name: 2})
    assert decisions.stats["per_source_after"] == {NO_SOURCE: 2, "x": 6}


def test_two_caps_of_one_source_are_refused():
    with pytest.raises(ValueError, match=r"per_source: 'alpaca' and 'alpaca ' name one source"):
        BalanceConfig(per_source={"alpaca": 3, "alpaca ": 5})
