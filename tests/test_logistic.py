"""LogisticRegression by prox-Newton: kernels, certificate, estimator vs references.

References: :mod:`fastreg.reference` (scipy L-BFGS-B on split variables, polished,
and the textbook duality gap) and scikit-learn 1.9 (lbfgs for L2, liblinear for
L1 without intercept, saga for the rest) at tight tolerances.
"""
import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import brentq
from scipy.special import expit, log_expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastreg import LogisticRegression, _newton
from fastreg.reference.objectives import logistic_duality_gap, logistic_objective
from fastreg.reference.solvers import logistic_lbfgsb
from fastreg.solvers.prox_newton import binary_logistic_gap

DATA = "/work/shared/data"
PENALTIES = {"l1": 1.0, "l2": 0.0, "elasticnet": 0.6}


def _problem(rng, n=120, p=30, dtype=np.float64, offset=0.7, noise=1.0):
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:4] = [2.0, -1.5, 1.0, 0.8]
    y = np.where(X @ w + offset + noise * rng.standard_normal(n) > 0, "yes", "no")
    return X.astype(dtype), y


def _container(X, fmt):
    return {"dense": np.asarray, "csc": sp.csc_array, "csr": sp.csr_array}[fmt](X)


def _objective(est, X, y, sample_weight=None):
    rho = {"l1": 1.0, "l2": 0.0}.get(est.penalty, est.l1_ratio)
    return logistic_objective(X, y, est.coef_, est.intercept_[0], C=est.C, penalty="elasticnet",
                              l1_ratio=rho, sample_weight=sample_weight)


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------
def test_binary_derivatives_vs_numpy(rng, dtype):
    n = 500
    z = np.concatenate([rng.standard_normal(n - 6) * 10, [800.0, -800.0, 40.0, -40.0, 0.0, 1e300]])
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0).astype(dtype)
    c = rng.random(n).astype(dtype)
    grad = np.empty(n)
    hess = np.empty(n, dtype=dtype)
    resp = np.empty(n, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = _newton.binary_derivatives(z, y, c, grad, hess, resp, 1e-10)
    m = y.astype(np.float64) * z
    p, q = expit(-m), expit(m)
    c64 = c.astype(np.float64)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss, np.dot(c64, -log_expit(m)), rtol=1e-12)
    np.testing.assert_allclose(grad, -c64 * y * p, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(hess, c64 * np.maximum(p * q, 1e-10), rtol=rtol, atol=0)
    np.testing.assert_allclose(resp, y * p / np.maximum(p * q, 1e-10), rtol=rtol)
    assert np.all(np.isfinite(resp)) and np.all(hess >= 0)
    dz = rng.standard_normal(n)
    np.testing.assert_allclose(_newton.binary_loss(z, dz, y, c, 0.5),
                               np.dot(c64, -log_expit(y * (z + 0.5 * dz))), rtol=1e-12)


def test_intercept_shift_and_entropy(rng):
    n = 300
    z = rng.standard_normal(n) * 3
    y = np.where(rng.random(n) < 0.2, 1.0, -1.0)
    c = rng.random(n) + 0.1
    delta = _newton.binary_intercept_shift(z, y, c, 1e-14)
    ref = brentq(lambda d: np.dot(c * y, expit(-y * (z + d))), -50, 50, xtol=1e-14)
    assert abs(delta - ref) < 1e-10
    assert _newton.binary_intercept_shift(z, np.ones(n), c) == np.inf
    p = expit(-y * z)
    t = 0.7
    a = t * p
    H = -a * np.log(a) - (1 - a) * np.log1p(-a)
    np.testing.assert_allclose(_newton.binary_entropy(z, y, c, t), np.dot(c, H), rtol=1e-12)


@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_col_stats_ws(rng, dtype, fmt):
    X = rng.standard_normal((40, 12)) * (rng.random((40, 12)) < 0.4)
    h = rng.random(40).astype(dtype)
    ws = np.array([1, 5, 7, 11], dtype=np.int32)
    mu, sq = np.zeros(12), np.zeros(12)
    Xd = np.asfortranarray(X, dtype=dtype)
    if fmt == "dense":
        _newton.col_stats_ws_dense(Xd, h, ws, mu, sq, True)
    else:
        Xs = sp.csc_matrix(Xd)
        _newton.col_stats_ws_sparse(Xs.data, Xs.indices.astype(np.int32),
                                    Xs.indptr.astype(np.int32), h, ws, mu, sq, True)
    h64 = h.astype(np.float64)
    mu_ref = h64 @ X[:, ws] / h64.sum()
    np.testing.assert_allclose(mu[ws], mu_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sq[ws], h64 @ (X[:, ws] - mu_ref) ** 2, rtol=1e-5)
    assert np.all(mu[np.setdiff1d(np.arange(12), ws)] == 0)


@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gram_ws(rng, dtype, fmt, fit_intercept):
    X = rng.standard_normal((50, 12)) * (rng.random((50, 12)) < 0.4)
    h = rng.random(50).astype(dtype)
    ws = np.array([0, 3, 4, 9, 11], dtype=np.int32)
    Xd = np.asfortranarray(X, dtype=dtype)
    m = ws.size + fit_intercept
    Q = np.full((m, m), np.nan)
    if fmt == "dense":
        _newton.gram_ws_dense(Xd, h, ws, Q, np.empty(50))
    else:
        Xs = sp.csc_matrix(Xd)
        nnz = int(np.diff(Xs.indptr)[ws].sum())
        _newton.gram_ws_sparse(Xs.data, Xs.indices.astype(np.int32), Xs.indptr.astype(np.int32),
                               h, ws, Q, np.empty(51, dtype=np.int32),
                               np.empty(nnz, dtype=np.int32), np.empty(nnz))
    A = Xd[:, ws].astype(np.float64)
    if fit_intercept:
        A = np.column_stack([A, np.ones(50)])
    np.testing.assert_allclose(Q, A.T @ (h.astype(np.float64)[:, None] * A),
                               rtol=1e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)



@pytest.mark.parametrize("m", [0, 1, 3, 4, 5, 9, 70])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gram_ws_dense_chunks(rng, dtype, m, fit_intercept):
    # rows in several chunks (700 rows, <= 32768 / m per chunk), 1-3 leftover columns
    # after the groups of four, unsorted working set, zero weights: against numpy
    n, p = 700, 80
    Xd = np.asfortranarray(rng.standard_normal((n, p)), dtype=dtype)
    h = (rng.random(n) * (rng.random(n) < 0.9)).astype(dtype)
    ws = rng.permutation(p)[:m].astype(np.int32)
    k = m + fit_intercept
    Q = np.full((k, k), np.nan)
    _newton.gram_ws_dense(Xd, h, ws, Q, np.empty(n))
    A = Xd[:, ws].astype(np.float64)
    if fit_intercept:
        A = np.column_stack([A, np.ones(n)])
    ref = A.T @ (h.astype(np.float64)[:, None] * A)
    np.testing.assert_allclose(Q, ref, rtol=1e-12, atol=1e-11 * max(1.0, np.abs(ref).max(initial=0.0)))
    np.testing.assert_array_equal(Q, Q.T)

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_gram_ws_sparse_blocks(rng, dtype, fit_intercept, n_threads):
    """Row-block Gram vs numpy: unsorted ws, empty columns and rows, more rows than a block."""
    n, p = 700, 40
    X = rng.standard_normal((n, p)) * (rng.random((n, p)) < 0.15)
    X[:, 7] = 0.0                           # empty column
    X[100:140] = 0.0                        # empty rows (they still enter the intercept entry)
    Xs = sp.csc_matrix(X.astype(dtype))
    h = rng.random(n).astype(dtype)
    h[::17] = 0.0
    ws = np.array([30, 2, 7, 11, 39, 0, 5, 21, 22, 23, 8], dtype=np.int32)
    m = ws.size + fit_intercept
    Q = np.full((m, m), np.nan)
    _newton.gram_ws_sparse_blocks(Xs.data, Xs.indices, Xs.indptr, h, ws, Q, n_threads, 0.0)
    A = Xs.toarray()[:, ws].astype(np.float64)
    if fit_intercept:
        A = np.column_stack([A, np.ones(n)])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(Q, A.T @ (h.astype(np.float64)[:, None] * A), rtol=tol, atol=tol)
    np.testing.assert_array_equal(Q, Q.T)
    # the compatibility wrapper gives the same bits
    Q2 = np.empty_like(Q)
    nnz = int(np.diff(Xs.indptr)[ws].sum())
    _newton.gram_ws_sparse(Xs.data, Xs.indices, Xs.indptr, h, ws, Q2, np.empty(n + 1, np.int32),
                           np.empty(nnz, np.int32), np.empty(nnz))
    if n_threads == 1:
        np.testing.assert_array_equal(Q2, Q)


def test_gram_ws_sparse_blocks_bad_indices(rng):
    """Unsorted, duplicated or out-of-range row indices raise (never write out of bounds)."""
    h = np.ones(400)
    ws = np.array([0, 1], dtype=np.int32)
    Q = np.empty((2, 2))
    indptr = np.array([0, 3, 5], dtype=np.int32)
    data = np.ones(5)
    for indices in ([5, 300, 2, 1, 4],      # unsorted across row blocks
                    [5, 5, 5, 1, 4],        # duplicates
                    [5, 6, 400, 1, 4]):     # out of range
        with pytest.raises(ValueError, match="row indices"):
            _newton.gram_ws_sparse_blocks(data, np.array(indices, np.int32), indptr, h, ws, Q)
    with pytest.raises(ValueError, match="out of range"):
        _newton.gram_ws_sparse_blocks(data, np.array([0, 1, 2, 1, 4], np.int32), indptr, h,
                                      np.array([0, 2], np.int32), Q)


def test_derivatives_dual_and_trial(rng, dtype):
    """The dual terms of the derivatives pass, the concavity bound, and the fused unit step."""
    n = 400
    z = np.concatenate([rng.standard_normal(n - 4) * 5, [800.0, -800.0, 40.0, -40.0]])
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0).astype(dtype)
    c = rng.random(n).astype(dtype)
    grad, hess, resp = np.empty(n), np.empty(n, dtype=dtype), np.empty(n, dtype=dtype)
    f, E1, dE1 = _newton.binary_derivatives_dual(z, y, c, grad, hess, resp, 1e-10)
    g0, h0, r0 = np.empty(n), np.empty(n, dtype=dtype), np.empty(n, dtype=dtype)
    assert f == _newton.binary_derivatives(z, y, c, g0, h0, r0, 1e-10)
    np.testing.assert_array_equal(grad, g0)
    np.testing.assert_array_equal(hess, h0)
    np.testing.assert_array_equal(resp, r0)
    m = y.astype(np.float64) * z
    p = expit(-m)
    c64 = c.astype(np.float64)
    H = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0) - (1 - p) * log_expit(m)
    np.testing.assert_allclose(E1, np.dot(c64, H), rtol=1e-12)
    np.testing.assert_allclose(E1, _newton.binary_entropy(z, y, c, 1.0), rtol=1e-12)
    np.testing.assert_allclose(dE1, np.dot(c64, p * m), rtol=1e-12)
    for t in (0.0, 0.3, 0.9, 0.999):        # concavity: E(t) <= E(1) + (t - 1) E'(1)
        assert _newton.binary_entropy(z, y, c, t) <= E1 + (t - 1.0) * dE1 + 1e-12 * abs(E1)
    xd = rng.standard_normal(n).astype(dtype)
    z_out, g_out = np.empty(n), np.empty(n)
    h_out, r_out = np.empty(n, dtype=dtype), np.empty(n, dtype=dtype)
    gdz, f2, E2, dE2 = _newton.binary_trial_derivatives(z, xd, 0.25, grad, y, c, z_out, g_out,
                                                        h_out, r_out, 1e-10)
    dz = xd.astype(np.float64) + 0.25
    np.testing.assert_allclose(gdz, np.dot(grad, dz), rtol=1e-12)
    np.testing.assert_array_equal(z_out, z + dz)
    assert (f2, E2, dE2) == _newton.binary_derivatives_dual(z + dz, y, c, g0, h0, r0, 1e-10)
    np.testing.assert_array_equal(g_out, g0)


