"""celer (Massias et al. 2018, 2020): working sets + dual extrapolation.

``tol``: celer stops when its duality gap (with its extrapolated dual point)
is <= tol * ||y||^2 / n = 2 tol P(0).
"""
import warnings

import numpy as np

from . import BaseSolver


class Solver(BaseSolver):
    name = "celer"
    requirements = ("celer",)
    stopping_strategy = "tolerance"
    supports_path = True

    def _solve(self, X, y, alpha, tol):
        from celer import Lasso
        est = Lasso(alpha=alpha, fit_intercept=self.fit_intercept, tol=tol,
                    max_iter=10_000, max_epochs=1_000_000, prune=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        return est.coef_

    def path(self, X, y, alphas, tol):
        from celer import celer_path
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, coefs, _ = celer_path(X, y, "lasso", alphas=alphas, tol=tol, prune=True,
                                     max_iter=10_000, max_epochs=1_000_000)
        return coefs
