"""Coordinate-descent kernels for the weighted least-squares elastic net with box constraints.

Every kernel here works on the problem

.. math::

    \\min_{w, b}\\; \\frac12 \\sum_i h_i (y_i - x_i^\\top w - b)^2
    + \\sum_j \\Big( l1_j |w_j| + \\frac{l2_j}{2} w_j^2 \\Big)
    \\quad \\text{s.t.}\\quad lower_j \\le w_j \\le upper_j,

with non-negative sample weights ``h`` (scikit-learn's Lasso/ElasticNet use
``h_i = sample_weight_i / sum(sample_weight)``, i.e. ``1/n`` without weights;
prox-Newton for logistic regression uses the per-sample second derivatives)
and ``lower_j <= 0 <= upper_j``. The intercept ``b`` (``fit_intercept``) is
handled by *implicit centering*: the kernels keep the raw residual
``R = y - X w`` (no intercept) and the scalar ``b = sum_i h_i R_i / H``
(``H = sum_i h_i``), which is the exact minimizer over ``b`` for the current
``w``. With the weighted column means ``mu_j = sum_i h_i x_ij / H`` the partial
gradient of the centered problem is ``-(sum_i h_i x_ij R_i - b H mu_j)``, and a
change ``dw`` of ``w_j`` moves ``R -= dw x_j`` and ``b -= dw mu_j``. X is never
centered nor copied (dense or sparse alike). Without intercept, ``mu = 0`` and
``b = 0``.

Storage: dense X in Fortran order (a column is contiguous: BLAS ``dot``/``axpy``
in the unweighted hot path), or CSC given by ``data, indices, indptr`` (int32).
Both formats share the per-column helpers below, which take raw pointers
(``indptr == NULL`` means dense).

The wrappers check array lengths and working-set indices (cheap), but trust the
sparse structure itself (``indices`` in ``[0, n_samples)``, monotone
``indptr``): pass matrices validated by :func:`fastreg._validation.check_X`.

Working sets ``ws`` are int32 arrays of feature indices; the kernels only touch
those features. Arrays come first, scalars last (fused-type dispatch).

References
----------
Friedman, Hastie, Tibshirani (2010), Regularization paths for generalized
linear models via coordinate descent, J. Stat. Softw. 33(1).
Massias, Gramfort, Salmon (2018), Celer: a fast solver for the Lasso with dual
extrapolation, ICML.
Bertrand, Massias (2021), Anderson acceleration of coordinate descent, AISTATS.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport fabs, fmax, fmin, sqrt, log, ceil, INFINITY, isinf, isfinite, NAN
from libc.stdlib cimport malloc, realloc, free
from cpython.ref cimport PyObject

import os

import numpy as np

from fastreg._utils cimport fdot, faxpy, prox_enet_box, soft_threshold_scalar

#: Largest Anderson memory accepted by :func:`cd_solve_dense` / :func:`cd_solve_sparse`.
MAX_ANDERSON = 10
cdef enum:
    _MAXK = 10

# epochs over the support only between two epochs over the whole working set (0: none)
cdef int _SUPPORT_EPOCHS = 3


cdef int _NEWTON_SLACK = 100
cdef double _NEWTON_GAP = 1e-3


def _set_newton_gap(double r):
    """Tuning hook: the Newton step is offered to a working-set solve only once the full
    duality gap is below ``r`` times the null model's objective (the endgame, when the
    support is nearly identified). Returns the previous value."""
    global _NEWTON_GAP
    old = _NEWTON_GAP
    _NEWTON_GAP = r
    return old


def _set_newton_slack(int k):
    """Tuning hook: the support counts as settled for the Newton step when at most
    ``len(ws) // k`` coordinates changed state between two gap checks (0: none). Returns
    the previous value."""
    global _NEWTON_SLACK
    old = _NEWTON_SLACK
    _NEWTON_SLACK = max(k, 0)
    return old


def _set_support_epochs(int k):
    """Tuning hook: epochs over the support between two full epochs (0 disables)."""
    global _SUPPORT_EPOCHS
    _SUPPORT_EPOCHS = max(k, 0)


# ---------------------------------------------------------------------------
# per-column helpers (dense when indptr == NULL, CSC otherwise)
# ---------------------------------------------------------------------------
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define FASTREG_CD_PREFETCH(p) __builtin_prefetch((const void*) (p))
    #else
    #define FASTREG_CD_PREFETCH(p) ((void) 0)
    #endif
    """
    void _prefetch "FASTREG_CD_PREFETCH" (const void* p) noexcept nogil


cdef inline double _dot32(const floating* x, const floating* y, int n) noexcept nogil:
    """``sum_i x_i y_i`` accumulated in float64 (four partial sums)."""
    cdef int i, n4 = n - n % 4
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    for i in range(0, n4, 4):
        a0 += <double> x[i] * y[i]
        a1 += <double> x[i + 1] * y[i + 1]
        a2 += <double> x[i + 2] * y[i + 2]
        a3 += <double> x[i + 3] * y[i + 3]
    for i in range(n4, n):
        a0 += <double> x[i] * y[i]
    return (a0 + a1) + (a2 + a3)


cdef inline double _col_dot(const floating* data, const int* indices, const int* indptr,
                            int n, int j, const floating* v, const floating* h,
                            bint unit) noexcept nogil:
    """``sum_i x_ij v_i`` if ``unit`` else ``sum_i h_i x_ij v_i``, accumulated in float64
    (float32 data too, so that large float32 values do not overflow)."""
    cdef const floating* col
    cdef int i, k
    cdef double acc = 0.0
    if indptr == NULL:
        col = data + <Py_ssize_t> j * n
        if unit:
            if floating is double:
                return fdot(n, col, 1, v, 1)
            else:
                return _dot32(col, v, n)
        for i in range(n):
            acc += <double> h[i] * col[i] * v[i]
        return acc
    if unit:
        for k in range(indptr[j], indptr[j + 1]):
            acc += <double> data[k] * v[indices[k]]
    else:
        for k in range(indptr[j], indptr[j + 1]):
            i = indices[k]
            acc += <double> h[i] * data[k] * v[i]
    return acc


cdef inline void _col_axpy(const floating* data, const int* indices, const int* indptr,
                           int n, int j, floating a, floating* v) noexcept nogil:
    """``v += a * x_j``."""
    cdef int k
    if indptr == NULL:
        faxpy(n, a, data + <Py_ssize_t> j * n, 1, v, 1)
    else:
        for k in range(indptr[j], indptr[j + 1]):
            v[indices[k]] += a * data[k]


cdef inline double _conj(double u, double l1, double l2, double lo, double up) noexcept nogil:
    """Convex conjugate ``g*(u)`` of ``g(w) = l1|w| + l2/2 w^2 + indicator(lo <= w <= up)``.

    Assumes ``lo <= 0 <= up``, so that ``g*(u) = phi(ST(u, l1))`` with
    ``phi(v) = sup_{lo<=w<=up} v w - l2/2 w^2``. When ``l2 == 0`` and the bound
    on the side of ``v`` is infinite, ``g*`` is finite only for ``v == 0``; the
    caller guarantees feasibility by rescaling (or projection, for unpenalized
    features) and 0 is returned, which ignores rounding errors of that rescaling.
    """
    cdef double v = soft_threshold_scalar(u, l1), wst
    if v > 0.0:
        if l2 > 0.0:
            wst = fmin(v / l2, up)
            return v * wst - 0.5 * l2 * wst * wst
        if isinf(up):
            return 0.0
        return v * up
    if v < 0.0:
        if l2 > 0.0:
            wst = fmax(v / l2, lo)
            return v * wst - 0.5 * l2 * wst * wst
        if isinf(lo):
            return 0.0
        return v * lo
    return 0.0


cdef double _dual_scale(const double* c, const floating* l1, const floating* l2,
                        const floating* lower, const floating* upper, const int* ws,
                        int m) noexcept nogil:
    """Largest ``s <= 1`` making ``s * c`` dual feasible (see :func:`enet_dual_terms`)."""
    cdef int k, j
    cdef double s = 1.0, ck, l1j
    for k in range(m):
        j = ws[k]
        l1j = l1[j]
        if l2[j] > 0.0 or l1j <= 0.0:
            continue
        ck = c[k]
        if ck > l1j and isinf(upper[j]):
            s = fmin(s, l1j / ck)
        elif ck < -l1j and isinf(lower[j]):
            s = fmin(s, -l1j / ck)
    return s


cdef double _conj_sum(const double* c, double s, const floating* l1, const floating* l2,
                      const floating* lower, const floating* upper, const int* ws,
                      int m) noexcept nogil:
    cdef int k, j
    cdef double acc = 0.0
    for k in range(m):
        j = ws[k]
        acc += _conj(s * c[k], l1[j], l2[j], lower[j], upper[j])
    return acc


cdef double _penalty(const floating* w, const floating* l1, const floating* l2,
                     const int* ws, int m) noexcept nogil:
    cdef int k, j
    cdef double acc = 0.0, wj
    for k in range(m):
        j = ws[k]
        wj = w[j]
        if wj != 0.0:
            acc += l1[j] * fabs(wj) + 0.5 * l2[j] * wj * wj
    return acc


def enet_dual_terms(const double[::1] c, const floating[::1] l1, const floating[::1] l2,
                    const floating[::1] lower, const floating[::1] upper, const int[::1] ws):
    """Dual rescaling and conjugate sum for the elastic net with box constraints.

    Parameters
    ----------
    c : ndarray of shape (m,), float64
        Correlations ``c_k = sum_i h_i (x_ij - mu_j) rho_i`` of a (centered)
        residual ``rho`` with feature ``j = ws[k]``.
    l1, l2, lower, upper : ndarray of shape (n_features,)
        Per-feature penalty and bounds (``lower <= 0 <= upper``).
    ws : ndarray of shape (m,), int32
        Features taken into account.

    Returns
    -------
    s : float
        ``min(1, min_j l1_j / |c_j|)`` over the features whose conjugate
        constrains ``c_j`` (``l2_j == 0``, ``l1_j > 0``, infinite bound on the
        side of ``c_j``), so that ``theta = s * rho`` is dual feasible.
    conj : float
        ``sum_k g_j*(s c_k)``, the conjugate term of the dual objective.
        Unpenalized features (``l1_j = l2_j = 0``) contribute 0 (the caller
        makes ``rho`` orthogonal to them).
    """
    cdef int m = ws.shape[0]
    cdef double s, G
    if c.shape[0] != m:
        raise ValueError("c and ws must have the same length")
    if not (l1.shape[0] == l2.shape[0] == lower.shape[0] == upper.shape[0]):
        raise ValueError("l1, l2, lower, upper must have the same length")
    _check_ws(ws, l1.shape[0])
    if m == 0:
        return 1.0, 0.0
    with nogil:
        s = _dual_scale(&c[0], &l1[0], &l2[0], &lower[0], &upper[0], &ws[0], m)
        G = _conj_sum(&c[0], s, &l1[0], &l2[0], &lower[0], &upper[0], &ws[0], m)
    return s, G


