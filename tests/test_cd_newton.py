"""Sign-fixed Newton steps on the support of the working-set elastic-net solver
(fastreg.solvers.cd_newton): the step itself, the callback, and whole fits against the
solver without it, scikit-learn and the scipy reference."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, Lasso

from fastreg import _cd
from fastreg._validation import check_X
from fastreg.reference.objectives import enet_objective
from fastreg.solvers import cd_newton
from fastreg.solvers.cd import column_stats, enet_cd
from fastreg.solvers.cd_newton import NewtonStats, _orthant_steps, make_newton
from fastreg.solvers.design import Design


@pytest.fixture
def newton_always():
    """Offer the Newton step from the first working set on (by default only once the gap
    is below 1e-3 P0): the small test problems reach that point within a few sets."""
    old = _cd._set_newton_gap(np.inf)
    yield
    _cd._set_newton_gap(old)


def _problem(rng, n, p, rho, sparse=False, k=10):
    """Toeplitz-correlated design (ill-conditioned supports: CD is slow, Newton pays)."""
    C = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(C).T + 0.5
    if sparse:
        X[rng.random((n, p)) < 0.5] = 0.0
    wt = np.zeros(p)
    wt[rng.choice(p, k, replace=False)] = rng.standard_normal(k)
    y = X @ wt + 0.5 * rng.standard_normal(n)
    return X, y


def _model(g, Hm, d):
    return g @ d + 0.5 * d @ Hm @ d


def test_orthant_steps_interior_is_exact_minimizer(rng):
    """No sign change: one Cholesky solve gives the minimizer of the quadratic."""
    k = 8
    A = rng.standard_normal((20, k))
    G = A.T @ A
    l2 = rng.uniform(0, 0.1, k)
    x = rng.uniform(1.0, 2.0, k) * rng.choice([-1, 1], k) * 100  # far from 0: no crossing
    g = rng.standard_normal(k) * 0.1
    out = _orthant_steps(G, l2, g, x, np.ones(k, bool), np.full(k, -np.inf),
                         np.full(k, np.inf), 2, NewtonStats())
    np.testing.assert_allclose(out, x - np.linalg.solve(G + np.diag(l2), g), rtol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_orthant_steps_sign_crossing_cut(seed):
    """The Newton step crosses signs / bounds: the result stays in the closed orthant and
    the box, pins some coordinates, and decreases the quadratic (exact on that set)."""
    rng = np.random.default_rng(seed)
    k = 12
    A = rng.standard_normal((30, k))
    G = A.T @ A
    l2 = np.zeros(k)
    x = rng.uniform(0.01, 0.1, k) * rng.choice([-1, 1], k)
    g = rng.standard_normal(k) * 3.0  # large gradient: the full step crosses zero
    lo = np.where(np.arange(k) % 4 == 0, x - 0.05 * np.abs(x), -np.inf)
    lo = np.minimum(lo, 0.0)
    up = np.where(np.arange(k) % 4 == 1, np.maximum(x, 0) + 0.01, np.inf)
    signed = np.arange(k) % 5 != 0  # some unpenalized (unsigned) coordinates
    stats = NewtonStats()
    full = x - np.linalg.solve(G, g)
    out = _orthant_steps(G, l2, g, x, signed, lo, up, 2, stats)
    assert out is not None
    assert np.all(out >= lo) and np.all(out <= up)
    s = np.sign(x)
    assert np.all(out[signed] * s[signed] >= 0)  # closed orthant
    assert _model(g, G, out - x) < 0
    crossed = (full * s < 0) & signed | (full < lo) | (full > up)
    assert crossed.any() and stats.cuts > 0


def test_orthant_steps_singular_returns_none(rng):
    A = rng.standard_normal((3, 6))  # rank 3 < 6
    G = A.T @ A
    out = _orthant_steps(G, np.zeros(6), rng.standard_normal(6), np.ones(6), np.ones(6, bool),
                         np.full(6, -np.inf), np.full(6, np.inf), 2, NewtonStats())
    assert out is None or np.all(np.isfinite(out))


def _callback_setup(rng, dtype, sparse, fit_intercept, weights):
    n, p = 60, 40
    X, y = _problem(rng, n, p, 0.9, sparse=sparse)
    Xv = check_X(sp.csc_matrix(X) if sparse else X, dtype=(dtype,))
    y = y.astype(dtype)
    h = (rng.uniform(0.5, 2.0, n) if weights else np.ones(n)) / n
    h = h.astype(dtype)
    l1 = np.full(p, 0.01, dtype)
    l1[:3] = 0.0  # unpenalized
    l2 = np.where(np.arange(p) % 2, 0.0, 0.02).astype(dtype)
    lower = np.where(np.arange(p) % 7 == 3, 0.0, -np.inf).astype(dtype)
    upper = np.where(np.arange(p) % 7 == 4, 0.05, np.inf).astype(dtype)
    return Xv, X, y, h, l1, l2, lower, upper


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
def test_callback_decreases_objective(rng, dtype, sparse, fit_intercept, weights):
    """From a rough CD iterate, an accepted step decreases the true objective, keeps R = y - X w,
    respects the bounds and leaves fixed coordinates (0 or at a bound) untouched."""
    Xv, X, y, h, l1, l2, lower, upper = _callback_setup(rng, dtype, sparse, fit_intercept,
                                                        weights)
    p = X.shape[1]
    res = enet_cd(Xv, y, l1, l2, lower, upper, sample_weight=h, fit_intercept=fit_intercept,
                  tol=1e-2, newton=False, warn=False)
    w = res.coef.copy()
    design = Design(Xv, 1)
    R = (y.astype(np.float64) - X @ w.astype(np.float64)).astype(dtype)
    mu, _ = column_stats(Xv, h, fit_intercept)
    errors = []
    cb = make_newton(design, y, h, w, R, mu, l1, l2, lower, upper, fit_intercept, errors)

    def P(wv):
        r = y.astype(np.float64) - X @ wv.astype(np.float64)
        hh = h.astype(np.float64)
        b = hh @ r / hh.sum() if fit_intercept else 0.0
        return 0.5 * hh @ (r - b) ** 2 + l1 @ np.abs(wv) + 0.5 * (l2 * wv) @ wv

    w_before = w.copy()
    P_before = P(w)
    ws = np.arange(p, dtype=np.int32)
    rc = cb(ws, 0.0, 1e9, float(Xv.nnz if sparse else X.size), 1000)
    assert rc in (0, 1) and not errors
    if rc == 1:
        assert P(w) < P_before
    else:
        np.testing.assert_array_equal(w, w_before)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(R, y - X @ w.astype(np.float64), atol=tol * 100, rtol=tol)
    assert np.all(w >= lower) and np.all(w <= upper)
    fixed = ((w_before == 0) & (l1 > 0)) | (w_before == lower) & (lower != 0) | \
        (w_before == upper) & (upper != 0)
    np.testing.assert_array_equal(w[fixed], w_before[fixed])


def test_callback_rank_deficient_support_not_attempted(rng):
    """|S| > n without an L2 term: X_S^T H X_S is singular, no step (w, R untouched)."""
    n, p = 20, 60
    X = check_X(rng.standard_normal((n, p)), dtype=(np.float64,))
    y = rng.standard_normal(n)
    w = rng.standard_normal(p)  # all non-zero: |S| = 60 > n
    R = y - X @ w
    R0, w0 = R.copy(), w.copy()
    h = np.full(n, 1.0 / n)
    l1 = np.full(p, 0.01)
    mu, _ = column_stats(X, h, True)
    cb = make_newton(Design(X, 1), y, h, w, R, mu, l1, np.zeros(p), np.full(p, -np.inf),
                     np.full(p, np.inf), True, [])
    assert cb(np.arange(p, dtype=np.int32), 0.0, 1e9, float(n * p), 1000) == 0
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(R, R0)
    # with an L2 term the system is definite: the step may be taken
    cb2 = make_newton(Design(X, 1), y, h, w, R, mu, l1, np.full(p, 0.5), np.full(p, -np.inf),
                      np.full(p, np.inf), True, [])
    assert cb2(np.arange(p, dtype=np.int32), 0.0, 1e9, float(n * p), 1000) in (0, 1)
    np.testing.assert_allclose(R, y - X @ w, atol=1e-12)


def test_callback_error_is_reraised(rng, newton_always):
    """An exception inside the callback stops the fit with that exception (no crash)."""
    X, y = _problem(rng, 100, 300, 0.9)
    Xv = check_X(X, dtype=(np.float64,))
    amax = np.abs(X.T @ (y - y.mean())).max() / 100
    orig = cd_newton._GramCache.get

    def boom(self, S, rho):
        raise RuntimeError("boom")
    cd_newton._GramCache.get = boom
    try:
        with pytest.raises(RuntimeError, match="boom"):
            enet_cd(Xv, y, np.full(300, amax / 1000), np.zeros(300), tol=1e-12, warn=False)
    finally:
        cd_newton._GramCache.get = orig


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_with_newton_matches_without(rng, dtype, sparse, fit_intercept, newton_always):
    """Ill-conditioned Lasso at alpha_max/1000: Newton steps are accepted, the certified
    objective equals the CD-only fit's and scikit-learn's, in fewer epochs."""
    n, p = 100, 300
    X, y = _problem(rng, n, p, 0.9, sparse=sparse)
    Xv = check_X(sp.csc_matrix(X) if sparse else X, dtype=(dtype,))
    y = y.astype(dtype)
    yc = y - y.mean() if fit_intercept else y
    alpha = float(np.abs(X.T @ yc).max() / n / 1000)
    l1 = np.full(p, alpha, dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    on = enet_cd(Xv, y, l1, np.zeros(p, dtype), fit_intercept=fit_intercept, tol=tol,
                 warn=False)
    off = enet_cd(Xv, y, l1, np.zeros(p, dtype), fit_intercept=fit_intercept, tol=tol,
                  newton=False, warn=False)
    P0 = on.p0
    if dtype == np.float64:
        assert on.converged and on.n_newton > 0
        assert on.n_epochs < off.n_epochs
        assert abs(on.primal - off.primal) <= 1e-10 * P0
        sk = Lasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-14, max_iter=200_000)
        sk.fit(X, y)
        ref = enet_objective(X, y, sk.coef_, sk.intercept_, alpha=alpha)
        mine = enet_objective(X, y, on.coef.astype(np.float64), on.intercept, alpha=alpha)
        assert mine <= ref + 1e-10 * P0
    else:
        assert abs(on.primal - off.primal) <= 1e-4 * P0


@pytest.mark.parametrize("sparse", [False, True])
def test_enet_weights_penalty_factor_bounds(rng, sparse, newton_always):
    """ElasticNet with sample weights, unpenalized features (penalty factor 0) and bounds,
    float64: with Newton steps (some accepted) the fit reaches the CD-only objective within
    1e-10 P0, respects the bounds, and its objective is the reference's."""
    n, p = 120, 250
    X, y = _problem(rng, n, p, 0.95, sparse=sparse)
    Xv = check_X(sp.csc_matrix(X) if sparse else X, dtype=(np.float64,))
    sw = rng.uniform(0.5, 2.0, n)
    h = sw / sw.sum()
    pf = np.ones(p)
    pf[:4] = 0.0
    alpha = float(np.abs(X.T @ (h * (y - h @ y))).max() / 3000)
    l1 = 0.99 * alpha * pf
    l2 = 0.01 * alpha * pf
    lower = np.where(np.arange(p) % 5 == 0, 0.0, -np.inf)
    upper = np.where(np.arange(p) % 5 == 1, 0.2, np.inf)
    on = enet_cd(Xv, y, l1, l2, lower, upper, sample_weight=h, tol=1e-12, warn=False)
    off = enet_cd(Xv, y, l1, l2, lower, upper, sample_weight=h, tol=1e-12, newton=False,
                  warn=False)
    assert on.converged and off.converged and on.n_newton > 0
    assert abs(on.primal - off.primal) <= 1e-10 * on.p0
    assert np.all(on.coef >= lower) and np.all(on.coef <= upper)
    ref = enet_objective(X, y, on.coef, on.intercept, alpha=alpha, l1_ratio=0.99,
                         sample_weight=sw, penalty_factor=pf, lower_bounds=lower,
                         upper_bounds=upper)
    assert abs(ref - on.primal) <= 1e-10 * on.p0


