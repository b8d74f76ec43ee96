"""Distributed (proximal) Newton with exact block Hessians, stopped by the duality gap.

For a moderate number of features ``q`` (``n_features``, plus one for the
intercept), one pass over the data returns, summed over the blocks, the
datafit's value, gradient and full ``q x q`` Hessian (:func:`block_newton`:
one fused pass per dense block, the Hessian by BLAS ``syrk`` on row slabs,
:func:`fastreg._blocks.newton_dense`). The driver then solves the
Newton subproblem on these ``q``-sized objects alone::

    d = argmin_d  g^T d + 1/2 d^T H d + G(x + d)

* ``G`` smooth (``l1 = 0``): one linear solve, ``(H + l2 I_w) d = -(g + l2 w)``;
* ``l1 > 0``: coordinate descent on the quadratic in Gram form
  (:func:`fastreg._newton.quad_cd_gram`) warm-started at ``x``: proximal
  Newton (Lee, Sun, Saunders 2014).

Rounds (each round is one map over the blocks plus a tree sum; the fixed
cost of a round, not the flops, dominates a fit of moderate size):

* a cold start takes its first step from the build round
  (:func:`fastreg.dask._data.build_engine` returns ``X^T s y`` and the Gram
  ``X^T diag(s) X`` with the block statistics and the labels): at
  ``(w, b) = 0`` these are the gradient and the Hessian of either loss;
* least squares: the Hessian is constant and the datafit quadratic, so the
  value and gradient at ``x + d`` follow exactly from those at ``x``
  (:func:`_quadratic_model`); the duality gap is computed from them when
  their rounding is negligible against the tolerance, else from one gradient
  pass: a cold Lasso / ElasticNet fit is the build round alone;
* logistic: the pass at the trial point ``x + t d`` (``t = 1`` first)
  returns its objective for the Armijo test
  ``P(x + t d) <= P(x) + sigma t Delta`` (``Delta = g^T d + G(x + d) - G(x)``)
  together with its gradient and Hessian, so an accepted step costs one
  round; when the Newton decrement ``-Delta`` is below the tolerance (the gap
  is expected to pass at the trial point) the Hessian is left out, and
  computed by one more round only if the gap fails; backtracking passes skip
  it too. Without intercept each pass also returns the dual pieces (the same
  sums rescaled, plus two entropies: O(n_rows)), so the gap is checked at
  every iterate for free. With an intercept (profiled in the gap: O(n_rows)
  rounds over cached predictions, then one ``X^T u`` pass) the gap is
  computed only when the decrement predicts a suboptimality below the
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


def _sums_at_zero(problem):
    """The raw sums of :func:`block_newton` at ``(w, b) = 0`` from the build round's
    ``engine.first`` (:func:`fastreg.dask._data.build_engine`), or None."""
    first = getattr(problem.engine, "first", None)
    if first is None:
        return None
    xsy, H = first
    S, Sy, m = problem.S, problem.Sy, problem.m
    if problem.loss_code == LEAST_SQUARES:        # d_i = -s_i y_i, h_i = s_i
        return 0.5 * problem.Syy, -Sy, -xsy, S, m, H
    # logistic at z = 0: l_i = s_i log 2, d_i = -s_i y_i / 2, h_i = s_i / 4
    return S * np.log(2.0), -0.5 * Sy, -0.5 * xsy, 0.25 * S, 0.25 * m, 0.25 * H


def _entropy_at_half(C, S, ts):
    """``sum_i c_i H(t p_i)`` at ``p_i = 1/2`` (``z = 0``) for each ``t`` in ``ts``."""
    def entr(a):
        return -a * np.log(a) if a > 0 else 0.0
    return np.array([C * S * (entr(0.5 * t) + entr(1.0 - 0.5 * t)) for t in ts])


def _quadratic_model(sums, d, p, fit_intercept):
    """Least squares: the raw sums ``(L, D, G)`` at ``x + d`` from those at ``x`` and the
    (constant) Hessian, exactly (the datafit is quadratic), plus a bound on their rounding."""
    L, D, G, hsum, Xh, H = sums[:6]
    dw, db = d[:p], (d[p] if fit_intercept else 0.0)
    Hdw = H @ dw + Xh * db
    Hdb = float(Xh @ dw) + hsum * db
    lin, quad = float(G @ dw) + D * db, float(dw @ Hdw) + db * Hdb
    L_t = L + lin + 0.5 * quad
    err = 1e3 * np.finfo(np.float64).eps * (abs(L) + abs(lin) + abs(quad) + abs(L_t))
    return (L_t, D + Hdb, G + Hdw) + tuple(sums[3:6]), err


def newton(problem, coef_init=None, intercept_init=0.0, *, tol=1e-4, max_iter=100,
           sigma=1e-4, verbose=0):
    """Minimize ``problem`` by (proximal) Newton with block Hessians; returns a :class:`Result`.

    Rounds: a cold start (``x = 0``) takes its first step from the build
    round's sums (:func:`_sums_at_zero`); least squares then certifies the
    new point from the exact quadratic model when its rounding is negligible
    against the tolerance (:func:`_quadratic_model`), else by one gradient
    pass; a logistic trial point whose previous Newton decrement is below
    the tolerance (the gap is expected to pass there) is evaluated without
    its Hessian, which is computed by one more round only if the gap fails.
    """
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

    zero = _sums_at_zero(problem) if not np.any(x) else None
    if zero is not None:               # the first round was the build round
        sums, tok = zero, None
        if fused:
            ts = problem.dual_ts()
            L, D, G, hsum = zero[:4]
            C = problem.C
            sums = zero + (((C * L, -C * G, C * D, C * hsum,
                             _entropy_at_half(C, problem.S, ts)), ts),)
        P = problem.scale * sums[0]
    else:
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
        if H is None:                      # evaluated without its Hessian and not converged
            P, sums, tok = evaluate(x, True)
            _, g, H = _assemble(problem, sums)
        cd_tol = 1e-2 * tol_abs / (1.0 + float(np.abs(x[:p]).sum()))   # gap ~ ||w||_1 |grad error|
        d, delta = _subproblem(problem, x, g, H, p, cd_tol)
        if not np.any(d):                  # no step left: certify at x, then stop
            decrement, stalled = 0.0, True
            continue
        near = -delta <= tol_abs           # the gap is expected to pass at x + d
        if ls:
            sums_t, err = _quadratic_model(sums, d, p, fi)
            if problem.scale * err > 0.1 * tol_abs:      # rounding matters: a real pass
                sums_t = evaluate(x + d, False)[1][:3] + tuple(sums[3:6])
            x, P, sums = x + d, problem.scale * sums_t[0] + problem.penalty(x[:p] + d[:p]), sums_t
            g = _assemble(problem, sums)[1]
            decrement = -delta
            continue
        decrement = -delta
        exact = decrement <= 1e-12 * abs(P)     # model exact to rounding: no test
        t = 1.0
        for _ in range(40):
            xt = x + t * d
            Pt, sums_t, tok_t = evaluate(xt, not near and t == 1.0)
            if Pt <= P + sigma * t * delta or exact:
                break
            t *= 0.5
        else:                              # the step is lost in rounding: certify at x, then stop
            decrement, stalled = 0.0, True
            continue
        g_t, H_t = _assemble(problem, sums_t)[1:] if isinstance(sums_t[5], np.ndarray) \
            else (None, None)
        x, P, sums, tok, g, H = xt, Pt, sums_t, tok_t, g_t, H_t
        decrement *= t
    if track.best is None:          # max_iter reached before any gap: the current point
        Pg, Dg, b_star = gap_at(x, sums, tok)
        track.update(it, Pg, Dg, x[:p], b_star)
    w, b = track.best
    return Result(coef=w, intercept=b, gap=float(track.gap), primal=float(track.primal),
                  n_iter=it, converged=converged, solver="newton")
