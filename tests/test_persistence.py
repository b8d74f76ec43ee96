"""Persistence of every public estimator (issue 7): pickle / joblib round trips and clone.

Estimators are discovered from ``fastreg.__all__`` (see ``_hostile_cases``):
a new estimator is covered automatically.
"""
import os
import pickle
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

sys.path.insert(0, os.path.dirname(__file__))
import _hostile_cases as H  # noqa: E402

ESTIMATORS = H.public_estimator_classes()
IDS = [c.__name__ for c in ESTIMATORS]


def _fitted(cls, sparse=False, dtype=np.float64):
    X, y = H.problem(cls, dtype=dtype)
    return H.make_estimator(cls).fit(sp.csc_matrix(X) if sparse else X, y), X


def _same(a, b):
    for u, v in zip(H.fitted_output(a[0], a[1]), H.fitted_output(b, a[1])):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_pickle_round_trip(cls, sparse):
    est, X = _fitted(cls, sparse)
    loaded = pickle.loads(pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(loaded) is cls
    _same((est, X), loaded)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_joblib_round_trip(cls, tmp_path):
    est, X = _fitted(cls, dtype=np.float32)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path)
    _same((est, X), loaded)
    assert loaded.coef_.dtype == est.coef_.dtype == np.float32
    loaded_mm = joblib.load(path, mmap_mode="r")   # read-only memory-mapped attributes
    _same((est, X), loaded_mm)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_clone_and_refit(cls):
    est, X = _fitted(cls)
    c = clone(est)
    assert c.get_params() == est.get_params()
    assert not hasattr(c, "coef_")
    X, y = H.problem(cls)
    _same((est, X), c.fit(X, y))   # deterministic (random_state fixed): same fit


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_pickled_model_keeps_fitting(cls):
    """An unpickled fitted model can be refitted (no stale compiled state)."""
    est, X = _fitted(cls)
    loaded = pickle.loads(pickle.dumps(est))
    Xn, yn = H.problem(cls, seed=4)
    ref = H.make_estimator(cls).fit(Xn, yn)
    _same((ref, X), loaded.fit(Xn, yn))
