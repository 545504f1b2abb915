"""Each curation step on its own: filters' reason codes, keep policy, balance, split, validation, ids."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

from curation.balance import Balance, BalanceConfig
from curation.contract import suffix_duplicate_ids
from curation.core.keep_policy import keep_decisions
from curation.engines.inmemory import rows_to_batch, run_stage
from curation.exact_dedup import ExactDedup, ExactDedupConfig
from curation.filters import Filters, FiltersConfig, duplicate_ngram_fraction, roles_alternate
from curation.split import Split, SplitConfig
from curation.validate import RowError, ValidateConfig, validate_record


def row(*turns, score=4.0, source="s", rid="r"):
    return {"id": rid, "conversations": [{"from": f, "value": v} for f, v in turns], "source": source, "score": score}


ANSWER = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf."


@pytest.mark.parametrize(
    "sample,cfg,code",
    [
        (row(("human", "Explain it"), ("gpt", "ok")), {}, "answer_too_short"),
        (row(("human", "Q?"), ("human", "Again?"), ("gpt", ANSWER)), {}, "roles_not_alternating"),
        (row(("gpt", ANSWER), ("human", "Q?")), {}, "roles_not_alternating"),
        (row(("human", "Q?"), ("gpt", ANSWER), ("human", "And then?")), {}, "no_final_answer"),
        (row(("human", "word " * 500), ("gpt", "Short but fine answer.")), {}, "prompt_answer_ratio"),
        (row(("human", "Q?"), ("gpt", "x" * 40_000)), {}, "turn_too_long"),
        (row(("human", "Q?"), ("gpt", ANSWER), score=1.5), {"min_score": 3.0}, "low_score"),
        (row(("human", "Q?"), ("gpt", "\n".join(["The same line again and again here."] * 30 + [ANSWER] * 2))), {}, "repeated_lines"),
        (row(("human", "Q?"), ("gpt", "buy now cheap pills " * 40)), {}, "repeated_ngrams"),
        (row(("human", "Q?"), ("gpt", ANSWER)), {"min_words_per_turn": 3}, "turn_too_short"),
    ],
)
def test_each_filter_has_its_reason_code(sample, cfg, code):
    reason = Filters(FiltersConfig(**cfg)).check(sample)
    assert reason is not None and reason[0] == code, reason


def test_good_rows_pass_every_filter():
    good = row(("system", "You are helpful."), ("human", "How do leaves make food?"), ("gpt", ANSWER),
               ("human", "And at night?"), ("gpt", "At night the plant uses stored sugar for energy; no light, no photosynthesis."))
    assert Filters(FiltersConfig(min_score=3.0)).check(good) is None


def test_filters_can_be_switched_off_one_by_one():
    rep = row(("human", "Q?"), ("gpt", "buy now cheap pills " * 40))
    cfg = FiltersConfig(top_ngram_max_fraction={}, dup_ngram_max_fraction={}, max_repeated_line_fraction=None,
                        max_repeated_line_char_fraction=None)
    assert Filters(cfg).check(rep) is None


@pytest.mark.parametrize("roles,kept", [
    (("system", "human", "gpt"), True),
    (("system", "system", "human", "gpt"), False),  # chat templates (Llama 2, Gemma, Mistral) raise on it
    (("human", "system", "gpt"), False),
    (("human", "gpt", "system", "human", "gpt"), False),
])
def test_one_system_turn_at_most_and_only_first_by_both_paths(roles, kept):
    sample = row(*((r, "You are helpful." if r == "system" else "How do leaves make food?" if r == "human" else ANSWER)
                   for r in roles))
    stage = Filters(FiltersConfig())
    assert (stage.check(sample) is None) is kept
    assert roles_alternate(sample["conversations"]) is kept
    out = stage.process(rows_to_batch([sample]))
    removed = out.reason is not None and out.reason[0].as_py() is not None
    assert removed is not kept


@pytest.mark.parametrize("roles,kept", [
    (("human", "gpt"), True), (("human", "gpt", "human"), False), (("system", "human", "gpt", "human", "gpt"), True),
])
def test_a_conversation_must_end_on_an_answer_by_both_paths(roles, kept):
    sample = row(*((r, "You are helpful." if r == "system" else "How do leaves make food?" if r == "human" else ANSWER)
                   for r in roles))
    stage = Filters(FiltersConfig())
    assert (stage.check(sample) is None) is kept
    out = stage.process(rows_to_batch([sample, row(("human", "Why is the sky blue?"), ("gpt", ANSWER))]))
    reasons = out.reason.to_pylist() if out.reason is not None else [None, None]
    assert reasons == [None if kept else "filter:no_final_answer", None]
    assert Filters(FiltersConfig(require_final_answer=False)).check(sample) is None  # the check can be switched off


def test_gopher_helpers():
    assert roles_alternate([{"from": "system"}, {"from": "human"}, {"from": "gpt"}])
    assert not roles_alternate([{"from": "human"}, {"from": "system"}, {"from": "gpt"}])
    words = "a b c d e a b c d e".split()
    assert duplicate_ngram_fraction(words, 5, 10) == pytest.approx(0.5)


def _policy(rows, labels, pairs=None, sims=None):
    """The keep policy over ``rows`` as run_stage would see it: (kept ids, removals by id, stats)."""
    from curation.core.keep_policy import policy_keys

    keys = pa.Table.from_pydict(policy_keys(rows_to_batch(rows), labelled=False))
    d = keep_decisions(keys, np.array(labels), "near_duplicate", pairs, sims)
    return d.table.to_pylist(), d.stats


def test_keep_policy_prefers_score_then_length_then_id():
    rows = [
        row(("human", "q"), ("gpt", "short"), score=4.0, rid="b"),
        row(("human", "q"), ("gpt", "much longer answer"), score=4.0, rid="c"),
        row(("human", "q"), ("gpt", "low"), score=3.0, rid="a"),
        row(("human", "q"), ("gpt", "much longer answer"), score=4.0, rid="a2"),
        row(("human", "other"), ("gpt", "alone"), score=1.0, rid="z"),
    ]
    decided, stats = _policy(rows, [0, 0, 0, 0, 4], np.array([[0, 3]]), np.array([0.9]))
    by_pos = {d["_pos"]: d for d in decided}
    assert 4 not in by_pos  # a singleton is not decided on
    assert by_pos[3]["reason"] is None and by_pos[3]["cluster_id"] == "c-a2"
    assert {rows[p]["id"]: d["duplicate_of"] for p, d in by_pos.items() if d["reason"]} == {"b": "a2", "c": "a2", "a": "a2"}
    assert by_pos[0]["details"] == '{"similarity": 0.9}'
    assert by_pos[1]["details"] == '{"similarity": "transitive"}'
    assert stats["clusters"] == 1 and stats["cluster_sizes"] == {"4": 1}


def test_missing_score_ranks_lowest():
    rows = [row(("human", "q"), ("gpt", "a longer answer"), score=None, rid="a"), row(("human", "q"), ("gpt", "a"), score=0.1, rid="b")]
    decided, _ = _policy(rows, [0, 0])
    assert [d["_pos"] for d in decided if d["reason"] is None] == [1]


def test_nan_score_ranks_lowest():
    rows = [row(("human", "q"), ("gpt", "a longer answer"), score=float("nan"), rid="a"), row(("human", "q"), ("gpt", "a"), score=0.1, rid="b")]
    decided, _ = _policy(rows, [0, 0])
    assert [d["_pos"] for d in decided if d["reason"] is None] == [1]


def test_exact_dedup_groups_by_normalized_text():
    rows = [row(("human", "Q"), ("gpt", "A"), rid=str(i)) for i in range(3)] + [row(("human", "q"), ("gpt", "A"), rid="x")]
    res = run_stage(ExactDedup(ExactDedupConfig()), rows)
    assert len(res.kept) == 2 and len(res.removed) == 2
    res = run_stage(ExactDedup(ExactDedupConfig(case_sensitive=False)), rows)
    assert len(res.kept) == 1


def test_balance_caps_sources_deterministically():
    rows = [row(("human", "q"), ("gpt", "a"), source="big", rid=f"b{i}") for i in range(50)]
    rows += [row(("human", "q"), ("gpt", "a"), source="small", rid=f"s{i}") for i in range(5)]
    cfg = BalanceConfig(max_per_source=10, per_source={"small": 3})
    a = run_stage(Balance(cfg), rows)
    b = run_stage(Balance(cfg), list(reversed(rows)))
    assert sorted(r["id"] for r in a.kept) == sorted(r["id"] for r in b.kept)
    assert sum(r["source"] == "big" for r in a.kept) == 10 and sum(r["source"] == "small" for r in a.kept) == 3
    assert {r.reason for r in a.removed} == {"balance:source_cap"}
    other_seed = run_stage(Balance(BalanceConfig(max_per_source=10, seed=7)), rows)
    assert sorted(r["id"] for r in other_seed.kept) != sorted(r["id"] for r in a.kept)


def test_split_keeps_clusters_and_augmented_rows_with_their_origin():
    rows = []
    for i in range(300):
        r = row(("human", f"q{i}"), ("gpt", "a"), rid=f"r{i}")
        if i % 10 == 0:
            r["cluster_id"] = f"c{i // 30}"
        rows.append(r)
    augmented = [dict(row(("human", f"q{i} again"), ("gpt", "a"), rid=f"aug{i}"), origin_id=f"r{i}") for i in range(0, 300, 7)]
    res = run_stage(Split(SplitConfig(train=0.8, validation=0.1, test=0.1)), rows + augmented)
    split_of = {r["id"]: r["_split"] for r in res.kept}
    by_cluster: dict[str, set] = {}
    for r in rows:
        if r.get("cluster_id"):
            by_cluster.setdefault(r["cluster_id"], set()).add(split_of[r["id"]])
    assert all(len(v) == 1 for v in by_cluster.values())
    counts = res.stats["rows"]
    assert counts["validation"] > 10 and counts["test"] > 10
    for a in augmented:
        if a["id"] in split_of:
            assert split_of[a["id"]] == "train" == split_of[a["origin_id"]]
        else:
            assert split_of[a["origin_id"]] != "train"
    assert {r.reason for r in res.removed} <= {"augment:origin_not_in_train"}
    assert len(res.kept) + len(res.removed) == len(rows) + len(augmented)


def test_tiny_inputs_still_fill_every_split():
    rows = [row(("human", f"q{i}"), ("gpt", "a"), rid=f"r{i}") for i in range(3)]
    res = run_stage(Split(SplitConfig()), rows)
    assert sorted(res.stats["rows"].values()) == [1, 1, 1]


def test_ids_are_stable_and_unique_per_copy():
    assert suffix_duplicate_ids(["a", "b", "a", "a", "c"]) == ["a", "b", "a-2", "a-3", "c"]


@pytest.mark.parametrize(
    "data,message",
    [
        ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt"}]}, "turn 2: missing 'value'"),
        ({"conversations": [{"from": "human", "value": None}, {"from": "gpt", "value": "a"}]}, "is null, expected a string"),
        ({"conversations": [{"from": "human", "value": "  "}, {"from": "gpt", "value": "a"}]}, "turn 1: empty 'value'"),
        ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "score": "high"}, "'score' is str"),
        ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "source": 5}, "'source' is int"),
        ({"messages": [{"role": "user", "content": "q"}]}, "no gpt turn"),
        ({"conversations": {"from": "human"}}, "'conversations' is dict"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": None, "tool_calls": [{}]}]},
            "turn 2: a tool call ('tool_calls') with no text: tool-use conversations are not supported",
        ),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "function", "content": "{}"}]},
            "turn 2: role 'function' is a tool's result",
        ),
    ],
)
def test_validation_messages(data, message):
    with pytest.raises(RowError, match=re.escape(message)):
        validate_record(data, ValidateConfig())


def test_validation_max_turns():
    data = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}] * 3}
    with pytest.raises(RowError, match="max_turns=4"):
        validate_record(data, ValidateConfig(max_turns=4))
