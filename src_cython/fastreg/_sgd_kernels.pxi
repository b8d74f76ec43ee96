# Kernel code of fastreg._sgd and fastreg._sgd_avx2 (included by both; see _sgd.pyx).
# Compiled minibatch epochs of SGD / momentum / Nesterov / Adam / AMSGrad (dense rows, CSR rows).
from cython cimport floating
from libc.math cimport sqrt, pow, cos, fabs, copysign, isfinite, M_PI

from fastreg._losses cimport dloss, softmax_dloss
from fastreg._optim_inline cimport (sgd_coord, momentum_coord, adam_coord, amsgrad_coord,
                                    cumulative_l1, prox_l1)
from fastreg._utils cimport faxpy, fscal, fgemm

# codes shared with fastreg.solvers.stochastic
OPTIMIZERS = {"sgd": 0, "momentum": 1, "nesterov": 2, "adam": 3, "amsgrad": 4}
SCHEDULES = {"constant": 0, "invscaling": 1, "cosine": 2, "optimal": 3}
MODES = {"single": 0, "ovr": 1, "softmax": 2}
LOSSES = {"squared_error": 0, "huber": 1, "epsilon_insensitive": 2,
          "squared_epsilon_insensitive": 3, "log_loss": 4, "hinge": 5, "squared_hinge": 6,
          "modified_huber": 7, "perceptron": 8}

cdef enum:
    OPT_SGD = 0
    OPT_MOMENTUM = 1
    OPT_NESTEROV = 2
    OPT_ADAM = 3
    OPT_AMSGRAD = 4

cdef enum:
    SCHED_CONSTANT = 0
    SCHED_INVSCALING = 1
    SCHED_COSINE = 2
    SCHED_OPTIMAL = 3

cdef enum:
    MODE_SINGLE = 0
    MODE_OVR = 1
    MODE_SOFTMAX = 2

cdef extern from *:
    """
    #if defined(__GNUC__)
    #define fastreg_prefetch(p) __builtin_prefetch((const void*) (p))
    #else
    #define fastreg_prefetch(p) ((void) 0)
    #endif
    """
    void fastreg_prefetch(const void* p) noexcept nogil

cdef extern from *:
    """
    #if defined(__SSE2__) || defined(__x86_64__) || defined(_M_X64)
    #include <xmmintrin.h>
    /* flush-to-zero and denormals-are-zero for this thread; returns the old MXCSR */
    static inline unsigned int fastreg_ftz_enter(void) {
        unsigned int old = _mm_getcsr();
        _mm_setcsr(old | 0x8040u);
        return old;
    }
    static inline void fastreg_ftz_leave(unsigned int old) { _mm_setcsr(old); }
    #else
    static inline unsigned int fastreg_ftz_enter(void) { return 0u; }
    static inline void fastreg_ftz_leave(unsigned int old) { (void) old; }
    #endif
    """
    # The epoch loops run with subnormal results flushed to zero (x86: MXCSR FTZ and DAZ,
    # restored on return). Adam's moments of a coordinate whose gradient stays 0 decay
    # geometrically into the subnormal range (float32: below 1.2e-38 after ~800 steps of
    # beta1 = 0.9), where every operation on them costs ~100 cycles: AdamW on 1e6 sparse
    # features, batch 32, spent 4.6-4.9 s per epoch against 2.4-3.0 s flushed.
    unsigned int fastreg_ftz_enter() noexcept nogil
    void fastreg_ftz_leave(unsigned int old) noexcept nogil

cdef double P_FLOOR = 1e-9
# epoch_csr lists the touched coordinates of Adam's batches only when a batch has fewer
# than n_features / TRACK_RATIO stored entries (see there)
cdef double TRACK_RATIO = 300.0
# epoch_csr_active tests its active coordinates for freezing once every this many steps
cdef long long FREEZE_EVERY = 8
# |dL/dp| is clipped to this (scikit-learn's MAX_DLOSS): a badly scaled problem then
# grows the iterates linearly, not geometrically, and only a truly unstable step
# (e.g. lr * alpha > 2) ends in a non-finite value, reported as divergence.
cdef double MAX_DLOSS = 1e12


cdef struct Hyper:
    int loss
    double epsilon
    int mode
    int optimizer
    Py_ssize_t batch_size
    int schedule
    double eta0
    double power_t
    double warmup
    double horizon
    double optimal_t0
    double optimal_alpha
    double l2
    double l1
    bint cumulative
    double weight_decay
    double momentum
    double beta1
    double beta2
    double eps
    bint l1_adaptive
    bint fit_intercept
    int q_slot
    int avg_slot
    double avg_start


cdef struct Step:
    double lr
    double shrink
    double thr
    double buf_decay
    double step_size
    double inv_sqrt_bc2


cdef Hyper _read_hyper(dict d) except *:
    cdef Hyper h
    h.loss = d["loss"]
    h.epsilon = d["epsilon"]
    h.mode = d["mode"]
    h.optimizer = d["optimizer"]
    h.batch_size = d["batch_size"]
    h.schedule = d["schedule"]
    h.eta0 = d["eta0"]
    h.power_t = d["power_t"]
    h.warmup = d["warmup"]
    h.horizon = d["horizon"]
    h.optimal_t0 = d["optimal_t0"]
    h.optimal_alpha = d["optimal_alpha"]
    h.l2 = d["l2"]
    h.l1 = d["l1"]
    h.cumulative = d["cumulative"]
    h.weight_decay = d["weight_decay"]
    h.momentum = d["momentum"]
    h.beta1 = d["beta1"]
    h.beta2 = d["beta2"]
    h.eps = d["eps"]
    h.l1_adaptive = d["l1_adaptive"]
    h.fit_intercept = d["fit_intercept"]
    h.q_slot = d["q_slot"]
    h.avg_slot = d["avg_slot"]
    h.avg_start = d["avg_start"]
    if h.batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    return h


cdef inline double learning_rate(Hyper* h, double t) noexcept nogil:
    """``lr_t`` of step ``t >= 1`` (see fastreg.solvers.stochastic for the formulas)."""
    cdef double lr, frac
    if h.schedule == SCHED_INVSCALING:
        lr = h.eta0 / pow(t, h.power_t)
    elif h.schedule == SCHED_OPTIMAL:
        lr = 1.0 / (h.optimal_alpha * (h.optimal_t0 + t - 1.0))
    elif h.schedule == SCHED_COSINE:
        if t <= h.warmup:
            lr = h.eta0
        else:
            frac = (t - h.warmup) / (h.horizon - h.warmup) if h.horizon > h.warmup else 1.0
            if frac > 1.0:
                frac = 1.0
            lr = 0.5 * h.eta0 * (1.0 + cos(M_PI * frac))
    else:
        lr = h.eta0
    if h.warmup > 0.0 and t < h.warmup:
        lr = lr * (t / h.warmup)
    return lr


cdef inline void _make_step(Hyper* h, double t, Step* s, double* u) noexcept nogil:
    """Per-step scalars; adds ``lr_t * l1`` to the cumulative penalty ``*u``."""
    s.lr = learning_rate(h, t)
    s.shrink = 1.0 - s.lr * h.weight_decay
    s.thr = 0.0
    if h.cumulative:
        u[0] += s.lr * h.l1
    elif h.l1 > 0.0:
        s.thr = s.lr * h.l1
        if h.optimizer == OPT_MOMENTUM or h.optimizer == OPT_NESTEROV:
            s.thr = s.thr / (1.0 - h.momentum)
    s.buf_decay = 0.0 if t <= 1.0 else h.momentum
    if h.optimizer == OPT_ADAM or h.optimizer == OPT_AMSGRAD:    # (two pow: not per SGD row)
        s.step_size = s.lr / (1.0 - pow(h.beta1, t))
        s.inv_sqrt_bc2 = 1.0 / sqrt(1.0 - pow(h.beta2, t))
    else:
        s.step_size = s.lr
        s.inv_sqrt_bc2 = 1.0


cdef inline void _update(floating[:, ::1] W, floating[:, :, ::1] state, Py_ssize_t k,
                         Py_ssize_t j, double g, Hyper* h, Step* s, double l2, double shrink,
                         double thr) noexcept nogil:
    """One optimizer update of ``W[k, j]`` with gradient ``g``."""
    cdef double w = W[k, j]
    if h.optimizer == OPT_SGD:
        w = sgd_coord(w, g, s.lr, l2, shrink, thr)
    elif h.optimizer == OPT_MOMENTUM or h.optimizer == OPT_NESTEROV:
        w = momentum_coord(w, g, &state[0, k, j], s.lr, h.momentum, s.buf_decay, 1.0,
                           h.optimizer == OPT_NESTEROV, l2, shrink, thr)
    elif h.optimizer == OPT_ADAM:
        w = adam_coord(w, g, &state[0, k, j], &state[1, k, j], s.step_size, h.beta1,
                       h.beta2, s.inv_sqrt_bc2, h.eps, l2, shrink, thr, h.l1_adaptive)
    else:
        w = amsgrad_coord(w, g, &state[0, k, j], &state[1, k, j], &state[2, k, j],
                          s.step_size, h.beta1, h.beta2, s.inv_sqrt_bc2, h.eps, l2, shrink,
                          thr, h.l1_adaptive)
    W[k, j] = <floating> w


cdef inline void _adam_range(floating* w, floating* g, floating* m, floating* v,
                             Py_ssize_t n, floating fb1, floating fc1, floating fb2,
                             floating fc2, floating fss, floating fib, floating feps,
                             floating fl2, floating fshrink, floating fta, floating ft,
                             bint prox, bint zero_g, bint idle) noexcept nogil:
    """The loop of :func:`_adam_loop`; called with literal ``prox`` / ``zero_g`` / ``idle``
    so that gcc emits one branch-free vectorized loop per variant (``idle``: a zero
    loss gradient, ``g`` is not read)."""
    cdef Py_ssize_t j
    cdef floating gj, mi, vi, x, a, t, zero = 0
    for j in range(n):
        if idle:
            gj = fl2 * w[j]
        else:
            gj = g[j] + fl2 * w[j]
        mi = fb1 * m[j] + fc1 * gj
        vi = fb2 * v[j] + fc2 * (gj * gj)
        m[j] = mi
        v[j] = vi
        if zero_g:
            g[j] = zero
        if prox:
            a = <floating> sqrt(vi) * fib + feps
            x = fshrink * w[j] - fss * mi / a
            t = fta / a + ft
            a = <floating> fabs(x) - t
            w[j] = <floating> copysign(zero if a < zero else a, x)
        else:
            w[j] = fshrink * w[j] - fss * mi / (<floating> sqrt(vi) * fib + feps)


