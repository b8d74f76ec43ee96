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
import numpy as np
from libc.math cimport exp, log, log1p, fabs, fmax, INFINITY


cdef inline double _pq(double m, double* p, double* q) noexcept nogil:
    """``p = sigmoid(-m)``, ``q = sigmoid(m)`` (one exponential, one division); returns ``exp(-|m|)``."""
    cdef double e = exp(-fabs(m)), inv = 1.0 / (1.0 + e)
    if m >= 0.0:
        p[0] = e * inv
        q[0] = inv
    else:
        p[0] = inv
        q[0] = e * inv
    return e


cdef inline double _loss_pq(double m, double* p, double* q) noexcept nogil:
    """``l(m) = log(1 + exp(-m))``; ``p = sigmoid(-m)``, ``q = sigmoid(m)``."""
    cdef double e = _pq(m, p, q)
    if m >= 0.0:
        return log1p(e)
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
                    _pq(y[i] * (z[i] + delta), &p, &q)
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
                _pq(y[i] * z[i], &p, &q)
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


# ---------------------------------------------------------------------------
# multinomial: coordinate descent on the full second-order model
# ---------------------------------------------------------------------------
cdef inline double _enet_coord(double g, double L, double w, double l1, double l2) noexcept nogil:
    """Minimizer ``u`` of ``g (u - w) + L/2 (u - w)^2 + l1 |u| + l2/2 u^2`` (``L + l2 > 0``)."""
    cdef double a = L * w - g
    if a > l1:
        return (a - l1) / (L + l2)
    if a < -l1:
        return (a + l1) / (L + l2)
    return 0.0


cdef inline double _coord_violation(double g, double w, double l1, double l2) noexcept nogil:
    """Distance of ``-(g + l2 w)`` to ``l1`` times the subdifferential of ``|.|`` at ``w``."""
    g += l2 * w
    if w > 0.0:
        return fabs(g + l1)
    if w < 0.0:
        return fabs(g - l1)
    return fmax(fabs(g) - l1, 0.0)


cdef inline double _mn_intercepts(const double[:, ::1] P, const double[:, ::1] cP,
                                  const double[::1] gb, double[::1] b, double[:, ::1] dz,
                                  double[::1] s, const double[::1] lips_b) noexcept nogil:
    """One Newton step on each class's intercept of the multinomial model.

    ``cP = c P``; ``gb[k] = sum_i G_ki``, the model gradient at a zero step.
    Returns the largest ``|model gradient|`` of an intercept before its step.
    """
    cdef Py_ssize_t i, n = s.shape[0]
    cdef int k, K = b.shape[0]
    cdef double g, delta, viol = 0.0
    for k in range(K):
        if lips_b[k] <= 0.0:
            continue
        g = gb[k]
        for i in range(n):
            g += cP[k, i] * (dz[k, i] - s[i])
        viol = fmax(viol, fabs(g))
        delta = -g / lips_b[k]
        if delta != 0.0:
            b[k] += delta
            for i in range(n):
                dz[k, i] += delta
                s[i] += P[k, i] * delta
    return viol


cdef inline double _mn_grad_dense(const floating* x, const double* cPk, const double* dzk,
                                  const double* s, Py_ssize_t n) noexcept nogil:
    """``sum_i x_i cP_ki (dz_ki - s_i)``, four partial sums (no add-latency chain)."""
    cdef Py_ssize_t i, n4 = n - n % 4
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    for i in range(0, n4, 4):
        a0 += x[i] * cPk[i] * (dzk[i] - s[i])
        a1 += x[i + 1] * cPk[i + 1] * (dzk[i + 1] - s[i + 1])
        a2 += x[i + 2] * cPk[i + 2] * (dzk[i + 2] - s[i + 2])
        a3 += x[i + 3] * cPk[i + 3] * (dzk[i + 3] - s[i + 3])
    for i in range(n4, n):
        a0 += x[i] * cPk[i] * (dzk[i] - s[i])
    return (a0 + a1) + (a2 + a3)


cdef inline void _mn_update_dense(const floating* x, const double* Pk, double* dzk, double* s,
                                  double delta, Py_ssize_t n) noexcept nogil:
    """``dz_ki += delta x_i``, ``s_i += P_ki delta x_i``."""
    cdef Py_ssize_t i
    cdef double t
    for i in range(n):
        t = delta * x[i]
        dzk[i] += t
        s[i] += Pk[i] * t


