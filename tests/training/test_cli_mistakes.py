"""`tome train` / `tome export` as an engineer gets them wrong: each mistake is one `error:` line, found before the
model loads, and no file of the user's is replaced or deleted. No test here trains: the run folders are written by
hand, as `tome train` leaves them (config.yaml, data_manifest.json, checkpoints/)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tomecraft.cli import app
from training.config import CONFIG_DIR, load_config
from training.curated_folder import write_curated_folder


def _rows(n: int, answer: str = "is") -> list[dict]:
    return [{"conversations": [{"from": "human", "value": f"What is {i} plus 1?"},
                               {"from": "gpt", "value": f"{i} plus 1 {answer} {i + 1}."}]} for i in range(n)]


def _started_run(run: Path, data: Path) -> Path:
    """A run folder as `tome train` leaves it once started (before its first checkpoint)."""
    from training.run import data_record

    cfg = load_config(CONFIG_DIR / "train_cpu.yaml")
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    (run / "data_manifest.json").write_text(json.dumps(data_record(data, cfg)), encoding="utf-8")
    return run


def _checkpoint(folder: Path, step: int, r: int = 16) -> Path:
    """A checkpoint whose files open as what the trainer writes (torch.save's zip archives, a JSON state, the LoRA
    adapter of train_cpu.yaml's settings: its config and a safetensors file)."""
    import numpy as np
    from safetensors.numpy import save_file

    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        with zipfile.ZipFile(path / name, "w") as archive:
            archive.writestr("archive/data.pkl", b"state")
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}), encoding="utf-8")
    lora = load_config(CONFIG_DIR / "train_cpu.yaml").lora
    (path / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": r, "lora_alpha": lora.alpha, "use_rslora": lora.use_rslora,
        "target_modules": sorted(lora.target_modules), "base_model_name_or_path": "some/model"}), encoding="utf-8")
    save_file({"base_model.model.q_proj.lora_A.weight": np.zeros((r, 8), dtype=np.float32)},
              str(path / "adapter_model.safetensors"))
    return path


