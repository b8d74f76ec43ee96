"""fastreg: fast, certified CPU solvers for sparse and regularized linear models.

Compiled Cython kernels (proximal operators, per-parameter optimizers,
coordinate-descent epochs) under a scikit-learn compatible estimator API, with
plain numpy/scipy reference implementations in :mod:`fastreg.reference`.
"""
__version__ = "0.1.0"

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
