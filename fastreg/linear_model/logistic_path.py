"""Logistic regularization paths and cross-validation: ``logistic_regression_path``, ``LogisticRegressionCV``.

The path solves :class:`fastreg.LogisticRegression`'s problem for each ``C``
of an increasing grid, each fit warm-started at the previous solution
(smallest ``C`` first: the sparsest, best-conditioned problem first, as
scikit-learn's ``_logistic_regression_path``). ``LogisticRegressionCV``
follows scikit-learn's procedure: one path per (fold, ``l1_ratio``) on the
training part, run in parallel with joblib, each ``C`` scored on the held-out
part, the (C, l1_ratio) with the best mean score chosen, then a refit on all
the data (or, with ``refit=False``, the fold models averaged).
"""
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions

from .._validation import check_X
from ._base import VersionedPickleMixin
from .logistic import LogisticRegression, _encode, _l1_share, _solve

__all__ = ["logistic_regression_path", "LogisticRegressionCV"]


def _c_grid(Cs):
    """scikit-learn's grid: ``logspace(-4, 4, Cs)`` for an int, else the given values sorted."""
    if isinstance(Cs, Integral):
        if Cs < 1:
            raise ValueError(f"Cs must be a positive int or a list of floats, got {Cs}")
        return np.logspace(-4, 4, int(Cs))
    Cs = np.sort(np.asarray(Cs, dtype=np.float64).ravel())
    if Cs.size == 0 or not np.all(Cs > 0):
        raise ValueError("Cs must be positive floats (or a positive int)")
    return Cs


def _path_encoded(X, codes, n_classes, sw, Cs, rho, *, fit_intercept, tol, max_iter,
                  coef_init=None, intercept_init=None, verbose=0):
    """Warm-started fits along increasing ``Cs`` on validated, encoded data.

    Returns
    -------
    coefs : ndarray (n_Cs, n_coef, n_features)
    intercepts : ndarray (n_Cs, n_coef)
    n_iter : ndarray (n_Cs,) of int32
    """
    n_coef = 1 if n_classes == 2 else n_classes
    coefs = np.empty((len(Cs), n_coef, X.shape[1]), dtype=X.dtype)
    intercepts = np.zeros((len(Cs), n_coef), dtype=X.dtype)
    n_iter = np.empty(len(Cs), dtype=np.int32)
    coef, intercept = coef_init, intercept_init
    for i, C in enumerate(Cs):
        res, coef, intercept = _solve(X, codes, n_classes, sw, float(C), rho,
                                      fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                                      coef_init=coef, intercept_init=intercept, verbose=verbose)
        coefs[i], intercepts[i], n_iter[i] = coef, intercept, res.n_iter
    return coefs, intercepts, n_iter


def logistic_regression_path(X, y, Cs=10, *, penalty="auto", l1_ratio=None, fit_intercept=True,
                             tol=1e-4, max_iter=100, class_weight=None, sample_weight=None,
                             coef=None, verbose=0):
    """Penalized logistic regression for a grid of ``C``, warm-started from the smallest ``C``.

    Each fit is :class:`fastreg.LogisticRegression`'s (same objective,
    penalty spellings and stopping rule), started at the previous solution.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Validated once (Fortran dense and CSC used without copy).
    y : array-like of shape (n_samples,)
        At least two labels; three or more: multinomial.
    Cs : int or array-like, default=10
        An int: ``np.logspace(-4, 4, Cs)`` (scikit-learn's grid); values are
        sorted increasingly (the order of the returned ``Cs``).
    penalty, l1_ratio, fit_intercept, tol, max_iter, class_weight :
        As :class:`fastreg.LogisticRegression`.
    sample_weight : array-like of shape (n_samples,), default=None
    coef : ndarray, default=None
        Warm start for the smallest ``C``: shape ``(n_features,)`` or
        ``(n_features + 1,)`` (intercept last) binary,
        ``(n_classes, n_features[ + 1])`` multinomial.
    verbose : int

    Returns
    -------
    coefs : ndarray of shape (n_Cs, n_features + fit_intercept) (binary) or
        (n_Cs, n_classes, n_features + fit_intercept) (multinomial)
        Coefficients with the intercept in the last column when
        ``fit_intercept`` (scikit-learn's ``_logistic_regression_path``
        convention); binary coefficients are those of ``classes_[1]``.
    Cs : ndarray of shape (n_Cs,)
    n_iter : ndarray of shape (n_Cs,)
        Outer iterations of each fit.
    """
    rho = _l1_share(penalty, 1.0, l1_ratio)
    X, classes, codes, sw = _encode(X, y, sample_weight, class_weight)
    Cs = _c_grid(Cs)
    K = classes.size
    n_coef = 1 if K == 2 else K
    p = X.shape[1]
    coef_init = intercept_init = None
    if coef is not None:
        coef = np.asarray(coef, dtype=np.float64).reshape(n_coef, -1)
        if coef.shape[1] not in (p, p + 1):
            raise ValueError(f"coef has {coef.shape[1]} columns, expected {p} or {p + 1}")
        coef_init = coef[:, :p]
        intercept_init = coef[:, p] if coef.shape[1] == p + 1 else None
    coefs, intercepts, n_iter = _path_encoded(
        X, codes, K, sw, Cs, rho, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
        coef_init=coef_init, intercept_init=intercept_init, verbose=verbose)
    if fit_intercept:
        coefs = np.concatenate([coefs, intercepts[:, :, None]], axis=2)
    if K == 2:
        coefs = coefs[:, 0, :]
    return coefs, Cs, n_iter


