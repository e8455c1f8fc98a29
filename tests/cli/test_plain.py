"""Text written without rich on a pipe is the text rich itself writes there (tables, progress, lines)."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from bundlewise.cli import _console
from bundlewise.cli._console import PIPE_WIDTH, PlainProgress, RichProgress, _columns
from bundlewise.cli._plain import is_plain, plain_text, progress_lines, table_lines


def _console_file() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, highlight=False, soft_wrap=True, width=PIPE_WIDTH), buf


def _rich_table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    console, buf = _console_file()
    t = Table(*headers, box=None, pad_edge=False)
    for column in t.columns[:2]:
        column.no_wrap = True
    for row in rows:
        t.add_row(*(Text(c) for c in row))
    console.print(t)
    return buf.getvalue()


HEADERS = ("antecedent", "consequent", "support", "confidence", "lift", "count")
TABLES = [
    [["{22917, 22918}", "{22916}", "0.010267", "0.9442", "78.7738", "203"],
     ["{a}", "{b}", "0.5", "1.0000", "1.3333", "1,203"], ["{[bold]x[/]}", "{\\}", "1", "1", "1", "1"]],
    [["{85123A WHITE HANGING HEART…, 22423}", "{x}", "0.1", "0.2", "0.3", "4"]],
    [["{" + ", ".join(f"p{i}" for i in range(6)) + "}", "{q}", "0.000100", "0.5000", "12.0000", "7"]],
    [],
]


@pytest.mark.parametrize("rows", TABLES)
def test_a_plain_table_is_richs_table(rows: list[list[str]]) -> None:
    lines = table_lines(HEADERS, rows, PIPE_WIDTH)
    assert lines is not None
    assert "".join(line + "\n" for line in lines) == _rich_table(HEADERS, rows)


@pytest.mark.parametrize("cell", ["水" * 3, "x" * 160, ":thumbs_up:", "tab\there"])
def test_tables_rich_lays_out_otherwise_are_left_to_rich(cell: str) -> None:
    assert table_lines(HEADERS, [[cell, "{b}", "0.5", "1", "1", "1"]], PIPE_WIDTH) is None


@pytest.mark.parametrize("text", ["779 rules from 19,773 baskets and 3,908 products (support >= 0.01 = 198 baskets, "
                                  "confidence >= 0.5; 0.24 s)", "rules by length: 2: 251, 3: 528",
                                  "wrote /tmp/x/rules.csv", "no itemset of 2 products ⇒ reaches --min-support 0.9"])
def test_plain_lines_print_as_rich_prints_them(text: str) -> None:
    assert plain_text(text)
    for markup in (True, False):
        console, buf = _console_file()
        console.print(text, markup=markup)
        assert buf.getvalue() == text + "\n"


@pytest.mark.parametrize("text", ["a :smile: b", "[bold]x[/]", "a\\[b", "bell\x07", "0:00:00 at 10:00:00"])
def test_lines_rich_would_change_are_not_plain(text: str) -> None:
    assert not plain_text(text)


def _run_tasks(bars: object, tasks: list[tuple[str, float | None]]) -> None:
    with bars:  # type: ignore[attr-defined]
        for description, total in tasks:
            with bars.task(description, total=total) as task:  # type: ignore[attr-defined]
                if total:
                    task.update(completed=total / 2)
                    task.advance(total / 2)
                else:
                    task.advance(3)


TASKS = [("reading online_retail_baskets.txt", 3_154_077.0), ("counting frequent pairs", None),
         ("counting itemsets of length 3", None), ("rules", 0.0)]


@pytest.mark.parametrize("tasks", [TASKS, TASKS[1:2], [("x" * 130, None), ("short", 5.0)], []])
def test_plain_progress_prints_richs_final_table(tasks: list[tuple[str, float | None]], capsys) -> None:
    assert is_plain(sys.stderr) and _console._ERR_WIDTH == PIPE_WIDTH  # pytest captures stderr: not a terminal
    _run_tasks(RichProgress(), tasks)
    rich_text = capsys.readouterr().err
    _run_tasks(PlainProgress(), tasks)
    assert capsys.readouterr().err == rich_text
    assert rich_text.count("100%") == len(tasks)


def test_progress_lines_match_a_rich_progress_on_its_own_console() -> None:
    console, buf = _console_file()
    with Progress(*_columns(), console=console) as bars:
        for description in ("reading b.txt", "rules"):
            task = bars.add_task(description, total=10)
            bars.update(task, completed=10)
    lines = progress_lines([("reading b.txt", 0.0), ("rules", 0.2)], PIPE_WIDTH)
    assert lines is not None and buf.getvalue() == "".join(line + "\n" for line in lines)
    assert progress_lines([("[red]x", 0.0)], PIPE_WIDTH) is None  # markup: rich's


def test_quiet_progress_prints_nothing(capsys) -> None:
    _run_tasks(PlainProgress(enabled=False), TASKS)
    assert capsys.readouterr().err == ""


def test_a_terminal_or_forced_colour_is_not_plain(monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert not is_plain(Tty())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not is_plain(io.StringIO())
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert is_plain(io.StringIO())
