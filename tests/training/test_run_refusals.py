"""What `tome train` / `tome export` refused only after the model had loaded (or not at all), now refused first: an
empty or over-long path, a config whose values cannot run (one turn marker, a scheduler without its kwargs, an
optimizer whose package is missing, packing without padding-free batches), a curated folder that is not its
manifest, and a resume from a checkpoint that is not this run's or was cut short. No test here trains: run folders
and checkpoints are written by hand, as `tome train` leaves them (:mod:`tests.training.test_cli_mistakes`)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.training.test_cli_mistakes import _checkpoint, _one_error_line, _rows, _started_run, _train
from tomecraft.cli import app
from tomecraft.config_files import ConfigError
from training.config import CONFIG_DIR, load_config
from training.curated_folder import write_curated_folder

LONG = "a" * 300  # one path component: more than the 255 bytes of ext4, APFS, NTFS


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if the command gets as far as importing Unsloth (the model loading)."""
    import training.models

    monkeypatch.setattr(training.models, "import_unsloth", lambda: pytest.fail("the model loaded"))


# --- paths on the command line -------------------------------------------------------------------------------


def test_an_empty_run_or_out_is_refused_not_the_working_folder(in_tmp):
    """As a Path, "" is ".": `tome train --run ""` wrote config.yaml, checkpoints/, adapter/... into the working
    folder and `tome export --out ""` its lora/, merged_16bit/ and gguf/ (`tome curate -o ""` refuses)."""
    write_curated_folder(_rows(20), in_tmp / "out")
    before = sorted(p.name for p in in_tmp.iterdir())
    assert _one_error_line(_train("--run", "")) == (
        "--run is empty: give the run folder (default: runs/CONFIG, CONFIG the config file's name)")
    assert _one_error_line(CliRunner().invoke(app, ["export", ".", "--out", "", "--no-smoke"])) == (
        "--out is empty: give the output folder (default: RUN/export)")
    assert sorted(p.name for p in in_tmp.iterdir()) == before


@pytest.mark.parametrize("args, shown, option, size", [
    pytest.param(["train", "-d", "DATA", "--run", f"runs/{LONG}"], f"runs/{LONG}", "--run", 300, id="train-run"),
    pytest.param(["train", "-c", f"{LONG}.yaml", "--print-config"], f"{LONG}.yaml", "--config", 305, id="train-config"),
    pytest.param(["train", "--run", f"runs/{LONG}", "--resume"], f"runs/{LONG}", "--run", 300, id="train-resume"),
    pytest.param(["train", "-d", LONG, "--run", "runs/x"], LONG, "--data", 300, id="train-data"),
    pytest.param(["export", f"runs/{LONG}", "--no-smoke"], f"runs/{LONG}", "RUN", 300, id="export-run"),
    pytest.param(["export", "runs/base", "--out", f"x/{LONG}", "--no-smoke"], f"x/{LONG}", "--out", 300, id="export-out"),
])
def test_a_name_too_long_for_a_file_system_is_one_line_naming_the_path(in_tmp, no_model, args, shown, option, size):
    """`OSError: [Errno 36] File name too long` was a traceback; under --data it said "the run stopped (`tome train
    --resume ...` continues it)" (exit 1) of a run that never started."""
    data = write_curated_folder(_rows(20), in_tmp / "data")
    args = [str(data) if a == "DATA" else a for a in args]
    line = _one_error_line(CliRunner().invoke(app, args))
    assert line == (f"{shown}: a name in this path is {size} bytes, more than a file system allows (255); give "
                    f"{option} a shorter one")
    assert not (in_tmp / "runs").exists() and not (in_tmp / "x").exists()


# --- the config ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("given, missing", [("instruction_part", "response_part"), ("response_part", "instruction_part")])
def test_one_turn_marker_without_the_other_is_a_config_error(tmp_path, no_model, given, missing):
    """The masker needs both: one alone was a ValueError traceback after the model loaded (run folder written),
    and --print-config printed it as a config that runs."""
    override = f"model.{given}=<|im_start|>assistant\n"
    expected = f"{given} is set and {missing} is not; set both"
    with pytest.raises(ConfigError, match=expected):
        load_config(CONFIG_DIR / "train_cpu.yaml", {"model": {given: "<|im_start|>assistant\n"}})
    assert expected in _one_error_line(_train("--print-config", "--set", override))
    data = write_curated_folder(_rows(20), tmp_path / "data")
    assert expected in _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run"), "--set", override))
    assert not (tmp_path / "run").exists()
    both = load_config(CONFIG_DIR / "train_cpu.yaml", {"model": {"instruction_part": "u", "response_part": "a"}})
    assert (both.model.instruction_part, both.model.response_part) == ("u", "a")


