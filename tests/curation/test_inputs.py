"""Many inputs in one run: naming, formats converted the same row-wise and column-wise, mixing to weights,
per-input accounting, --against an existing output, compressed and globbed inputs."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.contract import SPLITS, read_manifest, read_quarantine, read_removed
from curation.formats import FormatError, to_conversations
from curation.inputs import InputConfig, adapt_record, default_name, inputs_from_cli, name_inputs
from curation.mix import allocate

ROLE = {"human": "user", "gpt": "assistant", "system": "system"}


def fast_config(**overrides):
    from curation.config import load_config

    base = {"report": False, "checkpoint": False}
    for key, value in overrides.items():
        base[key] = value
    return load_config(None, base)


def alpaca_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def as_messages(row: dict) -> dict:
    return {"messages": [{"role": ROLE[t["from"]], "content": t["value"]} for t in row["conversations"]]}


def as_alpaca(row: dict) -> dict:
    turns = row["conversations"]
    return {"instruction": turns[0]["value"], "input": "", "output": turns[1]["value"]}


def kept_table(out: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(out / f"{s}.parquet") for s in SPLITS])


# -- naming ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,name", [
    ("data/rows.jsonl.gz", "rows"), ("shards/", "shards"), ("shards/*.parquet", "shards"),
    ("mlabonne/FineTome-100k:train", "FineTome-100k"), ("sample", "sample"), ("x.json", "x"),
])
def test_default_name(path, name):
    assert default_name(path) == name


def test_default_name_cuts_a_split_only_from_what_is_no_local_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("mydata:train:v2.jsonl").write_text("", encoding="utf-8")
    Path("saved:set").mkdir()
    assert default_name("mydata:train:v2.jsonl") == "mydata:train:v2"  # an existing file: its whole stem
    assert default_name(str(tmp_path / "mydata:train:v2.jsonl")) == "mydata:train:v2"
    assert name_inputs(inputs_from_cli(["mydata:train:v2.jsonl"]))[0].name == "mydata:train:v2"
    assert default_name("saved:set:test") == "saved:set"  # a save_to_disk folder's split
    assert default_name("owner/mydata:train") == "mydata" and default_name("mydata:train:v2") == "mydata"  # hub ids


def test_names_are_made_unique_and_given_ones_kept():
    named = name_inputs([InputConfig(path="a/rows.jsonl"), InputConfig(path="b/rows.jsonl"), InputConfig(path="c", name="rows-2")])
    assert [i.name for i in named] == ["rows", "rows-3", "rows-2"]
    with pytest.raises(ValueError, match="used twice"):
        name_inputs([InputConfig(path="a", name="x"), InputConfig(path="b", name="x")])


@pytest.mark.parametrize("inputs, names", [
    ([InputConfig(path="HuggingFaceTB/smoltalk", subset="smol-magpie-ultra"),
      InputConfig(path="HuggingFaceTB/smoltalk", subset="smol-rewrite")], ["smoltalk-smol-magpie-ultra", "smoltalk-smol-rewrite"]),
    ([InputConfig(path="org/ds:train"), InputConfig(path="org/ds", split="test")], ["ds-train", "ds-test"]),
    ([InputConfig(path="org/ds", subset="a\nb"), InputConfig(path="org/ds", subset="c")], ["ds-a_b", "ds-c"]),
    ([InputConfig(path="org/ds", split="test"), InputConfig(path="a/ds.jsonl")], ["ds-test", "ds"]),  # a file names no split
    ([InputConfig(path="org/ds", subset="a", name="ds"), InputConfig(path="org/ds", subset="b")], ["ds", "ds-2"]),
])
def test_one_datasets_subsets_or_splits_are_named_by_them(inputs, names):
    """Were ``smoltalk`` and ``smoltalk-2``: which subset is which was not told in the report's tables."""
    assert [i.name for i in name_inputs(inputs)] == names


