"""Smooth multinomial logistic regression (L2 or no penalty): the Newton-CG solver.

References: scikit-learn's lbfgs / newton-cg at tight tolerance and
:func:`fastreg.reference.logistic_lbfgsb` (scipy L-BFGS-B).
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from fastreg import LogisticRegression
from fastreg.reference import logistic_objective
from fastreg.reference.solvers import logistic_lbfgsb
from fastreg.solvers import newton_cg_multinomial as ncg

CONTAINERS = {"dense": np.asfortranarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix}


def _multiclass(rng, n=200, p=12, K=3, density=1.0, scale=1.0):
    X = rng.standard_normal((n, p)) * (rng.random((n, p)) < density)
    W = rng.standard_normal((K, p)) * scale
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def _sklearn(X, y, **kwargs):
    kwargs.setdefault("tol", 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SkLogisticRegression(max_iter=10_000, **kwargs).fit(X, y)


def _gradient(X, y, coef, intercept, C, sw, l2, fit_intercept):
    """Objective's gradient (numpy, float64) for an independent violation check."""
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    Z = X @ coef.T.astype(np.float64) + intercept
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(y.size), y] -= 1.0
    G = P * (C * sw)[:, None]
    g = np.concatenate([(X.T @ G).T.ravel() + l2 * coef.ravel(),
                        G.sum(axis=0) if fit_intercept else []])
    return np.max(np.abs(g))


@pytest.mark.parametrize("fmt", list(CONTAINERS))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l2_vs_sklearn_lbfgs(rng, dtype, fmt, fit_intercept):
    X, y = _multiclass(rng, density=0.5 if fmt != "dense" else 1.0)
    sw = rng.random(y.size) + 0.5
    C = 0.7
    sk = SkLogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-12,
                              max_iter=10_000).fit(X, y, sample_weight=sw)
    tol = 1e-10 if dtype == np.float64 else 1e-6
    est = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=tol).fit(
        CONTAINERS[fmt](X.astype(dtype)), y, sample_weight=sw)
    assert est.coef_.dtype == dtype and est.intercept_.dtype == dtype
    P = logistic_objective(X, y, est.coef_.astype(np.float64), est.intercept_, C=C,
                           sample_weight=sw)
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C, sample_weight=sw)
    b_sk = sk.intercept_ - sk.intercept_.mean() if fit_intercept else 0.0
    if dtype == np.float64:
        assert abs(P - P_sk) <= 1e-8 * P_sk
        np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)
        np.testing.assert_allclose(est.intercept_, b_sk, atol=1e-5)
        # the reported violation is the gradient's sup-norm (independent numpy gradient)
        v = _gradient(X, y, est.coef_, est.intercept_, C, sw, 1.0, fit_intercept)
        assert v <= 1e-6 and abs(v - est.optimality_violation_) <= 1e-8
    else:
        assert abs(P - P_sk) <= 1e-6 * P_sk
        np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-3)
    if fit_intercept:
        assert abs(float(np.sum(est.intercept_))) <= 1e-6     # centered


