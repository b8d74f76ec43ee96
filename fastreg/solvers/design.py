"""The design matrix as the solvers see it, the solvers' default thread count and BLAS control."""
import os

import numpy as np
import scipy.sparse as sp

from .. import _cd

__all__ = ["Design", "blas_controller", "n_threads_default"]

_CONTROLLER = []


def blas_controller():
    """One :class:`threadpoolctl.ThreadpoolController` per process (listing the libraries is slow)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def n_threads_default():
    """OpenMP's effective number of threads (respects threadpoolctl limits)."""
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
        return max(1, int(_openmp_effective_n_threads()))
    except Exception:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


class Design:
    """A validated design matrix with the compiled column kernels bound to it.

    Dense X must be Fortran-ordered and sparse X CSC with int32 indices (as
    :func:`fastreg._validation.check_X` returns them): X is never copied.
    ``n_threads`` is used by the kernels that scan every column (``X^T v``).
    """

    def __init__(self, X, n_threads):
        self.X = X
        self.sparse = sp.issparse(X)
        self.n_threads = n_threads
        if self.sparse:
            if X.format != "csc" or X.indices.dtype != np.int32 or X.indptr.dtype != np.int32:
                raise ValueError("sparse X must be CSC with int32 indices (use fastreg._validation.check_X)")
            self.data = X.data
            self.indices = X.indices
            self.indptr = X.indptr
        elif not X.flags.f_contiguous:
            raise ValueError("dense X must be Fortran-ordered (use fastreg._validation.check_X)")

    def xtv(self, v, ws):
        out = np.empty(ws.shape[0])
        if self.sparse:
            _cd.xtv_sparse(self.data, self.indices, self.indptr, v, ws, out, self.n_threads)
        else:
            _cd.xtv_dense(self.X, v, ws, out, self.n_threads)
        return out

    def axpy_columns(self, coef, cols, R):
        """``R += sum_k coef[k] * x_{cols[k]}`` in place (no copy of X)."""
        cols = np.ascontiguousarray(cols, dtype=np.int32)
        coef = np.ascontiguousarray(coef, dtype=np.float64)
        if self.sparse:
            _cd.axpy_columns_sparse(self.data, self.indices, self.indptr, coef, cols, R)
        else:
            _cd.axpy_columns_dense(self.X, coef, cols, R)

    def column(self, j):
        if self.sparse:
            col = np.zeros(self.X.shape[0], dtype=self.X.dtype)
            s, e = self.indptr[j], self.indptr[j + 1]
            col[self.indices[s:e]] = self.data[s:e]
            return col
        return self.X[:, j]

    def enet_solve(self, *args, **kwargs):
        """The whole compiled fit (:func:`fastreg._cd.enet_solve_dense` / ``_sparse``)."""
        kwargs.setdefault("n_threads", self.n_threads)
        if self.sparse:
            return _cd.enet_solve_sparse(self.data, self.indices, self.indptr, *args, **kwargs)
        return _cd.enet_solve_dense(self.X, *args, **kwargs)

    def solve(self, *args, **kwargs):
        if self.sparse:
            return _cd.cd_solve_sparse(self.data, self.indices, self.indptr, *args, **kwargs)
        return _cd.cd_solve_dense(self.X, *args, **kwargs)