def test_the_same_data_listed_twice_is_one_error_not_a_copy_removed_as_duplicates(tmp_path, monkeypatch):
    """`-i a.jsonl -i ./a.jsonl` (to upsample it, say) read the file twice and removed every row of the second
    as an exact duplicate; the same file by two spellings, or the same hub split, is refused. Another split of
    a dataset, or another file, is no repeat."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / "b.jsonl").write_text("")
    for paths in (["a.jsonl", "./a.jsonl"], [str(tmp_path / "a.jsonl"), "a.jsonl"], ["owner/set", "owner/set"]):
        with pytest.raises(ValueError, match=r"is listed twice \(inputs 1 and 2\); list it once"):
            name_inputs([InputConfig(path=p) for p in paths])
    assert len(name_inputs([InputConfig(path="a.jsonl"), InputConfig(path="b.jsonl"),
                            InputConfig(path="owner/set", split="train"), InputConfig(path="owner/set", split="test")])) == 4


def test_inputs_from_the_command_line():
    got = inputs_from_cli(["a.jsonl", "web=b/*.jsonl.gz@3", "./c.parquet@0.5", "org/data"])
    assert [(i.name, i.path, i.weight) for i in got] == [
        (None, "a.jsonl", None), ("web", "b/*.jsonl.gz", 3.0), (None, "./c.parquet", 0.5), (None, "org/data", None)]


def test_weight_and_max_rows_are_exclusive():
    with pytest.raises(ValueError, match="weight or max_rows"):
        InputConfig(path="a", weight=1, max_rows=3)


@pytest.mark.parametrize("available,weights,caps,total,expected", [
    ({"a": 100, "b": 100, "c": 100}, {"a": 5, "b": 3, "c": 2}, {}, None, {"a": 100, "b": 60, "c": 40}),
    ({"a": 10, "b": 100}, {"a": 1, "b": 1}, {}, None, {"a": 10, "b": 10}),
    ({"a": 100, "b": 100, "c": 7}, {"a": 1, "b": 1}, {"c": 5}, None, {"a": 100, "b": 100, "c": 5}),
    ({"a": 100, "b": 100}, {"a": 1, "b": 2}, {}, 30, {"a": 10, "b": 20}),
    ({"a": 33, "b": 100, "c": 100}, {"a": 1, "b": 1, "c": 1}, {}, None, {"a": 33, "b": 33, "c": 33}),
    ({"a": 5, "b": 9}, {}, {}, None, {"a": 5, "b": 9}),
])
def test_allocate(available, weights, caps, total, expected):
    assert allocate(available, weights, caps, total) == expected


@pytest.mark.parametrize("weights", [{}, {"c": 1}])
def test_a_total_rows_below_what_the_unweighted_inputs_give_is_one_line(weights):
    """With or without weighted inputs beside them (was: a ValueError traceback without, the cap silently
    exceeded with)."""
    from curation.core.stage import StageError

    with pytest.raises(StageError, match="total_rows is 10 but the inputs without a weight give 105 rows"):
        allocate({"a": 100, "b": 7, **{name: 50 for name in weights}}, weights, {"b": 5}, 10)


@pytest.mark.parametrize("left_in_a", [0, 1])
def test_a_weighted_input_with_no_rows_left_is_left_out_and_said_so(left_in_a):
    """An input whose rows were all removed before the mix is left out (the others share its weight) and its
    stats say so: no target share; with one row left it limits the mix like any scarce input."""
    from curation.core.stage import POS, REASON, ReduceContext
    from curation.mix import Mix, MixConfig

    mix = Mix(MixConfig(), [InputConfig(path="a", name="a", weight=1), InputConfig(path="b", name="b", weight=1)])
    labels = ["a"] * left_in_a + ["b"] * 10
    keys = pa.table({POS: pa.array(range(len(labels)), pa.int64()), "id": [f"r{i}" for i in range(len(labels))],
                     "input": labels})
    decisions = mix.decide(keys, ReduceContext(config=None, cache_dir=Path("."), fetch=None))
    per_input = decisions.stats["per_input"]
    if left_in_a:
        assert decisions.table.num_rows == 9 and set(decisions.table.column(REASON).to_pylist()) == {"mix:over_share"}
        assert per_input["a"] == {"available": 1, "taken": 1, "share": 0.5, "target_share": 0.5}
    else:
        assert decisions.table.num_rows == 0
        assert per_input["a"] == {"available": 0, "taken": 0, "share": 0.0, "target_share": None}
        assert per_input["b"]["target_share"] == 1.0


# -- one definition of each format, row-wise and column-wise ------------------------------------------------

_text = st.one_of(st.none(), st.text(max_size=6))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.fixed_dictionaries({"instruction": _text, "input": _text, "output": _text, "system": _text}),
                min_size=1, max_size=6))
def test_alpaca_row_wise_equals_column_wise(rows):
    table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in ("instruction", "input", "output", "system")]))
    adapted = to_conversations(table, "alpaca")
    for row, conv, error in zip(rows, adapted.table.column("conversations").to_pylist(), adapted.error.to_pylist()):
        if error is not None:
            with pytest.raises(FormatError, match=error.replace("'", ".")):
                adapt_record(row, "alpaca", {})
        else:
            assert adapt_record(row, "alpaca", {})["conversations"] == conv


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6), st.sampled_from(["user", "User", "assistant", "tool"])),
                min_size=1, max_size=5))
def test_prompt_completion_row_wise_equals_column_wise(items):
    rows = [{"prompt": [{"role": r, "content": p}], "completion": c} for p, c, r in items]
    adapted = to_conversations(pa.Table.from_pylist(rows), "prompt_completion")
    for row, conv in zip(rows, adapted.table.column("conversations").to_pylist()):
        assert adapt_record(row, "prompt_completion", {})["conversations"] == conv


def test_mapping_row_wise():
    row = {"dialog": [{"speaker": "user", "text": "Hi"}], "q": 1}
    assert adapt_record(row, "messages", {"messages": "dialog", "role": "speaker", "content": "text"}) == {
        "messages": [{"role": "user", "content": "Hi"}], "q": 1}
    assert adapt_record({"question": "Q", "answer": "A"}, "alpaca", {"instruction": "question", "output": "answer"}) == {
        "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}


# -- whole runs ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def three_inputs(tmp_path_factory, alpaca_path):
    """The shared alpaca rows split into three inputs of three formats (and one compression), plus copies of
    ten rows of the first input inside the second."""
    rows = alpaca_rows(alpaca_path)
    folder = tmp_path_factory.mktemp("inputs")
    first = folder / "finetome.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows[:300]), encoding="utf-8")
    second = folder / "chat.jsonl.gz"
    second.write_bytes(gzip.compress("".join(json.dumps(as_messages(r)) + "\n" for r in rows[300:600] + rows[:10]).encode()))
    third = folder / "alpaca.parquet"
    pq.write_table(pa.Table.from_pylist([as_alpaca(r) for r in rows[600:900]]), third)
    return first, second, third


@pytest.fixture(scope="module")
def mixed_run(three_inputs, tmp_path_factory):
    from curation.pipeline import run_curation

    first, second, third = three_inputs
    out = tmp_path_factory.mktemp("mixed")
    config = fast_config(inputs=[
        {"path": str(first), "weight": 5, "license": "cc-by-4.0"},
        {"path": str(second), "name": "chat", "weight": 3},
        {"path": str(third), "weight": 2},
    ])
    result = run_curation(None, out, config, output_format="both")
    return out, result


def test_three_formats_mix_to_their_weights(mixed_run):
    out, result = mixed_run
    kept = kept_table(out)
    counts = dict(zip(*[kept.column("input").value_counts().field(f).to_pylist() for f in ("values", "counts")]))
    total = sum(counts.values())
    for name, target in (("finetome", 0.5), ("chat", 0.3), ("alpaca", 0.2)):
        assert abs(counts[name] / total - target) <= 0.01, (name, counts)
    manifest = read_manifest(out)
    assert manifest["accounting"]["balanced"]
    by_name = {i["name"]: i for i in manifest["inputs"]}
    assert [i["format"] for i in manifest["inputs"]] == ["conversations", "messages", "alpaca"]
    assert by_name["chat"]["rows_in"] == 310 and by_name["alpaca"]["rows_in"] == 300
    assert sum(i["rows_in"] for i in manifest["inputs"]) == manifest["accounting"]["input_rows"]
    assert abs(by_name["chat"]["share"] - 0.3) <= 0.01 and by_name["chat"]["target_share"] == 0.3
    assert sum(by_name["finetome"]["removed"].values()) + by_name["finetome"]["kept"] + by_name["finetome"]["quarantined"] == 300
    assert manifest["config"]["inputs"][2]["format"] == "alpaca"  # the detected format is recorded


def test_every_row_says_its_input_and_converted_rows_keep_their_turns(mixed_run):
    out, _ = mixed_run
    kept = kept_table(out)
    removed = read_removed(out)
    assert kept.column("input").null_count == 0 and removed.column("input").null_count == 0
    chat = kept.filter(pc.equal(kept.column("input"), "chat")).to_pylist()[0]
    assert {t["from"] for t in chat["conversations"]} <= {"human", "gpt", "system"}
    assert {t["from"] for t in chat["original_conversations"]} <= {"user", "assistant", "system"}


def test_a_row_in_two_inputs_survives_once_from_the_input_listed_first(mixed_run):
    out, _ = mixed_run
    removed = read_removed(out)
    copies = removed.filter(pc.and_(pc.equal(removed.column("input"), "chat"), pc.equal(removed.column("reason"), "exact_duplicate")))
    assert copies.num_rows >= 10
    kept_ids = set(kept_table(out).column("id").to_pylist()) | set(removed.column("id").to_pylist())
    assert set(copies.column("duplicate_of").to_pylist()) <= kept_ids


@pytest.mark.parametrize("first", ["a", "b"])
def test_a_near_copy_in_two_inputs_survives_from_the_input_listed_first(tmp_path, first):
    """Without scores the input listed first wins a near-duplicate cluster, as it wins an exact one (near dedup
    did not read the rows' input, and the longer copy won instead)."""
    from curation.pipeline import run_curation

    import random

    rng = random.Random(0)
    vocabulary = [f"w{k}" for k in range(2000)]
    rows = {"a": [], "b": []}
    for i in range(20):
        text = " ".join(rng.choice(vocabulary) for _ in range(40))
        for name, extra in (("a", ""), ("b", " indeed, for sure")):  # b's copy: longer, one phrase more
            rows[name].append({"conversations": [{"from": "human", "value": f"Question {i}: how do plants eat?"},
                                                 {"from": "gpt", "value": text + extra}]})
    for name in rows:
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[name]))
    order = [first, "b" if first == "a" else "a"]
    out = tmp_path / "out"
    run_curation([f"{n}={tmp_path / n}.jsonl" for n in order], out,
                 fast_config(stages={"exact_dedup": {"enabled": False}, "near_dedup": {"threshold": 0.5}}))
    removed = read_removed(out)
    near = removed.filter(pc.equal(removed.column("reason"), "near_duplicate"))
    assert near.num_rows == 20
    assert set(near.column("input").to_pylist()) == {order[1]}


