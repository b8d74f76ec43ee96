"""LassoCV / ElasticNetCV against scikit-learn's, the 1se rule, parallel folds, sparse, float32."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastreg import ElasticNetCV, LassoCV

TOL_FR = 1e-14             # fastreg: gap <= tol * P0 (coef_ to 1e-8 needs it: see test_path)
SK = dict(tol=1e-13, max_iter=100_000)


def make_data(n=60, p=30, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:5] = rng.standard_normal(5)
    y = X @ w + 0.5 * rng.standard_normal(n) + 1.0
    return np.asfortranarray(X, dtype=dtype), y.astype(dtype)


CV = KFold(4, shuffle=True, random_state=0)


def as_container(X, sparse):
    return sp.csc_array(X) if sparse else X


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lassocv_matches_sklearn(sparse, fit_intercept):
    X, y = make_data()
    Xc = as_container(X, sparse)
    ours = LassoCV(cv=CV, alphas=20, tol=TOL_FR, fit_intercept=fit_intercept).fit(Xc, y)
    ref = sk.LassoCV(cv=CV, alphas=20, fit_intercept=fit_intercept, **SK).fit(Xc, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)  # same grid point (to rounding)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (20, 4)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-7)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)
    assert not hasattr(ours, "l1_ratio_")
    assert ours.dual_gap_ >= 0 and ours.n_iter_ >= 1


@pytest.mark.parametrize("sparse", [False, True])
def test_enetcv_matches_sklearn_several_l1_ratios(sparse):
    X, y = make_data(seed=1)
    Xc = as_container(X, sparse)
    l1 = [0.3, 0.8, 1.0]
    ours = ElasticNetCV(cv=CV, alphas=15, l1_ratio=l1, tol=TOL_FR).fit(Xc, y)
    ref = sk.ElasticNetCV(cv=CV, alphas=15, l1_ratio=l1, **SK).fit(Xc, y)
    assert ours.alphas_.shape == ref.alphas_.shape == (3, 15)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-12)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (3, 15, 4)
    # gap <= 1e-12 P0 bounds ||w - w*|| by about sqrt(2 gap / (alpha (1 - l1_ratio))): ~1e-6
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    assert ours.l1_ratio_ == ref.l1_ratio_
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)


def test_sample_weight_and_user_alphas_match_sklearn():
    X, y = make_data(seed=2)
    sw = np.random.default_rng(2).uniform(0.2, 3.0, X.shape[0])
    alphas = [0.01, 0.3, 0.05, 0.1, 0.002]          # unsorted on purpose
    ours = ElasticNetCV(cv=CV, alphas=alphas, l1_ratio=0.6, tol=TOL_FR).fit(X, y, sample_weight=sw)
    ref = sk.ElasticNetCV(cv=CV, alphas=alphas, l1_ratio=0.6, **SK).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(ours.alphas_, np.sort(alphas)[::-1])
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5)  # see above
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-7)  # gap <= 1e-14 * P0 bounds w only to ~sqrt(2 gap / l2)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-7)
    # automatic (weighted) grid equals sklearn's too
    a = LassoCV(cv=CV, alphas=10, tol=TOL_FR).fit(X, y, sample_weight=sw)
    b = sk.LassoCV(cv=CV, alphas=10, **SK).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=1e-10)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)


def one_se_alpha(alphas, mse_path):
    """glmnet's lambda.1se from an (n_alphas, n_folds) error matrix, written independently."""
    mean = mse_path.mean(axis=1)
    k = int(np.argmin(mean))
    se = np.std(mse_path[k], ddof=1) / np.sqrt(mse_path.shape[1])
    ok = [a for a, m in zip(alphas, mean) if m <= mean[k] + se]
    return max(ok), alphas[k], mean, se


