"""A generated, labelled PII set: sentences holding PII of each type, and near misses that only look like it.

Every item is ``(text, [(start, end, type), ...])``; near misses and plain sentences have no labels. Values
are made to be valid where validity is defined (Luhn for cards, mod 97 for IBANs, libphonenumber's
metadata for phone numbers, the providers' published token shapes for secrets), in the formats people write
them in; near misses are what a careless detector flags: version numbers, dates, ISBNs, order / invoice /
tracking numbers, numbers failing Luhn or mod 97, ``package@version``, clock times, MAC addresses, C++
scopes, short or malformed tokens, URLs with a user but no password.

    python -m benchmarks.pii_corpus 5      # print 5 items per type
"""

from __future__ import annotations

import random
import string
import sys

TYPES = ("email", "phone", "ip_address", "credit_card", "iban", "us_ssn", "secret")

FIRST = ["john", "maria", "wei", "fatima", "lars", "ana", "kenji", "olga", "pierre", "amara", "diego", "sofia"]
LAST = ["smith", "garcia", "chen", "khan", "berg", "silva", "tanaka", "ivanova", "dubois", "okafor", "lopez"]
DOMAINS = ["example.com", "gmail.com", "company.co.uk", "uni-heidelberg.de", "mail.example.org", "startup.io",
           "posteo.net", "outlook.fr"]