def test_exit_gap_is_exact(rng):
    """A run stopped early reports the exact duality gap (not the bound that skips its pass)."""
    from fastreg.solvers.prox_newton import logistic_prox_newton
    X, labels = _problem(rng, n=300, p=60)
    ypm = np.where(labels == "yes", 1.0, -1.0)
    c = np.full(300, 5.0)      # weak penalty: the early dual bounds exceed the optimum P*
    Xf = np.asfortranarray(X)
    P_star = logistic_prox_newton(Xf, ypm, c, 1.0, fit_intercept=False, tol=1e-14,
                                  max_iter=300).primal
    for max_iter in (1, 2, 3):
        res = logistic_prox_newton(Xf, ypm, c, 1.0, fit_intercept=False, tol=1e-14,
                                   max_iter=max_iter, warn=False)
        P, D, gap = binary_logistic_gap(Xf, ypm, c, res.coef, None, 1.0)
        assert not res.converged
        assert abs(res.primal - P) <= 1e-12 * P
        assert res.gap <= gap * (1 + 1e-9)          # best dual point over the run
        assert res.gap >= res.primal - P_star - 1e-9 * P_star     # a true certificate


@pytest.mark.parametrize("n_free", [0, 1])
def test_quad_cd_gram_kkt(rng, n_free):
    """The Gram-form CD reaches the optimality conditions of the penalized quadratic."""
    m = 9
    B = rng.standard_normal((6, m))          # rank-deficient PSD Q (as when m > n_samples)
    Q = np.ascontiguousarray(B.T @ B + np.diag(rng.random(m) * 0.1))
    g = rng.standard_normal(m) * 3
    x0 = rng.standard_normal(m) * (rng.random(m) < 0.5)
    l1 = rng.random(m - n_free) + 0.2
    l2 = rng.random(m - n_free) * 0.5
    x, r = x0.copy(), g.copy()
    ep, viol = _newton.quad_cd_gram(Q, r, x, l1, l2, n_free, 1e-12, 100_000)
    assert viol <= 1e-12 and ep < 100_000
    grad = g + Q @ (x - x0)
    np.testing.assert_allclose(r, grad, atol=1e-10)
    k = m - n_free
    gp = grad[:k] + l2 * x[:k]
    nz = x[:k] != 0
    np.testing.assert_allclose(gp[nz], -l1[nz] * np.sign(x[:k][nz]), atol=1e-10)
    assert np.all(np.abs(gp[~nz]) <= l1[~nz] + 1e-10)
    assert np.all(np.abs(grad[k:]) <= 1e-10)


