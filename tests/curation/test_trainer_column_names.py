"""An input column named like one TRL's SFTTrainer reads beside the turns (``input_ids``, ``labels``, ``prompt``,
``completion``, ``image``...) is kept apart as ``input_<name>``: left as it is, the trainer would read a curated
split as tokenized data, a prompt/completion or vision dataset, or take its loss from it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.validate import TRAINER_COLUMNS
from tests.curation.runs import sft_trainer_step

SPLITS = ("train", "validation", "test")


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        rows.append({"conversations": [{"from": "human", "value": f"q{i % 5} q{i // 5 % 5} q{(i + 1) % 5}"},
                                       {"from": "gpt", "value": f"a{i % 5} a{i // 5 % 5} a{(i + 3) % 5} a4"}],
                     "source": "s", "score": 1.0,
                     # what scraped and exported chat data carries under these names
                     "prompt": f"the original prompt {i}", "completion": "done", "chosen": "x", "rejected": "y",
                     "input_ids": [i, i + 1], "labels": [1, 2], "attention_mask": [1, 1], "image": f"img{i}.png",
                     "images": [f"img{i}.png"], "chat_template_kwargs": "not a mapping", "position_ids": [0],
                     "completion_mask": [0], "assistant_masks": [1], "seq_lengths": [2], "input_prompt": "kept",
                     "text": f"t{i}"})
    return rows


def _config():
    from curation.config import load_config

    return load_config(None, {"report": False, "checkpoint": False, "stages": {"near_dedup": {"enabled": False}}})


def _curate(tmp_path: Path, rows: list[dict], engine: str = "local") -> Path:
    from curation.pipeline import run_curation

    spec = tmp_path / "rows.jsonl"
    spec.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"out-{engine}"
    if engine == "ray":
        from curation.engines.ray import run_curation_ray

        run_curation_ray(str(spec), out, _config())
    else:
        run_curation(str(spec), out, _config())
    return out


@pytest.mark.parametrize("as_parquet", [False, True])
def test_trainer_columns_are_kept_apart_in_every_output(tmp_path, as_parquet):
    rows = _rows(12)
    if as_parquet:  # a table input goes through the columnar path
        import pyarrow as pa

        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
        from curation.pipeline import run_curation

        out = tmp_path / "out"
        run_curation(str(tmp_path / "rows.parquet"), out, _config())
    else:
        out = _curate(tmp_path, rows)
    kept = 0
    for split in SPLITS:
        table = pq.read_table(out / f"{split}.parquet")
        names = set(table.column_names)
        assert not names & TRAINER_COLUMNS, split
        if table.num_rows:
            assert {f"input_{c}" for c in TRAINER_COLUMNS} <= names
            assert "input_input_prompt" in names and "text" in names  # a kept-apart name moves once more; text stays
            for row in table.to_pylist():
                i = int(row["input_prompt"].rsplit(" ", 1)[1])
                assert row["input_input_ids"] == [i, i + 1] and row["input_image"] == f"img{i}.png"
            kept += table.num_rows
    assert kept == 12


@pytest.mark.slow
def test_trainer_columns_kept_apart_on_ray(ray_cluster, tmp_path):
    local = _curate(tmp_path, _rows(12))
    ray = _curate(tmp_path, _rows(12), engine="ray")
    from curation.contract import read_split

    for split in SPLITS:
        assert read_split(ray, split).equals(read_split(local, split))


@pytest.mark.slow
def test_sft_trainer_takes_the_default_split_with_trainer_named_columns(tmp_path):
    """The finetome (default) config, extra columns named like TRL's, into SFTTrainer as it is: one step trains
    (with the names left as they were it took the rows for a vision dataset, or for prompt/completion data,
    and stopped)."""
    import datasets

    out = _curate(tmp_path, _rows(12))
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert sft_trainer_step(ds["train"], tmp_path) == 1


@given(st.lists(st.lists(st.sampled_from(["input_", "ids", "id", "x", "_", "prompt"]), min_size=1, max_size=5)
                .map("".join), unique=True, max_size=12))
def test_no_two_input_columns_meet_after_being_kept_apart(names):
    """The rule is one-to-one whatever the names, also with taken names that start with ``input_``, and it
    leaves no name on one tome writes."""
    from curation.readers.raw import kept_apart
    from curation.validate import LABELLED

    taken = LABELLED | {"input_x"}
    moved = [kept_apart(n, taken) for n in names]
    assert len(set(moved)) == len(moved)
    assert not set(moved) & taken
