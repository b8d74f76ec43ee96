"""Multinomial prox-Newton: full-Hessian CD kernel, Gram form, convergence rate, 20 classes."""
import functools

import numpy as np
import pytest
import scipy.sparse as sp

from fastreg import LogisticRegression, _newton
from fastreg.reference.objectives import logistic_objective


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=0))
    return E / E.sum(axis=0)


@pytest.mark.parametrize("fmt", ["dense", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cd_kernel_minimizes_the_quadratic_model(rng, dtype, fmt, fit_intercept):
    n, p, K = 60, 12, 4
    X = rng.standard_normal((n, p)).astype(dtype)
    X[rng.random((n, p)) < 0.5] = 0.0
    c = rng.random(n) + 0.5
    P = np.ascontiguousarray(_softmax(rng.standard_normal((K, n))))
    codes = rng.integers(0, K, n)
    Y = np.zeros((K, n))
    Y[codes, np.arange(n)] = 1.0
    G = np.ascontiguousarray(c * (P - Y))
    W0 = (rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.3)).astype(dtype)
    W = W0.copy()
    b = np.zeros(K)
    dz = np.zeros((K, n))
    s = np.zeros(n)
    ws = np.arange(1, p, dtype=np.int32)         # feature 0 stays out of the working set
    lips = np.empty((K, ws.size))
    lips_b = np.empty(K)
    l1, l2 = 0.3, 0.2
    lips.fill(-1.0)
    mask = np.ones((K, ws.size), dtype=np.uint8)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    gx = np.full((K, ws.size), np.nan)
    args = (P, G, c, W, b, dz, s, lips, gx, lips_b, mask, ws, l1, l2, 0.0, fit_intercept, 5000,
            tol)
    if fmt == "dense":
        ep, viol = _newton.multinomial_cd_dense(np.asfortranarray(X), *args)
    else:
        Xs = sp.csc_array(X)
        ep, viol = _newton.multinomial_cd_sparse(Xs.data, Xs.indices.astype(np.int32),
                                                 Xs.indptr.astype(np.int32), *args)
    assert 1 <= ep < 5000 and viol <= tol
    D = W.astype(np.float64) - W0
    assert np.all(D[:, 0] == 0)
    dz_ref = (X.astype(np.float64) @ D.T).T + b[:, None]
    np.testing.assert_allclose(dz, dz_ref, atol=1e-8)
    np.testing.assert_allclose(s, (P * dz_ref).sum(axis=0), atol=1e-8)
    # optimality of the model q(D) + penalty(W0 + D) on the working set
    Hdz = c * P * (dz_ref - (P * dz_ref).sum(axis=0))
    grad = (X.astype(np.float64).T @ (G + Hdz).T).T[:, ws]        # (K, m)
    Wn = W[:, ws].astype(np.float64)
    g = grad + l2 * Wn
    atol = 1e-4 if dtype == np.float32 else 1e-8
    nz = Wn != 0
    np.testing.assert_allclose(g[nz], -l1 * np.sign(Wn[nz]), atol=atol)
    assert np.all(np.abs(g[~nz]) <= l1 + atol)
    if fit_intercept:
        np.testing.assert_allclose((G + Hdz).sum(axis=1), 0.0, atol=atol)
    else:
        assert np.all(b == 0)
    np.testing.assert_allclose(lips[:, 0], (c * P * (1 - P)) @ X[:, 1].astype(np.float64) ** 2)
    np.testing.assert_allclose(gx, (X[:, ws].astype(np.float64).T @ G.T).T, rtol=1e-10,
                               atol=1e-12 * np.abs(G).sum())


def test_cd_kernel_rejects_bad_shapes(rng):
    n, p, K = 10, 3, 3
    X = np.asfortranarray(rng.standard_normal((n, p)))
    P = np.full((K, n), 1.0 / K)
    args = [P, P.copy(), np.ones(n), np.zeros((K, p)), np.zeros(K), np.zeros((K, n)),
            np.zeros(n), np.zeros((K, p)), np.full((K, p), np.nan), np.zeros(K),
            np.ones((K, p), dtype=np.uint8), np.arange(p, dtype=np.int32)]
    bad = list(args)
    bad[11] = np.array([0, 5], dtype=np.int32)
    bad[7] = np.zeros((K, 2))
    bad[8] = np.full((K, 2), np.nan)
    bad[10] = np.ones((K, 2), dtype=np.uint8)
    with pytest.raises(ValueError, match="out of range"):
        _newton.multinomial_cd_dense(X, *bad, 0.1, 0.0, 0.0, True, 10, 0.0)
    bad = list(args)
    bad[6] = np.zeros(n + 1)
    with pytest.raises(ValueError, match="n_samples"):
        _newton.multinomial_cd_dense(X, *bad, 0.1, 0.0, 0.0, True, 10, 0.0)
    bad = list(args)
    bad[10] = np.ones((K, p + 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="mask"):
        _newton.multinomial_cd_dense(X, *bad, 0.1, 0.0, 0.0, True, 10, 0.0)
    bad = list(args)
    bad[8] = np.full((K, p + 1), np.nan)
    with pytest.raises(ValueError, match="gx"):
        _newton.multinomial_cd_dense(X, *bad, 0.1, 0.0, 0.0, True, 10, 0.0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_superlinear_convergence(rng, l1_ratio):
    """Tight tolerance in few Newton steps (the block-diagonal scheme needed hundreds)."""
    n, p, K = 300, 40, 5
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.3)
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    est = LogisticRegression(C=0.3, l1_ratio=l1_ratio, tol=1e-12, max_iter=100).fit(X, y)
    assert est.optimality_violation_ <= 1e-9 * n
    assert est.n_iter_[0] <= 20


@pytest.mark.slow
def test_twenty_classes_sparse_vs_sklearn_saga(rng):
    """20 classes, sparse text-like design with tens of thousands of features."""
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    n, p, K = 600, 20000, 20
    nnz = int(n * p * 2e-3)
    X = sp.csc_matrix((rng.random(nnz) + 0.5, (rng.integers(0, n, nnz), rng.integers(0, p, nnz))),
                      shape=(n, p))
    X.sum_duplicates()
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.01) * 3
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    C = 2.0
    est = LogisticRegression(penalty="l1", C=C, tol=1e-7, max_iter=200).fit(X, y)
    assert est.coef_.shape == (K, p) and 0 < np.count_nonzero(est.coef_) < K * p // 10
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C, penalty="l1")
    Xr = sp.csr_matrix(X)
    Xr.indices, Xr.indptr = Xr.indices.astype(np.int32), Xr.indptr.astype(np.int32)
    assert est.optimality_violation_ <= 1e-6 * n
    # saga (5000 epochs, tol 1e-7) stops 3e-4 above this objective: fastreg must not be worse
    sk = SkLogisticRegression(l1_ratio=1.0, C=C, solver="saga", tol=1e-7,
                              max_iter=1000).fit(Xr, y)
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C, penalty="l1")
    assert P <= P_sk * (1 + 1e-10)