def _one_error_line(result) -> str:
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if not line.startswith(("config: ", "data: "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0][len("error: "):]


def _the_error_line(result) -> str:
    """The one `error:` line of a command that got as far as importing Unsloth (which prints its banner)."""
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    # (a library's logging handler bound to an earlier runner's closed stream prints "--- Logging error ---" and
    # its traceback: the test harness's, not the command's)
    shown = result.output.split("--- Logging error ---")[0]
    assert len(errors) == 1 and "Traceback" not in shown, result.output
    return errors[0][len("error: "):]


def _train(*args: str):
    return CliRunner().invoke(app, ["train", "-q", *args])


# --- --resume without --data ---------------------------------------------------------------------------------


def test_resume_without_data_checks_the_folder_the_run_started_on(tmp_path, monkeypatch):
    """`tome train --resume --run R` read `out/` (the default --data), not the data R was started on: from another
    directory it said `out: not a folder`, and beside another `out/` it compared the run against that one."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    write_curated_folder(_rows(20, answer="equals"), data)  # the run's own folder has changed since
    elsewhere = tmp_path / "elsewhere"
    write_curated_folder(_rows(20), elsewhere / "out")  # an out/ here: not the run's data
    monkeypatch.chdir(elsewhere)
    result = _train("--resume", "--run", str(run))
    assert f"data: {data} (the folder the run started on)" in result.output
    line = _one_error_line(result)
    assert line.startswith(f"{data}: the train, validation split(s) differ from the data this run started on")


def test_resume_without_data_names_a_recorded_folder_that_is_gone(tmp_path, monkeypatch):
    import shutil

    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    shutil.rmtree(data)
    monkeypatch.chdir(tmp_path)
    line = _one_error_line(_train("--resume", "--run", str(run)))
    assert line == (f"{data}: the curation output this run started on ({run / 'data_manifest.json'}) is not a folder "
                    "any more; give the folder that holds the same splits with --data")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"curated_dir": 3, "files": {}}', ""])
def test_a_damaged_data_manifest_is_one_line_on_resume(tmp_path, text):
    """Bad JSON or a list ended the resume in a JSONDecodeError / TypeError traceback."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    (run / "data_manifest.json").write_text(text, encoding="utf-8")
    for args in (["--resume", "--run", str(run)], ["--resume", "--run", str(run), "-d", str(data)]):
        line = _one_error_line(_train(*args))
        assert line.startswith(f"{run / 'data_manifest.json'}: ") and "cannot be resumed" in line


# --- the run folder ------------------------------------------------------------------------------------------


def test_a_folder_that_is_no_run_keeps_its_files(tmp_path):
    """`--run` into a folder holding its own config.yaml / summary.json overwrote and deleted them."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config.yaml").write_text("stages: {}\n", encoding="utf-8")  # another tool's config
    (folder / "summary.json").write_text("mine", encoding="utf-8")
    line = _one_error_line(_train("-d", str(data), "--run", str(folder), "--max-steps", "1"))
    assert line == (f"{folder / 'config.yaml'}: --run {folder} is not a `tome train` run folder (no "
                    "data_manifest.json) and the run would replace this file; move it or choose another --run")
    assert (folder / "config.yaml").read_text() == "stages: {}\n" and (folder / "summary.json").read_text() == "mine"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "summary.json"]


def test_a_checkpoints_file_in_the_run_folder_is_one_line_before_the_model_loads(tmp_path):
    """The trainer's makedirs ended the run in a FileExistsError traceback, after the model had loaded."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    (run / "checkpoints").write_text("x", encoding="utf-8")
    for args in (["-d", str(data)], ["--resume"]):
        line = _one_error_line(_train(*args, "--run", str(run)))
        assert line == (f"{run / 'checkpoints'}: the run writes a folder here, and it is a file; move it or choose "
                        "another --run")


# --- checkpoints ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damaged", ["optimizer.pt", "scheduler.pt", "rng_state.pth"])
def test_a_checkpoint_whose_torch_state_is_damaged_is_not_resumed_from(tmp_path, damaged):
    """A cut or overwritten optimizer / scheduler / RNG file ended the resume in torch.load's traceback after the
    model had loaded; the resume now continues from the checkpoint before it."""
    from training.run import resumable_checkpoint

    root = tmp_path / "checkpoints"
    _checkpoint(root, 2)
    newest = _checkpoint(root, 4)
    assert resumable_checkpoint(root) == (newest, {})
    (newest / damaged).write_bytes((newest / damaged).read_bytes()[:20])
    checkpoint, unusable = resumable_checkpoint(root)
    assert checkpoint == root / "checkpoint-2"
    assert unusable == {newest: f"{damaged} is damaged (not a file torch.save wrote)"}


def test_resuming_a_finished_run_without_a_checkpoint_keeps_its_adapter(tmp_path):
    """With every checkpoint gone or damaged, --resume of a finished run trained it again from step 0 and wrote a
    new adapter over the finished one."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    (run / "summary.json").write_text("{}", encoding="utf-8")
    (run / "adapter").mkdir()
    bad = _checkpoint(run / "checkpoints", 3)
    (bad / "trainer_state.json").write_text("{", encoding="utf-8")
    line = _one_error_line(_train("--resume", "--run", str(run)))
    assert line.startswith(f"{run}: the run finished (summary.json) and has no checkpoint left to continue from")
    assert bad.is_dir() and (run / "adapter").is_dir()


# --- export --------------------------------------------------------------------------------------------------


def _finished_run(tmp_path: Path) -> Path:
    """A run folder whose adapter opens as peft's (a config with its peft_type, a safetensors file of one tensor)."""
    import numpy as np
    from safetensors.numpy import save_file

    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "config.yaml").write_text(load_config(CONFIG_DIR / "train_cpu.yaml").to_yaml(), encoding="utf-8")
    (run / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}), encoding="utf-8")
    save_file({"base_model.model.lm_head.lora_A.weight": np.zeros((8, 4), dtype=np.float32)},
              str(run / "adapter" / "adapter_model.safetensors"))
    return run


