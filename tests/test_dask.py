"""fastreg.dask: per-block kernels, engine, distributed estimators vs the single-machine ones."""
import threading

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastreg  # noqa: E402
from fastreg import _blocks  # noqa: E402
from fastreg.reference.objectives import enet_objective, logistic_objective  # noqa: E402

fd = pytest.importorskip("fastreg.dask")
from fastreg.dask._block import RowBlock, block_loss_grad, make_block  # noqa: E402
from fastreg.dask._engine import DaskEngine, SerialEngine  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _regression(n=240, p=25, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:5] = [3, -2, 1.5, 1, -1]
    y = X @ w + 0.5 * rng.standard_normal(n) + 2.0
    return X.astype(dtype), y.astype(dtype)


def _rel(a, b):
    return abs(a - b) / abs(b)


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("fmt", ["C", "F", "csr"])
@pytest.mark.parametrize("loss", [0, 1])
def test_loss_grad_kernel_vs_numpy(fmt, loss, dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((37, 6))
    X[rng.random(X.shape) < 0.5] = 0
    y = rng.standard_normal(37) if loss == 0 else np.sign(rng.standard_normal(37))
    sw = rng.random(37)
    w = rng.standard_normal(6)
    b = 0.3
    z = X @ w + b
    if loss == 0:
        ref_loss = 0.5 * sw @ (z - y) ** 2
        d = sw * (z - y)
        h = sw
    else:
        ref_loss = sw @ np.logaddexp(0, -y * z)
        d = -sw * y / (1 + np.exp(y * z))
        prob = 1 / (1 + np.exp(y * z))
        h = sw * prob * (1 - prob)
    Xd = X.astype(dtype)
    zout = np.empty(37)
    grad = np.zeros(6, dtype=dtype)
    args = (y.astype(dtype), sw.astype(dtype), w.astype(dtype), zout, grad, b, loss)
    if fmt == "csr":
        A = sp.csr_matrix(Xd)
        val, dsum, hsum = _blocks.loss_grad_csr(A.data, A.indices, A.indptr, *args)
    else:
        val, dsum, hsum = _blocks.loss_grad_dense(np.asarray(Xd, order=fmt), *args)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(val, ref_loss, rtol=rtol)
    np.testing.assert_allclose(dsum, d.sum(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(hsum, h.sum(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad, X.T @ d, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(zout, X @ w, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("fmt", ["C", "F", "csr"])
def test_xv_xtv_kernels(fmt, dtype):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20, 4)).astype(dtype)
    v, u = rng.standard_normal(4).astype(dtype), rng.standard_normal(20).astype(dtype)
    out, acc = np.empty(20), np.ones(4, dtype=dtype)
    if fmt == "csr":
        A = sp.csr_matrix(X)
        _blocks.xv_csr(A.data, A.indices, A.indptr, v, out)
        _blocks.xtv_csr(A.data, A.indices, A.indptr, u, acc)
    else:
        _blocks.xv_dense(np.asarray(X, order=fmt), v, out)
        _blocks.xtv_dense(np.asarray(X, order=fmt), u, acc)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, X.astype(float) @ v, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(acc, 1 + X.T.astype(float) @ u, rtol=rtol, atol=rtol)


def test_kernels_empty_block_and_bad_shapes():
    X = np.empty((0, 3))
    grad = np.zeros(3)
    assert _blocks.loss_grad_dense(X, np.empty(0), np.empty(0), np.ones(3), np.empty(0), grad,
                                   1.0, 0) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="entries"):
        _blocks.loss_grad_dense(np.ones((2, 3)), np.ones(3), np.ones(2), np.ones(3),
                                np.empty(2), grad, 0.0, 0)
    with pytest.raises(ValueError, match="loss_code"):
        _blocks.loss_grad_dense(np.ones((2, 3)), np.ones(2), np.ones(2), np.ones(3),
                                np.empty(2), grad, 0.0, 7)


def test_logistic_intercept_kernel_vs_numpy(dtype):
    rng = np.random.default_rng(3)
    z = 30 * rng.standard_normal(50)                  # margins of both signs, some huge
    y = np.sign(rng.standard_normal(50)).astype(dtype)
    sw = rng.random(50).astype(dtype)
    b, C = -0.7, 2.5
    m = y.astype(float) * (z + b)
    prob = np.exp(-np.logaddexp(0, m))                # sigmoid(-m), stable
    ref_g = -C * np.sum(sw * y * prob)
    ref_h = C * np.sum(sw * prob * (1 - prob))
    g, h = _blocks.logistic_intercept(z, y, sw, b, C)
    np.testing.assert_allclose([g, h], [ref_g, ref_h], rtol=1e-12, atol=1e-300)
    with pytest.raises(ValueError, match="entries"):
        _blocks.logistic_intercept(z, y[:3], sw, b, C)


def test_make_block_rejects_nan():
    X = np.ones((3, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make_block(X, np.ones(3), np.ones(3), np.float64, 0)


@pytest.mark.parametrize("gram", [True, False])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_make_block_with_stats_rejects_non_finite(gram, fmt, bad, dtype):
    """The build with statistics reads X's finiteness from X^T s (positive weights) or checks
    X first (a zero weight): a bad entry is found either way, also in a zero-weight row, and
    finite entries whose sums overflow are not rejected."""
    def build(X, sw):
        X = sp.csr_matrix(X) if fmt == "csr" else X
        return make_block(X, np.ones(4), sw, dtype, 0, False, (gram,))

    for row, sw in ((1, np.ones(4)), (2, np.array([1.0, 1.0, 0.0, 1.0]))):
        X = np.ones((4, 3))
        X[row, 1] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            build(X, sw)
    huge = np.finfo(dtype).max / 2
    X = np.full((4, 3), huge)                        # finite; X^T s overflows to inf
    with np.errstate(over="ignore"):                # the column sums of squares overflow too
        block = build(X, np.ones(4))
    assert np.isinf(block.built[4]).all() and block.X.dtype == dtype


# ----------------------------------------------------------------------------- engine
def test_engines_agree_and_are_deterministic(client):
    X, y = _regression(n=90, p=7)
    blocks = [RowBlock(np.ascontiguousarray(X[i:i + 13]), y[i:i + 13], np.ones(len(y[i:i + 13])))
              for i in range(0, 90, 13)]
    w = np.linspace(-1, 1, 7)
    serial = SerialEngine(blocks, fan_in=2).map_sum(block_loss_grad, w, 0.5, 0)
    futures = client.scatter(blocks)
    dask_eng = DaskEngine(client, futures, fan_in=2)
    r1 = dask_eng.map_sum(block_loss_grad, w, 0.5, 0)
    r2 = dask_eng.map_sum(block_loss_grad, w, 0.5, 0)
    assert r1[0] == serial[0] == r2[0]
    np.testing.assert_array_equal(r1[2], serial[2])
    np.testing.assert_allclose(r1[2], X.T @ (X @ w + 0.5 - y), rtol=1e-12)


# ----------------------------------------------------------------------------- estimators
@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_enet_matches_single_machine(client, kind, l1_ratio):
    X, y = _regression()
    if kind == "sparse":
        X[np.abs(X) < 0.8] = 0
        Xs = sp.csr_matrix(X)
        Xd = da.from_array(Xs, chunks=((60, 1, 0, 79, 100), (25,)), asarray=False)
    else:
        Xs = X
        Xd = da.from_array(X, chunks=((60, 1, 0, 79, 100), (25,)))
    sw = np.random.default_rng(3).random(240) + 0.5
    alpha = 0.05
    ref = fastreg.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12).fit(Xs, y, sw)
    est = fd.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10).fit(
        Xd, y, sample_weight=da.from_array(sw, chunks=(Xd.chunks[0],)))
    obj = dict(alpha=alpha, l1_ratio=l1_ratio, sample_weight=sw)
    p_ref = enet_objective(X, y, ref.coef_, ref.intercept_, **obj)
    p = enet_objective(X, y, est.coef_, est.intercept_, **obj)
    assert _rel(p, p_ref) < 1e-8
    assert est.dual_gap_ >= -1e-12 and est.n_iter_ > 0
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-5)
    assert est.predict(X).shape == (240,)
    assert est.predict(Xd).compute().shape == (240,)


def test_lasso_numpy_input_float32_no_intercept(client):
    X, y = _regression(dtype=np.float32)
    ref = fastreg.Lasso(alpha=0.1, fit_intercept=False, tol=1e-7).fit(X, y)
    est = fd.Lasso(alpha=0.1, fit_intercept=False, tol=1e-7).fit(X, y)
    assert est.coef_.dtype == np.float32 and est.intercept_ == 0.0
    p_ref = enet_objective(X, y, ref.coef_, None, alpha=0.1)
    assert _rel(enet_objective(X, y, est.coef_, None, alpha=0.1), p_ref) < 1e-5


@pytest.mark.parametrize("penalty,l1_ratio,kind", [("l1", None, "dense"), ("l2", None, "dense"),
                                                   ("elasticnet", 0.5, "dense"),
                                                   ("l1", None, "sparse")])
def test_logistic_matches_single_machine(client, penalty, l1_ratio, kind):
    X, y = _regression(n=200, p=15, seed=4)
    labels = np.where(y > 2.0, "yes", "no")
    if kind == "sparse":
        X[np.abs(X) < 0.7] = 0
        Xin = da.from_array(sp.csr_matrix(X), chunks=((50, 1, 0, 149), (15,)), asarray=False)
    else:
        Xin = da.from_array(X, chunks=((50, 1, 0, 149), (15,)))
    kw = dict(penalty=penalty, C=0.3, l1_ratio=l1_ratio)
    ref = fastreg.LogisticRegression(tol=1e-12, **kw).fit(X, labels)
    est = fd.LogisticRegression(tol=1e-10, **kw).fit(Xin, labels)
    assert list(est.classes_) == ["no", "yes"]
    p_ref = logistic_objective(X, labels, ref.coef_, ref.intercept_, **kw)
    p = logistic_objective(X, labels, est.coef_, est.intercept_, **kw)
    assert _rel(p, p_ref) < 1e-8
    assert est.coef_.shape == (1, 15) and est.n_iter_[0] > 0
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "fista",
                                    pytest.param("admm", marks=pytest.mark.slow)])
