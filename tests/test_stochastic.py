"""SGDRegressor / SGDClassifier and the compiled epochs of fastreg._sgd.

References: the plain-Python epochs of fastreg.reference.stochastic (same order,
same batches), fastreg.optim step loops, scikit-learn's SGD (same algorithm for
batch_size=1 without shuffling), and reference solvers for the optimum.
"""
import math
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import logsumexp
import sklearn.linear_model as skl
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastreg import SGDClassifier, SGDRegressor, optim
from fastreg._sgd import py_dloss, py_softmax_dloss
from fastreg.reference.solvers import enet_lbfgsb
from fastreg.reference.stochastic import StochasticReference, dloss as ref_dloss
from fastreg.solvers.stochastic import StochasticSolver, optimal_t0

# scikit-learn 1.9.1 declares these two checks as expected failures of its own
# SGDRegressor / SGDClassifier (sklearn/utils/_test_common/instance_generator.py)
SK_SGD_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data":
        "sample_weight is not equivalent to removing/repeating samples.",
    "check_sample_weight_equivalence_on_sparse_data":
        "sample_weight is not equivalent to removing/repeating samples.",
}


def regression_data(n=60, p=7, seed=0, density=0.5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[rng.random((n, p)) > density] = 0.0
    y = X @ rng.standard_normal(p) + 0.3 + 0.1 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


@pytest.fixture(params=["portable", "avx2"])
def sgd_build(request, monkeypatch):
    """Run the test with each compiled build of the epochs (fastreg._sgd, fastreg._sgd_avx2)."""
    import fastreg._sgd
    import fastreg.solvers.stochastic as stochastic
    from fastreg import _optim
    module = fastreg._sgd
    if request.param == "avx2":
        module = pytest.importorskip("fastreg._sgd_avx2")
        if not (module.COMPILED_FOR_AVX2 and _optim.cpu_has_avx2_fma()):
            pytest.skip("the AVX2 build is not compiled for AVX2 or the CPU lacks AVX2/FMA")
    monkeypatch.setattr(stochastic, "_sgd", module)
    return module


def tol_for(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)


# ---------------------------------------------------------------------------------
# per-sample losses
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["squared_error", "huber", "epsilon_insensitive",
                                  "squared_epsilon_insensitive", "log_loss", "hinge",
                                  "squared_hinge", "modified_huber", "perceptron"])
def test_dloss_matches_reference_and_finite_differences(loss):
    for y in ([-1.0, 1.0] if loss not in ("squared_error", "huber", "epsilon_insensitive",
                                          "squared_epsilon_insensitive") else [-0.7, 2.0]):
        for p in np.linspace(-3.1, 3.3, 23):
            d, lv = py_dloss(loss, y, p, 0.1)
            d_ref, lv_ref = ref_dloss(loss, y, p, 0.1)
            assert d == pytest.approx(d_ref, rel=1e-12, abs=1e-14)
            assert lv == pytest.approx(lv_ref, rel=1e-12, abs=1e-14)
            h = 1e-6
            fd = (py_dloss(loss, y, p + h, 0.1)[1] - py_dloss(loss, y, p - h, 0.1)[1]) / (2 * h)
            assert d == pytest.approx(fd, rel=1e-5, abs=1e-5)


def test_log_loss_is_safe_for_huge_margins():
    for p in [-1e300, -800.0, 800.0, 1e300]:
        d, lv = py_dloss("log_loss", 1.0, p)
        assert np.isfinite(d) and np.isfinite(lv)
    assert py_dloss("log_loss", 1.0, -800.0) == (-1.0, 800.0)
    d, lv = py_dloss("log_loss", 1.0, 800.0)
    assert d == pytest.approx(-math.exp(-800.0)) and lv == pytest.approx(math.exp(-800.0))


def test_softmax_dloss():
    s = np.array([1000.0, -3.0, 999.0])
    d, lv = py_softmax_dloss(s, 2)
    prob = np.exp(s - logsumexp(s))
    np.testing.assert_allclose(d, prob - np.eye(3)[2], atol=1e-15)
    assert lv == pytest.approx(logsumexp(s) - s[2], rel=1e-14)


