"""Augmentation on real rows: offline methods change text, the guard rejects bad edits, provenance, determinism."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from curation.augment.budget import BudgetError, plan
from curation.augment.config import AugmentConfig, BudgetConfig, ContextualConfig, GuardConfig
from curation.augment.guard import judge
from curation.augment.methods import ApertiumBackTranslator, BackTranslationMethod, ContextualMethod, SynonymMethod, seed_for
from curation.augment.stage import Augment
from curation.augment.text import LayoutTokenizer, split_pieces, word_jaccard
from curation.augment.wordnet import DEBIAN_WORDNET, LEXNAMES, load_wordnet
from curation.balance import BalanceConfig
from curation.config import CurationConfig
from curation.engines.inmemory import run_stage


@pytest.fixture(scope="module")
def rows(alpaca_path):
    with alpaca_path.open(encoding="utf-8") as fh:
        real = [json.loads(line) for line in fh]
    for i, row in enumerate(real):
        row["id"] = f"a{i:04d}"
    return real


def prompts(rows, n, start=0):
    return [r["conversations"][0]["value"].strip() for r in rows[start : start + n]]


def _run(stage, rows, tmp_path: Path, **stages):
    return run_stage(stage, rows, config=CurationConfig.model_validate({"stages": stages}), cache_dir=tmp_path)


# ------------------------------------------------------------------------------------------- offline data


@pytest.mark.skipif(not DEBIAN_WORDNET.is_dir(), reason="Debian wordnet-base not installed")
def test_lexnames_match_the_wordnet_man_page():
    page = Path("/usr/share/man/man5/lexnames.5WN.gz")
    if not page.exists():
        pytest.skip("lexnames(5WN) man page not installed")
    text = gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")
    listed = re.findall(r"^(\d\d)\t(\S+)\s", text, flags=re.M)
    assert len(listed) == 45
    assert [(n, name) for n, name, _ in (line.split("\t") for line in LEXNAMES.splitlines())] == listed


@pytest.mark.slow  # (about 3.5 s)
@pytest.mark.skipif(not DEBIAN_WORDNET.is_dir(), reason="Debian wordnet-base not installed")
def test_wordnet_reads_debian_files_without_download():
    wn = load_wordnet()
    assert "automobile" in {l.name() for s in wn.synsets("car", pos="n") for l in s.lemmas()}
    assert wn.synset("dog.n.01").lexname() == "noun.animal"


@pytest.mark.slow
def test_missing_wordnet_folder_is_a_clear_skip(tmp_path):
    cfg = AugmentConfig().methods.synonym.model_copy(update={"wordnet_dir": str(tmp_path)})
    message = SynonymMethod(cfg).unavailable()
    assert message is not None and message.startswith("synonym: wordnet_dir") and "index.noun" in message


# ------------------------------------------------------------------------------------------- text handling


def test_layout_tokenizer_round_trips_whitespace():
    tok = LayoutTokenizer()
    text = "Side 1 = 4\nSide 2 = 6\n\n  Don't  flatten   this,  please."
    tokens = tok.tokenize(text)
    assert "Don't" in tokens
    assert tok.detokenize(tokens) == text
    swapped = ["Edge" if t == "Side" else t for t in tokens]
    assert tok.detokenize(swapped) == text.replace("Side", "Edge")


def test_code_and_urls_are_protected():
    text = "Fix this code:\n```python\nfor i in range(3): print(i)\n```\nSee `len(x)` and https://example.org/a."
    pieces = split_pieces(text)
    assert "".join(p.text for p in pieces) == text
    protected = [p.text for p in pieces if not p.prose]
    assert protected[0].startswith("```python") and "`len(x)`" in protected and "https://example.org/a." in protected


# ------------------------------------------------------------------------------------------- methods


@pytest.mark.slow  # (4-9 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_synonym_changes_real_prompts_offline(rows):
    texts = prompts(rows, 30)
    out = SynonymMethod(AugmentConfig().methods.synonym).augment(texts, [seed_for(0, i) for i in range(30)])
    changed = [o for t, o in zip(texts, out) if o and o != t]
    assert len(changed) >= 20
    # layout is kept: multi-line prompts stay multi-line, numbers are never replaced
    for t, o in zip(texts, out):
        assert o.count("\n") == t.count("\n")
        assert re.findall(r"\d+", o) == re.findall(r"\d+", t)


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_synonym_is_deterministic_per_seed(rows):
    texts = prompts(rows, 15, start=100)
    method = SynonymMethod(AugmentConfig().methods.synonym)
    seeds = [seed_for(7, i) for i in range(15)]
    assert method.augment(texts, seeds) == method.augment(texts, seeds)
    other = method.augment(texts, [seed_for(8, i) for i in range(15)])
    assert other != method.augment(texts, seeds)


def test_apertium_back_translation_changes_text_and_keeps_rows_apart(rows):
    tr = ApertiumBackTranslator()
    if tr.unavailable():
        pytest.skip(tr.unavailable())
    tr.texts_per_call = 60  # several calls in parallel, as on a big input
    texts = [t["value"] for r in rows[:150] for t in r["conversations"] if t["from"] == "human"]
    out = tr.translate(texts)
    assert len(out) == len(texts) and all(o is not None for o in out)
    changed = sum(o != t for o, t in zip(out, texts))
    assert changed >= 0.7 * len(texts)
    # each output belongs to its own input: its words overlap it far more than its neighbour's
    for i, (o, t) in enumerate(zip(out, texts)):
        neighbour = texts[(i + 1) % len(texts)]
        assert word_jaccard(o, t) > word_jaccard(o, neighbour), (t, o)
        assert o.count("\n") == t.count("\n")


def test_apertium_survives_markup_and_entities():
    tr = ApertiumBackTranslator()
    if tr.unavailable():
        pytest.skip(tr.unavailable())
    texts = ["Explain what <div> & </p> mean in HTML.", "Is 3 < 5 & 7 > 2?\nAnswer yes or no.", "Thank you!"]
    out = tr.translate(texts)
    assert "<div>" in out[0] and "</p>" in out[0] and "&" in out[0]
    assert "3 < 5" in out[1] and "\n" in out[1]


@pytest.mark.slow  # (about 4.5 s: the fast lane stays under 3 minutes)
def test_contextual_skips_with_a_clear_message_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    method = ContextualMethod(ContextualConfig(enabled=True, model="distilbert-base-uncased"))
    message = method.unavailable()
    assert message is not None
    assert message.startswith("contextual: masked-LM model 'distilbert-base-uncased' could not be loaded")
    assert "method skipped" in message and "local model folder" in message


@pytest.mark.slow  # (~5 s: loads the translation stack)
def test_marian_skips_with_a_clear_message_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = AugmentConfig().methods.back_translation.model_copy(update={"backend": "marian"})
    message = BackTranslationMethod(cfg).unavailable()
    assert message is not None and "Helsinki-NLP/opus-mt-en-de" in message and "method skipped" in message


# ------------------------------------------------------------------------------------------- guard


@pytest.mark.slow  # (2-8 s: loads the guard's embedding model)
def test_guard_rejects_noop_and_meaning_destroying_edit(rows):
    texts = prompts(rows, 4)
    destroyed = "Sing a lullaby about penguins on the moon."  # the words of another task entirely
    small = texts[3] + " Please."
    good = "Explain the steps for making crepes."
    verdicts = judge(
        [texts[0], texts[1], texts[2], "Describe a process of making crepes.", texts[3]],
        [texts[0], destroyed, None, good, small],
        GuardConfig(max_jaccard=0.9, min_cosine=0.8),
    )
    assert [v.reason for v in verdicts] == ["unchanged", "meaning_changed", "failed", None, "too_similar"]
    assert verdicts[1].cosine < 0.8 <= verdicts[3].cosine


# ------------------------------------------------------------------------------------------- budget


def test_budget_fraction_spreads_methods_and_never_repeats():
    rows = [{"id": f"r{i}", "source": "s"} for i in range(10)]
    slots, info = plan(rows, ["synonym", "back_translation"], BudgetConfig(fraction=1.5), seed=0)
    assert info["candidates"] == 15 and len(slots) == 15
    assert len(set(slots)) == 15
    assert {m for _, m in slots} == {"synonym", "back_translation"}
    capped, _ = plan(rows, ["synonym"], BudgetConfig(fraction=3.0), seed=0)
    assert len(capped) == 10  # at most one candidate per origin and method


def test_budget_per_source_lifts_thin_sources_toward_the_cap():
    rows = [{"id": f"big{i}", "source": "big"} for i in range(20)] + [{"id": f"thin{i}", "source": "thin"} for i in range(4)]
    slots, info = plan(rows, ["synonym", "back_translation"], BudgetConfig(mode="per_source"), seed=1,
                       balance=BalanceConfig(max_per_source=9))
    assert info["per_source"]["big"]["candidates"] == 0
    assert info["per_source"]["thin"] == {"rows": 4, "target": 9, "requested": 5, "candidates": 5}
    assert all(rows[i]["source"] == "thin" for i, _ in slots)
    for balance in (None, BalanceConfig(), BalanceConfig(enabled=False, max_per_source=9)):  # no cap in force
        with pytest.raises(BudgetError, match="target_per_source"):
            plan(rows, ["synonym"], BudgetConfig(mode="per_source"), seed=0, balance=balance)


def test_budget_per_source_lifts_no_source_past_its_own_balance_cap():
    """A source with its own cap (balance per_source) was lifted to max_per_source: capped at 5 by balance,
    it ended with 10 rows, aiming for 30."""
    rows = ([{"id": f"big{i}", "source": "big"} for i in range(40)] + [{"id": f"c{i}", "source": "capped"} for i in range(5)]
            + [{"id": f"t{i}", "source": "thin"} for i in range(3)] + [{"id": f"l{i}", "source": "low"} for i in range(3)])
    balance = BalanceConfig(max_per_source=30, per_source={"capped": 5, "low ": 4})
    methods = ["synonym", "back_translation"]
    _, info = plan(rows, methods, BudgetConfig(mode="per_source"), seed=0, balance=balance)
    assert info["per_source"]["capped"] == {"rows": 5, "target": 5, "requested": 0, "candidates": 0}
    assert info["per_source"]["low"] == {"rows": 3, "target": 4, "requested": 1, "candidates": 1}
    assert info["per_source"]["thin"]["requested"] == 27
    # a target of its own lifts a source toward it, never past the source's cap
    slots, info = plan(rows, methods, BudgetConfig(mode="per_source", target_per_source=6), seed=0, balance=balance)
    assert {k: v["requested"] for k, v in info["per_source"].items()} == {"big": 0, "capped": 0, "low": 1, "thin": 3}
    assert len(slots) == info["candidates"] == 4


def test_budget_per_source_tells_sources_apart_as_balance_does():
    """Null and "" were one source and "alpaca " another than "alpaca", where balance counts and caps null, ""
    and "(none)" as one source and "alpaca " as "alpaca"."""
    from collections import Counter

    from curation.balance import source_key

    names = [None, "", "(none)", " ", "alpaca", "alpaca ", "alpaca\u200b", "\u00c5", "A\u030a", "other"]
    rows = [{"id": f"r{i}", "source": names[i % len(names)]} for i in range(40)]
    _, info = plan(rows, ["synonym"], BudgetConfig(mode="per_source"), seed=0, balance=BalanceConfig(max_per_source=20))
    expect = Counter(source_key(r["source"]) for r in rows)
    assert {k: v["rows"] for k, v in info["per_source"].items()} == dict(sorted(expect.items()))
    assert info["per_source"]["(none)"]["rows"] == 16 and info["per_source"]["alpaca"]["rows"] == 12


def test_stage_budget_uses_the_balance_stages_caps(rows, tmp_path):
    sample = [dict(r, source="capped" if i < 5 else "thin") for i, r in enumerate(rows[:7])]
    cfg = AugmentConfig(enabled=True, budget=BudgetConfig(mode="per_source"), methods={"synonym": {"enabled": False}})
    result = _run(Augment(cfg), sample, tmp_path, balance={"max_per_source": 8, "per_source": {"capped": 5}})
    per_source = result.stats["budget"]["per_source"]
    assert per_source["capped"]["requested"] == 0 and per_source["thin"]["requested"] == 6
    assert {r["origin_id"] for r in result.added} <= {r["id"] for r in sample[5:]}


# ------------------------------------------------------------------------------------------- the stage


@pytest.fixture(scope="module")
def stage_run(rows, tmp_path_factory):
    cfg = AugmentConfig(enabled=True, budget=BudgetConfig(fraction=1.0))
    sample = rows[:40]
    first = _run(Augment(cfg), sample, tmp_path_factory.mktemp("aug1"))
    second = _run(Augment(cfg), sample, tmp_path_factory.mktemp("aug2"))
    return sample, first, second


@pytest.mark.slow  # (these four share a fixture of 2-7 s: the stage on the sample, twice)
def test_stage_keeps_every_input_row_unchanged(stage_run):
    sample, first, _ = stage_run
    # the rows come back with every column of a row in flight; the ones they had are unchanged
    assert [{k: r[k] for k in s} for r, s in zip(first.kept, sample)] == sample
    assert len(first.kept) == len(sample)
    assert not first.removed


@pytest.mark.slow  # (the stage_run fixture)
def test_stage_adds_rows_with_provenance(stage_run):
    sample, first, _ = stage_run
    by_id = {r["id"]: r for r in sample}
    assert first.added, first.stats
    for row in first.added:
        origin = by_id[row["origin_id"]]
        info = json.loads(row["augmentation"])
        assert row["id"] == f"{origin['id']}-aug-{info['method']}"
        assert info["method"] in {"synonym", "back_translation"} and info["params"]["seed"] == 0
        assert row["augmentation"] == json.dumps(info, sort_keys=True)
        assert row["original_conversations"] is None
        assert row["cluster_id"] == origin.get("cluster_id")
        assert row["source"] == origin["source"]
        # human turns changed, answers exactly as written
        assert [t["from"] for t in row["conversations"]] == [t["from"] for t in origin["conversations"]]
        for new, old in zip(row["conversations"], origin["conversations"]):
            if old["from"] == "gpt":
                assert new["value"] == old["value"]
        assert row["conversations"][0]["value"] != origin["conversations"][0]["value"]


@pytest.mark.slow  # (the stage_run fixture)
def test_stage_stats_count_every_candidate(stage_run):
    _, first, _ = stage_run
    stats = first.stats
    assert stats["candidates"] == 40
    assert stats["augmented"] + sum(stats["rejected"].values()) == stats["candidates"]
    for name in ("synonym", "back_translation"):
        m = stats["methods"][name]
        assert m["augmented"] + sum(m["rejected"].values()) == m["candidates"] == 20
        assert m["rows_per_s"] > 0
    assert stats["skipped_methods"] == {}


@pytest.mark.slow  # (the stage_run fixture)
def test_two_runs_give_identical_bytes(stage_run):
    _, first, second = stage_run
    dump = lambda res: json.dumps(res.added, sort_keys=True, ensure_ascii=False).encode()  # noqa: E731
    assert dump(first) == dump(second)
    strip = lambda s: {k: v for k, v in s.items() if k not in ("seconds", "rows_per_s", "methods")}  # noqa: E731
    assert strip(first.stats) == strip(second.stats)


@pytest.mark.slow  # (several seconds: the fast lane stays under 3 minutes)
def test_turns_all_rewrites_answers_too(rows, tmp_path):
    cfg = AugmentConfig(
        enabled=True, turns="all", budget=BudgetConfig(fraction=1.0), guard=GuardConfig(min_cosine=0.5)
    )
    cfg.methods.synonym.enabled = False
    sample = rows[200:206]
    result = _run(Augment(cfg), sample, tmp_path)
    assert result.added
    origin = {r["id"]: r for r in sample}
    assert any(
        row["conversations"][1]["value"] != origin[row["origin_id"]]["conversations"][1]["value"] for row in result.added
    )


def test_disabled_by_default_and_strict():
    assert AugmentConfig().enabled is False and AugmentConfig().train_only is True
    with pytest.raises(ValueError):
        AugmentConfig.model_validate({"enabled": True, "no_such_key": 1})
