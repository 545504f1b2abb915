"""With a privacy stage on, what the run keeps on disk holds no value it redacts: the quarantined raw lines a
checkpoint saves (``.checkpoints/quarantine.arrow``, kept after the run for ``--resume``) held the emails of broken
lines that ``quarantine.jsonl`` shows redacted. A resumed run still writes the same quarantine."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.ipc as ipc

from curation.config import load_config
from curation.contract import read_quarantine
from curation.pipeline import run_curation

EMAIL = "jane.doe.secret@example.org"


def _rows(path):
    lines = []
    for i in range(3000):
        lines.append(json.dumps({"conversations": [
            {"from": "human", "value": f"Question {i}: how do tides work near the coast number {i}?"},
            {"from": "gpt", "value": f"Answer {i}: the moon pulls the water, and the coast shapes it " + "x" * (i % 97)}]}))
        if i % 500 == 7:
            lines.append('{"conversations": [{"from": "human", "value": "write to ' + EMAIL + '"')  # cut short
    path.write_text("\n".join(lines) + "\n")


def _config(**extra):
    return load_config(None, {"report": False, "checkpoint": True, "engine": {"memory_mb": 1},
                              "stages": {"pii": {"enabled": True}}, **extra})


def test_a_checkpoint_keeps_quarantined_lines_redacted(tmp_path):
    _rows(tmp_path / "rows.jsonl")
    out = tmp_path / "out"
    run_curation(str(tmp_path / "rows.jsonl"), out, _config())
    saved = out / ".checkpoints" / "quarantine.arrow"
    assert saved.is_file()  # the rows spilled: the run checkpointed
    with pa.memory_map(str(saved)) as source:
        table = ipc.open_file(source).read_all()
    assert table.num_rows == 6
    assert not any(EMAIL in raw for raw in table.column("raw").to_pylist())
    written = read_quarantine(out)
    assert len(written) == 6 and EMAIL not in json.dumps(written)

    run_curation(str(tmp_path / "rows.jsonl"), out, _config(), resume=True)  # from the checkpoint's quarantine
    assert read_quarantine(out) == written
