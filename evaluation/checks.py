"""Instruction-following checks a program can verify: pure functions of an answer's text.

Each check takes the answer and its parameters and returns a :class:`CheckResult` with what it measured, so
a table can show *why* a check passed or failed. They are heuristics over the text's structure (headings,
list items, money amounts, key words), written for the seed's three prompts but parameterised so that a
prompt file can reuse them (``checks: [{name: days_covered, days: 5}]``). Registry: :data:`CHECKS`.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Callable, get_type_hints

from pydantic import AfterValidator, Field, ValidationError, create_model

from curation.core.config_base import StrictModel
from curation.filters import duplicate_ngram_fraction, words_of


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str  # one line: what was measured

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


# -- text structure ----------------------------------------------------------------------------------------

_HEADING_MD = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_BOLD_LINE = re.compile(r"^\s*(?:[-*•]\s*)?\*\*[^*]+\*\*\s*:?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•+]|[a-z][.)])\s+\S", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*\"'(])")


def answer_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]


def is_heading(line: str) -> bool:
    """A Markdown heading, a bold-only line, or a short line ending with a colon."""
    stripped = line.strip()
    if not stripped:
        return False
    if _HEADING_MD.match(line) or _BOLD_LINE.match(line):
        return True
    bare = stripped.strip("*_ ")
    return bare.endswith(":") and len(bare) <= 60 and not _LIST_ITEM.match(stripped)


def is_list_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line))


def sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in answer_lines(text):
        if line.strip():
            out.extend(s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip())
    return out


# -- money -------------------------------------------------------------------------------------------------

_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?"
# A bare amount (``500 dollars``) starts where a number starts: not inside a run of digits, nor after a digit and a
# comma (inside ``1,000``). Without that its search tried every position of a run, each trying every length of
# the run's rest before the missing ``dollars``: quadratic (a model looping on '1111...': 10,000 digits, 9 s).
_NUMBER_START = r"(?<!\d)(?<!\d,)"
_MONEY = re.compile(
    rf"(?:\$|US\$|USD\s?)\s?{_NUM}(?:\s?(?:-|–|—|to)\s?(?:\$|US\$|USD\s?)?\s?{_NUM})?"
    rf"|{_NUMBER_START}{_NUM}(?:\s?(?:-|–|to)\s?{_NUM})?\s?(?:USD|dollars)\b",
    re.IGNORECASE,
)


def _number(whole: str | None, cents: str | None) -> float | None:
    if whole is None:
        return None
    return float(whole.replace(",", "")) + (float(f"0.{cents}") if cents else 0.0)


def money_amounts(line: str) -> list[float]:
    """Dollar amounts in a line; a range (``$100-150``) counts as its upper bound."""
    out = []
    for m in _MONEY.finditer(line):
        g = m.groups()
        first = _number(g[0], g[1]) if g[0] is not None else _number(g[4], g[5])
        second = _number(g[2], g[3]) if g[0] is not None else _number(g[6], g[7])
        out.append(max(v for v in (first, second) if v is not None))
    return out


# -- the checks --------------------------------------------------------------------------------------------

_CARDINALS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
              "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_NUMBER_WORDS = {**{w: n for n, w in enumerate(_CARDINALS, 1)}, **{w: n for n, w in enumerate(_ORDINALS, 1)}}
# a day number has up to three digits: `days` goes to 366 (``Day 100`` of a long trip, or beyond a short one)
_DAY = re.compile(rf"\bday\s*(\d{{1,3}}|{'|'.join(_CARDINALS)})\b|\b({'|'.join(_ORDINALS)})\s+day\b", re.IGNORECASE)


def _ranges(numbers: list[int]) -> str:
    """Sorted whole numbers as a short line: runs of three or more as ``4-30``."""
    parts: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}, {prev}" if prev == start + 1 else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)


def days_covered(answer: str, days: int = 3) -> CheckResult:
    """The itinerary names every day 1..``days`` (``Day 1``, ``Day Two``, ``first day``) and no day beyond.
    Day numbers are read up to 999 (``days`` may be 366), words up to twenty (``Day Twenty``, ``tenth day``)."""
    found = set()
    for m in _DAY.finditer(answer):
        token = (m.group(1) or m.group(2)).lower()
        found.add(int(token) if token.isdigit() else _NUMBER_WORDS[token])
    missing = [d for d in range(1, days + 1) if d not in found]
    extra = sorted(d for d in found if d > days)
    passed = not missing and not extra
    detail = f"days named: {_ranges(sorted(found)) or 'none'}"
    if missing:
        detail += f"; missing {_ranges(missing)}"
    if extra:
        detail += f"; beyond a {days}-day trip: {_ranges(extra)}"
    return CheckResult(f"covers_{days}_days", passed, detail)


_NOT_AN_ITEM = re.compile(r"\b(total|overall|grand|remaining|left over|leftover|under budget|within budget|"
                          r"budget of|budget is|budget:|per person budget)\b", re.IGNORECASE)


def budget_lines(answer: str) -> list[tuple[str, float]]:
    """The budget breakdown's items: money lines of the section headed 'budget'/'cost' (else all money lines),
    without total/remaining lines; each item counts its largest amount (``$150 x 2 = $300`` -> 300)."""
    lines = answer_lines(answer)
    start = next((i for i, line in enumerate(lines)
                  if re.search(r"budget|cost", line, re.IGNORECASE) and (is_heading(line) or not money_amounts(line))
                  and not is_list_item(line)), None)
    section = lines
    if start is not None:
        end = len(lines)
        for j in range(start + 1, len(lines)):
            if is_heading(lines[j]) and not money_amounts(lines[j]) and not re.search(r"budget|cost", lines[j], re.I):
                end = j
                break
        section = lines[start + 1:end]
        if not any(money_amounts(line) for line in section):  # a 'budget' mention with no breakdown under it
            section = lines
    items = []
    for line in section:
        amounts = money_amounts(line)
        if amounts and not _NOT_AN_ITEM.search(line):
            items.append((line.strip(), max(amounts)))
    return items


def budget_breakdown(answer: str, min_items: int = 3) -> CheckResult:
    items = budget_lines(answer)
    return CheckResult("budget_breakdown", len(items) >= min_items,
                       f"{len(items)} budget line(s) with a dollar amount (need {min_items})")


def budget_within(answer: str, budget: float = 3000.0) -> CheckResult:
    """The breakdown's items add up to no more than ``budget`` (and to something)."""
    items = budget_lines(answer)
    total = sum(v for _, v in items)
    passed = len(items) >= 2 and 0 < total <= budget
    return CheckResult("budget_within", passed,
                       f"{len(items)} budget line(s) sum to ${total:,.0f} (budget ${budget:,.0f})")


