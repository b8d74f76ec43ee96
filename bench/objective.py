"""The Lasso objective of the benchmarks and its duality gap (benchopt-style).

Primal (scikit-learn's scaling, no intercept)::

    P(w) = 1/(2 n) ||y - X w||_2^2 + alpha ||w||_1

Dual (Fenchel, e.g. Ndiaye et al. 2017, "Gap safe screening rules for sparsity
enforcing penalties", JMLR 18)::

    D(theta) = 1/(2 n) (||y||^2 - ||y - theta||^2)   s.t.  ||X^T theta||_inf <= n alpha

The dual point is the rescaled residual, ``theta = r / max(1, ||X^T r||_inf / (n alpha))``
with ``r = y - X w``, so that every solver's result is certified by exactly the
same formula. Everything is computed in float64 (the solver's ``w`` is cast),
outside any timed region. ``P(0) = ||y||^2 / (2 n)`` normalizes the gap.
"""
import numpy as np
import scipy.sparse as sp


def alpha_max(X, y):
    """Smallest alpha with w = 0 optimal: ``||X^T y||_inf / n``."""
    return float(np.max(np.abs(X.T @ y))) / X.shape[0]


class Objective:
    """Lasso without intercept: ``set_data`` -> ``get_objective`` -> ``evaluate_result``.

    Parameters
    ----------
    reg : float
        ``alpha = alpha_max / reg`` (e.g. 10, 100, 1000).
    """

    name = "Lasso"

    def __init__(self, reg=10.0):
        self.reg = float(reg)

    def set_data(self, X, y):
        """Store the data (float64; dense Fortran order or CSC) and alpha."""
        if sp.issparse(X):
            X = sp.csc_matrix(X, dtype=np.float64)
            X.sort_indices()
        else:
            X = np.asfortranarray(X, dtype=np.float64)
        self.X = X
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.n_samples = X.shape[0]
        self.alpha_max = alpha_max(X, self.y)
        self.alpha = self.alpha_max / self.reg
        self.p0 = float(self.y @ self.y) / (2 * self.n_samples)

    def get_objective(self):
        """Arguments of the solvers' ``set_objective``."""
        return dict(X=self.X, y=self.y, alpha=self.alpha, fit_intercept=False)

    def evaluate_result(self, beta, alpha=None):
        """Objective, duality gap and gap / P(0) of ``beta`` (float64).

        Returns
        -------
        dict
            ``objective``, ``duality_gap``, ``relative_gap`` (gap / P(0)),
            ``support_size``.
        """
        return lasso_gap(self.X, self.y, beta, self.alpha if alpha is None else alpha)

    def target_gap(self, rel=1e-6):
        """Absolute gap target ``rel * P(0)``."""
        return rel * self.p0


def lasso_gap(X, y, beta, alpha):
    """Primal value, duality gap and relative gap of ``beta`` at ``alpha`` (float64)."""
    n = X.shape[0]
    w = np.asarray(beta, dtype=np.float64).ravel()
    if not np.all(np.isfinite(w)):
        return dict(objective=np.inf, duality_gap=np.inf, relative_gap=np.inf,
                    support_size=int(np.sum(w != 0)))
    r = y - X @ w
    p_obj = 0.5 * float(r @ r) / n + alpha * float(np.abs(w).sum())
    dual_norm = float(np.max(np.abs(X.T @ r))) / (n * alpha)
    theta = r / max(1.0, dual_norm)
    d = y - theta
    d_obj = 0.5 * (float(y @ y) - float(d @ d)) / n
    gap = p_obj - d_obj
    p0 = 0.5 * float(y @ y) / n
    return dict(objective=p_obj, duality_gap=gap, relative_gap=gap / p0,
                support_size=int(np.sum(w != 0)))


def path_gaps(X, y, coefs, alphas):
    """Relative duality gaps along a path; ``coefs`` has shape (n_features, n_alphas)."""
    coefs = np.asarray(coefs)
    return np.array([lasso_gap(X, y, coefs[:, k], a)["relative_gap"]
                     for k, a in enumerate(alphas)])
