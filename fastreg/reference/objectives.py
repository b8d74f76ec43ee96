"""Reference objectives and duality gaps (plain numpy/scipy, float64 throughout).

Everything here follows scikit-learn's scaling so that a value computed here can
be compared with a scikit-learn fit, and is written from the textbook formulas:
clarity first, no shortcuts. ``X`` may be a dense array or any scipy.sparse
matrix; float32 input is accepted and converted to float64 (a copy).

Least squares (``Lasso`` / ``ElasticNet`` in scikit-learn)::

    P(w, b) = 1 / (2 S) * sum_i sw_i (y_i - x_i w - b)^2
              + alpha * l1_ratio * sum_j pf_j |w_j|
              + alpha * (1 - l1_ratio) / 2 * sum_j pf_j w_j^2,
    subject to lower_j <= w_j <= upper_j,

with ``S = sum_i sw_i`` (``S = n_samples`` and ``sw = 1`` without weights). This
is exactly scikit-learn's objective: ``ElasticNet.fit`` rescales ``sw`` to sum
to ``n_samples`` and then minimizes ``1/(2 n) sum_i sw_i r_i^2 + penalty``, which
is the same thing (the weighted mean is invariant to rescaling ``sw``).

Logistic regression (``LogisticRegression`` in scikit-learn 1.9)::

    P(w, b) = C * sum_i sw_i * loss_i + r(w)

where, for two classes, ``loss_i = log(1 + exp(-y_i (x_i w + b)))`` with
``y_i = +1`` for ``classes[1]`` (the larger label, as in scikit-learn) and
``-1`` for ``classes[0]``; for ``K >= 3`` classes (multinomial, softmax),
``loss_i = logsumexp_k(x_i W_k + b_k) - (x_i W_{y_i} + b_{y_i})`` with ``W`` of
shape ``(K, n_features)``. The penalty (never on the intercept) is
``r(w) = l1_ratio * sum|w| + (1 - l1_ratio) / 2 * sum w^2`` summed over all
entries of ``W``: ``'l1'`` is ``l1_ratio = 1``, ``'l2'`` is ``l1_ratio = 0``,
``None`` (or ``C = inf``) is no penalty. The sample weights are NOT
normalized: doubling ``sw`` is the same as doubling ``C``. (scikit-learn
1.9's lbfgs path minimizes ``mean_sw(loss) + r(w) / (C * S)``, which is this
objective divided by ``C * S``, see ``_logistic_regression_path``.)
"""
import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq, lsq_linear
from scipy.special import entr, expit, logsumexp

from .._validation import check_X, check_X_y, check_sample_weight, check_scalar

__all__ = [
    "enet_objective",
    "lasso_objective",
    "enet_duality_gap",
    "lasso_duality_gap",
    "enet_conjugate",
    "logistic_loss",
    "logistic_objective",
    "logistic_duality_gap",
]


# ---------------------------------------------------------------------------
# input preparation (float64 everywhere)
# ---------------------------------------------------------------------------
def _prepare_X(X):
    """float64 dense array or float64 CSC matrix (a copy when the dtype differs)."""
    return check_X(X, accept_sparse=("csc", "csr"), order=None, dtype=(np.float64,))


def _prepare_regression(X, y, sample_weight):
    X, y = check_X_y(X, y, accept_sparse=("csc", "csr"), order=None, dtype=(np.float64,))
    sw = check_sample_weight(sample_weight, X.shape[0], np.float64)
    return X, np.asarray(y, dtype=np.float64), sw


def _column_block(X, columns):
    """Dense float64 copy of the columns ``columns`` of ``X`` (dense or sparse)."""
    if sp.issparse(X):
        return np.asarray(sp.csc_matrix(X)[:, columns].toarray(), dtype=np.float64)
    return np.asarray(X[:, columns], dtype=np.float64)