def test_logistic_l2_solvers_agree(client, solver):
    X, y = _regression(n=200, p=15, seed=6)
    labels = (y > 2.0).astype(int)
    Xd = da.from_array(X, chunks=(70, 15))
    kw = dict(penalty="l2", C=0.3)
    ref = fastreg.LogisticRegression(tol=1e-12, **kw).fit(X, labels)
    est = fd.LogisticRegression(tol=1e-10 if solver != "admm" else 1e-9, solver=solver,
                                **kw).fit(Xd, labels)
    assert est.solver_ == solver
    p_ref = logistic_objective(X, labels, ref.coef_, ref.intercept_, **kw)
    assert _rel(logistic_objective(X, labels, est.coef_, est.intercept_, **kw), p_ref) < 1e-8


def test_auto_solver_choice(client, monkeypatch):
    """Newton with block Hessians for few features; above the bound, L-BFGS when smooth and
    FISTA with an L1 part (the bound lowered so that a small problem crosses it)."""
    import fastreg.dask._solve as solve_mod
    X, y = _regression(n=150, p=12, seed=8)
    labels = (y > 2.0).astype(int)
    assert fd.LogisticRegression(C=0.3).fit(X, labels).solver_ == "newton"
    assert fd.Lasso(alpha=0.05).fit(X, y).solver_ == "newton"
    monkeypatch.setattr(solve_mod, "HESSIAN_MAX_FEATURES", 5)
    est = fd.LogisticRegression(C=0.3, tol=1e-9).fit(X, labels)
    ref = fastreg.LogisticRegression(C=0.3, tol=1e-12).fit(X, labels)
    assert est.solver_ == "lbfgs"
    assert _rel(logistic_objective(X, labels, est.coef_, est.intercept_, C=0.3),
                logistic_objective(X, labels, ref.coef_, ref.intercept_, C=0.3)) < 1e-8
    assert fd.Lasso(alpha=0.05).fit(X, y).solver_ == "fista"
    assert fd.ElasticNet(alpha=0.05, l1_ratio=0.0).fit(X, y).solver_ == "lbfgs"


