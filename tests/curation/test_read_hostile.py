"""Hostile input files a user really has: a stray CR line end, a corrupt gzip, empty compressed shards, UTF-32
text, a dataset_info.json beside shards. Every row is read, or named with its file and line; none ends a run
with a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from curation.readers import InputError, open_input
from tests.curation.runs import curate, write_compressed

ROWS = [{"conversations": [{"from": "human", "value": f"Question number {i}?"},
                           {"from": "gpt", "value": f"The answer to question {i} is {i * 7}."}]} for i in range(6)]
LINES = [json.dumps(r).encode() for r in ROWS]


def _read(path: Path) -> list[tuple[int, str | None, bytes]]:
    """(line, error, raw record) of every record the reader gives, in order."""
    out = []
    for batch in open_input(str(path)).batches():
        for line, error, raw in zip(batch.column("_line").to_pylist(), batch.column("_error").to_pylist(),
                                    batch.column("_raw").to_pylist()):
            out.append((line, error, raw.split(b"\n", 1)[0].rstrip(b"\r")))
    return out


# --- a lone CR between two records of an LF file ---------------------------------------------------------------

def test_a_lone_cr_between_two_records_of_an_lf_file_ends_the_first(tmp_path):
    """Two records joined by a lone CR (one line of a LF file ended as classic Mac OS did) are two records, each
    numbered with the line it is on (as grep -n numbers it), not one quarantined line."""
    path = tmp_path / "stray.jsonl"
    path.write_bytes(LINES[0] + b"\n" + LINES[1] + b"\r" + LINES[2] + b"\n" + LINES[3] + b" \r " + LINES[4]
                     + b"\r\n" + LINES[5] + b"\n")
    got = _read(path)
    assert [(line, error) for line, error, _ in got] == [(1, None), (2, None), (2, None), (3, None), (3, None),
                                                         (4, None)]
    assert [json.loads(raw) for _, _, raw in got] == ROWS


def test_a_cr_inside_a_string_or_values_apart_by_spaces_are_not_cut(tmp_path):
    """Only a CR between two whole values ends a record: a raw CR inside a string is text (validation repairs
    it), two values apart by spaces stay one bad record, and a broken value keeps the rest of its line."""
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'{"a": "x\ry"}\r' + LINES[0] + b"\n" + LINES[1] + b" " + LINES[2] + b"\n"
                     + b'{"broken\r' + LINES[3] + b"\n")
    got = _read(path)
    assert [raw for _, _, raw in got] == [b'{"a": "x\ry"}', LINES[0], LINES[1] + b" " + LINES[2],
                                          b'{"broken\r' + LINES[3]]
    assert [(line, (error or "").split(":")[0]) for line, error, _ in got] == [
        (1, ""), (1, ""), (2, "not valid JSON"), (3, "not valid JSON")]


def test_a_run_over_a_stray_cr_keeps_every_row(tmp_path):
    path = tmp_path / "stray.jsonl"
    path.write_bytes(b"\n".join(LINES[:3]) + b"\r" + b"\n".join(LINES[3:]) + b"\n")
    accounting = curate(str(path), tmp_path / "out")["accounting"]
    assert accounting["input_rows"] == len(ROWS) and accounting["quarantined"] == 0



def _ids_and_raw(path: Path) -> list[tuple[str, bytes]]:
    """(id, raw record as quarantine shows it) of every record the reader gives, in order."""
    out = []
    for batch in open_input(str(path)).batches():
        for rid, raw in zip(batch.column("_id").to_pylist(), batch.column("_raw").to_pylist()):
            out.append((rid, raw.split(b"\n", 1)[0].removesuffix(b"\r")))
    return out


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("last", [LINES[2], b'{"broken', LINES[0] + b"\r" + LINES[1]],
                         ids=["row", "broken", "two-values-apart-by-a-cr"])
def test_a_last_line_that_ends_in_a_lone_cr_has_the_id_it_has_with_any_line_end(tmp_path, suffix, last):
    """A file cut between the CR and the LF of its last line (or whose last line was ended as classic Mac OS
    ended lines) keeps that line's id and raw text: ids hash the line without its line end, and a lone CR at
    the end of the file is one. Its id once held the CR, so the same row had another id (and could land in
    another split) than in the same file with CR LF, LF or no line end."""
    head = b"\n".join(LINES[3:]) + b"\n"
    read = {}
    for name, end in (("lf", b"\n"), ("crlf", b"\r\n"), ("none", b""), ("cr", b"\r")):
        path = write_compressed(tmp_path / f"{name}.jsonl{suffix}", head + last + end)
        read[name] = _ids_and_raw(path)
    assert read["cr"] == read["lf"] == read["crlf"] == read["none"]
    assert read["cr"][-1][1] == last.rpartition(b"\r")[2]


def test_a_run_over_a_last_line_that_ends_in_a_lone_cr_quarantines_its_line_without_the_cr(tmp_path):
    ids = {}
    for name, end in (("lf", b"\n"), ("cr", b"\r")):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"\n".join(LINES) + b"\n" + b'{"broken' + end)
        curate(str(path), tmp_path / name)
        quarantined = [json.loads(q) for q in (tmp_path / name / "quarantine.jsonl").read_text().splitlines()]
        assert [(q["position"]["line"], q["raw"]) for q in quarantined] == [(len(LINES) + 1, '{"broken')]
        ids[name] = quarantined[0]["id"]
    assert ids["cr"] == ids["lf"]


# --- compressed files ------------------------------------------------------------------------------------------

def test_a_gzip_file_corrupt_midway_keeps_the_rows_before_and_quarantines_the_rest(tmp_path):
    """A deflate stream that turns corrupt (ISA-L's decoder raises its own error type, no OSError) breaks off
    where it does: the run goes on, the rows before the corrupt spot kept (a small file is one piece to the
    decoder: they are decoded again a few bytes at a time), the rest of the file quarantined with its line.
    (What deflate decodes after the spot may still be JSON: only the checksum at the end tells.)"""
    lines = [json.dumps({"conversations": [{"from": "human", "value": f"q{i} " + "word " * (i % 40)},
                                           {"from": "gpt", "value": f"a{i}"}]}).encode() for i in range(3000)]
    good = gzip.compress(b"\n".join(lines) + b"\n")
    path = tmp_path / "bad.jsonl.gz"
    middle = len(good) // 2
    path.write_bytes(good[:middle] + b"\xff" * 64 + good[middle + 64 :])
    got = _read(path)
    read = [json.loads(raw) for _, error, raw in got if error is None]
    assert read[:1000] == [json.loads(line) for line in lines[:1000]]
    assert got[-1][1].startswith("the file breaks off here")


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
def test_a_compressed_file_that_breaks_before_its_first_line_is_one_quarantined_record(tmp_path, suffix):
    """A file of the codec (its magic bytes) corrupt from its start, or cut inside its first block, held no line
    that could be read: that ended the whole run (every other input unread) with ``cannot read``. It is one
    quarantined record saying the file breaks off, as a file that breaks later is, and the run goes on."""
    good = write_compressed(tmp_path / f"good.jsonl{suffix}", b"\n".join(LINES * 50) + b"\n").read_bytes()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / f"cut.jsonl{suffix}").write_bytes(good[: min(len(good) // 2, 40)])
    (folder / "rows.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    got = _read(folder / f"cut.jsonl{suffix}")
    assert len(got) == 1 and got[0][1].startswith("the file breaks off here") and "line 1" in got[0][1]
    manifest = curate(str(folder), tmp_path / "out")
    assert manifest["accounting"]["quarantined"] == 1 and manifest["accounting"]["input_rows"] == len(ROWS) + 1


def test_a_file_that_is_not_its_codecs_is_still_one_error_line(tmp_path):
    """Under a codec's name, a file that does not start as the codec's do is not a broken file of it."""
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"\xff" * 32 + gzip.compress(b"\n".join(LINES) + b"\n"))
    with pytest.raises(InputError, match=r"bad\.jsonl\.gz: cannot read") as err:
        list(open_input(str(path)).batches())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
def test_an_empty_compressed_shard_holds_no_rows(tmp_path, suffix):
    """A shard of no bytes (``touch``, a writer that wrote nothing) is empty in every codec, as a plain one is."""
    (tmp_path / f"empty.jsonl{suffix}").write_bytes(b"")
    write_compressed(tmp_path / f"full.jsonl{suffix}", b"\n".join(LINES) + b"\n")
    assert _read(tmp_path / f"empty.jsonl{suffix}") == []
    assert len(_read(tmp_path)) == len(ROWS)


# --- text encodings --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec,bom", [("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"),
                                       ("utf-16-le", b"\xff\xfe")])
def test_utf32_and_utf16_files_with_their_byte_order_mark_are_read(tmp_path, codec, bom):
    """UTF-32's little-endian mark starts like UTF-16's: it is told apart, not read as UTF-16."""
    text = "\r\n".join(line.decode() for line in LINES) + "\r\n"
    (tmp_path / "rows.jsonl").write_bytes(bom + text.encode(codec))
    (tmp_path / "rows.json").write_bytes(bom + json.dumps(ROWS).encode(codec))
    assert [json.loads(raw) for _, error, raw in _read(tmp_path / "rows.jsonl") if error is None] == ROWS
    json_rows = [b for b in open_input(str(tmp_path / "rows.json")).batches()]
    assert sum(b.num_rows for b in json_rows) == len(ROWS)


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
@pytest.mark.parametrize("codec,bom", [("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-16-be", b"\xfe\xff")])
@pytest.mark.parametrize("end", ["\n", "\r"])
def test_compressed_utf16_and_utf32_text_is_read_as_the_same_records(tmp_path, suffix, codec, bom, end):
    """Text a Windows tool wrote in UTF-16 (or UTF-32), compressed after: read as the plain file is, the same
    records with the same ids and lines (it was taken for UTF-8 and refused whole, "line 1: not UTF-8")."""
    text = end.join(line.decode() for line in LINES) + end
    (tmp_path / "plain.jsonl").write_bytes(bom + text.encode(codec))
    path = write_compressed(tmp_path / f"rows.jsonl{suffix}", bom + text.encode(codec))

    def records(p):
        return [(r, line, error) for b in open_input(str(p)).batches() for r, line, error in
                zip(b.column("_id").to_pylist(), b.column("_line").to_pylist(), b.column("_error").to_pylist())]

    assert records(path) == records(tmp_path / "plain.jsonl")
    assert [error for _, _, error in records(path)] == [None] * len(ROWS)


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
@pytest.mark.parametrize("mark", [b"\xff\xfe", b"\xfe\xff"])
def test_a_first_line_of_garbage_that_starts_as_a_utf16_mark_is_one_bad_line(tmp_path, suffix, mark):
    """A UTF-8 file whose first, broken line happens to start with ``FF FE``: the whole file was read as UTF-16,
    one quarantined record of mojibake, every good row after it lost from the splits. A UTF-16 mark is one only
    where NUL bytes follow (JSON's syntax is ASCII: a zero byte in each of its UTF-16 code units)."""
    data = mark + b" garbage\n" + b"\n".join(LINES) + b"\n"
    path = tmp_path / "rows.jsonl" if not suffix else write_compressed(tmp_path / f"rows.jsonl{suffix}", data)
    if not suffix:
        path.write_bytes(data)
    got = _read(path)
    assert len(got) == len(ROWS) + 1 and got[0][1] is not None
    assert [json.loads(raw) for _, error, raw in got[1:]] == ROWS and all(error is None for _, error, _ in got[1:])


def test_a_compressed_utf16_file_that_breaks_off_keeps_the_rows_before_the_break(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": f"Question {i} about a long topic?"},
                               {"from": "gpt", "value": f"Answer {i}: " + "many words " * 200}]} for i in range(300)]
    packed = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode("utf-16"))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])
    got = _read(path)
    assert len(got) > 1 and all(error is None for _, error, _ in got[:-1])
    assert [json.loads(raw) for _, _, raw in got[:-1]] == rows[: len(got) - 1]
    assert got[-1][1].startswith("the file breaks off here")