@pytest.mark.parametrize("gram", [True, False])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_both_inner_solvers(rng, monkeypatch, gram, fmt, penalty):
    """Gram-form and column-wise CD subproblem solvers reach the same optimum."""
    from fastreg.solvers import prox_newton
    monkeypatch.setattr(prox_newton, "_gram_choice", lambda design, ws, n, nnz_cols=None: gram)
    X, y = _problem(rng)
    rho = PENALTIES[penalty]
    for fit_intercept in (True, False):
        w_ref, b_ref = logistic_lbfgsb(X, y, C=0.3, penalty=penalty, l1_ratio=rho,
                                       fit_intercept=fit_intercept)
        est = LogisticRegression(penalty, C=0.3, l1_ratio=rho if penalty == "elasticnet" else None,
                                 fit_intercept=fit_intercept, tol=1e-12, max_iter=200)
        est.fit(_container(X, fmt), y)
        np.testing.assert_allclose(est.coef_[0], w_ref, atol=1e-5)
        assert abs(est.intercept_[0] - b_ref) <= 1e-5


@pytest.mark.parametrize("n_free", [0, 1])
def test_support_newton_solves_signed_model(rng, n_free):
    """One support step reaches the minimizer of the model on the support's orthant."""
    from fastreg.solvers.prox_newton import _support_newton
    n, m = 40, 12
    A = np.hstack([rng.standard_normal((n, m)), np.ones((n, n_free))])
    Q = np.ascontiguousarray(A.T @ (rng.random(n)[:, None] * A))
    l1, l2 = np.full(m, 0.05), np.full(m, 0.2)
    x = np.zeros(m + n_free)
    x[:5] = [3.0, -2.0, 4.0, -5.0, 2.5]    # large: the signs survive the step
    if n_free:
        x[m] = 0.3
    r = 0.1 * rng.standard_normal(m + n_free)
    x0, r0 = x.copy(), r.copy()
    assert _support_newton(Q, r, x, l1, l2, m, n_free, n)
    np.testing.assert_allclose(r, r0 + Q @ (x - x0), atol=1e-10)    # r stays the model gradient
    S = np.append(np.arange(5), [m] * n_free).astype(int)
    g = r[S].copy()
    g[:5] += l1[:5] * np.sign(x[:5]) + l2[:5] * x[:5]
    np.testing.assert_allclose(g, 0.0, atol=1e-10)
    np.testing.assert_array_equal(np.sign(x[:5]), np.sign(x0[:5]))
    assert np.all(x[5:m] == 0)
    # a sign change blocks the step: the blocking coordinate lands on 0, the model decreases
    x, r = x0.copy(), r0.copy()
    x[0], r[0] = 1e-3, r[0] + 20.0         # the model pulls x[0] below 0
    xs, rs = x.copy(), r.copy()

    def model(z):
        d = z - xs
        return 0.5 * d @ Q @ d + rs @ d + np.sum(l1 * np.abs(z[:m]) + 0.5 * l2 * z[:m] ** 2)

    assert _support_newton(Q, r, x, l1, l2, m, n_free, n)
    assert np.count_nonzero(x[:5]) < 5 and np.all(x[:5] * np.sign(xs[:5]) >= 0)
    assert model(x) < model(xs)