cdef void _adam_loop(floating* w, floating* g, floating* m, floating* v, Py_ssize_t n,
                     double ss, double b1, double b2, double ib, double eps, double l2,
                     double shrink, double thr_adaptive, double thr,
                     bint zero_g, bint idle=False) noexcept nogil:
    """Adam over ``n`` contiguous coordinates (then ``g`` zeroed if ``zero_g``), the
    update of ``adam_coord`` as one branch-free loop over raw pointers that the C
    compiler vectorizes; prox threshold ``thr_adaptive / denom + thr``. The
    arithmetic is in the storage precision (float32 data: float32, as torch's
    fused Adam). ``zero_g=False`` saves the write of ``g`` when the caller knows
    its few non-zero entries (the touched coordinates of a sparse batch).
    ``idle=True``: zero loss gradients (only the coupled L2 term ``l2 w``); ``g``
    is neither read nor written."""
    cdef floating fb1 = <floating> b1, fc1 = <floating> (1.0 - b1), fb2 = <floating> b2
    cdef floating fc2 = <floating> (1.0 - b2), fss = <floating> ss, fib = <floating> ib
    cdef floating feps = <floating> eps, fl2 = <floating> l2, fshrink = <floating> shrink
    cdef floating fta = <floating> thr_adaptive, ft = <floating> thr
    cdef bint prox = thr_adaptive > 0.0 or thr > 0.0
    if idle:
        if prox:
            _adam_range(w, g, m, v, n, fb1, fc1, fb2, fc2, fss, fib, feps, fl2, fshrink,
                        fta, ft, True, False, True)
        else:
            _adam_range(w, g, m, v, n, fb1, fc1, fb2, fc2, fss, fib, feps, fl2, fshrink,
                        fta, ft, False, False, True)
    elif prox:
        if zero_g:
            _adam_range(w, g, m, v, n, fb1, fc1, fb2, fc2, fss, fib, feps, fl2, fshrink,
                        fta, ft, True, True, False)
        else:
            _adam_range(w, g, m, v, n, fb1, fc1, fb2, fc2, fss, fib, feps, fl2, fshrink,
                        fta, ft, True, False, False)
    elif zero_g:
        _adam_range(w, g, m, v, n, fb1, fc1, fb2, fc2, fss, fib, feps, fl2, fshrink,
                    fta, ft, False, True, False)
    else:
        _adam_range(w, g, m, v, n, fb1, fc1, fb2, fc2, fss, fib, feps, fl2, fshrink,
                    fta, ft, False, False, False)


cdef inline void _adam_step(floating* w, floating* g, floating* m, floating* v, Py_ssize_t n,
                            Hyper* h, Step* s, bint zero_g, bint idle) noexcept nogil:
    """:func:`_adam_loop` with the scalars of step ``s`` (L1 threshold ``lr l1 / denom``
    when ``l1_adaptive``, else ``lr l1``)."""
    _adam_loop(w, g, m, v, n, s.step_size, h.beta1, h.beta2, s.inv_sqrt_bc2, h.eps, h.l2,
               s.shrink, s.thr if h.l1_adaptive else 0.0, 0.0 if h.l1_adaptive else s.thr,
               zero_g, idle)


cdef void _dense_step(floating[:, ::1] W, floating[:, :, ::1] state, floating[:, ::1] G,
                      const long long[::1] mark, long long stamp, double u, Hyper* h,
                      Step* s, bint zero_g=True) noexcept nogil:
    """Update every coordinate with the gradient ``G`` (then zeroed), the intercepts
    without penalty, the cumulative L1 on the coordinates marked ``stamp``.

    ``zero_g=False`` (Adam only): the coefficient columns of ``G`` are left for
    the caller to zero (it knows the few non-zero ones); the other optimizers
    always zero ``G``.

    The optimizer is dispatched once per output, outside the coordinate loop."""
    cdef Py_ssize_t k, j, p = W.shape[1] - 1
    cdef double w, l2 = h.l2, lr = s.lr, shrink = s.shrink, thr = s.thr
    cdef double mu = h.momentum, bd = s.buf_decay, ss = s.step_size, ib = s.inv_sqrt_bc2
    cdef double b1 = h.beta1, b2 = h.beta2, eps = h.eps
    cdef bint adaptive = h.l1_adaptive
    for k in range(W.shape[0]):
        if h.optimizer == OPT_SGD:
            for j in range(p):
                W[k, j] = <floating> sgd_coord(W[k, j], G[k, j], lr, l2, shrink, thr)
                G[k, j] = 0
        elif h.optimizer == OPT_MOMENTUM:
            for j in range(p):
                W[k, j] = <floating> momentum_coord(W[k, j], G[k, j], &state[0, k, j], lr, mu,
                                                    bd, 1.0, False, l2, shrink, thr)
                G[k, j] = 0
        elif h.optimizer == OPT_NESTEROV:
            for j in range(p):
                W[k, j] = <floating> momentum_coord(W[k, j], G[k, j], &state[0, k, j], lr, mu,
                                                    bd, 1.0, True, l2, shrink, thr)
                G[k, j] = 0
        elif h.optimizer == OPT_ADAM:
            _adam_step(&W[k, 0], &G[k, 0], &state[0, k, 0], &state[1, k, 0], p, h, s, zero_g,
                       False)
        else:
            for j in range(p):
                W[k, j] = <floating> amsgrad_coord(W[k, j], G[k, j], &state[0, k, j],
                                                   &state[1, k, j], &state[2, k, j], ss, b1,
                                                   b2, ib, eps, l2, shrink, thr, adaptive)
                G[k, j] = 0
        if h.cumulative:
            for j in range(p):
                if mark[j] == stamp:
                    w = cumulative_l1(W[k, j], u, &state[h.q_slot, k, j])
                    W[k, j] = <floating> w
        if h.fit_intercept:
            _update(W, state, k, p, G[k, p], h, s, 0.0, 1.0, 0.0)
        G[k, p] = 0


cdef void _fused_sgd_step(floating[:, ::1] W, const floating[:, ::1] X,
                          const Py_ssize_t[::1] order, Py_ssize_t start, Py_ssize_t end,
                          const double* coefs, Hyper* h, Step* s) noexcept nogil:
    """Plain SGD on dense rows without a gradient buffer (same step as :func:`_dense_step`):
    ``W_k <- S((shrink - lr l2) W_k - lr sum_i coefs[i, k] x_i, thr)``, one scal,
    one axpy per row and one prox pass; ``coefs[(i - start) * K + k]`` is
    ``s_i dL_ik / |B|``."""
    cdef Py_ssize_t k, j, ii, p = W.shape[1] - 1, K = W.shape[0]
    cdef double decay = s.shrink - s.lr * h.l2, c, gb
    for k in range(K):
        if decay != 1.0:
            fscal(<int> p, <floating> decay, &W[k, 0], 1)
        gb = 0.0
        for ii in range(start, end):
            c = coefs[(ii - start) * K + k]
            gb += c
            if c != 0.0:
                faxpy(<int> p, <floating> (-s.lr * c), &X[order[ii], 0], 1, &W[k, 0], 1)
        if s.thr > 0.0:
            for j in range(p):
                W[k, j] = <floating> prox_l1(W[k, j], s.thr)
        if h.fit_intercept:
            W[k, p] = <floating> sgd_coord(W[k, p], gb, s.lr, 0.0, 1.0, 0.0)


cdef void _average(floating[:, ::1] W, floating[:, :, ::1] state, double t, Hyper* h,
                   double* n_avg) noexcept nogil:
    """Running mean of the iterates from step ``avg_start`` on (Polyak-Ruppert)."""
    cdef Py_ssize_t k, j
    cdef double inv
    if h.avg_slot < 0 or t < h.avg_start:
        return
    n_avg[0] += 1.0
    inv = 1.0 / n_avg[0]
    for k in range(W.shape[0]):
        for j in range(W.shape[1]):
            state[h.avg_slot, k, j] = <floating> (state[h.avg_slot, k, j]
                                                 + (W[k, j] - state[h.avg_slot, k, j]) * inv)


cdef inline double _dlosses(Hyper* h, double yi, double* scores, double* dl,
                            Py_ssize_t K) noexcept nogil:
    """Per-output derivatives ``dl[k]`` of the sample's loss; returns the loss."""
    cdef Py_ssize_t k, label
    cdef double total = 0.0, lv
    if h.mode == MODE_SOFTMAX:
        label = <Py_ssize_t> yi
        return softmax_dloss(scores, K, label, dl)
    if h.mode == MODE_OVR:
        label = <Py_ssize_t> yi
        for k in range(K):
            dl[k] = _clip(dloss(h.loss, 1.0 if k == label else -1.0, scores[k], h.epsilon, &lv))
            total += lv
        return total
    dl[0] = _clip(dloss(h.loss, yi, scores[0], h.epsilon, &lv))
    return lv


cdef inline double _clip(double d) noexcept nogil:
    if d > MAX_DLOSS:
        return MAX_DLOSS
    if d < -MAX_DLOSS:
        return -MAX_DLOSS
    return d


cdef inline int _row_loss(Hyper* h, floating[:, ::1] W, double* scores, double scale,
                          double yi, double sw, double* dl, double* sum_loss,
                          double* sum_weight) noexcept nogil:
    """``scores_k <- scale * scores_k + b_k`` (``scale``: the lazy weight scale, or 1),
    the loss derivatives into ``dl`` and ``s_i L_i``, ``s_i`` into the running sums.
    Returns 1 (and leaves the sums alone) when a score is not finite."""
    cdef Py_ssize_t k, K = W.shape[0], p = W.shape[1] - 1
    cdef double lv
    for k in range(K):
        scores[k] = scale * scores[k] + W[k, p]
        if not isfinite(scores[k]):
            return 1
    lv = _dlosses(h, yi, scores, dl, K)
    sum_loss[0] += sw * lv
    sum_weight[0] += sw
    return 0


