"""A cell's answers to the prompt set, generated in one batch, and the automatic checks on them.

`tome eval` answers one prompt at a time on CPU (the serving code); a sweep answers with many models, so each
trained model answers every prompt in one left-padded batch on whatever device it was loaded on (the GPU when
there is one), greedy unless ``temperature`` > 0. The checks are `tome eval`'s
(:func:`evaluation.prompt_sets.score_answer`), so a cell's "checks passed" means what it means there.
"""

from __future__ import annotations

import time
from typing import Any

from evaluation.prompt_sets import PromptSpec, score_answer


def batched_answers(model: Any, tokenizer: Any, prompts: list[PromptSpec], max_new_tokens: int,
                    temperature: float = 0.0, seed: int = 0) -> list[str]:
    """One answer per prompt, generated together (left padding, the tokenizer's chat template)."""
    import torch

    from serving.generation import TOP_K, TOP_P

    device = next(model.parameters()).device
    texts = [tokenizer.apply_chat_template(p.messages(), tokenize=False, add_generation_prompt=True) for p in prompts]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    finally:
        tokenizer.padding_side = side
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature, "top_k": TOP_K, "top_p": TOP_P}
        if temperature > 0 else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None})
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling)
    width = batch["input_ids"].shape[1]
    return [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in out]


def answer_and_check(model: Any, tokenizer: Any, prompts: list[PromptSpec], max_new_tokens: int,
                     temperature: float = 0.0, seed: int = 0) -> dict[str, Any]:
    """``{"passed", "total", "per_prompt": {id: {"passed", "total", "checks": {...}}}, "answers", "seconds"}``."""
    started = time.perf_counter()
    answers = batched_answers(model, tokenizer, prompts, max_new_tokens, temperature, seed)
    per_prompt = {}
    for prompt, text in zip(prompts, answers):
        results = score_answer(prompt, text)
        per_prompt[prompt.id] = {"passed": sum(r.passed for r in results), "total": len(results),
                                 "checks": {r.name: bool(r.passed) for r in results}}
    return {
        "passed": sum(p["passed"] for p in per_prompt.values()),
        "total": sum(p["total"] for p in per_prompt.values()),
        "per_prompt": per_prompt,
        "answers": {p.id: text for p, text in zip(prompts, answers)},
        "seconds": round(time.perf_counter() - started, 3),
    }
