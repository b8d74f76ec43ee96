"""Per-block kernels of the distributed solvers (:mod:`fastreg.dask`).

A block is a set of rows of the design: ``X_k`` (dense, C or Fortran order, or
CSR with int32 indices), targets ``y_k``, sample weights ``s_k``. Every kernel
makes one pass over the block and returns quantities whose sum over blocks is
the full-data quantity (map, then sum in a tree), so only vectors of size
``n_features`` leave a block.

Datafits (per sample, prediction ``z_i = x_i^T w + b``; ``loss_code``)::

    0  least squares   l_i = s_i (z_i - y_i)^2 / 2,         dl_i/dz_i = s_i (z_i - y_i)
    1  logistic        l_i = s_i log(1 + exp(-y_i z_i)),     dl_i/dz_i = -s_i y_i sigmoid(-y_i z_i)
                       (y_i in {-1, +1}; no overflow for any finite margin)

The power-iteration product ``[X 1]^T diag(s) [X 1] (v, v_b)`` of a Lipschitz
estimate is :func:`loss_grad_dense` / :func:`loss_grad_csr` with the least
squares loss, ``y = 0`` and ``w = v``, ``b = v_b``: no separate kernel.

Dense rows are read with a stride (BLAS ``dot``/``axpy``), so C and Fortran
order are both accepted; C order reads contiguous rows and is the fast one.
"""
from cython cimport floating
from libc.math cimport exp, sqrt
from scipy.linalg.cython_blas cimport dsyrk, ssyrk
from fastreg._utils cimport fdot, faxpy
from fastreg._losses cimport squared_error_dloss, log_dloss


cdef inline double _dloss(double y, double z, int loss_code, double* loss) noexcept nogil:
    if loss_code == 0:
        return squared_error_dloss(y, z, loss)
    return log_dloss(y, z, loss)


cdef inline double _curvature(double y, double dl, double s, int loss_code) noexcept nogil:
    """``h = s d^2 l/dz^2`` from the unweighted derivative ``dl`` (logistic: ``p = -y dl``)."""
    cdef double pr
    if loss_code == 0:
        return s
    pr = -y * dl                                # sigmoid(-y z), y = +-1
    return s * pr * (1.0 - pr)


def _check_rows(Py_ssize_t n, Py_ssize_t p, Py_ssize_t n_w, *arrays):
    if n_w != p:
        raise ValueError(f"w has {n_w} entries, the block {p} features")
    for a in arrays:
        if a.shape[0] != n:
            raise ValueError(f"per-sample arrays must have {n} entries, got {a.shape[0]}")


def _check_code(int loss_code):
    if loss_code != 0 and loss_code != 1:
        raise ValueError(f"loss_code must be 0 (least squares) or 1 (logistic), got {loss_code}")


def loss_grad_dense(const floating[:, :] X, const floating[::1] y, const floating[::1] sw,
                    const floating[::1] w, double[::1] z_out, floating[::1] grad_out,
                    double intercept, int loss_code):
    """Loss, gradient and predictions of one dense block, in one pass over its rows.

    With ``z_i = x_i^T w`` (stored in ``z_out``, without the intercept),
    ``d_i = dl_i/dz`` and ``h_i = d^2 l_i/dz^2`` at ``z_i + intercept``
    (module docstring; least squares ``h_i = s_i``, logistic
    ``h_i = s_i p_i (1 - p_i)``, ``p_i = sigmoid(-y_i (z_i + b))``)::

        loss  = sum_i l_i(z_i + b),    grad_out += X^T d,    d_sum = sum_i d_i,
        h_sum = sum_i h_i   (the intercept's curvature; O(1) per row)

    Parameters
    ----------
    X : ndarray (n_rows, n_features), C or Fortran order (C is faster)
    y, sw : ndarray (n_rows,)
        Targets (``+-1`` for the logistic loss) and sample weights.
    w : ndarray (n_features,)
    z_out : float64 ndarray (n_rows,)
        Receives ``X w``.
    grad_out : ndarray (n_features,)
        ``X^T d`` is ADDED to it (zero it first).
    intercept : float
    loss_code : int
        0 least squares, 1 logistic.

    Returns
    -------
    loss, d_sum, h_sum : float
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i
    _check_rows(n, p, w.shape[0], y, sw, z_out)
    _check_code(loss_code)
    if grad_out.shape[0] != p:
        raise ValueError(f"grad_out must have {p} entries")
    cdef int inc = <int> (X.strides[1] // sizeof(floating)) if p > 0 else 1
    cdef int ip = <int> p
    cdef double loss = 0.0, d_sum = 0.0, h_sum = 0.0, li, d, zi
    if n == 0 or p == 0:
        return 0.0, 0.0, 0.0
    with nogil:
        for i in range(n):
            zi = fdot(ip, &X[i, 0], inc, &w[0], 1)
            z_out[i] = zi
            d = _dloss(y[i], zi + intercept, loss_code, &li)
            h_sum += _curvature(y[i], d, sw[i], loss_code)
            d = sw[i] * d
            loss += sw[i] * li
            d_sum += d
            if d != 0.0:
                faxpy(ip, <floating> d, &X[i, 0], inc, &grad_out[0], 1)
    return loss, d_sum, h_sum


def loss_grad_csr(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
                  const floating[::1] y, const floating[::1] sw, const floating[::1] w,
                  double[::1] z_out, floating[::1] grad_out, double intercept, int loss_code):
    """:func:`loss_grad_dense` for a CSR block (int32 indices, checked by the caller).

    Returns
    -------
    loss, d_sum, h_sum : float
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, i
    cdef int k
    _check_rows(n, grad_out.shape[0], w.shape[0], y, sw, z_out)
    _check_code(loss_code)
    cdef double loss = 0.0, d_sum = 0.0, h_sum = 0.0, li, d, zi
    with nogil:
        for i in range(n):
            zi = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                zi += data[k] * w[indices[k]]
            z_out[i] = zi
            d = _dloss(y[i], zi + intercept, loss_code, &li)
            h_sum += _curvature(y[i], d, sw[i], loss_code)
            d = sw[i] * d
            loss += sw[i] * li
            d_sum += d
            if d != 0.0:
                for k in range(indptr[i], indptr[i + 1]):
                    grad_out[indices[k]] += <floating> (d * data[k])
    return loss, d_sum, h_sum


