"""Terminal output shared by every command: one rich console, progress bars with rows/s, error lines.

What a user gave (a path, an input's name, a column) is printed as given: put it in a ``rich.text.Text`` or print
with ``markup=False``, never into a markup string (``[/]`` in a name would be read as a tag); progress descriptions
and error messages are plain text, and the console replaces no emoji codes (``mydata:train:v2.jsonl`` stays)."""

from __future__ import annotations

import errno
import io
import os
import sys
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

# soft_wrap: a line is printed whole, never cut into lines at the console's width (piped, rich assumes 80 columns;
# COLUMNS=20 would put a path on four lines): a log or a pipe gets the accounting line and each path on one line,
# and a terminal wraps them on screen only. Tables and bars are still fitted to the width.
console = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


class RateColumn(ProgressColumn):
    """Items per second, from the task's elapsed time, in at most 5 characters (``845``, ``12.6k``, ``3.1M``)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("    - rows/s", style="progress.data.speed")
        return Text(f"{_short(task.completed / elapsed):>5} rows/s", style="progress.data.speed")


def _short(number: float) -> str:
    """``number`` in at most 5 characters: 845, 12.6k, 210k, 3.1M, 42.0G."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if number >= scale * 0.9995:
            value = number / scale
            return f"{value:.1f}{unit}" if value < 99.95 else f"{value:.0f}{unit}"
    return f"{number:.0f}"


