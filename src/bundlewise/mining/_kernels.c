/* Native kernels for association mining, called through ctypes (see _native.py).
 *
 * Only plain C and OpenMP: no Python or NumPy C API, so the ABI is just pointers and
 * integers. Every function is deterministic: parallel loops write disjoint outputs and
 * results are ordered by item, never by thread.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <Python.h>

/* ------------------------------------------------------------------------------------
 * Pair counting.
 *
 * Input: a CSR basket x item incidence (indptr[n_baskets+1], indices[nnz]) whose rows hold
 * distinct item codes in increasing order, optional basket weights.
 * For every pair a < b that co-occurs in at least min_count baskets: n_ab and (if weights)
 * the summed weight w_ab.
 *
 * Item-major ("column") algorithm: for item a, walk the baskets that contain a and, in each,
 * the items after a; accumulate into a dense per-thread counter of n_items entries. Work is
 * the number of pair occurrences; memory is O(nnz + threads * n_items) plus the output.
 * ------------------------------------------------------------------------------------ */

typedef struct {
    int64_t n_pairs;
    int32_t n_items;
    int64_t *row_start;   /* [n_items + 1] output offset of each item a */
    int32_t *b;           /* [n_pairs] */
    int32_t *n;           /* [n_pairs]; callers guarantee fewer than 2^31 baskets */
    double *w;            /* [n_pairs] or NULL */
} pair_result;

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* Returns a handle (or NULL on allocation failure). */
void *bw_pair_count(const int64_t *indptr, const int32_t *indices, int64_t n_baskets, int32_t n_items,
                    const double *weights, int64_t min_count, int n_threads) {
    int64_t nnz = indptr[n_baskets];
    /* CSC: for every entry, its basket (row) and its offset inside the basket, both 32-bit
     * (8 bytes per entry; callers guarantee < 2^31 baskets and basket sizes). */
    int64_t *colptr = calloc((size_t)n_items + 1, sizeof(int64_t));
    int32_t *col_row = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof(int32_t));
    int32_t *col_off = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof(int32_t));
    int64_t *cursor = malloc(((size_t)n_items + 1) * sizeof(int64_t));
    if (!colptr || !col_row || !col_off || !cursor) {
        free(colptr); free(col_row); free(col_off); free(cursor); return NULL;
    }
    for (int64_t k = 0; k < nnz; k++) colptr[indices[k] + 1]++;
    for (int32_t i = 0; i < n_items; i++) colptr[i + 1] += colptr[i];
    memcpy(cursor, colptr, ((size_t)n_items + 1) * sizeof(int64_t));
    for (int64_t r = 0; r < n_baskets; r++)
        for (int64_t k = indptr[r]; k < indptr[r + 1]; k++) {
            int64_t dst = cursor[indices[k]]++;
            col_row[dst] = (int32_t)r;
            col_off[dst] = (int32_t)(k - indptr[r]);
        }
    free(cursor);

    /* per item: a buffer of (b, n, w) kept as separate growable arrays */
    int64_t *counts = calloc((size_t)n_items, sizeof(int64_t));
    int32_t **bufs_b = calloc((size_t)n_items, sizeof(int32_t *));
    int32_t **bufs_n = calloc((size_t)n_items, sizeof(int32_t *));
    double **bufs_w = calloc((size_t)n_items, sizeof(double *));
    int failed = 0;
    if (!counts || !bufs_b || !bufs_n || !bufs_w) failed = 1;

#ifdef _OPENMP
    if (n_threads > 0) omp_set_num_threads(n_threads);
