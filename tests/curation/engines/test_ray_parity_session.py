"""`tome curate --engine ray` gives what the local engine gives on what the inputs learned lately: bz2 files read
by the parallel decoder (several streams, bytes after the last one), Capybara's ``{input, output}`` pairs (in
``conversation`` and in ``conversations``, one pair without its answer), FLAN's ``inputs``/``targets``, a hub
input's split, a weighted input left out of the mix (every row a duplicate); ``--against`` a hub-layout folder (every
split), one split of a ``save_to_disk`` DatasetDict, a curated folder whose cached index is damaged; and the same
one-line refusal for a bz2 file cut short (raised on a worker), KTO's labelled rows, preference pairs, OASST's
message table, text-only rows, two inputs reading one file, and an output folder inside a plain ``--against``.

The session's one local Ray cluster (``ray_cluster``, tests/conftest.py); one fixture runs
every case on both engines, the Ray one cut small, and each comparison is by content (splits, removed rows, their
schemas, the quarantine, the manifest).
"""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import read_manifest
from curation.pipeline import run_curation
from curation.readers import InputError

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
from curation.engines.ray import RayOptions, run_curation_ray  # noqa: E402
from tests.curation.engines.test_ray_parity_inputs import (  # noqa: E402,F401  (cluster: the session's one cluster)
    assert_same_content, cluster, run_on_both_engines)
from tests.curation.test_against_existing import rows, write_jsonl  # noqa: E402

CUT = RayOptions(unit_bytes=4_000, unit_records=7)
Q = "Which gas do the leaves of a plant take in to make their food"
A = "They take in carbon dioxide through small pores and turn it into sugar with the energy of sunlight."


def config(inputs=None, **stages):
    return load_config(None, {"report": False, "checkpoint": False, "engine": {"batch_rows": 5}, "stages": stages,
                              **({"inputs": inputs} if inputs else {})})


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def against(path) -> callable:
    return lambda: config(against={"path": str(path)})


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("session_inputs")
    plain = [{"conversations": [{"from": "human", "value": f"{Q} ({i})?"}, {"from": "gpt", "value": f"{A} [{i}]"}]}
             for i in range(90)]
    # two streams (the parallel decoder's path: the file starts and ends like a stream); two streams and bytes of
    # no stream after them (Python's decoder's path)
    (root / "bz2").mkdir()
    (root / "bz2" / "a.jsonl.bz2").write_bytes(bz2.compress(jsonl(plain[:20])) + bz2.compress(jsonl(plain[20:50])))
    (root / "bz2" / "b.jsonl.bz2").write_bytes(bz2.compress(jsonl(plain[50:70])) + bz2.compress(jsonl(plain[70:]))
                                               + b"trailing bytes")
    whole = bz2.compress(jsonl(plain))
    (root / "cut.jsonl.bz2").write_bytes(whole[: len(whole) * 2 // 3])
    pairs = [{"conversations": [{"input": f"{Q} ({i})?", "output": f"{A} [{i}]"},
                                {"input": f"And at night ({i})?", "output": f"At night they give it back [{i}]."}]}
             for i in range(80)]
    del pairs[70]["conversations"][1]["output"]  # (after the first records that tell the shape)
    (root / "capybara.jsonl").write_bytes(jsonl(pairs))
    (root / "lmsys.jsonl").write_bytes(jsonl([{"conversation": [{"input": f"Why is the sky blue ({i})?",
                                                                 "output": f"Air scatters blue light most [{i}]."}]}
                                              for i in range(30)]))
    (root / "flan.jsonl").write_bytes(jsonl([{"inputs": f"Translate 'tree' to French ({i}).",
                                              "targets": f"The French word is arbre [{i}].", "task": "t"}
                                             for i in range(30)]))
    (root / "copies.jsonl").write_bytes(jsonl([{"inputs": f"Translate 'tree' to French ({i}).",
                                                "targets": f"The French word is arbre [{i}].", "task": "t"}
                                               for i in range(10)]))
    for name, records in {
        "kto": [{"prompt": f"{Q} ({i})?", "completion": A, "label": i % 2 == 0} for i in range(10)],
        "preference": [{"prompt": f"{Q} ({i})?", "chosen": A, "rejected": "No idea."} for i in range(10)],
        "oasst": [{"message_id": str(i), "parent_id": None, "role": "prompter", "text": Q} for i in range(10)],
        "text": [{"text": f"{A} ({i})"} for i in range(10)],
    }.items():
        (root / f"{name}.jsonl").write_bytes(jsonl(records))
    # existing sets: 60 rows; the new input repeats every other one
    write_jsonl(root / "new.jsonl", rows(1, 60)[::2] + rows(2, 20))
    table = pa.Table.from_pylist(rows(1, 60))
    (root / "hub" / "data").mkdir(parents=True)
    pq.write_table(table.slice(0, 50), root / "hub" / "data" / "train-00000-of-00001.parquet")
    pq.write_table(table.slice(50), root / "hub" / "data" / "test-00000-of-00001.parquet")
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset(table.slice(0, 50)),
                          "test": datasets.Dataset(table.slice(50))}).save_to_disk(str(root / "saved"))
    (root / "web").mkdir()
    write_jsonl(root / "web" / "a.jsonl", rows(4, 10))
    write_jsonl(root / "web" / "b.jsonl", rows(5, 10))
    (root / "plain").mkdir()
    write_jsonl(root / "plain" / "part-0.jsonl", rows(1, 30))
    return root


