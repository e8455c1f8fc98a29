"""What rich prints to a file that is not a terminal, written without importing rich.

A ``bundlewise rules --baskets`` process whose output goes to a pipe or a file spends a good part of
its time importing rich to lay out a few lines. On such a stream rich writes no styles and no
cursor moves, so for simple text the result is plain: these functions write exactly rich's
characters (tests/cli/test_plain.py compares them with rich's own output) and answer ``None``
whenever rich would do more than that (markup, emoji codes, wide characters, a table wider than
the console), so the caller hands that text to rich instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import IO

_EMOJI = re.compile(r":\S*?:")  # rich replaces :name: codes, even in text printed with markup=False
BAR = "━" * 40  # a finished task's bar (rich's BarColumn: 40 cells wide)


def is_plain(stream: IO[str]) -> bool:
    """Whether rich writes to ``stream`` as to a plain file: not a terminal, no colour forced.

    The same test as rich's ``Console.is_terminal`` (``TTY_COMPATIBLE``, ``FORCE_COLOR``, ``isatty``).
    """
    try:
        if stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    return not os.environ.get("FORCE_COLOR")


def plain_text(text: str, *, markup: bool = True) -> bool:
    """Whether rich prints ``text`` (soft-wrapped) as it is: printable, no emoji code, no markup."""
    if not text.isprintable() or _EMOJI.search(text):
        return False
    return not markup or ("[" not in text and "\\" not in text)


def _cell(text: str) -> bool:
    """A table cell rich measures as one column per character and prints as it is."""
    return (text.isascii() or all(c.isascii() or c == "…" for c in text)) and plain_text(text, markup=False)


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[str] | None:
    """The lines of ``rich.table.Table(*headers, box=None, pad_edge=False)`` holding ``rows`` (text cells,
    left-justified), or None when rich would lay it out otherwise (wider than ``width``, odd cells)."""
    cells = [list(headers), *map(list, rows)]
    if any(len(r) != len(headers) for r in cells) or not all(_cell(c) for r in cells for c in r):
        return None
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if sum(widths) + 2 * (len(widths) - 1) > width:
        return None
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]


def elapsed(seconds: float) -> str:
    """rich's ``TimeElapsedColumn`` text: whole seconds as ``H:MM:SS``."""
    return str(timedelta(seconds=max(0, int(seconds))))


def progress_lines(tasks: Sequence[tuple[str, float]], width: int) -> list[str] | None:
    """The final table a non-interactive rich ``Progress`` (spinner, description, bar, percentage, elapsed)
    prints when it stops, every task finished: ``(description, elapsed seconds)`` each, or None."""
    rows = [(d, elapsed(s)) for d, s in tasks]
    if not rows:
        return [""]  # a table without rows: rich still ends the (empty) display with a line end
    if not all(plain_text(d) and d.isascii() for d, _ in rows):
        return None
    d_width = max((len(d) for d, _ in rows), default=0)
    t_width = max((len(t) for _, t in rows), default=0)
    if 1 + 1 + d_width + 1 + len(BAR) + 1 + 4 + 1 + t_width > width:
        return None  # rich would wrap the descriptions
    return [f"  {d.ljust(d_width)} {BAR} 100% {t.ljust(t_width)}" for d, t in rows]