# ---------------------------------------------------------------------------
# Gram form of the Newton direction (dense X) and the BLAS thread limit
# ---------------------------------------------------------------------------
def test_model_hessian_matches_explicit_formula(rng):
    from fastreg.solvers.prox_newton_multinomial import _mn_columns, _mn_hessian
    n, p, K = 40, 6, 3
    X = np.asfortranarray(rng.standard_normal((n, p)))
    P = np.ascontiguousarray(_softmax(rng.standard_normal((K, n))))
    c = rng.random(n) + 0.5
    cls = np.array([0, 2, 1, 1, 0, 2, 0, 1])
    feat = np.array([3, 3, 0, 5, -1, 1, 2, -1])     # -1: an intercept (column of ones)
    A = _mn_columns(X, feat)
    cols = np.where(feat[None, :] >= 0, X[:, np.maximum(feat, 0)], 1.0)
    np.testing.assert_array_equal(A, cols)
    ref = np.einsum("i,ia,ib,ai,ab->ab", c, cols, cols, P[cls],
                    (cls[:, None] == cls[None, :]).astype(float)) - \
        np.einsum("i,ia,ib,ai,bi->ab", c, cols, cols, P[cls], P[cls])
    H = _mn_hessian(A, cls, P, c)
    np.testing.assert_allclose(H, ref, rtol=1e-12, atol=1e-12)
    # the off-diagonal block between two coordinate sets
    np.testing.assert_allclose(_mn_hessian(A[:, :5], cls[:5], P, c, A[:, 5:], cls[5:]),
                               ref[:5, 5:], rtol=1e-12, atol=1e-12)


