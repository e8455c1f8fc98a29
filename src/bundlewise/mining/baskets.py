"""Baskets as a sparse basket x product incidence (CSR), and the ways to get them.

Item codes index :attr:`Baskets.item_ids`, which is sorted, so codes and every result
built on them are deterministic for the same input.

Examples
--------
>>> b = Baskets.from_lists([["milk", "bread"], ["milk"], ["bread", "jam", "milk"]])
>>> b.n_baskets, b.n_items, b.item_ids.tolist()
(3, 3, ['bread', 'jam', 'milk'])
>>> b.sizes().tolist()
[2, 1, 3]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from bundlewise.errors import ConfigError
from bundlewise.mining import _native

if TYPE_CHECKING:  # pyarrow is imported by the long-format constructor: baskets from lists never load it
    import pyarrow as pa


@dataclass(frozen=True)
class Baskets:
    """Distinct products per basket.

    Attributes
    ----------
    indptr : int64 array, shape (n_baskets + 1,)
    indices : int32 array, shape (nnz,)
        Item codes of each basket, increasing within a basket.
    item_ids : array of str, shape (n_items,)
        Sorted product ids; code ``i`` is ``item_ids[i]``.
    basket_ids : array of str or None, shape (n_baskets,)
    timestamps : datetime64[us] array or None, shape (n_baskets,)
        When each basket was bought (needed for time decay).
    """

    indptr: np.ndarray
    indices: np.ndarray
    item_ids: np.ndarray
    basket_ids: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def n_baskets(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def sizes(self) -> np.ndarray:
        """Distinct products in each basket."""
        return np.diff(self.indptr)

    def item_counts(self) -> np.ndarray:
        """Baskets holding each item."""
        return np.bincount(self.indices, minlength=self.n_items).astype(np.int64)

    def to_lists(self) -> list[list[str]]:
        ids = self.item_ids
        return [ids[self.indices[s:e]].tolist() for s, e in zip(self.indptr[:-1], self.indptr[1:], strict=True)]

    # -- selection ---------------------------------------------------------------------
    def select(self, mask: np.ndarray) -> Baskets:
        """The baskets where ``mask`` is true (same item vocabulary)."""
        mask = np.asarray(mask, dtype=bool)
        sizes = self.sizes()[mask]
        entry_mask = np.repeat(mask, self.sizes())
        indptr = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        return Baskets(indptr, self.indices[entry_mask], self.item_ids,
                       None if self.basket_ids is None else self.basket_ids[mask],
                       None if self.timestamps is None else self.timestamps[mask], dict(self.meta))

    def cap_size(self, max_size: int | None) -> tuple[Baskets, int]:
        """Drop baskets with more than ``max_size`` distinct products; return them and how many went."""
        if max_size is None:
            return self, 0
        keep = self.sizes() <= max_size
        n_dropped = int((~keep).sum())
        return (self if n_dropped == 0 else self.select(keep)), n_dropped

    def with_vocabulary(self, item_ids: np.ndarray) -> Baskets:
        """Re-express the codes against a larger sorted vocabulary that contains every item here."""
        item_ids = np.asarray(item_ids, dtype=object)
        remap = np.searchsorted(item_ids, self.item_ids).astype(np.int32)
        if len(self.item_ids) and not np.array_equal(item_ids[remap], self.item_ids):
            missing = sorted(set(self.item_ids.tolist()) - set(item_ids.tolist()))
            raise ConfigError(f"the new vocabulary must contain every item of these baskets; it lacks "
                              f"{len(missing):,}, e.g. {missing[:5]}")
        # The map is increasing, so rows stay sorted.
        return Baskets(self.indptr, remap[self.indices], item_ids, self.basket_ids, self.timestamps, dict(self.meta))

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_codes(cls, basket_codes: np.ndarray, item_codes: np.ndarray, item_ids: Sequence[str] | np.ndarray,
                   n_baskets: int | None = None, basket_ids: np.ndarray | None = None,
                   timestamps: np.ndarray | None = None) -> Baskets:
        """From integer codes (``item_ids`` must be sorted); duplicates within a basket collapse."""
        basket_codes = np.asarray(basket_codes, dtype=np.int64)
        if n_baskets is None:
            n_baskets = int(basket_codes.max()) + 1 if len(basket_codes) else 0
        indptr, indices = _native.csr_from_codes(basket_codes, item_codes, n_baskets)
        return cls(indptr, indices, np.asarray(item_ids, dtype=object), basket_ids, timestamps)

    @classmethod
    def from_long(cls, basket_ids: Sequence[object] | np.ndarray | pa.Array,
                  item_ids: Sequence[object] | np.ndarray | pa.Array,
                  timestamps: Sequence[object] | np.ndarray | pa.Array | None = None) -> Baskets:
        """From one row per (basket, item); baskets keep their order of first appearance.

        Examples
        --------
        >>> Baskets.from_long(["o1", "o1", "o2"], ["milk", "jam", "milk"]).to_lists()
        [['jam', 'milk'], ['milk']]
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        baskets = _as_text_array(basket_ids)
        items = _as_text_array(item_ids)
        if len(baskets) != len(items):
            raise ConfigError(f"basket_ids has {len(baskets)} rows but item_ids has {len(items)}; give one "
                              "basket id per item row")
        if items.null_count or baskets.null_count:
            raise ConfigError("basket and item ids must not be missing")
        b_enc = pc.dictionary_encode(baskets).combine_chunks() if isinstance(baskets, pa.ChunkedArray) \
            else pc.dictionary_encode(baskets)
        i_enc = pc.dictionary_encode(items).combine_chunks() if isinstance(items, pa.ChunkedArray) \
            else pc.dictionary_encode(items)
        vocab, rank = _sorted_vocabulary(i_enc.dictionary)
        item_codes = rank[i_enc.indices.to_numpy(zero_copy_only=False)]
        basket_codes = b_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        n_baskets = len(b_enc.dictionary)
        ts = None
        if timestamps is not None:
            if isinstance(timestamps, (pa.Array, pa.ChunkedArray)):
                timestamps = timestamps.to_numpy(zero_copy_only=False)
            t = np.asarray(timestamps, dtype="datetime64[us]")
            ts = np.full(n_baskets, np.datetime64("NaT"), dtype="datetime64[us]")
            ts[basket_codes[::-1]] = t[::-1]  # the first row of each basket wins
        return cls.from_codes(basket_codes, item_codes, vocab, n_baskets,
                              np.asarray(b_enc.dictionary.to_pylist(), dtype=object), ts)

    @classmethod
    def from_lists(cls, baskets: Iterable[Iterable[object]]) -> Baskets:
        """From an iterable of baskets (each an iterable of product ids; non-strings become text)."""
        rows = baskets if isinstance(baskets, (list, tuple)) else list(baskets)
        indptr, codes, first_seen = _native.encode_lists(rows)
        vocab, rank = _sorted_vocabulary(first_seen)
        indptr, indices = _native.sort_rows(indptr, rank[codes])
        return cls(indptr, indices, vocab)

    @classmethod
    def from_plain_text(cls, data: bytes, delimiter: str = ",") -> Baskets | None:
        """Baskets of a basket file's bytes, one basket per line, when they are plain: ASCII, no quote, no
        whitespace but line ends (and the delimiter), no NUL; None otherwise (read those with the csv rules).

        Gives what :meth:`from_lists` gives for the csv module's records of the same text (empty items and
        blank lines skipped, ``\\r\\n`` or ``\\r`` line ends), but tokenises in the native kernel
        (one Python string per distinct item, not per item): ~10x faster on a retail basket file.

        Examples
        --------
        >>> Baskets.from_plain_text(b"tea,milk\\n\\njam,,tea,tea\\r\\n").to_lists()
        [['milk', 'tea'], ['jam', 'tea']]
        >>> Baskets.from_plain_text(b'"tea, green",milk\\n') is None
        True
        """
        data = plain_basket_text(data, delimiter)  # type: ignore[assignment]
        if data is None:
            return None
        indptr, codes, first_seen = _native.encode_text(data, delimiter)
        vocab, rank = _sorted_vocabulary(first_seen)
        indptr, indices = _native.sort_rows(indptr, rank[codes])  # sorted, duplicates collapsed (as from_lists)
        return cls(indptr, indices, vocab)