# ---------------------------------------------------------------------------
# concurrent solves share the cores (fits in several Python threads)
# ---------------------------------------------------------------------------
# OpenMP thread limits (omp_set_num_threads, threadpoolctl) are per calling thread
# (threadpoolctl issue #207): a fit started in a new Python thread sees the default (every
# core) even when the main thread set a limit. Two such fits on two cores each run two-thread
# OpenMP passes, four busy threads on two cores whose idle workers spin between passes
# (measured: +36-50% process CPU time for two concurrent Lasso fits). So the whole solves (and
# the column statistics before them) count themselves, and the OpenMP passes use at most
# ``cores // running`` threads. Partial: the Python part of a fit (validation) is not
# counted; ``threadpool_limits`` entered in each thread is the sure way.
cdef extern from *:
    """
    #if defined(_MSC_VER)
    #include <intrin.h>
    static volatile long fastreg_cd_running = 0;
    static void fastreg_cd_enter(void) { _InterlockedIncrement(&fastreg_cd_running); }
    static void fastreg_cd_leave(void) { _InterlockedDecrement(&fastreg_cd_running); }
    static int fastreg_cd_count(void) { return (int) _InterlockedOr(&fastreg_cd_running, 0); }
    #else
    static int fastreg_cd_running = 0;
    static void fastreg_cd_enter(void) {
        __atomic_add_fetch(&fastreg_cd_running, 1, __ATOMIC_RELAXED); }
    static void fastreg_cd_leave(void) {
        __atomic_sub_fetch(&fastreg_cd_running, 1, __ATOMIC_RELAXED); }
    static int fastreg_cd_count(void) {
        return __atomic_load_n(&fastreg_cd_running, __ATOMIC_RELAXED); }
    #endif
    """
    void _solve_enter "fastreg_cd_enter" () noexcept nogil
    void _solve_leave "fastreg_cd_leave" () noexcept nogil
    int _solves_running "fastreg_cd_count" () noexcept nogil


def _usable_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


cdef int _CORES = _usable_cores()


cdef inline int _shared_threads(int n_threads) noexcept nogil:
    """``n_threads``, or ``max(1, cores // r)`` if smaller, while ``r > 1`` compiled solves run."""
    cdef int r
    if n_threads <= 1:
        return n_threads
    r = _solves_running()
    if r <= 1:
        return n_threads
    return max(1, min(n_threads, _CORES // r))


def running_solves():
    """Compiled CD passes over X running now in all threads: :func:`enet_solve_dense`,
    ``enet_solve_sparse``, :func:`col_stats_dense`, ``col_stats_sparse`` calls (a fit's
    column statistics, then its whole solve)."""
    return _solves_running()


def shared_threads(int n_threads):
    """OpenMP threads an ``X^T v`` pass asked to use ``n_threads`` gets now.

    ``min(n_threads, max(1, cores // running_solves()))`` while more than one compiled
    solve runs (cores: the CPUs this process may run on), else ``n_threads``.
    """
    return _shared_threads(n_threads)


# ---------------------------------------------------------------------------
# X^T v over a set of features (one full pass: OpenMP over features)
# ---------------------------------------------------------------------------
cdef void _xtv(const floating* data, const int* indices, const int* indptr, int n,
               const floating* v, const int* ws, int m, double* out,
               int n_threads) noexcept nogil:
    """``out[k] = sum_i x_{i, ws[k]} v_i``; OpenMP over features when the pass is large
    (dynamic chunks of 64 features: sparse columns have unequal lengths), on at most
    :func:`shared_threads` threads."""
    cdef int k
    cdef double cost = 0.0
    n_threads = _shared_threads(n_threads)
    if n_threads > 1:
        if indptr == NULL:
            cost = m * <double> n
        else:
            for k in range(m):
                cost += indptr[ws[k] + 1] - indptr[ws[k]]
    if n_threads > 1 and cost > 2e6:
        for k in prange(m, num_threads=n_threads, schedule="dynamic", chunksize=64):
            out[k] = _col_dot(data, indices, indptr, n, ws[k], v, <const floating*> NULL, True)
    else:
        for k in range(m):
            out[k] = _col_dot(data, indices, indptr, n, ws[k], v, <const floating*> NULL, True)


def xtv_dense(const floating[::1, :] X, const floating[::1] v, const int[::1] ws,
              double[::1] out, int n_threads=1):
    """``out[k] = sum_i X[i, ws[k]] * v[i]`` for dense Fortran-ordered ``X``.

    Features are split over ``n_threads`` OpenMP threads when ``len(ws) * n_samples``
    exceeds 2e6 (fewer while several compiled solves run: :func:`shared_threads`).
    """
    cdef int n = X.shape[0], m = ws.shape[0]
    if v.shape[0] != n or out.shape[0] != m:
        raise ValueError("v must have n_samples entries and out len(ws)")
    _check_ws(ws, X.shape[1])
    if m == 0 or n == 0:
        out[:] = 0.0
        return
    with nogil:
        _xtv(&X[0, 0], NULL, NULL, n, &v[0], &ws[0], m, &out[0], n_threads)


def xtv_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
               const floating[::1] v, const int[::1] ws, double[::1] out, int n_threads=1):
    """``out[k] = sum_i X[i, ws[k]] * v[i]`` for CSC ``X`` (``data, indices, indptr``).

    OpenMP over features when the columns of ``ws`` hold more than 2e6 entries (on
    :func:`shared_threads` threads).
    """
    cdef int m = ws.shape[0]
    if out.shape[0] != m:
        raise ValueError("out must have len(ws) entries")
    _check_ws(ws, indptr.shape[0] - 1)
    if m == 0:
        return
    if indptr[indptr.shape[0] - 1] == 0:
        out[:] = 0.0
        return
    with nogil:
        _xtv(&data[0], &indices[0], &indptr[0], v.shape[0], &v[0], &ws[0], m, &out[0],
             n_threads)


# ---------------------------------------------------------------------------
# weighted column statistics
# ---------------------------------------------------------------------------
cdef void _col_stats_dense(const floating* col, const floating* h, int n, double hsum,
                           bint center, double* mu_out, double* sq_out) noexcept nogil:
    """``_col_stats`` of one dense column: two passes (the column stays in cache), four
    partial sums each (an FP reduction with one accumulator is latency-bound)."""
    cdef int i, n4 = n - n % 4
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, mj, d0, d1, d2, d3
    for i in range(0, n4, 4):
        a0 += h[i] * col[i]
        a1 += h[i + 1] * col[i + 1]
        a2 += h[i + 2] * col[i + 2]
        a3 += h[i + 3] * col[i + 3]
    for i in range(n4, n):
        a0 += h[i] * col[i]
    mj = ((a0 + a1) + (a2 + a3)) / hsum if center else 0.0
    a0 = a1 = a2 = a3 = 0.0
    for i in range(0, n4, 4):
        d0 = col[i] - mj
        d1 = col[i + 1] - mj
        d2 = col[i + 2] - mj
        d3 = col[i + 3] - mj
        a0 += h[i] * d0 * d0
        a1 += h[i + 1] * d1 * d1
        a2 += h[i + 2] * d2 * d2
        a3 += h[i + 3] * d3 * d3
    for i in range(n4, n):
        d0 = col[i] - mj
        a0 += h[i] * d0 * d0
    mu_out[0] = mj
    sq_out[0] = (a0 + a1) + (a2 + a3)


cdef void _col_stats_sparse(const floating* data, const int* indices, int lo, int hi,
                            const floating* h, double hsum, bint center, double* mu_out,
                            double* sq_out) noexcept nogil:
    """``_col_stats`` of one CSC column (entries ``lo:hi``); its zeros enter through
    the weight they leave, ``(H - sum of h over its rows) mu_j^2``."""
    cdef int k, i
    cdef double a = 0.0, mj, d, hz = hsum
    for k in range(lo, hi):
        a += h[indices[k]] * data[k]
    mj = a / hsum if center else 0.0
    a = 0.0
    for k in range(lo, hi):
        i = indices[k]
        d = data[k] - mj
        a += h[i] * d * d
        hz -= h[i]
    mu_out[0] = mj
    sq_out[0] = a + fmax(hz, 0.0) * mj * mj


cdef inline void _col_stats_one(const floating* data, const int* indices, const int* indptr,
                                int n, int j, const floating* h, double hsum, bint center,
                                double* mu_out, double* sq_out) noexcept nogil:
    if indptr == NULL:
        _col_stats_dense(data + <Py_ssize_t> j * n, h, n, hsum, center, &mu_out[j], &sq_out[j])
    else:
        _col_stats_sparse(data, indices, indptr[j], indptr[j + 1], h, hsum, center,
                          &mu_out[j], &sq_out[j])


cdef void _col_stats(const floating* data, const int* indices, const int* indptr, int n,
                     int p, const floating* h, double hsum, bint center,
                     double* mu_out, double* sq_out, int n_threads) noexcept nogil:
    """Column statistics of every feature; OpenMP over features, as :func:`_xtv`, when
    there are at least 2e6 entries (each column's result is the same on any thread)."""
    cdef int j
    cdef double cost = p * <double> n if indptr == NULL else <double> indptr[p]
    n_threads = _shared_threads(n_threads)
    if n_threads > 1 and cost > 2e6:
        for j in prange(p, num_threads=n_threads, schedule="dynamic", chunksize=64):
            _col_stats_one(data, indices, indptr, n, j, h, hsum, center, mu_out, sq_out)
    else:
        for j in range(p):
            _col_stats_one(data, indices, indptr, n, j, h, hsum, center, mu_out, sq_out)


def col_stats_dense(const floating[::1, :] X, const floating[::1] h, double[::1] mu_out,
                    double[::1] sq_out, bint center, int n_threads=1):
    """Weighted column means and (centered) squared norms of dense F-ordered ``X``.

    ``mu_out[j] = sum_i h_i X_ij / H`` (0 if not ``center``), and
    ``sq_out[j] = sum_i h_i (X_ij - mu_j)^2``: the coordinate-wise Lipschitz
    constants of the weighted quadratic. Two passes (no cancellation). ``n_threads``:
    OpenMP threads over features when X has at least 2e6 entries (same results).
    """
    cdef int n = X.shape[0], p = X.shape[1]
    cdef double hsum = 0.0
    cdef int i
    if h.shape[0] != n or mu_out.shape[0] != p or sq_out.shape[0] != p:
        raise ValueError("h must have n_samples entries, mu_out and sq_out n_features")
    if p == 0 or n == 0:
        return
    for i in range(n):
        hsum += h[i]
    with nogil:
        _solve_enter()
        _col_stats(&X[0, 0], NULL, NULL, n, p, &h[0], hsum, center, &mu_out[0], &sq_out[0],
                   n_threads)
        _solve_leave()


def col_stats_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                     const floating[::1] h, double[::1] mu_out, double[::1] sq_out, bint center,
                     int n_threads=1):
    """As :func:`col_stats_dense` for CSC ``X``; zeros are accounted for implicitly."""
    cdef int n = h.shape[0], p = indptr.shape[0] - 1
    cdef double hsum = 0.0
    cdef int i
    cdef const floating* dptr = NULL
    cdef const int* iptr = NULL
    if mu_out.shape[0] != p or sq_out.shape[0] != p:
        raise ValueError("mu_out and sq_out must have n_features entries")
    if p == 0 or n == 0:
        return
    if data.shape[0] > 0:
        dptr = &data[0]
        iptr = &indices[0]
    for i in range(n):
        hsum += h[i]
    with nogil:
        _solve_enter()
        _col_stats(dptr, iptr, &indptr[0], n, p, &h[0], hsum, center, &mu_out[0], &sq_out[0],
                   n_threads)
        _solve_leave()


