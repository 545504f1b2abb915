"""Eval items from every source, the n-gram index, and finding contaminated conversations."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.decontam.config import DecontamConfig
from curation.decontam.eval_sets import EvalSetError, load_eval_items
from curation.decontam.index import NgramIndex
from curation.decontam.rows import find

CONV = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
WORDS = ("apple river stone light quick brown fox jumps over lazy dog table chair window music garden "
         "winter summer ocean mountain paper pencil market train city bridge cloud forest").split()


def conv(prompt: str, answer: str = "Sure, here you go.") -> list[dict[str, str]]:
    return [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]


def filler(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_eval_items_from_seed_prompt_sets_and_files(tmp_path):
    (tmp_path / "qa.jsonl").write_text(
        json.dumps({"question": "What is the tallest mountain on Earth?"}) + "\n\n"
        + json.dumps({"conversations": [{"from": "human", "value": "Name a prime."}, {"from": "gpt", "value": "7"}]})
        + "\n" + json.dumps("A plain string item") + "\n", encoding="utf-8")
    pq.write_table(pa.table({"prompt": ["Parquet item one", "Parquet item two"]}), tmp_path / "set.parquet")
    (tmp_path / "lines.txt").write_text("first line item\n\nsecond line item\n", encoding="utf-8")
    (tmp_path / "mine.yaml").write_text("prompts:\n  - id: haiku\n    text: Write a haiku about the sea.\n")
    cfg = DecontamConfig(prompt_sets=["mine.yaml"], files=["qa.jsonl", "set.parquet", "lines.txt"])
    items = load_eval_items(cfg, base=tmp_path)
    assert [(i.set, i.id) for i in items] == [
        ("seed", "japan_trip"), ("seed", "photosynthesis"), ("seed", "island_energy"), ("mine", "mine:haiku"),
        ("qa", "qa:1"), ("qa", "qa:3"), ("qa", "qa:4"), ("set", "set:0"), ("set", "set:1"),
        ("lines", "lines:1"), ("lines", "lines:3"),
    ]
    assert items[5].text == "Name a prime." and items[9].text == "first line item"
    assert len(load_eval_items(DecontamConfig(seed_prompts=False))) == 0


def test_bad_eval_files_name_the_file(tmp_path):
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="bad.jsonl:1"):
        load_eval_items(DecontamConfig(files=["bad.jsonl"]), base=tmp_path)
    with pytest.raises(EvalSetError, match="not found"):
        load_eval_items(DecontamConfig(files=["missing.txt"]), base=tmp_path)
    (tmp_path / "odd.jsonl").write_text(json.dumps({"label": 3}) + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match="text_field"):
        load_eval_items(DecontamConfig(files=["odd.jsonl"]), base=tmp_path)


def test_planted_copies_inside_longer_prompts_are_all_found():
    """Recall 1.0 on eval prompts copied (case, punctuation and spacing changed) into longer prompts."""
    rng = random.Random(0)
    evals = [filler(rng, rng.randint(14, 60)) + f" item{i}" for i in range(300)]
    index = NgramIndex.build(evals)
    rows, planted = [], {}
    for r in range(2000):
        if r % 10 == 0:
            item = rng.randrange(len(evals))
            copy = evals[item].upper() if r % 20 == 0 else evals[item].replace(" ", ",  ")
            rows.append(conv(f"{filler(rng, 30)} {copy} {filler(rng, 30)}"))
            planted[r] = item
        else:
            rows.append(conv(f"Tell me about row {r} please", f"Answer {r}: " + filler(rng, 8)))
    hits = find(pa.array(rows, CONV), index, DecontamConfig(seed_prompts=False))
    assert dict(zip(hits.row.tolist(), hits.item.tolist())) == planted
    assert (hits.fraction == 1.0).all() and set(hits.fields) == {"prompt"}


@pytest.mark.parametrize("hide", ["zero-width space", "soft hyphen", "full-width", "nbsp entity", "accents", "word joiner"])
def test_copies_hidden_by_invisible_or_compatibility_characters_are_found(hide):
    """A copy of an item with a zero-width space or a soft hyphen inside each word, in full-width letters, spaced
    with `&nbsp;` or with an accent on every letter: each word was split in two or read as another, and none was
    found (rows and items are folded alike now: NFKD, no format character, no combining mark)."""
    rng = random.Random(1)
    evals = [filler(rng, 20) + f" item{i}" for i in range(50)]
    item = evals[7]
    mid = lambda text, ch: " ".join(w[: len(w) // 2] + ch + w[len(w) // 2:] for w in text.split(" "))  # noqa: E731
    copy = {"zero-width space": mid(item, "\u200b"), "soft hyphen": mid(item, "\u00ad"),
            "full-width": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in item),
            "nbsp entity": item.replace(" ", "&nbsp;"), "accents": "".join(c + "\u0301" if c.isalpha() else c for c in item),
            "word joiner": item.replace(" ", " \u2060")}[hide]
    rows = [conv(f"Tell me about row {r} please", f"Answer {r}: " + filler(rng, 8)) for r in range(20)]
    rows.append(conv(f"{filler(rng, 10)} {copy} {filler(rng, 10)}"))
    hits = find(pa.array(rows, CONV), NgramIndex.build(evals), DecontamConfig(seed_prompts=False))
    assert hits.row.tolist() == [20] and hits.item.tolist() == [7]


@pytest.mark.parametrize("script", ["cyrillic lower", "cyrillic upper", "greek", "every other word"])
def test_copies_with_cyrillic_or_greek_look_alike_letters_are_found(script):
    """A copy of an item with its Latin letters swapped for Cyrillic or Greek ones that look the same (а for a, о for
    o, Ρ for P...) was read as other words, and missed; rows and items are read with the look-alikes as Latin now.
    Text wholly in those scripts still matches itself."""
    from curation.decontam.index import LOOK_ALIKES

    rng = random.Random(2)
    evals = [filler(rng, 20) + f" item{i}" for i in range(50)]
    item = evals[7]
    lower = {latin: other for other, latin in LOOK_ALIKES.items() if other.islower() and "\u0400" <= other <= "\u04ff"}
    upper = {latin: other for other, latin in LOOK_ALIKES.items() if other.isupper() and "\u0400" <= other <= "\u04ff"}
    greek = {latin: other for other, latin in LOOK_ALIKES.items() if "\u0370" <= other <= "\u03ff"}
    swap = lambda text, table: "".join(table.get(c.lower(), c) for c in text)  # noqa: E731
    copy = {"cyrillic lower": swap(item, lower), "cyrillic upper": swap(item.upper(), upper),
            "greek": swap(item, greek),
            "every other word": " ".join(swap(w, lower) if k % 2 else w for k, w in enumerate(item.split(" ")))}[script]
    assert copy != item and copy.lower() != item.lower()
    rows = [conv(f"Tell me about row {r} please", f"Answer {r}: " + filler(rng, 8)) for r in range(20)]
    rows.append(conv(f"{filler(rng, 10)} {copy} {filler(rng, 10)}"))
    hits = find(pa.array(rows, CONV), NgramIndex.build(evals), DecontamConfig(seed_prompts=False))
    assert hits.row.tolist() == [20] and hits.item.tolist() == [7]
    russian = ["Сколько будет дважды два и почему это верно для любого основания системы счисления вообще"]
    hits = find(pa.array([conv("Вопрос: " + russian[0] + "?"), conv("Другой вопрос о погоде сегодня")], CONV),
                NgramIndex.build(russian, ngram=8), DecontamConfig(seed_prompts=False))
    assert hits.row.tolist() == [0]


def test_short_items_match_whole_and_shorter_ones_never():
    index = NgramIndex.build(["What is the boiling point of water at sea level", "too short item"], ngram=13)
    assert index.item_ngrams.tolist() == [1, 0]
    rows = [conv("so: what is the BOILING point of water at sea level?"), conv("what is the boiling point of water"),
            conv("a too short item here")]
    hits = find(pa.array(rows, CONV), index, DecontamConfig(seed_prompts=False))
    assert hits.row.tolist() == [0]


def test_threshold_min_matches_and_fields():
    seed = [i.text for i in load_eval_items(DecontamConfig())]
    index = NgramIndex.build(seed)
    japan = seed[0]
    half = " ".join(japan.split()[:16])  # 4 of the item's 18 13-grams
    rows = [conv("hello", japan), conv(half), conv("unrelated question about the weather today in the city")]
    col = pa.array(rows, CONV)
    any_hit = find(col, index, DecontamConfig())
    assert any_hit.row.tolist() == [0, 1] and any_hit.fields == ["answer", "prompt"]
    assert find(col, index, DecontamConfig(threshold=0.5)).row.tolist() == [0]
    assert find(col, index, DecontamConfig(min_matches=5)).row.tolist() == [0]
    assert find(col, index, DecontamConfig(fields=["prompt"])).row.tolist() == [1]
    details = json.loads(any_hit.details(0, load_eval_items(DecontamConfig())))
    assert details["eval_id"] == "japan_trip" and details["fraction"] == 1.0 and details["field"] == "answer"


def test_threads_and_slices_agree():
    rng = random.Random(1)
    evals = [filler(rng, 20) for _ in range(50)]
    index = NgramIndex.build(evals)
    rows = [conv(filler(rng, 10) + " " + (evals[i % 50] if i % 3 == 0 else filler(rng, 20))) for i in range(3000)]
    col = pa.array(rows, CONV)
    one = find(col, index, DecontamConfig(seed_prompts=False, workers=1))
    two = find(col, index, DecontamConfig(seed_prompts=False, workers=2))
    assert np.array_equal(one.row, two.row) and np.array_equal(one.item, two.item)
    part = find(col.slice(1000, 500), index, DecontamConfig(seed_prompts=False))
    assert np.array_equal(part.row + 1000, one.row[(one.row >= 1000) & (one.row < 1500)])


def test_a_long_turn_repeating_an_ngram_many_items_share_costs_its_distinct_hits(tmp_path):
    """Hostile eval files: empty and very short items, duplicates, control characters, emoji. A turn repeating
    an n-gram that many (duplicate) items hold made windows x items hits in the kernel (20k windows x 300 items:
    6M hits, minutes and gigabytes on a megabyte turn); each distinct n-gram of a text is one hit now."""
    from curation.decontam.index import match_words, word_hashes

    boiler = "answer the following question with one word only and explain nothing else at all"
    items = ["", "   ", "x", "two words", "\x00\x01 \u202e\U0001F600" * 5] + [boiler] * 300 + [boiler + " please"]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in items), encoding="utf-8")
    cfg = DecontamConfig(seed_prompts=False, files=[str(tmp_path / "eval.jsonl")], min_words=2)
    loaded = load_eval_items(cfg)
    index = NgramIndex.build([i.text for i in loaded], cfg.ngram, cfg.min_words)
    turn = " ".join([boiler] * 1500)  # 21k words, every 13-word window an n-gram of the boilerplate
    starts, sizes, values = word_hashes(pa.array([turn]))
    room = 2 * len(turn.split())  # room for every window once, not for every window once per item
    out_text, out_pos = np.empty(room, np.int64), np.empty(room, np.int64)
    used = match_words(starts, sizes, values, index.lengths, index.bitmap, index.mask, index.keys, out_text, out_pos)
    assert used == 2  # the boilerplate's two 13-word windows, each once
    assert sorted(index.copies[out_pos[:used]].tolist()) == [301, 301]  # ... held by 300 copies and the longer item
    hits = find(pa.array([conv("clean prompt about nothing"), conv(turn)], CONV), index, cfg)
    assert hits.row.tolist() == [1]
    best = loaded[int(hits.item[0])]
    assert best.text == boiler and best.id == "eval:6"  # the first of the duplicates, whole
    assert hits.fraction.tolist() == [1.0]


def test_no_fields_to_compare_is_a_config_error_that_says_how_to_turn_the_stage_off():
    """``fields: []`` compared nothing: the stage ran and reported no contamination, a check never made."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="no turns to compare.*enabled: false"):
        DecontamConfig(enabled=True, fields=[])
    assert DecontamConfig(fields=["system"]).fields == ["system"]
