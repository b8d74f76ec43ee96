"""L2 regularization vs decoupled weight decay vs the L1 prox, as executable statements.

Notation: ``lambda`` weight decay, ``lr`` learning rate, ``mu`` momentum, ``d``
dampening. "L2" is ``decoupled_weight_decay=False`` (``lambda * w`` added to the
gradient), "decay" is ``decoupled_weight_decay=True`` (``w <- w - lr lambda w``
before the step). What is proved and checked here:

1. SGD without momentum: L2 and decay with the same lambda give the same
   iterates, for any gradients and any lr schedule (to rounding).
2. SGD with momentum (heavy ball or Nesterov): not the same iterates (explicit
   counterexample). Exact relations: (a) fixed points coincide iff
   ``lambda_decay = lambda_L2 * (1 - d) / (1 - mu)``; (b) with a zero loss
   gradient, L2 follows the heavy-ball recursion ``w_{t+1} = (1 + mu - (1 - d)
   lr lambda) w_t - mu w_{t-1}`` whose slow rate is ``1 - (1 - d) lr lambda /
   (1 - mu) + O((lr lambda)^2)``, while decay shrinks by exactly ``1 - lr
   lambda`` per step.
3. Adam: L2 and decay give different iterates; AdamW's decay is exactly
   ``w <- w * (1 - lr lambda)``, outside the moments (which it leaves bitwise
   unchanged).
4. The L1 prox gives exact zeros (and proximal SGD / momentum / Adam reach the
   Lasso solution); L2 and decay never make a non-zero weight zero.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastreg import optim

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def _least_squares(rng, dtype, n=60, p=8):
    A = rng.standard_normal((n, p)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    return A, b, (lambda w: A.T @ (A @ w - b) / n)


def _ridge(A, b, lam):
    """argmin ||Aw - b||^2 / (2n) + lam/2 ||w||^2 (float64 closed form)."""
    A, b = A.astype(np.float64), b.astype(np.float64)
    n, p = A.shape
    return np.linalg.solve(A.T @ A / n + lam * np.eye(p), A.T @ b / n)


# ---------------------------------------------------------------------------
# 1. plain SGD: the same iterates
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("l1", [0.0, 0.05])
def test_sgd_l2_equals_decoupled_decay(dtype, rng, l1):
    A, b, grad = _least_squares(rng, dtype)
    lam = 0.3
    w_l2 = rng.standard_normal(A.shape[1]).astype(dtype)
    w_dec = w_l2.copy()
    l2 = optim.SGD(w_l2, lr=0.1, weight_decay=lam, l1=l1)
    dec = optim.SGD(w_dec, lr=0.1, weight_decay=lam, decoupled_weight_decay=True, l1=l1)
    for k in range(200):
        l2.lr = dec.lr = 0.1 * (1 + np.sin(k / 7)) / 2      # any schedule
        g = grad(w_l2)                                       # the same gradient for both
        l2.step(g)
        dec.step(g)
        np.testing.assert_allclose(w_dec, w_l2, rtol=0,
                                   atol=10 * (k + 1) * RTOL[dtype] * np.max(np.abs(w_l2)))
    assert np.max(np.abs(w_l2)) > 0.1    # not a trivial trajectory
    # and they are the closed-loop ridge solution
    l2.lr = 0.1
    for _ in range(3000 if l1 == 0 else 0):
        l2.step(grad(w_l2))
    if l1 == 0:
        np.testing.assert_allclose(w_l2, _ridge(A, b, lam), rtol=1e3 * RTOL[dtype],
                                   atol=1e3 * RTOL[dtype])


# ---------------------------------------------------------------------------
# 2. SGD with momentum: different iterates, related fixed points and rates
# ---------------------------------------------------------------------------
def test_momentum_counterexample():
    """Zero loss gradient, w0 = 1, lr = 0.1, lambda = 1, mu = 0.9.

    L2:    b1 = lambda w0 = 1,  w1 = 0.9;  b2 = mu b1 + lambda w1 = 1.8,  w2 = 0.72.
    decay: b = 0 throughout,   w1 = 0.9;  w2 = 0.81.
    """
    w_l2, w_dec = np.array([1.0]), np.array([1.0])
    l2 = optim.SGD(w_l2, lr=0.1, momentum=0.9, weight_decay=1.0)
    dec = optim.SGD(w_dec, lr=0.1, momentum=0.9, weight_decay=1.0, decoupled_weight_decay=True)
    zero = np.zeros(1)
    l2.step(zero)
    dec.step(zero)
    np.testing.assert_allclose([w_l2[0], w_dec[0]], [0.9, 0.9], rtol=1e-15)
    l2.step(zero)
    dec.step(zero)
    np.testing.assert_allclose([w_l2[0], w_dec[0]], [0.72, 0.81], rtol=1e-15)
    assert l2.state["momentum_buffer"][0] == pytest.approx(1.8, rel=1e-15)
    assert dec.state["momentum_buffer"][0] == 0.0


@pytest.mark.parametrize("mu, d, nesterov", [(0.9, 0.0, False), (0.8, 0.4, False),
                                             (0.9, 0.0, True)])
def test_momentum_trajectories_differ_fixed_points_match(mu, d, nesterov, rng):
    """Same fixed point iff lambda_decay = lambda_L2 (1 - d)/(1 - mu); never the same iterates.

    At a fixed point the buffer is ``(1 - d) / (1 - mu)`` times the (regularized)
    gradient and the step is zero, so: L2 solves ``grad f(w) + lambda w = 0``;
    decay solves ``(1 - d)/(1 - mu) grad f(w) + lambda_decay w = 0``.
    """
    A, b, grad = _least_squares(rng, np.float64)
    lam = 0.2
    lam_matched = lam * (1 - d) / (1 - mu)
    w0 = rng.standard_normal(A.shape[1])
    ws = {key: w0.copy() for key in ("l2", "matched", "naive")}
    opts = {
        "l2": optim.SGD(ws["l2"], lr=0.05, momentum=mu, dampening=d, nesterov=nesterov,
                        weight_decay=lam),
        "matched": optim.SGD(ws["matched"], lr=0.05, momentum=mu, dampening=d,
                             nesterov=nesterov, weight_decay=lam_matched,
                             decoupled_weight_decay=True),
        "naive": optim.SGD(ws["naive"], lr=0.05, momentum=mu, dampening=d, nesterov=nesterov,
                           weight_decay=lam, decoupled_weight_decay=True),
    }
    early_gap = 0.0
    for k in range(4000):
        for key, opt in opts.items():
            opt.step(grad(ws[key]))
        if k < 20:
            early_gap = max(early_gap, np.max(np.abs(ws["l2"] - ws["matched"])))
    assert early_gap > 1e-3                       # the transients differ ...
    ridge = _ridge(A, b, lam)
    np.testing.assert_allclose(ws["l2"], ridge, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ws["matched"], ridge, rtol=1e-10, atol=1e-12)  # ... the limits agree
    # the same lambda used as decay is a weaker regularization: ridge with lambda (1 - mu)/(1 - d)
    np.testing.assert_allclose(ws["naive"], _ridge(A, b, lam * (1 - mu) / (1 - d)),
                               rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(ws["naive"] - ridge)) > 1e-2


@pytest.mark.parametrize("mu, d", [(0.9, 0.0), (0.9, 0.3), (0.5, 0.0)])
@pytest.mark.parametrize("a", [1e-3, 1e-4])
def test_momentum_l2_rate_is_lambda_over_one_minus_mu(mu, d, a):
    """Zero loss gradient, a = lr * lambda: L2 with momentum decays like decay a (1-d)/(1-mu).

    The L2 iterates satisfy exactly ``w_{t+1} = (1 + mu - (1-d) a) w_t - mu w_{t-1}``
    (t >= 1); their asymptotic ratio is the largest root r of ``r^2 - (1 + mu -
    (1-d) a) r + mu = 0``, and with ``e = (1-d) a``:
    ``r = 1 - e / (1 - mu) - mu e^2 / (1 - mu)^3 - mu (1 + mu) e^3 / (1 - mu)^5 - ...``
    (substitute ``r = 1 - x`` and iterate ``x = (e + x^2 - e x) / (1 - mu)``). Decoupled decay with momentum shrinks by exactly
    ``1 - a`` per step (its buffer stays zero).
    """
    lr = 0.1
    lam = a / lr
    w = np.array([1.0])
    opt = optim.SGD(w, lr=lr, momentum=mu, dampening=d, weight_decay=lam)
    zero = np.zeros(1)
    hist = [w[0]]
    for _ in range(3000):
        opt.step(zero)
        hist.append(w[0])
    hist = np.array(hist)
    c = 1 + mu - (1 - d) * a
    np.testing.assert_allclose(hist[2:], c * hist[1:-1] - mu * hist[:-2], rtol=1e-13)
    r = max(np.roots([1.0, -c, mu]).real)
    assert hist[-1] / hist[-2] == pytest.approx(r, rel=1e-12)
    e = (1 - d) * a
    first_order = 1 - e / (1 - mu)
    second = mu * e ** 2 / (1 - mu) ** 3
    third = mu * (1 + mu) * e ** 3 / (1 - mu) ** 5     # next term of the series
    assert abs(r - (first_order - second)) <= 1.5 * third + 1e-15
    assert abs(r - first_order) <= second + 1.5 * third + 1e-15
    # decoupled decay: exact geometric shrink by 1 - a whatever the momentum
    w_dec = np.array([1.0])
    dec = optim.SGD(w_dec, lr=lr, momentum=mu, dampening=d, weight_decay=lam,
                    decoupled_weight_decay=True)
    for t in range(1, 101):
        dec.step(zero)
        assert w_dec[0] == pytest.approx((1 - a) ** t, rel=1e-13)


# ---------------------------------------------------------------------------
# 3. Adam: L2 is rescaled by the adaptive denominator, AdamW's decay is not
# ---------------------------------------------------------------------------
def test_adam_l2_differs_from_decay():
    """First step with zero loss gradient from fresh moments.

    L2: g = lambda w, m_hat = g, sqrt(v_hat) = |g|: w1 = w0 - lr lambda w0 / (lambda |w0| + eps),
    about w0 - lr sign(w0) whatever |w0|. Decay: w1 = (1 - lr lambda) w0, proportional to w0.
    """
    lr, lam, eps = 0.01, 0.1, 1e-8
    w0 = np.array([100.0, 1.0, -0.5, 1e-3])
    w_l2, w_dec = w0.copy(), w0.copy()
    optim.Adam(w_l2, lr=lr, eps=eps, weight_decay=lam).step(np.zeros(4))
    optim.Adam(w_dec, lr=lr, eps=eps, weight_decay=lam, decoupled_weight_decay=True).step(np.zeros(4))
    np.testing.assert_allclose(w_l2, w0 - lr * lam * w0 / (lam * np.abs(w0) + eps), rtol=1e-14)
    np.testing.assert_allclose(w_dec, (1 - lr * lam) * w0, rtol=1e-15)
    moves_l2 = np.abs(w_l2 - w0)
    assert np.all(np.abs(moves_l2 - lr) < 1e-6 * lr / np.abs(w0))    # ~lr for every weight
    assert not np.allclose(w_l2, w_dec, rtol=1e-3)


def test_adam_l2_and_decay_trajectories_differ(rng):
    A, b, grad = _least_squares(rng, np.float64)
    w_l2 = rng.standard_normal(A.shape[1])
    w_dec = w_l2.copy()
    l2 = optim.Adam(w_l2, lr=0.01, weight_decay=0.5)
    dec = optim.Adam(w_dec, lr=0.01, weight_decay=0.5, decoupled_weight_decay=True)
    gap = 0.0
    for _ in range(300):
        l2.step(grad(w_l2))
        dec.step(grad(w_dec))
        gap = max(gap, np.max(np.abs(w_l2 - w_dec)))
    assert gap > 1e-2


def test_adamw_fresh_zero_gradient_is_exact_shrink(dtype, rng):
    """Fresh moments and zero gradient: m = v = 0, the Adam update is exactly 0 and each
    AdamW step is exactly ``w <- w * (1 - lr * lambda)`` (in the dtype, bitwise)."""
    lr, lam = 0.05, 0.3
    w = rng.standard_normal(16).astype(dtype)
    expected = w.copy()
    opt = optim.AdamW(w, lr=lr, weight_decay=lam)
    factor = dtype.type(1 - lr * lam)
    for _ in range(30):
        opt.step(np.zeros(16, dtype=dtype))
        expected = expected * factor
        np.testing.assert_array_equal(w, expected)
    assert np.all(opt.state["exp_avg"] == 0) and np.all(opt.state["exp_avg_sq"] == 0)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decay_is_exactly_lr_lambda_w_outside_the_moments(dtype, rng, amsgrad):
    """From the same (non-trivial) state and gradient, an AdamW step and an Adam(wd=0)
    step leave bitwise identical moments, and differ in w by -lr*lambda*w_old (to rounding)."""
    lr, lam = 0.01, 0.2
    A, b, grad = _least_squares(rng, dtype)
    w = rng.standard_normal(A.shape[1]).astype(dtype)
    adamw = optim.AdamW(w, lr=lr, weight_decay=lam, amsgrad=amsgrad)
    for _ in range(25):                      # reach a generic state
        adamw.step(grad(w))
    w_plain = w.copy()
    plain = optim.Adam(w_plain, lr=lr, amsgrad=amsgrad)
    state = adamw.state_dict()
    state["optimizer"], state["hyperparameters"] = "Adam", plain.state_dict()["hyperparameters"]
    plain.load_state_dict(state)
    w_old = w.copy()
    g = grad(w)
    adamw.step(g)
    plain.step(g)
    for key in adamw.state:
        np.testing.assert_array_equal(adamw.state[key], plain.state[key])
    diff = (w.astype(np.float64) - w_plain.astype(np.float64))
    expected = -lr * lam * w_old.astype(np.float64)
    np.testing.assert_allclose(diff, expected, rtol=0,
                               atol=4 * np.finfo(dtype).eps * np.max(np.abs(w_old)))
    # the same comparison with L2 Adam: the moments differ
    w_l2 = w_old.copy()
    l2 = optim.Adam(w_l2, lr=lr, weight_decay=lam, amsgrad=amsgrad)
    state["hyperparameters"] = l2.state_dict()["hyperparameters"]
    l2.load_state_dict(state)
    l2.step(g)
    assert not np.array_equal(l2.state["exp_avg"], plain.state["exp_avg"])


def test_loshchilov_hutter_schedule_convention(rng):
    """decay_scaling="schedule" (w <- w - eta_t lambda w) equals torch's convention
    (w <- w - lr_t lambda' w) with lr_t = alpha eta_t and lambda' = lambda / alpha,
    and differs from torch's convention with the same lambda."""
    A, b, grad = _least_squares(rng, np.float64)
    alpha, lam, steps = 1e-2, 1e-3, 200
    w0 = rng.standard_normal(A.shape[1])
    ws = {k: w0.copy() for k in ("sched", "lr_matched", "lr_same")}
    opts = {
        "sched": optim.AdamW(ws["sched"], lr=alpha, weight_decay=lam, decay_scaling="schedule"),
        "lr_matched": optim.AdamW(ws["lr_matched"], lr=alpha, weight_decay=lam / alpha),
        "lr_same": optim.AdamW(ws["lr_same"], lr=alpha, weight_decay=lam),
    }
    for k in range(steps):
        eta = 0.5 * (1 + np.cos(np.pi * k / steps))
        for key, opt in opts.items():
            opt.lr = alpha * eta
            opt.schedule_multiplier = eta
            opt.step(grad(ws[key]))
    np.testing.assert_allclose(ws["sched"], ws["lr_matched"], rtol=1e-11, atol=1e-13)
    assert np.max(np.abs(ws["sched"] - ws["lr_same"])) > 1e-4


# ---------------------------------------------------------------------------
# 4. L1 prox: exact zeros; L2 / decay: never zero
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, kw", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.02, momentum=0.9)),
    ("SGD", dict(lr=0.02, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.02, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
])
def test_proximal_optimizers_reach_the_lasso_solution(name, kw, dtype, rng):
    """With l1_scaling="effective" the fixed points are the Lasso solutions: the iterates
    reach sklearn's Lasso (objective ||Aw - b||^2/(2n) + alpha ||w||_1) with its exact zeros."""
    from sklearn.linear_model import Lasso

    n, p, alpha = 80, 12, 0.1
    A = rng.standard_normal((n, p))
    coef = np.zeros(p)
    coef[:3] = [2.0, -1.5, 1.0]
    b = A @ coef + 0.1 * rng.standard_normal(n)
    lasso = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000, fit_intercept=False).fit(A, b).coef_
    A, b = A.astype(dtype), b.astype(dtype)
    w = np.zeros(p, dtype=dtype)
    opt = getattr(optim, name)(w, l1=alpha, l1_scaling="effective", **kw)
    for k in range(4000):
        if name == "Adam":
            opt.lr = kw["lr"] / np.sqrt(1 + k / 100)
        opt.step(A.T @ (A @ w - b) / n)
    np.testing.assert_array_equal(w == 0, lasso == 0)
    assert np.sum(w == 0) == p - 3
    # SGD variants reach the fixed point to rounding; Adam (decaying lr, AMSGrad's slowly
    # forgotten v_max) only approaches it
    if dtype == np.float32:
        atol = 1e-4
    else:
        atol = 1e-10 if name == "SGD" else 1e-5
    np.testing.assert_allclose(w, lasso, atol=atol)