def _mn_check(X_shape, P, G, c, W, b, dz, s, lips, gx, lips_b, mask, ws):
    n, p = X_shape
    K = b.shape[0]
    if P.shape[0] != K or G.shape[0] != K or dz.shape[0] != K or W.shape[0] != K or \
            lips.shape[0] != K or gx.shape[0] != K or lips_b.shape[0] != K or \
            mask.shape[0] != K:
        raise ValueError("P, G, dz, W, lips, gx, lips_b, mask need n_classes rows")
    if P.shape[1] != n or G.shape[1] != n or dz.shape[1] != n or c.shape[0] != n or \
            s.shape[0] != n:
        raise ValueError("P, G, dz (columns), c and s need n_samples entries")
    if W.shape[1] != p or lips.shape[1] != ws.shape[0] or gx.shape[1] != ws.shape[0] or \
            mask.shape[1] != ws.shape[0]:
        raise ValueError("W needs n_features columns, lips, gx and mask one column per "
                         "working-set entry")
    for t in range(ws.shape[0]):
        if ws[t] < 0 or ws[t] >= p:
            raise ValueError(f"working set index {ws[t]} out of range [0, {p})")


def _mn_weighted(P, G, c):
    """``c P`` and the intercepts' model gradients at a zero step, ``sum_i G_ki``."""
    return np.multiply(np.asarray(c)[None, :], np.asarray(P)), np.asarray(G).sum(axis=1)


def multinomial_cd_dense(const floating[::1, :] X, const double[:, ::1] P,
                         const double[:, ::1] G, const double[::1] c, floating[:, ::1] W,
                         double[::1] b, double[:, ::1] dz, double[::1] s, double[:, ::1] lips,
                         double[:, ::1] gx, double[::1] lips_b, const unsigned char[:, ::1] mask,
                         const int[::1] ws, double l1, double l2, double hess_floor,
                         bint fit_intercept, int max_epochs, double tol):
    """Coordinate descent on the full second-order model of the multinomial loss.

    With ``P`` the softmax probabilities and ``G = c (P - Y)`` the gradient of
    ``f(Z) = sum_i c_i (logsumexp_k z_ik - z_{i, y_i})`` at the current ``Z``
    (both stored class-major, shape ``(K, n)``), the model of ``f(Z + dZ)`` is

        q(dZ) = sum_ik G_ik dz_ik + 1/2 sum_i c_i (sum_k P_ik dz_ik^2 - s_i^2),
        s_i = sum_k P_ik dz_ik,

    the exact Hessian ``diag(P_i) - P_i P_i^T`` per sample (not a bound, not
    its diagonal). ``dZ = X D^T + db`` for the change ``D`` of ``W`` (shape
    ``(K, p)``, updated in place) and ``db`` of the intercepts ``b``. The
    penalty ``l1 |W|_1 + l2/2 |W|^2`` is on ``W`` itself. Cyclic CD over the
    working-set features ``ws`` and, for each, the classes ``k`` with
    ``mask[k, t]`` set (``t`` the position in ``ws``), each coordinate
    minimized exactly: the model's curvature along ``(k, j)`` is
    ``L_kj = sum_i c_i max(P_ik (1 - P_ik), hess_floor) x_ij^2`` (the floor
    only ever shortens a step), computed on the first visit of a coordinate
    whose ``lips`` entry is negative. The model gradient along ``(k, j)`` is
    ``gx_kj + sum_i x_ij c_i P_ik (dz_ik - s_i)`` with ``gx_kj = x_j . G_k``,
    computed in the same pass as ``L_kj`` (kept by the caller with ``lips``
    for later calls at the same ``G``: two fewer arrays read per visit).
    ``dz`` and ``s`` (zero on entry) are kept up to date; intercepts
    (``fit_intercept``) by one Newton step per class and sweep. Stops after the first sweep whose largest optimality violation
    (distance of the negative model gradient to the penalty's subdifferential,
    taken at each coordinate before its step; ``|gradient|`` for an
    intercept) is ``<= tol``, or after ``max_epochs`` sweeps.

    Parameters
    ----------
    X : (n, p) Fortran-ordered
    P, G : (K, n) float64
    c : (n,) float64, non-negative sample weights
    W : (K, p), X's dtype, in/out (the current coefficients plus the step)
    b : (K,) float64, in/out
    dz : (K, n) float64, in/out (zero on entry: ``X D^T + db``)
    s : (n,) float64, in/out (zero on entry)
    lips : (K, len(ws)) float64, in/out (curvatures ``L_kj``; negative: not yet computed)
    gx : (K, len(ws)) float64, in/out (``x_j . G_k``: set with ``lips``, valid where
        ``lips >= 0``)
    lips_b : (K,) float64, out (intercept curvatures)
    mask : (K, len(ws)) uint8, the coordinates swept
    ws : (m,) int32 feature indices
    l1, l2, hess_floor : float
    fit_intercept : bool
    max_epochs : int
    tol : float

    Returns
    -------
    epochs : int
        Sweeps done.
    violation : float
        Largest violation of the last sweep.

    References
    ----------
    Lee, Sun, Saunders (2014), SIAM J. Optim. 24(3); Yuan, Ho, Lin (2012), An
    improved GLMNET for L1-regularized logistic regression, JMLR 13.
    """
    cdef Py_ssize_t i, n = X.shape[0]
    cdef int k, t, j, ep = 0, m = ws.shape[0], K = b.shape[0]
    cdef double g, L, a, w_old, w_new, delta, viol = INFINITY
    _mn_check((X.shape[0], X.shape[1]), P, G, c, W, b, dz, s, lips, gx, lips_b, mask, ws)
    cP_, gb_ = _mn_weighted(P, G, c)
    cdef const double[:, ::1] cP = cP_
    cdef const double[::1] gb = gb_
    with nogil:
        for k in range(K):
            lips_b[k] = 0.0
            if fit_intercept:
                for i in range(n):
                    lips_b[k] += c[i] * fmax(P[k, i] * (1.0 - P[k, i]), hess_floor)
        while ep < max_epochs:
            viol = _mn_intercepts(P, cP, gb, b, dz, s, lips_b) if fit_intercept else 0.0
            for t in range(m):
                j = ws[t]
                for k in range(K):
                    if not mask[k, t]:
                        continue
                    L = lips[k, t]
                    if L < 0.0:
                        L = 0.0
                        a = 0.0
                        for i in range(n):
                            L += c[i] * fmax(P[k, i] * (1.0 - P[k, i]), hess_floor) * \
                                X[i, j] * X[i, j]
                            a += X[i, j] * G[k, i]
                        lips[k, t] = L
                        gx[k, t] = a
                    if L + l2 <= 0.0:
                        continue
                    g = gx[k, t] + _mn_grad_dense(&X[0, j], &cP[k, 0], &dz[k, 0], &s[0], n)
                    w_old = W[k, j]
                    viol = fmax(viol, _coord_violation(g, w_old, l1, l2))
                    w_new = <floating> _enet_coord(g, L, w_old, l1, l2)
                    delta = w_new - w_old
                    if delta != 0.0:
                        W[k, j] = <floating> w_new
                        _mn_update_dense(&X[0, j], &P[k, 0], &dz[k, 0], &s[0], delta, n)
            ep += 1
            if viol <= tol:
                break
    return ep, viol


