"""The console script's fast ``rules --baskets`` path prints what the Typer app prints and exits as it does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from bundlewise.cli._errors import flag_names
from bundlewise.cli._rules import RULES_FLAGS
from bundlewise.cli.app import app
from bundlewise.cli.entry import DEFAULTS, parse_rules

BASKETS = "tea,milk\ntea,milk,jam\njam,scone\ntea,milk\nmilk , jam\n\ntea\n"


def _run(module: str, argv: list[str], cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "BUNDLEWISE_DB")}
    code = f"import sys; sys.argv[0] = 'bundlewise'; from {module} import main; main()"  # the same program name
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                          check=False, cwd=cwd, env=env)
    def same(text: str) -> str:  # the mining time and the log's clock differ from run to run
        text = re.sub(r"\[\d\d/\d\d/\d\d \d\d:\d\d:\d\d\]", "[time]", text)
        # rich leaves the clock column blank while the second has not changed: where a second ticks differs by run
        text = re.sub(r"(?m)^ {19}(?= (DEBUG|INFO|WARNING|ERROR) )", "[time]", text)
        return re.sub(r"\d+\.\d+ s\)", "… s)", text)

    return done.returncode, same(done.stdout), same(done.stderr)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "b.txt").write_text(BASKETS, encoding="utf-8")
    (tmp_path / "quoted.csv").write_bytes(b'"tea, green",milk\r\nmilk,"tea, green"\r\njam\r\n')
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9,milk\ntea,milk\n")
    (tmp_path / "wide.txt").write_text("水,茶\n水,茶\n水\n", encoding="utf-8")
    return tmp_path


FAST = [
    ["rules", "--baskets", "b.txt", "--min-support", "0.3", "--min-confidence", "0.6", "--output", "r.csv"],
    ["-q", "rules", "--baskets=b.txt", "--min-support=0.25", "--top", "1", "--max-len", "2"],
    ["rules", "--baskets", "b.txt", "-q", "--segment", "x", "--segment", "y", "--min-lift", "1.1", "--engine",
     "embedded"],
    ["rules", "--baskets", "b.txt", "--min-support", "0.9"],  # no rule: the hint
    ["rules", "--baskets", "b.txt", "--min-support", "2"],  # a library error names the flag
    ["rules", "--baskets", "b.txt", "--min-len", "3", "--max-len", "2"],
    ["rules", "--baskets", "missing.txt"],
    ["rules", "--baskets", "b.txt", "--output", "r.txt"],
    ["rules", "--baskets", "b.txt", "--memory-budget", "lots"],
    ["rules", "--baskets", "b.txt", "--since", "yesterday"],
    ["rules", "--baskets", "quoted.csv", "--min-support", "0.3", "--output", "q.parquet"],
    ["rules", "--baskets", "latin.txt"],
    ["--db", "w.duckdb", "--debug", "-v", "rules", "--baskets", "wide.txt", "--min-support", "0.5", "-v"],
]
FALLBACK = [
    ["rules", "--baskets", "b.txt", "--top", "abc"],  # click's usage error
    ["rules", "--baskets", "b.txt", "--min-len", "2.0"],  # typer accepts it, Python's int() would not
    ["rules", "--baskets", "b.txt", "--nope"],
    ["rules", "--baskets", "b.txt", "--engine", "hadoop"],
    ["rules", "--baskets", "b.txt", "extra"],
    ["rules", "--baskets", "b.txt", "--min-support"],
    ["rules", "--help"],
    ["-vv", "rules", "--baskets", "b.txt"],
    ["rules"],  # from the warehouse
    ["stats"],
    ["--version"],
]


@pytest.mark.slow
@pytest.mark.parametrize("argv", FAST + FALLBACK, ids=lambda a: " ".join(a)[:60])
def test_the_console_script_and_the_typer_app_answer_alike(files: Path, argv: list[str]) -> None:
    fast = _run("bundlewise.cli.entry", argv, files)
    for name in ("r.csv", "q.parquet"):
        if (files / name).exists():  # written again by the app: compare the files too
            (files / name).rename(files / f"fast-{name}")
    typer_app = _run("bundlewise.cli.app", argv, files)
    assert fast == typer_app
    for name in ("r.csv", "q.parquet"):
        if (files / f"fast-{name}").exists():
            assert (files / f"fast-{name}").read_bytes() == (files / name).read_bytes()


def test_the_fast_cases_take_the_fast_path_and_the_others_do_not() -> None:
    assert all(parse_rules(argv) is not None for argv in FAST)
    assert all(parse_rules(argv) is None for argv in FALLBACK)
    opts, root = parse_rules(FAST[-1])  # type: ignore[misc]
    assert root == {"db": "w.duckdb", "debug": True, "verbose": 1, "after": {"verbose": 1}}
    assert opts["baskets_file"] == Path("wide.txt") and opts["min_support"] == 0.5


def _rules_command() -> typer.core.TyperCommand:
    group = typer.main.get_command(app)
    return group.get_command(typer.Context(group), "rules")


def test_the_fast_defaults_and_flags_are_the_verbs() -> None:
    command = _rules_command()
    defaults = {p.name: p.default for p in command.params if not p.name.startswith("global_")}
    assert defaults.pop("engine", "embedded") == "embedded"  # --engine embedded is the fast path's only engine
    assert {k: (None if v == () else v) for k, v in defaults.items()} == {
        k: (Path(v) if isinstance(v, Path) else v) for k, v in DEFAULTS.items()}
    ours = {k: v for k, v in flag_names(RULES_FLAGS).items() if "_" in k}
    theirs = {k: v for k, v in flag_names(command).items() if "_" in k}
    assert ours == theirs
