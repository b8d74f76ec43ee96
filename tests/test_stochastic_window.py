"""Deferred dense steps of fastreg._sgd.epoch_csr (``window > 1``) and the untracked
Adam pass, against the plain-Python reference (every coordinate updated at every step).

The windows defer the zero-gradient steps of the coordinates that no row touches
and catch a coordinate up when a row touches it, at the end of a window, of an
epoch and of a ``partial_fit`` call: these tests put coordinates idle for a
whole epoch, for many windows, touched in consecutive batches, and chunk
boundaries in the middle of a window.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import fastreg.solvers.stochastic as stochastic
from fastreg import SGDRegressor
from fastreg.reference.stochastic import StochasticReference
from fastreg.solvers.stochastic import StochasticSolver


def rows(n=300, p=600, nnz=3, seed=0, dtype=np.float64):
    """CSR rows on a skewed column popularity (frequent columns touched in consecutive
    batches, rare ones idle for many windows) plus columns never touched at all."""
    rng = np.random.default_rng(seed)
    prob = 1.0 / np.arange(1, p - 50 + 1) ** 0.7
    prob /= prob.sum()
    cols = np.stack([rng.choice(p - 50, nnz, replace=False, p=prob) for _ in range(n)])
    X = sp.csr_matrix((rng.standard_normal(n * nnz), cols.ravel(),
                       np.arange(0, n * nnz + 1, nnz)), shape=(n, p))
    X.sort_indices()
    y = X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def tol(dtype):
    return dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=1e-3, atol=1e-4)


CASES = [
    dict(optimizer="adam", l2=0.1, eta0=0.02),
    dict(optimizer="adamw", weight_decay=0.1, eta0=0.02, learning_rate="cosine", horizon=900,
         warmup=7),
    dict(optimizer="adam", l2=0.05, l1=0.01, weight_decay=0.05, eta0=0.02),
    dict(optimizer="amsgrad", l2=0.1, l1=0.005, eta0=0.02),
    dict(optimizer="momentum", l2=0.1, weight_decay=0.1, momentum=0.8, eta0=0.01),
    dict(optimizer="nesterov", l2=0.1, l1=0.01, momentum=0.5, eta0=0.01,
         learning_rate="invscaling"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(
    f"{k}={v}" for k, v in c.items() if k in ("optimizer", "l1", "learning_rate")))
@pytest.mark.parametrize("batch_size,window", [(1, 7), (3, 64), (4, 2)])
def test_windows_equal_dense_reference(case, batch_size, window, dtype, monkeypatch):
    X, y = rows(dtype=dtype)
    kw = dict(loss="squared_error", batch_size=batch_size, **case)
    solver = StochasticSolver(1, X.shape[1], dtype, **kw)
    monkeypatch.setattr(solver, "window", lambda nnz_per_row: window)
    ref = StochasticReference(1, X.shape[1], **kw)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    for _ in range(2):   # (300 / batch_size steps per epoch: the last window is partial)
        order = rng.permutation(X.shape[0])
        loss = solver.epoch(X, y, sw, order)
        loss_ref = ref.epoch(X.toarray(), y, sw, order)
        np.testing.assert_allclose(solver.W[0, :-1], ref.W[0], **tol(dtype))
        np.testing.assert_allclose(solver.W[0, -1], ref.b[0], **tol(dtype))
        assert loss == pytest.approx(loss_ref, rel=1e-10 if dtype == np.float64 else 1e-4)
        assert not solver._grad.any()
    state = solver.optimizer_state()
    if "momentum_buffer" in state:
        np.testing.assert_allclose(state["momentum_buffer"][0, :-1], ref.opt_w.buf[0],
                                   **tol(dtype))
    else:
        np.testing.assert_allclose(state["exp_avg"][0, :-1], ref.opt_w.m[0], **tol(dtype))
        np.testing.assert_allclose(state["exp_avg_sq"][0, :-1], ref.opt_w.v[0], **tol(dtype))
    if case.get("l1"):
        assert np.sum(solver.W[0, :-1] == 0) > 0
    # the never-touched columns moved (decay / L2 only) exactly as the reference's
    assert solver.t == ref.t


def test_window_softmax_and_small_buffer(monkeypatch):
    """Several outputs, and a save buffer of one batch only (every window ends early)."""
    X, _ = rows(n=200, p=300, nnz=4, seed=2)
    y = np.random.default_rng(3).integers(0, 3, 200).astype(float)
    kw = dict(loss="log_loss", mode="softmax", optimizer="adam", l2=0.05, eta0=0.05,
              batch_size=2)
    solver = StochasticSolver(3, 300, np.float64, **kw)
    monkeypatch.setattr(solver, "window", lambda nnz_per_row: 16)
    monkeypatch.setattr(solver, "_window_buffers", lambda X, window: (
        np.zeros((8, 3 * 3)), np.zeros(8, dtype=np.intp)))
    ref = StochasticReference(3, 300, **kw)
    order = np.random.default_rng(4).permutation(200)
    solver.epoch(X, y, np.ones(200), order)
    ref.epoch(X.toarray(), y, np.ones(200), order)
    np.testing.assert_allclose(solver.W[:, :-1], ref.W, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(solver.W[:, -1], ref.b, rtol=1e-10, atol=1e-13)


def test_window_buffer_too_small_is_an_error(monkeypatch):
    X, y = rows(n=20, p=100, nnz=4)
    solver = StochasticSolver(1, 100, np.float64, loss="squared_error", optimizer="adam",
                              l2=0.1, batch_size=2)
    monkeypatch.setattr(solver, "window", lambda nnz_per_row: 4)
    monkeypatch.setattr(solver, "_window_buffers", lambda X, window: (
        np.zeros((5, 3)), np.zeros(5, dtype=np.intp)))
    with pytest.raises(ValueError, match="more stored entries"):
        solver.epoch(X, y, np.ones(20), np.arange(20))


def test_window_choice():
    """Windows for few stored entries per batch on many features; none otherwise."""
    def window(p, batch_size, nnz, **kw):
        return StochasticSolver(1, p, np.float32, loss="squared_error", batch_size=batch_size,
                                **{"optimizer": "adam", "l2": 1e-4, **kw}).window(nnz)
    assert window(10 ** 6, 1, 50) == 10
    assert window(10 ** 6, 32, 50) == window(10 ** 6, 256, 50) == 1
    assert window(1000, 1, 1) == 1                          # below WINDOW_MIN_FEATURES
    assert window(10 ** 6, 1, 50, optimizer="sgd") == 1      # lazy closed form instead
    assert window(10 ** 6, 1, 50, average=1) == 1


@pytest.mark.parametrize("window", [1, 5])
def test_partial_fit_chunks_equal_fit(window, monkeypatch):
    """Chunk boundaries in the middle of a window (chunks of 21 rows, batch 3: 7 steps
    per call, windows of 5): the pending steps are applied at the end of every call."""
    monkeypatch.setattr(StochasticSolver, "window", lambda self, nnz_per_row: window)
    X, y = rows(n=210, p=400, nnz=2, seed=5)
    kw = dict(optimizer="adam", alpha=0.01, eta0=0.01, batch_size=3, shuffle=False,
              random_state=0)
    a = SGDRegressor(max_iter=1, tol=None, **kw).fit(X, y)
    b = SGDRegressor(**kw)
    for start in range(0, 210, 21):
        b.partial_fit(X[start:start + 21], y[start:start + 21])
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=1e-10, atol=1e-13)
    c = SGDRegressor(max_iter=1, tol=None, **kw).fit(X.toarray(), y)   # dense rows
    np.testing.assert_allclose(a.coef_, c.coef_, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("p", [20, 5000])
def test_adam_dense_pass_tracked_or_not(p, dtype):
    """Adam with coupled L2 on CSR rows, without windows: many stored entries per batch
    and coefficient (p = 20: the pass zeroes all of G) or few (p = 5000: the touched
    coordinates are listed and zeroed)."""
    rng = np.random.default_rng(7)
    X = sp.random(120, p, density=min(1.0, 6.0 / p), random_state=8, format="csr",
                  dtype=np.float64)
    y = X @ rng.standard_normal(p) + 0.1
    X, y = X.astype(dtype), y.astype(dtype)
    kw = dict(loss="huber", epsilon=0.3, optimizer="adam", l2=0.1, l1=0.001, eta0=0.03,
              batch_size=5)
    solver = StochasticSolver(1, p, dtype, **kw)
    solver.window = lambda nnz_per_row: 1
    ref = StochasticReference(1, p, **kw)
    for _ in range(2):
        order = rng.permutation(120)
        solver.epoch(X, y, np.ones(120, dtype=dtype), order)
        ref.epoch(X.toarray(), y, np.ones(120), order)
        np.testing.assert_allclose(solver.W[0, :-1], ref.W[0], **tol(dtype))
        np.testing.assert_allclose(solver.W[0, -1], ref.b[0], **tol(dtype))
        assert not solver._grad.any()


@pytest.mark.parametrize("batch_size", [4, 9, 32])
@pytest.mark.parametrize("blas3", [False, True], ids=["rows", "gemm"])
def test_dense_row_blocks_equal_reference(batch_size, blas3, dtype, monkeypatch):
    """Dense batches four rows at a time (and the remaining rows one by one; 9 = 2 x 4
    + 1) or through gemm, several outputs, cumulative L1 marks included."""
    monkeypatch.setattr(stochastic, "BLAS3_MIN_COEF_BYTES", 0 if blas3 else 2 ** 62)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((101, 37))
    X[rng.random(X.shape) > 0.6] = 0.0
    X = X.astype(dtype)
    y = rng.integers(0, 5, 101).astype(dtype)
    for kw in (dict(loss="log_loss", mode="softmax", optimizer="adam", l2=1e-3, l1=1e-3),
               dict(loss="hinge", mode="ovr", optimizer="momentum", l2=1e-3),
               dict(loss="log_loss", mode="softmax", optimizer="sgd", l1=1e-3,
                    l1_mode="cumulative"),
               dict(loss="hinge", mode="ovr", optimizer="sgd", l2=1e-2)):
        kw = dict(kw, batch_size=batch_size, eta0=0.02)
        solver = StochasticSolver(5, 37, dtype, **kw)
        ref = StochasticReference(5, 37, **kw)
        sw = rng.uniform(0.5, 2.0, 101).astype(dtype)
        for _ in range(2):
            order = rng.permutation(101)
            solver.epoch(X, y, sw, order)
            ref.epoch(X, y, sw, order)
        np.testing.assert_allclose(solver.W[:, :-1], ref.W, **tol(dtype))
        np.testing.assert_allclose(solver.W[:, -1], ref.b, **tol(dtype))