def _cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 8])


@pytest.mark.parametrize("name, damage, shown", [
    ("adapter_model.safetensors", lambda p: p.write_text("garbage\n"),
     "cannot be read (Error while deserializing header: "),
    ("adapter_model.safetensors", _cut_short, "cannot be read (Error while deserializing header: "),
    ("adapter_model.safetensors", lambda p: p.unlink(), "missing (the LoRA weights beside adapter_config.json)"),
    ("adapter_config.json", lambda p: p.write_text("{not json"), "cannot be read (Expecting property name"),
    ("adapter_config.json", lambda p: p.write_bytes(b"\xff\xfe"), "cannot be read ("),
    ("adapter_config.json", lambda p: p.write_text("[1, 2]"), "not a peft adapter config (no peft_type)"),
    ("adapter_config.json", lambda p: p.write_text("{}"), "not a peft adapter config (no peft_type)"),
], ids=["garbage-weights", "weights-cut-short", "no-weights", "config-not-json", "config-not-utf8", "config-a-list",
        "config-without-peft-type"])
def test_a_damaged_adapter_is_one_line_before_anything_is_written(tmp_path, name, damage, shown):
    """A garbage ``adapter_model.safetensors`` ended the export in safetensors' traceback ("header too large"),
    exit 1, after ``lora/`` had been copied and the base model loaded."""
    run = _finished_run(tmp_path)
    damage(run / "adapter" / name)
    out = tmp_path / "models"
    line = _one_error_line(CliRunner().invoke(app, ["export", str(run), "-o", str(out), "--no-smoke"]))
    assert line.startswith(f"{run / 'adapter' / name}: {shown}"), line
    assert line.endswith("; the saved adapter is damaged; train again into a new --run folder and export that run")
    assert not out.exists()


def test_export_into_a_curation_output_keeps_its_splits_alone(tmp_path):
    """`tome export -o CURATED` wrote lora/, merged_16bit/, gguf/, logs/ and export.json among the splits (`tome
    train --run CURATED` refuses the same folder)."""
    run = _finished_run(tmp_path)
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    before = sorted(p.name for p in data.iterdir())
    line = _one_error_line(CliRunner().invoke(app, ["export", str(run), "-o", str(data), "--no-smoke"]))
    assert line == (f"{data}: a `tome curate` output folder (manifest.json); the export would write its files among "
                    "the splits; choose another --out")
    assert sorted(p.name for p in data.iterdir()) == before


def test_export_out_that_is_a_file_is_one_line(tmp_path):
    """`tome export RUN -o FILE` ended in a FileExistsError / NotADirectoryError traceback."""
    run = _finished_run(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    for out, why in ((afile, "it is a file"), (afile / "sub", f"{afile} is a file")):
        line = _one_error_line(CliRunner().invoke(app, ["export", str(run), "-o", str(out), "--no-smoke"]))
        assert line == f"{out}: cannot write the export here ({why})"


def test_export_into_a_folder_that_is_no_export_keeps_its_files(tmp_path):
    """The export deleted a `merged_16bit/` it found in --out (and wrote over `lora/`, `gguf/`), whoever made it."""
    run = _finished_run(tmp_path)
    out = tmp_path / "models"
    (out / "merged_16bit").mkdir(parents=True)
    (out / "merged_16bit" / "model.safetensors").write_text("mine", encoding="utf-8")
    line = _one_error_line(CliRunner().invoke(app, ["export", str(run), "-o", str(out), "--no-smoke"]))
    assert line == (f"{out / 'merged_16bit'}: --out {out} is not a `tome export` folder (no export.json) and the "
                    "export would replace this folder; move it or choose another --out")
    assert (out / "merged_16bit" / "model.safetensors").read_text() == "mine"


def test_an_export_stopped_part_way_does_not_block_the_next_one_to_its_folder(tmp_path, monkeypatch):
    """An export to --out that stopped after writing ``lora/`` left no export.json: the next export to the same
    folder was refused as "not a `tome export` folder"."""
    import training.export as export

    run = _finished_run(tmp_path)
    out = tmp_path / "models"

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "merge_adapter", stopped)
    # the base the merge would read is named, not made: the offline model's first conversion takes half a minute
    monkeypatch.setattr("training.models.full_precision_source", lambda name: name)
    with pytest.raises(KeyboardInterrupt):
        export.export_run(run, out, smoke=False)
    assert (out / "lora").is_dir() and json.loads((out / "export.json").read_text())["finished"] is False
    export.check_export_folder(out, run / "export")  # no error: the folder is known as an export


