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
import re
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

ROLE = {"human": "user", "gpt": "assistant", "system": "system"}
SMALL = RayOptions(unit_bytes=40_000, unit_records=97)  # JSONL cut every 40 kB, loaded inputs every 97 records

@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """The session's local Ray cluster (tests/conftest.py): its workers start in a folder that is not the driver's
    and import this checkout."""
    return ray_cluster


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
    """Parquet extra columns of types JSON never gives: timestamps, dates, decimals, bytes, dictionaries, maps, and
    a column of nulls."""
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
        "unset": pa.nulls(n, pa.int32()),  # a typed column of nulls: carried as any other
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
    assert "'score' is str, expected a number" in validate["stats"]["errors"]
    repairs = [r for name in (*SPLITS, "removed") for part in parquet_parts(runs / "hostile" / "ray", name)
               for r in pq.read_table(part, columns=["repairs"]).column("repairs").to_pylist()]
    assert any(r and '"number_as_text": ["source"]' in r for r in repairs)  # an integer source: its text
    assert {"input__meta", "weird name é", "", "input___x", "mixed", "t", "deep"} <= set(hostile["extra_columns"])
    assert hostile["stages"][0]["rows_in"] > 300 and len(list((runs / "hostile" / "ray" / "train").iterdir())) > 5
    assert read_manifest(runs / "lone_cr" / "ray")["accounting"]["in_splits"] > 50
    assert "unset" in read_manifest(runs / "odd_types" / "ray")["extra_columns"]
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


# --- formats, readers, the mix's and --against's fields added last ------------------------------------------------
#
# Two runs on both engines hold every class: a mix of one input per class (with --against a plain input that holds
# unreadable rows, and weights that a small input limits), and one folder of shards in several formats and kinds
# read as one FineTome input. The Ray runs are cut small (about five lines, or seven records, a read unit: every
# Parquet row group a unit of its own), so that each class meets read units and batches of its own.

TINY = RayOptions(unit_bytes=1500, unit_records=7)
Q = "How do leaves turn sunlight into food for the plant?"
A = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the leaf of a plant."
IMAGE = [{"type": "image_url", "image_url": {"url": "https://example.com/leaf.png"}}]


def _q(i: int) -> str:
    return f"{Q} ({i}) variant {i * 7919}"


def _a(i: int) -> str:
    return f"{A} [{i}] and answer number {i * 31} of the list."


def _row(i: int, **extra) -> dict:
    return {"conversations": [{"from": "human", "value": _q(i)}, {"from": "gpt", "value": _a(i)}], **extra}


def _jsonl(path: Path, rows: list, end: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + end for r in rows), encoding="utf-8")
    return path


def mixed_shapes(first: int, n: int = 60) -> list[dict]:
    """FineTome rows with rows of other formats among them: Alpaca, prompt/completion, OpenAI messages beside a
    null ``conversations``, text parts; and what is quarantined: an image part, LLaMA-Factory's tool roles, no
    conversation at all."""
    shapes = [lambda i: _row(i),
              lambda i: {"instruction": _q(i), "input": "", "output": _a(i)},
              lambda i: {"prompt": _q(i), "completion": _a(i)},
              lambda i: {"conversations": None, "messages": [{"role": "user", "content": _q(i)},
                                                             {"role": "assistant", "content": _a(i)}]},
              lambda i: {"conversations": [{"from": "human", "value": _q(i)}, {"from": "gpt", "value": IMAGE}]},
              lambda i: {"conversations": [{"from": "human", "value": _q(i)}, {"from": "function_call", "value": "{}"},
                                           {"from": "observation", "value": "42"}, {"from": "gpt", "value": _a(i)}]},
              lambda i: {"text": "no conversation here"},
              lambda i: _row(i, score=4.0),
              lambda i: {"conversations": [{"from": "human", "value": [{"type": "text", "text": _q(i)}]},
                                           {"from": "gpt", "value": _a(i)}]}]
    return [shapes[(i - first) % len(shapes)](i) for i in range(first, first + n)]


