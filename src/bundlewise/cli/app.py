"""The ``bundlewise`` command: root options, error handling and sub-commands."""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from bundlewise._version import __version__
from bundlewise.cli import _console
from bundlewise.cli._console import STATE
from bundlewise.cli._errors import EXIT_ERROR, EXIT_INTERNAL, flag_names, name_flags, report_failure
from bundlewise.errors import BundlewiseError

__all__ = ["EXIT_ERROR", "EXIT_INTERNAL", "VERBS", "app", "flag_names", "main", "name_flags"]


# Every verb, in the order the data flows through them (the order of ``bundlewise --help``): the module that
# defines it and its one-line help. A verb's module (and what it imports: DuckDB, pandas, torch …) is
# imported only when that verb runs or shows its own help; tests/cli/test_startup.py checks the help lines
# against the verbs' docstrings.
VERBS: dict[str, tuple[str, str]] = {
    "datasets": ("bundlewise.cli.datasets", "Public datasets bundlewise knows how to load."),
    "ingest": ("bundlewise.cli.ingest", "Load orders, products or events from CSV/TSV/Parquet/JSONL (gzip too)."),
    "stats": ("bundlewise.cli.stats", "Row counts, date range, basket sizes, top products and the share of "
                                      "rejected rows."),
    "rejects": ("bundlewise.cli.stats", "Show or export rows kept by --on-error quarantine (file, row, column, "
                                        "value, reason)."),
    "mine": ("bundlewise.cli.mine", "Exact co-purchase statistics of every product pair (+ frequent itemsets), "
                                    "stored in the warehouse."),
    "rules": ("bundlewise.cli.mine", "Association rules X ⇒ {y} with arules semantics, from the warehouse or a "
                                     "basket file."),
    "embed": ("bundlewise.cli.text", "Embed every product's text with a pre-trained encoder; re-runs encode only "
                                     "new or changed texts."),
    "evaluate": ("bundlewise.cli.evaluate", "Tune every model on validation, score it on test: Recall@10/20, "
                                            "NDCG@10, MRR, coverage, popularity bias, for warm and cold-start "
                                            "products, with 95 % bootstrap intervals."),
    "train": ("bundlewise.cli.pairs", "Train the pair model S_ij on every basket of the warehouse and save a "
                                      "checkpoint."),
    "train-ranker": ("bundlewise.cli.pairs", "Train the second-stage ranker (LightGBM over every evidence, warm/cold "
                                             "gate) on every basket and save it."),
    "complements": ("bundlewise.cli.pairs", "Best partners of a product (or of a product described only by "
                                            "--text), with their evidence."),
    "bundles": ("bundlewise.cli.bundles", "Priced bundles to run: discount, expected attach rates and incremental "
                                          "margin, evidence and why."),
    "report": ("bundlewise.cli.bundles", "An HTML report of the bundle plan: what to run, what was left out and why, "
                                         "curves, elasticities."),
    "serve": ("bundlewise.cli.serve", "Serve complements, cart recommendations, bundle offers and the console; "
                                      "store events."),
    "offers": ("bundlewise.cli.offers", "Off-policy estimates of offer policies on the decision log; simulated logs."),
}
_GROUPS = ("datasets", "ingest")  # verbs with sub-verbs: their module's ``app`` is a Typer
GLOBAL_PANEL = "Global options (also accepted before the verb)"

_INVOKED: dict[str, Any] = {}  # the leaf command being run (set while its options are parsed)


def _apply_global(ctx: Any, param: Any, value: Any) -> Any:
    """A root option given after the verb (``bundlewise stats --db x.duckdb``) acts as if given before it."""
    from typer._click.core import ParameterSource

    _INVOKED["command"] = ctx.command
    if ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
        return value
    key = param.name.removeprefix("global_")
    if key == "db":
        STATE.db = str(value)
    elif key == "verbose":
        STATE.verbose = int(value)
    else:
        setattr(STATE, key, bool(value))
    _console.setup_logging(STATE.verbose, STATE.quiet)
    return value


def _with_globals(command: Any, root_params: list[Any]) -> Any:
    """Adds the root options (but --version) to ``command`` and, for a group, to each of its sub-verbs."""
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        for sub in subcommands.values():
            _with_globals(sub, root_params)
        return command
    taken = {o for p in command.params for o in getattr(p, "opts", ())}
    for root_param in root_params:
        if root_param.name == "version" or taken & set(root_param.opts):
            continue
        p = copy.copy(root_param)
        p.name = f"global_{root_param.name}"
        p.expose_value = False
        p.envvar = None  # the variable is read once, by the root
        p.show_default = False
        p.callback = _apply_global
        p.rich_help_panel = GLOBAL_PANEL
        command.params.append(p)
    return command


def _plain_flags(command: Any) -> Any:
    """Boolean flags and counters show no ``<bool>`` / ``<int>`` value in --help: they take none."""
    from typer._click import Context

    help_option = command.get_help_option(Context(command))  # made once per command, cached by it
    for param in [*getattr(command, "params", ()), *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_bool_flag", False) or getattr(param, "count", False):
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)
    return command


def _load_verb(name: str) -> Any:
    """The click command of verb ``name``, built from its module's Typer definitions."""
    module = importlib.import_module(VERBS[name][0])
    holder = typer.Typer(rich_markup_mode="rich", add_completion=False, pretty_exceptions_enable=False)
    if name in _GROUPS:
        holder.add_typer(module.app, name=name)
    else:
        module.register(holder)
    return typer.main.get_group(holder).commands[name]


class _Group(TyperGroup):
    """Verbs loaded when used; library errors turned into a clear message and an exit code, never a traceback."""

    _listing = False  # True while the root --help lists the verbs: their modules need not be imported

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        _plain_flags(self)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(VERBS) + [name for name in self.commands if name not in VERBS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in VERBS:
            return self.commands.get(cmd_name)
        if self._listing:
            return typer.core.TyperCommand(cmd_name, help=VERBS[cmd_name][1])
        command = _plain_flags(_with_globals(_load_verb(cmd_name), self.params))
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if not isinstance(exc, (BundlewiseError, KeyboardInterrupt)) and \
                    type(exc).__module__.startswith(("typer", "click")):
                raise  # usage errors: typer prints them itself
            code = report_failure(exc, _INVOKED.get("command"), getattr(ctx, "invoked_subcommand", None))
            raise typer.Exit(code) from None


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
    STATE.verbose = verbose
    _console.setup_logging(verbose, quiet)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
