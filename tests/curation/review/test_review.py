"""`tome review`: Argilla settings and records from the real `argilla` classes, the to_disk / to_hub layouts
round-tripped (export, annotate in the files, import), verdicts, agreement and accounting.

No Argilla server runs here: the curation folder is made by the real pipeline from shared FineTome-schema rows,
and annotators are simulated by editing the exported files the way Argilla writes them.
"""

from __future__ import annotations

import copy
import json
import os
import random
import socket
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argilla as rg  # noqa: E402

from curation.contract import SPLITS, read_manifest, strip_volatile  # noqa: E402
from curation.review.agreement import cohen_kappa, fleiss_kappa, percent_agreement  # noqa: E402
from curation.review.errors import ReviewError  # noqa: E402
from curation.review.folder import CurationFolder, read_folder  # noqa: E402
from curation.review.layouts import Answer  # noqa: E402
from curation.review.offline import OfflineRequestError, offline_client, offline_default_client  # noqa: E402
from curation.review.schema import build_settings  # noqa: E402
from curation.review.selection import Selection, allocate, select_rows  # noqa: E402
from curation.review.signals import Thresholds  # noqa: E402
from curation.review.verdicts import decide  # noqa: E402
from tomecraft.cli import app  # noqa: E402

ALICE = "0d9b6a58-1111-4c1e-9a77-000000000001"
BOB = "0d9b6a58-2222-4c1e-9a77-000000000002"
CAROL = "0d9b6a58-3333-4c1e-9a77-000000000003"

runner = CliRunner()


# -- a real curation output folder ----------------------------------------------------------------------


def build_input(alpaca_path: Path, target: Path, n: int = 80) -> Path:
    """Shared rows with scores and two sources, plus an exact duplicate, a near duplicate, a near-empty
    answer with a high score, and a line that does not parse."""
    rows = [json.loads(line) for line in alpaca_path.read_text(encoding="utf-8").splitlines()[:n]]
    for i, row in enumerate(rows):
        row["source"] = "alpaca-a" if i % 2 == 0 else "alpaca-b"
        row["score"] = 3.0 + (i % 5) * 0.5
    rows.append(copy.deepcopy(rows[3]))  # exact duplicate
    near = copy.deepcopy(rows[12])  # long answer: one word changed at the end is a near duplicate
    answer = near["conversations"][-1]
    answer["value"] = answer["value"].rstrip(".") + " indeed."
    rows.append(near)
    rows.append({"conversations": [{"from": "human", "value": "Name a primary colour, please."},
                                   {"from": "gpt", "value": "Red"}], "source": "alpaca-a", "score": 5.0})
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(10, "{this line is not json")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def build_curated_folder(alpaca_path: Path, root: Path) -> Path:
    from curation.config import load_config
    from curation.pipeline import run_curation

    root.mkdir(parents=True, exist_ok=True)
    source = build_input(alpaca_path, root / "input.jsonl")
    cfg = load_config(overrides={
        "stages": {"near_dedup": {"backend": "datasketch", "workers": 1}},
        "checkpoint": False,
        "report": False,
    })
    out = root / "curated"
    run_curation(str(source), out, cfg)
    return out


