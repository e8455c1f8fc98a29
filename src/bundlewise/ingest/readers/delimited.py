"""Delimited text (CSV/TSV, Excel-style quoting, any encoding); basket files are :mod:`.basketfile`'s."""

from __future__ import annotations

import csv
import io
import logging
import sys
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from bundlewise.config import IngestConfig
from bundlewise.errors import SourceFileError
from bundlewise.ingest.readers.base import (
    _BLOCK_SIZE,
    _MAX_BLOCK_SIZE,
    SourceInfo,
    StructuralProblem,
    TableReader,
    TypedParseFailed,
    _detect_encoding,
    _is_utf8,
    _open_binary,
    check_header,
)
from bundlewise.progress import ProgressTask

log = logging.getLogger(__name__)


class CsvReader(TableReader):
    """Delimited text (CSV/TSV), parsed by Arrow's multithreaded reader, all columns as text."""

    def __init__(self, info: SourceInfo, cfg: IngestConfig, block_size: int = _BLOCK_SIZE):
        super().__init__(info, cfg)
        self.encoding = _detect_encoding(info, cfg.encoding)
        self.delimiter = cfg.delimiter or ("\t" if info.file_format == "tsv" else ",")
        self.block_size = block_size
        self._lines: np.ndarray | None = None
        self._invalid_texts: list[str] = []
        self._file_names: dict[str, str] = {}
        self._read_header()

    def use_types(self, hints: dict[str, pa.DataType]) -> None:
        """Let Arrow parse these columns as numbers/timestamps while reading (much faster than text
        plus casts). If any value does not convert, streaming raises :class:`TypedParseFailed` and the
        caller reads the file again as text, where every bad value is reported with its row."""
        self.types.update({c: t for c, t in hints.items() if c in self.types})

    # Arrow's invalid-row handler: count and keep the text; the position comes from _locate().
    def _on_invalid(self, row: pacsv.InvalidRow) -> str:
        self._invalid_texts.append(row.text)
        return "skip"

    def _open(self, column_types: dict[str, pa.DataType] | None,
              block_size: int | None = None) -> tuple[pacsv.CSVStreamingReader, pa.NativeFile]:
        raw = pa.OSFile(str(self.info.path))
        stream: pa.NativeFile = pa.CompressedInputStream(raw, "gzip") if self.info.compressed else raw
        read = pacsv.ReadOptions(block_size=block_size or self.block_size, use_threads=True,
                                 encoding="utf8" if _is_utf8(self.encoding) else self.encoding)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                   invalid_row_handler=self._on_invalid)
        # Only an empty field is null: 'NA', 'NULL', 'nan' stay values (and fail as numbers, visibly).
        convert = pacsv.ConvertOptions(column_types=column_types or {}, strings_can_be_null=False,
                                       quoted_strings_can_be_null=False, null_values=[""])
        try:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            raw.close()
            raise self._translate(exc) from None
        return reader, raw

    def _read_header(self) -> None:
        probe_block = 1 << 20  # the header only needs the first block: keep it small
        while True:
            try:
                probe, raw = self._open(None, probe_block)
            except SourceFileError as exc:
                if "straddl" in str(exc) and probe_block < _MAX_BLOCK_SIZE:
                    probe_block *= 4  # a field longer than a block: retry with bigger blocks
                    self.block_size = max(self.block_size, probe_block)
                    continue
                raise
            break
        names = probe.schema.names
        raw.close()
        self._invalid_texts.clear()  # the probe parsed the first block: its malformed rows are counted later
        self.columns, self.unnamed = check_header(names, self.info.name)
        self._file_names = dict(zip(self.columns, names, strict=True))
        self.types = {n: pa.string() for n in self.columns}
        self.source_types = dict.fromkeys(self.columns, "text")

    def _batches(self, task: ProgressTask) -> Iterator[pa.RecordBatch]:
        self._invalid_texts.clear()
        # Arrow knows columns by their header names: every unnamed one is "" (always text here).
        reader, raw = self._open({self._file_names[c]: t for c, t in self.types.items()})
        got_rows = False
        try:
            for batch in reader:
                task.update(completed=raw.tell())
                got_rows = got_rows or batch.num_rows > 0
                yield batch
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            raise self._translate(exc) from None
        finally:
            raw.close()
        if not got_rows and not self._invalid_texts:
            raise SourceFileError(f"file {self.info.name!r} has a header but no data rows")

    def _translate(self, exc: Exception) -> Exception:
        text = str(exc)
        if "UTF8" in text or "utf8" in text.lower() or isinstance(exc, UnicodeDecodeError):
            return self._encoding_error()
        if "conversion error" in text and any(t != pa.string() for t in self.types.values()):
            return TypedParseFailed(text)
        if "Empty CSV file" in text:
            return SourceFileError(f"file {self.info.name!r} has no header and no data rows")
        if "straddl" in text or "block size" in text.lower():
            return SourceFileError(
                f"{self.info.name}: a single field is longer than {self.block_size >> 20} MiB (straddling "
                "blocks); split it or check that quotes are balanced")
        if "gzip" in text.lower() or isinstance(exc, (EOFError, OSError)):
            return SourceFileError(f"{self.info.name}: the compressed data is corrupt or truncated ({text})")
        return SourceFileError(f"{self.info.name}: cannot parse as {self.info.file_format.upper()}: {text}")

    def _encoding_error(self) -> SourceFileError:
        """Find the first byte that is not valid in the declared encoding and say where it is."""
        decoder = "utf-8" if _is_utf8(self.encoding) else self.encoding
        with _open_binary(self.info) as fh:
            data = fh.read()
        try:
            data.decode(decoder)
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
            context = data[max(0, err.start - 20): err.start + 10].decode(decoder, errors="replace")
            return SourceFileError(
                f"{self.info.name} line {line:,}, byte {col}: {data[err.start:err.end]!r} is not valid {decoder} "
                f"(near {context!r}); the file is probably latin-1/cp1252 (Excel) or GBK: pass --encoding "
                "latin-1 (or cp1252, gbk) or re-save it as UTF-8")
        return SourceFileError(f"{self.info.name}: text is not valid {decoder}")

    # -- exact row numbers (error path only) -----------------------------------------
    def _locate(self) -> None:
        if self._lines is not None:
            return
        csv.field_size_limit(sys.maxsize)
        encoding = "utf-8-sig" if _is_utf8(self.encoding) else self.encoding
        kept: list[int] = []
        n_columns = len(self.columns)
        self.structural = []
        with _open_binary(self.info) as fh:
            # Lines are counted in '\n' (as editors and `sed -n Np` do); '\r\n' ends are handled by csv.
            text = io.TextIOWrapper(fh, encoding=encoding, newline="\n", errors="replace")
            reader = csv.reader(text, delimiter=self.delimiter)
            prev_end = 0
            header_done = False
            for record in reader:
                start = prev_end + 1
                prev_end = reader.line_num
                if not record:
                    continue
                if not header_done:
                    header_done = True
                    continue
                if len(record) == n_columns:
                    kept.append(start)
                else:
                    self.structural.append(StructuralProblem(
                        start, self.delimiter.join(record),
                        f"expected {n_columns} fields (as in the header), found {len(record)}; "
                        "check for an unquoted delimiter or a missing quote"))
        self._lines = np.asarray(kept, dtype=np.int64)

    def n_structural(self) -> int:
        return len(self._invalid_texts)

    def structural_problems(self) -> list[StructuralProblem]:
        if self._invalid_texts:
            self._locate()
            if len(self.structural) != len(self._invalid_texts):
                log.warning("%s: the exact pass found %d malformed records, Arrow found %d",
                            self.info.name, len(self.structural), len(self._invalid_texts))
        return self.structural

    def row_numbers(self, recs: np.ndarray) -> np.ndarray:
        self._locate()
        assert self._lines is not None
        recs = np.asarray(recs, dtype=np.int64)
        if len(self._lines) != self.n_records:
            # The two parsers disagree (should not happen with RFC 4180 files): fall back to record numbers.
            log.warning("%s: cannot map records to lines exactly; reporting record numbers", self.info.name)
            return recs + 2
        return self._lines[recs]