def test_clone_copy_pickle_keep_or_drop_client(client):
    """A Client given as ``client=`` is passed by reference by clone and deepcopy (a Client
    cannot be copied), and dropped (None) by pickle; the other parameters are copied."""
    import copy
    import pickle

    from sklearn.base import clone
    est = fd.LogisticRegression(C=0.5, client=client)
    for new in (clone(est), copy.deepcopy(est)):
        assert new.client is client and new.C == 0.5 and new is not est
    X, y = _regression(n=80, p=6)
    fitted = fd.Lasso(alpha=0.1, client=client).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert again.client is None and fitted.client is client
    np.testing.assert_array_equal(again.coef_, fitted.coef_)
    copied = copy.deepcopy(fitted)
    assert copied.client is client and copied.coef_ is not fitted.coef_
    np.testing.assert_array_equal(copied.coef_, fitted.coef_)


def test_deterministic(client):
    X, y = _regression()
    Xd = da.from_array(X, chunks=(70, 25))
    a = fd.Lasso(alpha=0.05, tol=1e-6).fit(Xd, y)
    b = fd.Lasso(alpha=0.05, tol=1e-6).fit(Xd, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.intercept_ == b.intercept_ and a.n_iter_ == b.n_iter_


def test_warm_start(client):
    X, y = _regression()
    est = fd.Lasso(alpha=0.05, tol=1e-8, warm_start=True).fit(X, y)
    n_cold = est.n_iter_
    est.fit(X, y)
    assert est.n_iter_ < n_cold


def test_errors(client):
    X, y = _regression()
    with pytest.raises(ValueError, match="chunked along columns"):
        fd.Lasso(alpha=0.1).fit(da.from_array(X, chunks=(60, 10)), y)
    with pytest.raises(ValueError, match="mismatched row chunks"):
        fd.Lasso(alpha=0.1).fit(da.from_array(X, chunks=(60, 25)), da.from_array(y, chunks=50))
    Xn = X.copy()
    Xn[100, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fd.Lasso(alpha=0.1).fit(da.from_array(Xn, chunks=(60, 25)), y)
    with pytest.raises(ValueError, match="entries"):
        fd.Lasso(alpha=0.1).fit(X, y[:-1])
    with pytest.raises(ValueError, match="binary"):
        fd.LogisticRegression().fit(X, np.arange(240) % 3)
    with pytest.raises(ValueError, match="unknown chunk"):
        Xu = da.from_array(X, chunks=(60, 25))
        fd.Lasso(alpha=0.1).fit(Xu[Xu[:, 0] > 0], y[:10])


# ----------------------------------------------------------------------------- integrations
def test_sgd_through_dask_ml_incremental(client):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = _regression()
    Xd, yd = da.from_array(X, chunks=(60, 25)), da.from_array(y, chunks=60)
    inc = wrappers.Incremental(fastreg.SGDRegressor(random_state=0, learning_rate="constant",
                                                    eta0=0.01), shuffle_blocks=False)
    inc.fit(Xd, yd)
    manual = fastreg.SGDRegressor(random_state=0, learning_rate="constant", eta0=0.01)
    for i in range(0, 240, 60):
        manual.partial_fit(X[i:i + 60], y[i:i + 60])
    np.testing.assert_allclose(inc.estimator_.coef_, manual.coef_, rtol=1e-6)
    labels = (y > 2).astype(int)
    clf = wrappers.Incremental(fastreg.SGDClassifier(random_state=0), shuffle_blocks=False)
    clf.fit(Xd, da.from_array(labels, chunks=60), classes=[0, 1])
    assert clf.score(Xd, da.from_array(labels, chunks=60)) > 0.8


def test_lasso_cv_on_joblib_dask_backend(client):
    joblib = pytest.importorskip("joblib")
    X, y = _regression(n=120, p=10)
    ref = fastreg.LassoCV(cv=3, n_alphas=10).fit(X, y)
    with joblib.parallel_backend("dask"):
        est = fastreg.LassoCV(cv=3, n_alphas=10, n_jobs=2).fit(X, y)
    assert est.alpha_ == ref.alpha_
    np.testing.assert_allclose(est.mse_path_, ref.mse_path_, rtol=1e-10)


@pytest.mark.slow
def test_worker_processes_and_killed_worker():
    """With 2 worker processes: same result as single-machine; a worker restarted mid-fit
    (its blocks and in-flight tasks lost) is recomputed and the fit is bit-identical."""
    X, y = _regression(n=400, p=20, seed=5)
    Xd = da.from_array(X, chunks=(50, 20))
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        base = fd.Lasso(alpha=0.02, tol=1e-10, client=c).fit(Xd, y)
        ref = fastreg.Lasso(alpha=0.02, tol=1e-12).fit(X, y)
        obj = dict(alpha=0.02)
        assert _rel(enet_objective(X, y, base.coef_, base.intercept_, **obj),
                    enet_objective(X, y, ref.coef_, ref.intercept_, **obj)) < 1e-8

        original = DaskEngine.map_sum
        calls = {"n": 0}
        killer = []

        def map_sum(self, fn, *args):
            calls["n"] += 1
            if calls["n"] == 1:      # restart one worker while the build round is in flight
                addr = sorted(c.scheduler_info()["workers"])[0]
                th = threading.Thread(target=c.restart_workers, args=([addr],))
                th.start()
                killer.append(th)
            return original(self, fn, *args)

        DaskEngine.map_sum = map_sum
        try:
            again = fd.Lasso(alpha=0.02, tol=1e-10, client=c).fit(Xd, y)
        finally:
            DaskEngine.map_sum = original
            for th in killer:
                th.join()
        assert killer and calls["n"] >= 1
        np.testing.assert_array_equal(again.coef_, base.coef_)
        assert again.intercept_ == base.intercept_