@pytest.fixture(scope="module")
def curated(alpaca_path, tmp_path_factory) -> Path:
    return build_curated_folder(alpaca_path, tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def folder(curated) -> CurationFolder:
    return read_folder(curated)


def run_cli(*args: str, expect: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exit_code != expect:
        raise AssertionError(f"exit {result.exit_code} (wanted {expect}) for {args}:\n{result.output}\n{result.exception!r}")
    return result


def load_records(path: Path) -> list[dict]:
    return json.loads((path / "records.json").read_text(encoding="utf-8"))


def save_records(path: Path, records: list[dict]) -> None:
    # what an annotated dataset's to_disk writes: responses are {question: [{"value", "user_id"}, ...]}
    (path / "records.json").write_text(json.dumps(records), encoding="utf-8")


def respond(record: dict, user: str, status: str | None = None, **answers) -> None:
    for question, value in answers.items():
        entry = {"value": value, "user_id": user}
        if status is not None:
            entry["status"] = status
        record["responses"].setdefault(question, []).append(entry)


def all_rows(root: Path) -> dict[str, tuple[str, dict]]:
    out = {}
    for split in SPLITS:
        for row in pq.read_table(root / f"{split}.parquet").to_pylist():
            assert row["id"] not in out
            out[row["id"]] = (split, row)
    for row in pq.read_table(root / "removed.parquet").to_pylist():
        assert row["id"] not in out
        out[row["id"]] = ("removed", row)
    return out


# -- settings and records are argilla's own --------------------------------------------------------------


def test_settings_are_built_with_argilla_classes_for_chat_data():
    with offline_default_client() as client:
        settings = build_settings(384, min_submitted=2, client=client)
        assert isinstance(settings, rg.Settings)
        (field,) = settings.fields
        assert isinstance(field, rg.ChatField) and field.name == "conversation"
        verdict, quality, corrected = settings.questions
        assert isinstance(verdict, rg.LabelQuestion) and verdict.labels == ["keep", "fix", "discard"] and verdict.required
        assert isinstance(quality, rg.RatingQuestion) and [o["value"] for o in quality.serialize()["settings"]["options"]] == [1, 2, 3, 4, 5]
        assert isinstance(corrected, rg.TextQuestion) and not corrected.required
        kinds = {m.name: type(m) for m in settings.metadata}
        assert kinds["source"] is rg.TermsMetadataProperty and kinds["score"] is rg.FloatMetadataProperty
        assert kinds["turns"] is rg.IntegerMetadataProperty and kinds["cluster_size"] is rg.IntegerMetadataProperty
        assert {"characters", "augmentation", "heuristics"} <= set(kinds)
        (vector,) = settings.vectors
        assert isinstance(vector, rg.VectorField) and vector.dimensions == 384
        assert settings.distribution.min_submitted == 2
        for label in ("keep", "fix", "discard", "corrected_answer", "quality"):
            assert label in settings.guidelines
        # argilla's own round trip of the serialized settings gives the same settings back
        assert rg.Settings._from_dict(json.loads(json.dumps(settings.serialize()))) == settings


def test_offline_client_refuses_every_request_and_restores_the_default():
    before = rg.Argilla._default_client
    with offline_default_client() as client:
        assert rg.Argilla._get_default() is client
        with pytest.raises(OfflineRequestError):
            client.api.users.get_me()
    assert rg.Argilla._default_client is before
    with pytest.raises(OfflineRequestError):
        offline_client().api.workspaces.list()


def test_offline_export_opens_no_socket(curated, tmp_path, monkeypatch):
    def no_network(self, address):
        raise AssertionError(f"offline export tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    run_cli("review", "export", curated, "--split", "test", "--no-vectors", "--to", tmp_path / "disk",
            "--hub-dir", tmp_path / "hub", "-q")
    assert (tmp_path / "disk" / "records.json").exists() and (tmp_path / "hub" / "README.md").exists()


def test_records_carry_chat_metadata_and_heuristic_suggestions(curated, folder, tmp_path):
    run_cli("review", "export", curated, "--removed", "*", "--split", "validation", "--no-vectors",
            "--to", tmp_path / "disk", "-q")
    records = {r["id"]: r for r in load_records(tmp_path / "disk")}
    by_id = folder.by_id()
    removed = [r for r in folder.removed]
    assert {r["id"] for r in removed} <= set(records)
    assert {r["id"] for r in folder.splits["validation"]} <= set(records)
    assert not {r["id"] for r in folder.splits["train"]} & set(records)
    for rid, rec in records.items():
        loc = by_id[rid]
        turns = loc.row["conversations"]
        chat = rec["fields"]["conversation"]
        assert [m["content"] for m in chat] == [t["value"] for t in turns]
        assert {m["role"] for m in chat} <= {"user", "assistant", "system"}
        meta = rec["metadata"]
        assert meta["turns"] == len(turns) and meta["characters"] == sum(len(t["value"]) for t in turns)
        assert meta["source"] == loc.row["source"] and meta["location"] == loc.location
        verdict = rec["suggestions"]["verdict"]
        if loc.location == "removed":
            assert verdict["value"] == "discard"
            assert loc.row["reason"] in meta["heuristics"] and loc.row["reason"] in verdict["agent"]
        else:
            assert verdict == {"value": "keep", "score": None, "agent": "tomecraft/kept"}
        assert rec["suggestions"]["corrected_answer"]["value"] == turns[-1]["value"]
        score = loc.row["score"]
        assert rec["suggestions"]["quality"]["value"] == min(5, max(1, int(score + 0.5)))
    # the exact duplicate and its kept twin form a cluster of 2
    dup = next(r for r in removed if r["reason"] == "exact_duplicate")
    assert records[dup["id"]]["metadata"]["cluster_size"] == 2


# -- the to_disk layout -----------------------------------------------------------------------------------


def test_disk_layout_is_argillas_to_disk(curated, folder, tmp_path):
    from argilla._models import DatasetModel
    from argilla.records._io import JsonIO

    target = tmp_path / "disk"
    run_cli("review", "export", curated, "--split", "test", "--no-vectors", "--name", "my-review", "--to", target, "-q")
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [".argilla/dataset.json", ".argilla/settings.json", "records.json"]
    # argilla's own readers (what from_disk calls) accept every file
    model = DatasetModel(**json.loads((target / ".argilla/dataset.json").read_text()))
    assert model.name == "my-review"
    with offline_default_client() as client:
        settings = rg.Settings.from_json(target / ".argilla/settings.json")
        assert settings == build_settings(None, client=client)
        records = JsonIO._records_from_json(target / "records.json")
    assert [r.id for r in records] == [r["id"] for r in folder.splits["test"]]
    # and what argilla writes for those objects is byte for byte what we wrote
    with offline_default_client() as client:
        again = tmp_path / "again"
        again.mkdir()
        ds = rg.Dataset(name="my-review", workspace=rg.Workspace(name="argilla", client=client), settings=settings, client=client)
        ds.to_disk(str(again), with_records=False)
        for r in records:
            r.dataset = ds
        JsonIO.to_json(records, again / "records.json")
    for name in files:
        assert (again / name).read_bytes() == (target / name).read_bytes(), name


def test_export_is_deterministic(curated, tmp_path):
    for n in (1, 2):
        run_cli("review", "export", curated, "--sample", "12", "--seed", "3", "--no-vectors",
                "--to", tmp_path / f"d{n}", "--hub-dir", tmp_path / f"h{n}", "-q")
    for kind in ("d", "h"):
        a, b = tmp_path / f"{kind}1", tmp_path / f"{kind}2"
        names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
        assert names == sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
        for name in names:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_export_refuses_a_non_empty_target_and_needs_a_destination(curated, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "x").write_text("x")
    result = run_cli("review", "export", curated, "--no-vectors", "--to", target, expect=2)  # usage: exit 2
    assert "must be a new or empty folder" in result.output and "Traceback" not in result.output
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_")}
    result = runner.invoke(app, ["review", "export", str(curated), "--no-vectors"], env={**env, "ARGILLA_API_URL": ""})
    assert result.exit_code == 2 and "--to DIR" in result.output


# -- selection --------------------------------------------------------------------------------------------


def test_selection_criteria(folder):
    ids = lambda picked: [p.id for p in picked]  # noqa: E731
    assert ids(select_rows(folder, Selection())) == [r["id"] for s in SPLITS for r in folder.splits[s]]
    assert ids(select_rows(folder, Selection(splits=("validation",)))) == [r["id"] for r in folder.splits["validation"]]
    filtered = select_rows(folder, Selection(removed=("filter:*",)))
    assert filtered and all(p.loc.row["reason"].startswith("filter:") for p in filtered)
    assert {p.id for p in filtered} == {r["id"] for r in folder.removed if r["reason"].startswith("filter:")}
    # clusters: every member of every cluster of 2+, kept and removed
    clustered = select_rows(folder, Selection(clusters=True))
    locations = {p.loc.location for p in clustered}
    assert "removed" in locations and locations & set(SPLITS)
    sizes = folder.cluster_sizes()
    assert all(sizes[p.loc.row["cluster_id"]] >= 2 for p in clustered)
    assert sum(1 for v in sizes.values() if v >= 2) >= 2  # the exact and the near duplicate
    # disagreement: the near-empty answer with score 5 (a filter fired) and kept rows scored 3.0
    disagree = select_rows(folder, Selection(disagree=True, thresholds=Thresholds(4.5, 3.0)))
    reasons = {p.disagreement.split(" fired")[0] for p in disagree if " fired but " in p.disagreement}
    assert "filter:answer_too_short" in reasons
    low = [p for p in disagree if p.disagreement.startswith("no heuristic")]
    assert low and all(p.loc.row["score"] <= 3.0 and p.loc.location != "removed" for p in low)
    # criteria add up
    both = select_rows(folder, Selection(splits=("test",), removed=("exact_duplicate",)))
    assert {p.id for p in both} == {r["id"] for r in folder.splits["test"]} | {
        r["id"] for r in folder.removed if r["reason"] == "exact_duplicate"}


def test_selection_errors_name_what_exists(folder):
    with pytest.raises(ReviewError, match="reasons: .*exact_duplicate"):
        select_rows(folder, Selection(removed=("nope*",)))
    with pytest.raises(ReviewError, match="needs --sample"):
        select_rows(folder, Selection(stratify_by="source"))
    with pytest.raises(ReviewError, match="not a column"):
        select_rows(folder, Selection(sample=3, stratify_by="colour"))
    with pytest.raises(ReviewError, match="matched no rows"):
        select_rows(folder, Selection(augmented=True))


def test_sampling_is_seeded_and_stratified(folder):
    a = [p.id for p in select_rows(folder, Selection(sample=20, seed=1))]
    assert a == [p.id for p in select_rows(folder, Selection(sample=20, seed=1))]
    assert a != [p.id for p in select_rows(folder, Selection(sample=20, seed=2))]
    assert len(set(a)) == 20
    strat = select_rows(folder, Selection(sample=20, stratify_by="source", seed=0))
    pool = select_rows(folder, Selection())
    share = sum(p.loc.row["source"] == "alpaca-a" for p in pool) / len(pool)
    got = sum(p.loc.row["source"] == "alpaca-a" for p in strat)
    assert abs(got - 20 * share) < 1  # proportional, largest remainder
    assert allocate(10, {"a": 5, "b": 3, "c": 2}) == {"a": 5, "b": 3, "c": 2}
    assert allocate(3, {"a": 5, "b": 3, "c": 2}) == {"a": 1, "b": 1, "c": 1}  # 1.5, 0.9, 0.6: remainders .9, .6 win
    assert sum(allocate(7, {"a": 1, "b": 1, "c": 40}).values()) == 7


def test_augmented_rows_are_selected_with_their_method(tmp_path):
    from curation.contract import OutputPaths
    from curation.review.records import metadata_of

    base = {"source": "s", "score": 4.0, "cluster_id": None, "origin_id": None, "augmentation": None}
    turns = [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hello there, friend."}]
    plain = {"id": "a", "conversations": turns, **base}
    aug = {**plain, "id": "a-aug", "origin_id": "a", "augmentation": json.dumps({"method": "synonym", "p": 0.1})}
    folder = CurationFolder(OutputPaths(tmp_path), {}, {"train": [plain, aug], "validation": [], "test": []}, [], [])
    (picked,) = select_rows(folder, Selection(augmented=True))
    assert picked.id == "a-aug" and picked.why == ["augmented"]
    assert metadata_of(picked, {})["augmentation"] == "synonym"


# -- verdicts and agreement -------------------------------------------------------------------------------


def answers(rid, user, status="submitted", **values):
    return [Answer(rid, user, q, v, status) for q, v in values.items()]


def test_majority_ties_fixes_and_drafts():
    got = decide(
        ["r1", "r2", "r3", "r4", "r5", "r6"],
        answers("r1", ALICE, verdict="keep", quality=4) + answers("r1", BOB, verdict="keep", quality=5)
        + answers("r1", CAROL, verdict="discard", quality=1)
        + answers("r2", ALICE, verdict="keep") + answers("r2", BOB, verdict="discard")
        + answers("r3", ALICE, verdict="fix", corrected_answer="Better.") + answers("r3", BOB, verdict="fix", corrected_answer=" Better. ")
        + answers("r3", CAROL, verdict="fix", corrected_answer="Other.")
        + answers("r4", ALICE, verdict="fix")
        + answers("r5", ALICE, status="draft", verdict="discard") + answers("r5", BOB, status="discarded", verdict="keep"),
    )
    d = got.decisions
    assert (d["r1"].verdict, d["r1"].agreement, d["r1"].quality) == ("keep", pytest.approx(2 / 3, abs=1e-6), pytest.approx(10 / 3, abs=1e-6))
    assert d["r1"].conflicts == ["disagreement"]
    assert d["r2"].verdict is None and d["r2"].status == "tie" and d["r2"].conflicts == ["tie"]
    assert d["r3"].verdict == "fix" and d["r3"].corrected == "Better." and d["r3"].fixed_by == [ALICE, BOB]
    assert d["r3"].conflicts == ["corrected_answers_differ"]
    assert d["r4"].verdict is None and d["r4"].conflicts == ["fix_without_answer"]
    assert d["r5"].verdict is None and d["r5"].status == "pending" and not d["r5"].ballots
    assert got.skipped == {"discarded": 1, "draft": 1}
    assert got.counts() == {"keep": 1, "fix": 1, "discard": 0, "undecided": 2, "pending": 2}
    kinds = {(c["id"], c["kind"]) for c in got.conflicts()}
    assert kinds == {("r1", "disagreement"), ("r2", "tie"), ("r3", "corrected_answers_differ"), ("r4", "fix_without_answer")}
    two = decide(["r1"], answers("r1", ALICE, verdict="discard"), min_votes=2)
    assert two.decisions["r1"].verdict is None and two.decisions["r1"].status == "pending"


def test_bad_answers_are_one_line_errors():
    with pytest.raises(ReviewError, match="record r1, annotator .*verdict 'maybe'"):
        decide(["r1"], answers("r1", ALICE, verdict="maybe"))
    with pytest.raises(ReviewError, match="quality 9"):
        decide(["r1"], answers("r1", ALICE, verdict="keep", quality=9))
    with pytest.raises(ReviewError, match="not in the export"):
        decide(["r1"], answers("zz", ALICE, verdict="keep"))


def test_cohen_kappa_matches_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(7)
    for _ in range(25):
        n = rng.randint(2, 40)
        a = [rng.choice("kfd") for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice("kfd") for x in a]
        ours = cohen_kappa(a, b)
        ref = sklearn_metrics.cohen_kappa_score(a, b)
        if ours is None:
            assert ref != ref or ref == 0  # nan: undefined
        else:
            assert ours == pytest.approx(ref, abs=1e-12)


def test_fleiss_kappa_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> kappa 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    items = {}
    for i, counts in enumerate(table):
        labels = [c for c, k in enumerate(counts) for _ in range(k)]
        items[f"s{i}"] = {f"rater{j}": label for j, label in enumerate(labels)}
    assert fleiss_kappa(items) == pytest.approx(0.2099, abs=1e-4)
    assert percent_agreement({"x": {"a": 1, "b": 1, "c": 2}, "y": {"a": 1}}) == pytest.approx(1 / 3)
    assert fleiss_kappa({"x": {"a": 1, "b": 1}}) is None and percent_agreement({"x": {"a": 1}}) is None


# -- round trips: export, annotate in the files, import ------------------------------------------------------


def annotate_disk(records: list[dict], folder: CurationFolder) -> dict[str, str]:
    """Simulated annotators on the exported records; returns what each chosen id should end as."""
    by_id = folder.by_id()
    kept = [r for r in records if by_id[r["id"]].location != "removed"]
    removed_dup = next(r for r in records if by_id[r["id"]].row.get("reason") == "exact_duplicate")
    removed_filter = next(r for r in records if (by_id[r["id"]].row.get("reason") or "").startswith("filter:"))
    discard, fix, tie, keep = kept[0], kept[1], kept[2], kept[3]
    respond(discard, ALICE, verdict="discard", quality=1)
    respond(discard, BOB, verdict="discard", quality=2)
    respond(fix, ALICE, verdict="fix", quality=3, corrected_answer="A corrected answer, written by a person.")
    respond(fix, BOB, verdict="fix", quality=4, corrected_answer="A corrected answer, written by a person.")
    respond(fix, CAROL, verdict="keep", quality=4)
    respond(tie, ALICE, verdict="keep")
    respond(tie, BOB, verdict="discard")
    respond(keep, ALICE, verdict="keep", quality=5)
    respond(keep, BOB, status="draft", verdict="discard")  # a draft does not count
    respond(removed_dup, ALICE, verdict="keep")
    respond(removed_filter, ALICE, verdict="discard")
    return {"discard": discard["id"], "fix": fix["id"], "tie": tie["id"], "keep": keep["id"],
            "restore": removed_dup["id"], "confirm": removed_filter["id"]}


def check_applied(folder: CurationFolder, out: Path, chosen: dict[str, str]) -> dict:
    before = folder.by_id()
    after = all_rows(out)
    assert set(after) == set(before)  # nothing lost, nothing doubled
    where, row = after[chosen["discard"]]
    assert where == "removed" and row["stage"] == "review" and row["reason"] == "review:discard"
    assert json.loads(row["details"])["votes"] == {ALICE: "discard", BOB: "discard"}
    assert row["quality"] == 1.5 and row["review_verdict"] == "discard"
    assert row["conversations"] == before[chosen["discard"]].row["conversations"]

    where, row = after[chosen["fix"]]
    original = before[chosen["fix"]].row["conversations"]
    assert where == before[chosen["fix"]].location
    assert row["conversations"][-1]["value"] == "A corrected answer, written by a person."
    assert row["conversations"][:-1] == original[:-1]
    assert row["review_original_answer"] == original[-1]["value"]
    assert row["review_fixed_by"] == [ALICE, BOB] and row["review_verdict"] == "fix"
    assert row["review_agreement"] == pytest.approx(2 / 3, abs=1e-6) and row["quality"] == pytest.approx(11 / 3, abs=1e-6)

    where, row = after[chosen["tie"]]
    assert where == before[chosen["tie"]].location and row["review_verdict"] is None
    assert row["conversations"] == before[chosen["tie"]].row["conversations"]

    where, row = after[chosen["keep"]]
    assert where == before[chosen["keep"]].location and row["review_verdict"] == "keep" and row["quality"] == 5.0
    assert row["review_annotators"] == [ALICE]

    dup = before[chosen["restore"]].row
    where, row = after[chosen["restore"]]
    assert where == before[dup["duplicate_of"]].location  # back beside the row it duplicated
    assert "reason" not in row and row["review_verdict"] == "keep"

    where, row = after[chosen["confirm"]]
    assert where == "removed" and row["reason"] == before[chosen["confirm"]].row["reason"]

    untouched = next(i for i, loc in before.items() if i not in chosen.values() and loc.location == "train")
    assert after[untouched][1]["quality"] is None and after[untouched][1]["review_verdict"] is None

    manifest = read_manifest(out)
    acc = manifest["accounting"]
    assert acc["balanced"] and acc["in_splits"] + acc["removed"] + acc["quarantined"] == acc["input_rows"] + acc["added_rows"]
    assert acc["quarantined"] == len(folder.quarantine) >= 1
    assert (out / "quarantine.jsonl").read_bytes() == folder.paths.quarantine.read_bytes()
    for name, info in manifest["outputs"].items():
        from curation.writer import sha256_file

        assert sha256_file(out / info["path"]) == info["sha256"], name
    assert manifest["removed_by_reason"]["review:discard"] == 1
    review = manifest["review"]
    assert review["verdicts"]["keep"] == 2 and review["verdicts"]["fix"] == 1 and review["verdicts"]["discard"] == 2
    assert review["verdicts"]["undecided"] == 1
    assert review["applied"]["restored"] == 1 and review["applied"]["fixed"] == 1 and review["applied"]["discarded"] == 1
    assert review["answers_skipped"] == {"draft": 1}
    kinds = {(c["id"], c["kind"]) for c in review["conflicts"]}
    assert (chosen["tie"], "tie") in kinds and (chosen["fix"], "disagreement") in kinds
    verdict_agreement = review["agreement"]["verdict"]
    assert verdict_agreement["records_with_2plus_annotators"] == 3
    assert verdict_agreement["percent_agreement"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-6)
    assert verdict_agreement["fleiss_kappa"] is not None and verdict_agreement["cohen_kappa_pairs"]
    assert manifest["stages"][-1]["name"] == "review" and manifest["stages"][-1]["removed"] == {"review:discard": 1}
    # the splits still load with datasets, review columns included
    from datasets import load_dataset

    train = load_dataset("parquet", data_files=str(out / "train.parquet"), split="train")
    assert {"quality", "review_verdict", "review_original_answer", "review_fixed_by"} <= set(train.column_names)
    return manifest


def test_round_trip_disk_layout(curated, folder, tmp_path):
    export = tmp_path / "export"
    run_cli("review", "export", curated, "--split", "validation", "--split", "test", "--removed", "*",
            "--no-vectors", "--to", export, "-q")
    records = load_records(export)
    chosen = annotate_disk(records, folder)
    save_records(export, records)
    run_cli("review", "import", curated, "--from", export, "--out", tmp_path / "reviewed", "-q")
    manifest = check_applied(folder, tmp_path / "reviewed", chosen)
    assert manifest["review"]["source"] == {"kind": "disk", "path": str(export)}
    # the same import again gives the same bytes (and the same manifest but for clock keys)
    run_cli("review", "import", curated, "--from", export / "records.json", "--out", tmp_path / "again", "-q")
    for name in ("train.parquet", "validation.parquet", "test.parquet", "removed.parquet", "quarantine.jsonl"):
        assert (tmp_path / "reviewed" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    first, second = strip_volatile(read_manifest(tmp_path / "reviewed")), strip_volatile(read_manifest(tmp_path / "again"))
    first["review"].pop("source"), second["review"].pop("source")
    assert first == second


def test_round_trip_hub_layout(curated, folder, tmp_path):
    """The to_hub layout: annotated the way argilla flattens responses (<question>.responses[.users|.status])."""
    from argilla.records._io import HFDatasetsIO
    from datasets import load_dataset

    hub = tmp_path / "hub"
    run_cli("review", "export", curated, "--split", "validation", "--split", "test", "--removed", "*",
            "--no-vectors", "--hub-dir", hub, "-q")
    shards = sorted((hub / "data").glob("*.parquet"))
    assert [p.name for p in shards] == ["train-00000-of-00001.parquet"]
    assert "rg.Dataset.from_hub" in (hub / "README.md").read_text()
    # what from_hub does with the repo: load_dataset on it, and the configuration files
    loaded = load_dataset(str(hub), split="train")
    assert {"id", "conversation", "source", "verdict.suggestion", "verdict.suggestion.agent"} <= set(loaded.column_names)
    assert loaded.features["verdict.suggestion"].names  # a ClassLabel, as to_hub writes label suggestions

    # annotate: rebuild the records with argilla, add responses, flatten them as to_hub would
    records_json = [dict(r) for r in loaded.to_list()]
    with offline_default_client() as client:
        settings = rg.Settings.from_json(hub / ".argilla/settings.json")
        ds = rg.Dataset(name="tome-review", workspace=rg.Workspace(name="argilla", client=client), settings=settings, client=client)
        plain = [{"id": r["id"], "fields": {"conversation": r["conversation"]}, "responses": {}} for r in records_json]
        chosen = annotate_disk(plain, folder)
        records = []
        for r in plain:
            record = rg.Record(id=r["id"], fields=r["fields"], _dataset=ds)
            for question, entries in r["responses"].items():
                for e in entries:
                    record.responses.add(rg.Response(question, e["value"], user_id=e["user_id"],
                                                     status=e.get("status", "submitted")))
            records.append(record)
        annotated = HFDatasetsIO.to_datasets(records, ds)
    annotated.to_parquet(str(shards[0]))
    assert {"verdict.responses", "verdict.responses.users", "verdict.responses.status"} <= set(pq.read_schema(shards[0]).names)
    run_cli("review", "import", curated, "--from", hub, "--out", tmp_path / "reviewed", "-q")
    manifest = check_applied(folder, tmp_path / "reviewed", chosen)
    assert manifest["review"]["source"]["kind"] == "hub"


def test_import_errors_are_one_line(curated, folder, tmp_path):
    export = tmp_path / "export"
    run_cli("review", "export", curated, "--split", "test", "--no-vectors", "--to", export, "-q")
    result = run_cli("review", "import", curated, "--from", export, "--out", curated, expect=2)  # usage: exit 2
    assert "must differ from the input folder" in result.output
    records = load_records(export)
    records[0]["id"] = "not-a-row-of-this-folder"
    respond(records[0], ALICE, verdict="keep")
    save_records(export, records)
    result = run_cli("review", "import", curated, "--from", export, "--out", tmp_path / "o", expect=1)
    assert "not rows of" in result.output and "Traceback" not in result.output
    result = run_cli("review", "import", curated, "--from", tmp_path / "missing", "--out", tmp_path / "o", expect=2)
    assert "not found" in result.output
    (export / "records.json").write_text("[{", encoding="utf-8")
    result = run_cli("review", "import", curated, "--from", export, "--out", tmp_path / "o2", expect=1)
    assert "records.json: cannot read records" in result.output


def test_vectors_are_sentence_embeddings_for_similarity_search(curated, folder, tmp_path):
    """The real offline all-MiniLM-L6-v2: the near-duplicate pair are each other's nearest neighbours."""
    import numpy as np

    pytest.importorskip("sentence_transformers")
    run_cli("review", "export", curated, "--clusters", "--split", "test", "--to", tmp_path / "disk", "-q")
    records = load_records(tmp_path / "disk")
    settings = json.loads((tmp_path / "disk/.argilla/settings.json").read_text())
    assert settings["vectors"][0]["dimensions"] == 384
    vectors = np.array([r["vectors"]["embedding"] for r in records], dtype=np.float32)
    assert vectors.shape == (len(records), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    clusters = {}
    for i, r in enumerate(records):
        if r["metadata"].get("cluster"):
            clusters.setdefault(r["metadata"]["cluster"], []).append(i)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    for members in clusters.values():
        if len(members) == 2:
            a, b = members
            assert int(sims[a].argmax()) == b and int(sims[b].argmax()) == a


def test_push_to_hub_uploads_the_to_hub_layout(curated, tmp_path, monkeypatch):
    """--push-to-hub publishes exactly the files of the to_hub layout (the Hub itself is stubbed: no network)."""
    from huggingface_hub import HfApi

    calls = {}

    def create_repo(self, repo_id, **kw):
        calls["create_repo"] = (repo_id, kw)

    def upload_folder(self, **kw):
        import fnmatch

        root = Path(kw["folder_path"])
        files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        calls["uploaded"] = [f for f in files if any(fnmatch.fnmatch(f, pat) for pat in kw["allow_patterns"])]
        calls["upload"] = kw

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "repo_info", lambda self, repo_id, **kw: SimpleNamespace(private=True))
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    result = run_cli("review", "export", curated, "--split", "test", "--no-vectors", "--push-to-hub", "me/tome-review",
                     "--private", "--hf-token", "hf_x")
    assert calls["create_repo"] == ("me/tome-review", {"repo_type": "dataset", "exist_ok": True, "private": True})
    assert calls["upload"]["repo_id"] == "me/tome-review" and calls["upload"]["repo_type"] == "dataset"
    assert calls["uploaded"] == [".argilla/dataset.json", ".argilla/settings.json", "README.md",
                                 "data/train-00000-of-00001.parquet"]
    assert "huggingface.co/datasets/me/tome-review" in result.output


@pytest.mark.parametrize("name", ['disk "q', "disk\nnl"])
def test_the_load_hint_after_an_export_is_one_line_of_python_for_any_path(curated, tmp_path, name):
    """A --to path with a quote gave `rg.Dataset.from_disk("disk "q", ...)`, which is no Python; one with a line
    break split the hint over two lines."""
    import ast

    target = tmp_path / name
    result = run_cli("review", "export", curated, "--sample", "3", "--no-vectors", "--to", target)
    hint = next(line for line in result.output.splitlines() if "to_disk layout" in line)
    call = ast.parse(hint[hint.index("rg.Dataset.from_disk("):-1].replace("...", "None")).body[0].value
    assert call.args[0].value == str(target)