def make_progress(quiet: bool = False) -> Progress:
    """Bars of one line each at 80 columns (a small terminal): the rate is short and no column wraps; on a narrower
    terminal cells are cut short ("…"), never wrapped. Drawn on a terminal only: piped or redirected (a log, CI),
    no one watches them move, and the summary that ends the command says what they would have."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold", markup=False,
                   table_column=Column(no_wrap=True, overflow="ellipsis")),
        BarColumn(bar_width=30),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        RateColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=False,
    )


@contextmanager
def progress_tracker(quiet: bool = False) -> Iterator[Any]:
    """Yields ``track(items, total, description)``: iterate items while a bar advances."""
    progress = make_progress(quiet)

    def track(items: Iterable[Any], total: int | None, description: str) -> Iterator[Any]:
        task = progress.add_task(description, total=total or None)
        for item in items:
            yield item
            progress.advance(task, _size(item))
        done = progress.tasks[task].total or progress.tasks[task].completed
        progress.update(task, total=done, completed=done)  # (a count not known ahead is known now: 3464/3464)

    with progress:
        try:
            yield track
        except BaseException:
            progress.live.transient = True  # an error line follows: leave no half-drawn bars above it
            if not progress.disable and not console.is_interactive:  # TERM=dumb: rich would end them with an empty line
                progress.live.stop()
                progress.disable = True
            raise


def print_table(table: Table) -> None:
    """Print ``table`` on the console: on a terminal, fitted to its width; piped or redirected (a log), whole, at
    its natural width, as no one reads it through a window there (rich would assume 80 columns and cut cells
    short with "…": a reason code, a path)."""
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(1 << 16), table).maximum
    # (console.print(width=...) is capped at the console's width: a console of the table's own width prints it)
    Console(file=console.file, width=max(natural, console.width), highlight=False, emoji=False).print(table)


def _size(item: Any) -> int:
    """How far one item moves a bar: a ``range`` its length, a batch or an Arrow array (or ``(batch, ...)``) its
    rows, else 1."""
    if isinstance(item, range):
        return len(item)
    if isinstance(item, tuple) and item:
        item = item[0]
    if hasattr(item, "num_rows"):
        return int(item.num_rows)
    if hasattr(item, "type") and hasattr(item, "__len__"):  # a pyarrow Array or ChunkedArray
        return len(item)
    return 1


def error(message: str, code: int = 2) -> "NoReturn":  # type: ignore[name-defined]
    """Print ``message`` as ``error: ...`` and exit with ``code``. A message of several problems (a config with
    two bad keys) is one ``error:`` line each, so every line of the output says what it is. Lines end at line
    feeds only: ``str.splitlines`` also cuts at characters a file name may hold (U+2028, form feed...)."""
    for line in message.rstrip("\r\n").split("\n"):
        console.print(Text.assemble(("error:", "bold red"), " ", _visible(line.rstrip("\r"))), soft_wrap=True)
    sys.exit(code)


def refuse_empty(option: str, value: str | None, what: str) -> Path | None:
    """``value`` as a path, or the one-line error (exit 2) when it is empty, for an option typed as text (a ``Path``
    option takes :func:`non_empty_path` as its parser instead): as a ``Path``, ``""`` is ``.``, and `tome train
    --run ""` wrote its run (config.yaml, checkpoints/, adapter/...) into the working folder, `tome export --out ""`
    its lora/, merged_16bit/ and gguf/. ``what``: what to give, with the option's default (``the run folder
    (default: runs/CONFIG, ...)``)."""
    if value is None:
        return None
    if not value:
        error(f"{option} is empty: give {what}")
    return Path(value)


def refuse_long_names(*given: tuple[str, str | os.PathLike | None]) -> None:
    """One line (exit 2) naming the path and its option when a name in the path, or the whole path, is longer than
    a file system allows (:func:`tomecraft.files.too_long`), before anything is read or written: the first look at
    it (a config read, a folder made) ended in an ``OSError: [Errno 36] File name too long`` traceback, or in a
    "the run stopped" of a run that never started. ``given``: (option, path) pairs; :func:`output_path` checks the
    paths a command writes, a command calls this for those it reads."""
    from tomecraft.files import too_long

    for option, path in given:
        if path is None:
            continue
        problem = too_long(path)
        if problem is not None:
            error(f"{os.fspath(path)}: {problem}; give {option} a shorter one")


def non_empty_path(value: Any) -> Path:
    """Typer ``parser`` of a path option typed ``Path``: the text as a ``Path``, an empty one refused as the option's
    one-line error (exit 2). A ``Path`` option turns ``""`` into ``.``, the working folder, before any callback can
    tell: `tome eval compare --out ""` wrote eval.json, eval.md and eval.html there. An option typed as text sees
    ``""`` as it is, and its command refuses it (:func:`refuse_empty`, with what its default is). The rest of what a
    written path is checked for, :func:`output_path` checks."""
    import typer

    if isinstance(value, Path):  # (a default, converted too)
        return value
    if not str(value):
        raise typer.BadParameter("is empty: give a folder")
    return Path(value)


def output_path(ctx: Any, param: Any, value: Any) -> Any:
    """Typer callback of every option or argument that names a file or folder the command writes (``--out``,
    ``--run``, ``--to``, the RUN of `tome export`, whose export goes into it): the path, with a leading ``~`` or
    ``~user`` expanded, or one line (exit 2) before any work where no folder could be made of it as meant:

    * a ``~user`` that names no home folder here (``~nosuchuser/out: no such user 'nosuchuser' ...``), where the
      command would have made a folder named ``~nosuchuser`` in the working folder;
    * a name of white space only (``" "``, ``out/ /x``): `tome curate -o " "` wrote its splits into a folder that
      no listing shows (a variable left empty inside quotes gives one);
    * a name, or the whole path, longer than a file system allows (:func:`refuse_long_names`): it was a traceback
      at the first look at the path, after the work before it;
    * a symbolic link that points back at itself (:func:`tomecraft.files.link_loop`): a traceback where the
      command resolved it.

    ``""`` is passed on as given: an option typed as text is refused by its command, which says what its default
    is (:func:`refuse_empty`); one typed ``Path`` never gets here with it (:func:`non_empty_path`). ``ctx`` and
    ``param``: typer passes them by position (``param`` names the option in the error)."""
    import typer

    from tomecraft.files import expand_output, link_loop

    if value is None or not os.fspath(value):
        return value
    text = os.fspath(value)
    label = _parameter_label(param)
    if text.startswith("~"):
        try:
            expanded = expand_output(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        value = str(expanded) if isinstance(value, str) else expanded
    if any(part.isspace() for part in Path(text).parts):
        error(f"{label} {text!r}: a name in this path is only white space, which no listing shows; give a visible "
              "name")
    refuse_long_names((label, value))
    loop = link_loop(value)
    if loop is not None:  # (the first resolve of it raised RuntimeError: Symlink loop)
        error(f"{label} {text}: {loop}; give another path")
    return value


def _parameter_label(param: Any) -> str:
    """How the command line names ``param``: an option by its long name (``--out``), an argument as its help does
    (``RUN``)."""
    if getattr(param, "param_type_name", None) == "argument":
        return param.metavar or param.name.upper()
    return next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])


def _visible(line: str) -> str:
    """``line`` with its control characters but tab shown as escapes (``\\r``, ``\\x1b``): a name that holds
    one (a file named with an escape sequence) is shown as it is named, never sent to the terminal to act on."""
    if line.isprintable():
        return line
    return "".join(c if c == "\t" or not unicodedata.category(c) == "Cc" else repr(c)[1:-1] for c in line)


# -- the process's standard streams ----------------------------------------------------------------------------

# 128 + SIGPIPE: the status a shell reports for a command whose reader went away (`seq 1e9 | head -1`)
CLOSED_PIPE_STATUS = 141


def prepare_streams() -> None:
    """Set up the standard streams of the `tome` process before a command writes (the console script calls it;
    tests call ``app`` on streams of their own):

    * a standard stream started closed (``tome ... >&-``) gets ``/dev/null`` on its descriptor, so no file the
      command opens takes the number and receives its output, and a stream that fails every write, so the
      output lost is an error (:func:`exit_if_output_failed`), not a silent success;
    * a reader that goes away ends the process quietly, whichever library was writing
      (:func:`exit_if_output_failed`);
    * a stream in an encoding that cannot write every character (``PYTHONIOENCODING=ascii``) shows the others
      as escapes (``\\xe9``), as Python's stderr does, instead of ending a command with a UnicodeEncodeError (the
      help's bullets, a path)."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        given = getattr(sys, name)
        raw: io.RawIOBase
        try:
            os.fstat(fd)
            raw = _WatchedFile(fd, name)
        except OSError:  # (closed: take the number before a file the command opens does)
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            raw = _ClosedStream(name)
        encoding = getattr(given, "encoding", None) or "utf-8"
        errors = getattr(given, "errors", None) or "strict"
        if not encoding.lower().replace("_", "-").startswith("utf") and errors == "strict":
            errors = "backslashreplace"
        if given is not None:
            given.flush()  # (kept as sys.__stdout__: never written again, never closed)
        setattr(sys, name, io.TextIOWrapper(io.BufferedWriter(raw), encoding=encoding, errors=errors,
                                            line_buffering=bool(getattr(given, "line_buffering", True)),
                                            write_through=bool(getattr(given, "write_through", False))))
    # rich ends the process with 1 on a broken pipe (and points stdout at /dev/null whichever stream broke);
    # its documented hook, for every console of the process (the help's is typer's): the quiet end above
    Console.on_broken_pipe = _end_on_closed_pipe  # type: ignore[method-assign]


