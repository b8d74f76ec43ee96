"""Multinomial (softmax) L1 / L2 / elastic-net logistic regression by working-set proximal Newton.

:func:`multinomial_prox_newton` minimizes the softmax loss plus the penalty on
the full (class-coupled) softmax Hessian; the line search, forcing term and the
sign-fixed Newton step on the support are shared with the binary solver of
:mod:`fastreg.solvers.prox_newton`.

References
----------
Lee, Sun, Saunders (2014), Proximal Newton-type methods for minimizing composite
functions, SIAM J. Optim. 24(3).
Yuan, Ho, Lin (2012), An improved GLMNET for L1-regularized logistic regression,
J. Mach. Learn. Res. 13.
"""
import contextlib
import functools
import threading
import warnings

import numpy as np
from scipy.linalg import blas as _blas
from sklearn.exceptions import ConvergenceWarning

from .. import _newton
from .design import blas_controller
from .prox_newton import (_ARMIJO, _MIN_STEP, LogisticResult, _forcing, _orthant_newton, _penalty,
                          _penalty_change)

__all__ = ["multinomial_prox_newton"]

_MAX_DZ = 20.0      # largest change of a score z_ik per Newton step
_MN_EPOCHS = 300    # CD sweeps per Newton direction
_MN_SUPPORT_EVERY = 10   # CD sweeps between Newton steps on the support
_MN_SUPPORT_MAX = 1000   # largest support (coordinates) solved directly
_MN_SUPPORT_MIN_WORK = 100_000   # smallest n_samples * support for a direct step
_MN_GRAM_MAX = 2000      # largest number of swept coordinates solved in Gram form
_MN_GRAM_EPOCHS = 500    # Gram-form CD sweeps per call (each O(q^2), q the swept coordinates)
_MN_GRAM_CHUNK = 10      # Gram-form CD sweeps between sign-fixed Newton steps
_MN_GRAM_TIGHT = 0.01    # Gram-form solves go this much below the direction's tolerance (cheap)
_MN_GRAM_MAX_ENTRIES = 2 * 10 ** 7   # largest n_samples * q (dense columns kept: 160 MB)
_BLAS_THREADED_WORK = 10 ** 9        # smallest product (multiply-adds) on the caller's threads
_MN_GRAM_SLOW = 2.0      # switch to the Gram form when CD sweeps leave a violation > this * tol
_MN_GRAM_MIN_WORK = 100_000   # smallest n_samples * swept coordinates for the Gram form
_MN_SINGLE_REL = 1e-4    # float32 Hessian while the Gram tolerance >= this * max |gradient|

_BLAS = {"lock": threading.Lock(), "depth": 0, "limiter": None, "caller": 1}


def _single_blas_thread(solver):
    """Run ``solver`` with BLAS limited to one thread (the caller's setting restored on exit).

    The solver's BLAS products are mostly small (``X_ws^T R`` with ``K``
    columns, ``X_ws D^T``): a second BLAS thread gains little on them and, on
    a loaded machine, its spin-waiting costs more than the product
    (zipcode_usps at 1% non-zeros: 0.21 s CPU with one thread, 0.65 s with
    two). Products of at least ``_BLAS_THREADED_WORK`` multiply-adds (Gram
    blocks) get the caller's threads back (:func:`_blas_threads`). Calls from
    several threads at once share one limit, set by the first and restored by
    the last (threadpoolctl's limits are process-wide).
    """
    @functools.wraps(solver)
    def wrapper(*args, **kwargs):
        with _BLAS["lock"]:
            if _BLAS["depth"] == 0:
                blas = blas_controller().select(user_api="blas")
                _BLAS["caller"] = max([lib["num_threads"] for lib in blas.info()], default=1)
                _BLAS["limiter"] = blas.limit(limits=1)
            _BLAS["depth"] += 1
        try:
            return solver(*args, **kwargs)
        finally:
            with _BLAS["lock"]:
                _BLAS["depth"] -= 1
                if _BLAS["depth"] == 0:
                    _BLAS["limiter"].restore_original_limits()
                    _BLAS["limiter"] = None
    return wrapper


def _blas_threads(work):
    """Context manager: the caller's BLAS threads for a product of ``work >=
    _BLAS_THREADED_WORK`` multiply-adds inside :func:`_single_blas_thread` (one
    solver running), else no change."""
    if _BLAS["depth"] != 1 or _BLAS["caller"] <= 1 or work < _BLAS_THREADED_WORK:
        return contextlib.nullcontext()
    return blas_controller().limit(limits=_BLAS["caller"], user_api="blas")


def _log_softmax(Z):
    """Row-wise ``log softmax`` (shifted by the row maximum: no overflow)."""
    Zs = Z - Z.max(axis=1, keepdims=True)
    return Zs - np.log(np.exp(Zs).sum(axis=1, keepdims=True))


def _mn_coord_violation(V, W, l1, l2):
    """Per-entry distance of ``-(V + l2 W)`` to ``l1`` times the subdifferential of ``|.|``.

    ``V``: gradient of the loss (or of its model) with respect to ``W``, same shape.
    """
    W = W.astype(np.float64, copy=False)
    g = V + l2 * W if l2 else V
    if not l1:
        return np.abs(g)
    return np.where(W > 0, np.abs(g + l1), np.where(W < 0, np.abs(g - l1),
                                                     np.maximum(np.abs(g) - l1, 0.0)))


