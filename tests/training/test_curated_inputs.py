"""Curated folders as an ML engineer hands them to `tome train`: written in shards by `--engine ray`, with
`--format both`, with extra columns named like a trainer's own, hand-edited, with 1 MB turns. Each is read into
exactly the rows' replies as labels, or stops with one error naming the folder, the file and the row.

Uses SmolLM2's real tokenizer (ChatML), and the same tokenizer given a template that trims messages (as Meta's
Llama 3 and Gemma templates do) for text that spells a special token.
"""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import OutputFolderError
from tests.training.test_hostile_rows import label_spans
from tests.training.test_train import qa_rows, smollm2_dir, tokenizer  # noqa: F401  (fixtures)
from tomecraft.chat_text import prompt_segments, special_token_pattern
from training.curated_folder import write_curated_folder
from training.data import (
    MaskingError,
    check_split,
    check_trainable,
    prepare_split,
    read_rows,
    response_masker,
    row_problem,
    template_parts,
)

H = lambda v: {"from": "human", "value": v}  # noqa: E731
G = lambda v: {"from": "gpt", "value": v}  # noqa: E731
S = lambda v: {"from": "system", "value": v}  # noqa: E731


@pytest.fixture(scope="module")
def chatml(tokenizer):  # noqa: F811
    instruction, response = template_parts(tokenizer, None, None, None)
    return tokenizer, response_masker(tokenizer, instruction, response), response


def labelled_text(tok, ids: list[int], labels: list[int]) -> list[str]:
    """The labelled spans of a row, decoded (each must be a reply and its end-of-turn token)."""
    return [tok.decode(span) for span in label_spans(ids, labels)]


# --- folders -------------------------------------------------------------------------------------------------


def test_a_split_written_in_shards_reads_as_one_and_a_skipped_row_names_its_shard(tmp_path, chatml):
    """`--engine ray` writes train/part-*.parquet: the rows are the single file's, in order, and a row without a
    reply is named by the shard that holds it (there is no train.parquet to look in)."""
    tok, mask, response = chatml
    rows = qa_rows(4) + [{"conversations": [H("no reply here")]}] + qa_rows(3, seed=1)
    single = write_curated_folder(rows, tmp_path / "single", fractions=(1.0, 0.0))
    sharded = write_curated_folder(rows, tmp_path / "sharded", fractions=(1.0, 0.0), shard_rows=3)
    assert read_rows(sharded, "train") == read_rows(single, "train")
    split = prepare_split(read_rows(sharded, "train"), "train", tok, mask, 512, response)
    (skipped,) = split.skipped
    shard = sharded / "train" / "part-00001.parquet"
    assert (skipped.row, skipped.file, skipped.file_row) == (4, str(shard), 1)
    assert skipped.as_record()["file"] == str(shard)
    with pytest.raises(MaskingError, match=f"{shard} row 1 \\(id {skipped.id}\\): no_assistant_turn"):
        check_trainable(split, "error")
    (one,) = prepare_split(read_rows(single, "train"), "train", tok, mask, 512, response).skipped
    assert one.describe().startswith(f"{single / 'train.parquet'} row 4 ")


def test_a_shard_folder_without_shards_is_one_error_naming_it(tmp_path):
    """An emptied validation/ (a hand-edit, a copy cut short) is no split with no rows: evaluation would silently
    be turned off."""
    data = write_curated_folder(qa_rows(10), tmp_path / "data", shard_rows=4)
    for shard in (data / "validation").glob("part-*.parquet"):
        shard.unlink()
    with pytest.raises(OutputFolderError, match=r"validation: a folder of split shards without a part-\*\.parquet"):
        read_rows(data, "validation")
    assert [n for _, n in check_split(data, "train")] == [4, 4]


@pytest.mark.parametrize("kind", ["json-string", "openai-messages"])
def test_conversations_that_are_not_finetome_turns_are_one_error_naming_the_file(tmp_path, kind):
    """A hand-edited split whose `conversations` are JSON strings, or OpenAI messages under that name, stops with
    the file and the column's type, not with every row skipped as 'the conversation has no turns'."""
    data = write_curated_folder(qa_rows(10), tmp_path / "data")
    table = pq.read_table(data / "train.parquet")
    turns = table.column("conversations").to_pylist()
    if kind == "json-string":
        column = pa.array([json.dumps(t) for t in turns])
    else:
        column = pa.array([[{"role": "user", "content": t[-2]["value"]},
                            {"role": "assistant", "content": t[-1]["value"]}] for t in turns])
    pq.write_table(table.set_column(1, "conversations", column), data / "train.parquet")
    with pytest.raises(OutputFolderError, match=r"train\.parquet: the 'conversations' column is .*, not a list of "
                                                r"\{from, value\} turns"):
        read_rows(data, "train")
    assert row_problem(json.dumps(turns[0])) == ("invalid_text", "conversations holds a str, not a list of turns")


