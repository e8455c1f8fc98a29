"""Typed settings of the service: defaults, environment variables and command-line flags.

Precedence, decided here once: **command-line flags > environment > defaults**. The environment
is read only by :meth:`ServeSettings.from_env` (the library below never reads it):
``BUNDLEWISE_DB`` and ``BUNDLEWISE_API_KEY`` keep the names the rest of bundlewise uses, every other
setting is ``BUNDLEWISE_SERVE_<NAME>`` (``BUNDLEWISE_SERVE_PORT=8080``). An unknown
``BUNDLEWISE_SERVE_*`` variable or key is an error, never ignored.

Examples
--------
>>> s = ServeSettings.from_env({"BUNDLEWISE_SERVE_PORT": "8080"}, keyed_reads=True)
>>> s.port, s.keyed_reads, s.max_body_bytes
(8080, True, 1000000)
>>> ServeSettings.from_env({"BUNDLEWISE_SERVE_PROT": "1"})
Traceback (most recent call last):
...
bundlewise.errors.ConfigError: unknown environment variable(s) 'BUNDLEWISE_SERVE_PROT'; ...
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError, allowed
from bundlewise.mining.stored import STORED_METRICS

ENV_PREFIX = "BUNDLEWISE_SERVE_"
# settings whose variables keep the project-wide names
ENV_NAMES = {"db": "BUNDLEWISE_DB", "api_key": "BUNDLEWISE_API_KEY"}
SETTINGS_ENV = "BUNDLEWISE_SERVE_SETTINGS"  # JSON of every setting: how --workers N hands them to each worker


@dataclass(frozen=True)
class ServeSettings(_ConfigBase):
    """Every setting of ``bundlewise serve`` / :func:`bundlewise.serve.create_app`.

    Parameters
    ----------
    db : str
        The warehouse. With ``events`` the server holds DuckDB's only write connection.
    host, port, workers
        Where uvicorn listens; ``workers > 1`` needs ``events=False`` (one DuckDB writer).
    api_key : str, optional
        Required (``X-API-Key`` or ``Authorization: Bearer``) on ``POST /v1/events`` and
        ``/admin/*``; without one those answer 401 to everybody (they are never open).
    keyed_reads : bool
        Also require the key on every read endpoint (default: reads are open).
    model : str, optional
        A pair-model checkpoint folder (``bundlewise train --output``).
    plan : str, optional
        A bundle plan file written by ``bundlewise bundles --output plan.json`` (or ``.csv``).
        The plan is not computed at start-up: it takes minutes, and the shop serves the plan its
        merchandiser approved; ``POST /admin/reload`` picks up a new file.
    events : bool
        Accept events (``POST /v1/events``); False opens the warehouse read-only.
    metric : str
        How stored co-purchase statistics rank partners when no model is trained.
    max_body_bytes, max_events, max_items, max_k
        Request limits: body size (413 beyond), events per request, cart items, partners asked.
    queue_size : int
        Event requests waiting for the writer; beyond it 503 with ``Retry-After``.
    writer_batch : int
        Events per transaction at most.
    cors_origins : tuple of str
        Origins allowed to call from a browser (default none: CORS closed).
    access_log : bool
        One JSON line per request on the ``bundlewise.serve.access`` logger.
    """

    _name: ClassVar[str] = "serve setting"

    db: str = "bundlewise.duckdb"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_key: str | None = None
    keyed_reads: bool = False
    model: str | None = None
    plan: str | None = None
    events: bool = True
    metric: str = "shrunk_lift"
    max_body_bytes: int = 1_000_000
    max_events: int = 1000
    max_items: int = 100
    max_k: int = 100
    queue_size: int = 1024
    writer_batch: int = 20_000
    cors_origins: tuple[str, ...] = ()
    access_log: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"port is {self.port!r}; it must be an integer in 0..65535")
        for name in ("workers", "max_body_bytes", "max_events", "max_items", "max_k", "queue_size", "writer_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} is {value!r}; it must be an integer >= 1")
        if self.metric not in STORED_METRICS:
            raise ConfigError(f"metric is {self.metric!r}; allowed metrics are {allowed(STORED_METRICS)}")
        if self.workers > 1 and self.events:
            raise ConfigError(f"workers is {self.workers} but events are on: DuckDB allows one writer process; "
                              "use --workers 1, or --no-events to serve read-only from several workers")
        if self.api_key is not None and len(self.api_key) < 8:
            raise ConfigError("api_key is shorter than 8 characters; use a long random key "
                              "(python -c 'import secrets; print(secrets.token_urlsafe(24))')")
        if not isinstance(self.cors_origins, tuple):
            object.__setattr__(self, "cors_origins", tuple(self.cors_origins))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Self:
        """Defaults, then ``environ``'s variables, then ``overrides`` (flags; None means not given)."""
        known = {f.name: f for f in fields(cls)}
        env_of = {name: ENV_NAMES.get(name, ENV_PREFIX + name.upper()) for name in known}
        unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k != SETTINGS_ENV
                         and k not in env_of.values())
        if unknown:
            raise ConfigError(f"unknown environment variable(s) {allowed(unknown)}; allowed are "
                              f"{allowed(sorted(env_of.values()))}")
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for name, var in env_of.items():
            if var in environ and environ[var] != "":
                values[name] = _parse(name, var, environ[var], hints[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Self:
        data = json.loads(text)
        data["cors_origins"] = tuple(data.get("cors_origins", ()))
        return cls.from_dict(data)


def _parse(name: str, var: str, raw: str, hint: Any) -> Any:
    """One environment string as the field's type; a wrong value names the variable."""
    args = set(typing.get_args(hint)) - {type(None)}
    base = next(iter(args)) if args else hint
    if base is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{var} is {raw!r}; allowed values are 1/true/yes/on or 0/false/no/off")
    if base is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{var} is {raw!r}; {name} must be an integer") from None
    if typing.get_origin(hint) is tuple:
        return tuple(x.strip() for x in raw.split(",") if x.strip())
    return raw