#endif
    if (!failed) {
#pragma omp parallel
        {
            int64_t *acc = calloc((size_t)n_items, sizeof(int64_t));
            double *wacc = weights ? calloc((size_t)n_items, sizeof(double)) : NULL;
            int32_t *touched = malloc((size_t)n_items * sizeof(int32_t));
            if (!acc || !touched || (weights && !wacc)) {
#pragma omp atomic write
                failed = 1;
            } else {
#pragma omp for schedule(dynamic, 16)
                for (int32_t a = 0; a < n_items; a++) {
                    int32_t n_touched = 0;
                    for (int64_t e = colptr[a]; e < colptr[a + 1]; e++) {
                        int64_t r = col_row[e];
                        double wr = weights ? weights[r] : 0.0;
                        for (int64_t k = indptr[r] + col_off[e] + 1; k < indptr[r + 1]; k++) {
                            int32_t b = indices[k];
                            if (acc[b] == 0) touched[n_touched++] = b;
                            acc[b]++;
                            if (wacc) wacc[b] += wr;
                        }
                    }
                    qsort(touched, (size_t)n_touched, sizeof(int32_t), cmp_i32);
                    int64_t kept = 0;
                    for (int32_t t = 0; t < n_touched; t++) if (acc[touched[t]] >= min_count) kept++;
                    if (kept > 0) {
                        int32_t *ob = malloc((size_t)kept * sizeof(int32_t));
                        int32_t *on = malloc((size_t)kept * sizeof(int32_t));
                        double *ow = wacc ? malloc((size_t)kept * sizeof(double)) : NULL;
                        if (!ob || !on || (wacc && !ow)) {
#pragma omp atomic write
                            failed = 1;
                        } else {
                            int64_t j = 0;
                            for (int32_t t = 0; t < n_touched; t++) {
                                int32_t b = touched[t];
                                if (acc[b] >= min_count) {
                                    ob[j] = b; on[j] = (int32_t)acc[b];
                                    if (ow) ow[j] = wacc[b];
                                    j++;
                                }
                            }
                        }
                        bufs_b[a] = ob; bufs_n[a] = on; bufs_w[a] = ow;
                        counts[a] = kept;
                    }
                    for (int32_t t = 0; t < n_touched; t++) {
                        acc[touched[t]] = 0;
                        if (wacc) wacc[touched[t]] = 0.0;
                    }
                }
            }
            free(acc); free(wacc); free(touched);
        }
    }
    free(colptr); free(col_row); free(col_off);

    pair_result *res = calloc(1, sizeof(pair_result));
    if (!res) failed = 1;
    if (!failed) {
        res->n_items = n_items;
        res->row_start = malloc(((size_t)n_items + 1) * sizeof(int64_t));
        if (!res->row_start) failed = 1;
        else {
            res->row_start[0] = 0;
            for (int32_t a = 0; a < n_items; a++) res->row_start[a + 1] = res->row_start[a] + counts[a];
            res->n_pairs = res->row_start[n_items];
            size_t m = (size_t)(res->n_pairs > 0 ? res->n_pairs : 1);
            res->b = malloc(m * sizeof(int32_t));
            res->n = malloc(m * sizeof(int32_t));
            res->w = weights ? malloc(m * sizeof(double)) : NULL;
            if (!res->b || !res->n || (weights && !res->w)) failed = 1;
            else {
                for (int32_t a = 0; a < n_items; a++) {
                    if (!counts[a]) continue;
                    int64_t off = res->row_start[a];
                    memcpy(res->b + off, bufs_b[a], (size_t)counts[a] * sizeof(int32_t));
                    memcpy(res->n + off, bufs_n[a], (size_t)counts[a] * sizeof(int32_t));
                    if (res->w) memcpy(res->w + off, bufs_w[a], (size_t)counts[a] * sizeof(double));
                    /* free as we go: the per-item buffers and the result never both exist in full */
                    free(bufs_b[a]); free(bufs_n[a]); if (bufs_w) free(bufs_w[a]);
                    bufs_b[a] = NULL; bufs_n[a] = NULL; if (bufs_w) bufs_w[a] = NULL;
                }
            }
        }
    }
    if (bufs_b) for (int32_t a = 0; a < n_items; a++) { free(bufs_b[a]); free(bufs_n[a]); if (bufs_w) free(bufs_w[a]); }
    free(bufs_b); free(bufs_n); free(bufs_w); free(counts);
    if (failed) {
        if (res) { free(res->row_start); free(res->b); free(res->n); free(res->w); free(res); }
        return NULL;
    }
    return res;
}

int64_t bw_pair_size(void *handle) { return ((pair_result *)handle)->n_pairs; }

/* Copy the result out (a is expanded from row_start) and free the handle. */
void bw_pair_take(void *handle, int32_t *a_out, int32_t *b_out, int32_t *n_out, double *w_out) {
    pair_result *res = handle;
    for (int32_t a = 0; a < res->n_items; a++)
        for (int64_t k = res->row_start[a]; k < res->row_start[a + 1]; k++) a_out[k] = a;
    if (res->n_pairs > 0) {
        memcpy(b_out, res->b, (size_t)res->n_pairs * sizeof(int32_t));
        memcpy(n_out, res->n, (size_t)res->n_pairs * sizeof(int32_t));
        if (w_out && res->w) memcpy(w_out, res->w, (size_t)res->n_pairs * sizeof(double));
    }
    free(res->row_start); free(res->b); free(res->n); free(res->w); free(res);
}

