"""The error every user-facing problem of `tome review` becomes: one line, no traceback."""

from __future__ import annotations


class ReviewError(Exception):
    """A problem the user can fix (a wrong path, an unreachable server, a bad key); the message is one line."""
