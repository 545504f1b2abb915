"""The models an evaluation compares, named the way `tome serve` names them, and loaded for scoring text.

A model argument is what :func:`serving.generation.resolve_model` accepts: a GGUF file, a transformers model
folder, a `tome train` run folder, a hub id, or ``default`` (the offline SmolLM2-135M-Instruct GGUF). An
optional ``LABEL=`` prefix names the column (``curated=runs/curated``).

Answers come from :func:`serving.generation.load_generator` (the same code that serves the model). The
held-out loss needs the weights in PyTorch: :func:`load_for_scoring` returns a transformers model and the
tokenizer training used, with the packaged GGUF read through training's converted-weights cache.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

DEFAULT_MODEL = "default"


@dataclass(frozen=True)
class ModelRef:
    label: str
    spec: str | None  # None: the offline default
    shown: str | None = None  # how tables name it (default: spec)

    @property
    def shown_spec(self) -> str:
        return self.shown or self.spec or DEFAULT_MODEL


def parse_model_arg(text: str) -> ModelRef:
    """``[LABEL=]MODEL``; ``default`` (or empty) is the offline default model."""
    label, sep, spec = text.partition("=")
    if not sep or "/" in label or not label.strip() or Path(text).exists():
        label, spec = "", text
    spec = spec.strip()
    model = None if spec in ("", DEFAULT_MODEL) else spec
    if not label:
        label = _label_for(model)
    return ModelRef(label.strip(), model)


def _label_for(spec: str | None) -> str:
    if spec is None:
        return "base (SmolLM2-135M-Instruct)"
    path = Path(spec)
    return path.stem if path.suffix.lower() == ".gguf" else (path.name or spec)


def unique_labels(refs: list[ModelRef]) -> list[ModelRef]:
    """Append #2, #3 to repeated labels so that every column has its own name."""
    seen: dict[str, int] = {}
    out = []
    for ref in refs:
        n = seen.get(ref.label, 0) + 1
        seen[ref.label] = n
        out.append(ref if n == 1 else ModelRef(f"{ref.label} #{n}", ref.spec, ref.shown))
    return out


@dataclass
class ScoringModel:
    model: Any  # a transformers causal LM, eval mode, float32 on CPU (or the GPU when there is one)
    tokenizer: Any  # the tokenizer (and chat template) training used
    description: str
    parts: tuple[str, str] | None = None  # a run's (user, assistant) turn openers, as its training masked them
    chat_template: str | None = None  # a run's configured Unsloth chat template name


def _is_packaged_default(path: str) -> bool:
    from serving.defaults import default_llm_path

    try:
        return Path(path).resolve() == default_llm_path().resolve()
    except FileNotFoundError:
        return False


def loads_from_hub(spec: str | None) -> bool:
    """Whether loading ``spec`` asks the Hugging Face hub for files (`serving.generation.ModelSource.needs_hub`). A
    spec that does not resolve does not (its load says what is wrong)."""
    from serving.generation import resolve_model

    if spec in (None, "", DEFAULT_MODEL):
        return False
    try:
        source = resolve_model(spec)
    except Exception:  # noqa: BLE001 - not a model: the load names why
        return False
    return source.needs_hub()


@contextmanager
def hub_or_local_cache(spec: str | None) -> Iterator[None]:
    """The block loads model ``spec`` as `tome curate` loads a hub dataset (:func:`tomecraft.hub.local_cache_if_unreachable`):
    a model not in the cache, the hub unreachable, is one `ModelNotFound` line that says so."""
    from serving.generation import ModelNotFound
    from tomecraft import hub

    def not_cached(reason: str) -> Exception:
        return ModelNotFound(f"{spec}: cannot load from the Hugging Face hub: it cannot be reached ({reason}) and the "
                             "model is not in the local cache")

    with hub.local_cache_if_unreachable(loads_from_hub(spec), not_cached):
        yield


def load_for_scoring(spec: str | None) -> ScoringModel:
    """Weights and tokenizer of ``spec`` for computing losses (see the module doc for what ``spec`` may be); a
    model that resolves but will not load (damaged weights, a base model not in the offline cache) is a
    `serving.generation.ModelNotFound` of one line, as `tome eval compare` and `tome serve` say it (`tome eval loss`
    ended in the loader's traceback)."""
    from serving.generation import ModelNotFound, _short

    try:
        with hub_or_local_cache(spec):
            return _load_for_scoring(spec)
    except ModelNotFound:
        raise
    except Exception as exc:  # (torch, transformers, peft and the hub raise what they like)
        name = spec if spec not in (None, "", DEFAULT_MODEL) else "the default model"
        raise ModelNotFound(f"{name}: cannot load the model for the loss ({type(exc).__name__}: {_short(exc)})") from exc


def _load_for_scoring(spec: str | None) -> ScoringModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from serving.generation import require_adapter_weights, resolve_model
    from training.models import OFFLINE_SMOLLM2, resolve_model_source

    source = resolve_model(None if spec in (None, "", DEFAULT_MODEL) else spec)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if source.kind == "lora":
        from peft import PeftModel

        adapter = Path(source.location)
        require_adapter_weights(adapter)
        base = source.base or ""
        if base == OFFLINE_SMOLLM2 or (Path(base).suffix == ".gguf" and _is_packaged_default(base)):
            base = resolve_model_source(OFFLINE_SMOLLM2)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        has_tok = any((adapter / f).is_file() for f in ("tokenizer_config.json", "tokenizer.json"))
        tokenizer = AutoTokenizer.from_pretrained(str(adapter) if has_tok else base)
        description = f"{Path(source.run or adapter).name}: LoRA adapter on {Path(base).name}"
        parts, chat_template = _run_masking(source.run)
    elif source.kind == "gguf" and _is_packaged_default(source.location):
        folder = resolve_model_source(OFFLINE_SMOLLM2)  # converted once by training, cached
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        description = f"{Path(source.location).name} (dequantized, training's cached conversion)"
    elif source.kind in ("gguf", "hub-gguf"):
        if source.kind == "hub-gguf":
            owner, name, filename = source.location.split("/", 2)
            folder, filename = f"{owner}/{name}", filename
        else:
            folder, filename = str(Path(source.location).parent), Path(source.location).name
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
        description = f"{filename} (dequantized by transformers)"
    else:
        model = AutoModelForCausalLM.from_pretrained(source.location, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(source.location)
        description = source.location
    model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if source.kind != "lora":
        parts, chat_template = None, None
    return ScoringModel(model=model, tokenizer=tokenizer, description=description, parts=parts,
                        chat_template=chat_template)


def _run_masking(run: str | None) -> tuple[tuple[str, str] | None, str | None]:
    """The turn openers a `tome train` run masked with (``summary.json``) and its chat template (``config.yaml``)."""
    if run is None:
        return None, None
    summary = run_summary(run) or {}
    data = summary.get("data") or {}
    parts = (data["instruction_part"], data["response_part"]) if data.get("instruction_part") and data.get(
        "response_part") else None
    chat_template = None
    try:
        import yaml

        config = yaml.safe_load((Path(run) / "config.yaml").read_text(encoding="utf-8")) or {}
        chat_template = (config.get("model") or {}).get("chat_template")
    except (OSError, ValueError):
        pass
    return parts, chat_template


def run_summary(spec: str | None) -> dict[str, Any] | None:
    """``summary.json`` of a `tome train` run folder (steps, tokens seen, losses), when ``spec`` is one."""
    if spec is None:
        return None
    path = Path(spec)
    for candidate in (path / "summary.json", path.parent / "summary.json"):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                return None
    return None
