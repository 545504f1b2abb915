"""An exception as the one line an error message shows of it.

Libraries raise messages of several lines (pydantic lists each problem, the hub quotes whole responses); every
command prints one line per error, so each place that names a library's error takes its first line from here.
"""

from __future__ import annotations


def error_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message as one line (its first), or its type's name when it has none; cut to ``limit``
    characters (``...`` ending the cut) when given."""
    text = str(exc).strip()
    # (the first line feed ends the line: ``str.splitlines`` also cuts at U+2028 or a form feed, which a file
    # name the message quotes may hold)
    line = text.split("\n", 1)[0].strip() if text else type(exc).__name__
    return line if limit is None or len(line) <= limit else line[: limit - 3] + "..."


def is_network_error(exc: BaseException) -> bool:
    """Is ``exc`` a connection's failure as an HTTP client that raises no ``OSError`` raises it: ``httpx``'s
    (``hf://`` paths are read through it) or ``aiohttp``'s (fsspec's ``https://``)? Only the clients already
    imported are looked at."""
    import sys

    kinds: list[type] = []
    if (httpx := sys.modules.get("httpx")) is not None:
        kinds.append(httpx.TransportError)
    if (aiohttp := sys.modules.get("aiohttp")) is not None:
        kinds.append(aiohttp.ClientError)
    return bool(kinds) and isinstance(exc, tuple(kinds))
