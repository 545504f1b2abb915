"""bz2 files decoded on several cores, read as Python's ``bz2`` module reads them.

bzip2 compresses blocks of up to 900 kB independently, so a file's blocks can be decoded side by side:
``indexed_bzip2`` (rapidgzip's sibling) finds them and decodes them on a pool of threads, without holding the
GIL while it waits for them (on one thread it decodes inside the read call, holding it). On this project's
2-core machine it reads a 61 MB JSON Lines file in 0.9 s where ``bz2.open`` takes 2.3 s, and a Python thread
beside it keeps its speed (``benchmarks/bench_inputs.py`` measures both).

What is read stays Python's in every case ``indexed_bzip2`` handles otherwise: a file that does not start like a
bz2 stream (it reads as empty there, not as an error) is opened by ``bz2.open``, which says what is wrong; and
where the parallel decoder stops at a break (a truncated or corrupt file: it raises a bare C++ error, and may
stop a block earlier), Python's decoder takes over at the same decompressed byte, decoding the file again up to
it, so the bytes handed out before the break and the reason given are the ones ``bz2.open`` gives. Trailing
bytes after the last stream are ignored by both, as by the ``bzip2`` tool.
"""

from __future__ import annotations

import bz2
import io
import os
from pathlib import Path

try:
    import indexed_bzip2 as _parallel
except ImportError:  # pragma: no cover - a dependency; without it bz2 files are read by Python's decoder alone
    _parallel = None

# the start of a bz2 stream: "BZh" and the block size in hundreds of kB ("1"-"9")
_MAGIC = b"BZh"
# decoder threads: at least 2 (on one, the decoder holds the GIL while it decodes); more than 8 only hold
# blocks in memory that the reader is not ready for
_MAX_THREADS = 8


def _threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 2
    return min(max(cpus, 2), _MAX_THREADS)


def _starts_like_bz2(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
    return len(head) == 4 and head.startswith(_MAGIC) and b"1" <= head[3:] <= b"9"


class ParallelBz2(io.RawIOBase):
    """The decompressed bytes of a bz2 file, decoded on :func:`_threads` threads; Python's decoder from the
    first byte the parallel one could not give (module docstring)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fast = _parallel.open(str(path), parallelization=_threads())
        self._slow: bz2.BZ2File | None = None
        self._given = 0  # decompressed bytes handed out so far

    def readable(self) -> bool:
        return True

    def readinto(self, view) -> int:
        if self._slow is None:
            try:
                got = self._fast.readinto(view)
            except Exception:  # a bare RuntimeError from C++: Python's decoder reads on and names the break
                self._switch()
            else:
                if got or not len(view) or not self._tail_holds_more():
                    self._given += got
                    return got
                self._switch()
        got = self._slow.readinto(view)
        self._given += got
        return got

    def _tail_holds_more(self) -> bool:
        """At the parallel decoder's end: whether the bytes after the last stream it read hold more than Python's
        decoder ignores. It takes a stream's head cut short (a file cut within a stream's first bytes) for
        trailing garbage, and skips a last stream of no block; Python's decoder ends with an error at the first
        and reads the second, so either hands the rest to it. Bytes that start no stream are trailing garbage to
        both."""
        offsets = self._fast.block_offsets()  # bit offsets of the blocks, the last one where the last stream ends
        with open(self._path, "rb") as fh:
            fh.seek((max(offsets, default=0) + 7) // 8)
            tail = fh.read()
        while tail:
            decoder = bz2.BZ2Decompressor()
            try:
                if decoder.decompress(tail):
                    return True
            except OSError:  # not a stream: ignored, as Python's decoder ignores it
                return False
            if not decoder.eof:  # a stream that does not end: Python's decoder says the file is cut short
                return True
            tail = decoder.unused_data
        return False

    def _switch(self) -> None:
        """Close the parallel decoder and let Python's decode the file up to the bytes already handed out."""
        self._fast.close()
        self._slow = bz2.open(self._path, "rb")
        skip, piece = self._given, bytearray(1 << 20)
        while skip:
            got = self._slow.readinto(memoryview(piece)[: min(skip, len(piece))])
            if not got:  # Python's decoder ends where the parallel one read on: nothing more to give
                break
            skip -= got

    def close(self) -> None:
        if not self.closed:
            self._fast.close()
            if self._slow is not None:
                self._slow.close()
        super().close()


def open_bz2(path: Path, buffer_size: int = 1 << 20):
    """A buffered binary stream of a bz2 file's decompressed bytes (:class:`ParallelBz2`; ``bz2.open`` where
    ``indexed_bzip2`` is missing or the file does not start like a bz2 stream)."""
    if _parallel is None or not _starts_like_bz2(path):
        return bz2.open(path, "rb")
    return io.BufferedReader(ParallelBz2(path), buffer_size)
