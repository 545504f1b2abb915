"""Augmentation on hostile inputs and configs: new rows keep numbers, names and the input's spacing; odd budgets run."""

from __future__ import annotations

import re
from pathlib import Path

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


@pytest.mark.slow  # (several seconds: the fast lane stays under 3 minutes)
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


@pytest.mark.slow  # several seconds: the slow lane
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


# ------------------------------------------------------------------------------------------- hostile text


def test_long_lines_are_cut_and_tidied_without_a_quadratic_scan():
    """A 2 MB prompt on one line (or one long run of blanks): the paragraph-break search and the space-before-
    punctuation cleanup each rescanned the rest of the line from every character, so a 200 KB prompt held the
    augment stage for minutes (40 KB: 7 s a call, several calls a candidate). A subprocess with a generous hang
    guard, so the old code fails instead of stalling the suite."""
    import subprocess
    import sys

    code = (
        "from curation.augment.text import split_pieces, task_input_start, tidy_spacing\n"
        "line = 'word ' * 400_000\n"
        "assert task_input_start(line) is None\n"
        "assert task_input_start('x' * 2_000_000 + '\\n\\nInput.') == 2_000_001\n"
        "assert ''.join(p.text for p in split_pieces(line, protect_task_input=True)) == line\n"
        "blanks = 'a' + ' \\t' * 1_000_000 + 'b'\n"
        "assert tidy_spacing(blanks, blanks) == blanks\n"
        "assert tidy_spacing('a b.', 'a' + ' ' * 2_000_000 + '.') == 'a.'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(Path(__file__).resolve().parents[3]))
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("line", [
    "sudo apt-get install -y python3 && echo done > /tmp/x.log",
    "$ ls -la ~/projects",
    "pip install numpy pandas",
    "git commit -m \"fix the build\"",
    "rm -rf build/",
    "cd /var/log && tail syslog",
    "python3 train.py --epochs 3",
    "| name | value |",
    "|------|-------|",
    "  | apple | 12 |  ",
])
def test_shell_commands_and_table_rows_are_protected(line):
    """The docs promise lines that look like code stay as written: a shell command is code ("sudo apt-get
    install -y python3" came back as "I sweat Apt-take install -and python3"), and a markdown table's cells are
    the data the answer quotes ("| apple | 12 |" became "| malus pumila | 12 |"; back-translation turned the
    header "| name | value |" into "| Value | of name |")."""
    from curation.augment.text import split_pieces

    text = f"Explain the following to a beginner.\n{line}\nThen describe each part."
    pieces = split_pieces(text)
    assert "".join(p.text for p in pieces) == text
    assert line in [p.text for p in pieces if not p.prose]


@pytest.mark.parametrize("line", [
    "make a list of ten fruits and sort them",
    "cat food is more expensive than dog food",
    "Python is a popular language for data science",
    "Echo the main idea of the paragraph in one sentence",
    "The ratio is 3 | 4 in this case",
])
def test_prose_lines_that_name_a_command_stay_prose(line):
    from curation.augment.text import split_pieces

    assert all(p.prose for p in split_pieces(line))


def test_synonyms_never_bring_in_number_words():
    """README: synonyms "never bring one in" — "dozen" became "twelve", "deuce" "two", and a lowercase Roman
    numeral was swapped for a number word ("chapter iv" -> "chapter four")."""
    assert not keeps_numbers("twelve") and not keeps_numbers("two") and not keeps_numbers("Fourth")
    texts = [
        "Buy a dozen eggs and a couple of apples for the trio.",
        "Use a zero or nil value with the unit vector and the deuce.",
        "Chapter iv explains the first and second laws in a twinkling.",
    ]
    number_words = re.compile(r"\b(?:zero|one|two|three|four|five|six|ten|twelve|first|second|iv|xii)\b", re.I)
    method = SynonymMethod(SynonymConfig(aug_p=1.0, aug_max=None))
    for seed in range(5):
        out = method.augment(texts, [seed_for(seed, i) for i in range(len(texts))])
        for text, new in zip(texts, out):
            assert sorted(number_words.findall(new.lower())) == sorted(number_words.findall(text.lower())), (text, new)


def test_number_words_are_spacys_and_roman_numerals_of_two_letters():
    from curation.augment.methods import is_number_word

    assert is_number_word("iv") and is_number_word("XII") and is_number_word("million") and is_number_word("third")
    assert not is_number_word("mill") and not is_number_word("I") and not is_number_word("dozen")


HOSTILE_PROMPTS = [
    "Summarize the table below and give the biggest value.\n| name | value |\n|------|-------|\n| apple | 12 |\n"
    "| banana | 7 |",
    "Describe what happens when you type this in a terminal:\nsudo apt-get install -y python3 && echo done > "
    "/tmp/x.log\nthen explain each part of the command.",
    "Describe the following code and tell me what it prints.\n```python\nfor i in range(3):\n    print(i * 2)\n```\n"
    "Also explain the loop variable.",
    "Explain ^what$ the @symbols *mean* in #hashtags and a/b paths like <tag> [brackets] \\backslash\\ in text.",
    "Translate this: Hello world مرحبا بالعالم שלום עולם Привет мир 你好世界 and explain the greeting.",
    "\u202eExplain why the sky looks blue during the day\u202c",
    "Explain why cafe\u0301 and naïve and Z\u0351\u0352a\u0354lgo text break simple tokenizers.",
    "Compute 3 apples plus 17 oranges minus 2.5 kilograms and explain the large result quickly.",
    "!!! ??? ... ;;; ---",
    "😀😀😀 🎉🎉 👍",
    "\u200b\u200b\u00a0\u2060",
]
PROTECTED_LINES = ["| name | value |", "|------|-------|", "| apple | 12 |", "| banana | 7 |",
                   "sudo apt-get install -y python3 && echo done > /tmp/x.log",
                   "```python\nfor i in range(3):\n    print(i * 2)\n```"]


def _hostile_rows():
    rows = [{"id": f"h{i:02d}", "source": "s", "conversations": [{"from": "human", "value": p},
                                                                  {"from": "gpt", "value": "A helpful answer here."}]}
            for i, p in enumerate(HOSTILE_PROMPTS)]
    rows.append({"id": "sys", "source": "s", "conversations": [
        {"from": "system", "value": "You are a careful assistant who answers briefly."},
        {"from": "human", "value": "Describe the large house near the big river."},
        {"from": "gpt", "value": "It is a big house."},
        {"from": "human", "value": "Explain why the old house is so big and beautiful."},
        {"from": "gpt", "value": "Because it was built with care."}]})
    return rows


def _check_added(rows, result):
    by_id = {r["id"]: r for r in rows}
    for new in result.added:
        origin = by_id[new["origin_id"]]
        assert [t["from"] for t in new["conversations"]] == [t["from"] for t in origin["conversations"]]
        for old_turn, new_turn in zip(origin["conversations"], new["conversations"]):
            assert new_turn["value"].strip(), new["id"]
            if old_turn["from"] != "human":
                assert new_turn["value"] == old_turn["value"]
        new_text = "\n".join(t["value"] for t in new["conversations"])
        for line in PROTECTED_LINES:
            if line in origin["conversations"][0]["value"]:
                assert line in new_text, (new["id"], new_text)
        assert re.findall(r"\d+", new_text) == re.findall(r"\d+", "\n".join(t["value"] for t in origin["conversations"])) \
            or new["id"].endswith("back_translation")


def test_hostile_prompts_keep_roles_protected_lines_and_accounting_with_synonyms(tmp_path):
    rows = _hostile_rows()
    cfg = AugmentConfig(enabled=True, budget=BudgetConfig(fraction=10.0),
                        methods=MethodsConfig(synonym=SynonymConfig(aug_p=1.0, aug_max=None)),
                        guard=GuardConfig(min_cosine=-1.0, max_jaccard=1.0))
    cfg.methods.back_translation.enabled = False
    result = run_stage(Augment(cfg), rows, config=CurationConfig(), cache_dir=tmp_path)
    stats = result.stats
    assert len(result.kept) == len(rows)
    assert stats["augmented"] == len(result.added) >= 8
    assert stats["augmented"] + sum(stats["rejected"].values()) == stats["candidates"] == len(rows)
    assert stats["rejected"] == {"no_text": 3}  # punctuation, emoji and zero-width prompts have no words to swap
    _check_added(rows, result)


@pytest.mark.slow
def test_hostile_prompts_through_both_methods_twice_give_the_same_rows(tmp_path):
    if ApertiumBackTranslator().unavailable():
        pytest.skip(ApertiumBackTranslator().unavailable())
    rows = _hostile_rows()
    cfg = AugmentConfig(enabled=True, budget=BudgetConfig(fraction=10.0), guard=GuardConfig(min_cosine=-1.0, max_jaccard=1.0))
    first = run_stage(Augment(cfg), rows, config=CurationConfig(), cache_dir=tmp_path / "a")
    second = run_stage(Augment(cfg), list(reversed(rows)), config=CurationConfig(), cache_dir=tmp_path / "b")
    assert first.stats["augmented"] + sum(first.stats["rejected"].values()) == first.stats["candidates"] == 2 * len(rows)
    assert {m: s["rejected"].get("failed", 0) for m, s in first.stats["methods"].items()} == {"synonym": 0, "back_translation": 0}
    _check_added(rows, first)
    assert sorted(first.added, key=lambda r: r["id"]) == sorted(second.added, key=lambda r: r["id"])


@pytest.mark.slow
def test_a_200_kb_prompt_is_augmented_without_blowing_up(tmp_path):
    if ApertiumBackTranslator().unavailable():
        pytest.skip(ApertiumBackTranslator().unavailable())
    story = "The quick brown fox jumps over the lazy dog near the riverbank while children play happily. " * 2200
    prompt = "Describe this long story carefully. " + story.strip() + "\n\n| item | count |\n| fox | 1 |"
    rows = [{"id": "big", "source": "s", "conversations": [{"from": "human", "value": prompt},
                                                            {"from": "gpt", "value": "A fox and a dog."}]}]
    cfg = AugmentConfig(enabled=True, protect_task_input=False, budget=BudgetConfig(fraction=10.0),
                        guard=GuardConfig(min_cosine=-1.0, max_jaccard=1.0))
    result = run_stage(Augment(cfg), rows, config=CurationConfig(), cache_dir=tmp_path)
    assert len(result.added) == 2
    for new in result.added:
        value = new["conversations"][0]["value"]
        assert len(prompt) * 0.8 < len(value) < len(prompt) * 1.2
        assert value.endswith("\n\n| item | count |\n| fox | 1 |")
