"""One row, one outcome, whichever path reads it (``curation/formats.py``, ``curation/inputs.py``).

Validation converts an input's format column-wise (:func:`curation.formats.to_conversations`) and reads the rows
that conversion or its screen flags record by record (:func:`curation.inputs.adapt_record`, then
:func:`curation.validate.validate_record`). Which path a row takes depends on its neighbours: Arrow types a
block of JSON Lines together, so a row whose types fit its neighbours' is converted column-wise, and the same
row beside a line that breaks its column's type, or alone in a file whose types are its own, is read another
way. The product promises the same output either way:

* a row of every format (FineTome, OpenAI messages with content parts and refusals, Alpaca with ``system`` and
  ``history``, prompt/completion in both of TRL's shapes, a column mapping, names in another case, a ``system``
  column beside the turns), with extra keys, nulls, empty strings, numbers where text is expected, is read among
  clean rows of its format, alone, in a batch of its own cut from their block, and beside a row that forces the
  record path: the same kept conversation, ``repairs``, ``original_conversations`` and extra columns, or the same
  quarantine error, each time;
* a whole run's output bytes do not depend on ``engine.batch_rows``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.contract import line_id, read_quarantine
from curation.formats import FormatError, to_conversations
from curation.inputs import INPUT, InputConfig, adapt_record, open_inputs
from curation.readers.jsonl import parse_block
from curation.validate import Validate, ValidateConfig, validate_record
from tests.curation.test_equivalence import _curate

Q, A = "Why is the sky blue in the day?", "Sunlight scatters off the air, and blue light scatters most."

# -- reading one row four ways -----------------------------------------------------------------------------------

# a clean row of each format: the neighbours a row is read among (their shape decides the input's format)
CLEAN = {
    "conversations": lambda i: {"conversations": [{"from": "human", "value": f"{Q} {i}"}, {"from": "gpt", "value": f"{A} {i}"}]},
    "messages": lambda i: {"messages": [{"role": "user", "content": f"{Q} {i}"}, {"role": "assistant", "content": f"{A} {i}"}]},
    "alpaca": lambda i: {"instruction": f"{Q} {i}", "input": "", "output": f"{A} {i}"},
    "prompt_completion": lambda i: {"prompt": f"{Q} {i}", "completion": f"{A} {i}"},
}
# the column that a row forcing the record path holds as an object: Arrow cannot type it with its neighbours'
# (text, or a list of turns), so it and the row after it are read record by record
FORCING = {"conversations": "conversations", "messages": "messages", "alpaca": "instruction", "prompt_completion": "prompt"}

# the same rows under other names: detected in another case, or read through a column mapping
SHAPES = {
    "as given": (None, {}),
    "in another case": (None, {"conversations": "Conversations", "from": "From", "value": "Value", "messages": "Messages",
                               "role": "Role", "content": "Content", "instruction": "Instruction", "output": "Output",
                               "prompt": "Prompt", "completion": "Completion"}),
    "mapped": ({"conversations": {"conversations": "dialog", "from": "speaker", "value": "text"},
                "messages": {"messages": "dialog", "role": "speaker"},  # the text's key left as it is
                "alpaca": {"instruction": "question", "output": "answer"},
                "prompt_completion": {"prompt": "query", "completion": "reply"}}, {}),
}


def _name(canonical: str, shape: str, fmt: str) -> str:
    """What ``shape`` names a column or turn key of ``fmt``."""
    columns, folded = SHAPES[shape]
    return (columns[fmt] if columns else folded).get(canonical, canonical)


def renamed(row: Any, shape: str, fmt: str) -> Any:
    """``row`` with its format's columns and its turns' keys named as ``shape`` names them."""
    if not isinstance(row, dict):
        return row

    def turns(value):
        if not isinstance(value, list):
            return value
        return [{_name(k, shape, fmt): v for k, v in t.items()} if isinstance(t, dict) else t for t in value]

    chat = ("conversations", "messages", "prompt", "completion")
    return {_name(k, shape, fmt): turns(v) if k in chat else v for k, v in row.items()}


def _line(row: Any) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode()


def _resolved(fmt: str, shape: str, lines: list[bytes], folder: Path) -> InputConfig:
    """The input's config as a run resolves it from ``lines`` (format detected, or as the mapping gives it)."""
    path = folder / "rows.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    columns = SHAPES[shape][0]
    given = InputConfig(path=str(path), format=fmt, columns=columns[fmt]) if columns else InputConfig(path=str(path))
    return open_inputs([given]).inputs[0]