def keywords(answer: str, terms: list[str] | tuple[str, ...], min_count: int = 2, label: str = "keywords") -> CheckResult:
    """At least ``min_count`` distinct terms of ``terms`` appear (whole words, any case)."""
    hits = [t for t in terms if re.search(rf"\b{re.escape(t)}", answer, re.IGNORECASE)]
    return CheckResult(label, len(hits) >= min_count, f"{len(hits)} found ({', '.join(hits[:6]) or 'none'}); need {min_count}")


CHILD_MARKERS = (r"10[- ]year[- ]old", r"ten[- ]year[- ]old", r"\bkids?\b", r"\bchild(?:ren)?\b", r"\byoung\b",
                 r"\blittle\b", r"\bsimple terms\b")
COLLEGE_MARKERS = (r"\bcollege\b", r"\buniversity\b", r"\bundergraduate\b", r"\bbiology student\b",
                   r"\bstudent\b", r"\badvanced\b")
TECHNICAL_TERMS = ("chlorophyll", "chloroplast", "thylakoid", "stroma", "calvin cycle", "light-dependent",
                   "light dependent", "light-independent", "photosystem", "atp", "nadph", "rubisco", "carbon fixation",
                   "electron transport", "stomata", "photolysis", "g3p", "glyceraldehyde", "photophosphorylation",
                   "pigment", "wavelength", "oxidation", "reduction", "enzyme", "granum", "grana", "redox")


