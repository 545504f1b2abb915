"""`tome curate --engine ray` gives what the local engine gives on these layouts of input: xz files of several
streams, with stream padding, cut short or with a stray tail; CRLF files (their ids and raw text those of their LF
twin) cut into several read units, compressed, or mixed with LF lines; values nested too deeply beside shallow
ones, at a read unit's edge, read alone or in one parse with other lines; a line of megabytes across the units'
edges; shards of one name in two folders (positions name each by its path below the folder the input's files
share); inputs of one kind of files (a folder, a glob), compressed or not; rows with two system turns, or one out
of place; and the card's ``num_bytes``.

The session's one local Ray cluster (``ray_cluster``, tests/conftest.py). Every case runs on
both engines, the Ray one cut small (a few lines or records per read unit, five rows per batch), so that a CRLF
file, a deep line and a giant line each meet the edge of a read unit; each test compares one case's two folders by
content (splits, removed rows, their schemas, the quarantine, the manifest) and their cards (all but the data
files' paths, which follow each engine's layout).
"""

from __future__ import annotations

import gzip
import json
import lzma
import re
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curation.config import load_config
from curation.contract import read_manifest, read_quarantine
from curation.readers import open_input

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions  # noqa: E402
from tests.curation.engines.test_ray_parity_inputs import (  # noqa: E402,F401  (cluster: the session's one cluster)
    assert_same_content, assert_same_table, cluster, odd_types, parquet_parts, run_on_both_engines)

CUT = RayOptions(unit_bytes=1500, unit_records=7)  # about five lines, or seven records, per read unit
Q = "How do leaves turn sunlight into food for the plant?"
A = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf of a plant."
SYSTEM = "You are a patient botany teacher."


def row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": f"{Q} ({i}) variant {i * 7919}"},
                              {"from": "gpt", "value": f"{A} [{i}] and answer number {i * 31} of the list."}], **extra}


def nested(depth: int) -> str:
    """A placeholder for a value nested ``depth`` arrays deep (:func:`line` writes it; ``json`` recurses too deep)."""
    return f"@nested:{depth}@"


def line(value) -> bytes:
    """A record as a JSON line (bytes as they are), each :func:`nested` placeholder as its arrays."""
    text = value if isinstance(value, bytes) else json.dumps(value).encode()
    return re.sub(rb'"@nested:(\d+)@"', lambda m: b"[" * int(m[1]) + b"]" * int(m[1]), text)


def crlf_lines(first: int, n: int = 60) -> list[bytes]:
    """JSON Lines that meet every path a CRLF line end may take: parsed with their neighbours, read alone (a space
    before the object), not JSON, not UTF-8, naming a key twice, quarantined by validation (raw text from the line),
    exact duplicates (removed, duplicate_of the first), blank, two system turns (removed by the filters)."""
    out: list[bytes] = []
    for i in range(first, first + n):
        k = (i - first) % 12
        if k == 2:
            out.append(b" " + line(row(i, meta={"n": i})))
        elif k == 3:
            out.append(line(row(i))[:-9])
        elif k == 4:
            out.append(line(row(i, score="high")))
        elif k == 5:
            out.append(out[-4])  # an exact duplicate of a line before it
        elif k == 6:
            out.append(b"   ")
            out.append(line(row(i)))
        elif k == 7:
            out.append(b'{"conversations": [], "conversations": ' + json.dumps(row(i)["conversations"]).encode() + b"}")
        elif k == 8:
            out.append(b'{"conversations": "\xff\xfe not UTF-8"}')
        elif k == 9:
            system = {"from": "system", "value": SYSTEM}
            out.append(line({"conversations": [system, system, *row(i)["conversations"]]}))
        elif k == 10:
            out.append(line(row(i, score=4.5, source="web")))
        elif k == 11:
            out.append(b"\t" + line(row(i, score="3.5")) + b"  ")
        else:
            out.append(line(row(i, meta={"n": i})))
    return out


