"""Packing keeps every row its own sequence: a packed batch holds the rows' tokens, restarted positions and loss
targets, end to end, and its loss mask is the concatenation of the unpacked rows' masks, token by token.

Checked for the offline SmolLM2 (ChatML) template and for the Llama-3.x markers of the default config (on
SmolLM2's tokenizer given Llama 3's header tokens, as in test_train), with rows truncated by max_seq_length and
packed sequences that end exactly at max_seq_length; then a tiny Llama shows that the restarted positions keep
attention inside each row.
"""

from __future__ import annotations

import copy

import pytest

from tests.training.test_train import qa_rows, smollm2_dir, tiny_config, tiny_model, tokenizer  # noqa: F401  (fixtures shared with test_train)
from training.data import IGNORE_INDEX, prepare_split, response_masker, template_parts
from training.packing import (
    PackingError,
    check_collator,
    expected_batch,
    loss_mask,
    pack_rows,
    padding_free_collator,
    row_loss_mask,
)


def long_rows() -> list[dict]:
    """Rows that max_seq_length cuts: inside the reply, and inside a second user turn (after a first reply)."""
    story = {"id": "story", "conversations": [
        {"from": "human", "value": "Tell me a story."}, {"from": "gpt", "value": "Once upon a time there was a fox. " * 40}]}
    second_turn = {"id": "second-turn", "conversations": [
        {"from": "human", "value": "Say yes."}, {"from": "gpt", "value": "Yes."},
        {"from": "human", "value": "Now read this: " + "lorem ipsum " * 200}, {"from": "gpt", "value": "Done."}]}
    return [story, second_turn]


@pytest.fixture(scope="module")
def chatml(tokenizer):  # noqa: F811
    instruction, response = template_parts(tokenizer, None, None, None)
    return tokenizer, response_masker(tokenizer, instruction, response), response


