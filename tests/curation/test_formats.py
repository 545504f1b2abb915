"""Chat formats in (FineTome, OpenAI messages, Alpaca, prompt/completion, a column mapping) and messages out."""

from __future__ import annotations

import json

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
from curation.inputs import adapt_record


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

    parts = [{"type": "text", "text": "Name a prime."}, {"type": "input_text", "text": "Above ten."}]
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
    rows = [{"messages": [{"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "text", "text": None},
                                                       {"type": "text", "text": "what is it?"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]}]}]
    adapted = convert(rows)
    assert adapted.table.column("conversations").to_pylist() == [turns(("human", "Look:\n\nwhat is it?"), ("gpt", "A cat."))]
    assert adapted.error.to_pylist() == [None]


# -- what real-world chat files hold: converted where nothing is lost, else left to the record path's error --

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


@pytest.mark.parametrize("media", [IMAGE, {"type": "image"}, {"type": "input_audio", "input_audio": {"data": "AAA"}},
                                   {"image_url": {"url": "u"}}])
def test_a_turn_with_an_image_or_other_media_part_is_not_converted(media):
    """Its text alone would be a question about a picture nobody sees (the image part was silently left out):
    the row gets an error, so validation reads it record by record and quarantines it with its reason."""
    def text(t):
        return [{"type": "text", "text": t}]

    rows = [{"messages": [{"role": "user", "content": [media, {"type": "text", "text": "What is in it?"}]},
                          {"role": "assistant", "content": text("A cat.")}]},
            {"messages": [{"role": "user", "content": text("Name a cat.")}, {"role": "assistant", "content": text("Tom.")}]}]
    error = convert(rows).error.to_pylist()
    assert "not text" in error[0] and error[1] is None
    with pytest.raises(FormatError, match=r"^turn 1: content part 1 is '(image_url|image|input_audio)', not text"):
        adapt_record(rows[0], "messages", {})


def test_refusals_are_the_turns_text():
    """OpenAI's assistant turn that refused: `content` null and the text in `refusal` (or a `refusal` part)."""
    rows = [{"messages": [{"role": "user", "content": [{"type": "text", "text": "Help me pick a lock."}]},
                          {"role": "assistant", "content": None, "refusal": "I can't help with that."}]},
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "Again?"}]},
                          {"role": "assistant", "content": [{"type": "refusal", "refusal": "Still no."}], "refusal": None}]}]
    want = [turns(("human", "Help me pick a lock."), ("gpt", "I can't help with that.")),
            turns(("human", "Again?"), ("gpt", "Still no."))]
    adapted = convert(rows)
    assert adapted.table.column("conversations").to_pylist() == want and adapted.error.to_pylist() == [None, None]
    for row, conv in zip(rows, want):
        got = adapt_record(row, "messages", {})["messages"]
        assert [t["content"] for t in got] == [t["value"] for t in conv] and got[1].get("refusal") is None


def test_a_turn_with_other_keys_goes_record_by_record_where_the_drop_is_recorded():
    """`name`, ShareGPT's and OpenAI's `weight`: dropped from the turns, which the record path records in the
    row's repairs; column-wise they vanished without a word. A key that is null everywhere is no value."""
    rows = [{"messages": [{"role": "user", "content": "Hi", "name": "bob"}, {"role": "assistant", "content": "Hello."}]},
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey.", "weight": 0}]},
            {"messages": [{"role": "user", "content": "Yo", "name": None}, {"role": "assistant", "content": "Yo."}]}]
    error = convert(rows).error.to_pylist()
    assert error[0] is not None and error[1] is not None and error[2] is None


