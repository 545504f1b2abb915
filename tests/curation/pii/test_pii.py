"""PII detection per type (with near misses), redaction of conversation columns, and drop verdicts."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pytest

from benchmarks.pii_corpus import TYPES, labelled
from curation.pii.config import PiiConfig
from curation.pii.detect import Scanner, scan_conversations
from curation.pii.rules import verdicts
from curation.pii.validators import card_ok, iban_ok, luhn_ok

CONV = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def test_precision_and_recall_per_type_on_the_labelled_set_with_near_misses():
    scanner = Scanner(PiiConfig())
    tp, fp, fn = Counter(), Counter(), Counter()
    for text, labels in labelled(40, seed=7):
        found = [(s.start, s.end, s.type) for s in scanner.spans(text)]
        for a, b, t in found:
            (tp if any(t == lt and a < lb and la < b for la, lb, lt in labels) else fp)[t] += 1
        for la, lb, lt in labels:
            if not any(t == lt and a < lb and la < b for a, b, t in found):
                fn[lt] += 1
    for t in TYPES:
        assert tp[t] / max(1, tp[t] + fp[t]) >= 0.95, (t, fp[t])
        assert tp[t] / max(1, tp[t] + fn[t]) >= 0.95, (t, fn[t])


@pytest.mark.parametrize("text,kind", [
    ("AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
    ("ghp_" + "a1B2" * 9, "github_token"),
    ("sk-proj-" + "Ab3_" * 12, "openai_key"),
    ("xoxb-123456789012-123456789012-abcdefghijklmnopqrstuvwx", "slack_token"),
    ("AIza" + "A" * 35, "google_api_key"),
    ("sk_live_" + "a1B2c3D4" * 3, "stripe_key"),
    ("hf_" + "abcdefghij" * 3 + "abcd", "huggingface_token"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----", "private_key"),
])
def test_provider_secrets(text, kind):
    spans = Scanner(PiiConfig()).spans(f"my key is {text} ok")
    assert [(s.type, s.name) for s in spans] == [("secret", kind)]
    assert spans[0].end - spans[0].start == len(text)


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_ok("4111 1111 1111 1111") and not card_ok("411-1111111-1111111")  # not a card grouping
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE88 3704 0044 0532 0130 00")


def test_url_password_is_redacted_and_user_only_url_is_not():
    scanner = Scanner(PiiConfig())
    text = "db: postgres://admin:hunter2@db.example.com:5432/app, code: https://alice@github.com/org/repo.git"
    assert scanner.redact(text, scanner.spans(text)) == (
        "db: postgres://<SECRET>@db.example.com:5432/app, code: https://alice@github.com/org/repo.git")


def test_redacting_a_conversation_column_keeps_its_shape():
    rows = [
        [{"from": "human", "value": "Email me at jane.roe@example.com"}, {"from": "gpt", "value": "Sure, jane."}],
        None,
        [{"from": "human", "value": "no pii here"}, {"from": "gpt", "value": "Card: 4111 1111 1111 1111, v1.2.3.4"}],
    ]
    col = pa.array(rows, CONV)
    out = scan_conversations(col, Scanner(PiiConfig()))
    assert out.conversations.type == CONV
    assert out.conversations.to_pylist() == [
        [{"from": "human", "value": "Email me at <EMAIL>"}, {"from": "gpt", "value": "Sure, jane."}],
        None,
        [{"from": "human", "value": "no pii here"}, {"from": "gpt", "value": "Card: <CREDIT_CARD>, v1.2.3.4"}],
    ]
    assert out.row_types == [Counter(email=1), Counter(), Counter(credit_card=1)]
    sliced = scan_conversations(col.slice(2, 1), Scanner(PiiConfig()))
    assert sliced.conversations.to_pylist() == out.conversations.to_pylist()[2:]


def test_keep_action_skips_a_type_and_drop_names_the_reason():
    cfg = PiiConfig(actions={"email": "keep", "credit_card": "drop"}, placeholder="[{TYPE}]")
    rows = [[{"from": "human", "value": "mail jane@example.com, card 4111111111111111, ip 10.0.0.1"}]]
    out = scan_conversations(pa.array(rows, CONV), Scanner(cfg))
    assert out.conversations.to_pylist()[0][0]["value"] == "mail jane@example.com, card [CREDIT_CARD], ip [IP_ADDRESS]"
    reasons, details = verdicts(out.row_types, cfg)
    assert reasons == ["pii:credit_card"]
    assert json.loads(details[0]) == {"found": {"credit_card": 1, "ip_address": 1}}
    assert "4111" not in details[0]


@pytest.mark.slow
def test_person_names_through_presidio():
    from curation.pii.names import NameFinder

    cfg = PiiConfig(actions={"person": "redact"})
    rows = [[{"from": "human", "value": "Write a letter from John Smith to Maria Garcia."}]]
    out = scan_conversations(pa.array(rows, CONV), Scanner(cfg), NameFinder(cfg))
    assert out.conversations.to_pylist()[0][0]["value"] == "Write a letter from <PERSON> to <PERSON>."


def test_a_spacy_model_not_installed_is_one_line_naming_the_setting_never_a_download(monkeypatch, tmp_path):
    pytest.importorskip("presidio_analyzer")
    import spacy.cli

    from curation.core.stage import StageError
    from curation.pii.names import NameFinder

    def download(*args, **kwargs):
        pytest.fail(f"a download was attempted: {args}")

    monkeypatch.setattr(spacy.cli, "download", download)
    rows = pa.array(["Write a letter from John Smith."])
    with pytest.raises(StageError, match=r"^stages\.pii\.spacy_model 'no_such_model' is not installed .*"
                                         r"pip install 'tomecraft\[pii-names\]'") as err:
        NameFinder(PiiConfig(actions={"person": "redact"}, spacy_model="no_such_model")).find(rows)
    assert "\n" not in str(err.value)
    with pytest.raises(StageError, match=r"^stages\.pii\.spacy_model '.*' does not load as a spaCy pipeline: "):
        NameFinder(PiiConfig(actions={"person": "redact"}, spacy_model=str(tmp_path))).find(rows)
