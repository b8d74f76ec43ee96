"""Proximal Newton with working sets for L1 / L2 / elastic-net logistic regression.

Problem solved by :func:`logistic_prox_newton` (``y_i`` in {-1, +1},
``c_i >= 0``; scikit-learn's ``LogisticRegression`` is ``c = C * sample_weight``)::

    min_{w, b}  P(w, b) = sum_i c_i log(1 + exp(-y_i (x_i^T w + b)))
                          + rho ||w||_1 + (1 - rho) / 2 ||w||^2

(``rho = None``: no penalty). The intercept ``b`` is not penalized.

Algorithm (outer loop and line search in Python, every O(n) or O(nnz) pass compiled):

1. **Certificate.** At the current ``w``, the intercept is set to its optimum
   for that ``w`` (1-D safeguarded Newton, :func:`fastreg._newton.binary_intercept_shift`),
   and with ``p_i = sigmoid(-y_i z_i)``, ``u_i = c_i y_i p_i`` (so that
   ``sum_i u_i = 0`` exactly at the optimal intercept) and ``v = X^T u``, the
   Fenchel dual of the problem gives, for ``t`` in ``[0, 1]``,

       D(t p) = sum_i c_i H(t p_i) - G^*(t v),   H(a) = -a log a - (1 - a) log(1 - a),

   ``G^*`` the conjugate of the penalty (``sum_j ST(v_j, rho)^2 / (2 (1 - rho))``
   if ``rho < 1``; for ``rho = 1`` the indicator of ``||v||_inf <= 1``, hence
   ``t = min(1, 1 / ||v||_inf)``). The duality gap ``P - max D`` (best dual
   value kept) is the stopping criterion: ``gap <= tol * P0`` with ``P0`` the
   objective of the null model (``w = 0``, optimal intercept). The
   derivatives pass also returns ``E(1) = sum_i c_i H(p_i)`` and
   ``E'(1) = sum_i c_i p_i y_i z_i`` (:func:`fastreg._newton.binary_derivatives_dual`):
   at ``t = 1`` the dual value is exact without another pass, and for
   ``t < 1`` the concavity of ``E(t) = sum_i c_i H(t p_i)`` bounds it by
   ``E(1) + (t - 1) E'(1)``; while that bound already leaves a gap above the
   tolerance, the exact pass (:func:`fastreg._newton.binary_entropy`) is
   skipped (it is run whenever the gap's value is used: CD-form inner
   tolerance, the last pass). Without a
   penalty there is no finite dual in general: the criterion is then the
   gradient norm ``max(||X^T g||_inf, |sum_i g_i|) <= tol * (same at w = 0)``.
2. **Working set**: the non-zero features plus those with the largest
   violation of the optimality condition ``|v_j| <= rho`` (smallest
   ``rho - |v_j|``), of size ``max(p0, 2 |support|)`` (skglm's rule); all
   features for ``rho = 0`` or no penalty.
3. **Proximal Newton steps on the working set** (Lee, Sun & Saunders 2014):
   the logistic loss is replaced by its second-order model at ``z = Xw + b``,
   the weighted least squares ``1/2 sum_i h_i (t_i - x_i^T w' - b')^2`` with
   Hessian weights ``h_i`` and working response ``t = z - g / h``
   (:func:`fastreg._newton.binary_derivatives`), whose penalized minimizer is
   computed by the coordinate-descent engine's weighted kernel
   (:func:`fastreg._cd.cd_solve_dense` / ``cd_solve_sparse``, intercept by
   implicit centering, Anderson acceleration) to a duality gap of ``eta``
   times the current one; then a backtracking (Armijo) line search on the
   true objective along ``(w' - w, b' - b)``, with the proximal-Newton
   decrease ``g^T X d + r(w') - r(w)``. When the working set is small
   relative to the cost of an epoch over its columns (:func:`_gram_choice`),
   the subproblem is instead solved in Gram form: ``[X_ws, 1]^T diag(h) [X_ws, 1]``
   is built once per Newton step (:func:`fastreg._newton.gram_ws_dense` /
   ``gram_ws_sparse_blocks``, rows gathered from the columns in blocks) and CD runs on it with epochs independent of
   ``n_samples`` (:func:`fastreg._newton.quad_cd_gram`; glmnet's covariance
   updates, Friedman, Hastie, Tibshirani 2010), to an optimality violation of
   ``eta`` times the initial one, with a Newton step on the support of the
   model's iterate every ``_SUPPORT_EVERY`` epochs without convergence
   (:func:`_support_newton`). The forcing term ``eta`` is adaptive
   (:func:`_forcing`, Lee, Sun & Saunders 2014): ``min(0.1, v_k / v_{k-1})``
   for the working-set optimality violations ``v`` of the last two Newton
   iterates, floored at ``1e-3``: loose subproblems far from the solution,
   tight ones in the superlinear phase. Every subproblem is cut after
   ``_DIR_EPOCHS`` CD epochs (a truncated CD run from the current point still
   gives a descent direction), so that a rank-deficient or ill-conditioned
   Hessian (more features than samples, weak regularization) costs a bounded
   amount of work per Newton step. The unit step of the line search, its
   derivatives and ``grad^T X d`` are evaluated in one pass over the samples
   (:func:`fastreg._newton.binary_trial_derivatives`; one pass per accepted
   step). When the working set holds at least half of ``X``'s entries, the
   restricted gradient after a step is taken from the full ``X^T grad``,
   which the next certificate reuses (no intercept shift in between). Steps are repeated until the working-set optimality
   violation is below ``0.3`` times the full one (celer's and skglm's rule).

Multinomial (softmax) problems: :func:`fastreg.solvers.prox_newton_multinomial.multinomial_prox_newton` (working-set
proximal Newton on the full softmax Hessian, inexact subproblems with the same
adaptive forcing term, stopped by the optimality violation).

References
----------
Lee, Sun, Saunders (2014), Proximal Newton-type methods for minimizing composite
functions, SIAM J. Optim. 24(3).
Massias, Gramfort, Salmon (2018), Celer: a fast solver for the Lasso with dual
extrapolation, ICML (working sets, dual points for logistic regression:
Massias, Vaiter, Gramfort, Salmon (2020), Dual extrapolation for sparse GLMs, JMLR 21).
Bertrand, Klopfenstein, Massias, Blondel, Vaiter, Gramfort, Salmon (2022),
Beyond L1: faster and better sparse models with skglm, NeurIPS (prox-Newton
with working sets).
Friedman, Hastie, Tibshirani (2010), Regularization paths for generalized
linear models via coordinate descent, J. Stat. Softw. 33(1) (IRLS form).
"""
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from sklearn.exceptions import ConvergenceWarning

