"""Per-element optimizer updates (inline, nogil): the one definition of the update maths.

Each function updates ONE coordinate: it takes the current parameter ``w`` and
the loss gradient ``g`` for it (without any regularization), updates the
optimizer state through pointers, and returns the new parameter. The order of
operations is that of :mod:`fastreg.optim` (torch's)::

    g <- g + l2 * w                 coupled L2 regularization (l2 = 0: none)
    w <- shrink * w                 decoupled weight decay (shrink = 1 - lr * wd; 1: none)
    state and w <- optimizer update
    w <- S(w, thr)                  L1 prox, S(x, t) = sign(x) max(|x| - t, 0) (thr = 0: none)

Two layers, one set of formulas:

- ``*_update`` (fused): the arithmetic is carried out in ``floating`` (the type of
  ``w``, ``g`` and the hyperparameters); the state is stored in ``state_t`` and
  read back after each write, so that the step uses exactly the stored state.
  Options are ``bint``/``int`` flags: the whole-vector loops of
  ``_optim_kernels.pxi`` (``fastreg._optim``) call them with literal flags and
  arithmetic in the arrays' dtype (float32 arithmetic for float32 arrays, as
  torch does), so that after inlining gcc emits one branch-free vectorized loop
  per variant.
- ``*_coord`` (double arithmetic, state in the arrays' precision ``floating``):
  the per-coordinate form used by the epoch kernels of ``_sgd.pyx``; they call
  the ``*_update`` functions with ``floating = double``.

References
----------
Sutskever, Martens, Dahl & Hinton (2013), ICML (momentum / Nesterov in torch's form).
Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", ICLR.
Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf, fabs, fabsf, copysign, copysignf

ctypedef fused state_t:
    float
    double


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
cdef inline floating fsqrt(floating x) noexcept nogil:
    """Correctly rounded square root in the precision of ``x``."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating soft_threshold(floating x, floating t) noexcept nogil:
    """``sign(x) * max(|x| - t, 0)`` without a branch; NaN stays NaN (divergence stays visible)."""
    cdef floating a
    if floating is float:
        a = fabsf(x) - t
        a = 0 if a < 0 else a          # NaN < 0 is false: NaN is kept
        return copysignf(a, x)
    else:
        a = fabs(x) - t
        a = 0 if a < 0 else a
        return copysign(a, x)


cdef inline floating descend(floating w, floating d, floating lr, floating shrink,
                             floating thr, bint use_l1) noexcept nogil:
    """``S(shrink * w - lr * d, thr)`` (no prox unless ``use_l1``)."""
    w = shrink * w
    w = w - lr * d
    if use_l1:
        w = soft_threshold(w, thr)
    return w


cdef inline floating adam_descend(floating w, floating m, floating denom, floating step_size,
                                  floating shrink, floating thr, int l1_mode) noexcept nogil:
    """``S(shrink * w - step_size * m / denom, tau)``: one division.

    ``l1_mode``: 0 no prox; 1 ``tau = thr``; 2 ``tau = thr / denom`` (the prox
    in the metric ``diag(denom)`` of the Adam step).
    """
    w = shrink * w
    w = w - step_size * m / denom
    if l1_mode == 1:
        w = soft_threshold(w, thr)
    elif l1_mode == 2:
        w = soft_threshold(w, thr / denom)
    return w


# ---------------------------------------------------------------------------
# fused per-element updates (arithmetic in floating, state stored as state_t)
# ---------------------------------------------------------------------------
cdef inline floating sgd_update(floating w, floating g, floating lr, floating l2,
                                floating shrink, floating thr, bint use_l2,
                                bint use_l1) noexcept nogil:
    """Plain SGD: ``S(shrink * w - lr * (g + l2 * w), thr)``."""
    if use_l2:
        g = g + l2 * w
    return descend(w, g, lr, shrink, thr, use_l1)


cdef inline floating momentum_update(floating w, floating g, state_t* buf, floating lr,
                                     floating momentum, floating buf_decay,
                                     floating grad_scale, floating l2, floating shrink,
                                     floating thr, bint nesterov, bint use_l2,
                                     bint use_l1) noexcept nogil:
    """Heavy ball / Nesterov (torch.optim.SGD): ``b <- buf_decay * b + grad_scale * g``.

    torch's first step sets ``b = g``: pass ``buf_decay = 0, grad_scale = 1``
    then, ``(momentum, 1 - dampening)`` afterwards. Direction ``d = g + momentum
    * b`` (Nesterov) or ``d = b``; ``w <- S(shrink * w - lr * d, thr)``.
    """
    cdef floating b
    if use_l2:
        g = g + l2 * w
    buf[0] = <state_t> (buf_decay * buf[0] + grad_scale * g)
    b = buf[0]
    if nesterov:
        b = g + momentum * b
    return descend(w, b, lr, shrink, thr, use_l1)


cdef inline floating adam_moments(floating g, state_t* m, state_t* v, floating beta1,
                                  floating one_minus_beta1, floating beta2,
                                  floating one_minus_beta2, floating* v_new) noexcept nogil:
    """``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``; returns the stored ``m``
    and writes the stored ``v`` to ``v_new``."""
    cdef floating mi
    m[0] = <state_t> (beta1 * m[0] + one_minus_beta1 * g)
    mi = m[0]
    v[0] = <state_t> (beta2 * v[0] + one_minus_beta2 * (g * g))
    v_new[0] = v[0]
    return mi