# the standard streams whose writes failed ("stdout", "stderr"): a failed write is told apart from a failure of
# another file (a full disk under --out) by the stream it went to, not by its errno
_failed_streams: set[str] = set()


class _WatchedFile(io.FileIO):
    """A standard stream's descriptor that notes in ``_failed_streams`` a write that fails."""

    def __init__(self, fd: int, name: str) -> None:
        super().__init__(fd, "w", closefd=False)
        self.stream = name

    def write(self, data: Any) -> int | None:
        try:
            return super().write(data)
        except OSError:
            _failed_streams.add(self.stream)
            raise


class _ClosedStream(io.RawIOBase):
    """A standard stream the process was started without: every write fails as writing to a closed descriptor
    does (EBADF)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.stream = name

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        _failed_streams.add(self.stream)
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


def exit_if_output_failed(exc: OSError) -> None:
    """End the process when ``exc`` is a failed write to standard output or error; return otherwise (the caller
    re-raises it).

    * a reader that went away (``tome eval prompts | head -1``): the process ends quietly with 141, as a shell
      command killed by SIGPIPE does: no traceback, no message (there is no one to read it);
    * any other failure (``> /dev/full``, a closed stream): one ``error:`` line on stderr (when stderr is the
      stream that works) and exit 2, never a traceback and never a success with the output lost.

    A stream's failure is known from the stream (:func:`prepare_streams` watches their writes): an error of another
    file (a full disk under ``--out``) is no stream's, and returns."""
    if exc.errno == errno.EPIPE:  # (as Click: a broken pipe is the standard streams', whichever failed)
        _silence_streams()
        sys.exit(CLOSED_PIPE_STATUS)
    failed = _failed_streams
    if not failed:
        return
    _silence_streams(keep_stderr="stderr" not in failed)
    if "stderr" in failed:
        sys.exit(2)
    error(f"cannot write to standard output: {exc.strerror or type(exc).__name__}")


def _end_on_closed_pipe(self: Console) -> None:
    self.quiet = True
    exit_if_output_failed(BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)))


def _silence_streams(keep_stderr: bool = False) -> None:
    """Point the failed standard streams at ``/dev/null``: what is still written on the way out (the final flush,
    a library's message at exit) goes nowhere, instead of failing again as a traceback."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if name == "stderr" and keep_stderr:
            continue
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # (the old one's buffered bytes are dropped)
