"""Coordinate descent in Gram form (fastreg.solvers.cd_gram, precompute=...)."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sk
from sklearn.exceptions import ConvergenceWarning

from fastreg import ElasticNet, Lasso, lasso_path, enet_path
from fastreg import _cd_gram
from fastreg._validation import check_X
from fastreg.linear_model.cv import ElasticNetCV
from fastreg.solvers.cd import enet_cd
from fastreg.solvers.cd_gram import build_gram, enet_cd_gram, gram_auto


def _data(rng, n=300, p=25, sparse=False, dtype=np.float64, shift=1.0):
    X = rng.standard_normal((n, p)) + shift
    if sparse:
        X = X * (rng.random((n, p)) < 0.3)
    w = np.zeros(p)
    w[:5] = rng.standard_normal(5)
    y = X @ w + 0.5 * rng.standard_normal(n) + 2.0
    X = sp.csc_matrix(X) if sparse else np.asfortranarray(X)
    return X.astype(dtype), y.astype(dtype)


def _objective(X, y, coef, b, alpha, l1_ratio, sw=None, pf=None):
    """scikit-learn's objective in float64 (weights rescaled to sum to n)."""
    n = X.shape[0]
    s = np.ones(n) if sw is None else sw * n / sw.sum()
    pf = np.ones(X.shape[1]) if pf is None else pf
    Xw = np.asarray(X.astype(np.float64) @ coef.astype(np.float64)).ravel()
    r = np.asarray(y, float) - Xw - b
    return (0.5 * (s * r) @ r / n + alpha * l1_ratio * pf @ np.abs(coef)
            + 0.5 * alpha * (1 - l1_ratio) * pf @ coef.astype(np.float64) ** 2)


def _independent_gap(X, y, coef, b, alpha, l1_ratio, fit_intercept):
    """Duality gap of the unweighted elastic net (no bounds), recomputed in numpy."""
    n = X.shape[0]
    X64 = X.astype(np.float64)
    y64 = np.asarray(y, np.float64)
    r = y64 - np.asarray(X64 @ coef.astype(np.float64)).ravel() - b
    mu = np.asarray(X64.mean(axis=0)).ravel() if fit_intercept else 0.0
    yc = y64 - y64.mean() if fit_intercept else y64
    rc = r - r.mean() if fit_intercept else r
    c = (np.asarray(X64.T @ rc).ravel() - mu * rc.sum()) / n
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    s = min(1.0, l1 / np.abs(c).max()) if l2 == 0 else 1.0
    conj = 0.0 if l2 == 0 else float(np.sum(np.maximum(np.abs(s * c) - l1, 0) ** 2) / (2 * l2))
    P = _objective(X, y, coef, b, alpha, l1_ratio)
    D = s * (yc @ rc) / n - 0.5 * s * s * (rc @ rc) / n - conj
    return P - D, 0.5 * (yc @ yc) / n


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_gram_vs_direct_vs_sklearn(rng, sparse, fit_intercept, l1_ratio):
    X, y = _data(rng, sparse=sparse)
    kw = dict(alpha=0.02, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-13)
    g = ElasticNet(precompute=True, **kw).fit(X, y)
    d = ElasticNet(precompute=False, **kw).fit(X, y)
    ref = sk.ElasticNet(alpha=0.02, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-14,
                        max_iter=100_000).fit(X, y)
    P0 = 0.5 * np.var(y) if fit_intercept else 0.5 * np.mean(y ** 2)
    Pg = _objective(X, y, g.coef_, g.intercept_, 0.02, l1_ratio)
    Pd = _objective(X, y, d.coef_, d.intercept_, 0.02, l1_ratio)
    Pr = _objective(X, y, ref.coef_, ref.intercept_, 0.02, l1_ratio)
    assert abs(Pg - Pd) <= 1e-10 * P0 and Pg <= Pr + 1e-10 * P0
    np.testing.assert_allclose(g.coef_, d.coef_, atol=1e-6)
    np.testing.assert_allclose(g.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(g.intercept_, ref.intercept_, atol=1e-6)
    # the reported gap is the true one, and it is certified
    gap, P0i = _independent_gap(X, y, g.coef_, g.intercept_, 0.02, l1_ratio, fit_intercept)
    assert abs(gap - g.dual_gap_) <= 1e-9 * P0i
    assert g.dual_gap_ <= 1e-13 * P0i * 1.01 + 1e-14


@pytest.mark.parametrize("sparse", [False, True])
def test_float32(rng, sparse):
    X, y = _data(rng, sparse=sparse)
    a32 = ElasticNet(alpha=0.03, precompute=True, tol=1e-6).fit(X.astype(np.float32),
                                                              y.astype(np.float32))
    a64 = ElasticNet(alpha=0.03, precompute=True, tol=1e-12).fit(X, y)
    assert a32.coef_.dtype == np.float32
    np.testing.assert_allclose(a32.coef_, a64.coef_, atol=1e-4)
    assert a32.dual_gap_ <= 1e-6 * 0.5 * np.var(y)


@pytest.mark.parametrize("sparse", [False, True])
def test_sample_weight_equals_repeated_rows(rng, sparse):
    X, y = _data(rng, n=120, sparse=sparse)
    rep = rng.integers(0, 4, size=120)
    Xr = X[np.repeat(np.arange(120), rep)]
    yr = np.repeat(y, rep)
    a = ElasticNet(alpha=0.02, precompute=True, tol=1e-13).fit(X, y, sample_weight=rep)
    b = ElasticNet(alpha=0.02, precompute=False, tol=1e-13).fit(Xr, yr)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)
    np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-7)