def test_l2_vs_reference_lbfgsb_and_newton_cg(rng):
    X, y = _multiclass(rng, n=150, p=8, K=4)
    C = 3.0
    w_ref, b_ref = logistic_lbfgsb(X, y, C=C, penalty="l2", tol=1e-14)
    sk = _sklearn(X, y, C=C, solver="newton-cg")
    est = LogisticRegression(C=C, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(est.coef_, w_ref, atol=1e-5)
    np.testing.assert_allclose(est.intercept_, b_ref, atol=1e-5)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C)
    assert P <= logistic_objective(X, y, w_ref, b_ref, C=C) * (1 + 1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_no_penalty_vs_sklearn(rng, fit_intercept):
    """Non-separable data (noisy labels): the minimizer is finite; coefficients are
    returned centered over the classes (the softmax's minimum-norm representative)."""
    X, y = _multiclass(rng, n=400, p=6, K=3, scale=0.5)
    sk = _sklearn(X, y, C=np.inf, fit_intercept=fit_intercept)
    est = LogisticRegression(C=np.inf, fit_intercept=fit_intercept, tol=1e-12).fit(X, y)
    est2 = LogisticRegression(penalty=None, fit_intercept=fit_intercept, tol=1e-12).fit(X, y)
    np.testing.assert_array_equal(est.coef_, est2.coef_)
    np.testing.assert_allclose(est.coef_.sum(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(est.coef_, sk.coef_ - sk.coef_.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(est.predict_proba(X), sk.predict_proba(X), atol=1e-7)
    P = logistic_objective(X, y, est.coef_, est.intercept_, penalty=None)
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, penalty=None)
    assert P <= P_sk * (1 + 1e-10)


def test_separable_without_penalty_warns_and_stays_finite(rng):
    X, y = _multiclass(rng, n=60, p=10, K=3, scale=5.0)
    y = np.argmax(X @ rng.standard_normal((3, 10)).T, axis=1)      # noiseless: separable
    X[:, 0] *= 1e3
    for kwargs in (dict(penalty=None), dict(penalty=None, tol=1e-14, max_iter=30)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.warns(ConvergenceWarning, match="separable"):
                est = LogisticRegression(**kwargs).fit(X, y)
        assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
        assert np.all(est.predict(X) == y)
        assert np.isfinite(est.optimality_violation_)
    # with the L2 penalty the same data have a finite minimizer: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        LogisticRegression(C=1e3).fit(X, y)


def test_warm_start_same_answer_fewer_iterations(rng):
    X, y = _multiclass(rng, n=300, p=20, K=4)
    est = LogisticRegression(C=2.0, tol=1e-10).fit(X, y)
    warm = LogisticRegression(C=2.0, tol=1e-10, warm_start=True)
    warm.coef_, warm.intercept_, warm.classes_ = est.coef_ * 0.9, est.intercept_, est.classes_
    warm.fit(X, y)
    np.testing.assert_allclose(warm.coef_, est.coef_, atol=1e-7)
    assert warm.n_iter_[0] < est.n_iter_[0]
    # at the solution: no Newton step at all (LogisticRegressionCV / paths rely on it)
    warm.fit(X, y)
    assert warm.n_iter_[0] == 0


def test_twenty_classes_sparse(rng):
    n, p, K = 500, 3000, 20
    X = sp.random(n, p, density=5e-3, format="csc", random_state=0,
                  data_rvs=lambda k: rng.random(k) + 0.5)
    W = rng.standard_normal((K, p)) * (rng.random((K, p)) < 0.05) * 3
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    C = 5.0
    est = LogisticRegression(C=C, tol=1e-10).fit(X, y)
    sk = _sklearn(sp.csr_matrix(X), y, C=C, tol=1e-10)
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C)
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C)
    assert P <= P_sk * (1 + 1e-10) and abs(P - P_sk) <= 1e-8 * P_sk
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)


def test_not_converged_warns_with_violation(rng):
    X, y = _multiclass(rng)
    with pytest.warns(ConvergenceWarning, match="optimality violation"):
        est = LogisticRegression(C=100.0, tol=1e-14, max_iter=1).fit(X, y)
    assert est.n_iter_[0] == 1 and est.optimality_violation_ > 0


def test_dispatch(rng, monkeypatch):
    """L2 and no penalty go to Newton-CG; any L1 part to the working-set prox-Newton."""
    X, y = _multiclass(rng, n=80, p=5)
    calls = []
    solver = ncg.multinomial_newton_cg

    def recording(*args, **kwargs):
        calls.append(args[4])
        return solver(*args, **kwargs)

    import fastreg.linear_model.logistic as logistic
    monkeypatch.setattr(logistic, "multinomial_newton_cg", recording)
    LogisticRegression().fit(X, y)
    LogisticRegression(penalty=None).fit(X, y)
    LogisticRegression(l1_ratio=0.5).fit(X, y)
    LogisticRegression(l1_ratio=0.0).fit(X, y)
    assert calls == [0.0, None, 0.0]


def test_solver_rejects_l1_and_accepts_c_order_csr(rng):
    X, y = _multiclass(rng, n=100, p=6)
    c = np.full(y.size, 0.5)
    with pytest.raises(ValueError, match="rho"):
        ncg.multinomial_newton_cg(X, y, 3, c, 0.5)
    ref = ncg.multinomial_newton_cg(np.asfortranarray(X), y, 3, c, 0.0, tol=1e-12)
    for Xc in (np.ascontiguousarray(X), sp.csr_matrix(X), sp.csc_matrix(X)):
        res = ncg.multinomial_newton_cg(Xc, y, 3, c, 0.0, tol=1e-12)
        assert res.converged
        np.testing.assert_allclose(res.coef, ref.coef, atol=1e-9)
        np.testing.assert_allclose(res.intercept, ref.intercept, atol=1e-9)


def test_float32_blocked_products_match_float64(rng, monkeypatch):
    """float32 X: the exact products (column blocks converted to float64) equal float64's."""
    monkeypatch.setattr(ncg, "_BLOCK_ENTRIES", 64)     # several blocks
    X, _ = _multiclass(rng, n=50, p=9)
    X32 = X.astype(np.float32)
    D, R = rng.standard_normal((3, 9)), rng.standard_normal((3, 50))
    for Xc in (np.asfortranarray(X32), sp.csc_matrix(X32), sp.csr_matrix(X32)):
        prod = ncg._Products(Xc)
        assert len(prod.blocks) > 1
        X64 = X32.astype(np.float64)
        np.testing.assert_allclose(prod.scores(D, exact=True), D @ X64.T, rtol=1e-12)
        np.testing.assert_allclose(prod.back(R, exact=True), R @ X64, rtol=1e-12)
        np.testing.assert_allclose(prod.back(R, square=True), R @ X64 ** 2, rtol=1e-12)


def test_zipcode_usps_subsample_vs_sklearn():
    """Real data (every 4th row of zipcode_usps, 10 classes, 256 pixels), C = 10 / n."""
    import os
    path = os.path.join(os.environ.get("FASTREG_DATA", "/work/shared/data"), "zipcode_usps.npz")
    if not os.path.exists(path):
        pytest.skip("zipcode_usps.npz not available")
    z = np.load(path, allow_pickle=False)
    X, y = np.asfortranarray(z["X"][::4], dtype=np.float64), z["y"][::4]
    C = 10.0 / y.size
    est = LogisticRegression(C=C, tol=1e-10).fit(X, y)
    sk = _sklearn(X, y, C=C)
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C)
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C)
    assert P <= P_sk * (1 + 1e-10) and abs(P - P_sk) <= 1e-8 * P_sk
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-5)
    # lbfgs leaves the intercepts 1.6e-5 off (gradient 1e-7; fastreg's: 1e-11): scipy's reference
    w_ref, b_ref = logistic_lbfgsb(X, y, C=C, penalty="l2", tol=1e-14)
    np.testing.assert_allclose(est.intercept_, b_ref, atol=1e-5)
    codes = np.unique(y, return_inverse=True)[1]
    v = _gradient(X, codes, est.coef_, est.intercept_, C, np.ones(y.size), 1.0, True)
    assert v <= 1e-10 and v <= _gradient(X, codes, w_ref, b_ref, C, np.ones(y.size), 1.0, True)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_kronecker_preconditioner_exact_for_equal_sample_curvatures(rng, dtype, fit_intercept,
                                                                     monkeypatch):
    """With every sample's probabilities equal (S_i the same), A (x) B is the Hessian exactly:
    the preconditioner inverts ``H + l2 I`` (checked against the explicit matrix; its Gram
    summed over row blocks of 3 rows, the last one shorter)."""
    from fastreg.solvers import kronecker_precond
    from fastreg.solvers.kronecker_precond import KroneckerPreconditioner
    n, p, K, l2 = 61, 7, 4, 0.5
    monkeypatch.setattr(kronecker_precond, "_BLOCK_ENTRIES", 3 * p)
    X = rng.standard_normal((n, p)).astype(dtype)
    c = np.full(n, 0.3)
    prob = rng.random(K) + 0.2
    prob /= prob.sum()
    P = np.repeat(prob[:, None], n, axis=1)
    Xt = np.hstack([X.astype(np.float64), np.ones((n, 1))]) if fit_intercept else \
        X.astype(np.float64)
    S = np.diag(prob) - np.outer(prob, prob)
    H = np.kron(c[0] * S, Xt.T @ Xt) + l2 * np.eye(K * Xt.shape[1])     # V = [W, b] row-major
    v = rng.standard_normal(K * Xt.shape[1])
    r = H @ v
    if fit_intercept:       # flat layout [vec(W), b]
        V = v.reshape(K, p + 1)
        Rm = r.reshape(K, p + 1)
        v = np.concatenate([V[:, :p].ravel(), V[:, p]])
        r = np.concatenate([Rm[:, :p].ravel(), Rm[:, p]])
    z = KroneckerPreconditioner(X, P, c, fit_intercept, l2)(r)
    np.testing.assert_allclose(z, v, rtol=1e-4 if dtype == np.float32 else 1e-9,
                               atol=1e-4 if dtype == np.float32 else 1e-9)


