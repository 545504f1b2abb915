"""How many threads a compressed file's decoder may take (bz2 and multi-block xz decode blocks side by side)."""

from __future__ import annotations

# at least 2 (on one, a decoder holds the GIL while it decodes, or decodes nothing ahead of the reader); more than 8
# only hold blocks in memory that the reader is not ready for
MAX_THREADS = 8


def decoder_threads() -> int:
    """As many decoder threads as Arrow's CPU pool has (the cores, or what the engine set it to: one per Ray task,
    so that N shards read at once start 2N threads, not 8N), at least 2, at most :data:`MAX_THREADS`."""
    import pyarrow as pa

    return min(max(pa.cpu_count(), 2), MAX_THREADS)
