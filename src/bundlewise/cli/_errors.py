"""How a failed verb ends: the message on stderr and the exit code, never a traceback (typer-free).

Shared by the Typer app (:class:`bundlewise.cli.app._Group`) and the fast entry point
(:mod:`bundlewise.cli.entry`), so both end a failure with the same bytes and the same code.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from typing import Any

from bundlewise.cli import _failures
from bundlewise.cli._console import STATE, err
from bundlewise.errors import BundlewiseError
from bundlewise.outputs import clean_terminal

EXIT_ERROR = 1
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

# Library messages name parameters (min_support); the CLI user typed flags (--min-support). Names of the
# invoked command's options are mapped from its own parameters; these are config fields spelled otherwise.
_FLAG_ALIASES = {"random_state": "--seed", "n_bootstrap": "--bootstrap", "non_product_codes": "--non-product",
                 "memory_budget": "--memory-budget", "half_life_days": "--half-life-days"}


def flag_names(command: Any = None) -> dict[str, str]:
    """Parameter name → the flag a user types, for ``command`` (a click command, or such a mapping already
    made) and the config aliases."""
    names = dict(_FLAG_ALIASES)
    if isinstance(command, Mapping):
        names.update(command)
        return names
    for param in getattr(command, "params", ()):
        longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
        if longs and param.name and not param.name.startswith("global_"):
            names[param.name] = longs[0]
    return names


def name_flags(message: str, command: Any = None) -> str:
    """``message`` with each snake_case parameter name (``min_support``) replaced by its flag (``--min-support``).

    Names already written as flags, followed by ``=`` (a Python keyword hint such as ``(min_support=)``)
    or without an underscore (ambiguous with English words: since, until, top) are left alone.

    >>> name_flags("random_state is -1; it must be >= 0 (random_state=)")
    '--seed is -1; it must be >= 0 (random_state=)'
    """
    names = {k: v for k, v in flag_names(command).items() if "_" in k}
    if not names:
        return message
    pattern = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True))
                         + r")(?![\w=])")
    return pattern.sub(lambda m: names[m.group(1)], message)


def report_failure(exc: BaseException, command: Any = None, verb: str | None = None) -> int:
    """Print what went wrong with the verb ``verb`` (whose flags ``command`` names) and return the exit code:
    1 for the user's input or the machine, 130 when interrupted, 70 for a bug in bundlewise."""
    if isinstance(exc, BundlewiseError):
        err.print("[bold red]error:[/] ", end="")
        message = name_flags(str(exc), command)
        err.print(clean_terminal(message), markup=False)  # messages quote values from the data
        return EXIT_ERROR
    if isinstance(exc, KeyboardInterrupt):
        err.print("interrupted; nothing was written by the unfinished step")
        return EXIT_INTERRUPTED
    hidden = _failures.user_error(exc)  # a user error that a failing clean-up replaced
    message = (name_flags(str(hidden), command) if hidden is not None
               else _failures.environment_message(exc, verb))  # type: ignore[arg-type]
    if message is not None:  # the user's input or the machine (disk, permissions, memory): not a bug
        if STATE.debug:
            traceback.print_exception(exc)
        err.print("[bold red]error:[/] ", end="")
        err.print(message, markup=False)
        if hidden is not None:  # say so: the later failure may still be a bug worth reporting
            later = str(exc).splitlines()[0] if str(exc) else ""
            err.print(f"(then, while cleaning up: {type(exc).__name__}: {later}; rerun with --debug for "
                      "the traceback)", markup=False)
        return EXIT_ERROR
    if STATE.debug:
        traceback.print_exception(exc)
    err.print(f"[bold red]internal error:[/] {type(exc).__name__}: ", end="")
    err.print(str(exc).splitlines()[0] if str(exc) else "", markup=False)
    err.print("this is a bug in bundlewise; rerun with --debug for the traceback and report it")
    return EXIT_INTERNAL