LEADS = {
    "email": ["You can reach me at {}.", "Send the report to {} before Friday.", "My email is {}",
              "Contact: {} (work)", "cc {}, thanks!", "Email {} for access."],
    "phone": ["Call me at {} tomorrow.", "My number is {}.", "Phone: {}", "Reach the office on {} after 9am.",
              "Text {} if you are late.", "The hotline ({}) is open 24/7."],
    "ip_address": ["The server is at {}.", "Ping {} to check the link.", "Blocked IP: {}", "ssh root@{} -p 22",
                   "Add {} to the allow list.", "Requests came from {} all night."],
    "credit_card": ["Card number: {}", "Please charge {} for the order.", "I paid with {} yesterday.",
                    "My Visa is {}, exp 04/27.", "Use card {} for the refund."],
    "iban": ["Transfer it to {} please.", "IBAN: {}", "Our account is {} (Sparkasse).", "Pay to {} by Monday."],
    "us_ssn": ["My SSN is {}.", "SSN: {}", "Social security number {} on the W-2.", "ssn#{}", "Her SSN, {}, was leaked."],
    "secret": ["Here is my key: {}", "export TOKEN={}", "config: api_key = \"{}\"", "I accidentally pushed {} to git.",
               "Authorization: Bearer {}", "{}"],
}
PLAIN = [
    "Explain how photosynthesis works in simple terms.",
    "Write a short poem about the ocean at night.",
    "The meeting moved to Thursday at 3 pm in room 204.",
    "Our revenue grew 12% to 3,400,000 dollars in 2023.",
    "Add 1234 and 5678, then divide by 2.",
    "The recipe needs 250 g of flour and 3 eggs.",
]


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(prefix: str, length: int, rng: random.Random, valid: bool = True) -> str:
    body = prefix + _rand(rng, string.digits, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    check = (10 - total % 10) % 10
    return body + str(check if valid else (check + rng.randint(1, 9)) % 10)


def _group(number: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(number[i: i + s])
        i += s
    if i < len(number):
        out.append(number[i:])
    return sep.join(out)


def email(rng: random.Random) -> str:
    f, l = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{l}", f"{f[0]}{l}", f"{f}_{l}+news", f"{f}{rng.randint(1, 99)}", f"{l}.{f}"])
    return f"{local}@{rng.choice(DOMAINS)}"


def phone(rng: random.Random) -> str:
    import phonenumbers

    while True:
        kind = rng.randrange(6)
        if kind == 0:  # US / CA
            area = rng.choice(["212", "415", "312", "617", "206", "303", "512", "604", "416"])
            n = f"{area}{rng.randint(2, 9)}{_rand(rng, string.digits, 6)}"
            text = rng.choice([f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}",
                               f"+1 {n[:3]} {n[3:6]} {n[6:]}", f"+1-{n[:3]}-{n[3:6]}-{n[6:]}"])
            region = "US"
        elif kind == 1:  # GB London / mobile
            n = rng.choice(["20", "7"]) + ("7946" if rng.random() < 0.5 else "") + _rand(rng, string.digits, 4)
            n = n if len(n) == 10 else "7" + _rand(rng, string.digits, 9)
            text = rng.choice([f"+44 {n[:2]} {n[2:6]} {n[6:]}", f"0{n[:2]} {n[2:6]} {n[6:]}"])
            region = "GB"
        elif kind == 2:  # DE
            n = rng.choice(["30", "89", "40", "151", "160", "171"]) + _rand(rng, string.digits, 7)
            text = rng.choice([f"+49 {n[:3]} {n[3:]}", f"0{n[:3]} {n[3:]}", f"+49 ({n[:2]}) {n[2:]}"])
            region = "DE"
        elif kind == 3:  # FR
            n = rng.choice("1234567") + _rand(rng, string.digits, 8)
            pairs = " ".join(n[i: i + 2] for i in range(1, 9, 2))
            text = rng.choice([f"+33 {n[0]} {pairs}", f"0{n[0]} {pairs}"])
            region = "FR"
        elif kind == 4:  # IN mobile
            n = rng.choice("6789") + _rand(rng, string.digits, 9)
            text = rng.choice([f"+91 {n[:5]} {n[5:]}", f"+91-{n}"])
            region = "IN"
        else:  # BR mobile
            n = rng.choice(["11", "21", "31"]) + "9" + _rand(rng, string.digits, 8)
            text = f"+55 {n[:2]} {n[2:7]}-{n[7:]}"
            region = "BR"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text


def ip_address(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if kind == 1:
        return f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    if kind == 2:
        return ":".join(groups)
    return rng.choice([f"2001:db8::{groups[0]}", f"fe80::{groups[1]}:{groups[2]}:{groups[3]}", f"2a00:1450:4001::{rng.randint(1, 99)}"])


def credit_card(rng: random.Random) -> str:
    prefix, length, sizes = rng.choice([("4", 16, [4, 4, 4, 4]), ("51", 16, [4, 4, 4, 4]), ("55", 16, [4, 4, 4, 4]),
                                        ("2221", 16, [4, 4, 4, 4]), ("34", 15, [4, 6, 5]), ("37", 15, [4, 6, 5]),
                                        ("6011", 16, [4, 4, 4, 4]), (str(rng.randint(3528, 3589)), 16, [4, 4, 4, 4])])
    number = _luhn_complete(prefix, length, rng)
    return rng.choice([number, _group(number, sizes, " "), _group(number, sizes, "-")])


IBAN_SHAPES = {"DE": 18, "GB": 18, "FR": 23, "ES": 20, "IT": 23, "NL": 14, "CH": 17, "AT": 16}


def _iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(list(IBAN_SHAPES))
    if country == "GB":
        bban = _rand(rng, string.ascii_uppercase, 4) + _rand(rng, string.digits, 14)
    elif country == "NL":
        bban = _rand(rng, string.ascii_uppercase, 4) + _rand(rng, string.digits, 10)
    elif country == "IT":
        bban = rng.choice(string.ascii_uppercase) + _rand(rng, string.digits, 22)
    else:
        bban = _rand(rng, string.digits, IBAN_SHAPES[country])
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(ch, 36)) for ch in moved)) % 97
    if not valid:
        check = (check + rng.randint(1, 96)) % 97 or 1
    iban = f"{country}{check:02d}{bban}"
    return rng.choice([iban, " ".join(iban[i: i + 4] for i in range(0, len(iban), 4))])


def iban(rng: random.Random) -> str:
    return _iban(rng)


