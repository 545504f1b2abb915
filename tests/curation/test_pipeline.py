"""The curation pipeline end to end: contract, accounting, determinism, resume, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.config import CurationConfig, load_config
from curation.contract import (
    REMOVED_COLUMNS,
    SPLITS,
    output_paths,
    read_manifest,
    read_quarantine,
    strip_volatile,
)
from curation.readers import InputError
from curation.pipeline import run_curation

REPO = Path(__file__).resolve().parents[2]


def fast_config(**stage_overrides) -> CurationConfig:
    return load_config(None, {"report": False, "stages": stage_overrides})


def write_jsonl(path: Path, rows: list) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
            fh.write("\n")
    return path


def landing_places(out: Path) -> dict[str, list[str]]:
    """Row id -> every place it landed (split name, 'removed', 'quarantine')."""
    places: dict[str, list[str]] = {}
    paths = output_paths(out)
    for split in SPLITS:
        for rid in pq.read_table(paths.split(split), columns=["id"]).column("id").to_pylist():
            places.setdefault(rid, []).append(split)
    for rid in pq.read_table(paths.removed, columns=["id"]).column("id").to_pylist():
        places.setdefault(rid, []).append("removed")
    for q in read_quarantine(out):
        places.setdefault(q["id"], []).append("quarantine")
    return places


def conv(*turns: tuple[str, str]) -> list[dict]:
    return [{"from": r, "value": v} for r, v in turns]


# --- accounting on generated inputs, malformed ones included ------------------------------------------------

words = st.sampled_from(
    "alpha beta gamma delta river mountain cloud quantum garden violin copper silent orbit ember lantern harbor "
    "meadow puzzle cipher falcon".split()
)
texts = st.lists(words, min_size=1, max_size=40).map(" ".join)
good_row = st.builds(
    lambda q, a, src, score: {"conversations": conv(("human", q), ("gpt", a)), "source": src, "score": score},
    texts, texts, st.sampled_from(["s1", "s2", "s3"]), st.one_of(st.none(), st.floats(0, 5)),
)
bad_row = st.sampled_from(
    [
        "not json at all",
        '{"conversations": [{"from": "human", "value": "hi"}',
        {"conversations": []},
        {"conversations": "text"},
        {"source": "s1"},
        {"conversations": conv(("robot", "beep"), ("gpt", "boop"))},
        {"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "x"}]},
        {"conversations": conv(("human", "only a question"))},
        [1, 2, 3],
        {"messages": [{"role": "user", "content": "q?"}, {"role": "assistant", "content": "fine answer here"}]},
    ]
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=good_row, rows=st.lists(st.one_of(good_row, good_row, bad_row), max_size=40), dup=st.integers(0, 5))
def test_every_input_row_lands_in_exactly_one_place(tmp_path_factory, first, rows, dup):
    # (a file in which no line parses is not JSON Lines at all: that stops the run, tested below)
    rows = [first, *rows]
    rows = rows + rows[:dup]  # planted exact duplicates
    tmp = tmp_path_factory.mktemp("acc")
    src = write_jsonl(tmp / "in.jsonl", rows)
    result = run_curation(str(src), tmp / "out", fast_config(), resume=False)
    places = landing_places(tmp / "out")
    assert all(len(p) == 1 for p in places.values()), {k: v for k, v in places.items() if len(v) != 1}
    assert len(places) == len(rows)
    acc = result.manifest["accounting"]
    assert acc["balanced"] and acc["input_rows"] == len(rows)


# --- contract on real rows -------------------------------------------------------------------------------


@pytest.mark.slow  # (about 3 s)
def test_alpaca_shared_rows_obey_the_contract(tmp_path, alpaca_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "tomecraft.cli", "curate", "--input", str(alpaca_path), "--out", str(out), "-q"],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "nothing lost" in proc.stderr
    import datasets

    ds = datasets.load_dataset("parquet", data_files={s: str(out / f"{s}.parquet") for s in SPLITS})
    n_lines = sum(1 for line in alpaca_path.read_text().splitlines() if line.strip())
    removed = pq.read_table(out / "removed.parquet")
    assert sum(ds[s].num_rows for s in SPLITS) + removed.num_rows + len(read_quarantine(out)) == n_lines
    for column in ("id", "conversations", "source", "score", "cluster_id", "original_conversations"):
        assert column in ds["train"].column_names
    for column in ("id", *REMOVED_COLUMNS, "cluster_id", "conversations"):
        assert column in removed.column_names
    first = ds["train"][0]
    assert {t["from"] for t in first["conversations"]} <= {"human", "gpt", "system"}
    manifest = read_manifest(out)
    assert manifest["input"]["rows"] == n_lines
    assert manifest["config"]["stages"]["near_dedup"]["threshold"] == 0.8
    names = [s["name"] for s in manifest["stages"] if s["enabled"]]
    assert names[:4] == ["validate", "normalize", "exact_dedup", "near_dedup"] and names[-1] == "split"
    for stage in manifest["stages"]:
        assert {"rows_in", "kept", "removed", "seconds"} <= set(stage)
    assert manifest["accounting"]["balanced"]
    assert "datasketch" in manifest["packages"]
    # ids are unique across the whole folder
    places = landing_places(out)
    assert all(len(p) == 1 for p in places.values())


def test_no_cluster_spans_two_splits(tmp_path, alpaca_path):
    out = tmp_path / "out"
    run_curation(str(alpaca_path), out, fast_config(near_dedup={"threshold": 0.5, "text_key": "first_human"}))
    seen: dict[str, str] = {}
    for split in SPLITS:
        for cid in pq.read_table(out / f"{split}.parquet", columns=["cluster_id"]).column("cluster_id").to_pylist():
            if cid is not None:
                assert seen.setdefault(cid, split) == split
    assert seen, "the alpaca rows repeat 14 instructions: some clusters must exist at threshold 0.5"


def test_same_input_and_config_give_identical_bytes(tmp_path, alpaca_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run_curation(str(alpaca_path), a, fast_config())
    run_curation(str(alpaca_path), b, fast_config())
    for name in [f"{s}.parquet" for s in SPLITS] + ["removed.parquet", "quarantine.jsonl"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert strip_volatile(read_manifest(a)) == strip_volatile(read_manifest(b))


# --- schema handling -----------------------------------------------------------------------------------


def test_openai_messages_and_extra_columns_are_carried(tmp_path):
    rows = [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a planet."},
                      {"role": "assistant", "content": "Mars is a planet of the solar system."}],
         "source": "chat", "score": 4.0, "lang": "en", "meta": {"k": 1}},
        {"conversations": conv(("human", "What colour is the sky?"), ("gpt", "It is usually blue during the day.")),
         "source": "ft", "score": 4.5, "lang": "de", "meta": {"k": 2}},
        {"conversations": conv(("human", "Largest ocean?"), ("gpt", "The Pacific Ocean is the largest.")),
         "source": "ft", "score": 4.1, "lang": "fr", "meta": {"k": 3}},
    ]
    out = tmp_path / "out"
    run_curation(str(write_jsonl(tmp_path / "in.jsonl", rows)), out, fast_config())
    kept = [r for s in SPLITS for r in pq.read_table(out / f"{s}.parquet").to_pylist()]
    assert len(kept) == 3
    by_lang = {r["lang"]: r for r in kept}
    assert by_lang["en"]["conversations"][1] == {"from": "human", "value": "Name a planet."}
    assert by_lang["en"]["original_conversations"][1]["from"] == "user"
    assert by_lang["de"]["original_conversations"] is None
    assert {r["meta"]["k"] for r in kept} == {1, 2, 3}


def test_normalization_keeps_the_original_recoverable(tmp_path):
    decomposed = "cafe\u0301  au   lait\r\n\n\n\n\nend  "
    rows = [{"conversations": conv(("human", decomposed), ("gpt", "A coffee drink made with hot milk.")), "source": "x"}]
    out = tmp_path / "out"
    run_curation(str(write_jsonl(tmp_path / "in.jsonl", rows)), out, fast_config(split={"train": 1.0, "validation": 0.0, "test": 0.0}))
    row = pq.read_table(out / "train.parquet").to_pylist()[0]
    assert row["conversations"][0]["value"] == "caf\u00e9 au lait\n\n\nend"
    assert row["original_conversations"][0]["value"] == decomposed


def test_quarantine_names_position_and_error(tmp_path):
    rows = [
        {"conversations": conv(("human", "Fine question here?"), ("gpt", "A fine and long enough answer."))},
        "{broken",
        {"conversations": conv(("robot", "beep"), ("gpt", "boop boop boop"))},
        {"conversations": conv(("human", "Where is the answer?"))},
    ]
    out = tmp_path / "out"
    run_curation(str(write_jsonl(tmp_path / "in.jsonl", rows)), out, fast_config())
    q = {entry["position"]["line"]: entry for entry in read_quarantine(out)}
    assert set(q) == {2, 3, 4}
    assert q[2]["raw"] == "{broken" and "not valid JSON" in q[2]["error"]
    assert "unknown role 'robot'" in q[3]["error"] and q[3]["position"]["file"] == "in.jsonl"
    assert "no gpt turn" in q[4]["error"]


# --- inputs that cannot be read at all -------------------------------------------------------------------


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tomecraft.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.slow  # (4-9 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_the_run_leaves_no_empty_working_folder_and_keeps_one_that_holds_something(tmp_path):
    """The run's working folder (``.cache``: spills, an existing set's index, embeddings) is removed at the end when
    nothing was kept in it, so a plain run's folder holds its outputs alone; one that holds something stays."""
    rows = [{"conversations": conv(("human", f"Question {i} about tides?"), ("gpt", f"Answer {i}: the moon pulls."))}
            for i in range(6)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    run_curation(str(src), out, fast_config())
    assert not (out / ".cache").exists()
    assert {p.name for p in out.iterdir()} >= {"train.parquet", "manifest.json", "README.md"}
    kept = tmp_path / "kept"
    (kept / ".cache" / "against").mkdir(parents=True)
    (kept / ".cache" / "against" / "note").write_text("an index another run left")
    run_curation(str(src), kept, fast_config())
    assert (kept / ".cache" / "against" / "note").read_text() == "an index another run left"


def test_unreadable_inputs_stop_with_one_clear_line(tmp_path):
    missing = run_cli("curate", "-i", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o"))
    assert missing.returncode == 2 and "nope.jsonl: file not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    bad_json = tmp_path / "rows.json"
    bad_json.write_text('[\n {oops},\n {"conversations": []}\n]\n')  # broken before any whole row
    proc = run_cli("curate", "-i", str(bad_json), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "rows.json: line 2: not valid JSON" in proc.stderr

    # (a truncated Parquet file is one quarantined record: tests/curation/readers/test_parquet_broken_files.py)
    not_parquet = tmp_path / "csv.parquet"
    not_parquet.write_text("id,text\n1,a CSV file under a Parquet name\n")
    proc = run_cli("curate", "-i", str(not_parquet), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "csv.parquet: not a readable Parquet file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1

    hub = run_cli("curate", "-i", "mlabonne/FineTome-100k", "-o", str(tmp_path / "o"))
    assert hub.returncode == 2 and "mlabonne/FineTome-100k: cannot load from the Hugging Face hub" in hub.stderr
    assert "HF_HUB_OFFLINE=1" in hub.stderr and "Traceback" not in hub.stderr

    binary = tmp_path / "junk.jsonl"
    binary.write_bytes(b"\x00\x01garbage\nmore garbage\n")
    proc = run_cli("curate", "-i", str(binary), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "junk.jsonl: line 1: not JSON Lines" in proc.stderr


def test_input_error_for_missing_file_via_api(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        run_curation(str(tmp_path / "x.parquet"), tmp_path / "o", fast_config())


def test_parquet_and_save_to_disk_inputs(tmp_path, alpaca_path):
    import datasets

    ds = datasets.load_dataset("json", data_files=str(alpaca_path), split="train").select(range(50))
    ds.to_parquet(str(tmp_path / "rows.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    a = run_curation(str(tmp_path / "rows.parquet"), tmp_path / "a", fast_config())
    b = run_curation(str(tmp_path / "saved"), tmp_path / "b", fast_config())
    assert a.manifest["accounting"]["input_rows"] == b.manifest["accounting"]["input_rows"] == 50
    ids = lambda out: sorted(landing_places(out))  # noqa: E731
    assert ids(tmp_path / "a") == ids(tmp_path / "b")


@pytest.mark.slow  # (two processes, ~1 s; the same errors in process: tests/tomecraft/test_config_loading.py, and a
# process's one stderr line: test_config_validation.py::test_the_command_line_gives_one_line_for_a_nan_setting)
def test_bad_config_names_the_field(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stages:\n  near_dedup:\n    threshold: 2\n")
    proc = run_cli("curate", "-c", str(cfg), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "stages.near_dedup.threshold" in proc.stderr
    proc = run_cli("curate", "--set", "stages.filters.nope=1", "--print-config")
    assert proc.returncode == 2 and "stages.filters.nope" in proc.stderr


def test_print_config_round_trips(tmp_path):
    proc = run_cli("curate", "--print-config")
    assert proc.returncode == 0
    (tmp_path / "c.yaml").write_text(proc.stdout)
    assert load_config(tmp_path / "c.yaml") == CurationConfig()


def test_one_named_input_runs_as_its_printed_config(tmp_path):
    """`-i NAME=PATH` alone: the run dropped the name (no `input` column, no inputs table) while --print-config
    printed it, so the printed config, run, gave another manifest and card. Both now run the named input."""
    rows = write_jsonl(tmp_path / "rows.jsonl", [
        {"conversations": [{"from": "human", "value": f"Question {i}: what is the answer here?"},
                           {"from": "gpt", "value": f"The answer to question {i} is a long one. " * 3}]} for i in range(12)])
    (tmp_path / "base.yaml").write_text("report: false\ncheckpoint: false\n")
    printed = run_cli("curate", "-c", str(tmp_path / "base.yaml"), "-i", f"mine={rows}", "--print-config")
    assert printed.returncode == 0, printed.stderr
    (tmp_path / "printed.yaml").write_text(printed.stdout)
    for name, args in (("direct", ["-c", str(tmp_path / "base.yaml"), "-i", f"mine={rows}"]),
                       ("printed", ["-c", str(tmp_path / "printed.yaml")])):
        proc = run_cli("curate", "-q", *args, "-o", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
    direct, printed_run = (read_manifest(tmp_path / n) for n in ("direct", "printed"))
    assert direct["input"] == printed_run["input"] and direct["input"]["spec"] == "mine"
    assert [i["name"] for i in direct["inputs"]] == ["mine"]
    for f in ("train.parquet", "README.md"):
        assert (tmp_path / "direct" / f).read_bytes() == (tmp_path / "printed" / f).read_bytes()


@pytest.mark.parametrize("against", ["", "  "])
def test_an_empty_against_is_one_line_and_leaves_no_folder(tmp_path, against):
    proc = run_cli("curate", "-q", "--against", against, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: --against is empty: give the existing set (a `tome curate` output folder, a file, glob, folder or "
        "dataset id)"]
    assert not (tmp_path / "out").exists()


def test_print_config_carries_the_output_format(tmp_path):
    """``--format both --print-config`` printed no format: the printed config, run, wrote no messages splits.
    The format is the config's ``format:`` now; ``--format`` overrides it."""
    proc = run_cli("curate", "--format", "both", "--print-config")
    assert proc.returncode == 0 and "\nformat: both\n" in proc.stdout
    (tmp_path / "c.yaml").write_text(proc.stdout)
    assert load_config(tmp_path / "c.yaml").format == "both"
    proc = run_cli("curate", "-c", str(tmp_path / "c.yaml"), "--format", "messages", "--print-config")
    assert "\nformat: messages\n" in proc.stdout
    proc = run_cli("curate", "--set", "format=jsonl", "--print-config")
    assert proc.returncode == 2 and "format" in proc.stderr and "'finetome', 'messages' or 'both'" in proc.stderr
    rows = tmp_path / "rows.jsonl"
    write_jsonl(rows, [{"conversations": [{"from": "human", "value": f"Question {i}: what is the answer here?"},
                                          {"from": "gpt", "value": f"The answer to question {i} is a long one. " * 3}]}
                       for i in range(12)])
    run_curation(str(rows), tmp_path / "out", load_config(tmp_path / "c.yaml", {"report": False, "checkpoint": False}))
    assert (tmp_path / "out" / "messages" / "train.parquet").exists()  # the config's format, run


# --- resume after a real kill ----------------------------------------------------------------------------


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_outputs(tmp_path, alpaca_path):
    big = tmp_path / "big.jsonl"
    lines = alpaca_path.read_text().splitlines()
    # enough rows that the later stages take a while: alpaca rows with a suffix per copy
    rows = []
    for k in range(6):
        for line in lines:
            row = json.loads(line)
            row["conversations"][0]["value"] += f" (variant {k})"
            rows.append(row)
    write_jsonl(big, rows)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("report: false\nengine: {memory_mb: 0}\n")  # rows spill: their passes leave checkpoints

    reference = tmp_path / "ref"
    assert run_cli("curate", "-i", str(big), "-o", str(reference), "-c", str(cfg), "-q").returncode == 0

    out = tmp_path / "out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "tomecraft.cli", "curate", "-i", str(big), "-o", str(out), "-c", str(cfg), "-q"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def marked() -> bool:  # the checkpoint folder is numbered by the stage's place among all registered stages
        return any((out / ".checkpoints").glob("*-exact_dedup/state.json"))

    deadline = time.time() + 300
    while not marked() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "manifest.json").exists()

    resumed = run_cli("curate", "-i", str(big), "-o", str(out), "-c", str(cfg), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    manifest = read_manifest(out)
    assert manifest["resumed_stages"][:3] == ["validate", "normalize", "exact_dedup"]
    assert "resumed" in resumed.stderr
    for name in [f"{s}.parquet" for s in SPLITS] + ["removed.parquet", "quarantine.jsonl"]:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert strip_volatile(manifest) == strip_volatile(read_manifest(reference))

    # a changed config re-runs the stages from the first one that changed
    cfg.write_text("report: false\nengine: {memory_mb: 0}\nstages:\n  filters:\n    min_answer_words: 3\n")
    again = run_cli("curate", "-i", str(big), "-o", str(out), "-c", str(cfg), "--resume", "-q")
    assert again.returncode == 0
    assert read_manifest(out)["resumed_stages"] == ["validate", "normalize", "exact_dedup", "near_dedup"]


def _spilling(**stages) -> CurationConfig:
    return load_config(None, {"report": False, "engine": {"memory_mb": 0}, "stages": stages})  # passes leave checkpoints


def _data(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in [f"{s}.parquet" for s in SPLITS] + ["removed.parquet", "quarantine.jsonl"]}


def test_resume_never_takes_up_the_work_of_another_run_into_the_folder(tmp_path, alpaca_path):
    """Run X to its end, then run Y (another config) into the same folder without --resume, then X with --resume:
    Y's fresh run left X's later checkpoints beside its own removed rows, and the resume mixed them (an accounting
    error, the splits already rewritten). A fresh run now clears the checkpoints; X is redone exactly."""
    rows = [json.loads(line) for line in alpaca_path.read_text().splitlines()]
    for row in rows[:60]:  # the same prompt with another answer: a duplicate only by the first human turn
        rows.append({**row, "conversations": [row["conversations"][0], {"from": "gpt", "value": "Another answer, "
                                                                          "written out at some length for it."}]})
    source = str(write_jsonl(tmp_path / "in.jsonl", rows))
    reference = tmp_path / "ref"
    run_curation(source, reference, _spilling())
    out = tmp_path / "out"
    run_curation(source, out, _spilling())
    run_curation(source, out, _spilling(exact_dedup={"text_key": "first_human"}, near_dedup={"enabled": False}))
    run_curation(source, out, _spilling(), resume=True)
    assert _data(out) == _data(reference)
    assert strip_volatile(read_manifest(out))["stages"] == strip_volatile(read_manifest(reference))["stages"]


def test_a_stage_after_the_checkpoint_is_reported_as_this_run_ran_it(tmp_path, alpaca_path):
    """Resumed from an early checkpoint with a later stage switched on: its report came from the earlier run (off,
    nothing removed) while it removed rows."""
    out = tmp_path / "out"
    run_curation(str(alpaca_path), out, _spilling(filters={"enabled": False}))
    run_curation(str(alpaca_path), out, _spilling(), resume=True)
    reference = tmp_path / "ref"
    run_curation(str(alpaca_path), reference, _spilling())
    manifest = read_manifest(out)
    assert "near_dedup" in manifest["resumed_stages"] and "filters" not in manifest["resumed_stages"]
    filters = next(s for s in manifest["stages"] if s["name"] == "filters")
    assert filters["enabled"] and sum(filters["removed"].values()) > 0
    assert strip_volatile(manifest)["stages"] == strip_volatile(read_manifest(reference))["stages"]
    assert _data(out) == _data(reference)


@pytest.mark.slow  # (about 3 s)
def test_a_checkpoint_state_cut_short_is_not_resumed_from(tmp_path, alpaca_path):
    # a kill while state.json was written left it empty; --resume then ended in a JSONDecodeError traceback
    cfg = tmp_path / "c.yaml"
    cfg.write_text("report: false\nengine: {memory_mb: 0}\n")
    out = tmp_path / "out"
    first = run_cli("curate", "-i", str(alpaca_path), "-o", str(out), "-c", str(cfg), "-q")
    assert first.returncode == 0
    reference = {name: (out / name).read_bytes() for name in [f"{s}.parquet" for s in SPLITS] + ["removed.parquet"]}
    states = sorted((out / ".checkpoints").glob("*/state.json"))
    assert states, "the run left no checkpoint to damage"
    for state in states:
        state.write_text("")
    (out / "manifest.json").unlink()
    resumed = run_cli("curate", "-i", str(alpaca_path), "-o", str(out), "-c", str(cfg), "--resume", "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert read_manifest(out)["resumed_stages"] == []
    assert {name: (out / name).read_bytes() for name in reference} == reference


@pytest.mark.parametrize("where", ["write_removed", "write_report"])
def test_a_run_stopped_part_way_leaves_no_card_report_or_messages_of_the_run_before(tmp_path, monkeypatch, where):
    """A re-run into a folder, stopped (Ctrl-C) while it wrote its files or its report: the earlier run's
    manifest, card, messages/ config and report stayed beside files that are not theirs any more."""
    import curation.engines.local as local
    import curation.pipeline as pipeline

    spec = tmp_path / "in.jsonl"
    spec.write_text("".join(json.dumps({"conversations": [
        {"from": "human", "value": f"Question {i}: how do tides work on the coast?"},
        {"from": "gpt", "value": f"Tides rise and fall twice a day because the moon pulls the sea ({i})."}]}) + "\n"
        for i in range(40)))
    out = tmp_path / "out"
    run_curation(str(spec), out, load_config(None, {"checkpoint": False}), output_format="both")
    assert all((out / name).exists() for name in ("manifest.json", "README.md", "report.md", "report.html", "messages"))

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(local if where == "write_removed" else pipeline, where, stop)
    with pytest.raises(KeyboardInterrupt):
        run_curation(str(spec), out, load_config(None, {"checkpoint": False}), output_format="both")
    left = {p.name for p in out.iterdir()}
    assert not left & {"report.md", "report.html"}
    if where == "write_removed":  # stopped before this run's manifest: nothing claims a run
        assert not left & {"manifest.json", "README.md", "messages"}