def _degenerate(rng, n=50, p=1500):
    """More features than samples, nearly low-rank (arcene-like), random labels: separable."""
    F = rng.standard_normal((n, 5))
    X = F @ rng.standard_normal((5, p)) + 0.3 * rng.standard_normal((n, p))
    return np.asfortranarray(X), (rng.random(n) < 0.5).astype(int)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_degenerate_high_C_bounded_work(rng, fit_intercept):
    """p >> n, C = 1e4 (rank-deficient Hessian, about n non-zeros): bounded work per Newton
    step, and a certified gap (the old solver needed ~1e5 CD epochs for this fit)."""
    from fastreg.solvers import prox_newton
    X, y = _degenerate(rng)
    C, tol = 1e4, 1e-8
    s = np.where(y == 1, 1.0, -1.0)
    res = prox_newton.logistic_prox_newton(X, s, np.full(y.size, C), 1.0,
                                           fit_intercept=fit_intercept, tol=tol, max_iter=100)
    assert res.converged
    assert res.n_epochs <= prox_newton._DIR_EPOCHS * res.n_newton
    assert res.n_epochs <= 30_000
    P, D, gap = logistic_duality_gap(X, y, res.coef, res.intercept if fit_intercept else None,
                                     C=C, penalty="l1")
    assert gap <= 1.01 * tol * res.p0
    assert abs(P - res.primal) <= 1e-9 * P


