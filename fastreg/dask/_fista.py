"""FISTA with adaptive restart over distributed blocks, stopped by the duality gap.

One pass over the data per iteration (the datafit's value and gradient at the
extrapolated point, :meth:`Problem.loss_grad`); the step ``1/L`` comes from a
distributed power iteration done once (:meth:`Problem.lipschitz`), so there
are no backtracking round trips. Momentum is reset by the gradient restart
test ``(y_k - x_{k+1})^T (x_{k+1} - x_k) > 0`` of O'Donoghue & Candes, which
needs no function value. The intercept is a smooth (unpenalized) coordinate.

Stopping: duality gap ``<= tol * P0`` (P0: objective of the intercept-only
model), computed at the extrapolated point, where the pass just made gives
everything the least-squares gap needs; the logistic gap needs O(n) passes
over cached predictions plus one ``X^T u`` pass, so it is checked every
``check_every`` iterations.

References
----------
Beck, Teboulle (2009), A fast iterative shrinkage-thresholding algorithm for
linear inverse problems, SIAM J. Imaging Sci. 2(1).
O'Donoghue, Candes (2015), Adaptive restart for accelerated gradient schemes,
Found. Comput. Math. 15.
"""
from dataclasses import dataclass

import numpy as np

from ._block import LEAST_SQUARES
from ._engine import token


@dataclass
class Result:
    """Outcome of a distributed solve (float64 ``coef``)."""
    coef: np.ndarray
    intercept: float
    gap: float
    primal: float
    n_iter: int
    converged: bool
    solver: str


def fista(problem, coef_init=None, intercept_init=0.0, *, tol=1e-4, max_iter=1000,
          check_every=10, lipschitz=None, verbose=0):
    """Minimize ``problem`` by FISTA with gradient restart; returns a :class:`Result`."""
    p = problem.m.shape[0]
    x = np.zeros(p) if coef_init is None else np.asarray(coef_init, dtype=np.float64).copy()
    xb = float(intercept_init) if problem.fit_intercept else 0.0
    Lip = problem.lipschitz() if lipschitz is None else lipschitz
    tol_abs = max(tol * problem.p0, problem.tol_floor)
    ls = problem.loss_code == LEAST_SQUARES
    yv, yb, t = x.copy(), xb, 1.0
    best_dual, gap, primal = -np.inf, np.inf, np.inf
    best = (x.copy(), xb)
    primal_start = np.inf
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        tok = None if ls else token(yv)
        _, gw, gb, sums = problem.loss_grad(yv, yb, tok)
        if ls or it % check_every == 1 or check_every == 1:
            P, D, b_star = problem.gap(yv, yb, sums, tok)
            if not np.isfinite(P) or P > 10 * primal_start:   # step too long: halve it
                Lip *= 2.0
                (x, xb), t = best, 1.0
                yv, yb = x.copy(), xb
                continue
            best_dual = max(best_dual, D)
            if not np.isfinite(primal_start):
                primal_start = P
            if P < primal or not np.isfinite(primal):
                primal, best = P, (yv.copy(), b_star)
            gap = primal - best_dual
            if verbose:
                print(f"[fastreg.dask.fista] iter {it:5d}  primal {P:.12e}  gap {gap:.3e}  "
                      f"(tol {tol_abs:.3e})")
            if gap <= tol_abs:
                converged = True
                break
        xn = problem.prox(yv - gw / Lip, 1.0 / Lip)
        xbn = yb - gb / Lip
        if float((yv - xn) @ (xn - x)) + (yb - xbn) * (xbn - xb) > 0:
            t = 1.0
            yv, yb = xn.copy(), xbn
        else:
            tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / tn
            yv, yb = xn + beta * (xn - x), xbn + beta * (xbn - xb)
            t = tn
        x, xb = xn, xbn
    w, b = best
    return Result(coef=w, intercept=b, gap=float(gap), primal=float(primal), n_iter=it,
                  converged=converged, solver="fista")
