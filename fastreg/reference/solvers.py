"""Reference solvers: L-BFGS-B (scipy.optimize) on split variables, plus a closed form.

The non-smooth L1 term is made smooth by splitting ``w = w_plus - w_minus`` with
``w_plus, w_minus >= 0``, so that ``|w| = w_plus + w_minus`` at any optimum
(both parts positive can always be lowered by the same amount, which lowers the
objective). The bounds of the problem become bounds on the parts: with
``lower <= 0 <= upper``, ``0 <= w_plus <= upper`` and ``0 <= w_minus <= -lower``
(``positive=True`` fixes ``w_minus = 0``; an excluded feature fixes both to 0).
Features without L1 weight are not split (one variable in ``[lower, upper]``).
The L2 term is written ``l2/2 (w_plus^2 + w_minus^2)``, equal to ``l2/2 w^2``
when one part is 0 (true at the optimum) and better conditioned.

L-BFGS-B runs with tight tolerances; the result is then *polished*: on the
support found (signs fixed, coordinates at a bound fixed), the problem is smooth
and is solved exactly (a linear system for least squares, Newton's method for
logistic regression). The polished point is kept only if its duality gap is
smaller. Objectives and scalings are those of :mod:`fastreg.reference.objectives`.

References
----------
Byrd, Lu, Nocedal, Zhu (1995), "A limited memory algorithm for bound constrained
optimization", SIAM J. Sci. Comput. 16(5) (L-BFGS-B).
"""
import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, softmax

from .._validation import check_scalar
from .objectives import (
    _column_block,
    _enet_gap,
    _logistic_gap,
    _penalty_ratio,
    _prepare_logistic,
    _prepare_penalty,
    _prepare_regression,
    logistic_loss,
)

# a duality gap this small relative to the objective is rounding noise
_ROUNDING = 8 * np.finfo(np.float64).eps

__all__ = ["enet_lbfgsb", "lasso_lbfgsb", "logistic_lbfgsb", "lasso_orthogonal_closed_form"]


# ---------------------------------------------------------------------------
# split-variable bookkeeping
# ---------------------------------------------------------------------------
def _split_bounds(l1, excluded, lower, upper):
    """L-BFGS-B bounds for ``[w_plus, w_minus]`` (see the module docstring)."""
    split = ~excluded & (l1 > 0)
    direct = ~excluded & (l1 == 0)
    lo_p = np.where(split, 0.0, np.where(direct, lower, 0.0))
    hi_p = np.where(split | direct, upper, 0.0)
    lo_m = np.zeros_like(lower)
    hi_m = np.where(split, -lower, 0.0)
    lo = np.concatenate([lo_p, lo_m])
    hi = np.concatenate([hi_p, hi_m])
    return [(None if np.isinf(a) else float(a), None if np.isinf(c) else float(c))
            for a, c in zip(lo, hi)]


def _lbfgsb(fun, z0, bounds, tol, max_iter):
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(maxcor=50, ftol=0.0, gtol=tol, maxiter=max_iter,
                                maxfun=2 * max_iter, maxls=100))
    return res.x


# ---------------------------------------------------------------------------
# least squares
# ---------------------------------------------------------------------------
def _enet_restricted_solve(X, y, w, b, sw, l1, l2, free, signs, fit_intercept):
    """Minimizer of the objective over ``(w_F, b)`` with the signs ``s_F`` fixed.

    The other coordinates stay at their values. The objective is then the
    quadratic whose stationarity condition is
    ``(A^T diag(sw) A / S + diag(l2_F, 0)) [w_F; b] = A^T (sw * r0) / S - [l1_F s_F; 0]``
    with ``A = [X_F, 1]`` and ``r0 = y - X w`` computed with ``w_F = 0``
    (least-squares solution of that system when it is singular).
    """
    cols = np.flatnonzero(free)
    S = float(np.sum(sw))
    r0 = y - X @ np.where(free, 0.0, w)
    A = _column_block(X, cols)
    reg, lin = l2[cols], l1[cols] * signs[cols]
    if fit_intercept:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
        reg, lin = np.append(reg, 0.0), np.append(lin, 0.0)
    H = A.T @ (sw[:, None] * A) / S + np.diag(reg)
    rhs = A.T @ (sw * r0) / S - lin
    sol = np.linalg.lstsq(H, rhs, rcond=None)[0]
    return cols, sol[:cols.size], (float(sol[-1]) if fit_intercept else b)


