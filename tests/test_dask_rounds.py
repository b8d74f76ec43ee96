"""fastreg.dask: the fused Newton kernel, the build round's first-step sums, the round counts
of the Newton driver (the label round folded into the build round, the Hessian skipped where
the gap is expected to pass, the least-squares gap from the exact quadratic model), the
placement of the blocks over the workers and the driver's BLAS threads."""
import dask
import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

fd = pytest.importorskip("fastreg.dask")
import fastreg  # noqa: E402
from fastreg import _blocks  # noqa: E402
from fastreg.dask import _engine, _newton, _problem  # noqa: E402
from fastreg.reference.objectives import (enet_duality_gap, enet_objective,  # noqa: E402
                                          logistic_objective)
from fastreg.dask._block import LEAST_SQUARES, LOGISTIC, block_newton, make_block  # noqa: E402
from fastreg.dask._data import balanced_workers, build_engine  # noqa: E402
from fastreg.dask._problem import Problem  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two in-process workers, one thread each (the Client starts and owns the cluster)."""
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=":0") as c:
        yield c


@pytest.fixture
def rounds(monkeypatch):
    """Counts the engine's map-reduce rounds."""
    count = {"n": 0}
    original = _engine.DaskEngine.map_sum

    def counted(self, fn, *args):
        count["n"] += 1
        return original(self, fn, *args)

    monkeypatch.setattr(_engine.DaskEngine, "map_sum", counted)
    return count


def _data(n=300, p=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:4] = [2, -1.5, 1, 0.5]
    y = X @ w + 0.5 * rng.standard_normal(n) + 1.0
    return X.astype(dtype), y.astype(dtype)


def _rel(a, b):
    return abs(a - b) / abs(b)


