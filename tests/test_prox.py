"""Tests of fastreg.prox: compiled proximal operators vs numpy references and optimality.

Every test runs once per compiled build usable on this machine (the portable
``fastreg._prox`` and, on AVX2+FMA CPUs, ``fastreg._prox_avx2``).
"""
import contextlib
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize, minimize_scalar

from fastreg import _builds, _optim, _prox, prox
from fastreg.reference import prox as ref

# every compiled build of the kernels usable on this machine (baseline, and AVX2+FMA)
BUILDS = [_prox]
if _optim.cpu_has_avx2_fma():
    from fastreg import _prox_avx2
    if _prox_avx2.COMPILED_FOR_AVX2:
        BUILDS.append(_prox_avx2)


@pytest.fixture(params=BUILDS, ids=[b.__name__.split(".")[-1] for b in BUILDS], scope="module",
                autouse=True)
def build(request):
    """Run the test with ``fastreg.prox`` calling the given build (module scope: hypothesis-safe)."""
    saved = prox._kernels
    prox._kernels = request.param
    try:
        yield request.param
    finally:
        prox._kernels = saved

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
HYP = settings(max_examples=80, deadline=None)


# ---------------------------------------------------------------------------
# strategies and helpers
# ---------------------------------------------------------------------------
def _floats(dtype, nonneg=False, finite=False, nan=True):
    return st.floats(width=8 * np.dtype(dtype).itemsize, min_value=0.0 if nonneg else None,
                     allow_nan=nan and not nonneg and not finite, allow_infinity=not finite,
                     allow_subnormal=True)


def _x(dtype, min_size=0, max_size=30, **kw):
    """1-D vectors with zeros, negatives, huge, subnormal, infinite and NaN entries."""
    return hnp.arrays(dtype, st.integers(min_size, max_size), elements=_floats(dtype, **kw))


def _param(draw, dtype, n, nonneg=True):
    """A scalar (0, inf or any value) or a per-coordinate vector of length n."""
    kind = draw(st.sampled_from(["zero", "inf", "scalar", "vector"]))
    if kind == "zero":
        return 0.0
    if kind == "inf":
        return np.inf if nonneg else draw(st.sampled_from([np.inf, -np.inf]))
    if kind == "scalar":
        return draw(_floats(np.float64, nonneg=nonneg, nan=False))
    return draw(hnp.arrays(dtype, n, elements=_floats(dtype, nonneg=nonneg, nan=False)))


def _call(fn, x, args, mode, **kw):
    """Run ``fn(x, *args)`` with out=None, a separate out, or in place; check x is untouched."""
    x_before = x.copy()
    if mode == "new":
        res = fn(x, *args, **kw)
    elif mode == "out":
        out = np.full_like(x, 7.0)
        res = fn(x, *args, out=out, **kw)
        assert res is out
    else:
        work = x.copy()
        res = fn(work, *args, out=work, **kw)
        assert res is work
    if mode != "inplace":
        assert_array_equal(x, x_before)  # input never modified (NaN == NaN here)
    assert res.dtype == x.dtype and res.shape == x.shape
    return res


def _assert_close(actual, desired, dtype, atol=None):
    tiny = np.finfo(dtype).tiny  # below the normal range only absolute error is meaningful
    assert actual.dtype == desired.dtype == dtype
    assert_allclose(actual, desired, rtol=RTOL[np.dtype(dtype)],
                    atol=tiny if atol is None else atol, equal_nan=True)


modes = st.sampled_from(["new", "out", "inplace"])


# ---------------------------------------------------------------------------
# every kernel equals its reference (hypothesis)
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def _streaming_from(n_bytes):
    """Set the input + output size above which soft_threshold and l2_shrink stream."""
    old = prox.STREAMING_MIN_BYTES
    prox.STREAMING_MIN_BYTES = n_bytes
    try:
        yield
    finally:
        prox.STREAMING_MIN_BYTES = old


