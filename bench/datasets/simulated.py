"""Simulated Lasso problems of the benchmarks.

- ``dense``: ``X`` (n x p, Fortran order) with Toeplitz feature correlation
  ``corr(X_j, X_k) = rho^|j-k|``, drawn as an AR(1) process across features
  (``x_0 = z_0``, ``x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j``, z i.i.d. N(0, 1)),
  which gives exactly that covariance.
- ``sparse``: ``X`` (n x p, CSC) with i.i.d. N(0, 1) entries at a uniformly
  random ``density`` fraction of positions.

In both, ``w*`` has ``n_nonzeros`` entries at random positions, drawn N(0, 1), and
``y = X w* + noise`` with the noise scaled to a signal-to-noise ratio ``snr``
(``||X w*|| / ||noise||``).

``parameters`` is the benchmark grid; ``quick_parameters`` a scaled-down
version for smoke runs.
"""
import numpy as np
import scipy.sparse as sp

parameters = [
    dict(name="dense", n_samples=2000, n_features=10000, rho=0.5, n_nonzeros=50, snr=3.0, seed=0),
    dict(name="sparse", n_samples=20000, n_features=200000, density=1e-3, n_nonzeros=50,
         snr=3.0, seed=0),
]
quick_parameters = [
    dict(name="dense", n_samples=300, n_features=2000, rho=0.5, n_nonzeros=20, snr=3.0, seed=0),
    dict(name="sparse", n_samples=2000, n_features=20000, density=1e-3, n_nonzeros=20,
         snr=3.0, seed=0),
]


def make_dense(n_samples, n_features, rho=0.5, n_nonzeros=50, snr=3.0, seed=0, **_):
    rng = np.random.default_rng(seed)
    X = np.empty((n_samples, n_features), order="F")
    X[:, 0] = rng.standard_normal(n_samples)
    scale = np.sqrt(1.0 - rho ** 2)
    for j in range(1, n_features):
        X[:, j] = rho * X[:, j - 1] + scale * rng.standard_normal(n_samples)
    return X, _target(X, n_nonzeros, snr, rng)


def make_sparse(n_samples, n_features, density=1e-3, n_nonzeros=50, snr=3.0, seed=0, **_):
    rng = np.random.default_rng(seed)
    X = sp.random(n_samples, n_features, density=density, format="csc", random_state=rng,
                  data_rvs=rng.standard_normal, dtype=np.float64)
    X = sp.csc_matrix(X)
    X.sort_indices()
    return X, _target(X, n_nonzeros, snr, rng)


def _target(X, n_nonzeros, snr, rng):
    n_samples, n_features = X.shape
    w = np.zeros(n_features)
    support = rng.choice(n_features, size=min(n_nonzeros, n_features), replace=False)
    w[support] = rng.standard_normal(support.size)
    signal = X @ w
    noise = rng.standard_normal(n_samples)
    noise *= np.linalg.norm(signal) / (snr * np.linalg.norm(noise))
    return signal + noise


def make(params):
    """Generate (X, y) for one entry of ``parameters``."""
    maker = make_dense if params["name"] == "dense" else make_sparse
    return maker(**params)
