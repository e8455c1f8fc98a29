"""The ``bundlewise`` console script: ``rules --baskets FILE`` starts without the Typer app.

Building the Typer app (typer, click, pydantic) and rich costs more than reading and mining a
typical basket file, so a command line that only sets options ``rules --baskets`` knows is parsed
here, by the rules click applies, and run by the function the Typer verb runs
(:func:`bundlewise.cli._rules.run_rules`) with the same error handling
(:func:`bundlewise.cli._errors.report_failure`). Anything else — another verb, ``--help``, an
unknown or malformed option, a value click would refuse — goes to the Typer app untouched, which
prints its own usage errors. tests/cli/test_entry.py runs both on the same command lines and
compares their output and exit codes.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bundlewise.config import DEFAULT_MEMORY_BUDGET, RulesConfig

# Numbers in the plain spellings on which Python and typer's (pydantic's) conversion agree; any other
# spelling (' 3', '1.0' for an integer, 'nan') is converted, or refused, by the app itself.
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError(text)
    return float(text)


_RULES = RulesConfig()
# ``rules`` options: flag -> (parameter, conversion); the defaults are those of the Typer verb
_VALUES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--min-support": ("min_support", _float), "--min-confidence": ("min_confidence", _float),
    "--min-lift": ("min_lift", _float), "--min-len": ("min_len", _int), "--max-len": ("max_len", _int),
    "--output": ("output", Path), "--baskets": ("baskets_file", Path), "--since": ("since", str),
    "--until": ("until", str), "--top": ("top", _int), "--memory-budget": ("memory_budget", str),
}
_MULTIPLE = {"--segment": "segment", "--store": "store"}
DEFAULTS: dict[str, Any] = {
    "min_support": _RULES.min_support, "min_confidence": _RULES.min_confidence, "min_lift": _RULES.min_lift,
    "min_len": _RULES.min_len, "max_len": _RULES.max_len, "output": None, "baskets_file": None, "segment": None,
    "store": None, "since": None, "until": None, "top": 10, "memory_budget": f"{DEFAULT_MEMORY_BUDGET / 2**30:g}GiB",
}
_FLAGS = {"-q": "quiet", "--quiet": "quiet", "--debug": "debug", "--adopt": "adopt"}
_COUNTS = {"-v", "--verbose"}
_PATHS = {"output", "baskets_file", "db"}


def _unreadable(value: str) -> bool:
    """click's ``Path(readable=True)`` refuses an existing path that cannot be read (and '' is odd): let it."""
    return value == "" or (os.path.exists(value) and not os.access(value, os.R_OK))


def _globals(args: list[str], i: int, into: dict[str, Any]) -> int | None:
    """Parse the root option at ``args[i]`` into ``into``; the index after it, or None when it is not one."""
    arg = args[i]
    if arg in _FLAGS:
        into[_FLAGS[arg]] = True
        return i + 1
    if arg in _COUNTS:
        into["verbose"] = into.get("verbose", 0) + 1
        return i + 1
    if arg == "--db" or arg.startswith("--db="):
        value = arg[5:] if arg.startswith("--db=") else (args[i + 1] if i + 1 < len(args) else None)
        if value is None or _unreadable(value):
            return None
        into["db"] = value
        return i + (1 if arg.startswith("--db=") else 2)
    return None


def parse_rules(argv: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(rules options, root options)`` of a ``bundlewise … rules --baskets FILE …`` command line, or None
    when it is anything the Typer app should handle (root options given after the verb are returned
    apart, in ``root["after"]``: they override those before it, as in the app)."""
    args = list(argv)
    root: dict[str, Any] = {}
    i = 0
    while i < len(args) and args[i] != "rules":
        nxt = _globals(args, i, root)
        if nxt is None:
            return None
        i = nxt
    if i >= len(args):
        return None
    opts: dict[str, Any] = {}
    after: dict[str, Any] = {}
    i += 1
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if flag == "--engine":  # the default, embedded, is this process; spark is the app's
            value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
            if value != "embedded":
                return None
            i += 1 if eq else 2
            continue
        if flag in _VALUES or flag in _MULTIPLE:
            if eq:
                value, i = inline, i + 1
            elif i + 1 < len(args):
                value, i = args[i + 1], i + 2
            else:
                return None  # click: "requires an argument"
            if flag in _MULTIPLE:
                opts.setdefault(_MULTIPLE[flag], []).append(value)
                continue
            name, convert = _VALUES[flag]
            if name in _PATHS and _unreadable(value):
                return None
            try:
                opts[name] = convert(value)
            except ValueError:
                return None  # click says which value is not a number
            continue
        nxt = _globals(args, i, after)
        if nxt is None:
            return None  # --help, an unknown option, an extra argument: the app's business
        i = nxt
    if opts.get("baskets_file") is None:
        return None  # rules from a warehouse: DuckDB is loaded anyway
    root["after"] = after
    return {**DEFAULTS, **opts}, root


def _apply(root: dict[str, Any]) -> None:
    """Set the CLI state as the root callback, then the root options given after the verb, would."""
    from bundlewise.cli import _console

    state = _console.STATE
    env_db = os.environ.get("BUNDLEWISE_DB")
    state.db = str(Path(root.get("db", env_db or "bundlewise.duckdb")))
    state.quiet, state.debug, state.adopt = (bool(root.get(k)) for k in ("quiet", "debug", "adopt"))
    state.verbose = int(root.get("verbose", 0))
    _console.setup_logging(state.verbose, state.quiet)
    for key, value in root["after"].items():
        if key == "db":
            state.db = str(Path(value))
        else:
            setattr(state, key, value)
        _console.setup_logging(state.verbose, state.quiet)


def main() -> None:
    """Console-script entry point: ``rules --baskets`` here, everything else through the Typer app."""
    parsed = parse_rules(sys.argv[1:])
    env_db = os.environ.get("BUNDLEWISE_DB")
    if parsed is None or (env_db is not None and _unreadable(env_db)):
        from bundlewise.cli.app import main as app_main

        app_main()
        return
    opts, root = parsed
    from bundlewise.cli._errors import report_failure
    from bundlewise.cli._rules import RULES_FLAGS, run_rules

    _apply(root)
    from bundlewise.cli._console import STATE

    try:
        run_rules(**opts, db=STATE.db)
    except (Exception, KeyboardInterrupt) as exc:
        sys.exit(report_failure(exc, RULES_FLAGS, "rules"))


if __name__ == "__main__":
    main()