def _first(patterns: tuple[str, ...], text: str, start: int = 0) -> int | None:
    hits = [m.start() for p in patterns if (m := re.compile(p, re.IGNORECASE).search(text, start))]
    return min(hits) if hits else None


def audience_parts(answer: str) -> tuple[str, str] | None:
    """(the part for the child, the part for the college student), split where the college part starts."""
    child = _first(CHILD_MARKERS, answer)
    if child is None:
        return None
    college = _first(COLLEGE_MARKERS, answer, child + 1)
    if college is None:
        return None
    # the college part starts at the line (or sentence) that introduces it
    cut = max(answer.rfind("\n", 0, college) + 1, 0)
    if cut <= child:
        cut = college
    return answer[:cut], answer[cut:]


def both_audiences(answer: str, min_words: int = 30) -> CheckResult:
    """The answer addresses the 10-year-old first, then the college student, each with some substance."""
    parts = audience_parts(answer)
    if parts is None:
        has_child = _first(CHILD_MARKERS, answer) is not None
        has_college = _first(COLLEGE_MARKERS, answer) is not None
        return CheckResult("both_audiences", False,
                           f"child part {'found' if has_child else 'missing'}, college part "
                           f"{'found after it' if has_college and has_child else 'missing'}")
    child, college = (len(words_of(p)) for p in parts)
    return CheckResult("both_audiences", child >= min_words and college >= min_words,
                       f"child part {child} words, college part {college} words (need {min_words} each)")


def _terms(text: str) -> list[str]:
    return [t for t in TECHNICAL_TERMS if re.search(rf"\b{re.escape(t)}\b", text, re.IGNORECASE)]


def terminology_gap(answer: str, min_terms: int = 3) -> CheckResult:
    """The college part uses at least ``min_terms`` technical terms, more than the child part does."""
    parts = audience_parts(answer)
    if parts is None:
        return CheckResult("terminology_gap", False, "could not find the two audience parts")
    child, college = _terms(parts[0]), _terms(parts[1])
    passed = len(college) >= min_terms and len(college) > len(child)
    return CheckResult("terminology_gap", passed,
                       f"technical terms: child part {len(child)}, college part {len(college)} "
                       f"({', '.join(college[:5]) or 'none'}); need {min_terms}+ and more than the child part")


OPTIONS = {
    "wind": (r"wind turbines?", r"wind power", r"wind energy", r"wind farms?", r"\bwind\b"),
    "solar": (r"solar panels?", r"solar power", r"solar energy", r"photovoltaics?", r"\bPV\b", r"\bsolar\b"),
}
_RECOMMEND = re.compile(r"\b(recommend\w*|would choose|i choose|i'd choose|my choice|choose|opt for|go with|prefer|"
                        r"would pick|best choice|better choice|better option|best option)\b", re.IGNORECASE)
_BOTH = re.compile(r"\b(both|combination|combine|hybrid|mix of)\b", re.IGNORECASE)


# an option's pattern comes from a prompt file, so it may backtrack without end on some answer ("(a+)+$" on 40 a's
# and a b): it runs under the `regex` module's time limit, and one that reaches it fails the check and says which
OPTION_SECONDS = 1.0


class _SlowOption(Exception):
    def __init__(self, pattern: str):
        super().__init__(pattern)
        self.pattern = pattern


def _first_option(patterns: tuple[str, ...], text: str) -> int | None:
    import regex  # a dependency (re has no time limit); imported here: only single_choice with options needs it

    hits = []
    for p in patterns:
        try:
            m = regex.compile(p, regex.IGNORECASE).search(text, timeout=OPTION_SECONDS)
        except TimeoutError:
            raise _SlowOption(p) from None
        if m:
            hits.append(m.start())
    return min(hits) if hits else None


