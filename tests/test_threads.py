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
IDS = [c.__name__ for c in ESTIMATORS]


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