# --- folders ---------------------------------------------------------------------------------------------------

def test_a_dataset_info_json_beside_shards_is_their_description(tmp_path):
    """A folder of shards with a dataset_info.json (and no save_to_disk state) reads its shards, as the README
    promises for datasets' metadata files, not as a broken save_to_disk folder."""
    (tmp_path / "dataset_info.json").write_text('{"features": {}}')
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(LINES[:3]) + b"\n")
    write_compressed(tmp_path / "b.jsonl.gz", b"\n".join(LINES[3:]) + b"\n")
    assert [json.loads(raw) for _, _, raw in _read(tmp_path)] == ROWS
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "dataset_info.json").write_text('{"features": {}}')
    (flat / "a.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
    assert len(_read(flat)) == len(ROWS)


# --- files that are not UTF-8 JSON Lines text at all -----------------------------------------------------------

LATIN1 = "".join(json.dumps({"conversations": [{"from": "human", "value": f"Un café crème à Zürich, n° {i}?"},
                                               {"from": "gpt", "value": f"Très volontiers, n° {i}."}]},
                            ensure_ascii=False) + "\n" for i in range(4)).encode("latin-1")


@pytest.mark.parametrize("name", ["legacy.jsonl", "legacy.jsonl.gz", "legacy.json"])
def test_a_latin1_file_is_one_error_that_says_how_to_convert_it(tmp_path, name):
    """Not one line is UTF-8: one error line naming the file and the way out, not a quarantine of every row."""
    path = write_compressed(tmp_path / name, LATIN1)
    with pytest.raises(InputError) as err:
        list(open_input(str(path)).batches())
    message = str(err.value)
    assert message.startswith(str(path)) and "not UTF-8" in message and "iconv -f windows-1252 -t utf-8" in message
    assert "\n" not in message


def test_a_file_of_some_latin1_lines_quarantines_those_with_their_line(tmp_path):
    path = tmp_path / "half.jsonl"
    path.write_bytes(b"\n".join(LINES[:2]) + b"\n" + LATIN1)
    got = _read(path)
    assert [(line, (error or "").split(":")[0]) for line, error, _ in got] == [
        (1, ""), (2, ""), (3, "not UTF-8"), (4, "not UTF-8"), (5, "not UTF-8"), (6, "not UTF-8")]


@pytest.mark.parametrize("name", ["some.json", "some.json.gz", "pretty.json"])
def test_a_json_document_with_some_latin1_rows_quarantines_those_rows(tmp_path, name):
    """A ``.json`` array whose rows 1 and 3 hold bytes that are no UTF-8: those two rows are quarantined with
    their row and why, the others read, as JSON Lines treats such lines; not the whole file refused."""
    rows = [json.dumps(r, ensure_ascii=False, indent=2 if name.startswith("pretty") else None).encode()
            for r in (json.loads(line) for line in LINES[:4])]
    for i in (1, 3):
        rows[i] = rows[i].replace(b"?", " caf\xe9?".encode("latin-1"), 1)
    path = write_compressed(tmp_path / name, b"[" + b",\n".join(rows) + b"]")
    records = [(row, error) for batch in open_input(str(path)).batches()
               for row, error in zip(batch.column("_row").to_pylist(), batch.column("_error").to_pylist())]
    assert records == [(0, None), (1, "not UTF-8: invalid continuation byte"), (2, None),
                       (3, "not UTF-8: invalid continuation byte")]
    out = tmp_path / "out"
    manifest = curate(str(path), out)
    assert manifest["accounting"]["quarantined"] == 2
    quarantined = [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]
    assert [(q["position"]["row"], "caf\ufffd?" in json.dumps(q["raw"], ensure_ascii=False)) for q in quarantined] == [
        (1, True), (3, True)]
    assert len({q["id"] for q in quarantined}) == 2


def test_a_json_document_of_binary_junk_is_still_not_text(tmp_path):
    path = tmp_path / "junk.json"
    path.write_bytes(b"[" + bytes(range(128, 256)) * 4 + b"]")
    with pytest.raises(InputError, match=r"junk\.json: not UTF-8 \(or UTF-16, UTF-32\) text"):
        open_input(str(path))


@pytest.mark.parametrize("case", ["several arrays", "too deep"])
def test_a_json_document_with_latin1_bytes_refused_for_its_own_reason_says_that_reason(tmp_path, case):
    """A document refused whole for a reason of its own that also held a byte that is no UTF-8 (in a string,
    where it would only quarantine its row) was said to be "not UTF-8 text: convert it": converted, it was
    refused all the same. Its own reason is said; a byte that breaks the JSON itself is still the encoding's."""
    bad = "caf\xe9".encode("latin-1")
    row = b'{"conversations": [{"from": "human", "value": "' + bad + b'"}, {"from": "gpt", "value": "x"}]'
    data, reason = {
        "several arrays": (b'{"a": [' + row + b'}], "b": [' + row + b'}]}',
                           "an object holding 2 arrays ('a', 'b'), not one array of rows"),
        # (too deep, and its end not found: a too-deep row that ends is quarantined alone)
        "too deep": (b"[" * 100_000 + b'"' + bad + b'"', "not readable JSON: nested too deeply"),
    }[case]
    path = tmp_path / "rows.json"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        open_input(str(path))
    assert str(err.value).startswith(f"{path}: {reason}"), str(err.value)
    path.write_bytes(b"\xa0[" + row + b"}]")  # a Latin-1 no-break space before the array: the byte breaks the JSON
    with pytest.raises(InputError, match=r"rows\.json: not UTF-8 \(or UTF-16, UTF-32\) text"):
        open_input(str(path))


@pytest.mark.parametrize("suffix,held", [(".gz", "gzip-compressed data"), (".bz2", "bz2-compressed data"),
                                         (".xz", "xz-compressed data"), (".zst", "zstd-compressed data")])
def test_a_compressed_file_under_a_plain_name_is_named_as_what_it_holds(tmp_path, suffix, held):
    packed = write_compressed(tmp_path / f"rows.jsonl{suffix}", b"\n".join(LINES) + b"\n")
    plain = tmp_path / "rows.jsonl"
    plain.write_bytes(packed.read_bytes())
    with pytest.raises(InputError, match=rf"rows\.jsonl: holds {held}, not JSON Lines text: name it as what it "
                                         rf"holds \(\.jsonl{suffix}\)"):
        list(open_input(str(plain)).batches())


def test_a_binary_file_is_still_not_json_lines(tmp_path):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"junk\.jsonl: line 1: not JSON Lines"):
        list(open_input(str(path)).batches())


