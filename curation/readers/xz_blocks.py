"""xz files of several blocks decoded on several cores, read as :class:`curation.readers.xz.XzStreams` reads them.

An xz stream is a row of independently compressed blocks followed by an index of their sizes. ``xz -T``
(multi-threaded, the default from xz 5.6) writes a block for every 3 dictionary sizes of text (24 MB at the
default level), ``pixz`` and ``pxz`` write several too; a file of one block (``xz -T1``, Python's ``lzma``) has
nothing to decode side by side. :func:`xz_blocks` finds the blocks from the file's end (stream footer, index,
stream header; every stream of a concatenated file, stream padding skipped), and :class:`ParallelXz` decodes
them on a pool of threads (liblzma does not hold the GIL while it decodes), each as a one-block stream of its
own, so that its sizes and integrity check are verified as in the whole file.

What is read stays :class:`~curation.readers.xz.XzStreams`'s. A file whose structure does not read as whole
streams from its end (cut short, bytes after a stream that are not padding, a damaged index, legacy ``.lzma``)
is read by it from the start, and says what is wrong as before. Where a block fails to decode, it takes over at
the same decompressed byte (decoding the file again up to it) and gives its own bytes and reason from there. The
blocks before the break may be more than it would have handed out (the output of its decoder call that fails is
lost); the reader's salvage of a break (:func:`~curation.readers.xz.salvage_xz`) decodes the rest again in small
pieces, so the rows read are the same.
"""

from __future__ import annotations

import io
import lzma
import os
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from curation.readers.threads import decoder_threads, skip
from curation.readers.xz import XZ_MAGIC, XzStreams

FOOTER_MAGIC = b"YZ"
HEADER_SIZE = FOOTER_SIZE = 12
# what the decoded blocks waiting for the reader may hold at once: fewer blocks ahead when they are large
# (xz -9 -T writes 192 MB blocks); a file whose largest block holds more than this is read on one thread
AHEAD_BYTES = 1 << 28
# the error of a block whose decoded size is not its index's
WRONG_SIZE = "a block does not decode to the size in its index"
# an index larger than this is not an xz tool's (8 bytes a block at most, mostly): read on one thread
MAX_INDEX = 1 << 26