@pytest.mark.parametrize("sparse", [False, True])
def test_penalty_factor_bounds_positive(rng, sparse):
    X, y = _data(rng, sparse=sparse)
    p = X.shape[1]
    pf = np.ones(p)
    pf[0] = 0.0
    pf[1] = np.inf
    pf[2] = 3.0
    lo = np.full(p, -np.inf)
    up = np.full(p, np.inf)
    up[3] = 0.05
    lo[4] = -0.01
    for kw in (dict(penalty_factor=pf), dict(lower_bounds=lo, upper_bounds=up),
               dict(positive=True), dict(penalty_factor=pf, lower_bounds=lo, upper_bounds=up)):
        for fi in (False, True):
            g = ElasticNet(alpha=0.02, l1_ratio=0.7, precompute=True, tol=1e-13,
                           fit_intercept=fi, **kw).fit(X, y)
            d = ElasticNet(alpha=0.02, l1_ratio=0.7, precompute=False, tol=1e-13,
                           fit_intercept=fi, **kw).fit(X, y)
            P0 = 0.5 * np.var(y) if fi else 0.5 * np.mean(y ** 2)
            pfo = kw.get("penalty_factor")
            pfe = None if pfo is None else np.where(np.isinf(pfo), 0, pfo)
            Pg = _objective(X, y, g.coef_, g.intercept_, 0.02, 0.7, pf=pfe)
            Pd = _objective(X, y, d.coef_, d.intercept_, 0.02, 0.7, pf=pfe)
            assert abs(Pg - Pd) <= 1e-10 * P0, kw
            np.testing.assert_allclose(g.coef_, d.coef_, atol=1e-6)
            assert g.dual_gap_ <= 1e-13 * P0 * 1.01 + 1e-15
            if "penalty_factor" in kw:
                assert g.coef_[1] == 0
            if "upper_bounds" in kw:
                assert g.coef_[3] <= 0.05 and g.coef_[4] >= -0.01
            if "positive" in kw:
                assert np.all(g.coef_ >= 0)