def test_a_json_object_of_several_arrays_is_one_error_naming_them(tmp_path):
    """``{"train": [...], "test": [...]}``: which array holds the rows is a guess; the error names the keys."""
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"train": ROWS[:4], "test": ROWS[4:], "version": 2}))
    with pytest.raises(InputError, match=r"splits\.json: an object holding 2 arrays \('train', 'test'\)"):
        open_input(str(path))



def _quarantined(out: Path) -> list[dict]:
    return [json.loads(q) for q in (out / "quarantine.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("text,error", [
    ("{}", "missing 'conversations'"),
    ("42", "the file's JSON is a number, not rows"),
    ('"rows"', "the file's JSON is a string, not rows"),
    ("null", "the file's JSON is null, not rows"),
    ("true", "the file's JSON is a boolean, not rows"),
])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_json_file_that_holds_no_row_is_quarantined_as_its_one_line_of_json_lines_is(tmp_path, text, error, suffix):
    """``{}`` (or a number, a string, null) as a whole ``.json`` file ended the run ("expected a JSON array of
    rows") while the same value as the one line of a JSON Lines file is one quarantined record and the run goes on;
    now it is that record too: its reason, the file named, its value as the raw record and the id its line has."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_compressed(folder / f"odd.json{suffix}", text.encode())
    (tmp_path / "one.jsonl").write_text(text + "\n")
    curate(str(folder / f"odd.json{suffix}"), tmp_path / "out")
    curate(str(tmp_path / "one.jsonl"), tmp_path / "lines")
    [got], [line] = _quarantined(tmp_path / "out"), _quarantined(tmp_path / "lines")
    assert got["position"] == {"file": f"odd.json{suffix}", "row": 0}
    assert got["error"].startswith(error) and got["raw"] == json.loads(text)
    assert got["id"] == line["id"]


def test_a_linked_folder_of_shards_is_read_and_a_link_loop_ends(tmp_path):
    """Shards in a linked folder are part of the folder (not left out without a word); a link back up the tree
    reads nothing twice and does not loop."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.jsonl").write_bytes(b"\n".join(LINES[3:]) + b"\n")
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"\n".join(LINES[:3]) + b"\n")
    (folder / "more").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "back").symlink_to(folder, target_is_directory=True)
    assert [json.loads(raw) for _, _, raw in _read(folder)] == ROWS


