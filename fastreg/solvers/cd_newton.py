"""Sign-fixed Newton steps on the support for the working-set elastic-net solver.

The problem of :func:`fastreg.solvers.cd.enet_cd`,
``P(w) = 1/2 sum_i h_i (y_i - x_i^T w - b)^2 + sum_j l1_j |w_j| + l2_j/2 w_j^2`` with
``lower_j <= w_j <= upper_j`` and ``b`` the optimal intercept, is, on the orthant of the
signs ``s_S`` of the free coordinates ``S`` (the others fixed), the quadratic

``q(w_S) = 1/2 ||H^{1/2} (y_c - X_{c,S} w_S - X_{c,~S} w_{~S})||^2 + l1_S^T (s_S * w_S)
+ 1/2 w_S^T diag(l2_S) w_S``

(``X_c`` the ``h``-centered columns when an intercept is fitted, ``H = diag(h)``). Its
minimizer solves ``(X_{c,S}^T H X_{c,S} + diag(l2_S)) e = -grad_S`` for the step ``e``
from the current ``w_S``, ``grad_S = -X_{c,S}^T H rho + l1_S s_S + l2_S w_S`` (``rho`` the
centered residual). When CD has found the support and signs but converges slowly (an
ill-conditioned ``X_S``, e.g. correlated designs at small ``alpha``), one Cholesky
factorization replaces hundreds of epochs. The step is followed up to the first
coordinate that reaches 0 or a bound (the orthant-wise steps of Andrew & Gao 2007;
Byrd, Chin, Nocedal, Oztoprak 2016); that coordinate is pinned there and the step is
recomputed on the others from the same factorization (:func:`_orthant_steps`, a primal
active-set method). The result is kept only if the true objective decreases; coordinate
descent then continues (it releases pinned coordinates whose optimality condition
fails), and the duality gap stays the only stopping test.

The Gram matrix of the last support is cached: a later support that is a subset costs
nothing, new dense columns cost one BLAS product with the support.

Free coordinates: non-zero and strictly inside their bounds, plus the unpenalized
(``l1_j = 0``) coordinates strictly inside their bounds (no sign to keep). Coordinates
at 0 (penalized) or at a bound stay where they are. Float32 ``X`` is solved in float64.
The step is attempted only when its estimated cost (the Gram matrix of ``S``: about
``|S|^2 n`` flops through BLAS for dense ``X``, ``sum_i c_i^2`` for CSC with ``c_i``
the entries of row ``i`` in ``S``, plus ``|S|^3 / 3`` for Cholesky; BLAS-3 flops are
counted as 1/10 of a CD flop) is below half the CD epochs it is expected to save (``rem``
from the compiled solver: the epochs the measured linear rate of the set's gap predicts,
at most those already spent on the set; ``2 nnz(X_ws)`` each), never when
``|S| + fit_intercept > n`` without an L2 term (``X_S^T H X_S`` is then singular), and
never for supports above 6000 features (memory).

References
----------
Nocedal, Wright (2006), Numerical Optimization, 2nd ed., Springer (active-set methods
for convex QP, section 16.5).
Andrew, Gao (2007), Scalable training of L1-regularized log-linear models, ICML.
Byrd, Chin, Nocedal, Oztoprak (2016), A family of second-order methods for convex
l1-regularized optimization, Math. Program. 159.
"""
import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.linalg.blas import dsyrk

from .. import _newton

__all__ = ["NewtonStats", "make_newton", "newton_cost"]

#: Flops of BLAS-3 (Gram, Cholesky) per flop of a CD epoch (memory-bound dot/axpy):
#: the Gram matrix of a dense support is that much cheaper than its flop count suggests.
_BLAS3_SPEEDUP = 10.0
#: A step is tried when its cost is below this fraction of the epochs it may save.
_PAYOFF = 0.5
#: Largest support solved (the Gram matrix is |S|^2 float64 and the dense gather n |S|).
_MAX_SUPPORT = 6000
#: Active-set steps (faces) per Newton step.
_MAX_FACES = 100


