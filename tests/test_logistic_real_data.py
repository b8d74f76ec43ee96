"""LogisticRegression on the real datasets named by the logistic issue.

Each fit is checked against references that share no code with the solver: the
textbook duality gap of :func:`fastreg.reference.logistic_duality_gap`
(binary), scipy's L-BFGS-B on the split variables
(:func:`fastreg.reference.solvers.logistic_lbfgsb`), and scikit-learn
(liblinear without intercept, lbfgs for L2). Dense data are standardized (as a
user would with ``StandardScaler``), sparse data are used as stored. C is set
relative to ``C_min``, the largest C whose L1 solution is zero, so that every
problem has a few non-zero coefficients whatever its scale.

The folder is ``$FASTREG_DATA`` if set, else ``/work/shared/data``; a missing
file skips its cases.
"""
import functools
import gzip
import os

import numpy as np
import pytest
import scipy.io as sio
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from fastreg import LogisticRegression
from fastreg.reference.objectives import logistic_duality_gap, logistic_objective
from fastreg.reference.solvers import logistic_lbfgsb

DATA = os.environ.get("FASTREG_DATA", "/work/shared/data")


def _path(fname):
    path = os.path.join(DATA, fname)
    if not os.path.exists(path):
        pytest.skip(f"{path} not available")
    return path


def _standardized(X):
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return np.asfortranarray((X - X.mean(axis=0)) / std)


def _svmlight(fname, n_features):
    X, y = load_svmlight_file(_path(fname), n_features=n_features)
    X = sp.csr_matrix(X)
    X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
    return X, y


def _mat(fname, dense):
    d = sio.loadmat(_path(fname))
    X, y = d["X"], d["Y"].ravel()
    X = _standardized(X.toarray() if sp.issparse(X) else X) if dense else sp.csr_matrix(X)
    return X, y


def _npz(fname):
    z = np.load(_path(fname), allow_pickle=False)
    return _standardized(z["X"]), z["y"]


def _colon():
    A = np.loadtxt(_path("colon-cancer.dense.txt.bz2"))
    return _standardized(A[:, 1:]), A[:, 0]


def _mnist_5k():
    with gzip.open(_path("mnist_5k.csv.gz"), "rt") as f:
        A = np.loadtxt(f, delimiter=",")            # 784 pixels, then the digit
    return np.asfortranarray(A[:, :-1] / 255.0), A[:, -1]


def _zipcode():
    z = np.load(_path("zipcode_usps.npz"), allow_pickle=False)   # pixels already in [-1, 1]
    return np.asfortranarray(z["X"], dtype=np.float64), z["y"]


LOADERS = {
    "a9a": lambda: _svmlight("a9a.bz2", 123),
    "w8a": lambda: _svmlight("w8a.bz2", 300),
    "mushrooms": lambda: _svmlight("mushrooms.bz2", 112),
    "phishing": lambda: _svmlight("phishing.bz2", 68),
    "madelon": lambda: _mat("madelon.mat", dense=True),
    "arcene": lambda: _mat("arcene.mat", dense=True),
    "leukemia": lambda: _npz("leukemia_golub.npz"),
    "colon": _colon,
    "basehock": lambda: _mat("BASEHOCK.mat", dense=False),
    "relathe": lambda: _mat("RELATHE.mat", dense=False),
    "zipcode_usps": _zipcode,
    "mnist_5k": _mnist_5k,
}
BINARY = ["a9a", "w8a", "mushrooms", "phishing", "madelon", "arcene", "leukemia", "colon",
          "basehock", "relathe"]


@functools.lru_cache(maxsize=None)
def _load(name):
    X, y = LOADERS[name]()
    return X, np.asarray(y)


def _c_min(X, y, fit_intercept):
    """Largest C whose binary L1 solution is w = 0: 1 / |X^T (p0 - y01)|_inf."""
    y01 = (y == np.unique(y)[1]).astype(np.float64)
    p0 = y01.mean() if fit_intercept else 0.5
    return 1.0 / np.max(np.abs(X.T @ (p0 - y01)))


def _binary_fit(name, fit_intercept, scale, **params):
    X, y = _load(name)
    C = scale * _c_min(X, y, fit_intercept)
    est = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-10, max_iter=1000,
                             fit_intercept=fit_intercept, **params).fit(X, y)
    return X, y, C, est


@pytest.mark.parametrize("name", BINARY)
def test_binary_l1_certified_and_matches_liblinear(name):
    X, y, C, est = _binary_fit(name, fit_intercept=True, scale=4.0)
    b = float(est.intercept_[0])
    P, D, gap = logistic_duality_gap(X, y, est.coef_.ravel(), b, C=C, penalty="l1")
    assert 0 < np.count_nonzero(est.coef_) < X.shape[1]
    assert gap <= 1e-8 * P, (name, gap / P)
    # without intercept scikit-learn's liblinear solves the same problem
    X, y, C, est = _binary_fit(name, fit_intercept=False, scale=4.0)
    sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", tol=1e-10, max_iter=100_000,
                              fit_intercept=False).fit(X, y)
    P = logistic_objective(X, y, est.coef_, 0.0, C=C, penalty="l1")
    P_sk = logistic_objective(X, y, sk.coef_, 0.0, C=C, penalty="l1")
    assert P <= P_sk * (1 + 1e-8), (name, P / P_sk - 1)
    assert logistic_duality_gap(X, y, est.coef_.ravel(), None, C=C, penalty="l1")[2] <= 1e-8 * P


