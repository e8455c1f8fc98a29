"""The ``bundlewise`` command: root options, error handling and sub-commands."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bundlewise._version import __version__
from bundlewise.cli import _console, _failures
from bundlewise.cli._console import STATE, err
from bundlewise.errors import BundlewiseError
from bundlewise.outputs import clean_terminal

EXIT_ERROR = 1
EXIT_INTERNAL = 70


class _Group(TyperGroup):
    """Turns library errors into a clear message and a non-zero exit code, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except BundlewiseError as exc:
            err.print("[bold red]error:[/] ", end="")
            err.print(clean_terminal(str(exc)), markup=False)  # messages quote values from the data
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            err.print("interrupted; nothing was written by the unfinished step")
            raise typer.Exit(130) from None
        except Exception as exc:  # an internal bug: say so, keep the traceback behind --debug
            if type(exc).__module__.startswith(("typer", "click")):
                raise  # usage errors: typer prints them itself
            hidden = _failures.user_error(exc)  # a user error that a failing clean-up replaced
            message = str(hidden) if hidden is not None else _failures.environment_message(
                exc, getattr(ctx, "invoked_subcommand", None))
            if message is not None:  # the user's input or the machine (disk, permissions, memory): not a bug
                if STATE.debug:
                    traceback.print_exc()
                err.print("[bold red]error:[/] ", end="")
                err.print(message, markup=False)
                if hidden is not None:  # say so: the later failure may still be a bug worth reporting
                    later = str(exc).splitlines()[0] if str(exc) else ""
                    err.print(f"(then, while cleaning up: {type(exc).__name__}: {later}; rerun with --debug for "
                              "the traceback)", markup=False)
                raise typer.Exit(EXIT_ERROR) from None
            if STATE.debug:
                traceback.print_exc()
            err.print(f"[bold red]internal error:[/] {type(exc).__name__}: ", end="")
            err.print(str(exc).splitlines()[0] if str(exc) else "", markup=False)
            err.print("this is a bug in bundlewise; rerun with --debug for the traceback and report it")
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    cls=_Group,
    name="bundlewise",
    help="Priced product bundles and frequently-bought-together recommendations from orders and catalog text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bundlewise {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[Path, typer.Option("--db", envvar="BUNDLEWISE_DB", help="Warehouse file (DuckDB).",
                                     show_default=True)] = Path("bundlewise.duckdb"),
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars, errors only.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")] = False,
    adopt: Annotated[bool, typer.Option("--adopt", help="Accept a --db DuckDB file that is not a bundlewise "
                                                        "warehouse and add the bundlewise tables to it.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Priced product bundles and frequently-bought-together recommendations."""
    STATE.db = str(db)
    STATE.quiet = quiet
    STATE.debug = debug
    STATE.adopt = adopt
    _console.setup_logging(verbose, quiet)


def _register() -> None:
    from bundlewise.cli import datasets, evaluate, ingest, mine, pairs, stats, text

    app.add_typer(ingest.app, name="ingest")
    app.add_typer(datasets.app, name="datasets")
    stats.register(app)
    mine.register(app)
    text.register(app)
    evaluate.register(app)
    pairs.register(app)
    from bundlewise.cli import bundles as bundles_cli  # noqa: I001 (kept apart: one line per verb group owner)
    bundles_cli.register(app)
    from bundlewise.cli import serve as serve_cli  # noqa: I001 (the HTTP service)
    serve_cli.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