def test_data_and_run_swapped_is_one_line_that_says_so(tmp_path):
    """`-d RUN` listed the curation files RUN lacks; `--run CURATED` wrote the run's files among the splits."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    run = _started_run(tmp_path / "run", data)
    line = _one_error_line(_train("-d", str(run), "--run", str(tmp_path / "other")))
    assert line == (f"{run}: a `tome train` run folder, not a curation output; give it with --run, and the curation "
                    "output folder with --data")
    before = sorted(p.name for p in data.iterdir())
    line = _one_error_line(_train("-d", str(data), "--run", str(data)))
    assert line == (f"{data}: a `tome curate` output folder (manifest.json); the run would write its files among the "
                    "splits; choose another --run")
    assert sorted(p.name for p in data.iterdir()) == before


# --- the model -----------------------------------------------------------------------------------------------


def test_a_model_that_cannot_be_had_is_one_line_before_unsloth_loads(tmp_path):
    """A missing local folder ended in transformers' `Repo id must be in the form ...` traceback, and an id not in the
    cache of an offline hub in its `couldn't connect` traceback, each after Unsloth had loaded."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    folder = tmp_path / "no-model"
    folder.mkdir()
    cases = {
        str(tmp_path / "missing"): "no such folder",
        str(folder): "not a model folder (no config.json)",
        "someone/not-downloaded-model-xyz": "not in the Hugging Face cache, and the hub is offline (HF_HUB_OFFLINE)",
    }
    for number, (name, why) in enumerate(cases.items()):
        line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / f"run{number}"),
                                      "--set", f"model.name={name}"))
        assert line.startswith(f"model.name: {name}: {why}"), line


def test_an_empty_train_split_leaves_no_run_folder(tmp_path):
    """The run folder (config.yaml, data_manifest.json) was written before the split was found empty."""
    data = write_curated_folder([], tmp_path / "curated")
    line = _one_error_line(_train("-d", str(data), "--run", str(tmp_path / "run")))
    assert line.startswith(f"{data / 'train.parquet'}: the train split has no rows, nothing to train on")
    assert not (tmp_path / "run").exists()


def test_an_empty_target_modules_list_is_a_config_error():
    """`lora.target_modules=[]` passed the config and ended in peft's traceback after the model had loaded."""
    line = _one_error_line(CliRunner().invoke(app, ["train", "--print-config", "--set", "lora.target_modules=[]"]))
    assert line.startswith("--set lora.target_modules: List should have at least 1 item"), line


@pytest.mark.slow
def test_an_unknown_chat_template_or_module_is_one_line(tmp_path):
    """An unknown `model.chat_template` was a KeyError traceback after the model had loaded (now found before the
    weights load); a module name the model lacks was peft's NoMatchingPeftModuleError traceback."""
    from training.models import import_unsloth

    import_unsloth()  # here, not inside the runner: its first import logs through a handler bound to the runner's stream
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    args = ["-c", str(CONFIG_DIR / "train_cpu.yaml"), "-d", str(data), "--max-steps", "1"]
    line = _the_error_line(_train(*args, "--run", str(tmp_path / "r1"), "--set", "model.chat_template=nonsense"))
    assert line.startswith("model.chat_template: unknown Unsloth chat template 'nonsense'; one of ") and "chatml" in line
    line = _the_error_line(_train(*args, "--run", str(tmp_path / "r2"), "--set", "lora.target_modules=[nope]"))
    assert line.startswith("lora.target_modules: ") and "nope" in line, line


