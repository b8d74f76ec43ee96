"""fastreg.optim (fused compiled steps) vs fastreg.reference.optim (plain numpy) and torch.

Trajectories are compared elementwise at every step with a rounding-error
bound: at step k, ``|w - w_ref| <= rtol * sum_{j<=k} s_j + atol`` where ``s_j``
is the magnitude of the terms summed in step j (parameters, update, and the
terms whose cancellation the reference performs), computed from the reference
state. ``rtol`` is 1e-12 for float64 and 1e-5 for float32 (about 1e4 and 1e2
units of roundoff per step); ``atol`` is a few subnormal units, far below any
meaningful value.
"""
import contextlib
import copy
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from fastreg import _optim, optim
from fastreg.reference import optim as ref

# every compiled build of the kernels usable on this machine (baseline, and AVX2+FMA)
KERNELS = [_optim]
if _optim.cpu_has_avx2_fma():
    from fastreg import _optim_avx2
    if _optim_avx2.COMPILED_FOR_AVX2:
        KERNELS.append(_optim_avx2)
KERNEL_IDS = [k.__name__.split(".")[-1] for k in KERNELS]


@contextlib.contextmanager
def using(kernels):
    """Run fastreg.optim with the given kernel build."""
    saved = optim._kernels
    optim._kernels = kernels
    try:
        yield
    finally:
        optim._kernels = saved


@pytest.fixture(params=KERNELS, ids=KERNEL_IDS)
def kernels(request):
    with using(request.param):
        yield request.param

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
ATOL = {np.dtype(np.float64): 1e-290, np.dtype(np.float32): 1e-33}
# largest |value| drawn: g**2 (and Adam's v_hat) must not overflow
HUGE = {np.dtype(np.float64): 1e150, np.dtype(np.float32): float(np.float32(1e17))}

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, weight_decay=0.3)),
    ("SGD", dict(lr=0.1, weight_decay=0.3, decoupled_weight_decay=True)),
    ("SGD", dict(lr=0.1, l1=0.2)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.2)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.2, decoupled_weight_decay=True, l1=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.2, l1=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, l1=0.1, l1_scaling="lr")),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.2, decoupled_weight_decay=True,
                 decay_scaling="schedule", schedule_multiplier=0.1)),
    ("Adam", dict(lr=0.02)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.3)),
    ("Adam", dict(lr=0.02, betas=(0.0, 0.0))),
    ("Adam", dict(lr=0.02, l1=0.05)),
    ("Adam", dict(lr=0.02, l1=0.05, l1_scaling="lr")),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.3, l1=0.05)),
    ("Adam", dict(lr=0.02, weight_decay=0.3, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.02)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True, l1=0.05)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True, l1=0.05, l1_scaling="lr")),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, decay_scaling="schedule",
                   schedule_multiplier=0.01)),
]
IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CONFIGS]


def _step_magnitude(r, w_prev, g, state_prev):
    """Magnitude of the terms combined in one reference step (for the rounding bound)."""
    lr, wd = r.lr, r.weight_decay
    eta = lr if r.decay_scaling == "lr" else r.schedule_multiplier
    s = np.abs(w_prev) + np.abs(r.params) + eta * wd * np.abs(w_prev) + 10 * lr * r.l1
    g_mag = np.abs(g) + (0 if r.decoupled_weight_decay else wd * np.abs(w_prev))
    if isinstance(r, ref.Adam):
        beta1, beta2 = r.betas
        v = r.max_exp_avg_sq if r.amsgrad else r.exp_avg_sq
        denom = np.sqrt(v / (1 - beta2 ** r.t)) + r.eps
        s = s + lr / (1 - beta1 ** r.t) * (beta1 * np.abs(state_prev) + (1 - beta1) * g_mag) / denom
        s = s + lr * r.l1 / denom
    else:
        b_prev = 0 if state_prev is None else np.abs(state_prev)
        b = 0 if r.momentum_buffer is None else np.abs(r.momentum_buffer)
        s = s + lr * (g_mag + r.momentum * (b_prev + b) + b)
    return s


