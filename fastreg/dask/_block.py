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

from .. import _blocks, _checks, _newton
from ..solvers.design import blas_controller

LEAST_SQUARES, LOGISTIC = 0, 1


class RowBlock:
    """Rows ``X`` (C-ordered dense or CSR int32), targets ``y`` and weights ``sw``, one dtype.

    Holds a cache of ``z = X w`` for the last ``w`` seen (keyed by a token), so
    that the intercept's Newton steps and the dual terms of the logistic gap
    cost O(n_rows) instead of a pass over ``X``. A block moved to another
    worker (a retried task) just recomputes it. The token and ``z`` are one
    attribute, written at once: a copy of the block pickled by another thread
    (a transfer) never pairs a token with another iterate's ``z``.
    """

    def __init__(self, X, y, sw):
        self.X = X
        self.y = y
        self.sw = sw
        self.sparse = sp.issparse(X)
        self.n = X.shape[0]
        self._cache = (None, None)      # (token, z)
        self.labels = None      # raw labels (classification), see :func:`encode_labels`
        self.classes = None     # the classes ``y = +-1`` encodes, once encoded
        self.built = None       # block_stats computed by make_block, until built_stats takes them

    @property
    def _z(self):
        """``X w`` of the cached iterate."""
        return self._cache[1]

    def xw(self, w, token=None):
        """``X w`` (float64), from the cache when ``token`` matches."""
        cached_token, cached = self._cache
        if token is not None and token == cached_token:
            return cached
        z = np.empty(self.n)
        w = np.ascontiguousarray(w, dtype=self.X.dtype)
        if self.sparse:
            _blocks.xv_csr(self.X.data, self.X.indices, self.X.indptr, w, z)
        else:
            _blocks.xv_dense(self.X, w, z)
        self._cache = (token, z)
        return z

    def loss_grad(self, w, b, loss_code, token=None, y=None, curvature=False):
        """``(loss, d_sum, X^T d)`` at ``(w, b)`` (see :func:`fastreg._blocks.loss_grad_dense`);
        ``curvature=True``: ``h_sum = sum_i h_i`` (the intercept's curvature, same pass)
        appended."""
        dtype = self.X.dtype
        w = np.ascontiguousarray(w, dtype=dtype)
        grad = np.zeros(w.shape[0], dtype=dtype)
        z = np.empty(self.n)
        yy = self.y if y is None else y
        if self.sparse:
            loss, dsum, hsum = _blocks.loss_grad_csr(self.X.data, self.X.indices, self.X.indptr,
                                                     yy, self.sw, w, z, grad, float(b),
                                                     int(loss_code))
        else:
            loss, dsum, hsum = _blocks.loss_grad_dense(self.X, yy, self.sw, w, z, grad, float(b),
                                                       int(loss_code))
        if token is not None:
            self._cache = (token, z)
        out = (loss, dsum, grad.astype(np.float64))
        return out + (hsum,) if curvature else out

    def newton(self, w, b, loss_code, token=None, y=None):
        """``(loss, d_sum, X^T d, h_sum, X^T h, X^T diag(h) X)`` at ``(w, b)`` in one pass over a
        dense block (:func:`fastreg._blocks.newton_dense`; float64 results; ``y`` overrides
        the block's targets)."""
        dtype, p = self.X.dtype, self.X.shape[1]
        w = np.ascontiguousarray(w, dtype=dtype)
        grad, xh = np.zeros(p, dtype=dtype), np.zeros(p, dtype=dtype)
        hess = np.zeros((p, p), dtype=dtype)
        rows = max(1, min(self.n, 32768 // max(p, 1)))       # a slab of ~256 KB (float64)
        if getattr(self, "_work", None) is None or self._work.shape != (rows, p) \
                or self._work.dtype != dtype:
            self._work = np.empty((rows, p), dtype=dtype)
        z = np.empty(self.n)
        yy = self.y if y is None else y
        loss, dsum, hsum = _blocks.newton_dense(self.X, yy, self.sw, w, z, grad, xh, hess,
                                                self._work, float(b), int(loss_code))
        if token is not None:
            self._cache = (token, z)
        return (loss, dsum, grad.astype(np.float64), hsum, xh.astype(np.float64),
                hess.astype(np.float64))

    def xtv(self, v):
        out = np.zeros(self.X.shape[1], dtype=self.X.dtype)
        v = np.ascontiguousarray(v, dtype=self.X.dtype)
        if self.sparse:
            _blocks.xtv_csr(self.X.data, self.X.indices, self.X.indptr, v, out)
        else:
            _blocks.xtv_dense(self.X, v, out)
        return out.astype(np.float64)


def make_block(X, y, sw, dtype, index, labels=False, stats=None):
    """Validate one chunk and build its :class:`RowBlock` (runs on a worker).

    ``stats=(gram,)``: the block's :func:`block_stats` are computed here too, in the
    same task (the build round's work then runs as each block is built, not after all
    of them), and kept for :func:`built_stats`. With positive weights, ``X``'s
    finiteness is then read from those statistics: ``X^T s`` is finite only if every
    entry of a row of positive weight is (an infinity or a NaN propagates through the
    sum; a finite overflow only triggers the exact check), so the statistics' pass
    is also the check (the exact check, a separate pass over ``X``, runs only if
    ``X^T s`` is not finite, to tell an overflow from a bad entry).

    Dense chunks become C-ordered (a copy only if they are not), sparse chunks
    CSR with int32 indices, sorted and without duplicates (a copy only if they
    are not: the chunk, which may be a persisted input another task reads, is
    never modified). ``sw=None``: unit weights. ``labels=True``
    (classification): ``y`` is kept as given in ``block.labels`` (any dtype)
    and ``block.y`` is set by :func:`encode_labels` once the classes are known.
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=dtype)
        if not X.has_canonical_format:      # sorts and sums in place: on a copy
            X = X.copy()
            X.sum_duplicates()
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
    raw = np.asarray(y).reshape(-1)
    if not labels and raw.dtype.kind not in "fiub":
        raise ValueError(f"block {index}: y must be numeric, got dtype {raw.dtype}")
    y = np.zeros(raw.shape[0], dtype=dtype) if labels else \
        np.ascontiguousarray(raw, dtype=dtype)
    sw = np.ones(X.shape[0], dtype=dtype) if sw is None else \
        np.ascontiguousarray(np.asarray(sw, dtype=dtype).reshape(-1))
    if y.shape[0] != X.shape[0] or sw.shape[0] != X.shape[0]:
        raise ValueError(f"block {index}: X has {X.shape[0]} rows but y has {y.shape[0]} "
                         f"and sample_weight {sw.shape[0]}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"block {index}: y contains NaN or infinity")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError(f"block {index}: sample_weight must be finite and non-negative")
    deferred = stats is not None and bool(np.all(sw > 0))    # checked by the stats' X^T s
    if not deferred and not _all_finite(values):
        raise ValueError(f"block {index}: X contains NaN or infinity")
    block = RowBlock(X, y, sw)
    block.labels = raw if labels else None
    if stats is not None:
        block.built = block_stats(block, *stats)
        if deferred and not np.all(np.isfinite(block.built[4])) and not _all_finite(values):
            raise ValueError(f"block {index}: X contains NaN or infinity")
    return block


def built_stats(block, gram=False):
    """:func:`block_stats` of a block, as computed by :func:`make_block` (then dropped from
    the block), or computed now (a round that is rerun, a block built without them)."""
    out, block.built = block.built, None
    return block_stats(block, gram) if out is None else out


def _all_finite(values):
    """Whether a (C-contiguous) array has no NaN or inf: one compiled read, no temporary."""
    if values.dtype.kind != "f":
        return True
    return bool(_checks.all_finite(values.reshape(-1)))


class LabelWeights:
    """Distinct labels, their total sample weight and (optionally) ``X^T (s 1[y = label])``
    (rows of ``xs``); ``+`` merges two (labels sorted, as np.unique)."""

    def __init__(self, values, weights, xs=None):
        self.values, self.weights, self.xs = values, weights, xs

    def __add__(self, other):
        values = np.concatenate([self.values, other.values])
        uniq, inv = np.unique(values, return_inverse=True)
        inv = inv.reshape(-1)
        weights = np.bincount(inv, np.concatenate([self.weights, other.weights]),
                              minlength=uniq.shape[0])
        xs = None
        if self.xs is not None and other.xs is not None:
            xs = np.zeros((uniq.shape[0], self.xs.shape[1]))
            np.add.at(xs, inv, np.concatenate([self.xs, other.xs]))
        return LabelWeights(uniq, weights, xs)


def encode_labels(block, classes):
    """Set ``block.y = +-1`` (``+1`` for ``classes[1]``) from its raw labels, in place (on a
    worker; the engine's ``prepare`` step, so a block rebuilt from its graph after a lost
    worker is encoded again). A no-op once done for these classes; ValueError on unknown
    labels."""
    if block.labels is None or (block.classes is not None
                                and np.array_equal(block.classes, classes)):
        return
    pos = block.labels == classes[1]
    if not np.all(pos | (block.labels == classes[0])):
        raise ValueError("y has labels not in classes_")
    block.y = np.where(pos, 1.0, -1.0).astype(block.X.dtype)
    block.classes = np.array(classes)


# ---------------------------------------------------------------- functions mapped over blocks
def block_stats(block, gram=False):
    """``(n, S, sum s y, sum s y^2, X^T s, sum_{y>0} s, labels, first, sq)`` of one block
    (float64).

    ``labels``: a :class:`LabelWeights` of the raw labels when the block has
    them, else None. ``gram=True``: ``first = (X^T (s y), X^T diag(s) X)``
    (``X^T (s y)`` None for raw labels, whose ``labels.xs`` then hold
    ``X^T (s 1[y = label])``): what a Newton step from ``(w, b) = 0`` needs,
    for either loss, so that the first Newton round is this one (else None).
    ``sq = X^T (s x^2)`` (the weighted column sums of squares: the diagonal of
    ``X^T diag(s) X``, which scales L-BFGS's variables) when ``gram=False``, else None.
    """
    sw = block.sw.astype(np.float64)
    y = block.y.astype(np.float64)
    p = block.X.shape[1]
    labels, first, xsy = None, None, None
    if gram:
        if block.sparse or not block.n:
            H = weighted_gram(block.X, sw) if block.n else np.zeros((p, p))
            m = block.xtv(block.sw)
        else:            # the least-squares Hessian pass at w = 0: X^T s, X^T S X and (targets,
            # not raw labels) its gradient -X^T (s y), in one pass
            raw = getattr(block, "labels", None) is not None
            yy = np.zeros(block.n, dtype=block.X.dtype) if raw else block.y
            _, _, grad, _, m, H = block.newton(np.zeros(p), 0.0, LEAST_SQUARES, y=yy)
            xsy = None if raw else -grad
        first = (None, H)
    else:
        m = block.xtv(block.sw)
    if getattr(block, "labels", None) is not None:
        uniq, inv = np.unique(block.labels, return_inverse=True)
        inv = inv.reshape(-1)
        xs = None
        if gram and 0 < uniq.shape[0] <= 2:     # the last label's row by a pass, the other's
            # (when there are two) as X^T s minus it: only the second class's row is used
            last = block.xtv(np.where(inv == uniq.shape[0] - 1, block.sw, 0)
                             .astype(block.X.dtype))
            xs = np.array([m - last, last] if uniq.shape[0] == 2 else [last])
        elif gram and uniq.shape[0] == 0:
            xs = np.zeros((0, p))
        labels = LabelWeights(uniq, np.bincount(inv, sw, minlength=uniq.shape[0]),
                              xs.reshape(-1, p) if xs is not None else None)
    elif gram:
        if xsy is None:
            xsy = block.xtv((block.sw * block.y).astype(block.X.dtype))
        first = (xsy, first[1])
    return (float(block.n), float(sw.sum()), float(sw @ y), float(sw @ (y * y)),
            m, float(sw[y > 0].sum()), labels, first, None if gram else _column_squares(block))


def _column_squares(block):
    """``X^T (s x^2)`` of one block (float64), without an ``n x p`` temporary for dense blocks."""
    X, p = block.X, block.X.shape[1]
    if block.n == 0:
        return np.zeros(p)
    if block.sparse:
        out = np.zeros(p, dtype=X.dtype)
        _blocks.xtv_csr(X.data * X.data, X.indices, X.indptr, block.sw, out)
        return out.astype(np.float64)
    return np.einsum("ij,ij,i->j", X, X, block.sw, dtype=np.float64)


def block_loss_grad(block, w, b, loss_code, token=None, c_scale=1.0):
    """``(loss, d_sum, X^T d, h_sum)`` of one block at ``(w, b)``.

    ``h_sum = sum_i s_i p_i q_i`` (logistic; 0 for least squares) is the
    intercept's curvature: with ``d_sum`` it gives a free Newton step on the
    intercept (computed by the kernel in the same pass, O(1) per row).
    """
    loss, dsum, grad, h_sum = block.loss_grad(w, b, loss_code, token, curvature=True)
    return loss, dsum, grad, (h_sum if loss_code == LOGISTIC else 0.0)


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
    with blas_controller().limit(limits=1, user_api="blas"):
        for r in range(0, X.shape[0], rows):
            Xr = X[r:r + rows]
            H += (Xr * h[r:r + rows, None].astype(X.dtype)).T @ Xr
    return H.astype(np.float64)


def block_newton(block, w, b, loss_code, token=None, hessian=True, dual=None):
    """``(loss, d_sum, X^T d, h_sum, X^T h, X^T diag(h) X[, dual pieces])`` of one block at
    ``(w, b)``, one pass.

    ``d``, ``h``: the per-sample first and second derivatives of the weighted
    loss at ``z_i = x_i^T w + b``; entries 4-6 are the blocks of the Hessian of
    ``sum_i l_i`` in ``(w, b)`` (``hessian=False``: ``h_sum`` only, the others
    zeros). Dense blocks: one fused pass (:func:`fastreg._blocks.newton_dense`).
    ``dual = (C, ts)`` (logistic): the pieces of :func:`block_logistic_dual` at ``(w, b)`` are
    appended; they are the same sums rescaled by ``C`` (``X^T u = -C X^T d``)
    plus the entropies, O(n_rows) more work.
    """
    out = _block_newton(block, w, b, loss_code, token, hessian)
    if dual is None:
        return out
    C, ts = dual
    loss, dsum, grad, hsum = out[:4]
    if block.n == 0:
        ent = np.zeros(len(ts))
    else:
        z = block._z + b
        c = (C * block.sw).astype(block.X.dtype)
        ent = np.array([_newton.binary_entropy(z, block.y, c, float(t)) for t in ts])
    return out + ((C * loss, -C * grad, C * dsum, C * hsum, ent),)


def _block_newton(block, w, b, loss_code, token, hessian):
    token = object() if token is None else token      # the curvature needs the cached X w
    if hessian and not block.sparse and block.n:
        return block.newton(w, b, loss_code, token)
    loss, dsum, grad, hsum = block.loss_grad(w, b, loss_code, token, curvature=True)
    p = grad.shape[0]
    if not hessian:                 # h_sum from the kernel: the intercept's free Newton step
        return loss, dsum, grad, hsum, 0.0, 0.0
    if block.n == 0:
        return loss, dsum, grad, 0.0, np.zeros(p), np.zeros((p, p))
    h = _curvature_weights(block, b, loss_code)
    return loss, dsum, grad, float(h.sum()), block.xtv(h), weighted_gram(block.X, h)


def block_logistic_intercept(block, w, b, token, c_scale):
    """``(f'(b), f''(b))`` of ``f(b) = sum_i c_i l_i(x_i^T w + b)`` from the cached ``X w``
    (O(n_rows), no pass over ``X``): one Newton step on the intercept."""
    if block.n == 0:
        return 0.0, 0.0
    return _blocks.logistic_intercept(block.xw(w, token), block.y, block.sw, float(b),
                                      float(c_scale))
