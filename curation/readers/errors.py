"""The one error type of reading."""


class InputError(Exception):
    """The input cannot be read at all; the message is one line naming the file (and line, where it applies)."""


def unreadable_json(exc: ValueError) -> str:
    """The one-line reason ``json.loads`` gave up on valid JSON it will not convert (an integer of more than
    ``sys.get_int_max_str_digits()`` digits)."""
    import sys

    if "integer string conversion" in str(exc):
        return f"not readable JSON: an integer of more than {sys.get_int_max_str_digits()} digits"
    return f"not readable JSON: {exc}"
