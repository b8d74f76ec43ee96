"""Compiled minibatch epochs of SGD / momentum / Nesterov / Adam / AMSGrad (dense rows, CSR rows).

One call runs one epoch: the rows are visited in the order ``order`` (a
permutation drawn in Python), grouped in consecutive batches of
``batch_size`` rows (the last one may be smaller). Per batch, with step number
``t`` (global, counted over calls in ``counters[0]``)::

    scores_ik = x_i^T W_k + b_k                        for i in the batch
    G_k = 1/|B| sum_i s_i * dL(y_i, scores_i)_k * x_i  (and 1/|B| sum_i s_i dL_k for b_k)
                                                       (dL clipped to [-1e12, 1e12], as sklearn)
    lr_t = schedule(t)
    W_kj <- optimizer update of fastreg._optim_inline with
            l2 = alpha (1 - l1_ratio) (coupled), shrink = 1 - lr_t * weight_decay,
            L1 prox threshold lr_t * l1 (* 1/(1 - momentum) for momentum,
            / denom_j for Adam when l1_adaptive): the semantics of fastreg.optim
    b_k   <- the same optimizer update without any penalty (own state)

``W`` has shape ``(n_outputs, n_features + 1)``: its last column holds the
intercepts (kept at 0 when ``fit_intercept`` is false). The optimizer state
is ``state[slot, k, j]`` with slots: momentum buffer (0) for momentum and
Nesterov; ``m`` (0), ``v`` (1), ``v_max`` (2) for Adam/AMSGrad; then the
cumulative-L1 record ``q`` at ``q_slot`` and the running average at
``avg_slot`` (each -1 when unused).

Sparse rows and laziness (``epoch_csr`` with ``lazy=True``, plain SGD only):
a coordinate whose gradient is 0 in a step only undergoes
``w <- S(c_t w, tau_t)`` with ``c_t = 1 - lr_t (l2 + weight_decay)`` and
``tau_t = lr_t * l1``. For ``c_t > 0`` these maps compose in closed form:
over steps ``a+1..t``, ``w <- S(C w, T)`` with ``C = P_t / P_a`` and
``T = P_t (A_t - A_a)`` where ``P_t = prod_{s<=t} c_s`` and ``A_t =
sum_{s<=t} tau_s / P_s``. So the kernel stores ``V = w / P`` (Bottou's
weight scale) and, with the L1 prox, per coordinate the value ``snap_a[j] =
A_a`` of its last update: ``w_j = P_t * S(V_j, A_t - snap_a[j])``. A row
first catches its coordinates up (``V_j <- S(V_j, A_t - snap_a[j])``, O(1)
each), scores ``P_t x^T V + b``, then updates only its coordinates
(``V_j <- S(V_j - lr_t g_j / P_t, A_t - A_{t-1})``): a batch costs O(nnz of
its rows), and the result equals the dense update to rounding (tested).
``P`` is renormalized (``W <- P V``, O(n_features)) when it falls below 1e-9
and at the end of the call, and a step with ``c_t <= 0`` is applied densely.
Momentum and Adam are lazy only without coupled L2 (:func:`epoch_csr_active`: an
exact active set, see its docstring for the maths and for why Adam's
``eps`` rules out a closed-form catch-up); with coupled L2, the momentum
buffer and Adam's moments of an idle coordinate still receive ``l2 * w``, and
:func:`epoch_csr` updates every coordinate (O(n_outputs * n_features) per
batch); with ``window > 1`` it defers those zero-gradient steps and takes up to
64 of them per pass over memory, with the same arithmetic (see its docstring).
Averaging also updates every coordinate per step.

References
----------
Bottou (2012), "Stochastic Gradient Descent Tricks", Neural Networks: Tricks of the Trade.
Tsuruoka, Tsujii & Ananiadou (2009), "Stochastic Gradient Descent Training for
L1-regularized Log-linear Models with Cumulative Penalty", ACL.
Polyak & Juditsky (1992), "Acceleration of stochastic approximation by averaging".

This module is the portable build (SSE2 on x86-64). ``fastreg._sgd_avx2``
compiles the same source, ``_sgd_kernels.pxi``, for AVX2 + FMA (the dense
Adam pass over every coordinate, e.g. with coupled L2 on many sparse
features, is bound by the 8-wide float32 / 4-wide float64 sqrt and division);
:mod:`fastreg._builds` chooses between them at run time
(:mod:`fastreg.solvers.stochastic` holds the choice).
"""

#: This build uses the baseline instruction set.
COMPILED_FOR_AVX2 = False

include "_sgd_kernels.pxi"