from .. import _cd, _newton
from .design import Design, n_threads_default

__all__ = ["LogisticResult", "logistic_prox_newton", "binary_logistic_gap"]

_ARMIJO = 1e-4
_MIN_STEP = 1e-10
_GRAM_RTOL = 1e-3   # binary: smallest forcing term (subproblem violation / initial one)
_ETA_MAX = 0.1      # binary: largest forcing term
_SUPPORT_EVERY = 50  # binary, Gram form: CD epochs between Newton steps on the support
_SUPPORT_MAX = 300   # binary, Gram form: largest support solved directly
_DIR_EPOCHS = 200   # binary: CD epochs per Newton direction at most (truncated CD still descends)


def _forcing(v, v_prev):
    """Forcing term of the next subproblem: ``min(0.1, v / v_prev)`` floored at ``_GRAM_RTOL``.

    ``v``, ``v_prev``: optimality violations at the last two Newton iterates
    (Lee, Sun & Saunders 2014, section 3.3: loose subproblems far from the
    solution, tight ones as the outer iteration converges superlinearly).
    """
    if not np.isfinite(v_prev):
        return _ETA_MAX     # first Newton step
    if not v_prev > 0.0:
        return _GRAM_RTOL
    return min(_ETA_MAX, max(_GRAM_RTOL, v / v_prev))


@dataclass
class LogisticResult:
    """Output of :func:`logistic_prox_newton`.

    Attributes
    ----------
    coef : ndarray (n_features,), X's dtype
    intercept : float
    gap : float
        Duality gap at exit (objective units; NaN without penalty).
    violation : float
        Gradient norm at exit without penalty (NaN with a penalty).
    primal : float
        ``P(coef, intercept)``.
    p0 : float
        Objective of the null model (optimal intercept).
    n_iter : int
        Outer iterations (full gap computations).
    n_newton : int
        Proximal Newton steps.
    n_epochs : int
        CD epochs over all subproblems.
    converged : bool
    """
    coef: np.ndarray
    intercept: float
    gap: float
    violation: float
    primal: float
    p0: float
    n_iter: int
    n_newton: int
    n_epochs: int
    converged: bool


def _work_size(K, m, n):
    """Scratch length of the CD kernels (:func:`fastreg._cd.work_size` when present)."""
    if hasattr(_cd, "work_size"):
        return _cd.work_size(K, m, n)
    return (K + 3) * m


def _penalty(w, rho):
    if rho is None:
        return 0.0
    w = w.astype(np.float64, copy=False)
    # products summed by numpy, not BLAS dots: a threaded BLAS call per Newton step wakes
    # its spinning worker threads for vectors this small (CPU time of a whole core)
    l1 = rho * float(np.abs(w).sum()) if rho > 0.0 else 0.0
    return l1 + 0.5 * (1.0 - rho) * float(np.sum(w * w)) if rho < 1.0 else l1