def run_and_compare(name, kw, w0, grads, lrs=None):
    """Run fastreg and the reference from ``w0`` on ``grads``; assert the bound at every step.

    ``grads`` is a list of arrays or a callable ``w -> grad`` (evaluated at fastreg's
    iterate and given to both).
    Returns the fastreg optimizer.
    """
    dtype = w0.dtype
    w, w_ref = w0.copy(), w0.copy()
    opt = getattr(optim, name)(w, **kw)
    r = getattr(ref, name)(w_ref, **kw)
    bound = np.zeros(w0.shape)
    n_steps = len(grads) if not callable(grads) else 120
    for k in range(n_steps):
        if lrs is not None:
            opt.lr = r.lr = lrs[k]
        # closed loop: the gradient at fastreg's iterate is fed to both, so that the
        # comparison measures the optimizers' rounding, not the loss's sensitivity
        g = g_ref = grads(w) if callable(grads) else grads[k]
        w_prev = w_ref.copy()
        state_prev = (r.exp_avg.copy() if isinstance(r, ref.Adam)
                      else None if r.momentum_buffer is None else r.momentum_buffer.copy())
        opt.step(g)
        r.step(g_ref)
        bound += _step_magnitude(r, w_prev, g_ref, state_prev)
        err = np.abs(w.astype(np.float64) - w_ref.astype(np.float64))
        tol = RTOL[dtype] * bound + ATOL[dtype]
        assert np.all(err <= tol), (k, np.max(err / tol), w, w_ref)
        assert np.array_equal(np.isnan(w), np.isnan(w_ref))
    assert opt.t == r.t == n_steps
    return opt, r


# ---------------------------------------------------------------------------
# vs reference
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_reference_least_squares(name, kw, dtype, rng, kernels):
    """Closed loop on a least-squares problem, 120 steps, every step compared."""
    A = rng.standard_normal((40, 15)).astype(dtype)
    b = rng.standard_normal(40).astype(dtype)
    w0 = rng.standard_normal(15).astype(dtype)
    opt, r = run_and_compare(name, kw, w0, lambda w: A.T @ (A @ w - b) / len(b))
    assert opt.params.dtype == dtype
    for key, value in opt.state.items():
        assert value.dtype == dtype
        np.testing.assert_allclose(value, getattr(r, key), rtol=1e3 * RTOL[dtype],
                                   atol=1e3 * RTOL[dtype] * np.max(np.abs(getattr(r, key))))


@pytest.mark.parametrize("name, kw", CONFIGS[:4] + CONFIGS[10:12], ids=IDS[:4] + IDS[10:12])
def test_matches_reference_with_lr_schedule(name, kw, dtype, rng):
    """lr changed between steps (cosine with warmup) equals the reference with the same lrs."""
    steps = 100
    lrs = [kw["lr"] * min(1.0, (k + 1) / 10) * 0.5 * (1 + np.cos(np.pi * k / steps))
           for k in range(steps)]
    grads = [rng.standard_normal(7).astype(dtype) for _ in range(steps)]
    run_and_compare(name, kw, rng.standard_normal(7).astype(dtype), grads, lrs=lrs)


def _values(dtype):
    huge = HUGE[np.dtype(dtype)]
    tiny = float(np.finfo(dtype).smallest_subnormal)
    return st.one_of(
        st.just(0.0), st.just(-0.0), st.sampled_from([tiny, -tiny, huge, -huge, 1.0]),
        st.floats(-huge, huge, width=np.finfo(dtype).bits, allow_nan=False,
                  allow_subnormal=True))


