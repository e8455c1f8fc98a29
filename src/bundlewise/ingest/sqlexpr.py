"""SQL expression builders that turn staged source columns into typed canonical fields.

Staged columns are text (CSV, JSONL) or typed (Parquet); every builder looks at the
staged type so typed data is never round-tripped through text. A staged column is known
by its position (``c1``, ``c2`` …, see ``TableReader.stage_names``); messages and JSON keys
use the file's names.

Typed columns meet fields by one rule (:meth:`Binder.refuse_incompatible`): a column whose
type cannot hold the field (a boolean price, a list as a product id, a date as a quantity) is
refused with its name and type before anything is read; a value that does not convert is
refused on its row. Integer timestamps are Unix epoch times when declared
(``--timestamp-format epoch|epoch_s|epoch_ms|epoch_us|epoch_ns``) or when every value of the
column lies in one plausible range (:data:`EPOCH_RANGES`); anything else is refused, never NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bundlewise.errors import SourceFileError
from bundlewise.ingest.fields import BOOL, FIELDS_BY_KIND, ID, NUMBER, TEXT, TIMESTAMP, FieldSpec
from bundlewise.ingest.presets import ResolvedIngest

_WS_RE = "'^[\\s\\p{Zs}]+|[\\s\\p{Zs}]+$'"  # leading or trailing whitespace (RE2 syntax)
_EXACT_FLOAT_INT = 2**53  # every integer below this is exact in a float64
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
# --timestamp-format values that declare Unix epoch times; "epoch" picks the unit of each value by its size.
EPOCH_FORMATS: dict[str, str | None] = {"epoch": None, "epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us",
                                        "epoch_ns": "ns"}
_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}
# An undeclared integer column is an epoch when all its values lie in one of these ranges: dates from
# 1973-03-03 to 2286-11-20 in each unit. The ranges are 10x apart, so the unit is never ambiguous.
EPOCH_RANGES: dict[str, tuple[float, float]] = {"s": (1e8, 1e10), "ms": (1e11, 1e13), "us": (1e14, 1e16),
                                                "ns": (1e17, 1e19)}
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


_GROUP_CHECKS = 8


def _grouped(columns: list[str], conditions: dict[str, str], shown: dict[str, str], reason: str) -> list[Check]:
    """One check per column, or a single one over all of them when there are many."""
    if len(columns) <= _GROUP_CHECKS:
        return [Check(c, shown[c], conditions[c], reason) for c in columns]
    value = "coalesce(" + ", ".join(f"CASE WHEN {conditions[c]} THEN {shown[c]} END" for c in columns) + ")"
    return [Check(", ".join(columns), value, " OR ".join(conditions[c] for c in columns), reason)]


def epoch_unit(value_range: tuple[float, float] | None) -> str | None:
    """The epoch unit of an integer column whose smallest and largest values are ``value_range``."""
    if value_range is None:
        return None
    lo, hi = value_range
    for unit, (start, stop) in EPOCH_RANGES.items():
        if start <= lo and hi < stop:
            return unit
    return None


def epoch_sql(value: str, unit: str | None, integer: bool) -> str:
    """SQL turning the epoch number ``value`` (in ``unit``; None: by its size) into a TIMESTAMP (NULL if out
    of range)."""
    if unit is None:
        cases = " ".join(f"WHEN abs({value}) < {EPOCH_RANGES[u][1]:.0e} THEN {epoch_sql(value, u, integer)}"
                         for u in ("s", "ms", "us"))
        return f"(CASE {cases} ELSE {epoch_sql(value, 'ns', integer)} END)"
    factor = _MICROS[unit]
    if integer:
        micros = f"({value} // 1000)" if unit == "ns" else f"({value} * {int(factor)})"
    else:
        micros = f"CAST(round({value} * {factor}) AS BIGINT)"
    return f"TRY(make_timestamp(CAST({micros} AS BIGINT)))"


def ident(name: str) -> str:
    """Quote an identifier for DuckDB."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + value.replace("'", "''") + "'"


