"""fastreg's working-set coordinate descent (``fastreg.Lasso``, ``fastreg.lasso_path``).

``tol`` is fastreg's own stopping criterion: duality gap <= tol * P(0).
"""
import numpy as np

from . import BaseSolver


class Solver(BaseSolver):
    name = "fastreg"
    requirements = ("fastreg",)
    stopping_strategy = "tolerance"
    supports_path = True

    @classmethod
    def missing(cls):
        miss = super().missing()
        if miss:
            return miss
        import fastreg
        if not hasattr(fastreg, "Lasso"):
            return "fastreg.Lasso (not built yet)"
        return None

    def _solve(self, X, y, alpha, tol):
        import fastreg
        est = fastreg.Lasso(alpha=alpha, fit_intercept=self.fit_intercept, tol=tol,
                            max_iter=100_000)
        est.fit(X, y)
        return est.coef_

    def path(self, X, y, alphas, tol):
        import fastreg
        _, coefs, _ = fastreg.lasso_path(X, y, alphas=alphas, tol=tol, max_iter=100_000)
        return coefs