def _penalty_change(w, d, step, rho):
    """``G(w + step d) - G(w)`` summed term by term (no cancellation between two large sums)."""
    if rho is None:
        return 0.0
    w = w.astype(np.float64)
    wn = w + step * d
    l1 = rho * float(np.sum(np.abs(wn) - np.abs(w))) if rho > 0.0 else 0.0
    return l1 + 0.5 * (1.0 - rho) * float(np.sum((step * d) * (wn + w))) if rho < 1.0 else l1


def _penalty_slope_end(w, d, rho):
    """Left derivative of ``t -> G(w + t d)`` at ``t = 1`` (``G`` the penalty).

    A coordinate that lands exactly on 0 contributes ``-|d_j|`` (its slope
    just before the kink).
    """
    if rho is None:
        return 0.0
    w = w.astype(np.float64)
    wn = w + d
    s = np.where(wn != 0.0, np.sign(wn), -np.sign(d))
    return rho * float(np.dot(s, d)) + (1.0 - rho) * float(np.dot(wn, d))


def _unit_step_descends(grad_t, Xd, db, w, d, rho):
    """Whether ``F(w + t d)`` does not increase on ``[0, 1]``: its slope at ``t = 1`` is ``<= 0``.

    ``F`` is convex along the segment, so a non-positive left derivative at
    the end proves ``F(1) <= F(t)`` for every ``t`` in ``[0, 1]``, without
    the cancellation of a difference of two objective values: near the
    optimum a Newton step's decrease falls below the rounding error of ``F``
    (a sum of ``n`` losses), and a test on values then rejects good steps at
    random (w8a: the gap stalled at 1e-8 relative). ``grad_t`` is the loss
    derivative at the unit step's scores, ``Xd + db`` the scores' change.
    """
    slope = float(np.dot(grad_t, Xd)) + db * float(grad_t.sum())
    return slope + _penalty_slope_end(w, d, rho) <= 0.0


def _conjugate(v, rho):
    """``G^*(v)`` for ``G = rho |.|_1 + (1 - rho)/2 |.|^2`` (``rho < 1``; 0 for rho = 1)."""
    if rho >= 1.0:
        return 0.0
    st = np.maximum(np.abs(v) - rho, 0.0)
    return float(np.sum(st * st)) / (2.0 * (1.0 - rho))


def _rescale(v, rho):
    """Dual rescaling ``t = min(1, 1 / ||v||_inf)`` for ``rho = 1`` (1 otherwise)."""
    if rho >= 1.0 and v.size:
        vmax = float(np.max(np.abs(v)))
        if vmax > 1.0:
            return 1.0 / vmax
    return 1.0


def _dual(z, y, c, v, rho):
    """Dual value at the rescaled point (see the module docstring)."""
    t = _rescale(v, rho)
    return _newton.binary_entropy(z, y, c, t) - _conjugate(t * v, rho)


def _dual_or_bound(z, y, c, v, rho, E1, dE1, below):
    """Dual value at the rescaled point, or an upper bound of it when that bound is ``< below``.

    ``E1 = sum_i c_i H(p_i)`` and ``dE1 = sum_i c_i p_i m_i`` come from the
    derivatives pass (:func:`fastreg._newton.binary_derivatives_dual`). At
    ``t = 1`` the dual value is ``E1 - G^*(v)``, exact. Otherwise
    (``rho = 1``, ``G^*(t v) = 0``) the concavity of ``t -> sum_i c_i H(t p_i)``
    bounds it by ``E1 + (t - 1) dE1``: when that bound is already below ``below``
    (the primal minus the tolerance, with a rounding margin), the gap is
    certainly above the tolerance and the exact pass over the samples
    (:func:`fastreg._newton.binary_entropy`) is skipped.

    Returns
    -------
    D : float
    exact : bool
        False: ``D`` is the upper bound.
    """
    t = _rescale(v, rho)
    if t == 1.0:
        return E1 - _conjugate(v, rho), True
    bound = E1 + (t - 1.0) * dE1
    margin = 64 * np.finfo(np.float64).eps * (abs(E1) + abs(dE1))
    if bound + margin < below:
        return bound, False
    return _newton.binary_entropy(z, y, c, t), True


def binary_logistic_gap(X, y, c, w, intercept, rho, *, n_threads=1):
    """Duality gap of the binary problem at ``(w, intercept)``; ``intercept=None``: no intercept.

    Same certificate as the solver (and as
    :func:`fastreg.reference.objectives.logistic_duality_gap`, which it is
    tested against): the dual point is built at the optimal intercept for
    ``w``. ``X`` validated (Fortran dense or CSC int32), ``y`` in {-1, +1} and
    ``c`` (``C * sample_weight``) of X's dtype, ``rho`` in ``[0, 1]``.

    Returns
    -------
    primal, dual, gap : float
    """
    design = Design(X, n_threads)
    Xw = _matvec(design, w)
    b = 0.0 if intercept is None else float(intercept)
    z = Xw + b
    primal = _newton.binary_loss(z, np.zeros_like(z), y, c, 0.0) + _penalty(w, rho)
    if intercept is not None:
        z = z + _newton.binary_intercept_shift(z, y, c)
    grad = np.empty(z.size)
    hess = np.empty(z.size, dtype=X.dtype)
    resp = np.empty(z.size, dtype=X.dtype)
    _newton.binary_derivatives(z, y, c, grad, hess, resp, 0.0)
    v = design.xtv((-grad).astype(X.dtype), np.arange(X.shape[1], dtype=np.int32))
    dual = _dual(z, y, c, v, rho)
    return primal, dual, primal - dual


