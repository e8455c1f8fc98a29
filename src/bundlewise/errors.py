"""The one error hierarchy of bundlewise.

Every error a user can cause derives from :class:`BundlewiseError` *and* from the
builtin it resembles, so ``except ValueError`` in user code keeps working.
Messages say what was received, what is allowed and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class BundlewiseError(Exception):
    """Base class of every error raised on purpose by bundlewise."""


class ConfigError(BundlewiseError, ValueError):
    """A parameter, option or configuration key is not allowed."""


class ResourceLimitError(ConfigError, MemoryError):
    """A job would need more memory (or itemsets) than its budget allows; refused before it starts.

    A :class:`ConfigError` too: the fix is always a setting (a size cap, a higher threshold, a
    larger budget), and the message names it.
    """


class NotFittedError(BundlewiseError, AttributeError):
    """An estimator method that needs ``fit()`` was called before it."""


class UnknownProductError(BundlewiseError, KeyError):
    """A product id is not in the warehouse or the fitted model."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class WarehouseError(BundlewiseError, RuntimeError):
    """The warehouse file cannot be opened, migrated or written."""


class SchemaOutdatedError(WarehouseError):
    """A warehouse opened read-only has an older schema; it must be opened for writing once to migrate."""


class SourceFileError(BundlewiseError, ValueError):
    """An input file cannot be read at all (missing, empty, wrong encoding, wrong columns)."""


class OutputError(BundlewiseError, ValueError):
    """An output path is refused (it would destroy a file we must not touch) or cannot be written."""


class CheckpointError(BundlewiseError, ValueError):
    """A pair-model checkpoint is damaged, from an incompatible version, or from other data."""


@dataclass(frozen=True)
class RowProblem:
    """One rejected input row: where it is, which column, what was there and why it is wrong."""

    source: str
    row_number: int
    column: str
    value: str | None
    reason: str

    def describe(self) -> str:
        shown = "<empty>" if self.value is None or self.value == "" else repr(_clip(self.value))
        where = f"{self.source} row {self.row_number:,}" if self.row_number > 0 else self.source
        return f"{where}: column {self.column!r} is {shown}; {self.reason}"


class DataValidationError(BundlewiseError, ValueError):
    """Input rows failed validation; nothing was written.

    Attributes
    ----------
    problems : list of RowProblem
        The first rejected rows (at most the reporting limit).
    n_rejected : int
        How many rows were rejected in total.
    """

    def __init__(self, message: str, problems: Sequence[RowProblem] = (), n_rejected: int = 0):
        super().__init__(message)
        self.problems = list(problems)
        self.n_rejected = n_rejected


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def allowed(values: Sequence[object]) -> str:
    """Render the allowed values of a check from the same list the code checks against."""
    return ", ".join(repr(v) for v in values)
