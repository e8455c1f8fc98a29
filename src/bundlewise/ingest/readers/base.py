"""What every reader shares: the source description, format sniffing, the reader base class, header checks.

Readers turn CSV/TSV, Parquet, JSONL (each optionally gzip-compressed) and basket files into a
stream of Arrow record batches.

Every batch carries ``_rec``: the 0-based index of the record among the records the
reader kept, in file order. Text columns stay text (validation casts them), Parquet
columns keep their scalar types (nested ones become JSON text, see
:mod:`~bundlewise.ingest.readers.parquet`). Column names are the file's; the pipeline
stages them under positional names (:meth:`TableReader.stage_names`), so a file column
called ``_rec`` or ``_bad`` can never collide with an internal one. Row numbers are only
worked out when something must be reported (:meth:`TableReader.row_numbers`), so the
fast path never pays for them:

* CSV, TSV, JSONL and basket files: the **line** in the file where the record starts
  (the header is line 1), found by an exact second pass that honours quoted newlines;
* Parquet: the row index + 1.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from bundlewise.config import IngestConfig
from bundlewise.errors import SourceFileError
from bundlewise.progress import ProgressTask

if TYPE_CHECKING:  # pyarrow is imported where batches are made: mining a basket file never loads it
    import pyarrow as pa

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
REC = "_rec"
_BLOCK_SIZE = 1 << 20  # bigger blocks make Arrow read further ahead (4 MiB: +70 MiB RSS, no faster)
_MAX_BLOCK_SIZE = 1 << 30
_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class SourceInfo:
    """What is known about an input file before it is parsed."""

    path: Path
    name: str
    file_format: str
    compressed: bool
    size: int
    sha256: str


class TypedParseFailed(Exception):
    """A column hinted as number/timestamp held a value that does not convert: read again as text."""


@dataclass
class StructuralProblem:
    """A record that could not become a row at all (wrong field count, bad JSON)."""

    row_number: int
    text: str
    reason: str


def inspect_source(path: str | Path, cfg: IngestConfig, *, digest: bool = True) -> SourceInfo:
    """Check that ``path`` is a readable, non-empty file; detect format and compression; hash it (the ingest log
    keys files by it; ``digest=False``: ``sha256`` is ``""``, for a reader that stores nothing)."""
    p = Path(path)
    if not p.exists():
        raise SourceFileError(f"file {str(p)!r} does not exist; check the path")
    if p.is_dir():
        raise SourceFileError(f"{str(p)!r} is a folder; pass the data file(s) inside it")
    size = p.stat().st_size
    if size == 0:
        raise SourceFileError(f"file {p.name!r} is empty (0 bytes); nothing to ingest")
    sha = hashlib.sha256()
    with p.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        for chunk in iter(lambda: fh.read(1 << 20), b"") if digest else ():
            sha.update(chunk)
    compressed = head[:2] == GZIP_MAGIC
    fmt = cfg.file_format
    if fmt == "auto":
        fmt = _format_from_name(p, head)
    return SourceInfo(p, p.name, fmt, compressed, size, sha.hexdigest() if digest else "")


def _format_from_name(p: Path, head: bytes) -> str:
    if head == PARQUET_MAGIC:
        return "parquet"
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise SourceFileError(
        f"cannot tell the format of {p.name!r} from its extension; use one of "
        f"{', '.join(sorted(_EXTENSIONS))} (optionally + .gz) or pass --format csv|tsv|parquet|jsonl|baskets"
    )


def _open_binary(info: SourceInfo) -> IO[bytes]:
    raw = info.path.open("rb")
    return gzip.GzipFile(fileobj=raw, mode="rb") if info.compressed else raw  # type: ignore[return-value]


def _detect_encoding(info: SourceInfo, requested: str | None) -> str:
    if requested:
        try:
            "".encode(requested)
        except LookupError:
            raise SourceFileError(
                f"encoding {requested!r} is unknown; use a Python codec name such as utf-8, latin-1, cp1252, "
                "gbk or utf-16"
            ) from None
        return requested
    with _open_binary(info) as fh:
        try:
            head = fh.read(4)
        except (OSError, EOFError) as exc:
            raise SourceFileError(f"file {info.name!r} is not a valid gzip file: {exc}") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8"


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


class TableReader:
    """Base class: streams record batches with a ``_rec`` column and locates rows on demand.

    Subclasses know their columns when constructed (a header, a schema), implement
    :meth:`_batches` and may override :meth:`row_numbers`.
    """

    def __init__(self, info: SourceInfo, cfg: IngestConfig):
        self.info = info
        self.cfg = cfg
        self.columns: list[str] = []
        self.types: dict[str, pa.DataType] = {}
        self.structural: list[StructuralProblem] = []
        self.n_records = 0
        self.failure: Exception | None = None
        # Columns with an empty header name, labelled "(unnamed column N)": never mapped; a value in one
        # is kept like any unmapped column, an empty one adds nothing (see Binder.attributes_json).
        self.unnamed: list[str] = []
        # Columns whose file type cannot feed a canonical field (nested: list, struct, map): staged as
        # JSON text; binding one is refused with its type (see Binder.refuse_incompatible).
        self.nested: dict[str, str] = {}
        # The file's own type of each column, for messages ("int64", "list<item: int64>"); text formats: "text".
        self.source_types: dict[str, str] = {}

    def _batches(self, task: ProgressTask) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def use_types(self, hints: dict[str, pa.DataType]) -> None:
        """Parse these text columns as typed while reading, when the format allows (CSV does)."""
        return None

    def structural_problems(self) -> list[StructuralProblem]:
        return self.structural

    def n_structural(self) -> int:
        """How many records were malformed (cheap; positions come from structural_problems())."""
        return len(self.structural)

    def row_numbers(self, recs: np.ndarray) -> np.ndarray:
        """Map kept-record indices (``_rec``) to the row numbers users see."""
        return np.asarray(recs, dtype=np.int64) + 1

    def value_range(self, column: str) -> tuple[float, float] | None:
        """Smallest and largest value of a numeric column (None: not known without reading as text).

        Used to recognise integer epoch timestamps (see ``sqlexpr.epoch_unit``); only typed formats
        (Parquet) can answer."""
        return None

    def stage_names(self) -> list[str]:
        """The names the columns take in the staged tables: positional, so no file column can shadow
        ``_rec``, ``_bad`` or any other internal column, and DuckDB's case-insensitive identifiers never
        merge two file columns."""
        return [f"c{i}" for i in range(1, len(self.columns) + 1)]

    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([*(pa.field(c, self.types[c]) for c in self.columns), pa.field(REC, pa.int64())])

    def stream(self, task: ProgressTask) -> pa.RecordBatchReader:
        """All records as one Arrow stream that DuckDB can scan without copying it first.

        An exception raised while streaming is kept in :attr:`failure` (DuckDB wraps
        errors raised inside a scan, so the caller re-raises the original).
        """
        import pyarrow as pa

        schema = self.schema()

        def gen() -> Iterator[pa.RecordBatch]:
            try:
                for batch in self._batches(task):
                    if batch.num_rows:
                        yield self._with_rec(batch, schema)
            except Exception as exc:
                self.failure = exc
                raise

        return pa.RecordBatchReader.from_batches(schema, gen())

    def _with_rec(self, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
        import pyarrow as pa

        recs = pa.array(np.arange(self.n_records, self.n_records + batch.num_rows, dtype=np.int64))
        self.n_records += batch.num_rows
        # By position: a file may hold several unnamed columns (all called "" by Arrow).
        columns = [batch.column(i).cast(self.types[c]) if batch.schema.field(i).type != self.types[c]
                   else batch.column(i) for i, c in enumerate(self.columns)]
        return pa.RecordBatch.from_arrays([*columns, recs], schema=schema)


def unnamed_label(position: int) -> str:
    """How a column without a header name is shown in messages (1-based position)."""
    return f"(unnamed column {position})"


def check_header(names: list[str], source: str) -> tuple[list[str], list[str]]:
    """Validate a header; return the column names (unnamed ones labelled) and the unnamed labels.

    Refused: a name that appears twice, and two names that differ only by case (``Note``/``note``):
    columns bind to fields case-insensitively, so one of the two values would be lost.
    """
    labels: list[str] = []
    unnamed: list[str] = []
    seen: dict[str, int] = {}
    folded: dict[str, tuple[str, int]] = {}
    for i, name in enumerate(names, start=1):
        if not name.strip():
            labels.append(unnamed_label(i))
            unnamed.append(labels[-1])
            continue
        if name in seen:
            raise SourceFileError(
                f"{source}: column name {name!r} appears twice in the header (columns {seen[name]} and {i}); "
                "rename one of them"
            )
        other = folded.get(name.casefold())
        if other is not None:
            raise SourceFileError(
                f"{source}: columns {other[0]!r} (column {other[1]}) and {name!r} (column {i}) differ only by "
                "case; bundlewise matches column names case-insensitively, so one of them would be lost: "
                "rename or remove one of them"
            )
        seen[name] = i
        folded[name.casefold()] = (name, i)
        labels.append(name)
    if len(labels) != len(set(labels)):  # a real column called "(unnamed column 3)": absurd, still refused
        raise SourceFileError(f"{source}: a column is named like bundlewise's label for an unnamed column "
                              "('(unnamed column N)'); rename it")
    return labels, unnamed
