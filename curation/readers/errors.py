"""The one error type of reading."""


class InputError(Exception):
    """The input cannot be read at all; the message is one line naming the file (and line, where it applies)."""
