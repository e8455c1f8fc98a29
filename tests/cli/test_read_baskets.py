"""``rules --baskets`` reads a plain file with numpy: the same baskets as the csv rules give, or it defers to them."""

from __future__ import annotations

import gzip
import random
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from bundlewise.cli._rules import read_baskets
from bundlewise.errors import SourceFileError
from bundlewise.mining.baskets import Baskets
from bundlewise.mining.source import read_basket_file
from bundlewise.progress import NULL_PROGRESS


class Recorder:
    """A progress that keeps the task descriptions and totals."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, float | None]] = []

    @contextmanager
    def task(self, description: str, total: float | None = None):  # type: ignore[no-untyped-def]
        self.tasks.append((description, total))
        with NULL_PROGRESS.task(description, total) as t:
            yield t


def _same(path: Path) -> Baskets:
    ours_progress, theirs_progress = Recorder(), Recorder()
    ours = read_baskets(path, ours_progress)  # type: ignore[arg-type]
    theirs = read_basket_file(path, progress=theirs_progress)  # type: ignore[arg-type]
    assert ours.indptr.dtype == theirs.indptr.dtype and ours.indices.dtype == theirs.indices.dtype
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    assert ours.item_ids.tolist() == theirs.item_ids.tolist() and ours.item_ids.dtype == object
    assert ours.basket_ids.tolist() == theirs.basket_ids.tolist()  # type: ignore[union-attr]
    assert ours.meta == theirs.meta and ours.timestamps is theirs.timestamps is None
    assert ours_progress.tasks == theirs_progress.tasks
    return ours


def _token(rng: random.Random) -> str:
    return "".join(rng.choice("AB0123xyz_-.") for _ in range(rng.choice([1, 2, 5, 6, 8, 8, 9, 12, 30])))


@pytest.mark.parametrize("seed", range(12))
def test_random_plain_files_give_the_csv_rules_baskets(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    pool = [_token(rng) for _ in range(rng.randint(1, 60))]
    lines = []
    for _ in range(rng.randint(1, 300)):
        items = [rng.choice(pool) if rng.random() > 0.05 else "" for _ in range(rng.randint(0, 9))]
        lines.append(",".join(items))
    end = rng.choice(["\n", "\r\n", "\r"])
    path = tmp_path / "b.txt"
    path.write_bytes((end.join(lines) + rng.choice(["", end])).encode("ascii") + b"x\n")
    baskets = _same(path)
    assert baskets.n_baskets >= 1


@pytest.mark.parametrize("text", [
    b'"tea, green",milk\njam\n',  # quoted: the csv rules
    b"tea , milk\njam\n",  # spaces to strip
    b"caf\xc3\xa9,milk\n",  # not ASCII
    b"\xef\xbb\xbftea,milk\n",  # a byte-order mark
    b"tea\x00,milk\n",
    b"tea\tmilk\x0bjam\n",
])
def test_other_files_are_read_by_the_csv_rules(tmp_path: Path, text: bytes) -> None:
    from bundlewise.mining.baskets import plain_basket_text

    assert plain_basket_text(text) is None
    path = tmp_path / "b.txt"
    path.write_bytes(text)
    _same(path)


def test_gzip_and_a_semicolon_free_file(tmp_path: Path) -> None:
    path = tmp_path / "b.txt.gz"
    path.write_bytes(gzip.compress(b"85123A,71053,84406B\n22423\n\n85123A,22423,POST\n"))
    baskets = _same(path)
    assert baskets.to_lists() == [["71053", "84406B", "85123A"], ["22423"], ["22423", "85123A", "POST"]]


@pytest.mark.parametrize("text", [b"", b",,\n\n", b"\x1f\x8b broken gzip"])
def test_errors_are_read_basket_files(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / ("b.txt.gz" if text.startswith(b"\x1f") else "b.txt")
    path.write_bytes(text)
    with pytest.raises(Exception) as ours:
        read_baskets(path, NULL_PROGRESS)
    with pytest.raises(Exception) as theirs:
        read_basket_file(path)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
    if text != b"\x1f\x8b broken gzip":
        assert isinstance(ours.value, SourceFileError)