def multinomial_cd_sparse(const floating[::1] data, const int[::1] indices,
                          const int[::1] indptr, const double[:, ::1] P,
                          const double[:, ::1] G, const double[::1] c, floating[:, ::1] W,
                          double[::1] b, double[:, ::1] dz, double[::1] s, double[:, ::1] lips,
                          double[:, ::1] gx, double[::1] lips_b,
                          const unsigned char[:, ::1] mask, const int[::1] ws, double l1,
                          double l2, double hess_floor, bint fit_intercept, int max_epochs,
                          double tol):
    """As :func:`multinomial_cd_dense` for CSC ``X`` (``data, indices, indptr``, int32)."""
    cdef Py_ssize_t i, n = c.shape[0]
    cdef int k, t, j, q, ep = 0, m = ws.shape[0], K = b.shape[0]
    cdef double g, L, a, x, w_old, w_new, delta, viol = INFINITY
    _mn_check((n, indptr.shape[0] - 1), P, G, c, W, b, dz, s, lips, gx, lips_b, mask, ws)
    cP_, gb_ = _mn_weighted(P, G, c)
    if indptr[indptr.shape[0] - 1] > data.shape[0] or data.shape[0] != indices.shape[0]:
        raise ValueError("inconsistent CSC structure")
    cdef const double[:, ::1] cP = cP_
    cdef const double[::1] gb = gb_
    with nogil:
        for k in range(K):
            lips_b[k] = 0.0
            if fit_intercept:
                for i in range(n):
                    lips_b[k] += c[i] * fmax(P[k, i] * (1.0 - P[k, i]), hess_floor)
        while ep < max_epochs:
            viol = _mn_intercepts(P, cP, gb, b, dz, s, lips_b) if fit_intercept else 0.0
            for t in range(m):
                j = ws[t]
                for k in range(K):
                    if not mask[k, t]:
                        continue
                    L = lips[k, t]
                    if L < 0.0:
                        L = 0.0
                        a = 0.0
                        for q in range(indptr[j], indptr[j + 1]):
                            i = indices[q]
                            L += c[i] * fmax(P[k, i] * (1.0 - P[k, i]), hess_floor) * \
                                data[q] * data[q]
                            a += data[q] * G[k, i]
                        lips[k, t] = L
                        gx[k, t] = a
                    if L + l2 <= 0.0:
                        continue
                    g = gx[k, t]
                    for q in range(indptr[j], indptr[j + 1]):
                        i = indices[q]
                        g += data[q] * cP[k, i] * (dz[k, i] - s[i])
                    w_old = W[k, j]
                    viol = fmax(viol, _coord_violation(g, w_old, l1, l2))
                    w_new = <floating> _enet_coord(g, L, w_old, l1, l2)
                    delta = w_new - w_old
                    if delta != 0.0:
                        W[k, j] = <floating> w_new
                        for q in range(indptr[j], indptr[j + 1]):
                            i = indices[q]
                            x = delta * data[q]
                            dz[k, i] += x
                            s[i] += P[k, i] * x
            ep += 1
            if viol <= tol:
                break
    return ep, viol


