"""Inline scalar helpers and fused BLAS shims shared by the kernels.

Everything here is ``cdef inline ... noexcept nogil``: no runtime import, no
Python objects, safe inside ``with nogil`` blocks.
"""
from cython cimport floating
from libc.math cimport fabs, fmax, fmin
from scipy.linalg.cython_blas cimport ddot, sdot, daxpy, saxpy, dnrm2, snrm2, dscal, sscal
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline double fsign(double x) noexcept nogil:
    """Sign of ``x`` (0 for 0)."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


cdef inline double soft_threshold_scalar(double x, double t) noexcept nogil:
    """Prox of ``t * |.|`` at ``x``: ``sign(x) * max(|x| - t, 0)``; ``t = inf`` gives 0."""
    if x > t:
        return x - t
    if x < -t:
        return x + t
    return 0.0


cdef inline double prox_enet_box(double x, double l1, double l2,
                                 double lower, double upper) noexcept nogil:
    """Prox of ``l1 * |w| + l2 / 2 * w**2 + indicator(lower <= w <= upper)`` at ``x``.

    In one dimension the prox of a convex function plus the indicator of an
    interval is the prox of the function clipped to the interval.
    """
    cdef double w = soft_threshold_scalar(x, l1) / (1.0 + l2)
    return fmin(fmax(w, lower), upper)


cdef inline floating fdot(int n, const floating* x, int incx,
                          const floating* y, int incy) noexcept nogil:
    """BLAS dot product, float32 or float64."""
    if floating is double:
        return ddot(&n, <double*> x, &incx, <double*> y, &incy)
    else:
        return sdot(&n, <float*> x, &incx, <float*> y, &incy)


cdef inline void faxpy(int n, floating alpha, const floating* x, int incx,
                       floating* y, int incy) noexcept nogil:
    """BLAS ``y += alpha * x``, float32 or float64."""
    if floating is double:
        daxpy(&n, &alpha, <double*> x, &incx, y, &incy)
    else:
        saxpy(&n, &alpha, <float*> x, &incx, y, &incy)


cdef inline floating fnrm2(int n, const floating* x, int incx) noexcept nogil:
    """BLAS Euclidean norm, float32 or float64."""
    if floating is double:
        return dnrm2(&n, <double*> x, &incx)
    else:
        return snrm2(&n, <float*> x, &incx)


cdef inline void fscal(int n, floating alpha, floating* x, int incx) noexcept nogil:
    """BLAS ``x *= alpha``, float32 or float64."""
    if floating is double:
        dscal(&n, &alpha, x, &incx)
    else:
        sscal(&n, &alpha, x, &incx)


cdef inline void fgemm(char transa, char transb, int m, int n, int k, floating alpha,
                       const floating* a, int lda, const floating* b, int ldb,
                       floating beta, floating* c, int ldc) noexcept nogil:
    """BLAS ``C <- alpha op(A) op(B) + beta C`` (column-major, as Fortran), float32 or float64.

    A C-ordered ``(r, s)`` block with row stride ``ld`` is the column-major
    ``(s, r)`` matrix of leading dimension ``ld``: pass C-ordered operands
    transposed accordingly.
    """
    if floating is double:
        dgemm(&transa, &transb, &m, &n, &k, &alpha, <double*> a, &lda, <double*> b, &ldb,
              &beta, c, &ldc)
    else:
        sgemm(&transa, &transb, &m, &n, &k, &alpha, <float*> a, &lda, <float*> b, &ldb,
              &beta, c, &ldc)


cdef inline void outer_upper_acc(const int* col, const double* val, Py_ssize_t c, double hw,
                                 Py_ssize_t stride, double* acc) noexcept nogil:
    """``acc[col[a] * stride + col[q]] += hw val[a] val[q]`` for ``0 <= a <= q < c``.

    One sparse row's weighted outer product on the upper triangle (``col``
    increasing), four rows of the triangle at a time: each ``col[q]``, ``val[q]``
    is loaded once for four accumulator rows, and short rows (a few entries)
    run a quarter of the loop exits.
    """
    cdef Py_ssize_t a = 0, q, b
    cdef double v0, v1, v2, v3, x
    cdef double* r0
    cdef double* r1
    cdef double* r2
    cdef double* r3
    while a + 3 < c:
        v0 = hw * val[a]
        v1 = hw * val[a + 1]
        v2 = hw * val[a + 2]
        v3 = hw * val[a + 3]
        r0 = acc + <Py_ssize_t> col[a] * stride
        r1 = acc + <Py_ssize_t> col[a + 1] * stride
        r2 = acc + <Py_ssize_t> col[a + 2] * stride
        r3 = acc + <Py_ssize_t> col[a + 3] * stride
        r0[col[a]] += v0 * val[a]
        r0[col[a + 1]] += v0 * val[a + 1]
        r0[col[a + 2]] += v0 * val[a + 2]
        r0[col[a + 3]] += v0 * val[a + 3]
        r1[col[a + 1]] += v1 * val[a + 1]
        r1[col[a + 2]] += v1 * val[a + 2]
        r1[col[a + 3]] += v1 * val[a + 3]
        r2[col[a + 2]] += v2 * val[a + 2]
        r2[col[a + 3]] += v2 * val[a + 3]
        r3[col[a + 3]] += v3 * val[a + 3]
        for q in range(a + 4, c):
            b = col[q]
            x = val[q]
            r0[b] += v0 * x
            r1[b] += v1 * x
            r2[b] += v2 * x
            r3[b] += v3 * x
        a += 4
    while a < c:
        v0 = hw * val[a]
        r0 = acc + <Py_ssize_t> col[a] * stride
        for q in range(a, c):
            r0[col[q]] += v0 * val[q]
        a += 1


cdef inline Py_ssize_t first_at_least(const int* a, Py_ssize_t lo, Py_ssize_t hi,
                                      int v) noexcept nogil:
    """First ``k`` in ``[lo, hi)`` with ``a[k] >= v`` (``a`` sorted; ``hi`` if none), by bisection."""
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo
