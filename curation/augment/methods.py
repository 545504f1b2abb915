"""The augmentation methods: each rewrites a batch of prose texts, deterministically under given seeds.

* ``synonym`` — nlpaug ``SynonymAug`` on WordNet (offline: :mod:`curation.augment.wordnet`).
* ``contextual`` — nlpaug ``ContextualWordEmbsAug`` with a masked LM (hub id or local path); skipped with
  a message when the model cannot be loaded (e.g. offline).
* ``back_translation`` — English -> pivot -> English: ``apertium`` (Debian ``apertium`` +
  ``apertium-eng-spa``, no model download, many texts per process call) or ``marian`` (nlpaug
  ``BackTranslationAug`` with MarianMT models, for users online or with local model folders).

A method is built, then asked :meth:`Method.unavailable` (``None`` when it can run, else the reason,
shown to the user and written to the manifest), then :meth:`Method.augment` maps texts to new texts
(``None`` where a text could not be rewritten).
"""

from __future__ import annotations

import hashlib
import html
import os
import random
import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from curation.augment.config import AugmentConfig, BackTranslationConfig, ContextualConfig, SynonymConfig
from curation.augment.text import LayoutTokenizer
from curation.augment.wordnet import OfflineResourceError, load_wordnet, no_tags, spacy_tagger
from tomecraft.errors import error_line

Progress = Callable[[Any, int, str], Any]


def _no_progress(items, total, description):
    return items


def seed_for(*parts: Any) -> int:
    """A 32-bit seed derived from ``parts`` (stable across processes and Python versions)."""
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))


class Method:
    name: str = ""

    def params(self) -> dict[str, Any]:
        """What decides this method's output (written into each new row's ``augmentation``)."""
        raise NotImplementedError

    def unavailable(self) -> str | None:
        """``None`` when the method can run here, else a one-line reason (it is then skipped)."""
        return None

    def augment(self, texts: Sequence[str], seeds: Sequence[int], progress: Progress = _no_progress) -> list[str | None]:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- synonym


