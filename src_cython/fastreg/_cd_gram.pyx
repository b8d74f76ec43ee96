"""Elastic net with box constraints by coordinate descent in Gram (covariance) form.

With ``Q = X_c^T H X_c`` (``p x p``, ``H = diag(h)``, ``X_c`` the weighted-centered
design) and ``c = X_c^T H y_c``, the least-squares elastic net is, up to the constant
``1/2 y_c^T H y_c``::

    F(w) = 1/2 w^T Q w - c^T w + sum_j l1_j |w_j| + l2_j / 2 w_j^2,
    lower_j <= w_j <= upper_j.

Coordinate descent keeps the negative gradient ``g = c - Q w`` up to date: a
coordinate visit costs ``O(1)`` and a coordinate change ``O(p)``, independent of
``n_samples`` (Friedman, Hastie, Tibshirani 2010, "covariance updates", glmnet).

References
----------
Friedman, Hastie, Tibshirani (2010), Regularization paths for generalized linear
models via coordinate descent, J. Stat. Softw. 33(1).
"""
from cython cimport floating
from cython.parallel cimport prange

from libc.stdlib cimport malloc, free

import numpy as np

from fastreg._utils cimport prox_enet_box


cdef inline unsigned long long _next(unsigned long long* state) noexcept nogil:
    """64-bit linear congruential step (Knuth's MMIX constants); returns the high 31 bits."""
    state[0] = state[0] * 6364136223846793005ULL + 1442695040888963407ULL
    return state[0] >> 33


def gram_cd_epochs(const double[:, ::1] Q, double[::1] g, double[::1] w,
                   const double[::1] l1, const double[::1] l2, const double[::1] lower,
                   const double[::1] upper, int[::1] feats, int n_epochs,
                   unsigned long long seed=0, double[:, ::1] hist=None, Py_ssize_t hist_pos=0):
    """Run ``n_epochs`` coordinate-descent epochs over ``feats`` on ``F`` (module docstring).

    Each visit of feature ``j`` minimizes ``F`` exactly in ``w_j``:
    ``w_j <- prox_enet_box(w_j + g_j / Q_jj, l1_j / Q_jj, l2_j / Q_jj, lower_j, upper_j)``,
    then ``g <- g - (w_j^new - w_j^old) Q[j, :]``. Features with ``Q_jj <= 0`` are skipped.

    Parameters
    ----------
    Q : ndarray (p, p), float64, C-contiguous, symmetric positive semi-definite
    g : ndarray (p,), float64, in/out
        ``c - Q w`` on entry; kept equal to it (up to rounding).
    w : ndarray (p,), float64, in/out
    l1, l2, lower, upper : ndarray (p,), float64
        Finite ``l1, l2 >= 0``; ``lower_j <= 0 <= upper_j``.
    feats : ndarray (m,), int32
        Features visited (in this order; shuffled in place at each epoch when
        ``seed != 0``).
    n_epochs : int
    seed : int
        0: cyclic order; otherwise the seed of a random order per epoch.
    hist : ndarray (K + 1, p), float64, or None
        Ring buffer of iterates (Anderson extrapolation): after the ``e``-th epoch of
        this call, ``w`` is copied to row ``(hist_pos + e) % (K + 1)``.
    hist_pos : int

    Returns
    -------
    change : float
        ``max_j Q_jj (w_j^new - w_j^old)^2`` over the last epoch (glmnet's
        convergence measure, objective units).
    """
    cdef Py_ssize_t p = Q.shape[0], m = feats.shape[0], k, i, j, t
    cdef int ep, tmp
    cdef double L, new, delta, change = 0.0
    cdef unsigned long long state = seed
    cdef Py_ssize_t n_hist = 0 if hist is None else hist.shape[0], row
    if n_hist and hist.shape[1] != p:
        raise ValueError("hist must be (K + 1, p)")
    if Q.shape[1] != p or g.shape[0] != p or w.shape[0] != p:
        raise ValueError("Q must be (p, p) and g, w of length p")
    if not (l1.shape[0] == l2.shape[0] == lower.shape[0] == upper.shape[0] == p):
        raise ValueError("l1, l2, lower, upper need p entries")
    for k in range(m):
        if feats[k] < 0 or feats[k] >= p:
            raise ValueError(f"feature index {feats[k]} out of range [0, {p})")
    with nogil:
        for ep in range(n_epochs):
            change = 0.0
            if state != 0:
                for k in range(m - 1, 0, -1):     # Fisher-Yates
                    t = <Py_ssize_t> (_next(&state) % <unsigned long long> (k + 1))
                    tmp = feats[k]
                    feats[k] = feats[t]
                    feats[t] = tmp
            for k in range(m):
                j = feats[k]
                L = Q[j, j]
                if L <= 0.0:
                    continue
                new = prox_enet_box(w[j] + g[j] / L, l1[j] / L, l2[j] / L, lower[j], upper[j])
                delta = new - w[j]
                if delta != 0.0:
                    w[j] = new
                    for i in range(p):
                        g[i] -= delta * Q[j, i]
                    delta = L * delta * delta
                    if delta > change:
                        change = delta
            if n_hist:
                row = (hist_pos + ep) % n_hist
                for i in range(p):
                    hist[row, i] = w[i]
    return change