cdef inline void _prefetch_span(const floating* x, Py_ssize_t n) noexcept nogil:
    """Cache hints for ``x[0:n]`` (one per 64-byte line; no effect on the results): the
    next dense row, while this one is processed (the rows are visited in random
    order, so the hardware prefetcher cannot run ahead)."""
    cdef Py_ssize_t j = 0, line = 64 // sizeof(floating)
    while j < n:
        fastreg_prefetch(&x[j])
        j += line
    if n > 0:
        fastreg_prefetch(&x[n - 1])


cdef inline double _dot_lanes(const floating* x, const floating* w,
                              Py_ssize_t n) noexcept nogil:
    """``x^T w`` summed in 16 interleaved partial sums (lane ``l`` holds the terms
    ``j = l mod 16``), added in order at the end, then the tail: a fixed order that
    gcc vectorizes (2 x 8 float32 / 4 x 4 float64 lanes in the AVX2 build) without
    reassociating anything; no BLAS call per row and output."""
    cdef floating acc[16]
    cdef Py_ssize_t j, l, n16 = n - n % 16
    cdef double total = 0.0
    for l in range(16):
        acc[l] = 0
    for j in range(0, n16, 16):
        for l in range(16):
            acc[l] = acc[l] + x[j + l] * w[j + l]
    for l in range(16):
        total += acc[l]
    for j in range(n16, n):
        total += x[j] * w[j]
    return total


cdef inline void _dots4(const floating* x, const floating* w0, const floating* w1,
                        const floating* w2, const floating* w3, Py_ssize_t n,
                        double* out) noexcept nogil:
    """``out[0:4] = x^T w0 .. x^T w3`` in one pass over ``x``, each summed in the
    lanes of :func:`_dot_lanes` (same order, same result): four times the
    independent accumulators, ``x`` loaded once for four outputs."""
    cdef floating a0[16]
    cdef floating a1[16]
    cdef floating a2[16]
    cdef floating a3[16]
    cdef floating xv
    cdef Py_ssize_t j, l, n16 = n - n % 16
    cdef double t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0
    for l in range(16):
        a0[l] = 0
        a1[l] = 0
        a2[l] = 0
        a3[l] = 0
    for j in range(0, n16, 16):
        for l in range(16):
            xv = x[j + l]
            a0[l] = a0[l] + xv * w0[j + l]
            a1[l] = a1[l] + xv * w1[j + l]
            a2[l] = a2[l] + xv * w2[j + l]
            a3[l] = a3[l] + xv * w3[j + l]
    for l in range(16):
        t0 += a0[l]
        t1 += a1[l]
        t2 += a2[l]
        t3 += a3[l]
    for j in range(n16, n):
        t0 += x[j] * w0[j]
        t1 += x[j] * w1[j]
        t2 += x[j] * w2[j]
        t3 += x[j] * w3[j]
    out[0] = t0
    out[1] = t1
    out[2] = t2
    out[3] = t3


cdef inline void _row_scores(const floating* x, floating[:, ::1] W, Py_ssize_t p,
                             double* scores) noexcept nogil:
    """``scores[k] = x^T W[k, :p]`` for every output (four at a time)."""
    cdef Py_ssize_t k = 0, K = W.shape[0]
    while k + 4 <= K:
        _dots4(x, &W[k, 0], &W[k + 1, 0], &W[k + 2, 0], &W[k + 3, 0], p, &scores[k])
        k += 4
    while k < K:
        scores[k] = _dot_lanes(x, &W[k, 0], p)
        k += 1


cdef inline void _axpy(floating c, const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """``y += c x`` (a loop that gcc vectorizes; no BLAS call per row and output)."""
    cdef Py_ssize_t j
    for j in range(n):
        y[j] = y[j] + c * x[j]


cdef enum:
    # epoch_dense takes rows four at a time (_rows4) up to this many outputs
    BLOCK_MAX_OUTPUTS = 16


cdef inline void _axpy4(floating c0, floating c1, floating c2, floating c3, const floating* x0,
                        const floating* x1, const floating* x2, const floating* x3,
                        floating* y, Py_ssize_t n) noexcept nogil:
    """``y += c0 x0 + c1 x1 + c2 x2 + c3 x3`` (one read and write of ``y`` for four rows;
    a loop that gcc vectorizes)."""
    cdef Py_ssize_t j
    for j in range(n):
        y[j] = y[j] + (c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j])


cdef inline void _dots2x4(const floating* w0, const floating* w1, const floating* x0,
                          const floating* x1, const floating* x2, const floating* x3,
                          Py_ssize_t n, double* out0, double* out1) noexcept nogil:
    """``out0[r] = w0^T x_r``, ``out1[r] = w1^T x_r`` (r = 0..3) in one pass: each of
    the eight sums in 8 interleaved lanes (added in order at the end, then the
    tail), so that each loaded vector serves two or four products."""
    cdef floating acc[64]
    cdef floating a, b
    cdef Py_ssize_t j, l, n8 = n - n % 8
    cdef double t
    for l in range(64):
        acc[l] = 0
    for j in range(0, n8, 8):
        for l in range(8):
            a = w0[j + l]
            b = w1[j + l]
            acc[l] = acc[l] + a * x0[j + l]
            acc[8 + l] = acc[8 + l] + a * x1[j + l]
            acc[16 + l] = acc[16 + l] + a * x2[j + l]
            acc[24 + l] = acc[24 + l] + a * x3[j + l]
            acc[32 + l] = acc[32 + l] + b * x0[j + l]
            acc[40 + l] = acc[40 + l] + b * x1[j + l]
            acc[48 + l] = acc[48 + l] + b * x2[j + l]
            acc[56 + l] = acc[56 + l] + b * x3[j + l]
    for l in range(8):
        t = 0.0
        for j in range(8):
            t += acc[8 * l + j]
        if l < 4:
            out0[l] = t
        else:
            out1[l - 4] = t
    for j in range(n8, n):
        out0[0] += w0[j] * x0[j]
        out0[1] += w0[j] * x1[j]
        out0[2] += w0[j] * x2[j]
        out0[3] += w0[j] * x3[j]
        out1[0] += w1[j] * x0[j]
        out1[1] += w1[j] * x1[j]
        out1[2] += w1[j] * x2[j]
        out1[3] += w1[j] * x3[j]


cdef inline void _axpy2x4(floating a0, floating a1, floating a2, floating a3, floating b0,
                          floating b1, floating b2, floating b3, const floating* x0,
                          const floating* x1, const floating* x2, const floating* x3,
                          floating* y0, floating* y1, Py_ssize_t n) noexcept nogil:
    """:func:`_axpy4` for two gradient rows at once (each row vector loaded once)."""
    cdef Py_ssize_t j
    cdef floating v0, v1, v2, v3
    for j in range(n):
        v0 = x0[j]
        v1 = x1[j]
        v2 = x2[j]
        v3 = x3[j]
        y0[j] = y0[j] + (a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3)
        y1[j] = y1[j] + (b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3)


cdef int _rows4(const floating[:, ::1] X, const floating[::1] y,
                const floating[::1] sample_weight, const Py_ssize_t[::1] order, Py_ssize_t ii,
                Py_ssize_t start, Py_ssize_t nb, floating[:, ::1] W, floating[:, ::1] G,
                double* scores, double* dl, double* coefs, bint fused, long long[::1] mark,
                long long stamp, Hyper* h, double* sum_loss, double* sum_weight) noexcept nogil:
    """Rows ``order[ii:ii + 4]`` of a dense batch at once (``n_outputs <=
    BLOCK_MAX_OUTPUTS``): the per-row loops of :func:`epoch_dense` with each
    coefficient row ``W_k`` read once for four rows (:func:`_dots4`: the same
    lanes, hence the same scores as :func:`_row_scores`) and each gradient row
    ``G_k`` read and written once for four rows (:func:`_axpy4`), so that ``W`` and
    ``G`` stream from cache a quarter as often. Returns 1 on a non-finite score."""
    cdef const floating* x0 = &X[order[ii], 0]
    cdef const floating* x1 = &X[order[ii + 1], 0]
    cdef const floating* x2 = &X[order[ii + 2], 0]
    cdef const floating* x3 = &X[order[ii + 3], 0]
    cdef double sc[4 * BLOCK_MAX_OUTPUTS]
    cdef double cf[4 * BLOCK_MAX_OUTPUTS]
    cdef Py_ssize_t r, k, j, i, K = W.shape[0], p = X.shape[1], n = order.shape[0]
    cdef double sw
    for r in range(4, 8):        # the next block's rows (the rows are in random order)
        if ii + r < n:
            _prefetch_span(&X[order[ii + r], 0], p)
    k = 0
    while k + 2 <= K:
        _dots2x4(&W[k, 0], &W[k + 1, 0], x0, x1, x2, x3, p, &sc[4 * k], &sc[4 * k + 4])
        k += 2
    if k < K:
        _dots4(&W[k, 0], x0, x1, x2, x3, p, &sc[4 * k])
    for r in range(4):
        i = order[ii + r]
        for k in range(K):
            scores[k] = sc[4 * k + r]
        sw = sample_weight[i]
        if _row_loss(h, W, scores, 1.0, y[i], sw, dl, sum_loss, sum_weight):
            return 1
        for k in range(K):
            cf[r * K + k] = sw * dl[k] / nb
            if fused:
                coefs[(ii + r - start) * K + k] = cf[r * K + k]
        if h.cumulative:
            for j in range(p):
                if X[i, j] != 0:
                    mark[j] = stamp
    if fused:
        return 0
    k = 0
    while k + 2 <= K:
        _axpy2x4(<floating> cf[k], <floating> cf[K + k], <floating> cf[2 * K + k],
                 <floating> cf[3 * K + k], <floating> cf[k + 1], <floating> cf[K + k + 1],
                 <floating> cf[2 * K + k + 1], <floating> cf[3 * K + k + 1], x0, x1, x2, x3,
                 &G[k, 0], &G[k + 1, 0], p)
        k += 2
    if k < K:
        _axpy4(<floating> cf[k], <floating> cf[K + k], <floating> cf[2 * K + k],
               <floating> cf[3 * K + k], x0, x1, x2, x3, &G[k, 0], p)
    for k in range(K):
        for r in range(4):
            G[k, p] += <floating> cf[r * K + k]
    return 0


