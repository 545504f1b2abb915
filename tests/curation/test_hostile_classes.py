"""Input classes the earlier hostile passes did not reach: rows of a JSON array that do not all hold the same
keys, and others. Each once lost a value or a row's own content without a word; every row ends in one place."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.contract import read_quarantine
from curation.readers import InputError, open_input
from curation.validate import Validate, ValidateConfig
from tests.curation.runs import curate

Q = "How do leaves turn sunlight into food for the plant?"
A = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf of a plant."


def row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"{Q} ({i})"}, {"from": "gpt", "value": f"{A} [{i}]"}], **extra}


def validated(spec: str, batch_rows: int = 16_384) -> tuple[pa.Table, list[dict]]:
    """The rows validation keeps of an input, and its quarantine entries, read in one process."""
    stage = Validate(ValidateConfig())
    kept, quarantined = [], []
    for batch in open_input(spec).batches(batch_rows):
        out = stage.process(batch)
        kept.append(pa.Table.from_batches([out.batch]))
        if out.quarantine is not None:
            quarantined.extend(out.quarantine.to_pylist())
    return pa.concat_tables(kept, promote_options="permissive"), quarantined


# -- a JSON array's rows with different keys ------------------------------------------------------------------

def test_keys_only_later_rows_of_a_json_array_hold_are_kept(tmp_path):
    rows = [row(0), row(1, meta="only here"), row(2, score=4.5), row(3, score="3.5")]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    kept, quarantined = validated(str(path))
    assert not quarantined
    assert kept.column("meta").to_pylist() == [None, "only here", None, None]
    assert kept.column("score").to_pylist() == [None, None, 4.5, 3.5]


def test_a_json_array_whose_first_row_is_not_chat_keeps_the_rows_after_it(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"note": "a header row"}] + [row(i) for i in range(3)]))
    manifest = curate(str(path), tmp_path / "out")
    assert manifest["accounting"]["in_splits"] == 3
    (entry,) = read_quarantine(tmp_path / "out")
    assert entry["position"] == {"file": "rows.json", "row": 0}
    assert entry["raw"] == {"note": "a header row"}


def test_a_json_array_row_lacking_keys_is_quarantined_as_given_not_with_nulls(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([row(0, source="web"), {}, {"source": "web"}]))
    _, quarantined = validated(str(path))
    assert [(json.loads(q["raw"]), q["error"]) for q in quarantined] == [
        ({}, "missing 'conversations' (or OpenAI 'messages')"),
        ({"source": "web"}, "missing 'conversations' (or OpenAI 'messages')"),
    ]



def test_a_json_array_row_is_quarantined_as_given_whatever_rows_share_its_batch(tmp_path):
    """A turn keyed ``From`` beside turns keyed ``from``: missing 'from', not a null one the batch's table adds."""
    odd = {"conversations": [{"From": "human", "Value": Q}, {"From": "gpt", "Value": A}]}
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([row(0), odd]))
    for batch_rows in (1, 16_384):
        _, quarantined = validated(str(path), batch_rows)
        assert [(json.loads(q["raw"]), q["error"]) for q in quarantined] == [(odd, "turn 1: missing 'from'")], batch_rows


# -- a key given twice in one object --------------------------------------------------------------------------

TWICE = ('{"conversations": [{"from": "human", "value": "the first question?"}, {"from": "gpt", "value": "an answer"}], '
         '"conversations": [{"from": "human", "value": "%s"}, {"from": "gpt", "value": "%s"}]}' % (Q, A))
TWICE_NESTED = '{"conversations": %s, "meta": {"lang": "en", "lang": "fr"}}' % json.dumps(row(7)["conversations"])


@pytest.mark.parametrize("layout", ["jsonl", "json"])
def test_a_key_given_twice_quarantines_its_row_naming_the_key(tmp_path, layout):
    lines = [json.dumps(row(0)), TWICE, json.dumps(row(1)), TWICE_NESTED]
    path = tmp_path / f"rows.{layout}"
    path.write_text("\n".join(lines) + "\n" if layout == "jsonl" else "[" + ",\n".join(lines) + "]")
    kept, quarantined = validated(str(path))
    assert kept.num_rows == 2
    where = [json.loads(q["position"]) for q in quarantined]
    assert where == ([{"file": path.name, "line": n} for n in (2, 4)] if layout == "jsonl"
                     else [{"file": path.name, "row": n} for n in (1, 3)])
    assert [q["error"].split(" (")[0] for q in quarantined] == [
        "the key 'conversations' appears twice in one object", "the key 'lang' appears twice in one object"]


