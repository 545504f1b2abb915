"""xz files of several blocks decoded on several cores read exactly as the one-thread reader reads them: the same
bytes, and at a break (a truncated or corrupt file, bytes after a stream) the same error, after the same bytes or
more of the blocks before it; the reader's salvage of the break makes the rows the same."""

from __future__ import annotations

import io
import lzma
import random
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.readers.xz import XzStreams
from curation.readers.xz_blocks import NotBlocks, ParallelXz, open_xz, xz_blocks
from curation.sources import DataFile, open_binary, read_whole
from tests.curation.readers.pieces import read_in_pieces
from tests.curation.runs import xz_of_blocks

DATA = b"".join(b'{"n": %d, "text": "%s"}\n' % (i, bytes(random.Random(i).choices(b"abcdefgh ", k=i % 60)))
                for i in range(12_000))
CHECKS = [lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256]


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def _one_thread(path) -> tuple[bytes, str | None]:
    return read_in_pieces(io.BufferedReader(XzStreams(open(path, "rb")), 1 << 20))


def test_a_file_of_several_blocks_and_streams_is_decoded_on_several_threads(tmp_path):
    """Streams of every check type one after another, stream padding between and after them, an empty stream: the
    blocks of them all, in order; the bytes are the file's."""
    streams = [xz_of_blocks(_pieces(DATA[:200_000], [1, 70_000, 70_001, 150_000]), CHECKS[0]), b"\0" * 8,
               xz_of_blocks(_pieces(DATA[200_000:400_000], [50_000]), CHECKS[1]), lzma.compress(b""),
               xz_of_blocks(_pieces(DATA[400_000:], [3, 100_000]), CHECKS[3]), b"\0" * 4,
               lzma.compress(b"x", check=CHECKS[2])]
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(b"".join(streams))
    assert [block.size for block in xz_blocks(path)] == [1, 69_999, 1, 79_999, 50_000, 50_000, 150_000, 3, 99_997,
                                                         len(DATA) - 500_000, 1]
    stream = open_binary(DataFile(path, "jsonl", "xz"))
    assert isinstance(stream.raw, ParallelXz)
    assert read_in_pieces(stream) == (DATA + b"x", None) == _one_thread(path)
    assert read_whole(DataFile(path, "jsonl", "xz")) == (DATA + b"x", None)


def test_a_reader_of_the_head_alone_starts_no_thread(tmp_path):
    """The format is told by a file's first MB: that read decodes the first block's first chunk on the reader's
    thread, as the one-thread reader would, and starts no decoder on the blocks after it (they would be decoded
    for nothing after the file is closed)."""
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(xz_of_blocks(_pieces(DATA, [100_000, 200_000, 300_000])))
    with open_xz(path) as stream:
        assert stream.read(1024) == DATA[:1024] and stream.raw._pool is None
        assert stream.read() == DATA[1024:] and stream.raw._pool is not None


def test_a_file_of_one_block_is_read_by_the_one_thread_reader(tmp_path):
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(lzma.compress(DATA))
    assert isinstance(open_xz(path).raw, XzStreams)


@pytest.mark.parametrize("blob, why", [
    (xz_of_blocks([b"ab", b"cd"])[:-1], "no stream footer"),  # cut short
    (xz_of_blocks([b"ab", b"cd"]) + b"more", "no stream footer"),  # bytes after the stream
    (b"\0" * 4 + xz_of_blocks([b"ab", b"cd"]), "not an xz stream"),  # padding before it
    (b"\0\0\0\0" + xz_of_blocks([b"ab", b"cd"])[4:], "not an xz stream"),
    (lzma.compress(b"ab", format=lzma.FORMAT_ALONE), "not an xz stream"),  # legacy .lzma
])
def test_a_file_that_does_not_read_as_whole_streams_from_its_end_is_not_split_into_blocks(tmp_path, blob, why):
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(blob)
    with pytest.raises(NotBlocks, match=why):
        xz_blocks(path)
    assert isinstance(open_xz(path).raw, XzStreams)