def _enet_feature_sign_polish(X, y, w, b, sw, l1, l2, excluded, lower, upper, fit_intercept,
                              max_steps=1000):
    """Active-set ("feature-sign search") refinement of a nearly optimal point.

    Free set ``F``: features strictly inside their bounds that are non-zero or
    have no L1 weight, with their signs fixed. Repeat: solve the quadratic
    restricted to ``F`` (:func:`_enet_restricted_solve`); move towards its
    solution, stopping at the first coordinate that would change sign or
    leave its bounds (that coordinate is set to 0 or to the bound and leaves
    ``F``); once the restricted solution is reached, add to ``F`` the fixed
    coordinate whose one-sided directional derivative is the most negative,
    or stop if none is negative (KKT conditions hold). Each move decreases
    the (convex) objective, so from a point with the right support this ends
    in one solve at the exact optimum.

    References
    ----------
    Lee, Battle, Raina, Ng (2007), "Efficient sparse coding algorithms", NIPS.
    """
    w = w.copy()
    S = float(np.sum(sw))
    free = ~excluded & (w > lower) & (w < upper) & ((w != 0) | (l1 == 0))
    signs = np.sign(w)
    threshold = None
    for _ in range(max_steps):
        if free.any() or fit_intercept:
            cols, target, b_target = _enet_restricted_solve(X, y, w, b, sw, l1, l2, free,
                                                            signs, fit_intercept)
            d = target - w[cols]
            # largest step keeping the signs and the bounds
            tau, block, block_value = 1.0, None, 0.0
            for k, j in enumerate(cols):
                new = w[j] + d[k]
                candidates = []
                if l1[j] > 0 and signs[j] * new < 0:
                    candidates.append((-w[j] / d[k], 0.0))
                if new > upper[j]:
                    candidates.append(((upper[j] - w[j]) / d[k], upper[j]))
                if new < lower[j]:
                    candidates.append(((lower[j] - w[j]) / d[k], lower[j]))
                for t, value in candidates:
                    if t < tau:
                        tau, block, block_value = t, j, value
            w[cols] += tau * d
            b += tau * (b_target - b)
            if block is not None:
                w[block] = block_value
                free[block] = False
                signs[block] = 0.0 if block_value == 0.0 else signs[block]
                if tau <= 0.0:
                    break
                continue
        # KKT check on the fixed coordinates: one-sided directional derivatives
        r = y - X @ w - b
        g = -np.asarray(X.T @ (sw * r), dtype=np.float64).ravel() / S + l2 * w
        if threshold is None:
            threshold = 1e-13 * max(float(np.max(np.abs(g), initial=0.0)),
                                    float(np.max(l1, initial=0.0)), 1e-300)
        fixed = ~free & ~excluded
        d_up = g + np.where(w >= 0, l1, -l1)
        d_down = -g + np.where(w <= 0, l1, -l1)
        viol_up = np.where(fixed & (w < upper), -d_up, 0.0)
        viol_down = np.where(fixed & (w > lower), -d_down, 0.0)
        viol = np.maximum(viol_up, viol_down)
        j = int(np.argmax(viol)) if viol.size else 0
        if not viol.size or viol[j] <= threshold:
            break
        free[j] = True
        direction = 1.0 if viol_up[j] >= viol_down[j] else -1.0
        signs[j] = direction if w[j] == 0 else np.sign(w[j])
    return w, b


