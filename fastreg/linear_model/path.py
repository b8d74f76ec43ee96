"""Regularization paths for the Lasso and the elastic net (scikit-learn's conventions).

For each ``alpha`` the objective is scikit-learn's::

    1 / (2 n) * sum_i s_i (y_i - x_i^T w - b)^2
        + alpha * l1_ratio * sum_j pf_j |w_j|
        + alpha * (1 - l1_ratio) / 2 * sum_j pf_j w_j^2,
    subject to lower_j <= w_j <= upper_j,

with sample weights ``s`` rescaled to sum to ``n`` (``s = 1`` without weights;
integer weights are equivalent to repeating rows), penalty factors ``pf``
(default 1; ``0`` = unpenalized, ``inf`` = excluded, ``w_j = 0``) used **as
given**: unlike glmnet, fastreg does not rescale them to sum to
``n_features``, so that ``pf = 1`` is exactly scikit-learn's problem. The
intercept ``b`` exists only with ``fit_intercept=True`` (scikit-learn's path
functions have none; this is the default here too).

Paths are computed from the largest to the smallest ``alpha`` with warm
starts; at each ``alpha`` the first working set contains the previous support
and the features kept by the sequential strong rule (Tibshirani et al. 2012),
and gap-safe screening at the warm start discards features for that ``alpha``
(sequential screening).
"""
import numbers

import numpy as np
import scipy.sparse as sp

from .._validation import check_X_y, check_sample_weight, check_scalar
from ..solvers.cd import column_stats, enet_cd, n_threads_default
from ..solvers.cd_gram import build_gram, centered_xty, enet_cd_gram, gram_auto, gram_from_array

__all__ = ["lasso_path", "enet_path", "alpha_max"]


def resolve_gram(precompute, X, h, fit_intercept, n_fits=1, stats=None):
    """The solver chosen by ``precompute`` and its extra arguments: ``(solve, kwargs)``.

    ``'auto'``: :func:`fastreg.solvers.cd_gram.gram_auto` decides (``n_fits`` fits
    share the Gram); ``True``/``False``: always/never; an array: scikit-learn's
    user-given Gram (:func:`fastreg.solvers.cd_gram.gram_from_array`). ``solve`` is
    :func:`~fastreg.solvers.cd.enet_cd` or :func:`~fastreg.solvers.cd_gram.enet_cd_gram`
    (then ``kwargs = {"gram": Gram}``, built once here).
    """
    if isinstance(precompute, str):
        if precompute != "auto":
            raise ValueError("precompute must be 'auto', a bool or a Gram matrix, "
                             f"got {precompute!r}")
        use = gram_auto(X, n_fits)
    elif precompute is None or isinstance(precompute, (bool, np.bool_)):
        use = bool(precompute)
    else:
        return enet_cd_gram, {"gram": gram_from_array(precompute, X, h, fit_intercept, stats)}
    if not use:
        return enet_cd, {}
    return enet_cd_gram, {"gram": build_gram(X, h, fit_intercept, stats)}


# ---------------------------------------------------------------------------
# penalty description (shared with the estimators)
# ---------------------------------------------------------------------------
def _per_feature(value, name, n_features, dtype, default):
    if value is None:
        return np.full(n_features, default, dtype=np.float64)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_features, float(arr))
    if arr.shape != (n_features,):
        raise ValueError(f"{name} must be a scalar or have shape ({n_features},), got {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def penalty_arrays(n_features, dtype, alpha, l1_ratio, penalty_factor=None, lower_bounds=None,
                   upper_bounds=None, positive=False):
    """Per-feature ``l1, l2, lower, upper`` arrays (X's dtype) of the solver.

    ``l1_j = alpha * l1_ratio * pf_j`` and ``l2_j = alpha * (1 - l1_ratio) * pf_j``;
    ``pf_j = inf`` gives ``l1_j = inf`` (excluded) and ``l2_j = 0``.
    ``positive`` raises the lower bounds to 0. Bounds must satisfy
    ``lower <= 0 <= upper``.
    """
    a1, a2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
    # each output is allocated once in X's dtype: on 1e5+ features the page faults of
    # float64 temporaries cost more than the small fits they serve
    if penalty_factor is None:
        l1 = np.full(n_features, a1, dtype=dtype)
        l2 = np.full(n_features, a2, dtype=dtype)
    else:
        pf = _per_feature(penalty_factor, "penalty_factor", n_features, dtype, 1.0)
        if (pf < 0).any():
            raise ValueError("penalty_factor must be non-negative")
        excluded = np.isinf(pf)
        fin = np.where(excluded, 0.0, pf)
        l1 = (a1 * fin).astype(dtype)
        l2 = (a2 * fin).astype(dtype)
        l1[excluded] = np.inf
    lower = _bound(lower_bounds, "lower_bounds", n_features, dtype, -np.inf,
                   floor=0.0 if positive else None)
    upper = _bound(upper_bounds, "upper_bounds", n_features, dtype, np.inf)
    return l1, l2, lower, upper


