"""ctypes bindings of the native mining kernels (``_kernels.c``).

Arrays are passed as pointers; every wrapper checks dtype and contiguity first, so a
wrong array is a Python error, never a crash.
"""

from __future__ import annotations

import ctypes
import os
from functools import cache
from importlib import util

import numpy as np

from bundlewise.errors import BundlewiseError, ResourceLimitError

_i64 = ctypes.c_int64
_i32 = ctypes.c_int32
_ptr = ctypes.c_void_p


@cache
def _lib() -> ctypes.CDLL:
    spec = util.find_spec("bundlewise.mining._kernels")
    if spec is None or spec.origin is None:
        raise BundlewiseError(
            "the native mining kernels are not built; reinstall bundlewise with a C compiler available "
            "(pip install -e . builds them)"
        )
    lib = ctypes.CDLL(spec.origin)
    lib.bw_pair_count.restype = _ptr
    lib.bw_pair_count.argtypes = [_ptr, _ptr, _i64, _i32, _ptr, _i64, ctypes.c_int]
    lib.bw_pair_size.restype = _i64
    lib.bw_pair_size.argtypes = [_ptr]
    lib.bw_pair_take.restype = None
    lib.bw_pair_take.argtypes = [_ptr, _ptr, _ptr, _ptr, _ptr]
    lib.bw_bitsets.restype = None
    lib.bw_bitsets.argtypes = [_ptr, _ptr, _i64, _i64, _ptr]
    lib.bw_support_join.restype = None
    lib.bw_support_join.argtypes = [_ptr, _i64, _ptr, _i32, _ptr, _ptr, _i64, _ptr, _ptr, ctypes.c_int]
    lib.bw_sort_rows.restype = _i64
    lib.bw_sort_rows.argtypes = [_ptr, _ptr, _i64]
    lib.bw_csr.restype = _i64
    lib.bw_csr.argtypes = [_ptr, _ptr, _i64, _i64, _ptr, _ptr]
    lib.bw_hypergeom_logsf.restype = None
    lib.bw_hypergeom_logsf.argtypes = [_ptr, _ptr, _ptr, _i64, _i64, _ptr, ctypes.c_int]
    return lib


def _p(a: np.ndarray | None) -> int | None:
    return None if a is None else a.ctypes.data


