"""Semantic dedup on real rows: paraphrased duplicates go, keep policy and records match MinHash's, cache works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curation import embeddings
from curation.config import CurationConfig
from curation.semantic_config import SemanticDedupConfig
from curation.semantic_dedup import SemanticDedup, similar_pairs
from curation.engines.inmemory import run_stage


@pytest.fixture(scope="module")
def rows(alpaca_path):
    with alpaca_path.open(encoding="utf-8") as fh:
        real = [json.loads(line) for line in fh][:30]
    for i, row in enumerate(real):
        row["id"] = f"a{i:03d}"
    # a reworded copy of row 1 (same meaning, different words: MinHash would not catch it)
    para = json.loads(json.dumps(real[1]))
    para["id"] = "para1"
    para["conversations"][0]["value"] = "Rewrite this sentence with a synonym: The car sped quickly."
    para["score"] = 5.0  # higher score: the keep policy keeps the paraphrase, drops the original
    return real + [para]


def _run(step, rows, tmp_path: Path):
    return run_stage(step, rows, cache_dir=tmp_path)


def test_similar_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(57, 16)).astype(np.float32)
    v[5] = v[40] + 0.01
    v[7] = v[8]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pairs, sims = similar_pairs(v, 0.5, block_size=8)
    full = v @ v.T
    expect = sorted((i, j) for i in range(57) for j in range(i + 1, 57) if full[i, j] >= 0.5)
    assert [tuple(p) for p in pairs.tolist()] == expect
    np.testing.assert_allclose(sims, [full[i, j] for i, j in expect], rtol=1e-5)


def test_paraphrase_removed_with_records(tmp_path, rows):
    step = SemanticDedup(SemanticDedupConfig(enabled=True, threshold=0.9, text_key="first_human"))
    result = _run(step, rows, tmp_path)
    assert len(result.kept) + len(result.removed) == len(rows)
    removed = {r.row["id"]: r for r in result.removed}
    assert "a001" in removed
    rec = removed["a001"]
    assert rec.reason == "semantic_duplicate"
    assert rec.duplicate_of == "para1"
    assert rec.cluster_id == "c-para1"
    assert 0.9 <= rec.details["similarity"] <= 1.0
    kept = {r["id"]: r for r in result.kept}
    assert kept["para1"]["cluster_id"] == "c-para1"
    assert result.stats["pairs"] >= 1 and result.stats["clusters"] >= 1
    assert "rows_per_s" in result.stats


def test_rerun_uses_cached_embeddings(tmp_path, rows, monkeypatch):
    step = SemanticDedup(SemanticDedupConfig(enabled=True, threshold=0.9))
    first = _run(step, rows, tmp_path)
    assert step.last_embedded == len(rows)
    monkeypatch.setattr(embeddings, "_encode", lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-embedded")))
    second = _run(step, rows, tmp_path)
    assert step.last_embedded == 0
    assert [r.row["id"] for r in second.removed] == [r.row["id"] for r in first.removed]
    assert [r["id"] for r in second.kept] == [r["id"] for r in first.kept]


def test_augmented_row_is_not_a_duplicate_of_its_origin(tmp_path, rows):
    origin = rows[2]
    aug = json.loads(json.dumps(origin))
    aug["id"] = f"{origin['id']}-aug-synonym"
    aug["origin_id"] = origin["id"]
    aug["conversations"][0]["value"] = origin["conversations"][0]["value"].replace("Make", "Construct")
    step = SemanticDedup(SemanticDedupConfig(enabled=True, threshold=0.85))
    result = _run(step, rows[:10] + [aug], tmp_path)
    assert {r["id"] for r in result.kept} >= {origin["id"], aug["id"]}
    assert result.stats["pairs_skipped_same_origin"] >= 1


def test_disabled_by_default():
    assert SemanticDedupConfig().enabled is False
    assert CurationConfig().stages.semantic_dedup.enabled is False


def test_threshold_one_pairs_identical_texts(tmp_path, rows):
    # float32 puts a unit vector's cosine with itself at 0.99999976, below 1.0: identical prompts (with
    # different answers, so exact dedup keeps them all) must still be duplicates at threshold 1.0
    copies = []
    for k in range(3):
        row = json.loads(json.dumps(rows[4]))
        row["id"] = f"copy{k}"
        row["conversations"][0]["value"] = "Explain how a rainbow forms after the rain in simple words."
        row["conversations"][1]["value"] += f" (answer {k})"
        copies.append(row)
    step = SemanticDedup(SemanticDedupConfig(enabled=True, threshold=1.0, text_key="first_human"))
    result = _run(step, rows[:3] + copies, tmp_path)
    assert sorted(r.row["id"] for r in result.removed) == ["copy1", "copy2"]
    assert all(r.details["similarity"] == 1.0 for r in result.removed)


def test_similar_pairs_do_not_depend_on_the_block_size():
    """float32 products of a block of 1 row and of 7 rows round differently: a similarity written to 6
    decimals (and a pair right at the threshold) changed with block_size."""
    rng = np.random.default_rng(3)
    v = rng.normal(size=(120, 384)).astype(np.float32)
    v[60:] = v[:60] + rng.normal(scale=0.2, size=(60, 384)).astype(np.float32)  # 60 near pairs
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    runs = [similar_pairs(v, 0.9, block_size=b) for b in (1, 7, 64, 4096)]
    for pairs, sims in runs[1:]:
        assert pairs.tobytes() == runs[0][0].tobytes() and sims.tobytes() == runs[0][1].tobytes()
    pairs, sims = runs[0]
    assert len(pairs) >= 50
    exact = [float(np.dot(v[i].astype(np.float64), v[j].astype(np.float64))) for i, j in pairs.tolist()]
    np.testing.assert_allclose(sims, exact, rtol=0, atol=1e-12)
    # a threshold set right at one pair's similarity keeps that pair whatever the blocks
    cut = float(sims[len(sims) // 2])
    kept = {b: similar_pairs(v, cut, block_size=b)[0].tobytes() for b in (1, 5, 4096)}
    assert len(set(kept.values())) == 1


def test_removed_rows_do_not_depend_on_the_cache_or_the_sizes(tmp_path, rows):
    """The same rows and threshold: a fresh run, and a run with other batch and block sizes over a cache an
    earlier run filled with a part of them, remove the same rows with the same written similarities."""
    cfg = dict(enabled=True, threshold=0.3, text_key="first_human")
    fresh = _run(SemanticDedup(SemanticDedupConfig(**cfg)), rows, tmp_path / "fresh")
    _run(SemanticDedup(SemanticDedupConfig(**cfg, batch_size=3)), rows[4:19], tmp_path / "reused")
    again = _run(SemanticDedup(SemanticDedupConfig(**cfg, batch_size=5, block_size=2)), rows, tmp_path / "reused")
    first = [(r.row["id"], r.duplicate_of, json.dumps(r.details, sort_keys=True)) for r in fresh.removed]
    assert len(first) >= 5
    assert [(r.row["id"], r.duplicate_of, json.dumps(r.details, sort_keys=True)) for r in again.removed] == first


def test_similar_pairs_tolerates_float32_rounding_only():
    v = np.zeros((3, 4), dtype=np.float32)
    v[0, 0] = v[1, 0] = np.float32(0.99999976) ** 0.5  # self cosine just under 1, as MiniLM's come out
    v[2, :2] = [0.999, 0.0447]
    pairs, sims = similar_pairs(v, 1.0)
    assert pairs.tolist() == [[0, 1]] and sims.max() <= 1.0
    with pytest.raises(ValueError, match="block_size"):
        similar_pairs(v, 0.5, block_size=0)


@pytest.mark.parametrize("key,value", [("batch_size", 0), ("batch_size", -3), ("block_size", 0), ("block_size", -1)])
def test_sizes_below_one_are_config_errors(key, value):
    # batch_size 0 crashed in range(); block_size 0 silently found no pairs at all
    with pytest.raises(ValueError, match=key):
        SemanticDedupConfig(**{key: value})


# ------------------------------------------------------------------------------------------- hostile text

BLANK_TEXTS = ["", "\u200b\u200b", "\ufeff\u00a0", "\u2060 \u200d"]  # empty, zero-width, BOM + NBSP, joiners


def _prompt_rows(prompts):
    return [{"id": f"r{i}", "source": "s", "score": None,
             "conversations": [{"from": "human", "value": p}, {"from": "gpt", "value": f"Answer number {i}."}]}
            for i, p in enumerate(prompts)]


def test_has_text_needs_something_to_read():
    from curation.semantic_dedup import has_text

    assert not any(has_text(t) for t in BLANK_TEXTS + [" \t\n", "\u0301\u0301"])
    assert all(has_text(t) for t in ["a", "42", "?!", "😀", "مرحبا", "你好", "_"])


def test_rows_without_text_are_never_paired_nor_link_others(tmp_path, monkeypatch):
    """Every blank text embeds to one vector, so blank prompts were all "duplicates" at similarity 1.0, and at a
    low threshold that vector chained unrelated prompts into one cluster (A ~ blank ~ B). Vectors stand in for
    the model's: the blank ones share one, close to both real prompts, which are far from each other."""
    from curation import semantic_dedup

    blank = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    a = np.array([0.8, 0.6, 0.0], dtype=np.float32)
    b2 = (0.3 - 0.64) / 0.6  # a @ b = 0.3, blank @ b = 0.8
    b = np.array([0.8, b2, np.sqrt(1 - 0.64 - b2 * b2)], dtype=np.float32)
    prompts = ["Alpha question about rivers.", "Beta question about taxes."] + BLANK_TEXTS
    table = {prompts[0]: a, prompts[1]: b}
    monkeypatch.setattr(semantic_dedup, "embed",
                        lambda texts, **kw: np.stack([table.get(t, blank) for t in texts]).astype(np.float32))
    result = _run(SemanticDedup(SemanticDedupConfig(enabled=True, threshold=0.7)), _prompt_rows(prompts), tmp_path)
    assert result.removed == [] and len(result.kept) == len(prompts)
    assert result.stats["pairs"] == 0 and result.stats["rows_without_text"] == len(BLANK_TEXTS)


