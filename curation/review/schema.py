"""The Argilla dataset a review runs in: one chat field, three questions, metadata, a vector, guidelines.

Names here are the contract between export and import (and the annotators' UI): change one and responses
of older exports can no longer be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argilla as rg

FIELD_CONVERSATION = "conversation"
Q_VERDICT = "verdict"
Q_QUALITY = "quality"
Q_CORRECTED = "corrected_answer"
QUESTIONS = (Q_VERDICT, Q_QUALITY, Q_CORRECTED)
VERDICTS = ("keep", "fix", "discard")
QUALITY_VALUES = (1, 2, 3, 4, 5)
VECTOR = "embedding"

# metadata name -> kind; every record carries the ones it has a value for
METADATA = {
    "source": "terms",
    "score": "float",
    "turns": "integer",
    "characters": "integer",
    "location": "terms",
    "cluster": "terms",
    "cluster_size": "integer",
    "augmentation": "terms",
    "heuristics": "terms",
    "selected_for": "terms",
}
METADATA_TITLES = {
    "source": "Source dataset",
    "score": "Source quality score",
    "turns": "Turns",
    "characters": "Characters",
    "location": "Where the row is now (split or removed)",
    "cluster": "Near-duplicate cluster",
    "cluster_size": "Cluster size",
    "augmentation": "Augmentation method",
    "heuristics": "Heuristics that fired",
    "selected_for": "Why it is in this review",
}

AGENT_PREFIX = "tomecraft"

GUIDELINES = """\
# Reviewing chat fine-tuning rows

Each record is one conversation from our curated data. Read it as a whole, then answer:

## verdict (required)

* **keep** - the conversation is correct, helpful and safe as it is; train on it.
* **fix** - the prompt is fine but the **last assistant answer** needs changes. Write the full corrected
  answer in *corrected_answer* (it replaces the last assistant turn; nothing else changes).
* **discard** - the row should not be trained on: wrong or harmful answer that is not worth fixing,
  nonsense prompt, a duplicate of another row, or not in English when it should be.

## quality (optional)

How good is the final answer, 1 (useless) to 5 (excellent)? Rate the row as it would be *after* your verdict.

## corrected_answer (only for *fix*)

Pre-filled with the current last answer so that you can edit it. It is ignored unless the verdict is *fix*.

## Suggestions

Suggestions come from our heuristics, and the agent names which: `tomecraft/filter:answer_too_short` means
that length filter fired, `tomecraft/exact_duplicate` that the row was dropped as a duplicate,
`tomecraft/kept` that every heuristic passed it. The quality suggestion comes from the source's own score.
They are hints, not answers: judge the row yourself.

## Metadata and search

Filter by *source*, *score*, *turns*, *characters*, *location* (train/validation/test/removed),
*cluster* / *cluster_size* (near-duplicate clusters: review their members together), *augmentation*,
*heuristics* (which fired) and *selected_for* (why the row is here). Use *Find similar* on a record to
see rows with close sentence embeddings.
"""


def build_settings(vector_dimensions: int | None, min_submitted: int = 1, client: "rg.Argilla | None" = None) -> "rg.Settings":
    """The settings, built with argilla's own classes (``client``: the one their constructors should use)."""
    import argilla as rg

    fields = [rg.ChatField(FIELD_CONVERSATION, title="Conversation", use_markdown=True, required=True, _client=client)]
    questions = [
        rg.LabelQuestion(
            Q_VERDICT,
            labels={"keep": "keep", "fix": "fix", "discard": "discard"},
            title="Verdict: keep, fix the last answer, or discard?",
            description="keep = train on it as is; fix = write the corrected last answer below; discard = drop the row.",
            required=True,
            client=client,
        ),
        rg.RatingQuestion(
            Q_QUALITY,
            values=list(QUALITY_VALUES),
            title="Quality of the final answer (1-5)",
            description="1 = useless, 3 = acceptable, 5 = excellent.",
            required=False,
            client=client,
        ),
        rg.TextQuestion(
            Q_CORRECTED,
            title="Corrected last answer (for verdict = fix)",
            description="Replaces the last assistant turn when the verdict is fix; ignored otherwise.",
            required=False,
            use_markdown=True,
            client=client,
        ),
    ]
    metadata = []
    for name, kind in METADATA.items():
        title = METADATA_TITLES[name]
        if kind == "terms":
            metadata.append(rg.TermsMetadataProperty(name, title=title, client=client))
        elif kind == "float":
            metadata.append(rg.FloatMetadataProperty(name, title=title, client=client))
        else:
            metadata.append(rg.IntegerMetadataProperty(name, title=title, client=client))
    vectors = []
    if vector_dimensions:
        vectors.append(rg.VectorField(VECTOR, dimensions=vector_dimensions, title="Sentence embedding", _client=client))
    return rg.Settings(
        fields=fields,
        questions=questions,
        metadata=metadata,
        vectors=vectors,
        guidelines=GUIDELINES,
        allow_extra_metadata=False,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
    )
