"""Plain-Python reference of the minibatch stochastic epochs of ``fastreg._sgd``.

Same algorithm, same row order, same batches, written from the formulas with
numpy, one batch at a time, every coordinate updated densely (no laziness, no
fusion): the compiled epochs (dense and CSR, lazy or not) must agree with it
to rounding. Used by ``tests/test_stochastic*.py``; usable to verify fastreg.

Per batch ``B`` (step ``t = 1, 2, ...``, counted over all epochs)::

    lr    = schedule(t)                       (see fastreg.solvers.stochastic)
    G_k   = 1/|B| sum_{i in B} s_i dL(y_i, W x_i + b)_k x_i;   g_b = 1/|B| sum s_i dL_k
            (dL clipped to [-1e12, 1e12] except for the softmax)
    g     = G + l2 * W                        coupled L2 (alpha (1 - l1_ratio))
    W     = (1 - lr * weight_decay) * W       decoupled weight decay
    W     = W - lr * direction(g)             sgd: g; momentum: buffer; nesterov: g + mu buffer;
                                              adam / amsgrad: m_hat / (sqrt(v_hat) + eps)
    W     = S(W, tau)                         L1 prox: tau = lr l1 (sgd),
                                              lr l1 / (1 - mu) (momentum, nesterov),
                                              lr l1 / (sqrt(v_hat) + eps) (adam)
    b     = b - lr * direction(g_b)           same optimizer, own state, no penalty
    cumulative L1 instead of the prox: u += lr l1, then Tsuruoka et al.'s clipping
    on the coordinates with a non-zero x_ij in the batch
    averaging: from step ``average`` on, running mean of (W, b)
"""
import math

import numpy as np
import scipy.sparse as sp

__all__ = ["StochasticReference", "dloss", "learning_rate"]

MAX_DLOSS = 1e12   # |dL/dp| is clipped to this (scikit-learn's SGD does the same)


def dloss(loss, y, p, epsilon=0.1):
    """``(dL/dp, L)`` of one sample, written from the definitions."""
    r = p - y
    z = y * p
    if loss == "squared_error":
        return r, 0.5 * r * r
    if loss == "huber":
        if abs(r) <= epsilon:
            return r, 0.5 * r * r
        return epsilon * np.sign(r), epsilon * abs(r) - 0.5 * epsilon ** 2
    if loss == "epsilon_insensitive":
        a = abs(r) - epsilon
        return (np.sign(r), a) if a > 0 else (0.0, 0.0)
    if loss == "squared_epsilon_insensitive":
        a = abs(r) - epsilon
        return (2 * a * np.sign(r), a * a) if a > 0 else (0.0, 0.0)
    if loss == "log_loss":
        return -y * (1 - 1 / (1 + math.exp(-z))) if z > -700 else -y, np.logaddexp(0, -z)
    if loss == "hinge":
        return (-y, 1 - z) if z <= 1 else (0.0, 0.0)
    if loss == "squared_hinge":
        return (-2 * y * (1 - z), (1 - z) ** 2) if z < 1 else (0.0, 0.0)
    if loss == "modified_huber":
        if z >= 1:
            return 0.0, 0.0
        if z >= -1:
            return -2 * y * (1 - z), (1 - z) ** 2
        return -4 * y, -4 * z
    if loss == "perceptron":
        return (-y, -z) if z <= 0 else (0.0, 0.0)
    raise ValueError(loss)


def learning_rate(schedule, t, *, eta0, power_t=0.25, warmup=0, horizon=math.inf,
                  optimal_t0=0.0, alpha=0.0):
    """``lr_t`` at step ``t >= 1`` ('adaptive' is 'constant' with the current ``eta0``)."""
    if schedule == "invscaling":
        lr = eta0 / t ** power_t
    elif schedule == "optimal":
        lr = 1.0 / (alpha * (optimal_t0 + t - 1))
    elif schedule == "cosine":
        if t <= warmup:
            lr = eta0
        else:
            frac = min(1.0, (t - warmup) / (horizon - warmup)) if horizon > warmup else 1.0
            lr = 0.5 * eta0 * (1 + math.cos(math.pi * frac))
    else:
        lr = eta0
    if warmup > 0 and t < warmup:
        lr *= t / warmup
    return lr


def _soft(x, t):
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


class _Optimizer:
    """Dense optimizer over an array of any shape, with per-step penalty arguments."""

    def __init__(self, shape, optimizer, momentum, betas, eps):
        self.kind = optimizer
        self.mu = momentum
        self.b1, self.b2 = betas
        self.eps = eps
        self.buf = np.zeros(shape)
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.vmax = np.zeros(shape)

    def step(self, w, g, t, lr, l2, wd, l1):
        g = g + l2 * w
        w = w - lr * wd * w
        if self.kind == "sgd":
            w = w - lr * g
            tau = lr * l1
        elif self.kind in ("momentum", "nesterov"):
            self.buf = g.copy() if t == 1 else self.mu * self.buf + g
            w = w - lr * (g + self.mu * self.buf if self.kind == "nesterov" else self.buf)
            tau = lr * l1 / (1 - self.mu)
        else:
            self.m = self.b1 * self.m + (1 - self.b1) * g
            self.v = self.b2 * self.v + (1 - self.b2) * g ** 2
            m_hat = self.m / (1 - self.b1 ** t)
            if self.kind == "amsgrad":
                self.vmax = np.maximum(self.vmax, self.v)
                v_hat = self.vmax / (1 - self.b2 ** t)
            else:
                v_hat = self.v / (1 - self.b2 ** t)
            denom = np.sqrt(v_hat) + self.eps
            w = w - lr * m_hat / denom
            tau = lr * l1 / denom
        if l1 > 0:
            w = _soft(w, tau)
        return w