# ---------------------------------------------------------------------------
# CD epochs and the working-set inner solver
# ---------------------------------------------------------------------------
cdef double _epoch(const floating* data, const int* indices, const int* indptr, int n,
                   const floating* h, floating* w, floating* R, double* b, const double* par,
                   const int* ws, const int* order, int m, double hsum, double hscale,
                   bint unit) noexcept nogil:
    """One cyclic pass over ``ws`` (in the order ``order`` if not NULL); returns max |dw_j|.

    ``par[6 k : 6 k + 6] = (L_j, mu_j, l1_j / L_j, l2_j / L_j, lower_j, upper_j)`` for
    ``j = ws[k]`` (:func:`_pack_params`): one cache line per coordinate, read in order,
    where the per-feature arrays would be gathered from all over memory when the set is a
    sparse subset of many features."""
    cdef int t, k, j, jn, a
    cdef double g, L, old, new, dw, dmax = 0.0
    cdef const double* pk
    for t in range(m):
        k = order[t] if order != NULL else t
        j = ws[k]
        pk = par + 6 * <Py_ssize_t> k
        if indptr != NULL and t + 1 < m:
            # sparse: the next column starts somewhere else in memory; ask for it now
            jn = ws[order[t + 1] if order != NULL else t + 1]
            a = indptr[jn]
            _prefetch(&indices[a])
            _prefetch(&data[a])
            _prefetch(&w[jn])
            if t + 2 < m:
                _prefetch(&indptr[ws[order[t + 2] if order != NULL else t + 2]])
        L = pk[0]
        if L <= 0.0:
            continue
        g = _col_dot(data, indices, indptr, n, j, R, h, unit)
        if unit:
            g *= hscale
        g -= b[0] * hsum * pk[1]
        old = w[j]
        new = prox_enet_box(old + g / L, pk[2], pk[3], pk[4], pk[5])
        if new != old:
            dw = new - old
            w[j] = <floating> new
            _col_axpy(data, indices, indptr, n, j, <floating> (-dw), R)
            b[0] -= dw * pk[1]
            dw = fabs(dw)
            if dw > dmax:
                dmax = dw
    return dmax


cdef void _pack_params(const double* mu, const double* lips, const floating* l1,
                       const floating* l2, const floating* lower, const floating* upper,
                       const int* ws, int m, double* par) noexcept nogil:
    """``par[6 k : 6 k + 6] = (L_j, mu_j, l1_j / L_j, l2_j / L_j, lower_j, upper_j)``,
    ``j = ws[k]`` (``L_j = lips[j]``; the ratios are 0 when ``L_j <= 0``)."""
    cdef int k, j
    cdef double L
    for k in range(m):
        j = ws[k]
        L = lips[j]
        par[6 * k] = L
        par[6 * k + 1] = mu[j]
        par[6 * k + 2] = l1[j] / L if L > 0.0 else 0.0
        par[6 * k + 3] = l2[j] / L if L > 0.0 else 0.0
        par[6 * k + 4] = lower[j]
        par[6 * k + 5] = upper[j]


cdef inline unsigned long long _xorshift(unsigned long long* state) noexcept nogil:
    cdef unsigned long long x = state[0]
    x ^= x << 13
    x ^= x >> 7
    x ^= x << 17
    state[0] = x
    return x


cdef inline void _shuffle(int* a, int m, unsigned long long* state) noexcept nogil:
    """Fisher-Yates shuffle of ``a[:m]`` in place."""
    cdef int t, kk, tmp
    for t in range(m - 1, 0, -1):
        kk = <int> (_xorshift(state) % <unsigned long long> (t + 1))
        tmp = a[t]
        a[t] = a[kk]
        a[kk] = tmp


cdef double _quad_stats(const floating* y, const floating* h, const floating* R, int n,
                        double b, double* yrho) noexcept nogil:
    """Return ``1/2 sum h (R - b)^2`` and set ``yrho = sum h y (R - b)``."""
    cdef int i
    cdef double q = 0.0, yr = 0.0, r
    for i in range(n):
        r = R[i] - b
        q += h[i] * r * r
        yr += h[i] * y[i] * r
    yrho[0] = yr
    return 0.5 * q


cdef double _wmean(const floating* h, const floating* R, int n, double hsum) noexcept nogil:
    cdef int i
    cdef double a = 0.0
    for i in range(n):
        a += h[i] * R[i]
    return a / hsum


cdef int _solve_small(double* A, double* z, int K) noexcept nogil:
    """Solve ``A z = z`` in place (A is K x K row-major, destroyed); Gaussian
    elimination with partial pivoting. Returns 0 on success, -1 if singular."""
    cdef int i, r, c, piv
    cdef double best, tmp, f
    for c in range(K):
        piv = c
        best = fabs(A[c * K + c])
        for r in range(c + 1, K):
            if fabs(A[r * K + c]) > best:
                best = fabs(A[r * K + c])
                piv = r
        if best <= 1e-300:
            return -1
        if piv != c:
            for i in range(K):
                tmp = A[c * K + i]
                A[c * K + i] = A[piv * K + i]
                A[piv * K + i] = tmp
            tmp = z[c]
            z[c] = z[piv]
            z[piv] = tmp
        for r in range(c + 1, K):
            f = A[r * K + c] / A[c * K + c]
            if f != 0.0:
                for i in range(c, K):
                    A[r * K + i] -= f * A[c * K + i]
                z[r] -= f * z[c]
    for r in range(K - 1, -1, -1):
        tmp = z[r]
        for i in range(r + 1, K):
            tmp -= A[r * K + i] * z[i]
        z[r] = tmp / A[r * K + r]
    return 0


cdef double _dual_value(const floating* data, const int* indices, const int* indptr, int n,
                        const floating* y, const floating* h, const floating* rho,
                        double* cbuf, const floating* l1, const floating* l2,
                        const floating* lower, const floating* upper, const int* ws, int m,
                        bint unit, double hscale, double* quad_out) noexcept nogil:
    """Dual objective at ``theta = s * rho`` (``rho`` centered), restricted to ``ws``.

    ``D = s <y, rho>_h - s^2/2 ||rho||_h^2 - sum_k g_j*(s c_k)`` with
    ``c_k = <x_j, rho>_h``; sets ``quad_out = 1/2 ||rho||_h^2``.
    """
    cdef int k, i
    cdef double q = 0.0, yr = 0.0, s, G
    for k in range(m):
        cbuf[k] = _col_dot(data, indices, indptr, n, ws[k], rho, h, unit)
        if unit:
            cbuf[k] *= hscale
    for i in range(n):
        q += h[i] * rho[i] * rho[i]
        yr += h[i] * y[i] * rho[i]
    q *= 0.5
    s = _dual_scale(cbuf, l1, l2, lower, upper, ws, m)
    G = _conj_sum(cbuf, s, l1, l2, lower, upper, ws, m)
    quad_out[0] = q
    return s * yr - s * s * q - G


cdef int _extrapolate(const double* hist, int n, int K, int oldest, double* A, double* z,
                      double* out) noexcept nogil:
    """Anderson extrapolation of the K + 1 vectors ``x_0, ..., x_K`` stored circularly in
    the rows of ``hist`` ((K + 1) x n, row-major, ``x_0`` at row ``oldest``).

    ``out = sum_i z_i x_{i+1} / sum_i z_i`` with ``z`` solving ``(U U^T + eps I) z = 1``,
    ``U_i = x_{i+1} - x_i`` (``eps = 1e-12 trace(U U^T) + 1e-300``), i.e. the affine
    combination of the last K iterates whose differences have the smallest norm
    (Anderson 1965; Bertrand & Massias 2021). ``A`` (K x K) and ``z`` (K) are scratch.
    Returns 0 on success, -1 (``out`` untouched) if the system is singular."""
    cdef int i, t, k, ri, ri1, rt, rt1
    cdef double q, zsum
    for i in range(K):
        ri = ((oldest + i) % (K + 1)) * n
        ri1 = ((oldest + i + 1) % (K + 1)) * n
        for t in range(i, K):
            rt = ((oldest + t) % (K + 1)) * n
            rt1 = ((oldest + t + 1) % (K + 1)) * n
            q = 0.0
            for k in range(n):
                q += (hist[ri1 + k] - hist[ri + k]) * (hist[rt1 + k] - hist[rt + k])
            A[i * K + t] = q
            A[t * K + i] = q
    q = 0.0
    for i in range(K):
        q += A[i * K + i]
    for i in range(K):
        A[i * K + i] += 1e-12 * q + 1e-300
        z[i] = 1.0
    if _solve_small(A, z, K) != 0:
        return -1
    zsum = 0.0
    for i in range(K):
        zsum += z[i]
    if not (zsum != 0.0 and zsum == zsum):
        return -1
    for k in range(n):
        q = 0.0
        for i in range(K):
            q += z[i] * hist[((oldest + i + 1) % (K + 1)) * n + k]
        out[k] = q / zsum
    return 0


def anderson_extrapolate(const double[:, ::1] hist, int oldest, double[::1] out):
    """Anderson extrapolation of the iterates stored circularly in ``hist``.

    Parameters
    ----------
    hist : ndarray (K + 1, n), float64, C order
        The last ``K + 1`` iterates ``x_0, ..., x_K`` (oldest first from row ``oldest``,
        wrapping around).
    oldest : int
        Row of ``x_0``.
    out : ndarray (n,), float64, output
        ``sum_i z_i x_{i+1} / sum_i z_i`` where ``z`` solves ``(U U^T + eps I) z = 1``,
        ``U_i = x_{i+1} - x_i`` and ``eps = 1e-12 trace(U U^T) + 1e-300``: the affine
        combination of the last K iterates whose differences have the smallest norm
        (Bertrand & Massias 2021).

    Returns
    -------
    ok : bool
        False (``out`` untouched) if ``K < 1`` or the system is singular or ``z`` sums to 0.
    """
    cdef int K = hist.shape[0] - 1, n = hist.shape[1], rc
    if out.shape[0] != n:
        raise ValueError("out must have hist.shape[1] entries")
    if not 0 <= oldest <= K:
        raise ValueError(f"oldest must be in [0, {K}], got {oldest}")
    if K < 1 or n == 0:
        return False
    cdef double[::1] A = np.empty(K * K)
    cdef double[::1] z = np.empty(K)
    with nogil:
        rc = _extrapolate(&hist[0, 0], n, K, oldest, &A[0], &z[0], &out[0])
    return rc == 0


