"""Terminal output shared by every command: one rich console, progress bars with rows/s, error lines."""

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

console = Console(stderr=True, highlight=False)


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
        TextColumn("[bold]{task.description:<28}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal and False,
        transient=False,
    )


@contextmanager
def progress_tracker(quiet: bool = False) -> Iterator[Any]:
    """Yields ``track(items, total, description)``: iterate items while a bar advances."""
    progress = make_progress(quiet)

    def track(items: Iterable[Any], total: int, description: str) -> Iterator[Any]:
        task = progress.add_task(description, total=total or None)
        for item in items:
            yield item
            advance = len(item) if isinstance(item, range) else 1
            progress.advance(task, advance)
        progress.update(task, completed=progress.tasks[task].total or progress.tasks[task].completed)

    with progress:
        yield track


def error(message: str, code: int = 2) -> "NoReturn":  # type: ignore[name-defined]
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    sys.exit(code)
