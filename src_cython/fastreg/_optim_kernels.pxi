# Kernel code of fastreg._optim and fastreg._optim_avx2 (included by both; see _optim.pyx).
# Fused one-pass optimizer steps: SGD, momentum / Nesterov, Adam, AMSGrad (+ L1 prox).
# The per-element maths is in _optim_inline.pxd (shared with _sgd.pyx); the loops
# here call it with arithmetic and state in the arrays' dtype and literal flags.
from cython cimport floating
from fastreg._optim_inline cimport sgd_update, momentum_update, adam_update, amsgrad_update


cdef inline Py_ssize_t _head(floating[::1] w) noexcept nogil:
    """Number of leading elements of ``w`` before a 32-byte boundary (at most ``len(w)``).

    Each loop below runs in two parts, ``[0, head)`` and ``[head, n)``, so that the
    vectorized body finds ``w`` aligned: numpy's large arrays all start at the
    same offset from a page, so the other vectors are then aligned too (no
    vector load or store split across two cache lines).
    """
    cdef Py_ssize_t n = w.shape[0], k
    cdef size_t a
    if n == 0:
        return 0
    a = <size_t> &w[0]
    if a % sizeof(floating):
        return 0
    k = <Py_ssize_t> (((32 - a % 32) % 32) // sizeof(floating))
    return k if k < n else n


# ---------------------------------------------------------------------------
# SGD without momentum
# ---------------------------------------------------------------------------
cdef inline void _sgd_loop(floating[::1] w, const floating[::1] grad,
                           floating lr, floating l2, floating shrink, floating thr,
                           bint use_l2, bint use_l1) noexcept nogil:
    cdef Py_ssize_t i, part, head = _head(w)
    for part in range(2):
        for i in range(0 if part == 0 else head, head if part == 0 else w.shape[0]):
            w[i] = sgd_update(w[i], grad[i], lr, l2, shrink, thr, use_l2, use_l1)


def sgd_step(floating[::1] w, const floating[::1] grad, double lr, double l2,
             double shrink, double l1_threshold):
    """One SGD step, in place: ``w <- prox(shrink * w - lr * (grad + l2 * w))``.

    Parameters
    ----------
    w : ndarray of shape (n,), float32 or float64, C-contiguous, writable
        Parameters, updated in place.
    grad : ndarray of shape (n,), same dtype, C-contiguous
        Gradient of the loss at ``w`` (without the L2 term).
    lr : float
        Step size.
    l2 : float
        Coupled L2 coefficient (added to the gradient): ``g = grad + l2 * w``.
    shrink : float
        Decoupled weight decay factor applied to ``w`` before the gradient step
        (``1 - lr * weight_decay`` in torch's AdamW convention; 1 for none).
    l1_threshold : float
        Threshold of the L1 prox applied last (``lr * l1``); 0 for none.

    Notes
    -----
    With ``g = grad[i] + l2 * w[i]``:
    ``w[i] <- S(shrink * w[i] - lr * g, l1_threshold)`` where
    ``S(x, t) = sign(x) max(|x| - t, 0)``.
    """
    if w.shape[0] != grad.shape[0]:
        raise ValueError("w and grad must have the same length")
    cdef floating f_lr = lr, f_l2 = l2, f_sh = shrink, f_thr = l1_threshold
    cdef bint use_l2 = l2 != 0.0, use_l1 = l1_threshold > 0.0
    with nogil:
        if use_l2:
            if use_l1:
                _sgd_loop(w, grad, f_lr, f_l2, f_sh, f_thr, True, True)
            else:
                _sgd_loop(w, grad, f_lr, f_l2, f_sh, f_thr, True, False)
        else:
            if use_l1:
                _sgd_loop(w, grad, f_lr, f_l2, f_sh, f_thr, False, True)
            else:
                _sgd_loop(w, grad, f_lr, f_l2, f_sh, f_thr, False, False)


# ---------------------------------------------------------------------------
# SGD with heavy-ball or Nesterov momentum
# ---------------------------------------------------------------------------
cdef inline void _momentum_loop(floating[::1] w, const floating[::1] grad, floating[::1] buf,
                                floating lr, floating momentum, floating buf_decay,
                                floating grad_scale, floating l2, floating shrink,
                                floating thr, bint nesterov, bint use_l2,
                                bint use_l1) noexcept nogil:
    cdef Py_ssize_t i, part, head = _head(w)
    for part in range(2):
        for i in range(0 if part == 0 else head, head if part == 0 else w.shape[0]):
            w[i] = momentum_update(w[i], grad[i], &buf[i], lr, momentum, buf_decay, grad_scale,
                                   l2, shrink, thr, nesterov, use_l2, use_l1)


def sgd_momentum_step(floating[::1] w, const floating[::1] grad, floating[::1] buf,
                      double lr, double momentum, double buf_decay, double grad_scale,
                      bint nesterov, double l2, double shrink, double l1_threshold):
    """One SGD step with heavy-ball or Nesterov momentum, in place.

    Parameters
    ----------
    w : ndarray of shape (n,), float32 or float64, C-contiguous, writable
        Parameters, updated in place.
    grad : ndarray of shape (n,), same dtype, C-contiguous
        Gradient of the loss at ``w`` (without the L2 term).
    buf : ndarray of shape (n,), same dtype, C-contiguous, writable
        Momentum buffer, updated in place.
    lr : float
        Step size.
    momentum : float
        Momentum ``mu`` used in the Nesterov direction ``g + mu * buf``.
    buf_decay, grad_scale : float
        ``buf <- buf_decay * buf + grad_scale * g``. torch's convention is
        ``(mu, 1 - dampening)``, except at the first step where the buffer is
        set to ``g``: pass ``(0, 1)`` then.
    nesterov : bool
        Direction ``d = g + mu * buf`` (Nesterov) instead of ``d = buf``.
    l2, shrink, l1_threshold : float
        As in :func:`sgd_step`.

    Notes
    -----
    With ``g = grad[i] + l2 * w[i]``:
    ``buf[i] <- buf_decay * buf[i] + grad_scale * g``;
    ``w[i] <- S(shrink * w[i] - lr * d, l1_threshold)``.
    This is the update of ``torch.optim.SGD`` (Sutskever et al. 2013 form,
    lr outside the buffer).
    """
    if w.shape[0] != grad.shape[0] or w.shape[0] != buf.shape[0]:
        raise ValueError("w, grad and buf must have the same length")
    cdef floating f_lr = lr, f_mu = momentum, f_bd = buf_decay, f_gs = grad_scale
    cdef floating f_l2 = l2, f_sh = shrink, f_thr = l1_threshold
    cdef bint use_l2 = l2 != 0.0, use_l1 = l1_threshold > 0.0
    with nogil:
        if nesterov:
            if use_l2:
                if use_l1:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, True, True, True)
                else:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, True, True, False)
            else:
                if use_l1:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, True, False, True)
                else:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, True, False, False)
        else:
            if use_l2:
                if use_l1:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, False, True, True)
                else:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, False, True, False)
            else:
                if use_l1:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, False, False, True)
                else:
                    _momentum_loop(w, grad, buf, f_lr, f_mu, f_bd, f_gs, f_l2, f_sh, f_thr, False, False, False)