def _vector(value, n, name, fill):
    """A float64 vector of length ``n`` from ``None`` (-> ``fill``), a scalar or an array."""
    if value is None:
        return np.full(n, fill, dtype=np.float64)
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        return np.full(n, float(v))
    if v.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {v.shape}")
    return v.copy()


def _prepare_penalty(n_features, alpha, l1_ratio, penalty_factor, positive,
                     lower_bounds, upper_bounds):
    """Per-feature L1 and L2 weights, exclusion mask and bounds.

    Returns ``l1, l2, excluded, lower, upper`` with ``l1 = alpha * l1_ratio * pf``
    and ``l2 = alpha * (1 - l1_ratio) * pf`` (0 for excluded features, which have
    ``pf = inf`` and must stay at 0).
    """
    alpha = check_scalar(alpha, "alpha", low=0.0)
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)
    pf = _vector(penalty_factor, n_features, "penalty_factor", 1.0)
    if np.any(np.isnan(pf)) or np.any(pf < 0):
        raise ValueError("penalty_factor must be non-negative (inf excludes a feature)")
    lower = _vector(lower_bounds, n_features, "lower_bounds", -np.inf)
    upper = _vector(upper_bounds, n_features, "upper_bounds", np.inf)
    if positive:
        lower = np.maximum(lower, 0.0)
    if np.any(np.isnan(lower)) or np.any(np.isnan(upper)):
        raise ValueError("lower_bounds and upper_bounds must not contain NaN")
    if np.any(lower > 0) or np.any(upper < 0):
        raise ValueError("bounds must satisfy lower_bounds <= 0 <= upper_bounds (as glmnet)")
    excluded = np.isinf(pf)
    finite_pf = np.where(excluded, 0.0, pf)
    l1 = alpha * l1_ratio * finite_pf
    l2 = alpha * (1.0 - l1_ratio) * finite_pf
    return l1, l2, excluded, lower, upper


def _prepare_coef(w, n_features, name="w"):
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 2 and w.shape[0] == 1:
        w = w[0]
    if w.shape != (n_features,):
        raise ValueError(f"{name} must have shape ({n_features},), got {w.shape}")
    return w


# ---------------------------------------------------------------------------
# least squares: Lasso / ElasticNet
# ---------------------------------------------------------------------------
def _enet_penalty_value(w, l1, l2, excluded, lower, upper):
    """sum_j l1_j |w_j| + l2_j / 2 w_j^2, +inf outside the bounds or for excluded w_j != 0."""
    if np.any(w < lower) or np.any(w > upper) or np.any(w[excluded] != 0.0):
        return np.inf
    return float(np.sum(l1 * np.abs(w)) + 0.5 * np.sum(l2 * w ** 2))


def _enet_primal(X, y, w, b, sw, l1, l2, excluded, lower, upper):
    r = y - X @ w - b
    datafit = 0.5 * float(np.dot(sw, r ** 2)) / float(np.sum(sw))
    return datafit + _enet_penalty_value(w, l1, l2, excluded, lower, upper)


def enet_objective(X, y, w, intercept=0.0, *, alpha, l1_ratio=1.0, sample_weight=None,
                   penalty_factor=None, positive=False, lower_bounds=None,
                   upper_bounds=None):
    """ElasticNet primal objective in scikit-learn's scaling.

    .. math::

        P(w, b) = \\frac{1}{2 S} \\sum_i s_i (y_i - x_i^\\top w - b)^2
        + \\alpha \\rho \\sum_j p_j |w_j|
        + \\frac{\\alpha (1 - \\rho)}{2} \\sum_j p_j w_j^2,
        \\qquad S = \\sum_i s_i,

    with ``rho = l1_ratio``, ``s = sample_weight`` (ones by default, then
    ``S = n_samples``) and ``p = penalty_factor`` (ones by default; ``p_j = inf``
    excludes feature ``j``: the objective is ``inf`` unless ``w_j = 0``). The
    value is ``inf`` when ``w`` violates the bounds (``positive=True`` means
    ``lower_bounds = 0``). With ``sample_weight`` this equals scikit-learn's
    ``ElasticNet`` objective, which rescales the weights to sum to
    ``n_samples``: the weighted mean squared error does not depend on that
    rescaling.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    w : ndarray of shape (n_features,)
    intercept : float or None
        ``b``; ``None`` means 0.
    alpha, l1_ratio : float
    sample_weight : ndarray of shape (n_samples,), optional
    penalty_factor : ndarray of shape (n_features,), optional
    positive : bool
    lower_bounds, upper_bounds : float or ndarray of shape (n_features,), optional
        Must satisfy ``lower <= 0 <= upper``.

    Returns
    -------
    float
    """
    X, y, sw = _prepare_regression(X, y, sample_weight)
    w = _prepare_coef(w, X.shape[1])
    b = 0.0 if intercept is None else float(intercept)
    pen = _prepare_penalty(X.shape[1], alpha, l1_ratio, penalty_factor, positive,
                           lower_bounds, upper_bounds)
    return _enet_primal(X, y, w, b, sw, *pen)