def test_a_full_disk_during_the_run_is_one_line_and_exit_1(tmp_path, monkeypatch):
    """A failure of the work (the disk filled while a checkpoint was written) was an OSError traceback; it is one
    line naming the file, exit 1 (not 2: the command line was right), and says how to continue."""
    import training.run

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "run" / "checkpoints" / "optimizer.pt"))

    monkeypatch.setattr(training.run, "train", full_disk)
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    result = _train("-d", str(data), "--run", str(tmp_path / "run"))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = [line for line in result.output.splitlines() if not line.startswith("config: ")]
    assert " ".join(lines) == (f"error: {tmp_path / 'run' / 'checkpoints' / 'optimizer.pt'}: No space left on device; "
                               f"the run stopped (`tome train --resume --run {tmp_path / 'run'}` continues it from its "
                               "newest checkpoint)")


def test_a_hub_model_not_cached_with_the_hub_unreachable_is_one_line_at_once(tmp_path, monkeypatch):
    """No network, a hub id not in the cache: the client retried each request for a minute and a half and printed
    some 90 lines of retries before the error; one request now finds the hub unreachable, before Unsloth loads."""
    from huggingface_hub import constants

    from tomecraft import hub
    from training.models import OFFLINE_SMOLLM2, ModelSourceError, check_model_source, needs_hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # (the test session runs offline)
    asked = []
    monkeypatch.setattr(hub, "unreachable", lambda timeout=5.0: asked.append(1) or "[Errno -2] Name or service not known")
    with pytest.raises(ModelSourceError) as info:
        check_model_source("someorg/some-model")
    assert str(info.value) == ("model.name: someorg/some-model: not in the Hugging Face cache, and the hub cannot be "
                               "reached ([Errno -2] Name or service not known); download it once online, or give a "
                               "local model folder")
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    result = _train("-c", str(CONFIG_DIR / "train_cpu.yaml"), "-d", str(data), "--run", str(tmp_path / "r"),
                    "--set", "model.name=someorg/some-model")
    assert _the_error_line(result) == str(info.value) and result.exit_code == 2
    assert needs_hub("someorg/some-model") and not needs_hub(OFFLINE_SMOLLM2) and not needs_hub(str(tmp_path))
    asked.clear()
    check_model_source(OFFLINE_SMOLLM2)  # the packaged model asks nothing
    assert asked == []


@pytest.mark.slow
def test_a_hub_model_that_cannot_be_loaded_is_one_line(tmp_path, monkeypatch):
    """A hub id with the hub online but out of reach (no network, no such repo, no access) ended, after minutes of
    retries, in transformers' OSError traceback; it is one `model.name:` line."""
    from training.models import import_unsloth

    import_unsloth()
    import unsloth

    def unreachable(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in "
                      "the cached files.\nCheck your internet connection.")

    monkeypatch.setattr(unsloth.FastLanguageModel, "from_pretrained", unreachable)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the hub online (an id not cached is then not refused)
    from tomecraft import hub

    monkeypatch.setattr(hub, "unreachable", lambda timeout=5.0: None)  # it answers (no such repo, no access)
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    result = _train("-c", str(CONFIG_DIR / "train_cpu.yaml"), "-d", str(data), "--run", str(tmp_path / "r"),
                    "--set", "model.name=someorg/some-model")
    line = _the_error_line(result)
    assert line.startswith("model.name: someorg/some-model: cannot be loaded: We couldn't connect to"), line


def test_a_run_folder_that_cannot_be_made_is_named_as_the_option(tmp_path):
    """`--run /proc/nope` (a place no folder can be made) was `error: [Errno 2] No such file or directory: ...`."""
    data = write_curated_folder(_rows(20), tmp_path / "curated")
    result = _train("-c", str(CONFIG_DIR / "train_cpu.yaml"), "-d", str(data), "--run", "/proc/nope")
    assert _the_error_line(result) == "--run /proc/nope: cannot make the run folder here (no such file or directory)"
    assert result.exit_code == 2
