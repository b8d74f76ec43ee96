"""Lazy sparse epochs of fastreg._sgd (the active set of epoch_csr_active, the
closed-form SGD catch-up) against dense (eager) updates of every coordinate.

References: fastreg.reference.stochastic.StochasticReference (plain numpy, every
coordinate updated at every step) and the dense-row kernel on ``X.toarray()``.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastreg import SGDClassifier, SGDRegressor
from fastreg.reference.stochastic import StochasticReference
from fastreg.solvers.stochastic import StochasticSolver, optimal_t0


def zipf_rows(n=1000, p=400, nnz=2, seed=0, dtype=np.float64):
    """CSR rows whose columns follow a 1/(j+1) popularity: the rare columns stay
    idle for hundreds of steps (frozen), the frequent ones stay active."""
    rng = np.random.default_rng(seed)
    prob = 1.0 / np.arange(1, p + 1)
    prob /= prob.sum()
    cols = np.stack([rng.choice(p, nnz, replace=False, p=prob) for _ in range(n)])
    vals = rng.standard_normal((n, nnz))
    X = sp.csr_matrix((vals.ravel(), cols.ravel(), np.arange(0, n * nnz + 1, nnz)),
                      shape=(n, p))
    X.sort_indices()
    y = X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def force_lazy(monkeypatch):
    """Use the lazy kernels whatever the size heuristic says (small test problems)."""
    choose = StochasticSolver.sparse_kernel
    monkeypatch.setattr(StochasticSolver, "sparse_kernel",
                        lambda self, nnz_per_row=0.0: choose(self, 0.0))


LAZY_CASES = [
    dict(optimizer="adam", eta0=0.02),
    dict(optimizer="adamw", weight_decay=0.05, eta0=0.02, learning_rate="cosine", horizon=2000,
         warmup=10),
    dict(optimizer="adamw", weight_decay=0.5, eta0=0.05, learning_rate="constant"),  # P < 1e-9
    dict(optimizer="adam", l1=0.02, eta0=0.02, learning_rate="constant"),
    dict(optimizer="amsgrad", l1=0.01, weight_decay=0.1, eta0=0.02),
    dict(optimizer="amsgrad", eta0=0.02, betas=(0.8, 0.9)),
    dict(optimizer="momentum", momentum=0.9, eta0=0.005, weight_decay=0.1),
    dict(optimizer="nesterov", momentum=0.7, eta0=0.01, l1=0.01, learning_rate="constant"),
    dict(optimizer="adam", eta0=0.5, learning_rate="optimal", alpha=0.5),
]


@pytest.mark.parametrize("case", LAZY_CASES, ids=lambda c: "-".join(
    f"{k}={v}" for k, v in c.items() if k in ("optimizer", "l1", "learning_rate")))
@pytest.mark.parametrize("batch_size", [1, 7])
def test_active_set_equals_dense_reference(case, batch_size, dtype):
    X, y = zipf_rows(dtype=dtype)
    kw = dict(loss="squared_error", batch_size=batch_size, **case)
    solver = StochasticSolver(1, X.shape[1], dtype, **kw)
    if kw.get("learning_rate") == "optimal":
        kw["optimal_t0"] = optimal_t0("squared_error", kw["alpha"])
    ref = StochasticReference(1, X.shape[1], **kw)
    assert solver.sparse_kernel(0.0) == "active"
    solver.sparse_kernel = lambda nnz_per_row=0.0: "active"   # (the size heuristic aside)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    frozen = 0
    for _ in range(2):
        order = rng.permutation(X.shape[0])
        loss = solver.epoch(X, y, sw, order)
        loss_ref = ref.epoch(X, y, sw, order)
        used = np.diff(X.tocsc().indptr) > 0          # frozen after having moved
        frozen = max(frozen, int(((solver._buffers["frozen_at"] >= 0) & used).sum()))
        tol = dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=1e-3,
                                                                           atol=1e-4)
        np.testing.assert_allclose(solver.W[0, :-1], ref.W[0], **tol)
        np.testing.assert_allclose(solver.W[0, -1], ref.b[0], **tol)
        assert loss == pytest.approx(loss_ref, rel=1e-10 if dtype == np.float64 else 1e-4)
    state = solver.optimizer_state()
    if case["optimizer"] in ("adam", "adamw", "amsgrad"):
        np.testing.assert_allclose(state["exp_avg"][0, :-1], ref.opt_w.m[0], **tol)
        np.testing.assert_allclose(state["exp_avg_sq"][0, :-1], ref.opt_w.v[0], **tol)
    else:
        np.testing.assert_allclose(state["momentum_buffer"][0, :-1], ref.opt_w.buf[0], **tol)
    if batch_size == 1:        # (2000 steps) the laziness was exercised: frozen after moving
        assert frozen > 0
    if case.get("l1"):
        assert np.sum(solver.W[0, :-1] == 0) > 0


def test_active_set_multiclass_softmax():
    X, _ = zipf_rows(n=800, p=60, seed=2)
    y = np.random.default_rng(3).integers(0, 3, 800).astype(float)
    kw = dict(loss="log_loss", mode="softmax", optimizer="adamw", weight_decay=0.1,
              eta0=0.05, batch_size=3)
    solver = StochasticSolver(3, 60, np.float64, **kw)
    ref = StochasticReference(3, 60, **kw)
    order = np.random.default_rng(4).permutation(800)
    solver.epoch(X, y, np.ones(800), order)
    ref.epoch(X, y, np.ones(800), order)
    np.testing.assert_allclose(solver.W[:, :-1], ref.W, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(solver.W[:, -1], ref.b, rtol=1e-10, atol=1e-13)


def test_coupled_l2_is_not_lazy():
    """With coupled L2 an idle coordinate still has the gradient l2 * w: dense path;
    and the active set is not used when it would span most coordinates."""
    solver = StochasticSolver(1, 10 ** 6, np.float64, loss="squared_error", optimizer="adam",
                              batch_size=32)
    assert solver.sparse_kernel(0.1) == "active" and solver.sparse_kernel(50) == "dense"
    for kw in (dict(optimizer="adam", l2=0.1), dict(optimizer="momentum", l2=0.1),
               dict(optimizer="adam", average=1)):
        assert StochasticSolver(1, 5, np.float64, loss="squared_error",
                                **kw).sparse_kernel() == "dense"
    assert StochasticSolver(1, 5, np.float64, loss="squared_error").sparse_kernel() == \
        "lazy_sgd"


@pytest.mark.parametrize("optimizer", ["adamw", "nesterov", "sgd"])
def test_estimator_sparse_equals_dense(optimizer, monkeypatch):
    """The lazy CSR epochs and the dense-row (BLAS) epochs give the same fit."""
    force_lazy(monkeypatch)
    X, y = zipf_rows(n=600, p=80, seed=5)
    kw = dict(optimizer=optimizer, penalty=None if optimizer != "sgd" else "elasticnet",
              alpha=1e-3, eta0=0.01, batch_size=4, max_iter=3, tol=None, random_state=0)
    a = SGDRegressor(**kw).fit(X, y)
    b = SGDRegressor(**kw).fit(X.toarray(), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_dense_blas3_batches_equal_reference(batch_size, dtype):
    """Dense batches through gemm (batch > 1) and dot/axpy (batch 1): the reference."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200, 30)).astype(dtype)
    y = rng.integers(0, 4, 200).astype(dtype)
    for mode, loss in (("ovr", "hinge"), ("softmax", "log_loss")):
        kw = dict(loss=loss, mode=mode, optimizer="adam", batch_size=batch_size, eta0=0.01,
                  l2=1e-3, l1=1e-3)
        solver = StochasticSolver(4, 30, dtype, **kw)
        ref = StochasticReference(4, 30, **kw)
        order = rng.permutation(200)
        solver.epoch(X, y, np.ones(200, dtype=dtype), order)
        ref.epoch(X, y, np.ones(200), order)
        tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-3,
                                                                           atol=1e-4)
        np.testing.assert_allclose(solver.W[:, :-1], ref.W, **tol)
        np.testing.assert_allclose(solver.W[:, -1], ref.b, **tol)


