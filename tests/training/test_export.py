"""`tome export`: `tome train` (CLI, offline SmolLM2-135M-Instruct, 2 CPU steps) then `tome export` -> LoRA, merged
16-bit model, GGUF q8_0 / q4_k_m / q5_k_m made by llama.cpp's converter and quantizer, each loaded by cyllama on CPU
and answering; plus the merge itself checked against the adapter on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from training.curated_folder import write_curated_folder

from tests.training.test_train import qa_rows, smollm2_dir, tiny_model, tokenizer  # noqa: F401  (fixtures shared with test_train)


pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def exported(tmp_path_factory, smollm2_dir):  # noqa: F811
    from tomecraft.cli import app

    root = tmp_path_factory.mktemp("export")
    data = write_curated_folder(qa_rows(20), root / "data")
    run = root / "runs" / "smoke"
    runner = CliRunner()
    trained = runner.invoke(app, [
        "train", "-d", str(data), "-c", "configs/train_cpu.yaml", "--run", str(run), "--max-steps", "2", "-q",
        "--set", "model.max_seq_length=64", "--set", "training.per_device_batch_size=1",
        "--set", "training.gradient_accumulation_steps=1", "--set", "data.eval_split=null",
    ])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(app, ["export", str(run)])
    assert result.exit_code == 0, result.output
    return run, result.output


def test_export_writes_adapter_merged_model_and_three_ggufs(exported):
    run, output = exported
    out = run / "export"
    assert (out / "lora" / "adapter_model.safetensors").exists() and (out / "lora" / "adapter_config.json").exists()
    merged_config = json.loads((out / "merged_16bit" / "config.json").read_text())
    assert merged_config["dtype"] == "bfloat16" and merged_config["model_type"] == "llama"
    record = json.loads((out / "export.json").read_text())
    assert sorted(record["gguf"]) == ["q4_k_m", "q5_k_m", "q8_0"]
    assert not list((out / "gguf").glob("*-BF16.gguf"))  # the intermediate is removed
    for quant, path in record["gguf"].items():
        assert Path(path).name == f"smoke-{quant.upper()}.gguf" and Path(path).exists()
        assert "merged 16-bit" in output and path in output.replace("\n", "")


def test_gguf_files_are_llama_cpp_quantizations_with_the_models_tokenizer(exported):
    from training.gguf_tools import describe, file_type

    run, _ = exported
    record = json.loads((run / "export" / "export.json").read_text())
    files = record["files"]
    # export.json says what the file holds (checked against a fresh read of one of them)
    assert describe(Path(record["gguf"]["q8_0"])) == {k: v for k, v in files["q8_0"].items() if k != "sha256"}
    for quant in ("q8_0", "q4_k_m", "q5_k_m"):
        info = files[quant]
        assert info["file_type"] == file_type(quant)
        assert (info["architecture"], info["tokenizer"], info["pre_tokenizer"]) == ("llama", "gpt2", "smollm")
        assert info["has_chat_template"]
    assert "Q8_0" in files["q8_0"]["tensor_types"]
    assert "Q4_K" in files["q4_k_m"]["tensor_types"] and "Q6_K" in files["q4_k_m"]["tensor_types"]
    assert "Q5_K" in files["q5_k_m"]["tensor_types"]
    assert files["q4_k_m"]["bytes"] < files["q5_k_m"]["bytes"] < files["q8_0"]["bytes"]


def test_every_gguf_loads_and_answers_on_cpu(exported):
    from training.gguf_tools import generate

    run, _ = exported
    record = json.loads((run / "export" / "export.json").read_text())
    assert set(record["smoke"]) == {"q8_0", "q4_k_m", "q5_k_m"}
    assert all(text.strip() for text in record["smoke"].values())
    # and again, independently of the export command: a chat turn through cyllama, greedy, on CPU
    text = generate(Path(record["gguf"]["q4_k_m"]), [{"role": "user", "content": "Say hello."}],
                    run / "export" / "logs" / "test-generate.log", max_tokens=16)
    assert len(text.split()) >= 3


def test_export_of_an_unfinished_run_says_what_is_missing(tmp_path):
    from training.export import ExportError, export_run

    (tmp_path / "config.yaml").write_text("{}\n")
    with pytest.raises(ExportError, match="no trained adapter; the run did not finish"):
        export_run(tmp_path)
    with pytest.raises(ExportError, match="missing: no such folder"):
        export_run(tmp_path / "missing")
    (tmp_path / "run.jsonl").write_text("")
    with pytest.raises(ExportError, match=r"run.jsonl: not a folder \(it is a file\)"):
        export_run(tmp_path / "run.jsonl")
    (tmp_path / "other").mkdir()
    with pytest.raises(ExportError, match="not a run folder"):
        export_run(tmp_path / "other")
    # a bad --quant stops before the run folder is looked at (it used to be hidden behind the adapter error)
    with pytest.raises(ValueError, match="unknown GGUF quantization 'q9_z'"):
        export_run(tmp_path, quantizations=["q9_z"])
    with pytest.raises(ExportError, match="no GGUF quantization given"):
        export_run(tmp_path, quantizations=[])


def test_merge_equals_base_plus_adapter(tmp_path, tiny_model):  # noqa: F811
    """The merged 16-bit model computes what base + LoRA computes (and not what the base alone does)."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.export import merge_adapter

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    peft = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"]))
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)  # a trained adapter is not zero
    adapter = tmp_path / "adapter"
    peft.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(adapter)
    merged_dir = merge_adapter(str(tiny_model), adapter, tmp_path / "merged")

    ids = torch.randint(0, 1000, (2, 24))
    with torch.no_grad():
        fresh = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
        want = PeftModel.from_pretrained(fresh, adapter)(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
        got = merged(ids).logits
    assert merged.dtype == torch.float32 and json.loads((merged_dir / "config.json").read_text())["dtype"] == "bfloat16"
    scale = want.abs().max()
    assert (got - want).abs().max() / scale < 2e-2  # bfloat16 storage
    assert (plain - want).abs().max() / scale > 5 * (got - want).abs().max() / scale