def _multinomial_violation(V, W, rho):
    """Largest distance of ``-grad`` to the subdifferential of the penalty (per entry).

    ``V = X^T G`` is the gradient of the loss w.r.t. ``W`` (shape (p, K)).
    """
    l1 = 0.0 if rho is None else float(rho)
    l2 = 0.0 if rho is None else 1.0 - float(rho)
    return float(np.max(_mn_coord_violation(V, W.T, l1, l2), initial=0.0))


def _class_shift(W, rho, n_bisect=60):
    """Per-feature shift ``v_j`` minimizing ``sum_k G(W_kj + v_j)`` (the loss's null direction).

    The softmax loss does not change when the same ``v`` is added to every
    class's coefficients: the best such move only decreases the penalty.
    ``sum_k rho sign(W_kj + v) + (1 - rho)(W_kj + v)`` is non-decreasing in
    ``v`` with its root in ``[-max_k W_kj, -min_k W_kj]``: vectorized bisection
    over the non-zero columns. For ``rho = 1`` the minimizers are the negated
    medians: the one closest to 0 is taken (no zero made non-zero for nothing).
    """
    v = np.zeros(W.shape[1])
    cols = np.flatnonzero(np.any(W != 0, axis=0))
    if cols.size == 0:
        return v
    A = W[:, cols].astype(np.float64)
    if rho == 0.0:
        v[cols] = -A.mean(axis=0)
        return v
    if rho == 1.0:
        A.sort(axis=0)
        K = A.shape[0]
        v[cols] = np.clip(0.0, -A[K // 2], -A[(K - 1) // 2])
        return v
    lo, hi = -A.max(axis=0), -A.min(axis=0)
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        S = A + mid
        dphi = (rho * np.sign(S) + (1.0 - rho) * S).sum(axis=0)
        lo = np.where(dphi < 0, mid, lo)
        hi = np.where(dphi < 0, hi, mid)
    v[cols] = 0.5 * (lo + hi)
    return v


def _softmax_state(Z, c, codes):
    """Loss, probabilities and gradient of the multinomial loss at ``Z`` (class-major ``(K, n)``).

    Returns ``f = sum_i c_i (logsumexp_k Z_ki - Z_{y_i, i})``, ``P = softmax(Z)``
    and ``G = c (P - Y)``, both ``(K, n)`` C-contiguous float64.
    """
    zmax = Z.max(axis=0)
    E = np.exp(Z - zmax)
    tot = E.sum(axis=0)
    P = E / tot
    n = Z.shape[1]
    lse = zmax + np.log(tot)
    f = float(c @ (lse - Z[codes, np.arange(n)]))
    G = P * c
    G[codes, np.arange(n)] -= c
    return f, P, G


def _softmax_loss(Z, c, codes):
    zmax = Z.max(axis=0)
    lse = zmax + np.log(np.exp(Z - zmax).sum(axis=0))
    return float(c @ (lse - Z[codes, np.arange(Z.shape[1])]))


def _backtrack_scores(Z, dZ, F, decrease, penalty_at, c, codes):
    """Armijo backtracking along the scores' direction ``dZ`` (shared by both solvers).

    ``F``: the objective at ``Z``; ``decrease < 0``: its directional
    derivative (or the model's decrease) at a unit step; ``penalty_at(t)``:
    the penalty at step ``t``. Steps ``1, 1/2, ...`` down to ``_MIN_STEP``;
    when ``-decrease`` is below the rounding level of ``F``, objective values
    cannot rank the steps, and the full step is taken unless it visibly
    increases ``F``. Returns ``(step, Z + step dZ)``, or ``None`` when no
    step is accepted.
    """
    rounding = 64 * np.finfo(np.float64).eps * max(abs(F), 1e-300)
    tiny = -decrease <= 1e3 * rounding
    step = 1.0
    while step >= _MIN_STEP:
        Zt = Z + step * dZ
        Ft = _softmax_loss(Zt, c, codes) + penalty_at(step)
        if Ft <= F + _ARMIJO * step * decrease or (tiny and Ft <= F + rounding):
            return step, Zt
        step *= 0.5
    return None


def _stopping_scale(xt, c, codes, K, fit_intercept, dtype):
    """The null model and the scale of the multinomial stopping rule (shared by both solvers).

    ``xt(G)`` is ``X^T G^T`` (any layout) for a class-major ``G``. Returns
    ``b0``, the centered log of the weighted class frequencies (the null
    model's intercepts when there is an intercept); ``G0``, ``g0 = xt(G0)``,
    the loss gradient at the null model's scores (``b0``, or 0 without
    intercept); ``viol0``, its sup-norm (intercept rows included, floored at
    ``floor_rel sum(c)``); and ``floor_rel``, the relative rounding level of
    the stopping rule (``32 eps`` in float64, ``4 eps`` in float32).
    """
    floor_rel = 32 * np.finfo(np.float64).eps if dtype == np.float64 else \
        4 * float(np.finfo(dtype).eps)
    freq = np.bincount(codes, weights=c, minlength=K)
    b0 = np.log(np.maximum(freq, 1e-300) / freq.sum())
    b0 -= b0.mean()
    _, _, G0 = _softmax_state(np.zeros((K, c.shape[0])) + (b0[:, None] if fit_intercept else 0.0),
                              c, codes)
    g0 = xt(G0)
    viol0 = max(float(np.max(np.abs(g0), initial=0.0)),
                float(np.max(np.abs(G0.sum(axis=1)))), floor_rel * float(c.sum()))
    return b0, G0, g0, viol0, floor_rel


def _xt_dense(X, G, ws=None):
    """``X[:, ws]^T G^T`` (shape ``(m, K)``) in float64, no copy of X."""
    Xs = X if ws is None else (X[:, ws] if ws.size < X.shape[1] else X)
    return np.asarray(Xs.T @ G.T.astype(X.dtype, copy=False), dtype=np.float64)


def _mn_dz(Xws, W, b, W0, b0):
    """Exact ``dZ = X_ws (W[:, ws] - W0)^T + (b - b0)`` class-major ``(K, n)`` (float64)."""
    D = W - W0
    rows = np.flatnonzero(np.any(D != 0, axis=0))
    if rows.size == 0:
        dz = np.zeros((W.shape[0], Xws.shape[0]))
    else:
        dz = np.ascontiguousarray(np.asarray(
            Xws[:, rows] @ D[:, rows].T.astype(Xws.dtype), dtype=np.float64).T)
    dz += (b - b0)[:, None]
    return dz


def _mn_direction(kernel, Xws, P, G, c, W, b, ws, V_ws, l1, l2, hess_floor, fit_intercept,
                  tol, max_epochs, tol_min=0.0):
    """Proximal Newton direction of the multinomial problem on ``ws`` (``W``, ``b`` in place).

    Minimizes the full second-order model (see
    :func:`fastreg._newton.multinomial_cd_dense`) plus the penalty over the
    coordinates ``(k, j)``, ``j`` in ``ws``, that are non-zero or violate the
    optimality condition by more than ``tol`` (``V_ws``, shape ``(K, m)``:
    the loss gradient on ``ws`` at the current point, which is the model's at
    a zero step), until their violation is ``<= tol``; then the model
    gradient on all of ``ws`` (one product with ``X_ws``) is checked and the
    coordinates still violating by more than ``tol`` join the swept set (the
    working-set strategy of glmnet's inner loop, with the check on the whole
    working set done by BLAS rather than by CD sweeps). ``tol`` is the
    forcing term times the current violation (:func:`_forcing`).

    The swept set is minimized by CD in sample space
    (:func:`fastreg._newton.multinomial_cd_dense` / ``_sparse``, ``O(n q)``
    per sweep for ``q`` swept coordinates). When ``_MN_SUPPORT_EVERY`` sweeps
    leave a violation above ``_MN_GRAM_SLOW tol`` (CD converges linearly,
    slowly on correlated features such as image pixels), dense ``X`` and
    ``q <= _MN_GRAM_MAX``,
    the rest is solved in Gram form (:func:`_mn_gram_phase`: the model's
    Hessian on the swept coordinates built once by BLAS, then CD sweeps of
    ``O(q^2)`` alternating with sign-fixed Newton steps, to ``_MN_GRAM_TIGHT
    tol`` but not below ``tol_min``, the rounding level; the Hessian in float32,
    twice the BLAS speed, while that tolerance is at least ``_MN_SINGLE_REL``
    times the largest gradient entry: its rounding then perturbs the model's
    gradient far less than the tolerance, and the model gradient checked at the
    end is exact either way); otherwise CD goes on
    with a sign-fixed Newton step on a settled support now and then
    (:func:`_mn_support_newton`).

    Returns
    -------
    epochs : int
        CD sweeps over the swept coordinates (both forms).
    """
    K, m = V_ws.shape
    n = P.shape[1]
    dz = np.zeros((K, n))
    s = np.zeros(n)
    lips = np.full((K, m), -1.0)
    gx = np.empty((K, m))               # x_j . G_k, filled by the kernel with lips (G fixed here)
    lips_b = np.empty(K)
    # C order for the kernels (W[:, ws] is a column gather: numpy may return it in F order)
    mask = np.ascontiguousarray((W[:, ws] != 0) | (_mn_coord_violation(V_ws, W[:, ws], l1, l2)
                                                   > tol), dtype=np.uint8)
    cP = c * P
    W0, b0 = W[:, ws].astype(np.float64), b.copy()
    ep = 0
    gram = not hasattr(Xws, "toarray")
    tol_gram = max(_MN_GRAM_TIGHT * tol, tol_min)
    # a float32 Hessian (twice the BLAS speed) while its rounding (relative ~1e-6) stays far
    # below the Gram form's tolerance relative to the gradient's scale
    hdtype = np.float32 if tol_gram >= _MN_SINGLE_REL * float(
        np.max(np.abs(V_ws), initial=0.0)) else np.float64
    support = W[:, ws] != 0
    next_direct, gap = _MN_SUPPORT_EVERY, _MN_SUPPORT_EVERY
    while ep < max_epochs:
        e, v = kernel(P, G, c, W, b, dz, s, lips, gx, lips_b, mask, ws, l1, l2,
                      float(hess_floor), bool(fit_intercept),
                      int(min(max_epochs - ep, _MN_SUPPORT_EVERY)), float(tol))
        ep += e
        R = G + cP * (dz - s)            # model gradient with respect to Z
        Vm = _xt_dense(Xws, R).T
        out = _mn_coord_violation(Vm, W[:, ws], l1, l2) > tol
        if not out.any() and not (fit_intercept and np.max(np.abs(R.sum(axis=1))) > tol):
            break
        mask |= out
        q = int(np.count_nonzero(mask))
        if gram and v > _MN_GRAM_SLOW * tol and q <= _MN_GRAM_MAX and \
                _MN_GRAM_MIN_WORK <= n * q <= _MN_GRAM_MAX_ENTRIES:
            gram = False        # once per direction
            e, done = _mn_gram_phase(Xws, P, G, c, W, b, ws, W0, b0, Vm, R.sum(axis=1), mask,
                                     l1, l2, hess_floor, fit_intercept, tol, tol_gram, hdtype)
            ep += e
            if done:
                break
            dz[...] = _mn_dz(Xws, W[:, ws], b, W0, b0)      # CD continues from here
            s[...] = (P * dz).sum(axis=0)
            continue
        support, settled = W[:, ws] != 0, support
        settled = np.count_nonzero(settled != support) <= 0.05 * support.sum()
        # CD slow on a settled support: a direct (sign-fixed) Newton step there (at
        # doubling intervals: on a still moving support it is repeated less and less often)
        if v > tol and settled and ep >= next_direct and \
                _mn_support_newton(Xws, P, c, R, W, b, ws, l1, l2, fit_intercept):
            gap *= 2
            next_direct = ep + gap
            dz[...] = _mn_dz(Xws, W[:, ws], b, W0, b0)      # exact dz and s after the step
            s[...] = (P * dz).sum(axis=0)
    return ep


def _mn_columns(Xws, feat):
    """Dense float64 Fortran columns ``X_ws[:, feat]`` (``feat = -1``: a column of ones)."""
    isf = feat >= 0
    A = Xws[:, np.where(isf, feat, 0)]
    A = np.asfortranarray(A.toarray() if hasattr(A, "toarray") else A, dtype=np.float64)
    A[:, ~isf] = 1.0
    return A


def _class_runs(cls):
    """``(class, start, stop)`` of the maximal runs of equal entries of ``cls``."""
    cuts = np.flatnonzero(np.diff(cls)) + 1
    starts, stops = np.concatenate([[0], cuts]), np.concatenate([cuts, [cls.size]])
    return [(int(cls[a]), int(a), int(z)) for a, z in zip(starts, stops)]


def _mn_hessian(A, cls, P, c, B=None, cls_B=None, dtype=np.float64):
    """Block of the multinomial model's Hessian between the coordinates of ``A`` and ``B``.

    Coordinate ``a`` is the column ``A[:, a]`` of ``X`` (a column of ones for an
    intercept) for class ``cls[a]``. Between ``(k, j)`` and ``(l, j')`` the
    Hessian is ``sum_i c_i x_ij x_ij' (P_ik delta_kl - P_ik P_il)``: the
    class-block-diagonal ``A_k^T diag(c P_k) B_k`` minus ``U_A^T U_B``,
    ``U = A`` scaled by ``sqrt(c_i) P_{i, class}`` (BLAS: one ``syrk`` for
    ``B = A``, the default, else one product; one product per pair of runs of
    equal class in ``cls`` and ``cls_B``, on column slices: callers list the
    coordinates grouped by class; scattered classes are grouped first).
    ``A``, ``B``: Fortran-ordered float64. ``dtype``: precision of the products
    (float32: twice the BLAS speed, relative rounding ~1e-6; the result is float64).
    Large products run with the caller's BLAS threads (``_blas_threads``).

    Returns
    -------
    H : ndarray (q_A, q_B) float64, C-contiguous
    """
    runs = _class_runs(cls)
    runs_B = runs if B is None else _class_runs(cls_B)
    if len(runs) * len(runs_B) > 16 * P.shape[0] ** 2:
        # classes scattered (many small block products): group them, then restore the order
        oa = np.argsort(cls, kind="stable")
        if B is None:
            H = _mn_hessian(np.asfortranarray(A[:, oa]), cls[oa], P, c, dtype=dtype)
            ob = oa
        else:
            ob = np.argsort(cls_B, kind="stable")
            H = _mn_hessian(np.asfortranarray(A[:, oa]), cls[oa], P, c,
                            np.asfortranarray(B[:, ob]), cls_B[ob], dtype)
        out = np.empty_like(H)
        out[np.ix_(oa, ob)] = H
        return out
    sc = np.sqrt(c)[:, None].astype(dtype)
    Pd = P.astype(dtype, copy=False)

    def scaled(M, runs_M):
        """``V = sqrt(c) M`` and ``U``: column ``a`` of ``V`` times ``P_{cls[a]}`` (Fortran)."""
        V = np.multiply(M, sc, dtype=dtype)
        U = np.empty_like(V)
        for k, a0, a1 in runs_M:
            np.multiply(V[:, a0:a1], Pd[k][:, None], out=U[:, a0:a1])
        return V, U

    V, U = scaled(A, runs)
    if B is None:
        syrk = _blas.ssyrk if dtype == np.float32 else _blas.dsyrk
        with _blas_threads(A.shape[0] * A.shape[1] ** 2):
            H = syrk(-1.0, U, trans=1).astype(np.float64)   # upper triangle of -U^T U
        H += np.triu(H, 1).T
        UB = U
    else:
        UB = scaled(B, runs_B)[1]
        with _blas_threads(A.shape[0] * A.shape[1] * B.shape[1]):
            H = -(U.T @ UB).astype(np.float64)
    for k, a0, a1 in runs:          # + A_k^T diag(c P_k) B_k
        for kb, b0, b1 in runs_B:
            if kb == k:
                H[a0:a1, b0:b1] += V[:, a0:a1].T @ UB[:, b0:b1]
    return np.ascontiguousarray(H)


def _mn_gram_phase(Xws, P, G, c, W, b, ws, W0, b0, Vm, gb, mask, l1, l2, hess_floor,
                   fit_intercept, tol, tol_gram, dtype=np.float64):
    """The swept coordinates of :func:`_mn_direction` minimized in Gram form (in place).

    The model (at the Newton point ``W0``, ``b0``) is minimized from the
    current ``W``, ``b``, where its gradient is ``Vm`` (``(K, m)``, on
    ``ws``) and ``gb`` (``(K,)``, intercepts). Its Hessian ``H`` on the swept
    coordinates ``mask`` and the intercepts of the first ``K - 1`` classes
    (the last one fixed: the loss is invariant to a common shift of the
    intercepts) is built by :func:`_mn_hessian`, its diagonal floored at
    ``hess_floor sum_i c_i x_ij^2`` as in the sample-space kernel;
    :func:`_mn_gram_solve` minimizes the model plus the penalty on them to
    ``tol_gram <= tol`` (glmnet's covariance updates, Friedman, Hastie & Tibshirani 2010).
    The model gradient on all of ``ws`` is then checked (one product with
    ``X_ws``); coordinates violating by more than ``tol`` join ``mask`` and
    ``H`` is extended by their rows and columns (:func:`_mn_model_hessian`),
    while ``mask`` stays within ``_MN_GRAM_MAX`` coordinates. ``dtype``: the
    precision of the Hessian's products (float32 or float64; ``H`` is float64).

    Returns
    -------
    epochs : int
        Gram-form sweeps.
    done : bool
        Whether the whole working set satisfies the tolerance (else ``mask``
        outgrew the Gram size or the sweeps ran out: the caller continues).
    """
    K, m = Vm.shape
    nb = K - 1 if fit_intercept else 0
    cP = c * P
    kk, tt = np.nonzero(mask)
    ep = 0
    cache = {"P": P}
    while True:
        q = kk.size
        A, H = _mn_model_hessian(Xws, ws, np.concatenate([kk, np.arange(nb)]),
                                 np.concatenate([tt, np.full(nb, -1)]), P, c, cache, dtype)
        diag = np.einsum("ii->i", H)[:q]           # a view
        np.maximum(diag, hess_floor * np.einsum("i,ij,ij->j", c, A[:, :q], A[:, :q]), out=diag)
        x = np.concatenate([W[kk, ws[tt]].astype(np.float64), b[:nb]])
        r = np.concatenate([Vm[kk, tt], gb[:nb]])
        e = _mn_gram_solve(H, r, x, q, l1, l2, tol_gram)
        ep += e
        W[kk, ws[tt]] = x[:q]
        b[:nb] = x[q:]
        dz = _mn_dz(Xws, W[:, ws], b, W0, b0)
        R = G + cP * (dz - (P * dz).sum(axis=0))    # model gradient with respect to Z
        Vm, gb = _xt_dense(Xws, R).T, R.sum(axis=1)
        out = (_mn_coord_violation(Vm, W[:, ws], l1, l2) > tol) & (mask == 0)
        n_out = int(np.count_nonzero(out))
        if n_out == 0:
            return ep, e < _MN_GRAM_EPOCHS
        mask |= out
        if e >= _MN_GRAM_EPOCHS or q + n_out > _MN_GRAM_MAX or \
                A.shape[0] * (A.shape[1] + n_out) > _MN_GRAM_MAX_ENTRIES:
            return ep, False
        # the new coordinates join (only their rows and columns of H are computed)
        kn, tn = np.nonzero(out)
        kk, tt = np.concatenate([kk, kn]), np.concatenate([tt, tn])


def _mn_model_hessian(Xws, ws, cls, feat, P, c, cache, dtype=np.float64):
    """Columns ``A`` and model Hessian ``H`` (:func:`_mn_hessian`) on coordinates ``(cls, feat)``.

    ``feat`` are positions in ``ws`` (``-1``: the class's intercept). Entries
    of ``cache`` (a dict holding the coordinates, columns and Hessian of the
    last call) are reused when it was built at the same ``P`` (the same
    object): only the rows and columns of coordinates not in it are computed.
    The result is stored back in ``cache`` (``None``: no cache).
    """
    n, q = Xws.shape[0], cls.size
    K = P.shape[0]
    gid = np.where(feat >= 0, ws[np.maximum(feat, 0)].astype(np.int64) * K + cls, -1 - cls)
    hit = np.full(q, -1)
    if cache is not None and cache.get("P") is P and cache.get("dtype") == dtype:
        old = cache["ids"]
        srt = np.argsort(old)
        pos = np.minimum(np.searchsorted(old[srt], gid), old.size - 1)
        found = old[srt][pos] == gid
        hit[found] = srt[pos[found]]
    f = hit >= 0
    nf = np.flatnonzero(~f)
    f = np.flatnonzero(f)
    A = np.empty((n, q), order="F")
    H = np.empty((q, q))
    if f.size:
        A[:, f] = cache["A"][:, hit[f]]
        H[np.ix_(f, f)] = cache["H"][np.ix_(hit[f], hit[f])]
    if nf.size:
        An = _mn_columns(Xws, feat[nf])
        A[:, nf] = An
        H[np.ix_(nf, nf)] = _mn_hessian(An, cls[nf], P, c, dtype=dtype)
        if f.size:
            Hfn = _mn_hessian(np.asfortranarray(A[:, f]), cls[f], P, c, An, cls[nf], dtype)
            H[np.ix_(f, nf)] = Hfn
            H[np.ix_(nf, f)] = Hfn.T
    if cache is not None and cache.get("P") is P:
        cache.update(ids=gid, A=A, H=H, dtype=dtype)
    return A, H


def _mn_gram_solve(H, r, x, q, l1, l2, tol):
    """Minimize ``1/2 e^T H e + r^T e + l1 |x + e|_1 + l2/2 |x + e|^2`` (first ``q`` penalized).

    ``x``, ``r`` (the model gradient) updated in place. Rounds of
    ``_MN_GRAM_CHUNK`` CD sweeps (:func:`fastreg._newton.quad_cd_gram`,
    which finds the signs) alternate with a sign-fixed Newton step on the
    non-zero coordinates (:func:`_orthant_newton` on the corresponding block
    of ``H``: CD alone converges linearly, slowly on correlated features such
    as image pixels); stops after a CD sweep whose largest violation is
    ``<= tol``. Returns the CD sweeps done (``>= _MN_GRAM_EPOCHS``: not
    converged).
    """
    m = x.size
    l1v, l2v = np.full(q, l1), np.full(q, l2)
    ep = 0
    while ep < _MN_GRAM_EPOCHS:
        e, _ = _newton.quad_cd_gram(H, r, x, l1v, l2v, m - q, float(tol), _MN_GRAM_CHUNK)
        ep += e
        if e < _MN_GRAM_CHUNK:
            break
        S = np.union1d(np.flatnonzero(x[:q] != 0), np.arange(q, m))
        isf = S < q
        xs = x[S]
        g = r[S].copy()
        g[isf] += l1 * np.sign(xs[isf]) + l2 * xs[isf]
        HS = H[np.ix_(S, S)]
        if l2:
            HS[np.flatnonzero(isf), np.flatnonzero(isf)] += l2
        x_new = _orthant_newton(HS, g, xs, isf)
        if x_new is not None:
            d = np.zeros(m)
            d[S] = x_new - xs
            x[S] = x_new
            r += H @ d              # H symmetric: no copy of its columns S
    return ep


def _mn_support_newton(Xws, P, c, R, W, b, ws, l1, l2, fit_intercept):
    """Minimize the multinomial model on the support of ``W[:, ws]`` with its signs fixed.

    The model's Hessian on the support's coordinates and the intercepts of
    the first ``K - 1`` classes (the last one fixed, the loss being invariant
    to a common shift) is :func:`_mn_hessian`. ``R`` is the model gradient
    with respect to ``Z`` at the current CD iterate. The step is
    :func:`_orthant_newton`; ``W`` and ``b`` are updated in place. Only for
    supports up to ``_MN_SUPPORT_MAX`` coordinates (and ``n_samples (K - 1)``,
    the Hessian's rank bound), and from ``n_samples |support| >=
    _MN_SUPPORT_MIN_WORK`` (below, CD sweeps cost less than the factorization):
    on correlated features (image pixels) or with more features than samples,
    CD alone needs tens of sweeps per decade of the violation once the support
    is found.

    Returns
    -------
    bool
        Whether ``W``, ``b`` changed.
    """
    K, n = P.shape
    Wws = W[:, ws]
    kk, tt = np.nonzero(Wws)
    q = kk.size
    nb = K - 1 if fit_intercept else 0
    if q == 0 or q + nb > min(_MN_SUPPORT_MAX, n * (K - 1)) or n * q < _MN_SUPPORT_MIN_WORK:
        return False
    cls = np.concatenate([kk, np.arange(nb)])
    feat = np.concatenate([tt, np.full(nb, -1)])
    isf = feat >= 0
    A = _mn_columns(Xws, feat)
    H = _mn_hessian(A, cls, P, c)
    x = np.concatenate([Wws[kk, tt].astype(np.float64), b[:nb]])
    g = np.einsum("ij,ij->i", A.T, R[cls])
    g[isf] += l1 * np.sign(x[isf]) + l2 * x[isf]
    H[np.flatnonzero(isf), np.flatnonzero(isf)] += l2
    x_new = _orthant_newton(H, g, x, isf)
    if x_new is None:
        return False
    Wws[kk, tt] = x_new[:q]
    W[:, ws] = Wws
    b[:nb] = x_new[q:]
    return True


@_single_blas_thread
def multinomial_prox_newton(X, codes, n_classes, c, rho, *, fit_intercept=True, coef_init=None,
                            intercept_init=None, tol=1e-4, max_iter=100, max_newton=50,
                            max_epochs=10_000, p0=10, hess_floor=None, verbose=0, warn=True,
                            n_threads=None, **unused):
    """Multinomial (softmax) penalized logistic regression by working-set proximal Newton.

    Minimizes ``sum_i c_i (logsumexp_k z_ik - z_{i, y_i}) + rho |W|_1 + (1 - rho)/2 |W|^2``
    with ``Z = X W^T + b`` (``W`` of shape ``(K, p)``, penalty over all entries,
    intercepts unpenalized). Each outer iteration computes the full gradient
    ``X^T G`` and stops when the optimality violation (largest distance of
    ``-grad`` to the penalty's subdifferential, and ``|sum_i G_ik|`` for the
    intercepts) is ``<= tol`` times the sup-norm of the loss gradient at the
    null model (``W = 0``, optimal intercepts; floored at the rounding level
    ``32 eps sum_i c_i``); then builds a working
    set of features (the non-zero rows of ``W^T`` plus the largest violations,
    size ``max(p0, 2 |support|)``) and makes proximal Newton steps (Lee, Sun &
    Saunders 2014) on it: the **full** second-order model of the softmax loss
    (per-sample Hessian ``c_i (diag(P_i) - P_i P_i^T)``, all classes coupled) is
    minimized with the penalty (:func:`_mn_direction`: coordinate descent,
    :func:`fastreg._newton.multinomial_cd_dense` / ``_sparse``, on the
    coordinates that are non-zero or violate the optimality condition, the
    whole working set checked by one BLAS product per 10 sweeps; when 10
    sweeps do not suffice on dense ``X``, the rest in Gram form,
    :func:`_mn_gram_phase`, else a sign-fixed Newton step on the support,
    :func:`_mn_support_newton`, when CD is slow on a settled support) to the
    adaptive forcing term :func:`_forcing` times
    the current working-set violation, followed by a backtracking line search
    on the true objective; Newton steps stop when the working-set violation is
    below ``0.3`` times the full one. Convergence is then locally superlinear
    (the old block-diagonal scheme, one class at a time, was only linear). The
    exact minimization of the penalty along the
    loss's null direction (a common shift of all classes, :func:`_class_shift`),
    along which the Newton model is flat, follows every outer iteration. Intercepts are returned centered (sum 0):
    the loss does not change when a constant is added to all of them.

    Parameters
    ----------
    X : validated design (Fortran dense or CSC int32)
    codes : ndarray (n_samples,) of int, class indices in ``[0, n_classes)``
    n_classes : int (>= 3)
    c, rho, fit_intercept, tol, max_iter, max_newton, max_epochs, p0, hess_floor,
    verbose, warn : as in :func:`logistic_prox_newton`
    n_threads : ignored (the full gradients are BLAS / scipy products; BLAS
        runs on one thread inside the solver except for products of at least
        ``_BLAS_THREADED_WORK`` multiply-adds, see :func:`_single_blas_thread`)
    coef_init : ndarray (n_classes, n_features) or None
    intercept_init : ndarray (n_classes,) or None

    Returns
    -------
    LogisticResult
        ``coef`` of shape ``(n_classes, n_features)``, ``intercept`` an ndarray
        ``(n_classes,)``, ``violation`` the optimality violation, ``gap`` NaN.

    References
    ----------
    Lee, Sun, Saunders (2014), SIAM J. Optim. 24(3). Yuan, Ho, Lin (2012), An
    improved GLMNET for L1-regularized logistic regression, JMLR 13.
    Friedman, Hastie, Tibshirani (2010), J. Stat. Softw. 33(1), section 4.
    """
    import scipy.sparse as sp
    sparse = sp.issparse(X)
    dtype = X.dtype
    n, p = X.shape
    K = int(n_classes)
    codes = np.asarray(codes, dtype=np.intp)
    c64 = np.ascontiguousarray(c, dtype=np.float64)
    if hess_floor is None:
        hess_floor = 1e-10 if dtype == np.float64 else 1e-6
    W = np.zeros((K, p), dtype=dtype) if coef_init is None else \
        np.array(coef_init, dtype=dtype).reshape(K, p)
    b = np.zeros(K) if (intercept_init is None or not fit_intercept) else \
        np.array(intercept_init, dtype=np.float64).reshape(K)
    all_feats = np.arange(p, dtype=np.int32)
    l1 = 0.0 if rho is None else float(rho)
    l2 = 0.0 if rho is None else 1.0 - float(rho)
    if sparse:
        def kernel(*args):
            return _newton.multinomial_cd_sparse(X.data, X.indices, X.indptr, *args)
    else:
        def kernel(*args):
            return _newton.multinomial_cd_dense(X, *args)

    def xw():
        """``X W^T`` class-major (exact; float64)."""
        rows = np.flatnonzero(np.any(W != 0, axis=0))
        if rows.size == 0:
            return np.zeros((K, n))
        return np.ascontiguousarray(np.asarray(X[:, rows] @ W[:, rows].T, dtype=np.float64).T)

    def penalty(W_):
        return _penalty(W_.ravel(), rho)

    # null model intercepts and the scale of the stopping rule
    b0, _, _, viol0, floor_rel = _stopping_scale(lambda G: _xt_dense(X, G), c64, codes, K,
                                                 fit_intercept, dtype)
    if fit_intercept and coef_init is None and intercept_init is None:
        b = b0.copy()
    tol_abs = max(tol * viol0, floor_rel * viol0)
    XW = xw()
    Z = XW + b[:, None]
    viol = np.inf
    v_prev = np.inf     # working-set violation at the previous Newton iterate (forcing term)
    n_newton = n_epochs = n_stalled = 0
    converged = False
    it = 0
    for it in range(1, max_iter + 2):
        f, P, G = _softmax_state(Z, c64, codes)
        V = _xt_dense(X, G)
        viol = _multinomial_violation(V, W, rho)
        if fit_intercept:
            viol = max(viol, float(np.max(np.abs(G.sum(axis=1)))))
        pen = penalty(W)
        Pobj = f + pen
        if verbose:
            print(f"[fastreg.multinomial_prox_newton] iter {it:3d}  primal {Pobj:.12e}  "
                  f"violation {viol:.3e} (tol {tol_abs:.3e})  nnz {np.count_nonzero(W)}  "
                  f"newton {n_newton}  epochs {n_epochs}")
        if viol <= tol_abs:
            converged = True
            break
        if it > max_iter:
            break
        # ---- working set of features (rows of W^T)
        if rho is None or rho == 0.0:
            ws = all_feats
        else:
            score = (rho - np.abs(V)).min(axis=1)
            nzrows = np.any(W != 0, axis=0)
            score[nzrows] = -np.inf
            size = min(p, max(int(p0), 2 * int(nzrows.sum())))
            ws = np.sort(np.argpartition(score, size - 1)[:size]) if size < p else all_feats
            ws = np.ascontiguousarray(ws, dtype=np.int32)
        m = ws.size
        Xws = X[:, ws] if m < p else X      # one copy per working set, for the products
        V_ws = np.ascontiguousarray(V[ws].T)
        v_cur = float(np.max(_mn_coord_violation(V_ws, W[:, ws], l1, l2), initial=0.0))
        if fit_intercept:
            v_cur = max(v_cur, float(np.max(np.abs(G.sum(axis=1)))))
        target = 0.3 * viol
        stalled = False
        for _k in range(max_newton):
            # ---- Newton direction: CD on the full quadratic model, restricted to ws
            tol_sub = max(_forcing(v_cur, v_prev) * v_cur, 0.1 * tol_abs)
            W_new = W.copy()
            b_new = b.copy()
            ep = _mn_direction(kernel, Xws, P, G, c64, W_new, b_new, ws, V_ws, l1, l2, hess_floor,
                               fit_intercept, tol_sub, min(max_epochs, _MN_EPOCHS),
                               floor_rel * viol0)
            n_epochs += ep
            n_newton += 1
            D = W_new[:, ws].astype(np.float64) - W[:, ws].astype(np.float64)
            db = b_new - b
            # exact X D^T + db (the kernel's incremental dz drifts over many epochs)
            rows = np.flatnonzero(np.any(D != 0, axis=0))
            dz = np.zeros((K, n)) if rows.size == 0 else np.ascontiguousarray(
                np.asarray(Xws[:, rows] @ D[:, rows].T.astype(dtype), dtype=np.float64).T)
            dz += db[:, None]
            big = float(np.max(np.abs(dz), initial=0.0))
            if big > _MAX_DZ:
                # nearly flat directions (separable data, P_ik (1 - P_ik) ~ 0) give huge
                # model steps: shrink the direction to a trust region on the scores
                D *= _MAX_DZ / big
                db *= _MAX_DZ / big
                dz *= _MAX_DZ / big
            W_ws = W[:, ws].ravel()
            D = D.ravel()
            decrease = float(np.vdot(G, dz)) + _penalty_change(W_ws, D, 1.0, rho)
            if not decrease < 0.0:
                stalled = True
                break
            found = _backtrack_scores(Z, dz, Pobj, decrease,
                                      lambda t: pen + _penalty_change(W_ws, D, t, rho), c64, codes)
            if found is None:
                stalled = True
                break
            step, Zt = found
            W[:, ws] = (W_ws.astype(np.float64) + step * D).astype(dtype).reshape(K, m)
            b = b + step * db
            Z = Zt
            pen = penalty(W)
            f, P, G = _softmax_state(Z, c64, codes)
            Pobj = f + pen
            # ---- working-set violation
            V_ws = np.ascontiguousarray(_xt_dense(Xws, G).T)
            sub = float(np.max(_mn_coord_violation(V_ws, W[:, ws], l1, l2), initial=0.0))
            if fit_intercept:
                sub = max(sub, float(np.max(np.abs(G.sum(axis=1)))))
            if verbose > 1:
                print(f"    newton {n_newton:3d}  ws {m}  epochs {ep}  step {step:.3g}  "
                      f"tol_sub {tol_sub:.2e}  ws violation {v_cur:.3e} -> {sub:.3e}  "
                      f"nnz {np.count_nonzero(W)}")
            v_prev, v_cur = v_cur, sub
            if sub <= target or sub <= tol_abs:
                break
        if rho is not None:
            # exact step along the loss's null direction (same shift for every class):
            # the Newton model is flat along it, so CD alone moves there very slowly
            v = _class_shift(W, rho)
            v[np.abs(v) <= 1e-300] = 0.0
            Wt = (W + v).astype(dtype)
            if penalty(Wt) < pen - 64 * np.finfo(np.float64).eps * max(pen, 1e-300):
                W = Wt
        # exact X W^T (no drift of the incremental updates; also after the shift)
        XW = xw()
        Z = XW + b[:, None]
        n_stalled = n_stalled + 1 if stalled else 0
        if n_stalled >= 3:
            break       # no descent direction left (rounding level): stop, warn below
    n_iter = min(it, max_iter)
    if not converged and warn:
        warnings.warn(f"Multinomial logistic regression did not converge: optimality violation "
                      f"{viol:.3e} > tolerance {tol_abs:.3e} after {n_iter} outer iterations. "
                      f"Increase max_iter or tol, or scale the data.", ConvergenceWarning,
                      stacklevel=3)
    if fit_intercept:
        b = b - b.mean()
    else:
        b = np.zeros(K)
    Pobj = _softmax_loss(xw() + b[:, None], c64, codes) + penalty(W)
    return LogisticResult(coef=W, intercept=b, gap=float("nan"), violation=float(viol),
                          primal=float(Pobj), p0=float("nan"), n_iter=n_iter, n_newton=n_newton,
                          n_epochs=n_epochs, converged=bool(converged))
