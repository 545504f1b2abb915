"""JSON Lines, read a block at a time and parsed column-wise by pyarrow, record by record only where needed.

A block (a few MB, cut at a line end) is split into lines with numpy; blank lines are skipped (as
``str.strip`` sees them; a line of only a byte-order mark is blank too) but still counted for line numbers.
The non-blank lines are parsed in one pyarrow call (strings Arrow would type as timestamps are read again as
the strings they are). When that fails (a line that is not JSON, a value whose type changes between lines,
two objects on one line, ...) the lines are halved until each failing part is a single line, which is then
checked with ``json.loads``: not JSON, or an object that names a key twice -> ``_error``; JSON that the
columnar parser cannot type alongside its neighbours -> ``_slow`` (validation reads it record by record).
Invalid UTF-8 is found by decoding the block once. A byte-order mark at the start of the file is dropped.
Ids are hashes of each line's bytes (:func:`curation.contract.line_id`), as before any parsing. A line that
fails as two JSON values or more, each ended by a lone CR (a file of LF lines with one line ended as classic
Mac OS ended them), is read as that many records, each numbered with the line it is on (as ``grep -n`` and
``sed`` number it); this is looked for only among the lines that fail, so it costs the lines that parse
nothing.
"""

from __future__ import annotations

import json
import re
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from curation.contract import line_id, line_ids
from curation.core.columns import type_holds
from curation.readers.errors import (NOT_UTF8_HINT, DuplicateKey, InputError, json_int, misnamed, unique_keys,
                                     unmarked_encoding_error)
from curation.readers.raw import MAX_DEPTH, raw_batch, type_depth, with_leaves, without_deep_columns

BOM = b"\xef\xbb\xbf"
_JSON_START = frozenset(b'{["-0123456789tfn')
# the deepest nesting a line may have to be handed to Arrow's JSON parser; deeper lines are read with
# ``json.loads`` (tens of thousands of levels crash Arrow's recursive builders)
MAX_NESTING = 4096
NOT_JSON = ("not valid JSON", "not readable JSON", "not UTF-8")  # the errors of a line that is no JSON value


