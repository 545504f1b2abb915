"""Prompt files and model answers as a user or a model writes them: text no tokenizer or UTF-8 file takes,
ids that are not text, check parameters that would never finish or always pass, and answers full of HTML
and Markdown, which eval.md must show as text."""

from __future__ import annotations

import re

import pytest

from evaluation.answers import Answer, GenerationSettings, ModelAnswers
from evaluation.checks import CheckResult, check_params, run_check
from evaluation.models import ModelRef
from evaluation.prompt_sets import PromptSetError, PromptSpec, load_prompt_set
from evaluation.tables import EvalResults, render_html, render_markdown


@pytest.mark.parametrize("entry, message", [
    ('{id: s, text: "bad \\ud800 here"}', "prompts[0] (prompt 's'): text holds a lone surrogate"),
    ('{id: s, text: "nul \\0 here"}', "text holds a control character"),
    ('{id: s, text: x, system: "\\x07"}', "system holds a control character"),
    ('{id: s, text: x, checks: [{name: keywords, terms: ["ok", "\\udc00"]}]}', "checks[0].terms[1] holds a lone surrogate"),
    ('{id: [1, 2], text: x}', "'id' must be text (got list)"),
    ('{id: true, text: x}', "'id' must be text (got bool)"),
])
def test_prompt_text_no_model_can_take_is_a_one_line_error(tmp_path, entry, message):
    path = tmp_path / "p.yaml"
    path.write_text(f"prompts:\n  - {entry}\n", encoding="utf-8")
    with pytest.raises(PromptSetError) as info:
        load_prompt_set(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("prompts: []\n", "no prompts (the list under 'prompts' is empty)"),
    ("prompts: {a: 1}\n", "expected a list under 'prompts'"),
])
def test_an_empty_or_misshapen_prompt_list_says_which(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromptSetError, match=re.escape(message)):
        load_prompt_set(path)


def test_an_id_of_zero_is_kept(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("prompts:\n  - {id: 0, text: x}\n", encoding="utf-8")
    assert load_prompt_set(path)[0].id == "0"


@pytest.mark.parametrize("name, params, message", [
    ("days_covered", {"days": 10**11}, "days: Input should be less than or equal to 366"),
    ("keywords", {"terms": [""]}, "terms.0: String should match pattern"),
    ("keywords", {"terms": ["ok", "  "]}, "terms.1: String should match pattern"),
    ("single_choice", {"options": {"wind": [""]}}, "options.wind.0"),
])
def test_check_parameters_that_never_finish_or_always_pass_are_refused(name, params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_params(name, params)


def test_days_detail_stays_one_short_line():
    result = run_check("Day 1: arrive. Day 2: walk. Day 9: leave.", "days_covered", {"days": 366})
    assert result.detail == "days named: 1, 2, 9; missing 3-8, 10-366"


HOSTILE_ANSWER = ("<!-- hides the rest\n</td></tr></table><script>alert(1)</script>\n| a | b |\n"
                  "![x](http://example.invalid/x.png) [y](javascript:alert(2)) `tick` **bold**")


def _results(answer_text: str, label: str = "m<b>|x") -> EvalResults:
    prompt = PromptSpec("p<!--|", "Line one <script>\n# not a heading | pipe", ())
    ref = ModelRef(label, "model`s.gguf")
    answers = ModelAnswers(ref, "desc <img src=x>", [Answer(prompt.id, answer_text, [CheckResult("c|<i>", True, "<b>d</b>")], 0.1)])
    return EvalResults(prompts=[prompt], settings=GenerationSettings(), models=[answers])


def test_eval_markdown_shows_answers_ids_and_labels_as_text():
    md = render_markdown(_results(HOSTILE_ANSWER))
    code_free = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)  # code spans show their text as it is
    assert "<!--" not in md and "<script" not in md and "<img" not in md and "<b>" not in md and "<i>" not in md
    assert not re.search(r"(?<!\\)\]\(", code_free), "no link or image"
    answer_row = next(line for line in md.splitlines() if line.startswith("| answer |"))
    assert answer_row.count("<br>") == 3, "the answer's line breaks stay inside its cell"
    assert len(re.findall(r"(?<!\\)\|", answer_row)) == 3, "the answer fills one cell"
    assert "> Line one &lt;script>\n> # not a heading \\| pipe" in md


def test_eval_html_escapes_everything_from_the_data():
    page = render_html(_results(HOSTILE_ANSWER))
    assert "<script>alert" not in page and "<!-- hides" not in page and "<img src=x>" not in page