def _fold_path(X, codes, n_classes, sw, train, test, Cs, rho, scorer, classes, path_params):
    """Path on ``train``, each ``C`` scored on ``test``.

    Returns
    -------
    coefs (n_Cs, n_coef, p), intercepts (n_Cs, n_coef), n_iter (n_Cs,), scores (n_Cs,)
    """
    X_train = check_X(X[train], accept_sparse="csc", order="F")
    coefs, intercepts, n_iter = _path_encoded(X_train, codes[train], n_classes, sw[train], Cs,
                                              rho, **path_params)
    del X_train
    X_test, y_test = X[test], classes[codes[test]]
    model = LogisticRegression()
    model.classes_ = classes
    model.n_features_in_ = X.shape[1]
    scores = np.empty(len(Cs))
    for i in range(len(Cs)):
        model.coef_, model.intercept_ = coefs[i], intercepts[i]
        scores[i] = scorer(model, X_test, y_test)
    return coefs, intercepts, n_iter, scores


class LogisticRegressionCV(VersionedPickleMixin, LinearClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Logistic regression with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    For every fold and ``l1_ratio``, a warm-started :func:`logistic_regression_path`
    over ``Cs_`` on the training part (folds run in parallel with joblib), each
    ``C`` scored on the held-out part; the (C, l1_ratio) with the best mean
    score over the folds is kept, then refitted on all the data
    (scikit-learn's ``LogisticRegressionCV`` procedure; same objective as
    :class:`fastreg.LogisticRegression`, solved by prox-Newton).

    Parameters
    ----------
    Cs : int or array-like, default=10
        An int: ``np.logspace(-4, 4, Cs)``; else the grid (sorted increasingly).
    l1_ratios : array-like of float in [0, 1] or None, default=None
        Grid of L1 shares. None: given by ``penalty`` (``'auto'`` or
        ``'l2'``: ``[0]``, ``'l1'``: ``[1]``; required for ``'elasticnet'``).
    penalty : {'auto', 'l1', 'l2', 'elasticnet'}, default='auto'
        ``'auto'``: the penalty is given by ``l1_ratios`` alone.
    fit_intercept : bool, default=True
    cv : int, cross-validation generator or iterable, default=None
        As scikit-learn (None: 5-fold stratified).
    scoring : str or callable or None, default=None
        A scikit-learn scorer; None: accuracy (``score``).
    tol, max_iter, class_weight, verbose : as :class:`fastreg.LogisticRegression`
    n_jobs : int or None, default=None
        joblib workers over (fold, l1_ratio) pairs.
    refit : bool, default=True
        Refit on all the data at the best (C, l1_ratio); False: ``coef_`` is
        the mean of the fold models at each fold's best C (and ``C_`` the mean
        of those C), as scikit-learn.
    random_state : int, RandomState or None
        Accepted for compatibility (the solver is deterministic; a shuffling
        ``cv`` takes its own random_state).

    Attributes
    ----------
    classes_, coef_, intercept_, n_features_in_, feature_names_in_ :
        As :class:`fastreg.LogisticRegression`.
    Cs_ : ndarray (n_Cs,)
    l1_ratios_ : ndarray (n_l1_ratios,)
    C_ : ndarray (1,) binary or (n_classes,)
        The chosen C, repeated per class.
    l1_ratio_ : ndarray (1,) or (n_classes,)
        The chosen L1 share (a number, also for plain L1 / L2).
    scores_ : dict
        Class label -> scores of shape ``(n_folds, n_Cs)``, or ``(n_folds,
        n_Cs, n_l1_ratios)`` when ``penalty='elasticnet'`` or several
        ``l1_ratios`` are given (same array for every class; binary: key
        ``classes_[1]``).
    coefs_paths_ : dict
        Class label -> coefficients ``(n_folds, n_Cs[, n_l1_ratios], n_features
        + fit_intercept)`` (intercept last).
    n_iter_ : ndarray (1, n_folds, n_Cs[, n_l1_ratios])
        Outer iterations of every fit.
    """

    _parameter_constraints: dict = {
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like", None],
        "penalty": [StrOptions({"auto", "l1", "l2", "elasticnet"})],
        "fit_intercept": ["boolean"],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "refit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, Cs=10, *, l1_ratios=None, penalty="auto", fit_intercept=True, cv=None,
                 scoring=None, tol=1e-4, max_iter=100, class_weight=None, n_jobs=None,
                 verbose=0, refit=True, random_state=None):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.penalty = penalty
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _l1_grid(self):
        if self.l1_ratios is None:
            if self.penalty == "elasticnet":
                raise ValueError("l1_ratios must be given when penalty='elasticnet'")
            return np.array([1.0 if self.penalty == "l1" else 0.0])
        ratios = np.asarray(self.l1_ratios, dtype=np.float64).ravel()
        if ratios.size == 0 or np.any((ratios < 0) | (ratios > 1)) or np.any(np.isnan(ratios)):
            raise ValueError(f"l1_ratios must be values in [0, 1], got {self.l1_ratios!r}")
        if self.penalty in ("l1", "l2"):
            implied = 1.0 if self.penalty == "l1" else 0.0
            if np.any(ratios != implied):
                raise ValueError(f"l1_ratios={self.l1_ratios!r} contradict penalty="
                                 f"{self.penalty!r} (use penalty='elasticnet' or 'auto')")
        return ratios

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Cross-validate the (C, l1_ratio) grid, then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Used in the fits (not in the scores).

        Returns
        -------
        self
        """
        ratios = self._l1_grid()
        Cs = _c_grid(self.Cs)
        X, classes, codes, sw = _encode(X, y, sample_weight, self.class_weight, self)
        K = classes.size
        n_coef = 1 if K == 2 else K
        p = X.shape[1]
        cv = check_cv(self.cv, classes[codes], classifier=True)
        folds = list(cv.split(X, classes[codes]))
        scorer = get_scorer("accuracy" if self.scoring is None else self.scoring)
        params = dict(fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter)
        jobs = [(f, r) for f in range(len(folds)) for r in range(ratios.size)]
        out = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fold_path)(X, codes, K, sw, folds[f][0], folds[f][1], Cs,
                                float(ratios[r]), scorer, classes, params)
            for f, r in jobs)
        n_f, n_c, n_r = len(folds), Cs.size, ratios.size
        coefs = np.empty((n_f, n_c, n_r, n_coef, p + int(self.fit_intercept)), dtype=X.dtype)
        scores = np.empty((n_f, n_c, n_r))
        n_iter = np.empty((n_f, n_c, n_r), dtype=np.int32)
        for (f, r), (cf, ic, it, sc) in zip(jobs, out):
            coefs[f, :, r, :, :p] = cf
            if self.fit_intercept:
                coefs[f, :, r, :, p] = ic
            scores[f, :, r] = sc
            n_iter[f, :, r] = it
        mean = scores.mean(axis=0)                          # (n_Cs, n_l1)
        if self.refit:
            ci, ri = np.unravel_index(int(np.argmax(mean)), mean.shape)
            C_best, r_best = float(Cs[ci]), float(ratios[ri])
            _, coef, intercept = _solve(X, codes, K, sw, C_best, r_best,
                                        fit_intercept=self.fit_intercept, tol=self.tol,
                                        max_iter=self.max_iter, verbose=self.verbose)
        else:
            best = [np.unravel_index(int(np.argmax(scores[f])), mean.shape) for f in range(n_f)]
            C_best = float(np.mean([Cs[ci] for ci, _ in best]))
            r_best = float(np.mean([ratios[ri] for _, ri in best]))
            avg = np.mean([coefs[f, ci, ri] for f, (ci, ri) in enumerate(best)], axis=0)
            coef = avg[:, :p].astype(X.dtype)
            intercept = (avg[:, p] if self.fit_intercept else np.zeros(n_coef)).astype(X.dtype)
        self.classes_ = classes
        self.Cs_ = Cs
        self.l1_ratios_ = ratios
        self.C_ = np.full(n_coef, C_best)
        self.l1_ratio_ = np.full(n_coef, r_best)
        self.coef_ = coef
        self.intercept_ = intercept
        keep_l1 = self.penalty == "elasticnet" or ratios.size > 1
        sq = (lambda a: a) if keep_l1 else (lambda a: a[:, :, 0])
        keys = classes[1:] if K == 2 else classes
        self.scores_ = {k: sq(scores) for k in keys}
        self.coefs_paths_ = {k: sq(coefs[:, :, :, i, :]) for i, k in enumerate(keys)}
        self.n_iter_ = sq(n_iter)[None]
        return self

    def score(self, X, y, sample_weight=None):
        """Score with ``scoring`` (accuracy when None) on ``(X, y)``."""
        scorer = get_scorer("accuracy" if self.scoring is None else self.scoring)
        if sample_weight is None:
            return scorer(self, X, y)
        return scorer(self, X, y, sample_weight=sample_weight)

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: shape (n_samples,) binary, (n_samples, n_classes) else."""
        return LogisticRegression.decision_function(self, X)

    def predict_proba(self, X):
        """Probabilities of ``classes_``, shape (n_samples, n_classes)."""
        return LogisticRegression.predict_proba(self, X)

    def predict_log_proba(self, X):
        """Log-probabilities of ``classes_``."""
        return LogisticRegression.predict_log_proba(self, X)
