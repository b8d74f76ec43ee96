"""Consensus ADMM with local solves, stopped by the duality gap.

Splitting (scaled form, Boyd et al. 2011, section 7.1), ``x_k = (w_k, b_k)``
the copy of block ``k``, ``z = (w, b)`` the consensus::

    x_k <- argmin_x F_k(x) + rho/2 ||x - z + u_k||^2          (on the worker of block k)
    z   <- prox_{G / (K rho)}(mean_k(x_k + u_k))              (intercept: plain mean)
    u_k <- u_k + x_k - z

``F_k`` is block ``k``'s share of the datafit. Least squares: the local
problem is a ridge in ``d = x - v`` (``v = z - u_k``) on the design
``[X_k 1]``: ``1/2 sum_i (s_i/S) (y_i - [x_i 1] v - [x_i 1] d)^2 + rho/2
||d||^2``, solved by fastreg's coordinate descent
(:func:`fastreg.solvers.cd.enet_cd`, ``l2 = rho``, warm-started at the
previous ``x_k - v``) on a Fortran/CSC copy of ``[X_k 1]`` kept with the
block. Logistic: L-BFGS over the compiled block kernel (value and gradient in
one pass over the block), warm-started at the previous ``x_k``. ``rho``
adapts by residual balancing (Boyd et al. 2011, 3.4.1; He, Yang, Wang 2000):
doubled when the primal residual exceeds ten times the dual one, halved in
the opposite case (``u`` rescaled). Each local task also returns the block
sums at the ``z`` it received, so the duality gap of ``z``
(:meth:`Problem.gap`) costs no extra round for least squares (it lags one
round); for logistic it is checked every ``check_every`` rounds.

Measured (not chosen by ``solver='auto'``): ADMM needs many more rounds than
the alternatives. Logistic, 2000 x 30 dense, 7 blocks, tol 1e-8: ADMM 30
rounds (L2) / 150 rounds (L1) against 7 / 8 for Newton
(:mod:`fastreg.dask._newton`), 30-80x slower in wall time (the local solves
cost more than a pass, too). See bench/results/dask.md for the least-squares
numbers. Offered for both datafits as ``solver='admm'``.

References
----------
Boyd, Parikh, Chu, Peleato, Eckstein (2011), Distributed optimization and
statistical learning via the alternating direction method of multipliers,
Found. Trends Mach. Learn. 3(1).
"""
import numpy as np
import scipy.optimize
import scipy.sparse as sp

from ..solvers.cd import enet_cd
from ._block import LEAST_SQUARES, LOGISTIC
from ._engine import token
from ._fista import Result


def _augmented(block, fit_intercept):
    """``[X 1]`` (Fortran dense or CSC int32), built once per block and cached on it."""
    key = ("aug", fit_intercept)
    cached = getattr(block, "_aug", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    X = block.X
    if block.sparse:
        A = sp.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)]) if fit_intercept else X
        A = sp.csc_matrix(A, dtype=X.dtype)
        A.indices = A.indices.astype(np.int32)
        A.indptr = A.indptr.astype(np.int32)
    else:
        A = np.column_stack([X, np.ones(X.shape[0], dtype=X.dtype)]) if fit_intercept else X
        A = np.asfortranarray(A)
    block._aug = (key, A)
    return A


def _local_logistic(block, x_old, v, rho, C, fit_intercept, local_tol):
    """``argmin_x C sum_i s_i log(1 + exp(-y_i (x_i w + b))) + rho/2 ||x - v||^2`` on one block
    by L-BFGS over the compiled block kernel, warm-started at ``x_old``."""
    p = block.X.shape[1]

    def fun(x):
        w, b = x[:p], (x[p] if fit_intercept else 0.0)
        loss, dsum, grad = block.loss_grad(w, b, LOGISTIC)
        r = x - v
        g = C * (np.append(grad, dsum) if fit_intercept else grad) + rho * r
        return C * loss + 0.5 * rho * float(r @ r), g

    res = scipy.optimize.minimize(fun, x_old, jac=True, method="L-BFGS-B",
                                  options=dict(maxiter=500, gtol=local_tol, ftol=0.0))
    return res.x


