"""Property tests: any CSV a spreadsheet or a script may write reads back exactly.

Quotes, delimiters and newlines inside fields, a UTF-8 byte-order mark, CRLF line ends,
blank lines between records, Chinese and other non-ASCII titles and very long fields:
titles round-trip, and a bad value is reported on the line where its record starts.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundlewise.config import IngestConfig
from bundlewise.errors import DataValidationError
from bundlewise.ingest import Warehouse, ingest_files

_ALPHABET = st.sampled_from(list('abcXYZ 019,;"\'\t\n\r\\|éü运动鞋跑步袜ß€🙂') + ["\u00a0"])
titles = st.one_of(
    st.text(_ALPHABET, min_size=0, max_size=30),
    # very long fields (a short random piece repeated, so generation stays cheap)
    st.builds(lambda piece, n: piece * n, st.text(_ALPHABET, min_size=1, max_size=8), st.integers(500, 2000)),
)


def _render(rows: list[list[str]], *, crlf: bool, bom: bool, blank_after: set[int]) -> tuple[bytes, list[int]]:
    """CSV bytes plus the 1-based line (counted in '\\n') where each data record starts."""
    newline = "\r\n" if crlf else "\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow(["product_id", "title", "price"])
    starts = []
    for i, row in enumerate(rows):
        starts.append(buf.getvalue().count("\n") + 1)
        # Python's writer leaves a lone '\r' unquoted when the line end is '\n' (every reader would then
        # break the line there): quote such rows, as a careful writer does.
        quoting = csv.QUOTE_ALL if any("\r" in f for f in row) else csv.QUOTE_MINIMAL
        csv.writer(buf, lineterminator=newline, quoting=quoting).writerow(row)
        if i in blank_after:
            buf.write(newline)
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data if bom else data), starts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    data=st.lists(titles, min_size=1, max_size=12),
    crlf=st.booleans(),
    bom=st.booleans(),
    blanks=st.sets(st.integers(0, 11), max_size=3),
    bad=st.one_of(st.none(), st.integers(0, 11)),
)
def test_csv_round_trip_and_row_numbers(data: list[str], crlf: bool, bom: bool, blanks: set[int],
                                        bad: int | None) -> None:
    rows = [[f"p{i}", title, "1.5"] for i, title in enumerate(data)]
    if bad is not None:
        bad %= len(rows)
        rows[bad][2] = "12,50 €"
    content, starts = _render(rows, crlf=crlf, bom=bom, blank_after=blanks)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.csv"
        path.write_bytes(content)
        with Warehouse(":memory:") as wh:
            cfg = IngestConfig(kind="products")
            if bad is not None:
                try:
                    ingest_files(wh, [path], cfg)
                except DataValidationError as exc:
                    [problem] = exc.problems
                    assert (problem.row_number, problem.column, problem.value) == (starts[bad], "price", "12,50 €")
                else:
                    raise AssertionError("a bad price was accepted")
                assert wh.counts()["products"] == 0
                return
            ingest_files(wh, [path], cfg)
            got = dict(wh.con.execute("SELECT product_id, title FROM products").fetchall())
    # text fields lose spaces (NBSP too), tabs and line breaks at both ends; an all-blank field is missing
    expected = {f"p{i}": (t.strip(" \t\r\n\xa0") or None) for i, t in enumerate(data)}
    assert got == expected
