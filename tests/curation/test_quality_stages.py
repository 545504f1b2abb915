"""The five quality stages in the registry: config sections, reason codes, picklable stage objects (engines
ship them to workers), and a batch through each one on its own."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from curation.config import load_config
from curation.core.registry import stage_spec

QUALITY = {"pii": 12, "language": 15, "judge": 60, "decontaminate": 95, "token_lengths": 97}


def batch() -> pa.RecordBatch:
    conv = [[{"from": "human", "value": "Mail me at jo@example.com please, it is about the report."},
             {"from": "gpt", "value": "Sure, I will write to you about the report tomorrow morning."}]]
    return pa.RecordBatch.from_pylist([{"_pos": 0, "id": "r0", "conversations": conv[0], "source": "t", "score": 4.0,
                                        "original_conversations": None}])


@pytest.mark.parametrize("name,order", sorted(QUALITY.items()))
def test_registered_off_by_default_with_reasons(name, order):
    spec = stage_spec(name)
    assert spec.order == order and spec.kind == "row" and spec.reasons
    cfg = load_config(None, {}).stage(name)
    assert cfg.enabled is False


@pytest.mark.parametrize("name", sorted(QUALITY))
def test_stage_objects_survive_pickling_after_use(name):
    cfg = load_config(None, {"stages": {name: {"enabled": True, **({"backend": "openai", "url": "http://127.0.0.1:9"}
                                                                   if name == "judge" else {})}}})
    spec = stage_spec(name)
    stage = spec.build(cfg.stage(name), cfg)
    if name != "judge":
        out = stage.process(batch())
        assert out.batch.num_rows == 1
    again = pickle.loads(pickle.dumps(stage))
    assert type(again) is type(stage) and again.cfg == stage.cfg


def test_pii_stage_alone_redacts_a_batch():
    cfg = load_config(None, {"stages": {"pii": {"enabled": True}}})
    out = stage_spec("pii").build(cfg.stage("pii"), cfg).process(batch())
    assert "<EMAIL>" in out.batch.column("conversations").to_pylist()[0][0]["value"]
    assert out.stats["found"] == {"email": 1}
