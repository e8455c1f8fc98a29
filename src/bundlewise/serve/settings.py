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
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from bundlewise.config import _ConfigBase
from bundlewise.errors import ConfigError, allowed
from bundlewise.mining.stored import STORED_METRICS

ENV_PREFIX = "BUNDLEWISE_SERVE_"
# settings whose variables keep the project-wide names
ENV_NAMES = {"db": "BUNDLEWISE_DB", "api_key": "BUNDLEWISE_API_KEY"}
SETTINGS_ENV = "BUNDLEWISE_SERVE_SETTINGS"  # JSON of every setting: how --workers N hands them to each worker
OFFER_POLICIES = ("epsilon-greedy", "softmax", "thompson", "linear-thompson")
PLACEMENTS = ("product_page", "cart", "home", "email", "ad_slot")


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
    offers_policy : str
        The policy of ``POST /v1/offers/select``: ``epsilon-greedy``, ``softmax``, ``thompson`` or
        ``linear-thompson`` (:mod:`bundlewise.offers`).
    offers_epsilon, offers_temperature : float
        ε of epsilon-greedy (0, 1]; temperature of softmax (> 0).
    offers_exploration_cap : float
        At most this probability of not showing the best-known offer, every placement.
    offers_placement_caps : tuple of str
        Per-placement caps as ``placement=cap`` (``email=0.05``); they override the one above.
    offers_discounts : tuple of float
        Discount levels each plan bundle is also offered at (besides the plan's own), within the
        rules' ``max_discount`` and margin floor; default only the plan's discount.
    offers_rules : str, optional
        A business-rules file (TOML/JSON, :class:`bundlewise.bundles.BundleRules`): stock, margin
        floor, never-together pairs, excluded products, max discount, applied to every offer.
    offers_complements : int
        Complement offers eligible per request at most (best expected margin first).
    reward_window_s : float
        Seconds after a decision in which a purchase counts as its reward (default 600).
    offers_learn_interval_s : float
        How often the learner feeds closed decisions (window over) to the policy.
    offers_seed : int
        Seed of the policy's random draws.
    offers_durable : bool
        True (default): ``/v1/offers/select`` answers once its decisions are committed (one WAL
        fsync per writer batch). False: it answers once they are queued to the single writer; the
        queue is first-in first-out, so an event that names a decision (sent after the answer) is
        always committed in the same or a later transaction, and a graceful stop drains the queue;
        only a crash (kill -9, power) can lose the decisions of the last batch (milliseconds).
    offers_journal : bool
        True (default): a decision is durable once its line is fsynced in the decision journal
        beside the warehouse file (``<db>.decisions.journal``, :mod:`bundlewise.ingest.journal`;
        about 0.2 ms), and journaled decisions move into ``offer_decisions`` about once a second
        and at every stop; a kill -9 leaves them in the journal, and the next writer to open the
        warehouse moves them in. False: each writer batch commits its decisions to DuckDB
        (about 1.2–1.5 ms of CPU per commit on a 2-core box).
    offers_journal_flush_s : float
        Seconds a journaled decision waits at most (while the writer is idle) before it moves into
        ``offer_decisions`` (default 1).
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
    offers_policy: str = "epsilon-greedy"
    offers_epsilon: float = 0.1
    offers_temperature: float = 0.5
    offers_exploration_cap: float = 1.0
    offers_placement_caps: tuple[str, ...] = ()
    offers_discounts: tuple[float, ...] = ()
    offers_rules: str | None = None
    offers_complements: int = 3
    reward_window_s: float = 600.0
    offers_learn_interval_s: float = 1.0
    offers_seed: int = 0
    offers_durable: bool = True
    offers_journal: bool = True
    offers_journal_flush_s: float = 1.0

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
        self._check_offers()

    def _check_offers(self) -> None:
        if self.offers_policy not in OFFER_POLICIES:
            raise ConfigError(f"offers_policy is {self.offers_policy!r}; allowed policies are "
                              f"{allowed(OFFER_POLICIES)}")
        for name, low, high, low_open in (("offers_epsilon", 0.0, 1.0, True), ("offers_temperature", 0.0, 1e9, True),
                                          ("offers_exploration_cap", 0.0, 1.0, False),
                                          ("reward_window_s", 0.0, 1e9, False),
                                          ("offers_learn_interval_s", 0.0, 3600.0, True),
                                          ("offers_journal_flush_s", 0.0, 3600.0, True)):
            object.__setattr__(self, name, _number(name, getattr(self, name), low, high, low_open))
        if not isinstance(self.offers_complements, int) or isinstance(self.offers_complements, bool) \
                or not 0 <= self.offers_complements <= 50:
            raise ConfigError(f"offers_complements is {self.offers_complements!r}; it must be an integer in 0..50")
        if not isinstance(self.offers_seed, int) or isinstance(self.offers_seed, bool):
            raise ConfigError(f"offers_seed is {self.offers_seed!r}; it must be an integer")
        levels = tuple(_number("offers_discounts", d, 0.0, 1.0, True) for d in self.offers_discounts)
        if any(d >= 1.0 for d in levels):
            raise ConfigError(f"offers_discounts is {self.offers_discounts!r}; each level must be in (0, 1)")
        object.__setattr__(self, "offers_discounts", tuple(sorted(set(levels))))
        caps = tuple(str(c).strip() for c in self.offers_placement_caps)
        for c in caps:
            where, _, value = c.partition("=")
            if where.strip() not in PLACEMENTS or not value:
                raise ConfigError(f"offers_placement_caps has {c!r}; write placement=cap with placement one of "
                                  f"{allowed(PLACEMENTS)} (email=0.05)")
            _number(f"offers_placement_caps[{where.strip()}]", value, 0.0, 1.0, False)
        object.__setattr__(self, "offers_placement_caps", caps)
        if self.offers_rules is not None and not Path(self.offers_rules).is_file():
            raise ConfigError(f"offers_rules {self.offers_rules!r} does not exist; pass a business-rules .toml or "
                              ".json file (see bundlewise.bundles.BundleRules) or leave it out")

    def exploration_caps(self) -> dict[str, float]:
        """The cap per placement ("*" = every other), as the offer policies take it."""
        out = {"*": self.offers_exploration_cap}
        for c in self.offers_placement_caps:
            where, _, value = c.partition("=")
            out[where.strip()] = float(value)
        return out

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
        for name in ("cors_origins", "offers_placement_caps", "offers_discounts"):
            if name in data:
                data[name] = tuple(data[name])
        return cls.from_dict(data)


def _number(name: str, value: Any, low: float, high: float, low_open: bool) -> float:
    """A finite float in the range (``low`` excluded when ``low_open``), or a ConfigError naming the setting."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(value, bool) or not math.isfinite(v) or not ((v > low if low_open else v >= low) and v <= high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ConfigError(f"{name} is {value!r}; it must be a number in {interval}")
    return v


def _parse(name: str, var: str, raw: str, hint: Any) -> Any:
    """One environment string as the field's type; a wrong value names the variable."""
    if typing.get_origin(hint) is tuple:
        return tuple(x.strip() for x in raw.split(",") if x.strip())
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
    if base is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{var} is {raw!r}; {name} must be a number") from None
    return raw