def enet_lbfgsb(X, y, alpha, l1_ratio=1.0, fit_intercept=True, sample_weight=None,
                penalty_factor=None, positive=False, lower_bounds=None, upper_bounds=None,
                tol=1e-12, max_iter=50000, polish=True):
    """Minimize the ElasticNet objective by L-BFGS-B on split variables.

    Minimizes :func:`fastreg.reference.enet_objective` (scikit-learn's scaling,
    ``1/(2S) sum_i s_i (y_i - x_i w - b)^2 + alpha rho sum_j p_j |w_j|
    + alpha (1 - rho)/2 sum_j p_j w_j^2``, ``lower <= w <= upper``), with the
    intercept a free variable when ``fit_intercept``. See the module docstring
    for the splitting and the polishing step.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    alpha : float
    l1_ratio : float in [0, 1]
    fit_intercept : bool
    sample_weight : ndarray of shape (n_samples,), optional
    penalty_factor : ndarray of shape (n_features,), optional
        ``0`` unpenalized, ``inf`` excluded (kept at 0).
    positive : bool
        Same as ``lower_bounds=0``.
    lower_bounds, upper_bounds : float or ndarray, optional
        With ``lower <= 0 <= upper``.
    tol : float
        L-BFGS-B's ``gtol`` (projected gradient, objective in sklearn's scale);
        ``ftol = 0`` (it stops when no further decrease is possible).
    max_iter : int
    polish : bool
        Whether to run the exact solve on the support found.

    Returns
    -------
    coef : ndarray of shape (n_features,), float64
    intercept : float (0.0 when ``fit_intercept=False``)
    """
    X, y, sw = _prepare_regression(X, y, sample_weight)
    n_features = X.shape[1]
    l1, l2, excluded, lower, upper = _prepare_penalty(
        n_features, alpha, l1_ratio, penalty_factor, positive, lower_bounds, upper_bounds)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    S = float(np.sum(sw))
    p = n_features

    def fun(z):
        wp, wm = z[:p], z[p:2 * p]
        b = z[2 * p] if fit_intercept else 0.0
        r = y - X @ (wp - wm) - b
        swr = sw * r
        f = 0.5 * float(np.dot(swr, r)) / S + float(np.sum(l1 * (wp + wm))) \
            + 0.5 * float(np.sum(l2 * (wp ** 2 + wm ** 2)))
        grad_w = -np.asarray(X.T @ swr, dtype=np.float64).ravel() / S
        g = np.concatenate([grad_w + l1 + l2 * wp, -grad_w + l1 + l2 * wm])
        if fit_intercept:
            g = np.append(g, -float(np.sum(swr)) / S)
        return f, g

    bounds = _split_bounds(l1, excluded, lower, upper)
    z0 = np.zeros(2 * p)
    if fit_intercept:
        bounds.append((None, None))
        z0 = np.append(z0, float(np.dot(sw, y)) / S)
    z = _lbfgsb(fun, z0, bounds, tol, max_iter)
    w = z[:p] - z[p:2 * p]
    w[excluded] = 0.0
    if fit_intercept:  # optimal intercept for this w: weighted mean of y - Xw
        b = float(np.dot(sw, y - X @ w)) / S
    else:
        b = 0.0
    if polish:
        pen = (l1, l2, excluded, lower, upper)
        intercept = b if fit_intercept else None
        primal, _, gap = _enet_gap(X, y, w, intercept, sw, *pen)
        w_new, b_new = _enet_feature_sign_polish(X, y, w, b, sw, *pen, fit_intercept)
        primal_new, _, new_gap = _enet_gap(X, y, w_new, b_new if fit_intercept else None,
                                           sw, *pen)
        if new_gap <= gap or new_gap <= _ROUNDING * abs(primal_new):
            w, b = w_new, b_new
    return w, float(b)


def lasso_lbfgsb(X, y, alpha, fit_intercept=True, sample_weight=None, penalty_factor=None,
                 positive=False, lower_bounds=None, upper_bounds=None, tol=1e-12,
                 max_iter=50000, polish=True):
    """:func:`enet_lbfgsb` with ``l1_ratio=1``. Returns ``(coef, intercept)``."""
    return enet_lbfgsb(X, y, alpha, 1.0, fit_intercept, sample_weight, penalty_factor,
                       positive, lower_bounds, upper_bounds, tol, max_iter, polish)