def lasso_objective(X, y, w, intercept=0.0, *, alpha, sample_weight=None,
                    penalty_factor=None, positive=False, lower_bounds=None,
                    upper_bounds=None):
    """Lasso objective ``1/(2S) sum_i s_i (y_i - x_i w - b)^2 + alpha sum_j p_j |w_j|``.

    :func:`enet_objective` with ``l1_ratio=1``.
    """
    return enet_objective(X, y, w, intercept, alpha=alpha, l1_ratio=1.0,
                          sample_weight=sample_weight, penalty_factor=penalty_factor,
                          positive=positive, lower_bounds=lower_bounds,
                          upper_bounds=upper_bounds)


def enet_conjugate(v, l1, l2, lower, upper):
    """Fenchel conjugate of the separable penalty, coordinate by coordinate.

    For one coordinate, ``g(w) = l1 |w| + l2 / 2 w^2 + indicator(lower <= w <= upper)``
    and

    .. math:: g^*(v) = \\sup_{lower \\le w \\le upper} v w - l1 |w| - \\frac{l2}{2} w^2.

    The function maximized is concave, so the supremum is attained at the
    projection onto ``[lower, upper]`` of its unconstrained maximizer
    ``m = soft_threshold(v, l1) / l2`` (for ``l2 > 0``; for ``l2 = 0``,
    ``m = 0`` when ``|v| <= l1`` and ``m = sign(v) * inf`` otherwise). When the
    projected maximizer is infinite the conjugate is ``+inf`` (``v`` is outside
    the domain: ``|v| > l1`` with an infinite bound on that side).

    Parameters
    ----------
    v, l1, l2, lower, upper : ndarrays of the same shape (broadcastable)

    Returns
    -------
    ndarray of float64 (``inf`` where ``v`` is outside the domain)
    """
    v, l1, l2, lower, upper = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                                    for a in (v, l1, l2, lower, upper)))
    shrunk = np.sign(v) * np.maximum(np.abs(v) - l1, 0.0)
    m = np.zeros_like(v)
    quad = l2 > 0
    m[quad] = shrunk[quad] / l2[quad]
    lin = ~quad & (np.abs(v) > l1)
    m[lin] = np.sign(v[lin]) * np.inf
    w = np.clip(m, lower, upper)
    out = np.full_like(v, np.inf)
    ok = np.isfinite(w)
    wk = w[ok]
    out[ok] = v[ok] * wk - l1[ok] * np.abs(wk) - 0.5 * l2[ok] * wk ** 2
    return out