cdef inline floating adam_update(floating w, floating g, state_t* m, state_t* v,
                                 floating step_size, floating beta1, floating one_minus_beta1,
                                 floating beta2, floating one_minus_beta2,
                                 floating inv_sqrt_bc2, floating eps, floating l2,
                                 floating shrink, floating thr, bint use_l2,
                                 int l1_mode) noexcept nogil:
    """Adam: ``step_size = lr / (1 - beta1^t)``, ``inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t)``.

    Moments by :func:`adam_moments`, ``denom = sqrt(v) * inv_sqrt_bc2 + eps``
    (= ``sqrt(v_hat) + eps``), ``w <- S(shrink * w - step_size * m / denom, tau)``
    (see :func:`adam_descend`).
    """
    cdef floating mi, vi
    if use_l2:
        g = g + l2 * w
    mi = adam_moments(g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, &vi)
    return adam_descend(w, mi, fsqrt(vi) * inv_sqrt_bc2 + eps, step_size, shrink, thr,
                        l1_mode)


cdef inline floating amsgrad_update(floating w, floating g, state_t* m, state_t* v,
                                    state_t* v_max, floating step_size, floating beta1,
                                    floating one_minus_beta1, floating beta2,
                                    floating one_minus_beta2, floating inv_sqrt_bc2,
                                    floating eps, floating l2, floating shrink, floating thr,
                                    bint use_l2, int l1_mode) noexcept nogil:
    """AMSGrad (torch's form): as :func:`adam_update` with ``v_max <- max(v_max, v)``
    (raw second moments) in the denominator; a NaN in ``v`` propagates."""
    cdef floating mi, vi, vm
    if use_l2:
        g = g + l2 * w
    mi = adam_moments(g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, &vi)
    vm = v_max[0]
    vm = vm if vm >= vi else vi
    v_max[0] = <state_t> vm
    return adam_descend(w, mi, fsqrt(vm) * inv_sqrt_bc2 + eps, step_size, shrink, thr,
                        l1_mode)


# ---------------------------------------------------------------------------
# per-coordinate forms for the epoch kernels (double arithmetic, state in floating)
# ---------------------------------------------------------------------------
cdef inline double prox_l1(double x, double t) noexcept nogil:
    """``sign(x) * max(|x| - t, 0)``; NaN stays NaN (divergence stays visible)."""
    return soft_threshold(x, t)


cdef inline int _l1_mode(double thr, bint l1_adaptive) noexcept nogil:
    if not thr > 0.0:
        return 0
    return 2 if l1_adaptive else 1


cdef inline double sgd_coord(double w, double g, double lr, double l2, double shrink,
                             double thr) noexcept nogil:
    """Plain SGD: ``S(shrink * w - lr * (g + l2 * w), thr)`` (:func:`sgd_update`)."""
    return sgd_update(w, g, lr, l2, shrink, thr, True, thr > 0.0)


cdef inline double momentum_coord(double w, double g, floating* buf, double lr,
                                  double momentum, double buf_decay, double grad_scale,
                                  bint nesterov, double l2, double shrink,
                                  double thr) noexcept nogil:
    """Heavy ball / Nesterov (:func:`momentum_update`)."""
    return momentum_update(w, g, buf, lr, momentum, buf_decay, grad_scale, l2, shrink, thr,
                           nesterov, True, thr > 0.0)


cdef inline double adam_coord(double w, double g, floating* m, floating* v,
                              double step_size, double beta1, double beta2,
                              double inv_sqrt_bc2, double eps, double l2, double shrink,
                              double thr, bint l1_adaptive) noexcept nogil:
    """Adam (:func:`adam_update`); the L1 threshold is ``thr / denom`` if ``l1_adaptive``."""
    return adam_update(w, g, m, v, step_size, beta1, 1.0 - beta1, beta2, 1.0 - beta2,
                       inv_sqrt_bc2, eps, l2, shrink, thr, True, _l1_mode(thr, l1_adaptive))


cdef inline double amsgrad_coord(double w, double g, floating* m, floating* v,
                                 floating* v_max, double step_size, double beta1,
                                 double beta2, double inv_sqrt_bc2, double eps, double l2,
                                 double shrink, double thr, bint l1_adaptive) noexcept nogil:
    """AMSGrad (:func:`amsgrad_update`)."""
    return amsgrad_update(w, g, m, v, v_max, step_size, beta1, 1.0 - beta1, beta2, 1.0 - beta2,
                          inv_sqrt_bc2, eps, l2, shrink, thr, True, _l1_mode(thr, l1_adaptive))


cdef inline double cumulative_l1(double w, double u, floating* q) noexcept nogil:
    """Cumulative L1 penalty of Tsuruoka, Tsujii & Ananiadou (2009).

    ``u`` is the total L1 penalty every weight could have received so far
    (``sum_t lr_t * l1``), ``*q`` the total actually applied to this weight
    (signed). A positive weight is lowered by ``u + q`` but not below 0, a
    negative one raised by ``u - q`` but not above 0; ``q`` records the change.
    """
    cdef double z = w
    if w > 0.0:
        w = w - (u + q[0])
        if w < 0.0:
            w = 0.0
    elif w < 0.0:
        w = w + (u - q[0])
        if w > 0.0:
            w = 0.0
    q[0] = <floating> (q[0] + (w - z))
    return w
