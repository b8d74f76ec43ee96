"""Stateful per-parameter optimizers over flat numpy vectors: SGD, Adam, AdamW.

Like ``torch.optim`` optimizers, but for one float32/float64 numpy vector of
parameters, updated in place. Each :meth:`step` is ONE fused compiled pass over
memory (``fastreg._optim``): parameters, gradient and state are each read once
and written once, with no temporary array and no allocation. On x86-64 CPUs
with AVX2 and FMA a build of the same kernels for those instructions is used
(``FASTREG_KERNELS=baseline`` in the environment forces the portable one; see
:mod:`fastreg._builds`).

L2 regularization, decoupled weight decay and the L1 prox
---------------------------------------------------------
Write ``g`` for the gradient passed to :meth:`step`, ``lambda`` for
``weight_decay``, ``lr`` for the learning rate.

* ``decoupled_weight_decay=False`` (L2 regularization): ``lambda * w`` is added
  to the gradient, ``g <- g + lambda * w``, *before* it enters the momentum
  buffer or Adam's moments. This is gradient descent on
  ``loss + lambda/2 ||w||^2`` and equals ``torch.optim.SGD/Adam(weight_decay=)``.
* ``decoupled_weight_decay=True`` (weight decay): ``w <- w - eta * lambda * w``
  is applied to the parameters *before* the gradient step, outside the
  momentum buffer and outside Adam's adaptive scaling (Loshchilov & Hutter
  2019). With ``decay_scaling="lr"`` (default) ``eta = lr``, as in
  ``torch.optim.AdamW``. With ``decay_scaling="schedule"``, ``eta =
  schedule_multiplier`` (the ``eta_t`` of Loshchilov & Hutter, Algorithms 1 and
  2), which you set between steps next to ``lr``: the decay then follows the
  schedule but not the base learning rate. For a schedule ``lr_t = alpha *
  eta_t`` the two conventions coincide when ``weight_decay_lr = weight_decay_sched
  / alpha``.
* ``l1 > 0``: after the update, inside the same pass, soft-thresholding ``w <-
  sign(w) * max(|w| - tau, 0)``, which gives exact zeros. With
  ``l1_scaling="lr"`` (default) ``tau = lr * l1`` (the proximal step of
  ``l1 * ||w||_1`` with step ``lr``). With momentum its fixed points solve the
  L1 problem with ``l1 * (1 - mu) / (1 - d)``; with Adam a *weighted* L1
  problem with weights ``sqrt(v_hat_i) + eps`` (near a solution
  ``sqrt(v_hat_i) ~ |grad_i|``, so zeros are stable only for ``l1 >~ 1``).
  With ``l1_scaling="effective"`` ``tau`` is ``l1`` times the step the
  optimizer takes per unit of gradient at steady state, so that the fixed
  points are exactly the stationary points of ``loss + l1 * ||w||_1`` (the
  Lasso solution for a least-squares loss):

  - SGD: ``tau = lr * l1`` (proximal SGD, the same as "lr");
  - SGD with momentum ``mu`` and dampening ``d`` (heavy ball or Nesterov):
    ``tau = lr * l1 * (1 - d) / (1 - mu)`` (the buffer amplifies a steady
    gradient by ``(1 - d) / (1 - mu)``);
  - Adam/AMSGrad: ``tau_i = lr * l1 / (sqrt(v_hat_i) + eps)``, the prox in
    Adam's diagonal metric (Yun, Lozano & Yang 2021).

Which optimizers make L2 and decoupled decay equal?
Plain SGD: yes, with the same ``lambda``, iterate by iterate (to rounding).
SGD with momentum ``mu`` (heavy ball or Nesterov): no, the L2 term enters the
momentum buffer; only the fixed points coincide, exactly when the decoupled
decay is ``lambda * (1 - dampening) / (1 - mu)`` (see :class:`SGD`).
Adam/AMSGrad: no, by design (the L2 term is rescaled coordinate-wise by
``1/sqrt(v_hat)``). ``tests/test_weight_decay.py`` checks each statement.

Non-finite gradients
--------------------
Gradients are not checked for NaN/inf (a check would cost a second pass over
memory). A NaN or inf in ``grad[i]`` propagates by IEEE arithmetic into
``params[i]`` and the state of coordinate ``i`` only; no other coordinate is
touched and nothing raises. Check ``np.isfinite(params).all()`` if you need to
detect divergence.
"""
import math

