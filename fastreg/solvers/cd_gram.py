"""Coordinate descent in Gram (covariance) form, for ``n_samples >> n_features``.

Same problem, dual point, duality gap and stopping rule as :func:`fastreg.solvers.cd.enet_cd`
(read its module docstring), solved from the centered weighted Gram matrix and the
centered correlations (built once, reusable along a path and across targets)::

    Q = X_c^T H X_c,    c = X_c^T H y_c,    H = diag(h),

``X_c = X - 1 mu^T`` and ``y_c = y - ybar`` the weighted-centered data (no centering
without intercept). The objective is ``P(w) = 1/2 y_c^T H y_c - c^T w + 1/2 w^T Q w +
penalty(w)``; coordinate descent keeps ``g = c - Q w = X_c^T H rho`` (``rho`` the
residual) up to date, so that an epoch costs ``O(p)`` plus ``O(p)`` per changed
coordinate, independent of ``n_samples`` (Friedman, Hastie, Tibshirani 2010, the
"covariance updates" of glmnet).

**Gram-form duality gap.** With ``||rho||_h^2 = y_c^T H y_c - c^T w - w^T g`` and
``<y_c, rho>_h = y_c^T H y_c - c^T w``, the dual point ``theta = s rho`` of
:mod:`fastreg.solvers.cd` (rescaling ``s`` from ``g``; ``rho`` first made orthogonal to
the free unpenalized columns, solved in Gram form) gives the gap without touching
``X``. These identities cancel when ``||rho||^2 << y_c^T H y_c``, so the Gram-form gap
only steers the iterations: **the returned gap is always certified** by one true pass
(``rho = y - X w - b`` and ``X_c^T H rho``, ``O(nnz)``), computed exactly as
:func:`~fastreg.solvers.cd.enet_cd` does. If the certified gap misses the tolerance, the
working-set solver :func:`~fastreg.solvers.cd.enet_cd` continues from the Gram
solution.

``Q`` and ``c`` are float64 for float32 ``X`` too (more accurate and simpler); ``coef``
keeps ``X``'s dtype. Sparse ``X`` is never densified: ``Q`` is accumulated from the
non-zeros row by row (:func:`fastreg._cd_gram.gram_sparse`, cost ``sum_i nnz_i^2 / 2``;
integer co-occurrence counts for 0/1 data with equal weights) and centered afterwards
(``Q = X^T H X - H mu mu^T``); dense ``X`` is centered by blocks of rows and multiplied
by BLAS ``syrk`` (no full copy).

References
----------
Friedman, Hastie, Tibshirani (2010), Regularization paths for generalized linear models
via coordinate descent, J. Stat. Softw. 33(1).
"""
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk

from .. import _cd, _cd_gram
from .cd import CDResult, column_stats, enet_cd, projector
from .design import Design, n_threads_default

__all__ = ["Gram", "build_gram", "gram_from_array", "gram_auto", "centered_xty",
           "enet_cd_gram", "certified_gap", "GRAM_MAX_FEATURES"]

GRAM_MAX_FEATURES = 2500      # 'auto' never builds a Gram larger than 2500^2 float64 (50 MB)
_HARD_MAX_FEATURES = 16384    # precompute=True refuses a Gram of more than 2 GiB
_AUTO_EPOCHS = 30             # CD epochs over the design that 'auto' assumes per fit
_BLAS_SPEEDUP = 4.0           # dense Gram flops (syrk) vs CD flops (dot/axpy per column)


@dataclass
class Gram:
    """Centered weighted Gram matrix of a design, with its column statistics.

    Attributes
    ----------
    Q : ndarray (p, p), float64, C-contiguous
        ``X_c^T H X_c`` (``H = diag(h)``, ``X_c`` centered iff ``fit_intercept``).
    stats : tuple (mu, lipschitz)
        :func:`fastreg.solvers.cd.column_stats` of the same ``X``, ``h``, ``fit_intercept``.
    fit_intercept : bool
    """
    Q: np.ndarray
    stats: tuple
    fit_intercept: bool


def _unit_weights(n, dtype):
    return np.full(n, 1.0 / n, dtype=dtype)