def test_the_card_and_messages_show_the_mix(mixed_run):
    out, _ = mixed_run
    card = (out / "README.md").read_text()
    assert "## Mix" in card and "| chat | 310 |" in card and "cc-by-4.0" in card
    assert (out / "messages" / "train.parquet").exists()


def test_against_removes_what_the_first_run_kept_and_leaves_it_untouched(mixed_run, three_inputs, tmp_path):
    from curation.pipeline import run_curation

    first_out, _ = mixed_run
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first_out.glob("*.parquet")}
    first, second, third = three_inputs
    config = fast_config(inputs=[{"path": str(second), "name": "chat"}, {"path": str(third)}],
                         stages={"against": {"path": str(first_out)}})
    out = tmp_path / "second"
    run_curation(None, out, config)
    removed = read_removed(out)
    dup = removed.filter(pc.equal(removed.column("reason"), "duplicate_of_existing"))
    existing_ids = set(kept_table(first_out).column("id").to_pylist())
    assert dup.num_rows > 0 and set(dup.column("duplicate_of").to_pylist()) <= existing_ids
    assert not (set(kept_table(out).column("id").to_pylist()) & existing_ids)
    # every row of these inputs that the first run kept is found again (and more: rows the first run removed
    # as copies of the first input's rows are copies of the existing set now)
    first_kept = kept_table(first_out)
    kept_again = first_kept.filter(pc.is_in(first_kept.column("input"), pa.array(["chat", "alpaca"])))
    assert set(kept_again.column("id").to_pylist()) <= set(dup.column("id").to_pylist())
    assert dup.num_rows > kept_again.num_rows
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first_out.glob("*.parquet")}
    stats = next(s for s in read_manifest(out)["stages"] if s["name"] == "against")["stats"]
    assert stats["existing_rows"] == first_kept.num_rows
    # a second run against the same set reads its cached index, not the set
    run_curation(None, tmp_path / "third", config)
    again = next(s for s in read_manifest(tmp_path / "third")["stages"] if s["name"] == "against")["stats"]
    assert again["index"] == "cached" and again["exact"] + again["near"] == stats["exact"] + stats["near"]
    # ... also with the run's own dedup stages and normalization switched off (the index does not depend on them)
    lean = fast_config(inputs=[{"path": str(second), "name": "chat"}, {"path": str(third)}],
                       stages={"against": {"path": str(first_out)}, "exact_dedup": {"enabled": False},
                               "near_dedup": {"enabled": False}, "normalize": {"enabled": False}})
    run_curation(None, tmp_path / "lean", lean)
    assert next(s for s in read_manifest(tmp_path / "lean")["stages"] if s["name"] == "against")["stats"]["index"] == "cached"


