"""Epoch driver for minibatch stochastic training (SGD, momentum, Nesterov, Adam, AMSGrad).

:class:`StochasticSolver` holds the parameters and the optimizer state and runs
one compiled epoch (``fastreg._sgd``) per call of :meth:`StochasticSolver.epoch`;
:func:`run_epochs` is the outer loop of ``fit``: shuffling, the adaptive
schedule, the stopping rule, early stopping on a validation score. Nothing
here runs Python per sample or per batch.

Objective (scikit-learn's SGD objective)::

    1/n sum_i s_i L(y_i, x_i^T W + b) + alpha * ((1 - l1_ratio)/2 ||W||^2 + l1_ratio ||W||_1)

The L2 part enters the gradient (coupled: ``g + alpha (1 - l1_ratio) w``,
rescaled by Adam's denominator like any gradient); the L1 part is a proximal
step after each update (``l1_mode='prox'``) or Tsuruoka et al.'s cumulative
penalty (``'cumulative'``); ``weight_decay`` is a separate decoupled shrink
``w <- (1 - lr_t weight_decay) w`` before each update (torch's AdamW
convention). The per-coordinate update order and scalings are exactly those
of :mod:`fastreg.optim` (``l1_scaling="effective"``, dampening 0).

Learning-rate schedules, step ``t = 1, 2, ...`` counted over all epochs and
``partial_fit`` calls, ``W = warmup`` (steps), ``T`` the cosine horizon::

    constant    eta0                                  (also 'adaptive': eta0 / 5^k)
    invscaling  eta0 / t^power_t
    optimal     1 / (alpha (t0 + t - 1))              t0 from Bottou's heuristic (as sklearn)
    cosine      eta0 for t <= W, else eta0 (1 + cos(pi min(1, (t - W) / (T - W)))) / 2
    then, if W > 0 and t < W:  lr_t *= t / W          (linear warmup)

References
----------
Bottou (2012), "Stochastic Gradient Descent Tricks".
Loshchilov & Hutter (2017), "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR (cosine).
Goyal et al. (2017), "Accurate, Large Minibatch SGD" (linear warmup).
"""
import math
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from .. import _builds, _sgd as _sgd_portable

#: The compiled epochs in use: the AVX2 + FMA build when the CPU has it (fastreg._builds).
_sgd = _builds.select(_sgd_portable, "_sgd_avx2")

__all__ = ["StochasticSolver", "run_epochs", "OPTIMIZERS", "SCHEDULES", "optimal_t0"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "amsgrad")
SCHEDULES = ("constant", "invscaling", "optimal", "adaptive", "cosine")
#: Dense minibatches go through gemm only when ``W`` (n_outputs x n_features) takes more
#: bytes than this; smaller models use the per-row loops of ``epoch_dense`` (four rows at
#: a time, each coefficient and gradient row streamed from cache once per four rows).
#: Measured on mnist_5k (10 x 784 float32, Adam, softmax, one thread, loaded machine):
#: the row loops 5.6-6.9 ms per epoch at batch 256, ~7 ms at batch 32, gemm 9.6-11 ms
#: and 11-16 ms
#: (gathering the rows and OpenBLAS packing them twice cost more than the flops of
#: such thin products). Above ~128 KiB ``W`` and ``G`` no longer stay in L2 and gemm's
#: blocking pays. Tests lower or raise it to run both paths.
BLAS3_MIN_COEF_BYTES = 128 * 1024
#: Sparse 'dense' epochs (every coordinate at every step) defer the idle steps in
#: windows (``fastreg._sgd.epoch_csr``, ``window``) only from this many features on:
#: below, a pass over the coefficients stays in cache and is cheap anyway.
WINDOW_MIN_FEATURES = 4096
#: Cost of a pending step taken at a scattered address, in coordinates of the
#: vectorized pass (sets the window size, see ``StochasticSolver.window``).
WINDOW_COST = 200.0
_SLOTS = {"sgd": (), "momentum": ("momentum_buffer",), "nesterov": ("momentum_buffer",),
          "adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq"),
          "amsgrad": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}