cdef int _batch_gradient(const floating[:, ::1] X, const floating[::1] y,
                         const floating[::1] sample_weight, const Py_ssize_t[::1] order,
                         Py_ssize_t start, Py_ssize_t end, floating[:, ::1] W,
                         floating[:, ::1] G, floating[:, ::1] R, floating[:, ::1] S,
                         double* scores, double* dl, long long[::1] mark, long long stamp,
                         Hyper* h, double* sum_loss, double* sum_weight) noexcept nogil:
    """Minibatch gradient by BLAS-3 into ``G`` (intercepts in its last column).

    ``R[r] = X[order[start + r]]``; ``S = R W_:p^T`` (one gemm); per row the
    loss derivatives, ``S[r, k] <- s_i dL_ik / |B|``; ``G_:p += S^T R``
    (one gemm into ``S[batch_size:]``, then added), ``G_p += sum_r S[r]``.
    Returns 1 on a non-finite score.
    """
    cdef Py_ssize_t r, k, j, i, nb = end - start, K = W.shape[0], p = X.shape[1]
    cdef double lv, sw
    cdef floating* T
    for r in range(nb):
        i = order[start + r]
        if r + 1 < nb:
            _prefetch_span(&X[order[start + r + 1], 0], p)
        for j in range(p):
            R[r, j] = X[i, j]
    # C-ordered (rows, cols; row stride ld) blocks are column-major (cols, rows; ld)
    fgemm(c'T', c'N', <int> K, <int> nb, <int> p, <floating> 1.0, &W[0, 0], <int> (p + 1),
          &R[0, 0], <int> p, <floating> 0.0, &S[0, 0], <int> K)
    for r in range(nb):
        i = order[start + r]
        for k in range(K):
            scores[k] = S[r, k]
        sw = sample_weight[i]
        if _row_loss(h, W, scores, 1.0, y[i], sw, dl, sum_loss, sum_weight):
            return 1
        for k in range(K):
            S[r, k] = <floating> (sw * dl[k] / nb)
            G[k, p] += S[r, k]
        if h.cumulative:
            for j in range(p):
                if R[r, j] != 0:
                    mark[j] = stamp
    # G_:p^T = R^T S as the (K, p) column-major product S^T R into the rows after the
    # scores (a gemm with m = K: OpenBLAS packs R faster than for m = p), then added
    # to G transposed (K p additions)
    T = &S[h.batch_size, 0]
    fgemm(c'N', c'T', <int> K, <int> p, <int> nb, <floating> 1.0, &S[0, 0], <int> K,
          &R[0, 0], <int> p, <floating> 0.0, T, <int> K)
    for j in range(p):
        for k in range(K):
            G[k, j] += T[j * K + k]
    return 0


def epoch_dense(const floating[:, ::1] X, const floating[::1] y,
                const floating[::1] sample_weight, const Py_ssize_t[::1] order,
                floating[:, ::1] W, floating[:, :, ::1] state, floating[:, ::1] grad_buf,
                double[::1] work, long long[::1] mark, floating[:, ::1] batch_rows,
                floating[:, ::1] batch_scores, double[::1] counters, dict hyper):
    """One epoch over the dense C-ordered rows ``X[order]``; updates ``W``, ``state`` in place.

    Batches of several rows (when ``batch_rows`` has ``batch_size`` rows) are
    gathered into ``batch_rows`` and go through BLAS-3: ``S = X_B W^T`` and
    ``G += D^T X_B`` (``D_ik = s_i dL_ik / |B|``) by two ``gemm`` calls;
    otherwise each row is read once, in place, by inline vectorized loops
    (``n_outputs`` dot products, then ``n_outputs`` axpys into ``G``);
    ``fastreg.solvers.stochastic`` chooses (``BLAS3_MIN_COEF_BYTES``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
    y : ndarray of shape (n_samples,)
        Regression target, or +-1 (binary), or the class index (``ovr``/``softmax``).
    sample_weight : ndarray of shape (n_samples,)
        Per-sample weights (class weights folded in).
    order : ndarray of intp
        Rows in the order visited (a permutation, or any sequence of row indices).
    W : ndarray of shape (n_outputs, n_features + 1)
        Coefficients with the intercepts in the last column; updated in place.
    state : ndarray of shape (n_slots, n_outputs, n_features + 1)
        Optimizer state (see the module docstring); updated in place.
    grad_buf : ndarray like ``W``, all zeros (left all zeros)
    work : float64 ndarray of length >= (2 + batch_size) * n_outputs (scratch)
    mark : int64 ndarray of length n_features (scratch for the cumulative L1)
    batch_rows : ndarray of shape (batch_size, n_features) or (0, n_features) (scratch)
        With 0 rows (or batch_size 1) every row goes through the per-row loops.
    batch_scores : ndarray of shape (batch_size + n_features, n_outputs) (scratch, with
        batch_rows): the batch's scores, then the transposed batch gradient
    counters : float64 ndarray [t, u, n_avg], updated in place
        Steps taken, cumulative L1 total, number of averaged iterates.
    hyper : dict
        Codes and hyperparameters (built by ``fastreg.solvers.stochastic``).

    Returns
    -------
    sum_loss, sum_weight : float
        ``sum_i s_i L_i`` over the rows visited (losses before each update) and ``sum_i s_i``.
    status : int
        0, or 1 if a non-finite score was met (the epoch stopped there).
    """
    cdef Hyper h = _read_hyper(hyper)
    cdef Step s
    cdef Py_ssize_t n = order.shape[0], K = W.shape[0], p = X.shape[1]
    cdef Py_ssize_t start, end, ii, i, k, j, nb
    cdef double t = counters[0], u = counters[1], n_avg = counters[2]
    cdef double sum_loss = 0.0, sum_weight = 0.0, lv, sw, c
    cdef int status = 0
    cdef double* scores = &work[0]
    cdef double* dl = &work[K]
    cdef double* coefs = &work[2 * K]
    cdef bint blas3 = h.batch_size > 1 and batch_rows.shape[0] >= h.batch_size
    # plain SGD without cumulative L1 skips the gradient buffer (scal + axpy per row)
    cdef bint fused = h.optimizer == OPT_SGD and not h.cumulative and not blas3
    if blas3 and (batch_rows.shape[1] != p or batch_scores.shape[0] < h.batch_size + p
                  or batch_scores.shape[1] != K):
        raise ValueError("batch_rows / batch_scores have a wrong shape")
    if work.shape[0] < (2 + h.batch_size) * K:
        raise ValueError("work must have length >= (2 + batch_size) * n_outputs")
    if X.shape[0] != y.shape[0] or X.shape[0] != sample_weight.shape[0]:
        raise ValueError("X, y and sample_weight must have the same number of rows")
    if W.shape[1] != p + 1 or grad_buf.shape[0] != K or grad_buf.shape[1] != p + 1:
        raise ValueError("W and grad_buf must have shape (n_outputs, n_features + 1)")
    if work.shape[0] < 2 * K or mark.shape[0] < p or state.shape[1] != K or state.shape[2] != p + 1:
        raise ValueError("work, mark or state has a wrong shape")
    cdef unsigned int ftz = fastreg_ftz_enter()
    with nogil:
        start = 0
        while start < n and status == 0:
            end = start + h.batch_size
            if end > n:
                end = n
            nb = end - start
            t += 1.0
            _make_step(&h, t, &s, &u)
            if blas3:
                status = _batch_gradient(X, y, sample_weight, order, start, end, W, grad_buf,
                                         batch_rows, batch_scores, scores, dl, mark,
                                         <long long> t, &h, &sum_loss, &sum_weight)
            else:
                ii = start
                while ii < end:
                    if K <= BLOCK_MAX_OUTPUTS and ii + 4 <= end:
                        status = _rows4(X, y, sample_weight, order, ii, start, nb, W, grad_buf,
                                        scores, dl, coefs, fused, mark, <long long> t, &h,
                                        &sum_loss, &sum_weight)
                        if status:
                            break
                        ii += 4
                        continue
                    i = order[ii]
                    ii += 1
                    if ii < n:
                        _prefetch_span(&X[order[ii], 0], p)
                    _row_scores(&X[i, 0], W, p, scores)
                    sw = sample_weight[i]
                    status = _row_loss(&h, W, scores, 1.0, y[i], sw, dl, &sum_loss,
                                       &sum_weight)
                    if status:
                        break
                    if fused:
                        for k in range(K):
                            coefs[(ii - 1 - start) * K + k] = sw * dl[k] / nb
                        continue
                    for k in range(K):
                        c = sw * dl[k] / nb
                        if c != 0.0:
                            _axpy(<floating> c, &X[i, 0], &grad_buf[k, 0], p)
                            grad_buf[k, p] += <floating> c
                    if h.cumulative:
                        for j in range(p):
                            if X[i, j] != 0:
                                mark[j] = <long long> t
            if status:
                for k in range(K):
                    for j in range(p + 1):
                        grad_buf[k, j] = 0
                break
            if fused:
                _fused_sgd_step(W, X, order, start, end, coefs, &h, &s)
            else:
                _dense_step(W, state, grad_buf, mark, <long long> t, u, &h, &s)
            _average(W, state, t, &h, &n_avg)
            start = end
    fastreg_ftz_leave(ftz)
    counters[0] = t
    counters[1] = u
    counters[2] = n_avg
    return sum_loss, sum_weight, status


cdef void _finalize(floating[:, ::1] W, double[::1] snap_a, double* P, double* A,
                    bint prox) noexcept nogil:
    """End of a lazy stretch: ``W <- P * S(V, A - snap_a)`` (true values), then
    ``P = 1, A = 0, snap_a = 0`` (the lazy invariants hold again with ``V = W``)."""
    cdef Py_ssize_t k, j, p = W.shape[1] - 1
    cdef double v
    if prox:
        for j in range(p):
            for k in range(W.shape[0]):
                v = prox_l1(W[k, j], A[0] - snap_a[j])
                W[k, j] = <floating> (P[0] * v)
            snap_a[j] = 0.0
    elif P[0] != 1.0:    # (without the prox, snap_a is neither read nor written)
        for k in range(W.shape[0]):
            for j in range(p):
                W[k, j] = <floating> (P[0] * W[k, j])
    P[0] = 1.0
    A[0] = 0.0