def test_one_standard_error_rule():
    X, y = make_data(n=80, p=40, seed=3)
    est = LassoCV(cv=CV, alphas=30, tol=TOL_FR, selection_rule="1se").fit(X, y)
    # rule recomputed from scikit-learn's (independent) CV errors on the same folds and grid
    ref = sk.LassoCV(cv=CV, alphas=30, **SK).fit(X, y)
    a1se, amin, mean, se = one_se_alpha(ref.alphas_, ref.mse_path_)
    assert est.alpha_min_ == pytest.approx(amin, rel=1e-12)
    assert est.alpha_1se_ == pytest.approx(a1se, rel=1e-12)
    assert est.alpha_ == est.alpha_1se_
    assert est.alpha_1se_ >= est.alpha_min_
    i = list(ref.alphas_).index(a1se)
    assert mean[i] <= mean.min() + se
    # on this problem the rule does move to a sparser model
    assert est.alpha_1se_ > est.alpha_min_
    est_min = LassoCV(cv=CV, alphas=30, tol=TOL_FR).fit(X, y)
    assert est_min.alpha_ == est.alpha_min_ and est_min.alpha_1se_ == est.alpha_1se_
    assert np.count_nonzero(est.coef_) <= np.count_nonzero(est_min.coef_)


@pytest.mark.parametrize("Est", [LassoCV, ElasticNetCV])
def test_weights_equal_repeats(Est):
    X, y = make_data(n=40, p=20, seed=10)
    sw = np.random.default_rng(10).integers(0, 4, X.shape[0])
    sw[:2] = 1
    group = np.arange(X.shape[0]) % 3
    Xr, yr, gr = X.repeat(sw, axis=0), y.repeat(sw), group.repeat(sw)
    cv_w = [(np.flatnonzero(group != g), np.flatnonzero(group == g)) for g in range(3)]
    cv_r = [(np.flatnonzero(gr != g), np.flatnonzero(gr == g)) for g in range(3)]
    # tol 1e-14: at the end of the grid the elastic net is barely strongly convex
    # (alpha * (1 - l1_ratio) ~ 1e-3), so a gap of 1e-10 P0 only bounds coef to ~1e-4
    a = Est(cv=cv_w, alphas=10, tol=1e-14).fit(X, y, sample_weight=sw)
    b = Est(cv=cv_r, alphas=10, tol=1e-14).fit(Xr, yr)
    np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=1e-12)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-5)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)


def test_n_jobs_gives_same_result():
    X, y = make_data(seed=4)
    a = ElasticNetCV(cv=CV, alphas=10, l1_ratio=[0.5, 1.0], tol=1e-10, n_jobs=1).fit(X, y)
    b = ElasticNetCV(cv=CV, alphas=10, l1_ratio=[0.5, 1.0], tol=1e-10, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.mse_path_, b.mse_path_)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert (a.alpha_, a.l1_ratio_) == (b.alpha_, b.l1_ratio_)


@pytest.mark.parametrize("Est", [LassoCV, ElasticNetCV])
def test_sparse_equals_dense(Est):
    X, y = make_data(seed=5)
    X[np.abs(X) < 0.8] = 0.0
    d = Est(cv=CV, alphas=12, tol=TOL_FR).fit(X, y)
    s = Est(cv=CV, alphas=12, tol=TOL_FR).fit(sp.csr_array(X), y)
    np.testing.assert_allclose(d.alphas_, s.alphas_, rtol=1e-12)
    assert d.alpha_ == pytest.approx(s.alpha_, rel=1e-12)
    # dense and sparse fits schedule their gap checks by their own costs, so they stop at
    # different points within the certified gap (1e-14 * P0): not bit-identical paths
    np.testing.assert_allclose(d.mse_path_, s.mse_path_, rtol=1e-6)
    np.testing.assert_allclose(d.coef_, s.coef_, atol=1e-7)
    np.testing.assert_allclose(d.intercept_, s.intercept_, atol=1e-7)


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_kept(sparse):
    X, y = make_data(seed=6)
    grid = np.geomspace(1.0, 1e-2, 8)  # fixed grid: float32 must not move the selection
    e64 = LassoCV(cv=CV, alphas=grid, tol=1e-10).fit(as_container(X, sparse), y)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    e32 = LassoCV(cv=CV, alphas=grid, tol=1e-6).fit(as_container(X32, sparse), y32)
    assert e32.coef_.dtype == np.float32
    assert e32.alpha_ == e64.alpha_
    np.testing.assert_allclose(e32.mse_path_, e64.mse_path_, rtol=1e-4)
    np.testing.assert_allclose(e32.coef_, e64.coef_, atol=1e-4)
    pred = e32.predict(X32)
    assert pred.dtype == np.float32


