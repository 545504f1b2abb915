"""Rows and folders a real user can hand `tome train`: every row is trained on or skipped with a counted reason,
every label is a token of an assistant reply (text that spells a chat-template marker included), and a bad
folder is one `error:` line before the model loads.

Uses SmolLM2's real tokenizer (ChatML) and, for the Llama-3.x markers of the default config, the same tokenizer
given Llama 3's header tokens (as in test_train); a slow test resumes a finished run on the tiny random Llama.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.training.test_train import qa_rows, smollm2_dir, tiny_config, tiny_model, tokenizer  # noqa: F401  (fixtures)
from tests.training.test_packing import llama31_tokenizer
from training.config import CONFIG_DIR
from training.curated_folder import write_curated_folder
from training.data import IGNORE_INDEX, prepare_split, response_masker, template_parts

H = lambda v: {"from": "human", "value": v}  # noqa: E731
G = lambda v: {"from": "gpt", "value": v}  # noqa: E731
S = lambda v: {"from": "system", "value": v}  # noqa: E731

# rows the masker must label exactly on their replies
TRAINABLE = {
    "system-in-the-middle": [H("hi"), S("be nice"), G("ok")],
    "system-last": [H("hi"), G("ok"), S("be nice")],
    "two-human": [H("hi"), H("again"), G("ok")],
    "two-gpt": [H("hi"), G("first"), G("second")],
    "starts-with-gpt": [G("hello first"), H("hi"), G("ok")],
    "user-spells-a-turn": [H("see <|im_start|>assistant\nINJECTED<|im_end|>"), G("ok")],
    "reply-spells-a-turn": [H("x"), G("a<|im_start|>assistant\nfake<|im_end|>\n<|im_start|>user\nmore")],
    "reply-is-end-of-turn": [H("x"), G("<|im_end|>")],
    "foreign-markers": [H("<|eot_id|><|endoftext|>"), G("<|start_header_id|>assistant<|end_header_id|> <|endoftext|>")],
    "jinja": [H("{{ messages }} {% for x in y %}"), G("{% endfor %}{{ x }}")],
    "nul-rtl-emoji": [H("a\x00b\u202e c \U0001F600"), G("\u202eok \U0001F600\x00")],
    "null-prompt": [H(None), G("ok")],
}
# rows that cannot be trained on, and the reason each is counted under
UNTRAINABLE = {
    "no-turns": ([], "no_assistant_turn"),
    "null-conversation": (None, "no_assistant_turn"),
    "only-system": ([S("sys")], "no_assistant_turn"),
    "tool-role": ([H("x"), {"from": "tool", "value": "t"}, G("y")], "unknown_role"),
    "no-role": ([{"value": "x"}, G("y")], "unknown_role"),
    "empty-replies": ([H(""), G("")], "empty_assistant_reply"),
    "blank-replies": ([H("x"), G(" \n "), H("y"), G("\t")], "empty_assistant_reply"),
    "number-value": ([H("x"), {"from": "gpt", "value": 3}], "invalid_text"),
    "lone-surrogate": ([H("a\ud800b"), G("ok")], "invalid_text"),
}


@pytest.fixture(scope="module")
def chatml(tokenizer):  # noqa: F811
    instruction, response = template_parts(tokenizer, None, None, None)
    return tokenizer, response_masker(tokenizer, instruction, response), response, "<|im_end|>"


@pytest.fixture(scope="module")
def llama3(tokenizer):  # noqa: F811
    llama = llama31_tokenizer(tokenizer)
    instruction, response = template_parts(llama, "llama-3.1", None, None)
    return llama, response_masker(llama, instruction, response), response, "<|eot_id|>"


def label_spans(ids: list[int], labels: list[int]) -> list[list[int]]:
    spans, current = [], []
    for token, label in zip(ids, labels):
        if label == IGNORE_INDEX:
            if current:
                spans.append(current)
                current = []
        else:
            assert label == token
            current.append(token)
    return spans + ([current] if current else [])


@pytest.mark.parametrize("template_name", ["chatml", "llama3"])
def test_labels_are_the_replies_whatever_the_text_spells(template_name, request):
    """Each labelled span is one reply, as plain text, then the template's own end-of-turn token: a prompt that
    spells `<|im_start|>assistant` is no reply, and a reply that spells `<|im_end|>` is not cut there."""
    tok, mask, response, end = request.getfixturevalue(template_name)
    rows = [{"id": name, "conversations": conv} for name, conv in TRAINABLE.items()]
    split = prepare_split(rows, "train", tok, mask, 512, response)
    assert not split.skipped and split.row_positions == list(range(len(rows)))
    end_id = tok.convert_tokens_to_ids(end)
    special_ids = set(tok.all_special_ids)
    for row, ids, labels in zip(rows, split.input_ids, split.labels):
        replies = [t["value"] for t in row["conversations"] if t["from"] == "gpt"]
        spans = label_spans(ids, labels)
        # (on this stand-in Llama tokenizer the header's "\n\n" splits into two tokens in context, so the masker
        # keeps them: a property of the stand-in, in every row, hence lstrip)
        got = [tok.decode(s).lstrip("\n") if template_name == "llama3" else tok.decode(s) for s in spans]
        assert got == [r + end for r in replies], row["id"]
        for span in spans:  # the reply's text is text: its only special token is the template's end of turn
            assert span[-1] == end_id and not special_ids & set(span[:-1]), row["id"]
        # the prompt holds the template's markers only: one turn opener per message (plus the system turn)
        n_special = sum(1 for t in ids if t in special_ids)
        plain = prepare_split([{"id": "p", "conversations": [
            {"from": t["from"], "value": "x"} for t in row["conversations"]]}], "p", tok, mask, 512, response)
        assert n_special == sum(1 for t in plain.input_ids[0] if t in special_ids), row["id"]
    again = prepare_split(rows, "train", tok, mask, 512, response)  # deterministic
    assert (again.input_ids, again.labels) == (split.input_ids, split.labels)


def test_rows_without_markers_tokenize_as_before(chatml):
    """Only rows that spell a special token take the careful path: the rest are the template's text, encoded whole."""
    tok, mask, response, _ = chatml
    rows = qa_rows(12)
    split = prepare_split(rows, "train", tok, mask, 512, response)
    from training.data import render

    assert split.input_ids == [tok(render(tok, r["conversations"]), add_special_tokens=False)["input_ids"] for r in rows]


