"""UTF-8 decoding and Python's whitespace, for compiled kernels that walk Arrow string buffers."""

from __future__ import annotations

import numpy as np

from curation.core.jit import njit


@njit(cache=True)
def is_space(cp):
    return (
        (9 <= cp <= 13) or (0x1C <= cp <= 0x20) or cp == 0x85 or cp == 0xA0 or cp == 0x1680
        or (0x2000 <= cp <= 0x200A) or cp == 0x2028 or cp == 0x2029 or cp == 0x202F or cp == 0x205F or cp == 0x3000
    )


@njit(cache=True)
def decode(buf, p, end):
    """(code point, byte length) of the UTF-8 character at ``p`` (a malformed byte counts as one character)."""
    b0 = np.int64(buf[p])
    if b0 < 0x80:
        return b0, 1
    if b0 >= 0xF0 and p + 3 < end:
        return ((b0 & 0x07) << 18) | ((np.int64(buf[p + 1]) & 0x3F) << 12) | ((np.int64(buf[p + 2]) & 0x3F) << 6) | (np.int64(buf[p + 3]) & 0x3F), 4
    if b0 >= 0xE0 and p + 2 < end:
        return ((b0 & 0x0F) << 12) | ((np.int64(buf[p + 1]) & 0x3F) << 6) | (np.int64(buf[p + 2]) & 0x3F), 3
    if b0 >= 0xC0 and p + 1 < end:
        return ((b0 & 0x1F) << 6) | (np.int64(buf[p + 1]) & 0x3F), 2
    return b0, 1


@njit(cache=True)
def last_start(buf, start, end):
    """Where the last character of ``buf[start:end]`` begins (``end`` when empty)."""
    p = end - 1
    while p > start and (buf[p] & 0xC0) == 0x80:
        p -= 1
    return p if end > start else end
