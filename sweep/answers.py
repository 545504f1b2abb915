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


def prompt_ids(tokenizer: Any, prompt: PromptSpec) -> list[int]:
    """Token ids of ``prompt`` under the tokenizer's chat template, a message's own spelling of a special token
    (``<|im_start|>``) tokenized as text, as `tome serve` and `tome eval` do (`tomecraft.chat_text`): a prompt file
    then asks every model the same question, and no prompt can type a fake turn."""
    from serving.generation import tokenizer_specials
    from tomecraft.chat_text import prompt_segments

    def render(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    ids: list[int] = []
    for text, literal in prompt_segments(render, prompt.messages(), tokenizer_specials(tokenizer)):
        ids += tokenizer(text, add_special_tokens=False, split_special_tokens=literal)["input_ids"]
    return ids


def batched_answers(model: Any, tokenizer: Any, prompts: list[PromptSpec], max_new_tokens: int,
                    temperature: float = 0.0, seed: int = 0) -> list[str]:
    """One answer per prompt, generated together (left padding, the tokenizer's chat template). ``ValueError``
    naming the prompt when one does not fit the model's context with ``max_new_tokens`` left for its answer."""
    import torch

    from serving.generation import TOP_K, TOP_P

    device = next(model.parameters()).device
    encoded = [prompt_ids(tokenizer, p) for p in prompts]
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    for prompt, ids in zip(prompts, encoded):
        if isinstance(limit, int) and len(ids) + max_new_tokens > limit:
            raise ValueError(f"prompt {prompt.id!r}: {len(ids):,} tokens and {max_new_tokens} new ones do not fit the "
                             f"model's {limit:,}-token context; shorten it or lower eval.max_new_tokens")
    width = max(len(ids) for ids in encoded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded], device=device)
    attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=device)
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature, "top_k": TOP_K, "top_p": TOP_P}
        if temperature > 0 else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None})
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.pad_token_id, **sampling)
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
