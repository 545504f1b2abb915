"""Prompt files and model answers as a user or a model writes them: text no tokenizer or UTF-8 file takes,
ids that are not text, check parameters that would never finish or always pass, and answers full of HTML
and Markdown, which eval.md must show as text."""

from __future__ import annotations

import re

import pytest

from evaluation.answers import Answer, GenerationSettings, ModelAnswers, answer_all
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
    ('{id: "a\\nb", text: x}', "prompts[0]: 'id' must be one line of text (got 'a\\nb')"),  # no column name
    ('{id: "  ", text: x}', "prompts[0]: 'id' must be one line of text (got '  ')"),
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


# -- prompt files as JSON writes them, as JSON Lines, and ids that are no column name ---------------------------

def test_a_json_prompt_file_with_escaped_emoji_is_read_as_json_reads_it(tmp_path):
    """`json.dump` writes 😀 as the escapes "\\ud83d\\ude00": JSON reads the one character, PyYAML two lone
    surrogates, and the file was refused ("text holds a lone surrogate")."""
    import json

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"prompts": [{"id": "smile", "text": "Describe 😀 in words."}]}), encoding="utf-8")
    assert "\\ud83d\\ude00" in path.read_text(encoding="utf-8")
    assert load_prompt_set(path)[0].text == "Describe 😀 in words."
    lone = tmp_path / "lone.json"
    lone.write_text('{"prompts": [{"id": "s", "text": "half \\ud83d of it"}]}', encoding="utf-8")
    with pytest.raises(PromptSetError, match="text holds a lone surrogate"):
        load_prompt_set(lone)


