"""Working-set coordinate descent for the weighted least-squares elastic net with bounds.

Problem solved by :func:`enet_cd` (``h`` non-negative sample weights)::

    min_{w, b}  P(w, b) = 1/2 sum_i h_i (y_i - x_i^T w - b)^2
                          + sum_j l1_j |w_j| + l2_j / 2 w_j^2
    subject to  lower_j <= w_j <= upper_j      (lower_j <= 0 <= upper_j)

scikit-learn's Lasso/ElasticNet objective is the case ``h = sample_weight /
sum(sample_weight)`` (``1/n`` without weights), ``l1 = alpha * l1_ratio * pf``
and ``l2 = alpha * (1 - l1_ratio) * pf``. The intercept ``b`` (unpenalized) is
eliminated exactly (implicit centering, see :mod:`fastreg._cd`).

Algorithm (the whole loop below runs compiled and without the GIL in
:func:`fastreg._cd.enet_solve_dense` / ``enet_solve_sparse``; this module validates,
sets up, and reports):

1. **Dual point** from the residual ``rho = y - X w - b``: with
   ``c_j = sum_i h_i (x_ij - mu_j) rho_i`` (one OpenMP pass over the
   features), ``theta = s * rho`` where ``s = min(1, min_j l1_j / |c_j|)`` over
   the features whose conjugate requires ``|c_j| <= l1_j`` (``l2_j = 0`` and an
   infinite bound). Unpenalized features (``l1_j = l2_j = 0``) and the
   intercept need ``c_j = 0``: ``rho`` is first projected (weighted least
   squares) orthogonally to those columns.
2. **Duality gap** ``P(w) - D(theta)`` with the elastic-net/box dual
   ``D(theta) = <t, theta> - 1/2 ||theta||^2 - sum_j g_j*(A_j^T theta)``
   (Fenchel dual in the scaled space ``A = H^{1/2} X_c``, ``t = H^{1/2} y_c``;
   ``g_j`` the penalty plus box of feature ``j``, ``g_j*`` its conjugate, finite
   for ``l2_j > 0`` or finite bounds): this is the stopping criterion. The
   best dual value seen so far is kept.
3. **Gap-safe screening** (Fercoq, Gramfort, Salmon 2015; Ndiaye et al. 2017):
   ``D`` is 1-strongly concave, so ``||theta* - theta|| <= sqrt(2 gap)``, and
   feature ``j`` with ``|c_j| s + sqrt(2 gap) ||A_j|| < l1_j`` (one-sided with
   bounds) is zero at the optimum: it is removed for good. The radius uses the gap
   of the sphere's own center (this iteration's dual point), not the best dual value.
   When the gap has decreased by less than 10% since the last outer iteration, the
   Anderson extrapolation of the last inner residuals (celer's dual extrapolation) is
   tried as a second dual point over all active features.
4. **Working set**: the features with the smallest gap-safe distances
   ``(l1_j - |c_j| s) / ||A_j||``, always including the non-zero and the
   unpenalized ones, of size ``max(p0, 2 * |support|)`` (skglm's rule;
   Massias et al. 2018 / Bertrand et al. 2022), or ``4 * |support|`` when at least
   90% of the previous set became non-zero (it was too small: fewer full passes
   before the set holds the support).
5. **Inner solver**: CD epochs on the working set with Anderson extrapolation
   of the primal iterates accepted only when the objective decreases
   (Bertrand & Massias 2021), until the working-set duality gap is below
   ``inner_tol = 0.3`` times the outer gap (as celer) or ``0.8 * tol * P0`` (the
   whole ``tol`` target once the set holds every active feature), all in
   :mod:`fastreg._cd`. When the full gap comes out within 2x of the last set's
   target (the set held what matters), the next set is solved 10x further (the
   factor is reset to ``inner_tol`` otherwise): fewer full passes. Between two
   epochs over the whole set, three epochs run over its non-zero coordinates only
   (glmnet's active-set cycling, Friedman et al. 2010). Gap checks on the set are scheduled from the measured
   linear rate of its gap (the first one from the previous set's rate), between 1
   and ``check_every`` epochs apart, so that a fast-converging set does not run
   many epochs past its target; the solve never ends on an extrapolated point (one
   CD epoch follows, which puts coordinates exactly at 0 or at a bound).

Stopping: ``gap <= tol * P0`` with ``P0 = P(0, b0)`` the objective of the null
model (optimal intercept), floored at the rounding level
``32 * eps(float64) * 1/2 sum_i h_i y_i^2`` (the gap is always computed in
float64; a smaller one is within rounding). In float32 the iterates cannot
reach gaps much below ``eps(float32) * P0``: use ``tol >= 1e-6`` there.
scikit-learn's coordinate descent stops when its gap
(in units of ``n * P``) is below ``tol_sk * ||y_c||^2``, i.e.
``gap <= 2 * tol_sk * P0``: ``tol = 2 * tol_sk`` gives scikit-learn's criterion.

References
----------
Massias, Gramfort, Salmon (2018), Celer: a fast solver for the Lasso with dual
extrapolation, ICML. Bertrand, Massias (2021), Anderson acceleration of
coordinate descent, AISTATS. Bertrand, Klopfenstein, Massias, Blondel,
Vaiter, Gramfort, Salmon (2022), Beyond L1: faster and better sparse models
with skglm, NeurIPS. Ndiaye, Fercoq, Gramfort, Salmon (2017), Gap safe screening
rules for sparsity enforcing penalties, JMLR. Tibshirani et al. (2012), Strong
rules for discarding predictors in lasso-type problems, JRSS-B.
"""
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

