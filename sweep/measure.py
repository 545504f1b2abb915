"""What is measured on each trained cell, the same way for all:

* held-out loss and perplexity on the one fixed held-out split (:func:`evaluation.heldout.heldout_loss`, rows
  prepared exactly as training prepares its eval split);
* the automatic checks on the prompt set (:mod:`sweep.answers`);
* from the run's own summary: tokens/s, peak memory, wall time, tokens seen, rows skipped by cause;
* for exported cells, per quantization: GGUF size and CPU decode tokens/s (llama.cpp through the serving code).

The trained model is loaded once (base + LoRA merged, on the GPU when there is one) for the loss and the answers.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any, Callable

from sweep.config import EvalSpec, ExportSpec


def evaluate_cell(run_dir: Path, heldout_dir: Path, spec: EvalSpec, max_seq_length: int,
                  progress: Callable | None = None) -> dict[str, Any]:
    """Held-out loss and (when ``spec.checks``) the prompt-set checks of a finished run."""
    from evaluation.heldout import heldout_loss
    from evaluation.models import load_for_scoring
    from evaluation.prompt_sets import load_prompt_set
    from training.models import import_unsloth

    import_unsloth()
    started = time.perf_counter()
    loaded = load_for_scoring(str(run_dir))
    try:
        loss = heldout_loss(loaded, heldout_dir, spec.loss_split, max_seq_length, spec.loss_max_rows,
                            spec.loss_batch_size, progress=progress)
        result: dict[str, Any] = {"heldout": loss.as_dict(), "loss_seconds": round(time.perf_counter() - started, 3)}
        if spec.checks:
            from sweep.answers import answer_and_check

            prompts = load_prompt_set(spec.prompts)
            result["checks"] = answer_and_check(loaded.model, loaded.tokenizer, prompts, spec.max_new_tokens,
                                                spec.temperature, spec.seed)
    finally:
        loaded = None
        free_memory()
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def cpu_tokens_per_second(gguf: Path, tokens: int, prompt: list[dict[str, str]]) -> dict[str, Any]:
    """Greedy decode speed of a GGUF on CPU (llama.cpp via the serving code): tokens after the first over time."""
    from serving.generation import load_generator

    generator = load_generator(str(gguf))
    try:
        first = last = None
        pieces = []
        for piece in generator.stream(prompt, temperature=0.0, max_new_tokens=tokens, seed=0):
            now = time.perf_counter()
            first = first or now
            last = now
            pieces.append(piece)
        text = "".join(pieces)
        llm = getattr(generator, "_llm", None)
        n = len(llm.vocab.tokenize(text, add_special=False, parse_special=False)) if llm is not None else len(pieces)
        threads = getattr(generator, "n_threads", None)
    finally:
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    rate = (n - 1) / (last - first) if first is not None and last is not None and last > first and n > 1 else None
    return {"tokens": n, "tokens_per_s": round(rate, 2) if rate else None, "threads": threads}


def export_cell(run_dir: Path, spec: ExportSpec, say: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """`tome export` of a finished run (no CPU smoke answer) and, per quantization, size and CPU tokens/s."""
    from training.export import export_run

    started = time.perf_counter()
    result = export_run(run_dir, None, spec.quants, smoke=False, say=say)
    prompt = [{"role": "user", "content": "Explain in a few sentences why the sky is blue."}]
    quants = {}
    for quant, path in result.gguf.items():
        speed = cpu_tokens_per_second(Path(path), spec.cpu_tokens, prompt)
        quants[quant] = {"path": path, "bytes": result.files[quant]["bytes"], **speed}
    return {"quants": quants, "seconds": round(time.perf_counter() - started, 3)}
