"""A JSON Lines file cut into byte ranges (the Ray engine's read units) reads as the whole file does."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curation.readers import InputError, open_input

ROW = '{"source": "a", "conversations": [{"from": "human", "value": "Q %d?"}, {"from": "gpt", "value": "A %d."}]}'


def _raw(source, units) -> pa.Table:
    return pa.concat_tables(
        pa.Table.from_batches([b]).select(["_line", "_error"]) for u in units for b in source.read_unit(u)
    )


def test_a_part_holding_only_bad_lines_reads_like_the_whole_file(tmp_path):
    lines = ["", '{"conversations": [', "[1, 2]", *(ROW % (i, i) for i in range(6)), '{"conversations": [', "nope"]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_input(str(path))
    whole = source.units()
    parts = source.units(unit_bytes=40)
    assert len(whole) == 1 and len(parts) > 3
    assert _raw(source, parts).to_pylist() == _raw(source, whole).to_pylist()


@pytest.mark.parametrize("unit_bytes", [None, 16])
def test_a_file_without_one_json_line_is_refused_whole_or_cut(tmp_path, unit_bytes):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"not json\n\x00\x01\x02 binary\nstill not json\n" * 5)
    source = open_input(str(path))
    with pytest.raises(InputError, match=r"junk\.jsonl: line 1: not JSON Lines"):
        for unit in source.units(unit_bytes=unit_bytes):
            list(source.read_unit(unit))