# ---------------------------------------------------------------------------
# binary: coordinate descent on the second-order model in Gram form
# ---------------------------------------------------------------------------
def quad_cd_gram(const double[:, ::1] Q, double[::1] r, double[::1] x,
                 const double[::1] l1, const double[::1] l2, int n_free, double tol,
                 int max_epochs):
    """Cyclic CD on a small quadratic model with an elastic-net penalty (Gram form).

    Minimizes over ``x`` (length ``m``)::

        1/2 (x - x0)^T Q (x - x0) + g^T (x - x0) + sum_{j < m - n_free} l1_j |x_j| + l2_j/2 x_j^2

    where ``x0`` is ``x`` on entry and ``r = g`` on entry; the last ``n_free``
    coordinates (an intercept) are unpenalized. ``Q`` is symmetric positive
    semi-definite (for prox-Newton on the logistic loss,
    ``Q = [X_ws, 1]^T diag(h) [X_ws, 1]``, Friedman, Hastie, Tibshirani 2010,
    "covariance updates"). ``r = g + Q (x - x0)``, the model's gradient, is kept
    up to date (``O(m)`` per coordinate change), so that an epoch costs
    ``O(m)`` plus ``O(m)`` per changed coordinate, independent of ``n_samples``.
    Each coordinate is minimized exactly; coordinates with ``Q_jj + l2_j <= 0``
    are skipped. After a full sweep, sweeps visit only the non-zero coordinates
    until they settle, then a full sweep again (glmnet's active-set cycling).
    Stops after a full sweep whose largest optimality violation (distance of
    ``-r_j`` to the subdifferential of the penalty at ``x_j``, measured before
    the coordinate's update) is ``<= tol``.

    Parameters
    ----------
    Q : ndarray (m, m), float64, C-contiguous
    r : ndarray (m,), float64, in/out (``g`` on entry, the model gradient at exit)
    x : ndarray (m,), float64, in/out
    l1, l2 : ndarray (m - n_free,), float64
    n_free : int (0 or 1)
    tol : float
    max_epochs : int

    Returns
    -------
    n_epochs : int
    violation : float
        Largest violation of the last full sweep.
    """
    cdef Py_ssize_t m = Q.shape[0], n_pen = m - n_free, j, i
    cdef int ep = 0
    cdef double L, a, new, delta, viol, vmax = INFINITY, lj1, lj2, gj
    cdef bint full = True
    if Q.shape[1] != m or r.shape[0] != m or x.shape[0] != m:
        raise ValueError("Q must be (m, m) and r, x of length m")
    if n_free < 0 or n_free > m or l1.shape[0] < n_pen or l2.shape[0] < n_pen:
        raise ValueError("l1 and l2 need m - n_free entries")
    with nogil:
        while ep < max_epochs:
            ep += 1
            viol = 0.0
            for j in range(m):
                L = Q[j, j]
                if j < n_pen:
                    lj1 = l1[j]
                    lj2 = l2[j]
                    if not full and x[j] == 0.0:
                        continue
                else:
                    lj1 = 0.0
                    lj2 = 0.0
                if L + lj2 <= 0.0:
                    continue
                gj = r[j] + lj2 * x[j]
                if x[j] > 0.0:
                    a = fabs(gj + lj1)
                elif x[j] < 0.0:
                    a = fabs(gj - lj1)
                else:
                    a = fmax(fabs(gj) - lj1, 0.0)
                if a > viol:
                    viol = a
                new = _enet_coord(r[j], L, x[j], lj1, lj2)
                delta = new - x[j]
                if delta != 0.0:
                    x[j] = new
                    for i in range(m):
                        r[i] += Q[j, i] * delta
            if full:
                vmax = viol
                if viol <= tol:
                    break
                full = False
            elif viol <= tol:
                full = True         # active set settled: check with a full sweep
    return ep, vmax


