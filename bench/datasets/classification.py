"""Classification datasets of the logistic benchmark (``bench/logreg.py``).

``get_classification(name, quick)`` -> ``(X, y)`` with integer labels ``y``
(0/1 binary, 0..K-1 multinomial) and X dense Fortran float64 or CSC float64
(int32 indices). Files come from ``$FASTREG_DATA`` (default ``/work/shared/data``,
see :mod:`.real`).

Binary: ``a9a``, ``w8a`` (LIBSVM, sparse binary features), ``madelon``
(NIPS 2003, 2600 x 500 dense, standardized), ``arcene`` (200 x 10000 dense,
standardized), ``leukemia`` (72 x 7129 dense, standardized), ``basehock``
(BASEHOCK text, 1993 x 4862 word counts, sparse), ``sparse_synth``
(20000 x 200000, density 5e-4, sparse logistic model with 200 true features).
Multinomial: ``mnist_5k`` (5000 x 784, pixels / 255, dense), ``zipcode_usps``
(7291 x 256, dense). ``quick=True`` returns smaller slices for smoke runs.
"""
import numpy as np
import scipy.sparse as sp

from . import real

BINARY = ["a9a", "w8a", "madelon", "arcene", "leukemia", "basehock", "sparse_synth"]
MULTICLASS = ["mnist_5k", "zipcode_usps"]
NAMES = BINARY + MULTICLASS


def _csc(X):
    X = sp.csc_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    X.sort_indices()
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    return X


def _labels(y):
    return np.searchsorted(np.unique(y), y).astype(np.int64)


def _standardized(X):
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return np.asfortranarray(X / std)


def _svmlight(fname, p, quick):
    X, y = real._cached_svmlight(fname, p)
    if quick:
        X, y = X[:5000], y[:5000]
    return _csc(X), _labels(y)


def _mat(fname, quick, dense):
    import scipy.io as sio
    d = sio.loadmat(real._path(fname))
    X, y = d["X"].astype(np.float64), _labels(d["Y"].ravel())
    if quick:
        X = X[:, :1000]
    return (_standardized(X) if dense else _csc(X)), y


def _sparse_synth(quick, seed=0):
    n, p, density, k = (2000, 20000, 2e-3, 50) if quick else (20000, 200000, 5e-4, 200)
    rng = np.random.default_rng(seed)
    nnz = int(n * p * density)
    X = _csc(sp.coo_matrix((rng.standard_normal(nnz), (rng.integers(0, n, nnz),
                                                        rng.integers(0, p, nnz))), shape=(n, p)))
    w = np.zeros(p)
    support = rng.choice(p, k, replace=False)
    w[support] = rng.standard_normal(k) * 3.0
    z = X @ w
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return X, y


def _multiclass(name, quick):
    if name == "mnist_5k":
        import gzip
        with gzip.open(real._path("mnist_5k.csv.gz"), "rt") as fh:
            A = np.loadtxt(fh, delimiter=",")
        X, y = A[:, :-1] / 255.0, A[:, -1]
    else:
        z = np.load(real._path("zipcode_usps.npz"), allow_pickle=False)
        X, y = z["X"].astype(np.float64), z["y"]
    if quick:           # every 4th row: mnist_5k is sorted by digit
        X, y = X[::4], y[::4]
    return np.asfortranarray(X), _labels(y)


def get_classification(name, quick=False):
    """Return ``(X, y)`` for a dataset of :data:`NAMES`."""
    if name == "a9a":
        return _svmlight("a9a.bz2", 123, quick)
    if name == "w8a":
        return _svmlight("w8a.bz2", 300, quick)
    if name in ("madelon", "arcene"):
        return _mat(f"{name}.mat", quick, dense=True)
    if name == "basehock":
        return _mat("BASEHOCK.mat", quick, dense=False)
    if name == "leukemia":
        z = np.load(real._path("leukemia_golub.npz"), allow_pickle=False)
        X = z["X"][:, :2000] if quick else z["X"]
        return _standardized(X), _labels(z["y"])
    if name == "sparse_synth":
        return _sparse_synth(quick)
    if name in MULTICLASS:
        return _multiclass(name, quick)
    raise ValueError(f"unknown dataset {name!r}; known: {NAMES}")