def test_user_gram_matches_sklearn_weighted_example(rng):
    """scikit-learn's example: centered X, Gram of the sqrt(sw)-scaled X, sw summing to n."""
    X, y = _data(rng, n=200, p=15)
    sw = rng.lognormal(size=200)
    sw = sw * (200 / sw.sum())
    Xc = X - np.average(X, axis=0, weights=sw)
    Xs = Xc * np.sqrt(sw)[:, None]
    gram = Xs.T @ Xs
    ours = ElasticNet(alpha=0.01, precompute=gram, tol=1e-13).fit(Xc, y, sample_weight=sw)
    ref = sk.ElasticNet(alpha=0.01, precompute=gram, tol=1e-14, max_iter=100_000).fit(
        Xc, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    # an uncentered X with its own (uncentered) Gram: centered here, same answer
    G = X.T @ (X * sw[:, None])
    a = ElasticNet(alpha=0.01, precompute=G, tol=1e-13).fit(X, y, sample_weight=sw)
    b = ElasticNet(alpha=0.01, precompute=False, tol=1e-13).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)
    # sparse X: honoured too
    Xsp = sp.csc_matrix(X)
    c = ElasticNet(alpha=0.01, precompute=G, tol=1e-13).fit(Xsp, y, sample_weight=sw)
    np.testing.assert_allclose(c.coef_, b.coef_, atol=1e-7)


def test_user_gram_validation(rng):
    X, y = _data(rng, n=100, p=8)
    G = X.T @ X
    with pytest.raises(ValueError, match="shape"):
        Lasso(alpha=0.1, precompute=G[:5, :5]).fit(X, y)
    with pytest.raises(ValueError, match="symmetric"):
        bad = G.copy()
        bad[0, 1] += 1.0
        Lasso(alpha=0.1, precompute=bad).fit(X, y)
    with pytest.raises(ValueError, match="does not match X"):
        Lasso(alpha=0.1, precompute=2 * G).fit(X, y)
    with pytest.raises(ValueError, match="does not match X"):
        bad = G.copy()
        bad[4, 5] += 10.0
        bad[5, 4] += 10.0
        Lasso(alpha=0.1, precompute=bad).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        bad = G.copy()
        bad[0, 0] = np.nan
        Lasso(alpha=0.1, precompute=bad).fit(X, y)
    with pytest.raises(ValueError, match="precompute"):
        Lasso(alpha=0.1, precompute="always").fit(X, y)


