"""xz files read as the xz tool reads them: one stream, or several one after another, with stream padding (null
bytes) between and after them.

Python's ``lzma.open`` reads streams one after another but takes the first bytes that start no stream for trailing
garbage: padding after the last stream (``xz`` output with null bytes appended, as tape and block-device tools
write it) fails as a file that "ended before the end-of-stream marker", and padding or a damaged stream after a
stream ends the file there, silently: every row after it would be lost unseen. :class:`XzStreams` decodes every stream,
skips the padding, and raises ``lzma.LZMAError`` for bytes after a stream that start no other (the reader
quarantines the rest of the file with that reason) and ``EOFError`` for a stream cut short.
"""

from __future__ import annotations

import io
import lzma
from typing import BinaryIO

XZ_MAGIC = b"\xfd7zXZ\x00"
TRUNCATED = "Compressed file ended before the end-of-stream marker was reached"


class XzStreams(io.RawIOBase):
    """The decompressed bytes of a raw xz file. Each read hands out what was decoded before a break (at most
    ``chunk`` bytes, or ``len(view)`` if more, are decoded at a time), so a reader that decodes in small chunks
    keeps all but the last chunk before a corrupt spot (:func:`salvage_xz`).

    The decoder is called on ``piece`` bytes of the file and for ``chunk`` bytes of text at a time (4 MB and
    8 MB: a read of a few MB is one call; what a smaller read leaves waits for the next). Each call releases the
    GIL while it decodes and must take it back after: on a read-ahead thread beside threads that run Python,
    every return waits up to the interpreter's switch interval (5 ms) for it, so calls of 64 kB of the file
    (about 3 ms of decoding each) left the decoder waiting more than it worked."""

    def __init__(self, raw: BinaryIO, piece: int = 1 << 22, chunk: int = 1 << 23) -> None:
        self._raw = raw
        self._piece = piece
        self._chunk = chunk
        # the first stream may be legacy .lzma (as ``xz -d`` reads it); a later one must be an xz stream
        self._decoder: lzma.LZMADecompressor | None = lzma.LZMADecompressor()
        self._input = b""  # raw bytes read but not yet given to a decoder
        self._consumed = 0  # raw bytes read so far (to name where a stray byte sits)
        self._pending = memoryview(b"")  # decoded bytes not yet handed out

    def readable(self) -> bool:
        return True

    def _more(self) -> bytes:
        data = self._raw.read(self._piece)
        self._consumed += len(data)
        return data

    def readinto(self, view) -> int:
        if not len(view):
            return 0
        if not self._pending:
            self._pending = memoryview(self._decode(max(len(view), self._chunk)))
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _decode(self, size: int) -> bytes:
        """At most ``size`` more decoded bytes (b"" at the end of the file)."""
        while True:
            if self._decoder is None:  # between streams: skip the padding, then the next stream or the end
                self._input = self._input.lstrip(b"\0")
                if not self._input:
                    self._input = self._more()
                    if not self._input:
                        return b""
                    continue
                while len(self._input) < len(XZ_MAGIC) and (more := self._more()):
                    self._input += more
                if not self._input.startswith(XZ_MAGIC):
                    at = self._consumed - len(self._input)
                    raise lzma.LZMAError(f"the bytes after the end of an xz stream (from byte {at:,} of the file) "
                                         "are neither padding nor another xz stream")
                self._decoder = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
                out = self._decoder.decompress(self._input, max_length=size)
            else:
                data = b""
                if self._decoder.needs_input:
                    data, self._input = self._input or self._more(), b""
                    if not data:
                        raise EOFError(TRUNCATED)
                out = self._decoder.decompress(data, max_length=size)
            self._input = b""
            if self._decoder.eof:
                self._input, self._decoder = self._decoder.unused_data, None
            if out:
                return out

    def readall(self) -> bytes:
        chunks, buffer = [], bytearray(1 << 20)
        while n := self.readinto(buffer):
            chunks.append(bytes(buffer[:n]))
        return b"".join(chunks)

    def close(self) -> None:
        self._raw.close()
        super().close()


def salvage_xz(path, start: int, piece: int = 1 << 12) -> bytes:
    """The decompressed bytes of an xz file that breaks off, from byte ``start`` up to the break, read ``piece``
    bytes at a time (:func:`curation.sources.salvage` for an xz file)."""
    from curation.sources import READ_ERRORS

    out, pos, buffer = bytearray(), 0, bytearray(piece)
    try:
        with XzStreams(open(path, "rb"), piece=piece, chunk=piece) as stream:
            while n := stream.readinto(buffer):
                if pos + n > start:
                    out.extend(buffer[max(0, start - pos) : n])
                pos += n
    except READ_ERRORS:
        pass
    return bytes(out)