def test_l1_lr_scaling_with_momentum_solves_a_weaker_lasso(rng):
    """l1_scaling="lr" with momentum: fixed points solve the Lasso with alpha (1-mu)/(1-d)."""
    from sklearn.linear_model import Lasso

    n, p, alpha, mu = 80, 12, 0.1, 0.5
    A = rng.standard_normal((n, p))
    b = A[:, 0] * 2.0 + 0.5 * rng.standard_normal(n)
    weaker = Lasso(alpha=alpha * (1 - mu), tol=1e-14, max_iter=100_000,
                   fit_intercept=False).fit(A, b).coef_
    w = np.zeros(p)
    opt = optim.SGD(w, lr=0.02, momentum=mu, l1=alpha, l1_scaling="lr")
    for _ in range(4000):
        opt.step(A.T @ (A @ w - b) / n)
    np.testing.assert_allclose(w, weaker, atol=1e-10)
    np.testing.assert_array_equal(w == 0, weaker == 0)


def test_l1_prox_zeroes_exactly_below_threshold(dtype):
    """One prox-SGD step with zero gradient: |w| <= lr*l1 -> exactly 0; else shrunk by lr*l1."""
    lr, l1 = 0.5, 0.2                                   # threshold 0.1
    w = np.array([0.1, -0.1, 0.05, -1e-30, 0.0, 0.3, -2.0], dtype=dtype)
    w0 = w.copy()
    optim.SGD(w, lr=lr, l1=l1).step(np.zeros_like(w))
    thr = dtype.type(lr * l1)
    expected = np.where(np.abs(w0) <= thr, 0, w0 - np.sign(w0) * thr).astype(dtype)
    np.testing.assert_array_equal(w, expected)
    assert np.all(w[:5] == 0)