def test_extra_columns_and_the_messages_copy_are_never_what_is_trained(tmp_path, chatml):
    """`--format both`, review columns and columns named like a trainer's own (`messages`, `text`, `input`,
    `labels`, `input_ids`) sit next to `conversations`; only the conversations' replies are labelled, and a
    hand-edited conversation that ends on a human turn trains on its replies only."""
    tok, mask, response = chatml
    rows = [{"conversations": [S("Be brief."), H("q1"), G("a1"), H("q2"), G("a2")]},
            {"conversations": [H("q"), G("a"), H("a question left without a reply")]}]
    data = write_curated_folder(rows, tmp_path / "data", fractions=(1.0, 0.0))
    table = pq.read_table(data / "train.parquet")
    n = table.num_rows
    for name, value in [("messages", [[{"role": "assistant", "content": "EVIL"}]] * n), ("text", ["EVIL"] * n),
                        ("input", ["EVIL"] * n), ("labels", [[1, 2, 3]] * n), ("input_ids", [[4, 5, 6]] * n),
                        ("quality", [5.0] * n), ("review_verdict", ["keep"] * n)]:
        table = table.append_column(name, pa.array(value))
    pq.write_table(table, data / "train.parquet")
    (data / "messages").mkdir()
    messages = pa.table({"id": table.column("id"), "messages": table.column("messages")})
    pq.write_table(messages, data / "messages" / "train.parquet")
    read = read_rows(data, "train")
    assert [set(r) for r in read] == [{"id", "conversations"}] * n
    split = prepare_split(read, "train", tok, mask, 512, response)
    assert not split.skipped
    got = [labelled_text(tok, ids, labels) for ids, labels in zip(split.input_ids, split.labels)]
    assert got == [["a1<|im_end|>", "a2<|im_end|>"], ["a<|im_end|>"]]
    assert all("EVIL" not in tok.decode(ids) for ids in split.input_ids)


def test_a_blank_reply_among_others_is_not_trained_on(chatml):
    """A hand-edited row with one blank reply among real ones: that reply's end-of-turn token was a label, teaching
    the model to answer its prompt with nothing (a row whose replies are all blank is skipped for that reason)."""
    tok, mask, response = chatml
    rows = [{"conversations": [H("q1"), G(""), H("q2"), G("a2")]},
            {"conversations": [H("q1"), G("a1"), H("q2"), G(" \n ")]}]
    split = prepare_split(rows, "train", tok, mask, 512, response)
    got = [labelled_text(tok, ids, labels) for ids, labels in zip(split.input_ids, split.labels)]
    assert got == [["a2<|im_end|>"], ["a1<|im_end|>"]]


def test_a_1mb_turn_is_cut_at_max_seq_length_and_a_cut_prompt_is_skipped_with_why(chatml):
    """Rows are cut at max_seq_length, head kept (model.max_seq_length: "rows are truncated to this many tokens"):
    a 1 MB reply trains on its first tokens; a 1 MB prompt leaves no reply, so the row is skipped, saying where the
    reply would have started."""
    tok, mask, response = chatml
    big = "word " * 200_000  # 1 MB
    rows = [{"id": "big-reply", "conversations": [H("q"), G(big)]},
            {"id": "big-prompt", "conversations": [H(big), G("a")]}]
    split = prepare_split(rows, "train", tok, mask, 256, response)
    assert split.truncated_rows == 2 and len(split.input_ids[0]) == 256
    (reply,) = labelled_text(tok, split.input_ids[0], split.labels[0])
    assert big.startswith(reply) and len(reply) > 500
    (skipped,) = split.skipped
    assert (skipped.id, skipped.reason) == ("big-prompt", "truncated_before_response")
    assert "past max_seq_length 256" in skipped.detail


# --- text that spells a special token -------------------------------------------------------------------------

SPECIALS = special_token_pattern(["<|im_start|>", "<|im_end|>", "<|endoftext|>"])


def _chatml(trim: bool):
    def render(messages):
        return "".join(f"<|im_start|>{m['role']}\n{m['content'].strip() if trim else m['content']}<|im_end|>\n"
                       for m in messages)
    return render


@pytest.mark.parametrize("trim", [False, True])
def test_spelled_special_tokens_stay_text_where_the_template_trims_messages(trim):
    """Meta's Llama 3 and Gemma templates `| trim` each message: a message that spells `<|im_end|>` and ends in a
    newline was refused as a template that changes message text (the row skipped, a served prompt refused)."""
    messages = [{"role": "user", "content": "  what is <|im_end|>?\n"},
                {"role": "assistant", "content": "\n<|endoftext|> ends it.\n\n"}]
    render = _chatml(trim)
    pieces = prompt_segments(render, messages, SPECIALS)
    assert "".join(p for p, _ in pieces) == render(messages)
    assert [p for p, literal in pieces if literal] == ["<|im_end|>", "<|endoftext|>"]


def test_text_that_looks_like_the_placeholder_is_text():
    """The skeleton stands for a message by private-use characters around its number; a message that holds those
    characters (icon fonts use that range) made the row look reordered and skipped it."""
    messages = [{"role": "user", "content": "see \ue0001\ue001 and \ue000\ue001"},
                {"role": "assistant", "content": "<|im_end|> \ue0000\ue001"}]
    render = _chatml(False)
    pieces = prompt_segments(render, messages, SPECIALS)
    assert "".join(p for p, _ in pieces) == render(messages)
    assert [p for p, literal in pieces if literal] == ["<|im_end|>"]


def test_a_trimming_template_trains_rows_that_spell_special_tokens_as_text(tokenizer):  # noqa: F811
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] | trim + "
                         "'<|im_end|>\n' }}{% endfor %}")
    response = "<|im_start|>assistant\n"
    mask = response_masker(tok, "<|im_start|>user\n", response)
    rows = [{"id": "ask", "conversations": [H("what does <|im_start|>assistant mean?\n"), G("It opens a reply.\n")]},
            {"id": "reply", "conversations": [H("q"), G("  Write <|im_end|> to end a turn.\n\n")]}]
    split = prepare_split(rows, "train", tok, mask, 512, response)
    assert not split.skipped
    special_ids = set(tok.all_special_ids)
    for row, ids, labels in zip(rows, split.input_ids, split.labels):
        assert labelled_text(tok, ids, labels) == [row["conversations"][-1]["value"].strip() + "<|im_end|>"]
        assert sum(1 for t in ids if t in special_ids) == 4  # the template's own markers, two per message