def openai_rows(first: int, n: int = 64) -> list[dict]:
    """OpenAI chat exports: text parts of every kind, refusals (``content`` null beside ``refusal``, or a refusal
    part), a turn's ``name`` (dropped, noted), and media parts (quarantined with their reason)."""
    out = []
    for i in range(first, first + n):
        k = i % 8
        user = [{"content": _q(i)},
                {"content": [{"type": "text", "text": _q(i)}]},
                {"content": [{"type": "input_text", "text": _q(i)}, {"type": "text", "text": " (in parts)"}]},
                {"content": IMAGE + [{"type": "text", "text": _q(i)}]},
                {"content": _q(i), "name": "bob"},
                {"content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]},
                {"content": [{"type": "text", "text": _q(i)}, {"type": "text", "text": None}]},
                {"content": _q(i)}][k]
        assistant = ({"content": None, "refusal": f"I cannot help with that request, number {i}."} if k in (1, 7)
                     else {"content": [{"type": "output_text", "text": _a(i)}]} if k == 2
                     else {"content": [{"type": "refusal", "refusal": f"I would rather not answer question {i}."}]}
                     if k == 4 else {"content": _a(i)})
        out.append({"messages": [{"role": "user", **user}, {"role": "assistant", **assistant}]})
    return out


def llama_factory_alpaca(first: int, n: int = 40) -> list[dict]:
    """LLaMA-Factory's Alpaca: ``history`` turns before the instruction, a ``system`` column on some rows."""
    return [{"instruction": _q(i), "input": "" if i % 3 else "with an input", "output": _a(i),
             "history": [[f"An earlier question {i}?", f"An earlier answer to question {i}."]] if i % 2 else [],
             **({"system": "You are terse."} if i % 4 == 1 else {})} for i in range(first, first + n)]


def corrupt_parquet(path: Path, first: int, group: int = 2) -> Path:
    from tests.curation.test_parquet_inputs import corrupt_row_group

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([_row(i) for i in range(first, first + 60)]), path, row_group_size=10)
    return corrupt_row_group(path, group)


def spark_json_folder(folder: Path, first: int) -> Path:
    """What Spark's ``df.write.json`` leaves: JSON Lines part files named ``.json`` (one empty), ``_SUCCESS`` and
    hidden ``.crc`` files."""
    folder.mkdir(parents=True)
    lines = [json.dumps(_row(i)) + "\n" for i in range(first, first + 30)]
    for k, part in enumerate(["".join(lines[:10]), "", "".join(lines[10:])]):
        name = folder / f"part-0000{k}-5d2f-c000.json"
        name.write_text(part, encoding="utf-8")
        (folder / f".{name.name}.crc").write_bytes(b"crc\x00\x01\x02")
    (folder / "_SUCCESS").write_bytes(b"")
    return folder


def last_line_cr(first: int, broken: bool = False) -> bytes:
    """LF lines whose last line ends in a lone CR (a row, or a cut-short line that is quarantined)."""
    body = b"".join(json.dumps(_row(i)).encode() + b"\n" for i in range(first, first + 29))
    return body + (b'{"broken' if broken else json.dumps(_row(first + 29)).encode()) + b"\r"


@pytest.fixture(scope="module")
def new_inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("new_inputs")
    _jsonl(d / "mixed_shapes.jsonl", mixed_shapes(0))
    _jsonl(d / "openai.jsonl", openai_rows(100))
    _jsonl(d / "lf_alpaca.jsonl", llama_factory_alpaca(200))
    _jsonl(d / "lf_sharegpt.jsonl", [_row(i, system=["You are a botanist.", "", None][i % 3]) for i in range(300, 340)])
    _jsonl(d / "capitals.jsonl", [{"Conversations": [{"From": "human", "Value": _q(i)}, {"From": "gpt", "Value": _a(i)}]}
                                  for i in range(400, 430)])
    corrupt_parquet(d / "corrupt.parquet", 500)
    (d / "scalar.json").write_text("42")
    (d / "empty_object.json").write_text("{}")
    spark_json_folder(d / "spark.json", 600)
    (d / "last_cr.jsonl").write_bytes(last_line_cr(700))
    (d / "last_cr_broken.jsonl.gz").write_bytes(gzip.compress(last_line_cr(730, broken=True), mtime=0))
    # conversations two inputs hold: dups_b's scored copies win on score, the others stay in dups_a (listed first);
    # six of dups_a's are openai's (converted from messages, listed before it)
    _jsonl(d / "dups_a.jsonl", [_row(i) for i in range(800, 830)] + [_row(i) for i in range(100, 106)])
    _jsonl(d / "dups_b.jsonl", [_row(i, score=4.5) for i in range(800, 804)] + [_row(i) for i in range(804, 808)]
           + [_row(i) for i in range(900, 905)])
    # the --against set: a plain input of which two rows cannot be read
    _jsonl(d / "existing.jsonl", [_row(i) for i in range(800, 810)] + ['{"conversations": [', '{"text": "no turns"}']
           + [_row(i) for i in range(300, 305)])
    # one folder of shards of several formats and kinds, read as one FineTome input
    shards = d / "shards"
    _jsonl(shards / "a.jsonl", mixed_shapes(1000, 40))
    _jsonl(shards / "b" / "openai.jsonl", openai_rows(1100, 24))
    _jsonl(shards / "b" / "alpaca.jsonl", llama_factory_alpaca(1200, 20))
    corrupt_parquet(shards / "c" / "rows.parquet", 1300, group=4)
    spark_json_folder(shards / "d" / "spark", 1400)
    (shards / "e.jsonl").write_bytes(last_line_cr(1500, broken=True))
    return d


