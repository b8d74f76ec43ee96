"""Distributed (proximal) Newton with exact block Hessians, stopped by the duality gap.

For a moderate number of features ``q`` (``n_features``, plus one for the
intercept), one pass over the data returns, summed over the blocks, the
datafit's value, gradient and full ``q x q`` Hessian (:func:`block_newton`:
``X^T diag(h) X`` by matrix products on row slabs). The driver then solves the
Newton subproblem on these ``q``-sized objects alone::

    d = argmin_d  g^T d + 1/2 d^T H d + G(x + d)

* ``G`` smooth (``l1 = 0``): one linear solve, ``(H + l2 I_w) d = -(g + l2 w)``;
* ``l1 > 0``: coordinate descent on the quadratic in Gram form
  (:func:`fastreg._newton.quad_cd_gram`) warm-started at ``x``: proximal
  Newton (Lee, Sun, Saunders 2014).

The next pass, at the trial point ``x + t d`` (``t = 1`` first), returns its
objective for the Armijo test ``P(x + t d) <= P(x) + sigma t Delta``
(``Delta = g^T d + G(x + d) - G(x)``) together with its gradient and Hessian,
so an accepted step costs exactly one round. Backtracking passes (rare) skip
the Hessian.

Least squares: the Hessian ``[X 1]^T diag(s) [X 1] / S`` is constant, so it
is computed once; the first subproblem is the whole problem, and later passes
(gradient only) refine the solution against rounding. The duality gap comes
from the same pass (:meth:`Problem.gap`). Logistic without intercept: each
pass also returns the dual pieces (:func:`block_logistic_dual`, one more
product on the block, no more rounds), so the gap is checked at every
iterate for free. Logistic with an intercept (profiled in the gap: a few
rounds over cached predictions plus one ``X^T u`` pass): the gap is computed
only when the Newton decrement ``-Delta`` predicts a suboptimality below the
tolerance.

The Hessian pass costs ``O(n q^2)`` flops against ``O(n q)`` for a gradient,
in matrix-matrix products; :data:`HESSIAN_MAX_FEATURES` bounds ``q`` (see
:func:`fastreg.dask._solve.solve` for the choice of solver).

References
----------
Lee, Sun, Saunders (2014), Proximal Newton-type methods for minimizing
composite functions, SIAM J. Optim. 24(3).
Nocedal, Wright (2006), Numerical Optimization, 2nd ed., chapter 3 (Armijo).
"""
import numpy as np
import scipy.linalg

from .. import _newton
from ._block import LEAST_SQUARES, block_newton
from ._engine import token
from ._fista import Result
from ._problem import GapTracker, start_point

HESSIAN_MAX_FEATURES = 512


def _assemble(problem, sums):
    """``(F, g, H)`` in the variables ``x = (w, b)`` from the block sums of :func:`block_newton`."""
    L, D, G, hsum, Xh, H = sums[:6]
    sc = problem.scale
    if problem.fit_intercept:
        g = np.append(G, D)
        q = G.shape[0] + 1
        Hx = np.empty((q, q))
        Hx[:-1, :-1] = H
        Hx[:-1, -1] = Hx[-1, :-1] = Xh
        Hx[-1, -1] = hsum
    else:
        g, Hx = G, np.asarray(H, dtype=np.float64)
    return sc * L, sc * g, sc * Hx


def _subproblem(problem, x, g, H, p, cd_tol):
    """Newton direction ``d`` and the model decrease ``Delta`` (see the module docstring)."""
    l1, l2 = problem.l1, problem.l2
    if l1 == 0.0:
        A = H.copy()
        A[np.arange(p), np.arange(p)] += l2
        rhs = -g.copy()
        rhs[:p] -= l2 * x[:p]
        try:
            d = scipy.linalg.solve(A, rhs, assume_a="pos")
        except (np.linalg.LinAlgError, ValueError):
            d = np.linalg.lstsq(A, rhs, rcond=None)[0]
    else:
        xn, r = x.copy(), g.copy()
        n_free = x.shape[0] - p
        _newton.quad_cd_gram(np.ascontiguousarray(H), r, xn, np.full(p, l1), np.full(p, l2),
                             n_free, cd_tol, 10_000)
        d = xn - x
    w, dw = x[:p], d[:p]
    delta = float(g @ d) + problem.penalty(w + dw) - problem.penalty(w)
    return d, min(delta, 0.0)


