"""Distributed ``Lasso``, ``ElasticNet`` and binary ``LogisticRegression`` (floor 5).

Same objective, parameters (where meaningful) and fitted attributes as
:class:`fastreg.Lasso`, :class:`fastreg.ElasticNet` and
:class:`fastreg.LogisticRegression` (binary), on data held by Dask workers.
"""
import copy
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..linear_model._base import VersionedPickleMixin
from ..linear_model.logistic import _l1_share
from ._block import LEAST_SQUARES, LOGISTIC
from ._data import build_engine, get_client
from ._problem import Problem
from ._solve import gram_max_features, solve

__all__ = ["ElasticNet", "Lasso", "LogisticRegression"]


def _predict_linear(X, coef, intercept):
    """``X @ coef + intercept`` for numpy/scipy (ndarray) or dask input (dask array)."""
    import dask.array as da
    coef = np.asarray(coef)
    if isinstance(X, da.Array):
        if X.ndim != 2 or X.shape[1] != coef.shape[0]:
            raise ValueError(f"X has shape {X.shape}, expected (n, {coef.shape[0]})")
        X = X.rechunk({1: -1}) if X.numblocks[1] != 1 else X
        return X.map_blocks(lambda b: np.asarray(b @ coef).reshape(-1) + intercept,
                            drop_axis=1, dtype=np.float64)
    out = X @ coef
    return np.asarray(out).reshape(-1) + intercept


class _Base(VersionedPickleMixin, BaseEstimator):
    """Shared by the estimators: clone, copy and pickle handle ``client`` by reference.

    A ``distributed.Client`` cannot be copied: :func:`sklearn.base.clone` and
    :func:`copy.deepcopy` pass the same client object to the copy (clone's
    other parameters are cloned as usual), and a pickle stores
    ``client=None`` (the unpickled estimator uses the current client).
    """

    def __sklearn_clone__(self):
        params = self.get_params(deep=False)
        client = params.pop("client")
        return type(self)(client=client, **{k: clone(v, safe=False) for k, v in params.items()})

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("client") is not None:
            state = dict(state, client=None)
        return state

    def __deepcopy__(self, memo):
        client = self.client
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        new.client = client
        return new

    def _warn(self, res):
        if not res.converged:
            warnings.warn(f"fastreg.dask: did not converge, duality gap {res.gap:.3e} after "
                          f"{res.n_iter} iterations ({res.solver}); increase max_iter",
                          ConvergenceWarning, stacklevel=3)


