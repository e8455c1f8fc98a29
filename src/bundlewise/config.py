"""Frozen, typed configuration objects: one per stage.

Precedence is decided in one place, here: **command-line options > preset > defaults**.
The CLI builds a config from its options (only the options the user gave are set),
:func:`bundlewise.ingest.presets.resolve` fills every field still ``None`` from the
preset, and whatever is still unset takes the default written on the field below.

Unknown keys are errors (``from_dict`` checks them), never silently ignored.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Self

from bundlewise.errors import ConfigError, allowed

INGEST_KINDS = ("orders", "products", "events")
ON_ERROR_MODES = ("fail", "skip", "quarantine")
FILE_FORMATS = ("auto", "csv", "tsv", "parquet", "jsonl", "baskets")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?")
TUNING_K = 10
TUNING_METRIC = f"recall@{TUNING_K}"
"""The validation metric that picks each family's hyper-parameters (:mod:`bundlewise.evaluation.tuning`);
``EvalConfig.ks`` must hold ``TUNING_K`` so the metric is computed."""
DEFAULT_MEMORY_BUDGET = 2 * 2**30
"""Bytes one mining step may plan to use (2 GiB). Fixed, not read from the machine, so the same data
and settings are refused or accepted the same way everywhere; ``--memory-budget`` changes it."""


class _ConfigBase:
    """Shared helpers: construction from a dict that rejects unknown keys."""

    _name: ClassVar[str] = "config"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown {cls._name} key(s) {allowed(unknown)}; allowed keys are {allowed(sorted(known))}"
            )
        return cls(**dict(data))

    def replace(self, **changes: Any) -> Self:
        return self.from_dict({**dataclasses.asdict(self), **changes})  # type: ignore[call-overload]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} is {value!r}; allowed values are {allowed(choices)}")


def check_date(name: str, value: object) -> None:
    """A date filter (``since``/``until``) must be an ISO date or date-time; None means no filter."""
    if value is None:
        return
    # the forms DuckDB's CAST(... AS TIMESTAMP) reads too; fromisoformat then rejects 2024-02-30
    ok = isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()) is not None
    if ok:
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError(f"--{name} is {value!r}; write an ISO date such as 2024-01-31 (or a date-time such as "
                          "2024-01-31T18:00)")


def check_date_range(since: str | None, until: str | None) -> None:
    """Both dates valid, and ``since`` (inclusive) before ``until`` (exclusive)."""
    check_date("since", since)
    check_date("until", until)
    if since is not None and until is not None and (
            datetime.fromisoformat(since.strip()) >= datetime.fromisoformat(until.strip())):
        raise ConfigError(f"--since {since} is not before --until {until}; no basket can match (since is "
                          "inclusive, until exclusive)")


def check_memory_budget(name: str, value: object) -> None:
    """A memory budget is a positive integer of bytes, or None for no limit."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ConfigError(f"{name} is {value!r}; it must be a number of bytes > 0 (--memory-budget 4GiB, "
                          "memory_budget=4 * 2**30) or None for no limit")


