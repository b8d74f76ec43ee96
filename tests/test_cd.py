"""Coordinate-descent kernels (fastreg._cd) and the working-set solver (fastreg.solvers.cd)."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastreg import _cd
from fastreg._validation import check_X
from fastreg.reference.objectives import enet_conjugate, enet_duality_gap, enet_objective
from fastreg.reference.solvers import enet_lbfgsb
from fastreg.solvers.cd import column_stats, enet_cd, weighted_quadratic_cd


def _problem(rng, n=60, p=40, dtype=np.float64, sparse=False, density=0.3):
    """A regression problem; X validated (Fortran or CSC int32) in ``dtype``, plus dense float64."""
    if sparse:
        Xd = sp.random(n, p, density=density, random_state=np.random.RandomState(0)).toarray()
        Xd[Xd != 0] = rng.standard_normal(np.count_nonzero(Xd))
    else:
        Xd = rng.standard_normal((n, p))
        Xd[:, 1] += 3.0  # a column with a large mean
    y = Xd[:, :4] @ np.array([2.0, -1.0, 0.5, 1.5]) + 0.5 * rng.standard_normal(n) + 1.0
    X = check_X(sp.csc_matrix(Xd) if sparse else Xd, dtype=(dtype,))
    return X, Xd, y.astype(dtype)


def _kkt_violation(Xd, y, w, b, h, l1, l2, lower, upper):
    """Max over features of the distance from 0 to ``grad_j + l1_j d|w_j| + N_box(w_j)``
    (features with ``l1_j = inf`` are excluded: skipped)."""
    r = y - Xd @ w - b
    g = -(Xd.T @ (h * r)) + l2 * w
    viol = 0.0
    for j in range(w.size):
        if np.isinf(l1[j]):
            continue
        sgn = np.sign(w[j])
        lo_s, up_s = (sgn * l1[j], sgn * l1[j]) if sgn else (-l1[j], l1[j])
        a, bb = g[j] + lo_s, g[j] + up_s
        if w[j] == lower[j]:
            a = -np.inf
        if w[j] == upper[j]:
            bb = np.inf
        viol = max(viol, a if a > 0 else (-bb if bb < 0 else 0.0))
    return viol


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_xtv_and_col_stats(rng, dtype, sparse):
    X, Xd, _ = _problem(rng, dtype=dtype, sparse=sparse)
    n, p = Xd.shape
    v = rng.standard_normal(n).astype(dtype)
    ws = np.array([3, 0, 7, 39], dtype=np.int32)
    out = np.empty(ws.size)
    if sparse:
        _cd.xtv_sparse(X.data, X.indices, X.indptr, v, ws, out, 2)
    else:
        _cd.xtv_dense(X, v, ws, out, 2)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, Xd[:, ws].T @ v.astype(np.float64), rtol=rtol, atol=rtol)
    h = rng.uniform(0, 2, n).astype(dtype)
    for center in (True, False):
        mu, lips = column_stats(X, h, center)
        h64 = h.astype(np.float64)
        mu_ref = (h64 @ Xd) / h64.sum() if center else np.zeros(p)
        lips_ref = h64 @ (Xd - mu_ref) ** 2
        np.testing.assert_allclose(mu, mu_ref, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(lips, lips_ref, rtol=rtol, atol=rtol)


def test_xtv_parallel_matches_serial(rng):
    X = np.asfortranarray(rng.standard_normal((500, 9000)))
    v = rng.standard_normal(500)
    ws = np.arange(9000, dtype=np.int32)
    a, b = np.empty(9000), np.empty(9000)
    _cd.xtv_dense(X, v, ws, a, 1)
    _cd.xtv_dense(X, v, ws, b, 2)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a, X.T @ v, rtol=1e-10)


@pytest.mark.parametrize("sparse", [False, True])
def test_col_stats_parallel_matches_serial(rng, sparse):
    """Above 2e6 entries the column statistics split features over threads: each
    column is still summed by one thread in one order, so the results are identical."""
    n, p = 500, 6000
    Xd = rng.standard_normal((n, p))
    Xd[rng.uniform(size=(n, p)) < 0.3] = 0.0              # 2.1e6 stored entries
    X = sp.csc_matrix(Xd) if sparse else np.asfortranarray(Xd)
    h = rng.uniform(0, 2, n)
    for center in (True, False):
        one, two = column_stats(X, h, center, 1), column_stats(X, h, center, 2)
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])
        mu_ref = (h @ Xd) / h.sum() if center else np.zeros(p)
        np.testing.assert_allclose(two[1], h @ (Xd - mu_ref) ** 2, rtol=1e-12)


@pytest.mark.parametrize("l1,l2,lo,up", [(0.5, 0.0, -1.0, 2.0), (0.5, 0.3, -np.inf, np.inf),
                                         (0.2, 0.0, 0.0, np.inf), (0.0, 1.0, -0.5, 0.4),
                                         (0.3, 0.2, 0.0, 1.0)])
def test_conjugate_against_brute_force(l1, l2, lo, up):
    """``g*(u) = sup_w u w - g(w)`` by brute force on a fine grid."""
    one = lambda v: np.array([v])  # noqa: E731
    for u in (-2.0, -0.3, 0.0, 0.1, 0.7, 1.9):
        if l2 == 0 and ((u > l1 and np.isinf(up)) or (u < -l1 and np.isinf(lo))):
            continue  # infinite: excluded by the dual rescaling
        lo_, up_ = max(lo, -50.0), min(up, 50.0)
        grid = np.append(np.linspace(lo_, up_, 400001), 0.0)
        ref = np.max(u * grid - l1 * np.abs(grid) - 0.5 * l2 * grid * grid)
        s, G = _cd.enet_dual_terms(np.array([u]), one(l1), one(l2), one(lo), one(up),
                                   np.array([0], dtype=np.int32))
        assert s == 1.0
        assert G == pytest.approx(ref, abs=1e-6)
        assert G == pytest.approx(float(np.sum(enet_conjugate(one(u), one(l1), one(l2),
                                                               one(lo), one(up)))), abs=1e-12)


def test_dual_scale():
    c = np.array([3.0, -0.5, -4.0, 10.0])
    l1 = np.array([1.0, 1.0, 2.0, 1.0])
    ws = np.arange(3, dtype=np.int32)  # feature 3 not in ws: ignored
    s, G = _cd.enet_dual_terms(c[:3], l1, np.zeros(4), np.full(4, -np.inf), np.full(4, np.inf), ws)
    assert s == pytest.approx(1 / 3)
    assert G == 0.0


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("anderson_k", [0, 5])
def test_cd_solve_kernel_full_working_set(rng, sparse, anderson_k):
    """The inner solver on all features solves the problem (vs L-BFGS-B reference)."""
    X, Xd, y = _problem(rng, sparse=sparse)
    n, p = Xd.shape
    h = rng.uniform(0.5, 2.0, n)
    h /= h.sum()
    l1 = np.full(p, 0.05)
    l2 = np.full(p, 0.02)
    lower, upper = np.full(p, -np.inf), np.full(p, np.inf)
    mu, lips = column_stats(X, h, True)
    w = np.zeros(p)
    R = y.copy()
    b = np.zeros(1)
    ws = np.arange(p, dtype=np.int32)
    args = (y, h, w, R, b, mu, lips, l1, l2, lower, upper, ws,
            np.empty(_cd.work_size(anderson_k, p, n)),
            np.empty(n), np.empty(p, dtype=np.int32), 1e-13, 100000, 10, anderson_k, True, False)
    if sparse:
        ep, gap = _cd.cd_solve_sparse(X.data, X.indices, X.indptr, *args)
    else:
        ep, gap = _cd.cd_solve_dense(X, *args)
    assert gap <= 1e-13
    np.testing.assert_allclose(R, y - Xd @ w, atol=1e-10)
    assert b[0] == pytest.approx(h @ R / h.sum(), abs=1e-12)
    w_ref, b_ref = enet_lbfgsb(Xd, y, 1.0, 0.05 / 0.07, sample_weight=h,
                               penalty_factor=np.full(p, 0.07))
    np.testing.assert_allclose(w, w_ref, atol=1e-6)


# ---------------------------------------------------------------------------
# working-set solver
# ---------------------------------------------------------------------------
CASES = {
    "lasso": dict(l1=0.1, l2=0.0),
    "enet": dict(l1=0.05, l2=0.1),
    "positive": dict(l1=0.05, l2=0.0, lower=0.0),
    "box": dict(l1=0.02, l2=0.01, lower=-0.3, upper=1.0),
    "pf0_inf": dict(l1=0.1, l2=0.0, pf={0: 0.0, 5: 0.0, 2: np.inf, 9: np.inf}),
    "pf0_positive": dict(l1=0.1, l2=0.0, lower=0.0, pf={3: 0.0, 7: 0.0}),
    "ridge_only": dict(l1=0.0, l2=0.5),
}


def _arrays(case, p, dtype):
    c = CASES[case]
    pf = np.ones(p)
    for j, v in c.get("pf", {}).items():
        pf[j] = v
    fin = np.where(np.isinf(pf), 0, pf)
    l1 = np.where(np.isinf(pf), np.inf, c["l1"] * fin)
    l2 = c["l2"] * fin
    lower = np.full(p, c.get("lower", -np.inf))
    upper = np.full(p, c.get("upper", np.inf))
    return [a.astype(dtype) for a in (l1, l2, lower, upper)], pf


def _ref_kwargs(case, pf):
    c = CASES[case]
    tot = c["l1"] + c["l2"]
    return dict(alpha=tot, l1_ratio=c["l1"] / tot, penalty_factor=pf,
                lower_bounds=c.get("lower"), upper_bounds=c.get("upper"))


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_enet_cd_against_reference(rng, case, fit_intercept, sparse):
    X, Xd, y = _problem(rng, sparse=sparse)
    n, p = Xd.shape
    (l1, l2, lower, upper), pf = _arrays(case, p, np.float64)
    sw = rng.integers(1, 4, n).astype(float)
    h = sw / sw.sum()
    res = enet_cd(X, y, l1, l2, lower, upper, sample_weight=h, fit_intercept=fit_intercept,
                  tol=1e-13, warn=False)
    assert res.converged
    assert res.gap <= 1e-13 * res.p0
    w, b = res.coef, res.intercept
    kw = _ref_kwargs(case, pf)
    # the solver's certificate agrees with the independent reference gap
    ref_gap = enet_duality_gap(Xd, y, w, b if fit_intercept else None, sample_weight=sw, **kw)[2]
    assert ref_gap <= 1e-10 * res.p0 + 1e-14
    w_ref, b_ref = enet_lbfgsb(Xd, y, fit_intercept=fit_intercept, sample_weight=sw, **kw)
    P = enet_objective(Xd, y, w, b, sample_weight=sw, **kw)
    P_ref = enet_objective(Xd, y, w_ref, b_ref, sample_weight=sw, **kw)
    assert P <= P_ref + 1e-10 * res.p0
    assert P == pytest.approx(res.primal, rel=1e-10)
    np.testing.assert_allclose(w, w_ref, atol=1e-6)
    assert np.all(w >= lower) and np.all(w <= upper)
    assert np.all(w[np.isinf(pf)] == 0)
    assert _kkt_violation(Xd, y, w, b, h, l1, l2, lower, upper) < 1e-6


@pytest.mark.parametrize("sparse", [False, True])
def test_enet_cd_float32(rng, sparse):
    X64, Xd, y = _problem(rng, sparse=sparse)
    X32, _, y32 = _problem(np.random.default_rng(0), sparse=sparse, dtype=np.float32)
    p = Xd.shape[1]
    (l1, l2, lo, up), _ = _arrays("enet", p, np.float32)
    r32 = enet_cd(X32, y32, l1, l2, lo, up, tol=1e-7)
    (l1, l2, lo, up), _ = _arrays("enet", p, np.float64)
    r64 = enet_cd(X64, y, l1, l2, lo, up, tol=1e-12)
    assert r32.coef.dtype == np.float32
    np.testing.assert_allclose(r32.coef, r64.coef, atol=1e-4)
    assert abs(r32.intercept - r64.intercept) < 1e-4


def test_unit_and_general_weights_agree(rng):
    """The BLAS (unit-weight) path and the weighted path give the same solution."""
    X, Xd, y = _problem(rng)
    p = Xd.shape[1]
    (l1, l2, lo, up), _ = _arrays("lasso", p, np.float64)
    n = Xd.shape[0]
    a = enet_cd(X, y, l1, l2, lo, up, tol=1e-13)
    h = np.full(n, 1.0 / n)
    h[0] *= 1 + 1e-15  # not all equal: weighted kernel
    b = enet_cd(X, y, l1, l2, lo, up, sample_weight=h, tol=1e-13)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-9)


def test_weighted_quadratic_unnormalized_weights(rng):
    """Weights with any sum (prox-Newton): scaling h and the penalty together changes nothing."""
    X, Xd, y = _problem(rng)
    n, p = Xd.shape
    h = rng.uniform(0.1, 3.0, n)
    (l1, l2, lo, up), _ = _arrays("enet", p, np.float64)
    a = weighted_quadratic_cd(X, y, h, None, l1, l2, lo, up, tol=1e-13)
    b = weighted_quadratic_cd(X, y, h / h.sum(), np.zeros(p), l1 / h.sum(), l2 / h.sum(), lo, up,
                              tol=1e-13)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-8)
    r = y - Xd @ a.coef - a.intercept
    assert abs(h @ r) < 1e-9 * np.abs(h * r).sum() + 1e-12  # optimal intercept


@pytest.mark.parametrize("options", [dict(anderson_k=0), dict(screening=False),
                                     dict(selection="random", random_state=3), dict(p0=1),
                                     dict(check_every=1)])
def test_solver_options_same_solution(rng, options):
    X, Xd, y = _problem(rng, p=120)
    p = Xd.shape[1]
    (l1, l2, lo, up), _ = _arrays("lasso", p, np.float64)
    l1 = l1 * 0.3
    a = enet_cd(X, y, l1, l2, lo, up, tol=1e-13)
    b = enet_cd(X, y, l1, l2, lo, up, tol=1e-13, **options)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-7)


def test_warm_start_and_ws_init(rng):
    X, Xd, y = _problem(rng)
    p = Xd.shape[1]
    (l1, l2, lo, up), _ = _arrays("lasso", p, np.float64)
    a = enet_cd(X, y, l1, l2, lo, up, tol=1e-12)
    b = enet_cd(X, y, l1, l2, lo, up, tol=1e-12, coef_init=a.coef, ws_init=np.arange(5))
    assert b.n_iter == 1 and b.n_epochs == 0
    np.testing.assert_array_equal(a.coef, b.coef)


def test_convergence_warning_reports_gap(rng):
    from sklearn.exceptions import ConvergenceWarning
    X, Xd, y = _problem(rng)
    p = Xd.shape[1]
    (l1, l2, lo, up), _ = _arrays("lasso", p, np.float64)
    with pytest.warns(ConvergenceWarning, match="duality gap"):
        res = enet_cd(X, y, l1 * 0.01, l2, lo, up, tol=1e-14, max_iter=1, max_epochs=2)
    assert not res.converged and res.gap > 0


def test_rejects_unvalidated_design(rng):
    X = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="Fortran"):
        enet_cd(np.ascontiguousarray(X), np.zeros(10), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="CSC"):
        enet_cd(sp.csr_matrix(X), np.zeros(10), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="anderson_k"):
        enet_cd(np.asfortranarray(X), rng.standard_normal(10), np.full(3, 1e-3), np.zeros(3),
                anderson_k=11)
