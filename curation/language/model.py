"""py3langid's language model, run by a compiled kernel over Arrow string buffers.

The model is the one the PyPI package ``py3langid`` ships (langid.py's naive Bayes over byte n-grams,
142 classes incl. ``zxx``, no linguistic content): a DFA walks a text's UTF-8 bytes and emits one n-gram
feature per state; the class scores are ``log1p(feature counts) @ ptc + pc``; with ``norm_probs`` they are
divided by ``sqrt(bytes)`` and soft-maxed into a confidence. The kernel here does exactly that for a
whole Arrow string array at once (no Python per text), on ``workers`` threads with the GIL released,
and gives py3langid's labels (``tests/curation/language/test_model.py`` compares them on real text).

Its preprocessing is py3langid's too: a text whose cased letters are all upper case is lower-cased, and
texts are NFC-normalized (both with ``pyarrow.compute``). ``max_bytes`` reads only a text's first bytes
(the language of a long answer is settled long before its end); 0 reads all of it.
"""

from __future__ import annotations

import io
import lzma
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.columns import contiguous, string_buffers
from curation.core.jit import njit
from curation.parallel import run_chunks

UNDETERMINED = "und"  # a text with no feature at all (empty, or only bytes the model never saw)
NO_LANGUAGE = "zxx"  # the model's class for text with no linguistic content


@dataclass(frozen=True)
class LangIdModel:
    classes: tuple[str, ...]  # class index -> ISO 639 code; "und" is appended last
    ptc: np.ndarray  # (features, classes) float32
    pc: np.ndarray  # (classes,) float32
    nextmove: np.ndarray  # distinct DFA rows, 256 entries each, flattened
    rowbase: np.ndarray  # state -> offset of its row in ``nextmove``
    out_feat: np.ndarray  # state -> feature id or -1
    alias: np.ndarray  # (k, 2) class pairs that share a label (sr: Cyrillic + Latin): fold the second into the first

    @property
    def und(self) -> int:
        return len(self.classes) - 1


def model_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("py3langid")
    if spec is None or not spec.origin:
        raise ModuleNotFoundError("language ID needs the PyPI package py3langid (pip install 'tomecraft[quality]')")
    return Path(spec.origin).parent / "data" / "model.npz.xz"


@lru_cache(maxsize=1)
def load_model() -> LangIdModel:
    """The packaged model, loaded once per process (about 0.5 s, 100 MB)."""
    with lzma.open(model_path()) as fh, np.load(io.BytesIO(fh.read()), allow_pickle=False) as data:
        classes = [str(c) for c in data["classes"].tolist()]
        first: dict[str, int] = {}
        alias = []
        for i, c in enumerate(classes):
            if c in first:
                alias.append((first[c], i))
            else:
                first[c] = i
        return LangIdModel(
            classes=tuple(classes) + (UNDETERMINED,),
            ptc=np.ascontiguousarray(data["ptc"], dtype=np.float32),
            pc=np.ascontiguousarray(data["pc"], dtype=np.float32),
            nextmove=np.ascontiguousarray(data["nextmove"], dtype=np.uint32),
            rowbase=data["nextmove_row"].astype(np.int64) << 8,
            out_feat=np.ascontiguousarray(data["out_feat"], dtype=np.int32),
            alias=np.asarray(alias, dtype=np.int64).reshape(-1, 2),
        )


@njit(nogil=True, cache=True)
def _classify_range(data, offsets, lo, hi, max_bytes, nextmove, rowbase, out_feat, ptc, pc, alias,
                    out_class, out_conf):
    n_classes = pc.shape[0]
    counts = np.zeros(ptc.shape[0], np.int32)
    touched = np.empty(ptc.shape[0], np.int32)
    scores = np.empty(n_classes, np.float32)
    for i in range(lo, hi):
        start = offsets[i]
        end = offsets[i + 1]
        if max_bytes > 0 and end - start > max_bytes:
            end = start + max_bytes
        state = 0
        nf = 0
        for j in range(start, end):
            state = nextmove[rowbase[state] + data[j]]
            f = out_feat[state]
            if f >= 0:
                if counts[f] == 0:
                    touched[nf] = f
                    nf += 1
                counts[f] += 1
        if nf == 0:
            out_class[i] = -1
            out_conf[i] = 0.0
            continue
        for c in range(n_classes):
            scores[c] = 0.0
        for k in range(nf):
            f = touched[k]
            w = np.float32(math.log1p(counts[f]))
            counts[f] = 0
            for c in range(n_classes):
                scores[c] += w * ptc[f, c]
        inv_t = np.float32(1.0 / math.sqrt(end - start))
        top = -np.inf
        for c in range(n_classes):
            scores[c] = (scores[c] + pc[c]) * inv_t
            if scores[c] > top:
                top = scores[c]
        total = np.float32(0.0)
        for c in range(n_classes):
            scores[c] = math.exp(scores[c] - top)
            total += scores[c]
        for a in range(alias.shape[0]):
            scores[alias[a, 0]] += scores[alias[a, 1]]
            scores[alias[a, 1]] = 0.0
        best = 0
        for c in range(1, n_classes):
            if scores[c] > scores[best]:
                best = c
        out_class[i] = best
        out_conf[i] = scores[best] / total


def prepare(texts: pa.Array) -> pa.Array:
    """py3langid's preprocessing on a string array: all-upper-case texts lower-cased, NFC; nulls become ""."""
    texts = contiguous(texts)
    texts = pc.fill_null(texts, "")
    upper = pc.utf8_is_upper(texts)
    if pc.any(upper).as_py():
        texts = pc.if_else(upper, pc.utf8_lower(texts), texts)
    return pc.utf8_normalize(texts, "NFC")


def classify(texts: pa.Array, *, max_bytes: int = 0, workers: int = 0, preprocess: bool = True,
             model: LangIdModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Class index (into ``model.classes``; ``model.und`` for featureless text) and confidence per text."""
    model = model or load_model()
    if preprocess:
        texts = prepare(texts)
    data, offsets = string_buffers(texts)
    n = len(offsets) - 1
    out_class = np.empty(n, np.int32)
    out_conf = np.empty(n, np.float32)
    args = (max_bytes, model.nextmove, model.rowbase, model.out_feat, model.ptc, model.pc, model.alias,
            out_class, out_conf)
    run_chunks(n, workers, lambda lo, hi: _classify_range(data, offsets, lo, hi, *args))
    out_class[out_class < 0] = model.und
    return out_class, out_conf


def codes(model: LangIdModel, classes: np.ndarray) -> pa.Array:
    """The ISO codes of class indices, as a dictionary-encoded Arrow array (cheap to build and to compare)."""
    return pa.DictionaryArray.from_arrays(pa.array(classes, pa.int32()), pa.array(model.classes))
