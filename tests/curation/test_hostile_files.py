"""Hostile input files and folders: a glob that reaches a file twice or loops through a link, hidden side files
beside shards, broken links, pipes and devices, a ``save_to_disk`` folder among or beside shards. Every file is
read once, or the run stops with one line naming it; none hangs, none loses rows unseen."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from curation.readers import InputError, open_input
from curation.sources import SourceError, expand, glob_files
from tests.curation.runs import rows_read

ROWS = [{"conversations": [{"from": "human", "value": f"Question number {i}?"},
                           {"from": "gpt", "value": f"The answer to question {i} is {i * 7}."}]} for i in range(4)]
TEXT = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
# the start of a macOS resource fork ("AppleDouble"), which tar and zip made on a Mac leave beside each file as ._NAME
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\x00\x00\x00\x09\x00\x00\x002"


def _shards(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(gzip.compress(TEXT, mtime=0) if name.endswith(".gz") else TEXT)
    return folder


# --- globs -----------------------------------------------------------------------------------------------------

def test_a_glob_with_two_recursive_parts_reads_each_file_once(tmp_path):
    """``data/**/**/*.jsonl`` matches a file once for each way its two ``**`` split the folders above it (glob's
    own answer): every shard was read two or three times."""
    _shards(tmp_path / "data", "a.jsonl", "x/b.jsonl", "x/y/c.jsonl")
    spec = str(tmp_path / "data" / "**" / "**" / "*.jsonl")
    assert [f.path.name for f in expand(spec)] == ["a.jsonl", "b.jsonl", "c.jsonl"]
    assert rows_read(spec) == 3 * len(ROWS)


def test_a_glob_through_a_link_back_up_the_tree_reads_each_file_once(tmp_path):
    """A link back up the tree (``x/up -> ..``) is followed by glob's ``**`` again and again, as deep as the
    system resolves links: the shard was read 40 times (and with a second way into the loop, ``alias -> x``
    beside it, the matches double at each level: the run never ends)."""
    data = _shards(tmp_path / "data", "x/a.jsonl")
    (data / "x" / "up").symlink_to("..")
    assert glob_files(str(data / "**" / "*.jsonl")) == [str(data / "x" / "a.jsonl")]
    assert rows_read(str(data / "**" / "*.jsonl")) == len(ROWS)


def test_a_glob_reads_a_folder_linked_twice_once(tmp_path):
    """A folder reached twice, here through ``alias -> x``, is read once, as a folder walk reads it."""
    data = _shards(tmp_path / "data", "x/a.jsonl")
    (data / "alias").symlink_to("x")
    assert glob_files(str(data / "**" / "*.jsonl")) == [str(data / "alias" / "a.jsonl")]  # the first by name
    assert rows_read(str(data / "**" / "*.jsonl")) == len(ROWS)


def test_a_glob_without_recursive_parts_matches_as_glob_does(tmp_path):
    _shards(tmp_path / "data", "a.jsonl", "b.jsonl.gz", ".hidden.jsonl", "x/c.jsonl", "br[1].jsonl")
    data = tmp_path / "data"
    assert glob_files(str(data / "*.jsonl")) == sorted([str(data / "a.jsonl"), str(data / "br[1].jsonl")])
    assert sorted(glob_files(str(data / "**"))) == sorted(
        [str(data), *(str(data / n) for n in ("a.jsonl", "b.jsonl.gz", "br[1].jsonl", "x", "x/c.jsonl"))])


# --- hidden side files beside shards ---------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_hidden_files_beside_shards_are_left_out_as_in_nested_folders(tmp_path, suffix):
    """A folder of plain ``.jsonl`` shards read its hidden files too (a macOS ``._a.jsonl`` resource fork ended
    the run as "not JSON Lines", a ``.a.jsonl`` backup read every row twice) where a folder of compressed or
    nested shards leaves them out."""
    data = _shards(tmp_path / "data", f"a{suffix}", f".backup{suffix}")
    (data / f"._a{suffix}").write_bytes(APPLE_DOUBLE)
    assert rows_read(str(data)) == len(ROWS)


def test_hidden_parquet_files_beside_parquet_shards_are_left_out(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), data / "a.parquet")
    (data / "._a.parquet").write_bytes(APPLE_DOUBLE)
    assert rows_read(str(data)) == len(ROWS)



@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
@pytest.mark.parametrize("spec", ["{folder}", "{folder}/*{suffix}"])
def test_a_spark_json_output_folder_is_read_as_the_json_lines_it_holds(tmp_path, suffix, spec):
    """Spark's ``df.write.json(...)`` writes JSON Lines in part files named ``.json`` (empty ones for empty
    partitions), beside ``_SUCCESS`` and hidden ``.crc`` files; such a folder ended the run ("a .json file ... cannot
    be mixed with other files") as soon as it held two parts. Each part is read as the JSON Lines it holds."""
    folder = tmp_path / "out.json"
    folder.mkdir()
    lines = TEXT.splitlines(keepends=True)
    for k, part in enumerate([b"".join(lines[:2]), b"", b"".join(lines[2:])]):
        name = folder / f"part-0000{k}-5d2f-c000{suffix}"
        name.write_bytes(gzip.compress(part, mtime=0) if suffix.endswith(".gz") else part)
        (folder / f".{name.name}.crc").write_bytes(b"crc\x00\x01\x02")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    source = open_input(spec.format(folder=folder, suffix=suffix))
    got = [json.loads(raw) for batch in source.batches() for raw in batch.column("_raw").to_pylist()]
    assert got == ROWS


def test_a_json_document_among_json_lines_parts_is_read_whole_beside_them(tmp_path):
    _shards(tmp_path / "data", "part-0.json")
    (tmp_path / "data" / "rows.json").write_text(json.dumps(ROWS, indent=2))
    source = open_input(str(tmp_path / "data"))
    got = [json.loads(raw) for batch in source.batches() for raw in batch.column("_raw").to_pylist()]
    assert got == ROWS + ROWS


# --- broken links, pipes, devices ------------------------------------------------------------------------------

def _broken_link(path: Path) -> Path:
    path.symlink_to(path.parent / "gone" / "rows.jsonl")
    return path


@pytest.mark.parametrize("where", ["file", "flat folder", "nested folder", "glob"])
def test_a_broken_link_is_one_error_naming_it(tmp_path, where):
    """A shard that is a link to nothing said "file not found" (given itself) or Arrow's "Failed to open local
    file" (in a folder); a glob left it out unseen, and the rows it was meant to bring with it."""
    data = _shards(tmp_path / "data", "a.jsonl", "x/b.jsonl")
    link = _broken_link(data / ("x/c.jsonl" if where == "nested folder" else "c.jsonl"))
    spec = {"file": str(link), "glob": str(data / "*.jsonl")}.get(where, str(data))
    with pytest.raises(InputError, match=rf"^{link}: a broken link \(to .*gone/rows.jsonl, which does not exist\)$"):
        list(open_input(spec).batches())


@pytest.mark.parametrize("nested", [False, True])
def test_a_named_pipe_among_shards_is_one_error_not_a_hang(tmp_path, nested):
    """A named pipe under a shard's name was opened for reading: the run waited for a writer for ever."""
    data = _shards(tmp_path / "data", "a.jsonl", "x/b.jsonl.gz")
    pipe = data / ("x" if nested else "") / "p.jsonl"
    os.mkfifo(pipe)
    with pytest.raises(SourceError, match=rf"^{pipe}: a named pipe, not a regular file"):
        expand(str(data))  # lists the folder, opens nothing
    with pytest.raises(InputError, match=rf"^{pipe}: a named pipe, not a regular file"):
        open_input(str(data))


@pytest.mark.parametrize("make", ["pipe", "device"])
def test_a_pipe_or_device_given_as_the_input_is_named_as_such(tmp_path, make):
    """``--input /dev/null`` or a named pipe said "file not found": there is one, only not a regular file."""
    if make == "pipe":
        path = tmp_path / "rows.jsonl"
        os.mkfifo(path)
        what = "a named pipe"
    else:
        path, what = Path(os.devnull), "a character device"
    with pytest.raises(InputError, match=rf"^{path}: {what}, not a regular file: .*write it to a file first"):
        open_input(str(path))


@pytest.mark.parametrize("args", [["-i", "~no-such-user-x/rows.jsonl"], ["-i", "name=~no-such-user-x/rows.jsonl"],
                                  ["-i", "~no-such-user-x/*.jsonl"], ["--against", "~no-such-user-x/out"]])
def test_a_path_in_the_home_of_a_user_that_does_not_exist_is_one_error(tmp_path, args):
    """``~user/...`` for a user that does not exist ended the run in a traceback ("Could not determine home
    directory", from ``Path.expanduser``): the path is left as it is, as the shell leaves it, and is not found."""
    from tests.curation.runs import invoke, one_error_line

    if "--against" in args:
        (tmp_path / "rows.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
        args = ["-i", str(tmp_path / "rows.jsonl"), *args]
    code, output = invoke("curate", "-q", *args, "-o", tmp_path / "out")
    assert code == 2 and "~no-such-user-x/" in one_error_line(output)


# --- save_to_disk folders beside or among shards ---------------------------------------------------------------

def _saved(path: Path) -> Path:
    import datasets

    datasets.Dataset.from_list(ROWS).save_to_disk(str(path))
    return path


def test_a_save_to_disk_folder_that_also_holds_shards_is_refused(tmp_path):
    """``load_from_disk`` reads the Arrow files only: a JSON Lines file put beside them was left out unseen."""
    saved = _saved(tmp_path / "saved")
    _shards(saved, "extra.jsonl")
    with pytest.raises(InputError, match=rf"^{saved}: a datasets.save_to_disk folder that also holds extra.jsonl"):
        open_input(str(saved))


def test_a_save_to_disk_folder_among_shards_is_refused(tmp_path):
    """A folder walk passes Arrow files by (and the metadata JSON beside them): a saved dataset inside a folder
    of shards was left out unseen, its rows lost."""
    data = _shards(tmp_path / "data", "a.jsonl")
    _saved(data / "saved")
    with pytest.raises(InputError, match=rf"^{data / 'saved'}: a datasets.save_to_disk folder inside {data}: give "
                                         "it as an input of its own"):
        open_input(str(data))


def test_a_save_to_disk_folder_alone_is_still_read(tmp_path):
    saved = _saved(tmp_path / "saved")
    assert rows_read(str(saved)) == len(ROWS)


def test_a_glob_through_a_link_loop_does_not_hang_the_output_check(tmp_path):
    """The check that no input is the run's output once globbed with glob's own ``**`` too: with a loop and a
    second way into it the run hung there, before anything was read."""
    import threading

    from curation.pipeline import check_not_own_output

    data = _shards(tmp_path / "data", "x/a.jsonl")
    (data / "x" / "up").symlink_to("..")
    (data / "alias").symlink_to("x")
    checked = threading.Thread(target=check_not_own_output, args=([str(data / "**" / "*.jsonl")], tmp_path / "out"),
                               daemon=True)
    checked.start()
    checked.join(timeout=30)
    assert not checked.is_alive()


@pytest.mark.parametrize("name", ["rows.jsonl.gz", "rows.json.gz"])
def test_a_file_compressed_twice_is_named_so(tmp_path, name):
    """What the name's codec decompresses is compressed again: the message once told to name it as it is named."""
    path = tmp_path / name
    path.write_bytes(gzip.compress(gzip.compress(TEXT, mtime=0), mtime=0))
    with pytest.raises(InputError, match=r"compressed twice: what gzip decompresses is gzip-compressed again"):
        rows_read(str(path))


# --- positions -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_shards_of_one_name_in_two_folders_are_told_apart_in_positions(tmp_path, suffix):
    """``x/part-0`` and ``y/part-0`` both read as ``part-0`` in a quarantined row's position, which then named
    no one file: the position names a file by its path below the folder the input's files share."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.pipeline import run_curation
    from tests.curation.test_against_existing import fast_config

    bad = {"conversations": "not turns", "source": "s"}
    for sub in ("x", "y/z"):
        path = tmp_path / "in" / sub / f"part-0{suffix}"
        path.parent.mkdir(parents=True)
        if suffix == ".parquet":
            pq.write_table(pa.Table.from_pylist([bad]), path)
        else:
            text = (json.dumps(bad) + "\n").encode()
            path.write_bytes(gzip.compress(text, mtime=0) if suffix.endswith(".gz") else text)
    run_curation(str(tmp_path / "in"), tmp_path / "out", fast_config())
    quarantined = [json.loads(line) for line in (tmp_path / "out" / "quarantine.jsonl").read_text().splitlines()]
    assert sorted(q["position"]["file"] for q in quarantined) == [f"x/part-0{suffix}", f"y/z/part-0{suffix}"]
    one = tmp_path / "in" / "x" / f"part-0{suffix}"
    assert open_input(str(one)).units()[0].file == one.name  # one file: its name, as before


# --- names that hold control characters ----------------------------------------------------------------------------

NAMES = ["bad\nname", "cr\rname", "esc\x1b[31mname", "tab\tname"]
ESCAPED = {"bad\nname": "bad\\nname", "cr\rname": "cr\\rname", "esc\x1b[31mname": "esc\\x1b[31mname",
           "tab\tname": "tab\\tname"}


@pytest.mark.parametrize("name", NAMES)
def test_a_file_name_with_a_control_character_is_named_escaped_on_one_line(tmp_path, name):
    """A file named with a newline in it split its error over two ``error:`` lines (the second starting with the
    rest of the name, as if it were another error); a CR or an escape sequence rewrote the terminal's line.
    Each is shown as a Python string literal writes it."""
    path = tmp_path / f"{name}.json"
    path.write_text("not json")
    with pytest.raises(InputError) as err:
        open_input(str(path))
    assert str(err.value) == f"{tmp_path}/{ESCAPED[name]}.json: line 1: not valid JSON: Expecting value (column 1)"
    link = tmp_path / f"{name}.jsonl"
    link.symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(SourceError) as err:  # raised where the folder is walked
        expand(str(tmp_path))
    assert str(err.value).startswith(f"{tmp_path}/{ESCAPED[name]}.jsonl: a broken link (to ")


def test_a_file_name_with_a_newline_is_one_error_line_of_the_cli(tmp_path):
    from tests.curation.runs import invoke, one_error_line

    path = tmp_path / "bad\nname.json"
    path.write_text('[{"conversations": ')
    code, output = invoke("curate", "-q", "-i", path, "-o", tmp_path / "out")
    assert code == 2 and one_error_line(output).startswith(f"error: {tmp_path}/bad\\nname.json: line 1: ")


def test_a_dash_for_standard_input_says_it_is_not_read(tmp_path, monkeypatch):
    """``-i -`` (rows piped in) said "-: file not found"; a file named ``-`` is still read as any file is."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"^-: standard input is not read: .* write it to a file first"):
        open_input("-")
    (tmp_path / "-").write_text('{"conversations": [{"from": "human", "value": "hi?"}, {"from": "gpt", "value": "hi."}]}\n')
    with pytest.raises(InputError, match=r"^-: unsupported file type"):
        open_input("-")