@pytest.mark.parametrize("name,packed,message", [
    ("rows.json", "rows.json.gz", r"rows\.json: holds gzip-compressed data, not JSON text: name it as what it holds "
                                  r"\(\.json\.gz\)"),
    ("rows.parquet", "rows.parquet.gz", r"rows\.parquet: holds gzip-compressed data, not Parquet: name it as what it "
                                        r"holds \(rows\.parquet\.gz\)"),
])
def test_a_compressed_json_or_parquet_file_under_a_plain_name_is_named_as_what_it_holds(tmp_path, name, packed,
                                                                                        message):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if name.endswith(".parquet"):
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(ROWS), sink)
        data = sink.getvalue().to_pybytes()
    else:
        data = json.dumps(ROWS).encode()
    (tmp_path / name).write_bytes(write_compressed(tmp_path / packed, data).read_bytes())
    with pytest.raises(InputError, match=message):
        source = open_input(str(tmp_path / name))
        source.units()


@pytest.mark.parametrize("name,held,shown", [
    ("rows.jsonl.xz", ".bz2", "bz2-compressed data, not xz-compressed data: name it as what it holds (rows.jsonl.bz2)"),
    ("rows.jsonl.bz2", ".gz", "gzip-compressed data, not bz2-compressed data: name it as what it holds (rows.jsonl.gz)"),
    ("rows.jsonl.gz", ".zst", "zstd-compressed data, not gzip-compressed data: name it as what it holds (rows.jsonl.zst)"),
    ("rows.jsonl.zst", "", "JSON Lines text, not zstd-compressed data: name it as what it holds (rows.jsonl)"),
    ("rows.jsonl.gz", "", "JSON Lines text, not gzip-compressed data: name it as what it holds (rows.jsonl)"),
    ("rows.json.xz", "", "JSON text, not xz-compressed data: name it as what it holds (rows.json)"),
    ("rows.json.gz", ".bz2", "bz2-compressed data, not gzip-compressed data: name it as what it holds (rows.json.bz2)"),
])
def test_a_file_under_another_codecs_name_is_named_as_what_it_holds(tmp_path, name, held, shown):
    """A file whose name says one codec and whose bytes are another's stream or plain text (a download already
    decompressed on the way, a file renamed by hand) said only its decoder's complaint ("Input format not
    supported by decoder", "Not a gzipped file"); it says what it holds and the name that reads it, as a
    compressed file under a plain name does."""
    kind = name.split(".")[1]
    data = json.dumps(ROWS).encode() if kind == "json" else b"".join(json.dumps(r).encode() + b"\n" for r in ROWS)
    written = write_compressed(tmp_path / f"held{'.' + kind}{held}", data) if held else None
    (tmp_path / name).write_bytes(written.read_bytes() if written else data)
    with pytest.raises(InputError) as raised:
        curate(str(tmp_path / name), tmp_path / "out")
    assert str(raised.value) == f"{tmp_path / name}: holds {shown}"


