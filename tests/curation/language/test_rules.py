"""Per-turn and per-row languages of conversations, the language filter and the mismatch rule."""

from __future__ import annotations

import json

import pyarrow as pa

from curation.language.config import LanguageConfig
from curation.language.detect import detect
from curation.language.rules import LANGUAGE, MISMATCH, verdicts
from curation.language.translation import is_translation_request

EN_Q = "Can you explain why the sky looks blue during the day and red at sunset?"
EN_A = ("Sunlight is scattered by the molecules of the air, and blue light is scattered much more than red "
        "light, so the sky looks blue. At sunset the light crosses more air and the blue is scattered away.")
FR_A = ("La lumière du soleil est diffusée par les molécules de l'air, et la lumière bleue est beaucoup plus "
        "diffusée que la lumière rouge, c'est pourquoi le ciel paraît bleu pendant la journée.")
DE_Q = "Kannst du mir erklären, warum der Himmel am Tag blau und beim Sonnenuntergang rot aussieht?"
DE_A = ("Das Sonnenlicht wird an den Molekülen der Luft gestreut, und blaues Licht wird viel stärker gestreut "
        "als rotes Licht, deshalb sieht der Himmel am Tag blau aus.")


def conv(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"from": role, "value": text} for role, text in turns]


ROWS = [
    conv(("human", EN_Q), ("gpt", EN_A)),  # 0 English
    conv(("human", DE_Q), ("gpt", DE_A)),  # 1 German
    conv(("human", EN_Q), ("gpt", FR_A)),  # 2 mismatch
    conv(("human", "Translate into French: " + EN_A), ("gpt", FR_A)),  # 3 translation request: no mismatch
    conv(("human", "Hi"), ("gpt", "Hello!")),  # 4 too short to judge
    conv(("system", "You are a helpful assistant."), ("human", EN_Q), ("gpt", "```python\nprint('hi')\n```\n" + EN_A)),
]


def column(rows=ROWS) -> pa.Array:
    return pa.array(rows, pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))


def test_languages_per_turn_row_prompt_and_answer():
    langs = detect(column())
    names = lambda a: langs.names(a).to_pylist()  # noqa: E731
    assert names(langs.row_class) == ["en", "de", "fr", "en", "und", "en"]  # row 2: the French answer is longer
    assert names(langs.prompt_class) == ["en", "de", "en", "en", "und", "en"]
    assert names(langs.answer_class) == ["en", "de", "fr", "fr", "und", "en"]
    turns = langs.turns_column().to_pylist()
    assert [t["language"] for t in turns[5]] == ["en", "en", "en"]
    assert turns[4][0] == {"language": "und", "confidence": 0.0}
    assert langs.row_conf[0] > 0.9 and langs.row_conf[4] == 0.0
    assert 0.5 < langs.row_conf[2] < 0.8 and 0.4 < langs.row_conf[3] < 0.7  # English and French in one row


def test_sliced_column_gives_the_rows_of_the_slice():
    full = detect(column())
    part = detect(column().slice(2, 3))
    assert list(part.row_class) == list(full.row_class[2:5])
    assert list(part.answer_class) == list(full.answer_class[2:5])


def test_language_filter_keeps_allowed_and_undetermined_rows():
    reasons, details = verdicts(detect(column()), column(), LanguageConfig(allowed=["en"], mismatch={"enabled": False}))
    assert reasons == [None, LANGUAGE, LANGUAGE, None, None, None]  # row 3: English at ~0.53
    assert json.loads(details[1])["language"] == "de" and json.loads(details[2])["language"] == "fr"
    strict = LanguageConfig(allowed=["en"], min_confidence=0.6, keep_undetermined=False, mismatch={"enabled": False})
    reasons, _ = verdicts(detect(column()), column(), strict)
    assert reasons == [None, LANGUAGE, LANGUAGE, None, LANGUAGE, None]  # 3: a translation request; 4: too short
    allowed_de = LanguageConfig(allowed=["de"])
    reasons, _ = verdicts(detect(column()), column(), allowed_de)
    assert reasons == [LANGUAGE, None, MISMATCH, LANGUAGE, None, LANGUAGE]  # a mismatch is named as such


def test_mismatch_flags_a_french_answer_to_an_english_prompt_but_not_a_translation():
    reasons, details = verdicts(detect(column()), column(), LanguageConfig())
    assert reasons == [None, None, MISMATCH, None, None, None]
    got = json.loads(details[2])
    assert (got["prompt_language"], got["answer_language"]) == ("en", "fr")
    assert got["prompt_confidence"] > 0.9 and got["answer_confidence"] > 0.9
    off = LanguageConfig(mismatch={"exempt_translation": False})
    assert verdicts(detect(column()), column(), off)[0][3] == MISMATCH


def test_translation_requests_in_several_languages():
    asks = [
        "Translate this sentence into French: I love cats.",
        "Übersetze den folgenden Text ins Englische.",
        "Traduis ce texte en anglais, s'il te plaît.",
        "Tradúceme esto al inglés.",
        "Traduci questa frase in inglese.",
        "Переведи на английский: привет, как дела?",
        "Przetłumacz to zdanie na angielski.",
        "Kun je de volgende tekst naar het Engels vertalen?",
        "请把这句话翻译成英文。",
        "この文を英語に翻訳してください。",
        "이 문장을 영어로 번역해 주세요.",
        "Answer in Spanish: what is the boiling point of water?",
        "How do you say thank you in Japanese?",
    ]
    plain = ["What is the capital of France?", "Explain photosynthesis to a child.", "Erkläre mir die Photosynthese."]
    got = is_translation_request(pa.array(asks + plain + [None])).to_pylist()
    assert got == [True] * len(asks) + [False] * len(plain) + [False]
