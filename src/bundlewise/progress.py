"""A tiny progress-reporting protocol the library talks to.

The library never draws anything itself: long steps call ``progress.task(...)`` and
advance it. The CLI passes a rich-based implementation; the default does nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class ProgressTask(Protocol):
    def advance(self, amount: float = 1.0) -> None: ...

    def update(self, *, completed: float | None = None, total: float | None = None) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: float | None = None) -> AbstractContextManager[ProgressTask]:
        """Open a task; the context manager closes it."""
        ...


class _NullTask:
    def advance(self, amount: float = 1.0) -> None:
        return None

    def update(self, *, completed: float | None = None, total: float | None = None) -> None:
        return None

    def __enter__(self) -> _NullTask:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class NullProgress:
    """Progress that reports nothing (the library default)."""

    def task(self, description: str, total: float | None = None) -> _NullTask:
        return _NullTask()


NULL_PROGRESS = NullProgress()