def test_estimator_elasticnet_matches_sklearn(rng):
    """Through the public estimator (float64, dense, intercept): sklearn's objective."""
    import fastreg
    n, p = 100, 300
    X, y = _problem(rng, n, p, 0.9)
    alpha = float(np.abs(X.T @ (y - y.mean())).max() / n / 500)
    mine = fastreg.ElasticNet(alpha=alpha, l1_ratio=0.95, tol=1e-12, max_iter=10_000).fit(X, y)
    sk = ElasticNet(alpha=alpha, l1_ratio=0.95, tol=1e-14, max_iter=200_000).fit(X, y)
    P = enet_objective(X, y, mine.coef_, mine.intercept_, alpha=alpha, l1_ratio=0.95)
    Psk = enet_objective(X, y, sk.coef_, sk.intercept_, alpha=alpha, l1_ratio=0.95)
    P0 = enet_objective(X, y, np.zeros(p), y.mean(), alpha=alpha, l1_ratio=0.95)
    assert P <= Psk + 1e-10 * P0


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gram_cache_against_numpy(rng, sparse, fit_intercept):
    """Cached Gram matrices (fresh, subset, overlapping with new columns) equal
    X_{c,S}^T H X_{c,S}, and the correlations X_{c,S}^T H rho, in float64."""
    n, p = 40, 60
    X, _ = _problem(rng, n, p, 0.5, sparse=sparse)
    Xv = check_X(sp.csc_matrix(X) if sparse else X, dtype=(np.float64,))
    h = rng.uniform(0.5, 2.0, n) / n
    mu, _ = column_stats(Xv, h, fit_intercept)
    cache = cd_newton._GramCache(Design(Xv, 1), h, mu, fit_intercept)
    rho = rng.standard_normal(n)
    Xc = X - mu if fit_intercept else X
    for S in (np.arange(0, 30), np.arange(5, 25), np.arange(10, 50), np.arange(0, 60, 2),
              np.arange(0, 60, 2)[:5]):
        S = S.astype(np.int32)
        G, c = cache.get(S, rho)
        A = Xc[:, S]
        np.testing.assert_allclose(G, A.T @ (h[:, None] * A), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(c, A.T @ (h * rho), rtol=1e-10, atol=1e-12)
