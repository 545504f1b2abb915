"""`tome curate --engine ray` gives what the local engine gives, on every kind of input "Any chat data in" names.

One local Ray cluster (2 CPUs) for the module, started in a folder of its own: its workers work in another folder
than the driver, as those of a cluster started with `ray start` do. One fixture runs every case on both engines
(small read units and batches spread the rows over many blocks); each test compares one case's two folders by
content: every split and the removed rows in order, with their schemas (names, types, field metadata), the
quarantine, and the manifest but for what depends on the clock, the machine or how the work was cut.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import SPLITS, VOLATILE_MANIFEST_KEYS, read_manifest, read_quarantine
from curation.pipeline import run_curation

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions, run_curation_ray  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
ROLE = {"human": "user", "gpt": "assistant", "system": "system"}
SMALL = RayOptions(unit_bytes=40_000, unit_records=97)  # JSONL cut every 40 kB, loaded inputs every 97 records

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray cluster whose workers start in a folder that is not the driver's; they import this checkout."""
    if ray.is_initialized():
        ray.shutdown()
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("ray_started_here"))
    try:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        ray.init(num_cpus=2, object_store_memory=512 * 1024**2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, runtime_env={"env_vars": {"PYTHONPATH": path}})
    finally:
        os.chdir(here)
    yield ray
    ray.shutdown()


# --- inputs -----------------------------------------------------------------------------------------------------


