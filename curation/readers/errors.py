"""The one error type of reading, and the hint its messages give for a text file in a legacy encoding."""

from pathlib import PurePosixPath


# what to do with a text file in a legacy encoding (UTF-16 and UTF-32 with their byte-order mark are read as they are)
NOT_UTF8_HINT = "convert the file to UTF-8 first (from Windows-1252 or Latin-1, say: iconv -f windows-1252 -t utf-8)"


class InputError(Exception):
    """The input cannot be read at all; the message is one line naming the file (and line, where it applies): a
    control character in it (a file name that holds a newline, say) is written escaped
    (:func:`curation.sources.printable`)."""

    def __init__(self, message: str = "", *args: object) -> None:
        from curation.sources import printable

        super().__init__(printable(str(message)), *args)


def unmarked_encoding(data: bytes) -> str | None:
    """``UTF-16LE`` (``UTF-16BE``, ``UTF-32LE``, ``UTF-32BE``) for a text in that encoding without a byte-order mark,
    by its first characters: printable ASCII there, each with the NUL bytes the encoding gives it (no UTF-8 JSON
    text starts with a NUL byte, nor holds one as its second); None for any other."""
    from curation.sources import bom_encoding

    if bom_encoding(data) is not None or b"\0" not in data[:2]:
        return None
    for encoding in ("UTF-32LE", "UTF-32BE", "UTF-16LE", "UTF-16BE"):
        head = data[:64]
        head = head[: len(head) - len(head) % 4]
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text and all(" " <= c <= "~" or c in "\t\r\n" for c in text):
            return encoding
    return None


def unmarked_encoding_error(shown: str, head: bytes) -> InputError | None:
    """The error for a text file in UTF-16 or UTF-32 without a byte-order mark, by its first bytes ``head`` (a JSON
    file's, a JSON Lines file's first line); None for any other."""
    unmarked = unmarked_encoding(head)
    if unmarked is None:
        return None
    return InputError(f"{shown}: {unmarked} text without a byte-order mark (read as UTF-8, a NUL byte stands beside "
                      f"each character): convert it to UTF-8 first (iconv -f {unmarked} -t UTF-8)")


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


def wrong_codec(shown: str, head: bytes, codec: str, kind: str) -> InputError | None:
    """The error for a file whose name says ``codec`` (``gzip``, ``bz2``, ``xz``, ``zstd``) while its first bytes
    ``head`` are another codec's stream or uncompressed text (``kind`` ``jsonl`` or ``json``): what it holds, and
    the name that would read it; None when they show neither (a damaged file of the codec: its decoder says what
    is wrong)."""
    from curation.sources import BOM, CODEC_SUFFIX, bom_encoding, compressed_as

    held = compressed_as(head)
    text = head.lstrip(BOM)[:1] in (b"{", b"[", b" ", b"\t", b"\r", b"\n") or bom_encoding(head) is not None
    if held == codec or (held is None and not text):
        return None
    name = PurePosixPath(shown).name
    base = name[: name.lower().rfind(".")] if "." in name else name
    what = f"{held}-compressed data" if held is not None else {"jsonl": "JSON Lines text", "json": "JSON text"}[kind]
    return InputError(f"{shown}: holds {what}, not {codec}-compressed data: name it as what it holds "
                      f"({base}{CODEC_SUFFIX.get(held, '')})")


# names of files tome does not read, and what to do with them
_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".7z", ".rar")
_OTHER_CODECS = {".lz4": "lz4 -d", ".lzma": "unlzma", ".z": "uncompress", ".br": "brotli -d", ".snappy": None,
                 ".lzo": "lzop -d", ".zlib": None}
_TABLES = {".csv": "CSV", ".tsv": "TSV", ".xlsx": "Excel", ".xls": "Excel", ".txt": "plain text", ".arrow": "Arrow IPC",
           ".feather": "Arrow IPC", ".orc": "ORC", ".avro": "Avro"}


def unread_data(name: str) -> bool:
    """Does a file's name show rows in a form tome does not read: an archive, another codec, a table in another
    format (not ``.txt``: a folder of shards may hold a LICENSE.txt or notes)? Such a file among the shards of a
    folder would be left out unseen, its rows lost."""
    lower = name.lower()
    return (any(lower.endswith(a) for a in _ARCHIVES) or any(lower.endswith(c) for c in _OTHER_CODECS)
            or any(lower.endswith(t) for t in _TABLES if t != ".txt"))


def unsupported_file(shown: str, name: str) -> str:
    """The one line for a file of a type tome does not read, by its name: its suffixes, what they show (an archive,
    another codec, a table in another format) and what to do."""
    lower = name.lower()
    suffixes = "".join(PurePosixPath(lower).suffixes[-2:]) or "(none)"
    expected = "expected .jsonl, .json or .parquet, optionally compressed (.gz, .bz2, .xz, .zst)"
    archive = next((a for a in _ARCHIVES if lower.endswith(a)), None)
    if archive is not None:
        return (f"{shown}: unsupported file type {archive!r}: an archive, not read as one; extract it and give the "
                f".jsonl, .json or .parquet files in it (or their folder)")
    codec = next((c for c in _OTHER_CODECS if lower.endswith(c)), None)
    if codec is not None:
        tool = _OTHER_CODECS[codec]
        return (f"{shown}: unsupported file type {suffixes!r}: {codec[1:]}-compressed, which is not read; decompress it"
                f"{f' ({tool})' if tool else ''} or compress it as .gz, .bz2, .xz or .zst")
    table = next((kind for suffix, kind in _TABLES.items() if lower.endswith(suffix)), None)
    if table is not None:
        return (f"{shown}: unsupported file type {suffixes!r}: {table} is not read; {expected} (a save_to_disk "
                "folder or a hub dataset id too)")
    return f"{shown}: unsupported file type {suffixes!r}; {expected}"


def unreadable_json(exc: ValueError) -> str:
    """The one-line reason ``json.loads`` gave up on valid JSON it will not convert (an integer of more than
    ``sys.get_int_max_str_digits()`` digits)."""
    import sys

    if "integer string conversion" in str(exc):
        return f"not readable JSON: an integer of more than {sys.get_int_max_str_digits()} digits"
    return f"not readable JSON: {exc}"


def json_int(digits: str) -> int | float:
    """``parse_int`` for ``json.loads`` of a record: the integer, or, for one of more digits than Python converts
    (``sys.get_int_max_str_digits()``), the float Arrow's JSON reader makes of it (infinite), so that a record
    read on its own says what it says read column-wise (a score of 5,001 digits is not finite there; read
    record by record it was one more quarantined line, which of the two followed the rows read with it)."""
    import sys

    limit = sys.get_int_max_str_digits()
    return int(digits) if not limit or len(digits) - digits.startswith("-") <= limit else float(digits)


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