def deep_lines(first: int, n: int = 48) -> list[bytes]:
    """Values nested too deeply beside shallow ones (in one parse with them, or read alone), at every place a read
    unit's edge may fall: a deep ``meta`` (quarantined, the column named) 40, 300 and 1,200 levels deep (past what
    Python parses), one that shares its column's type with shallow values, a deep ``source`` (no string), a turn's
    deep other key (dropped, noted), chat nested past what Arrow parses safely (not readable JSON)."""
    deep = {0: lambda i: row(i, meta=nested(40)),
            5: lambda i: row(i, meta={"n": i, "x": nested(40)}),
            9: lambda i: b" " + line(row(i, meta=nested(300))),
            14: lambda i: row(i, meta=nested(300)),
            18: lambda i: row(i, source=nested(40)),
            23: lambda i: {"conversations": [row(i)["conversations"][0], {**row(i)["conversations"][1], "x": nested(40)}]},
            27: lambda i: row(i, meta=nested(1200)),
            33: lambda i: {"conversations": nested(5000)},
            30: lambda i: b" " + line(row(i, meta=nested(1200))),
            38: lambda i: row(i, meta={"n": i, "x": nested(300)}),
            44: lambda i: row(i, meta=nested(33)),
            # a line longer than a read unit ends its unit: the next, too deep for Python, is a unit alone
            46: lambda i: row(i, meta={"n": i, "pad": "p" * 1600}),
            47: lambda i: row(i, meta=nested(1200))}
    out = []
    for i in range(first, first + n):
        make = deep.get(i - first)
        out.append(line(make(i)) if make is not None else line(row(i, meta={"n": i})))
    return out


def giant_lines(first: int) -> list[bytes]:
    """A line of about 3 MB (longer than a unit's read on past its cut, which goes 1 MB at a time) among short
    ones, then a second, CRLF-ended, giant line that is not JSON."""
    out = [line(row(i, meta={"n": i})) for i in range(first, first + 20)]
    out[7] = line(row(first + 7, meta={"long": "x" * (3 << 20)}))
    out[13] = b'{"conversations": "' + b"y" * (2 << 20)
    return out


def xz_streams(chunks: list[bytes], between: bytes = b"", after: bytes = b"") -> bytes:
    return between.join(lzma.compress(c) for c in chunks) + after


def joined(lines: list[bytes], end: bytes = b"\n") -> bytes:
    return b"".join(x + end for x in lines)


