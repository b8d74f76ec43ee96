"""Cross-validated Lasso and ElasticNet: ``LassoCV``, ``ElasticNetCV``.

scikit-learn's procedure (``sklearn.linear_model.LassoCV``) on fastreg's
solver: one alpha grid per ``l1_ratio`` computed once on the full data
(``alpha_max`` down to ``eps * alpha_max``, geometric), one warm-started
:func:`fastreg.enet_path` per (fold, ``l1_ratio``) on the training part, run
in parallel with joblib, the (sample-weighted) mean squared error of each
path on the held-out part, then a refit on all the data with
:class:`fastreg.ElasticNet` at the chosen ``alpha``.

Two selection rules (``selection_rule``):

- ``'min'``: the alpha (and l1_ratio) with the smallest mean CV error, as scikit-learn;
- ``'1se'``: the one-standard-error rule of glmnet's ``lambda.1se`` (Hastie,
  Tibshirani & Friedman, *The Elements of Statistical Learning*, 2nd ed.,
  sec. 7.10; Friedman, Hastie & Tibshirani 2010, *J. Stat. Softw.* 33(1)):
  within the best ``l1_ratio``, the largest alpha whose mean CV error is at
  most ``min + se_min``, where ``se_min = std(errors over folds, ddof=1) /
  sqrt(n_folds)`` at the minimizing alpha.
"""
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import RegressorMixin, _fit_context
from sklearn.linear_model._base import LinearModel
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import column_or_1d

from .._validation import check_sample_weight, check_X_y
from ._base import ValidatedDecisionMixin, VersionedPickleMixin
from .path import alpha_max, enet_path
from .regression import ElasticNet, Lasso

__all__ = ["LassoCV", "ElasticNetCV"]


def _alpha_grid(X, y, l1_ratio, fit_intercept, sample_weight, penalty_factor, eps, n_alphas):
    """Decreasing geometric grid from ``alpha_max`` to ``eps * alpha_max`` (scikit-learn's)."""
    if l1_ratio <= 0:
        raise ValueError("Automatic alpha grid generation is not supported for l1_ratio=0. "
                         "Please supply a grid by providing your estimator with the "
                         "appropriate `alphas=` argument.")
    amax = alpha_max(X, y, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                     sample_weight=sample_weight, penalty_factor=penalty_factor)
    if amax <= np.finfo(float).resolution:  # y constant (or no penalized feature): as sklearn
        return np.full(n_alphas, np.finfo(float).resolution)
    return np.geomspace(amax, amax * eps, num=n_alphas)


def _fold_mse(X, y, sample_weight, train, test, l1_ratio, alphas, path_params):
    """Mean squared test error of the path fitted on ``train``; shape (n_alphas,).

    With sample weights, the error is the weighted mean over the test samples
    (scikit-learn's ``_path_residuals``).
    """
    X_train, X_test = X[train], X[test]
    if not sp.issparse(X):
        X_train = np.asfortranarray(X_train)
    sw_train = None if sample_weight is None else sample_weight[train]
    _, coefs, _, intercepts = enet_path(
        X_train, y[train], l1_ratio=l1_ratio, alphas=alphas, sample_weight=sw_train,
        return_intercept=True, **path_params)
    del X_train
    pred = np.asarray(X_test @ coefs) + intercepts[np.newaxis, :]
    sq = (pred - y[test][:, np.newaxis]) ** 2
    if sample_weight is None:
        return sq.mean(axis=0)
    return np.average(sq, weights=sample_weight[test], axis=0)


