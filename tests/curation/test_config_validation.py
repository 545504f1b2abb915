"""Config values the stages cannot use are one-line config errors naming the key: NaN and infinity in any float,
``true`` / ``false`` for a number, negative counts and caps; and large finite weights mix without overflow."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from curation.config import config_model, load_config
from curation.core.config_base import StrictModel, _number_kind
from curation.mix import allocate, target_shares, weight_shares
from tomecraft.config_files import ConfigError, parse_overrides

REPO = Path(__file__).resolve().parents[2]


def _error(*sets: str, path: Path | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, parse_overrides(sets))
    message = str(info.value)
    assert "\n" not in message
    return message


def _models(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """``(dotted key + ".", class)`` of the config and of every config nested in it (not through lists)."""
    out = [(prefix, model)]
    for name, field in model.model_fields.items():
        for sub in (field.annotation, *get_args(field.annotation)):
            if isinstance(sub, type) and issubclass(sub, BaseModel) and get_origin(field.annotation) is not list:
                out.extend(_models(sub, f"{prefix}{field.alias or name}."))
    return out


MODELS = _models(config_model())
# ``(dotted key, "integer" | "number")`` of every int / float field (or ``X | None``) of a StrictModel config
FIELDS = [(f"{prefix}{field.alias or name}", kind) for prefix, model in MODELS if issubclass(model, StrictModel)
          for name, field in model.model_fields.items() if (kind := _number_kind(field.annotation))]
FLOATS = [key for key, kind in FIELDS if kind == "number"]
INTS = [key for key, kind in FIELDS if kind == "integer"]


def test_the_walk_finds_the_fields_of_every_stage():
    assert {"stages.filters.min_score", "stages.near_dedup.threshold", "stages.split.train"} <= set(FLOATS)
    assert {"stages.balance.max_per_source", "stages.mix.total_rows", "engine.batch_rows"} <= set(INTS)


def test_every_config_derives_from_strict_model():
    # the stages section itself holds only stage configs: its own base does not matter
    assert [key for key, model in MODELS if key != "stages." and not issubclass(model, StrictModel)] == []


def test_the_defaults_pass_their_own_validation():
    # pydantic does not validate defaults: the printed defaults, read back, must still be a valid config
    defaults = load_config()
    assert config_model().model_validate(defaults.resolved()) == defaults


@pytest.mark.parametrize("key", FLOATS)
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "nan"])
def test_no_float_field_takes_nan_or_infinity(key, value):
    assert _error(f"{key}={value}").startswith(f"--set {key}: Input should be a finite number (got ")


@pytest.mark.parametrize("key", INTS + FLOATS)
def test_no_number_field_takes_a_boolean(key):
    kind = "integer" if key in INTS else "number"
    assert _error(f"{key}=true") == f"--set {key}: Input should be a valid {kind}, not a boolean (got True)"


@pytest.mark.parametrize("setting, key", [
    ("stages.near_dedup.lsh_weights=[.nan, 1]", "stages.near_dedup.lsh_weights.0"),
    ("stages.filters.top_ngram_max_fraction={2: .nan}", "stages.filters.top_ngram_max_fraction.2"),
    ("stages.filters.dup_ngram_max_fraction={5: .inf}", "stages.filters.dup_ngram_max_fraction.5"),
])
def test_nan_inside_lists_and_mappings_is_rejected_at_its_key(setting, key):
    assert _error(setting).startswith(f"--set {key}: Input should be a finite number (got ")


def test_booleans_inside_mappings_and_lists_name_their_key():
    assert _error("stages.balance.per_source={s0: 3, s1: true}") == (
        "--set stages.balance.per_source.s1: Input should be a valid integer, not a boolean (got True)")
    assert _error("stages.near_dedup.lsh_weights=[false, 1]") == (
        "--set stages.near_dedup.lsh_weights.0: Input should be a valid number, not a boolean (got False)")
    assert _error("stages.filters.top_ngram_max_fraction={true: 0.2}") == (
        "--set stages.filters.top_ngram_max_fraction.True: invalid key: Input should be a valid integer, "
        "not a boolean (got True)")


def test_booleans_still_set_switches_and_numbers_still_set_numbers():
    cfg = load_config(None, parse_overrides([
        "stages.filters.require_alternation=false", "stages.balance.max_per_source=0",
        "stages.balance.per_source={s0: 5}", "stages.filters.min_score=-1.5", "stages.near_dedup.lsh_weights=[0, 1]",
    ]))
    assert cfg.stage("filters").require_alternation is False and cfg.stage("filters").min_score == -1.5
    assert cfg.stage("balance").max_per_source == 0 and cfg.stage("balance").per_source == {"s0": 5}
    assert cfg.stage("near_dedup").lsh_weights == (0.0, 1.0)


@pytest.mark.parametrize("setting, key, bound", [
    ("stages.balance.max_per_source=-1", "stages.balance.max_per_source", "greater than or equal to 0"),
    ("stages.balance.per_source={s0: -1}", "stages.balance.per_source.s0", "greater than or equal to 0"),
    ("stages.filters.max_chars_per_turn=-1", "stages.filters.max_chars_per_turn", "greater than or equal to 0"),
    ("stages.filters.min_answer_words=-2", "stages.filters.min_answer_words", "greater than or equal to 0"),
    ("stages.filters.min_words_for_repetition=-1", "stages.filters.min_words_for_repetition",
     "greater than or equal to 0"),
    ("stages.filters.max_prompt_answer_ratio=-0.5", "stages.filters.max_prompt_answer_ratio",
     "greater than or equal to 0"),
    ("stages.filters.max_repeated_line_fraction=30", "stages.filters.max_repeated_line_fraction",
     "less than or equal to 1"),
    ("stages.filters.top_ngram_max_fraction={0: 0.2}", "stages.filters.top_ngram_max_fraction.0",
     "invalid key: Input should be greater than or equal to 1"),
    ("stages.filters.dup_ngram_max_fraction={5: -0.1}", "stages.filters.dup_ngram_max_fraction.5",
     "greater than or equal to 0"),
    ("stages.near_dedup.bands=0", "stages.near_dedup.bands", "greater than or equal to 1"),
    ("stages.near_dedup.spill_bytes=-1", "stages.near_dedup.spill_bytes", "greater than or equal to 0"),
    # sizes that crashed mid-run (Arrow's or the thread pool's limits, "Int value is too large")
    ("stages.normalize.max_blank_lines=100000000000000000000000000000", "stages.normalize.max_blank_lines",
     "less than or equal to 10000"),
    ("stages.normalize.max_blank_lines=-2", "stages.normalize.max_blank_lines", "greater than or equal to -1"),
    ("stages.near_dedup.workers=100000000000000000000", "stages.near_dedup.workers", "less than or equal to 1024"),
    ("stages.near_dedup.bucket_cap=9223372036854775807", "stages.near_dedup.bucket_cap",
     "less than or equal to 2147483647"),
    ("stages.language.workers=5000", "stages.language.workers", "less than or equal to 1024"),
])
def test_negative_counts_caps_and_fractions_out_of_range_are_rejected(setting, key, bound):
    message = _error(setting)
    assert message.startswith(f"--set {key}: ") and bound in message


def test_a_bad_key_of_a_mapping_names_the_key_without_a_stray_dot():
    assert _error("stages.filters.top_ngram_max_fraction.x=1") == (
        "--set stages.filters.top_ngram_max_fraction.x: invalid key: Input should be a valid integer, "
        "unable to parse string as an integer (got 'x')")


@pytest.mark.parametrize("line, message", [
    ("{path: a.parquet, weight: .inf}", "inputs.0.weight: Input should be a finite number (got inf)"),
    ("{path: a.parquet, weight: .nan}", "inputs.0.weight: Input should be a finite number (got nan)"),
    ("{path: a.parquet, weight: true}", "inputs.0.weight: Input should be a valid number, not a boolean (got True)"),
    ("{path: a.parquet, max_rows: true}",
     "inputs.0.max_rows: Input should be a valid integer, not a boolean (got True)"),
    ("{path: a.parquet, max_rows: -1}", "inputs.0.max_rows: Input should be greater than or equal to 0 (got -1)"),
])
def test_input_amounts_in_a_config_file(tmp_path, line, message):
    path = tmp_path / "c.yaml"
    path.write_text(f"inputs:\n  - {line}\n")
    assert _error(path=path) == f"{path}: {message}"


def test_large_finite_weights_share_the_mix_without_overflow():
    assert allocate({"a": 10, "b": 10}, {"a": 1e308, "b": 1e308}, {}) == {"a": 10, "b": 10}
    assert allocate({"a": 100, "b": 100}, {"a": 1.5e308, "b": 0.5e308}, {}) == allocate(
        {"a": 100, "b": 100}, {"a": 3.0, "b": 1.0}, {}) == {"a": 100, "b": 33}
    assert target_shares({"a": 1e308, "b": 1e308}, {"a": 5, "b": 5}) == {"a": 0.5, "b": 0.5}
    # a weight too small beside the largest to have any share gets no row (and no division by zero)
    assert allocate({"a": 10, "b": 10}, {"a": 1e308, "b": 5e-324}, {}) == {"a": 10, "b": 0}


def test_weight_shares_are_the_plain_quotients_for_ordinary_weights():
    rng = random.Random(7)
    for _ in range(500):
        weights = {str(i): rng.choice([rng.uniform(1e-6, 1e6), float(rng.randint(1, 9)), rng.random()])
                   for i in range(rng.randint(1, 6))}
        total = sum(weights.values())
        assert weight_shares(weights) == {k: w / total for k, w in weights.items()}
    assert math.fsum(weight_shares({"a": 1e308, "b": 1e308, "c": 1e308}).values()) == pytest.approx(1.0)


def test_the_command_line_gives_one_line_for_a_nan_setting():
    proc = subprocess.run(
        [sys.executable, "-m", "tomecraft.cli", "curate", "--set", "stages.filters.min_score=.nan", "--print-config"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: --set stages.filters.min_score: Input should be a finite number (got nan)"]
