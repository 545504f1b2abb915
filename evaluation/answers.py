"""Several models answer a prompt set with the same generation settings; every answer is checked.

Models are loaded one at a time with :func:`serving.generation.load_generator` (what `tome serve` uses),
answer every prompt, and are released before the next one loads. With ``temperature: 0`` decoding is greedy;
otherwise it samples from an RNG seeded with ``seed`` (the same seed for every prompt and model), so a run
is repeatable on the same machine and backend.
"""

from __future__ import annotations

import gc
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from evaluation.checks import CheckResult
from evaluation.models import ModelRef, hub_or_local_cache
from evaluation.prompt_sets import PromptSpec, score_answer


@dataclass(frozen=True)
class GenerationSettings:
    temperature: float = 0.0
    max_new_tokens: int = 512
    seed: int = 0
    n_ctx: int = 4096

    def as_dict(self) -> dict[str, Any]:
        from serving.generation import TOP_K, TOP_P

        out = asdict(self)
        out["decoding"] = "greedy" if self.temperature == 0 else f"sampling (top-k {TOP_K}, top-p {TOP_P})"
        return out


@dataclass
class Answer:
    prompt_id: str
    text: str
    checks: list[CheckResult]
    seconds: float  # volatile: wall time of this answer

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"prompt_id": self.prompt_id, "text": self.text, "checks": [c.as_dict() for c in self.checks],
                "passed": self.passed, "seconds": round(self.seconds, 2)}


@dataclass
class ModelAnswers:
    ref: ModelRef
    description: str
    answers: list[Answer] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(a.passed for a in self.answers)

    @property
    def checks(self) -> int:
        return sum(len(a.checks) for a in self.answers)


def answer_all(refs: list[ModelRef], prompts: list[PromptSpec], settings: GenerationSettings,
               on_answer: Callable[[ModelRef, PromptSpec, Answer], None] | None = None,
               load: Callable[..., Any] | None = None) -> list[ModelAnswers]:
    """Every model answers every prompt (models in the given order, one loaded at a time)."""
    if load is None:
        from serving.generation import load_generator as load
    out = []
    for ref in refs:
        with hub_or_local_cache(ref.spec):
            generator = load(ref.spec, n_ctx=settings.n_ctx)
        result = ModelAnswers(ref, getattr(generator, "description", ref.label))
        try:
            check_fit(generator, ref, prompts, settings)
            for prompt in prompts:
                t = time.perf_counter()
                text = generator.generate(prompt.messages(), temperature=settings.temperature,
                                          max_new_tokens=settings.max_new_tokens, seed=settings.seed)
                answer = Answer(prompt.id, text.strip(), score_answer(prompt, text), time.perf_counter() - t)
                result.answers.append(answer)
                if on_answer is not None:
                    on_answer(ref, prompt, answer)
        finally:
            close = getattr(generator, "close", None)
            if close is not None:
                close()
            del generator
            gc.collect()
        out.append(result)
    return out


def check_fit(generator: Any, ref: ModelRef, prompts: list[PromptSpec], settings: GenerationSettings) -> None:
    """Raise ``ValueError`` naming the model and the prompt unless every prompt fits ``generator``'s context with
    ``max_new_tokens`` left for its answer: before the first answer, not after the others (a 100 KB prompt
    said only "the message is 25,000 tokens", minutes in, without saying which)."""
    from serving.generation import PromptTooLong

    n_ctx = getattr(generator, "n_ctx", None)
    if isinstance(n_ctx, int) and settings.max_new_tokens >= n_ctx:
        raise ValueError(f"{ref.label}: max new tokens {settings.max_new_tokens} leaves no room for a prompt in its "
                         f"{n_ctx}-token context; lower it below {n_ctx}")
    fit = getattr(generator, "fit_messages", None)
    if fit is None:
        return
    for prompt in prompts:
        try:
            fit(prompt.messages(), settings.max_new_tokens)
        except PromptTooLong as exc:
            raise PromptTooLong(f"{ref.label} / prompt {prompt.id!r}: {exc}") from None