def newton(problem, coef_init=None, intercept_init=0.0, *, tol=1e-4, max_iter=100,
           sigma=1e-4, verbose=0):
    """Minimize ``problem`` by (proximal) Newton with block Hessians; returns a :class:`Result`."""
    p = problem.m.shape[0]
    fi = problem.fit_intercept
    ls = problem.loss_code == LEAST_SQUARES
    x = start_point(problem, coef_init, intercept_init)
    track = GapTracker(problem, tol, "newton", verbose)
    tol_abs = track.tol_abs
    eng = problem.engine

    fused = not ls and not fi          # the gap's dual pieces come with every pass

    def evaluate(x, hessian):
        tok = None if ls else token(x[:p], x[p] if fi else 0.0)
        b = x[p] if fi else 0.0
        dual = (problem.C, problem.dual_ts()) if fused else None
        sums = eng.map_sum(block_newton, x[:p], b, problem.loss_code, tok, hessian, dual)
        if fused:
            sums = sums[:6] + ((sums[6], dual[1]),)
        F = problem.scale * sums[0]
        return F + problem.penalty(x[:p]), sums, tok

    def gap_at(x, sums, tok):
        return problem.gap(x[:p], x[p] if fi else 0.0, sums[:4], tok,
                           sums[6] if fused else None)

    P, sums, tok = evaluate(x, True)
    _, g, H = _assemble(problem, sums)
    converged = False
    decrement, stalled = np.inf, False
    it = 0
    for it in range(1, max_iter + 1):
        if ls or fused or decrement <= tol_abs:
            Pg, Dg, b_star = gap_at(x, sums, tok)
            if track.update(it, Pg, Dg, x[:p], b_star):
                converged = True
                break
        if stalled:
            break
        cd_tol = 1e-2 * tol_abs / (1.0 + float(np.abs(x[:p]).sum()))   # gap ~ ||w||_1 |grad error|
        d, delta = _subproblem(problem, x, g, H, p, cd_tol)
        decrement = -delta
        if not np.any(d):                  # no step left: certify at x, then stop
            decrement, stalled = 0.0, True
            continue
        exact = ls or decrement <= 1e-12 * abs(P)     # model exact to rounding: no test
        t = 1.0
        for _ in range(40):
            xt = x + t * d
            Pt, sums_t, tok_t = evaluate(xt, not ls)
            if Pt <= P + sigma * t * delta or exact:
                break
            t *= 0.5
        else:                              # the step is lost in rounding: certify at x, then stop
            decrement, stalled = 0.0, True
            continue
        if not ls:
            _, g_t, H_t = _assemble(problem, sums_t)
            if not isinstance(sums_t[5], np.ndarray):     # backtracked: no Hessian yet
                Pt, sums_t, tok_t = evaluate(xt, True)
                _, g_t, H_t = _assemble(problem, sums_t)
            H = H_t
        else:
            g_t = _assemble(problem, sums_t[:3] + (sums[3], sums[4], sums[5]))[1]
            sums_t = sums_t[:3] + sums[3:]          # keep the constant Hessian
        x, P, sums, tok, g = xt, Pt, sums_t, tok_t, g_t
        decrement *= t
    if track.best is None:          # max_iter reached before any gap: the current point
        Pg, Dg, b_star = gap_at(x, sums, tok)
        track.update(it, Pg, Dg, x[:p], b_star)
    w, b = track.best
    return Result(coef=w, intercept=b, gap=float(track.gap), primal=float(track.primal),
                  n_iter=it, converged=converged, solver="newton")
