"""What the decoders that decode a file's blocks side by side (bz2, multi-block xz) share: how many threads they
take, and the one-thread reader's take-over at the byte they could not give."""

from __future__ import annotations

# at least 2 (on one, a decoder holds the GIL while it decodes, or decodes nothing ahead of the reader); more than 8
# only hold blocks in memory that the reader is not ready for
MAX_THREADS = 8


def decoder_threads() -> int:
    """As many decoder threads as Arrow's CPU pool has (the cores, or what the engine set it to: one per Ray task,
    so that N shards read at once start 2N threads, not 8N), at least 2, at most :data:`MAX_THREADS`."""
    import pyarrow as pa

    return min(max(pa.cpu_count(), 2), MAX_THREADS)


def skip(stream, count: int, piece: int = 1 << 20) -> None:
    """Read ``count`` bytes of ``stream`` to nowhere (fewer where it ends first): a one-thread reader taking over
    from a parallel decoder that broke, at the first byte it did not hand out."""
    buffer = memoryview(bytearray(piece))
    while count:
        got = stream.readinto(buffer[: min(count, piece)])
        if not got:  # the one-thread reader ends where the parallel one read on: nothing more to give
            break
        count -= got