def english_stopwords() -> frozenset[str]:
    """scikit-learn's English stop-word list, in the cases nlpaug compares (it matches tokens exactly)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS)
    return frozenset(words | {w.capitalize() for w in words} | {w.upper() for w in words})


#: Tokens never replaced: anything with a digit ("5" -> "cinque"), single characters ("e-commerce" ->
#: "tocopherol-commerce") and acronyms ("NHL").
KEEP_TOKEN_REGEX = r"^(?:\w*\d\w*|\w|[A-Z]{2,}s?)$"
#: Part-of-speech tags never replaced: proper nouns, i.e. names and titles ("India" -> "Republic of India",
#: "Celsius" -> "Anders Celsius"; a prompt's names are what its answer talks about), and numbers written
#: as words ("million" -> "billion"; those the tagger misses are caught by :func:`is_number_word`).
KEEP_TAGS = frozenset({"NNP", "NNPS", "CD"})


_ROMAN_NUMERAL_RE = re.compile(r"m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})", re.I)


def is_number_word(word: str) -> bool:
    """A number written as a word: spaCy's English ``like_num`` ("twelve", "million", "first") or a Roman
    numeral of two letters or more ("iv", "xii"; one letter is a word too often: "I", "a", "v")."""
    from spacy.lang.en.lex_attrs import like_num

    return like_num(word) or (len(word) > 1 and _ROMAN_NUMERAL_RE.fullmatch(word) is not None)


def keeps_numbers(candidate: str) -> bool:
    """A WordNet synonym that brings in no number ("million" -> "1000000", "plutonium" -> "atomic number
    94", "dozen" -> "xii" or "twelve", "deuce" -> "two"): a number the origin did not have is a changed fact,
    not a paraphrase."""
    if any(ch.isdigit() for ch in candidate):
        return False
    parts = [part for part in re.split(r"[\s_-]+", candidate) if part]
    return not any(_ROMAN_NUMERAL_RE.fullmatch(part) or is_number_word(part) for part in parts)


class SynonymMethod(Method):
    name = "synonym"

    def __init__(self, cfg: SynonymConfig):
        self.cfg = cfg
        self._aug = None
        self._tagger = None
        self._tokenizer = LayoutTokenizer()

    def params(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "aug_p": c.aug_p,
            "aug_min": c.aug_min,
            "aug_max": c.aug_max,
            "source": "wordnet",
            "pos_tagger": c.pos_tagger if c.pos_tagger != "spacy" else f"spacy:{c.spacy_model}",
            "skip_stopwords": c.skip_stopwords,
        }

    def _tag_fn(self):
        c = self.cfg
        if c.pos_tagger == "spacy":
            self._tagger = spacy_tagger(c.spacy_model)
            return self._tagger
        if c.pos_tagger == "nltk":
            import nltk

            try:
                nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
            except LookupError:
                raise OfflineResourceError(
                    "pos_tagger 'nltk' needs nltk's averaged_perceptron_tagger_eng data "
                    "(nltk.download('averaged_perceptron_tagger_eng')); or use pos_tagger: spacy"
                ) from None
            return nltk.pos_tag
        return no_tags

    def _build(self):
        if self._aug is not None:
            return self._aug
        import nlpaug.augmenter.word as naw
        from nlpaug.model.word_dict import WordNet

        reader = load_wordnet(self.cfg.wordnet_dir)
        tag = self._tag_fn()

        class PackagedWordNet(WordNet):
            """nlpaug's WordNet model over a local reader and a local tagger: it never downloads."""

            def read(self):
                return reader

            def pos_tag(self, tokens):  # nlpaug calls self.model.pos_tag(tokens)
                return tag(tokens)

            def predict(self, word, pos=None):
                return [c for c in super().predict(word, pos=pos) if keeps_numbers(c)]

        class OfflineSynonymAug(naw.SynonymAug):
            @classmethod
            def get_model(cls, aug_src, lang, dict_path, force_reload):
                return PackagedWordNet(lang=lang, is_synonym=True)

            def skip_aug(self, token_idxes, tokens):  # tokens: (word, tag) pairs
                # a number word the tagger did not tag CD ("chapter iv" -> "chapter four") is a number too
                keep = [i for i in token_idxes if tokens[i][1] not in KEEP_TAGS and not is_number_word(tokens[i][0])]
                return super().skip_aug(keep, tokens)

        c = self.cfg
        self._aug = OfflineSynonymAug(
            aug_p=c.aug_p,
            aug_min=c.aug_min,
            aug_max=c.aug_max,
            stopwords=list(english_stopwords()) if c.skip_stopwords else None,
            stopwords_regex=KEEP_TOKEN_REGEX,
            tokenizer=self._tokenizer.tokenize,
            reverse_tokenizer=self._tokenizer.detokenize,
        )
        return self._aug

    def unavailable(self) -> str | None:
        try:
            self._build()
        except (OfflineResourceError, ImportError) as exc:
            return f"synonym: {exc}"
        return None

    def augment(self, texts, seeds, progress=_no_progress):
        aug = self._build()
        if self._tagger is not None:
            self._tagger.prime([LayoutTokenizer().tokenize(t) for t in texts])
        out: list[str | None] = []
        for text, seed in progress(list(zip(texts, seeds)), len(texts), "augment: synonym"):
            _seed_all(seed)
            result = aug.augment(text)
            out.append(result[0] if result else None)
        if self._tagger is not None:
            self._tagger.forget()
        return out


# ---------------------------------------------------------------------------------------------- contextual


class ContextualMethod(Method):
    name = "contextual"

    def __init__(self, cfg: ContextualConfig):
        self.cfg = cfg
        self._aug = None
        self._error: str | None = None

    def params(self) -> dict[str, Any]:
        c = self.cfg
        return {"model": c.model, "action": c.action, "aug_p": c.aug_p, "aug_max": c.aug_max, "top_k": c.top_k}

    def unavailable(self) -> str | None:
        if self._aug is not None:
            return None
        c = self.cfg
        try:
            import nlpaug.augmenter.word as naw

            self._aug = naw.ContextualWordEmbsAug(
                model_path=c.model,
                model_type=c.model_type,
                action=c.action,
                aug_p=c.aug_p,
                aug_max=c.aug_max,
                top_k=c.top_k,
                batch_size=c.batch_size,
                device=c.device,
                stopwords=list(english_stopwords()),
            )
        except Exception as exc:  # any loading failure: offline, bad id, missing weights
            offline = " (offline: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
            first = error_line(exc)
            return (
                f"contextual: masked-LM model {c.model!r} could not be loaded{offline}, method skipped; "
                f"set methods.contextual.model to a local model folder or go online ({first[:200]})"
            )
        return None

    def augment(self, texts, seeds, progress=_no_progress):
        import torch

        if self._aug is None and self.unavailable() is not None:
            return [None] * len(texts)
        out: list[str | None] = []
        batch = self.cfg.batch_size
        starts = range(0, len(texts), batch)
        for start in progress(starts, len(starts), "augment: contextual"):
            part = list(texts[start : start + batch])
            _seed_all(seeds[start])
            torch.manual_seed(seeds[start])
            result = self._aug.augment(part)
            out.extend(result if len(result) == len(part) else [None] * len(part))
        return out


# ---------------------------------------------------------------------------------------------- back-translation

_P_RE = re.compile(r'<p id="s(\d+)">(.*?)</p>', re.S)
_BR_RE = re.compile(r"<br\s*/?>", re.I)
_MARK_RE = re.compile(r"(?<![\w#@])[#@](?=\w)")


class ApertiumBackTranslator:
    """Round-trip translation through Apertium, many texts per process call.

    A call sends one HTML document through ``apertium -f html <src>-<pivot> | apertium -f html <pivot>-<src>``:
    each text is a ``<p id="sN">`` element (text HTML-escaped, newlines as ``<br>``). Apertium treats markup
    as format it never translates or moves, so every paragraph comes back with its id and is matched to its
    text; one that does not come back is reported as ``None``. Calls run in ``processes`` threads (each
    call is itself a pipeline of processes), so all cores are busy.
    """

    def __init__(self, source: str = "eng", pivot: str = "spa", texts_per_call: int = 400, processes: int = 0):
        self.source, self.pivot = source, pivot
        self.texts_per_call = texts_per_call
        self.processes = processes or os.cpu_count() or 1
        self.errors: list[str] = []

    @property
    def directions(self) -> tuple[str, str]:
        return f"{self.source}-{self.pivot}", f"{self.pivot}-{self.source}"

    def unavailable(self) -> str | None:
        if shutil.which("apertium") is None:
            return "back_translation (apertium): the apertium command is missing; install Debian packages apertium and apertium-eng-spa (scripts/install.sh does)"
        try:
            listed = subprocess.run(["apertium", "-l"], capture_output=True, text=True, timeout=60).stdout.split()
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"back_translation (apertium): apertium -l failed: {exc}"
        missing = [d for d in self.directions if d not in listed]
        if missing:
            return (
                f"back_translation (apertium): translation direction(s) {', '.join(missing)} not installed "
                f"(Debian package apertium-{self.source}-{self.pivot} or apertium-{self.pivot}-{self.source})"
            )
        return None

    @staticmethod
    def encode(texts: Sequence[str], offset: int = 0) -> str:
        return "".join(
            f'<p id="s{offset + i}">' + html.escape(t, quote=False).replace("\n", "<br>") + "</p>\n"
            for i, t in enumerate(texts)
        )

    @staticmethod
    def decode(output: str) -> dict[int, str]:
        return {int(k): html.unescape(_BR_RE.sub("\n", v)) for k, v in _P_RE.findall(output)}

    def _call(self, texts: Sequence[str]) -> list[str | None]:
        there, back = self.directions
        cmd = f"apertium -u -f html {shlex.quote(there)} | apertium -u -f html {shlex.quote(back)}"
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd], input=self.encode(texts).encode("utf-8"), capture_output=True
        )
        if proc.returncode != 0:
            self.errors.append(f"apertium exited {proc.returncode}: {proc.stderr.decode(errors='replace').strip()[:200]}")
            return [None] * len(texts)
        got = self.decode(proc.stdout.decode("utf-8", errors="replace"))
        out: list[str | None] = []
        for i, src in enumerate(texts):
            text = got.get(i)
            if text is not None and not _MARK_RE.search(src):
                # '#' / '@' before a word are Apertium's marks for forms it could not generate / transfer
                text = _MARK_RE.sub("", text)
            out.append(text)
        return out

    def translate(self, texts: Sequence[str], progress: Progress = _no_progress) -> list[str | None]:
        # at least one call per process when there is enough text, at most texts_per_call texts a call
        size = max(1, min(self.texts_per_call, -(-len(texts) // self.processes)))
        chunks = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
        results: list[list[str | None]] = []
        with ThreadPoolExecutor(max_workers=max(1, min(self.processes, len(chunks) or 1))) as pool:
            for chunk_out in progress(pool.map(self._call, chunks), len(chunks), "augment: back-translation (apertium)"):
                results.append(chunk_out)
        return [t for chunk in results for t in chunk]


class BackTranslationMethod(Method):
    name = "back_translation"

    def __init__(self, cfg: BackTranslationConfig):
        self.cfg = cfg
        self._apertium = None
        self._marian = None

    def params(self) -> dict[str, Any]:
        c = self.cfg
        if c.backend == "apertium":
            return {"backend": "apertium", "source": c.apertium_source, "pivot": c.apertium_pivot}
        return {"backend": "marian", "from_model": c.from_model, "to_model": c.to_model, "max_length": c.max_length}

    def unavailable(self) -> str | None:
        c = self.cfg
        if c.backend == "apertium":
            if self._apertium is None:
                self._apertium = ApertiumBackTranslator(c.apertium_source, c.apertium_pivot, c.texts_per_call, c.processes)
            return self._apertium.unavailable()
        if self._marian is not None:
            return None
        try:
            import nlpaug.augmenter.word as naw

            self._marian = naw.BackTranslationAug(
                from_model_name=c.from_model,
                to_model_name=c.to_model,
                device=c.device,
                batch_size=c.batch_size,
                max_length=c.max_length,
            )
        except Exception as exc:
            offline = " (offline: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
            first = error_line(exc)
            return (
                f"back_translation (marian): models {c.from_model!r} / {c.to_model!r} could not be loaded{offline}, "
                f"method skipped; use backend: apertium offline ({first[:200]})"
            )
        return None

    def augment(self, texts, seeds, progress=_no_progress):
        if self.unavailable() is not None:
            return [None] * len(texts)
        if self.cfg.backend == "apertium":
            return self._apertium.translate(texts, progress)
        import torch

        out: list[str | None] = []
        batch = self.cfg.batch_size
        starts = range(0, len(texts), batch)
        for start in progress(starts, len(starts), "augment: back-translation (marian)"):
            part = list(texts[start : start + batch])
            torch.manual_seed(seeds[start])
            result = self._marian.augment(part)
            out.extend(result if len(result) == len(part) else [None] * len(part))
        return out


def build_methods(cfg: AugmentConfig) -> list[Method]:
    """The enabled methods, in a fixed order (synonym, contextual, back_translation)."""
    m = cfg.methods
    methods: list[Method] = []
    if m.synonym.enabled:
        methods.append(SynonymMethod(m.synonym))
    if m.contextual.enabled:
        methods.append(ContextualMethod(m.contextual))
    if m.back_translation.enabled:
        methods.append(BackTranslationMethod(m.back_translation))
    return methods