NEW_INPUTS = ["mixed_shapes.jsonl", "openai.jsonl", "lf_alpaca.jsonl", "lf_sharegpt.jsonl", "capitals.jsonl",
              "corrupt.parquet", "scalar.json", "empty_object.json", "spark.json", "last_cr.jsonl",
              "last_cr_broken.jsonl.gz", "dups_a.jsonl", "dups_b.jsonl"]


def _new_config(inputs=None, stages=None):
    base = {"report": False, "checkpoint": False, "stages": stages or {}, "engine": {"batch_rows": 5}}
    if inputs is not None:
        base["inputs"] = inputs
    return lambda: load_config(None, base)


@pytest.fixture(scope="module")
def new_runs(cluster, new_inputs, tmp_path_factory) -> Path:
    """``mix`` (one input a class, --against, weights), ``folder`` (shards of several formats) and the two ``.json``
    files of no rows read alone, each on both engines: ``<case>/local`` and ``<case>/ray``. The --against set is plain: its index is cached in each run's
    own output folder, so each engine builds it."""
    root, d = tmp_path_factory.mktemp("new_runs"), new_inputs
    inputs = [{"path": str(d / name), "name": name.split(".")[0]} for name in NEW_INPUTS]
    for record in inputs:
        if record["name"] in ("dups_a", "dups_b"):
            record["weight"] = 2 if record["name"] == "dups_a" else 1
    against = {"against": {"path": str(d / "existing.jsonl")}}
    run_on_both_engines(None, _new_config(inputs, against), "both", root / "mix", TINY)
    run_on_both_engines(str(d / "shards"), _new_config(), "both", root / "folder", TINY)
    for name in ("scalar.json", "empty_object.json"):  # read alone, not as one input of several
        run_on_both_engines(str(d / name), _new_config(), "finetome", root / name.split(".")[0], TINY)
    return root


def card_text(root: Path) -> str:
    """The dataset card as written, but for its data files' paths (a file a split on the local engine, a folder
    of shards on Ray) and the removed rows' file it names (``removed.parquet``, or Ray's ``removed/`` folder)."""
    text = (root / "README.md").read_text(encoding="utf-8")
    text = text.replace("`removed/` and `quarantine.jsonl`", "`removed.parquet` and `quarantine.jsonl`")
    return re.sub(r"(?m)^(\s+path: ).*$", r"\1...", text)


@pytest.mark.parametrize("case", ["mix", "folder", "scalar", "empty_object"])
def test_ray_output_is_the_local_output_for_the_new_formats_and_fields(new_runs, case):
    assert_same_content(new_runs / case / "local", new_runs / case / "ray")
    assert card_text(new_runs / case / "local") == card_text(new_runs / case / "ray")