def _ssn_digits(rng: random.Random) -> str:
    """Nine digits in the SSA's ranges: area 001-899 but 666, group 01-99, serial 0001-9999."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


def us_ssn(rng: random.Random) -> str:
    """Dashed, as the SSA prints it: an SSN wherever it stands."""
    n = _ssn_digits(rng)
    return f"{n[:3]}-{n[3:5]}-{n[5:]}"


def said_us_ssn(rng: random.Random) -> str:
    """Dashed, spaced or unbroken: after a lead that says SSN (:data:`LEADS`), each shape is one."""
    n = _ssn_digits(rng)
    return rng.choice([f"{n[:3]}-{n[3:5]}-{n[5:]}", f"{n[:3]} {n[3:5]} {n[5:]}", n])


def secret(rng: random.Random) -> str:
    a, A, d = string.ascii_letters + string.digits, string.ascii_uppercase + string.digits, string.digits
    kind = rng.randrange(12)
    if kind == 0:
        return "AKIA" + _rand(rng, A, 16)
    if kind == 1:
        return rng.choice(["ghp_", "gho_", "ghs_"]) + _rand(rng, a, 36)
    if kind == 2:
        return "sk-proj-" + _rand(rng, a + "_-", 64)
    if kind == 3:
        return "xoxb-" + _rand(rng, d, 11) + "-" + _rand(rng, d, 12) + "-" + _rand(rng, a, 24)
    if kind == 4:
        return "AIza" + _rand(rng, a + "_-", 35)
    if kind == 5:
        return "sk_live_" + _rand(rng, a, 24)
    if kind == 6:
        return "hf_" + _rand(rng, string.ascii_letters, 34)
    if kind == 7:
        return "eyJ" + _rand(rng, a, 20) + ".eyJ" + _rand(rng, a, 30) + "." + _rand(rng, a + "_-", 43)
    if kind == 8:
        body = "\n".join(_rand(rng, a + "+/", 64) for _ in range(3))
        return f"-----BEGIN {rng.choice(['RSA ', 'EC ', 'OPENSSH ', ''])}PRIVATE KEY-----\n{body}\n-----END " \
               f"{'PRIVATE KEY'}-----".replace("END PRIVATE", "END PRIVATE")
    if kind == 9:
        return "glpat-" + _rand(rng, a, 20)
    if kind == 10:
        return "npm_" + _rand(rng, a, 36)
    return "github_pat_" + _rand(rng, a + "_", 82)


def _url_credentials(rng: random.Random) -> tuple[str, int, int]:
    user, password = rng.choice(FIRST), _rand(rng, string.ascii_letters + string.digits + "!$", 12)
    scheme = rng.choice(["postgres", "mysql", "https", "redis", "ftp", "mongodb+srv"])
    text = f"{scheme}://{user}:{password}@db{rng.randint(1, 9)}.{rng.choice(DOMAINS)}:5432/app"
    start = len(scheme) + 3
    return text, start, start + len(user) + 1 + len(password)


def near_misses(rng: random.Random) -> str:
    """One sentence with something that looks like PII but is not."""
    d = string.digits
    options = [
        lambda: f"Upgrade to v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 99)} today.",
        lambda: f"Windows version 10.0.{rng.randint(10000, 22000)}.{rng.randint(1, 999)} is required.",
        lambda: f"Python {rng.randint(2, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 9)} and node {rng.randint(10, 22)}.{rng.randint(0, 9)}.0",
        lambda: f"The deadline is {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}.",
        lambda: f"Born on {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2010)} in Berlin.",
        lambda: f"Due {rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(2000, 2030)}, see you then.",
        lambda: f"BSc at XYZ University ({(y := rng.randint(1990, 2020))}-{y + rng.randint(1, 5)}).",
        lambda: f"ISBN 978-{rng.randint(0, 1)}-{_rand(rng, d, 3)}-{_rand(rng, d, 5)}-{rng.randint(0, 9)} is the new edition.",
        lambda: f"ISBN-10: {rng.randint(0, 1)}-{_rand(rng, d, 3)}-{_rand(rng, d, 5)}-{rng.randint(0, 9)}",
        lambda: f"Order #{_luhn_complete(rng.choice(['4', '5']), 16, rng, valid=False)} has shipped.",
        lambda: f"Your order number is {_group(_luhn_complete('4', 16, rng, valid=False), [4, 4, 4, 4], ' ')}.",
        lambda: f"Order {_rand(rng, d, 3)}-{_rand(rng, d, 7)}-{_rand(rng, d, 7)} was delivered.",
        lambda: f"Invoice INV-{rng.randint(2015, 2030)}-{_rand(rng, d, 6)} is overdue.",
        lambda: f"Tracking number 1Z{_rand(rng, string.ascii_uppercase + d, 16)} (UPS).",
        lambda: f"Wrong IBAN {_iban(rng, valid=False)} was rejected.",
        lambda: f"Install with npm i lodash@{rng.randint(1, 4)}.{rng.randint(0, 17)}.{rng.randint(0, 21)} first.",
        lambda: f"Follow @{rng.choice(FIRST)}_{rng.choice(LAST)} for updates.",
        lambda: f"Write to {rng.choice(FIRST)} [at] example [dot] com.",
        lambda: f"The race finished at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.",
        lambda: "MAC address " + ":".join(f"{rng.randint(0, 255):02X}" for _ in range(6)) + " is whitelisted.",
        lambda: "Use std::vector<int> and std::map instead.",
        lambda: f"The key starts with sk-{_rand(rng, string.ascii_letters, 6)} but is truncated.",
        lambda: f"Tokens look like ghp_{_rand(rng, string.ascii_letters, 8)}... in the docs.",
        lambda: f"Clone https://{rng.choice(FIRST)}@github.com/org/repo.git now.",
        lambda: f"The population was {rng.randint(1, 9)},{_rand(rng, d, 3)},{_rand(rng, d, 3)} in 2020.",
        lambda: f"Pi is about 3.{_rand(rng, d, 12)}.",
        lambda: f"Part no. {_rand(rng, d, 3)}-{_rand(rng, d, 3)}-{_rand(rng, d, 4)} fits the model.",
        lambda: f"Serial: {_rand(rng, d, 4)} {_rand(rng, d, 4)} {_rand(rng, d, 4)} {_rand(rng, d, 4)}",
        lambda: f"Ship to Beverly Hills, CA {_rand(rng, d, 5)}-{_rand(rng, d, 4)}.",
        lambda: f"Sample SSN {rng.choice(['000', '666', str(rng.randint(900, 999))])}-{_rand(rng, d, 2)}-{_rand(rng, d, 4)} is invalid.",
        lambda: f"Case {(n := _ssn_digits(rng))[:3]}-{n[3:5]}-{n[5:]} was closed.",
        lambda: f"Ticket {_ssn_digits(rng)} is resolved.",
    ]
    return rng.choice(options)()


GENERATORS = {"email": email, "phone": phone, "ip_address": ip_address, "credit_card": credit_card, "iban": iban,
              "us_ssn": us_ssn, "secret": secret}


def labelled(per_type: int, near: int | None = None, seed: int = 0) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """``per_type`` sentences per type (each with one PII value, sometimes two of different types), ``near``
    near-miss sentences (default: as many as all positives) and a few plain ones, shuffled."""
    rng = random.Random(seed)
    items: list[tuple[str, list[tuple[int, int, str]]]] = []
    for kind in TYPES:
        for _ in range(per_type):
            if kind == "secret" and rng.random() < 0.2:
                value, a, b = _url_credentials(rng)
                lead = rng.choice(["Connect with {}", "DATABASE_URL={}", "the dsn is {} in prod"])
                pre = lead.index("{}")
                items.append((lead.replace("{}", value), [(pre + a, pre + b, kind)]))
                continue
            value = (said_us_ssn if kind == "us_ssn" else GENERATORS[kind])(rng)
            lead = rng.choice(LEADS[kind])
            pre = lead.index("{}")
            text = lead.replace("{}", value)
            labels = [(pre, pre + len(value), kind)]
            if rng.random() < 0.2:  # a second finding of another type in the same text
                other = rng.choice([t for t in TYPES if t != kind])
                extra = GENERATORS[other](rng)
                start = len(text) + len(" Also ")
                text += f" Also {extra} ."
                labels.append((start, start + len(extra), other))
            items.append((text, labels))
    n_near = per_type * len(TYPES) if near is None else near
    items += [(near_misses(rng), []) for _ in range(n_near)]
    items += [(rng.choice(PLAIN), []) for _ in range(max(1, n_near // 10))]
    rng.shuffle(items)
    return items


if __name__ == "__main__":
    for text, labels in labelled(int(sys.argv[1]) if len(sys.argv) > 1 else 3, near=10):
        print(repr(text), [(text[a:b], t) for a, b, t in labels])