_FLOAT32_PATIENCE = 5  # outer iterations without progress before a float32 fit stops

from .. import _cd
from .cd_newton import make_newton
from .design import Design, n_threads_default

__all__ = ["enet_cd", "column_stats", "CDResult", "weighted_quadratic_cd", "n_threads_default"]


@dataclass
class CDResult:
    """Output of :func:`enet_cd`.

    Attributes
    ----------
    coef : ndarray (n_features,), X's dtype
    intercept : float
    gap : float
        Duality gap at exit (absolute, same units as the objective).
    primal : float
        Objective ``P(coef, intercept)``.
    p0 : float
        Objective of the null model (``w = 0``, optimal intercept).
    n_iter : int
        Outer iterations (working-set updates / full gap computations).
    n_epochs : int
        Total CD epochs (each over one working set).
    converged : bool
        ``gap <= tol * p0``.
    corr : ndarray (n_features,), float64, or None
        With ``return_corr``: ``c_j = sum_i h_i (x_ij - mu_j) rho_i`` at the last
        full gap computation (NaN for features screened out or excluded): used
        by strong rules along paths.
    n_newton : int
        Sign-fixed Newton steps on the support accepted (:mod:`.cd_newton`).
    """
    coef: np.ndarray
    intercept: float
    gap: float
    primal: float
    p0: float
    n_iter: int
    n_epochs: int
    converged: bool
    corr: np.ndarray
    n_newton: int = 0


def column_stats(X, h, fit_intercept, n_threads=None):
    """Weighted column means ``mu`` and centered squared norms (Lipschitz constants).

    ``mu_j = sum_i h_i x_ij / sum(h)`` (zeros if not ``fit_intercept``) and
    ``L_j = sum_i h_i (x_ij - mu_j)^2``; float64 arrays. With ``fit_intercept``, ``L_j``
    is set to 0 (the feature is then never updated) when it is at the rounding level of
    the uncentered norm, ``L_j <= (4 sqrt(n) eps)^2 sum_i h_i x_ij^2``: such a column is
    constant up to rounding. ``X`` as validated by
    :func:`fastreg._validation.check_X` (Fortran dense or CSC int32). ``n_threads``:
    OpenMP threads of the pass (None: OpenMP's default).
    """
    p = X.shape[1]
    n_threads = n_threads_default() if n_threads is None else max(1, int(n_threads))
    mu = np.zeros(p)
    lips = np.zeros(p)
    if sp.issparse(X):
        _cd.col_stats_sparse(X.data, X.indices, X.indptr, h, mu, lips, bool(fit_intercept),
                             n_threads)
    else:
        _cd.col_stats_dense(X, h, mu, lips, bool(fit_intercept), n_threads)
    if fit_intercept and p:
        # a column that is constant up to rounding has a centered norm of rounding noise
        # (e.g. ~eps^2 of its squared norm): it carries nothing, treat it as constant
        H = float(np.sum(h, dtype=np.float64))
        noise = (4.0 * np.sqrt(X.shape[0]) * np.finfo(np.float64).eps) ** 2
        lips[lips <= noise * (lips + H * mu * mu)] = 0.0
    return mu, lips