def test_a_json_lines_prompt_file_is_one_prompt_per_line(tmp_path):
    path = tmp_path / "p.jsonl"  # a byte-order mark, CRLF, a blank line, a bare string
    path.write_bytes('\ufeff{"id": "a", "text": "hi \\ud83d\\ude00"}\r\n\r\n"plain"\r\n'.encode("utf-8"))
    assert [(p.id, p.text) for p in load_prompt_set(path)] == [("a", "hi 😀"), ("prompt_2", "plain")]
    for text, message in (('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "p.jsonl: line 2: duplicate id 'a'"),
                          ('{"id": "a", "text": "x"}\n{"id": \n', "p.jsonl: line 2: not valid JSON"),
                          ('{"id": "a"}\n', "p.jsonl: line 1: needs a non-empty 'text'"),
                          ("\n \n", "p.jsonl: no prompts")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(PromptSetError) as info:
            load_prompt_set(path)
        assert message in str(info.value) and "\n" not in str(info.value)


def test_a_duplicate_of_a_generated_id_says_where_that_id_came_from(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("prompts:\n  - {id: prompt_2, text: x}\n  - {text: y}\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match=re.escape("prompts[1]: duplicate id 'prompt_2' (the id given to an "
                                                       "entry without one)")):
        load_prompt_set(path)


# -- prompts longer than a model's context ----------------------------------------------------------------------

class _CountingGenerator:
    """A stand-in model of ``n_ctx`` tokens, one token per word, that records what it answered."""

    description = "stand-in"

    def __init__(self, n_ctx: int = 64) -> None:
        self.n_ctx = n_ctx
        self.answered: list[str] = []

    def fit_messages(self, messages, max_new_tokens):  # noqa: ANN001
        from serving.generation import PromptTooLong

        n = sum(len(m["content"].split()) for m in messages)
        if n > self.n_ctx - max_new_tokens:
            raise PromptTooLong(f"the message is {n} tokens")
        return messages

    def generate(self, messages, temperature, max_new_tokens, seed):  # noqa: ANN001
        self.answered.append(messages[-1]["content"])
        return "an answer"


def test_a_prompt_past_the_context_is_named_before_any_prompt_is_answered():
    from serving.generation import PromptTooLong

    prompts = [PromptSpec("short", "hi"), PromptSpec("huge", "word " * 1000)]
    model = _CountingGenerator()
    with pytest.raises(PromptTooLong) as info:
        answer_all([ModelRef("m", None)], prompts, GenerationSettings(max_new_tokens=8), load=lambda spec, n_ctx: model)
    assert str(info.value) == "m / prompt 'huge': the message is 1000 tokens"
    assert model.answered == []  # not minutes of answers first


def test_max_new_tokens_past_a_models_context_names_the_model():
    model = _CountingGenerator(n_ctx=64)
    with pytest.raises(ValueError, match=re.escape("m: max new tokens 64 leaves no room for a prompt in its 64-token "
                                                   "context; lower it below 64")):
        answer_all([ModelRef("m", None)], [PromptSpec("a", "hi")], GenerationSettings(max_new_tokens=64),
                   load=lambda spec, n_ctx: model)


# -- held-out splits that are missing, empty or no split -----------------------------------------------------------

@pytest.fixture
def curated_folder(tmp_path):
    from training.curated_folder import write_curated_folder

    rows = [{"conversations": [{"from": "human", "value": f"question {i}?"}, {"from": "gpt", "value": f"answer {i}."}]}
            for i in range(12)]
    return write_curated_folder(rows, tmp_path / "curated")


@pytest.mark.parametrize("split, message", [
    ("removed", "no split 'removed' to measure the loss on; expected one of train, validation, test"),
    ("test", "the test split has no rows, so there is no held-out loss to measure"),
])
def test_a_split_with_nothing_to_score_is_named_before_the_model_loads(curated_folder, monkeypatch, split, message):
    import pyarrow.parquet as pq

    from evaluation import heldout

    table = pq.read_table(curated_folder / "test.parquet")
    pq.write_table(table.slice(0, 0), curated_folder / "test.parquet")
    monkeypatch.setattr(heldout, "load_for_scoring", lambda spec: pytest.fail("the model was loaded"))
    with pytest.raises(ValueError) as info:
        heldout.heldout_loss("default", curated_folder, split)
    assert message in str(info.value) and str(curated_folder) in str(info.value)


# -- the experiment's eval section ------------------------------------------------------------------------------

@pytest.mark.parametrize("override, message", [
    ({"eval": {"max_new_tokens": 600, "n_ctx": 512}}, "max_new_tokens (600) must be below n_ctx (512)"),
    ({"eval": {"loss_split": "removed"}}, "eval.loss_split: Input should be 'train', 'validation' or 'test'"),
])
def test_experiment_eval_settings_no_run_could_use_are_refused_before_curating(override, message):
    from evaluation.experiment import ExperimentError, load_experiment_config

    with pytest.raises(ExperimentError) as info:
        load_experiment_config(None, override)
    assert message in str(info.value) and "\n" not in str(info.value)


# -- single_choice options are regular expressions ---------------------------------------------------------------------

def test_a_single_choice_option_that_is_no_regular_expression_is_refused_when_the_file_is_read(tmp_path):
    """An option of ``(`` passed `eval prompts` and ended `eval compare` in ``re.error`` after every answer had been
    generated, writing no eval files. Options are regular expressions (the default set's ``\\bwind\\b``,
    ``wind turbines?``): a file's are compiled as it is read, and the one that is not one is named."""
    from tomecraft.cli import app
    from typer.testing import CliRunner

    path = tmp_path / "p.yaml"
    path.write_text('prompts:\n  - {id: drink, text: "Tea or coffee?", checks: [{name: single_choice, options: '
                    '{x: ["("], y: [tea]}}]}\n', encoding="utf-8")
    with pytest.raises(PromptSetError) as info:
        load_prompt_set(path)
    assert str(info.value) == (f"{path}: prompts[0].checks[0] (prompt 'drink', check single_choice): options.x.0: not "
                               "a regular expression (missing ), unterminated subpattern at position 0) (got '(')")
    result = CliRunner().invoke(app, ["eval", "prompts", str(path)])
    assert result.exit_code == 2 and result.output.strip() == f"error: {info.value}", result.output
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["eval", "compare", "-p", str(path), "--no-loss", "-o", str(out)])
    assert result.exit_code == 2 and result.output.strip() == f"error: {info.value}" and not out.exists()
    path.write_text(r'prompts: [{id: drink, text: "Tea?", checks: [{name: single_choice, options: {tea: ["\\btea\\b", '
                    r'"green teas?"], coffee: [coffee]}}]}]' "\n", encoding="utf-8")
    check = load_prompt_set(path)[0].checks[0]
    assert run_check("I prefer green teas. Coffee is bitter.", check.name, check.params).detail.startswith("chose tea")


def test_a_single_choice_option_that_backtracks_without_end_fails_its_check_in_time(monkeypatch):
    """``(a|a)+$`` is a regular expression, so the prompt file is read; on an answer of 30 a's and a '!' Python's ``re``
    backtracks for hours, and `eval compare` hung on that answer with every model's answers unsaved. The option is
    searched under a time limit, and an option that reaches it fails the check, which says which pattern it was; the
    other options and the other checks are judged as before."""
    import time

    from evaluation import checks

    monkeypatch.setattr(checks, "OPTION_SECONDS", 0.2)
    params = {"options": {"tea": ["(a|a)+$"], "coffee": ["coffee"]}}
    check_params("single_choice", params)  # a regular expression: the prompt file is read
    started = time.monotonic()
    result = run_check("I recommend " + "a" * 30 + "!", "single_choice", params)
    assert time.monotonic() - started < 30
    assert not result.passed and result.detail == ("option pattern '(a|a)+$' ran over 0.2 s on this answer (a pattern "
                                                   "that backtracks without end?)")
    assert run_check("I recommend coffee.", "single_choice", params).detail == "chose coffee: 'I recommend coffee.'"
