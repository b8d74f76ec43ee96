"""Thread safety (issue 7): two fits in two threads give the results of the fits run alone.

Correctness only: the speed-up of concurrent fits (GIL released in the kernels)
is a benchmark, not a test. Estimators are discovered from ``fastreg.__all__``.
"""
import os
import sys
import threading

import numpy as np
import pytest
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(__file__))
import _hostile_cases as H  # noqa: E402

import fastreg  # noqa: E402

ESTIMATORS = H.public_estimator_classes()
IDS = [H.target_name(c) for c in ESTIMATORS]


def _problems(cls, sparse):
    out = []
    for seed, dtype in [(1, np.float64), (2, np.float32)]:
        X, y = H.problem(cls, n=100, p=20, seed=seed, dtype=dtype)
        out.append((sp.csc_matrix(X) if sparse else X, y))
    return out


def _in_threads(funcs):
    results, errors = [None] * len(funcs), []
    barrier = threading.Barrier(len(funcs))

    def run(i):
        try:
            barrier.wait()
            results[i] = funcs[i]()
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(funcs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_two_threads_same_as_alone(cls, sparse):
    problems = _problems(cls, sparse)

    def fit(X, y):
        est = H.make_estimator(cls).fit(X, y)
        return H.fitted_output(est, np.asfortranarray(H.problem(False, n=9, p=20, seed=7)[0]))

    alone = [fit(X, y) for X, y in problems]
    for _ in range(2):
        together = _in_threads([lambda X=X, y=y: fit(X, y) for X, y in problems])
        for a, b in zip(alone, together):
            for u, v in zip(a, b):
                np.testing.assert_array_equal(u, v)


def test_same_estimator_class_shared_data_threads():
    """Four threads fitting on the same read-only X (shared buffers, no copy)."""
    X, y = H.problem(False, n=300, p=40, seed=3)
    X.flags.writeable = False
    alphas = [0.01, 0.05, 0.1, 0.2]
    alone = [fastreg.Lasso(alpha=a, tol=1e-10).fit(X, y).coef_ for a in alphas]
    together = _in_threads([lambda a=a: fastreg.Lasso(alpha=a, tol=1e-10).fit(X, y).coef_
                            for a in alphas])
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(H.prox_functions()))
def test_prox_threads(name):
    """Prox wrappers from several threads at once (and with n_threads > 1 inside)."""
    f = H.prox_functions()[name]
    xs = [np.random.default_rng(s).standard_normal(300_000) for s in range(3)]
    args = H.PROX_ARGS[name](300_000)
    alone = [f(x, *args) for x in xs]
    together = _in_threads([lambda x=x: f(x, *args) for x in xs])
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# threadpoolctl.threadpool_limits is honoured by fastreg's OpenMP code
# ---------------------------------------------------------------------------
def _openmp_modules():
    """fastreg's compiled modules that use OpenMP (``prange``): [name, file, name, file]."""
    import importlib
    out = []
    for name in ("fastreg._cd", "fastreg._prox"):
        out += [name, importlib.import_module(name).__file__]
    return out


_LOAD_ONLY = """
import importlib.util, json, sys
from threadpoolctl import threadpool_info
def omp():
    return {p["filepath"] for p in threadpool_info() if p["user_api"] == "openmp"}
before = omp()
for name, path in zip(sys.argv[1::2], sys.argv[2::2]):   # the extensions alone: no fastreg, no sklearn
    spec = importlib.util.spec_from_file_location(name, path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps({"new": sorted(omp() - before), "fastreg_imported": "fastreg" in sys.modules}))
"""


