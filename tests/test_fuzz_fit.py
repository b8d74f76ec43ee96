"""Hypothesis fuzzing of the estimators' ``fit`` on small random problems (issue 7).

Problems: n in [2, 30] samples, p in [1, 12] features, float32 or float64, dense
(F or C order) or CSC/CSR, a random share of exact zeros, columns scaled by
10**k (k in [-3, 3]), optional sample weights and intercept, regularization
``alpha = f * alpha_max`` with f in [1e-3, 1.5]. Invariants:

- the fit returns (no exception on valid data), ``coef_``/``intercept_`` are
  finite and keep X's dtype, ``predict`` gives shape (n,) (classifiers: labels
  from ``classes_``); X, y and sample_weight are not modified;
- certified solvers (Lasso, ElasticNet and binary L1 LogisticRegression): the
  suboptimality certified by ``fastreg.reference`` in float64, ``P(w) - D``, is at
  most ``GAP_SLACK * tol * P0`` (plus rounding: float32 coefficients cannot do
  better than their own precision). ``D`` is the larger of the reference dual
  values at the fitted point and at a float64 refit with ``tol=1e-12``: by weak
  duality every such value is a lower bound of the optimum, whoever computed the
  point, so the certificate does not trust the solver. (The reference dual point
  at the fitted point alone can be loose: on a 2 x 1 logistic problem with
  C = 1.4e4 it certified 0.18 for a true suboptimality of 4.7e-6.)
- above ``alpha_max`` (f > 1, no sample weights) the Lasso solution is exactly 0.

Bounded run time: few examples per test, no per-example deadline; the whole
file takes about 20 s on a quiet machine.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings, strategies as st
from sklearn.exceptions import ConvergenceWarning

import fastreg
from fastreg.reference.objectives import (enet_duality_gap, enet_objective,
                                          logistic_duality_gap, logistic_objective)

SETTINGS = settings(max_examples=60, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow])
#: the gap may exceed tol * P0 by this factor (the reference uses another dual point)
GAP_SLACK = 10.0


@st.composite
def problems(draw, classifier=False):
    n = draw(st.integers(2, 30))
    p = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    X = rng.standard_normal((n, p)) * 10.0 ** rng.integers(-3, 4, size=p)
    X[rng.random((n, p)) < draw(st.sampled_from([0.0, 0.3, 0.8]))] = 0.0
    w = rng.standard_normal(p) * (rng.random(p) < 0.5)
    t = X @ (w / np.maximum(np.abs(X).max(axis=0), 1e-300)) + 0.3 * rng.standard_normal(n)
    if classifier:
        y = (t > np.median(t)).astype(np.float64)
        if y.min() == y.max():
            y[0] = 1.0 - y[0]
    else:
        y = (t * 10.0 ** draw(st.integers(-2, 2))).astype(dtype)
    X = X.astype(dtype)
    layout = draw(st.sampled_from(["F", "C", "csc", "csr"]))
    X = {"F": np.asfortranarray, "C": np.ascontiguousarray, "csc": sp.csc_matrix,
         "csr": sp.csr_matrix}[layout](X)
    sw = rng.uniform(0.2, 3.0, n) if draw(st.booleans()) else None
    return X, y, sw, draw(st.booleans())


def _alpha_max(X, y, sw, fit_intercept):
    X64 = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    s = np.ones(len(y)) if sw is None else sw * len(y) / sw.sum()
    y = y.astype(np.float64)
    r = y - (np.average(y, weights=s) if fit_intercept else 0.0)
    if fit_intercept:
        X64 = X64 - np.average(X64, axis=0, weights=s)
    return float(np.abs(X64.T @ (s * r)).max() / len(y))


def _fit(est, X, y, sw):
    snap = [X.copy(), y.copy(), None if sw is None else sw.copy()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with np.errstate(all="ignore"):
            est.fit(X, y, sample_weight=sw)
    for a, b in zip(snap, (X, y, sw)):
        if a is not None:
            if sp.issparse(a):
                assert (a != b).nnz == 0 and a.dtype == b.dtype
            else:
                np.testing.assert_array_equal(a, b)
    return est


def _check_common(est, X):
    dtype = X.dtype
    coef = np.asarray(est.coef_)
    assert coef.dtype == dtype, (coef.dtype, dtype)
    assert np.all(np.isfinite(coef)) and np.all(np.isfinite(est.intercept_))
    pred = est.predict(X)
    assert pred.shape == (X.shape[0],)
    return coef


def _tight(est, X, y, sw):
    """The same estimator refitted in float64 with tol=1e-12 (a near-optimal point)."""
    from sklearn.base import clone
    tight = clone(est).set_params(tol=1e-12, max_iter=10000)
    return _fit(tight, X.astype(np.float64), y.astype(np.float64) if y.dtype != np.float64
                else y, sw)


def _slack(dtype, P0, scale):
    """Rounding floor of a gap evaluated at float32/float64 coefficients."""
    return 50 * np.finfo(dtype).eps * max(P0, scale)


@pytest.mark.parametrize("name", ["Lasso", "ElasticNet"])
@SETTINGS
@given(data=problems(), frac=st.floats(1e-3, 1.5), l1_ratio=st.floats(0.1, 1.0))
def test_fuzz_enet_certified(name, data, frac, l1_ratio):
    X, y, sw, fit_intercept = data
    amax = _alpha_max(X, y, sw, fit_intercept)
    if not amax > 0:
        return   # y constant after centering: nothing to certify
    l1_ratio = 1.0 if name == "Lasso" else l1_ratio
    alpha = frac * amax / l1_ratio
    tol = 1e-4 if X.dtype == np.float32 else 1e-7
    kw = {} if name == "Lasso" else {"l1_ratio": l1_ratio}
    est = getattr(fastreg, name)(alpha=alpha, tol=tol, max_iter=5000,
                                 fit_intercept=fit_intercept, **kw)
    coef = _check_common(_fit(est, X, y, sw), X)
    X64 = X.astype(np.float64)
    y64 = y.astype(np.float64)
    b = float(est.intercept_) if fit_intercept else None
    primal, dual, _ = enet_duality_gap(X64, y64, coef.astype(np.float64), b, alpha=alpha,
                                       l1_ratio=l1_ratio, sample_weight=sw)
    best = _tight(est, X, y, sw)
    dual_best = enet_duality_gap(X64, y64, np.asarray(best.coef_, dtype=np.float64),
                                 float(best.intercept_) if fit_intercept else None, alpha=alpha,
                                 l1_ratio=l1_ratio, sample_weight=sw)[1]
    gap = primal - max(dual, dual_best)
    b0 = float(np.average(y64, weights=sw)) if fit_intercept else None
    P0 = enet_objective(X64, y64, np.zeros(X.shape[1]), b0, alpha=alpha, l1_ratio=l1_ratio,
                        sample_weight=sw)
    assert np.isfinite(primal) and primal <= P0 * (1 + 1e-6) + _slack(X.dtype, P0, 0)
    assert gap <= GAP_SLACK * tol * P0 + _slack(X.dtype, P0, float(np.dot(y64, y64)) / len(y)), \
        f"gap {gap:.3e} > {GAP_SLACK} * tol * P0 = {GAP_SLACK * tol * P0:.3e}"
    if name == "Lasso" and frac > 1.0 + 1e-6 and sw is None:
        assert np.all(coef == 0), "above alpha_max the Lasso solution is 0"


@SETTINGS
@given(data=problems(classifier=True), frac=st.floats(2e-2, 1.5))
def test_fuzz_logistic_l1_certified(data, frac):
    X, y, sw, fit_intercept = data
    if not fit_intercept:
        return  # the intercept-free binary problem has no P0 of the same form; covered below
    # L1 level relative to the largest useful one: |X^T (y01 - mean)|_inf at w = 0
    X64 = X.astype(np.float64)
    X64d = X64.toarray() if sp.issparse(X64) else np.asarray(X64)
    s = np.ones(len(y)) if sw is None else sw
    pbar = np.average(y, weights=s)
    lam_max = float(np.abs(X64d.T @ (s * (y - pbar))).max())
    if not lam_max > 0:
        return
    C = 1.0 / (frac * lam_max)
    tol = 1e-4 if X.dtype == np.float32 else 1e-7
    est = fastreg.LogisticRegression(l1_ratio=1.0, C=C, tol=tol, max_iter=500)
    coef = _check_common(_fit(est, X, y, sw), X)
    assert set(np.unique(est.predict(X))) <= set(est.classes_)
    primal, dual, _ = logistic_duality_gap(X64, y, coef.astype(np.float64).ravel(),
                                           float(est.intercept_[0]), C=C, penalty="l1",
                                           sample_weight=sw)
    best = _tight(est, X, y, sw)
    dual_best = logistic_duality_gap(X64, y, np.asarray(best.coef_, dtype=np.float64).ravel(),
                                     float(best.intercept_[0]), C=C, penalty="l1",
                                     sample_weight=sw)[1]
    gap = primal - max(dual, dual_best)
    b0 = np.log(np.sum(s * y) / np.sum(s * (1 - y)))
    P0 = logistic_objective(X64, y, np.zeros(X.shape[1]), b0, C=C, penalty="l1",
                            sample_weight=sw)
    assert gap <= GAP_SLACK * tol * P0 + _slack(X.dtype, P0, 0), \
        f"gap {gap:.3e} > {GAP_SLACK} * tol * P0 = {GAP_SLACK * tol * P0:.3e}"
    if frac > 1.0 + 1e-6:
        assert np.all(coef == 0), "above the L1 level where 0 is optimal the solution is 0"


@pytest.mark.parametrize("name", ["SGDClassifier", "SGDRegressor", "LogisticRegression"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_other_estimators_finite(name, data):
    """Uncertified fits (SGD; L2 and multinomial logistic): finite, dtype kept, shapes."""
    classifier = name != "SGDRegressor"
    X, y, sw, fit_intercept = data.draw(problems(classifier=classifier))
    if X.dtype == np.float64 and not sp.issparse(X):
        X = X / max(float(np.abs(X).max()), 1e-300)   # SGD's constant steps need a scale
    elif sp.issparse(X):
        X = X.multiply(1.0 / max(float(abs(X).max()), 1e-300)).asformat(X.format)
    else:
        X = (X / max(float(np.abs(X).max()), 1e-30)).astype(np.float32)
    if name == "LogisticRegression" and data.draw(st.booleans()):
        y = np.floor(3 * np.arange(len(y)) / len(y))   # three classes: multinomial
    kw = {"SGDClassifier": dict(max_iter=20, tol=None, random_state=0),
          "SGDRegressor": dict(max_iter=20, tol=None, random_state=0),
          "LogisticRegression": dict(C=data.draw(st.floats(1e-2, 1e2)), max_iter=200)}[name]
    est = getattr(fastreg, name)(fit_intercept=fit_intercept, **kw)
    coef = _check_common(_fit(est, X, y, sw), X)
    if classifier:
        assert set(np.unique(est.predict(X))) <= set(est.classes_)
        assert coef.shape[-1] == X.shape[1]