def _profile_unpenalized(X, r0, sw, columns, lower, upper, fit_intercept):
    """Weighted least squares on the unpenalized columns (and the intercept).

    Returns ``(beta, b)`` minimizing ``sum_i sw_i (r0_i - X_U beta - b)^2`` with
    ``lower_U <= beta <= upper_U`` (bounded-variable least squares when some
    bound is finite, plain least squares otherwise).
    """
    S = float(np.sum(sw))
    if columns.size == 0:
        b = float(np.dot(sw, r0)) / S if fit_intercept else 0.0
        return np.zeros(0), b
    A = _column_block(X, columns)
    if fit_intercept:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
    root = np.sqrt(sw)
    A = A * root[:, None]
    rhs = r0 * root
    lo, hi = lower[columns], upper[columns]
    if fit_intercept:
        lo, hi = np.append(lo, -np.inf), np.append(hi, np.inf)
    if np.all(np.isinf(lo)) and np.all(np.isinf(hi)):
        sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
    else:
        sol = lsq_linear(A, rhs, bounds=(lo, hi), method="bvls", tol=1e-15).x
    if fit_intercept:
        return sol[:-1], float(sol[-1])
    return sol, 0.0


def enet_duality_gap(X, y, w, intercept=None, *, alpha, l1_ratio=1.0, sample_weight=None,
                     penalty_factor=None, positive=False, lower_bounds=None,
                     upper_bounds=None):
    """Duality gap of the (weighted, bounded, penalty-factor) ElasticNet at ``(w, b)``.

    The primal is :func:`enet_objective`. ``intercept=None`` means the model
    has NO intercept (``b = 0`` fixed); a number means the model fits a free,
    unpenalized intercept and ``b`` is its current value (pass ``0.0`` for a
    fitted intercept that happens to be 0).

    Derivation (Fenchel duality). Write ``P(w, b) = F(Xw + b 1) + G(w)`` with
    ``F(z) = sum_i s_i (y_i - z_i)^2 / (2S)`` and
    ``G(w) = sum_j g_j(w_j)``,
    ``g_j(t) = l1_j |t| + l2_j t^2 / 2 + indicator(lower_j <= t <= upper_j)``,
    ``l1_j = alpha rho p_j``, ``l2_j = alpha (1 - rho) p_j``. For every
    ``u`` in R^n (with ``sum_i u_i = 0`` when there is an intercept, because the
    intercept is free),

    .. math::

        P(w, b) \\ge D(u) = u^\\top y - \\frac{S}{2} \\sum_i \\frac{u_i^2}{s_i}
        - \\sum_j g_j^*(x_j^\\top u),

    (``-F^*(-u)`` gives the first two terms; :func:`enet_conjugate` gives
    ``g_j^*``). At the optimum ``u* = s * r* / S`` (elementwise, ``r*`` the
    residual) makes the bound tight. The dual point used here is
    ``u = t * s * r / S`` with ``r`` the residual at a *profiled* point, so that

    .. math:: D(u) = \\frac{t}{S} \\sum_i s_i r_i y_i - \\frac{t^2}{2 S} \\sum_i s_i r_i^2
              - \\sum_j g_j^*(t\\, x_j^\\top s r / S).

    * Intercept and unpenalized features (``l1_j = l2_j = 0`` and not both
      bounds finite, e.g. ``penalty_factor_j = 0`` or ``alpha = 0``): their
      conjugates are finite only on ``x_j^T u = 0`` (or a half line when one
      bound is finite), which no rescaling can enforce. They are therefore
      *solved out*: ``r`` is the residual after re-fitting those coefficients
      and the intercept by (bounded) weighted least squares with the penalized
      coefficients held at ``w``. The optimality conditions of that least
      squares are exactly the dual constraints (``sum_i u_i = 0``,
      ``x_j^T u = 0``, or the sign condition at an active bound). Up to
      rounding they hold; their conjugates are evaluated at the value projected
      onto the domain (i.e. the rounding residue is dropped). With an
      intercept, this is the usual centering of the residual.
    * Features with ``l1_j > 0 = l2_j`` and an infinite bound (the Lasso):
      ``g_j^*`` is finite only for ``|x_j^T u| <= l1_j`` on the unbounded side,
      so ``t = min(1, min_j l1_j / |x_j^T s r / S|)`` over the violated sides
      (the classical rescaled residual; one-sided with ``positive=True``).
      ``t * x_j^T u`` is clipped to ``[-l1_j, l1_j]`` on those sides to remove
      the last-ulp excess of the division.
    * Features with ``l2_j > 0`` (ElasticNet part) or with both bounds finite
      have finite conjugates everywhere: no constraint (this is the direct
      ElasticNet dual, no augmented-Lasso trick needed).
    * Excluded features (``penalty_factor = inf``): ``g_j^* = 0``.

    By weak duality the gap is ``>= 0`` (up to rounding) for every feasible
    ``(w, b)``, and it is 0 at the optimum where the profiled residual is the
    optimal one and ``t = 1``.

    Returns
    -------
    primal, dual, gap : float
        ``gap = primal - dual`` (``inf`` if ``w`` is infeasible).

    References
    ----------
    Ndiaye, Fercoq, Gramfort, Salmon (2017), "Gap safe screening rules for
    sparsity enforcing penalties", JMLR 18; Massias, Gramfort, Salmon (2018),
    "Celer: a fast solver for the Lasso with dual extrapolation", ICML.
    """
    X, y, sw = _prepare_regression(X, y, sample_weight)
    w = _prepare_coef(w, X.shape[1])
    pen = _prepare_penalty(X.shape[1], alpha, l1_ratio, penalty_factor, positive,
                           lower_bounds, upper_bounds)
    return _enet_gap(X, y, w, intercept, sw, *pen)