def _fastreg_openmp_libraries():
    """The OpenMP runtimes that fastreg's compiled modules load (found in a fresh interpreter)."""
    import json
    import subprocess
    proc = subprocess.run([sys.executable, "-c", _LOAD_ONLY, *_openmp_modules()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not res["fastreg_imported"]
    return [os.path.realpath(p) for p in res["new"]]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OpenMP probe for ELF builds")
def test_threadpool_info_lists_fastreg_openmp():
    """threadpoolctl sees the OpenMP runtime of fastreg's modules, and its limit applies."""
    from threadpoolctl import threadpool_info, threadpool_limits
    libs = _fastreg_openmp_libraries()
    assert libs, "fastreg's compiled modules load no OpenMP runtime (built without OpenMP?)"
    seen = {os.path.realpath(p["filepath"]): p for p in threadpool_info()
            if p["user_api"] == "openmp"}
    assert set(libs) <= set(seen), (libs, sorted(seen))
    with threadpool_limits(1):
        now = {os.path.realpath(p["filepath"]): p["num_threads"] for p in threadpool_info()}
        assert all(now[p] == 1 for p in libs), now
        from fastreg.solvers.cd import n_threads_default
        assert n_threads_default() == 1   # what the CD / prox-Newton solvers use
    with threadpool_limits(2):
        assert n_threads_default() == 2


#: A fit whose full X^T r (dense, n * p > 2e7, float32: 84 MB) takes the OpenMP path of
#: _cd.xtv_dense when more than one thread is allowed. Counted: the threads of the process.
_THREADS_CHILD = """
import json, os, warnings
warnings.simplefilter("ignore")
import numpy as np
from threadpoolctl import threadpool_limits
import fastreg
def n_threads():
    return len(os.listdir("/proc/self/task"))
rng = np.random.default_rng(0)
Xs = rng.standard_normal((60, 8))
with threadpool_limits(1):     # warm-up: every library loaded, BLAS pools created
    fastreg.Lasso(alpha=0.1).fit(Xs, Xs[:, 0])
    fastreg.LogisticRegression().fit(Xs, Xs[:, 0] > 0)
n, p = 10000, 2100
X = rng.standard_normal((p, n), dtype=np.float32).T          # Fortran order, no copy
y = X[:, :5].sum(axis=1)
amax = float(np.abs(X.T @ (y - y.mean())).max()) / n
res = {"base": n_threads()}
with threadpool_limits(1):
    fastreg.Lasso(alpha=amax / 2).fit(X, y)
    res["lasso_limited"] = n_threads()
    fastreg.LogisticRegression(l1_ratio=1.0, C=2.0 / (n * amax)).fit(X, y > np.median(y))
    res["logreg_limited"] = n_threads()
with threadpool_limits(2):     # control: the same fit may start OpenMP workers
    fastreg.Lasso(alpha=amax / 2).fit(X, y)
    res["lasso_two"] = n_threads()
print(json.dumps(res))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/task")
def test_fit_under_threadpool_limits_uses_one_thread():
    """Under threadpool_limits(1) a large fit starts no OpenMP worker thread.

    Robust on a loaded machine: it counts threads, not CPU time. The control
    (limit 2, same fit) must start one, else the problem did not reach the
    parallel code and the test would prove nothing.
    """
    import json
    import subprocess
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count() or 1
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    proc = subprocess.run([sys.executable, "-c", _THREADS_CHILD], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["lasso_limited"] == res["base"], res
    assert res["logreg_limited"] == res["base"], res
    if cores >= 2:
        assert res["lasso_two"] > res["base"], \
            f"control: no OpenMP worker started with 2 threads allowed ({res})"


# ---------------------------------------------------------------------------
# concurrent compiled CD solves share the cores (OpenMP limits are per thread)
# ---------------------------------------------------------------------------
def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _solve_args(seed, n=200, p=30):
    from fastreg import _cd
    from fastreg.solvers.cd import column_stats
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.standard_normal((n, p)))
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(n)
    h = np.full(n, 1.0 / n)
    mu, lips = column_stats(X, h, True)
    alpha = float(np.abs(X.T @ (y - y.mean())).max()) / n / 20
    w, R = np.zeros(p), y.copy()
    inf = np.full(p, np.inf)
    args = (X, y, h, w, R, mu, lips, np.full(p, alpha), np.zeros(p), -inf, inf,
            np.arange(p, dtype=np.int32), np.empty(0, dtype=np.int32))
    return _cd, args


def test_running_solves_and_shared_threads():
    """While two compiled solves run in two threads, each sees the other
    (``running_solves() == 2``) and an OpenMP pass asked for every core gets
    ``cores // 2`` (at least 1); alone, a solve keeps what it asked for. The
    results are those of the solves run alone (the callback changes nothing)."""
    _cd, _ = _solve_args(0)
    cores = _cores()
    assert _cd.running_solves() == 0
    assert _cd.shared_threads(1) == 1 and _cd.shared_threads(cores) == cores
    barrier = threading.Barrier(2, timeout=60)
    seen = []

    def solve(seed, meet):
        _, args = _solve_args(seed)
        first = [True]

        def project(rho):   # runs with the GIL inside the compiled solve; rho unchanged
            if first[0]:
                first[0] = False
                seen.append(("alone", _cd.running_solves(), _cd.shared_threads(cores)))
                if meet:
                    barrier.wait()
                    seen.append(("both", _cd.running_solves(), _cd.shared_threads(cores)))
                    barrier.wait()   # neither leaves before both have looked

        status = _cd.enet_solve_dense(*args, tol=1e-10, project=project)[0]
        assert status == _cd.STATUS_CONVERGED
        return args[3].copy()

    alone = [solve(s, False) for s in (1, 2)]
    assert seen == [("alone", 1, cores)] * 2
    seen.clear()
    together = _in_threads([lambda s=s: solve(s, True) for s in (1, 2)])
    both = [s for s in seen if s[0] == "both"]
    assert both == [("both", 2, max(1, cores // 2))] * 2, seen
    assert _cd.running_solves() == 0
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)


def test_running_solves_reset_after_errors():
    """A solve rejected before it starts (bad lengths) or whose callback raises
    leaves the count at 0."""
    _cd, args = _solve_args(3)
    with pytest.raises(ValueError):
        _cd.enet_solve_dense(*args[:3], args[3][:-1], *args[4:])

    def boom(rho):
        raise RuntimeError("boom")

    assert _cd.enet_solve_dense(*args, project=boom)[0] == _cd.STATUS_CALLBACK_ERROR
    assert _cd.running_solves() == 0
