"""The five quality stages through `tome curate`'s engine: planted rows get the right reasons, nothing leaks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.config import load_config
from curation.contract import output_paths
from curation.judge.stub import StubJudge
from curation.pipeline import run_curation
from serving.prompts import SEED_PROMPTS

WORDS = ("the river garden window music winter summer ocean mountain paper pencil market train city bridge cloud "
         "forest teacher student doctor kitchen bread coffee morning evening journey history science language "
         "people animal weather question answer problem reason example picture number family friend school "
         "table chair light stone quick brown lazy happy careful simple strong gentle bright quiet").split()
SECRET = "ghp_" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb"
EMAIL = "maria.garcia@example.org"
FR_Q = "Pouvez-vous m'expliquer pourquoi le ciel est bleu pendant la journée et rouge au coucher du soleil ?"
FR_A = ("La lumière du soleil est diffusée par les molécules de l'air, et la lumière bleue est beaucoup plus "
        "diffusée que la lumière rouge, c'est pourquoi le ciel paraît bleu pendant la journée.")
EN_Q = "Can you explain why the sky looks blue during the day and red at sunset, in simple words please?"
ES_A = ("La luz del sol se dispersa en las moléculas del aire, y la luz azul se dispersa mucho más que la luz "
        "roja, por eso el cielo se ve azul durante el día y rojo al atardecer.")


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def row(rid: str, prompt: str, answer: str, score: float | None = 4.0) -> dict:
    return {"id": rid, "conversations": [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}],
            "source": "test", "score": score}


def planted_rows() -> list[dict]:
    rng = random.Random(3)
    rows = [row(f"plain{i}", f"Question {i}: {sentence(rng, 14)} What do you think about it?",
                f"Answer {i}: {sentence(rng, 30)} {sentence(rng, 20)}") for i in range(40)]
    rows += [
        row("french", FR_Q, FR_A),
        row("mismatch", EN_Q, ES_A),
        row("translation", "Translate this into Spanish: the sunlight is scattered by the air, so the sky looks "
                           "blue during the day.", ES_A),
        row("contaminated", f"My homework says: {SEED_PROMPTS[0]} Please help me with it, thanks a lot.",
            "Day 1: Tokyo temples and a tea ceremony. Day 2: Kyoto shrines and gardens. Day 3: Nara park."),
        row("email", f"Please  write a short note to {EMAIL} about the meeting tomorrow at the office.",
            "Dear Maria, the meeting is moved to tomorrow at ten in the small room on the second floor."),
        row("secret", f"Why does my script fail? token = '{SECRET}' and the request returns 401 every time.",
            "A 401 means the token is not accepted: check that it has not expired and has the right scopes."),
        row("long", "Write a very long story about the sea, with many details about ships and sailors.",
            " ".join(sentence(rng, 25) for _ in range(60))),
        row("unscored1", "Give me two tips for sleeping better at night, please, short ones.",
            "Keep a regular bedtime, and avoid screens for an hour before you go to sleep.", score=None),
        row("unscored2", "Name three rivers of Europe and the countries they flow through, briefly.",
            "The Danube flows through Germany and Austria, the Rhine through Switzerland and the Seine through France.",
            score=None),
    ]
    return rows


def config(judge_url: str, tmp: Path, split: dict | None = None):
    return load_config(Path(__file__).resolve().parents[2] / "configs" / "quality.yaml", {
        "report": True,
        "stages": {
            "near_dedup": {"enabled": False},
            "split": split or {"train": 1.0, "validation": 0.0, "test": 0.0},
            "judge": {"backend": "openai", "url": judge_url, "sample": 1.0, "min_score": 3.0,
                      "cache": str(tmp / "judge.sqlite")},
            "token_lengths": {"drop_too_long": True},
        },
    })


def reasons_by_id(out: Path) -> dict[str, str]:
    removed = pq.read_table(output_paths(out).removed).to_pylist()
    return {r["input_id"]: r["reason"] for r in removed}


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quality")
    src = tmp / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in planted_rows()), encoding="utf-8")
    with StubJudge(delay=0.0, slots=4, reply='{"helpfulness": 2, "correctness": 2, "instruction_following": 3}') as stub:
        run_curation(str(src), tmp / "out", config(stub.url, tmp))
    return tmp / "out"


def test_planted_rows_get_their_reasons(curated):
    got = reasons_by_id(curated)
    want = {"french": "filter:language", "mismatch": "filter:language_mismatch", "contaminated": "decontaminated",
            "secret": "pii:secret", "long": "filter:too_many_tokens", "unscored1": "filter:judge_score",
            "unscored2": "filter:judge_score"}
    assert {k: v for k, v in got.items() if k in want or k.startswith(("plain", "translation", "email"))} == want


def test_redacted_values_appear_in_no_output_file(curated):
    for path in Path(curated).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data, path
            assert EMAIL.encode() not in data, path
    kept = {r["input_id"]: r for r in pq.read_table(output_paths(curated).split("train")).to_pylist()}
    assert "<EMAIL>" in kept["email"]["conversations"][0]["value"]
    assert kept["email"]["original_conversations"] is not None  # normalize kept the original: redacted too
    assert "<EMAIL>" in kept["email"]["original_conversations"][0]["value"]


def test_manifest_has_each_stage_figures(curated):
    stages = {s["name"]: s for s in json.loads((Path(curated) / "manifest.json").read_text())["stages"]}
    assert stages["language"]["stats"]["rows_by_language"]["fr"] == 1
    assert stages["pii"]["stats"]["found"] == {"email": 1, "secret": 1}
    assert stages["decontaminate"]["stats"]["hits_by_split"] == {"train": 1}
    from curation.token_lengths.stage import tokens_per_split

    assert tokens_per_split(json.loads((Path(curated) / "manifest.json").read_text()))["train"] > 0
    tokens = stages["token_lengths"]["stats"]
    assert tokens["rows"]["train"] == 42 and tokens["tokens"]["train"] > 42 * 50  # the long row was dropped
    assert stages["judge"]["stats"]["scored"] == 2
    kept = {r["input_id"]: r for r in pq.read_table(output_paths(curated).split("train")).to_pylist()}
    assert kept["translation"]["detected_language"] == "es" and kept["plain0"]["detected_language"] == "en"  # kept: asks for Spanish


def test_report_has_a_section_per_quality_stage(curated):
    html = (Path(curated) / "report.html").read_text(encoding="utf-8")
    md = (Path(curated) / "report.md").read_text(encoding="utf-8")
    for key in ("language", "pii", "decontamination", "token-lengths", "judge"):
        assert f'id="q-{key}"' in html
    assert html.count("<svg") >= 5 + 5
    for title in ("## Language", "## PII", "## Decontamination", "## Token lengths", "## Judge scores"):
        assert title in md


@pytest.mark.slow  # a second whole run of the five stages (the fast lane keeps the first)
def test_validation_and_test_hits_are_reported_not_removed(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in planted_rows()), encoding="utf-8")
    with StubJudge(delay=0.0, slots=4) as stub:
        cfg = config(stub.url, tmp_path, split={"train": 0.0, "validation": 0.0, "test": 1.0})
        run_curation(str(src), tmp_path / "out", cfg)
    assert "contaminated" not in reasons_by_id(tmp_path / "out")
    stats = {s["name"]: s for s in json.loads((tmp_path / "out" / "manifest.json").read_text())["stages"]}
    reported = stats["decontaminate"]["stats"]["reported"]
    ids = {r["input_id"]: r["id"] for r in pq.read_table(output_paths(tmp_path / "out").split("test")).to_pylist()}
    assert reported[ids["contaminated"]]["split"] == "test" and reported[ids["contaminated"]]["eval_id"] == "japan_trip"
    assert ids["contaminated"] in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")  # the hit is listed


def test_token_columns_reach_the_split_files(curated):
    names = pq.read_schema(output_paths(curated).split("train")).names
    assert "token_count" in names and "exceeds_max_seq_length" in names


@pytest.mark.slow
def test_the_ray_engine_gives_the_same_verdicts(ray_cluster, curated, tmp_path):
    from curation.engines.ray import RayOptions, run_curation_ray

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in planted_rows()), encoding="utf-8")
    with StubJudge(delay=0.0, slots=4, reply='{"helpfulness": 2, "correctness": 2, "instruction_following": 3}') as stub:
        cfg = config(stub.url, tmp_path)
        cfg.report = False
        run_curation_ray(str(src), tmp_path / "ray", cfg, RayOptions(num_cpus=2))
    assert reasons_by_id(tmp_path / "ray") == reasons_by_id(curated)
    local = {s["name"]: s for s in json.loads((Path(curated) / "manifest.json").read_text())["stages"]}
    ray = {s["name"]: s for s in json.loads((tmp_path / "ray" / "manifest.json").read_text())["stages"]}
    for name in ("pii", "language", "decontaminate", "token_lengths"):
        assert ray[name]["stats"] == local[name]["stats"], name
