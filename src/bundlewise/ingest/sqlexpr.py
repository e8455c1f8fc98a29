"""SQL expression builders that turn staged source columns into typed canonical fields.

Staged columns are text (CSV, JSONL) or typed (Parquet); every builder looks at the
staged type so typed data is never round-tripped through text.
"""

from __future__ import annotations

from dataclasses import dataclass

from bundlewise.ingest.fields import BOOL, FIELDS_BY_KIND, ID, NUMBER, TEXT, TIMESTAMP, FieldSpec
from bundlewise.ingest.presets import ResolvedIngest

_WS_RE = "'^[\\s\\p{Zs}]+|[\\s\\p{Zs}]+$'"  # leading or trailing whitespace (RE2 syntax)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


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

    def __init__(self, resolved: ResolvedIngest, bound: dict[str, list[str]], stage_types: dict[str, str]):
        self.resolved = resolved
        self.bound = bound
        self.types = stage_types
        self.specs: dict[str, FieldSpec] = {f.name: f for f in FIELDS_BY_KIND[resolved.cfg.kind]}

    def has(self, name: str) -> bool:
        return name in self.bound

    def columns(self, name: str) -> list[str]:
        return self.bound.get(name, [])

    def label(self, name: str) -> str:
        return "+".join(self.columns(name)) or name

    def _is_text(self, column: str) -> bool:
        return self.types[column].upper() in ("VARCHAR", "STRING", "TEXT") or self.types[column].startswith("VARCHAR")

    # -- per source column ------------------------------------------------------------
    def col_text(self, column: str) -> str:
        # Whitespace at both ends goes: spaces (Unicode ones too: NBSP, ideographic space), tabs and
        # line breaks; an empty result is a missing value. DuckDB's trim(x) strips Unicode spaces
        # but not tabs or breaks, so values holding one of those (rare) take a regular expression.
        x = ident(column) if self._is_text(column) else f"CAST({ident(column)} AS VARCHAR)"
        rare = f"contains({x}, chr(9)) OR contains({x}, chr(10)) OR contains({x}, chr(13))"
        return f"nullif(CASE WHEN {rare} THEN regexp_replace({x}, {_WS_RE}, '', 'g') ELSE trim({x}) END, '')"

    def col_missing(self, column: str) -> str:
        """True when the source value is missing (empty text, or NULL in a typed column)."""
        return f"{self.col_text(column)} IS NULL" if self._is_text(column) else f"{ident(column)} IS NULL"

    def col_number(self, column: str) -> str:
        if self._is_text(column):
            return f"TRY_CAST({self.col_text(column)} AS DOUBLE)"
        return f"TRY_CAST({ident(column)} AS DOUBLE)"

    def col_timestamp(self, column: str) -> str:
        fmt = self.resolved.timestamp_format
        if not self._is_text(column):
            typ = self.types[column].upper()
            if typ.startswith("TIMESTAMP WITH") or typ == "TIMESTAMPTZ":
                return f"CAST({ident(column)} AS TIMESTAMP)"
            if typ.startswith(("TIMESTAMP", "DATE")):
                return f"CAST({ident(column)} AS TIMESTAMP)"
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

    def col_bool(self, column: str) -> str:
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
        expr = self.text(name)
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
    def type_checks(self) -> list[Check]:
        """Missing required values and values that do not parse as their field's type."""
        checks: list[Check] = []
        for name, spec in self.specs.items():
            cols = self.columns(name)
            if spec.required and cols:
                # "missing" means no value at all; a value that does not parse is reported below instead
                missing = (f"({self.typed(name)}) IS NULL" if spec.type in (ID, TEXT)
                           else " AND ".join(f"({self.col_missing(c)})" for c in cols))
                checks.append(Check(self.label(name), f"CAST({ident(cols[0])} AS VARCHAR)", missing,
                                    f"missing value; {name} is required ({spec.help})"))
            for col in cols:
                raw = self.col_text(col)
                if not self._is_text(col):
                    # Typed source (Parquet, or CSV parsed typed): nothing to parse, only non-finite numbers.
                    if spec.type == NUMBER:
                        checks.append(Check(col, raw, f"NOT isfinite(CAST({ident(col)} AS DOUBLE))",
                                            f"{name} must be a finite number"))
                    continue
                if spec.type == NUMBER:
                    checks.append(Check(col, raw, f"{raw} IS NOT NULL AND (({self.col_number(col)}) IS NULL OR "
                                                  f"NOT isfinite({self.col_number(col)}))",
                                        f"{name} must be a finite number such as 12 or 3.50 (no currency "
                                        "symbols or thousands separators)"))
                elif spec.type == TIMESTAMP:
                    hint = (f"in the format {self.resolved.timestamp_format!r}" if self.resolved.timestamp_format
                            else "such as 2011-12-09 12:50:00 (ISO 8601); for other layouts pass "
                                 "--timestamp-format, e.g. '%m/%d/%Y %H:%M'")
                    checks.append(Check(col, raw, f"{raw} IS NOT NULL AND ({self.col_timestamp(col)}) IS NULL",
                                        f"{name} must be a timestamp {hint}"))
                elif spec.type == BOOL:
                    checks.append(Check(col, raw, f"{raw} IS NOT NULL AND ({self.col_bool(col)}) IS NULL",
                                        f"{name} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}"))
        return checks

    def extra_columns(self) -> list[str]:
        used = {c for cols in self.bound.values() for c in cols}
        return [c for c in self.types if c not in used and not c.startswith("_rec")]

    def attributes_json(self) -> str:
        """Unmapped source columns packed as a JSON object (NULL when there are none)."""
        extra = self.extra_columns()
        if not extra:
            return "CAST(NULL AS JSON)"
        return "json_object(" + ", ".join(f"{lit(c)}, {ident(c)}" for c in extra) + ")"

    def raw_json(self, prefix: str = "") -> str:
        """The whole source row as JSON, for quarantine (``prefix`` qualifies the stage table)."""
        cols = [c for c in self.types if c != "_rec"]
        return "json_object(" + ", ".join(f"{lit(c)}, {prefix}{ident(c)}" for c in cols) + ")"