_nonzero_normal = st.floats(1e-300, 1e300).flatmap(lambda x: st.sampled_from([x, -x]))
_nonzero_any = st.floats(5e-324, 1e300).flatmap(lambda x: st.sampled_from([x, -x]))


@settings(max_examples=60, deadline=None)
@given(w0=_nonzero_any, a=st.floats(1e-6, 0.49), lr=st.floats(1e-3, 1.0))
def test_decoupled_decay_never_zeroes_a_weight(w0, a, lr):
    """The shrink ``w * (1 - a)`` with ``a = lr * lambda < 1/2`` is never 0 for w != 0, even
    subnormal: ``|w (1 - a)| > |w| / 2 >= (smallest subnormal) / 2`` rounds to non-zero.
    (Same for SGD and AdamW from fresh moments with a zero loss gradient.)"""
    lam = a / lr
    for make in (lambda w: optim.SGD(w, lr=lr, momentum=0.9, weight_decay=lam,
                                     decoupled_weight_decay=True),
                 lambda w: optim.AdamW(w, lr=lr, weight_decay=lam)):
        w = np.array([w0])
        opt = make(w)
        for _ in range(50):
            opt.step(np.zeros(1))
            assert w[0] != 0.0 and np.sign(w[0]) == np.sign(w0)