cdef Py_ssize_t _lower_bound(const int* a, Py_ssize_t lo, Py_ssize_t hi, int v) noexcept nogil:
    """First ``k`` in ``[lo, hi)`` with ``a[k] >= v`` (``a`` sorted)."""
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _gram_rows(const floating* data, const int* indices, const int* indptr, int p,
                    const floating* h, const Py_ssize_t* rowptr, Py_ssize_t r0, Py_ssize_t r1,
                    Py_ssize_t B, double* acc) noexcept nogil:
    """Add ``sum_{r0 <= i < r1} h_i x_i x_i^T`` (upper triangle) to ``acc`` (``p x p``).

    ``rowptr``: the row starts of ``X`` in CSR order (from the row counts). Rows are
    handled in blocks of ``B``: each block is gathered from the columns (one cursor
    per column, sequential reads) into a small row-major buffer, then accumulated
    row by row. Returns -1 if the scratch cannot be allocated.
    """
    cdef Py_ssize_t j, k, e, i, a, q, lo, hi, rb, re, pos, base, off
    cdef double va, hw
    cdef Py_ssize_t* cursor = <Py_ssize_t*> malloc(max(p, 1) * sizeof(Py_ssize_t))
    cdef Py_ssize_t* fill = <Py_ssize_t*> malloc((B + 1) * sizeof(Py_ssize_t))
    cdef int* bcol = <int*> malloc(max(B * p, 1) * sizeof(int))
    cdef double* bval = <double*> malloc(max(B * p, 1) * sizeof(double))
    if cursor == NULL or fill == NULL or bcol == NULL or bval == NULL:
        free(cursor)
        free(fill)
        free(bcol)
        free(bval)
        return -1
    for j in range(p):
        cursor[j] = _lower_bound(indices, indptr[j], indptr[j + 1], <int> r0)
    rb = r0
    while rb < r1:
        re = min(rb + B, r1)
        off = rowptr[rb]
        for i in range(rb, re):
            fill[i - rb] = rowptr[i] - off
        for j in range(p):              # gather (fill[i] is the next free slot of row i)
            k = cursor[j]
            e = indptr[j + 1]
            while k < e and indices[k] < re:
                i = indices[k] - rb
                pos = fill[i]
                bcol[pos] = <int> j
                bval[pos] = data[k]
                fill[i] = pos + 1
                k += 1
            cursor[j] = k
        for i in range(rb, re):
            hw = h[i]
            if hw == 0.0:
                continue
            lo = rowptr[i] - off
            hi = rowptr[i + 1] - off
            for a in range(lo, hi):
                va = hw * bval[a]
                base = <Py_ssize_t> bcol[a] * p
                for q in range(a, hi):
                    acc[base + bcol[q]] += va * bval[q]
        rb = re
    free(cursor)
    free(fill)
    free(bcol)
    free(bval)
    return 0


