"""logistic_regression_path and LogisticRegressionCV against independent fits and scikit-learn."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastreg import LogisticRegression, LogisticRegressionCV, logistic_regression_path
from fastreg.reference.objectives import logistic_objective


def _binary(rng, n=120, p=15, dtype=np.float64):
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:3] = [2.0, -1.5, 1.0]
    y = np.where(X @ w + 0.5 + rng.standard_normal(n) > 0, "yes", "no")
    return X.astype(dtype), y


def _multiclass(rng, n=150, p=10, K=3):
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.5)
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    return X, y


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fmt", ["dense", "csc"])
def test_path_matches_independent_fits(rng, fit_intercept, fmt):
    X, y = _binary(rng)
    Xc = sp.csc_array(X) if fmt == "csc" else X
    coefs, Cs, n_iter = logistic_regression_path(Xc, y, Cs=6, penalty="l1",
                                                 fit_intercept=fit_intercept, tol=1e-10)
    np.testing.assert_allclose(Cs, np.logspace(-4, 4, 6))
    assert coefs.shape == (6, X.shape[1] + fit_intercept) and n_iter.shape == (6,)
    for i in (1, 2, 3):        # the large Cs are nearly separable: compare objectives only
        est = LogisticRegression(penalty="l1", C=Cs[i], fit_intercept=fit_intercept,
                                 tol=1e-10).fit(X, y)
        np.testing.assert_allclose(coefs[i, :X.shape[1]], est.coef_[0], atol=1e-6)
        if fit_intercept:
            np.testing.assert_allclose(coefs[i, -1], est.intercept_[0], atol=1e-6)
    for i in range(6):
        b = coefs[i, -1] if fit_intercept else 0.0
        P = logistic_objective(X, y, coefs[i, :X.shape[1]], b, C=Cs[i], penalty="l1")
        est = LogisticRegression(penalty="l1", C=Cs[i], fit_intercept=fit_intercept,
                                 tol=1e-10, max_iter=1000).fit(X, y)
        P_ref = logistic_objective(X, y, est.coef_, est.intercept_[0], C=Cs[i], penalty="l1")
        assert abs(P - P_ref) <= 1e-8 * P_ref


def test_path_multinomial_and_warm_start(rng):
    X, y = _multiclass(rng)
    Cs = [0.05, 0.5, 5.0]
    coefs, Cs_out, _ = logistic_regression_path(X, y, Cs=Cs[::-1], l1_ratio=0.5, tol=1e-10)
    np.testing.assert_allclose(Cs_out, Cs)
    assert coefs.shape == (3, 3, X.shape[1] + 1)
    for i, C in enumerate(Cs):
        est = LogisticRegression(C=C, l1_ratio=0.5, tol=1e-10).fit(X, y)
        np.testing.assert_allclose(coefs[i, :, :-1], est.coef_, atol=1e-6)
        np.testing.assert_allclose(coefs[i, :, -1], est.intercept_, atol=1e-6)
    # a warm start at the solution of the first C is already optimal
    again, _, n_iter = logistic_regression_path(X, y, Cs=[0.05], l1_ratio=0.5, tol=1e-8,
                                                coef=coefs[0])
    np.testing.assert_allclose(again[0], coefs[0], atol=1e-7)
    assert n_iter[0] <= 2
    with pytest.raises(ValueError, match="columns"):
        logistic_regression_path(X, y, Cs=[1.0], coef=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Cs"):
        logistic_regression_path(X, y, Cs=[-1.0])


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_cv_matches_sklearn(rng, fmt):
    X, y = _binary(rng, n=200, p=20)
    Xc = sp.csr_array(X) if fmt == "csr" else X
    cv = StratifiedKFold(4)
    Cs = np.logspace(-2, 1, 6)
    est = LogisticRegressionCV(Cs=Cs, penalty="l1", cv=cv, tol=1e-8).fit(Xc, y)
    # L2 scored by log-loss (continuous): same scores and choice as scikit-learn's lbfgs
    sk = SkLogisticRegressionCV(Cs=Cs, l1_ratios=(0.0,), solver="lbfgs", cv=cv, tol=1e-12,
                                scoring="neg_log_loss", use_legacy_attributes=True,
                                max_iter=10_000).fit(X, y)
    est_ll = LogisticRegressionCV(Cs=Cs, cv=cv, tol=1e-12, scoring="neg_log_loss").fit(Xc, y)
    np.testing.assert_allclose(est_ll.scores_["yes"], sk.scores_["yes"][..., 0], rtol=1e-5)
    assert est_ll.C_[0] == sk.C_[0]
    np.testing.assert_allclose(est_ll.coef_, sk.coef_, atol=1e-5)
    np.testing.assert_allclose(est_ll.intercept_, sk.intercept_, atol=1e-5)
    # attributes and shapes
    assert est.coefs_paths_["yes"].shape == (4, 6, 21)
    assert est.scores_["yes"].shape == (4, 6) and est.n_iter_.shape == (1, 4, 6)
    assert est.C_.shape == (1,) and est.l1_ratio_[0] == 1.0
    np.testing.assert_allclose(est.Cs_, Cs)
    assert est.score(X, y) > 0.8
    # fold coefficients equal the fold fits
    train, _ = next(iter(cv.split(X, y)))
    c, _, _ = logistic_regression_path(X[train], y[train], Cs=Cs, penalty="l1", tol=1e-8)
    np.testing.assert_allclose(est.coefs_paths_["yes"][0], c, atol=1e-5)


def test_cv_multinomial_elasticnet_parallel_and_no_refit(rng):
    X, y = _multiclass(rng, K=3)
    kw = dict(Cs=[0.05, 0.5, 5.0], l1_ratios=[0.3, 1.0], cv=3, tol=1e-8)
    a = LogisticRegressionCV(n_jobs=1, **kw).fit(X, y)
    b = LogisticRegressionCV(n_jobs=2, **kw).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_)
    for k in a.classes_:
        np.testing.assert_array_equal(a.scores_[k], b.scores_[k])
        assert a.coefs_paths_[k].shape == (3, 3, 2, X.shape[1] + 1)
    assert a.scores_[0].shape == (3, 3, 2) and a.n_iter_.shape == (1, 3, 3, 2)
    assert a.C_.shape == (3,) and a.l1_ratio_.shape == (3,)
    mean = a.scores_[0].mean(axis=0)
    ci, ri = np.unravel_index(np.argmax(mean), mean.shape)
    assert a.C_[0] == kw["Cs"][ci] and a.l1_ratio_[0] == kw["l1_ratios"][ri]
    ref = LogisticRegression(C=a.C_[0], l1_ratio=a.l1_ratio_[0], tol=1e-8).fit(X, y)
    np.testing.assert_allclose(a.coef_, ref.coef_, atol=1e-6)
    c = LogisticRegressionCV(refit=False, **kw).fit(X, y)
    assert c.coef_.shape == (3, X.shape[1]) and np.all(np.isfinite(c.coef_))
    assert min(kw["Cs"]) <= c.C_[0] <= max(kw["Cs"])
    np.testing.assert_allclose(c.predict_proba(X).sum(axis=1), 1.0)


def test_cv_float32_sample_weight_and_errors(rng):
    X, y = _binary(rng, dtype=np.float32)
    est = LogisticRegressionCV(Cs=3, penalty="l1", cv=3).fit(X, y, sample_weight=np.ones(len(y)))
    assert est.coef_.dtype == np.float32
    with pytest.raises(ValueError, match="l1_ratios"):
        LogisticRegressionCV(penalty="elasticnet").fit(X, y)
    with pytest.raises(ValueError, match="contradict"):
        LogisticRegressionCV(penalty="l1", l1_ratios=[0.5]).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegressionCV().fit(X, np.full(len(y), "a"))


# cv=3 as scikit-learn's own checks of its LogisticRegressionCV (some check data have
# classes with 3 or 4 members, too few for the default 5 stratified folds)
@parametrize_with_checks([LogisticRegressionCV(cv=3)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