def _hard_projection(design, rho, h, mu, w, lower, upper, hard):
    """Project ``rho`` (h-weighted) orthogonally to the centered unpenalized columns.

    Free unpenalized features (two infinite bounds, or non-zero) must have
    ``c_j = 0``; one-sided ones at 0 need only the sign condition, and are
    added to the projection only if it fails.
    """
    free = hard[(w[hard] != 0) | (np.isinf(lower[hard]) & np.isinf(upper[hard]))]
    rest = np.setdiff1d(hard, free)
    sw = np.sqrt(h.astype(np.float64))
    rho = rho.astype(np.float64)
    for _ in range(2):
        if free.size:
            Z = np.column_stack([design.column(j).astype(np.float64) - mu[j] for j in free])
            a = np.linalg.lstsq(Z * sw[:, None], rho * sw, rcond=None)[0]
            rho2 = rho - Z @ a
        else:
            rho2 = rho
        if rest.size == 0:
            return rho2
        c = design.xtv((h * rho2).astype(design.X.dtype), rest.astype(np.int32))
        bad = (np.isinf(upper[rest]) & (c > 0)) | (np.isinf(lower[rest]) & (c < 0))
        if not bad.any():
            return rho2
        free = np.union1d(free, rest[bad])
        rest = rest[~bad]
    return rho2


def projector(design, h, mu, w, lower, upper, hard, errors):
    """The ``project(rho)`` callback of the compiled gap passes (:func:`_hard_projection`,
    in place on the float64 memoryview ``rho``); an exception it raises is appended to
    ``errors`` (the compiled caller only sees a failure code) and re-raised."""
    def project(rho_view):
        try:
            rho = np.asarray(rho_view)
            rho[:] = _hard_projection(design, rho, h, mu, w, lower, upper, hard)
        except BaseException as exc:  # re-raised by the caller after the compiled pass
            errors.append(exc)
            raise
    return project