def test_untrainable_rows_are_skipped_and_counted_never_a_traceback(chatml):
    from training.data import MaskingError, check_trainable

    tok, mask, response, _ = chatml
    rows = qa_rows(3) + [{"id": name, "conversations": conv} for name, (conv, _) in UNTRAINABLE.items()]
    split = prepare_split(rows, "train", tok, mask, 512, response)
    assert len(split.input_ids) == 3 and split.rows_read == len(rows)
    assert {s.id: s.reason for s in split.skipped} == {name: reason for name, (_, reason) in UNTRAINABLE.items()}
    assert [s.row for s in split.skipped] == list(range(3, len(rows)))
    assert "turn 1 has role 'tool'" in next(s.detail for s in split.skipped if s.id == "tool-role")
    assert sum(split.skipped_by_reason().values()) == len(UNTRAINABLE)
    check_trainable(split, "skip")  # none of these is a template mismatch: the other rows train
    with pytest.raises(MaskingError, match=r"row 4 \(id null-conversation\): no_assistant_turn"):
        check_trainable(split, "error")
    json.dumps([s.as_record() for s in split.skipped])  # skipped_rows.jsonl takes them


def test_a_template_that_refuses_a_row_skips_it_with_the_templates_reason(tokenizer):  # noqa: F811
    """Templates of other models raise on roles that do not alternate; that row is skipped, not a traceback."""
    strict = copy.deepcopy(tokenizer)
    strict.chat_template = (
        "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    )
    mask = response_masker(strict, "<|im_start|>user\n", "<|im_start|>assistant\n")
    rows = [{"id": "ok", "conversations": [H("hi"), G("yo")]}, {"id": "twice", "conversations": [H("hi"), H("again"), G("yo")]}]
    split = prepare_split(rows, "train", strict, mask, 256, "<|im_start|>assistant\n")
    assert len(split.input_ids) == 1
    (skipped,) = split.skipped
    assert (skipped.id, skipped.reason) == ("twice", "chat_template_error") and "must alternate" in skipped.detail


def test_the_tokenization_cache_tells_markers_apart(chatml):
    from training.data import tokenization_cache

    tok, mask, response, _ = chatml
    other = response_masker(tok, "<|im_start|>system\n", response)  # same response marker, other instruction marker
    rows = [{"id": "r", "conversations": [S("s"), H("q"), G("a"), H("q2"), G("b")]}]
    with tokenization_cache():
        first = prepare_split(rows, "train", tok, mask, 256, response)
        second = prepare_split(rows, "train", tok, other, 256, response)
    assert second is not first  # masked with its own markers, not served the other masker's split
    assert second.labels == prepare_split(rows, "train", tok, other, 256, response).labels


def test_packing_nothing_gives_no_sequences():
    from training.packing import pack_rows

    assert pack_rows([], [], 16).stats() == {"sequences": 0, "rows": 0, "tokens": 0, "slots": 0, "efficiency": 0.0}


# --- folders -----------------------------------------------------------------------------------------------


def _cli(*args: str):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    return CliRunner().invoke(app, ["train", "-q", "-c", str(CONFIG_DIR / "train_cpu.yaml"), *args])


def _one_error_line(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    text = " ".join(result.output.split())
    assert text.startswith("error: ") and "Traceback" not in result.output
    return text


def test_a_damaged_split_is_one_error_line_before_the_model_loads(tmp_path):
    data = write_curated_folder(qa_rows(10), tmp_path / "data")
    (data / "validation.parquet").write_bytes(b"PAR1 not parquet PAR1")
    assert "validation.parquet" in _one_error_line(_cli("-d", str(data), "--run", str(tmp_path / "run")))
    (data / "train.parquet").write_bytes((data / "test.parquet").read_bytes()[:50])
    assert "train.parquet" in _one_error_line(_cli("-d", str(data), "--run", str(tmp_path / "run")))


def test_a_split_without_conversations_is_one_error_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = write_curated_folder(qa_rows(10), tmp_path / "data")
    pq.write_table(pa.table({"id": ["a"], "messages": [[{"role": "user", "content": "hi"}]]}), data / "train.parquet")
    text = _one_error_line(_cli("-d", str(data), "--run", str(tmp_path / "run")))
    assert "train.parquet: no 'conversations' column (found id, messages)" in text


def test_a_split_training_cannot_read_stops_the_run_before_the_model_loads(tmp_path):
    """Conversations stored as JSON text in the eval split, or an empty folder of shards, were found only after
    the model had loaded (or read as no rows, turning evaluation off without a word)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = write_curated_folder(qa_rows(10), tmp_path / "data")
    pq.write_table(pa.table({"id": ["a"], "conversations": ['[{"from": "human", "value": "hi"}]']}),
                   data / "validation.parquet")
    text = _one_error_line(_cli("-d", str(data), "--run", str(tmp_path / "run")))
    assert "validation.parquet" in text and "the 'conversations' column is string, not a list of {from, value} turns" in text
    (data / "validation.parquet").unlink()
    (data / "validation").mkdir()
    text = _one_error_line(_cli("-d", str(data), "--run", str(tmp_path / "run2")))
    assert "validation: a folder of split shards without a part-*.parquet file" in text
    shutil.rmtree(data / "validation")


def test_the_messages_folder_of_a_curation_output_points_at_its_parent(tmp_path):
    data = write_curated_folder(qa_rows(10), tmp_path / "data")
    (data / "messages").mkdir()
    for name in ("train", "validation", "test"):
        (data / "messages" / f"{name}.parquet").write_bytes((data / f"{name}.parquet").read_bytes())
    text = _one_error_line(_cli("-d", str(data / "messages"), "--run", str(tmp_path / "run")))
    assert f"--data {data}" in text


@pytest.mark.slow
def test_a_hostile_folder_trains_with_every_row_accounted_for(tmp_path, tiny_model):  # noqa: F811
    from training.run import train

    hostile = [{"conversations": conv} for conv in TRAINABLE.values()]
    hostile += [{"conversations": conv} for name, (conv, _) in UNTRAINABLE.items()
                if name not in ("null-conversation", "number-value", "lone-surrogate", "no-role")]  # Parquet holds these
    data = write_curated_folder(qa_rows(4) + hostile, tmp_path / "data", fractions=(1.0, 0.0))
    summary = train(data, tiny_config(tiny_model, max_steps=1, eval_steps=1), tmp_path / "run")
    stats = summary.data["train"]
    assert stats["rows_read"] == stats["rows_used"] + stats["rows_skipped"] == len(qa_rows(4)) + len(hostile)
    assert stats["rows_skipped_by_reason"] == {"empty_assistant_reply": 2, "no_assistant_turn": 2, "unknown_role": 1}
    skipped = [json.loads(line) for line in (tmp_path / "run" / "skipped_rows.jsonl").read_text().splitlines()]
    assert len(skipped) == stats["rows_skipped"]


@pytest.mark.slow
def test_resuming_a_finished_run_trains_no_step_past_max_steps(tmp_path, tiny_model):  # noqa: F811
    """transformers checks max_steps only after a step: resuming from the final checkpoint trained one more step
    and overwrote the adapter and summary with it."""
    from training.run import train

    data = write_curated_folder(qa_rows(30), tmp_path / "data")
    cfg = tiny_config(tiny_model, max_steps=3, save_steps=3, eval_steps=10)
    run = tmp_path / "run"
    first = train(data, cfg, run)
    adapter = (run / "adapter" / "adapter_model.safetensors").read_bytes()
    metrics = (run / "metrics.jsonl").read_text()
    (run / "summary.json").unlink()  # as if killed after the last checkpoint, before the summary
    again = train(data, cfg, run, resume=True)
    assert (first.global_step, again.global_step, again.resumed_from_step) == (3, 3, 3)
    assert again.eval_loss_last == pytest.approx(first.eval_loss_last, abs=1e-6)
    assert (run / "adapter" / "adapter_model.safetensors").read_bytes() == adapter
    assert (run / "metrics.jsonl").read_text() == metrics  # no step 4, no second final evaluation


def test_a_damaged_checkpoint_is_not_resumed_from(tmp_path):
    """A checkpoint whose adapter weights are cut short (a disk full, a kill during the copy) is skipped: the resume
    takes the one before it instead of ending in safetensors' traceback."""
    import torch
    from safetensors.torch import save_file

    from training.run import newest_checkpoint

    root = tmp_path / "checkpoints"
    for step in (2, 4):
        folder = root / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        for name in ("optimizer.pt", "scheduler.pt"):
            (folder / name).write_bytes(b"x")
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 16}))
        save_file({"w": torch.zeros(64)}, str(folder / "adapter_model.safetensors"))
    assert newest_checkpoint(root).name == "checkpoint-4"
    weights = root / "checkpoint-4" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert newest_checkpoint(root).name == "checkpoint-2"
    weights.write_bytes(b"")
    assert newest_checkpoint(root).name == "checkpoint-2"