def optimal_t0(loss, alpha):
    """``t0`` of the 'optimal' schedule (Bottou's heuristic, as scikit-learn's SGD).

    ``typw = sqrt(1 / sqrt(alpha))``, ``eta_init = typw / max(1, dL(1, -typw))``,
    ``t0 = 1 / (eta_init * alpha)``.
    """
    typw = math.sqrt(1.0 / math.sqrt(alpha))
    d = _sgd.py_dloss(loss, 1.0, -typw)[0]
    return 1.0 / (typw / max(1.0, d) * alpha)


class StochasticSolver:
    """Parameters, optimizer state and step counter of a stochastic fit.

    Parameters
    ----------
    n_outputs, n_features : int
    dtype : float32 or float64
    loss : str
        A key of ``fastreg._sgd.LOSSES``.
    mode : {'single', 'ovr', 'softmax'}
        One output; one-vs-rest binary outputs (``y`` holds class indices); softmax.
    optimizer : {'sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'amsgrad'}
        'adamw' is 'adam' (the decoupled decay is ``weight_decay``).
    learning_rate : {'constant', 'invscaling', 'optimal', 'adaptive', 'cosine'}
    l2, l1 : float
        ``alpha (1 - l1_ratio)`` and ``alpha l1_ratio`` (0 when not penalized).
    l1_mode : {'prox', 'cumulative'}
    average : int
        0: no averaging; k >= 1: average the iterates from step k on.
    horizon : float
        Cosine horizon ``T`` in steps (ignored by the other schedules).

    Attributes
    ----------
    W : ndarray of shape (n_outputs, n_features + 1)
        Current iterate, intercepts in the last column.
    state : ndarray of shape (n_slots, n_outputs, n_features + 1)
    counters : float64 ndarray [t, u, n_avg]
    eta : float
        Current base learning rate (``eta0`` divided by 5 per 'adaptive' decrease).
    """

    def __init__(self, n_outputs, n_features, dtype, *, loss, mode="single", optimizer="sgd",
                 batch_size=1, learning_rate="invscaling", eta0=0.01, power_t=0.25, warmup=0,
                 horizon=math.inf, alpha=0.0, l2=0.0, l1=0.0, l1_mode="prox", weight_decay=0.0,
                 momentum=0.9, betas=(0.9, 0.999), eps=1e-8, fit_intercept=True, average=0,
                 epsilon=0.1):
        self.dtype = np.dtype(dtype)
        self.n_outputs, self.n_features = int(n_outputs), int(n_features)
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.eta = float(eta0)
        self.slots = _SLOTS[optimizer]
        cumulative = l1_mode == "cumulative" and l1 > 0.0
        if cumulative and optimizer != "sgd":
            raise ValueError("l1_mode='cumulative' requires optimizer='sgd'")
        n_slots = len(self.slots)
        q_slot = n_slots if cumulative else -1
        n_slots += cumulative
        avg_slot = n_slots if average else -1
        n_slots += bool(average)
        shape = (self.n_outputs, self.n_features + 1)
        self.W = np.zeros(shape, dtype=self.dtype)
        self.state = np.zeros((n_slots,) + shape, dtype=self.dtype)
        self.counters = np.zeros(3)
        self._grad = np.zeros(shape, dtype=self.dtype)
        self._work = np.zeros((2 + int(batch_size)) * self.n_outputs)
        self._buffers = {}
        schedule = {"adaptive": "constant"}.get(learning_rate, learning_rate)
        t0 = optimal_t0(loss if mode != "softmax" else "log_loss", alpha) \
            if schedule == "optimal" else 0.0
        self.hyper = dict(
            loss=_sgd.LOSSES[loss], epsilon=float(epsilon), mode=_sgd.MODES[mode],
            optimizer=_sgd.OPTIMIZERS["adam" if optimizer == "adamw" else optimizer],
            batch_size=int(batch_size), schedule=_sgd.SCHEDULES[schedule], eta0=float(eta0),
            power_t=float(power_t), warmup=float(warmup), horizon=float(horizon),
            optimal_t0=float(t0), optimal_alpha=float(alpha), l2=float(l2), l1=float(l1),
            cumulative=bool(cumulative), weight_decay=float(weight_decay),
            momentum=float(momentum), beta1=float(betas[0]), beta2=float(betas[1]),
            eps=float(eps), l1_adaptive=True, fit_intercept=bool(fit_intercept),
            q_slot=q_slot, avg_slot=avg_slot, avg_start=float(average) if average else 0.0)

    def __getstate__(self):
        """Pickle without the scratch buffers (rebuilt on demand)."""
        state = self.__dict__.copy()
        state["_buffers"] = {}
        return state

    # -- views ----------------------------------------------------------------------
    @property
    def t(self):
        """Optimizer steps taken so far."""
        return int(self.counters[0])

    @property
    def averaged(self):
        return self.hyper["avg_slot"] >= 0

    def parameters(self, averaged=None):
        """``(coef, intercept)`` copies: the running average once it has started
        (``averaged=None``), else the current iterate."""
        W = self.W
        if (averaged is None and self.averaged and self.counters[2] > 0) or averaged:
            W = self.state[self.hyper["avg_slot"]]
        return W[:, :-1].copy(), W[:, -1].copy()

    def set_parameters(self, coef, intercept):
        """Start from ``coef`` (n_outputs, n_features) and ``intercept`` (n_outputs,)."""
        self.W[:, :-1] = coef
        if self.hyper["fit_intercept"]:
            self.W[:, -1] = intercept
        if self.averaged:
            self.state[self.hyper["avg_slot"]] = self.W

    def optimizer_state(self):
        """Named views of the optimizer state (as ``fastreg.optim``'s ``state``)."""
        return {name: self.state[i] for i, name in enumerate(self.slots)}

    # -- one epoch --------------------------------------------------------------------
    def lr_bound(self):
        """An upper bound of every later learning rate (inf if none is known)."""
        h = self.hyper
        if self.learning_rate == "optimal":
            return 1.0 / (h["optimal_alpha"] * (h["optimal_t0"] + self.counters[0]))
        if self.learning_rate == "invscaling" and h["power_t"] < 0:
            return math.inf
        return self.eta

    def sparse_kernel(self, nnz_per_row=0.0):
        """Which CSR epoch runs: 'lazy_sgd' (closed-form catch-up), 'active'
        (exact active set for momentum / Adam without coupled L2) or 'dense'
        (every coordinate at every step; see ``fastreg._sgd``).

        The active set holds about ``nnz_per_row * batch_size * H`` coordinates
        (a touched coordinate stays active ``H`` ~ 300 steps in float64, ~150 in
        float32, until its moment has decayed below rounding) and an active
        coordinate costs ~30 times a coordinate of the vectorized dense loop
        (scattered memory access, the freeze test; measured): 'active' is chosen
        when ``30 * nnz_per_row * batch_size * H < n_features``.
        """
        h = self.hyper
        if self.averaged:
            return "dense"
        if self.optimizer == "sgd":
            return "lazy_sgd"
        if (h["l2"] == 0.0 and not h["cumulative"] and self.lr_bound() * h["weight_decay"] < 1
                and 30 * (300 if self.dtype == np.float64 else 150) * nnz_per_row
                * h["batch_size"] < self.n_features):
            return "active"
        return "dense"

    def window(self, nnz_per_row):
        """Steps deferred per window by the sparse 'dense' epoch (1: none).

        Per step, a window of ``B`` steps costs one pass over the ``p``
        coefficients' memory per ``B`` steps (``~p / B``), the vectorized
        arithmetic of every coordinate (independent of ``B``) and the
        pending steps of the coordinates touched in the window, taken one by one
        at scattered addresses (``~B * nnz per batch``, each ~100 times a
        coordinate of the vectorized pass: cache misses):
        ``B ~ sqrt(p / (WINDOW_COST nnz per batch))`` balances the two
        ``B``-dependent terms (at most 64; 1 below 2). Measured on 1e6 features,
        50 nnz per row, Adam with coupled L2, float32, loaded machine: batch 1,
        ``B = 10`` or ``16``: 1.5-2.4x faster than ``B = 1`` (the vectorized sqrt
        and division remain); batch 32, ``B = 4``: 1.7-2.5x slower.
        """
        h = self.hyper
        if (self.optimizer == "sgd" or self.averaged or h["cumulative"]
                or self.n_features < WINDOW_MIN_FEATURES):
            return 1
        per_batch = max(nnz_per_row, 1.0) * h["batch_size"]
        window = int(min(64, math.sqrt(self.n_features / (WINDOW_COST * per_batch))))
        return window if window >= 2 else 1

    def _window_buffers(self, X, window):
        """``(win_save, win_list)`` of ``epoch_csr``: room for the coordinates touched in
        a window (1.5 x the mean, at least a batch of the longest rows, at most all)."""
        b, p, K = self.hyper["batch_size"], self.n_features, self.n_outputs
        longest = int(np.diff(X.indptr).max()) if X.shape[0] else 0
        mean = X.nnz / max(X.shape[0], 1)
        cap = min(p, max(int(1.5 * window * b * mean) + 1, b * longest, 1))
        key = ("window", cap)
        bufs = self._buffers.get(key)
        if bufs is None:
            for old in [k for k in self._buffers if isinstance(k, tuple) and k[0] == "window"]:
                del self._buffers[old]
            bufs = self._buffers[key] = (
                np.zeros((cap, K * (1 + self.state.shape[0])), dtype=self.dtype),
                np.zeros(cap, dtype=np.intp))
        return bufs

    def _scratch(self, name, dtype):
        """A cached scratch vector of length n_features (allocated once)."""
        arr = self._buffers.get(name)
        if arr is None:
            arr = self._buffers[name] = np.zeros(self.n_features, dtype=dtype)
        return arr

    def epoch(self, X, y, sample_weight, order, epoch_number=None):
        """Run one compiled epoch over the rows ``order`` of validated ``X``.

        ``X`` is a C-ordered array or a CSR matrix with int32 indices, of
        ``self.dtype``; ``y`` and ``sample_weight`` contiguous ``self.dtype``
        vectors; ``order`` an intp array of row indices. Returns the mean
        (weighted) loss over the rows visited, computed before each update.

        Raises ``FloatingPointError`` when a score or the loss becomes non-finite
        (the learning rate is too large): the parameters, the optimizer state
        and the counters are then restored to their values at the start of the
        epoch, the last finite ones. (Those are kept in buffers allocated once:
        no allocation of the size of the model per call.)
        """
        saved = self._buffers.get("saved")
        if saved is None:
            saved = self._buffers["saved"] = (np.empty_like(self.W), np.empty_like(self.state),
                                              np.empty_like(self.counters))
        np.copyto(saved[0], self.W)
        np.copyto(saved[1], self.state)
        np.copyto(saved[2], self.counters)
        self.hyper["eta0"] = self.eta
        order = np.ascontiguousarray(order, dtype=np.intp)
        if sp.issparse(X):
            kernel = self.sparse_kernel(X.nnz / max(X.shape[0], 1))
            if kernel == "active":
                sum_loss, sum_weight, status = _sgd.epoch_csr_active(
                    X.data, X.indices, X.indptr, y, sample_weight, order, self.W, self.state,
                    self._grad, self._work, self._scratch("active", np.intp),
                    self._scratch("frozen_at", np.float64), self.counters, self.hyper,
                    self.lr_bound())
            else:
                window = self.window(X.nnz / max(X.shape[0], 1)) if kernel == "dense" else 1
                win_save, win_list = self._window_buffers(X, window) if window > 1 else (None,
                                                                                         None)
                sum_loss, sum_weight, status = _sgd.epoch_csr(
                    X.data, X.indices, X.indptr, y, sample_weight, order, self.W, self.state,
                    self._grad, self._work, self._scratch("mark", np.int64),
                    self._scratch("touched", np.intp), self._scratch("snap_a", np.float64),
                    self.counters, self.hyper, kernel == "lazy_sgd", window, win_save,
                    win_list)
        else:
            sum_loss, sum_weight, status = _sgd.epoch_dense(
                X, y, sample_weight, order, self.W, self.state, self._grad, self._work,
                self._scratch("mark", np.int64), *self._batch_buffers(), self.counters,
                self.hyper)
        if status or not math.isfinite(sum_loss) or not np.isfinite(self.W).all():
            self.W[...], self.state[...], self.counters[...] = saved
            where = "" if epoch_number is None else f" at epoch {epoch_number}"
            raise FloatingPointError(
                f"Stochastic training diverged{where}: the scores or the loss became "
                f"non-finite (optimizer={self.optimizer!r}, learning rate "
                f"{self.eta:g} at the start of the epoch). Use a smaller eta0, a decaying "
                f"learning_rate, or standardize the features (StandardScaler). The model "
                f"keeps the last finite coefficients (those before this epoch).")
        return sum_loss / sum_weight if sum_weight > 0 else 0.0

    def _batch_buffers(self):
        """Scratch of the BLAS-3 dense batches: the gathered rows (``batch_size x
        n_features``) and their scores then the transposed batch gradient
        (``(batch_size + n_features) x n_outputs``); 0 rows (the per-row loops)
        for batch 1, when the rows would exceed 32 MiB, or when the coefficients
        take at most :data:`BLAS3_MIN_COEF_BYTES` bytes."""
        b, p = self.hyper["batch_size"], self.n_features
        bufs = self._buffers.get(("batch", b))
        if bufs is None:
            size = self.dtype.itemsize
            rows = b if (1 < b and b * p * size <= 32 * 2 ** 20
                         and self.n_outputs * p * size > BLAS3_MIN_COEF_BYTES) else 0
            bufs = self._buffers[("batch", b)] = (
                np.zeros((rows, p), dtype=self.dtype),
                np.zeros((rows + p if rows else 0, self.n_outputs), dtype=self.dtype))
        return bufs