cdef inline signed char _coord_state(double wj, double lo, double up) noexcept nogil:
    """0 at zero, +-1 strictly inside the bounds (by sign), +-2 at a non-zero bound."""
    if wj == 0.0:
        return 0
    if wj >= up:
        return 2
    if wj <= lo:
        return -2
    return 1 if wj > 0.0 else -1


cdef int _call_newton(PyObject* newton, const int* ws, int m, double b, double rem,
                      double nnz_ws, int budget) noexcept nogil:
    """Call ``newton(ws, b, rem, nnz_ws, budget)`` (with the GIL; ``ws`` an int32 memoryview
    of the set, ``b`` the current intercept, ``rem`` the CD epochs expected to remain (the
    measured rate's prediction, at most the epochs already spent on the set), ``nnz_ws`` the stored entries of the set's columns, ``budget`` the
    epochs left). Returns its integer result (1: ``w`` and ``R`` moved, 0: unchanged), or
    -1 if it raised or returned something else."""
    cdef int rc = 0
    with gil:
        try:
            rc = int((<object> newton)(<int[:max(m, 1)]> ws if m > 0 else None, b, rem,
                                       nnz_ws, budget))
        except BaseException:
            rc = -1
    return rc


cdef int _cd_solve(const floating* data, const int* indices, const int* indptr, int n,
                   const floating* y, const floating* h, floating* w, floating* R, double* b,
                   const double* mu, const double* lips, const floating* l1,
                   const floating* l2, const floating* lower, const floating* upper,
                   const int* ws, int m, double* work, floating* R_tmp, int* order,
                   double tol, int max_epochs, int check_every, int K, bint fit_intercept,
                   bint unit, unsigned long long seed, bint shuffle, double* gap_out,
                   int stall_checks=0, double* rate_io=NULL, int* ext_out=NULL,
                   int first_check=0, double gap0=INFINITY,
                   PyObject* newton=NULL) noexcept nogil:
    """Inner working-set solver; see :func:`cd_solve_dense`. Returns the number of epochs.

    ``newton`` (if not NULL): a Python callable tried at a gap check once the sign/bound
    pattern of ``w`` on ``ws`` is nearly the same as at the previous check (at most
    ``m // _NEWTON_SLACK`` coordinates changed; :func:`_call_newton`):
    the sign-fixed Newton step on the support (:mod:`fastreg.solvers.cd_newton`), which
    moves ``w`` and ``R`` in place only when the objective decreases. After each attempt
    it is not tried again before the pattern changes; the gap stays the only stopping test.

    ``stall_checks > 0``: also stop when the restricted gap has not decreased by 10%
    over that many consecutive checks (used by :func:`_enet_solve` for float32).

    Check schedule: the first gap check after ``first_check`` epochs (0: ``check_every``);
    after two checks, the next one is placed where the observed linear rate of the gap
    (per epoch) predicts the target, between 1 and ``check_every`` epochs later, so that
    a fast-converging set does not overshoot its target by many epochs (a check costs about
    one epoch on the set; ``gap0``, if finite, is a bound on the gap at epoch 0 used
    as the first reference). ``rate_io`` (if not NULL) receives the last measured rate
    (log of the gap decrease per epoch; unchanged if none was measured). ``ext_out`` (if not NULL) is set to 1 when the
    last check produced an extrapolated dual residual (float64, centered, in ``work`` at
    offset ``(K + 3) m + (K + 1) n``), else 0."""
    cdef int epoch, k, j, t, i, cnt = 0, kk, next_check, last_ep = 0
    cdef double hsum = 0.0, hscale = h[0], dmax, q, yr, s, G, pen, P, D, gap = INFINITY
    cdef double Pcur, Pe, be, zsum, wj, De, D_best = -INFINITY, best_check = INFINITY
    cdef double last_gap = INFINITY, rate
    cdef int rcnt = 0, n_flat = 0, ext_ok = 0, accepted = 0, min_gap
    cdef double nnz_ws = 0.0, rate_cur = 0.0, rem
    cdef signed char* pattern = NULL          # sign/bound state of each coordinate at the last check
    cdef signed char st
    cdef int changed, newton_blocked = 0, rc
    cdef int* sub = NULL                      # positions in ws of the non-zero coefficients
    cdef int n_sub = 0, since_full = _SUPPORT_EPOCHS
    cdef double A[_MAXK * _MAXK]
    cdef double z[_MAXK]
    cdef double* hist = work                  # (K + 1) x m iterates
    cdef double* cbuf = work + (K + 1) * m    # m correlations
    cdef double* wext = cbuf + m              # m extrapolated coefficients
    cdef double* rhist = wext + m             # (K + 2) x n residual history + extrapolation
    cdef double* par = rhist + (K + 2) * <Py_ssize_t> n   # 6 m packed parameters
    cdef unsigned long long state = seed * 2862933555777941757ULL + 3037000493ULL
    if state == 0:
        state = 88172645463325252ULL
    for i in range(n):
        hsum += h[i]
    for k in range(m):
        order[k] = k
    _pack_params(mu, lips, l1, l2, lower, upper, ws, m, par)
    if fit_intercept:
        b[0] = _wmean(h, R, n, hsum)
    else:
        b[0] = 0.0
    # fewest epochs between two checks: a check costs the set's columns once or twice
    # plus O(K^2 n) vector work (dual extrapolation), an epoch the set's columns twice;
    # checking more often than those costs balance cannot pay (e.g. long sparse rows)
    for k in range(m):
        nnz_ws += n if indptr == NULL else indptr[ws[k] + 1] - indptr[ws[k]]
    min_gap = <int> ((2.0 * nnz_ws + (0.5 * K * (K + 1) + 8.0) * n) / (2.0 * nnz_ws + 1.0) + 0.5)
    min_gap = max(1, min(min_gap, check_every))
    epoch = 0
    next_check = max(first_check, min_gap) if first_check > 0 else check_every
    last_gap = gap0
    if _SUPPORT_EPOCHS > 0:
        sub = <int*> malloc(max(m, 1) * sizeof(int))  # NULL: full epochs only
    if newton != NULL:
        pattern = <signed char*> malloc(max(m, 1) * sizeof(signed char))  # NULL: no Newton
        if pattern != NULL:
            for k in range(m):
                pattern[k] = 127  # no state yet: the first check is never "stable"
    while epoch < max_epochs:
        if sub != NULL and since_full < _SUPPORT_EPOCHS and 0 < n_sub <= (9 * m) // 10:
            # glmnet's active-set cycling (Friedman et al. 2010, section 2.6): between two
            # epochs over the whole set, epochs over its non-zero coordinates only (the
            # others stay 0 unless their KKT condition fails, which the next full epoch
            # or gap check sees); about half the cost of a full epoch late in a solve
            if shuffle:
                _shuffle(sub, n_sub, &state)
            dmax = _epoch(data, indices, indptr, n, h, w, R, b, par, ws, sub, n_sub, hsum,
                          hscale, unit)
            since_full += 1
        else:
            if shuffle:
                _shuffle(order, m, &state)
            dmax = _epoch(data, indices, indptr, n, h, w, R, b, par, ws,
                          order if shuffle else NULL, m, hsum, hscale, unit)
            since_full = 0
            if sub != NULL:
                n_sub = 0
                for k in range(m):
                    j = ws[k]
                    if w[j] != 0.0:
                        sub[n_sub] = k
                        n_sub += 1
        epoch += 1
        accepted = 0
        # ---- Anderson extrapolation of the primal iterates (Bertrand & Massias 2021)
        if K > 0 and dmax > 0.0:
            for k in range(m):
                hist[cnt * m + k] = w[ws[k]]
            cnt += 1
            if cnt == K + 1:
                cnt = 0
                if _extrapolate(hist, m, K, 0, A, z, wext) == 0:
                    for k in range(m):
                        j = ws[k]
                        wext[k] = fmin(fmax(wext[k], lower[j]), upper[j])
                    # objective at the current point and at the extrapolated one
                    Pcur = _quad_stats(y, h, R, n, b[0], &yr) + _penalty(w, l1, l2, ws, m)
                    for i in range(n):
                        R_tmp[i] = R[i]
                    pen = 0.0
                    for k in range(m):
                        j = ws[k]
                        wj = wext[k]
                        if wj != w[j]:
                            _col_axpy(data, indices, indptr, n, j, <floating> (w[j] - wj), R_tmp)
                        if wj != 0.0:
                            pen += l1[j] * fabs(wj) + 0.5 * l2[j] * wj * wj
                    be = _wmean(h, R_tmp, n, hsum) if fit_intercept else 0.0
                    Pe = _quad_stats(y, h, R_tmp, n, be, &yr) + pen
                    if Pe < Pcur:
                        for k in range(m):
                            w[ws[k]] = <floating> wext[k]
                        for i in range(n):
                            R[i] = R_tmp[i]
                        b[0] = be
                        accepted = 1
        # ---- residual history for the dual extrapolation (last K + 1 epochs)
        if K > 0 and next_check - epoch <= K:
            t = rcnt % (K + 1)
            for i in range(n):
                rhist[t * n + i] = R[i] - b[0]
            rcnt += 1
        # ---- stopping test: duality gap of the problem restricted to ws
        if epoch >= next_check or dmax == 0.0 or epoch == max_epochs:
            if fit_intercept:
                b[0] = _wmean(h, R, n, hsum)
            for i in range(n):
                R_tmp[i] = R[i] - <floating> b[0]
            D = _dual_value(data, indices, indptr, n, y, h, R_tmp, cbuf, l1, l2, lower, upper,
                            ws, m, unit, hscale, &q)
            P = q + _penalty(w, l1, l2, ws, m)
            # ---- dual extrapolation (Massias et al. 2018/2020): Anderson on the
            # last K + 1 centered residuals, a second dual candidate
            ext_ok = 0
            if K > 0:
                if rcnt >= K + 1 and _extrapolate(rhist, n, K, rcnt % (K + 1), A, z,
                                                   rhist + (K + 1) * n) == 0:
                    ext_ok = 1
                    for i in range(n):
                        R_tmp[i] = <floating> rhist[(K + 1) * n + i]
                    De = _dual_value(data, indices, indptr, n, y, h, R_tmp, cbuf, l1, l2,
                                     lower, upper, ws, m, unit, hscale, &Pe)
                    if De > D:
                        D = De
            if D > D_best:
                D_best = D
            gap = P - D_best
            # ---- next check: where the measured linear rate predicts the target
            next_check = epoch + check_every
            if last_gap < INFINITY and 0.0 < gap < last_gap and epoch > last_ep:
                rate = log(gap / last_gap) / (epoch - last_ep)
                rate_cur = rate
                if rate_io != NULL:
                    rate_io[0] = rate
                if tol > 0.0 and gap > tol:
                    k = <int> ceil(log(tol / gap) / rate)
                    next_check = epoch + max(min_gap, min(k, check_every))
            last_gap = gap
            last_ep = epoch
            if gap <= tol or not isfinite(gap):
                if accepted and isfinite(gap) and epoch < max_epochs:
                    # never stop on an extrapolated point: one more CD epoch (it can only
                    # decrease P, so the gap stays certified) puts the coordinates that
                    # the extrapolation left near a bound or 0 exactly there
                    _epoch(data, indices, indptr, n, h, w, R, b, par, ws, NULL, m, hsum,
                           hscale, unit)
                    epoch += 1
                break  # converged, or non-finite values (the caller reports them)
            if stall_checks > 0:
                # float32: R's rounding bounds the reachable gap; stop once the gap has
                # not decreased by 10% over stall_checks checks (the caller decides)
                if gap < 0.9 * best_check:
                    best_check = gap
                    n_flat = 0
                else:
                    n_flat += 1
                    if n_flat >= stall_checks:
                        break
            # ---- sign-fixed Newton step on the support, once its pattern has settled
            if pattern != NULL:
                changed = 0  # coordinates whose state changed since the last check
                for k in range(m):
                    j = ws[k]
                    st = _coord_state(w[j], lower[j], upper[j])
                    if st != pattern[k]:
                        changed += 1
                        pattern[k] = st
                if changed > 0:
                    newton_blocked = 0
                if changed <= (m // _NEWTON_SLACK if _NEWTON_SLACK > 0 else 0) \
                        and not newton_blocked:
                    newton_blocked = 1  # tried once per settled pattern
                    # epochs CD is expected to need still: the measured rate's prediction
                    # (noisy: one ratio of two gaps), at most the epochs already spent here
                    rem = epoch
                    if rate_cur < 0.0 and tol > 0.0:
                        rem = fmin(rem, log(tol / gap) / rate_cur)
                    rc = _call_newton(newton, ws, m, b[0], rem, nnz_ws, max_epochs - epoch)
                    if rc < 0:
                        free(pattern)  # the callback failed: CD only from here
                        pattern = NULL
                    elif rc > 0:
                        # w and R moved: the intercept, the Anderson histories and the
                        # support list are stale; check again after one full epoch
                        if fit_intercept:
                            b[0] = _wmean(h, R, n, hsum)
                        cnt = 0
                        rcnt = 0
                        since_full = _SUPPORT_EPOCHS
                        next_check = epoch + 1
                        last_gap = INFINITY
                        for k in range(m):
                            j = ws[k]
                            pattern[k] = _coord_state(w[j], lower[j], upper[j])
    if sub != NULL:
        free(sub)
    if pattern != NULL:
        free(pattern)
    gap_out[0] = gap
    if ext_out != NULL:
        ext_out[0] = ext_ok
    return epoch


cdef int _csc_pointers(const floating[::1] data, const int[::1] indices,
                       const int[::1] indptr, const floating** dptr,
                       const int** iptr) except -1:
    """Check that ``data``/``indices`` hold ``indptr[-1]`` entries; set the raw pointers
    (NULL when there are no stored entries)."""
    if data.shape[0] < indptr[indptr.shape[0] - 1] or indices.shape[0] < data.shape[0]:
        raise ValueError("data/indices shorter than indptr[-1]")
    if data.shape[0] > 0:
        dptr[0] = &data[0]
        iptr[0] = &indices[0]
    return 0


def _check_ws(const int[::1] ws, Py_ssize_t p):
    """Raise ValueError unless every ``ws[k]`` is in ``[0, p)`` (O(len(ws)))."""
    cdef Py_ssize_t k
    cdef int j
    for k in range(ws.shape[0]):
        j = ws[k]
        if j < 0 or j >= p:
            raise ValueError(f"working set index {j} out of range [0, {p})")


def _check_lengths(Py_ssize_t n, Py_ssize_t p, y, h, w, R, intercept, mu, lipschitz,
                   l1, l2, lower, upper):
    for name, arr, size in (("y", y, n), ("h", h, n), ("R", R, n), ("w", w, p), ("mu", mu, p),
                            ("lipschitz", lipschitz, p), ("l1", l1, p), ("l2", l2, p),
                            ("lower", lower, p), ("upper", upper, p)):
        if arr.shape[0] != size:
            raise ValueError(f"{name} has length {arr.shape[0]}, expected {size}")
    if intercept.shape[0] < 1:
        raise ValueError("intercept must have one entry")


def work_size(int anderson_k, int m, int n):
    """Length of the float64 scratch ``work`` of :func:`cd_solve_dense` / :func:`cd_solve_sparse`:
    ``(anderson_k + 9) * m + (anderson_k + 2) * n`` (primal and dual Anderson histories,
    packed per-coordinate parameters)."""
    return (anderson_k + 9) * m + (anderson_k + 2) * n


def _check_K(int anderson_k, int m, work, R_tmp, order, int n):
    if anderson_k < 0 or anderson_k > MAX_ANDERSON:
        raise ValueError(f"anderson_k must be in [0, {MAX_ANDERSON}], got {anderson_k}")
    if work.shape[0] < work_size(anderson_k, m, n):
        raise ValueError(f"work must have at least work_size(anderson_k, len(ws), n_samples) "
                         f"= {work_size(anderson_k, m, n)} entries")
    if R_tmp.shape[0] != n or order.shape[0] < m:
        raise ValueError("R_tmp must have n_samples entries and order len(ws)")


def cd_solve_dense(const floating[::1, :] X, const floating[::1] y, const floating[::1] h,
                   floating[::1] w, floating[::1] R, double[::1] intercept,
                   const double[::1] mu, const double[::1] lipschitz,
                   const floating[::1] l1, const floating[::1] l2,
                   const floating[::1] lower, const floating[::1] upper,
                   const int[::1] ws, double[::1] work, floating[::1] R_tmp, int[::1] order,
                   double tol, int max_epochs, int check_every=10, int anderson_k=5,
                   bint fit_intercept=True, bint unit_weights=False,
                   unsigned long long seed=0, bint shuffle=False):
    """Proximal CD on the working set ``ws`` until its duality gap is <= ``tol``.

    Solves, over ``w[ws]`` (other coefficients fixed) and ``b``,

    ``min 1/2 sum_i h_i (y_i - x_i^T w - b)^2 + sum_{j in ws} l1_j |w_j| + l2_j/2 w_j^2``
    subject to ``lower_j <= w_j <= upper_j``,

    in place on ``w`` and on the residual ``R = y - X w`` (no intercept; it must
    be consistent with ``w`` on entry). Each epoch updates every ``j`` in ``ws``
    by the exact coordinate minimization
    ``w_j <- prox_enet_box(w_j + g_j / L_j, l1_j / L_j, l2_j / L_j, lower_j, upper_j)``
    with ``g_j = sum_i h_i (x_ij - mu_j)(R_i - b)``, ``L_j = lipschitz[j] =
    sum_i h_i (x_ij - mu_j)^2`` (features with ``L_j == 0`` are skipped). After
    each such full epoch, three epochs visit only the coordinates that were non-zero
    after it (glmnet's active-set cycling; skipped when they are over 90% of ``ws``).

    Every ``anderson_k`` epochs an Anderson extrapolation of the last
    ``anderson_k + 1`` iterates (Bertrand & Massias 2021) is clipped to the box
    and accepted only if it decreases the objective (the solver never stops on an
    extrapolated point: one CD epoch follows). After ``check_every`` epochs, then
    where the linear rate measured between the last two checks predicts ``tol``
    (between 1 and ``check_every`` epochs later), and when an epoch changes nothing, the duality gap of the
    restricted problem is computed from the rescaled residual (see
    :func:`enet_dual_terms`) and, once ``anderson_k + 1`` residuals have been
    recorded, also from their Anderson extrapolation (dual extrapolation,
    Massias, Gramfort, Salmon 2018; Massias, Vaiter, Gramfort, Salmon 2020);
    the best dual value of the call is kept, and the solver stops when the gap
    is ``<= tol``.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), Fortran order
    y : ndarray (n_samples,)
        Target (for prox-Newton: the working response).
    h : ndarray (n_samples,)
        Non-negative sample weights (any positive sum).
    w, R : ndarray, modified in place
    intercept : ndarray (1,), float64, output
        ``b = sum_i h_i R_i / sum_i h_i`` at exit (0 if not ``fit_intercept``).
    mu, lipschitz : ndarray (n_features,), float64
        From :func:`col_stats_dense` with the same ``h`` (``mu = 0`` without intercept).
    l1, l2, lower, upper : ndarray (n_features,)
        Penalty and box (``lower <= 0 <= upper``).
    ws : ndarray (m,), int32
    work : ndarray, float64, at least ``work_size(anderson_k, m, n_samples)`` entries (scratch)
    R_tmp : ndarray (n_samples,) (scratch); order : int32 ndarray (>= m,) (scratch)
    tol : float
        Absolute duality-gap tolerance for the restricted problem.
    max_epochs, check_every, anderson_k : int
        ``anderson_k = 0`` disables extrapolation (at most ``MAX_ANDERSON``).
    fit_intercept : bool
    unit_weights : bool
        All ``h_i`` equal (to ``h[0]``): BLAS dot in the hot loop.
    seed, shuffle : random permutation of ``ws`` at each epoch (``selection='random'``).

    Returns
    -------
    n_epochs : int
    gap : float
        Restricted duality gap at the last check.
    """
    cdef int n = X.shape[0], m = ws.shape[0], ep
    cdef double gap = 0.0
    _check_K(anderson_k, m, work, R_tmp, order, n)
    _check_lengths(n, X.shape[1], y, h, w, R, intercept, mu, lipschitz, l1, l2, lower, upper)
    _check_ws(ws, X.shape[1])
    if m == 0 or n == 0:
        return 0, 0.0
    with nogil:
        ep = _cd_solve(&X[0, 0], NULL, NULL, n, &y[0], &h[0], &w[0], &R[0], &intercept[0],
                       &mu[0], &lipschitz[0], &l1[0], &l2[0], &lower[0], &upper[0],
                       &ws[0], m, &work[0], &R_tmp[0], &order[0], tol, max_epochs,
                       max(check_every, 1), anderson_k, fit_intercept, unit_weights, seed,
                       shuffle, &gap)
    return ep, gap


def cd_solve_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                    const floating[::1] y, const floating[::1] h,
                    floating[::1] w, floating[::1] R, double[::1] intercept,
                    const double[::1] mu, const double[::1] lipschitz,
                    const floating[::1] l1, const floating[::1] l2,
                    const floating[::1] lower, const floating[::1] upper,
                    const int[::1] ws, double[::1] work, floating[::1] R_tmp, int[::1] order,
                    double tol, int max_epochs, int check_every=10, int anderson_k=5,
                    bint fit_intercept=True, bint unit_weights=False,
                    unsigned long long seed=0, bint shuffle=False):
    """As :func:`cd_solve_dense` for CSC ``X`` given by ``data, indices, indptr`` (int32).

    The intercept is handled by implicit centering (X is never densified).
    """
    cdef int n = y.shape[0], m = ws.shape[0], ep
    cdef double gap = 0.0
    cdef const floating* dptr = NULL
    cdef const int* iptr = NULL
    _check_K(anderson_k, m, work, R_tmp, order, n)
    _check_lengths(n, indptr.shape[0] - 1, y, h, w, R, intercept, mu, lipschitz, l1, l2,
                   lower, upper)
    _check_ws(ws, indptr.shape[0] - 1)
    _csc_pointers(data, indices, indptr, &dptr, &iptr)
    if m == 0 or n == 0:
        return 0, 0.0
    with nogil:
        ep = _cd_solve(dptr, iptr, &indptr[0], n, &y[0], &h[0], &w[0], &R[0], &intercept[0],
                       &mu[0], &lipschitz[0], &l1[0], &l2[0], &lower[0], &upper[0],
                       &ws[0], m, &work[0], &R_tmp[0], &order[0], tol, max_epochs,
                       max(check_every, 1), anderson_k, fit_intercept, unit_weights, seed,
                       shuffle, &gap)
    return ep, gap


