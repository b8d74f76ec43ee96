"""Penalized logistic regression (scikit-learn's objective and parameters).

Objective (scikit-learn 1.9's ``LogisticRegression``, binary)::

    C * sum_i s_i log(1 + exp(-y_i (x_i^T w + b))) + rho ||w||_1 + (1 - rho) / 2 ||w||^2

with ``y_i = +1`` for ``classes_[1]`` and ``-1`` for ``classes_[0]``, ``s`` the
sample weights (times the class weights; not normalized) and ``rho`` the L1
share of the penalty. The intercept is not penalized. Solved by working-set
proximal Newton (:func:`fastreg.solvers.prox_newton.logistic_prox_newton`),
certified by a duality gap. With three or more classes: the multinomial loss
``C * sum_i s_i (logsumexp_k z_ik - z_{i, y_i})``, ``Z = X W^T + b``, penalty
over all entries of ``W`` (:func:`fastreg.solvers.prox_newton.multinomial_prox_newton`).
"""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._validation import check_sample_weight, check_X, check_X_y
from ._base import VersionedPickleMixin
from ..solvers.prox_newton import logistic_prox_newton
from ..solvers.newton_cg_multinomial import multinomial_newton_cg
from ..solvers.prox_newton_multinomial import _log_softmax, multinomial_prox_newton

__all__ = ["LogisticRegression"]


def _l1_share(penalty, C, l1_ratio):
    """The L1 share ``rho`` of the penalty, or None for no penalty.

    ``penalty='auto'`` follows scikit-learn >= 1.8 (``l1_ratio`` alone decides:
    None or 0 is L2, 1 is L1, in between elastic net; ``C=inf`` is no
    penalty); explicit penalties follow scikit-learn < 1.8.
    """
    if penalty is None or np.isinf(C):
        return None
    if penalty == "auto":
        return 0.0 if l1_ratio is None else float(l1_ratio)
    if penalty == "elasticnet":
        if l1_ratio is None:
            raise ValueError("l1_ratio must be specified when penalty is 'elasticnet'")
        return float(l1_ratio)
    implied = 1.0 if penalty == "l1" else 0.0
    if l1_ratio is not None and float(l1_ratio) != implied:
        warnings.warn(f"l1_ratio={l1_ratio} is ignored with penalty={penalty!r} (use "
                      f"penalty='elasticnet', or penalty='auto' and l1_ratio only)", UserWarning)
    return implied


def _encode(X, y, sample_weight, class_weight, estimator=None):
    """Validate ``X, y``, encode the labels and fold class weights into the sample weights.

    Returns
    -------
    X : Fortran float32/float64 array or CSC (int32 indices)
    classes : ndarray, sorted distinct labels (at least two)
    codes : ndarray of intp, index of each label in ``classes``
    sw : ndarray of float64, sample weights times class weights
    """
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
    X, y = check_X_y(X, y, estimator=estimator, accept_sparse="csc", order="F", y_numeric=False)
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError(f"This solver needs samples of at least 2 classes in the data, but "
                         f"the data contains only one class: {classes[0]!r}")
    n = X.shape[0]
    if sample_weight is not None and not np.isscalar(sample_weight):
        sample_weight = np.asarray(sample_weight)
    if sample_weight is not None and not np.isscalar(sample_weight) and \
            sample_weight.size == n and not np.any(sample_weight != 0):
        raise ValueError("Sample weights are all zero: at least one must be positive")
    sw = check_sample_weight(sample_weight, n, np.float64)
    codes = np.searchsorted(classes, y)
    if class_weight is not None:
        cw = compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sample_weight)
        sw = sw * cw[codes]
    _check_no_overflow(X)
    return X, classes, codes, sw


def _check_no_overflow(X):
    """Raise ``ValueError`` when squared column norms of X overflow X's dtype.

    The Newton curvatures are sums of ``x_ij^2`` in X's precision: past this
    bound they are infinite and no finite answer can be certified.
    """
    data = X.data if sp.issparse(X) else X
    if data.size == 0:
        return
    big = max(float(data.max()), -float(data.min()))
    if big * big * X.shape[0] > float(np.finfo(X.dtype).max):
        raise ValueError(f"X has values too large for {X.dtype} (max |x| = {big:.3g}): its "
                         "squared column norms overflow (overflow); rescale X"
                         + (" or pass float64 data" if X.dtype == np.float32 else ""))


