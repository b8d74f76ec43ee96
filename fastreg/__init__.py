"""fastreg: fast, certified CPU solvers for sparse and regularized linear models.

Compiled Cython kernels (proximal operators, per-parameter optimizers,
coordinate-descent epochs) under a scikit-learn compatible estimator API, with
plain numpy/scipy reference implementations in :mod:`fastreg.reference`.
"""
__version__ = "0.1.0"

try:
    from . import _prox  # noqa: E402,F401  (the compiled kernels, built by pip install)
except ImportError as exc:  # pragma: no cover - depends on how Python was started
    import os as _os

    raise ImportError(
        f"cannot import fastreg's compiled kernels (fastreg._prox) from "
        f"{_os.path.dirname(_os.path.abspath(__file__))}. If this is the source checkout, "
        "Python found its uncompiled fastreg/ folder before the installed package (as "
        "`python -m` does from the repository root): run from another directory, use the "
        "`fastreg` command, or build in place with `python setup.py build_ext --inplace`."
    ) from exc

from . import optim, prox  # noqa: E402
from .linear_model import LogisticRegressionCV, logistic_regression_path  # noqa: E402
from .linear_model import (  # noqa: E402
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    LogisticRegression,
    SGDClassifier,
    SGDRegressor,
    enet_path,
    lasso_path,
)

__all__ = ["__version__", "optim", "prox", "Lasso", "ElasticNet", "lasso_path", "enet_path",
           "LassoCV", "ElasticNetCV", "SGDRegressor", "SGDClassifier", "LogisticRegression",
           "LogisticRegressionCV", "logistic_regression_path"]
