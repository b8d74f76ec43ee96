"""One row block of a distributed problem, and the functions mapped over blocks.

A :class:`RowBlock` lives on a worker (persisted); the module-level functions
below are what the engine maps over blocks. Each returns a tuple of floats and
arrays of size ``n_features`` (summed over blocks by the engine): no per-sample
array ever leaves a block.

Labels: least-squares blocks keep ``y``; logistic blocks hold ``y`` in
``{-1, +1}`` (``+1`` for the second class of ``classes_``).
"""
import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from .. import _blocks, _newton

LEAST_SQUARES, LOGISTIC = 0, 1


class RowBlock:
    """Rows ``X`` (C-ordered dense or CSR int32), targets ``y`` and weights ``sw``, one dtype.

    Holds a cache of ``z = X w`` for the last ``w`` seen (keyed by a token), so
    that the intercept's Newton steps and the dual terms of the logistic gap
    cost O(n_rows) instead of a pass over ``X``. A block moved to another
    worker (a retried task) just recomputes it.
    """

    def __init__(self, X, y, sw):
        self.X = X
        self.y = y
        self.sw = sw
        self.sparse = sp.issparse(X)
        self.n = X.shape[0]
        self._token = None
        self._z = None

    def xw(self, w, token=None):
        """``X w`` (float64), from the cache when ``token`` matches."""
        if token is not None and token == self._token:
            return self._z
        z = np.empty(self.n)
        w = np.ascontiguousarray(w, dtype=self.X.dtype)
        if self.sparse:
            _blocks.xv_csr(self.X.data, self.X.indices, self.X.indptr, w, z)
        else:
            _blocks.xv_dense(self.X, w, z)
        self._token, self._z = token, z
        return z

    def loss_grad(self, w, b, loss_code, token=None, y=None):
        """``(loss, d_sum, X^T d)`` at ``(w, b)`` (see :func:`fastreg._blocks.loss_grad_dense`)."""
        dtype = self.X.dtype
        w = np.ascontiguousarray(w, dtype=dtype)
        grad = np.zeros(w.shape[0], dtype=dtype)
        z = np.empty(self.n)
        yy = self.y if y is None else y
        if self.sparse:
            loss, dsum = _blocks.loss_grad_csr(self.X.data, self.X.indices, self.X.indptr, yy,
                                               self.sw, w, z, grad, float(b), int(loss_code))
        else:
            loss, dsum = _blocks.loss_grad_dense(self.X, yy, self.sw, w, z, grad, float(b),
                                                 int(loss_code))
        if token is not None:
            self._token, self._z = token, z
        return loss, dsum, grad.astype(np.float64)

    def xtv(self, v):
        out = np.zeros(self.X.shape[1], dtype=self.X.dtype)
        v = np.ascontiguousarray(v, dtype=self.X.dtype)
        if self.sparse:
            _blocks.xtv_csr(self.X.data, self.X.indices, self.X.indptr, v, out)
        else:
            _blocks.xtv_dense(self.X, v, out)
        return out.astype(np.float64)


