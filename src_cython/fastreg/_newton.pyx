"""Per-sample derivatives and line-search helpers for prox-Newton on the logistic loss.

Binary logistic datafit, with labels ``y_i`` in {-1, +1}, non-negative weights
``c_i`` (``C * sample_weight_i`` in scikit-learn's scaling) and linear
predictions ``z_i = x_i^T w + b``::

    f(z) = sum_i c_i l(y_i z_i),     l(m) = log(1 + exp(-m)),

    df/dz_i   = -c_i y_i p_i,        p_i = sigmoid(-y_i z_i),
    d2f/dz_i2 =  c_i p_i q_i,        q_i = 1 - p_i = sigmoid(y_i z_i).

Every function evaluates ``l``, ``p`` and ``q`` from ``e = exp(-|m|)`` only, so
nothing overflows for any finite margin, and ``p``/``q`` keep their relative
accuracy even when one of them is tiny (``q`` is never computed as ``1 - p``).

The second-order model of ``f`` at ``z`` is the weighted least squares
``1/2 sum_i h_i (t_i - z'_i)^2`` (up to a constant) with ``h_i = d2f/dz_i2``
and working response ``t_i = z_i - (df/dz_i) / h_i = z_i + y_i p_i / (p_i q_i)``
(IRLS; Friedman, Hastie, Tibshirani 2010). For badly misclassified samples
``h_i`` underflows while ``|t_i - z_i| = 1 / q_i`` explodes: ``h_i`` is floored
at ``c_i * hess_floor`` and the response computed as ``-(df/dz_i) / h_i`` with
the floored ``h_i``, so that ``h_i (t_i - z_i)`` is still exactly the gradient
(the fixed points of prox-Newton are unchanged; a larger curvature only
shortens the step).

References
----------
Lee, Sun, Saunders (2014), Proximal Newton-type methods for minimizing
composite functions, SIAM J. Optim. 24(3).
Friedman, Hastie, Tibshirani (2010), Regularization paths for generalized
linear models via coordinate descent, J. Stat. Softw. 33(1).
"""
from cython cimport floating
from libc.math cimport exp, log, log1p, fabs, fmax, INFINITY


cdef inline double _loss_pq(double m, double* p, double* q) noexcept nogil:
    """``l(m) = log(1 + exp(-m))``; ``p = sigmoid(-m)``, ``q = sigmoid(m)``."""
    cdef double e
    if m >= 0.0:
        e = exp(-m)
        p[0] = e / (1.0 + e)
        q[0] = 1.0 / (1.0 + e)
        return log1p(e)
    e = exp(m)
    p[0] = 1.0 / (1.0 + e)
    q[0] = e / (1.0 + e)
    return -m + log1p(e)


cdef inline double _entr(double x) noexcept nogil:
    """``-x log x`` (0 at 0)."""
    if x <= 0.0:
        return 0.0
    return -x * log(x)


def _check_n(Py_ssize_t n, *arrays):
    for a in arrays:
        if a.shape[0] != n:
            raise ValueError(f"all per-sample arrays must have {n} entries, got {a.shape[0]}")


