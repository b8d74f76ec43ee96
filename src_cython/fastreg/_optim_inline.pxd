"""Per-coordinate optimizer updates (inline, nogil), the semantics of :mod:`fastreg.optim`.

Each function updates ONE coordinate: it takes the current parameter ``w``
and the loss gradient ``g`` for it (without any regularization), updates the
optimizer state through pointers, and returns the new parameter. The order of
operations is that of ``fastreg._optim`` / ``fastreg.optim`` (torch's)::

    g <- g + l2 * w                 coupled L2 regularization (l2 = 0: none)
    w <- shrink * w                 decoupled weight decay (shrink = 1 - lr * wd; 1: none)
    state and w <- optimizer update
    w <- S(w, thr)                  L1 prox, S(x, t) = sign(x) max(|x| - t, 0) (thr = 0: none)

Hyperparameters are doubles and the arithmetic is carried out in double; the
state is stored in the arrays' precision (``floating``). These helpers are
meant to be called in a loop over coordinates by epoch kernels (``_sgd.pyx``)
and could equally serve a whole-vector step.

References
----------
Sutskever, Martens, Dahl & Hinton (2013), ICML (momentum / Nesterov in torch's form).
Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", ICLR.
Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
"""
from cython cimport floating
from libc.math cimport sqrt, fabs, copysign


cdef inline double prox_l1(double x, double t) noexcept nogil:
    """``sign(x) * max(|x| - t, 0)``; NaN stays NaN (divergence stays visible)."""
    cdef double a = fabs(x) - t
    if a < 0.0:
        a = 0.0
    return copysign(a, x)


cdef inline double sgd_coord(double w, double g, double lr, double l2, double shrink,
                             double thr) noexcept nogil:
    """Plain SGD: ``S(shrink * w - lr * (g + l2 * w), thr)``."""
    g = g + l2 * w
    w = shrink * w
    w = w - lr * g
    if thr > 0.0:
        w = prox_l1(w, thr)
    return w


cdef inline double momentum_coord(double w, double g, floating* buf, double lr,
                                  double momentum, double buf_decay, double grad_scale,
                                  bint nesterov, double l2, double shrink,
                                  double thr) noexcept nogil:
    """Heavy ball / Nesterov (torch.optim.SGD): ``b <- buf_decay * b + grad_scale * g``.

    torch's first step sets ``b = g``: pass ``buf_decay = 0, grad_scale = 1``
    then, ``(momentum, 1 - dampening)`` afterwards. Direction ``g + momentum *
    b`` (Nesterov) or ``b``.
    """
    cdef double b, d
    g = g + l2 * w
    b = buf_decay * buf[0] + grad_scale * g
    buf[0] = <floating> b
    b = buf[0]
    if nesterov:
        d = g + momentum * b
    else:
        d = b
    w = shrink * w
    w = w - lr * d
    if thr > 0.0:
        w = prox_l1(w, thr)
    return w


cdef inline double adam_coord(double w, double g, floating* m, floating* v,
                              double step_size, double beta1, double beta2,
                              double inv_sqrt_bc2, double eps, double l2, double shrink,
                              double thr, bint l1_adaptive) noexcept nogil:
    """Adam: ``step_size = lr / (1 - beta1^t)``, ``inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t)``.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``denom = sqrt(v) * inv_sqrt_bc2 + eps`` (= ``sqrt(v_hat) + eps``),
    ``w <- S(shrink * w - step_size * m / denom, thr [/ denom])``.
    """
    cdef double mi, vi, denom
    g = g + l2 * w
    mi = beta1 * m[0] + (1.0 - beta1) * g
    vi = beta2 * v[0] + (1.0 - beta2) * (g * g)
    m[0] = <floating> mi
    v[0] = <floating> vi
    mi = m[0]
    vi = v[0]
    denom = sqrt(vi) * inv_sqrt_bc2 + eps
    w = shrink * w
    w = w - step_size * mi / denom
    if thr > 0.0:
        w = prox_l1(w, thr / denom if l1_adaptive else thr)
    return w


cdef inline double amsgrad_coord(double w, double g, floating* m, floating* v,
                                 floating* v_max, double step_size, double beta1,
                                 double beta2, double inv_sqrt_bc2, double eps, double l2,
                                 double shrink, double thr, bint l1_adaptive) noexcept nogil:
    """AMSGrad (torch's form): as :func:`adam_coord` with ``v_max <- max(v_max, v)``
    (raw second moments) in the denominator."""
    cdef double mi, vi, vm, denom
    g = g + l2 * w
    mi = beta1 * m[0] + (1.0 - beta1) * g
    vi = beta2 * v[0] + (1.0 - beta2) * (g * g)
    m[0] = <floating> mi
    v[0] = <floating> vi
    mi = m[0]
    vi = v[0]
    vm = v_max[0]
    if not vm >= vi:          # max(v_max, v); a NaN in v propagates
        vm = vi
    v_max[0] = <floating> vm
    denom = sqrt(vm) * inv_sqrt_bc2 + eps
    w = shrink * w
    w = w - step_size * mi / denom
    if thr > 0.0:
        w = prox_l1(w, thr / denom if l1_adaptive else thr)
    return w


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