cdef inline int _lazy_row1(const floating[::1] data, const int[::1] indices, Py_ssize_t lo,
                           Py_ssize_t hi, floating[:, ::1] W, double[::1] snap_a, double yi,
                           double sw, double P, double A, double A_new, double step_v,
                           double thr_v, bint prox, Hyper* h, double* sum_loss,
                           double* sum_weight, floating* grad_intercept, double P_new,
                           double u, floating* q) noexcept nogil:
    """Lazy plain-SGD step on one CSR row, one output (the hot loop of sparse SGD).

    Score ``P * x^T V + b`` (catching ``V_j`` up to ``A`` under the L1 prox),
    then ``V_j <- S(V_j - step_v * c * x_j, thr_v)`` on the row's entries, with
    ``c = s_i dL`` (or, with the cumulative L1, ``V_j - step_v * c * x_j`` clipped
    by :func:`cumulative_l1` in true scale, ``q`` its record); the intercept
    gradient goes to ``*grad_intercept``.
    Explicit zeros are harmless (a zero step, a threshold that the lazy
    bookkeeping would apply anyway). Returns 1 on a non-finite score.
    """
    cdef Py_ssize_t jj, j, p = W.shape[1] - 1
    cdef double acc = 0.0, score, lv, c, v, cx, x
    if prox:
        for jj in range(lo, hi):
            j = indices[jj]
            if snap_a[j] != A:
                W[0, j] = <floating> prox_l1(W[0, j], A - snap_a[j])
                snap_a[j] = A
            acc += data[jj] * W[0, j]
    else:
        for jj in range(lo, hi):
            acc += data[jj] * W[0, indices[jj]]
    score = P * acc + W[0, p]
    if not isfinite(score):
        return 1
    c = sw * _clip(dloss(h.loss, yi, score, h.epsilon, &lv))
    sum_loss[0] += sw * lv
    sum_weight[0] += sw
    grad_intercept[0] += <floating> c
    cx = step_v * c
    if prox:
        for jj in range(lo, hi):
            j = indices[jj]
            v = prox_l1(W[0, j] - cx * data[jj], thr_v)
            W[0, j] = <floating> v
            snap_a[j] = A_new
    elif h.cumulative:
        for jj in range(lo, hi):
            x = data[jj]
            if x == 0:
                continue
            j = indices[jj]
            v = cumulative_l1(P_new * (W[0, j] - cx * x), u, &q[j])
            W[0, j] = <floating> (v / P_new)
    elif cx != 0.0:
        for jj in range(lo, hi):
            j = indices[jj]
            W[0, j] = <floating> (W[0, j] - cx * data[jj])
    return 0


cdef inline void _prefetch_rows(const floating[::1] data, const int[::1] indices,
                                const int[::1] indptr, const Py_ssize_t[::1] order,
                                Py_ssize_t ii, Py_ssize_t n,
                                floating[:, ::1] W) noexcept nogil:
    """Cache hints for one-row steps (no effect on the results): the coefficients of
    the next row ``order[ii + 1]`` and the entries of the one after. The rows are
    random, so without them every step waits for its cache misses in turn."""
    cdef Py_ssize_t jj, i
    if ii + 2 < n:          # every cache line of the row after next
        i = order[ii + 2]
        if indptr[i + 1] > indptr[i]:
            for jj in range(indptr[i], indptr[i + 1], 16):
                fastreg_prefetch(&indices[jj])
            fastreg_prefetch(&indices[indptr[i + 1] - 1])
            for jj in range(indptr[i], indptr[i + 1], 8):
                fastreg_prefetch(&data[jj])
            fastreg_prefetch(&data[indptr[i + 1] - 1])
    if ii + 1 < n:
        i = order[ii + 1]
        for jj in range(indptr[i], indptr[i + 1]):
            fastreg_prefetch(&W[0, indices[jj]])


cdef enum:
    # most steps a window of epoch_csr may defer; coordinates per block of the idle pass
    # (three float64 vectors of WINDOW_BLOCK stay in L1 across the window's steps)
    MAX_WINDOW = 64
    WINDOW_BLOCK = 512


cdef inline void _coord_step(floating[:, ::1] W, floating[:, :, ::1] state,
                             floating[:, ::1] G, Py_ssize_t k, Py_ssize_t j, Hyper* h,
                             Step* s) noexcept nogil:
    """The update of coefficient ``W[k, j]`` in :func:`_dense_step` (same arithmetic:
    Adam in the storage precision), with gradient ``G[k, j]``, then zeroed."""
    if h.optimizer == OPT_ADAM:
        _adam_step(&W[k, j], &G[k, j], &state[0, k, j], &state[1, k, j], 1, h, s, True,
                   False)
    else:
        _update(W, state, k, j, G[k, j], h, s, h.l2, s.shrink, s.thr)
        G[k, j] = 0


cdef void _idle_steps(floating[:, ::1] W, floating[:, :, ::1] state, Py_ssize_t j,
                      Py_ssize_t q0, Py_ssize_t q1, Step* steps, Hyper* h) noexcept nogil:
    """Steps ``steps[q0:q1]`` of coefficient column ``j`` with a zero loss gradient
    (the arithmetic of :func:`_dense_step` for an untouched coordinate)."""
    cdef Py_ssize_t k, q
    for k in range(W.shape[0]):
        for q in range(q0, q1):
            if h.optimizer == OPT_ADAM:
                _adam_step(&W[k, j], NULL, &state[0, k, j], &state[1, k, j], 1, h, &steps[q],
                           False, True)
            else:
                _update(W, state, k, j, 0.0, h, &steps[q], h.l2, steps[q].shrink,
                        steps[q].thr)


cdef void _idle_pass(floating[:, ::1] W, floating[:, :, ::1] state, Py_ssize_t nq,
                     Step* steps, Hyper* h) noexcept nogil:
    """Steps ``steps[0:nq]`` of every coefficient with a zero loss gradient, block by
    block: a block of ``WINDOW_BLOCK`` coordinates is read from memory once, goes
    through the ``nq`` vectorized Adam passes in L1 and is written once."""
    cdef Py_ssize_t k, q, lo, n, j, p = W.shape[1] - 1
    for k in range(W.shape[0]):
        if h.optimizer != OPT_ADAM:
            for j in range(p):
                for q in range(nq):
                    _update(W, state, k, j, 0.0, h, &steps[q], h.l2, steps[q].shrink,
                            steps[q].thr)
            continue
        lo = 0
        while lo < p:
            n = p - lo if p - lo < WINDOW_BLOCK else WINDOW_BLOCK
            for q in range(nq):
                _adam_step(&W[k, lo], NULL, &state[0, k, lo], &state[1, k, lo], n, h,
                           &steps[q], False, True)
            lo += n


cdef void _flush_window(floating[:, ::1] W, floating[:, :, ::1] state,
                        const Py_ssize_t[::1] win_list, Py_ssize_t n_win,
                        floating[:, ::1] win_save, const long long[::1] mark, long long t0,
                        Py_ssize_t nq, Step* steps, Hyper* h) noexcept nogil:
    """End of a window of ``nq`` steps after step ``t0``: every coefficient is brought
    to step ``t0 + nq``. The coordinates touched in the window (``win_list``, at
    their step ``mark[j]``) take their remaining zero-gradient steps one by one and
    are set aside in ``win_save``; :func:`_idle_pass` then takes all ``nq`` steps for
    every coordinate (those of the touched ones are wasted) and the touched ones
    are put back."""
    cdef Py_ssize_t a, j, k, c, K = W.shape[0], S = state.shape[0]
    for a in range(n_win):
        j = win_list[a]
        _idle_steps(W, state, j, <Py_ssize_t> (mark[j] - t0), nq, steps, h)
        for k in range(K):
            win_save[a, k] = W[k, j]
            for c in range(S):
                win_save[a, K * (c + 1) + k] = state[c, k, j]
    _idle_pass(W, state, nq, steps, h)
    for a in range(n_win):
        j = win_list[a]
        for k in range(K):
            W[k, j] = win_save[a, k]
            for c in range(S):
                state[c, k, j] = win_save[a, K * (c + 1) + k]


cdef inline void _prefetch_batch_row(const floating[::1] data, const int[::1] indices,
                                     const int[::1] indptr, const Py_ssize_t[::1] order,
                                     Py_ssize_t ii, Py_ssize_t n, floating[:, ::1] W,
                                     floating[:, ::1] G, const long long[::1] mark,
                                     bint with_mark, floating[:, :, ::1] state,
                                     Py_ssize_t n_slots) noexcept nogil:
    """Cache hints for batched steps (no effect on the results): the coefficients,
    gradient entries (and ``mark`` entries, the first ``n_slots`` slots of the
    optimizer state) of the next row ``order[ii + 1]``, and the stored entries of
    the one after. The rows are random: without them the scattered reads of a
    batch wait for their cache misses one after the other."""
    cdef Py_ssize_t jj, i, j, k, c
    if ii + 2 < n:
        i = order[ii + 2]
        if indptr[i + 1] > indptr[i]:
            for jj in range(indptr[i], indptr[i + 1], 16):
                fastreg_prefetch(&indices[jj])
            fastreg_prefetch(&indices[indptr[i + 1] - 1])
            for jj in range(indptr[i], indptr[i + 1], 8):
                fastreg_prefetch(&data[jj])
            fastreg_prefetch(&data[indptr[i + 1] - 1])
    if ii + 1 < n:
        i = order[ii + 1]
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            for k in range(W.shape[0]):
                fastreg_prefetch(&W[k, j])
                fastreg_prefetch(&G[k, j])
                for c in range(n_slots):
                    fastreg_prefetch(&state[c, k, j])
            if with_mark:
                fastreg_prefetch(&mark[j])


cdef enum:
    # Look-ahead (in rows) of the cache hints of _lazy_run1: a row's ``indptr``, ``y``
    # and ``sample_weight`` entries, then its stored entries, then its coefficients.
    # Measured (one thread, loaded machine): a9a, log_loss, 'optimal': 3.0-3.2 ms of
    # kernel per epoch for any look-ahead from (8, 4) to (32, 16) rows; a whole epoch of
    # fit 4.1-5.0 ms CPU against 12-16 ms with hints for the next two rows only (the
    # former loop). 1e6 features x 50 nnz per row (20000 rows, squared error): 13.2 ms
    # of kernel per epoch at (24, 12, 6), 14.0 ms at (12, 6, 2).
    AHEAD_PTR = 24
    AHEAD_ROW = 12
    AHEAD_COEF = 6
    # _lazy_run1 hints the coefficients only from this many features on (a smaller
    # ``W`` stays in cache)
    COEF_HINT_MIN = 8192