def binary_derivatives(const double[::1] z, const floating[::1] y, const floating[::1] c,
                       double[::1] grad_out, floating[::1] hess_out, floating[::1] resp_out,
                       double hess_floor):
    """Loss, gradient, floored Hessian weights and Newton response in one pass.

    For ``m_i = y_i z_i``: ``grad_out[i] = -c_i y_i p_i`` (``df/dz_i``),
    ``hess_out[i] = c_i max(p_i q_i, hess_floor)`` and
    ``resp_out[i] = y_i p_i / max(p_i q_i, hess_floor)`` (``= -grad/hess`` when
    ``c_i > 0``; the working response is ``z + resp``).

    Parameters
    ----------
    z : ndarray (n,), float64
        Linear predictions ``X w + b``.
    y : ndarray (n,)
        Labels in {-1, +1}.
    c : ndarray (n,)
        Non-negative sample weights (``C * sample_weight``).
    grad_out : ndarray (n,), float64
    hess_out, resp_out : ndarray (n,), y's dtype
    hess_floor : float
        Lower bound of ``p q`` in the curvature (e.g. ``1e-10``; 0 allowed when
        no margin is huge, but then ``resp`` may be infinite).

    Returns
    -------
    float
        ``f(z) = sum_i c_i log(1 + exp(-y_i z_i))``.
    """
    cdef Py_ssize_t i, n = z.shape[0]
    cdef double loss = 0.0, p, q, l, ci, pq
    _check_n(n, y, c, grad_out, hess_out, resp_out)
    with nogil:
        for i in range(n):
            ci = c[i]
            l = _loss_pq(y[i] * z[i], &p, &q)
            loss += ci * l
            grad_out[i] = -ci * y[i] * p
            pq = fmax(p * q, hess_floor)
            hess_out[i] = <floating> (ci * pq)
            resp_out[i] = <floating> (y[i] * p / pq)
    return loss


def binary_loss(const double[::1] z, const double[::1] dz, const floating[::1] y,
                const floating[::1] c, double step):
    """``f(z + step * dz) = sum_i c_i log(1 + exp(-y_i (z_i + step dz_i)))`` (line search).

    No temporary array; safe for any finite margin.
    """
    cdef Py_ssize_t i, n = z.shape[0]
    cdef double loss = 0.0, p, q
    _check_n(n, dz, y, c)
    with nogil:
        for i in range(n):
            if c[i] != 0.0:
                loss += c[i] * _loss_pq(y[i] * (z[i] + step * dz[i]), &p, &q)
    return loss


def binary_intercept_shift(const double[::1] z, const floating[::1] y, const floating[::1] c,
                           double rtol=1e-12, int max_iter=100):
    """Shift ``delta`` minimizing ``f(z + delta)`` (the optimal intercept update).

    Solves ``phi(delta) = sum_i c_i y_i p_i(z_i + delta) = 0`` (``-df/db``,
    decreasing in ``delta``) by Newton's method on the convex 1-D function,
    safeguarded by bisection in a bracket that is doubled until it contains the
    root. Stops when ``|phi| <= rtol * sum_i c_i``.

    Returns
    -------
    delta : float
        ``+-inf`` when only one class has positive weight (no finite minimizer).
    """
    cdef Py_ssize_t i, n = z.shape[0]
    cdef double pos = 0.0, neg = 0.0, csum, delta = 0.0, lo = -INFINITY, hi = INFINITY
    cdef double phi, dphi, p, q, nxt, width
    cdef int it
    _check_n(n, y, c)
    for i in range(n):
        if y[i] > 0:
            pos += c[i]
        else:
            neg += c[i]
    if pos <= 0.0 and neg <= 0.0:
        return 0.0
    if neg <= 0.0:
        return INFINITY
    if pos <= 0.0:
        return -INFINITY
    csum = pos + neg
    with nogil:
        for it in range(max_iter):
            phi = 0.0
            dphi = 0.0
            for i in range(n):
                if c[i] != 0.0:
                    _loss_pq(y[i] * (z[i] + delta), &p, &q)
                    phi += c[i] * y[i] * p
                    dphi += c[i] * p * q
            if fabs(phi) <= rtol * csum:
                break
            if phi > 0.0:       # f still decreasing: the root is to the right
                lo = delta
            else:
                hi = delta
            if dphi > 0.0:
                nxt = delta + phi / dphi
            else:
                nxt = INFINITY if phi > 0.0 else -INFINITY
            if not (lo < nxt < hi):
                if lo == -INFINITY:
                    width = fmax(1.0, fabs(hi))
                    nxt = hi - 2.0 * width
                elif hi == INFINITY:
                    width = fmax(1.0, fabs(lo))
                    nxt = lo + 2.0 * width
                else:
                    nxt = 0.5 * (lo + hi)
            if nxt == delta:
                break
            delta = nxt
    return delta


