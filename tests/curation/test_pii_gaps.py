"""PII detection at the edges of its types: values written as people write them that it missed (lower-case IBANs,
zero-padded IPv4, o'brien@..., ::ffff:a.b.c.d, redis://:password@), and numbers it took for phone numbers that
are something else (ZIP+4, US Social Security numbers, ISBNs, IDs and timestamps a region reads as valid only by adding the trunk
prefix its writers never leave out, dates and clock times run into a number, well-known constants)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curation.pii.config import PiiConfig
from curation.pii.detect import Scanner, scan_texts
from curation.pii.validators import iban_ok

SCANNER = Scanner(PiiConfig())
# the default regions, and ones without a trunk prefix (ES, IT) or with mobiles written without one (CN, IN)
WIDE = Scanner(PiiConfig(phone_regions=["US", "GB", "DE", "FR", "IN", "CA", "BR", "AU", "ES", "IT", "CN", "JP"]))


def found(text: str, scanner: Scanner = SCANNER) -> list[tuple[str, str]]:
    return [(text[s.start:s.end], s.type) for s in scanner.spans(text)]


def _iban(country: str, bban: str) -> str:
    """``country`` + the check digits that make ``bban`` pass mod 97."""
    moved = bban.replace(" ", "").upper() + country.upper() + "00"
    return f"{country}{98 - int(''.join(str(int(ch, 36)) for ch in moved)) % 97:02d}{bban}"


VALID_IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", "FR14 2004 1010 0505 0001 3M02 606",
               "NL91 ABNA 0417 1643 00", "CH93 0076 2011 6238 5295 7", "IT60 X054 2811 1010 0000 0123 456"]


@pytest.mark.parametrize("iban", VALID_IBANS)
@pytest.mark.parametrize("case", [str.lower, str.title, lambda s: s.lower().replace(" ", ""),
                                  lambda s: s.replace(" ", "").lower().capitalize()])
def test_an_iban_in_lower_or_mixed_case_is_found_whole(iban, case):
    value = case(iban)
    for text in (value, f"Pay to {value} by Monday.", f"iban:{value}, thanks"):
        assert found(text) == [(value, "iban")], text


def test_a_lower_case_iban_failing_mod_97_is_not_one_nor_a_phone_number():
    assert found("pay to gb82 west 1234 5698 7654 33 please") == []


def test_prose_after_a_country_code_and_two_digits_is_no_iban_even_where_mod_97_holds():
    """Only the check digits decide mod 97, so words of the right length pass 1 time in 97; they are not written
    in one run or in groups of four, as an IBAN is."""
    value = _iban("de", " this text goes on a bit")  # (groups of four at first, as the candidate regex wants)
    assert iban_ok(value)  # the checksum alone would take it
    assert found(f"{value}.") == []
    assert found(f"{value.upper()}.") == [(value.upper(), "iban")]  # (upper case: as loose as it always was)


def test_a_lower_case_iban_is_redacted_in_a_column():
    values = pa.array(["refund to nl91 abna 0417 1643 00 today", "nothing"])
    assert scan_texts(values, SCANNER).values.to_pylist() == ["refund to <IBAN> today", "nothing"]


@pytest.mark.parametrize("ip", ["192.168.001.010", "010.000.000.001", "10.0.0.01", "192.168.01.1", "172.016.254.001"])
def test_a_zero_padded_ipv4_address_is_an_ip_address_not_a_phone_number(ip):
    for text in (ip, f"host {ip} is down", f"ssh root@{ip} -p 22", f"allow {ip}/24"):
        values = [v for v, _ in found(text)]
        assert found(text) == [(values[0], "ip_address")] and values[0].startswith(ip), text


@pytest.mark.parametrize("text", ["256.001.001.001", "192.168.1.0255", "version 1.02.003.4", "v1.02.003.4",
                                  "192.168.1", "Python 3.010.002.1"])
def test_what_is_not_a_zero_padded_address_stays_no_address(text):
    assert all(kind != "ip_address" for _, kind in found(text)), text


@pytest.mark.parametrize("text", ["90210-1234", "02134-1234", "Beverly Hills, CA 90210-1234.", "ZIP: 10001-0001",
                                  "000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"])
@pytest.mark.parametrize("scanner", [SCANNER, WIDE], ids=["default regions", "wide regions"])
def test_zip_plus_4_and_numbers_in_the_ssn_shape_the_ssa_never_issues_are_no_pii(text, scanner):
    """A ZIP+4, or a 3-2-4 number outside the SSA's ranges, is neither a phone number nor an SSN (any regions)."""
    assert found(text, scanner) == []


@pytest.mark.parametrize("text,value", [
    ("123-45-6789", "123-45-6789"), ("SSN 078-05-1120", "078-05-1120"), ("my ssn is 219-09-9999, ok", "219-09-9999"),
    ("SSN: 078 05 1120", "078 05 1120"), ("ssn#078051120.", "078051120"), ("Social Security No. 078.05.1120", "078.05.1120"),
    ("social security number was 078051120", "078051120"), ("(SSN 123-45-6789)", "123-45-6789"),
])
@pytest.mark.parametrize("scanner", [SCANNER, WIDE], ids=["default regions", "wide regions"])
def test_a_us_social_security_number_is_found_as_one_not_as_a_phone_number(text, value, scanner):
    """Dashed it is an SSN wherever it is; spaced, dotted or unbroken only where the text says SSN before it."""
    assert found(text, scanner) == [(value, "us_ssn")]