def lasso_orthogonal_closed_form(X, y, alpha, l1_ratio=1.0, fit_intercept=False,
                                 positive=False, rtol=1e-10):
    """Exact ElasticNet solution when the columns of ``X`` are orthogonal.

    If ``X^T X = diag(d)`` (after centering ``X`` and ``y`` when
    ``fit_intercept``), the objective ``1/(2n) |y - Xw - b|^2 + alpha rho |w|_1
    + alpha (1 - rho)/2 |w|^2`` separates over coordinates and

    .. math:: w_j = \\frac{S_{\\alpha \\rho}(x_j^\\top y / n)}{d_j / n + \\alpha (1 - \\rho)},

    with ``S_t`` the soft-thresholding (``max(., 0)`` instead when
    ``positive``), and ``b = mean(y) - mean(X) w``. A column with ``d_j = 0``
    and no penalty gets 0. Raises ``ValueError`` if the off-diagonal part of
    ``X^T X`` exceeds ``rtol`` times its largest diagonal entry.

    Returns
    -------
    coef : ndarray of shape (n_features,)
    intercept : float
    """
    X, y, _ = _prepare_regression(X, y, None)
    X = X.toarray() if sp.issparse(X) else np.array(X, dtype=np.float64)
    alpha = check_scalar(alpha, "alpha", low=0.0)
    l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)
    n = X.shape[0]
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    if fit_intercept:
        X, y = X - x_mean, y - y_mean
    gram = X.T @ X
    d = np.diag(gram).copy()
    off = gram - np.diag(d)
    scale = max(float(np.max(d)) if d.size else 0.0, np.finfo(float).tiny)
    if off.size and np.max(np.abs(off)) > rtol * scale:
        raise ValueError("the columns of X are not orthogonal (after centering when "
                         "fit_intercept=True)")
    corr = X.T @ y / n
    t = alpha * l1_ratio
    shrunk = np.maximum(corr - t, 0.0) if positive else np.sign(corr) * np.maximum(np.abs(corr) - t, 0.0)
    denom = d / n + alpha * (1.0 - l1_ratio)
    w = np.divide(shrunk, denom, out=np.zeros_like(shrunk), where=denom > 0)
    b = y_mean - float(x_mean @ w) if fit_intercept else 0.0
    return w, b


# ---------------------------------------------------------------------------
# logistic regression
# ---------------------------------------------------------------------------
def _logistic_binary_polish(X, ypm, w, b, sw, C, rho, fit_intercept, n_steps=20):
    """Newton's method on the support of ``w`` with its signs fixed (binary).

    On ``F = {j : w_j != 0}`` (all features when ``rho = 0``) the objective
    ``C sum_i s_i log(1 + exp(-y_i (x_i w + b))) + rho s_F^T w_F + (1-rho)/2 |w_F|^2``
    is smooth; damped Newton steps are taken while they
    keep the signs (Armijo backtracking, or a decrease of the gradient norm
    once the objective no longer resolves the decrease).
    """
    cols = np.flatnonzero(w != 0) if rho > 0 else np.arange(w.size)
    signs = np.sign(w[cols])
    A = _column_block(X, cols)
    if fit_intercept:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
    reg = np.full(cols.size, 1.0 - rho)
    lin = rho * signs
    if fit_intercept:
        reg, lin = np.append(reg, 0.0), np.append(lin, 0.0)
    offset = X @ np.where(np.isin(np.arange(w.size), cols), 0.0, w)
    theta = np.append(w[cols], b) if fit_intercept else w[cols].copy()

    def value_grad(th):
        m = ypm * (offset + A @ th)
        f = C * float(np.dot(sw, logistic_loss(m))) + float(lin @ th) + 0.5 * float(reg @ th ** 2)
        p = expit(-m)
        grad = C * A.T @ (-sw * ypm * p) + lin + reg * th
        return f, grad, p

    f, grad, p = value_grad(theta)
    for _ in range(n_steps):
        hess = C * A.T @ ((sw * p * (1.0 - p))[:, None] * A) + np.diag(reg)
        step = np.linalg.lstsq(hess, -grad, rcond=None)[0]
        decrease = float(grad @ step)
        if not decrease < 0:
            break
        # Armijo, or (near the optimum, where f no longer resolves the decrease)
        # a smaller gradient norm
        s, accepted = 1.0, False
        while s > 1e-10 and not accepted:
            cand = theta + s * step
            f_new, grad_new, p_new = value_grad(cand)
            accepted = (f_new <= f + 1e-4 * s * decrease
                        or np.linalg.norm(grad_new) < np.linalg.norm(grad))
            s *= 0.5
        if not accepted or (rho > 0 and np.any(np.sign(cand[:cols.size]) != signs)):
            break
        theta, f, grad, p = cand, f_new, grad_new, p_new
    w_new = w.copy()
    w_new[cols] = theta[:cols.size]
    return w_new, (float(theta[-1]) if fit_intercept else b)