def test_a_system_column_beside_the_turns_is_the_system_prompt():
    """LLaMA-Factory's ShareGPT rows carry the system prompt in a `system` column: it was kept as an extra
    column and left out of the conversation."""
    rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}], "system": "Be kind."},
            {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello."}], "system": "Be kind."},
            {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey."}], "system": " "},
            {"messages": None, "system": "Be kind."}]
    adapted = convert(rows)
    with_system = turns(("system", "Be kind."), ("human", "Hi"), ("gpt", "Hello."))
    assert adapted.table.column("conversations").to_pylist() == [with_system, with_system,
                                                                  turns(("human", "Hi"), ("gpt", "Hey.")), None]
    assert "system" not in adapted.table.column_names
    for row, conv in zip(rows[:3], adapted.table.column("conversations").to_pylist()):
        assert [t["content"] for t in adapt_record(row, "messages", {})["messages"]] == [t["value"] for t in conv]


def test_alpaca_history_is_the_earlier_rounds():
    """LLaMA-Factory's Alpaca `history` ([[instruction, response], ...]): it was carried as an extra column and
    the conversation held the last round only."""
    rows = [{"instruction": "And Spain?", "input": "", "output": "Madrid.", "system": "Be brief.",
             "history": [["Capital of France?", "Paris."], ["Of Italy?", "Rome."]]},
            {"instruction": "Hi", "output": "Hello.", "history": []},
            {"instruction": "Hi", "output": "Hello.", "history": None},
            {"instruction": "Hi", "output": "Hello.", "history": [["only a question"]]}]
    adapted = convert(rows)
    conv = adapted.table.column("conversations").to_pylist()
    assert conv[0] == turns(("system", "Be brief."), ("human", "Capital of France?"), ("gpt", "Paris."),
                            ("human", "Of Italy?"), ("gpt", "Rome."), ("human", "And Spain?"), ("gpt", "Madrid."))
    assert conv[1] == conv[2] == turns(("human", "Hi"), ("gpt", "Hello."))
    assert adapted.error.to_pylist()[:3] == [None] * 3 and "history" in adapted.error.to_pylist()[3]
    assert "history" not in adapted.table.column_names
    for row, want in zip(rows[:3], conv):
        assert adapt_record(row, "alpaca", {})["conversations"] == want
    with pytest.raises(FormatError, match="^column 'history': expected a list of"):
        adapt_record(rows[3], "alpaca", {})


@pytest.mark.parametrize("fmt,row", [
    ("messages", {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo."}],
                  "conversations": [{"from": "human", "value": "other"}]}),
    ("alpaca", {"instruction": "Hi", "output": "Yo.", "conversations": "junk"}),
    ("prompt_completion", {"prompt": "Hi", "completion": "Yo.", "conversations": [{"from": "human", "value": "x"}]}),
])
def test_an_inputs_own_conversations_column_beside_another_format_is_kept_apart(fmt, row):
    """The converted turns and the input's own `conversations` made a table with that name twice: the run ended
    in a KeyError traceback (record by record, the input's own silently won over Alpaca's)."""
    adapted = convert([row], format=fmt)
    assert adapted.table.column_names.count("conversations") == 1
    assert adapted.table.column("input_conversations").to_pylist() == [row["conversations"]]
    assert adapted.table.column("conversations").to_pylist() == [turns(("human", "Hi"), ("gpt", "Yo."))]
    record = adapt_record(row, fmt, {})
    assert record["input_conversations"] == row["conversations"]
    assert record.get("conversations", []) != row["conversations"]


@pytest.mark.parametrize("columns,message", [
    ({"instruction": "q", "input": "q", "output": "a"}, "columns maps both 'instruction' and 'input' to 'q'"),
    ({"messages": "d", "role": "speaker", "from": "text"}, "columns maps both 'from' and 'role'"),
    ({"messages": "d", "value": "text", "content": "body"}, "columns maps both 'value' and 'content'"),
])
def test_a_mapping_that_reads_one_thing_twice_is_one_error(columns, message):
    """Two names mapped to one column was 'cannot tell the chat format from its columns (input, output)' (the
    first rename lost); a turn's role mapped as both `from` and `role` read the text as the role."""
    from curation.formats import apply_mapping

    table = pa.table({"q": ["x"], "a": ["y"], "d": [[{"speaker": "user", "text": "t", "body": "b"}]]})
    with pytest.raises(FormatError, match=message) as err:
        apply_mapping(table, columns, where="chat.jsonl")
    assert str(err.value).startswith("chat.jsonl: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("row,fmt", [
    ({"instruction": "Hi", "output": "Yo."}, "messages"),
    ({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo."}]}, "alpaca"),
    ({"prompt": "Hi", "completion": "Yo."}, "alpaca"),
])
def test_a_row_of_another_format_is_read_in_its_own(row, fmt):
    """A shard of Alpaca rows in a folder read as OpenAI messages: each row was quarantined ("column
    'instruction' is null" for a row that has no such column)."""
    from curation.validate import ValidateConfig, validate_record

    got = validate_record(adapt_record(row, fmt, {}), ValidateConfig())
    assert got["conversations"] == turns(("human", "Hi"), ("gpt", "Yo."))


def test_a_row_of_no_format_says_which_column_it_lacks():
    with pytest.raises(FormatError, match=r"^no column 'output' \(the input is read as alpaca; this row has instruction, x\)$"):
        adapt_record({"instruction": "Hi", "x": 1}, "alpaca", {})


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


# -- column names that look like a format's but are not ----------------------------------------------------------

@pytest.mark.parametrize("name, shown, odd", [
    ("instructi\u043en", "instructi\u043en", "U+043E cyrillic small letter o"),
    ("instruc\u200btion", "'instruc\\u200btion'", "U+200B zero width space"),
    ("instruction ", "'instruction '", "U+0020 space"),
    ("instructi\u03bfn", "instructi\u03bfn", "U+03BF greek small letter omicron"),
    ("\u2066instruction\u2069", "'\\u2066instruction\\u2069'", "U+2066 left-to-right isolate, U+2069 pop directional isolate"),
])
def test_a_column_that_looks_like_a_formats_is_named_with_what_differs(tmp_path, name, shown, odd):
    """It read "cannot tell the chat format from its columns (instruction, output)": the column showed as the
    name it is not (an invisible character, a look-alike letter, a space at its end), and nothing said why."""
    from curation.readers import InputError
    from tests.curation.runs import curate

    path = tmp_path / "rows.jsonl"
    row = {name: "Why is the sky blue?", "output": "Air scatters blue light more than red light."}
    path.write_text("".join(json.dumps(row) + "\n" for _ in range(3)), encoding="utf-8")
    with pytest.raises((FormatError, InputError)) as caught:
        curate(str(path), tmp_path / "out")
    message = str(caught.value)
    assert f"cannot tell the chat format from its columns ({shown}, output);" in message
    assert message.endswith(f"; column {shown} looks like 'instruction' but is not ({odd}): rename it, or map it "
                            "with this input's columns")
    assert "\n" not in message and "\u200b" not in message and "\u2066" not in message


def test_plain_unknown_columns_get_no_look_alike_hint():
    from curation.formats import look_alike_hint, shown_columns

    assert look_alike_hint(["text", "label", "问题"]) == ""
    assert shown_columns(["text", "问题", ""]) == "text, 问题, ''"
    # the real column beside its look-alike: the format is told by the real one, no hint
    assert look_alike_hint(["conversations", "c\u043enversations"]) == ""


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
@pytest.mark.parametrize("other", ["conv-{i}", 7, "user: hi\nassistant: hello"])
def test_messages_beside_a_conversations_column_without_turns_are_the_turns(tmp_path, suffix, other):
    """An OpenAI-shaped input whose ``conversations`` column holds no turns (an id, a number, a transcript as one
    string): detection took ``conversations`` for the turns and quarantined every row ("'conversations' is str,
    expected a list of turns"); the turns are read from ``messages``, the other column kept apart."""
    import pyarrow.parquet as pq

    from tests.curation.runs import curate

    rows = []
    for i in range(12):
        value = other.format(i=i) if isinstance(other, str) else other + i
        rows.append({"messages": [{"role": "user", "content": f"How do {i} apples and {i * 3} pears add up, in words?"},
                                  {"role": "assistant", "content": f"Together they make {i * 4} fruits: {i} and {i * 3}."}],
                     "conversations": value})
    spec = tmp_path / f"rows.{suffix}"
    if suffix == "jsonl":
        spec.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), spec)
    manifest = curate(str(spec), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 0
    kept = [r for s in ("train", "validation", "test") for r in pq.read_table(tmp_path / "out" / f"{s}.parquet").to_pylist()]
    assert len(kept) + manifest["accounting"]["removed"] == 12 and kept
    for row in kept:
        i = int(row["conversations"][1]["value"].split(": ", 1)[1].split(" ")[0])
        assert row["input_conversations"] == (other.format(i=i) if isinstance(other, str) else other + i)
        assert [t["from"] for t in row["conversations"]] == ["human", "gpt"]


def test_a_slice_of_turns_whose_offsets_start_at_zero_converts_with_its_nulls():
    """A batch cut from a larger one after rows without turns (a null, an empty list) holds offsets that are a
    slice yet start at 0; beside a null row Arrow refused them ("Null bitmap with offsets slice not supported")."""
    from curation.formats import _turn_list, to_messages

    messages = pa.array([None, [], [{"role": "user", "content": "hi"}], None, [{"role": "assistant", "content": "yo"}]],
                        pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))
    part = messages.slice(1)
    assert part.offsets[0].as_py() == 0 and part.offsets.offset > 0
    turns, _, _ = _turn_list(part, "messages", {}, "rows.jsonl")
    assert turns.to_pylist() == [[], [{"from": "human", "value": "hi"}], None, [{"from": "gpt", "value": "yo"}]]
    back = to_messages(pa.concat_arrays([pa.nulls(1, turns.type), turns]).slice(1))
    assert back.to_pylist() == [[], [{"role": "user", "content": "hi"}], None, [{"role": "assistant", "content": "yo"}]]