@pytest.mark.parametrize("text", ["078 05 1120", "078051120", "order 123-45-6789", "invoice no. 123-45-6789",
                                  "SSN 078 05-1120", "part 123-45-6789-01"])
def test_what_is_not_said_to_be_an_ssn_in_another_shape_is_no_ssn(text):
    assert all(kind != "us_ssn" for _, kind in found(text)), text


def test_redacting_an_ssn_writes_its_placeholder_and_keep_turns_it_off():
    text = "Her SSN is 078-05-1120."
    assert SCANNER.redact(text, SCANNER.spans(text)) == "Her SSN is <US_SSN>."
    off = Scanner(PiiConfig(actions={"us_ssn": "keep"}))
    assert [s.type for s in off.spans(text)] == []


@pytest.mark.parametrize("text,value", [
    ("Call 415-555-2671 now", "415-555-2671"), ("Call (415) 555-2671", "(415) 555-2671"),
    ("ring 555-0143 after six", "555-0143"), ("Ruf 030 12 3456 an", "030 12 3456"),
    ("Tel. 089 1234-0", "089 1234-0"), ("appelez le 01 23 45 67 89", "01 23 45 67 89"),
    ("ou 06.12.34.56.78", "06.12.34.56.78"), ("call 0033 1 23 45 67 89", "0033 1 23 45 67 89"),
    ("+33 123456789", "+33 123456789"), ("Date: 2023-10-12 415-555-2671", "415-555-2671"),
    ("12/10/2023 415-555-2671", "415-555-2671"), ("1999-2004 415-555-2671", "415-555-2671"),
    ("at 10:30 415 555 2671", "415 555 2671"), ("dial 214-748-3647", "214-748-3647"),
])
def test_phone_numbers_written_as_people_write_them_are_found_exactly(text, value):
    assert found(text) == [(value, "phone")]


def test_an_indian_mobile_number_needs_no_trunk_prefix():
    assert found("WhatsApp me on 98765 43210", Scanner(PiiConfig(phone_regions=["IN"]))) == [("98765 43210", "phone")]


@pytest.mark.parametrize("text", [
    "123456789", "id 998244353", "ts 1697040000", "PO 4500012345", "RUT 12.345.678-9", "got 192.168.1.1.1 here",
    "upgrade to 10.0.19041.1", "Chrome 118.0.5993.88", "on 20231012", "n = 7946 0958",  # no trunk prefix
    "0-306-40615-2", "1-4028-9462-7", "0 306 40615 2", "978-0-306-40615-7", "979 10 90636 07 1",  # ISBNs
    "2^31 - 1 = 2147483647", "max 4294967295", "2^32 = 4294967296",  # constants
    "2023.10.12 10:30", "31.12.2023 23:59", "20200927 12:40", "28 06 2010 11:08",  # a date, then a clock time
    "still waiting for #128-722-4195, ordered", "issue #4155552671",  # numbers by their count
])
def test_numbers_that_are_not_phone_numbers(text):
    assert found(text) == [], text


@pytest.mark.parametrize("text,value", [
    ("mail o'brien@example.ie today", "o'brien@example.ie"), ("'john@example.com'", "john@example.com"),
    ("D'Angelo: d'angelo.m@example.it.", "d'angelo.m@example.it"),
])
def test_an_apostrophe_inside_an_address_is_part_of_it_and_one_around_it_is_not(text, value):
    assert found(text) == [(value, "email")]


@pytest.mark.parametrize("value", ["::ffff:192.0.2.128", "::1234:5678", "::db8:1", "::ffff:10.0.0.1"])
def test_an_ipv6_address_compressed_at_the_front_is_found_whole(value):
    assert found(f"from {value} today") == [(value, "ip_address")]


@pytest.mark.parametrize("text", ["std::vector<int>", "Foo::Bar", "a ::ffff: b", "::", "::1", "::face"])
def test_scopes_and_empty_or_digitless_addresses_are_not_ipv6(text):
    assert found(text) == []


def test_a_url_password_with_no_user_is_a_secret():
    text = "REDIS_URL=redis://:s3cr3tPass@localhost:6379/0"
    assert found(text) == [(":s3cr3tPass", "secret")]
    assert "s3cr3tPass" not in scan_texts(pa.array([text]), SCANNER).values[0].as_py()


@pytest.mark.parametrize("before", ["Blocked IP: 14c7:920:db69:55a1:1c2a:f22c:af27:fd41 Also", "fd41 Also", "ab12 Also",
                                    "Ref ab12 cd34 then"])
def test_an_iban_after_a_word_that_starts_like_one_is_found(before):
    """A word of two letters and two digits (an IPv6 group, a code) then words of four letters looked like the start
    of one long IBAN that ran on into the real one, and the real one was missed."""
    text = f"{before} DE07128529371507697736 ."
    assert ("DE07128529371507697736", "iban") in found(text), found(text)