def _enet_gap(X, y, w, intercept, sw, l1, l2, excluded, lower, upper):
    """:func:`enet_duality_gap` on validated float64 inputs."""
    n_features = X.shape[1]
    fit_intercept = intercept is not None
    b = float(intercept) if fit_intercept else 0.0
    S = float(np.sum(sw))
    primal = _enet_primal(X, y, w, b, sw, l1, l2, excluded, lower, upper)

    # 1. solve out the intercept and the unpenalized, not fully boxed features
    boxed = np.isfinite(lower) & np.isfinite(upper)
    profiled = ~excluded & (l1 == 0) & (l2 == 0) & ~boxed
    columns = np.flatnonzero(profiled)
    r0 = y - X @ np.where(profiled | excluded, 0.0, w)
    beta, b_prof = _profile_unpenalized(X, r0, sw, columns, lower, upper, fit_intercept)
    w_unpen = np.zeros(n_features)
    w_unpen[columns] = beta
    r = r0 - X @ w_unpen - b_prof

    # 2. dual point u = t * sw * r / S
    u = sw * r / S
    v = np.asarray(X.T @ u, dtype=np.float64).ravel()
    limited = ~excluded & ~profiled & (l2 == 0) & (l1 > 0)
    t = 1.0
    up_side = limited & np.isinf(upper) & (v > l1)
    lo_side = limited & np.isinf(lower) & (v < -l1)
    if np.any(up_side):
        t = min(t, float(np.min(l1[up_side] / v[up_side])))
    if np.any(lo_side):
        t = min(t, float(np.min(l1[lo_side] / -v[lo_side])))
    vt = t * v
    vt = np.where(limited & np.isinf(upper), np.minimum(vt, l1), vt)
    vt = np.where(limited & np.isinf(lower), np.maximum(vt, -l1), vt)
    # rounding residue of the least-squares optimality conditions: project onto the domain
    vt = np.where(profiled & np.isinf(upper), np.minimum(vt, 0.0), vt)
    vt = np.where(profiled & np.isinf(lower), np.maximum(vt, 0.0), vt)

    conj = enet_conjugate(vt[~excluded], l1[~excluded], l2[~excluded], lower[~excluded],
                          upper[~excluded])
    dual = (t * float(np.dot(sw * r, y)) / S - 0.5 * t ** 2 * float(np.dot(sw, r ** 2)) / S
            - float(np.sum(conj)))
    return primal, dual, primal - dual