@pytest.mark.parametrize("name", ["a9a", "phishing", "madelon", "leukemia", "basehock"])
def test_binary_l1_float32_and_other_container(name):
    X, y, C, est = _binary_fit(name, fit_intercept=True, scale=4.0)
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C, penalty="l1")
    other = X.toarray() if sp.issparse(X) else sp.csc_array(X)
    est_other = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-10, max_iter=1000).fit(other, y)
    P_other = logistic_objective(X, y, est_other.coef_, est_other.intercept_, C=C, penalty="l1")
    assert abs(P_other - P) <= 1e-9 * P
    est32 = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-6, max_iter=1000).fit(
        X.astype(np.float32), y)
    assert est32.coef_.dtype == np.float32
    P32 = logistic_objective(X, y, est32.coef_.astype(np.float64), est32.intercept_, C=C,
                             penalty="l1")
    assert P * (1 - 1e-10) <= P32 <= P * (1 + 1e-5), (name, P32 / P - 1)


@pytest.mark.parametrize("name", ["mushrooms", "madelon", "colon", "relathe"])
def test_binary_l1_matches_lbfgsb_reference(name):
    X, y, C, est = _binary_fit(name, fit_intercept=True, scale=2.0)
    w_ref, b_ref = logistic_lbfgsb(X, y, C=C, penalty="l1")
    P_ref = logistic_objective(X, y, w_ref, b_ref, C=C, penalty="l1")
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C, penalty="l1")
    assert P <= P_ref * (1 + 1e-8) and abs(P - P_ref) <= 1e-8 * P_ref, (name, P / P_ref - 1)


@pytest.mark.parametrize("name", ["w8a", "phishing", "madelon", "relathe"])
def test_binary_l2_matches_lbfgs(name):
    X, y = _load(name)
    C = 10.0 * _c_min(X, y, True)
    est = LogisticRegression(penalty="l2", C=C, tol=1e-10, max_iter=1000).fit(X, y)
    sk = SkLogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=100_000).fit(X, y)
    P = logistic_objective(X, y, est.coef_, est.intercept_, C=C, penalty="l2")
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C, penalty="l2")
    assert P <= P_sk * (1 + 1e-8), (name, P / P_sk - 1)
    gap = logistic_duality_gap(X, y, est.coef_.ravel(), float(est.intercept_[0]), C=C,
                               penalty="l2")[2]
    assert gap <= 1e-8 * P
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-4 * np.abs(sk.coef_).max())


def _multinomial_kkt(X, y, W, b, C, rho):
    """Largest violation of the multinomial optimality conditions, by numpy.

    Penalty ``rho |W|_1 + (1 - rho)/2 |W|^2``. With ``G`` the gradient of
    ``C sum_i loss_i + (1 - rho)/2 |W|^2``, ``G_kj = -rho sign(W_kj)`` where
    ``W_kj != 0`` and ``|G_kj| <= rho`` elsewhere; the intercepts' gradient
    ``C sum_i (P_ik - Y_ik)`` is 0.
    """
    classes = np.unique(y)
    Y = (y[:, None] == classes[None, :]).astype(np.float64)
    Z = X @ W.T + b
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    G = C * (X.T @ (P - Y)).T + (1.0 - rho) * W
    viol = np.where(W != 0, np.abs(G + rho * np.sign(W)), np.maximum(np.abs(G) - rho, 0.0))
    return max(viol.max(), np.abs(C * (P - Y).sum(axis=0)).max())


@pytest.mark.parametrize("name", ["zipcode_usps", "mnist_5k"])
def test_multinomial_l1_kkt(name):
    X, y = _load(name)
    C = 40.0 / X.shape[0]            # about 1% non-zero coefficients on both
    est = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-10, max_iter=1000).fit(X, y)
    assert est.coef_.shape == (10, X.shape[1])
    assert 0 < np.count_nonzero(est.coef_) < est.coef_.size // 10
    W, b = est.coef_.astype(np.float64), est.intercept_.astype(np.float64)
    assert _multinomial_kkt(X, y, W, b, C, 1.0) <= 1e-6
    # the objective is no worse than that of the fit on the other container
    est_sp = LogisticRegression(C=C, l1_ratio=1.0, tol=1e-10, max_iter=1000).fit(
        sp.csc_matrix(X), y)
    P = logistic_objective(X, y, W, b, C=C, penalty="l1")
    P_sp = logistic_objective(X, y, est_sp.coef_, est_sp.intercept_, C=C, penalty="l1")
    assert abs(P - P_sp) <= 1e-9 * P


@pytest.mark.parametrize("name", ["zipcode_usps", "mnist_5k"])
@pytest.mark.parametrize("scale", [10.0, 1000.0])
def test_multinomial_l2_kkt_and_beats_lbfgs(name, scale):
    X, y = _load(name)
    C = scale / X.shape[0]
    est = LogisticRegression(penalty="l2", C=C, tol=1e-8, max_iter=200).fit(X, y)
    W, b = est.coef_.astype(np.float64), est.intercept_.astype(np.float64)
    assert _multinomial_kkt(X, y, W, b, C, 0.0) <= 1e-6 * max(1.0, np.abs(W).max())
    sk = SkLogisticRegression(C=C, solver="lbfgs", max_iter=1000).fit(X, y)
    P = logistic_objective(X, y, W, b, C=C, penalty="l2")
    P_sk = logistic_objective(X, y, sk.coef_, sk.intercept_, C=C, penalty="l2")
    assert P <= P_sk * (1 + 1e-12), (name, P / P_sk - 1)