def binary_entropy(const double[::1] z, const floating[::1] y, const floating[::1] c,
                   double t):
    """Dual datafit term ``sum_i c_i H(t p_i)``, ``H(a) = -a log a - (1 - a) log(1 - a)``.

    ``p_i = sigmoid(-y_i z_i)`` and ``t`` in ``[0, 1]`` (dual rescaling);
    ``1 - t p_i`` is evaluated as ``(1 - t) + t q_i`` to keep its relative
    accuracy. This is ``-sum_i f_i^*(-u_i)`` at ``u_i = t c_i y_i p_i`` for the
    conjugate of the logistic loss (see :mod:`fastreg.solvers.prox_newton`).
    """
    cdef Py_ssize_t i, n = z.shape[0]
    cdef double acc = 0.0, p, q
    _check_n(n, y, c)
    with nogil:
        for i in range(n):
            if c[i] != 0.0:
                _loss_pq(y[i] * z[i], &p, &q)
                acc += c[i] * (_entr(t * p) + _entr((1.0 - t) + t * q))
    return acc


def col_stats_ws_dense(const floating[::1, :] X, const floating[::1] h, const int[::1] ws,
                       double[::1] mu_out, double[::1] sq_out, bint center):
    """Weighted column means and centered squared norms, only for the features ``ws``.

    ``mu_out[j] = sum_i h_i X_ij / H`` (0 if not ``center``) and
    ``sq_out[j] = sum_i h_i (X_ij - mu_j)^2`` for ``j`` in ``ws``; other
    entries are left untouched. Same quantities as
    :func:`fastreg._cd.col_stats_dense` (which does every feature).
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i
    cdef int k, j, m = ws.shape[0]
    cdef double hsum = 0.0, a, mj, d
    if h.shape[0] != n or mu_out.shape[0] != p or sq_out.shape[0] != p:
        raise ValueError("h must have n_samples entries, mu_out and sq_out n_features")
    for k in range(m):
        if ws[k] < 0 or ws[k] >= p:
            raise ValueError(f"working set index {ws[k]} out of range [0, {p})")
    if n == 0:
        return
    with nogil:
        for i in range(n):
            hsum += h[i]
        for k in range(m):
            j = ws[k]
            a = 0.0
            if center and hsum > 0.0:
                for i in range(n):
                    a += h[i] * X[i, j]
                mj = a / hsum
            else:
                mj = 0.0
            a = 0.0
            for i in range(n):
                d = X[i, j] - mj
                a += h[i] * d * d
            mu_out[j] = mj
            sq_out[j] = a


def col_stats_ws_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                        const floating[::1] h, const int[::1] ws, double[::1] mu_out,
                        double[::1] sq_out, bint center):
    """As :func:`col_stats_ws_dense` for CSC ``X``; implicit zeros are accounted for."""
    cdef Py_ssize_t n = h.shape[0], p = indptr.shape[0] - 1, i
    cdef int k, j, t, m = ws.shape[0]
    cdef double hsum = 0.0, a, mj, d, hz
    if mu_out.shape[0] != p or sq_out.shape[0] != p:
        raise ValueError("mu_out and sq_out must have n_features entries")
    for k in range(m):
        if ws[k] < 0 or ws[k] >= p:
            raise ValueError(f"working set index {ws[k]} out of range [0, {p})")
    if n == 0:
        return
    with nogil:
        for i in range(n):
            hsum += h[i]
        for k in range(m):
            j = ws[k]
            a = 0.0
            if center and hsum > 0.0:
                for t in range(indptr[j], indptr[j + 1]):
                    a += h[indices[t]] * data[t]
                mj = a / hsum
            else:
                mj = 0.0
            a = 0.0
            hz = hsum
            for t in range(indptr[j], indptr[j + 1]):
                i = indices[t]
                d = data[t] - mj
                a += h[i] * d * d
                hz -= h[i]
            a += fmax(hz, 0.0) * mj * mj
            mu_out[j] = mj
            sq_out[j] = a