def make_block(X, y, sw, dtype, index):
    """Validate one chunk and build its :class:`RowBlock` (runs on a worker).

    Dense chunks become C-ordered (a copy only if they are not), sparse chunks
    CSR with int32 indices, sorted and without duplicates.
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=dtype)
        X.sum_duplicates()
        X.sort_indices()
        if X.nnz > np.iinfo(np.int32).max:
            raise ValueError(f"block {index}: too many non-zeros for int32 indices")
        X.indices = X.indices.astype(np.int32, copy=False)
        X.indptr = X.indptr.astype(np.int32, copy=False)
        values = X.data
    else:
        X = np.asarray(X)
        if X.dtype.kind not in "fiub":
            raise ValueError(f"block {index}: X must be numeric, got dtype {X.dtype}")
        X = np.ascontiguousarray(X, dtype=dtype)
        values = X
    if X.ndim != 2:
        raise ValueError(f"block {index}: X must be 2-dimensional")
    y = np.ascontiguousarray(np.asarray(y, dtype=dtype).reshape(-1))
    sw = np.ascontiguousarray(np.asarray(sw, dtype=dtype).reshape(-1))
    if y.shape[0] != X.shape[0] or sw.shape[0] != X.shape[0]:
        raise ValueError(f"block {index}: X has {X.shape[0]} rows but y has {y.shape[0]} "
                         f"and sample_weight {sw.shape[0]}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"block {index}: X contains NaN or infinity")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"block {index}: y contains NaN or infinity")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError(f"block {index}: sample_weight must be finite and non-negative")
    return RowBlock(X, y, sw)


def encode_labels(y, classes):
    """Map a label chunk to ``+-1`` (``+1`` for ``classes[1]``); ValueError on unknown labels."""
    y = np.asarray(y).reshape(-1)
    pos = y == classes[1]
    if not np.all(pos | (y == classes[0])):
        raise ValueError("y has labels not in classes_")
    return np.where(pos, 1.0, -1.0)


# ---------------------------------------------------------------- functions mapped over blocks
def block_stats(block):
    """``(n, S, sum s y, sum s y^2, X^T s, sum_{y>0} s)`` of one block (float64)."""
    sw = block.sw.astype(np.float64)
    y = block.y.astype(np.float64)
    return (float(block.n), float(sw.sum()), float(sw @ y), float(sw @ (y * y)),
            block.xtv(block.sw), float(sw[y > 0].sum()))


def block_loss_grad(block, w, b, loss_code, token=None, c_scale=1.0):
    """``(loss, d_sum, X^T d, h_sum)`` of one block at ``(w, b)``.

    ``h_sum = sum_i s_i p_i q_i`` (logistic; 0 for least squares) is the
    intercept's curvature: with ``d_sum`` it gives a free Newton step on the
    intercept (O(n_rows) from the predictions just computed).
    """
    if token is None and loss_code == LOGISTIC:
        token = object()                # h_sum needs the cached X w
    loss, dsum, grad = block.loss_grad(w, b, loss_code, token)
    h_sum = 0.0
    if loss_code == LOGISTIC and block.n:
        m = block.y.astype(np.float64) * (block._z + b)
        p = 0.5 * (1.0 - np.tanh(0.5 * m))
        h_sum = float(block.sw.astype(np.float64) @ (p * (1.0 - p)))
    return loss, dsum, grad, h_sum


def block_gram(block, v, vb):
    """``(v^T A v, [X 1]^T diag(s) (X v + vb))`` pieces of one block: the power-iteration product.

    The least-squares kernel with ``y = 0``: ``loss = 1/2 sum s (x v + vb)^2``,
    ``d_sum = sum s (x v + vb)``, ``grad = X^T (s (x v + vb))``.
    """
    zeros = np.zeros(block.n, dtype=block.X.dtype)
    return block.loss_grad(v, vb, LEAST_SQUARES, y=zeros)


def block_logistic_dual(block, w, b, token, c_scale, ts):
    """Dual pieces at ``(w, b)``: ``(loss, X^T u, f'(b), f''(b), [sum_i c_i H(t p_i) for t in ts])``.

    ``u_i = c_i y_i p_i``, ``p = sigmoid(-y z)``, ``c = c_scale * s``; from the
    cached ``X w`` plus one ``X^T u`` pass.
    """
    p_ = block.X.shape[1]
    if block.n == 0:
        return 0.0, np.zeros(p_), 0.0, 0.0, np.zeros(len(ts))
    z = block.xw(w, token) + b
    c = (c_scale * block.sw).astype(block.X.dtype)
    grad = np.empty(block.n)
    hess = np.empty(block.n, dtype=block.X.dtype)
    resp = np.empty(block.n, dtype=block.X.dtype)
    loss = _newton.binary_derivatives(z, block.y, c, grad, hess, resp, 0.0)
    ent = np.array([_newton.binary_entropy(z, block.y, c, float(t)) for t in ts])
    return (float(loss), block.xtv(-grad), float(grad.sum()), float(hess.astype(np.float64).sum()),
            ent)


def block_logistic_entropy(block, w, b, token, c_scale, t):
    """``sum_i c_i H(t p_i)`` from the cached ``X w`` (see :func:`fastreg._newton.binary_entropy`)."""
    if block.n == 0:
        return 0.0
    z = block.xw(w, token) + b
    c = (c_scale * block.sw).astype(block.X.dtype)
    return float(_newton.binary_entropy(z, block.y, c, float(t)))


def _curvature_weights(block, b, loss_code):
    """``h_i = s_i l''_i`` at the cached ``z = X w`` (least squares: ``s_i``)."""
    sw = block.sw.astype(np.float64)
    if loss_code == LEAST_SQUARES:
        return sw
    m = block.y.astype(np.float64) * (block._z + b)
    p = 0.5 * (1.0 - np.tanh(0.5 * m))
    return sw * p * (1.0 - p)


_CONTROLLER = []


def _blas_controller():
    """One :class:`threadpoolctl.ThreadpoolController` per process (listing the libraries is slow)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def weighted_gram(X, h, rows=4096):
    """``X^T diag(h) X`` (float64, dense ``(p, p)``) of a dense or CSR block, by row slabs."""
    p = X.shape[1]
    if sp.issparse(X):
        if X.shape[0] == 0:
            return np.zeros((p, p))
        return np.asarray((X.T @ sp.diags(h.astype(X.dtype)) @ X).toarray(), dtype=np.float64)
    H = np.zeros((p, p), dtype=X.dtype)
    # one BLAS thread: the parallelism is across blocks (worker processes get
    # OPENBLAS_NUM_THREADS=1 from dask's nanny; threaded workers do not)
    with _blas_controller().limit(limits=1, user_api="blas"):
        for r in range(0, X.shape[0], rows):
            Xr = X[r:r + rows]
            H += (Xr * h[r:r + rows, None].astype(X.dtype)).T @ Xr
    return H.astype(np.float64)


def block_newton(block, w, b, loss_code, token=None, hessian=True, dual=None):
    """``(loss, d_sum, X^T d, h_sum, X^T h, X^T diag(h) X[, dual pieces])`` of one block at
    ``(w, b)``, one pass.

    ``d``, ``h``: the per-sample first and second derivatives of the weighted
    loss at ``z_i = x_i^T w + b``; entries 4-6 are the blocks of the Hessian of
    ``sum_i l_i`` in ``(w, b)`` (``hessian=False``: zeros). ``dual = (C, ts)``
    (logistic): :func:`block_logistic_dual` at ``(w, b)`` is appended (its
    ``X^T u`` costs one more product on the block, not one more round).
    """
    out = _block_newton(block, w, b, loss_code, token, hessian)
    if dual is None:
        return out
    return out + (block_logistic_dual(block, w, b, token, dual[0], dual[1]),)


def _block_newton(block, w, b, loss_code, token, hessian):
    token = object() if token is None else token      # the curvature needs the cached X w
    loss, dsum, grad = block.loss_grad(w, b, loss_code, token)
    p = grad.shape[0]
    if not hessian:
        return loss, dsum, grad, 0.0, 0.0, 0.0
    if block.n == 0:
        return loss, dsum, grad, 0.0, np.zeros(p), np.zeros((p, p))
    h = _curvature_weights(block, b, loss_code)
    return loss, dsum, grad, float(h.sum()), block.xtv(h), weighted_gram(block.X, h)