def run_epochs(solver, X, y, sample_weight, *, max_iter, rng, shuffle=True, tol=1e-3,
               n_iter_no_change=5, validation_score=None, verbose=0):
    """Outer loop of ``fit``: at most ``max_iter`` epochs of ``solver`` over ``X``.

    Stopping rule (scikit-learn's): an epoch *does not improve* when the mean
    training loss is ``> best_loss - tol`` (or, with ``validation_score``, when
    the score is ``< best_score + tol``). After ``n_iter_no_change`` such epochs
    in a row, ``learning_rate='adaptive'`` divides the learning rate by 5 (and
    continues while it is above 1e-6); the other schedules stop. ``tol=None``
    runs all ``max_iter`` epochs. Each epoch visits the rows in
    ``rng.permutation(n)`` (``shuffle``) or in order.

    Returns
    -------
    n_iter : int
        Epochs run.
    losses : list of float
        Mean training loss of each epoch.
    """
    n = X.shape[0]
    best_loss, best_score = math.inf, -math.inf
    no_improvement = 0
    losses = []
    n_iter = 0
    stopped = False
    for epoch in range(1, max_iter + 1):
        order = rng.permutation(n) if shuffle else np.arange(n)
        loss = solver.epoch(X, y, sample_weight, order, epoch_number=epoch)
        losses.append(loss)
        n_iter = epoch
        if validation_score is not None:
            score = validation_score()
            worse = tol is not None and score < best_score + tol
            best_score = max(best_score, score)
        else:
            score = None
            worse = tol is not None and loss > best_loss - tol
            best_loss = min(best_loss, loss)
        no_improvement = no_improvement + 1 if worse else 0
        if verbose:
            extra = "" if score is None else f", validation score {score:.6g}"
            print(f"-- Epoch {epoch}: mean loss {loss:.6g}{extra}, lr {solver.eta:.3g}, "
                  f"steps {solver.t}")
        if no_improvement >= n_iter_no_change:
            if solver.learning_rate == "adaptive" and solver.eta > 1e-6:
                solver.eta /= 5.0
                no_improvement = 0
            else:
                stopped = True
                break
    if tol is not None and not stopped and max_iter > 0:
        warnings.warn("Maximum number of iteration reached before convergence. Consider "
                      "increasing max_iter to improve the fit.", ConvergenceWarning)
    return n_iter, losses
