"""The scipy reference: ``fastreg.reference.lasso_lbfgsb`` (L-BFGS-B on w = u - v, u, v >= 0).

Iteration strategy: ``run(n_iter)`` is ``max_iter=n_iter`` with the smallest
positive ``tol`` (L-BFGS-B's projected-gradient test never stops it first),
and no polishing step (``polish=False``: the reference's exact re-solve on
the support is very slow while the L-BFGS-B iterate is still dense, e.g.
minutes on 72 x 2000 after one iteration).
"""
from . import BaseSolver


class Solver(BaseSolver):
    name = "scipy_ref"
    requirements = ("fastreg.reference",)
    stopping_strategy = "iteration"
    warmup_stop = 2

    def _solve(self, X, y, alpha, n_iter):
        from fastreg.reference import lasso_lbfgsb
        coef, _ = lasso_lbfgsb(X, y, alpha, fit_intercept=self.fit_intercept,
                               tol=1e-300, max_iter=int(n_iter), polish=False)
        return coef
