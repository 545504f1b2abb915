"""PII where a plain ASCII scan misses it: addresses in other alphabets, values that an original turn's layout or a
raw quarantine line's JSON escapes hide; config values libphonenumber would quietly ignore; many findings in one
text."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from curation.config import load_config
from curation.pii.config import PiiConfig
from curation.pii.detect import Scanner, _Disjoint, scan_texts
from curation.pii.stage import PiiStage, scrub_text
from curation.pii.validators import iban_ok
from curation.pipeline import run_curation

CONV = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))
ANSWER = "This is a perfectly ordinary answer that explains the idea in a few clear sentences."


def redacted(text: str, **cfg) -> str:
    scanner = Scanner(PiiConfig(**cfg))
    return scanner.redact(text, scanner.spans(text))


@pytest.mark.parametrize("text,want", [
    ("write to josé.garcía@example.com today", "write to <EMAIL> today"),
    ("Mr.Müller@firma.de", "<EMAIL>"),
    ("почта иван@пример.рф", "почта <EMAIL>"),
    ("cafe\u0301@example.com (decomposed accent)", "<EMAIL> (decomposed accent)"),
    ("请联系邮箱john@example.com谢谢", "请联系邮箱<EMAIL>谢谢"),  # CJK runs into the address with no space
    ("soft\u00adhyphen john\u00ad.doe@example.com", "soft\u00adhyphen <EMAIL>"),
    ("punycode test@xn--p1ai.xn--p1ai ok", "punycode <EMAIL> ok"),
    # the @ (and the dot) as a URL, an HTML page or a full-width font writes it: each was left as it was
    ("mailto:ann.url%40example.com?subject=x", "mailto:<EMAIL>?subject=x"),
    ("write bob.ent&#64;example.com or cy&#x40;example.org", "write <EMAIL> or <EMAIL>"),
    ("named: cy.named&commat;example.com.", "named: <EMAIL>."),
    ("full width eve.fw\uff20example\uff0ecom here", "full width <EMAIL> here"),
    ("\uff45\uff56\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "<EMAIL>"),
])
def test_addresses_beyond_ascii_are_redacted_whole(text, want):
    assert redacted(text) == want


@pytest.mark.parametrize("text", ["pip install pkg@1.2.3", "ssh user@localhost", "5@10.50 each", "a@b.c",
                                  "50%40 of them.", "a &commat; sign", "AT&T&#64;home"])
def test_near_misses_stay(text):
    assert redacted(text) == text


def test_phone_regions_are_read_in_any_case_and_an_unknown_one_is_a_config_error():
    assert PiiConfig(phone_regions=["us", " gb "]).phone_regions == ["US", "GB"]
    assert redacted("call 202-555-0143 now", phone_regions=["us"]) == "call <PHONE> now"
    for bad in ("usa", "XX", ""):
        with pytest.raises(ValidationError, match="is not a region libphonenumber knows"):
            PiiConfig(phone_regions=[bad])


def test_no_phone_region_is_a_config_error_not_phone_detection_quietly_narrowed():
    from tomecraft.config_files import ConfigError

    with pytest.raises(ConfigError, match=r"stages\.pii\.phone_regions: give at least one region \(e\.g\. \[US") as err:
        load_config(None, {"stages": {"pii": {"enabled": True, "phone_regions": []}}})
    assert "\n" not in str(err.value)


def test_overlaps_are_resolved_as_by_comparing_every_pair():
    rng = random.Random(3)
    taken, kept = _Disjoint(), []
    for _ in range(2000):
        a = rng.randrange(5000)
        b = a + rng.randrange(1, 30)
        brute = any(a < e and s < b for s, e in kept)
        assert taken.overlaps(a, b) == brute
        if not brute:
            taken.add(a, b)
            kept.append((a, b))


def test_a_table_of_thousands_of_values_is_all_redacted():
    rows = [f"user{i}@example.com, 10.0.{i % 250}.{i % 200}, DE00 {i:04d} 0000 0000 0000 00" for i in range(3000)]
    out = redacted("\n".join(rows))
    assert out.count("<EMAIL>") == 3000 and out.count("<IP_ADDRESS>") == 3000 and "@" not in out
    # an IBAN-shaped number is one where it passes mod 97, and is left alone (no phone inside it either) where not
    passing = sum(iban_ok(f"DE00 {i:04d} 0000 0000 0000 00") for i in range(3000))
    assert 0 < passing < 3000 and out.count("<IBAN>") == passing and "<PHONE>" not in out


def test_many_private_key_headers_without_an_end_are_no_key_and_a_key_with_headers_is():
    assert redacted("-----BEGIN RSA PRIVATE KEY-----\n" * 50) == "-----BEGIN RSA PRIVATE KEY-----\n" * 50
    key = ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,AB12\n\nMIIab-c+/=\n"
           "-----END RSA PRIVATE KEY-----")
    assert redacted(f"key: {key} done") == "key: <SECRET> done"


def stage_batch(turns: list[str], originals: list[str]) -> pa.RecordBatch:
    conv = [{"from": "human", "value": t} for t in turns] + [{"from": "gpt", "value": ANSWER}]
    orig = [{"from": "human", "value": t} for t in originals] + [{"from": "gpt", "value": ANSWER}]
    return pa.record_batch({"conversations": pa.array([conv], CONV), "original_conversations": pa.array([orig], CONV)})


def test_an_original_turn_whose_layout_hides_a_value_is_redacted_as_normalized():
    batch = stage_batch(["Call +1 202 555 0143 or pay to DE89 3704 0044 0532 0130 00", "Mail a@b.com\nok"],
                        ["Call +1 202  555\t0143 or pay to DE89  3704  0044  0532  0130  00", "Mail a@b.com  \r\nok"])
    out = PiiStage(PiiConfig(enabled=True)).process(batch).batch
    assert [t["value"] for t in out.column("conversations")[0].as_py()][:2] == [
        "Call <PHONE> or pay to <IBAN>", "Mail <EMAIL>\nok"]
    # the first original held values only its normalized text shows; the second is redacted in its own layout
    assert [t["value"] for t in out.column("original_conversations")[0].as_py()][:2] == [
        "Call <PHONE> or pay to <IBAN>", "Mail <EMAIL>  \r\nok"]


def test_quarantine_lines_are_redacted_through_their_json_escapes():
    stage = PiiStage(PiiConfig(enabled=True))
    line = json.dumps({"conversations": [{"from": "human", "value": "jos\u00e9.garc\u00eda@example.com, +1\t202\t555\t0143"}],
                       "note": "nothing here"})
    out = scrub_text(stage, line)
    assert json.loads(out) == {"conversations": [{"from": "human", "value": "<EMAIL>, <PHONE>"}], "note": "nothing here"}
    assert out.endswith('"note": "nothing here"}')  # literals without findings are left byte for byte
    broken = '{"conversations": [{"value": "broken a@b.com card 4111 1111 1111 1111'
    assert scrub_text(stage, broken) == '{"conversations": [{"value": "broken <EMAIL> card <CREDIT_CARD>'


def test_no_output_file_keeps_a_value_the_layout_hid(tmp_path):
    phone, card = "+1 202  555  0143", "4111\t1111\t1111\t1111"
    rows = [
        {"conversations": [{"from": "human", "value": f"Call me at {phone} tomorrow, okay?"},
                           {"from": "gpt", "value": ANSWER}], "source": "s"},
        {"conversations": [{"from": "human", "value": f"My card {card} was charged twice, why?"},
                           {"from": "gpt", "value": ANSWER}], "source": "s"},
        {"conversations": [{"from": "human", "value": f"Call {phone} or write to jos\u00e9@example.com"}], "source": "s"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows))
    config = load_config(None, {"report": False, "checkpoint": False, "stages": {
        "pii": {"enabled": True, "actions": {"credit_card": "drop"}}, "filters": {"enabled": False}}})
    out = tmp_path / "out"
    run_curation(str(path), out, config)
    texts = [json.dumps(pq.read_table(f).to_pylist(), default=str) for f in out.glob("*.parquet")]
    texts.append((out / "quarantine.jsonl").read_text())
    everything = "\n".join(texts)
    assert "202" not in everything and "1111" not in everything and "jos" not in everything
    assert everything.count("<PHONE>") >= 3 and "<CREDIT_CARD>" in everything


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_an_error_that_quotes_a_row_keeps_no_value_in_any_file(tmp_path, engine):
    """An address as a turn's role (or as a key of a quarantined record): the row is quarantined, its raw record
    redacted, but the error quoted the role ("unknown role 'jane.doe@example.com'"), and the error kind took it into
    the manifest's counts and both report pages."""
    rows = [{"conversations": [{"from": "jane.doe@example.com", "value": "hello there, a friend asks"},
                               {"from": "gpt", "value": ANSWER}], "source": "s"},
            {"conversations": [{"from": "joe.roe@example.com", "value": "and so does another friend"},
                               {"from": "gpt", "value": ANSWER}], "source": "s"},
            {"conversations": "not turns", "ann.key@example.com": 1},
            {"conversations": [{"from": "human", "value": "What is two plus two, please?"},
                               {"from": "gpt", "value": ANSWER}], "source": "s"}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = load_config(None, {"report": True, "checkpoint": False, "stages": {"pii": {"enabled": True}}})
    out = tmp_path / "out"
    if engine == "ray":
        pytest.importorskip("ray")
        from curation.engines.ray import RayOptions, run_curation_ray

        run_curation_ray(str(path), out, config, RayOptions())
    else:
        run_curation(str(path), out, config)
    everything = "\n".join(f.read_text(errors="replace") if f.suffix != ".parquet" else
                           json.dumps(pq.read_table(f).to_pylist(), default=str)
                           for f in out.rglob("*") if f.is_file() and ".cache" not in f.parts)
    assert "@example.com" not in everything
    errors = next(s for s in json.loads((out / "manifest.json").read_text())["stages"] if s["name"] == "validate")
    assert errors["stats"]["errors"]["unknown role '<EMAIL>'"] == 2  # two addresses, one kind


def test_an_unclosed_literal_in_a_quarantine_line_is_read_once():
    """A raw line of ``"\\"\\"\\"...`` (every quote escaped, none closing) was scanned again from each quote: a
    few hundred kB took minutes. The unclosed literal is one match now, and its text is redacted as plain text."""
    from curation.pii.stage import _JSON_STRING

    line = '{"a": "' + '\\"' * 1000 + " mail john@example.com"
    assert [m.span() for m in _JSON_STRING.finditer(line)] == [(1, 4), (6, len(line))]
    stage = PiiStage(PiiConfig(enabled=True))
    big = '{"a": "' + '\\"' * 200_000 + " mail john@example.com"  # the old scan: about 200 s
    assert scrub_text(stage, big) == big.replace("john@example.com", "<EMAIL>")


@pytest.mark.parametrize("text,want", [
    # Arabic-Indic digits
    ("call +\u0661 \u0662\u0660\u0662 \u0665\u0665\u0665 \u0660\u0661\u0664\u0663 now", "call <PHONE> now"),
    ("card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 end",
     "card <CREDIT_CARD> end"),  # full-width digits
    ("card \u0664" + "\u0661" * 15 + " end", "card <CREDIT_CARD> end"),
    ("call +1\u00a0202\u00a0555\u00a00143", "call <PHONE>"),  # no-break spaces (RE2's \s is ASCII)
])
def test_numbers_in_other_digits_are_found_by_the_column_scan(text, want):
    scanned = scan_texts(pa.array([text, "nothing here"]), Scanner(PiiConfig()))
    assert scanned.values.to_pylist() == [want, "nothing here"]


def test_a_card_in_other_digits_failing_luhn_stays():
    text = "card " + " ".join(["\uff14\uff11\uff11\uff11"] + ["\uff11" * 4] * 2 + ["\uff11\uff11\uff11\uff12"]) + " end"
    assert redacted(text) == text


@pytest.mark.parametrize("text,want", [
    ("card 4111 1111 1111 1111 123 (cvv)", "card <CREDIT_CARD> 123 (cvv)"),
    ("x 4111111111111111 10.0.0.1", "x <CREDIT_CARD> <IP_ADDRESS>"),
    ("room 12 4111111111111111 paid", "room 12 <CREDIT_CARD> paid"),
    ("1234 4111 1111 1111 1111", "1234 <CREDIT_CARD>"),
    ("john@example.com +1 202 555 0143 4111111111111111 10.0.0.1", "<EMAIL> <PHONE> <CREDIT_CARD> <IP_ADDRESS>"),
    # near misses stay: failing Luhn, a dash-joined run, a number running into a word, an order number
    ("card 4111 1111 1111 1112 123", "card 4111 1111 1111 1112 123"),
    ("1234-4111-1111-1111-1111", "1234-4111-1111-1111-1111"),
    ("4111 1111 1111 1111-123", "4111 1111 1111 1111-123"),
    ("4111111111111111x", "4111111111111111x"),
    ("order number 4111 1111 1111 1111 12", "order number 4111 1111 1111 1111 12"),
])
def test_a_card_run_into_another_number_is_found(text, want):
    assert redacted(text) == want