class _EnetCVBase(VersionedPickleMixin, ValidatedDecisionMixin, RegressorMixin, LinearModel):
    """Shared fit of :class:`LassoCV` and :class:`ElasticNetCV` (not public)."""

    _parameter_constraints: dict = {
        "eps": [Interval(Real, 0, None, closed="neither")],
        "n_alphas": [Interval(Integral, 1, None, closed="left"), None],
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "fit_intercept": ["boolean"],
        "precompute": [StrOptions({"auto"}), "array-like", "boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "copy_X": ["boolean"],
        "cv": ["cv_object"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
        "penalty_factor": ["array-like", None],
        "lower_bounds": [Real, "array-like", None],
        "upper_bounds": [Real, "array-like", None],
        "selection_rule": [StrOptions({"min", "1se"})],
    }

    def __init__(self, *, eps=1e-3, n_alphas=None, alphas=100, fit_intercept=True,
                 precompute="auto", max_iter=1000, tol=1e-4, copy_X=True, cv=None,
                 verbose=False, n_jobs=None, positive=False, random_state=None,
                 selection="cyclic", penalty_factor=None, lower_bounds=None,
                 upper_bounds=None, selection_rule="min"):
        self.eps = eps
        self.n_alphas = n_alphas
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.selection_rule = selection_rule

    def _l1_ratios(self):
        return [1.0]

    path = staticmethod(enet_path)

    def _refit_params(self, alpha):
        return dict(alpha=alpha, fit_intercept=self.fit_intercept, positive=self.positive,
                    penalty_factor=self.penalty_factor, lower_bounds=self.lower_bounds,
                    upper_bounds=self.upper_bounds, precompute=self.precompute,
                    **self._solver_params())

    def _final_estimator(self, alpha, l1_ratio):
        return ElasticNet(l1_ratio=l1_ratio, **self._refit_params(alpha))

    def _solver_params(self):
        return dict(max_iter=self.max_iter, tol=self.tol, selection=self.selection,
                    random_state=self.random_state)

    def _grid_size(self):
        if self.n_alphas is not None:
            if not (self.alphas is None or isinstance(self.alphas, Integral)):
                raise ValueError("n_alphas is given: alphas must then be an int or None, "
                                 "not an array of alphas")
            return self.n_alphas
        return 100 if self.alphas is None else self.alphas

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Choose alpha (and l1_ratio) by cross-validation, then refit on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 stays float32. Fortran-ordered dense or CSC input avoids a
            conversion of the full X (each fold's training rows are a copy, as
            in scikit-learn).
        y : array-like of shape (n_samples,)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Used in each fold's fit and for the weighted mean squared error of
            each test fold; the CV error is the unweighted mean over folds of
            those errors (scikit-learn's convention). A scalar is ignored.

        Returns
        -------
        self
        """
        X, y = check_X_y(X, y, estimator=self, accept_sparse="csc", order="F",
                         multi_output=True)
        y = column_or_1d(y, warn=True)  # a column y warns (DataConversionWarning), as sklearn
        n_samples = X.shape[0]
        if sample_weight is not None and not isinstance(sample_weight, Real):
            sample_weight = check_sample_weight(sample_weight, n_samples, X.dtype,
                                                allow_all_zero=True)
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight: all weights are zero "
                                 "(at least one must be positive)")
        else:
            sample_weight = None
        l1_ratios = [float(r) for r in np.atleast_1d(self._l1_ratios())]
        for r in l1_ratios:
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"l1_ratio must be in [0, 1], got {r}")

        grid = self._grid_size()
        if isinstance(grid, Integral):
            alphas = [_alpha_grid(X, y, r, self.fit_intercept, sample_weight,
                                  self.penalty_factor, self.eps, int(grid)) for r in l1_ratios]
        else:
            user = np.asarray(grid, dtype=np.float64).ravel()
            if user.size == 0:
                raise ValueError("alphas must not be empty")
            if not np.all(np.isfinite(user)) or np.any(user < 0):
                raise ValueError("alphas must be finite and non-negative")
            alphas = [np.sort(user)[::-1]] * len(l1_ratios)

        folds = list(check_cv(self.cv).split(X, y))
        path_params = dict(fit_intercept=self.fit_intercept, positive=self.positive,
                           penalty_factor=self.penalty_factor, lower_bounds=self.lower_bounds,
                           upper_bounds=self.upper_bounds, **self._solver_params())
        # a user-given Gram belongs to the full data: each fold builds its own
        path_params["precompute"] = self.precompute if isinstance(self.precompute, (str, bool)) \
            else True
        jobs = (delayed(_fold_mse)(X, y, sample_weight, train, test, r, a, path_params)
                for r, a in zip(l1_ratios, alphas) for train, test in folds)
        mse = Parallel(n_jobs=self.n_jobs, verbose=self.verbose, prefer="threads")(jobs)
        # (n_l1_ratio, n_folds, n_alphas) -> (n_l1_ratio, n_alphas, n_folds)
        mse = np.moveaxis(np.reshape(mse, (len(l1_ratios), len(folds), -1)), 2, 1)
        mean = mse.mean(axis=2)
        if not np.isfinite(mean).any():
            raise ValueError("LassoCV/ElasticNetCV: every cross-validation error is non-finite "
                             "(overflow of the squared errors): rescale y and X")
        mean = np.where(np.isfinite(mean), mean, np.inf)

        best_r = int(np.argmin(mean.min(axis=1)))  # first l1_ratio reaching the overall min
        i_min = int(np.argmin(mean[best_r]))
        path_mean = mean[best_r]
        n_folds = mse.shape[2]
        se = (mse[best_r, i_min].std(ddof=1) / np.sqrt(n_folds)) if n_folds > 1 else 0.0
        # alphas are decreasing: the first index within one SE has the largest alpha
        i_1se = int(np.flatnonzero(path_mean <= path_mean[i_min] + se)[0])

        self.alpha_min_ = float(alphas[best_r][i_min])
        self.alpha_1se_ = float(alphas[best_r][i_1se])
        self.alpha_ = self.alpha_1se_ if self.selection_rule == "1se" else self.alpha_min_
        self.l1_ratio_ = l1_ratios[best_r]
        self.mse_path_ = np.squeeze(mse)
        alphas_arr = np.asarray(alphas)
        if isinstance(grid, Integral) and len(l1_ratios) > 1:
            self.alphas_ = alphas_arr
        else:
            self.alphas_ = alphas_arr[0]

        model = self._final_estimator(self.alpha_, self.l1_ratio_)
        model.fit(X, y, sample_weight=sample_weight)
        self.coef_ = model.coef_
        self.intercept_ = model.intercept_
        self.dual_gap_ = model.dual_gap_
        self.n_iter_ = model.n_iter_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_COMMON_DOC = """
    Parameters
    ----------{l1_ratio}
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the automatic grid.
    n_alphas : int or None, default=None
        Number of alphas of the automatic grid (the alias of older
        scikit-learn versions); when given, ``alphas`` must be an int or None.
    alphas : int or array-like, default=100
        An int: the number of alphas of the automatic grid (geometric from
        ``alpha_max``, computed on the full data, to ``eps * alpha_max``); an
        array: the alphas to try (sorted decreasingly).
    fit_intercept : bool, default=True
    precompute : 'auto', bool or array-like, default='auto'
        Gram-form coordinate descent (see :class:`fastreg.ElasticNet`): each
        fold's path builds its training Gram once for all alphas (``'auto'``:
        by the cost model, counting every alpha). An array (the Gram of the
        full data) is used by the final refit only; the folds then build
        their own (as ``True``).
    max_iter : int, default=1000
        Outer iterations of the solver (see :class:`fastreg.ElasticNet`).
    tol : float, default=1e-4
        Duality gap ``<= tol * P0`` at every alpha (fastreg's meaning, see
        :class:`fastreg.ElasticNet`; scikit-learn's ``tol`` is ``tol / 2``).
    copy_X : bool, default=True
        Accepted for compatibility; X is never modified.
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn (None: 5-fold ``KFold``).
    verbose : bool or int, default=False
        joblib's verbosity over the folds.
    n_jobs : int, default=None
        Folds (times l1_ratios) run in parallel, joblib threads (the solver
        releases the GIL in its epochs).
    positive : bool, default=False
    random_state : int, RandomState or None, default=None
        Seed of ``selection='random'``.
    selection : {{'cyclic', 'random'}}, default='cyclic'
    penalty_factor : array-like of shape (n_features,) or None
        Per-feature multipliers of alpha (0 unpenalized, inf excluded); also
        used for ``alpha_max``.
    lower_bounds, upper_bounds : float or array-like or None
        Box constraints, ``lower <= 0 <= upper``.
    selection_rule : {{'min', '1se'}}, default='min'
        ``'min'``: smallest mean CV error; ``'1se'``: largest alpha within one
        standard error of that minimum (glmnet's ``lambda.1se``).

    Attributes
    ----------
    alpha_ : float
        The chosen alpha (``alpha_min_`` or ``alpha_1se_`` by ``selection_rule``).
    alpha_min_, alpha_1se_ : float
        The alphas chosen by each rule (both always computed).{l1_ratio_attr}
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grid (one row per l1_ratio when several and automatic).
    mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
        Test mean squared error of each fold along the path.
    coef_ : ndarray of shape (n_features,)
        Refit on all the data at the chosen alpha; X's dtype.
    intercept_ : float
    dual_gap_ : float
        Duality gap of the refit.
    n_iter_ : int
        Outer iterations of the refit.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
"""


class LassoCV(_EnetCVBase):
    __doc__ = ("""Lasso with alpha chosen by cross-validation along warm-started paths.

    See :mod:`fastreg.linear_model.cv` for the procedure; scikit-learn's
    ``LassoCV`` parameters plus ``penalty_factor``, ``lower_bounds``,
    ``upper_bounds``, ``n_alphas`` and ``selection_rule``.
""" + _COMMON_DOC.format(l1_ratio="", l1_ratio_attr=""))

    def _final_estimator(self, alpha, l1_ratio):
        return Lasso(**self._refit_params(alpha))

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        del self.l1_ratio_  # as scikit-learn's LassoCV
        return self

    fit.__doc__ = _EnetCVBase.fit.__doc__


class ElasticNetCV(_EnetCVBase):
    __doc__ = ("""ElasticNet with alpha and l1_ratio chosen by cross-validation.

    See :mod:`fastreg.linear_model.cv` for the procedure; scikit-learn's
    ``ElasticNetCV`` parameters plus ``penalty_factor``, ``lower_bounds``,
    ``upper_bounds``, ``n_alphas`` and ``selection_rule``. With several
    ``l1_ratio`` values, the best one is the one with the smallest mean CV
    error; the 1se rule then applies along its path.
""" + _COMMON_DOC.format(
        l1_ratio="""
    l1_ratio : float or list of float, default=0.5
        Mixing parameter(s) in [0, 1]; each gets its own grid and paths.""",
        l1_ratio_attr="""
    l1_ratio_ : float
        The chosen l1_ratio."""))

    _parameter_constraints: dict = {
        **_EnetCVBase._parameter_constraints,
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
    }

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, n_alphas=None, alphas=100,
                 fit_intercept=True, precompute="auto", max_iter=1000, tol=1e-4, cv=None,
                 copy_X=True, verbose=0, n_jobs=None, positive=False, random_state=None,
                 selection="cyclic", penalty_factor=None, lower_bounds=None,
                 upper_bounds=None, selection_rule="min"):
        super().__init__(eps=eps, n_alphas=n_alphas, alphas=alphas,
                         fit_intercept=fit_intercept, precompute=precompute, max_iter=max_iter,
                         tol=tol, copy_X=copy_X, cv=cv, verbose=verbose, n_jobs=n_jobs,
                         positive=positive, random_state=random_state, selection=selection,
                         penalty_factor=penalty_factor, lower_bounds=lower_bounds,
                         upper_bounds=upper_bounds, selection_rule=selection_rule)
        self.l1_ratio = l1_ratio

    def _l1_ratios(self):
        return self.l1_ratio