def _option_at(text: str, options: dict[str, tuple[str, ...]]) -> str | None:
    best: tuple[int, str] | None = None
    for name, patterns in options.items():
        pos = _first_option(patterns, text)
        if pos is not None and (best is None or pos < best[0]):
            best = (pos, name)
    return best[1] if best else None


def single_choice(answer: str, options: dict[str, tuple[str, ...]] | None = None) -> CheckResult:
    """The first recommending sentence picks exactly one option (not 'both' or a hybrid). ``options``: each
    option's name and the regular expressions (any case) that name it, as :data:`OPTIONS` has them."""
    options = options or OPTIONS
    try:
        return _single_choice(answer, options)
    except _SlowOption as slow:
        return CheckResult("single_choice", False, f"option pattern {slow.pattern[:80]!r} ran over {OPTION_SECONDS:g} s "
                                                   "on this answer (a pattern that backtracks without end?)")


def _single_choice(answer: str, options: dict[str, tuple[str, ...]]) -> CheckResult:
    for sentence in sentences(answer):
        m = _RECOMMEND.search(sentence)
        if not m:
            continue
        after = sentence[m.end():]
        chosen = _option_at(after, options) or _option_at(sentence[: m.start()], options)
        if chosen is None:
            continue
        if _BOTH.search(after.split(".")[0][:80]):
            return CheckResult("single_choice", False, f"recommends more than one: {sentence[:90]!r}")
        return CheckResult("single_choice", True, f"chose {chosen}: {sentence[:90]!r}")
    return CheckResult("single_choice", False, "no sentence recommends one of " + ", ".join(options))


_ORDINAL = re.compile(r"^\s*(?:\*\*)?(first(?:ly)?|second(?:ly)?|third(?:ly)?|fourth(?:ly)?|fifth(?:ly)?|"
                      r"additionally|moreover|furthermore|finally|lastly|another reason)\b", re.IGNORECASE)
_CHALLENGE = re.compile(r"challeng|drawback|disadvantage|downside|limitation|risk", re.IGNORECASE)


def challenge_start(answer: str) -> int | None:
    """Where the challenges part starts: a heading, or the sentence (outside a list item) that first names one."""
    offset = 0
    for line in answer_lines(answer):
        if _CHALLENGE.search(line):
            if is_heading(line):
                return offset
            if not is_list_item(line):
                pos = 0
                for sentence in _SENTENCE_END.split(line):
                    pos = line.find(sentence, pos)
                    if _CHALLENGE.search(sentence):
                        return offset + pos
                    pos += len(sentence)
        offset += len(line) + 1
    return None


def reasons(answer: str, min_reasons: int = 3) -> CheckResult:
    """At least ``min_reasons`` reasons before the challenges: list items, else sentences opening with an ordinal."""
    stop = challenge_start(answer)
    body = answer[: stop if stop is not None else len(answer)]
    name = "three_reasons" if min_reasons == 3 else "reasons"
    items = [line for line in answer_lines(body) if is_list_item(line) and len(words_of(line)) >= 3]
    ordinals = [s for s in sentences(body) if _ORDINAL.match(s)]
    n, how = (len(items), "listed") if len(items) >= len(ordinals) else (len(ordinals), "ordinal-led")
    return CheckResult(name, n >= min_reasons, f"{n} {how} reason(s) before the challenges (need {min_reasons})")


def challenges_section(answer: str, min_words: int = 8) -> CheckResult:
    """A heading or sentence about challenges/drawbacks, with at least ``min_words`` words of content from there."""
    start = challenge_start(answer)
    if start is None:
        return CheckResult("challenges_section", False, "no challenges/drawbacks part")
    content = len(words_of(answer[start:]))
    line = answer.count("\n", 0, start) + 1
    return CheckResult("challenges_section", content >= min_words,
                       f"challenges part from line {line}: {content} words (need {min_words})")