def _bound(value, name, n_features, dtype, default, floor=None):
    """One side of the box constraints in ``dtype``, raised to ``floor`` if given;
    checks ``lower <= 0 <= upper``."""
    if value is None:
        return np.full(n_features, default if floor is None else max(default, floor),
                       dtype=dtype)
    arr = _per_feature(value, name, n_features, dtype, default)
    if floor is not None:
        arr = np.maximum(arr, floor)
    if (arr > 0).any() if default < 0 else (arr < 0).any():
        raise ValueError("bounds must satisfy lower_bounds <= 0 <= upper_bounds")
    return arr.astype(dtype)


def _weights(sample_weight, n_samples, dtype):
    """Solver weights ``h = s / sum(s)`` (``1/n`` when None); None stays None."""
    if sample_weight is None or isinstance(sample_weight, numbers.Number):
        if sample_weight is not None:
            check_scalar(sample_weight, "sample_weight", low=0.0, low_inclusive=False)
        return None
    sw = check_sample_weight(sample_weight, n_samples, dtype, allow_all_zero=True).astype(np.float64)
    if not np.any(sw > 0):
        raise ValueError("sample_weight: all weights are zero (at least one must be positive)")
    return (sw / sw.sum()).astype(dtype)


def _null_residual_correlations(X, y, h, fit_intercept, pf):
    """``c_j = sum_i h_i (x_ij - mu_j) r_i`` with ``r`` the residual of the null
    model (intercept and unpenalized features fitted by weighted least squares)."""
    n = X.shape[0]
    h64 = np.full(n, 1.0 / n) if h is None else np.asarray(h, dtype=np.float64)
    y64 = np.asarray(y, dtype=np.float64)
    H = h64.sum()
    mu = np.asarray(X.T @ h64).ravel() / H if fit_intercept else np.zeros(X.shape[1])
    r = y64 - (h64 @ y64) / H if fit_intercept else y64.copy()
    unpen = np.flatnonzero(pf == 0)
    if unpen.size:
        Z = X[:, unpen]
        Z = (Z.toarray() if sp.issparse(Z) else np.asarray(Z)).astype(np.float64) - mu[unpen]
        sw = np.sqrt(h64)
        a = np.linalg.lstsq(Z * sw[:, None], r * sw, rcond=None)[0]
        r = r - Z @ a
    v = h64 * r
    c = np.asarray(X.T @ v).ravel() - mu * v.sum()
    return c


def alpha_max(X, y, l1_ratio=1.0, fit_intercept=True, sample_weight=None, penalty_factor=None):
    """Smallest ``alpha`` for which the solution has all penalized coefficients at 0.

    ``alpha_max = max_j |c_j| / (l1_ratio * pf_j)`` over the penalized features
    (``0 < pf_j < inf``), with ``c_j = 1/n sum_i s_i (x_ij - mu_j) r_i`` and
    ``r`` the residual of the null model (the intercept, if ``fit_intercept``,
    and unpenalized features fitted by weighted least squares). Without
    penalty factors, weights and unpenalized features this is scikit-learn's
    ``max |X_c^T y_c| / (n * l1_ratio)``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    l1_ratio : float in (0, 1]
    fit_intercept : bool
    sample_weight : array-like of shape (n_samples,) or None
    penalty_factor : array-like of shape (n_features,) or None

    Returns
    -------
    float
    """
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)
    if l1_ratio <= 0:
        raise ValueError("alpha_max is infinite for l1_ratio=0 (ridge): pass alphas explicitly")
    X, y = check_X_y(X, y, accept_sparse="csc", order="F")
    h = _weights(sample_weight, X.shape[0], X.dtype)
    pf = _per_feature(penalty_factor, "penalty_factor", X.shape[1], X.dtype, 1.0)
    if (pf < 0).any():
        raise ValueError("penalty_factor must be non-negative")
    c = _null_residual_correlations(X, y, h, fit_intercept, pf)
    pen = (pf > 0) & np.isfinite(pf)
    if not pen.any():
        return 0.0
    return float(np.max(np.abs(c[pen]) / pf[pen]) / l1_ratio)


