"""`tome curate --engine ray` gives what the local engine gives on the input classes the shared readers and
validation learned last: a ``.json`` array whose rows hold different keys (rows quarantined as given), a key
named twice in one object, strings that look like times, Parquet turns stored as Spark's maps, turns with keys
beyond their role and text, a line of only a byte-order mark, integers past 2**53 beside fractions, one input
with an ``input`` column of its own and ``max_rows``, one ``-i PATH@W`` with ``total_rows``, a folder of shards
holding an earlier curated output, and ``--against OUT/messages/train.parquet``.

The session's one local Ray cluster (``ray_cluster``, tests/conftest.py). Every case runs on
both engines, the Ray one cut small (a few lines or records per read unit, five rows per batch), so that each
class lands in many blocks and batches; each test compares one case's two folders by content (splits, removed
rows, their schemas, the quarantine, the manifest).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import read_manifest, read_quarantine
from curation.pipeline import run_curation

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions, run_curation_ray  # noqa: E402
from tests.curation.engines.test_ray_parity_inputs import (  # noqa: E402,F401  (cluster: the session's one cluster)
    assert_same_content, cluster, parquet_parts, run_on_both_engines)

CUT = RayOptions(unit_bytes=3000, unit_records=7)  # about a dozen JSON lines, or seven records, per read unit
Q = "How do leaves turn sunlight into food for the plant?"
A = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf of a plant."
BIG = 9007199254740993  # 2**53 + 1
TIMES = ["2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00+05:00", "2024-01-01T10:00:00Z", "2024-02-30"]
TWICE = ('{"conversations": [{"from": "human", "value": "the first question?"}, {"from": "gpt", "value": "an '
         'answer"}], "conversations": [{"from": "human", "value": "%s"}, {"from": "gpt", "value": "%s"}]}' % (Q, A))


def row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"{Q} ({i}) variant {i * 7919}"},
                              {"from": "gpt", "value": f"{A} [{i}] and answer number {i * 31} of the list."}], **extra}


def config(stages=None, inputs=None):
    base = {"report": False, "checkpoint": False, "stages": stages or {}, "engine": {"batch_rows": 5}}
    if inputs is not None:
        base["inputs"] = inputs
    return lambda: load_config(None, base)


def jsonl(path: Path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def turn_maps(turns: list, path: Path, key: str = "conversations") -> str:
    pq.write_table(pa.table({key: pa.array(turns, pa.list_(pa.map_(pa.string(), pa.string()))),
                             "n": list(range(len(turns)))}), path, row_group_size=6)
    return str(path)


def cases(d: Path, runs: Path) -> dict[str, tuple]:
    """name -> (input spec, config, output format); later cases read the output of ``own_input_max_rows``."""
    keyed = [{"note": "a header row"}]  # rows of one .json array holding different keys
    capitals = {"conversations": [{"From": "human", "Value": Q}, {"From": "gpt", "Value": A}]}
    for i in range(60):
        keyed.append([row(i), row(i, meta=f"only here {i}"), row(i, score=4.5), row(i, score="3.5"), {},
                      {"source": "web"}, capitals, row(i, deep={"a": i, "b": [i, None]}), row(i, deep={"c": str(i)}),
                      "a string", None][i % 11])
    (d / "keys.json").write_text(json.dumps(keyed))
    twice = [TWICE if i % 11 == 3 else json.dumps(row(i, meta={"lang": "en"})) if i % 11 != 7 else
             '{"conversations": %s, "meta": {"lang": "en", "lang": "fr"}}' % json.dumps(row(i)["conversations"])
             for i in range(60)]
    (d / "twice.json").write_text("[" + ",\n".join(twice) + "]")
    timed = [row(i, created=TIMES[i // 10 % 5] if i % 17 != 2 else i, meta={"at": [TIMES[i // 10 % 5]]},
                 **({"score": "4.5"} if i % 13 == 5 else {})) for i in range(60)]
    (d / "times.json").write_text(json.dumps(timed))
    spark = {}
    for key, role, text, roles in (("conversations", "from", "value", ("human", "gpt")),
                                   ("messages", "role", "content", ("user", "assistant"))):
        turns = [[[(role, r), (text, t["value"])] for r, t in zip(roles, row(i)["conversations"])] for i in range(40)]
        for i in range(4, 40, 9):  # a map naming its key twice
            turns[i][0] = [(role, roles[0]), (role, roles[1]), (text, "which role?")]
        spark[key] = turn_maps(turns, d / f"maps_{key}.parquet", key)
    weighted = []
    for i in range(40):
        turns = row(i)["conversations"]
        turns = ([{**t, "weight": w} for t, w in zip(turns, (0.0, 1.0))] if i % 3 == 0 else
                 [{**t, "weight": None} for t in turns] if i % 3 == 1 else turns)
        weighted.append({"conversations": [{**t, "lang": "en"} for t in turns] if i % 7 == 2 else turns})
    pq.write_table(pa.Table.from_pylist(weighted), d / "turn_keys.parquet", row_group_size=6)
    bom = [json.dumps(row(i)) + ("\n\ufeff" if i % 3 == 1 else "\n\ufeff\r" if i % 7 == 0 else "") for i in range(60)]
    big = [row(i, x=BIG + 2 * i if i % 5 == 1 else 1.5 + i if i % 5 == 2 else i, y={"v": [i]}) for i in range(60)]
    (d / "big.json").write_text(json.dumps(big))
    shards = d / "big_shards"
    shards.mkdir()
    for name, values in (("a", [BIG + i if i % 2 else i for i in range(12)]), ("b", [1.5 + i for i in range(12)]),
                         ("c", list(range(12)))):
        pq.write_table(pa.Table.from_pylist([row(100 * ord(name) + i, x=v) for i, v in enumerate(values)]),
                       shards / f"{name}.parquet", row_group_size=4)
    big_bad = [row(i, x=BIG + i) for i in range(20)] + ["not json"] + [row(50 + i, x=0.5 + i) for i in range(20)]
    own = jsonl(d / "own.jsonl", [row(i, input=f"meta{i % 3}") for i in range(50)])
    plain = jsonl(d / "plain.jsonl", [row(i) for i in range(50)])
    earlier = runs / "own_input_max_rows"
    return {
        "json_rows_with_other_keys": (str(d / "keys.json"), config(), "finetome"),
        "key_twice_jsonl": (jsonl(d / "twice.jsonl", twice), config(), "finetome"),
        "key_twice_json": (str(d / "twice.json"), config(), "finetome"),
        "times_jsonl": (jsonl(d / "times.jsonl", timed), config(), "finetome"),
        "times_json": (str(d / "times.json"), config(), "finetome"),
        "spark_map_turns": (spark["conversations"], config(), "finetome"),
        "spark_map_messages": (spark["messages"], config(), "finetome"),
        "turn_keys_jsonl": (jsonl(d / "turn_keys.jsonl", weighted), config(), "finetome"),
        "turn_keys_parquet": (str(d / "turn_keys.parquet"), config(), "finetome"),
        "bom_only_lines": (jsonl(d / "bom.jsonl", ["\ufeff"] + bom + ["\ufeff"]), config(), "finetome"),
        "big_ints_shards": (str(shards), config(), "finetome"),
        "big_ints_jsonl_beside_a_bad_line": (jsonl(d / "big_bad.jsonl", big_bad), config(), "finetome"),
        "own_input_max_rows": (None, config(inputs=[{"path": own, "max_rows": 10}]), "both"),
        "weighted_input_total_rows": ([f"{plain}@1"], config({"mix": {"total_rows": 12}}), "finetome"),
        "own_input_weighted_total_rows": ([f"{own}@2"], config({"mix": {"total_rows": 9}}), "both"),
        **{f"curated_among_shards_{engine}": (str(d / f"shards_{engine}"), config(), "finetome") for engine in ENGINES},
        **{f"against_messages_train_{engine}": (own, config({"against": {"path": str(earlier / engine / "messages" /
                                                                                     "train.parquet")}}), "finetome")
           for engine in ENGINES},
        # a whole number beside fractions once read as JSON text '3' or '3.0' as its batch typed it; a row of Spark
        # map turns once took its id (and quarantined raw) with the keys other maps of its batch hold, as nulls
        "big_ints_jsonl": (jsonl(d / "big.jsonl", big), config(), "finetome"),
        "big_ints_json": (str(d / "big.json"), config(), "finetome"),
        "spark_map_turns_with_other_keys": (turn_maps(odd_turn_maps(), d / "maps_odd.parquet"), config(), "finetome"),
    }


def odd_turn_maps() -> list:
    """Turns as maps where one map of a row group holds a key the others lack, beside null and empty turns."""
    out = []
    for i in range(30):
        human, gpt = (t["value"] for t in row(i)["conversations"])
        turns = [[("from", "human"), ("value", human)], [("from", "gpt"), ("value", gpt)]]
        out.append([None, [], [turns[0], [("from", "gpt"), ("value", None)]],
                    [turns[0] + [("weight", "1")], turns[1]], [turns[0], None], turns, turns][i % 7])
    return out


ENGINES = ("local", "ray")


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> Path:
    """Every case on both engines: ``<case>/local`` and ``<case>/ray`` (or ``<case>/<engine>.error``)."""
    d, root = tmp_path_factory.mktemp("class_inputs"), tmp_path_factory.mktemp("class_runs")
    for name, (spec, make_config, output_format) in cases(d, root).items():
        if name.startswith("curated_among_shards_"):  # new rows beside an earlier output (its engine's layout)
            Path(spec).mkdir()
            shutil.copy(d / "plain.jsonl", Path(spec) / "rows.jsonl")
            shutil.copytree(root / "own_input_max_rows" / name.rsplit("_", 1)[1], Path(spec) / "earlier")
        against = make_config().stage("against").path
        run_on_both_engines(spec, make_config, output_format, root / name, CUT,
                            Path(against).parents[1] / ".cache" if against else None)
    return root


CASES = ["json_rows_with_other_keys", "key_twice_jsonl", "key_twice_json", "times_jsonl", "times_json",
         "spark_map_turns", "spark_map_messages", "spark_map_turns_with_other_keys", "turn_keys_jsonl",
         "turn_keys_parquet", "bom_only_lines", "big_ints_shards", "big_ints_jsonl", "big_ints_json",
         "big_ints_jsonl_beside_a_bad_line", "own_input_max_rows", "weighted_input_total_rows",
         "own_input_weighted_total_rows", "curated_among_shards_local", "curated_among_shards_ray",
         "against_messages_train_local", "against_messages_train_ray"]


@pytest.mark.parametrize("case", CASES)
def test_ray_output_is_the_local_output(runs, case):
    assert_same_content(runs / case / "local", runs / case / "ray")


def test_the_cases_hold_what_they_are_for(runs):
    """Each class reaches what it is there for, over many Ray blocks (a case that read nothing would pass too)."""
    def manifest(case):
        return read_manifest(runs / case / "ray")

    def quarantined(case):
        return [(q["position"], q["error"].split(" (")[0]) for q in read_quarantine(runs / case / "ray")]

    keyed = read_quarantine(runs / "json_rows_with_other_keys" / "ray")
    assert keyed[0]["raw"] == {"note": "a header row"} and {"source": "web"} in [q["raw"] for q in keyed]
    assert ({"file": "keys.json", "row": 7}, "turn 1: missing 'from'") in quarantined("json_rows_with_other_keys")
    assert "meta" in manifest("json_rows_with_other_keys")["extra_columns"]
    for case, where in (("key_twice_jsonl", {"file": "twice.jsonl", "line": 4}),
                        ("key_twice_json", {"file": "twice.json", "row": 3})):
        assert (where, "the key 'conversations' appears twice in one object") in quarantined(case), case
        assert manifest(case)["accounting"]["quarantined"] == 11, case
    for case in ("times_jsonl", "times_json"):
        meta = pq.read_table(parquet_parts(runs / case / "ray", "train")).column("meta").to_pylist()
        assert {m["at"][0] for m in meta} == set(TIMES), case
    for case in ("spark_map_turns", "spark_map_messages"):
        assert manifest(case)["accounting"]["in_splits"] == 36, case
    repairs = pq.read_table(parquet_parts(runs / "turn_keys_parquet" / "ray", "train")).column("repairs").to_pylist()
    assert '{"turn_keys_dropped": ["conversations"]}' in repairs
    assert manifest("bom_only_lines")["accounting"] == {**manifest("bom_only_lines")["accounting"], "input_rows": 60,
                                                        "in_splits": 60, "quarantined": 0}
    x = pq.read_table(parquet_parts(runs / "big_ints_shards" / "ray", "train")).column("x").to_pylist()
    assert str(BIG + 1) in x and "1.5" in x
    assert manifest("own_input_max_rows")["accounting"]["in_splits"] == 10
    assert manifest("weighted_input_total_rows")["accounting"]["in_splits"] == 12
    earlier = manifest("own_input_max_rows")["accounting"]["in_splits"]
    for engine in ENGINES:
        assert manifest(f"curated_among_shards_{engine}")["accounting"]["input_rows"] == 50 + earlier
        assert manifest(f"against_messages_train_{engine}")["removed_by_reason"].get("duplicate_of_existing")
    for case in ("json_rows_with_other_keys", "key_twice_jsonl", "spark_map_turns", "bom_only_lines", "big_ints_jsonl"):
        assert len(list((runs / case / "ray" / "train").glob("part-*.parquet"))) > 3, case


def test_a_json_object_naming_its_array_twice_is_the_same_one_line(cluster, tmp_path):
    path = tmp_path / "rows.json"
    path.write_text('{"data": [%s], "data": [%s]}' % (json.dumps(row(0)), json.dumps(row(1))))
    errors = []
    for engine in ENGINES:
        with pytest.raises(Exception) as raised:
            (run_curation if engine == "local" else run_curation_ray)(str(path), tmp_path / engine, config()(),
                                                                       *(() if engine == "local" else (CUT,)))
        errors.append((type(raised.value).__name__, str(raised.value)))
    assert errors[0] == errors[1] == ("InputError", f"{path}: the key 'data' appears twice in one object (which of "
                                      "its values is meant would be a guess)")