void bw_pair_free(void *handle) {
    pair_result *res = handle;
    if (!res) return;
    free(res->row_start); free(res->b); free(res->n); free(res->w); free(res);
}

/* ------------------------------------------------------------------------------------
 * Bitsets: one row of n_words 64-bit words per item; bit r set when basket r holds it.
 * ------------------------------------------------------------------------------------ */

/* From a CSR incidence: row i of the output is the bitset of item i over the baskets. */
void bw_bitsets(const int64_t *indptr, const int32_t *indices, int64_t n_baskets, int64_t n_words, uint64_t *out) {
    for (int64_t r = 0; r < n_baskets; r++)
        for (int64_t k = indptr[r]; k < indptr[r + 1]; k++)
            out[(int64_t)indices[k] * n_words + (r >> 6)] |= (uint64_t)1 << (r & 63);
}

/* Support of joined candidates prefix + {last}: candidates come in segments sharing one
 * (k-1)-itemset row of `prev` (its first k-1 items are the prefix of all of them). The
 * prefix bitset is ANDed once per segment and only its non-zero words are visited, so a
 * candidate costs one AND per basket word that can still hold it. */
void bw_support_join(const uint64_t *bits, int64_t n_words, const int32_t *prev, int32_t k1,
                     const int64_t *seg_rows, const int64_t *seg_starts, int64_t n_segs, const int32_t *last,
                     int64_t *out, int n_threads) {
#ifdef _OPENMP
    if (n_threads > 0) omp_set_num_threads(n_threads);
#endif
#pragma omp parallel
    {
        uint64_t *prefix = malloc((size_t)n_words * sizeof(uint64_t));
        int64_t *nz = malloc((size_t)n_words * sizeof(int64_t));
#pragma omp for schedule(dynamic, 8)
        for (int64_t s = 0; s < n_segs; s++) {
            if (!prefix || !nz) continue;
            const int32_t *items = prev + seg_rows[s] * k1;
            int64_t n_nz = 0;
            for (int64_t w = 0; w < n_words; w++) {
                uint64_t x = bits[(int64_t)items[0] * n_words + w];
                for (int32_t j = 1; j < k1 && x; j++) x &= bits[(int64_t)items[j] * n_words + w];
                if (x) { prefix[n_nz] = x; nz[n_nz] = w; n_nz++; }
            }
            for (int64_t c = seg_starts[s]; c < seg_starts[s + 1]; c++) {
                const uint64_t *row = bits + (int64_t)last[c] * n_words;
                int64_t total = 0;
                for (int64_t t = 0; t < n_nz; t++) total += __builtin_popcountll(prefix[t] & row[nz[t]]);
                out[c] = total;
            }
        }
        free(prefix); free(nz);
    }
}

/* ------------------------------------------------------------------------------------
 * Hypergeometric upper tail log P(X >= k), X ~ Hypergeom(N, K, n): the one-sided Fisher exact
 * test of positive association for a 2x2 table (k = n_ab, K = n_a, n = n_b, N = baskets).
 * Sums pmf terms away from the mode so every term shrinks; stops at relative 1e-17.
 * ------------------------------------------------------------------------------------ */

static double lchoose(double n, double k) {
    int s;
    return lgamma_r(n + 1.0, &s) - lgamma_r(k + 1.0, &s) - lgamma_r(n - k + 1.0, &s);
}