cdef Py_ssize_t _lazy_run1(const floating[::1] data, const int[::1] indices,
                           const int[::1] indptr, const floating[::1] y,
                           const floating[::1] sample_weight, const Py_ssize_t[::1] order,
                           floating[:, ::1] W, floating[:, :, ::1] state, double[::1] snap_a,
                           Py_ssize_t start, Hyper* h, double* t_io, double* u_io,
                           double* P_io, double* A_io, double* sum_loss, double* sum_weight,
                           bint prox, floating* q_row, int* status) noexcept nogil:
    """A run of lazy one-row plain-SGD steps (one output) from row ``start`` of ``order``.

    The same arithmetic, in the same order, as the one-row lazy steps of
    :func:`epoch_csr` (schedule, weight scale ``P``, L1 record ``A``,
    :func:`_lazy_row1`, the intercept, the renormalization below ``P_FLOOR``);
    only the loop differs: the rows are random, so each step waits on cache misses
    (its ``indptr`` and ``y`` entries, its stored entries, its coefficients) unless
    they were requested earlier. Step ``ii`` hints the ``indptr`` / ``y`` /
    ``sample_weight`` entries of row ``ii + AHEAD_PTR``, the stored entries of row
    ``ii + AHEAD_ROW`` (whose ``indptr`` entries have arrived by then) and, on many
    features, the coefficients of row ``ii + AHEAD_COEF``.

    Stops before the first step that :func:`epoch_csr` takes densely
    (``c_t = 1 - lr_t (l2 + weight_decay) <= 0``), at the end of ``order``, or after
    a non-finite score (``*status = 1``). Returns the next row position; ``t``,
    ``u``, ``P``, ``A`` are read from and written back to the pointers.
    """
    cdef Py_ssize_t ii, i, jj, lo, hi, n = order.shape[0], p = W.shape[1] - 1
    cdef double t = t_io[0], u = u_io[0], P = P_io[0], A = A_io[0]
    cdef double cdecay, P_new, A_new, step_v, u_prev
    cdef floating gi
    cdef Step s
    cdef bint hint_coef = p >= COEF_HINT_MIN
    ii = start
    while ii < n:
        u_prev = u
        _make_step(h, t + 1.0, &s, &u)
        cdecay = s.shrink - s.lr * h.l2
        if not cdecay > 0.0:
            u = u_prev                         # a dense step: epoch_csr's general loop
            break
        if ii + AHEAD_PTR < n:
            i = order[ii + AHEAD_PTR]
            fastreg_prefetch(&indptr[i])
            fastreg_prefetch(&indptr[i + 1])
            fastreg_prefetch(&y[i])
            fastreg_prefetch(&sample_weight[i])
        if ii + AHEAD_ROW < n:
            i = order[ii + AHEAD_ROW]
            lo = indptr[i]
            hi = indptr[i + 1]
            if hi > lo:
                for jj in range(lo, hi, 16):
                    fastreg_prefetch(&indices[jj])
                fastreg_prefetch(&indices[hi - 1])
                for jj in range(lo, hi, 8):
                    fastreg_prefetch(&data[jj])
                fastreg_prefetch(&data[hi - 1])
        if hint_coef and ii + AHEAD_COEF < n:
            i = order[ii + AHEAD_COEF]
            for jj in range(indptr[i], indptr[i + 1]):
                fastreg_prefetch(&W[0, indices[jj]])
        t += 1.0
        P_new = P * cdecay
        A_new = A + s.thr / P_new
        step_v = s.lr / P_new
        i = order[ii]
        gi = 0
        status[0] = _lazy_row1(data, indices, indptr[i], indptr[i + 1], W, snap_a, y[i],
                               sample_weight[i], P, A, A_new, step_v, A_new - A, prox, h,
                               sum_loss, sum_weight, &gi, P_new, u, q_row)
        if status[0]:
            break
        if h.fit_intercept:
            _update(W, state, 0, p, gi, h, &s, 0.0, 1.0, 0.0)
        P = P_new
        A = A_new
        if P < P_FLOOR:
            _finalize(W, snap_a, &P, &A, prox)
        ii += 1
    t_io[0] = t
    u_io[0] = u
    P_io[0] = P
    A_io[0] = A
    return ii


