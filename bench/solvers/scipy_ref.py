"""scipy reference: L-BFGS-B on the split w = u - v, u, v >= 0.

Minimizes 1/(2n) ||y - X (u - v)||^2 + alpha * sum(u + v) over u, v >= 0,
a smooth bound-constrained problem equal to the Lasso (the textbook
reformulation, e.g. Schmidt, Fung & Rosales 2007). Uses
``fastreg.reference`` when it provides a Lasso solver taking ``max_iter``;
otherwise this file's own scipy call. Iteration strategy: ``run(n_iter)`` is
``maxiter=n_iter`` with ``gtol = ftol = 0``.
"""
import numpy as np
from scipy.optimize import minimize

from . import BaseSolver


def lbfgsb_lasso(X, y, alpha, max_iter):
    n, p = X.shape

    def fun(z):
        w = z[:p] - z[p:]
        r = X @ w - y
        g = X.T @ r / n
        return 0.5 * float(r @ r) / n + alpha * z.sum(), np.concatenate([g + alpha, alpha - g])

    res = minimize(fun, np.zeros(2 * p), jac=True, method="L-BFGS-B",
                   bounds=[(0.0, None)] * (2 * p),
                   options=dict(maxiter=int(max_iter), maxfun=10 * int(max_iter) + 10,
                                gtol=0.0, ftol=0.0))
    return res.x[:p] - res.x[p:]


class Solver(BaseSolver):
    name = "scipy_ref"
    requirements = ("scipy",)
    stopping_strategy = "iteration"
    warmup_stop = 2

    def _solve(self, X, y, alpha, n_iter):
        return lbfgsb_lasso(X, y, alpha, n_iter)
