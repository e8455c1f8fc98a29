"""Basket files: one basket per line, items separated by the delimiter (the arules/Groceries layout).

Lines are parsed with the ``csv`` module's rules (Excel quoting, ``\\n``, ``\\r\\n`` or ``\\r`` line
ends), but most basket files hold no quote at all: for those, blocks of lines are split with
``str.split``, which gives the same records ~5x faster (``bundlewise rules --baskets`` spends most
of its time reading). The first block with a quote (or a byte the encoding rejects, or a corrupt
gzip stream) hands the whole file to the ``csv`` module, which skips the records already given:
errors are the ``csv`` path's, with its line numbers. pyarrow is imported only to make ingest batches.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.config import IngestConfig
from bundlewise.errors import SourceFileError
from bundlewise.ingest.readers.base import _BATCH_ROWS, SourceInfo, TableReader, _detect_encoding, _is_utf8
from bundlewise.progress import ProgressTask

if TYPE_CHECKING:
    import pyarrow as pa

_BLOCK_BYTES = 1 << 22  # 4 MiB of the file per split: few Python-level steps, bounded memory
_PLAIN_LIMIT = 1 << 26  # files read whole (64 MiB: the token arrays take ~10x that much); larger ones stream
_SPACE = re.compile(r"[^\S\n]")  # whitespace str.strip() would remove, line ends aside
_QUOTE = '"'  # the csv module's default quote character


class _NeedsCsv(Exception):
    """A block the plain split cannot read exactly: parse the file with the csv module."""


class BasketReader(TableReader):
    """One basket per line, items separated by the delimiter (the arules/Groceries layout).

    Yields long rows ``basket, item`` where ``basket`` is ``<file name>:<n>``, n the basket's
    1-based number among non-blank lines, so two basket files never share an order id.
    Items are stripped of surrounding whitespace; empty items and blank lines are skipped.
    """

    def __init__(self, info: SourceInfo, cfg: IngestConfig):
        super().__init__(info, cfg)
        self.encoding = _detect_encoding(info, cfg.encoding)
        self.delimiter = cfg.delimiter or ","
        self.columns = ["basket", "item"]
        self._types: dict[str, pa.DataType] | None = None
        self._line_of_rec: list[int] = []
        self.block_bytes = _BLOCK_BYTES

    @property  # type: ignore[override]
    def types(self) -> dict[str, pa.DataType]:
        """Both columns are text (made on first use: reading baskets into lists needs no pyarrow)."""
        if self._types is None:
            import pyarrow as pa

            self._types = {"basket": pa.string(), "item": pa.string()}
        return self._types

    @types.setter
    def types(self, value: dict[str, pa.DataType]) -> None:
        self._types = value or None  # the base class starts with {}: ours are made when asked for

    def plain_bytes(self, limit: int = _PLAIN_LIMIT) -> bytes | None:
        """The file's bytes (decompressed) when it is UTF-8 (or ASCII) text of at most ``limit`` bytes, else None
        (also for a corrupt gzip stream: :meth:`records` reports it). Whether they are plain enough to split
        without the csv rules is :meth:`bundlewise.mining.Baskets.from_plain_text`'s to say."""
        if not _is_utf8(self.encoding) or (not self.info.compressed and self.info.size > limit):
            return None
        try:
            with self.info.path.open("rb") as raw_fh:
                fh = gzip.GzipFile(fileobj=raw_fh, mode="rb") if self.info.compressed else raw_fh
                data = fh.read(limit + 1)
        except Exception:  # a corrupt stream: the csv path says so, as it always did
            return None
        return data if len(data) <= limit else None

    def records(self, task: ProgressTask) -> Iterator[tuple[int, list[str]]]:
        """``(first line number, items)`` of each non-blank basket; plain Python, no Arrow (``rules --baskets``)."""
        encoding = "utf-8-sig" if _is_utf8(self.encoding) else self.encoding
        task.update(total=self.info.size)
        n_baskets = 0
        if len(self.delimiter) == 1 and self.delimiter not in (_QUOTE, "\r", "\n"):
            split = self._split_records(encoding, task)
            try:
                for record in split:
                    n_baskets += 1
                    yield record
            except _NeedsCsv:
                pass
            else:
                if n_baskets == 0:
                    raise SourceFileError(f"file {self.info.name!r} has no baskets (every line is blank)")
                return
        yield from self._csv_records(encoding, task, skip=n_baskets)

    def _split_records(self, encoding: str, task: ProgressTask) -> Iterator[tuple[int, list[str]]]:
        """The records of a file without quotes, split block by block; raises _NeedsCsv at the first block that
        needs the csv module (its records and the later ones are not yielded)."""
        decoder = codecs.getincrementaldecoder(encoding)()
        line_no = 0
        carry = ""
        with self.info.path.open("rb") as raw_fh:
            fh = gzip.GzipFile(fileobj=raw_fh, mode="rb") if self.info.compressed else raw_fh
            while True:
                try:  # a corrupt gzip stream or a byte the encoding rejects: the csv path says where
                    chunk = fh.read(self.block_bytes)
                    text = carry + decoder.decode(chunk, final=not chunk)
                except Exception:  # whatever it is, the csv path raises it as before, with its line
                    raise _NeedsCsv from None
                if chunk:
                    cut = text.rfind("\n") + 1
                    block, carry = text[:cut], text[cut:]
                else:
                    block, carry = text, ""
                if _QUOTE in block:
                    raise _NeedsCsv
                if "\r" in block:  # csv ends lines at \r\n and a lone \r too (a block never ends inside \r\n)
                    block = block.replace("\r\n", "\n").replace("\r", "\n")
                if block:
                    yield from self._split_block(block, line_no)
                    line_no += block.count("\n") + (not block.endswith("\n"))
                task.update(completed=raw_fh.tell())
                if not chunk:
                    return

    def _split_block(self, block: str, line_no: int) -> Iterator[tuple[int, list[str]]]:
        """The records of ``block`` (whole lines ending in ``\\n``, no quote), numbered from ``line_no + 1``."""
        d = self.delimiter
        lines = block.split("\n")
        if block.endswith("\n"):
            lines.pop()  # nothing after the last line end
        strip = _SPACE.search(block) is not None
        empties = strip or (d + d in block or "\n" + d in block or d + "\n" in block or block.startswith(d)
                            or block.endswith(d))
        for line in lines:
            line_no += 1
            if not line:
                continue
            items = line.split(d)
            if strip:
                items = [x for x in map(str.strip, items) if x]
            elif empties:
                items = [x for x in items if x]
            if items:
                yield line_no, items

    def _csv_records(self, encoding: str, task: ProgressTask, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
        """The records as the csv module reads them, but the first ``skip`` (already given by the split)."""
        csv.field_size_limit(sys.maxsize)
        n_baskets = n_items = 0
        with self.info.path.open("rb") as raw_fh:
            fh = gzip.GzipFile(fileobj=raw_fh, mode="rb") if self.info.compressed else raw_fh
            text = io.TextIOWrapper(fh, encoding=encoding, newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            prev_end = 0
            try:
                for record in reader:
                    start = prev_end + 1
                    prev_end = reader.line_num
                    record = [x.strip() for x in record if x.strip()]
                    if not record:
                        continue
                    n_baskets += 1
                    if n_baskets <= skip:
                        continue
                    n_items += len(record)
                    if n_items >= _BATCH_ROWS:
                        task.update(completed=raw_fh.tell())
                        n_items = 0
                    yield start, record
            except UnicodeDecodeError as err:
                raise SourceFileError(
                    f"{self.info.name} line {prev_end + 1:,}: byte {err.object[err.start:err.end]!r} is not "
                    f"valid {encoding}; pass --encoding latin-1 (or cp1252, gbk) or re-save as UTF-8") from None
        if n_baskets == 0:
            raise SourceFileError(f"file {self.info.name!r} has no baskets (every line is blank)")

    def _batches(self, task: ProgressTask) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        baskets: list[str] = []
        items: list[str] = []
        self._line_of_rec = []
        for n_baskets, (start, record) in enumerate(self.records(task), 1):
            label = f"{self.info.name}:{n_baskets}"
            for item in record:
                baskets.append(label)
                items.append(item)
                self._line_of_rec.append(start)
            if len(items) >= _BATCH_ROWS:
                yield pa.record_batch({"basket": baskets, "item": items})
                baskets, items = [], []
        if items:
            yield pa.record_batch({"basket": baskets, "item": items})

    def row_numbers(self, recs: np.ndarray) -> np.ndarray:
        return np.asarray(self._line_of_rec, dtype=np.int64)[np.asarray(recs, dtype=np.int64)]
