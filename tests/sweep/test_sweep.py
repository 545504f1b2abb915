"""`tome sweep`: the config, the plan and its `tome train` commands, decontamination, verdicts, a killed sweep
resumed (with stand-in training, fast), and `configs/sweep_cpu.yaml` end to end on the offline SmolLM2 (slow)."""

from __future__ import annotations

import copy
import json
import math
import random
from pathlib import Path

import pytest
import yaml

from sweep.config import SweepConfigError, load_sweep_config
from sweep.plan import cell_overrides, parse_train_command, plan_cells

REPO = Path(__file__).resolve().parents[2]
CPU_CONFIG = REPO / "configs" / "sweep_cpu.yaml"


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def base_sweep(**extra) -> dict:
    data = {
        "train_config": str(REPO / "configs" / "train_cpu.yaml"),
        "train": {"training": {"max_steps": 7}},
        "data": {"curated": {"curate": None}, "raw": {"raw_of": "curated"}, "aug": {"curate": "configs/augment.yaml"}},
        "grid": {"data": ["raw", "curated"], "training.learning_rate": [1e-4, 2e-4]},
        "cells": [{"data": "aug", "training.learning_rate": 2e-4}],
        "seeds": [1, 2, 3],
        "budget": {"tokens": 5000},
    }
    data.update(extra)
    return data


# -- config -------------------------------------------------------------------------------------------------