def _line_bounds(block: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without the line end) of every line of ``block``. A line ends at an LF, and its
    line end is the LF or the CR LF; the last line of a block that holds no LF after it (the end of the file)
    ends at a lone CR too, which is then its line end (a file cut between the CR and the LF of its last line,
    or a file of LF lines whose last line was ended as classic Mac OS ended lines). A CRLF file's lines are
    then the bytes of the same file with LF ends, whatever its last line ends with: the same ids (they hash
    the line), the same raw text. A lone CR elsewhere is no line end here, as Python's JSON Lines readers and
    Arrow's read it: it is part of its line (:func:`_records` cuts a line at one only where it ends a whole JSON
    value and another follows, and a file whose lines all end in a lone CR is read as a stream of CR lines,
    :data:`curation.sources.CR_LINES`)."""
    if not len(block):  # no line at all (a file that was only a byte-order mark)
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    arr = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(block)]))
    if arr[-1] == 10:  # no empty last line after a final newline
        starts, ends = starts[:-1], ends[:-1]
    # a CR before each line's LF, and a CR that ends the last line where no LF follows it (the end of the file)
    crlf = ends > starts
    crlf[crlf] = arr[ends[crlf] - 1] == 13
    return starts, ends - crlf


def _blank(line: bytes | memoryview) -> bool:
    """Is the line only whitespace (as ``str.strip`` sees it), or a byte-order mark and whitespace (the mark of an
    empty file that was concatenated to the end of another: a file of only a mark holds no record either)?"""
    try:
        return not bytes(line).decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        return False


_ROW_HINT = re.compile(r"in row (\d+)")


def _parse(text: bytes | memoryview, rows: int, longest: int, threads: bool = True) -> tuple[pa.Table | None, int | None]:
    """pyarrow's parse of ``rows`` lines, or ``(None, row)`` when it fails (``row``: the line pyarrow names,
    when it names one) or does not give one row per line."""
    if not len(text):
        return None, None
    # pyarrow cuts its blocks at line ends, so a block must hold the longest line
    block_size = max(1 << 20, longest + 2) if threads else len(text) + 1
    read_options = pj.ReadOptions(use_threads=threads, block_size=block_size)
    try:
        table = pj.read_json(pa.BufferReader(pa.py_buffer(text)), read_options=read_options)
        if (as_text := _timestamps_as_text(table.schema)) is not None:
            table = pj.read_json(pa.BufferReader(pa.py_buffer(text)), read_options=read_options,
                                 parse_options=pj.ParseOptions(explicit_schema=as_text))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        hint = _ROW_HINT.search(str(exc))
        return None, int(hint.group(1)) if hint and not threads else None
    if table.num_rows != rows or not _valid(table) or _big_integers(table):
        return None, None
    return table, None


def _timestamps_as_text(schema: pa.Schema) -> pa.Schema | None:
    """``schema`` with each timestamp type (at any depth) as a string, or None when it holds none. Arrow's JSON
    reader types strings that look like times (``"2024-01-01"``, ``"2024-01-01T10:00:00+05:00"``) as timestamps,
    rewriting them (``2024-01-01 00:00:00``, the second in UTC without its offset); JSON has no time type, so they
    are read again as the strings they are, as the record-by-record path and a ``.json`` file read them. A
    column too deep to keep is left as it is (its records are quarantined, :func:`without_deep_columns`)."""
    timed = [f for f in schema if type_depth(f.type) <= MAX_DEPTH and type_holds(f.type, pa.types.is_timestamp)]
    if not timed:
        return None
    as_text = {f.name: f.with_type(with_leaves(f.type, lambda t: pa.string() if pa.types.is_timestamp(t) else t))
               for f in timed}
    return pa.schema([as_text.get(f.name, f) for f in schema])


_EXACT_LIMIT = float(2**53)


def _big_integers(table: pa.Table) -> bool:
    """Whether a float column (not ``score``, a float anyway), or a float in a column's structs and lists (at any
    depth: ``{"n": 18446744073709551616}``), holds a whole number past 2**53: pyarrow reads an integer literal
    too big for int64 as a double, and one beside a fraction in its block too, rounding it
    (``12345678901234567890123`` -> ``1.2345678901234568e+22``, ``9007199254740993`` -> ``9007199254740992.0``);
    such lines go record by record, which keeps the number exact (as an integer, or as JSON text beside floats:
    :data:`curation.core.columns.WIDE_INT`)."""
    for field in table.schema:
        if field.name == "score" or not type_holds(field.type, pa.types.is_floating):
            continue
        todo = list(table.column(field.name).chunks)
        while todo:  # the column's float leaves, walked without recursion (the type may be 32 levels deep)
            values = todo.pop()
            t = values.type
            if pa.types.is_floating(t):
                numbers = values.to_numpy(zero_copy_only=False)
                big = np.abs(numbers) >= _EXACT_LIMIT
                if big.any() and (np.floor(numbers[big]) == numbers[big]).any():
                    return True
            elif pa.types.is_struct(t):
                todo.extend(values.flatten())
            elif pa.types.is_map(t):
                todo.extend((values.keys, values.items))
            elif pa.types.is_dictionary(t):
                todo.append(values.dictionary)
            elif pa.types.is_nested(t) and hasattr(t, "value_type"):  # the lists, of every layout
                todo.append(values.flatten())
    return False


def _holds_nested_null(t: pa.DataType) -> bool:
    """Whether a null type sits anywhere under ``t``."""
    return type_holds(t, pa.types.is_null)


def _valid(table: pa.Table) -> bool:
    """Whether a parsed table is sound. pyarrow's JSON reader builds a list of only nulls (``[null, null]``) as an
    array whose lengths do not add up, and a list that starts with null then holds text (``[null, "x"]``) with
    offsets past its values; either fails only when its rows are taken, so such lines go record by record. Every
    table gets the structural check (cheap: sizes and offsets' ends); only one with a null type under a list or
    struct gets the full one (it walks every value)."""
    try:
        table.validate()
        if any(f.type.num_fields and _holds_nested_null(f.type) for f in table.schema):
            table.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


class _Block:
    """The non-blank lines of one block and what became of each."""

    def __init__(self, block: bytes | memoryview, starts: np.ndarray, ends: np.ndarray, threads: bool = True):
        self.block = block
        self.threads = threads
        self.starts = starts
        self.ends = ends
        n = len(starts)
        self.error: list[str | None] = [None] * n
        self.slow = np.zeros(n, dtype=bool)
        self.parts: list[tuple[int, int, pa.Table]] = []  # (first line, stop, table), in order
        self.joined: list[int] = []  # lines that failed as more than one JSON value, with a CR in them
        self.longest = int((ends - starts).max()) if n else 0

    def text(self, a: int, b: int) -> bytes | memoryview:
        """Lines ``[a, b)`` as one buffer (a slice of the block when no blank line sits between them: only their
        line ends, LF or CR LF, which Arrow reads as it reads LF)."""
        if b - a == 1 or self._adjacent(a, b):
            return self.block[self.starts[a] : self.ends[b - 1]]
        mv = memoryview(self.block)
        return b"\n".join(mv[s:e] for s, e in zip(self.starts[a:b].tolist(), self.ends[a:b].tolist()))

    def _adjacent(self, a: int, b: int) -> bool:
        """Whether only a line end (one byte, or the CR LF that :func:`_line_bounds` leaves out of a line) lies
        between each of lines ``[a, b)`` and the next."""
        ends, gaps = self.ends[a : b - 1], self.starts[a + 1 : b] - self.ends[a : b - 1]
        if bool(np.all(gaps == 1)):
            return True
        crlf = gaps == 2
        if not bool(np.all(gaps[~crlf] == 1)):
            return False
        arr = np.frombuffer(self.block, dtype=np.uint8)
        return bool(np.all(arr[ends[crlf]] == 13) and np.all(arr[ends[crlf] + 1] == 10))

    def line(self, i: int) -> bytes:
        return bytes(self.block[self.starts[i] : self.ends[i]])

    def parse(self, a: int, b: int) -> None:
        """Parse lines ``[a, b)``: in one call when it works, else around the line pyarrow names, else halved."""
        if b - a == 1:
            table, _ = _parse(self.text(a, b), 1, self.longest, threads=False)
            if table is not None:
                self._add(a, b, table)
            else:
                self.single(a)
            return
        table, _ = _parse(self.text(a, b), b - a, self.longest, threads=self.threads)
        while table is None and a < b:
            table, row = _parse(self.text(a, b), b - a, self.longest, threads=False)
            if table is not None:
                break
            if row is None or not 0 <= row < b - a:
                mid = (a + b) // 2
                self.parse(a, mid)
                self.parse(mid, b)
                return
            if row > 0:
                self.parse(a, a + row)
            self.single(a + row)
            a += row + 1
            table = None if a < b else table
            if a >= b:
                return
        if table is not None:
            self._add(a, b, table)

    def _add(self, a: int, b: int, table: pa.Table) -> None:
        """Lines ``[a, b)`` parsed as ``table``, its columns nested too deeply to keep as nulls (taking rows of a
        type thousands of levels deep overflows Arrow's stack): a line whose own value there is too deep gets
        the error, one beside it is read record by record (:func:`without_deep_columns`)."""
        errors, slow = self.error[a:b], self.slow[a:b]  # (a view: the records marked are marked in self.slow)
        table = without_deep_columns(table, errors, slow)
        self.error[a:b] = errors
        self.parts.append((a, b, table))

    def single(self, i: int) -> None:
        """A line read on its own with ``json.loads`` (with its newline, so messages match Python's)."""
        text = bytes(self.block[self.starts[i] : self.ends[i] + 1]).decode("utf-8").lstrip("\ufeff")
        try:
            try:
                json.loads(text, object_pairs_hook=unique_keys, parse_int=json_int)
            except json.JSONDecodeError as exc:
                if not exc.msg.startswith("Invalid control character"):
                    raise
                # raw control characters inside strings (a tab, a NUL): validation reads and repairs them
                json.loads(text, strict=False, object_pairs_hook=unique_keys, parse_int=json_int)
            self.slow[i] = True
        except json.JSONDecodeError as exc:
            self.error[i] = f"not valid JSON: {exc.msg} (column {exc.colno})"
            if exc.msg == "Extra data" and "\r" in text:
                self.joined.append(i)
        except RecursionError:  # deeper than Python parses: read as Arrow reads it beside other lines
            if not self._alone_in_arrow(i):
                self.error[i] = "not readable JSON: nested too deeply"
        except DuplicateKey as exc:  # Arrow refuses the line too: it never passes unchecked
            self.error[i] = str(exc)

    def _alone_in_arrow(self, i: int) -> bool:
        """Line ``i``, too deep for ``json.loads``, parsed alone by Arrow, as it is parsed beside other lines or alone
        in a read unit: its column too deep to keep is named (:meth:`_add`), whichever lines it shared a block or a
        parse with. False when Arrow cannot read it either, or when it may nest deeper than Arrow parses safely
        (:data:`MAX_NESTING`)."""
        line = np.frombuffer(self.line(i), dtype=np.uint8)
        if np.count_nonzero((line == ord("[")) | (line == ord("{"))) > MAX_NESTING:
            return False
        table, _ = _parse(self.text(i, i + 1), 1, self.longest, threads=False)
        if table is None:
            return False
        self._add(i, i + 1, table)
        return True

    def parsed_table(self) -> pa.Table | None:
        """One table over all lines (null rows where a line was not parsed), or None when nothing parsed.

        The largest part's columns are the reference; a part whose columns cannot be unified with them
        (``score`` a number there and a string here) goes to ``_slow``, record by record, and so does a part
        whose integers the unified float column cannot hold exactly (past 2**53 in one part, fractions in
        another): read record by record, the integers stay exact (a block holding both never parses in one
        call, :func:`_big_integers`), whatever bad line lies between the parts.
        """
        if not self.parts:
            return None
        order = sorted(range(len(self.parts)), key=lambda k: -(self.parts[k][1] - self.parts[k][0]))
        schema = self.parts[order[0]][2].schema
        ok = {order[0]}
        for k in order[1:]:
            a, b, table = self.parts[k]
            if table.schema == schema:
                ok.add(k)
                continue
            try:
                schema = pa.unify_schemas([schema, table.schema], promote_options="permissive")
                ok.add(k)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                self.slow[a:b] = True
        kept = [self.parts[k] for k in sorted(ok, key=lambda k: self.parts[k][0])]  # in line order (a line read
        # alone may have been parsed before the lines ahead of it)
        tables = [t for _, _, t in kept]
        if len(tables) == 1:
            combined = tables[0]
        elif all(t.schema == schema for t in tables):
            combined = pa.concat_tables(tables)
        else:
            try:
                combined = pa.concat_tables(tables, promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                # a part that converts to the unified types only by rounding (an integer past 2**53 where another
                # part holds fractions) goes record by record, which keeps the integer exact
                converted = []
                for a, b, table in kept:
                    try:
                        converted.append((a, b, _cast(table, schema)))
                    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                        self.slow[a:b] = True
                if converted:
                    kept, combined = converted, pa.concat_tables([t for _, _, t in converted])
                else:
                    largest = self.parts[order[0]]
                    for a, b, _ in kept:
                        self.slow[a:b] = a != largest[0]
                    kept, combined = [largest], largest[2]
        index = np.full(len(self.starts), -1, dtype=np.int64)
        offset = 0
        for a, b, _ in kept:
            index[a:b] = np.arange(offset, offset + (b - a))
            offset += b - a
        missing = index < 0
        if not missing.any():  # every line parsed, in order: the table is already one row per line
            return combined
        take = pa.array(np.where(missing, 0, index), mask=missing, type=pa.int64())
        return combined.take(take)


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns (null where it has none), each cast exactly (an Arrow error where a value
    would change: an integer past 2**53 as a float)."""
    names = set(table.column_names)
    columns = [table.column(f.name).cast(f.type) if f.name in names else pa.nulls(len(table), f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def parse_block(block: bytes | memoryview, file: str, first_line: int, first_pos: int,
                threads: bool = True) -> tuple[pa.RecordBatch | None, int, int]:
    """``(raw batch or None, lines in the block, records in the block)`` for one block of whole lines (bytes, or a
    view of a read buffer). ``threads``: let Arrow parse the block on its threads (off when blocks are parsed
    side by side, :func:`parsed_blocks`)."""
    starts, ends = _line_bounds(block)
    nlines = len(starts)
    if nlines == 0:
        return None, 0, 0
    # blank lines: only a line whose first byte cannot start JSON needs a closer look
    lengths = ends - starts
    arr = np.frombuffer(block, dtype=np.uint8)
    first = np.where(lengths > 0, arr[np.minimum(starts, len(block) - 1)], 32)
    maybe_blank = ~np.isin(first, np.frombuffer(bytes(_JSON_START), dtype=np.uint8))
    keep = np.ones(nlines, dtype=bool)
    for i in np.flatnonzero(maybe_blank):
        if _blank(block[starts[i] : ends[i]]):
            keep[i] = False
    line_numbers = np.flatnonzero(keep) + first_line
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return None, nlines, 0
    batch = _records(block, arr, starts, ends, line_numbers, file, first_pos, threads)
    return batch, nlines, batch.num_rows


def _records(block: bytes | memoryview, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             line_numbers: np.ndarray, file: str, first_pos: int, threads: bool, split_cr: bool = True) -> pa.RecordBatch:
    """The raw batch of the non-blank lines ``[starts, ends)`` of a block. ``split_cr``: lines that fail as
    JSON values joined by a lone CR are cut there (:func:`_lone_cr_pieces`) and the block's records read again."""
    n = len(starts)
    parsed = _Block(block, starts, ends, threads)
    # invalid UTF-8: checking the whole block is fast (Arrow's check, without holding the GIL); only when it
    # fails are lines decoded one by one
    bad_utf8: dict[int, str] = {}
    if not _valid_utf8(block):
        for i in range(n):
            try:
                parsed.line(i).decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_utf8[i] = exc.reason
    # a line that does not start with '{' and end with '}' is not one plain object: read it alone
    last = arr[np.maximum(ends - 1, 0)]
    odd = (arr[starts] != ord("{")) | (last != ord("}"))
    # nor is one that may nest deeper than Arrow's parser recurses safely (it overflows the C stack and takes
    # the process down): a line of n brackets nests at most n deep, and needs 2 bytes a level
    for i in np.flatnonzero(~odd & (ends - starts > 2 * MAX_NESTING)).tolist():
        line = arr[starts[i] : ends[i]]
        odd[i] = np.count_nonzero((line == ord("[")) | (line == ord("{"))) > MAX_NESTING
    for i, reason in bad_utf8.items():
        parsed.error[i] = f"not UTF-8: {reason}"
    for i in np.flatnonzero(odd).tolist():
        if i not in bad_utf8:
            parsed.single(i)
    plain = [i for i in np.flatnonzero(~odd).tolist() if i not in bad_utf8]
    for run_start, run_stop in _runs(plain):
        parsed.parse(run_start, run_stop)
    if split_cr and parsed.joined:
        cut = _cut_at_lone_cr(block, starts, ends, line_numbers, parsed.joined)
        if cut is not None:
            return _records(block, arr, *cut, file, first_pos, threads, split_cr=False)
    ids = line_ids(block, starts, ends)
    if bad_utf8:  # the id of a line that is not UTF-8 hashes its text as decoded with replacements
        ids = ids.to_pylist()
        for i in bad_utf8:
            ids[i] = line_id(bytes(block[starts[i] : ends[i]]).decode("utf-8", "replace").encode("utf-8"))
    table = parsed.parsed_table()
    # every record's raw bytes, without a copy: from its first byte to the next record's (validation cuts
    # at the first newline when it needs the line again)
    bounds = np.append(starts, len(block)).astype(np.int64)
    raw = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(bounds), pa.py_buffer(block)])
    batch = raw_batch(
        table,
        pos=np.arange(first_pos, first_pos + n, dtype=np.int64),
        ids=ids,
        file=file,
        lines=line_numbers,
        raw=raw,
        error=parsed.error,
        slow=parsed.slow,
    )
    return batch


def _lone_cr_pieces(line: bytes) -> list[tuple[int, int]] | None:
    """The byte ranges of the records of a line that holds JSON values one after another, each ended by a lone
    CR (the CR a record's line end, as a text of CR line ends has it); None when no CR ends a value. A CR is a
    record's end only between two values (whitespace around it): one inside a string is part of its text, and
    values apart by spaces alone stay one bad record. The pieces end where a value cannot be read."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder(strict=False)
    bounds: list[tuple[int, int]] = []  # (end of a record, start of the next), as character offsets
    at = first = len(text) - len(text.lstrip("\ufeff"))
    while True:
        start = at
        while at < len(text) and text[at] in " \t\r":
            at += 1
        if at == len(text):
            break
        gap = text[start:at]
        if start > first:
            if "\r" not in gap:  # two values on one line: one bad record, as it is
                break
            bounds.append((start + gap.index("\r"), start + gap.rindex("\r") + 1))
        try:
            _, at = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            break
    if not bounds:
        return None
    offsets = [0] + [b for pair in bounds for b in pair] + [len(text)]
    offsets = [len(text[:k].encode("utf-8")) for k in offsets]
    return list(zip(offsets[::2], offsets[1::2]))


def _cut_at_lone_cr(block: bytes | memoryview, starts: np.ndarray, ends: np.ndarray, line_numbers: np.ndarray,
                    joined: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(starts, ends, line numbers)`` of a block's records with each of the ``joined`` lines cut into the
    records a lone CR ends (:func:`_lone_cr_pieces`), every piece on its line's number; None when none is."""
    cuts = {}
    for i in joined:
        pieces = _lone_cr_pieces(bytes(block[starts[i] : ends[i]]))
        if pieces is not None:
            cuts[i] = pieces
    if not cuts:
        return None
    new_starts, new_ends, new_lines = [], [], []
    for i, (s, e, line) in enumerate(zip(starts.tolist(), ends.tolist(), line_numbers.tolist())):
        for a, b in cuts.get(i, [(0, e - s)]):
            new_starts.append(s + a)
            new_ends.append(s + b)
            new_lines.append(line)
    return (np.array(new_starts, dtype=starts.dtype), np.array(new_ends, dtype=ends.dtype),
            np.array(new_lines, dtype=line_numbers.dtype))


def parsed_blocks(blocks: Iterable[bytes | memoryview], file: str, first_pos: int, first_line: int = 1,
                  workers: int = 0) -> Iterator[tuple[pa.RecordBatch | None, int, int]]:
    """:func:`parse_block` of each block, in order, the blocks parsed side by side on ``workers`` threads (0:
    every core). A block's lines and records are numbered once the blocks before it are counted: each is
    parsed as if it came first, then its ``_pos`` and ``_line`` are shifted. Arrow's single-threaded parse
    of whole blocks side by side does the same work in less CPU time than its threaded parse of one block
    after another (measured in ``benchmarks/bench_inputs.py``)."""
    from curation.parallel import in_order, resolve_workers

    threads = resolve_workers(workers) <= 1

    def parse(block):
        return parse_block(block, file, 1, 0, threads=threads)

    line, pos = first_line, first_pos
    for batch, nlines, nrec in in_order(parse, blocks, workers):
        if batch is not None and (line != 1 or pos != 0):
            batch = _shifted(batch, line - 1, pos)
        yield batch, nlines, nrec
        line += nlines
        pos += nrec


def _shifted(batch: pa.RecordBatch, lines: int, records: int) -> pa.RecordBatch:
    import pyarrow.compute as pc

    from curation.readers.raw import LINE, POS

    for name, by in ((POS, records), (LINE, lines)):
        if by:
            i = batch.schema.get_field_index(name)
            batch = batch.set_column(i, name, pc.add(batch.column(i), pa.scalar(by, pa.int64())))
    return batch


def _valid_utf8(block: bytes | memoryview) -> bool:
    """Whether ``block`` is strict UTF-8, as ``bytes.decode`` sees it (Arrow checks it, the GIL released)."""
    bounds = pa.py_buffer(np.array([0, len(block)], dtype=np.int64))
    whole = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, bounds, pa.py_buffer(block)])
    try:
        whole.cast(pa.large_string())  # the cast checks UTF-8
    except pa.ArrowInvalid:
        return False
    return True


