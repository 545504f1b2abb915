"""Chat formats in (FineTome, OpenAI messages, Alpaca, prompt/completion, a column mapping) and messages out."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.formats import (
    TURNS,
    FormatError,
    concat_turn_lists,
    detect_format,
    map_roles,
    to_conversations,
    to_messages,
)


def turns(*pairs):
    return [{"from": f, "value": v} for f, v in pairs]


def convert(rows, **kw):
    adapted = to_conversations(pa.Table.from_pylist(rows), where="chat.jsonl", **kw)
    assert adapted.table.schema.field("conversations").type == TURNS
    return adapted


@pytest.mark.parametrize("columns,fmt", [
    (["conversations", "source"], "conversations"),
    (["messages"], "messages"),
    (["instruction", "input", "output"], "alpaca"),
    (["instruction", "output"], "alpaca"),
    (["prompt", "completion"], "prompt_completion"),
    (["question", "answer"], None),
])
def test_detect_format(columns, fmt):
    assert detect_format(columns) == fmt


def test_finetome_rows_pass_through_unchanged():
    rows = [{"conversations": turns(("human", "Hi?"), ("gpt", "Hello.")), "source": "a", "score": 4.5}]
    adapted = convert(rows)
    assert adapted.format == "conversations"
    assert adapted.table.to_pylist() == rows
    assert adapted.error.null_count == 1 and adapted.original.to_pylist() == [None]


def test_role_spellings_are_mapped_and_originals_kept_where_changed():
    rows = [{"conversations": turns(("User ", "Hi?"), ("assistant", "Hello."))},
            {"conversations": turns(("human", "Hi?"), ("gpt", "Hello."))},
            {"conversations": turns(("robot", "beep"), ("gpt", "ok"))}]
    adapted = convert(rows)
    got = adapted.table.column("conversations").to_pylist()
    assert got[0] == turns(("human", "Hi?"), ("gpt", "Hello."))
    assert got[2][0]["from"] == "robot"  # unknown roles stay for validation to reject
    assert adapted.original.to_pylist() == [turns(("User ", "Hi?"), ("assistant", "Hello.")), None, None]


@pytest.mark.parametrize("asker,answerer", [("prompter", "assistant"), ("user", "model"), ("Human", "ChatGPT"),
                                            ("user", "bard"), ("user", "bot")])
def test_other_datasets_role_names_are_read_column_wise_and_record_by_record(asker, answerer):
    """OpenAssistant's prompter, Gemini's model, ShareGPT scrapes' chatgpt/bard/bing: the same turns either way."""
    from curation.validate import ValidateConfig, validate_record

    row = {"conversations": turns((asker, "Why is the sky blue?"), (answerer, "Rayleigh scattering."))}
    want = turns(("human", "Why is the sky blue?"), ("gpt", "Rayleigh scattering."))
    assert convert([row]).table.column("conversations").to_pylist() == [want]
    assert validate_record(row, ValidateConfig())["conversations"] == want


def test_content_parts_are_read_record_by_record_too():
    """OpenAI content parts in a row the columnar path does not take (a messages row in a file of FineTome
    rows): their texts, as column-wise; they were quarantined as "'content' is list"."""
    from curation.validate import ValidateConfig, validate_record

    parts = [{"type": "text", "text": "Name a prime."}, {"type": "image_url", "image_url": {"url": "x"}},
             {"type": "text", "text": "Above ten."}]
    row = {"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "Eleven."}]}
    got = validate_record(row, ValidateConfig())
    assert got["conversations"] == turns(("human", "Name a prime.\n\nAbove ten."), ("gpt", "Eleven."))
    assert got["original_conversations"] == turns(("user", "Name a prime.\n\nAbove ten."), ("assistant", "Eleven."))


@pytest.mark.parametrize("columns,mapping", [
    (["instruction", "context", "response", "category"], {"input": "context", "output": "response"}),  # Dolly
    (["question", "answer"], {"instruction": "question", "output": "answer"}),  # GSM8K
    (["query", "response", "type"], {"instruction": "query", "output": "response"}),  # MetaMathQA
    (["id", "system_prompt", "question", "response"],
     {"instruction": "question", "output": "response", "system": "system_prompt"}),  # OpenOrca
    (["prompt", "response"], {"instruction": "prompt", "output": "response"}),
    (["question", "query", "answer"], None),  # two questions: ambiguous
    (["question", "title"], None),  # no answer
    (["text"], None),
])
def test_a_question_and_answer_under_other_names_map_to_alpaca(columns, mapping):
    from curation.formats import alpaca_aliases

    assert alpaca_aliases(columns) == mapping


def test_openai_messages_with_string_content():
    rows = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                          {"role": "assistant", "content": "4"}], "id": "x"}]
    adapted = convert(rows)
    assert adapted.format == "messages"
    assert adapted.table.column("conversations").to_pylist() == [turns(("system", "Be brief."), ("human", "2+2?"), ("gpt", "4"))]
    assert adapted.table.column_names == ["conversations", "id"]
    assert adapted.original.to_pylist()[0][1] == {"from": "user", "value": "2+2?"}


