"""scikit-learn's coordinate descent (``Lasso``, ``lasso_path``).

Single solves use the iteration strategy (``tol=0``, ``max_iter=n_iter``
epochs), as sklearn's own stopping rule mixes a coefficient-change test with a
gap test. Paths use ``tol`` (sklearn's gap test is gap <= tol * ||y||^2 / n in
its scaling, checked when the coefficient change is small).
"""
import warnings

import numpy as np

from . import BaseSolver


class Solver(BaseSolver):
    name = "sklearn"
    requirements = ("sklearn",)
    stopping_strategy = "iteration"
    supports_path = True
    warmup_stop = 5

    def _solve(self, X, y, alpha, n_iter):
        from sklearn.linear_model import Lasso
        est = Lasso(alpha=alpha, fit_intercept=self.fit_intercept, tol=0.0,
                    max_iter=int(n_iter), selection="cyclic")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        return est.coef_

    def path(self, X, y, alphas, tol):
        from sklearn.linear_model import lasso_path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, coefs, _ = lasso_path(X, y, alphas=alphas, tol=tol, max_iter=100_000)
        return coefs