# ----------------------------------------------------------------------------- kernel
@pytest.mark.parametrize("loss", [0, 1])
@pytest.mark.parametrize("rows", [1, 7, 1000])
def test_newton_dense_kernel_vs_numpy(loss, rows, dtype):
    rng = np.random.default_rng(1)
    n, p = 53, 6
    X = rng.standard_normal((n, p))
    y = rng.standard_normal(n) if loss == 0 else np.sign(rng.standard_normal(n))
    sw = rng.random(n)
    sw[3] = 0.0
    w, b = 0.3 * rng.standard_normal(p), 0.4
    z = X @ w + b
    if loss == 0:
        ref_loss, d, h = 0.5 * sw @ (z - y) ** 2, sw * (z - y), sw
    else:
        pr = 1 / (1 + np.exp(y * z))
        ref_loss, d, h = sw @ np.logaddexp(0, -y * z), -sw * y * pr, sw * pr * (1 - pr)
    c = lambda a: np.ascontiguousarray(a, dtype=dtype)     # noqa: E731
    zout = np.empty(n)
    grad, xh = np.zeros(p, dtype), np.zeros(p, dtype)
    hess, work = np.zeros((p, p), dtype), np.empty((rows, p), dtype)
    val, dsum, hsum = _blocks.newton_dense(c(X), c(y), c(sw), c(w), zout, grad, xh, hess, work,
                                           b, loss)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose([val, dsum, hsum], [ref_loss, d.sum(), h.sum()], rtol=rtol)
    np.testing.assert_allclose(zout, X @ w, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(grad, X.T @ d, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(xh, X.T @ h, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(hess, X.T @ (h[:, None] * X), rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(hess, hess.T)


def test_newton_dense_kernel_empty_and_bad_shapes():
    out = _blocks.newton_dense(np.empty((0, 3)), np.empty(0), np.empty(0), np.ones(3),
                               np.empty(0), np.zeros(3), np.zeros(3), np.zeros((3, 3)),
                               np.empty((4, 3)), 0.0, 1)
    assert out == (0.0, 0.0, 0.0)
    args = [np.ones((2, 3)), np.ones(2), np.ones(2), np.ones(3), np.empty(2), np.zeros(3),
            np.zeros(3), np.zeros((3, 3)), np.empty((4, 3)), 0.0, 0]
    for k, bad, msg in [(7, np.zeros((3, 2)), "hess_out"), (8, np.empty((4, 2)), "work"),
                        (8, np.empty((0, 3)), "work"), (5, np.zeros(2), "grad_out")]:
        a = list(args)
        a[k] = bad
        with pytest.raises(ValueError, match=msg):
            _blocks.newton_dense(*a)
    with pytest.raises(ValueError, match="loss_code"):
        _blocks.newton_dense(*args[:-1], 5)


# ----------------------------------------------------------------------------- build round
@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("loss", [LEAST_SQUARES, LOGISTIC])
def test_first_step_sums_equal_a_newton_round_at_zero(client, kind, loss):
    """The build round's sums give exactly what a Newton round at ``(w, b) = 0`` returns;
    the labels (strings, weighted) come back from the same round."""
    X, y = _data(n=160, p=9, seed=2)
    if kind == "sparse":
        X[np.abs(X) < 0.6] = 0
        Xin = da.from_array(sp.csr_matrix(X), chunks=((40, 1, 0, 119), (9,)), asarray=False)
    else:
        Xin = da.from_array(X, chunks=((40, 1, 0, 119), (9,)))
    sw = np.random.default_rng(3).random(160) + 0.2
    target = np.where(y > 1.0, "b", "a") if loss == LOGISTIC else y
    engine, p, _ = build_engine(Xin, target, da.from_array(sw, chunks=(Xin.chunks[0],)), client,
                                labels=loss == LOGISTIC, gram_max_features=100)
    try:
        if loss == LOGISTIC:
            assert list(engine.classes) == ["a", "b"]
        problem = Problem(engine, loss, 0.5, 0.5, True, C=0.7)
        zero = _newton._sums_at_zero(problem)
        pass_ = engine.map_sum(block_newton, np.zeros(p), 0.0, loss, None, True)
        for a, b in zip(zero, pass_):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        ypm = np.where(y > 1.0, 1.0, -1.0)
        np.testing.assert_allclose(problem.Sy, sw @ (ypm if loss == LOGISTIC else y),
                                   rtol=1e-12)
    finally:
        engine.close()


def test_no_gram_above_the_bound_and_three_labels(client):
    X, y = _data(n=90, p=9)
    engine, _, _ = build_engine(X, y, None, client, gram_max_features=8)
    assert engine.first is None and engine.classes is None
    engine.close()
    engine, _, _ = build_engine(X, np.arange(90) % 3, None, client, labels=True,
                                gram_max_features=100)
    assert list(engine.classes) == [0, 1, 2] and engine.first is None
    engine.close()


# ----------------------------------------------------------------------------- round counts
def test_least_squares_cold_fit_is_one_round(client, rounds):
    """Build + stats + Gram in one round; the step and its certificate (the exact quadratic
    model) on the driver; the gap reported is the true one."""
    X, y = _data()
    est = fd.Lasso(alpha=0.05, tol=1e-6).fit(X, y)
    assert rounds["n"] == 1 and est.solver_ == "newton"
    ref = fastreg.Lasso(alpha=0.05, tol=1e-12).fit(X, y)
    obj = dict(alpha=0.05)
    assert _rel(enet_objective(X, y, est.coef_, est.intercept_, **obj),
                enet_objective(X, y, ref.coef_, ref.intercept_, **obj)) < 1e-8
    primal, _, gap = enet_duality_gap(X, y, est.coef_, est.intercept_, **obj)
    assert abs(gap - est.dual_gap_) <= 1e-12 * primal


def test_least_squares_model_falls_back_to_a_pass_near_rounding(client, rounds):
    """A tolerance at the rounding level of the model: the certificate comes from a pass."""
    X, y = _data()
    y = y + 1e4                              # a large mean: the model's rounding grows
    est = fd.ElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-12).fit(X, y)
    assert rounds["n"] >= 2
    ref = fastreg.ElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-14).fit(X, y)
    obj = dict(alpha=0.05, l1_ratio=0.5)
    assert _rel(enet_objective(X, y, est.coef_, est.intercept_, **obj),
                enet_objective(X, y, ref.coef_, ref.intercept_, **obj)) < 1e-10


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_logistic_rounds(client, rounds, fit_intercept):
    """No intercept: the build round plus one round per later Newton iterate (the gap comes
    with each); with an intercept: a few more (profiling the intercept, then the dual pass)."""
    X, y = _data(n=400, p=10, seed=5)
    labels = (y > 1.0).astype(int)
    est = fd.LogisticRegression(C=0.05, tol=1e-8, fit_intercept=fit_intercept).fit(X, labels)
    n_it = int(est.n_iter_[0])
    assert est.solver_ == "newton"
    assert rounds["n"] <= n_it + (4 if fit_intercept else 1)
    ref = fastreg.LogisticRegression(C=0.05, tol=1e-12, fit_intercept=fit_intercept).fit(
        X, labels)
    kw = dict(C=0.05)
    b = est.intercept_ if fit_intercept else None
    b_ref = ref.intercept_ if fit_intercept else None
    assert _rel(logistic_objective(X, labels, est.coef_, b, **kw),
                logistic_objective(X, labels, ref.coef_, b_ref, **kw)) < 1e-8


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_logistic_gap_refused_paths(client, monkeypatch, fit_intercept):
    """The gap refused where it was expected to pass (the trial point then lacks its Hessian,
    computed by one more round): the fit goes on to the same solution."""
    X, y = _data(n=300, p=8, seed=7)
    labels = (y > 1.0).astype(int)
    original = _problem.GapTracker.update
    refused = {"n": 0}

    def update(self, it, primal, dual, w, intercept):
        ok = original(self, it, primal, dual, w, intercept)
        if ok and refused["n"] < 2:
            refused["n"] += 1
            self.tol_abs *= 1e-3         # tighten: the solver must take more steps
            return False
        return ok

    monkeypatch.setattr(_problem.GapTracker, "update", update)
    est = fd.LogisticRegression(C=0.1, tol=1e-6, fit_intercept=fit_intercept).fit(X, labels)
    assert refused["n"] == 2
    ref = fastreg.LogisticRegression(C=0.1, tol=1e-13, fit_intercept=fit_intercept).fit(
        X, labels)
    b = est.intercept_ if fit_intercept else None
    b_ref = ref.intercept_ if fit_intercept else None
    assert _rel(logistic_objective(X, labels, est.coef_, b, C=0.1),
                logistic_objective(X, labels, ref.coef_, b_ref, C=0.1)) < 1e-10


def test_warm_start_skips_the_gram(client, monkeypatch):
    """A warm start does not start at 0: the build round computes no Gram; same solution."""
    from fastreg.dask import _estimators
    asked = []

    def spy(*args, **kw):
        asked.append(kw.get("gram_max_features", 0))
        return build_engine(*args, **kw)

    monkeypatch.setattr(_estimators, "build_engine", spy)
    X, y = _data()
    labels = (y > 1.0).astype(int)
    est = fd.LogisticRegression(C=0.1, tol=1e-8, warm_start=True).fit(X, labels)
    coef = est.coef_.copy()
    est.fit(X, labels)
    assert asked[0] >= X.shape[1] and asked[1] == 0
    assert est.n_iter_[0] <= 2
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-6, atol=1e-8)


def test_make_block_labels_and_unit_weights():
    block = make_block(np.ones((3, 2)), np.array(["x", "y", "x"]), None, np.float32, 0,
                       labels=True)
    assert block.sw.dtype == np.float32 and np.all(block.sw == 1)
    assert list(block.labels) == ["x", "y", "x"]
    with pytest.raises(ValueError, match="numeric"):
        make_block(np.ones((3, 2)), np.array(["x", "y", "x"]), None, np.float64, 0)


# ----------------------------------------------------------------------------- engine
def test_one_task_per_worker_same_tree_as_serial(client):
    """Blocks spread over both workers so that first-level nodes are split between them: the
    grouped rounds (one task per worker) give the serial engine's sums bit for bit."""
    from fastreg.dask._block import RowBlock, block_loss_grad
    X, y = _data(n=91, p=7)
    blocks = [RowBlock(np.ascontiguousarray(X[i:i + 13]), y[i:i + 13], np.ones(len(y[i:i + 13])))
              for i in range(0, 91, 13)]
    addrs = sorted(client.scheduler_info()["workers"])
    futures = [client.scatter(b, workers=[addrs[k % 3 == 0]]) for k, b in enumerate(blocks)]
    w = np.linspace(-1, 1, 7)
    for fan_in in (2, 3, 8):
        serial = _engine.SerialEngine(blocks, fan_in=fan_in).map_sum(block_loss_grad, w, 0.5, 0)
        eng = _engine.DaskEngine(client, futures, fan_in=fan_in)
        got = eng.map_sum(block_loss_grad, w, 0.5, 0)
        groups = eng._groups()
        assert len(groups) == 2 and sorted(sum((g[1] for g in groups), [])) == list(range(7))
        assert got[0] == serial[0] and got[1] == serial[1]
        np.testing.assert_array_equal(got[2], serial[2])
    np.testing.assert_allclose(got[2], X.T @ (X @ w + 0.5 - y), rtol=1e-12)


def test_rounds_run_on_actors_and_fall_back_to_tasks(client):
    """After the build round the rounds are actor calls (same sums as the serial engine, bit
    for bit); a failing actor call reruns the round as tasks with the same result."""
    from fastreg.dask._block import block_loss_grad
    X, y = _data(n=91, p=7)
    engine, p, _ = build_engine(da.from_array(X, chunks=(13, 7)), y, None, client)
    try:
        assert engine._hosts and sorted(engine._hosts) == sorted(a for a, _ in engine._groups())
        w = np.linspace(-1, 1, 7)
        blocks = client.gather(engine.blocks)
        serial = _engine.SerialEngine(blocks, fan_in=engine.fan_in).map_sum(
            block_loss_grad, w, 0.5, 0)
        got = engine.map_sum(block_loss_grad, w, 0.5, 0)
        assert got[0] == serial[0] and got[1] == serial[1]
        np.testing.assert_array_equal(got[2], serial[2])

        class Broken:
            def run(self, *args):
                raise OSError("lost")
        engine._hosts = {addr: Broken() for addr in engine._hosts}
        again = engine.map_sum(block_loss_grad, w, 0.5, 0)
        assert engine._hosts == {}                   # dropped: the later rounds are tasks
        np.testing.assert_array_equal(again[2], serial[2])
        np.testing.assert_array_equal(engine.map_sum(block_loss_grad, w, 0.5, 0)[2], serial[2])
    finally:
        engine.close()


def test_lbfgs_scaling_and_labels_encoded_in_place(client):
    """The build round's column sums of squares give L-BFGS's Jacobi scaling; the labels are
    encoded in place on the workers; the fit matches the single-machine estimator."""
    from fastreg.dask import _lbfgs
    X, y = _data(n=400, p=9, seed=3)
    labels = np.where(y > 1.0, "b", "a")
    engine, p, _ = build_engine(da.from_array(X, chunks=(70, 9)), labels, None, client,
                                labels=True)
    try:
        np.testing.assert_allclose(engine.sq, (X * X).sum(0), rtol=1e-12)
        problem = Problem(engine, LOGISTIC, 0.0, 1.0, True, C=2.0)
        D = _lbfgs._scaling(problem)
        np.testing.assert_allclose(D[:p], 1 / np.sqrt(0.5 * (X * X).sum(0) + 1.0), rtol=1e-12)
        assert D[p] == pytest.approx(1 / np.sqrt(0.5 * 400))
        res = _lbfgs.lbfgs(problem, tol=1e-10, max_iter=500)
        assert res.converged
    finally:
        engine.close()
    ref = fastreg.LogisticRegression(C=2.0, tol=1e-12).fit(X, labels)
    ypm = np.where(labels == "b", 1.0, -1.0)
    obj = dict(C=2.0, l1_ratio=0.0)
    assert _rel(logistic_objective(X, ypm, res.coef, res.intercept, **obj),
                logistic_objective(X, ypm, ref.coef_[0], ref.intercept_[0], **obj)) < 1e-8


def test_sparse_lbfgs_checks_the_gap_rarely(client, monkeypatch):
    """Sparse logistic with intercept by L-BFGS: the gap's dual passes are taken when the
    model predicts convergence (a handful, not one per few iterations), and the fit matches
    the single-machine estimator."""
    rng = np.random.default_rng(4)
    X = sp.random(600, 40, density=0.1, format="csr", random_state=5)
    y = np.where(X @ rng.standard_normal(40) + 0.3 * rng.standard_normal(600) > 0.2, 1, 0)
    names = []
    original = _engine.DaskEngine.map_sum

    def counted(self, fn, *args):
        names.append(fn.__name__)
        return original(self, fn, *args)

    monkeypatch.setattr(_engine.DaskEngine, "map_sum", counted)
    est = fd.LogisticRegression(C=5.0, tol=1e-8, solver="lbfgs", client=client).fit(
        da.from_array(X, chunks=(150, 40), asarray=False), y)
    ref = fastreg.LogisticRegression(C=5.0, tol=1e-12).fit(X, y)
    ypm = 2.0 * y - 1
    obj = dict(C=5.0)
    assert _rel(logistic_objective(X, ypm, est.coef_[0], est.intercept_[0], **obj),
                logistic_objective(X, ypm, ref.coef_[0], ref.intercept_[0], **obj)) < 1e-8
    assert names.count("block_logistic_dual") <= 3
    assert names.count("block_loss_grad") <= int(est.n_iter_[0]) + 4


# ----------------------------------------------------------------------------- placement
# where the blocks go (balanced over the workers) and what the driver runs with (one BLAS thread)
@pytest.mark.parametrize("on_a", [16, 14, 9, 8])
def test_balanced_workers_moves_only_the_excess(on_a):
    """16 equal chunks, ``on_a`` of them on worker a: 8 each, and a chunk moves only from the
    overloaded worker (the fewest moves that balance)."""
    holders = [("a",) if k < on_a else ("b",) for k in range(16)]
    out = balanced_workers([10] * 16, holders, ["a", "b"])
    assert out.count("a") == out.count("b") == 8
    moved = sum(o not in h for o, h in zip(out, holders))
    assert moved == abs(on_a - 8)
    assert all(o == "b" for o, h in zip(out, holders) if h == ("b",))      # b is not over
    assert balanced_workers([10] * 16, holders, ["a", "b"]) == out        # deterministic


def test_balanced_workers_uneven_rows_unknown_holders_and_replicas():
    rows = [50, 10, 10, 10, 10, 10, 40, 30]
    out = balanced_workers(rows, [()] * len(rows), ["a", "b", "c"])
    load = {w: sum(r for r, o in zip(rows, out) if o == w) for w in "abc"}
    assert max(load.values()) - min(load.values()) <= max(rows)
    assert max(load.values()) <= sum(rows) / 3 + max(rows)
    # a chunk held by two workers stays on the less loaded one; holders outside ``workers``
    # (a worker that left) are ignored
    out = balanced_workers([10] * 4, [("a", "b"), ("a",), ("a", "b"), ("z",)], ["a", "b"])
    assert out.count("a") == out.count("b") == 2 and out[1] == "a"


def test_least_loaded_holders():
    from fastreg.dask._engine import least_loaded_holders
    holders = [{"a"}, {"a"}, {"a", "b"}, {"a", "b"}, {"b"}, {"a", "b"}]
    out = least_loaded_holders(holders, [1] * 6)
    assert out[:2] == ["a", "a"] and out[4] == "b"
    assert out.count("a") == out.count("b") == 3
    assert least_loaded_holders([{"b", "a"}], [5]) == ["a"]       # tie: the smallest address
    # weighted by rows: the big replicated block goes where the load is lighter
    assert least_loaded_holders([{"a"}, {"a", "b"}, {"b"}], [5, 10, 1])[1] == "b"


def test_replicated_blocks_are_run_where_the_load_is_lowest(client):
    """Blocks held by both workers (copies) are split between them by rows, and the sums are
    still the serial engine's, bit for bit."""
    from fastreg.dask._block import RowBlock, block_loss_grad
    X, y = _data(n=91, p=7)
    blocks = [RowBlock(np.ascontiguousarray(X[i:i + 13]), y[i:i + 13], np.ones(13))
              for i in range(0, 91, 13)]
    a, b = sorted(client.scheduler_info()["workers"])
    futures = [client.scatter(blk, workers=[a, b], broadcast=True) if k >= 2 else
               client.scatter(blk, workers=[a]) for k, blk in enumerate(blocks)]
    eng = _engine.DaskEngine(client, futures, hosts=False, rows=[13] * 7)
    w = np.linspace(-1, 1, 7)
    got = eng.map_sum(block_loss_grad, w, 0.5, 0)
    sizes = sorted(len(idx) for _, idx in eng._groups())
    assert sizes == [3, 4]
    serial = _engine.SerialEngine(blocks).map_sum(block_loss_grad, w, 0.5, 0)
    assert got[0] == serial[0]
    np.testing.assert_array_equal(got[2], serial[2])


def test_persisted_chunks_on_one_worker_are_asked_to_spread(client):
    """All chunks of a persisted X on one worker: the block builds of the excess carry a
    (loose) restriction to the other worker; the fit is unchanged."""
    X, y = _data(n=320, p=6)
    a, b = sorted(client.scheduler_info()["workers"])
    parts = [client.scatter(X[i:i + 40], workers=[a]) for i in range(0, 320, 40)]
    Xd = da.concatenate([da.from_delayed(dask.delayed(f), (40, 6), dtype=X.dtype) for f in parts])
    Xd = client.persist(Xd)
    distributed.wait(Xd)
    holders = client.who_has(Xd)
    assert all(set(h) == {a} for h in holders.values())
    engine, p, _ = build_engine(Xd, y, None, client)
    try:
        sched = client.cluster.scheduler
        restricted = [sched.tasks[f.key].worker_restrictions for f in engine.blocks]
        assert sum(r == {b} for r in restricted) == 4
        assert sum(r == {a} for r in restricted) == 4
        assert all(sched.tasks[f.key].loose_restrictions for f in engine.blocks)
    finally:
        engine.close()
    est = fd.Lasso(alpha=0.01, tol=1e-10).fit(Xd, y)
    ref = fd.Lasso(alpha=0.01, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-9, atol=1e-12)


def test_worker_without_actor_runs_its_group_as_a_task(client, monkeypatch):
    """Both actors started on one worker (as when a worker that finished its builds steals
    the other's queued actor): the actors are known by where they run, the other worker's
    blocks run as a task in the same round (serial sums, bit for bit), the actor stays."""
    from fastreg.dask._block import RowBlock, block_loss_grad
    X, y = _data(n=91, p=7)
    blocks = [RowBlock(np.ascontiguousarray(X[i:i + 13]), y[i:i + 13], np.ones(len(y[i:i + 13])))
              for i in range(0, 91, 13)]
    a, b = sorted(client.scheduler_info()["workers"])
    futures = [client.scatter(blk, workers=[(a, b)[k % 2]]) for k, blk in enumerate(blocks)]
    w = np.linspace(-1, 1, 7)
    serial = _engine.SerialEngine(blocks, fan_in=2).map_sum(block_loss_grad, w, 0.5, 0)
    eng = _engine.DaskEngine(client, futures, fan_in=2, workers=[a, a])
    try:
        tasks, submit = [], client.submit

        def recorded(fn, *args, **kw):
            if fn is _engine._run_group:
                tasks.append((args[1], kw["workers"]))
            return submit(fn, *args, **kw)

        monkeypatch.setattr(client, "submit", recorded)
        got = eng.map_sum(block_loss_grad, w, 0.5, 0)
        assert list(eng._hosts) == [a]               # keyed by where the actors run
        assert tasks == [([1, 3, 5], [b])]           # b's group: one task; a's: the actor
        assert got[0] == serial[0] and got[1] == serial[1]
        np.testing.assert_array_equal(got[2], serial[2])
        again = eng.map_sum(block_loss_grad, w, 0.5, 0)
        assert list(eng._hosts) == [a] and len(tasks) == 2
        np.testing.assert_array_equal(again[2], serial[2])
    finally:
        eng.close()


def test_numpy_input_is_not_restricted(client):
    """Input not in the workers' memory yet is left to the scheduler (no restriction)."""
    X, y = _data(n=320, p=6)
    engine, _, _ = build_engine(da.from_array(X, chunks=(40, 6)), y, None, client)
    try:
        sched = client.cluster.scheduler
        assert all(not sched.tasks[f.key].worker_restrictions for f in engine.blocks)
        assert engine._hosts                     # the first round ran on the actors
    finally:
        engine.close()


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "fista"])
def test_driver_runs_with_one_blas_thread(client, monkeypatch, solver):
    """The driver's arithmetic runs with one BLAS thread (threaded BLAS in the driver spins
    on the cores the workers need), and the limit is lifted afterwards."""
    from threadpoolctl import threadpool_info

    from fastreg.dask import _solve
    seen = []
    original = _solve._run

    def run(*args):
        seen.extend(d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas")
        return original(*args)

    monkeypatch.setattr(_solve, "_run", run)
    before = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
    X, y = _data(n=320, p=6)
    est = fd.LogisticRegression(C=1.0, tol=1e-8, solver=solver).fit(X, y > 1)
    assert seen and set(seen) == {1}
    assert [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"] == before
    ref = fastreg.LogisticRegression(C=1.0, tol=1e-12).fit(X, y > 1)
    ypm = np.where(y > 1, 1.0, -1.0)
    f_est = logistic_objective(X, ypm, est.coef_[0], est.intercept_[0], C=1.0)
    f_ref = logistic_objective(X, ypm, ref.coef_[0], ref.intercept_[0], C=1.0)
    assert abs(f_est - f_ref) <= 1e-8 * f_ref