def test_the_new_cases_hold_what_they_are_for(new_runs, new_inputs):
    """Each class reaches what it is there for on Ray, over several read units (a case that read nothing, or
    quarantined everything, would pass the comparison too)."""
    from curation.readers import open_input

    for name in ("mixed_shapes.jsonl", "openai.jsonl", "corrupt.parquet", "last_cr.jsonl"):
        assert len(open_input(str(new_inputs / name)).units(unit_bytes=TINY.unit_bytes)) > 3, name
    mix = read_manifest(new_runs / "mix" / "ray")
    inputs = {i["name"]: i for i in mix["inputs"]}
    formats = {i["name"]: (i["format"], i.get("columns") or {}) for i in mix["config"]["inputs"]}
    assert formats["openai"][0] == "messages" and formats["lf_alpaca"][0] == "alpaca"
    assert formats["lf_sharegpt"] == ("conversations", {"system": "system"})
    assert formats["capitals"] == ("conversations", {"conversations": "Conversations", "from": "From", "value": "Value"})
    errors = {(q["position"]["input"], q["error"].split(" (rows")[0].split(":")[0]) for q in read_quarantine(new_runs / "mix" / "ray")}
    assert errors >= {("mixed_shapes", "turn 2"), ("openai", "turn 1"), ("corrupt", "row group 2 cannot be read from here"),
                      ("scalar", "the file's JSON is a number, not rows (expected an array of rows, an object holding "
                                 "one array, or one row)"),
                      ("empty_object", "missing 'conversations' (or OpenAI 'messages')"),
                      ("last_cr_broken", "not valid JSON")}
    assert [(i["rows_in"], i["quarantined"]) for i in (inputs["corrupt"], inputs["spark"], inputs["last_cr"])] == [
        (60, 10), (30, 0), (30, 0)]
    assert inputs["lf_alpaca"]["kept"] == 40 and inputs["capitals"]["kept"] == 30
    assert inputs["dups_a"]["duplicates_kept_in"] == {"openai": {"listed first": 2}, "dups_b": {"higher score": 4}}
    assert inputs["dups_b"]["duplicates_kept_in"] == {"dups_a": {"listed first": 4}}
    stages = {s["name"]: s for s in mix["stages"]}
    assert stages["mix"]["stats"]["limited_by"] == "dups_b"
    assert stages["against"]["stats"]["existing_unreadable"] == 2
    assert stages["against"]["stats"]["existing_unreadable_first"].startswith("file existing.jsonl, line 11: ")
    kept = {r["conversations"][-2]["value"]: r for split in SPLITS for part in parquet_parts(new_runs / "mix" / "ray", split)
            for r in pq.read_table(part).to_pylist()}
    assert kept[_q(111)]["conversations"][-1] == {"from": "gpt", "value": "I cannot help with that request, number 111."}
    assert kept[_q(205)]["conversations"][:3] == [{"from": "system", "value": "You are terse."},
                                                   {"from": "human", "value": "An earlier question 205?"},
                                                   {"from": "gpt", "value": "An earlier answer to question 205."}]
    folder = read_manifest(new_runs / "folder" / "ray")
    assert folder["accounting"]["balanced"] and folder["accounting"]["in_splits"] > 100
    assert {q["position"]["file"] for q in read_quarantine(new_runs / "folder" / "ray")} >= {
        "a.jsonl", "b/openai.jsonl", "c/rows.parquet", "e.jsonl"}
    for case in ("mix", "folder"):
        assert len(parquet_parts(new_runs / case / "ray", "train")) > 3, case
    for case, error in (("scalar", "the file's JSON is a number, not rows"), ("empty_object", "missing 'conversations'")):
        (quarantined,) = read_quarantine(new_runs / case / "ray")
        assert quarantined["position"] == {"file": f"{case}.json", "row": 0} and quarantined["error"].startswith(error)


def test_a_run_stopped_part_way_leaves_the_run_before_whole_or_no_description_of_it(cluster, new_inputs, tmp_path,
                                                                                    monkeypatch):
    """Stopped (Ctrl-C) while a global stage decides, a re-run leaves the earlier run's folder as it was, on
    both engines (Ray removed its manifest, card, report and splits as it started); stopped while it writes its
    files, it leaves no manifest, card, messages/ or report of the earlier run beside files that are not theirs."""
    import curation.engines.local as local_engine
    import curation.engines.ray as ray_engine
    from curation.exact_dedup import ExactDedup

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    spec = str(new_inputs / "lf_sharegpt.jsonl")
    described = ("manifest.json", "README.md", "report.md", "report.html", "messages")
    for engine, writes in (("local", (local_engine, "write_removed")), ("ray", (ray_engine, "_shard_outputs"))):
        out = tmp_path / engine

        def curate(report: bool = False) -> None:
            cfg = load_config(None, {"report": report, "checkpoint": False, "engine": {"batch_rows": 5}})
            if engine == "local":
                run_curation(spec, out, cfg, output_format="both")
            else:
                run_curation_ray(spec, out, cfg, TINY, output_format="both")

        curate(report=True)
        before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*"))
                  if p.is_file() and ".cache" not in p.parts}
        assert all((out / name).exists() for name in described), engine
        with monkeypatch.context() as patch:
            patch.setattr(ExactDedup, "decide", stop)
            with pytest.raises(KeyboardInterrupt):
                curate()
        after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*"))
                 if p.is_file() and ".cache" not in p.parts and ".work" not in p.parts}
        assert after == before, engine
        with monkeypatch.context() as patch:
            patch.setattr(*writes, stop)
            with pytest.raises(KeyboardInterrupt):
                curate()
        assert not {p.name for p in out.iterdir()} & set(described), engine


def test_a_total_rows_no_input_scales_to_is_refused_before_the_ray_run_leaves_a_folder(cluster, new_inputs, tmp_path):
    from curation.core.stage import StageError

    cfg = load_config(None, {"report": False, "stages": {"mix": {"total_rows": 10}}})
    with pytest.raises(StageError, match=r"^stages\.mix\.total_rows is 10 but no input has a weight"):
        run_curation_ray(str(new_inputs / "lf_sharegpt.jsonl"), tmp_path / "out", cfg, TINY)
    assert not (tmp_path / "out").exists()
