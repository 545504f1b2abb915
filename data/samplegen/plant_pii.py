"""Rows for the PII stage: personal data and secrets in realistic chats (each value recorded with its type),
and near misses that look alike but are not personal data (versions, dates, ISBNs, order ids, numbers that
fail the Luhn check).

Every value is made up here. Phone numbers are in ranges reserved for fiction (US 555-01xx, UK Ofcom drama
ranges, French ARCEP fiction ranges), e-mail domains and IP ranges are the ones reserved for documentation
(example.com, 192.0.2.0/24, 2001:db8::/32) or private networks, card numbers and IBANs are random with valid
check digits, keys and tokens are random strings in the providers' formats.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import string
import unicodedata

from .lexicon import LEX
from .rows import after_another_exchange, conversation
from .writer import Writer

TYPES = ("email", "phone", "ipv4", "ipv6", "credit_card", "iban", "api_key", "private_key", "url_credentials")
NEAR_MISS_KINDS = ("version_number", "date", "isbn", "order_id_phone_like", "order_id_card_like", "luhn_invalid_number")

SURNAMES = ["Okafor", "Lindqvist", "Moreau", "Castillo", "Nakamura", "Brennan", "Kowalski", "Haddad", "Fischer",
            "Ferreira", "Novak", "Walsh", "Rossi", "Jansen", "Duarte", "Patel", "Holm", "Byrne", "Achebe", "Varga"]
ALNUM = string.ascii_letters + string.digits


def _chars(w: Writer, alphabet: str, n: int) -> str:
    return "".join(w.pick(alphabet) for _ in range(n))


def _digits(w: Writer, n: int) -> str:
    return _chars(w, string.digits, n)


def person(w: Writer) -> tuple[str, str]:
    first = w.pick(LEX["name"])
    return first, w.pick(SURNAMES)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


# ---- values -----------------------------------------------------------------------------------------


def email(w: Writer, first: str, last: str) -> str:
    f, l = _ascii(first), _ascii(last)
    local = w.pick([f"{f}.{l}", f"{f[0]}{l}", f"{f}{w.rng.randint(10, 99)}", f"{f}.{l}+{w.pick(['news', 'shop', 'work'])}",
                    f"{l}.{f}"])
    return f"{local}@{w.pick(['example.com', 'example.org', 'example.net', 'mail.example.com', 'staff.example.org'])}"


def phone(w: Writer) -> str:
    xx, xxx = f"{w.rng.randint(0, 99):02d}", f"{w.rng.randint(0, 999):03d}"
    area = w.pick(["212", "415", "646", "312", "617", "503"])
    return w.pick([f"({area}) 555-01{xx}", f"+1 {area} 555 01{xx}", f"{area}-555-01{xx}", f"{area}.555.01{xx}",
                   f"+44 20 7946 0{xxx}", f"020 7946 0{xxx}", f"07700 900{xxx}", f"+44 7700 900{xxx}",
                   f"+33 1 99 00 {xx} {w.rng.randint(0, 99):02d}", f"06 39 98 {xx} {w.rng.randint(0, 99):02d}"])


def ipv4(w: Writer) -> str:
    return w.pick([f"192.0.2.{w.rng.randint(1, 254)}", f"198.51.100.{w.rng.randint(1, 254)}",
                   f"203.0.113.{w.rng.randint(1, 254)}", f"10.{w.rng.randint(0, 255)}.{w.rng.randint(0, 255)}.{w.rng.randint(1, 254)}",
                   f"192.168.{w.rng.randint(0, 20)}.{w.rng.randint(2, 254)}"])


def ipv6(w: Writer) -> str:
    h = lambda: f"{w.rng.randint(1, 0xFFFF):x}"  # noqa: E731
    return w.pick([f"2001:db8:{h()}:{h()}::{h()}", f"2001:db8::{h()}:{h()}", f"2001:db8:{h()}:{h()}:{h()}:{h()}:{h()}:{h()}",
                   f"2001:0db8:{w.rng.randint(0, 0xFFFF):04x}:0000:0000:{w.rng.randint(0, 0xFFFF):04x}:0370:{w.rng.randint(0, 0xFFFF):04x}",
                   f"fe80::{h()}:{w.rng.randint(0, 255):02x}ff:fe{w.rng.randint(0, 255):02x}:{h()}"])


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _luhn_digit(body: str) -> str:
    return next(d for d in string.digits if luhn_ok(body + d))


def card_digits(w: Writer, valid: bool = True) -> str:
    prefix, length = w.pick([("4", 16), ("4", 16), ("5" + w.pick("12345"), 16), ("34", 15), ("37", 15), ("6011", 16)])
    body = prefix + _digits(w, length - len(prefix) - 1)
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + w.rng.randint(1, 9)) % 10)
    return body + check


def card_text(w: Writer, digits: str) -> str:
    groups = [digits[:4], digits[4:10], digits[10:]] if len(digits) == 15 else [digits[i : i + 4] for i in range(0, 16, 4)]
    return w.pick([" ", "-", " ", ""]).join(groups)


IBAN_FORMATS = {  # country: the BBAN as (kind, length) parts; "A" letters, "9" digits
    "DE": [("9", 18)], "GB": [("A", 4), ("9", 14)], "FR": [("9", 23)], "ES": [("9", 20)], "NL": [("A", 4), ("9", 10)],
    "IT": [("A", 1), ("9", 22)],
}
BANK_LETTERS = {"GB": ["NWBK", "BARC", "LOYD", "MIDL"], "NL": ["ABNA", "INGB", "RABO", "TRIO"]}


def iban_check(text: str) -> bool:
    s = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}", s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def iban(w: Writer) -> str:
    country = w.pick(sorted(IBAN_FORMATS))
    bban = ""
    for kind, n in IBAN_FORMATS[country]:
        bban += w.pick(BANK_LETTERS.get(country, ["X"])) if kind == "A" and n == 4 else (
            _chars(w, string.ascii_uppercase, n) if kind == "A" else _digits(w, n))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    compact = f"{country}{check:02d}{bban}"
    assert iban_check(compact)
    return compact if w.rng.random() < 0.4 else " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def api_key(w: Writer, provider: str) -> str:
    if provider == "openai":
        return "sk-proj-" + _chars(w, ALNUM + "_-", 56)
    if provider == "anthropic":
        return "sk-ant-api03-" + _chars(w, ALNUM + "_-", 93) + "AA"
    if provider == "github":
        return "ghp_" + _chars(w, ALNUM, 36)
    if provider == "aws_id":
        return "AKIA" + _chars(w, string.ascii_uppercase + "234567", 16)
    if provider == "aws_secret":
        return _chars(w, ALNUM + "/+", 40)
    if provider == "google":
        return "AIza" + _chars(w, ALNUM + "_-", 35)
    if provider == "slack":
        return f"xoxb-{_digits(w, 12)}-{_digits(w, 13)}-{_chars(w, ALNUM, 24)}"
    if provider == "stripe":
        return "sk_test_" + _chars(w, ALNUM, 24)
    if provider == "huggingface":
        return "hf_" + _chars(w, string.ascii_letters, 34)
    raise ValueError(provider)


KEY_VARS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "github": "GITHUB_TOKEN", "google": "GOOGLE_API_KEY",
            "slack": "SLACK_BOT_TOKEN", "stripe": "STRIPE_SECRET_KEY", "huggingface": "HF_TOKEN"}
PEM_KINDS = {"RSA PRIVATE KEY": "MIIEpAIBAAKCAQEA", "OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB",
             "EC PRIVATE KEY": "MHcCAQEEI", "PRIVATE KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"}


def private_key(w: Writer) -> str:
    kind = w.pick(sorted(PEM_KINDS))
    width = 70 if kind.startswith("OPENSSH") else 64
    body = PEM_KINDS[kind] + _chars(w, ALNUM + "+/", width * w.rng.randint(5, 8) + w.rng.randint(10, 40))
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def url_credentials(w: Writer, first: str) -> str:
    user = _ascii(first)
    pw = _chars(w, ALNUM, w.rng.randint(10, 16))
    return w.pick([f"postgres://{user}:{pw}@db.example.internal:5432/{w.pick(['shop', 'crm', 'analytics'])}",
                   f"https://{user}:{pw}@git.example.com/{w.pick(['team', 'infra', 'web'])}/{w.pick(['site', 'api', 'tools'])}.git",
                   f"mongodb+srv://{user}:{pw}@cluster0.example.net/{w.pick(['orders', 'users'])}",
                   f"ftp://{user}:{pw}@files.example.org/uploads",
                   f"redis://{user}:{pw}@cache.example.com:6379/0",
                   f"amqp://{user}:{pw}@queue.example.com:5672/"])


# ---- rows with personal data ------------------------------------------------------------------------

Found = list[tuple[str, str]]  # (type, value) in the order they appear


def row_email_draft(w: Writer, source: str) -> tuple[list[dict], Found]:
    first, last = person(w)
    mail, tel = email(w, first, last), phone(w)
    ask = w.fill("[Can you|Could you|Please] write a [short|polite|firm but friendly] email to my [landlord|building manager|"
                 "letting agent] about [the broken heating|a leak under the kitchen sink|the noisy boiler|mould in the bathroom]. "
                 "[Sign it|End it] with my details: {=n}, {=m}, {=t}.", {"n": f"{first} {last}", "m": mail, "t": tel})
    body = w.fill("Dear [Mr|Ms] {=l},\n\n[I am writing to report|I would like to let you know about] [a problem|an issue] in "
                  "the flat that [started last week|has got worse over the past few days]. [Could you|Would you please] arrange "
                  "for someone to look at it [this week|as soon as possible]? I am [at home most mornings|usually in after five], "
                  "and I can [also send photos|describe it in more detail] if that helps.\n\n[Kind regards|Best wishes|Thank you],\n"
                  "{=n}\n[Phone|Tel.|Mobile]: {=t}\n[Email|E-mail]: {=m}",
                  {"l": w.pick([s for s in SURNAMES if s != last]), "n": f"{first} {last}", "m": mail, "t": tel})
    lead = w.pick(["Here is a draft you can adapt:", "Sure, here is one way to put it:", "Of course. A possible version:"])
    turns = [{"from": "human", "value": ask}, {"from": "gpt", "value": f"{lead}\n\n{body}"}]
    return after_another_exchange(w, source, turns), [("email", mail), ("phone", tel)]


def row_env_file(w: Writer, source: str) -> tuple[list[dict], Found]:
    first, _ = person(w)
    url = url_credentials(w, first)
    provider = w.pick(sorted(KEY_VARS))
    key = api_key(w, provider)
    env = f"DATABASE_URL={url}\n{KEY_VARS[provider]}={key}\nDEBUG={w.pick(['false', 'true', '0'])}"
    ask = w.fill("[My app|The service|Our staging server] [cannot connect|fails on start-up|times out] after the move to "
                 "the new host. Here is the .env file:\n\n```\n{=env}\n```\n\n[What am I missing?|What could be wrong?|"
                 "Where should I look first?]", {"env": env})
    answer = w.fill("[Two things stand out.|A few things to check.] First, the host in the connection string must be "
                    "reachable from the new machine: [try connecting with the same URL from a shell there|check the "
                    "firewall and the port], and make sure the database user is allowed to log in from that address. "
                    "Second, [make sure the app actually loads the file|check that the process reads this .env file] "
                    "(print the variable names, never their values, at start-up).\n\n[Also|One more thing]: you have "
                    "pasted a live-looking key and a password here. Rotate both now and keep them in a secret store "
                    "rather than in chat messages or in the repository.")
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [
        ("url_credentials", url), ("api_key", key)]


def row_code_key(w: Writer, source: str) -> tuple[list[dict], Found]:
    provider = w.pick(["openai", "anthropic", "google", "huggingface", "github"])
    key = api_key(w, provider)
    var = w.pick(["client", "api", "session", "conn"])
    code = w.pick([f'{var} = Client(api_key="{key}")\nresult = {var}.complete("hello")',
                   f'HEADERS = {{"Authorization": "Bearer {key}"}}\nresponse = requests.get(URL, headers=HEADERS, timeout=10)'])
    ask = w.fill("[Why does this return|I keep getting] a 401 [error|response] [even though the key is new|since this "
                 "morning]?\n\n```python\n{=code}\n```", {"code": code})
    answer = w.fill("A 401 means the server did not accept the credentials. [Check|Confirm] that the key belongs to the "
                    "[project|account] you are calling, that it has not been revoked, and that there is no stray space "
                    "around it. [Better still|In any case], do not put the key in the source: read it from an environment "
                    "variable, for example `os.environ[\"API_KEY\"]`, and since this one has now been shared, revoke it "
                    "and create a new one.")
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("api_key", key)]


def row_aws(w: Writer, source: str) -> tuple[list[dict], Found]:
    key_id, secret = api_key(w, "aws_id"), api_key(w, "aws_secret")
    ask = w.fill("boto3 [says InvalidClientTokenId|raises a SignatureDoesNotMatch error] when I list my buckets. "
                 "This is my ~/.aws/credentials:\n\n```\n[default]\naws_access_key_id = {=i}\naws_secret_access_key = {=s}\n"
                 "region = [eu-west-1|us-east-2|eu-central-1]\n```", {"i": key_id, "s": secret})
    answer = w.fill("[That error usually means|Most often this means] the key pair does not match: the secret belongs to a "
                    "different access key, or the key was deactivated. Run `aws sts get-caller-identity` to see which "
                    "identity the tools pick up, and check that no environment variable overrides the file. Because the "
                    "pair is now in this conversation, deactivate it in the IAM console and create a fresh one.")
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [
        ("api_key", key_id), ("api_key", secret)]


def row_logs(w: Writer, source: str) -> tuple[list[dict], Found]:
    a, b = ipv4(w), ipv6(w)
    stamp = lambda: f"{w.pick(['Mar', 'Apr', 'Oct'])} {w.rng.randint(10, 28)} 0{w.rng.randint(1, 9)}:{w.rng.randint(10, 59)}:{w.rng.randint(10, 59)}"  # noqa: E731
    lines = [f"{stamp()} web1 sshd[{w.rng.randint(1000, 9999)}]: Failed password for {w.pick(['root', 'admin', 'ubuntu'])} "
             f"from {a} port {w.rng.randint(30000, 65000)} ssh2",
             f"{stamp()} web1 sshd[{w.rng.randint(1000, 9999)}]: Invalid user {w.pick(['test', 'oracle', 'deploy', 'pi'])} "
             f"from {b} port {w.rng.randint(30000, 65000)}"]
    w.rng.shuffle(lines)
    log = "\n".join(lines)
    ask = w.fill("[Why do I see so many|What should I do about these] failed logins in my auth log?\n\n```\n{=log}\n```", {"log": log})
    answer = w.fill("These are [automated password guesses|brute-force attempts], most likely from scanners. Block the two "
                    "sources for now with `sudo ufw deny from {=a}` and `sudo ufw deny from {=b}`, then [switch to key-based "
                    "logins only|disable password logins] in `sshd_config` and consider fail2ban, which bans such addresses "
                    "automatically.", {"a": a, "b": b})
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("ipv4", a), ("ipv6", b)]


def row_firewall(w: Writer, source: str) -> tuple[list[dict], Found]:
    a, b = ipv4(w), ipv6(w)
    ask = w.fill("How do I [allow SSH only from|restrict SSH to] my home address {=a} and the office network at {=b} "
                 "[using ufw|with ufw on Ubuntu]?", {"a": a, "b": b})
    answer = w.fill("[Add one rule per address and then close the port for everyone else.|Allow the two sources "
                    "first, then deny the rest.] ufw checks rules in order, so the two allow rules must come before the "
                    "deny rule, and IPv6 rules only work if `IPV6=yes` is set in `/etc/default/ufw`.\n\n```\n"
                    "sudo ufw allow from {=a} to any port 22 proto tcp\nsudo ufw allow proto tcp from {=b} to any port ssh\n"
                    "sudo ufw deny 22/tcp\nsudo ufw enable\nsudo ufw status numbered\n```\n\nThe last command lists the "
                    "rules with their numbers, which makes it easy to delete one later. [Keep a second session open while "
                    "you test, so a typo cannot lock you out.|Test from a second terminal before you close the current one.] "
                    "If your home address changes often, a VPN or a bastion host is more robust than a list of addresses.",
                    {"a": a, "b": b})
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("ipv4", a), ("ipv6", b)]


def row_card(w: Writer, source: str) -> tuple[list[dict], Found]:
    card = card_text(w, card_digits(w))
    shop = w.pick(["an online bookshop", "a furniture store", "the airline", "a concert ticket site", "the gym"])
    ask = w.fill("My card {=c} was charged twice by {=s} [last week|on Saturday|for the same order]. [Can you draft|Please "
                 "write] a short message to my bank [asking them to reverse the second payment|to dispute the duplicate charge]?",
                 {"c": card, "s": shop})
    mention = card if w.rng.random() < 0.5 else "ending in " + card.replace(" ", "").replace("-", "")[-4:]
    answer = w.fill("[Here is a message you can send:|Something like this should work:]\n\nHello,\n\nA single purchase "
                    "from {=s} appears twice on my statement for the card {=m}. [Please reverse the duplicate payment|I "
                    "would like to dispute the second one] and let me know once it is done. I can [provide the receipt|"
                    "forward the order confirmation] if needed.\n\nThank you.\n\n[Banks usually resolve duplicates within "
                    "a few working days|If the shop refunds it first, tell the bank so the dispute can be closed].",
                    {"m": mention, "s": shop})
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("credit_card", card)]


def row_iban(w: Writer, source: str) -> tuple[list[dict], Found]:
    value = iban(w)
    first, last = person(w)
    ask = w.fill("[Can you check that|Could you tell me if] this IBAN looks right before I [pay the deposit|send the rent|"
                 "transfer the course fee]? {=i}. The account holder is {=n}.", {"i": value, "n": f"{first} {last}"})
    answer = w.fill("The format looks plausible: {=cc} is the country code, the next two digits are the check digits, and "
                    "the rest identifies the bank and the account. [Your banking app|The bank's transfer form] will verify "
                    "the check digits when you enter {=i}, but it cannot confirm who owns the account, so [confirm the "
                    "details with {=f} by phone|check the account holder name with {=f} directly] before you send money.",
                    {"cc": value[:2], "i": value, "f": first})
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("iban", value)]


def row_private_key(w: Writer, source: str) -> tuple[list[dict], Found]:
    pem = private_key(w)
    ask = w.fill("I [accidentally committed|pushed by mistake] this file to a [public|shared] repository. How bad is it?"
                 "\n\n```\n{=k}\n```", {"k": pem})
    answer = w.fill("[It is serious|This needs action now]: anyone who saw the repository can use that key. Treat it as "
                    "compromised. Remove its public half from every server and service that trusts it, generate a new "
                    "pair, and only then clean the history with a tool such as git filter-repo, because deleting the "
                    "file in a new commit leaves it in the old ones.")
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("private_key", pem)]


def row_git_remote(w: Writer, source: str) -> tuple[list[dict], Found]:
    first, _ = person(w)
    url = url_credentials(w, first)
    ask = w.fill("[My deploy script|The nightly job] fails to connect with this URL: `{=u}`. [It worked yesterday.|"
                 "Nothing changed on our side.] What should I check?", {"u": url})
    answer = w.fill("[First check|Start with] whether the password in the URL is still valid; a rotated password is the "
                    "most common cause. [Then|Also] move the credentials out of the URL: pass them through a credential "
                    "helper or environment variables, because URLs end up in logs, shell history and error messages.")
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), [("url_credentials", url)]


def row_contacts(w: Writer, source: str) -> tuple[list[dict], Found]:
    people = [person(w) for _ in range(w.rng.randint(2, 3))]
    found: Found = []
    notes, table = [], ["| Name | Phone | Email |", "|---|---|---|"]
    for first, last in people:
        mail, tel = email(w, first, last), phone(w)
        found += [("email", mail), ("phone", tel)]
        notes.append(w.pick([f"{first} {last} - {mail} - {tel}", f"{first} {last}, mail {mail}, phone {tel}",
                             f"{last}, {first}: {mail} / {tel}"]))
        table.append(f"| {first} {last} | {tel} | {mail} |")
    ask = w.fill("[Turn these notes into a table|Please put these contacts in a table] with name, email and phone[:| for "
                 "the volunteer list:]\n\n") + "\n".join(notes)
    answer = w.pick(["Here is the table:", "Done:", "Sure:"]) + "\n\n" + "\n".join(table)
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}]), found


def row_incidental(w: Writer, source: str) -> tuple[list[dict], Found]:
    """An ordinary conversation with one piece of personal data dropped into it."""
    turns = conversation(w, source, n_ex=w.rng.choice([1, 1, 2]), size=0.8, system=False)
    first, last = person(w)
    kind = w.pick(["email", "phone", "ipv4", "email", "phone", "credit_card"])
    value = {"email": lambda: email(w, first, last), "phone": lambda: phone(w), "ipv4": lambda: ipv4(w),
             "credit_card": lambda: card_text(w, card_digits(w))}[kind]()
    sentence = {
        "email": ["You can reach me at {=v} if you want to send more material.", "My address is {=v} in case you need it."],
        "phone": ["My number is {=v} if it is easier to talk it through.", "Call me on {=v} if anything is unclear."],
        "ipv4": ["I'm on the office network at {=v}, if that matters.", "The machine I use has the address {=v}."],
        "credit_card": ["I already paid with my card {=v}, so please keep it short.", "(My card {=v} is on file, if relevant.)"],
    }[kind]
    text = w.fill(w.pick(sentence), {"v": value})
    human = [i for i, t in enumerate(turns) if t["from"] == "human"]
    i = w.pick(human)
    turns[i]["value"] = turns[i]["value"] + " " + text if w.rng.random() < 0.6 else text + " " + turns[i]["value"]
    return turns, [(kind, value)]


PII_ROWS = {  # kind of row: how many
    "email_draft": (row_email_draft, 6), "env_file": (row_env_file, 5), "code_key": (row_code_key, 5), "aws": (row_aws, 3),
    "logs": (row_logs, 5), "firewall": (row_firewall, 5), "card": (row_card, 9), "iban": (row_iban, 10),
    "private_key": (row_private_key, 6), "git_remote": (row_git_remote, 5), "contacts": (row_contacts, 4),
    "incidental": (row_incidental, 8),
}


# ---- near misses ------------------------------------------------------------------------------------


def versions(w: Writer) -> tuple[str, str]:
    """An older and a newer version number, written the same way."""
    major, minor, patch = w.rng.randint(1, 12), w.rng.randint(0, 30), w.rng.randint(0, 12)
    new = w.pick([(major + 1, 0, 0), (major, minor + w.rng.randint(1, 4), 0), (major, minor, patch + w.rng.randint(1, 3))])
    style = w.pick(["{}.{}.{}", "v{}.{}.{}", "{}.{}.{}"])
    return style.format(major, minor, patch), style.format(*new)


def dates(w: Writer) -> tuple[str, str, str]:
    """A start, an end and a review date in that order, in one of the common written forms."""
    start = datetime.date(w.rng.randint(2019, 2026), w.rng.randint(1, 12), w.rng.randint(1, 28))
    end = start + datetime.timedelta(days=w.rng.randint(10, 60))
    review = end + datetime.timedelta(days=w.rng.randint(2, 9))
    form = w.pick(["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y"])
    return start.strftime(form), end.strftime(form), review.strftime(form)


def isbn13(w: Writer) -> str:
    while True:
        body = w.pick(["978", "979"]) + _digits(w, 9)
        check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
        digits = body + str(check)
        if not luhn_ok(digits):  # so that no card check could take it for a card number either
            return f"{digits[:3]}-{digits[3]}-{digits[4:7]}-{digits[7:12]}-{digits[12]}"


def order_phone_like(w: Writer) -> str:
    """Digit groups shaped like a phone number, but no valid one (a leading 0 or 1 in a 3-3-4 group, or a prefix)."""
    return w.pick([f"#{w.pick('01')}{_digits(w, 2)}-{_digits(w, 3)}-{_digits(w, 4)}", f"ORD-{_digits(w, 6)}-{_digits(w, 4)}",
                   f"{w.pick('01')}{_digits(w, 2)} {_digits(w, 3)} {_digits(w, 4)}"])


def card_like(w: Writer) -> str:
    """Four groups of four digits that fail the Luhn check."""
    while True:
        digits = _digits(w, 16)
        if not luhn_ok(digits):
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4)) if w.rng.random() < 0.5 else "-".join(
                digits[i : i + 4] for i in range(0, 16, 4))


PACKAGES = ["numpy", "pandas", "Django", "React", "PostgreSQL", "Node.js", "Kubernetes", "pytest", "Terraform", "Flask"]
BOOKS = [("The Structure of Scientific Revolutions", "Kuhn, T."), ("A Short History of Nearly Everything", "Bryson, B."),
         ("The Selfish Gene", "Dawkins, R."), ("Silent Spring", "Carson, R."), ("The Double Helix", "Watson, J."),
         ("Guns, Germs, and Steel", "Diamond, J."), ("The Origin of Species", "Darwin, C."), ("Cosmos", "Sagan, C.")]


def near_miss_turns(w: Writer, kind: str, source: str) -> tuple[list[dict], list[str]]:
    """A chat whose numbers look like personal data but are not; returns the turns and those values."""
    if kind == "version_number":
        pkg, (v1, v2) = w.pick(PACKAGES), versions(w)
        ask = w.fill("After upgrading {=p} from {=a} to {=b}, [my tests fail|the build breaks|the app starts much more "
                     "slowly]. [What changed?|How do I find out what broke?]", {"p": pkg, "a": v1, "b": v2})
        answer = w.fill("Start with the release notes for every version between {=a} and {=b}, looking for removed or "
                        "deprecated features. [If you need time to adapt|Meanwhile], pin {=p} to {=a} in your requirements, "
                        "then upgrade one step at a time and run the tests after each step.", {"p": pkg, "a": v1, "b": v2})
        values = [v1, v2]
    elif kind == "date":
        d1, d2, d3 = dates(w)
        ask = w.fill("Our [sprint|course|renovation] runs from {=a} to {=b}, and the [review|final check] is on {=c}. [Can "
                     "you draft a short plan?|How should we split the work?]", {"a": d1, "b": d2, "c": d3})
        answer = w.fill("Work back from {=c}: keep the last few days before it for fixes, set a midpoint check halfway "
                        "between {=a} and {=b}, and put the riskiest tasks first so that surprises appear early.",
                        {"a": d1, "b": d2, "c": d3})
        values = [d1, d2, d3]
    elif kind == "isbn":
        books = w.rng.sample(BOOKS, w.rng.randint(2, 3))
        isbns = [isbn13(w) for _ in books]
        ask = "[Please format these references in APA style|Can you turn these into a reference list]:\n\n"
        ask = w.fill(ask) + "\n".join(f"{t}, {a}, ISBN {i}" for (t, a), i in zip(books, isbns))
        answer = "\n".join(f"{a} ({w.rng.randint(1960, 2015)}). *{t}*. ISBN {i}." for (t, a), i in zip(books, isbns))
        answer = w.pick(["Here they are:", "Reference list:"]) + "\n\n" + answer
        values = isbns
    elif kind == "order_id_phone_like":
        order = order_phone_like(w)
        ask = w.fill("My order {=o} has not arrived [yet|after two weeks], and the tracking page shows nothing. [What should "
                     "I write to the shop?|Can you help me word a complaint?]", {"o": order})
        answer = w.fill("[Here is a short message:|Something like this:]\n\nHello, I am still waiting for {=o}, "
                        "[placed|ordered] [two weeks ago|on the fourteenth|last month]. Could you [check where the parcel "
                        "is|find out what happened to the parcel] and [tell me when it will arrive|let me know the new "
                        "delivery date], or [arrange a refund|cancel it and refund me]? [Thank you.|Many thanks.]\n\n"
                        "[Keep a copy of the message|Note the date you sent it] in case you need to escalate.", {"o": order})
        values = [order]
    elif kind == "order_id_card_like":
        order, ref = card_like(w), card_like(w)
        ask = w.fill("The invoice lists order number {=o} and [a customer reference|an account reference] {=r}. Which "
                     "one do I quote when I [contact|email] support?", {"o": order, "r": ref})
        answer = w.fill("Quote the order number, {=o}, since support looks orders up by it; add the reference {=r} only if "
                        "they ask for your account.", {"o": order, "r": ref})
        values = [order, ref]
    elif kind == "luhn_invalid_number":
        number = card_like(w)
        ask = w.fill("[The shop says my card number is invalid|The payment form rejects my card]. I typed {=n}. Did I "
                     "mistype it?", {"n": number})
        answer = w.fill("[Probably|Most likely], yes: card numbers end in a check digit (the Luhn check), and that "
                        "sequence [does not pass it|fails it], so [one digit is wrong or two neighbours are swapped|a digit "
                        "was probably mistyped]. [Type it again from the card itself rather than from a note.|Read it off "
                        "the card again, group by group.] [If it still fails, the shop may not accept that card type.|"
                        "Some forms also reject spaces, so try it without them.]")
        values = [number]
    else:
        raise ValueError(kind)
    return after_another_exchange(w, source, [{"from": "human", "value": ask}, {"from": "gpt", "value": answer}], 0.6), values


# ---- a reference detector, for the self-checks ------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_DIGIT_RUN = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_SECRET = re.compile(r"\b(?:sk-(?:proj|ant)-[\w-]{20,}|ghp_\w{36}|AKIA[A-Z2-7]{16}|AIza[\w-]{35}|xoxb-[\d-]+-\w+|sk_(?:test|live)_\w{16,}|hf_[A-Za-z]{30,})")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_URL_CRED = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]*:[^\s@/]+@")


def detect(text: str) -> list[tuple[str, str]]:
    """What a careful detector must flag in ``text`` (all types but phone numbers, whose shape is ambiguous)."""
    out = [("email", m) for m in _EMAIL.findall(text)]
    for m in _IPV4.findall(text):
        try:
            ipaddress.IPv4Address(m)
            out.append(("ipv4", m))
        except ValueError:
            pass
    for m in _IPV6.findall(text):
        try:
            if m.count(":") >= 2 and ipaddress.IPv6Address(m):
                out.append(("ipv6", m))
        except ValueError:
            pass
    for m in _DIGIT_RUN.findall(text):
        digits = re.sub(r"\D", "", m)
        if luhn_ok(digits) and digits[0] in "3456":
            out.append(("credit_card", m))
    out += [("iban", m) for m in _IBAN.findall(text) if iban_check(m)]
    out += [("private_key", m) for m in _PEM.findall(text)]
    out += [("url_credentials", m) for m in _URL_CRED.findall(text)]
    out += [("api_key", m) for m in _SECRET.findall(text)]
    return out
