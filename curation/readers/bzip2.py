"""bz2 files decoded on several cores, read as Python's ``bz2`` module reads them.

bzip2 compresses blocks of up to 900 kB independently, so a file's blocks can be decoded side by side:
``indexed_bzip2`` (rapidgzip's sibling) finds them and decodes them on a pool of threads, without holding the
GIL while it waits for them (on one thread it decodes inside the read call, holding it). On this project's
2-core machine it decodes the benchmark's 97 MB of JSON Lines in 1.8 s where ``bz2.open`` takes 3.4 s
(``benchmarks/bench_inputs.py`` times both), and a Python thread beside it keeps its speed.

What is read stays Python's in every case ``indexed_bzip2`` handles otherwise. A file that does not start like a
bz2 stream (it reads as empty there, not as an error), or does not end like one (cut short, or trailing bytes
after its last stream, which it reports on the process's stderr, once per opening), is read by ``bz2.open``,
which says what is wrong or ignores the trailing bytes, as the ``bzip2`` tool does. Where the parallel decoder
stops at a break inside the file (a corrupt block: it raises a bare C++ error, and may stop a block earlier),
Python's decoder takes over at the same decompressed byte, decoding the file again up to it, so the bytes handed
out before the break and the reason given are the ones ``bz2.open`` gives. One difference is left: in a file of
several streams, a stream's first bytes alone between two whole streams (a concatenation of which one part was
cut to its head) end Python's read there, silently; the parallel decoder skips them and reads the stream after.
"""

from __future__ import annotations

import bz2
import io
import os
from pathlib import Path

from curation.readers.threads import decoder_threads, skip

try:
    import indexed_bzip2 as _parallel
except ImportError:  # pragma: no cover - a dependency; without it bz2 files are read by Python's decoder alone
    _parallel = None

# the start of a bz2 stream: "BZh" and the block size in hundreds of kB ("1"-"9")
_MAGIC = b"BZh"
# the end-of-stream marker (the digits of sqrt(pi)), and the size of a stream of no block: head, marker, checksum
_END_OF_STREAM, _MASK = 0x177245385090, (1 << 48) - 1
_SMALLEST = 14


def _whole_bz2(path: Path) -> bool:
    """Whether the file starts like a bz2 stream and ends like one: its last bytes are a stream's end-of-stream
    marker (48 bits, not aligned to a byte), its 32-bit checksum and the zero bits that pad it to a byte. A file
    cut short, or with bytes after its last stream, ends otherwise (a marker's bits are 1 in 2^48 by chance)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if len(head) < 4 or not head.startswith(_MAGIC) or not b"1" <= head[3:] <= b"9":
            return False
        fh.seek(0, os.SEEK_END)
        if fh.tell() < _SMALLEST:
            return False
        fh.seek(-11, os.SEEK_END)
        tail = int.from_bytes(fh.read(11), "big")
    return any((tail >> (pad + 32)) & _MASK == _END_OF_STREAM and not tail & ((1 << pad) - 1) for pad in range(8))


class ParallelBz2(io.RawIOBase):
    """The decompressed bytes of a bz2 file, decoded on :func:`~curation.readers.threads.decoder_threads` threads;
    Python's decoder from the first byte the parallel one could not give (module docstring)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fast = _parallel.open(str(path), parallelization=decoder_threads())
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
                self._given += got
                return got
        got = self._slow.readinto(view)
        self._given += got
        return got

    def _switch(self) -> None:
        """Close the parallel decoder and let Python's decode the file up to the bytes already handed out."""
        self._fast.close()
        self._slow = bz2.open(self._path, "rb")
        skip(self._slow, self._given)

    def close(self) -> None:
        if not self.closed:
            self._fast.close()
            if self._slow is not None:
                self._slow.close()
        super().close()


def open_bz2(path: Path, buffer_size: int = 1 << 20):
    """A buffered binary stream of a bz2 file's decompressed bytes (:class:`ParallelBz2`; ``bz2.open`` where
    ``indexed_bzip2`` is missing or the file does not start and end like a bz2 stream: :func:`_whole_bz2`)."""
    if _parallel is None or not _whole_bz2(path):
        return bz2.open(path, "rb")
    return io.BufferedReader(ParallelBz2(path), buffer_size)
