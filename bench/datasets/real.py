"""Real datasets of the Lasso benchmarks, read from the shared data folder.

The folder is ``$FASTREG_DATA`` if set, else ``/work/shared/data``. Regression
targets are the class labels mapped to -1/+1.

- ``leukemia``: Golub et al. (1999), 72 x 7129, dense.
- ``arcene``: NIPS 2003 feature selection challenge, 200 x 10000, dense.
- ``a9a``: LIBSVM's Adult, 32561 x 123, sparse CSC (binary features).

Dense X is standardized (columns centered, unit variance; constant columns
left at 0) and y centered, so the no-intercept Lasso equals the Lasso with an
intercept; sparse X is left as is (centering would densify it). ``quick=True``
returns a smaller slice (first rows / columns) for smoke runs.
"""
import os

import numpy as np
import scipy.sparse as sp

DATA_DIR = os.environ.get("FASTREG_DATA", "/work/shared/data")

#: dataset name -> loader; each loader takes ``quick`` and returns (X, y)
parameters = {"name": ["leukemia", "arcene", "a9a"]}


def _path(fname):
    path = os.path.join(DATA_DIR, fname)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found (set FASTREG_DATA to the data folder)")
    return path


def _standardize(X, y):
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    X = np.asfortranarray(X / std)
    y = np.asarray(y, dtype=np.float64)
    return X, y - y.mean()


def load_leukemia(quick=False):
    z = np.load(_path("leukemia_golub.npz"), allow_pickle=False)
    X, y = z["X"], 2.0 * z["y"].astype(np.float64) - 1.0
    if quick:
        X = X[:, :2000]
    return _standardize(X, y)


def load_arcene(quick=False):
    import scipy.io as sio
    d = sio.loadmat(_path("arcene.mat"))
    X, y = d["X"], np.where(d["Y"].ravel() == 2, 1.0, -1.0)
    if quick:
        X = X[:, :2000]
    return _standardize(X, y)


def _cached_svmlight(fname, n_features):
    """Parse a LIBSVM file once; later calls read a scipy .npz cache in the temp folder."""
    import tempfile
    from sklearn.datasets import load_svmlight_file
    src = _path(fname)
    cache = os.path.join(tempfile.gettempdir(), f"fastreg_bench_{fname}.{os.getuid()}.npz")
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(src):
        z = np.load(cache, allow_pickle=False)
        X = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        return X, z["y"]
    X, y = load_svmlight_file(src, n_features=n_features)
    X = sp.csr_matrix(X)
    tmp = cache + f".{os.getpid()}.tmp.npz"
    np.savez(tmp, data=X.data, indices=X.indices, indptr=X.indptr, shape=X.shape, y=y)
    os.replace(tmp, cache)
    return X, y


def load_a9a(quick=False):
    X, y = _cached_svmlight("a9a.bz2", 123)
    if quick:
        X, y = X[:5000], y[:5000]
    X = sp.csc_matrix(X, dtype=np.float64)
    X.sort_indices()
    return X, np.asarray(y, dtype=np.float64)


LOADERS = {"leukemia": load_leukemia, "arcene": load_arcene, "a9a": load_a9a}