def _xt(design, g, ws):
    """``X_ws^T g`` (``g`` float64; cast to X's dtype only for float32 X)."""
    return design.xtv(g if g.dtype == design.X.dtype else g.astype(design.X.dtype), ws)


def _matvec(design, w):
    """``X w`` in float64 (over the support of ``w``)."""
    out = np.zeros(design.X.shape[0], dtype=design.X.dtype)
    support = np.flatnonzero(w)
    if support.size:
        design.axpy_columns(w[support].astype(np.float64), support, out)
    return out.astype(np.float64)


def _binary_violation(v, w, rho, g_icpt):
    """Largest distance of ``v = -X^T grad`` (restricted) to the subdifferential of the penalty at ``w``.

    ``g_icpt``: the intercept's gradient ``sum_i grad_i`` (0 without intercept).
    """
    w = w.astype(np.float64)
    g = -v + (1.0 - rho) * w
    viol = np.where(w != 0, np.abs(g + rho * np.sign(w)), np.maximum(np.abs(g) - rho, 0.0))
    return max(float(np.max(viol, initial=0.0)), abs(g_icpt))


def _gram_direction(design, grad, hess, r_ws, w, b, ws, l1, l2, fit_intercept, max_epochs, rtol):
    """Proximal Newton direction on ``ws`` by CD on the model in Gram form.

    The model gradient at ``(w, b)`` is ``[X_ws, 1]^T grad`` and its Hessian
    :func:`_gram`; :func:`fastreg._newton.quad_cd_gram` minimizes the penalized
    model until its optimality violation is ``rtol`` times the initial one
    (the inexact proximal Newton rule of Lee, Sun & Saunders 2014, forcing term
    :func:`_forcing`) or ``max_epochs`` epochs were run. Every ``_SUPPORT_EVERY``
    epochs without convergence, a Newton step on the current support
    (:func:`_support_newton`) follows: on ill-conditioned or rank-deficient
    models (more features than samples, weak regularization) CD alone
    converges very slowly once the support is found.

    Returns
    -------
    d : ndarray (m,), float64
        Change of ``w[ws]``.
    db : float
        Change of the intercept (0 without).
    epochs : int
    """
    m = ws.size
    fi = bool(fit_intercept)
    Q = _gram(design, hess, ws, fi)
    r = np.empty(m + fi)
    r[:m] = r_ws
    if fi:
        r[m] = float(grad.sum())
    x0 = np.empty(m + fi)
    x0[:m] = w[ws]
    if fi:
        x0[m] = b
    l1w = np.ascontiguousarray(l1[ws], dtype=np.float64)
    l2w = np.ascontiguousarray(l2[ws], dtype=np.float64)
    x = x0.copy()
    # initial violation of the subproblem (= the true one on ws at (w, b))
    g = r[:m] + l2w * x0[:m]
    viol = np.where(x0[:m] != 0, np.abs(g + l1w * np.sign(x0[:m])),
                    np.maximum(np.abs(g) - l1w, 0.0))
    v0 = max(float(np.max(viol, initial=0.0)), abs(float(r[m])) if fi else 0.0)
    tol_sub = rtol * v0
    ep = 0
    while ep < max_epochs:
        chunk = int(min(max_epochs - ep, _SUPPORT_EVERY))
        e, viol_cd = _newton.quad_cd_gram(Q, r, x, l1w, l2w, int(fi), tol_sub, chunk)
        ep += e
        if viol_cd <= tol_sub or \
                not _support_newton(Q, r, x, l1w, l2w, m, fi, design.X.shape[0]):
            break
    d = x[:m] - x0[:m]
    db = float(x[m] - x0[m]) if fi else 0.0
    return d, db, ep