def no_repetition(answer: str, n: int = 5, max_fraction: float = 0.15) -> CheckResult:
    """Gopher's duplicated word n-gram fraction stays low: the model did not loop (same measure as the filters)."""
    words = words_of(answer)
    fraction = duplicate_ngram_fraction(words, n, max(1, sum(len(w) for w in words)))
    return CheckResult("no_repetition", fraction <= max_fraction,
                       f"duplicated {n}-gram characters {fraction:.0%} (max {max_fraction:.0%})")


def min_words(answer: str, words: int = 80) -> CheckResult:
    n = len(words_of(answer))
    return CheckResult("long_enough", n >= words, f"{n} words (need {words})")


CHECKS: dict[str, Callable[..., CheckResult]] = {
    "days_covered": days_covered,
    "budget_breakdown": budget_breakdown,
    "budget_within": budget_within,
    "keywords": keywords,
    "both_audiences": both_audiences,
    "terminology_gap": terminology_gap,
    "single_choice": single_choice,
    "reasons": reasons,
    "challenges_section": challenges_section,
    "no_repetition": no_repetition,
    "min_words": min_words,
}


# what a prompt file may give each parameter (by name, for every check that has it); the types are the signatures'
_PARAM_LIMITS: dict[str, Any] = {
    "days": Field(ge=1, le=366), "budget": Field(gt=0), "n": Field(ge=1), "max_fraction": Field(ge=0, le=1),
    "min_items": Field(ge=0), "min_count": Field(ge=0), "min_words": Field(ge=0), "min_terms": Field(ge=0),
    "min_reasons": Field(ge=0), "words": Field(ge=0), "terms": Field(min_length=1), "label": Field(min_length=1),
}


def _compiles(pattern: str) -> str:
    """``pattern`` when it is a regular expression: a single_choice option is one (``wind turbines?``, ``\\bPV\\b``),
    and one that is not ended `tome eval compare` in ``re.error`` after every model had answered."""
    import regex

    try:
        re.compile(pattern)
        regex.compile(pattern)  # the check runs it with the regex module
    except (re.error, regex.error) as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    return pattern


# YAML gives lists; a term must hold a non-space character (an empty one would be found in every answer)
_TERM = Annotated[str, Field(pattern=r"\S")]
_PATTERN = Annotated[str, Field(pattern=r"\S"), AfterValidator(_compiles)]
_PARAM_TYPES: dict[str, Any] = {"terms": list[_TERM], "options": dict[str, list[_PATTERN]] | None}


@cache
def _params_model(name: str) -> type[StrictModel]:
    """A strict pydantic model of check ``name``'s parameters, read off its signature."""
    fn = CHECKS[name]
    hints = get_type_hints(fn)
    fields = {
        p.name: (Annotated[_PARAM_TYPES.get(p.name, hints[p.name]), _PARAM_LIMITS.get(p.name, Field())], p.default)
        for p in list(inspect.signature(fn).parameters.values())[1:]
    }
    return create_model(f"{name}_params", __base__=StrictModel, **fields)


def check_params(name: str, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` (one line: each bad parameter and what is wrong) unless check ``name`` takes ``params``:
    known names, values of the signature's types (no text for a number, no NaN), in range."""
    model = _params_model(name)
    try:
        model.model_validate(params, strict=True)
    except ValidationError as exc:
        known = ", ".join(model.model_fields) or "none"
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"{where}: unknown parameter (known: {known})")
            else:
                given = f" (got {err['input']!r})" if not isinstance(err.get("input"), (dict, list)) else ""
                message = err["msg"].removeprefix("Value error, ")  # (pydantic's prefix to a validator's own words)
                problems.append(f"{where}: {message}{given}")
        raise ValueError("; ".join(problems)) from None


def run_check(answer: str, name: str, params: dict[str, Any] | None = None) -> CheckResult:
    try:
        fn = CHECKS[name]
    except KeyError:
        raise ValueError(f"unknown check {name!r}; known: {', '.join(sorted(CHECKS))}") from None
    return fn(answer, **(params or {}))
