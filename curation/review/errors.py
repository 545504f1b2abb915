"""The error every user-facing problem of `tome review` becomes: one line, no traceback."""

from __future__ import annotations

import reprlib
from typing import Any


class ReviewError(Exception):
    """A problem the user can fix (a wrong path, an unreachable server, a bad key); the message is one line.
    The command exits 1 (the work could not be done as asked)."""


class ReviewUsageError(ReviewError):
    """A command line the command cannot run as given (an option's value, a path that is missing or taken, no
    destination): found before any work, and the command exits 2, as a usage error of every `tome` command."""


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 60, 60, 40


def shown(value: Any) -> str:
    """A value from a file as a message shows it: its repr, cut short (a 5 MB answer, a 400-digit number)."""
    return _SHORT.repr(value)


def named(name: str) -> str:
    """A record id or annotator as a message names it: as it is, or its short repr when that would not be one
    short printable line."""
    return name if name.isprintable() and len(name) <= 80 else shown(name)
