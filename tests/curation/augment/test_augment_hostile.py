"""Augmentation on hostile inputs and configs: new rows keep numbers, names and the input's spacing; odd budgets run."""

from __future__ import annotations

import re

import pytest

from curation.augment.budget import plan
from curation.augment.config import AugmentConfig, BudgetConfig, GuardConfig, MethodsConfig, SynonymConfig
from curation.augment.methods import ApertiumBackTranslator, SynonymMethod, keeps_numbers, seed_for
from curation.augment.stage import Augment
from curation.augment.text import tidy_spacing
from curation.config import CurationConfig
from curation.engines.inmemory import run_stage

ROMAN = re.compile(r"\b[ivxlcdm]+\b", re.I)


# ------------------------------------------------------------------------------------------- spacing


def test_tidy_spacing_undoes_only_the_spacing_the_source_lacked():
    # real Apertium eng->spa->eng outputs: a dropped pronoun leaves a double space or a space at a line start
    assert (
        tidy_spacing("Imagine you are a tourist in Rome, what would be your favorite sights?",
                     "It imagines  you are a tourist  in Rome, what would be yours seen favourite ?")
        == "It imagines you are a tourist in Rome, what would be yours seen favourite?"
    )
    assert (
        tidy_spacing("Rewrite it.\n\nHe had been acting.", "Redraft it.\n\n It had been acting.")
        == "Redraft it.\n\nIt had been acting."
    )
    # spacing the source had stays
    assert tidy_spacing("Line one.\n  Indented  line .", "Row one.\n  Indented  row .") == "Row one.\n  Indented  row ."


@pytest.mark.slow
def test_back_translated_rows_have_no_stray_spaces(tmp_path):
    if ApertiumBackTranslator().unavailable():
        pytest.skip(ApertiumBackTranslator().unavailable())
    prompts = [
        "Imagine you are a tourist in Rome, what would be your favorite sights?",
        "Rewrite the sentence so that it is in the present tense.\n\nHe had been acting in the company for the past 3 years.",
        "Summarize this piece of information:\n\nDogs are mammals and they are related to wolves.",
        "Detect if there is any profanity in the sentence.\n\nOh golly shucks, that is terrible",
    ]
    rows = [
        {"id": f"r{i}", "source": "s", "conversations": [{"from": "human", "value": p}, {"from": "gpt", "value": "An answer."}]}
        for i, p in enumerate(prompts)
    ]
    cfg = AugmentConfig(
        enabled=True,
        protect_task_input=False,  # the spacing after a blank line is part of what is checked
        budget=BudgetConfig(fraction=1.0),
        methods=MethodsConfig(synonym=SynonymConfig(enabled=False)),
        guard=GuardConfig(min_cosine=-1.0, max_jaccard=1.0),
    )
    result = run_stage(Augment(cfg), rows, config=CurationConfig(), cache_dir=tmp_path)
    added = [r["conversations"][0]["value"] for r in result.added]
    assert len(added) >= 3
    for text in added:
        assert "  " not in text and "\n " not in text and not re.search(r" [?.,!:;]", text), text


# ------------------------------------------------------------------------------------------- synonyms


def test_synonyms_never_bring_in_numbers_or_change_names():
    texts = [
        "Tell me what you would do if you won a million dollars",
        "Determine the half-life of the given element.\n\nElement: Plutonium-239",
        "Name some festivals celebrated in India and buy a dozen eggs.",
        "Convert the temperature to Celsius for the big house.",
    ]
    method = SynonymMethod(SynonymConfig(aug_p=1.0, aug_max=None))
    for seed in range(6):
        out = method.augment(texts, [seed_for(seed, i) for i in range(len(texts))])
        for text, new in zip(texts, out):
            assert re.findall(r"\d+", new) == re.findall(r"\d+", text), (text, new)
            assert not ROMAN.search(new.replace("I ", "")), (text, new)
            for name in ("Plutonium", "India", "Celsius"):
                assert new.count(name) == text.count(name), (text, new)
        assert "million" in out[0]  # a number written as a word (tagged CD) is a number


def test_keeps_numbers_screens_digits_and_roman_numerals():
    assert not keeps_numbers("1000000") and not keeps_numbers("atomic_number_94") and not keeps_numbers("xii")
    assert keeps_numbers("dozen") and keeps_numbers("automobile") and keeps_numbers("civil")


# ------------------------------------------------------------------------------------------- budget


def test_huge_fraction_is_capped_not_an_overflow():
    rows = [{"id": f"r{i}", "source": "s"} for i in range(30)]
    slots, info = plan(rows, ["synonym", "back_translation"], BudgetConfig(fraction=1e308), seed=0)
    assert len(slots) == 60 and info["candidates"] == 60 and info["requested"] == 60