def gram_auto(X, n_fits=1):
    """Whether the Gram route is cheaper: ``precompute='auto'``.

    Cost model (flops): building ``Q`` costs ``sum_i nnz_i (nnz_i + 1) / 2`` for sparse
    ``X`` (``nnz_i`` the non-zeros of row ``i``; estimated from the column counts as if
    the columns' patterns were independent) or ``n p (p + 1) / 2`` BLAS flops
    (counted 4x cheaper) for dense ``X``; then each epoch costs ``<= p^2 / 2``. The
    direct route is assumed to need ``30`` epochs over the design (``nnz(X)`` each)
    per fit, ``n_fits`` fits (alphas x targets) sharing one Gram. Never for
    ``p > n`` or ``p > GRAM_MAX_FEATURES`` (memory).
    """
    n, p = X.shape
    if p == 0 or n == 0 or p > GRAM_MAX_FEATURES or p > n:
        return False
    if sp.issparse(X):
        # E[sum_i nnz_i^2] for rows with independent column patterns: O(p), no pass over X
        col = np.diff(X.indptr).astype(np.float64)
        nnz = float(col.sum())
        build = (nnz * nnz / n + float(col @ (1.0 - col / n)) + nnz) / 2.0
    else:
        build = n * p * (p + 1.0) / 2.0 / _BLAS_SPEEDUP
        nnz = float(n) * p
    epochs = _AUTO_EPOCHS * max(int(n_fits), 1)
    return build + epochs * p * p / 2.0 < epochs * nnz


def _check_size(p):
    if p > _HARD_MAX_FEATURES:
        raise ValueError(f"precompute=True: the Gram matrix of {p} features would need "
                         f"{p * p * 8 / 2**30:.1f} GiB; use precompute=False or 'auto'")


def _stats_from_gram(Q, xth, h, fit_intercept):
    """:func:`~fastreg.solvers.cd.column_stats` from the uncentered Gram and ``X^T h``.

    Same rule for columns constant up to rounding (then ``lipschitz = 0``).
    """
    H = float(np.sum(h, dtype=np.float64))
    sq = np.diag(Q).copy()
    if not fit_intercept:
        return np.zeros(Q.shape[0]), sq
    mu = xth / H
    lips = np.maximum(sq - H * mu * mu, 0.0)
    noise = (4.0 * np.sqrt(h.shape[0]) * np.finfo(np.float64).eps) ** 2
    # the centered norm is computed by cancellation here: also zero at its rounding level
    lips[lips <= np.maximum(noise, 16 * np.finfo(np.float64).eps) * sq] = 0.0
    return mu, lips


