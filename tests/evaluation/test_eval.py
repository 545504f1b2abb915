"""`tome eval`: model arguments, prompt files, the raw side of the experiment, the tables, held-out loss,
answers from the offline model, and the raw-vs-curated experiment end to end (test-sized, on CPU)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation.config import load_config
from tomecraft.config_files import deep_merge as _deep_merge
from curation.pipeline import run_curation
from evaluation.answers import GenerationSettings, answer_all
from evaluation.models import ModelRef, parse_model_arg, unique_labels
from evaluation.prompt_sets import PromptSetError, default_prompt_set, load_prompt_set, prompt_set_yaml
from evaluation.raw_folder import build_raw_folder, held_out_root
from evaluation.tables import EvalResults, render_html, render_markdown, write_results

ONE_PROMPT = """prompts:
  - id: island
    text: "Would you recommend wind turbines or solar panels for a small island? Give three reasons."
    checks:
      - single_choice
      - {name: reasons, min_reasons: 3}
"""


def curation_config(**overrides):
    base = {"report": False, "stages": {"near_dedup": {"backend": "datasketch"}}}
    return load_config(None, _deep_merge(base, overrides))


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_with_duplicates(alpaca: Path, n: int) -> list:
    """``n`` real rows, every third one repeated twice (with a trailing space normalization removes)."""
    base = [json.loads(line) for line in alpaca.read_text(encoding="utf-8").splitlines()[:n]]
    rows = [{"conversations": r["conversations"], "source": "alpaca"} for r in base]
    for r in base[::3]:
        for _ in range(2):
            turns = [dict(t) for t in r["conversations"]]
            turns[0]["value"] += " "
            rows.append({"conversations": turns, "source": "alpaca"})
    return rows + ["not json"]


# -- model arguments and prompt files ---------------------------------------------------------------------------

def test_model_arguments(tmp_path):
    assert parse_model_arg("default") == ModelRef("base (SmolLM2-135M-Instruct)", None)
    assert parse_model_arg("curated=runs/curated") == ModelRef("curated", "runs/curated")
    assert parse_model_arg("dist/model.Q4_K_M.gguf").label == "model.Q4_K_M"
    odd = tmp_path / "a=b"
    odd.mkdir()
    assert parse_model_arg(str(odd)) == ModelRef("a=b", str(odd))  # an existing path is never split at '='
    labels = [r.label for r in unique_labels([parse_model_arg("runs/x"), parse_model_arg("other/x")])]
    assert labels == ["x", "x #2"]


def test_prompt_files(tmp_path):
    default = default_prompt_set()
    again = load_prompt_set(write_jsonl(tmp_path / "p.yaml", [prompt_set_yaml(default)]))
    assert again == default  # `tome eval prompts` output reads back as the same set
    one = load_prompt_set(write_jsonl(tmp_path / "one.yaml", [ONE_PROMPT]))
    assert [c.name for c in one[0].checks] == ["single_choice", "reasons"]
    for text, message in (("prompts: [{text: hi, checks: [nope]}]", "unknown check"),
                          ("prompts: [{id: a, text: x}, {id: a, text: y}]", "duplicate id"),
                          ("prompts: [{checks: []}]", "needs a non-empty 'text'"),
                          ("prompts: 3", "expected a list")):
        with pytest.raises(PromptSetError, match=message):
            load_prompt_set(write_jsonl(tmp_path / "bad.yaml", [text]))
    with pytest.raises(PromptSetError, match="not found"):
        load_prompt_set(tmp_path / "missing.yaml")
    tabs = tmp_path / "tabs.yaml"
    tabs.write_text("prompts:\n\t- hi\n")
    with pytest.raises(PromptSetError) as info:  # one line with where, not PyYAML's several
        load_prompt_set(tabs)
    assert str(info.value) == (f"{tabs}: not valid YAML: line 2, column 1: found character '\\t' that cannot start "
                               "any token (indent with spaces, not tabs)")


# -- the raw side ---------------------------------------------------------------------------------------------

def test_raw_folder_holds_every_input_row_but_the_held_out_ones(tmp_path, alpaca_path):
    out = tmp_path / "curated"
    result = run_curation(str(write_jsonl(tmp_path / "in.jsonl", rows_with_duplicates(alpaca_path, 150))), out,
                          curation_config(stages={"filters": {"min_answer_words": 5}}))
    stats = build_raw_folder(out, tmp_path / "raw")
    raw = pq.read_table(tmp_path / "raw" / "train.parquet").to_pylist()
    held = {r for s in ("validation", "test") for r in pq.read_table(out / f"{s}.parquet").column("id").to_pylist()}
    removed = pq.read_table(out / "removed.parquet").to_pylist()
    by_id = {r["id"]: r for r in removed}
    acc = result.manifest["accounting"]
    assert not held & {r["id"] for r in raw}
    assert stats.duplicates_of_held_out > 0  # the planted copies of held-out rows were found and left out
    for r in raw:
        if r["id"] in by_id and by_id[r["id"]]["duplicate_of"]:
            assert held_out_root(r["id"], by_id) not in held
    # every validated input row is either trained on by the raw side, held out, or a copy of a held-out row
    assert len(raw) + len(held) + stats.duplicates_of_held_out == acc["input_rows"] - acc["quarantined"]
    assert {r["id"] for r in removed if r["reason"].startswith("filter:")} <= {r["id"] for r in raw}
    assert any(t["value"].endswith(" ") for r in raw for t in r["conversations"])  # raw = before normalization
    for split in ("validation", "test"):
        assert (tmp_path / "raw" / f"{split}.parquet").read_bytes() == (out / f"{split}.parquet").read_bytes()
    from curation.contract import require_output_folder

    require_output_folder(tmp_path / "raw")  # training reads it like any curation output


# -- answers and tables (a stand-in generator: no model needed) -----------------------------------------------------

class CannedGenerator:
    def __init__(self, answers: dict[str, str], name: str) -> None:
        self.answers, self.description, self.calls = answers, name, []

    def generate(self, messages, temperature, max_new_tokens, seed):  # noqa: ANN001
        self.calls.append((temperature, max_new_tokens, seed))
        text = messages[-1]["content"]
        return next(v for k, v in self.answers.items() if k in text)


def _results() -> tuple[EvalResults, dict]:
    from tests.evaluation.test_eval_checks import ENERGY_GOOD, ENERGY_NO_CHOICE, JAPAN_GOOD, JAPAN_OVER_BUDGET, PHOTO_GOOD, PHOTO_ONE_AUDIENCE

    good = {"Japan": JAPAN_GOOD, "photosynthesis": PHOTO_GOOD, "island": ENERGY_GOOD}
    bad = {"Japan": JAPAN_OVER_BUDGET, "photosynthesis": PHOTO_ONE_AUDIENCE, "island": ENERGY_NO_CHOICE + " | pipe"}
    gens = {"good": CannedGenerator(good, "good model"), "bad": CannedGenerator(bad, "bad model")}
    settings = GenerationSettings(temperature=0.7, max_new_tokens=64, seed=5)
    refs = [ModelRef("good", "good"), ModelRef("bad", "bad")]
    answers = answer_all(refs, default_prompt_set(), settings, load=lambda spec, n_ctx: gens[spec])
    return EvalResults(prompts=default_prompt_set(), settings=settings, models=answers), gens


def test_answers_and_tables(tmp_path):
    results, gens = _results()
    assert all(call == (0.7, 64, 5) for g in gens.values() for call in g.calls)  # same settings everywhere
    good, bad = results.models
    assert good.passed == good.checks == 12
    assert bad.passed < bad.checks
    md = render_markdown(results)
    assert "| good | 12/12 | 5/5 | 3/3 | 4/4 |" in md
    assert "sampling (top-k 40, top-p 0.95), temperature 0.7, at most 64 new tokens, seed 5" in md
    assert len(re.findall(r"^## ", md, re.MULTILINE)) == 4 and "| answer |" in md and "\\| pipe" in md  # pipes in answers are escaped
    assert "❌ 3 budget line(s) sum to $3,500" in md
    page = render_html(results)
    assert "<script" not in page and page.count("<section>") == 4
    files = write_results(results, tmp_path)
    data = json.loads(files["eval.json"].read_text())
    assert data["models"][0]["answers"][0]["checks"][0]["name"] == "covers_3_days" and "seconds" in data["models"][0]["answers"][0]
    again, _ = _results()
    assert render_markdown(again) == md and render_html(again) == page  # no clock in the tables


# -- with the offline model -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_curated(tmp_path_factory, alpaca_path) -> Path:
    tmp = tmp_path_factory.mktemp("small")
    out = tmp / "curated"
    run_curation(str(write_jsonl(tmp / "in.jsonl", rows_with_duplicates(alpaca_path, 60))), out, curation_config())
    return out


@pytest.mark.slow
def test_heldout_loss_matches_a_direct_computation(small_curated):
    import torch

    from evaluation.heldout import heldout_loss, prepare_rows
    from evaluation.models import load_for_scoring

    loaded = load_for_scoring(None)
    result = heldout_loss(loaded, small_curated, "test", max_seq_length=96, max_rows=3, batch_size=2)
    n_test = pq.read_metadata(small_curated / "test.parquet").num_rows
    assert result.rows + result.rows_skipped == min(3, n_test) and result.rows >= 1
    assert result.tokens > 0 and 0 < result.loss < 20
    assert math.isclose(result.perplexity, math.exp(result.loss), rel_tol=1e-4)
    prepared = prepare_rows(small_curated, "test", loaded.tokenizer, 96, 3)
    total = 0.0
    count = 0
    with torch.inference_mode():
        for ids, labels in zip(prepared.input_ids, prepared.labels):
            n = sum(1 for x in labels[1:] if x != -100)
            out = loaded.model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
            total += float(out.loss) * n
            count += n
    assert count == result.tokens
    assert math.isclose(result.loss, total / count, rel_tol=1e-3)  # padding and batching change nothing


@pytest.mark.slow  # (4-9 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_compare_cli_offline(tmp_path, small_curated):
    from tomecraft.cli import app

    prompts = write_jsonl(tmp_path / "one.yaml", [ONE_PROMPT])
    out = tmp_path / "eval"
    args = ["eval", "compare", "-m", "default", "--prompts", str(prompts), "--data", str(small_curated),
            "--max-loss-rows", "2", "--max-seq-length", "64", "--max-new-tokens", "12", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "eval.json").read_text())
    model = data["models"][0]
    assert model["model"] == "default" and model["answers"][0]["text"]
    assert model["heldout"]["rows"] == 2 and model["heldout"]["loss"] > 0
    md = (out / "eval.md").read_text()
    assert "## 1. island" in md and "held-out loss" in md
    first = md
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (out / "eval.md").read_text() == first  # greedy, seeded: the same answers and table


@pytest.mark.slow
def test_experiment_end_to_end_test_sized(tmp_path, alpaca_path):
    """Curate, train raw and curated (2 steps each), compare: the whole command on CPU in test size."""
    from evaluation.experiment import ExperimentError, _train_config, load_experiment_config, run_experiment, run_state

    src = write_jsonl(tmp_path / "in.jsonl", rows_with_duplicates(alpaca_path, 60))
    prompts = write_jsonl(tmp_path / "one.yaml", [ONE_PROMPT])
    cfg = load_experiment_config(None, {
        "input": str(src),
        "curation": {"report": False, "stages": {"near_dedup": {"backend": "datasketch"}}},
        "train_config": str(Path(__file__).resolve().parents[2] / "configs" / "train_cpu.yaml"),
        "train": {"model": {"max_seq_length": 64}, "data": {"eval_split": None},
                  "training": {"max_steps": 2, "per_device_batch_size": 1, "gradient_accumulation_steps": 1,
                               "warmup_steps": 0, "eval_on_start": False, "eval_steps": 100, "save_steps": 100}},
        "eval": {"prompts": str(prompts), "max_new_tokens": 8, "max_loss_rows": 2, "n_ctx": 512},
    })
    out = tmp_path / "exp"
    messages: list[str] = []
    results = run_experiment(cfg, out, log=messages.append)
    assert [m.ref.label for m in results.models] == ["base", "raw", "curated"]
    for label in ("base", "raw", "curated"):
        loss = results.losses[label]
        assert loss is not None and loss.rows == 2 and math.isfinite(loss.loss)
    data = json.loads((out / "eval.json").read_text())
    runs = data["experiment"]["runs"]
    assert runs["raw"]["global_step"] == runs["curated"]["global_step"] == 2  # the same budget
    raw_rows = pq.read_metadata(out / "raw" / "train.parquet").num_rows
    curated_rows = pq.read_metadata(out / "curated" / "train.parquet").num_rows
    assert raw_rows > curated_rows == data["experiment"]["curation_accounting"]["in_splits"] - pq.read_metadata(
        out / "curated" / "validation.parquet").num_rows - pq.read_metadata(out / "curated" / "test.parquet").num_rows
    md = (out / "eval.md").read_text()
    assert "Raw vs curated" in md and "| raw |" in md and "| curated |" in md and "held-out loss" in md
    # finished runs are reused when nothing changed, and another config is refused
    train_cfg = _train_config(cfg)
    assert run_state(out / "runs" / "curated", out / "curated", train_cfg) == "finished"
    assert run_state(out / "runs" / "other", out / "curated", train_cfg) == "new"
    other = train_cfg.model_copy(update={"training": train_cfg.training.model_copy(update={"max_steps": 3})})
    with pytest.raises(ExperimentError, match="another config"):
        run_state(out / "runs" / "curated", out / "curated", other)


def test_experiment_config_errors(tmp_path):
    from evaluation.experiment import ExperimentError, load_experiment_config

    with pytest.raises(ExperimentError, match="not found"):
        load_experiment_config(tmp_path / "nope.yaml")
    bad = write_jsonl(tmp_path / "bad.yaml", ["eval: {max_new_tokens: 0}"])
    with pytest.raises(ExperimentError, match="eval.max_new_tokens"):
        load_experiment_config(bad)
    cfg = load_experiment_config(Path(__file__).resolve().parents[2] / "configs" / "eval_experiment_cpu.yaml")
    assert Path(cfg.train_config).is_file()  # relative to the repo