/* natural log of P(X >= k); -inf when the probability is 0 */
static double hyper_logsf_one(int64_t k, int64_t K, int64_t n, int64_t N) {
    int64_t lo = n - (N - K) > 0 ? n - (N - K) : 0;
    int64_t hi = K < n ? K : n;
    if (k <= lo) return 0.0;
    if (k > hi) return -INFINITY;
    double log_denom = lchoose((double)N, (double)n);
    double mean = (double)n * (double)K / (double)N;
    if ((double)k > mean) {
        /* upper tail: terms decrease from k upwards; summed relative to the first term (no underflow) */
        double logp = lchoose((double)K, (double)k) + lchoose((double)(N - K), (double)(n - k)) - log_denom;
        double term = 1.0, sum = 1.0;
        for (int64_t i = k; i < hi; i++) {
            term *= ((double)(K - i) * (double)(n - i)) / ((double)(i + 1) * (double)(N - K - n + i + 1));
            sum += term;
            if (term < sum * 1e-17) break;
        }
        double out = logp + log(sum);
        return out > 0.0 ? 0.0 : out;
    }
    /* k at or below the mean: 1 - P(X <= k-1), summing downwards from k-1 */
    int64_t j = k - 1;
    double logp = lchoose((double)K, (double)j) + lchoose((double)(N - K), (double)(n - j)) - log_denom;
    double term = 1.0, sum = 1.0;
    for (int64_t i = j; i > lo; i--) {
        term *= ((double)i * (double)(N - K - n + i)) / ((double)(K - i + 1) * (double)(n - i + 1));
        sum += term;
        if (term < sum * 1e-17) break;
    }
    double p = 1.0 - exp(logp + log(sum));
    return p <= 0.0 ? -INFINITY : log(p);
}

void bw_hypergeom_logsf(const int64_t *k, const int64_t *K, const int64_t *n, int64_t N, int64_t m, double *out,
                        int n_threads) {
#ifdef _OPENMP
    if (n_threads > 0) omp_set_num_threads(n_threads);
#endif
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; i++) out[i] = hyper_logsf_one(k[i], K[i], n[i], N);
}


/* ------------------------------------------------------------------------------------
 * CSR from (basket code, item code) pairs: a counting sort by basket, then each row sorted
 * and de-duplicated (a product bought twice in one order is one basket item).
 * indptr has n_baskets + 1 entries, indices room for n; returns the number of entries kept.
 * ------------------------------------------------------------------------------------ */
/* Sort and de-duplicate every row of a CSR in place; rows are compacted, indptr updated.
 * Returns the number of entries kept. */
int64_t bw_sort_rows(int64_t *indptr, int32_t *indices, int64_t n_rows) {
    int64_t out = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t s = indptr[r], e = indptr[r + 1];
        int32_t *row = indices + s;
        int64_t m = e - s;
        if (m > 32) qsort(row, (size_t)m, sizeof(int32_t), cmp_i32);
        else
            for (int64_t i = 1; i < m; i++) {  /* insertion sort: baskets are small */
                int32_t x = row[i];
                int64_t j = i - 1;
                while (j >= 0 && row[j] > x) { row[j + 1] = row[j]; j--; }
                row[j + 1] = x;
            }
        indptr[r] = out;
        for (int64_t i = 0; i < m; i++)
            if (i == 0 || row[i] != row[i - 1]) indices[out++] = row[i];
    }
    indptr[n_rows] = out;
    return out;
}

int64_t bw_csr(const int64_t *bcode, const int32_t *icode, int64_t n, int64_t n_baskets, int64_t *indptr,
               int32_t *indices) {
    memset(indptr, 0, (size_t)(n_baskets + 1) * sizeof(int64_t));
    for (int64_t k = 0; k < n; k++) indptr[bcode[k] + 1]++;
    for (int64_t r = 0; r < n_baskets; r++) indptr[r + 1] += indptr[r];
    int64_t *cursor = malloc((size_t)(n_baskets + 1) * sizeof(int64_t));
    if (!cursor) return -1;
    memcpy(cursor, indptr, (size_t)(n_baskets + 1) * sizeof(int64_t));
    for (int64_t k = 0; k < n; k++) indices[cursor[bcode[k]]++] = icode[k];
    free(cursor);
    return bw_sort_rows(indptr, indices, n_baskets);
}

/* ------------------------------------------------------------------------------------
 * encode_lists(baskets) -> (indptr: bytes of int64, codes: bytes of int32, vocabulary: list)
 * A Python-facing function: turns a list of baskets (sequences of str) into integer
 * codes in one pass, without building a flat list of every line first. Codes follow the
 * order of first appearance; the caller sorts the vocabulary.
 * ------------------------------------------------------------------------------------ */