# ---------------------------------------------------------------------------
# the whole working-set solver (outer loop), compiled
# ---------------------------------------------------------------------------
cdef enum:
    _CONVERGED = 0
    _MAX_ITER = 1
    _STALLED = 2      # float32: the gap stopped decreasing (rounding level reached)
    _NONFINITE = 3    # a non-finite objective or dual value appeared
    _EMPTY_WS = 4     # nothing left to optimize (every feature screened or excluded)
    _NO_MEMORY = 5
    _CALLBACK_ERROR = 6

#: ``status`` values returned by :func:`enet_solve_dense` / :func:`enet_solve_sparse`.
STATUS_CONVERGED = _CONVERGED
STATUS_MAX_ITER = _MAX_ITER
STATUS_STALLED = _STALLED
STATUS_NONFINITE = _NONFINITE
STATUS_EMPTY_WS = _EMPTY_WS
STATUS_NO_MEMORY = _NO_MEMORY
STATUS_CALLBACK_ERROR = _CALLBACK_ERROR


cdef double _select_threshold(double* a, int m, int k) noexcept nogil:
    """Value of rank ``k`` (0-based, ascending) of ``a[:m]`` (quickselect; ``a`` is permuted)."""
    cdef int lo = 0, hi = m - 1, i, j
    cdef double pivot, tmp
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


