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

import numpy as np

from fastreg._sparse_gram cimport gram_rows
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


def gram_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                const floating[::1] h, double[:, ::1] Q_out, double[:, :, ::1] Q_tmp,
                double[::1] xth_out, int n_threads, double min_work=1e7):
    """Weighted Gram matrix ``Q = X^T diag(h) X`` of a CSC matrix (not centered).

    Also ``xth_out = X^T h`` (weighted column sums, ``p`` entries).

    ``sum_i h_i x_i x_i^T`` is accumulated over the upper triangle, row by row,
    in blocks of rows gathered from the columns (:func:`fastreg._sparse_gram.gram_rows`,
    shared with the prox-Newton working-set Gram): ``O(nnz + sum_i c_i^2 / 2)`` for
    ``c_i`` the non-zeros of row ``i``, and ``O(B p)`` scratch per thread with
    ``B <= 128`` rows per block and ``B p <= 2^18``. When every stored value equals
    one ``v`` and every ``h_i`` one ``h_0`` (0/1 data, unit weights), the
    co-occurrences are counted in ``int32`` and scaled by ``h_0 v^2`` (exact, about
    2x faster).

    Rows are split into at most ``n_threads`` contiguous ranges of equal work (for
    counts, of equal size: no pass over the row counts is needed), each range at
    least ``min_work`` pair updates (``min_work = 0``: exactly
    ``n_threads`` ranges); below that, the thread wake-up and the ``p x p`` merge
    cost more than the split saves (on a9a, ``3.4e6`` updates take about 1 ms on one
    thread). Thread ``t > 0`` accumulates into ``Q_tmp[t - 1]``
    (``(n_threads - 1, p, p)`` scratch), summed into ``Q_out``. Indices must be
    sorted within each column and in range (as :func:`fastreg._validation.check_X`
    returns them). Never densifies ``X``.
    """
    cdef Py_ssize_t n = h.shape[0], p = indptr.shape[0] - 1, nnz, i, a, b, t, B
    cdef int nt = n_threads, err = 0, n_nomem = 0, n_dup = 0
    cdef double total, c, scale, v0 = 0.0, h0 = 0.0
    cdef Py_ssize_t n_bad
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
    B = max(16, min(max(n, 1), (1 << 18) // max(p, 1), 128))   # row slots stay in L1/L2
    cdef double[::1] work = np.empty(n + 1)
    with nogil:
        n_bad = 0                       # 0/1 data (one value) with equal weights?
        v0 = data[0] if nnz > 0 else 0.0
        for t in range(nnz):
            n_bad += data[t] != v0
        h0 = h[0] if n > 0 else 0.0
        for i in range(n):
            n_bad += h[i] != h0
        scale = h0 * v0 * v0 if n_bad == 0 else 0.0
        if scale != 0.0:
            # counts: X^T h from the column counts; the work (sum_i c_i (c_i + 1) / 2)
            # estimated from them as for independent column patterns (no pass over X)
            total = 0.0
            for b in range(p):
                c = <double> (indptr[b + 1] - indptr[b])
                xth_out[b] = h0 * v0 * c
                total += c * (1.0 - c / n)
            total = (<double> nnz * nnz / n + total + nnz) / 2.0
            for i in range(n + 1):
                work[i] = total * i / n
        else:
            for i in range(n + 1):
                work[i] = 0.0
            for b in range(p):          # X^T h and the row counts
                c = 0.0
                for t in range(indptr[b], indptr[b + 1]):
                    c += <double> h[indices[t]] * data[t]
                    work[indices[t] + 1] += 1.0
                xth_out[b] = c
            for i in range(n):          # cumulative work c_i (c_i + 1) / 2
                c = work[i + 1] if h[i] != 0.0 else 0.0
                work[i + 1] = work[i] + c * (c + 1.0) / 2.0
            total = work[n]
        if min_work > 0:                # threads only where each gets min_work pair updates
            nt = <int> max(1.0, min(<double> nt, total / min_work))
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
        if p > 0 and nt == 1:
            err = gram_rows(&data[0], &indices[0], &indptr[0], NULL, p, &h[0],
                            0, n, B, scale, False, True, &Q_out[0, 0])
            n_nomem = err == -1
            n_dup = err == -2
        elif p > 0:
            for t in prange(nt, num_threads=nt, schedule="static", chunksize=1):
                err = gram_rows(&data[0], &indices[0], &indptr[0], NULL, p, &h[0],
                                split[t], split[t + 1], B, scale, False, t == nt - 1,
                                &Q_out[0, 0] if t == 0 else &Q_tmp[t - 1, 0, 0])
                n_nomem += err == -1     # reductions (a plain assignment would be lastprivate)
                n_dup += err == -2
        for t in range(nt - 1):
            for a in range(p):
                for b in range(a, p):
                    Q_out[a, b] += Q_tmp[t, a, b]
        for a in range(p):          # symmetrize (columns visited in order: upper triangle)
            for b in range(a + 1, p):
                Q_out[b, a] = Q_out[a, b]
    if n_nomem:
        raise MemoryError("gram_sparse: out of memory for the row-block scratch")
    if n_dup:
        raise ValueError("gram_sparse: the row indices of a column are unsorted, duplicated "
                         "(duplicate indices: sum duplicates first) or out of range")
    return None


def weighted_moments(const floating[::1] h, const floating[::1] y, bint center):
    """Weighted moments of ``y`` in float64, without BLAS (two passes).

    Returns ``(H, ybar, yHy, hyy)``: ``H = sum_i h_i``, ``ybar = sum_i h_i y_i / H``
    (0 if not ``center`` or ``H == 0``), ``yHy = sum_i h_i (y_i - ybar)^2`` (second
    pass, no cancellation) and ``hyy = sum_i h_i y_i^2``. Compiled loops keep the
    solver's length-``n`` reductions off threaded BLAS, whose threads would wake for
    them and then spin against the OpenMP kernels.
    """
    cdef Py_ssize_t n = h.shape[0], i
    cdef double H = 0.0, hy = 0.0, ybar = 0.0, yHy = 0.0, hyy = 0.0, d, hi
    if y.shape[0] != n:
        raise ValueError("h and y must have the same length")
    with nogil:
        for i in range(n):
            H += h[i]
            hy += <double> h[i] * y[i]
        if center and H != 0.0:
            ybar = hy / H
        for i in range(n):
            hi = h[i]
            d = y[i] - ybar
            yHy += hi * d * d
            hyy += hi * y[i] * y[i]
    return H, ybar, yHy, hyy


def centered_weights(const floating[::1] h, const floating[::1] y, double ybar,
                     floating[::1] v_out):
    """``v_out = h * (y - ybar)`` (computed in float64, stored in ``v_out``'s dtype).

    Returns ``sum_i v_i`` (float64, of the stored values).
    """
    cdef Py_ssize_t n = h.shape[0], i
    cdef double s = 0.0
    if y.shape[0] != n or v_out.shape[0] != n:
        raise ValueError("h, y and v_out must have the same length")
    with nogil:
        for i in range(n):
            v_out[i] = <floating> (<double> h[i] * (<double> y[i] - ybar))
            s += v_out[i]
    return s


def gram_matvec(const double[:, ::1] Q, const double[::1] w, double[::1] out):
    """``out = Q w`` for symmetric ``Q`` (row ``j`` of ``Q`` = column ``j``), skipping
    ``w_j = 0``: ``O(p nnz(w))``, no BLAS (see :func:`weighted_moments`)."""
    cdef Py_ssize_t p = Q.shape[0], i, j
    cdef double wj
    if Q.shape[1] != p or w.shape[0] != p or out.shape[0] != p:
        raise ValueError("Q must be (p, p) and w, out of length p")
    with nogil:
        for i in range(p):
            out[i] = 0.0
        for j in range(p):
            wj = w[j]
            if wj != 0.0:
                for i in range(p):
                    out[i] += wj * Q[j, i]
    return None
