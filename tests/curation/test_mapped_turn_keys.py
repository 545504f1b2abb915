"""Column mappings that cannot read the data are one error naming the input, never a run of garbage rows: a turn's
role and its text mapped to one key (was: every turn's text read as its role, each conversation "user" ->
"assistant", all but one removed as exact duplicates)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from curation.config import load_config
from curation.formats import FormatError, apply_mapping
from curation.pipeline import InputError, open_source


@pytest.mark.parametrize("columns,needle", [
    ({"messages": "dialog", "role": "speaker", "content": "speaker"}, "'role' and 'content' to 'speaker'"),
    ({"conversations": "dialog", "from": "who", "value": "who"}, "'from' and 'value' to 'who'"),
])
def test_a_turns_role_and_text_mapped_to_one_key_is_one_error(columns, needle):
    table = pa.table({"dialog": [[{"speaker": "user", "who": "x", "text": "hi"}]]})
    with pytest.raises(FormatError) as err:
        apply_mapping(table, columns, where="chat (chat.jsonl)")
    message = str(err.value)
    assert message.startswith("chat (chat.jsonl): columns maps both ") and needle in message and "\n" not in message


def test_the_run_refuses_it_before_reading_a_row(tmp_path):
    rows = [{"dialog": [{"speaker": "user", "text": f"question {i}"}, {"speaker": "assistant", "text": f"answer {i}"}]}
            for i in range(5)]
    (tmp_path / "dialog.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "pc.jsonl").write_text(json.dumps({"prompt": "Why?", "completion": "Because."}) + "\n")
    inputs = [{"name": "d", "path": str(tmp_path / "dialog.jsonl"), "format": "messages",
               "columns": {"messages": "dialog", "role": "speaker", "content": "speaker"}},
              {"name": "p", "path": str(tmp_path / "pc.jsonl")}]
    with pytest.raises(InputError, match=r"^d \(.*dialog\.jsonl\): columns maps both 'role' and 'content' to 'speaker'"):
        open_source(None, load_config(None, {"inputs": inputs}))
    inputs[0]["columns"]["content"] = "text"  # the right mapping reads
    _, config = open_source(None, load_config(None, {"inputs": inputs}))
    assert config.inputs[0].format == "messages"


def _speaker_rows(column: str, n: int = 4) -> list[dict]:
    return [{column: [{"speaker": "user", "text": f"question {i}?"}, {"speaker": "assistant", "text": f"answer {i}."}]}
            for i in range(n)]


@pytest.mark.parametrize("column,fmt", [("conversations", "conversations"), ("messages", "messages"),
                                        ("conversation", "conversations")])
def test_a_chat_column_of_turns_keyed_otherwise_is_read_as_under_any_other_name(tmp_path, column, fmt):
    """(was: `dialog` of {speaker, text} turns was read, the same turns under `conversations` or `messages` were
    all quarantined, "turn 1: missing 'from'")"""
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _speaker_rows(column)))
    _, config = open_source(None, load_config(None, {"inputs": [{"name": "c", "path": str(path)}]}))
    resolved = config.inputs[0]
    assert resolved.format == fmt
    role, text = ("role", "content") if fmt == "messages" else ("from", "value")
    assert resolved.columns == {fmt: column, role: "speaker", text: "text"}


def test_a_curated_chat_column_of_speaker_turns_keeps_every_row(tmp_path):
    from curation.pipeline import run_curation

    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _speaker_rows("conversations", 6)))
    run_curation(str(path), tmp_path / "out", load_config(None, {"report": False, "checkpoint": False}))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["accounting"]["quarantined"] == 0 and manifest["accounting"]["in_splits"] == 6


@pytest.mark.parametrize("fmt,role,text", [("messages", "role", "content"), ("conversations", "from", "value")])
def test_a_mapped_chat_column_whose_turns_cannot_be_read_is_one_error_with_the_mapping_to_give(tmp_path, fmt, role, text):
    """(was: every row quarantined, "turn 1: missing 'role'")"""
    path = tmp_path / "dialog.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _speaker_rows("dialog")))
    inputs = [{"name": "d", "path": str(path), "format": fmt, "columns": {fmt: "dialog"}}]
    with pytest.raises(InputError) as err:
        open_source(None, load_config(None, {"inputs": inputs}))
    assert str(err.value) == (f"d ({path}): no turn of 'dialog' in its first records has a key for its role (their "
                              f"keys: speaker, text); map them: columns: {{{fmt}: dialog, {role}: speaker, {text}: text}}")
