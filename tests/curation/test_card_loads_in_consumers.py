"""What ``tome curate`` writes loads in the tools users feed it to (``datasets.load_dataset``, TRL's data
utilities, pandas, pyarrow), for inputs that make the output unusual."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest



def _rows(n: int, extra=lambda i: {}) -> list[dict]:
    rows = []
    for i in range(n):
        conv = [{"from": "human", "value": f"Question {i}: how do the numbers {i * 7 % 97} and {i * 13 % 89} relate?"},
                {"from": "gpt", "value": f"Answer {i}: " + " ".join(f"word{(i * k) % 977}" for k in range(20))}]
        rows.append({"conversations": conv, "source": "generated", "score": 1.0, **extra(i)})
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _load(root: Path, config: str, tmp_path: Path):
    import datasets

    return datasets.load_dataset(str(root), config, cache_dir=str(tmp_path / "hf-cache"))


def test_struct_field_named_type_loads(tmp_path):
    """An extra column of objects with a ``_type`` key: ``datasets`` cannot write its features as YAML (it reads
    that key as a feature's type tag), so the card leaves the config's features out; the run used to end with a
    TypeError traceback from the card, after the splits were written."""
    from curation.card import check_card, read_card_header

    spec = _write(tmp_path / "rows.jsonl", _rows(40, lambda i: {"meta": {"_type": "note", "n": i}}))
    out = tmp_path / "out"
    from curation.config import load_config
    from curation.pipeline import run_curation

    run_curation(str(spec), out, load_config(None, {"report": False, "checkpoint": False}), output_format="both")
    header = read_card_header(out)
    infos = {i["config_name"]: i for i in header["dataset_info"]}
    assert "features" not in infos["default"]
    assert infos["messages"]["features"][1]["name"] == "messages"
    check_card(out)  # what tome publish checks before it uploads the card as it is
    ds = _load(out, "default", tmp_path)
    files = {s: pq.read_metadata(out / f"{s}.parquet").num_rows for s in ("train", "validation", "test")}
    assert {s: d.num_rows for s, d in ds.items()} == {s: n for s, n in files.items() if n}
    assert ds["train"][0]["meta"]["_type"] == "note"
    assert _load(out, "messages", tmp_path)["train"].num_rows == files["train"]


@pytest.mark.slow  # (about 30 s and 5 GB of memory: 2 GiB of text is the point)
def test_messages_split_past_two_gib_of_text(tmp_path):
    """A split holding more than 2 GiB of turn text: its ``messages`` split used to stop the run with Arrow's
    ``offset overflow while concatenating arrays`` (the split read whole and its turns made one array, then written
    as one row group); now it is written a batch at a time, in row groups each of which ``datasets`` reads."""
    from curation.card import write_messages_splits
    from curation.writer import CORE_TYPES

    root = tmp_path / "out"
    root.mkdir()
    value, n = "x" * (1 << 20), 1050  # two row groups of 1050 rows of 1 MiB: 2.05 GiB in all
    schema = pa.schema(list(CORE_TYPES.items()))
    with pq.ParquetWriter(root / "train.parquet", schema, compression="zstd") as writer:
        for g in range(2):
            turns = pa.array([[{"from": "human", "value": value}, {"from": "gpt", "value": "ok"}]] * n,
                             CORE_TYPES["conversations"])
            writer.write_table(pa.table({"id": [f"{g}-{i}" for i in range(n)], "conversations": turns,
                                         "source": ["s"] * n, "score": [1.0] * n}, schema=schema))
            del turns
    (root / "manifest.json").write_text(json.dumps({"input": {"spec": "rows.parquet", "kind": "parquet"}}))
    target = write_messages_splits(root)["train"]
    meta = pq.read_metadata(target)
    assert meta.num_rows == 2 * n
    assert meta.num_row_groups > 1
    first = pq.ParquetFile(target).read_row_group(0)  # a row group reads as one batch (as datasets reads it)
    assert first.column("messages")[0].as_py() == [{"role": "user", "content": value}, {"role": "assistant", "content": "ok"}]


def test_one_split_with_system_turns_feeds_trl(tmp_path):
    """Every row in train (``stages.split.train=1.0``), system turns, extra columns named like the ones TRL and the
    messages split use: ``load_dataset`` gives train alone in both configs, with the files' rows and features, and
    the ``messages`` rows go through TRL's data utilities with SmolLM2's (offline) chat template as they are."""
    import datasets
    trl_data = pytest.importorskip("trl.data_utils")
    from transformers import AutoTokenizer

    from curation.config import load_config
    from curation.pipeline import run_curation
    from curation.token_lengths.tokenizer import offline_tokenizer_dir
    from training.models import OFFLINE_SMOLLM2

    def extra(i):
        return {"messages": [{"role": "user", "content": "not the turns"}], "role": "r", "content": "c", "text": f"t{i}",
                "input_ids": [i], "empty": None}

    rows = _rows(30, extra)
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row["conversations"].insert(0, {"from": "system", "value": f"Answer as helper {i}."})
    spec = _write(tmp_path / "rows.jsonl", rows)
    out = tmp_path / "out"
    config = load_config(None, {"report": False, "checkpoint": False,
                                "stages": {"split": {"train": 1.0, "validation": 0.0, "test": 0.0}}})
    run_curation(str(spec), out, config, output_format="both")
    for config_name, folder in (("default", out), ("messages", out / "messages")):
        ds = _load(out, config_name, tmp_path)
        assert list(ds) == ["train"]
        assert ds["train"].num_rows == pq.read_metadata(folder / "train.parquet").num_rows == 30
        assert ds["train"].features == datasets.Features.from_arrow_schema(pq.read_schema(folder / "train.parquet"))
    messages = _load(out, "messages", tmp_path)["train"]
    assert messages.column_names == ["id", "messages", "source", "score"]
    tokenizer = AutoTokenizer.from_pretrained(offline_tokenizer_dir(OFFLINE_SMOLLM2))
    with_system = [r for r in messages if r["messages"][0]["role"] == "system"]
    assert with_system and len(with_system) < len(messages)
    for row in [with_system[0], *messages.select(range(3))]:
        assert trl_data.is_conversational(row)
        text = trl_data.maybe_apply_chat_template({"messages": row["messages"]}, tokenizer)["text"]
        assert text.count("<|im_start|>assistant") == sum(m["role"] == "assistant" for m in row["messages"])
        assert row["messages"][-1]["content"] in text
