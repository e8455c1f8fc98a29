"""Parquet reader: typed columns staged as the few scalar types validation understands.

Every Arrow type a Parquet file can hold is mapped once, here, to what is staged:

* text (``string``, ``large_string``, ``string_view``, dictionary-encoded text) -> text;
* bytes (``binary`` and its variants) -> bytes, read as UTF-8 text by validation (a value that is
  not UTF-8 is refused on its row);
* integers, floats, decimals, booleans, dates and timestamps keep their type (``float16`` becomes
  ``float32``, ``date64`` a date, a decimal wider than 38 digits exact text);
* other scalars (times of day, durations, intervals, nulls) -> their text;
* nested types (lists, structs, maps, unions) -> JSON text, kept in ``attributes``/``properties``
  when the column is not mapped; a mapped one is refused with its type
  (:meth:`~bundlewise.ingest.sqlexpr.Binder.refuse_incompatible`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bundlewise.config import IngestConfig
from bundlewise.errors import SourceFileError
from bundlewise.ingest.readers.base import _BATCH_ROWS, SourceInfo, TableReader, check_header
from bundlewise.progress import ProgressTask

Converter = Callable[[pa.Array], pa.Array]
_MAX_DECIMAL_DIGITS = 38  # DuckDB's widest DECIMAL


def _is_nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t) or pa.types.is_union(t) or pa.types.is_run_end_encoded(t)


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, (dt.date, dt.time, dt.datetime, dt.timedelta, decimal.Decimal)):
        return str(value)
    return repr(value)


def _as_json_text(arr: pa.Array) -> pa.Array:
    """A nested column as one JSON text per row (NULL stays NULL)."""
    values = arr.to_pylist()
    return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=_json_default)
                     for v in values], type=pa.string())


def _as_text(arr: pa.Array) -> pa.Array:
    """Any scalar column as text: Arrow's cast where it has one, else Python's str()."""
    try:
        return arr.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in arr.to_pylist()], type=pa.string())


def staged_type(t: pa.DataType) -> tuple[pa.DataType, Converter | None, bool]:
    """What a column of Arrow type ``t`` is staged as: (type, converter or None, nested?)."""
    if pa.types.is_dictionary(t):
        inner, convert, nested = staged_type(t.value_type)

        def decode(arr: pa.Array) -> pa.Array:
            dense = arr.dictionary_decode() if isinstance(arr, pa.DictionaryArray) else arr.cast(t.value_type)
            return convert(dense) if convert else dense

        return inner, decode, nested
    if isinstance(t, pa.ExtensionType):
        inner, convert, nested = staged_type(t.storage_type)
        return inner, (lambda arr: (convert or (lambda a: a))(arr.storage)), nested  # type: ignore[attr-defined]
    if _is_nested(t):
        return pa.string(), _as_json_text, True
    if pa.types.is_string(t):
        return t, None, False
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string(), _as_text, False
    if pa.types.is_binary(t):
        return t, None, False
    if pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
        return pa.binary(), lambda arr: arr.cast(pa.binary()), False
    if pa.types.is_float16(t):
        return pa.float32(), lambda arr: arr.cast(pa.float32()), False
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_date32(t):
        return t, None, False
    if pa.types.is_date64(t):
        return pa.date32(), lambda arr: arr.cast(pa.date32()), False
    if pa.types.is_timestamp(t):
        return t, None, False
    if pa.types.is_decimal(t):
        if t.precision <= _MAX_DECIMAL_DIGITS:
            target = pa.decimal128(t.precision, t.scale)
            return target, (None if t == target else (lambda arr: arr.cast(target))), False
        return pa.string(), _as_text, False
    return pa.string(), _as_text, False  # times of day, durations, intervals, null columns, anything newer


class ParquetReader(TableReader):
    """A Parquet file, batch by batch, each column staged as :func:`staged_type` decides."""

    def __init__(self, info: SourceInfo, cfg: IngestConfig):
        super().__init__(info, cfg)
        if info.compressed:
            raise SourceFileError(f"{info.name}: gzip-compressed Parquet is not supported; decompress it first")
        try:
            self._file = pq.ParquetFile(info.path)
            schema = self._file.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise SourceFileError(f"{info.name}: not a readable Parquet file ({exc})") from None
        self.columns, self.unnamed = check_header(list(schema.names), info.name)
        self._convert: dict[str, Converter] = {}
        for name, f in zip(self.columns, schema, strict=True):
            staged, convert, nested = staged_type(f.type)
            self.types[name] = staged
            self.source_types[name] = str(f.type)
            if convert is not None:
                self._convert[name] = convert
            if nested:
                self.nested[name] = str(f.type)
        if self._file.metadata.num_rows == 0:
            raise SourceFileError(f"file {info.name!r} has a schema but no data rows")

    def _read(self, columns: list[int] | None = None) -> Iterator[pa.RecordBatch]:
        try:
            # By position: a file may repeat a name (two unnamed columns), which pyarrow cannot select.
            for group in range(self._file.num_row_groups):
                yield from self._file.iter_batches(batch_size=_BATCH_ROWS * 4, row_groups=[group],
                                                   columns=None if columns is None else
                                                   [self._file.schema_arrow.names[i] for i in columns])
        except (pa.ArrowException, OSError) as exc:
            raise SourceFileError(f"{self.info.name}: cannot read the Parquet data ({exc}); the file may be "
                                  "truncated or written by an incompatible tool") from None

    def _batches(self, task: ProgressTask) -> Iterator[pa.RecordBatch]:
        task.update(total=self._file.metadata.num_rows, completed=0)
        for batch in self._read():
            arrays = [self._convert[c](batch.column(i)) if c in self._convert else batch.column(i)
                      for i, c in enumerate(self.columns)]
            task.advance(batch.num_rows)
            yield pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    def value_range(self, column: str) -> tuple[float, float] | None:
        """Min and max of an integer/float column, streamed one column at a time (cheap)."""
        t = self.types[column]
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
            return None
        names = self._file.schema_arrow.names
        if names.count(names[self.columns.index(column)]) != 1:
            return None
        lo: float | None = None
        hi: float | None = None
        for batch in self._read([self.columns.index(column)]):
            arr = batch.column(0)
            if column in self._convert:
                arr = self._convert[column](arr)
            if pa.types.is_floating(arr.type):
                arr = pc.filter(arr, pc.is_finite(arr))
            mm = pc.min_max(arr).as_py()
            if mm["min"] is None:
                continue
            lo = float(mm["min"]) if lo is None else min(lo, float(mm["min"]))
            hi = float(mm["max"]) if hi is None else max(hi, float(mm["max"]))
        return None if lo is None or hi is None else (lo, hi)