def _alpha_grid(X, y, h, l1_ratio, fit_intercept, pf, eps, n_alphas):
    if l1_ratio <= 0:
        raise ValueError("Automatic alpha grid generation is not supported for l1_ratio=0. "
                         "Please supply a grid by providing your estimator with the "
                         "appropriate `alphas=` argument.")
    c = _null_residual_correlations(X, y, h, fit_intercept, pf)
    pen = (pf > 0) & np.isfinite(pf)
    amax = float(np.max(np.abs(c[pen]) / pf[pen]) / l1_ratio) if pen.any() else 0.0
    if amax <= np.finfo(float).resolution:
        return np.full(n_alphas, np.finfo(float).resolution)
    return np.geomspace(amax, amax * eps, num=n_alphas)


def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, n_alphas=100, alphas=None, precompute="auto",
              Xy=None, copy_X=True, coef_init=None, verbose=False, return_n_iter=False,
              positive=False, check_input=True, fit_intercept=False, sample_weight=None,
              penalty_factor=None, lower_bounds=None, upper_bounds=None, tol=1e-4,
              max_iter=1000, return_intercept=False, selection="cyclic", random_state=None,
              **params):
    """Elastic-net path by working-set coordinate descent (scikit-learn's convention).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Fortran-ordered dense and CSC input are used without copy; C-ordered
        input is copied once to Fortran order, CSR converted once to CSC.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Several targets are fitted one after the other.
    l1_ratio : float in [0, 1]
    eps : float
        ``alpha_min / alpha_max`` of the automatic grid.
    n_alphas : int
        Number of alphas of the automatic grid.
    alphas : int, array-like or None
        An array: the alphas (sorted in decreasing order, as returned). An
        int: the number of alphas of the automatic grid (as scikit-learn 1.9).
        None: ``n_alphas`` alphas from :func:`alpha_max` down to
        ``eps * alpha_max``, log-spaced.
    precompute : 'auto', bool or array-like of shape (n_features, n_features)
        Coordinate descent in Gram form (see :class:`fastreg.ElasticNet`): the
        Gram matrix is built **once** for all alphas (and targets). ``'auto'``
        decides by a cost model counting every alpha; an array is
        scikit-learn's ``X^T diag(s) X`` of X as passed (checked cheaply).
    Xy : array-like of shape (n_features,) or (n_features, n_targets) or None
        Accepted for compatibility: its shape is checked, but the centered
        correlations are recomputed (one pass over X, cheaper than a Gram).
    copy_X :
        Accepted for compatibility and ignored (X is never modified).
    coef_init : ndarray of shape (n_features,) or None
        Warm start for the first alpha.
    verbose : bool or int
        Print one line per alpha (>= 2: the solver's outer iterations too).
    return_n_iter : bool
        Also return the number of outer iterations per alpha.
    positive : bool
        Force non-negative coefficients.
    check_input : bool
        Accepted for compatibility; input is always validated (cheap).
    fit_intercept : bool, default=False
        fastreg extra: fit an unpenalized intercept (scikit-learn's paths
        assume centered data, i.e. no intercept).
    sample_weight : array-like of shape (n_samples,) or None
        Rescaled internally to sum to ``n_samples`` (scikit-learn 1.9).
    penalty_factor, lower_bounds, upper_bounds : array-like or None
        Per-feature penalty factors (not rescaled) and bounds (``lower <= 0 <= upper``).
    tol : float
        Per alpha: stop when the duality gap is ``<= tol * P0``, ``P0`` the
        objective of the null model (``tol = 2 * tol_sklearn`` is
        scikit-learn's criterion).
    max_iter : int
        Maximum number of outer (working-set) iterations per alpha.
    return_intercept : bool
        fastreg extra: also return the intercepts (last returned value).
    selection, random_state :
        As in :class:`fastreg.ElasticNet`.
    **params :
        Passed to :func:`fastreg.solvers.cd.enet_cd` (e.g. ``max_epochs``,
        ``p0``, ``anderson_k``, ``screening``).

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
        Decreasing.
    coefs : ndarray of shape (n_features, n_alphas) or (n_targets, n_features, n_alphas)
    dual_gaps : ndarray of shape (n_alphas,) (or (n_targets, n_alphas))
        Duality gaps at the end of each fit (objective units).
    n_iters : list of int (or of lists), only if ``return_n_iter``
    intercepts : ndarray of shape (n_alphas,) (or (n_targets, n_alphas)),
        only if ``return_intercept``
    """
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)
    X, y = check_X_y(X, y, accept_sparse="csc", order="F", multi_output=True)
    n, p = X.shape
    dtype = X.dtype
    h = _weights(sample_weight, n, dtype)
    pf = _per_feature(penalty_factor, "penalty_factor", p, dtype, 1.0)
    if isinstance(alphas, numbers.Integral) and not isinstance(alphas, bool):
        n_alphas, alphas = alphas, None
    n_alphas = check_scalar(n_alphas, "n_alphas", low=1, integer=True)
    multi = y.ndim == 2
    Y = y if multi else y[:, None]
    if alphas is None:
        eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
        # grid from the first target (scikit-learn uses all targets jointly)
        amax = max(_alpha_grid(X, Y[:, k], h, l1_ratio, fit_intercept, pf, eps, 1)[0]
                   for k in range(Y.shape[1]))
        alphas = np.geomspace(amax, amax * eps, num=n_alphas) if n_alphas > 1 else np.array([amax])
    else:
        alphas = np.sort(np.asarray(alphas, dtype=np.float64).ravel())[::-1]
        if alphas.size == 0:
            raise ValueError("alphas must not be empty")
        if np.isnan(alphas).any() or (alphas < 0).any():
            raise ValueError("alphas must be non-negative numbers")
    stats = column_stats(X, np.full(n, 1.0 / n, dtype=dtype) if h is None else h, fit_intercept)
    if Xy is not None and np.shape(Xy) not in ((p,), (p, 1), (p, Y.shape[1])):
        raise ValueError(f"Xy must have shape ({p},) or ({p}, n_targets), got {np.shape(Xy)}")
    solve, extra = resolve_gram(precompute, X, h, fit_intercept, alphas.size * Y.shape[1], stats)
    coefs = np.empty((Y.shape[1], p, alphas.size), dtype=dtype)
    gaps = np.empty((Y.shape[1], alphas.size))
    intercepts = np.zeros((Y.shape[1], alphas.size), dtype=dtype)
    n_iters = []
    params.setdefault("n_threads", n_threads_default())
    for k in range(Y.shape[1]):
        yk = np.ascontiguousarray(Y[:, k])
        w = None if coef_init is None else np.asarray(coef_init, dtype=dtype).reshape(-1, p)[
            min(k, np.asarray(coef_init).reshape(-1, p).shape[0] - 1)]
        iters = []
        prev_l1, corr = None, None
        if "gram" in extra:
            extra["xty"] = centered_xty(X, yk, h, extra["gram"])
        for i, alpha in enumerate(alphas):
            l1, l2, lower, upper = penalty_arrays(p, dtype, alpha, l1_ratio, pf, lower_bounds,
                                                  upper_bounds, positive)
            ws_init = None
            if corr is not None:
                # sequential strong rule: |c_j| >= 2 l1_j(new) - l1_j(old)
                # excluded features (l1 = inf) never enter: compare finite entries only
                finite = np.isfinite(l1)
                keep = np.zeros(p, dtype=bool)
                keep[finite] = (np.abs(np.nan_to_num(corr[finite], nan=0.0))
                                >= 2.0 * l1[finite] - prev_l1[finite])
                ws_init = np.flatnonzero(keep).astype(np.int32)
            res = solve(X, yk, l1, l2, lower, upper, sample_weight=h,
                        fit_intercept=fit_intercept, coef_init=w, tol=tol, max_iter=max_iter,
                        selection=selection, random_state=random_state, ws_init=ws_init,
                        stats=stats, verbose=max(int(verbose) - 1, 0), return_corr=True,
                        **extra, **params)
            w = res.coef
            corr, prev_l1 = res.corr, np.where(np.isfinite(l1), l1, np.inf)
            coefs[k, :, i] = w
            gaps[k, i] = res.gap
            intercepts[k, i] = res.intercept
            iters.append(res.n_iter)
            if verbose:
                print(f"[fastreg.enet_path] alpha {i + 1}/{alphas.size} = {alpha:.4e}: "
                      f"{np.count_nonzero(w)} non-zeros, gap {res.gap:.2e}, "
                      f"{res.n_iter} outer iterations, {res.n_epochs} epochs")
        n_iters.append(iters)
    if not multi:
        coefs, gaps, intercepts, n_iters = coefs[0], gaps[0], intercepts[0], n_iters[0]
    out = [alphas, coefs, gaps]
    if return_n_iter:
        out.append(n_iters)
    if return_intercept:
        out.append(intercepts)
    return tuple(out)


def lasso_path(X, y, *, eps=1e-3, n_alphas=100, alphas=None, precompute="auto", Xy=None,
               copy_X=True, coef_init=None, verbose=False, return_n_iter=False, positive=False,
               **params):
    """Lasso path: :func:`enet_path` with ``l1_ratio=1`` (same parameters and returns)."""
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas,
                     precompute=precompute, Xy=Xy, copy_X=copy_X, coef_init=coef_init,
                     verbose=verbose, return_n_iter=return_n_iter, positive=positive, **params)