@pytest.mark.parametrize("existing", [".", "train.parquet"])
def test_against_the_output_folder_is_refused_and_leaves_it_untouched(mixed_run, three_inputs, existing, tmp_path):
    import shutil

    from curation.pipeline import InputError, run_curation

    first_out = tmp_path / "curated"
    shutil.copytree(mixed_run[0], first_out)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first_out.glob("*.parquet")}
    config = fast_config(stages={"against": {"path": str(first_out / existing)}})
    with pytest.raises(InputError, match="would write over it"):
        run_curation(str(three_inputs[1]), first_out, config)
    assert before == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in first_out.glob("*.parquet")}


def test_against_a_raw_input_finds_near_duplicates(tmp_path, alpaca_path):
    from curation.pipeline import run_curation

    rows = alpaca_rows(alpaca_path)[:200]
    existing = tmp_path / "existing.jsonl"
    existing.write_text("".join(json.dumps(as_messages(r)) + "\n" for r in rows[:100]), encoding="utf-8")
    edited = []
    for r in rows[50:150]:
        r = json.loads(json.dumps(r))
        r["conversations"][-1]["value"] += " Thanks."
        edited.append(r)
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps(r) + "\n" for r in edited), encoding="utf-8")
    run_curation(str(new), tmp_path / "out", fast_config(stages={"against": {"path": str(existing)}}))
    removed = read_removed(tmp_path / "out")
    dup = removed.filter(pc.equal(removed.column("reason"), "duplicate_of_existing"))
    details = [json.loads(d) for d in dup.column("details").to_pylist()]
    assert dup.num_rows >= 35 and any(d["match"] == "near" for d in details)


