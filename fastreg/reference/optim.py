"""Reference optimizers in plain numpy: SGD (momentum, Nesterov), Adam, AMSGrad, AdamW.

Written step by step from the textbook formulas, one numpy operation per line
of the algorithm, with no fusion and no shortcut. They mirror the constructor
signatures of :mod:`fastreg.optim` and update ``params`` in place (by
assignment), so that the two can be run side by side. Arithmetic is numpy's
in the dtype of ``params`` (float32 stays float32).

Formulas (``g`` the gradient, ``lambda`` the weight decay, ``eta = lr`` or
``schedule_multiplier`` according to ``decay_scaling``):

SGD (torch.optim.SGD; Sutskever et al. 2013)::

    g   = g + lambda * w                      L2 (coupled) regularization
    b   = g (t = 1),  mu * b + (1 - dampening) * g (t > 1)
    u   = g + mu * b (Nesterov) | b (momentum) | g (no momentum)
    w   = w - eta * lambda * w                decoupled weight decay
    w   = w - lr * u
    w   = sign(w) * max(|w| - tau, 0)         L1 prox, tau = lr * l1 * (1 - dampening) / (1 - mu)
                                              ("effective", mu > 0) or lr * l1

Adam / AMSGrad (Kingma & Ba 2015, Algorithm 1; Reddi et al. 2018)::

    g     = g + lambda * w                    L2 (coupled) regularization
    w     = w - eta * lambda * w              decoupled weight decay (AdamW)
    m     = beta1 * m + (1 - beta1) * g
    v     = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)                or max_t(v) / (1 - beta2**t) (AMSGrad)
    w     = w - lr * m_hat / (sqrt(v_hat) + eps)
    w     = sign(w) * max(|w| - tau, 0)       L1 prox, tau = lr * l1 / (sqrt(v_hat) + eps)
                                              ("effective") or lr * l1 ("lr")
"""
import numpy as np

from .prox import soft_threshold

__all__ = ["SGD", "Adam", "AdamW"]


class _Reference:
    def __init__(self, params, lr, weight_decay, decoupled_weight_decay, l1,
                 decay_scaling, schedule_multiplier):
        self.params = params
        self.lr = lr
        self.weight_decay = weight_decay
        self.decoupled_weight_decay = decoupled_weight_decay
        self.l1 = l1
        self.decay_scaling = decay_scaling
        self.schedule_multiplier = schedule_multiplier
        self.t = 0

    def _decay_rate(self):
        return self.lr if self.decay_scaling == "lr" else self.schedule_multiplier


class SGD(_Reference):
    """Reference SGD with momentum / Nesterov / L2 / decoupled decay / L1 prox."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, decoupled_weight_decay=False, l1=0.0,
                 l1_scaling="lr", decay_scaling="lr", schedule_multiplier=1.0):
        super().__init__(params, lr, weight_decay, decoupled_weight_decay, l1,
                         decay_scaling, schedule_multiplier)
        self.l1_scaling = l1_scaling
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.momentum_buffer = None

    def step(self, grad):
        w = self.params.copy()
        g = grad.copy()
        self.t += 1
        if self.weight_decay != 0 and not self.decoupled_weight_decay:
            g = g + self.weight_decay * w
        if self.momentum != 0:
            if self.t == 1:
                self.momentum_buffer = g.copy()
            else:
                self.momentum_buffer = (self.momentum * self.momentum_buffer
                                        + (1 - self.dampening) * g)
            if self.nesterov:
                u = g + self.momentum * self.momentum_buffer
            else:
                u = self.momentum_buffer
        else:
            u = g
        if self.weight_decay != 0 and self.decoupled_weight_decay:
            w = w - self._decay_rate() * self.weight_decay * w
        w = w - self.lr * u
        if self.l1 > 0:
            if self.momentum != 0 and self.l1_scaling == "effective":
                w = soft_threshold(w, self.lr * self.l1 * (1 - self.dampening) / (1 - self.momentum))
            else:
                w = soft_threshold(w, self.lr * self.l1)
        self.params[...] = w


class Adam(_Reference):
    """Reference Adam / AMSGrad with L2 / decoupled decay / L1 prox."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, amsgrad=False, l1=0.0, l1_scaling="lr",
                 decay_scaling="lr", schedule_multiplier=1.0):
        super().__init__(params, lr, weight_decay, decoupled_weight_decay, l1,
                         decay_scaling, schedule_multiplier)
        self.l1_scaling = l1_scaling
        self.betas = betas
        self.eps = eps
        self.amsgrad = amsgrad
        self.exp_avg = np.zeros_like(params)
        self.exp_avg_sq = np.zeros_like(params)
        self.max_exp_avg_sq = np.zeros_like(params) if amsgrad else None

    def step(self, grad):
        beta1, beta2 = self.betas
        w = self.params.copy()
        g = grad.copy()
        self.t += 1
        t = self.t
        if self.weight_decay != 0 and not self.decoupled_weight_decay:
            g = g + self.weight_decay * w
        if self.weight_decay != 0 and self.decoupled_weight_decay:
            w = w - self._decay_rate() * self.weight_decay * w
        self.exp_avg = beta1 * self.exp_avg + (1 - beta1) * g
        self.exp_avg_sq = beta2 * self.exp_avg_sq + (1 - beta2) * g ** 2
        m_hat = self.exp_avg / (1 - beta1 ** t)
        if self.amsgrad:
            self.max_exp_avg_sq = np.maximum(self.max_exp_avg_sq, self.exp_avg_sq)
            v_hat = self.max_exp_avg_sq / (1 - beta2 ** t)
        else:
            v_hat = self.exp_avg_sq / (1 - beta2 ** t)
        w = w - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        if self.l1 > 0:
            if self.l1_scaling == "effective":
                w = soft_threshold(w, self.lr * self.l1 / (np.sqrt(v_hat) + self.eps))
            else:
                w = soft_threshold(w, self.lr * self.l1)
        self.params[...] = w


class AdamW(Adam):
    """Reference AdamW: :class:`Adam` with decoupled weight decay (default 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, l1=0.0, l1_scaling="lr", decay_scaling="lr",
                 schedule_multiplier=1.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=True, amsgrad=amsgrad, l1=l1,
                         l1_scaling=l1_scaling, decay_scaling=decay_scaling,
                         schedule_multiplier=schedule_multiplier)