@pytest.fixture(scope="module")
def runs(cluster, folder, tmp_path_factory) -> Path:
    """Every case on both engines: ``<case>/local`` and ``<case>/ray``."""
    import datasets

    table = pa.Table.from_pylist(rows(3, 40))

    def load_dataset(name, split=None, streaming=False, **kwargs):  # a hub dataset, offline
        assert name == "org/chat"
        return datasets.DatasetDict({"train": datasets.Dataset(table.slice(0, 30)),
                                     "test": datasets.Dataset(table.slice(30))})[split or "train"]

    root = tmp_path_factory.mktemp("session_runs")
    new = str(folder / "new.jsonl")
    cases = {
        "bz2_streams": (str(folder / "bz2"), config),
        "chat_shapes_mix": (None, lambda: config([
            {"path": str(folder / "capybara.jsonl"), "weight": 2}, {"path": str(folder / "lmsys.jsonl")},
            {"path": str(folder / "flan.jsonl"), "name": "flan", "weight": 1},
            {"path": str(folder / "copies.jsonl"), "name": "copies", "weight": 1},  # every row flan's: left out
            {"path": "org/chat:test", "name": "hub"}])),
        "against_hub_layout": (new, against(folder / "hub")),
        "against_saved_split": (new, against(f"{folder / 'saved'}:test")),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets, "load_dataset", load_dataset)
        for name, (spec, make_config) in cases.items():
            run_on_both_engines(spec, make_config, "finetome", root / name, CUT)
    return root


@pytest.mark.parametrize("case", ["bz2_streams", "chat_shapes_mix", "against_hub_layout", "against_saved_split"])
def test_ray_output_is_the_local_output(runs, case):
    assert_same_content(runs / case / "local", runs / case / "ray")


def test_the_cases_hold_what_they_are_for(runs):
    """The inputs reach what is compared above (every row quarantined on both engines would compare equal too)."""
    assert read_manifest(runs / "bz2_streams" / "ray")["accounting"]["input_rows"] == 90
    mix = read_manifest(runs / "chat_shapes_mix" / "ray")
    records = {i["name"]: i for i in mix["inputs"]}
    assert records["capybara"]["rows_in"] == 80 and records["capybara"]["quarantined"] == 1
    assert records["capybara"]["kept"] == 60 and records["lmsys"]["kept"] == records["flan"]["kept"] == 30  # 2:1
    assert records["hub"]["split"] == "test" and records["hub"]["rows_in"] == 10
    assert records["copies"]["kept"] == 0 and records["copies"]["target_share"] is None
    assert next(s for s in mix["stages"] if s["name"] == "mix")["stats"]["left_out"] == ["copies"]
    for case, existing in (("against_hub_layout", 60), ("against_saved_split", 10)):
        stats = next(s for s in read_manifest(runs / case / "ray")["stages"] if s["name"] == "against")["stats"]
        assert stats["existing_rows"] == existing and stats["exact"] == existing // 2, case


def test_a_damaged_cached_index_is_built_again_on_ray(cluster, folder, tmp_path):
    curated = tmp_path / "curated"
    run_curation(str(write_jsonl(tmp_path / "old.jsonl", rows(1, 60))), curated, config())
    run_curation(str(folder / "new.jsonl"), tmp_path / "local", against(curated)())  # builds the cached index
    [index] = (curated / ".cache" / "against").glob("index-*")
    (index / "rows.arrow").write_bytes(b"not an arrow file" * 20)
    run_curation_ray(str(folder / "new.jsonl"), tmp_path / "ray", against(curated)(), CUT)
    stats = next(s for s in read_manifest(tmp_path / "ray")["stages"] if s["name"] == "against")["stats"]
    assert stats["index"] == "built" and stats["exact"] == 30
    assert_same_content(tmp_path / "local", tmp_path / "ray")


def test_refused_inputs_are_the_same_one_line_on_both_engines(cluster, folder, tmp_path):
    """Refused before the run (the shapes, two inputs reading one file, --out inside a plain --against): the same
    InputError, and no output folder. A bz2 file cut before its first line ends is no refusal: one quarantined
    record, the same on both engines (read on a worker)."""
    cut = {}
    for engine, run in (("local", run_curation), ("ray", lambda *a: run_curation_ray(*a, CUT))):
        run(str(folder / "cut.jsonl.bz2"), tmp_path / "bz2_cut" / engine, config())
        cut[engine] = (tmp_path / "bz2_cut" / engine / "quarantine.jsonl").read_text(encoding="utf-8")
    assert cut["local"] == cut["ray"] and len(cut["local"].splitlines()) == 1
    assert "the file breaks off here" in cut["local"] and "end-of-stream marker" in cut["local"]
    cases = {
        "kto": (str(folder / "kto.jsonl"), config, "holds unpaired preference data"),
        "preference": (str(folder / "preference.jsonl"), config, "holds preference pairs"),
        "oasst": (str(folder / "oasst.jsonl"), config, "holds one message per row"),
        "text": (str(folder / "text.jsonl"), config, "holds plain text"),
        "one_file_twice": ([str(folder / "web" / "*.jsonl"), str(folder / "web" / "a*.jsonl")], config, "a file may be in one input"),
        "out_inside_against": (str(folder / "new.jsonl"), against(folder / "plain"), "would read its own output"),
    }
    for name, (spec, make_config, expected) in cases.items():
        messages = []
        for engine, run in (("local", run_curation), ("ray", lambda *a: run_curation_ray(*a, CUT))):
            out = folder / "plain" / name if name == "out_inside_against" else tmp_path / name / engine
            with pytest.raises(InputError) as caught:
                run(spec, out, make_config())
            messages.append(str(caught.value).replace(str(out), "OUT"))
            assert "\n" not in messages[-1] and expected in messages[-1], (name, engine)
            assert not out.exists(), (name, engine)
        assert messages[0] == messages[1], name