def _solve(X, codes, n_classes, sw, C, rho, *, fit_intercept, tol, max_iter, coef_init=None,
           intercept_init=None, verbose=0, warn=True):
    """One fit on validated data (see :func:`_encode`): binary or multinomial solver.

    Returns
    -------
    res : :class:`fastreg.solvers.prox_newton.LogisticResult`
    coef : ndarray (1, p) binary or (n_classes, p), X's dtype
    intercept : ndarray (1,) or (n_classes,), X's dtype (zeros without intercept)
    """
    dtype = X.dtype
    p = X.shape[1]
    c = (sw if rho is None else C * sw).astype(dtype)
    n_coef = 1 if n_classes == 2 else n_classes
    kwargs = dict(fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, verbose=verbose,
                  warn=warn)
    if n_classes == 2:
        is_pos = codes == 1
        if not (c[is_pos].sum() > 0 and c[~is_pos].sum() > 0):
            raise ValueError("both classes need a positive total sample weight")
        ypm = np.where(is_pos, 1.0, -1.0).astype(dtype)
        res = logistic_prox_newton(
            X, ypm, c, rho,
            coef_init=None if coef_init is None else np.asarray(coef_init).reshape(p),
            intercept_init=0.0 if intercept_init is None else float(np.ravel(intercept_init)[0]),
            **kwargs)
    else:   # smooth (L2 or no penalty): Newton-CG; with an L1 part: working-set prox-Newton
        solver = multinomial_newton_cg if rho is None or rho == 0.0 else multinomial_prox_newton
        res = solver(X, codes, n_classes, c, rho, coef_init=coef_init,
                     intercept_init=intercept_init, **kwargs)
    coef = np.asarray(res.coef, dtype=dtype).reshape(n_coef, p)
    intercept = np.asarray(res.intercept, dtype=dtype).reshape(n_coef)
    return res, coef, intercept