def write_inputs(d: Path) -> dict[str, Path]:
    """The inputs, by name (paths of files, folders, globs)."""
    paths: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    crlf = crlf_lines(0)
    paths["crlf"] = put("crlf.jsonl", joined(crlf, b"\r\n"))
    paths["crlf_twin"] = put("crlf_twin/crlf.jsonl", joined(crlf))  # the same lines with LF ends
    paths["crlf_gz"] = put("crlf.jsonl.gz", gzip.compress(joined(crlf, b"\r\n"), mtime=0))
    mixed = b"".join(x + (b"\r\n" if i % 3 else b"\n") for i, x in enumerate(crlf_lines(100)))
    paths["crlf_mixed"] = put("crlf_mixed.jsonl", mixed + line(row(999)) + b"\r")  # the last line: no LF after its CR
    halves = [joined(crlf_lines(200, 30), b"\r\n"), joined(crlf_lines(230, 30), b"\r\n")]
    paths["xz_streams"] = put("xz_streams.jsonl.xz", xz_streams(halves, b"\0" * 8, b"\0" * 4))
    paths["xz_long_padding"] = put("xz_long_padding.jsonl.xz", xz_streams(halves, b"\0" * 70_000, b"\0" * 100_000))
    paths["xz_stray_tail"] = put("xz_stray_tail.jsonl.xz", xz_streams(halves, b"garbage!"))
    whole = lzma.compress(halves[0] + halves[1])
    paths["xz_cut_short"] = put("xz_cut_short.jsonl.xz", whole[: len(whole) * 2 // 3])
    paths["xz_json"] = put("rows.json.xz", lzma.compress(json.dumps([row(i) for i in range(300, 330)]).encode())
                           + b"\0" * 4)
    paths["deep"] = put("deep.jsonl", joined(deep_lines(400)))
    paths["deep_crlf"] = put("deep_crlf.jsonl", joined(deep_lines(500), b"\r\n"))
    deep_rows = [x for x in deep_lines(600) if not x.startswith(b" ") and b"[" * 1000 not in x]
    paths["deep_json"] = put("deep.json", b"[" + b",\n".join(deep_rows) + b"]")
    paths["giant"] = put("giant.jsonl", joined(giant_lines(700)))
    paths["giant_crlf"] = put("giant_crlf.jsonl", joined(giant_lines(800), b"\r\n"))
    # shards of one name in two folders, of every kind: positions name them by their path below the shared folder
    bad = {"conversations": "not turns", "source": "s"}
    odd_role = {"conversations": [{"from": "robot", "value": "beep?"}, {"from": "gpt", "value": "boop."}]}
    put("shards/x/part-0.jsonl", joined([line(row(900 + i)) for i in range(9)] + [line(bad)], b"\r\n"))
    put("shards/y/z/part-0.jsonl", joined([line(bad)] + [line(row(920 + i)) for i in range(9)]))
    put("shards/y/z/part-0.jsonl.xz", xz_streams([joined([line(row(940 + i)) for i in range(5)]),
                                                  joined([line(bad)] + [line(row(950 + i)) for i in range(4)])],
                                                 b"\0" * 4))
    for sub, first in (("w", 960), ("v/w", 980)):
        target = d / "shards" / sub / "part-0.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist([row(first + i) for i in range(11)] + [odd_role]), target, row_group_size=4)
        target = d / "parquet_shards" / sub / "part-0.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist([odd_role] + [row(first + i) for i in range(11)]), target, row_group_size=4)
    paths["shards"] = d / "shards"
    paths["parquet_shards"] = d / "parquet_shards"
    for sub, first in (("a", 1000), ("b", 1020)):
        put(f"gz/{sub}/part-0.jsonl.gz", gzip.compress(joined([line(row(first + i)) for i in range(12)] + [line(bad)],
                                                             b"\r\n"), mtime=0))
    paths["gz_glob"] = d / "gz" / "*" / "part-0.jsonl.gz"
    # chat in OpenAI's messages: one system turn first is kept; two, or one after the first turn, are not
    messages = []
    for i in range(1100, 1136):
        q, a = (t["value"] for t in row(i)["conversations"])
        turns = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        system = {"role": "system", "content": SYSTEM}
        messages.append({"messages": [[system, *turns], [system, system, *turns], [turns[0], system, turns[1]],
                                      turns][i % 4]})
    paths["system_turns"] = put("system_turns.jsonl", joined([line(m) for m in messages], b"\r\n"))
    # column types JSON never gives (maps, dictionaries, decimals, ...): the card's num_bytes over Ray's shards
    paths["odd_types"] = d / "odd_types.parquet"
    pq.write_table(odd_types([row(i) for i in range(1200, 1240)]), paths["odd_types"], row_group_size=6)
    return paths


def config(stages=None, inputs=None):
    base = {"report": False, "checkpoint": False, "stages": stages or {}, "engine": {"batch_rows": 5}}
    if inputs is not None:
        base["inputs"] = inputs
    return lambda: load_config(None, base)


CASES = ("crlf", "crlf_twin", "crlf_gz", "crlf_mixed", "xz_streams", "xz_long_padding", "xz_stray_tail", "xz_cut_short",
         "xz_json", "deep", "deep_crlf", "deep_json", "giant", "giant_crlf", "shards", "parquet_shards", "gz_glob",
         "system_turns", "odd_types")  # each the input of that name (write_inputs)
MIX = ["crlf", "xz_streams", "deep", "shards", "system_turns"]


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> Path:
    """Every case on both engines: ``<case>/local`` and ``<case>/ray``."""
    d, root = tmp_path_factory.mktemp("layout_inputs"), tmp_path_factory.mktemp("layout_runs")
    paths = write_inputs(d)
    for name in CASES:
        run_on_both_engines(str(paths[name]), config(), "both", root / name, CUT)
    mix = [{"path": str(paths[k]), "name": k} for k in MIX]
    run_on_both_engines(None, config(inputs=mix), "both", root / "mix", CUT)
    return root


def card(root: Path) -> dict:
    """The card's YAML, but for the data files' paths (one file a split on the local engine, shards on Ray)."""
    text = (root / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---\n")[1])
    for entry in header.get("configs", []):
        for files in entry.get("data_files", []):
            files.pop("path", None)
    return header


@pytest.mark.parametrize("case", [*CASES, "mix"])
def test_ray_output_is_the_local_output(runs, case):
    assert_same_content(runs / case / "local", runs / case / "ray")
    assert card(runs / case / "local") == card(runs / case / "ray")


def test_the_cases_hold_what_they_are_for(runs, tmp_path_factory):
    """Each class reaches what it is there for, over many Ray read units (a case that read nothing would pass too)."""
    def manifest(case):
        return read_manifest(runs / case / "ray")

    def quarantined(case):
        return [(q["position"], q["error"]) for q in read_quarantine(runs / case / "ray")]

    inputs = write_inputs(tmp_path_factory.mktemp("layout_units"))
    for case in ("crlf", "crlf_mixed", "deep", "deep_crlf", "giant", "giant_crlf", "system_turns"):
        assert len(open_input(str(inputs[case])).units(unit_bytes=CUT.unit_bytes)) > 4, case
    # CRLF: the ids, rows and raw text of the LF twin (the positions name a file of the same name)
    for name in ("train", "validation", "test", "removed"):
        assert_same_table(name, parquet_parts(runs / "crlf_twin" / "local", name), parquet_parts(runs / "crlf" / "ray", name))
    assert read_quarantine(runs / "crlf" / "ray") == read_quarantine(runs / "crlf_twin" / "local")
    assert not any("\r" in q["raw"] for case in ("crlf", "crlf_gz", "crlf_mixed") for q in read_quarantine(runs / case / "ray"))
    assert manifest("crlf")["removed_by_reason"] == {"exact_duplicate": 5, "filter:roles_not_alternating": 5}
    assert {e.split(" (")[0] for _, e in quarantined("crlf")} >= {"'score' is str, expected a number",
                                                  "the key 'conversations' appears twice in one object"}
    # xz: every stream read, padding skipped; a stray tail or a cut kept as one quarantined record
    for case in ("xz_streams", "xz_long_padding"):
        assert manifest(case)["accounting"]["input_rows"] == 60, case
        for name in ("train", "validation", "test", "removed"):
            assert_same_table(name, parquet_parts(runs / "xz_streams" / "local", name), parquet_parts(runs / case / "ray", name))
    assert quarantined("xz_stray_tail")[-1][1].startswith("the file breaks off here")
    assert "neither padding nor another xz stream" in quarantined("xz_stray_tail")[-1][1]
    assert quarantined("xz_cut_short")[-1][1].startswith("the file breaks off here")
    assert manifest("xz_json")["accounting"]["in_splits"] == 30
    # deep values: each row judged on its own, wherever its read unit was cut; past Python's parser, the column named
    too_deep = "column 'meta' nests more than 32 levels deep (arrays and objects inside each other)"
    for case, file in (("deep", "deep.jsonl"), ("deep_crlf", "deep_crlf.jsonl")):
        errors = dict((q["position"]["line"], q["error"]) for q in read_quarantine(runs / case / "ray"))
        assert errors == {1: too_deep, 6: too_deep, 10: too_deep, 15: too_deep, 19: "'source' is list, expected a string",
                          28: too_deep, 31: too_deep, 34: "not readable JSON: nested too deeply", 39: too_deep,
                          45: too_deep, 48: too_deep}, case
        repairs = pq.read_table(parquet_parts(runs / case / "ray", "train") + parquet_parts(runs / case / "ray", "validation")
                                + parquet_parts(runs / case / "ray", "test")).column("repairs").to_pylist()
        assert repairs.count('{"turn_keys_dropped": ["conversations"]}') == 1, case
    assert manifest("deep_json")["accounting"]["quarantined"] == 6
    # a giant line across the units' edges: read whole (kept), or quarantined whole
    for case in ("giant", "giant_crlf"):
        assert manifest(case)["accounting"] == {**manifest(case)["accounting"], "in_splits": 19, "quarantined": 1}
    # positions: a file's path below the folder the input's files share
    assert sorted(p["file"] for p, _ in quarantined("shards")) == [
        "v/w/part-0.parquet", "w/part-0.parquet", "x/part-0.jsonl", "y/z/part-0.jsonl", "y/z/part-0.jsonl.xz"]
    assert sorted(p["file"] for p, _ in quarantined("parquet_shards")) == ["v/w/part-0.parquet", "w/part-0.parquet"]
    assert sorted(p["file"] for p, _ in quarantined("gz_glob")) == ["a/part-0.jsonl.gz", "b/part-0.jsonl.gz"]
    assert [manifest(c)["input"]["kind"] for c in ("shards", "parquet_shards", "gz_glob")] == ["files", "parquet", "jsonl"]
    # one system turn at most, first
    assert manifest("system_turns")["removed_by_reason"] == {"filter:roles_not_alternating": 18}
    mix = manifest("mix")
    assert mix["accounting"]["input_rows"] == sum(manifest(c)["accounting"]["input_rows"] for c in MIX)
    for case in ("crlf", "deep", "giant", "shards", "odd_types", "mix"):
        assert len(list((runs / case / "ray" / "train").glob("part-*.parquet"))) > 3, case


def test_deep_values_among_the_first_records_and_integers_of_any_size_on_both_engines(cluster, tmp_path):
    """Each of these ended the Ray run where the local engine wrote its output: a value nested 600 objects deep
    among the first records (the format's look at the file travelled to the workers with the source) or among a
    .json document's rows ("Could not pickle object as excessively deep recursion required"); a score or
    source of 10**400 read record by record (a .json document's rows: "int too large to convert to float"); a
    score of 5,001 digits in a read unit that begins mid-file ("Exceeds the limit (4300 digits)"), which was
    also kept or quarantined by the rows read with it. Both engines now give the same folders."""
    deep = {"meta": "@deep@"}

    def text(value) -> str:
        return json.dumps(value).replace('"@deep@"', '{"a": ' * 600 + "1" + "}" * 600)

    digits = "1" + "0" * 5000
    lines = [text(row(i, **(deep if i == 2 else {}), x=i if i % 2 else str(i))) for i in range(40)]
    for i, x in ((9, 9), (21, "t"), (30, 30)):
        lines[i] = json.dumps(row(i, x=x)).replace("}]", '}], "score": ' + digits, 1)
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    document = [row(100, score=10**400), row(101, **deep), row(102, source=10**400), row(103, score=-10**400)]
    (tmp_path / "rows.json").write_text("[" + ",\n".join(text(r) for r in document) + "]", encoding="utf-8")
    inputs = [{"path": str(tmp_path / "in.jsonl"), "name": "lines"}, {"path": str(tmp_path / "rows.json"), "name": "doc"}]
    for case, spec, cfg in (("lines", str(tmp_path / "in.jsonl"), config()), ("doc", str(tmp_path / "rows.json"), config()),
                            ("mix", None, config(inputs=inputs))):
        run_on_both_engines(spec, cfg, "both", tmp_path / case, CUT)
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(4 * limit)  # (for the comparison alone: it walks the deep raw rows recursively)
        try:
            assert_same_content(tmp_path / case / "local", tmp_path / case / "ray")
        finally:
            sys.setrecursionlimit(limit)
    too_deep = "column 'meta' nests more than 32 levels deep (arrays and objects inside each other)"
    assert [(q["position"], q["error"]) for q in read_quarantine(tmp_path / "lines" / "ray")] == [
        ({"file": "in.jsonl", "line": 3}, too_deep)]
    assert [(q["position"], q["error"]) for q in read_quarantine(tmp_path / "doc" / "ray")] == [
        ({"file": "rows.json", "row": 1}, too_deep)]
    kept = {r["conversations"][0]["value"]: r for name in ("train", "validation", "test")
            for part in parquet_parts(tmp_path / "mix" / "ray", name) for r in pq.read_table(part).to_pylist()}
    scores = [(r["score"], r["repairs"]) for r in kept.values() if r["repairs"] and "not_finite" in r["repairs"]]
    assert scores == [(None, '{"not_finite": ["score"]}')] * 5  # three of 5,001 digits, two of 10**400
    assert [r["source"] for r in kept.values() if r["source"]] == [str(10**400)]