def lasso_duality_gap(X, y, w, intercept=None, *, alpha, sample_weight=None,
                      penalty_factor=None, positive=False, lower_bounds=None,
                      upper_bounds=None):
    """:func:`enet_duality_gap` with ``l1_ratio=1``. Returns ``(primal, dual, gap)``."""
    return enet_duality_gap(X, y, w, intercept, alpha=alpha, l1_ratio=1.0,
                            sample_weight=sample_weight, penalty_factor=penalty_factor,
                            positive=positive, lower_bounds=lower_bounds,
                            upper_bounds=upper_bounds)


# ---------------------------------------------------------------------------
# logistic regression
# ---------------------------------------------------------------------------
def logistic_loss(margin):
    """``log(1 + exp(-margin))`` elementwise, without overflow for any finite margin.

    Computed as ``logaddexp(0, -margin)``: ``exp`` is only applied to
    non-positive numbers.
    """
    return np.logaddexp(0.0, -np.asarray(margin, dtype=np.float64))


def _penalty_ratio(penalty, l1_ratio, C):
    """The L1 share ``rho`` of ``r(w) = rho |w|_1 + (1 - rho)/2 |w|^2``; None for no penalty."""
    if penalty is None or penalty == "none" or np.isinf(C):
        return None
    if penalty == "l1":
        return 1.0
    if penalty == "l2":
        return 0.0
    if penalty == "elasticnet":
        if l1_ratio is None:
            raise ValueError("penalty='elasticnet' requires l1_ratio")
        return check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)
    raise ValueError(f"penalty must be 'l1', 'l2', 'elasticnet' or None, got {penalty!r}")


def _logistic_penalty_value(W, rho):
    if rho is None:
        return 0.0
    return float(rho * np.sum(np.abs(W)) + 0.5 * (1.0 - rho) * np.sum(W ** 2))


