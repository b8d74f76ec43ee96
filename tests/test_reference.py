"""Tests of fastreg.reference: objectives, duality gaps and L-BFGS-B solvers.

Independent checks: explicit numpy formulas, scikit-learn at tight tolerance,
closed forms (orthogonal design, Frisch-Waugh-Lovell for unpenalized features),
KKT conditions, row repetition for integer sample weights, weak duality.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression

from fastreg.reference import (
    enet_conjugate,
    enet_duality_gap,
    enet_lbfgsb,
    enet_objective,
    lasso_duality_gap,
    lasso_lbfgsb,
    lasso_objective,
    lasso_orthogonal_closed_form,
    logistic_duality_gap,
    logistic_lbfgsb,
    logistic_objective,
)

DTYPES = [np.float32, np.float64]
CONTAINERS = [np.asarray, sp.csc_matrix]


def _regression(seed=0, n=50, p=25, dtype=np.float64, intercept=2.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    k = min(5, p)
    w[:k] = 3 * rng.standard_normal(k)
    y = X @ w + 0.5 * rng.standard_normal(n) + intercept
    return X.astype(dtype), y.astype(dtype)


def _alpha_max(X, y, fit_intercept=True):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if fit_intercept:
        X, y = X - X.mean(0), y - y.mean()
    return np.max(np.abs(X.T @ y)) / X.shape[0]


def _classification(seed=0, n=60, p=15, labels=("a", "b")):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    k = min(4, p)
    w[:k] = 2 * rng.standard_normal(k)
    y = np.where(X @ w + 0.5 + rng.standard_normal(n) > 0, labels[1], labels[0])
    return X, y


def _assert_gap_small(primal, dual, gap, rtol=1e-10):
    assert np.isfinite(gap)
    assert gap <= rtol * max(1.0, abs(primal)), (primal, dual, gap)


# ---------------------------------------------------------------------------
# least squares objective
# ---------------------------------------------------------------------------
def test_enet_objective_is_sklearn_formula():
    X, y = _regression(n=30, p=8)
    rng = np.random.default_rng(1)
    w, b, alpha, rho = rng.standard_normal(8), 0.7, 0.3, 0.4
    n = X.shape[0]
    r = y - X @ w - b
    expected = (r @ r / (2 * n) + alpha * rho * np.abs(w).sum()
                + 0.5 * alpha * (1 - rho) * w @ w)
    assert enet_objective(X, y, w, b, alpha=alpha, l1_ratio=rho) == pytest.approx(expected, rel=1e-14)
    assert lasso_objective(X, y, w, b, alpha=alpha) == pytest.approx(
        r @ r / (2 * n) + alpha * np.abs(w).sum(), rel=1e-14)
    # sample_weight: scikit-learn rescales sw to sum to n, then 1/(2n) sum sw_i r_i^2
    sw = rng.uniform(0.1, 3.0, n)
    sw_sk = sw * n / sw.sum()
    expected_w = (sw_sk @ r ** 2 / (2 * n) + alpha * rho * np.abs(w).sum()
                  + 0.5 * alpha * (1 - rho) * w @ w)
    got = enet_objective(X, y, w, b, alpha=alpha, l1_ratio=rho, sample_weight=sw)
    assert got == pytest.approx(expected_w, rel=1e-14)
    # penalty factors, bounds
    pf = rng.uniform(0, 2, 8)
    got = enet_objective(X, y, w, b, alpha=alpha, l1_ratio=rho, penalty_factor=pf)
    assert got == pytest.approx(r @ r / (2 * n) + alpha * rho * pf @ np.abs(w)
                                + 0.5 * alpha * (1 - rho) * pf @ w ** 2, rel=1e-14)
    assert enet_objective(X, y, w, b, alpha=alpha, positive=True) == np.inf
    pf[0] = np.inf
    assert enet_objective(X, y, w, b, alpha=alpha, penalty_factor=pf) == np.inf


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_enet_lbfgsb_gap_and_sklearn(container, dtype, l1_ratio, fit_intercept):
    X, y = _regression(seed=3, dtype=dtype)
    alpha = _alpha_max(X, y, fit_intercept) / 10
    w, b = enet_lbfgsb(container(X), y, alpha, l1_ratio, fit_intercept=fit_intercept)
    assert w.dtype == np.float64
    primal, dual, gap = enet_duality_gap(container(X), y, w, b if fit_intercept else None,
                                         alpha=alpha, l1_ratio=l1_ratio)
    _assert_gap_small(primal, dual, gap)
    # scikit-learn on the same (float32-rounded) data, computed in float64
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    sk = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-14,
                    max_iter=100_000).fit(X64, y64)
    np.testing.assert_allclose(w, sk.coef_, atol=1e-6)
    assert b == pytest.approx(sk.intercept_, abs=1e-6)
    p_sk = enet_objective(X64, y64, sk.coef_, sk.intercept_, alpha=alpha, l1_ratio=l1_ratio)
    assert primal <= p_sk + 1e-12 * p_sk


def test_lasso_orthogonal_closed_form():
    rng = np.random.default_rng(4)
    n, p = 40, 10
    Q, _ = np.linalg.qr(rng.standard_normal((n, p)))
    X = Q * rng.uniform(1, 5, p) * np.sqrt(n)           # orthogonal, unequal norms
    y = X @ rng.standard_normal(p) / np.sqrt(n) + rng.standard_normal(n)
    alpha = _alpha_max(X, y, False) / 3
    w_cf, b_cf = lasso_orthogonal_closed_form(X, y, alpha)
    assert b_cf == 0.0
    assert 0 < np.sum(w_cf != 0) < p
    # explicit soft-thresholding for this design
    corr = X.T @ y / n
    d = (X ** 2).sum(0) / n
    np.testing.assert_allclose(w_cf, np.sign(corr) * np.maximum(np.abs(corr) - alpha, 0) / d,
                               rtol=1e-12, atol=1e-14)
    w, _ = lasso_lbfgsb(X, y, alpha, fit_intercept=False)
    np.testing.assert_allclose(w, w_cf, atol=1e-9)
    # ElasticNet, positive, intercept (columns orthogonal after centering)
    A = rng.standard_normal((n, p))
    Q, _ = np.linalg.qr(A - A.mean(0))                 # orthonormal columns orthogonal to 1
    Xc = Q * rng.uniform(1, 5, p) * np.sqrt(n) + rng.standard_normal(p)
    yc = Xc @ rng.standard_normal(p) + 5.0 + rng.standard_normal(n)
    alpha = _alpha_max(Xc, yc, True) / 4
    for rho, positive in [(0.5, False), (1.0, True)]:
        w_cf, b_cf = lasso_orthogonal_closed_form(Xc, yc, alpha, rho, fit_intercept=True,
                                                  positive=positive)
        sk = ElasticNet(alpha=alpha, l1_ratio=rho, positive=positive, tol=1e-14,
                        max_iter=100_000).fit(Xc, yc)
        np.testing.assert_allclose(w_cf, sk.coef_, atol=1e-9)
        assert b_cf == pytest.approx(sk.intercept_, abs=1e-9)
        if positive:
            assert np.all(w_cf >= 0)
    with pytest.raises(ValueError, match="orthogonal"):
        lasso_orthogonal_closed_form(rng.standard_normal((n, p)), yc, alpha)


# ---------------------------------------------------------------------------
# least squares duality gap
# ---------------------------------------------------------------------------
def test_enet_gap_nonnegative_at_random_points():
    rng = np.random.default_rng(5)
    X, y = _regression(seed=5, n=30, p=12)
    Xs = sp.csc_matrix(X)
    for trial in range(40):
        alpha = 10 ** rng.uniform(-3, 0)
        rho = rng.choice([1.0, 0.7, 0.0])
        pf = rng.choice([0.0, 0.5, 1.0, 2.0, np.inf], size=12, p=[0.15, 0.2, 0.4, 0.15, 0.1])
        positive = bool(rng.integers(2))
        lower = np.where(rng.random(12) < 0.3, -rng.uniform(0, 1, 12), -np.inf)
        upper = np.where(rng.random(12) < 0.3, rng.uniform(0, 1, 12), np.inf)
        w = rng.standard_normal(12) * rng.choice([1e-3, 0.3, 3.0])
        w[rng.random(12) < 0.4] = 0.0
        w[np.isinf(pf)] = 0.0
        lo_eff = np.maximum(lower, 0) if positive else lower
        w = np.clip(w, lo_eff, upper)
        b = None if trial % 3 == 0 else float(rng.standard_normal())
        sw = None if trial % 2 else rng.uniform(0, 2, 30)
        kw = dict(alpha=alpha, l1_ratio=rho, sample_weight=sw, penalty_factor=pf,
                  positive=positive, lower_bounds=lower, upper_bounds=upper)
        primal, dual, gap = enet_duality_gap(X if trial % 2 else Xs, y, w, b, **kw)
        assert np.isfinite(gap)
        assert gap >= -1e-12 * max(1.0, abs(primal)), (trial, primal, dual)
        assert primal == pytest.approx(enet_objective(X, y, w, b, **kw), rel=1e-13)
    # every dual value is a lower bound of the optimal value, also near the optimum
    kw = dict(alpha=_alpha_max(X, y) / 5, l1_ratio=0.8, penalty_factor=np.r_[0.0, np.ones(11)],
              sample_weight=rng.uniform(0.5, 2, 30))
    w_opt, b_opt = enet_lbfgsb(X, y, kw["alpha"], kw["l1_ratio"],
                               penalty_factor=kw["penalty_factor"], sample_weight=kw["sample_weight"])
    p_opt = enet_objective(X, y, w_opt, b_opt, **kw)
    for scale in (1e-1, 1e-2, 1e-3):
        _, dual, _ = enet_duality_gap(X, y, w_opt + scale * rng.standard_normal(12), b_opt, **kw)
        assert dual <= p_opt + 1e-13 * p_opt
        assert scale > 1e-3 or dual > 0.9 * p_opt
    # the gap decreases to 0 along a path to the optimum
    alpha = _alpha_max(X, y) / 5
    w_opt, b_opt = lasso_lbfgsb(X, y, alpha)
    gaps = [lasso_duality_gap(X, y, s * w_opt, b_opt, alpha=alpha)[2] for s in (0.0, 0.5, 0.9, 1.0)]
    assert gaps[0] > gaps[1] > gaps[2] > 0 and gaps[3] < 1e-12


def test_enet_conjugate_matches_brute_force():
    grid = np.linspace(-20, 20, 400_001)
    for v, l1, l2, lo, hi in [(0.3, 0.5, 0.0, -np.inf, np.inf), (1.7, 0.5, 2.0, -np.inf, np.inf),
                              (1.7, 0.5, 0.0, -1.0, 2.0), (-3.0, 1.0, 0.5, -0.5, np.inf),
                              (-0.7, 0.0, 0.0, 0.0, 4.0), (0.2, 0.0, 1.0, -np.inf, 0.0)]:
        t = grid[(grid >= lo) & (grid <= hi)]
        brute = np.max(v * t - l1 * np.abs(t) - 0.5 * l2 * t ** 2)
        assert enet_conjugate(v, l1, l2, lo, hi) == pytest.approx(brute, abs=1e-8)
    assert enet_conjugate(0.6, 0.5, 0.0, -np.inf, np.inf) == np.inf
    assert enet_conjugate(0.6, 0.5, 0.0, -np.inf, 0.0) == 0.0


# ---------------------------------------------------------------------------
# sample weights, penalty factors, positivity, bounds
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("container", CONTAINERS)
def test_enet_sample_weight_equals_repeated_rows(container):
    X, y = _regression(seed=6, n=30, p=10)
    rep = np.random.default_rng(6).integers(0, 4, X.shape[0])
    rep[:2] = [0, 3]
    Xr, yr = np.repeat(X, rep, axis=0), np.repeat(y, rep)
    alpha = _alpha_max(X, y) / 8
    w, b = enet_lbfgsb(container(X), y, alpha, 0.8, sample_weight=rep.astype(float))
    wr, br = enet_lbfgsb(container(Xr), yr, alpha, 0.8)
    np.testing.assert_allclose(w, wr, atol=1e-9)
    assert b == pytest.approx(br, abs=1e-9)
    _assert_gap_small(*enet_duality_gap(container(X), y, w, b, alpha=alpha, l1_ratio=0.8,
                                        sample_weight=rep))
    assert enet_objective(X, y, w, b, alpha=alpha, l1_ratio=0.8, sample_weight=rep) == \
        pytest.approx(enet_objective(Xr, yr, w, b, alpha=alpha, l1_ratio=0.8), rel=1e-13)
    # scikit-learn with (non-integer) weights: same convention
    sw = np.random.default_rng(7).uniform(0.2, 3.0, X.shape[0])
    w, b = enet_lbfgsb(container(X), y, alpha, 0.8, sample_weight=sw)
    sk = ElasticNet(alpha=alpha, l1_ratio=0.8, tol=1e-14, max_iter=100_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(w, sk.coef_, atol=1e-6)
    assert b == pytest.approx(sk.intercept_, abs=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_penalty_factor_zero_is_unpenalized(fit_intercept):
    """Frisch-Waugh-Lovell: project out the unpenalized columns, solve a Lasso, re-fit."""
    X, y = _regression(seed=8, n=40, p=12)
    U = np.array([2, 7, 8])
    pf = np.ones(12)
    pf[U] = 0.0
    P = np.setdiff1d(np.arange(12), U)
    alpha = _alpha_max(X, y) / 6
    w, b = lasso_lbfgsb(X, y, alpha, fit_intercept=fit_intercept, penalty_factor=pf)
    _assert_gap_small(*lasso_duality_gap(X, y, w, b if fit_intercept else None, alpha=alpha,
                                         penalty_factor=pf))
    Z = np.hstack([X[:, U], np.ones((40, 1))]) if fit_intercept else X[:, U]
    proj = np.eye(40) - Z @ np.linalg.pinv(Z)
    sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(proj @ X[:, P], proj @ y)
    np.testing.assert_allclose(w[P], sk.coef_, atol=1e-6)
    coef_u = np.linalg.lstsq(Z, y - X[:, P] @ sk.coef_, rcond=None)[0]
    np.testing.assert_allclose(w[U], coef_u[:U.size], atol=1e-6)
    # penalty_factor c > 0 is a rescaled column: Lasso(X_j / c_j) with w_j' = c_j w_j
    c = np.random.default_rng(9).uniform(0.3, 3.0, 12)
    w, b = lasso_lbfgsb(X, y, alpha, fit_intercept=fit_intercept, penalty_factor=c)
    sk = Lasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000).fit(X / c, y)
    np.testing.assert_allclose(w * c, sk.coef_, atol=1e-6)
    # penalty_factor inf excludes the feature
    c[3] = np.inf
    w, _ = lasso_lbfgsb(X, y, alpha / 10, penalty_factor=c)
    assert w[3] == 0.0


@pytest.mark.parametrize("container", CONTAINERS)
def test_positive_matches_sklearn(container):
    X, y = _regression(seed=10, n=40, p=15)
    alpha = _alpha_max(X, y) / 20
    for rho in (1.0, 0.5):
        w, b = enet_lbfgsb(container(X), y, alpha, rho, positive=True)
        assert np.all(w >= 0) and np.any(w == 0)
        _assert_gap_small(*enet_duality_gap(container(X), y, w, b, alpha=alpha, l1_ratio=rho,
                                            positive=True))
        sk = ElasticNet(alpha=alpha, l1_ratio=rho, positive=True, tol=1e-14,
                        max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(w, sk.coef_, atol=1e-6)
        assert b == pytest.approx(sk.intercept_, abs=1e-6)


def test_polish_reaches_optimum_from_a_rough_start():
    """One L-BFGS-B iteration, then the active-set polish alone: exact optimum."""
    X, y = _regression(seed=19, n=30, p=40)
    alpha = _alpha_max(X, y) / 30
    for rho, positive in [(1.0, False), (0.6, True)]:
        w, b = enet_lbfgsb(X, y, alpha, rho, positive=positive, max_iter=1)
        _assert_gap_small(*enet_duality_gap(X, y, w, b, alpha=alpha, l1_ratio=rho,
                                            positive=positive), rtol=1e-12)
        sk = ElasticNet(alpha=alpha, l1_ratio=rho, positive=positive, tol=1e-15,
                        max_iter=1_000_000).fit(X, y)
        np.testing.assert_allclose(w, sk.coef_, atol=1e-8)


def test_unpenalized_positive_features_gap():
    """penalty_factor 0 with positive=True: the gap solves them out by bounded least squares."""
    X, y = _regression(seed=20, n=40, p=10)
    y = y - 4 * X[:, 0] + 4 * X[:, 1]                    # feature 0 wants a negative weight
    pf = np.ones(10)
    pf[[0, 1]] = 0.0
    alpha = _alpha_max(X, y) / 10
    w, b = lasso_lbfgsb(X, y, alpha, penalty_factor=pf, positive=True)
    assert w[0] == 0.0 and w[1] > 0
    _assert_gap_small(*lasso_duality_gap(X, y, w, b, alpha=alpha, penalty_factor=pf,
                                         positive=True))
    viol, _ = _kkt_violation(X, y, w, b, alpha, 1.0, np.zeros(10), np.full(10, np.inf),
                             l1=alpha * pf)
    assert viol < 1e-9
    w_bad = w.copy()
    w_bad[1] *= 1.01
    assert lasso_duality_gap(X, y, w_bad, b, alpha=alpha, penalty_factor=pf,
                             positive=True)[2] > 1e-8


def _kkt_violation(X, y, w, b, alpha, rho, lower, upper, l1=None):
    """Largest violation of the box-constrained ElasticNet optimality conditions."""
    n = X.shape[0]
    g = -X.T @ (y - X @ w - b) / n + alpha * (1 - rho) * w     # smooth part
    l1_all = np.full(w.size, alpha * rho) if l1 is None else l1
    viol = np.zeros_like(w)
    for j in range(w.size):
        l1 = l1_all[j]
        # subdifferential of l1|w| + indicator at w_j must contain -g_j
        lo_s = -l1 if w[j] <= 0 else l1
        hi_s = l1 if w[j] >= 0 else -l1
        if w[j] == 0:
            lo_s, hi_s = -l1, l1
        if w[j] <= lower[j]:
            lo_s = -np.inf
        if w[j] >= upper[j]:
            hi_s = np.inf
        viol[j] = max(lo_s - (-g[j]), (-g[j]) - hi_s, 0.0)
    return float(np.max(viol)), abs(float(np.mean(y - X @ w - b)))


def test_box_constraints_kkt_and_gap():
    X, y = _regression(seed=11, n=40, p=10)
    alpha = _alpha_max(X, y) / 30
    w_free, _ = enet_lbfgsb(X, y, alpha, 0.7)
    lower = np.full(10, -np.inf)
    upper = np.full(10, np.inf)
    big = np.argsort(-np.abs(w_free))[:3]
    for j in big:                                   # make the bounds active
        if w_free[j] > 0:
            upper[j] = 0.5 * w_free[j]
        else:
            lower[j] = 0.5 * w_free[j]
    w, b = enet_lbfgsb(X, y, alpha, 0.7, lower_bounds=lower, upper_bounds=upper)
    assert np.all(w >= lower) and np.all(w <= upper)
    assert np.all((w[big] == lower[big]) | (w[big] == upper[big]))
    viol, centering = _kkt_violation(X, y, w, b, alpha, 0.7, lower, upper)
    assert viol < 1e-9 and centering < 1e-12
    _assert_gap_small(*enet_duality_gap(X, y, w, b, alpha=alpha, l1_ratio=0.7,
                                        lower_bounds=lower, upper_bounds=upper))
    # the gap certifies: the unconstrained optimum is infeasible, a feasible perturbation is not optimal
    assert enet_duality_gap(X, y, w_free, b, alpha=alpha, l1_ratio=0.7, lower_bounds=lower,
                            upper_bounds=upper)[2] == np.inf
    assert enet_duality_gap(X, y, 0.9 * w, b, alpha=alpha, l1_ratio=0.7, lower_bounds=lower,
                            upper_bounds=upper)[2] > 1e-6
    with pytest.raises(ValueError, match="lower_bounds <= 0"):
        enet_objective(X, y, w, b, alpha=alpha, lower_bounds=0.1)


# ---------------------------------------------------------------------------
# logistic regression
# ---------------------------------------------------------------------------
def test_logistic_objective_is_sklearn_formula():
    X, y = _classification(n=40, p=6, labels=(3, 7))
    rng = np.random.default_rng(12)
    w, b, C = rng.standard_normal(6), 0.3, 0.8
    sw = rng.uniform(0.1, 2.0, 40)
    ypm = np.where(y == 7, 1.0, -1.0)                  # classes[1] is the positive class
    loss = np.log(1 + np.exp(-ypm * (X @ w + b)))
    l1, l2 = np.abs(w).sum(), 0.5 * w @ w
    assert logistic_objective(X, y, w, b, C=C, penalty="l1", sample_weight=sw) == \
        pytest.approx(C * sw @ loss + l1, rel=1e-13)
    assert logistic_objective(X, y, w, b, C=C, penalty="l2") == pytest.approx(C * loss.sum() + l2, rel=1e-13)
    assert logistic_objective(X, y, w[None], [b], C=C, penalty="elasticnet", l1_ratio=0.3) == \
        pytest.approx(C * loss.sum() + 0.3 * l1 + 0.7 * l2, rel=1e-13)
    assert logistic_objective(X, y, w, b, C=C, penalty=None) == pytest.approx(loss.sum(), rel=1e-13)
    # multinomial: sum_i logsumexp(z_i) - z_{i,y_i}, penalty over all entries of W
    y3 = rng.integers(0, 3, 40)
    W, b3 = rng.standard_normal((3, 6)), rng.standard_normal(3)
    Z = X @ W.T + b3
    loss3 = np.log(np.exp(Z).sum(1)) - Z[np.arange(40), y3]
    assert logistic_objective(X, y3, W, b3, C=C, penalty="l1", sample_weight=sw) == \
        pytest.approx(C * sw @ loss3 + np.abs(W).sum(), rel=1e-13)
    assert logistic_objective(X, y3, W, b3, C=C, penalty="l2") == \
        pytest.approx(C * loss3.sum() + 0.5 * (W ** 2).sum(), rel=1e-13)


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("penalty,l1_ratio,solver", [("l2", 0.0, "lbfgs"), ("l1", 1.0, "saga"),
                                                     ("elasticnet", 0.5, "saga")])
def test_logistic_binary_vs_sklearn(container, dtype, penalty, l1_ratio, solver):
    X, y = _classification(seed=13)
    X = X.astype(dtype)
    sw = np.random.default_rng(13).uniform(0.5, 2.0, X.shape[0])
    C = 0.2
    w, b = logistic_lbfgsb(container(X), y, C, penalty, l1_ratio, sample_weight=sw)
    primal, dual, gap = logistic_duality_gap(container(X), y, w, b, C=C, penalty=penalty,
                                             l1_ratio=l1_ratio, sample_weight=sw)
    _assert_gap_small(primal, dual, gap)
    if penalty != "l2":
        assert 0 < np.sum(w != 0) < w.size
    X64 = X.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # saga's ConvergenceWarning at tol=1e-14
        sk = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-14,
                                max_iter=20_000).fit(X64, y, sample_weight=sw)
    np.testing.assert_allclose(w, sk.coef_[0], atol=1e-6)
    assert b == pytest.approx(sk.intercept_[0], abs=1e-6)
    p_sk = logistic_objective(X64, y, sk.coef_, sk.intercept_, C=C, penalty=penalty,
                              l1_ratio=l1_ratio, sample_weight=sw)
    assert primal <= p_sk + 1e-12 * p_sk


def test_logistic_without_intercept_and_gap_nonnegative():
    X, y = _classification(seed=14)
    C = 0.3
    w, b = logistic_lbfgsb(X, y, C, "l1", fit_intercept=False)
    assert b == 0.0
    _assert_gap_small(*logistic_duality_gap(X, y, w, None, C=C, penalty="l1"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-14, max_iter=20_000,
                                fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(w, sk.coef_[0], atol=1e-6)
    rng = np.random.default_rng(15)
    for trial in range(30):
        pen, rho = [("l1", None), ("l2", None), ("elasticnet", 0.4)][trial % 3]
        v = rng.standard_normal(X.shape[1]) * rng.choice([0.01, 1.0, 10.0])
        v[rng.random(v.size) < 0.5] = 0.0
        icpt = None if trial % 4 == 0 else float(rng.standard_normal())
        sw = None if trial % 2 else rng.uniform(0, 2, X.shape[0])
        primal, dual, gap = logistic_duality_gap(X, y, v, icpt, C=10 ** rng.uniform(-2, 1),
                                                 penalty=pen, l1_ratio=rho, sample_weight=sw)
        assert np.isfinite(gap) and gap >= -1e-12 * max(1.0, primal)
    # every dual value is a lower bound of the optimal value, also near the optimum
    for pen, rho in [("l1", None), ("elasticnet", 0.5)]:
        w_opt, b_opt = logistic_lbfgsb(X, y, C, pen, rho)
        p_opt = logistic_objective(X, y, w_opt, b_opt, C=C, penalty=pen, l1_ratio=rho)
        for scale in (1e-1, 1e-2, 1e-3):
            v = w_opt + scale * rng.standard_normal(w_opt.size)
            _, dual, _ = logistic_duality_gap(X, y, v, b_opt + scale, C=C, penalty=pen,
                                              l1_ratio=rho)
            assert dual <= p_opt + 1e-13 * p_opt
            assert scale > 1e-3 or dual > 0.9 * p_opt  # and a meaningful one


def test_logistic_sample_weight_equals_repeated_rows():
    X, y = _classification(seed=16, n=40)
    rep = np.random.default_rng(16).integers(0, 4, 40)
    Xr, yr = np.repeat(X, rep, axis=0), np.repeat(y, rep)
    w, b = logistic_lbfgsb(X, y, 0.5, "l1", sample_weight=rep.astype(float))
    wr, br = logistic_lbfgsb(Xr, yr, 0.5, "l1")
    np.testing.assert_allclose(w, wr, atol=1e-8)
    assert b == pytest.approx(br, abs=1e-8)
    assert logistic_objective(X, y, w, b, C=0.5, penalty="l1", sample_weight=rep) == \
        pytest.approx(logistic_objective(Xr, yr, w, b, C=0.5, penalty="l1"), rel=1e-13)


@pytest.mark.parametrize("penalty,l1_ratio,solver", [("l2", 0.0, "lbfgs"), ("l1", 1.0, "saga")])
def test_logistic_multinomial_vs_sklearn(penalty, l1_ratio, solver):
    rng = np.random.default_rng(17)
    n, p, K = 60, 8, 3
    y = rng.integers(0, K, n)
    X = rng.standard_normal((n, p)) + np.eye(K)[y] @ rng.standard_normal((K, p))
    C = 0.3
    W, b = logistic_lbfgsb(X, y, C, penalty, l1_ratio)
    assert W.shape == (K, p) and b.shape == (K,)
    assert abs(b.sum()) < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-14,
                                max_iter=20_000).fit(X, y)
    np.testing.assert_allclose(W, sk.coef_, atol=1e-6)
    np.testing.assert_allclose(b, sk.intercept_ - sk.intercept_.mean(), atol=1e-6)
    p_ref = logistic_objective(X, y, W, b, C=C, penalty=penalty)
    p_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C, penalty=penalty)
    assert p_ref <= p_sk + 1e-12 * p_sk


def test_logistic_huge_margins_are_safe():
    X, y = _classification(seed=18, n=30, p=5)
    w = np.full(5, 1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # any overflow/invalid warning fails
        for scale in (1e3, 1e300):
            Xs = X * scale
            val = logistic_objective(Xs, y, w, 0.0, C=1.0, penalty="l1")
            assert np.isfinite(val) and val > 0
            primal, dual, gap = logistic_duality_gap(Xs, y, w, 0.0, C=1.0, penalty="l1")
            assert np.all(np.isfinite([primal, dual, gap])) and gap >= 0
        y3 = np.arange(30) % 3
        val = logistic_objective(X * 1e300, y3, np.ones((3, 5)) * [[1], [2], [3]], np.zeros(3),
                                 C=1.0, penalty="l2")
        assert np.isfinite(val)
        # exact value of log(1 + exp(-m)) far in both tails
        from fastreg.reference import logistic_loss
        np.testing.assert_allclose(logistic_loss(np.array([800.0, 40.0, -800.0])),
                                   [0.0, np.exp(-40.0), 800.0], rtol=1e-15)
        # separable data, weak regularization: finite, no NaN
        Xsep = np.vstack([X[:15] + 5, X[15:] - 5])
        ysep = np.repeat([0, 1], 15)
        w, b = logistic_lbfgsb(Xsep, ysep, 1e4, "l1")
        assert np.all(np.isfinite(w)) and np.isfinite(b)
        _assert_gap_small(*logistic_duality_gap(Xsep, ysep, w, b, C=1e4, penalty="l1"), rtol=1e-8)


def test_bad_input_raises():
    X, y = _regression(n=10, p=3)
    with pytest.raises(ValueError, match="l1_ratio"):
        enet_objective(X, y, np.zeros(3), alpha=1.0, l1_ratio=1.5)
    with pytest.raises(ValueError, match="shape"):
        enet_duality_gap(X, y, np.zeros(4), None, alpha=1.0)
    with pytest.raises(ValueError, match="penalty_factor"):
        enet_lbfgsb(X, y, 1.0, penalty_factor=-np.ones(3))
    Xc, yc = _classification(n=10, p=3)
    with pytest.raises(ValueError, match="penalty"):
        logistic_objective(Xc, yc, np.zeros(3), C=1.0, penalty="l3")
    with pytest.raises(ValueError, match="binary"):
        logistic_duality_gap(Xc, np.arange(10) % 3, np.zeros((3, 3)), None, C=1.0)
    with pytest.raises(ValueError, match="2 classes"):
        logistic_lbfgsb(Xc, np.zeros(10), 1.0)