def test_config_round_trips_and_names_the_bad_key(tmp_path):
    cfg = load_sweep_config(write_yaml(tmp_path / "s.yaml", base_sweep()))
    assert cfg.data["curated"].kind() == "curate" and cfg.data["raw"].kind() == "raw"
    assert cfg.heldout_variant() == "curated"  # the first curate variant
    again = load_sweep_config(write_yaml(tmp_path / "again.yaml", yaml.safe_load(cfg.to_yaml())))
    assert again.resolved() == cfg.resolved()  # `curate: null` stays a curate variant through the YAML
    assert load_sweep_config(CPU_CONFIG).grid["data"] == ["raw", "curated"]
    bad = [
        ({"grid": {"data": ["raw", "nope"]}}, "grid.data: no variant named 'nope'"),
        ({"data": {"raw": {"raw_of": "curated"}}}, "no variant named 'curated'"),
        ({"data": {"x": {"folder": "a", "curate": None}}}, "exactly one of folder, curate or raw_of"),
        ({"grid": {"training.seed": [1, 2]}}, "seeds go in `seeds`"),
        ({"grid": {"learning_rate": [1]}}, "dotted `tome train` key"),
        ({"budget": {"tokens": 5, "steps": 3}}, "exactly one of budget.tokens or budget.steps"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"export": {"quants": ["q9_9"]}}, "unknown quantization"),
    ]
    for change, message in bad:
        path = write_yaml(tmp_path / "bad.yaml", base_sweep(**change))
        with pytest.raises(SweepConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
            load_sweep_config(path)
        assert str(path) in str(info.value)
    with pytest.raises(SweepConfigError, match="not found"):
        load_sweep_config(tmp_path / "missing.yaml")


def test_set_overrides_reach_dotted_axes_and_nested_keys():
    from sweep.config import parse_sweep_override

    assert parse_sweep_override("grid.training.learning_rate=[1.0e-4, 3e-4]") == {
        "grid": {"training.learning_rate": [1e-4, 3e-4]}}  # YAML 1.1 reads 3e-4 as text; --set a number
    assert parse_sweep_override("budget.tokens=300") == {"budget": {"tokens": 300}}
    assert parse_sweep_override("train.training.seed=4") == {"train": {"training": {"seed": 4}}}
    cfg = load_sweep_config(CPU_CONFIG, parse_sweep_override("grid.training.learning_rate=[1e-3, 2]"))
    assert cfg.grid == {"data": ["raw", "curated"], "training.learning_rate": [0.001, 2]}


def test_a_dry_run_checks_cells_folders_and_curation_configs_before_anything_runs(tmp_path):
    # these used to pass the dry run (or blame configs/train_cpu.yaml / `--set`) and fail minutes into the sweep
    from typer.testing import CliRunner

    from sweep.runner import check_sweep
    from tomecraft.cli import app

    def message(**change) -> str:
        with pytest.raises(SweepConfigError) as info:
            check_sweep(load_sweep_config(write_yaml(tmp_path / "s.yaml", base_sweep(**change))))
        return str(info.value)

    assert message(grid={"data": ["raw"], "training.learning_rte": [1e-4]}).startswith(
        "cell raw__learning_rte-0.0001: training.learning_rte: unknown key (known: per_device_batch_size")
    assert message(grid={"data": ["raw"], "lora.r": [0]}) == "cell raw__r-0: lora.r: Input should be greater than or equal to 1 (got 0)"
    assert message(train={"training": {"lr": 1}}).startswith("train: training.lr: unknown key")
    assert message(data={"x": {"folder": str(tmp_path / "nothing")}}, heldout="x", grid={"data": ["x"]}, cells=[]) == (
        f"data.x.folder: {tmp_path / 'nothing'}: not a folder (expected the --out folder of `tome curate`)")
    assert message(data={"c": {"curate": str(tmp_path / "nope.yaml")}}, grid={"data": ["c"]}, cells=[]) == (
        f"data.c.curate: {tmp_path / 'nope.yaml'}: config file not found")
    assert message(train_config=str(tmp_path / "nope.yaml")) == f"train_config: {tmp_path / 'nope.yaml'}: config file not found"
    assert message(eval={"prompts": str(tmp_path / "p.yaml")}).startswith("eval.prompts: ")
    assert message(input=str(tmp_path / "rows.jsonl")) == f"input: {tmp_path / 'rows.jsonl'}: file not found"
    check_sweep(load_sweep_config(write_yaml(tmp_path / "hub.yaml", base_sweep(input="someone/some-dataset"))))  # offline: left to the run
    # the command line: exit 2, the sweep file named, no traceback
    path = write_yaml(tmp_path / "bad.yaml", base_sweep(grid={"data": ["raw"], "lora.r": [0]}))
    result = CliRunner().invoke(app, ["sweep", "-c", str(path), "--dry-run", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"{path}: cell raw__r-0: lora.r" in " ".join(result.output.split())
    for bad in ("grid.training.learning_rate=[1", "novalue"):
        result = CliRunner().invoke(app, ["sweep", "-c", str(CPU_CONFIG), "--dry-run", "--set", bad])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    # nothing to export while export.cells asks for exports
    with pytest.raises(SweepConfigError, match="export.quants is empty"):
        load_sweep_config(write_yaml(tmp_path / "e.yaml", base_sweep(export={"quants": [], "cells": "all"})))
    assert not (tmp_path / "out").exists()


# -- plan -------------------------------------------------------------------------------------------------


def test_plan_expands_the_grid_seed_major_with_an_equal_budget(tmp_path):
    from training.config import load_config

    cfg = load_sweep_config(write_yaml(tmp_path / "s.yaml", base_sweep()))
    base = load_config(cfg.train_config, cfg.train).resolved()
    cells = plan_cells(cfg, base)
    assert len(cells) == (2 * 2 + 1) * 3
    assert [c.seed for c in cells[:5]] == [1] * 5 and cells[5].seed == 2  # one full pass per seed first
    first = cells[0]
    assert first.id == "raw__learning_rate-0.0001__seed-1" and first.group == "raw__learning_rate-0.0001"
    assert len({c.group for c in cells}) == 5 and len({c.id for c in cells}) == 15
    for cell in cells:
        train_cfg = load_config(cfg.train_config, cell_overrides(cfg, cell))
        assert train_cfg.training.max_tokens == 5000 and train_cfg.training.max_steps is None  # budget replaces max_steps
        assert train_cfg.training.seed == cell.seed
        raw = cell.data == "raw"
        assert (train_cfg.data.untrainable_rows == "skip_all") == raw  # raw data trains as a plain trainer would
    # the axis is the budget: then the sweep's budget does not apply
    cfg2 = load_sweep_config(write_yaml(tmp_path / "b.yaml", base_sweep(
        grid={"data": ["curated"], "training.max_tokens": [1000, 2000]}, cells=[], train={})))
    assert [load_config(cfg2.train_config, cell_overrides(cfg2, c)).training.max_tokens
            for c in plan_cells(cfg2)][:2] == [1000, 2000]


def test_every_printed_command_trains_exactly_the_cells_config(tmp_path):
    from sweep.runner import base_config_path
    from sweep.plan import train_command
    from training.config import load_config

    cfg = load_sweep_config(write_yaml(tmp_path / "s.yaml", base_sweep(
        train={"lora": {"target_modules": ["q_proj", "v_proj"]}, "model": {"max_seq_length": 128},
               "training": {"max_steps": 7, "lr_scheduler": "cosine"}})))
    base = base_config_path(cfg)
    for cell in plan_cells(cfg, load_config(base, cfg.train).resolved()):
        command = train_command(cfg, cell, tmp_path / "data" / cell.data, tmp_path / "cells" / cell.id, base)
        assert command.startswith("tome train -d ") and f"cells/{cell.id}" in command
        config, overrides = parse_train_command(command)
        assert load_config(config, overrides).resolved() == load_config(base, cell_overrides(cfg, cell)).resolved()


# -- decontamination ---------------------------------------------------------------------------------------


def test_decontamination_finds_exact_normalized_and_near_copies_of_held_out_rows(tmp_path, alpaca_path):
    from sweep.decontaminate import find_contamination

    rows = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:120]]
    long_ones = [r for r in rows if len(r["conversations"][1]["value"].split()) > 120]
    held = long_ones[:4] + [r for r in rows if r not in long_ones][:6]
    others = [r for r in rows if r not in held][:50]
    near = copy.deepcopy(long_ones[0])
    words = near["conversations"][1]["value"].split(" ")
    words[len(words) // 2] = "banana"
    near["conversations"][1]["value"] = " ".join(words)
    spaced = copy.deepcopy(held[5])
    spaced["conversations"][0]["value"] = "  " + spaced["conversations"][0]["value"] + "\t"
    train_a = others[:30] + [held[1], near, spaced]
    train_b = others[30:] + [held[1]]
    found = find_contamination(held, {"a": train_a, "b": train_b}, tmp_path / "dec")
    assert found.positions == {"a": {30, 31, 32}, "b": {20}}
    assert found.reasons["a"] == {"exact_duplicate": 2, "near_duplicate": 1}
    assert found.held_out_rows == 10 and found.checked_rows == 53  # rows shared by variants are checked once


# -- verdicts -----------------------------------------------------------------------------------------------


def _records(effect: float, noise: float, seeds=(1, 2, 3), lrs=(1e-4, 2e-4)):
    rng = random.Random(0)
    out = []
    for data in ("raw", "curated"):
        for lr in lrs:
            for seed in seeds:
                loss = 2.0 + (effect if data == "raw" else 0.0) + (0.05 if lr == 1e-4 else 0.0) + rng.gauss(0, noise)
                out.append({"axes": {"data": data, "training.learning_rate": lr}, "seed": seed,
                            "group": f"{data}-{lr}", "heldout_loss": loss, "checks_passed": 3})
    return out


def test_verdicts_compare_the_effect_with_the_seed_spread():
    from sweep.verdicts import all_verdicts, axis_verdict

    big = axis_verdict(_records(effect=0.3, noise=0.01), "data", "heldout_loss")
    assert (big.best, big.worst, big.exceeds) == ("curated", "raw", True)
    assert big.wins == big.comparisons == 6 and abs(big.effect - 0.3) < 0.02 and 0 < big.seed_sd < 0.03
    assert "curated lower than raw" in big.line() and "EXCEEDS" in big.line()
    small = axis_verdict(_records(effect=0.005, noise=0.05), "data", "heldout_loss")
    assert small.exceeds is False and "does not exceed" in small.line()
    single = axis_verdict(_records(effect=0.3, noise=0.01, seeds=(1,)), "data", "heldout_loss")
    assert single.exceeds is None and "no seed repeats" in single.line()
    lines = all_verdicts(_records(effect=0.3, noise=0.01), ["data", "training.learning_rate"])
    assert [(v.axis, v.measure) for v in lines] == [
        ("data", "heldout_loss"), ("data", "checks_passed"), ("training.learning_rate", "heldout_loss"),
        ("training.learning_rate", "checks_passed")]
    flat = next(v for v in lines if v.measure == "checks_passed")
    assert flat.effect == 0 and flat.seed_sd == 0 and flat.exceeds is False
    # explicit cells that vary only the batch size are compared with their grid twin, not with the whole grid
    records = _records(effect=0.3, noise=0.01)
    for r in records:
        r["axes"]["training.per_device_batch_size"] = 8
    for seed in (1, 2, 3):
        records.append({"axes": {"data": "curated", "training.learning_rate": 2e-4, "training.per_device_batch_size": 32},
                        "seed": seed, "group": "curated-32", "heldout_loss": 2.2, "checks_passed": 3})
    batch = axis_verdict(records, "training.per_device_batch_size", "heldout_loss")
    assert batch.counts == {"8": 3, "32": 3} and batch.best == "8" and abs(batch.effect - 0.2) < 0.02
    assert axis_verdict(records, "data", "heldout_loss").counts == {"raw": 6, "curated": 6}


# -- a killed sweep resumes (stand-in training and evaluation: the machinery, fast) ------------------------


def _fake_training(crash_on: str | None, calls: list):
    from training.run import data_record, run_paths

    crashed = []

    def train(data_dir, train_cfg, run_dir, resume=False, progress=None):
        calls.append((Path(run_dir).name, resume))
        paths = run_paths(run_dir)
        paths.root.mkdir(parents=True, exist_ok=True)
        if not resume:
            paths.config.write_text(train_cfg.to_yaml(), encoding="utf-8")
            paths.data_manifest.write_text(json.dumps(data_record(Path(data_dir), train_cfg)), encoding="utf-8")
        if Path(run_dir).name == crash_on and not crashed:
            crashed.append(True)
            raise KeyboardInterrupt("killed mid-run")
        t = train_cfg.training
        steps = math.ceil(t.max_tokens / (t.per_device_batch_size * 100))
        losses = [[s, 3.0 - 0.1 * s] for s in range(0, steps + 1, 2)]
        summary = {"model": train_cfg.model.name, "device": "cpu:test", "global_step": steps, "epoch": 0.5,
                   "tokens_seen": steps * t.per_device_batch_size * 100, "train_seconds": 1.0 * steps,
                   "tokens_per_second": 200.0 * t.per_device_batch_size, "wall_seconds": 2.0 * steps,
                   "peak_memory_bytes": 10**9, "peak_memory_kind": "cpu_max_rss", "eval_losses": losses,
                   "train_loss_last": 2.0, "data": {"train": {"rows_used": 50, "rows_skipped": 1,
                                                              "rows_skipped_by_reason": {"truncated_before_response": 1}}}}
        paths.summary.write_text(json.dumps(summary), encoding="utf-8")
        return summary

    def evaluate(run_dir, heldout_dir, spec, max_seq_length, progress=None):
        cfg = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
        raw = "raw" in Path(run_dir).name
        loss = 2.5 + (0.4 if raw else 0.0) + 0.01 * cfg["training"]["seed"]
        return {"heldout": {"loss": loss, "perplexity": math.exp(loss), "rows": 5, "tokens": 400},
                "checks": {"passed": 2 if raw else 4, "total": 12, "per_prompt": {"p": {"passed": 2, "total": 12}},
                           "answers": {"p": "text"}}}

    return train, evaluate


def _folder_variant(tmp_path: Path, alpaca_path: Path, name: str, rows: slice) -> Path:
    from training.curated_folder import write_curated_folder

    lines = alpaca_path.read_text(encoding="utf-8").splitlines()
    return write_curated_folder([json.loads(line) for line in lines[rows]], tmp_path / name)


@pytest.mark.slow  # several seconds: the slow lane
def test_a_killed_sweep_resumes_where_it_stopped(tmp_path, alpaca_path):
    from sweep.runner import run_sweep

    a = _folder_variant(tmp_path, alpaca_path, "a", slice(0, 40))
    b = _folder_variant(tmp_path, alpaca_path, "b", slice(40, 90))
    cfg = load_sweep_config(write_yaml(tmp_path / "s.yaml", {
        "train_config": str(REPO / "configs" / "train_cpu.yaml"),
        "data": {"held": {"folder": str(a)}, "raw": {"folder": str(b), "untrainable_rows": "skip_all"}},
        "heldout": "held", "decontaminate": False,
        "grid": {"data": ["raw", "held"], "training.per_device_batch_size": [2, 4]},
        "seeds": [1, 2], "budget": {"tokens": 800}}))
    out = tmp_path / "sweep"
    calls: list = []
    train, evaluate = _fake_training(crash_on="raw__per_device_batch_size-4__seed-1", calls=calls)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(cfg, out, train_fn=train, evaluate_fn=evaluate)
    assert calls == [("raw__per_device_batch_size-2__seed-1", False), ("raw__per_device_batch_size-4__seed-1", False)]
    calls.clear()
    outcome = run_sweep(cfg, out, train_fn=train, evaluate_fn=evaluate)
    # the finished cell is skipped, the killed one resumes, the rest start fresh
    assert calls[0] == ("raw__per_device_batch_size-4__seed-1", True)
    assert len(calls) == 7 and all(not resume for _, resume in calls[1:])
    results = outcome.results
    assert results["finished"] == results["planned"] == 8
    assert (out / "cells" / "held__per_device_batch_size-2__seed-1" / "adapter").exists() is False  # stand-in
    # equal tokens at every batch size: steps scale down as the batch grows
    steps = {c["id"]: c["steps"] for c in results["cells"]}
    assert steps["held__per_device_batch_size-2__seed-1"] == 2 * steps["held__per_device_batch_size-4__seed-1"]
    data_verdict = next(v for v in results["verdicts"] if v["axis"] == "data" and v["measure"] == "heldout_loss")
    assert data_verdict["best"] == "held" and data_verdict["exceeds"] is True
    md = (out / "results.md").read_text()
    assert "## Verdicts" in md and "data on held-out loss: held lower than raw" in md
    assert "tome train -d " in md and "--skip-untrainable" in md and "truncated_before_response 1" in md
    page = (out / "results.html").read_text()
    assert page.count("<svg") >= 4 and "<script" not in page and "http" not in page.replace("http://www.w3.org", "")
    # nothing left to do: a third run trains nothing
    calls.clear()
    run_sweep(cfg, out, train_fn=train, evaluate_fn=evaluate)
    assert calls == []
    # the dry run sees every cell done, and estimates new ones from the measured tokens/s
    from sweep.runner import plan

    more = cfg.model_copy(update={"seeds": [1, 2, 3]})
    statuses = plan(more, out)
    assert [s.state for s in statuses].count("done") == 8
    new = [s for s in statuses if s.state == "new"]
    assert len(new) == 4 and all(s.estimate_seconds and s.estimate_seconds > 0 for s in new)


def test_a_cell_folder_of_another_config_stops_the_sweep_with_its_name(tmp_path, alpaca_path):
    from sweep.runner import SweepError, run_sweep

    a = _folder_variant(tmp_path, alpaca_path, "a", slice(0, 40))
    data = {"train_config": str(REPO / "configs" / "train_cpu.yaml"), "data": {"a": {"folder": str(a)}},
            "heldout": "a", "decontaminate": False, "grid": {"training.learning_rate": [1e-4]}, "seeds": [1],
            "budget": {"tokens": 400}}
    cfg = load_sweep_config(write_yaml(tmp_path / "s.yaml", data))
    calls: list = []
    train, evaluate = _fake_training(None, calls)
    run_sweep(cfg, tmp_path / "out", train_fn=train, evaluate_fn=evaluate)
    changed = load_sweep_config(write_yaml(tmp_path / "s2.yaml", dict(data, budget={"tokens": 500})))
    with pytest.raises(SweepError, match=r"learning_rate-0.0001__seed-1: holds a run of another config \(training.max_tokens"):
        run_sweep(changed, tmp_path / "out", train_fn=train, evaluate_fn=evaluate)


# -- end to end on CPU ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cpu_sweep_config_end_to_end(tmp_path):
    """`tome sweep -c configs/sweep_cpu.yaml` with its grid narrowed to one learning rate and one seed and half its
    token budget: curate, raw side, decontaminate, 2 real training runs on the offline SmolLM2 (raw and curated),
    held-out loss and checks, results.md + results.html; then one cell exported to GGUF. The full grid's machinery
    (8 cells, seeds, resume, verdicts against the seed spread) is tested with stand-in training above; each real
    cell costs ~40 s (the narrowed sweep: 91 s for both cells, curation and start-up included)."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    out = tmp_path / "cpu"
    narrow = ["--set", "grid.training.learning_rate=[0.0004]", "--set", "seeds=[1]", "--set", "budget.tokens=800"]
    result = CliRunner().invoke(app, ["sweep", "-c", str(CPU_CONFIG), "--out", str(out), "-q", *narrow])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["finished"] == results["planned"] == 2
    cells = results["cells"]
    assert {c["data"] for c in cells} == {"raw", "curated"}
    assert len({c["heldout_rows"] for c in cells}) == 1  # the same held-out rows for every cell
    for c in cells:
        assert math.isfinite(c["heldout_loss"]) and c["checks_total"] == 12 and c["eval_losses"]
        assert abs(c["tokens_seen"] - 800) < 800  # the token budget (narrowed from the config's 1600), on average
    raw_skips = [c["skipped_by_reason"] for c in cells if c["data"] == "raw"]
    assert all(s == raw_skips[0] for s in raw_skips)  # counted, not stopped
    assert (out / "results.html").read_text().count("<svg") >= 4
    md = (out / "results.md").read_text()
    assert "## Verdicts" in md and "data on held-out loss" in md and "no seed repeats" in md
    # the printed command reproduces the cell's config
    from training.config import load_config

    cell = cells[0]
    config, overrides = parse_train_command(cell["command"])
    assert load_config(config, overrides).to_yaml() == (Path(cell["run_dir"]) / "config.yaml").read_text()
    # export one cell: GGUF size and CPU tokens/s per quantization
    result = CliRunner().invoke(app, ["sweep", "-c", str(CPU_CONFIG), "--out", str(out), "-q", *narrow,
                                      "--set", "export.cells=first_seed", "--set", "grid.data=[curated]"])
    assert result.exit_code == 0, result.output
    exported = json.loads((out / "results.json").read_text())["cells"][0]["export"]["q8_0"]
    assert exported["bytes"] > 100 * 2**20 and exported["cpu_tokens_per_s"] > 0