# ---------------------------------------------------------------------------------
# compiled epochs == plain-Python reference, epoch by epoch
# ---------------------------------------------------------------------------------
CASES = [
    dict(optimizer="sgd", l2=0.1, l1=0.05, weight_decay=0.2),
    dict(optimizer="sgd", l2=0.1, l1=0.05, l1_mode="cumulative"),
    dict(optimizer="sgd", l2=0.05, average=5, learning_rate="constant"),
    dict(optimizer="momentum", l2=0.1, l1=0.02, weight_decay=0.1, momentum=0.8),
    dict(optimizer="nesterov", l2=0.1, l1=0.02, momentum=0.5, learning_rate="cosine",
         warmup=4, horizon=40),
    dict(optimizer="adam", l2=0.1, l1=0.01, weight_decay=0.3, eta0=0.05),
    dict(optimizer="amsgrad", l2=0.1, l1=0.01, eta0=0.05, average=1),
    dict(optimizer="adamw", weight_decay=0.1, eta0=0.05, learning_rate="cosine", horizon=30),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(
    f"{k}={v}" for k, v in c.items() if k in ("optimizer", "l1_mode", "average", "learning_rate")))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_epochs_match_reference(case, sparse, batch_size, dtype, sgd_build):
    X, y = regression_data(dtype=dtype)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    kw = {"loss": "squared_error", "batch_size": batch_size, "eta0": 0.03, **case}
    solver = StochasticSolver(1, X.shape[1], dtype, **kw)
    ref = StochasticReference(1, X.shape[1], **kw)
    Xk = sp.csr_matrix(X) if sparse else X
    for _ in range(3):
        order = rng.permutation(X.shape[0])
        loss = solver.epoch(Xk, y, sw, order)
        loss_ref = ref.epoch(X, y, sw, order)
        coef, intercept = solver.parameters(averaged=False)
        assert coef.dtype == dtype
        np.testing.assert_allclose(coef, ref.W, **tol_for(dtype))
        np.testing.assert_allclose(intercept, ref.b, **tol_for(dtype))
        assert loss == pytest.approx(loss_ref, rel=1e-10 if dtype == np.float64 else 1e-4)
        assert not solver._grad.any()     # the gradient buffer is left all zeros
        if case.get("average"):
            coef, intercept = solver.parameters(averaged=True)
            np.testing.assert_allclose(coef, ref.W_avg, **tol_for(dtype))
            np.testing.assert_allclose(intercept, ref.b_avg, **tol_for(dtype))
    if case["optimizer"] in ("adam", "amsgrad", "adamw"):
        np.testing.assert_allclose(solver.optimizer_state()["exp_avg_sq"][:, :-1], ref.opt_w.v,
                                   **tol_for(dtype))
    assert solver.t == ref.t


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_steps_match_reference_one_by_one(optimizer, sparse, sgd_build):
    """Step by step: each call runs one batch (order = that batch's rows)."""
    X, y = regression_data(n=30)
    kw = dict(loss="huber", epsilon=0.5, optimizer=optimizer, batch_size=4, eta0=0.05,
              l2=0.1, l1=0.03, weight_decay=0.05, learning_rate="cosine", warmup=3,
              horizon=20)
    solver = StochasticSolver(1, X.shape[1], np.float64, **kw)
    ref = StochasticReference(1, X.shape[1], **kw)
    Xk = sp.csr_matrix(X) if sparse else X
    order = np.random.default_rng(5).permutation(30)
    for start in range(0, 30, 4):
        rows = order[start:start + 4]
        solver.epoch(Xk, y, np.ones(30), rows)
        ref.epoch(X, y, np.ones(30), rows)
        np.testing.assert_allclose(solver.W[0, :-1], ref.W[0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(solver.W[0, -1], ref.b[0], rtol=1e-10, atol=1e-13)
    assert solver.t == ref.t == 8


@pytest.mark.parametrize("mode,loss", [("single", "log_loss"), ("single", "hinge"),
                                       ("single", "modified_huber"), ("ovr", "hinge"),
                                       ("ovr", "squared_hinge"), ("softmax", "log_loss")])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("blas3", [False, True], ids=["rows", "gemm"])
def test_classification_epochs_match_reference(mode, loss, sparse, batch_size, sgd_build,
                                               blas3, monkeypatch):
    """Dense batches through the per-row loops or through gemm (each forced by the
    size threshold), both builds, against the reference."""
    import fastreg.solvers.stochastic as stochastic
    if blas3 and (sparse or batch_size == 1):
        pytest.skip("gemm batches are dense and of several rows")
    monkeypatch.setattr(stochastic, "BLAS3_MIN_COEF_BYTES", 0 if blas3 else 2 ** 62)
    X, _ = regression_data(n=50, p=37, seed=3)   # p = 2 x 16 + 5: the lanes and the tail
    rng = np.random.default_rng(2)
    K = 1 if mode == "single" else 3
    y = rng.choice([-1.0, 1.0], 50) if mode == "single" else rng.integers(0, 3, 50).astype(float)
    sw = rng.uniform(0.5, 2.0, 50)
    for opt in ("sgd", "adam"):
        kw = dict(loss=loss, mode=mode, optimizer=opt, batch_size=batch_size, eta0=0.1,
                  l2=0.01, l1=0.01)
        solver = StochasticSolver(K, 37, np.float64, **kw)
        ref = StochasticReference(K, 37, **kw)
        for _ in range(2):
            order = rng.permutation(50)
            solver.epoch(sp.csr_matrix(X) if sparse else X, y, sw, order)
            ref.epoch(X, y, sw, order)
        coef, intercept = solver.parameters()
        np.testing.assert_allclose(coef, ref.W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(intercept, ref.b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("l1_mode", ["prox", "cumulative"])
@pytest.mark.parametrize("batch_size", [1, 5])
def test_csr_explicit_zeros(l1_mode, batch_size):
    """Explicitly stored zeros in CSR rows change nothing (they touch no coordinate)."""
    X, y = regression_data(n=40, p=6, density=0.5)
    Xs = sp.csr_matrix(X)
    rows, cols = np.nonzero(X == 0)
    rows, cols = rows[::2], cols[::2]
    coo = Xs.tocoo()
    Xz = sp.csr_matrix((np.concatenate([coo.data, np.zeros(rows.size)]),
                        (np.concatenate([coo.row, rows]), np.concatenate([coo.col, cols]))),
                       shape=X.shape)
    assert Xz.nnz > Xs.nnz
    kw = dict(penalty="elasticnet", alpha=0.1, l1_mode=l1_mode, batch_size=batch_size,
              eta0=0.05, learning_rate="constant", max_iter=3, tol=None, random_state=0)
    a = SGDRegressor(**kw).fit(X, y)
    b = SGDRegressor(**kw).fit(Xz, y)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-10, atol=1e-12)


def test_optimal_schedule_matches_reference():
    X, y = regression_data(seed=4)
    ys = np.sign(y)
    alpha = 0.01
    t0 = optimal_t0("hinge", alpha)
    kw = dict(loss="hinge", learning_rate="optimal", alpha=alpha, l2=alpha)
    solver = StochasticSolver(1, X.shape[1], np.float64, **kw)
    ref = StochasticReference(1, X.shape[1], optimal_t0=t0, **kw)
    order = np.arange(X.shape[0])
    solver.epoch(X, ys, np.ones_like(ys), order)
    ref.epoch(X, ys, np.ones_like(ys), order)
    np.testing.assert_allclose(solver.W[:, :-1], ref.W, rtol=1e-10, atol=1e-12)


def test_lazy_sparse_renormalization_and_dense_fallback():
    """Long streams where the lazy scale P underflows (renormalization) and steps
    with 1 - lr (l2 + wd) <= 0 (dense fallback): still equal to dense updates."""
    X, y = regression_data(n=400, p=30, density=0.05, seed=5)
    sw = np.ones(400)
    for kw in (dict(l2=2.0, l1=0.01, eta0=0.25, learning_rate="constant"),       # c = 0.5
               dict(l2=1.0, weight_decay=1.0, l1=0.01, eta0=0.6, learning_rate="constant")):
        solver = StochasticSolver(1, 30, np.float64, loss="squared_error", **kw)
        ref = StochasticReference(1, 30, loss="squared_error", **kw)
        order = np.arange(400)
        solver.epoch(sp.csr_matrix(X), y, sw, order)
        ref.epoch(X, y, sw, order)
        np.testing.assert_allclose(solver.W[:, :-1], ref.W, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------
# scikit-learn's SGD: the same algorithm for batch_size=1 (no shuffling: same order)
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
@pytest.mark.parametrize("learning_rate", ["invscaling", "constant"])
def test_regressor_equals_sklearn_sgd(penalty, learning_rate):
    X, y = regression_data(n=80, p=6, density=1.0)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, 80)
    kw = dict(penalty=penalty, alpha=0.01, learning_rate=learning_rate, shuffle=False,
              tol=None, max_iter=3)
    # scikit-learn's L1 is Tsuruoka's cumulative penalty, applied to every feature
    # of a dense row: equal to l1_mode='cumulative' on data without zeros
    ours = SGDRegressor(l1_mode="cumulative", **kw).fit(X, y, sample_weight=sw)
    theirs = skl.SGDRegressor(**kw).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "modified_huber", "perceptron"])
def test_binary_classifier_equals_sklearn_sgd(loss):
    X, y = regression_data(n=80, p=6, density=1.0, seed=1)
    yc = np.where(y > 0.3, "b", "a")
    kw = dict(loss=loss, alpha=0.01, shuffle=False, tol=None, max_iter=3, average=10)
    ours = SGDClassifier(**kw).fit(X, yc)
    theirs = skl.SGDClassifier(**kw).fit(X, yc)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("loss", ["hinge", "modified_huber"])
def test_one_vs_rest_equals_sklearn_sgd(loss):
    """Without shuffling scikit-learn's OvR binary problems see the rows in our order."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 5))
    y = np.digitize(X @ rng.standard_normal(5), [-0.5, 0.5])
    kw = dict(loss=loss, alpha=0.01, shuffle=False, tol=None, max_iter=3)
    ours = SGDClassifier(**kw).fit(X, y)
    theirs = skl.SGDClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-8, atol=1e-9)


# ---------------------------------------------------------------------------------
# the estimator's steps are fastreg.optim steps on minibatch gradients
# ---------------------------------------------------------------------------------
def _optim_loop(make_opt, X, y, batch_size, epochs, intercept_opt=None):
    """Loop of fastreg.optim steps on the mean squared-error minibatch gradients."""
    n, p = X.shape
    w = np.zeros(p, dtype=X.dtype)
    b = np.zeros(1, dtype=X.dtype)
    opt = make_opt(w)
    opt_b = intercept_opt(b) if intercept_opt else None
    t = 0
    for _ in range(epochs):
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            r = X[rows] @ w + b[0] - y[rows]
            t += 1
            opt.step(X[rows].T @ r / r.shape[0])
            if opt_b is not None:
                opt_b.step(np.array([r.mean()], dtype=X.dtype))
    return w, b


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_adam_estimator_equals_optim_adam_loop(sparse, dtype):
    X, y = regression_data(n=48, dtype=dtype)
    tol = tol_for(dtype)
    kw = dict(optimizer="adam", eta0=0.02, learning_rate="constant", batch_size=8,
              shuffle=False, tol=None, max_iter=4)
    # coupled L2 (alpha) + L1 prox, no intercept
    est = SGDRegressor(penalty="elasticnet", alpha=0.2, l1_ratio=0.25, fit_intercept=False,
                       **kw).fit(sp.csr_matrix(X) if sparse else X, y)
    w, _ = _optim_loop(lambda w: optim.Adam(w, lr=0.02, weight_decay=0.15, l1=0.05,
                                                   l1_scaling="effective"),
                       X, y, 8, 4)
    np.testing.assert_allclose(est.coef_, w, **tol)
    # AdamW: decoupled decay on the coefficients, an unpenalized Adam on the intercept
    est = SGDRegressor(optimizer="adamw", penalty=None, weight_decay=0.3,
                       **{k: v for k, v in kw.items() if k != "optimizer"}).fit(X, y)
    w, b = _optim_loop(lambda w: optim.AdamW(w, lr=0.02, weight_decay=0.3), X, y, 8, 4,
                       intercept_opt=lambda b: optim.Adam(b, lr=0.02))
    np.testing.assert_allclose(est.coef_, w, **tol)
    np.testing.assert_allclose(est.intercept_, b, **tol)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_estimator_equals_optim_sgd_loop(nesterov):
    X, y = regression_data(n=40)
    est = SGDRegressor(optimizer="nesterov" if nesterov else "momentum", momentum=0.7,
                       penalty="l1", alpha=0.03, weight_decay=0.1, eta0=0.01,
                       learning_rate="constant", batch_size=5, shuffle=False, tol=None,
                       max_iter=3, fit_intercept=False).fit(X, y)
    w, _ = _optim_loop(lambda w: optim.SGD(w, lr=0.01, momentum=0.7, nesterov=nesterov,
                                           weight_decay=0.1, decoupled_weight_decay=True,
                                           l1=0.03, l1_scaling="effective"), X, y, 5, 3)
    np.testing.assert_allclose(est.coef_, w, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------
# L2 (alpha) vs decoupled weight decay; proximal L1
# ---------------------------------------------------------------------------------
COMMON = dict(learning_rate="invscaling", eta0=0.02, shuffle=True, random_state=0, tol=None,
              max_iter=5, batch_size=4)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_sgd_l2_equals_weight_decay(sparse):
    X, y = regression_data()
    Xk = sp.csr_matrix(X) if sparse else X
    a = SGDRegressor(penalty="l2", alpha=0.3, **COMMON).fit(Xk, y)
    b = SGDRegressor(penalty=None, weight_decay=0.3, **COMMON).fit(Xk, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam", "amsgrad"])
def test_l2_differs_from_weight_decay(optimizer):
    X, y = regression_data()
    a = SGDRegressor(optimizer=optimizer, penalty="l2", alpha=0.3, **COMMON).fit(X, y)
    b = SGDRegressor(optimizer=optimizer, penalty=None, weight_decay=0.3, **COMMON).fit(X, y)
    assert np.max(np.abs(a.coef_ - b.coef_)) > 1e-3 * np.max(np.abs(a.coef_))


def test_momentum_fixed_points_match_after_rescaling():
    """Coupled L2 ``lambda`` and decoupled decay ``lambda / (1 - mu)`` share the fixed
    point of full-batch momentum: the ridge solution."""
    X, y = regression_data(n=30, p=4, density=1.0)
    lam, mu = 0.5, 0.8
    kw = dict(optimizer="momentum", momentum=mu, learning_rate="constant", eta0=0.05,
              batch_size=30, shuffle=False, tol=None, max_iter=3000, fit_intercept=False)
    a = SGDRegressor(penalty="l2", alpha=lam, **kw).fit(X, y)
    b = SGDRegressor(penalty=None, weight_decay=lam / (1 - mu), **kw).fit(X, y)
    ridge = np.linalg.solve(X.T @ X / 30 + lam * np.eye(4), X.T @ y / 30)
    np.testing.assert_allclose(a.coef_, ridge, rtol=1e-8)
    np.testing.assert_allclose(b.coef_, ridge, rtol=1e-8)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("l1_mode", ["prox", "cumulative"])
def test_l1_gives_exact_zeros(optimizer, l1_mode):
    if l1_mode == "cumulative" and optimizer != "sgd":
        pytest.skip("cumulative L1 is for plain SGD")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 12))
    y = X[:, :3] @ np.array([2.0, -1.0, 1.5]) + 0.1 * rng.standard_normal(100)
    est = SGDRegressor(optimizer=optimizer, penalty="l1", alpha=0.2, l1_mode=l1_mode,
                       eta0=0.01, learning_rate="constant", max_iter=30, tol=None,
                       batch_size=10, random_state=0).fit(X, y)
    assert np.count_nonzero(est.coef_[3:] == 0.0) >= 7
    assert np.all(est.coef_[:3] != 0.0)
    ridge = SGDRegressor(optimizer=optimizer, penalty="l2", alpha=0.2, eta0=0.01,
                         learning_rate="constant", max_iter=30, tol=None,
                         random_state=0).fit(X, y)
    assert np.all(ridge.coef_ != 0.0)


# ---------------------------------------------------------------------------------
# convergence to the optimum of the convex objective
# ---------------------------------------------------------------------------------
def _enet_obj(X, y, w, b, alpha, l1_ratio):
    r = y - X @ w - b
    return 0.5 * np.mean(r ** 2) + alpha * (l1_ratio * np.abs(w).sum()
                                            + 0.5 * (1 - l1_ratio) * w @ w)


@pytest.mark.parametrize("optimizer,kw", [
    ("sgd", dict(learning_rate="invscaling", eta0=0.05, power_t=0.5, batch_size=1)),
    ("adam", dict(learning_rate="cosine", eta0=0.05, batch_size=8)),
    ("momentum", dict(learning_rate="cosine", eta0=0.01, batch_size=8, momentum=0.9)),
])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_reaches_elastic_net_optimum(optimizer, kw, sparse):
    X, y = regression_data(n=200, p=10, density=0.7, seed=7)
    alpha, l1_ratio = 0.05, 0.5
    w_ref, b_ref = enet_lbfgsb(X, y, alpha, l1_ratio)
    est = SGDRegressor(optimizer=optimizer, penalty="elasticnet", alpha=alpha,
                       l1_ratio=l1_ratio, max_iter=150, tol=None, random_state=0,
                       **kw).fit(sp.csr_matrix(X) if sparse else X, y)
    f_ref = _enet_obj(X, y, w_ref, b_ref, alpha, l1_ratio)
    f = _enet_obj(X, y, est.coef_, est.intercept_[0], alpha, l1_ratio)
    assert f_ref <= f <= f_ref * (1 + 1e-3)


def test_softmax_reaches_multinomial_optimum():
    rng = np.random.default_rng(3)
    n, p, K = 150, 5, 3
    X = rng.standard_normal((n, p))
    y = np.argmax(X @ rng.standard_normal((p, K)) + rng.gumbel(size=(n, K)), axis=1)
    alpha = 0.02

    def obj(theta):
        W = theta[:K * p].reshape(K, p)
        b = theta[K * p:]
        s = X @ W.T + b
        return np.mean(logsumexp(s, axis=1) - s[np.arange(n), y]) + 0.5 * alpha * np.sum(W * W)

    res = minimize(obj, np.zeros(K * p + K), method="L-BFGS-B", options=dict(gtol=1e-12))
    est = SGDClassifier(loss="log_loss", optimizer="adam", alpha=alpha, eta0=0.05,
                        learning_rate="cosine", batch_size=10, max_iter=200, tol=None,
                        random_state=0).fit(X, y)
    assert est.coef_.shape == (K, p)
    f = obj(np.concatenate([est.coef_.ravel(), est.intercept_]))
    assert res.fun <= f + 1e-9 and f <= res.fun * (1 + 1e-3)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], est.predict(X))


def test_binary_logistic_reaches_optimum():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 6))
    y = (X @ rng.standard_normal(6) + rng.logistic(size=200) > 0).astype(int)
    alpha = 0.01
    ypm = 2.0 * y - 1

    def obj(theta):
        return np.mean(np.logaddexp(0, -ypm * (X @ theta[:6] + theta[6]))) \
            + 0.5 * alpha * theta[:6] @ theta[:6]

    res = minimize(obj, np.zeros(7), method="L-BFGS-B", options=dict(gtol=1e-12))
    est = SGDClassifier(loss="log_loss", alpha=alpha, learning_rate="optimal", max_iter=300,
                        tol=None, random_state=0, average=True).fit(X, y)
    f = obj(np.concatenate([est.coef_[0], est.intercept_]))
    assert res.fun <= f + 1e-9 and f <= res.fun * (1 + 1e-3)


# ---------------------------------------------------------------------------------
# fit == partial_fit; dense == sparse; dtypes
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_fit_equals_repeated_partial_fit(optimizer):
    X, y = regression_data()
    kw = dict(optimizer=optimizer, eta0=0.01, batch_size=3, random_state=42, tol=None,
              penalty="elasticnet", alpha=0.05)
    a = SGDRegressor(max_iter=4, **kw).fit(X, y)
    b = SGDRegressor(**kw)
    for _ in range(4):
        b.partial_fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.t_ == b.t_ == 4 * math.ceil(X.shape[0] / 3)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_partial_fit_chunks_equal_one_epoch(sparse):
    X, y = regression_data(n=60)
    yc = np.where(y > 0, 1, np.where(y > -1, 0, 2))
    for est_cls, target, extra in ((SGDRegressor, y, {}),
                                   (SGDClassifier, yc, dict(loss="log_loss"))):
        kw = dict(optimizer="adam", eta0=0.01, batch_size=4, shuffle=False, tol=None, **extra)
        a = est_cls(max_iter=1, **kw).fit(X, target)
        b = est_cls(**kw)
        for start in (0, 12, 36):
            stop = {0: 12, 12: 36, 36: 60}[start]
            Xc = sp.csr_matrix(X[start:stop]) if sparse else X[start:stop]
            pf = dict(classes=np.unique(yc)) if est_cls is SGDClassifier else {}
            b.partial_fit(Xc, target[start:stop], **pf)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_dense_equals_sparse(optimizer, penalty):
    X, y = regression_data(n=80, p=15, density=0.3)
    kw = dict(optimizer=optimizer, penalty=penalty, alpha=0.05, eta0=0.01, random_state=0,
              max_iter=5, tol=None, average=optimizer == "sgd" and penalty == "l2")
    a = SGDRegressor(**kw).fit(X, y)
    b = SGDRegressor(**kw).fit(sp.csr_matrix(X), y)
    c = SGDRegressor(**kw).fit(sp.csc_matrix(X), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.coef_, c.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-10, atol=1e-12)


def test_warm_start_and_coef_init():
    X, y = regression_data()
    kw = dict(optimizer="adam", eta0=0.01, random_state=0, max_iter=3, tol=None)
    first = SGDRegressor(warm_start=True, **kw).fit(X, y)
    coef, intercept = first.coef_.copy(), first.intercept_.copy()
    first.fit(X, y)                       # continues from coef_ (fresh optimizer state)
    other = SGDRegressor(**kw).fit(X, y, coef_init=coef, intercept_init=intercept)
    np.testing.assert_array_equal(first.coef_, other.coef_)
    assert not np.array_equal(first.coef_, coef)
    cold = SGDRegressor(**kw).fit(X, y)
    np.testing.assert_array_equal(cold.coef_, coef)


def test_float32_kept_and_close_to_float64():
    X, y = regression_data(n=100)
    kw = dict(optimizer="adam", eta0=0.01, random_state=0, max_iter=5, tol=None)
    a = SGDRegressor(**kw).fit(X, y)
    b = SGDRegressor(**kw).fit(X.astype(np.float32), y.astype(np.float32))
    assert b.coef_.dtype == np.float32 and b.intercept_.dtype == np.float32
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-3, atol=1e-4)
    yc = (y > 0).astype(int)
    c = SGDClassifier(random_state=0, max_iter=5, tol=None).fit(X.astype(np.float32), yc)
    assert c.coef_.dtype == np.float32


def test_fortran_and_readonly_input():
    X, y = regression_data()
    Xf = np.asfortranarray(X)
    Xf.setflags(write=False)
    y.setflags(write=False)
    a = SGDRegressor(random_state=0, max_iter=3, tol=None).fit(Xf, y)
    b = SGDRegressor(random_state=0, max_iter=3, tol=None).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


# ---------------------------------------------------------------------------------
# schedules, stopping, early stopping, class weights
# ---------------------------------------------------------------------------------
def test_adaptive_schedule_and_stopping():
    X, y = regression_data(n=100)
    est = SGDRegressor(learning_rate="adaptive", eta0=0.05, tol=1e-4, max_iter=500,
                       random_state=0).fit(X, y)
    assert est.n_iter_ < 500
    assert len(est.loss_curve_) == est.n_iter_
    est2 = SGDRegressor(learning_rate="constant", eta0=0.05, tol=1e-4, max_iter=500,
                        random_state=0).fit(X, y)
    assert est2.n_iter_ < est.n_iter_   # adaptive continues at eta / 5 instead of stopping


def test_early_stopping():
    X, y = regression_data(n=200)
    est = SGDRegressor(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                       tol=1e-3, max_iter=1000, random_state=0).fit(X, y)
    assert est.n_iter_ < 1000
    assert est.score(X, y) > 0.9


def test_cosine_needs_horizon_in_partial_fit():
    X, y = regression_data()
    with pytest.raises(ValueError, match="schedule_steps"):
        SGDRegressor(learning_rate="cosine").partial_fit(X, y)
    SGDRegressor(learning_rate="cosine", schedule_steps=100).partial_fit(X, y)


def test_class_weight_equals_sample_weight():
    X, y = regression_data(n=90, seed=9)
    yc = np.digitize(y, [-0.5, 0.8])
    cw = {0: 2.0, 1: 0.5, 2: 1.5}
    for loss in ("hinge", "log_loss"):
        kw = dict(loss=loss, random_state=0, max_iter=4, tol=None)
        a = SGDClassifier(class_weight=cw, **kw).fit(X, yc)
        b = SGDClassifier(**kw).fit(X, yc, sample_weight=np.vectorize(cw.get)(yc))
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    bal = SGDClassifier(class_weight="balanced", **kw).fit(X, yc)
    counts = np.bincount(yc)
    c = SGDClassifier(**kw).fit(X, yc, sample_weight=(90 / (3 * counts))[yc])
    np.testing.assert_allclose(bal.coef_, c.coef_, rtol=1e-12)


def test_ovr_decision_shape_and_proba():
    X, y = regression_data(n=90, seed=9)
    yc = np.digitize(y, [-0.5, 0.8])
    est = SGDClassifier(loss="modified_huber", random_state=0, max_iter=20).fit(X, yc)
    assert est.coef_.shape == (3, X.shape[1]) and est.decision_function(X).shape == (90, 3)
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    assert not hasattr(SGDClassifier(loss="hinge").fit(X, yc), "predict_proba")


# ---------------------------------------------------------------------------------
# divergence, bad input
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_divergence_raises_and_keeps_last_finite_coefficients(sparse):
    X, y = regression_data(n=50)
    Xk = sp.csr_matrix(X) if sparse else X
    # lr * alpha = 30: the L2 factor 1 - 30 = -29 makes the iterates explode
    kw = dict(learning_rate="constant", eta0=3.0, alpha=10.0, random_state=0, tol=None,
              max_iter=50)
    est = SGDRegressor(**kw)
    with pytest.raises(FloatingPointError, match="smaller eta0") as info:
        est.fit(Xk, y)
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    epoch = int(re.search(r"at epoch (\d+)", str(info.value)).group(1))
    assert epoch >= 2
    last = SGDRegressor(**{**kw, "max_iter": epoch - 1}).fit(Xk, y)
    np.testing.assert_array_equal(est.coef_, last.coef_)
    np.testing.assert_array_equal(est.intercept_, last.intercept_)
    # partial_fit: same error; the model keeps the coefficients from before the call
    est = SGDRegressor(learning_rate="constant", eta0=1e-3, random_state=0)
    est.partial_fit(Xk, y)
    before = est.coef_.copy()
    est.set_params(eta0=1e3, alpha=1e4)   # taken into account by the next call
    with pytest.raises(FloatingPointError):
        est.partial_fit(Xk, y)
    np.testing.assert_array_equal(est.coef_, before)


def test_bad_input():
    X, y = regression_data()
    with pytest.raises(ValueError, match="features"):
        SGDRegressor().partial_fit(X, y).partial_fit(X[:, :3], y)
    yc = (y > 0).astype(int)
    with pytest.raises(ValueError, match="classes must be passed"):
        SGDClassifier().partial_fit(X, yc)
    est = SGDClassifier().partial_fit(X, yc, classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes"):
        est.partial_fit(X, yc + 5)
    with pytest.raises(ValueError, match="not the same"):
        est.partial_fit(X, yc, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="cumulative"):
        SGDRegressor(optimizer="adam", l1_mode="cumulative", penalty="l1").fit(X, y)
    with pytest.raises(ValueError, match="betas"):
        SGDRegressor(betas=(0.9, 1.5)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        SGDRegressor(optimizer="rmsprop").fit(X, y)
    with pytest.raises(ValueError, match="batch_size"):
        SGDRegressor(batch_size=0).fit(X, y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SGDRegressor().fit(Xn, y)
    with pytest.raises(ValueError, match="inconsistent"):
        SGDRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        SGDRegressor().fit(X, y, sample_weight=-np.ones_like(y))
    with pytest.raises(ValueError, match="alpha must be > 0"):
        SGDClassifier(alpha=0.0).fit(X, yc)


@parametrize_with_checks([SGDRegressor(), SGDClassifier()],
                         expected_failed_checks=lambda est: SK_SGD_XFAIL)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        check(estimator)
