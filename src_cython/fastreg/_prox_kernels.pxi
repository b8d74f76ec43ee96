# Kernel code of fastreg._prox and fastreg._prox_avx2 (included by both; see _prox.pyx).
# Proximal operators on vectors: one pass over memory, float32 or float64.
# ``prange`` is cimported by the including .pyx (setup.py adds the OpenMP flags to
# modules whose .pyx uses it).
from cython cimport floating
from libc.float cimport DBL_MAX, DBL_MIN, FLT_MAX, FLT_MIN
from libc.math cimport fabs, sqrt

#: Below this many coordinates the kernels never start threads.
PARALLEL_MIN_SIZE = 1 << 18
cdef Py_ssize_t _PAR_MIN = PARALLEL_MIN_SIZE

cdef extern from *:
    """
    /* Non-temporal (streaming) stores for out-of-place soft-thresholding and
       scaling by a scalar. 256-bit vectors when the including module is compiled
       for AVX (the _prox_avx2 build), else 128-bit SSE2 (x86-64 baseline); no
       streaming elsewhere. Same arithmetic as the plain loops (_st, _st_pos, x * r). */
    #if defined(__AVX__)
    #include <immintrin.h>
    #define FASTREG_CAN_STREAM 1
    #define FR_BYTES 32
    typedef __m256d fr_vd;
    typedef __m256 fr_vf;
    #define fr_set1_pd _mm256_set1_pd
    #define fr_set1_ps _mm256_set1_ps
    #define fr_zero_pd _mm256_setzero_pd
    #define fr_zero_ps _mm256_setzero_ps
    #define fr_loadu_pd _mm256_loadu_pd
    #define fr_loadu_ps _mm256_loadu_ps
    #define fr_stream_pd _mm256_stream_pd
    #define fr_stream_ps _mm256_stream_ps
    #define fr_max_pd _mm256_max_pd
    #define fr_max_ps _mm256_max_ps
    #define fr_min_pd _mm256_min_pd
    #define fr_min_ps _mm256_min_ps
    #define fr_sub_pd _mm256_sub_pd
    #define fr_sub_ps _mm256_sub_ps
    #define fr_mul_pd _mm256_mul_pd
    #define fr_mul_ps _mm256_mul_ps
    #elif defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #define FASTREG_CAN_STREAM 1
    #define FR_BYTES 16
    typedef __m128d fr_vd;
    typedef __m128 fr_vf;
    #define fr_set1_pd _mm_set1_pd
    #define fr_set1_ps _mm_set1_ps
    #define fr_zero_pd _mm_setzero_pd
    #define fr_zero_ps _mm_setzero_ps
    #define fr_loadu_pd _mm_loadu_pd
    #define fr_loadu_ps _mm_loadu_ps
    #define fr_stream_pd _mm_stream_pd
    #define fr_stream_ps _mm_stream_ps
    #define fr_max_pd _mm_max_pd
    #define fr_max_ps _mm_max_ps
    #define fr_min_pd _mm_min_pd
    #define fr_min_ps _mm_min_ps
    #define fr_sub_pd _mm_sub_pd
    #define fr_sub_ps _mm_sub_ps
    #define fr_mul_pd _mm_mul_pd
    #define fr_mul_ps _mm_mul_ps
    #else
    #define FASTREG_CAN_STREAM 0
    #endif

    #if FASTREG_CAN_STREAM
    /* Scalar forms, for the unaligned head and the tail. max(a, b) as (a > b ? a : b)
       is what maxpd computes (b when either is NaN): a NaN v propagates. */
    static double fastreg_st1_d(double v, double t, int positive) {
        double c;
        if (positive) { c = v - t; return 0.0 > c ? 0.0 : c; }
        c = -t > v ? -t : v;
        c = t < c ? t : c;
        return v - c;
    }
    static float fastreg_st1_f(float v, float t, int positive) {
        float c;
        if (positive) { c = v - t; return 0.0f > c ? 0.0f : c; }
        c = -t > v ? -t : v;
        c = t < c ? t : c;
        return v - c;
    }
    #define FR_ALIGNED(p) ((((size_t)(p)) & (FR_BYTES - 1)) == 0)
    #define FR_DEFINE_ST(SUFFIX, T, V, W, PS)                                               \
    static void fastreg_st_stream_##SUFFIX(const T* x, T* out, T t, int positive,           \
                                           Py_ssize_t start, Py_ssize_t stop) {            \
        Py_ssize_t i = start;                                                             \
        const V hi = fr_set1_##PS(t), lo = fr_set1_##PS(-t), zero = fr_zero_##PS();        \
        for (; i < stop && !FR_ALIGNED(out + i); i++) out[i] = fastreg_st1_##SUFFIX(x[i], t, positive); \
        if (positive) {                                                                   \
            for (; i + W <= stop; i += W)                                                 \
                fr_stream_##PS(out + i, fr_max_##PS(zero, fr_sub_##PS(fr_loadu_##PS(x + i), hi))); \
        } else {                                                                          \
            for (; i + W <= stop; i += W) {                                               \
                V v = fr_loadu_##PS(x + i);                                               \
                fr_stream_##PS(out + i, fr_sub_##PS(v, fr_min_##PS(fr_max_##PS(v, lo), hi))); \
            }                                                                             \
        }                                                                                 \
        for (; i < stop; i++) out[i] = fastreg_st1_##SUFFIX(x[i], t, positive);           \
        _mm_sfence();                                                                     \
    }                                                                                     \
    /* out[start:stop] = x[start:stop] * r */                                             \
    static void fastreg_scale_stream_##SUFFIX(const T* x, T* out, T r,                     \
                                              Py_ssize_t start, Py_ssize_t stop) {        \
        Py_ssize_t i = start;                                                             \
        const V vr = fr_set1_##PS(r);                                                     \
        for (; i < stop && !FR_ALIGNED(out + i); i++) out[i] = x[i] * r;                  \
        for (; i + W <= stop; i += W) fr_stream_##PS(out + i, fr_mul_##PS(fr_loadu_##PS(x + i), vr)); \
        for (; i < stop; i++) out[i] = x[i] * r;                                          \
        _mm_sfence();                                                                     \
    }
    FR_DEFINE_ST(d, double, fr_vd, (FR_BYTES / 8), pd)
    FR_DEFINE_ST(f, float, fr_vf, (FR_BYTES / 4), ps)
    #else
    static void fastreg_scale_stream_d(const double* x, double* out, double r,
                                       Py_ssize_t start, Py_ssize_t stop) {}
    static void fastreg_scale_stream_f(const float* x, float* out, float r,
                                       Py_ssize_t start, Py_ssize_t stop) {}
    static void fastreg_st_stream_d(const double* x, double* out, double t, int positive,
                                    Py_ssize_t start, Py_ssize_t stop) {}
    static void fastreg_st_stream_f(const float* x, float* out, float t, int positive,
                                    Py_ssize_t start, Py_ssize_t stop) {}
    #endif
    """
    bint FASTREG_CAN_STREAM
    void fastreg_st_stream_d(const double* x, double* out, double t, bint positive,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void fastreg_st_stream_f(const float* x, float* out, float t, bint positive,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void fastreg_scale_stream_d(const double* x, double* out, double r,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil
    void fastreg_scale_stream_f(const float* x, float* out, float r,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil

#: True when this build can use streaming stores.
CAN_STREAM = bool(FASTREG_CAN_STREAM)


# ---------------------------------------------------------------------------
# scalar building blocks (NaN in ``v`` propagates: ``v`` is returned when the
# comparison is false)
# ---------------------------------------------------------------------------
cdef inline floating _max(floating v, floating a) noexcept nogil:
    """``max(v, a)``; NaN ``v`` gives NaN."""
    return a if a > v else v


cdef inline floating _min(floating v, floating a) noexcept nogil:
    """``min(v, a)``; NaN ``v`` gives NaN."""
    return a if a < v else v


cdef inline floating _st(floating v, floating t) noexcept nogil:
    """``sign(v) * max(|v| - t, 0)`` written as ``v - clip(v, -t, t)`` (exact zeros for |v| <= t)."""
    return v - _min(_max(v, -t), t)


cdef inline floating _st_pos(floating v, floating t) noexcept nogil:
    """``max(v - t, 0)``."""
    return _max(v - t, <floating> 0.0)


cdef int _check(Py_ssize_t n, Py_ssize_t n_out, Py_ssize_t n_a, Py_ssize_t n_b) except -1:
    """Raise unless ``x_out`` has length n and each parameter vector length 1 or n."""
    if n_out != n:
        raise ValueError(f"x_out has length {n_out}, expected {n}")
    if n_a not in (1, n) or n_b not in (1, n):
        raise ValueError(f"parameter vectors must have length 1 or {n}, got {n_a} and {n_b}")
    return 0


cdef inline bint _streamed(const void* x, const void* x_out, bint stream, bint vec) noexcept:
    """Whether a scalar-parameter kernel writes ``x_out`` with non-temporal stores:
    when the caller asks for it, the build can, and the call is out of place."""
    return FASTREG_CAN_STREAM and stream and not vec and x_out != x


cdef inline int _threads(Py_ssize_t n, int n_threads) noexcept nogil:
    if n < _PAR_MIN or n_threads < 1:
        return 1
    return n_threads


# ---------------------------------------------------------------------------
# serial range loops (the vectorized inner loops)
# ---------------------------------------------------------------------------
cdef void _soft_threshold_range(const floating* x, floating* x_out, const floating* t,
                                bint t_is_vector, bint positive, bint stream,
                                Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating t0 = t[0]
    if stream:  # scalar threshold, x_out not x, large: non-temporal stores
        if floating is double:
            fastreg_st_stream_d(x, x_out, t0, positive, start, stop)
        else:
            fastreg_st_stream_f(x, x_out, t0, positive, start, stop)
    elif t_is_vector:
        if positive:
            for i in range(start, stop):
                x_out[i] = _st_pos(x[i], t[i])
        else:
            for i in range(start, stop):
                x_out[i] = _st(x[i], t[i])
    else:
        if positive:
            for i in range(start, stop):
                x_out[i] = _st_pos(x[i], t0)
        else:
            for i in range(start, stop):
                x_out[i] = _st(x[i], t0)


cdef inline bint _is_normal(floating r) noexcept nogil:
    """True if ``r`` is a positive normal number (a multiplier that loses no precision)."""
    if floating is float:
        return FLT_MIN <= r <= FLT_MAX
    else:
        return DBL_MIN <= r <= DBL_MAX


cdef void _l2_shrink_range(const floating* x, floating* x_out, const floating* s,
                           bint s_is_vector, bint stream,
                           Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d0 = 1 + s[0]
    cdef floating r0 = 1 / d0
    if s_is_vector:
        for i in range(start, stop):
            x_out[i] = x[i] / (1 + s[i])
    elif stream and _is_normal(r0):  # x_out not x, large: non-temporal stores
        if floating is double:
            fastreg_scale_stream_d(x, x_out, r0, start, stop)
        else:
            fastreg_scale_stream_f(x, x_out, r0, start, stop)
    elif _is_normal(r0):
        # one division per call, a multiplication per coordinate (within 1 ulp of x / d0)
        for i in range(start, stop):
            x_out[i] = x[i] * r0
    else:  # 1 + s so large that 1 / (1 + s) is subnormal or 0: divide
        for i in range(start, stop):
            x_out[i] = x[i] / d0


cdef void _elastic_net_range(const floating* x, floating* x_out, const floating* l1,
                             const floating* l2, bint l1_is_vector, bint l2_is_vector,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating a = l1[0], d = 1 + l2[0]
    cdef floating r = 1 / d
    if l2_is_vector:
        if l1_is_vector:
            for i in range(start, stop):
                x_out[i] = _st(x[i], l1[i]) / (1 + l2[i])
        else:
            for i in range(start, stop):
                x_out[i] = _st(x[i], a) / (1 + l2[i])
    elif not _is_normal(r):  # 1 / (1 + l2) subnormal or 0: divide
        for i in range(start, stop):
            x_out[i] = _st(x[i], l1[i] if l1_is_vector else a) / d
    elif l1_is_vector:
        for i in range(start, stop):
            x_out[i] = _st(x[i], l1[i]) * r
    else:
        for i in range(start, stop):
            x_out[i] = _st(x[i], a) * r


cdef void _box_range(const floating* x, floating* x_out, const floating* lower,
                     const floating* upper, bint lo_is_vector, bint up_is_vector,
                     Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating lo = lower[0], up = upper[0]
    if lo_is_vector and up_is_vector:
        for i in range(start, stop):
            x_out[i] = _min(_max(x[i], lower[i]), upper[i])
    elif lo_is_vector:
        for i in range(start, stop):
            x_out[i] = _min(_max(x[i], lower[i]), up)
    elif up_is_vector:
        for i in range(start, stop):
            x_out[i] = _min(_max(x[i], lo), upper[i])
    else:
        for i in range(start, stop):
            x_out[i] = _min(_max(x[i], lo), up)


# ---------------------------------------------------------------------------
# public kernels
# ---------------------------------------------------------------------------
def soft_threshold(const floating[::1] x, floating[::1] x_out,
                   const floating[::1] threshold, bint positive=False, int n_threads=1,
                   bint stream=False):
    """Soft-thresholding, the prox of ``t * ||.||_1`` (weighted when ``t`` is a vector).

    ``x_out[i] = sign(x[i]) * max(|x[i]| - t[i], 0)``, or with ``positive``
    (prox of ``t * ||.||_1 + indicator(w >= 0)``) ``x_out[i] = max(x[i] - t[i], 0)``.

    Parameters
    ----------
    x : float32 or float64 contiguous vector of length n
    x_out : writable vector like ``x`` (may be ``x`` itself)
    threshold : vector of length 1 (broadcast) or n, entries >= 0 (inf allowed)
    positive : bool
    n_threads : int
        Threads used when ``n >= PARALLEL_MIN_SIZE``.
    stream : bool
        Write ``x_out`` with non-temporal (cache-bypassing) stores when the
        threshold is a scalar and ``x_out`` is not ``x`` (x86-64 only; ignored
        otherwise). Same arithmetic, same results. Faster only when ``x`` and
        ``x_out`` together exceed the last-level cache: :mod:`fastreg.prox` decides.

    References
    ----------
    Donoho, D. L. (1995). De-noising by soft-thresholding. IEEE Trans. Inf. Theory 41(3).
    Parikh, N. and Boyd, S. (2014). Proximal algorithms, section 6.5.2.
    """
    cdef Py_ssize_t n = x.shape[0], c, start, stop
    cdef int k = _threads(n, n_threads)
    cdef bint vec = threshold.shape[0] > 1
    _check(n, x_out.shape[0], threshold.shape[0], threshold.shape[0])
    if n == 0:
        return
    stream = _streamed(&x[0], &x_out[0], stream, vec)
    if k == 1:
        with nogil:
            _soft_threshold_range(&x[0], &x_out[0], &threshold[0], vec, positive, stream, 0, n)
    else:
        for c in prange(k, nogil=True, num_threads=k, schedule="static"):
            start = n * c // k
            stop = n * (c + 1) // k
            _soft_threshold_range(&x[0], &x_out[0], &threshold[0], vec, positive, stream,
                                  start, stop)


def l2_shrink(const floating[::1] x, floating[::1] x_out,
              const floating[::1] strength, int n_threads=1, bint stream=False):
    """Prox of ``(s / 2) * ||.||_2^2``: ``x_out[i] = x[i] / (1 + s[i])``.

    Parameters
    ----------
    x : float32 or float64 contiguous vector of length n
    x_out : writable vector like ``x`` (may be ``x`` itself)
    strength : vector of length 1 (broadcast) or n, entries >= 0 (inf gives 0)
    n_threads : int
    stream : bool
        Non-temporal stores, as in :func:`soft_threshold`.

    Notes
    -----
    A scalar strength is applied as ``x * (1 / (1 + s))`` (within one rounding of
    ``x / (1 + s)``) unless ``1 / (1 + s)`` is subnormal or 0.
    """
    cdef Py_ssize_t n = x.shape[0], c, start, stop
    cdef int k = _threads(n, n_threads)
    cdef bint vec = strength.shape[0] > 1
    _check(n, x_out.shape[0], strength.shape[0], strength.shape[0])
    if n == 0:
        return
    stream = _streamed(&x[0], &x_out[0], stream, vec)
    if k == 1:
        with nogil:
            _l2_shrink_range(&x[0], &x_out[0], &strength[0], vec, stream, 0, n)
    else:
        for c in prange(k, nogil=True, num_threads=k, schedule="static"):
            start = n * c // k
            stop = n * (c + 1) // k
            _l2_shrink_range(&x[0], &x_out[0], &strength[0], vec, stream, start, stop)


def elastic_net(const floating[::1] x, floating[::1] x_out, const floating[::1] l1,
                const floating[::1] l2, int n_threads=1):
    """Prox of ``l1 * ||.||_1 + (l2 / 2) * ||.||_2^2``.

    ``x_out[i] = sign(x[i]) * max(|x[i]| - l1[i], 0) / (1 + l2[i])``.

    Parameters
    ----------
    x : float32 or float64 contiguous vector of length n
    x_out : writable vector like ``x`` (may be ``x`` itself)
    l1, l2 : vectors of length 1 (broadcast) or n, entries >= 0
    n_threads : int

    References
    ----------
    Zou, H. and Hastie, T. (2005). Regularization and variable selection via the
    elastic net. JRSS B 67(2).
    """
    cdef Py_ssize_t n = x.shape[0], c, start, stop
    cdef int k = _threads(n, n_threads)
    cdef bint v1 = l1.shape[0] > 1, v2 = l2.shape[0] > 1
    _check(n, x_out.shape[0], l1.shape[0], l2.shape[0])
    if n == 0:
        return
    if k == 1:
        with nogil:
            _elastic_net_range(&x[0], &x_out[0], &l1[0], &l2[0], v1, v2, 0, n)
    else:
        for c in prange(k, nogil=True, num_threads=k, schedule="static"):
            start = n * c // k
            stop = n * (c + 1) // k
            _elastic_net_range(&x[0], &x_out[0], &l1[0], &l2[0], v1, v2, start, stop)


def box(const floating[::1] x, floating[::1] x_out, const floating[::1] lower,
        const floating[::1] upper, int n_threads=1):
    """Euclidean projection onto the box: ``x_out[i] = min(max(x[i], lower[i]), upper[i])``.

    Parameters
    ----------
    x : float32 or float64 contiguous vector of length n
    x_out : writable vector like ``x`` (may be ``x`` itself)
    lower, upper : vectors of length 1 (broadcast) or n with ``lower <= upper``
        (+-inf allowed)
    n_threads : int
    """
    cdef Py_ssize_t n = x.shape[0], c, start, stop
    cdef int k = _threads(n, n_threads)
    cdef bint vl = lower.shape[0] > 1, vu = upper.shape[0] > 1
    _check(n, x_out.shape[0], lower.shape[0], upper.shape[0])
    if n == 0:
        return
    if k == 1:
        with nogil:
            _box_range(&x[0], &x_out[0], &lower[0], &upper[0], vl, vu, 0, n)
    else:
        for c in prange(k, nogil=True, num_threads=k, schedule="static"):
            start = n * c // k
            stop = n * (c + 1) // k
            _box_range(&x[0], &x_out[0], &lower[0], &upper[0], vl, vu, start, stop)


# ---------------------------------------------------------------------------
# group soft-thresholding
# ---------------------------------------------------------------------------
cdef double _scaled_norm(const double* x, const Py_ssize_t* idx,
                         Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """``m * sqrt(sum((x_i / m)^2))`` with ``m = max |x_i|``: no overflow, no underflow."""
    cdef Py_ssize_t i
    cdef double v, s = 0.0, m = 0.0
    for i in range(start, stop):
        v = fabs(x[i] if idx == NULL else x[idx[i]])
        m = v if v > m else m
    if m == 0.0 or m > DBL_MAX:
        return m
    for i in range(start, stop):
        v = (x[i] if idx == NULL else x[idx[i]]) / m
        s += v * v
    return m * sqrt(s)


cdef double _group_norm(const floating* x, const Py_ssize_t* idx,
                        Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """Euclidean norm of ``x[idx[start:stop]]`` (``x[start:stop]`` if ``idx`` is NULL).

    Sums squares in double (float32 squares can neither overflow nor lose
    precision there); float64 groups whose sum of squares over- or underflows
    are summed again, scaled by their largest magnitude (as BLAS ``nrm2`` does).
    """
    cdef Py_ssize_t i
    cdef double v, s = 0.0
    for i in range(start, stop):
        v = x[i] if idx == NULL else x[idx[i]]
        s += v * v
    cdef double nrm = sqrt(s)
    if floating is double:
        if s == s and not (1e-290 <= s <= DBL_MAX):
            nrm = _scaled_norm(x, idx, start, stop)
    return nrm


def group_soft_threshold(const floating[::1] x, floating[::1] x_out,
                         const Py_ssize_t[::1] grp_ptr, const Py_ssize_t[::1] grp_indices,
                         const floating[::1] threshold):
    """Block soft-thresholding, the prox of ``sum_g t_g * ||x_g||_2`` (group lasso).

    For each group ``g``: ``x_out_g = 0`` if ``||x_g||_2 <= t_g``, else
    ``x_out_g = (1 - t_g / ||x_g||_2) * x_g``.

    Parameters
    ----------
    x : float32 or float64 contiguous vector of length n
    x_out : writable vector like ``x`` (may be ``x`` itself)
    grp_ptr : intp vector of length n_groups + 1, non-decreasing, ``grp_ptr[0] = 0``
    grp_indices : intp vector
        Group ``g`` is ``grp_indices[grp_ptr[g]:grp_ptr[g + 1]]``; the groups
        partition ``range(n)`` (checked by the wrapper, not here). An empty
        ``grp_indices`` means contiguous groups ``x[grp_ptr[g]:grp_ptr[g + 1]]``.
    threshold : vector of length 1 (broadcast) or n_groups, entries >= 0

    References
    ----------
    Yuan, M. and Lin, Y. (2006). Model selection and estimation in regression
    with grouped variables. JRSS B 68(1).
    """
    cdef Py_ssize_t n_groups = grp_ptr.shape[0] - 1, g, i, start, stop
    cdef const Py_ssize_t* idx = NULL
    cdef double nrm, t, scale
    cdef bint vec = threshold.shape[0] > 1
    if n_groups < 0 or x_out.shape[0] != x.shape[0] or grp_ptr[n_groups] > x.shape[0]:
        raise ValueError("group_soft_threshold: inconsistent lengths")
    if vec and threshold.shape[0] != n_groups:
        raise ValueError("group_soft_threshold: threshold must have length 1 or n_groups")
    if grp_indices.shape[0] > 0:
        if grp_indices.shape[0] != grp_ptr[n_groups]:
            raise ValueError("group_soft_threshold: grp_indices and grp_ptr disagree")
        idx = &grp_indices[0]
    if n_groups == 0 or x.shape[0] == 0:
        return
    with nogil:
        for g in range(n_groups):
            start = grp_ptr[g]
            stop = grp_ptr[g + 1]
            t = threshold[g] if vec else threshold[0]
            nrm = _group_norm(&x[0], idx, start, stop)
            if nrm <= t:  # zeros written, not 0 * x: an infinite x_g with t = inf gives 0
                if idx == NULL:
                    for i in range(start, stop):
                        x_out[i] = 0
                else:
                    for i in range(start, stop):
                        x_out[idx[i]] = 0
                continue
            scale = 1.0 - t / nrm
            if idx == NULL:
                for i in range(start, stop):
                    x_out[i] = <floating> (scale * x[i])
            else:
                for i in range(start, stop):
                    x_out[idx[i]] = <floating> (scale * x[idx[i]])