def llama31_tokenizer(tokenizer):  # noqa: F811
    """SmolLM2's tokenizer with Llama 3.1's special tokens and Unsloth's llama-3.1 chat template."""
    from training.models import import_unsloth

    import_unsloth()
    from unsloth.chat_templates import get_chat_template

    llama = copy.deepcopy(tokenizer)
    llama.add_special_tokens({"additional_special_tokens": ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    return get_chat_template(llama, chat_template="llama-3.1")


@pytest.fixture(scope="module")
def llama3(tokenizer):  # noqa: F811
    llama = llama31_tokenizer(tokenizer)
    instruction, response = template_parts(llama, "llama-3.1", None, None)
    assert response == "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return llama, response_masker(llama, instruction, response), response


def packed_split(template, rows):
    """Rows prepared as for training, at a max_seq_length that makes one packed sequence of several rows end
    exactly at the boundary (the longest short row plus the shortest one) and cuts the long rows."""
    tok, mask, response = template
    lengths = sorted(len(x) for x in prepare_split(rows, "probe", tok, mask, 10_000, response).input_ids)
    max_len = lengths[-3] + lengths[0]  # the two longest rows are the long ones
    split = prepare_split(rows + long_rows(), "train", tok, mask, max_len, response)
    assert not split.skipped and split.truncated_rows == 2
    return split, pack_rows(split.input_ids, split.labels, max_len), max_len


@pytest.mark.parametrize("template_name", ["chatml", "llama3"])
def test_packed_batches_equal_the_rows_end_to_end(template_name, request):
    template = request.getfixturevalue(template_name)  # imports Unsloth before TRL
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    tok = template[0]
    split, packed, max_len = packed_split(template, qa_rows(14))
    n = len(split.input_ids)

    # every row lands in exactly one packed sequence, whole, and no sequence is longer than max_seq_length
    assert sorted(r for rows in packed.rows for r in rows) == list(range(n))
    for ids, lengths, rows in zip(packed.input_ids, packed.seq_lengths, packed.rows):
        assert len(ids) == sum(lengths) <= max_len and lengths == [len(split.input_ids[r]) for r in rows]
    truncated = [r for r in range(n) if len(split.input_ids[r]) == max_len]
    assert len(truncated) == 2  # the cut rows fill their sequences exactly
    assert any(len(rows) > 1 and len(ids) == max_len for ids, rows in zip(packed.input_ids, packed.rows))
    stats = packed.stats()
    assert stats["rows"] == n and stats["tokens"] == split.tokens and stats["slots"] == stats["sequences"] * max_len

    collator = padding_free_collator(tok.pad_token_id)  # the class and settings SFTTrainer uses for packed rows
    examples = [{"input_ids": i, "labels": l, "seq_lengths": s} for i, l, s in zip(packed.input_ids, packed.labels, packed.seq_lengths)]
    trained = 0
    for start in range(0, len(examples), 3):
        batch = collator(examples[start:start + 3])
        check_collator(collator, examples[start:start + 3])
        rows = [r for seq in packed.rows[start:start + 3] for r in seq]
        # built from the unpacked split directly, not from the packed examples
        want_ids = [t for r in rows for t in split.input_ids[r]]
        want_positions = [p for r in rows for p in range(len(split.input_ids[r]))]
        want_mask = [m for r in rows for m in row_loss_mask(split.labels[r])]
        assert batch["input_ids"][0].tolist() == want_ids
        assert batch["position_ids"][0].tolist() == want_positions
        assert "attention_mask" not in batch
        got_mask = loss_mask(batch)
        assert got_mask == want_mask  # token by token
        labels = batch["labels"][0].tolist()
        assert all(labels[i] == want_ids[i] for i, m in enumerate(got_mask) if m)  # each target is its own token
        trained += sum(got_mask)

    # the same tokens are trained as in today's unpacked, padded batches (targets after the shift, per row)
    padded = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)(
        [{"input_ids": split.input_ids[r], "labels": split.labels[r]} for r in range(n)])
    shifted = padded["labels"][:, 1:]
    assert trained == int((shifted != IGNORE_INDEX).sum()) == split.trainable_tokens - sum(
        1 for lab in split.labels if lab[0] != IGNORE_INDEX)

    # what the mask keeps is assistant text: the truncated story trains on the part of its reply that fits
    story = next(r for r in truncated if "fox" in tok.decode(split.input_ids[r]))
    kept = [t for t, m in zip(split.input_ids[story], row_loss_mask(split.labels[story])) if m]
    assert tok.decode(kept).lstrip().startswith("Once upon a time") and "Tell me" not in tok.decode(kept)


def test_packed_runs_ask_for_padding_free_batches_and_keep_the_rows_as_they_are():
    from training.config import CONFIG_DIR, load_config
    from training.run import batching_options

    cfg = load_config(CONFIG_DIR / "train.yaml")
    packed = batching_options(cfg, packed=True, gradient_checkpointing=False)
    assert packed["padding_free"] is True and packed["max_length"] is None
    assert packed["dataset_kwargs"] == {"skip_prepare_dataset": True} and packed["gradient_checkpointing"] is False
    unpacked = batching_options(load_config(cfg, {"training": {"packing": False, "padding_free": False}}), packed=False,
                                gradient_checkpointing="unsloth")
    assert unpacked == {"max_length": 2048, "padding_free": False}
    assert batching_options(cfg, packed=False) == {"max_length": 2048}  # padding-free: Unsloth decides


def test_a_collator_that_does_not_restart_positions_is_refused(chatml):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    tok = chatml[0]
    _, packed, _ = packed_split(chatml, qa_rows(6))
    examples = [{"input_ids": i, "labels": l, "seq_lengths": s} for i, l, s in zip(packed.input_ids, packed.labels, packed.seq_lengths)]
    several = [e for e in examples if len(e["seq_lengths"]) > 1][:1]
    assert several
    check_collator(padding_free_collator(tok.pad_token_id), several)
    with pytest.raises(PackingError, match="attention mask"):  # Unsloth's CPU path: padded batches
        check_collator(DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id), several)

    class NoBoundary:  # positions restart, but a row's first token is left as the target of the row before it
        def __call__(self, examples):
            batch = padding_free_collator(tok.pad_token_id)(examples)
            batch["labels"] = batch["input_ids"].clone()
            return batch

    with pytest.raises(PackingError, match="labels differ"):
        check_collator(NoBoundary(), several)


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_restarted_positions_keep_attention_inside_each_row(chatml):
    """A packed forward of a (tiny, random) Llama gives each row the logits it gets alone; with positions that
    do not restart, the later rows see the earlier ones."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = chatml[0]
    split, packed, _ = packed_split(chatml, qa_rows(6))
    seq = next(i for i, rows in enumerate(packed.rows) if len(rows) > 1)
    example = {"input_ids": packed.input_ids[seq], "labels": packed.labels[seq], "seq_lengths": packed.seq_lengths[seq]}
    batch = padding_free_collator(tok.pad_token_id)([example])
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=4096, attn_implementation="sdpa")).eval()
    with torch.no_grad():
        together = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        leaky = model(input_ids=batch["input_ids"], use_cache=False).logits[0]
        start = 0
        for row in packed.rows[seq]:
            ids = torch.tensor([split.input_ids[row]])
            alone = model(input_ids=ids, use_cache=False).logits[0]
            end = start + ids.shape[1]
            assert (together[start:end] - alone).abs().max() < 1e-4
            if start:
                assert (leaky[start:end] - alone).abs().max() > 1e-2
            start = end


@pytest.mark.slow
def test_where_batches_stay_padded_the_run_trains_unpacked_and_says_why(tmp_path, tiny_model):  # noqa: F811
    """Unsloth's CPU path keeps padded batches; packed rows there would attend to each other, so they are not used."""
    from training.curated_folder import write_curated_folder
    from training.run import train

    data = write_curated_folder(qa_rows(24), tmp_path / "data")
    summary = train(data, tiny_config(tiny_model, max_steps=2, packing=True), tmp_path / "run")
    packing = summary.data["packing"]
    assert packing["requested"] and not packing["active"] and "unpacked" in packing["reason"]
    assert summary.global_step == 2
    train_stats = summary.data["train"]
    assert 0 < train_stats["loss_mask_share"] < 1
    assert train_stats["loss_mask_share"] == round(train_stats["trainable_tokens"] / train_stats["tokens"], 4)
