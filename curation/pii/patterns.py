"""What each PII type looks like: a regex for candidates, then a check (checksum, libphonenumber, context).

Types (placeholders ``<EMAIL>``, ``<PHONE>``, ...): ``email``, ``phone``, ``ip_address`` (IPv4 and IPv6),
``credit_card`` (issuer prefix + Luhn), ``iban`` (country length + mod 97), ``secret`` (API keys and tokens of
the common providers, private key blocks, passwords in URLs). ``person`` (names) is found by presidio + spaCy
(:mod:`curation.pii.names`), not here.

Near misses the checks reject: version numbers (``v1.2.3.4``, ``version 10.0.19041.1``), dates, ISBNs,
order / invoice / tracking numbers, numbers failing Luhn or mod 97, ``package@1.2.3`` specifiers, MAC
addresses and clock times (not IPv6), ``user@host`` URLs without a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from curation.pii import validators as v

TYPES = ("secret", "email", "iban", "credit_card", "ip_address", "phone")  # in priority order on overlaps
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
    # scheme://user:password@host: the credentials are the secret (a bare user@host is not)
    "url_credentials": r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://([^\s:/@'\"<>]+:[^\s/@'\"<>]+)@[^\s/'\"<>]+",
}

# e-mail addresses in Latin, Greek and Cyrillic letters (josé.garcía@example.com, иван@пример.рф; combining
# accents too, as an un-normalized original has them; invisible characters inside the name); another script right
# before or after is no part of the address (CJK text runs into it with no space: 邮箱john@example.com)
_MAIL = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u0370-\u03ff\u0400-\u04ff"
_TLD = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0370-\u03ff\u0400-\u04ff"
_INVISIBLE = "\u00ad\u200b-\u200d\u2060"  # soft hyphen, zero-width space / joiners: text copied from web pages
_EMAIL = (rf"(?<![{_MAIL}_.+/-])[{_MAIL}._%+{_INVISIBLE}-]{{1,64}}@(?:[{_MAIL}](?:[{_MAIL}-]{{0,61}}[{_MAIL}])?\.)+"
          rf"(?:[{_TLD}][{_TLD}\u0300-\u036f]{{1,23}}|xn--[A-Za-z0-9-]{{1,59}})(?![{_MAIL}_-])")
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w]|\.\d)"
_IPV6 = (r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})"
         r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%\w+)?(?![\w:])")
_CARD = r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])"
_IBAN = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"
_PHONE = (r"(?<![\w+/.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,12}(?:[\s.-]\d{1,12}){0,5}(?![\w/-]|\.\d)")

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


def detectors(phone_regions: tuple[str, ...]) -> list[Detector]:
    out = [Detector("secret", name, re.compile(rx), None, 1 if name in ("aws_secret_key", "url_credentials") else 0)
           for name, rx in SECRETS.items()]
    out += [
        Detector("email", "email", re.compile(_EMAIL)),
        Detector("iban", "iban", re.compile(_IBAN), v.iban_ok),
        Detector("credit_card", "credit_card", re.compile(_CARD), v.card_ok),
        Detector("ip_address", "ipv4", re.compile(_IPV4), lambda s: v.ipv4_ok(s.split("/")[0])),
        Detector("ip_address", "ipv6", re.compile(_IPV6), v.ipv6_ok),
        Detector("phone", "phone", re.compile(_PHONE),
                 lambda s: not _date_like(s) and not _decimal_like(s) and v.phone_ok(s, phone_regions)),
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
    r"@", r"\p{Nd}[\p{Nd}\s\p{Zs}().+-]{5,}\p{Nd}", r"\d+\.\d+\.\d+\.\d+",
    r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}",
    r"AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA", r"gh[pousr]_|github_pat_|glpat-|npm_|hf_",
    r"sk-|sk_live|rk_live|sk_test|rk_test|xox[abposr]-|hooks\.slack|AIza|eyJ|PRIVATE KEY|SG\.|SK[0-9a-f]{32}",
    r"(?i:aws)", r"[A-Z]{2}\d{2} ?[A-Z0-9]{4}",
    # invisible characters: the full scan looks past them (a token split by a zero-width space, ``g\u200bhp_...``)
    "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(HIDDEN_CHARS)) + "]",
])