@pytest.mark.parametrize("text, protected", [
    ("Translate 'Good morning, how are you doing today?' into French.", ["'Good morning, how are you doing today?'"]),
    ("Name the song \"Lose You to Love Me\" and “Someone You Loved”.", ['"Lose You to Love Me"', "“Someone You Loved”"]),
    ("Code:\n\nfunction addTwo(a, b) {\n return a + b;\n}\nconsole.log(addTwo(1, 2))\nWhat does it print?",
     ["function addTwo(a, b) {", " return a + b;", "}", "console.log(addTwo(1, 2))"]),
    ("Fix this:\n    total = 0\n\tfor x in xs:\nThanks", ["    total = 0", "\tfor x in xs:"]),
])
def test_quotes_and_code_without_fences_are_protected(text, protected):
    from curation.augment.text import split_pieces

    pieces = split_pieces(text)
    assert "".join(p.text for p in pieces) == text
    assert [p.text for p in pieces if not p.prose] == protected


def test_apostrophes_and_prose_lines_stay_prose():
    from curation.augment.text import split_pieces

    text = "It's John's book, isn't it?\nReturn the list; then sort it.\nI want to print a report for my class."
    assert all(p.prose for p in split_pieces(text))


@pytest.mark.parametrize("text, task_input", [
    ("Reword this sentence to increase clarity\n\nThe idea of her being so brave made me smile",
     "\nThe idea of her being so brave made me smile"),
    ("Given the sides of a triangle, find its perimeter.\n \nSide 1 = 4\nSide 2 = 6\n\nSide 3 = 8",
     "\nSide 1 = 4\nSide 2 = 6\n\nSide 3 = 8"),
    ("\n\nSummarize the text below.\n\nDogs are mammals.", "\nDogs are mammals."),  # blank lines before any words
    ("Fix this:\n```\nx = 1\n\ny = 2\n```", "```\nx = 1\n\ny = 2\n```"),  # a fence that spans the blank line
    ("One paragraph, nothing to protect.", None),
])
def test_a_prompts_task_input_after_its_first_blank_line_is_protected(text, task_input):
    from curation.augment.text import split_pieces

    pieces = split_pieces(text, protect_task_input=True)
    assert "".join(p.text for p in pieces) == text
    last = pieces[-1]
    assert (None if last.prose else last.text) == task_input


def test_a_paraphrased_alpaca_prompt_keeps_its_input_as_the_answer_needs_it(tmp_path):
    """Alpaca rows join ``instruction`` and ``input`` with a blank line: a prompt-only paraphrase may reword the
    instruction, never the sentence the answer rewrote (before, synonyms changed both, and the answer no longer
    matched its prompt)."""
    prompts = [
        ("Reword this sentence to increase clarity", "The idea of her being so brave made me smile"),
        ("Rewrite the sentence so that it is in the present tense", "She had worked at the company for three years"),
        ("Adapt the provided joke to make it more humorous", "Why did the frog cross the busy road?"),
    ]
    rows = [{"id": f"r{i}", "source": "s", "conversations": [{"from": "human", "value": f"{ins}.\n\n{inp}"},
                                                             {"from": "gpt", "value": "An answer."}]}
            for i, (ins, inp) in enumerate(prompts)]
    cfg = AugmentConfig(enabled=True, budget=BudgetConfig(fraction=1.0),
                        methods=MethodsConfig(synonym=SynonymConfig(aug_p=1.0, aug_max=None)),
                        guard=GuardConfig(min_cosine=-1.0, max_jaccard=1.0))
    cfg.methods.back_translation.enabled = False
    result = run_stage(Augment(cfg), rows, config=CurationConfig(), cache_dir=tmp_path)
    assert result.added
    for new in result.added:
        origin = next(r for r in rows if r["id"] == new["origin_id"])
        head, _, task_input = origin["conversations"][0]["value"].partition("\n\n")
        assert new["conversations"][0]["value"].endswith("\n\n" + task_input)
        assert new["conversations"][0]["value"] != origin["conversations"][0]["value"]


def test_a_guard_model_that_cannot_load_stops_the_stage_before_any_rewriting(tmp_path, monkeypatch):
    from curation.embeddings import EmbeddingModelError

    calls = []
    monkeypatch.setattr(SynonymMethod, "augment", lambda self, texts, seeds, progress=None: calls.append(texts) or texts)
    rows = [{"id": f"r{i}", "source": "s", "conversations": [{"from": "human", "value": f"Tell me a story about {i} cats."},
                                                             {"from": "gpt", "value": "Once upon a time."}]}
            for i in range(4)]
    cfg = AugmentConfig(enabled=True, budget=BudgetConfig(fraction=1.0), guard=GuardConfig(model=str(tmp_path / "no-model")))
    cfg.methods.back_translation.enabled = False
    with pytest.raises(EmbeddingModelError, match="cannot load embedding model"):
        run_stage(Augment(cfg), rows, config=CurationConfig(), cache_dir=tmp_path)
    assert calls == []