def _support_newton(Q, r, x, l1w, l2w, m, fi, n_samples):
    """Minimize the Gram-form model on the support of ``x`` with its signs fixed (in place).

    The model (:func:`fastreg._newton.quad_cd_gram`; ``r`` its smooth gradient
    at ``x``) restricted to ``S = supp(x[:m])`` (plus the intercept) and the
    orthant of ``sign(x_S) = s`` is the quadratic
    ``q(x_S + e) = q(x_S) + g_S^T e + 1/2 e^T H e`` with
    ``g_S = r_S + l1_S s + l2_S x_S``, ``H = Q_SS + diag(l2_S)``; its
    minimizer ``e = -H^{-1} g_S`` (Cholesky; only for ``|S| <= n_samples``,
    where ``H`` is generically positive definite) is followed up to the first
    sign change, where that coordinate is set to 0. The model decreases along
    ``t e``, ``t`` in ``[0, 1]``. ``r`` is updated.

    Returns
    -------
    bool
        Whether ``x`` changed (False: empty or too large support, singular
        ``H``, no decrease).
    """
    S = np.flatnonzero(x[:m])
    k = S.size
    if k == 0 or k + fi > min(_SUPPORT_MAX, n_samples):
        return False
    idx = np.append(S, m) if fi else S
    sgn = np.sign(x[S])
    g = r[idx].copy()
    g[:k] += l1w[S] * sgn + l2w[S] * x[S]
    H = Q[np.ix_(idx, idx)]
    H[np.arange(k), np.arange(k)] += l2w[S]
    x_new = _orthant_newton(H, g, x[idx], np.arange(idx.size) < k)
    if x_new is None:
        return False
    step = x_new - x[idx]
    x[idx] = x_new
    r += Q[:, idx] @ step
    return True


def _orthant_newton(H, g, x, signed):
    """Sign-fixed Newton step of a quadratic: the new ``x``, or None if it does not decrease it.

    The model is ``q(x + e) = q(x) + g^T e + 1/2 e^T H e`` on the orthant of
    the signs of ``x[signed]`` (all non-zero; ``signed`` a boolean mask, the
    other entries are free, e.g. intercepts). ``e = -H^{-1} g`` (Cholesky) is
    followed up to the first sign change of ``x[signed]``, where that entry is
    set to 0; the model decreases along ``t e``, ``t`` in ``[0, 1]``. None:
    ``H`` not positive definite, non-finite step, or no decrease.
    """
    try:
        e = cho_solve(cho_factor(H, check_finite=False), -g, check_finite=False)
    except (LinAlgError, ValueError):
        return None
    if not np.all(np.isfinite(e)):
        return None
    # largest step keeping the signs of the support
    xs, es = x[signed], e[signed]
    sgn = np.sign(xs)
    cross = (xs + es) * sgn < 0
    t = 1.0
    if np.any(cross):
        t = float(np.min(-xs[cross] / es[cross]))
    change = t * float(g @ e) + 0.5 * t * t * float(e @ (H @ e))
    if not (t > 0.0 and change < 0.0):
        return None
    x_new = x + t * e
    if t < 1.0:
        xs_new = x_new[signed]
        xs_new[cross & (-xs / np.where(es == 0, 1.0, es) <= t)] = 0.0
        x_new[signed] = xs_new
    return x_new


def _col_stats_ws(design, h, ws, mu, lips, fit_intercept):
    if design.sparse:
        _newton.col_stats_ws_sparse(design.data, design.indices, design.indptr, h, ws, mu, lips,
                                    bool(fit_intercept))
    else:
        _newton.col_stats_ws_dense(design.X, h, ws, mu, lips, bool(fit_intercept))


_GRAM_EPOCHS = 100  # CD epochs per subproblem assumed when choosing the Gram form
_GRAM_MAX = 2000     # largest working set solved in Gram form


def _gram_choice(design, ws, n, nnz_cols=None):
    """Whether the subproblem on ``ws`` is cheaper in Gram form (estimated flops).

    Column-wise CD costs about ``2 nnz(X_ws)`` per epoch; the Gram form costs
    building ``X_ws^T diag(h) X_ws`` (``m^2 n / 2`` multiply-adds on dense X,
    ``sum_i c_i^2`` for sparse X, ``c_i`` the non-zeros of row ``i`` in ``ws``)
    plus about ``m^2 / 2`` per epoch (``O(m)`` per changed coordinate).
    """
    m = ws.size
    if m > _GRAM_MAX:
        return False
    if design.sparse:
        X = design.X
        counts = (np.diff(X.indptr) if nnz_cols is None else nnz_cols)[ws]
        nnz_ws = float(counts.sum())
        # upper estimate of sum_i c_i^2 from the densest columns (no pass over X):
        # the rows of a column hold at most min(m, nnz_ws / (nnz_col ...)) entries of ws
        per_row = nnz_ws / max(n, 1)
        build = nnz_ws * max(per_row, 1.0) * 2.0
    else:
        nnz_ws = float(m) * n
        build = m * m * n / 2.0
    return build + _GRAM_EPOCHS * m * m / 2.0 <= _GRAM_EPOCHS * 2.0 * nnz_ws