@pytest.mark.parametrize("kernels", KERNELS, ids=KERNEL_IDS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_matches_reference_drawn_inputs(data, dtype, kernels):
    """Drawn configs, lengths 0..6, zeros / subnormal / huge values, 100 steps."""
    with using(kernels):
        _drawn_trajectory(data, dtype)


def _drawn_trajectory(data, dtype):
    name, kw = data.draw(st.sampled_from(CONFIGS))
    n = data.draw(st.integers(0, 6))
    w0 = data.draw(hnp.arrays(dtype, n, elements=_values(dtype)))
    base = data.draw(hnp.arrays(dtype, n, elements=_values(dtype)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    local = np.random.default_rng(seed)
    # per-step factors in {0} U +-[0.5, 2]: keeps |g| <= 2 * HUGE (g**2 finite), with zeros
    factors = local.choice([0.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0], size=(100, n))
    grads = [(base * f).astype(dtype) for f in factors]
    if name == "SGD":   # keep huge SGD iterates away from overflow in the L2 term
        w0 = np.clip(w0, -HUGE[np.dtype(dtype)] / 1e3, HUGE[np.dtype(dtype)] / 1e3)
    run_and_compare(name, kw, w0, grads)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_length_zero_and_one(name, dtype, kernels):
    kw = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1)
    w = np.empty(0, dtype=dtype)
    opt = getattr(optim, name)(w, **kw)
    for _ in range(3):
        opt.step(np.empty(0, dtype=dtype))
    assert opt.t == 3 and w.shape == (0,)
    run_and_compare(name, kw, np.array([0.7], dtype=dtype),
                    [np.array([g], dtype=dtype) for g in np.linspace(-1, 1, 100)])


# ---------------------------------------------------------------------------
# vs torch
# ---------------------------------------------------------------------------
TORCH_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


# torch's three implementations (per-tensor loop, foreach, fused CPU kernel: Adam/AdamW only)
TORCH_PARAMS = [(name, kw, impl) for name, kw in TORCH_CASES
                for impl in (["single", "foreach"] + (["fused"] if name != "SGD" else []))]


@pytest.mark.parametrize("name, kw, impl", TORCH_PARAMS,
                         ids=[f"{n}-{impl}-" + "-".join(f"{k}={v}" for k, v in kw.items())
                              for n, kw, impl in TORCH_PARAMS])
def test_matches_torch(name, kw, impl, dtype, rng):
    """100 steps closed loop on least squares, every step within ~10 roundoffs of torch."""
    torch = pytest.importorskip("torch")
    A = rng.standard_normal((40, 15)).astype(dtype)
    b = rng.standard_normal(40).astype(dtype)
    w0 = rng.standard_normal(15).astype(dtype)
    grad = lambda w: A.T @ (A @ w - b) / len(b)   # noqa: E731
    w = w0.copy()
    tw = torch.tensor(w0.copy())
    extra = {"single": dict(foreach=False), "foreach": dict(foreach=True),
             "fused": dict(fused=True)}[impl]
    opt = getattr(optim, name)(w, **kw)
    topt = getattr(torch.optim, name)([tw], **kw, **extra)
    scale = 0.0
    for k in range(100):
        opt.step(grad(w))
        tw.grad = torch.from_numpy(grad(tw.numpy()))
        topt.step()
        scale = max(scale, np.max(np.abs(w)))
        np.testing.assert_allclose(w, tw.numpy(), rtol=0, atol=10 * RTOL[dtype] * scale,
                                   err_msg=f"step {k}")


# ---------------------------------------------------------------------------
# state, identity, allocation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip(name, kw, dtype, rng):
    grads = [rng.standard_normal(9).astype(dtype) for _ in range(60)]
    w = rng.standard_normal(9).astype(dtype)
    opt = getattr(optim, name)(w, **kw)
    for g in grads[:30]:
        opt.step(g)
    saved, saved_w = copy.deepcopy(opt.state_dict()), w.copy()
    for g in grads[30:]:
        opt.step(g)
    expected_w, expected_state = w.copy(), {k: v.copy() for k, v in opt.state.items()}
    # restore into a fresh optimizer constructed with other hyperparameters
    w2 = saved_w.copy()
    opt2 = getattr(optim, name)(w2, **{**kw, "lr": 123.0})
    buffers = {k: v for k, v in opt2.state.items()}
    opt2.load_state_dict(saved)
    assert opt2.t == 30 and opt2.lr == kw["lr"]
    for g in grads[30:]:
        opt2.step(g)
    np.testing.assert_array_equal(w2, expected_w)
    for k, v in opt2.state.items():
        assert v is buffers[k]                       # loaded into the existing buffers
        np.testing.assert_array_equal(v, expected_state[k])
    # restore into the same optimizer (rewind)
    w[:] = saved_w
    opt.load_state_dict(saved)
    for g in grads[30:]:
        opt.step(g)
    np.testing.assert_array_equal(w, expected_w)


def test_state_dict_is_a_copy(rng):
    w = rng.standard_normal(5)
    opt = optim.Adam(w)
    opt.step(rng.standard_normal(5))
    sd = opt.state_dict()
    before = sd["state"]["exp_avg"].copy()
    opt.step(rng.standard_normal(5))
    np.testing.assert_array_equal(sd["state"]["exp_avg"], before)


def test_load_state_dict_mismatch(rng):
    w = rng.standard_normal(5)
    sd = optim.Adam(w, amsgrad=True).state_dict()
    with pytest.raises(ValueError, match="amsgrad or momentum"):
        optim.Adam(w).load_state_dict(sd)
    with pytest.raises(ValueError, match="saved by Adam"):
        optim.AdamW(w).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(np.zeros(4), amsgrad=True).load_state_dict(sd)
    sd_sgd = optim.SGD(w, lr=0.1, momentum=0.5).state_dict()
    with pytest.raises(ValueError, match="amsgrad or momentum"):
        optim.SGD(w, lr=0.1).load_state_dict(sd_sgd)
    sd_sgd["hyperparameters"]["momentum"] = -1.0
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        optim.SGD(w, lr=0.1, momentum=0.5).load_state_dict(sd_sgd)
    with pytest.raises(ValueError, match="returned by state_dict"):
        optim.SGD(w, lr=0.1).load_state_dict({"t": 1})


@pytest.mark.parametrize("name, kw", [("SGD", dict(lr=0.1)),
                                      ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, l1=0.1)),
                                      ("Adam", dict(amsgrad=True, weight_decay=0.1, l1=0.1)),
                                      ("AdamW", dict())])