@HYP
@given(data=st.data(), mode=modes, stream=st.booleans())
def test_soft_threshold_matches_reference(dtype, data, mode, stream):
    x = data.draw(_x(dtype))
    t = _param(data.draw, dtype, x.shape[0])
    positive = data.draw(st.booleans())
    with _streaming_from(-1 if stream else prox.STREAMING_MIN_BYTES):
        res = _call(prox.soft_threshold, x, (t,), mode, positive=positive)
    _assert_close(res, ref.soft_threshold(x, t, positive=positive), dtype)


@HYP
@given(data=st.data(), mode=modes, stream=st.booleans())
def test_l2_shrink_matches_reference(dtype, data, mode, stream):
    x = data.draw(_x(dtype))
    s = _param(data.draw, dtype, x.shape[0])
    with _streaming_from(-1 if stream else prox.STREAMING_MIN_BYTES):
        res = _call(prox.l2_shrink, x, (s,), mode)
    _assert_close(res, ref.l2_shrink(x, s), dtype)


@HYP
@given(data=st.data(), mode=modes)
def test_elastic_net_matches_reference(dtype, data, mode):
    x = data.draw(_x(dtype))
    l1, l2 = _param(data.draw, dtype, x.shape[0]), _param(data.draw, dtype, x.shape[0])
    res = _call(prox.elastic_net, x, (l1, l2), mode)
    _assert_close(res, ref.elastic_net(x, l1, l2), dtype)


@HYP
@given(data=st.data(), mode=modes)
def test_box_matches_reference(dtype, data, mode):
    x = data.draw(_x(dtype))
    a = _param(data.draw, dtype, x.shape[0], nonneg=False)
    b = _param(data.draw, dtype, x.shape[0], nonneg=False)
    lo, up = np.minimum(a, b), np.maximum(a, b)
    if np.ndim(lo) == 0:
        lo, up = float(lo), float(up)
    res = _call(prox.box, x, (lo, up), mode)
    _assert_close(res, ref.box(x, lo, up), dtype)
    assert np.all(np.isnan(res) | ((res >= lo) & (res <= up)))