def xtv_dense(const floating[:, :] X, const floating[::1] v, floating[::1] out):
    """``out += X^T v`` for a dense block (C or Fortran order)."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i
    _check_rows(n, p, out.shape[0], v)
    if n == 0 or p == 0:
        return
    cdef int inc = <int> (X.strides[1] // sizeof(floating))
    cdef int ip = <int> p
    with nogil:
        for i in range(n):
            if v[i] != 0.0:
                faxpy(ip, v[i], &X[i, 0], inc, &out[0], 1)


def xtv_csr(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
            const floating[::1] v, floating[::1] out):
    """``out += X^T v`` for a CSR block."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i
    cdef int k
    _check_rows(n, out.shape[0], out.shape[0], v)
    with nogil:
        for i in range(n):
            for k in range(indptr[i], indptr[i + 1]):
                out[indices[k]] += data[k] * v[i]


def xv_dense(const floating[:, :] X, const floating[::1] v, double[::1] out):
    """``out = X v`` (float64 output) for a dense block."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i
    _check_rows(n, p, v.shape[0], out)
    if n == 0:
        return
    if p == 0:
        out[:] = 0.0
        return
    cdef int inc = <int> (X.strides[1] // sizeof(floating))
    cdef int ip = <int> p
    with nogil:
        for i in range(n):
            out[i] = fdot(ip, &X[i, 0], inc, &v[0], 1)


def xv_csr(const floating[::1] data, const int[::1] indices, const int[::1] indptr,
           const floating[::1] v, double[::1] out):
    """``out = X v`` (float64 output) for a CSR block."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i
    cdef int k
    cdef double acc
    _check_rows(n, v.shape[0], v.shape[0], out)
    with nogil:
        for i in range(n):
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * v[indices[k]]
            out[i] = acc