def test_model_hessian_scattered_classes_float32_and_extension(rng):
    """Scattered classes (grouped internally), float32 products, and a Hessian extended
    from a cache: each against the direct float64 build."""
    from fastreg.solvers.prox_newton_multinomial import (_mn_columns, _mn_hessian,
                                                         _mn_model_hessian)
    n, p, K, q = 300, 20, 3, 60
    X = np.asfortranarray(rng.standard_normal((n, p)))
    P = np.ascontiguousarray(_softmax(rng.standard_normal((K, n))))
    c = rng.random(n) + 0.5
    cls = rng.integers(0, K, q)                     # scattered: many runs
    feat = rng.integers(-1, p, q)
    A = _mn_columns(X, feat)
    cols = np.where(feat[None, :] >= 0, X[:, np.maximum(feat, 0)], 1.0)
    ref = np.einsum("i,ia,ib,ai,ab->ab", c, cols, cols, P[cls],
                    (cls[:, None] == cls[None, :]).astype(float)) - \
        np.einsum("i,ia,ib,ai,bi->ab", c, cols, cols, P[cls], P[cls])
    np.testing.assert_allclose(_mn_hessian(A, cls, P, c), ref, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(_mn_hessian(A[:, :25], cls[:25], P, c, A[:, 25:], cls[25:]),
                               ref[:25, 25:], rtol=1e-12, atol=1e-10)
    H32 = _mn_hessian(A, cls, P, c, dtype=np.float32)
    assert H32.dtype == np.float64
    scale = np.max(np.abs(ref))
    err = np.max(np.abs(H32 - ref)) / scale
    assert 1e-10 < err < 1e-5                       # float32 rounding, not float64
    # cached builder: coordinates (class, feature in ws) plus intercepts, grown in two steps
    ws = np.arange(2, p, dtype=np.int32)
    kk, tt = rng.integers(0, K, 30), rng.integers(0, ws.size, 30)
    keep = np.unique(kk * ws.size + tt, return_index=True)[1]
    kk, tt = kk[keep], tt[keep]
    cl = np.concatenate([kk, np.arange(K - 1)])
    ft = np.concatenate([tt, np.full(K - 1, -1)])
    cache = {"P": P}
    m = kk.size // 2
    _mn_model_hessian(X[:, ws], ws, cl[m:], ft[m:], P, c, cache)
    A2, H2 = _mn_model_hessian(X[:, ws], ws, cl, ft, P, c, cache)
    assert cache["ids"].size == cl.size
    np.testing.assert_array_equal(A2, _mn_columns(X[:, ws], ft))
    np.testing.assert_allclose(H2, _mn_hessian(A2, cl, P, c), rtol=1e-12, atol=1e-10)


def _correlated_multiclass(rng, n=800, p=40, K=5):
    """Correlated columns (CD in sample space needs many sweeps: the Gram form takes over)."""
    X = rng.standard_normal((n, p)) @ (np.eye(p) + 3.0 * rng.standard_normal((p, p)) / np.sqrt(p))
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.5)
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    return X, y


_GRAM_C = 1.0


