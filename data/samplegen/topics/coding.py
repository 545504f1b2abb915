"""Coding questions with Python, JavaScript or SQL answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

from ..lexicon import CODE_ATTRS, CODE_KEYS, CODE_LANG_TASK_CONSTRAINTS, CODE_NOUNS
from ..writer import Writer, cap, nums

def to_3s(phrase: str) -> str:
    """'count how many' -> 'counts how many' (first word to third person singular)."""
    verb, _, rest = phrase.partition(" ")
    if verb.endswith(("s", "x", "z", "ch", "sh")):
        verb += "es"
    elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


@dataclass
class CodeTask:
    task: str  # infinitive phrase: "count how many orders have a price above a threshold"
    lang: str
    code: str
    notes: list[str]  # task-specific explanation sentences
    usage: str = ""


N_CODE_TASKS = 18
_PH_RE = re.compile(r"<<([a-z_0-9]+)>>")


def code_names(w: Writer, c: dict) -> dict:
    """Identifiers for one code answer: most names vary, so two answers to the same task differ."""
    s, pl, attr, key = c["s"], c["pl"], c["attr"], c["key"]
    i, j = w.pick([("i", "j"), ("a", "b"), ("left_i", "right_i"), ("p", "q"), ("x", "y")])
    return {
        "s": s, "pl": pl, "attr": attr, "key": key, "S": s.capitalize(),
        "item": w.pick([s, s, "item", "entry", "rec", "row"]),
        "seq": w.pick([pl, pl, "items", "entries", "records", "rows", f"all_{pl}"]),
        "out": w.pick(["result", "out", "collected", "kept", "output", "selected", "picked", "acc"]),
        "cnt": w.pick(["total", "count", "matches", "hits", "tally", "n_found", "how_many"]),
        "lim": w.pick(["threshold", "limit", "cutoff", "minimum", "bound", f"min_{attr}"]),
        "i": i, "j": j,
        "vals": w.pick(["values", "numbers", f"{attr}_values", "series", "data", "xs", f"{attr}s"]),
        "win": w.pick(["window", "size", "width", "span", "n"]),
        "lo": w.pick(["lo", "low", "left", "start", "first"]), "hi": w.pick(["hi", "high", "right", "end", "last"]),
        "mid": w.pick(["mid", "middle", "centre", "m", "probe"]),
        "tgt": w.pick(["target", "wanted", "needle", "goal", "value"]),
        "seen": w.pick(["seen", "already_seen", f"seen_{key}s", "known", "visited"]),
        "grp": w.pick(["groups", f"by_{key}", "buckets", "grouped", "index", "table"]),
        "txt": w.pick(["text", "raw", "content", "blob", "source_text"]),
        "ln": w.pick(["line", "raw_line", "entry_line", "current"]),
        "no": w.pick(["line_no", "lineno", "number", "row_no", "n"]),
        "chunk": w.pick(["size", "batch_size", "chunk", "per_batch", "step"]),
        "verb": w.pick(["get", "find", "compute", "collect", "build", "make"]),
        "cls_suffix": w.pick(["Registry", "Inventory", "Ledger", "Catalogue", "Tracker", "Store", "Book", "Index"]),
    }


def _ph(template: str, nm: dict) -> str:
    return _PH_RE.sub(lambda m: str(nm[m.group(1)]), template)


def code_task(w: Writer, c: dict, kind: int) -> CodeTask:
    nm = code_names(w, c)
    s, pl, attr, key = c["s"], c["pl"], c["attr"], c["key"]
    pick_notes = lambda notes: [_ph(n, nm) for n in w.rng.sample(notes, 2)]  # noqa: E731
    P = lambda t: _ph(t, nm)  # noqa: E731
    if kind == 0:
        fn = w.pick([f"count_{pl}_above", f"num_{pl}_over", f"how_many_{pl}_exceed", f"count_high_{attr}_{pl}"])
        vals = nums(w, w.rng.randint(3, 6))
        lim = w.rng.randint(10, 80)
        nm["doc"] = w.pick([f"Return how many {pl} have a {attr} greater than {nm['lim']}.",
                            f"Count the {pl} whose {attr} exceeds {nm['lim']}.", f"Number of {pl} above the {attr} limit."])
        if w.rng.random() < 0.5:
            body = P(f'    """<<doc>>"""\n    <<cnt>> = 0\n    for <<item>> in <<seq>>:\n        if <<item>>["<<attr>>"] > <<lim>>:\n            <<cnt>> += 1\n    return <<cnt>>')
        else:
            body = P(f'    """<<doc>>"""\n    return sum(1 for <<item>> in <<seq>> if <<item>>["<<attr>>"] > <<lim>>)')
        items = ", ".join(f'{{"{attr}": {v}}}' for v in vals)
        return CodeTask(
            f"count how many {pl} have a {attr} above a given threshold", "python",
            P(f"def {fn}(<<seq>>, <<lim>>):\n") + _ph(body, nm),
            pick_notes(["It adds one for every <<item>> whose `<<attr>>` is strictly greater than `<<lim>>`.",
                        "If you want to include values exactly at the threshold, change `>` to `>=`.",
                        "Summing ones from a generator avoids building an intermediate list.",
                        "The comparison reads the `<<attr>>` key, so each record must be a dictionary."]),
            f"{nm['seq']} = [{items}]\nprint({fn}({nm['seq']}, {lim}))\n# {sum(v > lim for v in vals)}",
        )
    if kind == 1:
        fn = w.pick([f"group_{pl}_by_{key}", f"{pl}_by_{key}", f"index_{pl}_on_{key}", f"bucket_{pl}"])
        code = P(f"from collections import defaultdict\n\n\ndef {fn}(<<seq>>):\n"
                 f'    """Map each <<key>> to the list of {pl} that share it, keeping input order."""\n'
                 f"    <<grp>> = defaultdict(list)\n    for <<item>> in <<seq>>:\n        <<grp>>[<<item>>[\"<<key>>\"]].append(<<item>>)\n    return dict(<<grp>>)")
        if w.rng.random() < 0.4:
            code = P(f"def {fn}(<<seq>>):\n    <<grp>> = {{}}\n    for <<item>> in <<seq>>:\n"
                     f"        <<grp>>.setdefault(<<item>>[\"<<key>>\"], []).append(<<item>>)\n    return <<grp>>")
        return CodeTask(
            f"group a list of {pl} by their {key}", "python", code,
            pick_notes(["Each new <<key>> gets an empty list the first time it appears, so no membership test is needed.",
                        "The groups keep the order in which the {pl} arrived.".replace("{pl}", pl),
                        "Returning a plain `dict` means callers do not create empty groups by reading a missing <<key>>.",
                        "`dict.setdefault` and `defaultdict` are two spellings of the same idea."]),
        )
    if kind == 2:
        vals = nums(w, w.rng.randint(5, 8), 10, 60)
        win = w.rng.choice([2, 3, 4])
        avgs = [round(sum(vals[k:k + win]) / win, 2) for k in range(len(vals) - win + 1)]
        fn = w.pick([f"rolling_{attr}", f"moving_average_{attr}", f"smooth_{attr}", f"{attr}_trend"])
        code = P(f"def {fn}(<<vals>>, <<win>>):\n"
                 f'    """Average of each run of `<<win>>` consecutive {attr} readings."""\n'
                 f"    if <<win>> <= 0:\n        raise ValueError(\"<<win>> must be a positive integer\")\n"
                 f"    <<out>> = []\n    running = sum(<<vals>>[:<<win>>])\n    if len(<<vals>>) >= <<win>>:\n        <<out>>.append(running / <<win>>)\n"
                 f"    for <<i>> in range(<<win>>, len(<<vals>>)):\n        running += <<vals>>[<<i>>] - <<vals>>[<<i>> - <<win>>]\n        <<out>>.append(running / <<win>>)\n    return <<out>>")
        return CodeTask(
            f"compute a moving average of {s} {attr} values over a fixed window", "python", code,
            pick_notes(["Instead of summing every window from scratch, it adds the newest value and subtracts the one that falls out.",
                        "A list shorter than the window simply returns an empty result.",
                        "The running sum keeps the cost linear in the number of readings.",
                        "Floating-point drift is negligible here, but `math.fsum` is an option for very long series."]),
            f"print({fn}({vals}, {win}))\n# {avgs}",
        )
    if kind == 3:
        k = w.rng.randint(2, 6)
        fn = w.pick([f"top_{pl}_by_{attr}", f"highest_{attr}_{pl}", f"best_{pl}", f"largest_{attr}"])
        if w.rng.random() < 0.5:
            code = P(f"import heapq\n\n\ndef {fn}(<<seq>>, k={k}):\n    \"\"\"The k {pl} with the largest {attr}, highest first.\"\"\"\n"
                     f"    return heapq.nlargest(k, <<seq>>, key=lambda <<item>>: <<item>>[\"<<attr>>\"])")
        else:
            code = P(f"def {fn}(<<seq>>, k={k}):\n    <<out>> = sorted(<<seq>>, key=lambda <<item>>: <<item>>[\"<<attr>>\"], reverse=True)\n    return <<out>>[:k]")
        return CodeTask(
            f"return the {k} {pl} with the highest {attr}", "python", code,
            pick_notes(["`heapq.nlargest` keeps only k candidates, which is cheaper than a full sort when k is small.",
                        f"Ties in `{attr}` keep the order in which the records appear in the input.",
                        "Sorting the whole list is simpler and perfectly fine for a few thousand records.",
                        "Passing `key=` avoids comparing the dictionaries themselves."]),
        )
    if kind == 4:
        fn = w.pick([f"unique_{pl}_by_{key}", f"dedupe_{pl}", f"first_{s}_per_{key}", f"drop_repeated_{pl}"])
        code = P(f"def {fn}(<<seq>>):\n"
                 f'    """Drop later {pl} whose {key} was already seen; order is preserved."""\n'
                 f"    <<seen>> = set()\n    <<out>> = []\n    for <<item>> in <<seq>>:\n        marker = <<item>>[\"<<key>>\"]\n"
                 f"        if marker in <<seen>>:\n            continue\n        <<seen>>.add(marker)\n        <<out>>.append(<<item>>)\n    return <<out>>")
        return CodeTask(
            f"remove duplicate {pl} that share the same {key}, keeping the first one", "python", code,
            pick_notes(["A set gives constant-time membership tests, so the whole pass is linear.",
                        f"The values of `{key}` must be hashable; strings and numbers are fine.",
                        "Keeping the first occurrence makes the result independent of later, possibly stale, copies.",
                        "If you need the last occurrence instead, iterate over the reversed list and reverse the result."]),
        )
    if kind == 5:
        a = sorted(nums(w, w.rng.randint(3, 5)))
        b = sorted(nums(w, w.rng.randint(2, 4)))
        fn = w.pick([f"merge_{attr}_lists", f"merge_sorted_{attr}", f"combine_{attr}_readings", f"interleave_{attr}"])
        code = P(f"def {fn}(<<lo>>, <<hi>>):\n"
                 f'    """Merge two ascending lists of {attr} values in linear time."""\n'
                 f"    <<out>>, <<i>>, <<j>> = [], 0, 0\n    while <<i>> < len(<<lo>>) and <<j>> < len(<<hi>>):\n"
                 f"        if <<lo>>[<<i>>] <= <<hi>>[<<j>>]:\n            <<out>>.append(<<lo>>[<<i>>])\n            <<i>> += 1\n"
                 f"        else:\n            <<out>>.append(<<hi>>[<<j>>])\n            <<j>> += 1\n"
                 f"    <<out>>.extend(<<lo>>[<<i>>:])\n    <<out>>.extend(<<hi>>[<<j>>:])\n    return <<out>>")
        return CodeTask(
            f"merge two sorted lists of {attr} measurements into one sorted list", "python", code,
            pick_notes(["Two indexes walk through the inputs side by side, always taking the smaller head.",
                        "This is the merge step of merge sort.", "Using `<=` makes the merge stable.",
                        "`heapq.merge` does the same lazily if you prefer the standard library."]),
            f"print({fn}({a}, {b}))\n# {sorted(a + b)}",
        )
    if kind == 6:
        vals = sorted(set(nums(w, w.rng.randint(6, 9), 1, 300)))
        target = w.pick(vals)
        fn = w.pick([f"find_{attr}", f"locate_{attr}", f"index_of_{attr}", f"search_{attr}"])
        code = P(f"def {fn}(sorted_<<vals>>, <<tgt>>):\n"
                 f'    """Index of <<tgt>> in the ascending list, or -1 if it is absent."""\n'
                 f"    <<lo>>, <<hi>> = 0, len(sorted_<<vals>>) - 1\n    while <<lo>> <= <<hi>>:\n        <<mid>> = (<<lo>> + <<hi>>) // 2\n"
                 f"        if sorted_<<vals>>[<<mid>>] == <<tgt>>:\n            return <<mid>>\n        if sorted_<<vals>>[<<mid>>] < <<tgt>>:\n"
                 f"            <<lo>> = <<mid>> + 1\n        else:\n            <<hi>> = <<mid>> - 1\n    return -1")
        return CodeTask(
            f"find the position of a {attr} value in a sorted list using binary search", "python", code,
            pick_notes(["Each comparison halves the remaining range, so the search needs about log2(n) steps.",
                        "The standard library's `bisect` module offers the same idea.",
                        "The list must already be sorted; otherwise the answer is meaningless.",
                        "Returning -1 mirrors `str.find`; raising `ValueError` would mirror `list.index`."]),
            f"print({fn}({vals}, {target}))\n# {vals.index(target)}",
        )
    if kind == 7:
        n = w.rng.randint(3, 12)
        field_ = w.pick(["description", "notes", "summary", "comment", "title"])
        fn = w.pick([f"common_words_in_{pl}", f"frequent_{field_}_words", f"top_terms_{pl}", f"word_counts_{pl}"])
        code = P(f"import re\nfrom collections import Counter\n\n\ndef {fn}(<<seq>>, n={n}):\n"
                 f'    """The n most frequent words across every {s} {field_}, ignoring case."""\n'
                 f"    <<out>> = Counter()\n    for <<item>> in <<seq>>:\n        <<out>>.update(re.findall(r\"[a-z']+\", <<item>>[\"{field_}\"].lower()))\n"
                 f"    return <<out>>.most_common(n)")
        return CodeTask(
            f"find the {n} most common words in the {field_} field of {pl}", "python", code,
            pick_notes(["`Counter.most_common` returns (word, count) pairs sorted by count.",
                        "The regular expression keeps apostrophes so that words such as \"don't\" stay whole.",
                        "Lower-casing first means \"The\" and \"the\" are counted together.",
                        "You may want to drop stop words such as \"and\" before counting."]),
        )
    if kind == 8:
        cls = nm["S"] + nm["cls_suffix"]
        store = w.pick([pl, "items", "entries", "data", "by_name", "table"])
        ident = w.pick(["name", "label", "key", "ident", "code"])
        add, rem = w.pick([("add", "remove"), ("put", "drop"), ("register", "unregister"), ("record", "discard")])
        total = w.pick([f"total_{attr}", f"sum_{attr}", f"combined_{attr}", f"{attr}_total"])
        code = P(f"class {cls}:\n    \"\"\"{w.pick(['Holds', 'Keeps', 'Stores', 'Tracks'])} {pl} by {ident} and reports their combined {attr}.\"\"\"\n\n"
                 f"    def __init__(self):\n        self._{store} = {{}}\n\n"
                 f"    def {add}(self, {ident}, {attr}):\n        if {attr} < 0:\n            raise ValueError(\"{attr} cannot be negative\")\n        self._{store}[{ident}] = {attr}\n\n"
                 f"    def {rem}(self, {ident}):\n        self._{store}.pop({ident}, None)\n\n"
                 f"    def {total}(self):\n        return sum(self._{store}.values())")
        return CodeTask(
            f"keep track of {pl} in a small class that can add, remove and total their {attr}", "python", code,
            pick_notes([f"Storing the {pl} in a dictionary keyed by {ident} makes `{add}` and `{rem}` constant-time operations.",
                        f"`{rem}` uses `pop({ident}, None)` so that removing an unknown {ident} is not an error.",
                        f"Validating `{attr}` in `add` keeps bad data out of the totals.",
                        "A `dataclass` would work too if you prefer less boilerplate."]),
        )
    if kind == 9:
        fn = w.pick([f"parse_{pl}", f"read_{pl}", f"load_{pl}_from_text", f"{pl}_from_lines"])
        code = P(f"def {fn}(<<txt>>):\n"
                 f'    """Turn "name,{attr}" lines into dicts; bad lines are reported and skipped."""\n'
                 f"    <<out>> = []\n    for <<no>>, <<ln>> in enumerate(<<txt>>.splitlines(), start=1):\n"
                 f"        name, sep, raw_{attr} = <<ln>>.partition(\",\")\n        try:\n            value = float(raw_{attr})\n"
                 f"        except ValueError:\n            print(f\"line {{<<no>>}}: cannot read {attr} from {{<<ln>>!r}}\")\n            continue\n"
                 f"        if not sep or not name.strip():\n            continue\n"
                 f"        <<out>>.append({{\"name\": name.strip(), \"{attr}\": value}})\n    return <<out>>")
        return CodeTask(
            f"parse lines of the form `name,{attr}` into a list of {pl}, skipping malformed lines", "python", code,
            pick_notes(["`str.partition` never raises, which makes it a safe first step before converting the number.",
                        "Reporting the line number makes bad input much easier to fix.",
                        "For real CSV files with quoting, use the `csv` module instead.",
                        "Logging instead of printing would let callers silence the warnings."]),
        )
    if kind == 10:
        fn = w.pick([f"flatten_{s}_ids", f"iter_{s}_ids", f"all_{s}_ids", f"walk_{s}_ids"])
        code = P(f"def {fn}(nested):\n"
                 f'    """Yield every {s} id from nested lists, depth first."""\n'
                 f"    for <<item>> in nested:\n        if isinstance(<<item>>, list):\n            yield from {fn}(<<item>>)\n        else:\n            yield <<item>>")
        ids = nums(w, 5, 1, 900)
        return CodeTask(
            f"flatten an arbitrarily nested list of {s} identifiers", "python", code,
            pick_notes(["`yield from` delegates to the recursive call, so ids are produced lazily.",
                        "Very deep nesting could hit Python's recursion limit; an explicit stack avoids that.",
                        "Tuples are left alone here; add them to the `isinstance` check if they can appear.",
                        "Wrap the call in `list()` when you need all ids at once."]),
            f"print(list({fn}([{ids[0]}, [{ids[1]}, [{ids[2]}, {ids[3]}]], {ids[4]}])))\n# {ids}",
        )
    if kind == 11:
        fn = w.pick([f"total{attr.capitalize()}By{key.capitalize()}", f"sum{attr.capitalize()}Per{key.capitalize()}",
                     f"{attr}Totals"])
        acc = w.pick(["acc", "totals", "sums", "memo", "byKey"])
        code = P(f"function {fn}(<<seq>>) {{\n  // Returns an object mapping each {key} to its summed {attr}.\n"
                 f"  return <<seq>>.reduce(({acc}, <<item>>) => {{\n    {acc}[<<item>>.{key}] = ({acc}[<<item>>.{key}] ?? 0) + <<item>>.{attr};\n    return {acc};\n  }}, {{}});\n}}")
        return CodeTask(
            f"sum the {attr} of {pl} per {key}", "javascript", code,
            pick_notes(["`reduce` threads an accumulator object through the array, adding each value to its group.",
                        "The `??` operator treats a missing group as zero without confusing it with other falsy values.",
                        "A `Map` would be the better choice if the keys are not strings.",
                        "Older browsers may need a transpiler for the `??` operator."]),
        )
    if kind == 12:
        m = w.rng.randint(2, 40)
        alias = w.pick(["avg_", "mean_", "average_"]) + attr
        code = (f"SELECT {key},\n       COUNT(*) AS {s}_count,\n       AVG({attr}) AS {alias}\nFROM {pl}\n"
                f"{w.pick(['', f'WHERE {attr} IS NOT NULL' + chr(10)])}GROUP BY {key}\nHAVING COUNT(*) >= {m}\nORDER BY {alias} {w.pick(['DESC', 'ASC'])};")
        return CodeTask(
            f"write an SQL query that lists the average {attr} of {pl} for every {key} with at least {m} rows", "sql", code,
            pick_notes(["`WHERE` filters rows before grouping, while `HAVING` filters the groups themselves.",
                        f"An index on `{key}` helps the database group the rows without a full sort.",
                        "`AVG` ignores NULL values, so rows without a value do not drag the average down.",
                        "Aliases in `ORDER BY` are allowed by most databases, though not inside `HAVING`."]),
        )
    if kind == 13:
        lo_v, hi_v = w.rng.randint(0, 40), w.rng.randint(50, 900)
        fn = w.pick([f"checked_{attr}", f"validate_{attr}", f"safe_{attr}", f"{attr}_in_range"])
        code = P(f"def {fn}(value, clamp=False, <<lo>>={lo_v}, <<hi>>={hi_v}):\n"
                 f'    """Validate a {attr}; with clamp=True, pull it into range instead of failing."""\n'
                 f"    if not isinstance(value, (int, float)):\n        raise TypeError(f\"{attr} must be a number, got {{type(value).__name__}}\")\n"
                 f"    if <<lo>> <= value <= <<hi>>:\n        return value\n    if clamp:\n        return max(<<lo>>, min(<<hi>>, value))\n"
                 f"    raise ValueError(f\"{attr} {{value}} is outside [{{<<lo>>}}, {{<<hi>>}}]\")")
        return CodeTask(
            f"check that a {s} {attr} lies between {lo_v} and {hi_v} and clamp it if asked", "python", code,
            pick_notes(["Chained comparisons such as `low <= value <= high` read like the mathematical notation.",
                        "Error messages that include the bad value save a lot of time when debugging.",
                        "Note that `bool` is a subclass of `int`, so `True` passes the type check.",
                        "Clamping is handy for sensor data, but hides bugs in business logic."]),
        )
    if kind == 14:
        size = w.rng.randint(2, 64)
        fn = w.pick([f"batch_{pl}", f"chunk_{pl}", f"{pl}_in_batches", f"split_{pl}"])
        code = P(f"def {fn}(<<seq>>, <<chunk>>={size}):\n"
                 f'    """Yield consecutive slices of at most `<<chunk>>` {pl}."""\n'
                 f"    if <<chunk>> < 1:\n        raise ValueError(\"<<chunk>> must be at least 1\")\n"
                 f"    for start in range(0, len(<<seq>>), <<chunk>>):\n        yield <<seq>>[start:start + <<chunk>>]")
        return CodeTask(
            f"split a list of {pl} into batches of {size}", "python", code,
            pick_notes(["Stepping `range` by the batch size gives the start of each slice; the last batch may be shorter.",
                        "Because it is a generator, callers can process one batch at a time.",
                        "Python 3.12 adds `itertools.batched`, which does the same for any iterable.",
                        "Slicing copies the elements' references, not the elements themselves."]),
        )
    if kind == 15:
        vals = nums(w, w.rng.randint(4, 7), 5, 95)
        lo, hi = min(vals), max(vals)
        scaled = [round((v - lo) / (hi - lo), 3) if hi > lo else 0.0 for v in vals]
        fn = w.pick([f"normalise_{attr}", f"rescale_{attr}", f"{attr}_to_unit_range", f"minmax_{attr}"])
        code = P(f"def {fn}(<<vals>>):\n"
                 f'    """Min-max scale {attr} values to [0, 1]; a constant list maps to zeros."""\n'
                 f"    <<lo>>, <<hi>> = min(<<vals>>), max(<<vals>>)\n    spread = <<hi>> - <<lo>>\n"
                 f"    if spread == 0:\n        return [0.0 for _ in <<vals>>]\n    return [(v - <<lo>>) / spread for v in <<vals>>]")
        return CodeTask(
            f"rescale the {attr} of each {s} to the range 0 to 1", "python", code,
            pick_notes(["Subtracting the minimum and dividing by the spread maps the smallest value to 0 and the largest to 1.",
                        "The zero-spread check avoids a division by zero when every value is the same.",
                        "Outliers squeeze everything else toward zero; a robust scaler may suit skewed data better.",
                        "Remember to reuse the same minimum and maximum when you scale new data later."]),
            f"print([round(v, 3) for v in {fn}({vals})])\n# {scaled}",
        )
    if kind == 16:
        fn = w.pick([f"running_{attr}", f"cumulative_{attr}", f"{attr}_so_far", f"accumulate_{attr}"])
        vals = nums(w, w.rng.randint(4, 7), 1, 50)
        code = P(f"from itertools import accumulate\n\n\ndef {fn}(<<vals>>):\n"
                 f'    """Running totals of the {attr} readings, one per input value."""\n    return list(accumulate(<<vals>>))')
        return CodeTask(
            f"compute the running total of {s} {attr} values", "python", code,
            pick_notes(["`itertools.accumulate` adds each value to the previous total for you.",
                        "Pass `func=max` to get a running maximum instead of a running sum.",
                        "The result has the same length as the input.",
                        "An empty input gives an empty list."]),
            f"print({fn}({vals}))\n# {list(accumulate(vals))}",
        )
    fn = w.pick([f"{pl}_per_{key}", f"count_{pl}_per_{key}", f"tally_{key}", f"{key}_histogram"])
    code = P(f"from collections import Counter\n\n\ndef {fn}(<<seq>>):\n"
             f'    """How many {pl} fall under each {key}, most common first."""\n'
             f"    return Counter(<<item>>[\"<<key>>\"] for <<item>> in <<seq>>).most_common()")
    return CodeTask(
        f"count how many {pl} there are for each {key}", "python", code,
        pick_notes(["`Counter` does the bookkeeping, and `most_common()` sorts by count.",
                    f"Records without a `{key}` raise `KeyError`; use `.get` if that can happen.",
                    "The generator expression avoids building an intermediate list.",
                    "Convert the result with `dict()` if you need lookups by key."]),
    )


CODE_PROMPTS = [
    "Write a {lang_name} function to {=task}. {constraint}",
    "How can I {=task} in {lang_name}?",
    "I have a list of {=pl}, and each one is a record with a `{=attr}` and a `{=key}` field. What is a clean way to {=task}?",
    "Can you show me how to {=task}? {constraint}",
    "Create a {lang_name} solution that {=task3s}. {constraint} Additionally, explain how it behaves on edge cases.",
    "I'm building a small app that manages {=pl}. I need code that {=task3s}. {constraint}",
]
CODE_INTRO = [
    "Here is a [simple|clean|practical|readable] way to do it.", "Sure! Below is a straightforward implementation.", "You can do this in a few lines.",
    "Here is one approach that stays readable.", "A compact solution looks like this.", "Here is a version with comments.",
]
CODE_GENERIC = [
    "The function walks through the {=pl} once, so its running time grows linearly with the input.",
    "Because it never modifies the data it receives, you can safely call it on {=pl} that other parts of the program still use.",
    "If a {=s} might lack the `{=attr}` field, read it with `.get(\"{=attr}\")` and decide what a missing value should mean.",
    "For very large inputs, consider streaming the {=pl} from disk instead of loading them all into memory at once.",
    "An empty input simply produces an empty result rather than an error.",
    "If the {=pl} come from a database, it is usually faster to push this work into the query itself.",
    "Type hints such as `list[dict]` would document the expected input without changing how the code runs.",
    "A couple of small unit tests, one with typical {=pl} and one with an empty list, will catch most regressions.",
    "Naming the function after what it returns makes the calling code read almost like a sentence.",
]
CODE_FOLLOWUPS = [
    "Thanks! Could you also show me how to {=task2}?",
    "Nice. Now I also need to {=task2}. How would you do that?",
    "One more thing: what is a good way to {=task2}?",
    "That works. Next I want to {=task2}.",
]


def coding_exchanges(w: Writer, n_ex: int, size: float) -> list[tuple[str, str]]:
    s, pl = w.pick(CODE_NOUNS)
    c = {"s": s, "pl": pl, "attr": w.pick(CODE_ATTRS), "key": w.pick(CODE_KEYS)}
    kinds = w.rng.sample(range(N_CODE_TASKS), n_ex + 1)
    tasks = [code_task(w, c, k) for k in kinds]
    out = []
    for i in range(n_ex):
        t = tasks[i]
        lang_name = {"python": "Python", "javascript": "JavaScript", "sql": "SQL"}[t.lang]
        ctx = dict(c, task=t.task, task3s=to_3s(t.task), task2=t.task, lang_name=lang_name)
        if i == 0:
            prompt = w.fill(w.draw(CODE_PROMPTS), dict(ctx, constraint=w.pick(CODE_LANG_TASK_CONSTRAINTS)))
        else:
            prompt = w.fill(w.draw(CODE_FOLLOWUPS) or "Could you also {=task2}?", ctx)
        parts = [w.fill(w.draw(CODE_INTRO) or "Here you go.", ctx), f"```{t.lang}\n{t.code}\n```", " ".join(t.notes)]
        if t.usage:
            parts.append(w.pick(["Example:", "For example:", "Usage:", "A quick check:"]) + f"\n\n```{t.lang}\n{t.usage}\n```")
        n_extra = w.n_paragraphs(0.6 * size, lo=0, hi=8)
        if n_extra:
            parts.append(" ".join(w.sentences(CODE_GENERIC, n_extra + 1, ctx)))
        if n_extra >= 3:
            parts.append(w.paragraph(CODE_GENERIC, ctx, 2, 3))
        out.append((prompt, "\n\n".join(p for p in parts if p)))
    return out
