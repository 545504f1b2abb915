"""bz2 files decoded on several cores read exactly as Python's ``bz2`` module reads them: the same bytes, and at a
break (a truncated or corrupt file) the same error, with only bytes of the file before it."""

from __future__ import annotations

import bz2
import random

import pytest

from curation.readers.bzip2 import ParallelBz2, open_bz2
from curation.sources import DataFile, open_binary
from tests.curation.readers.pieces import read_in_pieces

# rows of varied text; at compression level 1 a bz2 block holds 100 kB, so this is several blocks per stream
DATA = b"".join(b'{"n": %d, "text": "%s"}\n' % (i, bytes(random.Random(i).choices(b"abcdefgh ", k=i % 60)))
                for i in range(12_000))


def _both(path) -> tuple[tuple[bytes, str | None], tuple[bytes, str | None]]:
    return read_in_pieces(open_bz2(path)), read_in_pieces(bz2.open(path, "rb"))


def test_a_file_of_several_streams_and_blocks_reads_as_pythons_decoder_reads_it(tmp_path):
    path = tmp_path / "rows.jsonl.bz2"
    path.write_bytes(bz2.compress(DATA[:300_000], 1) + bz2.compress(DATA[300_000:], 9) + bz2.compress(b""))
    stream = open_binary(DataFile(path, "jsonl", "bz2"))
    assert isinstance(stream.raw, ParallelBz2)  # the parallel decoder reads it
    assert read_in_pieces(stream) == (DATA, None)
    path.write_bytes(path.read_bytes() + b"trailing bytes that start no stream")  # ignored, as Python and bzip2 do
    assert _both(path) == ((DATA, None), (DATA, None))


def _damaged(tmp_path, rng: random.Random):
    whole = bz2.compress(DATA, 1) + bz2.compress(DATA[:5000], 9)
    for i in range(12):
        cut = bytearray(whole[: rng.randrange(4, len(whole))])
        yield tmp_path / f"cut{i}.bz2", bytes(cut)
        flipped = bytearray(whole)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        yield tmp_path / f"flip{i}.bz2", bytes(flipped)


def test_a_truncated_or_corrupt_file_stops_where_pythons_decoder_stops_with_its_error(tmp_path):
    """The parallel decoder raises a bare C++ error at a break, and may stop a block earlier than Python's (or at a
    spot Python's reads past); Python's decoder then reads on from the same byte: the outcome is Python's."""
    for path, blob in _damaged(tmp_path, random.Random(7)):
        path.write_bytes(blob)
        (ours, our_error), (python, python_error) = _both(path)
        assert our_error == python_error, path.name
        if python_error is None:
            assert ours == python, path.name
        else:  # both hand out only bytes of the file before the break (how many depends on the read sizes)
            assert DATA.startswith(ours) or (DATA + DATA[:5000]).startswith(ours), path.name


def test_a_file_that_does_not_start_like_bz2_is_pythons_error_not_an_empty_file(tmp_path):
    """The parallel decoder reads a file of other bytes as empty: its rows would be lost unseen."""
    path = tmp_path / "rows.jsonl.bz2"
    path.write_bytes(b'{"n": 1}\n')
    ours, error = read_in_pieces(open_bz2(path))
    assert ours == b"" and error == "OSError: Invalid data stream"


@pytest.mark.parametrize("head", [b"BZh0", b"BZ", b"BZh9"])
def test_a_file_of_a_bz2_head_alone_is_an_error(tmp_path, head):
    path = tmp_path / "rows.jsonl.bz2"
    path.write_bytes(head)
    assert read_in_pieces(open_bz2(path))[1] == read_in_pieces(bz2.open(path, "rb"))[1] is not None


def test_a_file_cut_at_any_byte_is_read_as_pythons_decoder_reads_it(tmp_path):
    """Cut within a stream's first bytes, the parallel decoder takes the head for trailing garbage (the rows of the
    rest of the file lost unseen); Python's says the file ends before the stream does."""
    whole = bz2.compress(b"first stream\n" * 200, 9) + bz2.compress(b"second stream\n" * 3, 9) + bz2.compress(b"")
    path = tmp_path / "cut.jsonl.bz2"
    for end in range(1, len(whole) + 1):
        path.write_bytes(whole[:end])
        (ours, our_error), (python, python_error) = _both(path)
        assert our_error == python_error, end
        if python_error is None:
            assert ours == python, end
        else:  # only bytes of the file before the cut
            assert (b"first stream\n" * 200 + b"second stream\n" * 3).startswith(ours), end


def test_whole_files_are_told_from_cut_or_trailed_ones_by_their_last_bytes(tmp_path, capfd):
    """The end-of-stream marker is not aligned to a byte: files of every padding (0-7 bits) are whole; a cut file
    or one with bytes after its last stream goes to Python's decoder, and nothing is written to stderr (the
    parallel decoder writes a warning there for trailing bytes)."""
    from curation.readers.bzip2 import _whole_bz2

    rng = random.Random(3)
    path = tmp_path / "f.bz2"
    for n in range(40):
        whole = bz2.compress(bytes(rng.choices(b"ab\n", k=rng.randrange(0, 3000))), rng.randrange(1, 10))
        path.write_bytes(whole)
        assert _whole_bz2(path), n
        for changed in (whole[:-1], whole + b"\0", whole + b"junk"):
            path.write_bytes(changed)
            assert not _whole_bz2(path), n
    path.write_bytes(bz2.compress(DATA[:20_000], 1) + b"trailing junk")
    assert read_in_pieces(open_bz2(path)) == (DATA[:20_000], None)
    assert capfd.readouterr().err == ""


def test_without_the_parallel_decoder_pythons_reads_the_file(tmp_path, monkeypatch):
    """Where ``indexed_bzip2`` ships no wheel it is not installed; bz2 files are read all the same."""
    import curation.readers.bzip2 as bzip2

    monkeypatch.setattr(bzip2, "_parallel", None)
    path = tmp_path / "rows.jsonl.bz2"
    path.write_bytes(bz2.compress(DATA[:50_000]))
    stream = open_bz2(path)
    assert isinstance(stream, bz2.BZ2File) and read_in_pieces(stream) == (DATA[:50_000], None)


def test_decoder_threads_follow_arrows_cpu_pool(monkeypatch):
    """A Ray task sets Arrow's pool to one thread: its bz2 decoder takes 2 (the fewest that do not hold the GIL),
    not 8 whatever the machine's cores."""
    import pyarrow as pa

    from curation.readers.threads import MAX_THREADS, decoder_threads

    monkeypatch.setattr(pa, "cpu_count", lambda: 1)
    assert decoder_threads() == 2
    monkeypatch.setattr(pa, "cpu_count", lambda: 64)
    assert decoder_threads() == MAX_THREADS


def test_a_streams_head_alone_between_two_streams_is_skipped_not_the_end(tmp_path):
    """The one difference from Python's decoder (module docstring): Python's stops at the head, silently, and the
    rows of the stream after it are lost; the parallel decoder reads them."""
    first, last = bz2.compress(DATA[:30_000], 1), bz2.compress(DATA[30_000:40_000], 9)
    path = tmp_path / "rows.jsonl.bz2"
    path.write_bytes(first + bz2.compress(b"lost", 9)[:6] + last)
    assert read_in_pieces(open_bz2(path)) == (DATA[:40_000], None)
    assert read_in_pieces(bz2.open(path, "rb")) == (DATA[:30_000], None)