def _line(q: str, a: str = "A plain answer that is long enough to pass the filters.", **extra) -> bytes:
    turns = [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
    return json.dumps({"conversations": turns, **extra}, allow_nan=True).encode()


def hostile_jsonl(rows: list[dict]) -> bytes:
    """Real rows with what scraped chat data holds, spread over the file so that it lands in many read units:
    lone UTF-16 surrogate escapes, NUL / bell escapes and a raw control character, a BOM at the start and in
    the middle, CRLF line ends, NaN / Infinity / text scores, a source of the wrong type, extra columns of odd
    names (empty, non-ASCII, starting with `_`) and of types that change from row to row and block to block,
    exact duplicates, lines that are not UTF-8 or not JSON, blank lines, a multi-megabyte turn, no final newline."""
    out = [b"\xef\xbb\xbf" + json.dumps(rows[0]).encode() + b"\n"]
    for i, row in enumerate(rows[1:], 1):
        row = dict(row)
        k = i % 23
        if k in (1, 2):  # escapes in the question: a lone surrogate; NUL and bell (with a CRLF line end)
            q = json.dumps(row["conversations"][0]["value"])[1:-1]
            bad = "\\ud800 " if k == 1 else "\\u0000\\u0007"
            out.append(json.dumps(row).replace(q, bad + q, 1).encode() + (b"\n" if k == 1 else b"\r\n"))
            continue
        if k == 19:  # a raw control character inside a string
            out.append(json.dumps(row, ensure_ascii=False).encode().replace(b'"value": "', b'"value": "\x01', 1) + b"\n")
            continue
        if k == 12:  # a BOM in front of a later line (files concatenated)
            out.append(b"\xef\xbb\xbf" + json.dumps(row).encode() + b"\n")
            continue
        if k == 13:  # cut short
            out.append(json.dumps(row).encode()[:-3] + b"\n")
            continue
        row.update({3: {"score": math.nan}, 4: {"score": math.inf if i % 2 else -math.inf}, 5: {"score": "4.5"},
                    6: {"score": "high"}, 7: {"_meta": {"seen": i}}, 8: {"weird name é": i},
                    9: {"mixed": i if i % 2 else str(i)}, 10: {"mixed": [i, None]}, 11: {"nulls": [None, None]},
                    15: {"source": 7}, 16: {"": "empty name"}, 17: {"__x": [1, "two"]},
                    18: {"deep": {"a": {"b": [1.5, None]}}}}.get(k, {}))
        if i < 100:  # a column whose type changes between blocks: numbers, then text, then objects
            row["t"] = i
        elif i < 200:
            row["t"] = f"text {i}"
        elif i < 260:
            row["t"] = {"k": i}
        out.append(json.dumps(row, allow_nan=True).encode() + (b"\r\n" if k == 14 else b"\n"))
        if i % 37 == 0:
            out.append(b"\xff\xfe not UTF-8\n")
        if i % 41 == 0:
            out.append(b"\n")
        if i % 43 == 0:
            out.append(json.dumps(rows[i - 1]).encode() + b"\n")
    out.append(_line("A huge answer follows, is it kept?", "word " * 600_000) + b"\n")
    out.append(_line("A NaN score written by json.dumps", score=math.nan) + b"\n")
    out.append(_line("An Infinity score written as the literal?").replace(b"}]}", b'}], "score": Infinity}') + b"\n")
    out.append(_line("The last line has no newline", extra=[1, "two", None]))
    return b"".join(out)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, alpaca_path) -> Path:
    from benchmarks.corpus import FineTomeLike

    folder = tmp_path_factory.mktemp("parity_inputs")
    rows = [json.loads(x) for x in alpaca_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    hostile = hostile_jsonl(rows[:300])
    (folder / "hostile.jsonl").write_bytes(hostile)
    lines = [x.rstrip(b"\r") for x in hostile.split(b"\n")[:120]]  # lone-CR line ends (classic Mac OS)
    (folder / "mac.jsonl").write_bytes(b"\r".join(x for x in lines if x and b"\r" not in x) + b"\r")
    generated = FineTomeLike(900, seed=5).rows(0, 900)  # text of its own: not copies of the alpaca rows
    with gzip.open(folder / "openai.jsonl.gz", "wt", encoding="utf-8") as fh:
        for r in generated[:300] + rows[:20]:
            fh.write(json.dumps({"messages": [{"role": ROLE[t["from"]], "content": t["value"]} for t in r["conversations"]],
                                 "lang": "en"}) + "\n")
    pq.write_table(pa.Table.from_pylist([{"instruction": r["conversations"][0]["value"], "input": "",
                                          "output": r["conversations"][1]["value"], "_row": i}
                                         for i, r in enumerate(generated[300:600] + rows[20:30])]),
                   folder / "alpaca.parquet", row_group_size=50)
    with open(folder / "pc.jsonl", "w", encoding="utf-8") as fh:
        for r in generated[600:900] + rows[30:40]:
            fh.write(json.dumps({"prompt": r["conversations"][0]["value"], "completion": r["conversations"][1]["value"],
                                 "score": 3.5}) + "\n")
    shards = folder / "shards"
    shards.mkdir()
    for i in range(4):
        (shards / f"part-{i:03d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[i::4]), encoding="utf-8")
    pq.write_table(odd_types(rows[:300]), folder / "odd_types.parquet", row_group_size=40)
    from tests.curation.test_quality_pipeline import planted_rows

    (folder / "planted.jsonl").write_text("".join(json.dumps(r) + "\n" for r in planted_rows() + rows[:200]),
                                          encoding="utf-8")
    return folder


def odd_types(rows: list[dict]) -> pa.Table:
    """Parquet extra columns of types JSON never gives: timestamps, dates, decimals, bytes, dictionaries, maps."""
    import datetime
    import decimal

    n = len(rows)
    return pa.table({
        "conversations": pa.array([r["conversations"] for r in rows]),
        "source": pa.array([r.get("source") for r in rows], pa.large_string()),
        "score": pa.array([float(i % 5) if i % 7 else None for i in range(n)], pa.float32()),
        "ts": pa.array([datetime.datetime(2020, 1, 1) + datetime.timedelta(hours=i) for i in range(n)],
                       pa.timestamp("us", tz="UTC")),
        "day": pa.array([datetime.date(2021, 1, 1) + datetime.timedelta(days=i) for i in range(n)], pa.date32()),
        "dec": pa.array([decimal.Decimal(i) / 100 for i in range(n)], pa.decimal128(10, 2)),
        "blob": pa.array([bytes([i % 256]) * 3 for i in range(n)], pa.binary()),
        "cat": pa.array([["x", "y", None][i % 3] for i in range(n)]).dictionary_encode(),
        "m": pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
        "pair": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int32(), 2)),
        "_private": pa.array(list(range(n)), pa.int16()),
    })


def cases(folder: Path, finetome: Path, runs: Path) -> dict[str, tuple]:
    """name -> (input spec, config, output format); a case may read an earlier case's output (--against)."""
    mix = [{"path": str(finetome), "name": "finetome", "weight": 4},
           {"path": str(folder / "openai.jsonl.gz"), "weight": 2},
           {"path": str(folder / "alpaca.parquet"), "weight": 1},
           {"path": str(folder / "pc.jsonl"), "max_rows": 120},
           {"path": str(folder / "hostile.jsonl"), "max_rows": 150},
           {"path": str(folder / "mac.jsonl"), "max_rows": 40}]
    quality = {"pii": {"enabled": True, "actions": {"credit_card": "drop", "secret": "drop"}},
               "language": {"enabled": True, "allowed": ["en"]}, "decontaminate": {"enabled": True},
               "token_lengths": {"enabled": True, "drop_too_long": True}, "near_dedup": {"threshold": 0.7}}
    return {
        "hostile": (str(folder / "hostile.jsonl"), config(), "finetome"),
        "lone_cr": (str(folder / "mac.jsonl"), config(), "finetome"),
        "mix_both": (None, config(inputs=mix), "both"),
        "mix_total_rows": (None, config({"mix": {"total_rows": 300, "seed": 3}}, inputs=mix), "finetome"),
        "folder": (str(folder / "shards"), config({"near_dedup": {"threshold": 0.5}}), "finetome"),
        "glob": (str(folder / "shards" / "part-00[12].jsonl"), config(), "finetome"),
        "odd_types": (str(folder / "odd_types.parquet"), config(), "finetome"),
        "optional_stages": (str(folder / "planted.jsonl"), config(quality), "finetome"),
        "optional_stages_mix": (None, config(quality, inputs=mix[:1] + mix[4:]), "both"),
        "against_local": (None, config({"against": {"path": str(runs / "mix_both" / "local")}}, inputs=mix), "finetome"),
        "against_ray": (None, config({"against": {"path": str(runs / "mix_both" / "ray")}}, inputs=mix), "finetome"),
    }