def _runs(indices: list[int]) -> Iterator[tuple[int, int]]:
    """Maximal runs of consecutive integers as ``(start, stop)``."""
    start = prev = None
    for i in indices:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            yield start, prev + 1
            start = prev = i
    if start is not None:
        yield start, prev + 1


def read_jsonl(
    fs, path: str, file: str, start: int, end: int, first_line: int, first_pos: int, block_bytes: int = 8 << 20,
    check: bool = True,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Raw batches of the lines in bytes ``[start, end)`` of ``path`` (``start`` at a line start), each with the
    number of records before it in this range. ``first_line``: the line number of the first line.

    ``check``: raise :class:`InputError` at the end when the range held records but not one was JSON (a binary
    file, say), naming the first bad line. A range that is one part of a file is not checked on its own: a
    part may hold only bad lines of a file that is JSON Lines (:func:`check_json_lines` checks the whole file)."""
    records, seen = 0, _JsonSeen()
    with fs.open_input_file(path) as fh:
        for batch, _, nrec in parsed_blocks(_range_blocks(fh, start, end, block_bytes), file, first_pos, first_line):
            if batch is not None:
                seen.add(batch, nrec)
                yield batch, records
            records += nrec
    if check:
        seen.check(path)


class _JsonSeen:
    """Whether the records read so far held any JSON, and the first line that was not (to name it when none was:
    a binary file, say)."""

    def __init__(self) -> None:
        self.records = self.parsed = 0
        self.first_error: tuple[int, str, bytes] | None = None  # (line, error, its bytes)

    def add(self, batch: pa.RecordBatch, records: int) -> None:
        errors = batch.column("_error")
        self.records += records
        self.parsed += errors.null_count
        if errors.null_count < records:
            listed = errors.to_pylist()
            # JSON the stages cannot keep (nested too deeply, say) is still JSON
            self.parsed += sum(e is not None and not e.startswith(NOT_JSON) for e in listed)
            if self.first_error is None:
                k = next(i for i, e in enumerate(listed) if e is not None)
                raw = batch.column("_raw")[k].as_py() or b""
                self.first_error = (batch.column("_line")[k].as_py(), listed[k], raw.split(b"\n", 1)[0])

    def check(self, path: str) -> None:
        """Raise :class:`InputError` when there were records and not one was JSON: naming the codec of a compressed
        file under a plain name, and how to convert a text file in a legacy encoding. A file of one record is
        refused only when it is another kind of file so named: one bad line alone (a shard of one row, cut short)
        is a hostile record like any other, quarantined with its reason, and the run goes on."""
        if self.records and not self.parsed and self.first_error is not None:
            line, error, raw = self.first_error
            wrong = misnamed(path, raw, "jsonl") if line == 1 else None  # a compressed file (or Parquet) so named
            if wrong is not None:
                raise wrong
            if line == 1 and (unmarked := unmarked_encoding_error(path, raw)) is not None:
                raise unmarked  # (UTF-16 without its mark: every line would be quarantined, the first refused)
            if self.records == 1:
                return
            if error.startswith("not UTF-8") and _legacy_text(raw):  # quarantining every line would help no one
                raise InputError(f"{path}: line {line}: not UTF-8 text ({error.partition(': ')[2]}), nor is any "
                                 f"other line: {NOT_UTF8_HINT}")
            raise InputError(f"{path}: line {line}: not JSON Lines ({error})")


def _legacy_text(line: bytes) -> bool:
    """Does a line that is not UTF-8 read as text in Windows-1252 (no byte it leaves undefined, no control
    character but tab and CR): a file in a legacy encoding, not binary data?"""
    try:
        text = line.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return not any(c < " " and c not in "\t\r" for c in text)


def _range_blocks(fh, start: int, end: int, block_bytes: int) -> Iterator[memoryview]:
    """Bytes ``[start, end)`` of an open file (``start`` at a line start) in blocks of whole lines. Each block is
    read from the start of its first line (the unfinished line at the end of the last read is read again) and
    handed on as a view of what was read: no bytes are copied."""
    pos, size = start, block_bytes
    while pos < end:
        fh.seek(pos)
        data = fh.read(min(size, end - pos))
        if not data:  # the file is shorter than when it was listed
            return
        skip = len(BOM) if pos == 0 and data.startswith(BOM) else 0
        cut = len(data)
        if pos + len(data) < end:
            cut = data.rfind(b"\n") + 1
            if cut <= skip:  # one line longer than a block: read a larger one
                size *= 2
                continue
        yield memoryview(data)[skip:cut]
        pos, size = pos + cut, block_bytes


def check_json_lines(fs, path: str, file: str, size: int) -> None:
    """Raise :class:`InputError` when not one line of the file is JSON. Reads only up to the first line that is
    (the first line, for any JSON Lines file): the whole file only when it is not JSON Lines."""
    for batch, _ in read_jsonl(fs, path, file, 0, size, 1, 0, block_bytes=1 << 20):
        if batch.column("_error").null_count:
            return


def broken_tail(exc, file: str, pos: int, line: int) -> pa.RecordBatch:
    """One raw record for the unreadable rest of a stream that broke off (:class:`curation.sources.BrokenStream`)
    at ``line`` (the first line not read whole)."""
    return raw_batch(None, pos=[pos], ids=[line_id(exc.rest)], file=file, lines=[line], raw=[exc.rest],
                     error=[f"the file breaks off here, the rest is unreadable (cannot read past line {line}: {exc.reason})"])


def _file_head(fs, path: str) -> bytes:
    """The file's first 8 bytes as stored (a codec's magic bytes, or text's start); none where it cannot be read."""
    try:
        with fs.open_input_file(path) as fh:
            return bytes(fh.read(8))
    except (OSError, ValueError):
        return b""


def read_jsonl_stream(fs, path: str, file: str, compression: str, first_pos: int,
                      block_bytes: int = 8 << 20) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Raw batches of a whole compressed JSON Lines file, streamed in blocks of whole lines (:mod:`curation.sources`)."""
    from pathlib import Path

    from pyarrow import fs as pafs

    from curation.readers.errors import InputError, wrong_codec
    from curation.sources import (CR_LINES, UTF_BOMS, BrokenStream, DataFile, SourceError, Utf16AsUtf8, compressed_as,
                                  iter_line_blocks, open_binary, readahead, salvage, salvage_transcoded)

    records, line, seen = 0, 1, _JsonSeen()
    try:
        if isinstance(fs, pafs.LocalFileSystem):
            stream = open_binary(DataFile(Path(path), "jsonl", compression))
        elif compression in UTF_BOMS:
            stream = Utf16AsUtf8(fs.open_input_stream(path), compression)
        elif compression == CR_LINES:
            stream = fs.open_input_stream(path, compression=None)
        else:
            from curation.readers.filesystems import open_remote_stream

            stream = open_remote_stream(fs, path, compression)
        with stream:
            blocks = iter_line_blocks(stream, block_bytes, name=file)
            if compression:  # the next block decodes on a thread while these parse (every codec releases the GIL)
                blocks = readahead(blocks)
            for batch, nlines, nrec in parsed_blocks(blocks, file, first_pos):
                line += nlines
                if batch is not None:
                    seen.add(batch, nrec)
                    yield batch, records
                records += nrec
    except BrokenStream as exc:
        # the lines read whole before the break are kept; the rest of the file is one quarantined record
        # (what was read of its first line as the raw bytes), so the run goes on and says what was lost. The
        # last piece a codec read before the break is decoded again, so that its whole lines are kept too (the
        # UTF-16 transcoder hands out all it decoded before it fails)
        rest = exc.rest
        if isinstance(fs, pafs.LocalFileSystem) and compression not in (*UTF_BOMS, CR_LINES):
            packed = DataFile(Path(path), "jsonl", compression)
            if isinstance(stream, Utf16AsUtf8):  # a compressed file of UTF-16 (UTF-32) text
                rest = salvage_transcoded(packed, exc.offset, stream.encoding) or rest
            else:
                rest = salvage(packed, exc.offset) or rest
        cut = rest.rfind(b"\n") + 1
        if cut:
            batch, nlines, nrec = parse_block(rest[:cut], file, line, first_pos + records)
            if batch is not None:
                seen.add(batch, nrec)
                yield batch, records
            line, records = line + nlines, records + nrec
        head = _file_head(fs, path) if not records and not rest[cut:] else None
        if head is not None and compression not in (*UTF_BOMS, CR_LINES) and compressed_as(head) != compression:
            # not one byte could be decoded, and the file does not start as this codec's do: not its file
            raise wrong_codec(path, head, compression, "jsonl") or InputError(
                f"{path}: cannot read: {exc.reason} (its first bytes are not a {compression} file's: is it another "
                "kind of file?)") from None  # (a few bytes of text: "ended before the end-of-stream marker" alone
            # said a gzip file was cut short)
        # (a file of the codec that breaks before its first line ends is one quarantined record too: the other
        # inputs of the run go on)
        exc.rest = rest[cut:]
        yield broken_tail(exc, file, first_pos + records, line), records
        return
    except (SourceError, OSError) as exc:
        raise InputError(str(exc) if isinstance(exc, SourceError) else f"{path}: cannot read: {exc}") from None
    seen.check(path)
