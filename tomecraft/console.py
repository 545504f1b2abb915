"""Terminal output shared by every command: one rich console, progress bars with rows/s, error lines.

What a user gave (a path, an input's name, a column) is printed as given: put it in a ``rich.text.Text`` or print
with ``markup=False``, never into a markup string (``[/]`` in a name would be read as a tag); progress descriptions
and error messages are plain text, and the console replaces no emoji codes (``mydata:train:v2.jsonl`` stays)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
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
from rich.text import Text

console = Console(stderr=True, highlight=False, emoji=False)


class RateColumn(ProgressColumn):
    """Items per second, from the task's elapsed time."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("      - rows/s", style="progress.data.speed")
        return Text(f"{task.completed / elapsed:>9,.0f} rows/s", style="progress.data.speed")


def make_progress(quiet: bool = False) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<28}", style="bold", markup=False),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
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
        progress.update(task, completed=progress.tasks[task].total or progress.tasks[task].completed)

    with progress:
        try:
            yield track
        except BaseException:
            progress.live.transient = True  # an error line follows: leave no half-drawn bars above it
            raise


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
    two bad keys) is one ``error:`` line each, so every line of the output says what it is."""
    for line in message.splitlines() or [""]:
        console.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True)
    sys.exit(code)
