"""The one error type of reading, and the hint its messages give for a text file in a legacy encoding."""


# what to do with a text file in a legacy encoding (UTF-16 and UTF-32 with their byte-order mark are read as they are)
NOT_UTF8_HINT = "convert the file to UTF-8 first (from Windows-1252 or Latin-1, say: iconv -f windows-1252 -t utf-8)"


class InputError(Exception):
    """The input cannot be read at all; the message is one line naming the file (and line, where it applies)."""


def unreadable_json(exc: ValueError) -> str:
    """The one-line reason ``json.loads`` gave up on valid JSON it will not convert (an integer of more than
    ``sys.get_int_max_str_digits()`` digits)."""
    import sys

    if "integer string conversion" in str(exc):
        return f"not readable JSON: an integer of more than {sys.get_int_max_str_digits()} digits"
    return f"not readable JSON: {exc}"