def _normal(value: Any) -> Any:
    """An extra column's value as the written output holds it whichever batch it came in: a column that mixed
    types in one batch is JSON text there, a whole number beside fractions a float."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _outcomes(stage: Validate, name: str, batch: pa.RecordBatch) -> dict[str, Any]:
    """Per id: ``("kept", the row's non-null columns)`` or ``("quarantined", the error)``."""
    batch = batch.append_column(INPUT, pa.array([name] * batch.num_rows, pa.string()))
    out = stage.process(batch)
    got: dict[str, Any] = {}
    for row in out.batch.to_pylist():
        row.pop("_pos")
        rid = row.pop("id")
        if row.get("repairs") is not None:
            row["repairs"] = json.loads(row["repairs"])
        core = ("conversations", "original_conversations", "repairs", "source", "score")
        got[rid] = ("kept", {k: v if k in core else _normal(v) for k, v in row.items() if v is not None})
    for q in out.quarantine.to_pylist() if out.quarantine is not None else []:
        got[q["id"]] = ("quarantined", q["error"])
    return got


def read_every_way(fmt: str, shape: str, row: Any) -> dict[str, Any]:
    """``row``'s outcome read among clean rows of ``fmt`` (one block, one batch), in a batch of its own cut from
    that block (``batch_rows: 1``), alone (Arrow types it on its own), and after a row that forces the record
    path. The input's format is resolved once, from the clean rows and ``row``, as a run resolves it."""
    clean = [renamed(CLEAN[fmt](i), shape, fmt) for i in range(3)]
    if isinstance(row, dict) and "system" in row and fmt in ("conversations", "messages"):
        clean = [dict(r, system="Be brief.") for r in clean]  # a system column in every row, as LLaMA-Factory's
    forcing = {**clean[0], _name(FORCING[fmt], shape, fmt): {"not": "the column's type"}}
    target = _line(row)
    with tempfile.TemporaryDirectory() as folder:
        cfg = _resolved(fmt, shape, [_line(r) for r in clean] + [target], Path(folder))
    stage = Validate(ValidateConfig(), [cfg])
    block = b"".join(_line(r) + b"\n" for r in clean) + target + b"\n"
    among, _, _ = parse_block(block, "rows.jsonl", 1, 0)
    ways = {"among clean rows": among, "in a batch of its own": among.slice(among.num_rows - 1),
            "alone": parse_block(target + b"\n", "rows.jsonl", 1, 0)[0],
            "after a record-path row": parse_block(_line(forcing) + b"\n" + target + b"\n", "rows.jsonl", 1, 0)[0]}
    rid = line_id(target)
    return {way: _outcomes(stage, cfg.name, batch)[rid] for way, batch in ways.items()}


def assert_one_outcome(fmt: str, shape: str, row: Any) -> None:
    outcomes = read_every_way(fmt, shape, row)
    first = next(iter(outcomes.values()))
    assert all(o == first for o in outcomes.values()), json.dumps(outcomes, indent=1, default=str)


# -- rows of every format -----------------------------------------------------------------------------------------

WORDS = st.sampled_from([Q, A, "Be brief.", "hi", "Paris."])
ODD = st.one_of(st.text(alphabet="ab \n\t", max_size=3), st.none(), st.integers(-2, 2), st.sampled_from([1.5, 0.0, True]))
TEXT = st.one_of(WORDS, WORDS, WORDS, ODD)  # mostly text, so that many rows convert column-wise
ASKS = st.sampled_from(["human", "user", "User ", "prompter"])
ANSWERS = st.sampled_from(["gpt", "assistant", "model", " GPT"])
ANY_ROLE = st.one_of(ASKS, ANSWERS, st.sampled_from(["system", "developer", "robot", "tool"]), st.none(), st.just(3))
# a turn's other keys; a null one is left out here: validation's record path counts a null key as a change
# (test_a_null_turn_key_changes_nothing_on_either_path)
OTHER_TURN_KEYS = st.one_of(st.just({}), st.just({}), st.dictionaries(st.sampled_from(["name", "weight"]),
                                                                       st.sampled_from(["bob", 0, 1.0]), max_size=1))
PART = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "input_text", "output_text"]), "text": TEXT}),
    st.fixed_dictionaries({"type": st.just("refusal"), "refusal": st.one_of(WORDS, st.none())}),
    st.fixed_dictionaries({"type": st.just("refusal"), "text": WORDS}),
    st.fixed_dictionaries({"type": st.just("image_url"), "image_url": st.just({"url": "https://x.test/a.png"})}),
    st.fixed_dictionaries({"text": WORDS}),
)
CONTENT = st.one_of(TEXT, st.lists(PART, max_size=3))
CONTENTS = (TEXT, st.lists(PART, min_size=1, max_size=3), CONTENT)