def test_kronecker_preconditioner_fewer_cg_same_solution(rng, monkeypatch):
    """Weak regularization on correlated features: the Kronecker preconditioner takes over
    from Jacobi, needs fewer CG iterations, and reaches the same minimizer."""
    n, p, K = 1000, 30, 4
    L = rng.standard_normal((p, p)) * np.logspace(0, -2, p)
    X = np.asfortranarray(rng.standard_normal((n, p)) @ L)
    W = rng.standard_normal((K, p))
    y = np.argmax(X @ W.T + rng.gumbel(size=(n, K)), axis=1)
    codes, c = y, np.full(n, 10.0)
    built = []
    real = ncg.KroneckerPreconditioner
    monkeypatch.setattr(ncg, "KroneckerPreconditioner",
                        lambda *a: built.append(1) or real(*a))
    kron = ncg.multinomial_newton_cg(X, codes, K, c, 0.0, tol=1e-10, max_iter=200)
    monkeypatch.setattr(ncg, "_KRON_MAX_FEATURES", 0)
    jac = ncg.multinomial_newton_cg(X, codes, K, c, 0.0, tol=1e-10, max_iter=200)
    assert built and kron.converged and jac.converged
    assert kron.n_epochs < 0.5 * jac.n_epochs
    np.testing.assert_allclose(kron.primal, jac.primal, rtol=1e-12)
    np.testing.assert_allclose(kron.coef, jac.coef, rtol=1e-6, atol=1e-6 * np.abs(jac.coef).max())


