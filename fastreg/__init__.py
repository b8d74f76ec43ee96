"""fastreg: fast, certified CPU solvers for sparse and regularized linear models.

Compiled Cython kernels (proximal operators, per-parameter optimizers,
coordinate-descent epochs) under a scikit-learn compatible estimator API, with
plain numpy/scipy reference implementations in :mod:`fastreg.reference`.
"""
__version__ = "0.1.0"

from . import _validation  # noqa: E402,F401

__all__ = ["__version__"]