def _turn(role_key: str, text_key: str, role, text) -> st.SearchStrategy:
    refusal = st.one_of(st.just({}), st.fixed_dictionaries({"refusal": WORDS}))  # (not null: as OTHER_TURN_KEYS)
    return st.builds(lambda r, v, other, refused: {role_key: r, text_key: v, **other, **refused}, role, text,
                     OTHER_TURN_KEYS, refusal if text_key == "content" else st.just({}))


def _turns(role_key: str, text_key: str, text=TEXT) -> st.SearchStrategy:
    """A question and its answer (mostly), or any few turns."""
    return st.one_of(
        st.tuples(_turn(role_key, text_key, ASKS, text), _turn(role_key, text_key, ANSWERS, text)).map(list),
        st.tuples(_turn(role_key, text_key, ASKS, text), _turn(role_key, text_key, ANSWERS, text)).map(list),
        st.lists(_turn(role_key, text_key, ANY_ROLE, text), max_size=3),
    )


ANY_VALUE = st.one_of(st.none(), WORDS, st.integers(0, 5), st.just(["a"]), st.just({"k": 1}), st.just(2.5))
EXTRA_COLUMNS = st.fixed_dictionaries({}, optional={
    "source": st.one_of(WORDS, WORDS, ANY_VALUE), "score": st.one_of(st.just(4.5), st.just(3), ANY_VALUE),
    "tags": ANY_VALUE, "id": ANY_VALUE, "repairs": ANY_VALUE})


def _with_system(rows: st.SearchStrategy, chat: str, text_key: str) -> st.SearchStrategy:
    """A ``system`` column beside the turns: absent, null, text, the first turn's text, a number."""
    def add(row, kind, text):
        turns = row[chat] if isinstance(row[chat], list) else []
        if kind == "absent":
            return row
        if kind == "the first turn's" and turns and isinstance(turns[0], dict):
            return {**row, "system": turns[0].get(text_key)}
        return {**row, "system": text}
    kinds = st.sampled_from(["absent", "absent", "given", "the first turn's"])
    return st.builds(add, rows, kinds, st.one_of(WORDS, ODD))


def _system_first(turns: st.SearchStrategy, role_key: str, text_key: str) -> st.SearchStrategy:
    """Turns that start with a system turn of "Be brief." as often as not (a system column may repeat it)."""
    head = {role_key: "system", text_key: "Be brief."}
    return st.builds(lambda t, first: [head] + t if first else t, turns, st.booleans())


ROWS = {
    "conversations": _with_system(st.builds(lambda t, e: {"conversations": t, **e},
                                            _system_first(_turns("from", "value"), "from", "value"), EXTRA_COLUMNS),
                                  "conversations", "value"),
    # content parts in every turn or in none, as a file holds them (a line that mixes them is typed apart)
    "messages": _with_system(st.builds(lambda t, e: {"messages": t, **e},
                                       _system_first(st.one_of(*[_turns("role", "content", c) for c in CONTENTS]),
                                                     "role", "content"), EXTRA_COLUMNS),
                             "messages", "content"),
    # a history round's first text is never null here: test_a_list_that_starts_with_null_is_read
    "alpaca": st.builds(
        lambda parts, e: {**{k: v for k, v in parts.items()}, **e},
        st.fixed_dictionaries({"instruction": TEXT, "output": TEXT}, optional={
            "input": TEXT, "system": TEXT,
            "history": st.one_of(st.none(), st.lists(st.tuples(WORDS, WORDS).map(list), max_size=2),
                                 st.lists(st.lists(st.one_of(WORDS, st.just(1)), min_size=1, max_size=3), max_size=2))}),
        EXTRA_COLUMNS),
    "prompt_completion": st.builds(lambda p, c, e: {"prompt": p, "completion": c, **e},
                                   st.one_of(TEXT, *[_turns("role", "content", c) for c in CONTENTS], _turns("from", "value")),
                                   st.one_of(TEXT, TEXT, *[st.lists(_turn("role", "content", ANSWERS, c), min_size=1, max_size=1)
                                                           for c in CONTENTS]),
                                   EXTRA_COLUMNS),
}