@functools.lru_cache(maxsize=None)
def _gram_problem(fit_intercept, l1_ratio):
    """Problem and reference optimum (L-BFGS-B, computed once for both dtypes)."""
    from fastreg.reference.solvers import logistic_lbfgsb
    X, y = _correlated_multiclass(np.random.default_rng(1))     # 5 classes: unique L1 solution
    w_ref, b_ref = logistic_lbfgsb(X, y, C=_GRAM_C, penalty="elasticnet", l1_ratio=l1_ratio,
                                   fit_intercept=fit_intercept)
    P_ref = logistic_objective(X, y, w_ref, b_ref, C=_GRAM_C, penalty="elasticnet",
                               l1_ratio=l1_ratio)
    return X, y, w_ref, P_ref


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_gram_direction_vs_reference(dtype, fit_intercept, l1_ratio, monkeypatch):
    import fastreg.solvers.prox_newton_multinomial as mn
    X, y, w_ref, P_ref = _gram_problem(fit_intercept, l1_ratio)
    calls = []
    gram_phase = mn._mn_gram_phase

    def counting(*args, **kwargs):
        calls.append(1)
        return gram_phase(*args, **kwargs)

    monkeypatch.setattr(mn, "_mn_gram_phase", counting)
    est = LogisticRegression(C=_GRAM_C, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                             tol=1e-10 if dtype == np.float64 else 1e-5,
                             max_iter=200).fit(X.astype(dtype), y)
    assert calls, "the Gram form was not used"
    assert est.coef_.dtype == dtype
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=_GRAM_C, penalty="elasticnet",
                           l1_ratio=l1_ratio)
    rel = 1e-8 if dtype == np.float64 else 1e-5
    assert abs(P - P_ref) <= rel * P_ref
    assert 0 < np.count_nonzero(est.coef_) < est.coef_.size
    if dtype == np.float64:
        assert est.optimality_violation_ <= 1e-9 * X.shape[0]
        np.testing.assert_allclose(est.coef_, w_ref, atol=1e-5)
    else:
        np.testing.assert_allclose(est.coef_, w_ref, atol=2e-2)


def test_blas_single_thread_inside_the_solver_and_restored(rng, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import fastreg.solvers.prox_newton_multinomial as mn

    def blas_threads():
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"]

    seen = []
    xt = mn._xt_dense

    def recording(*args, **kwargs):
        seen.extend(blas_threads())
        return xt(*args, **kwargs)

    monkeypatch.setattr(mn, "_xt_dense", recording)
    X, y = _correlated_multiclass(rng, n=200, p=10, K=3)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        LogisticRegression(C=0.1, l1_ratio=1.0, tol=1e-6).fit(X, y)
        assert blas_threads() == before
        assert seen and set(seen) == {1}
        # concurrent fits share one limit; the last one out restores the caller's
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(2) as pool:
            fits = list(pool.map(lambda C: LogisticRegression(C=C, l1_ratio=1.0).fit(X, y),
                                 [0.1, 0.2, 0.3, 0.4]))
        assert blas_threads() == before and all(f.coef_.shape == (3, 10) for f in fits)


def test_direction_with_a_large_sparse_working_set(rng):
    """20 classes, a working set of 20324 sparse features: the coordinate mask built from the
    column gather W[:, ws] came out in F order at this size and the kernel rejected it
    (a ValueError from fits of 20-class text data with C = 1)."""
    from fastreg.solvers import prox_newton_multinomial as pnm
    n, p, K, m = 6, 30000, 20, 20324
    X = sp.random(n, p, density=0.01, format="csc", random_state=0)
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    W = np.where(rng.random((K, p)) < 0.05, 1.0, 0.0)
    ws = np.sort(rng.choice(p, m, replace=False)).astype(np.int32)
    P = np.full((K, n), 1.0 / K)
    codes, c = rng.integers(0, K, n), np.ones(n)
    G = P * c
    G[codes, np.arange(n)] -= c
    V_ws = np.ascontiguousarray(rng.standard_normal((K, m)))

    def kernel(*args):
        return _newton.multinomial_cd_sparse(X.data, X.indices, X.indptr, *args)

    ep = pnm._mn_direction(kernel, X[:, ws], P, G, c, W, np.zeros(K), ws, V_ws, 1.0, 0.0,
                           1e-10, True, 0.5, 5)
    assert 1 <= ep <= 5
