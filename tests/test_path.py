"""fastreg.lasso_path / enet_path / alpha_max against scikit-learn."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk

from fastreg import ElasticNet, enet_path, lasso_path
from fastreg.linear_model import alpha_max
from fastreg.reference.objectives import enet_duality_gap, enet_objective


def _data(rng, n=40, p=60, sparse=False):
    X = rng.standard_normal((n, p))
    if sparse:
        X[rng.random((n, p)) < 0.6] = 0.0
    y = X[:, :4] @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.2 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_path_against_sklearn(rng, sparse, l1_ratio):
    X, y = _data(rng, sparse=sparse)
    Xin = sp.csc_matrix(X) if sparse else X
    # n < p and a small l2 at the end of the path: a gap of 1e-13 * P0 leaves ~1e-6 in w
    alphas, coefs, gaps = enet_path(Xin, y, l1_ratio=l1_ratio, n_alphas=20, tol=1e-14)
    a_sk, c_sk, _ = sk.enet_path(X, y, l1_ratio=l1_ratio, alphas=20, tol=1e-15, max_iter=200000)
    np.testing.assert_allclose(alphas, a_sk, rtol=1e-12)
    assert coefs.shape == (X.shape[1], 20) and gaps.shape == (20,)
    assert np.all(np.diff(alphas) < 0)
    np.testing.assert_allclose(coefs, c_sk, atol=1e-6)
    assert np.all(coefs[:, 0] == 0)
    P0 = 0.5 * np.mean(y ** 2)
    for k in (3, 10, 19):
        gap = enet_duality_gap(X, y, coefs[:, k], None, alpha=alphas[k], l1_ratio=l1_ratio)[2]
        assert gap <= 1e-10 * P0


def test_lasso_path_alphas_int_and_array(rng):
    X, y = _data(rng)
    a1, c1, g1 = lasso_path(X, y, alphas=15, tol=1e-12)
    a2, c2, g2 = lasso_path(X, y, n_alphas=15, tol=1e-12)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_allclose(c1, c2, atol=1e-12)
    grid = np.array([0.01, 0.5, 0.1])  # unsorted: returned decreasing
    a3, c3, _, n_iters = lasso_path(X, y, alphas=grid, tol=1e-12, return_n_iter=True)
    np.testing.assert_array_equal(a3, np.sort(grid)[::-1])
    assert len(n_iters) == 3 and all(isinstance(k, int) for k in n_iters)
    _, c_sk, _ = sk.lasso_path(X, y, alphas=np.sort(grid)[::-1], tol=1e-15, max_iter=100000)
    np.testing.assert_allclose(c3, c_sk, atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_path_with_intercept_and_weights_matches_estimator(rng, sparse):
    """The LassoCV call: fit_intercept, sample_weight, return_intercept."""
    X, y = _data(rng, sparse=sparse)
    y = y + 3.0
    sw = rng.integers(1, 4, X.shape[0]).astype(float)
    Xin = sp.csc_matrix(X) if sparse else X
    alphas = np.geomspace(1.0, 0.01, 8)
    out = enet_path(Xin, y, l1_ratio=0.5, alphas=alphas, fit_intercept=True, sample_weight=sw,
                    tol=1e-13, max_iter=1000, return_intercept=True, return_n_iter=True)
    a, coefs, gaps, n_iters, intercepts = out
    assert intercepts.shape == (8,)
    for k in (0, 4, 7):
        est = ElasticNet(alpha=a[k], l1_ratio=0.5, tol=1e-13).fit(X, y, sample_weight=sw)
        kw = dict(alpha=a[k], l1_ratio=0.5, sample_weight=sw)
        P = enet_objective(X, y, coefs[:, k], intercepts[k], **kw)
        P_est = enet_objective(X, y, est.coef_, est.intercept_, **kw)
        assert P == pytest.approx(P_est, abs=1e-12 * np.var(y))
        assert gaps[k] <= 1e-13 * 0.5 * np.cov(y, aweights=sw, ddof=0)
        np.testing.assert_allclose(coefs[:, k], est.coef_, atol=1e-5)
        assert intercepts[k] == pytest.approx(est.intercept_, abs=1e-5)


def test_alpha_max(rng):
    X, y = _data(rng)
    y = y + 5.0
    sw = rng.integers(1, 3, X.shape[0]).astype(float)
    for fit_intercept in (True, False):
        for l1_ratio in (1.0, 0.3):
            amax = alpha_max(X, y, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                             sample_weight=sw)
            at = ElasticNet(alpha=amax * (1 + 1e-9), l1_ratio=l1_ratio,
                            fit_intercept=fit_intercept, tol=1e-12).fit(X, y, sample_weight=sw)
            below = ElasticNet(alpha=amax * 0.99, l1_ratio=l1_ratio,
                               fit_intercept=fit_intercept, tol=1e-12).fit(X, y, sample_weight=sw)
            assert np.all(at.coef_ == 0)
            assert np.any(below.coef_ != 0)
    # scikit-learn's formula without weights
    Xc, yc = X - X.mean(0), y - y.mean()
    assert alpha_max(X, y) == pytest.approx(np.max(np.abs(Xc.T @ yc)) / X.shape[0])
    # unpenalized features are fitted first
    pf = np.ones(X.shape[1])
    pf[:2] = 0
    amax = alpha_max(X, y, penalty_factor=pf)
    est = ElasticNet(alpha=amax * (1 + 1e-6), l1_ratio=1.0, penalty_factor=pf,
                     tol=1e-12).fit(X, y)
    assert np.all(est.coef_[2:] == 0) and np.all(est.coef_[:2] != 0)
    with pytest.raises(ValueError, match="l1_ratio"):
        alpha_max(X, y, l1_ratio=0.0)


def test_path_multi_output_and_float32(rng):
    X, y = _data(rng)
    Y = np.column_stack([y, y[::-1]])
    a, coefs, gaps = lasso_path(X, Y, alphas=[0.5, 0.1], tol=1e-12)
    assert coefs.shape == (2, X.shape[1], 2) and gaps.shape == (2, 2)
    a1, c1, _ = lasso_path(X, Y[:, 1], alphas=[0.5, 0.1], tol=1e-12)
    np.testing.assert_allclose(coefs[1], c1, atol=1e-12)
    _, c32, _ = lasso_path(X.astype(np.float32), y.astype(np.float32), alphas=[0.5, 0.1],
                           tol=1e-6)
    assert c32.dtype == np.float32
    _, c64, _ = lasso_path(X, y, alphas=[0.5, 0.1], tol=1e-12)
    np.testing.assert_allclose(c32, c64, atol=1e-4)


def test_path_verbose_and_errors(rng, capsys):
    X, y = _data(rng)
    lasso_path(X, y, alphas=3, verbose=True)
    assert "alpha 3/3" in capsys.readouterr().out
    with pytest.raises(ValueError):
        enet_path(X, y, l1_ratio=0.0)
    with pytest.raises(ValueError):
        lasso_path(X, y, alphas=[-1.0])
    with pytest.raises(ValueError):
        lasso_path(X, y[:-1])
