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

L-BFGS-B runs with tight tolerances, but on split variables it stalls near the
optimum (about 1e-7 relative duality gap on ill-conditioned problems). The
result is therefore *polished*: least squares by an active-set
("feature-sign search") method that solves the problem restricted to the
current support and signs exactly, and corrects the support until the KKT
conditions hold; binary logistic regression by proximal Newton steps whose
subproblems are solved by that same active-set method. The polished point is
kept only if its duality gap is not larger. Multinomial problems are not
polished. Objectives and scalings are those of
:mod:`fastreg.reference.objectives`.

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
    """One scipy L-BFGS-B run; returns ``(z, f(z))``."""
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(maxcor=50, ftol=0.0, gtol=tol, maxiter=max_iter,
                                maxfun=2 * max_iter, maxls=100))
    return res.x, float(res.fun)


def _split(w, split_mask):
    """``[w_plus, w_minus]`` of ``w``; unsplit coordinates go to ``w_plus``."""
    wp = np.where(split_mask, np.maximum(w, 0.0), w)
    wm = np.where(split_mask, np.maximum(-w, 0.0), 0.0)
    return np.concatenate([wp, wm])


def _lbfgsb_then_polish(fun, z0, bounds, tol, max_iter, finish, chunk=500):
    """L-BFGS-B by chunks of ``chunk`` iterations, each followed by ``finish``.

    ``finish(z)`` polishes and returns ``(z_polished, gap, primal)``. Stops as
    soon as the gap is below ``1e-13 * max(1, |primal|)``, when L-BFGS-B no
    longer decreases its objective, or after ``max_iter`` iterations in total;
    returns the point with the smallest gap.
    """
    z, best, done, f_prev = z0, None, 0, np.inf
    while done < max_iter:
        n_iter = min(chunk, max_iter - done)
        z, f = _lbfgsb(fun, z, bounds, tol, n_iter)
        done += n_iter
        z_pol, gap, primal = finish(z)
        if best is None or gap < best[1]:
            best = (z_pol, gap)
        if gap <= 1e-13 * max(1.0, abs(primal)) or not f < f_prev:
            break
        f_prev = f
        z = best[0]
    return best[0]


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
                              max_steps=1000, max_free=2500):
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
    in one solve at the exact optimum. The input is returned unchanged if
    more than ``max_free`` coordinates are free at the start (dense systems of
    that size are not worth it for a reference).

    References
    ----------
    Lee, Battle, Raina, Ng (2007), "Efficient sparse coding algorithms", NIPS.
    """
    w = w.copy()
    S = float(np.sum(sw))
    free = ~excluded & (w > lower) & (w < upper) & ((w != 0) | (l1 == 0))
    signs = np.sign(w)
    if np.count_nonzero(free) > max_free:
        return w, b
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
        Total number of L-BFGS-B iterations. With ``polish``, L-BFGS-B runs by
        chunks of 500 iterations, each followed by the polishing step; it stops
        once the duality gap is below ``1e-13 * max(1, primal)`` or L-BFGS-B
        stalls.
    polish : bool
        Whether to refine L-BFGS-B's point with the active-set method (see the
        module docstring). Without it, one L-BFGS-B run.

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
    pen = (l1, l2, excluded, lower, upper)
    split_mask = ~excluded & (l1 > 0)

    def unpack(z):
        w = z[:p] - z[p:2 * p]
        w[excluded] = 0.0
        # optimal intercept for this w: weighted mean of y - Xw
        b = float(np.dot(sw, y - X @ w)) / S if fit_intercept else 0.0
        return w, b

    def finish(z):
        w, b = unpack(z)
        primal, _, gap = _enet_gap(X, y, w, b if fit_intercept else None, sw, *pen)
        w_new, b_new = _enet_feature_sign_polish(X, y, w, b, sw, *pen, fit_intercept)
        primal_new, _, new_gap = _enet_gap(X, y, w_new, b_new if fit_intercept else None,
                                           sw, *pen)
        if new_gap <= gap or new_gap <= _ROUNDING * abs(primal_new):
            w, b, gap, primal = w_new, b_new, new_gap, primal_new
        z = _split(w, split_mask)
        return (np.append(z, b) if fit_intercept else z), gap, primal

    if polish:
        z = _lbfgsb_then_polish(fun, z0, bounds, tol, max_iter, finish)
    else:
        z = _lbfgsb(fun, z0, bounds, tol, max_iter)[0]
    w, b = unpack(z)
    if polish and fit_intercept:
        b = float(z[2 * p])
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
    if positive:
        shrunk = np.maximum(corr - t, 0.0)
    else:
        shrunk = np.sign(corr) * np.maximum(np.abs(corr) - t, 0.0)
    denom = d / n + alpha * (1.0 - l1_ratio)
    w = np.divide(shrunk, denom, out=np.zeros_like(shrunk), where=denom > 0)
    b = y_mean - float(x_mean @ w) if fit_intercept else 0.0
    return w, b


# ---------------------------------------------------------------------------
# logistic regression
# ---------------------------------------------------------------------------
def _logistic_prox_newton_polish(X, ypm, w, b, sw, C, rho, fit_intercept, max_steps=50):
    """Proximal Newton steps with exactly solved subproblems (binary logistic).

    At ``z = Xw + b`` the loss ``C sum_i s_i log(1 + exp(-y_i z_i))`` is replaced
    by its second-order model, a weighted least squares
    ``1/2 sum_i h_i (ytilde_i - z_i')^2`` with ``h_i = C s_i p_i (1 - p_i)``,
    ``p_i = sigmoid(-y_i z_i)`` and working response ``ytilde_i = z_i + y_i / (1 - p_i)``
    (IRLS). The penalized model is minimized exactly by
    :func:`_enet_feature_sign_polish` (ElasticNet with weights ``h``, so
    ``l1 = rho / sum(h)`` and ``l2 = (1 - rho) / sum(h)`` in that scaling),
    warm-started at ``w``; then a backtracking line search on the true objective
    along the step (Armijo with the proximal-Newton decrease
    ``grad^T d + r(w + d) - r(w)``; once that decrease is below the rounding
    level of the objective, full steps are taken as long as the objective does
    not increase beyond rounding). Stops when the step vanishes.

    References
    ----------
    Friedman, Hastie, Tibshirani (2010), "Regularization paths for generalized
    linear models via coordinate descent", J. Stat. Softw. 33(1); Lee, Sun,
    Saunders (2014), "Proximal Newton-type methods for minimizing composite
    functions", SIAM J. Optim. 24(3).
    """
    n_features = w.size
    w = w.copy()
    excluded = np.zeros(n_features, dtype=bool)
    no_bound = np.full(n_features, np.inf)

    def penalty(v):
        return rho * float(np.sum(np.abs(v))) + 0.5 * (1.0 - rho) * float(v @ v)

    def objective(v, c):
        return C * float(np.dot(sw, logistic_loss(ypm * (X @ v + c)))) + penalty(v)

    f = objective(w, b)
    for _ in range(max_steps):
        z = np.asarray(X @ w, dtype=np.float64) + b
        p, q = expit(-ypm * z), expit(ypm * z)
        h = C * sw * p * q
        if not np.sum(h) > 0:
            break
        ytilde = z + ypm / np.maximum(q, 1e-300)
        scale = float(np.sum(h))
        w_t, b_t = _enet_feature_sign_polish(
            X, ytilde, w, b, h, np.full(n_features, rho / scale),
            np.full(n_features, (1.0 - rho) / scale), excluded, -no_bound, no_bound,
            fit_intercept)
        d, db = w_t - w, b_t - b
        dz_grad = -C * sw * ypm * p                      # d loss / d z
        predicted = float(dz_grad @ (X @ d + db)) + penalty(w_t) - penalty(w)
        rounding = _ROUNDING * max(1.0, abs(f))
        vanished = (np.max(np.abs(d), initial=0.0) <= 1e-15 * max(1.0, np.max(np.abs(w), initial=0.0))
                    and abs(db) <= 1e-15 * max(1.0, abs(b)))
        if not predicted <= rounding or vanished:
            break
        step, accepted = 1.0, False
        while step > 1e-10:
            w_c, b_c = w + step * d, b + step * db
            f_c = objective(w_c, b_c)
            # Armijo; at rounding level, near the optimum, the full Newton step
            if (f_c <= f + 1e-4 * step * predicted
                    or (-predicted <= rounding and f_c <= f + rounding)):
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        w, b, f = w_c, b_c, f_c
    return w, b


def logistic_lbfgsb(X, y, C=1.0, penalty="l2", l1_ratio=None, fit_intercept=True,
                    sample_weight=None, classes=None, tol=1e-12, max_iter=50000, polish=True):
    """Minimize scikit-learn's penalized logistic objective by L-BFGS-B.

    Minimizes :func:`fastreg.reference.logistic_objective`,
    ``C sum_i s_i loss_i + rho |W|_1 + (1 - rho)/2 |W|^2`` (binary logistic
    loss for two classes, multinomial softmax loss for three or more, as
    scikit-learn 1.9 does), with split variables for the L1 part. Internally
    the objective is divided by ``C * sum(s)`` (mean loss scale) so that ``tol``
    does not depend on ``C`` or ``n_samples``. Penalized binary problems
    are then polished by proximal Newton (kept if the duality gap does not
    increase); multinomial results are L-BFGS-B's (no duality gap available),
    with the intercepts returned centered (sum 0): the softmax loss does not
    change when a constant is added to all of them.

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
    z0 = np.zeros(2 * q + nb)
    if K == 1 and polish and rho is not None:
        def finish(z):
            w = z[:q] - z[q:2 * q]
            b0 = float(z[2 * q]) if fit_intercept else 0.0
            primal, _, gap = _logistic_gap(X, ypm, w, b0 if fit_intercept else None, sw, C, rho)
            w_new, b_new = _logistic_prox_newton_polish(X, ypm, w, b0, sw, C, rho, fit_intercept)
            primal_new, _, new_gap = _logistic_gap(X, ypm, w_new,
                                                   b_new if fit_intercept else None, sw, C, rho)
            if new_gap <= gap or new_gap <= _ROUNDING * abs(primal_new):
                w, b0, gap, primal = w_new, b_new, new_gap, primal_new
            z = _split(w, np.full(q, rho > 0))
            return (np.append(z, b0) if fit_intercept else z), gap, primal

        z = _lbfgsb_then_polish(fun, z0, bounds, tol, max_iter, finish)
        return z[:q] - z[q:2 * q], (float(z[2 * q]) if fit_intercept else 0.0)
    z = _lbfgsb(fun, z0, bounds, tol, max_iter)[0]
    W = (z[:q] - z[q:2 * q]).reshape(K, n_features)
    b = z[2 * q:] if fit_intercept else np.zeros(K)
    if K == 1:
        return W[0], float(b[0])
    if fit_intercept:
        b = b - b.mean()
    return W, b
