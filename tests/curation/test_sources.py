"""Input files: compression, globs, folders of shards, line blocks, read-ahead."""

from __future__ import annotations

import gzip
import json
import lzma
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.sources import (
    DataFile,
    SourceError,
    bom_encoding,
    classify,
    expand,
    iter_line_blocks,
    open_binary,
    readahead,
)
from tests.curation.runs import write_compressed

LINES = b"".join(b'{"i": %d, "text": "%s"}\n' % (i, b"x" * (i % 50)) for i in range(2000))


@pytest.mark.parametrize("name,kind,compression", [
    ("a.jsonl", "jsonl", None), ("a.JSONL.GZ", "jsonl", "gzip"), ("a.json.bz2", "json", "bz2"),
    ("a.parquet", "parquet", None), ("a.jsonl.xz", "jsonl", "xz"), ("a.jsonl.zst", "jsonl", "zstd"),
    ("a.ndjson.zstd", "jsonl", "zstd"), ("a.v2.jsonl", "jsonl", None),
])
def test_classify(name, kind, compression):
    assert classify(name) == DataFile(Path(name), kind, compression)


@pytest.mark.parametrize("name", ["README.md", "a.csv", "a.gz", "noext"])
def test_classify_rejects_other_files(name):
    assert classify(name) is None


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz", ".zst"])
def test_every_compression_streams_the_same_bytes(tmp_path, suffix):
    path = write_compressed(tmp_path / f"rows.jsonl{suffix}", LINES)
    with open_binary(classify(path)) as stream:
        blocks = list(iter_line_blocks(stream, block_bytes=1000))
    assert b"".join(blocks) == LINES
    assert all(bytes(b).endswith(b"\n") for b in blocks)


def test_bom_at_file_start_is_dropped_and_first_line_kept(tmp_path):
    path = write_compressed(tmp_path / "bom.jsonl.gz", b"\xef\xbb\xbf" + LINES)
    with open_binary(classify(path)) as stream:
        assert b"".join(iter_line_blocks(stream)) == LINES


def test_long_line_comes_whole_and_last_line_without_newline(tmp_path):
    data = b'{"a": "' + b"y" * 50_000 + b'"}\n{"b": 1}'
    with open_binary(write_compressed(tmp_path / "long.jsonl", data)) as stream:
        blocks = list(iter_line_blocks(stream, block_bytes=4096))
    assert [len(b) for b in blocks] == [50_010, 8]