def logistic_lbfgsb(X, y, C=1.0, penalty="l2", l1_ratio=None, fit_intercept=True,
                    sample_weight=None, classes=None, tol=1e-12, max_iter=50000, polish=True):
    """Minimize scikit-learn's penalized logistic objective by L-BFGS-B.

    Minimizes :func:`fastreg.reference.logistic_objective`,
    ``C sum_i s_i loss_i + rho |W|_1 + (1 - rho)/2 |W|^2`` (binary logistic
    loss for two classes, multinomial softmax loss for three or more, as
    scikit-learn 1.9 does), with split variables for the L1 part. Internally
    the objective is divided by ``C * sum(s)`` (mean loss scale) so that ``tol``
    does not depend on ``C`` or ``n_samples``. Binary problems are then
    polished by Newton's method on the support (kept if the duality gap
    decreases). Multinomial intercepts are returned centered (sum 0): the
    softmax loss does not change when a constant is added to all of them.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    y : array of shape (n_samples,), any labels
    C : float (``inf`` for no penalty)
    penalty : {'l1', 'l2', 'elasticnet', None}
    l1_ratio : float, required for ``'elasticnet'``
    fit_intercept : bool
    sample_weight : ndarray of shape (n_samples,), optional
    classes : array, optional
        The sorted labels (default ``np.unique(y)``).
    tol, max_iter, polish : as in :func:`enet_lbfgsb`

    Returns
    -------
    coef : ndarray of shape (n_features,) for two classes, (n_classes, n_features) otherwise
    intercept : float for two classes, ndarray of shape (n_classes,) otherwise
    """
    X, sw, classes, codes = _prepare_logistic(X, y, sample_weight, classes)
    C = check_scalar(C, "C", low=0.0, low_inclusive=False, allow_inf=True)
    rho = _penalty_ratio(penalty, l1_ratio, C)
    tol = check_scalar(tol, "tol", low=0.0, low_inclusive=False)
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    n_samples, n_features = X.shape
    K = 1 if len(classes) == 2 else len(classes)
    S = float(np.sum(sw))
    # objective / (C S) = mean_sw(loss) + r(W) / (C S)
    scale_pen = 0.0 if rho is None else 1.0 / (C * S)
    l1 = (rho if rho is not None else 0.0) * scale_pen
    l2 = (1.0 - rho if rho is not None else 0.0) * scale_pen
    q = K * n_features                      # number of coefficients
    nb = K if fit_intercept else 0
    ypm = np.where(codes == 1, 1.0, -1.0)
    Y = np.zeros((n_samples, K))
    if K > 1:
        Y[np.arange(n_samples), codes] = 1.0

    def fun(z):
        W = (z[:q] - z[q:2 * q]).reshape(K, n_features)
        b = z[2 * q:] if fit_intercept else np.zeros(K)
        Z = np.asarray(X @ W.T, dtype=np.float64) + b
        if K == 1:
            m = ypm * Z[:, 0]
            loss = float(np.dot(sw, logistic_loss(m))) / S
            G = (-sw * ypm * expit(-m))[:, None] / S            # d loss / d Z
        else:
            lse = np.logaddexp.reduce(Z, axis=1)
            loss = float(np.dot(sw, lse - np.sum(Z * Y, axis=1))) / S
            G = sw[:, None] * (softmax(Z, axis=1) - Y) / S
        grad_W = np.asarray(X.T @ G, dtype=np.float64).T.ravel()
        wp, wm = z[:q], z[q:2 * q]
        f = loss + l1 * float(np.sum(wp + wm)) + 0.5 * l2 * float(np.sum(wp ** 2 + wm ** 2))
        g = np.concatenate([grad_W + l1 + l2 * wp, -grad_W + l1 + l2 * wm])
        if fit_intercept:
            g = np.concatenate([g, G.sum(axis=0)])
        return f, g

    l1_vec = np.full(q, l1)
    no_bound = np.full(q, np.inf)
    bounds = _split_bounds(l1_vec, np.zeros(q, dtype=bool), -no_bound, no_bound)
    bounds += [(None, None)] * nb
    z = _lbfgsb(fun, np.zeros(2 * q + nb), bounds, tol, max_iter)
    W = (z[:q] - z[q:2 * q]).reshape(K, n_features)
    b = z[2 * q:] if fit_intercept else np.zeros(K)
    if K == 1:
        w, b0 = W[0], float(b[0])
        if polish and rho is not None:
            icpt = b0 if fit_intercept else None
            gap = _logistic_gap(X, ypm, w, icpt, sw, C, rho)[2]
            w_new, b_new = _logistic_binary_polish(X, ypm, w, b0, sw, C, rho, fit_intercept)
            primal, _, new_gap = _logistic_gap(X, ypm, w_new, b_new if fit_intercept else None,
                                               sw, C, rho)
            if new_gap <= gap or new_gap <= _ROUNDING * abs(primal):
                w, b0 = w_new, b_new
        return w, b0
    if fit_intercept:
        b = b - b.mean()
    return W, b
