"""Loading the tokenizer: once per counter whatever the threads, and one-line errors for tokenizers it cannot use."""

from __future__ import annotations

import threading

import pytest

from curation.core.stage import StageError
from curation.token_lengths import count as count_module
from curation.token_lengths import tokenizer as tokenizer_module
from curation.token_lengths.config import TokenLengthsConfig
from curation.token_lengths.count import TokenCounter


class FakeTokenizer:
    chat_template = "{{ messages }}"


def test_batches_on_several_threads_load_the_tokenizer_once(monkeypatch):
    """The engine runs batches side by side: two threads loading at once imported transformers half-way
    ("cannot import name 'AutoTokenizer'"). The second thread waits for the first instead."""
    calls = []
    second_entered = threading.Event()

    def load(name, template=None):
        calls.append(name)
        if len(calls) == 1:
            second_entered.wait(0.5)  # time for a second thread to get in, if nothing stops it
        else:
            second_entered.set()
        return FakeTokenizer()

    monkeypatch.setattr(tokenizer_module, "load_tokenizer", load)
    monkeypatch.setattr(tokenizer_module, "tiktoken_twin", lambda tok: None)
    monkeypatch.setattr(count_module, "cut", lambda tok: None)
    counter = TokenCounter(TokenLengthsConfig())
    threads = [threading.Thread(target=counter._load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["smollm2-135m-instruct"]
    assert counter._ready and counter.backend == "exact"


def test_a_tokenizer_it_cannot_load_is_one_line_naming_it(monkeypatch):
    def load(name, template=None):
        raise OSError("Can't load tokenizer for 'nobody/nothing'.\nMake sure that ...")

    monkeypatch.setattr(tokenizer_module, "load_tokenizer", load)
    with pytest.raises(StageError, match=r"^stages\.token_lengths\.tokenizer 'nobody/nothing': cannot load it "
                                         r"\(Can't load tokenizer for 'nobody/nothing'\.\)$"):
        TokenCounter(TokenLengthsConfig(tokenizer="nobody/nothing"))._load()


def test_a_tokenizer_without_chat_template_is_an_error_not_minus_one_tokens_per_row(monkeypatch):
    class NoTemplate:
        chat_template = None

    monkeypatch.setattr(tokenizer_module, "load_tokenizer", lambda name, template=None: NoTemplate())
    with pytest.raises(StageError, match="has no chat template: set stages.token_lengths.chat_template"):
        TokenCounter(TokenLengthsConfig(tokenizer="plain-folder"))._load()