def config(stages=None, inputs=None):
    base = {"report": False, "stages": stages or {}, "engine": {"batch_rows": 61}}
    if inputs is not None:
        base["inputs"] = inputs
    return lambda: load_config(None, base)


@pytest.fixture(scope="module")
def runs(cluster, inputs, alpaca_path, tmp_path_factory) -> Path:
    """Every case on both engines: ``<case>/local`` and ``<case>/ray``."""
    root = tmp_path_factory.mktemp("parity_runs")
    for name, (spec, make_config, output_format) in cases(inputs, alpaca_path, root).items():
        against = make_config().stage("against").path
        run_on_both_engines(spec, make_config, output_format, root / name, SMALL,
                            Path(against) / ".cache" if against else None)
    return root


def run_on_both_engines(spec, make_config, output_format: str, out: Path, options: RayOptions,
                        index_cache: Path | None = None) -> None:
    """``spec`` curated into ``out/local`` and ``out/ray``; ``index_cache`` (the --against set's) removed before
    each, so that each engine builds the existing set's index itself (the manifest says built or cached)."""
    for engine in ("local", "ray"):
        if index_cache is not None:
            shutil.rmtree(index_cache, ignore_errors=True)
        if engine == "local":
            run_curation(spec, out / engine, make_config(), output_format=output_format)
        else:
            run_curation_ray(spec, out / engine, make_config(), options, output_format=output_format)


# --- comparing two output folders by content --------------------------------------------------------------------


def parquet_parts(root: Path, name: str) -> list[Path]:
    single = root / f"{name}.parquet"
    return [single] if single.exists() else sorted((root / name).glob("part-*.parquet"))


def comparable(value):
    """NaN as a value that equals itself."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def assert_same_table(name: str, local: list[Path], sharded: list[Path]) -> None:
    assert len(local) == 1 and sharded, name
    expected = pq.read_table(local[0])
    parts = [pq.read_table(p) for p in sharded]
    for part in parts:  # every shard has the folder's one schema, which is the local file's
        assert part.schema.equals(expected.schema, check_metadata=True), (name, part.schema, expected.schema)
    got = pa.concat_tables(parts)
    assert comparable(got.to_pylist()) == comparable(expected.to_pylist()), name


def manifest_content(manifest: dict) -> dict:
    """The manifest without what depends on the clock, the machine, the engine's name, file cuts and hashes."""

    def strip(value, path=()):
        if isinstance(value, dict):
            return {k: strip(v, (*path, k)) for k, v in value.items()
                    if k not in VOLATILE_MANIFEST_KEYS and k != "engine"
                    and not (path[:1] == ("outputs",) and k in ("path", "files", "sha256"))}
        if isinstance(value, list):
            return [strip(v, path) for v in value]
        return value

    return strip(manifest)  # (token_lengths' `counted` follows the batches: a volatile key)


def assert_same_content(local: Path, sharded: Path) -> None:
    for name in (*SPLITS, "removed"):
        assert_same_table(name, parquet_parts(local, name), parquet_parts(sharded, name))
    for name in SPLITS:
        mine, theirs = parquet_parts(local / "messages", name), parquet_parts(sharded / "messages", name)
        assert bool(mine) == bool(theirs), f"messages/{name}"
        if mine:
            assert_same_table(f"messages/{name}", mine, theirs)
    assert comparable(read_quarantine(local)) == comparable(read_quarantine(sharded))
    assert manifest_content(read_manifest(local)) == manifest_content(read_manifest(sharded))


@pytest.mark.parametrize("case", ["hostile", "lone_cr", "mix_both", "mix_total_rows", "folder", "glob", "odd_types",
                                  "optional_stages", "optional_stages_mix", "against_local", "against_ray"])
def test_ray_output_is_the_local_output(runs, case):
    assert_same_content(runs / case / "local", runs / case / "ray")