def test_degenerate_high_C_warns_in_bounded_time(rng):
    """Stopped early on a degenerate problem: a ConvergenceWarning and finite coefficients."""
    import time
    X, y = _degenerate(rng)
    t0 = time.process_time()
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        est = LogisticRegression(C=1e4, l1_ratio=1.0, tol=1e-14, max_iter=3).fit(X, y)
    assert time.process_time() - t0 < 20.0
    assert np.all(np.isfinite(est.coef_))


# ---------------------------------------------------------------------------
# duality gap of the solver vs the reference
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("rho", [1.0, 0.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gap_matches_reference(rng, rho, fit_intercept):
    X, labels = _problem(rng)
    ypm = np.where(labels == "yes", 1.0, -1.0)
    sw = rng.random(X.shape[0]) + 0.5
    w = rng.standard_normal(X.shape[1]) * (rng.random(X.shape[1]) < 0.3)
    b = 0.3 if fit_intercept else None
    C = 0.2
    got = binary_logistic_gap(np.asfortranarray(X), ypm, C * sw, w, b, rho)
    ref = logistic_duality_gap(X, labels, w, b, C=C, penalty="elasticnet", l1_ratio=rho,
                               sample_weight=sw)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert got[2] > 0


# ---------------------------------------------------------------------------
# estimator vs references
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fmt", ["dense", "csc", "csr"])
def test_vs_reference(rng, dtype, penalty, fit_intercept, fmt):
    X, y = _problem(rng, dtype=dtype)
    C = 0.3
    rho = PENALTIES[penalty]
    w_ref, b_ref = logistic_lbfgsb(X, y, C=C, penalty=penalty, l1_ratio=rho,
                                   fit_intercept=fit_intercept)
    P_ref = logistic_objective(X, y, w_ref, b_ref, C=C, penalty=penalty, l1_ratio=rho)
    est = LogisticRegression(penalty, C=C, l1_ratio=rho if penalty == "elasticnet" else None,
                             fit_intercept=fit_intercept, tol=1e-12, max_iter=200)
    est.fit(_container(X, fmt), y)
    assert est.coef_.dtype == dtype and est.coef_.shape == (1, X.shape[1])
    assert est.intercept_.dtype == dtype and est.intercept_.shape == (1,)
    P = _objective(est, X, y)
    if dtype == np.float64:
        assert abs(P - P_ref) <= 1e-8 * P_ref
        np.testing.assert_allclose(est.coef_[0], w_ref, atol=1e-5)
        assert abs(est.intercept_[0] - b_ref) <= 1e-5
        gap = logistic_duality_gap(X, y, est.coef_, est.intercept_ if fit_intercept else None,
                                   C=C, penalty="elasticnet", l1_ratio=rho)[2]
        assert gap <= 1e-11 * P_ref
        assert abs(gap - est.dual_gap_) <= 1e-12 * P_ref
    else:
        assert abs(P - P_ref) <= 1e-5 * P_ref
        np.testing.assert_allclose(est.coef_[0], w_ref, atol=2e-3)
    if not fit_intercept:
        assert est.intercept_[0] == 0


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_vs_sklearn(rng, penalty, fit_intercept):
    X, y = _problem(rng, n=80, p=15)
    C = 0.5
    rho = PENALTIES[penalty]
    if penalty == "l2":
        sk = SkLogisticRegression(l1_ratio=0.0, C=C, solver="lbfgs", tol=1e-12, max_iter=10_000,
                                  fit_intercept=fit_intercept)
    elif penalty == "l1" and not fit_intercept:
        sk = SkLogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", tol=1e-12,
                                  max_iter=10_000, fit_intercept=False)
    else:
        sk = SkLogisticRegression(l1_ratio=rho, C=C, solver="saga", tol=1e-12, max_iter=20_000,
                                  fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
    est = LogisticRegression(C=C, l1_ratio=rho, fit_intercept=fit_intercept, tol=1e-12).fit(X, y)
    sk_b = np.atleast_1d(sk.intercept_)
    P_sk = logistic_objective(X, y, sk.coef_, sk_b[0], C=C, penalty="elasticnet",
                              l1_ratio=rho)
    P = _objective(est, X, y)
    assert P <= P_sk * (1 + 1e-8)          # never worse than scikit-learn
    assert abs(P - P_sk) <= 1e-8 * P_sk
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)
    np.testing.assert_allclose(est.intercept_, sk_b, atol=1e-5)
    np.testing.assert_array_equal(est.classes_, sk.classes_)
    np.testing.assert_allclose(est.predict_proba(X), sk.predict_proba(X), atol=1e-6)


def test_no_penalty_vs_reference(rng):
    X, y = _problem(rng, n=200, p=8, noise=2.0)
    w_ref, b_ref = logistic_lbfgsb(X, y, penalty=None)
    for est in (LogisticRegression(None, tol=1e-10), LogisticRegression(C=np.inf, tol=1e-10)):
        est.fit(X, y)
        np.testing.assert_allclose(est.coef_[0], w_ref, atol=1e-6)
        assert abs(est.intercept_[0] - b_ref) < 1e-6
        assert np.isnan(est.dual_gap_) and est.optimality_violation_ < 1e-6


def test_sample_weight_is_repetition(rng):
    X, y = _problem(rng, n=60, p=10)
    sw = rng.integers(0, 4, X.shape[0])
    est = LogisticRegression(C=0.7, l1_ratio=1.0, tol=1e-12).fit(X, y, sample_weight=sw)
    rep = LogisticRegression(C=0.7, l1_ratio=1.0, tol=1e-12).fit(np.repeat(X, sw, axis=0),
                                                                 np.repeat(y, sw))
    np.testing.assert_allclose(est.coef_, rep.coef_, atol=1e-8)
    np.testing.assert_allclose(est.intercept_, rep.intercept_, atol=1e-8)
    w_ref, b_ref = logistic_lbfgsb(X, y, C=0.7, penalty="l1", sample_weight=sw)
    np.testing.assert_allclose(est.coef_[0], w_ref, atol=1e-6)


def test_class_weight(rng):
    X, y = _problem(rng, n=90, p=10)
    cw = {"no": 0.5, "yes": 3.0}
    est = LogisticRegression(C=0.4, l1_ratio=1.0, tol=1e-12, class_weight=cw).fit(X, y)
    sw = np.where(y == "yes", 3.0, 0.5)
    ref = LogisticRegression(C=0.4, l1_ratio=1.0, tol=1e-12).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-10)
    bal = LogisticRegression(C=0.4, l1_ratio=0.0, tol=1e-12, class_weight="balanced").fit(X, y)
    sk = SkLogisticRegression(C=0.4, l1_ratio=0.0, tol=1e-12, max_iter=10_000,
                              class_weight="balanced").fit(X, y)
    np.testing.assert_allclose(bal.coef_, sk.coef_, atol=1e-5)


