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


def iban_ok(text: str) -> bool:
    """Country length and the ISO 13616 mod-97 check."""
    iban = re.sub(r"[\s-]", "", text).upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def ipv4_ok(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


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


def phone_ok(text: str, regions: tuple[str, ...]) -> bool:
    """A valid phone number (libphonenumber) in one of ``regions``, or anywhere when written with ``+``."""
    n = len(digits(text))
    if not 7 <= n <= 15:
        return False
    pn = _phonenumbers()
    for region in (None,) if text.lstrip().startswith("+") else regions:
        try:
            number = pn.parse(text, region)
        except pn.NumberParseException:
            continue
        if pn.is_valid_number(number):
            return True
    return False