class NewtonStats:
    """Counters of one fit: ``tried`` (callbacks), ``skipped`` (cost or size), ``accepted``
    (objective decreased), ``rejected``, ``cuts`` (coordinates fixed at 0 or a bound)."""

    def __init__(self):
        self.tried = self.skipped = self.accepted = self.rejected = self.cuts = 0

    def __repr__(self):
        return (f"NewtonStats(tried={self.tried}, skipped={self.skipped}, "
                f"accepted={self.accepted}, rejected={self.rejected}, cuts={self.cuts})")


def newton_cost(k, k_new, n, nnz_new, sparse):
    """Estimated cost of one step on a support of ``k`` features of which the Gram rows of
    ``k_new`` are not cached, in CD-epoch flop units (sparse: ``nnz_new`` the stored entries
    of the columns whose Gram is built, ``sum_i c_i^2`` estimated as ``nnz_new^2 / n``)."""
    if sparse:
        build = 2.0 * nnz_new * max(nnz_new / max(n, 1), 1.0)
    else:
        build = (float(k) * k_new * n + float(k) * n) / _BLAS3_SPEEDUP
    return build + float(k) ** 3 / (3.0 * _BLAS3_SPEEDUP) + 4.0 * nnz_new


class _GramCache:
    """``G = X_{c,S}^T H X_{c,S}`` (float64) of the last support, reused for the next one:
    a subset costs nothing, new dense columns cost ``|S| |new| n`` (one BLAS product)."""

    def __init__(self, design, h, mu, fit_intercept):
        self.design, self.h, self.mu, self.fi = design, h, mu, bool(fit_intercept)
        self.sqh = np.sqrt(h)
        self.S = np.empty(0, dtype=np.int32)
        self.G = np.empty((0, 0))

    def n_new(self, S):
        """Features of ``S`` (sorted) whose Gram rows are not cached."""
        pos = np.searchsorted(self.S, S)
        hit = pos < self.S.size
        hit[hit] = self.S[pos[hit]] == S[hit]
        return hit, pos

    def get(self, S, rho):
        """``(G, c)`` for the sorted support ``S``, ``c = X_{c,S}^T H rho``."""
        design, fi = self.design, self.fi
        hit, pos = self.n_new(S)
        hr = self.h * rho
        k = S.size
        if design.sparse:
            c = design.xtv(hr.astype(design.X.dtype), S)
            if fi:
                c -= self.mu[S] * hr.sum()
            if hit.all():
                G = self.G[np.ix_(pos, pos)]
            else:
                G = self._sparse_gram(S)
        else:
            A = np.asfortranarray(design.X[:, S], dtype=np.float64)  # the support's columns
            if fi:
                A -= self.mu[S]
            c = A.T @ hr
            A *= self.sqh[:, None]
            if hit.all():
                G = self.G[np.ix_(pos, pos)]
            elif hit.sum() < k // 4:
                G = dsyrk(1.0, A, trans=1, lower=0)  # upper triangle of A^T A
                il = np.tril_indices(k, -1)
                G[il] = G.T[il]
            else:
                old, new = np.flatnonzero(hit), np.flatnonzero(~hit)
                G = np.empty((k, k))
                G[np.ix_(old, old)] = self.G[np.ix_(pos[old], pos[old])]
                B = A.T @ A[:, new]
                G[:, new] = B
                G[np.ix_(new, old)] = B[old].T
        self.S, self.G = S, G
        return G, c

    def _sparse_gram(self, S):
        design = self.design
        n, k = design.X.shape[0], S.size
        Q = np.empty((k + 1, k + 1))
        nnz = int(np.diff(design.indptr)[S].sum())
        _newton.gram_ws_sparse(design.data, design.indices, design.indptr,
                               self.h.astype(design.X.dtype), S, Q,
                               np.empty(n + 1, dtype=np.int32), np.empty(nnz, dtype=np.int32),
                               np.empty(nnz))
        if not self.fi:
            return Q[:k, :k]
        q = Q[:k, k]  # eliminate the intercept (Schur complement of its row/column)
        return Q[:k, :k] - np.outer(q, q) / Q[k, k]