def test_penalty_spellings(rng):
    X, y = _problem(rng, n=60, p=8)
    a = LogisticRegression("l1", C=0.5, tol=1e-12).fit(X, y)
    b = LogisticRegression(C=0.5, l1_ratio=1.0, tol=1e-12).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    c = LogisticRegression("l2", C=0.5, tol=1e-12).fit(X, y)
    d = LogisticRegression(C=0.5, tol=1e-12).fit(X, y)
    np.testing.assert_array_equal(c.coef_, d.coef_)
    with pytest.warns(UserWarning, match="ignored"):
        LogisticRegression("l1", l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio must be specified"):
        LogisticRegression("elasticnet").fit(X, y)


def test_warm_start(rng):
    X, y = _problem(rng, n=100, p=40)
    est = LogisticRegression(C=0.2, l1_ratio=1.0, tol=1e-10, warm_start=True).fit(X, y)
    it = est.n_iter_[0]
    coef = est.coef_.copy()
    est.fit(X, y)
    assert est.n_iter_[0] <= it and est.n_iter_[0] == 1
    np.testing.assert_allclose(est.coef_, coef, atol=1e-7)


def test_predict_and_proba(rng):
    X, y = _problem(rng)
    est = LogisticRegression(C=1.0).fit(X, y)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], expit(est.decision_function(X)), rtol=1e-12)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-10)
    pred = est.predict(X)
    assert set(pred) <= set(est.classes_)
    np.testing.assert_array_equal(pred, est.classes_[(proba[:, 1] > 0.5).astype(int)])
    assert list(est.classes_) == ["no", "yes"]
    # huge scores: finite log-probabilities, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp = est.predict_log_proba(X * 1e200)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 0)