def test_partial_fit_adam_sparse_stream_equals_fit(monkeypatch):
    force_lazy(monkeypatch)
    X, y = zipf_rows(n=400, p=50, seed=7)
    kw = dict(optimizer="adamw", penalty=None, eta0=0.01, batch_size=4, shuffle=False,
              random_state=0)
    a = SGDRegressor(max_iter=1, tol=None, **kw).fit(X, y)
    b = SGDRegressor(**kw)
    for start in range(0, 400, 40):
        b.partial_fit(X[start:start + 40], y[start:start + 40])
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-10, atol=1e-13)
    c = SGDClassifier(loss="log_loss", **kw)
    labels = (y > np.median(y)).astype(int)
    for start in range(0, 400, 40):
        c.partial_fit(X[start:start + 40], labels[start:start + 40], classes=[0, 1])
    d = SGDClassifier(loss="log_loss", max_iter=1, tol=None, **kw).fit(X, labels)
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kw", [dict(l2=0.01, l1=0.002, eta0=0.05, learning_rate="constant"),
                                dict(l2=5.0, l1=0.002, eta0=0.3, learning_rate="invscaling"),
                                dict(l2=0.01, l1=0.002, eta0=0.05, l1_mode="cumulative")],
                         ids=["prox", "dense-steps", "cumulative"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lazy_sgd_rows_on_many_features_equal_reference(kw, dtype):
    """One-row lazy SGD steps with the coefficient cache hints (from 8192 features on)
    and row look-ahead: equal to the dense reference, over runs broken by steps
    with ``1 - lr_t l2 <= 0`` ('dense-steps': ``1.5 / t^0.25 >= 1`` for ``t <= 5``)."""
    X, y = zipf_rows(n=300, p=9000, nnz=4, seed=7, dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, 300).astype(dtype)
    kw = dict(kw, loss="huber", epsilon=0.5)
    solver = StochasticSolver(1, 9000, dtype, **kw)
    ref = StochasticReference(1, 9000, **kw)
    Xd = X.astype(np.float64).toarray()
    rng = np.random.default_rng(3)
    for _ in range(2):
        order = rng.permutation(300)
        solver.epoch(X, y, sw, order)
        ref.epoch(Xd, y.astype(np.float64), sw.astype(np.float64), order)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    coef, intercept = solver.parameters()
    np.testing.assert_allclose(coef, ref.W, **tol)
    np.testing.assert_allclose(intercept, ref.b, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epochs_restore_the_floating_point_mode(dtype):
    """The epoch kernels flush subnormals to zero while they run (Adam's moments of
    coordinates idle for ~800 steps decay into that range in float32, where arithmetic
    is ~100x slower) and restore the caller's mode on return: afterwards subnormal
    arithmetic in this thread is exact again. The AdamW steps still equal the dense
    float64 reference (batch 1, 1500 steps on 3000 features of 2 entries per row)."""
    X, y = zipf_rows(n=1500, p=3000, nnz=2, seed=5, dtype=dtype)
    sw = np.ones(1500, dtype=dtype)
    kw = dict(loss="squared_error", optimizer="adamw", weight_decay=1e-2, eta0=0.01,
              learning_rate="constant", batch_size=1)
    solver = StochasticSolver(1, 3000, dtype, **kw)
    ref = StochasticReference(1, 3000, **kw)
    order = np.random.default_rng(2).permutation(1500)
    solver.epoch(X, y, sw, order)
    for t in (np.float32, np.float64):
        tiny = np.finfo(t).tiny
        assert np.array([tiny], dtype=t)[0] * t(0.25) > 0       # results not flushed
        assert np.array([tiny / 4], dtype=t)[0] * t(2.0) > 0    # subnormal operands kept
    ref.epoch(X.astype(np.float64).toarray(), y.astype(np.float64), sw.astype(np.float64),
              order)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    coef, intercept = solver.parameters()
    np.testing.assert_allclose(coef, ref.W, **tol)
    np.testing.assert_allclose(intercept, ref.b, **tol)