def test_penalty_factor_reaches_grid_folds_and_refit():
    # penalty factor c_j > 0 is sklearn's Lasso on column X_j / c_j (w_j = w'_j / c_j);
    # c_j = inf drops the column. Grid (pf-aware alpha_max), folds and refit must all agree.
    X, y = make_data(seed=7)
    pf = np.ones(X.shape[1])
    pf[0] = np.inf
    pf[1:4] = [0.5, 2.0, 3.0]
    est = LassoCV(cv=CV, alphas=10, tol=TOL_FR, penalty_factor=pf).fit(X, y)
    Xs = np.asfortranarray(X[:, 1:] / pf[1:])
    ref = sk.LassoCV(cv=CV, alphas=10, **SK).fit(Xs, y)
    np.testing.assert_allclose(est.alphas_, ref.alphas_, rtol=1e-10)
    np.testing.assert_allclose(est.mse_path_, ref.mse_path_, rtol=1e-7)
    assert est.alpha_ == pytest.approx(ref.alpha_, rel=1e-10)
    assert est.coef_[0] == 0.0
    np.testing.assert_allclose(est.coef_[1:], ref.coef_ / pf[1:], atol=1e-8)


def test_bounds_reach_the_folds_and_refit():
    X, y = make_data(seed=7)
    # lower_bounds=0 is positive=True, folds included
    a = LassoCV(cv=CV, alphas=10, tol=TOL_FR, lower_bounds=0.0).fit(X, y)
    b = sk.LassoCV(cv=CV, alphas=10, positive=True, **SK).fit(X, y)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-7)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    assert a.lower_bounds == 0.0 and a.positive is False  # constructor params untouched


def test_n_alphas_alias():
    X, y = make_data(seed=8)
    a = LassoCV(cv=CV, n_alphas=7, tol=1e-8).fit(X, y)
    b = LassoCV(cv=CV, alphas=7, tol=1e-8).fit(X, y)
    np.testing.assert_array_equal(a.alphas_, b.alphas_)
    with pytest.raises(ValueError, match="n_alphas"):
        LassoCV(cv=CV, n_alphas=7, alphas=[0.1, 0.2]).fit(X, y)


def test_bad_parameters():
    X, y = make_data(seed=9)
    with pytest.raises(ValueError, match="selection_rule"):
        LassoCV(selection_rule="2se").fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio=0"):
        ElasticNetCV(l1_ratio=[0.0, 0.5], cv=3).fit(X, y)
    with pytest.raises(ValueError, match="alphas"):
        LassoCV(alphas=[0.1, -1.0], cv=3).fit(X, y)


# check_sample_weight_equivalence compares predictions of weighted and repeated rows to
# rtol 1e-7 / atol 1e-9, which needs (nearly) identical iterates. At the default tol=1e-4 the
# working-set solver stops at points that differ by up to ~1e-2 in coef_ (same gap level,
# different accelerated trajectories); ElasticNetCV's smallest alpha (eps=1e-3, l1_ratio=0.5)
# is so ill-conditioned that even tol=1e-14 leaves ~2e-9, hence eps=1e-2 there.
# scikit-learn's plain CD passes at any tol. max_iter=30 bounds the float32 checks, where
# tol=1e-12 is below float32 precision (each fit would otherwise run 1000 outer iterations).
# Every other check passes with the defaults too; test_weights_equal_repeats checks the
# weighted semantics at realistic tolerances.
@parametrize_with_checks([LassoCV(n_alphas=5, cv=3, tol=1e-12, max_iter=30),
                          ElasticNetCV(n_alphas=5, cv=3, tol=1e-12, eps=1e-2, max_iter=30)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
