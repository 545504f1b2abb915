"""The one error type of reading, and the hint its messages give for a text file in a legacy encoding."""


# what to do with a text file in a legacy encoding (UTF-16 and UTF-32 with their byte-order mark are read as they are)
NOT_UTF8_HINT = "convert the file to UTF-8 first (from Windows-1252 or Latin-1, say: iconv -f windows-1252 -t utf-8)"


class InputError(Exception):
    """The input cannot be read at all; the message is one line naming the file (and line, where it applies): a
    control character in it (a file name that holds a newline, say) is written escaped
    (:func:`curation.sources.printable`)."""

    def __init__(self, message: str = "", *args: object) -> None:
        from curation.sources import printable

        super().__init__(printable(str(message)), *args)


def misnamed(shown: str, head: bytes, expected: str) -> InputError | None:
    """The error for a file whose first bytes ``head`` show Parquet or a codec's stream while its name says
    ``expected`` (``jsonl``, ``json`` or ``parquet``): what it holds, and the name that would read it; None when
    ``head`` shows neither."""
    from curation.sources import CODEC_SUFFIX, COMPRESSIONS, compressed_as

    held = "Parquet" if head.startswith(b"PAR1") and expected != "parquet" else compressed_as(head)
    if held is None:
        return None
    what = {"jsonl": "JSON Lines text", "json": "JSON text", "parquet": "Parquet"}[expected]
    outer = next((codec for suffix, codec in COMPRESSIONS.items() if shown.lower().endswith(suffix)), None)
    if outer is not None and held != "Parquet":  # ``head`` is what the name's codec gave: compressed again
        return InputError(f"{shown}: compressed twice: what {outer} decompresses is {held}-compressed again; "
                          "decompress it once and read the result")
    if held == "Parquet":
        return InputError(f"{shown}: holds Parquet data, not {what}: name it as what it holds (.parquet)")
    base = shown.rsplit("/", 1)[-1] if expected == "parquet" else f".{expected}"
    return InputError(f"{shown}: holds {held}-compressed data, not {what}: name it as what it holds "
                      f"({base}{CODEC_SUFFIX[held]})")


def unreadable_json(exc: ValueError) -> str:
    """The one-line reason ``json.loads`` gave up on valid JSON it will not convert (an integer of more than
    ``sys.get_int_max_str_digits()`` digits)."""
    import sys

    if "integer string conversion" in str(exc):
        return f"not readable JSON: an integer of more than {sys.get_int_max_str_digits()} digits"
    return f"not readable JSON: {exc}"


class DuplicateKey(ValueError):
    """A JSON object names one key twice (``{"conversations": [...], "conversations": [...]}``): Python keeps the
    last value and drops the other unseen, and which one the writer meant would be a guess, as for a Parquet
    file that names one column twice. The record is quarantined with this message, naming the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one object (which of its values is meant would be a guess)")
        self.key = key


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """``object_pairs_hook`` for ``json.loads``: the object as a dict, or :class:`DuplicateKey` for the first key
    that appears twice in it."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj
