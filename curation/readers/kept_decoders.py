"""A slow codec's decoder (bz2, xz) kept between the looks at a compressed file's head and its read, within a run.

Before a compressed input is read, its head is looked at twice (its format by its first MB, its first records by
a batch of them), and each look opened the file and decoded that head again, as the read did after them: 0.1-0.2 s
a look for bz2 and xz. Inside :func:`keeping` (one ``tome curate`` run), a bz2 or xz file's decoder is kept when a
look closes it: the next open of the same file replays the bytes decoded so far (up to :data:`RECORDED_BYTES`)
and goes on decoding from where the look stopped, so the read starts with what the looks decoded. A decoder that
broke, or that decoded past what is recorded, is closed as before; outside :func:`keeping` nothing is kept.
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

# what a kept decoder's replay holds: the looks read a few MB (1 MB, then a batch of 1 MB blocks read ahead)
RECORDED_BYTES = 16 << 20
# decoders kept at once (the oldest is closed): a run looks at one file of each input before the next
KEPT_AT_MOST = 4

_lock = threading.RLock()  # (a replay closed by the garbage collector inside a locked step keeps its decoder)
_runs = 0  # runs inside keeping() (the tests run several in one process)
_kept: dict[tuple, "_Decoder"] = {}


@contextmanager
def keeping() -> Iterator[None]:
    """Keep bz2 and xz decoders between opens of the same file while inside (a run); on leaving the last, the
    kept ones are closed."""
    global _runs
    with _lock:
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            closing = list(_kept.values()) if _runs == 0 else []
            if _runs == 0:
                _kept.clear()
        for decoder in closing:
            decoder.close()


def open_kept(path: Path, codec: str, opener: Callable[[], BinaryIO], buffer_size: int) -> BinaryIO:
    """``opener()``'s stream of ``path``'s decoded bytes, or, inside :func:`keeping`, a replay of the one kept for
    the same file (its bytes decoded so far, then the rest from where it stopped); either way a buffered stream
    whose closing keeps its decoder for the next open, where it can be replayed."""
    key = _key(path, codec)
    if key is None:
        return opener()
    with _lock:
        if not _runs:
            return opener()
        decoder = _kept.pop(key, None)
    if decoder is None:
        decoder = _Decoder(opener())
    return io.BufferedReader(_Replay(decoder, key), buffer_size)


def _key(path: Path, codec: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # the opener says what is wrong
    return (os.path.realpath(path), codec, st.st_size, st.st_mtime_ns, st.st_ino)


def _keep(key: tuple, decoder: "_Decoder") -> None:
    with _lock:
        if not _runs or key in _kept:  # (another open of the file kept its own)
            evicted = [decoder]
        else:
            _kept[key] = decoder
            evicted = []
            while len(_kept) > KEPT_AT_MOST:
                evicted.append(_kept.pop(next(iter(_kept))))
    for old in evicted:
        old.close()


class _Decoder:
    """A decoder's stream, the bytes read from it so far (while they fit in :data:`RECORDED_BYTES`), and whether
    it can still be replayed (nothing read past the record, no error)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.recorded = bytearray()
        self.replayable = True

    def close(self) -> None:
        self.stream.close()


class _Replay(io.RawIOBase):
    """One open of a kept decoder: its recorded bytes, then its stream's next ones (recorded while they fit)."""

    def __init__(self, decoder: _Decoder, key: tuple) -> None:
        self._decoder = decoder
        self._key = key
        self._at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        decoder = self._decoder
        recorded = decoder.recorded
        if self._at < len(recorded):
            count = min(len(buffer), len(recorded) - self._at)
            buffer[:count] = recorded[self._at : self._at + count]
            self._at += count
            return count
        try:
            count = decoder.stream.readinto(buffer)
        except BaseException:
            decoder.replayable = False  # its state after an error is the error's: a next open starts again
            raise
        if count and decoder.replayable:
            if len(recorded) + count <= RECORDED_BYTES:
                recorded += memoryview(buffer)[:count]
            else:  # past the record: what follows is this open's alone
                decoder.replayable = False
                decoder.recorded = bytearray()
        self._at += count or 0
        return count or 0

    def close(self) -> None:
        if not self.closed:
            decoder, self._decoder = self._decoder, None
            if decoder is not None:
                if decoder.replayable:
                    _keep(self._key, decoder)
                else:
                    decoder.close()
        super().close()