def test_a_single_alpaca_file_is_converted_without_an_input_column(tmp_path, alpaca_path):
    from curation.pipeline import run_curation

    rows = alpaca_rows(alpaca_path)[:60]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([as_alpaca(r) for r in rows]), encoding="utf-8")
    run_curation(str(path), tmp_path / "out", fast_config())
    kept = kept_table(tmp_path / "out")
    assert kept.num_rows > 40 and "input" not in kept.column_names
    assert read_manifest(tmp_path / "out")["inputs"][0]["format"] == "alpaca"


def _turns_keyed(row: dict, keys: tuple[str, str], names: dict[str, str]) -> list[dict]:
    return [{keys[0]: names.get(t["from"], t["from"]), keys[1]: t["value"]} for t in row["conversations"]]


OPENAI_NAMES = {"human": "user", "gpt": "assistant"}


@pytest.fixture(scope="module")
def finetome_kept(tmp_path_factory, alpaca_path):
    """The rows the tests below reshape, and what a run keeps of them in FineTome's own shape."""
    from curation.pipeline import run_curation

    rows = alpaca_rows(alpaca_path)[:40]
    folder = tmp_path_factory.mktemp("finetome_kept")
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps({"conversations": r["conversations"]}) + "\n" for r in rows), encoding="utf-8")
    run_curation(str(path), folder / "out", fast_config())
    return rows, sorted(map(json.dumps, kept_table(folder / "out").column("conversations").to_pylist()))