def epoch_csr(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
              const floating[::1] y, const floating[::1] sample_weight,
              const Py_ssize_t[::1] order, floating[:, ::1] W, floating[:, :, ::1] state,
              floating[:, ::1] grad_buf, double[::1] work, long long[::1] mark,
              Py_ssize_t[::1] touched, double[::1] snap_a, double[::1] counters, dict hyper,
              bint lazy, Py_ssize_t window=1, floating[:, ::1] win_save=None,
              Py_ssize_t[::1] win_list=None):
    """One epoch over the CSR rows ``X[order]`` (``data, indices, indptr``); as :func:`epoch_dense`.

    Explicitly stored zeros are skipped (they touch nothing), so that the
    result equals :func:`epoch_dense` on ``X.toarray()`` to rounding. Rows must
    have unique column indices (canonical CSR, as ``fastreg._validation`` makes them).

    Lazy updates (``lazy=True``: plain SGD without averaging; see the module
    docstring for the maths). During the epoch the coefficient columns of ``W``
    hold ``V`` with ``w = P * S(V_j, A - snap_a[j])`` (Bottou's scale ``P``;
    the soft threshold accumulated since coordinate ``j`` was last touched, only
    with the L1 prox); a batch costs O(nnz of its rows). A step with
    ``c_t = 1 - lr_t (l2 + weight_decay) <= 0`` is applied densely, and
    ``P < 1e-9`` triggers a renormalization (O(n_features)); ``W`` holds the
    true coefficients again on return.

    Deferred dense steps (``window > 1``: momentum, Nesterov, Adam, AMSGrad
    without averaging, ``lazy=False``). Every coordinate is updated at every
    step, but a pass over all ``n_features`` coordinates per step is bound by
    memory (a read and a write of ``w`` and the optimizer state). A coordinate
    that no row of the batch touches has a zero loss gradient, and its update
    depends only on its own ``w`` and state (the coupled L2 term ``l2 w``, the
    decoupled shrink and the L1 prox included) and on the step's scalars. So
    the idle steps are *deferred*: within a window of up to ``window``
    consecutive steps ``t0 + 1 .. t0 + nq``, ``mark[j]`` holds the step a
    coordinate is at (``<= t0``: at ``t0``). When a row touches ``j`` at step
    ``s``, ``j`` first takes its pending zero-gradient steps up to ``s - 1``,
    one by one with that step's scalars; after the batch each touched
    coordinate takes step ``s`` with its gradient. At the end of the window
    (and of the call) the touched coordinates take their remaining steps and
    are set aside in ``win_save``, every coordinate then takes the ``nq``
    zero-gradient steps block by block (one read and write of ``w`` and the
    state per window instead of per step), and the set-aside values are put
    back. Each coordinate thus goes through exactly the operations of the
    dense pass, in the same order, with the same scalars (bit for bit, up to
    the C compiler's choice of fused multiply-adds): nothing is approximated.
    ``win_list`` (at least as long as ``win_save``) lists the coordinates
    touched in the window; a window ends early when the next batch could
    overflow it (``win_save`` must hold at least a batch's nnz).

    Extra parameters
    ----------------
    touched : intp ndarray of length n_features (scratch)
    snap_a : float64 ndarray of length n_features (scratch for the lazy updates)
    lazy : bool
    window : int in [1, 64], default 1
        Most steps deferred per window (1: a dense pass per step).
    win_save : ndarray of shape (cap, n_outputs * (1 + n_slots)), like ``W``
        (scratch, with ``window > 1``)
    win_list : intp ndarray of length >= cap (scratch, with ``window > 1``)
    """
    cdef Hyper h = _read_hyper(hyper)
    cdef Step s
    cdef Py_ssize_t n = order.shape[0], K = W.shape[0], p = W.shape[1] - 1
    cdef Py_ssize_t start, end, ii, i, k, j, jj, nb, n_touched
    cdef double t = counters[0], u = counters[1], n_avg = counters[2]
    cdef double sum_loss = 0.0, sum_weight = 0.0, lv, sw, c, x, w, v
    cdef double P = 1.0, A = 0.0, P_new, A_new, cdecay, step_v, thr_v
    cdef long long stamp, t0 = 0
    cdef int status = 0
    cdef bint lazy_now, direct
    cdef bint win = window > 1
    cdef bint track       # list the touched coordinates (see below)
    cdef Step steps[MAX_WINDOW]
    cdef Py_ssize_t q_win = 0, n_win = 0, cap = 0, bnnz
    cdef bint prox = h.l1 > 0.0 and not h.cumulative
    cdef bint fast = K == 1 and h.mode == MODE_SINGLE     # one output: _lazy_row1
    cdef bint run1 = fast and lazy and h.batch_size == 1  # runs of such steps: _lazy_run1
    cdef floating* q_row = NULL
    cdef double* scores = &work[0]
    cdef double* dl = &work[K]
    if y.shape[0] != sample_weight.shape[0] or indptr.shape[0] != y.shape[0] + 1:
        raise ValueError("indptr, y and sample_weight do not match")
    if grad_buf.shape[0] != K or grad_buf.shape[1] != p + 1 or work.shape[0] < 2 * K:
        raise ValueError("grad_buf or work has a wrong shape")
    if mark.shape[0] < p or touched.shape[0] < p or snap_a.shape[0] != p:
        raise ValueError("mark, touched or snap_a has a wrong shape")
    if state.shape[1] != K or state.shape[2] != p + 1:
        raise ValueError("state has a wrong shape")
    if lazy and (h.optimizer != OPT_SGD or h.avg_slot >= 0):
        raise ValueError("lazy updates need optimizer='sgd' without averaging")
    if win:
        if (lazy or h.avg_slot >= 0 or h.cumulative or h.optimizer == OPT_SGD
                or window > MAX_WINDOW):
            raise ValueError("window > 1 needs lazy=False, an optimizer other than 'sgd', "
                             "no averaging and window <= 64")
        if (win_save is None or win_list is None or win_list.shape[0] < win_save.shape[0]
                or win_save.shape[1] != K * (1 + state.shape[0])):
            raise ValueError("win_save / win_list missing or of a wrong shape")
        cap = win_save.shape[0]
    if h.cumulative:
        q_row = &state[h.q_slot, 0, 0]
    # The touched coordinates of a batch (``mark``, ``touched``: a scattered read and
    # write per stored entry) are needed by the lazy steps, the windows, the cumulative
    # L1, and by Adam's dense pass to zero G where it is not zero; with more than
    # ~1/TRACK_RATIO stored entries per batch and coefficient, Adam's pass zeroes all of
    # G instead (a sequential write, cheaper than that many cache misses).
    track = (lazy or win or h.cumulative or (h.optimizer == OPT_ADAM and TRACK_RATIO
             * (<double> (indptr[y.shape[0]] - indptr[0])) / max(y.shape[0], 1)
             * h.batch_size < p))
    cdef unsigned int ftz = fastreg_ftz_enter()
    with nogil:
        if lazy and prox:      # (snap_a is only used by the lazy L1 prox)
            for j in range(p):
                snap_a[j] = 0.0
        if win:                # every coordinate at step t0
            t0 = <long long> t
            for j in range(p):
                mark[j] = t0
        start = 0
        while start < n and status == 0:
            if run1:
                start = _lazy_run1(data, indices, indptr, y, sample_weight, order, W, state,
                                   snap_a, start, &h, &t, &u, &P, &A, &sum_loss, &sum_weight,
                                   prox, q_row, &status)
                if status or start >= n:
                    break
            end = start + h.batch_size
            if end > n:
                end = n
            nb = end - start
            if win:
                bnnz = 0
                for ii in range(start, end):
                    bnnz += indptr[order[ii] + 1] - indptr[order[ii]]
                if n_win + bnnz > cap and q_win > 0:
                    _flush_window(W, state, win_list, n_win, win_save, mark, t0, q_win,
                                  steps, &h)
                    t0 += q_win
                    q_win = 0
                    n_win = 0
                if bnnz > cap:
                    status = 2
                    break
            t += 1.0
            stamp = <long long> t
            _make_step(&h, t, &s, &u)
            if win:
                steps[q_win] = s
            cdecay = s.shrink - s.lr * h.l2
            lazy_now = lazy and cdecay > 0.0
            if lazy and not lazy_now and (P != 1.0 or A != 0.0):
                _finalize(W, snap_a, &P, &A, prox)      # this step is taken densely
            P_new = P * cdecay
            A_new = A + s.thr / P_new if lazy_now else A
            step_v = s.lr / P_new
            thr_v = A_new - A
            direct = lazy_now and nb == 1   # one row: update V from it, no gradient buffer
            n_touched = 0
            for ii in range(start, end):
                i = order[ii]
                if fast and direct:
                    _prefetch_rows(data, indices, indptr, order, ii, n, W)
                    status = _lazy_row1(data, indices, indptr[i], indptr[i + 1], W, snap_a,
                                        y[i], sample_weight[i], P, A, A_new, step_v, thr_v,
                                        prox, &h, &sum_loss, &sum_weight, &grad_buf[0, p],
                                        P_new, u, q_row)
                    if status:
                        break
                    continue
                _prefetch_batch_row(data, indices, indptr, order, ii, n, W, grad_buf, mark,
                                    track and not direct, state,
                                    state.shape[0] if win else 0)
                for k in range(K):
                    scores[k] = 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    x = data[jj]
                    if x == 0:
                        continue
                    j = indices[jj]
                    if track and not direct and mark[j] != stamp:
                        if win:        # pending zero-gradient steps up to step t - 1
                            if mark[j] <= t0:
                                win_list[n_win] = j
                                n_win += 1
                                _idle_steps(W, state, j, 0, q_win, steps, &h)
                            else:
                                _idle_steps(W, state, j, <Py_ssize_t> (mark[j] - t0),
                                            q_win, steps, &h)
                        mark[j] = stamp
                        touched[n_touched] = j
                        n_touched += 1
                    if lazy_now and prox and snap_a[j] != A:
                        for k in range(K):
                            W[k, j] = <floating> prox_l1(W[k, j], A - snap_a[j])
                        snap_a[j] = A
                    for k in range(K):
                        scores[k] += x * W[k, j]
                sw = sample_weight[i]
                status = _row_loss(&h, W, scores, P if lazy_now else 1.0, y[i], sw, dl,
                                   &sum_loss, &sum_weight)
                if status:
                    break
                for k in range(K):
                    c = sw * dl[k] / nb
                    grad_buf[k, p] += <floating> c
                    if c == 0.0 and not direct:   # (direct: the L1 terms still apply)
                        continue
                    for jj in range(indptr[i], indptr[i + 1]):
                        x = data[jj]
                        if x == 0:
                            continue
                        j = indices[jj]
                        if not direct:
                            grad_buf[k, j] += <floating> (c * x)
                            continue
                        v = W[k, j] - step_v * (c * x)
                        if prox:
                            v = prox_l1(v, thr_v)
                            snap_a[j] = A_new
                        elif h.cumulative:
                            w = cumulative_l1(P_new * v, u, &state[h.q_slot, k, j])
                            v = w / P_new
                        W[k, j] = <floating> v
            if status:
                for k in range(K):
                    for j in range(p + 1):
                        grad_buf[k, j] = 0
                break
            if win:
                for jj in range(n_touched):
                    j = touched[jj]
                    for k in range(K):
                        _coord_step(W, state, grad_buf, k, j, &h, &s)
                for k in range(K):
                    if h.fit_intercept:
                        _update(W, state, k, p, grad_buf[k, p], &h, &s, 0.0, 1.0, 0.0)
                    grad_buf[k, p] = 0
                q_win += 1
                if q_win == window or end == n:
                    _flush_window(W, state, win_list, n_win, win_save, mark, t0, q_win,
                                  steps, &h)
                    t0 += q_win
                    q_win = 0
                    n_win = 0
                start = end
                continue
            if not lazy_now:
                if h.optimizer == OPT_ADAM and track:
                    # the dense pass reads G without writing it; only the touched
                    # coordinates can be non-zero: zero those
                    _dense_step(W, state, grad_buf, mark, stamp, u, &h, &s, False)
                    for jj in range(n_touched):
                        j = touched[jj]
                        for k in range(K):
                            grad_buf[k, j] = 0
                else:
                    _dense_step(W, state, grad_buf, mark, stamp, u, &h, &s)
                _average(W, state, t, &h, &n_avg)
                start = end
                continue
            for jj in range(n_touched):          # batches of several rows
                j = touched[jj]
                for k in range(K):
                    v = W[k, j] - step_v * grad_buf[k, j]
                    if prox:
                        v = prox_l1(v, thr_v)
                    elif h.cumulative:
                        w = cumulative_l1(P_new * v, u, &state[h.q_slot, k, j])
                        v = w / P_new
                    W[k, j] = <floating> v
                    grad_buf[k, j] = 0
                if prox:
                    snap_a[j] = A_new
            for k in range(K):
                if h.fit_intercept:
                    _update(W, state, k, p, grad_buf[k, p], &h, &s, 0.0, 1.0, 0.0)
                grad_buf[k, p] = 0
            P = P_new
            A = A_new
            if P < P_FLOOR:
                _finalize(W, snap_a, &P, &A, prox)
            start = end
        if lazy:
            _finalize(W, snap_a, &P, &A, prox)
    fastreg_ftz_leave(ftz)
    if status == 2:
        raise ValueError("a batch has more stored entries than win_save has rows")
    counters[0] = t
    counters[1] = u
    counters[2] = n_avg
    return sum_loss, sum_weight, status


cdef inline bint _can_freeze(floating[:, ::1] W, floating[:, :, ::1] state, Py_ssize_t j,
                             Hyper* h, double drift, double zero_c, double ftol) noexcept nogil:
    """Whether coordinate ``j`` (all outputs), not touched from the next step on, would
    move only by the decoupled shrink (to rounding): then it can be frozen.

    Without L1 prox: the remaining drift of the dense updates is bounded by
    ``drift * |m| * f`` (see :func:`epoch_csr_active`), which must be
    ``<= ftol * |w|``. With the L1 prox: ``w == 0`` and ``zero_c * |m| <=
    l1_lim``, which keeps ``w`` exactly 0 at every later step.
    """
    cdef Py_ssize_t k
    cdef double w, m, f, fv, r, vv
    cdef bint adam = h.optimizer == OPT_ADAM or h.optimizer == OPT_AMSGRAD
    for k in range(W.shape[0]):
        w = W[k, j]
        m = fabs(state[0, k, j])
        if h.l1 > 0.0:
            if w != 0.0:
                return False
            if adam:
                if not zero_c * m <= h.l1 * (1.0 - 1e3 * ftol):
                    return False
            elif not zero_c * m <= h.l1 / (1.0 - h.momentum) * (1.0 - 1e3 * ftol):
                return False
            continue
        if m == 0.0:
            continue
        if adam:
            # sum_k b1^k / max(eps, sqrt(v) beta^k), beta = sqrt(b2) (v_max: beta = 1)
            f = h.beta1 / ((1.0 - h.beta1) * h.eps)
            if h.optimizer == OPT_AMSGRAD:
                vv = sqrt(state[2, k, j])
                r = h.beta1
            else:
                vv = sqrt(state[1, k, j])
                r = h.beta1 / sqrt(h.beta2)
            if r < 1.0 and vv > 0.0:
                fv = r / ((1.0 - r) * vv)
                if fv < f:
                    f = fv
        else:
            f = 1.0
        if not drift * m * f <= ftol * fabs(w):
            return False
    return True


cdef inline void _wake(floating[:, ::1] W, floating[:, :, ::1] state, Py_ssize_t j,
                       double idle, double P, Hyper* h) noexcept nogil:
    """Bring a frozen coordinate to its dense value: ``w = P V``, and the moments
    decayed over ``idle`` zero-gradient steps (``m b1^idle``, ``v b2^idle``;
    ``v_max`` unchanged; momentum buffer ``b mu^idle``)."""
    cdef Py_ssize_t k
    cdef double dm = 1.0, dv = 1.0
    cdef bint adam = h.optimizer == OPT_ADAM or h.optimizer == OPT_AMSGRAD
    if idle > 0.0:
        dm = pow(h.beta1, idle) if adam else pow(h.momentum, idle)
        dv = pow(h.beta2, idle)
    for k in range(W.shape[0]):
        W[k, j] = <floating> (P * W[k, j])
        if dm != 1.0:
            state[0, k, j] = <floating> (dm * state[0, k, j])
        if adam and dv != 1.0:
            state[1, k, j] = <floating> (dv * state[1, k, j])


