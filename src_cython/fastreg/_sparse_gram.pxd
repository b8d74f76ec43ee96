"""Weighted Gram matrices of CSC columns, accumulated over rows gathered in blocks.

One gatherer serves the Lasso Gram route (:func:`fastreg._cd_gram.gram_sparse`,
all columns, integer co-occurrence counts for 0/1 data) and the binary
prox-Newton subproblem (:func:`fastreg._newton.gram_ws_sparse_blocks`, a working
set of columns plus an intercept column of ones)::

    Q += sum_{r0 <= i < r1} h_i u_i u_i^T,     u_i = [x_{i, cols}, 1]   (upper triangle),

``O(nnz(X_cols) + sum_i c_i^2 / 2)`` for ``c_i`` the entries of row ``i`` in
``cols``. Everything here is ``cdef inline ... noexcept nogil`` (no runtime import).
"""
from cython cimport floating
from libc.stdlib cimport malloc, calloc, free

from fastreg._utils cimport first_at_least, outer_upper_acc


cdef inline void count_upper_acc(const int* col, Py_ssize_t c, Py_ssize_t stride,
                                 int* cnt) noexcept nogil:
    """``cnt[col[a] * stride + col[q]] += 1`` for ``0 <= a <= q < c`` (one row's pairs, ``col`` increasing).

    Four rows of the triangle at a time: each ``col[q]`` is loaded once for four
    increments (about 2x faster than one row at a time on a9a).
    """
    cdef Py_ssize_t a = 0, q, b0, b1, b2, b3
    cdef int* c0
    cdef int* c1
    cdef int* c2
    cdef int* c3
    while a + 3 < c:
        b0 = col[a]
        b1 = col[a + 1]
        b2 = col[a + 2]
        b3 = col[a + 3]
        c0 = cnt + b0 * stride
        c1 = cnt + b1 * stride
        c2 = cnt + b2 * stride
        c3 = cnt + b3 * stride
        c0[b0] += 1
        c0[b1] += 1
        c0[b2] += 1
        c0[b3] += 1
        c1[b1] += 1
        c1[b2] += 1
        c1[b3] += 1
        c2[b2] += 1
        c2[b3] += 1
        c3[b3] += 1
        for q in range(a + 4, c):
            b0 = col[q]
            c0[b0] += 1
            c1[b0] += 1
            c2[b0] += 1
            c3[b0] += 1
        a += 4
    while a < c:
        c0 = cnt + <Py_ssize_t> col[a] * stride
        for q in range(a, c):
            c0[col[q]] += 1
        a += 1


cdef inline int gram_rows(const floating* data, const int* indices, const int* indptr,
                          const int* cols, Py_ssize_t m, const floating* h, Py_ssize_t r0,
                          Py_ssize_t r1, Py_ssize_t B, double scale, bint icpt, bint last,
                          double* Q) noexcept nogil:
    """Add ``sum_{r0 <= i < r1} h_i u_i u_i^T`` (upper triangle) to ``Q``, ``u_i = [x_{i, cols}, 1]``.

    ``Q`` is ``mq x mq`` row-major, ``mq = m + icpt`` (the last row/column is the
    intercept's: ``sum_i h_i x_{i, cols[a]}`` and ``sum_i h_i``). ``cols``: the
    ``m`` columns, in any order (NULL: columns ``0 .. m - 1``); entry ``(a, b)``
    of ``Q`` is the pair ``(cols[a], cols[b])``.

    Rows are taken in blocks of ``B``: each block is gathered from the columns
    (one cursor per column, sequential reads of sorted indices) into a slot of
    ``m`` entries per row, sorted by position in ``cols``; then each row's outer
    product is accumulated (:func:`fastreg._utils.outer_upper_acc`). Rows with
    ``h_i = 0`` are skipped.

    ``scale != 0`` (counting mode, only without intercept): every stored value
    equals one ``v`` and every ``h_i`` one ``h_0``, ``scale = h_0 v^2``; the
    co-occurrences are counted in ``int32`` (no multiplication, half the memory
    traffic) and added as ``scale * count``.

    ``last``: ``r1`` is the last row, every entry of the columns must have been
    consumed (row indices ``>= r1`` are an error). Returns 0, -1 (no memory) or
    -2 (unsorted, duplicate or out-of-range row indices: an entry below the
    current block, a row slot already full, an entry left over; entries out of
    order within one block land in their rows all the same and give the right sums).
    """
    cdef Py_ssize_t mq = m + icpt, k, j, t, e, i, rb, re, pos, a
    cdef double hi, hsum = 0.0
    cdef bint count = scale != 0.0, bad = 0
    cdef int* cnt = NULL
    cdef double* bval = NULL
    cdef Py_ssize_t* cursor = <Py_ssize_t*> malloc(max(m, 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* fill = <Py_ssize_t*> malloc(max(B, 1) * sizeof(Py_ssize_t))
    cdef int* bcol = <int*> malloc(max(B * m, 1) * sizeof(int))
    if count:
        cnt = <int*> calloc(max(m * m, 1), sizeof(int))
    else:
        bval = <double*> malloc(max(B * m, 1) * sizeof(double))
    if cursor == NULL or fill == NULL or bcol == NULL or (cnt == NULL if count else bval == NULL):
        free(cursor)
        free(fill)
        free(bcol)
        free(bval)
        free(cnt)
        return -1
    for k in range(m):
        j = cols[k] if cols != NULL else k
        cursor[k] = first_at_least(indices, indptr[j], indptr[j + 1], <int> r0)
    rb = r0
    while rb < r1 and not bad:
        re = min(rb + B, r1)
        for i in range(re - rb):
            fill[i] = i * m             # next free slot of row rb + i
        for k in range(m):              # gather (k increasing: each row's slot is sorted)
            j = cols[k] if cols != NULL else k
            t = cursor[k]
            e = indptr[j + 1]
            while t < e and indices[t] < re:
                i = indices[t] - rb
                if i < 0:
                    bad = 1             # unsorted indices
                    break
                pos = fill[i]
                if pos == (i + 1) * m:
                    bad = 1             # duplicate indices: the row's slot is full
                    break
                bcol[pos] = <int> k
                if not count:
                    bval[pos] = data[t]
                fill[i] = pos + 1
                t += 1
            cursor[k] = t
            if bad:
                break
        if bad:
            break
        for i in range(re - rb):
            if count:
                count_upper_acc(bcol + i * m, fill[i] - i * m, m, cnt)
                continue
            hi = h[rb + i]
            if hi == 0.0:
                continue
            outer_upper_acc(bcol + i * m, bval + i * m, fill[i] - i * m, hi, mq, Q)
            if icpt:
                for a in range(i * m, fill[i]):
                    Q[<Py_ssize_t> bcol[a] * mq + m] += hi * bval[a]
                hsum += hi
        rb = re
    if last and not bad:
        for k in range(m):
            j = cols[k] if cols != NULL else k
            if cursor[k] != indptr[j + 1]:
                bad = 1                 # row indices >= n_samples (or unsorted)
    if icpt:
        Q[m * mq + m] += hsum
    if count and not bad:
        for a in range(m):
            for k in range(a, m):
                Q[a * mq + k] += scale * cnt[a * m + k]
    free(cursor)
    free(fill)
    free(bcol)
    free(bval)
    free(cnt)
    return -2 if bad else 0