class ElasticNet(RegressorMixin, _Base):
    """ElasticNet on Dask: ``1/(2S) sum_i s_i (y_i - x_i w - b)^2 + alpha l1_ratio |w|_1
    + alpha (1 - l1_ratio)/2 |w|^2``, unpenalized intercept (scikit-learn's objective).

    ``X`` is a dask array chunked by rows only (chunks dense numpy or
    scipy.sparse), or numpy / scipy input (split into row blocks). The blocks
    are validated and persisted on the workers of ``client`` (default: the
    current ``distributed`` client, else a new local one); only vectors of
    size ``n_features`` travel during the fit.

    Parameters
    ----------
    alpha : float > 0, default=1.0
    l1_ratio : float in [0, 1], default=0.5
    fit_intercept : bool, default=True
    max_iter : int, default=1000
        Maximum number of solver iterations (Newton steps, L-BFGS iterations,
        FISTA passes over the data, or ADMM rounds).
    tol : float, default=1e-4
        Stop when the duality gap is ``<= tol * P0`` (``P0``: objective of the
        intercept-only model), as :class:`fastreg.ElasticNet`.
    warm_start : bool, default=False
    solver : {'auto', 'newton', 'lbfgs', 'fista', 'admm'}, default='auto'
        ``'auto'``: (proximal) Newton with exact block Hessians when
        ``n_features + 1 <= 512``, else L-BFGS without an L1 part and FISTA with
        one (:mod:`fastreg.dask._solve`; measurements in bench/results/dask.md).
        ``'admm'``: consensus ADMM with local solves (slower on every problem
        measured, see :mod:`fastreg.dask._admm`).
    client : distributed.Client or None
        Kept by reference: ``sklearn.base.clone`` and ``copy.deepcopy`` give the
        copy the same client; a pickle stores ``None``.
    verbose : int, default=0

    Attributes
    ----------
    coef_ : ndarray (n_features,), X's dtype
    intercept_ : float
    n_iter_ : int
    dual_gap_ : float
        In objective units.
    solver_ : str
        The solver used.
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "solver": [StrOptions({"auto", "newton", "lbfgs", "fista", "admm"})],
        "client": [None, object],
        "verbose": ["verbose"],
    }

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, max_iter=1000, tol=1e-4,
                 warm_start=False, solver="auto", client=None, verbose=0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.solver = solver
        self.client = client
        self.verbose = verbose

    def _l1_ratio(self):
        return self.l1_ratio

    def fit(self, X, y, sample_weight=None):
        """Fit on row-chunked ``X`` (dask array, numpy or scipy.sparse); ``y``, ``sample_weight``
        numpy or dask arrays with the same row chunks. Weights are not normalized
        (the objective divides by their sum)."""
        self._validate_params()
        client = get_client(self.client)
        warm = self.warm_start and hasattr(self, "coef_")
        engine, p, dtype = build_engine(X, y, sample_weight, client, gram_max_features=0 if warm
                                        else gram_max_features(self.solver, self.fit_intercept))
        try:
            rho = self._l1_ratio()
            problem = Problem(engine, LEAST_SQUARES, self.alpha * rho, self.alpha * (1 - rho),
                              self.fit_intercept)
            init = (self.coef_, self.intercept_) if warm and self.coef_.shape == (p,) \
                else (None, 0.0)
            res = solve(problem, self.solver, init, tol=self.tol, max_iter=self.max_iter,
                        verbose=self.verbose)
        finally:
            engine.close()
        self._warn(res)
        self.coef_ = res.coef.astype(dtype)
        self.intercept_ = float(res.intercept) if self.fit_intercept else 0.0
        self.n_iter_ = res.n_iter
        self.dual_gap_ = res.gap
        self.solver_ = res.solver
        self.n_features_in_ = p
        return self

    def predict(self, X):
        """``X @ coef_ + intercept_`` (a dask array for dask input)."""
        check_is_fitted(self)
        return _predict_linear(X, self.coef_, self.intercept_)


class Lasso(ElasticNet):
    """Lasso on Dask: :class:`ElasticNet` with ``l1_ratio=1`` (same parameters otherwise)."""

    _parameter_constraints: dict = {
        k: v for k, v in ElasticNet._parameter_constraints.items() if k != "l1_ratio"}

    def __init__(self, alpha=1.0, *, fit_intercept=True, max_iter=1000, tol=1e-4,
                 warm_start=False, solver="auto", client=None, verbose=0):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, warm_start=warm_start, solver=solver,
                         client=client, verbose=verbose)

    def _l1_ratio(self):
        return 1.0


class LogisticRegression(ClassifierMixin, _Base):
    """Binary penalized logistic regression on Dask (scikit-learn's objective and ``C``).

    Minimizes ``C sum_i s_i log(1 + exp(-y_i (x_i w + b))) + rho |w|_1
    + (1 - rho)/2 |w|^2`` (intercept unpenalized), as
    :class:`fastreg.LogisticRegression`. Input as :class:`ElasticNet`.

    Parameters
    ----------
    penalty : {'auto', 'l1', 'l2', 'elasticnet'}, default='auto'
        As :class:`fastreg.LogisticRegression` (no unpenalized fit: a penalty
        is needed for the duality gap).
    C : float > 0, default=1.0
    l1_ratio : float in [0, 1] or None, default=None
    fit_intercept : bool, default=True
    tol : float, default=1e-4
        Duality gap ``<= tol * P0`` (``P0``: intercept-only model).
    max_iter : int, default=1000
        Solver iterations (as :class:`ElasticNet`).
    warm_start : bool, default=False
    solver, client, verbose : as :class:`ElasticNet`

    Attributes
    ----------
    classes_ : ndarray (2,)
    coef_ : ndarray (1, n_features), X's dtype
    intercept_ : ndarray (1,)
    n_iter_ : ndarray (1,)
    dual_gap_ : float
    solver_ : str
    n_features_in_ : int
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"auto", "l1", "l2", "elasticnet"})],
        "C": [Interval(Real, 0, None, closed="neither")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "solver": [StrOptions({"auto", "newton", "lbfgs", "fista", "admm"})],
        "client": [None, object],
        "verbose": ["verbose"],
    }

    def __init__(self, penalty="auto", *, C=1.0, l1_ratio=None, fit_intercept=True, tol=1e-4,
                 max_iter=1000, warm_start=False, solver="auto", client=None, verbose=0):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.solver = solver
        self.client = client
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Fit on row-chunked ``X``; ``y`` holds exactly two labels (any type)."""
        self._validate_params()
        if np.isinf(self.C):
            raise ValueError("C must be finite (an unpenalized fit has no duality gap)")
        rho = _l1_share(self.penalty, self.C, self.l1_ratio)
        client = get_client(self.client)
        warm = self.warm_start and hasattr(self, "coef_")
        engine, p, dtype = build_engine(X, y, sample_weight, client, labels=True,
                                        gram_max_features=0 if warm else
                                        gram_max_features(self.solver, self.fit_intercept))
        classes = engine.classes
        try:
            if classes.size != 2:
                raise ValueError(f"fastreg.dask.LogisticRegression is binary: y has "
                                 f"{classes.size} classes")
            problem = Problem(engine, LOGISTIC, rho, 1.0 - rho, self.fit_intercept, C=self.C)
            ok = warm and self.coef_.shape == (1, p)
            init = (self.coef_[0], float(self.intercept_[0])) if ok else (None, 0.0)
            res = solve(problem, self.solver, init, tol=self.tol, max_iter=self.max_iter,
                        verbose=self.verbose)
        finally:
            engine.close()
        self._warn(res)
        self.classes_ = classes
        self.coef_ = res.coef.astype(dtype).reshape(1, p)
        self.intercept_ = np.array([res.intercept if self.fit_intercept else 0.0], dtype=dtype)
        self.n_iter_ = np.array([res.n_iter], dtype=np.int32)
        self.dual_gap_ = res.gap
        self.solver_ = res.solver
        self.n_features_in_ = p
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        return _predict_linear(X, self.coef_[0], float(self.intercept_[0]))

    def predict_proba(self, X):
        d = self.decision_function(X)
        p1 = 0.5 * (1.0 + np.tanh(0.5 * d))
        import dask.array as da
        stack = da.stack if isinstance(p1, da.Array) else np.stack
        return stack([1.0 - p1, p1], axis=1)

    def predict(self, X):
        d = self.decision_function(X)
        return (d > 0).astype(np.int64).map_blocks(lambda k: self.classes_[k],
                                                   dtype=self.classes_.dtype) \
            if hasattr(d, "map_blocks") else self.classes_[(d > 0).astype(np.int64)]