_WHITESPACE = b" \t\x0b\x0c\x1c\x1d\x1e\x1f"  # ASCII characters str.strip() removes, line ends aside


def plain_basket_text(data: bytes, delimiter: str = ",") -> bytes | None:
    """``data`` with ``\\n`` line ends and a final one when it is plain (see :meth:`Baskets.from_plain_text`),
    else None: a cheap test (a few scans of the bytes) to make before reading them so."""
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in "\"\r\n\x00" or not data.isascii():
        return None
    d = delimiter.encode()
    if b'"' in data or b"\x00" in data or any(c in data for c in _WHITESPACE.replace(d, b"")):
        return None
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if re.search(b"[^" + re.escape(d) + b"\n]", data) is None:  # no item at all (stops at the first one)
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    return data


def _sorted_vocabulary(dictionary: pa.Array | list) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """The dictionary sorted (so codes do not depend on row order) and each entry's rank in it."""
    values = dictionary if isinstance(dictionary, list) else dictionary.to_pylist()
    vocab = np.empty(len(values), dtype=object)
    vocab[:] = values
    order = np.argsort(vocab.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return vocab[order], rank


def _as_text_array(values: object) -> pa.Array | pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    else:
        arr = pa.array(np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    return arr


def decay_weights(timestamps: np.ndarray, half_life_days: float, reference: datetime | np.datetime64 | None = None
                  ) -> tuple[np.ndarray, np.datetime64]:
    """Weight ``0.5 ** (age / half_life)`` of each basket; age is measured from ``reference``
    (default: the newest basket), so the newest basket weighs 1.

    Examples
    --------
    >>> ts = np.array(["2024-01-01", "2024-01-08", "2024-01-15"], dtype="datetime64[us]")
    >>> decay_weights(ts, 7.0)[0].tolist()
    [0.25, 0.5, 1.0]
    """
    if half_life_days <= 0:
        raise ConfigError(f"half_life_days is {half_life_days}; it must be > 0 (or None for no decay)")
    ts = np.asarray(timestamps, dtype="datetime64[us]")
    if np.isnat(ts).any():
        raise ConfigError(f"time decay needs a timestamp for every basket; {int(np.isnat(ts).sum()):,} baskets have "
                          "none (load orders with ordered_at, or drop --half-life-days)")
    ref = np.datetime64(reference, "us") if reference is not None else ts.max()
    age_days = (ref - ts).astype(np.float64) / 86_400e6
    return np.power(0.5, age_days / half_life_days), ref
