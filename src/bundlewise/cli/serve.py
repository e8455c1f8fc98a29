"""``bundlewise serve``: the HTTP service (FastAPI + uvicorn) over the warehouse of ``--db``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from bundlewise.cli._console import STATE, err, open_warehouse


def serve_cmd(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8000; 0 picks a free one).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Processes (more than 1 needs --no-events).")]
    = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="Key for POST /v1/events and /admin/* "
                                                                  "(or BUNDLEWISE_API_KEY).")] = None,
    keyed_reads: Annotated[bool | None, typer.Option("--keyed-reads/--open-reads", help="Require the key on reads "
                                                                                        "too (default open).")]
    = None,
    model: Annotated[Path | None, typer.Option("--model", help="Pair-model checkpoint folder (bundlewise train).")]
    = None,
    plan: Annotated[Path | None, typer.Option("--plan", help="Bundle plan file from 'bundlewise bundles --output "
                                                             "plan.json' (or .csv).")] = None,
    events: Annotated[bool | None, typer.Option("--events/--no-events", help="Accept events (holds the "
                                                                             "warehouse's write lock) "
                                                                             "(default on).")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Ranking of stored statistics without a model "
                                                                "(default shrunk_lift).")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="Browser origin allowed "
                                                                                "(repeat; default none).")] = None,
    access_log: Annotated[bool | None, typer.Option("--access-log/--no-access-log", help="JSON line per request "
                                                                                        "on stderr.")] = None,
) -> None:
    """Serve complements, cart recommendations, bundle offers and the console; store events.

    Settings come from these flags, then BUNDLEWISE_SERVE_* variables (BUNDLEWISE_API_KEY, BUNDLEWISE_DB),
    then the defaults.
    """
    import uvicorn

    from bundlewise.serve.settings import SETTINGS_ENV, ServeSettings

    settings = ServeSettings.from_env(
        os.environ, db=STATE.db, host=host, port=port, workers=workers, api_key=api_key, keyed_reads=keyed_reads,
        model=None if model is None else str(model), plan=None if plan is None else str(plan), events=events,
        metric=metric, cors_origins=tuple(cors_origin) if cors_origin else None, access_log=access_log)
    _check_files(settings)
    # opened (and closed) here first, as every verb opens it: a file that is not a warehouse, a lock held
    # elsewhere or a schema to migrate is a message and exit 1 before a port is bound, and --adopt applies
    open_warehouse("write" if settings.events else "read", settings.db).close()
    _access_logging()
    err.print(f"serving {settings.db} on http://{settings.host}:{settings.port} "
              f"(events {'on' if settings.events else 'off: read-only'}; console at /, API docs at /docs)")
    # The writer thread hands the GIL back and forth with the event loop several times per commit (DuckDB releases
    # it while executing); at Python's default 5 ms switch interval each hand-back can stall a durable answer by up
    # to 5 ms, which is most of a 15 ms latency budget. 0.5 ms keeps those waits short (measured: durable select at
    # 300 req/s p50 31.5 -> 23.7 ms, p99 82 -> 51 ms, one A/B on a shared box; bench/README.md).
    sys.setswitchinterval(0.0005)
    common = {"host": settings.host, "port": settings.port, "access_log": False, "log_config": None,
              "timeout_graceful_shutdown": 30}
    if settings.workers > 1:
        os.environ[SETTINGS_ENV] = settings.to_json()  # each worker process builds its app from these
        uvicorn.run("bundlewise.serve.app:create_app_from_env", factory=True, workers=settings.workers, **common)
    else:
        from bundlewise.serve import create_app

        uvicorn.run(create_app(settings, opener=_open), **common)


def _open(settings: object, read_only: bool) -> object:
    """The service's warehouse, opened with the CLI's semantics (--adopt, migration before reading)."""
    return open_warehouse("read" if read_only else "write", settings.db)  # type: ignore[attr-defined]


def _check_files(settings: object) -> None:
    """Refuse before binding a port: a missing model or plan is a message, not a traceback later."""
    from bundlewise.errors import ConfigError

    model = settings.model  # type: ignore[attr-defined]
    if model is not None and not (Path(model) / "model.json").is_file():
        raise ConfigError(f"--model {model}: no pair-model checkpoint there (no model.json); train one with "
                          "'bundlewise train --output DIR' or leave out --model")
    plan = settings.plan  # type: ignore[attr-defined]
    if plan is not None and not Path(plan).is_file():
        raise ConfigError(f"--plan {plan} does not exist; write it with 'bundlewise bundles --output plan.json'")


def _access_logging() -> None:
    """Access lines and server messages as plain lines on stderr (JSON for the access log)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("bundlewise.serve.access", "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers = [handler]
        lg.setLevel(logging.INFO)
        lg.propagate = False
    for name in ("bundlewise.serve", "bundlewise.serve.app", "bundlewise.serve.events"):
        logging.getLogger(name).setLevel(logging.INFO)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