static PyObject *encode_lists(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *outer = PySequence_Fast(arg, "baskets must be a sequence of sequences");
    if (!outer) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(outer);
    PyObject **rows = PySequence_Fast_ITEMS(outer);
    PyObject *indptr_b = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int64_t));
    PyObject *index = PyDict_New();
    PyObject *vocab = PyList_New(0);
    PyObject *codes_b = NULL;
    if (!indptr_b || !index || !vocab) goto fail;
    int64_t *indptr = (int64_t *)PyBytes_AS_STRING(indptr_b);
    indptr[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t m = PyObject_Length(rows[i]);
        if (m < 0) { PyErr_Format(PyExc_TypeError, "basket %zd is not a sequence", i); goto fail; }
        indptr[i + 1] = indptr[i] + m;
    }
    codes_b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)indptr[n] * (Py_ssize_t)sizeof(int32_t));
    if (!codes_b) goto fail;
    int32_t *codes = (int32_t *)PyBytes_AS_STRING(codes_b);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PySequence_Fast(rows[i], "a basket must be a sequence of product ids");
        if (!row) goto fail;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(row);
        if (m != indptr[i + 1] - indptr[i]) { Py_DECREF(row); PyErr_SetString(PyExc_RuntimeError, "basket changed size"); goto fail; }
        PyObject **items = PySequence_Fast_ITEMS(row);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *key = items[j];
            int owned = 0;
            if (!PyUnicode_CheckExact(key)) {
                key = PyObject_Str(key);
                if (!key) { Py_DECREF(row); goto fail; }
                owned = 1;
            }
            PyObject *code = PyDict_GetItemWithError(index, key);
            long value;
            if (code) value = PyLong_AsLong(code);
            else {
                if (PyErr_Occurred()) { if (owned) Py_DECREF(key); Py_DECREF(row); goto fail; }
                value = (long)PyList_GET_SIZE(vocab);
                PyObject *v = PyLong_FromLong(value);
                if (!v || PyDict_SetItem(index, key, v) < 0 || PyList_Append(vocab, key) < 0) {
                    Py_XDECREF(v); if (owned) Py_DECREF(key); Py_DECREF(row); goto fail;
                }
                Py_DECREF(v);
            }
            codes[indptr[i] + j] = (int32_t)value;
            if (owned) Py_DECREF(key);
        }
        Py_DECREF(row);
    }
    Py_DECREF(outer);
    Py_DECREF(index);
    return Py_BuildValue("(NNN)", indptr_b, codes_b, vocab);
fail:
    Py_XDECREF(outer); Py_XDECREF(index); Py_XDECREF(vocab); Py_XDECREF(indptr_b); Py_XDECREF(codes_b);
    return NULL;
}

/* ------------------------------------------------------------------------------------
 * encode_text(data, delimiter) -> (indptr: bytes of int64, codes: bytes of int32, vocabulary: list)
 * The same for a plain basket file's bytes (ASCII, '\n' line ends, a final '\n'; the caller
 * checks that: see baskets.plain_basket_text): one basket per line, items split on the
 * delimiter, empty items and lines without items skipped. Items are told apart by an
 * open-addressing hash table over (offset, length) into the bytes, so no Python object is
 * made per item, only one str per distinct item.
 * ------------------------------------------------------------------------------------ */
typedef struct {
    int64_t start;  /* offset of the slot's item in the bytes, -1 when empty */
    int32_t len, code;
    uint64_t hash;
} text_slot;

/* Doubles the table (a load above 1/2 would make probes long); returns the new mask or -1. */
static int64_t grow_slots(text_slot **slots, int64_t mask) {
    int64_t cap = 2 * (mask + 1);
    text_slot *fresh = (text_slot *)malloc((size_t)cap * sizeof(text_slot));
    if (!fresh) return -1;
    for (int64_t k = 0; k < cap; k++) fresh[k].start = -1;
    for (int64_t k = 0; k <= mask; k++) {
        text_slot *old = &(*slots)[k];
        if (old->start < 0) continue;
        int64_t j = (int64_t)(old->hash & (uint64_t)(cap - 1));
        while (fresh[j].start >= 0) j = (j + 1) & (cap - 1);
        fresh[j] = *old;
    }
    free(*slots);
    *slots = fresh;
    return cap - 1;
}