class StochasticReference:
    """Reference stochastic trainer; the arguments mean what they mean in
    :class:`fastreg.solvers.stochastic.StochasticSolver` (float64 arithmetic)."""

    def __init__(self, n_outputs, n_features, *, loss, mode="single", optimizer="sgd",
                 batch_size=1, learning_rate="invscaling", eta0=0.01, power_t=0.25, warmup=0,
                 horizon=math.inf, alpha=0.0, optimal_t0=0.0, l2=0.0, l1=0.0, l1_mode="prox",
                 weight_decay=0.0, momentum=0.9, betas=(0.9, 0.999), eps=1e-8,
                 fit_intercept=True, average=0, epsilon=0.1):
        K, p = n_outputs, n_features
        self.W = np.zeros((K, p))
        self.b = np.zeros(K)
        self.loss, self.mode, self.epsilon = loss, mode, epsilon
        kind = "adam" if optimizer == "adamw" else optimizer
        self.opt_w = _Optimizer((K, p), kind, momentum, betas, eps)
        self.opt_b = _Optimizer(K, kind, momentum, betas, eps)
        self.batch_size = batch_size
        self.schedule = {"adaptive": "constant"}.get(learning_rate, learning_rate)
        self.sched_args = dict(eta0=eta0, power_t=power_t, warmup=warmup, horizon=horizon,
                               optimal_t0=optimal_t0, alpha=alpha)
        self.l2, self.l1, self.wd = l2, l1, weight_decay
        self.cumulative = l1_mode == "cumulative" and l1 > 0
        self.u = 0.0
        self.q = np.zeros((K, p))
        self.fit_intercept = fit_intercept
        self.average = average
        self.n_avg = 0
        self.W_avg = np.zeros((K, p))
        self.b_avg = np.zeros(K)
        self.t = 0

    def _sample(self, x, yi):
        scores = self.W @ x + self.b
        if self.mode == "softmax":
            label = int(yi)
            e = np.exp(scores - scores.max())
            prob = e / e.sum()
            d = prob.copy()
            d[label] -= 1
            return d, float(np.log(e.sum()) + scores.max() - scores[label])
        if self.mode == "ovr":
            out = [dloss(self.loss, 1.0 if k == int(yi) else -1.0, scores[k], self.epsilon)
                   for k in range(scores.shape[0])]
            d = np.clip([o[0] for o in out], -MAX_DLOSS, MAX_DLOSS)
            return d, float(sum(o[1] for o in out))
        d, lv = dloss(self.loss, float(yi), scores[0], self.epsilon)
        return np.clip([d], -MAX_DLOSS, MAX_DLOSS), float(lv)

    def epoch(self, X, y, sample_weight, order):
        """One epoch over the rows ``order``; returns the mean weighted loss."""
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
        X = X.astype(np.float64)
        y = np.asarray(y, dtype=np.float64)
        sw = np.asarray(sample_weight, dtype=np.float64)
        order = np.asarray(order)
        total, total_w = 0.0, 0.0
        for start in range(0, order.shape[0], self.batch_size):
            rows = order[start:start + self.batch_size]
            self.t += 1
            t = self.t
            lr = learning_rate(self.schedule, t, **self.sched_args)
            G = np.zeros_like(self.W)
            gb = np.zeros_like(self.b)
            for i in rows:
                d, lv = self._sample(X[i], y[i])
                total += sw[i] * lv
                total_w += sw[i]
                G += sw[i] * d[:, None] * X[i][None, :] / len(rows)
                gb += sw[i] * d / len(rows)
            l1_prox = 0.0 if self.cumulative else self.l1
            self.W = self.opt_w.step(self.W, G, t, lr, self.l2, self.wd, l1_prox)
            if self.cumulative:
                self.u += lr * self.l1
                touched = np.flatnonzero((X[rows] != 0).any(axis=0))
                for k in range(self.W.shape[0]):
                    for j in touched:
                        w = self.W[k, j]
                        z = w
                        if w > 0:
                            w = max(0.0, w - (self.u + self.q[k, j]))
                        elif w < 0:
                            w = min(0.0, w + (self.u - self.q[k, j]))
                        self.q[k, j] += w - z
                        self.W[k, j] = w
            if self.fit_intercept:
                self.b = self.opt_b.step(self.b, gb, t, lr, 0.0, 0.0, 0.0)
            if self.average and t >= self.average:
                self.n_avg += 1
                self.W_avg = self.W_avg + (self.W - self.W_avg) / self.n_avg
                self.b_avg = self.b_avg + (self.b - self.b_avg) / self.n_avg
        return total / total_w if total_w > 0 else 0.0