# ---------------------------------------------------------------------------
# hard problems
# ---------------------------------------------------------------------------
def test_separable_weak_regularization(rng):
    X = rng.standard_normal((60, 5))
    y = (X[:, 0] > 0).astype(int)
    X[:, 0] *= 1e3                       # huge margins
    for kwargs in (dict(C=1e6, l1_ratio=1.0), dict(C=1e6), dict(penalty=None)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            est = LogisticRegression(max_iter=50, **kwargs).fit(X, y)
        assert np.all(np.isfinite(est.coef_)) and np.isfinite(est.intercept_[0])
        assert np.all(est.predict(X) == y)


def test_float32_close_to_float64(rng):
    X, y = _problem(rng, n=150, p=40)
    e64 = LogisticRegression(C=0.5, l1_ratio=0.8, tol=1e-10).fit(X, y)
    e32 = LogisticRegression(C=0.5, l1_ratio=0.8, tol=1e-6).fit(X.astype(np.float32), y)
    assert e32.coef_.dtype == np.float32
    np.testing.assert_allclose(e32.coef_, e64.coef_, atol=1e-3)


def test_convergence_warning(rng):
    X, y = _problem(rng, n=100, p=50)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        LogisticRegression(C=10.0, l1_ratio=1.0, tol=1e-14, max_iter=1).fit(X, y)


@pytest.mark.skipif(not os.path.exists(os.path.join(DATA, "leukemia_golub.npz")),
                    reason="real data not available")
def test_leukemia_l1():
    z = np.load(os.path.join(DATA, "leukemia_golub.npz"), allow_pickle=False)
    X, y = z["X"], z["y"]
    X = (X - X.mean(0)) / X.std(0)
    C = 0.1                              # 1 / C_max = 0.037: a few non-zeros
    # with intercept: certified by the reference duality gap
    est = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-10).fit(X, y)
    P, D, gap = logistic_duality_gap(X, y, est.coef_, est.intercept_, C=C, penalty="l1")
    assert 0 < np.count_nonzero(est.coef_) < 100
    assert gap <= 1e-10 * P
    # without intercept: liblinear solves the same problem
    est = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-12, fit_intercept=False).fit(X, y)
    sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", tol=1e-10, max_iter=10_000,
                              fit_intercept=False).fit(X, y)
    P_sk = logistic_objective(X, y, sk.coef_, 0.0, C=C, penalty="l1")
    P = _objective(est, X, y)
    assert P <= P_sk * (1 + 1e-8) and abs(P - P_sk) <= 1e-8 * P_sk
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)