# ---------------------------------------------------------------------------
# Adam and AMSGrad
# ---------------------------------------------------------------------------
# l1_mode: 0 no L1 prox; 1 uniform threshold ``thr``; 2 threshold ``thr / denom[i]``
# (the prox in the metric of the Adam step, see adam_step).
cdef inline void _adam_loop(floating[::1] w, const floating[::1] grad, floating[::1] m,
                            floating[::1] v, floating step_size, floating beta1,
                            floating one_minus_beta1, floating beta2,
                            floating one_minus_beta2, floating inv_sqrt_bc2, floating eps,
                            floating l2, floating shrink, floating thr,
                            bint use_l2, int l1_mode) noexcept nogil:
    cdef Py_ssize_t i, part, head = _head(w)
    for part in range(2):
        for i in range(0 if part == 0 else head, head if part == 0 else w.shape[0]):
            w[i] = adam_update(w[i], grad[i], &m[i], &v[i], step_size, beta1, one_minus_beta1,
                               beta2, one_minus_beta2, inv_sqrt_bc2, eps, l2, shrink, thr,
                               use_l2, l1_mode)


cdef inline void _amsgrad_loop(floating[::1] w, const floating[::1] grad, floating[::1] m,
                               floating[::1] v, floating[::1] v_max, floating step_size,
                               floating beta1, floating one_minus_beta1, floating beta2,
                               floating one_minus_beta2, floating inv_sqrt_bc2, floating eps,
                               floating l2, floating shrink, floating thr,
                               bint use_l2, int l1_mode) noexcept nogil:
    cdef Py_ssize_t i, part, head = _head(w)
    for part in range(2):
        for i in range(0 if part == 0 else head, head if part == 0 else w.shape[0]):
            w[i] = amsgrad_update(w[i], grad[i], &m[i], &v[i], &v_max[i], step_size, beta1,
                                  one_minus_beta1, beta2, one_minus_beta2, inv_sqrt_bc2, eps,
                                  l2, shrink, thr, use_l2, l1_mode)


