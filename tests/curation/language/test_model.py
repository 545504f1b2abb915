"""The compiled language ID kernel gives py3langid's answers, and is accurate on real sentences."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curation.language import model as lid

SENTENCES = {
    "en": "The committee will meet again next week to discuss the budget for the new library.",
    "de": "Der Ausschuss wird sich nächste Woche erneut treffen, um das Budget für die neue Bibliothek zu besprechen.",
    "fr": "Le comité se réunira de nouveau la semaine prochaine pour discuter du budget de la nouvelle bibliothèque.",
    "es": "El comité se reunirá de nuevo la próxima semana para discutir el presupuesto de la nueva biblioteca.",
    "it": "Il comitato si riunirà di nuovo la prossima settimana per discutere il bilancio della nuova biblioteca.",
    "pt": "O comitê se reunirá novamente na próxima semana para discutir o orçamento da nova biblioteca.",
    "nl": "De commissie komt volgende week opnieuw bijeen om de begroting voor de nieuwe bibliotheek te bespreken.",
    "pl": "Komisja spotka się ponownie w przyszłym tygodniu, aby omówić budżet nowej biblioteki.",
    "ru": "Комитет снова соберётся на следующей неделе, чтобы обсудить бюджет новой библиотеки.",
    "zh": "委员会将于下周再次开会，讨论新图书馆的预算问题。",
    "ja": "委員会は来週再び会合を開き、新しい図書館の予算について話し合います。",
    "ar": "ستجتمع اللجنة مرة أخرى الأسبوع المقبل لمناقشة ميزانية المكتبة الجديدة.",
}


def test_labels_and_confidence_match_py3langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ref = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    texts = list(SENTENCES.values()) + ["THIS IS ALL UPPER CASE ENGLISH TEXT, SHOUTED.", "1 2 3 4 5 6 7", "ok"]
    classes, conf = lid.classify(pa.array(texts))
    model = lid.load_model()
    for text, c, p in zip(texts[:-1], classes, conf):
        want, want_p = ref.classify(text)
        assert model.classes[c] == want, text
        assert p == pytest.approx(want_p, abs=1e-4), text
    # a text without one model feature: py3langid answers its first class at 1/classes; we say "und"
    assert ref.classify("ok")[1] < 0.02
    assert model.classes[classes[-1]] == lid.UNDETERMINED and conf[-1] == 0.0


def test_each_sentence_gets_its_language():
    classes, conf = lid.classify(pa.array(list(SENTENCES.values())))
    names = [lid.load_model().classes[c] for c in classes]
    assert names == list(SENTENCES)
    assert (conf > 0.5).all()


def test_threads_sliced_arrays_and_empty_text_agree():
    texts = pa.array(list(SENTENCES.values()) * 30 + ["", None])
    one, p1 = lid.classify(texts, workers=1)
    two, p2 = lid.classify(texts, workers=2)
    assert (one == two).all() and np.allclose(p1, p2)
    model = lid.load_model()
    assert model.classes[one[-1]] == lid.UNDETERMINED and p1[-1] == 0.0  # null
    assert model.classes[one[-2]] == lid.UNDETERMINED  # empty string
    sliced, _ = lid.classify(texts.slice(3, 5))
    assert (sliced == one[3:8]).all()


def test_max_bytes_reads_only_the_start():
    text = SENTENCES["de"] + " " + " ".join([SENTENCES["en"]] * 20)
    full, _ = lid.classify(pa.array([text]))
    start, _ = lid.classify(pa.array([text]), max_bytes=100)
    names = lid.load_model().classes
    assert names[full[0]] == "en" and names[start[0]] == "de"


@pytest.mark.slow  # several seconds: the slow lane
def test_accuracy_on_debian_fortunes():
    """Real sentences of 50+ characters in 8+ languages (Debian's fortune packages, installed by install.sh)."""
    from benchmarks.fortunes import labelled

    data = labelled(60, langs=("en", "de", "es", "it", "ru", "pl", "pt", "cs", "bg"))
    langs = {lang for _, lang in data}
    if len(langs) < 8:
        pytest.skip("Debian fortune packages not installed (scripts/install.sh installs them as root)")
    classes, _ = lid.classify(pa.array([t for t, _ in data]))
    names = lid.load_model().classes
    accuracy = np.mean([names[c] == lang for c, (_, lang) in zip(classes, data)])
    assert accuracy >= 0.97