def test_openai_messages_with_content_parts():
    rows = [{"messages": [{"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image", "text": None},
                                                       {"type": "text", "text": "what is it?"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]}]
    adapted = convert(rows)
    assert adapted.table.column("conversations").to_pylist() == [turns(("human", "Look:\n\nwhat is it?"), ("gpt", "A cat."))]


def test_alpaca_with_and_without_input_and_system():
    rows = [
        {"instruction": "Translate.", "input": "Hallo", "output": "Hello", "source": "alp"},
        {"instruction": "Name a color.", "input": "", "output": "Blue", "source": "alp"},
        {"instruction": "Name a color.", "input": None, "output": "Red", "source": "alp"},
    ]
    adapted = convert(rows)
    assert adapted.format == "alpaca"
    conv = adapted.table.column("conversations").to_pylist()
    assert conv == [turns(("human", "Translate.\n\nHallo"), ("gpt", "Hello")),
                    turns(("human", "Name a color."), ("gpt", "Blue")),
                    turns(("human", "Name a color."), ("gpt", "Red"))]
    assert adapted.table.column_names == ["conversations", "source"]
    with_system = convert([{"system": "Be kind.", "instruction": "Hi", "output": "Hey"},
                           {"system": " ", "instruction": "Hi", "output": "Hey"}])
    assert with_system.table.column("conversations").to_pylist() == [
        turns(("system", "Be kind."), ("human", "Hi"), ("gpt", "Hey")), turns(("human", "Hi"), ("gpt", "Hey"))]


def test_alpaca_null_fields_are_row_errors_naming_the_column():
    adapted = convert([{"instruction": "Q", "output": None}, {"instruction": None, "output": "A"},
                       {"instruction": "Q", "output": "A"}])
    assert adapted.error.to_pylist() == ["column 'output' is null", "column 'instruction' is null", None]
    assert adapted.ok.to_pylist() == [False, False, True]


def test_prompt_completion_text_and_conversational():
    text = convert([{"prompt": "The sky is", "completion": " blue."}])
    assert text.table.column("conversations").to_pylist() == [turns(("human", "The sky is"), ("gpt", " blue."))]
    conv = convert([{"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Yo"}]}])
    assert conv.table.column("conversations").to_pylist() == [turns(("human", "Hi"), ("gpt", "Yo"))]


def test_column_mapping_reads_any_shape():
    qa = convert([{"question": "Why?", "answer": "Because.", "topic": "t"}],
                 columns={"instruction": "question", "output": "answer"})
    assert qa.format == "alpaca"
    assert qa.table.to_pylist() == [{"conversations": turns(("human", "Why?"), ("gpt", "Because.")), "topic": "t"}]
    dialog = convert([{"dialog": [{"speaker": "user", "text": "Hi"}, {"speaker": "assistant", "text": "Hey"}]}],
                     columns={"messages": "dialog", "role": "speaker", "content": "text"})
    assert dialog.table.column("conversations").to_pylist() == [turns(("human", "Hi"), ("gpt", "Hey"))]


def test_forced_format_wins_over_detection():
    rows = [{"instruction": "Q", "output": "A", "prompt": "P", "completion": "C"}]
    assert convert(rows, format="prompt_completion").table.column("conversations").to_pylist() == [
        turns(("human", "P"), ("gpt", "C"))]