@dataclass(frozen=True)
class IngestConfig(_ConfigBase):
    """How to read one kind of input file into the warehouse.

    Fields left ``None`` are filled from the preset (if any), then from defaults.

    Parameters
    ----------
    kind : {"orders", "products", "events"}
        Which canonical table family the file feeds.
    preset : str, optional
        A named preset (``online-retail``, ``instacart``, ``complete-journey``, ``groceries``).
    mapping : mapping of canonical field -> source column(s)
        ``{"order_id": "InvoiceNo"}``; a value may join several columns with ``+``
        (summed for numbers, joined with a separator for text).
    on_error : {"fail", "skip", "quarantine"}
        ``fail`` writes nothing if any row is rejected; ``skip`` writes the good rows;
        ``quarantine`` also keeps the rejected rows in the ``rejected_rows`` table.
    encoding : str, optional
        Text encoding; default UTF-8 (a UTF-8 or UTF-16 byte-order mark is honoured).
    delimiter : str, optional
        Field separator; default from the file extension (``,`` or tab).
    file_format : str
        ``auto`` decides from the extension and magic bytes.
    timestamp_format : str, optional
        A ``strptime`` format such as ``%m/%d/%Y %H:%M``; default ISO 8601.
    cancel_prefix : str, optional
        Order ids starting with this prefix are cancellations (``C`` in Online Retail).
    non_product_codes : tuple of str, optional
        Product ids (``fnmatch`` patterns) that are fees, postage or adjustments.
    drop_duplicate_lines : bool, optional
        Drop order lines that repeat an earlier line exactly (default: keep and count them).
    max_problems : int
        How many rejected rows an error message lists.
    """

    _name: ClassVar[str] = "ingest"

    kind: str = "orders"
    preset: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    on_error: str = "fail"
    encoding: str | None = None
    delimiter: str | None = None
    file_format: str = "auto"
    timestamp_format: str | None = None
    cancel_prefix: str | None = None
    non_product_codes: tuple[str, ...] | None = None
    drop_duplicate_lines: bool | None = None
    max_problems: int = 20

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, INGEST_KINDS)
        _check_choice("on_error", self.on_error, ON_ERROR_MODES)
        _check_choice("file_format", self.file_format, FILE_FORMATS)
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ConfigError(f"delimiter is {self.delimiter!r}; it must be exactly one character")
        if self.max_problems < 1:
            raise ConfigError(f"max_problems is {self.max_problems}; it must be >= 1")
        if not isinstance(self.mapping, Mapping):
            raise ConfigError(f"mapping must be a mapping of field -> column, got {type(self.mapping).__name__}")
        # Freeze the mapping so the config stays hashable-ish and immutable.
        object.__setattr__(self, "mapping", dict(self.mapping))
        if self.non_product_codes is not None:
            object.__setattr__(self, "non_product_codes", tuple(self.non_product_codes))