def test_kronecker_no_penalty_collinear_columns(rng, monkeypatch):
    """No penalty, a zero column and a column twice another (singular B): the Kronecker path
    reaches Jacobi's objective, leaves the zero column at 0 and does not blow up along the
    collinear pair (norm within 1% of scikit-learn's lbfgs, which stays in the row space)."""
    n, p, K = 2000, 12, 4
    X = rng.standard_normal((n, p))
    X = np.asfortranarray(np.hstack([X, np.zeros((n, 1)), 2.0 * X[:, :1]]))
    y = np.argmax(X @ rng.standard_normal((K, p + 2)).T * 0.3 + rng.gumbel(size=(n, K)), axis=1)
    codes, c = y, np.ones(n)
    built = []
    real = ncg.KroneckerPreconditioner
    monkeypatch.setattr(ncg, "KroneckerPreconditioner", lambda *a: built.append(1) or real(*a))
    kron = ncg.multinomial_newton_cg(X, codes, K, c, None, tol=1e-9, max_iter=100)
    monkeypatch.setattr(ncg, "_KRON_MAX_FEATURES", 0)
    jac = ncg.multinomial_newton_cg(X, codes, K, c, None, tol=1e-9, max_iter=100)
    assert built and kron.converged and jac.converged
    np.testing.assert_allclose(kron.primal, jac.primal, rtol=1e-10)
    assert np.all(kron.coef[:, p] == 0.0)
    sk = _sklearn(X, y, penalty=None)
    ref = np.linalg.norm(sk.coef_ - sk.coef_.mean(axis=0))
    assert abs(np.linalg.norm(kron.coef) - ref) <= 0.01 * ref