import numpy as np

from . import _builds, _optim
from ._validation import check_float_vector, check_scalar

__all__ = ["SGD", "Adam", "AdamW"]

#: The compiled kernels in use: ``fastreg._optim_avx2`` or the portable ``fastreg._optim``.
_kernels = _builds.select(_optim, "_optim_avx2")

_DECAY_SCALINGS = ("lr", "schedule")


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r} of type {type(value).__name__}")
    return bool(value)


def _check_l1_scaling(value):
    if value not in ("effective", "lr"):
        raise ValueError(f"l1_scaling must be 'effective' or 'lr', got {value!r}")
    return value


def _check_params(params):
    check_float_vector(params, "params")
    if not params.flags.writeable:
        raise ValueError("params is read-only; the optimizer updates it in place")
    if not params.flags.c_contiguous:
        raise ValueError("params must be C-contiguous (the optimizer updates it in place); "
                         "pass np.ascontiguousarray(params) and keep a reference to it")
    return params


class _Optimizer:
    """Shared machinery: parameter vector, step counter, lr, gradient checks, state_dict."""

    _state_names = ()   # names of the state vectors, set per instance in _allocate

    def __init__(self, params, lr, decay_scaling, schedule_multiplier):
        self._params = _check_params(params)
        self.lr = lr
        self.schedule_multiplier = schedule_multiplier
        if decay_scaling not in _DECAY_SCALINGS:
            raise ValueError(f"decay_scaling must be one of {_DECAY_SCALINGS}, got {decay_scaling!r}")
        self._decay_scaling = decay_scaling
        self._t = 0
        self._scratch = None    # contiguous copy of a non-contiguous grad (allocated once)

    # -- public attributes --------------------------------------------------------
    @property
    def params(self):
        """The parameter vector (the array passed at construction, updated in place)."""
        return self._params

    @property
    def t(self):
        """Number of steps taken so far (torch's ``state["step"]``)."""
        return self._t

    @property
    def lr(self):
        """Learning rate; may be changed between steps (schedules)."""
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_scalar(value, "lr", low=0.0)

    @property
    def schedule_multiplier(self):
        """``eta_t`` of Loshchilov & Hutter; scales decoupled decay when ``decay_scaling="schedule"``."""
        return self._schedule_multiplier

    @schedule_multiplier.setter
    def schedule_multiplier(self, value):
        self._schedule_multiplier = check_scalar(value, "schedule_multiplier", low=0.0)

    @property
    def decay_scaling(self):
        return self._decay_scaling

    @property
    def state(self):
        """The state vectors (live arrays updated in place by :meth:`step`)."""
        return {name: getattr(self, "_" + name) for name in self._state_names}

    # -- helpers ------------------------------------------------------------------
    def _decay_terms(self, weight_decay, decoupled):
        """(l2, shrink) passed to the kernels for the current step."""
        if weight_decay == 0.0:
            return 0.0, 1.0
        if not decoupled:
            return weight_decay, 1.0
        eta = self._lr if self._decay_scaling == "lr" else self._schedule_multiplier
        return 0.0, 1.0 - eta * weight_decay

    def _grad(self, grad):
        """Validated C-contiguous gradient; a strided one is copied into a reused buffer."""
        p = self._params
        if (type(grad) is np.ndarray and grad.dtype == p.dtype and grad.shape == p.shape
                and grad.flags.c_contiguous):
            return grad
        check_float_vector(grad, "grad", dtype=p.dtype)
        if grad.shape != p.shape:
            raise ValueError(f"grad must have shape {p.shape} (like params), got {grad.shape}")
        if grad.flags.c_contiguous:
            return grad
        if self._scratch is None:
            self._scratch = np.empty_like(p)
        np.copyto(self._scratch, grad)
        return self._scratch

    def _allocate(self, names):
        self._state_names = tuple(names)
        for name in names:
            setattr(self, "_" + name, np.zeros_like(self._params))

    # -- serialization --------------------------------------------------------------
    def _hyperparameters(self):
        raise NotImplementedError

    def state_dict(self):
        """Return a dict with the step counter, the hyperparameters and copies of the state.

        The parameters themselves are not included (as in torch): save
        ``params.copy()`` next to it. Restoring both with :meth:`load_state_dict`
        and ``params[:] = saved`` reproduces the trajectory exactly.
        """
        return {
            "optimizer": type(self).__name__,
            "t": self._t,
            "hyperparameters": self._hyperparameters(),
            "state": {name: arr.copy() for name, arr in self.state.items()},
        }

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned (copied into the existing buffers).

        Raises ``ValueError`` if it was saved by another optimizer class, with a
        different state layout (e.g. ``amsgrad`` or ``momentum > 0`` differs), or
        with state vectors of another shape or dtype.
        """
        if not isinstance(state_dict, dict) or not {"optimizer", "t", "hyperparameters",
                                                    "state"} <= state_dict.keys():
            raise ValueError("state_dict must be a dict returned by state_dict()")
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict was saved by {state_dict['optimizer']}, "
                             f"cannot load it into {type(self).__name__}")
        t = check_scalar(state_dict["t"], "t", low=0, integer=True)
        # validate the hyperparameters by building a throw-away optimizer of size 0
        new = type(self)(np.zeros(0, dtype=self._params.dtype),
                         **dict(state_dict["hyperparameters"]))
        if new._state_names != self._state_names:
            raise ValueError(f"state_dict needs state {list(new._state_names)} but this "
                             f"optimizer has {list(self._state_names)} (amsgrad or "
                             f"momentum > 0 differ)")
        state = state_dict["state"]
        if not isinstance(state, dict) or set(state) != set(self._state_names):
            raise ValueError(f"state_dict['state'] must have keys {sorted(self._state_names)}")
        for name in self._state_names:
            arr = check_float_vector(state[name], f"state[{name!r}]", dtype=self._params.dtype)
            if arr.shape != self._params.shape:
                raise ValueError(f"state[{name!r}] has shape {arr.shape}, expected "
                                 f"{self._params.shape}")
        for name in self._state_names:
            np.copyto(getattr(self, "_" + name), state[name])
        keep = {"_params", "_scratch"} | {"_" + name for name in self._state_names}
        for key, value in vars(new).items():
            if key not in keep:
                setattr(self, key, value)
        self._t = t

    def __repr__(self):
        hp = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}(<{self._params.dtype} vector of {self._params.size}>, {hp}, t={self._t})"


class SGD(_Optimizer):
    r"""Stochastic gradient descent with optional momentum, Nesterov, decay and L1 prox.

    One :meth:`step` computes, elementwise and in one pass (``g`` = grad,
    ``lambda`` = ``weight_decay``, ``mu`` = ``momentum``, ``d`` =
    ``dampening``)::

        g <- g + lambda * w                      (if not decoupled_weight_decay)
        b <- g              at the first step    (if mu > 0)
        b <- mu * b + (1 - d) * g   afterwards
        u <- g + mu * b  (nesterov)  |  b  (momentum)  |  g  (mu == 0)
        w <- w - eta * lambda * w                (if decoupled_weight_decay)
        w <- w - lr * u
        w <- sign(w) * max(|w| - tau, 0)         (if l1 > 0)

    with ``tau = lr * l1 * (1 - d) / (1 - mu)`` if ``mu > 0`` and
    ``l1_scaling="effective"``, else ``tau = lr * l1``; ``eta = lr`` (``decay_scaling="lr"``) or ``eta = schedule_multiplier``
    (``decay_scaling="schedule"``). Without decoupled decay this is exactly
    ``torch.optim.SGD`` (Sutskever et al. 2013 form, ``lr`` outside the buffer).
    torch's SGD has no decoupled option: here it is defined as in AdamW, the
    shrink applied to ``w`` before the gradient step (SGDW of Loshchilov &
    Hutter 2019, whose buffer holds ``lr * g``: the same for a constant lr).

    L2 regularization vs decoupled weight decay (exact statements, tested in
    ``tests/test_weight_decay.py``):

    * ``momentum == 0``: identical. ``w - lr (g + lambda w) = (1 - lr lambda) w
      - lr g``: the same iterates for the same ``lambda`` (to rounding), for
      any gradients and any (even varying) ``lr``.
    * ``momentum > 0`` (heavy ball or Nesterov): NOT identical. The L2 term
      ``lambda * w`` enters the buffer and is re-applied in later steps, so
      even with a zero loss gradient the iterates differ from the second step
      on (``w0 = 1, lr = 0.1, lambda = 1, mu = 0.9``: L2 gives ``w2 = 0.72``,
      decay gives ``w2 = 0.81``). What is exact is the relation between fixed
      points: a fixed point ``w*`` of L2-SGD-momentum with ``lambda`` solves
      ``grad f(w*) + lambda w* = 0``; a fixed point of decoupled SGD-momentum
      with decay ``lambda_dec`` solves ``grad f(w*) + lambda_dec (1 - mu) / (1 - d)
      * w* = 0`` (the buffer converges to ``(1 - d)/(1 - mu) * grad f``). So
      they have the same fixed points, for any differentiable loss ``f``,
      if and only if ``lambda_dec = lambda * (1 - d) / (1 - mu)`` (for
      Nesterov, ``d = 0``: ``lambda / (1 - mu)``). This is the sense of
      "coupled L2 with momentum acts like a decay ``lambda / (1 - mu)``". The
      transients differ: with a zero loss gradient, L2 follows exactly the
      heavy-ball recursion ``w_{t+1} = (1 + mu - e) w_t - mu w_{t-1}`` (``t >=
      1``, ``e = (1 - d) lr lambda``), whose slow rate is ``1 - e / (1 - mu) -
      mu e^2 / (1 - mu)^3 - ...`` (real roots for ``e < (1 - sqrt(mu))^2``),
      while decay shrinks by exactly ``1 - lr lambda_dec`` per step: the
      ``lambda / (1 - mu)`` rule is first order in ``lr lambda / (1 - mu)^2``.

    Parameters
    ----------
    params : ndarray of shape (n,), float32 or float64
        Parameter vector, updated in place: it must be writable and
        C-contiguous (else ``ValueError``; no copy is made).
    lr : float >= 0
        Learning rate (changeable between steps via ``opt.lr = ...``).
    momentum : float >= 0, default 0
    dampening : float in [0, 1], default 0
    nesterov : bool, default False
        Requires ``momentum > 0`` and ``dampening == 0`` (as in torch).
    weight_decay : float >= 0, default 0
    decoupled_weight_decay : bool, default False
        False: L2 regularization (added to the gradient). True: decoupled decay.
    l1 : float >= 0, default 0
        L1 prox strength: soft-thresholding after each step (exact zeros).
    l1_scaling : {"lr", "effective"}, default "lr"
        Threshold ``lr * l1 * (1 - dampening) / (1 - momentum)`` (with
        momentum; ``lr * l1`` without), so that fixed points are the
        stationary points of ``loss + l1 ||w||_1``, or ``lr * l1`` always.
        "effective" with ``l1 > 0`` requires ``momentum < 1``.
    decay_scaling : {"lr", "schedule"}, default "lr"
        Decoupled decay per step is ``lr * weight_decay`` (torch AdamW) or
        ``schedule_multiplier * weight_decay`` (Loshchilov & Hutter). Ignored
        unless ``decoupled_weight_decay``.
    schedule_multiplier : float >= 0, default 1
        ``eta_t`` for ``decay_scaling="schedule"``; changeable between steps.

    Attributes
    ----------
    t : int
        Steps taken.
    state : dict
        ``{"momentum_buffer": b}`` when ``momentum > 0``, else empty.

    Notes
    -----
    ``grad`` passed to :meth:`step` must have the dtype and shape of ``params``
    (``TypeError``/``ValueError`` otherwise, never a silent cast). A
    non-contiguous ``grad`` is copied into a buffer owned by the optimizer,
    allocated at the first such step and reused (one extra pass over memory).

    References
    ----------
    Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization
    and momentum in deep learning", ICML.
    Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, decoupled_weight_decay=False, l1=0.0,
                 l1_scaling="lr", decay_scaling="lr", schedule_multiplier=1.0):
        super().__init__(params, lr, decay_scaling, schedule_multiplier)
        self._l1_scaling = _check_l1_scaling(l1_scaling)
        self._momentum = check_scalar(momentum, "momentum", low=0.0)
        self._dampening = check_scalar(dampening, "dampening", low=0.0, high=1.0)
        self._nesterov = _check_bool(nesterov, "nesterov")
        if self._nesterov and (self._momentum <= 0.0 or self._dampening != 0.0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening == 0")
        self._weight_decay = check_scalar(weight_decay, "weight_decay", low=0.0)
        self._decoupled = _check_bool(decoupled_weight_decay, "decoupled_weight_decay")
        self._l1 = check_scalar(l1, "l1", low=0.0)
        self._l1_gain = 1.0
        if self._momentum > 0.0 and self._l1_scaling == "effective":
            if self._l1 > 0.0 and self._momentum >= 1.0:
                raise ValueError("l1_scaling='effective' with l1 > 0 requires momentum < 1")
            if self._momentum < 1.0:
                self._l1_gain = (1.0 - self._dampening) / (1.0 - self._momentum)
        self._allocate(("momentum_buffer",) if self._momentum > 0.0 else ())

    momentum = property(lambda self: self._momentum)
    dampening = property(lambda self: self._dampening)
    nesterov = property(lambda self: self._nesterov)
    weight_decay = property(lambda self: self._weight_decay)
    decoupled_weight_decay = property(lambda self: self._decoupled)
    l1 = property(lambda self: self._l1)
    l1_scaling = property(lambda self: self._l1_scaling)

    def _hyperparameters(self):
        return dict(lr=self._lr, momentum=self._momentum, dampening=self._dampening,
                    nesterov=self._nesterov, weight_decay=self._weight_decay,
                    decoupled_weight_decay=self._decoupled, l1=self._l1,
                    l1_scaling=self._l1_scaling,
                    decay_scaling=self._decay_scaling,
                    schedule_multiplier=self._schedule_multiplier)

    def step(self, grad):
        """Take one step with gradient ``grad``; updates ``params`` (and the buffer) in place."""
        grad = self._grad(grad)
        lr = self._lr
        l2, shrink = self._decay_terms(self._weight_decay, self._decoupled)
        thr = lr * self._l1 * self._l1_gain
        if self._momentum == 0.0:
            _kernels.sgd_step(self._params, grad, lr, l2, shrink, thr)
        else:
            if self._t == 0:     # torch: the buffer starts as the first (regularized) gradient
                buf_decay, grad_scale = 0.0, 1.0
            else:
                buf_decay, grad_scale = self._momentum, 1.0 - self._dampening
            _kernels.sgd_momentum_step(self._params, grad, self._momentum_buffer, lr,
                                     self._momentum, buf_decay, grad_scale, self._nesterov,
                                     l2, shrink, thr)
        self._t += 1


class Adam(_Optimizer):
    r"""Adam / AMSGrad with L2 regularization or decoupled weight decay, and L1 prox.

    One :meth:`step` (step number ``t = 1, 2, ...``) computes, elementwise and in
    one pass::

        g <- g + lambda * w                      (if not decoupled_weight_decay)
        w <- w - eta * lambda * w                (if decoupled_weight_decay)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v)                   (amsgrad; max of the raw v)
        denom <- sqrt(v or v_max) / sqrt(1 - beta2**t) + eps    (= sqrt(v_hat) + eps)
        w <- w - lr / (1 - beta1**t) * m / denom
        w <- sign(w) * max(|w| - tau, 0)         (if l1 > 0)

    with ``tau = lr * l1 / denom`` (``l1_scaling="effective"``) or ``lr * l1``
    (``"lr"``).

    ``eta`` is ``lr`` (``decay_scaling="lr"``) or ``schedule_multiplier``
    (``decay_scaling="schedule"``). This is ``torch.optim.Adam`` (with
    ``decoupled_weight_decay=True``: ``torch.optim.AdamW``), which adds ``eps``
    to ``sqrt(v_hat)`` and takes the AMSGrad maximum over the raw ``v``.

    L2 regularization and decoupled decay give different iterates: the L2 term
    is divided by ``sqrt(v_hat)`` coordinate by coordinate (with a zero loss
    gradient the first L2 step moves every weight by about ``lr``, whatever its
    size), while the decoupled shrink is exactly ``eta * lambda * w`` per step,
    outside the adaptive scaling.

    Parameters
    ----------
    params : ndarray of shape (n,), float32 or float64
        Parameter vector, updated in place (writable, C-contiguous; no copy).
    lr : float >= 0, default 1e-3
    betas : (float, float), each in [0, 1), default (0.9, 0.999)
    eps : float > 0, default 1e-8
    weight_decay : float >= 0, default 0
    decoupled_weight_decay : bool, default False
    amsgrad : bool, default False
    l1 : float >= 0, default 0
        Strength of the L1 prox applied after each step (exact zeros).
    l1_scaling : {"lr", "effective"}, default "lr"
        Threshold ``lr * l1 / (sqrt(v_hat_i) + eps)`` per coordinate (the prox
        in Adam's metric: fixed points are the stationary points of ``loss + l1
        ||w||_1``) or ``lr * l1`` for every coordinate.
    decay_scaling : {"lr", "schedule"}, default "lr"
    schedule_multiplier : float >= 0, default 1

    Attributes
    ----------
    t : int
    state : dict
        ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq``.

    Notes
    -----
    float32 parameters are updated in float32 arithmetic (hyperparameters and
    bias corrections are computed in double once per step, then rounded), like
    torch on float32 tensors. Gradients as in :class:`SGD`.

    References
    ----------
    Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
    Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", ICLR.
    Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", ICLR.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, amsgrad=False, l1=0.0, l1_scaling="lr",
                 decay_scaling="lr", schedule_multiplier=1.0):
        super().__init__(params, lr, decay_scaling, schedule_multiplier)
        self._l1_scaling = _check_l1_scaling(l1_scaling)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self._betas = tuple(check_scalar(b, f"betas[{i}]", low=0.0, high=1.0,
                                         high_inclusive=False) for i, b in enumerate(betas))
        self._eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
        self._weight_decay = check_scalar(weight_decay, "weight_decay", low=0.0)
        self._decoupled = _check_bool(decoupled_weight_decay, "decoupled_weight_decay")
        self._amsgrad = _check_bool(amsgrad, "amsgrad")
        self._l1 = check_scalar(l1, "l1", low=0.0)
        self._allocate(("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if self._amsgrad
                       else ("exp_avg", "exp_avg_sq"))

    betas = property(lambda self: self._betas)
    eps = property(lambda self: self._eps)
    weight_decay = property(lambda self: self._weight_decay)
    decoupled_weight_decay = property(lambda self: self._decoupled)
    amsgrad = property(lambda self: self._amsgrad)
    l1 = property(lambda self: self._l1)
    l1_scaling = property(lambda self: self._l1_scaling)

    def _hyperparameters(self):
        return dict(lr=self._lr, betas=self._betas, eps=self._eps,
                    weight_decay=self._weight_decay, decoupled_weight_decay=self._decoupled,
                    amsgrad=self._amsgrad, l1=self._l1, l1_scaling=self._l1_scaling,
                    decay_scaling=self._decay_scaling,
                    schedule_multiplier=self._schedule_multiplier)

    def step(self, grad):
        """Take one step with gradient ``grad``; updates ``params`` and the moments in place."""
        grad = self._grad(grad)
        t = self._t + 1
        beta1, beta2 = self._betas
        lr = self._lr
        step_size = lr / (1.0 - beta1 ** t)
        inv_sqrt_bc2 = 1.0 / math.sqrt(1.0 - beta2 ** t)
        l2, shrink = self._decay_terms(self._weight_decay, self._decoupled)
        thr = lr * self._l1
        adaptive = self._l1_scaling == "effective"
        if self._amsgrad:
            _kernels.amsgrad_step(self._params, grad, self._exp_avg, self._exp_avg_sq,
                                self._max_exp_avg_sq, step_size, beta1, beta2, inv_sqrt_bc2,
                                self._eps, l2, shrink, thr, adaptive)
        else:
            _kernels.adam_step(self._params, grad, self._exp_avg, self._exp_avg_sq, step_size,
                             beta1, beta2, inv_sqrt_bc2, self._eps, l2, shrink, thr, adaptive)
        self._t = t


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): :class:`Adam` with
    ``decoupled_weight_decay=True`` and default ``weight_decay=1e-2``.

    Per step ``w <- w - eta * weight_decay * w`` (``eta = lr`` by default, or
    ``schedule_multiplier`` with ``decay_scaling="schedule"``, the convention of
    Loshchilov & Hutter 2019), then the Adam update of :class:`Adam`.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, l1=0.0, l1_scaling="lr", decay_scaling="lr",
                 schedule_multiplier=1.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=True, amsgrad=amsgrad, l1=l1,
                         l1_scaling=l1_scaling, decay_scaling=decay_scaling,
                         schedule_multiplier=schedule_multiplier)

    def _hyperparameters(self):
        hyper = super()._hyperparameters()
        del hyper["decoupled_weight_decay"]
        return hyper
