"""skglm (Bertrand et al. 2022): working sets + Anderson-accelerated CD (numba).

``tol``: skglm stops when the largest subdifferential distance (KKT
violation) is <= tol. Its numba code is compiled during the warm-up.
"""
import warnings

from . import BaseSolver


class Solver(BaseSolver):
    name = "skglm"
    requirements = ("skglm",)
    stopping_strategy = "tolerance"
    supports_path = True

    def _estimator(self, alpha, tol):
        from skglm import Lasso
        return Lasso(alpha=alpha, fit_intercept=self.fit_intercept, tol=tol,
                     max_iter=10_000, max_epochs=1_000_000)

    def _solve(self, X, y, alpha, tol):
        est = self._estimator(alpha, tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        return est.coef_

    def path(self, X, y, alphas, tol):
        est = self._estimator(alphas[0], tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = est.path(X, y, alphas)
        return out[1]