def test_corrupt_compressed_stream_is_one_clear_error(tmp_path):
    good = gzip.compress(LINES * 20)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(good[: len(good) // 2] + b"\x00garbage" * 100)
    with pytest.raises(SourceError) as err:
        with open_binary(classify(path)) as stream:
            for _ in iter_line_blocks(stream, block_bytes=1 << 16, name=path.name):
                pass
    assert str(err.value).startswith("cut.jsonl.gz: cannot read past byte ") and "\n" not in str(err.value)


def test_globs_and_folders_of_shards(tmp_path):
    for name in ("b/part-1.jsonl.gz", "a/part-0.jsonl", "a/notes.txt", ".hidden/x.jsonl", "c/part-2.parquet"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"{}\n")
    names = [f.path.relative_to(tmp_path).as_posix() for f in expand(tmp_path)]
    assert names == ["a/part-0.jsonl", "b/part-1.jsonl.gz", "c/part-2.parquet"]
    assert [f.path.name for f in expand(str(tmp_path / "*" / "part-*.jsonl*"))] == ["part-0.jsonl", "part-1.jsonl.gz"]
    assert [f.path.name for f in expand(str(tmp_path / "**" / "*.parquet"))] == ["part-2.parquet"]


def test_a_file_reached_by_two_names_is_read_once(tmp_path):
    """Two links in a folder (or among a glob's matches) to one file were two files: its rows read twice, all
    removed as exact duplicates, or with dedup off in train and test alike. The first name in order is kept."""
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "a.jsonl").write_bytes(b"{}\n")
    (tmp_path / "shards" / "b.jsonl").symlink_to(tmp_path / "shards" / "a.jsonl")
    (tmp_path / "shards" / "c.jsonl").symlink_to("a.jsonl")
    (tmp_path / "shards" / "d.jsonl").write_bytes(b"{}\n")  # the same bytes, another file: read
    for spec in (tmp_path / "shards", str(tmp_path / "shards" / "*.jsonl")):
        assert [f.path.name for f in expand(spec)] == ["a.jsonl", "d.jsonl"]


def test_a_curated_output_folder_gives_its_splits_only(tmp_path):
    for name in ("manifest.json", "train.parquet", "validation.parquet", "test.parquet", "removed.parquet"):
        (tmp_path / name).write_bytes(b"")
    assert [f.path.name for f in expand(tmp_path)] == ["train.parquet", "validation.parquet", "test.parquet"]


def test_a_curated_output_folder_holding_other_data_files_names_them_not_leaves_them_out(tmp_path):
    """A run written into its input's folder (``-i 'dir/*.jsonl' -o dir``), and a file added after it: ``-i dir``
    read the splits alone and said "nothing lost" of the other files' rows, never read. They are named instead, as
    a folder's unread files are; tome's own files (reports, card, removed rows, quarantine, the messages copies,
    its hidden cache and checkpoints) and files of no data kind are no problem, nor is one split read alone."""
    from curation.sources import curated_split

    shards, tmp_path = tmp_path, tmp_path / "curated"  # (a curated folder in a folder of shards, at the end)
    tmp_path.mkdir()
    for name in ("manifest.json", "train.parquet", "validation.parquet", "test.parquet", "removed.parquet",
                 "quarantine.jsonl", "README.md", "report.html", "report.md", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    for folder in ("messages", ".cache/against", ".checkpoints"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "train.parquet").write_bytes(b"")
    assert [f.path.name for f in expand(tmp_path)] == ["train.parquet", "validation.parquet", "test.parquet"]
    (tmp_path / "first.jsonl").write_bytes(b"{}\n")
    with pytest.raises(SourceError) as info:
        expand(tmp_path)
    assert str(info.value) == (f"{tmp_path}: a tome curate output folder (its rows are its splits) also holds "
                               "first.jsonl, which is no part of its output and would be left out unseen: move it out "
                               "of the folder and give it as an input of its own (--input FILE)")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "rows.parquet").write_bytes(b"")
    (tmp_path / "rows.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match=r"also holds first\.jsonl, more/rows\.parquet, rows\.csv, which are no"):
        expand(tmp_path)
    with pytest.raises(SourceError, match="also holds first.jsonl"):  # a curated folder among a folder's shards
        expand(shards)
    assert [f.path.name for f in curated_split(tmp_path, "train")] == ["train.parquet"]


@pytest.mark.parametrize("spec,needle", [
    ("missing.jsonl", "missing.jsonl: file not found"),
    ("*.nothing", "the pattern matches no .jsonl"),
])
def test_expand_errors_name_the_input(tmp_path, monkeypatch, spec, needle):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match=needle.replace(".", r"\.").replace("*", r"\*")):
        expand(spec)


def test_expand_rejects_unknown_file_types_and_empty_folders(tmp_path):
    (tmp_path / "rows.csv").write_text("a,b\n")
    with pytest.raises(SourceError, match="unsupported file type '.csv'"):
        expand(tmp_path / "rows.csv")
    with pytest.raises(SourceError, match=r"rows\.csv: unsupported file type '.csv': CSV is not read"):
        expand(tmp_path)  # a folder of it alone: what it is, and what to do
    (tmp_path / "rows.csv").unlink()
    (tmp_path / "notes.txt").write_text("about the rows\n")
    with pytest.raises(SourceError, match="folder holds no"):
        expand(tmp_path)


@pytest.mark.parametrize("name,says", [
    ("rows.jsonl.zip", "unsupported file type '.zip': an archive, not read as one; extract it"),
    ("rows.tar.gz", "unsupported file type '.tar.gz': an archive, not read as one; extract it"),
    ("rows.tgz", "unsupported file type '.tgz': an archive"),
    ("rows.jsonl.lz4", "unsupported file type '.jsonl.lz4': lz4-compressed, which is not read; decompress it (lz4 -d)"),
    ("rows.tsv", "unsupported file type '.tsv': TSV is not read; expected .jsonl, .json or .parquet"),
    ("rows", "unsupported file type '(none)'; expected .jsonl, .json or .parquet, optionally compressed"),
])
def test_a_file_of_a_type_not_read_says_what_it_is_and_what_to_do(tmp_path, name, says):
    """An archive (was: "unsupported file type '.gz'" for a .tar.gz, whose .gz is a codec that is read) or another
    codec's file says so, with what to do; the message names the file, in every way it is given."""
    from curation.readers import InputError, open_input

    (tmp_path / name).write_bytes(b"{}\n")
    with pytest.raises(SourceError) as raised:
        expand(tmp_path / name)
    assert str(raised.value).startswith(f"{tmp_path / name}: {says}")
    with pytest.raises(InputError) as raised:
        open_input(str(tmp_path / name)).units()
    assert str(raised.value).startswith(f"{tmp_path / name}: {says}")


def test_readahead_keeps_order_and_reraises():
    assert list(readahead(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise SourceError("boom")

    got = []
    with pytest.raises(SourceError, match="boom"):
        for x in readahead(failing()):
            got.append(x)
    assert got == [1]


def test_readahead_stops_when_the_consumer_stops():
    produced = []

    def counting():
        for i in range(10_000):
            produced.append(i)
            yield i

    it = readahead(counting(), depth=2)
    assert next(it) == 0
    it.close()
    assert len(produced) < 10


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=30), st.integers(1, 64), st.booleans())
def test_line_blocks_reassemble_any_input(lines, block_bytes, trailing):
    import io

    data = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    blocks = list(iter_line_blocks(io.BytesIO(data), block_bytes))
    joined = b"".join(blocks)
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if b"\n" not in text and b"\r" in text:  # no LF at all: its lines end in a lone CR (classic Mac OS)
        text = text.replace(b"\r", b"\n")
    assert joined == text
    assert all(bytes(b).endswith(b"\n") for b in blocks[:-1])


@pytest.mark.parametrize("suffix", [".gz", pytest.param(".xz", marks=pytest.mark.slow), ".zst",
                                    pytest.param(".bz2", marks=pytest.mark.slow)])  # (xz, bz2: 2-4 s each)
def test_a_file_that_breaks_off_keeps_the_rows_before_the_break(tmp_path, suffix):
    """A truncated compressed file: the run goes on, the rows read whole before the break are kept, the rest is
    one quarantined record naming the line and the error. The report (charts over some 45,000 kept rows) is
    written for one codec: what it reads does not depend on the codec."""
    import json

    from curation.config import load_config
    from curation.contract import read_manifest, read_quarantine
    from curation.pipeline import run_curation

    turns = [json.dumps({"conversations": [{"from": "human", "value": f"question {i} about the stream"},
                                           {"from": "gpt", "value": f"answer {i} in a few more words"}]})
             for i in range(60_000)]
    whole = write_compressed(tmp_path / f"whole.jsonl{suffix}", ("\n".join(turns) + "\n").encode())
    data = whole.read_bytes()
    cut = tmp_path / f"cut.jsonl{suffix}"
    cut.write_bytes(data[: len(data) * 3 // 4])
    report = suffix == ".gz"
    run_curation(str(cut), tmp_path / "out", load_config(None, {"report": report}))
    assert (tmp_path / "out" / "report.html").is_file() == report
    accounting = read_manifest(tmp_path / "out")["accounting"]
    quarantine = read_quarantine(tmp_path / "out")
    assert len(quarantine) == 1 and quarantine[0]["error"].startswith("the file breaks off here")
    line = quarantine[0]["position"]["line"]
    assert f"line {line}" in quarantine[0]["error"]
    assert accounting["input_rows"] == line  # the lines before the break, and the broken rest as one record
    assert accounting["input_rows"] > 20_000 and accounting["quarantined"] == 1


def test_the_fingerprint_is_over_the_stored_bytes(tmp_path):
    import xxhash
    from pyarrow import fs as pafs

    from curation.readers.filesystems import fingerprint_files

    path = write_compressed(tmp_path / "a.jsonl.gz", LINES)
    digest = xxhash.xxh3_128_hexdigest(b"a.jsonl.gz" + path.read_bytes())
    assert fingerprint_files(pafs.LocalFileSystem(), [str(path)]) == "xxh3-128:" + digest


@settings(max_examples=15, deadline=None)
@given(st.integers(50, 3000), st.floats(0.05, 0.95), st.sampled_from([".gz", ".xz"]))
def test_a_small_file_that_breaks_off_keeps_every_whole_line_before_the_break(tmp_path_factory, rows, keep, suffix):
    """The rows before the break are kept however small the file: the last piece read before the break was
    dropped whole (a buffered read of 1 MB that fails loses what it decoded), so a file under a megabyte kept no
    row at all. Every line the codec can decode whole is a row; the rest is one quarantined record."""
    import json
    import zlib

    from curation.readers import open_input

    tmp_path = tmp_path_factory.mktemp("cut")
    text = "".join(json.dumps({"conversations": [{"from": "human", "value": f"question {i}"}]}) + "\n" for i in range(rows))
    data = write_compressed(tmp_path / f"whole.jsonl{suffix}", text.encode()).read_bytes()
    cut = data[: max(64, int(len(data) * keep))]
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16) if suffix == ".gz" else lzma.LZMADecompressor()
    decodable = decoder.decompress(cut)
    whole = decodable.count(b"\n")
    path = tmp_path / f"cut.jsonl{suffix}"
    path.write_bytes(cut)
    if not decodable:
        with pytest.raises(Exception, match="cannot read"):
            list(open_input(str(path)).batches())
        return
    batches = list(open_input(str(path)).batches())
    errors = [e for b in batches for e in b.column("_error").to_pylist()]
    assert errors[:whole] == [None] * whole
    assert len(errors) == whole + 1 and errors[-1].startswith("the file breaks off here")


def test_a_file_that_is_not_of_its_codec_is_one_line(tmp_path):
    from curation.readers import InputError, open_input

    path = tmp_path / "plain.jsonl.gz"
    path.write_bytes(LINES)
    with pytest.raises(InputError, match=r"plain\.jsonl\.gz: holds JSON Lines text, not gzip-compressed data: name it "
                                         r"as what it holds \(plain\.jsonl\)$"):
        list(open_input(str(path)).batches())
    path.write_bytes(b"\x80\x81 no codec's start, and no text's\n")  # its decoder says what is wrong
    with pytest.raises(InputError, match=r"plain\.jsonl\.gz: cannot read: Not a gzipped file"):
        list(open_input(str(path)).batches())
    for name in ("plain.jsonl.gz", "plain.json.gz"):  # too short for gzip's header: its decoder said a gzip file
        path = tmp_path / name                           # was cut short, no more
        path.write_bytes(b"hello")
        with pytest.raises(InputError, match=rf"{name}: cannot read: .*\(its first bytes are not a gzip file's: is it "
                                             r"another kind of file\?\)$"):
            list(open_input(str(path)).batches())


def _rows(path: Path) -> tuple[list, list]:
    """(records, (line, error) of each unreadable record) as the reader gives them."""
    from curation.readers import open_input

    records, errors = [], []
    for batch in open_input(str(path)).batches():
        for raw, error, line in zip(batch.column("_raw").to_pylist(), batch.column("_error").to_pylist(),
                                    batch.column("_line").to_pylist()):
            # a file holding one JSON document (an array on one line) has its rows' JSON, no raw line
            records.append(raw if raw is None else raw.split(b"\n", 1)[0].rstrip(b"\r"))
            if error is not None:
                errors.append((line, error.split(":")[0]))
    return records, errors


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst", "-utf16"])
def test_lines_that_end_in_a_lone_cr_read_as_lines(tmp_path, suffix):
    """Classic Mac OS line ends (a lone CR, no LF anywhere): every line is its own record, as with LF, and an
    unreadable one is named by its line number; plain, compressed or UTF-16 alike."""
    lines = LINES.splitlines()[:300]
    lines[7] = b'{"i": 7, "text": broken'
    data = b"\r".join(lines) + b"\r"
    if suffix == "-utf16":
        path = tmp_path / "mac.jsonl"
        path.write_bytes(data.decode("utf-8").encode("utf-16"))
    else:
        path = write_compressed(tmp_path / f"mac.jsonl{suffix}", data)
    records, errors = _rows(path)
    assert records == lines
    assert errors == [(8, "not valid JSON")]


def test_a_lone_cr_inside_lf_lines_is_not_a_line_end(tmp_path):
    """A file with LF line ends keeps a raw CR inside a line as part of it (validation repairs it)."""
    path = tmp_path / "lf.jsonl"
    path.write_bytes(b'{"text": "a\rb"}\n{"text": "c"}\n')
    records, _ = _rows(path)
    assert records == [b'{"text": "a\rb"}', b'{"text": "c"}']


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=12), st.data())
def test_a_file_reads_the_same_with_lone_cr_line_ends_as_with_lf(tmp_path_factory, pieces, data):
    """Any lines (hostile JSON lines among them) give the same records and errors, at the same line numbers,
    whether they end in LF or in a lone CR."""
    from tests.curation.hostile import hostile_line

    lines = [data.draw(hostile_line()).rstrip(b"\r\n") for _ in pieces]
    lines = [line for line in lines if b"\r" not in line and b"\n" not in line] or [b'{"a": 1}']
    if bom_encoding(lines[0] + b"\n\n\n") is not None:  # a UTF-16 or UTF-32 file, whose line ends are no such bytes
        lines[0] = b'{"a": 1}'
    folder = tmp_path_factory.mktemp("cr")
    (folder / "lf.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (folder / "cr.jsonl").write_bytes(b"\r".join(lines) + b"\r")
    assert _rows_or_error(folder / "cr.jsonl") == _rows_or_error(folder / "lf.jsonl")


@pytest.mark.parametrize("name", ["long.jsonl", "long.jsonl.gz", "long.jsonl.xz"])
def test_lone_cr_line_ends_after_a_first_line_longer_than_the_head_are_line_ends(tmp_path, name):
    """Lone CR line ends are told by the first line's end, however long that line (a first row of 1 MB left no
    line end in the 64 KB looked at: the whole file was one record, every row in it lost to one quarantine)."""
    from tests.curation.runs import write_compressed

    lines = [json.dumps({"text": "long " * 200_000}).encode()] + [json.dumps({"text": f"row {i}"}).encode() for i in range(4)]
    write_compressed(tmp_path / "lf.jsonl", b"\n".join(lines) + b"\n")
    path = write_compressed(tmp_path / name, b"\r".join(lines) + b"\r")
    records, _ = _rows(path)
    assert len(records) == 5 and records == _rows(tmp_path / "lf.jsonl")[0]


def test_an_array_first_line_reads_the_same_with_lone_cr_line_ends_as_with_lf(tmp_path):
    """A file whose first line is a one-row array and whose other lines are rows is JSON Lines with LF line ends;
    with lone CR line ends it was taken for one document of several values (its records re-encoded, their ids
    those of a document's rows). Found by the property test above."""
    lines = [b'[{"conversations": null, "": "\x7f"}]', b'{"conversations": []}', b'{"conversations": null}']
    (tmp_path / "lf.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "cr.jsonl").write_bytes(b"\r".join(lines) + b"\r")
    assert _rows(tmp_path / "cr.jsonl") == _rows(tmp_path / "lf.jsonl")
    assert _rows(tmp_path / "cr.jsonl")[0] == lines


@pytest.mark.parametrize("end", [b"\n", b"\r"])
def test_a_utf16_mark_before_bytes_that_are_no_utf16_is_a_quarantined_tail_not_a_codec(tmp_path, end):
    """A byte-order mark is no codec: a file that starts with UTF-16's mark and breaks before its first character
    said it "holds JSON Lines text, not utf-16-compressed data: name it as what it holds (rows)". The UTF-16 text
    that breaks off is one quarantined record, as any stream that breaks off is."""
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\xfe\xff" + end)
    records, errors = _rows(path)
    assert records == [b""] and errors == [(1, "the file breaks off here, the rest is unreadable (cannot read past line 1")]


def _rows_or_error(path: Path):
    from curation.readers import InputError

    try:
        return _rows(path)
    except InputError as exc:  # not one line is JSON: one clear error, naming the file
        return str(exc).replace(path.name, "FILE")


@pytest.mark.parametrize("text,shown", [
    ("rows\n2.jsonl", "rows\\n2.jsonl"), ("a\r\x1b[2Kb\x00\x7f\x85", "a\\r\\x1b[2Kb\\x00\\x7f\\x85"),
    # an ordinary name, whatever else it holds, is as it is
    ("C:\\data\\n.json", "C:\\data\\n.json"), ("données €/naïve 名前.json", "données €/naïve 名前.json"),
])
def test_printable_escapes_control_characters_only(text, shown):
    from curation.sources import printable

    assert printable(text) == shown


def test_a_source_error_naming_a_file_with_a_newline_is_one_line(tmp_path):
    with pytest.raises(SourceError) as err:
        expand(str(tmp_path / "no\nsuch.jsonl"))
    assert str(err.value) == f"{tmp_path}/no\\nsuch.jsonl: file not found"


def test_the_xz_decoder_is_given_large_pieces(tmp_path, monkeypatch):
    """Each call into the xz decoder gives the GIL back after it: on the read-ahead thread beside threads that
    run Python, each return waits up to the switch interval (5 ms) for it. Fed 64 kB at a time (3 ms of
    decoding), the decoder waited more than it worked, and a whole run on an .xz input ran at a third of the
    decoder's speed. A read of 8 MB is a few calls."""
    import lzma
    import random

    from curation.sources import classify, iter_line_blocks, open_binary

    rng = random.Random(3)
    words = [f"word{i}" for i in range(5000)]
    text = "".join(" ".join(rng.choices(words, k=12)) + "\n" for _ in range(150_000)).encode()
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(lzma.compress(text, preset=1))
    assert len(path.read_bytes()) > 2 << 20  # more than thirty 64 kB pieces

    calls = []

    class Counting:
        def __init__(self, *args, **kwargs):
            self._inner = lzma_decompressor(*args, **kwargs)

        def decompress(self, data, max_length=-1):
            calls.append(len(data))
            return self._inner.decompress(data, max_length)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    lzma_decompressor = lzma.LZMADecompressor
    monkeypatch.setattr(lzma, "LZMADecompressor", Counting)
    with open_binary(classify(path)) as stream:
        assert b"".join(iter_line_blocks(stream, 8 << 20)) == text
    assert len(calls) <= 6, calls