@pytest.mark.parametrize("column,keys,names,fmt", [
    ("conversations", ("role", "content"), OPENAI_NAMES, "messages"),  # ShareGPT's column, OpenAI's turns
    ("messages", ("from", "value"), {}, "conversations"),  # OpenAI's column, ShareGPT's turns
    ("conversation", ("role", "content"), OPENAI_NAMES, "messages"),  # as lmsys-chat and WildChat write it
    ("conversation", ("from", "value"), {}, "conversations"),
])
@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_chat_column_keyed_the_other_formats_way_is_detected(tmp_path, finetome_kept, column, keys, names, fmt, suffix):
    """A chat column whose turns are keyed the other format's way is read column-wise with the mapping that fits,
    and the manifest says which; the run keeps the same conversations as from the FineTome-shaped rows."""
    from curation.pipeline import run_curation

    rows, expected = finetome_kept
    records = [{column: _turns_keyed(r, keys, names), "model": "m"} for r in rows]
    path = tmp_path / f"rows{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    run_curation(str(path), tmp_path / "out", fast_config())
    manifest = read_manifest(tmp_path / "out")
    (resolved,) = manifest["config"]["inputs"]
    assert (resolved["format"], resolved["columns"]) == (fmt, {fmt: column})
    assert manifest["accounting"]["quarantined"] == 0
    kept = kept_table(tmp_path / "out")
    assert sorted(map(json.dumps, kept.column("conversations").to_pylist())) == expected
    assert set(kept.column("model").to_pylist()) == {"m"}


def test_turns_keyed_both_ways_in_one_file_are_all_read(tmp_path, finetome_kept):
    """When the first records disagree, nothing is remapped: the rows keyed as the column's own format are read
    as they are, and each turn keyed the other way is read as the same turn (merged datasets hold both)."""
    from curation.pipeline import run_curation

    rows, expected = finetome_kept
    records = [{"conversations": _turns_keyed(r, ("role", "content"), OPENAI_NAMES) if i % 2 else r["conversations"]}
               for i, r in enumerate(rows)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    run_curation(str(path), tmp_path / "out", fast_config())
    manifest = read_manifest(tmp_path / "out")
    assert manifest["config"]["inputs"] == [] and manifest["accounting"]["quarantined"] == 0
    kept = kept_table(tmp_path / "out")
    assert sorted(map(json.dumps, kept.column("conversations").to_pylist())) == expected


@pytest.mark.parametrize("names", [("instruction", "response", "context"), ("question", "answer", None),
                                   ("query", "response", None), ("question", "response", "system_prompt")])
def test_a_question_and_answer_under_other_names_is_detected(tmp_path, finetome_kept, names):
    """Dolly's, GSM8K's, MetaMathQA's and OpenOrca's columns are read as Alpaca's, with the mapping recorded; an
    empty context or system prompt adds nothing, so the run keeps what it keeps of the FineTome-shaped rows."""
    from curation.pipeline import run_curation

    rows, expected = finetome_kept
    question, answer, extra = names
    records = [{question: r["conversations"][0]["value"], answer: r["conversations"][1]["value"],
                **({extra: ""} if extra else {})} for r in rows]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    run_curation(str(path), tmp_path / "out", fast_config())
    (resolved,) = read_manifest(tmp_path / "out")["config"]["inputs"]
    assert resolved["format"] == "alpaca" and resolved["columns"].get("output", "output") == answer
    assert sorted(map(json.dumps, kept_table(tmp_path / "out").column("conversations").to_pylist())) == expected


def test_two_question_columns_are_one_clear_error(tmp_path):
    from curation.pipeline import run_curation
    from curation.readers import InputError

    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"question": "a?", "query": "b?", "answer": "c."}) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        run_curation(str(path), tmp_path / "out", fast_config())
    assert "cannot tell the chat format" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow
def test_the_report_shows_each_input_and_the_mix(mixed_run):
    from curation.report import write_report

    out, _ = mixed_run
    write_report(out)
    md = (out / "report.md").read_text()
    section = md.split("## Inputs and mix", 1)[1].split("## ", 1)[0]
    assert "| chat | messages | 310 |" in section and section.count("| 30.0% |") >= 1
    assert 'id="inputs"' in (out / "report.html").read_text()


def test_hub_inputs_can_be_streamed(tmp_path, monkeypatch, alpaca_path):
    """``streaming: true`` reads a hub dataset as an IterableDataset, batch by batch (a local parquet dataset
    stands in for the hub here)."""
    import datasets

    from curation.pipeline import run_curation

    rows = alpaca_rows(alpaca_path)[:80]
    pq.write_table(pa.Table.from_pylist([as_messages(r) for r in rows]), tmp_path / "part-0.parquet")
    real = datasets.load_dataset
    calls = []

    def local_hub(name, split=None, streaming=False, **kw):
        calls.append((name, split, streaming))
        return real("parquet", data_files=str(tmp_path / "part-0.parquet"), split="train", streaming=streaming)

    monkeypatch.setattr(datasets, "load_dataset", local_hub)
    config = fast_config(inputs=[{"path": "org/chat", "split": "train", "streaming": True},
                                 {"path": str(alpaca_path), "max_rows": 10}])
    run_curation(None, tmp_path / "out", config)
    assert calls == [("org/chat", "train", True)]
    manifest = read_manifest(tmp_path / "out")
    chat = manifest["inputs"][0]
    assert chat["kind"] == "stream" and chat["format"] == "messages" and chat["rows_in"] == 80
    assert chat["split"] == "train"  # which split of the hub dataset was read


def test_a_hub_input_records_the_split_it_read(tmp_path, monkeypatch, alpaca_path):
    """The default split (``train``) and one named after the id (``ID:SPLIT``) are both in the manifest."""
    import datasets

    from curation.pipeline import run_curation

    pq.write_table(pa.Table.from_pylist([as_messages(r) for r in alpaca_rows(alpaca_path)[:20]]),
                   tmp_path / "part-0.parquet")
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split=None, streaming=False, **kw: real(
        "parquet", data_files=str(tmp_path / "part-0.parquet"), split="train", streaming=streaming))
    for spec, split in (("org/chat", "train"), ("org/chat:validation", "validation")):
        run_curation(spec, tmp_path / split, fast_config())
        record = read_manifest(tmp_path / split)["inputs"][0]
        assert (record["kind"], record["split"]) == ("hub", split)


def test_a_streamed_hub_dataset_reads_class_labels_as_their_names(tmp_path, monkeypatch, alpaca_path):
    """As a downloaded one does: ``source`` stored as ClassLabel numbers arrives as its names."""
    import datasets

    rows = [dict(as_messages(r), source=i % 2) for i, r in enumerate(alpaca_rows(alpaca_path)[:6])]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "part-0.parquet")
    features = datasets.Features({"messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
                                  "source": datasets.ClassLabel(names=["web", "books"])})
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split=None, streaming=False, **kw: real(
        "parquet", data_files=str(tmp_path / "part-0.parquet"), split="train", streaming=streaming, features=features))
    from curation.readers import open_input

    source = open_input("org/chat:train", streaming=True)
    table = pa.Table.from_batches(list(source.batches()))
    assert table.column("source").to_pylist() == ["web", "books"] * 3