@st.composite
def _grouped(draw, dtype):
    """A vector, its groups in one of the three formats, and a threshold."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=0, max_size=6))
    fmt = draw(st.sampled_from(["sizes", "int", "indices"]))
    if fmt == "int":
        size = draw(st.integers(1, 4))
        sizes, groups = [size] * draw(st.integers(0, 5)), size
    n = sum(sizes)
    x = draw(hnp.arrays(dtype, n, elements=_floats(dtype)))
    if fmt == "indices":
        perm = draw(st.permutations(range(n)))
        bounds = np.cumsum([0] + sizes)
        groups = [np.array(perm[bounds[g]:bounds[g + 1]]) for g in range(len(sizes))]
    elif fmt == "sizes":
        groups = sizes
    n_groups = len(ref.group_index_lists(groups, n))
    if draw(st.booleans()):
        t = draw(st.sampled_from([0.0, np.inf]) | _floats(np.float64, nonneg=True, nan=False))
    else:
        t = draw(hnp.arrays(dtype, n_groups, elements=_floats(dtype, nonneg=True)))
    return x, groups, t


def _group_tol(x, groups, dtype):
    """Absolute tolerance per coordinate: rtol * ||x_g||.

    ``1 - t / ||x_g||`` cancels when ``||x_g||`` is close to ``t``: the error of the
    result is a few roundings of ``||x_g||``, not of the (possibly tiny) result.
    """
    tol = np.zeros(x.shape[0])
    x64 = x.astype(np.float64)
    for idx in ref.group_index_lists(groups, x.shape[0]):
        with np.errstate(all="ignore"):
            tol[idx] = RTOL[np.dtype(dtype)] * np.abs(x64[idx]).max() * np.sqrt(len(idx))
    return np.nan_to_num(tol, nan=0.0, posinf=0.0) + np.finfo(dtype).tiny


@HYP
@given(data=st.data(), mode=modes)
def test_group_soft_threshold_matches_reference(dtype, data, mode):
    x, groups, t = data.draw(_grouped(dtype))
    res = _call(prox.group_soft_threshold, x, (groups, t), mode)
    desired = ref.group_soft_threshold(x, groups, t)
    assert res.dtype == dtype
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        err = np.abs(res.astype(np.float64) - desired)
    tol = _group_tol(x, groups, dtype) + RTOL[dtype] * np.abs(desired)
    same_special = (np.isnan(res) & np.isnan(desired)) | (res.astype(np.float64) == desired)
    assert np.all(same_special | (err <= tol)), (x, groups, t, res, desired)


# ---------------------------------------------------------------------------
# independent check: the defining minimization (scipy.optimize)
# ---------------------------------------------------------------------------
def _argmin_1d(x, penalty, lo=None, hi=None):
    """argmin_z 0.5 (z - x)^2 + penalty(z) by bounded Brent search."""
    lo = -abs(x) - 1.0 if lo is None else lo
    hi = abs(x) + 1.0 if hi is None else hi
    res = minimize_scalar(lambda z: 0.5 * (z - x) ** 2 + penalty(z), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-11})
    return res.x


def test_separable_prox_minimizes_its_objective(rng):
    x = rng.standard_normal(25) * 3
    t, s, lo, up = rng.uniform(0, 2, 25), rng.uniform(0, 3, 25), -rng.uniform(0, 2, 25), rng.uniform(0, 2, 25)
    cases = {
        "soft_threshold": (prox.soft_threshold(x, t), lambda i: (lambda z: t[i] * abs(z), None, None)),
        "positive": (prox.soft_threshold(x, t, positive=True),
                     lambda i: (lambda z: t[i] * abs(z), 0.0, abs(x[i]) + 1)),
        "l2_shrink": (prox.l2_shrink(x, s), lambda i: (lambda z: 0.5 * s[i] * z * z, None, None)),
        "elastic_net": (prox.elastic_net(x, t, s),
                        lambda i: (lambda z: t[i] * abs(z) + 0.5 * s[i] * z * z, None, None)),
        "box": (prox.box(x, lo, up), lambda i: (lambda z: 0.0, lo[i], up[i])),
    }
    for name, (res, pen) in cases.items():
        expected = [_argmin_1d(x[i], *pen(i)) for i in range(x.shape[0])]
        assert_allclose(res, expected, atol=1e-7, err_msg=name)


def test_group_prox_minimizes_its_objective(rng):
    x = rng.standard_normal(7)
    groups = [[0, 4], [1, 2, 6], [3, 5]]
    t = np.array([0.3, 5.0, 1.0])  # group 1 has norm < 5: zeroed
    res = prox.group_soft_threshold(x, groups, t)

    def objective(z):
        return 0.5 * np.sum((z - x) ** 2) + sum(t[g] * np.linalg.norm(z[idx]) for g, idx in enumerate(groups))

    best = minimize(objective, x, method="Powell", options={"xtol": 1e-12, "ftol": 1e-15, "maxiter": 50000})
    assert objective(res) <= best.fun + 1e-12
    assert_allclose(res, best.x, atol=1e-5)
    # optimality: x - z in t_g * subdifferential of ||.|| at z_g
    for g, idx in enumerate(groups):
        zg, rg = res[idx], x[idx] - res[idx]
        if np.linalg.norm(zg) == 0:
            assert np.linalg.norm(x[idx]) <= t[g]
        else:
            assert_allclose(rg, t[g] * zg / np.linalg.norm(zg), rtol=1e-12)


# ---------------------------------------------------------------------------
# theory (issue 2, item 4)
# ---------------------------------------------------------------------------
@HYP
@given(data=st.data())
def test_soft_threshold_exact_zeros_iff_below_threshold(dtype, data):
    x = data.draw(_x(dtype, finite=True))
    t = _param(data.draw, dtype, x.shape[0])
    res = prox.soft_threshold(x, t)
    with np.errstate(over="ignore"):  # thresholds are rounded to x's dtype (inf if too large)
        t_x = np.broadcast_to(np.asarray(t, dtype=dtype), x.shape)
    below = np.abs(x) <= t_x
    assert np.all(res[below] == 0)  # exact zeros, no rounding residue
    assert np.all(res[~below] != 0)


@HYP
@given(data=st.data())
def test_l2_shrink_never_zeroes(dtype, data):
    """x / (1 + s) keeps every non-zero entry non-zero (when the result is representable)."""
    x = data.draw(_x(dtype, finite=True))
    s = data.draw(_floats(np.float64, nonneg=True, finite=True))
    res = prox.l2_shrink(x, s)
    with np.errstate(all="ignore"):  # the strength is rounded to x's dtype first
        s_x = float(np.asarray(s, dtype=dtype))
        representable = np.abs(x.astype(np.float64)) / (1.0 + s_x) >= np.finfo(dtype).tiny
    assert np.all(res[representable] != 0)
    assert np.all(np.sign(res[representable]) == np.sign(x[representable]))


def test_l1_subgradient_dominates_l2_gradient_near_zero(dtype):
    """Near 0 the L1 term's slope stays l1 while the L2 gradient l2 * w vanishes.

    Hence adding an L2 term never changes which coordinates the prox sets to exactly 0:
    elastic_net(x, l1, l2) == 0 exactly where |x| <= l1, for every finite l2, whereas
    the L2 prox alone zeroes nothing.
    """
    l1 = 0.5
    h = np.logspace(-1, -12, 12)
    for l2 in (1e-3, 1.0, 1e3):
        l1_slope = (l1 * np.abs(h) - 0.0) / h     # one-sided derivative of l1 |w| at 0
        l2_slope = (0.5 * l2 * h ** 2 - 0.0) / h  # of (l2 / 2) w^2 at 0: tends to 0
        assert_allclose(l1_slope, l1)
        small = h < l1 / l2
        assert np.all(l2_slope[small] < l1_slope[small])
    x = np.linspace(-2, 2, 401).astype(dtype)
    for l2 in (0.0, 1e-3, 1.0, 1e3, 1e6):
        res = prox.elastic_net(x, l1, l2)
        assert_array_equal(res == 0, np.abs(x) <= np.asarray(l1, dtype))
        assert np.count_nonzero(prox.l2_shrink(x, l2)) == np.count_nonzero(x)


# ---------------------------------------------------------------------------
# dtypes, in place, layout
# ---------------------------------------------------------------------------
CALLS = {
    "soft_threshold": (prox.soft_threshold, ref.soft_threshold, (0.4,)),
    "soft_threshold_weighted": (prox.soft_threshold, ref.soft_threshold, (np.linspace(0, 1, 10),)),
    "l2_shrink": (prox.l2_shrink, ref.l2_shrink, (np.linspace(0, 3, 10),)),
    "elastic_net": (prox.elastic_net, ref.elastic_net, (0.3, np.linspace(0, 1, 10))),
    "box": (prox.box, ref.box, (np.linspace(-1, 0, 10), 0.5)),
    "group": (prox.group_soft_threshold, ref.group_soft_threshold, ([[0, 9, 3], [1, 2], [4, 5, 6, 7, 8]], 0.8)),
}


@pytest.mark.parametrize("name", CALLS)
def test_dtype_in_place_and_layouts(name, dtype, rng):
    fn, ref_fn, args = CALLS[name]
    x = rng.standard_normal(10).astype(dtype)
    expected = ref_fn(x, *args)
    _assert_close(fn(x, *args), expected, dtype, atol=1e-6)
    work = x.copy()
    assert fn(work, *args, out=work) is work  # in place
    _assert_close(work, expected, dtype, atol=1e-6)
    ro = x.copy()
    ro.flags.writeable = False  # read-only input
    _assert_close(fn(ro, *args), expected, dtype, atol=1e-6)
    big = np.empty(20, dtype)
    big[::2] = x
    strided = big[::2]  # non-contiguous input, and non-contiguous out
    _assert_close(fn(strided, *args), expected, dtype, atol=1e-6)
    out_big = np.zeros(30, dtype)
    fn(strided, *args, out=out_big[::3])
    _assert_close(out_big[::3], expected, dtype, atol=1e-6)
    assert np.all(out_big[1::3] == 0)
    fn(strided, *args, out=strided)  # in place on a strided view
    _assert_close(big[::2], expected, dtype, atol=1e-6)


def test_partially_overlapping_out_uses_the_original_input():
    base = np.arange(-5.0, 6.0)
    expected = ref.soft_threshold(base[:-1], 1.5)
    prox.soft_threshold(base[:-1], 1.5, out=base[1:])  # out starts one element later
    assert_array_equal(base[1:], expected)
    base = np.arange(-5.0, 6.0)
    prox.soft_threshold(base[1:], 1.5, out=base[:-1])
    assert_array_equal(base[:-1], ref.soft_threshold(np.arange(-4.0, 6.0), 1.5))


def test_nan_propagates(dtype):
    x = np.array([np.nan, 1.0, -3.0, 0.0], dtype)
    for res in (prox.soft_threshold(x, 0.5), prox.soft_threshold(x, 0.5, positive=True),
                prox.l2_shrink(x, 1.0), prox.elastic_net(x, 0.5, 1.0), prox.box(x, -1, 1)):
        assert np.isnan(res[0]) and not np.isnan(res[1:]).any()
    res = prox.group_soft_threshold(x, [2, 2], 0.1)
    assert np.isnan(res[:2]).all() and not np.isnan(res[2:]).any()


def test_group_formats_agree(rng):
    x = rng.standard_normal(12)
    t = np.array([0.5, 1.0, 2.0, 0.1])
    a = prox.group_soft_threshold(x, 3, t)
    assert_array_equal(prox.group_soft_threshold(x, [3, 3, 3, 3], t), a)
    assert_array_equal(prox.group_soft_threshold(x, np.arange(12).reshape(4, 3), t), a)
    perm = rng.permutation(12)
    groups = [perm[:3], perm[3:6], perm[6:9], perm[9:]]
    assert_allclose(prox.group_soft_threshold(x, groups, t), ref.group_soft_threshold(x, groups, t),
                    rtol=1e-13)


def test_group_norm_does_not_overflow_or_underflow():
    for scale in (1e200, 1e-200, 1e-310):
        x = np.array([3.0, 4.0, 1.0]) * scale
        res = prox.group_soft_threshold(x, [2, 1], np.array([2.5, 0.0]) * scale)
        assert_allclose(res, np.array([1.5, 2.0, 1.0]) * scale, rtol=1e-12 if scale > 1e-300 else 1e-3)


STREAMED = {
    "soft_threshold": (lambda x, **kw: prox.soft_threshold(x, 0.7, **kw), lambda x: ref.soft_threshold(x, 0.7)),
    "positive": (lambda x, **kw: prox.soft_threshold(x, 0.7, positive=True, **kw),
                 lambda x: ref.soft_threshold(x, 0.7, positive=True)),
    "l2_shrink": (lambda x, **kw: prox.l2_shrink(x, 0.7, **kw), lambda x: ref.l2_shrink(x, 0.7)),
}


@pytest.mark.parametrize("name", STREAMED)
def test_streaming_stores_give_the_same_result(dtype, rng, name):
    """Misaligned input and output, odd length, one and two threads, at the size threshold."""
    fn, ref_fn = STREAMED[name]
    x = rng.standard_normal(1001).astype(dtype) * 2
    x[::7] = np.resize([np.nan, np.inf, -np.inf, 0.0], x[::7].shape)
    expected = ref_fn(x[1:])
    buf = np.zeros(1001, dtype)
    with _streaming_from(0):
        for n_threads in (1, 2):
            _assert_close(fn(x[1:], out=buf[1:], n_threads=n_threads), expected, dtype)
    with _streaming_from(2000 * dtype.itemsize - 1):  # input + output just above: streamed
        _assert_close(fn(x[1:], out=buf[1:]), expected, dtype)


def test_threads_give_the_same_result(dtype, rng):
    n = prox.PARALLEL_MIN_SIZE + 12345
    x = rng.standard_normal(n).astype(dtype)
    t = rng.uniform(0, 1, n)
    for fn, args in ((prox.soft_threshold, (t,)), (prox.soft_threshold, (0.3,)),
                     (prox.l2_shrink, (t,)), (prox.elastic_net, (0.3, t)), (prox.box, (-t, 0.5))):
        expected = fn(x, *args, n_threads=1)
        assert_array_equal(fn(x, *args, n_threads=2), expected)
        with _streaming_from(0):  # threads with non-temporal stores
            assert_array_equal(fn(x, *args, n_threads=2), expected)


def test_streaming_only_beyond_the_last_level_cache():
    """Non-temporal stores only when input + output exceed the last-level cache."""
    assert prox.STREAMING_MIN_BYTES == prox._last_level_cache_bytes()
    assert prox.STREAMING_MIN_BYTES >= 1 << 20      # at least a MiB on any real CPU
    x = np.zeros(prox.STREAMING_MIN_BYTES // 16, np.float64)    # input + output = the cache
    assert not prox._stream(x)
    assert prox._stream(np.zeros(x.shape[0] + 1, np.float64))


def test_builds_agree_exactly_where_no_fma_is_involved(dtype, rng):
    """The portable and AVX2 builds give identical results for the elementwise prox."""
    x = rng.standard_normal(1003).astype(dtype) * 3
    x[::11] = np.resize([np.nan, np.inf, -np.inf, 0.0, -0.0], x[::11].shape)
    t = rng.uniform(0, 2, 1003).astype(dtype)
    for build in BUILDS[1:]:
        for name, args in (("soft_threshold", (t, False)), ("soft_threshold", (t[:1], True)),
                           ("l2_shrink", (t,)), ("l2_shrink", (t[:1],)),
                           ("elastic_net", (t, t[::-1].copy())), ("box", (-t, t))):
            a, b = np.empty_like(x), np.empty_like(x)
            getattr(_prox, name)(x, a, *args)
            getattr(build, name)(x, b, *args)
            assert_array_equal(a, b, err_msg=f"{build.__name__}.{name}")


def test_kernel_selection():
    """The AVX2 build is used exactly when the CPU supports it, unless FASTREG_KERNELS=baseline."""
    expected = _prox if os.environ.get(_builds.ENV_VAR) == "baseline" else BUILDS[-1]
    assert _builds.select(_prox, "_prox_avx2") is expected
    saved = os.environ.get(_builds.ENV_VAR)
    try:
        os.environ[_builds.ENV_VAR] = "baseline"
        assert _builds.select(_prox, "_prox_avx2") is _prox
        os.environ[_builds.ENV_VAR] = "fastest"
        with pytest.raises(ValueError, match="FASTREG_KERNELS must be one of"):
            _builds.select(_prox, "_prox_avx2")
    finally:
        if saved is None:
            os.environ.pop(_builds.ENV_VAR, None)
        else:
            os.environ[_builds.ENV_VAR] = saved


# ---------------------------------------------------------------------------
# bad input: clear errors naming the problem
# ---------------------------------------------------------------------------
X = np.linspace(-1, 1, 5)


def _readonly():
    a = np.zeros(5)
    a.flags.writeable = False
    return a


BAD = [
    (lambda: prox.soft_threshold(X.reshape(5, 1), 0.1), ValueError, "x must be 1-dimensional"),
    (lambda: prox.soft_threshold(np.arange(5), 0.1), TypeError, "x must have dtype float32 or float64"),
    (lambda: prox.soft_threshold(X + 1j, 0.1), TypeError, "x must have dtype float32 or float64"),
    (lambda: prox.soft_threshold(X.astype(object), 0.1), TypeError, "x must have dtype"),
    (lambda: prox.soft_threshold(list(X), 0.1), TypeError, "x must be a numpy ndarray"),
    (lambda: prox.soft_threshold(X, np.nan), ValueError, "threshold must not be NaN"),
    (lambda: prox.soft_threshold(X, -0.1), ValueError, "threshold must be >= 0"),
    (lambda: prox.soft_threshold(X, np.array([0.1, -1, 0, 0, 0])), ValueError, "threshold must be >= 0"),
    (lambda: prox.soft_threshold(X, np.array([0.1, np.nan, 0, 0, 0])), ValueError, "threshold contains NaN"),
    (lambda: prox.soft_threshold(X, np.ones(4)), ValueError, "threshold has length 4, expected 5"),
    (lambda: prox.soft_threshold(X, np.ones((5, 1))), ValueError, "threshold must be a scalar or a 1-D"),
    (lambda: prox.soft_threshold(X, 1j), TypeError, "threshold must be a real number"),
    (lambda: prox.soft_threshold(X, np.ones(5) * 1j), TypeError, "threshold must be a real"),
    (lambda: prox.soft_threshold(X, 0.1, out=_readonly()), ValueError, "out is read-only"),
    (lambda: prox.soft_threshold(X, 0.1, out=np.zeros(4)), ValueError, "out must have shape"),
    (lambda: prox.soft_threshold(X, 0.1, out=np.zeros(5, np.float32)), TypeError, "out must have dtype float64"),
    (lambda: prox.soft_threshold(X, 0.1, n_threads=0), ValueError, "n_threads must be >= 1"),
    (lambda: prox.l2_shrink(X, -1.0), ValueError, "strength must be >= 0"),
    (lambda: prox.l2_shrink(X, np.full(5, np.nan)), ValueError, "strength contains NaN"),
    (lambda: prox.elastic_net(X, 0.1, -1.0), ValueError, "l2 must be >= 0"),
    (lambda: prox.elastic_net(X, np.nan, 1.0), ValueError, "l1 must not be NaN"),
    (lambda: prox.elastic_net(X, np.ones(3), 1.0), ValueError, "l1 has length 3, expected 5"),
    (lambda: prox.box(X, 1.0, 0.0), ValueError, "lower must be <= upper"),
    (lambda: prox.box(X, np.array([0, 0, 2.0, 0, 0]), 1.0), ValueError, "at coordinate 2"),
    (lambda: prox.box(X, np.nan, 1.0), ValueError, "lower must not be NaN"),
    (lambda: prox.group_soft_threshold(X, 2, 0.1), ValueError, r"groups=2 \(group size\) does not divide"),
    (lambda: prox.group_soft_threshold(X, 0, 0.1), ValueError, "must be >= 1"),
    (lambda: prox.group_soft_threshold(X, [2, 2], 0.1), ValueError, "sum to 4, expected len"),
    (lambda: prox.group_soft_threshold(X, [2, 0, 3], 0.1), ValueError, "group sizes must be >= 1"),
    (lambda: prox.group_soft_threshold(X, [2.0, 3.0], 0.1), TypeError, "group sizes must be integers"),
    (lambda: prox.group_soft_threshold(X, [[0, 1], [2, 3, 5]], 0.1), ValueError, "index 5 in group 1 is out of bounds"),
    (lambda: prox.group_soft_threshold(X, [[0, 1], [-1, 2, 3, 4]], 0.1), ValueError, "out of bounds"),
    (lambda: prox.group_soft_threshold(X, [[0, 1], [1, 2, 3, 4]], 0.1), ValueError, "groups overlap: coordinate 1"),
    (lambda: prox.group_soft_threshold(X, [[0, 1], [2, 3]], 0.1), ValueError, r"do not cover.*\[4\]"),
    (lambda: prox.group_soft_threshold(X, [[0, 1], [], [2, 3, 4]], 0.1), ValueError, "group 1 is empty"),
    (lambda: prox.group_soft_threshold(X, [[0, 1.0], [2, 3, 4]], 0.1), TypeError, "integer indices"),
    (lambda: prox.group_soft_threshold(X, [[0, 1], 2, [3, 4]], 0.1), TypeError, "mixes scalars"),
    (lambda: prox.group_soft_threshold(X, "ab", 0.1), TypeError, "groups must be an int"),
    (lambda: prox.group_soft_threshold(X, [2, 3], np.ones(3)), ValueError, "length 3, expected 2 .one per group"),
    (lambda: prox.group_soft_threshold(X, [2, 3], -1.0), ValueError, "threshold must be >= 0"),
]


@pytest.mark.parametrize("call, exc, match", BAD, ids=[b[2] for b in BAD])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_edge_lengths_and_trivial_thresholds(dtype):
    for n in (0, 1):
        x = np.full(n, -2.5, dtype)
        assert_array_equal(prox.soft_threshold(x, 0.0), x)
        assert_array_equal(prox.soft_threshold(x, np.inf), np.zeros(n, dtype))
        assert_array_equal(prox.l2_shrink(x, np.inf), np.zeros(n, dtype))
        assert_array_equal(prox.box(x, -np.inf, np.inf), x)
        assert_array_equal(prox.group_soft_threshold(x, [n] if n else [], 0.0), x)


FAST_SCALARS = [0, 0.0, 0.3, 2, np.float64(0.7), np.float32(0.7), np.inf, 1e39]


@pytest.mark.parametrize("name", ["soft_threshold", "l2_shrink"])
@pytest.mark.parametrize("value", FAST_SCALARS, ids=repr)
@pytest.mark.parametrize("where", ["new", "in_place", "out"])
def test_fast_path_equals_the_general_path(name, value, where, dtype, rng, monkeypatch):
    """A scalar parameter gives exactly what the general path gives, for every kind of
    ``out`` (1e39 overflows float32 to inf on both paths)."""
    x = (rng.standard_normal(257) * 2).astype(dtype)
    with monkeypatch.context() as m:
        m.setattr(prox, "_fast_call", lambda *args: None)
        expected = getattr(prox, name)(x, value)
    x_in = x.copy()
    out = {"new": None, "in_place": x_in, "out": np.empty_like(x)}[where]
    got = getattr(prox, name)(x_in, value, out=out)
    assert got.dtype == x.dtype
    assert_array_equal(got, expected)
    if out is not None:
        assert got is out
    if where != "in_place":
        assert_array_equal(x_in, x)


def test_fast_path_skips_the_general_validation(monkeypatch, dtype):
    """The common call (contiguous x, scalar threshold, fresh or disjoint out) does not run
    the general validation, and calls that need it still get it."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[1])
        return check_param_vector(*args, **kwargs)

    check_param_vector = prox.check_param_vector
    monkeypatch.setattr(prox, "check_param_vector", spy)
    x = np.linspace(-1, 1, 11, dtype=dtype)
    prox.soft_threshold(x, 0.5, out=np.empty_like(x))
    prox.l2_shrink(x, 0.5)
    assert calls == []
    for bad, exc in [(np.nan, ValueError), (-0.5, ValueError), (True, TypeError), ("0.5", TypeError)]:
        with pytest.raises(exc, match="threshold"):
            prox.soft_threshold(x, bad)
    prox.soft_threshold(x[::2], 0.5)                  # non-contiguous
    prox.soft_threshold(x[1:], 0.5, out=x[:-1])      # partial overlap
    with pytest.raises(TypeError, match="native byte order"):
        prox.soft_threshold(x, 0.5, out=np.empty(11, ">" + x.dtype.str[1:]))
    assert calls == ["threshold"] * 6  # the big-endian out fails before it