def test_in_place_no_allocation(name, kw, dtype, rng, kernels):
    """params and state keep their identity; no memory growth over many steps."""
    n = 50_000
    w = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    opt = getattr(optim, name)(w, **kw)
    ids = {k: id(v) for k, v in opt.state.items()}
    opt.step(g)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(20):
            opt.step(g)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opt.params is w and w.dtype == dtype
    assert {k: id(v) for k, v in opt.state.items()} == ids
    assert after - before < 4096
    assert peak - before < 0.05 * n * dtype.itemsize   # no array-sized temporary


def test_non_contiguous_and_read_only_grad(dtype, rng):
    g_full = rng.standard_normal((40, 2)).astype(dtype)
    w1 = rng.standard_normal(40).astype(dtype)
    w2 = w1.copy()
    a = optim.Adam(w1, lr=0.1)
    b = optim.Adam(w2, lr=0.1)
    strided = g_full[:, 0]
    assert not strided.flags.c_contiguous
    contiguous = np.ascontiguousarray(strided)
    contiguous.setflags(write=False)
    for _ in range(5):
        a.step(strided)
        b.step(contiguous)
    scratch = a._scratch
    a.step(strided)
    assert a._scratch is scratch                 # the copy buffer is reused
    b.step(contiguous)
    np.testing.assert_array_equal(w1, w2)


def test_nonfinite_grad_stays_in_its_coordinate(rng, kernels):
    """NaN/inf in grad never raise; they only reach their own coordinate."""
    for name, kw in [("SGD", dict(lr=0.1, momentum=0.9, l1=0.01)),
                     ("Adam", dict(amsgrad=True, l1=0.01))]:
        w = rng.standard_normal(6)
        w_clean = w.copy()
        opt = getattr(optim, name)(w, **kw)
        opt_clean = getattr(optim, name)(w_clean, **kw)
        for k in range(10):
            g = rng.standard_normal(6)
            opt_clean.step(g)
            g[1] = np.nan
            g[4] = np.inf if k % 2 else -np.inf
            opt.step(g)
        assert np.isnan(w[1]) and not np.isfinite(w[4])
        keep = [0, 2, 3, 5]
        np.testing.assert_array_equal(w[keep], w_clean[keep])