cdef int _call_project(PyObject* project, double* rho, int n) noexcept nogil:
    """Call the Python ``project(rho)`` (in place on the float64 ``rho``); 0 on success."""
    cdef int rc = 0
    with gil:
        try:
            (<object> project)(<double[:n]> rho)
        except BaseException:
            rc = -1
    return rc


cdef void _print_iter(int it, double P, double gap, double tol, int n_active, int m_ws,
                      int n_epochs) noexcept nogil:
    with gil:
        print(f"[fastreg.enet_cd] iter {it:3d}  primal {P:.10e}  gap {gap:.3e}  "
              f"(tol {tol:.3e})  active {n_active}  ws {m_ws}  epochs {n_epochs}", flush=True)


cdef int _dual_full(const floating* data, const int* indices, const int* indptr, int n,
                    const floating* y, const floating* h, double ybar, const double* mu,
                    const floating* l1, const floating* l2, const floating* lower,
                    const floating* upper, const int* active, int m, double* c, double* rho,
                    floating* v, bint fit_intercept, int n_threads, PyObject* project,
                    double* out) noexcept nogil:
    """Dual value at ``theta = s * rho`` (``rho`` centered, projected in place by ``project``).

    ``c[k] = sum_i h_i (x_ij - mu_j) rho_i`` for ``j = active[k]``; ``out = (D, s)``.
    Returns 0, or -1 if ``project`` raised.
    """
    cdef int i, k
    cdef double qq = 0.0, yr = 0.0, vi, vsum = 0.0, s, G
    if project != NULL:
        if _call_project(project, rho, n) != 0:
            return -1
    for i in range(n):
        vi = h[i] * rho[i]
        v[i] = <floating> vi
        vsum += vi
        qq += vi * rho[i]
        yr += vi * (y[i] - ybar)  # = <y, rho>_h as sum_i h_i rho_i = 0
    if m > 0:
        _xtv(data, indices, indptr, n, v, active, m, c, n_threads)
    if fit_intercept:
        for k in range(m):
            c[k] -= mu[active[k]] * vsum
    s = _dual_scale(c, l1, l2, lower, upper, active, m)
    G = _conj_sum(c, s, l1, l2, lower, upper, active, m)
    out[0] = s * yr - 0.5 * s * s * qq - G
    out[1] = s
    return 0


cdef int _full_gap(const floating* data, const int* indices, const int* indptr, int n,
                   const floating* y, const floating* h, double hsum, const floating* w,
                   const floating* R, const double* mu, const floating* l1, const floating* l2,
                   const floating* lower, const floating* upper, const int* active, int m,
                   double* c, double* rho, floating* v, bint fit_intercept, int n_threads,
                   PyObject* project, double* out) noexcept nogil:
    """Primal value, dual value (rescaled residual), correlations of the active features.

    ``out = (P, D, s, b)``; ``c[k] = sum_i h_i (x_ij - mu_j) rho_i`` for ``j = active[k]``
    with ``rho`` the centered residual, projected by ``project`` (unpenalized features)
    when not NULL. Returns 0, or -1 if ``project`` raised.
    """
    cdef int i
    cdef double b = 0.0, r, q = 0.0, vsum = 0.0, ybar = 0.0
    cdef double dout[2]
    if fit_intercept:
        # two passes: b and <y, rho> are sensitive to the rounding of b for uncentered data
        b = _wmean(h, R, n, hsum)
        for i in range(n):
            vsum += h[i] * (R[i] - b)
        b += vsum / hsum
        ybar = _wmean(h, y, n, hsum)
    for i in range(n):
        r = R[i] - b
        rho[i] = r
        q += h[i] * r * r
    if _dual_full(data, indices, indptr, n, y, h, ybar, mu, l1, l2, lower, upper, active, m,
                  c, rho, v, fit_intercept, n_threads, project, dout) != 0:
        return -1
    out[0] = 0.5 * q + _penalty(w, l1, l2, active, m)
    out[1] = dout[0]
    out[2] = dout[1]
    out[3] = b
    return 0


cdef int _enet_solve(const floating* data, const int* indices, const int* indptr, int n, int p,
                     const floating* y, const floating* h, floating* w, floating* R,
                     const double* mu, const double* lips, const floating* l1,
                     const floating* l2, const floating* lower, const floating* upper,
                     int* active, int m, const int* ws_init, int n_ws_init,
                     double* c, double* c2, double* score, unsigned char* mark, int* ws,
                     int* order, double* rho, floating* v, floating* R_tmp, double* corr,
                     double tol_abs, int max_iter, int max_epochs, int p0, int K,
                     int check_every, double inner_tol, double eps_margin, bint screening,
                     bint fit_intercept, bint unit, unsigned long long seed, bint shuffle,
                     int n_threads, int patience, int verbose, PyObject* project,
                     double* info, PyObject* newton=NULL) noexcept nogil:
    """Working-set outer loop; see :func:`enet_solve_dense`. Returns the status."""
    cdef int it = 0, k, j, i, n_forced, new_m, ws_size, m_ws = 0, n_epochs = 0, n_lt, ep
    cdef int status = _MAX_ITER, n_stalled = 0, first = 1
    cdef double hsum = 0.0, gap = INFINITY, D_best = -INFINITY, best_gap = INFINITY
    cdef double P = INFINITY, s, b = 0.0, radius, u, d, l1j, lo, up, sc, thr, inner_gap
    cdef double D, ybar = 0.0, rate = 0.0, target = INFINITY, itol = inner_tol
    cdef bint saturated
    cdef double* cb
    cdef double out[4]
    cdef double dout[2]
    cdef double bb[1]
    cdef int ext = 0, first_check
    cdef double* work = NULL
    cdef Py_ssize_t work_len = 0, need
    cdef double p_null = 0.0
    for i in range(n):
        hsum += h[i]
    if fit_intercept:
        ybar = _wmean(h, y, n, hsum)
    for i in range(n):
        p_null += h[i] * (y[i] - ybar) * (y[i] - ybar)
    p_null *= 0.5  # objective of the null model (w = 0, optimal intercept)
    while True:
        if _full_gap(data, indices, indptr, n, y, h, hsum, w, R, mu, l1, l2, lower, upper,
                     active, m, c, rho, v, fit_intercept, n_threads, project, out) != 0:
            status = _CALLBACK_ERROR
            break
        P = out[0]
        D = out[1]
        s = out[2]
        b = out[3]
        cb = c
        if corr != NULL:
            for k in range(m):
                corr[active[k]] = c[k]
        if ext and P - fmax(D, D_best) > fmax(tol_abs, 0.9 * gap):
            # the gap has decreased by less than 10% since the last outer iteration (the
            # rescaled residual is a poor dual point, e.g. n << p at small alpha): second
            # dual candidate, the Anderson extrapolation of the last inner residuals
            # (celer's dual extrapolation), rescaled over all active features
            for i in range(n):
                rho[i] = work[(K + 3) * m_ws + (K + 1) * n + i]
            if _dual_full(data, indices, indptr, n, y, h, ybar, mu, l1, l2, lower, upper,
                          active, m, c2, rho, v, fit_intercept, n_threads, project, dout) != 0:
                status = _CALLBACK_ERROR
                break
            if dout[0] > D:
                D = dout[0]
                s = dout[1]
                cb = c2
        if D > D_best:
            D_best = D
        gap = P - D_best
        if verbose:
            _print_iter(it + 1, P, gap, tol_abs, m, m_ws, n_epochs)
        if not (isfinite(P) and isfinite(gap)):
            status = _NONFINITE
            break
        if gap <= tol_abs:
            status = _CONVERGED
            break
        if it >= max_iter:
            break
        if patience > 0:  # float32: stop when the gap stalls at the rounding level
            if gap < 0.9 * best_gap:
                best_gap = gap
                n_stalled = 0
            else:
                n_stalled += 1
                if n_stalled >= patience:
                    status = _STALLED
                    break
        it += 1
        # ---- gap-safe screening (removes features for good) and working-set scores;
        # the sphere is centered at this iteration's dual point, of value D
        radius = sqrt(2.0 * fmax(P - D, 0.0)) + eps_margin if screening else INFINITY
        n_forced = 0
        new_m = 0
        for k in range(m):
            j = active[k]
            u = s * cb[k]
            d = sqrt(lips[j])
            l1j = l1[j]
            lo = lower[j]
            up = upper[j]
            if l1j > 0.0 and (up <= 0.0 or u + radius * d < l1j) and \
                    (lo >= 0.0 or u - radius * d > -l1j):
                if w[j] != 0.0:
                    _col_axpy(data, indices, indptr, n, j, w[j], R)
                    w[j] = 0.0
                if corr != NULL:
                    corr[j] = NAN
                continue
            if w[j] != 0.0 or l1j <= 0.0:
                sc = -INFINITY
                n_forced += 1
            else:
                sc = -INFINITY
                if up > 0.0:
                    sc = u
                if lo < 0.0 and -u > sc:
                    sc = -u
                sc = (l1j - sc) / d if d > 0.0 else INFINITY
            active[new_m] = j
            score[new_m] = sc
            new_m += 1
        m = new_m
        # ---- working set: the max(p0, 2 |forced|) best scores (skglm's growth rule)
        ws_size = max(p0, 2 * n_forced)
        saturated = m_ws > 0 and 10 * n_forced >= 9 * m_ws
        if saturated:
            # nearly every feature of the last set became non-zero: more are wanted; grow
            # 4x instead of 2x (fewer full X^T v passes before the set holds the support)
            ws_size = max(ws_size, 4 * n_forced)
        elif m_ws > 0 and gap <= 2.0 * target:
            # the full gap is within 2x the set's target: the set held (nearly) all that
            # matters, so its problem is worth solving further before the next full pass
            itol = fmax(0.1 * itol, 1e-6)
        else:
            itol = inner_tol
        if ws_size > m:
            ws_size = m
        if ws_size < m:
            for k in range(m):
                c[k] = score[k]
            thr = _select_threshold(c, m, ws_size - 1)
            n_lt = 0
            for k in range(m):
                if score[k] < thr:
                    n_lt += 1
            n_lt = ws_size - n_lt  # ties at the threshold still to take
            for k in range(m):
                if score[k] < thr:
                    mark[active[k]] = 1
                elif score[k] == thr and n_lt > 0:
                    mark[active[k]] = 1
                    n_lt -= 1
        else:
            for k in range(m):
                mark[active[k]] = 1
        if first:
            first = 0
            for k in range(n_ws_init):
                j = ws_init[k]
                if 0 <= j < p and mark[j] == 0:
                    mark[j] = 2  # candidate: kept only if still active
        m_ws = 0
        for k in range(m):
            j = active[k]
            if mark[j] != 0:
                ws[m_ws] = j
                m_ws += 1
        for k in range(n_ws_init if it == 1 else 0):
            j = ws_init[k]
            if 0 <= j < p:
                mark[j] = 0
        for k in range(m_ws):
            mark[ws[k]] = 0
        if m_ws == 0:
            status = _EMPTY_WS
            break
        # ---- inner solver on the working set
        need = (K + 9) * <Py_ssize_t> m_ws + (K + 2) * <Py_ssize_t> n  # work_size
        if need > work_len:
            need = need + need // 2
            work = <double*> realloc(work, need * sizeof(double)) if work != NULL \
                else <double*> malloc(need * sizeof(double))
            if work == NULL:
                status = _NO_MEMORY
                break
            work_len = need
        # the set holds every active feature: its gap is the full one, solve to tol. The
        # floor 0.8 tol: once the set holds the support, the full gap is the set's gap up
        # to the features outside it; a lower floor makes the last, slowest solve (the gap
        # is then limited by the dual point) run much longer than the tolerance needs
        target = 0.8 * tol_abs if m_ws == m else fmax(itol * gap, 0.8 * tol_abs)
        # first check where the rate of the previous set predicts the target
        first_check = check_every
        if rate < 0.0:
            first_check = max(1, min(check_every, <int> ceil(log(target / gap) / rate)))
        ep = _cd_solve(data, indices, indptr, n, y, h, w, R, bb, mu, lips, l1, l2, lower,
                       upper, ws, m_ws, work, R_tmp, order, target,
                       max_epochs, check_every, K, fit_intercept, unit,
                       seed + <unsigned long long> it * 7919ULL, shuffle, &inner_gap,
                       20 if patience > 0 else 0, &rate, &ext, first_check, gap,
                       newton if gap <= _NEWTON_GAP * p_null else NULL)
        n_epochs += ep
    if status != _CONVERGED and status != _NONFINITE \
            and status != _CALLBACK_ERROR and status != _NO_MEMORY and it > 0:
        # the last inner solve is not certified yet: one more gap computation
        if _full_gap(data, indices, indptr, n, y, h, hsum, w, R, mu, l1, l2, lower, upper,
                     active, m, c, rho, v, fit_intercept, n_threads, project, out) != 0:
            status = _CALLBACK_ERROR
        else:
            P = out[0]
            b = out[3]
            if out[1] > D_best:
                D_best = out[1]
            gap = P - D_best
            if not (isfinite(P) and isfinite(gap)):
                status = _NONFINITE
            elif gap <= tol_abs:
                status = _CONVERGED
    if work != NULL:
        free(work)
    info[0] = min(it + 1, max_iter)  # gap computations of the loop (as many as solves + 1)
    info[1] = n_epochs
    info[2] = gap
    info[3] = P
    info[4] = b
    info[5] = m
    return status


cdef tuple _enet_solve_wrap(const floating* data, const int* indices, const int* indptr,
                            int n, int p, const floating[::1] y, const floating[::1] h,
                            floating[::1] w, floating[::1] R, const double[::1] mu,
                            const double[::1] lipschitz, const floating[::1] l1,
                            const floating[::1] l2, const floating[::1] lower,
                            const floating[::1] upper, const int[::1] active,
                            const int[::1] ws_init, double[::1] corr_out, double tol,
                            int max_iter, int max_epochs, int p0, int anderson_k,
                            int check_every, double inner_tol, double eps_margin,
                            bint screening, bint fit_intercept, bint unit_weights,
                            unsigned long long seed, bint shuffle, int n_threads, int patience,
                            int verbose, object project, object newton=None):
    """Check lengths, allocate the scratch, run :func:`_enet_solve` without the GIL."""
    cdef int status, m = active.shape[0], n_init = ws_init.shape[0]
    cdef double info[6]
    cdef PyObject* proj = NULL if project is None else <PyObject*> project
    cdef PyObject* newt = NULL if newton is None else <PyObject*> newton
    _check_lengths(n, p, y, h, w, R, np.empty(1), mu, lipschitz, l1, l2, lower, upper)
    if anderson_k < 0 or anderson_k > MAX_ANDERSON:
        raise ValueError(f"anderson_k must be in [0, {MAX_ANDERSON}], got {anderson_k}")
    if m > p:
        raise ValueError("active is longer than n_features")
    _check_ws(active, p)
    if corr_out is not None and corr_out.shape[0] != p:
        raise ValueError("corr_out must have n_features entries")
    if n <= 0:
        raise ValueError("no samples")
    if max_iter < 0 or max_epochs < 1 or p0 < 1:
        raise ValueError("max_iter must be >= 0, max_epochs and p0 >= 1")
    fdtype = np.float64 if floating is double else np.float32
    size = max(p, 1)
    cdef int[::1] act = np.empty(size, dtype=np.int32)
    cdef int[::1] init = np.empty(max(n_init, 1), dtype=np.int32)
    cdef double[::1] c = np.empty(size)
    cdef double[::1] c2 = np.empty(size)
    cdef double[::1] score = np.empty(size)
    cdef unsigned char[::1] mark = np.zeros(size, dtype=np.uint8)
    cdef int[::1] ws = np.empty(size, dtype=np.int32)
    cdef int[::1] order = np.empty(size, dtype=np.int32)
    cdef double[::1] rho = np.empty(n)
    cdef floating[::1] v = np.empty(n, dtype=fdtype)
    cdef floating[::1] R_tmp = np.empty(n, dtype=fdtype)
    cdef double* corr = NULL
    if m:
        act[:m] = active
    if n_init:
        init[:n_init] = ws_init
    if corr_out is not None:
        corr_out[:] = np.nan
        corr = &corr_out[0]
    with nogil:
        _solve_enter()
        status = _enet_solve(data, indices, indptr, n, p, &y[0], &h[0], &w[0], &R[0], &mu[0],
                             &lipschitz[0], &l1[0], &l2[0], &lower[0], &upper[0], &act[0], m,
                             &init[0], n_init, &c[0], &c2[0], &score[0], &mark[0], &ws[0], &order[0],
                             &rho[0], &v[0], &R_tmp[0], corr, tol, max_iter, max_epochs, p0,
                             anderson_k, max(check_every, 1), inner_tol, eps_margin, screening,
                             fit_intercept, unit_weights, seed, shuffle, max(n_threads, 1),
                             patience, verbose, proj, info, newt)
        _solve_leave()
    return (status, int(info[0]), int(info[1]), info[2], info[3], info[4], int(info[5]))