def _orthant_steps(G, l2, g, x, signed, lo, up, max_steps, stats):
    """Minimize ``q(d) = g^T d + 1/2 d^T (G + diag(l2)) d`` from ``x`` over the closed orthant
    of ``sign(x[signed])`` and the box ``[lo, up]`` by a primal active-set method that only
    adds constraints (Nocedal & Wright 2006, section 16.5).

    The quadratic is the exact objective change anywhere in that closed set (``|w_j| =
    s_j w_j`` there). Each step is the Newton step on the current face (the pinned
    coordinates held fixed), followed up to the first coordinate reaching 0 or a bound,
    which is pinned there; ``q`` decreases along every such step. One Cholesky
    factorization ``H = L L^T`` serves every face: with ``P`` the pinned set and
    ``Z = H^{-1} E_P`` (two triangular solves per pinned coordinate, added as they are
    pinned), the face step from the gradient ``g_c`` is
    ``d = -H^{-1} g_c + Z mu``, ``Z_PP mu = (H^{-1} g_c)_P`` (so that ``d_P = 0``): each step
    costs ``O(|S|^2 + |P|^3)`` instead of a new factorization. Stops when a step is not cut
    (the face minimizer), after ``max_steps`` steps, or when ``|P|`` exceeds
    ``max(50, |S| / 8)`` (the signs have not settled: CD takes over). Returns the new
    ``x``, or None if the Cholesky factorization fails or the first step is not finite.
    """
    k = x.size
    x0 = x
    x = x.copy()
    Hm = G.copy()
    Hm[np.diag_indices_from(Hm)] += l2
    try:
        cf = cho_factor(Hm, check_finite=False)
    except (LinAlgError, ValueError):
        return None
    # the closed orthant of the entry signs, within the box
    lo_o = np.where(signed & (x0 > 0), 0.0, lo)
    up_o = np.where(signed & (x0 < 0), 0.0, up)
    free = np.ones(k, dtype=bool)
    pinned = []
    Z = np.empty((k, 0))
    max_pinned = max(50, k // 8)
    gc = g.copy()  # gradient of q at x
    for it in range(max_steps):
        d = -cho_solve(cf, gc, check_finite=False)
        mu = None
        if pinned:
            P = np.asarray(pinned)
            try:
                mu = np.linalg.solve(Z[P], -d[P])
            except np.linalg.LinAlgError:
                break
            d += Z @ mu
            d[P] = 0.0
        if not np.all(np.isfinite(d)):
            return None if it == 0 else x
        with np.errstate(divide="ignore", invalid="ignore"):
            tj = np.minimum(np.where(d > 0, (up_o - x) / d, np.inf),
                            np.where(d < 0, (lo_o - x) / d, np.inf))
        tj[~free] = np.inf
        t = float(min(1.0, tj.min()))
        if t >= 1.0:
            x += d
            return x
        if not t > 0.0:
            # a coordinate already at 0 or a bound would move out at once: pin it
            hit = free & (tj <= 0.0)
            t = 0.0
        else:
            x += t * d
            hit = free & (tj <= t)
            # H d = -gc + E_P mu: the new gradient without a product by H
            gc *= 1.0 - t
            if mu is not None:
                gc[P] += t * mu
        x[hit & (d > 0)] = up_o[hit & (d > 0)]
        x[hit & (d < 0)] = lo_o[hit & (d < 0)]
        new = np.flatnonzero(hit)
        stats.cuts += new.size
        if len(pinned) + new.size > max_pinned:
            break
        free[new] = False
        pinned.extend(new.tolist())
        E = np.zeros((k, new.size))
        E[new, np.arange(new.size)] = 1.0
        Z = np.hstack([Z, cho_solve(cf, E, check_finite=False)])
    return x


def make_newton(design, y, h, w, R, mu, l1, l2, lower, upper, fit_intercept, errors,
                stats=None):
    """The ``newton(ws, b, rem, nnz_ws, budget)`` callback of :func:`fastreg._cd.enet_solve_dense`.

    ``w`` and ``R = y - X w`` are the solver's arrays (modified in place when a step is
    accepted); ``h``, ``mu``, ``l1``, ``l2``, ``lower``, ``upper`` as in
    :func:`fastreg.solvers.cd.enet_cd`. An exception raised inside is appended to
    ``errors`` (the compiled caller then stops calling it) and re-raised. ``stats``: a
    :class:`NewtonStats` to count the attempts.
    """
    stats = NewtonStats() if stats is None else stats
    n = y.shape[0]
    h64 = h.astype(np.float64)
    H = float(h64.sum())
    sparse = design.sparse
    col_nnz = np.diff(design.indptr) if sparse else None
    fi = bool(fit_intercept)
    cache = _GramCache(design, h64, mu, fi)

    def objective(Rv, S, wS):
        r = Rv.astype(np.float64)
        b = float(h64 @ r) / H if fi else 0.0
        r -= b
        pen = float(l1[S] @ np.abs(wS) + 0.5 * (l2[S] * wS) @ wS)
        return 0.5 * float(h64 @ (r * r)) + pen, r

    def step(ws, rem, nnz_ws, budget):
        ws = np.asarray(ws)
        wv = w[ws].astype(np.float64)
        lo = lower[ws].astype(np.float64)
        up = upper[ws].astype(np.float64)
        l1w = l1[ws]
        inside = (wv > lo) & (wv < up)
        free = inside & ((wv != 0) | (l1w == 0))
        S = ws[free].astype(np.int32)
        k = S.size
        if k == 0 or k > _MAX_SUPPORT:
            return 0
        l2S = l2[S].astype(np.float64)
        if k + fi > n and not np.all(l2S > 0):
            return 0  # X_S^T H X_S is singular: the sign-fixed problem has no unique solution
        hit, _ = cache.n_new(S)
        new = S[~hit]
        if sparse:  # the sparse Gram is rebuilt over all of S unless S is cached
            nnz_new = float(col_nnz[S].sum()) if new.size else 0.0
        else:
            nnz_new = float(new.size) * n
        cost = newton_cost(k, new.size, n, nnz_new, sparse)
        saves = min(rem, budget) * 2.0 * nnz_ws
        if cost > _PAYOFF * saves:
            return -2
        wS = wv[free]
        P_old, rho = objective(R, S, wS)
        G, c = cache.get(S, rho)
        l1S = l1[S].astype(np.float64)
        g = -c + l1S * np.sign(wS) + l2S * wS
        x = _orthant_steps(G, l2S, g, wS, l1S > 0, lo[free], up[free], _MAX_FACES, stats)
        if x is None:
            return 0
        x = x.astype(w.dtype).astype(np.float64)  # the values w will hold
        d = x - wS
        nz = d != 0
        if not nz.any():
            return 0
        R_old = R.copy()
        design.axpy_columns(-d[nz], S[nz], R)
        P_new, _ = objective(R, S, x)
        if not P_new < P_old:
            R[:] = R_old
            stats.rejected += 1
            return 0
        w[S] = x
        stats.accepted += 1
        return 1

    def newton(ws, b, rem, nnz_ws, budget):
        try:
            stats.tried += 1
            rc = step(ws, rem, nnz_ws, budget)
            if rc == -2:
                stats.skipped += 1
                return 0
            return rc
        except BaseException as exc:  # re-raised by enet_cd after the compiled solve
            errors.append(exc)
            raise

    newton.stats = stats
    return newton