def test_gram_sparse_kernel(rng):
    n, p = 500, 30
    X = sp.random(n, p, density=0.2, format="csc", random_state=0)
    X = check_X(X, accept_sparse="csc", order="F")
    h = rng.random(n)
    h[::5] = 0.0
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        ref = (Xd.T.astype(np.float64) @ sp.diags(h.astype(dtype).astype(np.float64))
               @ Xd.astype(np.float64)).toarray()
        for nt in (1, 2, 3):
            Q = np.full((p, p), np.nan)
            tmp = np.empty((max(nt - 1, 1), p, p))
            xth = np.empty(p)
            _cd_gram.gram_sparse(Xd.data, Xd.indices, Xd.indptr, h.astype(dtype), Q, tmp, xth, nt,
                                 min_work=0)
            np.testing.assert_allclose(Q, ref, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-12)
            np.testing.assert_allclose(xth, Xd.T.astype(np.float64) @ h.astype(dtype),
                                       rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("value", [1.0, -2.5])
def test_gram_sparse_binary_counts(rng, value):
    """0/1 data (one stored value) with equal weights: co-occurrence counts, exact."""
    n, p = 700, 40
    rows = rng.integers(0, 6, size=n)             # a row has 0-5 non-zeros (some empty)
    cols = np.delete(np.arange(p), 7)             # column 7 stays empty
    X = sp.lil_matrix((n, p))
    for i, k in enumerate(rows):
        X[i, rng.choice(cols, size=k, replace=False)] = value
    X = check_X(sp.csc_matrix(X), accept_sparse="csc", order="F")
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        D = Xd.toarray().astype(np.float64)
        for h0, tweak in ((1.0 / n, False), (0.25, False), (1.0 / n, True)):
            h = np.full(n, h0, dtype=dtype)
            if tweak:                             # unequal weights: the weighted route
                h[3] *= 2
            ref = D.T @ (h.astype(np.float64)[:, None] * D)
            for nt, mw in ((1, 1e7), (2, 0.0), (3, 0.0), (2, 1e7)):
                Q = np.full((p, p), np.nan)
                tmp = np.empty((max(nt - 1, 1), p, p))
                xth = np.empty(p)
                _cd_gram.gram_sparse(Xd.data, Xd.indices, Xd.indptr, h, Q, tmp, xth, nt,
                                     min_work=mw)
                np.testing.assert_allclose(Q, ref, rtol=1e-14 if not tweak else 1e-12,
                                           atol=1e-14)
                np.testing.assert_allclose(xth, D.T @ h.astype(np.float64), rtol=1e-12)
    # duplicate indices (never from check_X): an error, not a buffer overflow
    for vals in ([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 1.0]):
        for nt in (1, 2):
            with pytest.raises(ValueError, match="duplicate"):
                _cd_gram.gram_sparse(np.array(vals), np.array([0, 0, 0, 0], dtype=np.int32),
                                     np.array([0, 3, 4], dtype=np.int32), np.full(3, 1 / 3),
                                     np.empty((2, 2)), np.empty((1, 2, 2)), np.empty(2), nt,
                                     min_work=0)
    # row indices unsorted across row blocks (300 rows, blocks of 128; shared gatherer
    # _sparse_gram.gram_rows): an error too
    for vals in ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]):
        with pytest.raises(ValueError, match="unsorted"):
            _cd_gram.gram_sparse(np.array(vals), np.array([250, 5, 1], dtype=np.int32),
                                 np.array([0, 2, 3], dtype=np.int32), np.full(300, 1 / 300),
                                 np.empty((2, 2)), np.empty((1, 2, 2)), np.empty(2), 1)
    # one stored value differs: the weighted route, still right
    Y = X.copy()
    Y.data[5] = 3.0
    h = np.full(n, 1.0 / n)
    Q = np.empty((p, p))
    _cd_gram.gram_sparse(Y.data, Y.indices, Y.indptr, h, Q, np.empty((1, p, p)), np.empty(p), 1)
    np.testing.assert_allclose(Q, (Y.T @ Y).toarray() / n, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_design_fit(rng, dtype):
    """0/1 sparse design (the counting Gram): Gram route = direct route = scikit-learn."""
    n, p = 2000, 30
    X = sp.csc_matrix((rng.random((n, p)) < 0.15).astype(dtype))
    y = (X @ rng.standard_normal(p) + 0.3 * rng.standard_normal(n)).astype(dtype)
    for fi in (False, True):
        kw = dict(alpha=0.01, fit_intercept=fi, tol=1e-10 if dtype == np.float64 else 1e-7)
        g = Lasso(precompute=True, **kw).fit(X, y)
        d = Lasso(precompute=False, **kw).fit(X, y)
        ref = sk.Lasso(alpha=0.01, fit_intercept=fi, tol=1e-12, max_iter=100_000).fit(
            X.astype(np.float64), y.astype(np.float64))
        atol = 1e-4 if dtype == np.float32 else 1e-7
        assert g.coef_.dtype == dtype
        np.testing.assert_allclose(g.coef_, d.coef_, atol=atol)
        np.testing.assert_allclose(g.coef_, ref.coef_, atol=atol)
        np.testing.assert_allclose(g.intercept_, ref.intercept_, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blas_free_helpers(rng, dtype):
    """weighted_moments, centered_weights, gram_matvec against numpy."""
    n, p = 257, 9
    h = rng.random(n).astype(dtype)
    y = (rng.standard_normal(n) + 3.0).astype(dtype)
    h64, y64 = h.astype(np.float64), y.astype(np.float64)
    for center in (False, True):
        H, ybar, yHy, hyy = _cd_gram.weighted_moments(h, y, center)
        ybar_ref = (h64 @ y64) / h64.sum() if center else 0.0
        np.testing.assert_allclose([H, ybar, yHy, hyy],
                                   [h64.sum(), ybar_ref, h64 @ (y64 - ybar_ref) ** 2,
                                    h64 @ y64 ** 2], rtol=1e-12)
        v = np.empty(n, dtype=dtype)
        s = _cd_gram.centered_weights(h, y, ybar, v)
        np.testing.assert_allclose(v, h64 * (y64 - ybar), rtol=1e-6 if dtype == np.float32
                                   else 1e-14, atol=1e-7 if dtype == np.float32 else 1e-15)
        assert abs(s - v.astype(np.float64).sum()) <= 1e-12 * np.abs(v).sum()
    A = rng.standard_normal((p, p))
    Q = np.ascontiguousarray(A @ A.T)
    w = rng.standard_normal(p)
    w[::3] = 0.0
    out = np.full(p, np.nan)
    _cd_gram.gram_matvec(Q, w, out)
    np.testing.assert_allclose(out, Q @ w, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        _cd_gram.weighted_moments(h, y[:-1], True)
    with pytest.raises(ValueError):
        _cd_gram.gram_matvec(Q, w[:-1], out)


def test_build_gram_dense_and_sparse_agree(rng):
    X, _ = _data(rng, n=3000, p=20, shift=5.0)   # several row blocks, uncentered
    h = rng.random(3000)
    h /= h.sum()
    for fi in (False, True):
        Gd = build_gram(X, h, fi)
        Gs = build_gram(check_X(sp.csc_matrix(X), accept_sparse="csc"), h, fi)
        Xc = X - (h @ X) if fi else X
        ref = Xc.T @ (Xc * h[:, None])
        np.testing.assert_allclose(Gd.Q, ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(Gs.Q, ref, rtol=1e-8, atol=1e-10)


def test_path_gram_vs_direct(rng):
    for sparse in (False, True):
        X, y = _data(rng, n=400, p=30, sparse=sparse)
        a = enet_path(X, y, l1_ratio=0.8, alphas=20, precompute=True, tol=1e-12,
                      fit_intercept=True, return_intercept=True)
        b = enet_path(X, y, l1_ratio=0.8, alphas=20, precompute=False, tol=1e-12,
                      fit_intercept=True, return_intercept=True)
        np.testing.assert_allclose(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], atol=1e-6)
        np.testing.assert_allclose(a[3], b[3], atol=1e-6)
        P0 = 0.5 * np.var(y)
        assert np.all(a[2] <= 1e-12 * P0 * 1.01 + 1e-15)
        # without intercept, against scikit-learn's path
        _, c_ours, gaps = lasso_path(X, y, alphas=np.geomspace(1.0, 0.01, 8), tol=1e-12)
        _, c_sk, _ = sk.lasso_path(X, y, alphas=np.geomspace(1.0, 0.01, 8), tol=1e-14,
                                   max_iter=100_000)
        np.testing.assert_allclose(c_ours, c_sk, atol=1e-6)
        with pytest.raises(ValueError, match="Xy"):
            lasso_path(X, y, alphas=3, Xy=np.zeros(3))


def _pattern(n, p, density, rng):
    """A CSC matrix with ~density * n non-zeros per column (gram_auto reads the counts)."""
    k = max(1, int(density * n))
    indptr = np.arange(0, (p + 1) * k, k)
    indices = np.sort(rng.integers(0, n, size=(p, k)), axis=1).ravel()
    return sp.csc_matrix((np.ones(p * k), indices, indptr), shape=(n, p))


def test_auto_route(rng):
    # a9a-like: n >> p, sparse with ~10% density -> Gram; p >> n -> direct
    assert gram_auto(_pattern(32561, 123, 0.11, rng))
    assert gram_auto(np.asfortranarray(rng.standard_normal((2000, 50))))
    assert not gram_auto(np.asfortranarray(rng.standard_normal((50, 2000))))
    assert not gram_auto(_pattern(100, 5000, 0.1, rng))
    assert not gram_auto(_pattern(100_000, 3000, 0.001, rng), n_fits=1)
    # the estimator takes the route chosen by the cost model (p >> n: not Gram)
    import fastreg.linear_model.path as path_mod
    X, y = _data(rng, n=40, p=200)
    assert path_mod.resolve_gram("auto", X, None, True)[0] is enet_cd
    X, y = _data(rng, n=2000, p=20)
    assert path_mod.resolve_gram("auto", X, None, True)[0] is enet_cd_gram
    # along a path, the one Gram serves every alpha
    assert gram_auto(np.asfortranarray(rng.standard_normal((400, 300))), n_fits=100)
    assert not gram_auto(np.asfortranarray(rng.standard_normal((400, 300))), n_fits=1)


def test_solver_level_certification_and_fallback(rng, monkeypatch):
    """The returned gap is certified on the true residual: a wrong Gram (here perturbed)
    cannot yield a wrong answer, the working-set solver finishes from the Gram solution."""
    import fastreg.solvers.cd_gram as cg
    X, y = _data(rng, n=300, p=20, shift=50.0)      # strong centering cancellation
    y = y + 1e4
    p = X.shape[1]
    l1 = np.full(p, 0.01)
    l2 = np.zeros(p)
    ref = enet_cd(X, y, l1, l2, tol=1e-14)
    # an exact Gram: certified without the fallback despite the cancellation
    res = enet_cd_gram(X, y, l1, l2, gram=build_gram(X, None, True), tol=1e-14)
    floor = 32 * np.finfo(float).eps * 0.5 * np.mean(y ** 2)
    assert res.converged and res.gap <= 1e-14 * res.p0 + floor
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-6)
    # a perturbed Gram: the certificate fails, enet_cd takes over
    gram = build_gram(X, None, True)
    E = 1e-3 * rng.standard_normal((p, p)) * np.sqrt(np.outer(np.diag(gram.Q), np.diag(gram.Q)))
    gram.Q = gram.Q + E + E.T + 1e-2 * np.diag(np.diag(gram.Q))
    calls = []
    monkeypatch.setattr(cg, "enet_cd", lambda *a, **k: calls.append(k) or enet_cd(*a, **k))
    res = enet_cd_gram(X, y, l1, l2, gram=gram, tol=1e-12, anderson_k=3)
    assert calls and res.converged and res.gap <= 1e-12 * res.p0 + floor
    assert calls[0]["anderson_k"] == 3          # the fallback keeps the caller's settings
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-6)


def test_warm_start_iterations_warning_verbose(rng, capsys):
    X, y = _data(rng)
    est = Lasso(alpha=0.05, warm_start=True, precompute=True, tol=1e-10).fit(X, y)
    est.fit(X, y)
    assert est.n_iter_ == 1
    X2, y2 = _data(rng, n=400, p=60, shift=20.0)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        Lasso(alpha=1e-5, max_iter=1, tol=1e-14, precompute=True).fit(X2, y2)
    Lasso(alpha=0.05, precompute=True, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "gram" in out and "certified" in out and "gap" in out


def test_multi_target_random_selection_cv(rng):
    X, y = _data(rng, n=200, p=12)
    Y = np.column_stack([y, -y + rng.standard_normal(200)])
    a = ElasticNet(alpha=0.02, precompute=True, tol=1e-13).fit(X, Y)
    b = ElasticNet(alpha=0.02, precompute=False, tol=1e-13).fit(X, Y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)
    c = Lasso(alpha=0.02, precompute=True, selection="random", random_state=0,
              tol=1e-13).fit(X, y)
    d = Lasso(alpha=0.02, precompute=False, tol=1e-13).fit(X, y)
    np.testing.assert_allclose(c.coef_, d.coef_, atol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        e = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3, alphas=8, precompute=True,
                         tol=1e-12).fit(X, y)
        f = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3, alphas=8, precompute=False,
                         tol=1e-12).fit(X, y)
    np.testing.assert_allclose(e.mse_path_, f.mse_path_, rtol=1e-6)
    assert e.alpha_ == f.alpha_
