"""Judge replies small models really give (scores out of 10, booleans, decimals), and settings at their edges."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from curation.judge import client
from curation.judge.client import JudgeUnavailable
from curation.judge.config import DEFAULT_RUBRIC, JudgeConfig
from curation.judge.rubric import combine, parse_scores
from curation.judge.scoring import Scorer

CONV = [{"from": "human", "value": "What is 2+2?"}, {"from": "gpt", "value": "4"}]


@pytest.mark.parametrize("reply,want", [
    ("Score: 8/10", 4.0),  # another scale, brought to 1-5 (it was unreadable)
    ("I'd give it 3/10.", 1.5),  # not 3
    ("2 out of 10", 1.0),
    ("85/100", 4.25),
    ("helpfulness: 8/10, correctness 3 out of 5", 3.5),
    ("Step 1/3: I rate it 4", 4.0),  # "1/3" is no score
    ("3.5", 3.5),  # not 3.0
    ("helpfulness: 10", None),  # not 1.0 (the "1" of "10")
    ('{"helpfulness": true, "correctness": 5}', 5.0),  # true is no score of 1
    ('{"helpfulness": true}', None),
])
def test_scores_on_other_scales_decimals_and_booleans(reply, want):
    got = parse_scores(reply, DEFAULT_RUBRIC)
    assert (got if want is None else combine(got)) == want


def test_an_empty_rubric_is_a_config_error():
    with pytest.raises(ValidationError, match="rubric"):
        JudgeConfig(rubric={})


def test_the_retry_delay_stops_doubling_at_a_minute(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    monkeypatch.setattr(client.time, "sleep", waits.append)
    cfg = JudgeConfig(enabled=True, backend="openai", url=f"http://127.0.0.1:{port}/v1", retries=12, backoff_s=1.0,
                      cache=str(tmp_path / "scores.sqlite"), concurrency=1)
    with pytest.raises(JudgeUnavailable):
        Scorer(cfg).score(["a"], [CONV])
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0]


@pytest.mark.parametrize("sample", [1.0, 0.5])
def test_a_batch_left_empty_by_earlier_stages_passes(tmp_path, sample):
    """With small batches (engine.batch_rows: 1) a batch can reach the judge with no rows left: it passed the
    empty id list's float array to ``&`` and ended the run with a TypeError traceback."""
    import pyarrow as pa

    from curation.judge.stage import JudgeStage

    conv = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
    batch = pa.RecordBatch.from_pydict({"id": pa.array([], pa.string()), "conversations": pa.array([], conv),
                                        "score": pa.array([], pa.float64())})
    cfg = JudgeConfig(enabled=True, backend="openai", url="http://127.0.0.1:9/v1", cache=str(tmp_path / "s.sqlite"),
                      sample=sample, min_score=3)
    out = JudgeStage(cfg).process(batch)
    assert out.batch.num_rows == 0 and "judge_score" in out.batch.schema.names
    assert out.stats["scored"] == 0 and out.stats["requests"] == 0