def adam_step(floating[::1] w, const floating[::1] grad, floating[::1] m, floating[::1] v,
              double step_size, double beta1, double beta2, double inv_sqrt_bc2,
              double eps, double l2, double shrink, double l1_threshold,
              bint l1_adaptive=True):
    """One Adam step, in place.

    Parameters
    ----------
    w : ndarray of shape (n,), float32 or float64, C-contiguous, writable
        Parameters, updated in place.
    grad : ndarray of shape (n,), same dtype, C-contiguous
        Gradient of the loss at ``w`` (without the L2 term).
    m, v : ndarray of shape (n,), same dtype, C-contiguous, writable
        First and second moment estimates, updated in place.
    step_size : float
        ``lr / (1 - beta1**t)`` (first-moment bias correction folded in).
    beta1, beta2 : float
        Moment decay rates.
    inv_sqrt_bc2 : float
        ``1 / sqrt(1 - beta2**t)`` (second-moment bias correction).
    eps : float
        Added to ``sqrt(v_hat)``.
    l2, shrink : float
        As in :func:`sgd_step`.
    l1_threshold : float
        ``lr * l1``; 0 for no L1 prox.
    l1_adaptive : bool
        True: threshold ``l1_threshold / denom[i]``, the prox of ``lr * l1 *
        ||.||_1`` in the metric ``diag(denom)`` of the Adam step (its fixed
        points are the stationary points of ``loss + l1 ||w||_1``). False: the
        uniform threshold ``l1_threshold``.

    Notes
    -----
    With ``g = grad[i] + l2 * w[i]``::

        m[i] <- beta1 * m[i] + (1 - beta1) * g
        v[i] <- beta2 * v[i] + (1 - beta2) * g**2
        denom = sqrt(v[i]) * inv_sqrt_bc2 + eps
        w[i] <- S(shrink * w[i] - step_size * m[i] / denom, l1_threshold [/ denom])

    which is ``w - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 -
    beta1**t)``, ``v_hat = v / (1 - beta2**t)`` (Kingma & Ba 2015, Algorithm
    1, with eps added to ``sqrt(v_hat)`` as in torch.optim.Adam).
    """
    if not (w.shape[0] == grad.shape[0] == m.shape[0] == v.shape[0]):
        raise ValueError("w, grad, m and v must have the same length")
    cdef floating f_ss = step_size, f_b1 = beta1, f_c1 = 1.0 - beta1
    cdef floating f_b2 = beta2, f_c2 = 1.0 - beta2, f_ib = inv_sqrt_bc2, f_eps = eps
    cdef floating f_l2 = l2, f_sh = shrink, f_thr = l1_threshold
    cdef int mode = 0 if not l1_threshold > 0.0 else (2 if l1_adaptive else 1)
    with nogil:
        if l2 != 0.0:
            if mode == 0:
                _adam_loop(w, grad, m, v, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, True, 0)
            elif mode == 1:
                _adam_loop(w, grad, m, v, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, True, 1)
            else:
                _adam_loop(w, grad, m, v, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, True, 2)
        else:
            if mode == 0:
                _adam_loop(w, grad, m, v, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, False, 0)
            elif mode == 1:
                _adam_loop(w, grad, m, v, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, False, 1)
            else:
                _adam_loop(w, grad, m, v, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, False, 2)


def amsgrad_step(floating[::1] w, const floating[::1] grad, floating[::1] m, floating[::1] v,
                 floating[::1] v_max, double step_size, double beta1, double beta2,
                 double inv_sqrt_bc2, double eps, double l2, double shrink,
                 double l1_threshold, bint l1_adaptive=True):
    """One AMSGrad step, in place (Reddi et al. 2018, in torch's form).

    As :func:`adam_step`, plus ``v_max[i] <- max(v_max[i], v[i])`` (the maximum
    of the *raw* second moments, before bias correction) and ``v_max`` replaces
    ``v`` in the denominator: ``denom = sqrt(v_max[i]) * inv_sqrt_bc2 + eps``
    with the current step's ``inv_sqrt_bc2``. This is
    torch.optim.Adam(amsgrad=True).
    """
    if not (w.shape[0] == grad.shape[0] == m.shape[0] == v.shape[0] == v_max.shape[0]):
        raise ValueError("w, grad, m, v and v_max must have the same length")
    cdef floating f_ss = step_size, f_b1 = beta1, f_c1 = 1.0 - beta1
    cdef floating f_b2 = beta2, f_c2 = 1.0 - beta2, f_ib = inv_sqrt_bc2, f_eps = eps
    cdef floating f_l2 = l2, f_sh = shrink, f_thr = l1_threshold
    cdef int mode = 0 if not l1_threshold > 0.0 else (2 if l1_adaptive else 1)
    with nogil:
        if l2 != 0.0:
            if mode == 0:
                _amsgrad_loop(w, grad, m, v, v_max, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, True, 0)
            elif mode == 1:
                _amsgrad_loop(w, grad, m, v, v_max, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, True, 1)
            else:
                _amsgrad_loop(w, grad, m, v, v_max, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, True, 2)
        else:
            if mode == 0:
                _amsgrad_loop(w, grad, m, v, v_max, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, False, 0)
            elif mode == 1:
                _amsgrad_loop(w, grad, m, v, v_max, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, False, 1)
            else:
                _amsgrad_loop(w, grad, m, v, v_max, f_ss, f_b1, f_c1, f_b2, f_c2, f_ib, f_eps, f_l2, f_sh, f_thr, False, 2)