def _gram(design, h, ws, fit_intercept):
    """``[X_ws, 1]^T diag(h) [X_ws, 1]`` in float64 (the last row/column only if ``fit_intercept``)."""
    X = design.X
    m = ws.size
    Q = np.empty((m + fit_intercept, m + fit_intercept))
    if design.sparse:
        # serial (results independent of the thread count): two threads halve a large build
        # on an idle machine (w8a, 130 columns: 8.8 -> 4.8 ms) but cost far more than they
        # save on a loaded one, and the solver's gain measured at most a few percent
        _newton.gram_ws_sparse_blocks(design.data, design.indices, design.indptr, h, ws, Q, 1)
    else:
        _newton.gram_ws_dense(X, h, ws, Q, np.empty(X.shape[0]))
    return Q


def logistic_prox_newton(X, y, c, rho, *, fit_intercept=True, coef_init=None, intercept_init=0.0,
                         tol=1e-4, max_iter=100, max_newton=50, max_epochs=10_000, p0=10,
                         anderson_k=5, hess_floor=None, verbose=0, warn=True, n_threads=None):
    """Binary penalized logistic regression by working-set proximal Newton.

    Parameters
    ----------
    X : ndarray (n_samples, n_features) Fortran-ordered, or CSC matrix (int32 indices)
        As returned by :func:`fastreg._validation.check_X`; never copied.
    y : ndarray (n_samples,), X's dtype
        Labels in {-1, +1}.
    c : ndarray (n_samples,), X's dtype
        Non-negative per-sample weights of the loss (``C * sample_weight``;
        ``sample_weight`` alone without penalty). Both classes need a positive
        total weight when ``fit_intercept``.
    rho : float in [0, 1] or None
        L1 share of the penalty ``rho |w|_1 + (1 - rho)/2 |w|^2``; None: no penalty.
    fit_intercept : bool
    coef_init, intercept_init : warm start (copied)
    tol : float
        Stop when the duality gap is ``<= tol * P0`` (penalized), or the
        gradient norm ``<= tol`` times its value at ``w = 0`` (no penalty). The
        threshold is floored at the rounding level of the objective
        (``32 eps P0``; ``4 eps`` in float32).
    max_iter : int
        Maximum number of outer iterations (gap computations / working sets).
    max_newton : int
        Maximum number of proximal Newton steps per working set.
    max_epochs : int
        Maximum number of CD epochs per Newton subproblem.
    p0 : int
        Minimal working-set size.
    anderson_k : int
        Anderson memory of the inner CD (0: none).
    hess_floor : float or None
        Floor of ``p (1 - p)`` in the Hessian weights (default ``1e-10``,
        ``1e-6`` in float32): see :mod:`fastreg._newton`.
    verbose : int
    warn : bool
        :class:`~sklearn.exceptions.ConvergenceWarning` if not converged.
    n_threads : int or None
        OpenMP threads of the full ``X^T v`` passes.

    Returns
    -------
    LogisticResult
    """
    design = Design(X, n_threads_default() if n_threads is None else max(1, int(n_threads)))
    dtype = X.dtype
    n, p = X.shape
    y = np.ascontiguousarray(y, dtype=dtype)
    c = np.ascontiguousarray(c, dtype=dtype)
    penalized = rho is not None
    if hess_floor is None:
        hess_floor = 1e-10 if dtype == np.float64 else 1e-6
    eps = float(np.finfo(dtype).eps)
    floor_rel = 32 * np.finfo(np.float64).eps if dtype == np.float64 else 4 * eps

    w = np.zeros(p, dtype=dtype) if coef_init is None else \
        np.array(coef_init, dtype=dtype).reshape(p)
    b = float(intercept_init) if fit_intercept else 0.0
    Xw = _matvec(design, w)
    zeros_n = np.zeros(n)
    all_feats = np.arange(p, dtype=np.int32)

    def shift_b(Xw, b):
        if not fit_intercept:
            return b
        delta = _newton.binary_intercept_shift(Xw + b, y, c)
        return b + delta if np.isfinite(delta) else b

    # null model: P0 (and the gradient scale without penalty)
    b0 = shift_b(zeros_n, 0.0)
    P0 = _newton.binary_loss(zeros_n + b0, zeros_n, y, c, 0.0)
    grad = np.empty(n)
    hess = np.empty(n, dtype=dtype)
    resp = np.empty(n, dtype=dtype)
    if penalized:
        tol_abs = max(tol * P0, floor_rel * P0)
        l1 = np.full(p, rho, dtype=dtype)
        l2 = np.full(p, 1.0 - rho, dtype=dtype)
    else:
        _newton.binary_derivatives(zeros_n + b0, y, c, grad, hess, resp, hess_floor)
        g0 = design.xtv((-grad).astype(dtype), all_feats)
        scale = max(float(np.max(np.abs(g0), initial=0.0)), floor_rel * float(c.sum()))
        tol_abs = max(tol * scale, floor_rel * scale)
        l1 = np.zeros(p, dtype=dtype)
        l2 = np.zeros(p, dtype=dtype)
    lower = np.full(p, -np.inf, dtype=dtype)
    upper = np.full(p, np.inf, dtype=dtype)
    mu = np.zeros(p)
    lips = np.zeros(p)
    R_tmp = np.empty(n, dtype=dtype)
    grad_t = np.empty(n)
    hess_t = np.empty(n, dtype=dtype)
    resp_t = np.empty(n, dtype=dtype)
    K = int(anderson_k)
    icpt = np.zeros(1)
    full_ws = not penalized or rho == 0.0

    D_best = -np.inf
    gap = violation = np.inf
    P = np.inf
    n_newton = n_epochs = 0
    converged = False
    stalled = 0
    it = 0
    fresh = False       # z, f, grad, hess, resp already computed at the current (w, b)
    v_prev = np.inf     # working-set violation at the previous Newton iterate (forcing term)
    v_next = None       # -X^T grad at the current (w, b) when the last Newton step computed it
    z_try = np.empty(n)
    nnz_cols = np.diff(X.indptr) if design.sparse else None
    for it in range(1, max_iter + 2):   # the last pass only certifies the final iterate
        if not fresh:
            b = shift_b(Xw, b)
            z = Xw + b
            f, E1, dE1 = _newton.binary_derivatives_dual(z, y, c, grad, hess, resp, hess_floor)
            v_next = None
        fresh = False
        v = v_next if v_next is not None else -_xt(design, grad, all_feats)
        v_next = None
        P = f + _penalty(w, rho)
        if penalized:
            # the exact dual only when an upper bound of it does not already exclude convergence
            # (computed below if the gap's value is needed: CD form, or the last pass)
            D, exact = _dual_or_bound(z, y, c, v, rho, E1, dE1, P - tol_abs)
            gap = P - max(D_best, D)
            if exact:
                D_best = max(D_best, D)
            measure = gap
        else:
            violation = float(np.max(np.abs(v), initial=0.0))
            measure = violation
        if verbose:
            print(f"[fastreg.logistic_prox_newton] iter {it:3d}  primal {P:.12e}  "
                  f"{'gap' if penalized else 'grad'} {measure:.3e} (tol {tol_abs:.3e})  "
                  f"nnz {np.count_nonzero(w)}  newton {n_newton}  epochs {n_epochs}")
        if measure <= tol_abs:
            converged = True
            break
        if stalled >= 2 or it > max_iter:
            if penalized and not exact:
                D_best = max(D_best, _dual(z, y, c, v, rho))
                gap = P - D_best
                converged = gap <= tol_abs
            break
        # ---- working set
        if full_ws:
            ws = all_feats
        else:
            score = rho - np.abs(v)
            score[w != 0] = -np.inf
            n_forced = int(np.count_nonzero(w))
            size = min(p, max(int(p0), 2 * n_forced))
            ws = np.sort(np.argpartition(score, size - 1)[:size]) if size < p else all_feats
            ws = np.ascontiguousarray(ws, dtype=np.int32)
        m = ws.size
        work = np.empty(_work_size(K, m, n))
        order = np.empty(m, dtype=np.int32)
        # optimality violation on ws (celer/skglm's inner stopping rule, relative to the full one)
        viol_full = _binary_violation(v[ws], w[ws], rho, 0.0) if penalized else np.inf
        sub_gap = measure
        progressed = False
        use_gram = _gram_choice(design, ws, n, nnz_cols)
        full_xt = 2 * (int(nnz_cols[ws].sum()) if design.sparse else m * n) >= \
            (X.indptr[p] if design.sparse else p * n)
        if penalized and not exact and not use_gram:
            # the CD form's inner tolerance scales with the gap: the exact one
            D_best = max(D_best, _dual(z, y, c, v, rho))
            gap = measure = sub_gap = P - D_best
        r_ws = -v[ws]               # model gradient X_ws^T grad at the current point
        v_cur = viol_full
        for _k in range(max_newton if penalized else 1):
            eta = _forcing(v_cur, v_prev) if penalized else _GRAM_RTOL
            tol_sub = max(eta * sub_gap, 0.1 * tol_abs) if penalized else -np.inf
            if use_gram:
                # ---- subproblem in Gram form (cost independent of n per epoch)
                d, db, ep = _gram_direction(design, grad, hess, r_ws, w, b, ws, l1, l2,
                                            fit_intercept, min(max_epochs, _DIR_EPOCHS), eta)
            else:
                # ---- subproblem: weighted least squares model at z, by the CD kernel
                _col_stats_ws(design, hess, ws, mu, lips, fit_intercept)
                y_work = (z + resp).astype(dtype)
                R = (b + resp).astype(dtype)            # = y_work - X w (no intercept)
                w_new = w.copy()
                ep, _ = design.solve(y_work, hess, w_new, R, icpt, mu, lips, l1, l2, lower,
                                     upper, ws, work, R_tmp, order, float(tol_sub),
                                     int(min(max_epochs, _DIR_EPOCHS)), 10,
                                     K, bool(fit_intercept), False, 0, False)
                d = (w_new[ws].astype(np.float64) - w[ws].astype(np.float64))
                db = float(icpt[0]) - b if fit_intercept else 0.0
            n_epochs += ep
            n_newton += 1
            nz = np.flatnonzero(d)
            Xd = np.zeros(n, dtype=dtype)
            if nz.size:
                design.axpy_columns(d[nz], ws[nz], Xd)
            # the unit step's predictions and derivatives in the same pass as grad^T X d
            # (accepted almost always near the solution: one pass over the samples per step)
            gdz, f_try, E1_t, dE1_t = _newton.binary_trial_derivatives(
                z, Xd, db, grad, y, c, z_try, grad_t, hess_t, resp_t, hess_floor)
            pen_old = _penalty(w[ws], rho)
            decrease = gdz + _penalty_change(w[ws], d, 1.0, rho)
            F = f + pen_old
            rounding = 64 * np.finfo(np.float64).eps * max(abs(P), 1e-300)
            if not decrease <= rounding or (nz.size == 0 and db == 0.0):
                if verbose > 1:
                    print(f"    newton: no descent: ep {ep} decrease {decrease:.3e} "
                          f"changed {nz.size} db {db:.3e} |d| {np.abs(d).max(initial=0):.3e}")
                break
            # ---- backtracking line search from the unit step
            step, accepted = 1.0, False
            w_try = (w[ws].astype(np.float64) + d).astype(dtype)
            exact = True
            dz = None
            while True:
                F_try = f_try + _penalty(w_try, rho)
                if F_try <= F + _ARMIJO * step * min(decrease, 0.0) or \
                        (abs(decrease) <= rounding and F_try <= F + rounding) or \
                        (exact and _unit_step_descends(grad_t, Xd, db, w[ws], d, rho)):
                    accepted = True
                    break
                step *= 0.5
                if step < _MIN_STEP:
                    break
                w_try = (w[ws].astype(np.float64) + step * d).astype(dtype)
                if dz is None:
                    dz = Xd.astype(np.float64) + db
                f_try = _newton.binary_loss(z, dz, y, c, step)
                exact = False
            if verbose > 1:
                print(f"    newton: ep {ep} decrease {decrease:.3e} step {step} "
                      f"accepted {accepted} dF {F_try - F:.3e} tol_sub {tol_sub:.3e}")
            if not accepted:
                break
            progressed = progressed or F_try < F
            w[ws] = w_try
            if step == 1.0:
                Xw += Xd
            else:
                Xw += step * Xd.astype(np.float64)
            b += step * db
            if exact:
                z, z_try = z_try, z
                grad, grad_t = grad_t, grad
                hess, hess_t = hess_t, hess
                resp, resp_t = resp_t, resp
                f, E1, dE1 = f_try, E1_t, dE1_t
            else:
                z = Xw + b
                f, E1, dE1 = _newton.binary_derivatives_dual(z, y, c, grad, hess, resp,
                                                             hess_floor)
            if not penalized:
                fresh = not fit_intercept
                break
            # ---- restricted optimality violation (features outside ws are 0); X^T grad over
            # all features when ws holds most of X (reused by the next certificate if no
            # intercept shift moves z in between)
            if full_xt:
                v_next = -_xt(design, grad, all_feats)
                r_ws = -v_next[ws]
            else:
                r_ws = _xt(design, grad, ws)
            sub_viol = _binary_violation(-r_ws, w[ws], rho,
                                         float(grad.sum()) if fit_intercept else 0.0)
            sub_gap = measure * min(1.0, (sub_viol / viol_full) ** 2) if viol_full > 0 else 0.0
            v_prev, v_cur = v_cur, sub_viol
            if sub_viol <= 0.3 * viol_full or F - F_try <= rounding:
                fresh = not fit_intercept
                break
        stalled = 0 if progressed else stalled + 1
        if it % 10 == 0:
            # exact X w from time to time (rounding drift of the incremental updates)
            Xw = _matvec(design, w)
            fresh = False
    n_iter = min(it, max_iter)
    if not converged and warn:
        what = f"duality gap {gap:.3e}" if penalized else f"gradient norm {violation:.3e}"
        warnings.warn(f"Logistic regression did not converge: {what} > tolerance {tol_abs:.3e} "
                      f"after {n_iter} outer iterations and {n_newton} Newton steps. Increase "
                      f"max_iter or tol, or scale the data (weak regularization on separable "
                      f"data converges slowly).", ConvergenceWarning, stacklevel=3)
    return LogisticResult(coef=w, intercept=float(b) if fit_intercept else 0.0,
                          gap=float(gap) if penalized else float("nan"),
                          violation=float("nan") if penalized else float(violation),
                          primal=float(P), p0=float(P0), n_iter=n_iter, n_newton=n_newton,
                          n_epochs=n_epochs, converged=bool(converged))
