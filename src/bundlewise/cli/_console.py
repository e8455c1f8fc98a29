"""Shared console, rich progress adapter and the CLI's state (warehouse path, verbosity)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

# Piped output (CI logs, files) gets a fixed, readable width instead of rich's 80 columns.
_WIDTH = None if sys.stdout.isatty() else 150
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 150)


@dataclass
class State:
    db: str = "bundlewise.duckdb"
    quiet: bool = False
    debug: bool = False


STATE = State()


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if not verbose else (logging.INFO if verbose == 1 else logging.DEBUG)
    if quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=err, show_path=False)],
                        force=True)


class _RichTask:
    def __init__(self, progress: Progress, task_id: int):
        self._progress = progress
        self._id = task_id

    def advance(self, amount: float = 1.0) -> None:
        self._progress.advance(self._id, amount)

    def update(self, *, completed: float | None = None, total: float | None = None) -> None:
        kwargs = {}
        if completed is not None:
            kwargs["completed"] = completed
        if total is not None:
            kwargs["total"] = total
        self._progress.update(self._id, **kwargs)


class RichProgress:
    """Implements :class:`bundlewise.progress.Progress` with rich progress bars on stderr."""

    def __init__(self, enabled: bool = True):
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), console=err, disable=not enabled, transient=False,
        )

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[_RichTask]:
        task_id = self._progress.add_task(description, total=total)
        try:
            yield _RichTask(self._progress, task_id)
        finally:
            t = self._progress.tasks[[x.id for x in self._progress.tasks].index(task_id)]
            self._progress.update(task_id, total=t.total or t.completed or 1, completed=t.total or t.completed or 1)


def progress() -> RichProgress:
    return RichProgress(enabled=not STATE.quiet)
