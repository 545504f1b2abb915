"""Prompts that ask for an answer in another language: translation requests and "answer in X".

A prompt in one language with an answer in another is usually a broken row (a model that switched
language, a mistranslated dataset), except when the prompt asks for it. The patterns below cover the
verbs and nouns of translation in the languages chat data comes in most, plus "(answer|write|...) in
<language>" in English, and run as one RE2 regex over a whole Arrow array.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# verbs and nouns of translating, by language (stems: the regex matches them as word prefixes)
TRANSLATE_WORDS = {
    "en": ["translat", "how do you say", "how would you say", "what is the .{1,40} word for", "in other languages"],
    "de": ["übersetz", "Übersetz", "wie sagt man"],
    "fr": ["tradui", "traduction", "comment dit-on", "comment dire"],
    "es": ["traduc", "tradúc", "cómo se dice", "como se dice"],
    "it": ["tradu", "come si dice"],
    "pt": ["traduz", "tradução", "traducao", "como se diz"],
    "nl": ["vertaal", "vertal", "hoe zeg je"],
    "sv": ["översätt", "översättning"],
    "da": ["oversæt"],
    "no": ["oversett"],
    "pl": ["przetłumacz", "tłumacz", "przekład"],
    "cs": ["přelož", "překlad"],
    "ru": ["перевед", "перевод", "переве"],
    "uk": ["переклад"],
    "tr": ["çevir", "tercüme"],
    "el": ["μετάφρα"],
    "ar": ["ترجم"],
    "he": ["תרגם", "תרגום"],
    "hi": ["अनुवाद"],
    "zh": ["翻译", "翻譯", "译成", "譯成"],
    "ja": ["翻訳", "訳して", "訳す"],
    "ko": ["번역"],
    "id": ["terjemah"],
    "vi": ["dịch"],
}

LANGUAGE_NAMES = [
    "English", "French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Swedish", "Danish", "Norwegian",
    "Finnish", "Polish", "Czech", "Slovak", "Hungarian", "Romanian", "Bulgarian", "Greek", "Russian", "Ukrainian",
    "Turkish", "Arabic", "Hebrew", "Persian", "Hindi", "Bengali", "Urdu", "Chinese", "Mandarin", "Cantonese",
    "Japanese", "Korean", "Vietnamese", "Thai", "Indonesian", "Malay", "Swahili", "Latin", "Esperanto", "Irish",
    "Catalan", "Basque", "Croatian", "Serbian",
]
# "answer in French", "write it in Spanish", "en français" ... : asking for the answer's language
_RESPOND_IN = (
    r"\b(?:answer|respond|reply|write|say|explain|rewrite|express|put|convert|render|speak|tell me)\b"
    r"[^.?!\n]{0,40}\b(?:in|into|to)\s+(?:" + "|".join(LANGUAGE_NAMES) + r")\b"
)
_OTHER = [
    r"\ben (?:français|anglais|allemand|espagnol|italien)\b",
    r"\bauf (?:Deutsch|Englisch|Französisch|Spanisch|Italienisch)\b",
    r"\b(?:en|al) (?:inglés|francés|alemán|español|italiano|portugués)\b",
    r"\bin (?:inglese|francese|tedesco|spagnolo|italiano)\b",
    r"\bem (?:inglês|francês|alemão|espanhol|português)\b",
    r"\bна (?:английск|русск|французск|немецк|испанск)",
    r"\bpo (?:angielsku|polsku|niemiecku|francusku|hiszpańsku)\b",
    r"用(?:英语|中文|日语|法语|德语|英文)",
]


def translation_pattern() -> str:
    words = [w for ws in TRANSLATE_WORDS.values() for w in ws]
    alternatives = ["(?:" + "|".join(words) + ")", _RESPOND_IN, *_OTHER]
    return "(?i)(?:" + "|".join(alternatives) + ")"


_PATTERN = translation_pattern()


def is_translation_request(prompts: pa.Array) -> pa.BooleanArray:
    """True where a prompt asks for a translation or for an answer in a named language (null prompt: False)."""
    return pc.fill_null(pc.match_substring_regex(prompts, _PATTERN), False)
