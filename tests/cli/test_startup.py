"""A fast start: what the CLI imports for --help, --version and 'rules --baskets' (fresh processes)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from bundlewise.cli.app import VERBS, app

HEAVY = ("torch", "transformers", "sentence_transformers", "pandas", "duckdb", "scipy", "matplotlib", "fastapi")
REPORT = f"import sys; print('LOADED:', *(m for m in {HEAVY!r} + ('rich',) if m in sys.modules))"


def _loaded(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code + "\n" + REPORT], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.strip().splitlines()[-1].removeprefix("LOADED:").split())


def test_importing_the_cli_loads_no_heavy_library_not_even_rich() -> None:
    assert _loaded("import bundlewise.cli.app") == set()


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["rules", "--help"], ["stats", "--help"]])
def test_help_and_version_load_no_heavy_library(argv: list[str]) -> None:
    code = (f"import sys\nfrom bundlewise.cli.app import app\nsys.argv = ['bundlewise', *{argv!r}]\n"
            "try:\n    app()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n")
    assert _loaded(code) - {"rich"} == set()  # help is rendered by rich


def test_rules_on_a_basket_file_loads_neither_pandas_nor_duckdb(tmp_path: Path) -> None:
    baskets = tmp_path / "small.txt"
    baskets.write_text("tea,milk\ntea,milk,jam\njam\ntea,milk\n", encoding="utf-8")
    out = tmp_path / "rules.csv"
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bundlewise.cli.app", "-q", "rules",
                           "--baskets", str(baskets), "--min-support", "0.5", "--min-confidence", "0.9",
                           "--output", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "bundlewise.mining.itemsets" in imported  # the check reads the import log, not an empty one
    # the rules stay arrays from the mining to the CSV; the basket file is read into lists, not Arrow
    heavy = {"pandas", "duckdb", "torch", "transformers", "scipy", "matplotlib", "fastapi", "pyarrow"}
    assert imported.isdisjoint(heavy), sorted(imported & heavy)
    assert out.read_text(encoding="utf-8").splitlines()[0] == "antecedent,consequent,support,confidence,lift,count"


def test_the_console_script_runs_rules_on_a_basket_file_without_typer_or_rich(tmp_path: Path) -> None:
    """``bundlewise rules --baskets`` (the console script, bundlewise.cli.entry) builds no Typer app and, on a
    pipe, draws with no rich: tests/cli/test_entry.py checks that it prints what the app prints."""
    baskets = tmp_path / "small.txt"
    baskets.write_text("tea,milk\ntea,milk,jam\njam\ntea,milk\n", encoding="utf-8")
    out = tmp_path / "rules.csv"
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "bundlewise.cli.entry", "rules", "--baskets",
                           str(baskets), "--min-support", "0.5", "--min-confidence", "0.9", "--output", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "bundlewise.mining.itemsets" in imported and "bundlewise.cli._rules" in imported
    heavy = {"typer", "click", "pydantic", "rich", "pyarrow", "pandas", "duckdb", "scipy", "torch"}
    assert {m.split(".")[0] for m in imported}.isdisjoint(heavy), sorted(imported & heavy)
    assert "2 rules from 4 baskets" in done.stdout and "reading small.txt" in done.stderr
    assert out.read_text(encoding="utf-8").splitlines()[1] == "{milk},{tea},0.75,1,1.33333333,3"


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


@pytest.mark.parametrize("verb", list(VERBS))
def test_the_listed_help_line_is_the_verbs_own(verb: str) -> None:
    """``bundlewise --help`` lists verbs without importing them, from VERBS: it must say what the verb says."""
    group = typer.main.get_command(app)
    command = group.get_command(typer.Context(group), verb)
    assert command is not None and command.name == verb
    assert _first_paragraph(VERBS[verb][1]) == _first_paragraph(command.help or "")