def _check_rows(fmt: str, shape: str, examples: int) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ROWS[fmt])
    def check(row):
        assert_one_outcome(fmt, shape, renamed(row, shape, fmt))

    check()


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("fmt", list(ROWS))
def test_a_row_has_one_outcome_whichever_path_reads_it(fmt, shape):
    _check_rows(fmt, shape, examples=15)  # the fast lane's share; the slow lane reads 120 of each


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("fmt", list(ROWS))
def test_a_row_has_one_outcome_whichever_path_reads_it_many_rows(fmt, shape):
    """As above, more rows: the rarer disagreements (a refusal part's ``text`` in a file of parts only) need a
    hundred rows or more to turn up."""
    _check_rows(fmt, shape, examples=120)


# -- the disagreements found, one by one --------------------------------------------------------------------------

def _parts(*parts) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": Q}]},
                         {"role": "assistant", "content": list(parts)}]}


@pytest.mark.parametrize("row", [
    _parts({"type": "refusal", "text": "No."}),
    _parts({"type": "text", "text": "Yes."}, {"type": "refusal", "text": "No."}),
    _parts({"type": "refusal", "refusal": "No.", "text": "Yes."}),
], ids=["alone", "beside text", "beside its refusal"])
def test_a_refusal_parts_text_is_under_refusal_on_both_paths(row):
    """Column-wise, a ``refusal`` part's ``text`` was its text when no part of the batch had a ``refusal`` key
    (``"Yes.\\n\\nNo."``); record by record it is no text of the part's (``"Yes."``, or an empty turn)."""
    assert_one_outcome("messages", "as given", row)
    adapted = to_conversations(pa.Table.from_pylist([row]), "messages")
    record = adapt_record(row, "messages", {})
    assert adapted.table.column("conversations").to_pylist()[0][1]["value"] == record["messages"][1]["content"]


@pytest.mark.parametrize("text", [5, 1.5, True, ["a"], {"a": 1}], ids=["int", "float", "bool", "list", "object"])
def test_a_content_part_whose_text_is_not_a_string_is_not_read_as_text(text):
    """A part's ``"text": 5`` was cast to ``"5"`` column-wise and kept, while the record path quarantines the
    turn; ``"text": ["a"]`` ended the run in an Arrow traceback."""
    row = {"messages": [{"role": "user", "content": [{"type": "text", "text": text}]},
                        {"role": "assistant", "content": [{"type": "text", "text": text}]}]}
    with pytest.raises(FormatError, match="a content part's 'text' is"):
        to_conversations(pa.Table.from_pylist([row]), "messages")
    outcomes = read_every_way("messages", "as given", row)
    assert set(outcomes.values()) == {("quarantined", "turn 1: 'content' is list, expected a string")}


@pytest.mark.parametrize("part", [{"type": 1, "text": "x"}, {"type": ["text"], "text": "x"},
                                  {"type": "refusal", "refusal": 7}])
def test_a_content_parts_type_or_refusal_of_another_type_is_not_a_traceback(part):
    row = _parts(part, part)
    row["messages"][0]["content"] = [part]
    assert_one_outcome("messages", "as given", row)


def test_mapped_turn_keys_are_no_change_on_either_path():
    """``from: speaker, value: text``: column-wise every row kept its turns, unchanged, as
    ``original_conversations``; record by record none did."""
    row = {"dialog": [{"speaker": "human", "text": Q}, {"speaker": "gpt", "text": A}], "name": "x"}
    want = ("kept", {"conversations": [{"from": "human", "value": Q}, {"from": "gpt", "value": A}], "name": "x"})
    assert list(read_every_way("conversations", "mapped", row).values()) == [want] * 4