def test_a_corrupt_block_stops_the_read_where_the_one_thread_reader_stops_with_its_error(tmp_path):
    """Block 3 of 5 damaged: blocks 1 and 2 come from the threads, then the one-thread reader decodes the file again
    up to them and reads on to the break, with its error. It may hand out fewer bytes before the break (the output of
    a decoder call that fails is lost); the reader's salvage of a break decodes them again: the same bytes in all."""
    whole = xz_of_blocks(_pieces(DATA, [100_000, 200_000, 300_000, 400_000]))
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(whole)
    blocks = xz_blocks(path)
    damaged = bytearray(whole)
    damaged[blocks[2].offset + blocks[2].stored // 2] ^= 0x10
    path.write_bytes(bytes(damaged))
    stream = open_xz(path)
    assert isinstance(stream.raw, ParallelXz)
    (ours, why), (theirs, its_why) = read_in_pieces(stream), _one_thread(path)
    assert why == its_why and why is not None
    assert len(ours) > 100_000 and DATA.startswith(ours) and ours.startswith(theirs)
    with mock.patch("curation.readers.xz_blocks.xz_blocks", side_effect=NotBlocks("read on one thread")):
        one_thread = read_whole(DataFile(path, "jsonl", "xz"))
    assert read_whole(DataFile(path, "jsonl", "xz")) == one_thread and one_thread[1] is not None


def test_after_a_corrupt_block_the_one_thread_reader_gives_no_byte_twice(tmp_path):
    """Blocks larger than the one-thread reader's pieces (it hands out bytes of the broken block before the break):
    it skips what the threads gave, then gives the rest up to the break, each byte once."""
    data = random.Random(3).randbytes(9 << 20)  # incompressible: a 9 MB file, read 4 MB at a time
    whole = xz_of_blocks(_pieces(data, [3 << 20, 6 << 20]), preset=0)
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(whole)
    last = xz_blocks(path)[2]
    damaged = bytearray(whole)
    damaged[last.offset + last.stored * 3 // 4] ^= 0x01
    path.write_bytes(bytes(damaged))
    (ours, why), (theirs, its_why) = read_in_pieces(open_xz(path)), _one_thread(path)
    assert why == its_why and why is not None
    assert len(theirs) > 6 << 20 and ours == theirs  # the one-thread reader's bytes of the broken block came too


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(0, 60_000), min_size=1, max_size=5), check=st.sampled_from(CHECKS),
       damage=st.sampled_from(["none", "flip", "cut", "append", "zeros"]), at=st.floats(0, 1),
       bit=st.integers(0, 7), tail=st.binary(min_size=1, max_size=16))
def test_any_damage_reads_as_the_one_thread_reader_reads_it(tmp_path, cuts, check, damage, at, bit, tail):
    """A file of several blocks, whole or damaged anywhere (a flipped bit, cut short, bytes or null bytes after it):
    the same error after the same bytes or more of them in 64 kB reads, and the same bytes and error as the reader
    reads a whole file."""
    blob = bytearray(xz_of_blocks(_pieces(DATA[:60_000], cuts), check))
    spot = min(int(at * len(blob)), len(blob) - 1)
    if damage == "flip":
        blob[spot] ^= 1 << bit
    elif damage == "cut":
        del blob[spot:]
    elif damage == "append":
        blob += tail
    elif damage == "zeros":
        blob += bytes(len(tail))
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(bytes(blob))
    (ours, why), (theirs, its_why) = read_in_pieces(open_xz(path)), _one_thread(path)
    assert why == its_why and ours.startswith(theirs)
    file = DataFile(path, "jsonl", "xz")
    with mock.patch("curation.readers.xz_blocks.xz_blocks", side_effect=NotBlocks("read on one thread")):
        one_thread = read_whole(file)
    assert read_whole(file) == one_thread
    if damage == "none":
        assert one_thread == (DATA[:60_000], None) and ours == theirs
