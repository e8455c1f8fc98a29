"""Baskets.from_plain_text: the native tokeniser gives what from_lists gives for the csv rules' records."""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest

from bundlewise.mining.baskets import Baskets


def _csv_lists(data: bytes, delimiter: str = ",") -> list[list[str]]:
    rows = csv.reader(io.StringIO(data.decode("ascii"), newline=""), delimiter=delimiter)
    return [r for r in ([x.strip() for x in row if x.strip()] for row in rows) if r]


def _assert_same(data: bytes, delimiter: str = ",") -> Baskets:
    ours = Baskets.from_plain_text(data, delimiter)
    assert ours is not None
    theirs = Baskets.from_lists(_csv_lists(data, delimiter))
    assert ours.indptr.dtype == np.int64 and ours.indices.dtype == np.int32 and ours.item_ids.dtype == object
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    assert ours.item_ids.tolist() == theirs.item_ids.tolist()
    return ours


def test_many_distinct_items_grow_the_hash_table_and_still_get_their_own_codes() -> None:
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
    pool = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(60_000)})
    lines = [",".join(rng.choice(pool) for _ in range(rng.randint(1, 8))) for _ in range(25_000)]
    baskets = _assert_same(("\n".join(lines) + "\n").encode())
    assert baskets.n_items > 40_000  # the table starts at 1,024 slots: it must grow many times


@pytest.mark.parametrize("data, delimiter", [
    (b"a;bb;;ccc\n;\n\nbb;a;a", ";"), (b"x\ty\r\ny\tz\r", "\t"), (b"12345678,123456789,1234567,12345678\n", ","),
    (b"-,.,_\n_,-\n", ","),
])
def test_small_files_and_other_delimiters(data: bytes, delimiter: str) -> None:
    _assert_same(data, delimiter)


@pytest.mark.parametrize("data", [b"", b",,\n\n", b"a b,c\n", b'a,"b"\n', b"\xc3\xa9\n", b"a\x00\n", b"a,\x1c\n"])
def test_text_that_is_not_plain_is_left_to_the_csv_rules(data: bytes) -> None:
    assert Baskets.from_plain_text(data) is None