def gram_ws_sparse(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                   const floating[::1] h, const int[::1] ws, double[:, ::1] Q_out,
                   int[::1] rowptr, int[::1] rowcol, double[::1] rowval):
    """Weighted Gram matrix of the CSC columns ``ws``: ``Q = [X_ws, 1]^T diag(h) [X_ws, 1]``.

    ``Q_out`` is ``(m, m)`` (no intercept) or ``(m + 1, m + 1)`` (the last
    row/column for a column of ones). Computed serially by
    :func:`gram_ws_sparse_blocks` (same result to the last bit as the former
    transposition of ``X_ws``, about twice as fast); ``rowptr``, ``rowcol`` and
    ``rowval`` (``n + 1`` and ``nnz(X_ws)`` entries) are no longer used, their
    sizes are still checked for compatibility. The row indices of every column
    must be sorted and unique (as :func:`fastreg._validation.check_X` returns them).
    """
    cdef Py_ssize_t n = h.shape[0], p = indptr.shape[0] - 1
    cdef int m = ws.shape[0], k
    cdef int mq = Q_out.shape[0]
    cdef double nnz_ws = 0
    if Q_out.shape[1] != mq or (mq != m and mq != m + 1):
        raise ValueError("Q_out must be (m, m) or (m + 1, m + 1)")
    for k in range(m):
        if ws[k] < 0 or ws[k] >= p:
            raise ValueError(f"working set index {ws[k]} out of range [0, {p})")
        nnz_ws += indptr[ws[k] + 1] - indptr[ws[k]]
    if rowptr.shape[0] != n + 1 or rowcol.shape[0] < nnz_ws or rowval.shape[0] < nnz_ws:
        raise ValueError("rowptr needs n + 1 entries, rowcol and rowval nnz(X[:, ws])")
    gram_ws_sparse_blocks(data, indices, indptr, h, ws, Q_out, 1)
    return None


cdef inline void _dot4(const double* u, const floating* x0, const floating* x1,
                       const floating* x2, const floating* x3, Py_ssize_t n,
                       double* out) noexcept nogil:
    """``out[k] = sum_i u_i x_k[i]`` for four columns, eight independent partial sums.

    Each ``u_i`` is loaded once for four products, and the two interleaved sums
    per column hide the latency of the floating-point additions (a single
    running sum per dot product is bound by it: about 4x slower).
    """
    cdef Py_ssize_t i = 0
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef double t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0, a, b
    while i + 1 < n:
        a = u[i]
        b = u[i + 1]
        s0 += a * x0[i]
        s1 += a * x1[i]
        s2 += a * x2[i]
        s3 += a * x3[i]
        t0 += b * x0[i + 1]
        t1 += b * x1[i + 1]
        t2 += b * x2[i + 1]
        t3 += b * x3[i + 1]
        i += 2
    if i < n:
        a = u[i]
        s0 += a * x0[i]
        s1 += a * x1[i]
        s2 += a * x2[i]
        s3 += a * x3[i]
    out[0] = s0 + t0
    out[1] = s1 + t1
    out[2] = s2 + t2
    out[3] = s3 + t3


