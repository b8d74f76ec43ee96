"""Smooth multinomial logistic regression (L2 or no penalty) by truncated Newton-CG.

:func:`multinomial_newton_cg` minimizes, over ``W`` of shape ``(K, p)`` and
intercepts ``b`` of shape ``(K,)``,

    F(W, b) = sum_i c_i (logsumexp_k z_ik - z_{i, y_i}) + l2 / 2 ||W||_F^2,
    Z = X W^T + b,

with ``l2 = 1`` (scikit-learn's L2 penalty, ``c = C * sample_weight``) or
``l2 = 0`` (no penalty, ``c = sample_weight``). The objective is smooth: every
coordinate moves at each step, so the working-set proximal Newton solver of
:mod:`fastreg.solvers.prox_newton_multinomial` (built for L1) would solve
``K p``-dimensional Newton systems by coordinate descent; here each Newton
system is solved inexactly by preconditioned conjugate gradients whose
Hessian-vector products are two matrix products with ``X`` (BLAS for dense
``X``, scipy's sparse products otherwise; ``X`` is never copied or densified).

Algorithm (line-search Newton-CG, Nocedal & Wright 2006, Algorithm 7.1):

- gradient ``grad_W = G X + l2 W``, ``grad_b = G 1`` with
  ``G_ki = c_i (P_ki - [y_i = k])``, ``P = softmax(Z)`` (computed from the
  row maximum: no overflow);
- Hessian-vector product at ``(D, d)``: ``dZ = X D^T + d``, ``R_ki = c_i P_ki
  (dZ_ki - sum_l P_li dZ_li)``, ``H (D, d) = (R X + l2 D, R 1)``;
- CG on ``H s = -grad`` from ``s = 0``, stopped when the residual's Euclidean
  norm is ``<= eta ||grad||`` with the forcing term ``eta = min(0.5,
  sqrt(||grad|| / ||grad_0||))`` (Nocedal & Wright's ``min(0.5,
  sqrt(||grad||))`` on the problem scaled so that ``grad_0``, the gradient at
  the null model, has norm 1: superlinear convergence, independent of the
  scale of ``c``), once the model's gradient is below a tenth of the stopping
  tolerance, on non-positive curvature, or after ``max_cg`` iterations (any
  truncated CG iterate is a descent direction); small problems (``n_samples``
  times the number of coefficients up to ``_EXACT_WORK``) solve the Newton
  systems to a relative residual of ``1e-10`` instead (cheap there; the
  result then lies far below the tolerance and does not depend on rounding,
  see ``_EXACT_WORK``);
- Jacobi preconditioner ``diag(H)``: ``(c P (1 - P)) (X o X) + l2`` and
  ``sum_i c_i P_ki (1 - P_ki)`` for the intercepts (``X o X`` formed by
  column blocks, never whole); for dense ``X`` with fewer than
  ``_KRON_MAX_FEATURES`` features, a Kronecker-factored approximation of
  ``H`` (:mod:`fastreg.solvers.kronecker_precond`) from the Newton step after
  one whose CG iterations cost more than building it (``2 K n p``
  multiply-adds per iteration against ``n p^2 / 2 + 4 p^3``), if applying
  it costs no more than an iteration (``2 K p (K + p)``): on weakly
  regularized problems it cuts the CG iterations several times (zipcode_usps
  at ``C = 1``, tol 1e-4: 4.5 -> 1.5 s; mnist_5k: 5.5 -> 3.2 s);
- the scores of the direction, ``X D^T + d``, are accumulated from the CG
  products (no extra product), and the step is chosen by Armijo backtracking
  on the exact objective (``Z + t dZ`` costs ``O(n K)`` per trial).

The softmax is invariant to adding the same constant to every class's score:
the intercepts' Hessian is singular along ``(1, ..., 1)``, and without a
penalty so is ``W``'s along every ``W[:, j] += t``. The gradient and the
Hessian's range are orthogonal to these directions; the preconditioned
residuals are projected onto their orthogonal complement (intercepts centered,
and without penalty each column of ``W`` centered over the classes), so CG
runs on the subspace where ``H`` is non-singular and the iterates keep
centered intercepts (and, without penalty, centered coefficients: among the
minimizers that differ by a common shift of the classes, the one of minimum
norm; with collinear columns the minimizer is not unique in other directions
either, and which one is returned depends on the preconditioner). With the L2
penalty the minimizer is unique and centered anyway.

Stopping rule: the one of :class:`fastreg.LogisticRegression` for
multinomial problems (as :func:`fastreg.solvers.prox_newton_multinomial.multinomial_prox_newton`):
``max(||grad_W||_inf, ||grad_b||_inf) <= tol * viol0``, ``viol0`` the loss
gradient's sup-norm at the null model (``W = 0``, optimal intercepts),
floored at the rounding level. ``max_iter`` counts Newton iterations.

float32 ``X``: ``W``, ``b``, the scores and every reduction are float64; the
Hessian-vector products run in float32 BLAS (an inexact Newton direction is
enough), the scores of each new iterate and the gradient (the stopping
certificate) are products of float64 with ``X`` converted by column blocks.
The coefficients are returned as float32.

References
----------
Nocedal, Wright (2006), Numerical Optimization, 2nd ed., Springer, Algorithm 7.1
(line search Newton-CG) and section 5.1 (preconditioned CG, Algorithm 5.3).
Lin, Weng, Keerthi (2008), Trust region Newton method for large-scale logistic
regression, JMLR 9 (Hessian-vector products of the logistic loss by two
products with ``X``).
"""
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from .prox_newton import LogisticResult
from .kronecker_precond import KroneckerPreconditioner, kronecker_apply_cost, kronecker_cost
from .prox_newton_multinomial import _backtrack_scores, _softmax_state, _stopping_scale

