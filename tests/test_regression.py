"""fastreg.Lasso / fastreg.ElasticNet against scikit-learn and the scipy reference."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastreg import ElasticNet, Lasso
from fastreg.reference.objectives import enet_duality_gap, enet_objective
from fastreg.reference.solvers import enet_lbfgsb

DATA = "/work/shared/data"


def _data(rng, n=50, p=80, sparse=False):
    X = rng.standard_normal((n, p))
    if sparse:
        X[rng.random((n, p)) < 0.7] = 0.0
    X[:, 2] += 2.0
    y = X[:, :5] @ rng.standard_normal(5) + 0.3 * rng.standard_normal(n) + 2.0
    return X, y


@parametrize_with_checks([Lasso(), ElasticNet()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _sk_objective(X, y, est, alpha, l1_ratio, sw=None):
    return enet_objective(X, y, est.coef_, est.intercept_, alpha=alpha, l1_ratio=l1_ratio,
                          sample_weight=sw)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
@pytest.mark.parametrize("container", ["F", "C", "csc", "csr"])
def test_against_sklearn(rng, fit_intercept, l1_ratio, container):
    X, y = _data(rng, sparse=container in ("csc", "csr"))
    alpha = 0.05
    Xin = {"F": np.asfortranarray, "C": np.ascontiguousarray, "csc": sp.csc_matrix,
           "csr": sp.csr_matrix}[container](X)
    ours = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                      tol=1e-15).fit(Xin, y)
    ref = sk.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                        tol=1e-15, max_iter=200000).fit(X, y)
    P, P_ref = (_sk_objective(X, y, e, alpha, l1_ratio) for e in (ours, ref))
    P0 = 0.5 * np.var(y) if fit_intercept else 0.5 * np.mean(y ** 2)
    assert P <= P_ref + 1e-10 * P0
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)
    assert ours.dual_gap_ <= max(1e-15 * P0, 32 * np.finfo(float).eps * 0.5 * np.mean(y ** 2))
    gap = enet_duality_gap(X, y, ours.coef_, ours.intercept_ if fit_intercept else None,
                           alpha=alpha, l1_ratio=l1_ratio)[2]
    assert gap <= 1e-10 * P0


def test_lasso_is_enet_l1_ratio_1(rng):
    X, y = _data(rng)
    a = Lasso(alpha=0.1, tol=1e-12).fit(X, y)
    b = ElasticNet(alpha=0.1, l1_ratio=1.0, tol=1e-12).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    ref = sk.Lasso(alpha=0.1, tol=1e-14, max_iter=100000).fit(X, y)
    np.testing.assert_allclose(a.coef_, ref.coef_, atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_sample_weight_equals_repeated_rows(rng, sparse):
    X, y = _data(rng, sparse=sparse)
    sw = rng.integers(0, 4, X.shape[0])
    Xr, yr = np.repeat(X, sw, axis=0), np.repeat(y, sw)
    conv = sp.csc_matrix if sparse else np.asarray
    a = ElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-14).fit(conv(X), y, sample_weight=sw)
    b = ElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-14).fit(conv(Xr), yr)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)
    assert a.intercept_ == pytest.approx(b.intercept_, abs=1e-7)
    ref = sk.ElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-15, max_iter=100000).fit(
        X, y, sample_weight=sw.astype(float))
    np.testing.assert_allclose(a.coef_, ref.coef_, atol=1e-6)


def test_positive(rng):
    X, y = _data(rng)
    a = Lasso(alpha=0.02, positive=True, tol=1e-14).fit(X, y)
    ref = sk.Lasso(alpha=0.02, positive=True, tol=1e-15, max_iter=200000).fit(X, y)
    assert np.all(a.coef_ >= 0)
    np.testing.assert_allclose(a.coef_, ref.coef_, atol=1e-6)


@pytest.mark.parametrize("sparse", [False, True])
def test_penalty_factor_and_bounds_vs_lbfgsb(rng, sparse):
    X, y = _data(rng, sparse=sparse)
    p = X.shape[1]
    pf = np.ones(p)
    pf[[0, 3]] = 0.0
    pf[[1, 7]] = np.inf
    pf[10:20] = 2.5
    lower = np.full(p, -0.4)
    upper = np.full(p, np.inf)
    upper[::3] = 0.6
    kw = dict(alpha=0.03, l1_ratio=0.8, penalty_factor=pf, lower_bounds=lower,
              upper_bounds=upper)
    est = ElasticNet(tol=1e-14, **kw).fit(sp.csc_matrix(X) if sparse else X, y)
    w_ref, b_ref = enet_lbfgsb(X, y, **kw)
    assert np.all(est.coef_[[1, 7]] == 0)
    assert np.all(est.coef_ >= lower - 1e-15) and np.all(est.coef_ <= upper + 1e-15)
    P = enet_objective(X, y, est.coef_, est.intercept_, **kw)
    P_ref = enet_objective(X, y, w_ref, b_ref, **kw)
    assert P <= P_ref + 1e-10 * 0.5 * np.var(y)
    np.testing.assert_allclose(est.coef_, w_ref, atol=1e-6)


def test_penalty_factor_one_is_sklearn_and_scaling(rng):
    """pf is not rescaled: pf = c everywhere is alpha * c."""
    X, y = _data(rng)
    a = Lasso(alpha=0.1, penalty_factor=np.full(X.shape[1], 2.0), tol=1e-13).fit(X, y)
    b = Lasso(alpha=0.2, tol=1e-13).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)


def test_float32(rng):
    X, y = _data(rng)
    for sparse in (False, True):
        conv = sp.csc_matrix if sparse else np.asarray
        a32 = ElasticNet(alpha=0.05, tol=1e-7).fit(conv(X.astype(np.float32)), y.astype(np.float32))
        a64 = ElasticNet(alpha=0.05, tol=1e-12).fit(conv(X), y)
        assert a32.coef_.dtype == np.float32
        assert np.asarray(a32.intercept_).dtype == np.float32
        assert a32.predict(X.astype(np.float32)).dtype == np.float32
        np.testing.assert_allclose(a32.coef_, a64.coef_, atol=1e-4)


def test_warm_start(rng):
    X, y = _data(rng)
    est = Lasso(alpha=0.05, warm_start=True, tol=1e-10).fit(X, y)
    coef = est.coef_.copy()
    est.fit(X, y)
    assert est.n_iter_ == 1  # already optimal: one gap computation
    np.testing.assert_allclose(est.coef_, coef, atol=1e-12)
    est.set_params(alpha=0.02).fit(X, y)
    ref = Lasso(alpha=0.02, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)


def test_selection_random(rng):
    X, y = _data(rng)
    a = Lasso(alpha=0.05, selection="random", random_state=0, tol=1e-13).fit(X, y)
    b = Lasso(alpha=0.05, tol=1e-13).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)


def test_multi_output(rng):
    X, y = _data(rng)
    Y = np.column_stack([y, -2 * y + rng.standard_normal(y.size)])
    est = ElasticNet(alpha=0.05, tol=1e-14).fit(X, Y)
    ref = sk.ElasticNet(alpha=0.05, tol=1e-15, max_iter=100000).fit(X, Y)
    assert est.coef_.shape == (2, X.shape[1]) and est.intercept_.shape == (2,)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)
    assert est.predict(X).shape == Y.shape
    assert est.sparse_coef_.shape == (2, X.shape[1])


def test_convergence_warning(rng):
    X, y = _data(rng, n=30, p=200)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        Lasso(alpha=1e-4, max_iter=1, tol=1e-12).fit(X, y)


def test_verbose(rng, capsys):
    X, y = _data(rng)
    Lasso(alpha=0.05, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "gap" in out and "ws" in out


def test_fit_does_not_modify_input_and_params(rng):
    X, y = _data(rng)
    Xf = np.asfortranarray(X)
    X0, y0 = Xf.copy(), y.copy()
    pf = np.ones(X.shape[1])
    est = Lasso(alpha=0.05, penalty_factor=pf).fit(Xf, y)
    np.testing.assert_array_equal(Xf, X0)
    np.testing.assert_array_equal(y, y0)
    assert est.penalty_factor is pf and np.all(pf == 1)


@pytest.mark.parametrize("bad, err", [
    (dict(X=np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]])), ValueError),
    (dict(X=np.arange(3.0)), ValueError),
    (dict(y=np.ones(2)), ValueError),
    (dict(alpha=-1.0), ValueError),
    (dict(l1_ratio=1.5), ValueError),
    (dict(X=np.ones((3, 2)) * 1j), ValueError),
    (dict(penalty_factor=np.ones(3)), ValueError),
    (dict(penalty_factor=-np.ones(2)), ValueError),
    (dict(lower_bounds=0.5), ValueError),
    (dict(upper_bounds=np.array([1.0, -1.0])), ValueError),
    (dict(sample_weight=np.array([1.0, -1.0, 1.0])), ValueError),
    (dict(sample_weight=np.zeros(3)), ValueError),
    (dict(y=np.array([1.0, np.inf, 0.0])), ValueError),
    (dict(X=np.empty((0, 2)), y=np.empty(0)), ValueError),
])
def test_bad_input(bad, err):
    kw = dict(X=np.array([[1.0, 2.0], [2.0, 3.0], [1.0, 0.0]]), y=np.array([1.0, 2.0, 0.5]),
              alpha=0.1, l1_ratio=0.5, sample_weight=None)
    kw.update(bad)
    est_kw = {k: kw.pop(k) for k in ("alpha", "l1_ratio", "penalty_factor", "lower_bounds",
                                     "upper_bounds") if k in kw}
    with pytest.raises(err):
        ElasticNet(**est_kw).fit(kw["X"], kw["y"], sample_weight=kw["sample_weight"])


def test_sparse_int64_unsorted_duplicates(rng):
    X, y = _data(rng, sparse=True)
    A = sp.csc_matrix(X)
    coo = A.tocoo()
    # duplicate every entry as two halves, in reversed order, int64 indices
    rows = np.concatenate([coo.row, coo.row])[::-1]
    cols = np.concatenate([coo.col, coo.col])[::-1]
    data = np.concatenate([coo.data / 2, coo.data / 2])[::-1]
    B = sp.csc_matrix((data, (rows, cols)), shape=X.shape)
    B.indices = B.indices.astype(np.int64)
    B.indptr = B.indptr.astype(np.int64)
    a = Lasso(alpha=0.05, tol=1e-13).fit(A, y)
    b = Lasso(alpha=0.05, tol=1e-13).fit(B, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)


def test_readonly_and_noncontiguous(rng):
    X, y = _data(rng)
    Xbig = np.asfortranarray(np.repeat(X, 2, axis=1))
    Xv = Xbig[:, ::2]  # non-contiguous view
    Xro = np.asfortranarray(X)
    Xro.setflags(write=False)
    y_ro = y.copy()
    y_ro.setflags(write=False)
    a = Lasso(alpha=0.05, tol=1e-13).fit(Xv, y)
    b = Lasso(alpha=0.05, tol=1e-13).fit(Xro, y_ro)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)


@pytest.mark.parametrize("name, alpha_ratio", [("leukemia_golub.npz", 0.1),
                                               ("diabetes_lars.npz", 0.01)])
def test_real_data(name, alpha_ratio):
    z = np.load(f"{DATA}/{name}", allow_pickle=False)
    X, y = z["X"].astype(np.float64), z["y"].astype(np.float64)
    X = (X - X.mean(0)) / np.maximum(X.std(0), 1e-12)
    Xc, yc = X - X.mean(0), y - y.mean()
    alpha = alpha_ratio * np.max(np.abs(Xc.T @ yc)) / X.shape[0]
    est = Lasso(alpha=alpha, tol=1e-12).fit(X, y)
    P0 = 0.5 * np.var(y)
    primal, _, gap = enet_duality_gap(X, y, est.coef_, est.intercept_, alpha=alpha)
    assert gap <= 1e-10 * P0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sk.Lasso(alpha=alpha, tol=1e-12, max_iter=100000).fit(X, y)
    P_ref = enet_objective(X, y, ref.coef_, ref.intercept_, alpha=alpha)
    assert primal <= P_ref + 1e-10 * P0


MALFORMED = {
    "indices_out_of_range": "sp.csr_matrix((np.ones(3), np.array([0, 1, 7]), np.array([0, 1, 2, 3])), shape=(3, 2))",
    "non_monotone_indptr": "sp.csr_matrix((np.ones(3), np.array([0, 1, 0]), np.array([0, 2, 1, 3])), shape=(3, 2))",
    "data_indices_mismatch": "sp.csc_matrix((np.ones(2), np.array([0, 1, 2]), np.array([0, 2, 3])), shape=(3, 2))",
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_sparse_in_subprocess(kind):
    """A malformed sparse matrix raises ValueError, never crashes (run in a subprocess)."""
    import subprocess
    import sys
    code = (
        "import numpy as np, scipy.sparse as sp\n"
        "from fastreg import Lasso\n"
        "def build():\n"
        f"    return {MALFORMED[kind]}\n"
        "try:\n"
        "    X = build()\n"
        "except Exception:\n"
        "    # scipy refused to build it: corrupt a valid matrix instead\n"
        "    X = sp.csr_matrix(np.eye(3, 2))\n"
        "    X.indices[-1] = 9\n"
        "try:\n"
        "    Lasso(alpha=0.1).fit(X, np.arange(3.0))\n"
        "except ValueError as e:\n"
        "    print('ValueError', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ValueError"), out.stdout + out.stderr


def test_float32_stops_at_its_precision_floor():
    """A float32 fit asked for an unreachable gap stops after a few stalled outer iterations."""
    rng = np.random.default_rng(0)
    X = (3 * rng.standard_normal((300, 60)) + 5).astype(np.float32)  # uncentered columns
    y = (X[:, :5] @ rng.standard_normal(5) + 1000 + 0.5 * rng.standard_normal(300)).astype(np.float32)
    with pytest.warns(ConvergenceWarning, match="float32 precision"):
        model = Lasso(alpha=1e-4, tol=1e-15, max_iter=1000).fit(X, y)
    assert model.n_iter_ < 100
    assert model.coef_.dtype == np.float32
    ref = Lasso(alpha=1e-4, tol=1e-12).fit(X.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-3, atol=1e-3)