def gram_ws_dense(const floating[::1, :] X, const floating[::1] h, const int[::1] ws,
                  double[:, ::1] Q_out, double[::1] buf):
    """As :func:`gram_ws_sparse` for Fortran-ordered ``X`` (``buf``: scratch of ``n`` entries).

    ``Q_ab = sum_i h_i X_{i, ws_a} X_{i, ws_b}`` (plus the intercept row/column
    ``sum_i h_i X_{i, ws_a}`` and ``sum_i h_i`` when ``Q_out`` is ``(m + 1, m + 1)``),
    ``m (m + 1) / 2`` weighted dot products of length ``n``, by chunks of rows
    (the chunk of the ``m`` columns stays in the L2 cache): for each ``a``,
    ``buf = h * X[rows, ws_a]``, then four columns ``b >= a`` at a time
    (:func:`_dot4`); the intercept row is ``sum(buf)``. Serial, no BLAS
    (the matrices are small and the call is repeated every Newton step: a
    threaded BLAS call would wake spinning threads each time).
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i, r0, nr, R
    cdef int m = ws.shape[0], a, b, k
    cdef int mq = Q_out.shape[0]
    cdef double acc
    cdef double[4] out
    cdef const floating* xc[4]
    cdef bint icpt
    if Q_out.shape[1] != mq or (mq != m and mq != m + 1):
        raise ValueError("Q_out must be (m, m) or (m + 1, m + 1)")
    if h.shape[0] != n or buf.shape[0] < n:
        raise ValueError("h and buf need n_samples entries")
    for a in range(m):
        if ws[a] < 0 or ws[a] >= p:
            raise ValueError(f"working set index {ws[a]} out of range [0, {p})")
    icpt = mq == m + 1
    # rows in chunks whose m columns stay in the L2 cache (each column chunk is read
    # about m / 8 times; whole columns would come from memory / L3 every time)
    R = max(64, min(n, 32768 // max(m, 1)))
    with nogil:
        for a in range(mq):
            for b in range(mq):
                Q_out[a, b] = 0.0
        r0 = 0
        while r0 < n:
            nr = min(R, n - r0)
            for a in range(m):
                for i in range(nr):
                    buf[i] = <double> h[r0 + i] * X[r0 + i, ws[a]]
                b = a
                while b < m:
                    for k in range(4):  # the last 1-3 columns repeated to fill the slots
                        xc[k] = &X[r0, ws[min(b + k, m - 1)]]
                    _dot4(&buf[0], xc[0], xc[1], xc[2], xc[3], nr, out)
                    for k in range(min(4, m - b)):
                        Q_out[a, b + k] += out[k]
                    b += 4
                if icpt:
                    acc = 0.0
                    for i in range(nr):
                        acc += buf[i]
                    Q_out[a, m] += acc
            if icpt:
                acc = 0.0
                for i in range(nr):
                    acc += h[r0 + i]
                Q_out[m, m] += acc
            r0 += nr
        for a in range(mq):             # symmetrize
            for b in range(a + 1, mq):
                Q_out[b, a] = Q_out[a, b]
    return None
    with nogil:
        for a in range(m):
            for i in range(n):
                buf[i] = <double> h[i] * X[i, ws[a]]
            b = a
            while b + 3 < m:
                _dot4(&buf[0], &X[0, ws[b]], &X[0, ws[b + 1]], &X[0, ws[b + 2]],
                      &X[0, ws[b + 3]], n, out)
                for k in range(4):
                    Q_out[a, b + k] = out[k]
                    Q_out[b + k, a] = out[k]
                b += 4
            if b < m:                   # the last 1-3 columns (repeated to fill the four slots)
                for k in range(4):
                    xc[k] = &X[0, ws[min(b + k, m - 1)]]
                _dot4(&buf[0], xc[0], xc[1], xc[2], xc[3], n, out)
                for k in range(m - b):
                    Q_out[a, b + k] = out[k]
                    Q_out[b + k, a] = out[k]
            if icpt:
                acc = 0.0
                for i in range(n):
                    acc += buf[i]
                Q_out[a, m] = acc
                Q_out[m, a] = acc
        if icpt:
            acc = 0.0
            for i in range(n):
                acc += h[i]
            Q_out[m, m] = acc
    return None


# ---------------------------------------------------------------------------
# binary: weighted Gram of sparse working-set columns by row blocks, derivatives with dual terms
# ---------------------------------------------------------------------------
from cython.parallel cimport prange
from libc.stdlib cimport malloc, calloc, free
from fastreg._sparse_gram cimport gram_rows


def gram_ws_sparse_blocks(const floating[::1] data, const int[::1] indices,
                          const int[::1] indptr, const floating[::1] h, const int[::1] ws,
                          double[:, ::1] Q_out, int n_threads=1, double min_work=2e6):
    """Weighted Gram matrix of the CSC columns ``ws``: ``Q = [X_ws, 1]^T diag(h) [X_ws, 1]``.

    Same result as :func:`gram_ws_sparse` (``Q_out`` ``(m, m)`` without, or
    ``(m + 1, m + 1)`` with the intercept row/column of ones), without the
    transposition of ``X_ws``: rows are gathered in blocks of at most 256 from
    the columns (the block's slots stay in the L2 cache) and each row's outer
    product is added four triangle rows at a time; ``O(nnz(X_ws) + sum_i
    c_i^2 / 2)`` for ``c_i`` the entries of row ``i`` in ``ws``. ``ws`` need
    not be sorted; rows are gathered by :func:`fastreg._sparse_gram.gram_rows` (shared
    with the Lasso Gram route); the row indices of every column must be sorted, unique and
    in ``[0, n_samples)`` (as :func:`fastreg._validation.check_X` returns them),
    else ValueError.

    Rows are split into ``n_threads`` contiguous ranges (OpenMP) only when the
    estimated pair updates ``nnz(X_ws)^2 / (2 n)`` reach ``min_work`` per
    thread; each extra thread accumulates into its own ``mq x mq`` scratch
    (allocated here), summed into ``Q_out``. Summation order differs between
    thread counts (results equal up to rounding).
    """
    cdef Py_ssize_t n = h.shape[0], p = indptr.shape[0] - 1, m = ws.shape[0]
    cdef Py_ssize_t mq = Q_out.shape[0], k, a, b, t, B
    cdef int nt = n_threads, n_nomem = 0, n_bad = 0, err
    cdef double nnz_ws = 0.0
    cdef bint icpt
    cdef double** acc
    cdef Py_ssize_t[65] split
    cdef const floating* dp = NULL
    cdef const int* ip = NULL
    cdef const int* wp = NULL
    if Q_out.shape[1] != mq or (mq != m and mq != m + 1):
        raise ValueError("Q_out must be (m, m) or (m + 1, m + 1)")
    if nt < 1 or nt > 64:
        raise ValueError("n_threads must be in [1, 64]")
    icpt = mq == m + 1
    for k in range(m):
        if ws[k] < 0 or ws[k] >= p:
            raise ValueError(f"working set index {ws[k]} out of range [0, {p})")
        nnz_ws += indptr[ws[k] + 1] - indptr[ws[k]]
    if p > 0 and (data.shape[0] < indptr[p] or indices.shape[0] < indptr[p]):
        raise ValueError("data and indices shorter than indptr[-1]")
    if n > 0 and min_work > 0:
        nt = <int> max(1.0, min(<double> nt, nnz_ws * nnz_ws / (2.0 * n) / min_work))
    nt = <int> max(1, min(<Py_ssize_t> nt, n))
    B = max(16, min(256, 65536 // max(m, 1)))
    acc = <double**> malloc(nt * sizeof(double*))
    if acc == NULL:
        raise MemoryError("gram_ws_sparse_blocks: no memory for the thread table")
    with nogil:
        for a in range(mq):
            for b in range(mq):
                Q_out[a, b] = 0.0
        acc[0] = &Q_out[0, 0] if mq > 0 else NULL
        for t in range(1, nt):
            acc[t] = <double*> calloc(max(mq * mq, 1), sizeof(double))
            n_nomem += acc[t] == NULL
        for t in range(nt + 1):
            split[t] = n * t // nt
        if data.shape[0] > 0:
            dp = &data[0]
        if indices.shape[0] > 0:
            ip = &indices[0]
        if m > 0:
            wp = &ws[0]
        if n_nomem == 0 and n > 0 and mq > 0:
            if nt == 1:
                err = gram_rows(dp, ip, &indptr[0], wp, m, &h[0], 0, n, B, 0.0, icpt, True,
                                acc[0])
                n_nomem = err == -1
                n_bad = err == -2
            else:
                for t in prange(nt, num_threads=nt, schedule="static", chunksize=1):
                    err = gram_rows(dp, ip, &indptr[0], wp, m, &h[0], split[t],
                                    split[t + 1], B, 0.0, icpt, t == nt - 1, acc[t])
                    n_nomem += err == -1     # reductions (an assignment would be lastprivate)
                    n_bad += err == -2
        for t in range(1, nt):
            if acc[t] != NULL:
                for a in range(mq):
                    for b in range(a, mq):
                        Q_out[a, b] += acc[t][a * mq + b]
                free(acc[t])
        for a in range(mq):             # symmetrize (each row's slot is sorted: upper triangle)
            for b in range(a + 1, mq):
                Q_out[b, a] = Q_out[a, b]
    free(acc)
    if n_nomem:
        raise MemoryError("gram_ws_sparse_blocks: out of memory for the row-block scratch")
    if n_bad:
        raise ValueError("gram_ws_sparse_blocks: the row indices of a column are unsorted, "
                         "duplicated or out of range (use fastreg._validation.check_X)")
    return None


cdef inline double _derivs_dual_i(double zi, double yi, double ci, double hess_floor,
                                  double* grad_i, floating* hess_i, floating* resp_i,
                                  double* ent, double* slope) noexcept nogil:
    """One sample of :func:`binary_derivatives_dual`: stores the derivatives, returns the loss."""
    cdef double p, q, l, pq, mi = yi * zi, am = fabs(mi)
    l = _loss_pq(mi, &p, &q)
    grad_i[0] = -ci * yi * p
    pq = fmax(p * q, hess_floor)
    hess_i[0] = <floating> (ci * pq)
    resp_i[0] = <floating> (yi * p / pq)
    ent[0] += ci * ((l - am if mi < 0.0 else l) + am * (q if mi < 0.0 else p))
    slope[0] += ci * p * mi
    return ci * l


def binary_derivatives_dual(const double[::1] z, const floating[::1] y, const floating[::1] c,
                            double[::1] grad_out, floating[::1] hess_out,
                            floating[::1] resp_out, double hess_floor):
    """:func:`binary_derivatives` plus the two sums that bound the dual (same pass).

    With ``m_i = y_i z_i``, ``p_i = sigmoid(-m_i)``, ``q_i = 1 - p_i`` and
    ``H(a) = -a log a - (1 - a) log(1 - a)``, the dual datafit term
    ``E(t) = sum_i c_i H(t p_i)`` (:func:`binary_entropy`) is concave in
    ``t``, with ``E(1) = sum_i c_i H(p_i)`` and ``E'(1) = sum_i c_i p_i
    log(q_i / p_i) = sum_i c_i p_i m_i``; hence ``E(t) <= E(1) + (t - 1)
    E'(1)`` for ``t`` in ``[0, 1]`` (an upper bound of the dual value, used to
    skip the exact evaluation while the gap is certainly above the tolerance).
    ``H(p_i) = log(1 + e_i) + |m_i| e_i / (1 + e_i)``, ``e_i = exp(-|m_i|)``
    (no cancellation for large margins).

    Returns
    -------
    f : float
        ``sum_i c_i log(1 + exp(-m_i))`` (the return of :func:`binary_derivatives`).
    E1 : float
        ``E(1) = sum_i c_i H(p_i)``.
    dE1 : float
        ``E'(1) = sum_i c_i p_i m_i``.
    """
    cdef Py_ssize_t i, n = z.shape[0]
    cdef double loss = 0.0, ent = 0.0, slope = 0.0
    _check_n(n, y, c, grad_out, hess_out, resp_out)
    with nogil:
        for i in range(n):
            loss += _derivs_dual_i(z[i], y[i], c[i], hess_floor, &grad_out[i], &hess_out[i],
                                   &resp_out[i], &ent, &slope)
    return loss, ent, slope


def binary_trial_derivatives(const double[::1] z, const floating[::1] xd, double db,
                             const double[::1] grad, const floating[::1] y,
                             const floating[::1] c, double[::1] z_out, double[::1] grad_out,
                             floating[::1] hess_out, floating[::1] resp_out, double hess_floor):
    """Unit Newton step of the predictions and the derivatives there, in one pass.

    With ``dz_i = xd_i + db`` (``xd = X d`` for a coefficient step ``d``,
    ``db`` the intercept step): ``z_out = z + dz`` and, at ``z_out``, what
    :func:`binary_derivatives_dual` computes (into ``grad_out``, ``hess_out``,
    ``resp_out``); also ``grad^T dz`` for the current gradient ``grad`` (the
    smooth part of the proximal Newton decrease). ``z_out`` and ``grad_out``
    must not overlap ``z``, ``grad``.

    Returns
    -------
    gdz, f, E1, dE1 : float
        ``sum_i grad_i dz_i``, then the returns of :func:`binary_derivatives_dual` at ``z_out``.
    """
    cdef Py_ssize_t i, n = z.shape[0]
    cdef double loss = 0.0, ent = 0.0, slope = 0.0, gdz = 0.0, dzi
    _check_n(n, xd, grad, y, c, z_out, grad_out, hess_out, resp_out)
    with nogil:
        for i in range(n):
            dzi = xd[i] + db
            gdz += grad[i] * dzi
            z_out[i] = z[i] + dzi
            loss += _derivs_dual_i(z_out[i], y[i], c[i], hess_floor, &grad_out[i],
                                   &hess_out[i], &resp_out[i], &ent, &slope)
    return gdz, loss, ent, slope