__all__ = ["multinomial_newton_cg"]

_MAX_DZ = 20.0          # largest change of a score z_ik per Newton step (trust region on Z)
_CG_MAX = 500           # default cap on CG iterations per Newton step
_CG_TOL_SHARE = 0.1     # CG stops once the model's gradient is below this share of the tolerance
# Problems of at most _EXACT_WORK n_samples x coefficients: Newton systems solved by CG to a
# relative residual _EXACT_RTOL (a CG iteration costs microseconds there). Exact Newton steps
# converge quadratically, so the result lies far below the tolerance and does not depend on
# rounding: truncated CG directions do (weighted and repeated samples then differ at ~1e-7 at
# tol=1e-4, where scikit-learn's sample-weight equivalence check allows 1e-7).
_EXACT_WORK = 10 ** 6
_EXACT_RTOL = 1e-10
_BLOCK_ENTRIES = 2 ** 20  # entries of X converted at once (float32 X: float64 products)
_KRON_MAX_FEATURES = 2048   # Kronecker preconditioner up to this many features (its O(p^3) eigh)


def _column_blocks(X):
    """Column slices of ``X`` holding about ``_BLOCK_ENTRIES`` stored entries each."""
    n, p = X.shape
    per_col = max(1, (X.nnz if sp.issparse(X) else n * p) // max(p, 1))
    step = max(1, _BLOCK_ENTRIES // per_col)
    return [slice(j, min(j + step, p)) for j in range(0, p, step)]


def _block64(X, cols, square=False):
    """``X[:, cols]`` (or its entrywise square) as float64 (a block-sized temporary)."""
    B = X[:, cols]
    if sp.issparse(B):
        B = B.astype(np.float64)
        if square:
            B.data **= 2
        return B
    B = np.asarray(B, dtype=np.float64)
    return B * B if square else B


class _Products:
    """The products with ``X`` the solver needs, class-major, in float64.

    ``scores(D) = D X^T`` (``(K, n)``), ``back(R) = R X`` (``(K, p)``); ``exact``
    computes them from float64 (``X`` converted by column blocks when it is
    float32), otherwise in ``X``'s precision. ``X`` is never copied whole.
    """

    def __init__(self, X):
        self.X = X
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        self.blocks = None if X.dtype == np.float64 else _column_blocks(X)

    def scores(self, D, exact=False):
        X = self.X
        if exact and self.blocks is not None:
            out = np.zeros((D.shape[0], X.shape[0]))
            for cols in self.blocks:
                out += (_block64(X, cols) @ D[:, cols].T).T
            return out
        D = np.asarray(D, dtype=self.dtype)
        if self.sparse:
            return np.ascontiguousarray(np.asarray(X @ D.T).T, dtype=np.float64)
        return np.asarray(D @ X.T, dtype=np.float64)    # (K, n) C order from BLAS directly

    def back(self, R, exact=False, square=False):
        X = self.X
        if square or (exact and self.blocks is not None):
            out = np.empty((R.shape[0], X.shape[1]))
            for cols in (self.blocks or _column_blocks(X)):
                out[:, cols] = np.asarray(_block64(X, cols, square).T @ R.T).T
            return out
        R = np.asarray(R, dtype=self.dtype)
        if self.sparse:
            return np.ascontiguousarray(np.asarray(X.T @ R.T).T, dtype=np.float64)
        return np.asarray(R @ X, dtype=np.float64)


def _jacobi(prod, P, cP, l2, nb):
    """Jacobi preconditioner ``r -> r / diag(H)``: ``(c P (1 - P)) (X o X) + l2`` for ``W``,
    ``sum_i c_i P_ki (1 - P_ki)`` for the intercepts (diagonal floored at ``1e-12`` of its
    largest entry)."""
    K, p = P.shape[0], prod.X.shape[1]
    h = cP * (1.0 - P)
    diag = np.empty(K * p + nb)
    diag[:K * p] = (prod.back(h, square=True) + l2).ravel()
    if nb:
        diag[K * p:] = h.sum(axis=1)
    floor = 1e-12 * float(np.max(diag, initial=0.0))
    diag = np.maximum(diag, floor if floor > 0 else 1.0)
    return lambda r: r / diag


def _separated(Z, codes, c):
    """Whether the scores classify every sample of positive weight strictly correctly."""
    n = Z.shape[1]
    rows = np.arange(n)
    Zo = Z.copy()
    zy = Z[codes, rows]
    Zo[codes, rows] = -np.inf
    return bool(np.all((zy > Zo.max(axis=0)) | (c <= 0)))


def multinomial_newton_cg(X, codes, n_classes, c, rho, *, fit_intercept=True, coef_init=None,
                          intercept_init=None, tol=1e-4, max_iter=100, max_cg=_CG_MAX,
                          precondition=True, verbose=0, warn=True):
    """Multinomial logistic regression with an L2 penalty or none, by truncated Newton-CG.

    Minimizes ``sum_i c_i (logsumexp_k z_ik - z_{i, y_i}) + l2/2 ||W||_F^2``,
    ``Z = X W^T + b``, ``l2 = 1 - rho`` for ``rho = 0.0`` (L2) and ``l2 = 0`` for
    ``rho = None`` (no penalty); intercepts unpenalized. See the module
    docstring for the algorithm (Nocedal & Wright 2006, Algorithm 7.1).

    Parameters
    ----------
    X : ndarray (Fortran or C order) or sparse matrix (CSC or CSR), float32 or float64
        Used in place (never copied whole).
    codes : ndarray (n_samples,) of int, class indices in ``[0, n_classes)``
    n_classes : int (>= 3; 2 works too, with the redundant softmax parametrization)
    c : ndarray (n_samples,), non-negative sample weights (``C`` included for L2)
    rho : 0.0 or None
        0.0: L2 penalty ``1/2 ||W||^2``; None: no penalty.
    fit_intercept : bool
    coef_init : ndarray (n_classes, n_features) or None (warm start; zeros)
    intercept_init : ndarray (n_classes,) or None (warm start; else the null
        model's intercepts, the log of the weighted class frequencies)
    tol : float
        Stop when the optimality violation (sup-norm of the gradient) is
        ``<= tol`` times the loss gradient's sup-norm at the null model
        (floored at the rounding level, as
        :func:`fastreg.solvers.prox_newton_multinomial.multinomial_prox_newton`).
    max_iter : int
        Newton iterations at most.
    max_cg : int
        CG iterations per Newton iteration at most.
    precondition : bool
        Precondition CG: Jacobi (diagonal); for dense ``X`` with fewer than
        ``_KRON_MAX_FEATURES`` features, the Kronecker-factored preconditioner
        (:class:`fastreg.solvers.kronecker_precond.KroneckerPreconditioner`)
        from the Newton step after one whose CG iterations cost more than
        building it (ill-conditioned problems, e.g. weak regularization).
    verbose : int
    warn : bool
        ``ConvergenceWarning`` (with the violation) when not converged, and
        without penalty when the fit separates the training data (no finite
        minimizer: the coefficients then depend on ``tol`` and ``max_iter``).

    Returns
    -------
    LogisticResult
        ``coef`` ``(n_classes, n_features)`` in X's dtype, ``intercept``
        ``(n_classes,)`` float64, centered (zeros without intercept);
        ``violation`` the optimality violation at the returned float64
        iterate; ``gap`` and ``p0`` NaN; ``n_iter`` and ``n_newton`` the
        Newton iterations, ``n_epochs`` the CG iterations (each one
        Hessian-vector product, two products with ``X``).
    """
    if rho is not None and rho != 0.0:
        raise ValueError(f"multinomial_newton_cg solves L2 (rho=0.0) or no penalty (rho=None), "
                         f"got rho={rho!r}")
    n, p = X.shape
    K = int(n_classes)
    codes = np.asarray(codes, dtype=np.intp)
    c64 = np.ascontiguousarray(c, dtype=np.float64)
    l2 = 0.0 if rho is None else 1.0
    prod = _Products(X)
    nb = K if fit_intercept else 0
    n_var = K * p + nb

    def center(v):
        """Project a (flat) vector onto the complement of the softmax's null directions."""
        if nb:
            v[K * p:] -= v[K * p:].mean()
        if rho is None:
            Wv = v[:K * p].reshape(K, p)
            Wv -= Wv.mean(axis=0)
        return v

    # ---- null model: scale of the stopping rule (the prox-Newton solver's)
    b_null, G0, g0, viol0, eps_rel = _stopping_scale(lambda G: prod.back(G, exact=True), c64,
                                                     codes, K, fit_intercept, X.dtype)
    gnorm0 = max(float(np.sqrt(np.sum(g0 * g0) + (np.sum(G0.sum(axis=1) ** 2) if nb else 0.0))),
                 eps_rel * float(c64.sum()))
    tol_abs = max(tol * viol0, eps_rel * viol0)

    # ---- starting point
    W = np.zeros((K, p)) if coef_init is None else \
        np.array(coef_init, dtype=np.float64).reshape(K, p)
    if not fit_intercept:
        b = np.zeros(K)
    elif intercept_init is None:
        b = b_null.copy() if coef_init is None else np.zeros(K)
    else:
        b = np.array(intercept_init, dtype=np.float64).reshape(K)
    b -= b.mean()
    if rho is None:
        W -= W.mean(axis=0)      # the loss does not change; minimum-norm representative
    Z = prod.scores(W, exact=True) if np.any(W) else np.zeros((K, n))
    Z += b[:, None]
    x = np.concatenate([W.ravel(), b[:nb]])          # the iterate, flat (views below)
    W, b_fit = x[:K * p].reshape(K, p), x[K * p:]

    def gradient(G):
        g = np.empty(n_var)
        g[:K * p] = (prod.back(G, exact=True) + l2 * W).ravel()
        if nb:
            g[K * p:] = G.sum(axis=1)
        return g

    f, P, G = _softmax_state(Z, c64, codes)
    F = f + 0.5 * l2 * float(np.vdot(W, W))
    g = gradient(G)
    viol = float(np.max(np.abs(g), initial=0.0))
    # small problems: (nearly) exact Newton steps, see _EXACT_WORK
    exact = n * n_var <= _EXACT_WORK
    max_cg = max_cg if not exact else max(max_cg, 2 * n_var)
    n_newton = n_cg = 0
    converged = stalled = False
    hv_cost, kron_cost = 2 * K * n * p, kronecker_cost(n, p)
    # dense X, p < _KRON_MAX_FEATURES, and an application costing no more than a product with H
    kron_ok = precondition and not prod.sparse and p < _KRON_MAX_FEATURES and \
        kronecker_apply_cost(K, p) <= hv_cost
    kronecker = False
    while True:
        if verbose:
            print(f"[fastreg.multinomial_newton_cg] newton {n_newton:3d}  objective {F:.12e}  "
                  f"violation {viol:.3e} (tol {tol_abs:.3e})  cg {n_cg}")
        if viol <= tol_abs:
            converged = True
            break
        if n_newton >= max_iter or stalled:
            break
        n_newton += 1
        # ---- Newton direction by preconditioned CG (N&W Algorithm 5.3 inside 7.1)
        gnorm = float(np.sqrt(g @ g))
        cg_tol = (_EXACT_RTOL if exact else min(0.5, np.sqrt(gnorm / gnorm0))) * gnorm
        cP = c64 * P
        if not precondition:
            prec = np.copy
        elif kronecker:
            prec = KroneckerPreconditioner(X, P, c64, bool(nb), l2)
        else:
            prec = _jacobi(prod, P, cP, l2, nb)
        s = np.zeros(n_var)
        dZ = np.zeros((K, n))
        r = g.copy()
        z = center(prec(r))
        d = -z
        rz = float(r @ z)
        for j in range(max_cg):
            Dz = prod.scores(d[:K * p].reshape(K, p))
            if nb:
                Dz += d[K * p:, None]
            R = cP * (Dz - (P * Dz).sum(axis=0))
            Hd = np.empty(n_var)
            Hd[:K * p] = (prod.back(R) + l2 * d[:K * p].reshape(K, p)).ravel()
            if nb:
                Hd[K * p:] = R.sum(axis=1)
            n_cg += 1
            dHd = float(d @ Hd)
            # no curvature left along d (condition number of H past 1e12 on d)
            if not dHd > 1e-12 * float(np.sqrt((d @ d) * (Hd @ Hd))):
                if j == 0:                  # along the first direction: take it
                    s, dZ = d, Dz
                break
            alpha = rz / dHd
            s += alpha * d
            dZ += alpha * Dz
            r += alpha * Hd
            # forcing term reached, or the model's gradient already below the tolerance
            if float(np.sqrt(r @ r)) <= cg_tol or \
                    (not exact and float(np.max(np.abs(r))) <= _CG_TOL_SHARE * tol_abs):
                break
            z = center(prec(r))
            rz, rz_old = float(r @ z), rz
            if not rz > 0.0:        # residual zero (to rounding) in the preconditioner's norm
                break
            d *= rz / rz_old
            d -= z
        # the Kronecker preconditioner from the next Newton step on, once its build costs
        # less than the CG iterations this one took (they do not get fewer near the optimum)
        kronecker = kronecker or (kron_ok and (j + 1) * hv_cost > kron_cost)
        # ---- trust region on the scores, then Armijo backtracking on the exact objective
        big = float(np.max(np.abs(dZ), initial=0.0))
        if big > _MAX_DZ:
            s *= _MAX_DZ / big
            dZ *= _MAX_DZ / big
        decrease = float(g @ s)
        if not decrease < 0.0:
            stalled = True
            continue
        D = s[:K * p].reshape(K, p)
        WW, WD, DD = float(np.vdot(W, W)), float(np.vdot(W, D)), float(np.vdot(D, D))
        found = _backtrack_scores(Z, dZ, F, decrease,
                                  lambda t: 0.5 * l2 * (WW + t * (2.0 * WD + t * DD)), c64, codes)
        if found is None:
            stalled = True
            continue
        step, Zt = found
        x += step * s
        center(x)
        if prod.blocks is not None:     # float32 X: exact scores of the new iterate
            Z = prod.scores(W, exact=True) + b_fit[:, None] if nb else prod.scores(W, exact=True)
        else:
            Z = Zt
        f, P, G = _softmax_state(Z, c64, codes)
        F = f + 0.5 * l2 * float(np.vdot(W, W))
        g = gradient(G)
        viol = float(np.max(np.abs(g), initial=0.0))
        if verbose > 1:
            print(f"    cg {j + 1:4d}  step {step:.3g}  max|dZ| {big:.2e}  "
                  f"forcing {cg_tol / gnorm:.2e}")
    if warn and not converged:
        warnings.warn(f"Multinomial logistic regression (Newton-CG) did not converge: optimality "
                      f"violation {viol:.3e} > tolerance {tol_abs:.3e} after {n_newton} Newton "
                      f"iterations. Increase max_iter or tol, or scale the data.",
                      ConvergenceWarning, stacklevel=3)
    if warn and rho is None and _separated(Z, codes, c64):
        warnings.warn("The training data are separable (the fit classifies every sample "
                      "correctly): without a penalty the loss has no finite minimizer, and the "
                      "coefficients grow with max_iter and smaller tol. Use a penalty.",
                      ConvergenceWarning, stacklevel=3)
    b = b_fit.copy() if nb else np.zeros(K)
    return LogisticResult(coef=W.astype(X.dtype), intercept=b, gap=float("nan"),
                          violation=float(viol), primal=float(F), p0=float("nan"),
                          n_iter=n_newton, n_newton=n_newton, n_epochs=n_cg,
                          converged=bool(converged))