@pytest.mark.parametrize("rows,kw,needle", [
    ([{"question": "q", "answer": "a"}], {}, "cannot tell the chat format from its columns (question, answer)"),
    ([{"instruction": "q"}], {"format": "alpaca"}, "format alpaca needs column(s) output"),
    ([{"q": "x"}], {"columns": {"instruction": "question"}}, "no column 'question'"),
    ([{"q": "x"}], {"columns": {"bogus": "q"}}, "columns names 'bogus'"),
    ([{"conversations": "hello"}], {}, "column 'conversations' is string, expected a list of turns"),
    ([{"conversations": [{"who": "a", "said": "b"}]}], {}, "turns have fields (who, said)"),
    ([{"x": 1}], {"format": "sharegpt"}, "unknown format 'sharegpt'"),
])
def test_input_level_errors_are_one_line_and_name_the_file(rows, kw, needle):
    with pytest.raises(FormatError) as err:
        convert(rows, **kw)
    message = str(err.value)
    assert message.startswith("chat.jsonl: ") and needle in message and "\n" not in message


def test_null_conversations_row_is_a_row_error():
    adapted = convert([{"conversations": None}, {"conversations": turns(("human", "a"), ("gpt", "b"))}])
    assert adapted.error.to_pylist() == ["column 'conversations' is null", None]


def test_sliced_and_chunked_inputs():
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(10)]
    table = pa.concat_tables([pa.Table.from_pylist(rows[:4]), pa.Table.from_pylist(rows[4:])]).slice(3, 5)
    conv = to_conversations(table).table.column("conversations").to_pylist()
    assert conv == [turns(("human", f"q{i}"), ("gpt", f"a{i}")) for i in range(3, 8)]


def test_map_roles():
    assert map_roles(pa.array(["USER", "Assistant", "gpt", "tool", None])).to_pylist() == ["human", "gpt", "gpt", "tool", None]


def test_to_messages_is_what_trl_reads():
    conv = pa.array([turns(("system", "s"), ("human", "q"), ("gpt", "a")), None], TURNS)
    assert to_messages(conv).to_pylist() == [
        [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], None]


_text = st.one_of(st.none(), st.text(max_size=8))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.sampled_from(["human", "gpt", "system"]), st.text(max_size=5)), max_size=3),
                          st.lists(st.tuples(st.sampled_from(["human", "gpt"]), st.text(max_size=5)), max_size=3),
                          st.booleans()), min_size=1, max_size=8))
def test_concat_turn_lists_matches_python(rows):
    a = pa.array([turns(*x) for x, _, _ in rows], TURNS)
    b = pa.array([None if null_b else turns(*y) for _, y, null_b in rows], TURNS)
    expected = [turns(*x) + ([] if null_b else turns(*y)) for x, y, null_b in rows]
    assert concat_turn_lists(a, b).to_pylist() == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(st.fixed_dictionaries({"instruction": _text, "input": _text, "output": _text, "system": _text}),
                min_size=1, max_size=8))
def test_alpaca_matches_a_per_row_reference(rows):
    adapted = to_conversations(pa.Table.from_pylist(rows, schema=pa.schema(
        [(k, pa.string()) for k in ("instruction", "input", "output", "system")])))
    for row, conv, err in zip(rows, adapted.table.column("conversations").to_pylist(), adapted.error.to_pylist()):
        assert (err is None) == (row["instruction"] is not None and row["output"] is not None)
        if err is None:
            human = row["instruction"] + ("\n\n" + row["input"] if row["input"] and row["input"].strip() else "")
            expected = ([("system", row["system"])] if row["system"] and row["system"].strip() else []) + [
                ("human", human), ("gpt", row["output"])]
            assert conv == turns(*expected)


def test_check_format_columns_names_what_a_given_format_lacks():
    """A format given for an input without its columns is one error naming them (what ``inputs`` can check on
    an input's first records, before every row would be quarantined)."""
    from curation.formats import check_format_columns

    check_format_columns(["messages", "id"], "messages")
    with pytest.raises(FormatError, match=r"qa: format messages needs column\(s\) messages; the input has q, a "):
        check_format_columns(["q", "a"], "messages", where="qa")
    with pytest.raises(FormatError, match=r"format alpaca needs column\(s\) output; the input has instruction"):
        check_format_columns(["instruction"], "alpaca")
    with pytest.raises(FormatError, match="unknown format 'sharegpt'"):
        check_format_columns(["conversations"], "sharegpt")
