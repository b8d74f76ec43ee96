"""Benchmark datasets: ``get_dataset(name, quick)`` -> (X, y).

Names: ``leukemia``, ``arcene``, ``a9a`` (real, :mod:`.real`) and
``simulated_dense``, ``simulated_sparse`` (:mod:`.simulated`, whose
``parameters`` / ``quick_parameters`` grids fix the sizes).
"""
from . import real, simulated

NAMES = ["leukemia", "arcene", "a9a", "simulated_dense", "simulated_sparse"]


def get_dataset(name, quick=False):
    """Return ``(X, y)`` (X dense Fortran float64 or CSC float64, y float64)."""
    if name in real.LOADERS:
        return real.LOADERS[name](quick=quick)
    if name.startswith("simulated_"):
        kind = name[len("simulated_"):]
        grid = simulated.quick_parameters if quick else simulated.parameters
        for params in grid:
            if params["name"] == kind:
                return simulated.make(params)
    raise ValueError(f"unknown dataset {name!r}; known: {NAMES}")


def describe(X):
    """Short description: shape, and density for sparse X."""
    import scipy.sparse as sp
    n, p = X.shape
    if sp.issparse(X):
        return f"{n} x {p}, sparse CSC, density {X.nnz / (n * p):.2g}"
    return f"{n} x {p}, dense"
