"""The stage registry: a stage written here, registered at run time, runs through the config, the local
engine and the outputs without any engine knowing it; row stages after the split may add columns; a stage
error is one line; a privacy stage's scrubbing reaches quarantine.jsonl and the checkpoints."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from curation.config import load_config
from curation.contract import SPLITS, read_manifest, read_quarantine, read_removed, read_split
from curation.core import registry
from curation.core.config_base import StrictModel
from curation.core.registry import StageSpec
from curation.core.stage import RowStage, StageError, StageOutput
from curation.pipeline import run_curation


class _Cfg(StrictModel):
    enabled: bool = True
    word: str = "photosynthesis"


class WordFilter(RowStage):
    name = "word_filter"

    def __init__(self, cfg: _Cfg):
        self.cfg = cfg

    def process(self, batch):
        from curation.core.columns import text_key

        hit = pc.match_substring(text_key(batch.column("conversations"), "conversation"), self.cfg.word, ignore_case=True)
        reason = pc.if_else(hit, pa.scalar("filter:word"), pa.scalar(None, pa.string()))
        return StageOutput(batch, reason=reason, details=pc.if_else(hit, pa.scalar(json.dumps({"word": self.cfg.word})),
                                                                    pa.scalar(None, pa.string())))


class TurnCount(RowStage):
    """After the split: adds a column (turns per row) and reads the split each row landed in."""

    name = "turn_count"

    def process(self, batch):
        turns = pc.list_value_length(batch.column("conversations"))
        batch = batch.append_column("turns", turns)
        return StageOutput(batch, stats={"rows_by_split": {s: int(pc.sum(pc.equal(batch.column("_split"), s)).as_py() or 0)
                                                           for s in SPLITS}})


class Broken(RowStage):
    name = "broken"

    def process(self, batch):
        raise StageError("broken: the endpoint at http://127.0.0.1:9 is down (start it, or switch the stage off)")


class Redact(RowStage):
    name = "redact"

    def process(self, batch):
        return StageOutput(batch)


@pytest.fixture
def registered():
    added: list[str] = []

    def add(spec: StageSpec) -> None:
        registry.register(spec)
        added.append(spec.name)

    yield add
    for name in added:
        registry.unregister(name)


def _rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _conv(q, a):
    return {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a}], "source": "s", "score": 4.0}


ROWS = [_conv(f"Question {i} about photosynthesis?" if i % 4 == 0 else f"Question {i} about rivers?",
              f"An answer of a few words, number {i}, long enough to keep.") for i in range(40)]


def test_a_registered_stage_gets_its_config_section_runs_and_is_counted(registered, tmp_path):
    registered(StageSpec(name="word_filter", order=55, kind="row", config=_Cfg, build=lambda c, _: WordFilter(c),
                         reasons=("filter:word",)))
    cfg = load_config(None, {"report": False, "stages": {"word_filter": {"word": "photosynthesis"}}})
    assert list(cfg.resolved()["stages"]).index("word_filter") == list(cfg.resolved()["stages"]).index("filters") + 1
    run_curation(str(_rows(tmp_path / "in.jsonl", ROWS)), tmp_path / "out", cfg)
    removed = read_removed(tmp_path / "out").to_pylist()
    assert {r["reason"] for r in removed} == {"filter:word"} and len(removed) == 10
    assert json.loads(removed[0]["details"]) == {"word": "photosynthesis"}
    stages = {s["name"]: s for s in read_manifest(tmp_path / "out")["stages"]}
    assert stages["word_filter"]["removed"] == {"filter:word": 10} and stages["word_filter"]["rows_in"] == 40
    # switched off in the config: counted as a pass-through
    run_curation(str(tmp_path / "in.jsonl"), tmp_path / "off",
                 load_config(None, {"report": False, "stages": {"word_filter": {"enabled": False}}}))
    assert read_removed(tmp_path / "off").num_rows == 0


def test_row_stages_after_the_split_may_add_columns(registered, tmp_path):
    registered(StageSpec(name="turn_count", order=96, kind="row", config=_Cfg, build=lambda c, _: TurnCount()))
    run_curation(str(_rows(tmp_path / "in.jsonl", ROWS)), tmp_path / "out", load_config(None, {"report": False}))
    total = 0
    for split in SPLITS:
        table = read_split(tmp_path / "out", split)
        assert "turns" in table.column_names and "_split" not in table.column_names
        assert set(table.column("turns").to_pylist()) <= {2}
        total += table.num_rows
    stats = {s["name"]: s for s in read_manifest(tmp_path / "out")["stages"]}["turn_count"]["stats"]
    assert sum(stats["rows_by_split"].values()) == total == 40


def test_a_stage_error_is_one_line(registered, tmp_path):
    registered(StageSpec(name="broken", order=56, kind="row", config=_Cfg, build=lambda c, _: Broken()))
    from tomecraft.cli import app

    src = _rows(tmp_path / "in.jsonl", ROWS)
    res = CliRunner().invoke(app, ["curate", "-i", str(src), "-o", str(tmp_path / "out"), "-q", "--set", "report=false"])
    assert res.exit_code == 2
    assert "the endpoint at http://127.0.0.1:9 is down" in res.output and "Traceback" not in res.output


def test_a_privacy_stage_scrubs_quarantine_and_keeps_no_earlier_checkpoint(registered, tmp_path):
    registered(StageSpec(name="redact", order=13, kind="row", config=_Cfg, build=lambda c, _: Redact(),
                         scrub=lambda stage, text: text.replace("alice@example.com", "<EMAIL>")))
    src = tmp_path / "in.jsonl"
    _rows(src, ROWS)
    with src.open("a", encoding="utf-8") as fh:
        fh.write('{"conversations": "mail alice@example.com", "source": "s"}\n')
    run_curation(str(src), tmp_path / "out", load_config(None, {"report": False, "engine": {"memory_mb": 0}}))
    quarantine = read_quarantine(tmp_path / "out")
    assert len(quarantine) == 1 and "<EMAIL>" in quarantine[0]["raw"] and "alice@" not in json.dumps(quarantine)
    checkpoints = sorted(p.name for p in (tmp_path / "out" / ".checkpoints").iterdir())
    assert not any(name.startswith(("00-ids", "00-validate")) for name in checkpoints), checkpoints
    assert any(name.endswith("exact_dedup") for name in checkpoints)  # after the privacy stage: kept