def test_a_mapping_that_names_the_role_only_reads_the_text_record_by_record():
    """``{messages: dialog, role: speaker}`` (``content`` as it is): every row read record by record (a turn with a
    ``name``, a type its neighbours do not share) was quarantined as "'content' is null"."""
    row = {"dialog": [{"speaker": "user", "content": Q, "name": "bob"}, {"speaker": "assistant", "content": A}]}
    outcomes = list(read_every_way("messages", "mapped", row).values())
    assert all(o == outcomes[0] for o in outcomes) and outcomes[0][0] == "kept"
    assert validate_record(adapt_record(row, "messages", {"messages": "dialog", "role": "speaker"}),
                           ValidateConfig())["conversations"][0] == {"from": "human", "value": Q}


def test_openai_messages_keyed_from_value_are_read_record_by_record_too():
    """An input read as ``messages`` (given, or told by its first rows) with rows whose turns are keyed
    ``from``/``value``: column-wise they are read, record by record they were "missing 'role'"."""
    row = {"messages": [{"from": "human", "value": Q}, {"from": "gpt", "value": A}], "tags": 1}
    assert_one_outcome("messages", "as given", row)
    assert read_every_way("messages", "as given", row)["alone"][0] == "kept"


def test_a_prompt_of_finetome_then_openai_turns_is_read_turn_by_turn():
    """A FineTome turn in a prompt made every later turn be read by FineTome's keys (the OpenAI one's role was
    null)."""
    row = {"prompt": [{"from": "system", "value": "Be brief."}, {"role": "user", "content": Q}], "completion": A}
    got = validate_record(adapt_record(row, "prompt_completion", {}), ValidateConfig())
    assert [t["from"] for t in got["conversations"]] == ["system", "human", "gpt"]
    assert_one_outcome("prompt_completion", "as given", row)


@pytest.mark.parametrize("fmt,row", [
    ("conversations", {"conversations": [{"from": "human", "value": Q, "name": None}, {"from": "gpt", "value": A}]}),
    ("prompt_completion", {"prompt": [{"role": "user", "content": Q, "refusal": None}], "completion": A}),
])
def test_a_null_turn_key_changes_nothing_on_either_path(fmt, row):
    """A turn's ``"name": null`` is no value (as Arrow holds it beside rows that have a name): read record by record
    the row got ``original_conversations``, column-wise it did not."""
    assert_one_outcome(fmt, "as given", row)


def test_a_list_that_starts_with_null_is_read(tmp_path):
    """``"tags": [null, "x"]`` (or an Alpaca history round ``[null, "answer"]``) ended the run in a traceback."""
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(dict(CLEAN["conversations"](0), tags=[None, "x"])) + "\n", encoding="utf-8")
    _curate(str(path), tmp_path / "out")
    assert not read_quarantine(tmp_path / "out")


# -- whole runs: the bytes do not depend on batch_rows ----------------------------------------------------------

@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(fmt=st.sampled_from(list(ROWS)), data=st.data())
def test_a_runs_bytes_do_not_depend_on_batch_rows(fmt, data, tmp_path_factory):
    """Messy rows of one format among clean ones, curated whole with ``batch_rows`` 1, 3 and the default: the same
    data files and the same quarantine, byte for byte."""
    messy = data.draw(st.lists(ROWS[fmt], min_size=1, max_size=4))
    lines = [_line(CLEAN[fmt](i)) for i in range(4)] + [_line(r) for r in messy]
    order = data.draw(st.permutations(range(len(lines))))
    folder = tmp_path_factory.mktemp("run")
    path = folder / "rows.jsonl"
    path.write_bytes(b"".join(lines[i] + b"\n" for i in order))
    outputs = _outputs_by_batch_rows(path, folder)
    assert outputs[0] == outputs[1] == outputs[2]


def _outputs_by_batch_rows(path, folder, sizes=(1, 3, 16_384)) -> list:
    """The data files and the quarantine of ``path`` curated whole with each ``batch_rows`` of ``sizes``."""
    outputs = []
    for batch_rows in sizes:
        out = folder / f"out-{batch_rows}"
        files = _curate(str(path), out, engine={"batch_rows": batch_rows})
        outputs.append((files, (out / "quarantine.jsonl").read_bytes()))
    return outputs