def test_the_cases_hold_what_they_are_for(runs):
    """The inputs really reach the paths compared above (a case that quarantined everything would pass too)."""
    hostile = read_manifest(runs / "hostile" / "ray")
    validate = hostile["stages"][0]
    assert hostile["accounting"]["balanced"] and hostile["accounting"]["quarantined"] >= 30
    assert set(validate["stats"]["errors"]) >= {"'score' is str, expected a number", "'source' is int, expected a string"}
    assert {"input__meta", "weird name é", "", "input___x", "mixed", "t", "deep"} <= set(hostile["extra_columns"])
    assert hostile["stages"][0]["rows_in"] > 300 and len(list((runs / "hostile" / "ray" / "train").iterdir())) > 5
    assert read_manifest(runs / "lone_cr" / "ray")["accounting"]["in_splits"] > 50
    mix = read_manifest(runs / "mix_both" / "ray")
    assert {i["format"] for i in mix["inputs"]} >= {"conversations", "messages", "alpaca", "prompt_completion"}
    assert parquet_parts(runs / "mix_both" / "ray" / "messages", "train")
    quality = {s["name"]: s for s in read_manifest(runs / "optional_stages" / "ray")["stages"]}
    for stage, reason in (("pii", "pii:secret"), ("language", "filter:language"),
                          ("decontaminate", "decontaminated"), ("token_lengths", "filter:too_many_tokens")):
        assert quality[stage]["removed"].get(reason), stage
    for case in ("against_local", "against_ray"):
        removed = read_manifest(runs / case / "ray")["removed_by_reason"]
        assert removed.get("duplicate_of_existing", 0) > 100, case


# --- where the workers work -------------------------------------------------------------------------------------


def test_relative_paths_mean_the_drivers_folder(cluster, tmp_path, monkeypatch):
    """The workers of this cluster started in another folder. A relative --out, input and eval file name what
    they name for the local engine: the workers wrote the shards under the folder they started in (the run then
    failed, with a Ray traceback) and did not find the eval file."""
    monkeypatch.chdir(tmp_path)
    q = "Which river flows through Paris, and which sea does it reach in the end?"
    rows = [_line(f"Question {i}: how many legs does animal number {i} have, and why?",
                  f"Animal number {i} has {i % 6} legs, as the long answer to question {i} explains here.")
            for i in range(60)] + [_line(f"Homework: {q} Thanks for the help!", "The Seine; it reaches the English Channel.")]
    Path("in.jsonl").write_bytes(b"\n".join(rows) + b"\n")
    Path("evals.jsonl").write_text(json.dumps({"prompt": q}) + "\n")
    stages = {"decontaminate": {"enabled": True, "files": ["evals.jsonl"], "ngram": 8, "min_words": 4},
              "split": {"train": 1.0, "validation": 0.0, "test": 0.0}}
    run_curation("in.jsonl", "local", config(stages)())
    run_curation_ray("in.jsonl", "ray", config(stages)(), SMALL)
    assert_same_content(tmp_path / "local", tmp_path / "ray")
    assert read_manifest("ray")["removed_by_reason"] == {"decontaminated": 1}


def test_a_stage_error_on_a_worker_is_only_its_own_line(cluster, tmp_path, monkeypatch):
    """Ray Data logged its own ERROR lines (the failed operator, 'Exception occurred in user code ...') on stderr
    before `tome curate` printed the one `error:` line."""
    import io

    import ray.data  # noqa: F401  (sets up Ray Data's loggers)

    console = io.StringIO()  # what Ray Data's console handlers print (their stream is the one stderr had at import)
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            monkeypatch.setattr(handler, "stream", console)
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(_line(f"Question number {i}, answered at some length?") for i in range(20)) + b"\n")
    cfg = config({"token_lengths": {"enabled": True, "tokenizer": str(tmp_path / "no-such-tokenizer")}})()
    with pytest.raises(Exception, match="cannot load it") as raised:
        run_curation_ray(str(src), tmp_path / "out", cfg, SMALL)
    assert not type(raised.value).__module__.startswith("ray")
    assert console.getvalue() == ""


# --- reported, not fixed here -------------------------------------------------------------------------------------


def test_a_column_of_only_nulls_is_in_both_outputs_or_neither(cluster, alpaca_path, tmp_path):
    rows = [json.loads(x) for x in alpaca_path.read_text(encoding="utf-8").splitlines() if x.strip()][:400]
    lines = []
    for i, row in enumerate(rows):  # a type change sends rows the record-by-record way, where the cut meets it
        row["t"] = i if i < 100 else f"text {i}" if i < 200 else {"k": i} if i < 260 else None
        if i in (50, 250):
            row["only_null"] = None
        lines.append(json.dumps(row))
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_curation(str(tmp_path / "in.jsonl"), tmp_path / "local", config()())
    run_curation_ray(str(tmp_path / "in.jsonl"), tmp_path / "ray", config()(), RayOptions(unit_bytes=200_000))
    assert read_manifest(tmp_path / "local")["extra_columns"] == read_manifest(tmp_path / "ray")["extra_columns"]