@pytest.mark.parametrize("scheduler", ["cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay"])
def test_a_scheduler_that_needs_kwargs_the_config_cannot_give_is_a_config_error(scheduler):
    """transformers builds these only from lr_scheduler_kwargs: accepted, they ended the run in a traceback once
    training started."""
    line = _one_error_line(_train("--print-config", "--set", f"training.lr_scheduler={scheduler}"))
    assert f"training.lr_scheduler: {scheduler!r} needs lr_scheduler_kwargs" in line, line
    assert "one of linear, cosine," in line and "cosine_with_min_lr," not in line
    assert load_config(CONFIG_DIR / "train_cpu.yaml", {"training": {"lr_scheduler": "cosine"}})


def test_an_optimizer_whose_package_is_missing_is_one_line_before_the_model_loads(tmp_path, monkeypatch, no_model):
    """galore_*, apollo_*, lomo, schedule_free_*, grokadamw, adamw_anyprecision, stable_adamw: transformers imports
    their package only as the trainer builds the optimizer, after the model had loaded (a traceback)."""
    import training.config

    monkeypatch.setattr(training.config, "OPTIMIZER_PACKAGES",
                        {**training.config.OPTIMIZER_PACKAGES, "galore_": ("no_such_module_here", "galore-torch")})
    data = write_curated_folder(_rows(20), tmp_path / "data")
    line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run"), "--set", "training.optim=galore_adamw"))
    assert line == ("training.optim: galore_adamw needs the package galore-torch (module no_such_module_here), which "
                    "is not installed; install it, or choose another optimizer (adamw_torch, adamw_8bit)")
    assert not (tmp_path / "run").exists()
    training.config.check_optimizer_package("adamw_torch")  # transformers' own: nothing to check
    monkeypatch.setattr(training.config, "OPTIMIZER_PACKAGES", {"galore_": ("json", "json")})
    training.config.check_optimizer_package("galore_adamw")  # installed: goes ahead
    # a config naming it still reads (a run folder's config.yaml on a machine without the package)
    assert load_config(CONFIG_DIR / "train_cpu.yaml", {"training": {"optim": "lomo"}}).training.optim == "lomo"


def test_packing_with_padding_free_false_is_a_config_error():
    """Packed rows are kept apart only by padding-free batches: the explicit false was replaced by true without a
    word (and applied where the rows train unpacked)."""
    with pytest.raises(ConfigError, match="packing is true, which needs padding-free batches, and padding_free is "
                                          "false; set padding_free to null"):
        load_config(CONFIG_DIR / "train_cpu.yaml", {"training": {"packing": True, "padding_free": False}})
    for packing, padding_free in ((True, None), (True, True), (False, False)):
        load_config(CONFIG_DIR / "train_cpu.yaml", {"training": {"packing": packing, "padding_free": padding_free}})


# --- the curated folder --------------------------------------------------------------------------------------


def _rewrite_manifest(data, **train_entry) -> None:
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["outputs"]["train"].update(train_entry)
    (data / "manifest.json").write_text(json.dumps(manifest))


def test_a_split_that_is_not_the_one_its_manifest_lists_stops_the_run(tmp_path, no_model):
    """The run trained on such a folder without a word and recorded the stale manifest as its data
    (data_manifest.json); `tome report` and `tome review` refuse it (curation.contract.check_row_counts)."""
    data = write_curated_folder(_rows(20), tmp_path / "data")
    _rewrite_manifest(data, rows=999)
    line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run")))
    assert line == (f"{data}: cannot read the curation output folder: {data / 'train.parquet'}: holds 16 rows, the "
                    "manifest says 999 (changed after the run? run tome curate again)")
    _rewrite_manifest(data, rows=16, sha256="0" * 64)  # the same number of rows, other bytes
    line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run")))
    assert line == (f"{data}: cannot read the curation output folder: {data / 'train.parquet'}: its SHA-256 is not "
                    "the one manifest.json lists (changed after the run? run tome curate again)")
    assert not (tmp_path / "run").exists()