def newton_dense(const floating[:, ::1] X, const floating[::1] y, const floating[::1] sw,
                 const floating[::1] w, double[::1] z_out, floating[::1] grad_out,
                 floating[::1] xh_out, floating[:, ::1] hess_out, floating[:, ::1] work,
                 double intercept, int loss_code):
    """Loss, gradient and Hessian pieces of one dense C-ordered block, in one pass over its rows.

    With ``z_i = x_i^T w`` (stored in ``z_out``), ``d_i = dl_i/dz`` and
    ``h_i = d^2 l_i/dz^2`` at ``z_i + intercept`` (module docstring; least
    squares ``h_i = s_i``, logistic ``h_i = s_i p_i (1 - p_i)``,
    ``p_i = sigmoid(-y_i (z_i + b))``)::

        grad_out += X^T d,   xh_out += X^T h,   hess_out += X^T diag(h) X

    The Hessian is accumulated by row slabs of ``work.shape[0]`` rows: the
    slab ``diag(sqrt(h)) X_slab`` is written to ``work`` and added by a BLAS
    ``syrk`` (half the flops of a general product; the other triangle is
    copied at the end). Only ``hess_out``'s symmetric sum is defined: pass it
    zeroed (or symmetric).

    Parameters
    ----------
    X : ndarray (n_rows, n_features), C order
    y, sw : ndarray (n_rows,)
    w : ndarray (n_features,)
    z_out : float64 ndarray (n_rows,)
    grad_out, xh_out : ndarray (n_features,)
        Accumulated into.
    hess_out : ndarray (n_features, n_features), C order
        Accumulated into; symmetric on return.
    work : ndarray (rows, n_features), C order, ``rows >= 1``
        Scratch for one slab.
    intercept : float
    loss_code : int
        0 least squares, 1 logistic.

    Returns
    -------
    loss, d_sum, h_sum : float
        ``sum_i l_i``, ``sum_i d_i``, ``sum_i h_i``.
    """
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], i, j, r, i0 = 0, i1
    _check_rows(n, p, w.shape[0], y, sw, z_out)
    _check_code(loss_code)
    if grad_out.shape[0] != p or xh_out.shape[0] != p:
        raise ValueError(f"grad_out and xh_out must have {p} entries")
    if hess_out.shape[0] != p or hess_out.shape[1] != p:
        raise ValueError(f"hess_out must have shape ({p}, {p})")
    if work.shape[1] != p or work.shape[0] < 1:
        raise ValueError(f"work must have shape (rows >= 1, {p})")
    cdef Py_ssize_t rows = work.shape[0]
    cdef int ip = <int> p, k
    cdef char uplo = b'U', trans = b'N'
    cdef floating one = 1.0
    cdef double loss = 0.0, d_sum = 0.0, h_sum = 0.0, li, d, h, zi, sq
    if n == 0 or p == 0:
        return 0.0, 0.0, 0.0
    with nogil:
        while i0 < n:
            i1 = min(i0 + rows, n)
            r = 0
            for i in range(i0, i1):
                zi = fdot(ip, &X[i, 0], 1, &w[0], 1)
                z_out[i] = zi
                d = _dloss(y[i], zi + intercept, loss_code, &li)
                h = _curvature(y[i], d, sw[i], loss_code)
                d = sw[i] * d
                loss += sw[i] * li
                d_sum += d
                h_sum += h
                if d != 0.0:
                    faxpy(ip, <floating> d, &X[i, 0], 1, &grad_out[0], 1)
                if h != 0.0:
                    faxpy(ip, <floating> h, &X[i, 0], 1, &xh_out[0], 1)
                    sq = sqrt(h)
                    for j in range(p):
                        work[r, j] = <floating> (sq * X[i, j])
                    r += 1
            if r > 0:
                # C-ordered work (r x p) is the Fortran (p x r) matrix A: hess += A A^T
                k = <int> r
                if floating is double:
                    dsyrk(&uplo, &trans, &ip, &k, &one, &work[0, 0], &ip, &one,
                          &hess_out[0, 0], &ip)
                else:
                    ssyrk(&uplo, &trans, &ip, &k, &one, &work[0, 0], &ip, &one,
                          &hess_out[0, 0], &ip)
            i0 = i1
        # Fortran 'U' of the C-ordered buffer is its lower triangle: mirror it
        for i in range(p):
            for j in range(i + 1, p):
                hess_out[i, j] = hess_out[j, i]
    return loss, d_sum, h_sum


def logistic_intercept(const double[::1] z, const floating[::1] y, const floating[::1] sw,
                       double intercept, double c_scale):
    """``f'(b)`` and ``f''(b)`` of ``f(b) = c sum_i s_i log(1 + exp(-y_i (z_i + b)))``.

    One pass over cached predictions ``z = X w`` (no pass over ``X``)::

        f'(b)  = -c sum_i s_i y_i p_i,    f''(b) = c sum_i s_i p_i (1 - p_i),
        p_i = sigmoid(-y_i (z_i + b))

    Parameters
    ----------
    z : float64 ndarray (n_rows,)
    y, sw : ndarray (n_rows,)
        Labels in {-1, +1} and sample weights.
    intercept : float
    c_scale : float
        The loss multiplier ``c`` (``C``).

    Returns
    -------
    f'(b), f''(b) : float
    """
    cdef Py_ssize_t n = z.shape[0], i
    if y.shape[0] != n or sw.shape[0] != n:
        raise ValueError(f"per-sample arrays must have {n} entries")
    cdef double g = 0.0, h = 0.0, m, e, pr
    with nogil:
        for i in range(n):
            m = y[i] * (z[i] + intercept)
            if m >= 0.0:                        # pr = sigmoid(-m), no overflow
                e = exp(-m)
                pr = e / (1.0 + e)
            else:
                pr = 1.0 / (1.0 + exp(m))
            g -= sw[i] * y[i] * pr
            h += sw[i] * pr * (1.0 - pr)
    return c_scale * g, c_scale * h