class LogisticRegression(VersionedPickleMixin, LinearClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Logistic regression with L1, L2 or elastic-net penalty, by prox-Newton.

    Minimizes ``C * sum_i s_i log(1 + exp(-y_i (x_i^T w + b))) + rho ||w||_1
    + (1 - rho) / 2 ||w||^2`` (scikit-learn's objective: coefficients agree
    with scikit-learn's at convergence) by proximal Newton steps on working
    sets, whose weighted least-squares subproblems are solved by fastreg's
    coordinate-descent kernels (see :mod:`fastreg.solvers.prox_newton`).
    With ``K >= 3`` classes the loss is the multinomial (softmax) one, as
    scikit-learn >= 1.5 uses by default, with the penalty summed over all
    entries of ``coef_`` (shape ``(K, n_features)``); it is solved by
    proximal Newton on the full softmax Hessian (all classes coupled; working
    sets of features) and stopped by the optimality violation
    (:func:`fastreg.solvers.prox_newton.multinomial_prox_newton`); L2 or no
    penalty by truncated Newton-CG with the same stopping rule
    (:func:`fastreg.solvers.newton_cg_multinomial.multinomial_newton_cg`).

    Parameters
    ----------
    penalty : {'auto', 'l1', 'l2', 'elasticnet'} or None, default='auto'
        ``'auto'``: scikit-learn >= 1.8 style, the penalty is given by
        ``l1_ratio`` (None or 0: L2, 1: L1, in between: elastic net) and
        ``C=np.inf`` means no penalty. ``'l1'``, ``'l2'``, ``'elasticnet'``,
        None: scikit-learn < 1.8 style (``l1_ratio`` is used by
        ``'elasticnet'`` only; None ignores ``C``).
    C : float, default=1.0
        Inverse regularization strength (> 0; ``np.inf``: no penalty).
    l1_ratio : float in [0, 1] or None, default=None
        L1 share ``rho`` of the penalty.
    fit_intercept : bool, default=True
        Unpenalized intercept (X is never centered, copied or densified).
    tol : float, default=1e-4
        Binary: stop when the duality gap is ``<= tol * P0``, ``P0`` the
        objective of the intercept-only model (relative suboptimality
        certificate). Without penalty: when the gradient's sup-norm is
        ``<= tol`` times its value at ``w = 0``. Multinomial: when the
        optimality violation (sup-norm distance of the negative gradient to
        the penalty's subdifferential) is ``<= tol`` times the loss
        gradient's sup-norm at the null model.
        (scikit-learn's ``tol`` has a different, solver-dependent
        meaning.)
    max_iter : int, default=100
        Maximum number of outer iterations (working-set updates, each
        followed by a full duality-gap computation); multinomial with L2 or
        no penalty: Newton iterations.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_``.
    class_weight : dict, 'balanced' or None, default=None
        Multiplies the sample weights of each class, as scikit-learn.
    random_state : int, RandomState or None
        Accepted for compatibility; the solver is deterministic.
    verbose : int, default=0
        Print outer iterations (primal, gap, support size).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) (binary) or (n_classes, n_features)
        X's dtype (float32 stays float32).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Multinomial intercepts are centered (sum 0; the softmax is invariant
        to a common shift).
    n_iter_ : ndarray of shape (1,)
        Outer iterations (multinomial with L2 or no penalty: Newton iterations).
    dual_gap_ : float
        Binary with a penalty: duality gap at the end, in objective units
        (NaN otherwise).
    optimality_violation_ : float
        Without penalty or multinomial: optimality violation at the end (NaN
        for penalized binary problems, certified by ``dual_gap_``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"auto", "l1", "l2", "elasticnet"}), None],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, penalty="auto", *, C=1.0, l1_ratio=None, fit_intercept=True, tol=1e-4,
                 max_iter=100, warm_start=False, class_weight=None, random_state=None,
                 verbose=0):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Fortran-ordered dense and CSC input are used without copy;
            C-ordered dense input is copied once (to Fortran order), CSR/COO
            converted once to CSC. Other dtypes than float32 become float64.
        y : array-like of shape (n_samples,)
            At least two distinct labels (any type).
        sample_weight : array-like of shape (n_samples,), default=None
            Multiplies each sample's loss (not normalized, as scikit-learn:
            integer weights are equivalent to repeating rows).

        Returns
        -------
        self
        """
        rho = _l1_share(self.penalty, self.C, self.l1_ratio)
        X, classes, codes, sw = _encode(X, y, sample_weight, self.class_weight, self)
        n_coef = 1 if classes.size == 2 else classes.size
        coef_init = intercept_init = None
        if self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (n_coef, X.shape[1]) \
                and np.array_equal(getattr(self, "classes_", None), classes):
            coef_init, intercept_init = self.coef_, self.intercept_
        res, coef, intercept = _solve(X, codes, classes.size, sw, self.C, rho,
                                      fit_intercept=self.fit_intercept, tol=self.tol,
                                      max_iter=self.max_iter, coef_init=coef_init,
                                      intercept_init=intercept_init, verbose=self.verbose)
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = np.array([res.n_iter], dtype=np.int32)
        self.dual_gap_ = res.gap
        self.optimality_violation_ = res.violation
        return self

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: shape (n_samples,) binary, (n_samples, n_classes) else.

        ``X`` is validated like in ``fit`` (sparse structure checked before use).
        """
        check_is_fitted(self)
        X = check_X(X, estimator=self, reset=False, accept_sparse=("csr", "csc"), order=None)
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        scores = np.asarray(scores)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Probabilities of ``classes_``, shape (n_samples, n_classes) (no overflow)."""
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X):
        """Log-probabilities of ``classes_``: ``-log(1 + exp(-+d))`` (binary) or log-softmax."""
        check_is_fitted(self)
        d = np.asarray(self.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, d), -np.logaddexp(0.0, -d)])
        return _log_softmax(d)
