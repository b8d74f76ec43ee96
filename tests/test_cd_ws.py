"""Working-set solver internals exposed by fastreg._cd: the full-gap certificate, the
Anderson extrapolation, support-only epochs and the working-set growth rules."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastreg import _cd
from fastreg._validation import check_X
from fastreg.reference.objectives import enet_conjugate
from fastreg.solvers.cd import column_stats, enet_cd


def _design(rng, n, p, dtype, sparse):
    Xd = rng.standard_normal((n, p)) + 2.0  # uncentered columns
    if sparse:
        Xd[rng.random((n, p)) < 0.6] = 0.0
    X = check_X(sp.csc_matrix(Xd) if sparse else Xd, dtype=(dtype,))
    return X, (X.toarray() if sparse else np.asarray(X)).astype(np.float64)


def _full_gap(X, *args, **kw):
    if sp.issparse(X):
        return _cd.full_gap_sparse(X.data, X.indices, X.indptr, *args, **kw)
    return _cd.full_gap_dense(X, *args, **kw)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_full_gap_against_numpy(rng, dtype, sparse, fit_intercept):
    """P, D, s, b and the correlations against their closed forms (numpy, float64)."""
    n, p = 50, 30
    X, Xd = _design(rng, n, p, dtype, sparse)
    y = (Xd[:, :3] @ [1.0, -2.0, 0.5] + rng.standard_normal(n)).astype(dtype)
    h = rng.uniform(0.5, 2.0, n).astype(dtype)
    w = (rng.standard_normal(p) * (rng.random(p) < 0.3)).astype(dtype)
    l1 = rng.uniform(0.01, 0.2, p).astype(dtype)
    l2 = np.where(np.arange(p) % 2, 0.0, 0.3).astype(dtype)
    lower = np.full(p, -np.inf, dtype)
    upper = np.where(np.arange(p) % 3 == 0, 0.5, np.inf).astype(dtype)
    w = np.minimum(w, upper)
    active = np.arange(1, p, dtype=np.int32)  # feature 0 left out (held at 0)
    w[0] = 0
    mu, _ = column_stats(X, h, fit_intercept)
    R = (y - Xd @ w.astype(np.float64)).astype(dtype)
    corr = np.empty(active.size)
    P, D, s, b = _full_gap(X, y, h, w, R, mu, l1, l2, lower, upper, active,
                           fit_intercept=fit_intercept, n_threads=2, corr_out=corr)
    h64, R64, y64 = h.astype(float), R.astype(float), y.astype(float)
    b_ref = h64 @ R64 / h64.sum() if fit_intercept else 0.0
    ybar = h64 @ y64 / h64.sum() if fit_intercept else 0.0
    rho = R64 - b_ref
    Xc = Xd - (mu if fit_intercept else 0.0)
    c = Xc[:, active].T @ (h64 * rho)
    a = active
    w64, l164, l264 = w.astype(float), l1.astype(float), l2.astype(float)
    P_ref = 0.5 * h64 @ rho ** 2 + l164[a] @ np.abs(w64[a]) + 0.5 * l264[a] @ w64[a] ** 2
    # features whose conjugate is finite only for |v| <= l1 on the side of c's sign
    constrained = (l264[a] == 0) & np.where(c > 0, np.isinf(upper[a]), np.isinf(lower[a]))
    s_ref = min(1.0, np.min(l164[a][constrained] / np.abs(c[constrained])))
    conj = enet_conjugate(s_ref * c, l164[a], l264[a], lower[a].astype(float),
                          upper[a].astype(float))
    conj = np.where(np.isfinite(conj), conj, 0.0)  # rounding of the rescaling at |v| = l1
    D_ref = s_ref * (h64 * rho) @ (y64 - ybar) - 0.5 * s_ref ** 2 * h64 @ rho ** 2 - conj.sum()
    rtol = 2e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(corr, c, rtol=rtol, atol=rtol * np.abs(c).max())
    assert b == pytest.approx(b_ref, rel=rtol, abs=rtol)
    assert P == pytest.approx(P_ref, rel=rtol)
    assert s == pytest.approx(s_ref, rel=rtol)
    assert D == pytest.approx(D_ref, rel=rtol, abs=rtol * P_ref)
    assert D <= P


def test_full_gap_project_and_errors(rng):
    X, Xd = _design(rng, 20, 5, np.float64, False)
    y, h, w = rng.standard_normal(20), np.full(20, 0.05), np.zeros(5)
    z, inf = np.zeros(5), np.full(5, np.inf)
    mu = np.zeros(5)
    act = np.arange(5, dtype=np.int32)
    seen = []

    def project(rho):
        seen.append(np.asarray(rho).copy())
        np.asarray(rho)[:] = 0.0  # the zero dual point: D = 0

    P, D, s, b = _cd.full_gap_dense(X, y, h, w, y.copy(), mu, np.ones(5), z, -inf, inf, act,
                                    fit_intercept=False, project=project)
    np.testing.assert_allclose(seen[0], y)
    assert D == 0.0 and P == pytest.approx(0.5 * h @ y ** 2)

    def bad(rho):
        raise KeyError("boom")

    with pytest.raises(RuntimeError, match="project"):
        _cd.full_gap_dense(X, y, h, w, y.copy(), mu, np.ones(5), z, -inf, inf, act,
                           project=bad)
    with pytest.raises(ValueError, match="R has length"):
        _cd.full_gap_dense(X, y, h, w, y[:-1].copy(), mu, np.ones(5), z, -inf, inf, act)
    with pytest.raises(ValueError, match="out of range"):
        _cd.full_gap_dense(X, y, h, w, y.copy(), mu, np.ones(5), z, -inf, inf,
                           np.array([5], dtype=np.int32))
    with pytest.raises(ValueError, match="corr_out"):
        _cd.full_gap_dense(X, y, h, w, y.copy(), mu, np.ones(5), z, -inf, inf, act,
                           corr_out=np.empty(3))


def test_anderson_extrapolate_linear_fixed_point(rng):
    """For x_{k+1} = A x_k + b with K >= dim, the extrapolation is the fixed point
    (up to the 1e-12 relative regularization); rows are read circularly from ``oldest``."""
    d, K = 4, 5
    A = rng.standard_normal((d, d))
    A *= 0.9 / np.max(np.abs(np.linalg.eigvals(A)))
    bvec = rng.standard_normal(d)
    xs = [rng.standard_normal(d)]
    for _ in range(K):
        xs.append(A @ xs[-1] + bvec)
    fixed = np.linalg.solve(np.eye(d) - A, bvec)
    oldest = 2
    hist = np.empty((K + 1, d))
    for i, x in enumerate(xs):
        hist[(oldest + i) % (K + 1)] = x
    out = np.empty(d)
    assert _cd.anderson_extrapolate(hist, oldest, out)
    np.testing.assert_allclose(out, fixed, rtol=1e-6, atol=1e-6)
    # the closed form with the same regularization, on a generic history
    hist = rng.standard_normal((K + 1, 7))
    W = hist[[(oldest + i) % (K + 1) for i in range(K + 1)]]
    U = W[1:] - W[:-1]
    M = U @ U.T
    z = np.linalg.solve(M + (1e-12 * np.trace(M) + 1e-300) * np.eye(K), np.ones(K))
    out = np.empty(7)
    assert _cd.anderson_extrapolate(hist, oldest, out)
    np.testing.assert_allclose(out, z @ W[1:] / z.sum(), rtol=1e-10)


def test_anderson_extrapolate_degenerate_and_errors():
    out = np.full(3, 7.0)
    assert not _cd.anderson_extrapolate(np.ones((4, 3)), 0, out)  # U = 0: singular
    np.testing.assert_array_equal(out, 7.0)
    assert not _cd.anderson_extrapolate(np.ones((1, 3)), 0, out)  # K = 0
    with pytest.raises(ValueError, match="oldest"):
        _cd.anderson_extrapolate(np.ones((4, 3)), 4, out)
    with pytest.raises(ValueError, match="out"):
        _cd.anderson_extrapolate(np.ones((4, 3)), 0, np.empty(2))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("options", [dict(), dict(selection="random", random_state=1),
                                     dict(fit_intercept=False, anderson_k=2)])
def test_support_epochs_same_solution(rng, sparse, options):
    """Epochs over the support between full epochs (glmnet's active-set cycling) reach the
    same optimum as full epochs only, with bounds, weights and an elastic-net penalty."""
    n, p = 200, 300
    X, Xd = _design(rng, n, p, np.float64, sparse)
    y = Xd[:, :20] @ rng.standard_normal(20) + rng.standard_normal(n)
    h = rng.uniform(0.5, 1.5, n)
    h /= h.sum()
    l1 = np.full(p, 0.01 * np.abs(Xd.T @ (h * (y - y.mean()))).max())
    l2 = np.full(p, 1e-4)
    lower = np.where(np.arange(p) % 4 == 0, 0.0, -np.inf)
    res = {}
    try:
        for k in (0, 3):
            _cd._set_support_epochs(k)
            res[k] = enet_cd(X, y, l1, l2, lower, None, sample_weight=h, tol=1e-12, **options)
    finally:
        _cd._set_support_epochs(3)
    assert res[0].converged and res[3].converged
    assert np.count_nonzero(res[3].coef) > 20
    np.testing.assert_allclose(res[3].coef, res[0].coef, atol=1e-6)
    assert res[3].primal == pytest.approx(res[0].primal, rel=1e-10)


def test_fast_growth_many_nonzeros_float32(rng):
    """Support of about n features (ws saturated, 4x growth, tightened inner targets):
    converges to the float64 solution in float32 too."""
    n, p = 100, 2000
    Xd = rng.standard_normal((n, p))
    y = Xd[:, :60] @ rng.standard_normal(60) + 0.1 * rng.standard_normal(n)
    lmax = np.abs(Xd.T @ (y - y.mean())).max() / n
    l1 = np.full(p, lmax / 300)
    r64 = enet_cd(check_X(Xd), y, l1, np.zeros(p), tol=1e-10)
    r32 = enet_cd(check_X(Xd, dtype=(np.float32,)), y.astype(np.float32),
                  l1.astype(np.float32), np.zeros(p, np.float32), tol=1e-6, warn=False)
    assert r64.converged and np.count_nonzero(r64.coef) > 50
    assert r32.gap <= 1e-5 * r32.p0
    assert abs(r32.primal - r64.primal) <= 1e-5 * r64.p0