def glob_condition(expr: str, patterns: tuple[str, ...]) -> str:
    """SQL that is true when ``expr`` matches one of the ``fnmatch``-style patterns."""
    if not patterns:
        return "FALSE"
    return "(" + " OR ".join(f"({expr} GLOB {lit(p)})" for p in patterns) + ")"


@dataclass(frozen=True)
class Check:
    """One row-level rule: rows where ``condition`` holds are rejected for ``reason``."""

    column: str  # the source column named in the message
    value_sql: str  # what to show as the offending value
    condition: str
    reason: str


class Binder:
    """Builds typed expressions for the canonical fields of one staged file."""

    def __init__(self, resolved: ResolvedIngest, bound: dict[str, list[str]], stage_types: dict[str, str], *,
                 stage_names: Mapping[str, str] | None = None, source_types: Mapping[str, str] | None = None,
                 unnamed: Sequence[str] = (), nested: Mapping[str, str] | None = None,
                 value_range: Callable[[str], tuple[float, float] | None] | None = None):
        self.resolved = resolved
        self.bound = bound
        self.types = stage_types  # file column -> DuckDB type of its staged values
        self.stage = dict(stage_names) if stage_names is not None else {c: c for c in stage_types}
        self.source_types = dict(source_types or {})
        self.unnamed = list(unnamed)
        self.nested = dict(nested or {})
        self.specs: dict[str, FieldSpec] = {f.name: f for f in FIELDS_BY_KIND[resolved.cfg.kind]}
        fmt = resolved.timestamp_format
        # Undeclared integer timestamp columns: the epoch unit their values show (None: not an epoch).
        self.epoch_units: dict[str, str | None] = {}
        self.value_ranges: dict[str, tuple[float, float] | None] = {}
        for name, spec in self.specs.items():
            for col in self.columns(name) if spec.type == TIMESTAMP and not fmt else ():
                if self._is_int(col):
                    self.value_ranges[col] = value_range(col) if value_range else None
                    self.epoch_units[col] = epoch_unit(self.value_ranges[col])

    def q(self, column: str) -> str:
        """The quoted identifier of a file column in the staged tables."""
        return ident(self.stage[column])

    def has(self, name: str) -> bool:
        return name in self.bound

    def columns(self, name: str) -> list[str]:
        return self.bound.get(name, [])

    def label(self, name: str) -> str:
        return "+".join(self.columns(name)) or name

    def _is_text(self, column: str) -> bool:
        return self.types[column].upper() in ("VARCHAR", "STRING", "TEXT") or self.types[column].startswith("VARCHAR")

    def _is_float(self, column: str) -> bool:
        return self.types[column].upper() in ("DOUBLE", "FLOAT", "REAL") or self.types[column].upper().startswith(
            "DECIMAL")

    def _is_blob(self, column: str) -> bool:
        return self.types[column].upper() == "BLOB"

    def _is_int(self, column: str) -> bool:
        return self.types[column].upper() in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                                              "USMALLINT", "UINTEGER", "UBIGINT")

    def _is_bool(self, column: str) -> bool:
        return self.types[column].upper() == "BOOLEAN"

    def _is_time(self, column: str) -> bool:
        return self.types[column].upper().startswith(("TIMESTAMP", "DATE"))

    def _type_of(self, column: str) -> str:
        return self.source_types.get(column) or self.types[column].lower()

    # -- per source column ------------------------------------------------------------
    def col_text(self, column: str) -> str:
        # Whitespace at both ends goes: spaces (Unicode ones too: NBSP, ideographic space), tabs and
        # line breaks; an empty result is a missing value. DuckDB's trim(x) strips Unicode spaces
        # but not tabs or breaks, so values holding one of those (rare) take a regular expression.
        if self._is_text(column):
            x = self.q(column)
        elif self._is_blob(column):
            x = f"TRY(decode({self.q(column)}))"  # bytes are text when they are UTF-8 (else refused: type_checks)
        else:
            x = f"CAST({self.q(column)} AS VARCHAR)"
        rare = f"contains({x}, chr(9)) OR contains({x}, chr(10)) OR contains({x}, chr(13))"
        return f"nullif(CASE WHEN {rare} THEN regexp_replace({x}, {_WS_RE}, '', 'g') ELSE trim({x}) END, '')"

    def col_missing(self, column: str) -> str:
        """True when the source value is missing (empty text, or NULL in a typed column)."""
        if self._is_text(column):
            return f"{self.col_text(column)} IS NULL"
        if self._is_blob(column):  # bytes that are not UTF-8 are not missing: type_checks refuses them
            return f"({self.q(column)} IS NULL OR (TRY(decode({self.q(column)})) IS NOT NULL AND " \
                   f"{self.col_text(column)} IS NULL))"
        return f"{self.q(column)} IS NULL"

    def col_number(self, column: str) -> str:
        if self._is_text(column) or self._is_blob(column):
            return f"TRY_CAST({self.col_text(column)} AS DOUBLE)"
        if self._is_int(column) or self._is_float(column):
            return f"TRY_CAST({self.q(column)} AS DOUBLE)"
        return "CAST(NULL AS DOUBLE)"  # booleans, dates: refused by refuse_incompatible()

    def col_timestamp(self, column: str) -> str:
        fmt = self.resolved.timestamp_format
        if self._is_time(column):  # TIMESTAMPTZ casts to UTC (the session time zone)
            return f"CAST({self.q(column)} AS TIMESTAMP)"
        numeric = self._is_int(column) or self._is_float(column)
        if fmt in EPOCH_FORMATS:
            value = self.q(column) if numeric else self.col_number(column)
            return epoch_sql(value, EPOCH_FORMATS[fmt], self._is_int(column))
        if numeric and not fmt:
            unit = self.epoch_units.get(column)
            return epoch_sql(self.q(column), unit, self._is_int(column)) if unit else "CAST(NULL AS TIMESTAMP)"
        if self._is_bool(column):
            return "CAST(NULL AS TIMESTAMP)"  # refused by refuse_incompatible()
        text = self.col_text(column)
        if fmt:
            return f"try_strptime({text}, {lit(fmt)})"
        # A plain cast would silently drop an explicit offset (+02:00, Z): such values go through
        # TIMESTAMPTZ and are converted to UTC. The guard keeps the (slower) zone parsing off naive values.
        tail = f"substr({text}, 11)"
        has_zone = f"(ends_with({text}, 'Z') OR strpos({tail}, '+') > 0 OR strpos({tail}, '-') > 0)"
        iso = (f"(CASE WHEN {has_zone} THEN CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) "
               f"ELSE TRY_CAST({text} AS TIMESTAMP) END)")
        fallbacks = self.resolved.timestamp_fallbacks
        if not fallbacks:
            return iso
        return f"coalesce({iso}, try_strptime({text}, [{', '.join(lit(f) for f in fallbacks)}]))"

    def col_id(self, column: str) -> str:
        """An id from one source column: trimmed text; in a float column a whole number loses its '.0'.

        Parquet and JSON writers store integer ids as floats as soon as one is missing (pandas), so
        22423.0 must be product 22423, not a new product '22423.0'. Other floats are refused by
        :meth:`type_checks` (a float cannot hold an id exactly).
        """
        if not self._is_float(column):
            return self.col_text(column)
        x = f"CAST({self.q(column)} AS DOUBLE)"
        return (f"(CASE WHEN isfinite({x}) AND {x} = trunc({x}) AND abs({x}) < {_EXACT_FLOAT_INT} "
                f"THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) ELSE {self.col_text(column)} END)")

    def col_bool(self, column: str) -> str:
        if self._is_bool(column):
            return self.q(column)
        text = f"lower({self.col_text(column)})"
        trues = ", ".join(lit(w) for w in TRUE_WORDS)
        falses = ", ".join(lit(w) for w in FALSE_WORDS)
        return f"(CASE WHEN {text} IN ({trues}) THEN TRUE WHEN {text} IN ({falses}) THEN FALSE END)"

    # -- per canonical field ------------------------------------------------------------
    def text(self, name: str) -> str:
        cols = self.columns(name)
        if not cols:
            return "CAST(NULL AS VARCHAR)"
        if len(cols) == 1:
            return self.col_text(cols[0])
        joiner = lit(self.specs[name].joiner)
        return f"nullif(concat_ws({joiner}, {', '.join(self.col_text(c) for c in cols)}), '')"

    def id(self, name: str) -> str:
        cols = self.columns(name)
        if len(cols) == 1:
            expr = self.col_id(cols[0])
        elif cols:
            joiner = lit(self.specs[name].joiner)
            expr = f"nullif(concat_ws({joiner}, {', '.join(self.col_id(c) for c in cols)}), '')"
        else:
            expr = "CAST(NULL AS VARCHAR)"
        if name in self.resolved.strip_float_suffix and self.has(name):
            # '17850.0' (an id written as a float by pandas) -> '17850'
            expr = f"regexp_replace({expr}, '^(-?[0-9]+)\\.0+$', '\\1')"
        return expr

    def number(self, name: str) -> str:
        cols = self.columns(name)
        if not cols:
            return "CAST(NULL AS DOUBLE)"
        if len(cols) == 1:
            return self.col_number(cols[0])
        nums = [self.col_number(c) for c in cols]
        all_null = " AND ".join(f"{n} IS NULL" for n in nums)
        return f"(CASE WHEN {all_null} THEN NULL ELSE {' + '.join(f'coalesce({n}, 0)' for n in nums)} END)"

    def timestamp(self, name: str) -> str:
        cols = self.columns(name)
        return self.col_timestamp(cols[0]) if cols else "CAST(NULL AS TIMESTAMP)"

    def boolean(self, name: str) -> str:
        cols = self.columns(name)
        return self.col_bool(cols[0]) if cols else "CAST(NULL AS BOOLEAN)"

    def typed(self, name: str) -> str:
        kind = self.specs[name].type
        return {ID: self.id, TEXT: self.text, NUMBER: self.number, TIMESTAMP: self.timestamp,
                BOOL: self.boolean}[kind](name)

    # -- generic checks -------------------------------------------------------------
    def refuse_incompatible(self, source: str) -> None:
        """Refuse a mapped column whose type cannot hold its field, naming the column and its type.

        A boolean, date or timestamp column cannot be a number (True would become 1.0); a nested column
        (list, struct, map) cannot be any field; a boolean cannot be a timestamp; a float column is a
        timestamp only when declared as epoch times; an integer column only when declared, or when all
        its values lie in one epoch range (:data:`EPOCH_RANGES`).
        """
        fmt = self.resolved.timestamp_format
        for name, spec in self.specs.items():
            for col in self.columns(name):
                typ = self._type_of(col)
                fix = f"map another column with --map {name}=COLUMN, or convert this one in the file"
                if col in self.nested:
                    raise SourceFileError(
                        f"{source}: column {col!r} has type {self.nested[col]}; {name} needs one scalar text, "
                        f"number or timestamp value per row ({spec.help}); {fix}")
                wrong = ((spec.type == NUMBER and (self._is_bool(col) or self._is_time(col)))
                         or (spec.type == TIMESTAMP and self._is_bool(col)))
                if wrong:
                    raise SourceFileError(
                        f"{source}: column {col!r} has type {typ}; {name} needs a {spec.type} ({spec.help}), "
                        f"and a {typ} value is not one; {fix}")
                if spec.type != TIMESTAMP or fmt or not (self._is_int(col) or self._is_float(col)):
                    continue
                if self._is_float(col):
                    raise SourceFileError(
                        f"{source}: column {col!r} has type {typ}; {name} needs a timestamp. If it holds Unix "
                        "epoch times, declare their unit with --timestamp-format epoch_s (or epoch_ms, epoch_us, "
                        f"epoch_ns); else {fix}")
                rng = self.value_ranges.get(col)
                if rng is not None and self.epoch_units.get(col) is None:
                    ranges = ", ".join(f"{_UNIT_WORDS[u]} {lo:.0e}..{hi:.0e}" for u, (lo, hi) in EPOCH_RANGES.items())
                    raise SourceFileError(
                        f"{source}: column {col!r} has type {typ} with values from {rng[0]:,.0f} to {rng[1]:,.0f}; "
                        f"{name} needs a timestamp, and these are not Unix epoch times in one unit (1973-2286: "
                        f"{ranges}). Declare the unit with --timestamp-format epoch_s|epoch_ms|epoch_us|epoch_ns, "
                        "give a layout such as --timestamp-format %Y%m%d, or convert the column to timestamps")

    def type_checks(self) -> list[Check]:
        """Missing required values and values that do not parse as their field's type."""
        checks: list[Check] = []
        fmt = self.resolved.timestamp_format
        for name, spec in self.specs.items():
            cols = self.columns(name)
            if spec.required and cols:
                # "missing" means no value at all; a value that does not parse is reported below instead
                missing = (f"({self.typed(name)}) IS NULL" if spec.type in (ID, TEXT)
                           else " AND ".join(f"({self.col_missing(c)})" for c in cols))
                checks.append(Check(self.label(name), self._shown(cols[0]), missing,
                                    f"missing value; {name} is required ({spec.help})"))
            for col in cols:
                raw = self.col_text(col)
                if not (self._is_text(col) or self._is_blob(col)):
                    # Typed source (Parquet, or CSV parsed typed): only values that cannot convert.
                    if spec.type == NUMBER:
                        checks.append(Check(col, raw, f"NOT isfinite(CAST({self.q(col)} AS DOUBLE))",
                                            f"{name} must be a finite number"))
                    elif spec.type == ID and self._is_float(col):
                        x = f"CAST({self.q(col)} AS DOUBLE)"
                        checks.append(Check(col, raw, f"NOT (isfinite({x}) AND {x} = trunc({x}) AND "
                                                      f"abs({x}) < {_EXACT_FLOAT_INT})",
                                            f"{name} is in a floating-point column and is not a whole number "
                                            f"below 2^53, so the id it stands for is unknown; export the "
                                            f"{name} column as text (or as integers)"))
                    elif spec.type == TIMESTAMP and not self._is_time(col):
                        unit = EPOCH_FORMATS.get(fmt or "", self.epoch_units.get(col))
                        what = f"epoch {_UNIT_WORDS[unit]}" if unit else "an epoch time"
                        checks.append(Check(col, raw, f"{self.q(col)} IS NOT NULL AND ({self.col_timestamp(col)}) "
                                                      "IS NULL",
                                            f"{name} is not a timestamp as {what} (out of range?)"
                                            if fmt in EPOCH_FORMATS or unit else
                                            f"{name} must be a timestamp in the format {fmt!r}"))
                    elif spec.type == BOOL:
                        checks.append(Check(col, raw, f"{self.q(col)} IS NOT NULL AND ({self.col_bool(col)}) IS NULL",
                                            f"{name} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}"))
                    continue
                if spec.type == NUMBER:
                    checks.append(Check(col, raw, f"{raw} IS NOT NULL AND (({self.col_number(col)}) IS NULL OR "
                                                  f"NOT isfinite({self.col_number(col)}))",
                                        f"{name} must be a finite number such as 12 or 3.50 (no currency "
                                        "symbols or thousands separators)"))
                elif spec.type == TIMESTAMP:
                    if fmt in EPOCH_FORMATS:
                        unit = EPOCH_FORMATS[fmt]
                        hint = f"as a Unix epoch number of {_UNIT_WORDS[unit] if unit else 'seconds (or ms, us, ns)'}"
                    elif fmt:
                        hint = f"in the format {fmt!r}"
                    else:
                        hint = ("such as 2011-12-09 12:50:00 (ISO 8601); for other layouts pass --timestamp-format, "
                                "e.g. '%m/%d/%Y %H:%M', or epoch_s / epoch_ms for Unix epoch numbers")
                    checks.append(Check(col, raw, f"{raw} IS NOT NULL AND ({self.col_timestamp(col)}) IS NULL",
                                        f"{name} must be a timestamp {hint}"))
                elif spec.type == BOOL:
                    checks.append(Check(col, raw, f"{raw} IS NOT NULL AND ({self.col_bool(col)}) IS NULL",
                                        f"{name} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}"))
        return checks + self.column_checks()

    def column_checks(self) -> list[Check]:
        """Values that would be lost: bytes that are not UTF-8 text.

        One check per column; beyond :data:`_GROUP_CHECKS` such columns, one check over all of them
        (the check bitmask has 62 bits), naming them all.
        """
        used = {c for cols in self.bound.values() for c in cols}
        if self.resolved.cfg.kind != "orders":  # products and events keep unmapped columns as attributes
            used |= set(self.extra_columns()) | set(self.unnamed)
        blobs = [c for c in self.types if self._is_blob(c) and c in used]
        bad = {c: f"({self.q(c)} IS NOT NULL AND TRY(decode({self.q(c)})) IS NULL)" for c in blobs}
        shown = {c: f"CAST({self.q(c)} AS VARCHAR)" for c in blobs}
        return _grouped(blobs, bad, shown, "the bytes are not UTF-8 text; bundlewise reads a binary column as "
                                           "UTF-8 text (re-export it as text, or drop the column)")

    def _shown(self, column: str) -> str:
        """The source value as text, for messages."""
        return f"coalesce(TRY(decode({self.q(column)})), CAST({self.q(column)} AS VARCHAR))" \
            if self._is_blob(column) else f"CAST({self.q(column)} AS VARCHAR)"

    def _json_value(self, column: str) -> str:
        return f"TRY(decode({self.q(column)}))" if self._is_blob(column) else self.q(column)

    def extra_columns(self) -> list[str]:
        """Named source columns no field uses (kept as attributes/properties; unnamed: see attributes_json)."""
        used = {c for cols in self.bound.values() for c in cols}
        return [c for c in self.types if c not in used and c not in self.unnamed]

    def attributes_json(self) -> str:
        """Unmapped source columns packed as a JSON object (NULL when there are none).

        A column without a header name (a pandas index, Excel's trailing delimiter) is kept under its
        label, ``(unnamed column N)``, only in rows where it holds a value, so a trailing delimiter adds
        nothing while a value under it is never lost.
        """
        extra = self.extra_columns()
        named = "json_object(" + ", ".join(f"{lit(c)}, {self._json_value(c)}" for c in extra) + ")"
        if not self.unnamed:
            return named if extra else "CAST(NULL AS JSON)"
        # json_merge_patch drops the patch's null members: empty unnamed cells add no key
        patch = "json_object(" + ", ".join(f"{lit(c)}, {self.col_text(c)}" for c in self.unnamed) + ")"
        return f"CAST(nullif(CAST(json_merge_patch({named}, {patch}) AS VARCHAR), '{{}}') AS JSON)"

    def raw_json(self, prefix: str = "") -> str:
        """The whole source row as JSON, for quarantine (``prefix`` qualifies the stage table)."""
        def value(c: str) -> str:
            x = prefix + self.q(c)
            return f"coalesce(TRY(decode({x})), CAST({x} AS VARCHAR))" if self._is_blob(c) else x
        return "json_object(" + ", ".join(f"{lit(c)}, {value(c)}" for c in self.types) + ")"