def test_a_wrapper_object_naming_its_array_twice_is_one_error_line(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text('{"data": [%s], "data": [%s]}' % (json.dumps(row(0)), json.dumps(row(1))))
    with pytest.raises(InputError, match="the key 'data' appears twice"):
        open_input(str(path))


# -- a turn's keys beyond its role and text -------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["jsonl", "parquet"])
def test_a_turns_other_keys_dropped_are_noted_in_the_rows_repairs(tmp_path, layout):
    weighted = [{**t, "weight": w} for t, w in zip(row(0)["conversations"], (0.0, 1.0))]
    unweighted = [{**t, "weight": None} for t in row(1)["conversations"]]
    rows = [{"conversations": weighted}, {"conversations": unweighted}]
    path = tmp_path / f"rows.{layout}"
    if layout == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    kept, _ = validated(str(path))
    assert kept.column("conversations").to_pylist() == [row(0)["conversations"], row(1)["conversations"]]
    repairs = kept.column("repairs").to_pylist() if "repairs" in kept.column_names else [None, None]
    assert repairs == ['{"turn_keys_dropped": ["conversations"]}', None]


# -- strings that look like times -----------------------------------------------------------------------------

TIMES = ["2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00+05:00"]


def test_strings_that_look_like_times_stay_the_strings_given_in_json_lines_as_in_a_json_array(tmp_path):
    """Arrow's JSON reader would read them as timestamps (the offset gone, the time converted to UTC)."""
    rows = [row(i, created=t, meta={"at": [t]}) for i, t in enumerate(TIMES)]
    rows.append(row(9, created=TIMES[0], meta={"at": [TIMES[0]]}, score="4.5"))  # record by record, beside them
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    for layout in ("jsonl", "json"):
        kept, _ = validated(str(tmp_path / f"rows.{layout}"))
        assert kept.column("created").to_pylist() == TIMES + TIMES[:1], layout
        assert kept.column("meta").to_pylist() == [{"at": [t]} for t in TIMES + TIMES[:1]], layout


# -- turns stored as maps (Spark's MapType) -------------------------------------------------------------------

@pytest.mark.parametrize("key,role_key,text_key,roles", [("conversations", "from", "value", ("human", "gpt")),
                                                         ("messages", "role", "content", ("user", "assistant"))])
def test_parquet_turns_stored_as_maps_are_read_as_turns(tmp_path, key, role_key, text_key, roles):
    turns = [[[(role_key, role), (text_key, t["value"])] for role, t in zip(roles, row(i)["conversations"])]
             for i in range(2)]
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({key: pa.array(turns, pa.list_(pa.map_(pa.string(), pa.string())))}), path)
    kept, quarantined = validated(str(path))
    assert not quarantined
    assert kept.column("conversations").to_pylist() == [row(0)["conversations"], row(1)["conversations"]]


def test_parquet_turn_maps_naming_a_key_twice_are_quarantined_not_guessed(tmp_path):
    turns = [[[("from", "human"), ("value", Q)], [("from", "gpt"), ("value", A)]],
             [[("from", "human"), ("from", "gpt"), ("value", Q)], [("from", "gpt"), ("value", A)]]]
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"conversations": pa.array(turns, pa.list_(pa.map_(pa.string(), pa.string())))}), path)
    kept, quarantined = validated(str(path))
    assert kept.column("conversations").to_pylist() == [[{"from": "human", "value": Q}, {"from": "gpt", "value": A}]]
    assert [(json.loads(q["position"])["row"], q["error"].split(" (")[0]) for q in quarantined] == [
        (1, "the key 'from' appears twice in one object")]


# -- a line of only a byte-order mark -------------------------------------------------------------------------

def test_a_line_of_only_a_byte_order_mark_is_blank_as_a_file_of_only_one_is_empty(tmp_path):
    """What ``cat rows.jsonl empty-with-bom.jsonl more.jsonl`` gives: the empty file's mark on a line of its own."""
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row(0)) + "\n\ufeff\n" + json.dumps(row(1)) + "\n\ufeff", encoding="utf-8")
    kept, quarantined = validated(str(path))
    assert kept.num_rows == 2 and not quarantined


# -- integers beyond a double's exact range beside fractions, a bad line between them --------------------------

def test_a_bad_line_between_big_integers_and_fractions_reads_them_as_without_it(tmp_path):
    """Parsed in two parts around the bad line, the parts' columns (int64, double) once failed to join and the
    whole input was refused; they read as the one parse without the bad line reads them."""
    lines = [json.dumps(row(0, x=9007199254740993)), json.dumps(row(1, x=9007199254740995)), json.dumps(row(2, x=1.5))]
    (tmp_path / "clean.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "bad.jsonl").write_text("\n".join(lines[:2] + ["not json"] + lines[2:]) + "\n")
    clean, _ = validated(str(tmp_path / "clean.jsonl"))
    kept, quarantined = validated(str(tmp_path / "bad.jsonl"))
    assert kept.column("x").to_pylist() == clean.column("x").to_pylist()
    assert [json.loads(q["position"])["line"] for q in quarantined] == [3]


# -- integers past 2**53 beside fractions: exact in the outputs, never a traceback -----------------------------

def _x_values(out) -> list:
    from curation.contract import SPLITS

    tables = [pq.read_table(out / f"{s}.parquet") for s in SPLITS]
    types = {t.schema.field("x").type for t in tables if "x" in t.column_names}
    assert len(types) == 1
    return sorted(map(str, (v for t in tables for v in t.column("x").to_pylist())))


BIG = 9007199254740993  # 2**53 + 1: a double holds 2**53 + 2 and 2**53, not this


def test_an_integer_past_2_53_beside_fractions_in_a_jsonl_block_is_kept_exact(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(row(i, x=BIG + 2 * i if i % 2 else 1.5 + i)) + "\n"
                                               for i in range(8)))
    curate(str(tmp_path / "in.jsonl"), tmp_path / "out")
    assert _x_values(tmp_path / "out") == sorted(str(BIG + 2 * i) if i % 2 else str(1.5 + i) for i in range(8))


