"""The token-length stage's config (``stages.token_lengths``)."""

from __future__ import annotations

from pydantic import Field

from curation.core.config_base import StrictModel


class TokenLengthsConfig(StrictModel):
    """Tokens per row after the chat template; rows longer than ``max_seq_length`` are marked (and dropped as
    ``filter:too_many_tokens`` when ``drop_too_long`` is on)."""

    enabled: bool = False
    tokenizer: str = Field(
        "smollm2-135m-instruct",
        description="the training model's tokenizer: smollm2-135m-instruct (offline, from the packaged GGUF), a "
        "local folder or a hub name",
    )
    chat_template: str | None = Field(
        None, description="null: the tokenizer's own; else a template name as `tome train` takes it (needs unsloth)"
    )
    # at most int32's largest: token_count is stored as int32 (and a larger bound made the histogram's edges garbage)
    max_seq_length: int = Field(512, ge=1, le=2**31 - 1,
                                description="training's max_seq_length (configs/train_cpu.yaml: 512)")
    drop_too_long: bool = Field(False, description="drop rows training would truncate (filter:too_many_tokens)")
    backend: str = Field(
        "auto", pattern="^(auto|tiktoken|hf)$",
        description="auto: tiktoken where it reproduces the tokenizer exactly (byte-level BPE), else the HF tokenizer",
    )
    check_rows: int = Field(
        8, ge=0, description="rows per batch also counted the exact way (render + encode); a mismatch switches to it"
    )
    bins: int = Field(40, ge=5, le=200, description="histogram bins in the report")
    workers: int = Field(1, ge=0, le=1024, description="threads per batch (the engine runs batches side by side); 0 = all cores")
