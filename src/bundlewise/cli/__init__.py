"""Command-line interface (typer). Commands parse options, build a config and call the library."""