def test_a_message_of_null_content_in_a_batch_cut_from_a_larger_one(tmp_path):
    """A `messages` row whose turn holds a null and a number, fifth among clean rows, in batches of 1, 3 and all:
    the batch of one row is a slice of the parsed block, and its turns' offsets beside their null mask were refused
    by Arrow ("Null bitmap with offsets slice not supported") once a column of one chunk was used without a copy."""
    messy = {"messages": [{"role": "human", "content": None}, {"role": "gpt", "content": 0}]}
    lines = [_line(CLEAN["messages"](i)) for i in range(4)] + [_line(messy)]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(lines[i] + b"\n" for i in (4, 1, 2, 3, 0)))
    outputs = _outputs_by_batch_rows(path, tmp_path)
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("fmt", list(ROWS))
def test_a_runs_bytes_do_not_depend_on_batch_rows_for_known_messy_rows(fmt, tmp_path):
    """The fast lane's share of the above: for each format, rows that take each path in one file."""
    messy = {
        "conversations": [{"conversations": [{"from": "User ", "value": Q}, {"from": "gpt", "value": 3}]},
                          {"conversations": [{"from": "human", "value": Q, "name": "bob"}, {"from": "gpt", "value": A}],
                           "system": "Be brief."}],
        "messages": [_parts({"type": "refusal", "text": "No."}), _parts({"type": "text", "text": "Yes."}),
                     {"messages": [{"role": "user", "content": Q}, {"role": "assistant", "content": None, "refusal": "No."}]}],
        "alpaca": [{"instruction": Q, "output": 42, "history": [["Hi", "Hello."]]},
                   {"instruction": Q, "input": " ", "output": A, "system": "Be brief.", "tags": ["a"]}],
        "prompt_completion": [{"prompt": [{"role": "user", "content": Q}], "completion": A},
                              {"prompt": Q, "completion": [{"role": "assistant", "content": [{"type": "text", "text": A}]}]}],
    }[fmt]
    lines = [_line(CLEAN[fmt](i)) for i in range(3)] + [_line(r) for r in messy]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    outputs = _outputs_by_batch_rows(path, tmp_path, (1, 2, 16_384))
    assert outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("rows", [
    [{"instruction": f"{Q} 1", "output": f"{A}\u0000 1", "history": []},
     {"instruction": f"{Q} 2", "output": f"{A} 2", "history": [["Hi there, can you help?", "Of course."]]}],
    [{"prompt": f"{Q} 1", "completion": f"{A} 1"},
     {"prompt": [{"role": "user", "content": f"{Q}\u0000 2"}], "completion": [{"role": "assistant", "content": f"{A} 2"}]}],
    [{"conversations": [{"from": "human", "value": f"{Q} {i}"}, {"from": " GPT", "value": f"{A}\u0001 {i}"}],
      "system": "Be brief.", "tag": tag} for i, tag in enumerate([1, "x", [1]])],
    [{"messages": [{"role": "user", "content": f"{Q} {i}"}, {"role": "assistant", "content": f"{A}\u0001 {i}"}],
      "tag": tag} for i, tag in enumerate([1, "x", [1]])],
], ids=["alpaca", "prompt_completion", "renamed roles", "messages"])
def test_a_repair_is_named_alike_on_both_paths(rows, tmp_path):
    """A control character in text a format's conversion folds into the turns was named by the input's column on
    the record path (`output`, `prompt`) and `conversations` column-wise; which path a row takes depends on the
    rows beside it in its batch, so `batch_rows` changed the data files' bytes. Turns whose roles were renamed
    (`model`) were repaired twice column-wise, as `conversations` and as `original_conversations` (the turns as
    given), once on the record path."""
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    outputs = [_curate(str(path), tmp_path / f"out-{n}", engine={"batch_rows": n}) for n in (1, 16_384)]
    assert outputs[0] == outputs[1]
    kept = [r for name in ("train", "validation", "test") if (tmp_path / "out-1" / f"{name}.parquet").exists()
            for r in pq.read_table(tmp_path / "out-1" / f"{name}.parquet").to_pylist()]
    assert {r["repairs"] for r in kept} >= {'{"control_chars": ["conversations"]}'}