def build_gram(X, h=None, fit_intercept=True, stats=None, n_threads=None):
    """Build the :class:`Gram` of ``X`` (validated: Fortran dense or CSC int32, sorted).

    ``h``: the sample weights of the quadratic (None: ``1 / n``). Sparse ``X``: one
    pass over the non-zeros (OpenMP over rows, ``n_threads``), never densified,
    centered afterwards. Dense ``X``: blocks of rows (at most ~8 MB), centered and
    scaled by ``sqrt(h)``, multiplied by BLAS ``dsyrk``.
    """
    n, p = X.shape
    _check_size(p)
    h = _unit_weights(n, X.dtype) if h is None else np.ascontiguousarray(h, dtype=X.dtype)
    if p == 0:
        return Gram(np.zeros((0, 0)), stats or (np.zeros(0), np.zeros(0)), bool(fit_intercept))
    if sp.issparse(X):
        nt = n_threads_default() if n_threads is None else max(1, int(n_threads))
        nt = min(nt, 64) if p <= 1024 else 1   # per-thread p x p accumulators
        tmp = np.empty((max(nt - 1, 1), p, p) if nt > 1 else (1, 1, 1))
        Q = np.zeros((p, p))
        xth = np.empty(p)
        _cd_gram.gram_sparse(X.data, X.indices, X.indptr, h, Q, tmp, xth, nt)
        if stats is None:
            stats = _stats_from_gram(Q, xth, h, fit_intercept)
        if fit_intercept:
            H = float(np.sum(h, dtype=np.float64))
            Q -= H * np.outer(stats[0], stats[0])
        return Gram(Q, stats, bool(fit_intercept))
    if stats is None:
        stats = column_stats(X, h, fit_intercept)
    mu = stats[0]
    Q = np.zeros((p, p), order="F")
    sw = np.sqrt(h.astype(np.float64))
    rows = max(64, (1 << 20) // p)
    for i0 in range(0, n, rows):
        blk = np.array(X[i0:i0 + rows], dtype=np.float64, order="F")
        if fit_intercept:
            blk -= mu
        blk *= sw[i0:i0 + rows, None]
        Q = dsyrk(1.0, blk, beta=1.0, c=Q, trans=1, lower=0, overwrite_c=1)
    Q = np.triu(Q) + np.triu(Q, 1).T
    return Gram(np.ascontiguousarray(Q), stats, bool(fit_intercept))


def gram_from_array(G, X, h=None, fit_intercept=True, stats=None):
    """A user-given Gram (scikit-learn's ``precompute`` array) as a :class:`Gram`.

    scikit-learn's convention: ``G = X^T diag(s) X`` of ``X`` as passed to ``fit``
    with ``s`` the sample weights rescaled to sum to ``n_samples`` (all ones without
    weights), i.e. ``G = n_samples * X^T H X`` here (``h`` sums to 1). Checked
    cheaply: shape, finiteness, symmetry, the diagonal against the columns' weighted
    squared norms and one off-diagonal entry (as scikit-learn) against ``X``; a
    mismatch raises ``ValueError``. Unlike scikit-learn (which recomputes the Gram
    when ``fit_intercept`` and ``X`` is not centered), an uncentered ``G`` is centered
    here: ``Q = G / sw_total - H mu mu^T``.
    """
    n, p = X.shape
    sw_total = float(n)
    try:
        G = np.asarray(G, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"precompute: the Gram matrix must be a numeric array ({exc})") from None
    if G.shape != (p, p):
        raise ValueError(f"precompute: the Gram matrix must have shape ({p}, {p}) "
                         f"(n_features, n_features), got {G.shape}")
    if not np.all(np.isfinite(G)):
        raise ValueError("precompute: the Gram matrix contains NaN or infinity")
    h = _unit_weights(n, X.dtype) if h is None else np.ascontiguousarray(h, dtype=X.dtype)
    if stats is None:
        stats = column_stats(X, h, fit_intercept)
    mu, lips = stats
    H = float(np.sum(h, dtype=np.float64))
    scale = float(np.max(np.abs(np.diag(G)))) if p else 0.0
    rtol = 1e-4 if X.dtype == np.float32 else 1e-7
    if p and not np.allclose(G, G.T, rtol=rtol, atol=rtol * scale):
        raise ValueError("precompute: the Gram matrix is not symmetric")
    diag = (lips + (H * mu * mu if fit_intercept else 0.0)) * sw_total
    if p and not np.allclose(np.diag(G), diag, rtol=100 * rtol, atol=100 * rtol * scale):
        j = int(np.argmax(np.abs(np.diag(G) - diag)))
        raise ValueError(f"precompute: the Gram matrix does not match X: diagonal entry {j} is "
                         f"{G[j, j]!r}, sum_i s_i X[i, {j}]^2 = {diag[j]!r} (s: sample weights "
                         f"rescaled to sum to n_samples). It must be X^T diag(s) X of the X "
                         f"passed to fit")
    if p > 1:
        design = Design(X, 1)
        f1 = p // 2
        f2 = min(f1 + 1, p - 1)
        v = (h.astype(np.float64) * design.column(f1)).astype(X.dtype)
        expected = float(design.xtv(v, np.array([f2], dtype=np.int32))[0]) * sw_total
        if not np.isclose(G[f1, f2], expected, rtol=100 * rtol, atol=100 * rtol * scale):
            raise ValueError(f"precompute: the Gram matrix does not match X: entry ({f1}, {f2}) "
                             f"is {G[f1, f2]!r}, X computes {expected!r}")
    Q = G / sw_total
    if fit_intercept:
        Q = Q - H * np.outer(mu, mu)
    return Gram(np.ascontiguousarray(0.5 * (Q + Q.T)), stats, bool(fit_intercept))


def _gram_dual(Q, g, w, c, cw, wg, yHy, hard, lower, upper):
    """``(A^T theta0, ||theta0||^2, <t, theta0>)`` of the Gram-form residual, projected.

    ``cw = c^T w`` and ``wg = w^T g`` as computed by the caller.

    ``theta0 = rho - X_c F a``: ``rho`` made orthogonal (h-weighted) to the free
    unpenalized columns ``F`` (non-zero, or without bound), then to the one-sided ones
    whose sign condition fails, as :func:`fastreg.solvers.cd._hard_projection`.
    """
    rr = yHy - cw - wg
    ty = yHy - cw
    if hard.size == 0:
        return g, rr, ty
    free = hard[(w[hard] != 0) | (np.isinf(lower[hard]) & np.isinf(upper[hard]))]
    rest = np.setdiff1d(hard, free)
    g2 = g
    for _ in range(2):
        g2, rr2, ty2 = g, rr, ty
        if free.size:
            QF = Q[np.ix_(free, free)]
            a = np.linalg.lstsq(QF, g[free], rcond=None)[0]
            g2 = g - Q[:, free] @ a
            rr2 = rr - 2.0 * float(a @ g[free]) + float(a @ QF @ a)
            ty2 = ty - float(c[free] @ a)
        if rest.size == 0:
            return g2, rr2, ty2
        bad = (np.isinf(upper[rest]) & (g2[rest] > 0)) | (np.isinf(lower[rest]) & (g2[rest] < 0))
        if not bad.any():
            return g2, rr2, ty2
        free = np.union1d(free, rest[bad])
        rest = rest[~bad]
    return g2, rr2, ty2


def _penalty64(w, l1d, l2d):
    """Penalty of a float64 ``w`` with float64 ``l1d, l2d`` (0 where excluded)."""
    return float(np.abs(w) @ l1d + 0.5 * (w * w) @ l2d)


def certified_gap(design, y, h, w, mu, l1, l2, lower, upper, active, hard, fit_intercept):
    """Primal, dual, gap and intercept at ``w`` from the true residual (one ``O(nnz)`` pass).

    The working-set solver's full gap (:func:`fastreg._cd.full_gap_dense` /
    ``full_gap_sparse``, compiled): ``rho = y - X w - b`` with ``b`` the weighted mean
    (two passes), the dual point ``s rho`` (projected for unpenalized features) and its
    dual value. Returns ``(P, D, b)``.
    """
    dtype = design.X.dtype
    R = np.array(y, dtype=dtype)
    support = np.flatnonzero(w)
    if support.size:
        design.axpy_columns(-w[support].astype(np.float64), support, R)
    errors = []
    project = projector(design, h, mu, w, lower, upper, hard, errors)
    c = np.ascontiguousarray
    args = (c(y, dtype=dtype), c(h, dtype=dtype), c(w, dtype=dtype), R,
            c(mu, dtype=np.float64), c(l1, dtype=dtype), c(l2, dtype=dtype),
            c(lower, dtype=dtype), c(upper, dtype=dtype), c(active, dtype=np.int32))
    kw = dict(fit_intercept=bool(fit_intercept), n_threads=design.n_threads,
              project=project if hard.size else None)
    try:
        if design.sparse:
            P, D, _, b = _cd.full_gap_sparse(design.data, design.indices, design.indptr,
                                             *args, **kw)
        else:
            P, D, _, b = _cd.full_gap_dense(design.X, *args, **kw)
    except RuntimeError:
        if errors:
            raise errors[0]
        raise
    return P, D, b


def _next_seed(seed):
    """Next seed of ``selection='random'`` (0 stays 0: cyclic)."""
    return (seed * 6364136223846793005 + 1442695040888963407) % 2**64 or 1 if seed else 0


def _anderson(hist, n_epochs, Q, c, w, g, l1d, l2d, lower, upper):
    """Anderson extrapolation of the last ``K + 1`` CD iterates (ring buffer ``hist``).

    ``w_e`` from :func:`fastreg._cd.anderson_extrapolate` (oldest iterate at row
    ``n_epochs % (K + 1)``), clipped to the bounds; returned as ``(w_e, c - Q w_e)``
    only if it lowers the objective (Bertrand & Massias 2021), else None.
    """
    we = np.empty(hist.shape[1])
    if not _cd.anderson_extrapolate(hist, n_epochs % hist.shape[0], we):
        return None
    we = np.clip(we, lower, upper)
    Qwe = Q @ we
    Fe = float(0.5 * we @ Qwe - c @ we) + _penalty64(we, l1d, l2d)
    F = float(-0.5 * (c @ w) - 0.5 * (w @ g)) + _penalty64(w, l1d, l2d)
    if not Fe < F:
        return None
    return we, c - Qwe


def centered_xty(X, y, h, gram):
    """``c = X_c^T H y_c`` (float64; one pass over ``X``) for :func:`enet_cd_gram`'s ``xty``.

    ``h``: the weights used to build ``gram`` (None: ``1 / n``).
    """
    n = X.shape[0]
    h = _unit_weights(n, X.dtype) if h is None else np.ascontiguousarray(h, dtype=X.dtype)
    y = np.ascontiguousarray(y, dtype=X.dtype)
    ybar = _cd_gram.weighted_moments(h, y, gram.fit_intercept)[1]
    return _xty(Design(X, n_threads_default()), y, h, ybar, gram)


def _xty(design, y, h, ybar, gram):
    """:func:`centered_xty` with ``y``, ``h`` in ``X``'s dtype and ``ybar`` given."""
    p = design.X.shape[1]
    if p == 0:
        return np.zeros(0)
    v = np.empty_like(y)
    vsum = _cd_gram.centered_weights(h, y, ybar, v)
    c = design.xtv(v, np.arange(p, dtype=np.int32))
    if gram.fit_intercept:
        c -= gram.stats[0] * vsum
    return c


def enet_cd_gram(X, y, l1, l2, lower=None, upper=None, *, gram, sample_weight=None,
                 fit_intercept=True, coef_init=None, tol=1e-4, max_iter=1000, check_every=32,
                 anderson_k=5, selection="cyclic", random_state=None, xty=None, verbose=0,
                 n_threads=None, warn=True, **fallback):
    """Solve :func:`fastreg.solvers.cd.enet_cd`'s problem by CD in Gram form.

    Parameters
    ----------
    X, y, l1, l2, lower, upper, sample_weight, fit_intercept, coef_init, tol,
    selection, random_state, verbose, n_threads, warn :
        As :func:`fastreg.solvers.cd.enet_cd` (``X`` validated, never copied).
    gram : Gram
        :func:`build_gram` (or :func:`gram_from_array`) of the same ``X``, weights and
        ``fit_intercept``.
    max_iter : int
        Maximum number of Gram-form gap computations (outer iterations), each after
        at most ``check_every`` epochs (fewer when the measured linear rate of the gap
        predicts the target sooner). The fallback solver, if needed, gets the rest.
    anderson_k : int
        Anderson memory (0: none): after each block of epochs, the extrapolation of
        the last ``anderson_k + 1`` iterates is accepted if it lowers the objective.
    xty : ndarray (p,) or None
        ``X_c^T H y_c`` of this ``y`` if already computed (reused along a path).
    **fallback :
        Passed to :func:`fastreg.solvers.cd.enet_cd` when the certified gap misses
        the tolerance.

    Returns
    -------
    CDResult
        ``gap`` is the certified gap (true residual); ``n_iter`` counts the Gram-form
        gap computations plus the fallback's outer iterations; ``n_epochs`` the CD
        epochs (Gram-form and fallback); ``corr`` is None.
    """
    dtype = X.dtype
    n, p = X.shape
    design = Design(X, n_threads_default() if n_threads is None else max(1, int(n_threads)))
    y = np.ascontiguousarray(y, dtype=dtype)
    h = _unit_weights(n, dtype) if sample_weight is None else \
        np.ascontiguousarray(sample_weight, dtype=dtype)
    mu, lips = gram.stats
    Q = gram.Q
    lower = np.full(p, -np.inf, dtype=dtype) if lower is None else np.asarray(lower, dtype=dtype)
    upper = np.full(p, np.inf, dtype=dtype) if upper is None else np.asarray(upper, dtype=dtype)
    l1_given = l1 = np.asarray(l1, dtype=dtype)
    l2 = np.asarray(l2, dtype=dtype)
    excluded = np.isinf(l1) | (lips <= 0) | ((lower == 0) & (upper == 0)) | (np.diag(Q) <= 0)
    l1 = np.where(np.isinf(l1), 0, l1).astype(dtype)
    w = np.zeros(p) if coef_init is None else \
        np.clip(np.asarray(coef_init, dtype=dtype), lower, upper).astype(np.float64)
    w[excluded] = 0.0
    active = np.flatnonzero(~excluded).astype(np.int32)
    hard = active[((l1 == 0) & (l2 == 0) & (np.isinf(lower) | np.isinf(upper)))[active]]
    all_active = active.size == p       # then g[active] is g itself (no copy per check)

    # length-n reductions in compiled loops: threaded BLAS would wake its threads (and
    # they would then spin against the OpenMP kernels); same for Q w below
    H, ybar, yHy, hyy = _cd_gram.weighted_moments(h, y, fit_intercept)
    P0 = 0.5 * yHy
    if not np.isfinite(P0):
        raise ValueError("y has values too large: its squared norm overflows float64 "
                         "(overflow); rescale y")
    eps = float(np.finfo(np.float64).eps)
    tol_abs = max(tol * P0, 32 * eps * 0.5 * hyy)
    c = _xty(design, y, h, ybar, gram) if xty is None else np.asarray(xty, dtype=np.float64)
    g = c.copy()
    if w.any():
        _cd_gram.gram_matvec(Q, w, g)
        g = c - g
    l1d, l2d = l1.astype(np.float64), l2.astype(np.float64)
    lod, upd = lower.astype(np.float64), upper.astype(np.float64)
    feats = active.copy()
    seed = 0
    if selection == "random":
        rng = random_state if isinstance(random_state, np.random.RandomState) \
            else np.random.RandomState(random_state)
        seed = int(rng.randint(1, 2**62))

    K = max(0, int(anderson_k))
    hist = np.empty((K + 1, p)) if K and p else None
    check_every = max(int(check_every), K + 1, 1)
    it = n_epochs = ran = 0
    gap = prev_gap = math.inf
    best_gap = math.inf
    n_stalled = 0
    k = min(max(4, K + 1), check_every)
    target = 0.1 * tol_abs
    while True:
        cw, wg = float(c @ w), float(w @ g)
        gg, rr, ty = _gram_dual(Q, g, w, c, cw, wg, yHy, hard, lower, upper)
        s, Gc = _cd.enet_dual_terms(gg if all_active else gg[active], l1, l2, lower, upper,
                                    active)
        P = 0.5 * (yHy - cw - wg) + _penalty64(w, l1d, l2d)
        gap = P - (s * ty - 0.5 * s * s * rr - Gc)
        it += 1
        if verbose:
            print(f"[fastreg.enet_cd gram] iter {it:3d}  primal {P:.10e}  gap {gap:.3e}  "
                  f"(tol {tol_abs:.3e})  active {np.count_nonzero(w)}  ws {active.size}  "
                  f"epochs {n_epochs}", flush=True)
        if not (np.isfinite(P) and np.isfinite(gap)) or gap <= target or it >= max_iter:
            break
        # stop at the rounding level of the Gram-form gap (certified below): no 10%
        # progress in 5 checks while within 1e6 of the cancellation error
        if gap < 0.9 * best_gap:
            best_gap, n_stalled = gap, 0
        else:
            n_stalled += 1
            noise = eps * (yHy + abs(cw) + abs(wg))
            if n_stalled >= 5 and gap < 1e6 * noise:
                break
        # next check where the measured linear rate predicts the target
        if ran and math.isfinite(prev_gap) and 0 < gap < prev_gap:
            rate = math.log(gap / prev_gap) / ran
            k = int(min(check_every, max(K + 1, math.ceil(math.log(target / gap) / rate))))
        else:
            k = min(max(2 * k, K + 1), check_every)
        prev_gap = gap
        _cd_gram.gram_cd_epochs(Q, g, w, l1d, l2d, lod, upd, feats, k, seed, hist, n_epochs)
        n_epochs += k
        ran = k
        seed = _next_seed(seed)
        if hist is not None:
            ext = _anderson(hist, n_epochs, Q, c, w, g, l1d, l2d, lod, upd)
            if ext is not None:     # accepted: one CD epoch puts coordinates exactly at 0/bounds
                w[:], g[:] = ext
                _cd_gram.gram_cd_epochs(Q, g, w, l1d, l2d, lod, upd, feats, 1, seed)
                n_epochs += 1
                ran += 1
                seed = _next_seed(seed)

    coef = w.astype(dtype)
    P, D, b = certified_gap(design, y, h, coef, mu, l1, l2, lower, upper, active, hard,
                            fit_intercept)
    gap = P - D
    if verbose:
        print(f"[fastreg.enet_cd gram] certified: primal {P:.10e}  gap {gap:.3e}  "
              f"(tol {tol_abs:.3e})", flush=True)
    if np.isfinite(gap) and gap <= tol_abs:
        return CDResult(coef=coef, intercept=float(b) if fit_intercept else 0.0, gap=float(gap),
                        primal=float(P), p0=P0, n_iter=it, n_epochs=n_epochs, converged=True,
                        corr=None)
    # not certified (rounding of the Gram form, or max_iter): the working-set solver
    # continues from here
    for key in ("ws_init", "return_corr", "stats"):
        fallback.pop(key, None)
    res = enet_cd(X, y, l1_given, l2, lower, upper, sample_weight=h,
                  fit_intercept=fit_intercept, coef_init=coef, tol=tol,
                  max_iter=max(1, max_iter - it), anderson_k=anderson_k, selection=selection,
                  random_state=random_state, stats=gram.stats, verbose=verbose,
                  n_threads=n_threads, warn=warn, **fallback)
    res.n_iter += it
    res.n_epochs += n_epochs
    return res

