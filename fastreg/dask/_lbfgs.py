"""L-BFGS for smooth problems (``l1 = 0``) with many features, stopped by the duality gap.

scipy's L-BFGS-B drives the iteration; each function evaluation is one
distributed pass (:meth:`Problem.loss_grad`: value and gradient of the
datafit in the same pass, so a line-search trial costs one round and the
accepted trial's gradient is already there). Only ``n_features + 1``-sized
vectors travel. Every ``check_every`` iterations the callback computes the
duality gap of the current iterate (least squares: from the pass already
made; logistic: a few rounds over cached predictions plus one ``X^T u``
pass) and stops the run when it is ``<= tol * P0``.

References
----------
Byrd, Lu, Nocedal, Zhu (1995), A limited memory algorithm for bound
constrained optimization, SIAM J. Sci. Comput. 16(5).
"""
import numpy as np
import scipy.optimize

from ._block import LEAST_SQUARES
from ._engine import token
from ._fista import Result
from ._problem import GapTracker, start_point


def lbfgs(problem, coef_init=None, intercept_init=0.0, *, tol=1e-4, max_iter=1000,
          check_every=5, memory=20, verbose=0):
    """Minimize a smooth ``problem`` (``l1 = 0``) by L-BFGS; returns a :class:`Result`."""
    if problem.l1 != 0.0:
        raise ValueError("solver='lbfgs' needs a smooth penalty (l1_ratio=0 / penalty='l2')")
    p = problem.m.shape[0]
    fi = problem.fit_intercept
    ls = problem.loss_code == LEAST_SQUARES
    x0 = start_point(problem, coef_init, intercept_init)
    track = GapTracker(problem, tol, "lbfgs", verbose)
    last = {}
    state = dict(n_iter=0, converged=False)

    def split(x):
        return x[:p], (x[p] if fi else 0.0)

    def fun(x):
        w, b = split(x)
        tok = None if ls else token(w, b)
        F, gw, gb, sums = problem.loss_grad(w, b, tok)
        last.update(x=x.copy(), sums=sums, tok=tok)
        grad = gw + problem.l2 * w
        return F + problem.penalty(w), (np.append(grad, gb) if fi else grad)

    def callback(intermediate_result):
        state["n_iter"] += 1
        if state["n_iter"] % check_every == 0:
            certify(intermediate_result.x)

    def certify(x):
        if "x" not in last or not np.array_equal(last["x"], x):
            fun(x)
        w, b = split(x)
        P, D, b_star = problem.gap(w, b, last["sums"], last["tok"])
        if track.update(state["n_iter"], P, D, w, b_star):
            state["converged"] = True
            raise StopIteration

    res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", callback=callback,
                                  options=dict(maxiter=max_iter, maxcor=memory, ftol=0.0,
                                               gtol=0.0, maxls=40))
    if not state["converged"]:                       # certify the last iterate
        try:
            certify(res.x)
        except StopIteration:
            pass
    w, b = track.best
    return Result(coef=w, intercept=b, gap=float(track.gap), primal=float(track.primal),
                  n_iter=state["n_iter"], converged=state["converged"], solver="lbfgs")