class Block(NamedTuple):
    """One block of an xz file: where it starts, its size in the index (header, data and check, no padding),
    its decompressed size, and its stream's flags (the check type)."""

    offset: int
    unpadded: int
    size: int
    flags: bytes

    @property
    def stored(self) -> int:
        """Bytes it takes in the file: its unpadded size padded to a multiple of 4."""
        return -(-self.unpadded // 4) * 4


class NotBlocks(ValueError):
    """The file does not read as whole xz streams from its end."""


def _u32(data: bytes) -> int:
    return int.from_bytes(data, "little")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """An xz multibyte integer (7 bits a byte, least significant first, at most 9 bytes) at ``pos``, and the
    position after it."""
    value = 0
    for i in range(9):
        if pos >= len(data):
            raise NotBlocks("index ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i:
                raise NotBlocks("a number not in its shortest form")
            return value, pos
    raise NotBlocks("a number of more than 9 bytes")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_at(fh, offset: int, size: int) -> bytes:
    fh.seek(offset)
    data = fh.read(size)
    if len(data) != size:
        raise NotBlocks("the file is shorter than its index says")
    return data


def _skip_padding(fh, end: int) -> int:
    """Where the stream padding (null bytes, a multiple of 4) before ``end`` starts."""
    while end > 0:
        start = max(0, end - (1 << 16))
        chunk = _read_at(fh, start, end - start)
        kept = len(chunk.rstrip(b"\0"))
        if kept:
            end = start + kept
            break
        end = start
    return end


def _index(data: bytes) -> list[tuple[int, int]]:
    """The ``(unpadded size, decompressed size)`` records of a stream's index (its bytes, CRC32 last)."""
    if len(data) < 8 or data[0] != 0 or zlib.crc32(data[:-4]) != _u32(data[-4:]):
        raise NotBlocks("no index, or its checksum does not match")
    count, pos = _varint(data, 1)
    records = []
    for _ in range(count):
        unpadded, pos = _varint(data, pos)
        size, pos = _varint(data, pos)
        if unpadded < 5:
            raise NotBlocks("a block smaller than its header")
        records.append((unpadded, size))
    padding = -pos % 4
    if pos + padding != len(data) - 4 or any(data[pos : pos + padding]):
        raise NotBlocks("the index's records do not fill it")
    return records


def _stream_before(fh, end: int) -> tuple[int, list[Block]]:
    """The stream that ends at ``end``: where it starts, and its blocks."""
    if end < HEADER_SIZE + 8 + FOOTER_SIZE:
        raise NotBlocks("too short for a stream")
    footer = _read_at(fh, end - FOOTER_SIZE, FOOTER_SIZE)
    flags = footer[8:10]
    if footer[10:] != FOOTER_MAGIC or zlib.crc32(footer[4:10]) != _u32(footer[:4]) or flags[0] or flags[1] & 0xF0:
        raise NotBlocks("no stream footer")
    index_size = (_u32(footer[4:8]) + 1) * 4
    index_start = end - FOOTER_SIZE - index_size
    if index_size > MAX_INDEX or index_start < HEADER_SIZE:
        raise NotBlocks("an index larger than the stream")
    records = _index(_read_at(fh, index_start, index_size))
    start = index_start - sum(-(-unpadded // 4) * 4 for unpadded, _ in records) - HEADER_SIZE
    if start < 0:
        raise NotBlocks("blocks larger than the file")
    header = _read_at(fh, start, HEADER_SIZE)
    if header[:6] != XZ_MAGIC or header[6:8] != flags or zlib.crc32(flags) != _u32(header[8:]):
        raise NotBlocks("no stream header where the index says the stream starts")
    blocks, offset = [], start + HEADER_SIZE
    for unpadded, size in records:
        blocks.append(Block(offset, unpadded, size, flags))
        offset += blocks[-1].stored
    return start, blocks


def xz_blocks(path: Path) -> list[Block]:
    """Every block of an xz file, in order, read from the file's end: every stream's footer, index and header
    (stream padding skipped). :class:`NotBlocks` where the file does not read so."""
    with open(path, "rb") as fh:
        if fh.read(len(XZ_MAGIC)) != XZ_MAGIC:
            raise NotBlocks("not an xz stream")
        end = _skip_padding(fh, fh.seek(0, os.SEEK_END))
        streams = []
        while True:
            start, blocks = _stream_before(fh, end)
            streams.append(blocks)
            if not start:
                break
            end = _skip_padding(fh, start)
            if not end:  # padding before the first stream: not a file the xz tool reads
                raise NotBlocks("padding before the first stream")
    return [block for blocks in reversed(streams) for block in blocks]


def _one_block_stream(block: Block, data: bytes) -> bytes:
    """``data`` (a block's stored bytes) as a stream of its own: header, the block, an index of it, footer."""
    index = b"\0" + _encode_varint(1) + _encode_varint(block.unpadded) + _encode_varint(block.size)
    index += b"\0" * (-len(index) % 4)
    index += zlib.crc32(index).to_bytes(4, "little")
    backward = (len(index) // 4 - 1).to_bytes(4, "little")
    header = XZ_MAGIC + block.flags + zlib.crc32(block.flags).to_bytes(4, "little")
    footer = zlib.crc32(backward + block.flags).to_bytes(4, "little") + backward + block.flags + FOOTER_MAGIC
    return header + data + index + footer


def decode_block(block: Block, data: bytes) -> bytes:
    """A block's decompressed bytes; ``lzma.LZMAError`` where it does not decode to the size its index gives."""
    decoder = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    out = decoder.decompress(_one_block_stream(block, data), max_length=block.size + 1)
    if not decoder.eof or len(out) != block.size:
        raise lzma.LZMAError(WRONG_SIZE)
    return out


class ParallelXz(io.RawIOBase):
    """The decompressed bytes of an xz file's ``blocks``, decoded on ``threads`` threads, in order; an
    :class:`~curation.readers.xz.XzStreams` from the first byte a block could not give (module docstring).

    The first block is decoded here, ``chunk`` bytes of text a call, as the one-thread reader does: a reader that
    looks at a file's head (the first MB, to tell its format) and closes it decodes no more than that reader would.
    The threads start on the next blocks when the reader asks for a second chunk; each then decodes one block
    whole, at most ``threads`` blocks ahead of the reader (fewer where blocks are large: :data:`AHEAD_BYTES`)."""

    def __init__(self, path: Path, blocks: list[Block], threads: int, chunk: int = 1 << 23) -> None:
        self._path = path
        self._blocks = blocks
        self._chunk = chunk
        self._raw = open(path, "rb")
        largest = max(block.size for block in blocks)
        self._ahead_max = max(1, min(threads, AHEAD_BYTES // max(largest, 1)))
        self._threads = min(threads, self._ahead_max)
        self._pool: ThreadPoolExecutor | None = None  # started when the reader reads past the first chunk
        self._ahead: deque[Future] = deque()
        self._next = 1  # the next block to hand to the pool
        first = blocks[0]
        self._raw.seek(first.offset)
        self._head: lzma.LZMADecompressor | None = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        self._head_input = _one_block_stream(first, self._raw.read(first.stored))
        self._head_size = 0  # bytes of the first block decoded so far
        self._pending = memoryview(b"")  # decoded bytes not yet handed out
        self._slow: XzStreams | None = None
        self._given = 0  # decompressed bytes handed out so far

    def readable(self) -> bool:
        return True

    def _decode_head(self, size: int) -> bytes:
        """At most ``size`` more bytes of the first block; ``lzma.LZMAError`` where it does not decode whole."""
        out = self._head.decompress(self._head_input, max_length=size)
        self._head_input = b""
        self._head_size += len(out)
        if self._head.eof:
            if self._head_size != self._blocks[0].size:
                raise lzma.LZMAError(WRONG_SIZE)
            self._head = None
        elif not out and self._head.needs_input:
            raise lzma.LZMAError("a block ends before its end")
        return out

    def _fill(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="xz-block")
        while self._next < len(self._blocks) and len(self._ahead) < self._ahead_max:
            block = self._blocks[self._next]
            self._raw.seek(block.offset)
            self._ahead.append(self._pool.submit(decode_block, block, self._raw.read(block.stored)))
            self._next += 1

    def _more(self, size: int) -> bytes | None:
        """The next decoded bytes (b"" at the end): of the first block, or of the next block the threads decoded.
        None where a block does not decode."""
        try:
            if self._head is not None:
                if self._head_size:  # the reader reads past the first chunk: the threads start on the next blocks
                    self._fill()
                return self._decode_head(size)
            self._fill()
            if not self._ahead:
                return b""
            out = self._ahead.popleft().result()
        except Exception:  # noqa: BLE001 - any failure: the one-thread reader reads on and names the break
            return None
        self._fill()  # the next blocks decode while the reader takes this one
        return out

    def readinto(self, view) -> int:
        if not len(view):
            return 0
        while self._slow is None and not self._pending:
            out = self._more(max(len(view), self._chunk))
            if out is None:
                self._switch()
            elif not out and self._head is None and not self._ahead and self._next == len(self._blocks):
                return 0
            else:
                self._pending = memoryview(out)
        if self._slow is not None:
            got = self._slow.readinto(view)
            self._given += got
            return got
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._given += n
        return n

    def _switch(self) -> None:
        """Stop decoding blocks and let :class:`XzStreams` decode the file up to the bytes already handed out."""
        self._stop()
        self._slow = XzStreams(open(self._path, "rb"))
        skip(self._slow, self._given)

    def _stop(self) -> None:
        for future in self._ahead:
            future.cancel()
        self._ahead.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._head = None
        self._raw.close()

    def close(self) -> None:
        if not self.closed:
            self._stop()
            if self._slow is not None:
                self._slow.close()
        super().close()


def open_xz(path: Path, buffer_size: int = 1 << 20):
    """A buffered binary stream of an xz file's decompressed bytes: :class:`ParallelXz` for a file of two blocks
    or more whose structure reads whole (:func:`xz_blocks`), :class:`~curation.readers.xz.XzStreams` otherwise."""
    try:
        blocks = xz_blocks(path)
    except (NotBlocks, OSError):
        blocks = []
    if len(blocks) < 2 or max(block.size for block in blocks) > AHEAD_BYTES:
        return io.BufferedReader(XzStreams(open(path, "rb")), buffer_size)
    return io.BufferedReader(ParallelXz(path, blocks, decoder_threads()), buffer_size)