def gram_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                const floating[::1] h, double[:, ::1] Q_out, double[:, :, ::1] Q_tmp,
                double[::1] xth_out, int n_threads):
    """Weighted Gram matrix ``Q = X^T diag(h) X`` of a CSC matrix (not centered).

    Also ``xth_out = X^T h`` (weighted column sums, ``p`` entries).

    ``sum_i h_i x_i x_i^T`` is accumulated over the upper triangle, row by row,
    in blocks of rows gathered from the columns: ``O(nnz + sum_i c_i^2 / 2)`` for
    ``c_i`` the non-zeros of row ``i``, and ``O(B p)`` scratch per thread with
    ``B p <= 2^18`` (``B`` rows per block). Rows are split into ``n_threads``
    contiguous ranges of equal work; thread ``t > 0`` accumulates into
    ``Q_tmp[t - 1]`` (``(n_threads - 1, p, p)`` scratch), summed into ``Q_out``.
    Indices must be sorted within each column and in range (as
    :func:`fastreg._validation.check_X` returns them). Never densifies ``X``.
    """
    cdef Py_ssize_t n = h.shape[0], p = indptr.shape[0] - 1, nnz, i, a, b, t, B
    cdef int nt = n_threads, failed = 0
    cdef double total, c
    cdef Py_ssize_t[65] split
    if nt < 1 or nt > 64:
        raise ValueError("n_threads must be in [1, 64]")
    if Q_out.shape[0] != p or Q_out.shape[1] != p:
        raise ValueError("Q_out must be (p, p)")
    if nt > 1 and (Q_tmp.shape[0] < nt - 1 or Q_tmp.shape[1] != p or Q_tmp.shape[2] != p):
        raise ValueError("Q_tmp must be (n_threads - 1, p, p)")
    nnz = indptr[p] if p > 0 else 0
    if data.shape[0] < nnz or indices.shape[0] < nnz:
        raise ValueError("data and indices shorter than indptr[-1]")
    if xth_out.shape[0] != p:
        raise ValueError("xth_out must have p entries")
    B = max(16, min(max(n, 1), (1 << 18) // max(p, 1)))
    cdef double[::1] work = np.empty(n + 1)
    cdef Py_ssize_t[::1] rowptr = np.zeros(n + 1, dtype=np.intp)
    with nogil:
        for b in range(p):              # X^T h and the row counts
            c = 0.0
            for t in range(indptr[b], indptr[b + 1]):
                c += h[indices[t]] * data[t]
                rowptr[indices[t] + 1] += 1
            xth_out[b] = c
        work[0] = 0.0                   # cumulative work c (c + 1) / 2, row starts
        for i in range(n):
            c = <double> rowptr[i + 1] if h[i] != 0.0 else 0.0
            work[i + 1] = work[i] + c * (c + 1.0) / 2.0
            rowptr[i + 1] += rowptr[i]
        total = work[n]
        split[0] = 0
        i = 0
        for t in range(1, nt):
            while i < n and work[i] < total * t / nt:
                i += 1
            split[t] = i
        split[nt] = n
        for a in range(p):
            for b in range(p):
                Q_out[a, b] = 0.0
        for t in range(nt - 1):
            for a in range(p):
                for b in range(p):
                    Q_tmp[t, a, b] = 0.0
        if p > 0:
            for t in prange(nt, num_threads=nt, schedule="static", chunksize=1):
                if _gram_rows(&data[0], &indices[0], &indptr[0], <int> p, &h[0], &rowptr[0],
                              split[t], split[t + 1], B,
                              &Q_out[0, 0] if t == 0 else &Q_tmp[t - 1, 0, 0]) != 0:
                    failed = 1
        for t in range(nt - 1):
            for a in range(p):
                for b in range(a, p):
                    Q_out[a, b] += Q_tmp[t, a, b]
        for a in range(p):          # symmetrize (columns visited in order: upper triangle)
            for b in range(a + 1, p):
                Q_out[b, a] = Q_out[a, b]
    if failed:
        raise MemoryError("gram_sparse: out of memory for the row-block scratch")
    return None