def epoch_csr_active(const floating[::1] data, const int[::1] indices,
                     const int[::1] indptr, const floating[::1] y,
                     const floating[::1] sample_weight, const Py_ssize_t[::1] order,
                     floating[:, ::1] W, floating[:, :, ::1] state, floating[:, ::1] grad_buf,
                     double[::1] work, Py_ssize_t[::1] active, double[::1] frozen_at,
                     double[::1] counters, dict hyper, double lr_bound):
    """Exact lazy epoch over CSR rows for momentum / Nesterov / Adam / AMSGrad (AdamW).

    Same result as :func:`epoch_csr` (dense updates of every coordinate) up to
    rounding and a truncation below ``2^-52 |w|`` (float64; ``2^-24`` float32)
    per coordinate, when there is no coupled L2 (``l2 = 0``), no averaging and
    no cumulative L1; decoupled weight decay and the L1 prox are allowed.

    The maths. A coordinate with zero loss gradient from step ``a`` on, and
    ``l2 = 0``, has decaying moments: ``m_s = b1^(s-a) m_a``, ``v_s = b2^(s-a)
    v_a`` (momentum: ``b_s = mu^(s-a) b_a``), and its dense update is
    ``w_s = S(c_s w_{s-1} - step_s d_s, thr_s)`` with ``c_s = 1 - lr_s wd`` and
    the drift ``step_s d_s``: ``lr_s b_s`` (heavy ball), ``lr_s mu b_s``
    (Nesterov), ``lr_s / (1 - b1^s) m_s / (sqrt(v_s / (1 - b2^s)) + eps)``
    (Adam; ``v_max`` for AMSGrad, constant since ``v`` decays). The shrink
    composes in closed form (``w_t = P_t / P_a w_a``, Bottou's scale ``P``),
    the drift does not (for Adam ``sum_k b1^k / (x beta^k + eps)`` with ``x =
    sqrt(v_a)`` has no closed form because of ``eps``), but it decays
    geometrically: with ``lr_s <= lr_bound``, the whole future drift is at most
    ``lr_bound / (1 - b1^(a+1)) |m_a| min(b1 / ((1 - b1) eps), r / ((1 - r)
    sqrt(v_a)))`` with ``r = b1 / sqrt(b2) < 1`` (Adam; ``r = b1`` and
    ``sqrt(v_max)`` for AMSGrad), ``lr_bound |b_a| mu / (1 - mu)`` (heavy
    ball, one more factor ``mu`` for Nesterov). So the kernel keeps an *active
    set*: every touched coordinate, updated densely at every step (exactly the
    dense arithmetic), until its drift bound falls below ``2^-52 |w|``; it is
    then *frozen* (stored as ``V = w / P``) and costs nothing until a row
    touches it again, when ``w = P V`` and the moments are decayed in closed
    form (``m b1^idle``, ``v b2^idle``). With the L1 prox a coordinate is
    frozen only at ``w = 0`` once the prox provably keeps it there: at
    ``w = 0`` the dense step gives 0 iff ``step_s |d_s| <= thr_s``, i.e. ``|m_s|
    / (1 - b1^s) <= l1`` (Adam, threshold ``lr l1 / denom``) or ``|b_s| <=
    l1 / (1 - mu)`` (heavy ball; ``mu |b_s|`` Nesterov), a non-increasing
    quantity for ``s > a``. A batch costs O(its nnz + active set): the
    active set is about (nnz per batch) x (steps for the moments to decay,
    ~300 for Adam's defaults), so the saving is large for small batches on
    many features and vanishes when every feature is touched every ~300 steps.
    With coupled L2 (``l2 > 0``) the gradient ``l2 w`` of an idle coordinate is
    not zero and nothing is lazy (use :func:`epoch_csr`).

    Parameters
    ----------
    As :func:`epoch_csr`, plus
    active : intp ndarray of length n_features (scratch)
    frozen_at : float64 ndarray of length n_features (scratch: the step at
        which a coordinate was frozen, -1 when active)
    lr_bound : float
        An upper bound of the learning rate of every later step.

    On return ``W`` and ``state`` hold the dense values at the last step.
    """
    cdef Hyper h = _read_hyper(hyper)
    cdef Step s
    cdef Py_ssize_t n = order.shape[0], K = W.shape[0], p = W.shape[1] - 1
    cdef Py_ssize_t start, end, ii, i, k, j, jj, nb, a, n_active = 0
    cdef double t = counters[0], u = counters[1], n_avg = counters[2]
    cdef double sum_loss = 0.0, sum_weight = 0.0, lv, sw, c, x
    cdef double P = 1.0, P_new, drift, zero_c, bc_next
    cdef double ftol = 2.0 ** -52 if floating is double else 2.0 ** -24
    cdef bint adam = h.optimizer == OPT_ADAM or h.optimizer == OPT_AMSGRAD, check
    cdef int status = 0
    cdef double* scores = &work[0]
    cdef double* dl = &work[K]
    if y.shape[0] != sample_weight.shape[0] or indptr.shape[0] != y.shape[0] + 1:
        raise ValueError("indptr, y and sample_weight do not match")
    if grad_buf.shape[0] != K or grad_buf.shape[1] != p + 1 or work.shape[0] < 2 * K:
        raise ValueError("grad_buf or work has a wrong shape")
    if active.shape[0] < p or frozen_at.shape[0] < p:
        raise ValueError("active or frozen_at has a wrong shape")
    if state.shape[1] != K or state.shape[2] != p + 1 or state.shape[0] < 1:
        raise ValueError("state has a wrong shape")
    if (h.optimizer == OPT_SGD or h.l2 != 0.0 or h.avg_slot >= 0 or h.cumulative
            or not lr_bound * h.weight_decay < 1.0):
        raise ValueError("epoch_csr_active needs momentum, nesterov, adam or amsgrad without "
                         "coupled L2, averaging or cumulative L1, and lr_bound * "
                         "weight_decay < 1")
    cdef unsigned int ftz = fastreg_ftz_enter()
    with nogil:
        # coefficients of the freeze test for the step after t (see _can_freeze)
        if adam:
            bc_next = 1.0 - pow(h.beta1, t + 1.0)
            drift = lr_bound / bc_next
            zero_c = h.beta1 / bc_next
        else:
            drift = lr_bound * h.momentum / (1.0 - h.momentum)
            zero_c = h.momentum
            if h.optimizer == OPT_NESTEROV:
                drift = drift * h.momentum
                zero_c = zero_c * h.momentum
        for j in range(p):
            if _can_freeze(W, state, j, &h, drift, zero_c, ftol):
                frozen_at[j] = t
            else:
                frozen_at[j] = -1.0
                active[n_active] = j
                n_active += 1
        start = 0
        while start < n and status == 0:
            end = start + h.batch_size
            if end > n:
                end = n
            nb = end - start
            t += 1.0
            _make_step(&h, t, &s, &u)
            for ii in range(start, end):
                i = order[ii]
                for k in range(K):
                    scores[k] = 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    x = data[jj]
                    if x == 0:
                        continue
                    j = indices[jj]
                    if frozen_at[j] >= 0.0:
                        _wake(W, state, j, t - 1.0 - frozen_at[j], P, &h)
                        frozen_at[j] = -1.0
                        active[n_active] = j
                        n_active += 1
                    for k in range(K):
                        scores[k] += x * W[k, j]
                sw = sample_weight[i]
                status = _row_loss(&h, W, scores, 1.0, y[i], sw, dl, &sum_loss, &sum_weight)
                if status:
                    break
                for k in range(K):
                    c = sw * dl[k] / nb
                    grad_buf[k, p] += <floating> c
                    if c == 0.0:
                        continue
                    for jj in range(indptr[i], indptr[i + 1]):
                        grad_buf[k, indices[jj]] += <floating> (c * data[jj])
            if status:
                for k in range(K):
                    for j in range(p + 1):
                        grad_buf[k, j] = 0
                break
            P_new = P * s.shrink
            if adam:
                bc_next = 1.0 - pow(h.beta1, t + 1.0)
                drift = lr_bound / bc_next
                zero_c = h.beta1 / bc_next
            # the freeze test (sqrt, divisions) every FREEZE_EVERY steps: freezing later is
            # still exact, and the test costs more than an update
            check = (<long long> t) % FREEZE_EVERY == 0
            a = 0
            while a < n_active:
                j = active[a]
                for k in range(K):
                    _update(W, state, k, j, grad_buf[k, j], &h, &s, 0.0, s.shrink, s.thr)
                    grad_buf[k, j] = 0
                if check and _can_freeze(W, state, j, &h, drift, zero_c, ftol):
                    for k in range(K):
                        W[k, j] = <floating> (W[k, j] / P_new)
                    frozen_at[j] = t
                    n_active -= 1
                    active[a] = active[n_active]
                else:
                    a += 1
            for k in range(K):
                if h.fit_intercept:
                    _update(W, state, k, p, grad_buf[k, p], &h, &s, 0.0, 1.0, 0.0)
                grad_buf[k, p] = 0
            P = P_new
            if P < P_FLOOR:
                for j in range(p):
                    if frozen_at[j] >= 0.0:
                        for k in range(K):
                            W[k, j] = <floating> (P * W[k, j])
                P = 1.0
            start = end
        for j in range(p):
            if frozen_at[j] >= 0.0:
                _wake(W, state, j, t - frozen_at[j], P, &h)
    fastreg_ftz_leave(ftz)
    counters[0] = t
    counters[1] = u
    counters[2] = n_avg
    return sum_loss, sum_weight, status


def py_dloss(str loss, double y, double p, double epsilon=0.1):
    """``(dL/dp, L)`` of one sample (for tests and for the 'optimal' schedule's t0)."""
    cdef double lv
    cdef double d = dloss(LOSSES[loss], y, p, epsilon, &lv)
    return d, lv


def py_softmax_dloss(double[::1] scores, Py_ssize_t label):
    """``(dL/dscores, L)`` of the multinomial loss (for tests)."""
    import numpy as np
    out = np.empty(scores.shape[0])
    cdef double[::1] o = out
    if not 0 <= label < scores.shape[0]:
        raise ValueError("label out of range")
    lv = softmax_dloss(&scores[0], scores.shape[0], label, &o[0])
    return out, lv
