"""What each PII type looks like: a regex for candidates, then a check (checksum, libphonenumber, context).

Types (placeholders ``<EMAIL>``, ``<PHONE>``, ...): ``email``, ``phone``, ``ip_address`` (IPv4 and IPv6),
``credit_card`` (issuer prefix + Luhn), ``iban`` (country length + mod 97), ``us_ssn`` (US Social Security
numbers: the SSA's ranges), ``secret`` (API keys and tokens of
the common providers, private key blocks, passwords in URLs). ``person`` (names) is found by presidio + spaCy
(:mod:`curation.pii.names`), not here.

Near misses the checks reject: version numbers (``v1.2.3.4``, ``version 10.0.19041.1``), dates, ISBNs,
order / invoice / tracking numbers, numbers failing Luhn or mod 97, ``package@1.2.3`` specifiers, MAC
addresses and clock times (not IPv6), ``user@host`` URLs without a password; as phone numbers: US ZIP+4 codes
and SSN-shaped numbers (those are ``us_ssn``), and digits that are a number only with a trunk prefix left out
(:func:`curation.pii.validators.phone_ok`). A bare four-part dotted number (``1.2.3.4``) is an IPv4 address
unless a word before it says it is a version (``v``, ``version``, ``python``, ...: :data:`_VERSION_BEFORE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from curation.pii import validators as v

TYPES = ("secret", "email", "iban", "credit_card", "us_ssn", "ip_address", "phone")  # in priority order on overlaps
ALL_TYPES = TYPES + ("person",)


@dataclass(frozen=True)
class Detector:
    type: str
    name: str  # the sub-kind, for stats and tests ("github_token", "ipv6", ...)
    regex: re.Pattern
    check: Callable[[str], bool] | None = None
    group: int = 0  # the part of the match that is the PII (and gets the placeholder)


# secrets: provider token formats, as published by the providers and used by secret scanners
SECRETS = {
    # the body holds no "-----": a text of many BEGIN lines and no END costs one pass, not one pass per BEGIN
    "private_key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----))*-----END "
                   r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    "aws_access_key": r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
    "aws_secret_key": r"(?i)aws.{0,20}?(?:secret|key).{0,20}?[=:\"'\s]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
    "github_token": r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{82}\b",
    "gitlab_token": r"\bglpat-[A-Za-z0-9_-]{20}\b",
    "openai_key": r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b"
                  r"|\bsk-[A-Za-z0-9]{48}\b",
    "anthropic_key": r"\bsk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}",
    "slack_token": r"\bxox[abposr]-[0-9A-Za-z-]{10,}",
    "slack_webhook": r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",
    "stripe_key": r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,}\b",
    "huggingface_token": r"\bhf_[A-Za-z]{34}\b",
    "npm_token": r"\bnpm_[A-Za-z0-9]{36}\b",
    "sendgrid_key": r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    "twilio_key": r"\bSK[0-9a-f]{32}\b",
    "jwt": r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    # scheme://user:password@host: the credentials are the secret (a bare user@host is not); the user may be empty
    # (redis://:password@host, as Redis URLs are written)
    "url_credentials": r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://([^\s:/@'\"<>]*:[^\s/@'\"<>]+)@[^\s/'\"<>]+",
}

# e-mail addresses in Latin, Greek and Cyrillic letters (josé.garcía@example.com, иван@пример.рф; combining
# accents too, as an un-normalized original has them; invisible characters inside the name); another script right
# before or after is no part of the address (CJK text runs into it with no space: 邮箱john@example.com)
# full-width letters and digits too (ｅｖｅ＠ｅｘａｍｐｌｅ．ｃｏｍ)
_FULL_WIDTH = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_MAIL = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u0370-\u03ff\u0400-\u04ff" + _FULL_WIDTH
_TLD = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff\uff21-\uff3a\uff41-\uff5a"
_INVISIBLE = "\u00ad\u200b-\u200d\u2060"  # soft hyphen, zero-width space / joiners: text copied from web pages
# the @ as a URL, an HTML page or a full-width font writes it (ann%40example.com, ann&#64;example.com), and the dot
_AT = r"(?:@|\uff20|%40|&#0*64;|&#[xX]0*40;|&commat;)"
_DOT = r"[.\uff0e]"
# an apostrophe inside the name is part of it (o'brien@example.ie), one around it is not ('john@example.com')
_EMAIL = (rf"(?<![{_MAIL}_.+/-])[{_MAIL}._%+{_INVISIBLE}-](?:[{_MAIL}._%+'{_INVISIBLE}-]{{0,62}}"
          rf"[{_MAIL}._%+{_INVISIBLE}-])?{_AT}(?:[{_MAIL}](?:[{_MAIL}-]{{0,61}}[{_MAIL}])?{_DOT})+"
          rf"(?:[{_TLD}][{_TLD}\u0300-\u036f]{{1,23}}|xn--[A-Za-z0-9-]{{1,59}})(?![{_MAIL}_-])")
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w]|\.\d)"
_IPV6 = (r"(?<![\w:.])(?:(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})"
         r"|::(?:[0-9A-Fa-f]{1,4}:){0,6}(?:[0-9A-Fa-f]{1,4})??)"  # or compressed at the front: ::ffff:192.0.2.1
         r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%\w+)?(?![\w:])")
_CARD = r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])"
# where an IBAN may start (its country and check digits, then two groups); how far it runs, its country's length says
# (:func:`curation.pii.detect._iban_span`). Only the start is matched: a whole-shape match run on from a word that is
# no IBAN (``fd41 Also DE07 1285 ...``, the IPv6 group ``fd41`` then four letters) took the IBAN after it with it
_IBAN = r"(?i)\b[A-Z]{2}\d{2}(?=(?: ?[A-Z0-9]{4}){2})"
# a US Social Security number as the SSA prints it (078-05-1120); spaced, dotted or unbroken (078 05 1120,
# 078051120) only right after a word that says it is one (SSN, SSN#, social security number ...)
_SSN_DASHED = r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-]|\.\d)"
_SSN_SAID = (r"(?i)\b(?:ssn|ss#|social[ -]security(?:\s+(?:number|no\.?|#|card))?)[\s:#.=,-]{0,4}(?:(?:is|was)\s+)?"
             r"(\d{3}([ .]?)\d{2}\2\d{4})(?![\w-]|\.\d)")
# a clock time (10:30) is no part of a number on either side: not its end, nor a start (at 10:30 415 555 2671);
# a number right after # is one by its count (order #128-722-4195, issue #4155552671), never a phone number; a
# date or a range of years is not its start (2023-10-12 415-555-2671 is a date, then the number)
_DATE_START = (r"(?:\d{4}[-./]\d\d?[-./]\d\d?|\d\d?[-./]\d\d?[-./](?:\d{4}|\d\d)|"
               r"(?:1[89]|20)\d\d\s*[-/]\s*(?:1[89]|20)\d\d)(?![-./]?\d)")
_PHONE = (rf"(?<![\w+/.#-])(?<!\d:)(?!{_DATE_START})"
          r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,12}(?:[\s.-]\d{1,12}){0,5}(?![\w/-]|[.:]\d)")

# words right before a number that say what it is, when it is not PII
_ID_WORDS = (r"isbn(?:-1[03])?|issn|order|invoice|tracking|serial|ticket|case|ref(?:erence)?|sku|part|model|"
             r"build|patent|receipt|transaction|confirmation|booking|shipment|parcel|customer")
_FILLER = r"(?:\s*(?:number|no\.?|nr\.?|id|code|is|was|[:#]))*\s*$"
_NOT_CARD = re.compile(r"(?i)\b(?:" + _ID_WORDS + r")\b" + _FILLER)
_NOT_PHONE = re.compile(r"(?i)\b(?:" + _ID_WORDS + r"|id|version|ver\.?|v|release|account)\b" + _FILLER)
_VERSION_BEFORE = re.compile(r"(?i)(?:\bv|version|ver\.?|release|build|firmware|kernel|python|node|java|chrome|"
                             r"windows|ios|android)\s*[:#]?\s*$")


def _context_ok(pattern: re.Pattern) -> Callable[[str, int], bool]:
    def ok(text: str, start: int) -> bool:
        return pattern.search(text[max(0, start - 24): start]) is None
    return ok


NOT_PHONE_CONTEXT = _context_ok(_NOT_PHONE)
NOT_CARD_CONTEXT = _context_ok(_NOT_CARD)
NOT_VERSION_CONTEXT = _context_ok(_VERSION_BEFORE)


def _date_like(s: str) -> bool:
    """Dates (2023-10-12, 12.10.2023, 10/12/23) and year ranges (2011-2015)."""
    return bool(re.fullmatch(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|"
                             r"(?:1[89]|20)\d\d\s*[-/]\s*(?:1[89]|20)\d\d", s.strip()))


def _decimal_like(s: str) -> bool:
    """``3.14159265358``: a dot with fewer than three digit groups is a decimal point, not a separator."""
    return "." in s and len(re.findall(r"\d+", s)) < 3


# shapes of other numbers the phone regex takes whole: a US ZIP+4 (90210-1234, 02134-1234) and an SSN-shaped
# 123-45-6789 (``us_ssn`` where it is one; no region writes a phone number in either shape). Spaced, 3-2-4 is a German
# number as well (030 12 3456): only the dashes say SSN
_ZIP4_OR_SSN = re.compile(r"\d{5}-\d{4}|\d{3}-\d{2}-\d{4}")
# numbers programming text is full of that libphonenumber reads as valid phone numbers (2**31 - 1 is in Dallas)
_WELL_KNOWN_NUMBERS = frozenset({"2147483647", "2147483648", "4294967295", "4294967296"})


def _not_a_phone_shape(s: str) -> bool:
    """A ZIP+4 or SSN shape, a well-known constant written bare, or an ISBN in its hyphenated groups."""
    s = s.strip()
    return bool(_ZIP4_OR_SSN.fullmatch(s)) or s in _WELL_KNOWN_NUMBERS or _isbn_like(s)


def _isbn_like(s: str) -> bool:
    """An ISBN in its groups (``0-306-40615-2``, ``978 0 306 40615 7``: group, publisher, title, one check digit)
    whose check digit holds: a book, not a phone number, also where no ``ISBN`` before it says so."""
    groups = re.split(r"[- ]", s)
    number = "".join(groups)
    if len(groups[-1]) != 1 or not number.isdecimal():
        return False
    if len(groups) == 4 and len(number) == 10:
        return v.isbn10_ok(number)
    return len(groups) == 5 and len(number) == 13 and number.startswith(("978", "979")) and v.isbn13_ok(number)


def detectors(phone_regions: tuple[str, ...]) -> list[Detector]:
    out = [Detector("secret", name, re.compile(rx), None, 1 if name in ("aws_secret_key", "url_credentials") else 0)
           for name, rx in SECRETS.items()]
    out += [
        Detector("email", "email", re.compile(_EMAIL)),
        Detector("iban", "iban", re.compile(_IBAN), v.iban_ok),
        Detector("credit_card", "credit_card", re.compile(_CARD), v.card_ok),
        Detector("us_ssn", "us_ssn", re.compile(_SSN_DASHED), v.ssn_ok),
        Detector("us_ssn", "us_ssn_said", re.compile(_SSN_SAID), v.ssn_ok, 1),
        Detector("ip_address", "ipv4", re.compile(_IPV4), lambda s: v.ipv4_ok(s.split("/")[0])),
        Detector("ip_address", "ipv6", re.compile(_IPV6), v.ipv6_ok),
        Detector("phone", "phone", re.compile(_PHONE),
                 lambda s: not _date_like(s) and not _decimal_like(s) and not _not_a_phone_shape(s)
                 and v.phone_ok(s, phone_regions)),
    ]
    return out


# a cheap pass over whole columns (RE2, in pyarrow) picks the turns worth the full scan: anything that could
# start one of the detectors above. RE2's \d and \s are ASCII only, Python's are not: a phone or card number in
# another script's digits (٢٠٢ ٥٥٥ ٠١٤٣, ４１１１ １１１１ ...) or spaced with no-break spaces is a candidate too
# characters that show nothing: zero-width space / non-joiner / joiner, direction marks and embeddings, word joiner
# and invisible operators, BOM / zero-width no-break space, soft hyphen, Mongolian vowel separator. A secret or a
# number with one of these inside (copied from a web page, or put there to dodge scanners) is still found
# (:meth:`curation.pii.detect.Scanner.spans` scans the text without them).
HIDDEN_CHARS = frozenset(chr(c) for c in [0xAD, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
                                           *range(0x2060, 0x2065), *range(0x2066, 0x206A), 0xFEFF])

PREFILTER = "|".join([
    r"@|\x{ff20}|%40|&#0*64;|&#[xX]0*40;|&commat;", r"\p{Nd}[\p{Nd}\s\p{Zs}().+-]{5,}\p{Nd}", r"\d+\.\d+\.\d+\.\d+",
    r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}",
    r"AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA", r"gh[pousr]_|github_pat_|glpat-|npm_|hf_",
    r"sk-|sk_live|rk_live|sk_test|rk_test|xox[abposr]-|hooks\.slack|AIza|eyJ|PRIVATE KEY|SG\.|SK[0-9a-f]{32}",
    r"(?i:aws)", r"(?i:[a-z]{2}\d{2} ?[a-z0-9]{4})",
    # invisible characters: the full scan looks past them (a token split by a zero-width space, ``g\u200bhp_...``)
    "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(HIDDEN_CHARS)) + "]",
])