def parse_mapping(items: list[str] | tuple[str, ...] | str) -> dict[str, str]:
    """Parse ``["order_id=InvoiceNo,product_id=StockCode", ...]`` into a dict.

    Examples
    --------
    >>> parse_mapping("order_id=InvoiceNo,product_id=StockCode")
    {'order_id': 'InvoiceNo', 'product_id': 'StockCode'}
    """
    if isinstance(items, str):
        items = [items]
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(
                    f"--map entry {part!r} is not FIELD=COLUMN; write e.g. --map order_id=InvoiceNo"
                )
            out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class MiningConfig(_ConfigBase):
    """``bundlewise mine``: pair statistics and frequent itemsets of the warehouse's baskets.

    Parameters
    ----------
    min_count : int
        Keep pairs and itemsets seen in at least this many baskets.
    max_len : int
        Longest itemset to store (2 = pairs only).
    half_life_days : float, optional
        Time decay of basket weights (rates use weighted counts; p-values raw counts).
    max_basket_size : int, optional
        Leave out baskets with more distinct products (wholesale orders).
    prior : float
        Pseudo-baskets of the shrunk-lift prior.
    segments, stores, customers : tuple of str
        Only baskets of these segments (country, customer group), stores or customers.
    since, until : str, optional
        Only baskets ordered in [since, until): ISO dates (``2024-01-31``) or date-times.
    memory_budget : int, optional
        Bytes pair counting, the statistics table and itemsets may plan to use (estimated from
        the basket sizes before the work starts); None = no limit.
    """

    _name: ClassVar[str] = "mining"

    min_count: int = 5
    max_len: int = 2
    half_life_days: float | None = None
    max_basket_size: int | None = None
    prior: float = 5.0
    segments: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET

    def __post_init__(self) -> None:
        if self.max_len < 2:
            raise ConfigError(f"max_len is {self.max_len}; mining stores pairs at least, so it must be >= 2")
        check_date_range(self.since, self.until)
        check_memory_budget("memory_budget", self.memory_budget)
        for name in ("segments", "stores", "customers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class RulesConfig(_ConfigBase):
    """``bundlewise rules``: association rules with arules semantics (thresholds inclusive).

    Defaults are arules' (support 0.1, confidence 0.8, minlen 1, maxlen 10). A support of 0
    counts every itemset seen once; ``memory_budget`` (bytes, None = no limit) then stops the
    mining at the first length whose itemsets pass it, with a support that fits.
    """

    _name: ClassVar[str] = "rules"

    min_support: float = 0.1
    min_confidence: float = 0.8
    min_lift: float | None = None
    min_len: int = 1
    max_len: int = 10
    segments: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET

    def __post_init__(self) -> None:
        check_date_range(self.since, self.until)
        check_memory_budget("memory_budget", self.memory_budget)
        for name in ("min_support", "min_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} is {value}; it must be in [0, 1] (a share: 0.001 = 0.1%)")
        if self.min_len < 1 or self.max_len < 1:
            raise ConfigError(f"min_len and max_len must be >= 1 (got {self.min_len} and {self.max_len})")
        if self.max_len < self.min_len:
            raise ConfigError(f"max_len ({self.max_len}) is smaller than min_len ({self.min_len}); "
                              "max_len must be >= min_len")
        for name in ("segments", "stores"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class EvalConfig(_ConfigBase):
    """``bundlewise evaluate``: the leak-free split and the frequently-bought-together metrics.

    Parameters
    ----------
    test_days, valid_days : float
        The test block is the last ``test_days`` of orders; validation is the ``valid_days``
        before it; training is everything earlier.
    cold_fraction : float
        Share of the products sold in the validation or test block that are removed from every
        training table (kept with their text): the cold-start products.
    seed : int
        Seeds the cold-start draw, the bootstrap and every model.
    ks : tuple of int
        Cut-offs of Recall@k (NDCG, coverage and popularity bias use the first).
    max_rank : int
        Length of each ranked list; MRR counts hits up to this rank (MRR@max_rank).
    n_bootstrap : int
        Bootstrap replicates (test baskets resampled) for the confidence intervals.
    max_basket_size : int, optional
        Baskets with more products are left out of training and evaluation (wholesale orders).
    refit : bool
        After tuning on validation, refit every model on training + validation before testing.
    """

    _name: ClassVar[str] = "evaluation"

    test_days: float = 28.0
    valid_days: float = 28.0
    cold_fraction: float = 0.1
    seed: int = 0
    ks: tuple[int, ...] = (10, 20)
    max_rank: int = 100
    n_bootstrap: int = 1000
    max_basket_size: int | None = None
    refit: bool = True

    def __post_init__(self) -> None:
        if not (self.test_days > 0 and self.valid_days > 0):
            raise ConfigError(f"test_days and valid_days are {self.test_days!r} and {self.valid_days!r}; "
                              "both must be > 0")
        if not 0.0 <= self.cold_fraction < 1.0:
            raise ConfigError(f"cold_fraction is {self.cold_fraction!r}; it must be in [0, 1)")
        ks = tuple(self.ks)
        if not ks or any((not isinstance(k, int)) or k < 1 for k in ks) or max(ks) > self.max_rank:
            raise ConfigError(f"ks is {self.ks!r}; it must be positive integers no larger than max_rank "
                              f"({self.max_rank})")
        if TUNING_K not in ks:
            # without it every tuning score is missing and the first grid point would win silently
            raise ConfigError(f"ks is {self.ks!r}; it must include {TUNING_K}: models are tuned on {TUNING_METRIC} "
                              f"(e.g. ks={(TUNING_K, *[k for k in ks if k != TUNING_K])!r})")
        object.__setattr__(self, "ks", ks)
        if self.n_bootstrap < 0:
            raise ConfigError(f"n_bootstrap is {self.n_bootstrap!r}; it must be >= 0")
        if self.max_basket_size is not None and self.max_basket_size < 2:
            raise ConfigError(f"max_basket_size is {self.max_basket_size!r}; it must be >= 2 (or None)")


def _check_int(name: str, value: object, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} is {value!r}; it must be an integer >= {low}")


def _check_number(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN != NaN
        raise ConfigError(f"{name} is {value!r}; it must be a number" + (" or None" if optional else ""))


@dataclass(frozen=True)
class PairModelConfig(_ConfigBase):
    """``bundlewise train``: every parameter of :class:`~bundlewise.pairmodel.model.PairModel`.

    The defaults written here are the only ones: ``PairModel.__init__`` and the ``train``
    command read theirs from this class. See :class:`~bundlewise.pairmodel.model.PairModel`
    for what each parameter does.

    Examples
    --------
    >>> PairModelConfig(epochs=3).epochs
    3
    >>> PairModelConfig.from_dict({"epoch": 3})
    Traceback (most recent call last):
    ...
    bundlewise.errors.ConfigError: unknown pair model key(s) 'epoch'; allowed keys are ...
    """

    _name: ClassVar[str] = "pair model"

    hidden: int = 128
    epochs: int = 10
    batch_size: int = 2048
    lr: float = 2e-3
    weight_decay: float = 1e-4
    n_negatives: int = 4
    hard_negative_share: float = 0.25
    hard_negative_exposure: float = 1.0
    max_positives: int = 300_000
    positives_per_pair: float = 2.0
    candidate_share: float = 0.0
    label_share: float = 0.25
    held_out_share: float = 0.2
    cold_dropout: float = 0.3
    volume_weight: float = 0.3
    half_life_days: float | None = None
    recent_half_life_days: float | None = 30.0
    n_candidates: int = 100
    patience: int = 2
    max_seconds: float | None = None
    n_neighbours: int = 10
    popularity_correction: float = 0.5
    cooc_weight: float = 0.5
    device: str | None = None
    n_threads: int = 1
    random_state: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden", "epochs", "batch_size", "n_negatives", "max_positives", "n_candidates", "patience",
                     "n_neighbours", "n_threads"):
            _check_int(name, getattr(self, name))
        _check_int("random_state", self.random_state, low=0)
        for name in ("lr", "weight_decay", "hard_negative_share", "candidate_share", "label_share", "cold_dropout",
                     "volume_weight", "popularity_correction", "cooc_weight"):
            _check_number(name, getattr(self, name))
        for name in ("hard_negative_exposure", "positives_per_pair", "held_out_share"):
            _check_number(name, getattr(self, name))
        _check_number("max_seconds", self.max_seconds, optional=True)
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ConfigError(f"max_seconds is {self.max_seconds!r}; it must be > 0 seconds, or None for no budget")
        if self.hard_negative_exposure < 0:
            raise ConfigError(f"hard_negative_exposure is {self.hard_negative_exposure!r}; it must be >= 0 expected "
                              "co-purchases (0 = any near text never bought with the product)")
        if self.positives_per_pair <= 0:
            raise ConfigError(f"positives_per_pair is {self.positives_per_pair!r}; it must be > 0, e.g. 2.0")
        if not 0.0 < self.held_out_share < 1.0:
            raise ConfigError(f"held_out_share is {self.held_out_share!r}; it must be in (0, 1), e.g. 0.2")
        for name in ("half_life_days", "recent_half_life_days"):
            _check_number(name, getattr(self, name), optional=True)
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} is {value!r}; it must be > 0 days, or None for no decay")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ConfigError(f"lr is {self.lr!r} and weight_decay {self.weight_decay!r}; lr must be > 0 and "
                              "weight_decay >= 0")
        for name in ("hard_negative_share", "cold_dropout", "candidate_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} is {value!r}; it must be in [0, 1]")
        if not 0.0 < self.label_share < 1.0:
            raise ConfigError(f"label_share is {self.label_share!r}; it must be in (0, 1), e.g. 0.25")
        if self.volume_weight < 0:
            raise ConfigError(f"volume_weight is {self.volume_weight!r}; it must be >= 0 (0 = pairs only)")
        if self.device is not None and not (isinstance(self.device, str) and self.device.split(":")[0] in
                                            ("cpu", "cuda", "mps")):
            raise ConfigError(f"device is {self.device!r}; allowed values are 'cpu', 'cuda', 'cuda:N', 'mps' "
                              "or None (cuda when available)")