def enet_cd(X, y, l1, l2, lower=None, upper=None, *, sample_weight=None, fit_intercept=True,
            coef_init=None, tol=1e-4, max_iter=1000, max_epochs=50_000, p0=10, anderson_k=5,
            check_every=10, inner_tol=0.3, screening=True, selection="cyclic", random_state=None,
            ws_init=None, stats=None, verbose=0, n_threads=None, warn=True, return_corr=False,
            newton=True):
    """Solve the weighted elastic net with box constraints by working-set CD.

    Parameters
    ----------
    X : ndarray (n_samples, n_features) Fortran-ordered, or CSC matrix (int32 indices)
        As returned by :func:`fastreg._validation.check_X`; never copied.
    y : ndarray (n_samples,), X's dtype
    l1, l2 : ndarray (n_features,), X's dtype
        Per-feature L1 and L2 strengths (>= 0). ``l1_j = inf`` excludes feature
        ``j`` (``w_j = 0``).
    lower, upper : ndarray (n_features,) or None
        Bounds with ``lower <= 0 <= upper`` (None: unbounded).
    sample_weight : ndarray (n_samples,) or None
        The weights ``h`` of the quadratic, used as given (no rescaling; None
        means ``h_i = 1 / n_samples``).
    fit_intercept : bool
    coef_init : ndarray (n_features,) or None
        Warm start (clipped to the bounds; copied).
    tol : float
        Stop when the duality gap is ``<= tol * P0`` (``P0``: objective at
        ``w = 0`` with the optimal intercept). ``tol = 2 * tol_sklearn`` is
        scikit-learn's criterion.
    max_iter : int
        Maximum number of outer iterations (gap computations / working sets).
    max_epochs : int
        Maximum number of CD epochs per working-set problem.
    p0 : int
        Minimal working-set size.
    anderson_k : int
        Anderson memory (0: no extrapolation).
    check_every : int
        Largest number of epochs between two working-set gap computations (they
        are closer when the measured rate predicts the target sooner).
    inner_tol : float
        Each working-set problem is solved to a duality gap ``inner_tol`` times
        the current outer gap (celer's 0.3).
    screening : bool
        Gap-safe screening.
    selection : {'cyclic', 'random'}
        ``'random'`` visits the working set in a new random order at each epoch.
    random_state : int, RandomState or None
    ws_init : array of int or None
        Features forced into the first working set (strong rule along paths).
    stats : tuple (mu, lipschitz) or None
        Precomputed :func:`column_stats` for the same ``X``, weights and ``fit_intercept``.
    verbose : int
        Print outer iterations (gap, working-set size, screened features).
    n_threads : int or None
        OpenMP threads for the full ``X^T r`` passes (None: OpenMP default).
    warn : bool
        Issue a :class:`~sklearn.exceptions.ConvergenceWarning` if not converged.
    return_corr : bool
        Fill ``CDResult.corr`` (else None).
    newton : bool
        Try sign-fixed Newton steps on the support inside the working-set solves
        once its signs have settled, when their estimated cost is below the CD
        epochs they may save (:mod:`fastreg.solvers.cd_newton`); accepted only
        when the objective decreases. The stopping test is unchanged.

    Returns
    -------
    CDResult
    """
    design = Design(X, n_threads_default() if n_threads is None else max(1, int(n_threads)))
    dtype = X.dtype
    n, p = X.shape
    y = np.ascontiguousarray(y, dtype=dtype)
    if sample_weight is None:
        h = np.full(n, 1.0 / n, dtype=dtype)
        unit = True
    else:
        h = np.ascontiguousarray(sample_weight, dtype=dtype)
        unit = bool(np.all(h == h[0]))
    h64 = h.astype(np.float64)
    H = float(h64.sum())
    inf = np.full(p, np.inf, dtype=dtype)
    lower = -inf if lower is None else np.ascontiguousarray(lower, dtype=dtype)
    upper = inf if upper is None else np.ascontiguousarray(upper, dtype=dtype)
    l1 = np.ascontiguousarray(l1, dtype=dtype)
    l2 = np.ascontiguousarray(l2, dtype=dtype)
    excluded = np.isinf(l1)
    if excluded.any():
        l1 = np.where(excluded, 0, l1).astype(dtype)
    if stats is None:
        stats = column_stats(X, h, fit_intercept, design.n_threads)
    mu, lips = stats
    if not (np.all(np.isfinite(lips)) and np.all(np.isfinite(mu))):
        raise ValueError("X has values too large: the squared column norms overflow float64 "
                         "(overflow); rescale X")
    excluded = excluded | (lips <= 0) | ((lower == 0) & (upper == 0))

    w = np.zeros(p, dtype=dtype) if coef_init is None else \
        np.clip(np.asarray(coef_init, dtype=dtype), lower, upper).astype(dtype, copy=True)
    w[excluded] = 0
    R = y.copy()
    support = np.flatnonzero(w)
    if support.size:
        design.axpy_columns(-w[support], support, R)
    # (no BLAS dot on n-vectors: a threaded ddot costs milliseconds on a busy machine)
    y64 = y.astype(np.float64)
    hy = h64 * y64
    ybar = float(hy.sum()) / H if fit_intercept else 0.0
    yc = y64 - ybar
    P0 = 0.5 * float((h64 * yc * yc).sum())
    if not np.isfinite(P0):
        raise ValueError("y has values too large: its squared norm overflows float64 "
                         "(overflow); rescale y")
    # gaps below the rounding level of the objective cannot be certified
    tol_abs = max(tol * P0, 32 * float(np.finfo(np.float64).eps) * 0.5 * float((hy * y64).sum()))

    active = np.flatnonzero(~excluded).astype(np.int32)
    hard = active[((l1 == 0) & (l2 == 0) & (np.isinf(lower) | np.isinf(upper)))[active]]
    errors = []
    project = projector(design, h, mu, w, lower, upper, hard, errors)
    newton_cb = make_newton(design, y, h, w, R, mu, l1, l2, lower, upper, fit_intercept,
                            errors) if newton else None

    shuffle = selection == "random"
    seed = 0
    if shuffle:
        rng = random_state if isinstance(random_state, np.random.RandomState) \
            else np.random.RandomState(random_state)
        seed = int(rng.randint(0, 2**31 - 1))
    ws_init = np.empty(0, dtype=np.int32) if ws_init is None else \
        np.ascontiguousarray(ws_init, dtype=np.int32)
    corr = np.empty(p) if return_corr else None
    eps_margin = (1e-3 if dtype == np.float32 else 1e-9) * np.sqrt(2 * P0)
    status, it, n_epochs, gap, P, b, _ = design.enet_solve(
        y, h, w, R, mu, lips, l1, l2, lower, upper, active, ws_init, corr, tol=tol_abs,
        max_iter=int(max_iter), max_epochs=int(max_epochs), p0=int(p0), anderson_k=int(anderson_k),
        check_every=int(check_every), inner_tol=float(inner_tol), eps_margin=float(eps_margin),
        screening=bool(screening), fit_intercept=bool(fit_intercept), unit_weights=unit,
        seed=seed, shuffle=shuffle, patience=_FLOAT32_PATIENCE if dtype == np.float32 else 0,
        verbose=int(verbose), project=project if hard.size else None, newton=newton_cb)
    if errors:
        raise errors[0]
    if status == _cd.STATUS_NO_MEMORY:
        raise MemoryError("enet_cd: out of memory for the working-set scratch")
    if status == _cd.STATUS_NONFINITE:
        raise ValueError(
            "enet_cd: the objective became non-finite (overflow): the data are too large in "
            "magnitude for this precision; rescale X and y")
    converged = status == _cd.STATUS_CONVERGED
    if not converged and warn:
        warnings.warn(f"Objective did not converge: duality gap {gap:.3e} > tolerance "
                      f"{tol_abs:.3e} (tol={tol} * P0={P0:.3e}) after {it} outer iterations "
                      f"and {n_epochs} epochs. "
                      + ("The gap stopped decreasing at float32 precision: fit float64 "
                         "data for a smaller gap." if status == _cd.STATUS_STALLED else
                         "Increase max_iter, or check the scaling of the data."),
                      ConvergenceWarning, stacklevel=3)
    return CDResult(coef=w, intercept=float(b) if fit_intercept else 0.0, gap=float(gap),
                    primal=float(P), p0=P0, n_iter=it, n_epochs=n_epochs,
                    converged=bool(converged), corr=corr,
                    n_newton=newton_cb.stats.accepted if newton else 0)


def weighted_quadratic_cd(X, z, h, w, l1, l2, lower=None, upper=None, *, fit_intercept=True,
                          tol=1e-4, max_iter=100, max_epochs=1000, stats=None, **kwargs):
    """Minimize ``1/2 sum_i h_i (z_i - x_i^T w - b)^2 + penalty`` from ``w`` (prox-Newton step).

    Thin alias of :func:`enet_cd` with the weights ``h`` used as given (e.g.
    the per-sample second derivatives of a logistic loss, ``z`` the working
    response), warm-started at ``w``. ``tol`` is relative to the null model
    of this quadratic, as in :func:`enet_cd`. Returns a :class:`CDResult`.
    """
    return enet_cd(X, z, l1, l2, lower, upper, sample_weight=h, fit_intercept=fit_intercept,
                   coef_init=w, tol=tol, max_iter=max_iter, max_epochs=max_epochs, stats=stats,
                   **kwargs)
