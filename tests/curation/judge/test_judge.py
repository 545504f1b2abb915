"""Judge replies parsed, scores cached by row id + config, retries, and an endpoint that is down."""

from __future__ import annotations

import socket

import pytest

from curation.judge.cache import fingerprint
from curation.judge.client import JudgeUnavailable
from curation.judge.config import DEFAULT_RUBRIC, JudgeConfig
from curation.judge.rubric import combine, messages, parse_scores
from curation.judge.scoring import Scorer, settings
from curation.judge.stub import StubJudge

CONV = [{"from": "human", "value": "What is 2+2?"}, {"from": "gpt", "value": "4"}]


def cfg_for(url: str, tmp_path, **kw) -> JudgeConfig:
    return JudgeConfig(enabled=True, backend="openai", url=url, cache=str(tmp_path / "scores.sqlite"),
                       backoff_s=0.01, **kw)


@pytest.mark.parametrize("reply,want", [
    ('{"helpfulness": 4, "correctness": 5, "instruction_following": 3}', 4.0),
    ('Sure! ```json\n{"helpfulness": 2, "correctness": 2}\n```', 2.0),
    ("helpfulness: 5\ncorrectness = 4\nInstruction following - 3", 4.0),
    ("I would give this a 3 out of 5.", 3.0),
    ("The assistant's answer is 1.", 1.0),
    ("1. Assemble the ingredients.\n2. Mix them.", None),
    ("The assistant's answer is excellent.", 5.0),
])
def test_scores_are_read_from_json_lines_and_loose_text(reply, want):
    got = parse_scores(reply, DEFAULT_RUBRIC)
    assert (got if want is None else combine(got)) == want


def test_unreadable_reply_and_prompt_carry_the_rubric():
    assert parse_scores("I cannot rate this.", DEFAULT_RUBRIC) is None
    msgs = messages(CONV * 50, {"clarity": "Is it clear?"}, max_chars=400)
    assert "clarity: Is it clear?" in msgs[1]["content"] and '{"clarity": 4}' in msgs[1]["content"]
    assert len(msgs[1]["content"]) < 400 + 900  # the conversation was cut to max_chars


def test_scores_come_from_the_endpoint_once_then_from_the_cache(tmp_path):
    with StubJudge(delay=0.01, slots=4) as stub:
        scorer = Scorer(cfg_for(stub.url, tmp_path, concurrency=4))
        ids = [f"r{i}" for i in range(20)]
        found, stats = scorer.score(ids, [CONV] * 20)
        assert {k: v[0] for k, v in found.items()} == {i: 4.0 for i in ids}
        assert stats["requests"] == 20 and stub.requests == 20
        found, stats = Scorer(cfg_for(stub.url, tmp_path, concurrency=4)).score(ids, [CONV] * 20)
        assert stats["cached"] == 20 and stats["requests"] == 0 and stub.requests == 20
        other = cfg_for(stub.url, tmp_path, rubric={"clarity": "Is it clear?"})
        assert fingerprint(settings(other)) != fingerprint(settings(scorer.cfg))  # another rubric, another key


def test_transient_errors_are_retried(tmp_path):
    with StubJudge(delay=0.0, slots=2, fail_first=3) as stub:
        found, stats = Scorer(cfg_for(stub.url, tmp_path, concurrency=2, retries=3)).score(["a", "b"], [CONV] * 2)
        assert set(found) == {"a", "b"} and stub.requests == 5


def test_an_endpoint_that_is_down_is_one_line_and_finished_scores_are_kept(tmp_path):
    with StubJudge(delay=0.0, slots=2) as stub:
        url = stub.url
        Scorer(cfg_for(url, tmp_path)).score(["a", "b"], [CONV] * 2)
    with socket.socket() as s:  # the stub's port is closed now; make sure nothing else took it
        assert s.connect_ex(("127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0]))) != 0
    scorer = Scorer(cfg_for(url, tmp_path, retries=1))
    with pytest.raises(JudgeUnavailable) as err:
        scorer.score(["a", "b", "c", "d"], [CONV] * 4)
    line = str(err.value)
    assert "\n" not in line and url in line and "not answering" in line and "0 new scores" in line
    assert set(scorer.cache.get_many(["a", "b", "c"])) == {"a", "b"}


@pytest.mark.parametrize("url", ["http://localhost:abc/v1", "http://[::1", "http://localhost:99999/v1",
                                 "localhost:8000/v1", "ftp://127.0.0.1/v1", "http:///v1", " http://127.0.0.1/v1"])
def test_a_malformed_url_is_a_config_error_naming_the_setting_before_any_row_is_read(url):
    from curation.config import load_config
    from tomecraft.config_files import ConfigError

    with pytest.raises(ConfigError, match=r"stages\.judge\.url: not") as err:
        load_config(None, {"stages": {"judge": {"enabled": True, "backend": "openai", "url": url}}})
    assert "\n" not in str(err.value)
    for good in ("http://127.0.0.1:8000/v1", "https://user:key@judge.example.org/v1/", "http://[::1]:8000/v1"):
        assert JudgeConfig(backend="openai", url=good).url == good
