"""fastreg.dask is deterministic: for a fixed block layout the fit (coefficients, intercept,
iteration count) is bit-identical whatever worker holds which block, how many workers there
are and whether the rounds run on the actors or as tasks (the tree sums add the blocks'
results in block order)."""
import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
fd = pytest.importorskip("fastreg.dask")
from fastreg.dask import _engine  # noqa: E402
from fastreg.dask._block import make_block  # noqa: E402

N_CHUNKS = 12          # > fan_in (8): a two-level summation tree


@pytest.fixture(scope="module")
def two():
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def one():
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=":0", set_as_default=False) as c:
        yield c


def _problem(kind, seed=0):
    """(X as a list of row chunks, y): ``kind`` 'sparse' (600 features: L-BFGS / FISTA) or
    'dense' (20 features: Newton), labels 0/1 in ``y_cls``, real targets in ``y_reg``."""
    rng = np.random.default_rng(seed)
    n = 1200
    if kind == "sparse":
        X = sp.random(n, 600, density=0.02, format="csr", random_state=seed)
        X.data = rng.standard_normal(X.nnz)
    else:
        X = rng.standard_normal((n, 20))
    w = np.zeros(X.shape[1])
    w[:8] = np.linspace(1.5, -1.0, 8)
    z = np.asarray(X @ w).ravel() + 0.3 * rng.standard_normal(n)
    bounds = np.linspace(0, n, N_CHUNKS + 1).astype(int)
    bounds[1] -= 37                                         # uneven chunks
    chunks = [X[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    return chunks, (z > 0).astype(np.float64), z + 1.0


def _placed(client, chunks, y, order):
    """Dask arrays whose chunk ``k`` is computed on worker ``order(k, workers)``."""
    import dask
    addrs = sorted(client.scheduler_info()["workers"])
    p = chunks[0].shape[1]
    meta = sp.csr_matrix((0, p)) if sp.issparse(chunks[0]) else np.empty((0, p))
    parts, ys, start = [], [], 0
    for k, c in enumerate(chunks):
        where = [addrs[order(k, len(addrs))]]
        fut = client.submit(lambda c: c, c, workers=where, pure=False)
        yf = client.submit(lambda v: v, y[start:start + c.shape[0]], workers=where, pure=False)
        parts.append(da.from_delayed(dask.delayed(fut), c.shape, dtype=np.float64, meta=meta))
        ys.append(da.from_delayed(dask.delayed(yf), (c.shape[0],), dtype=np.float64))
        start += c.shape[0]
    return da.concatenate(parts, axis=0), da.concatenate(ys)


LAYOUTS = {"all on the first": lambda k, m: 0, "all on the last": lambda k, m: m - 1,
           "alternating": lambda k, m: k % m, "in runs": lambda k, m: k * m // N_CHUNKS}

CASES = [  # (data, estimator, target), the solver 'auto' picks
    ("sparse", lambda c: fd.LogisticRegression(C=0.5, tol=1e-8, client=c), "cls"),       # lbfgs
    ("sparse", lambda c: fd.Lasso(alpha=0.002, tol=1e-7, client=c), "reg"),              # fista
    ("dense", lambda c: fd.LogisticRegression(C=0.1, penalty="l1", tol=1e-8, client=c),
     "cls"),                                                                             # newton
]


def _fingerprint(est):
    return (np.ravel(est.coef_).tobytes(), np.ravel(est.intercept_).tobytes(),
            int(np.ravel(est.n_iter_)[0]), est.solver_)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bit_identical_over_layouts_worker_counts_and_round_paths(two, one, case,
                                                                  monkeypatch):
    data, make, target = CASES[case]
    chunks, y_cls, y_reg = _problem(data)
    y = y_cls if target == "cls" else y_reg
    prints = {}
    for name, order in LAYOUTS.items():
        X, yd = _placed(two, chunks, y, order)
        prints[name] = _fingerprint(make(two).fit(X, yd))
    X, yd = _placed(one, chunks, y, LAYOUTS["in runs"])
    prints["one worker"] = _fingerprint(make(one).fit(X, yd))
    run_groups = _engine.DaskEngine._run_groups

    def tasks_only(self, fn, groups, args):
        self._hosts = {}                       # no actor on any worker: every group a task
        return run_groups(self, fn, groups, args)

    with monkeypatch.context() as m:          # every round as tasks (the actors' fallback)
        m.setattr(_engine.DaskEngine, "_run_groups", tasks_only)
        X, yd = _placed(two, chunks, y, LAYOUTS["alternating"])
        prints["tasks"] = _fingerprint(make(two).fit(X, yd))
    first = prints["all on the first"]
    assert first[2] > 1                        # a real iterative fit, not a one-step one
    for name, fp in prints.items():
        assert fp == first, f"{name}: {fp[2:]} vs {first[2:]}"


def test_make_block_leaves_its_chunk_unchanged():
    X = sp.csr_matrix((np.array([1.0, 2.0, 3.0, 4.0]), np.array([3, 1, 3, 0], dtype=np.int32),
                       np.array([0, 3, 4])), shape=(2, 5))
    before = [a.copy() for a in (X.data, X.indices, X.indptr)]
    block = make_block(X, np.zeros(2), None, np.float64, 0)
    for a, b in zip((X.data, X.indices, X.indptr), before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(block.X.toarray(), X.toarray())     # duplicates summed
    assert block.X.has_canonical_format and block.X.nnz == 3
