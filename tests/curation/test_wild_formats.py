"""The shapes of popular public instruction datasets, as the Hugging Face hub publishes them, read without a config.

Each shape below is a few rows written here in the exact columns and turn keys of its dataset. Every shape is
either read as chat data (its format detected, every row kept with the conversation it holds and its other
columns carried through) or refused before the run in one ``error:`` line that says what the file holds and
what to do (preference pairs, OpenAssistant's one-message-per-row table, plain text): never a traceback, and
never every row quarantined one by one. Capybara's ``{input, output}`` pairs are read by both conversion paths
alike (column-wise, and record by record as validation reads a row the columns cannot take).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import line_id
from curation.formats import FormatError
from curation.inputs import InputConfig, open_inputs
from curation.readers.jsonl import parse_block
from curation.validate import Validate, ValidateConfig
from tests.curation.runs import curate_command, one_error_line
from tests.curation.test_format_paths_agree import _outcomes

Q, A = "What is the boiling point of water at sea level?", "Water boils at 100 degrees Celsius at sea level."
Q2, A2 = "Name three primary colors.", "Red, yellow and blue are the traditional primary colors."
SYS = "You are a helpful assistant who answers briefly."
QA = [(Q, A), (Q2, A2), ("How many legs does a spider have?", "A spider has eight legs."),
      ("Translate 'good morning' into French.", "'Good morning' in French is 'bonjour'.")]


def fv(role: str, text: str, **more) -> dict:
    return {"from": role, "value": text, **more}


def rc(role: str, text: str, **more) -> dict:
    return {"role": role, "content": text, **more}


def chat(q: str, a: str) -> list[dict]:
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


def rows(make) -> list[dict]:
    return [make(i, q, a) for i, (q, a) in enumerate(QA)]


# name: (rows, the format and mapping detected, the first row's conversation, columns its rows keep)
READ = {
    "sharegpt_vicuna": (rows(lambda i, q, a: {"id": f"QWJ{i}_0", "conversations": [fv("human", q), fv("gpt", a)]}),
                        ("conversations", {}), chat(Q, A), ["input_id"]),
    "openhermes_2_5": (rows(lambda i, q, a: {"conversations": [fv("human", q, weight=None), fv("gpt", a, weight=None)],
                                             "source": "airoboros2.2", "category": "orca", "idx": None,
                                             "skip_prompt_formatting": False}),
                       ("conversations", {}), chat(Q, A), ["source", "category", "skip_prompt_formatting"]),
    "slimorca": (rows(lambda i, q, a: {"conversations": [fv("system", SYS, weight=None), fv("human", q, weight=0.0),
                                                         fv("gpt", a, weight=1.0)]}),
                 ("conversations", {}), [fv("system", SYS)] + chat(Q, A), ["repairs"]),
    "capybara": (rows(lambda i, q, a: {"source": "Know-Logic", "conversation": [{"input": q, "output": a}] + (
                     [{"input": "Why?", "output": "It follows from the definition."}] if i == 0 else [])}),
                 ("conversations", {"conversations": "conversation"}),
                 chat(Q, A) + chat("Why?", "It follows from the definition."), ["source"]),
    "capybara_pairs_as_conversations": (rows(lambda i, q, a: {"conversations": [{"input": q, "output": a}], "topic": "x"}),
                                        ("conversations", {"conversations": "conversations"}), chat(Q, A), ["topic"]),
    "lmsys_chat_1m": (rows(lambda i, q, a: {"conversation_id": f"c{i}", "model": "vicuna-13b",
                                            "conversation": [rc("user", q), rc("assistant", a)], "turn": 1,
                                            "language": "English", "redacted": False}),
                      ("messages", {"messages": "conversation"}), chat(Q, A),
                      ["conversation_id", "model", "turn", "language", "redacted"]),
    "ultrachat_200k": (rows(lambda i, q, a: {"prompt": q, "prompt_id": f"{i:064x}", "messages": [rc("user", q), rc("assistant", a)]}),
                       ("messages", {}), chat(Q, A), ["input_prompt", "prompt_id"]),
    "no_robots": (rows(lambda i, q, a: {"prompt": q, "prompt_id": f"{i:064x}", "messages": [rc("user", q), rc("assistant", a)],
                                        "category": "Open QA"}),
                  ("messages", {}), chat(Q, A), ["input_prompt", "prompt_id", "category"]),
    "tulu3_sft_mixture": (rows(lambda i, q, a: {"id": f"oasst1_converted_{i}", "messages": [rc("user", q), rc("assistant", a)],
                                                "source": "ai2-adapt-dev/oasst1_converted"}),
                          ("messages", {}), chat(Q, A), ["input_id", "source"]),
    "magpie": (rows(lambda i, q, a: {"uuid": f"u{i}", "model": "llama-3-70b", "gen_input_configs": {"temperature": 1.0, "seed": None},
                                     "instruction": q, "response": a, "conversations": [fv("human", q), fv("gpt", a)],
                                     "task_category": "Information seeking", "difficulty": "easy", "instruct_reward": 1.5,
                                     "min_neighbor_distance": 0.2, "language": "EN"}),
               ("conversations", {}), chat(Q, A),
               ["uuid", "model", "gen_input_configs", "instruction", "response", "task_category", "instruct_reward"]),
    "dolly_15k": (rows(lambda i, q, a: {"instruction": q, "context": "", "response": a, "category": "open_qa"}),
                  ("alpaca", {"input": "context", "output": "response"}), chat(Q, A), ["category"]),
    "openorca": (rows(lambda i, q, a: {"id": f"niv.{i}", "system_prompt": SYS, "question": q, "response": a}),
                 ("alpaca", {"instruction": "question", "output": "response", "system": "system_prompt"}),
                 [fv("system", SYS)] + chat(Q, A), ["input_id"]),
    "metamathqa": (rows(lambda i, q, a: {"query": q, "response": a, "type": "GSM_Rephrased", "original_question": q}),
                   ("alpaca", {"instruction": "query", "output": "response"}), chat(Q, A), ["type", "original_question"]),
    "gsm8k": (rows(lambda i, q, a: {"question": q, "answer": a}),
              ("alpaca", {"instruction": "question", "output": "answer"}), chat(Q, A), []),
    "aya_or_flan": (rows(lambda i, q, a: {"inputs": q, "targets": a, "language": "English", "language_code": "eng"}),
                    ("alpaca", {"instruction": "inputs", "output": "targets"}), chat(Q, A), ["language", "language_code"]),
    "codealpaca_h4": (rows(lambda i, q, a: {"prompt": q, "completion": a}), ("prompt_completion", {}), chat(Q, A), []),
    "alpaca_gpt4": (rows(lambda i, q, a: {"instruction": q, "input": "", "output": a, "text": f"### Instruction:\n{q}"}),
                    ("alpaca", {}), chat(Q, A), ["text"]),
    "wizardlm_evol_v2": (rows(lambda i, q, a: {"idx": f"alpaca_{i}", "conversations": [fv("human", q), fv("gpt", a)]}),
                         ("conversations", {}), chat(Q, A), ["idx"]),
}

OASST_MESSAGE = {"user_id": "u", "created_date": "2023-02-05T14:23:50+00:00", "lang": "en", "review_count": 3,
                 "review_result": True, "deleted": False, "synthetic": False, "model_name": None, "detoxify": None,
                 "tree_state": "ready_for_export", "emojis": None, "labels": None}
# name: (rows, what the one error line says after the file's name)
REFUSED = {
    "oasst2_messages": ([{"message_id": f"m{i}", "parent_id": None if i % 2 == 0 else f"m{i - 1}", "rank": None,
                          "text": text, "role": "prompter" if i % 2 == 0 else "assistant", "message_tree_id": "m0",
                          **OASST_MESSAGE} for i, text in enumerate([Q, A, Q2, A2])],
                        "holds one message per row (OpenAssistant's message table"),
    "hh_rlhf": (rows(lambda i, q, a: {"chosen": f"\n\nHuman: {q}\n\nAssistant: {a}",
                                      "rejected": f"\n\nHuman: {q}\n\nAssistant: I don't know."}),
                "holds preference pairs"),
    "dpo_implicit_prompt": (rows(lambda i, q, a: {"chosen": [rc("user", q), rc("assistant", a)],
                                                  "rejected": [rc("user", q), rc("assistant", "No idea.")]}),
                            "set this input's format: messages and columns: {messages: chosen}"),
    "dpo_explicit_prompt": (rows(lambda i, q, a: {"prompt": [rc("user", q)], "chosen": [rc("assistant", a)],
                                                  "rejected": [rc("assistant", "No idea.")]}),
                            "set this input's format: prompt_completion and columns: {completion: chosen}"),
    "dpo_text": (rows(lambda i, q, a: {"prompt": q, "chosen": a, "rejected": "No idea.", "score_chosen": 8.0}),
                 "set this input's format: prompt_completion and columns: {completion: chosen}"),
    "orca_dpo_pairs": (rows(lambda i, q, a: {"system": SYS, "question": q, "chosen": a, "rejected": "No idea."}),
                       "set this input's format: alpaca and columns: {instruction: question, output: chosen}"),
    "kto_unpaired": (rows(lambda i, q, a: {"prompt": [rc("user", q)], "completion": [rc("assistant", a)], "label": i % 2 == 0}),
                     "holds unpaired preference data"),
    "text_only": (rows(lambda i, q, a: {"text": f"{q} {a}"}), "holds plain text"),
    "text_with_metadata": (rows(lambda i, q, a: {"text": f"{q} {a}", "id": f"doc{i}", "url": f"https://example.test/{i}"}),
                           "holds plain text"),
}


def _write(folder: Path, name: str, records: list[dict], suffix: str) -> Path:
    path = folder / f"{name}.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(records), path)
    return path


def _validated(path: Path) -> tuple[InputConfig, list[dict], list[dict]]:
    """The input as a run resolves it, and its rows through validation: kept, and quarantined."""
    source = open_inputs([InputConfig(path=str(path))])
    stage = Validate(ValidateConfig(), source.inputs)
    kept, quarantined = [], []
    for batch in source.batches():
        out = stage.process(batch)
        kept += out.batch.to_pylist()
        quarantined += out.quarantine.to_pylist() if out.quarantine is not None else []
    return source.inputs[0], kept, quarantined


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
@pytest.mark.parametrize("shape", list(READ))
def test_a_popular_datasets_shape_is_read_as_chat_data(tmp_path, shape, suffix):
    records, (fmt, columns), first, kept_columns = READ[shape]
    cfg, kept, quarantined = _validated(_write(tmp_path, shape, records, suffix))
    assert (cfg.format, cfg.columns) == (fmt, columns)
    assert not quarantined and len(kept) == len(records)
    assert kept[0]["conversations"] == first
    for column in kept_columns:
        assert column in kept[0], f"{column} not kept: {sorted(kept[0])}"


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
@pytest.mark.parametrize("shape", list(REFUSED))
def test_a_shape_that_is_no_chat_data_is_one_error_line_saying_what_it_holds(in_tmp, shape, suffix):
    records, says = REFUSED[shape]
    path = _write(in_tmp, shape, records, suffix)
    result = curate_command("-i", path.name, "-o", "out", "--set", "checkpoint=false")
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert line.startswith(f"error: {path.name}: ") and says in line, line
    assert not (in_tmp / "out" / "quarantine.jsonl").exists()
    with pytest.raises(FormatError) as raised:  # one line as raised, not only as the command shows it
        open_inputs([InputConfig(path=path.name)])
    assert "\n" not in str(raised.value)


def test_the_suggested_mapping_for_preference_pairs_reads_the_chosen_side(in_tmp):
    """What the error line for a DPO file says to set reads it: the prompt and its chosen answer, rejected kept
    (as input_rejected: a `rejected` column would make TRL take the split for preference data)."""
    records, _ = REFUSED["dpo_explicit_prompt"]
    path = _write(in_tmp, "dpo", records, "jsonl")
    source = open_inputs([InputConfig(path=str(path), format="prompt_completion", columns={"completion": "chosen"})])
    stage = Validate(ValidateConfig(), source.inputs)
    kept = [row for batch in source.batches() for row in stage.process(batch).batch.to_pylist()]
    assert [row["conversations"] for row in kept] == [chat(q, a) for q, a in QA]
    assert kept[0]["input_rejected"] == [rc("assistant", "No idea.")]  # named apart from what TRL reads


# -- Capybara's pairs, column-wise and record by record -----------------------------------------------------------

CAPYBARA = {"input_cfg": InputConfig(path="capybara.jsonl", name="capybara", format="conversations",
                                     columns={"conversations": "conversation"})}
PAIR_ROWS = [
    {"conversation": [{"input": Q, "output": A}, {"input": Q2, "output": A2}], "source": "Know-Logic"},
    {"conversation": [{"input": Q, "output": A, "weight": 1.0}], "source": "x"},  # a key dropped, and recorded
    {"conversation": [{"input": Q, "output": A, "weight": None}]},  # a null key is no value
    {"conversation": [{"input": Q, "output": None}]},
    {"conversation": [{"input": Q}]},
    {"conversation": [{"input": Q, "output": 3}]},
    {"conversation": [{"input": Q, "output": A}, None]},
    {"conversation": []},
    {"conversation": None, "source": "y"},
]


@pytest.mark.parametrize("row", PAIR_ROWS, ids=[str(i) for i in range(len(PAIR_ROWS))])
def test_capybara_pairs_have_one_outcome_whichever_path_reads_them(row):
    """A row among clean Capybara rows (column-wise), alone, and after a row that forces the record path: the same
    kept conversation, repairs and extra columns, or the same quarantine error."""
    clean = [{"conversation": [{"input": f"{q} {i}", "output": f"{a} {i}"}], "source": "s"} for i, (q, a) in enumerate(QA)]
    forcing = {**clean[0], "conversation": {"not": "a list"}}
    target = json.dumps(row).encode()
    block = b"".join(json.dumps(r).encode() + b"\n" for r in clean) + target + b"\n"
    among = parse_block(block, "capybara.jsonl", 1, 0)[0]
    ways = {"among clean rows": among, "in a batch of its own": among.slice(among.num_rows - 1),
            "alone": parse_block(target + b"\n", "capybara.jsonl", 1, 0)[0],
            "after a record-path row": parse_block(json.dumps(forcing).encode() + b"\n" + target + b"\n",
                                                   "capybara.jsonl", 1, 0)[0]}
    stage = Validate(ValidateConfig(), [CAPYBARA["input_cfg"]])
    outcomes: dict[str, Any] = {way: _outcomes(stage, "capybara", batch)[line_id(target)] for way, batch in ways.items()}
    first = next(iter(outcomes.values()))
    assert all(o == first for o in outcomes.values()), json.dumps(outcomes, indent=1, default=str)
    if row is PAIR_ROWS[0]:
        assert first == ("kept", {"conversations": chat(Q, A) + chat(Q2, A2), "source": "Know-Logic"})
    if row is PAIR_ROWS[1]:
        assert first[0] == "kept" and first[1]["repairs"] == {"turn_keys_dropped": ["conversations"]}


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_one_incomplete_pair_among_the_first_rows_quarantines_that_row_alone(tmp_path, suffix):
    """A pair without its ``output`` among the rows the format is told from made the turns' keys unknown: no
    mapping was set, and every row was quarantined (``turn 1: missing 'from'``), not the one row."""
    records = [{"conversations": [{"input": f"question {i} about the tides", "output": f"answer {i} on the moon"}]}
               for i in range(12)]
    records[4] = {"conversations": [{"input": "a question left without its answer"}]}
    cfg, kept, quarantined = _validated(_write(tmp_path, "capybara", records, suffix))
    assert (cfg.format, cfg.columns) == ("conversations", {"conversations": "conversations"})
    assert len(kept) == 11 and len(quarantined) == 1
    # (in Parquet the pairs are one struct type: a pair without output reads as one whose output is null)
    assert quarantined[0]["error"].startswith("pair 1: an {input, output} pair without 'output'" if suffix == "jsonl"
                                              else "turn 2: 'value' is null")


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_a_number_where_an_answer_goes_is_its_text_with_the_repair_recorded(tmp_path, suffix):
    """GSM8K-like answers stored as numbers became text with no word of it in the row's ``repairs`` (a repaired
    row must say what was done); a NaN or infinite number is no answer: quarantined."""
    records = [{"question": f"What is {i} times 7?", "answer": i * 7} for i in range(1, 6)]
    if suffix == "jsonl":
        records.append({"question": "What is nothing?", "answer": float("nan")})
    cfg, kept, quarantined = _validated(_write(tmp_path, "numbers", records, suffix))
    assert (cfg.format, cfg.columns) == ("alpaca", {"instruction": "question", "output": "answer"})
    assert [r["conversations"][-1]["value"] for r in kept] == ["7", "14", "21", "28", "35"]
    assert all(json.loads(r["repairs"]) == {"number_as_text": ["answer"]} for r in kept)
    if suffix == "jsonl":
        assert len(quarantined) == 1 and quarantined[0]["error"] == "column 'answer' (read as output) is null"  # (NaN read as null)


# -- one column of turns under names no format uses ------------------------------------------------------------------

def _write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("column, role, text, roles", [
    ("dialog", "speaker", "text", ("human", "bot")),
    ("chat", "author", "message", ("user", "assistant")),
    ("turns", "who", "utterance", ("User", "Model")),
])
def test_one_column_of_turns_under_other_names_is_read_as_messages(tmp_path, column, role, text, roles):
    """``dialog`` of ``{speaker, text}`` turns (no format's names): its column and turn keys are found from the
    first records and recorded in the manifest's config, as a column mapping would be given (it was one error
    line, "cannot tell the chat format")."""
    rows = [{column: [{role: roles[0], text: q}, {role: roles[1], text: a}], "meta": k} for k, (q, a) in enumerate(QA)]
    out = tmp_path / "out"
    result = curate_command("-i", str(_write_rows(tmp_path / "rows.jsonl", rows)), "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    [given] = manifest["config"]["inputs"]
    assert (given["format"], given["columns"]) == ("messages", {"messages": column, "role": role, "content": text})
    accounting = manifest["accounting"]
    assert (accounting["quarantined"], accounting["in_splits"] + accounting["removed"]) == (0, len(QA))
    kept = pa.concat_tables([pq.read_table(out / f"{s}.parquet") for s in ("train", "validation", "test")])
    conversations = kept.column("conversations").to_pylist()
    assert kept.num_rows >= 1 and {(c[0]["value"], c[1]["value"]) for c in conversations} <= set(QA)
    assert all([t["from"] for t in c] == ["human", "gpt"] for c in conversations)


@pytest.mark.parametrize("rows, says", [
    # two columns of turns: which one is the conversation is not known
    ([{"a": [rc("user", Q), rc("assistant", A)], "b": [rc("user", Q2), rc("assistant", A2)]}] * 3,
     "cannot tell the chat format from its columns (a, b)"),
    # a key of roles no chat format knows: not turns of a conversation
    ([{"dialog": [{"speaker": "narrator", "text": Q}, {"speaker": "hero", "text": A}]}] * 3,
     "cannot tell the chat format from its columns (dialog)"),
    # two text keys, neither a usual name for a turn's text: which is the text is not known
    ([{"dialog": [{"speaker": "user", "said": Q, "note": "x"}, {"speaker": "bot", "said": A, "note": "y"}]}] * 3,
     "cannot tell the chat format from its columns (dialog)"),
    # preference data with one chosen conversation and a rejected answer as text: still refused as such
    ([{"prompt": Q, "chosen": [rc("user", Q), rc("assistant", A)], "rejected": "No."}] * 3, "holds preference pairs"),
])
def test_turns_whose_column_or_keys_are_in_doubt_stay_one_error_line(tmp_path, rows, says):
    result = curate_command("-i", str(_write_rows(tmp_path / "rows.jsonl", rows)), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert says in one_error_line(result.output)