def block_admm_step(block, local, z, rho, S, fit_intercept, local_tol, loss_code=LEAST_SQUARES,
                    C=1.0, tok=None):
    """One local solve; returns ``(x_k, (loss, d_sum, X^T d) at z)``."""
    p = block.X.shape[1]
    w, b = z[:p], (z[p] if fit_intercept else 0.0)
    loss, dsum, grad = block.loss_grad(w, b, loss_code, tok)
    x_old, u = local
    if block.n == 0:
        return x_old.copy(), (loss, dsum, grad)
    v = z - u
    if loss_code == LOGISTIC:
        return _local_logistic(block, x_old, v, rho, C, fit_intercept, local_tol), \
            (loss, dsum, grad)
    A = _augmented(block, fit_intercept)
    dtype = block.X.dtype
    Av = np.asarray(A @ v.astype(dtype)).ravel()
    q = v.shape[0]
    res = enet_cd(A, (block.y - Av).astype(dtype), np.zeros(q, dtype=dtype),
                  np.full(q, rho, dtype=dtype), sample_weight=(block.sw / S).astype(dtype),
                  fit_intercept=False, coef_init=(x_old - v).astype(dtype), tol=local_tol,
                  warn=False, n_threads=1)
    return v + res.coef.astype(np.float64), (loss, dsum, grad)


def admm(problem, coef_init=None, intercept_init=0.0, *, tol=1e-4, max_iter=1000, rho=None,
         check_every=5, verbose=0):
    """Minimize a least-squares ``problem`` by consensus ADMM; returns a :class:`Result`."""
    ls = problem.loss_code == LEAST_SQUARES
    eng = problem.engine
    K = eng.n_blocks
    p = problem.m.shape[0]
    fi = problem.fit_intercept
    q = p + 1 if fi else p
    z = np.zeros(q)
    if coef_init is not None:
        z[:p] = coef_init
        if fi:
            z[p] = intercept_init
    xs = [z.copy() for _ in range(K)]
    us = [np.zeros(q) for _ in range(K)]
    # rho ~ the datafit's curvature per block (scale-free start)
    rho = problem.lipschitz(max_iter=10, rtol=1e-2, safety=1.0) / K if rho is None else rho
    tol_abs = max(tol * problem.p0, problem.tol_floor)
    best_dual, primal, gap = -np.inf, np.inf, np.inf
    best = (z[:p].copy(), 0.0)
    local_tol = 1e-6
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        tok = None if ls else token(z[:p], z[p] if fi else 0.0)
        out = eng.map(block_admm_step, list(zip(xs, us)), z, rho, problem.S, fi,
                      local_tol if ls else local_tol * problem.p0 / K, problem.loss_code,
                      problem.C, tok)
        xs = [o[0] for o in out]
        if not ls and it % check_every:
            P, D, b_star = np.inf, -np.inf, 0.0
        else:
            sums = tuple(np.sum([o[1][i] for o in out], axis=0) for i in range(3)) + (0.0,)
            P, D, b_star = problem.gap(z[:p], z[p] if fi else 0.0, sums, tok)
        best_dual = max(best_dual, D)
        if P < primal:
            primal, best = P, (z[:p].copy(), b_star)
        gap = primal - best_dual
        if verbose:
            print(f"[fastreg.dask.admm] iter {it:4d}  primal {P:.12e}  gap {gap:.3e}  rho {rho:.3e}")
        if gap <= tol_abs:
            converged = True
            break
        local_tol = max(1e-14, min(local_tol, 1e-3 * gap / problem.p0))
        z_old = z
        mean = np.mean([x + u for x, u in zip(xs, us)], axis=0)
        z = mean.copy()
        z[:p] = problem.prox(mean[:p], 1.0 / (K * rho))
        us = [u + x - z for x, u in zip(xs, us)]
        r = np.sqrt(sum(float((x - z) @ (x - z)) for x in xs))
        s = rho * np.sqrt(K) * np.linalg.norm(z - z_old)
        if r > 10 * s:
            rho *= 2.0
            us = [u / 2.0 for u in us]
        elif s > 10 * r:
            rho /= 2.0
            us = [u * 2.0 for u in us]
    w, b = best
    return Result(coef=w, intercept=b, gap=float(gap), primal=float(primal), n_iter=it,
                  converged=converged, solver="admm")
