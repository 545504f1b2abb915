"""A ``.json`` document that is one array of rows, read a batch of rows at a time instead of whole.

Read whole, a document's rows are all Python objects at once for the length of the run, beside what the run
itself holds: 236 MB of 300,000 rows peaked at 1.25 GB (1.07 GB read so), 714 MB of 900,000 at 4.8 GB (4.1 GB).
:func:`array_elements` checks the document's bytes in one compiled pass (:func:`_element_spans`): that it is
valid JSON as Python's ``json.loads`` reads it (``strict=False``: raw control characters in strings; ``NaN``,
``Infinity``), one array at the top, nested at most :data:`MAX_DEPTH` deep, and where each element starts and
ends. :class:`ArrayElements` then parses the elements a slice at a time, as the run asks for them, with the same
decoder the whole document is read with: the same rows, ids and quarantine, from the bytes alone (a row's
objects live as long as its batch).

Anything else is read whole (:func:`curation.readers._json_rows`), where its other shapes and every way it breaks
are handled: a document under :data:`STREAM_BYTES`, an object at the top, a document that breaks part-way (its
rows before the break kept), bytes that are no UTF-8, UTF-16 or UTF-32, a compressed stream cut short, nesting
deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from curation.core.jit import njit

# deeper documents are read whole (where json's recursion and the quarantine of rows too deep are handled)
MAX_DEPTH = 64
# smaller documents are read whole: their rows take little memory, and the check would load numba to save none
STREAM_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"


class ArrayElements(Sequence):
    """The elements of a JSON array held as bytes, parsed ``[a:b]`` at a time as the whole document was read:
    ``json.loads`` with ``strict=False`` and :func:`~curation.readers.errors.json_int`, each object through a
    ``hook_type()`` instance, the slice's rows then through ``mark(rows, hook)`` (the quarantine of rows that name
    a key twice). Pickles as its bytes and spans (a Ray worker parses what it reads)."""

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray, hook_type: Callable[[], Any],
                 mark: Callable[[list, Any], list]) -> None:
        self.data, self.starts, self.ends = data, starts, ends
        self.hook_type, self.mark = hook_type, mark

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice):
            i = range(len(self))[index]
            return self[i:i + 1][0]
        a, b, step = index.indices(len(self))
        if step != 1:
            return [self[i] for i in range(a, b, step)]
        if b <= a:
            return []
        from curation.readers.errors import json_int

        hook = self.hook_type()
        text = self.data[self.starts[a]:self.ends[b - 1]].decode("utf-8")
        rows = json.loads("[" + text + "]", object_pairs_hook=hook, strict=False, parse_int=json_int)
        return self.mark(rows, hook)


def array_elements(data: bytes, hook_type: Callable[[], Any], mark: Callable[[list, Any], list]) -> ArrayElements | None:
    """The elements of the UTF-8 document ``data`` (byte-order marks in front allowed, as the text reader strips
    them) when it is one JSON array that ``json.loads`` reads whole, nested at most :data:`MAX_DEPTH` deep, as an
    :class:`ArrayElements`; None for any other document."""
    start = 0
    while data.startswith(_BOM, start):
        start += len(_BOM)
    count, starts, ends = _element_spans(np.frombuffer(data, dtype=np.uint8), start, MAX_DEPTH)
    if count < 0:
        return None
    return ArrayElements(data, starts[:count].copy(), ends[:count].copy(), hook_type, mark)


# byte classes
_WS = np.zeros(256, np.bool_)
for _c in b" \t\n\r":
    _WS[_c] = True
_HEX = np.zeros(256, np.bool_)
for _c in b"0123456789abcdefABCDEF":
    _HEX[_c] = True
_ESCAPES = np.zeros(256, np.bool_)
for _c in b'"\\/bfnrtu':
    _ESCAPES[_c] = True


@njit(cache=True, nogil=True)
def _skip_ws(b, i, ws):
    n = len(b)
    while i < n and ws[b[i]]:
        i += 1
    return i


@njit(cache=True, nogil=True)
def _string_end(b, i, hexd, escapes):
    """``b[i]`` is a string's opening quote: the index after its closing quote, or -1 (no valid string)."""
    n = len(b)
    i += 1
    while i < n:
        c = b[i]
        if c == 34:  # "
            return i + 1
        if c == 92:  # \
            if i + 1 >= n or not escapes[b[i + 1]]:
                return -1
            if b[i + 1] == 117:  # u: four hex digits
                for k in range(2, 6):
                    if i + k >= n or not hexd[b[i + k]]:
                        return -1
                i += 6
            else:
                i += 2
        else:
            i += 1  # any other byte: json with strict=False takes control characters too
    return -1


@njit(cache=True, nogil=True)
def _digits_end(b, i):
    n = len(b)
    while i < n and 48 <= b[i] <= 57:
        i += 1
    return i


@njit(cache=True, nogil=True)
def _literal_end(b, i, word):
    """The index after ``word`` at ``b[i]``, or -1."""
    if i + len(word) > len(b):
        return -1
    for k in range(len(word)):
        if b[i + k] != word[k]:
            return -1
    return i + len(word)


