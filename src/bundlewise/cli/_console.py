"""Shared console, rich progress adapter and the CLI's state (warehouse path, verbosity)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from bundlewise.ingest.warehouse import Warehouse


class _LazyConsole:
    """A rich ``Console`` made on first use: importing rich costs ~50 ms a verb that prints nothing
    (``--help``, ``--version``, a failing option) should not pay."""

    def __init__(self, **options: Any):
        self._options = options
        self._console: Console | None = None

    def _get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


# Piped output (CI logs, files) gets a fixed, readable width instead of rich's 80 columns.
PIPE_WIDTH = 150
_WIDTH = None if sys.stdout.isatty() else PIPE_WIDTH
_ERR_WIDTH = None if sys.stderr.isatty() else PIPE_WIDTH
out: Console = _LazyConsole(highlight=False, soft_wrap=True, width=_WIDTH)  # type: ignore[assignment]
err: Console = _LazyConsole(stderr=True, highlight=False, soft_wrap=True,  # type: ignore[assignment]
                            width=_ERR_WIDTH)


def plain_out() -> bool:
    """Whether ``out`` writes to a plain file (a pipe, a file): rich would add no styles at its fixed width."""
    from bundlewise.cli._plain import is_plain

    return _WIDTH is not None and is_plain(sys.stdout)


def echo(text: str, *, markup: bool = True) -> None:
    """``out.print(text, markup=markup)``, written directly when rich would print the text as it is."""
    from bundlewise.cli._plain import plain_text

    if plain_out() and plain_text(text, markup=markup):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        out.print(text, markup=markup)


@dataclass
class State:
    db: str = "bundlewise.duckdb"
    quiet: bool = False
    debug: bool = False
    adopt: bool = False
    verbose: int = 0


STATE = State()
log = logging.getLogger(__name__)

WarehouseMode = Literal["read", "write", "create"]
WAREHOUSE_MODES: tuple[str, ...] = ("read", "write", "create")


def open_warehouse(mode: WarehouseMode, path: str | Path | None = None) -> Warehouse:
    """The warehouse of ``--db`` (or ``path``), opened as the verb needs it.

    ``"read"``: read-only, shared with other readers (stats, rejects, bundles, report,
    complements, serve); a warehouse of an older schema is migrated once first, when it can be
    written. ``"write"``: must exist (mine, rules, embed, train). ``"create"``: created when
    missing (ingest, datasets load). ``--adopt`` applies to all.
    """
    from bundlewise.errors import SchemaOutdatedError, WarehouseError
    from bundlewise.ingest.warehouse import Warehouse

    if mode not in WAREHOUSE_MODES:
        raise ValueError(f"mode is {mode!r}; allowed: {WAREHOUSE_MODES}")
    target = STATE.db if path is None else path
    if mode != "read":
        return Warehouse(target, create=mode == "create", adopt=STATE.adopt)
    try:
        return Warehouse(target, read_only=True, adopt=STATE.adopt)
    except SchemaOutdatedError as exc:
        outdated = str(exc)
    # after an upgrade of bundlewise, reading verbs would otherwise fail until a writing verb ran
    # (migrated outside the except block: a failure here must not read as the outdated-schema error)
    log.warning("migrating warehouse %s to the current schema (once) before reading it", target)
    try:
        Warehouse(target, create=False, adopt=STATE.adopt).close()
    except WarehouseError as exc:
        raise WarehouseError(f"{outdated}; migrating it failed: {exc}") from None
    return Warehouse(target, read_only=True, adopt=STATE.adopt)


class _LazyRichHandler(logging.Handler):
    """Hands records to a rich ``RichHandler`` on stderr, made (and rich imported) at the first record."""

    def __init__(self) -> None:
        super().__init__()
        self._rich: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rich is None:
            from rich.logging import RichHandler

            self._rich = RichHandler(console=err._get(), show_path=False)  # type: ignore[attr-defined]
            self._rich.setFormatter(self.formatter)
        self._rich.emit(record)


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if not verbose else (logging.INFO if verbose == 1 else logging.DEBUG)
    if quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(message)s", handlers=[_LazyRichHandler()], force=True)


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
        from rich.progress import Progress

        self._progress = Progress(*_columns(), console=err._get(), disable=not enabled, transient=False)

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


class _PlainTask:
    """A task's counts and times, kept the way rich's ``Progress`` keeps them (a new total restarts the clock
    of the finish)."""

    def __init__(self, total: float | None):
        self.total = total
        self.completed = 0.0
        self.started = time.monotonic()
        self.finished: float | None = None

    def _check(self) -> None:
        if self.total is not None and self.completed >= self.total and self.finished is None:
            self.finished = time.monotonic() - self.started

    def advance(self, amount: float = 1.0) -> None:
        self.completed += amount
        self._check()

    def update(self, *, completed: float | None = None, total: float | None = None) -> None:
        if total is not None and total != self.total:
            self.total, self.finished = total, None
        if completed is not None:
            self.completed = completed
        self._check()


class PlainProgress:
    """Implements :class:`bundlewise.progress.Progress` for a stderr that is not a terminal, without rich.

    rich draws nothing there while tasks run and prints the final table once when it stops; this
    keeps the tasks and prints that table itself (the same characters, see :mod:`._plain`), or
    through rich when the table is not plain text.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.tasks: list[tuple[str, _PlainTask]] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._print()

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[_PlainTask]:
        t = _PlainTask(total)
        self.tasks.append((description, t))
        try:
            yield t
        finally:
            final = t.total or t.completed or 1
            t.update(total=final, completed=final)

    def _print(self) -> None:
        from bundlewise.cli._plain import progress_lines

        done = [(d, t.finished if t.finished is not None else time.monotonic() - t.started) for d, t in self.tasks]
        lines = progress_lines(done, _ERR_WIDTH) if _ERR_WIDTH is not None else None
        if lines is not None:
            sys.stderr.write("".join(line + "\n" for line in lines))
            sys.stderr.flush()
            return
        from rich.progress import Progress as Bars

        bars = Bars(*_columns(), console=err._get(), disable=True)  # type: ignore[attr-defined]
        for description, t in self.tasks:
            task_id = bars.add_task(description, total=t.total, completed=t.completed)
            task = bars._tasks[task_id]
            task.finished_time = t.finished
        err.print(bars.make_tasks_table(bars.tasks))


def _columns() -> tuple[Any, ...]:
    from rich.progress import BarColumn, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn()


def progress() -> RichProgress | PlainProgress:
    """Progress bars on stderr: rich's on a terminal; on a pipe or a file (rich would only print the final
    table) the same table without rich; nothing with ``--quiet``."""
    from bundlewise.cli._plain import is_plain

    if STATE.quiet or (_ERR_WIDTH is not None and is_plain(sys.stderr)):
        return PlainProgress(enabled=not STATE.quiet)
    return RichProgress()
