"""`tome train`: config, assistant-only masking and its traps, and a killed CPU run resumed to the end.

Training tests use a tiny random Llama (2 layers, hidden 64) with SmolLM2's real tokenizer, so that a CPU step
costs milliseconds and the test measures the trainer, not the model; `test_export.py` trains the real offline
SmolLM2-135M-Instruct. The rows are generated here, in the shape of a `tome curate` output folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tomecraft.config_files import ConfigError
from training.config import CONFIG_DIR, TrainConfig, load_config
from training.curated_folder import write_curated_folder

REPO = Path(__file__).resolve().parents[2]


def qa_rows(n: int, seed: int = 0) -> list[dict]:
    """Short arithmetic conversations: one or two turns, some with a system prompt."""
    rows = []
    for i in range(n):
        a, b = (i * 7 + seed) % 50, (i * 13 + 3) % 50
        conv = []
        if i % 3 == 0:
            conv.append({"from": "system", "value": "Answer in one short sentence."})
        conv += [{"from": "human", "value": f"What is {a} plus {b}?"}, {"from": "gpt", "value": f"{a} plus {b} is {a + b}."}]
        if i % 4 == 1:
            conv += [{"from": "human", "value": "And doubled?"}, {"from": "gpt", "value": f"Doubled, it is {2 * (a + b)}."}]
        rows.append({"conversations": conv, "source": "generated", "score": 1.0})
    return rows


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    from training.models import ensure_offline_smollm2

    return ensure_offline_smollm2()


@pytest.fixture(scope="session")
def tokenizer():
    """SmolLM2's tokenizer alone, read from the GGUF (or from the converted model's folder where that exists: the
    same files), so that tests of tokenization never convert the model; the slow tests that load it do."""
    from transformers import AutoTokenizer

    from curation.token_lengths.tokenizer import offline_tokenizer_dir
    from training.models import OFFLINE_SMOLLM2

    return AutoTokenizer.from_pretrained(offline_tokenizer_dir(OFFLINE_SMOLLM2))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, smollm2_dir, tokenizer) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def tiny_config(model_dir: Path, **training) -> TrainConfig:
    return load_config(
        CONFIG_DIR / "train_cpu.yaml",
        {
            "model": {"name": str(model_dir), "max_seq_length": 64},
            "data": {"max_eval_rows": 4},
            "training": {"per_device_batch_size": 2, "gradient_accumulation_steps": 1, "warmup_steps": 2,
                         "logging_steps": 1, "save_total_limit": 2, **training},
        },
    )


# --- config ------------------------------------------------------------------------------------------------


def test_default_config_is_the_seed_recipe():
    cfg = TrainConfig()
    assert cfg.model.name == "unsloth/Llama-3.2-1B-Instruct-bnb-4bit" and cfg.model.max_seq_length == 2048
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.gradient_checkpointing) == (16, 16, 0.0, "auto")
    assert cfg.lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    t = cfg.training
    assert (t.per_device_batch_size, t.learning_rate, t.num_epochs, t.optim, t.weight_decay) == (2, 2e-4, 1.0, "adamw_8bit", 0.01)
    assert (t.lr_scheduler, t.seed, t.save_steps) == ("linear", 3407, 10)
    assert t.packing is True  # chat rows packed into full sequences (tests/training/test_packing.py)
    # configs/train.yaml spells out the same recipe; the 3B config differs only where the seed did
    assert load_config(CONFIG_DIR / "train.yaml").resolved() == cfg.resolved()
    three = load_config(CONFIG_DIR / "train_3b.yaml")
    assert three.model.name == "unsloth/Llama-3.2-3B-Instruct-bnb-4bit" and three.training.per_device_batch_size == 4
    assert load_config(CONFIG_DIR / "train_cpu.yaml").model.name == "smollm2-135m-instruct"


def test_config_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"training": {"learning_rat": 1e-4}}))
    with pytest.raises(ConfigError, match=r"bad.yaml: training.learning_rat"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown scheduler"):
        load_config(None, {"training": {"lr_scheduler": "linearr"}})


# --- masking -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chatml_masker(tokenizer):
    from training.data import response_masker, template_parts

    instruction, response = template_parts(tokenizer, None, None, None)
    assert response == "<|im_start|>assistant\n"
    return response_masker(tokenizer, instruction, response), response


def _prepare(rows, tokenizer, masker, max_len=256, name="train"):
    from training.data import prepare_split

    mask, response = masker
    return prepare_split(rows, name, tokenizer, mask, max_len, response)


def test_labels_cover_every_assistant_reply_and_nothing_else(tokenizer, chatml_masker):
    from training.data import IGNORE_INDEX

    conv = [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Name a colour."},
        {"from": "gpt", "value": "Blue."},
        {"from": "human", "value": "Another one?"},
        {"from": "gpt", "value": "Green, like grass."},
    ]
    split = _prepare([{"id": "r0", "conversations": conv}], tokenizer, chatml_masker)
    ids, labels = split.input_ids[0], split.labels[0]
    spans, current = [], []
    for token, label in zip(ids, labels):
        if label == IGNORE_INDEX:
            if current:
                spans.append(tokenizer.decode(current))
                current = []
        else:
            assert label == token
            current.append(token)
    if current:
        spans.append(tokenizer.decode(current))
    assert spans == ["Blue.<|im_end|>", "Green, like grass.<|im_end|>"]
    assert split.stats()["rows_skipped"] == 0


def test_llama_31_template_masks_with_the_seed_markers(tokenizer):
    """The default config's path: Unsloth's llama-3.1 template and the seed notebook's markers (on SmolLM2's
    tokenizer given Llama 3's header tokens as special tokens, since no Llama tokenizer ships offline)."""
    import copy

    from training.data import IGNORE_INDEX, prepare_split, response_masker, template_parts
    from training.models import import_unsloth

    import_unsloth()
    from unsloth.chat_templates import get_chat_template

    llama = copy.deepcopy(tokenizer)
    llama.add_special_tokens({"additional_special_tokens": ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    llama = get_chat_template(llama, chat_template="llama-3.1")
    instruction, response = template_parts(llama, "llama-3.1", None, None)
    assert response == "<|start_header_id|>assistant<|end_header_id|>\n\n"
    conv = [{"from": "human", "value": "Name a colour."}, {"from": "gpt", "value": "Blue."},
            {"from": "human", "value": "Another?"}, {"from": "gpt", "value": "Green."}]
    split = prepare_split([{"id": "a", "conversations": conv}], "train", llama,
                          response_masker(llama, instruction, response), 512, response)
    spans, current = [], []
    for token, label in zip(split.input_ids[0], split.labels[0]):
        if label == IGNORE_INDEX and current:
            spans.append(llama.decode(current).strip())
            current = []
        elif label != IGNORE_INDEX:
            current.append(token)
    spans += [llama.decode(current).strip()] if current else []
    assert spans == ["Blue.<|eot_id|>", "Green.<|eot_id|>"]


def test_truncation_that_cuts_every_reply_skips_the_row_and_names_it(tokenizer, chatml_masker):
    from training.data import REASON_TRUNCATED, MaskingError, check_trainable

    long_prompt = {"id": "long-one", "conversations": [
        {"from": "human", "value": "word " * 300}, {"from": "gpt", "value": "Short answer."}]}
    rows = qa_rows(3) + [long_prompt]
    split = _prepare(rows, tokenizer, chatml_masker, max_len=64)
    assert len(split.input_ids) == 3
    (skipped,) = split.skipped
    assert (skipped.id, skipped.row, skipped.reason) == ("long-one", 3, REASON_TRUNCATED)
    assert "past max_seq_length 64" in skipped.detail
    check_trainable(split, "skip")  # the other rows still train
    with pytest.raises(MaskingError, match=r"train.parquet row 3 \(id long-one\): truncated_before_response"):
        check_trainable(split, "error")


def test_a_split_with_nothing_trainable_stops_with_the_rows_and_why(tokenizer, chatml_masker):
    from training.data import REASON_NO_ASSISTANT, MaskingError, check_trainable

    rows = [{"id": f"q{i}", "conversations": [{"from": "human", "value": "word " * 200}, {"from": "gpt", "value": "ok"}]}
            for i in range(3)]
    rows.append({"id": "no-reply", "conversations": [{"from": "human", "value": "hello?"}]})
    split = _prepare(rows, tokenizer, chatml_masker, max_len=32)
    assert not split.input_ids
    assert split.skipped[-1].reason == REASON_NO_ASSISTANT
    with pytest.raises(MaskingError, match=r"no row has a trainable .* all 4 rows") as info:
        check_trainable(split, "skip")
    assert "id q0" in str(info.value) and "id no-reply" in str(info.value)


def test_a_response_marker_the_template_never_renders_stops_the_run(tokenizer):
    """The seed helper's trap: Llama-3 markers on a ChatML template mask every token, silently."""
    from training.data import REASON_MARKER, MaskingError, check_trainable, prepare_split, response_masker

    llama_user, llama_assistant = "<|start_header_id|>user<|end_header_id|>\n\n", "<|start_header_id|>assistant<|end_header_id|>\n\n"
    mask = response_masker(tokenizer, llama_user, llama_assistant)
    split = prepare_split(qa_rows(4), "train", tokenizer, mask, 256, llama_assistant)
    assert {s.reason for s in split.skipped} == {REASON_MARKER}
    with pytest.raises(MaskingError, match="response marker does not occur"):
        check_trainable(split, "skip")


def test_raw_rows_are_skipped_and_counted_by_cause_with_skip_all(tokenizer, chatml_masker):
    """Raw data as it comes: a reply starting with spaces (its first token merges with the marker's newline), a
    prompt too long for max_seq_length, an empty reply. The default stops on the marker case and lists it;
    skip_all skips all three and counts them by cause."""
    from training.data import (REASON_EMPTY_REPLY, REASON_MARKER_SPLIT, REASON_TRUNCATED, MaskingError,
                               check_trainable)

    leading_spaces = {"id": "spaces", "conversations": [
        {"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "   Hello there, how can I help?"}]}
    too_long = {"id": "long", "conversations": [{"from": "human", "value": "word " * 300}, {"from": "gpt", "value": "ok"}]}
    empty = {"id": "empty", "conversations": [{"from": "human", "value": "Hi?"}, {"from": "gpt", "value": "   "}]}
    rows = qa_rows(4) + [leading_spaces, too_long, empty]
    split = _prepare(rows, tokenizer, chatml_masker, max_len=64)
    assert len(split.input_ids) == 4
    assert split.skipped_by_reason() == {REASON_EMPTY_REPLY: 1, REASON_MARKER_SPLIT: 1, REASON_TRUNCATED: 1}
    assert split.stats()["rows_skipped_by_reason"] == split.skipped_by_reason()
    with pytest.raises(MaskingError, match=r"1 of 7 rows .*response marker.*\n.*id spaces.*response_marker_split_by_tokens"):
        check_trainable(split, "skip")
    with pytest.raises(MaskingError, match="skip_all"):  # the error says how to train on such data
        check_trainable(split, "skip")
    check_trainable(split, "skip_all")  # never a stop while something is left
    with pytest.raises(ValueError, match="expected one of"):
        check_trainable(split, "ignore")


def test_skip_all_still_stops_when_nothing_is_left(tokenizer, chatml_masker):
    from training.data import MaskingError, check_trainable

    rows = [{"id": f"q{i}", "conversations": [{"from": "human", "value": "word " * 200}, {"from": "gpt", "value": "ok"}]}
            for i in range(2)]
    with pytest.raises(MaskingError, match="no row has a trainable"):
        check_trainable(_prepare(rows, tokenizer, chatml_masker, max_len=32), "skip_all")


def test_tokenization_cache_reuses_a_split_only_for_the_same_rows_and_settings(tokenizer, chatml_masker):
    from training.data import tokenization_cache

    rows = qa_rows(5)
    outside = _prepare(rows, tokenizer, chatml_masker)
    assert _prepare(rows, tokenizer, chatml_masker) is not outside  # no cache outside the block
    with tokenization_cache():
        first = _prepare(rows, tokenizer, chatml_masker)
        assert _prepare([dict(r) for r in rows], tokenizer, chatml_masker) is first
        assert _prepare(rows, tokenizer, chatml_masker, max_len=32) is not first
        assert _prepare(qa_rows(5, seed=1), tokenizer, chatml_masker) is not first
        assert first.labels == outside.labels
    assert _prepare(rows, tokenizer, chatml_masker) is not first


def test_a_token_budget_becomes_steps_from_the_rows_mean_length():
    from training.budget import steps_for_tokens

    cfg = load_config(None, {"model": {"max_seq_length": 100},
                             "training": {"per_device_batch_size": 2, "gradient_accumulation_steps": 3, "max_tokens": 1000}})
    budget = steps_for_tokens(cfg, [40, 60, 50, 50])  # mean 50 -> 300 tokens a step -> 4 steps (1,200 tokens)
    assert (budget.steps, budget.tokens_per_step, budget.mean_tokens_per_row) == (4, 300.0, 50.0)
    assert budget.epochs == 6.0  # the split holds 200 tokens
    longer = steps_for_tokens(cfg, [100, 100])  # longer rows: fewer steps for the same tokens
    assert longer.steps == 2
    packed = steps_for_tokens(cfg, [100, 96, 98])  # packed sequences: each nearly max_seq_length long
    assert packed.steps == 2 and packed.tokens_per_step == 588.0
    with pytest.raises(ConfigError, match="max_steps or training.max_tokens"):
        load_config(cfg, {"training": {"max_steps": 3}})


@pytest.mark.slow
def test_train_stops_before_training_when_masking_leaves_nothing(tmp_path, tiny_model):
    from training.data import MaskingError
    from training.run import train

    rows = [{"conversations": [{"from": "human", "value": "word " * 100}, {"from": "gpt", "value": "ok"}]}] * 10
    data = write_curated_folder(rows, tmp_path / "data")
    run = tmp_path / "run"
    with pytest.raises(MaskingError, match="no row has a trainable"):
        train(data, tiny_config(tiny_model, max_steps=2), run)
    assert not (run / "checkpoints").exists() or not any((run / "checkpoints").iterdir())
    # nothing was trained: the same folder takes the corrected config
    summary = train(data, load_config(tiny_config(tiny_model, max_steps=1), {"model": {"max_seq_length": 256}}), run)
    assert summary.global_step == 1


@pytest.mark.slow
def test_a_setting_the_trainer_refuses_stops_with_its_reason(tmp_path, tiny_model):
    # transformers refuses reduce_lr_on_plateau without an eval split only as SFTConfig is built; that is a
    # config error, not a traceback (and no other ValueError of the run is blamed on the config)
    from training.run import TrainerConfigError, train

    rows = [{"conversations": [{"from": "human", "value": f"question {i}"}, {"from": "gpt", "value": f"answer {i}"}]}
            for i in range(8)]
    data = write_curated_folder(rows, tmp_path / "data", fractions=(1.0, 0.0))
    with pytest.raises(TrainerConfigError, match="reduce_lr_on_plateau"):
        train(data, tiny_config(tiny_model, max_steps=1, lr_scheduler="reduce_lr_on_plateau"), tmp_path / "run")


def test_an_empty_train_split_stops_before_the_model_loads(tmp_path):
    # `tome curate` can remove every row; the trainer then failed with a bare StopIteration traceback
    from training.run import RunError, train

    data = write_curated_folder([], tmp_path / "data")
    with pytest.raises(RunError, match=r"train.parquet: the train split has no rows"):
        train(data, load_config(CONFIG_DIR / "train_cpu.yaml", {"training": {"max_steps": 1}}), tmp_path / "run")


# --- a run, killed and resumed -------------------------------------------------------------------------------


def _tome(*args: str) -> list[str]:
    return [sys.executable, "-m", "tomecraft.cli", *args]


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_killed_cpu_run_resumes_to_the_same_losses_and_weights(tmp_path, tiny_model, request):
    """SIGKILL a real `tome train` process mid-run, `--resume` it, and compare it step by step with a run that was
    never interrupted: same losses after the checkpoint (optimizer, scheduler, RNG and data order restored)."""
    from safetensors.torch import load_file

    from training.run import newest_checkpoint, train

    steps = 24
    data = write_curated_folder(qa_rows(80), tmp_path / "data")
    cfg = tiny_config(tiny_model, max_steps=steps, save_steps=2, eval_steps=6)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(cfg.to_yaml())
    run = tmp_path / "killed"
    cmd = _tome("train", "-d", str(data), "-c", str(cfg_file), "--run", str(run), "-q")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # the reference, never interrupted, runs beside it in a fresh process: torch's thread settings left by other
    # tests in this process would change the floating-point order of its sums (and its start-up overlaps the other's)
    reference = tmp_path / "uninterrupted"
    ref_cmd = _tome("train", "-d", str(data), "-c", str(cfg_file), "--run", str(reference), "-q")
    ref_proc = subprocess.Popen(ref_cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    request.addfinalizer(lambda: ref_proc.poll() is None and ref_proc.kill())  # a failed assertion leaves none behind
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            last = newest_checkpoint(run / "checkpoints")
            if last is not None and int(last.name.split("-")[1]) >= 4:
                break
            time.sleep(0.02)
    finally:
        proc.kill()
        output = proc.communicate()[0]
    assert proc.returncode == -9, f"the run ended before it could be killed:\n{output[-2000:]}"
    assert not (run / "summary.json").exists()
    killed_at = int(newest_checkpoint(run / "checkpoints").name.split("-")[1])
    assert 4 <= killed_at < steps

    resumed = subprocess.run(cmd + ["--resume"], cwd=REPO, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == steps and summary["resumed_from_step"] >= killed_at

    ref_output = ref_proc.communicate(timeout=900)[0]
    assert ref_proc.returncode == 0, ref_output[-4000:]
    ref_summary = json.loads((reference / "summary.json").read_text())
    assert ref_summary["global_step"] == steps and ref_summary["resumed_from_step"] is None

    got, want = _metrics(run), _metrics(reference)
    train_got = {m["step"]: m["loss"] for m in got if m["kind"] == "train"}
    train_want = {m["step"]: m["loss"] for m in want if m["kind"] == "train"}
    assert sorted(train_got) == list(range(1, steps + 1))  # every step logged once, none twice after the resume
    for step in range(1, steps + 1):
        assert train_got[step] == pytest.approx(train_want[step], abs=1e-5), f"step {step}"
    evals_got = [(m["step"], m["eval_loss"]) for m in got if m["kind"] == "eval"]
    evals_want = [(m["step"], m["eval_loss"]) for m in want if m["kind"] == "eval"]
    assert [s for s, _ in evals_got] == [s for s, _ in evals_want] == [0, 6, 12, 18, 24]
    assert [l for _, l in evals_got] == pytest.approx([l for _, l in evals_want], abs=1e-5)
    a = load_file(run / "adapter" / "adapter_model.safetensors")
    b = load_file(reference / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max().item() < 1e-5, key


@pytest.mark.slow
def test_run_folder_traces_the_model_to_its_data(tmp_path, tiny_model):
    from training.run import RunError, train

    data = write_curated_folder(qa_rows(30), tmp_path / "data")
    run = tmp_path / "run"
    summary = train(data, tiny_config(tiny_model, max_steps=3, eval_steps=3), run)
    record = json.loads((run / "data_manifest.json").read_text())
    assert record["curated_dir"] == str(data.resolve())
    assert record["manifest"] == json.loads((data / "manifest.json").read_text())
    assert set(record["files"]) == {"train", "validation"}
    assert load_config(run / "config.yaml").resolved() == tiny_config(tiny_model, max_steps=3, eval_steps=3).resolved()
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk["global_step"] == summary.global_step == 3
    assert on_disk["tokens_seen"] > 0 and on_disk["tokens_per_second"] > 0 and on_disk["peak_memory_bytes"] > 0
    assert on_disk["data"]["train"]["rows_used"] == 24 and on_disk["eval_losses"][0][0] == 0
    assert (run / "adapter" / "adapter_model.safetensors").exists()
    with pytest.raises(RunError, match="already holds a run"):
        train(data, tiny_config(tiny_model, max_steps=3), run)
    with pytest.raises(RunError, match="different config: training.max_steps"):
        train(data, tiny_config(tiny_model, max_steps=5, eval_steps=3), run, resume=True)


def test_print_config_of_a_resume_without_a_run_is_one_error_line(tmp_path):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    result = CliRunner().invoke(app, ["train", "--print-config", "--resume", "--run", str(tmp_path / "none")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)  # was a ConfigError traceback
    assert "nothing to resume (no config.yaml)" in " ".join(result.output.split())


def test_cli_help_teaches():
    from typer.testing import CliRunner

    from tomecraft.cli import app

    runner = CliRunner()
    for command, words in (("train", ["--resume", "--max-steps", "configs/train_cpu.yaml", "--skip-untrainable", "--max-tokens"]),
                           ("export", ["q4_k_m", "cyllama"]), ("sweep", ["--dry-run", "seed-to-seed", "--stop-after"])):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        for word in words:
            assert word in result.output