static PyObject *encode_text(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int delim;
    if (!PyArg_ParseTuple(args, "y*i", &view, &delim)) return NULL;
    const unsigned char *s = (const unsigned char *)view.buf;
    const unsigned char d = (unsigned char)delim;
    Py_ssize_t len = view.len;
    Py_ssize_t n_items = 0, n_lines = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        n_lines += s[i] == '\n';
        n_items += s[i] == d;
    }
    n_items += n_lines;  /* an upper bound: one separator after each item */
    PyObject *indptr_b = PyBytes_FromStringAndSize(NULL, (n_lines + 1) * (Py_ssize_t)sizeof(int64_t));
    PyObject *codes_b = PyBytes_FromStringAndSize(NULL, (n_items ? n_items : 1) * (Py_ssize_t)sizeof(int32_t));
    PyObject *vocab = PyList_New(0);
    int64_t mask = 1023, n_distinct = 0;
    text_slot *slots = (text_slot *)malloc((size_t)(mask + 1) * sizeof(text_slot));
    if (!indptr_b || !codes_b || !vocab) goto fail;
    if (!slots) { PyErr_NoMemory(); goto fail; }
    for (int64_t k = 0; k <= mask; k++) slots[k].start = -1;
    int64_t *indptr = (int64_t *)PyBytes_AS_STRING(indptr_b);
    int32_t *codes = (int32_t *)PyBytes_AS_STRING(codes_b);
    int64_t n_baskets = 0, nnz = 0;
    indptr[0] = 0;
    Py_ssize_t start = 0;
    uint64_t h = 1469598103934665603ULL;  /* FNV-1a of the current item, built while scanning */
    for (Py_ssize_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c != '\n' && c != d) { h ^= c; h *= 1099511628211ULL; continue; }
        Py_ssize_t m = i - start;
        if (m > INT32_MAX) { PyErr_SetString(PyExc_ValueError, "an item longer than 2 GiB"); goto fail; }
        if (m > 0) {
            int64_t k = (int64_t)(h & (uint64_t)mask);
            for (;;) {
                text_slot *t = &slots[k];
                if (t->start < 0) {
                    if (n_distinct >= INT32_MAX) { PyErr_SetString(PyExc_ValueError, "more than 2^31 - 1 distinct items"); goto fail; }
                    PyObject *item = PyUnicode_DecodeASCII((const char *)s + start, m, "strict");
                    if (!item) goto fail;
                    int bad = PyList_Append(vocab, item);
                    Py_DECREF(item);
                    if (bad < 0) goto fail;
                    t->start = start; t->len = (int32_t)m; t->code = (int32_t)n_distinct++; t->hash = h;
                    codes[nnz++] = t->code;
                    if (2 * n_distinct > mask && (mask = grow_slots(&slots, mask)) < 0) { PyErr_NoMemory(); goto fail; }
                    break;
                }
                if (t->hash == h && t->len == (int32_t)m && memcmp(s + t->start, s + start, (size_t)m) == 0) {
                    codes[nnz++] = t->code;
                    break;
                }
                k = (k + 1) & mask;
            }
        }
        if (c == '\n' && nnz > indptr[n_baskets]) indptr[++n_baskets] = nnz;
        start = i + 1;
        h = 1469598103934665603ULL;
    }
    if (start < len) { PyErr_SetString(PyExc_ValueError, "the bytes must end with a line end"); goto fail; }
    free(slots);
    PyBuffer_Release(&view);
    if (_PyBytes_Resize(&indptr_b, (n_baskets + 1) * (Py_ssize_t)sizeof(int64_t)) < 0) { Py_XDECREF(codes_b); Py_XDECREF(vocab); return NULL; }
    if (_PyBytes_Resize(&codes_b, nnz * (Py_ssize_t)sizeof(int32_t)) < 0) { Py_XDECREF(indptr_b); Py_XDECREF(vocab); return NULL; }
    return Py_BuildValue("(NNN)", indptr_b, codes_b, vocab);
fail:
    free(slots);
    PyBuffer_Release(&view);
    Py_XDECREF(indptr_b); Py_XDECREF(codes_b); Py_XDECREF(vocab);
    return NULL;
}

static PyMethodDef kernel_methods[] = {
    {"encode_lists", encode_lists, METH_O, "encode_lists(baskets) -> (indptr bytes, codes bytes, vocabulary)"},
    {"encode_text", encode_text, METH_VARARGS, "encode_text(data, delimiter) -> (indptr bytes, codes bytes, vocabulary)"},
    {NULL, NULL, 0, NULL},
};

/* The numeric kernels are called through ctypes (plain pointers); encode_lists/encode_text through Python. */
static struct PyModuleDef kernels_module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, kernel_methods};
PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&kernels_module); }