def enet_solve_dense(const floating[::1, :] X, const floating[::1] y, const floating[::1] h,
                     floating[::1] w, floating[::1] R, const double[::1] mu,
                     const double[::1] lipschitz, const floating[::1] l1,
                     const floating[::1] l2, const floating[::1] lower,
                     const floating[::1] upper, const int[::1] active, const int[::1] ws_init,
                     double[::1] corr_out=None, double tol=0.0, int max_iter=1000,
                     int max_epochs=50000, int p0=10, int anderson_k=5, int check_every=10,
                     double inner_tol=0.3, double eps_margin=0.0, bint screening=True,
                     bint fit_intercept=True, bint unit_weights=False,
                     unsigned long long seed=0, bint shuffle=False, int n_threads=1,
                     int patience=0, int verbose=0, object project=None, object newton=None):
    """Whole working-set CD fit of the weighted elastic net with box constraints (no GIL).

    Solves ``min_{w, b} 1/2 sum_i h_i (y_i - x_i^T w - b)^2 + sum_j l1_j |w_j| +
    l2_j/2 w_j^2`` s.t. ``lower_j <= w_j <= upper_j`` over the features ``active``
    (the others stay as they are, normally 0), in place on ``w`` and on the residual
    ``R = y - X w`` (no intercept; consistent with ``w`` on entry). Each outer iteration:

    1. the full duality gap at the rescaled residual ``theta = s * rho`` (``rho`` the
       centered residual, ``s`` the largest dual-feasible scaling; one ``X^T v`` pass over
       the active features, OpenMP over features on :func:`shared_threads` ``(n_threads)``
       threads: concurrent solves in several Python threads share the cores), the best
       dual value kept: stop when
       ``gap <= tol``, the values are not finite, or ``max_iter`` working sets were solved;
    2. gap-safe screening with radius ``sqrt(2 gap) + eps_margin`` (Ndiaye et al. 2017):
       screened features are set to 0 and removed from ``active`` for good;
    3. the working set: the ``max(p0, 2 |forced|)`` smallest scores
       ``(l1_j - |s c_j|) / sqrt(L_j)`` (forced: non-zero and unpenalized features;
       ``4 |forced|`` when at least 90% of the previous set was forced),
       in increasing feature order, plus ``ws_init`` at the first iteration;
    4. the inner solver of :func:`cd_solve_dense` on it, to a restricted gap of
       ``max(f * gap, 0.8 tol)`` (``tol`` alone once the set holds every active
       feature), where ``f = inner_tol`` is divided by 10 (down to 1e-6) after each
       outer iteration whose gap came within 2x of the previous set's target, and
       reset otherwise.

    Float32 fits (``patience > 0``) stop when the gap has not decreased by 10% over
    ``patience`` outer iterations. ``project`` (unpenalized features): a Python
    callable called as ``project(rho)`` on the float64 centered residual (a memoryview,
    modified in place) before the dual point is formed; it runs with the GIL.
    ``verbose`` prints one line per outer iteration. ``newton`` (optional): a Python
    callable ``newton(ws, b, rem, nnz_ws, budget) -> int`` tried inside the working-set
    solves once the sign/bound pattern of ``w`` on the set ``ws`` (an int32 memoryview) is
    (nearly) the same at two consecutive gap checks (at most ``len(ws) // 100`` coordinates
    changed sign or left/reached a bound); ``b`` is the current intercept, ``rem`` the CD
    epochs expected to remain (the linear rate of the set's gap predicts them, capped by the
    epochs already spent on the set), ``nnz_ws`` the
    stored entries of the set's columns, ``budget`` the epochs left. It may move ``w`` and
    ``R`` consistently in place and returns 1 if it did, 0 if not (-1 or an exception:
    not called again in this fit); it is offered only once the full gap is below 1e-3
    times the null model's objective (the support is then nearly identified: earlier,
    exact solves of small sets leave sparser iterates and slow the growth of the sets).
    See :mod:`fastreg.solvers.cd_newton`.

    Returns
    -------
    status : int
        ``STATUS_CONVERGED`` (0), ``STATUS_MAX_ITER``, ``STATUS_STALLED``,
        ``STATUS_NONFINITE``, ``STATUS_EMPTY_WS``, ``STATUS_NO_MEMORY``,
        ``STATUS_CALLBACK_ERROR`` (``project`` raised).
    n_iter, n_epochs : int
        Outer iterations (full gap computations, at most ``max_iter``; the working
        sets solved are ``n_iter - 1`` on convergence) and total CD epochs.
    gap, primal : float
        Duality gap (best dual value) and objective at exit.
    intercept : float
        ``b = sum_i h_i R_i / sum_i h_i`` (0 without intercept).
    n_active : int
        Features left after screening.
    corr_out : float64 (n_features,), optional output
        ``c_j = sum_i h_i (x_ij - mu_j) rho_i`` at the last gap computation (NaN for
        features outside ``active`` or screened).
    """
    return _enet_solve_wrap(&X[0, 0] if X.shape[0] * X.shape[1] > 0 else NULL,
                            NULL, NULL, X.shape[0], X.shape[1], y, h, w, R, mu, lipschitz,
                            l1, l2, lower, upper, active, ws_init, corr_out, tol, max_iter,
                            max_epochs, p0, anderson_k, check_every, inner_tol, eps_margin,
                            screening, fit_intercept, unit_weights, seed, shuffle, n_threads,
                            patience, verbose, project, newton)


def enet_solve_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                      const floating[::1] y, const floating[::1] h,
                      floating[::1] w, floating[::1] R, const double[::1] mu,
                      const double[::1] lipschitz, const floating[::1] l1,
                      const floating[::1] l2, const floating[::1] lower,
                      const floating[::1] upper, const int[::1] active, const int[::1] ws_init,
                      double[::1] corr_out=None, double tol=0.0, int max_iter=1000,
                      int max_epochs=50000, int p0=10, int anderson_k=5, int check_every=10,
                      double inner_tol=0.3, double eps_margin=0.0, bint screening=True,
                      bint fit_intercept=True, bint unit_weights=False,
                      unsigned long long seed=0, bint shuffle=False, int n_threads=1,
                      int patience=0, int verbose=0, object project=None,
                      object newton=None):
    """As :func:`enet_solve_dense` for CSC ``X`` given by ``data, indices, indptr`` (int32)."""
    cdef const floating* dptr = NULL
    cdef const int* iptr = NULL
    _csc_pointers(data, indices, indptr, &dptr, &iptr)
    return _enet_solve_wrap(dptr, iptr, &indptr[0], y.shape[0], indptr.shape[0] - 1, y, h, w,
                            R, mu, lipschitz, l1, l2, lower, upper, active, ws_init, corr_out,
                            tol, max_iter, max_epochs, p0, anderson_k, check_every, inner_tol,
                            eps_margin, screening, fit_intercept, unit_weights, seed, shuffle,
                            n_threads, patience, verbose, project, newton)


cdef tuple _full_gap_wrap(const floating* data, const int* indices, const int* indptr,
                          int n, int p, const floating[::1] y, const floating[::1] h,
                          const floating[::1] w, const floating[::1] R, const double[::1] mu,
                          const floating[::1] l1, const floating[::1] l2,
                          const floating[::1] lower, const floating[::1] upper,
                          const int[::1] active, bint fit_intercept, int n_threads,
                          object project, double[::1] corr_out):
    """Check lengths, allocate the scratch, run :func:`_full_gap`."""
    cdef int m = active.shape[0], rc, k
    cdef double hsum = 0.0
    cdef double out[4]
    cdef PyObject* proj = NULL if project is None else <PyObject*> project
    _check_lengths(n, p, y, h, w, R, np.empty(1), mu, mu, l1, l2, lower, upper)
    _check_ws(active, p)
    if corr_out is not None and corr_out.shape[0] != m:
        raise ValueError("corr_out must have len(active) entries")
    if n <= 0:
        raise ValueError("no samples")
    fdtype = np.float64 if floating is double else np.float32
    cdef double[::1] c = np.empty(max(m, 1))
    cdef double[::1] rho = np.empty(n)
    cdef floating[::1] v = np.empty(n, dtype=fdtype)
    cdef const int* act = &active[0] if m > 0 else NULL
    for k in range(n):
        hsum += h[k]
    with nogil:
        rc = _full_gap(data, indices, indptr, n, &y[0], &h[0], hsum, &w[0] if p > 0 else NULL,
                       &R[0], &mu[0] if p > 0 else NULL, &l1[0] if p > 0 else NULL,
                       &l2[0] if p > 0 else NULL, &lower[0] if p > 0 else NULL,
                       &upper[0] if p > 0 else NULL, act, m, &c[0], &rho[0], &v[0],
                       fit_intercept, max(n_threads, 1), proj, out)
    if rc != 0:
        raise RuntimeError("full_gap: project failed")  # replaced by the callback's exception
    if corr_out is not None and m > 0:
        corr_out[:] = c[:m]
    return out[0], out[1], out[2], out[3]


def full_gap_dense(const floating[::1, :] X, const floating[::1] y, const floating[::1] h,
                   const floating[::1] w, const floating[::1] R, const double[::1] mu,
                   const floating[::1] l1, const floating[::1] l2, const floating[::1] lower,
                   const floating[::1] upper, const int[::1] active, bint fit_intercept=True,
                   int n_threads=1, object project=None, double[::1] corr_out=None):
    """Primal value, dual value and intercept at ``w`` from its residual: the certificate
    computed at every outer iteration of :func:`enet_solve_dense`.

    With ``R = y - X w`` (no intercept; consistent with ``w``), ``b = sum_i h_i R_i / H``
    (two passes, ``H = sum_i h_i``; 0 without intercept), the centered residual
    ``rho = R - b`` (then made orthogonal to the unpenalized columns by ``project(rho)``,
    a Python callable modifying the float64 memoryview in place, if given),
    ``c_k = sum_i h_i (x_ij - mu_j) rho_i`` for ``j = active[k]`` (one ``X^T v`` pass on
    :func:`shared_threads` ``(n_threads)`` threads) and ``s`` the largest scaling making
    ``s rho`` dual feasible (:func:`enet_dual_terms`):

    ``P = 1/2 sum_i h_i (R_i - b)^2 + sum_{j in active} l1_j |w_j| + l2_j/2 w_j^2`` and
    ``D = s <y - ybar, rho>_h - s^2/2 ||rho||_h^2 - sum_k g_j*(s c_k)``.

    Returns
    -------
    P, D, s, b : float
        ``P - D`` is a duality gap of the problem restricted to ``active`` (the others
        fixed at 0). ``corr_out`` (len(active), float64, optional) receives ``c``.
    """
    return _full_gap_wrap(&X[0, 0] if X.shape[0] * X.shape[1] > 0 else NULL, NULL, NULL,
                          X.shape[0], X.shape[1], y, h, w, R, mu, l1, l2, lower, upper,
                          active, fit_intercept, n_threads, project, corr_out)


def full_gap_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                    const floating[::1] y, const floating[::1] h, const floating[::1] w,
                    const floating[::1] R, const double[::1] mu, const floating[::1] l1,
                    const floating[::1] l2, const floating[::1] lower,
                    const floating[::1] upper, const int[::1] active, bint fit_intercept=True,
                    int n_threads=1, object project=None, double[::1] corr_out=None):
    """As :func:`full_gap_dense` for CSC ``X`` given by ``data, indices, indptr`` (int32)."""
    cdef const floating* dptr = NULL
    cdef const int* iptr = NULL
    _csc_pointers(data, indices, indptr, &dptr, &iptr)
    return _full_gap_wrap(dptr, iptr, &indptr[0], y.shape[0], indptr.shape[0] - 1, y, h, w, R,
                          mu, l1, l2, lower, upper, active, fit_intercept, n_threads, project,
                          corr_out)


def axpy_columns_dense(const floating[::1, :] X, const double[::1] coef, const int[::1] ws,
                       floating[::1] R):
    """``R += sum_k coef[k] * X[:, ws[k]]`` (e.g. ``R = y - X w`` over the support of w)."""
    cdef int n = X.shape[0], m = ws.shape[0], k
    if coef.shape[0] != m or R.shape[0] != n:
        raise ValueError("coef must have len(ws) entries and R n_samples")
    _check_ws(ws, X.shape[1])
    if m == 0 or n == 0:
        return
    with nogil:
        for k in range(m):
            if coef[k] != 0.0:
                _col_axpy(&X[0, 0], <const int*> NULL, <const int*> NULL, n, ws[k],
                          <floating> coef[k], &R[0])


def axpy_columns_sparse(const floating[::1] data, const int[::1] indices,
                        const int[::1] indptr, const double[::1] coef, const int[::1] ws,
                        floating[::1] R):
    """As :func:`axpy_columns_dense` for CSC ``X``."""
    cdef int m = ws.shape[0], k
    if coef.shape[0] != m:
        raise ValueError("coef must have len(ws) entries")
    _check_ws(ws, indptr.shape[0] - 1)
    if m == 0 or data.shape[0] == 0:
        return
    with nogil:
        for k in range(m):
            if coef[k] != 0.0:
                _col_axpy(&data[0], &indices[0], &indptr[0], 0, ws[k], <floating> coef[k], &R[0])