@njit(cache=True, nogil=True)
def _scalar_end(b, i, hexd, escapes, true_, false_, null_, nan_, inf_):
    """The index after the string, number or literal at ``b[i]`` (as Python's json scanner reads it), or -1."""
    n = len(b)
    c = b[i]
    if c == 34:
        return _string_end(b, i, hexd, escapes)
    if c == 116:
        return _literal_end(b, i, true_)
    if c == 102:
        return _literal_end(b, i, false_)
    if c == 110:
        return _literal_end(b, i, null_)
    if c == 78:
        return _literal_end(b, i, nan_)
    if c == 73:
        return _literal_end(b, i, inf_)
    j = i
    if c == 45:  # -
        j += 1
        if j < n and b[j] == 73:
            return _literal_end(b, j, inf_)
    if j >= n or not 48 <= b[j] <= 57:
        return -1
    if b[j] == 48:
        j += 1
    else:
        j = _digits_end(b, j)
    if j < n and b[j] == 46:  # . and at least one digit
        if j + 1 >= n or not 48 <= b[j + 1] <= 57:
            return -1
        j = _digits_end(b, j + 1)
    if j < n and (b[j] == 101 or b[j] == 69):  # e, E, an optional sign and at least one digit
        k = j + 1
        if k < n and (b[k] == 43 or b[k] == 45):
            k += 1
        if k >= n or not 48 <= b[k] <= 57:
            return -1
        j = _digits_end(b, k)
    return j


@njit(cache=True, nogil=True)
def _appended(starts, ends, count, start, end):
    """``starts`` and ``ends`` with the span ``start:end`` as their entry ``count`` (grown as needed)."""
    if count == len(starts):
        grown = np.empty(2 * count, np.int64)
        grown[:count] = starts
        starts = grown
        grown = np.empty(2 * count, np.int64)
        grown[:count] = ends
        ends = grown
    starts[count] = start
    ends[count] = end
    return starts, ends


@njit(cache=True, nogil=True)
def _element_spans_of(b, start, max_depth, ws, hexd, escapes, true_, false_, null_, nan_, inf_):
    n = len(b)
    starts = np.empty(1024, np.int64)
    ends = np.empty(1024, np.int64)
    count = 0
    stack = np.zeros(max_depth + 1, np.uint8)  # 1: array, 2: object
    depth = 0
    i = _skip_ws(b, start, ws)
    if i >= n or b[i] != 91:  # the document's one value must be an array: [
        return -1, starts, ends
    state = 0  # 0: a value is expected, 1: a value ended, 2: a key is expected
    element_start = 0
    while True:
        if state == 0:
            i = _skip_ws(b, i, ws)
            if i >= n:
                return -1, starts, ends
            if depth == 1:
                element_start = i
            c = b[i]
            if c == 91 or c == 123:  # [ {
                if depth >= max_depth:
                    return -1, starts, ends
                depth += 1
                stack[depth] = 1 if c == 91 else 2
                i = _skip_ws(b, i + 1, ws)
                if i < n and b[i] == (93 if c == 91 else 125):  # empty container
                    depth -= 1
                    i += 1
                    state = 1
                elif c == 91:
                    state = 0
                else:
                    state = 2
            else:
                i = _scalar_end(b, i, hexd, escapes, true_, false_, null_, nan_, inf_)
                if i < 0:
                    return -1, starts, ends
                state = 1
            if state == 1 and depth == 1:
                starts, ends = _appended(starts, ends, count, element_start, i)
                count += 1
        elif state == 2:
            i = _skip_ws(b, i, ws)
            if i >= n or b[i] != 34:
                return -1, starts, ends
            i = _string_end(b, i, hexd, escapes)
            if i < 0:
                return -1, starts, ends
            i = _skip_ws(b, i, ws)
            if i >= n or b[i] != 58:  # :
                return -1, starts, ends
            i += 1
            state = 0
        else:  # a value ended
            i = _skip_ws(b, i, ws)
            if depth == 0:
                return (count if i == n else -1), starts, ends
            if i >= n:
                return -1, starts, ends
            c = b[i]
            close = 93 if stack[depth] == 1 else 125
            if c == 44:  # ,
                i += 1
                state = 0 if stack[depth] == 1 else 2
            elif c == close:
                depth -= 1
                i += 1
                if depth == 1:
                    starts, ends = _appended(starts, ends, count, element_start, i)
                    count += 1
            else:
                return -1, starts, ends


_WORDS = tuple(np.frombuffer(w, np.uint8).copy() for w in (b"true", b"false", b"null", b"NaN", b"Infinity"))


def _element_spans(buf: np.ndarray, start: int, max_depth: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(count, starts, ends)``: the top array's elements, ``buf[starts[k]:ends[k]]``; count -1 where ``buf``
    from ``start`` is not one valid JSON array nested at most ``max_depth`` deep."""
    return _element_spans_of(buf, start, max_depth, _WS, _HEX, _ESCAPES, *_WORDS)
