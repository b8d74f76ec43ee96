"""Lasso and ElasticNet estimators (scikit-learn's objective, drop-in parameters).

Objective (scikit-learn's, per target)::

    1 / (2 n) * sum_i s_i (y_i - x_i^T w - b)^2
        + alpha * l1_ratio * sum_j pf_j |w_j|
        + alpha * (1 - l1_ratio) / 2 * sum_j pf_j w_j^2,
    subject to lower_j <= w_j <= upper_j,

``s`` the sample weights rescaled to sum to ``n`` (all ones by default),
``pf`` the penalty factors (default 1; not rescaled, see
:mod:`fastreg.linear_model.path`). Solved by the working-set coordinate
descent of :func:`fastreg.solvers.cd.enet_cd`, or, with a Gram matrix
(``precompute``), by the covariance-update coordinate descent of
:func:`fastreg.solvers.cd_gram.enet_cd_gram`; both certified by a duality gap.
"""
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.linear_model._base import LinearModel
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._validation import check_X_y
from ._base import ValidatedDecisionMixin, VersionedPickleMixin
from .path import _weights, enet_path, penalty_arrays, resolve_gram

__all__ = ["ElasticNet", "Lasso"]


class ElasticNet(VersionedPickleMixin, ValidatedDecisionMixin, MultiOutputMixin, RegressorMixin, LinearModel):
    """Linear regression with combined L1 and L2 priors, box constraints and penalty factors.

    Minimizes ``1/(2n) ||y - Xw - b||^2_s + alpha * l1_ratio * sum_j pf_j |w_j|
    + alpha * (1 - l1_ratio) / 2 * sum_j pf_j w_j^2`` subject to
    ``lower_bounds <= w <= upper_bounds`` (``||.||_s``: sample weights rescaled
    to sum to ``n``, as scikit-learn 1.9), by working-set coordinate descent with
    gap-safe screening and Anderson acceleration (see
    :mod:`fastreg.solvers.cd`). Same parameters as scikit-learn's
    ``ElasticNet`` plus the fastreg extras.

    Parameters
    ----------
    alpha : float, default=1.0
    l1_ratio : float in [0, 1], default=0.5
    fit_intercept : bool, default=True
        Unpenalized intercept, by implicit centering (X is never centered,
        copied or densified).
    precompute : 'auto', bool or array-like of shape (n_features, n_features), default='auto'
        Coordinate descent in Gram form (covariance updates, glmnet's
        ``type.gaussian="covariance"``): ``Q = X_c^T H X_c`` is built once
        (``p x p``, float64; sparse X is never densified), then each update
        costs ``O(n_features)``, independent of ``n_samples``; the final gap is
        certified on the true residual (see :mod:`fastreg.solvers.cd_gram`).
        ``'auto'``: chosen by a cost model (Gram build vs CD epochs, ``p <= n``
        and ``p <= 2500``; :func:`fastreg.solvers.cd_gram.gram_auto`); ``True``:
        always; ``False``: never. An array: scikit-learn's user-given Gram
        ``X^T diag(s) X`` of X as passed (``s`` the sample weights rescaled to
        sum to ``n_samples``; ``X^T X`` without weights), checked cheaply
        (shape, symmetry, diagonal, one entry); with ``fit_intercept`` it is
        centered here (scikit-learn recomputes it instead). Also used for
        sparse X (scikit-learn ignores it there).
    max_iter : int, default=1000
        Maximum number of **outer** iterations (working-set updates, each
        followed by a full duality-gap computation); each working-set problem
        runs at most 50000 CD epochs. ``n_iter_`` counts outer iterations.
        On the Gram route: at most ``max_iter`` Gram-form gap computations.
    copy_X : bool, default=True
        Accepted for compatibility; X is never modified.
    tol : float, default=1e-4
        Stop when the duality gap is ``<= tol * P0``, ``P0`` the objective at
        ``w = 0`` with the optimal intercept. scikit-learn stops at
        ``gap <= tol_sk * ||y - mean(y)||^2 / n = 2 * tol_sk * P0``: use
        ``tol = 2 * tol_sk`` for scikit-learn's criterion.
    warm_start : bool, default=False
        Start from the previous ``coef_``.
    positive : bool, default=False
        Force ``coef_ >= 0`` (raises the lower bounds to 0).
    random_state : int, RandomState or None
        Seed of ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        ``'random'``: each epoch visits the working set in a new random order.
    penalty_factor : array-like of shape (n_features,) or None
        Per-feature multipliers of ``alpha`` (glmnet's ``penalty.factor``):
        0 = unpenalized, inf = excluded (coefficient fixed at 0). Used as
        given: not rescaled to sum to ``n_features`` (glmnet does), so that the
        default is exactly scikit-learn's problem.
    lower_bounds, upper_bounds : float or array-like of shape (n_features,) or None
        Box constraints, with ``lower_bounds <= 0 <= upper_bounds``.
    verbose : int, default=0
        Print outer iterations (primal, gap, working-set size).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        X's dtype (float32 stays float32).
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int or list of int
        Outer iterations (on the Gram route: Gram-form gap computations, each
        after at most 32 epochs, plus the direct solver's if it had to finish).
    dual_gap_ : float or ndarray of shape (n_targets,)
        Duality gap at the end (objective units: same scale as the objective
        above), always certified on the true residual.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    sparse_coef_ : sparse matrix (property)
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "precompute": [StrOptions({"auto"}), "boolean", "array-like"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
        "penalty_factor": [Interval(Real, 0, None, closed="left"), "array-like", None],
        "lower_bounds": [Real, "array-like", None],
        "upper_bounds": [Real, "array-like", None],
        "verbose": ["verbose"],
    }

    path = staticmethod(enet_path)

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute="auto",
                 max_iter=1000, copy_X=True, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic", penalty_factor=None,
                 lower_bounds=None, upper_bounds=None, verbose=0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.verbose = verbose

    def _l1_ratio(self):
        return self.l1_ratio

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Fortran-ordered dense and CSC input are used without copy;
            C-ordered dense input is copied once (to Fortran order), CSR/COO
            converted once to CSC; int64, unsorted or duplicate sparse indices
            are fixed in a copy. Other dtypes than float32 become float64.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Rescaled internally to sum to ``n_samples`` (scikit-learn 1.9):
            integer weights are equivalent to repeating rows. A scalar is
            ignored (all samples weigh the same).
        check_input : bool, default=True
            Accepted for compatibility; input is always validated.

        Returns
        -------
        self
        """
        X, y = check_X_y(X, y, estimator=self, accept_sparse="csc", order="F", multi_output=True)
        n, p = X.shape
        dtype = X.dtype
        h = _weights(sample_weight, n, dtype)
        l1, l2, lower, upper = penalty_arrays(p, dtype, self.alpha, self._l1_ratio(),
                                              self.penalty_factor, self.lower_bounds,
                                              self.upper_bounds, self.positive)
        multi = y.ndim == 2
        Y = y if multi else y[:, None]
        n_targets = Y.shape[1]
        coef_init = None
        if self.warm_start and hasattr(self, "coef_"):
            prev = np.asarray(self.coef_).reshape(-1, p) if np.size(self.coef_) % p == 0 \
                and np.size(self.coef_) // p == n_targets else None
            coef_init = prev
        coef = np.zeros((n_targets, p), dtype=dtype)
        intercept = np.zeros(n_targets, dtype=dtype)
        gaps = np.zeros(n_targets)
        iters = []
        solve, extra = resolve_gram(self.precompute, X, h, self.fit_intercept,
                                    n_fits=n_targets)
        for k in range(n_targets):
            res = solve(X, np.ascontiguousarray(Y[:, k]), l1, l2, lower, upper,
                        sample_weight=h, fit_intercept=self.fit_intercept,
                        coef_init=None if coef_init is None else coef_init[k],
                        tol=self.tol, max_iter=self.max_iter, selection=self.selection,
                        random_state=self.random_state, verbose=self.verbose, **extra)
            coef[k] = res.coef
            intercept[k] = res.intercept
            gaps[k] = res.gap
            iters.append(res.n_iter)
        if multi:
            self.coef_, self.intercept_, self.dual_gap_, self.n_iter_ = coef, intercept, gaps, iters
        else:
            self.coef_, self.intercept_ = coef[0], intercept[0]
            self.dual_gap_, self.n_iter_ = float(gaps[0]), iters[0]
        return self

    @property
    def sparse_coef_(self):
        """``coef_`` as a scipy.sparse CSR matrix."""
        check_is_fitted(self)
        return sp.csr_matrix(np.atleast_2d(self.coef_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class Lasso(ElasticNet):
    """Linear regression with an L1 prior: :class:`ElasticNet` with ``l1_ratio=1``.

    Minimizes ``1/(2n) ||y - Xw - b||^2_s + alpha * sum_j pf_j |w_j|`` subject to
    the optional bounds. Parameters and attributes as :class:`ElasticNet`
    (scikit-learn's ``Lasso`` names and defaults, plus ``penalty_factor``,
    ``lower_bounds``, ``upper_bounds`` and ``verbose``).
    """

    _parameter_constraints: dict = {
        k: v for k, v in ElasticNet._parameter_constraints.items() if k != "l1_ratio"}

    path = staticmethod(enet_path)

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute="auto", copy_X=True,
                 max_iter=1000, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic", penalty_factor=None,
                 lower_bounds=None, upper_bounds=None, verbose=0):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
                         precompute=precompute, max_iter=max_iter, copy_X=copy_X, tol=tol,
                         warm_start=warm_start, positive=positive, random_state=random_state,
                         selection=selection, penalty_factor=penalty_factor,
                         lower_bounds=lower_bounds, upper_bounds=upper_bounds, verbose=verbose)