def test_adamw_is_adam_decoupled(rng):
    w1 = rng.standard_normal(8)
    w2 = w1.copy()
    a = optim.AdamW(w1, lr=0.01)
    b = optim.Adam(w2, lr=0.01, weight_decay=1e-2, decoupled_weight_decay=True)
    assert a.weight_decay == 1e-2 and a.decoupled_weight_decay
    for _ in range(20):
        g = rng.standard_normal(8)
        a.step(g)
        b.step(g)
    np.testing.assert_array_equal(w1, w2)


def test_l1_prox_gives_exact_zeros(dtype, rng):
    """Proximal SGD/Adam on a sparse least-squares problem: exact zeros, as the reference."""
    A = rng.standard_normal((60, 20)).astype(dtype)
    coef = np.zeros(20, dtype=dtype)
    coef[:3] = [2.0, -1.5, 1.0]
    b = A @ coef
    for name, kw in [("SGD", dict(lr=0.05, l1=0.3)), ("SGD", dict(lr=0.02, momentum=0.5, l1=0.3)),
                     ("Adam", dict(lr=0.01, l1=0.3))]:
        w = np.zeros(20, dtype=dtype)
        opt = getattr(optim, name)(w, l1_scaling="effective", **kw)
        for _ in range(1000):
            opt.step(A.T @ (A @ w - b) / len(b))
        assert np.all(w[3:] == 0.0), (name, w)
        assert np.all(w[:3] != 0.0)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
W = np.zeros(3)