def test_shards_of_an_integer_past_2_53_and_of_fractions_are_kept_exact(tmp_path):
    """One shard's column int64 (holding 2**53 + 1), another's double: once a traceback as the splits were written."""
    folder = tmp_path / "shards"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist([row(0, x=BIG), row(1, x=5)]), folder / "a.parquet")
    pq.write_table(pa.Table.from_pylist([row(2, x=1.5), row(3, x=2.25)]), folder / "b.parquet")
    curate(str(folder), tmp_path / "out")
    assert _x_values(tmp_path / "out") == sorted([str(BIG), "5", "1.5", "2.25"])


@pytest.mark.parametrize("values, kind", [([BIG, 5, -BIG], pa.int64()), ([3, 5, 1.5], pa.float64())])
def test_columns_that_need_no_text_keep_their_type(tmp_path, values, kind):
    """Integers past 2**53 alone stay integers; small integers beside fractions are floats, as before."""
    folder = tmp_path / "shards"
    folder.mkdir()
    for i, value in enumerate(values):
        pq.write_table(pa.Table.from_pylist([row(i, x=value)]), folder / f"{i}.parquet")
    curate(str(folder), tmp_path / "out")
    from curation.contract import SPLITS

    tables = [pq.read_table(tmp_path / "out" / f"{s}.parquet") for s in SPLITS]
    assert {t.schema.field("x").type for t in tables if t.num_rows} == {kind}
    assert sorted(v for t in tables for v in t.column("x").to_pylist()) == sorted(values)


# -- what a row reads as does not depend on the rows beside it ---------------------------------------------------

def test_a_row_of_map_turns_gets_its_id_from_its_own_keys_whatever_its_batch(tmp_path):
    """A map naming a key the other maps of its row group lack (``weight``) once gave every row of the group that
    key as a null, in its id and quarantined raw: ids changed with ``engine.batch_rows``."""
    turns = []
    for i in range(12):
        human, gpt = (t["value"] for t in row(i)["conversations"])
        first = [("from", "human"), ("value", human)] + ([("weight", "1")] if i == 3 else [])
        turns.append([first, [("from", "gpt"), ("value", gpt if i % 5 else None)]])
    path = tmp_path / "maps.parquet"
    pq.write_table(pa.table({"conversations": pa.array(turns, pa.list_(pa.map_(pa.string(), pa.string())))}), path,
                   row_group_size=6)
    seen = []
    for batch_rows in (16_384, 4, 1):
        kept, quarantined = validated(str(path), batch_rows)
        seen.append((sorted(kept.column("id").to_pylist()), sorted((q["id"], q["raw"]) for q in quarantined)))
    assert seen[0] == seen[1] == seen[2]
    assert all("weight" not in raw for _, raw in seen[0][1])


def test_a_whole_number_reads_as_the_same_json_text_whatever_its_batch(tmp_path):
    """Beside fractions and an integer past 2**53 a column is JSON text: ``3`` once read as ``"3.0"`` where Arrow typed
    its block as doubles and ``"3"`` where a record was read alone."""
    from curation.config import load_config
    from curation.contract import SPLITS
    from curation.pipeline import run_curation

    path = tmp_path / "in.jsonl"
    values = [3, 1.5, BIG, 4, {"v": [5, 2.5]}, 7.0]
    path.write_text("".join(json.dumps(row(i, x=v)) + "\n" for i, v in enumerate(values)))
    texts = set()
    for batch_rows in (16_384, 2, 1):
        out = tmp_path / f"out{batch_rows}"
        run_curation(str(path), out, load_config(None, {"report": False, "checkpoint": False,
                                                         "engine": {"batch_rows": batch_rows}}))
        tables = [pq.read_table(out / f"{s}.parquet") for s in SPLITS]
        texts.add(tuple(sorted(v for t in tables if "x" in t.column_names for v in t.column("x").to_pylist())))
    assert texts == {tuple(sorted(["3", "1.5", str(BIG), "4", '{"v": [5, 2.5]}', "7"]))}
