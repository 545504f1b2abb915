"""What of a JSON document reads whole before it breaks: cut short (a download or a copy that stopped, a
compressed file that breaks off) or not valid JSON part-way (a stray character, a comma too many).

``json.loads`` reads a ``.json`` file whole or not at all. When it fails, :func:`read_prefix` reads the document
again value by value with ``json.JSONDecoder.raw_decode``, each value parsed once from where the one before it
ended (linear in the file's size, as the whole parse is), up to the break: the elements of an array, values one
after another (pretty-printed objects), the elements of the array an object holds (``{"data": [...]}``), or
the members of the object an object holds (``{"data": {"id1": row, ...}}``, rows keyed by id under a wrapper),
read whole before it; where the unreadable rest starts; and what broke there, as ``json`` says it
(``json.JSONDecodeError``: its message, line and column). Which of those are rows, and what the rest becomes,
is the reader's (:func:`curation.readers._json_rows`). A value nested too deeply for ``json`` (which reads about
as deep as Python's recursion limit) in the place of a row (an element, a member, an element of the array or a
member of the object an object holds) is read as :class:`TooDeep`, its text found by its brackets
(:func:`value_end`), and the rest read on: a document read whole but for such values is read by
:func:`read_prefix` too. ``ValueError`` is raised as ``json.loads`` raises it (the reader's decoder reads an integer
of more digits than Python converts as a float), ``RecursionError`` where a too-deep value's end is not found.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_SPACE = json.decoder.WHITESPACE.match  # JSON's whitespace (space, tab, LF, CR), as json skips it
_MARK = re.compile(r'[\[\]{}"]')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


@dataclass
class TooDeep:
    """A value nested too deeply for ``json``, in the place of a row: its text."""

    text: str


def value_end(text: str, at: int) -> int | None:
    """Where the array or object at ``text[at]`` ends, found by its brackets (strings skipped), without
    recursion; None where it does not end (or ``text[at]`` starts neither)."""
    if not text.startswith(("[", "{"), at):
        return None
    depth = 0
    while (mark := _MARK.search(text, at)) is not None:
        if mark.group() == '"':
            string = _STRING.match(text, mark.start())
            if string is None:
                return None
            at = string.end()
            continue
        depth += 1 if mark.group() in "[{" else -1
        at = mark.end()
        if depth == 0:
            return at
    return None


def _decode(text: str, at: int, decoder: json.JSONDecoder) -> tuple[Any, int]:
    """``decoder.raw_decode(text, at)``, a value too deep for it as :class:`TooDeep`."""
    try:
        return decoder.raw_decode(text, at)
    except RecursionError:
        end = value_end(text, at)
        if end is None:
            raise
        return TooDeep(text[at:end]), end


@dataclass
class Prefix:
    """What reads whole of a document before it breaks."""

    shape: str  # array | values (values one after another) | object
    values: list  # array: its elements read whole; values: the values; object: the elements read whole of the
    # array value the break is in (none when it is not in one)
    rest: int  # where the unreadable rest starts (a character offset; the text's length when nothing is left)
    error: json.JSONDecodeError | None  # what broke, where; None: values one after another, every one whole
    members: list[tuple[str, Any]] = field(default_factory=list)  # object: its members read whole, in order
    array_key: str | None = None  # object: the key of the array value the break is in (None: not in one)
    object_key: str | None = None  # object: the key of the object value the break is in (None: not in one)
    object_members: list[tuple[str, Any]] = field(default_factory=list)  # its members read whole, in order
    object_rest: int = -1  # where the member the break is in starts, in that object (or in this one)


def read_prefix(text: str, decoder: json.JSONDecoder, first: json.JSONDecodeError) -> Prefix | None:
    """What reads whole of ``text``, a JSON document that ``json.loads`` refused with ``first``: an array's elements,
    values one after another (``first`` says "Extra data": the first value read whole), or an object's members;
    None for a text that starts with no array or object (a scalar, or no JSON at all)."""
    at = _SPACE(text, 0).end()
    if first.msg == "Extra data":
        return _values(text, at, decoder)
    if text.startswith("[", at):
        elements, rest, error = _elements(text, at, decoder)
        return Prefix("array", elements, rest, error)
    if text.startswith("{", at):
        return _members(text, at, decoder)
    return None


def _values(text: str, at: int, decoder: json.JSONDecoder) -> Prefix:
    """JSON values one after another from ``at``, whitespace (or nothing) between them, up to the first that
    cannot be read."""
    values = []
    while True:
        at = _SPACE(text, at).end()
        if at == len(text):
            return Prefix("values", values, at, None)
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            return Prefix("values", values, at, exc)
        values.append(value)
        at = end


def _elements(text: str, at: int, decoder: json.JSONDecoder) -> tuple[list, int, json.JSONDecodeError | None]:
    """``(elements, rest, error)`` of the array at ``text[at]`` (a ``[``): its elements read whole, where the rest
    starts (the element that cannot be read, or what stands where a ``,`` or the ``]`` should), and what broke
    (None for an array read whole: ``rest`` is then just past its ``]``)."""
    elements = []
    at = _SPACE(text, at + 1).end()
    if text.startswith("]", at):
        return elements, at + 1, None
    while True:
        try:
            value, end = _decode(text, at, decoder)
        except json.JSONDecodeError as exc:
            return elements, at, exc
        elements.append(value)
        at = _SPACE(text, end).end()
        if text.startswith("]", at):
            return elements, at + 1, None
        if not text.startswith(",", at):
            return elements, at, json.JSONDecodeError("Expecting ',' delimiter", text, at)
        at = _SPACE(text, at + 1).end()


def _members(text: str, at: int, decoder: json.JSONDecoder, depth: int = 0) -> Prefix:
    """The members of the object at ``text[at]`` (a ``{``) read whole up to the break, and, where the break is
    inside an array value, that array's elements read whole before it, or, inside an object value (of the
    document's own object, ``depth`` 0), that object's members read whole before it."""
    members: list[tuple[str, Any]] = []
    at = _SPACE(text, at + 1).end()
    while True:
        start = at
        if not text.startswith('"', at):
            return Prefix("object", [], start, json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, at), members, object_rest=start)
        try:
            key, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            return Prefix("object", [], start, exc, members, object_rest=start)
        at = _SPACE(text, at).end()
        if not text.startswith(":", at):
            return Prefix("object", [], start, json.JSONDecodeError("Expecting ':' delimiter", text, at), members,
                          object_rest=start)
        at = _SPACE(text, at + 1).end()
        try:
            if depth == 0:
                try:
                    value, at = decoder.raw_decode(text, at)
                except RecursionError:  # too deep in an array or an object the document's object holds
                    value, at = _held(text, at, decoder)
            else:
                value, at = _decode(text, at, decoder)
        except json.JSONDecodeError as exc:
            if text.startswith("[", at):  # the break is inside an array: its elements before it
                elements, rest, error = _elements(text, at, decoder)
                return Prefix("object", elements, rest, error or exc, members, key, object_rest=start)
            if depth == 0 and text.startswith("{", at):  # inside an object: its members before it
                inner = _members(text, at, decoder, depth + 1)
                return Prefix("object", [], start, exc, members, object_key=key, object_members=inner.members,
                              object_rest=inner.object_rest)
            return Prefix("object", [], start, exc, members, object_rest=start)
        members.append((key, value))
        at = _SPACE(text, at).end()
        if text.startswith("}", at):  # read whole (json.loads would have read it): what follows is not JSON
            return Prefix("object", [], at + 1, json.JSONDecodeError("Extra data", text, at + 1), members,
                          object_rest=at + 1)
        if not text.startswith(",", at):
            return Prefix("object", [], at, json.JSONDecodeError("Expecting ',' delimiter", text, at), members,
                          object_rest=at)
        at = _SPACE(text, at + 1).end()


def _held(text: str, at: int, decoder: json.JSONDecoder) -> tuple[Any, int]:
    """The value at ``text[at]`` of the document's own object, too deep for ``json`` as a whole: an array's
    elements, or an object's members, each too deep for it as :class:`TooDeep`; ``json.JSONDecodeError`` where it
    breaks."""
    if text.startswith("[", at):
        elements, rest, error = _elements(text, at, decoder)
        if error is not None:
            raise error
        return elements, rest
    if text.startswith("{", at):
        inner = _members(text, at, decoder, 1)
        if inner.error is None or inner.error.msg != "Extra data":  # (read whole, it stops at its "}")
            raise inner.error or json.JSONDecodeError("Expecting value", text, at)
        hook = decoder.object_pairs_hook or dict
        return hook(inner.members), inner.rest
    return _decode(text, at, decoder)


def cut_short(text: str, error: json.JSONDecodeError) -> bool:
    """Does ``text`` break because it ends (a file cut short), not at a character that is not JSON: ``error`` is
    at its end (whitespace aside), or in a string that the text ends inside?"""
    end = len(text)
    while end and text[end - 1] in " \t\r\n":
        end -= 1
    return error.pos >= end or error.msg.startswith("Unterminated string")


def hint(text: str, pos: int) -> str:
    """What a break at ``text[pos]`` most likely is, for the message (": a comment is not JSON"), or ""."""
    if text.startswith(("//", "/*", "#"), pos):
        return ": a comment is not JSON"
    if text.startswith(("]", "}"), pos):
        before = pos
        while before and text[before - 1] in " \t\r\n":
            before -= 1
        if before and text[before - 1] == ",":
            return f": a comma before a closing {text[pos]!r} is not JSON"
    return ""