@pytest.mark.parametrize("make, exc, match", [
    (lambda: optim.SGD(np.zeros(3, dtype=np.int64), lr=0.1), TypeError, "params must have dtype"),
    (lambda: optim.SGD(np.zeros(3, dtype=np.complex128), lr=0.1), TypeError, "params must have dtype"),
    (lambda: optim.SGD([0.0, 1.0], lr=0.1), TypeError, "params must be a numpy ndarray"),
    (lambda: optim.SGD(np.zeros((2, 2)), lr=0.1), ValueError, "params must be 1-dimensional"),
    (lambda: optim.SGD(np.zeros(6)[::2], lr=0.1), ValueError, "params must be C-contiguous"),
    (lambda: optim.Adam(_read_only(3)), ValueError, "params is read-only"),
    (lambda: optim.SGD(W, lr=-0.1), ValueError, "lr must be >= 0"),
    (lambda: optim.SGD(W, lr=np.nan), ValueError, "lr must not be NaN"),
    (lambda: optim.SGD(W, lr=np.inf), ValueError, "lr must be finite"),
    (lambda: optim.SGD(W, lr="0.1"), TypeError, "lr must be a real number"),
    (lambda: optim.SGD(W, lr=0.1, momentum=-0.5), ValueError, "momentum must be >= 0"),
    (lambda: optim.SGD(W, lr=0.1, momentum=0.5, dampening=1.5), ValueError, "dampening must be <= 1"),
    (lambda: optim.SGD(W, lr=0.1, nesterov=True), ValueError, "nesterov=True requires momentum > 0"),
    (lambda: optim.SGD(W, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening == 0"),
    (lambda: optim.SGD(W, lr=0.1, nesterov=1), TypeError, "nesterov must be a bool"),
    (lambda: optim.SGD(W, lr=0.1, weight_decay=-1.0), ValueError, "weight_decay must be >= 0"),
    (lambda: optim.SGD(W, lr=0.1, weight_decay=np.inf), ValueError, "weight_decay must be finite"),
    (lambda: optim.SGD(W, lr=0.1, l1=-1.0), ValueError, "l1 must be >= 0"),
    (lambda: optim.SGD(W, lr=0.1, decay_scaling="none"), ValueError, "decay_scaling must be one of"),
    (lambda: optim.SGD(W, lr=0.1, l1_scaling="uniform"), ValueError, "l1_scaling must be"),
    (lambda: optim.SGD(W, lr=0.1, momentum=1.0, l1=0.1, l1_scaling="effective"), ValueError,
     "requires momentum < 1"),
    (lambda: optim.Adam(W, l1_scaling=None), ValueError, "l1_scaling must be"),
    (lambda: optim.Adam(W, betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be < 1"),
    (lambda: optim.Adam(W, betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be >= 0"),
    (lambda: optim.Adam(W, betas=(0.9, np.nan)), ValueError, r"betas\[1\] must not be NaN"),
    (lambda: optim.Adam(W, betas=0.9), ValueError, "betas must be a pair"),
    (lambda: optim.Adam(W, eps=0.0), ValueError, "eps must be > 0"),
    (lambda: optim.Adam(W, eps=-1e-8), ValueError, "eps must be > 0"),
    (lambda: optim.Adam(W, amsgrad="yes"), TypeError, "amsgrad must be a bool"),
    (lambda: optim.Adam(W, decoupled_weight_decay=None), TypeError, "decoupled_weight_decay must be a bool"),
    (lambda: optim.AdamW(W, weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
    (lambda: optim.AdamW(W, schedule_multiplier=np.nan), ValueError, "schedule_multiplier must not be NaN"),
])
def test_bad_hyperparameters(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def _read_only(n):
    a = np.zeros(n)
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("grad, exc, match", [
    (np.zeros(3, dtype=np.float32), TypeError, "grad must have dtype float64"),
    (np.zeros(3, dtype=np.int64), TypeError, "grad must have dtype float32 or float64"),
    (np.zeros(4), ValueError, r"grad must have shape \(3,\)"),
    (np.zeros((3, 1)), ValueError, "grad must be 1-dimensional"),
    ([0.0, 0.0, 0.0], TypeError, "grad must be a numpy ndarray"),
    (np.zeros(3, dtype=">f8"), TypeError, "grad must be in native byte order|grad must have dtype"),
])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_bad_grad(name, grad, exc, match):
    w = np.zeros(3)
    opt = getattr(optim, name)(w, lr=0.1)
    with pytest.raises(exc, match=match):
        opt.step(grad)
    assert opt.t == 0 and np.all(w == 0)


def test_lr_setter_validates():
    opt = optim.SGD(np.zeros(3), lr=0.1)
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match="lr must not be NaN"):
        opt.lr = float("nan")
    assert opt.lr == 0.5


def test_kernel_selection():
    """The AVX2 build is used exactly when the CPU supports it (unless FASTREG_KERNELS=baseline)."""
    import os
    if os.environ.get("FASTREG_KERNELS") == "baseline":
        assert optim._kernels is _optim
    else:
        assert optim._kernels is KERNELS[-1]


@pytest.mark.parametrize("name, kw", [("SGD", dict(lr=0.05)), ("SGD", dict(lr=0.05, momentum=0.9)),
                                      ("Adam", dict(lr=0.05)), ("AdamW", dict(lr=0.05))])
def test_default_l1_prox_is_soft_threshold_by_lr_l1(name, kw, dtype, rng):
    """By default ``l1 > 0`` soft-thresholds the plain step's result by exactly ``lr * l1``."""
    from fastreg.reference.prox import soft_threshold

    l1 = 0.7
    w_prox = rng.standard_normal(50).astype(dtype)
    w_plain = w_prox.copy()
    o_prox = getattr(optim, name)(w_prox, l1=l1, **kw)
    o_plain = getattr(optim, name)(w_plain, **kw)
    for _ in range(5):
        # the same state before each step: restart the plain optimizer from the prox one
        state = o_prox.state_dict()
        state["hyperparameters"]["l1"] = 0.0
        o_plain.load_state_dict(state)
        w_plain[:] = w_prox
        g = rng.standard_normal(50).astype(dtype)
        o_prox.step(g)
        o_plain.step(g)
        expected = soft_threshold(w_plain.astype(np.float64), kw["lr"] * l1)
        np.testing.assert_allclose(w_prox, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-14)
