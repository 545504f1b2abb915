"""`tome eval` prompt files a new user gets wrong: each mistake is one line that says what to fix (before: an
empty file asked for "a list under 'prompts'", a broken .json file was called "not valid YAML", a misspelt 'text'
key was not named)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evaluation.prompt_sets import PromptSetError, load_prompt_set
from tomecraft.cli import app


@pytest.mark.parametrize("name", ["p.yaml", "p.json", "p.yml"])
@pytest.mark.parametrize("text", ["", "# nothing yet\n", "\n\n"])
def test_an_empty_prompt_file_says_it_is_empty(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromptSetError) as info:
        load_prompt_set(path)
    assert str(info.value).startswith(f"{path}: no prompts (the file is empty"), str(info.value)


def test_a_broken_json_file_is_named_json_with_where(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"prompts": [\n  {"text": "a"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "prompts", str(path)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {path}: not valid JSON (") and "line 3" in result.output, result.output
    assert "YAML" not in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_broken_yaml_file_is_still_named_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text('prompts:\n- text: "a\n', encoding="utf-8")
    with pytest.raises(PromptSetError, match="not valid YAML"):
        load_prompt_set(path)


@pytest.mark.parametrize(("name", "line"), [("p.jsonl", '{"prompt": "hi"}\n'), ("p.json", '[{"question": "hi"}]')])
def test_a_misspelt_text_key_is_named(tmp_path, name, line):
    path = tmp_path / name
    path.write_text(line, encoding="utf-8")
    with pytest.raises(PromptSetError) as info:
        load_prompt_set(path)
    assert "needs a non-empty 'text' (unknown key " in str(info.value) and "known: id, text" in str(info.value)


def test_text_that_is_not_text_says_its_type(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("prompts:\n  - text: 42\n", encoding="utf-8")
    with pytest.raises(PromptSetError, match=r"'text' is int, not text"):
        load_prompt_set(path)


def test_compare_and_loss_split_help_lists_the_splits():
    for command in (["eval", "compare", "--help"], ["eval", "loss", "--help"]):
        result = CliRunner().invoke(app, command, terminal_width=200, env={"COLUMNS": "200"})
        assert "train, validation or test" in " ".join(result.output.split()), result.output


def _curated(tmp_path, fractions=(0.5, 0.5)):
    from training.curated_folder import write_curated_folder

    rows = [{"conversations": [{"from": "human", "value": f"question {i}?"}, {"from": "gpt", "value": f"answer {i}."}]}
            for i in range(10)]
    return write_curated_folder(rows, tmp_path / "curated", fractions=fractions)


def test_compare_on_an_empty_test_split_names_no_loss_before_any_model_answers(tmp_path, monkeypatch):
    import evaluation.answers

    data = _curated(tmp_path)  # train and validation only: the test split is empty
    monkeypatch.setattr(evaluation.answers, "answer_all", lambda *a, **kw: pytest.fail("the models answered"))
    result = CliRunner().invoke(app, ["eval", "compare", "-d", str(data), "-o", str(tmp_path / "eval")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {data}: the test split has no rows"), result.output
    assert "--no-loss" in lines[0], result.output


def test_no_scorable_row_names_max_seq_length(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import training.models
    from evaluation import heldout

    data = _curated(tmp_path, fractions=(0.4, 0.3))
    monkeypatch.setattr(training.models, "import_unsloth", lambda: None)
    monkeypatch.setattr(heldout, "load_for_scoring", lambda spec: SimpleNamespace(tokenizer=None, parts=None, chat_template=None))
    monkeypatch.setattr(heldout, "prepare_rows", lambda *a, **kw: SimpleNamespace(input_ids=[], labels=[], skipped=[1, 2, 3]))
    with pytest.raises(ValueError, match=r"within its first 8 tokens \(--max-seq-length\)"):
        heldout.heldout_loss("default", data, "test", max_seq_length=8)


def test_experiment_set_train_value_is_blamed_on_set_even_when_the_file_has_a_train_section(tmp_path):
    """The CPU experiment config has a `train:` section: a bad `--set train.…` value read
    "FILE: train + --set train: training.learning_rate: ...", as if the file might hold it."""
    config = tmp_path / "exp.yaml"
    config.write_text("train:\n  training:\n    max_steps: 3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "experiment", "--print-config", "-c", str(config),
                                      "--set", "train.training.learning_rate=-1"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: --set train: training.learning_rate: Input should be greater than 0 (got -1)"
    config.write_text("train:\n  training:\n    learning_rate: -3\n", encoding="utf-8")  # the file's own: still the file's
    result = CliRunner().invoke(app, ["eval", "experiment", "--print-config", "-c", str(config),
                                      "--set", "train.training.max_steps=4"])
    assert result.output.strip().startswith(f"error: {config}: train: training.learning_rate:"), result.output


def test_a_json_prompt_file_is_read_as_json_not_through_pyyaml(tmp_path, monkeypatch):
    """PyYAML read every .json prompt file: 20 MB took about 40 s. A .json file that JSON reads never reaches it;
    what JSON cannot read (a duplicate key, a trailing comma) still goes through YAML for its message or its
    leniency."""
    import json

    import evaluation.prompt_sets as prompt_sets

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"prompts": [{"id": f"p{i}", "text": f"question {i} \U0001f600"} for i in range(50)]}),
                    encoding="utf-8")
    monkeypatch.setattr(prompt_sets, "read_yaml_file", lambda *a, **kw: pytest.fail("read through PyYAML"))
    prompts = load_prompt_set(path)
    assert [p.id for p in prompts] == [f"p{i}" for i in range(50)] and prompts[0].text == "question 0 \U0001f600"
    monkeypatch.undo()
    path.write_text('{"prompts": [{"text": "a", "text": "b"}]}', encoding="utf-8")
    with pytest.raises(PromptSetError, match=r"not valid JSON: line 1, column \d+: duplicate key 'text'"):
        load_prompt_set(path)
    path.write_text('{"prompts": [{"text": "a",}]}', encoding="utf-8")
    assert [p.text for p in load_prompt_set(path)] == ["a"]


def test_a_model_that_will_not_load_for_the_loss_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    """`tome eval loss -m RUN` with damaged adapter weights ended in the loader's traceback (compare and serve
    said it in one line)."""
    import evaluation.models
    import training.models

    data = _curated(tmp_path, fractions=(0.4, 0.3))

    def damaged(spec):
        raise RuntimeError("Error while deserializing header: invalid header length\nmore detail")

    monkeypatch.setattr(training.models, "import_unsloth", lambda: None)
    monkeypatch.setattr(evaluation.models, "_load_for_scoring", damaged)
    result = CliRunner().invoke(app, ["eval", "loss", "-m", "default", "-d", str(data)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.output.strip() == ("error: the default model: cannot load the model for the loss (RuntimeError: "
                                     "Error while deserializing header: invalid header length)"), result.output


def test_a_run_whose_adapter_weights_are_gone_is_named(tmp_path):
    """An adapter/ holding adapter_config.json without its weights: peft asked the (offline) hub for them and the
    message was "Cannot find the requested files in the disk cache ..."."""
    import json

    from evaluation.models import load_for_scoring
    from serving.generation import ModelNotFound, load_generator

    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "x/y"}), encoding="utf-8")
    run = str(tmp_path / "run")
    for load in (lambda: load_generator(run, n_threads=1), lambda: load_for_scoring(run)):
        with pytest.raises(ModelNotFound) as err:
            load()
        assert str(err.value) == (f"{adapter}: no adapter_model.safetensors (the LoRA weights) beside its "
                                  "adapter_config.json; the file was removed or the save did not finish")


# -- a hub model when the hub cannot be reached ---------------------------------------------------------------------

UNREACHABLE = "[Errno -2] Name or service not known"
NOT_CACHED = (f"org/model: cannot load from the Hugging Face hub: it cannot be reached ({UNREACHABLE}) and the model "
              "is not in the local cache")


@pytest.fixture
def hub_unreachable(monkeypatch):
    """The hub probe finds no network (the test session itself runs with HF_HUB_OFFLINE=1, which the probe would
    take as the user's offline mode); the hub's offline flag as a user without HF_HUB_OFFLINE has it."""
    from huggingface_hub import constants

    from tomecraft import hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "unreachable", lambda timeout=5.0: UNREACHABLE)


def _not_cached(spec: str):
    """(error, cause): what a model load raises in offline mode for a hub id not in the cache, as serving wraps it."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    from serving.generation import ModelNotFound

    try:
        raise LocalEntryNotFoundError("Cannot find the requested files in the disk cache")
    except LocalEntryNotFoundError as exc:
        return ModelNotFound(f"{spec}: not a local folder, and not in the hub cache (We couldn't connect)"), exc


def test_an_unreachable_hub_loads_a_model_in_offline_mode_without_the_retry_lines(hub_unreachable, capfd):
    """`eval compare -m some/hubid` offline retried each file for ~70 s, printing some 30 lines of
    ``huggingface_hub`` retries before its error: one request now finds the hub unreachable, the load runs in
    offline mode (the local cache, at once) and a model not cached is one line saying so."""
    import logging

    from huggingface_hub import constants
    from huggingface_hub.utils import logging as hub_logging

    from evaluation.answers import GenerationSettings, answer_all
    from evaluation.models import ModelRef
    from evaluation.prompt_sets import PromptSpec
    from serving.generation import ModelNotFound

    hub_logging.get_logger()  # the library's own handler, as in a real run
    seen = []

    def load(spec, n_ctx):
        seen.append(constants.HF_HUB_OFFLINE)
        logging.getLogger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
        error, cause = _not_cached(spec)
        raise error from cause

    with pytest.raises(ModelNotFound) as info:
        answer_all([ModelRef("m", "org/model")], [PromptSpec("a", "hi")], GenerationSettings(), load=load)
    assert str(info.value) == NOT_CACHED
    assert seen == [True] and constants.HF_HUB_OFFLINE is False  # offline while it loaded, given back after
    assert "Retrying" not in capfd.readouterr().err


def test_an_unreachable_hub_still_loads_a_cached_model_and_other_errors_stay_theirs(hub_unreachable):
    from huggingface_hub import constants

    from evaluation.answers import GenerationSettings, answer_all
    from evaluation.models import ModelRef
    from evaluation.prompt_sets import PromptSpec

    class Answers:
        n_ctx = 4096

        def check_fit(self, messages, max_new_tokens):  # noqa: ANN001
            return messages

        def generate(self, messages, temperature, max_new_tokens, seed):  # noqa: ANN001
            return "cached"

    seen = []

    def cached(spec, n_ctx):
        seen.append(constants.HF_HUB_OFFLINE)
        return Answers()

    done = answer_all([ModelRef("m", "org/model")], [PromptSpec("a", "hi")], GenerationSettings(), load=cached)
    assert seen == [True] and done[0].answers[0].text == "cached"

    def damaged(spec, n_ctx):
        raise ValueError("org/model: cannot load the model (SafetensorError: invalid header)")

    with pytest.raises(ValueError, match=r"^org/model: cannot load the model \(SafetensorError"):
        answer_all([ModelRef("m", "org/model")], [PromptSpec("a", "hi")], GenerationSettings(), load=damaged)


def test_an_unreachable_hub_model_for_the_loss_is_the_same_line(hub_unreachable, monkeypatch):
    import evaluation.models
    from evaluation.models import load_for_scoring
    from serving.generation import ModelNotFound

    def transformers_offline(spec):
        _, cause = _not_cached(spec)
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files") from cause

    monkeypatch.setattr(evaluation.models, "_load_for_scoring", transformers_offline)
    with pytest.raises(ModelNotFound) as info:
        load_for_scoring("org/model")
    assert str(info.value) == NOT_CACHED


def test_only_a_model_that_needs_the_hub_asks_whether_it_can_be_reached(tmp_path, monkeypatch):
    import json

    from tomecraft import hub
    from evaluation.answers import GenerationSettings, answer_all
    from evaluation.models import ModelRef, loads_from_hub
    from serving.defaults import default_llm_path
    from training.models import OFFLINE_SMOLLM2

    def run(base):  # noqa: ANN001
        adapter = tmp_path / base.replace("/", "_") / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}), encoding="utf-8")
        return str(adapter.parent)

    assert loads_from_hub("org/model") and loads_from_hub("org/model/file.gguf") and loads_from_hub(run("x/y"))
    assert not any(loads_from_hub(spec) for spec in (None, "default", str(default_llm_path()), run(OFFLINE_SMOLLM2),
                                                     str(tmp_path / "missing.gguf")))
    monkeypatch.setattr(hub, "unreachable", lambda timeout=5.0: pytest.fail("the hub was asked"))

    def local(spec, n_ctx):
        raise RuntimeError("loaded")

    with pytest.raises(RuntimeError, match="loaded"):  # the packaged default: straight to its loader
        answer_all([ModelRef("m", None)], [], GenerationSettings(), load=local)


def test_compare_with_an_uncached_hub_id_and_the_hub_unreachable_is_one_error_line(hub_unreachable, tmp_path):
    """The real loader (transformers) in offline mode: its "not in the cache" is recognised whatever it wraps it in."""
    result = CliRunner().invoke(app, ["eval", "compare", "-m", "org/model", "--no-loss", "-n", "4",
                                      "-o", str(tmp_path / "eval")])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == f"error: {NOT_CACHED}", result.output
    assert "Retrying" not in result.output and not (tmp_path / "eval").exists()


def test_serve_s_loader_with_an_uncached_hub_id_and_the_hub_unreachable_is_one_line(hub_unreachable, capfd):
    """`tome serve -m org/model` with no network retried for over a minute, printing some 30 retry lines, before its
    error: the loader `tome serve` uses (the real one: transformers in offline mode) now says it at once."""
    from huggingface_hub import constants

    from serving.generation import ModelNotFound, load_generator

    with pytest.raises(ModelNotFound) as info:
        load_generator("org/model", n_threads=1)
    assert str(info.value) == NOT_CACHED and constants.HF_HUB_OFFLINE is False
    assert "Retrying" not in capfd.readouterr().err