def _arr(a: np.ndarray, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def default_threads() -> int:
    """Threads for native loops: all CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def pair_counts(
    indptr: np.ndarray,
    indices: np.ndarray,
    n_items: int,
    weights: np.ndarray | None = None,
    min_count: int = 1,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Co-occurrence counts of every item pair ``a < b`` seen in >= ``min_count`` baskets.

    Rows of the CSR incidence must hold distinct item codes in increasing order.

    Returns
    -------
    a, b : int32 arrays, sorted by (a, b)
    n : int32 array, baskets holding both
    w : float64 array or None, summed basket weights (when ``weights`` is given)
    """
    indptr = _arr(indptr, np.int64)
    indices = _arr(indices, np.int32)
    w_in = None if weights is None else _arr(weights, np.float64)
    n_baskets = len(indptr) - 1
    if n_baskets >= 2**31 - 1:
        raise ResourceLimitError(f"{n_baskets:,} baskets is more than the 2^31 - 1 one pass can count; split them "
                                 "and use partial_fit")
    handle = _lib().bw_pair_count(_p(indptr), _p(indices), n_baskets, int(n_items), _p(w_in),
                                  int(max(min_count, 1)), int(n_threads or default_threads()))
    if not handle:
        raise MemoryError("not enough memory to count item pairs; raise min_count or cap basket sizes")
    size = _lib().bw_pair_size(handle)
    a = np.empty(size, dtype=np.int32)
    b = np.empty(size, dtype=np.int32)
    n = np.empty(size, dtype=np.int32)
    w = np.empty(size, dtype=np.float64) if w_in is not None else None
    _lib().bw_pair_take(handle, _p(a), _p(b), _p(n), _p(w))
    return a, b, n, w


def csr_from_codes(basket_codes: np.ndarray, item_codes: np.ndarray, n_baskets: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) with each basket's items sorted and de-duplicated."""
    basket_codes = _arr(basket_codes, np.int64)
    item_codes = _arr(item_codes, np.int32)
    indptr = np.empty(n_baskets + 1, dtype=np.int64)
    indices = np.empty(len(item_codes), dtype=np.int32)
    nnz = _lib().bw_csr(_p(basket_codes), _p(item_codes), len(item_codes), int(n_baskets), _p(indptr), _p(indices))
    if nnz < 0:
        raise MemoryError("not enough memory to build the basket incidence")
    return indptr, indices[:nnz].copy() if nnz < len(indices) // 2 else indices[:nnz]


def encode_lists(baskets: list) -> tuple[np.ndarray, np.ndarray, list]:  # type: ignore[type-arg]
    """(indptr int64, item codes int32 in order of first appearance, vocabulary) of a list of baskets.

    Rows are not yet sorted or de-duplicated (see :func:`sort_rows`).
    """
    from bundlewise.mining import _kernels  # the compiled module itself (Python-facing function)

    indptr_b, codes_b, vocab = _kernels.encode_lists(baskets)
    # read-only views of the bytes; callers derive new arrays from them
    return np.frombuffer(indptr_b, dtype=np.int64), np.frombuffer(codes_b, dtype=np.int32), vocab


def encode_text(data: bytes, delimiter: str) -> tuple[np.ndarray, np.ndarray, list]:  # type: ignore[type-arg]
    """(indptr int64, item codes int32 in order of first appearance, vocabulary) of a plain basket file's
    bytes: ASCII, ``\\n`` line ends and a final one (``baskets.plain_basket_text`` checks and normalises).

    Empty items and lines without items are skipped; rows are not yet sorted or de-duplicated.
    """
    from bundlewise.mining import _kernels

    indptr_b, codes_b, vocab = _kernels.encode_text(data, ord(delimiter))
    return np.frombuffer(indptr_b, dtype=np.int64), np.frombuffer(codes_b, dtype=np.int32), vocab


def sort_rows(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and de-duplicate each CSR row; ``indices`` is sorted in place when it is a writable int32
    array (pass a copy to keep the original). Returns the compacted arrays."""
    indptr = np.array(indptr, dtype=np.int64)
    if not (indices.dtype == np.int32 and indices.flags.writeable and indices.flags.c_contiguous):
        indices = np.array(indices, dtype=np.int32)
    nnz = _lib().bw_sort_rows(_p(indptr), _p(indices), len(indptr) - 1)
    return indptr, indices[:nnz]


def bitsets(indptr: np.ndarray, indices: np.ndarray, n_rows: int) -> np.ndarray:
    """Packed bitsets from a CSR incidence, shape ``(n_rows, ceil(n_baskets / 64))``: bit r of row i
    is set when basket r holds item i."""
    indptr = _arr(indptr, np.int64)
    indices = _arr(indices, np.int32)
    n_baskets = len(indptr) - 1
    n_words = max(1, (n_baskets + 63) // 64)
    out = np.zeros((n_rows, n_words), dtype=np.uint64)
    _lib().bw_bitsets(_p(indptr), _p(indices), n_baskets, n_words, _p(out))
    return out


def support_join(bits: np.ndarray, prev: np.ndarray, left: np.ndarray, last: np.ndarray,
                 n_threads: int | None = None) -> np.ndarray:
    """Support of candidates ``prev[left[c]] + [last[c]]``; ``left`` must be non-decreasing."""
    bits = np.ascontiguousarray(bits, dtype=np.uint64)
    prev = _arr(prev, np.int32)
    left = _arr(left, np.int64)
    last = _arr(last, np.int32)
    out = np.empty(len(left), dtype=np.int64)
    if len(left):
        starts = np.concatenate([[0], np.flatnonzero(np.diff(left)) + 1, [len(left)]]).astype(np.int64)
        rows = np.ascontiguousarray(left[starts[:-1]])
        _lib().bw_support_join(_p(bits), bits.shape[1], _p(prev), prev.shape[1], _p(rows), _p(starts),
                               len(rows), _p(last), _p(out), int(n_threads or default_threads()))
    return out


def hypergeom_logsf(k: np.ndarray, big_k: np.ndarray, n: np.ndarray, total: int,
                    n_threads: int | None = None) -> np.ndarray:
    """log P(X >= k) for X ~ Hypergeom(total, big_k, n), elementwise (finite far below 1e-308)."""
    k = _arr(k, np.int64)
    big_k = _arr(big_k, np.int64)
    n = _arr(n, np.int64)
    out = np.empty(len(k), dtype=np.float64)
    if len(k):
        _lib().bw_hypergeom_logsf(_p(k), _p(big_k), _p(n), int(total), len(k), _p(out),
                                  int(n_threads or default_threads()))
    return out