@pytest.mark.slow
def test_blank_prompts_are_not_duplicates_but_identical_ones_are(tmp_path):
    prompts = BLANK_TEXTS + ["Explain photosynthesis in simple words.", "Explain photosynthesis in simple words.",
                             "😀😀😀", "Write a haiku about autumn leaves."]
    rows = _prompt_rows(prompts)
    result = _run(SemanticDedup(SemanticDedupConfig(enabled=True, threshold=0.95)), rows, tmp_path)
    assert [(r.row["id"], r.duplicate_of) for r in result.removed] == [("r5", "r4")]
    assert len(result.kept) + len(result.removed) == len(rows)
    assert result.stats["rows_without_text"] == len(BLANK_TEXTS)


@pytest.mark.slow
def test_long_texts_are_truncated_the_same_way_every_time(tmp_path):
    """all-MiniLM-L6-v2 reads 256 tokens: two 200 KB prompts that differ only at the end are one text to it,
    every run, in any order (documented in the module)."""
    story = "The quick brown fox jumps over the lazy dog near the riverbank while children play happily. " * 2200
    rows = _prompt_rows([story + "End one.", story + "End two.", "Write a haiku about autumn leaves."])
    step = SemanticDedup(SemanticDedupConfig(enabled=True, threshold=0.95))
    first = _run(step, rows, tmp_path / "a")
    second = _run(step, list(reversed(rows)), tmp_path / "b")
    assert [(r.row["id"], r.duplicate_of, r.details["similarity"]) for r in first.removed] == [("r1", "r0", 1.0)]
    assert [(r.row["id"], r.duplicate_of) for r in second.removed] == [("r1", "r0")]