@settings(max_examples=60, deadline=None)
@given(w0=_nonzero_normal, a=st.floats(1e-6, 0.49), lr=st.floats(1e-3, 1.0))
def test_l2_sgd_never_zeroes_a_normal_weight(w0, a, lr):
    """Coupled L2 SGD, zero loss gradient: ``w - lr (lambda w)`` keeps its sign for normal
    (not subnormal) w. (For subnormal w the two roundings in ``lr * (lambda * w)`` can
    reach ``w`` itself: e.g. ``w = 5e-324, lambda = 0.9, lr = 0.55`` gives 0.)"""
    lam = a / lr
    w = np.array([w0])
    opt = optim.SGD(w, lr=lr, weight_decay=lam)
    for _ in range(20):
        opt.step(np.zeros(1))
        assert w[0] != 0.0 and np.sign(w[0]) == np.sign(w0)
        if abs(w[0]) < 1e-300:
            break


def test_subnormal_double_rounding_caveat():
    """The caveat stated above, pinned down."""
    w = np.array([5e-324])
    optim.SGD(w, lr=0.55, weight_decay=0.9).step(np.zeros(1))
    assert w[0] == 0.0
    w = np.array([5e-324])
    optim.SGD(w, lr=0.55, weight_decay=0.9, decoupled_weight_decay=True).step(np.zeros(1))
    assert w[0] == 5e-324


def test_l1_subgradient_dominates_l2_near_zero():
    """Near 0 the L1 (sub)gradient l1*sign(w) dominates the L2 gradient lambda*w
    (|lambda w| < l1 for |w| < l1/lambda): from the same start, proximal L1 reaches exact
    zeros in finitely many steps while L2 (coupled or decoupled) only shrinks geometrically."""
    lr, l1, lam = 0.1, 0.5, 0.5
    w_l1, w_l2 = np.array([0.3, -0.2]), np.array([0.3, -0.2])
    o_l1 = optim.SGD(w_l1, lr=lr, l1=l1)
    o_l2 = optim.SGD(w_l2, lr=lr, weight_decay=lam)
    for k in range(1, 11):
        o_l1.step(np.zeros(2))
        o_l2.step(np.zeros(2))
        np.testing.assert_allclose(w_l2, np.array([0.3, -0.2]) * (1 - lr * lam) ** k, rtol=1e-14)
    assert np.all(w_l1 == 0) and np.all(w_l2 != 0)
