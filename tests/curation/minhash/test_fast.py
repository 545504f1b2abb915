"""The fast MinHash backend: bit-identical to datasketch, same pairs as the reference backend, the same
output for any number of threads / chunking / spilling, and recall/precision against brute force."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest
import xxhash
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.config import NearDedupConfig
from curation.minhash import clusters, find_near_duplicates
from curation.minhash import kernels
from curation.minhash.banding import lsh_params
from curation.minhash.exact import exact_pairs, recall_precision
from curation.minhash.shingles import (
    CONTEXT_LOWER,
    TOKEN_RE,
    lower_table,
    shingle_hash32,
    shingles,
    token_text,
    word_table,
)
from curation.minhash.signatures import minhash_signatures, permutations

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.corpus import FineTomeLike  # noqa: E402

TRICKY = [
    "",
    "   ",
    "!!! ??? ...",
    "a",
    "a b c d",
    "a b c d e",
    "a b c d e f",
    "Hello, World! HELLO world hello_world foo-bar 42 4.2",
    "ΣΑΣ ΟΔΟΣ Σ σ ς ΌΣΟΣ",  # final sigma depends on context
    "İstanbul İ KELVIN \u212a",  # lower() expands İ to i + combining dot
    "ﬁne ﬂow straße STRASSE Æsir",
    "数据模型 学习 中文, 日本語の文章 한국어 텍스트",
    "emoji 😀😀 in 👍🏽 text ❤️ ok",
    "digits ١٢٣ ² ½ Ⅻ ⑤ and under_score __init__",
    "tabs\tand\nnew\r\nlines\u00a0nbsp\u2028sep\u3000wide",
    "zero\x00byte and \ud800 lone surrogate \udfff here",
    "combining e\u0301 vs é, a\u0308 vs ä",
    "x" * 3000,
    " ".join(["w"] * 40),
]


def datasketch_signature(text: str, num_perm: int, seed: int, kind: str, ngram: int) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash32)
    m.update_batch(shingles(text, kind, ngram))
    return m.hashvalues


def random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = (
        "abcdefghijklmnopqrstuvwxyz" * 3 + "ABCDEFGHIJ" + "0123456789" + " " * 20 + ".,;:!?-_'\"()\n\t"
        + "éèüößÆİΣσςΩπ中文字日本한국😀🎉\u0301\u00a0١٢²½"
    )
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(n)]


def corpus(n: int, seed: int = 0, **kw) -> list[str]:
    return FineTomeLike(n, seed=seed, **kw).all_texts()


# --------------------------------------------------------------------------------------------- hashing


def test_xxh32_and_xxh64_kernels_match_xxhash():
    rng = random.Random(7)
    for length in list(range(0, 70)) + [100, 255, 256, 1000, 4099]:
        data = bytes(rng.getrandbits(8) for _ in range(length))
        arr = np.frombuffer(data, dtype=np.uint8)
        for seed in (0, 1, 2**31 + 5, 2**32 - 1):
            assert kernels.xxh32(arr, 0, length, np.uint64(seed)) == xxhash.xxh32_intdigest(data, seed)
        for seed in (0, 1, 2**63 + 11, 2**64 - 1):
            assert kernels.xxh64(arr, 0, length, np.uint64(seed)) == xxhash.xxh64_intdigest(data, seed)
    # slices in the middle of a buffer
    data = bytes(range(256)) * 4
    arr = np.frombuffer(data, dtype=np.uint8)
    for a, b in [(3, 3), (3, 4), (5, 40), (17, 1000)]:
        assert kernels.xxh32(arr, a, b, np.uint64(0)) == xxhash.xxh32_intdigest(data[a:b])
        assert kernels.xxh64(arr, a, b, np.uint64(0)) == xxhash.xxh64_intdigest(data[a:b])


def test_word_table_is_the_token_regex():
    table = word_table()
    assert table.shape == (0x110000,)
    rng = np.random.default_rng(0)
    points = np.concatenate([np.arange(0, 0x3000), rng.integers(0, 0x110000, 20_000)])
    for cp in points.tolist():
        assert bool(table[cp]) == bool(TOKEN_RE.fullmatch(chr(cp))), hex(cp)


def test_lower_table_is_str_lower_one_code_point_at_a_time():
    table = lower_table()
    # every code point of planes 0 and 1 (where all cased scripts are) and a sample of the others
    rest = np.random.default_rng(1).integers(0x20000, 0x110000, 20_000)
    for cp in list(range(0x20000)) + rest.tolist():
        ch = chr(cp)
        if ch in CONTEXT_LOWER:
            assert table[cp] == cp
            continue
        low = ch.lower()
        assert len(low) == 1 and table[cp] == ord(low), hex(cp)
        assert low.lower() == low  # lower-case text stays as it is (rows lowered by Python pass through)


def test_permutations_are_datasketchs():
    for num_perm, seed in [(16, 1), (128, 1), (128, 42), (256, 7)]:
        a, b = permutations(num_perm, seed)
        ref = MinHash(num_perm=num_perm, seed=seed).permutations
        assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])
        assert a.dtype == ref.dtype == np.uint32


# ------------------------------------------------------------------------------------ bit identity


@pytest.mark.parametrize("kind,ngram", [("word", 5), ("word", 1), ("word", 3), ("char", 5), ("char", 1), ("char", 9)])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42)])
def test_signatures_bit_identical_to_datasketch(kind, ngram, num_perm, seed):
    texts = TRICKY + random_texts(60, seed=ngram * 31 + num_perm)
    ours = minhash_signatures(texts, num_perm=num_perm, seed=seed, kind=kind, ngram=ngram)
    assert ours.dtype == np.uint32 and ours.shape == (len(texts), num_perm)
    for i, text in enumerate(texts):
        assert np.array_equal(ours[i], datasketch_signature(text, num_perm, seed, kind, ngram)), (kind, ngram, text[:80])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), min_size=1, max_size=6), st.sampled_from([("word", 5), ("word", 2), ("char", 4)]))
def test_signatures_bit_identical_on_arbitrary_unicode(texts, shingling):
    kind, ngram = shingling
    ours = minhash_signatures(texts, num_perm=32, seed=3, kind=kind, ngram=ngram)
    for i, text in enumerate(texts):
        assert np.array_equal(ours[i], datasketch_signature(text, 32, 3, kind, ngram))


def test_empty_text_has_the_empty_minhash():
    ours = minhash_signatures(["", " ?! ", "word"], num_perm=16, seed=1)
    empty = MinHash(num_perm=16, seed=1, hashfunc=shingle_hash32).hashvalues
    assert np.array_equal(ours[0], empty) and np.array_equal(ours[1], empty)
    assert not np.array_equal(ours[2], empty)
    assert token_text(" ?! ") == ""


# ------------------------------------------------------------------------- same pairs as the reference


@pytest.fixture(scope="module")
def small_corpus() -> list[str]:
    # short rows keep the datasketch reference quick; 20% planted copies
    texts = corpus(500, seed=3, dup_rate=0.2)
    return [t[:1500] for t in texts] + TRICKY


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"verify": False},
        {"shingle": "char", "ngram": 8},
        {"threshold": 0.5},
        {"bands": 8, "rows_per_band": 4, "num_perm": 64, "seed": 9},
    ],
)
def test_same_pairs_as_datasketch_backend(small_corpus, options):
    fast = find_near_duplicates(small_corpus, NearDedupConfig(backend="fast", **options))
    ref = find_near_duplicates(small_corpus, NearDedupConfig(backend="datasketch", **options))
    assert len(ref.pairs) > 20
    assert np.array_equal(fast.pairs, ref.pairs)
    assert np.array_equal(fast.jaccard, ref.jaccard)
    assert fast.candidates == ref.candidates
    assert fast.pairs.dtype == np.int64 and fast.pairs.shape[1] == 2
    assert (fast.pairs[:, 0] < fast.pairs[:, 1]).all()


def test_bulk_reference_finds_the_same_pairs(small_corpus):
    from curation.minhash.reference import find_near_duplicates as reference

    cfg = NearDedupConfig(backend="datasketch")
    loop, bulk = reference(small_corpus, cfg), reference(small_corpus, cfg, bulk=True)
    assert np.array_equal(loop.pairs, bulk.pairs) and loop.candidates == bulk.candidates


def test_default_backend_is_fast_and_band_choice_is_datasketchs():
    from datasketch.lsh import _optimal_param

    cfg = NearDedupConfig()
    assert cfg.backend == "fast"
    assert lsh_params(cfg.threshold, cfg.num_perm, None, None, tuple(cfg.lsh_weights)) == _optimal_param(
        cfg.threshold, cfg.num_perm, *cfg.lsh_weights
    )
    assert lsh_params(0.8, 128, None, None, (0.5, 0.5)) == _optimal_param(0.8, 128, 0.5, 0.5)
    assert lsh_params(0.7, 128, 10, 12) == (10, 12)


# ------------------------------------------------------------------ threads, chunks, spilling: same output


@pytest.fixture(scope="module")
def mid_corpus() -> list[str]:
    return corpus(3000, seed=5) + TRICKY


def _same(a, b):
    assert np.array_equal(a.pairs, b.pairs)
    assert np.array_equal(a.jaccard, b.jaccard)
    assert a.candidates == b.candidates
    assert a.stats == {**b.stats, "band_table_spilled": a.stats["band_table_spilled"]}


def test_threads_and_chunking_do_not_change_the_output(mid_corpus):
    one = find_near_duplicates(mid_corpus, NearDedupConfig(workers=1))
    assert len(one.pairs) > 50
    for workers, batch in [(2, 20_000), (2, 7), (3, 500), (0, 1)]:
        _same(find_near_duplicates(mid_corpus, NearDedupConfig(workers=workers, batch_size=batch)), one)


def test_spilled_band_table_gives_the_same_pairs(mid_corpus):
    in_memory = find_near_duplicates(mid_corpus, NearDedupConfig())
    spilled = find_near_duplicates(mid_corpus, NearDedupConfig(spill_bytes=1, batch_size=333))
    assert not in_memory.stats["band_table_spilled"]
    assert spilled.stats["band_table_spilled"]
    _same(spilled, in_memory)


def test_same_input_same_output_bytes(mid_corpus):
    a = find_near_duplicates(mid_corpus, NearDedupConfig())
    b = find_near_duplicates(list(mid_corpus), NearDedupConfig())
    assert a.pairs.tobytes() == b.pairs.tobytes() and a.jaccard.tobytes() == b.jaccard.tobytes()


# ---------------------------------------------------------------------------------------------- quality


def test_recall_and_precision_against_brute_force():
    texts = corpus(2500, seed=11)
    truth, sims = exact_pairs(texts, 0.8)
    assert len(truth) > 100
    assert ((sims >= 0.8) & (sims < 0.85)).sum() > 10  # pairs right at the threshold are in the test
    result = find_near_duplicates(texts, NearDedupConfig())
    recall, precision = recall_precision(result.pairs, truth)
    assert recall >= 0.95
    assert precision == 1.0
    # verified Jaccards are the true ones
    truth_sim = dict(zip(map(tuple, truth.tolist()), sims.tolist()))
    for pair, sim in zip(map(tuple, result.pairs.tolist()), result.jaccard.tolist()):
        assert sim == pytest.approx(truth_sim[pair], abs=1e-12)


def test_exact_pairs_brute_force_is_exact():
    texts = ["a b c d e f g", "a b c d e f h", "x y z", "a b c d e f g", ""]
    pairs, sims = exact_pairs(texts, 0.2, ngram=2)
    # bigrams: {ab,bc,cd,de,ef,fg} vs {ab,bc,cd,de,ef,fh}: 5/7
    assert pairs.tolist() == [[0, 1], [0, 3], [1, 3]]
    assert sims.tolist() == pytest.approx([5 / 7, 1.0, 5 / 7])


# ----------------------------------------------------------------------------------- buckets and edges


def test_giant_bucket_is_capped_but_stays_connected():
    texts = [f"the same short sentence about cats {'!' * (i % 7)}" for i in range(60)] + ["something else entirely here ok"]
    full = find_near_duplicates(texts, NearDedupConfig(bucket_cap=1000))
    assert len(full.pairs) == 60 * 59 // 2 and full.stats["capped_buckets"] == 0
    capped = find_near_duplicates(texts, NearDedupConfig(bucket_cap=10))
    assert capped.stats["capped_buckets"] > 0
    assert len(capped.pairs) < len(full.pairs)
    labels = clusters(len(texts), capped.pairs)
    assert (labels[:60] == 0).all() and labels[60] == 60
    assert np.array_equal(labels, clusters(len(texts), full.pairs))


def test_edge_inputs():
    empty = find_near_duplicates([], NearDedupConfig())
    assert empty.pairs.shape == (0, 2) and empty.candidates == 0
    blank = find_near_duplicates(["", "  ", "!!"], NearDedupConfig())
    assert blank.pairs.shape == (0, 2) and blank.stats["rows_without_shingles"] == 3
    short = find_near_duplicates(["Hi there", "hi, THERE!", "hi where"], NearDedupConfig())
    assert short.pairs.tolist() == [[0, 1]] and short.jaccard.tolist() == [1.0]


def test_a_text_that_is_not_a_string_is_named():
    with pytest.raises(TypeError, match="row 2 .*NoneType"):
        find_near_duplicates(["a b c", "d e f", None, "g"], NearDedupConfig())


def test_progress_gets_ranges_covering_every_row_and_pair(mid_corpus):
    calls = []

    def progress(items, total, description):
        seen = 0
        for item in items:
            assert isinstance(item, range)
            seen += len(item)
            yield item
        calls.append((description, total, seen))

    result = find_near_duplicates(mid_corpus, NearDedupConfig(batch_size=1000), progress=progress)
    assert [(t, s) for _, t, s in calls] == [(len(mid_corpus), len(mid_corpus)), (result.candidates, result.candidates)]


# --------------------------------------------------------------------------------------- the corpus


def test_generated_corpus_is_deterministic_and_finetome_shaped():
    from curation.text_keys import text_for

    gen = FineTomeLike(3000, seed=2)
    texts = gen.all_texts(block=700)
    assert texts == gen.texts(0, 3000)
    assert gen.texts(1234, 1240) == texts[1234:1240]
    rows = gen.rows(0, 50)
    assert [text_for(r, "conversation") for r in rows] == texts[:50]
    assert all(r["conversations"][0]["from"] == "human" and r["conversations"][-1]["from"] == "gpt" for r in rows)
    lengths = np.array([len(t) for t in texts])
    assert 1800 < lengths.mean() < 3000 and lengths.max() > 10_000
    assert len({r["source"] for r in gen.rows(0, 500)}) >= 5
    copies = gen.copied_from(np.arange(3000))
    assert 0.07 < (copies >= 0).mean() < 0.13
    assert (copies < np.arange(3000)).all()