def test_a_compressed_json_array_is_an_input(tmp_path, alpaca_path):
    from curation.readers import open_input

    rows = alpaca_rows(alpaca_path)[:30]
    path = tmp_path / "rows.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"data": [as_alpaca(r) for r in rows]}).encode()))
    source = open_input(str(path))
    assert source.kind == "json" and sum(b.num_rows for b in source.batches()) == 30


def test_relative_input_paths_of_a_config_file_are_found_beside_it(tmp_path, monkeypatch):
    from curation.inputs import relative_to

    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "rows.jsonl").write_text("{}\n")
    (tmp_path / "here.jsonl").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    got = relative_to([InputConfig(path="rows.jsonl"), InputConfig(path="here.jsonl"), InputConfig(path="sample")],
                      tmp_path / "cfg")
    assert [i.path for i in got] == [str(tmp_path / "cfg" / "rows.jsonl"), "here.jsonl", "sample"]


def test_a_weighted_input_emptied_by_dedup_is_reported_as_left_out(three_inputs, tmp_path):
    """Its copy holds only rows of the first input: dedup removes them all before the mix. The others share the
    weights, and the manifest's per-input records agree with the mix stage: the copy has no target share."""
    from curation.contract import read_manifest
    from curation.pipeline import run_curation

    first, _, third = three_inputs
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(first.read_bytes())
    config = fast_config(inputs=[{"path": str(first), "weight": 1}, {"path": str(copy), "name": "copy", "weight": 1},
                                 {"path": str(third), "weight": 1}])
    run_curation(None, tmp_path / "out", config)
    manifest = read_manifest(tmp_path / "out")
    records = {r["name"]: r for r in manifest["inputs"]}
    stats = next(s for s in manifest["stages"] if s["name"] == "mix")["stats"]["per_input"]
    assert records["copy"]["kept"] == 0 and records["copy"]["target_share"] is None
    assert stats["copy"] == {"available": 0, "taken": 0, "share": 0.0, "target_share": None}
    for name in ("finetome", "alpaca"):
        assert records[name]["target_share"] == stats[name]["target_share"] == 0.5
        assert records[name]["kept"] > 0


def test_targets_and_shares_are_of_the_whole_mix_beside_a_max_rows_input():
    """A max_rows input takes its rows first; the weighted inputs' targets are their weights' shares of what is
    left, so an exact draw shows each share equal to its target."""
    from curation.core.stage import POS, ReduceContext
    from curation.mix import Mix, MixConfig

    mix = Mix(MixConfig(), [InputConfig(path="a", name="a", weight=3), InputConfig(path="b", name="b", weight=1),
                            InputConfig(path="c", name="c", max_rows=10)])
    labels = ["a"] * 99 + ["b"] * 100 + ["c"] * 50
    keys = pa.table({POS: pa.array(range(len(labels)), pa.int64()), "id": [f"r{i}" for i in range(len(labels))],
                     "input": labels})
    per_input = mix.decide(keys, ReduceContext(config=None, cache_dir=Path("."), fetch=None)).stats["per_input"]
    assert [per_input[n]["taken"] for n in "abc"] == [99, 33, 10]
    for name in "ab":
        assert per_input[name]["share"] == pytest.approx(per_input[name]["target_share"], abs=1e-6)
    assert per_input["c"]["target_share"] is None


def test_one_weighted_input_from_the_command_line_keeps_its_weight(tmp_path):
    """``-i rows.jsonl@1`` alone: the weight reaches the mix (was: dropped, so ``total_rows`` said the input had
    no weight and stopped the run)."""
    from curation.pipeline import run_curation

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"conversations": [
        {"from": "human", "value": f"Question {i}: what does the number {i * 7919} stand for here?"},
        {"from": "gpt", "value": f"It stands for item {i} of the list, counted from one, in answer {i * 31}."}]}) + "\n"
        for i in range(40)))
    out = tmp_path / "out"
    run_curation([f"{data}@1"], out, fast_config(stages={"mix": {"total_rows": 12}}))
    manifest = read_manifest(out)
    assert manifest["accounting"]["in_splits"] == 12
    assert [(i["name"], i["weight"], i["target_share"]) for i in manifest["inputs"]] == [("rows", 1.0, 1.0)]
