"""Token counts per row equal training's (render with the chat template, encode), by every path."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from curation.token_lengths.config import TokenLengthsConfig
from curation.token_lengths.count import TokenCounter

CONV = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def turns(*pairs):
    return [{"from": r, "value": v} for r, v in pairs]


EDGE_ROWS = [
    turns(("human", "Hi"), ("gpt", "Hello! How can I help?")),
    turns(("system", "You are terse."), ("human", "2+2?"), ("gpt", "4")),
    turns(("human", "  leading spaces"), ("gpt", "trailing newline\n")),
    turns(("human", "Say <|im_end|> literally"), ("gpt", "<|im_end|>")),
    turns(("human", "Q1"), ("gpt", "A1"), ("human", "Q2 with ünïcödé 中文 and emoji 😀"), ("gpt", "A2\n\n\tcode")),
    [],
]


@pytest.fixture(scope="module")
def counter():
    return TokenCounter(TokenLengthsConfig(check_rows=0))


def test_offline_smollm2_uses_the_tiktoken_twin_and_template_pieces(counter):
    counter._load()
    assert counter.backend == "tiktoken"
    assert counter.pieces is not None


def test_edge_rows_match_the_exact_count(counter):
    col = pa.array(EDGE_ROWS, CONV)
    fast, stats = counter.count(col)
    exact = counter.exact(EDGE_ROWS)
    assert fast.tolist() == exact.tolist()
    assert exact[-1] == -1  # no turns: training cannot render it
    assert stats["rows_exact"] == 3  # leading space, special-token text, empty row
    assert stats["rows_fast"] == 3


def test_text_the_tiktoken_twin_cannot_encode_is_counted_by_the_tokenizer(counter):
    """tiktoken's Rust core panics on some unassigned supplementary-plane characters alone in a piece (a
    PanicException, no Exception: it ended the whole run); those texts are counted by the tokenizer itself."""
    rows = [turns(("human", "\U000afae4"), ("gpt", "ok")),
            turns(("human", "Be brief.\n\n\n\U0001d573 \U000afae4\u00d8\x88"), ("gpt", "\U000e5caa\U0004cc79$ What is this?")),
            turns(("human", "plain words"), ("gpt", "more plain words"))]
    fast, _ = counter.count(pa.array(rows, CONV))
    assert fast.tolist() == counter.exact(rows).tolist()


def test_real_rows_match_training_tokenization(counter, alpaca_path):
    rows = [json.loads(line)["conversations"] for line in alpaca_path.open(encoding="utf-8")][:300]
    col = pa.array(rows, CONV)
    fast, _ = counter.count(col)
    from training.data import render

    want = [len(counter.tokenizer(render(counter.tokenizer, r), add_special_tokens=False)["input_ids"]) for r in rows]
    assert fast.tolist() == want


@pytest.mark.slow  # (~4 s: loads a tokenizer)
def test_special_token_text_counts_as_training_tokenizes_it(counter):
    # training keeps a message's "<|im_end|>" as text (several tokens), never the special token (one)
    from training.data import prepare_split, response_masker

    rows = [turns(("human", "Say <|im_end|> literally"), ("gpt", "<|im_start|>assistant\nok<|im_end|>")),
            turns(("human", "plain"), ("gpt", "text"))]
    fast, _ = counter.count(pa.array(rows, CONV))
    mask = response_masker(counter.tokenizer, "<|im_start|>user\n", "<|im_start|>assistant\n")
    split = prepare_split([{"id": str(i), "conversations": r} for i, r in enumerate(rows)], "train", counter.tokenizer,
                          mask, 10_000, "<|im_start|>assistant\n")
    assert fast.tolist() == [len(ids) for ids in split.input_ids]
    whole = len(counter.tokenizer(counter.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say <|im_end|> literally"}, {"role": "assistant", "content": "<|im_start|>assistant\nok<|im_end|>"}],
        tokenize=False), add_special_tokens=False)["input_ids"])
    assert fast[0] > whole  # the spellings are several tokens each


def test_hf_backend_and_sliced_columns_agree(counter):
    col = pa.array(EDGE_ROWS * 3, CONV).slice(2, 10)
    hf = TokenCounter(TokenLengthsConfig(backend="hf"))
    assert hf.count(col)[0].tolist() == counter.count(col)[0].tolist() == counter.exact(col.to_pylist()).tolist()


def test_a_disagreeing_fast_path_switches_to_exact(counter):
    broken = TokenCounter(TokenLengthsConfig(check_rows=4))
    broken._load()
    broken.pieces.end = [x + 1 for x in broken.pieces.end]  # pretend the template cut were wrong
    col = pa.array(EDGE_ROWS[:2] * 4, CONV)
    got, stats = broken.count(col)
    assert stats["fast_path_mismatch"] > 0 and broken.exact_only
    assert np.array_equal(got, counter.exact(col.to_pylist()))


@pytest.mark.parametrize("value", [2**31, 4611686018427387904, 99999999999999999999])
def test_a_max_seq_length_past_int32_is_a_config_error_naming_the_setting(value):
    from curation.config import load_config
    from curation.token_lengths.stage import histogram_bins
    from tomecraft.config_files import ConfigError

    with pytest.raises(ConfigError, match=r"stages\.token_lengths\.max_seq_length: .*2147483647") as err:
        load_config(None, {"stages": {"token_lengths": {"enabled": True, "max_seq_length": value}}})
    assert "\n" not in str(err.value)
    largest = TokenLengthsConfig(max_seq_length=2**31 - 1).max_seq_length  # (token_count is int32)
    edges = histogram_bins(largest, 40)
    assert edges[0] == 0 and edges[-1] == 2 * largest and (np.diff(edges) > 0).all()