@pytest.mark.parametrize("line", [b'{"conversations": [{"from": "human", "value": "cut sh', b"not json at all",
                                  b"\xff\xfe\x00 bytes", b'{"a": 1} {"b": 2}', b"[1, 2"])
def test_a_shard_of_one_bad_line_is_quarantined_not_refused(tmp_path, line):
    """One bad line alone in its file (a one-row shard cut short, a stray line) was refused as "not JSON Lines",
    which stopped the whole run; it is a hostile record like any other: quarantined with its reason, the other
    shards read."""
    from curation.contract import read_manifest
    from curation.pipeline import run_curation
    from tests.curation.test_against_existing import fast_config

    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(line + b"\n")
    good = {"conversations": [{"from": "human", "value": "What is the boiling point of water at sea level?"},
                              {"from": "gpt", "value": "Water boils at 100 degrees Celsius at sea level."}]}
    (folder / "b.jsonl").write_text(json.dumps(good) + "\n")
    run_curation(str(folder), tmp_path / "out", fast_config())
    quarantined = [json.loads(q) for q in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert [q["position"] for q in quarantined] == [{"file": "a.jsonl", "line": 1}]
    assert read_manifest(tmp_path / "out")["accounting"]["in_splits"] == 1


def test_a_quarantined_json_record_with_a_lone_surrogate_escape_is_written_as_that_escape(tmp_path):
    """A ``.json`` document's record is quarantined as JSON read back (not as its line's text): a ``"\\ud800"``
    escape in it is a lone surrogate there, which UTF-8 cannot hold. The quarantine file and the report keep it as
    the escape; the run, report on, ends and balances (it ended in a traceback)."""
    from curation.config import load_config
    from curation.contract import read_manifest, read_quarantine
    from curation.pipeline import run_curation

    path = tmp_path / "escapes.json"
    path.write_text('[{"conversations": "\\ud800 not turns"}, {"conversations": [{"from": "\\udfff", "value": "Q?"}]}, '
                    + json.dumps(ROWS[0]) + "]")
    out = tmp_path / "out"
    run_curation(str(path), out, load_config(None, {"checkpoint": False}))
    assert read_manifest(out)["accounting"]["quarantined"] == 2
    text = (out / "quarantine.jsonl").read_text(encoding="utf-8")
    assert '"conversations": "\\ud800 not turns"' in text
    assert [q["raw"]["conversations"] for q in read_quarantine(out)][0] == "\ud800 not turns"
    assert "\\ud800 not turns" in (out / "report.html").read_text(encoding="utf-8")
