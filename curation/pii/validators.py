"""Checksums and validity checks that tell real identifiers from look-alikes."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache

_DIGITS = re.compile(r"\d")

# IBAN length per country (SWIFT registry)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def digits(text: str) -> str:
    """The decimal digits of ``text`` as ASCII: a number written in another script's digits (Arabic-Indic
    ``٤١١١``, full-width ``４１１１``, as the detectors' ``\\d`` finds it) is checked as the same number."""
    found = "".join(_DIGITS.findall(text))
    return found if found.isascii() else "".join(str(unicodedata.decimal(ch)) for ch in found)


def luhn_ok(number: str) -> bool:
    """The Luhn checksum of a digit string (credit cards)."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _issuer_lengths(number: str) -> tuple[int, ...]:
    two, three, four = int(number[:2]), int(number[:3]), int(number[:4])
    if number[0] == "4":
        return (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return (16,)  # Mastercard
    if two in (34, 37):
        return (15,)  # Amex
    if number.startswith(("6011", "65")) or 644 <= three <= 649:
        return (16, 17, 18, 19)  # Discover
    if 3528 <= four <= 3589:
        return (16, 17, 18, 19)  # JCB
    if two in (36, 38, 39) or 300 <= three <= 305:
        return (14, 15, 16, 17, 18, 19)  # Diners
    if two == 62:
        return (16, 17, 18, 19)  # UnionPay
    if two in (50, 56, 57, 58, 67) or number.startswith("6304"):
        return tuple(range(12, 20))  # Maestro
    return ()


def _grouping_ok(text: str) -> bool:
    """Ungrouped, or in the groups cards are printed in: 4-4-4-4(-3), 4-6-5 / 4-6-4 (Amex, Diners)."""
    groups = [g for g in re.split(r"[ -]", text) if g]
    if len(groups) == 1:
        return True
    sizes = [len(g) for g in groups]
    if sizes[:2] == [4, 6] and len(sizes) == 3 and sizes[2] in (4, 5):
        return True
    return all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4


def card_ok(text: str) -> bool:
    """Digits in card grouping, a known issuer's prefix and length, and a valid Luhn checksum."""
    number = digits(text)
    return len(number) in _issuer_lengths(number) and _grouping_ok(text) and luhn_ok(number)


def isbn10_ok(number: str) -> bool:
    """The ISBN-10 check: digits weighted 10 down to 1 sum to a multiple of 11 (a check digit ``X`` is 10)."""
    values = [10 if ch in "Xx" else int(ch) for ch in number]
    return len(values) == 10 and sum(w * d for w, d in zip(range(10, 0, -1), values)) % 11 == 0


def isbn13_ok(number: str) -> bool:
    """The ISBN-13 (EAN-13) check: digits weighted 1, 3, 1, 3, ... sum to a multiple of 10."""
    return len(number) == 13 and sum((3 if i % 2 else 1) * int(ch) for i, ch in enumerate(number)) % 10 == 0


def ssn_ok(text: str) -> bool:
    """A number the US Social Security Administration issues: area 001-899 but 666, group 01-99, serial
    0001-9999 (000-12-3456 or 900-12-3456 is no SSN, whatever its shape)."""
    number = digits(text)
    if len(number) != 9:
        return False
    area, group, serial = number[:3], number[3:5], number[5:]
    return area not in ("000", "666") and area < "900" and group != "00" and serial != "0000"


def iban_ok(text: str) -> bool:
    """Country length and the ISO 13616 mod-97 check."""
    iban = re.sub(r"[\s-]", "", text).upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def ipv4_ok(text: str) -> bool:
    """Four decimal octets up to 255. Zero-padded octets (``192.168.001.010``, as router pages and logs print them)
    count: :mod:`ipaddress` refuses them, as some parsers read them as octal, but either way the text names a host
    and is redacted."""
    parts = text.split(".")
    return len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


def ipv6_ok(text: str) -> bool:
    """A valid IPv6 address that reads like one: some digit in it (``dead::beef`` is valid but is not an address
    anyone writes), and not just ``::``."""
    try:
        ipaddress.IPv6Address(text.split("%")[0])
    except ValueError:
        return False
    return any(ch.isdigit() for ch in text) and len(text.replace(":", "")) >= 2


@lru_cache(maxsize=None)
def _phonenumbers():
    import phonenumbers

    return phonenumbers


# a US / Canadian number without its area code, as written there (555-0143, 867-5309): an exchange (first digit
# 2-9) and four digits; libphonenumber calls it incomplete and checks it against no region
_NANP_LOCAL = re.compile(r"[2-9]\d\d-\d{4}")
_NANP = frozenset({"US", "CA"})
# regions whose numbers people write without the trunk prefix libphonenumber prints (Indian mobiles: 98765 43210)
_TRUNK_PREFIX_OPTIONAL = frozenset({"IN"})


def _trunk_prefix_missing(pn, number, region: str, written: str) -> bool:
    """A number read as national in ``region`` whose national form starts with the trunk prefix (``0`` in GB, DE,
    FR, AU) that the text leaves out: a nine-digit ``123456789`` is a French number only by adding the ``0`` no
    French writer omits; what such digits are is an ID, a ZIP+4, a timestamp, an ISBN, a dotted version."""
    prefix = pn.PhoneMetadata.metadata_for_region(region).national_prefix
    if not prefix or region in _TRUNK_PREFIX_OPTIONAL or digits(written).startswith(prefix):
        return False
    if number.country_code_source != pn.CountryCodeSource.FROM_DEFAULT_COUNTRY:
        return False  # (a number given with 00 / 011 + country code carries no trunk prefix)
    return digits(pn.format_number(number, pn.PhoneNumberFormat.NATIONAL)).startswith(prefix)


def phone_ok(text: str, regions: tuple[str, ...]) -> bool:
    """A valid phone number (libphonenumber) in one of ``regions``, written as that region writes it (with its
    trunk prefix, :func:`_trunk_prefix_missing`), or anywhere when written with ``+``; or a US local number
    (``555-0143``) where the regions include US or Canada."""
    n = len(digits(text))
    if not 7 <= n <= 15:
        return False
    if _NANP_LOCAL.fullmatch(text.strip()) and not _NANP.isdisjoint(regions):
        return True
    pn = _phonenumbers()
    for region in (None,) if text.lstrip().startswith("+") else regions:
        try:
            number = pn.parse(text, region, keep_raw_input=True)
        except pn.NumberParseException:
            continue
        if pn.is_valid_number(number) and (region is None or not _trunk_prefix_missing(pn, number, region, text)):
            return True
    return False