def test_a_folder_that_is_its_manifest_goes_ahead_in_one_file_or_in_shards(tmp_path):
    from training.run import check_manifest_agrees, data_record

    cfg = load_config(CONFIG_DIR / "train_cpu.yaml")
    for shard_rows in (None, 4):
        data = write_curated_folder(_rows(20), tmp_path / f"data-{shard_rows}", shard_rows=shard_rows)
        check_manifest_agrees(data, data_record(data, cfg))
    (data / "test" / "part-00000.parquet").unlink()  # a split the run does not read: no concern of training
    check_manifest_agrees(data, data_record(data, cfg))
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["outputs"]["train"]["sha256"][1] = "0" * 64
    (data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="train: its SHA-256 is not the one manifest.json lists"):
        check_manifest_agrees(data, data_record(data, cfg))


# --- resume --------------------------------------------------------------------------------------------------


def test_a_metrics_line_cut_short_by_a_kill_is_left_out_on_resume(tmp_path, monkeypatch):
    """A run killed while appending to metrics.jsonl left a partial last line: --resume ended in a JSONDecodeError
    traceback."""
    import training.models
    from training.run import RunError, _read_jsonl, train

    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    _checkpoint(run / "checkpoints", 2)
    lines = [json.dumps({"kind": "train", "step": s, "loss": 1.0}) + "\n" for s in (1, 2, 3)]
    (run / "metrics.jsonl").write_text("".join(lines) + '{"step": 4, "kind": "tra', encoding="utf-8")

    def stop(name):
        raise RuntimeError("stopped before the model loads")

    monkeypatch.setattr(training.models, "check_model_source", stop)
    with pytest.raises(RuntimeError, match="stopped before"):
        train(data, None, run, resume=True)
    assert (run / "metrics.jsonl").read_text(encoding="utf-8") == "".join(
        json.dumps(json.loads(line), sort_keys=True) + "\n" for line in lines[:2])
    (run / "metrics.jsonl").write_text('{"step": 1, "ki\n' + lines[1], encoding="utf-8")  # not the last line: damage
    with pytest.raises(RunError, match=r"metrics\.jsonl: line 1: .*; the file is damaged"):
        _read_jsonl(run / "metrics.jsonl")


@pytest.mark.parametrize("missing", ["adapter_model.safetensors", "adapter_config.json"])
def test_a_checkpoint_without_its_adapter_is_incomplete_and_the_one_before_is_resumed(tmp_path, missing):
    """It passed as complete, and the resume ended in transformers' "Can't find a valid checkpoint" traceback."""
    from training.run import is_complete_checkpoint, resumable_checkpoint

    root = tmp_path / "checkpoints"
    older = _checkpoint(root, 2)
    newest = _checkpoint(root, 4)
    assert is_complete_checkpoint(newest)
    (newest / missing).unlink()
    assert not is_complete_checkpoint(newest)
    assert resumable_checkpoint(root) == (older, {newest: "incomplete or damaged (a save cut short)"})


def test_resuming_from_a_checkpoint_of_other_lora_settings_is_one_line_before_the_model_loads(tmp_path, no_model):
    """A checkpoint copied from another run (or config.yaml edited): torch's "size mismatch" traceback after the
    model had loaded. Nothing of the run folder is changed."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    checkpoint = _checkpoint(run / "checkpoints", 2, r=8)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    line = _one_error_line(_train("--resume", "--run", str(run)))
    assert line == (f"{checkpoint}: saved with lora.r 8 (the config: 16), not this run's config ({run / 'config.yaml'}); "
                    "resume with the config it was trained with, or start a new run")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_checkpoint_saved_on_another_base_model_is_one_line(tmp_path):
    from training.run import RunError, check_checkpoint_shapes

    checkpoint = _checkpoint(tmp_path, 2)  # q_proj.lora_A: 16 x 8
    name = "base_model.model.q_proj.lora_A.weight"
    check_checkpoint_shapes(checkpoint, {name: (16, 8), "other.lora_B.weight": (4, 4)}, "m")  # names apart: fine
    with pytest.raises(RunError) as info:
        check_checkpoint_shapes(checkpoint, {name: (16, 64)}, "my/model")
    assert str(info.value) == (f"{checkpoint}: its LoRA weights do not fit the adapter on model.name my/model ({name} "
                               "is [16, 8], here [16, 64]; saved on some/model); resume with the model it was trained "
                               "on, or start a new run")
    with pytest.raises(RunError, match="no tensor name in common"):
        check_checkpoint_shapes(checkpoint, {"model.layers.0.lora_A.weight": (16, 8)}, "my/model")