def _encode_labels(y, classes=None):
    """Return ``(classes, codes)``: ``codes[i]`` is the index of ``y[i]`` in ``classes``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
    if classes is None:
        classes = np.unique(y)
    else:
        classes = np.asarray(classes)
    codes = np.searchsorted(classes, y)
    codes = np.clip(codes, 0, len(classes) - 1)
    if not np.all(classes[codes] == y):
        raise ValueError("y contains labels that are not in classes")
    return classes, codes


def _prepare_logistic(X, y, sample_weight, classes):
    X, y = check_X_y(X, y, accept_sparse=("csc", "csr"), order=None, dtype=(np.float64,),
                     y_numeric=False)
    sw = check_sample_weight(sample_weight, X.shape[0], np.float64)
    classes, codes = _encode_labels(y, classes)
    if len(classes) < 2:
        raise ValueError(f"logistic regression needs at least 2 classes, got {len(classes)}")
    return X, sw, classes, codes


def _binary_margins(X, ypm, w, b):
    return ypm * (X @ w + b)


def _multinomial_losses(X, codes, W, b):
    """Per-sample ``logsumexp_k(z_ik) - z_{i, y_i}`` with ``Z = X W^T + b``."""
    Z = np.asarray(X @ W.T, dtype=np.float64) + b[None, :]
    return logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), codes]


def _parse_logistic_coef(w, intercept, n_features, n_classes):
    """Binary: ``w`` (n_features,) or (1, n_features). Multinomial: (n_classes, n_features)."""
    W = np.asarray(w, dtype=np.float64)
    if n_classes == 2:
        if W.ndim == 2 and W.shape[0] == 1:
            W = W[0]
        if W.shape != (n_features,):
            raise ValueError(f"binary problem: w must have shape ({n_features},) or "
                             f"(1, {n_features}), got {W.shape}")
        b = 0.0 if intercept is None else float(np.asarray(intercept, dtype=np.float64).ravel()[0])
        return W, b
    if W.shape != (n_classes, n_features):
        raise ValueError(f"{n_classes} classes: w must have shape ({n_classes}, {n_features}), "
                         f"got {W.shape}")
    b = np.zeros(n_classes) if intercept is None else np.asarray(intercept, dtype=np.float64)
    b = np.broadcast_to(b, (n_classes,)).astype(np.float64)
    return W, b


def logistic_objective(X, y, w, intercept=0.0, *, C=1.0, penalty="l2", l1_ratio=None,
                       sample_weight=None, classes=None):
    """Penalized logistic objective in scikit-learn 1.9's ``LogisticRegression`` scaling.

    .. math:: P(w, b) = C \\sum_i s_i \\ell_i(w, b) + \\rho \\|w\\|_1 + \\frac{1-\\rho}{2} \\|w\\|_2^2

    * two classes: ``ell_i = log(1 + exp(-y_i (x_i^T w + b)))`` with
      ``y_i = +1`` for ``classes[1]`` and ``-1`` for ``classes[0]`` (any two
      labels are accepted; ``classes`` defaults to ``np.unique(y)``);
    * ``K >= 3`` classes (multinomial): ``w`` has shape ``(K, n_features)``,
      ``b`` shape ``(K,)``, ``ell_i = logsumexp_k(x_i^T w_k + b_k) - (x_i^T w_{y_i} + b_{y_i})``
      and the norms are over all entries of ``w``.

    ``rho`` is 1 for ``penalty='l1'``, 0 for ``'l2'``, ``l1_ratio`` for
    ``'elasticnet'``; ``penalty=None`` or ``C=inf`` gives ``sum_i s_i ell_i``
    (no factor ``C``). ``sample_weight`` multiplies the losses as given (no
    normalization). The intercept is never penalized. The losses use
    ``logaddexp``/``logsumexp``: no overflow for huge margins.

    Returns
    -------
    float
    """
    X, sw, classes, codes = _prepare_logistic(X, y, sample_weight, classes)
    C = check_scalar(C, "C", low=0.0, low_inclusive=False, allow_inf=True)
    rho = _penalty_ratio(penalty, l1_ratio, C)
    W, b = _parse_logistic_coef(w, intercept, X.shape[1], len(classes))
    if len(classes) == 2:
        ypm = np.where(codes == 1, 1.0, -1.0)
        losses = logistic_loss(_binary_margins(X, ypm, W, b))
    else:
        losses = _multinomial_losses(X, codes, W, b)
    datafit = float(np.dot(sw, losses))
    if rho is None:
        return datafit
    return C * datafit + _logistic_penalty_value(W, rho)


def _optimal_binary_intercept(X, ypm, w, sw):
    """The intercept minimizing ``sum_i sw_i log(1 + exp(-y_i (x_i w + b)))`` for fixed ``w``.

    It is the root of the decreasing function
    ``phi(b) = sum_i sw_i y_i sigmoid(-y_i (x_i w + b))`` (brentq on an expanding
    bracket). Raises ``ValueError`` if only one class has positive weight.
    """
    pos, neg = np.sum(sw[ypm > 0]), np.sum(sw[ypm < 0])
    if pos == 0 or neg == 0:
        raise ValueError("the optimal intercept is infinite: one class has zero total weight")
    xw = np.asarray(X @ w, dtype=np.float64)

    def phi(b):
        return float(np.dot(sw * ypm, expit(-ypm * (xw + b))))

    lo, hi = -1.0, 1.0
    while phi(lo) <= 0:
        lo *= 2.0
    while phi(hi) >= 0:
        hi *= 2.0
    return brentq(phi, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=2000)


def logistic_duality_gap(X, y, w, intercept=None, *, C=1.0, penalty="l1", l1_ratio=None,
                         sample_weight=None, classes=None):
    """Duality gap of binary penalized logistic regression (L1, L2 or ElasticNet).

    The primal is :func:`logistic_objective` with two classes (``y`` mapped to
    ``+-1``), ``P(w, b) = sum_i h_i(x_i w + b) + G(w)`` with
    ``h_i(z) = C s_i log(1 + exp(-y_i z))`` and
    ``G(w) = rho |w|_1 + (1 - rho)/2 |w|^2``. ``intercept=None`` means no
    intercept in the model; a number is the current value of a free intercept.

    Derivation. The conjugate of ``ell(m) = log(1 + exp(-m))`` is
    ``ell^*(-p) = p log p + (1 - p) log(1 - p)`` for ``p`` in ``[0, 1]``
    (``+inf`` elsewhere), so ``h_i^*(-u_i) = C s_i ell^*(-p_i)`` with
    ``u_i = C s_i y_i p_i``. Fenchel duality gives, for every ``p`` in
    ``[0, 1]^n`` (with ``sum_i u_i = 0`` if there is a free intercept),

    .. math::

        P(w, b) \\ge D(p) = C \\sum_i s_i H(p_i) - G^*(X^\\top u),
        \\qquad H(p) = -p \\log p - (1-p) \\log(1-p),

    where ``G^*`` is :func:`enet_conjugate` with ``l1 = rho``,
    ``l2 = 1 - rho``; for ``rho = 1`` it is finite only on
    ``|X^T u|_inf <= 1``. At the optimum ``p_i = sigmoid(-y_i (x_i w + b))``.
    The dual point used: ``p_i = t * sigmoid(-y_i (x_i w + b*))`` where ``b*``
    is the optimal intercept for the current ``w`` (so that
    ``sum_i u_i = 0`` exactly: it is the intercept's optimality condition),
    and ``t = min(1, 1 / |X^T u|_inf)`` for pure L1 (``t = 1`` otherwise;
    ``t p`` stays in ``[0, 1]``). ``1 - t p`` is evaluated as
    ``(1 - t) + t sigmoid(y z)`` to keep its relative accuracy.

    Returns
    -------
    primal, dual, gap : float

    References
    ----------
    Ndiaye et al. (2017), JMLR 18, section on logistic regression; Massias,
    Vaiter, Gramfort, Salmon (2020), "Dual extrapolation for sparse GLMs", JMLR 21.
    """
    X, sw, classes, codes = _prepare_logistic(X, y, sample_weight, classes)
    if len(classes) != 2:
        raise ValueError("logistic_duality_gap is implemented for binary problems only")
    C = check_scalar(C, "C", low=0.0, low_inclusive=False)
    rho = _penalty_ratio(penalty, l1_ratio, C)
    if rho is None:
        raise ValueError("logistic_duality_gap needs a penalty ('l1', 'l2' or 'elasticnet')")
    w, b = _parse_logistic_coef(w, intercept, X.shape[1], 2)
    ypm = np.where(codes == 1, 1.0, -1.0)
    return _logistic_gap(X, ypm, w, None if intercept is None else b, sw, C, rho)


def _logistic_gap(X, ypm, w, intercept, sw, C, rho):
    """:func:`logistic_duality_gap` on validated inputs (``ypm`` in {-1, +1})."""
    b = 0.0 if intercept is None else float(intercept)
    losses = logistic_loss(_binary_margins(X, ypm, w, b))
    primal = C * float(np.dot(sw, losses)) + _logistic_penalty_value(w, rho)

    b_star = _optimal_binary_intercept(X, ypm, w, sw) if intercept is not None else 0.0
    margin = _binary_margins(X, ypm, w, b_star)
    p, q = expit(-margin), expit(margin)          # p + q = 1, both accurate
    u = C * sw * ypm * p
    v = np.asarray(X.T @ u, dtype=np.float64).ravel()
    n_features = v.shape[0]
    t = 1.0
    if rho == 1.0 and n_features and np.max(np.abs(v)) > 1.0:
        t = 1.0 / float(np.max(np.abs(v)))
    vt = t * v
    if rho == 1.0:
        vt = np.clip(vt, -1.0, 1.0)
    entropy = entr(t * p) + entr((1.0 - t) + t * q)
    conj = enet_conjugate(vt, np.full(n_features, rho), np.full(n_features, 1.0 - rho),
                          -np.inf, np.inf)
    dual = C * float(np.dot(sw, entropy)) - float(np.sum(conj))
    return primal, dual, primal - dual