# ---------------------------------------------------------------------------
# multinomial
# ---------------------------------------------------------------------------
def _multiclass(rng, n=150, p=12, K=3, dtype=np.float64):
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.4)
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    return X.astype(dtype), np.array(["a", "b", "c", "d", "e"])[y]


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_multinomial_vs_reference(rng, penalty, fit_intercept, fmt):
    X, y = _multiclass(rng)             # 3 classes: the L1 solution is unique (odd K)
    C = 0.5
    rho = PENALTIES[penalty]
    w_ref, b_ref = logistic_lbfgsb(X, y, C=C, penalty=penalty, l1_ratio=rho,
                                   fit_intercept=fit_intercept)
    P_ref = logistic_objective(X, y, w_ref, b_ref, C=C, penalty=penalty, l1_ratio=rho)
    est = LogisticRegression(C=C, l1_ratio=rho, fit_intercept=fit_intercept, tol=1e-10,
                             max_iter=500).fit(_container(X, fmt), y)
    assert est.coef_.shape == (3, X.shape[1]) and est.intercept_.shape == (3,)
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C, penalty=penalty, l1_ratio=rho)
    assert P <= P_ref * (1 + 1e-8) and abs(P - P_ref) <= 1e-8 * P_ref
    np.testing.assert_allclose(est.coef_, w_ref, atol=1e-5)
    np.testing.assert_allclose(est.intercept_, b_ref, atol=1e-5)
    assert est.optimality_violation_ < 1e-6 and np.isnan(est.dual_gap_)


def test_multinomial_vs_sklearn_and_dtypes(rng):
    X, y = _multiclass(rng, K=4)
    sk = SkLogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y)
    est = LogisticRegression(C=0.5, tol=1e-10, max_iter=500).fit(sp.csr_array(X), y)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)
    np.testing.assert_allclose(est.intercept_, sk.intercept_ - sk.intercept_.mean(), atol=1e-5)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba, sk.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])
    e32 = LogisticRegression(C=0.5, l1_ratio=0.5, tol=1e-6).fit(X.astype(np.float32), y)
    e64 = LogisticRegression(C=0.5, l1_ratio=0.5, tol=1e-10).fit(X, y)
    assert e32.coef_.dtype == np.float32
    np.testing.assert_allclose(e32.coef_, e64.coef_, atol=1e-3)
    # sample weights are repetitions
    sw = rng.integers(0, 3, X.shape[0])
    a = LogisticRegression(C=0.5, l1_ratio=1.0, tol=1e-10).fit(X, y, sample_weight=sw)
    b = LogisticRegression(C=0.5, l1_ratio=1.0, tol=1e-10).fit(np.repeat(X, sw, axis=0),
                                                                 np.repeat(y, sw))
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------
def test_bad_input(rng):
    X, y = _problem(rng, n=30, p=4)
    est = LogisticRegression()
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(Xn, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="only one class"):
        est.fit(X, np.full(30, "a"))
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(X, rng.standard_normal(30))
    with pytest.raises(ValueError, match="sample_weight"):
        est.fit(X, y, sample_weight=np.ones(29))
    with pytest.raises(ValueError, match="non-negative"):
        est.fit(X, y, sample_weight=-np.ones(30))
    for params in (dict(C=-1.0), dict(C=0.0), dict(l1_ratio=1.5), dict(penalty="l3"),
                   dict(tol=-1.0), dict(max_iter=0), dict(class_weight="auto")):
        with pytest.raises(ValueError):
            LogisticRegression(**params).fit(X, y)
    est.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])
    # integer labels, labels in a list
    LogisticRegression().fit(X.tolist(), [int(v == "yes") for v in y])


@parametrize_with_checks([LogisticRegression()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
